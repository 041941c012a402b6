//! Licenses end to end: vendor keys and licenses made with `ringside
//! license keygen|issue`, checked by `inspect`, and enforced by real
//! coordinators on real workers. A bad license is refused with the reason,
//! at start (the `ringside.license` property) and through `PUT
//! /api/v1/license`; limits refuse a worker beyond them while the others
//! keep serving; after expiry jobs run during the grace period and are
//! refused after it, while reads go on.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{TimeDelta, Utc};
use reqwest::blocking::Client;
use ringside_api::{
    ErrorBody,
    job::{JobState, JobView},
    license::{LicenseSource, LicenseState, LicenseStatus},
};
use ringside_tests::{
    bearer_client, cluster::Cluster, cluster_token, default_token_file, eventually, free_port,
    ringside, start_coordinator_with, worker_command,
};

/// A vendor: a key pair made by `ringside license keygen`.
struct Vendor {
    dir: PathBuf,
    key: PathBuf,
    public_file: PathBuf,
    public: String,
}

fn run(args: &[&str]) -> Output {
    ringside(&[]).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `ringside ARGS`, asserting it fails cleanly; returns stderr.
fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        !out.status.success(),
        "{args:?} should fail: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    err
}

impl Vendor {
    fn new(dir: &Path, name: &str) -> Vendor {
        let key = dir.join(format!("{name}.key"));
        let out = run(&["license", "keygen", "--out", key.to_str().unwrap()]);
        assert!(out.status.success(), "keygen: {}", stderr(&out));
        let public_file = dir.join(format!("{name}.pub"));
        let public = std::fs::read_to_string(&public_file)
            .unwrap()
            .trim()
            .to_string();
        assert!(
            stdout(&out).contains(&format!("ringside.license.verification.key={public}")),
            "{}",
            stdout(&out)
        );
        Vendor {
            dir: dir.to_path_buf(),
            key,
            public_file,
            public,
        }
    }

    /// `ringside license issue --key KEY ARGS`: the token printed.
    fn issue(&self, args: &[&str]) -> String {
        let out = ringside(&[])
            .args(["license", "issue", "--key", self.key.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "issue {args:?}: {}", stderr(&out));
        let token = stdout(&out).trim().to_string();
        assert!(token.starts_with("RSL1."), "{token}");
        token
    }

    /// A license for `cluster` valid for a year, with `extra` arguments.
    fn license(&self, id: &str, cluster: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "--id",
            id,
            "--customer",
            "ACME",
            "--kind",
            "cluster",
            "--cluster",
            cluster,
            "--days",
            "365",
        ];
        args.extend_from_slice(extra);
        self.issue(&args)
    }

    /// Writes `token` to a file named `name` beside the keys.
    fn file(&self, name: &str, token: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("{token}\n")).unwrap();
        path
    }

    fn key_property(&self) -> String {
        format!("ringside.license.verification.key={}", self.public)
    }
}

/// The value of `name: value` in the output of `inspect` or `show`.
fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name:?} in\n{text}"))
}

/// The token with `from` replaced by `to` in its payload, signature kept.
fn tamper(token: &str, from: &str, to: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let changed = payload.replace(from, to);
    assert_ne!(changed, payload, "{from} not in {payload}");
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(changed),
        parts[2]
    )
}

/// A cluster license issued in 2020 that expired at `expires`.
fn expired_at(vendor: &Vendor, id: &str, cluster: &str, expires: &str) -> String {
    vendor.issue(&[
        "--id",
        id,
        "--customer",
        "ACME",
        "--kind",
        "cluster",
        "--cluster",
        cluster,
        "--issued",
        "2020-01-01",
        "--expires",
        expires,
    ])
}

/// A license that expired long ago: beyond any grace period.
fn expired_long_ago(vendor: &Vendor, id: &str, cluster: &str) -> String {
    expired_at(vendor, id, cluster, "2020-02-01")
}

/// A license that expired yesterday: within the default 14-day grace period.
fn expired_yesterday(vendor: &Vendor, id: &str, cluster: &str) -> String {
    expired_at(
        vendor,
        id,
        cluster,
        &(Utc::now() - TimeDelta::days(1)).to_rfc3339(),
    )
}

