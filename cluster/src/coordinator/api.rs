//! The coordinator's HTTP API, under `/api/v1` and described by the OpenAPI
//! document it serves at `/api/v1/openapi.json`.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use ringside_api::{
    ClusterInfo, ErrorBody, PropertyPatch, PropertyView, WorkerHeartbeat, WorkerView,
    http::{ApiError, ApiJson, ApiQuery, harden, route_not_found},
    job::{JobRequest, JobState, JobType, JobView},
    license::{ApplyLicense, LicenseStatus},
    lifecycle::{LifecycleStatus, LifecycleUpdate, RestartProgress, RestartRequest},
    tenant::{TenantChange, TenantPolicy, TenantSet, TenantsView},
};
use serde::Deserialize;
use utoipa::OpenApi;

use super::{
    CoordinatorState,
    jobs::{JobError, Submitted},
    license::ApplyError,
    lifecycle::LifecycleError,
    properties::PatchError,
    tenants::TenantError,
};
use crate::membership::MembershipError;
use ringside_license::LicenseError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ringside coordinator API",
        description = "The control plane of one Ringside cluster."
    ),
    paths(
        info,
        healthz,
        heartbeat,
        list_workers,
        remove_worker,
        ring,
        properties,
        patch_properties,
        submit_job,
        list_jobs,
        current_job,
        get_job,
        stop_job,
        get_license,
        apply_license,
        get_lifecycle,
        put_lifecycle,
        restart_workers,
        get_tenants,
        get_tenant_set,
        put_tenant,
        delete_tenant
    ),
    components(schemas(
        JobRequest,
        JobView,
        JobType,
        JobState,
        ringside_api::job::JobOptions,
        ringside_api::job::JobProgress,
        ringside_api::job::FailedFile,
        ClusterInfo,
        PropertyView,
        PropertyPatch,
        ErrorBody,
        ringside_api::ErrorDetail,
        WorkerHeartbeat,
        WorkerView,
        ringside_api::WorkerState,
        LicenseStatus,
        ApplyLicense,
        ringside_api::license::LicenseState,
        ringside_api::license::LicenseSummary,
        ringside_api::license::LicenseKind,
        ringside_api::license::LicenseSource,
        ringside_api::lifecycle::LifecycleStatus,
        ringside_api::lifecycle::LifecycleUpdate,
        ringside_api::lifecycle::DesiredState,
        ringside_api::lifecycle::RestartProgress,
        ringside_api::lifecycle::RestartRequest,
        ringside_api::lifecycle::ProcessView,
        ringside_api::lifecycle::Phase,
        ringside_api::lifecycle::Component,
        TenantPolicy,
        TenantSet,
        TenantsView,
        TenantChange,
        ringside_api::tenant::Evictor,
        ringside_api::tenant::WorkerPush
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
        .route("/properties", get(properties).patch(patch_properties))
        .route("/jobs", post(submit_job).get(list_jobs))
        .route("/jobs/current", get(current_job))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/stop", post(stop_job))
        .route("/license", get(get_license).put(apply_license))
        .route("/lifecycle", get(get_lifecycle).put(put_lifecycle))
        .route("/lifecycle/restart", post(restart_workers))
        .route("/tenants", get(get_tenants))
        .route("/tenants/set", get(get_tenant_set))
        .route("/tenants/{name}", put(put_tenant).delete(delete_tenant))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .fallback(route_not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.idempotency.clone(),
            super::idempotency::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.guard.clone(),
            crate::security::control_calls,
        ));
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
            MembershipError::Refused { code, .. } => (StatusCode::FORBIDDEN, *code),
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
    (status = 403, description = "Not in the static worker list (`not_listed`), or a worker joining beyond the license's worker or capacity limit (`license_limit`): the worker stops", body = ErrorBody),
))]
async fn heartbeat(
    State(state): State<CoordinatorState>,
    ApiJson(hb): ApiJson<WorkerHeartbeat>,
) -> Result<StatusCode, ApiError> {
    let license = &state.license;
    state
        .membership
        .heartbeat_with(&hb, |members| license.admit(&hb, members))
        .await?;
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

/// Every property of the schema with the value this coordinator runs with
/// and where it came from; what the console compares for config drift.
#[utoipa::path(get, path = "/api/v1/properties", responses((status = 200, body = [PropertyView])))]
async fn properties(State(state): State<CoordinatorState>) -> Json<Vec<PropertyView>> {
    Json(state.properties.list().await)
}

impl From<PatchError> for ApiError {
    fn from(error: PatchError) -> Self {
        let message = format!("properties not changed: {error}");
        let code = match &error {
            PatchError::UnknownProperty { .. } => "unknown_property",
            PatchError::NotDynamic { .. } => "not_dynamic",
            PatchError::InvalidValue { .. } => "invalid_value",
            PatchError::Database(_) => {
                tracing::error!(%error, "storing pushed properties failed");
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
            }
        };
        let answer = ApiError::new(StatusCode::BAD_REQUEST, code, message);
        match error.key() {
            Some(key) if !key.is_empty() => answer.with_field(key),
            _ => answer,
        }
    }
}

/// Changes dynamic properties of the running coordinator, all or nothing,
/// and answers every property as `GET` does (a pushed one with source
/// `api (TIME)`). Only the dynamic properties the coordinator itself reads
/// can be pushed; they apply at once and are kept in the metastore, winning
/// over the site file across restarts until pushed again or cleared with
/// `null`.
#[utoipa::path(patch, path = "/api/v1/properties", request_body = PropertyPatch, responses(
    (status = 200, description = "Applied", body = [PropertyView]),
    (status = 400, description = "Nothing changed: a key the schema does not know (`unknown_property`, with the closest known key), one the coordinator cannot change while it runs or does not read (`not_dynamic`: change it in ringside-site.properties and restart), or a value its type or the rules between properties refuse (`invalid_value`); `field` names the key", body = ErrorBody),
    (status = 503, body = ErrorBody),
))]
async fn patch_properties(
    State(state): State<CoordinatorState>,
    ApiJson(patch): ApiJson<PropertyPatch>,
) -> Result<Json<Vec<PropertyView>>, ApiError> {
    Ok(Json(state.properties.patch(&patch).await?))
}

