//! The `Ufs` handle: opening a root and the three read operations on it.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ClientConfigKey, GetOptions, GetRange, ObjectMeta, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::buffers::BufferPool;
use crate::error::{UfsError, from_store};
use crate::file::UfsFile;
use crate::path::UfsPath;
use crate::{local, s3};

/// How to reach the root given to [`Ufs::open`]; only S3 roots use these.
///
/// S3 credentials come from the usual AWS environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and also
/// `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`), else from web identity or the
/// instance metadata service as object_store resolves them; fields set here win
/// over the environment. A local S3 server such as moto accepts any key pair,
/// but one must be given (e.g. `AWS_ACCESS_KEY_ID=testing`), or the client would
/// go looking for an instance role.
#[derive(Clone, Default)]
pub struct UfsOptions {
    /// S3 endpoint URL, e.g. `http://127.0.0.1:5000` for moto or MinIO; requests
    /// then use path-style addressing (`endpoint/bucket/key`).
    pub s3_endpoint: Option<String>,
    /// S3 region; `us-east-1` when neither this nor `AWS_REGION` is set.
    pub s3_region: Option<String>,
    /// Allow plain `http://` endpoints (local S3 servers); off by default.
    pub allow_http: bool,
    /// Access key, instead of `AWS_ACCESS_KEY_ID`.
    pub s3_access_key_id: Option<String>,
    /// Secret key, instead of `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<String>,
    /// Retries of a failed S3 request (object_store's default, 10, when `None`).
    pub max_retries: Option<usize>,
    /// Deadline of one S3 request (object_store's default, 30 s, when `None`).
    pub request_timeout: Option<Duration>,
}

impl fmt::Debug for UfsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UfsOptions")
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("allow_http", &self.allow_http)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &self.s3_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("max_retries", &self.max_retries)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// What the store says about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatus {
    pub path: UfsPath,
    pub size: u64,
    /// Whole seconds on S3 (all that a HEAD answer gives), so that a listing
    /// and a stat agree; full precision locally.
    pub last_modified: DateTime<Utc>,
    /// Opaque; changes whenever the content may have changed, so a cache keyed
    /// by `(path, version)` never serves stale pages. S3: the ETag. Local: an
    /// ETag made of inode, modification time (µs) and size.
    pub version: String,
}

/// One item of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    File(FileStatus),
    /// A directory (a common prefix on S3); only in non-recursive listings.
    Directory {
        path: UfsPath,
    },
}

impl Entry {
    pub fn path(&self) -> &UfsPath {
        match self {
            Entry::File(status) => &status.path,
            Entry::Directory { path } => path,
        }
    }
}

/// A handle on one UFS root. Cheap to clone: clones share the store and its
/// connection pool.
#[derive(Clone)]
pub struct Ufs {
    inner: Arc<Inner>,
}

struct Inner {
    root: String,
    backend: Backend,
    /// Page-sized read buffers, recycled across requests.
    buffers: Arc<BufferPool>,
}

enum Backend {
    Local {
        store: LocalFileSystem,
        /// Canonical absolute directory that `store` is rooted at.
        dir: PathBuf,
    },
    S3 {
        store: AmazonS3,
        /// Key prefix of the root, without slashes around it; may be empty.
        prefix: String,
    },
}

impl fmt::Debug for Ufs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ufs")
            .field("root", &self.inner.root)
            .finish()
    }
}

