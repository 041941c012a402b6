//! Tests of the whole store on a real directory: eviction through the public
//! API, damage and crash leftovers on disk, restarts, refusals, a full disk,
//! concurrency, and property tests against a simple model.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use proptest::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::format::{HEADER_LEN, MetaRecord, PageHeader, RelPath};
use crate::{
    EvictorKind, FileKey, Options, PageSource, PageStore, PageStoreError, TenantRule, page_count,
    page_len,
};

fn options(dir: &Path, page_size: u64, capacity_pages: u64) -> Options {
    let mut options = Options::new(dir);
    options.page_size = page_size;
    options.size = page_size * capacity_pages;
    options.reserved_size = 0;
    options
}

/// The bytes of page `index` of `key`: different for every path, version
/// and index, so a page served for the wrong key cannot pass.
fn data(key: &FileKey, index: u64, page_size: u64) -> Vec<u8> {
    let len = page_len(key.len(), page_size, index).unwrap();
    let seed = xxh3_64(format!("{}@{}#{index}", key.path(), key.version()).as_bytes());
    (0..len)
        .map(|i| (seed.wrapping_add(i * 131) >> 3) as u8)
        .collect()
}

fn put(store: &PageStore, key: &FileKey, index: u64) {
    store
        .put_page(key, index, &data(key, index, store.page_size()))
        .unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn page_file(store: &PageStore, key: &FileKey, index: u32) -> PathBuf {
    store.disk().path_of(&RelPath::page(key.id(), index))
}

fn cached_pages(store: &PageStore, key: &FileKey) -> Vec<u64> {
    (0..page_count(key.len(), store.page_size()))
        .filter(|&i| store.has_page(key, i))
        .collect()
}

#[test]
fn round_trip_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    let v1 = FileKey::new("/a", "1", 20);
    for i in 0..3 {
        assert_eq!(store.get_page(&v1, i).unwrap(), None);
        put(&store, &v1, i);
    }
    for i in 0..3 {
        assert_eq!(store.get_page(&v1, i).unwrap(), Some(data(&v1, i, 8)));
    }
    assert_eq!(store.cached_bytes("/a"), 20);
    assert!(store.cached_file("/a").unwrap().is_fully_cached());
    // Putting twice is harmless.
    put(&store, &v1, 0);
    assert_eq!(store.stats().pages, 3);

    // A new version is a miss, and caching it drops the old one.
    let v2 = FileKey::new("/a", "2", 12);
    assert_eq!(store.get_page(&v2, 0).unwrap(), None);
    put(&store, &v2, 1);
    assert_eq!(store.get_page(&v1, 0).unwrap(), None);
    assert_eq!(store.cached_bytes("/a"), 4);
    let files = store.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].version, "2");
    assert_eq!(files[0].key(), v2);
    // Only v2's page and record remain on disk.
    assert_eq!(files_under(&dir.path().join("pages")).len(), 1);
    assert_eq!(files_under(&dir.path().join("meta")).len(), 1);

    let stats = store.stats();
    assert_eq!(stats.hits_total, 3);
    assert_eq!(stats.misses_total, 5);
    assert_eq!(stats.puts_total, 4);
    assert_eq!(stats.used_bytes, 4);

    assert_eq!(store.remove_file("/a").unwrap(), 4);
    assert_eq!(store.remove_file("/a").unwrap(), 0);
    assert_eq!(store.cached_bytes("/a"), 0);
    assert!(store.files().is_empty());
    assert!(files_under(&dir.path().join("pages")).is_empty());
    assert!(files_under(&dir.path().join("meta")).is_empty());
    assert!(files_under(&dir.path().join("tmp")).is_empty());
}

#[test]
fn a_batch_of_pages_is_written_with_one_flush_and_each_gets_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let a = FileKey::new("/a", "1", 20);
    let b = FileKey::new("/b", "1", 8);
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        put(&store, &a, 0);
        let pages: Vec<(u64, Vec<u8>)> = (0..3).map(|i| (i, data(&a, i, 8))).collect();
        let b0 = data(&b, 0, 8);
        let mut batch: Vec<(&FileKey, u64, &[u8])> =
            pages.iter().map(|(i, d)| (&a, *i, d.as_slice())).collect();
        batch.push((&b, 0, &b0));
        batch.push((&b, 0, &[1, 2, 3]));
        let results = store.put_pages(&batch);
        assert_eq!(results.len(), 5);
        assert!(results[..4].iter().all(Result::is_ok), "{results:?}");
        assert!(matches!(results[4], Err(PageStoreError::PageLength { .. })));
        assert_eq!(cached_pages(&store, &a), vec![0, 1, 2]);
        assert_eq!(store.get_page(&b, 0).unwrap(), Some(b0));
        assert_eq!(
            store.stats().puts_total,
            4,
            "the page already cached is not written again"
        );
        assert!(files_under(&dir.path().join("tmp")).is_empty());
    }
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    for i in 0..3 {
        assert_eq!(store.get_page(&a, i).unwrap(), Some(data(&a, i, 8)));
    }
    assert_eq!(store.cached_bytes("/b"), 8);
}

