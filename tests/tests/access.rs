//! Access control end to end, against the real processes and a real OpenID
//! provider: every console route refuses anonymous callers; bearer tokens
//! from the provider and from the console are checked and mapped to roles
//! the Rego policy decides on; CSRF; tenant isolation between groups;
//! coordinators and workers refuse unauthenticated control calls and accept
//! the console's signed calls; and no secret reaches a log.

use std::time::Duration;

use reqwest::{
    StatusCode,
    blocking::{Client, Response},
    header::{AUTHORIZATION, LOCATION},
    redirect::Policy,
};
use ringside_console::gateway::routes::{Access, RULES};
use ringside_tests::{
    ConsoleSession, Daemon, Idp, cluster::Cluster, eventually, free_port, start_console,
    start_console_with,
};
use serde_json::{Value, json};

fn no_redirects() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The route with its `{params}` filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_route_refuses_anonymous_callers() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "1h", None);
    let http = no_redirects();
    let mut checked = 0;
    for rule in RULES {
        let url = format!("{}{}", console.url, concrete(rule.path));
        let response = http.request(rule.method.clone(), &url).send().unwrap();
        let status = response.status();
        let what = format!("{} {}", rule.method, rule.path);
        if rule.access == Access::Public {
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{what} is public but answered {status}"
            );
            continue;
        }
        checked += 1;
        if rule.path.starts_with("/api/") {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
            let body = response.text().unwrap();
            assert!(body.contains("nauthenticated"), "{what}: {body}");
        } else {
            assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
            let location = response.headers()[LOCATION].to_str().unwrap();
            assert!(location.starts_with("/login?next="), "{what}: {location}");
        }
    }
    assert!(checked > 60, "only {checked} routes checked");
    // A method a route does not answer is 405, whoever asks.
    let response = http
        .put(format!("{}/api/v1/audit/1", console.url))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_secrets_absent(&[&console], &[&console.token.clone().unwrap()]);
}

