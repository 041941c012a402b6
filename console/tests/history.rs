//! Metrics history against both real backends: a SQLite file, and a fresh
//! PostgreSQL database on 127.0.0.1:5432 made for each test and dropped
//! after. Every timestamp is fixed, never the wall clock, so each expected
//! value below is worked out by hand from the traffic the samples carry.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use ringside_console::history::{HistoryError, Metric, Pruned, Rates, Retention, Sample, Scope};
use ringside_console::store::{Store, StoreError};
use sqlx::{Connection, PgConnection};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// 2024-01-01T00:00:00Z: aligned to every step a series uses.
const T0: i64 = 1_704_067_200;
const TWO_HOURS: i64 = 2 * 3600;
const DAY: i64 = 24 * 3600;

fn at(offset_s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(T0 + offset_s, 0).expect("in range")
}

fn ms(offset_s: i64) -> i64 {
    (T0 + offset_s) * 1000
}

async fn on_sqlite<F, Fut>(scenario: F) -> anyhow::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let store = Store::open(&url).await?;
    let outcome = scenario(store.clone()).await;
    store.close().await;
    outcome
}

async fn on_postgres<F, Fut>(scenario: F) -> anyhow::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    static RUN: AtomicU32 = AtomicU32::new(0);
    let db = format!(
        "ringside_history_{}_{}_{}",
        std::process::id(),
        nanos(),
        RUN.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(PG_ADMIN).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await?;
    // A failed assertion panics; the database is dropped all the same.
    let outcome = AssertUnwindSafe(async {
        let store = Store::open(&format!("postgres://postgres@127.0.0.1:5432/{db}")).await?;
        let outcome = scenario(store.clone()).await;
        store.close().await;
        outcome
    })
    .catch_unwind()
    .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000)
        .unwrap_or(0)
}

/// One test per backend for each scenario, named `scenario::sqlite` and
/// `scenario::postgres`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() -> anyhow::Result<()> {
                super::on_sqlite(super::$scenario).await
            }

            #[tokio::test]
            async fn postgres() -> anyhow::Result<()> {
                super::on_postgres(super::$scenario).await
            }
        }
    )*};
}

on_both_backends!(
    series_match_the_traffic_worked_out_by_hand,
    rollups_are_idempotent_and_give_the_rates_raw_gives,
    a_late_sample_joins_its_minute_on_the_next_roll_up,
    prune_removes_exactly_what_is_past_retention,
    a_counter_reset_gives_no_negative_rate,
    forget_history_removes_only_that_cluster,
    empty_ranges_and_bad_input,
    a_poll_round_is_recorded_whole_and_fast,
    latest_sample_and_rates,
    a_corrupt_row_is_an_error,
);

/// Cluster "a": 3,000 B/s from cache and 1,000 B/s from the UFS (hit ratio
/// 0.75); used bytes grow 10 a sample; 0, 1, 2 running jobs in turn.
fn sample_a(k: i64) -> Sample {
    let k_u = u64::try_from(k).expect("k >= 0");
    Sample {
        at: at(10 * k),
        cache_read_bytes: 1_000_000 + 30_000 * k_u,
        ufs_read_bytes: 10_000 * k_u,
        capacity_bytes: 1_000_000,
        used_bytes: 100_000 + 10 * k_u,
        workers_online: 3,
        workers_total: 3,
        running_jobs: u32::try_from(k % 3).expect("small"),
    }
}

/// Cluster "b": 1,000 B/s from each (hit ratio 0.5); 2 and 3 workers online
/// in turn.
fn sample_b(k: i64) -> Sample {
    let k_u = u64::try_from(k).expect("k >= 0");
    Sample {
        at: at(10 * k),
        cache_read_bytes: 10_000 * k_u,
        ufs_read_bytes: 10_000 * k_u,
        capacity_bytes: 2_000_000,
        used_bytes: 500_000,
        workers_online: if k % 2 == 0 { 2 } else { 3 },
        workers_total: 3,
        running_jobs: 0,
    }
}

/// Both clusters every 10 s for two hours: samples 0..720, one round each.
async fn record_two_hours(store: &Store) -> anyhow::Result<()> {
    for k in 0..720 {
        store
            .record_samples(&[
                ("a".to_string(), sample_a(k)),
                ("b".to_string(), sample_b(k)),
            ])
            .await?;
    }
    Ok(())
}

