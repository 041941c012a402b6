//! Clusters as the console registers and watches them, and the rules their
//! fields must follow. The rules live here so the REST API, the server
//! functions and the browser form all reject the same input the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most labels one cluster may carry; a label set is for grouping, not storage.
pub const MAX_LABELS: usize = 32;
const MAX_NAME_LEN: usize = 63;
const MAX_URL_LEN: usize = 2048;
const MAX_TOKEN_LEN: usize = 4096;
const MAX_CERTIFICATE_LEN: usize = 64 * 1024;

/// A request to register a cluster with the console.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCluster {
    /// Unique name: 1 to 63 characters of `a-z`, `0-9` and `-`, starting and
    /// ending with a letter or digit.
    pub name: String,
    /// Base URL of the cluster's coordinator, such as `http://10.0.0.5:19999`.
    pub coordinator_url: String,
    /// Free-form `key: value` labels used to group and select clusters.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Where the cluster runs, such as `eu-west-1`; free text, may be empty.
    #[serde(default)]
    pub region: String,
    /// Bearer token the console sends to the coordinator. Kept encrypted at
    /// rest and never returned by any API.
    #[serde(default)]
    pub access_token: Option<String>,
    /// PEM certificate of the CA that signed an `https://` coordinator's
    /// certificate, when it is not a public one.
    #[serde(default)]
    pub ca_certificate: Option<String>,
}

/// A change to a registered cluster: each field given replaces the stored
/// one, each field left out stays. An empty `access_token` or
/// `ca_certificate` removes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClusterPatch {
    #[serde(default)]
    pub coordinator_url: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub ca_certificate: Option<String>,
}

/// A registered cluster, as every API shows it: the access token is never
/// part of it, only whether there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cluster {
    pub name: String,
    pub coordinator_url: String,
    pub labels: BTreeMap<String, String>,
    pub region: String,
    pub has_access_token: bool,
    pub ca_certificate: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A cluster's health as one word, worst last: what the fleet page sorts
/// and filters by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Registered but not polled yet.
    Unknown,
    /// The coordinator answered and nothing needs attention.
    Ready,
    /// The coordinator answered, but something needs attention: see the
    /// status's reasons.
    Degraded,
    /// The last poll failed.
    Unreachable,
}

impl Health {
    pub const ALL: [Health; 4] = [
        Health::Ready,
        Health::Degraded,
        Health::Unreachable,
        Health::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ready => "ready",
            Health::Degraded => "degraded",
            Health::Unreachable => "unreachable",
        }
    }

    /// The health a label names, as the fleet page's filter takes it.
    pub fn parse(label: &str) -> Option<Health> {
        Health::ALL
            .into_iter()
            .find(|h| h.label().eq_ignore_ascii_case(label.trim()))
    }
}

/// What the console's poller last learned about a cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterStatus {
    pub health: Health,
    /// Why the cluster is degraded, one line each; empty otherwise.
    pub reasons: Vec<String>,
    /// When the cluster entered `health`.
    pub since: Option<DateTime<Utc>>,
    /// When the poller last tried the cluster.
    pub checked_at: Option<DateTime<Utc>>,
    /// When the poller tries next: later than usual while a cluster stays
    /// unreachable (exponential backoff).
    pub next_check_at: Option<DateTime<Utc>>,
    /// Polls failed in a row.
    pub failures: u32,
    /// Version the coordinator reported, from the last successful poll.
    pub version: Option<String>,
    /// Cluster id the coordinator reported, from the last successful poll.
    pub cluster_id: Option<String>,
    /// Why the last poll failed.
    pub last_error: Option<String>,
    pub workers_online: u32,
    pub workers_total: u32,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    /// Bytes served from cache over bytes read, between the last two polls;
    /// none when nothing was read.
    pub hit_ratio: Option<f64>,
    /// Bytes read from cache and from the UFS between the last two polls:
    /// what a fleet-wide hit ratio sums.
    pub interval_cache_bytes: u64,
    pub interval_ufs_bytes: u64,
    pub running_jobs: u32,
    /// The license status the coordinator last reported.
    #[serde(default)]
    pub license: Option<crate::license::LicenseStatus>,
    /// The lifecycle phase the coordinator last reported.
    #[serde(default)]
    pub phase: Option<crate::lifecycle::Phase>,
}