fn status(http: &Client, coordinator: &str) -> LicenseStatus {
    http.get(format!("{coordinator}/api/v1/license"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// PUTs `token`; returns the status code and the body.
fn put(http: &Client, coordinator: &str, token: &str) -> (u16, serde_json::Value) {
    let response = http
        .put(format!("{coordinator}/api/v1/license"))
        .json(&serde_json::json!({ "license": token }))
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

/// PUTs `token`, expecting a refusal with `status` and `code`; returns the message.
fn refused(http: &Client, coordinator: &str, token: &str, status: u16, code: &str) -> String {
    let (got, body) = put(http, coordinator, token);
    let error: ErrorBody = serde_json::from_value(body.clone()).unwrap_or_else(|_| {
        panic!("not an error: {body}");
    });
    assert_eq!((got, error.error.code.as_str()), (status, code), "{body}");
    error.error.message
}

fn metrics(http: &Client, coordinator: &str) -> String {
    let text = http
        .get(format!("{coordinator}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    ringside_tests::promtool_check(&text);
    text
}

#[test]
fn the_cli_makes_keys_issues_and_inspects_licenses() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::new(dir.path(), "vendor");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&vendor.key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the secret key is the owner's alone");
    assert_eq!(vendor.public.len(), 44, "base64 of 32 bytes");
    let err = fails(&["license", "keygen", "--out", vendor.key.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");

    let out = ringside(&[])
        .args(["license", "issue", "--key", vendor.key.to_str().unwrap()])
        .args(["--customer", "ACME Corp", "--kind", "deployment"])
        .args(["--cluster", "eu-west", "--cluster", "us-east"])
        .args(["--issued", "2030-01-01", "--expires", "2031-01-01"])
        .args(["--max-workers", "3", "--max-capacity", "10TiB"])
        .args(["--feature", "s3", "--id", "L-2030-1"])
        .args(["--out", dir.path().join("acme.license").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("issued license L-2030-1 for ACME Corp: deployment license for eu-west, us-east, 2030-01-01 to 2031-01-01, 3 workers, 10TiB of page store"),
        "{}",
        stderr(&out)
    );
    let file = dir.path().join("acme.license");
    let public = vendor.public_file.to_str().unwrap();

    let out = run(&[
        "license",
        "inspect",
        file.to_str().unwrap(),
        "--public-key",
        public,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (name, value) in [
        ("id", "L-2030-1"),
        ("customer", "ACME Corp"),
        ("kind", "deployment"),
        ("clusters", "eu-west, us-east"),
        ("issued", "2030-01-01T00:00:00+00:00"),
        ("max workers", "3"),
        ("max capacity", "10TiB"),
        ("features", "s3"),
    ] {
        assert_eq!(field(&text, name), value, "{text}");
    }
    assert!(
        field(&text, "signature").starts_with("valid (key "),
        "{text}"
    );
    let out = run(&[
        "license",
        "inspect",
        file.to_str().unwrap(),
        "--public-key",
        public,
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["signature"], "valid");
    assert_eq!(json["license"]["limits"]["max_workers"], 3);
    assert_eq!(json["license"]["limits"]["max_capacity_bytes"], 10u64 << 40);
    assert!(json["days_left"].as_i64().is_some());

    // Without a key the fields show, the signature is not checked.
    let out = run(&["license", "inspect", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        field(&stdout(&out), "signature").starts_with("not checked"),
        "{}",
        stdout(&out)
    );

    // Another vendor's key, or a tampered limit: the signature fails.
    let other = Vendor::new(dir.path(), "other");
    let err = fails(&[
        "license",
        "inspect",
        file.to_str().unwrap(),
        "--public-key",
        other.public_file.to_str().unwrap(),
    ]);
    assert!(err.contains("forged or tampered"), "{err}");
    let token = std::fs::read_to_string(&file).unwrap();
    let tampered = vendor.file(
        "tampered.license",
        &tamper(token.trim(), "\"max_workers\":3", "\"max_workers\":300"),
    );
    let err = fails(&[
        "license",
        "inspect",
        tampered.to_str().unwrap(),
        "--public-key",
        public,
    ]);
    assert!(err.contains("forged or tampered"), "{err}");

    // Garbage, a missing file, a bad key file, a bad license: one clear line.
    let garbage = dir.path().join("garbage.license");
    std::fs::write(&garbage, b"\x00\x01 not a license at all").unwrap();
    let err = fails(&["license", "inspect", garbage.to_str().unwrap()]);
    assert!(err.contains("is not a license: malformed license"), "{err}");
    let err = fails(&["license", "inspect", "/nonexistent/license"]);
    assert!(
        err.contains("cannot read the license file /nonexistent/license"),
        "{err}"
    );
    let err = fails(&[
        "license",
        "issue",
        "--key",
        garbage.to_str().unwrap(),
        "--customer",
        "C",
        "--kind",
        "cluster",
        "--cluster",
        "a",
        "--days",
        "3",
    ]);
    assert!(err.contains("malformed vendor key file"), "{err}");
    let err = fails(&[
        "license",
        "issue",
        "--key",
        vendor.key.to_str().unwrap(),
        "--customer",
        "C",
        "--kind",
        "cluster",
        "--cluster",
        "a",
        "--cluster",
        "b",
        "--days",
        "3",
    ]);
    assert!(
        err.contains("a cluster license names exactly one cluster"),
        "{err}"
    );
    let err = fails(&[
        "license",
        "issue",
        "--key",
        vendor.key.to_str().unwrap(),
        "--customer",
        "C",
        "--kind",
        "cluster",
        "--cluster",
        "a",
        "--expires",
        "someday",
    ]);
    assert!(err.contains("expected a date YYYY-MM-DD"), "{err}");
}

/// Starts a coordinator for cluster `beta` with `properties`, expecting it
/// to stop at start; returns its one line of stderr.
fn start_fails(properties: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![
        "ringside.cluster.name=beta".to_string(),
        "ringside.coordinator.bind.host=127.0.0.1".to_string(),
        format!("ringside.coordinator.port={}", free_port()),
        format!(
            "ringside.coordinator.metastore.dir={}",
            dir.path().join("metastore").display()
        ),
    ];
    all.extend(default_token_file(dir.path(), properties));
    all.extend_from_slice(properties);
    let mut child = ringside(&all)
        .args(["process", "start", "coordinator"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the coordinator started with {properties:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let last = err.trim().lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("ringside: cannot start the coordinator: "),
        "{err}"
    );
    last
}

#[test]
fn bad_licenses_in_the_configuration_stop_the_coordinator_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::new(dir.path(), "vendor");
    let other = Vendor::new(dir.path(), "other");
    let good = vendor.license("L-1", "beta", &["--max-workers", "2"]);
    let license = |token: &str| format!("ringside.license={token}");

    let err = start_fails(&[license(&good)]);
    assert!(
        err.contains("ringside.license is set but ringside.license.verification.key is not"),
        "{err}"
    );
    let err = start_fails(&[
        license(&other.license("L-2", "beta", &[])),
        vendor.key_property(),
    ]);
    assert!(
        err.contains("ringside.license: the license signature does not verify"),
        "{err}"
    );
    assert!(err.contains("forged or tampered"), "{err}");
    let tampered = tamper(&good, "\"max_workers\":2", "\"max_workers\":200");
    let err = start_fails(&[license(&tampered), vendor.key_property()]);
    assert!(err.contains("forged or tampered"), "{err}");
    let err = start_fails(&[
        license(&vendor.license("L-3", "alpha", &[])),
        vendor.key_property(),
    ]);
    assert!(
        err.contains("license L-3 covers alpha; this cluster is beta"),
        "{err}"
    );
    let err = start_fails(&[license("RSL1.garbage"), vendor.key_property()]);
    assert!(err.contains("malformed license"), "{err}");
    let err = start_fails(&[
        license(&good),
        "ringside.license.verification.key=not-a-key".to_string(),
    ]);
    assert!(err.contains("malformed license verification key"), "{err}");
}

#[test]
fn the_api_refuses_bad_licenses_with_a_code_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::new(dir.path(), "vendor");
    let other = Vendor::new(dir.path(), "other");
    let coordinator =
        start_coordinator_with("beta", dir.path(), free_port(), &[vendor.key_property()]);
    let http = bearer_client(&cluster_token(dir.path()));
    let url = coordinator.url.as_str();

    let before = status(&http, url);
    assert_eq!(before.state, LicenseState::Unlicensed);
    assert!(before.verification_key_configured && before.license.is_none());

    let message = refused(&http, url, "hello", 400, "license_invalid");
    assert!(message.contains("malformed license"), "{message}");
    let forged = other.license("L-F", "beta", &[]);
    let message = refused(&http, url, &forged, 403, "license_invalid");
    assert!(message.contains("forged or tampered"), "{message}");
    let good = vendor.license("L-1", "beta", &["--max-workers", "2"]);
    let tampered = tamper(&good, "\"max_workers\":2", "\"max_workers\":200");
    let message = refused(&http, url, &tampered, 403, "license_invalid");
    assert!(message.contains("forged or tampered"), "{message}");
    let message = refused(
        &http,
        url,
        &vendor.license("L-A", "alpha", &[]),
        403,
        "license_wrong_cluster",
    );
    assert!(
        message.contains("license L-A covers alpha; this cluster is beta"),
        "{message}"
    );
    let message = refused(
        &http,
        url,
        &expired_long_ago(&vendor, "L-OLD", "beta"),
        403,
        "license_expired",
    );
    assert!(
        message.contains(
            "license L-OLD expired on 2020-02-01 and its grace period ended on 2020-02-15"
        ),
        "{message}"
    );
    let response = http
        .put(format!("{url}/api/v1/license"))
        .json(&serde_json::json!({ "token": good }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        status(&http, url).state,
        LicenseState::Unlicensed,
        "nothing applied"
    );

    let (code, body) = put(&http, url, &good);
    assert_eq!(code, 200, "{body}");
    let applied: LicenseStatus = serde_json::from_value(body).unwrap();
    assert_eq!(applied.state, LicenseState::Valid);
    assert_eq!(applied.license.as_ref().unwrap().id, "L-1");
    assert_eq!(applied.source, Some(LicenseSource::Api));
    assert_eq!(
        (applied.workers_limit, applied.days_left),
        (Some(2), Some(364))
    );
    assert!(
        applied
            .message
            .contains("license L-1 for ACME is valid until"),
        "{}",
        applied.message
    );

    let doc: serde_json::Value = http
        .get(format!("{url}/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["paths"]["/api/v1/license"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/license"]["put"].is_object());
    assert!(doc["components"]["schemas"]["LicenseStatus"].is_object());

    // The CLI: show, and apply refused with the coordinator's reason.
    let token = default_token_file(dir.path(), &[]);
    let cli = |args: &[&str]| {
        ringside(&token)
            .args(["--coordinator", url])
            .args(args)
            .output()
            .unwrap()
    };
    let out = cli(&["license", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(field(&stdout(&out), "state"), "valid", "{}", stdout(&out));
    assert_eq!(
        field(&stdout(&out), "workers"),
        "0 of 2",
        "{}",
        stdout(&out)
    );
    let out = cli(&["license", "show", "--format", "json"]);
    let shown: LicenseStatus = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown.license.unwrap().id, "L-1");
    let forged_file = vendor.file("forged.license", &forged);
    let out = cli(&["license", "apply", forged_file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("forged or tampered"),
        "{}",
        stderr(&out)
    );

    // A coordinator without a verification key cannot take a license.
    let keyless_dir = dir.path().join("keyless");
    std::fs::create_dir_all(&keyless_dir).unwrap();
    let keyless = start_coordinator_with("beta", &keyless_dir, free_port(), &[]);
    let keyless_http = bearer_client(&cluster_token(&keyless_dir));
    let message = refused(&keyless_http, &keyless.url, &good, 409, "license_no_key");
    assert!(
        message.contains("no ringside.license.verification.key"),
        "{message}"
    );
    assert_eq!(status(&http, &keyless.url).state, LicenseState::Unlicensed);
}

fn sample(ufs: &Path) {
    std::fs::create_dir_all(ufs.join("data")).unwrap();
    for i in 0..6 {
        let bytes: Vec<u8> = (0..100_000 + i * 333).map(|b| (b * 13 + i) as u8).collect();
        std::fs::write(ufs.join(format!("data/f{i}.bin")), bytes).unwrap();
    }
}

/// Every sample file read through the cluster equals the UFS's bytes.
fn cat_all(cluster: &Cluster) {
    for i in 0..6 {
        let path = format!("/data/f{i}.bin");
        let out = cluster.cli(&["fs", "cat", &path]);
        assert!(out.status.success(), "fs cat {path}: {}", stderr(&out));
        assert_eq!(
            out.stdout,
            std::fs::read(cluster.ufs.join(&path[1..])).unwrap(),
            "{path}"
        );
    }
}

/// Starts one more worker, expecting the coordinator to refuse it and the
/// worker to stop; returns its log.
fn refused_worker(cluster: &Cluster, name: &str) -> String {
    refused_worker_with(cluster, name, &cluster.properties)
}

/// [`refused_worker`] with its own properties.
fn refused_worker_with(cluster: &Cluster, name: &str, properties: &[String]) -> String {
    let log = cluster.dir.path().join(format!("worker-{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = worker_command(name, cluster.dir.path(), properties, free_port())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "worker {name} was not refused:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!exit.success(), "a refused worker exits non-zero:\n{text}");
    assert!(
        text.contains("ringside: the coordinator refused this worker: license "),
        "{text}"
    );
    text
}

fn online(cluster: &Cluster) -> usize {
    cluster.online().len()
}

#[test]
fn limits_refuse_a_worker_beyond_them_while_the_others_keep_serving() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::new(dir.path(), "vendor");
    let two = vendor.license("L-TWO", "lim", &["--max-workers", "2"]);
    let (cluster, mut workers) = Cluster::start_with(
        "lim",
        &["w1", "w2"],
        &[vendor.key_property(), format!("ringside.license={two}")],
        sample,
    );
    let url = cluster.coordinator.url.clone();
    let http = &cluster.http;
    let now = status(http, &url);
    assert_eq!(now.state, LicenseState::Valid);
    assert_eq!(now.source, Some(LicenseSource::Property));
    assert_eq!((now.workers_used, now.workers_limit), (2, Some(2)));
    assert_eq!(now.capacity_used_bytes, 32 << 20);

    let log = refused_worker(&cluster, "w3");
    assert!(
        log.contains("license L-TWO allows 2 workers; worker ") && log.contains("would be the 3rd"),
        "{log}"
    );
    assert_eq!(
        cluster.workers().len(),
        2,
        "the refused worker never joined"
    );
    assert_eq!(online(&cluster), 2);
    cat_all(&cluster);

    // A capacity limit, applied through the API, holds at once: 2 x 16MiB
    // are in, a third 16MiB would make 48MiB.
    let capacity = vendor.file(
        "capacity.license",
        &vendor.license(
            "L-CAP",
            "lim",
            &["--max-workers", "10", "--max-capacity", "40MiB"],
        ),
    );
    let out = cluster.cli(&["license", "apply", capacity.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("applied license L-CAP"),
        "{}",
        stdout(&out)
    );
    let log = refused_worker(&cluster, "w3");
    assert!(
        log.contains("license L-CAP allows 40MiB of page store capacity; worker ")
            && log.contains("with 16MiB would bring the cluster to 48MiB"),
        "{log}"
    );
    assert_eq!(online(&cluster), 2);

    // Nor can a worker that is ONLINE grow past it: w2 restarted at once
    // (still ONLINE, the same identity) with twice the page store.
    workers[1].kill();
    let mut bigger = cluster.properties.clone();
    bigger.push("ringside.worker.pagestore.size=32MiB".to_string());
    let log = refused_worker_with(&cluster, "w2", &bigger);
    assert!(
        log.contains("with 32MiB would bring the cluster to 48MiB"),
        "{log}"
    );
    workers[1] = cluster.add_worker("w2");
    assert!(eventually(Duration::from_secs(10), || online(&cluster) == 2));

    // Room for three: the third joins.
    let three = vendor.file(
        "three.license",
        &vendor.license(
            "L-THREE",
            "lim",
            &["--max-workers", "3", "--max-capacity", "48MiB"],
        ),
    );
    let out = cluster.cli(&["license", "apply", three.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _w3 = cluster.add_worker("w3");
    assert!(eventually(Duration::from_secs(10), || online(&cluster) == 3));

    // A lower limit applied later never cuts off a worker already ONLINE.
    let one = vendor.file(
        "one.license",
        &vendor.license("L-ONE", "lim", &["--max-workers", "1"]),
    );
    let out = cluster.cli(&["license", "apply", one.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(online(&cluster), 3, "members are never cut off");
    let now = status(http, &url);
    assert_eq!((now.workers_used, now.workers_limit), (3, Some(1)));
    cat_all(&cluster);

    let text = metrics(http, &url);
    assert!(
        text.contains("ringside_license_state{state=\"valid\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ringside_license_workers_limit{license=\"L-ONE\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ringside_license_remaining_seconds{license=\"L-ONE\"}"),
        "{text}"
    );
}

/// Waits for the latest LOAD of `/data` to end and returns it.
fn load_finished(cluster: &Cluster) -> JobView {
    let mut last = None;
    let done = eventually(Duration::from_secs(60), || {
        let out = cluster.cli(&[
            "job",
            "load",
            "--path",
            "/data",
            "--progress",
            "--format",
            "JSON",
        ]);
        let job: JobView = serde_json::from_slice(&out.stdout).unwrap();
        let active = job.state.is_active();
        last = Some(job);
        !active
    });
    let job = last.unwrap();
    assert!(done, "the job never finished: {job:?}");
    job
}

#[test]
fn expiry_grace_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::new(dir.path(), "vendor");
    let old = expired_long_ago(&vendor, "L-OLD", "exp");
    // Expired beyond its grace period at start: the coordinator starts (reads
    // never stop because of a license) and refuses new jobs.
    let (mut cluster, workers) = Cluster::start_with(
        "exp",
        &["w1"],
        &[vendor.key_property(), format!("ringside.license={old}")],
        sample,
    );
    let url = cluster.coordinator.url.clone();
    let http = cluster.http.clone();
    let now = status(&http, &url);
    assert_eq!(now.state, LicenseState::Expired);
    assert!(now.days_left.unwrap() < -14, "{now:?}");
    assert!(
        now.message.contains("license L-OLD expired on 2020-02-01 and its grace period ended on 2020-02-15: new jobs are refused"),
        "{}",
        now.message
    );
    let out = cluster.cli(&["job", "load", "--path", "/data", "--submit"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("license L-OLD expired on 2020-02-01"),
        "{}",
        stderr(&out)
    );
    let response = http
        .post(format!("{url}/api/v1/jobs"))
        .json(&serde_json::json!({ "job_type": "LOAD", "path": "/data" }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<ErrorBody>().unwrap().error.code,
        "license_expired"
    );
    assert!(
        cluster
            .coordinator
            .log_text()
            .contains("license L-OLD expired on 2020-02-01"),
        "logged loudly at start"
    );
    // Reads go on, through the CLI and straight from a worker.
    cat_all(&cluster);
    let bytes = http
        .get(format!("{}/api/v1/files/data/f3.bin", workers[0].url))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(cluster.ufs.join("data/f3.bin")).unwrap()
    );

    // In the grace period jobs run, with warnings.
    let grace = expired_yesterday(&vendor, "L-GRACE", "exp");
    let (code, body) = put(&http, &url, &grace);
    assert_eq!(code, 200, "{body}");
    let now: LicenseStatus = serde_json::from_value(body).unwrap();
    assert_eq!((now.state, now.days_left), (LicenseState::Grace, Some(-2)));
    assert!(now.message.contains("EXPIRED on"), "{}", now.message);
    let out = cluster.cli(&["job", "load", "--path", "/data", "--submit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(load_finished(&cluster).state, JobState::Succeeded);
    assert!(
        cluster
            .coordinator
            .log_text()
            .contains("license L-GRACE for ACME EXPIRED on"),
        "a job submitted in grace warns"
    );
    let text = metrics(&http, &url);
    assert!(
        text.contains("ringside_license_state{state=\"grace\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ringside_license_state{state=\"valid\"} 0"),
        "{text}"
    );

    // The license applied through the API survives a restart: the property
    // did not change, so it does not take over again.
    cluster.crash_and_restart_coordinator();
    let url = cluster.coordinator.url.clone();
    let now = status(&http, &url);
    assert_eq!(now.license.as_ref().unwrap().id, "L-GRACE");
    assert_eq!(
        (now.state, now.source),
        (LicenseState::Grace, Some(LicenseSource::Api))
    );

    // A changed ringside.license is applied at the next start.
    let fresh = vendor.license("L-NEW", "exp", &[]);
    for p in cluster.properties.iter_mut() {
        if p.starts_with("ringside.license=") {
            *p = format!("ringside.license={fresh}");
        }
    }
    cluster.crash_and_restart_coordinator();
    let url = cluster.coordinator.url.clone();
    let now = status(&http, &url);
    assert_eq!(now.license.as_ref().unwrap().id, "L-NEW");
    assert_eq!(
        (now.state, now.source),
        (LicenseState::Valid, Some(LicenseSource::Property))
    );
    let out = cluster.cli(&["job", "free", "--path", "/data", "--submit"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
