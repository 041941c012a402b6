//! The cluster's tenants as the coordinator keeps them: their cache
//! policies in the metastore, with a revision that grows on every change,
//! pushed whole to every ONLINE worker as they change. Workers that miss a
//! push (down, or joining later) fetch the set themselves every
//! `ringside.worker.tenant.sync.interval`.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::Utc;
use futures::{StreamExt, stream};
use ringside_api::{
    WorkerState, WorkerView,
    tenant::{
        TenantChange, TenantPolicy, TenantSet, TenantsView, WorkerPush, WorkerTenants,
        check_prefixes_free,
    },
};
use sqlx::{Row, SqlitePool};
use tokio::sync::Mutex;

use crate::membership::{Membership, MembershipError};

/// Version of the JSON kept in the `tenants` table.
const FORMAT_VERSION: i64 = 1;
/// How long a worker may take to answer a push or a usage query.
const WORKER_TIMEOUT: Duration = Duration::from_secs(5);
/// Workers asked at once.
const FAN_OUT: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("metastore database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error("tenant {name} in the metastore: {reason}")]
    Corrupt { name: String, reason: String },
    #[error("{0}")]
    Invalid(ringside_api::FieldError),
    #[error("no tenant {0}")]
    UnknownTenant(String),
}

#[derive(Clone, Debug)]
pub struct TenantService {
    pool: SqlitePool,
    membership: Membership,
    http: reqwest::Client,
    /// Held from a change's write to the end of its push, so pushes go out
    /// in revision order.
    lock: Arc<Mutex<()>>,
}

impl TenantService {
    pub fn new(
        pool: SqlitePool,
        membership: Membership,
        headers: reqwest::header::HeaderMap,
    ) -> Result<TenantService, reqwest::Error> {
        Ok(TenantService {
            pool,
            membership,
            http: reqwest::Client::builder()
                .default_headers(headers)
                .timeout(WORKER_TIMEOUT)
                .build()?,
            lock: Arc::default(),
        })
    }

