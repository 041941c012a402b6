//! The console's view of licenses across its fleet (`/api/v1/licenses`):
//! licenses uploaded once to the console and applied to the clusters they
//! name, and the dashboard row of every cluster's license with the alerts
//! it raises. One cluster's own license status is [`crate::license`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::license::{LicenseStatus, LicenseSummary};

/// A license uploaded to the console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadedLicense {
    pub license: LicenseSummary,
    pub uploaded_at: DateTime<Utc>,
    pub uploaded_by: String,
    /// The clusters it names that are registered: where applying it goes.
    pub registered: Vec<String>,
    /// The clusters it names that the console does not know.
    pub unregistered: Vec<String>,
}

/// One cluster's line on the license dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseRow {
    pub cluster: String,
    /// The license status its coordinator last reported; none before the
    /// first answer.
    pub status: Option<LicenseStatus>,
    /// What needs an operator: expiry within 30 days, more than 90% of a
    /// limit, an invalid or expired license.
    pub alerts: Vec<String>,
    /// When page store capacity will reach the license's limit if it keeps
    /// growing as it has (a least-squares line through its history); none
    /// without a limit, without growth, or beyond a year.
    pub capacity_limit_reached_at: Option<DateTime<Utc>>,
}

/// The license dashboard: every cluster, and what was uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseDashboard {
    pub rows: Vec<LicenseRow>,
    pub uploaded: Vec<UploadedLicense>,
}
