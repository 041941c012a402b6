//! Tenants: groups of UFS paths with a cache policy of their own. A tenant
//! owns the files under its path prefixes (the longest matching prefix
//! wins, whole path components only), and its policy bounds what those
//! files may hold: a quota in bytes (over it, the tenant's own pages are
//! evicted, in the tenant's eviction order), a time to live (pages cached
//! longer ago are removed by [`PageStore::expire`](crate::PageStore::expire)),
//! and the eviction order itself.
//!
//! Rules live only in memory: the worker gets them from its coordinator at
//! start and whenever they change, and they are checked here again, since a
//! rule set that the store cannot apply must be refused whole.

use std::time::Duration;

use crate::error::PageStoreError;
use crate::options::EvictorKind;

/// Most tenants one store keeps apart (partition numbers are 16 bits).
pub const MAX_TENANTS: usize = 1024;

/// One tenant's cache policy, as the page store enforces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRule {
    /// The tenant's name, as metrics and listings show it.
    pub name: String,
    /// UFS path prefixes it owns, each starting with `/`: `/data/team-a`
    /// owns `/data/team-a` and everything below it, not `/data/team-ab`.
    pub prefixes: Vec<String>,
    /// Most payload bytes its pages may hold; `None`: bounded only by the
    /// store's capacity.
    pub quota_bytes: Option<u64>,
    /// Pages cached longer ago than this are removed; `None`: kept until
    /// evicted.
    pub ttl: Option<Duration>,
    /// Which of its pages go first when it is over its quota, or when the
    /// store evicts and this tenant uses the most of its share.
    pub evictor: EvictorKind,
}

/// What a tenant holds and what its policy removed, for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantStats {
    pub name: String,
    /// Payload bytes of its cached pages.
    pub used_bytes: u64,
    pub pages: u64,
    pub quota_bytes: Option<u64>,
    pub ttl: Option<Duration>,
    pub evictor: EvictorKind,
    /// Pages evicted because the tenant was over its quota, since the store
    /// opened (kept across rule changes that keep the tenant's name).
    pub quota_evictions_total: u64,
    pub quota_evicted_bytes_total: u64,
    /// Pages removed because they outlived the TTL.
    pub expired_pages_total: u64,
    pub expired_bytes_total: u64,
}

/// What one [`PageStore::expire`](crate::PageStore::expire) pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub pages: u64,
    pub bytes: u64,
}

fn invalid(tenant: &str, reason: String) -> PageStoreError {
    PageStoreError::InvalidTenant {
        tenant: tenant.to_string(),
        reason,
    }
}

/// Checks a rule set: names unique and non-empty, each prefix absolute and
/// owned by one tenant only, quotas above zero, TTLs of at least a second.
pub(crate) fn validate(rules: &[TenantRule]) -> Result<(), PageStoreError> {
    if rules.len() > MAX_TENANTS {
        return Err(invalid(
            "",
            format!(
                "{} tenants given, at most {MAX_TENANTS} expected",
                rules.len()
            ),
        ));
    }
    let mut names = std::collections::HashSet::new();
    let mut owners = std::collections::HashMap::new();
    for rule in rules {
        if rule.name.trim().is_empty() {
            return Err(invalid(&rule.name, "a tenant needs a name".into()));
        }
        if !names.insert(rule.name.as_str()) {
            return Err(invalid(&rule.name, "the name is given twice".into()));
        }
        if rule.prefixes.is_empty() {
            return Err(invalid(
                &rule.name,
                "no path prefixes: expected at least one, such as /data/team-a".into(),
            ));
        }
        for prefix in &rule.prefixes {
            if !prefix.starts_with('/') || prefix.contains("//") {
                return Err(invalid(
                    &rule.name,
                    format!(
                        "path prefix {prefix:?}: expected an absolute UFS path such as /data/team-a"
                    ),
                ));
            }
            if let Some(other) = owners.insert(normalize(prefix), rule.name.as_str()) {
                return Err(invalid(
                    &rule.name,
                    format!(
                        "path prefix {prefix:?} is also tenant {other:?}'s: a prefix has one owner"
                    ),
                ));
            }
        }
        if rule.quota_bytes == Some(0) {
            return Err(invalid(
                &rule.name,
                "quota 0: expected a size above zero, or no quota".into(),
            ));
        }
        if rule.ttl.is_some_and(|ttl| ttl < Duration::from_secs(1)) {
            return Err(invalid(
                &rule.name,
                "ttl below one second: expected at least 1s, or no ttl".into(),
            ));
        }
    }
    Ok(())
}

