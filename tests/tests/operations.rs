//! The fan-out engine against real coordinators: bulk loads with a cluster
//! down and a retry, a console killed mid-operation, staged rollouts that
//! halt, cancel, and the coordinator's idempotency keys underneath.

use std::time::Duration;

use reqwest::{StatusCode, blocking::Client};
use ringside_api::operation::{OperationState, OperationView, TargetState};
use ringside_tests::{
    Simulator, cluster::Cluster, eventually, free_port, labelled_metric, start_console,
};
use serde_json::{Value, json};

fn register(client: &Client, console: &str, name: &str, url: &str, labels: Value) {
    add_cluster(
        client,
        console,
        json!({"name": name, "coordinator_url": url, "labels": labels}),
    );
}

fn add_cluster(client: &Client, console: &str, body: Value) {
    let response = client
        .post(format!("{console}/api/v1/clusters"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{body}");
}

/// Registers `name` at `url` of the fleet simulator, with its token.
fn register_simulated(
    client: &Client,
    console: &str,
    fleet: &Simulator,
    name: &str,
    url: &str,
    labels: Value,
) {
    add_cluster(
        client,
        console,
        json!({"name": name, "coordinator_url": url, "access_token": fleet.token, "labels": labels}),
    );
}

/// Registers each of `clusters` under its own name with `labels`, and its
/// cluster token so the console may change it.
fn register_all(client: &Client, console: &str, clusters: &[&Cluster], labels: Value) {
    for cluster in clusters {
        add_cluster(
            client,
            console,
            json!({
                "name": cluster.name,
                "coordinator_url": cluster.coordinator.url,
                "access_token": cluster.token(),
                "labels": labels,
            }),
        );
    }
}

fn start(client: &Client, console: &str, request: Value) -> OperationView {
    let response = client
        .post(format!("{console}/api/v1/operations"))
        .json(&request)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().unwrap()
}

fn operation(client: &Client, console: &str, id: &str) -> OperationView {
    get_json(client, format!("{console}/api/v1/operations/{id}"))
}

/// Waits until the operation is no longer RUNNING and answers it.
fn finished(client: &Client, console: &str, id: &str, timeout: Duration) -> OperationView {
    let mut last = None;
    let done = eventually(timeout, || {
        let op = operation(client, console, id);
        let over = op.summary.state != OperationState::Running;
        last = Some(op);
        over
    });
    let last = last.expect("at least one look");
    assert!(done, "operation still running: {last:#?}");
    last
}

fn target<'a>(op: &'a OperationView, cluster: &str) -> &'a ringside_api::operation::TargetView {
    op.targets
        .iter()
        .find(|t| t.cluster == cluster)
        .unwrap_or_else(|| panic!("no target {cluster} in {op:#?}"))
}

fn jobs(client: &Client, coordinator: &str) -> Vec<Value> {
    get_json(client, format!("{coordinator}/api/v1/jobs"))
}

/// GET `url`, answered as JSON.
fn get_json<T: serde::de::DeserializeOwned>(client: &Client, url: String) -> T {
    client.get(url).send().unwrap().json().unwrap()
}

fn data(ufs: &std::path::Path) {
    std::fs::create_dir_all(ufs.join("data")).unwrap();
    std::fs::write(ufs.join("data/a.bin"), vec![7u8; 100_000]).unwrap();
}