/// Prometheus metrics: members by state, jobs by type and state, the
/// ring's epoch, the cluster's page store totals from the workers'
/// heartbeats, and the license's standing.
async fn metrics(State(state): State<CoordinatorState>) -> axum::response::Response {
    state.license.observe();
    match state.membership.list().await {
        Ok(workers) => state
            .metrics
            .observe(&workers, state.membership.ring().epoch()),
        Err(error) => tracing::warn!(%error, "cannot list workers for metrics"),
    }
    match state.jobs.counts().await {
        Ok(counts) => state.metrics.observe_jobs(&counts),
        Err(error) => tracing::warn!(%error, "cannot count jobs for metrics"),
    }
    crate::metrics::render(&state.metrics.registry)
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        let message = error.to_string();
        match error {
            LifecycleError::Invalid(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
            }
            LifecycleError::Busy(_) => {
                ApiError::new(StatusCode::CONFLICT, "restart_running", message)
            }
            LifecycleError::NothingToRestart => {
                ApiError::new(StatusCode::CONFLICT, "no_online_worker", message)
            }
            LifecycleError::Membership(e) => e.into(),
            LifecycleError::Database(_) | LifecycleError::Corrupt(_) => {
                tracing::error!(%message, "lifecycle record failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

/// The cluster's lifecycle: its phase (Ready, Updating, Degraded) and why,
/// what was last applied, every process with its version, OFFLINE entries
/// left in the member list, and the restart rolling now or last.
#[utoipa::path(get, path = "/api/v1/lifecycle", responses(
    (status = 200, body = LifecycleStatus),
    (status = 503, body = ErrorBody),
))]
async fn get_lifecycle(
    State(state): State<CoordinatorState>,
) -> Result<Json<LifecycleStatus>, ApiError> {
    Ok(Json(state.lifecycle.status().await?))
}

/// Records what `ringside cluster apply` applied and how far the restart it
/// rolls is; refused while the coordinator rolls a restart itself.
#[utoipa::path(put, path = "/api/v1/lifecycle", request_body = LifecycleUpdate, responses(
    (status = 200, body = LifecycleStatus),
    (status = 400, body = ErrorBody),
    (status = 409, description = "The coordinator is rolling a restart", body = ErrorBody),
))]
async fn put_lifecycle(
    State(state): State<CoordinatorState>,
    ApiJson(update): ApiJson<LifecycleUpdate>,
) -> Result<Json<LifecycleStatus>, ApiError> {
    Ok(Json(state.lifecycle.update(update).await?))
}