impl Default for ClusterStatus {
    fn default() -> Self {
        Self {
            health: Health::Unknown,
            reasons: Vec::new(),
            since: None,
            checked_at: None,
            next_check_at: None,
            failures: 0,
            version: None,
            cluster_id: None,
            last_error: None,
            workers_online: 0,
            workers_total: 0,
            capacity_bytes: 0,
            used_bytes: 0,
            hit_ratio: None,
            interval_cache_bytes: 0,
            interval_ufs_bytes: 0,
            running_jobs: 0,
            license: None,
            phase: None,
        }
    }
}

/// A cluster together with its live status: one row of the fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterView {
    pub cluster: Cluster,
    pub status: ClusterStatus,
}

/// Everything the cluster page shows: the fleet row plus what the last
/// successful poll brought back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterDetail {
    #[serde(flatten)]
    pub view: ClusterView,
    pub workers: Vec<crate::WorkerView>,
    /// The coordinator's ring as `GET /api/v1/ring` gives it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub ring: Option<ringside_ring::RingSpec>,
    pub jobs: Vec<crate::job::JobView>,
    /// The coordinator's lifecycle: phase, versions, stale OFFLINE
    /// entries, the restart rolling now or last.
    #[serde(default)]
    pub lifecycle: Option<crate::lifecycle::LifecycleStatus>,
}

/// Input that broke a rule: which field, and what is expected of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl NewCluster {
    /// Checks every field and returns the cluster in canonical form (URL
    /// without a trailing slash), or the first field that breaks a rule.
    pub fn validate(self) -> Result<NewCluster, FieldError> {
        validate_name(&self.name)?;
        let coordinator_url = normalize_url(&self.coordinator_url)?;
        validate_labels(&self.labels)?;
        Ok(NewCluster {
            coordinator_url,
            region: validate_region(&self.region)?,
            access_token: self
                .access_token
                .as_deref()
                .map(validate_token)
                .transpose()?
                .flatten(),
            ca_certificate: self
                .ca_certificate
                .as_deref()
                .map(validate_certificate)
                .transpose()?
                .flatten(),
            ..self
        })
    }
}

impl ClusterPatch {
    /// Checks every field given, as [`NewCluster::validate`] does.
    pub fn validate(self) -> Result<ClusterPatch, FieldError> {
        if let Some(labels) = &self.labels {
            validate_labels(labels)?;
        }
        Ok(ClusterPatch {
            coordinator_url: self
                .coordinator_url
                .as_deref()
                .map(normalize_url)
                .transpose()?,
            labels: self.labels,
            region: self.region.as_deref().map(validate_region).transpose()?,
            access_token: self
                .access_token
                .as_deref()
                .map(|t| validate_token(t).map(Option::unwrap_or_default))
                .transpose()?,
            ca_certificate: self
                .ca_certificate
                .as_deref()
                .map(|c| validate_certificate(c).map(Option::unwrap_or_default))
                .transpose()?,
        })
    }
}

/// A region is free text for people, kept short and printable.
pub fn validate_region(region: &str) -> Result<String, FieldError> {
    let region = region.trim();
    if region.len() > MAX_NAME_LEN || region.chars().any(char::is_control) {
        return Err(FieldError::new(
            "region",
            format!(
                "region {} is invalid: expected at most 63 printable characters, such as eu-west-1",
                quote(region)
            ),
        ));
    }
    Ok(region.to_string())
}

/// An access token travels in an `Authorization` header: visible ASCII
/// only. Blank means none.
fn validate_token(token: &str) -> Result<Option<String>, FieldError> {
    let token = token.trim();
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        // The token itself is never echoed: it is a secret.
        return Err(FieldError::new(
            "access_token",
            format!(
                "access token is invalid: expected at most {MAX_TOKEN_LEN} visible ASCII characters without spaces"
            ),
        ));
    }
    Ok(Some(token.to_string()))
}

