//! The read path: a byte range of a UFS file, page by page, from the page
//! store when cached, else from the UFS (and then cached behind the read, by
//! [`WriteBehind`]). Whatever the cache does, the bytes are the UFS's: a
//! damaged page reads as a miss, and a page that cannot be cached is still
//! served.

use std::{ops::Range, sync::Arc};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use ringside_pagestore::{FileKey, PageStore};
use ringside_ufs::{FileStatus, Ufs, UfsError, UfsFile, UfsPath};
use tokio::sync::OnceCell;

use super::metrics::WorkerMetrics;
use super::write_behind::WriteBehind;

/// Pages fetched ahead of the one being sent.
const READ_AHEAD_PAGES: usize = 4;

/// Reads files through the cache.
#[derive(Clone, Debug)]
pub struct Reader {
    pub store: Arc<PageStore>,
    pub ufs: Ufs,
    pub metrics: WorkerMetrics,
    pub cache: Arc<WriteBehind>,
}

impl Reader {
    /// The file's status in the UFS; its version keys the cached pages, so a
    /// file changed in the UFS is never served from stale pages.
    pub async fn stat(&self, path: &UfsPath) -> Result<FileStatus, UfsError> {
        self.ufs
            .stat(path)
            .await
            .inspect_err(|e| self.count_error(e))
    }

    /// The bytes `range` of the file `status` describes, as a stream of
    /// chunks of at most one page; `range` must lie within the file.
    pub fn read(
        &self,
        status: &FileStatus,
        range: Range<u64>,
    ) -> impl Stream<Item = Result<Bytes, UfsError>> + Send + 'static {
        let page_size = self.store.page_size();
        let key = key_of(status);
        let path = status.path.clone();
        let pages = if range.is_empty() {
            0..0
        } else {
            range.start / page_size..(range.end - 1) / page_size + 1
        };
        let reader = self.clone();
        // Opened on the first miss and shared by the request's pages, so a
        // run of misses reads one open file.
        let file = Arc::new(OnceCell::new());
        stream::iter(pages)
            .map(move |index| {
                let (reader, key, path) = (reader.clone(), key.clone(), path.clone());
                let (range, file) = (range.clone(), file.clone());
                async move {
                    let page_start = index * page_size;
                    let page = reader.page(&key, &path, &file, index).await?;
                    let from = range.start.max(page_start) - page_start;
                    let to = range.end.min(page_start + page.len() as u64) - page_start;
                    let from = usize::try_from(from).unwrap_or(usize::MAX);
                    let to = usize::try_from(to).unwrap_or(usize::MAX);
                    Ok(page.slice(from.min(page.len())..to.min(page.len())))
                }
            })
            // Each page is its own file, so kernel readahead never runs past
            // the page being sent; keeping a few pages in flight does the
            // readahead here, in order.
            .buffered(READ_AHEAD_PAGES)
            .inspect(|chunk| {
                if let Err(e) = chunk {
                    tracing::warn!(error = %e, "read failed");
                }
            })
    }

    /// One whole page: from the store, or from the UFS and then cached.
    async fn page(
        &self,
        key: &FileKey,
        path: &UfsPath,
        file: &OnceCell<UfsFile>,
        index: u64,
    ) -> Result<Bytes, UfsError> {
        // The index answers a miss in memory; only a page it lists is worth
        // a trip to the blocking pool.
        if self.store.has_page(key, index) {
            let store = self.store.clone();
            let lookup_key = key.clone();
            let cached =
                tokio::task::spawn_blocking(move || store.get_page(&lookup_key, index)).await;
            match cached {
                Ok(Ok(Some(page))) => {
                    self.metrics.bytes_read_cache.inc_by(page.len() as u64);
                    return Ok(Bytes::from(page));
                }
                Ok(Ok(None)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, path = %path, "page store read failed; reading the ufs")
                }
                Err(error) => tracing::warn!(%error, "page store task failed; reading the ufs"),
            }
        }
        let page_size = self.store.page_size();
        let start = index * page_size;
        let end = (start + page_size).min(key.len());
        let data = async {
            let file = file.get_or_try_init(|| self.ufs.open_file(path)).await?;
            file.read_range(start..end).await
        }
        .await
        .inspect_err(|e| self.count_error(e))?;
        self.metrics.bytes_read_ufs.inc_by(data.len() as u64);
        // Caching must not slow the read that paid for the miss, nor fail
        // it; a page the queue turns away is counted there.
        self.cache.submit(key.clone(), index, data.clone());
        Ok(data)
    }

    fn count_error(&self, error: &UfsError) {
        if !matches!(error, UfsError::NotFound { .. }) {
            self.metrics
                .ufs_errors
                .with_label_values(&[error.code()])
                .inc();
        }
    }
}

/// The page store's key of a UFS file version.
pub fn key_of(status: &FileStatus) -> FileKey {
    FileKey::new(status.path.as_str(), status.version.clone(), status.size)
}
