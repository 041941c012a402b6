//! Tenant cache policies on a worker: the set its coordinator pushes
//! (`PUT /api/v1/tenants`) or that it fetches itself when it starts and
//! every `ringside.worker.tenant.sync.interval`, applied to the page store,
//! and the periodic pass that removes pages past their tenant's TTL.

use std::{sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode};
use ringside_api::{
    http::{ApiError, ApiJson},
    tenant::{Evictor, TenantSet, TenantUsage, WorkerTenants},
};
use ringside_pagestore::{EvictorKind, PageStore, TenantRule};
use tokio::sync::Mutex;

use super::WorkerContext;

/// The revision of the tenant set the page store enforces; None before
/// the first.
#[derive(Clone, Debug, Default)]
pub struct Applied(Arc<Mutex<Option<u64>>>);

/// Why a set was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("tenant {tenant}: {error}")]
    Invalid {
        tenant: String,
        error: ringside_api::FieldError,
    },
    #[error("{0}")]
    Refused(ringside_pagestore::PageStoreError),
    #[error("the page store task failed: {0}")]
    Task(String),
}

fn rule(policy: &ringside_api::tenant::TenantPolicy) -> TenantRule {
    TenantRule {
        name: policy.name.clone(),
        prefixes: policy.prefixes.clone(),
        quota_bytes: policy.quota_bytes,
        ttl: policy.ttl_seconds.map(Duration::from_secs),
        evictor: match policy.evictor {
            Evictor::Lru => EvictorKind::Lru,
            Evictor::Lfu => EvictorKind::Lfu,
            Evictor::Fifo => EvictorKind::Fifo,
        },
    }
}

/// Applies `set` unless one of a later revision is applied already (a
/// late push); then removes what the new TTLs expire at once.
pub async fn apply(
    store: &Arc<PageStore>,
    applied: &Applied,
    set: TenantSet,
    only_newer: bool,
) -> Result<bool, ApplyError> {
    let mut rules = Vec::with_capacity(set.tenants.len());
    for policy in set.tenants {
        let tenant = policy.name.clone();
        let policy = policy
            .validate()
            .map_err(|error| ApplyError::Invalid { tenant, error })?;
        rules.push(rule(&policy));
    }
    let mut current = applied.0.lock().await;
    if only_newer && current.is_some_and(|c| c > set.revision) {
        return Ok(false);
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        store.set_tenants(rules)?;
        store.expire(std::time::SystemTime::now());
        Ok::<_, ringside_pagestore::PageStoreError>(())
    })
    .await
    .map_err(|e| ApplyError::Task(e.to_string()))?
    .map_err(ApplyError::Refused)?;
    *current = Some(set.revision);
    tracing::info!(revision = set.revision, "tenant policies applied");
    Ok(true)
}

async fn report(ctx: &WorkerContext) -> WorkerTenants {
    let store = ctx.reader.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.tenant_stats())
        .await
        .unwrap_or_default();
    WorkerTenants {
        worker: ctx.id.clone(),
        revision: *ctx.tenants.0.lock().await,
        tenants: stats
            .into_iter()
            .map(|t| TenantUsage {
                name: t.name,
                used_bytes: t.used_bytes,
                pages: t.pages,
                quota_evicted_bytes_total: t.quota_evicted_bytes_total,
                expired_bytes_total: t.expired_bytes_total,
            })
            .collect(),
    }
}

/// The tenant revision this worker enforces and what each tenant holds.
pub async fn get(State(ctx): State<WorkerContext>) -> Json<WorkerTenants> {
    Json(report(&ctx).await)
}

/// A tenant set pushed by the coordinator.
pub async fn put(
    State(ctx): State<WorkerContext>,
    ApiJson(set): ApiJson<TenantSet>,
) -> Result<Json<WorkerTenants>, ApiError> {
    apply(&ctx.reader.store, &ctx.tenants, set, true)
        .await
        .map_err(|error| match error {
            ApplyError::Invalid { .. } | ApplyError::Refused(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", error.to_string())
            }
            ApplyError::Task(_) => {
                tracing::error!(%error, "cannot apply tenant policies");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    error.to_string(),
                )
            }
        })?;
    Ok(Json(report(&ctx).await))
}

/// Every `interval`, from the start: fetches the coordinator's tenant set
/// and applies it when its revision differs from the one enforced (a push
/// missed while down, or a coordinator whose metastore was replaced), then
/// expires pages past their TTL.
pub async fn sync_loop(ctx: WorkerContext, coordinator: String, interval: Duration) {
    let url = format!(
        "{}{}/tenants/set",
        coordinator.trim_end_matches('/'),
        ringside_api::API_PREFIX
    );
    let http = match reqwest::Client::builder()
        .default_headers(ctx.guard.client_headers())
        .timeout(interval.max(Duration::from_secs(2)))
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "cannot build the tenant sync client; tenant policies come by push only");
            return;
        }
    };
    let mut tick = tokio::time::interval(interval);
    let mut reachable = true;
    loop {
        tick.tick().await;
        let fetched = async {
            http.get(&url)
                .send()
                .await?
                .error_for_status()?
                .json::<TenantSet>()
                .await
        }
        .await;
        match fetched {
            Ok(set) => {
                reachable = true;
                let applied = *ctx.tenants.0.lock().await;
                if applied != Some(set.revision)
                    && let Err(error) = apply(&ctx.reader.store, &ctx.tenants, set, false).await
                {
                    tracing::warn!(%error, "cannot apply the coordinator's tenant policies");
                }
            }
            Err(error) if reachable => {
                reachable = false;
                tracing::warn!(%url, error = %ringside_api::error::root_cause(&error), "cannot fetch tenant policies; the ones applied stay");
            }
            Err(_) => {}
        }
        let store = ctx.reader.store.clone();
        let _ =
            tokio::task::spawn_blocking(move || store.expire(std::time::SystemTime::now())).await;
    }
}
