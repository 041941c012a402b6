//! Metrics history: samples scraped from every cluster, kept raw for a day
//! and as one-minute rollups for a month, and the series the console charts
//! from them.
//!
//! Cache and UFS bytes are cumulative counters, so a rate is a counter's
//! growth between two readings over the time between them; a counter that
//! went down was reset by a worker restart and has counted from zero since,
//! so its new value is its growth ([`counter_delta`]). Rollups keep each
//! minute's last counter reading and when it was taken, which makes rates
//! from rollups equal the rates raw samples give at a minute's step or more.
//!
//! A series is cut into buckets of one step aligned to the Unix epoch, so
//! the same chart asked twice has the same buckets. The bucketing runs in
//! SQL so a day of a thousand clusters never comes into memory: gauges are
//! averaged per cluster and bucket and summed over clusters in the database,
//! one row per bucket; counters come back as each cluster's last reading in
//! each bucket, and are diffed here, per cluster, because a reset is only
//! visible per cluster and a fleet's hit ratio must come from its summed
//! bytes rather than an average of the clusters' ratios.
//!
//! Where a series reads from: with a step of a minute or more, from rollups
//! for the buckets that end by the newest rolled-up minute and from raw
//! samples after it, so a chart is as fresh as the last poll while long
//! ranges scan a sixth of the rows. Shorter steps need raw samples, unless
//! raw no longer reaches back to the range while rollups do; the step is
//! then raised to a minute rather than answering with nothing.
//!
//! At a thousand clusters a fleet chart of a day still scans 1.44 M rollup
//! rows, a few seconds on two cores; a month would want a coarser tier.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_query::{Expr, ExprTrait, Func, Iden, OnConflict, Order, Query, SelectStatement};
use sea_query_sqlx::SqlxBinder;
use sqlx::AssertSqlSafe;

use crate::store::{Store, StoreError, build_each, on_backend};

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Steps a time axis reads well at, none below the default poll interval;
/// beyond a day a step is a whole number of days. Every step of a minute or
/// more is a whole number of minutes, so rollups fill its buckets exactly.
const STEPS_MS: [i64; 17] = [
    10 * SECOND_MS,
    15 * SECOND_MS,
    20 * SECOND_MS,
    30 * SECOND_MS,
    MINUTE_MS,
    2 * MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    20 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
];

/// Nine values a row keeps a thousand-row statement well under SQLite's
/// limit of 32,766 bound parameters.
const ROWS_PER_INSERT: usize = 1_000;

/// What one poll read from one cluster's coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Cumulative: bytes served from cache, cluster-wide.
    pub cache_read_bytes: u64,
    /// Cumulative: bytes read from the UFS, cluster-wide.
    pub ufs_read_bytes: u64,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub workers_online: u32,
    pub workers_total: u32,
    pub running_jobs: u32,
}

/// How long history is kept: raw samples, and one-minute rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw: Duration,
    pub rollups: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Duration::from_secs(24 * 3600),
            rollups: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Whose history a series shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Cluster(String),
    /// Every cluster together: gauges and traffic summed.
    Fleet,
}

/// A series the console charts, derived from the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cache bytes over all bytes read in each step; no point without reads.
    HitRatio,
    /// Bytes per second served from cache.
    CacheReadRate,
    /// Bytes per second read from the UFS.
    UfsReadRate,
    CapacityBytes,
    /// The average used bytes over each step.
    UsedBytes,
    /// The most used bytes seen in each step (summed over a fleet).
    UsedBytesPeak,
    WorkersOnline,
    WorkersTotal,
    RunningJobs,
}

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub samples: u64,
    pub rollups: u64,
}

/// A cluster's traffic between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub cache_read_per_sec: f64,
    pub ufs_read_per_sec: f64,
    /// None when nothing was read.
    pub hit_ratio: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("empty time range: from {from} is not before to {to}")]
    EmptyRange {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("no points asked for: expected at least 1")]
    NoPoints,
    #[error(
        "{field} of cluster {cluster:?} is {value}, more than the store holds ({})",
        i64::MAX
    )]
    OutOfRange {
        cluster: String,
        field: &'static str,
        value: u64,
    },
    #[error("cannot build a history query: {0}")]
    Query(#[from] sea_query::error::Error),
}

