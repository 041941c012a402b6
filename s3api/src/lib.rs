//! An S3-compatible, read-only, path-style HTTP API, so that stock S3 SDKs
//! and tools (boto3, the AWS CLI, rclone, ...) can read through a Ringside
//! worker's cache with nothing but an `endpoint_url`. This crate is the
//! protocol layer only: it parses requests, answers in S3's XML and
//! headers, and asks an [`ObjectSource`] (the worker's page store in front
//! of its UFS) for metadata, bytes and listings. It does no I/O of its own.
//!
//! Served: ListBuckets (`GET /`), HeadBucket, GetBucketLocation,
//! ListObjectsV2 and ListObjects (V1), HeadObject and GetObject with
//! `Range`, `partNumber=1`, conditional headers and `response-*`
//! overrides. Writes are refused with 405 MethodNotAllowed, other S3
//! features (`?acl`, `?versions`, ...) with 501 NotImplemented.
//!
//! Authentication: none yet. Requests signed with any SigV4 credentials,
//! presigned URLs and unsigned requests are all accepted and treated
//! alike; signatures are not verified. Identity and authorization come
//! later; until then, expose this listener only where every client may
//! read every object of the source.
//!
//! ```no_run
//! # async fn serve(source: ringside_s3api::MemorySource) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:29998").await?;
//! axum::serve(listener, ringside_s3api::router(source)).await
//! # }
//! ```

mod error;
mod listing;
pub mod memory;
mod request;
mod service;
mod source;
mod xml;

pub use bytes::Bytes;
pub use error::S3Error;
pub use listing::MAX_KEYS;
pub use memory::MemorySource;
pub use ringside_api::range::{ByteRange, RangeSpec, Unsatisfiable};
pub use service::router;
pub use source::{
    ByteStream, GetObject, ListEntry, ListMarker, ListPage, ListRequest, ObjectMeta, ObjectSource,
    Paginator, paginate,
};
