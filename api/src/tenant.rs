//! Tenants and their cache policies: who owns which UFS paths, and what
//! the workers' page stores may hold of them. The console keeps tenants
//! and pushes their policies to the coordinators of chosen clusters
//! (`PUT /api/v1/tenants/{name}`); each coordinator keeps them in its
//! metastore and pushes the whole set, with a revision, to its workers
//! (`PUT /api/v1/tenants` on the worker), which enforce them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::{FieldError, validate_dns_label};

/// Most prefixes one tenant may own.
pub const MAX_PREFIXES: usize = 64;
/// Longest prefix accepted, as UFS paths go.
pub const MAX_PREFIX_LEN: usize = 1024;

/// Which of a tenant's pages go first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Evictor {
    #[default]
    Lru,
    Lfu,
    Fifo,
}

impl Evictor {
    pub const ALL: [Evictor; 3] = [Evictor::Lru, Evictor::Lfu, Evictor::Fifo];

    pub fn as_str(self) -> &'static str {
        match self {
            Evictor::Lru => "LRU",
            Evictor::Lfu => "LFU",
            Evictor::Fifo => "FIFO",
        }
    }

    /// Parses `LRU`, `LFU` or `FIFO`, ignoring case.
    pub fn parse(text: &str) -> Result<Evictor, FieldError> {
        Evictor::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                FieldError::new(
                    "evictor",
                    format!("{text:?} is not an evictor: expected LRU, LFU or FIFO"),
                )
            })
    }
}

/// A tenant and its cache policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    /// DNS-label name, unique in a cluster.
    pub name: String,
    /// The group that owns the tenant: its admins may change it.
    pub group: String,
    /// UFS path prefixes the tenant owns (`/data/team-a` owns everything
    /// below it, not `/data/team-ab`); the longest matching prefix of all
    /// tenants decides whose a file is.
    pub prefixes: Vec<String>,
    /// Most bytes of its files the page store of each worker may hold;
    /// over it, its own pages are evicted. None: no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    /// Pages cached longer ago than this many seconds are removed. None:
    /// kept until evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub evictor: Evictor,
}

impl TenantPolicy {
    /// Checks every field and returns the policy in canonical form
    /// (prefixes without trailing slashes, sorted), or the first field that
    /// breaks a rule.
    pub fn validate(mut self) -> Result<TenantPolicy, FieldError> {
        validate_dns_label("tenant", &self.name)?;
        let group = self.group.trim();
        if group.is_empty() || group.len() > 256 || group.chars().any(char::is_control) {
            return Err(FieldError::new(
                "group",
                "expected the name of the owning group (1 to 256 characters, as the identity provider spells it)",
            ));
        }
        self.group = group.to_string();
        if self.prefixes.is_empty() || self.prefixes.len() > MAX_PREFIXES {
            return Err(FieldError::new(
                "prefixes",
                format!(
                    "{} prefixes given: expected 1 to {MAX_PREFIXES} UFS path prefixes such as /data/team-a",
                    self.prefixes.len()
                ),
            ));
        }
        let mut prefixes = Vec::with_capacity(self.prefixes.len());
        for prefix in &self.prefixes {
            prefixes.push(canonical_prefix(prefix)?);
        }
        prefixes.sort();
        if let Some(twice) = prefixes.windows(2).find(|w| w[0] == w[1]) {
            return Err(FieldError::new(
                "prefixes",
                format!("{} is given twice", twice[0]),
            ));
        }
        self.prefixes = prefixes;
        if self.quota_bytes == Some(0) {
            return Err(FieldError::new(
                "quota_bytes",
                "0: expected a quota above zero bytes, or none",
            ));
        }
        if self.ttl_seconds == Some(0) {
            return Err(FieldError::new(
                "ttl_seconds",
                "0: expected a TTL of at least 1 second, or none",
            ));
        }
        Ok(self)
    }
}

/// A prefix in canonical form: absolute, no empty, `.` or `..` component,
/// no trailing slash (but `/` itself).
fn canonical_prefix(prefix: &str) -> Result<String, FieldError> {
    let bad = |why: &str| {
        FieldError::new(
            "prefixes",
            format!("{prefix:?} {why}: expected an absolute UFS path such as /data/team-a"),
        )
    };
    if !prefix.starts_with('/') {
        return Err(bad("is not absolute"));
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(bad("is too long"));
    }
    if prefix.chars().any(char::is_control) {
        return Err(bad("holds control characters"));
    }
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok("/".into());
    }
    if trimmed[1..]
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("has an empty, . or .. component"));
    }
    Ok(trimmed.to_string())
}

/// Checks that `policy` can join `others` (the rest of a cluster's
/// tenants): no prefix may belong to two tenants.
pub fn check_prefixes_free(
    policy: &TenantPolicy,
    others: &[TenantPolicy],
) -> Result<(), FieldError> {
    for other in others.iter().filter(|o| o.name != policy.name) {
        if let Some(shared) = policy.prefixes.iter().find(|p| other.prefixes.contains(p)) {
            return Err(FieldError::new(
                "prefixes",
                format!(
                    "{shared} already belongs to tenant {}: a prefix has one owner",
                    other.name
                ),
            ));
        }
    }
    Ok(())
}