/// A CA certificate must at least look like PEM here; the console parses it
/// for real when it builds the cluster's HTTP client. Blank means none.
fn validate_certificate(pem: &str) -> Result<Option<String>, FieldError> {
    let pem = pem.trim();
    if pem.is_empty() {
        return Ok(None);
    }
    let expected = "expected a PEM certificate starting with -----BEGIN CERTIFICATE-----";
    if pem.len() > MAX_CERTIFICATE_LEN {
        return Err(FieldError::new(
            "ca_certificate",
            format!("CA certificate is longer than {MAX_CERTIFICATE_LEN} bytes: {expected}"),
        ));
    }
    if !pem.starts_with("-----BEGIN CERTIFICATE-----") || !pem.contains("-----END CERTIFICATE-----")
    {
        return Err(FieldError::new(
            "ca_certificate",
            format!("CA certificate is not PEM: {expected}"),
        ));
    }
    Ok(Some(format!("{pem}\n")))
}

/// Checks a cluster name against the DNS-label rule clusters are named by.
pub fn validate_name(name: &str) -> Result<(), FieldError> {
    validate_dns_label("cluster", name)
}

/// Checks the name of a `what` (cluster, tenant) against the DNS-label
/// rule: what stays valid in a host name, a label and a URL path alike.
pub fn validate_dns_label(what: &str, name: &str) -> Result<(), FieldError> {
    let expected = "expected 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else if name.is_empty() {
        Err(FieldError::new(
            "name",
            format!("name is empty: {expected}"),
        ))
    } else {
        Err(FieldError::new(
            "name",
            format!("{} is not a valid {what} name: {expected}", quote(name)),
        ))
    }
}

