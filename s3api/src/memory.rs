//! An [`ObjectSource`] held in memory, for tests and examples of the S3
//! API: it exercises every part of the contract (ranges, listing order,
//! chunked bodies) without a worker behind it. Not for serving real data.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use bytes::Bytes;
use ringside_api::range::RangeSpec;

use crate::error::S3Error;
use crate::source::{
    ByteStream, GetObject, ListEntry, ListPage, ListRequest, ObjectMeta, ObjectSource, paginate,
};

/// Chunk size of streamed bodies: small enough that tests see several
/// chunks per object, as a real source's reads would produce.
const CHUNK: usize = 64 * 1024;

type Buckets = BTreeMap<String, BTreeMap<String, (ObjectMeta, Bytes)>>;

/// Buckets of objects in memory. Clones share the same contents.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    buckets: Arc<RwLock<Buckets>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an empty bucket (or leaves an existing one alone).
    pub fn create_bucket(&self, bucket: &str) {
        self.write().entry(bucket.to_owned()).or_default();
    }

    /// Stores an object, creating its bucket if needed. The ETag is a hash
    /// of the content, so it changes when the content does.
    pub fn put(&self, bucket: &str, key: &str, data: impl Into<Bytes>) -> ObjectMeta {
        let data = data.into();
        let meta = ObjectMeta::new(data.len() as u64, SystemTime::now(), etag_of(&data));
        self.write()
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), (meta.clone(), data));
        meta
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Buckets> {
        // A panic while holding the lock cannot leave a map half-updated
        // in a way that matters here, so a poisoned lock is still usable.
        self.buckets.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Buckets> {
        self.buckets.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<(ObjectMeta, Bytes), S3Error> {
        let buckets = self.read();
        let objects = buckets.get(bucket).ok_or(S3Error::NoSuchBucket)?;
        objects.get(key).cloned().ok_or(S3Error::NoSuchKey)
    }
}

impl ObjectSource for MemorySource {
    fn buckets(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, S3Error> {
        self.object(bucket, key).map(|(meta, _)| meta)
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> Result<GetObject, S3Error> {
        let (meta, data) = self.object(bucket, key)?;
        let slice = match range {
            Some(spec) => {
                let r = spec.resolve(meta.size)?;
                // Both ends are at most `data.len()`, which fits in usize.
                data.slice(r.start() as usize..r.end() as usize)
            }
            None => data,
        };
        let chunks: Vec<Result<Bytes, S3Error>> = (0..slice.len())
            .step_by(CHUNK)
            .map(|at| Ok(slice.slice(at..slice.len().min(at + CHUNK))))
            .collect();
        Ok(GetObject {
            meta,
            body: ByteStream::new(futures::stream::iter(chunks)),
        })
    }

    async fn list(&self, bucket: &str, req: ListRequest) -> Result<ListPage, S3Error> {
        let buckets = self.read();
        let objects = buckets.get(bucket).ok_or(S3Error::NoSuchBucket)?;
        let entries = objects
            .range::<str, _>((Bound::Included(req.seek_key()), Bound::Unbounded))
            .map(|(key, (meta, _))| ListEntry {
                key: key.clone(),
                meta: meta.clone(),
            });
        Ok(paginate(entries, &req))
    }
}

/// FNV-1a, 64 bits: a dependency-free content hash, good enough to tell
/// versions apart in tests.
fn etag_of(data: &[u8]) -> String {
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}-{}", data.len())
}
