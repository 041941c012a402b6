//! Throughput of `get_page` on cached 1 MiB pages against the physical
//! limit: `std::fs::read` of the same bytes, stored as plain files in the
//! same directory on the same disk.
//!
//! Both sides read warm data (the page cache holds it after the first
//! pass), so this measures what the store adds on top of reading a file:
//! an index lookup under the mutex, the header read and check, and the
//! xxh3-64 checksum of every page. Rounds interleave the methods and the
//! median round is reported.
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/target-pagestore cargo bench -j1 -p ringside-pagestore --bench get_page
//! ```
//!
//! `RINGSIDE_PAGESTORE_BENCH_DIR` picks the directory (default: the system
//! temporary directory), `RINGSIDE_PAGESTORE_BENCH_PAGES` the number of
//! 1 MiB pages (default 256), `RINGSIDE_PAGESTORE_BENCH_ROUNDS` the rounds
//! (default 9).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ringside_pagestore::{FileKey, MIB, Options, PageStore};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `read` over every page on `threads` threads; returns GiB/s.
fn timed(pages: u64, threads: u64, read: &(dyn Fn(u64) -> usize + Sync)) -> f64 {
    let started = Instant::now();
    let total: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (0..pages)
                        .filter(|i| i % threads == t)
                        .map(read)
                        .sum::<usize>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(total as u64, pages * MIB);
    total as f64 / started.elapsed().as_secs_f64() / (1u64 << 30) as f64
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or `--list` from a test
    // runner means "not me".
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let pages = env_u64("RINGSIDE_PAGESTORE_BENCH_PAGES", 256);
    let rounds = env_u64("RINGSIDE_PAGESTORE_BENCH_ROUNDS", 9).max(1);
    let root = std::env::var("RINGSIDE_PAGESTORE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = tempfile::tempdir_in(&root).expect("temporary directory");
    let mut options = Options::new(dir.path().join("store"));
    options.size = pages * MIB * 2;
    options.reserved_size = 0;
    let store = Arc::new(PageStore::open(options).expect("open"));
    let key = FileKey::new("/bench/file.bin", "v1", pages * MIB);
    let raw_dir = dir.path().join("raw");
    std::fs::create_dir(&raw_dir).expect("raw dir");
    let raw: Vec<PathBuf> = (0..pages)
        .map(|i| raw_dir.join(format!("page-{i}")))
        .collect();
    let mut put_secs = 0.0;
    for i in 0..pages {
        let data: Vec<u8> = (0..MIB).map(|b| (b * 31 + i * 7) as u8).collect();
        let started = Instant::now();
        store.put_page(&key, i, &data).expect("put");
        put_secs += started.elapsed().as_secs_f64();
        std::fs::write(&raw[i as usize], &data).expect("write raw");
    }

    let get_page = |i: u64| store.get_page(&key, i).unwrap().expect("cached").len();
    let get_page_into = |i: u64| {
        thread_local!(static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
        BUF.with_borrow_mut(|buf| {
            assert!(store.get_page_into(&key, i, buf).unwrap().is_some());
            buf.len()
        })
    };
    let fs_read = |i: u64| std::fs::read(&raw[i as usize]).unwrap().len();
    // What reading and checking a page costs at the least.
    let fs_read_hash = |i: u64| {
        let data = std::fs::read(&raw[i as usize]).unwrap();
        std::hint::black_box(xxhash_rust::xxh3::xxh3_64(&data));
        data.len()
    };

    // Warm the page cache and the allocator.
    timed(pages, 1, &get_page);
    timed(pages, 1, &fs_read);

    println!(
        "get_page vs std::fs::read: {pages} pages of 1 MiB in {}, {rounds} rounds, median",
        root.display()
    );
    println!(
        "| threads | std::fs::read GiB/s | fs::read + xxh3_64 GiB/s | get_page GiB/s | get_page / fs::read | get_page / (fs::read + xxh3) | get_page_into GiB/s |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for threads in [1, 2] {
        let (mut a, mut h, mut b, mut c) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            a.push(timed(pages, threads, &fs_read));
            h.push(timed(pages, threads, &fs_read_hash));
            b.push(timed(pages, threads, &get_page));
            c.push(timed(pages, threads, &get_page_into));
        }
        let (a, h, b, c) = (median(a), median(h), median(b), median(c));
        println!(
            "| {threads} | {a:.2} | {h:.2} | {b:.2} | {:.2} | {:.2} | {c:.2} |",
            b / a,
            b / h
        );
    }
    println!(
        "put_page of a 1 MiB page (temp file, fdatasync, rename): {:.2} ms on average",
        put_secs * 1e3 / pages as f64
    );
    let stats = store.stats();
    assert_eq!(stats.checksum_failures_total, 0);
    println!(
        "hits {}, misses {}, checksum failures {}",
        stats.hits_total, stats.misses_total, stats.checksum_failures_total
    );
}
