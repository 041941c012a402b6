//! One conformance suite, run against a local directory and against a real S3
//! server (moto), so both backends answer the same questions the same way.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use chrono::Utc;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use ringside_ufs::{Entry, FileStatus, Ufs, UfsError, UfsOptions, UfsPath};
use support::moto::Moto;
use support::{MANY, MIB, Seeder, tree};

fn p(path: &str) -> UfsPath {
    UfsPath::parse(path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

async fn collect(ufs: &Ufs, prefix: &str, recursive: bool) -> Vec<Entry> {
    ufs.list(&p(prefix), recursive)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("listing {prefix} (recursive: {recursive}): {e}"))
}

fn files_of(entries: &[Entry]) -> BTreeMap<String, FileStatus> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::File(s) => Some((s.path.to_string(), s.clone())),
            Entry::Directory { .. } => None,
        })
        .collect()
}

fn dirs_of(entries: &[Entry]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Directory { path } => Some(path.to_string()),
            Entry::File(_) => None,
        })
        .collect()
}

fn ranges_for(size: u64) -> Vec<Range<u64>> {
    let mib = MIB as u64;
    let mut ranges = vec![0..0, 0..size, size..size];
    if size >= 1 {
        ranges.extend([0..1, size - 1..size]);
    }
    if size >= 10 {
        ranges.extend([3..size / 2, size / 3..size - 2]);
    }
    if size > mib + 10 {
        // Across the default page boundary, and a whole page at an offset.
        ranges.extend([mib - 10..mib + 10, mib..2 * mib.min(size / 2), 7..mib + 7]);
    }
    ranges
}

fn expect_invalid_range(result: Result<bytes::Bytes, UfsError>, size: u64, what: &str) {
    match result {
        Err(e @ UfsError::InvalidRange { .. }) => {
            assert_eq!(e.code(), "invalid_range", "{what}");
            let UfsError::InvalidRange { size: got, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*got, size, "{what}: {e}");
            assert!(e.to_string().contains(&format!("of {size} bytes")), "{e}");
        }
        other => panic!("{what}: expected invalid_range, got {other:?}"),
    }
}

fn expect_code<T: std::fmt::Debug>(result: Result<T, UfsError>, code: &str, what: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "{what}: {e}"),
        Ok(v) => panic!("{what}: expected {code}, got {v:?}"),
    }
}

