//! `/api/v1/operations`: the fan-out engine over REST.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use ringside_api::{
    ErrorBody,
    http::{ApiError, ApiJson, ApiQuery},
    operation::{NewOperation, OperationPreview, OperationSummary, OperationView},
};
use serde::Deserialize;
use utoipa::OpenApi;

use crate::{AppState, actor::Actor};

#[derive(OpenApi)]
#[openapi(
    paths(preview, create, list, get_one, cancel, retry),
    components(schemas(
        NewOperation,
        OperationPreview,
        OperationSummary,
        OperationView,
        ringside_api::operation::Action,
        ringside_api::operation::Targets,
        ringside_api::operation::Rollout,
        ringside_api::operation::OperationState,
        ringside_api::operation::TargetState,
        ringside_api::operation::TargetCounts,
        ringside_api::operation::TargetView
    ))
)]
pub struct OperationsDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operations", post(create).get(list))
        .route("/operations/preview", post(preview))
        .route("/operations/{id}", get(get_one))
        .route("/operations/{id}/cancel", post(cancel))
        .route("/operations/{id}/targets/{cluster}/retry", post(retry))
}

/// What an operation would do, and on which clusters in which waves,
/// without starting it.
#[utoipa::path(post, path = "/api/v1/operations/preview", request_body = NewOperation, responses(
    (status = 200, body = OperationPreview),
    (status = 400, description = "A field breaks its rule", body = ErrorBody),
))]
async fn preview(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<NewOperation>,
) -> Result<Json<OperationPreview>, ApiError> {
    Ok(Json(state.operations.preview(&request).await?))
}

/// Starts an operation: persisted with its targets, then run wave by wave.
/// Answers at once; `GET /api/v1/operations/{id}` shows it progress.
#[utoipa::path(post, path = "/api/v1/operations", request_body = NewOperation, responses(
    (status = 201, body = OperationView),
    (status = 400, description = "A field breaks its rule, or no cluster matches", body = ErrorBody),
))]
async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(request): ApiJson<NewOperation>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state.create_operation(&actor, request).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct Page {
    /// How many, newest first (default 50, at most 200).
    limit: Option<u64>,
    /// Only operations created before this instant (RFC 3339), for the next page.
    before: Option<DateTime<Utc>>,
}

/// The history of operations, newest first, with per-state target counts.
#[utoipa::path(get, path = "/api/v1/operations", params(Page), responses(
    (status = 200, body = [OperationSummary]),
    (status = 400, body = ErrorBody),
))]
async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<OperationSummary>>, ApiError> {
    Ok(Json(
        state
            .operations
            .list(page.limit.unwrap_or(50), page.before)
            .await?,
    ))
}

/// One operation with every target's state, attempts, times and message.
#[utoipa::path(get, path = "/api/v1/operations/{id}", params(("id" = String, Path, description = "Operation id")), responses(
    (status = 200, body = OperationView),
    (status = 404, body = ErrorBody),
))]
async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OperationView>, ApiError> {
    Ok(Json(state.operations.get(&id).await?))
}

/// Cancels what has not started; targets already running finish.
#[utoipa::path(post, path = "/api/v1/operations/{id}/cancel", params(("id" = String, Path, description = "Operation id")), responses(
    (status = 200, body = OperationView),
    (status = 404, body = ErrorBody),
    (status = 409, description = "Already ended", body = ErrorBody),
))]
async fn cancel(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<OperationView>, ApiError> {
    Ok(Json(state.cancel_operation(&actor, &id).await?))
}

/// Runs a FAILED target again, under the same idempotency key: a call that
/// reached its coordinator the first time is not run twice.
#[utoipa::path(post, path = "/api/v1/operations/{id}/targets/{cluster}/retry", params(
    ("id" = String, Path, description = "Operation id"),
    ("cluster" = String, Path, description = "Cluster name"),
), responses(
    (status = 200, body = OperationView),
    (status = 409, description = "The target has not failed", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn retry(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, cluster)): Path<(String, String)>,
) -> Result<Json<OperationView>, ApiError> {
    Ok(Json(state.retry_target(&actor, &id, &cluster).await?))
}