#[test]
fn files_page_through_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    for name in ["/b", "/a/x", "/a-b", "/c", "/a0", "/a/y"] {
        put(&store, &FileKey::new(name, "1", 8), 0);
    }
    let mut all: Vec<String> = store.files().into_iter().map(|f| f.path).collect();
    all.sort();
    for limit in 1..=7 {
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.files_after(after.as_deref(), limit);
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = Some(last.path.clone());
            paged.extend(page.into_iter().map(|f| f.path));
        }
        assert_eq!(paged, all, "pages of {limit}");
    }
    assert!(store.files_after(None, 0).is_empty());
    assert_eq!(store.files_after(Some("/b"), 10)[0].path, "/c");
}

#[test]
fn reused_buffers_hold_exactly_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 64, 100)).unwrap();
    let key = FileKey::new("/r", "1", 64 * 2 + 5);
    for i in 0..3 {
        put(&store, &key, i);
    }
    // A buffer with more room than the short last page, and stale content.
    let mut buf = vec![0xee; 4096];
    assert!(store.get_page_into(&key, 2, &mut buf).unwrap().is_some());
    assert_eq!(buf, data(&key, 2, 64));
    assert!(store.get_page_into(&key, 0, &mut buf).unwrap().is_some());
    assert_eq!(buf, data(&key, 0, 64));
    let other = FileKey::new("/r", "2", 64 * 2 + 5);
    assert_eq!(store.get_page_into(&other, 0, &mut buf).unwrap(), None);
    assert!(buf.is_empty());
    // A page file with bytes after its payload is damaged, even when the
    // buffer has room for them.
    let path = page_file(&store, &key, 2);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(b"trailing");
    fs::write(&path, &bytes).unwrap();
    let mut buf = Vec::with_capacity(4096);
    assert_eq!(store.get_page_into(&key, 2, &mut buf).unwrap(), None);
    assert!(buf.is_empty());
    assert_eq!(store.stats().checksum_failures_total, 1);
}

/// Writes a file back and drops it from the OS page cache.
fn drop_cached(path: &Path) -> fs::File {
    let file = fs::File::open(path).unwrap();
    file.sync_all().unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    file
}

/// What a read that must not wait (`RWF_NOWAIT`) makes of a scratch file on
/// the file system of the tests' temporary directories: `None` if it cannot
/// even read one the OS page cache holds, else whether it can tell that the
/// file, once dropped from the cache, would come from the disk.
fn reads_tell_the_disk() -> Option<bool> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe");
    fs::write(&path, [1u8; 4096]).unwrap();
    let nowait = |file: &fs::File| {
        rustix::io::preadv2(
            file,
            &mut [std::io::IoSliceMut::new(&mut [0u8; 1])],
            0,
            rustix::io::ReadWriteFlags::NOWAIT,
        )
    };
    nowait(&fs::File::open(&path).unwrap()).ok()?;
    Some(matches!(
        nowait(&drop_cached(&path)),
        Err(rustix::io::Errno::AGAIN)
    ))
}

#[test]
fn pages_in_memory_are_read_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 4096, 10)).unwrap();
    let key = FileKey::new("/m", "1", 4096 + 100);
    put(&store, &key, 0);
    put(&store, &key, 1);
    // Where reads cannot skip the disk (an old kernel, a file system without
    // `RWF_NOWAIT`), every page falls through to the read that may wait.
    let Some(told) = reads_tell_the_disk() else {
        let mut buf = Vec::new();
        let left = store.get_page_from_memory(&key, 0, &mut buf).unwrap_err();
        assert!(
            store
                .get_page_left(left, &key, 0, &mut buf)
                .unwrap()
                .is_some()
        );
        return;
    };
    // Over a reused buffer's bytes, which must not show through.
    let mut buf = vec![0xee; 4096];
    assert!(store.get_page_from_memory(&key, 0, &mut buf).is_ok());
    assert_eq!(buf, data(&key, 0, 4096));
    let mut buf = vec![0xee; 4096];
    assert!(store.get_page_from_memory(&key, 1, &mut buf).is_ok());
    assert_eq!(buf, data(&key, 1, 4096));
    assert_eq!(store.stats().hits_total, 2);
    // Not cached: nothing to read, and nothing counted (the read it is
    // left to counts the miss).
    let other = FileKey::new("/m", "2", 4096);
    let left = store.get_page_from_memory(&other, 0, &mut buf).unwrap_err();
    assert!(buf.is_empty());
    assert_eq!(
        store.get_page_left(left, &other, 0, &mut buf).unwrap(),
        None
    );
    assert_eq!(store.stats().misses_total, 1);
    // On the disk only: left to the read that may wait, and counted as read
    // from the disk, though asking for the header set the kernel reading it
    // (by the time the page is read it may be in memory again).
    if told {
        let mut sources = Vec::new();
        while sources.last() != Some(&PageSource::Disk) && sources.len() < 3 {
            drop_cached(&page_file(&store, &key, 0));
            let mut buf = vec![0xee; 4096];
            let Err(left) = store.get_page_from_memory(&key, 0, &mut buf) else {
                sources.push(PageSource::OsCache);
                continue;
            };
            assert!(buf.is_empty());
            std::thread::sleep(std::time::Duration::from_millis(50));
            sources.push(
                store
                    .get_page_left(left, &key, 0, &mut buf)
                    .unwrap()
                    .unwrap(),
            );
            assert_eq!(buf, data(&key, 0, 4096));
        }
        assert_eq!(sources.last(), Some(&PageSource::Disk), "{sources:?}");
        let disk_hits = sources.iter().filter(|s| **s == PageSource::Disk).count();
        assert_eq!(store.stats().disk_hits_total, disk_hits as u64);
    }
    // Damaged: not served, and left for the read that may wait to find,
    // count and delete.
    let path = page_file(&store, &key, 1);
    let mut bytes = fs::read(&path).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    fs::write(&path, &bytes).unwrap();
    let hits = store.stats().hits_total;
    let left = store.get_page_from_memory(&key, 1, &mut buf).unwrap_err();
    assert_eq!(store.stats().checksum_failures_total, 0);
    assert_eq!(store.get_page_left(left, &key, 1, &mut buf).unwrap(), None);
    assert_eq!(store.stats().checksum_failures_total, 1);
    assert_eq!(store.stats().hits_total, hits);
    assert!(!path.exists());
}

