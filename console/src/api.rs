//! The console's REST API under `/api/v1`, described by the OpenAPI document
//! it serves at `/api/v1/openapi.json`.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::get,
};
use ringside_api::{
    ClusterView, ErrorBody, NewCluster,
    http::{ApiError, ApiJson, harden, route_not_found},
};
use utoipa::OpenApi;

use crate::{AppState, ConsoleError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ringside console API",
        description = "Register and watch Ringside clusters."
    ),
    paths(list_clusters, register_cluster, get_cluster, remove_cluster),
    components(schemas(
        ClusterView,
        NewCluster,
        ErrorBody,
        ringside_api::Cluster,
        ringside_api::ClusterStatus,
        ringside_api::Reachability,
        ringside_api::ErrorDetail
    ))
)]
struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Routes to nest under `/api/v1`.
pub fn router() -> Router<AppState> {
    harden(
        Router::new()
            .route("/clusters", get(list_clusters).post(register_cluster))
            .route("/clusters/{name}", get(get_cluster).delete(remove_cluster))
            .route("/openapi.json", get(|| async { Json(openapi()) }))
            .fallback(route_not_found),
    )
}

impl From<ConsoleError> for ApiError {
    fn from(error: ConsoleError) -> Self {
        match &error {
            ConsoleError::Invalid(field) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", error.to_string())
                    .with_field(field.field.clone())
            }
            ConsoleError::Conflict(field) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string())
                    .with_field(field.field.clone())
            }
            ConsoleError::NotFound(_) => ApiError::not_found(error.to_string()),
            ConsoleError::Store(_) | ConsoleError::DataDir { .. } => {
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
    ApiJson(new): ApiJson<NewCluster>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state.register_cluster(new).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One cluster with its live status.
#[utoipa::path(get, path = "/api/v1/clusters/{name}", params(("name" = String, Path, description = "Cluster name")), responses(
    (status = 200, body = ClusterView),
    (status = 404, body = ErrorBody),
))]
async fn get_cluster(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ClusterView>, ApiError> {
    Ok(Json(state.get_cluster(&name).await?))
}

/// Forgets a cluster; the cluster itself keeps running.
#[utoipa::path(delete, path = "/api/v1/clusters/{name}", params(("name" = String, Path, description = "Cluster name")), responses(
    (status = 204, description = "Removed"),
    (status = 404, body = ErrorBody),
))]
async fn remove_cluster(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.remove_cluster(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
