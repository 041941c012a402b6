//! Pushing dynamic properties to a running coordinator
//! (`PATCH /api/v1/properties`): they apply live, survive a restart, clear
//! back to the site's value, and a bad push changes nothing.

use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use ringside_api::{ErrorBody, PropertyView, WorkerState};
use ringside_tests::{cluster::Cluster, eventually};
use serde_json::{Value, json};

const FAILURE_TIMEOUT: &str = "ringside.worker.failure.detection.timeout";
const MAX_TASKS: &str = "ringside.job.max.tasks.per.worker";
const RATIO: &str = "ringside.job.failure.ratio.threshold";
const RETENTION: &str = "ringside.job.retention.time";

fn patch(cluster: &Cluster, body: &Value, key: Option<&str>) -> Response {
    let mut request = cluster
        .http
        .patch(format!("{}/api/v1/properties", cluster.coordinator.url))
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().unwrap()
}

fn properties(cluster: &Cluster) -> Vec<PropertyView> {
    cluster
        .http
        .get(format!("{}/api/v1/properties", cluster.coordinator.url))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn find(list: &[PropertyView], key: &str) -> PropertyView {
    list.iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("{key} is not listed"))
        .clone()
}

/// Asserts `response` is a 400 with `code`, and returns its message.
fn refused(response: Response, code: &str) -> String {
    assert_eq!(response.status(), 400);
    let body: ErrorBody = response.json().unwrap();
    assert_eq!(body.error.code, code, "{}", body.error.message);
    body.error.message
}

fn pushed_at(view: &PropertyView) -> &str {
    view.source
        .strip_prefix("api (")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{} was not pushed: {}", view.key, view.source))
}

#[test]
fn pushed_properties_apply_live_survive_a_restart_and_clear() {
    let site = [format!("{FAILURE_TIMEOUT}=30s"), format!("{MAX_TASKS}=5")];
    let (mut cluster, mut workers) = Cluster::start_with("props", &["w1"], &site, |_| {});
    let before = properties(&cluster);
    assert_eq!(find(&before, FAILURE_TIMEOUT).value, "30s");
    assert_eq!(find(&before, FAILURE_TIMEOUT).source, "--set");

    // Failure detection: with 30s a silent worker would stay ONLINE for
    // half a minute; pushed down to 1s it goes OFFLINE at once.
    let answer = patch(
        &cluster,
        &json!({"properties": {FAILURE_TIMEOUT: "1s"}}),
        None,
    );
    assert_eq!(answer.status(), 200);
    let list: Vec<PropertyView> = answer.json().unwrap();
    assert_eq!(list.len(), before.len());
    let pushed = find(&list, FAILURE_TIMEOUT);
    assert_eq!(pushed.value, "1s");
    assert!(pushed_at(&pushed).ends_with('Z'), "{}", pushed.source);
    assert_eq!(find(&properties(&cluster), FAILURE_TIMEOUT), pushed);
    assert_eq!(cluster.online().len(), 1, "a 200ms heartbeat beats 1s");

    let epoch = cluster.epoch();
    workers.remove(0).kill();
    let stopped = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), || cluster
            .workers()
            .iter()
            .all(|w| w.state == WorkerState::Offline)),
        "the worker never went OFFLINE"
    );
    let offline_after = stopped.elapsed();
    assert!(
        offline_after < Duration::from_secs(4),
        "OFFLINE after {offline_after:?}: the pushed 1s timeout did not apply (the site's is 30s)"
    );
    // Membership's refresh loop uses it too: the ring drops the worker.
    assert!(
        eventually(Duration::from_secs(5), || cluster.epoch() != epoch
            && cluster.ring()["members"]
                .as_array()
                .is_some_and(Vec::is_empty)),
        "the ring kept the OFFLINE worker"
    );

    // Job settings, with an idempotency key: a retry gets the same answer.
    let body = json!({"properties": {MAX_TASKS: "7", RETENTION: "2h"}});
    let first = patch(&cluster, &body, Some("push-jobs-1"));
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().unwrap();
    let again = patch(&cluster, &body, Some("push-jobs-1"));
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().unwrap(), first);
    let list = properties(&cluster);
    let tasks = find(&list, MAX_TASKS);
    assert_eq!(tasks.value, "7");
    pushed_at(&tasks);
    assert_eq!(find(&list, RETENTION).value, "2h");

    // Kept in the metastore: a coordinator killed and started again with
    // the same site values runs with the pushed ones.
    cluster.crash_and_restart_coordinator();
    let restarted = properties(&cluster);
    assert_eq!(find(&restarted, MAX_TASKS), tasks);
    assert_eq!(find(&restarted, FAILURE_TIMEOUT), pushed);
    assert_eq!(find(&restarted, RETENTION).value, "2h");

    // `null` clears a pushed value: the site's (or the default) is back.
    let cleared: Vec<PropertyView> = patch(
        &cluster,
        &json!({"properties": {MAX_TASKS: null, RETENTION: null, FAILURE_TIMEOUT: null}}),
        None,
    )
    .json()
    .unwrap();
    assert_eq!(cleared, before);
    assert_eq!(properties(&cluster), before);
    cluster.crash_and_restart_coordinator();
    assert_eq!(properties(&cluster), before);
}

