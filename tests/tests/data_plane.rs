//! A three-worker cluster started from the CLI, reading a local-directory
//! UFS through the cache: every read compared byte for byte with the UFS,
//! through misses, hits, a corrupted page, a worker kill and restarts.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use reqwest::{StatusCode, blocking::Client};
use ringside_api::{WorkerState, WorkerView};
use ringside_tests::{
    Daemon,
    cluster::{Cluster, PAGE},
    eventually, free_port, metric, ringside, start_coordinator_with, start_worker,
};

/// The three-worker cluster most tests here use, over the sample files.
fn three_workers() -> (Cluster, Vec<Daemon>) {
    Cluster::start_with("dp", &["w1", "w2", "w3"], &[], write_sample)
}

/// The sum of a worker metric over `workers`.
fn across(cluster: &Cluster, workers: &[Daemon], metric: &str) -> u64 {
    workers
        .iter()
        .map(|w| cluster.worker_metric(&w.url, metric))
        .sum()
}

/// `ringside fs cat` of every sample file equals the UFS's bytes; returns
/// what each cat said on stderr.
fn cat_all(cluster: &Cluster) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, expected) in samples(&cluster.ufs) {
        let out = cluster.cli(&["fs", "cat", &name]);
        assert!(
            out.status.success(),
            "cat {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == expected,
            "cat {name}: {} bytes, expected {}",
            out.stdout.len(),
            expected.len()
        );
        warnings.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    warnings
}

