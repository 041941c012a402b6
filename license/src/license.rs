//! What a license says, and the rules its content must follow whoever
//! signed it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::LicenseError;

/// Version of the license payload this build writes and reads.
pub const LICENSE_VERSION: u32 = 1;

const MAX_TEXT_LEN: usize = 256;
const MAX_CLUSTERS: usize = 10_000;
const MAX_FEATURES: usize = 256;

/// Whether a license is for one cluster or for a deployment of several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseKind {
    /// Covers exactly one cluster: the simplest way to get started.
    #[default]
    Cluster,
    /// Covers every cluster it names: one license for a whole deployment.
    Deployment,
}

impl LicenseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseKind::Cluster => "cluster",
            LicenseKind::Deployment => "deployment",
        }
    }
}

impl std::str::FromStr for LicenseKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cluster" => Ok(LicenseKind::Cluster),
            "deployment" => Ok(LicenseKind::Deployment),
            _ => Err(format!(
                "unknown license kind {text:?}: expected cluster or deployment"
            )),
        }
    }
}

impl std::fmt::Display for LicenseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a license allows; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most workers ONLINE at once in a covered cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<u32>,
    /// Most page store capacity, in bytes, of the ONLINE workers of a
    /// covered cluster together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity_bytes: Option<u64>,
}

/// A license as the vendor issued it: the signed payload of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// Payload format version; [`LICENSE_VERSION`].
    pub version: u32,
    /// The vendor's id of this license, such as `L-2031-0042`.
    pub id: String,
    /// Who it is issued to.
    pub customer: String,
    pub kind: LicenseKind,
    /// Names (`ringside.cluster.name`) of the clusters covered: exactly one
    /// for a cluster license, one or more for a deployment license.
    pub clusters: Vec<String>,
    pub issued_at: DateTime<Utc>,
    /// When it expires; a grace period follows (see [`crate::evaluate`]).
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub limits: Limits,
    /// Features it enables, by name.
    #[serde(default)]
    pub features: Vec<String>,
}

impl Default for License {
    /// An empty license of the current version; not valid until its fields
    /// are filled in (see [`License::validate`]).
    fn default() -> Self {
        License {
            version: LICENSE_VERSION,
            id: String::new(),
            customer: String::new(),
            kind: LicenseKind::Cluster,
            clusters: Vec::new(),
            issued_at: DateTime::<Utc>::UNIX_EPOCH,
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
            limits: Limits::default(),
            features: Vec::new(),
        }
    }
}

impl License {
    /// Checks the content, signed or not: the version, non-empty single-line
    /// id and customer, cluster names as `ringside.cluster.name` takes them
    /// (exactly one for a cluster license), an expiry after the issue date,
    /// and limits above zero. [`crate::VendorKey::sign`] refuses to sign a
    /// license that fails, and [`crate::verify`] to accept one.
    pub fn validate(&self) -> Result<(), LicenseError> {
        let invalid = |reason: String| {
            Err(LicenseError::Invalid {
                id: self.id.clone(),
                reason,
            })
        };
        if self.version != LICENSE_VERSION {
            return Err(LicenseError::UnsupportedVersion {
                found: self.version.to_string(),
                expected: LICENSE_VERSION,
            });
        }
        for (what, text) in [("id", &self.id), ("customer", &self.customer)] {
            if text.trim().is_empty() {
                return invalid(format!("the {what} is empty: expected some text"));
            }
            if !is_text(text) {
                return invalid(format!(
                    "the {what} {text:?} is not one line of at most {MAX_TEXT_LEN} characters"
                ));
            }
        }
        match (self.kind, self.clusters.len()) {
            (_, 0) => return invalid("it names no cluster: expected at least one".into()),
            (LicenseKind::Cluster, n) if n > 1 => {
                return invalid(format!(
                    "a cluster license names exactly one cluster, this one names {n}: issue a deployment license to cover several"
                ));
            }
            (_, n) if n > MAX_CLUSTERS => {
                return invalid(format!(
                    "it names {n} clusters: expected at most {MAX_CLUSTERS}"
                ));
            }
            _ => {}
        }
        for (i, name) in self.clusters.iter().enumerate() {
            if ringside_api::cluster::validate_name(name).is_err() {
                return invalid(format!(
                    "cluster name {name:?} is not a valid ringside.cluster.name: expected 1 to 63 of a-z, 0-9 and -, starting and ending with a letter or digit"
                ));
            }
            if self.clusters[..i].contains(name) {
                return invalid(format!("cluster {name} is named twice"));
            }
        }
        if self.expires_at <= self.issued_at {
            return invalid(format!(
                "it expires ({}) before it was issued ({})",
                self.expires_at.to_rfc3339(),
                self.issued_at.to_rfc3339()
            ));
        }
        if self.limits.max_workers == Some(0) {
            return invalid("it allows 0 workers: expected at least 1, or no limit".into());
        }
        if self.limits.max_capacity_bytes == Some(0) {
            return invalid("it allows 0 bytes of capacity: expected more, or no limit".into());
        }
        if self.features.len() > MAX_FEATURES {
            return invalid(format!(
                "it lists {} features: expected at most {MAX_FEATURES}",
                self.features.len()
            ));
        }
        if let Some(bad) = self
            .features
            .iter()
            .find(|f| f.trim().is_empty() || !is_text(f))
        {
            return invalid(format!(
                "feature {bad:?} is not a name: expected one line of text"
            ));
        }
        Ok(())
    }

