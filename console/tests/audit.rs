//! The audit trail in the store, against both real backends: a SQLite file
//! and a fresh PostgreSQL database on 127.0.0.1:5432, dropped afterwards.
//! Recording, every filter, keyset paging, a streamed export across
//! batches, redaction, and the triggers that keep the tables append-only.

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use ringside_api::audit::{AuditEntry, AuditFilter, AuditResult, Outcome, PageRequest};
use ringside_console::{
    Actor,
    audit::{AuditLog, REDACTED, Record},
    store::Store,
};
use serde_json::json;
use sqlx::{Connection, PgConnection};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn all(log: &AuditLog, filter: AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
    Ok(log.export(filter).try_collect().await?)
}

async fn ids(log: &AuditLog, filter: AuditFilter) -> anyhow::Result<Vec<i64>> {
    let page = log
        .search(
            &filter,
            PageRequest {
                limit: 500,
                before: None,
            },
        )
        .await?;
    Ok(page.entries.iter().map(|e| e.id).collect())
}

async fn exercise(store: &Store) -> anyhow::Result<()> {
    let log = AuditLog::new(store.clone());
    let admin = Actor::named("admin");
    let alice = Actor::named("alice@example.com");
    assert!(all(&log, AuditFilter::default()).await?.is_empty());

    let register = log
        .record_at(
            Record::new(&admin, "cluster.register")
                .target("alpha")
                .detail(json!({
                    "name": "alpha",
                    "coordinator_url": "http://h:1",
                    "access_token": "tok-s3cr3t-value",
                    "labels": {"team": "ML 50%_off"},
                })),
            t0(),
        )
        .await?;
    assert_eq!(register.detail["access_token"], REDACTED, "redacted");
    let refused = log
        .record_at(
            Record::new(&admin, "cluster.register")
                .target("beta")
                .detail(json!({"coordinator_url": "http://bob:hunter2@h:1"}))
                .refused(
                    "invalid_field",
                    "\"http://bob:hunter2@h:1\" carries credentials",
                    Some("coordinator_url"),
                ),
            t0() + Duration::minutes(1),
        )
        .await?;
    let update = log
        .record_at(
            Record::new(&alice, "cluster.update")
                .target("alpha")
                .detail(json!({"region": "us-east-1"})),
            t0() + Duration::minutes(2),
        )
        .await?;
    let wave = log
        .record_at(
            Record::new(&alice, "operation.target")
                .targets(["alpha", "gamma", "alpha", " "].map(String::from))
                .detail(json!({"wave": 1})),
            t0() + Duration::minutes(3),
        )
        .await?;
    let remove = log
        .record_at(
            Record::new(&admin, "cluster.remove").target("alphabet"),
            t0() + Duration::minutes(4),
        )
        .await?;
    assert!(register.id < refused.id && refused.id < update.id);
    assert!(update.id < wave.id && wave.id < remove.id, "ids grow");
    assert_eq!(wave.targets, ["alpha", "gamma"], "deduplicated, blanks out");

    // As stored: the same entries come back, secrets never.
    let everything = all(&log, AuditFilter::default()).await?;
    assert_eq!(
        everything,
        vec![
            register.clone(),
            refused.clone(),
            update.clone(),
            wave.clone(),
            remove.clone()
        ]
    );
    let text = serde_json::to_string(&everything)?;
    assert!(!text.contains("tok-s3cr3t-value"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(
        everything[1].result,
        AuditResult::Error {
            code: "invalid_field".into(),
            message: "\"http://[redacted]@h:1\" carries credentials".into(),
            field: Some("coordinator_url".into()),
        }
    );
    assert_eq!(everything[0].at, t0());

    // Newest first; keyset pages walk every entry exactly once.
    let newest_first = ids(&log, AuditFilter::default()).await?;
    assert_eq!(
        newest_first,
        vec![remove.id, wave.id, update.id, refused.id, register.id]
    );
    let mut walked = Vec::new();
    let mut before = None;
    loop {
        let page = log
            .search(&AuditFilter::default(), PageRequest { limit: 2, before })
            .await?;
        assert!(page.entries.len() <= 2);
        walked.extend(page.entries.iter().map(|e| e.id));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(walked, newest_first);

    // Every filter, alone and together.
    let f = |build: fn(&mut AuditFilter)| {
        let mut filter = AuditFilter::default();
        build(&mut filter);
        filter
    };
    for (filter, want, what) in [
        (
            f(|f| f.text = Some("ALPHA".into())),
            vec![remove.id, wave.id, update.id, register.id],
            "text ignores case, over targets and detail",
        ),
        (
            f(|f| f.text = Some("50%_off".into())),
            vec![register.id],
            "pattern characters are literal",
        ),
        (
            f(|f| f.text = Some("carries credentials".into())),
            vec![refused.id],
            "text searches the error",
        ),
        (
            f(|f| f.text = Some("alice".into())),
            vec![wave.id, update.id],
            "text searches the actor",
        ),
        (
            f(|f| f.actor = Some("admin".into())),
            vec![remove.id, refused.id, register.id],
            "actor",
        ),
        (
            f(|f| f.action = Some("cluster.".into())),
            vec![remove.id, update.id, refused.id, register.id],
            "action prefix",
        ),
        (
            f(|f| f.action = Some("cluster.register".into())),
            vec![refused.id, register.id],
            "a whole action",
        ),
        (
            f(|f| f.cluster = Some("alpha".into())),
            vec![wave.id, update.id, register.id],
            "cluster is exact: not alphabet",
        ),
        (
            f(|f| f.cluster = Some("gamma".into())),
            vec![wave.id],
            "any target",
        ),
        (
            f(|f| f.outcome = Some(Outcome::Error)),
            vec![refused.id],
            "failures",
        ),
        (
            f(|f| f.outcome = Some(Outcome::Ok)),
            vec![remove.id, wave.id, update.id, register.id],
            "successes",
        ),
        (
            f(|f| {
                f.from = Some(t0() + Duration::minutes(1));
                f.to = Some(t0() + Duration::minutes(3));
            }),
            vec![update.id, refused.id],
            "from is inclusive, to exclusive",
        ),
        (
            f(|f| {
                f.cluster = Some("alpha".into());
                f.actor = Some("alice@example.com".into());
                f.action = Some("cluster".into());
            }),
            vec![update.id],
            "together",
        ),
    ] {
        assert_eq!(ids(&log, filter.clone()).await?, want, "{what}");
        let exported: Vec<i64> = all(&log, filter).await?.iter().map(|e| e.id).collect();
        let mut oldest_first = want.clone();
        oldest_first.reverse();
        assert_eq!(exported, oldest_first, "export: {what}");
    }

    // An export longer than one batch streams all of it, in order.
    for i in 0..1_100 {
        log.record(
            Record::new(&Actor::system("bulk"), "operation.target")
                .target(format!("c{}", i % 7))
                .detail(json!({"i": i})),
        )
        .await?;
    }
    let bulk = all(
        &log,
        AuditFilter {
            actor: Some("system:bulk".into()),
            ..AuditFilter::default()
        },
    )
    .await?;
    assert_eq!(bulk.len(), 1_100);
    assert!(bulk.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(bulk[1_099].detail, json!({"i": 1_099}));
    let c3 = all(
        &log,
        AuditFilter {
            cluster: Some("c3".into()),
            ..AuditFilter::default()
        },
    )
    .await?;
    assert_eq!(c3.len(), (0..1_100).filter(|i| i % 7 == 3).count());

    // Append-only at the database: whoever sends the statement.
    let before_count = all(&log, AuditFilter::default()).await?.len();
    for sql in [
        "UPDATE audit_log SET actor = 'mallory'",
        "UPDATE audit_log SET result_code = 'ok' WHERE id = 2",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 1",
        "UPDATE audit_targets SET cluster = 'x'",
        "DELETE FROM audit_targets",
    ] {
        let outcome = match store {
            Store::Sqlite(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ()),
            Store::Postgres(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ()),
        };
        let error = outcome.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    if let Store::Postgres(pool) = store {
        let error = sqlx::raw_sql("TRUNCATE audit_log, audit_targets")
            .execute(pool)
            .await
            .expect_err("TRUNCATE")
            .to_string();
        assert!(error.contains("append-only"), "{error}");
    }
    let after = all(&log, AuditFilter::default()).await?;
    assert_eq!(after.len(), before_count, "nothing was removed");
    assert_eq!(after[0], register, "nothing was changed");
    Ok(())
}

#[tokio::test]
async fn sqlite_audit_trail() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let store = Store::open(&url).await?;
    exercise(&store).await?;
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn postgres_audit_trail() -> anyhow::Result<()> {
    let db = format!("ringside_audit_{}_{}", std::process::id(), suffix());
    let mut admin = PgConnection::connect(PG_ADMIN).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await?;
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let outcome = async {
        let store = Store::open(&url).await?;
        exercise(&store).await?;
        store.close().await;
        anyhow::Ok(())
    }
    .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    outcome
}

fn suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000)
        .unwrap_or(0)
}
