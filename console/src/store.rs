//! The console's database: SQLite by default, PostgreSQL at scale. Queries
//! are built once with sea-query and run on whichever backend is configured,
//! so both always hold the same data in the same shape.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ringside_api::{Cluster, ClusterPatch, NewCluster};
use sea_query::{Expr, ExprTrait, Iden, Order, Query, QueryBuilder};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::{
    AssertSqlSafe, PgPool, Row, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL {0:?}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl(String),
    #[error("a cluster named {0:?} is already registered")]
    Duplicate(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

/// A connection pool to the console's database.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Iden)]
enum Clusters {
    Table,
    Name,
    CoordinatorUrl,
    Labels,
    Region,
    AccessTokenSealed,
    CaCertificate,
    CreatedAt,
    UpdatedAt,
}

/// A cluster as stored: what every API shows, plus its sealed access token,
/// which only the poller opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCluster {
    pub cluster: Cluster,
    pub sealed_token: Option<String>,
}

/// Runs `$body` with `$pool` bound to the backend's pool and `$builder` to
/// its sea-query builder: one query text, compiled for each backend.
macro_rules! on_backend {
    ($store:expr, |$pool:ident, $builder:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => {
                let $builder = sea_query::SqliteQueryBuilder;
                $body
            }
            Store::Postgres($pool) => {
                let $builder = sea_query::PostgresQueryBuilder;
                $body
            }
        }
    };
}
pub(crate) use on_backend;

/// Runs the select `$query` on `$store`'s backend and maps each row with
/// `$map` (which sees `$row` and may use `?` on `StoreError`s): the
/// fetch-and-map every reading query shares.
macro_rules! fetch_rows {
    ($store:expr, $query:expr, |$row:ident| $map:expr) => {
        crate::store::on_backend!($store, |pool, builder| {
            let (sql, values) = sea_query_sqlx::SqlxBinder::build_sqlx($query, builder);
            let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), values)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|$row| -> Result<_, crate::store::StoreError> { $map })
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
    };
}
pub(crate) use fetch_rows;