impl From<sqlx::Error> for HistoryError {
    fn from(error: sqlx::Error) -> Self {
        HistoryError::Store(error.into())
    }
}

/// How much a cumulative counter grew between two readings. A counter that
/// went down was reset, and has counted from zero since.
pub fn counter_delta(earlier: u64, later: u64) -> u64 {
    later.checked_sub(earlier).unwrap_or(later)
}

/// Bytes per second for `delta` bytes over `interval_ms`; none when the
/// interval is not positive, as two readings at one instant say nothing.
pub fn rate(delta: u64, interval_ms: i64) -> Option<f64> {
    (interval_ms > 0).then(|| delta as f64 * 1000.0 / interval_ms as f64)
}

/// The share of bytes read that came from cache; none without reads, where
/// a ratio of 0 would wrongly say the cache missed everything.
pub fn hit_ratio(cache_delta: u64, ufs_delta: u64) -> Option<f64> {
    let total = cache_delta as f64 + ufs_delta as f64;
    (total > 0.0).then(|| cache_delta as f64 / total)
}

impl Rates {
    /// Traffic from `earlier` to `later`; none unless `later` is later.
    pub fn between(earlier: &Sample, later: &Sample) -> Option<Rates> {
        let interval_ms = (later.at - earlier.at).num_milliseconds();
        let cache = counter_delta(earlier.cache_read_bytes, later.cache_read_bytes);
        let ufs = counter_delta(earlier.ufs_read_bytes, later.ufs_read_bytes);
        Some(Rates {
            cache_read_per_sec: rate(cache, interval_ms)?,
            ufs_read_per_sec: rate(ufs, interval_ms)?,
            hit_ratio: hit_ratio(cache, ufs),
        })
    }
}

/// The step for `points` buckets over `span_ms`: the smallest readable step
/// that `points` steps cover the span with.
fn step_for(span_ms: i64, points: usize) -> i64 {
    let span = u64::try_from(Ord::max(span_ms, 1)).unwrap_or(1);
    let points = u64::try_from(Ord::max(points, 1)).unwrap_or(u64::MAX);
    let wanted = i64::try_from(span.div_ceil(points)).unwrap_or(i64::MAX);
    STEPS_MS
        .iter()
        .copied()
        .find(|&step| step >= wanted)
        .unwrap_or_else(|| {
            let days = wanted / DAY_MS + i64::from(wanted % DAY_MS != 0);
            days.saturating_mul(DAY_MS)
        })
}

/// Both tables and their columns; the gauge columns carry the same names in
/// both, which lets one query shape read either.
#[derive(Iden, Clone, Copy)]
enum Col {
    #[iden = "metric_samples"]
    RawTable,
    #[iden = "metric_rollups"]
    RollupTable,
    Cluster,
    AtMs,
    MinuteMs,
    SampleCount,
    LastAtMs,
    CacheReadBytes,
    UfsReadBytes,
    CapacityBytes,
    UsedBytes,
    UsedBytesMax,
    WorkersOnline,
    WorkersTotal,
    RunningJobs,
}

const SAMPLE_COLUMNS: [Col; 9] = [
    Col::Cluster,
    Col::AtMs,
    Col::CacheReadBytes,
    Col::UfsReadBytes,
    Col::CapacityBytes,
    Col::UsedBytes,
    Col::WorkersOnline,
    Col::WorkersTotal,
    Col::RunningJobs,
];

#[derive(Clone, Copy)]
enum Source {
    Raw,
    Rollups,
}

impl Source {
    fn table(self) -> Col {
        match self {
            Source::Raw => Col::RawTable,
            Source::Rollups => Col::RollupTable,
        }
    }

    /// The column buckets are cut on.
    fn time(self) -> Col {
        match self {
            Source::Raw => Col::AtMs,
            Source::Rollups => Col::MinuteMs,
        }
    }

    /// When the counters in a row were read.
    fn read_at(self) -> Col {
        match self {
            Source::Raw => Col::AtMs,
            Source::Rollups => Col::LastAtMs,
        }
    }

