//! The coordinator's HTTP API, under `/api/v1` and described by the OpenAPI
//! document it serves at `/api/v1/openapi.json`.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use ringside_api::{
    ClusterInfo, ErrorBody, WorkerHeartbeat, WorkerView,
    http::{ApiError, ApiJson, harden, route_not_found},
};
use utoipa::OpenApi;

use super::CoordinatorState;
use crate::membership::MembershipError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ringside coordinator API",
        description = "The control plane of one Ringside cluster."
    ),
    paths(info, healthz, heartbeat, list_workers, remove_worker, ring),
    components(schemas(
        ClusterInfo,
        ErrorBody,
        ringside_api::ErrorDetail,
        WorkerHeartbeat,
        WorkerView,
        ringside_api::WorkerState
    ))
)]
struct ApiDoc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router(state: CoordinatorState) -> Router {
    let http_metrics = state.metrics.http.clone();
    let v1 = Router::new()
        .route("/info", get(info))
        .route("/workers", get(list_workers))
        .route("/workers/heartbeat", post(heartbeat))
        .route("/workers/{id}", delete(remove_worker))
        .route("/ring", get(ring))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .fallback(route_not_found);
    harden(
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .nest(ringside_api::API_PREFIX, v1)
            .fallback(route_not_found)
            .with_state(state)
            .layer(axum::middleware::from_fn_with_state(
                http_metrics,
                crate::metrics::track,
            )),
    )
}

impl From<MembershipError> for ApiError {
    fn from(error: MembershipError) -> Self {
        let (status, code) = match &error {
            MembershipError::UnknownWorker(_) => (StatusCode::NOT_FOUND, "not_found"),
            MembershipError::NotListed { .. } => (StatusCode::FORBIDDEN, "not_listed"),
            MembershipError::InvalidHeartbeat(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            MembershipError::HeartbeatToEtcdCluster => (StatusCode::CONFLICT, "conflict"),
            _ => {
                tracing::error!(%error, "membership operation failed");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

/// Who this cluster is and what runs it.
#[utoipa::path(get, path = "/api/v1/info", responses((status = 200, body = ClusterInfo)))]
async fn info(State(state): State<CoordinatorState>) -> Json<ClusterInfo> {
    Json(state.info)
}

/// Liveness: answers `ok` while the process serves requests.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// A worker announces itself and its page store; sent every heartbeat interval.
#[utoipa::path(post, path = "/api/v1/workers/heartbeat", request_body = WorkerHeartbeat, responses(
    (status = 204, description = "Recorded"),
    (status = 400, body = ErrorBody),
    (status = 403, description = "Not in the static worker list", body = ErrorBody),
))]
async fn heartbeat(
    State(state): State<CoordinatorState>,
    ApiJson(hb): ApiJson<WorkerHeartbeat>,
) -> Result<StatusCode, ApiError> {
    state.membership.heartbeat(&hb).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every member with its state (ONLINE, OFFLINE) and page store use.
#[utoipa::path(get, path = "/api/v1/workers", responses((status = 200, body = [WorkerView])))]
async fn list_workers(
    State(state): State<CoordinatorState>,
) -> Result<Json<Vec<WorkerView>>, ApiError> {
    Ok(Json(state.membership.list().await?))
}

/// Removes a worker from the member list for good.
#[utoipa::path(delete, path = "/api/v1/workers/{id}", params(("id" = String, Path, description = "Worker id")), responses(
    (status = 204, description = "Removed"),
    (status = 404, body = ErrorBody),
))]
async fn remove_worker(
    State(state): State<CoordinatorState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.membership.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The hash ring clients route reads with: policy, epoch and members.
#[utoipa::path(get, path = "/api/v1/ring", responses((status = 200, description = "The ring's spec, as the ring library reads it")))]
async fn ring(State(state): State<CoordinatorState>) -> Json<ringside_ring::RingSpec> {
    Json(state.membership.ring().to_spec())
}

/// Prometheus metrics: members by state, the ring's epoch, and the
/// cluster's page store totals from the workers' heartbeats.
async fn metrics(State(state): State<CoordinatorState>) -> axum::response::Response {
    match state.membership.list().await {
        Ok(workers) => state
            .metrics
            .observe(&workers, state.membership.ring().epoch()),
        Err(error) => tracing::warn!(%error, "cannot list workers for metrics"),
    }
    crate::metrics::render(&state.metrics.registry)
}
