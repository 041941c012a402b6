//! Watches every registered cluster: asks each coordinator for its info on
//! an interval, a bounded number at a time, and records whether it answered.
//! A slow or dead cluster costs at most one timeout and never holds up the
//! others.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::Utc;
use futures::{StreamExt, stream};
use ringside_api::{Cluster, ClusterInfo, ClusterStatus, Reachability};
use tokio::sync::Notify;

use crate::store::Store;

/// How the poller paces itself.
#[derive(Clone, Debug)]
pub struct PollerConfig {
    /// Time between the starts of two poll rounds.
    pub interval: Duration,
    /// How long one coordinator may take to answer.
    pub timeout: Duration,
    /// How many coordinators are asked at once.
    pub concurrency: usize,
}

/// The latest status of every cluster, shared by the poller (writer) and
/// the pages and API (readers).
#[derive(Clone, Debug, Default)]
pub struct FleetStatus {
    inner: Arc<RwLock<HashMap<String, ClusterStatus>>>,
    wake: Arc<Notify>,
}

impl FleetStatus {
    pub fn get(&self, name: &str) -> ClusterStatus {
        self.read().get(name).cloned().unwrap_or_default()
    }

    /// Asks the poller to start a round now, e.g. after a registration, so a
    /// new cluster shows its state without waiting a whole interval.
    pub fn poll_now(&self) {
        self.wake.notify_one();
    }

    pub fn forget(&self, name: &str) {
        self.write().remove(name);
    }

    fn record(&self, name: &str, outcome: Result<ClusterInfo, String>) {
        let now = Utc::now();
        let mut map = self.write();
        let status = map.entry(name.to_string()).or_default();
        let state = if outcome.is_ok() {
            Reachability::Up
        } else {
            Reachability::Unreachable
        };
        if status.state != state {
            status.state = state;
            status.since = Some(now);
        }
        status.checked_at = Some(now);
        match outcome {
            Ok(info) => {
                status.version = Some(info.version);
                status.cluster_id = Some(info.id);
                status.last_error = None;
            }
            Err(error) => status.last_error = Some(error),
        }
    }

    /// A poisoned lock only means a reader panicked mid-read; the map itself
    /// is still whole, so keep serving it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ClusterStatus>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ClusterStatus>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Polls forever; spawn it on the runtime.
pub async fn run(store: Store, fleet: FleetStatus, config: PollerConfig) {
    let client = match reqwest::Client::builder().timeout(config.timeout).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the poller's http client; clusters will not be polled");
            return;
        }
    };
    loop {
        let started = tokio::time::Instant::now();
        match store.list_clusters().await {
            Ok(clusters) => poll_round(&client, &fleet, clusters, config.concurrency).await,
            Err(error) => tracing::warn!(%error, "cannot list clusters to poll"),
        }
        let next = started + config.interval;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = fleet.wake.notified() => {}
        }
    }
}

async fn poll_round(
    client: &reqwest::Client,
    fleet: &FleetStatus,
    clusters: Vec<Cluster>,
    concurrency: usize,
) {
    stream::iter(clusters)
        .map(|cluster| async move {
            let outcome = fetch_info(client, &cluster.coordinator_url).await;
            if let Err(error) = &outcome {
                tracing::debug!(cluster = %cluster.name, %error, "cluster unreachable");
            }
            fleet.record(&cluster.name, outcome);
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<()>()
        .await;
}

async fn fetch_info(client: &reqwest::Client, base: &str) -> Result<ClusterInfo, String> {
    let url = format!("{base}{}/info", ringside_api::API_PREFIX);
    let response = client.get(&url).send().await.map_err(describe)?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    response
        .json::<ClusterInfo>()
        .await
        .map_err(|e| format!("{url} answered with an unexpected body: {e}"))
}

/// reqwest's top-level message ("error sending request") hides the cause
/// people need, such as "connection refused"; walk down to it.
fn describe(error: reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClusterInfo {
        ClusterInfo {
            name: "a".into(),
            id: "id".into(),
            version: "1.2.3".into(),
            started_at: Utc::now(),
        }
    }

    #[test]
    fn since_changes_only_on_transitions() {
        let fleet = FleetStatus::default();
        assert_eq!(fleet.get("a").state, Reachability::Unknown);
        fleet.record("a", Ok(info()));
        let first = fleet.get("a");
        assert_eq!(first.state, Reachability::Up);
        assert_eq!(first.version.as_deref(), Some("1.2.3"));
        fleet.record("a", Ok(info()));
        assert_eq!(fleet.get("a").since, first.since);
        fleet.record("a", Err("connection refused".into()));
        let down = fleet.get("a");
        assert_eq!(down.state, Reachability::Unreachable);
        assert_eq!(down.last_error.as_deref(), Some("connection refused"));
        assert!(down.since >= first.since);
        assert_eq!(
            down.version.as_deref(),
            Some("1.2.3"),
            "last known version is kept"
        );
        fleet.forget("a");
        assert_eq!(fleet.get("a").state, Reachability::Unknown);
    }
}