#[test]
fn bulk_load_with_a_cluster_down_then_retry_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _wa) = Cluster::start_with("op-a", &["a1"], &[], data);
    let (b, _wb) = Cluster::start_with("op-b", &["b1"], &[], data);
    let (mut c, _wc) = Cluster::start_with("op-c", &["c1"], &[], data);
    c.coordinator.kill();
    let console = start_console(dir.path(), "10s", None);
    let http = console.client();
    register_all(&http, &console.url, &[&a, &b, &c], json!({"env": "test"}));
    register(
        &http,
        &console.url,
        "other",
        "http://127.0.0.1:1",
        json!({"env": "prod"}),
    );

    let request = json!({
        "action": {"type": "load", "path": "/data"},
        "targets": {"kind": "selector", "selector": "env=test"},
        "rollout": {"retries": 1, "timeout_ms": 1000},
    });
    let preview: Value = http
        .post(format!("{}/api/v1/operations/preview", console.url))
        .json(&request)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(preview["targets"], json!(["op-a", "op-b", "op-c"]));
    assert_eq!(preview["description"], "load /data on 3 clusters");

    let op = start(&http, &console.url, request);
    assert_eq!(op.targets.len(), 3, "only the selected clusters");
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(30));
    assert_eq!(op.summary.state, OperationState::Failed);
    for name in ["op-a", "op-b"] {
        let t = target(&op, name);
        assert_eq!(t.state, TargetState::Succeeded, "{t:?}");
        assert!(t.message.as_deref().unwrap().contains("LOAD job"), "{t:?}");
    }
    let down = target(&op, "op-c");
    assert_eq!(down.state, TargetState::Failed);
    assert_eq!(down.attempts, 2, "one call and one retry");
    assert!(
        down.message.as_deref().unwrap().contains("unreachable"),
        "{down:?}"
    );
    assert_eq!(jobs(&http, &a.coordinator.url).len(), 1);

    // Retrying a target that succeeded is refused, saying why.
    let refused = http
        .post(format!(
            "{}/api/v1/operations/{}/targets/op-a/retry",
            console.url, op.summary.id
        ))
        .send()
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().unwrap().contains("only FAILED targets"));

    c.crash_and_restart_coordinator();
    let retried = http
        .post(format!(
            "{}/api/v1/operations/{}/targets/op-c/retry",
            console.url, op.summary.id
        ))
        .send()
        .unwrap();
    assert_eq!(retried.status(), StatusCode::OK);
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(30));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert_eq!(target(&op, "op-c").attempts, 3);
    assert_eq!(jobs(&http, &c.coordinator.url).len(), 1);
    for cluster in [&a, &b, &c] {
        assert_eq!(
            labelled_metric(
                &cluster.coordinator.url,
                "ringside_idempotent_requests_total",
                "outcome=\"executed\""
            ),
            1,
            "{}",
            cluster.name
        );
    }

    // Every step is in the audit trail.
    let audit: Value = get_json(
        &http,
        format!("{}/api/v1/audit?action=operation", console.url),
    );
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "operation.create",
        "operation.wave",
        "operation.retry",
        "operation.finish",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[test]
fn a_console_killed_mid_operation_resumes_and_runs_every_target_once() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("ufs"));
    let fleet = Simulator::start(dir.path(), 24, 300);
    let mut console = start_console(dir.path(), "1h", None);
    let http = console.client();
    for (name, url) in &fleet.clusters {
        register_simulated(&http, &console.url, &fleet, name, url, json!({}));
    }
    let op = start(
        &http,
        &console.url,
        json!({
            "action": {"type": "load", "path": "/data"},
            "targets": {"kind": "all"},
            "rollout": {"concurrency": 3},
        }),
    );
    let id = op.summary.id.clone();
    assert!(
        eventually(Duration::from_secs(30), || {
            operation(&http, &console.url, &id).summary.counts.succeeded >= 5
        }),
        "the operation did not get going"
    );
    console.kill();
    let console = start_console(dir.path(), "1h", None);
    let op = finished(&http, &console.url, &id, Duration::from_secs(60));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert_eq!(op.summary.counts.succeeded, 24);
    let mut replayed = 0;
    for (name, url) in &fleet.clusters {
        let count = |outcome: &str| {
            labelled_metric(
                url,
                "ringside_idempotent_requests_total",
                &format!("outcome=\"{outcome}\""),
            )
        };
        assert_eq!(count("executed"), 1, "{name} ran the load more than once");
        assert_eq!(jobs(&http, url).len(), 1, "{name}");
        replayed += count("replayed");
    }
    // The simulator answers 300 ms after doing the work, so the calls in
    // flight at the kill had been carried out: the restarted console sent
    // them again and got the first answers back.
    assert!(replayed >= 1, "no call was in flight at the kill");
}