    /// A gauge over one cluster's rows in a bucket. Rollup averages are
    /// weighted by their sample counts, so a step of several minutes
    /// averages the same samples raw rows would.
    fn gauge(self, gauge: Gauge) -> Expr {
        match (self, gauge) {
            (Source::Raw, Gauge::Mean(col)) => as_double(Func::avg(Expr::col(col))),
            (Source::Raw, Gauge::Peak) => as_double(Func::max(Expr::col(Col::UsedBytes))),
            (Source::Rollups, Gauge::Mean(col)) => {
                as_double(Func::sum(Expr::col(col).mul(Expr::col(Col::SampleCount))))
                    .div(as_double(Func::sum(Expr::col(Col::SampleCount))))
            }
            (Source::Rollups, Gauge::Peak) => as_double(Func::max(Expr::col(Col::UsedBytesMax))),
        }
    }
}

/// PostgreSQL answers SUM and AVG of BIGINT as NUMERIC, which decodes to no
/// float; a cast gives both backends one type.
fn as_double(expr: impl Into<Expr>) -> Expr {
    Func::cast_as(expr, "DOUBLE PRECISION").into()
}

#[derive(Clone, Copy)]
enum Gauge {
    Mean(Col),
    Peak,
}

#[derive(Clone, Copy)]
enum Counter {
    HitRatio,
    CacheReadRate,
    UfsReadRate,
}

enum Kind {
    Counter(Counter),
    Gauge(Gauge),
}

impl Metric {
    fn kind(self) -> Kind {
        match self {
            Metric::HitRatio => Kind::Counter(Counter::HitRatio),
            Metric::CacheReadRate => Kind::Counter(Counter::CacheReadRate),
            Metric::UfsReadRate => Kind::Counter(Counter::UfsReadRate),
            Metric::CapacityBytes => Kind::Gauge(Gauge::Mean(Col::CapacityBytes)),
            Metric::UsedBytes => Kind::Gauge(Gauge::Mean(Col::UsedBytes)),
            Metric::UsedBytesPeak => Kind::Gauge(Gauge::Peak),
            Metric::WorkersOnline => Kind::Gauge(Gauge::Mean(Col::WorkersOnline)),
            Metric::WorkersTotal => Kind::Gauge(Gauge::Mean(Col::WorkersTotal)),
            Metric::RunningJobs => Kind::Gauge(Gauge::Mean(Col::RunningJobs)),
        }
    }
}

/// A stretch of buckets `[from_ms, to_ms)` read from one source.
#[derive(Clone, Copy)]
struct Window {
    source: Source,
    from_ms: i64,
    to_ms: i64,
}

/// A cluster's counters at one instant.
struct Reading {
    at_ms: i64,
    cache: u64,
    ufs: u64,
}

/// Traffic in one bucket, summed over clusters.
#[derive(Default)]
struct Traffic {
    cache: u64,
    ufs: u64,
    cache_per_sec: f64,
    ufs_per_sec: f64,
}

/// Turns each cluster's last reading per bucket, in bucket order, into
/// traffic per bucket: each reading against the cluster's previous one.
struct CounterFold {
    step: i64,
    first_bucket_ms: i64,
    previous: HashMap<String, Reading>,
    traffic: BTreeMap<i64, Traffic>,
}

impl CounterFold {
    fn push(&mut self, row: (String, i64, i64, i64, i64)) -> Result<(), StoreError> {
        let (cluster, bucket, at_ms, cache, ufs) = row;
        let reading = Reading {
            at_ms,
            cache: unsigned("cache_read_bytes", cache)?,
            ufs: unsigned("ufs_read_bytes", ufs)?,
        };
        let bucket_ms = bucket.saturating_mul(self.step);
        let Some(previous) = self.previous.get_mut(&cluster) else {
            self.previous.insert(cluster, reading);
            return Ok(());
        };
        let interval_ms = reading.at_ms - previous.at_ms;
        let cache = counter_delta(previous.cache, reading.cache);
        let ufs = counter_delta(previous.ufs, reading.ufs);
        if let (Some(cache_per_sec), Some(ufs_per_sec), true) = (
            rate(cache, interval_ms),
            rate(ufs, interval_ms),
            bucket_ms >= self.first_bucket_ms,
        ) {
            let traffic = self.traffic.entry(bucket_ms).or_default();
            traffic.cache = traffic.cache.saturating_add(cache);
            traffic.ufs = traffic.ufs.saturating_add(ufs);
            traffic.cache_per_sec += cache_per_sec;
            traffic.ufs_per_sec += ufs_per_sec;
        }
        *previous = reading;
        Ok(())
    }

