//! Why a license, a key or a worker was refused, worded for the operator
//! who has to act on it.

use chrono::{DateTime, Utc};

use crate::format_size;

/// Why a license (or a key) is refused, or a limit is reached.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// Not a token at all: wrong shape, bad base64, or a payload that is
    /// not the expected JSON.
    #[error(
        "malformed license: {0}; expected one line RSL1.<payload>.<signature> as `ringside license issue` writes it"
    )]
    Malformed(String),

    /// The signature does not hold under the verification key.
    #[error(
        "the license signature does not verify with the configured verification key: the license is forged or tampered with, or was signed with another vendor key"
    )]
    BadSignature,

    /// A token or payload version this build does not read.
    #[error("license format version {found} is not supported: this build reads version {expected}")]
    UnsupportedVersion { found: String, expected: u32 },

    /// Signed, but its content breaks the rules every license follows.
    #[error("invalid license {id:?}: {reason}")]
    Invalid { id: String, reason: String },

    /// Valid, but not for this cluster.
    #[error("license {id} covers {}; this cluster is {cluster}", covers.join(", "))]
    WrongCluster {
        id: String,
        covers: Vec<String>,
        cluster: String,
    },

    /// Expired, and its grace period is over too.
    #[error(
        "license {id} expired on {} and its grace period ended on {}: new jobs are refused (reads go on); apply a renewed license",
        day(expired_at),
        day(grace_ended_at)
    )]
    Expired {
        id: String,
        expired_at: DateTime<Utc>,
        grace_ended_at: DateTime<Utc>,
    },

    /// One more worker would be beyond the license's worker limit.
    #[error(
        "license {id} allows {limit} worker{}; worker {worker} would be the {}: stop a worker or apply a license for more",
        if *limit == 1 { "" } else { "s" },
        ordinal(u64::from(*limit) + 1)
    )]
    TooManyWorkers {
        id: String,
        limit: u32,
        worker: String,
    },

    /// One more worker would take the cluster's page store capacity beyond
    /// the license's limit.
    #[error(
        "license {id} allows {} of page store capacity; worker {worker} with {} would bring the cluster to {}: shrink ringside.worker.pagestore.size or apply a license for more",
        format_size(*limit),
        format_size(*worker_capacity),
        format_size(*total)
    )]
    CapacityExceeded {
        id: String,
        limit: u64,
        worker: String,
        worker_capacity: u64,
        total: u64,
    },

    /// A public key that is not one.
    #[error(
        "malformed license verification key: {0}; expected the base64 text of a 32-byte Ed25519 public key, as `ringside license keygen` writes to its .pub file"
    )]
    MalformedKey(String),

    /// A vendor key file that is not one.
    #[error("malformed vendor key file: {0}; expected the JSON `ringside license keygen` writes")]
    MalformedKeyFile(String),
}

impl LicenseError {
    /// A stable snake_case code for APIs: `license_invalid` for anything
    /// wrong with the token itself, then `license_wrong_cluster`,
    /// `license_expired` and `license_limit`.
    pub fn code(&self) -> &'static str {
        match self {
            LicenseError::Malformed(_)
            | LicenseError::BadSignature
            | LicenseError::UnsupportedVersion { .. }
            | LicenseError::Invalid { .. }
            | LicenseError::MalformedKey(_)
            | LicenseError::MalformedKeyFile(_) => "license_invalid",
            LicenseError::WrongCluster { .. } => "license_wrong_cluster",
            LicenseError::Expired { .. } => "license_expired",
            LicenseError::TooManyWorkers { .. } | LicenseError::CapacityExceeded { .. } => {
                "license_limit"
            }
        }
    }
}

pub(crate) fn day(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, ...
pub(crate) fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn limit_messages_name_the_license_the_limit_and_the_worker() {
        let e = LicenseError::TooManyWorkers {
            id: "L-1".into(),
            limit: 3,
            worker: "w-9".into(),
        };
        assert!(
            e.to_string()
                .starts_with("license L-1 allows 3 workers; worker w-9 would be the 4th"),
            "{e}"
        );
        assert_eq!(e.code(), "license_limit");
        let one = LicenseError::TooManyWorkers {
            id: "L-1".into(),
            limit: 1,
            worker: "w-2".into(),
        };
        assert!(
            one.to_string()
                .starts_with("license L-1 allows 1 worker; worker w-2 would be the 2nd"),
            "{one}"
        );
        let e = LicenseError::WrongCluster {
            id: "L-1".into(),
            covers: vec!["a".into(), "b".into()],
            cluster: "c".into(),
        };
        assert_eq!(e.to_string(), "license L-1 covers a, b; this cluster is c");
        assert_eq!(e.code(), "license_wrong_cluster");
    }
}