/// Rolls a restart through the ONLINE workers, batch by batch: each worker
/// of a batch restarts in place (same identity, the site file read again)
/// and the next batch starts once all are back. Answers at once; `GET
/// /api/v1/lifecycle` shows the progress.
#[utoipa::path(post, path = "/api/v1/lifecycle/restart", request_body = RestartRequest, responses(
    (status = 202, description = "Started", body = RestartProgress),
    (status = 409, description = "A restart is rolling already, or no worker is ONLINE", body = ErrorBody),
))]
async fn restart_workers(
    State(state): State<CoordinatorState>,
    ApiJson(request): ApiJson<RestartRequest>,
) -> Result<(StatusCode, Json<RestartProgress>), ApiError> {
    let progress = state.lifecycle.restart_workers(request).await?;
    Ok((StatusCode::ACCEPTED, Json(progress)))
}

impl From<TenantError> for ApiError {
    fn from(error: TenantError) -> Self {
        let message = error.to_string();
        match error {
            TenantError::Invalid(e) => ApiError::invalid_field(&e.field, e.message),
            TenantError::UnknownTenant(_) => ApiError::not_found(message),
            TenantError::Membership(e) => e.into(),
            TenantError::Database(_) | TenantError::Corrupt { .. } => {
                tracing::error!(%message, "tenant record failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

/// The cluster's tenants with their cache policies, and per ONLINE worker
/// the revision it enforces and the bytes each tenant holds there.
#[utoipa::path(get, path = "/api/v1/tenants", responses(
    (status = 200, body = TenantsView),
    (status = 503, body = ErrorBody),
))]
async fn get_tenants(State(state): State<CoordinatorState>) -> Result<Json<TenantsView>, ApiError> {
    Ok(Json(state.tenants.view().await?))
}

/// The tenant set and its revision alone, as workers fetch it to catch up
/// on a push they missed.
#[utoipa::path(get, path = "/api/v1/tenants/set", responses(
    (status = 200, body = TenantSet),
    (status = 503, body = ErrorBody),
))]
async fn get_tenant_set(
    State(state): State<CoordinatorState>,
) -> Result<Json<TenantSet>, ApiError> {
    Ok(Json(state.tenants.set().await?))
}

/// Creates or replaces a tenant's cache policy and pushes the new set to
/// every ONLINE worker; the answer says how each push went.
#[utoipa::path(put, path = "/api/v1/tenants/{name}", request_body = TenantPolicy, responses(
    (status = 200, body = TenantChange),
    (status = 400, description = "A field breaks a rule, or the name differs from the path's", body = ErrorBody),
))]
async fn put_tenant(
    State(state): State<CoordinatorState>,
    Path(name): Path<String>,
    ApiJson(policy): ApiJson<TenantPolicy>,
) -> Result<Json<TenantChange>, ApiError> {
    if policy.name != name {
        return Err(ApiError::invalid_field(
            "name",
            format!(
                "the body names tenant {:?} but the path {name:?}: expected the same name",
                policy.name
            ),
        ));
    }
    Ok(Json(state.tenants.put(policy).await?))
}