fn normalize(prefix: &str) -> &str {
    match prefix.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// The tenant owning `path`: the index in `rules` of the rule with the
/// longest prefix that is `path` itself or a whole-component ancestor of it.
pub(crate) fn owner(rules: &[TenantRule], path: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (at, rule) in rules.iter().enumerate() {
        for prefix in &rule.prefixes {
            let prefix = normalize(prefix);
            let owns = prefix == "/"
                || path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'));
            if owns && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((at, prefix.len()));
            }
        }
    }
    best.map(|(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(name: &str, prefixes: &[&str]) -> TenantRule {
        TenantRule {
            name: name.into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            quota_bytes: None,
            ttl: None,
            evictor: EvictorKind::Lru,
        }
    }

    #[test]
    fn the_longest_whole_component_prefix_owns_a_path() {
        let rules = [
            rule("data", &["/data"]),
            rule("team-a", &["/data/team-a", "/scratch/a/"]),
        ];
        assert_eq!(owner(&rules, "/data/team-a/x.parquet"), Some(1));
        assert_eq!(owner(&rules, "/data/team-a"), Some(1));
        assert_eq!(owner(&rules, "/data/team-ab/x"), Some(0));
        assert_eq!(owner(&rules, "/scratch/a/b"), Some(1));
        assert_eq!(owner(&rules, "/scratch/ab"), None);
        assert_eq!(owner(&rules, "/other"), None);
        assert_eq!(owner(&[rule("all", &["/"])], "/any/thing"), Some(0));
    }

    #[test]
    fn bad_rule_sets_are_refused_with_the_reason() {
        let cases: Vec<(Vec<TenantRule>, &str)> = vec![
            (vec![rule("", &["/a"])], "needs a name"),
            (vec![rule("a", &["/a"]), rule("a", &["/b"])], "given twice"),
            (vec![rule("a", &[])], "no path prefixes"),
            (vec![rule("a", &["data"])], "absolute UFS path"),
            (vec![rule("a", &["/x//y"])], "absolute UFS path"),
            (
                vec![rule("a", &["/d"]), rule("b", &["/d/"])],
                "tenant \"a\"'s",
            ),
            (
                vec![TenantRule {
                    quota_bytes: Some(0),
                    ..rule("a", &["/a"])
                }],
                "quota 0",
            ),
            (
                vec![TenantRule {
                    ttl: Some(Duration::from_millis(10)),
                    ..rule("a", &["/a"])
                }],
                "ttl below one second",
            ),
        ];
        for (rules, expected) in cases {
            let error = validate(&rules).expect_err(expected).to_string();
            assert!(
                error.contains(expected),
                "{error:?} should say {expected:?}"
            );
        }
        validate(&[rule("a", &["/a"]), rule("b", &["/a/b"])]).expect("nested prefixes are fine");
    }

    proptest! {
        /// Whoever owns a path owns it through a prefix that really is an
        /// ancestor, and no rule has a longer one.
        #[test]
        fn the_owner_has_the_longest_matching_prefix(
            path in "(/[ab]{1,2}){1,4}",
            prefixes in proptest::collection::vec("(/[ab]{1,2}){1,3}", 1..6),
        ) {
            let rules: Vec<TenantRule> = prefixes
                .iter()
                .enumerate()
                .map(|(i, p)| rule(&format!("t{i}"), &[p.as_str()]))
                .collect();
            let matches = |p: &str| path == p || path.starts_with(&format!("{p}/"));
            let longest = prefixes.iter().filter(|p| matches(p)).map(|p| p.len()).max();
            match owner(&rules, &path) {
                Some(at) => {
                    prop_assert!(matches(&prefixes[at]));
                    prop_assert_eq!(Some(prefixes[at].len()), longest);
                }
                None => prop_assert_eq!(longest, None),
            }
        }
    }
}
