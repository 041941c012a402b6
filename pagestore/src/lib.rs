//! The page store of a Ringside worker: it caches files of the under file
//! system (UFS) on the worker's local disk, cut into fixed-size pages
//! (1 MiB by default), so that repeated reads are served from local disk
//! instead of the UFS. It keeps to a configured capacity by evicting pages
//! (LRU, LFU or FIFO, from a high watermark down to a low one), checks every
//! page it serves against a checksum, survives crashes and restarts with its
//! index intact, and keeps that index small enough for a million pages to
//! fit well inside a worker's memory budget.
//!
//! The API is synchronous and thread-safe: every method takes `&self`, and
//! [`PageStore`] is `Send + Sync`, so an async worker shares it in an `Arc`
//! and calls it from `tokio::task::spawn_blocking`; only
//! [`PageStore::get_page_from_memory`], which reads nothing that is not in
//! memory (as far as the kernel lets it tell), is for the async threads
//! themselves.
//!
//! # Using it
//!
//! ```
//! use ringside_pagestore::{FileKey, Options, PageStore};
//!
//! let dir = tempfile::tempdir()?;
//! let mut options = Options::new(dir.path());
//! options.size = 64 << 20;
//! options.reserved_size = 1 << 20;
//! let store = PageStore::open(options)?;
//!
//! // A 1.5 MiB file: page 0 is 1 MiB, page 1 the remaining 0.5 MiB.
//! let key = FileKey::new("/data/part-0001.parquet", "1572864-1714412345000000000", 1_572_864);
//! assert_eq!(store.get_page(&key, 0)?, None); // miss: read the UFS
//! let page = vec![7u8; 1 << 20];
//! store.put_page(&key, 0, &page)?;
//! assert_eq!(store.get_page(&key, 0)?.as_deref(), Some(&page[..]));
//! assert_eq!(store.cached_bytes("/data/part-0001.parquet"), 1 << 20);
//!
//! // The UFS file changed: the old version is never served.
//! let changed = FileKey::new("/data/part-0001.parquet", "1572864-1714419999000000000", 1_572_864);
//! assert_eq!(store.get_page(&changed, 0)?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a worker calls it
//!
//! - Build [`Options`] from the `ringside.worker.pagestore.*` properties and
//!   [`PageStore::open`] it at start; an error there is fatal, and its
//!   message names the property to change.
//! - Key every read with a [`FileKey`]: the UFS path, a version string that
//!   changes whenever the content does, and the length. For a local
//!   directory UFS use `format!("{len}-{mtime_ns}")` from the file's
//!   metadata; for S3 the object's ETag (with its length). Take the version
//!   from the same `stat`/`HEAD` that gave the length, before reading.
//! - For a read of `[offset, offset + n)`: for each page index from
//!   `offset / page_size` to `(offset + n - 1) / page_size`, call
//!   [`PageStore::get_page`] (or [`PageStore::get_page_into`] to reuse a
//!   buffer, which also says whether the page came from the OS page cache
//!   or the disk: a [`PageSource`]; an async caller first tries
//!   [`PageStore::get_page_from_memory`] in place). On `Ok(None)` read that
//!   page's byte range from the UFS, answer with it, and pass it to
//!   [`PageStore::put_page`].
//! - Errors never fail a read. A `get_page` error means "read from the UFS"
//!   (log it). A `put_page` error means "not cached": errors for which
//!   [`PageStoreError::is_out_of_space`] holds are expected under pressure
//!   (count them, don't log each); any other is logged as a warning.
//! - A load job is done with a file when [`PageStore::cached_bytes`] equals
//!   its length; [`PageStore::files`] lists what is cached, for `free` jobs
//!   and reports; [`PageStore::remove_file`] drops a path.
//! - [`PageStore::stats`] feeds `/metrics`.
//!
//! # On disk
//!
//! Each page is a file: a 64-byte header (format version, file id, page
//! index, length, xxh3-64 of the payload, and a checksum of the header
//! itself) followed by the payload. Each cached file also has a small
//! metadata record with its path, version, length and page size, which is
//! what lets the store list its files after a restart. See the `format`
//! module source for the exact layout.
//!
//! - Every read checks the header and the payload checksum. A damaged page is
//!   deleted, counted in [`Stats::checksum_failures_total`], logged as a
//!   warning with its path, and read as a miss.
//! - Every write goes to a temporary file, is flushed with `fdatasync`
//!   (unless [`Options::sync_writes`] is off, as the worker's default is),
//!   then renamed into place, so a page is either whole or absent. Metadata
//!   records also fsync their directory, since pages without a record are
//!   thrown away.
//! - Opening rebuilds the index from the records and page headers. It deletes
//!   temporary files, pages and records that fail their checks, pages
//!   without a record and records without pages, and refuses (deleting
//!   nothing) files of a format version it does not know. Payload checksums
//!   are only read on open with [`Options::verify_checksums_on_open`].
//! - Opening refuses a disk that cannot hold `size + reserved_size` next to
//!   what the store already holds.
//! - A full disk while writing makes the store evict and retry once, then
//!   give up with [`PageStoreError::DiskFull`]; reads are unaffected.
//!
//! Capacity counts page payload bytes. Headers (64 bytes a page), metadata
//! records and file system block rounding come out of `reserved_size`.
//!
//! # Memory
//!
//! Nothing in the index allocates per file or per page. A file is a 48-byte
//! entry plus its path and version bytes in one shared arena; a page is an
//! 12-byte entry (with its cache time), 12 bytes of eviction links and a 4-byte slot in a hash
//! table that stores slot numbers only. `tests/index_memory.rs` measures a
//! million indexed pages: about 33 bytes a page in 10,000 files, about 160
//! in a million one-page files, both well under the worker's 200 MiB budget
//! (see `docs/benchmarks.md`).
//!
//! # Tenants
//!
//! [`PageStore::set_tenants`] splits the cache between tenants by UFS path
//! prefix, each with a quota, a TTL and an eviction order of its own (see
//! the `tenant` module). A tenant over its quota evicts its own pages; when
//! the store as a whole must evict, the tenant using the largest share of
//! its quota (or of the capacity) gives up pages first, so one tenant's
//! burst does not flush another's working set. [`PageStore::expire`]
//! removes pages past their TTL. Rules are not persisted: the tenant of a
//! file follows from its path, so a restart with the same rules (the
//! worker fetches them from its coordinator) restores the same split, and
//! a page's cache time comes back from its file's modification time.

mod disk;
mod error;
mod evictor;
mod format;
mod index;
mod key;
mod options;
mod scan;
mod store;
mod tenant;

pub use error::PageStoreError;
pub use key::{CachedFile, FileKey, MAX_PATH_LEN, MAX_VERSION_LEN, page_count, page_len};
pub use options::{EvictorKind, GIB, KIB, MIB, Options};
pub use store::{NotInMemory, PageSource, PageStore, Stats};
pub use tenant::{Expired, MAX_TENANTS, TenantRule, TenantStats};

#[cfg(test)]
mod tests;