impl Ufs {
    /// Opens a root: an absolute local directory (`/srv/data` or
    /// `file:///srv/data`), which must exist, or `s3://bucket/optional/prefix`.
    ///
    /// Opening S3 makes no request: a wrong endpoint, bucket or credential shows
    /// up as an error of the first operation.
    pub fn open(root: &str, options: UfsOptions) -> Result<Ufs, UfsError> {
        let bad = |reason: String| UfsError::InvalidRoot {
            root: root.to_string(),
            reason,
        };
        let backend = if let Some(rest) = root.strip_prefix("s3://") {
            open_s3(rest, &options).map_err(bad)?
        } else if root.starts_with("file:") {
            let url = url::Url::parse(root).map_err(|e| bad(format!("not a valid url: {e}")))?;
            let dir = url.to_file_path().map_err(|()| {
                bad("a file url must name an absolute local path, as in file:///srv/data".into())
            })?;
            open_local(dir).map_err(bad)?
        } else if root.starts_with('/') {
            open_local(PathBuf::from(root)).map_err(bad)?
        } else if let Some((scheme, _)) = root.split_once("://") {
            return Err(bad(format!(
                "the '{scheme}' scheme is not supported; use an absolute directory, \
                 file:///abs/dir or s3://bucket/prefix"
            )));
        } else {
            return Err(bad(
                "expected an absolute directory (/srv/data), file:///srv/data \
                 or s3://bucket/optional/prefix"
                    .into(),
            ));
        };
        tracing::debug!(root, "opened ufs");
        Ok(Ufs {
            inner: Arc::new(Inner {
                root: root.to_string(),
                backend,
                buffers: Arc::default(),
            }),
        })
    }

    /// The root as given to [`Ufs::open`].
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    /// The pool that reads of a local file take their buffers from. Whoever
    /// else reads pages for the same requests (the worker's page store) takes
    /// them here too, so one bounded pool serves the whole read path.
    pub fn buffers(&self) -> &Arc<BufferPool> {
        &self.inner.buffers
    }

