//! The in-memory index: which pages are cached, how many bytes they hold,
//! and which to evict. Pure bookkeeping, no I/O: the store holds it under
//! its one mutex only for these short in-memory steps and does all disk
//! work outside.
//!
//! Sized for millions of pages, including a million one-page files (a
//! dataset of small images):
//!
//! - a file is a 48-byte [`FileEntry`] in a slab, with its path and version
//!   bytes in one shared arena (no allocation per file) and a 4-byte slot
//!   number in a hash table keyed by path;
//! - a page is 12 bytes in a slab (its length follows from the file's;
//!   the other four bytes are when it was cached, for tenants' TTLs), 12
//!   bytes of evictor links and a 4-byte slot number in a hash table keyed
//!   by (file, page index).
//!
//! Tenants partition the pages: each file belongs to at most one tenant
//! (by path prefix), its pages sit in that tenant's partition of the
//! evictor, and each partition keeps its own byte count, so quotas, TTLs
//! and eviction order per tenant cost no memory per page beyond the four
//! bytes of cache time.
//!
//! Both hash tables store only slot numbers and hash through the slabs, so
//! no key is stored twice.

use hashbrown::HashTable;
use std::collections::BinaryHeap;
use std::hash::{BuildHasher, RandomState};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::PageStoreError;
use crate::evictor::Evictor;
use crate::key::{CachedFile, FileKey, page_count, page_len};
use crate::options::Options;
use crate::tenant::{self, TenantRule, TenantStats};

const NIL: u32 = u32::MAX;

/// One cached file (one version of one UFS path).
#[derive(Clone, Copy, Debug)]
struct FileEntry {
    id: u128,
    len: u64,
    /// Where the path, then the version, start in the name arena.
    name_at: u64,
    path_len: u16,
    version_len: u16,
    pages: u32,
    /// Puts reserved but not yet committed or aborted; the entry stays while
    /// any are pending, even with no pages.
    pending: u32,
    /// Its tenant's partition: 0 for none, else 1 + the rule's place.
    tenant: u16,
    /// Whether its metadata record is on disk.
    meta_written: bool,
    /// False for a free slot.
    live: bool,
}

const FREE_FILE: FileEntry = FileEntry {
    id: 0,
    len: 0,
    name_at: 0,
    path_len: 0,
    version_len: 0,
    pages: 0,
    pending: 0,
    tenant: 0,
    meta_written: false,
    live: false,
};

/// A page slot. A free slot has `file == NIL` and links the free list
/// through `index`.
#[derive(Clone, Copy, Debug)]
struct PageEntry {
    file: u32,
    index: u32,
    /// When it was cached, in seconds since the Unix epoch.
    cached_at: u32,
}

/// What one partition (a tenant, or partition 0: no tenant) holds, and
/// what its tenant's policy removed.
#[derive(Clone, Copy, Debug, Default)]
struct Account {
    committed: u64,
    pages: u64,
    quota_evictions: u64,
    quota_evicted_bytes: u64,
    expired_pages: u64,
    expired_bytes: u64,
}

/// Disk work the index decided on, for the store to carry out after it lets
/// go of the lock. Each deletion is re-checked against the index under the
/// page's stripe lock, in case the page or file was cached again meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Garbage {
    /// Page files to delete: (path, file id, page index).
    pub pages: Vec<(Box<str>, u128, u32)>,
    /// Metadata records to delete: (path, file id).
    pub metas: Vec<(Box<str>, u128)>,
    /// How many of `pages` were evicted (rather than removed by request).
    pub evicted_pages: u64,
    /// Their payload bytes.
    pub evicted_bytes: u64,
    /// How many of `pages` outlived their tenant's TTL.
    pub expired_pages: u64,
    /// Their payload bytes.
    pub expired_bytes: u64,
}

impl Garbage {
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.metas.is_empty()
    }
}

/// What [`Index::begin_put`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// The page is already cached; nothing to write.
    Cached,
    /// Space is reserved; write the page (and first the metadata record when
    /// `need_meta`), then call [`Index::commit_put`] or [`Index::abort_put`].
    Reserved { need_meta: bool },
}

pub(crate) struct Index {
    page_size: u64,
    capacity: u64,
    high: u64,
    low: u64,
    files: Vec<FileEntry>,
    free_files: Vec<u32>,
    /// Paths and versions of live files, back to back; removed files leave
    /// holes until [`Index::compact_names`] squeezes them out.
    names: Vec<u8>,
    dead_name_bytes: usize,
    by_path: HashTable<u32>,
    pages: Vec<PageEntry>,
    free_pages: u32,
    by_key: HashTable<u32>,
    evictor: Evictor,
    /// The store's own eviction order, for pages of no tenant.
    default_evictor: crate::options::EvictorKind,
    tenants: Vec<TenantRule>,
    /// One per evictor partition: 0 for no tenant, then one per rule.
    accounts: Vec<Account>,
    seed: u64,
    /// Payload bytes of cached pages.
    committed: u64,
    /// Payload bytes reserved by puts in progress.
    in_flight: u64,
    page_count: u64,
    file_count: u64,
}

fn page_key(file: u32, index: u32) -> u64 {
    (u64::from(file) << 32) | u64::from(index)
}

