//! The router and its handlers: one entry point that reads the method and
//! path itself, because S3's path-style addressing (keys with `%2F`, a
//! trailing `/`, an empty key meaning the bucket) and its XML errors for
//! every malformed request do not fit a route table's rules and rejections.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use ringside_api::range::{self, ByteRange, RangeSpec};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::S3Error;
use crate::listing::{ListParams, write_owner};
use crate::request::{Query, Target, parse_target};
use crate::source::{ByteStream, GetObject, ObjectMeta, ObjectSource};
use crate::xml::{Xml, iso8601};

const X_AMZ_REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
const OCTET_STREAM: &str = "application/octet-stream";
const APPLICATION_XML: &str = "application/xml";

/// Bucket subresources S3 has and this API does not: answered with
/// NotImplemented instead of being mistaken for a listing.
const BUCKET_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "lifecycle",
    "logging",
    "metadata-table",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "session",
    "tagging",
    "uploads",
    "versioning",
    "versions",
    "website",
];

/// Object subresources S3 has and this API does not.
const OBJECT_SUBRESOURCES: &[&str] = &[
    "acl",
    "attributes",
    "legal-hold",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
];

/// `response-*` query parameters that override a GetObject answer's
/// headers, as presigned URLs use them (S3 honours them on any GET).
const RESPONSE_OVERRIDES: &[(&str, HeaderName)] = &[
    ("response-cache-control", header::CACHE_CONTROL),
    ("response-content-disposition", header::CONTENT_DISPOSITION),
    ("response-content-encoding", header::CONTENT_ENCODING),
    ("response-content-language", header::CONTENT_LANGUAGE),
    ("response-content-type", header::CONTENT_TYPE),
    ("response-expires", header::EXPIRES),
];

struct Service<S> {
    source: S,
    /// Reported as every bucket's CreationDate: the source does not know
    /// one, and "since this server started" is at least true.
    started: SystemTime,
}

/// The S3 read API over `source`, as a complete router: mount it at the
/// root of its own listener (path-style S3 owns the whole path space).
///
/// Requests are not authenticated: SigV4 headers and presigned query
/// parameters are accepted and ignored, and unsigned requests work too, so
/// that any SDK configured with any credentials can read.
pub fn router<S: ObjectSource>(source: S) -> Router {
    let service = Arc::new(Service {
        source,
        started: SystemTime::now(),
    });
    Router::new()
        .fallback(dispatch::<S>)
        .with_state(service)
        .layer(CatchPanicLayer::custom(panic_response))
}

async fn dispatch<S: ObjectSource>(
    State(service): State<Arc<Service<S>>>,
    request: Request,
) -> Response {
    let request_id = new_request_id();
    // The request body is never read: reads have none, and writes are
    // refused before they could matter.
    let (parts, _body) = request.into_parts();
    let mut response = match service.handle(&parts, &request_id).await {
        Ok(response) => response,
        Err(err) => error_response(&err, &parts, &request_id),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_AMZ_REQUEST_ID, value);
    }
    response
}

impl<S: ObjectSource> Service<S> {
    async fn handle(&self, parts: &Parts, request_id: &str) -> Result<Response, S3Error> {
        let head = match parts.method {
            Method::GET => false,
            Method::HEAD => true,
            ref other => return Err(S3Error::MethodNotAllowed(other.to_string())),
        };
        let target = parse_target(parts.uri.path())?;
        let query = Query::parse(parts.uri.query())?;
        match target {
            Target::Service => Ok(self.list_buckets()),
            Target::Bucket(bucket) => {
                self.require_bucket(&bucket)?;
                if head {
                    Ok(empty(StatusCode::OK))
                } else {
                    self.bucket_get(&bucket, &query).await
                }
            }
            Target::Object { bucket, key } => {
                self.require_bucket(&bucket)?;
                if let Some(sub) = OBJECT_SUBRESOURCES.iter().find(|s| query.has(s)) {
                    return Err(S3Error::NotImplemented(format!("The ?{sub} subresource")));
                }
                check_version_id(&query)?;
                if head {
                    self.head_object(&bucket, &key, parts, &query).await
                } else {
                    self.get_object(&bucket, &key, parts, &query, request_id)
                        .await
                }
            }
        }
    }