/// The checks every backend must pass; the tree of `support::tree` is at the root.
async fn conformance(ufs: &Ufs, seeder: &Seeder) {
    let files = tree();
    let started = Utc::now();

    // stat, full and ranged reads, byte for byte.
    for (path, data) in &files {
        let path = p(path);
        let size = data.len() as u64;
        let status = ufs
            .stat(&path)
            .await
            .unwrap_or_else(|e| panic!("stat {path}: {e}"));
        assert_eq!(status.path, path);
        assert_eq!(status.size, size, "size of {path}");
        assert!(!status.version.is_empty(), "version of {path}");
        let age = started - status.last_modified;
        assert!(
            age < chrono::Duration::hours(1) && age > chrono::Duration::hours(-1),
            "last_modified of {path}: {}",
            status.last_modified
        );
        if path.as_str().starts_with("/many/") && path.as_str() != "/many/f-0003.txt" {
            continue; // one small file of /many is enough for reads
        }
        for range in ranges_for(size) {
            let got = ufs
                .read_range(&path, range.clone())
                .await
                .unwrap_or_else(|e| panic!("read {path} {range:?}: {e}"));
            let want = &data[range.start as usize..range.end as usize];
            assert!(
                got.as_ref() == want,
                "read {path} {range:?}: {} bytes differ from the {} expected",
                got.len(),
                want.len()
            );
        }
        // The same ranges through one open file (the local fast path).
        let file = ufs
            .open_file(&path)
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        assert_eq!(file.path(), &path);
        for range in ranges_for(size) {
            let got = file
                .read_range(range.clone())
                .await
                .unwrap_or_else(|e| panic!("read {path} {range:?} from the open file: {e}"));
            assert!(
                got.as_ref() == &data[range.start as usize..range.end as usize],
                "read {path} {range:?} from the open file: wrong bytes"
            );
        }
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 2..1;
        for (range, what) in [
            (0..size + 1, "open file 0..size+1"),
            (size..size + 1, "open file size..size+1"),
            (size + 1..size + 1, "open file empty past end"),
            (u64::MAX - 1..u64::MAX, "open file u64::MAX"),
            (reversed, "open file reversed"),
        ] {
            expect_invalid_range(file.read_range(range).await, size, what);
        }
        // Past the end, and reversed.
        expect_invalid_range(ufs.read_range(&path, 0..size + 1).await, size, "0..size+1");
        expect_invalid_range(
            ufs.read_range(&path, size..size + 1).await,
            size,
            "size..size+1",
        );
        expect_invalid_range(
            ufs.read_range(&path, size + 1..size + 1).await,
            size,
            "empty past end",
        );
        expect_invalid_range(
            ufs.read_range(&path, size + 100..size + 200).await,
            size,
            "far past end",
        );
        expect_invalid_range(
            ufs.read_range(&path, u64::MAX - 1..u64::MAX).await,
            size,
            "u64::MAX",
        );
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 2..1;
        expect_invalid_range(ufs.read_range(&path, reversed).await, size, "reversed");
    }

    // Not found, directories and the root.
    expect_code(
        ufs.stat(&p("/missing.bin")).await,
        "not_found",
        "stat missing",
    );
    expect_code(
        ufs.read_range(&p("/missing.bin"), 0..1).await,
        "not_found",
        "read missing",
    );
    expect_code(
        ufs.read_range(&p("/missing.bin"), 0..0).await,
        "not_found",
        "empty read missing",
    );
    // Opening a missing file fails locally; on S3, opening makes no request
    // and the first read fails.
    let missing = async {
        ufs.open_file(&p("/missing.bin"))
            .await?
            .read_range(0..1)
            .await
    };
    expect_code(missing.await, "not_found", "open file missing");
    let directory = async { ufs.open_file(&p("/nested")).await?.read_range(0..1).await };
    expect_code(directory.await, "not_found", "open a directory");
    let below = async {
        ufs.open_file(&p("/one.bin/below"))
            .await?
            .read_range(0..1)
            .await
    };
    expect_code(below.await, "not_found", "open below a file");
    expect_code(
        ufs.open_file(&UfsPath::root()).await,
        "invalid_path",
        "open root",
    );
    expect_code(
        ufs.stat(&p("/nested/a/missing")).await,
        "not_found",
        "stat missing nested",
    );
    let err = ufs.stat(&p("/missing.bin")).await.unwrap_err();
    assert!(err.to_string().contains("/missing.bin"), "{err}");
    expect_code(
        ufs.stat(&p("/nested")).await,
        "not_found",
        "stat a directory",
    );
    expect_code(
        ufs.stat(&p("/one.bin/below")).await,
        "not_found",
        "stat below a file",
    );
    expect_code(
        ufs.stat(&UfsPath::root()).await,
        "invalid_path",
        "stat root",
    );
    expect_code(
        ufs.read_range(&UfsPath::root(), 0..1).await,
        "invalid_path",
        "read root",
    );

    // Traversal never reaches the store.
    for bad in [
        "/../etc/passwd",
        "../x",
        "/nested/../../x",
        "/nested/./a",
        "/a//b",
        "/a\0b",
        "/a\\..\\b",
    ] {
        expect_code(UfsPath::parse(bad), "invalid_path", bad);
    }
    // ... while names that merely look encoded are ordinary files.
    assert_eq!(ufs.stat(&p("/special/%2e%2e")).await.unwrap().size, 7);

    // Recursive listing of the root: exactly the tree, with stat's statuses.
    let all = collect(ufs, "/", true).await;
    assert!(
        dirs_of(&all).is_empty(),
        "recursive listings have no directories"
    );
    let listed = files_of(&all);
    let expected: BTreeSet<String> = files.iter().map(|(f, _)| format!("/{f}")).collect();
    assert_eq!(
        listed.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "recursive listing of /"
    );
    assert_eq!(all.len(), files.len(), "no duplicates");
    for (path, data) in files.iter().filter(|(f, _)| !f.starts_with("many/")) {
        let from_list = &listed[&format!("/{path}")];
        let from_stat = ufs.stat(&p(path)).await.unwrap();
        assert_eq!(from_list.size, data.len() as u64, "{path}");
        assert_eq!(from_list.version, from_stat.version, "version of {path}");
        assert_eq!(from_list.size, from_stat.size, "{path}");
    }

    // The same files in path order, on every backend.
    let in_order: Vec<Entry> = ufs
        .list_in_order(&UfsPath::root(), None)
        .try_collect()
        .await
        .unwrap();
    let order: Vec<&str> = in_order.iter().map(|e| e.path().as_str()).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted, "list_in_order is in path order");
    assert_eq!(
        files_of(&in_order),
        listed,
        "list_in_order lists what list does"
    );
    // Resumed after a path, the walk gives exactly the rest (a few points:
    // each is a whole listing on S3).
    let step = (order.len() / 4).max(1);
    for (i, resume) in order.iter().enumerate().step_by(step) {
        let rest: Vec<Entry> = ufs
            .list_in_order(&UfsPath::root(), Some(resume))
            .try_collect()
            .await
            .unwrap();
        let rest: Vec<&str> = rest.iter().map(|e| e.path().as_str()).collect();
        assert_eq!(rest, order[i + 1..], "resumed after {resume}");
    }
    let nested: Vec<Entry> = ufs
        .list_in_order(&p("/nested"), None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        nested.iter().map(|e| e.path().as_str()).collect::<Vec<_>>(),
        [
            "/nested/a/b/c/deep.txt",
            "/nested/a/b/empty.bin",
            "/nested/a/top.txt"
        ]
    );
    for missing in ["/no/such/dir", "/one.bin", "/nest"] {
        let entries: Vec<Entry> = ufs
            .list_in_order(&p(missing), None)
            .try_collect()
            .await
            .unwrap();
        assert!(entries.is_empty(), "list_in_order {missing}: {entries:?}");
    }

    // Recursive listing of a subtree, with and without the trailing slash.
    let nested = collect(ufs, "/nested", true).await;
    let nested_paths: BTreeSet<String> = files_of(&nested).into_keys().collect();
    assert_eq!(
        nested_paths,
        BTreeSet::from([
            "/nested/a/b/c/deep.txt".to_string(),
            "/nested/a/b/empty.bin".to_string(),
            "/nested/a/top.txt".to_string(),
        ])
    );
    assert_eq!(collect(ufs, "/nested/", true).await.len(), 3);

    // Non-recursive: files and directories of one level, sorted.
    let root = collect(ufs, "/", false).await;
    assert_eq!(
        dirs_of(&root),
        BTreeSet::from(["/données", "/many", "/nested", "/special", "/日本語"].map(String::from))
    );
    assert_eq!(
        files_of(&root).into_keys().collect::<BTreeSet<_>>(),
        BTreeSet::from(
            [
                "/empty.bin",
                "/mib-minus-1.bin",
                "/mib-plus-1.bin",
                "/mib.bin",
                "/one.bin",
                "/several-mib.bin",
                "/with space.txt",
            ]
            .map(String::from)
        )
    );
    for (path, status) in files_of(&root) {
        let stat = ufs.stat(&p(&path)).await.unwrap();
        assert_eq!(status, stat, "listing and stat disagree on {path}");
    }
    let order: Vec<&UfsPath> = root.iter().map(Entry::path).collect();
    assert!(order.is_sorted(), "one page is sorted: {order:?}");
    assert_eq!(
        dirs_of(&collect(ufs, "/données", false).await),
        BTreeSet::from(["/données/été 2024".to_string()])
    );
    let leaf = collect(ufs, "/données/été 2024/", false).await;
    assert_eq!(leaf.len(), 1);
    assert_eq!(leaf[0].path().as_str(), "/données/été 2024/a b.txt");
    let special = collect(ufs, "/special", false).await;
    assert_eq!(special.len(), 10, "{special:?}");
    assert!(dirs_of(&special).is_empty());
    let level = collect(ufs, "/nested/a", false).await;
    assert_eq!(dirs_of(&level), BTreeSet::from(["/nested/a/b".to_string()]));
    assert_eq!(
        files_of(&level).into_keys().collect::<Vec<_>>(),
        ["/nested/a/top.txt"]
    );

    // More than one page (S3: 1000 keys, local: 1024 entries).
    let many = collect(ufs, "/many", false).await;
    assert_eq!(files_of(&many).len(), MANY);
    assert_eq!(many.len(), MANY);

    // Prefixes are directories, not string prefixes; missing ones are empty.
    assert!(collect(ufs, "/nest", true).await.is_empty());
    assert!(collect(ufs, "/nest", false).await.is_empty());
    assert!(collect(ufs, "/no/such/dir", true).await.is_empty());
    assert!(collect(ufs, "/no/such/dir", false).await.is_empty());
    assert!(collect(ufs, "/one.bin", false).await.is_empty());
    assert!(collect(ufs, "/one.bin", true).await.is_empty());

    // A rewrite changes the version, and listings see the new one.
    let mutable = p("/zz-mutable.bin");
    seeder.write("zz-mutable.bin", b"first").await;
    let before = ufs.stat(&mutable).await.unwrap();
    seeder.write("zz-mutable.bin", b"second!").await;
    let after = ufs.stat(&mutable).await.unwrap();
    assert_ne!(before.version, after.version);
    assert_eq!(after.size, 7);
    assert_eq!(
        ufs.read_range(&mutable, 0..7).await.unwrap(),
        &b"second!"[..]
    );
    let relisted = files_of(&collect(ufs, "/", false).await);
    assert_eq!(relisted["/zz-mutable.bin"].version, after.version);

    // Clones share the store.
    let clone = ufs.clone();
    assert_eq!(clone.stat(&p("/one.bin")).await.unwrap().size, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ufs root");
    std::fs::create_dir(&root).unwrap();
    // A sibling that must stay invisible.
    std::fs::write(dir.path().join("ufs root-sibling.txt"), b"no").unwrap();
    let seeder = Seeder::Local(root.clone());
    seeder.write_all(&tree()).await;

    // Names on disk are the literal names: nothing percent-encoded.
    assert!(root.join("special/100%.txt").is_file());
    assert!(root.join("special/hash#tag.txt").is_file());
    assert!(root.join("données/été 2024/a b.txt").is_file());

    let ufs = Ufs::open(root.to_str().unwrap(), UfsOptions::default()).unwrap();
    assert_eq!(ufs.scheme(), "file");
    conformance(&ufs, &seeder).await;

    // The same root as a file URL (percent-encoded, as URLs are).
    let url = url::Url::from_directory_path(&root).unwrap();
    assert!(url.as_str().contains("ufs%20root"), "{url}");
    let by_url = Ufs::open(url.as_str(), UfsOptions::default()).unwrap();
    assert_eq!(by_url.stat(&p("/with space.txt")).await.unwrap().size, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_conformance_against_moto() {
    let moto = Moto::start();
    let bucket = "ringside-ufs-test";
    moto.create_bucket(bucket);
    let prefix = "datasets/ufs root";
    let store = AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap();
    // Keys beside the root's prefix that must stay invisible, and folder
    // markers as the AWS console creates them.
    let outside = Seeder::S3 {
        store: store.clone(),
        prefix: String::new(),
    };
    outside
        .write("datasets/ufs root-sibling/x.txt", b"no")
        .await;
    outside.write("datasets/ufs rootfile.txt", b"no").await;
    for marker in [
        "datasets/",
        "datasets/ufs root/",
        "datasets/ufs root/nested/",
        "datasets/ufs root/nested/a/",
    ] {
        moto.put_empty(bucket, marker);
    }
    let seeder = Seeder::S3 {
        store,
        prefix: prefix.to_string(),
    };
    seeder.write_all(&tree()).await;

    // The keys are the literal names, whatever object_store encodes on the wire.
    for key in [
        "special/100%.txt",
        "special/hash#tag.txt",
        "special/question?star*.txt",
        "special/a%2Fb.txt",
        "données/été 2024/a b.txt",
    ] {
        let xml = moto.list_xml(bucket, &format!("{prefix}/{key}"));
        assert!(
            xml.contains(&format!("<Key>{prefix}/{key}</Key>")),
            "{key} is not stored literally:\n{xml}"
        );
    }

    let options = UfsOptions {
        s3_endpoint: Some(moto.endpoint()),
        s3_region: Some("us-east-1".into()),
        allow_http: true,
        s3_access_key_id: Some("testing".into()),
        s3_secret_access_key: Some("testing".into()),
        ..UfsOptions::default()
    };
    let ufs = Ufs::open(&format!("s3://{bucket}/{prefix}"), options.clone()).unwrap();
    assert_eq!(ufs.scheme(), "s3");
    conformance(&ufs, &seeder).await;

    // A bucket root without a prefix sees the whole bucket, markers hidden.
    let whole = Ufs::open(&format!("s3://{bucket}"), options.clone()).unwrap();
    assert_eq!(
        whole
            .stat(&p("/datasets/ufs root/one.bin"))
            .await
            .unwrap()
            .size,
        1
    );
    let top = collect(&whole, "/datasets", false).await;
    assert_eq!(
        dirs_of(&top),
        BTreeSet::from(["/datasets/ufs root", "/datasets/ufs root-sibling"].map(String::from))
    );
    assert_eq!(
        files_of(&top).into_keys().collect::<Vec<_>>(),
        ["/datasets/ufs rootfile.txt"]
    );

    // A missing bucket is an error, not an empty listing.
    let missing = Ufs::open("s3://no-such-bucket/x", options).unwrap();
    let err = missing.stat(&p("/a")).await.unwrap_err();
    // A HEAD answer has no body to tell a missing bucket from a missing key.
    assert_eq!(err.code(), "not_found", "missing bucket: {err}");
    let listed: Result<Vec<Entry>, UfsError> =
        missing.list(&UfsPath::root(), true).try_collect().await;
    let err = listed.unwrap_err();
    assert!(err.to_string().contains("bucket does not exist"), "{err}");
}

#[tokio::test]
async fn s3_unreachable_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing listens on `port` once the listener is dropped.
    let ufs = Ufs::open(
        "s3://bucket",
        UfsOptions {
            s3_endpoint: Some(format!("http://127.0.0.1:{port}")),
            allow_http: true,
            s3_access_key_id: Some("testing".into()),
            s3_secret_access_key: Some("testing".into()),
            max_retries: Some(0),
            request_timeout: Some(Duration::from_secs(5)),
            ..UfsOptions::default()
        },
    )
    .unwrap();
    let err = ufs.stat(&p("/a")).await.unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
    assert!(err.is_transient());
    let err = ufs.read_range(&p("/a"), 0..10).await.unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
    let err = ufs
        .list(&UfsPath::root(), false)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
}

#[test]
fn open_rejects_bad_roots_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.txt");
    std::fs::write(&file, b"x").unwrap();
    let missing = dir.path().join("missing");
    let cases = [
        ("relative/dir".to_string(), "absolute directory"),
        (missing.display().to_string(), "does not exist"),
        (file.display().to_string(), "not a directory"),
        ("file://host/srv/data".to_string(), "absolute local path"),
        ("s3://".to_string(), "no bucket"),
        ("s3:///prefix".to_string(), "no bucket"),
        ("s3://bucket/a/../b".to_string(), "bad key prefix"),
        ("gs://bucket/x".to_string(), "'gs' scheme is not supported"),
        ("".to_string(), "absolute directory"),
    ];
    for (root, reason) in cases {
        match Ufs::open(&root, UfsOptions::default()) {
            Err(e @ UfsError::InvalidRoot { .. }) => {
                assert_eq!(e.code(), "invalid_root");
                assert!(e.to_string().contains(reason), "{root:?}: {e}");
            }
            other => panic!("{root:?}: expected invalid_root, got {other:?}"),
        }
    }
    // A trailing slash on a prefix is tolerated.
    assert!(Ufs::open("s3://bucket/prefix/", UfsOptions::default()).is_ok());
}

