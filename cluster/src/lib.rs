//! The cluster side of Ringside: the coordinator, the control plane of one
//! cluster (its identity and metastore, and the HTTP API clients and the
//! console call). Daemons are started from here by the `ringside` CLI; this
//! crate holds their logic so binaries stay thin.

pub mod coordinator;
pub mod membership;
pub mod metastore;
pub mod metrics;
pub mod pacing;
pub mod security;
pub mod simulator;
pub mod worker;

/// This build's version, reported by every daemon and the CLI: the crate's
/// version, or the release name `RINGSIDE_RELEASE` gave the build
/// (`scripts/build-release.sh`).
pub const VERSION: &str = match option_env!("RINGSIDE_RELEASE") {
    Some(release) => release,
    None => env!("CARGO_PKG_VERSION"),
};
