//! [`PageStore`]: the index and the disk put together, and the locking that
//! keeps them consistent without holding a global lock during disk I/O.
//!
//! Two kinds of lock, always taken in this order and never two stripes at
//! once:
//!
//! 1. A *stripe* lock (one of 64, chosen by hashing file id and page index)
//!    serialises the renames and deletions of one page name (or one
//!    metadata record). Whoever deletes a page re-checks the index under
//!    the stripe first, so a page cached again meanwhile is never deleted
//!    from under the index.
//! 2. The *index* mutex guards the in-memory index and is held only for
//!    in-memory work: never across a read, write, fsync or rename.
//!
//! Reads take no stripe: a rename replaces a page atomically, and a page
//! deleted after the lookup reads as a miss.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, info, warn};

use crate::disk::{Disk, FileIdentity, ReadOutcome, Wait};
use crate::error::{PageStoreError, is_disk_full};
use crate::format::{MetaRecord, PageHeader, RelPath};
use crate::index::{Begin, Garbage, Index};
use crate::key::{CachedFile, FileKey, page_count, page_len};
use crate::options::Options;
use crate::scan;
use crate::tenant::{self, Expired, TenantRule, TenantStats};

/// Page slots an [`PageStore::expire`] pass checks per hold of the index
/// lock: a few milliseconds of work, so reads never wait long behind it.
const EXPIRE_CHUNK: u32 = 1 << 16;

/// Seconds since the Unix epoch, as the index keeps cache times (in 32
/// bits: good until 2106).
pub(crate) fn unix_seconds(at: SystemTime) -> u32 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32)
}

const STRIPES: usize = 64;
/// Stands in for the page index when locking a file's metadata record.
const META_STRIPE: u64 = u64::MAX;

/// Where a cached page's bytes came from. Each page is a file of its own, so
/// the kernel's readahead never runs from one page into the next: a reader
/// that finds pages coming from the disk does well to ask for more of them
/// at once. Told by the page's header, the file's first bytes, and, for a
/// read that first tried [`PageStore::get_page_from_memory`], by its payload
/// too: otherwise a page whose header the OS page cache still holds counts
/// as `OsCache` even if some of its payload had been evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSource {
    /// The OS page cache held the page.
    OsCache,
    /// The page was read from the disk.
    Disk,
}

/// A page [`PageStore::get_page_from_memory`] did not read, to be read with
/// [`PageStore::get_page_left`].
#[derive(Debug)]
#[must_use = "the page is still to be read, with get_page_left"]
pub struct NotInMemory {
    on_disk: bool,
}

/// Counters and gauges of a page store, for metrics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Payload bytes of cached pages plus those reserved by writes in
    /// progress; never above `capacity_bytes`.
    pub used_bytes: u64,
    /// The configured capacity (`size`).
    pub capacity_bytes: u64,
    /// The configured reserve (`reserved_size`).
    pub reserved_bytes: u64,
    /// Bytes per page.
    pub page_size: u64,
    /// Cached pages.
    pub pages: u64,
    /// Files with cached pages (or a write in progress).
    pub files: u64,
    /// Estimated heap bytes of the in-memory index.
    pub index_heap_bytes: u64,
    /// Reads answered from the cache.
    pub hits_total: u64,
    /// Of those, the reads whose page the OS page cache did not hold, so
    /// that it came from the disk.
    pub disk_hits_total: u64,
    /// Reads not answered from the cache (including those that found a
    /// damaged page).
    pub misses_total: u64,
    /// Pages written to the cache.
    pub puts_total: u64,
    /// Pages evicted to make room.
    pub evictions_total: u64,
    /// Payload bytes of the evicted pages.
    pub evicted_bytes_total: u64,
    /// Pages that failed their checksum or header check on read and were
    /// deleted.
    pub checksum_failures_total: u64,
    /// Indexed pages found missing from disk (deleted behind the store's
    /// back).
    pub lost_pages_total: u64,
    /// Puts that failed because the disk was full.
    pub disk_full_total: u64,
    /// Puts refused because writes in flight held all the capacity.
    pub capacity_exhausted_total: u64,
    /// Pages removed because they outlived their tenant's TTL.
    pub expired_pages_total: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    evictions: AtomicU64,
    evicted_bytes: AtomicU64,
    checksum_failures: AtomicU64,
    lost_pages: AtomicU64,
    disk_full: AtomicU64,
    capacity_exhausted: AtomicU64,
    expired_pages: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// A page written to a temporary file, with its file's metadata record
