-- Metrics history scraped from every cluster's coordinator. Times are Unix
-- milliseconds, as in clusters. Counters are cumulative, so a rate is the
-- difference between two rows; gauges are read as they are.
--
-- Rows are appended in time order, so the heap is already clustered by
-- time for fleet charts and pruning, through the time index; a cluster's
-- own chart, and finding a minute's last sample, use the primary key.
--
-- Raw samples, one per cluster per poll, kept for the raw retention (a day).
CREATE TABLE metric_samples (
    cluster TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    cache_read_bytes BIGINT NOT NULL,
    ufs_read_bytes BIGINT NOT NULL,
    capacity_bytes BIGINT NOT NULL,
    used_bytes BIGINT NOT NULL,
    workers_online BIGINT NOT NULL,
    workers_total BIGINT NOT NULL,
    running_jobs BIGINT NOT NULL,
    PRIMARY KEY (cluster, at_ms)
);
CREATE INDEX metric_samples_at ON metric_samples (at_ms);

-- One row per cluster per minute, kept for the rollup retention (a month).
-- Counters keep the minute's last value and when it was taken, so rates
-- from consecutive rollups equal rates from the raw samples they replace.
-- Gauges are averages, which are not integers, hence DOUBLE PRECISION;
-- `sample_count` weights them when minutes are merged into longer steps.
CREATE TABLE metric_rollups (
    cluster TEXT NOT NULL,
    minute_ms BIGINT NOT NULL,
    sample_count BIGINT NOT NULL,
    last_at_ms BIGINT NOT NULL,
    cache_read_bytes BIGINT NOT NULL,
    ufs_read_bytes BIGINT NOT NULL,
    capacity_bytes DOUBLE PRECISION NOT NULL,
    used_bytes DOUBLE PRECISION NOT NULL,
    used_bytes_max BIGINT NOT NULL,
    workers_online DOUBLE PRECISION NOT NULL,
    workers_total DOUBLE PRECISION NOT NULL,
    running_jobs DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (cluster, minute_ms)
);
CREATE INDEX metric_rollups_minute ON metric_rollups (minute_ms);
