//! The worker's S3-compatible read API: the UFS root appears as one bucket,
//! named after the cluster, and every object read goes through the cache.

use std::time::SystemTime;

use futures::{StreamExt, TryStreamExt};
use ringside_s3api::{
    ByteStream, GetObject, ListEntry, ListMarker, ListPage, ListRequest, ObjectMeta, ObjectSource,
    Paginator, RangeSpec, S3Error, paginate,
};
use ringside_ufs::{Entry, FileStatus, UfsError, UfsPath};

use super::read::Reader;

/// Serves `bucket` from `reader`.
#[derive(Clone, Debug)]
pub struct CacheSource {
    pub bucket: String,
    pub reader: Reader,
}

fn s3_error(error: UfsError) -> S3Error {
    match error {
        UfsError::NotFound { .. } => S3Error::NoSuchKey,
        UfsError::InvalidPath { .. } => S3Error::InvalidArgument(error.to_string()),
        UfsError::InvalidRange { size, .. } => S3Error::InvalidRange { size },
        UfsError::PermissionDenied { .. } => S3Error::AccessDenied(error.to_string()),
        other => S3Error::Internal(other.to_string()),
    }
}

fn meta(status: &FileStatus) -> ObjectMeta {
    ObjectMeta {
        size: status.size,
        last_modified: SystemTime::from(status.last_modified),
        etag: status.version.clone(),
    }
}

impl CacheSource {
    fn check_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        if bucket == self.bucket {
            Ok(())
        } else {
            Err(S3Error::NoSuchBucket)
        }
    }

    async fn status(&self, bucket: &str, key: &str) -> Result<FileStatus, S3Error> {
        self.check_bucket(bucket)?;
        let path = UfsPath::parse(key).map_err(s3_error)?;
        self.reader.stat(&path).await.map_err(s3_error)
    }
}

impl ObjectSource for CacheSource {
    fn buckets(&self) -> Vec<String> {
        vec![self.bucket.clone()]
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, S3Error> {
        Ok(meta(&self.status(bucket, key).await?))
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> Result<GetObject, S3Error> {
        let status = self.status(bucket, key).await?;
        let bytes = match range {
            Some(spec) => {
                let r = spec.resolve(status.size)?;
                r.start()..r.end()
            }
            None => 0..status.size,
        };
        let body = ByteStream::new(self.reader.read(&status, bytes).map_err(s3_error));
        Ok(GetObject {
            meta: meta(&status),
            body,
        })
    }

    /// Lists the directory the prefix names (or sits in), keyed without
    /// the leading slash. Without a delimiter the whole tree below it
    /// streams through the pagination in key order, so a page costs the
    /// memory of a page (and of one directory per level), however many
    /// files there are. With the `/` delimiter one directory level is read
    /// and sorted; its directories become keys ending in `/`, which the
    /// pagination rolls up into common prefixes.
    async fn list(&self, bucket: &str, req: ListRequest) -> Result<ListPage, S3Error> {
        self.check_bucket(bucket)?;
        let dir = match req.prefix.rfind('/') {
            Some(i) => &req.prefix[..i],
            None => "",
        };
        let dir = UfsPath::parse(dir).map_err(s3_error)?;
        if req.delimiter.as_deref() != Some("/") {
            // Resuming, start the walk after the marker rather than at the top.
            let after = match &req.after {
                Some(ListMarker::Key(key)) | Some(ListMarker::CommonPrefix(key)) => {
                    Some(format!("/{key}"))
                }
                None => None,
            };
            let mut files = self.reader.ufs.list_in_order(&dir, after.as_deref());
            let mut paginator = Paginator::new(&req);
            while let Some(entry) = files.next().await {
                let status = match entry {
                    Ok(Entry::File(status)) => status,
                    Ok(Entry::Directory { .. }) => continue,
                    // Gone while listed: the listing ends there.
                    Err(UfsError::NotFound { .. }) => break,
                    Err(e) => return Err(s3_error(e)),
                };
                let entry = ListEntry {
                    key: status.path.relative().to_string(),
                    meta: meta(&status),
                };
                if paginator.push(entry).is_break() {
                    break;
                }
            }
            return Ok(paginator.finish());
        }
        let mut keys: Vec<ListEntry> = self
            .reader
            .ufs
            .list(&dir, false)
            .map_err(s3_error)
            .try_filter_map(|entry| async move {
                Ok(match entry {
                    Entry::File(status) => Some(ListEntry {
                        key: status.path.relative().to_string(),
                        meta: meta(&status),
                    }),
                    Entry::Directory { path } => Some(ListEntry {
                        key: format!("{}/", path.relative()),
                        meta: ObjectMeta {
                            size: 0,
                            last_modified: SystemTime::UNIX_EPOCH,
                            etag: String::new(),
                        },
                    }),
                })
            })
            .try_collect()
            .await
            .or_else(|e| match e {
                S3Error::NoSuchKey => Ok(Vec::new()),
                other => Err(other),
            })?;
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(paginate(keys, &req))
    }
}