#[test]
fn pages_tell_whether_they_came_from_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 4096, 10)).unwrap();
    let key = FileKey::new("/d", "1", 4096);
    put(&store, &key, 0);
    let mut buf = Vec::new();
    assert_eq!(
        store.get_page_into(&key, 0, &mut buf).unwrap(),
        Some(PageSource::OsCache)
    );
    // Written back and then dropped from the OS page cache, the page file
    // can only be read from the disk, where the file system lets the two be
    // told apart (not tmpfs, say). The kernel may keep a page that is busy
    // at the moment it is told to drop it, hence a few tries.
    let told = reads_tell_the_disk() == Some(true);
    let expected = if told {
        PageSource::Disk
    } else {
        PageSource::OsCache
    };
    let mut sources = Vec::new();
    while sources.last() != Some(&expected) && sources.len() < 3 {
        drop_cached(&page_file(&store, &key, 0));
        sources.push(store.get_page_into(&key, 0, &mut buf).unwrap().unwrap());
    }
    assert_eq!(sources.last(), Some(&expected), "{sources:?}");
    assert_eq!(buf, data(&key, 0, 4096));
    assert_eq!(
        store.get_page_into(&key, 0, &mut buf).unwrap(),
        Some(PageSource::OsCache)
    );
    let stats = store.stats();
    assert_eq!(stats.hits_total, 2 + sources.len() as u64);
    let from_disk = sources.iter().filter(|s| **s == PageSource::Disk).count();
    assert_eq!(stats.disk_hits_total, from_disk as u64);
}

#[test]
fn bad_pages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    let key = FileKey::new("/a", "1", 20);
    let error = store.put_page(&key, 2, &[0; 8]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "page 2 of /a has 8 bytes, expected 4 (pages are 8 bytes; only a file's last page is shorter)"
    );
    let error = store.put_page(&key, 3, &[0; 8]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "page 3 is out of range for /a: its 20 bytes make 3 pages of 8 bytes, so expected an index below 3"
    );
    assert!(store.get_page(&key, 3).is_err());
    assert!(store.get_page(&key, u64::MAX).is_err());
    let empty = FileKey::new("/e", "1", 0);
    assert!(store.put_page(&empty, 0, &[]).is_err());
    let long = FileKey::new("/l".repeat(10_000), "1", 8);
    assert!(matches!(
        store.put_page(&long, 0, &[0; 8]),
        Err(PageStoreError::KeyTooLong { .. })
    ));
    // Too many pages for one file at this page size.
    let huge = FileKey::new("/h", "1", u64::MAX);
    assert!(store.put_page(&huge, 1 << 33, &[0; 8]).is_err());
    assert_eq!(store.get_page(&huge, 1 << 33).unwrap(), None);
    assert_eq!(store.stats().pages, 0);
    assert!(store.files().is_empty());
}

#[test]
fn each_evictor_evicts_in_its_order_between_the_watermarks() {
    // 10 pages of capacity: high watermark 9 pages, low 8.
    for kind in EvictorKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let mut options = options(dir.path(), 4, 10);
        options.evictor = kind;
        let store = PageStore::open(options).unwrap();
        let key = FileKey::new("/f", "v", 4 * 100);
        for i in 0..9 {
            put(&store, &key, i);
        }
        assert_eq!(store.stats().used_bytes, 36);
        // Read page 0 three times, page 1 once, page 2 twice.
        for i in [0, 0, 0, 1, 2, 2] {
            assert!(store.get_page(&key, i).unwrap().is_some());
        }
        // Page 9 would pass 9 pages: evict down to 8 including it.
        put(&store, &key, 9);
        let stats = store.stats();
        assert_eq!(stats.evictions_total, 2, "{kind}");
        assert_eq!(stats.used_bytes, 32, "{kind}");
        let left = cached_pages(&store, &key);
        let expected: &[u64] = match kind {
            EvictorKind::Fifo => &[2, 3, 4, 5, 6, 7, 8, 9],
            EvictorKind::Lru => &[0, 1, 2, 5, 6, 7, 8, 9],
            EvictorKind::Lfu => &[0, 1, 2, 5, 6, 7, 8, 9],
        };
        assert_eq!(left, expected, "{kind}");
        // The evicted pages are gone from disk too.
        assert_eq!(files_under(&dir.path().join("pages")).len(), 8, "{kind}");

        // One more round tells LRU from LFU: after reads of 5, 6 and 7, LRU
        // drops 8 and 0 (read longest ago) while LFU keeps 0 (read three
        // times) and drops 8 and 9 (never read).
        for i in [5, 6, 7] {
            assert!(store.get_page(&key, i).unwrap().is_some());
        }
        put(&store, &key, 10);
        put(&store, &key, 11);
        let left = cached_pages(&store, &key);
        let expected: &[u64] = match kind {
            EvictorKind::Fifo => &[4, 5, 6, 7, 8, 9, 10, 11],
            EvictorKind::Lru => &[1, 2, 5, 6, 7, 9, 10, 11],
            EvictorKind::Lfu => &[0, 1, 2, 5, 6, 7, 10, 11],
        };
        assert_eq!(left, expected, "{kind}");
        assert!(store.stats().used_bytes <= 40);
    }
}