fn cluster(name: &str) -> Scope {
    Scope::Cluster(name.to_string())
}

/// Same buckets, and values equal but for float rounding in averages.
#[track_caller]
fn assert_series(actual: &[(i64, f64)], expected: &[(i64, f64)], what: &str) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} points, expected {}",
        actual.len(),
        expected.len()
    );
    for (&(at, value), &(want_at, want)) in actual.iter().zip(expected) {
        assert_eq!(at, want_at, "{what}: bucket");
        assert!(
            (value - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{what} at {at}: {value}, expected {want}"
        );
    }
}

/// A value per 30 s bucket of the two hours, for buckets `from..240`.
fn per_bucket(from: i64, value: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (from..240).map(|j| (ms(30 * j), value(j))).collect()
}

async fn series_match_the_traffic_worked_out_by_hand(store: Store) -> anyhow::Result<()> {
    record_two_hours(&store).await?;
    let series = |scope: Scope, metric| store.series(scope, metric, at(0), at(TWO_HOURS), 240);

    // 240 points over two hours is a 30 s step. A rate needs the bucket
    // before it, so the first bucket, with none before it, has no rate.
    let constant = |value: f64| per_bucket(1, move |_| value);
    for (scope, metric, value) in [
        (cluster("a"), Metric::HitRatio, 0.75),
        (cluster("a"), Metric::CacheReadRate, 3_000.0),
        (cluster("a"), Metric::UfsReadRate, 1_000.0),
        (cluster("b"), Metric::HitRatio, 0.5),
        (cluster("b"), Metric::CacheReadRate, 1_000.0),
        (cluster("b"), Metric::UfsReadRate, 1_000.0),
        // From the fleet's summed bytes, 4,000 of 6,000: not the 0.625 an
        // average of the two ratios would give.
        (Scope::Fleet, Metric::HitRatio, 4.0 / 6.0),
        (Scope::Fleet, Metric::CacheReadRate, 4_000.0),
        (Scope::Fleet, Metric::UfsReadRate, 2_000.0),
    ] {
        let what = format!("{scope:?} {metric:?}");
        assert_series(&series(scope, metric).await?, &constant(value), &what);
    }

    // Bucket j holds samples 3j, 3j+1 and 3j+2.
    let used_a = |j: i64| 100_000.0 + 10.0 * (3 * j + 1) as f64;
    let online_b = |j: i64| {
        (3 * j..3 * j + 3)
            .map(|k| if k % 2 == 0 { 2.0 } else { 3.0 })
            .sum::<f64>()
            / 3.0
    };
    for (scope, metric, expected) in [
        (
            cluster("a"),
            Metric::CapacityBytes,
            per_bucket(0, |_| 1_000_000.0),
        ),
        (cluster("a"), Metric::UsedBytes, per_bucket(0, used_a)),
        (
            cluster("a"),
            Metric::UsedBytesPeak,
            per_bucket(0, |j| 100_000.0 + 10.0 * (3 * j + 2) as f64),
        ),
        (cluster("a"), Metric::RunningJobs, per_bucket(0, |_| 1.0)),
        (cluster("b"), Metric::WorkersOnline, per_bucket(0, online_b)),
        (
            Scope::Fleet,
            Metric::CapacityBytes,
            per_bucket(0, |_| 3_000_000.0),
        ),
        (
            Scope::Fleet,
            Metric::UsedBytes,
            per_bucket(0, |j| used_a(j) + 500_000.0),
        ),
        (
            Scope::Fleet,
            Metric::WorkersOnline,
            per_bucket(0, |j| 3.0 + online_b(j)),
        ),
        (Scope::Fleet, Metric::WorkersTotal, per_bucket(0, |_| 6.0)),
        (Scope::Fleet, Metric::RunningJobs, per_bucket(0, |_| 1.0)),
    ] {
        let what = format!("{scope:?} {metric:?}");
        assert_series(&series(scope, metric).await?, &expected, &what);
    }

    // A range starting mid-data: its first bucket's rate comes from the
    // bucket before the range, so no point is lost.
    let mid = store
        .series(cluster("a"), Metric::CacheReadRate, at(3600), at(3660), 2)
        .await?;
    assert_eq!(mid, vec![(ms(3600), 3_000.0), (ms(3630), 3_000.0)]);
    Ok(())
}

