//! End to end with a stock S3 SDK: boto3 talks to the router on a
//! loopback port, backed by the in-memory source, and checks every answer
//! against the manifest of what was stored (see `boto3_e2e.py`).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ringside_s3api::{MemorySource, router};

const BUCKET: &str = "ringside";
/// Larger than the multipart threshold the script sets, in a size that is
/// not a multiple of its chunk size.
const BIG_SIZE: usize = 5 * 1024 * 1024 + 12_345;
const BIG_KEY: &str = "big/blob.bin";

/// Byte `i` of a large object, mirrored by `content()` in the script.
fn big_content(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// The objects, small ones spelled out in the manifest.
fn fixture() -> Vec<(&'static str, Vec<u8>)> {
    let photo: Vec<u8> = (0..200u32).map(|i| (i * 7 % 256) as u8).collect();
    vec![
        (
            "readme.txt",
            b"Ringside reads through the cache.\n".to_vec(),
        ),
        ("photos/2024/beach day.jpg", photo),
        ("photos/2024/caf\u{e9} \u{2615}.png", "non-ASCII key".into()),
        ("photos/2023/old.jpg", vec![0, 1, 2, 255]),
        ("photos/index.html", b"<html>&amp;</html>".to_vec()),
        ("pages/1", b"one".to_vec()),
        ("pages/2", b"two".to_vec()),
        ("pages/3", b"three".to_vec()),
        ("pages/4", b"four".to_vec()),
        ("pages/5", b"five".to_vec()),
        (
            "odd/a+b=c&d%20e.txt",
            b"plus, equals, ampersand, percent".to_vec(),
        ),
        ("odd/<xml> 'quotes' \"double\".txt", b"markup".to_vec()),
        (
            "odd/\u{65e5}\u{672c}\u{8a9e}/\u{1f600}.bin",
            b"CJK and emoji".to_vec(),
        ),
        ("empty", Vec::new()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_boto3_reads_through_the_s3_api() {
    require_boto3();

    let source = MemorySource::new();
    source.create_bucket("other-bucket");
    let mut objects = serde_json::Map::new();
    for (key, data) in fixture() {
        objects.insert(key.into(), serde_json::json!({ "hex": hex(&data) }));
        source.put(BUCKET, key, data);
    }
    source.put(BUCKET, BIG_KEY, big_content(BIG_SIZE));
    objects.insert(BIG_KEY.into(), serde_json::json!({ "size": BIG_SIZE }));
    let manifest = serde_json::json!({
        "bucket": BUCKET,
        "buckets": [BUCKET, "other-bucket"],
        "objects": objects,
        "big": BIG_KEY,
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest_path = dir.path().join("manifest.json");
    std::fs::write(&manifest_path, manifest.to_string()).expect("write manifest");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, router(source)).await.expect("serve");
    });

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boto3_e2e.py");
    let child = tokio::process::Command::new("python3")
        .arg(&script)
        .env("RINGSIDE_S3_ENDPOINT", format!("http://{addr}"))
        .env("RINGSIDE_S3_MANIFEST", &manifest_path)
        // Keep the machine's AWS setup and proxies out of the test.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python3");
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the boto3 script finishes within 180 s")
        .expect("run the boto3 script");
    server.abort();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "boto3 end-to-end script failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("checks passed"),
        "unexpected output: {stdout}"
    );
    println!("{stdout}");
}

/// The SDK is a prerequisite, not an optional extra: without it this test
/// fails, naming the fix, rather than passing without having run.
fn require_boto3() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "boto3 is not importable by python3; install it with `pip install boto3` \
             (scripts/setup.sh does): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => {
            panic!("python3 is not available ({err}); install Python 3 and `pip install boto3`")
        }
    }
}