#[test]
fn a_staged_rollout_halts_at_the_threshold_and_cancel_stops_what_has_not_started() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("ufs"));
    let fleet = Simulator::start(dir.path(), 8, 0);
    let console = start_console(dir.path(), "1h", None);
    let http = console.client();
    for (name, url) in &fleet.clusters {
        register_simulated(
            &http,
            &console.url,
            &fleet,
            name,
            url,
            json!({"tier": "live"}),
        );
    }
    for name in ["dead-a", "dead-b"] {
        let url = format!("http://127.0.0.1:{}", free_port());
        register(&http, &console.url, name, &url, json!({"tier": "live"}));
    }

    // Canary first, then waves of two: the dead pair fails the second
    // wave, which passes max_failures = 1, so nothing more starts.
    let op = start(
        &http,
        &console.url,
        json!({
            "action": {"type": "free", "path": "/data"},
            "targets": {"kind": "selector", "selector": "tier=live"},
            "rollout": {"canary": ["sim-0003"], "wave_size": 2, "max_failures": 1,
                        "retries": 0, "timeout_ms": 500},
        }),
    );
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(30));
    assert_eq!(op.summary.state, OperationState::Halted, "{op:#?}");
    assert_eq!(target(&op, "sim-0003").wave, 0);
    assert_eq!(target(&op, "sim-0003").state, TargetState::Succeeded);
    for dead in ["dead-a", "dead-b"] {
        assert_eq!(target(&op, dead).wave, 1);
        assert_eq!(target(&op, dead).state, TargetState::Failed);
    }
    let skipped: Vec<&str> = op
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Skipped)
        .map(|t| t.cluster.as_str())
        .collect();
    assert_eq!(skipped.len(), 7, "{op:#?}");
    for (name, url) in &fleet.clusters {
        let expected = usize::from(name == "sim-0003");
        assert_eq!(jobs(&http, url).len(), expected, "{name}");
    }

    // One at a time: cancel after the first has run; those not started
    // are cancelled and never reach their coordinator.
    drop(fleet);
    let slow_dir = tempfile::tempdir().unwrap();
    data(&slow_dir.path().join("ufs"));
    let slow = Simulator::start(slow_dir.path(), 6, 400);
    let names: Vec<String> = slow
        .clusters
        .iter()
        .map(|(n, _)| format!("slow-{n}"))
        .collect();
    for ((_, url), name) in slow.clusters.iter().zip(&names) {
        register_simulated(
            &http,
            &console.url,
            &slow,
            name,
            url,
            json!({"tier": "slow"}),
        );
    }
    let op = start(
        &http,
        &console.url,
        json!({
            "action": {"type": "load", "path": "/data"},
            "targets": {"kind": "clusters", "names": names},
            "rollout": {"concurrency": 1},
        }),
    );
    let id = op.summary.id.clone();
    assert!(eventually(Duration::from_secs(20), || {
        operation(&http, &console.url, &id).summary.counts.succeeded >= 1
    }));
    let cancelled = http
        .post(format!("{}/api/v1/operations/{id}/cancel", console.url))
        .send()
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let op = finished(&http, &console.url, &id, Duration::from_secs(20));
    assert_eq!(op.summary.state, OperationState::Cancelled, "{op:#?}");
    let ran = op.summary.counts.succeeded as usize;
    assert!((1..=2).contains(&ran), "{op:#?}");
    assert_eq!(op.summary.counts.cancelled as usize, 6 - ran);
    let with_jobs = slow
        .clusters
        .iter()
        .filter(|(_, url)| !jobs(&http, url).is_empty())
        .count();
    assert_eq!(with_jobs, ran);
    let again = http
        .post(format!("{}/api/v1/operations/{id}/cancel", console.url))
        .send()
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let history: Vec<Value> = get_json(&http, format!("{}/api/v1/operations?limit=1", console.url));
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["id"], id.as_str());
    assert_eq!(history[0]["counts"]["total"], 6);
}