/// A cluster's tenants, as its coordinator pushes them to its workers.
/// The revision grows with every change, so a worker can tell a late push
/// from a new one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantSet {
    pub revision: u64,
    pub tenants: Vec<TenantPolicy>,
}

/// What one tenant holds in one worker's page store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantUsage {
    pub name: String,
    pub used_bytes: u64,
    pub pages: u64,
    /// Bytes evicted because the tenant was over its quota, since the
    /// worker started.
    pub quota_evicted_bytes_total: u64,
    /// Bytes removed because they outlived the TTL, since the worker started.
    pub expired_bytes_total: u64,
}

/// A worker's tenants: the revision it enforces and each tenant's usage
/// (`GET /api/v1/tenants` on a worker).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerTenants {
    pub worker: String,
    /// None until the worker has had a tenant set.
    pub revision: Option<u64>,
    pub tenants: Vec<TenantUsage>,
}

/// One worker's answer to a push of the tenant set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerPush {
    pub worker: String,
    pub address: String,
    /// The revision it enforces now, when it answered.
    pub revision: Option<u64>,
    /// Why it did not take the set, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A cluster's tenants as its coordinator reports them: the policies,
/// and, per worker, the revision it enforces and what each tenant holds
/// there (`GET /api/v1/tenants`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantsView {
    pub revision: u64,
    pub tenants: Vec<TenantPolicy>,
    /// Per ONLINE worker; a worker that did not answer has an error and no
    /// usage.
    pub workers: Vec<WorkerPush>,
    /// Bytes each tenant holds across the answering workers.
    pub used_bytes: BTreeMap<String, u64>,
}

/// The coordinator's answer to a change: the new set and how the push to
/// each ONLINE worker went. Workers that missed it catch up within
/// `ringside.worker.tenant.sync.interval`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantChange {
    pub revision: u64,
    pub tenants: Vec<TenantPolicy>,
    pub workers: Vec<WorkerPush>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, prefixes: &[&str]) -> TenantPolicy {
        TenantPolicy {
            name: name.into(),
            group: "team-a".into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            quota_bytes: Some(1 << 30),
            ttl_seconds: Some(3600),
            evictor: Evictor::Lru,
        }
    }

    #[test]
    fn a_valid_policy_comes_back_canonical() {
        let p = policy("team-a", &["/data/b/", "/data/a"])
            .validate()
            .unwrap();
        assert_eq!(p.prefixes, vec!["/data/a", "/data/b"]);
        let root = policy("all", &["///"]).validate().unwrap();
        assert_eq!(root.prefixes, vec!["/"]);
    }

    #[test]
    fn bad_policies_say_which_field_and_what_is_expected() {
        let cases: Vec<(TenantPolicy, &str, &str)> = vec![
            (policy("Team_A", &["/a"]), "name", "not a valid tenant name"),
            (
                TenantPolicy {
                    group: " ".into(),
                    ..policy("a", &["/a"])
                },
                "group",
                "owning group",
            ),
            (policy("a", &[]), "prefixes", "0 prefixes given"),
            (policy("a", &["data"]), "prefixes", "is not absolute"),
            (policy("a", &["/data/../etc"]), "prefixes", "component"),
            (policy("a", &["/data//x"]), "prefixes", "component"),
            (policy("a", &["/a", "/a/"]), "prefixes", "given twice"),
            (
                TenantPolicy {
                    quota_bytes: Some(0),
                    ..policy("a", &["/a"])
                },
                "quota_bytes",
                "above zero",
            ),
            (
                TenantPolicy {
                    ttl_seconds: Some(0),
                    ..policy("a", &["/a"])
                },
                "ttl_seconds",
                "at least 1 second",
            ),
        ];
        for (p, field, message) in cases {
            let error = p.validate().expect_err(message);
            assert_eq!(error.field, field, "{error}");
            assert!(error.message.contains(message), "{error}");
        }
    }

    #[test]
    fn a_prefix_has_one_owner() {
        let a = policy("a", &["/data/a"]).validate().unwrap();
        let b = policy("b", &["/data/a/"]).validate().unwrap();
        let error = check_prefixes_free(&b, std::slice::from_ref(&a)).unwrap_err();
        assert!(
            error.message.contains("already belongs to tenant a"),
            "{error}"
        );
        // A tenant may keep its own prefixes, and nest inside another's.
        check_prefixes_free(&a, std::slice::from_ref(&a)).unwrap();
        let nested = policy("n", &["/data/a/deep"]).validate().unwrap();
        check_prefixes_free(&nested, &[a]).unwrap();
    }

    #[test]
    fn evictors_parse_in_any_case_and_refuse_others() {
        assert_eq!(Evictor::parse("lfu").unwrap(), Evictor::Lfu);
        assert!(
            Evictor::parse("ARC")
                .unwrap_err()
                .message
                .contains("LRU, LFU or FIFO")
        );
        let json = serde_json::to_string(&policy("a", &["/a"])).unwrap();
        assert!(json.contains(r#""evictor":"LRU""#), "{json}");
    }
}
