//! The reference guide's §2, "Cluster Lifecycle and Configuration", end to
//! end against a cluster made by `ringside cluster apply`: scale up with
//! both re-trigger options, scale down with remove-worker, a rolling
//! upgrade to another release with `maxUnavailable: 1` while a reader
//! checks every read, and a configuration change with a restart. Then a
//! rolling restart the coordinator drives, delete and re-apply (the same
//! identities, the cache kept), and specs refused before anything changes.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use reqwest::blocking::Client;
use ringside_api::{
    ClusterInfo, WorkerState, WorkerView,
    job::{JobState, JobView},
    lifecycle::{LifecycleStatus, Phase},
    worker::WorkerStatus,
};
use ringside_tests::{
    Etcd, bearer_client, bin, bin_dir, cluster_token, eventually, free_port_run, stdout_of,
};

/// The release the upgrade goes to, built by `scripts/build-release.sh`.
const NEXT: &str = "0.1.0-next";
const OWN: &str = env!("CARGO_PKG_VERSION");
const FILES: usize = 30;

struct Lab {
    dir: tempfile::TempDir,
    spec: PathBuf,
    state: PathBuf,
    ufs: PathBuf,
    coordinator_port: u16,
    worker_port: u16,
    /// etcd endpoints for ETCD membership; the coordinator's own otherwise.
    etcd: Option<String>,
    http: Client,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let ufs = dir.path().join("ufs");
        for i in 0..FILES {
            let path = ufs.join(format!("data/part-{}/file {i:02}.bin", i % 3));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let bytes: Vec<u8> = (0..100_000 + i * 3_001)
                .map(|b| (b * 31 + i) as u8)
                .collect();
            std::fs::write(path, bytes).unwrap();
        }
        // Both releases under one directory, as spec.releases names it.
        let releases = dir.path().join("releases");
        let next = bin_dir()
            .parent()
            .unwrap()
            .join("releases")
            .join(NEXT)
            .join("ringside");
        assert!(
            next.is_file(),
            "{} is missing: run scripts/build-release.sh {NEXT} first (make test does)",
            next.display()
        );
        for (version, binary) in [(OWN, bin("ringside")), (NEXT, next)] {
            std::fs::create_dir_all(releases.join(version)).unwrap();
            std::os::unix::fs::symlink(binary, releases.join(version).join("ringside")).unwrap();
        }
        let ports = free_port_run(12);
        Lab {
            spec: dir.path().join("cluster.yaml"),
            state: dir.path().join("state"),
            ufs,
            coordinator_port: ports + 10,
            worker_port: ports,
            etcd: None,
            http: Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            dir,
        }
    }

    /// Writes the spec: `version`, `workers`, and extra property lines.
    fn write_spec(&self, version: &str, workers: u32, properties: &[&str]) {
        let mut props = format!(
            "    ringside.ufs.root: {}\n    ringside.worker.pagestore.page.size: 64KiB\n    ringside.worker.heartbeat.interval: 200ms\n    ringside.worker.failure.detection.timeout: 2s\n",
            self.ufs.display()
        );
        for p in properties {
            props.push_str(&format!("    {p}\n"));
        }
        let etcd = self
            .etcd
            .as_ref()
            .map(|url| format!("  etcd:\n    endpoints: [{url}]\n"))
            .unwrap_or_default();
        let text = format!(
            "apiVersion: ringside.io/v1\nkind: RingsideCluster\nmetadata:\n  name: lab\nspec:\n  version: {version}\n  releases: releases\n  properties:\n{props}  coordinator:\n    port: {}\n  worker:\n    count: {workers}\n    port: {}\n    pagestore:\n      size: 32MiB\n      reservedSize: 4MiB\n    rollingUpdate:\n      maxUnavailable: 1\n{etcd}",
            self.coordinator_port, self.worker_port
        );
        std::fs::write(&self.spec, text).unwrap();
    }

    fn ringside(&self, args: &[&str]) -> Output {
        Command::new(bin("ringside"))
            .env_remove("RINGSIDE_CONF_DIR")
            .env_remove("RINGSIDE_STATE_DIR")
            .env("RINGSIDE_COORDINATOR", self.url())
            .args([
                "--set",
                &format!("ringside.ufs.root={}", self.ufs.display()),
                // Where `cluster apply` has the coordinator write it.
                "--set",
                &format!(
                    "ringside.security.cluster.token.file={}",
                    self.state.join("lab/conf/cluster.token").display()
                ),
            ])
            .args(args)
            .output()
            .unwrap()
    }

    /// `ringside ARGS`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.ringside(args), &format!("ringside {args:?}"))
    }

    /// `ringside cluster COMMAND -f spec --state-dir … ARGS`.
    fn cluster(&self, command: &str, extra: &[&str]) -> Output {
        let spec = self.spec.display().to_string();
        let state = self.state.display().to_string();
        let mut args = vec!["cluster", command, "-f", &spec, "--state-dir", &state];
        args.extend_from_slice(extra);
        self.ringside(&args)
    }

    fn cluster_ok(&self, command: &str, extra: &[&str]) -> String {
        stdout_of(self.cluster(command, extra), &format!("cluster {command}"))
    }

    /// Each ONLINE worker's own account of itself, by id.
    fn statuses(&self) -> Vec<(String, WorkerStatus)> {
        let mut statuses: Vec<_> = self
            .online()
            .iter()
            .map(|w| {
                let status: WorkerStatus = self
                    .http
                    .get(format!("{}/api/v1/status", w.heartbeat.address))
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                (w.heartbeat.id.clone(), status)
            })
            .collect();
        statuses.sort_by(|a, b| a.0.cmp(&b.0));
        statuses
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.coordinator_port)
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(format!("{}/api/v1{path}", self.url()))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    fn online(&self) -> Vec<WorkerView> {
        self.get::<Vec<WorkerView>>("/workers")
            .into_iter()
            .filter(|w| w.state == WorkerState::Online)
            .collect()
    }

    /// The ids of the ONLINE workers, sorted.
    fn online_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.online().into_iter().map(|w| w.heartbeat.id).collect();
        ids.sort();
        ids
    }

    fn lifecycle(&self) -> LifecycleStatus {
        self.get("/lifecycle")
    }

    /// A client with the cluster token the coordinator wrote, for control calls.
    fn control(&self) -> Client {
        bearer_client(&cluster_token(&self.state.join("lab/conf")))
    }

    /// Process pids as `cluster status --format json` lists them.
    fn pids(&self) -> BTreeMap<String, u64> {
        let status: serde_json::Value =
            serde_json::from_str(&self.cluster_ok("status", &["--format", "json"])).unwrap();
        status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["running"] == true)
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["pid"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    fn wait_ready(&self, workers: usize) {
        let ok = eventually(Duration::from_secs(20), || {
            let l = self.lifecycle();
            l.phase == Phase::Ready && self.online().len() == workers
        });
        assert!(
            ok,
            "never Ready with {workers} workers: {:?}",
            self.lifecycle()
        );
    }

    fn job(&self, kind: &str, key: &str, value: &str) -> JobView {
        let out = self.ok(&["job", kind, key, value, "--progress", "--format", "JSON"]);
        serde_json::from_str(&out).unwrap()
    }

    fn finished(&self, kind: &str, key: &str, value: &str) -> JobView {
        let mut last = None;
        let done = eventually(Duration::from_secs(90), || {
            let job = self.job(kind, key, value);
            let active = job.state.is_active();
            last = Some(job);
            !active
        });
        assert!(done, "job never finished: {last:?}");
        last.unwrap()
    }

    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for i in 0..FILES {
            let rel = format!("data/part-{}/file {i:02}.bin", i % 3);
            files.push((
                format!("/{rel}"),
                std::fs::read(self.ufs.join(&rel)).unwrap(),
            ));
        }
        files
    }
}

