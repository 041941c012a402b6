//! The read path: a byte range of a UFS file, page by page, from the page
//! store when cached, else from the UFS (and then cached behind the read, by
//! [`WriteBehind`]). Whatever the cache does, the bytes are the UFS's: a
//! damaged page reads as a miss, and a page that cannot be cached is still
//! served.

use std::{
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use ringside_pagestore::{FileKey, PageSource, PageStore, page_len};
use ringside_ufs::{FileStatus, Ufs, UfsError, UfsFile, UfsPath};
use tokio::sync::{OnceCell, Semaphore};

use super::metrics::WorkerMetrics;
use super::write_behind::WriteBehind;

/// Bytes one S3 GET fetches when consecutive pages miss. Every GET costs a
/// round trip and a request fee, so a run of missed pages is fetched in
/// ranges of this size (AWS's usual part size for parallel ranged GETs) and
/// then cut into pages. A local file is read a page at a time: a `pread`
/// costs the same either way, and the first byte goes out sooner.
const S3_FETCH_BYTES: u64 = 8 << 20;

/// Reads files through the cache.
#[derive(Clone, Debug)]
pub struct Reader {
    pub store: Arc<PageStore>,
    pub ufs: Ufs,
    pub metrics: WorkerMetrics,
    pub cache: Arc<WriteBehind>,
    pub read_ahead: ReadAhead,
}

/// How many fetches a read keeps in flight ahead of the one being sent.
///
/// Each page is a file of its own, so the kernel's readahead never runs past
/// the page being read; the fetches in flight do the readahead instead. A
/// few suffice while pages come from the OS page cache or the UFS (whose
/// own readahead runs ahead of a sequential read); more buffers in flight
/// then only push the pages being sent out of the CPU caches. Pages that
/// come from the disk wait on it one file at a time, so a read that meets
/// one goes `cold` deep for the rest of its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadAhead {
    pub warm: usize,
    pub cold: usize,
}

impl ReadAhead {
    pub fn new(warm: u32, cold: u32) -> ReadAhead {
        let warm = usize::try_from(warm.max(1)).unwrap_or(usize::MAX);
        let cold = usize::try_from(cold).unwrap_or(usize::MAX).max(warm);
        ReadAhead { warm, cold }
    }

    /// The same depth whether pages come from the disk or not.
    fn never_deeper(self) -> ReadAhead {
        ReadAhead {
            cold: self.warm,
            ..self
        }
    }
}

/// The fetches one read may have in flight: `warm` permits, and the rest of
/// `cold` once a cached page came from the disk.
struct Depth {
    permits: Arc<Semaphore>,
    deep: AtomicBool,
    extra: usize,
}

impl Depth {
    fn new(read_ahead: ReadAhead) -> Depth {
        Depth {
            permits: Arc::new(Semaphore::new(read_ahead.warm)),
            deep: AtomicBool::new(false),
            extra: read_ahead.cold - read_ahead.warm,
        }
    }

