//! Watches every registered cluster: on each round it asks the coordinators
//! that are due for their info, members, ring, jobs and metrics, a bounded
//! number at a time, judges their health and records a metrics sample. A
//! slow or dead cluster costs at most one timeout per request and never
//! holds up the others; one that stays unreachable is asked less and less
//! often (exponential backoff up to a ceiling).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use ringside_api::{
    ClusterDetail, ClusterInfo, ClusterStatus, ClusterView, Health, WorkerState, WorkerView,
    job::{JobState, JobView},
    license::LicenseStatus,
    lifecycle::LifecycleStatus,
};
use ringside_ring::RingSpec;
use tokio::sync::Notify;

use crate::{
    health::{self, Observation},
    history::{self, Retention, Sample},
    licenses,
    remote::{Clients, Remote, describe},
    scrape::{self, ClusterMetrics},
    secrets::SecretKey,
    store::{Store, StoredCluster},
};

/// How the poller paces itself.
#[derive(Clone, Debug)]
pub struct PollerConfig {
    /// Time between the starts of two poll rounds.
    pub interval: Duration,
    /// How long one request to a coordinator may take.
    pub timeout: Duration,
    /// How many coordinators are asked at once.
    pub concurrency: usize,
    /// Longest wait between two polls of an unreachable cluster.
    pub max_backoff: Duration,
    /// How long the metrics history is kept.
    pub retention: Retention,
}

/// What the console knows of one cluster between polls.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    status: ClusterStatus,
    workers: Vec<WorkerView>,
    ring: Option<RingSpec>,
    jobs: Vec<JobView>,
    /// The counters of the last successful scrape, for the hit ratio.
    metrics: Option<ClusterMetrics>,
    lifecycle: Option<LifecycleStatus>,
}

/// The latest state of every cluster, shared by the poller (writer) and
/// the pages and API (readers).
#[derive(Clone, Debug, Default)]
pub struct FleetStatus {
    inner: Arc<RwLock<HashMap<String, Snapshot>>>,
    wake: Arc<Notify>,
}

impl FleetStatus {
    pub fn get(&self, name: &str) -> ClusterStatus {
        self.read()
            .get(name)
            .map(|s| s.status.clone())
            .unwrap_or_default()
    }

    /// The cluster page's view: the status plus members, ring and jobs.
    pub fn detail(&self, view: ClusterView) -> ClusterDetail {
        let map = self.read();
        let snapshot = map.get(&view.cluster.name);
        ClusterDetail {
            workers: snapshot.map(|s| s.workers.clone()).unwrap_or_default(),
            ring: snapshot.and_then(|s| s.ring.clone()),
            jobs: snapshot.map(|s| s.jobs.clone()).unwrap_or_default(),
            lifecycle: snapshot.and_then(|s| s.lifecycle.clone()),
            view,
        }
    }

    /// Asks the poller to start a round now, e.g. after a registration, so a
    /// new cluster shows its state without waiting a whole interval.
    pub fn poll_now(&self) {
        self.wake.notify_one();
    }

    /// Drops what is known of a cluster; with `poll_now`, after an edit, it
    /// is asked again at once rather than after its backoff.
    pub fn forget(&self, name: &str) {
        self.write().remove(name);
    }

    fn due(&self, name: &str, now: DateTime<Utc>) -> bool {
        self.read()
            .get(name)
            .and_then(|s| s.status.next_check_at)
            .is_none_or(|next| next <= now)
    }