#[test]
fn bad_operation_requests_get_a_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "1h", None);
    let http = console.client();
    register(
        &http,
        &console.url,
        "one",
        "http://127.0.0.1:1",
        json!({"env": "a"}),
    );
    let cases = [
        (
            json!({"action": {"type": "load", "path": "/d"}, "targets": {"kind": "clusters", "names": ["nope"]}}),
            "targets.names",
            "no cluster named nope",
        ),
        (
            json!({"action": {"type": "load", "path": "/d"}, "targets": {"kind": "selector", "selector": "env=,"}}),
            "targets.selector",
            "expected key=value",
        ),
        (
            json!({"action": {"type": "load", "path": "d"}, "targets": {"kind": "all"}}),
            "action.path",
            "not absolute",
        ),
        (
            json!({"action": {"type": "load", "path": "/d"}, "targets": {"kind": "all"}, "rollout": {"concurrency": 0}}),
            "rollout.concurrency",
            "expected 1 to 256",
        ),
        (
            json!({"action": {"type": "load", "path": "/d"}, "targets": {"kind": "selector", "selector": "env=b"}}),
            "targets",
            "no registered cluster matches",
        ),
        (
            json!({"action": {"type": "load", "path": "/d"}, "targets": {"kind": "all"}, "rollout": {"canary": ["x"]}}),
            "rollout.canary",
            "not among the operation's targets",
        ),
    ];
    for (body, field, message) in cases {
        let response = http
            .post(format!("{}/api/v1/operations", console.url))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().unwrap();
        assert_eq!(error["error"]["field"], field, "{error}");
        let text = error["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text}");
    }
    let unknown_action = http
        .post(format!("{}/api/v1/operations", console.url))
        .json(&json!({"action": {"type": "explode"}, "targets": {"kind": "all"}}))
        .send()
        .unwrap();
    assert_eq!(unknown_action.status(), StatusCode::BAD_REQUEST);
    let missing = http
        .get(format!("{}/api/v1/operations/no-such-id", console.url))
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let history: Vec<Value> = get_json(&http, format!("{}/api/v1/operations", console.url));
    assert!(history.is_empty(), "nothing refused was started");
}

#[test]
fn the_coordinator_runs_a_keyed_request_once() {
    let (cluster, _workers) = Cluster::start_with("idem", &[], &[], data);
    let http = cluster.http.clone();
    let jobs_url = format!("{}/api/v1/jobs", cluster.coordinator.url);
    let submit = |key: &str, path: &str| {
        http.post(&jobs_url)
            .header("Idempotency-Key", key)
            .json(&json!({"job_type": "FREE", "path": path}))
            .send()
            .unwrap()
    };
    let first = submit("k-1", "/data");
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first: Value = first.json().unwrap();
    let again = submit("k-1", "/data");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.json::<Value>().unwrap()["id"], first["id"]);
    assert_eq!(jobs(&http, &cluster.coordinator.url).len(), 1);

    let reused = submit("k-1", "/data/a.bin");
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reused.text().unwrap().contains("different request"));

    // A failed call keeps nothing: the same key runs for real once the
    // cause is fixed.
    let missing = submit("k-2", "/later");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    std::fs::create_dir_all(cluster.ufs.join("later")).unwrap();
    std::fs::write(cluster.ufs.join("later/x"), b"x").unwrap();
    assert_eq!(submit("k-2", "/later").status(), StatusCode::CREATED);

    let bad = http
        .post(&jobs_url)
        .header("Idempotency-Key", "has space")
        .json(&json!({"job_type": "FREE", "path": "/data"}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().unwrap().contains("visible ASCII"));
}