    fn require_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        if self.source.buckets().iter().any(|b| b == bucket) {
            Ok(())
        } else {
            Err(S3Error::NoSuchBucket)
        }
    }

    fn list_buckets(&self) -> Response {
        let created = iso8601(self.started);
        let mut xml = Xml::document();
        xml.open_root("ListAllMyBucketsResult");
        write_owner(&mut xml);
        xml.open("Buckets");
        for bucket in self.source.buckets() {
            xml.open("Bucket");
            xml.element("Name", &bucket);
            xml.element("CreationDate", &created);
            xml.close("Bucket");
        }
        xml.close("Buckets");
        xml.close("ListAllMyBucketsResult");
        xml_response(StatusCode::OK, xml.finish())
    }

    async fn bucket_get(&self, bucket: &str, query: &Query) -> Result<Response, S3Error> {
        if query.has("location") {
            // Empty means us-east-1, the region SDKs assume for custom endpoints.
            let mut xml = Xml::document();
            xml.open_root("LocationConstraint");
            xml.close("LocationConstraint");
            return Ok(xml_response(StatusCode::OK, xml.finish()));
        }
        if let Some(sub) = BUCKET_SUBRESOURCES.iter().find(|s| query.has(s)) {
            return Err(S3Error::NotImplemented(format!("The ?{sub} subresource")));
        }
        let params = ListParams::from_query(query)?;
        let page = self.source.list(bucket, params.request.clone()).await?;
        if page.key_count() > params.request.max_keys {
            tracing::warn!(
                bucket,
                returned = page.key_count(),
                max_keys = params.request.max_keys,
                "object source returned more entries than asked for"
            );
        }
        Ok(xml_response(StatusCode::OK, params.to_xml(bucket, &page)))
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        parts: &Parts,
        query: &Query,
    ) -> Result<Response, S3Error> {
        let plan = ReadPlan::from_request(parts, query)?;
        let meta = self.source.head(bucket, key).await?;
        if let Precondition::NotModified = evaluate_preconditions(&parts.headers, &meta)? {
            return not_modified(&meta);
        }
        let served = plan.resolve(&meta)?;
        let builder = object_headers(&meta, &served, query)?;
        // HEAD answers carry the length of what GET would send, and no body.
        builder
            .body(Body::empty())
            .map_err(|e| S3Error::internal(format!("building a HEAD response: {e}")))
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        parts: &Parts,
        query: &Query,
        request_id: &str,
    ) -> Result<Response, S3Error> {
        let plan = ReadPlan::from_request(parts, query)?;
        let GetObject { meta, body } = self.source.get(bucket, key, plan.range).await?;
        if let Precondition::NotModified = evaluate_preconditions(&parts.headers, &meta)? {
            return not_modified(&meta);
        }
        let served = plan.resolve(&meta)?;
        let builder = object_headers(&meta, &served, query)?;
        let body = LengthChecked {
            inner: body,
            remaining: served.len(),
            request_id: request_id.to_owned(),
            finished: false,
        };
        builder
            .body(Body::from_stream(body))
            .map_err(|e| S3Error::internal(format!("building a GET response: {e}")))
    }
}

/// What part of an object a GET or HEAD asks for, from `Range` and
/// `partNumber`.
struct ReadPlan {
    range: Option<RangeSpec>,
    part_number: Option<u32>,
}

/// What is sent: the whole object (200), or a part of it (206).
enum Served {
    Whole { size: u64 },
    Part(ByteRange),
}

impl Served {
    fn len(&self) -> u64 {
        match self {
            Served::Whole { size } => *size,
            Served::Part(range) => range.len(),
        }
    }
}