impl Store {
    /// Connects to `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await?;
            sqlx::migrate!("../migrations/postgres").run(&pool).await?;
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_backend!(self, |pool, _b| pool.close().await)
    }

    /// Registers a cluster; its name must not be taken. The access token
    /// comes sealed, never in the clear.
    pub async fn insert_cluster(
        &self,
        new: &NewCluster,
        sealed_token: Option<String>,
    ) -> Result<Cluster, StoreError> {
        let now = Utc::now();
        let millis = now.timestamp_millis();
        let labels =
            serde_json::to_string(&new.labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let query = Query::insert()
            .into_table(Clusters::Table)
            .columns([
                Clusters::Name,
                Clusters::CoordinatorUrl,
                Clusters::Labels,
                Clusters::Region,
                Clusters::AccessTokenSealed,
                Clusters::CaCertificate,
                Clusters::CreatedAt,
                Clusters::UpdatedAt,
            ])
            .values_panic([
                new.name.clone().into(),
                new.coordinator_url.clone().into(),
                labels.into(),
                new.region.clone().into(),
                sealed_token.clone().into(),
                new.ca_certificate.clone().into(),
                millis.into(),
                millis.into(),
            ])
            .to_owned();
        let result = on_backend!(self, |pool, builder| {
            let (sql, values) = query.build_sqlx(builder);
            sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(pool)
                .await
                .map(|_| ())
        });
        match result {
            Ok(()) => Ok(Cluster {
                name: new.name.clone(),
                coordinator_url: new.coordinator_url.clone(),
                labels: new.labels.clone(),
                region: new.region.clone(),
                has_access_token: sealed_token.is_some(),
                ca_certificate: new.ca_certificate.clone(),
                created_at: truncate_to_millis(now),
                updated_at: truncate_to_millis(now),
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Duplicate(new.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every registered cluster, by name.
    pub async fn list_clusters(&self) -> Result<Vec<StoredCluster>, StoreError> {
        self.select_clusters(None).await
    }

    pub async fn get_cluster(&self, name: &str) -> Result<Option<StoredCluster>, StoreError> {
        Ok(self.select_clusters(Some(name)).await?.pop())
    }

    /// Applies a validated patch; `sealed_token` is `Some(None)` to remove
    /// the token, `None` to keep it. Answers the cluster as it now is, or
    /// none when no cluster has that name.
    pub async fn update_cluster(
        &self,
        name: &str,
        patch: &ClusterPatch,
        sealed_token: Option<Option<String>>,
    ) -> Result<Option<StoredCluster>, StoreError> {
        let mut query = Query::update();
        query
            .table(Clusters::Table)
            .value(Clusters::UpdatedAt, Utc::now().timestamp_millis())
            .and_where(Expr::col(Clusters::Name).eq(name));
        if let Some(url) = &patch.coordinator_url {
            query.value(Clusters::CoordinatorUrl, url.clone());
        }
        if let Some(labels) = &patch.labels {
            let json =
                serde_json::to_string(labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            query.value(Clusters::Labels, json);
        }
        if let Some(region) = &patch.region {
            query.value(Clusters::Region, region.clone());
        }
        if let Some(sealed) = sealed_token {
            query.value(Clusters::AccessTokenSealed, sealed);
        }
        if let Some(pem) = &patch.ca_certificate {
            query.value(
                Clusters::CaCertificate,
                Some(pem.clone()).filter(|p| !p.is_empty()),
            );
        }
        if self.rows_affected(&query).await? == 0 {
            return Ok(None);
        }
        self.get_cluster(name).await
    }

    /// Runs a statement and answers how many rows it changed.
    pub(crate) async fn rows_affected(&self, query: &impl SqlxBinder) -> Result<u64, StoreError> {
        Ok(on_backend!(self, |pool, builder| {
            let (sql, values) = query.build_sqlx(builder);
            sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Runs `statements` in order in one transaction.
    pub(crate) async fn execute_all(
        &self,
        statements: &[impl SqlxBinder],
    ) -> Result<(), StoreError> {
        on_backend!(self, |pool, builder| {
            let mut tx = pool.begin().await?;
            for (sql, values) in build_each(statements, builder) {
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes a cluster; answers whether it existed.
    pub async fn delete_cluster(&self, name: &str) -> Result<bool, StoreError> {
        let query = Query::delete()
            .from_table(Clusters::Table)
            .and_where(Expr::col(Clusters::Name).eq(name))
            .to_owned();
        Ok(self.rows_affected(&query).await? > 0)
    }

    async fn select_clusters(&self, name: Option<&str>) -> Result<Vec<StoredCluster>, StoreError> {
        let mut query = Query::select();
        query
            .columns([
                Clusters::Name,
                Clusters::CoordinatorUrl,
                Clusters::Labels,
                Clusters::Region,
                Clusters::AccessTokenSealed,
                Clusters::CaCertificate,
                Clusters::CreatedAt,
                Clusters::UpdatedAt,
            ])
            .from(Clusters::Table)
            .order_by(Clusters::Name, Order::Asc);
        if let Some(name) = name {
            query.and_where(Expr::col(Clusters::Name).eq(name));
        }
        fetch_rows!(self, &query, |row| {
            let labels: String = row.try_get("labels")?;
            let sealed_token: Option<String> = row.try_get("access_token_sealed")?;
            Ok(StoredCluster {
                cluster: Cluster {
                    name: row.try_get("name")?,
                    coordinator_url: row.try_get("coordinator_url")?,
                    labels: parse_labels(&labels)?,
                    region: row.try_get("region")?,
                    has_access_token: sealed_token.is_some(),
                    ca_certificate: row.try_get("ca_certificate")?,
                    created_at: from_millis(row.try_get("created_at")?)?,
                    updated_at: from_millis(row.try_get("updated_at")?)?,
                },
                sealed_token,
            })
        })
    }
}

/// Each statement's SQL and values for the backend `_builder` stands for.
pub(crate) fn build_each<B, S>(statements: &[S], _builder: B) -> Vec<(String, SqlxValues)>
where
    B: QueryBuilder + Default,
    S: SqlxBinder,
{
    statements
        .iter()
        .map(|statement| statement.build_sqlx(B::default()))
        .collect()
}

fn parse_labels(json: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("labels {json:?}: {e}")))
}

fn from_millis(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {millis} out of range")))
}

/// What comes back from the database has millisecond precision; returning
/// the same precision on insert keeps `insert` and `get` answers equal.
fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}