#[test]
fn corrupted_page_is_deleted_and_refetched() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 16, 100)).unwrap();
    let key = FileKey::new("/data/x", "1", 40);
    for i in 0..3 {
        put(&store, &key, i);
    }
    // Flip one payload byte of page 1 on disk.
    let path = page_file(&store, &key, 1);
    let mut bytes = fs::read(&path).unwrap();
    bytes[HEADER_LEN + 5] ^= 0x20;
    fs::write(&path, &bytes).unwrap();

    assert_eq!(store.get_page(&key, 1).unwrap(), None);
    let stats = store.stats();
    assert_eq!(stats.checksum_failures_total, 1);
    assert_eq!(stats.pages, 2);
    assert!(!path.exists());
    assert_eq!(store.cached_bytes("/data/x"), 16 + 8);
    // The caller refetches and puts it back.
    put(&store, &key, 1);
    assert_eq!(store.get_page(&key, 1).unwrap(), Some(data(&key, 1, 16)));

    // A damaged header is caught the same way, and so is a truncated page.
    let path = page_file(&store, &key, 0);
    let mut bytes = fs::read(&path).unwrap();
    bytes[30] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert_eq!(store.get_page(&key, 0).unwrap(), None);
    let path = page_file(&store, &key, 2);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert_eq!(store.get_page(&key, 2).unwrap(), None);
    assert_eq!(store.stats().checksum_failures_total, 3);
    assert_eq!(cached_pages(&store, &key), vec![1]);

    // A page deleted behind the store's back is a miss and leaves the index.
    fs::remove_file(page_file(&store, &key, 1)).unwrap();
    assert_eq!(store.get_page(&key, 1).unwrap(), None);
    let stats = store.stats();
    assert_eq!(stats.lost_pages_total, 1);
    assert_eq!(stats.pages, 0);
    assert_eq!(stats.used_bytes, 0);
    assert!(store.files().is_empty());
    assert!(files_under(&dir.path().join("meta")).is_empty());
}

#[test]
fn restart_keeps_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<FileKey> = (0..5)
        .map(|f| FileKey::new(format!("/d/{f}"), format!("v{f}"), 10 + f * 7))
        .collect();
    let before = {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        for key in &keys {
            for i in 0..page_count(key.len(), 8) {
                if (i + key.len()) % 3 != 0 {
                    put(&store, key, i);
                }
            }
        }
        let mut files = store.files();
        files.sort();
        (files, store.stats())
    };
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    let mut files = store.files();
    files.sort();
    assert_eq!(files, before.0);
    let stats = store.stats();
    assert_eq!(stats.pages, before.1.pages);
    assert_eq!(stats.used_bytes, before.1.used_bytes);
    for key in &keys {
        for i in 0..page_count(key.len(), 8) {
            let cached = (i + key.len()) % 3 != 0;
            let got = store.get_page(key, i).unwrap();
            assert_eq!(
                got,
                cached.then(|| data(key, i, 8)),
                "{} page {i}",
                key.path()
            );
        }
    }
}

