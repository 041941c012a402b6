//! Workers as the coordinator knows them, and the ring it publishes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a worker tells its coordinator on every heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkerHeartbeat {
    /// The worker's stable identity (a UUID kept in its identity file).
    pub id: String,
    /// Base URL of the worker's HTTP API, e.g. `http://10.0.0.7:29999`.
    pub address: String,
    /// Base URL of the worker's S3-compatible API.
    pub s3_address: String,
    /// Page store capacity in bytes.
    pub capacity_bytes: u64,
    /// Bytes of pages held.
    pub used_bytes: u64,
    /// Pages held.
    pub pages: u64,
    /// The worker's version.
    pub version: String,
    /// Bytes served from the page store since the worker started.
    #[serde(default)]
    pub cache_read_bytes: u64,
    /// Bytes read from the UFS since the worker started.
    #[serde(default)]
    pub ufs_read_bytes: u64,
}

/// Whether a worker is heard from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkerState {
    Online,
    Offline,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Online => "ONLINE",
            WorkerState::Offline => "OFFLINE",
        }
    }
}

/// A member of the cluster, as `GET /api/v1/workers` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerView {
    #[serde(flatten)]
    pub heartbeat: WorkerHeartbeat,
    pub state: WorkerState,
    /// When the worker was last heard from.
    pub last_heartbeat: DateTime<Utc>,
    /// When the worker first joined.
    pub registered_at: DateTime<Utc>,
}

/// A file or directory of the UFS, as a worker sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    pub path: String,
    pub is_dir: bool,
    /// Bytes in the UFS; 0 for directories.
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    /// Bytes of this version of the file in the answering worker's page store.
    pub cached_bytes: u64,
}

/// A directory listing; `truncated` when it was cut at the worker's limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing {
    pub entries: Vec<FileEntry>,
    pub truncated: bool,
}

/// A worker's own account of its page store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerStatus {
    pub id: String,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub pages: u64,
    pub files: u64,
    pub evictions_total: u64,
    pub checksum_failures_total: u64,
    /// The worker's version.
    #[serde(default)]
    pub version: Option<String>,
    /// When this worker process started: a rolling restart waits for a
    /// newer one.
    #[serde(default)]
    pub started_at: Option<chrono::DateTime<Utc>>,
}