impl ReadPlan {
    fn from_request(parts: &Parts, query: &Query) -> Result<Self, S3Error> {
        let part_number = match query.get("partNumber") {
            None => None,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n @ 1..=10_000) => Some(n),
                _ => {
                    return Err(S3Error::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive.",
                    ));
                }
            },
        };
        let range = match parts.headers.get(header::RANGE) {
            None => None,
            Some(_) if part_number.is_some() => {
                return Err(S3Error::invalid_argument(
                    "Cannot specify both Range header and partNumber query parameter.",
                ));
            }
            // Malformed, multi-range and non-`bytes` ranges are ignored:
            // the whole object is served (see ringside_api::range).
            Some(value) => value.to_str().ok().and_then(|v| range::parse(v).ok()),
        };
        Ok(Self { range, part_number })
    }

    /// Checked against the object's metadata, not before fetching it,
    /// because S3 answers NoSuchKey before InvalidPartNumber.
    fn resolve(&self, meta: &ObjectMeta) -> Result<Served, S3Error> {
        match (&self.range, self.part_number) {
            // Every object here is a single part.
            (_, Some(2..)) => Err(S3Error::InvalidPartNumber),
            (Some(spec), _) => Ok(Served::Part(spec.resolve(meta.size)?)),
            // Part 1 of a single-part object is all of it, and S3 answers
            // 206 with its Content-Range, which multipart downloaders read.
            (None, Some(_)) => Ok(match ByteRange::new(0, meta.size, meta.size) {
                Some(all) => Served::Part(all),
                None => Served::Whole { size: meta.size },
            }),
            (None, None) => Ok(Served::Whole { size: meta.size }),
        }
    }
}

/// `versionId` is accepted only as `null`, the version of objects in an
/// unversioned bucket; anything else names a version that cannot exist.
fn check_version_id(query: &Query) -> Result<(), S3Error> {
    match query.get("versionId") {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::invalid_argument(
            "This API serves unversioned objects; only versionId=null is accepted.",
        )),
    }
}

fn object_headers(
    meta: &ObjectMeta,
    served: &Served,
    query: &Query,
) -> Result<axum::http::response::Builder, S3Error> {
    let etag = HeaderValue::from_str(&meta.quoted_etag()).map_err(|_| {
        S3Error::internal(format!(
            "object source returned an ETag that is not a header value: {:?}",
            meta.etag
        ))
    })?;
    let (status, content_range) = match served {
        Served::Whole { .. } => (StatusCode::OK, None),
        Served::Part(range) => (StatusCode::PARTIAL_CONTENT, Some(range.content_range())),
    };
    let mut builder = axum::http::Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, served.len())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, etag)
        .header(header::LAST_MODIFIED, http_date(meta.last_modified));
    if let Some(content_range) = content_range {
        builder = builder.header(header::CONTENT_RANGE, content_range);
    }
    let mut content_type_set = false;
    for (param, name) in RESPONSE_OVERRIDES {
        if let Some(value) = query.get(param) {
            let value = HeaderValue::from_str(value).map_err(|_| {
                S3Error::invalid_argument(format!("{param} is not a valid header value."))
            })?;
            content_type_set |= name == header::CONTENT_TYPE;
            builder = builder.header(name, value);
        }
    }
    if !content_type_set {
        builder = builder.header(header::CONTENT_TYPE, OCTET_STREAM);
    }
    Ok(builder)
}

fn not_modified(meta: &ObjectMeta) -> Result<Response, S3Error> {
    let mut response = empty(StatusCode::NOT_MODIFIED);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&meta.quoted_etag()) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&http_date(meta.last_modified)) {
        headers.insert(header::LAST_MODIFIED, date);
    }
    Ok(response)
}

enum Precondition {
    Proceed,
    NotModified,
}

/// RFC 9110 §13.2.2 order: If-Match, else If-Unmodified-Since (412 when
/// false); then If-None-Match, else If-Modified-Since (304 when false).
/// SDKs rely on If-Match: multipart downloads pin every ranged GET to the
/// ETag of their first request. Unparseable dates are ignored, as the RFC
/// says.
fn evaluate_preconditions(headers: &HeaderMap, meta: &ObjectMeta) -> Result<Precondition, S3Error> {
    let etag = meta.etag_value();
    let modified = unix_seconds(meta.last_modified);
    if let Some(list) = header_str(headers, &header::IF_MATCH) {
        if !etag_list_matches(list, etag, false) {
            return Err(S3Error::PreconditionFailed);
        }
    } else if let Some(since) = header_date(headers, &header::IF_UNMODIFIED_SINCE)
        && modified > since
    {
        return Err(S3Error::PreconditionFailed);
    }
    if let Some(list) = header_str(headers, &header::IF_NONE_MATCH) {
        if etag_list_matches(list, etag, true) {
            return Ok(Precondition::NotModified);
        }
    } else if let Some(since) = header_date(headers, &header::IF_MODIFIED_SINCE)
        && modified <= since
    {
        return Ok(Precondition::NotModified);
    }
    Ok(Precondition::Proceed)
}