#[test]
fn restart_orders_eviction_by_write_time() {
    let dir = tempfile::tempdir().unwrap();
    let key = FileKey::new("/f", "v", 4 * 100);
    {
        let store = PageStore::open(options(dir.path(), 4, 10)).unwrap();
        // Write 0..8 in reverse so index order and write order differ.
        for i in (0..8).rev() {
            put(&store, &key, i);
            // Modification times come from a coarse clock.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let store = PageStore::open(options(dir.path(), 4, 10)).unwrap();
    put(&store, &key, 8);
    put(&store, &key, 9);
    // 10 pages pass the high watermark: the two written first (7, 6) go.
    assert_eq!(cached_pages(&store, &key), vec![0, 1, 2, 3, 4, 5, 8, 9]);
}

#[test]
fn tenants_get_quotas_and_ttls_and_keep_cache_times_across_a_restart() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let rules = vec![
        TenantRule {
            name: "team-a".into(),
            prefixes: vec!["/data/a".into()],
            quota_bytes: Some(3 * 8),
            ttl: Some(Duration::from_secs(3600)),
            evictor: EvictorKind::Fifo,
        },
        TenantRule {
            name: "team-b".into(),
            prefixes: vec!["/data/b".into()],
            quota_bytes: None,
            ttl: None,
            evictor: EvictorKind::Lru,
        },
    ];
    let (a, b) = (
        FileKey::new("/data/a/x", "v", 8 * 5),
        FileKey::new("/data/b/y", "v", 8 * 5),
    );
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        store.set_tenants(rules.clone()).unwrap();
        for i in 0..5 {
            put(&store, &a, i);
            put(&store, &b, i);
        }
        assert_eq!(
            cached_pages(&store, &a),
            vec![2, 3, 4],
            "a keeps to its quota"
        );
        assert_eq!(cached_pages(&store, &b), vec![0, 1, 2, 3, 4]);
        let stats = store.tenant_stats();
        assert_eq!(
            stats
                .iter()
                .map(|t| (t.used_bytes, t.quota_evictions_total))
                .collect::<Vec<_>>(),
            vec![(24, 2), (40, 0)]
        );
        assert_eq!(
            store.expire(SystemTime::now()).pages,
            0,
            "nothing is an hour old"
        );
    }
    // A restart forgets the rules until the worker sets them again; the
    // pages' cache times come back from disk.
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    assert!(store.tenant_stats().is_empty());
    let bad = TenantRule {
        prefixes: vec!["data/a".into()],
        ..rules[0].clone()
    };
    let error = store.set_tenants(vec![bad]).unwrap_err().to_string();
    assert!(
        error.contains("team-a") && error.contains("absolute"),
        "{error}"
    );
    store.set_tenants(rules).unwrap();
    assert_eq!(store.tenant_stats()[0].used_bytes, 24);
    let later = SystemTime::now() + Duration::from_secs(3601);
    let expired = store.expire(later);
    assert_eq!((expired.pages, expired.bytes), (3, 24));
    assert_eq!(cached_pages(&store, &a), Vec::<u64>::new());
    assert_eq!(cached_pages(&store, &b).len(), 5, "team-b has no ttl");
    assert_eq!(store.stats().expired_pages_total, 3);
    assert!(
        (0..5).all(|i| !page_file(&store, &a, i).exists()),
        "the expired pages are gone from disk"
    );
}

#[test]
fn crash_leftovers_are_cleaned_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let good = FileKey::new("/good", "1", 24);
    let orphan = FileKey::new("/orphan", "1", 8);
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        for i in 0..3 {
            put(&store, &good, i);
        }
        put(&store, &orphan, 0);
    }
    let root = dir.path();
    // A write cut short before its rename.
    fs::write(root.join("tmp/17.tmp"), b"half a page").unwrap();
    // A page renamed into place but truncated (no fsync before a crash).
    let truncated = root.join(RelPath::page(good.id(), 1).as_str());
    let bytes = fs::read(&truncated).unwrap();
    fs::write(&truncated, &bytes[..HEADER_LEN + 3]).unwrap();
    // A page whose payload checksum is wrong is kept by a plain open (only
    // headers are read) but dropped by a verifying one; see below.
    let damaged = root.join(RelPath::page(good.id(), 2).as_str());
    let mut bytes = fs::read(&damaged).unwrap();
    bytes[HEADER_LEN] ^= 1;
    fs::write(&damaged, &bytes).unwrap();
    // A page without a metadata record (the record never reached the disk).
    fs::remove_file(root.join(RelPath::meta(orphan.id()).as_str())).unwrap();
    // A record without pages, and stray names.
    let lonely = FileKey::new("/lonely", "1", 8);
    let record = MetaRecord {
        path: "/lonely".into(),
        version: "1".into(),
        len: 8,
        page_size: 8,
    };
    fs::write(
        root.join(RelPath::meta(lonely.id()).as_str()),
        record.encode(),
    )
    .unwrap();
    fs::write(root.join("pages/00/not-a-page"), b"x").unwrap();
    fs::write(root.join("meta/00/garbage"), b"x").unwrap();
    // A record with a bad checksum.
    let bad = FileKey::new("/bad", "1", 8);
    let mut record = MetaRecord {
        path: "/bad".into(),
        version: "1".into(),
        len: 8,
        page_size: 8,
    }
    .encode();
    record[10] ^= 1;
    fs::write(root.join(RelPath::meta(bad.id()).as_str()), record).unwrap();
    // Something that is not ours at the top level is left alone.
    fs::write(root.join("README"), b"not ours").unwrap();

    let store = PageStore::open(options(root, 8, 100)).unwrap();
    assert_eq!(cached_pages(&store, &good), vec![0, 2]);
    assert!(store.cached_file("/orphan").is_none());
    assert!(store.cached_file("/lonely").is_none());
    assert_eq!(store.files().len(), 1);
    assert!(files_under(&root.join("tmp")).is_empty());
    let pages = files_under(&root.join("pages"));
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(files_under(&root.join("meta")).len(), 1);
    assert!(root.join("README").exists());
    // The damaged payload is caught when read.
    assert_eq!(store.get_page(&good, 2).unwrap(), None);
    assert_eq!(store.stats().checksum_failures_total, 1);
    drop(store);

    // With verification on open, damage is found without a read.
    let path = root.join(RelPath::page(good.id(), 0).as_str());
    let mut bytes = fs::read(&path).unwrap();
    bytes[HEADER_LEN + 1] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let mut verifying = options(root, 8, 100);
    verifying.verify_checksums_on_open = true;
    let store = PageStore::open(verifying).unwrap();
    assert_eq!(store.stats().pages, 0);
    assert!(store.files().is_empty());
    assert!(files_under(&root.join("meta")).is_empty());
}

