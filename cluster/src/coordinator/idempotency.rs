//! Idempotency keys on the coordinator's mutating API. A client that may
//! retry a call (the console's fan-out engine after a timeout, or after it
//! was killed and restarted) sends an `Idempotency-Key` header; the first
//! request with a key runs, and every later one with the same key gets the
//! first successful answer back, marked `Idempotent-Replayed: true`, without
//! running again. Keys live in the metastore, so they hold across
//! coordinator restarts, and are forgotten after [`KEEP_FOR`].
//!
//! Only successful answers are kept: a call that failed (bad input, a
//! license refusal, a conflict) leaves nothing behind and may be retried
//! for real once its cause is fixed. A key reused for a different request
//! is refused, as is a key whose first request is still running.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use prometheus::{IntCounterVec, Registry};
use ringside_api::http::{ApiError, MAX_BODY_BYTES};
use sqlx::{Row, SqlitePool};

use crate::metrics::counter_vec;

/// The request header that carries the key.
pub const KEY_HEADER: &str = "idempotency-key";
/// Set on an answer replayed from an earlier request with the same key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// How long a key is remembered.
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// A claim with no answer this old is abandoned (its answer could not be
/// stored): the next request with its key takes it over.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Idempotency {
    pool: SqlitePool,
    requests: IntCounterVec,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Idempotency")
    }
}

/// What the store holds for a key when a request arrives with it.
enum Claim {
    /// The key is new: this request runs.
    Won,
    /// A request with this key succeeded: its answer, to replay.
    Done(Stored),
    /// The first request with this key is still running.
    Running,
    /// The key was used for a different request.
    Mismatch,
}

struct Stored {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

impl Idempotency {
    /// Opens the key table (migrated with the metastore). Claims left by a
    /// coordinator that died mid-request are released: their process is
    /// gone, so nothing will ever complete them.
    pub async fn open(pool: SqlitePool, registry: &Registry) -> Result<Idempotency, sqlx::Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE status IS NULL")
            .execute(&pool)
            .await?;
        let idempotency = Idempotency {
            pool,
            requests: counter_vec(
                registry,
                "ringside_idempotent_requests_total",
                "Mutating requests that carried an idempotency key, by outcome (executed, replayed, running, mismatch)",
                &["outcome"],
            ),
        };
        idempotency.prune().await?;
        Ok(idempotency)
    }

    /// Forgets expired keys now and then, forever; spawn it.
    pub async fn prune_forever(self) {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        loop {
            tick.tick().await;
            if let Err(error) = self.prune().await {
                tracing::warn!(%error, "cannot prune idempotency keys");
            }
        }
    }

    async fn prune(&self) -> Result<(), sqlx::Error> {
        let cutoff = Utc::now().timestamp_millis() - KEEP_FOR.as_millis() as i64;
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ? AND status IS NOT NULL")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim(&self, key: &str, fingerprint: &str) -> Result<Claim, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key, fingerprint, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(fingerprint)
        .bind(Utc::now().timestamp_millis())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Claim::Won);
        }
        let row = sqlx::query(
            "SELECT fingerprint, status, content_type, location, body FROM idempotency_keys WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        // Gone between the insert and the select: the first request failed
        // and released it, so this one may run.
        let Some(row) = row else {
            return Box::pin(self.claim(key, fingerprint)).await;
        };
        if row.try_get::<String, _>("fingerprint")? != fingerprint {
            return Ok(Claim::Mismatch);
        }
        Ok(match row.try_get::<Option<i64>, _>("status")? {
            None => {
                let now = Utc::now().timestamp_millis();
                let taken = sqlx::query(
                    "UPDATE idempotency_keys SET created_at = ? \
                     WHERE key = ? AND status IS NULL AND created_at < ?",
                )
                .bind(now)
                .bind(key)
                .bind(now - ABANDONED_AFTER.as_millis() as i64)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if taken == 1 {
                    Claim::Won
                } else {
                    Claim::Running
                }
            }
            Some(status) => Claim::Done(Stored {
                status: u16::try_from(status).unwrap_or(500),
                content_type: row.try_get("content_type")?,
                location: row.try_get("location")?,
                body: row
                    .try_get::<Option<Vec<u8>>, _>("body")?
                    .unwrap_or_default(),
            }),
        })
    }

    async fn complete(&self, key: &str, stored: &Stored) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = ?, content_type = ?, location = ?, body = ? WHERE key = ?",
        )
        .bind(i64::from(stored.status))
        .bind(&stored.content_type)
        .bind(&stored.location)
        .bind(&stored.body)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE key = ? AND status IS NULL")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn count(&self, outcome: &str) {
        self.requests.with_label_values(&[outcome]).inc();
    }
}