/// Removes a tenant; its files fall back to the store's own eviction.
#[utoipa::path(delete, path = "/api/v1/tenants/{name}", responses(
    (status = 200, body = TenantChange),
    (status = 404, body = ErrorBody),
))]
async fn delete_tenant(
    State(state): State<CoordinatorState>,
    Path(name): Path<String>,
) -> Result<Json<TenantChange>, ApiError> {
    Ok(Json(state.tenants.delete(&name).await?))
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        let message = error.to_string();
        match error {
            JobError::UnknownJob(_) | JobError::NoJobFor { .. } | JobError::PathNotFound { .. } => {
                ApiError::not_found(message)
            }
            JobError::Invalid { field, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message).with_field(field)
            }
            JobError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "job_exists", message),
            JobError::Finished(_) => ApiError::new(StatusCode::CONFLICT, "job_finished", message),
            JobError::Ufs(e) => crate::worker::ufs_error(e),
            JobError::Membership(_) | JobError::Database(_) | JobError::Corrupt(_) => {
                tracing::error!(error = %message, "job operation failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

/// Starts a job (201), or resumes the stopped job of the same type and path
/// (200). A job of that type and path still active is not duplicated: 409
/// names it, and `Location` points at it.
#[utoipa::path(post, path = "/api/v1/jobs", request_body = JobRequest, responses(
    (status = 201, description = "Submitted", body = JobView),
    (status = 200, description = "A stopped job resumed", body = JobView),
    (status = 400, body = ErrorBody),
    (status = 403, description = "The license expired beyond its grace period (`license_expired`) or no longer holds (`license_invalid`)", body = ErrorBody),
    (status = 404, description = "No such path in the UFS", body = ErrorBody),
    (status = 409, description = "Already active", body = ErrorBody),
))]
async fn submit_job(
    State(state): State<CoordinatorState>,
    ApiJson(request): ApiJson<JobRequest>,
) -> Result<Response, ApiError> {
    state
        .license
        .check_new_job()
        .map_err(|refused| ApiError::new(StatusCode::FORBIDDEN, refused.code, refused.message))?;
    match state.jobs.submit(request).await {
        Ok((job, how)) => {
            let status = match how {
                Submitted::Created => StatusCode::CREATED,
                Submitted::Resumed => StatusCode::OK,
            };
            let id = job.id.clone();
            Ok(with_location(&id, (status, Json(job)).into_response()))
        }
        Err(JobError::Exists(job)) => {
            let id = job.id.clone();
            let response = ApiError::from(JobError::Exists(job)).into_response();
            Ok(with_location(&id, response))
        }
        Err(error) => Err(error.into()),
    }
}

fn with_location(id: &str, mut response: Response) -> Response {
    let location = format!("{}/jobs/{id}", ringside_api::API_PREFIX);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct JobFilter {
    /// LOAD, FREE or REBALANCE; all when absent.
    job_type: Option<String>,
    /// A state, or ALL (the default).
    job_state: Option<String>,
}

fn parse_type(text: &str) -> Result<JobType, ApiError> {
    text.parse::<JobType>().map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", e.to_string())
            .with_field("job_type")
    })
}

