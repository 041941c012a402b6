//! Rebuilding the index from disk when a store opens.
//!
//! Metadata records are read first, then every page header. What cannot be
//! trusted is deleted as it is found: temporary files (writes cut short by a
//! crash), pages and records that fail their checks, pages whose file has no
//! record, and records left without pages. Files in a format version this
//! build does not know stop the scan with an error instead and are left
//! alone.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use hashbrown::HashTable;
use tracing::{debug, warn};

use crate::error::PageStoreError;
use crate::format::{
    self, DecodeError, FORMAT_VERSION, HEADER_LEN, MAX_META_LEN, META_DIR, MetaRecord, PAGES_DIR,
    PageHeader, RelPath, TMP_DIR,
};
use crate::index::Index;
use crate::key::{file_id, page_len};

/// What opening found and threw away.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Disk bytes (allocated blocks) of the files kept.
    pub occupied_bytes: u64,
    pub removed_temp: u64,
    pub removed_invalid: u64,
    pub removed_orphans: u64,
}

/// Fills an empty `index` from the store in `dir`, straight from the
/// directory listings: nothing but a 16-byte (write time, slot) pair per
/// page and a 4-byte id-table entry per file is held on the side, so the
/// peak memory of a rebuild stays close to the index it builds.
pub(crate) fn rebuild(
    dir: &Path,
    page_size: u64,
    verify_payloads: bool,
    index: &mut Index,
) -> Result<Report, PageStoreError> {
    let mut report = Report::default();
    each_file(&dir.join(TMP_DIR), |path| {
        remove(path, "leftover temporary file");
        report.removed_temp += 1;
        Ok(())
    })?;

    // File slots by id, for the pages to find their file.
    let mut by_id: HashTable<u32> = HashTable::new();
    let id_hash = |id: u128| id as u64;
    for shard in 0..format::SHARDS {
        let shard_dir = dir.join(META_DIR).join(format::shard_name(shard));
        each_file(&shard_dir, |path| {
            let (record, id, meta) = match read_meta(path, shard, page_size)? {
                Ok(found) => found,
                Err(reason) => {
                    warn!(file = %path.display(), reason, "deleting invalid page store metadata record");
                    remove(path, reason);
                    report.removed_invalid += 1;
                    return Ok(());
                }
            };
            if let Some((slot, other)) = index.restored_file(&record.path) {
                // Two versions of one path: a crash came between caching the
                // new one and deleting the old. Keep the newer. (Rare, so
                // the kept record is looked at again rather than
                // remembering every record's time.)
                let other_path = dir.join(RelPath::meta(other).as_str());
                let kept = fs::metadata(&other_path).ok();
                if kept
                    .as_ref()
                    .is_some_and(|kept| mtime_ns(kept) > mtime_ns(&meta))
                {
                    remove(path, "metadata record of a replaced version");
                    report.removed_orphans += 1;
                    return Ok(());
                }
                report.occupied_bytes -=
                    kept.map_or(0, |m| allocated(&m)).min(report.occupied_bytes);
                remove(&other_path, "metadata record of a replaced version");
                report.removed_orphans += 1;
                if let Ok(found) = by_id.find_entry(id_hash(other), |&s| s == slot) {
                    found.remove();
                }
                index.forget_file(slot);
            }
            let slot = index.restore_file(&record.path, &record.version, record.len, id);
            report.occupied_bytes += allocated(&meta);
            by_id.insert_unique(id_hash(id), slot, |&s| {
                index.file_identity(s).map_or(0, |(id, _)| id_hash(id))
            });
            Ok(())
        })?;
    }

    // (write time, page slot) of every page kept, to order the evictor.
    let mut order: Vec<(i64, u32)> = Vec::new();
    for shard in 0..format::SHARDS {
        let shard_dir = dir.join(PAGES_DIR).join(format::shard_name(shard));
        each_file(&shard_dir, |path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let parsed = format::parse_page_name(name)
                .filter(|&(id, index)| format::page_shard(id, index) == shard);
            let Some((id, page)) = parsed else {
                warn!(file = %path.display(), "deleting a file that is not a page from the page store");
                remove(path, "not a page");
                report.removed_invalid += 1;
                return Ok(());
            };
            let file = by_id
                .find(id_hash(id), |&s| {
                    index.file_identity(s).is_some_and(|f| f.0 == id)
                })
                .copied();
            let Some((file, (_, file_len))) =
                file.and_then(|slot| Some((slot, index.file_identity(slot)?)))
            else {
                debug!(file = %path.display(), "deleting a page whose file has no metadata record");
                remove(path, "orphan page");
                report.removed_orphans += 1;
                return Ok(());
            };
            let Some(len) = page_len(file_len, page_size, u64::from(page)) else {
                warn!(file = %path.display(), "deleting a page past the end of its file");
                remove(path, "page past the end of its file");
                report.removed_invalid += 1;
                return Ok(());
            };
            match check_page(path, id, page, len, verify_payloads)? {
                Ok(meta) => {
                    let written = mtime_ns(&meta);
                    let cached_at = u32::try_from(written.div_euclid(1_000_000_000)).unwrap_or(0);
                    if let Some(slot) = index.restore_page(file, page, cached_at) {
                        order.push((written, slot));
                        report.occupied_bytes += allocated(&meta);
                    }
                }
                Err(reason) => {
                    warn!(file = %path.display(), reason, "deleting invalid page");
                    remove(path, reason);
                    report.removed_invalid += 1;
                }
            }
            Ok(())
        })?;
    }
    drop(by_id);

    // Records without pages are no use, and keeping them would list files
    // the store cannot serve a byte of.
    for (slot, id) in index.empty_files() {
        let path = dir.join(RelPath::meta(id).as_str());
        let freed = fs::metadata(&path).map_or(0, |m| allocated(&m));
        report.occupied_bytes -= freed.min(report.occupied_bytes);
        remove(&path, "metadata record without pages");
        report.removed_orphans += 1;
        index.forget_file(slot);
    }

    // Oldest first, so the eviction order after a restart follows write
    // time: read times are not on disk.
    order.sort_unstable();
    index.restore_order(order.into_iter().map(|(_, slot)| slot));
    Ok(report)
}