/// Middleware: runs a keyed mutating request at most once.
pub async fn guard(State(store): State<Idempotency>, request: Request, next: Next) -> Response {
    let mutating = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(value) = request.headers().get(KEY_HEADER).filter(|_| mutating) else {
        return next.run(request).await;
    };
    let key = match parse_key(value) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {MAX_BODY_BYTES} bytes accepted"),
            )
            .into_response();
        }
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let request = Request::from_parts(parts, Body::from(body));
    // Claimed, run and kept in a task of its own, to the end even when the
    // client goes away mid-request (a console killed while its call is in
    // flight): the answer must be kept for the retry, and a claim left
    // half-done would answer "still running" to every retry.
    let task = tokio::spawn({
        let store = store.clone();
        let key = key.clone();
        async move { claim_and_run(&store, &key, &fingerprint, next, request).await }
    });
    match task.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, key, "a keyed request failed");
            if let Err(error) = store.release(&key).await {
                tracing::warn!(%error, key, "cannot release an idempotency key");
            }
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the server log",
            )
            .into_response()
        }
    }
}

/// Runs the request unless its key already has an answer (replayed), is
/// held by a request still running, or belongs to another request.
async fn claim_and_run(
    store: &Idempotency,
    key: &str,
    fingerprint: &str,
    next: Next,
    request: Request,
) -> Response {
    let claim = match store.claim(key, fingerprint).await {
        Ok(claim) => claim,
        Err(error) => return unavailable(&error),
    };
    match claim {
        Claim::Won => {}
        Claim::Done(stored) => {
            store.count("replayed");
            return replay(stored);
        }
        Claim::Running => {
            store.count("running");
            let mut response = ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_running",
                format!("a request with idempotency key {key:?} is still running: retry later"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Claim::Mismatch => {
            store.count("mismatch");
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!(
                    "idempotency key {key:?} was used for a different request: expected a new key for a new request"
                ),
            )
            .into_response();
        }
    }
    store.count("executed");
    execute(store, key, next, request).await
}

/// Runs a request that won its key, and keeps its answer if it succeeded.
async fn execute(store: &Idempotency, key: &str, next: Next, request: Request) -> Response {
    let response = next.run(request).await;
    if !response.status().is_success() {
        if let Err(error) = store.release(key).await {
            tracing::warn!(%error, key, "cannot release an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "cannot read a response to keep it for its idempotency key");
            if let Err(error) = store.release(key).await {
                tracing::warn!(%error, key, "cannot release an idempotency key");
            }
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the answer was lost: retry with the same key",
            )
            .into_response();
        }
    };
    let header_text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let stored = Stored {
        status: parts.status.as_u16(),
        content_type: header_text(header::CONTENT_TYPE),
        location: header_text(header::LOCATION),
        body: body.to_vec(),
    };
    if let Err(error) = store.complete(key, &stored).await {
        tracing::warn!(%error, key, "cannot keep the answer for an idempotency key");
    }
    Response::from_parts(parts, Body::from(body))
}

fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let invalid = |why: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!(
                "the Idempotency-Key header {why}: expected 1 to {MAX_KEY_LEN} visible ASCII characters"
            ),
        )
    };
    let text = value.to_str().map_err(|_| invalid("is not ASCII"))?;
    if text.is_empty() || text.len() > MAX_KEY_LEN {
        return Err(invalid(&format!("has {} characters", text.len())));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("holds spaces or control characters"));
    }
    Ok(text.to_string())
}

/// What makes two requests "the same": method, path with query, and body.
fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("")
            .as_bytes(),
    );
    hasher.update(b"\n");
    hasher.update(body);
    format!("{:032x}", hasher.digest128())
}

fn replay(stored: Stored) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}

fn unavailable(error: &sqlx::Error) -> Response {
    tracing::error!(%error, "idempotency key store failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "cannot check the idempotency key: retry with the same key",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_short_visible_ascii() {
        assert!(parse_key(&HeaderValue::from_static("op-1:sim-0001")).is_ok());
        for bad in ["", "has space", "tab\there"] {
            let value = HeaderValue::from_str(bad).unwrap();
            let error = parse_key(&value).unwrap_err();
            assert_eq!(error.body.error.code, "invalid_idempotency_key", "{bad:?}");
        }
        let long = HeaderValue::from_str(&"k".repeat(MAX_KEY_LEN + 1)).unwrap();
        assert!(
            parse_key(&long)
                .unwrap_err()
                .body
                .error
                .message
                .contains("256 characters")
        );
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let uri: axum::http::Uri = "/api/v1/jobs".parse().unwrap();
        let other: axum::http::Uri = "/api/v1/jobs?x=1".parse().unwrap();
        let a = fingerprint(&Method::POST, &uri, b"{}");
        assert_eq!(a, fingerprint(&Method::POST, &uri, b"{}"));
        assert_ne!(a, fingerprint(&Method::PUT, &uri, b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, &other, b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, &uri, b"{ }"));
    }
}
