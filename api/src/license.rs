//! A cluster's license as its coordinator reports it (`GET
//! /api/v1/license`) and takes a new one (`PUT /api/v1/license`). The
//! console polls every coordinator for this status and shows it on its
//! license dashboard, so every field is plain data that stays stable.
//! Signatures are checked by the coordinator (crate `ringside-license`);
//! nothing here depends on cryptography, so it also compiles to WASM.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a cluster's license stands, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    /// No license applied (and none configured): nothing is enforced.
    Unlicensed,
    /// Before its expiry date: its limits are enforced.
    Valid,
    /// Expired, within the grace period: everything still works, with
    /// warnings; `grace_ends_at` says until when.
    Grace,
    /// Expired and the grace period over: new jobs are refused; reads and
    /// the workers already in the cluster go on.
    Expired,
    /// The applied license no longer verifies (for example the verification
    /// key changed): new jobs are refused until a valid one is applied;
    /// `message` says why.
    Invalid,
}

impl LicenseState {
    pub const ALL: [LicenseState; 5] = [
        LicenseState::Unlicensed,
        LicenseState::Valid,
        LicenseState::Grace,
        LicenseState::Expired,
        LicenseState::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LicenseState::Unlicensed => "unlicensed",
            LicenseState::Valid => "valid",
            LicenseState::Grace => "grace",
            LicenseState::Expired => "expired",
            LicenseState::Invalid => "invalid",
        }
    }

    /// Whether the coordinator accepts new jobs in this state.
    pub fn accepts_jobs(self) -> bool {
        !matches!(self, LicenseState::Expired | LicenseState::Invalid)
    }
}

/// Whether a license covers one cluster or names several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LicenseKind {
    Cluster,
    Deployment,
}

/// How the license in force got there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LicenseSource {
    /// The `ringside.license` property.
    Property,
    /// `PUT /api/v1/license` (`ringside license apply`, the console).
    Api,
}

/// What a license says, as the vendor signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseSummary {
    /// The vendor's id of the license.
    pub id: String,
    /// Who it is issued to.
    pub customer: String,
    pub kind: LicenseKind,
    /// The cluster names it covers: one for a cluster license.
    pub clusters: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Most workers ONLINE at once; `None` is unlimited.
    pub max_workers: Option<u32>,
    /// Most page store capacity of the ONLINE workers together, in bytes;
    /// `None` is unlimited.
    pub max_capacity_bytes: Option<u64>,
    /// Features it enables.
    pub features: Vec<String>,
}

/// The answer of `GET /api/v1/license` (and of a successful PUT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseStatus {
    pub state: LicenseState,
    /// One sentence explaining the state and what to do about it.
    pub message: String,
    /// The cluster name licenses are checked against (`ringside.cluster.name`).
    pub cluster: String,
    /// The license in force; `None` when unlicensed (and, when invalid, if
    /// it cannot be read at all).
    pub license: Option<LicenseSummary>,
    /// How it was applied.
    pub source: Option<LicenseSource>,
    /// When it was applied to this cluster.
    pub applied_at: Option<DateTime<Utc>>,
    /// Whole days until the expiry date, rounded down: 0 on its last day,
    /// negative after it.
    pub days_left: Option<i64>,
    /// When the grace period after expiry ends (expiry plus
    /// `ringside.license.grace.period`); new jobs are refused from then on.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Length of the grace period, in seconds.
    pub grace_period_seconds: u64,
    /// Workers ONLINE now.
    pub workers_used: u32,
    /// The license's worker limit; `None` is unlimited.
    pub workers_limit: Option<u32>,
    /// Page store capacity of the ONLINE workers, in bytes.
    pub capacity_used_bytes: u64,
    /// The license's capacity limit, in bytes; `None` is unlimited.
    pub capacity_limit_bytes: Option<u64>,
    /// Whether `ringside.license.verification.key` is set, without which no
    /// license can be applied.
    pub verification_key_configured: bool,
    /// When this status was computed.
    pub checked_at: DateTime<Utc>,
}

/// A license expiring within this many days needs an operator.
pub const EXPIRY_ALERT_DAYS: i64 = 30;

impl LicenseStatus {
    /// Whether the license runs out soon or already has: within
    /// [`EXPIRY_ALERT_DAYS`], in its grace period, expired or invalid.
    pub fn needs_renewal(&self) -> bool {
        match self.state {
            LicenseState::Grace | LicenseState::Expired | LicenseState::Invalid => true,
            LicenseState::Valid => self.days_left.is_some_and(|d| d <= EXPIRY_ALERT_DAYS),
            LicenseState::Unlicensed => false,
        }
    }
}

/// The body of `PUT /api/v1/license`: a license token as `ringside license
/// issue` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApplyLicense {
    /// The token: `RSL1.<payload>.<signature>`.
    pub license: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_words_and_order_worst_last() {
        for state in LicenseState::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert!(LicenseState::Valid < LicenseState::Grace);
        assert!(LicenseState::Grace < LicenseState::Expired);
        assert!(LicenseState::Grace.accepts_jobs());
        assert!(!LicenseState::Expired.accepts_jobs());
        assert!(LicenseState::Unlicensed.accepts_jobs());
    }

    #[test]
    fn apply_takes_only_the_token() {
        let body: ApplyLicense = serde_json::from_str(r#"{"license":"RSL1.a.b"}"#).unwrap();
        assert_eq!(body.license, "RSL1.a.b");
        assert!(serde_json::from_str::<ApplyLicense>(r#"{"license":"x","y":1}"#).is_err());
    }
}
