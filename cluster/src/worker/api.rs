//! A worker's HTTP API: reads through the cache (`/api/v1/files/{path}`,
//! with `Range`), file status and listings for the CLI, its page store
//! state, the job tasks its coordinator hands it (`/api/v1/tasks/...`,
//! `/api/v1/cache`), and `/metrics`.

use axum::{
    Json, Router,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures::{StreamExt, TryStreamExt};
use ringside_api::{
    http::{ApiError, harden, route_not_found},
    range::{self, Selection},
    worker::{FileEntry, Listing, WorkerStatus},
};
use ringside_ufs::{Entry, UfsError, UfsPath};
use serde::Deserialize;

use super::{WorkerContext, read::key_of, tasks};

/// Most entries one listing answers with; a bigger directory is truncated
/// (and says so) rather than held in memory whole.
pub const MAX_LISTING: usize = 10_000;

pub fn router(ctx: WorkerContext) -> Router {
    let http_metrics = ctx.reader.metrics.http.clone();
    let v1 = Router::new()
        .route("/files/{*path}", get(read_file))
        .route("/stat/{*path}", get(stat))
        .route("/list", get(list_root))
        .route("/list/{*path}", get(list))
        .route("/status", get(status))
        .route("/restart", post(restart))
        .route(
            "/tenants",
            get(super::tenants::get).put(super::tenants::put),
        )
        .route("/tasks/load", post(tasks::load))
        .route("/tasks/free", post(tasks::free))
        .route("/tasks/cached", post(tasks::cached))
        .route("/cache", get(tasks::cache_listing))
        .route("/cache/{*path}", get(tasks::cached_file))
        .fallback(route_not_found)
        .layer(axum::middleware::from_fn_with_state(
            ctx.guard.clone(),
            crate::security::control_calls,
        ));
    harden(
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/metrics", get(metrics))
            .nest(ringside_api::API_PREFIX, v1)
            .fallback(route_not_found)
            .with_state(ctx)
            .layer(axum::middleware::from_fn_with_state(
                http_metrics,
                crate::metrics::track,
            )),
    )
}

/// UFS errors as HTTP answers.
pub fn ufs_error(error: UfsError) -> ApiError {
    let status = match &error {
        UfsError::NotFound { .. } => StatusCode::NOT_FOUND,
        UfsError::InvalidPath { .. } => StatusCode::BAD_REQUEST,
        UfsError::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        UfsError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_GATEWAY,
    };
    ApiError::new(status, error.code(), error.to_string())
}

fn parse_path(raw: &str) -> Result<UfsPath, ApiError> {
    UfsPath::parse(raw).map_err(ufs_error)
}

async fn read_file(
    State(ctx): State<WorkerContext>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = parse_path(&raw)?;
    let status = ctx.reader.stat(&path).await.map_err(ufs_error)?;
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (code, range, content_range) = match range::select(range_header, status.size) {
        Ok(Selection::Full) => (StatusCode::OK, 0..status.size, None),
        Ok(Selection::Partial(r)) => (
            StatusCode::PARTIAL_CONTENT,
            r.start()..r.end(),
            Some(r.content_range()),
        ),
        Err(unsatisfiable) => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "invalid_range",
                format!(
                    "range {} is outside the file of {} bytes: expected a range starting below {}",
                    range_header.unwrap_or_default(),
                    status.size,
                    status.size
                ),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&unsatisfiable.content_range()) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let length = range.end - range.start;
    let body = Body::from_stream(
        ctx.reader
            .read(&status, range)
            .map_err(std::io::Error::other),
    );
    let mut response = (code, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", status.version)) {
        h.insert(header::ETAG, etag);
    }
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

fn file_entry(ctx: &WorkerContext, entry: &Entry) -> FileEntry {
    match entry {
        Entry::File(status) => FileEntry {
            path: status.path.as_str().to_string(),
            is_dir: false,
            size: status.size,
            last_modified: Some(status.last_modified),
            cached_bytes: cached_bytes(ctx, status),
        },
        Entry::Directory { path } => FileEntry {
            path: path.as_str().to_string(),
            is_dir: true,
            size: 0,
            last_modified: None,
            cached_bytes: 0,
        },
    }
}

/// Bytes of this version of the file held here; pages of an older version
/// do not count.
fn cached_bytes(ctx: &WorkerContext, status: &ringside_ufs::FileStatus) -> u64 {
    ctx.reader
        .store
        .cached_file(status.path.as_str())
        .filter(|f| f.key() == key_of(status))
        .map_or(0, |f| f.cached_bytes)
}

/// A file's size, version and how much of it this worker caches; or, for
/// a directory, just that it is one.
async fn stat(
    State(ctx): State<WorkerContext>,
    Path(raw): Path<String>,
) -> Result<Json<FileEntry>, ApiError> {
    let path = parse_path(&raw)?;
    match ctx.reader.stat(&path).await {
        Ok(status) => Ok(Json(file_entry(&ctx, &Entry::File(status)))),
        Err(UfsError::NotFound { .. }) => {
            let mut children = ctx.reader.ufs.list(&path, false);
            match children.next().await {
                Some(Ok(_)) => Ok(Json(file_entry(&ctx, &Entry::Directory { path }))),
                _ => Err(ApiError::not_found(format!(
                    "no file or directory {path} in the UFS"
                ))),
            }
        }
        Err(error) => Err(ufs_error(error)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    recursive: bool,
}

async fn list_root(
    State(ctx): State<WorkerContext>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Listing>, ApiError> {
    listing(&ctx, UfsPath::root(), query.recursive).await
}

async fn list(
    State(ctx): State<WorkerContext>,
    Path(raw): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Listing>, ApiError> {
    listing(&ctx, parse_path(&raw)?, query.recursive).await
}

async fn listing(
    ctx: &WorkerContext,
    path: UfsPath,
    recursive: bool,
) -> Result<Json<Listing>, ApiError> {
    let mut entries = Vec::new();
    let mut listed = ctx.reader.ufs.list(&path, recursive);
    let mut truncated = false;
    while let Some(entry) = listed.next().await {
        let entry = entry.map_err(ufs_error)?;
        if entries.len() == MAX_LISTING {
            truncated = true;
            break;
        }
        entries.push(file_entry(ctx, &entry));
    }
    if entries.is_empty() && !path.is_root() {
        // An empty listing of a path that is a file: list the file itself,
        // as `ls` does; of a path that is nothing: say so.
        match ctx.reader.stat(&path).await {
            Ok(status) => entries.push(file_entry(ctx, &Entry::File(status))),
            Err(UfsError::NotFound { .. }) => {
                return Err(ApiError::not_found(format!(
                    "no file or directory {path} in the UFS"
                )));
            }
            Err(error) => return Err(ufs_error(error)),
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Json(Listing { entries, truncated }))
}

/// The page store's state.
async fn status(State(ctx): State<WorkerContext>) -> Json<WorkerStatus> {
    let stats = ctx.reader.store.stats();
    Json(WorkerStatus {
        id: ctx.id.clone(),
        capacity_bytes: stats.capacity_bytes,
        used_bytes: stats.used_bytes,
        pages: stats.pages,
        files: stats.files,
        evictions_total: stats.evictions_total,
        checksum_failures_total: stats.checksum_failures_total,
        version: Some(crate::VERSION.to_string()),
        started_at: Some(ctx.started_at),
    })
}

/// Asks the worker to restart in place: it answers, drains the requests in
/// flight, and starts again under the same identity (a rolling restart).
async fn restart(State(ctx): State<WorkerContext>) -> (StatusCode, Json<serde_json::Value>) {
    tracing::info!("restart requested");
    ctx.restart.notify_one();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "restarting": true, "started_at": ctx.started_at })),
    )
}

async fn metrics(State(ctx): State<WorkerContext>) -> Response {
    ctx.reader.metrics.observe(&ctx.reader.store.stats());
    ctx.reader
        .metrics
        .observe_tenants(&ctx.reader.store.tenant_stats());
    crate::metrics::render(&ctx.reader.metrics.registry)
}