    fn points(self, counter: Counter) -> Vec<(i64, f64)> {
        self.traffic
            .into_iter()
            .filter_map(|(at_ms, traffic)| {
                let value = match counter {
                    Counter::HitRatio => hit_ratio(traffic.cache, traffic.ufs)?,
                    Counter::CacheReadRate => traffic.cache_per_sec,
                    Counter::UfsReadRate => traffic.ufs_per_sec,
                };
                Some((at_ms, value))
            })
            .collect()
    }
}

fn unsigned(column: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} {value} is negative")))
}

fn small(column: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("{column} {value} is not a count")))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn stored(cluster: &str, field: &'static str, value: u64) -> Result<i64, HistoryError> {
    i64::try_from(value).map_err(|_| HistoryError::OutOfRange {
        cluster: cluster.to_string(),
        field,
        value,
    })
}

/// Builds statements for the backend `builder` stands for; builders hold no
/// state and are not `Clone`, so each statement gets a fresh one.
fn in_window(query: &mut SelectStatement, time: Col, window: Window, cluster: Option<&str>) {
    query
        .and_where(Expr::col(time).gte(window.from_ms))
        .and_where(Expr::col(time).lt(window.to_ms));
    if let Some(cluster) = cluster {
        query.and_where(Expr::col(Col::Cluster).eq(cluster));
    }
}

/// Each cluster's last counter reading in each bucket of `window`, found as
/// the row at the bucket's latest time: MAX would hide a reset.
fn last_readings_query(window: Window, cluster: Option<&str>, step: i64) -> SelectStatement {
    let source = window.source;
    let time = source.time();
    let mut last = Query::select();
    last.column(Col::Cluster)
        .expr_as(Expr::col(time).div(step), "bucket")
        .expr_as(Func::max(Expr::col(time)), "last_time")
        .from(source.table())
        .group_by_col(Col::Cluster)
        .group_by_col("bucket");
    in_window(&mut last, time, window, cluster);
    Query::select()
        .expr(Expr::col(("l", Col::Cluster)))
        .expr(Expr::col(("l", "bucket")))
        .expr(Expr::col(("s", source.read_at())))
        .expr(Expr::col(("s", Col::CacheReadBytes)))
        .expr(Expr::col(("s", Col::UfsReadBytes)))
        .from_subquery(last.take(), "l")
        .from_as(source.table(), "s")
        .and_where(Expr::col(("s", Col::Cluster)).equals(("l", Col::Cluster)))
        .and_where(Expr::col(("s", time)).equals(("l", "last_time")))
        // Redundant but for the planner: without it PostgreSQL hashes the
        // whole table to join a few rows of it.
        .and_where(Expr::col(("s", time)).gte(window.from_ms))
        .and_where(Expr::col(("s", time)).lt(window.to_ms))
        .order_by(("l", "bucket"), Order::Asc)
        .take()
}

/// A gauge per bucket of `window`: averaged per cluster, summed over them.
fn gauge_query(window: Window, gauge: Gauge, cluster: Option<&str>, step: i64) -> SelectStatement {
    let source = window.source;
    let time = source.time();
    let mut per_cluster = Query::select();
    per_cluster
        .column(Col::Cluster)
        .expr_as(Expr::col(time).div(step), "bucket")
        .expr_as(source.gauge(gauge), "value")
        .from(source.table())
        .group_by_col(Col::Cluster)
        .group_by_col("bucket");
    in_window(&mut per_cluster, time, window, cluster);
    Query::select()
        .expr(Expr::col("bucket"))
        .expr(Func::sum(Expr::col("value")))
        .from_subquery(per_cluster.take(), "g")
        .group_by_col("bucket")
        .order_by("bucket", Order::Asc)
        .take()
}

fn latest_query(cluster: &str, limit: u64) -> SelectStatement {
    Query::select()
        .columns(SAMPLE_COLUMNS[1..].iter().copied())
        .from(Col::RawTable)
        .and_where(Expr::col(Col::Cluster).eq(cluster))
        .order_by(Col::AtMs, Order::Desc)
        .limit(limit)
        .take()
}

