//! What a worker exports at `/metrics`: its reads, its UFS errors and its
//! page store.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};
use ringside_pagestore::{Stats, TenantStats};

use crate::metrics::{HttpMetrics, counter, counter_vec, gauge, gauge_vec, set_counter};

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
    disk_hits: IntCounter,
    expired_pages: IntCounter,
    tenant_used: IntGaugeVec,
    tenant_pages: IntGaugeVec,
    tenant_quota: IntGaugeVec,
    tenant_quota_evicted: IntCounterVec,
    tenant_expired: IntCounterVec,
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
            disk_hits: counter(
                &r,
                "ringside_worker_pagestore_disk_hits_total",
                "Cached pages read from the disk because the OS page cache did not hold them",
            ),
            expired_pages: counter(
                &r,
                "ringside_worker_pagestore_expired_pages_total",
                "Pages removed because they outlived their tenant's TTL",
            ),
            tenant_used: gauge_vec(
                &r,
                "ringside_worker_tenant_used_bytes",
                "Bytes of cached pages of each tenant",
                &["tenant"],
            ),
            tenant_pages: gauge_vec(
                &r,
                "ringside_worker_tenant_pages",
                "Cached pages of each tenant",
                &["tenant"],
            ),
            tenant_quota: gauge_vec(
                &r,
                "ringside_worker_tenant_quota_bytes",
                "Quota of each tenant that has one",
                &["tenant"],
            ),
            tenant_quota_evicted: counter_vec(
                &r,
                "ringside_worker_tenant_quota_evicted_bytes_total",
                "Bytes of a tenant evicted because it was over its quota",
                &["tenant"],
            ),
            tenant_expired: counter_vec(
                &r,
                "ringside_worker_tenant_expired_bytes_total",
                "Bytes of a tenant removed because they outlived its TTL",
                &["tenant"],
            ),
            registry: r,
        }
    }

    /// Mirrors each tenant's holdings; a removed tenant's series go away.
    pub fn observe_tenants(&self, tenants: &[TenantStats]) {
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for vec in [&self.tenant_used, &self.tenant_pages, &self.tenant_quota] {
            vec.reset();
        }
        self.tenant_quota_evicted.reset();
        self.tenant_expired.reset();
        for t in tenants {
            let name = [t.name.as_str()];
            self.tenant_used
                .with_label_values(&name)
                .set(signed(t.used_bytes));
            self.tenant_pages
                .with_label_values(&name)
                .set(signed(t.pages));
            if let Some(quota) = t.quota_bytes {
                self.tenant_quota
                    .with_label_values(&name)
                    .set(signed(quota));
            }
            self.tenant_quota_evicted
                .with_label_values(&name)
                .inc_by(t.quota_evicted_bytes_total);
            self.tenant_expired
                .with_label_values(&name)
                .inc_by(t.expired_bytes_total);
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
        set_counter(&self.disk_hits, stats.disk_hits_total);
        set_counter(&self.expired_pages, stats.expired_pages_total);
    }
}
