//! What the coordinator exports at `/metrics`: the cluster as a whole.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use prometheus::{IntCounter, IntGauge, IntGaugeVec, Opts, Registry};
use ringside_api::{
    WorkerState, WorkerView,
    job::{JobState, JobType},
};

use crate::metrics::{HttpMetrics, counter, gauge};

#[derive(Clone)]
pub struct CoordinatorMetrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    workers: IntGaugeVec,
    jobs: IntGaugeVec,
    ring_epoch: IntGauge,
    capacity: IntGauge,
    used: IntGauge,
    pages: IntGauge,
    cache_reads: IntCounter,
    ufs_reads: IntCounter,
    reads: Arc<Mutex<ReadTotals>>,
}

impl std::fmt::Debug for CoordinatorMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatorMetrics")
    }
}

impl Default for CoordinatorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl CoordinatorMetrics {
    pub fn new() -> CoordinatorMetrics {
        let registry = Registry::new();
        let workers = IntGaugeVec::new(
            Opts::new(
                "ringside_workers",
                "Workers known to the coordinator, by state",
            ),
            &["state"],
        )
        .expect("static metric definition");
        let jobs = IntGaugeVec::new(
            Opts::new(
                "ringside_jobs",
                "Jobs in the coordinator's metastore, by type and state",
            ),
            &["type", "state"],
        )
        .expect("static metric definition");
        for vec in [&workers, &jobs] {
            registry
                .register(Box::new(vec.clone()))
                .expect("metric registered once");
        }
        CoordinatorMetrics {
            http: HttpMetrics::register(&registry),
            ring_epoch: gauge(
                &registry,
                "ringside_ring_epoch",
                "Epoch of the hash ring; moves on every membership change",
            ),
            capacity: gauge(
                &registry,
                "ringside_cluster_pagestore_capacity_bytes",
                "Page store capacity of all ONLINE workers",
            ),
            used: gauge(
                &registry,
                "ringside_cluster_pagestore_used_bytes",
                "Bytes cached by all ONLINE workers",
            ),
            pages: gauge(
                &registry,
                "ringside_cluster_pagestore_pages",
                "Pages cached by all ONLINE workers",
            ),
            cache_reads: counter(
                &registry,
                "ringside_cluster_bytes_read_cache_total",
                "Bytes the workers served from their page stores, summed over the workers' reports since this coordinator started",
            ),
            ufs_reads: counter(
                &registry,
                "ringside_cluster_bytes_read_ufs_total",
                "Bytes the workers read from the UFS, summed over the workers' reports since this coordinator started",
            ),
            reads: Arc::default(),
            workers,
            jobs,
            registry,
        }
    }

    pub fn observe(&self, workers: &[WorkerView], epoch: u64) {
        let online: Vec<_> = workers
            .iter()
            .filter(|w| w.state == WorkerState::Online)
            .collect();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let sum = |f: fn(&WorkerView) -> u64| {
            i64::try_from(online.iter().map(|w| f(w)).sum::<u64>()).unwrap_or(i64::MAX)
        };
        self.workers
            .with_label_values(&["ONLINE"])
            .set(count(online.len()));
        self.workers
            .with_label_values(&["OFFLINE"])
            .set(count(workers.len() - online.len()));
        self.ring_epoch
            .set(i64::try_from(epoch).unwrap_or(i64::MAX));
        self.capacity.set(sum(|w| w.heartbeat.capacity_bytes));
        self.used.set(sum(|w| w.heartbeat.used_bytes));
        self.pages.set(sum(|w| w.heartbeat.pages));
        let (cache, ufs) = self
            .reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .advance(workers);
        self.cache_reads.inc_by(cache);
        self.ufs_reads.inc_by(ufs);
    }
}

impl CoordinatorMetrics {
    /// Sets the job gauges from `(type, state, count)`; every pair not
    /// given is 0, so a state that empties shows 0 rather than its last count.
    pub fn observe_jobs(&self, counts: &[(JobType, JobState, u64)]) {
        for job_type in JobType::ALL {
            for state in JobState::ALL {
                let n = counts
                    .iter()
                    .find(|(t, s, _)| *t == job_type && *s == state)
                    .map_or(0, |(_, _, n)| *n);
                self.jobs
                    .with_label_values(&[job_type.as_str(), state.as_str()])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }
}

/// Turns the workers' own read counters, which restart at 0 with each
/// worker, into cluster-wide counters that only grow: each report adds what
/// the worker read since its previous one. A worker seen for the first time
/// (also after a coordinator restart) only sets the baseline, so reads from
/// before this coordinator started are not counted twice.
#[derive(Debug, Default)]
struct ReadTotals {
    last: HashMap<String, (u64, u64)>,
}

impl ReadTotals {
    /// The bytes read from cache and from the UFS since the last call.
    fn advance(&mut self, workers: &[WorkerView]) -> (u64, u64) {
        let delta = |now: u64, before: u64| if now >= before { now - before } else { now };
        let mut added = (0u64, 0u64);
        for w in workers {
            let now = (w.heartbeat.cache_read_bytes, w.heartbeat.ufs_read_bytes);
            if let Some(before) = self.last.insert(w.heartbeat.id.clone(), now) {
                added.0 = added.0.saturating_add(delta(now.0, before.0));
                added.1 = added.1.saturating_add(delta(now.1, before.1));
            }
        }
        self.last
            .retain(|id, _| workers.iter().any(|w| w.heartbeat.id == *id));
        added
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use ringside_api::WorkerHeartbeat;

    use super::*;

    fn worker(id: &str, cache: u64, ufs: u64) -> WorkerView {
        WorkerView {
            heartbeat: WorkerHeartbeat {
                id: id.into(),
                address: String::new(),
                s3_address: String::new(),
                capacity_bytes: 0,
                used_bytes: 0,
                pages: 0,
                version: String::new(),
                cache_read_bytes: cache,
                ufs_read_bytes: ufs,
            },
            state: WorkerState::Online,
            last_heartbeat: Utc::now(),
            registered_at: Utc::now(),
        }
    }

    #[test]
    fn cluster_reads_grow_by_what_each_worker_read() {
        let mut totals = ReadTotals::default();
        assert_eq!(totals.advance(&[worker("a", 100, 10)]), (0, 0), "baseline");
        assert_eq!(
            totals.advance(&[worker("a", 150, 10), worker("b", 7, 3)]),
            (50, 0),
            "a newcomer only sets its baseline"
        );
        assert_eq!(
            totals.advance(&[worker("a", 20, 5), worker("b", 9, 3)]),
            (22, 5),
            "a restarted worker counts from 0 again"
        );
        assert_eq!(totals.advance(&[worker("b", 9, 3)]), (0, 0));
        assert_eq!(
            totals.advance(&[worker("a", 30, 5), worker("b", 10, 3)]),
            (1, 0),
            "a removed worker that comes back starts a new baseline"
        );
    }
}
