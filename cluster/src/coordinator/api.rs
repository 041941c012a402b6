//! The coordinator's HTTP API, under `/api/v1` and described by the OpenAPI
//! document it serves at `/api/v1/openapi.json`.

use axum::{Json, Router, extract::State, routing::get};
use ringside_api::{
    ClusterInfo, ErrorBody,
    http::{harden, route_not_found},
};
use utoipa::OpenApi;

use super::CoordinatorState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ringside coordinator API",
        description = "The control plane of one Ringside cluster."
    ),
    paths(info, healthz),
    components(schemas(ClusterInfo, ErrorBody, ringside_api::ErrorDetail))
)]
struct ApiDoc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router(state: CoordinatorState) -> Router {
    let v1 = Router::new()
        .route("/info", get(info))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .fallback(route_not_found);
    harden(
        Router::new()
            .route("/healthz", get(healthz))
            .nest(ringside_api::API_PREFIX, v1)
            .fallback(route_not_found)
            .with_state(state),
    )
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
