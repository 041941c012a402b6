//! The console's REST API against real processes: a console and real
//! coordinators, each on its own loopback port.

use std::time::Duration;

use reqwest::{StatusCode, blocking::Client};
use ringside_api::{ClusterDetail, ClusterView, ErrorBody, Health, drift::DriftReport};
use ringside_tests::{
    cluster::Cluster, eventually, free_port, start_console, start_coordinator_with,
};
use serde_json::json;

fn clusters(client: &Client, console: &str) -> Vec<ClusterView> {
    client
        .get(format!("{console}/api/v1/clusters"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn post_raw(
    client: &Client,
    console: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (StatusCode, ErrorBody) {
    // A server may answer an oversized body early and close the connection
    // without reading the rest; do not hand that connection back to the pool.
    let response = client
        .post(format!("{console}/api/v1/clusters"))
        .header("connection", "close")
        .header("content-type", content_type)
        .body(body)
        .send()
        .unwrap();
    let status = response.status();
    let text = response.text().unwrap();
    let body: ErrorBody = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("status {status}: body is not the error envelope ({e}): {text}")
    });
    (status, body)
}

#[test]
fn register_watch_edit_and_remove_a_real_cluster() {
    let (cluster, mut workers) = Cluster::start_with("alpha", &["w1", "w2"], &[], |ufs| {
        std::fs::write(ufs.join("data.bin"), vec![7u8; 300 * 1024]).unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "300ms", None);
    let client = console.client();
    let coordinator = &cluster.coordinator.url;

    let response = client
        .post(format!("{}/api/v1/clusters", console.url))
        .json(&json!({
            "name": "alpha",
            "coordinator_url": format!("{coordinator}/"),
            "labels": {"team": "ml"},
            "region": "eu-west-1",
            "access_token": "tok-s3cr3t-value"
        }))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().unwrap();
    assert!(
        !text.contains("tok-s3cr3t-value"),
        "the token is never shown: {text}"
    );
    let created: ClusterView = serde_json::from_str(&text).unwrap();
    assert_eq!(
        created.cluster.coordinator_url, *coordinator,
        "trailing slash is dropped"
    );
    assert!(created.cluster.has_access_token);
    assert_eq!(created.cluster.region, "eu-west-1");

    // Ready, with the members, capacity and ring the coordinator reports.
    assert!(
        eventually(Duration::from_secs(15), || {
            let s = &clusters(&client, &console.url)[0].status;
            s.health == Health::Ready && s.workers_online == 2 && s.capacity_bytes > 0
        }),
        "the cluster never showed as ready: {:?}",
        clusters(&client, &console.url)[0].status
    );
    let up = detail(&client, &console.url, "alpha");
    assert_eq!(up.workers.len(), 2);
    assert_eq!(up.ring.as_ref().map(|r| r.members.len()), Some(2));
    assert_eq!(
        up.view.status.version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );

    // Reads through the cache show up as a hit ratio of the last poll
    // interval: a miss, then hits, read on until a poll has seen them.
    assert!(
        eventually(Duration::from_secs(15), || {
            assert!(cluster.cli(&["fs", "cat", "/data.bin"]).status.success());
            clusters(&client, &console.url)[0]
                .status
                .hit_ratio
                .is_some_and(|r| r > 0.0 && r <= 1.0)
        }),
        "reads never showed as a hit ratio"
    );

    // The token is sealed at rest: not in the database file in the clear.
    let db = std::fs::read(dir.path().join("console/console.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("console/console.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(16).any(|w| w == b"tok-s3cr3t-value"),
            "the token is stored in the clear"
        );
    }
    assert!(dir.path().join("console/secret.key").exists());

    // A dead worker degrades the cluster, saying why.
    workers[1].kill();
    assert!(
        eventually(Duration::from_secs(20), || {
            let s = &clusters(&client, &console.url)[0].status;
            s.health == Health::Degraded
                && s.reasons
                    .iter()
                    .any(|r| r.contains("1 of 2 workers OFFLINE"))
        }),
        "a dead worker never degraded the cluster: {:?}",
        clusters(&client, &console.url)[0].status
    );

    // An edit changes what it names and keeps the rest.
    let edited = client
        .patch(format!("{}/api/v1/clusters/alpha", console.url))
        .json(&json!({"region": "us-east-1", "access_token": ""}))
        .send()
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    let edited: ClusterView = edited.json().unwrap();
    assert_eq!(edited.cluster.region, "us-east-1");
    assert!(
        !edited.cluster.has_access_token,
        "an empty token removes it"
    );
    assert_eq!(edited.cluster.labels["team"], "ml");
    let bad = client
        .patch(format!("{}/api/v1/clusters/alpha", console.url))
        .json(&json!({"ca_certificate": "not a certificate"}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: ErrorBody = bad.json().unwrap();
    assert_eq!(body.error.field.as_deref(), Some("ca_certificate"));
    let missing = client
        .patch(format!("{}/api/v1/clusters/nope", console.url))
        .json(&json!({"region": "x"}))
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // A stopped coordinator is unreachable, the last known version kept.
    let Cluster { coordinator, .. } = cluster;
    coordinator.stop();
    assert!(
        eventually(Duration::from_secs(10), || {
            let status = &clusters(&client, &console.url)[0].status;
            status.health == Health::Unreachable && status.last_error.is_some()
        }),
        "a stopped coordinator never showed as unreachable"
    );
    let down = detail(&client, &console.url, "alpha");
    assert_eq!(down.workers.len(), 2, "what was known stays");
    assert!(down.view.status.failures >= 1);

    let gone = client
        .delete(format!("{}/api/v1/clusters/alpha", console.url))
        .send()
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert!(clusters(&client, &console.url).is_empty());
}

fn detail(client: &Client, console: &str, name: &str) -> ClusterDetail {
    client
        .get(format!("{console}/api/v1/clusters/{name}"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// One bad request and the answer it must get.
struct Case {
    what: &'static str,
    body: Vec<u8>,
    content_type: &'static str,
    status: StatusCode,
    message: &'static str,
    field: Option<&'static str>,
}

#[test]
fn bad_input_gets_a_json_4xx_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "10s", None);
    let client = console.client();
    let url = &console.url;
    let good = json!({"name": "one", "coordinator_url": "http://127.0.0.1:1"});
    let created = client
        .post(format!("{url}/api/v1/clusters"))
        .json(&good)
        .send()
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let json_case = |what, body: serde_json::Value, status, message, field| Case {
        what,
        body: body.to_string().into_bytes(),
        content_type: "application/json",
        status,
        message,
        field,
    };
    let mut oversized =
        json!({"name": "two", "coordinator_url": "http://h:1", "labels": {"pad": ""}})
            .to_string()
            .into_bytes();
    let at = oversized.len() - 3;
    oversized.splice(at..at, std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    let cases = [
        json_case(
            "duplicate name",
            good.clone(),
            StatusCode::CONFLICT,
            "already registered",
            Some("name"),
        ),
        json_case(
            "malformed url",
            json!({"name": "two", "coordinator_url": "not a url"}),
            StatusCode::BAD_REQUEST,
            "expected an http:// or https:// URL",
            Some("coordinator_url"),
        ),
        json_case(
            "bad scheme",
            json!({"name": "two", "coordinator_url": "ftp://h:1"}),
            StatusCode::BAD_REQUEST,
            "scheme",
            Some("coordinator_url"),
        ),
        json_case(
            "bad name",
            json!({"name": "Two!", "coordinator_url": "http://h:1"}),
            StatusCode::BAD_REQUEST,
            "not a valid cluster name",
            Some("name"),
        ),
        json_case(
            "bad token",
            json!({"name": "two", "coordinator_url": "http://h:1", "access_token": "a b"}),
            StatusCode::BAD_REQUEST,
            "visible ASCII",
            Some("access_token"),
        ),
        json_case(
            "bad certificate",
            json!({"name": "two", "coordinator_url": "http://h:1", "ca_certificate": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"}),
            StatusCode::BAD_REQUEST,
            "expected a PEM",
            Some("ca_certificate"),
        ),
        json_case(
            "unknown field",
            json!({"name": "two", "coordinator_url": "http://h:1", "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "colour",
            None,
        ),
        json_case(
            "missing field",
            json!({"name": "two"}),
            StatusCode::BAD_REQUEST,
            "coordinator_url",
            None,
        ),
        Case {
            what: "not json",
            body: b"{name: two".to_vec(),
            content_type: "application/json",
            status: StatusCode::BAD_REQUEST,
            message: "not valid JSON",
            field: None,
        },
        Case {
            what: "wrong content type",
            body: good.to_string().into_bytes(),
            content_type: "text/plain",
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "application/json",
            field: None,
        },
        Case {
            what: "2 MiB body",
            body: oversized,
            content_type: "application/json",
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "larger than",
            field: None,
        },
    ];
    for case in cases {
        let (got, error) = post_raw(&client, url, case.body, case.content_type);
        let what = case.what;
        assert_eq!(got, case.status, "{what}: {error:?}");
        assert!(
            error.error.message.contains(case.message),
            "{what}: {:?}",
            error.error.message
        );
        assert_eq!(error.error.field.as_deref(), case.field, "{what}");
    }

    let listed = clusters(&client, url);
    assert_eq!(listed.len(), 1, "bad input must not change the registry");
    assert_eq!(listed[0].cluster.name, "one");
    assert_eq!(listed[0].cluster.coordinator_url, "http://127.0.0.1:1");

    let missing = client
        .get(format!("{url}/api/v1/clusters/nope"))
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: ErrorBody = missing.json().unwrap();
    assert_eq!(body.error.code, "not_found");
    let no_route = client
        .get(format!("{url}/api/v1/nothing-here"))
        .send()
        .unwrap();
    assert_eq!(no_route.status(), StatusCode::NOT_FOUND);
    assert!(no_route.json::<ErrorBody>().is_ok());
    let delete_missing = client
        .delete(format!("{url}/api/v1/clusters/nope"))
        .send()
        .unwrap();
    assert_eq!(delete_missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn pages_render_and_unknown_ones_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "10s", None);
    let client = console.client();
    let fleet = client.get(&console.url).send().unwrap();
    assert_eq!(fleet.status(), StatusCode::OK);
    assert!(fleet.text().unwrap().contains("Register a cluster"));
    let page = client
        .get(format!("{}/clusters/nope", console.url))
        .send()
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().unwrap().contains("Not found"));
    let other = client
        .get(format!("{}/no/such/page", console.url))
        .send()
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_openapi_document_describes_the_cluster_routes() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "10s", None);
    let doc: serde_json::Value = console
        .client()
        .get(format!("{}/api/v1/openapi.json", console.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/clusters"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/clusters/{name}"]["delete"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[test]
fn the_console_runs_on_postgresql_too() {
    let db = ringside_tests::PgDatabase::create("it");
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "10s", Some(&db.url));
    let client = console.client();
    let created = client
        .post(format!("{}/api/v1/clusters", console.url))
        .json(&json!({"name": "pg", "coordinator_url": "http://127.0.0.1:1"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(clusters(&client, &console.url)[0].cluster.name, "pg");
    console.stop();
}

#[test]
fn config_drift_against_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let a = start_coordinator_with("drift-a", dir.path(), free_port(), &[]);
    let b = start_coordinator_with(
        "drift-b",
        dir.path(),
        free_port(),
        &["ringside.job.batch.size=50".to_string()],
    );
    let console = start_console(dir.path(), "10s", None);
    let client = console.client();
    for (name, c) in [("drift-a", &a), ("drift-b", &b)] {
        let r = client
            .post(format!("{}/api/v1/clusters", console.url))
            .json(&json!({"name": name, "coordinator_url": c.url}))
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let report: DriftReport = client
        .get(format!("{}/api/v1/drift?baseline=drift-a", console.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(report.clusters, vec!["drift-b".to_string()]);
    let differing: Vec<&str> = report
        .rows
        .iter()
        .filter(|r| r.differs)
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(
        differing,
        ["ringside.job.batch.size"],
        "names and ports are not drift"
    );
    let row = report
        .rows
        .iter()
        .find(|r| r.key == "ringside.job.batch.size")
        .unwrap();
    assert_eq!(row.values, vec![Some("50".to_string())]);

    // A cluster that cannot be reached is reported, not fatal.
    b.stop();
    let report: DriftReport = client
        .get(format!(
            "{}/api/v1/drift?baseline=drift-a&clusters=drift-b",
            console.url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(report.clusters.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, "drift-b");

    for (query, status) in [
        ("baseline=nope", StatusCode::NOT_FOUND),
        ("baseline=drift-a&clusters=nope", StatusCode::NOT_FOUND),
        ("", StatusCode::BAD_REQUEST),
    ] {
        let r = client
            .get(format!("{}/api/v1/drift?{query}", console.url))
            .send()
            .unwrap();
        assert_eq!(r.status(), status, "{query}");
        let text = r.text().unwrap();
        assert!(
            serde_json::from_str::<ErrorBody>(&text).is_ok(),
            "{query}: not the error envelope: {text}"
        );
    }
}