    /// A poll that reached the coordinator, answered at `now` in the round
    /// that started at `round`. The next poll is scheduled from the round's
    /// start, so the next round, an interval later, finds it due.
    fn record_up(&self, name: &str, poll: Poll, at: When, config: &PollerConfig) {
        let now = at.now;
        let mut map = self.write();
        let snapshot = map.entry(name.to_string()).or_default();
        let previous = snapshot.status.checked_at;
        let workers = poll.workers.unwrap_or_else(|| snapshot.workers.clone());
        let ring = poll.ring.or_else(|| snapshot.ring.clone());
        let jobs = poll.jobs.unwrap_or_else(|| snapshot.jobs.clone());
        let license = poll.license.or_else(|| snapshot.status.license.clone());
        if let Some(lifecycle) = poll.lifecycle {
            snapshot.status.phase = Some(lifecycle.phase);
            snapshot.lifecycle = Some(lifecycle);
        }
        let (health, mut reasons) = health::assess(&Observation {
            workers: &workers,
            ring: ring.as_ref(),
            jobs: &jobs,
            errors: &poll.errors,
            since: previous,
        });
        // A license that needs an operator degrades the cluster: expiry
        // near, a limit nearly reached, expired or invalid.
        let license_alerts = license.as_ref().map(licenses::alerts).unwrap_or_default();
        let health = if license_alerts.is_empty() {
            health
        } else {
            Health::Degraded
        };
        reasons.extend(license_alerts);
        let status = &mut snapshot.status;
        transition(status, health, now);
        status.reasons = reasons;
        status.license = license;
        status.checked_at = Some(now);
        status.next_check_at = Some(at.round + chrono_duration(config.interval));
        status.failures = 0;
        status.version = Some(poll.info.version);
        status.cluster_id = Some(poll.info.id);
        status.last_error = None;
        status.workers_total = count(workers.len());
        status.workers_online = count(
            workers
                .iter()
                .filter(|w| w.state == WorkerState::Online)
                .count(),
        );
        status.running_jobs = count(
            jobs.iter()
                .filter(|j| matches!(j.state, JobState::Running | JobState::Verifying))
                .count(),
        );
        if let Some(metrics) = poll.metrics {
            status.capacity_bytes = metrics.capacity_bytes;
            status.used_bytes = metrics.used_bytes;
            let (cache, ufs) = snapshot.metrics.map_or((0, 0), |before| {
                (
                    history::counter_delta(before.cache_read_bytes, metrics.cache_read_bytes),
                    history::counter_delta(before.ufs_read_bytes, metrics.ufs_read_bytes),
                )
            });
            status.interval_cache_bytes = cache;
            status.interval_ufs_bytes = ufs;
            status.hit_ratio = history::hit_ratio(cache, ufs);
            snapshot.metrics = Some(metrics);
        }
        snapshot.workers = workers;
        snapshot.ring = ring;
        snapshot.jobs = jobs;
    }

    /// A poll that did not reach the coordinator: what was known stays, so
    /// the page still shows the last members and version.
    fn record_down(&self, name: &str, error: String, at: When, config: &PollerConfig) {
        let now = at.now;
        let mut map = self.write();
        let status = &mut map.entry(name.to_string()).or_default().status;
        transition(status, Health::Unreachable, now);
        status.reasons.clear();
        status.checked_at = Some(now);
        status.failures = status.failures.saturating_add(1);
        status.next_check_at = Some(at.round + chrono_duration(backoff(config, status.failures)));
        status.last_error = Some(error);
        status.hit_ratio = None;
    }

    /// The sample to keep in the metrics history, for a cluster just polled.
    fn sample(&self, name: &str, at: DateTime<Utc>) -> Option<Sample> {
        let map = self.read();
        let s = map.get(name)?;
        let metrics = s.metrics?;
        Some(Sample {
            at,
            cache_read_bytes: metrics.cache_read_bytes,
            ufs_read_bytes: metrics.ufs_read_bytes,
            capacity_bytes: metrics.capacity_bytes,
            used_bytes: metrics.used_bytes,
            workers_online: s.status.workers_online,
            workers_total: s.status.workers_total,
            running_jobs: s.status.running_jobs,
        })
    }

