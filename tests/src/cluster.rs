//! A whole cluster for a test: a coordinator and named workers, started
//! from the CLI over a local-directory UFS in a temporary directory.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use reqwest::blocking::Client;
use ringside_api::{WorkerState, WorkerView};

use crate::{
    Daemon, eventually, free_port, metric, ringside, start_coordinator_with, start_worker,
};

/// Page size of test clusters: small, so small files span many pages.
pub const PAGE: usize = 64 * 1024;

pub struct Cluster {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub ufs: PathBuf,
    pub coordinator: Daemon,
    pub properties: Vec<String>,
    /// Sends the cluster token, so control calls pass the coordinator's guard.
    pub http: Client,
}

impl Cluster {
    /// A cluster `name` with the given workers over a UFS that `fill`
    /// writes first; `overrides` come last, so they win over the defaults
    /// here.
    pub fn start_with(
        name: &str,
        names: &[&str],
        overrides: &[String],
        fill: impl FnOnce(&Path),
    ) -> (Cluster, Vec<Daemon>) {
        let dir = tempfile::tempdir().unwrap();
        let ufs = dir.path().join("ufs");
        std::fs::create_dir_all(&ufs).unwrap();
        fill(&ufs);
        let port = free_port();
        let mut properties = vec![
            format!("ringside.cluster.name={name}"),
            format!("ringside.ufs.root={}", ufs.display()),
            format!("ringside.coordinator.address=http://127.0.0.1:{port}"),
            format!("ringside.worker.pagestore.page.size={PAGE}"),
            "ringside.worker.pagestore.size=16MiB".to_string(),
            "ringside.worker.pagestore.reserved.size=4MiB".to_string(),
            "ringside.worker.heartbeat.interval=200ms".to_string(),
            "ringside.worker.failure.detection.timeout=2s".to_string(),
            "ringside.worker.offline.removal.timeout=1h".to_string(),
        ];
        properties.extend(crate::default_token_file(dir.path(), overrides));
        properties.extend_from_slice(overrides);
        let coordinator = start_coordinator_with(name, dir.path(), port, &properties);
        let workers: Vec<Daemon> = names
            .iter()
            .map(|name| start_worker(name, dir.path(), &properties))
            .collect();
        let mut cluster = Cluster {
            name: name.to_string(),
            dir,
            ufs,
            coordinator,
            properties,
            http: Client::new(),
        };
        cluster.http = crate::bearer_client(&cluster.token());
        assert!(
            eventually(Duration::from_secs(10), || cluster.online().len()
                == names.len()),
            "the workers never came ONLINE"
        );
        (cluster, workers)
    }

    /// Kills the coordinator with SIGKILL, as a crash would, and starts a
    /// new one on the same port and metastore.
    pub fn crash_and_restart_coordinator(&mut self) {
        let port: u16 = self
            .coordinator
            .url
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        self.coordinator.kill();
        self.coordinator =
            start_coordinator_with(&self.name, self.dir.path(), port, &self.properties);
    }

    /// Starts one more worker of this cluster.
    pub fn add_worker(&self, name: &str) -> Daemon {
        start_worker(name, self.dir.path(), &self.properties)
    }

    pub fn workers(&self) -> Vec<WorkerView> {
        self.http
            .get(format!("{}/api/v1/workers", self.coordinator.url))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// The member id of the worker `daemon` runs (it must be ONLINE).
    pub fn member_id(&self, daemon: &Daemon) -> String {
        self.online()
            .into_iter()
            .find(|w| w.heartbeat.address == daemon.url)
            .unwrap_or_else(|| panic!("{} is not an ONLINE member", daemon.name))
            .heartbeat
            .id
    }

    pub fn online(&self) -> Vec<WorkerView> {
        self.workers()
            .into_iter()
            .filter(|w| w.state == WorkerState::Online)
            .collect()
    }

    pub fn epoch(&self) -> u64 {
        self.ring()["epoch"].as_u64().unwrap()
    }

    /// The ring as the coordinator publishes it.
    pub fn ring(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/api/v1/ring", self.coordinator.url))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// The cluster token its coordinator wrote.
    pub fn token(&self) -> String {
        let file = self
            .properties
            .iter()
            .find_map(|p| p.strip_prefix("ringside.security.cluster.token.file="))
            .expect("start_with always names a token file");
        std::fs::read_to_string(file).unwrap().trim().to_string()
    }

    /// `ringside ARGS` with this cluster's properties.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut command: Command = ringside(&self.properties);
        command.args(args).output().unwrap()
    }

    pub fn worker_metric(&self, worker: &str, name: &str) -> u64 {
        metric(worker, name).unwrap_or_else(|| panic!("{name} missing from {worker}/metrics"))
    }
}