/// Jobs, oldest first, filtered by type and state.
#[utoipa::path(get, path = "/api/v1/jobs", params(JobFilter), responses(
    (status = 200, body = [JobView]),
    (status = 400, body = ErrorBody),
))]
async fn list_jobs(
    State(state): State<CoordinatorState>,
    ApiQuery(filter): ApiQuery<JobFilter>,
) -> Result<Json<Vec<JobView>>, ApiError> {
    let job_type = filter.job_type.as_deref().map(parse_type).transpose()?;
    let job_state = match filter.job_state.as_deref() {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("ALL") => None,
        Some(s) => Some(s.parse::<JobState>().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                format!("{e}, or ALL"),
            )
            .with_field("job_state")
        })?),
    };
    Ok(Json(state.jobs.list(job_type, job_state).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct JobKey {
    /// LOAD, FREE or REBALANCE.
    job_type: String,
    /// The UFS path; for REBALANCE the target (ALL or a worker id).
    path: String,
}

/// The latest job of a type on a path, as `job load --progress` asks.
#[utoipa::path(get, path = "/api/v1/jobs/current", params(JobKey), responses(
    (status = 200, body = JobView),
    (status = 404, body = ErrorBody),
))]
async fn current_job(
    State(state): State<CoordinatorState>,
    ApiQuery(key): ApiQuery<JobKey>,
) -> Result<Json<JobView>, ApiError> {
    let job_type = parse_type(&key.job_type)?;
    Ok(Json(state.jobs.current(job_type, &key.path).await?))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")), responses(
    (status = 200, body = JobView),
    (status = 404, body = ErrorBody),
))]
async fn get_job(
    State(state): State<CoordinatorState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.jobs.get(&id).await?))
}

/// Stops an active job; submitting it again resumes it. A finished job
/// answers 409 `job_finished`.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/stop", params(("id" = String, Path, description = "Job id")), responses(
    (status = 200, body = JobView),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
))]
async fn stop_job(
    State(state): State<CoordinatorState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.jobs.stop(&id).await?))
}

/// The cluster's license: its state (unlicensed, valid, grace, expired,
/// invalid) with a message, the license's fields, days left, and the
/// ONLINE workers' use next to the limits.
#[utoipa::path(get, path = "/api/v1/license", responses(
    (status = 200, body = LicenseStatus),
    (status = 503, body = ErrorBody),
))]
async fn get_license(
    State(state): State<CoordinatorState>,
) -> Result<Json<LicenseStatus>, ApiError> {
    let workers = state.membership.list().await?;
    Ok(Json(state.license.status(&workers)))
}

impl From<ApplyError> for ApiError {
    fn from(error: ApplyError) -> Self {
        let message = format!("license not applied: {error}");
        match &error {
            ApplyError::NoKey => ApiError::new(StatusCode::CONFLICT, "license_no_key", message),
            ApplyError::License(e) => {
                let status = match e {
                    LicenseError::BadSignature
                    | LicenseError::WrongCluster { .. }
                    | LicenseError::Expired { .. } => StatusCode::FORBIDDEN,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, e.code(), message).with_field("license")
            }
            ApplyError::Database(_) => {
                tracing::error!(%error, "storing a license failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

/// Applies a license: verified with `ringside.license.verification.key`,
/// checked to cover this cluster and not to have expired beyond its grace
/// period, then stored in the metastore (it survives restarts) and
/// enforced at once. Answers the new status.
#[utoipa::path(put, path = "/api/v1/license", request_body = ApplyLicense, responses(
    (status = 200, body = LicenseStatus),
    (status = 400, description = "Not a license (`license_invalid`): malformed, an unsupported version, or content that breaks the rules", body = ErrorBody),
    (status = 403, description = "Forged or tampered (`license_invalid`), for another cluster (`license_wrong_cluster`), or expired beyond its grace period (`license_expired`)", body = ErrorBody),
    (status = 409, description = "This coordinator has no verification key (`license_no_key`)", body = ErrorBody),
))]
async fn apply_license(
    State(state): State<CoordinatorState>,
    ApiJson(body): ApiJson<ApplyLicense>,
) -> Result<Json<LicenseStatus>, ApiError> {
    state.license.apply(&body.license).await?;
    let workers = state.membership.list().await?;
    Ok(Json(state.license.status(&workers)))
}