#[tokio::test]
async fn local_links_special_names_and_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::write(root.join("real/data.bin"), b"linked").unwrap();
    std::os::unix::fs::symlink(root.join("real/data.bin"), root.join("link.bin")).unwrap();
    std::os::unix::fs::symlink(root.join("real"), root.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(root.join("gone"), root.join("broken")).unwrap();
    // Names no Ringside path can express, and object_store's upload staging names.
    std::fs::write(root.join("back\\slash"), b"x").unwrap();
    std::fs::write(root.join("new\nline"), b"x").unwrap();
    std::fs::write(root.join("upload#123"), b"x").unwrap();
    std::fs::write(root.join("tag#v2"), b"ok").unwrap();

    let ufs = Ufs::open(root.to_str().unwrap(), UfsOptions::default()).unwrap();
    assert_eq!(
        ufs.read_range(&p("/link.bin"), 0..6).await.unwrap(),
        &b"linked"[..]
    );
    assert_eq!(ufs.stat(&p("/linked-dir/data.bin")).await.unwrap().size, 6);
    let top = collect(&ufs, "/", false).await;
    assert_eq!(
        files_of(&top).into_keys().collect::<Vec<_>>(),
        ["/link.bin", "/tag#v2"]
    );
    assert_eq!(
        dirs_of(&top),
        BTreeSet::from(["/linked-dir", "/real"].map(String::from))
    );
    let deep: BTreeSet<String> = files_of(&collect(&ufs, "/", true).await)
        .into_keys()
        .collect();
    assert_eq!(
        deep,
        BTreeSet::from(
            [
                "/link.bin",
                "/linked-dir/data.bin",
                "/real/data.bin",
                "/tag#v2"
            ]
            .map(String::from)
        )
    );
    expect_code(
        ufs.stat(&p("/upload#123")).await,
        "invalid_path",
        "staging name",
    );
    assert_eq!(ufs.stat(&p("/tag#v2")).await.unwrap().size, 2);
    expect_code(ufs.stat(&p("/broken")).await, "not_found", "broken link");

    // Unreadable files (root reads everything, so only checked as a user).
    use std::os::unix::fs::PermissionsExt;
    let secret = root.join("real/secret.bin");
    std::fs::write(&secret, b"s").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&secret).is_err() {
        expect_code(
            ufs.read_range(&p("/real/secret.bin"), 0..1).await,
            "permission_denied",
            "unreadable file",
        );
    } else {
        eprintln!("running as root: permission_denied is not observable here");
    }
}