    /// Whether it covers the cluster named `cluster`.
    pub fn covers(&self, cluster: &str) -> bool {
        self.clusters.iter().any(|c| c == cluster)
    }

    /// Whether it enables `feature`.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

fn is_text(text: &str) -> bool {
    text.chars().count() <= MAX_TEXT_LEN && !text.chars().any(char::is_control)
}

impl License {
    /// What it says, as the coordinator's and the console's APIs show it.
    pub fn summary(&self) -> ringside_api::license::LicenseSummary {
        use ringside_api::license::LicenseKind as Kind;
        ringside_api::license::LicenseSummary {
            id: self.id.clone(),
            customer: self.customer.clone(),
            kind: match self.kind {
                LicenseKind::Cluster => Kind::Cluster,
                LicenseKind::Deployment => Kind::Deployment,
            },
            clusters: self.clusters.clone(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            max_workers: self.limits.max_workers,
            max_capacity_bytes: self.limits.max_capacity_bytes,
            features: self.features.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;

    pub fn sample() -> License {
        License {
            id: "L-1".into(),
            customer: "ACME Corp".into(),
            kind: LicenseKind::Cluster,
            clusters: vec!["eu-west".into()],
            issued_at: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
            expires_at: Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap(),
            limits: Limits {
                max_workers: Some(3),
                max_capacity_bytes: Some(10 << 40),
            },
            features: vec!["s3".into()],
            ..License::default()
        }
    }

    fn reason(license: &License) -> String {
        license.validate().unwrap_err().to_string()
    }

    #[test]
    fn a_sample_license_is_valid() {
        sample().validate().unwrap();
        assert!(sample().covers("eu-west") && !sample().covers("eu"));
        assert!(sample().has_feature("s3"));
    }

    #[test]
    fn content_rules_say_what_is_expected() {
        let mut l = sample();
        l.clusters.push("us-east".into());
        assert!(
            reason(&l).contains("a cluster license names exactly one cluster"),
            "{}",
            reason(&l)
        );
        l.kind = LicenseKind::Deployment;
        l.validate().unwrap();
        l.clusters.push("eu-west".into());
        assert!(reason(&l).contains("named twice"));

        let mut l = sample();
        l.clusters = vec![];
        assert!(reason(&l).contains("names no cluster"));
        l.clusters = vec!["EU_West".into()];
        assert!(reason(&l).contains("not a valid ringside.cluster.name"));

        let mut l = sample();
        l.expires_at = l.issued_at;
        assert!(reason(&l).contains("before it was issued"));

        let mut l = sample();
        l.id = " ".into();
        assert_eq!(
            reason(&l),
            "invalid license \" \": the id is empty: expected some text"
        );
        let mut l = sample();
        l.customer = "a\nb".into();
        assert!(reason(&l).contains("not one line"));

        let mut l = sample();
        l.limits.max_workers = Some(0);
        assert!(reason(&l).contains("0 workers"));

        let mut l = sample();
        l.version = 2;
        assert!(reason(&l).contains("version 2"));
    }

    #[test]
    fn kinds_parse_in_any_case() {
        assert_eq!("Deployment".parse(), Ok(LicenseKind::Deployment));
        assert_eq!("cluster".parse(), Ok(LicenseKind::Cluster));
        assert!(
            "site"
                .parse::<LicenseKind>()
                .unwrap_err()
                .contains("expected cluster or deployment")
        );
    }
}
