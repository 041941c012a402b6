//! The console's actions, named `<kind>.<verb>`.
//!
//! The names are part of the policy contract: the console maps every route to
//! one of them and the Rego policy matches on the strings, so renaming one
//! breaks every deployed policy that mentions it. Add new actions; do not
//! rename old ones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

// One table declares the enum, `ALL`, the names and the read/change split,
// so a new action cannot be missing from `Action::ALL` (and with it from the
// authorization matrix test and the console's lists).
macro_rules! actions {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal, $kind:ident;)*) => {
        /// One thing a user can ask the console to do.
        ///
        /// Serialized as its [`Action::as_str`] name, which is what the policy
        /// sees in `input.action`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum Action {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Action {
            /// Every action, in a stable order: for authorization matrices, the
            /// console's policy page and the simulator's action picker.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The name the policy sees, `<kind>.<verb>`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// Whether the action only looks. `policy.simulate` is a read: it
            /// evaluates the policy for a hypothetical request and changes
            /// nothing.
            pub const fn is_read(self) -> bool {
                match self {
                    $(Action::$variant => actions!(@is_read $kind),)*
                }
            }
        }
    };
    (@is_read read) => { true };
    (@is_read change) => { false };
}

actions! {
    /// `fleet.read`: the fleet overview, health and metrics of all clusters.
    FleetRead => "fleet.read", read;
    /// `cluster.read`: one cluster's details, workers, jobs, config and ring.
    ClusterRead => "cluster.read", read;
    /// `cluster.create`: register a cluster with the console.
    ClusterCreate => "cluster.create", change;
    /// `cluster.update`: change a registered cluster (address, group, labels).
    ClusterUpdate => "cluster.update", change;
    /// `cluster.delete`: unregister a cluster.
    ClusterDelete => "cluster.delete", change;
    /// `operation.read`: bulk operations and their per-cluster results.
    OperationRead => "operation.read", read;
    /// `operation.run`: start an operation (load, free, rebalance, ...) on clusters.
    OperationRun => "operation.run", change;
    /// `license.read`: license status and forecasts.
    LicenseRead => "license.read", read;
    /// `license.manage`: install, replace or remove licenses.
    LicenseManage => "license.manage", change;
    /// `tenant.read`: tenants and their cache policies.
    TenantRead => "tenant.read", read;
    /// `tenant.create`: add a tenant.
    TenantCreate => "tenant.create", change;
    /// `tenant.update`: change a tenant's cache policy (quota, TTL, eviction).
    TenantUpdate => "tenant.update", change;
    /// `tenant.delete`: remove a tenant.
    TenantDelete => "tenant.delete", change;
    /// `audit.read`: the audit trail and the decision log.
    AuditRead => "audit.read", read;
    /// `policy.read`: the policy page: sources, revision, load errors.
    PolicyRead => "policy.read", read;
    /// `policy.simulate`: ask the simulator about a hypothetical request.
    PolicySimulate => "policy.simulate", read;
    /// `token.read`: API token listings (never the token values).
    TokenRead => "token.read", read;
    /// `token.manage`: create or revoke API tokens.
    TokenManage => "token.manage", change;
}

impl Action {
    /// The resource kind, the part before the dot (`cluster` for `cluster.read`).
    pub fn kind(self) -> &'static str {
        self.as_str()
            .split_once('.')
            .map_or(self.as_str(), |(kind, _)| kind)
    }

    /// Whether the action changes something; the opposite of [`Action::is_read`].
    pub const fn is_change(self) -> bool {
        !self.is_read()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| PolicyError::UnknownAction {
                given: s.to_owned(),
                expected: Action::ALL
                    .iter()
                    .map(|action| action.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl From<Action> for &'static str {
    fn from(action: Action) -> Self {
        action.as_str()
    }
}

impl TryFrom<String> for Action {
    type Error = PolicyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for &action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), action);
        }
    }

    #[test]
    fn names_are_unique_and_kind_dot_verb() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        for &action in Action::ALL {
            let (kind, verb) = action.as_str().split_once('.').unwrap();
            assert_eq!(kind, action.kind());
            assert!(!verb.is_empty() && !verb.contains('.'), "{action}");
        }
    }

    #[test]
    fn unknown_name_says_what_is_expected() {
        let err = "cluster.destroy".parse::<Action>().unwrap_err().to_string();
        assert!(
            err.starts_with("unknown action \"cluster.destroy\""),
            "{err}"
        );
        assert!(err.contains("cluster.delete"), "{err}");
    }

    #[test]
    fn reads_are_the_read_verbs_and_simulate() {
        for &action in Action::ALL {
            let verb = action.as_str().rsplit('.').next().unwrap();
            let expected = verb == "read" || action == Action::PolicySimulate;
            assert_eq!(action.is_read(), expected, "{action}");
            assert_eq!(action.is_change(), !expected, "{action}");
        }
    }
}
