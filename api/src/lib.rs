//! Wire types of Ringside's HTTP APIs, shared by the coordinator, the
//! console, the CLI and the console's browser code, so every side of a call
//! agrees on one definition. Everything here is plain data plus the pure
//! validation rules for user input; no I/O, so it also compiles to WASM.

pub mod access;
pub mod audit;
pub mod cluster;
pub mod coordinator;
pub mod drift;
pub mod error;
#[cfg(feature = "axum")]
pub mod http;
pub mod job;
pub mod license;
pub mod licenses;
pub mod lifecycle;
pub mod metrics;
pub mod operation;
pub mod range;
pub mod tenant;
pub mod units;
pub mod worker;

pub use cluster::{
    Cluster, ClusterDetail, ClusterPatch, ClusterStatus, ClusterView, FieldError, Health,
    NewCluster,
};
pub use coordinator::{ClusterInfo, PropertyPatch, PropertyView};
pub use error::{ErrorBody, ErrorDetail};
pub use worker::{WorkerHeartbeat, WorkerState, WorkerView};

/// The header naming the end user the console acts for, next to a
/// cluster's access token on a control call.
pub const ACTING_FOR_HEADER: &str = "x-ringside-acting-for";

/// Prefix of every versioned HTTP API route.
pub const API_PREFIX: &str = "/api/v1";