/// splitmix64's finaliser: spreads a page key over all 64 bits, which
/// hashbrown needs (top bits pick control bytes, low bits the bucket).
fn mix(key: u64, seed: u64) -> u64 {
    let mut z = key ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Index {
    pub fn new(options: &Options) -> Index {
        let (high, low) = options.watermark_bytes();
        Index {
            page_size: options.page_size,
            capacity: options.size,
            high,
            low,
            files: Vec::new(),
            free_files: Vec::new(),
            names: Vec::new(),
            dead_name_bytes: 0,
            by_path: HashTable::new(),
            pages: Vec::new(),
            free_pages: NIL,
            by_key: HashTable::new(),
            evictor: Evictor::new(options.evictor),
            default_evictor: options.evictor,
            tenants: Vec::new(),
            accounts: vec![Account::default()],
            // Random per process, so which paths or pages collide in the
            // tables cannot be planned from outside.
            seed: RandomState::new().hash_one(0x5eed_u64),
            committed: 0,
            in_flight: 0,
            page_count: 0,
            file_count: 0,
        }
    }

    pub fn used_bytes(&self) -> u64 {
        self.committed + self.in_flight
    }

    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    pub fn file_count(&self) -> u64 {
        self.file_count
    }

    /// Heap bytes held by the index (not counting allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        self.files.capacity() * size_of::<FileEntry>()
            + self.free_files.capacity() * size_of::<u32>()
            + self.names.capacity()
            + self.by_path.allocation_size()
            + self.pages.capacity() * size_of::<PageEntry>()
            + self.by_key.allocation_size()
            + self.evictor.heap_bytes()
    }

    // ---- files ----

    fn path_hash(&self, path: &str) -> u64 {
        xxh3_64_with_seed(path.as_bytes(), self.seed)
    }

    fn path_bytes(&self, file: &FileEntry) -> &[u8] {
        let at = file.name_at as usize;
        self.names
            .get(at..at + usize::from(file.path_len))
            .unwrap_or_default()
    }

    fn version_bytes(&self, file: &FileEntry) -> &[u8] {
        let at = file.name_at as usize + usize::from(file.path_len);
        self.names
            .get(at..at + usize::from(file.version_len))
            .unwrap_or_default()
    }

    fn path_of(&self, file: &FileEntry) -> Box<str> {
        String::from_utf8_lossy(self.path_bytes(file)).into()
    }

    fn live(&self, slot: u32) -> Option<&FileEntry> {
        self.files.get(slot as usize).filter(|f| f.live)
    }

    fn live_mut(&mut self, slot: u32) -> Option<&mut FileEntry> {
        self.files.get_mut(slot as usize).filter(|f| f.live)
    }

    /// The slot of whatever version of `path` is indexed.
    fn slot_of_path(&self, path: &str) -> Option<u32> {
        let hash = self.path_hash(path);
        self.by_path
            .find(hash, |&slot| {
                self.live(slot)
                    .is_some_and(|f| self.path_bytes(f) == path.as_bytes())
            })
            .copied()
    }

    /// The slot of `path` if the version indexed is the one with `id`.
    fn slot_of(&self, path: &str, id: u128) -> Option<u32> {
        self.slot_of_path(path)
            .filter(|&slot| self.live(slot).is_some_and(|f| f.id == id))
    }

    fn slot_of_key(&self, key: &FileKey) -> Option<u32> {
        self.slot_of_path(key.path()).filter(|&slot| {
            self.live(slot).is_some_and(|f| {
                f.len == key.len() && self.version_bytes(f) == key.version().as_bytes()
            })
        })
    }

    fn add_file(
        &mut self,
        path: &str,
        version: &str,
        len: u64,
        id: u128,
        meta_written: bool,
    ) -> u32 {
        let entry = FileEntry {
            id,
            len,
            name_at: self.names.len() as u64,
            // Keys are checked against MAX_PATH_LEN and MAX_VERSION_LEN,
            // both below u16::MAX, before they get here.
            path_len: path.len().min(usize::from(u16::MAX)) as u16,
            version_len: version.len().min(usize::from(u16::MAX)) as u16,
            pages: 0,
            pending: 0,
            tenant: self.tenant_of(path),
            meta_written,
            live: true,
        };
        self.names
            .extend_from_slice(&path.as_bytes()[..usize::from(entry.path_len)]);
        self.names
            .extend_from_slice(&version.as_bytes()[..usize::from(entry.version_len)]);
        let slot = match self.free_files.pop() {
            Some(slot) => {
                self.files[slot as usize] = entry;
                slot
            }
            None => {
                self.files.push(entry);
                (self.files.len() - 1) as u32
            }
        };
        let hash = self.path_hash(path);
        let (files, names, seed) = (&self.files, &self.names, self.seed);
        self.by_path.insert_unique(hash, slot, |&s| {
            let Some(f) = files.get(s as usize) else {
                return 0;
            };
            let at = f.name_at as usize;
            let path = names
                .get(at..at + usize::from(f.path_len))
                .unwrap_or_default();
            xxh3_64_with_seed(path, seed)
        });
        self.file_count += 1;
        slot
    }

    /// Frees a file slot and its name (its pages must be gone already).
    fn drop_file_slot(&mut self, slot: u32) {
        let Some(entry) = self.live(slot).copied() else {
            return;
        };
        let hash = xxh3_64_with_seed(self.path_bytes(&entry), self.seed);
        if let Ok(found) = self.by_path.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.files[slot as usize] = FREE_FILE;
        self.free_files.push(slot);
        self.file_count -= 1;
        self.dead_name_bytes += usize::from(entry.path_len) + usize::from(entry.version_len);
        self.compact_names_if_sparse();
    }

    /// Rewrites the name arena without the names of removed files once they
    /// are more than half of it. Copying is linear in the live names, and
    /// only happens after at least as many bytes of names were removed, so
    /// it costs O(1) per removal over time.
    fn compact_names_if_sparse(&mut self) {
        if self.dead_name_bytes < 64 * 1024 || self.dead_name_bytes * 2 < self.names.len() {
            return;
        }
        let live = self.names.len() - self.dead_name_bytes;
        let mut names = Vec::with_capacity(live);
        for file in self.files.iter_mut().filter(|f| f.live) {
            let at = file.name_at as usize;
            let n = usize::from(file.path_len) + usize::from(file.version_len);
            file.name_at = names.len() as u64;
            names.extend_from_slice(self.names.get(at..at + n).unwrap_or_default());
        }
        self.names = names;
        self.dead_name_bytes = 0;
    }

    /// Payload bytes cached of a file: every page is full but the last.
    fn cached_bytes_of(&self, slot: u32, file: &FileEntry) -> u64 {
        if file.pages == 0 {
            return 0;
        }
        let full = u64::from(file.pages) * self.page_size;
        let last = page_count(file.len, self.page_size).saturating_sub(1);
        let short =
            self.page_size - page_len(file.len, self.page_size, last).unwrap_or(self.page_size);
        match u32::try_from(last) {
            Ok(last) if short > 0 && self.page_slot(slot, last).is_some() => full - short,
            _ => full,
        }
    }

    fn snapshot(&self, slot: u32) -> Option<CachedFile> {
        let file = self.live(slot)?;
        Some(CachedFile {
            path: String::from_utf8_lossy(self.path_bytes(file)).into_owned(),
            version: String::from_utf8_lossy(self.version_bytes(file)).into_owned(),
            len: file.len,
            cached_bytes: self.cached_bytes_of(slot, file),
            cached_pages: u64::from(file.pages),
        })
    }

    pub fn has_file(&self, path: &str, id: u128) -> bool {
        self.slot_of(path, id).is_some()
    }

    pub fn cached_file(&self, path: &str) -> Option<CachedFile> {
        self.snapshot(self.slot_of_path(path)?)
    }

    /// Every file with at least one cached page.
    pub fn files(&self) -> Vec<CachedFile> {
        (0..self.files.len() as u32)
            .filter(|&slot| self.live(slot).is_some_and(|f| f.pages > 0))
            .filter_map(|slot| self.snapshot(slot))
            .collect()
    }

    /// The first `limit` files with cached pages whose path sorts after
    /// `after` (bytewise), in that order: one pass over the index keeping
    /// the `limit` smallest paths, so a page of a huge listing costs memory
    /// for the page, not for every file.
    pub fn files_after(&self, after: Option<&str>, limit: usize) -> Vec<CachedFile> {
        if limit == 0 {
            return Vec::new();
        }
        let mut best: BinaryHeap<(&[u8], u32)> = BinaryHeap::with_capacity(limit + 1);
        for slot in 0..self.files.len() as u32 {
            let Some(file) = self.live(slot).filter(|f| f.pages > 0) else {
                continue;
            };
            let path = self.path_bytes(file);
            if after.is_some_and(|a| path <= a.as_bytes()) {
                continue;
            }
            if best.len() == limit {
                if best.peek().is_some_and(|(largest, _)| path >= *largest) {
                    continue;
                }
                best.pop();
            }
            best.push((path, slot));
        }
        best.into_sorted_vec()
            .into_iter()
            .filter_map(|(_, slot)| self.snapshot(slot))
            .collect()
    }

    // ---- pages ----

    fn page_hash(&self, file: u32, index: u32) -> u64 {
        mix(page_key(file, index), self.seed)
    }

    fn page_slot(&self, file: u32, index: u32) -> Option<u32> {
        let hash = self.page_hash(file, index);
        self.by_key
            .find(hash, |&slot| {
                let page = self.pages[slot as usize];
                page.file == file && page.index == index
            })
            .copied()
    }

    fn page_len_of(&self, slot: u32) -> u64 {
        let page = self.pages[slot as usize];
        self.live(page.file)
            .and_then(|f| page_len(f.len, self.page_size, u64::from(page.index)))
            .unwrap_or(0)
    }

    /// Finds a cached page and records the read with the evictor. Returns the
    /// file id and the page's length.
    pub fn lookup(&mut self, key: &FileKey, index: u32) -> Option<(u128, u32)> {
        let (slot, found) = self.locate(key, index)?;
        self.evictor.touch(slot);
        Some(found)
    }

    /// [`lookup`](Index::lookup) without recording a read.
    pub fn peek(&self, key: &FileKey, index: u32) -> Option<(u128, u32)> {
        self.locate(key, index).map(|(_, found)| found)
    }

    /// The page's slot, file id and length.
    fn locate(&self, key: &FileKey, index: u32) -> Option<(u32, (u128, u32))> {
        let file = self.slot_of_key(key)?;
        let slot = self.page_slot(file, index)?;
        let len = page_len(key.len(), self.page_size, u64::from(index))?;
        Some((slot, (self.live(file)?.id, len as u32)))
    }

    pub fn has_page(&self, path: &str, id: u128, index: u32) -> bool {
        self.slot_of(path, id)
            .is_some_and(|file| self.page_slot(file, index).is_some())
    }

    /// Adds a page to the slab and the table (not to the evictor). Returns
    /// its slot.
    fn add_page(&mut self, file: u32, index: u32, cached_at: u32) -> u32 {
        let entry = PageEntry {
            file,
            index,
            cached_at,
        };
        let slot = if self.free_pages != NIL {
            let slot = self.free_pages;
            self.free_pages = self.pages[slot as usize].index;
            self.pages[slot as usize] = entry;
            slot
        } else {
            self.pages.push(entry);
            (self.pages.len() - 1) as u32
        };
        let hash = self.page_hash(file, index);
        let (pages, seed) = (&self.pages, self.seed);
        self.by_key.insert_unique(hash, slot, |&s| {
            pages
                .get(s as usize)
                .map_or(0, |p| mix(page_key(p.file, p.index), seed))
        });
        let len = page_len(
            self.live(file).map_or(0, |f| f.len),
            self.page_size,
            u64::from(index),
        )
        .unwrap_or(0);
        self.committed += len;
        self.page_count += 1;
        let mut tenant = 0;
        if let Some(f) = self.live_mut(file) {
            f.pages += 1;
            tenant = f.tenant;
        }
        let account = &mut self.accounts[usize::from(tenant)];
        account.committed += len;
        account.pages += 1;
        slot
    }

    /// Frees a page slot everywhere but in its file's counters. Returns the
    /// page's length.
    fn free_page_slot(&mut self, slot: u32) -> u64 {
        let page = self.pages[slot as usize];
        let len = self.page_len_of(slot);
        if let Some(tenant) = self.live(page.file).map(|f| usize::from(f.tenant)) {
            let account = &mut self.accounts[tenant];
            account.committed -= len;
            account.pages -= 1;
        }
        let hash = self.page_hash(page.file, page.index);
        if let Ok(found) = self.by_key.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.evictor.remove(slot);
        self.pages[slot as usize] = PageEntry {
            file: NIL,
            index: self.free_pages,
            cached_at: 0,
        };
        self.free_pages = slot;
        self.page_count -= 1;
        self.committed -= len;
        len
    }

    /// Drops a file and all its pages from the index, queueing their files
    /// for deletion. Returns the payload bytes it held.
    fn remove_file_slot(&mut self, file: u32, garbage: &mut Garbage) -> u64 {
        let Some(entry) = self.live(file).copied() else {
            return 0;
        };
        let path = self.path_of(&entry);
        let mut left = entry.pages;
        let mut freed = 0;
        // Look pages up by index when the file has fewer possible pages than
        // the slab has slots, else sweep the slab: either way the work is
        // bounded by the smaller of the two, so a sparse huge file cannot
        // stall the store.
        let possible = page_count(entry.len, self.page_size);
        if possible <= self.pages.len() as u64 {
            let mut index = 0u64;
            while left > 0 && index < possible {
                if let Some(slot) = self.page_slot(file, index as u32) {
                    freed += self.free_page_slot(slot);
                    garbage.pages.push((path.clone(), entry.id, index as u32));
                    left -= 1;
                }
                index += 1;
            }
        } else {
            for slot in 0..self.pages.len() as u32 {
                if left == 0 {
                    break;
                }
                let page = self.pages[slot as usize];
                if page.file == file {
                    freed += self.free_page_slot(slot);
                    garbage.pages.push((path.clone(), entry.id, page.index));
                    left -= 1;
                }
            }
        }
        if entry.meta_written {
            garbage.metas.push((path, entry.id));
        }
        self.drop_file_slot(file);
        freed
    }

    /// Removes one page (evicted, corrupt or vanished). The file goes too
    /// when that was its last page and no put for it is pending.
    fn remove_page_slot(&mut self, slot: u32, garbage: &mut Garbage) -> u64 {
        let page = self.pages[slot as usize];
        let len = self.free_page_slot(slot);
        let Some(file) = self.live_mut(page.file) else {
            return len;
        };
        file.pages -= 1;
        let entry = *file;
        garbage
            .pages
            .push((self.path_of(&entry), entry.id, page.index));
        if entry.pages == 0 && entry.pending == 0 {
            self.remove_file_slot(page.file, garbage);
        }
        len
    }

    /// Evicts the next victim of the store as a whole: from the partition
    /// using the largest share of what it may use (its quota, else the
    /// capacity), so that a tenant filling the store gives up its own pages
    /// before others lose theirs. Returns its length, or `None` when nothing
    /// is left to evict.
    fn evict_one(&mut self, garbage: &mut Garbage) -> Option<u64> {
        let share = |at: usize, account: &Account| {
            let limit = at
                .checked_sub(1)
                .and_then(|rule| self.tenants[rule].quota_bytes)
                .unwrap_or(self.capacity)
                .max(1);
            (account.committed, limit)
        };
        let partition = (0..self.accounts.len())
            .filter(|&at| self.evictor.len(at as u32) > 0)
            .max_by(|&a, &b| {
                let (used_a, limit_a) = share(a, &self.accounts[a]);
                let (used_b, limit_b) = share(b, &self.accounts[b]);
                (u128::from(used_a) * u128::from(limit_b))
                    .cmp(&(u128::from(used_b) * u128::from(limit_a)))
            })?;
        self.evict_from(partition as u32, garbage)
    }

    fn evict_from(&mut self, partition: u32, garbage: &mut Garbage) -> Option<u64> {
        let slot = self.evictor.victim(partition)?;
        let len = self.remove_page_slot(slot, garbage);
        garbage.evicted_pages += 1;
        garbage.evicted_bytes += len;
        Some(len)
    }

    /// Evicts a tenant's own pages, in its order, until it is within its
    /// quota again.
    fn enforce_quota(&mut self, partition: u16, garbage: &mut Garbage) {
        let Some(quota) = usize::from(partition)
            .checked_sub(1)
            .and_then(|rule| self.tenants[rule].quota_bytes)
        else {
            return;
        };
        while self.accounts[usize::from(partition)].committed > quota {
            let Some(len) = self.evict_from(u32::from(partition), garbage) else {
                break;
            };
            let account = &mut self.accounts[usize::from(partition)];
            account.quota_evictions += 1;
            account.quota_evicted_bytes += len;
        }
    }

    /// Reserves `len` bytes, evicting down to the low watermark first when
    /// the reservation would pass the high one.
    fn make_room(&mut self, len: u64, garbage: &mut Garbage) -> Result<(), PageStoreError> {
        if self.used_bytes() + len > self.high {
            while self.used_bytes() + len > self.low {
                if self.evict_one(garbage).is_none() {
                    break;
                }
            }
        }
        if self.used_bytes() + len > self.capacity {
            return Err(PageStoreError::CapacityExhausted {
                needed: len,
                in_flight: self.in_flight,
                capacity: self.capacity,
            });
        }
        self.in_flight += len;
        Ok(())
    }

    /// Starts caching page `index` (of `len` bytes) of `key`, whose id is
    /// `id`. Drops a cached older version of the same path first.
    pub fn begin_put(
        &mut self,
        key: &FileKey,
        id: u128,
        index: u32,
        len: u32,
        garbage: &mut Garbage,
    ) -> Result<Begin, PageStoreError> {
        let file = match self.slot_of_path(key.path()) {
            Some(slot) if self.live(slot).is_some_and(|f| f.id == id) => slot,
            other => {
                if let Some(stale) = other {
                    self.remove_file_slot(stale, garbage);
                }
                self.add_file(key.path(), key.version(), key.len(), id, false)
            }
        };
        if let Some(slot) = self.page_slot(file, index) {
            self.evictor.touch(slot);
            return Ok(Begin::Cached);
        }
        // Pending first, so that evicting this file's own pages to make
        // room does not drop the entry.
        if let Some(entry) = self.live_mut(file) {
            entry.pending += 1;
        }
        match self.make_room(u64::from(len), garbage) {
            Ok(()) => {
                let need_meta = self.live(file).is_some_and(|f| !f.meta_written);
                Ok(Begin::Reserved { need_meta })
            }
            Err(error) => {
                self.release(key.path(), id, garbage);
                Err(error)
            }
        }
    }

    /// Drops one pending put from a file, and the file with it when that
    /// leaves it empty.
    fn release(&mut self, path: &str, id: u128, garbage: &mut Garbage) {
        let Some(file) = self.slot_of(path, id) else {
            return;
        };
        let Some(entry) = self.live_mut(file) else {
            return;
        };
        entry.pending = entry.pending.saturating_sub(1);
        if entry.pages == 0 && entry.pending == 0 {
            self.remove_file_slot(file, garbage);
        }
    }

    pub fn mark_meta_written(&mut self, path: &str, id: u128) {
        if let Some(file) = self.slot_of(path, id)
            && let Some(entry) = self.live_mut(file)
        {
            entry.meta_written = true;
        }
    }

    /// Records a page written by a put that [`Index::begin_put`] reserved,
    /// cached at `now` (Unix seconds). Returns false when the file was
    /// removed or replaced meanwhile: the caller then deletes the page it
    /// wrote. A tenant now over its quota gives up pages of its own (which
    /// may be this one, if it alone is larger than the quota).
    pub fn commit_put(
        &mut self,
        path: &str,
        id: u128,
        (index, len): (u32, u32),
        now: u32,
        garbage: &mut Garbage,
    ) -> bool {
        self.in_flight = self.in_flight.saturating_sub(u64::from(len));
        let Some(file) = self.slot_of(path, id) else {
            return false;
        };
        if let Some(entry) = self.live_mut(file) {
            entry.pending = entry.pending.saturating_sub(1);
        }
        if let Some(slot) = self.page_slot(file, index) {
            // A concurrent put of the same page got there first; the bytes
            // on disk are the same.
            self.evictor.touch(slot);
        } else {
            let slot = self.add_page(file, index, now);
            let tenant = self.live(file).map_or(0, |f| f.tenant);
            self.evictor.insert(slot, u32::from(tenant));
            self.enforce_quota(tenant, garbage);
        }
        true
    }

    /// Gives back a reservation whose write failed.
    pub fn abort_put(&mut self, path: &str, id: u128, len: u32, garbage: &mut Garbage) {
        self.in_flight = self.in_flight.saturating_sub(u64::from(len));
        self.release(path, id, garbage);
    }

    /// Evicts at least `bytes` (or everything) to make room on a full disk.
    pub fn evict_bytes(&mut self, bytes: u64, garbage: &mut Garbage) -> u64 {
        let mut freed = 0;
        while freed < bytes {
            match self.evict_one(garbage) {
                Some(len) => freed += len,
                None => break,
            }
        }
        freed
    }

    /// New watermarks, in bytes of payload.
    pub fn set_watermarks(&mut self, (high, low): (u64, u64)) {
        self.high = high;
        self.low = low;
    }

    /// Evicts down to the low watermark when the store is above the high one
    /// (after opening with a smaller size than before, or lowering the
    /// watermarks).
    pub fn shrink_to_watermark(&mut self, garbage: &mut Garbage) {
        if self.used_bytes() > self.high {
            while self.used_bytes() > self.low && self.evict_one(garbage).is_some() {}
        }
    }

    /// Drops whatever version of `path` is cached. Returns the bytes freed.
    pub fn remove_path(&mut self, path: &str, garbage: &mut Garbage) -> u64 {
        match self.slot_of_path(path) {
            Some(file) => self.remove_file_slot(file, garbage),
            None => 0,
        }
    }

    /// Drops one page (found corrupt or missing on disk). Returns whether it
    /// was indexed.
    pub fn remove_page(&mut self, path: &str, id: u128, index: u32, garbage: &mut Garbage) -> bool {
        let Some(file) = self.slot_of(path, id) else {
            return false;
        };
        let Some(slot) = self.page_slot(file, index) else {
            return false;
        };
        self.remove_page_slot(slot, garbage);
        true
    }

    // ---- rebuilding at open ----

    /// The slot and id of the indexed version of `path`, while rebuilding.
    pub fn restored_file(&self, path: &str) -> Option<(u32, u128)> {
        let slot = self.slot_of_path(path)?;
        Some((slot, self.live(slot)?.id))
    }

    /// Id and length of a file, while rebuilding.
    pub fn file_identity(&self, slot: u32) -> Option<(u128, u64)> {
        self.live(slot).map(|f| (f.id, f.len))
    }

    /// Adds a file found on disk. Returns its slot.
    pub fn restore_file(&mut self, path: &str, version: &str, len: u64, id: u128) -> u32 {
        self.add_file(path, version, len, id, true)
    }

    /// Forgets a file found on disk that turned out not to be wanted (an
    /// older version, or one without pages). Its pages must not be restored
    /// yet, or must be forgotten by the caller.
    pub fn forget_file(&mut self, slot: u32) {
        if self.live(slot).is_some_and(|f| f.pages == 0) {
            self.drop_file_slot(slot);
        }
    }

    /// Slots of files with no pages, to forget after the pages are restored.
    pub fn empty_files(&self) -> Vec<(u32, u128)> {
        (0..self.files.len() as u32)
            .filter_map(|slot| {
                let f = self.live(slot)?;
                (f.pages == 0 && f.pending == 0).then_some((slot, f.id))
            })
            .collect()
    }

    /// Adds a page found on disk, written at `cached_at` (Unix seconds),
    /// outside the eviction order. Returns its slot, for
    /// [`Index::restore_order`].
    pub fn restore_page(&mut self, file: u32, index: u32, cached_at: u32) -> Option<u32> {
        if self.live(file).is_none() || self.page_slot(file, index).is_some() {
            return None;
        }
        Some(self.add_page(file, index, cached_at))
    }

    /// Puts restored pages into the eviction order, first to evict first.
    pub fn restore_order(&mut self, slots: impl IntoIterator<Item = u32>) {
        for slot in slots {
            let tenant = self.tenant_of_slot(slot);
            self.evictor.insert(slot, u32::from(tenant));
        }
    }

    // ---- tenants ----

    /// The partition of a path under the current rules.
    fn tenant_of(&self, path: &str) -> u16 {
        // validate() caps the rules at MAX_TENANTS, well inside u16.
        tenant::owner(&self.tenants, path).map_or(0, |at| at as u16 + 1)
    }

    fn tenant_of_slot(&self, slot: u32) -> u16 {
        self.pages
            .get(slot as usize)
            .and_then(|page| self.live(page.file))
            .map_or(0, |file| file.tenant)
    }

    /// Applies a new rule set (checked by the caller): every file is
    /// assigned anew, every page moves to its tenant's partition in the
    /// order it had, and tenants over their new quota give up pages at once.
    /// A tenant keeps its counters when its name stays. LFU read counts
    /// start over (the order they made is kept).
    pub fn set_tenants(&mut self, rules: Vec<TenantRule>, garbage: &mut Garbage) {
        let order: Vec<u32> = (0..self.accounts.len() as u32)
            .flat_map(|partition| self.evictor.order(partition))
            .collect();
        for &slot in &order {
            self.evictor.remove(slot);
        }
        let previous: Vec<(String, Account)> = self
            .tenants
            .iter()
            .zip(self.accounts.iter().skip(1))
            .map(|(rule, account)| (rule.name.clone(), *account))
            .collect();
        let kinds: Vec<_> = std::iter::once(self.default_evictor)
            .chain(rules.iter().map(|rule| rule.evictor))
            .collect();
        self.evictor.set_partitions(&kinds);
        self.tenants = rules;
        self.accounts = std::iter::once(Account::default())
            .chain(self.tenants.iter().map(|rule| {
                let kept = previous.iter().find(|(name, _)| *name == rule.name);
                kept.map_or_else(Account::default, |(_, account)| Account {
                    committed: 0,
                    pages: 0,
                    ..*account
                })
            }))
            .collect();
        for slot in 0..self.files.len() {
            if self.files[slot].live {
                let path = self.path_of(&self.files[slot]);
                self.files[slot].tenant = self.tenant_of(&path);
            }
        }
        for slot in 0..self.pages.len() as u32 {
            let page = self.pages[slot as usize];
            if page.file == NIL {
                continue;
            }
            let len = self.page_len_of(slot);
            let tenant = usize::from(self.tenant_of_slot(slot));
            let account = &mut self.accounts[tenant];
            account.committed += len;
            account.pages += 1;
        }
        self.restore_order(order);
        for partition in 1..self.accounts.len() {
            self.enforce_quota(partition as u16, garbage);
        }
    }

    /// Each tenant's holdings and counters, in rule order.
    pub fn tenant_stats(&self) -> Vec<TenantStats> {
        self.tenants
            .iter()
            .zip(self.accounts.iter().skip(1))
            .map(|(rule, account)| TenantStats {
                name: rule.name.clone(),
                used_bytes: account.committed,
                pages: account.pages,
                quota_bytes: rule.quota_bytes,
                ttl: rule.ttl,
                evictor: rule.evictor,
                quota_evictions_total: account.quota_evictions,
                quota_evicted_bytes_total: account.quota_evicted_bytes,
                expired_pages_total: account.expired_pages,
                expired_bytes_total: account.expired_bytes,
            })
            .collect()
    }

    /// Whether any tenant has a TTL, so [`Index::expire`] has work to do.
    pub fn has_ttl(&self) -> bool {
        self.tenants.iter().any(|rule| rule.ttl.is_some())
    }

    /// Removes pages of page slots `from..from + count` that were cached
    /// more than their tenant's TTL before `now` (Unix seconds). Returns
    /// where the next call should start, or `None` past the last slot: the
    /// store calls this a chunk at a time so a pass over millions of pages
    /// never holds the lock for long.
    pub fn expire(
        &mut self,
        from: u32,
        count: u32,
        now: u32,
        garbage: &mut Garbage,
    ) -> Option<u32> {
        let end = from.saturating_add(count).min(self.pages.len() as u32);
        for slot in from..end {
            let page = self.pages[slot as usize];
            let Some(file) = self.live(page.file) else {
                continue;
            };
            let partition = usize::from(file.tenant);
            let Some(ttl) = partition
                .checked_sub(1)
                .and_then(|rule| self.tenants[rule].ttl)
            else {
                continue;
            };
            let age = u64::from(now.saturating_sub(page.cached_at));
            if age < ttl.as_secs() {
                continue;
            }
            let len = self.remove_page_slot(slot, garbage);
            garbage.expired_pages += 1;
            garbage.expired_bytes += len;
            let account = &mut self.accounts[partition];
            account.expired_pages += 1;
            account.expired_bytes += len;
        }
        (end < self.pages.len() as u32).then_some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::EvictorKind;

    fn index(size: u64, page_size: u64, evictor: EvictorKind) -> Index {
        let mut options = Options::new("/unused");
        options.size = size;
        options.page_size = page_size;
        options.evictor = evictor;
        Index::new(&options)
    }

    fn put(index: &mut Index, key: &FileKey, page: u32, len: u32) -> Garbage {
        put_at(index, key, page, len, 0)
    }

    fn put_at(index: &mut Index, key: &FileKey, page: u32, len: u32, now: u32) -> Garbage {
        let mut garbage = Garbage::default();
        let begin = index
            .begin_put(key, key.id(), page, len, &mut garbage)
            .unwrap();
        assert!(matches!(begin, Begin::Reserved { .. }));
        index.mark_meta_written(key.path(), key.id());
        assert!(index.commit_put(key.path(), key.id(), (page, len), now, &mut garbage));
        garbage
    }

    #[test]
    fn watermarks_evict_from_high_down_to_low() {
        // 100 bytes, pages of 10: high 90, low 80.
        let mut index = index(100, 10, EvictorKind::Fifo);
        let key = FileKey::new("/f", "v", 1000);
        for page in 0..9 {
            assert!(put(&mut index, &key, page, 10).is_empty());
        }
        assert_eq!(index.used_bytes(), 90);
        // The 10th page would pass 90: evict until 80 - 10 = 70 remain.
        let garbage = put(&mut index, &key, 9, 10);
        assert_eq!(garbage.evicted_pages, 2);
        assert_eq!(garbage.evicted_bytes, 20);
        let evicted: Vec<u32> = garbage.pages.iter().map(|p| p.2).collect();
        assert_eq!(evicted, vec![0, 1]);
        assert_eq!(index.used_bytes(), 80);
        assert_eq!(index.page_count(), 8);
        assert_eq!(index.cached_file("/f").unwrap().cached_bytes, 80);
        // Below the high watermark again: no eviction.
        assert!(put(&mut index, &key, 10, 10).is_empty());
        assert_eq!(index.used_bytes(), 90);
    }

    #[test]
    fn lru_keeps_what_is_read() {
        let mut index = index(100, 10, EvictorKind::Lru);
        let key = FileKey::new("/f", "v", 1000);
        for page in 0..9 {
            put(&mut index, &key, page, 10);
        }
        assert!(index.lookup(&key, 0).is_some());
        assert!(index.lookup(&key, 1).is_some());
        let garbage = put(&mut index, &key, 9, 10);
        let evicted: Vec<u32> = garbage.pages.iter().map(|p| p.2).collect();
        assert_eq!(evicted, vec![2, 3]);
    }

    #[test]
    fn last_page_evicted_takes_the_file_and_its_record() {
        let mut index = index(20, 10, EvictorKind::Fifo);
        let a = FileKey::new("/a", "v", 10);
        let b = FileKey::new("/b", "v", 30);
        put(&mut index, &a, 0, 10);
        let garbage = put(&mut index, &b, 0, 10);
        assert_eq!(garbage.pages.len(), 1);
        assert_eq!(garbage.metas.len(), 1);
        assert_eq!(&*garbage.metas[0].0, "/a");
        assert!(index.cached_file("/a").is_none());
        assert_eq!(index.file_count(), 1);
        // Evicting a file's own pages while a put for it is pending keeps
        // the file.
        let garbage = put(&mut index, &b, 1, 10);
        assert!(garbage.metas.is_empty());
        assert_eq!(index.cached_file("/b").unwrap().cached_pages, 1);
    }

    #[test]
    fn cached_bytes_counts_the_short_last_page() {
        let mut index = index(1000, 10, EvictorKind::Lru);
        let key = FileKey::new("/f", "v", 25);
        put(&mut index, &key, 2, 5);
        assert_eq!(index.cached_file("/f").unwrap().cached_bytes, 5);
        put(&mut index, &key, 0, 10);
        assert_eq!(index.cached_file("/f").unwrap().cached_bytes, 15);
        put(&mut index, &key, 1, 10);
        let file = index.cached_file("/f").unwrap();
        assert_eq!((file.cached_bytes, file.cached_pages), (25, 3));
        assert!(file.is_fully_cached());
        assert_eq!(index.used_bytes(), 25);
        assert_eq!(index.lookup(&key, 2), Some((key.id(), 5)));
    }

    #[test]
    fn new_version_replaces_old() {
        let mut index = index(1000, 10, EvictorKind::Lru);
        let old = FileKey::new("/f", "1", 20);
        let new = FileKey::new("/f", "2", 20);
        put(&mut index, &old, 0, 10);
        put(&mut index, &old, 1, 10);
        assert!(index.lookup(&new, 0).is_none());
        let garbage = put(&mut index, &new, 0, 10);
        assert_eq!(garbage.pages.len(), 2);
        assert_eq!(garbage.metas.len(), 1);
        assert_eq!(garbage.evicted_pages, 0);
        assert!(index.lookup(&old, 0).is_none());
        assert_eq!(index.lookup(&new, 0), Some((new.id(), 10)));
        assert_eq!(index.used_bytes(), 10);
        // A put of the old version still in flight finds its file gone.
        assert!(!index.commit_put("/f", old.id(), (1, 10), 0, &mut Garbage::default()));
    }

    #[test]
    fn capacity_is_never_passed() {
        let mut index = index(20, 10, EvictorKind::Lru);
        let key = FileKey::new("/f", "v", 100);
        let mut garbage = Garbage::default();
        assert!(index.begin_put(&key, key.id(), 0, 10, &mut garbage).is_ok());
        assert!(index.begin_put(&key, key.id(), 1, 10, &mut garbage).is_ok());
        // Two writes in flight hold everything; nothing is evictable.
        let error = index
            .begin_put(&key, key.id(), 2, 10, &mut garbage)
            .unwrap_err();
        assert!(error.is_out_of_space(), "{error}");
        assert_eq!(index.used_bytes(), 20);
        index.abort_put("/f", key.id(), 10, &mut garbage);
        assert!(index.commit_put("/f", key.id(), (1, 10), 0, &mut Garbage::default()));
        assert_eq!(index.used_bytes(), 10);
        assert_eq!(index.file_count(), 1);
    }

    #[test]
    fn failed_first_put_leaves_no_file() {
        let mut index = index(20, 10, EvictorKind::Lru);
        let key = FileKey::new("/f", "v", 100);
        let mut garbage = Garbage::default();
        index
            .begin_put(&key, key.id(), 0, 10, &mut garbage)
            .unwrap();
        index.abort_put("/f", key.id(), 10, &mut garbage);
        assert_eq!(index.file_count(), 0);
        assert_eq!(index.used_bytes(), 0);
        assert!(
            garbage.is_empty(),
            "no record was written, so none to delete"
        );
    }

    #[test]
    fn remove_path_sweeps_sparse_huge_files() {
        let mut index = index(1 << 40, 1, EvictorKind::Lru);
        let huge = FileKey::new("/huge", "v", u64::from(u32::MAX));
        put(&mut index, &huge, 7, 1);
        put(&mut index, &huge, u32::MAX - 1, 1);
        let mut garbage = Garbage::default();
        assert_eq!(index.remove_path("/huge", &mut garbage), 2);
        assert_eq!(garbage.pages.len(), 2);
        assert_eq!(index.page_count(), 0);
        assert_eq!(index.used_bytes(), 0);
        assert_eq!(index.remove_path("/huge", &mut garbage), 0);
    }

    #[test]
    fn slots_and_names_are_reused() {
        let mut index = index(1 << 30, 10, EvictorKind::Lfu);
        for round in 0..3 {
            let key = FileKey::new(format!("/f{round}"), "v", 100);
            for page in 0..10 {
                put(&mut index, &key, page, 10);
            }
            let mut garbage = Garbage::default();
            index.remove_path(key.path(), &mut garbage);
        }
        assert_eq!(index.pages.len(), 10);
        assert_eq!(index.files.len(), 1);
        assert!(index.heap_bytes() > 0);

        // Many files come and go; the arena stays near the live names.
        let keep = FileKey::new("/kept", "v", 10);
        put(&mut index, &keep, 0, 10);
        for n in 0..20_000 {
            let key = FileKey::new(format!("/churn/{n:08}"), "version", 10);
            put(&mut index, &key, 0, 10);
            let mut garbage = Garbage::default();
            index.remove_path(key.path(), &mut garbage);
        }
        assert!(index.names.len() < 200_000, "{}", index.names.len());
        assert_eq!(index.cached_file("/kept").unwrap().version, "v");
        assert_eq!(index.lookup(&keep, 0), Some((keep.id(), 10)));
        assert_eq!(index.file_count(), 1);
    }

    fn tenant(name: &str, prefix: &str, quota: Option<u64>, ttl: Option<u64>) -> TenantRule {
        TenantRule {
            name: name.into(),
            prefixes: vec![prefix.into()],
            quota_bytes: quota,
            ttl: ttl.map(std::time::Duration::from_secs),
            evictor: EvictorKind::Fifo,
        }
    }

    fn used(index: &Index) -> Vec<(String, u64, u64)> {
        index
            .tenant_stats()
            .into_iter()
            .map(|t| (t.name, t.used_bytes, t.pages))
            .collect()
    }

    #[test]
    fn a_tenant_over_its_quota_evicts_its_own_pages_first() {
        let mut index = index(1000, 10, EvictorKind::Lru);
        let mut garbage = Garbage::default();
        index.set_tenants(vec![tenant("a", "/a", Some(30), None)], &mut garbage);
        let other = FileKey::new("/b/f", "v", 1000);
        for page in 0..5 {
            put(&mut index, &other, page, 10);
        }
        let mine = FileKey::new("/a/f", "v", 1000);
        for page in 0..5 {
            put(&mut index, &mine, page, 10);
        }
        assert_eq!(used(&index), vec![("a".into(), 30, 3)]);
        // Its oldest pages went; nobody else's did.
        assert!(!index.has_page("/a/f", mine.id(), 1));
        assert!(index.has_page("/a/f", mine.id(), 2));
        assert!((0..5).all(|page| index.has_page("/b/f", other.id(), page)));
        let stats = &index.tenant_stats()[0];
        assert_eq!(
            (stats.quota_evictions_total, stats.quota_evicted_bytes_total),
            (2, 20)
        );
        assert_eq!(index.used_bytes(), 80);
    }

    #[test]
    fn store_pressure_takes_pages_from_the_largest_share_first() {
        // 100 bytes, high 90, low 80; tenant a may hold 40, b the rest.
        let mut index = index(100, 10, EvictorKind::Fifo);
        let mut garbage = Garbage::default();
        index.set_tenants(
            vec![
                tenant("a", "/a", Some(40), None),
                tenant("b", "/b", None, None),
            ],
            &mut garbage,
        );
        let (a, b) = (
            FileKey::new("/a/f", "v", 1000),
            FileKey::new("/b/f", "v", 1000),
        );
        for page in 0..4 {
            put(&mut index, &a, page, 10);
        }
        for page in 0..5 {
            put(&mut index, &b, page, 10);
        }
        // a holds 40 of 40 (a full share), b 50 of 100: the next put evicts
        // down to the low watermark from a, whose share is the largest,
        // until the shares cross.
        put(&mut index, &b, 5, 10);
        assert_eq!(index.used_bytes(), 80);
        assert_eq!(used(&index), vec![("a".into(), 20, 2), ("b".into(), 60, 6)]);
    }

    #[test]
    fn new_rules_move_pages_keep_their_order_and_apply_quotas_at_once() {
        let mut index = index(1000, 10, EvictorKind::Fifo);
        let key = FileKey::new("/data/x", "v", 1000);
        for page in 0..6 {
            put(&mut index, &key, page, 10);
        }
        let loose = FileKey::new("/loose", "v", 10);
        put(&mut index, &loose, 0, 10);
        let mut garbage = Garbage::default();
        index.set_tenants(vec![tenant("data", "/data", Some(40), None)], &mut garbage);
        assert_eq!(used(&index), vec![("data".into(), 40, 4)]);
        // The first cached went first, as in the order before.
        assert!(!index.has_page("/data/x", key.id(), 1));
        assert!(index.has_page("/data/x", key.id(), 2));
        assert_eq!(garbage.evicted_pages, 2);
        // Renamed prefix, same name: counters stay, pages go back to no tenant.
        index.set_tenants(
            vec![tenant("data", "/elsewhere", Some(40), None)],
            &mut garbage,
        );
        let stats = &index.tenant_stats()[0];
        assert_eq!((stats.used_bytes, stats.quota_evictions_total), (0, 2));
        assert_eq!(index.used_bytes(), 50);
        index.set_tenants(Vec::new(), &mut garbage);
        assert!(index.tenant_stats().is_empty());
        // With no tenants the store evicts as it always did.
        assert_eq!(index.evict_bytes(10, &mut garbage), 10);
        assert_eq!(index.used_bytes(), 40);
    }

    #[test]
    fn pages_past_their_tenants_ttl_expire_and_others_stay() {
        let mut index = index(1000, 10, EvictorKind::Lru);
        let mut garbage = Garbage::default();
        index.set_tenants(vec![tenant("t", "/t", None, Some(60))], &mut garbage);
        let (t, free) = (FileKey::new("/t/f", "v", 20), FileKey::new("/u/f", "v", 20));
        put_at(&mut index, &t, 0, 10, 1_000);
        put_at(&mut index, &t, 1, 10, 1_050);
        put_at(&mut index, &free, 0, 10, 0);
        assert!(index.has_ttl());
        let mut garbage = Garbage::default();
        // One slot a call, to exercise the chunking.
        let mut from = Some(0);
        while let Some(start) = from {
            from = index.expire(start, 1, 1_070, &mut garbage);
        }
        assert_eq!((garbage.expired_pages, garbage.expired_bytes), (1, 10));
        assert!(!index.has_page("/t/f", t.id(), 0));
        assert!(index.has_page("/t/f", t.id(), 1));
        assert!(index.has_page("/u/f", free.id(), 0), "no tenant, no ttl");
        assert_eq!(index.expire(0, u32::MAX, 1_110, &mut garbage), None);
        assert!(
            !index.has_file("/t/f", t.id()),
            "the last page took the file"
        );
        let stats = &index.tenant_stats()[0];
        assert_eq!((stats.expired_pages_total, stats.used_bytes), (2, 0));
    }
}
