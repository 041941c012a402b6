//! Resident memory of a page store that indexes a million pages.
//!
//! A worker must stay under 200 MiB RSS with 1,000,000 cached pages indexed.
//! This test builds such a store through the real code paths and fails when
//! either one grows the process by more than 200 MiB:
//!
//! 1. `put_page` of every page into a fresh store (this process), then
//! 2. `PageStore::open` of the same directory in a fresh process (the
//!    `reopen_child` test, run by this one), which rebuilds the index by
//!    scanning every page header on disk.
//!
//! Creating a million 1 MiB pages would need a terabyte, so pages are 16
//! bytes: the index holds the same entries whatever the page size. Writes
//! skip `fdatasync` (`sync_writes: false`) and the directory defaults to
//! /dev/shm (tmpfs) when there is one, because this machine's disk creates
//! files at about 300 us each; set `RINGSIDE_PAGESTORE_INDEX_DIR` to measure
//! elsewhere. `RINGSIDE_PAGESTORE_INDEX_PAGES` (default 1,000,000) and
//! `RINGSIDE_PAGESTORE_INDEX_FILES` (default 10,000) change the shape.
//!
//! Run with `--nocapture` to see the report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ringside_pagestore::{FileKey, Options, PageStore};

const PAGE_SIZE: u64 = 16;
const LIMIT: u64 = 200 << 20;
const CHILD_DIR: &str = "RINGSIDE_PAGESTORE_INDEX_CHILD_DIR";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A `/proc/self/status` field in bytes (`VmRSS`, `VmHWM`).
fn vm(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn shape() -> (u64, u64, u64) {
    let pages = env_u64("RINGSIDE_PAGESTORE_INDEX_PAGES", 1_000_000);
    let files = env_u64("RINGSIDE_PAGESTORE_INDEX_FILES", 10_000).clamp(1, pages);
    (pages, files, pages / files)
}

/// Realistic names: a dataset path and a size-mtime version.
fn key(file: u64, pages_per_file: u64) -> FileKey {
    let len = pages_per_file * PAGE_SIZE;
    FileKey::new(
        format!("/datasets/imagenet/train/shard-{file:06}.tfrecord"),
        format!("{len}-{}", 1_714_412_345_000_000_000u64 + file),
        len,
    )
}

fn options(dir: &Path, pages: u64) -> Options {
    let mut options = Options::new(dir);
    options.page_size = PAGE_SIZE;
    // Room for every page below the high watermark: nothing is evicted.
    options.size = pages * PAGE_SIZE * 2;
    options.reserved_size = 0;
    options.sync_writes = false;
    options
}

fn bench_root() -> PathBuf {
    if let Ok(dir) = std::env::var("RINGSIDE_PAGESTORE_INDEX_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

#[test]
fn million_pages_fit_in_200_mib() {
    let (_, files, per_file) = shape();
    let pages = files * per_file;
    let root = bench_root();
    let dir = tempfile::tempdir_in(&root).expect("temporary directory");

    let rss_before = vm("VmRSS");
    let started = Instant::now();
    let store = PageStore::open(options(dir.path(), pages)).expect("open");
    let payload = [0x5au8; PAGE_SIZE as usize];
    let mut raw_bytes = 0u64;
    for file in 0..files {
        let key = key(file, per_file);
        raw_bytes += key.path().len() as u64 + key.version().len() as u64 + 8;
        for index in 0..per_file {
            store.put_page(&key, index, &payload).expect("put");
        }
    }
    let put_secs = started.elapsed().as_secs_f64();
    let rss_put = vm("VmRSS");
    let stats = store.stats();
    assert_eq!(stats.pages, pages);
    assert_eq!(stats.evictions_total, 0);
    drop(store);

    // Physical lower bound: what the index must know, packed with nothing
    // else: per file its path, version and length; per page a 4-byte file
    // reference and a 4-byte page index.
    let lower_bound = raw_bytes + pages * 8;

    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "reopen_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .output()
        .expect("run the reopen child");
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "reopen child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| Some(l.split_once("REOPEN ")?.1))
        .unwrap_or_else(|| panic!("no report from the reopen child:\n{stdout}"));
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    let reopen_growth = field("rss_growth") as u64;
    let reopen_peak = field("peak_growth") as u64;
    let reopen_secs = field("secs");
    let heap = field("index_heap") as u64;

    let put_growth = rss_put.saturating_sub(rss_before);
    let per_page = |bytes: u64| bytes as f64 / pages as f64;
    println!();
    println!(
        "index memory: {pages} pages of {PAGE_SIZE} bytes in {files} files ({per_file} pages each), dir {}",
        root.display()
    );
    println!("| measure | MiB | bytes/page |");
    println!("| --- | ---: | ---: |");
    println!(
        "| physical lower bound (key + metadata) | {:.1} | {:.1} |",
        mib(lower_bound),
        per_page(lower_bound)
    );
    println!(
        "| index heap allocated (capacity, incl. untouched spare) | {:.1} | {:.1} |",
        mib(heap),
        per_page(heap)
    );
    println!(
        "| RSS growth after {pages} put_page calls | {:.1} | {:.1} |",
        mib(put_growth),
        per_page(put_growth)
    );
    println!(
        "| RSS growth after reopen (rescan) | {:.1} | {:.1} |",
        mib(reopen_growth),
        per_page(reopen_growth)
    );
    println!(
        "| peak RSS growth during reopen (VmHWM) | {:.1} | {:.1} |",
        mib(reopen_peak),
        per_page(reopen_peak)
    );
    println!(
        "put_page: {put_secs:.1} s ({:.1} us/page); reopen: {reopen_secs:.1} s ({:.1} us/page)",
        put_secs * 1e6 / pages as f64,
        reopen_secs * 1e6 / pages as f64
    );

    assert!(
        put_growth <= LIMIT,
        "indexing {pages} pages by put_page grew RSS by {:.1} MiB, over the 200 MiB budget",
        mib(put_growth)
    );
    assert!(
        reopen_peak <= LIMIT,
        "reopening {pages} pages grew RSS by up to {:.1} MiB on the way, over the 200 MiB budget",
        mib(reopen_peak)
    );
    assert!(
        reopen_growth <= LIMIT,
        "reopening {pages} pages grew RSS by {:.1} MiB, over the 200 MiB budget",
        mib(reopen_growth)
    );
}

/// The reopen half, in its own process so that nothing the put half
/// allocated is counted. Reports one `REOPEN key=value ...` line.
#[test]
#[ignore = "run by million_pages_fit_in_200_mib in a process of its own"]
fn reopen_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let (_, files, per_file) = shape();
    let pages = files * per_file;
    let rss_before = vm("VmRSS");
    let started = Instant::now();
    let store = PageStore::open(options(Path::new(&dir), pages)).expect("reopen");
    let secs = started.elapsed().as_secs_f64();
    let rss_after = vm("VmRSS");
    let hwm_after = vm("VmHWM");
    let stats = store.stats();
    assert_eq!(stats.pages, pages, "every page survives the reopen");
    assert_eq!(stats.files, files);
    let last = key(files - 1, per_file);
    assert_eq!(store.cached_bytes(last.path()), last.len());
    assert!(store.get_page(&last, per_file - 1).expect("get").is_some());
    println!(
        "REOPEN rss_growth={} peak_growth={} secs={secs:.3} index_heap={}",
        rss_after.saturating_sub(rss_before),
        hwm_after.saturating_sub(rss_before),
        stats.index_heap_bytes
    );
}