type SampleRow = (i64, i64, i64, i64, i64, i64, i64, i64);

fn sample_from(row: SampleRow) -> Result<Sample, StoreError> {
    let (at_ms, cache, ufs, capacity, used, online, total, jobs) = row;
    Ok(Sample {
        at: DateTime::from_timestamp_millis(at_ms)
            .ok_or_else(|| StoreError::Corrupt(format!("timestamp {at_ms} out of range")))?,
        cache_read_bytes: unsigned("cache_read_bytes", cache)?,
        ufs_read_bytes: unsigned("ufs_read_bytes", ufs)?,
        capacity_bytes: unsigned("capacity_bytes", capacity)?,
        used_bytes: unsigned("used_bytes", used)?,
        workers_online: small("workers_online", online)?,
        workers_total: small("workers_total", total)?,
        running_jobs: small("running_jobs", jobs)?,
    })
}

impl Store {
    /// Records one poll round, all of it or nothing. A sample already held
    /// for a cluster at the same instant is kept, so a retried round is
    /// harmless.
    pub async fn record_samples(&self, batch: &[(String, Sample)]) -> Result<(), HistoryError> {
        let mut inserts = Vec::new();
        for chunk in batch.chunks(ROWS_PER_INSERT) {
            let mut insert = Query::insert();
            insert
                .into_table(Col::RawTable)
                .columns(SAMPLE_COLUMNS)
                .on_conflict(
                    OnConflict::columns([Col::Cluster, Col::AtMs])
                        .do_nothing()
                        .to_owned(),
                );
            for (cluster, sample) in chunk {
                insert.values([
                    cluster.as_str().into(),
                    sample.at.timestamp_millis().into(),
                    stored(cluster, "cache_read_bytes", sample.cache_read_bytes)?.into(),
                    stored(cluster, "ufs_read_bytes", sample.ufs_read_bytes)?.into(),
                    stored(cluster, "capacity_bytes", sample.capacity_bytes)?.into(),
                    stored(cluster, "used_bytes", sample.used_bytes)?.into(),
                    i64::from(sample.workers_online).into(),
                    i64::from(sample.workers_total).into(),
                    i64::from(sample.running_jobs).into(),
                ])?;
            }
            inserts.push(insert);
        }
        if inserts.is_empty() {
            return Ok(());
        }
        on_backend!(self, |pool, builder| {
            let mut tx = pool.begin().await?;
            for (sql, values) in build_each(&inserts, builder) {
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Rolls every complete minute before `now` up into one row per cluster;
    /// answers how many rows were written. One upserting statement: a crash
    /// leaves nothing half done, and running it again rewrites equal rows.
    pub async fn roll_up(&self, now: DateTime<Utc>) -> Result<u64, HistoryError> {
        let end = now.timestamp_millis().div_euclid(MINUTE_MS) * MINUTE_MS;
        // The newest minute is rolled up again: a slow poll round can record
        // samples in it after it was first rolled up.
        let start = self
            .bound(Col::RollupTable, Col::MinuteMs, Func::max)
            .await?
            .unwrap_or(i64::MIN);
        if start >= end {
            return Ok(0);
        }
        let mut per_minute = Query::select();
        per_minute
            .column(Col::Cluster)
            .expr_as(
                Expr::col(Col::AtMs).div(MINUTE_MS).mul(MINUTE_MS),
                Col::MinuteMs,
            )
            .expr_as(Func::count(Expr::col(Col::AtMs)), Col::SampleCount)
            .expr_as(Func::max(Expr::col(Col::AtMs)), Col::LastAtMs)
            .expr_as(Func::max(Expr::col(Col::UsedBytes)), Col::UsedBytesMax);
        for gauge in [
            Col::CapacityBytes,
            Col::UsedBytes,
            Col::WorkersOnline,
            Col::WorkersTotal,
            Col::RunningJobs,
        ] {
            per_minute.expr_as(Source::Raw.gauge(Gauge::Mean(gauge)), gauge);
        }
        per_minute
            .from(Col::RawTable)
            .and_where(Expr::col(Col::AtMs).gte(start))
            .and_where(Expr::col(Col::AtMs).lt(end))
            .group_by_col(Col::Cluster)
            .group_by_col(Col::MinuteMs);

        let from_minute = [
            Col::Cluster,
            Col::MinuteMs,
            Col::SampleCount,
            Col::LastAtMs,
            Col::UsedBytesMax,
            Col::CapacityBytes,
            Col::UsedBytes,
            Col::WorkersOnline,
            Col::WorkersTotal,
            Col::RunningJobs,
        ];
        let from_last_sample = [Col::CacheReadBytes, Col::UfsReadBytes];
        let mut rows = Query::select();
        for col in from_minute {
            rows.expr(Expr::col(("m", col)));
        }
        for col in from_last_sample {
            rows.expr(Expr::col(("s", col)));
        }
        // A join in WHERE rather than ON: SQLite cannot tell a join's ON
        // from the upsert's ON CONFLICT after INSERT ... SELECT.
        rows.from_subquery(per_minute.take(), "m")
            .from_as(Col::RawTable, "s")
            .and_where(Expr::col(("s", Col::Cluster)).equals(("m", Col::Cluster)))
            .and_where(Expr::col(("s", Col::AtMs)).equals(("m", Col::LastAtMs)))
            .and_where(Expr::col(("s", Col::AtMs)).gte(start))
            .and_where(Expr::col(("s", Col::AtMs)).lt(end));
        let columns = from_minute.into_iter().chain(from_last_sample);
        let upsert = Query::insert()
            .into_table(Col::RollupTable)
            .columns(columns.clone())
            .select_from(rows.take())?
            .on_conflict(
                OnConflict::columns([Col::Cluster, Col::MinuteMs])
                    .update_columns(columns.skip(2))
                    .to_owned(),
            )
            .take();
        Ok(self.rows_affected(&upsert).await?)
    }

    /// Deletes raw samples taken before `now - retention.raw` and rollups of
    /// minutes starting before `now - retention.rollups`.
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        retention: &Retention,
    ) -> Result<Pruned, HistoryError> {
        let now_ms = now.timestamp_millis();
        let samples = Query::delete()
            .from_table(Col::RawTable)
            .and_where(Expr::col(Col::AtMs).lt(now_ms.saturating_sub(millis(retention.raw))))
            .to_owned();
        let rollups = Query::delete()
            .from_table(Col::RollupTable)
            .and_where(
                Expr::col(Col::MinuteMs).lt(now_ms.saturating_sub(millis(retention.rollups))),
            )
            .to_owned();
        Ok(Pruned {
            samples: self.rows_affected(&samples).await?,
            rollups: self.rows_affected(&rollups).await?,
        })
    }

    /// Deletes all history of a cluster, raw and rolled up, together.
    pub async fn forget_history(&self, cluster: &str) -> Result<(), HistoryError> {
        let deletes = [Col::RawTable, Col::RollupTable].map(|table| {
            Query::delete()
                .from_table(table)
                .and_where(Expr::col(Col::Cluster).eq(cluster))
                .to_owned()
        });
        on_backend!(self, |pool, builder| {
            let mut tx = pool.begin().await?;
            for (sql, values) in build_each(&deletes, builder) {
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest sample of a cluster, if it has any.
    pub async fn latest_sample(&self, cluster: &str) -> Result<Option<Sample>, HistoryError> {
        Ok(self.latest_samples(cluster, 1).await?.pop())
    }

    /// A cluster's traffic between its two newest samples.
    pub async fn latest_rates(&self, cluster: &str) -> Result<Option<Rates>, HistoryError> {
        Ok(match self.latest_samples(cluster, 2).await?.as_slice() {
            [later, earlier] => Rates::between(earlier, later),
            _ => None,
        })
    }

    /// `metric` for `scope` from `from` to `to`, in about `points` buckets
    /// (never more than `points` + 1): `(bucket start in Unix millis, value)`
    /// for each bucket with data, oldest first. Buckets are aligned to the
    /// epoch, so the first may start before `from`. A rate's first bucket
    /// is measured from the last reading of the bucket before it.
    pub async fn series(
        &self,
        scope: Scope,
        metric: Metric,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        points: usize,
    ) -> Result<Vec<(i64, f64)>, HistoryError> {
        if from >= to {
            return Err(HistoryError::EmptyRange { from, to });
        }
        if points == 0 {
            return Err(HistoryError::NoPoints);
        }
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let cluster = match &scope {
            Scope::Cluster(name) => Some(name.as_str()),
            Scope::Fleet => None,
        };
        let mut step = step_for(to_ms - from_ms, points);
        if step < MINUTE_MS && self.only_rollups_reach(from_ms).await? {
            step = MINUTE_MS;
        }
        let first_bucket_ms = from_ms.div_euclid(step) * step;
        let kind = metric.kind();
        let lookback_ms = match kind {
            Kind::Counter(_) => first_bucket_ms.saturating_sub(step),
            Kind::Gauge(_) => first_bucket_ms,
        };
        // Rollups serve the buckets that end by the newest rolled-up
        // minute, which itself may still be rolled up again.
        let split_ms = if step % MINUTE_MS == 0 {
            self.bound(Col::RollupTable, Col::MinuteMs, Func::max)
                .await?
                .map_or(lookback_ms, |newest| newest.div_euclid(step) * step)
                .clamp(lookback_ms, Ord::max(to_ms, lookback_ms))
        } else {
            lookback_ms
        };
        let windows = [
            Window {
                source: Source::Rollups,
                from_ms: lookback_ms,
                to_ms: split_ms,
            },
            Window {
                source: Source::Raw,
                from_ms: split_ms,
                to_ms,
            },
        ]
        .into_iter()
        .filter(|window| window.from_ms < window.to_ms);

        match kind {
            Kind::Counter(counter) => {
                let mut fold = CounterFold {
                    step,
                    first_bucket_ms,
                    previous: HashMap::new(),
                    traffic: BTreeMap::new(),
                };
                for window in windows {
                    let query = last_readings_query(window, cluster, step);
                    on_backend!(self, |pool, builder| {
                        let (sql, values) = query.build_sqlx(builder);
                        let mut rows = sqlx::query_as_with::<_, (String, i64, i64, i64, i64), _>(
                            AssertSqlSafe(sql),
                            values,
                        )
                        .fetch(pool);
                        while let Some(row) = rows.try_next().await? {
                            fold.push(row)?;
                        }
                    });
                }
                Ok(fold.points(counter))
            }
            Kind::Gauge(gauge) => {
                let mut points = Vec::new();
                for window in windows {
                    let query = gauge_query(window, gauge, cluster, step);
                    let rows: Vec<(i64, f64)> = on_backend!(self, |pool, builder| {
                        let (sql, values) = query.build_sqlx(builder);
                        sqlx::query_as_with(AssertSqlSafe(sql), values)
                            .fetch_all(pool)
                            .await?
                    });
                    points.extend(
                        rows.into_iter()
                            .map(|(bucket, value)| (bucket.saturating_mul(step), value)),
                    );
                }
                Ok(points)
            }
        }
    }

    async fn latest_samples(&self, cluster: &str, limit: u64) -> Result<Vec<Sample>, HistoryError> {
        let query = latest_query(cluster, limit);
        let rows: Vec<SampleRow> = on_backend!(self, |pool, builder| {
            let (sql, values) = query.build_sqlx(builder);
            sqlx::query_as_with(AssertSqlSafe(sql), values)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(sample_from)
            .collect::<Result<_, _>>()?)
    }

    /// Whether raw samples no longer reach back to `from_ms` while rollups
    /// hold whole minutes from before the oldest raw sample.
    async fn only_rollups_reach(&self, from_ms: i64) -> Result<bool, HistoryError> {
        let Some(oldest_rollup) = self
            .bound(Col::RollupTable, Col::MinuteMs, Func::min)
            .await?
        else {
            return Ok(false);
        };
        Ok(
            match self.bound(Col::RawTable, Col::AtMs, Func::min).await? {
                Some(oldest_raw) => {
                    let raw_start = oldest_raw.saturating_sub(MINUTE_MS);
                    oldest_rollup < raw_start && from_ms < raw_start
                }
                None => true,
            },
        )
    }

    /// MIN or MAX of a time column over a whole table.
    async fn bound(
        &self,
        table: Col,
        time: Col,
        aggregate: fn(Expr) -> sea_query::FunctionCall,
    ) -> Result<Option<i64>, HistoryError> {
        let query = Query::select()
            .expr(aggregate(Expr::col(time)))
            .from(table)
            .take();
        let (bound,): (Option<i64>,) = on_backend!(self, |pool, builder| {
            let (sql, values) = query.build_sqlx(builder);
            sqlx::query_as_with(AssertSqlSafe(sql), values)
                .fetch_one(pool)
                .await?
        });
        Ok(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_that_went_down_was_reset_and_grew_by_its_new_value() {
        assert_eq!(counter_delta(100, 250), 150);
        assert_eq!(counter_delta(100, 100), 0);
        assert_eq!(counter_delta(1_000, 40), 40);
        assert_eq!(counter_delta(u64::MAX, 0), 0);
    }

    #[test]
    fn a_rate_needs_time_to_pass() {
        assert_eq!(rate(30_000, 10_000), Some(3_000.0));
        assert_eq!(rate(0, 10_000), Some(0.0));
        assert_eq!(rate(30_000, 0), None);
        assert_eq!(rate(30_000, -10_000), None);
    }

    #[test]
    fn a_hit_ratio_needs_reads() {
        assert_eq!(hit_ratio(3, 1), Some(0.75));
        assert_eq!(hit_ratio(0, 5), Some(0.0));
        assert_eq!(hit_ratio(5, 0), Some(1.0));
        assert_eq!(hit_ratio(0, 0), None);
        assert_eq!(hit_ratio(u64::MAX, u64::MAX), Some(0.5));
    }

    fn sample(at_s: i64, cache: u64, ufs: u64) -> Sample {
        Sample {
            at: DateTime::from_timestamp(at_s, 0).unwrap(),
            cache_read_bytes: cache,
            ufs_read_bytes: ufs,
            capacity_bytes: 0,
            used_bytes: 0,
            workers_online: 0,
            workers_total: 0,
            running_jobs: 0,
        }
    }

    #[test]
    fn rates_between_samples_survive_resets_and_refuse_no_interval() {
        let rates = Rates::between(&sample(0, 1_000, 1_000), &sample(10, 31_000, 11_000)).unwrap();
        assert_eq!(rates.cache_read_per_sec, 3_000.0);
        assert_eq!(rates.ufs_read_per_sec, 1_000.0);
        assert_eq!(rates.hit_ratio, Some(0.75));

        let reset = Rates::between(&sample(0, 90_000, 5_000), &sample(10, 20_000, 5_000)).unwrap();
        assert_eq!(reset.cache_read_per_sec, 2_000.0);
        assert_eq!(reset.hit_ratio, Some(1.0));

        let idle = Rates::between(&sample(0, 7, 7), &sample(10, 7, 7)).unwrap();
        assert_eq!(idle.hit_ratio, None);
        assert!(Rates::between(&sample(10, 0, 0), &sample(10, 5, 5)).is_none());
        assert!(Rates::between(&sample(10, 0, 0), &sample(0, 5, 5)).is_none());
    }

    #[test]
    fn steps_are_readable_and_give_at_most_the_points_asked() {
        assert_eq!(step_for(2 * HOUR_MS, 240), 30 * SECOND_MS);
        assert_eq!(step_for(7 * DAY_MS, 240), HOUR_MS);
        assert_eq!(step_for(24 * HOUR_MS, 240), 10 * MINUTE_MS);
        assert_eq!(step_for(30 * DAY_MS, 240), 3 * HOUR_MS);
        assert_eq!(
            step_for(MINUTE_MS, 240),
            10 * SECOND_MS,
            "never below a poll"
        );
        assert_eq!(step_for(365 * DAY_MS, 240), 2 * DAY_MS);
        assert_eq!(step_for(DAY_MS, 1), DAY_MS);
        assert_eq!(step_for(DAY_MS + 1, 1), 2 * DAY_MS);
        assert_eq!(step_for(0, usize::MAX), 10 * SECOND_MS);
        for step in STEPS_MS.iter().filter(|&&step| step >= MINUTE_MS) {
            assert_eq!(step % MINUTE_MS, 0, "rollups fill a {step} ms step");
        }
    }
}