    /// `"file"` or `"s3"`, e.g. for a metrics label.
    pub fn scheme(&self) -> &'static str {
        match self.inner.backend {
            Backend::Local { .. } => "file",
            Backend::S3 { .. } => "s3",
        }
    }

    fn store(&self) -> &dyn ObjectStore {
        match &self.inner.backend {
            Backend::Local { store, .. } => store,
            Backend::S3 { store, .. } => store,
        }
    }

    /// Where a file lives in the store. The root is a directory, never a file.
    fn location(&self, path: &UfsPath) -> Result<StorePath, UfsError> {
        let invalid = |reason: &str| UfsError::InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        if path.is_root() {
            return Err(invalid(
                "'/' is the root directory, not a file; give a file path such as /data/a.parquet",
            ));
        }
        let key = match &self.inner.backend {
            Backend::Local { .. } => {
                if path.name().is_some_and(local::is_upload_staging_name) {
                    return Err(invalid(
                        "the local ufs cannot read names ending in '#' and digits, which \
                         object_store reserves for uploads in progress; rename the file",
                    ));
                }
                path.relative().to_string()
            }
            Backend::S3 { prefix, .. } => s3::key(prefix, path),
        };
        // `parse` keeps the text as it is; `Path::from` would percent-encode
        // characters such as '%' and '#' and so name a different file.
        StorePath::parse(key).map_err(|e| invalid(&format!("the store rejects it: {e}")))
    }

    /// Size, modification time and version of a file.
    pub async fn stat(&self, path: &UfsPath) -> Result<FileStatus, UfsError> {
        tracing::debug!(%path, "ufs stat");
        let location = self.location(path)?;
        let options = GetOptions {
            head: true,
            ..Default::default()
        };
        let result = self
            .store()
            .get_opts(&location, options)
            .await
            .map_err(|e| from_store(e, path))?;
        let mut status = file_status(path.clone(), &result.meta);
        if let Backend::S3 { .. } = self.inner.backend {
            status.last_modified = s3::whole_seconds(status.last_modified);
        }
        Ok(status)
    }

    /// The bytes `range` of a file. The range must lie within the file
    /// (`start <= end <= size`), else [`UfsError::InvalidRange`] gives the size;
    /// an empty range is fine, also on an empty file. The whole range is held in
    /// memory: callers read page-sized ranges.
    pub async fn read_range(&self, path: &UfsPath, range: Range<u64>) -> Result<Bytes, UfsError> {
        match self.inner.backend {
            Backend::Local { .. } => self.open_file(path).await?.read_range(range).await,
            Backend::S3 { .. } => self.read_range_from_store(path, range).await,
        }
    }

    /// [`Ufs::read_range`] through object_store: one request per range.
    pub(crate) async fn read_range_from_store(
        &self,
        path: &UfsPath,
        range: Range<u64>,
    ) -> Result<Bytes, UfsError> {
        tracing::debug!(%path, start = range.start, end = range.end, "ufs read");
        let location = self.location(path)?;
        let out_of_range = |size: u64| UfsError::InvalidRange {
            path: path.clone(),
            start: range.start,
            end: range.end,
            size,
        };
        if range.start >= range.end {
            // An HTTP Range header cannot express an empty range, but the file
            // must still exist and the range still fit.
            let status = self.stat(path).await?;
            if range.start > range.end || range.start > status.size {
                return Err(out_of_range(status.size));
            }
            return Ok(Bytes::new());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            ..Default::default()
        };
        let result = match self.store().get_opts(&location, options).await {
            Ok(result) => result,
            Err(e) => {
                let err = from_store(e, path);
                // A start at or past the end is refused (S3 answers 416) with no
                // size attached; fetch it so the error says what would fit.
                if matches!(err, UfsError::Other { .. })
                    && let Ok(status) = self.stat(path).await
                    && range.end > status.size
                {
                    return Err(out_of_range(status.size));
                }
                return Err(err);
            }
        };
        // Stores clamp a range that runs past the end; a short answer would
        // look like a successful read of a truncated file.
        if range.end > result.meta.size {
            return Err(out_of_range(result.meta.size));
        }
        let bytes = result.bytes().await.map_err(|e| from_store(e, path))?;
        let expected = range.end - range.start;
        if bytes.len() as u64 != expected {
            return Err(UfsError::Other {
                message: format!(
                    "short read of {path}: got {} of {expected} bytes; the file changed while \
                     being read, retry",
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    /// Every file below `prefix`, at all levels, in path order (UTF-8 bytes,
    /// the order of S3 keys), streamed with bounded memory: on S3 this is
    /// the recursive [`Ufs::list`], already in key order; locally a walk that
    /// holds one sorted directory per level. For callers that cut ordered
    /// pages out of a listing (the S3 API's ListObjectsV2) without
    /// collecting it. With `after`, only paths after it: a local walk skips
    /// the directories wholly before it without reading them, so a page
    /// deep into a listing costs no more than the first.
    pub fn list_in_order(
        &self,
        prefix: &UfsPath,
        after: Option<&str>,
    ) -> BoxStream<'static, Result<Entry, UfsError>> {
        let after = after.map(str::to_string);
        match &self.inner.backend {
            Backend::Local { dir, .. } => local::walk_in_order(dir, prefix.clone(), after),
            Backend::S3 { .. } => self
                .list(prefix, true)
                .filter(move |entry| {
                    let keep = match (entry, &after) {
                        (Ok(entry), Some(after)) => entry.path().as_str() > after.as_str(),
                        _ => true,
                    };
                    futures::future::ready(keep)
                })
                .boxed(),
        }
    }

    /// Opens a file for a run of range reads (the pages of one request, say)
    /// that answer as [`Ufs::read_range`] would. A local file is opened now,
    /// so a missing one is [`UfsError::NotFound`] here; opening an S3 file
    /// makes no request, and its errors come with the first read.
    pub async fn open_file(&self, path: &UfsPath) -> Result<UfsFile, UfsError> {
        // The checks every operation makes, whichever way it then reads.
        self.location(path)?;
        match &self.inner.backend {
            Backend::Local { dir, .. } => {
                let mut file = dir.clone();
                file.extend(path.segments());
                UfsFile::open_local(path.clone(), file, self.inner.buffers.clone()).await
            }
            Backend::S3 { .. } => Ok(UfsFile::remote(self.clone(), path.clone())),
        }
    }

    /// Streams the files below `prefix` (all levels when `recursive`), or its
    /// files and subdirectories when not. A prefix that does not exist, or that
    /// names a file, gives an empty stream, as object stores have no directories.
    ///
    /// Nothing is collected: the stream holds at most one page (S3: one
    /// `ListObjectsV2` response of up to 1000 keys; local: 1024 directory
    /// entries) at a time.
    ///
    /// Ordering: no global order is promised. S3 answers in key order (UTF-8
    /// bytes), so a recursive S3 listing comes out sorted by path; a
    /// non-recursive one is sorted by path within each page (S3 places a
    /// directory `a/` after a file `a.txt`, path order before it, so a page
    /// boundary can fall out of order). A local recursive listing is in
    /// directory-walk order; a local non-recursive one is sorted within each
    /// page of 1024 entries only. Callers that need an order sort themselves.
    ///
    /// Entries whose names cannot be Ringside paths (control characters,
    /// backslashes, non-UTF-8 local names) are skipped with a warning, since no
    /// read could name them. Symbolic links in a local root are followed.
    /// S3 "folder marker" objects (keys ending in `/`) are hidden when the folder
    /// has contents; an empty folder's marker shows as a 0-byte file.
    /// A failed S3 request ends the stream after its error item; a local
    /// entry that cannot be read gives an error item and the listing goes on.
    pub fn list(
        &self,
        prefix: &UfsPath,
        recursive: bool,
    ) -> BoxStream<'static, Result<Entry, UfsError>> {
        tracing::debug!(%prefix, recursive, "ufs list");
        match &self.inner.backend {
            Backend::Local { store, .. } if recursive => {
                let listed = prefix.clone();
                let location = match StorePath::parse(prefix.relative()) {
                    Ok(location) => location,
                    Err(e) => {
                        let err = UfsError::InvalidPath {
                            path: prefix.to_string(),
                            reason: format!("the store rejects it: {e}"),
                        };
                        return futures::stream::once(async move { Err(err) }).boxed();
                    }
                };
                store
                    .list(Some(&location))
                    .filter_map(move |item| {
                        let entry = match item {
                            Ok(meta) => {
                                local_path(&meta.location).map(|p| Ok(file_entry(p, &meta)))
                            }
                            // A name object_store cannot represent (a control
                            // character): no read could name it either.
                            Err(object_store::Error::InvalidPath { source }) => {
                                tracing::warn!(dir = %listed, error = %source, "skipping a file that no ringside path can name");
                                None
                            }
                            Err(e) => Some(Err(from_store(e, &listed))),
                        };
                        futures::future::ready(entry)
                    })
                    .boxed()
            }
            Backend::Local { dir, .. } => local::list_dir(dir, prefix.clone()),
            Backend::S3 {
                store,
                prefix: root,
            } => s3::list(store.clone(), root.clone(), prefix.clone(), recursive),
        }
    }
}

fn open_local(dir: PathBuf) -> Result<Backend, String> {
    let metadata = std::fs::metadata(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "directory {} does not exist; create it or point the root at an existing directory",
            dir.display()
        ),
        _ => format!("cannot read directory {}: {e}", dir.display()),
    })?;
    if !metadata.is_dir() {
        return Err(format!(
            "{} is a file, not a directory; the root must be a directory",
            dir.display()
        ));
    }
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| format!("cannot resolve directory {}: {e}", dir.display()))?;
    let store = LocalFileSystem::new_with_prefix(&dir)
        .map_err(|e| format!("cannot use directory {}: {e}", dir.display()))?;
    Ok(Backend::Local { store, dir })
}

