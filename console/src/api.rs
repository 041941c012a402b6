//! The console's REST API under `/api/v1`, described by the OpenAPI document
//! it serves at `/api/v1/openapi.json`.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get, post},
};
use ringside_api::{
    ClusterDetail, ClusterPatch, ClusterView, ErrorBody, NewCluster,
    audit::action,
    http::{ApiError, ApiJson, ApiQuery, harden, route_not_found},
};
use utoipa::OpenApi;

use crate::{Actor, AppState, ConsoleError, audit::Record};
use audit::audit_refused;

mod access;
mod audit;
pub mod auth;
mod licenses;
mod operations;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ringside console API",
        description = "Register and watch Ringside clusters."
    ),
    paths(
        list_clusters,
        register_cluster,
        get_cluster,
        update_cluster,
        remove_cluster,
        ring_preview,
        remove_stale_workers,
        drift
    ),
    components(schemas(
        ClusterView,
        ClusterDetail,
        NewCluster,
        ClusterPatch,
        ringside_api::drift::DriftReport,
        ringside_api::drift::DriftRow,
        ErrorBody,
        ringside_api::Cluster,
        ringside_api::ClusterStatus,
        ringside_api::Health,
        ringside_api::WorkerView,
        ringside_api::WorkerHeartbeat,
        ringside_api::WorkerState,
        ringside_api::job::JobView,
        ringside_api::job::JobType,
        ringside_api::job::JobState,
        ringside_api::job::JobOptions,
        ringside_api::job::JobProgress,
        ringside_api::job::FailedFile,
        ringside_api::ErrorDetail,
        ringside_api::lifecycle::LifecycleStatus,
        ringside_api::lifecycle::RestartProgress,
        ringside_api::lifecycle::DesiredState,
        ringside_api::lifecycle::ProcessView,
        ringside_api::lifecycle::Phase,
        ringside_api::lifecycle::Component
    ))
)]
struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(audit::AuditDoc::openapi());
    doc.merge(operations::OperationsDoc::openapi());
    doc.merge(licenses::LicensesDoc::openapi());
    doc.merge(auth::AuthDoc::openapi());
    doc.merge(access::AccessDoc::openapi());
    doc
}

/// Routes to nest under `/api/v1`.
pub fn router() -> Router<AppState> {
    harden(
        Router::new()
            .route("/clusters", get(list_clusters).post(register_cluster))
            .route(
                "/clusters/{name}",
                get(get_cluster)
                    .patch(update_cluster)
                    .delete(remove_cluster),
            )
            .route("/clusters/{name}/ring-preview", post(ring_preview))
            .route(
                "/clusters/{name}/stale-workers",
                delete(remove_stale_workers),
            )
            .route("/drift", get(drift))
            .merge(audit::router())
            .merge(operations::router())
            .merge(licenses::router())
            .merge(auth::router())
            .merge(access::router())
            .route("/openapi.json", get(|| async { Json(openapi()) }))
            .fallback(route_not_found),
    )
}

impl From<ConsoleError> for ApiError {
    fn from(error: ConsoleError) -> Self {
        ApiError::from(&error)
    }
}

/// The answer to an error, also what the audit trail records of it.
impl From<&ConsoleError> for ApiError {
    fn from(error: &ConsoleError) -> Self {
        match error {
            ConsoleError::Invalid(field) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", error.to_string())
                    .with_field(field.field.clone())
            }
            ConsoleError::Conflict(field) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string())
                    .with_field(field.field.clone())
            }
            ConsoleError::NotFound(_)
            | ConsoleError::NoOperation(_)
            | ConsoleError::NoLicense(_)
            | ConsoleError::NoToken(_)
            | ConsoleError::NoTarget { .. } => ApiError::not_found(error.to_string()),
            ConsoleError::OperationFinished { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "operation_finished",
                error.to_string(),
            ),
            ConsoleError::Unreachable { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "unreachable", error.to_string())
            }
            ConsoleError::Identity(refusal) if refusal.is_refusal() => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                error.to_string(),
            ),
            ConsoleError::Store(_)
            | ConsoleError::Identity(_)
            | ConsoleError::Policy(_)
            | ConsoleError::Secret(_)
            | ConsoleError::History(_)
            | ConsoleError::Chart(_)
            | ConsoleError::DataDir { .. } => {
                tracing::error!(%error, "console operation failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    error.to_string(),
                )
            }
        }
    }
}

/// Lists every registered cluster with its live status.
#[utoipa::path(get, path = "/api/v1/clusters", responses(
    (status = 200, description = "Registered clusters, by name", body = [ClusterView]),
))]
async fn list_clusters(State(state): State<AppState>) -> Result<Json<Vec<ClusterView>>, ApiError> {
    Ok(Json(state.list_clusters().await?))
}

