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

/// The target of an action. Fields that do not apply are `None` and are left
/// out of the JSON, so a policy can test them with `not input.resource.tenant`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resource {
    /// What kind of thing: `fleet`, `cluster`, `operation`, `license`,
    /// `tenant`, `audit`, `policy`, `token`.
    pub kind: String,
    /// The cluster concerned, by its registered name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The tenant concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// A path inside the cluster's namespace, for operations on files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The group that owns the resource; for a create, the group the new
    /// resource will belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Resource {
    /// A resource of `kind` with nothing else set.
    pub fn new(kind: impl Into<String>) -> Self {
        Resource {
            kind: kind.into(),
            ..Resource::default()
        }
    }

    /// The same resource, owned by `group`.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The same resource, on `cluster`.
    pub fn on_cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// The same resource, for `tenant`.
    pub fn for_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The same resource, at `path`.
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

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