/// `ringside ARGS`, which must succeed; answers its stdout.
fn cli(args: &[&str]) -> String {
    let out = ringside_tests::ringside(&[]).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ringside {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_deployment_license_uploaded_once_is_applied_to_the_clusters_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("vendor.key");
    let key_text = key.display().to_string();
    cli(&["license", "keygen", "--out", &key_text]);
    let public = std::fs::read_to_string(dir.path().join("vendor.pub")).unwrap();
    let trust = [format!(
        "ringside.license.verification.key={}",
        public.trim()
    )];
    let (a, _wa) = Cluster::start_with("lic-a", &["a1"], &trust, data);
    let (b, _wb) = Cluster::start_with("lic-b", &["b1"], &trust, data);
    let console = start_console(dir.path(), "1s", None);
    let http = console.client();
    register_all(&http, &console.url, &[&a, &b], json!({}));
    let issue = |id: &str, key: &str, days: &str| {
        let out = dir.path().join(format!("{id}.license"));
        cli(&[
            "license",
            "issue",
            "--key",
            key,
            "--customer",
            "ACME",
            "--kind",
            "deployment",
            "--cluster",
            "lic-a",
            "--cluster",
            "lic-b",
            "--cluster",
            "lic-elsewhere",
            "--days",
            days,
            "--max-workers",
            "1",
            "--id",
            id,
            "--out",
            &out.display().to_string(),
        ]);
        std::fs::read_to_string(out).unwrap()
    };
    let upload = |token: &str| {
        http.post(format!("{}/api/v1/licenses", console.url))
            .json(&json!({ "license": token }))
            .send()
            .unwrap()
    };

    let token = issue("L-DEP-1", &key_text, "20");
    let uploaded = upload(&token);
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let uploaded: Value = uploaded.json().unwrap();
    assert_eq!(uploaded["registered"], json!(["lic-a", "lic-b"]));
    assert_eq!(uploaded["unregistered"], json!(["lic-elsewhere"]));
    assert_eq!(
        upload(&token).status(),
        StatusCode::CREATED,
        "the same again is a no-op"
    );

    let applied = http
        .post(format!("{}/api/v1/licenses/L-DEP-1/apply", console.url))
        .send()
        .unwrap();
    assert_eq!(applied.status(), StatusCode::CREATED);
    let op: OperationView = applied.json().unwrap();
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(20));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    for cluster in [&a, &b] {
        let status: Value = get_json(&http, format!("{}/api/v1/license", cluster.coordinator.url));
        assert_eq!(status["state"], "valid", "{status}");
        assert_eq!(status["license"]["id"], "L-DEP-1");
    }

    // The dashboard shows both, with the alerts: expiry within 30 days
    // and every licensed worker in use; the fleet marks them degraded.
    let mut dashboard = Value::Null;
    assert!(eventually(Duration::from_secs(15), || {
        dashboard = get_json(&http, format!("{}/api/v1/licenses", console.url));
        dashboard["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"]["state"] == "valid")
    }));
    for row in dashboard["rows"].as_array().unwrap() {
        let alerts: Vec<&str> = row["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            alerts.iter().any(|a| a.starts_with("license expires in")),
            "{alerts:?}"
        );
        assert!(
            alerts.iter().any(|a| a.contains("1 of 1 licensed workers")),
            "{alerts:?}"
        );
    }
    let fleet: Vec<Value> = get_json(&http, format!("{}/api/v1/clusters", console.url));
    for cluster in &fleet {
        let reasons = cluster["status"]["reasons"].to_string();
        assert!(reasons.contains("license expires in"), "{reasons}");
    }

    // A license signed by another vendor is refused by each coordinator,
    // with the reason, on the operation's page.
    let other = dir.path().join("other.key");
    cli(&["license", "keygen", "--out", &other.display().to_string()]);
    let forged = issue("L-FORGED", &other.display().to_string(), "300");
    assert_eq!(upload(&forged).status(), StatusCode::CREATED);
    let op: OperationView = http
        .post(format!("{}/api/v1/licenses/L-FORGED/apply", console.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(20));
    assert_eq!(op.summary.state, OperationState::Failed);
    for t in &op.targets {
        let message = t.message.as_deref().unwrap();
        assert!(message.starts_with("403"), "{message}");
        assert!(message.contains("signature"), "{message}");
        assert_eq!(t.attempts, 1, "a refusal is not retried");
    }

    // Bad uploads say what is wrong.
    let garbage = upload("not a license");
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let error: Value = garbage.json().unwrap();
    assert_eq!(error["error"]["field"], "license");
    let reused = upload(&issue("L-DEP-1", &key_text, "30"));
    assert_eq!(reused.status(), StatusCode::CONFLICT);
    let unknown = http
        .post(format!("{}/api/v1/licenses/L-NOPE/apply", console.url))
        .send()
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[test]
fn properties_pushed_to_every_cluster_take_effect_live() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Simulator::start(dir.path(), 3, 0);
    let console = start_console(dir.path(), "1h", None);
    let http = console.client();
    for (name, url) in &fleet.clusters {
        register_simulated(&http, &console.url, &fleet, name, url, json!({}));
    }
    let push = |properties: Value| {
        let op = start(
            &http,
            &console.url,
            json!({
                "action": {"type": "push_properties", "properties": properties},
                "targets": {"kind": "all"},
            }),
        );
        finished(&http, &console.url, &op.summary.id, Duration::from_secs(20))
    };
    let op = push(json!({"ringside.job.retention.time": "2h"}));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert_eq!(
        op.summary.description,
        "push ringside.job.retention.time on 3 clusters"
    );
    for (name, url) in &fleet.clusters {
        let properties: Vec<Value> = get_json(&http, format!("{url}/api/v1/properties"));
        let retention = properties
            .iter()
            .find(|p| p["key"] == "ringside.job.retention.time")
            .unwrap();
        assert_eq!(retention["value"], "2h", "{name}");
        assert!(
            retention["source"].as_str().unwrap().starts_with("api"),
            "{retention}"
        );
    }
    // A key a coordinator cannot change live is refused by each, with why,
    // and not retried.
    let op = push(json!({"ringside.coordinator.port": "1"}));
    assert_eq!(op.summary.state, OperationState::Failed);
    for t in &op.targets {
        let message = t.message.as_deref().unwrap();
        assert!(message.starts_with("400"), "{message}");
        assert!(message.contains("restart"), "{message}");
        assert_eq!(t.attempts, 1);
    }
}