/// A local file stays open for the reads of one handle: a replacement under
/// its name is not seen, while a change to the file itself is, with the
/// errors `read_range` gives.
#[tokio::test]
async fn local_open_file_reads_the_file_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("a.bin"), b"0123456789").unwrap();
    let ufs = Ufs::open(root.to_str().unwrap(), UfsOptions::default()).unwrap();
    let file = ufs.open_file(&p("/a.bin")).await.unwrap();

    // Replaced by a new file (a new inode): the open one still reads.
    std::fs::write(root.join("new.bin"), b"abc").unwrap();
    std::fs::rename(root.join("new.bin"), root.join("a.bin")).unwrap();
    assert_eq!(file.read_range(2..5).await.unwrap(), &b"234"[..]);
    assert_eq!(
        ufs.read_range(&p("/a.bin"), 0..3).await.unwrap(),
        &b"abc"[..]
    );

    // Changed in place: grown, then truncated.
    let file = ufs.open_file(&p("/a.bin")).await.unwrap();
    let mut handle = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join("a.bin"))
        .unwrap();
    std::io::Write::write_all(&mut handle, b"def").unwrap();
    assert_eq!(file.read_range(0..6).await.unwrap(), &b"abcdef"[..]);
    handle.set_len(2).unwrap();
    expect_invalid_range(file.read_range(0..6).await, 2, "truncated");
    assert_eq!(file.read_range(0..2).await.unwrap(), &b"ab"[..]);

    // Names that no read may reach are refused before opening.
    std::fs::write(root.join("upload#123"), b"x").unwrap();
    expect_code(
        ufs.open_file(&p("/upload#123")).await,
        "invalid_path",
        "staging name",
    );
}

