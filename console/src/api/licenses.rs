//! `/api/v1/licenses`: the license dashboard, uploads, and applying an
//! uploaded license to the clusters it names.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use ringside_api::{
    ErrorBody,
    http::{ApiError, ApiJson},
    license::ApplyLicense,
    licenses::{LicenseDashboard, LicenseRow, UploadedLicense},
    operation::OperationView,
};
use utoipa::OpenApi;

use crate::{AppState, actor::Actor};

#[derive(OpenApi)]
#[openapi(
    paths(dashboard, upload, apply),
    components(schemas(
        LicenseDashboard,
        LicenseRow,
        UploadedLicense,
        ApplyLicense,
        ringside_api::license::LicenseStatus,
        ringside_api::license::LicenseSummary,
        ringside_api::license::LicenseState,
        ringside_api::license::LicenseKind,
        ringside_api::license::LicenseSource
    ))
)]
pub struct LicensesDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/licenses", get(dashboard).post(upload))
        .route("/licenses/{id}/apply", post(apply))
}

/// Every cluster's license as its coordinator last reported it, with the
/// alerts it raises and when capacity will reach its limit; and the
/// licenses uploaded to the console.
#[utoipa::path(get, path = "/api/v1/licenses", responses((status = 200, body = LicenseDashboard)))]
async fn dashboard(State(state): State<AppState>) -> Result<Json<LicenseDashboard>, ApiError> {
    Ok(Json(state.license_dashboard().await?))
}

/// Uploads a license (as `ringside license issue` writes it) to apply to
/// the clusters it names. Read, not verified: each coordinator verifies it
/// when it is applied.
#[utoipa::path(post, path = "/api/v1/licenses", request_body = ApplyLicense, responses(
    (status = 201, body = UploadedLicense),
    (status = 400, description = "Not a license", body = ErrorBody),
    (status = 409, description = "Another license has that id", body = ErrorBody),
))]
async fn upload(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<ApplyLicense>,
) -> Result<impl IntoResponse, ApiError> {
    let uploaded = state.upload_license(&actor, &body.license).await?;
    Ok((StatusCode::CREATED, Json(uploaded)))
}

/// Applies an uploaded license to every registered cluster it names, as a
/// fan-out operation; follow it at `/api/v1/operations/{id}`.
#[utoipa::path(post, path = "/api/v1/licenses/{id}/apply", params(("id" = String, Path, description = "License id")), responses(
    (status = 201, body = OperationView),
    (status = 400, description = "It names no registered cluster", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn apply(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let operation = state.apply_license(&actor, &id).await?;
    Ok((StatusCode::CREATED, Json(operation)))
}
