//! The audit trail through the console's API, against a real console on
//! SQLite and on PostgreSQL: every change (and every refused one) leaves
//! one entry with who, what, targets and result; access tokens never
//! appear; filters, paging and the JSON-lines export work; bad query
//! values get a 400 naming the field; no route and no SQL statement can
//! edit or delete an entry.

use reqwest::{Method, StatusCode, blocking::Client};
use ringside_api::{
    ErrorBody,
    audit::{AuditEntry, AuditPage, AuditResult},
};
use ringside_tests::start_console;
use serde_json::json;

const TOKEN: &str = "tok-s3cr3t-value";
const NEW_TOKEN: &str = "tok-n3w-s3cr3t";

fn page(client: &Client, console: &str, query: &str) -> AuditPage {
    let response = client
        .get(format!("{console}/api/v1/audit?{query}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let text = response.text().unwrap();
    for secret in [TOKEN, NEW_TOKEN] {
        assert!(!text.contains(secret), "{query}: a token is shown: {text}");
    }
    serde_json::from_str(&text).unwrap()
}

fn actions(page: &AuditPage) -> Vec<&str> {
    page.entries.iter().map(|e| e.action.as_str()).collect()
}

fn export(client: &Client, console: &str, query: &str) -> Vec<AuditEntry> {
    let response = client
        .get(format!("{console}/api/v1/audit/export?{query}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    assert_eq!(
        response.headers()["content-type"],
        "application/x-ndjson",
        "{query}"
    );
    let text = response.text().unwrap();
    for secret in [TOKEN, NEW_TOKEN] {
        assert!(!text.contains(secret), "export {query}: a token: {text}");
    }
    assert!(text.is_empty() || text.ends_with('\n'), "lines end: {text}");
    text.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON entry ({e}): {line}"))
        })
        .collect()
}

fn error(response: reqwest::blocking::Response) -> (StatusCode, ErrorBody) {
    let status = response.status();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not the error envelope ({e}): {text}"));
    (status, body)
}

/// Drives a console through changes and reads them back; `sql` runs a
/// statement on the console's database with the backend's own client and
/// answers its error output, or none when it succeeded.
fn exercise(daemon: &ringside_tests::Daemon, sql: impl Fn(&str) -> Option<String>) {
    let client = daemon.client();
    let console = daemon.url.as_str();
    let clusters = format!("{console}/api/v1/clusters");
    // The harness logged in and issued its API token: both are audited.
    assert_eq!(
        actions(&page(&client, console, "")),
        ["token.issue", "auth.login"]
    );

    let r = client
        .post(&clusters)
        .json(&json!({
            "name": "alpha",
            "coordinator_url": "http://127.0.0.1:1",
            "labels": {"team": "ml"},
            "access_token": TOKEN,
        }))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .patch(format!("{clusters}/alpha"))
        .json(&json!({"region": "us-east-1", "access_token": NEW_TOKEN}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Refused: a bad field (with the token in the same body), a body that
    // is not JSON, a taken name, a cluster that does not exist.
    let r = client
        .post(&clusters)
        .json(&json!({"name": "beta", "coordinator_url": "not a url", "access_token": TOKEN}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = client
        .post(&clusters)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"name\": \"gamma\", \"access_token\": \"{TOKEN}\""
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = client
        .post(&clusters)
        .json(&json!({"name": "alpha", "coordinator_url": "http://127.0.0.1:2"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = client.delete(format!("{clusters}/nope")).send().unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = client.delete(format!("{clusters}/alpha")).send().unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // One entry per change, newest first, each with who, what, targets
    // and how it ended.
    let all = page(&client, console, "");
    assert_eq!(
        actions(&all),
        [
            "cluster.remove",
            "cluster.remove",
            "cluster.register",
            "cluster.register",
            "cluster.register",
            "cluster.update",
            "cluster.register",
            "token.issue",
            "auth.login",
        ]
    );
    assert_eq!(all.next_before, None, "one page holds them all");
    assert!(all.entries.iter().all(|e| e.actor == "admin"));
    assert!(all.entries.windows(2).all(|w| w[0].id > w[1].id));
    assert!(all.entries.windows(2).all(|w| w[0].at >= w[1].at));
    let [
        removed,
        remove_missing,
        duplicate,
        not_json,
        bad_url,
        updated,
        registered,
        token,
        login,
    ] = <[AuditEntry; 9]>::try_from(all.entries.clone()).unwrap();

    assert_eq!(registered.targets, ["alpha"]);
    assert_eq!(registered.result, AuditResult::Ok);
    assert_eq!(registered.detail["access_token"], "[redacted]");
    assert_eq!(registered.detail["coordinator_url"], "http://127.0.0.1:1");
    assert_eq!(registered.detail["labels"], json!({"team": "ml"}));
    assert_eq!(updated.targets, ["alpha"]);
    assert_eq!(updated.result, AuditResult::Ok);
    assert_eq!(
        updated.detail,
        json!({"region": "us-east-1", "access_token": "[redacted]"})
    );
    assert_eq!(removed.targets, ["alpha"]);
    assert_eq!(removed.result, AuditResult::Ok);

    // Refused changes say why, as the caller was told.
    assert_eq!(bad_url.targets, ["beta"]);
    let AuditResult::Error {
        code,
        message,
        field,
    } = &bad_url.result
    else {
        panic!("a refused registration is an error: {bad_url:?}");
    };
    assert_eq!(code, "invalid_field");
    assert_eq!(field.as_deref(), Some("coordinator_url"));
    assert!(
        message.contains("expected an http:// or https:// URL"),
        "{message}"
    );
    assert_eq!(bad_url.detail["coordinator_url"], "not a url");
    assert_eq!(not_json.targets, Vec::<String>::new());
    assert_eq!(not_json.result.code(), "malformed_json");
    assert_eq!(duplicate.result.code(), "conflict");
    assert_eq!(duplicate.targets, ["alpha"]);
    assert_eq!(remove_missing.result.code(), "not_found");
    assert_eq!(remove_missing.targets, ["nope"]);

    // Filters.
    for (query, want) in [
        (
            "cluster=alpha",
            vec![removed.id, duplicate.id, updated.id, registered.id],
        ),
        ("cluster=alph", vec![]),
        (
            "result=error",
            vec![remove_missing.id, duplicate.id, not_json.id, bad_url.id],
        ),
        (
            "result=ok",
            vec![removed.id, updated.id, registered.id, token.id, login.id],
        ),
        ("action=cluster.update", vec![updated.id]),
        ("action=cluster.remove&result=ok", vec![removed.id]),
        ("q=BETA", vec![bad_url.id]),
        ("q=us-east", vec![updated.id]),
        ("q=not%20valid%20JSON", vec![not_json.id]),
        ("actor=nobody", vec![]),
        ("actor=admin&cluster=nope", vec![remove_missing.id]),
        ("from=2999-01-01", vec![]),
        ("to=2000-01-01T00:00:00Z", vec![]),
        (
            "from=2000-01-01&to=2999-01-01&cluster=beta",
            vec![bad_url.id],
        ),
    ] {
        let got: Vec<i64> = page(&client, console, query)
            .entries
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(got, want, "{query}");
        let mut oldest_first = want.clone();
        oldest_first.reverse();
        let exported: Vec<i64> = export(&client, console, query)
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(exported, oldest_first, "export {query}");
    }

    // Keyset paging: every entry once, newest first.
    let mut walked = Vec::new();
    let mut query = "limit=3".to_string();
    loop {
        let p = page(&client, console, &query);
        assert!(p.entries.len() <= 3);
        walked.extend(p.entries.iter().cloned());
        match p.next_before {
            Some(before) => query = format!("limit=3&before={before}"),
            None => break,
        }
    }
    assert_eq!(walked, all.entries);

    // The export is the whole trail, oldest first, one JSON object a line.
    let mut oldest_first = all.entries.clone();
    oldest_first.reverse();
    assert_eq!(export(&client, console, ""), oldest_first);

    // One entry by id.
    let one: AuditEntry = client
        .get(format!("{console}/api/v1/audit/{}", updated.id))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(one, updated);
    let (status, body) = error(
        client
            .get(format!("{console}/api/v1/audit/999999"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body.error.code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = error(
        client
            .get(format!("{console}/api/v1/audit/first"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.field.as_deref(), Some("id"));

    // Bad query values: 400, the field, and what is expected.
    for (path, field, expected) in [
        ("audit?limit=0", Some("limit"), "from 1 to 500"),
        ("audit?limit=100000", Some("limit"), "from 1 to 500"),
        ("audit?before=-1", Some("before"), "whole number from 1"),
        ("audit?from=yesterday", Some("from"), "RFC 3339"),
        (
            "audit?from=2026-02-01&to=2026-01-01",
            Some("to"),
            "later time",
        ),
        ("audit?result=maybe", Some("result"), "ok or error"),
        ("audit/export?to=soon", Some("to"), "RFC 3339"),
        (
            "audit/export?limit=5",
            Some("limit"),
            "does not apply to an export",
        ),
        ("audit?colour=red", None, "colour"),
    ] {
        let (status, body) = error(
            client
                .get(format!("{console}/api/v1/{path}"))
                .send()
                .unwrap(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body.error.code, "invalid_query", "{path}");
        assert_eq!(body.error.field.as_deref(), field, "{path}");
        assert!(
            body.error.message.contains(expected),
            "{path}: {}",
            body.error.message
        );
    }

    // No route creates, edits or deletes entries.
    for (method, path) in [
        (Method::PUT, format!("audit/{}", updated.id)),
        (Method::PATCH, format!("audit/{}", updated.id)),
        (Method::DELETE, format!("audit/{}", updated.id)),
        (Method::DELETE, "audit".to_string()),
        (Method::POST, "audit".to_string()),
        (Method::PUT, "audit".to_string()),
        (Method::DELETE, "audit/export".to_string()),
    ] {
        let response = client
            .request(method.clone(), format!("{console}/api/v1/{path}"))
            .json(&json!({"actor": "mallory"}))
            .send()
            .unwrap();
        assert_eq!(
            response.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some("GET, HEAD"),
            "{method} {path}"
        );
        let (status, body) = error(response);
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(body.error.code, "method_not_allowed");
    }

    // Nor does SQL on the console's own database.
    for statement in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_targets",
    ] {
        let refused = sql(statement).unwrap_or_else(|| panic!("{statement} succeeded"));
        assert!(refused.contains("append-only"), "{statement}: {refused}");
    }
    assert_eq!(page(&client, console, "").entries, all.entries);

    // The API document describes the trail's routes.
    let doc: serde_json::Value = client
        .get(format!("{console}/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for path in [
        "/api/v1/audit",
        "/api/v1/audit/export",
        "/api/v1/audit/{id}",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path}");
        assert!(doc["paths"][path].get("delete").is_none(), "{path}");
    }
    assert!(doc["components"]["schemas"]["AuditEntry"].is_object());

    // The page lists the trail.
    let html = client
        .get(format!("{console}/audit?cluster=beta"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(html.contains("Audit trail"), "{html}");
    assert!(html.contains("Export JSON lines"));
    assert!(html.contains("/api/v1/audit/export?cluster=beta"), "{html}");
}

/// Runs `sql` with `program args... sql`; its error output when it fails.
fn run_sql(program: &str, args: &[&str], sql: &str) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .arg(sql)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    (!output.status.success()).then(|| String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn the_audit_trail_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "10s", None);
    let db = dir.path().join("console/console.db").display().to_string();
    exercise(&console, |sql| run_sql("sqlite3", &[&db], sql));
    console.stop();
}

#[test]
fn the_audit_trail_on_postgresql() {
    let db = ringside_tests::PgDatabase::create("audit_it");
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "10s", Some(&db.url));
    exercise(&console, |sql| db.sql(sql));
    console.stop();
}