fn open_s3(rest: &str, options: &UfsOptions) -> Result<Backend, String> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("no bucket; expected s3://bucket/optional/prefix".into());
    }
    let prefix = UfsPath::parse(prefix)
        .map_err(|e| format!("bad key prefix: {e}"))?
        .relative()
        .to_string();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &options.s3_endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &options.s3_region {
        builder = builder.with_region(region);
    }
    if options.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let Some(key) = &options.s3_access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &options.s3_secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(max_retries) = options.max_retries {
        builder = builder.with_retry(RetryConfig {
            max_retries,
            ..RetryConfig::default()
        });
    }
    if let Some(timeout) = options.request_timeout {
        builder = builder.with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", timeout.as_millis().max(1)),
        );
    }
    let store = builder.build().map_err(|e| e.to_string())?;
    Ok(Backend::S3 { store, prefix })
}

/// A Ringside path for a location of the local store, whose text is the file
/// name itself; `None` (with a warning) when users could not name it.
fn local_path(location: &StorePath) -> Option<UfsPath> {
    match UfsPath::parse(location.as_ref()) {
        Ok(path) if !path.is_root() => Some(path),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(%location, error = %e, "skipping a file that no ringside path can name");
            None
        }
    }
}

pub(crate) fn file_status(path: UfsPath, meta: &ObjectMeta) -> FileStatus {
    let version = meta.e_tag.clone().unwrap_or_else(|| {
        format!(
            "{:x}-{:x}",
            meta.size,
            meta.last_modified.timestamp_nanos_opt().unwrap_or_default()
        )
    });
    FileStatus {
        path,
        size: meta.size,
        last_modified: meta.last_modified,
        version,
    }
}

