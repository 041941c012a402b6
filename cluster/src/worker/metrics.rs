//! What a worker exports at `/metrics`: its reads, its UFS errors and its
//! page store.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};
use ringside_pagestore::Stats;

use crate::metrics::{HttpMetrics, counter, counter_vec, gauge, set_counter};

#[derive(Clone)]
pub struct WorkerMetrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    pub bytes_read_cache: IntCounter,
    pub bytes_read_ufs: IntCounter,
    pub ufs_errors: IntCounterVec,
    pub cache_write_failures: IntCounter,
    pub cache_puts_rejected: IntCounter,
    used: IntGauge,
    capacity: IntGauge,
    pages: IntGauge,
    evictions: IntCounter,
    checksum_failures: IntCounter,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerMetrics")
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    pub fn new() -> WorkerMetrics {
        let r = Registry::new();
        WorkerMetrics {
            http: HttpMetrics::register(&r),
            bytes_read_cache: counter(
                &r,
                "ringside_worker_bytes_read_cache_total",
                "Bytes served from the page store",
            ),
            bytes_read_ufs: counter(
                &r,
                "ringside_worker_bytes_read_ufs_total",
                "Bytes read from the UFS on a cache miss",
            ),
            ufs_errors: counter_vec(
                &r,
                "ringside_worker_ufs_errors_total",
                "UFS operations that failed, by error code",
                &["code"],
            ),
            cache_write_failures: counter(
                &r,
                "ringside_worker_cache_write_failures_total",
                "Pages read from the UFS that could not be cached (the read still succeeded)",
            ),
            cache_puts_rejected: counter(
                &r,
                "ringside_worker_cache_puts_rejected_total",
                "Pages read from the UFS and not cached because the write-behind queue was full (the read still succeeded)",
            ),
            used: gauge(
                &r,
                "ringside_worker_pagestore_used_bytes",
                "Bytes of cached pages",
            ),
            capacity: gauge(
                &r,
                "ringside_worker_pagestore_capacity_bytes",
                "Page store capacity",
            ),
            pages: gauge(&r, "ringside_worker_pagestore_pages", "Cached pages"),
            evictions: counter(
                &r,
                "ringside_worker_pagestore_evictions_total",
                "Pages evicted to make room",
            ),
            checksum_failures: counter(
                &r,
                "ringside_worker_pagestore_checksum_failures_total",
                "Pages whose checksum failed on read; dropped and refetched",
            ),
            registry: r,
        }
    }

    /// Mirrors the page store's own counters, at scrape time.
    pub fn observe(&self, stats: &Stats) {
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.used.set(signed(stats.used_bytes));
        self.capacity.set(signed(stats.capacity_bytes));
        self.pages.set(signed(stats.pages));
        set_counter(&self.evictions, stats.evictions_total);
        set_counter(&self.checksum_failures, stats.checksum_failures_total);
    }
}