#[test]
fn a_bad_push_is_refused_whole_and_changes_nothing() {
    let (cluster, _workers) = Cluster::start_with("badprops", &[], &[], |_| {});
    let before = properties(&cluster);

    let message = refused(
        patch(
            &cluster,
            &json!({"properties": {MAX_TASKS: "4", "ringside.job.max.taks.per.worker": "4"}}),
            None,
        ),
        "unknown_property",
    );
    assert!(
        message.contains("\"ringside.job.max.taks.per.worker\"")
            && message.contains(&format!("did you mean `{MAX_TASKS}`")),
        "{message}"
    );

    let message = refused(
        patch(
            &cluster,
            &json!({"properties": {MAX_TASKS: "4", "ringside.coordinator.port": "1234"}}),
            None,
        ),
        "not_dynamic",
    );
    assert!(
        message.contains("ringside.coordinator.port")
            && message.contains("ringside-site.properties")
            && message.contains("restart"),
        "{message}"
    );
    // Dynamic, but the workers' business: the coordinator does not take it.
    let message = refused(
        patch(
            &cluster,
            &json!({"properties": {"ringside.worker.pagestore.high.watermark": "0.95"}}),
            None,
        ),
        "not_dynamic",
    );
    assert!(
        message.contains("not a setting of the coordinator"),
        "{message}"
    );

    // One good value and one bad one: neither applies.
    let response = patch(
        &cluster,
        &json!({"properties": {MAX_TASKS: "4", RATIO: "2"}}),
        Some("bad-push-1"),
    );
    assert_eq!(response.status(), 400);
    let body: ErrorBody = response.json().unwrap();
    assert_eq!(body.error.code, "invalid_value");
    assert_eq!(body.error.field.as_deref(), Some(RATIO));
    assert!(
        body.error.message.contains(RATIO) && body.error.message.contains("expected a ratio"),
        "{}",
        body.error.message
    );
    let message = refused(
        patch(&cluster, &json!({"properties": {MAX_TASKS: "lots"}}), None),
        "invalid_value",
    );
    assert!(
        message.contains("expected an integer from 1 to 1024"),
        "{message}"
    );
    let message = refused(
        patch(
            &cluster,
            &json!({"properties": {FAILURE_TIMEOUT: "100ms"}}),
            None,
        ),
        "invalid_value",
    );
    assert!(message.contains("expected a duration from 1s"), "{message}");
    // Not a patch at all.
    let response = patch(&cluster, &json!({"props": {MAX_TASKS: "4"}}), None);
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<ErrorBody>().unwrap().error.code,
        "invalid_body"
    );
    assert_eq!(
        properties(&cluster),
        before,
        "a refused push changed something"
    );

    // A refused call leaves its idempotency key free for the fixed retry.
    let fixed = patch(
        &cluster,
        &json!({"properties": {MAX_TASKS: "4", RATIO: "0.2"}}),
        Some("bad-push-1"),
    );
    assert_eq!(fixed.status(), 200);
    assert!(fixed.headers().get("idempotent-replayed").is_none());
    let list: Vec<PropertyView> = fixed.json().unwrap();
    assert_eq!(find(&list, MAX_TASKS).value, "4");
    assert_eq!(find(&list, RATIO).value, "0.2");

    let doc: Value = cluster
        .http
        .get(format!("{}/api/v1/openapi.json", cluster.coordinator.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["paths"]["/api/v1/properties"]["patch"].is_object());
    assert!(doc["components"]["schemas"]["PropertyPatch"].is_object());
}

#[test]
fn the_cli_pushes_and_clears_properties() {
    let (cluster, _workers) = Cluster::start_with("cliprops", &[], &[], |_| {});
    let text = |output: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };

    let set = cluster.cli(&[
        "conf",
        "set",
        &format!("{MAX_TASKS}=6"),
        &format!("{RETENTION}=3h"),
    ]);
    assert!(set.status.success(), "{}", text(&set));
    let out = text(&set);
    assert!(out.contains(MAX_TASKS) && out.contains("api ("), "{out}");

    let get = cluster.cli(&["conf", "get", MAX_TASKS, "--format", "json"]);
    assert!(get.status.success(), "{}", text(&get));
    let shown: Vec<PropertyView> = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].value, "6");
    assert_eq!(find(&properties(&cluster), RETENTION).value, "3h");

    let bad = cluster.cli(&[
        "conf",
        "set",
        &format!("{MAX_TASKS}=7"),
        "ringside.worker.port=1",
    ]);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("ringside-site.properties"),
        "{}",
        text(&bad)
    );
    assert_eq!(find(&properties(&cluster), MAX_TASKS).value, "6");

    let unset = cluster.cli(&["conf", "unset", MAX_TASKS, RETENTION]);
    assert!(unset.status.success(), "{}", text(&unset));
    let list = properties(&cluster);
    assert_eq!(find(&list, MAX_TASKS).source, "default");
    assert_eq!(find(&list, RETENTION).value, "7d");
}