#[test]
fn unknown_format_versions_are_refused_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let key = FileKey::new("/f", "1", 16);
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        put(&store, &key, 0);
        put(&store, &key, 1);
    }
    let page = dir.path().join(RelPath::page(key.id(), 1).as_str());
    let original = fs::read(&page).unwrap();
    let mut future = original.clone();
    future[4] = 2;
    fs::write(&page, &future).unwrap();
    let error = PageStore::open(options(dir.path(), 8, 100)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            PageStoreError::UnsupportedFormat {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains(page.to_str().unwrap()), "{message}");
    assert!(
        message.contains("is in page store format version 2, but this build reads only version 1")
    );
    assert_eq!(fs::read(&page).unwrap(), future);
    assert_eq!(files_under(&dir.path().join("pages")).len(), 2);

    fs::write(&page, &original).unwrap();
    let meta = dir.path().join(RelPath::meta(key.id()).as_str());
    let mut record = fs::read(&meta).unwrap();
    record[4] = 7;
    fs::write(&meta, &record).unwrap();
    let error = PageStore::open(options(dir.path(), 8, 100)).unwrap_err();
    assert!(
        matches!(error, PageStoreError::UnsupportedFormat { found: 7, .. }),
        "{error}"
    );
    assert_eq!(files_under(&dir.path().join("pages")).len(), 2);
    record[4] = 1;
    fs::write(&meta, &record).unwrap();
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    assert_eq!(store.cached_bytes("/f"), 16);
}

#[test]
fn refuses_to_open_without_disk_space() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 1 << 20, 1024);
    opts.reserved_size = 64 << 20;
    let error = PageStore::open_with_free_space(opts.clone(), |_| Ok(512 << 20)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "page store {} needs 1.1 GiB (1140850688 bytes) (1.0 GiB (1073741824 bytes) \
             ringside.worker.pagestore.size + 64.0 MiB (67108864 bytes) \
             ringside.worker.pagestore.reserved.size) but its disk has only 512.0 MiB \
             (536870912 bytes) available (512.0 MiB (536870912 bytes) free + 0 bytes already \
             held by the store): lower ringside.worker.pagestore.size or \
             ringside.worker.pagestore.reserved.size, or point ringside.worker.pagestore.dir at \
             a disk with more free space",
            dir.path().display()
        )
    );
    // What the store already holds counts as available.
    {
        let store = PageStore::open(options(dir.path(), 1 << 20, 1024)).unwrap();
        let key = FileKey::new("/f", "1", 4 << 20);
        for i in 0..4 {
            put(&store, &key, i);
        }
    }
    let held: u64 = files_under(dir.path())
        .iter()
        .filter(|p| !p.ends_with("lock") && !p.ends_with("ringside-pagestore"))
        .map(|p| std::os::unix::fs::MetadataExt::blocks(&fs::metadata(p).unwrap()) * 512)
        .sum();
    let exact = opts.size + opts.reserved_size - held;
    assert!(PageStore::open_with_free_space(opts.clone(), |_| Ok(exact)).is_ok());
    assert!(PageStore::open_with_free_space(opts.clone(), |_| Ok(exact - 1)).is_err());

    // And on the real disk, a size no disk has.
    let mut huge = options(dir.path(), 1 << 20, 1);
    huge.size = 1 << 62;
    let error = PageStore::open(huge).unwrap_err();
    assert!(
        matches!(error, PageStoreError::InsufficientSpace { .. }),
        "{error}"
    );
}

#[test]
fn full_disk_evicts_then_gives_up_without_failing_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    let key = FileKey::new("/f", "1", 80);
    for i in 0..4 {
        put(&store, &key, i);
    }
    // The next write hits ENOSPC once: the store evicts and retries.
    store.disk().fail_writes.store(1, Ordering::SeqCst);
    put(&store, &key, 4);
    let stats = store.stats();
    assert_eq!(stats.evictions_total, 2);
    assert_eq!(stats.disk_full_total, 0);
    assert_eq!(cached_pages(&store, &key), vec![2, 3, 4]);

    // A disk that stays full: the put fails with a typed error...
    store.disk().fail_writes.store(2, Ordering::SeqCst);
    let error = store.put_page(&key, 5, &data(&key, 5, 8)).unwrap_err();
    assert!(error.is_out_of_space(), "{error}");
    assert!(matches!(error, PageStoreError::DiskFull { .. }));
    assert!(error.to_string().contains("serve it from the ufs"));
    let stats = store.stats();
    assert_eq!(stats.disk_full_total, 1);
    // ...nothing is half-written, and the accounting is intact.
    assert!(files_under(&dir.path().join("tmp")).is_empty());
    assert_eq!(stats.used_bytes, 8 * stats.pages);
    assert_eq!(
        files_under(&dir.path().join("pages")).len() as u64,
        stats.pages
    );
    // Reads go on, and so do puts once there is room.
    for i in cached_pages(&store, &key) {
        assert_eq!(store.get_page(&key, i).unwrap(), Some(data(&key, i, 8)));
    }
    put(&store, &key, 5);
    assert!(store.has_page(&key, 5));

    // A first page of a new file that fails leaves no record behind.
    let fresh = FileKey::new("/fresh", "1", 8);
    store.disk().fail_writes.store(10, Ordering::SeqCst);
    assert!(
        store
            .put_page(&fresh, 0, &data(&fresh, 0, 8))
            .unwrap_err()
            .is_out_of_space()
    );
    store.disk().fail_writes.store(0, Ordering::SeqCst);
    assert!(store.cached_file("/fresh").is_none());
    assert!(!dir.path().join(RelPath::meta(fresh.id()).as_str()).exists());
}