/// Path order puts a directory where its keys sort among its siblings,
/// and a link back up the tree is not followed round.
#[tokio::test]
async fn local_listing_in_order_sorts_like_keys_and_survives_link_loops() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for file in ["a-b", "a/x", "a/y/z", "a0", "b.txt", "A"] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }
    std::os::unix::fs::symlink(root.join("a"), root.join("a/y/up")).unwrap();
    let ufs = Ufs::open(root.to_str().unwrap(), UfsOptions::default()).unwrap();
    let listed: Vec<Entry> = ufs
        .list_in_order(&UfsPath::root(), None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|e| e.path().as_str()).collect::<Vec<_>>(),
        ["/A", "/a-b", "/a/x", "/a/y/z", "/a0", "/b.txt"]
    );
    // Resuming skips what sorts before the point, a directory the point
    // lies in included only from there on.
    for (after, rest) in [
        ("/a-b", &["/a/x", "/a/y/z", "/a0", "/b.txt"][..]),
        ("/a/x", &["/a/y/z", "/a0", "/b.txt"][..]),
        ("/a/y", &["/a/y/z", "/a0", "/b.txt"][..]),
        ("/a/y/z", &["/a0", "/b.txt"][..]),
        ("/a", &["/a-b", "/a/x", "/a/y/z", "/a0", "/b.txt"][..]),
        ("/b.txt", &[][..]),
    ] {
        let listed: Vec<Entry> = ufs
            .list_in_order(&UfsPath::root(), Some(after))
            .try_collect()
            .await
            .unwrap();
        let listed: Vec<&str> = listed.iter().map(|e| e.path().as_str()).collect();
        assert_eq!(listed, rest, "after {after}");
    }
    // Outside Tokio too (no blocking pool to hand the reads to).
    let outside: Vec<Entry> = futures::executor::block_on(
        ufs.list_in_order(&p("/a"), None)
            .try_collect::<Vec<Entry>>(),
    )
    .unwrap();
    assert_eq!(outside.len(), 2);
}

proptest::proptest! {
    #[test]
    fn open_never_panics(root in "(s3://|file://|/|gs://)?[a-z/ .%:]{0,20}") {
        let _ = Ufs::open(&root, UfsOptions::default());
    }
}