#[test]
fn operations_and_licenses_run_on_postgresql_too() {
    let db = ringside_tests::PgDatabase::create("ops_it");
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("ufs"));
    let fleet = Simulator::start(dir.path(), 3, 0);
    let mut console = start_console(dir.path(), "1h", Some(&db.url));
    let http = console.client();
    for (name, url) in &fleet.clusters {
        register_simulated(&http, &console.url, &fleet, name, url, json!({"db": "pg"}));
    }
    let op = start(
        &http,
        &console.url,
        json!({
            "action": {"type": "load", "path": "/data"},
            "targets": {"kind": "selector", "selector": "db=pg"},
            "rollout": {"wave_size": 2},
        }),
    );
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(20));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert_eq!(
        op.targets.iter().map(|t| t.wave).collect::<Vec<_>>(),
        [0, 0, 1]
    );
    // What was stored is what a restarted console reads back.
    console.kill();
    let console = start_console(dir.path(), "1h", Some(&db.url));
    assert_eq!(operation(&http, &console.url, &op.summary.id), op);
    let history: Vec<Value> = get_json(&http, format!("{}/api/v1/operations", console.url));
    assert_eq!(history[0]["counts"]["succeeded"], 3);

    let key = dir.path().join("vendor.key").display().to_string();
    cli(&["license", "keygen", "--out", &key]);
    let file = dir.path().join("pg.license").display().to_string();
    cli(&[
        "license",
        "issue",
        "--key",
        &key,
        "--customer",
        "PG",
        "--kind",
        "deployment",
        "--cluster",
        "sim-0000",
        "--cluster",
        "sim-0001",
        "--days",
        "90",
        "--id",
        "L-PG",
        "--out",
        &file,
    ]);
    let token = std::fs::read_to_string(&file).unwrap();
    let uploaded = http
        .post(format!("{}/api/v1/licenses", console.url))
        .json(&json!({ "license": token }))
        .send()
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let dashboard: Value = get_json(&http, format!("{}/api/v1/licenses", console.url));
    assert_eq!(dashboard["uploaded"][0]["license"]["id"], "L-PG");
    assert_eq!(
        dashboard["uploaded"][0]["registered"],
        json!(["sim-0000", "sim-0001"])
    );
}