#[test]
fn page_size_change_drops_the_old_pages() {
    let dir = tempfile::tempdir().unwrap();
    let key = FileKey::new("/f", "1", 16);
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        put(&store, &key, 0);
    }
    let store = PageStore::open(options(dir.path(), 16, 100)).unwrap();
    assert_eq!(store.stats().pages, 0);
    assert!(files_under(&dir.path().join("pages")).is_empty());
    assert!(files_under(&dir.path().join("meta")).is_empty());
}

#[test]
fn smaller_capacity_on_reopen_evicts_to_the_low_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let key = FileKey::new("/f", "1", 8 * 50);
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        for i in 0..50 {
            put(&store, &key, i);
        }
    }
    let store = PageStore::open(options(dir.path(), 8, 20)).unwrap();
    let stats = store.stats();
    assert_eq!(stats.used_bytes, 8 * 16);
    assert_eq!(stats.evictions_total, 34);
    assert_eq!(files_under(&dir.path().join("pages")).len(), 16);
}

#[test]
fn lowered_watermarks_evict_at_once_and_bad_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = FileKey::new("/f", "1", 8 * 50);
    // 100 pages of 8 bytes; the default watermarks keep at most 90.
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    for i in 0..50 {
        put(&store, &key, i);
    }
    assert_eq!(store.stats().evictions_total, 0);
    // High 0.4 (320 bytes) is passed: down to low 0.2 (160 bytes).
    store.set_watermarks(0.4, 0.2).unwrap();
    assert_eq!(store.stats().used_bytes, 8 * 20);
    assert_eq!(files_under(&dir.path().join("pages")).len(), 20);
    for (high, low) in [(0.5, 0.6), (1.5, 0.5), (f64::NAN, 0.1), (0.5, 0.0)] {
        assert!(store.set_watermarks(high, low).is_err(), "{high} {low}");
    }
    // Still the 0.4 one: filling goes up to 40 pages, then evicts to 20.
    for i in 20..45 {
        put(&store, &key, i);
    }
    assert!(store.stats().used_bytes <= 8 * 40);
}