/// when that is new too.
struct Staged {
    meta: Option<RelPath>,
    page: RelPath,
}

fn meta_record(key: &FileKey, page_size: u64) -> Vec<u8> {
    MetaRecord {
        path: key.path().to_string(),
        version: key.version().to_string(),
        len: key.len(),
        page_size,
    }
    .encode()
}

/// Room reserved in the index for a page about to be written.
struct Reserved {
    id: u128,
    page: u32,
    len: u32,
    need_meta: bool,
}

/// A worker's page cache on local disk. See the [crate documentation](crate).
pub struct PageStore {
    options: Options,
    disk: Disk,
    index: Mutex<Index>,
    stripes: Box<[Mutex<()>]>,
    counters: Counters,
}

impl fmt::Debug for PageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStore")
            .field("dir", &self.options.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl PageStore {
    /// Opens the store in `options.dir`, creating it when missing, and
    /// rebuilds its index from what is on disk (see the crate documentation
    /// for what is checked and what is deleted). Fails when the disk cannot
    /// hold `size + reserved_size`, when another process has the store open,
    /// or when the directory holds files of an unknown format version.
    pub fn open(options: Options) -> Result<PageStore, PageStoreError> {
        PageStore::open_with_free_space(options, Disk::free_bytes)
    }

    /// [`PageStore::open`] with the free-space probe replaced, so tests can
    /// pretend the disk is smaller than it is.
    pub(crate) fn open_with_free_space(
        options: Options,
        free_space: impl FnOnce(&Disk) -> io::Result<u64>,
    ) -> Result<PageStore, PageStoreError> {
        options.validate()?;
        let started = Instant::now();
        let disk = Disk::open(&options.dir, options.sync_writes)?;
        let mut index = Index::new(&options);
        let report = scan::rebuild(
            disk.dir(),
            options.page_size,
            options.verify_checksums_on_open,
            &mut index,
        )?;
        let free = free_space(&disk).map_err(|e| {
            PageStoreError::io("measure the free space on the disk of", disk.dir(), e)
        })?;
        let needed = options.size.saturating_add(options.reserved_size);
        if needed > free.saturating_add(report.occupied_bytes) {
            return Err(PageStoreError::InsufficientSpace {
                dir: options.dir.clone(),
                size: options.size,
                reserved_size: options.reserved_size,
                free,
                occupied: report.occupied_bytes,
            });
        }
        let mut garbage = Garbage::default();
        // The capacity may have shrunk since the pages were cached.
        index.shrink_to_watermark(&mut garbage);

        let store = PageStore {
            options,
            disk,
            index: Mutex::new(index),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            counters: Counters::default(),
        };
        store.collect_logged(garbage);
        let stats = store.stats();
        info!(
            dir = %store.options.dir.display(),
            files = stats.files,
            pages = stats.pages,
            used_bytes = stats.used_bytes,
            capacity_bytes = stats.capacity_bytes,
            evictor = ?store.options.evictor,
            high_watermark = store.options.high_watermark,
            low_watermark = store.options.low_watermark,
            removed_temp = report.removed_temp,
            removed_invalid = report.removed_invalid,
            removed_orphans = report.removed_orphans,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "page store opened"
        );
        Ok(store)
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Bytes per page.
    pub fn page_size(&self) -> u64 {
        self.options.page_size
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        self.disk.dir()
    }

    /// Changes the watermarks of the running store (they are dynamic
    /// properties); a store now above the new high watermark evicts down
    /// to the new low one at once. Refused, changing nothing, unless
    /// 0 < low < high ≤ 1.
    pub fn set_watermarks(&self, high: f64, low: f64) -> Result<(), PageStoreError> {
        let mut options = self.options.clone();
        options.high_watermark = high;
        options.low_watermark = low;
        options.validate()?;
        let mut garbage = Garbage::default();
        {
            let mut index = self.lock_index();
            index.set_watermarks(options.watermark_bytes());
            index.shrink_to_watermark(&mut garbage);
        }
        self.collect_logged(garbage);
        Ok(())
    }

    /// Applies a new set of tenant rules, replacing the last: each cached
    /// file is assigned to the tenant owning its path, and tenants over
    /// their new quota give up pages at once. Refused, changing nothing,
    /// when a rule is invalid (the error names it and says why).
    pub fn set_tenants(&self, rules: Vec<TenantRule>) -> Result<(), PageStoreError> {
        tenant::validate(&rules)?;
        let mut garbage = Garbage::default();
        self.lock_index().set_tenants(rules, &mut garbage);
        self.collect_logged(garbage);
        Ok(())
    }

    /// Each tenant's holdings and what its policy removed, in rule order.
    pub fn tenant_stats(&self) -> Vec<TenantStats> {
        self.lock_index().tenant_stats()
    }

    /// Removes every page cached longer ago than its tenant's TTL, as of
    /// `now`. The worker calls it periodically and whenever the rules
    /// change; it takes the index lock a chunk of pages at a time.
    pub fn expire(&self, now: SystemTime) -> Expired {
        let now = unix_seconds(now);
        let mut expired = Expired::default();
        let mut from = Some(0);
        while let Some(start) = from {
            let mut garbage = Garbage::default();
            {
                let mut index = self.lock_index();
                if !index.has_ttl() {
                    break;
                }
                from = index.expire(start, EXPIRE_CHUNK, now, &mut garbage);
            }
            expired.pages += garbage.expired_pages;
            expired.bytes += garbage.expired_bytes;
            self.collect_logged(garbage);
        }
        if expired.pages > 0 {
            debug!(
                pages = expired.pages,
                bytes = expired.bytes,
                "removed pages past their tenant's ttl"
            );
        }
        expired
    }

    fn lock_index(&self) -> MutexGuard<'_, Index> {
        // Index methods leave it consistent at every return, and none panic
        // by design; should one ever, the index is still the best there is.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stripe(&self, id: u128, page: u64) -> MutexGuard<'_, ()> {
        let hash = (id as u64) ^ page.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let at = (hash >> 32) as usize % STRIPES;
        self.stripes[at]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks that `index` is a page of `key`'s file; returns its length.
    fn page_geometry(&self, key: &FileKey, index: u64) -> Result<u64, PageStoreError> {
        page_len(key.len(), self.options.page_size, index).ok_or_else(|| {
            PageStoreError::PageOutOfRange {
                path: key.path().to_string(),
                index,
                len: key.len(),
                pages: page_count(key.len(), self.options.page_size),
                page_size: self.options.page_size,
            }
        })
    }

    /// Reads page `index` of `key` from the cache. `Ok(None)` is a miss:
    /// read the page from the UFS (and [`put_page`](PageStore::put_page) it).
    /// A page that fails its checksum is deleted and reads as a miss.
    pub fn get_page(&self, key: &FileKey, index: u64) -> Result<Option<Vec<u8>>, PageStoreError> {
        let mut buf = Vec::new();
        Ok(self.get_page_into(key, index, &mut buf)?.map(|_| buf))
    }

    /// [`get_page`](PageStore::get_page) into a buffer the caller reuses:
    /// on a hit `buf` holds exactly the page and where it was read from is
    /// returned; on a miss `buf` is empty.
    pub fn get_page_into(
        &self,
        key: &FileKey,
        index: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Option<PageSource>, PageStoreError> {
        self.read_page_into(key, index, buf, false)
    }

    /// [`get_page_into`](PageStore::get_page_into) of a page that
    /// [`get_page_from_memory`](PageStore::get_page_from_memory) left: if
    /// that attempt found part of the page on the disk, the page counts as
    /// read from the disk, though the attempt may have set the kernel reading
    /// it meanwhile.
    pub fn get_page_left(
        &self,
        left: NotInMemory,
        key: &FileKey,
        index: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Option<PageSource>, PageStoreError> {
        self.read_page_into(key, index, buf, left.on_disk)
    }

    fn read_page_into(
        &self,
        key: &FileKey,
        index: u64,
        buf: &mut Vec<u8>,
        on_disk: bool,
    ) -> Result<Option<PageSource>, PageStoreError> {
        buf.clear();
        self.page_geometry(key, index)?;
        let Ok(page) = u32::try_from(index) else {
            // Such a page can never have been cached (put_page refuses it).
            bump(&self.counters.misses, 1);
            return Ok(None);
        };
        let found = self.lock_index().lookup(key, page);
        let Some((id, len)) = found else {
            bump(&self.counters.misses, 1);
            return Ok(None);
        };
        let rel = RelPath::page(id, page);
        match self.disk.read_page(&rel, id, page, len, buf, Wait::Yes) {
            Ok(ReadOutcome::Hit(source)) => {
                let source = if on_disk { PageSource::Disk } else { source };
                bump(&self.counters.hits, 1);
                if source == PageSource::Disk {
                    bump(&self.counters.disk_hits, 1);
                }
                Ok(Some(source))
            }
            Ok(ReadOutcome::Missing) => {
                // Usually an eviction that raced with this read; only a page
                // still indexed was deleted by someone else.
                if self.discard(key.path(), id, page, None) {
                    bump(&self.counters.lost_pages, 1);
                    warn!(
                        path = key.path(),
                        index,
                        file = %self.disk.path_of(&rel).display(),
                        "cached page vanished from disk; reading it from the ufs"
                    );
                }
                bump(&self.counters.misses, 1);
                Ok(None)
            }
            Ok(ReadOutcome::Corrupt { inode, reason }) => {
                bump(&self.counters.checksum_failures, 1);
                bump(&self.counters.misses, 1);
                warn!(
                    path = key.path(),
                    index,
                    file = %self.disk.path_of(&rel).display(),
                    reason,
                    "cached page is damaged; deleted it, reading it from the ufs"
                );
                self.discard(key.path(), id, page, Some(inode));
                Ok(None)
            }
            // Only a read that may not wait declines; this one may.
            Ok(ReadOutcome::WouldWait { .. }) => Ok(None),
            Err(e) => Err(PageStoreError::io("read page", self.disk.path_of(&rel), e)),
        }
    }

    /// [`get_page_into`](PageStore::get_page_into) if that needs nothing
    /// from the disk, for an async runtime's thread: `Ok` on a hit from
    /// memory (counted as one), else `buf` is empty and the page (which
    /// would have to wait for the disk, or is not cached, or is not sound) is
    /// for [`get_page_left`](PageStore::get_page_left), on a thread that may
    /// block, to read, count or clean up.
    ///
    /// The read goes over `buf`'s bytes, so a buffer that already holds a
    /// page's worth (a reused one) is not zeroed first.
    pub fn get_page_from_memory(
        &self,
        key: &FileKey,
        index: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), NotInMemory> {
        // Recorded as a use only once read: a page left for
        // `get_page_left` is recorded there.
        let read = u32::try_from(index).ok().and_then(|page| {
            let (id, len) = self.lock_index().peek(key, page)?;
            let rel = RelPath::page(id, page);
            Some((
                page,
                self.disk.read_page(&rel, id, page, len, buf, Wait::No),
            ))
        });
        match read {
            Some((page, Ok(ReadOutcome::Hit(_)))) => {
                self.lock_index().lookup(key, page);
                bump(&self.counters.hits, 1);
                Ok(())
            }
            other => {
                buf.clear();
                let on_disk = matches!(
                    other,
                    Some((_, Ok(ReadOutcome::WouldWait { on_disk: true })))
                );
                Err(NotInMemory { on_disk })
            }
        }
    }

    /// Whether page `index` of `key` is cached, without reading it or
    /// counting as a use.
    pub fn has_page(&self, key: &FileKey, index: u64) -> bool {
        u32::try_from(index)
            .is_ok_and(|page| self.lock_index().has_page(key.path(), key.id(), page))
    }

    /// Deletes a damaged or vanished page and unindexes it, unless a fresh
    /// copy replaced it since it was read (`seen` is the file that was
    /// read, `None` when there was none). Returns whether the index still
    /// had the page.
    fn discard(&self, path: &str, id: u128, page: u32, seen: Option<FileIdentity>) -> bool {
        let rel = RelPath::page(id, page);
        let mut garbage = Garbage::default();
        let unindexed = {
            let _stripe = self.stripe(id, u64::from(page));
            let now = match self.disk.inode(&rel) {
                Ok(now) => now,
                Err(e) => {
                    warn!(file = %self.disk.path_of(&rel).display(), error = %e, "cannot inspect page");
                    return false;
                }
            };
            let stale = match (seen, now) {
                (_, None) => true,
                (Some(seen), Some(now)) => seen == now,
                (None, Some(_)) => false,
            };
            if !stale {
                return false;
            }
            if now.is_some()
                && let Err(e) = self.disk.remove(&rel)
            {
                warn!(file = %self.disk.path_of(&rel).display(), error = %e, "cannot delete damaged page");
            }
            self.lock_index().remove_page(path, id, page, &mut garbage)
        };
        self.collect_logged(garbage);
        unindexed
    }

    /// Caches page `index` of `key`. `data` must be exactly that page: the
    /// store's page size long, except for the file's last page.
    ///
    /// Evicts first when the page would take the store past its high
    /// watermark. Caching a page of a new version of a path drops the old
    /// version. A page already cached is left as it is. Errors for which
    /// [`PageStoreError::is_out_of_space`] holds mean only that the page was
    /// not cached.
    pub fn put_page(&self, key: &FileKey, index: u64, data: &[u8]) -> Result<(), PageStoreError> {
        let Some(reserved) = self.reserve(key, index, data)? else {
            return Ok(());
        };
        let staged = self.stage(key, &reserved, data, true);
        self.finish(key, reserved, staged)
    }

    /// Caches several pages with one flush to disk for all of them (group
    /// commit): each page is written to a temporary file, one `syncfs`
    /// makes them all durable, then each is renamed into place. Each page
    /// gets the same guarantees and result as from [`PageStore::put_page`].
    pub fn put_pages(&self, pages: &[(&FileKey, u64, &[u8])]) -> Vec<Result<(), PageStoreError>> {
        let mut results: Vec<Result<(), PageStoreError>> = Vec::with_capacity(pages.len());
        let mut staged = Vec::new();
        for (i, (key, index, data)) in pages.iter().enumerate() {
            match self.reserve(key, *index, data) {
                Ok(Some(reserved)) => {
                    let temp = self.stage(key, &reserved, data, false);
                    staged.push((i, reserved, temp));
                }
                Ok(None) => {}
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            }
            results.push(Ok(()));
        }
        let synced = self.disk.sync_filesystem();
        for (i, reserved, temp) in staged {
            let key = pages[i].0;
            let temp = match (&synced, temp) {
                (Ok(()), temp) => temp,
                (Err(e), Ok(staged)) => {
                    let _ = self.disk.remove(&staged.page);
                    if let Some(meta) = staged.meta {
                        let _ = self.disk.remove(&meta);
                    }
                    Err(PageStoreError::io(
                        "flush pages",
                        self.disk.dir().to_path_buf(),
                        io::Error::new(e.kind(), e.to_string()),
                    ))
                }
                (Err(_), Err(e)) => Err(e),
            };
            results[i] = self.finish(key, reserved, temp);
        }
        // The renames too: as durable as a single put's synced directory.
        if let Err(error) = self.disk.sync_filesystem() {
            warn!(%error, "cannot flush the renames of a batch of pages");
        }
        results
    }

    /// Checks a page and reserves room for it in the index; `None` when it
    /// is cached already.
    fn reserve(
        &self,
        key: &FileKey,
        index: u64,
        data: &[u8],
    ) -> Result<Option<Reserved>, PageStoreError> {
        key.check_lengths()?;
        let expected = self.page_geometry(key, index)?;
        if data.len() as u64 != expected {
            return Err(PageStoreError::PageLength {
                path: key.path().to_string(),
                index,
                actual: data.len() as u64,
                expected,
                page_size: self.options.page_size,
            });
        }
        let Ok(page) = u32::try_from(index) else {
            return Err(PageStoreError::InvalidOption {
                property: "ringside.worker.pagestore.page.size",
                value: self.options.page_size.to_string(),
                expected: format!(
                    "a page size that cuts {} ({} bytes) into at most 2^32 pages",
                    key.path(),
                    key.len()
                ),
            });
        };
        // Page sizes are at most 1 GiB, so this fits.
        let len = data.len() as u32;
        let id = key.id();
        let mut garbage = Garbage::default();
        let begun = self
            .lock_index()
            .begin_put(key, id, page, len, &mut garbage);
        self.collect_logged(garbage);
        match begun {
            Ok(Begin::Cached) => Ok(None),
            Ok(Begin::Reserved { need_meta }) => Ok(Some(Reserved {
                id,
                page,
                len,
                need_meta,
            })),
            Err(e) => {
                if e.is_out_of_space() {
                    bump(&self.counters.capacity_exhausted, 1);
                }
                Err(e)
            }
        }
    }

    /// Writes a reserved page to a temporary file, flushed when `sync` is
    /// set. A file's first page also needs its metadata record: written and
    /// installed here when `sync` is set, else staged beside the page for
    /// [`PageStore::finish`] to install once the batch is flushed.
    fn stage(
        &self,
        key: &FileKey,
        r: &Reserved,
        data: &[u8],
        sync: bool,
    ) -> Result<Staged, PageStoreError> {
        let mut meta = None;
        if r.need_meta {
            // The record goes first: a page without one is an orphan that
            // the next open deletes.
            if sync {
                self.with_room("write the metadata record of", key, || {
                    self.write_meta(key, r.id)
                })?;
            } else {
                let record = meta_record(key, self.options.page_size);
                meta = Some(self.with_room("write the metadata record of", key, || {
                    self.disk.write_temp_unsynced(&[&record])
                })?);
            }
        }
        let header = PageHeader::for_payload(r.id, u64::from(r.page), data).encode();
        let page = self.with_room("write a page of", key, || {
            if sync {
                self.disk.write_temp(&[&header, data])
            } else {
                self.disk.write_temp_unsynced(&[&header, data])
            }
        });
        match page {
            Ok(page) => Ok(Staged { meta, page }),
            Err(e) => {
                if let Some(temp) = meta {
                    let _ = self.disk.remove(&temp);
                }
                Err(e)
            }
        }
    }

    /// Renames a staged page into place and indexes it; undoes the
    /// reservation when staging failed.
    fn finish(
        &self,
        key: &FileKey,
        r: Reserved,
        staged: Result<Staged, PageStoreError>,
    ) -> Result<(), PageStoreError> {
        let installed = staged.and_then(|Staged { meta, page: temp }| {
            if let Some(meta) = meta
                && let Err(e) = self.install_meta(key, r.id, &meta)
            {
                let _ = self.disk.remove(&temp);
                return Err(PageStoreError::io(
                    "install the metadata record",
                    self.disk.path_of(&RelPath::meta(r.id)),
                    e,
                ));
            }
            let dest = RelPath::page(r.id, r.page);
            let _stripe = self.stripe(r.id, u64::from(r.page));
            self.disk
                .install(&temp, &dest)
                .map_err(|e| PageStoreError::io("install page", self.disk.path_of(&dest), e))
                .map(|()| dest)
        });
        let dest = match installed {
            Ok(dest) => dest,
            Err(e) => {
                let mut garbage = Garbage::default();
                self.lock_index()
                    .abort_put(key.path(), r.id, r.len, &mut garbage);
                self.collect_logged(garbage);
                return Err(e);
            }
        };
        // No fsync of the directory: should the rename be lost in a crash,
        // the page is simply not cached, never wrong.
        let mut garbage = Garbage::default();
        let indexed = self.lock_index().commit_put(
            key.path(),
            r.id,
            (r.page, r.len),
            unix_seconds(SystemTime::now()),
            &mut garbage,
        );
        self.collect_logged(garbage);
        if !indexed {
            debug!(
                path = key.path(),
                page = r.page,
                "file removed while its page was written; dropping the page"
            );
            if let Err(e) = self.disk.remove(&dest) {
                warn!(file = %self.disk.path_of(&dest).display(), error = %e, "cannot delete page");
            }
        }
        bump(&self.counters.puts, 1);
        Ok(())
    }

    fn write_meta(&self, key: &FileKey, id: u128) -> io::Result<()> {
        let record = meta_record(key, self.options.page_size);
        let temp = self.disk.write_temp(&[&record])?;
        self.install_meta(key, id, &temp)?;
        // Unlike a page's, this rename must survive a crash: the pages
        // written after it are deleted as orphans on open without it.
        self.disk.sync_dir(&RelPath::meta_dir(id))
    }

    /// Renames a written metadata record into place and notes it in the index.
    fn install_meta(&self, key: &FileKey, id: u128, temp: &RelPath) -> io::Result<()> {
        let rel = RelPath::meta(id);
        let _stripe = self.stripe(id, META_STRIPE);
        self.disk.install(temp, &rel)?;
        let mut index = self.lock_index();
        if index.has_file(key.path(), id) {
            index.mark_meta_written(key.path(), id);
        } else {
            // Removed while the record was written; the put will find out.
            drop(index);
            self.disk.remove(&rel)?;
        }
        Ok(())
    }

    /// Runs a write; when the disk is full, evicts a little and tries once
    /// more before giving up with [`PageStoreError::DiskFull`].
    fn with_room<T>(
        &self,
        action: &'static str,
        key: &FileKey,
        mut write: impl FnMut() -> io::Result<T>,
    ) -> Result<T, PageStoreError> {
        let mut error = match write() {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        if is_disk_full(&error) {
            // Two pages' worth: this page, its header and record, and a
            // little slack for whoever else is filling the disk.
            let mut garbage = Garbage::default();
            let freed = self
                .lock_index()
                .evict_bytes(2 * self.options.page_size, &mut garbage);
            self.collect_logged(garbage);
            warn!(
                dir = %self.disk.dir().display(),
                freed_bytes = freed,
                "disk full while caching; evicted pages to make room"
            );
            if freed > 0 {
                error = match write() {
                    Ok(value) => return Ok(value),
                    Err(e) => e,
                };
            }
        }
        if is_disk_full(&error) {
            bump(&self.counters.disk_full, 1);
            return Err(PageStoreError::DiskFull {
                dir: self.disk.dir().to_path_buf(),
                source: error,
            });
        }
        Err(PageStoreError::Io {
            action,
            path: key.path().into(),
            source: error,
        })
    }

    /// Drops every cached page of `path` (whatever version) and its metadata
    /// record. Returns the payload bytes freed; 0 when nothing was cached.
    pub fn remove_file(&self, path: &str) -> Result<u64, PageStoreError> {
        let mut garbage = Garbage::default();
        let freed = self.lock_index().remove_path(path, &mut garbage);
        self.collect(garbage)?;
        Ok(freed)
    }

    /// Bytes of `path` held in cached pages (of the version cached); 0 when
    /// none. A file is fully cached when this equals its length.
    pub fn cached_bytes(&self, path: &str) -> u64 {
        self.lock_index()
            .cached_file(path)
            .map_or(0, |f| f.cached_bytes)
    }

    /// What is cached of `path`, if anything.
    pub fn cached_file(&self, path: &str) -> Option<CachedFile> {
        self.lock_index()
            .cached_file(path)
            .filter(|f| f.cached_pages > 0)
    }

    /// Every file with cached pages, in no particular order. A snapshot:
    /// it allocates one entry per file, so call it for listings and jobs,
    /// not per read.
    pub fn files(&self) -> Vec<CachedFile> {
        self.lock_index().files()
    }

    /// Up to `limit` cached files whose path sorts after `after`, in path
    /// order: a page of the listing, for paging through a large store.
    pub fn files_after(&self, after: Option<&str>, limit: usize) -> Vec<CachedFile> {
        self.lock_index().files_after(after, limit)
    }

    /// Current counters and gauges.
    pub fn stats(&self) -> Stats {
        let (used_bytes, pages, files, index_heap_bytes) = {
            let index = self.lock_index();
            (
                index.used_bytes(),
                index.page_count(),
                index.file_count(),
                index.heap_bytes() as u64,
            )
        };
        let c = &self.counters;
        Stats {
            used_bytes,
            capacity_bytes: self.options.size,
            reserved_bytes: self.options.reserved_size,
            page_size: self.options.page_size,
            pages,
            files,
            index_heap_bytes,
            hits_total: read(&c.hits),
            disk_hits_total: read(&c.disk_hits),
            misses_total: read(&c.misses),
            puts_total: read(&c.puts),
            evictions_total: read(&c.evictions),
            evicted_bytes_total: read(&c.evicted_bytes),
            checksum_failures_total: read(&c.checksum_failures),
            lost_pages_total: read(&c.lost_pages),
            disk_full_total: read(&c.disk_full),
            capacity_exhausted_total: read(&c.capacity_exhausted),
            expired_pages_total: read(&c.expired_pages),
        }
    }

    /// Deletes what the index let go of, skipping anything cached again
    /// meanwhile. Returns the first failure; the rest are logged.
    fn collect(&self, garbage: Garbage) -> Result<(), PageStoreError> {
        bump(&self.counters.expired_pages, garbage.expired_pages);
        if garbage.evicted_pages > 0 {
            bump(&self.counters.evictions, garbage.evicted_pages);
            bump(&self.counters.evicted_bytes, garbage.evicted_bytes);
            debug!(
                pages = garbage.evicted_pages,
                bytes = garbage.evicted_bytes,
                "evicted pages"
            );
        }
        let mut first = None;
        let mut failed = |rel: &RelPath, e: io::Error| {
            let path = self.disk.path_of(rel);
            warn!(file = %path.display(), error = %e, "cannot delete from the page store");
            first.get_or_insert(PageStoreError::io("delete", path, e));
        };
        for (path, id, page) in &garbage.pages {
            let rel = RelPath::page(*id, *page);
            let _stripe = self.stripe(*id, u64::from(*page));
            if self.lock_index().has_page(path, *id, *page) {
                continue;
            }
            if let Err(e) = self.disk.remove(&rel) {
                failed(&rel, e);
            }
        }
        for (path, id) in &garbage.metas {
            let rel = RelPath::meta(*id);
            let _stripe = self.stripe(*id, META_STRIPE);
            if self.lock_index().has_file(path, *id) {
                continue;
            }
            if let Err(e) = self.disk.remove(&rel) {
                failed(&rel, e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn collect_logged(&self, garbage: Garbage) {
        if !garbage.is_empty() {
            // Failures are logged inside. A page left behind is picked up
            // again by the next open if its record is still there, and
            // deleted as an orphan if not.
            let _ = self.collect(garbage);
        }
    }
}

#[cfg(test)]
impl PageStore {
    pub(crate) fn disk(&self) -> &Disk {
        &self.disk
    }
}
