//! What a cluster's coordinator says about itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The answer of a coordinator's `GET /api/v1/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterInfo {
    /// The cluster's name (`ringside.cluster.name`).
    pub name: String,
    /// A UUID made when the cluster's metastore was first created; it stays
    /// the same across restarts, so the console can tell a cluster that moved
    /// from a different cluster at the same address.
    pub id: String,
    /// The coordinator's version.
    pub version: String,
    /// When this coordinator process started.
    pub started_at: DateTime<Utc>,
}

/// One property of the coordinator's configuration, as
/// `GET /api/v1/properties` lists it (every property of the schema, set or
/// not, so two clusters' lists line up key by key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertyView {
    pub key: String,
    /// The value in canonical form: equal settings compare equal as text.
    pub value: String,
    /// Where the value came from: `default`, `FILE:LINE`, `--set`, or
    /// `api (TIME)` for a value pushed with `PATCH /api/v1/properties`.
    pub source: String,
    /// Whether a running daemon applies a change without restarting.
    pub dynamic: bool,
}

/// The body of a coordinator's `PATCH /api/v1/properties`: dynamic
/// properties to change while it runs. A value is written as in
/// `ringside-site.properties` (`"15s"`, `"0.1"`); `null` clears a value
/// pushed earlier, so the site file's (or the default) applies again. Every
/// key is checked before any changes: one bad key changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertyPatch {
    /// Key to new value, or to `null` to clear a pushed value.
    pub properties: std::collections::BTreeMap<String, Option<String>>,
}
