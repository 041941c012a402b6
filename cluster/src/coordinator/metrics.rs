//! What the coordinator exports at `/metrics`: the cluster as a whole.

use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};
use ringside_api::{
    WorkerState, WorkerView,
    job::{JobState, JobType},
};

use crate::metrics::{HttpMetrics, gauge};

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