    /// The tenant set and its revision, as workers fetch it.
    pub async fn set(&self) -> Result<TenantSet, TenantError> {
        let revision: i64 = sqlx::query("SELECT revision FROM tenant_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("revision")?;
        let rows = sqlx::query("SELECT name, format_version, policy FROM tenants ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut tenants = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get("name")?;
            let version: i64 = row.try_get("format_version")?;
            if version != FORMAT_VERSION {
                return Err(TenantError::Corrupt {
                    name,
                    reason: format!(
                        "format version {version}: this build reads version {FORMAT_VERSION}"
                    ),
                });
            }
            let text: String = row.try_get("policy")?;
            tenants.push(
                serde_json::from_str(&text).map_err(|e| TenantError::Corrupt {
                    name,
                    reason: e.to_string(),
                })?,
            );
        }
        Ok(TenantSet {
            revision: revision.max(0) as u64,
            tenants,
        })
    }

    /// The set, with what every ONLINE worker enforces and holds.
    pub async fn view(&self) -> Result<TenantsView, TenantError> {
        let set = self.set().await?;
        let answers = self
            .each_online_worker(|http, worker| async move {
                let url = worker_url(&worker);
                let answer = async {
                    let response = http.get(&url).send().await?.error_for_status()?;
                    response.json::<WorkerTenants>().await
                }
                .await;
                (worker, answer)
            })
            .await?;
        let mut used_bytes = BTreeMap::new();
        let workers = answers
            .into_iter()
            .map(|(worker, answer)| match answer {
                Ok(tenants) => {
                    for usage in &tenants.tenants {
                        *used_bytes.entry(usage.name.clone()).or_default() += usage.used_bytes;
                    }
                    push_answer(&worker, Ok(tenants.revision))
                }
                Err(e) => push_answer(&worker, Err(ringside_api::error::root_cause(&e))),
            })
            .collect();
        Ok(TenantsView {
            revision: set.revision,
            tenants: set.tenants,
            workers,
            used_bytes,
        })
    }

    /// Creates or replaces a tenant's policy, then pushes the new set to
    /// the workers.
    pub async fn put(&self, policy: TenantPolicy) -> Result<TenantChange, TenantError> {
        let policy = policy.validate().map_err(TenantError::Invalid)?;
        let _guard = self.lock.lock().await;
        let current = self.set().await?;
        check_prefixes_free(&policy, &current.tenants).map_err(TenantError::Invalid)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (name, format_version, policy, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET format_version = excluded.format_version, \
             policy = excluded.policy, updated_at = excluded.updated_at",
        )
        .bind(&policy.name)
        .bind(FORMAT_VERSION)
        .bind(serde_json::to_string(&policy).expect("serializes"))
        .bind(Utc::now().timestamp_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE tenant_revision SET revision = revision + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(
            tenant = %policy.name,
            group = %policy.group,
            quota_bytes = policy.quota_bytes,
            ttl_seconds = policy.ttl_seconds,
            evictor = policy.evictor.as_str(),
            "tenant policy set"
        );
        self.push().await
    }

    /// Removes a tenant: its files are nobody's again, under the store's
    /// own eviction and no TTL.
    pub async fn delete(&self, name: &str) -> Result<TenantChange, TenantError> {
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM tenants WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(TenantError::UnknownTenant(name.to_string()));
        }
        sqlx::query("UPDATE tenant_revision SET revision = revision + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(tenant = name, "tenant removed");
        self.push().await
    }

    /// Sends the current set to every ONLINE worker.
    async fn push(&self) -> Result<TenantChange, TenantError> {
        let set = Arc::new(self.set().await?);
        let body = set.clone();
        let workers = self
            .each_online_worker(move |http, worker| {
                let body = body.clone();
                async move {
                    let answer = async {
                        let response = http
                            .put(worker_url(&worker))
                            .json(&*body)
                            .send()
                            .await
                            .map_err(|e| ringside_api::error::root_cause(&e))?;
                        let status = response.status();
                        if !status.is_success() {
                            let text = response.text().await.unwrap_or_default();
                            return Err(format!("answered {status}: {text}"));
                        }
                        response
                            .json::<WorkerTenants>()
                            .await
                            .map(|t| t.revision)
                            .map_err(|e| ringside_api::error::root_cause(&e))
                    }
                    .await;
                    push_answer(&worker, answer)
                }
            })
            .await?;
        for failed in workers.iter().filter(|w| w.error.is_some()) {
            tracing::warn!(
                worker = %failed.worker,
                address = %failed.address,
                error = failed.error.as_deref().unwrap_or_default(),
                "tenant policies not pushed to a worker; it catches up on its own"
            );
        }
        let set = Arc::unwrap_or_clone(set);
        Ok(TenantChange {
            revision: set.revision,
            tenants: set.tenants,
            workers,
        })
    }

    async fn each_online_worker<F, Fut, T>(&self, call: F) -> Result<Vec<T>, TenantError>
    where
        F: Fn(reqwest::Client, WorkerView) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let workers = self
            .membership
            .list()
            .await?
            .into_iter()
            .filter(|w| w.state == WorkerState::Online);
        Ok(stream::iter(workers)
            .map(|worker| call(self.http.clone(), worker))
            .buffered(FAN_OUT)
            .collect()
            .await)
    }
}

fn worker_url(worker: &WorkerView) -> String {
    format!(
        "{}{}/tenants",
        worker.heartbeat.address.trim_end_matches('/'),
        ringside_api::API_PREFIX
    )
}

fn push_answer(worker: &WorkerView, answer: Result<Option<u64>, String>) -> WorkerPush {
    let (revision, error) = match answer {
        Ok(revision) => (revision, None),
        Err(error) => (None, Some(error)),
    };
    WorkerPush {
        worker: worker.heartbeat.id.clone(),
        address: worker.heartbeat.address.clone(),
        revision,
        error,
    }
}