/// Parses a coordinator URL and returns it without a trailing slash.
pub fn normalize_url(raw: &str) -> Result<String, FieldError> {
    let expected = "expected an http:// or https:// URL with a host, such as http://10.0.0.5:19999";
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::new(
            "coordinator_url",
            format!("coordinator URL is empty: {expected}"),
        ));
    }
    let bad = |why: &str| {
        FieldError::new(
            "coordinator_url",
            format!("{} {why}: {expected}", quote(raw)),
        )
    };
    if raw.len() > MAX_URL_LEN {
        return Err(bad("is too long"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(&format!("has scheme {:?}", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("carries credentials; register an access token instead"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Checks label keys and values: keys 1 to 63 characters of letters, digits,
/// `.`, `_`, `-` and `/`; values at most 63 printable characters.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<(), FieldError> {
    if labels.len() > MAX_LABELS {
        return Err(FieldError::new(
            "labels",
            format!(
                "{} labels given: expected at most {MAX_LABELS}",
                labels.len()
            ),
        ));
    }
    for (key, value) in labels {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_NAME_LEN
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
        if !key_ok {
            return Err(FieldError::new(
                "labels",
                format!(
                    "label key {} is invalid: expected 1 to 63 characters of letters, digits, '.', '_', '-' and '/'",
                    quote(key)
                ),
            ));
        }
        if value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
            return Err(FieldError::new(
                "labels",
                format!(
                    "value of label {} is invalid: expected at most 63 printable characters",
                    quote(key)
                ),
            ));
        }
    }
    Ok(())
}

/// Parses labels as people type them in a form: `region=eu, team=ml`.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, FieldError> {
    let mut labels = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(FieldError::new(
                "labels",
                format!(
                    "{} has no '=': expected key=value pairs separated by commas, such as region=eu, team=ml",
                    quote(item)
                ),
            ));
        };
        let key = key.trim().to_string();
        if labels
            .insert(key.clone(), value.trim().to_string())
            .is_some()
        {
            return Err(FieldError::new(
                "labels",
                format!(
                    "label {} is given twice: expected each key once",
                    quote(&key)
                ),
            ));
        }
    }
    validate_labels(&labels)?;
    Ok(labels)
}

/// Formats labels the way `parse_labels` reads them.
pub fn format_labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Echoes input quoted and escaped, and short: a 2 MiB name must not become
/// a 2 MiB error, nor control characters reach a terminal.
fn quote(s: &str) -> String {
    const MAX: usize = 80;
    let escaped = format!("{s:?}");
    if escaped.chars().count() <= MAX {
        escaped
    } else {
        let head: String = escaped.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cluster(name: &str, url: &str) -> NewCluster {
        NewCluster {
            name: name.into(),
            coordinator_url: url.into(),
            ..NewCluster::default()
        }
    }

    #[test]
    fn accepts_and_normalizes_a_good_cluster() {
        let c = cluster("eu-west-1", "http://10.0.0.5:19999/")
            .validate()
            .unwrap();
        assert_eq!(c.coordinator_url, "http://10.0.0.5:19999");
    }

    #[test]
    fn rejects_bad_names_with_the_rule() {
        for name in ["", "-a", "a-", "Upper", "a_b", "a b", &"x".repeat(64)] {
            let err = cluster(name, "http://h:1").validate().unwrap_err();
            assert_eq!(err.field, "name");
            assert!(err.message.contains("expected"), "{err}");
        }
    }

    #[test]
    fn rejects_bad_urls_with_the_reason() {
        for (url, why) in [
            ("", "empty"),
            ("not a url", "not a URL"),
            ("ftp://h:1", "scheme"),
            ("http://user:pw@h:1", "credentials"),
            ("http://h:1/?q=1", "query"),
        ] {
            let err = cluster("a", url).validate().unwrap_err();
            assert_eq!(err.field, "coordinator_url");
            assert!(err.message.contains(why), "{url}: {err}");
            assert!(err.message.contains("expected"), "{err}");
        }
    }

    #[test]
    fn secrets_and_certificates_are_checked_without_echoing_secrets() {
        let mut c = cluster("a", "http://h:1");
        c.access_token = Some("  s3cr3t-token ".into());
        c.region = " eu-west-1 ".into();
        let ok = c.clone().validate().unwrap();
        assert_eq!(ok.access_token.as_deref(), Some("s3cr3t-token"));
        assert_eq!(ok.region, "eu-west-1");
        c.access_token = Some("has space inside".into());
        let err = c.clone().validate().unwrap_err();
        assert_eq!(err.field, "access_token");
        assert!(!err.message.contains("space inside"), "{err}");
        c.access_token = Some("   ".into());
        assert_eq!(c.clone().validate().unwrap().access_token, None);
        c.ca_certificate = Some("not pem".into());
        let err = c.clone().validate().unwrap_err();
        assert_eq!(err.field, "ca_certificate");
        assert!(err.message.contains("BEGIN CERTIFICATE"), "{err}");
        c.region = "a\u{7}b".into();
        c.ca_certificate = None;
        assert_eq!(c.validate().unwrap_err().field, "region");
    }

    #[test]
    fn a_patch_checks_what_it_changes_and_blank_removes() {
        let patch = ClusterPatch {
            coordinator_url: Some("http://h:2/".into()),
            access_token: Some(" ".into()),
            ..ClusterPatch::default()
        }
        .validate()
        .unwrap();
        assert_eq!(patch.coordinator_url.as_deref(), Some("http://h:2"));
        assert_eq!(patch.access_token.as_deref(), Some(""), "blank removes");
        assert_eq!(patch.region, None, "left out stays");
        let bad = ClusterPatch {
            coordinator_url: Some("ftp://h".into()),
            ..ClusterPatch::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "coordinator_url");
    }

    #[test]
    fn health_labels_round_trip() {
        for h in Health::ALL {
            assert_eq!(Health::parse(h.label()), Some(h));
        }
        assert_eq!(Health::parse(" Degraded "), Some(Health::Degraded));
        assert_eq!(Health::parse("sideways"), None);
    }

    #[test]
    fn parses_labels_as_typed() {
        let labels = parse_labels(" region=eu , team = ml,").unwrap();
        assert_eq!(format_labels(&labels), "region=eu, team=ml");
        assert!(parse_labels("region").unwrap_err().message.contains("'='"));
        assert!(
            parse_labels("a=1,a=2")
                .unwrap_err()
                .message
                .contains("twice")
        );
        assert!(parse_labels("bad key=1").is_err());
    }

    #[test]
    fn new_cluster_refuses_unknown_fields() {
        let err = serde_json::from_str::<NewCluster>(
            r#"{"name":"a","coordinator_url":"http://h:1","colour":"red"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"));
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_echoes_little(name in ".{0,300}", url in ".{0,300}") {
            if let Err(e) = cluster(&name, &url).validate() {
                prop_assert!(e.message.len() < 400);
            }
        }

        #[test]
        fn valid_names_are_accepted(name in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            prop_assert!(validate_name(&name).is_ok());
        }

        #[test]
        fn labels_round_trip(labels in proptest::collection::btree_map("[a-z][a-z0-9._/-]{0,20}", "[a-z0-9]{0,20}", 0..8)) {
            prop_assert_eq!(parse_labels(&format_labels(&labels)).unwrap(), labels);
        }
    }
}
