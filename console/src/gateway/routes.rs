//! Every route of the console, with what it takes to be let through. The
//! gateway looks each request up here by method and matched route; a route
//! that is served but missing from this table is refused to everyone, and
//! the console refuses to start while one is missing (see
//! [`unmapped`]), so a new route cannot ship open by accident.

use axum::http::Method;
use ringside_policy::Action;

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not: logging in, health, the console's public key.
    Public,
    /// Any logged-in identity: who am I, logging out.
    Authenticated,
    /// The policy must allow `Action` on every resource the `Target` names.
    Policy(Action, Target),
}

/// Where the resource of a request is named, so the policy sees its cluster,
/// tenant and owning group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing in particular: a resource of this kind (`fleet`, `audit`...).
    Kind(&'static str),
    /// The cluster in the path parameter `{name}`.
    ClusterInPath,
    /// The cluster named by this field of the form (server functions).
    ClusterInForm(&'static str),
    /// A new cluster: the JSON body's `name` and its `group` label.
    NewCluster,
    /// A new operation: its action and every cluster it would run on, from
    /// the JSON body (whole, or under this field for a server function).
    NewOperation(Option<&'static str>),
    /// A stored operation, by the path parameter `{id}` or this form field;
    /// with `{cluster}` in the path or `cluster` in the form when one of its
    /// targets is meant.
    StoredOperation,
    /// The tenant in the path parameter `{name}`.
    TenantInPath,
}

/// One route and what it needs.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Method,
    /// The route as the router matched it, e.g. `/api/v1/clusters/{name}`.
    pub path: &'static str,
    pub access: Access,
}

/// Server functions live under this prefix (their `endpoint` is
/// `ui/<name>`), apart from the REST API under `/api/v1`.
pub const SERVER_FN_PREFIX: &str = "/api/ui/";

use Access::{Authenticated, Policy, Public};
use Action as A;
use Target as T;

const fn rule(method: Method, path: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        access,
    }
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

/// Every route the console serves.
pub static RULES: &[Rule] = &[
    // Probes and the key coordinators verify the console's calls with.
    rule(GET, "/healthz", Public),
    rule(GET, "/api/v1/jwks.json", Public),
    rule(GET, "/api/v1/openapi.json", Public),
    // Logging in and out.
    rule(GET, "/login", Public),
    rule(POST, "/api/v1/auth/login", Public),
    rule(GET, "/api/v1/auth/oidc", Public),
    rule(GET, "/api/v1/auth/callback", Public),
    rule(POST, "/api/v1/auth/logout", Authenticated),
    rule(GET, "/api/v1/auth/me", Authenticated),
    rule(POST, "/api/ui/login_choices", Public),
    rule(POST, "/api/ui/whoami", Authenticated),
    // Pages.
    rule(GET, "/", Policy(A::FleetRead, T::Kind("fleet"))),
    rule(
        GET,
        "/clusters/{name}",
        Policy(A::ClusterRead, T::ClusterInPath),
    ),
    rule(
        GET,
        "/operations",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        GET,
        "/operations/{id}",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(GET, "/licenses", Policy(A::LicenseRead, T::Kind("license"))),
    rule(GET, "/drift", Policy(A::ClusterRead, T::Kind("cluster"))),
    rule(GET, "/audit", Policy(A::AuditRead, T::Kind("audit"))),
    rule(GET, "/tenants", Policy(A::TenantRead, T::Kind("tenant"))),
    rule(GET, "/policy", Policy(A::PolicyRead, T::Kind("policy"))),
    rule(GET, "/tokens", Policy(A::TokenRead, T::Kind("token"))),
    // REST: clusters.
    rule(
        GET,
        "/api/v1/clusters",
        Policy(A::FleetRead, T::Kind("fleet")),
    ),
    rule(
        POST,
        "/api/v1/clusters",
        Policy(A::ClusterCreate, T::NewCluster),
    ),
    rule(
        GET,
        "/api/v1/clusters/{name}",
        Policy(A::ClusterRead, T::ClusterInPath),
    ),
    rule(
        PATCH,
        "/api/v1/clusters/{name}",
        Policy(A::ClusterUpdate, T::ClusterInPath),
    ),
    rule(
        DELETE,
        "/api/v1/clusters/{name}",
        Policy(A::ClusterDelete, T::ClusterInPath),
    ),
    rule(
        POST,
        "/api/v1/clusters/{name}/ring-preview",
        Policy(A::ClusterRead, T::ClusterInPath),
    ),
    rule(
        DELETE,
        "/api/v1/clusters/{name}/stale-workers",
        Policy(A::ClusterUpdate, T::ClusterInPath),
    ),
    rule(
        GET,
        "/api/v1/drift",
        Policy(A::ClusterRead, T::Kind("cluster")),
    ),
    // REST: audit trail.
    rule(GET, "/api/v1/audit", Policy(A::AuditRead, T::Kind("audit"))),
    rule(
        GET,
        "/api/v1/audit/export",
        Policy(A::AuditRead, T::Kind("audit")),
    ),
    rule(
        GET,
        "/api/v1/audit/{id}",
        Policy(A::AuditRead, T::Kind("audit")),
    ),
    // REST: operations.
    rule(
        GET,
        "/api/v1/operations",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        POST,
        "/api/v1/operations",
        Policy(A::OperationRun, T::NewOperation(None)),
    ),
    rule(
        POST,
        "/api/v1/operations/preview",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        GET,
        "/api/v1/operations/{id}",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        POST,
        "/api/v1/operations/{id}/cancel",
        Policy(A::OperationRun, T::StoredOperation),
    ),
    rule(
        POST,
        "/api/v1/operations/{id}/targets/{cluster}/retry",
        Policy(A::OperationRun, T::StoredOperation),
    ),
    // REST: licenses.
    rule(
        GET,
        "/api/v1/licenses",
        Policy(A::LicenseRead, T::Kind("license")),
    ),
    rule(
        POST,
        "/api/v1/licenses",
        Policy(A::LicenseManage, T::Kind("license")),
    ),
    rule(
        POST,
        "/api/v1/licenses/{id}/apply",
        Policy(A::LicenseManage, T::Kind("license")),
    ),
    // REST: tenants, policy, tokens.
    rule(
        GET,
        "/api/v1/tenants",
        Policy(A::TenantRead, T::Kind("tenant")),
    ),
    rule(
        GET,
        "/api/v1/tenants/{name}",
        Policy(A::TenantRead, T::TenantInPath),
    ),
    rule(
        GET,
        "/api/v1/policy",
        Policy(A::PolicyRead, T::Kind("policy")),
    ),
    rule(
        POST,
        "/api/v1/policy/simulate",
        Policy(A::PolicySimulate, T::Kind("policy")),
    ),
    rule(
        GET,
        "/api/v1/policy/decisions",
        Policy(A::PolicyRead, T::Kind("policy")),
    ),
    rule(
        GET,
        "/api/v1/tokens",
        Policy(A::TokenRead, T::Kind("token")),
    ),
    rule(
        POST,
        "/api/v1/tokens",
        Policy(A::TokenManage, T::Kind("token")),
    ),
    rule(
        DELETE,
        "/api/v1/tokens/{id}",
        Policy(A::TokenManage, T::Kind("token")),
    ),
    // Server functions of the pages.
    rule(
        POST,
        "/api/ui/list_clusters",
        Policy(A::FleetRead, T::Kind("fleet")),
    ),
    rule(
        POST,
        "/api/ui/fleet_page",
        Policy(A::FleetRead, T::Kind("fleet")),
    ),
    rule(
        POST,
        "/api/ui/config_drift",
        Policy(A::ClusterRead, T::Kind("cluster")),
    ),
    rule(
        POST,
        "/api/ui/cluster_properties",
        Policy(A::ClusterRead, T::ClusterInForm("name")),
    ),
    rule(
        POST,
        "/api/ui/get_cluster",
        Policy(A::ClusterRead, T::ClusterInForm("name")),
    ),
    rule(
        POST,
        "/api/ui/remove_stale_workers",
        Policy(A::ClusterUpdate, T::ClusterInForm("name")),
    ),
    rule(
        POST,
        "/api/ui/register_cluster",
        Policy(A::ClusterCreate, T::NewCluster),
    ),
    rule(
        POST,
        "/api/ui/search_audit",
        Policy(A::AuditRead, T::Kind("audit")),
    ),
    rule(
        POST,
        "/api/ui/chart",
        Policy(A::FleetRead, T::Kind("fleet")),
    ),
    rule(
        POST,
        "/api/ui/preview_operation",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        POST,
        "/api/ui/start_operation",
        Policy(A::OperationRun, T::NewOperation(Some("request"))),
    ),
    rule(
        POST,
        "/api/ui/list_operations",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        POST,
        "/api/ui/get_operation",
        Policy(A::OperationRead, T::Kind("operation")),
    ),
    rule(
        POST,
        "/api/ui/cancel_operation",
        Policy(A::OperationRun, T::StoredOperation),
    ),
    rule(
        POST,
        "/api/ui/retry_operation_target",
        Policy(A::OperationRun, T::StoredOperation),
    ),
    rule(
        POST,
        "/api/ui/get_license_dashboard",
        Policy(A::LicenseRead, T::Kind("license")),
    ),
    rule(
        POST,
        "/api/ui/license_expiry_chart",
        Policy(A::LicenseRead, T::Kind("license")),
    ),
    rule(
        POST,
        "/api/ui/upload_license",
        Policy(A::LicenseManage, T::Kind("license")),
    ),
    rule(
        POST,
        "/api/ui/apply_license",
        Policy(A::LicenseManage, T::Kind("license")),
    ),
    rule(
        POST,
        "/api/ui/list_tenants",
        Policy(A::TenantRead, T::Kind("tenant")),
    ),
    rule(
        POST,
        "/api/ui/policy_status",
        Policy(A::PolicyRead, T::Kind("policy")),
    ),
    rule(
        POST,
        "/api/ui/simulate_policy",
        Policy(A::PolicySimulate, T::Kind("policy")),
    ),
    rule(
        POST,
        "/api/ui/list_tokens",
        Policy(A::TokenRead, T::Kind("token")),
    ),
    rule(
        POST,
        "/api/ui/issue_token",
        Policy(A::TokenManage, T::Kind("token")),
    ),
    rule(
        POST,
        "/api/ui/revoke_token",
        Policy(A::TokenManage, T::Kind("token")),
    ),
];

/// The rule for a matched route.
pub fn lookup(method: &Method, path: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|rule| rule.method == method && rule.path == path)
}

/// The methods the route `path` answers.
pub fn methods(path: &str) -> Vec<Method> {
    RULES
        .iter()
        .filter(|rule| rule.path == path)
        .map(|rule| rule.method.clone())
        .collect()
}

/// The routes of `served` (method, matched path) that have no rule.
pub fn unmapped<'a>(served: impl IntoIterator<Item = (Method, &'a str)>) -> Vec<String> {
    served
        .into_iter()
        .filter(|(method, path)| lookup(method, path).is_none())
        .map(|(method, path)| format!("{method} {path}"))
        .collect()
}

