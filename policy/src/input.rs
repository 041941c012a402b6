//! The `input` document every policy evaluates.
//!
//! It carries who asks, what for, and on what: names, groups and roles only.
//! Tokens, cookies and other credentials never go in here, because the input
//! is written to the decision log and shown in the simulator.

use serde::{Deserialize, Serialize};

use crate::Action;

/// One authorization question: may `user` do `action` on `resource`?
///
/// Missing fields deserialize as empty, so a request with no identity is
/// evaluated (and denied) rather than rejected before the policy sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Input {
    /// The user's stable name (the OIDC subject or the local admin's name).
    pub user: String,
    /// The groups the identity provider puts the user in.
    pub groups: Vec<String>,
    /// The console roles the user holds: `super-admin`, `admin`, `viewer`.
    pub roles: Vec<String>,
    /// An [`Action`] name such as `cluster.update`. A string rather than an
    /// `Action` so that an unknown action still reaches the policy and is
    /// denied and logged there.
    pub action: String,
    /// What the action is about.
    pub resource: Resource,
}

impl Input {
    /// An input for a known action.
    pub fn new(
        user: impl Into<String>,
        groups: Vec<String>,
        roles: Vec<String>,
        action: Action,
        resource: Resource,
    ) -> Self {
        Input {
            user: user.into(),
            groups,
            roles,
            action: action.as_str().to_owned(),
            resource,
        }
    }
}

/// The target of an action: the wire type the console's simulator and
/// policy page share with the browser, so that both sides agree on it.
pub use ringside_api::access::PolicyResource as Resource;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_documented_input_document() {
        let input = Input::new(
            "alice",
            vec!["payments".into()],
            vec!["admin".into()],
            Action::ClusterUpdate,
            Resource::new("cluster")
                .on_cluster("eu-1")
                .in_group("payments"),
        );
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            serde_json::json!({
                "user": "alice",
                "groups": ["payments"],
                "roles": ["admin"],
                "action": "cluster.update",
                "resource": {"kind": "cluster", "cluster": "eu-1", "group": "payments"}
            })
        );
    }

    #[test]
    fn empty_document_deserializes_to_empty_input() {
        let input: Input = serde_json::from_str("{}").unwrap();
        assert_eq!(input, Input::default());
    }
}