const EVERY_METRIC: [Metric; 9] = [
    Metric::HitRatio,
    Metric::CacheReadRate,
    Metric::UfsReadRate,
    Metric::CapacityBytes,
    Metric::UsedBytes,
    Metric::UsedBytesPeak,
    Metric::WorkersOnline,
    Metric::WorkersTotal,
    Metric::RunningJobs,
];

type Series = Vec<Vec<(i64, f64)>>;

/// Every metric for a, b and the fleet.
async fn every_series(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    points: usize,
) -> anyhow::Result<Series> {
    let mut all = Vec::new();
    for scope in [cluster("a"), cluster("b"), Scope::Fleet] {
        for metric in EVERY_METRIC {
            all.push(
                store
                    .series(scope.clone(), metric, from, to, points)
                    .await?,
            );
        }
    }
    Ok(all)
}

#[track_caller]
fn assert_same(actual: &Series, expected: &Series, what: &str) {
    assert_eq!(actual.len(), expected.len());
    for (i, (actual, expected)) in actual.iter().zip(expected).enumerate() {
        assert_series(actual, expected, &format!("{what}, series {i}"));
    }
}

type RollupRow = (
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    f64,
    f64,
    i64,
    f64,
    f64,
    f64,
);

async fn rollup_rows(store: &Store) -> anyhow::Result<Vec<RollupRow>> {
    const SQL: &str = "SELECT cluster, minute_ms, sample_count, last_at_ms, cache_read_bytes, \
        ufs_read_bytes, capacity_bytes, used_bytes, used_bytes_max, workers_online, \
        workers_total, running_jobs FROM metric_rollups ORDER BY cluster, minute_ms";
    Ok(match store {
        Store::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
        Store::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
    })
}

async fn rollups_are_idempotent_and_give_the_rates_raw_gives(store: Store) -> anyhow::Result<()> {
    record_two_hours(&store).await?;
    // Five seconds into the minute after the last sample: all 120 minutes
    // of the two hours are complete.
    let now = at(TWO_HOURS + 5);
    let week_ago = at(TWO_HOURS - 7 * DAY);
    let minutes_raw = every_series(&store, at(0), at(TWO_HOURS), 120).await?;
    let week_raw = every_series(&store, week_ago, at(TWO_HOURS), 240).await?;

    // A crash midway, rolled up to the first hour only, then resumed,
    // ends with the rows one roll-up gives; and a second run changes none.
    assert_eq!(store.roll_up(at(3600 + 30)).await?, 2 * 60);
    let rows = store.roll_up(now).await?;
    assert_eq!(
        rows,
        2 + 2 * 60,
        "the newest minute of each is rolled again"
    );
    let once = rollup_rows(&store).await?;
    assert_eq!(once.len(), 2 * 120);
    assert_eq!(store.roll_up(now).await?, 2, "only the newest minute again");
    assert_eq!(rollup_rows(&store).await?, once, "running twice: same rows");
    let first_a = &once[0];
    assert_eq!(
        first_a,
        &(
            "a".to_string(),
            ms(0),
            6,
            ms(50),
            1_000_000 + 5 * 30_000,
            5 * 10_000,
            1_000_000.0,
            100_025.0,
            100_050,
            3.0,
            3.0,
            1.0
        ),
        "a's first minute"
    );

    // Minute steps and a week of hours read rollups now, and answer what
    // raw samples did.
    let minutes_rolled = every_series(&store, at(0), at(TWO_HOURS), 120).await?;
    assert_same(&minutes_rolled, &minutes_raw, "minute steps");
    let week_rolled = every_series(&store, week_ago, at(TWO_HOURS), 240).await?;
    assert_same(&week_rolled, &week_raw, "a week");

    // By hand: a week in 240 points is an hour a step; the first hour has
    // no hour before it, the second one rate from its last sample back to
    // the first hour's.
    let fleet_week = |metric| store.series(Scope::Fleet, metric, week_ago, at(TWO_HOURS), 240);
    assert_eq!(
        fleet_week(Metric::CacheReadRate).await?,
        vec![(ms(3600), 4_000.0)]
    );
    assert_eq!(
        fleet_week(Metric::HitRatio).await?,
        vec![(ms(3600), 4.0 / 6.0)]
    );
    assert_series(
        &fleet_week(Metric::UsedBytes).await?,
        &[
            (ms(0), 600_000.0 + 10.0 * 179.5),
            (ms(3600), 600_000.0 + 10.0 * 539.5),
        ],
        "fleet used bytes, hourly",
    );

    // With the first hour's raw samples gone, rollups alone serve it; the
    // second hour holds the newest rolled-up minute, which may be rolled
    // up again, so that bucket still reads raw.
    let gone = store
        .prune(
            at(3600),
            &Retention {
                raw: Duration::ZERO,
                ..Retention::default()
            },
        )
        .await?;
    assert_eq!(
        gone,
        Pruned {
            samples: 2 * 360,
            rollups: 0
        }
    );
    assert_same(
        &every_series(&store, week_ago, at(TWO_HOURS), 240).await?,
        &week_raw,
        "a week, its first hour from rollups alone",
    );
    assert_same(
        &every_series(&store, at(0), at(TWO_HOURS), 120).await?,
        &minutes_raw,
        "minute steps, the first hour from rollups alone",
    );
    // A 30 s step raw no longer serves is raised to the rollups' minute.
    assert_same(
        &every_series(&store, at(0), at(TWO_HOURS), 240).await?,
        &minutes_raw,
        "a fine step past raw retention",
    );
    Ok(())
}

