//! Wire types of the console's access control: who am I, the login page's
//! choices, API tokens, the policy page (policy in force, simulator, recent
//! decisions) and the tenants page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::tenant::TenantPolicy;

/// The caller: who, in which groups and roles, and the session's CSRF
/// token for scripts that change things with the session cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    /// `password`, `oidc` or `bearer`.
    pub via: String,
    pub csrf_token: Option<String>,
    /// A read-scoped API token: changes are refused.
    pub read_only: bool,
}

/// What the login page offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginOptions {
    /// The bootstrap admin's password form.
    pub password: bool,
    /// The identity provider's issuer, for the single sign-on button.
    pub provider: Option<String>,
}

/// A token to issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for, e.g. `nightly-load`.
    pub name: String,
    /// `read`, `write` or both; a token without `write` can change nothing.
    pub scopes: Vec<String>,
    /// How long it lasts, e.g. `30d`; no expiry when left out.
    #[serde(default)]
    pub expires_in: Option<String>,
}

/// A token as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// A token just issued: `token` is shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

/// The policy in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyView {
    /// `embedded` (regorus) or `opa`.
    pub backend: String,
    pub revision: Option<String>,
    /// The policy files, or the OPA decision URL.
    pub sources: Vec<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the last reload failed, if it did: the previous policy stays.
    pub last_error: Option<String>,
    /// The Rego text in force (the files, or the shipped policy).
    pub text: Vec<PolicySource>,
}

/// One policy file's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicySource {
    pub name: String,
    pub text: String,
}

/// The resource of a policy question, the policy's `input.resource`.
/// Fields that do not apply are `None` and are left out of the JSON, so a
/// policy can test them with `not input.resource.tenant`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PolicyResource {
    /// `fleet`, `cluster`, `operation`, `license`, `tenant`, `audit`,
    /// `policy` or `token`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The owning group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl PolicyResource {
    /// A resource of `kind` with nothing else set.
    pub fn new(kind: impl Into<String>) -> Self {
        PolicyResource {
            kind: kind.into(),
            ..PolicyResource::default()
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

/// A hypothetical request for the simulator: "would `user` be allowed
/// `action` on `resource`?"
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Simulation {
    pub user: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    /// An action such as `tenant.update`.
    pub action: String,
    pub resource: PolicyResource,
}

/// The simulator's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SimulationAnswer {
    pub allow: bool,
    pub revision: String,
    /// Why the policy could not answer (then: denied).
    pub reason: Option<String>,
}

/// One recorded decision, as the decision log has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionView {
    pub time: DateTime<Utc>,
    pub user: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub action: String,
    pub resource: PolicyResource,
    /// `allow` or `deny`.
    pub result: String,
    pub revision: String,
    pub reason: Option<String>,
}

/// One cluster's view of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantOnCluster {
    pub cluster: String,
    /// The policy the coordinator holds; none if the tenant is not there.
    pub policy: Option<TenantPolicy>,
    /// Bytes cached for the tenant across the cluster's answering workers.
    pub used_bytes: u64,
}

/// A tenant with its owning group and every cluster's view of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantOverview {
    pub name: String,
    /// From the console's record, else from a coordinator's policy.
    pub group: String,
    pub prefixes: Vec<String>,
    pub clusters: Vec<TenantOnCluster>,
}

/// Every tenant the caller may read, and the clusters that could not be
/// asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantsOverview {
    pub tenants: Vec<TenantOverview>,
    /// Cluster name → why its tenants are unknown.
    pub unreachable: std::collections::BTreeMap<String, String>,
}