    fn saw(&self, source: PageSource) {
        if source == PageSource::Disk && !self.deep.swap(true, Ordering::Relaxed) {
            self.permits.add_permits(self.extra);
        }
    }
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
        let (fetch_pages, read_ahead) = fetches(self.ufs.scheme(), page_size, self.read_ahead);
        let depth = Arc::new(Depth::new(read_ahead));
        stream::iter(groups(pages, fetch_pages))
            .map(move |group| {
                let (reader, key, path) = (reader.clone(), key.clone(), path.clone());
                let (file, depth) = (file.clone(), depth.clone());
                async move {
                    // The semaphore is never closed, so this always gets one;
                    // it is fair, and `buffered` first polls fetches in
                    // order, so the permits go to the pages in order too.
                    let permit = depth.permits.clone().acquire_owned().await.ok();
                    (
                        reader.pages(&key, &path, &file, &depth, group).await,
                        permit,
                    )
                }
            })
            .buffered(read_ahead.cold)
            // A permit goes back when its pages are taken out of `buffered`,
            // not when they arrive: fetched pages waiting there count as in
            // flight.
            .map(|(pages, _permit)| pages)
            .flat_map(|pages| {
                stream::iter(match pages {
                    Ok(pages) => pages.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                })
            })
            .map(move |page| {
                let (index, page) = page?;
                let page_start = index * page_size;
                let from = range.start.max(page_start) - page_start;
                let to = range.end.min(page_start + page.len() as u64) - page_start;
                let from = usize::try_from(from).unwrap_or(usize::MAX);
                let to = usize::try_from(to).unwrap_or(usize::MAX);
                Ok(page.slice(from.min(page.len())..to.min(page.len())))
            })
            .inspect(|chunk| {
                if let Err(e) = chunk {
                    tracing::warn!(error = %e, "read failed");
                }
            })
    }

    /// Whole pages, each with its index: from the store where cached, the
    /// rest from the UFS, one read per run of missing pages, then cached.
    async fn pages(
        &self,
        key: &FileKey,
        path: &UfsPath,
        file: &OnceCell<UfsFile>,
        depth: &Depth,
        indexes: Range<u64>,
    ) -> Result<Vec<(u64, Bytes)>, UfsError> {
        let mut pages = Vec::with_capacity(indexes.clone().count());
        let mut missing: Option<Range<u64>> = None;
        for index in indexes {
            match self.cached(key, path, depth, index).await {
                Some(page) => {
                    if let Some(run) = missing.take() {
                        pages.extend(self.fetch(key, path, file, run).await?);
                    }
                    pages.push((index, page));
                }
                None => match &mut missing {
                    Some(run) => run.end = index + 1,
                    None => missing = Some(index..index + 1),
                },
            }
        }
        if let Some(run) = missing {
            pages.extend(self.fetch(key, path, file, run).await?);
        }
        Ok(pages)
    }

    /// A page from the store, if it has a sound copy.
    async fn cached(
        &self,
        key: &FileKey,
        path: &UfsPath,
        depth: &Depth,
        index: u64,
    ) -> Option<Bytes> {
        // The index answers a miss in memory; only a page it lists is worth
        // a read.
        if !self.store.has_page(key, index) {
            return None;
        }
        let buffers = self.ufs.buffers();
        let len = page_len(key.len(), self.store.page_size(), index).unwrap_or(0);
        let mut page = buffers.take(usize::try_from(len).unwrap_or(0));
        // A page the OS page cache holds is read here: a copy and a checksum
        // cost less than handing the read to another thread and back.
        let Err(left) = self.store.get_page_from_memory(key, index, &mut page) else {
            self.metrics.bytes_read_cache.inc_by(page.len() as u64);
            return Some(buffers.share(page));
        };
        let buffers = buffers.clone();
        let store = self.store.clone();
        let lookup_key = key.clone();
        let read = move || match store.get_page_left(left, &lookup_key, index, &mut page) {
            Ok(Some(source)) => Ok(Some((buffers.share(page), source))),
            unused => {
                buffers.give_back(page);
                unused.map(|_| None)
            }
        };
        match tokio::task::spawn_blocking(read).await {
            Ok(Ok(Some((page, source)))) => {
                depth.saw(source);
                self.metrics.bytes_read_cache.inc_by(page.len() as u64);
                Some(page)
            }
            Ok(Ok(None)) => None,
            Ok(Err(error)) => {
                tracing::warn!(%error, path = %path, "page store read failed; reading the ufs");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "page store task failed; reading the ufs");
                None
            }
        }
    }

    /// Pages `run` from the UFS in one read, each handed to the write-behind
    /// queue as it is served.
    async fn fetch(
        &self,
        key: &FileKey,
        path: &UfsPath,
        file: &OnceCell<UfsFile>,
        run: Range<u64>,
    ) -> Result<Vec<(u64, Bytes)>, UfsError> {
        let page_size = self.store.page_size();
        let start = run.start * page_size;
        let end = (run.end * page_size).min(key.len());
        let data = async {
            let file = file.get_or_try_init(|| self.ufs.open_file(path)).await?;
            file.read_range(start..end).await
        }
        .await
        .inspect_err(|e| self.count_error(e))?;
        self.metrics.bytes_read_ufs.inc_by(data.len() as u64);
        let first = run.start;
        Ok(run
            .map(|index| {
                let from = ((index - first) * page_size) as usize;
                let page = data.slice(from..(from + page_size as usize).min(data.len()));
                // Caching must not slow the read that paid for the miss, nor
                // fail it; a page the queue turns away is counted there.
                self.cache.submit(key.clone(), index, page.clone());
                (index, page)
            })
            .collect())
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

/// Pages fetched from a UFS of `scheme` at once when they all miss, and how
/// many fetches a read keeps in flight.
fn fetches(scheme: &str, page_size: u64, read_ahead: ReadAhead) -> (u64, ReadAhead) {
    match scheme {
        // A fetch from S3 is a ranged GET of up to 8 MiB whatever the page
        // size, so going `cold` deep would hold that many times more memory,
        // and the cached pages of one fetch are read one after another
        // anyway.
        "s3" => (
            (S3_FETCH_BYTES / page_size).max(1),
            read_ahead.never_deeper(),
        ),
        _ => (1, read_ahead),
    }
}

/// `pages` cut into consecutive groups of at most `size`.
fn groups(pages: Range<u64>, size: u64) -> impl Iterator<Item = Range<u64>> {
    let end = pages.end;
    (pages.start..end)
        .step_by(usize::try_from(size.max(1)).unwrap_or(usize::MAX))
        .map(move |first| first..first.saturating_add(size.max(1)).min(end))
}

/// The page store's key of a UFS file version.
pub fn key_of(status: &FileStatus) -> FileKey {
    FileKey::new(status.path.as_str(), status.version.clone(), status.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_the_pages_in_order() {
        let all = |pages: Range<u64>, size| groups(pages, size).collect::<Vec<_>>();
        assert_eq!(all(0..5, 1), [0..1, 1..2, 2..3, 3..4, 4..5]);
        assert_eq!(all(3..11, 4), [3..7, 7..11]);
        assert_eq!(all(3..12, 4), [3..7, 7..11, 11..12]);
        assert_eq!(all(0..0, 8), Vec::<Range<u64>>::new());
        // A group size of 0 is taken as 1.
        assert_eq!(all(2..4, 0), [2..3, 3..4]);
    }

    #[test]
    fn reads_go_deep_once_a_page_comes_from_the_disk() {
        assert_eq!(ReadAhead::new(4, 16), ReadAhead { warm: 4, cold: 16 });
        // Never shallower when cold, never no fetch at all.
        assert_eq!(ReadAhead::new(8, 2), ReadAhead { warm: 8, cold: 8 });
        assert_eq!(ReadAhead::new(0, 0), ReadAhead { warm: 1, cold: 1 });
        let default = ReadAhead::new(4, 16);
        let shallow = ReadAhead { warm: 4, cold: 4 };
        assert_eq!(fetches("file", 1 << 20, default), (1, default));
        assert_eq!(fetches("s3", 1 << 20, default), (8, shallow));
        // Pages of 8 MiB or more make S3 fetches of one page: still shallow.
        assert_eq!(fetches("s3", 16 << 20, default), (1, shallow));
        let depth = Depth::new(ReadAhead::new(4, 16));
        depth.saw(PageSource::OsCache);
        assert_eq!(depth.permits.available_permits(), 4);
        depth.saw(PageSource::Disk);
        depth.saw(PageSource::Disk);
        assert_eq!(depth.permits.available_permits(), 16);
    }
}