async fn a_late_sample_joins_its_minute_on_the_next_roll_up(store: Store) -> anyhow::Result<()> {
    for k in 0..5 {
        store
            .record_samples(&[("a".to_string(), sample_a(k))])
            .await?;
    }
    assert_eq!(store.roll_up(at(61)).await?, 1);
    // A slow poll round records the minute's last sample after its roll-up.
    store
        .record_samples(&[("a".to_string(), sample_a(5))])
        .await?;
    store.roll_up(at(61)).await?;
    let rows = rollup_rows(&store).await?;
    assert_eq!(rows.len(), 1);
    let (_, minute, count, last_at, cache, ..) = &rows[0];
    assert_eq!((*minute, *count, *last_at), (ms(0), 6, ms(50)));
    assert_eq!(*cache, sample_a(5).cache_read_bytes as i64);
    Ok(())
}

async fn prune_removes_exactly_what_is_past_retention(store: Store) -> anyhow::Result<()> {
    let now = at(40 * DAY);
    // Ages in ms; each sample in a minute of its own, so a rollup each.
    let ages_ms: [i64; 9] = [
        40 * DAY * 1000,
        31 * DAY * 1000,
        30 * DAY * 1000,
        29 * DAY * 1000,
        25 * 3600 * 1000,
        DAY * 1000 + 1,
        DAY * 1000,
        23 * 3600 * 1000,
        60 * 1000,
    ];
    let batch: Vec<(String, Sample)> = ages_ms
        .iter()
        .map(|age| {
            let at = DateTime::from_timestamp_millis(now.timestamp_millis() - age).unwrap();
            ("a".to_string(), Sample { at, ..sample_a(1) })
        })
        .collect();
    store.record_samples(&batch).await?;
    assert_eq!(store.roll_up(now).await?, 9);

    // Raw older than 24 h: the first six; the one exactly 24 h old stays.
    // Rollups of minutes starting over 30 days ago: the first two.
    let default = Retention::default();
    assert_eq!(
        default,
        Retention {
            raw: Duration::from_secs(24 * 3600),
            rollups: Duration::from_secs(30 * 24 * 3600),
        }
    );
    assert_eq!(
        store.prune(now, &default).await?,
        Pruned {
            samples: 6,
            rollups: 2
        }
    );
    assert_eq!(store.prune(now, &default).await?, Pruned::default());
    let minutes: Vec<i64> = rollup_rows(&store).await?.iter().map(|r| r.1).collect();
    assert_eq!(minutes.len(), 7);
    assert_eq!(minutes[0], now.timestamp_millis() - ages_ms[2]);

    let custom = Retention {
        raw: Duration::from_secs(3600),
        rollups: Duration::from_secs(2 * 24 * 3600),
    };
    assert_eq!(
        store.prune(now, &custom).await?,
        Pruned {
            samples: 2,
            rollups: 2
        },
        "raw 24 h and 23 h old; rollups 30 and 29 days old"
    );
    assert_eq!(rollup_rows(&store).await?.len(), 5);
    let latest = store.latest_sample("a").await?.expect("a sample is left");
    assert_eq!(latest.at, at(40 * DAY - 60));
    Ok(())
}