fn bearer(
    http: &Client,
    token: &str,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Response {
    let mut request = http
        .request(method, url)
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().unwrap()
}

/// Starts a console logging in through `idp`, on a port chosen first so
/// the provider knows the redirect URI.
fn console_with_idp(dir: &std::path::Path) -> (Daemon, Idp) {
    let port = free_port();
    let idp = Idp::start(
        dir,
        &format!("http://127.0.0.1:{port}/api/v1/auth/callback"),
    );
    let secret = dir.join("client-secret");
    std::fs::write(&secret, "console-test-secret\n").unwrap();
    let console = start_console_with(
        dir,
        "1h",
        None,
        port,
        &[
            "--oidc-issuer",
            &idp.issuer,
            "--oidc-client-secret-file",
            secret.to_str().unwrap(),
            "--oidc-roles-claim",
            "realm_access.roles",
            "--oidc-audience",
            "urn:ringside:console",
        ],
    );
    (console, idp)
}

#[test]
fn bearer_tokens_are_checked_and_the_policy_decides_by_role_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let (console, idp) = console_with_idp(dir.path());
    let http = Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", console.url);
    let platform = idp.client_token("ringside-platform-bot", "platform-bot-test-secret");
    let analytics = idp.client_token("ringside-analytics-bot", "analytics-bot-test-secret");
    let operator = idp.client_token("ringside-automation", "automation-test-secret");

    // Reads: any console role; no console role, nothing.
    let r = bearer(
        &http,
        &platform,
        reqwest::Method::GET,
        &api("/clusters"),
        None,
    );
    assert_eq!(r.status(), StatusCode::OK);
    let r = bearer(
        &http,
        &operator,
        reqwest::Method::GET,
        &api("/clusters"),
        None,
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{:?}", r.text());

    // An admin changes clusters of their own group only.
    let new = |name: &str, group: &str| json!({"name": name, "coordinator_url": "http://127.0.0.1:1", "labels": {"group": group}});
    let r = bearer(
        &http,
        &platform,
        reqwest::Method::POST,
        &api("/clusters"),
        Some(new("p1", "platform")),
    );
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let r = bearer(
        &http,
        &platform,
        reqwest::Method::POST,
        &api("/clusters"),
        Some(new("a1", "analytics")),
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let refusal: Value = r.json().unwrap();
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not cluster.create on cluster a1 (group analytics)"),
        "{refusal}"
    );
    let r = bearer(
        &http,
        &analytics,
        reqwest::Method::DELETE,
        &api("/clusters/p1"),
        None,
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = bearer(
        &http,
        &analytics,
        reqwest::Method::PATCH,
        &api("/clusters/p1"),
        Some(json!({"region": "x"})),
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let admin = console.client();
    let listed: Value = admin.get(api("/clusters")).send().unwrap().json().unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "nothing refused was made"
    );
    assert_eq!(
        listed[0]["cluster"]["region"], "",
        "nothing refused was changed"
    );

    // The refused changes are in the audit trail and the decision log.
    let audit: Value = admin
        .get(api("/audit?result=error"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let refused: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        refused,
        ["cluster.update", "cluster.delete", "cluster.create"]
    );
    let decisions: Value = admin
        .get(api("/policy/decisions"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let denied = decisions
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["result"] == "deny" && d["action"] == "cluster.delete")
        .count();
    assert_eq!(denied, 1, "{decisions}");

    // Tokens that prove nothing: 401, whatever the route.
    let tampered = {
        let mut parts: Vec<String> = platform.split('.').map(str::to_string).collect();
        parts[1] = parts[1].chars().rev().collect();
        parts.join(".")
    };
    for token in [
        "garbage",
        "rst_notatoken",
        tampered.as_str(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        let r = bearer(&http, token, reqwest::Method::GET, &api("/clusters"), None);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token}");
    }

    // Console API tokens: a read token changes nothing; a revoked one is dead.
    let session = ConsoleSession::log_in(
        &console.url,
        "admin",
        std::fs::read_to_string(dir.path().join("console/bootstrap-password"))
            .unwrap()
            .trim(),
    );
    let read = session.issue_token("read-only", &["read"]);
    let r = bearer(&http, &read, reqwest::Method::GET, &api("/clusters"), None);
    assert_eq!(r.status(), StatusCode::OK);
    let r = bearer(
        &http,
        &read,
        reqwest::Method::DELETE,
        &api("/clusters/p1"),
        None,
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().unwrap().contains("read-only API token"));
    let id = read.split('_').nth(1).unwrap();
    let r = session
        .client
        .delete(api(&format!("/tokens/{id}")))
        .header("x-csrf-token", &session.csrf_token)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = bearer(&http, &read, reqwest::Method::GET, &api("/clusters"), None);
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().unwrap().contains("revoked"));

    assert_secrets_absent(
        &[&console],
        &[
            &platform,
            &analytics,
            &read,
            "console-test-secret",
            &session.csrf_token,
        ],
    );
}

#[test]
fn sessions_need_same_origin_changes_and_end_at_logout() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "1h", None);
    let password = std::fs::read_to_string(dir.path().join("console/bootstrap-password")).unwrap();
    let wrong = no_redirects()
        .post(format!("{}/api/v1/auth/login", console.url))
        .json(&json!({"username": "admin", "password": "not-it"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let session = ConsoleSession::log_in(&console.url, "admin", password.trim());
    let clusters = format!("{}/api/v1/clusters", console.url);
    let new = json!({"name": "c1", "coordinator_url": "http://127.0.0.1:1"});
    // A page elsewhere posting with the victim's cookie.
    let r = session
        .client
        .post(&clusters)
        .header("origin", "http://evil.example")
        .json(&new)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().unwrap().contains("cross-site"));
    let r = session.client.post(&clusters).json(&new).send().unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no origin and no CSRF token"
    );
    let r = session
        .client
        .post(&clusters)
        .header("origin", &console.url)
        .json(&new)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    // A server function the browser calls, from a foreign page.
    let r = session
        .client
        .post(format!("{}/api/ui/remove_stale_workers", console.url))
        .header("origin", "http://evil.example")
        .form(&[("name", "c1")])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = session
        .client
        .post(format!("{}/api/v1/auth/logout", console.url))
        .header("origin", &console.url)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = session.client.get(&clusters).send().unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended on the server"
    );
    assert_secrets_absent(&[&console], &[password.trim(), &session.csrf_token]);
}

#[test]
fn cluster_control_calls_need_the_cluster_token_or_the_consoles_signature() {
    let dir = tempfile::tempdir().unwrap();
    let console = start_console(dir.path(), "1h", None);
    let token_file = dir.path().join("cluster.token");
    let cluster_token = "cluster-secret-0123456789abcdef";
    std::fs::write(&token_file, cluster_token).unwrap();
    let (cluster, workers) = Cluster::start_with(
        "guarded",
        &["w1"],
        &[
            format!(
                "ringside.security.cluster.token.file={}",
                token_file.display()
            ),
            format!(
                "ringside.coordinator.security.console.jwks.url={}/api/v1/jwks.json",
                console.url
            ),
        ],
        |ufs| std::fs::write(ufs.join("f.bin"), b"bytes").unwrap(),
    );
    let coordinator = &cluster.coordinator.url;
    assert!(
        eventually(Duration::from_secs(10), || cluster.online().len() == 1),
        "the worker joined with the cluster token"
    );
    let anonymous = Client::new();
    let tenant =
        json!({"name": "t1", "group": "platform", "prefixes": ["/data"], "ttl_seconds": 3600});
    let r = anonymous
        .put(format!("{coordinator}/api/v1/tenants/t1"))
        .json(&tenant)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = anonymous
        .put(format!("{}/api/v1/tenants", workers[0].url))
        .json(&json!({"revision": 99, "tenants": []}))
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "workers guard their control calls too"
    );
    let forged = bearer(
        &anonymous,
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJtYWxsb3J5In0.c2ln",
        reqwest::Method::POST,
        &format!("{coordinator}/api/v1/jobs"),
        Some(json!({"job_type": "FREE", "path": "/"})),
    );
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let r = anonymous
        .get(format!("{coordinator}/api/v1/info"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "reads stay open");
    // The CLI carries the token it finds in the site's properties.
    let out = cluster.cli(&[
        "tenant", "set", "t0", "--group", "platform", "--prefix", "/t0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The console registers the cluster without an access token: its calls
    // are signed, and the coordinator logs the user they are made for.
    let admin = console.client();
    let r = admin
        .post(format!("{}/api/v1/clusters", console.url))
        .json(&json!({"name": "guarded", "coordinator_url": coordinator}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin
        .post(format!("{}/api/v1/operations", console.url))
        .json(&json!({
            "action": {"type": "set_tenant_policy", "policy": tenant},
            "targets": {"kind": "clusters", "names": ["guarded"]},
        }))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let op: Value = r.json().unwrap();
    let id = op["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(20), || {
            let op: Value = admin
                .get(format!("{}/api/v1/operations/{id}", console.url))
                .send()
                .unwrap()
                .json()
                .unwrap();
            op["state"] == "SUCCEEDED"
        }),
        "the signed call was accepted: {}",
        admin
            .get(format!("{}/api/v1/operations/{id}", console.url))
            .send()
            .unwrap()
            .text()
            .unwrap()
    );
    let log = cluster.coordinator.log_text();
    assert!(
        log.lines().any(|l| l.contains("control call")
            && l.contains("via=\"console\"")
            && l.contains("user=\"admin\"")),
        "the coordinator logs the console's end user:\n{log}"
    );
    assert_secrets_absent(
        &[&console, &cluster.coordinator, &workers[0]],
        &[cluster_token],
    );
}

#[test]
fn a_groups_admin_neither_reads_nor_changes_another_groups_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (console, idp) = console_with_idp(dir.path());
    let (cluster, _workers) = Cluster::start_with("tenancy", &["w1"], &[], |_| {});
    let admin = console.client();
    let api = |path: &str| format!("{}/api/v1{path}", console.url);
    let r = admin
        .post(api("/clusters"))
        .json(&json!({"name": "tenancy", "coordinator_url": cluster.coordinator.url, "access_token": cluster.token(), "labels": {"group": "platform"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let operation = |token: &str, group: &str, ttl: u64| {
        bearer(
            &Client::new(),
            token,
            reqwest::Method::POST,
            &api("/operations"),
            Some(json!({
                "action": {"type": "set_tenant_policy", "policy": {"name": "pay", "group": group, "prefixes": ["/pay"], "ttl_seconds": ttl}},
                "targets": {"kind": "clusters", "names": ["tenancy"]},
            })),
        )
    };
    let platform = idp.client_token("ringside-platform-bot", "platform-bot-test-secret");
    let analytics = idp.client_token("ringside-analytics-bot", "analytics-bot-test-secret");
    let r = operation(&platform, "platform", 3600);
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    // Another group's admin can neither change it, nor take it over.
    for group in ["platform", "analytics"] {
        let r = operation(&analytics, group, 60);
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "as {group}");
    }
    // Owning the tenant does not open another group's cluster to it.
    let r = admin
        .post(api("/clusters"))
        .json(&json!({"name": "elsewhere", "coordinator_url": cluster.coordinator.url, "access_token": cluster.token(), "labels": {"group": "analytics"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = bearer(
        &Client::new(),
        &platform,
        reqwest::Method::POST,
        &api("/operations"),
        Some(json!({
            "action": {"type": "set_tenant_policy", "policy": {"name": "pay", "group": "platform", "prefixes": ["/pay"], "ttl_seconds": 60}},
            "targets": {"kind": "clusters", "names": ["tenancy", "elsewhere"]},
        })),
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .unwrap()
            .contains("may not cluster.update on cluster elsewhere (group analytics)")
    );
    let r = bearer(
        &Client::new(),
        &analytics,
        reqwest::Method::GET,
        &api("/tenants/pay"),
        None,
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let listed: Value = bearer(
        &Client::new(),
        &analytics,
        reqwest::Method::GET,
        &api("/tenants"),
        None,
    )
    .json()
    .unwrap();
    assert_eq!(listed["tenants"], json!([]), "{listed}");
    let listed: Value = bearer(
        &Client::new(),
        &platform,
        reqwest::Method::GET,
        &api("/tenants"),
        None,
    )
    .json()
    .unwrap();
    assert_eq!(listed["tenants"][0]["name"], "pay", "{listed}");
    assert!(
        eventually(Duration::from_secs(20), || {
            let view: Value =
                reqwest::blocking::get(format!("{}/api/v1/tenants", cluster.coordinator.url))
                    .unwrap()
                    .json()
                    .unwrap();
            view["tenants"][0]["ttl_seconds"] == 3600
        }),
        "the owner's policy is in force, and only it"
    );
}

/// None of `secrets` appears in any of the daemons' logs.
fn assert_secrets_absent(daemons: &[&Daemon], secrets: &[&str]) {
    for daemon in daemons {
        let log = daemon.log_text();
        for secret in secrets {
            assert!(
                !log.contains(secret),
                "{} logged a secret ({}…)",
                daemon.name,
                &secret[..secret.len().min(6)]
            );
        }
    }
}