/// Registers a cluster by its coordinator's URL.
#[utoipa::path(post, path = "/api/v1/clusters", request_body = NewCluster, responses(
    (status = 201, description = "Registered", body = ClusterView),
    (status = 400, description = "A field breaks its rule", body = ErrorBody),
    (status = 409, description = "The name is taken", body = ErrorBody),
    (status = 413, description = "Body too large", body = ErrorBody),
    (status = 415, description = "Not JSON", body = ErrorBody),
))]
async fn register_cluster(
    State(state): State<AppState>,
    actor: Actor,
    body: Result<ApiJson<NewCluster>, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let record = Record::new(&actor, action::CLUSTER_REGISTER);
    let new = audit_refused(&state, record, body).await?;
    let view = state.register_cluster(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One cluster with its live status, and the members, ring and jobs its
/// coordinator last reported.
#[utoipa::path(get, path = "/api/v1/clusters/{name}", params(("name" = String, Path, description = "Cluster name")), responses(
    (status = 200, body = ClusterDetail),
    (status = 404, body = ErrorBody),
))]
async fn get_cluster(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ClusterDetail>, ApiError> {
    Ok(Json(state.cluster_detail(&name).await?))
}

/// Changes a cluster's URL, region, labels, access token or CA
/// certificate; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/clusters/{name}", params(("name" = String, Path, description = "Cluster name")), request_body = ClusterPatch, responses(
    (status = 200, body = ClusterView),
    (status = 400, description = "A field breaks its rule", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn update_cluster(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
    body: Result<ApiJson<ClusterPatch>, ApiError>,
) -> Result<Json<ClusterView>, ApiError> {
    let record = Record::new(&actor, action::CLUSTER_UPDATE).target(name.clone());
    let patch = audit_refused(&state, record, body).await?;
    Ok(Json(state.update_cluster(&actor, &name, patch).await?))
}

/// What a change to the cluster's ring would move: add workers
/// (`{"kind":"add_workers","count":2}`), remove one
/// (`{"kind":"remove_worker","id":"…"}`) or change the policy
/// (`{"kind":"configure","config":{"policy":"MAGLEV"}}`). Computed by the
/// same ring code the cluster page runs in the browser.
#[utoipa::path(post, path = "/api/v1/clusters/{name}/ring-preview", params(("name" = String, Path, description = "Cluster name")), request_body(content = Object, description = "The change, tagged by `kind`"), responses(
    (status = 200, description = "file_fraction, bytes_moved, bytes_total, shares_after"),
    (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn ring_preview(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(change): ApiJson<ringside_ring::RingChange>,
) -> Result<Json<ringside_ring::Preview>, ApiError> {
    Ok(Json(state.ring_preview(&name, &change).await?))
}

/// Removes the cluster's OFFLINE member entries (ring bloat), as `ringside
/// process remove-worker` would one by one; answers the ids removed.
#[utoipa::path(delete, path = "/api/v1/clusters/{name}/stale-workers", params(("name" = String, Path, description = "Cluster name")), responses(
    (status = 200, description = "The ids removed", body = [String]),
    (status = 404, body = ErrorBody),
    (status = 502, description = "The coordinator could not be reached", body = ErrorBody),
))]
async fn remove_stale_workers(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(state.remove_stale_workers(&actor, &name).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct DriftQuery {
    /// The cluster the others are compared with.
    baseline: String,
    /// Clusters to compare, separated by commas; every other one when left out.
    clusters: Option<String>,
}

/// Config drift: every property of the chosen clusters next to the
/// baseline's, fetched from the coordinators now, with what differs marked.
#[utoipa::path(get, path = "/api/v1/drift", params(DriftQuery), responses(
    (status = 200, body = ringside_api::drift::DriftReport),
    (status = 400, body = ErrorBody),
    (status = 404, description = "An unknown cluster", body = ErrorBody),
))]
async fn drift(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DriftQuery>,
) -> Result<Json<ringside_api::drift::DriftReport>, ApiError> {
    let clusters = q.clusters.map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    });
    Ok(Json(state.drift(&q.baseline, clusters).await?))
}

/// Forgets a cluster; the cluster itself keeps running.
#[utoipa::path(delete, path = "/api/v1/clusters/{name}", params(("name" = String, Path, description = "Cluster name")), responses(
    (status = 204, description = "Removed"),
    (status = 404, body = ErrorBody),
))]
async fn remove_cluster(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.remove_cluster(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