async fn a_counter_reset_gives_no_negative_rate(store: Store) -> anyhow::Result<()> {
    // 1,000 B/s each way for ten minutes; a restart at sample 30 (300 s)
    // starts both counters again from 2,000.
    let counter = |k: u64| {
        if k < 30 {
            10_000 * k
        } else {
            2_000 + 10_000 * (k - 30)
        }
    };
    for k in 0..60u64 {
        let sample = Sample {
            at: at(10 * k as i64),
            cache_read_bytes: counter(k),
            ufs_read_bytes: counter(k),
            ..sample_b(0)
        };
        store.record_samples(&[("r".to_string(), sample)]).await?;
    }
    let per_poll = store
        .series(cluster("r"), Metric::CacheReadRate, at(0), at(600), 240)
        .await?;
    let expected: Vec<(i64, f64)> = (1..60)
        .map(|k| (ms(10 * k), if k == 30 { 200.0 } else { 1_000.0 }))
        .collect();
    assert_eq!(per_poll, expected, "the reset sample grew by its new value");

    for scope in [cluster("r"), Scope::Fleet] {
        for metric in [Metric::CacheReadRate, Metric::UfsReadRate, Metric::HitRatio] {
            for points in [240, 10] {
                let series = store
                    .series(scope.clone(), metric, at(-600), at(600), points)
                    .await?;
                assert!(!series.is_empty());
                assert!(
                    series.iter().all(|&(_, v)| v >= 0.0),
                    "{scope:?} {metric:?} {points}: {series:?}"
                );
            }
        }
    }
    // At minute steps the reset's minute ends at 52,000, below the minute
    // before it: 52,000 bytes over the 60 s between their last samples.
    let minutes = store
        .series(cluster("r"), Metric::CacheReadRate, at(0), at(600), 10)
        .await?;
    assert_eq!(minutes[4], (ms(300), 52_000.0 / 60.0));
    Ok(())
}

async fn forget_history_removes_only_that_cluster(store: Store) -> anyhow::Result<()> {
    for k in 0..30 {
        store
            .record_samples(&[
                ("a".to_string(), sample_a(k)),
                ("b".to_string(), sample_b(k)),
            ])
            .await?;
    }
    store.roll_up(at(300)).await?;
    store.forget_history("a").await?;
    store.forget_history("never-recorded").await?;

    assert_eq!(store.latest_sample("a").await?, None);
    assert_eq!(store.latest_sample("b").await?, Some(sample_b(29)));
    assert!(
        rollup_rows(&store).await?.iter().all(|row| row.0 == "b"),
        "a's rollups are gone, b's kept"
    );
    for points in [30, 5] {
        for metric in EVERY_METRIC {
            let a = store
                .series(cluster("a"), metric, at(0), at(300), points)
                .await?;
            assert_eq!(a, vec![], "{metric:?}");
            let b = store
                .series(cluster("b"), metric, at(0), at(300), points)
                .await?;
            assert!(!b.is_empty(), "{metric:?}");
            let fleet = store
                .series(Scope::Fleet, metric, at(0), at(300), points)
                .await?;
            assert_eq!(fleet, b, "the fleet is b alone: {metric:?}");
        }
    }
    Ok(())
}

async fn empty_ranges_and_bad_input(store: Store) -> anyhow::Result<()> {
    for metric in EVERY_METRIC {
        let fresh = store
            .series(Scope::Fleet, metric, at(0), at(3600), 240)
            .await?;
        assert_eq!(fresh, vec![], "nothing recorded: {metric:?}");
    }
    record_two_hours(&store).await?;
    store.roll_up(at(TWO_HOURS)).await?;
    for (from, to) in [(-DAY, -1), (TWO_HOURS, DAY), (-40 * DAY, -30 * DAY)] {
        for metric in EVERY_METRIC {
            let series = store
                .series(Scope::Fleet, metric, at(from), at(to), 240)
                .await?;
            assert_eq!(series, vec![], "{metric:?} from {from} s to {to} s");
        }
    }
    let unknown = store
        .series(cluster("zzz"), Metric::HitRatio, at(0), at(3600), 240)
        .await?;
    assert_eq!(unknown, vec![]);

    for (from, to) in [(0, 0), (60, 0)] {
        let err = store
            .series(Scope::Fleet, Metric::HitRatio, at(from), at(to), 240)
            .await
            .unwrap_err();
        assert!(matches!(err, HistoryError::EmptyRange { .. }), "{err}");
        assert!(err.to_string().starts_with("empty time range"), "{err}");
    }
    let err = store
        .series(Scope::Fleet, Metric::UsedBytes, at(0), at(60), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, HistoryError::NoPoints), "{err}");
    assert_eq!(err.to_string(), "no points asked for: expected at least 1");
    Ok(())
}