    /// A poisoned lock only means a reader panicked mid-read; the map itself
    /// is still whole, so keep serving it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Snapshot>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Snapshot>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// When a poll answered, and when the round it belongs to started.
#[derive(Clone, Copy, Debug)]
struct When {
    now: DateTime<Utc>,
    round: DateTime<Utc>,
}

fn transition(status: &mut ClusterStatus, health: Health, now: DateTime<Utc>) {
    if status.health != health {
        status.health = health;
        status.since = Some(now);
    }
}

/// The wait before the next poll after `failures` failed ones in a row:
/// the interval, doubled with each further failure, up to the ceiling.
fn backoff(config: &PollerConfig, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    config
        .interval
        .saturating_mul(1 << doublings)
        .min(config.max_backoff.max(config.interval))
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What one poll of a reachable coordinator brought back; a part that
/// failed is `None` and its error is in `errors`.
struct Poll {
    info: ClusterInfo,
    workers: Option<Vec<WorkerView>>,
    ring: Option<RingSpec>,
    jobs: Option<Vec<JobView>>,
    metrics: Option<ClusterMetrics>,
    license: Option<LicenseStatus>,
    lifecycle: Option<LifecycleStatus>,
    errors: Vec<String>,
}

/// Polls forever; spawn it on the runtime.
pub async fn run(store: Store, fleet: FleetStatus, key: SecretKey, config: PollerConfig) {
    let mut clients = Clients::default();
    let mut last_rollup = Utc::now();
    loop {
        let started = tokio::time::Instant::now();
        match store.list_clusters().await {
            Ok(clusters) => {
                let now = Utc::now();
                let due: Vec<Remote> = clusters
                    .into_iter()
                    .filter(|c| fleet.due(&c.cluster.name, now))
                    .map(|c| Remote::new(c, &key, &mut clients, config.timeout))
                    .collect();
                let asked = due.len();
                let round = std::time::Instant::now();
                let polled = poll_round(&fleet, due, now, &config).await;
                tracing::debug!(
                    clusters = asked,
                    answered = polled.len(),
                    elapsed_ms = round.elapsed().as_millis() as u64,
                    "poll round"
                );
                let samples: Vec<(String, Sample)> = polled
                    .into_iter()
                    .filter_map(|(name, at)| fleet.sample(&name, at).map(|s| (name, s)))
                    .collect();
                if let Err(error) = store.record_samples(&samples).await {
                    tracing::warn!(%error, "cannot record metrics samples");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list clusters to poll"),
        }
        let now = Utc::now();
        if now - last_rollup >= chrono::Duration::minutes(1) {
            last_rollup = now;
            if let Err(error) = store.roll_up(now).await {
                tracing::warn!(%error, "cannot roll up the metrics history");
            }
            if let Err(error) = store.prune(now, &config.retention).await {
                tracing::warn!(%error, "cannot prune the metrics history");
            }
        }
        let next = started + config.interval;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = fleet.wake.notified() => {}
        }
    }
}

/// A cluster's properties, fetched now: drift is asked for rarely and must
/// be current, so it is not part of every poll.
pub async fn fetch_properties(
    stored: StoredCluster,
    key: &SecretKey,
    timeout: Duration,
) -> Result<Vec<ringside_api::PropertyView>, String> {
    Remote::new(stored, key, &mut Clients::default(), timeout)
        .json("/properties")
        .await
}

/// Asks one coordinator for everything a poll records, one request after
/// another so that they share one kept-alive connection. Asked all at once
/// they kept six per cluster open between rounds, and at 1,000 clusters
/// those 6,000 connections' read buffers, each grown to fit `/metrics`,
/// held 140 MiB of the console (docs/benchmarks.md, "Console at fleet
/// scale"); the clusters polled at once make up for the lost overlap.
async fn poll(target: &Remote) -> Result<Poll, String> {
    let info = target.json::<ClusterInfo>("/info").await?;
    let workers = target.json::<Vec<WorkerView>>("/workers").await;
    let ring = target.json::<RingSpec>("/ring").await;
    let jobs = target.json::<Vec<JobView>>("/jobs").await;
    let license = target.json::<LicenseStatus>("/license").await;
    let lifecycle = target.json::<LifecycleStatus>("/lifecycle").await;
    let metrics = async {
        let text = target
            .get("/metrics")
            .await?
            .text()
            .await
            .map_err(describe)?;
        scrape::parse(&text)
    }
    .await;
    let mut errors = Vec::new();
    let workers = keep(&mut errors, "members", workers);
    let ring = keep(&mut errors, "ring", ring);
    let jobs = keep(&mut errors, "jobs", jobs);
    let metrics = keep(&mut errors, "metrics", metrics);
    let license = keep(&mut errors, "license", license);
    let lifecycle = keep(&mut errors, "lifecycle", lifecycle);
    Ok(Poll {
        info,
        workers,
        ring,
        jobs,
        metrics,
        license,
        lifecycle,
        errors,
    })
}

/// The value of a part of a poll, or none with its error noted.
fn keep<T>(errors: &mut Vec<String>, what: &str, part: Result<T, String>) -> Option<T> {
    part.map_err(|e| errors.push(format!("{what}: {e}"))).ok()
}

/// Polls `targets`, a bounded number at once; answers the names of those
/// that answered, with when.
async fn poll_round(
    fleet: &FleetStatus,
    targets: Vec<Remote>,
    round: DateTime<Utc>,
    config: &PollerConfig,
) -> Vec<(String, DateTime<Utc>)> {
    stream::iter(targets)
        .map(|target| async move {
            let outcome = poll(&target).await;
            let now = Utc::now();
            let at = When { now, round };
            match outcome {
                Ok(poll) => {
                    fleet.record_up(&target.name, poll, at, config);
                    Some((target.name, now))
                }
                Err(error) => {
                    tracing::debug!(cluster = %target.name, %error, "cluster unreachable");
                    fleet.record_down(&target.name, error, at, config);
                    None
                }
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .filter_map(|x| async move { x })
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PollerConfig {
        PollerConfig {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(3),
            concurrency: 4,
            max_backoff: Duration::from_secs(300),
            retention: Retention::default(),
        }
    }

    fn at(t: DateTime<Utc>) -> When {
        When { now: t, round: t }
    }

    fn poll(version: &str) -> Poll {
        Poll {
            info: ClusterInfo {
                name: "a".into(),
                id: "id".into(),
                version: version.into(),
                started_at: Utc::now(),
            },
            workers: Some(vec![]),
            ring: None,
            jobs: Some(vec![]),
            metrics: Some(ClusterMetrics {
                cache_read_bytes: 300,
                ufs_read_bytes: 100,
                capacity_bytes: 1000,
                used_bytes: 10,
            }),
            license: None,
            lifecycle: None,
            errors: vec![],
        }
    }

    #[test]
    fn since_changes_only_on_transitions_and_what_was_known_stays() {
        let fleet = FleetStatus::default();
        let config = config();
        let t0 = Utc::now();
        assert_eq!(fleet.get("a").health, Health::Unknown);
        fleet.record_up("a", poll("1.2.3"), at(t0), &config);
        let first = fleet.get("a");
        assert_eq!(first.health, Health::Degraded, "no workers have joined");
        assert_eq!(first.version.as_deref(), Some("1.2.3"));
        assert_eq!(first.hit_ratio, None, "one scrape gives no interval");
        let mut second = poll("1.2.3");
        second.metrics = Some(ClusterMetrics {
            cache_read_bytes: 600,
            ufs_read_bytes: 200,
            ..second.metrics.unwrap()
        });
        fleet.record_up("a", second, at(t0 + chrono::Duration::seconds(10)), &config);
        let again = fleet.get("a");
        assert_eq!(again.since, first.since);
        assert_eq!(again.hit_ratio, Some(0.75));
        fleet.record_down("a", "connection refused".into(), at(t0), &config);
        let down = fleet.get("a");
        assert_eq!(down.health, Health::Unreachable);
        assert_eq!(down.last_error.as_deref(), Some("connection refused"));
        assert_eq!(
            down.version.as_deref(),
            Some("1.2.3"),
            "last known version is kept"
        );
        assert_eq!(down.failures, 1);
        fleet.forget("a");
        assert_eq!(fleet.get("a").health, Health::Unknown);
    }

    #[test]
    fn an_unreachable_cluster_is_asked_less_and_less_often() {
        let config = config();
        let waits: Vec<u64> = (1..=8).map(|n| backoff(&config, n).as_secs()).collect();
        assert_eq!(waits, vec![10, 20, 40, 80, 160, 300, 300, 300]);
        let fleet = FleetStatus::default();
        let t0 = Utc::now();
        fleet.record_down("a", "refused".into(), at(t0), &config);
        fleet.record_down("a", "refused".into(), at(t0), &config);
        assert!(!fleet.due("a", t0 + chrono::Duration::seconds(19)));
        assert!(fleet.due("a", t0 + chrono::Duration::seconds(20)));
        assert!(fleet.due("never-polled", t0));
        // Scheduled from the round's start: a poll that answers late in its
        // round is still due when the next round starts an interval later.
        let late = When {
            now: t0 + chrono::Duration::seconds(3),
            round: t0,
        };
        fleet.record_up("b", poll("1"), late, &config);
        assert!(fleet.due("b", t0 + chrono::Duration::seconds(10)));
        assert_eq!(backoff(&config, u32::MAX).as_secs(), 300);
    }
}
