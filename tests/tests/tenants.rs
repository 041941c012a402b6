//! Tenant cache policies on a real cluster: set on the coordinator, pushed
//! to every worker, enforced by the page stores (quota, TTL, eviction
//! order), reported per tenant in `/metrics` and by the coordinator, kept
//! across a coordinator crash, and caught up by a worker that was down.

use std::{path::Path, time::Duration};

use reqwest::{StatusCode, blocking::Client};
use ringside_api::tenant::{Evictor, TenantChange, TenantPolicy, TenantsView, WorkerTenants};
use ringside_tests::{
    cluster::{Cluster, PAGE},
    eventually, labelled_metric, metric, promtool_check, start_worker,
};

/// Pages of each file, and files of each team.
const PAGES_PER_FILE: usize = 4;
const FILES: usize = 8;

fn fill(ufs: &Path) {
    for team in ["team-a", "team-b"] {
        for f in 0..FILES {
            let path = ufs.join(team).join(format!("part-{f}.bin"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let seed = team.len() as u8 + f as u8 * 7 + team.as_bytes()[5];
            let bytes: Vec<u8> = (0..PAGE * PAGES_PER_FILE)
                .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
                .collect();
            std::fs::write(path, bytes).unwrap();
        }
    }
}

fn policy(name: &str, prefix: &str) -> TenantPolicy {
    TenantPolicy {
        name: name.into(),
        group: format!("group-{name}"),
        prefixes: vec![prefix.into()],
        quota_bytes: None,
        ttl_seconds: None,
        evictor: Evictor::Fifo,
    }
}

fn put(http: &Client, cluster: &Cluster, policy: &TenantPolicy) -> TenantChange {
    let response = http
        .put(format!(
            "{}/api/v1/tenants/{}",
            cluster.coordinator.url, policy.name
        ))
        .json(policy)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text());
    response.json().unwrap()
}

fn view(http: &Client, cluster: &Cluster) -> TenantsView {
    http.get(format!("{}/api/v1/tenants", cluster.coordinator.url))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn worker_tenants(http: &Client, worker: &str) -> WorkerTenants {
    http.get(format!("{worker}/api/v1/tenants"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn used(tenants: &WorkerTenants, name: &str) -> u64 {
    tenants
        .tenants
        .iter()
        .find(|t| t.name == name)
        .map_or(0, |t| t.used_bytes)
}

/// Reads every file of `team` through the cache, each compared with the UFS.
fn read_team(cluster: &Cluster, team: &str) {
    for f in 0..FILES {
        let name = format!("/{team}/part-{f}.bin");
        let out = cluster.cli(&["fs", "cat", &name]);
        assert!(
            out.status.success(),
            "cat {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read(cluster.ufs.join(&name[1..])).unwrap();
        assert!(
            out.stdout == expected,
            "cat {name}: the bytes differ from the UFS"
        );
    }
}

#[test]
fn tenant_policies_reach_every_worker_and_the_page_stores_enforce_them() {
    let (mut cluster, mut workers) = Cluster::start_with(
        "tenants",
        &["w1", "w2"],
        &["ringside.worker.tenant.sync.interval=1s".to_string()],
        fill,
    );
    let http = cluster.http.clone();
    let quota = 2 * PAGE as u64;

    // A quota: each worker holds at most two of team-a's pages.
    let a = TenantPolicy {
        quota_bytes: Some(quota),
        ..policy("team-a", "/team-a")
    };
    let change = put(&http, &cluster, &a);
    assert_eq!(change.revision, 1);
    assert_eq!(change.workers.len(), 2);
    assert!(
        change
            .workers
            .iter()
            .all(|w| w.revision == Some(1) && w.error.is_none()),
        "{:?}",
        change.workers
    );
    read_team(&cluster, "team-a");
    read_team(&cluster, "team-b");
    for worker in &workers {
        let tenants = worker_tenants(&http, &worker.url);
        assert_eq!(tenants.revision, Some(1));
        assert!(used(&tenants, "team-a") <= quota, "{tenants:?}");
    }
    // Every page read was cached once (pages are written behind the
    // reads), and what is not held now was evicted for the quota.
    let total = (FILES * PAGES_PER_FILE * PAGE) as u64;
    assert!(
        eventually(Duration::from_secs(5), || {
            let evicted: u64 = workers
                .iter()
                .map(|w| worker_tenants(&http, &w.url).tenants[0].quota_evicted_bytes_total)
                .sum();
            evicted == total - view(&http, &cluster).used_bytes["team-a"]
        }),
        "quota evictions do not add up"
    );
    // team-b is no tenant: nothing of it was evicted for team-a's quota.
    let cached = || -> u64 {
        workers
            .iter()
            .map(|w| metric(&w.url, "ringside_worker_pagestore_used_bytes").unwrap_or(0))
            .sum()
    };
    assert!(
        eventually(Duration::from_secs(5), || cached() >= total),
        "team-b stays cached whole: {} bytes cached in all",
        cached()
    );
    // Reads still return the right bytes, now mostly from the UFS.
    read_team(&cluster, "team-a");

    // Per-tenant series in /metrics, valid for Prometheus.
    let w1 = &workers[0].url;
    let text = http
        .get(format!("{w1}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    promtool_check(&text);
    assert!(
        text.contains(r#"ringside_worker_tenant_quota_bytes{tenant="team-a"} 131072"#),
        "{text}"
    );
    assert_eq!(
        labelled_metric(
            w1,
            "ringside_worker_tenant_used_bytes",
            r#"tenant="team-a""#
        ),
        used(&worker_tenants(&http, w1), "team-a")
    );

    // A TTL: pages cached longer ago are removed as soon as the workers
    // have it.
    let b = TenantPolicy {
        ttl_seconds: Some(1),
        ..policy("team-b", "/team-b")
    };
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(put(&http, &cluster, &b).revision, 2);
    let after = view(&http, &cluster);
    assert_eq!(after.used_bytes["team-b"], 0, "{after:?}");
    assert!(workers.iter().any(|w| labelled_metric(
        &w.url,
        "ringside_worker_tenant_expired_bytes_total",
        r#"tenant="team-b""#
    ) > 0));
    // Cached again, and gone again within a TTL and a sync interval.
    read_team(&cluster, "team-b");
    assert!(eventually(Duration::from_secs(5), || view(&http, &cluster)
        .used_bytes["team-b"]
        == 0));

    // The coordinator keeps the policies across a crash.
    cluster.crash_and_restart_coordinator();
    assert!(eventually(Duration::from_secs(10), || cluster
        .online()
        .len()
        == 2));
    let kept = view(&http, &cluster);
    assert_eq!((kept.revision, kept.tenants.len()), (2, 2));

    // A worker that was down while a policy changed catches up by itself.
    let w2 = workers.pop().unwrap();
    let w2_id = cluster.member_id(&w2);
    w2.stop();
    let a_lfu = TenantPolicy {
        evictor: Evictor::Lfu,
        ..a.clone()
    };
    let change = put(&http, &cluster, &a_lfu);
    assert_eq!(change.revision, 3);
    let w2 = start_worker("w2", cluster.dir.path(), &cluster.properties);
    assert!(eventually(Duration::from_secs(10), || worker_tenants(
        &http, &w2.url
    )
    .revision
        == Some(3)));
    assert_eq!(
        worker_tenants(&http, &w2.url).worker,
        w2_id,
        "same identity"
    );
    workers.push(w2);

    // Removing a tenant frees its files from its policy everywhere.
    let removed: TenantChange = http
        .delete(format!("{}/api/v1/tenants/team-b", cluster.coordinator.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(removed.revision, 4);
    assert_eq!(removed.tenants.len(), 1);
    assert!(eventually(Duration::from_secs(5), || workers.iter().all(
        |w| {
            let t = worker_tenants(&http, &w.url);
            t.revision == Some(4) && t.tenants.iter().all(|t| t.name == "team-a")
        }
    )));
}

#[test]
fn bad_tenant_requests_are_refused_with_the_reason_and_change_nothing() {
    let (cluster, workers) = Cluster::start_with("tenants-bad", &["w1"], &[], fill);
    let http = cluster.http.clone();
    put(&http, &cluster, &policy("team-a", "/team-a"));
    let base = format!("{}/api/v1/tenants", cluster.coordinator.url);
    let refused = |url: String, body: serde_json::Value| {
        let response = http.put(url).json(&body).send().unwrap();
        let status = response.status();
        (
            status,
            response.json::<serde_json::Value>().unwrap()["error"].clone(),
        )
    };
    let cases = [
        (
            "other",
            serde_json::json!({"name": "team-b", "group": "g", "prefixes": ["/b"]}),
            "name",
            "expected the same name",
        ),
        (
            "team-b",
            serde_json::json!({"name": "team-b", "group": "g", "prefixes": ["b"]}),
            "prefixes",
            "is not absolute",
        ),
        (
            "team-b",
            serde_json::json!({"name": "team-b", "group": "g", "prefixes": ["/team-a/"]}),
            "prefixes",
            "already belongs to tenant team-a",
        ),
        (
            "Team_B",
            serde_json::json!({"name": "Team_B", "group": "g", "prefixes": ["/b"]}),
            "name",
            "not a valid tenant name",
        ),
        (
            "team-b",
            serde_json::json!({"name": "team-b", "group": "g", "prefixes": ["/b"], "ttl_seconds": 0}),
            "ttl_seconds",
            "at least 1 second",
        ),
    ];
    for (name, body, field, message) in cases {
        let (status, error) = refused(format!("{base}/{name}"), body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["field"], field, "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
    }
    let (status, error) = refused(
        format!("{base}/team-b"),
        serde_json::json!({"name": "team-b", "group": "g", "prefixes": ["/b"], "evictor": "ARC"}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _) = refused(
        format!("{}/api/v1/tenants", workers[0].url),
        serde_json::json!({"revision": 9, "tenants": [{"name": "x", "group": "g", "prefixes": ["rel"]}]}),
    );
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a worker checks a pushed set too"
    );
    let missing = http.delete(format!("{base}/nobody")).send().unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad_cli = cluster.cli(&[
        "tenant", "set", "team-c", "--group", "g", "--prefix", "/c", "--quota", "lots",
    ]);
    let stderr = String::from_utf8_lossy(&bad_cli.stderr);
    assert!(
        !bad_cli.status.success() && stderr.contains("expected a size"),
        "{stderr}"
    );
    let now = view(&http, &cluster);
    assert_eq!((now.revision, now.tenants.len()), (1, 1), "nothing changed");
    assert_eq!(worker_tenants(&http, &workers[0].url).revision, Some(1));

    // The CLI sets and lists what the REST API does.
    let set = cluster.cli(&[
        "tenant",
        "set",
        "team-c",
        "--group",
        "g",
        "--prefix",
        "/team-c/",
        "--quota",
        "1MiB",
        "--ttl",
        "2h",
        "--evictor",
        "lfu",
    ]);
    let said = String::from_utf8_lossy(&set.stdout);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(
        said.contains("set tenant team-c (revision 2): pushed to 1 of 1 ONLINE workers"),
        "{said}"
    );
    let listed = cluster.cli(&["tenant", "ls", "--format", "json"]);
    let listed: TenantsView = serde_json::from_slice(&listed.stdout).unwrap();
    let c = listed.tenants.iter().find(|t| t.name == "team-c").unwrap();
    assert_eq!(
        (c.prefixes.clone(), c.quota_bytes, c.ttl_seconds, c.evictor),
        (
            vec!["/team-c".to_string()],
            Some(1 << 20),
            Some(7200),
            Evictor::Lfu
        )
    );
    let table = String::from_utf8_lossy(&cluster.cli(&["tenant", "ls"]).stdout).into_owned();
    assert!(
        table.contains("team-c") && table.contains("1.0 MiB") && table.contains("2h"),
        "{table}"
    );
}

#[test]
fn the_console_fans_a_tenant_policy_out_to_chosen_clusters() {
    use ringside_api::operation::{OperationState, OperationView};
    let (east, east_workers) = Cluster::start_with("tenant-east", &["e1"], &[], fill);
    let (west, west_workers) = Cluster::start_with("tenant-west", &["w1"], &[], fill);
    let (other, _other_workers) = Cluster::start_with("tenant-other", &["o1"], &[], fill);
    let dir = tempfile::tempdir().unwrap();
    let console = ringside_tests::start_console(dir.path(), "1h", None);
    let http = console.client();
    for cluster in [&east, &west, &other] {
        let response = http
            .post(format!("{}/api/v1/clusters", console.url))
            .json(&serde_json::json!({"name": cluster.name, "coordinator_url": cluster.coordinator.url, "access_token": cluster.token()}))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let run = |action: serde_json::Value| -> OperationView {
        let response = http
            .post(format!("{}/api/v1/operations", console.url))
            .json(&serde_json::json!({
                "action": action,
                "targets": {"kind": "clusters", "names": ["tenant-east", "tenant-west"]},
            }))
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{:?}",
            response.text()
        );
        let id = response.json::<OperationView>().unwrap().summary.id;
        let mut last = None;
        assert!(eventually(Duration::from_secs(20), || {
            let op: OperationView = http
                .get(format!("{}/api/v1/operations/{id}", console.url))
                .send()
                .unwrap()
                .json()
                .unwrap();
            let over = op.summary.state != OperationState::Running;
            last = Some(op);
            over
        }));
        last.unwrap()
    };
    let policy = serde_json::json!({
        "name": "team-a", "group": "group-a", "prefixes": ["/team-a/"],
        "quota_bytes": 131072, "ttl_seconds": 3600, "evictor": "FIFO",
    });
    let op = run(serde_json::json!({"type": "set_tenant_policy", "policy": policy}));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert_eq!(
        op.summary.description,
        "set the cache policy of tenant team-a on 2 clusters"
    );
    for t in &op.targets {
        let message = t.message.as_deref().unwrap();
        assert!(message.contains("1 of 1 workers have it"), "{message}");
    }
    for (cluster, workers) in [(&east, &east_workers), (&west, &west_workers)] {
        let seen = view(&http, cluster);
        assert_eq!(seen.tenants[0].prefixes, vec!["/team-a"], "canonical form");
        assert_eq!(worker_tenants(&http, &workers[0].url).revision, Some(1));
        read_team(cluster, "team-a");
        assert!(eventually(Duration::from_secs(5), || used(
            &worker_tenants(&http, &workers[0].url),
            "team-a"
        ) == 131072));
    }
    assert_eq!(
        view(&http, &other).revision,
        0,
        "a cluster not chosen is untouched"
    );

    // Refused before anything runs, naming the field.
    let response = http
        .post(format!("{}/api/v1/operations", console.url))
        .json(&serde_json::json!({
            "action": {"type": "set_tenant_policy", "policy": {"name": "team-a", "group": "g", "prefixes": ["team-a"]}},
            "targets": {"kind": "all"},
        }))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: serde_json::Value = response.json().unwrap();
    assert_eq!(error["error"]["field"], "action.policy.prefixes", "{error}");

    let op = run(serde_json::json!({"type": "remove_tenant", "name": "team-a"}));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    for cluster in [&east, &west] {
        assert!(view(&http, cluster).tenants.is_empty());
    }
    // Removing again finds nothing to remove: still a success.
    let op = run(serde_json::json!({"type": "remove_tenant", "name": "team-a"}));
    assert_eq!(op.summary.state, OperationState::Succeeded, "{op:#?}");
    assert!(
        op.targets[0]
            .message
            .as_deref()
            .unwrap()
            .contains("was not there")
    );
}