/// Reads every file through `fs cat` over and over until told to stop,
/// comparing bytes with the UFS; counts reads and failures.
struct Reader {
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicU64>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    fn start(lab: &Lab) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let files = lab.files();
        let (url, ufs) = (lab.url(), lab.ufs.display().to_string());
        let thread = {
            let (stop, reads, failures) = (stop.clone(), reads.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (path, bytes) = &files[i % files.len()];
                    i += 1;
                    let out = Command::new(bin("ringside"))
                        .env_remove("RINGSIDE_CONF_DIR")
                        .args(["--coordinator", &url])
                        .args(["--set", &format!("ringside.ufs.root={ufs}")])
                        .args(["--set", "ringside.user.ufs.fallback.enabled=true"])
                        .args(["fs", "cat", path])
                        .output()
                        .unwrap();
                    reads.fetch_add(1, Ordering::Relaxed);
                    if !out.status.success() {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {}", String::from_utf8_lossy(&out.stderr)));
                    } else if &out.stdout != bytes {
                        failures.lock().unwrap().push(format!(
                            "{path}: wrong bytes ({} of {})",
                            out.stdout.len(),
                            bytes.len()
                        ));
                    }
                }
            })
        };
        Reader {
            stop,
            reads,
            failures,
            thread: Some(thread),
        }
    }

    /// Stops reading; returns (reads, failures).
    fn finish(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        (
            self.reads.load(Ordering::Relaxed),
            self.failures.lock().unwrap().clone(),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Whatever happened (the spec may be a broken one just then), no
        // process of the test outlives it: kill what the state file lists.
        let state = std::fs::read(self.state.join("lab/state.json")).unwrap_or_default();
        let Ok(state) = serde_json::from_slice::<serde_json::Value>(&state) else {
            return;
        };
        let workers = state["workers"].as_object().cloned().unwrap_or_default();
        for process in workers.values().chain([&state["coordinator"]]) {
            if let Some(pid) = process["pid"].as_u64() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

#[test]
fn the_guides_lifecycle_section_end_to_end() {
    let lab = Lab::new();
    lab.write_spec(OWN, 2, &[]);

    // Apply: the coordinator and two workers, Ready; again: nothing changes.
    let out = lab.cluster_ok("apply", &[]);
    assert!(
        out.contains("started coordinator, worker-0, worker-1"),
        "{out}"
    );
    lab.wait_ready(2);
    let pids = lab.pids();
    assert_eq!(pids.len(), 3, "{pids:?}");
    let out = lab.cluster_ok("apply", &[]);
    assert!(out.contains("cluster lab unchanged"), "{out}");
    assert_eq!(lab.pids(), pids, "a second apply restarts nothing");
    let status = lab.cluster_ok("status", &[]);
    assert!(status.contains("lab\tReady"), "{status}");

    // A worker killed behind the CLI's back: status says so, apply starts
    // it again under the same identity.
    let ids_before = lab.online_ids();
    Command::new("kill")
        .args(["-KILL", &pids["worker-1"].to_string()])
        .status()
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || !lab
        .pids()
        .contains_key("worker-1")));
    let status = lab.cluster_ok("status", &[]);
    assert!(status.contains("worker-1 is not running"), "{status}");
    let out = lab.cluster_ok("apply", &[]);
    assert!(out.contains("started worker-1"), "{out}");
    assert!(!out.contains("coordinator"), "only what is missing: {out}");
    lab.wait_ready(2);
    let ids_after = lab.online_ids();
    assert_eq!(ids_after, ids_before, "the same identity after a crash");
    let lifecycle = lab.lifecycle();
    assert_eq!(lifecycle.desired.as_ref().unwrap().workers, 2);
    assert_eq!(lifecycle.desired.as_ref().unwrap().version, OWN);

    // §2 Scale Up. Step 1: stop running load jobs, as the guide lists them.
    lab.ok(&[
        "job",
        "load",
        "--path",
        "/data",
        "--submit",
        "--bandwidth",
        "256KiB",
    ]);
    assert!(eventually(Duration::from_secs(10), || {
        lab.ok(&[
            "job",
            "list",
            "--job-type",
            "LOAD",
            "--job-state",
            "RUNNING",
        ])
        .contains("/data")
    }));
    lab.ok(&["job", "load", "--path", "/data", "--stop"]);
    assert_eq!(
        lab.ok(&[
            "job",
            "list",
            "--job-type",
            "LOAD",
            "--job-state",
            "RUNNING"
        ]),
        "",
        "expected: empty output if no load jobs are running"
    );

    // Step 2 and 3: count 2 → 3, apply, wait for the new worker.
    let epoch: u64 = lab.get::<serde_json::Value>("/ring")["epoch"]
        .as_u64()
        .unwrap();
    lab.write_spec(OWN, 3, &[]);
    let out = lab.cluster_ok("apply", &[]);
    assert!(out.contains("started worker-2"), "{out}");
    assert!(
        !out.contains("restarted"),
        "scaling up restarts nobody: {out}"
    );
    lab.wait_ready(3);
    assert!(
        lab.get::<serde_json::Value>("/ring")["epoch"]
            .as_u64()
            .unwrap()
            > epoch
    );
    let new_worker = lab
        .online()
        .into_iter()
        .find(|w| {
            w.heartbeat
                .address
                .ends_with(&(lab.worker_port + 4).to_string())
        })
        .expect("worker-2 is a member");
    assert_eq!(new_worker.heartbeat.pages, 0, "the new worker starts empty");

    // Step 4, option A: load --skip-if-exists fills the new worker from the UFS.
    lab.ok(&[
        "job",
        "load",
        "--path",
        "/data",
        "--submit",
        "--skip-if-exists",
    ]);
    let job = lab.finished("load", "--path", "/data");
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(eventually(Duration::from_secs(5), || lab
        .online()
        .iter()
        .any(
            |w| w.heartbeat.id == new_worker.heartbeat.id && w.heartbeat.pages > 0
        )));

    // Option B: rebalance, monitored until SUCCEEDED.
    lab.ok(&["job", "rebalance", "--submit", "--target", "ALL"]);
    let job = lab.finished("rebalance", "--target", "ALL");
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");

    // §2 Scale Down: count 3 → 2, apply; the removed worker goes OFFLINE
    // (flagged as ring bloat) and remove-worker deregisters it.
    lab.write_spec(OWN, 2, &[]);
    let out = lab.cluster_ok("apply", &[]);
    assert!(out.contains("stopped worker-2"), "{out}");
    assert!(eventually(Duration::from_secs(10), || lab
        .lifecycle()
        .stale_offline
        .contains(&new_worker.heartbeat.id)));
    let status = lab.cluster_ok("status", &[]);
    assert!(status.contains("stale OFFLINE"), "{status}");
    lab.ok(&[
        "process",
        "remove-worker",
        "--name",
        &new_worker.heartbeat.id,
    ]);
    assert!(
        !lab.ok(&["info", "nodes"])
            .contains(&new_worker.heartbeat.id)
    );
    lab.wait_ready(2);
    let before = lab.online_ids();

    // §2 Upgrading: the version to NEXT with maxUnavailable 1, the
    // coordinator first, while a reader checks every read (fallback on).
    let reader = Reader::start(&lab);
    std::thread::sleep(Duration::from_millis(500));
    let watcher = {
        let url = lab.url();
        std::thread::spawn(move || {
            let http = Client::new();
            let mut phases = Vec::new();
            for _ in 0..600 {
                if let Ok(r) = http.get(format!("{url}/api/v1/lifecycle")).send()
                    && let Ok(l) = r.json::<LifecycleStatus>()
                {
                    if phases.last() != Some(&l.phase) {
                        phases.push(l.phase);
                    }
                    if l.phase == Phase::Ready && l.processes.iter().all(|p| p.version == NEXT) {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            phases
        })
    };
    lab.write_spec(NEXT, 2, &[]);
    let out = lab.cluster_ok("apply", &[]);
    assert!(
        out.contains("restarted coordinator, worker-0, worker-1"),
        "{out}"
    );
    assert!(out.contains("batch 1 of 2: worker-0"), "{out}");
    assert!(out.contains("batch 2 of 2: worker-1"), "{out}");
    let phases = watcher.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (reads, failures) = reader.finish();
    assert!(
        failures.is_empty(),
        "failed or wrong reads during the upgrade: {failures:#?}"
    );
    eprintln!("{reads} reads during the rolling upgrade, all right");
    assert!(
        reads >= 10,
        "the reader read during the upgrade ({reads} reads)"
    );
    assert!(phases.contains(&Phase::Updating), "phases seen: {phases:?}");
    lab.wait_ready(2);
    let info: ClusterInfo = lab.get("/info");
    assert_eq!(info.version, NEXT);
    assert!(lab.online().iter().all(|w| w.heartbeat.version == NEXT));
    let after = lab.online_ids();
    assert_eq!(
        after, before,
        "workers keep their identity through the upgrade"
    );
    assert!(lab.lifecycle().stale_offline.is_empty(), "no ring bloat");
    assert!(lab.cluster_ok("status", &[]).contains("0.1.0-next"));

    // §2 Dynamically Updating Configuration: dynamic properties apply live
    // (the coordinator's pushed, the workers' reloaded from the site file);
    // the others after `cluster restart`.
    let pids = lab.pids();
    let evictions =
        |lab: &Lab| -> u64 { lab.statuses().iter().map(|(_, s)| s.evictions_total).sum() };
    assert_eq!(evictions(&lab), 0);
    lab.write_spec(
        NEXT,
        2,
        &[
            "ringside.worker.offline.removal.timeout: 45m",
            "ringside.job.batch.size: 7",
            "ringside.worker.pagestore.evictor.type: FIFO",
            "ringside.worker.pagestore.high.watermark: 0.02",
            "ringside.worker.pagestore.low.watermark: 0.01",
        ],
    );
    let out = lab.cluster_ok("apply", &[]);
    assert!(
        out.contains("pushed live ringside.worker.offline.removal.timeout"),
        "{out}"
    );
    assert!(
        out.contains("reloaded live by the workers ringside.worker.pagestore.high.watermark, ringside.worker.pagestore.low.watermark"),
        "{out}"
    );
    // High 0.02 of 32 MiB is below what each worker holds: they evict.
    assert!(
        eventually(Duration::from_secs(10), || evictions(&lab) > 0),
        "the workers applied the lowered watermarks"
    );
    assert!(
        out.contains("ringside.job.batch.size apply after a restart"),
        "{out}"
    );
    assert!(out.contains("--component coordinator"), "{out}");
    assert!(out.contains("--component worker"), "{out}");
    assert_eq!(
        lab.pids(),
        pids,
        "nothing restarted for a configuration change"
    );
    let property = |key: &str| -> String {
        let all: Vec<serde_json::Value> = lab.get("/properties");
        all.iter().find(|p| p["key"] == key).unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(property("ringside.worker.offline.removal.timeout"), "45m");
    assert_ne!(property("ringside.job.batch.size"), "7");
    let out = lab.cluster_ok("restart", &["--component", "coordinator"]);
    assert!(out.contains("restarted coordinator"), "{out}");
    assert_eq!(property("ringside.job.batch.size"), "7");
    let started: Vec<_> = worker_starts(&lab);
    let out = lab.cluster_ok("restart", &["--component", "worker"]);
    assert!(out.contains("restarted worker-0, worker-1"), "{out}");
    let restarted = worker_starts(&lab);
    assert!(
        started
            .iter()
            .zip(&restarted)
            .all(|(a, b)| b.1 > a.1 && a.0 == b.0)
    );
    let log = std::fs::read_to_string(lab.state.join("lab/workers/worker-0/log")).unwrap();
    assert!(
        log.contains("FIFO") || log.contains("Fifo"),
        "the worker read the new evictor"
    );
    lab.wait_ready(2);

    // The rolling restart the console fans out: the coordinator asks each
    // worker to restart in place (same pid, a newer start), one at a time.
    let pids = lab.pids();
    let started = worker_starts(&lab);
    let control = lab.control();
    let response = control
        .post(format!("{}/api/v1/lifecycle/restart", lab.url()))
        .json(&serde_json::json!({ "max_unavailable": 1 }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let again = control
        .post(format!("{}/api/v1/lifecycle/restart", lab.url()))
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    assert_eq!(again.status(), 409, "one rolling restart at a time");
    assert!(eventually(Duration::from_secs(60), || lab
        .lifecycle()
        .restart
        .is_some_and(|r| !r.running())));
    let restart = lab.lifecycle().restart.unwrap();
    assert_eq!(
        (restart.error, restart.restarted, restart.batches),
        (None, 2, 2)
    );
    assert_eq!(lab.pids(), pids, "restarted in place");
    let restarted = worker_starts(&lab);
    assert!(
        started
            .iter()
            .zip(&restarted)
            .all(|(a, b)| b.1 > a.1 && a.0 == b.0)
    );
    lab.wait_ready(2);

    // Delete keeps the data; applying again brings back the same workers
    // with their caches.
    let pages: u64 = lab.online().iter().map(|w| w.heartbeat.pages).sum();
    assert!(pages > 0);
    let out = lab.cluster_ok("delete", &[]);
    assert!(out.contains("its data is kept"), "{out}");
    assert!(lab.pids().is_empty());
    lab.cluster_ok("apply", &[]);
    lab.wait_ready(2);
    let back = lab.online_ids();
    assert_eq!(back, before, "the same identities after delete and apply");
    assert!(eventually(Duration::from_secs(5), || lab
        .online()
        .iter()
        .map(|w| w.heartbeat.pages)
        .sum::<u64>()
        == pages));

    // A bad spec is refused with the field and reason; nothing changes.
    let pids = lab.pids();
    let good = std::fs::read_to_string(&lab.spec).unwrap();
    for (from, to, field) in [
        ("count: 2", "count: -1", "spec.worker.count"),
        (
            "maxUnavailable: 1",
            "maxUnavailable: 0%",
            "spec.worker.rollingUpdate.maxUnavailable",
        ),
        ("version: 0.1.0-next", "version: 9.9.9", "release 9.9.9"),
        (
            "ringside.worker.heartbeat.interval: 200ms",
            "ringside.worker.heartbeat.intervall: 1s",
            "ringside.worker.heartbeat.interval",
        ),
    ] {
        std::fs::write(&lab.spec, good.replace(from, to)).unwrap();
        let out = lab.cluster("apply", &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{to} was accepted");
        assert!(stderr.contains(field), "{to}: {stderr}");
        std::fs::write(&lab.spec, &good).unwrap();
        assert_eq!(lab.pids(), pids, "{to} changed something");
    }

    let out = lab.cluster_ok("delete", &["--remove-data"]);
    assert!(out.contains("with its data"), "{out}");
    assert!(!lab.state.join("lab").exists());
    assert!(!Path::new(&lab.dir.path().join("state/lab/pagestore")).exists());
}

/// (id, started_at) of each ONLINE worker, by id.
fn worker_starts(lab: &Lab) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    lab.statuses()
        .into_iter()
        .map(|(id, s)| (id, s.started_at.unwrap()))
        .collect()
}

/// The spec's optional etcd: the processes use ETCD membership against a
/// real etcd, and scaling and a rolling restart work the same.
#[test]
fn a_cluster_with_etcd_membership() {
    let mut lab = Lab::new();
    let etcd = Etcd::start(lab.dir.path());
    lab.etcd = Some(etcd.url.clone());
    lab.write_spec(OWN, 1, &[]);
    lab.cluster_ok("apply", &[]);
    lab.wait_ready(1);
    let site =
        std::fs::read_to_string(lab.state.join("lab/conf/ringside-site.properties")).unwrap();
    assert!(
        site.contains("ringside.worker.membership.manager.type=ETCD"),
        "{site}"
    );
    assert!(
        site.contains(&format!("ringside.etcd.endpoints={}", etcd.url)),
        "{site}"
    );
    lab.write_spec(OWN, 2, &[]);
    let out = lab.cluster_ok("apply", &[]);
    assert!(out.contains("started worker-1"), "{out}");
    lab.wait_ready(2);
    let out = lab.cluster_ok("restart", &["--component", "worker"]);
    assert!(out.contains("restarted worker-0, worker-1"), "{out}");
    lab.wait_ready(2);
    // The members really are in etcd: its JSON gateway lists every key.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let range: serde_json::Value = lab
        .http
        .post(format!("{}/v3/kv/range", etcd.url))
        .json(&serde_json::json!({"key": b64.encode([0u8]), "range_end": b64.encode([0u8]), "keys_only": true}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let keys: Vec<String> = range["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| {
                    String::from_utf8(b64.decode(kv["key"].as_str().unwrap()).unwrap()).unwrap()
                })
                .collect()
        })
        .unwrap_or_default();
    for worker in lab.online() {
        assert!(
            keys.iter().any(|k| k.contains(&worker.heartbeat.id)),
            "{} not in etcd: {keys:?}",
            worker.heartbeat.id
        );
    }
    lab.cluster_ok("delete", &["--remove-data"]);
}