/// The value of `{param}` in `actual` for the route `pattern`.
pub fn path_param(pattern: &str, actual: &str, param: &str) -> Option<String> {
    let wanted = format!("{{{param}}}");
    pattern
        .split('/')
        .zip(actual.split('/'))
        .find(|(p, _)| *p == wanted)
        .map(|(_, value)| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn each_route_has_one_rule() {
        let mut seen = HashSet::new();
        for rule in RULES {
            assert!(
                seen.insert((rule.method.clone(), rule.path)),
                "{} {} twice",
                rule.method,
                rule.path
            );
        }
    }

    #[test]
    fn only_logging_in_and_public_keys_are_open_to_anyone() {
        let public: Vec<_> = RULES
            .iter()
            .filter(|r| r.access == Public)
            .map(|r| r.path)
            .collect();
        assert_eq!(
            public,
            [
                "/healthz",
                "/api/v1/jwks.json",
                "/api/v1/openapi.json",
                "/login",
                "/api/v1/auth/login",
                "/api/v1/auth/oidc",
                "/api/v1/auth/callback",
                "/api/ui/login_choices"
            ]
        );
    }

    #[test]
    fn every_change_is_a_change_action_and_reads_are_reads() {
        for rule in RULES {
            if let Policy(action, _) = rule.access
                && rule.method != Method::GET
                && !rule.path.starts_with(SERVER_FN_PREFIX)
                && !rule.path.ends_with("/preview")
                && !rule.path.ends_with("/ring-preview")
                && !rule.path.ends_with("/simulate")
            {
                assert!(
                    action.is_change(),
                    "{} {} is {action:?}",
                    rule.method,
                    rule.path
                );
            }
        }
    }

    #[test]
    fn path_parameters_are_read_and_decoded() {
        assert_eq!(
            path_param("/api/v1/clusters/{name}", "/api/v1/clusters/eu%2D1", "name").as_deref(),
            Some("eu-1")
        );
        assert_eq!(
            path_param(
                "/api/v1/operations/{id}/targets/{cluster}/retry",
                "/api/v1/operations/abc/targets/us-2/retry",
                "cluster"
            )
            .as_deref(),
            Some("us-2")
        );
        assert_eq!(
            path_param("/api/v1/clusters", "/api/v1/clusters", "name"),
            None
        );
    }

    #[test]
    fn a_route_without_a_rule_is_reported() {
        assert_eq!(
            unmapped([(Method::GET, "/"), (Method::POST, "/api/v1/secret")]),
            ["POST /api/v1/secret"]
        );
    }
}
