//! The console store against both real backends: a SQLite file, and a fresh
//! PostgreSQL database on 127.0.0.1:5432 made for this run and dropped after.

use std::collections::BTreeMap;

use ringside_api::{ClusterPatch, NewCluster};
use ringside_console::store::{Store, StoreError};
use sqlx::{Connection, PgConnection};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn cluster(name: &str) -> NewCluster {
    NewCluster {
        name: name.into(),
        coordinator_url: format!("http://{name}.example:19999"),
        labels: BTreeMap::from([("team".to_string(), "ml".to_string())]),
        region: "eu-west-1".into(),
        ..NewCluster::default()
    }
}

async fn exercise(store: &Store) -> anyhow::Result<()> {
    assert!(store.list_clusters().await?.is_empty());
    let b = store
        .insert_cluster(&cluster("b"), Some("v1:sealed".into()))
        .await?;
    let a = store.insert_cluster(&cluster("a"), None).await?;
    assert!(b.has_access_token && !a.has_access_token);
    let listed: Vec<_> = store
        .list_clusters()
        .await?
        .into_iter()
        .map(|s| s.cluster)
        .collect();
    assert_eq!(listed, vec![a.clone(), b.clone()], "listed by name");
    let stored = store.get_cluster("b").await?.unwrap();
    assert_eq!(stored.cluster, b);
    assert_eq!(stored.sealed_token.as_deref(), Some("v1:sealed"));
    assert_eq!(store.get_cluster("zzz").await?, None);

    // A patch changes what it names and keeps the rest.
    let patch = ClusterPatch {
        region: Some("us-east-1".into()),
        ca_certificate: Some("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n".into()),
        ..ClusterPatch::default()
    };
    let changed = store.update_cluster("b", &patch, None).await?.unwrap();
    assert_eq!(changed.cluster.region, "us-east-1");
    assert_eq!(changed.cluster.labels, b.labels);
    assert!(changed.cluster.ca_certificate.is_some());
    assert_eq!(
        changed.sealed_token.as_deref(),
        Some("v1:sealed"),
        "token kept"
    );
    assert!(changed.cluster.updated_at >= b.updated_at);
    let cleared = ClusterPatch {
        ca_certificate: Some(String::new()),
        ..ClusterPatch::default()
    };
    let changed = store
        .update_cluster("b", &cleared, Some(None))
        .await?
        .unwrap();
    assert_eq!(changed.sealed_token, None);
    assert_eq!(changed.cluster.ca_certificate, None);
    assert!(!changed.cluster.has_access_token);
    assert_eq!(store.update_cluster("zzz", &patch, None).await?, None);

    let err = store.insert_cluster(&cluster("a"), None).await.unwrap_err();
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
    store.insert_cluster(&odd, None).await?;
    assert_eq!(
        store.get_cluster("c").await?.unwrap().cluster.labels,
        odd.labels
    );
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