/// The console's lifecycle controls: a rolling restart fanned out to two
/// clusters (each coordinator restarts its workers in place, one at a time)
/// and the one-click cleanup of stale OFFLINE entries, both audited.
#[test]
fn a_rolling_restart_fans_out_and_stale_workers_are_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let (a, mut wa) = Cluster::start_with("life-a", &["a1", "a2"], &[], data);
    let (b, _wb) = Cluster::start_with("life-b", &["b1"], &[], data);
    let console = start_console(dir.path(), "200ms", None);
    let http = console.client();
    register_all(&http, &console.url, &[&a, &b], json!({"env": "life"}));
    let starts = |cluster: &Cluster| -> Vec<String> {
        let mut starts: Vec<String> = cluster
            .online()
            .iter()
            .map(|w| {
                let status: Value =
                    get_json(&http, format!("{}/api/v1/status", w.heartbeat.address));
                status["started_at"].as_str().unwrap().to_string()
            })
            .collect();
        starts.sort();
        starts
    };
    let before = (starts(&a), starts(&b));

    let op = start(
        &http,
        &console.url,
        json!({
            "action": {"type": "rolling_restart", "max_unavailable": 1},
            "targets": {"kind": "selector", "selector": "env=life"},
        }),
    );
    let op = finished(&http, &console.url, &op.summary.id, Duration::from_secs(30));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert!(
        target(&op, "life-a")
            .message
            .as_deref()
            .unwrap()
            .contains("2 workers"),
        "{op:#?}"
    );
    for (cluster, workers) in [(&a, 2u32), (&b, 1)] {
        let done = eventually(Duration::from_secs(30), || {
            let l: Value = get_json(
                &http,
                format!("{}/api/v1/lifecycle", cluster.coordinator.url),
            );
            l["restart"]["finished_at"].is_string() && l["phase"] == "Ready"
        });
        let l: Value = get_json(
            &http,
            format!("{}/api/v1/lifecycle", cluster.coordinator.url),
        );
        assert!(done, "{l:#}");
        assert_eq!(l["restart"]["restarted"], workers, "{l:#}");
        assert_eq!(l["restart"]["error"], Value::Null, "{l:#}");
    }
    let after = (starts(&a), starts(&b));
    assert!(
        before.0.iter().zip(&after.0).all(|(x, y)| y > x),
        "{before:?} {after:?}"
    );
    assert!(
        before.1.iter().zip(&after.1).all(|(x, y)| y > x),
        "{before:?} {after:?}"
    );
    assert!(
        wa.iter_mut().all(|w| w.is_running()),
        "the workers restarted in place: their processes never exited"
    );

    // The cluster page's data carries the lifecycle: phase and versions.
    assert!(eventually(Duration::from_secs(10), || {
        let detail: Value = get_json(&http, format!("{}/api/v1/clusters/life-a", console.url));
        detail["lifecycle"]["phase"] == "Ready"
            && detail["lifecycle"]["processes"]
                .as_array()
                .is_some_and(|p| p.len() == 3)
    }));

    // A worker gone for good leaves an OFFLINE entry; the console removes it.
    let gone = wa.pop().unwrap();
    let id = a.member_id(&gone);
    gone.stop();
    assert!(eventually(Duration::from_secs(15), || {
        let detail: Value = get_json(&http, format!("{}/api/v1/clusters/life-a", console.url));
        detail["lifecycle"]["stale_offline"] == json!([id])
    }));
    let removed: Vec<String> = http
        .delete(format!(
            "{}/api/v1/clusters/life-a/stale-workers",
            console.url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(removed, vec![id.clone()]);
    assert!(
        a.workers().iter().all(|w| w.heartbeat.id != id),
        "removed from the member list"
    );
    let unknown = http
        .delete(format!(
            "{}/api/v1/clusters/nope/stale-workers",
            console.url
        ))
        .send()
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let audit: Value = get_json(
        &http,
        format!(
            "{}/api/v1/audit?action=cluster.remove_stale_workers&cluster=life-a",
            console.url
        ),
    );
    let entry = &audit["entries"][0];
    assert_eq!(entry["targets"], json!(["life-a"]), "{audit:#}");
    assert_eq!(entry["detail"]["workers"], json!([id]), "{audit:#}");
}
