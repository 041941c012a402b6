//! The coordinator daemon and the `ringside` CLI as an operator runs them.

use std::process::Command;

use ringside_api::{ClusterInfo, ErrorBody};
use ringside_tests::{bin, start_coordinator};

#[test]
fn coordinator_serves_info_health_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let coordinator = start_coordinator("beta", dir.path());
    let info: ClusterInfo = reqwest::blocking::get(format!("{}/api/v1/info", coordinator.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info.name, "beta");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    let doc: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/openapi.json", coordinator.url))
            .unwrap()
            .json()
            .unwrap();
    assert!(doc["paths"]["/api/v1/info"]["get"].is_object());
    let missing = reqwest::blocking::get(format!("{}/api/v1/nope", coordinator.url)).unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<ErrorBody>().unwrap().error.code, "not_found");

    // The cluster id lives in the metastore: a restart keeps it.
    let id = info.id;
    coordinator.stop();
    let again = start_coordinator("beta", dir.path());
    let info: ClusterInfo = reqwest::blocking::get(format!("{}/api/v1/info", again.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info.id, id);
}

fn start_with_conf(conf: &str, extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ringside-site.properties"), conf).unwrap();
    let output = Command::new(bin("ringside"))
        .args(["--conf", dir.path().to_str().unwrap()])
        .args(extra)
        .args(["process", "start", "coordinator"])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_stops_the_coordinator_with_key_file_line_and_expectation() {
    let (ok, err) = start_with_conf("# ports\nringside.coordinator.port=abc\n", &[]);
    assert!(!ok);
    assert!(err.contains("ringside-site.properties:2"), "{err}");
    assert!(err.contains("ringside.coordinator.port"), "{err}");
    assert!(err.contains("expected a port number"), "{err}");

    let (ok, err) = start_with_conf("ringside.coordinator.prot=19999\n", &[]);
    assert!(!ok);
    assert!(err.contains("ringside-site.properties:1"), "{err}");
    assert!(
        err.contains("did you mean") && err.contains("ringside.coordinator.port"),
        "{err}"
    );

    let (ok, err) = start_with_conf("", &["--set", "ringside.worker.pagestore.size=lots"]);
    assert!(!ok);
    assert!(
        err.contains("--set") && err.contains("ringside.worker.pagestore.size"),
        "{err}"
    );
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one line that says it all: {err}"
    );
}

#[test]
fn info_version_prints_the_version() {
    let text = Command::new(bin("ringside"))
        .args(["info", "version"])
        .output()
        .unwrap();
    assert!(text.status.success());
    assert_eq!(
        String::from_utf8(text.stdout).unwrap().trim(),
        env!("CARGO_PKG_VERSION")
    );
    let json = Command::new(bin("ringside"))
        .args(["info", "version", "--format", "JSON"])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
}

/// Secure by default: with no security settings at all, a new cluster's
/// coordinator writes a private cluster token, refuses control calls
/// without it, and a worker without it cannot join; NONE opens it on purpose.
#[test]
fn a_new_cluster_refuses_control_calls_without_its_token() {
    use std::{os::unix::fs::PermissionsExt, time::Duration};

    use ringside_tests::{
        bearer_client, cluster_token, eventually, free_port, ringside, start_coordinator_with,
        start_worker, worker_command,
    };

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let coordinator = start_coordinator_with("closed", dir.path(), port, &[]);
    let token_file = dir.path().join("cluster.token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the coordinator's user may read it"
    );
    let token = cluster_token(dir.path());
    assert!(token.len() >= 43, "a 256-bit secret");
    assert!(
        !coordinator.log_text().contains(&token),
        "the token itself is never logged"
    );
    assert!(coordinator.log_text().contains("wrote a new cluster token"));

    let jobs = format!("{}/api/v1/jobs", coordinator.url);
    let job = serde_json::json!({"job_type": "FREE", "path": "/"});
    let anonymous = reqwest::blocking::Client::new()
        .post(&jobs)
        .json(&job)
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let refusal: ErrorBody = anonymous.json().unwrap();
    assert!(
        refusal
            .error
            .message
            .contains("ringside.security.cluster.token.file"),
        "{}",
        refusal.error.message
    );
    let wrong = bearer_client("not-the-cluster-token-at-all")
        .post(&jobs)
        .json(&job)
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // Reads stay open, as metrics and status are.
    assert!(
        reqwest::blocking::get(format!("{}/api/v1/workers", coordinator.url))
            .unwrap()
            .status()
            .is_success()
    );

    let ufs = dir.path().join("ufs");
    std::fs::create_dir_all(&ufs).unwrap();
    let cluster = [
        "ringside.cluster.name=closed".to_string(),
        format!("ringside.ufs.root={}", ufs.display()),
        format!("ringside.coordinator.address={}", coordinator.url),
        "ringside.worker.pagestore.size=16MiB".to_string(),
        "ringside.worker.pagestore.reserved.size=4MiB".to_string(),
        "ringside.worker.heartbeat.interval=200ms".to_string(),
    ];
    // A worker given no token does not start, and says where to get one.
    let elsewhere = format!(
        "ringside.security.cluster.token.file={}",
        dir.path().join("nowhere/cluster.token").display()
    );
    let stranger = worker_command(
        "stranger",
        dir.path(),
        &[cluster.to_vec(), vec![elsewhere.clone()]].concat(),
        free_port(),
    )
    .output()
    .unwrap();
    assert!(!stranger.status.success());
    let err = String::from_utf8_lossy(&stranger.stderr);
    assert!(
        err.contains("does not exist") && err.contains("ringside.security.cluster.token.file"),
        "{err}"
    );
    let _worker = start_worker("w1", dir.path(), &cluster);
    let workers = || -> Vec<serde_json::Value> {
        reqwest::blocking::get(format!("{}/api/v1/workers", coordinator.url))
            .unwrap()
            .json()
            .unwrap()
    };
    assert!(eventually(Duration::from_secs(10), || workers().len() == 1));

    // The CLI: a control call without the token is refused with the reason,
    // and with it reaches the coordinator (which then knows no such worker).
    let remove = |token_property: &str| {
        ringside(&[cluster.to_vec(), vec![token_property.to_string()]].concat())
            .args(["process", "remove-worker", "--name", "no-such-worker"])
            .output()
            .unwrap()
    };
    let refused = remove(&elsewhere);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("ringside.security.cluster.token.file"),
        "{err}"
    );
    let admitted = remove(&format!(
        "ringside.security.cluster.token.file={}",
        token_file.display()
    ));
    let err = String::from_utf8_lossy(&admitted.stderr);
    assert!(!err.contains("cluster token"), "{err}");
    assert!(err.contains("no-such-worker"), "{err}");

    // A restart keeps the token.
    coordinator.stop();
    let again = start_coordinator_with("closed", dir.path(), port, &[]);
    assert_eq!(cluster_token(dir.path()), token);

    // NONE is an explicit choice, and the log says what it means.
    again.stop();
    let open_dir = tempfile::tempdir().unwrap();
    let open = start_coordinator_with(
        "open",
        open_dir.path(),
        free_port(),
        &["ringside.security.authentication.type=NONE".to_string()],
    );
    assert!(!open_dir.path().join("cluster.token").exists());
    let accepted = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/jobs", open.url))
        .json(&job)
        .send()
        .unwrap();
    assert_ne!(accepted.status(), 401);
    assert!(
        open.log_text()
            .contains("control calls are not authenticated")
    );
}
