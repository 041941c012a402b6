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