pub(crate) fn file_entry(path: UfsPath, meta: &ObjectMeta) -> Entry {
    Entry::File(file_status(path, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn handles_and_futures_can_cross_threads() {
        let dir = std::env::temp_dir();
        let ufs = Ufs::open(dir.to_str().unwrap(), UfsOptions::default()).unwrap();
        assert_send_sync(&ufs);
        let path = UfsPath::parse("/x").unwrap();
        assert_send(&ufs.stat(&path));
        assert_send(&ufs.read_range(&path, 0..1));
        assert_send(&ufs.open_file(&path));
        assert_send(&ufs.list(&path, true));
    }

    #[test]
    fn entries_serialize_with_a_type_tag() {
        let status = FileStatus {
            path: UfsPath::parse("/a b.txt").unwrap(),
            size: 3,
            last_modified: DateTime::from_timestamp(0, 0).unwrap(),
            version: "\"e\"".into(),
        };
        let file = serde_json::to_value(Entry::File(status.clone())).unwrap();
        assert_eq!(
            file,
            serde_json::json!({
                "type": "file",
                "path": "/a b.txt",
                "size": 3,
                "last_modified": "1970-01-01T00:00:00Z",
                "version": "\"e\"",
            })
        );
        let dir = Entry::Directory {
            path: UfsPath::parse("/d").unwrap(),
        };
        let json = serde_json::to_value(&dir).unwrap();
        assert_eq!(json, serde_json::json!({"type": "directory", "path": "/d"}));
        assert_eq!(serde_json::from_value::<Entry>(json).unwrap(), dir);
        assert_eq!(
            serde_json::from_value::<Entry>(file).unwrap(),
            Entry::File(status)
        );
    }

    #[test]
    fn options_debug_hides_the_secret() {
        let options = UfsOptions {
            s3_secret_access_key: Some("hunter2".into()),
            ..UfsOptions::default()
        };
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    #[test]
    fn listing_works_outside_tokio() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"1").unwrap();
        let ufs = Ufs::open(dir.path().to_str().unwrap(), UfsOptions::default()).unwrap();
        let entries: Vec<Entry> = futures::executor::block_on(futures::TryStreamExt::try_collect(
            ufs.list(&UfsPath::root(), false),
        ))
        .unwrap();
        assert_eq!(entries.len(), 1);
    }
}