fn round(clusters: usize, k: i64) -> Vec<(String, Sample)> {
    (0..clusters)
        .map(|c| (format!("cluster-{c:04}"), sample_a(k)))
        .collect()
}

async fn a_poll_round_is_recorded_whole_and_fast(store: Store) -> anyhow::Result<()> {
    let mut timings = Vec::new();
    for k in 0..5 {
        let batch = round(1_000, k);
        let start = Instant::now();
        store.record_samples(&batch).await?;
        timings.push(start.elapsed());
    }
    eprintln!(
        "{}: recording 1,000 samples took {timings:?}",
        store.backend()
    );
    // Far above what either backend needs; it catches a row per statement.
    assert!(
        timings.iter().all(|t| *t < Duration::from_secs(2)),
        "{timings:?}"
    );
    assert_eq!(
        store.latest_sample("cluster-0999").await?,
        Some(sample_a(4))
    );

    // A round bigger than one statement holds, retried: recorded once.
    let big = round(2_500, 5);
    store.record_samples(&big).await?;
    store.record_samples(&big).await?;
    let fleet = store
        .series(Scope::Fleet, Metric::CapacityBytes, at(50), at(60), 1)
        .await?;
    assert_eq!(fleet, vec![(ms(50), 2_500.0 * 1_000_000.0)]);
    store.record_samples(&[]).await?;

    // A value the store cannot hold refuses the whole round.
    let mut bad = round(3, 6);
    bad[2].1.ufs_read_bytes = u64::MAX;
    let err = store.record_samples(&bad).await.unwrap_err();
    assert!(
        matches!(err, HistoryError::OutOfRange { ref cluster, field: "ufs_read_bytes", value: u64::MAX } if cluster == "cluster-0002"),
        "{err}"
    );
    assert_eq!(
        store.latest_sample("cluster-0000").await?,
        Some(sample_a(5))
    );
    Ok(())
}

async fn latest_sample_and_rates(store: Store) -> anyhow::Result<()> {
    assert_eq!(store.latest_sample("a").await?, None);
    assert_eq!(store.latest_rates("a").await?, None);
    store
        .record_samples(&[("a".to_string(), sample_a(0))])
        .await?;
    assert_eq!(
        store.latest_rates("a").await?,
        None,
        "one sample: no interval"
    );
    store
        .record_samples(&[("a".to_string(), sample_a(1))])
        .await?;
    assert_eq!(store.latest_sample("a").await?, Some(sample_a(1)));
    assert_eq!(
        store.latest_rates("a").await?,
        Some(Rates {
            cache_read_per_sec: 3_000.0,
            ufs_read_per_sec: 1_000.0,
            hit_ratio: Some(0.75),
        })
    );
    Ok(())
}

/// Writes rows as no poller would, behind the store's back.
async fn run_sql(store: &Store, sql: &'static str) -> anyhow::Result<()> {
    match store {
        Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop)?,
        Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop)?,
    }
    Ok(())
}

async fn a_corrupt_row_is_an_error(store: Store) -> anyhow::Result<()> {
    const SQL: &str = "INSERT INTO metric_samples (cluster, at_ms, cache_read_bytes, \
        ufs_read_bytes, capacity_bytes, used_bytes, workers_online, workers_total, \
        running_jobs) VALUES ('x', 1704067200000, -5, 0, 0, 0, 0, 0, 0), \
        ('x', 1704067210000, 10, 0, 0, 0, 0, 0, 0)";
    run_sql(&store, SQL).await?;
    let corrupt = |err: HistoryError| {
        assert!(
            matches!(err, HistoryError::Store(StoreError::Corrupt(_))),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "stored row is corrupt: cache_read_bytes -5 is negative"
        );
    };
    corrupt(
        store
            .series(cluster("x"), Metric::CacheReadRate, at(0), at(60), 6)
            .await
            .unwrap_err(),
    );
    // Only the newest row is read, and it is sound.
    assert!(store.latest_sample("x").await?.is_some());
    store.forget_history("x").await?;
    run_sql(&store, SQL).await?;
    corrupt(store.latest_rates("x").await.unwrap_err());
    Ok(())
}