#[test]
fn concurrent_readers_and_writers_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 64, 40);
    opts.sync_writes = false;
    let store = Arc::new(PageStore::open(opts.clone()).unwrap());
    let keys: Arc<Vec<FileKey>> = Arc::new(
        (0..6)
            .map(|f| FileKey::new(format!("/c/{f}"), format!("v{}", f % 2), 64 * 12 + f))
            .collect(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            let keys = Arc::clone(&keys);
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                for step in 0..600u64 {
                    let key = &keys[((step * 7 + t) % 6) as usize];
                    let index = (step * 5 + t * 3) % page_count(key.len(), 64);
                    match step % 5 {
                        0 | 1 => put(&store, key, index),
                        2 | 3 => {
                            if store.get_page_into(key, index, &mut buf).unwrap().is_some() {
                                assert_eq!(buf, data(key, index, 64));
                            }
                        }
                        _ if step % 50 == 4 => {
                            store.remove_file(key.path()).unwrap();
                        }
                        _ => {
                            let _ = store.cached_bytes(key.path());
                        }
                    }
                    assert!(store.stats().used_bytes <= 64 * 40);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = store.stats();
    assert_eq!(
        files_under(&dir.path().join("pages")).len() as u64,
        stats.pages
    );
    assert_eq!(
        files_under(&dir.path().join("meta")).len() as u64,
        stats.files
    );
    let sum: u64 = store.files().iter().map(|f| f.cached_bytes).sum();
    assert_eq!(sum, stats.used_bytes);
    let mut before = store.files();
    before.sort();
    drop(store);
    let store = PageStore::open(opts).unwrap();
    let mut after = store.files();
    after.sort();
    assert_eq!(before, after);
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<PageStore>();
    check::<PageStoreError>();
}

/// One step of a random workload over 3 paths, 2 versions each.
#[derive(Clone, Debug)]
enum Op {
    Put {
        file: usize,
        version: usize,
        index: u64,
    },
    Get {
        file: usize,
        version: usize,
        index: u64,
    },
    Remove {
        file: usize,
    },
    Corrupt {
        file: usize,
        version: usize,
        index: u64,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3usize, 0..2usize, 0..4u64).prop_map(|(file, version, index)| Op::Put { file, version, index }),
        4 => (0..3usize, 0..2usize, 0..4u64).prop_map(|(file, version, index)| Op::Get { file, version, index }),
        1 => (0..3usize).prop_map(|file| Op::Remove { file }),
        1 => (0..3usize, 0..2usize, 0..4u64).prop_map(|(file, version, index)| Op::Corrupt { file, version, index }),
        1 => Just(Op::Reopen),
    ]
}

/// Each path has a different length per version: 13 or 9 bytes, so 4 or 3
/// pages of 4 bytes.
fn prop_key(file: usize, version: usize) -> FileKey {
    FileKey::new(
        format!("/p/{file}"),
        format!("v{version}"),
        [13, 9][version],
    )
}

fn snapshot(store: &PageStore) -> (Vec<crate::CachedFile>, BTreeSet<(String, u64)>) {
    let mut files = store.files();
    files.sort();
    let mut pages = BTreeSet::new();
    for file in &files {
        let key = file.key();
        for i in cached_pages(store, &key) {
            pages.insert((file.path.clone(), i));
        }
    }
    (files, pages)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn random_workloads_never_serve_wrong_bytes(
        ops in prop::collection::vec(op(), 1..40),
        evictor in prop::sample::select(EvictorKind::ALL.to_vec()),
        capacity_pages in 2..8u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(dir.path(), 4, capacity_pages);
        opts.evictor = evictor;
        opts.sync_writes = false;
        let mut store = PageStore::open(opts.clone()).unwrap();
        // The model: which version of each path may be cached. Pages of any
        // other version must never be served.
        let mut current: BTreeMap<usize, usize> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put { file, version, index } => {
                    let key = prop_key(file, version);
                    if index >= page_count(key.len(), 4) {
                        prop_assert!(store.put_page(&key, index, &[0; 4]).is_err());
                        continue;
                    }
                    store.put_page(&key, index, &data(&key, index, 4)).unwrap();
                    current.insert(file, version);
                    prop_assert!(store.has_page(&key, index));
                    let other = prop_key(file, 1 - version);
                    prop_assert!(cached_pages(&store, &other).is_empty());
                    prop_assert!(store.stats().used_bytes <= opts.size);
                }
                Op::Get { file, version, index } => {
                    let key = prop_key(file, version);
                    if index >= page_count(key.len(), 4) {
                        prop_assert!(store.get_page(&key, index).is_err());
                        continue;
                    }
                    if let Some(bytes) = store.get_page(&key, index).unwrap() {
                        prop_assert_eq!(bytes, data(&key, index, 4));
                        prop_assert_eq!(current.get(&file), Some(&version));
                    }
                }
                Op::Remove { file } => {
                    store.remove_file(&format!("/p/{file}")).unwrap();
                    current.remove(&file);
                    prop_assert_eq!(store.cached_bytes(&format!("/p/{file}")), 0);
                }
                Op::Corrupt { file, version, index } => {
                    let key = prop_key(file, version);
                    let Ok(page) = u32::try_from(index) else { continue };
                    let path = page_file(&store, &key, page);
                    if let Ok(mut bytes) = fs::read(&path) {
                        let at = bytes.len() - 1;
                        bytes[at] ^= 0xff;
                        fs::write(&path, &bytes).unwrap();
                        prop_assert_eq!(store.get_page(&key, index).unwrap(), None);
                        prop_assert!(!store.has_page(&key, index));
                    }
                }
                Op::Reopen => {
                    let before = snapshot(&store);
                    let stats = store.stats();
                    drop(store);
                    store = PageStore::open(opts.clone()).unwrap();
                    prop_assert_eq!(snapshot(&store), before);
                    prop_assert_eq!(store.stats().used_bytes, stats.used_bytes);
                }
            }
            // The index and the disk agree after every step.
            let stats = store.stats();
            prop_assert!(stats.used_bytes <= opts.size);
            let sum: u64 = store.files().iter().map(|f| f.cached_bytes).sum();
            prop_assert_eq!(sum, stats.used_bytes);
            prop_assert_eq!(files_under(&dir.path().join("pages")).len() as u64, stats.pages);
            prop_assert_eq!(files_under(&dir.path().join("meta")).len() as u64, stats.files);
        }
    }

    #[test]
    fn headers_and_records_never_panic_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut header = [0u8; HEADER_LEN];
        let n = bytes.len().min(HEADER_LEN);
        header[..n].copy_from_slice(&bytes[..n]);
        let _ = PageHeader::decode(&header);
        let _ = MetaRecord::decode(&bytes);
        let _ = crate::format::parse_marker(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = crate::format::parse_page_name(&text);
        let _ = crate::format::parse_meta_name(&text);
    }
}

#[test]
fn opening_never_panics_on_garbage_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = FileKey::new("/f", "1", 16);
    {
        let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
        put(&store, &key, 0);
        put(&store, &key, 1);
    }
    // Random bytes under valid names, of every length around the header.
    for (n, len) in [0usize, 1, 63, 64, 65, 72, 200].into_iter().enumerate() {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + n) as u8).collect();
        let other = FileKey::new(format!("/j{n}"), "1", 8);
        fs::write(
            dir.path().join(RelPath::page(other.id(), 0).as_str()),
            &junk,
        )
        .unwrap();
        fs::write(dir.path().join(RelPath::meta(other.id()).as_str()), &junk).unwrap();
    }
    let page = dir.path().join(RelPath::page(key.id(), 0).as_str());
    let mut bytes = fs::read(&page).unwrap();
    bytes.truncate(HEADER_LEN);
    fs::write(&page, &bytes).unwrap();
    let store = PageStore::open(options(dir.path(), 8, 100)).unwrap();
    assert_eq!(cached_pages(&store, &key), vec![1]);
    assert_eq!(store.files().len(), 1);
}
