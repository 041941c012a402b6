//! The router at the HTTP level, with requests no SDK would send: raw
//! traversal paths, broken encodings, misbehaving sources, fuzzed input.

use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use proptest::prelude::*;
use ringside_s3api::{
    ByteStream, Bytes, GetObject, ListPage, ListRequest, MemorySource, ObjectMeta, ObjectSource,
    RangeSpec, S3Error, router,
};
use tower::ServiceExt;

fn app() -> Router {
    let source = MemorySource::new();
    source.put("b", "dir/file one.txt", &b"0123456789"[..]);
    source.put("b", "empty", Bytes::new());
    router(source)
}

async fn send(app: Router, method: Method, uri: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn get(uri: &str) -> (StatusCode, String) {
    let response = send(app(), Method::GET, uri, &[]).await;
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn code(xml: &str) -> &str {
    xml.split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .unwrap_or("")
}

#[tokio::test]
async fn errors_are_s3_xml_with_the_right_status() {
    let cases = [
        ("/b/nope", StatusCode::NOT_FOUND, "NoSuchKey"),
        ("/nope/k", StatusCode::NOT_FOUND, "NoSuchBucket"),
        ("/nope", StatusCode::NOT_FOUND, "NoSuchBucket"),
        (
            "/b/../etc/passwd",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        (
            "/b/dir/%2e%2e/%2e%2e/x",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        ("/b//etc/passwd", StatusCode::BAD_REQUEST, "InvalidArgument"),
        ("/b/%FF%FE", StatusCode::BAD_REQUEST, "InvalidArgument"),
        ("/b/a%00", StatusCode::BAD_REQUEST, "InvalidArgument"),
        (
            "/b?list-type=2&max-keys=ten",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        (
            "/b?list-type=2&continuation-token=zz",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        (
            "/b?list-type=2&prefix=../",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        ("/b?acl", StatusCode::NOT_IMPLEMENTED, "NotImplemented"),
        (
            "/b/dir/file%20one.txt?tagging",
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
        ),
        (
            "/b/dir/file%20one.txt?versionId=v2",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        (
            "/b/dir/file%20one.txt?partNumber=0",
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        ),
        (
            "/b/dir/file%20one.txt?partNumber=2",
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidPartNumber",
        ),
    ];
    for (uri, status, expected) in cases {
        let (got, body) = get(uri).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(code(&body), expected, "{uri}: {body}");
        assert!(body.contains("<RequestId>"), "{uri}: {body}");
        assert!(body.starts_with("<?xml"), "{uri}: {body}");
    }
}

#[tokio::test]
async fn writes_are_refused_as_read_only() {
    for method in [Method::PUT, Method::POST, Method::DELETE, Method::PATCH] {
        let response = send(app(), method.clone(), "/b/dir/file%20one.txt", &[]).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(code(&body), "MethodNotAllowed");
        assert!(body.contains(&format!(
            "The {method} method is not allowed: this S3 API is read-only."
        )));
    }
}

#[tokio::test]
async fn object_headers() {
    let response = send(app(), Method::GET, "/b/dir/file%20one.txt", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(h[header::CONTENT_LENGTH], "10");
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert!(h[header::ETAG].to_str().unwrap().starts_with('"'));
    assert!(h[header::LAST_MODIFIED].to_str().unwrap().ends_with(" GMT"));
    assert_eq!(h["x-amz-request-id"].len(), 16);
    assert_eq!(
        to_bytes(response.into_body(), usize::MAX).await.unwrap(),
        "0123456789"
    );

    let head = send(app(), Method::HEAD, "/b/dir/file%20one.txt", &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "10");
    assert!(
        to_bytes(head.into_body(), usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    let overridden = send(
        app(),
        Method::GET,
        "/b/dir/file%20one.txt?response-content-type=text%2Fplain&response-content-disposition=attachment",
        &[],
    )
    .await;
    assert_eq!(overridden.headers()[header::CONTENT_TYPE], "text/plain");
    assert_eq!(
        overridden.headers()[header::CONTENT_DISPOSITION],
        "attachment"
    );
}

#[tokio::test]
async fn ranges() {
    let r = send(
        app(),
        Method::GET,
        "/b/dir/file%20one.txt",
        &[("range", "bytes=-3")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 7-9/10");
    assert_eq!(r.headers()[header::CONTENT_LENGTH], "3");
    assert_eq!(to_bytes(r.into_body(), usize::MAX).await.unwrap(), "789");

    let r = send(
        app(),
        Method::GET,
        "/b/dir/file%20one.txt",
        &[("range", "bytes=10-")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */10");

    let r = send(app(), Method::GET, "/b/empty", &[("range", "bytes=0-")]).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */0");

    for ignored in ["bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=abc"] {
        let r = send(
            app(),
            Method::GET,
            "/b/dir/file%20one.txt",
            &[("range", ignored)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "{ignored}");
        assert_eq!(
            to_bytes(r.into_body(), usize::MAX).await.unwrap(),
            "0123456789"
        );
    }

    let r = send(
        app(),
        Method::GET,
        "/b/dir/file%20one.txt?partNumber=1",
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 0-9/10");
}

#[tokio::test]
async fn preconditions() {
    let head = send(app(), Method::HEAD, "/b/dir/file%20one.txt", &[]).await;
    let etag = head.headers()[header::ETAG].to_str().unwrap().to_owned();
    let modified = head.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let uri = "/b/dir/file%20one.txt";
    let status = |headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        send(app(), Method::GET, uri, &headers).await.status()
    };
    // Each request gets a fresh app and object, so the ETag (a content
    // hash) is the same but the modification time may tick; use the ETag
    // where it matters and a far past or future date otherwise.
    assert_eq!(
        status(vec![("if-match", etag.clone())]).await,
        StatusCode::OK
    );
    assert_eq!(
        status(vec![("if-match", format!("\"x\", {etag}"))]).await,
        StatusCode::OK
    );
    assert_eq!(status(vec![("if-match", "*".into())]).await, StatusCode::OK);
    assert_eq!(
        status(vec![("if-match", "\"x\"".into())]).await,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        status(vec![("if-none-match", etag.clone())]).await,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        status(vec![("if-none-match", format!("W/{etag}"))]).await,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        status(vec![("if-match", format!("W/{etag}"))]).await,
        StatusCode::PRECONDITION_FAILED
    );
    let past = "Sun, 06 Nov 1994 08:49:37 GMT".to_owned();
    let future = "Fri, 31 Dec 9999 23:59:59 GMT".to_owned();
    assert_eq!(
        status(vec![("if-unmodified-since", past.clone())]).await,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        status(vec![("if-modified-since", future)]).await,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        status(vec![("if-modified-since", past)]).await,
        StatusCode::OK
    );
    assert_eq!(
        status(vec![("if-modified-since", "garbage".into())]).await,
        StatusCode::OK
    );
    // If-Match true outranks a failing If-Unmodified-Since (RFC 9110 §13.2.2).
    assert_eq!(
        status(vec![
            ("if-match", etag),
            (
                "if-unmodified-since",
                "Sun, 06 Nov 1994 08:49:37 GMT".into()
            )
        ])
        .await,
        StatusCode::OK
    );
    assert!(!modified.is_empty());
}

#[tokio::test]
async fn listings_and_buckets() {
    let (status, body) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<Bucket><Name>b</Name>"), "{body}");

    let (status, body) = get("/b?list-type=2&delimiter=%2F").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"),
        "{body}"
    );
    assert!(body.contains("<Key>empty</Key>"), "{body}");
    assert!(body.contains("<KeyCount>2</KeyCount>"), "{body}");

    let (status, body) = get("/b/?list-type=2&prefix=dir%2F&encoding-type=url").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<Key>dir/file%20one.txt</Key>"), "{body}");

    let (status, body) = get("/b?location").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<LocationConstraint"), "{body}");

    let head = send(app(), Method::HEAD, "/b", &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    let head = send(app(), Method::HEAD, "/nope", &[]).await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert!(
        to_bytes(head.into_body(), usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A source that breaks its contract in every way it can.
#[derive(Clone)]
struct Broken;

impl ObjectSource for Broken {
    fn buckets(&self) -> Vec<String> {
        vec!["b".into()]
    }

    async fn head(&self, _bucket: &str, key: &str) -> Result<ObjectMeta, S3Error> {
        match key {
            "panic" => panic!("source bug"),
            "bad-etag" => Ok(ObjectMeta::new(1, UNIX_EPOCH, "bad\n")),
            // Before 1970 and after 9999: dates must be clamped, not panic.
            "ancient" => Ok(ObjectMeta::new(
                1,
                UNIX_EPOCH - Duration::from_secs(10),
                "e",
            )),
            "far-future" => Ok(ObjectMeta::new(
                1,
                UNIX_EPOCH + Duration::from_secs(1 << 40),
                "e",
            )),
            _ => Err(S3Error::internal("/secret/path: disk failure")),
        }
    }

    async fn get(
        &self,
        _bucket: &str,
        key: &str,
        _range: Option<RangeSpec>,
    ) -> Result<GetObject, S3Error> {
        let meta = ObjectMeta::new(10, UNIX_EPOCH, "e");
        let body = match key {
            "short" => ByteStream::from_bytes(&b"12345"[..]),
            "long" => ByteStream::from_bytes(&b"0123456789abc"[..]),
            "fails" => ByteStream::new(futures::stream::iter(vec![
                Ok(Bytes::from_static(b"01234")),
                Err(S3Error::internal("UFS read failed")),
            ])),
            // The rest never comes: only a server that streams can answer.
            "stalls" => ByteStream::new(
                futures::stream::iter(vec![Ok(Bytes::from_static(b"01234"))])
                    .chain(futures::stream::pending()),
            ),
            _ => return Err(S3Error::internal("/secret/path: disk failure")),
        };
        Ok(GetObject { meta, body })
    }

    async fn list(&self, _bucket: &str, _req: ListRequest) -> Result<ListPage, S3Error> {
        Err(S3Error::AccessDenied("not today".into()))
    }
}

#[tokio::test]
async fn broken_sources_give_errors_not_panics_or_wrong_bytes() {
    let app = router(Broken);

    let r = send(app.clone(), Method::HEAD, "/b/panic", &[]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let r = send(app.clone(), Method::HEAD, "/b/bad-etag", &[]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);

    for key in ["ancient", "far-future"] {
        let r = send(app.clone(), Method::HEAD, &format!("/b/{key}"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{key}");
    }

    let r = send(app.clone(), Method::GET, "/b/other", &[]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(code(&body), "InternalError");
    assert!(!body.contains("secret"), "internal details leak: {body}");

    let (status, body) = {
        let r = send(app.clone(), Method::GET, "/b?list-type=2", &[]).await;
        let status = r.status();
        (status, to_bytes(r.into_body(), usize::MAX).await.unwrap())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&String::from_utf8_lossy(&body)), "AccessDenied");

    // Bodies are streamed, not collected first: the answer and its first
    // bytes arrive although the source never finishes.
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        send(app.clone(), Method::GET, "/b/stalls", &[]),
    )
    .await
    .expect("headers before the body is complete");
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.into_body().into_data_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), body.next())
        .await
        .expect("first chunk before the body is complete");
    assert_eq!(first.unwrap().unwrap(), "01234");

    // Headers are already sent when a body goes wrong; the body must then
    // fail rather than end cleanly with the wrong bytes.
    for key in ["short", "long", "fails"] {
        let r = send(app.clone(), Method::GET, &format!("/b/{key}"), &[]).await;
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "10");
        assert!(to_bytes(r.into_body(), usize::MAX).await.is_err(), "{key}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the path, query and Range header, the answer is never a
    /// server error (only NotImplemented, which names an unsupported
    /// feature, is a 5xx), and never a panic.
    #[test]
    fn any_request_is_answered_without_a_server_error(
        path in "/[b/a-z%0-9A-F.+ ]{0,20}",
        query in "[a-z=&%0-9-]{0,30}",
        range in "[bytes=0-9,-]{0,16}",
        method in prop_oneof![Just(Method::GET), Just(Method::HEAD), Just(Method::PUT)],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let path = path.replace(' ', "%20");
        let uri = format!("{path}?{query}");
        let Ok(uri) = uri.parse::<axum::http::Uri>() else { return Ok(()) };
        let status = runtime.block_on(async {
            let response = send(app(), method, &uri.to_string(), &[("range", &range)]).await;
            let status = response.status();
            let _ = to_bytes(response.into_body(), usize::MAX).await;
            status
        });
        prop_assert!(
            !status.is_server_error() || status == StatusCode::NOT_IMPLEMENTED,
            "{} for {}", status, uri
        );
    }
}