/// Whether a comma-separated entity-tag list (or `*`) names `etag`. Weak
/// comparison (If-None-Match) ignores `W/`; strong comparison (If-Match)
/// never matches a weak tag. Unquoted tags are tolerated: some clients
/// send them bare.
fn etag_list_matches(list: &str, etag: &str, weak: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|candidate| {
        let candidate = match candidate.strip_prefix("W/") {
            Some(tag) if weak => tag,
            Some(_) => return false,
            None => candidate,
        };
        let bare = candidate
            .strip_prefix('"')
            .and_then(|c| c.strip_suffix('"'))
            .unwrap_or(candidate);
        bare == etag
    })
}

fn header_str<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_date(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    header_str(headers, name)
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(unix_seconds)
}

/// HTTP dates have whole seconds, so comparisons with them must too.
fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The latest time an HTTP date can show (9999-12-31T23:59:59Z).
const MAX_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// `Last-Modified` value. `httpdate` panics outside years 1970..=9999,
/// and a source's clock is not to be trusted that far, so clamp.
fn http_date(time: SystemTime) -> String {
    let secs = unix_seconds(time).min(MAX_HTTP_DATE_SECS);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

fn new_request_id() -> String {
    // S3's request ids are 16 upper-case hex characters.
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id.make_ascii_uppercase();
    id
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(APPLICATION_XML),
    );
    response
}

fn error_response(err: &S3Error, parts: &Parts, request_id: &str) -> Response {
    let resource = parts.uri.path();
    match err {
        S3Error::Internal(_) => {
            tracing::error!(request_id, resource, error = %err, "S3 request failed")
        }
        _ => {
            tracing::debug!(request_id, resource, code = err.code(), error = %err, "S3 request refused")
        }
    }
    // HEAD answers have no body, so S3 clients read HEAD errors from the status.
    let mut response = if parts.method == Method::HEAD {
        empty(err.status())
    } else {
        xml_response(err.status(), err.to_xml(resource, request_id))
    };
    let headers = response.headers_mut();
    match err {
        S3Error::MethodNotAllowed(_) => {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        S3Error::InvalidRange { size } => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
        }
        _ => {}
    }
    response
}

/// A panic in the source is a bug there, but the client still gets an S3
/// error rather than a dropped connection.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let request_id = new_request_id();
    tracing::error!(request_id, "S3 request handler panicked");
    let err = S3Error::internal("handler panicked");
    let mut response = xml_response(err.status(), err.to_xml("", &request_id));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_AMZ_REQUEST_ID, value);
    }
    response
}

/// Passes the source's chunks through while holding it to the length the
/// headers promised. A short or long body ends in an error, which makes
/// the server cut the connection: the client then sees a broken transfer
/// and retries, instead of taking wrong bytes for the object.
struct LengthChecked {
    inner: ByteStream,
    remaining: u64,
    request_id: String,
    finished: bool,
}

impl LengthChecked {
    fn fail(&mut self, err: S3Error) -> Poll<Option<Result<Bytes, S3Error>>> {
        tracing::error!(request_id = %self.request_id, error = %err, "S3 object body failed mid-stream");
        self.finished = true;
        Poll::Ready(Some(Err(err)))
    }
}

impl Stream for LengthChecked {
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                let len = chunk.len() as u64;
                if len > self.remaining {
                    let remaining = self.remaining;
                    return self.fail(S3Error::internal(format!(
                        "object source sent {len} bytes where {remaining} remained"
                    )));
                }
                self.remaining -= len;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => self.fail(err),
            Poll::Ready(None) if self.remaining > 0 => {
                let remaining = self.remaining;
                self.fail(S3Error::internal(format!(
                    "object source ended {remaining} bytes early"
                )))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
        }
    }
}