/// Calls `visit` with each regular file in `dir`, streaming the listing; a
/// missing directory is empty.
fn each_file(
    dir: &Path,
    mut visit: impl FnMut(&Path) -> Result<(), PageStoreError>,
) -> Result<(), PageStoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(PageStoreError::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| PageStoreError::io("list", dir, e))?;
        match entry.file_type() {
            Ok(kind) if kind.is_file() => visit(&entry.path())?,
            // Not something the store writes; leave it for a person to look at.
            Ok(_) => {
                warn!(entry = %entry.path().display(), "ignoring a non-file in the page store")
            }
            Err(e) => return Err(PageStoreError::io("inspect", entry.path(), e)),
        }
    }
    Ok(())
}

fn remove(path: &Path, why: &str) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        warn!(file = %path.display(), why, error = %e, "cannot delete from the page store");
    }
}

type Checked<T> = Result<T, &'static str>;

fn unsupported(path: &Path, found: u16) -> PageStoreError {
    PageStoreError::UnsupportedFormat {
        path: path.to_path_buf(),
        found: u32::from(found),
        supported: u32::from(FORMAT_VERSION),
    }
}

/// Reads and checks one metadata record. The outer error stops the open; the
/// inner one says why the record should be deleted.
fn read_meta(
    path: &Path,
    shard: u8,
    page_size: u64,
) -> Result<Checked<(MetaRecord, u128, fs::Metadata)>, PageStoreError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(id) = format::parse_meta_name(name).filter(|&id| format::meta_shard(id) == shard)
    else {
        return Ok(Err("not a metadata record name"));
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return Err(PageStoreError::io("open", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| PageStoreError::io("inspect", path, e))?;
    if meta.len() > MAX_META_LEN as u64 {
        return Ok(Err("metadata record is too long"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| PageStoreError::io("read", path, e))?;
    let record = match MetaRecord::decode(&bytes) {
        Ok(record) => record,
        Err(DecodeError::UnknownVersion(found)) => return Err(unsupported(path, found)),
        Err(DecodeError::Invalid(reason)) => return Ok(Err(reason)),
    };
    if file_id(&record.path, &record.version, record.len) != id {
        return Ok(Err("metadata record does not match its name"));
    }
    if record.page_size != page_size {
        // Written with another ringside.worker.pagestore.page.size: its
        // pages are cut differently and cannot be served.
        return Ok(Err("metadata record is for another page size"));
    }
    Ok(Ok((record, id, meta)))
}

/// Checks one page file. Returns its metadata (write time, blocks).
fn check_page(
    path: &Path,
    id: u128,
    index: u32,
    len: u64,
    verify_payload: bool,
) -> Result<Checked<fs::Metadata>, PageStoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return Err(PageStoreError::io("open", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| PageStoreError::io("inspect", path, e))?;
    let mut raw = [0u8; HEADER_LEN];
    match file.read_exact(&mut raw) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Ok(Err("page is shorter than its header"));
        }
        Err(e) => return Err(PageStoreError::io("read", path, e)),
    }
    let header = match PageHeader::decode(&raw) {
        Ok(header) => header,
        Err(DecodeError::UnknownVersion(found)) => return Err(unsupported(path, found)),
        Err(DecodeError::Invalid(reason)) => return Ok(Err(reason)),
    };
    if header.file_id != id || header.index != u64::from(index) {
        return Ok(Err("page header does not match its name"));
    }
    if header.payload_len != len {
        return Ok(Err("page has the wrong length for its place in the file"));
    }
    if meta.len() != HEADER_LEN as u64 + len {
        return Ok(Err("page file length does not match its header"));
    }
    if verify_payload {
        let mut payload = Vec::with_capacity(len as usize);
        file.read_to_end(&mut payload)
            .map_err(|e| PageStoreError::io("read", path, e))?;
        if !header.matches(&payload) {
            return Ok(Err("page checksum mismatch"));
        }
    }
    Ok(Ok(meta))
}

/// Disk space a file takes, in whole blocks.
fn allocated(meta: &fs::Metadata) -> u64 {
    meta.blocks().saturating_mul(512)
}

fn mtime_ns(meta: &fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}
