//! `/api/v1/audit`: the audit trail over REST, read-only. Entries are
//! searched newest first, read one by id, and exported as JSON lines; every
//! other method answers 405, since only the console itself appends.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::{StreamExt, TryStreamExt};
use ringside_api::{
    ErrorBody,
    audit::{AuditEntry, AuditFilter, AuditPage, AuditQuery, PageRequest},
    http::{ApiError, ApiJson, ApiQuery},
};
use utoipa::OpenApi;

use crate::{AppState, audit::Record};

#[derive(OpenApi)]
#[openapi(
    paths(audit_search, audit_export, audit_entry),
    components(schemas(AuditEntry, ringside_api::audit::AuditResult, AuditPage))
)]
pub struct AuditDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        // Append-only: only the console itself appends, so every other
        // method is answered 405 by the gateway.
        .route("/audit", get(audit_search))
        .route("/audit/export", get(audit_export))
        .route("/audit/{id}", get(audit_entry))
}

/// A change whose body could not be read (not JSON, unknown fields, too
/// large) is refused before it reaches the console's state; it is audited
/// here, with the answer the caller gets, and nothing of the body.
pub(super) async fn audit_refused<T>(
    state: &AppState,
    record: Record,
    body: Result<ApiJson<T>, ApiError>,
) -> Result<T, ApiError> {
    match body {
        Ok(ApiJson(value)) => Ok(value),
        Err(answer) => {
            let e = &answer.body.error;
            let record = record.refused(&e.code, &e.message, e.field.as_deref());
            if let Err(error) = state.audit(record).await {
                tracing::error!(%error, "the audit trail could not record a refused change");
            }
            Err(answer)
        }
    }
}

/// The filter and page of an audit query, or a 400 naming the value at
/// fault and what is expected.
fn audit_query(query: &AuditQuery) -> Result<(AuditFilter, PageRequest), ApiError> {
    let invalid = |e: ringside_api::FieldError| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.message).with_field(e.field)
    };
    Ok((
        query.filter().map_err(invalid)?,
        query.page().map_err(invalid)?,
    ))
}

/// The audit trail, newest first: every change made through the console
/// or this API, who asked, when, on which clusters, and how it ended.
/// Page with `before=<next_before>`. Nothing edits or deletes entries.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses(
    (status = 200, body = AuditPage),
    (status = 400, description = "A query value breaks its rule; `field` names it", body = ErrorBody),
))]
async fn audit_search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let (filter, page) = audit_query(&query)?;
    Ok(Json(state.audit_search(&filter, page).await?))
}

/// Every entry the filters match as JSON lines (one `AuditEntry` object a
/// line), oldest first, streamed: takes the filters of `GET /api/v1/audit`,
/// not its paging.
#[utoipa::path(get, path = "/api/v1/audit/export", params(AuditQuery), responses(
    (status = 200, description = "One JSON object per line", content_type = "application/x-ndjson", body = AuditEntry),
    (status = 400, description = "A query value breaks its rule; `field` names it", body = ErrorBody),
))]
async fn audit_export(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let (filter, _) = audit_query(&query)?;
    for (field, value) in [("limit", &query.limit), ("before", &query.before)] {
        if value.as_deref().is_some_and(|v| !v.trim().is_empty()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!(
                    "{field} does not apply to an export, which streams every matching entry: expected only q, actor, action, cluster, result, from and to"
                ),
            )
            .with_field(field));
        }
    }
    let mut entries = Box::pin(state.audit_export(filter));
    // A store that cannot be read is answered with the envelope; once
    // lines flow, an error can only cut the stream short.
    let first = entries.try_next().await?;
    let lines = futures::stream::iter(first.map(Ok))
        .chain(entries)
        .map(|entry| {
            let entry = entry.inspect_err(|error| {
                tracing::error!(%error, "audit export cut short");
            })?;
            let mut line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
            line.push(b'\n');
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(axum::body::Bytes::from(line))
        });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ringside-audit.jsonl\"",
            ),
        ],
        axum::body::Body::from_stream(lines),
    )
        .into_response())
}

/// One audit entry by its id.
#[utoipa::path(get, path = "/api/v1/audit/{id}", params(("id" = i64, Path, description = "Entry id")), responses(
    (status = 200, body = AuditEntry),
    (status = 400, description = "Not an entry id", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn audit_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AuditEntry>, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            format!("{id:?} is not an audit entry id: expected a whole number from 1"),
        )
        .with_field("id")
    };
    let wanted: i64 = id.parse().ok().filter(|n| *n >= 1).ok_or_else(bad)?;
    let page = PageRequest {
        limit: 1,
        before: wanted.checked_add(1),
    };
    let found = state.audit_search(&AuditFilter::default(), page).await?;
    found
        .entries
        .into_iter()
        .find(|e| e.id == wanted)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no audit entry with id {wanted}")))
}