/// Files at the edges of the page layout, and names people really use.
fn write_sample(ufs: &Path) {
    let bytes = |n: usize, seed: u8| {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>()
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one-byte", vec![42]),
        ("page-minus-one", bytes(PAGE - 1, 1)),
        ("page", bytes(PAGE, 2)),
        ("page-plus-one", bytes(PAGE + 1, 3)),
        ("nested/deeper/many pages.bin", bytes(PAGE * 7 + 123, 4)),
        ("données/été 2024.txt", b"bonjour".to_vec()),
    ];
    for (name, content) in files {
        let path = ufs.join("data").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

fn samples(ufs: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![ufs.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = format!("/{}", path.strip_prefix(ufs).unwrap().display());
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn reads_are_right_through_misses_hits_corruption_kills_and_restarts() {
    let (cluster, mut workers) = three_workers();
    let epoch_before = cluster.epoch();

    // Cold, then warm: both byte for byte. Misses are cached in the
    // background; wait for the caches to hold everything before the warm pass.
    cat_all(&cluster);
    let total: u64 = samples(&cluster.ufs)
        .iter()
        .map(|(_, b)| b.len() as u64)
        .sum();
    assert!(
        eventually(Duration::from_secs(10), || {
            across(&cluster, &workers, "ringside_worker_pagestore_used_bytes") == total
        }),
        "the cold pass did not leave every byte cached"
    );
    let warnings = cat_all(&cluster);
    assert!(
        warnings.iter().all(String::is_empty),
        "no fallback while all are up: {warnings:?}"
    );
    let cached = across(&cluster, &workers, "ringside_worker_bytes_read_cache_total");
    let missed = across(&cluster, &workers, "ringside_worker_bytes_read_ufs_total");
    assert_eq!(
        missed, total,
        "the first pass misses every byte exactly once"
    );
    assert_eq!(cached, total, "the second pass hits every byte");

    // Ranged reads straight from a worker's HTTP API.
    let many = std::fs::read(cluster.ufs.join("data/nested/deeper/many pages.bin")).unwrap();
    let url = format!(
        "{}/api/v1/files/data/nested/deeper/many%20pages.bin",
        workers[0].url
    );
    for (range, from, to) in [
        ("bytes=0-0", 0, 1),
        (
            &format!("bytes={}-{}", PAGE - 10, PAGE + 10) as &str,
            PAGE - 10,
            PAGE + 11,
        ),
        ("bytes=-100", many.len() - 100, many.len()),
        (
            &format!("bytes={}-", PAGE * 7) as &str,
            PAGE * 7,
            many.len(),
        ),
    ] {
        let response = cluster
            .http
            .get(&url)
            .header("range", range)
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert!(response.bytes().unwrap() == many[from..to], "{range}");
    }
    let past = cluster
        .http
        .get(&url)
        .header("range", format!("bytes={}-", many.len()))
        .send()
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", many.len()).as_str()
    );
    // HTTP clients fold a literal `..` away before sending, so these go out
    // on a raw socket, exactly as written.
    for bad in [
        "data/../../etc/passwd",
        "data/%2e%2e/%2e%2e/etc/passwd",
        "data/..%2fsecret",
        "%2e%2e",
        "data/%00",
    ] {
        assert_eq!(
            raw_get_status(&workers[0].url, &format!("/api/v1/files/{bad}")),
            400,
            "{bad}"
        );
    }
    let missing = cluster
        .http
        .get(format!("{}/api/v1/files/data/nope", workers[0].url))
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Cached pages the OS page cache no longer holds come from the disk (and
    // the reads that meet them fetch further ahead): still byte for byte,
    // each counted once. The kernel may keep a page that is busy elsewhere
    // at the moment it is told to drop it, so a few rounds are allowed.
    let pages: usize = samples(&cluster.ufs)
        .iter()
        .map(|(_, b)| b.len().div_ceil(PAGE))
        .sum();
    let disk_hits = || {
        across(
            &cluster,
            &workers,
            "ringside_worker_pagestore_disk_hits_total",
        )
    };
    let mut counted = Vec::new();
    let expected = loop {
        let before = disk_hits();
        let from_disk = drop_from_os_cache(cluster.dir.path(), &page_files(cluster.dir.path()));
        cat_all(&cluster);
        counted.push(disk_hits() - before);
        let expected = if from_disk { pages as u64 } else { 0 };
        if counted.last() == Some(&expected) || counted.len() == 3 {
            break expected;
        }
    };
    assert_eq!(
        counted.last(),
        Some(&expected),
        "pages read from the disk, in each round: {counted:?}"
    );

    // A corrupted page on disk is detected, dropped, refetched and counted.
    let corrupted = corrupt_one_page(cluster.dir.path());
    cat_all(&cluster);
    let failures = across(
        &cluster,
        &workers,
        "ringside_worker_pagestore_checksum_failures_total",
    );
    assert!(
        failures >= 1,
        "corrupting {} was not detected",
        corrupted.display()
    );

    // Every endpoint's metrics pass promtool.
    for url in workers
        .iter()
        .map(|w| &w.url)
        .chain([&cluster.coordinator.url])
    {
        let text = cluster
            .http
            .get(format!("{url}/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        ringside_tests::promtool_check(&text);
    }

    // Kill a worker: reads go on (from the UFS, said on stderr), it turns
    // OFFLINE after the failure detection timeout, and the ring moves on.
    // The one caching the most surely owns some of the files.
    let busiest = (0..workers.len())
        .max_by_key(|&i| {
            cluster.worker_metric(&workers[i].url, "ringside_worker_pagestore_used_bytes")
        })
        .unwrap();
    let mut names = vec!["w1", "w2", "w3"];
    let killed_name = names.remove(busiest);
    let killed = workers.remove(busiest);
    let killed_id = cluster
        .workers()
        .into_iter()
        .find(|w| w.heartbeat.address == killed.url)
        .unwrap()
        .heartbeat
        .id;
    killed.stop();
    let warnings = cat_all(&cluster);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("reading") && w.contains("from the UFS directly")),
        "{warnings:?}"
    );
    assert!(
        eventually(Duration::from_secs(10), || cluster.online().len() == 2),
        "the killed worker never went OFFLINE"
    );
    // The ring follows within one membership refresh (a second).
    assert!(eventually(Duration::from_secs(5), || cluster.epoch() > epoch_before));
    let warnings = cat_all(&cluster);
    assert!(
        warnings.iter().all(String::is_empty),
        "after the ring moved on, reads go to live owners: {warnings:?}"
    );
    let nodes = cluster.cli(&["info", "nodes"]);
    let listing = String::from_utf8_lossy(&nodes.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.contains(&killed_id) && l.contains("OFFLINE")),
        "{listing}"
    );

    // Restart with the same identity file: the same id comes back.
    workers.push(start_worker(
        killed_name,
        cluster.dir.path(),
        &cluster.properties,
    ));
    names.push(killed_name);
    assert!(eventually(Duration::from_secs(10), || cluster
        .online()
        .len()
        == 3));
    assert_eq!(
        cluster.workers().len(),
        3,
        "no stale entry: the worker rejoined under its id"
    );
    assert!(cluster.online().iter().any(|w| w.heartbeat.id == killed_id));
    cat_all(&cluster);

    // Without its identity file a worker is new; the old id goes OFFLINE and
    // `process remove-worker` removes it for good.
    let renewed_name = names.remove(0);
    let renewed = workers.remove(0);
    let old_id = cluster
        .workers()
        .into_iter()
        .find(|w| w.heartbeat.address == renewed.url)
        .unwrap()
        .heartbeat
        .id;
    renewed.stop();
    std::fs::remove_file(cluster.dir.path().join(renewed_name).join("identity")).unwrap();
    workers.push(start_worker(
        renewed_name,
        cluster.dir.path(),
        &cluster.properties,
    ));
    assert!(eventually(Duration::from_secs(10), || {
        let ws = cluster.workers();
        ws.len() == 4
            && ws
                .iter()
                .any(|w| w.heartbeat.id == old_id && w.state == WorkerState::Offline)
    }));
    let removed = cluster.cli(&["process", "remove-worker", "--name", &old_id]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_eq!(cluster.workers().len(), 3);
    let again = cluster.cli(&["process", "remove-worker", "--name", &old_id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no worker with id"));
    cat_all(&cluster);
}

#[test]
fn a_stock_s3_sdk_reads_through_a_worker() {
    let (cluster, _workers) = three_workers();
    let s3 = cluster.online()[0].heartbeat.s3_address.clone();
    let script = r#"
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, ufs = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s",
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["dp"]
page = s3.list_objects_v2(Bucket="dp", Prefix="data/", Delimiter="/")
keys = [o["Key"] for o in page.get("Contents", [])]
prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
assert "data/page" in keys and "data/nested/" in prefixes and "data/données/" in prefixes, (keys, prefixes)
everything = s3.list_objects_v2(Bucket="dp", Prefix="data/")
assert len(everything["Contents"]) == 7, everything
# Without a delimiter the whole tree streams in key order (str order is
# UTF-8 byte order), and pages of two resume where the last one stopped.
every_key = [o["Key"] for o in everything["Contents"]]
assert every_key == sorted(every_key), every_key
paged, token = [], None
while True:
    more = {"ContinuationToken": token} if token else {}
    page = s3.list_objects_v2(Bucket="dp", Prefix="data/", MaxKeys=2, **more)
    assert page["KeyCount"] <= 2, page
    paged += [o["Key"] for o in page.get("Contents", [])]
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
assert paged == every_key, (paged, every_key)
after = s3.list_objects_v2(Bucket="dp", Prefix="data/", StartAfter="data/nested/")
assert [o["Key"] for o in after["Contents"]] == [k for k in every_key if k > "data/nested/"], after
assert [o["Key"] for o in s3.list_objects_v2(Bucket="dp", Prefix="data/nested/d")["Contents"]] == ["data/nested/deeper/many pages.bin"]
for obj in everything["Contents"]:
    want = open(ufs + "/" + obj["Key"], "rb").read()
    assert s3.get_object(Bucket="dp", Key=obj["Key"])["Body"].read() == want, obj["Key"]
    assert s3.head_object(Bucket="dp", Key=obj["Key"])["ContentLength"] == len(want)
many = open(ufs + "/data/nested/deeper/many pages.bin", "rb").read()
got = s3.get_object(Bucket="dp", Key="data/nested/deeper/many pages.bin", Range="bytes=65530-65545")["Body"].read()
assert got == many[65530:65546]
try:
    s3.get_object(Bucket="dp", Key="data/nope")
    raise SystemExit("missing key did not fail")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchKey"
print("s3 ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &s3, cluster.ufs.to_str().unwrap()])
        .output()
        .expect("python3 with boto3 (pip install boto3)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The status code of a GET sent byte for byte as given.
fn raw_get_status(base: &str, target: &str) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Every page file of the three workers' page stores (`pages/` in each
/// store, beside its metadata records).
fn page_files(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![
        dir.join("w1/pages/pages"),
        dir.join("w2/pages/pages"),
        dir.join("w3/pages/pages"),
    ];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Damages a whole page that `cat_all` reads: w1 also holds pages it does
/// not own (the ranged reads above went to it), so w1 comes last.
fn corrupt_one_page(dir: &Path) -> PathBuf {
    let path = page_files(dir)
        .into_iter()
        .min_by_key(|path| {
            let on_w1 = path.starts_with(dir.join("w1"));
            (on_w1, std::cmp::Reverse(path.metadata().unwrap().len()))
        })
        .expect("some cached page on disk");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Writes `files` back and drops them from the OS page cache, so that the
/// next read of each comes from the disk. False where the file system does
/// not let a read tell the two apart (a probe file dropped the same way
/// still reads without waiting, as on tmpfs).
fn drop_from_os_cache(dir: &Path, files: &[PathBuf]) -> bool {
    let evict = |path: &Path| {
        let file = std::fs::File::open(path).unwrap();
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        file
    };
    for path in files {
        evict(path);
    }
    let probe = dir.join("os-cache-probe");
    std::fs::write(&probe, [1u8; 4096]).unwrap();
    let mut byte = [0u8; 1];
    let read = rustix::io::preadv2(
        evict(&probe),
        &mut [std::io::IoSliceMut::new(&mut byte)],
        0,
        rustix::io::ReadWriteFlags::NOWAIT,
    );
    std::fs::remove_file(&probe).unwrap();
    matches!(read, Err(rustix::io::Errno::AGAIN))
}

#[test]
fn a_full_page_store_evicts_and_every_read_still_succeeds() {
    let (cluster, workers) = Cluster::start_with(
        "small",
        &["w1"],
        &["ringside.worker.pagestore.size=1MiB".to_string()],
        write_sample,
    );
    let worker = &workers[0];
    // Twice the page store's capacity in one file.
    let big: Vec<u8> = (0..2 * 1024 * 1024 + 7)
        .map(|i: usize| (i % 251) as u8)
        .collect();
    std::fs::write(cluster.ufs.join("data/big.bin"), big).unwrap();
    for _ in 0..3 {
        cat_all(&cluster);
    }
    // Pages are cached behind the reads, so the last ones may still be on
    // their way.
    assert!(
        eventually(Duration::from_secs(10), || cluster.worker_metric(
            &worker.url,
            "ringside_worker_pagestore_evictions_total"
        ) > 0),
        "a page store smaller than the data must evict"
    );
    let used = cluster.worker_metric(&worker.url, "ringside_worker_pagestore_used_bytes");
    assert!(used <= 1024 * 1024, "used {used} bytes of 1MiB");
}

/// A moto S3 server on a free loopback port, stopped on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server (pip install \"moto[server]\")");
        let url = format!("http://127.0.0.1:{port}");
        assert!(
            eventually(Duration::from_secs(20), || reqwest::blocking::get(&url)
                .is_ok()),
            "moto_server did not start"
        );
        Moto { child, url }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn workers_cache_from_an_s3_ufs() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("sample");
    write_sample(&local);
    // Upload the sample under a prefix with a stock SDK.
    let upload = Command::new("python3")
        .args([
            "-c",
            r#"
import os, sys, boto3
endpoint, root = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
s3.create_bucket(Bucket="training")
for base, _, files in os.walk(root):
    for f in files:
        path = os.path.join(base, f)
        s3.upload_file(path, "training", "corpus/" + os.path.relpath(path, root))
"#,
            &moto.url,
            local.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        upload.status.success(),
        "{}",
        String::from_utf8_lossy(&upload.stderr)
    );

    let port = free_port();
    let properties = vec![
        "ringside.cluster.name=s3c".to_string(),
        "ringside.ufs.root=s3://training/corpus".to_string(),
        format!("ringside.ufs.s3.endpoint={}", moto.url),
        format!("ringside.coordinator.address=http://127.0.0.1:{port}"),
        format!("ringside.worker.pagestore.page.size={PAGE}"),
        "ringside.worker.pagestore.size=16MiB".to_string(),
        "ringside.worker.pagestore.reserved.size=4MiB".to_string(),
        "ringside.worker.heartbeat.interval=200ms".to_string(),
        format!(
            "ringside.security.cluster.token.file={}",
            dir.path().join("cluster.token").display()
        ),
    ];
    // moto's test credentials, for the child processes only.
    let with_credentials = |mut command: Command| {
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        command
    };
    let _coordinator = start_coordinator_with("s3c", dir.path(), port, &properties);
    let mut worker_command = with_credentials(ringside(&properties));
    let wport = free_port();
    worker_command.args([
        "--set",
        "ringside.worker.bind.host=127.0.0.1",
        "--set",
        &format!("ringside.worker.port={wport}"),
        "--set",
        &format!("ringside.worker.s3.port={}", free_port()),
        "--set",
        &format!(
            "ringside.worker.pagestore.dir={}",
            dir.path().join("pages").display()
        ),
        "--set",
        &format!(
            "ringside.worker.identity.uuid.file.path={}",
            dir.path().join("identity").display()
        ),
        "process",
        "start",
        "worker",
    ]);
    let worker = Daemon::start(
        "s3 worker",
        worker_command,
        format!("http://127.0.0.1:{wport}"),
        dir.path().join("worker.log"),
    );
    let http = Client::new();
    assert!(eventually(Duration::from_secs(10), || {
        http.get(format!("http://127.0.0.1:{port}/api/v1/workers"))
            .send()
            .and_then(|r| r.json::<Vec<WorkerView>>())
            .is_ok_and(|w| w.len() == 1)
    }));
    let total: u64 = samples(&local).iter().map(|(_, b)| b.len() as u64).sum();
    let metric = |name: &str| metric(&worker.url, name).unwrap_or(0);
    for pass in 0..2 {
        if pass == 1 {
            assert!(eventually(Duration::from_secs(10), || {
                metric("ringside_worker_pagestore_used_bytes") == total
            }));
        }
        for (name, expected) in samples(&local) {
            let mut command = with_credentials(ringside(&properties));
            let out = command.args(["fs", "cat", &name]).output().unwrap();
            assert!(
                out.status.success(),
                "pass {pass} cat {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout == expected, "pass {pass} cat {name}");
        }
    }
    assert_eq!(metric("ringside_worker_bytes_read_ufs_total"), total);
    assert_eq!(metric("ringside_worker_bytes_read_cache_total"), total);
}
