//! The console store against both real backends: a SQLite file, and a fresh
//! PostgreSQL database on 127.0.0.1:5432 made for this run and dropped after.

use std::collections::BTreeMap;

use ringside_api::NewCluster;
use ringside_console::store::{Store, StoreError};
use sqlx::{Connection, PgConnection};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn cluster(name: &str) -> NewCluster {
    NewCluster {
        name: name.into(),
        coordinator_url: format!("http://{name}.example:19999"),
        labels: BTreeMap::from([("region".to_string(), "eu".to_string())]),
    }
}

async fn exercise(store: &Store) -> anyhow::Result<()> {
    assert!(store.list_clusters().await?.is_empty());
    let b = store.insert_cluster(&cluster("b")).await?;
    let a = store.insert_cluster(&cluster("a")).await?;
    assert_eq!(
        store.list_clusters().await?,
        vec![a.clone(), b.clone()],
        "listed by name"
    );
    assert_eq!(store.get_cluster("b").await?, Some(b));
    assert_eq!(store.get_cluster("zzz").await?, None);

    let err = store.insert_cluster(&cluster("a")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref n) if n == "a"),
        "{err}"
    );
    assert_eq!(
        store.list_clusters().await?.len(),
        2,
        "a refused insert changes nothing"
    );

    assert!(store.delete_cluster("a").await?);
    assert!(!store.delete_cluster("a").await?);
    assert_eq!(store.list_clusters().await?.len(), 1);

    let odd = NewCluster {
        labels: BTreeMap::from([(
            "quote".to_string(),
            "it's \"x\"; DROP TABLE clusters".to_string(),
        )]),
        ..cluster("c")
    };
    store.insert_cluster(&odd).await?;
    assert_eq!(store.get_cluster("c").await?.unwrap().labels, odd.labels);
    Ok(())
}

#[tokio::test]
async fn sqlite_store() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let store = Store::open(&url).await?;
    assert_eq!(store.backend(), "sqlite");
    exercise(&store).await?;
    store.close().await;
    // Reopening runs the migrations again: they must be idempotent.
    let reopened = Store::open(&url).await?;
    assert_eq!(reopened.list_clusters().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn postgres_store() -> anyhow::Result<()> {
    let db = format!("ringside_store_{}_{}", std::process::id(), chrono_suffix());
    let mut admin = PgConnection::connect(PG_ADMIN).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await?;
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let outcome = async {
        let store = Store::open(&url).await?;
        assert_eq!(store.backend(), "postgres");
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

#[tokio::test]
async fn unsupported_urls_are_refused_with_what_is_expected() {
    let err = Store::open("mysql://localhost/x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected sqlite://"), "{err}");
}

fn chrono_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000)
        .unwrap_or(0)
}
