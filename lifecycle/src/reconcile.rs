//! Making the processes on this machine match a spec: start what is
//! missing, stop what is extra, roll new versions through the workers in
//! batches (the coordinator first), and restart on request. Each step
//! waits for readiness as the coordinator sees it, and the coordinator is
//! told what was applied and how far a rollout is, so the console shows it.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use chrono::Utc;
use ringside_api::{
    ClusterInfo, PropertyPatch, WorkerState, WorkerView,
    lifecycle::{Component, DRIVER_CLI, LifecycleStatus, LifecycleUpdate, Phase, RestartProgress},
};
use ringside_config::{CoordinatorConfig, SiteConfig, keys};
use serde::Serialize;

use crate::{
    process::{Handle, Launch},
    spec::Spec,
    state::{ClusterState, Layout, ProcessRecord, StateError, worker_name},
};

/// How long a process may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process may take to stop before it is killed: a worker
/// finishes the reads in flight.
const STOP_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("release {version}: {reason}")]
    Release { version: String, reason: String },
    #[error("cannot start {name}: {source}")]
    Spawn { name: String, source: io::Error },
    #[error("cannot stop {name}: {source}")]
    Stop { name: String, source: io::Error },
    #[error(
        "{name} did not become ready within {}s: {reason}; the end of its log {}:\n{tail}",
        READY_TIMEOUT.as_secs(), log.display()
    )]
    NotReady {
        name: String,
        reason: String,
        log: PathBuf,
        tail: String,
    },
    #[error("coordinator at {url}: {reason}")]
    Coordinator { url: String, reason: String },
}

/// Where progress goes: the CLI prints notes and draws the rollout bar.
pub trait Observer: Send + Sync {
    fn note(&self, message: &str);
    /// `done` of `total` processes of a rollout restarted and ready.
    fn rollout(&self, _what: &str, _done: u32, _total: u32) {}
}

/// What a command changed, for its summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub started: Vec<String>,
    pub stopped: Vec<String>,
    pub restarted: Vec<String>,
    /// Dynamic properties pushed to the running coordinator.
    pub pushed: Vec<String>,
    /// Dynamic properties the workers (and clients) read again from the
    /// site file on their own.
    pub reloaded: Vec<String>,
    /// Changed properties that apply only after a restart, with the
    /// component to restart.
    pub pending_restart: Vec<(String, Component)>,
    pub site_file_changed: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.started.is_empty()
            && self.stopped.is_empty()
            && self.restarted.is_empty()
            && self.pushed.is_empty()
            && self.reloaded.is_empty()
            && !self.site_file_changed
    }
}

/// One process as `cluster status` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessStatus {
    pub name: String,
    pub component: Component,
    pub pid: Option<u32>,
    pub running: bool,
    pub version: Option<String>,
    pub port: u16,
    /// The worker id and state as the coordinator lists it.
    pub id: Option<String>,
    pub state: Option<WorkerState>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub name: String,
    pub phase: Phase,
    pub reasons: Vec<String>,
    pub processes: Vec<ProcessStatus>,
    /// OFFLINE entries in the member list (ring bloat).
    pub stale_offline: Vec<String>,
}

/// A spec on this machine: its files and the binary of its version.
pub struct Cluster<'a> {
    spec: Spec,
    layout: Layout,
    /// The release's binary; none for a cluster opened only to look at or
    /// stop it (its release may be gone by then).
    binary: Option<PathBuf>,
    http: reqwest::Client,
    observer: &'a dyn Observer,
}

impl<'a> Cluster<'a> {
    /// `spec` under `state_dir`, to apply or restart: the binary of its
    /// release is found and checked first. `own` is this CLI's binary and
    /// release, used when the spec names no releases directory.
    pub async fn open(
        spec: Spec,
        state_dir: &Path,
        own: (&Path, &str),
        observer: &'a dyn Observer,
    ) -> Result<Cluster<'a>, LifecycleError> {
        let binary = resolve_binary(&spec, own)?;
        check_release(&binary, &spec.version).await?;
        let mut cluster = Cluster::existing(spec, state_dir, observer)?;
        cluster.binary = Some(binary);
        Ok(cluster)
    }

    /// `spec` under `state_dir`, for `status` and `delete`, which start
    /// nothing.
    pub fn existing(
        spec: Spec,
        state_dir: &Path,
        observer: &'a dyn Observer,
    ) -> Result<Cluster<'a>, LifecycleError> {
        let layout = Layout::new(state_dir, &spec.name);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| LifecycleError::Coordinator {
                url: spec.coordinator_url(),
                reason: e.to_string(),
            })?;
        Ok(Cluster {
            spec,
            layout,
            binary: None,
            http,
            observer,
        })
    }

    /// Makes the processes match the spec; applying the same spec again
    /// changes nothing.
    pub async fn apply(&self) -> Result<Changes, LifecycleError> {
        let _lock = self.layout.lock(&self.spec.name)?;
        let mut state = self.layout.load()?;
        let old_site = std::fs::read_to_string(self.layout.site_file()).ok();
        let site = self.site_text();
        let mut changes = Changes {
            site_file_changed: self.layout.write_site(&site)?,
            ..Changes::default()
        };

        let coordinator_current = state
            .coordinator
            .as_ref()
            .filter(|c| c.handle.alive())
            .is_some_and(|c| {
                c.version == self.spec.version && c.port == self.spec.coordinator_port
            });
        if !coordinator_current {
            let was_running = state.coordinator.as_ref().is_some_and(|c| c.handle.alive());
            if let Some(old) = state.coordinator.take() {
                self.stop("coordinator", &old).await?;
            }
            state.coordinator = Some(self.start_coordinator().await?);
            self.layout.save(&state)?;
            if was_running {
                changes.restarted.push("coordinator".into());
            } else {
                changes.started.push("coordinator".into());
            }
        }

        // Scale down first: a worker removed is not worth upgrading.
        let extra: Vec<u32> = state
            .workers
            .keys()
            .copied()
            .filter(|o| *o >= self.spec.workers)
            .collect();
        for ordinal in extra {
            let record = state.workers.remove(&ordinal).expect("listed above");
            self.stop(&worker_name(ordinal), &record).await?;
            self.layout.save(&state)?;
            changes.stopped.push(worker_name(ordinal));
        }

        let mut missing = Vec::new();
        let mut outdated = Vec::new();
        for ordinal in 0..self.spec.workers {
            match state.workers.get(&ordinal) {
                Some(r) if r.handle.alive() && r.version == self.spec.version => {}
                Some(r) if r.handle.alive() => outdated.push(ordinal),
                _ => missing.push(ordinal),
            }
        }
        if !missing.is_empty() {
            let started =
                futures::future::join_all(missing.iter().map(|o| self.start_worker(*o))).await;
            for (ordinal, record) in missing.iter().zip(started) {
                state.workers.insert(*ordinal, record?);
                changes.started.push(worker_name(*ordinal));
            }
            self.layout.save(&state)?;
        }
        if !outdated.is_empty() {
            let reason = format!("upgrade to {}", self.spec.version);
            let restarted = self.roll_workers(&mut state, &outdated, &reason).await?;
            changes.restarted.extend(restarted);
        }

        self.tell_coordinator(None).await?;
        if changes.site_file_changed {
            let restarted = changes.restarted.clone();
            self.push_dynamic(old_site.as_deref(), &site, &restarted, &mut changes)
                .await?;
        }
        Ok(changes)
    }

    /// Restarts `component` (both, coordinator first, when none): the
    /// processes read the site file again, so edited properties apply.
    pub async fn restart(&self, component: Option<Component>) -> Result<Changes, LifecycleError> {
        let _lock = self.layout.lock(&self.spec.name)?;
        let mut state = self.layout.load()?;
        let mut changes = Changes {
            site_file_changed: self.layout.write_site(&self.site_text())?,
            ..Changes::default()
        };
        if component != Some(Component::Worker) {
            if let Some(old) = state.coordinator.take() {
                self.stop("coordinator", &old).await?;
            }
            state.coordinator = Some(self.start_coordinator().await?);
            self.layout.save(&state)?;
            changes.restarted.push("coordinator".into());
        }
        if component != Some(Component::Coordinator) {
            let ordinals: Vec<u32> = (0..self.spec.workers).collect();
            let restarted = self.roll_workers(&mut state, &ordinals, "restart").await?;
            changes.restarted.extend(restarted);
        }
        self.tell_coordinator(None).await?;
        Ok(changes)
    }

    /// Stops every process; with `remove_data`, removes the cluster's
    /// files too (metastore, page stores, identities, logs).
    pub async fn delete(&self, remove_data: bool) -> Result<Changes, LifecycleError> {
        let lock = self.layout.lock(&self.spec.name)?;
        let mut state = self.layout.load()?;
        let mut changes = Changes::default();
        let workers = std::mem::take(&mut state.workers);
        for (ordinal, record) in workers.iter().rev() {
            self.stop(&worker_name(*ordinal), record).await?;
            changes.stopped.push(worker_name(*ordinal));
        }
        if let Some(record) = state.coordinator.take() {
            self.stop("coordinator", &record).await?;
            changes.stopped.push("coordinator".into());
        }
        self.layout.save(&state)?;
        if remove_data {
            let mut dirs = vec![self.layout.root.clone()];
            dirs.extend(self.spec.metastore_dir.clone());
            if let Some(pages) = &self.spec.pagestore_dir {
                dirs.extend(workers.keys().map(|o| pages.join(worker_name(*o))));
            }
            drop(lock);
            for dir in dirs {
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => self.observer.note(&format!("removed {}", dir.display())),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(StateError::Io {
                            path: dir.display().to_string(),
                            source,
                        }
                        .into());
                    }
                }
            }
        }
        Ok(changes)
    }

    /// The phase and every process, from the saved state and the
    /// coordinator's view.
    pub async fn status(&self) -> Result<StatusReport, LifecycleError> {
        let state = self.layout.load()?;
        let lifecycle: Result<LifecycleStatus, _> = self.get("/lifecycle").await;
        let members: Vec<WorkerView> = self.get("/workers").await.unwrap_or_default();
        let mut processes = Vec::new();
        let coordinator = state.coordinator.as_ref();
        processes.push(ProcessStatus {
            name: "coordinator".into(),
            component: Component::Coordinator,
            pid: coordinator.map(|c| c.handle.pid),
            running: coordinator.is_some_and(|c| c.handle.alive()),
            version: coordinator.map(|c| c.version.clone()),
            port: self.spec.coordinator_port,
            id: None,
            state: None,
        });
        for ordinal in 0..self
            .spec
            .workers
            .max(state.workers.keys().max().map_or(0, |m| m + 1))
        {
            let record = state.workers.get(&ordinal);
            let port = self.spec.worker_ports(ordinal).0;
            let member = members
                .iter()
                .find(|m| m.heartbeat.address == worker_address(port));
            if record.is_none() && ordinal >= self.spec.workers {
                continue;
            }
            processes.push(ProcessStatus {
                name: worker_name(ordinal),
                component: Component::Worker,
                pid: record.map(|r| r.handle.pid),
                running: record.is_some_and(|r| r.handle.alive()),
                version: member
                    .map(|m| m.heartbeat.version.clone())
                    .or_else(|| record.map(|r| r.version.clone())),
                port,
                id: member.map(|m| m.heartbeat.id.clone()),
                state: member.map(|m| m.state),
            });
        }
        let not_running: Vec<String> = processes
            .iter()
            .filter(|p| !p.running)
            .map(|p| format!("{} is not running", p.name))
            .collect();
        let (mut phase, mut reasons, stale_offline) = match lifecycle {
            Ok(l) => (l.phase, l.reasons, l.stale_offline),
            Err(e) => (Phase::Degraded, vec![e.to_string()], Vec::new()),
        };
        if !not_running.is_empty() && phase == Phase::Ready {
            phase = Phase::Degraded;
        }
        reasons.extend(not_running);
        Ok(StatusReport {
            name: self.spec.name.clone(),
            phase,
            reasons,
            processes,
            stale_offline,
        })
    }

    /// The cluster token the coordinator wrote, for control calls; None
    /// before its first start (the coordinator's refusal then says so).
    fn cluster_token(&self) -> Option<String> {
        let site = SiteConfig::parse(&self.site_text(), "site", &[]).ok()?;
        let path = site.get(keys::SECURITY_CLUSTER_TOKEN_FILE);
        let token = std::fs::read_to_string(path).ok()?;
        Some(token.trim().to_string())
    }

    /// The site file: the spec's own settings, then its properties.
    fn site_text(&self) -> String {
        let spec = &self.spec;
        let mut text = format!(
            "# Written by `ringside cluster apply` for cluster {}; edit the spec, not this file.\n",
            spec.name
        );
        let mut set = |key: &str, value: &str| text.push_str(&format!("{key}={value}\n"));
        set(keys::CLUSTER_NAME.name(), &spec.name);
        set(keys::COORDINATOR_ADDRESS.name(), &spec.coordinator_url());
        if let Some(size) = spec.pagestore_size {
            set(keys::WORKER_PAGESTORE_SIZE.name(), &size.to_string());
        }
        if let Some(reserved) = spec.pagestore_reserved {
            set(
                keys::WORKER_PAGESTORE_RESERVED_SIZE.name(),
                &reserved.to_string(),
            );
        }
        if !spec.etcd_endpoints.is_empty() {
            set(keys::ETCD_ENDPOINTS.name(), &spec.etcd_endpoints.join(","));
            if !spec
                .site_properties
                .contains(keys::WORKER_MEMBERSHIP_MANAGER_TYPE.name())
            {
                set(keys::WORKER_MEMBERSHIP_MANAGER_TYPE.name(), "ETCD");
            }
        }
        // Beside the site file, so every process of the cluster (and the
        // CLI given `--conf`) finds the token the coordinator writes.
        if !spec
            .site_properties
            .contains(keys::SECURITY_CLUSTER_TOKEN_FILE.name())
        {
            set(
                keys::SECURITY_CLUSTER_TOKEN_FILE.name(),
                &self
                    .layout
                    .conf_dir()
                    .join("cluster.token")
                    .display()
                    .to_string(),
            );
        }
        text.push_str(&spec.site_properties);
        text
    }

    fn conf_args(&self, sets: &[(&str, String)], component: Component) -> Vec<String> {
        let mut args = vec![
            "--conf".to_string(),
            self.layout.conf_dir().display().to_string(),
        ];
        for (key, value) in sets {
            args.push("--set".into());
            args.push(format!("{key}={value}"));
        }
        args.extend(["process".into(), "start".into(), component.as_str().into()]);
        args
    }

    async fn start_coordinator(&self) -> Result<ProcessRecord, LifecycleError> {
        let metastore = self
            .spec
            .metastore_dir
            .clone()
            .unwrap_or_else(|| self.layout.coordinator_dir().join("metastore"));
        let args = self.conf_args(
            &[
                (keys::COORDINATOR_BIND_HOST.name(), "127.0.0.1".into()),
                (
                    keys::COORDINATOR_PORT.name(),
                    self.spec.coordinator_port.to_string(),
                ),
                (
                    keys::COORDINATOR_METASTORE_DIR.name(),
                    metastore.display().to_string(),
                ),
            ],
            Component::Coordinator,
        );
        let log = self.layout.coordinator_dir().join("log");
        let record = self.spawn("coordinator", args, &log, self.spec.coordinator_port)?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.get::<ClusterInfo>("/info").await {
                Ok(info) if info.version == self.spec.version => break,
                Ok(info) => {
                    return Err(self.not_ready(
                        "coordinator",
                        format!(
                            "it reports version {}, not {}",
                            info.version, self.spec.version
                        ),
                        &log,
                    ));
                }
                Err(e) if Instant::now() > deadline || !record.handle.alive() => {
                    return Err(self.not_ready("coordinator", e.to_string(), &log));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        self.observer.note(&format!(
            "coordinator ready on port {} (version {}, pid {})",
            self.spec.coordinator_port, self.spec.version, record.handle.pid
        ));
        Ok(record)
    }

    async fn start_worker(&self, ordinal: u32) -> Result<ProcessRecord, LifecycleError> {
        let name = worker_name(ordinal);
        let dir = self.layout.worker_dir(ordinal);
        let pages = self
            .spec
            .pagestore_dir
            .clone()
            .unwrap_or_else(|| self.layout.default_pagestore())
            .join(&name);
        let (http, s3) = self.spec.worker_ports(ordinal);
        let args = self.conf_args(
            &[
                (keys::WORKER_BIND_HOST.name(), "127.0.0.1".into()),
                (keys::WORKER_PORT.name(), http.to_string()),
                (keys::WORKER_S3_PORT.name(), s3.to_string()),
                (
                    keys::WORKER_PAGESTORE_DIR.name(),
                    pages.display().to_string(),
                ),
                (
                    keys::WORKER_IDENTITY_UUID_FILE_PATH.name(),
                    dir.join("identity").display().to_string(),
                ),
            ],
            Component::Worker,
        );
        let log = dir.join("log");
        let record = self.spawn(&name, args, &log, http)?;
        let address = worker_address(http);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let members: Result<Vec<WorkerView>, _> = self.get("/workers").await;
            let member = members.as_ref().ok().and_then(|list| {
                list.iter().find(|m| {
                    m.heartbeat.address == address
                        && m.state == WorkerState::Online
                        && m.heartbeat.version == self.spec.version
                        && m.last_heartbeat >= record.started_at
                })
            });
            if let Some(member) = member {
                self.observer.note(&format!(
                    "{name} ready on port {http} as {} (version {}, pid {})",
                    member.heartbeat.id, self.spec.version, record.handle.pid
                ));
                return Ok(record);
            }
            if Instant::now() > deadline || !record.handle.alive() {
                let reason = match members {
                    Err(e) => e.to_string(),
                    Ok(_) if !record.handle.alive() => "it exited".to_string(),
                    Ok(_) => "the coordinator does not list it ONLINE".to_string(),
                };
                return Err(self.not_ready(&name, reason, &log));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn spawn(
        &self,
        name: &str,
        args: Vec<String>,
        log: &Path,
        port: u16,
    ) -> Result<ProcessRecord, LifecycleError> {
        let binary = self.binary.clone().ok_or_else(|| LifecycleError::Release {
            version: self.spec.version.clone(),
            reason: "the cluster was opened without its release".into(),
        })?;
        let started_at = Utc::now();
        let handle = Handle::spawn(&Launch {
            binary: binary.clone(),
            args,
            log: log.to_path_buf(),
        })
        .map_err(|source| LifecycleError::Spawn {
            name: name.to_string(),
            source,
        })?;
        Ok(ProcessRecord {
            handle,
            binary,
            version: self.spec.version.clone(),
            port,
            started_at,
        })
    }

    async fn stop(&self, name: &str, record: &ProcessRecord) -> Result<(), LifecycleError> {
        if !record.handle.alive() {
            return Ok(());
        }
        let graceful =
            record
                .handle
                .stop(STOP_GRACE)
                .await
                .map_err(|source| LifecycleError::Stop {
                    name: name.to_string(),
                    source,
                })?;
        if graceful {
            self.observer
                .note(&format!("{name} stopped (pid {})", record.handle.pid));
        } else {
            self.observer.note(&format!(
                "{name} did not stop within {}s and was killed (pid {})",
                STOP_GRACE.as_secs(),
                record.handle.pid
            ));
        }
        Ok(())
    }

    /// Restarts `ordinals` in batches of the spec's maxUnavailable, each
    /// batch ready before the next, telling the coordinator as it goes.
    async fn roll_workers(
        &self,
        state: &mut ClusterState,
        ordinals: &[u32],
        reason: &str,
    ) -> Result<Vec<String>, LifecycleError> {
        let batches = self.spec.max_unavailable.batches(ordinals);
        let mut progress = RestartProgress::start(
            Component::Worker,
            reason,
            DRIVER_CLI,
            (batches.len(), ordinals.len()),
            Utc::now(),
        );
        self.tell_coordinator(Some(&progress)).await?;
        let mut restarted = Vec::new();
        for batch in &batches {
            let names: Vec<String> = batch.iter().map(|o| worker_name(*o)).collect();
            self.observer.note(&format!(
                "{reason}: batch {} of {}: {}",
                progress.batch + 1,
                progress.batches,
                names.join(", ")
            ));
            for ordinal in batch {
                if let Some(old) = state.workers.remove(ordinal) {
                    self.stop(&worker_name(*ordinal), &old).await?;
                }
            }
            self.layout.save(state)?;
            let started =
                futures::future::join_all(batch.iter().map(|o| self.start_worker(*o))).await;
            for (ordinal, record) in batch.iter().zip(started) {
                match record {
                    Ok(record) => {
                        state.workers.insert(*ordinal, record);
                    }
                    Err(e) => {
                        self.layout.save(state)?;
                        progress.finished_at = Some(Utc::now());
                        progress.error = Some(e.to_string());
                        // The rollout already failed; the coordinator
                        // learning so is best effort.
                        let _ = self.tell_coordinator(Some(&progress)).await;
                        return Err(e);
                    }
                }
            }
            self.layout.save(state)?;
            progress.batch += 1;
            progress.restarted += batch.len() as u32;
            restarted.extend(names);
            self.observer
                .rollout(reason, progress.restarted, progress.total);
            if progress.batch == progress.batches {
                progress.finished_at = Some(Utc::now());
            }
            self.tell_coordinator(Some(&progress)).await?;
        }
        Ok(restarted)
    }

    /// Sends what was applied (and the rollout, if one is rolling) to the
    /// coordinator; without a rollout, only when it differs from what the
    /// coordinator has, so a second apply is a no-op there too.
    async fn tell_coordinator(
        &self,
        restart: Option<&RestartProgress>,
    ) -> Result<(), LifecycleError> {
        let desired = self.spec.desired();
        if restart.is_none() {
            let current: LifecycleStatus = self.get("/lifecycle").await?;
            if current.desired.as_ref() == Some(&desired) {
                return Ok(());
            }
        }
        let update = LifecycleUpdate {
            desired,
            restart: restart.cloned(),
        };
        self.send(reqwest::Method::PUT, "/lifecycle", &update).await
    }

    /// Pushes the coordinator's changed dynamic properties to it live (the
    /// workers reload theirs from the site file within seconds); says
    /// which others need a restart (unless the process just restarted).
    async fn push_dynamic(
        &self,
        old: Option<&str>,
        new: &str,
        restarted: &[String],
        changes: &mut Changes,
    ) -> Result<(), LifecycleError> {
        let Some(old) = old else { return Ok(()) };
        let parse = |text| SiteConfig::parse(text, "site file", &[]);
        let (Ok(old), Ok(new)) = (parse(old), parse(new)) else {
            return Ok(());
        };
        let mut live = BTreeMap::new();
        for change in old.diff(&new) {
            // The coordinator reloads its own dynamic keys live; everything
            // else is read at start, by whichever process reads it.
            if CoordinatorConfig::DYNAMIC_KEYS.contains(&change.key) {
                live.insert(change.key.to_string(), Some(change.new.clone()));
                continue;
            }
            if change.dynamic {
                changes.reloaded.push(change.key.to_string());
                continue;
            }
            let component = if change.key.starts_with("ringside.coordinator.")
                || change.key.starts_with("ringside.job.")
                || change.key.starts_with("ringside.license")
            {
                Component::Coordinator
            } else {
                Component::Worker
            };
            if !restarted.iter().any(|r| r.starts_with(component.as_str())) {
                changes
                    .pending_restart
                    .push((change.key.to_string(), component));
            }
        }
        if !live.is_empty() {
            changes.pushed = live.keys().cloned().collect();
            self.send(
                reqwest::Method::PATCH,
                "/properties",
                &PropertyPatch { properties: live },
            )
            .await?;
        }
        Ok(())
    }

    fn not_ready(&self, name: &str, reason: String, log: &Path) -> LifecycleError {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        LifecycleError::NotReady {
            name: name.to_string(),
            reason,
            log: log.to_path_buf(),
            tail: lines[lines.len().saturating_sub(10)..].join("\n"),
        }
    }

    fn coordinator_error(&self, reason: impl ToString) -> LifecycleError {
        LifecycleError::Coordinator {
            url: self.spec.coordinator_url(),
            reason: reason.to_string(),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, LifecycleError> {
        self.call(reqwest::Method::GET, path, None::<&()>)
            .await?
            .json()
            .await
            .map_err(|e| self.coordinator_error(e))
    }

    async fn send<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> Result<(), LifecycleError> {
        self.call(method, path, Some(body)).await.map(drop)
    }

    /// `method path` on the coordinator; an answer other than 2xx is an
    /// error with the coordinator's message.
    async fn call<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, LifecycleError> {
        let url = format!(
            "{}{}{path}",
            self.spec.coordinator_url(),
            ringside_api::API_PREFIX
        );
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        if method != reqwest::Method::GET
            && let Some(token) = self.cluster_token()
        {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.coordinator_error(ringside_api::error::root_cause(&e)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let message = response
            .json::<ringside_api::ErrorBody>()
            .await
            .map_or_else(|_| status.to_string(), |b| b.error.message);
        Err(self.coordinator_error(format!("{method} {path}: {message}")))
    }
}

fn worker_address(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The binary of the spec's version: `<releases>/<version>/ringside`, or
/// this CLI's own when the spec names no releases directory.
fn resolve_binary(
    spec: &Spec,
    (own_binary, own_version): (&Path, &str),
) -> Result<PathBuf, LifecycleError> {
    let error = |reason: String| LifecycleError::Release {
        version: spec.version.clone(),
        reason,
    };
    match &spec.releases {
        Some(dir) => {
            let binary = dir.join(&spec.version).join("ringside");
            if binary.is_file() {
                Ok(binary)
            } else {
                Err(error(format!(
                    "{} does not exist: expected spec.releases ({}) to hold <version>/ringside",
                    binary.display(),
                    dir.display()
                )))
            }
        }
        None if spec.version == own_version => Ok(own_binary.to_path_buf()),
        None => Err(error(format!(
            "this ringside is {own_version} and the spec sets no spec.releases: expected spec.releases to name a directory holding {}/ringside",
            spec.version
        ))),
    }
}

/// Checks that `binary` is the release it claims to be.
async fn check_release(binary: &Path, version: &str) -> Result<(), LifecycleError> {
    let error = |reason: String| LifecycleError::Release {
        version: version.to_string(),
        reason,
    };
    let output = tokio::process::Command::new(binary)
        .args(["info", "version", "--format", "json"])
        .output()
        .await
        .map_err(|e| error(format!("cannot run {}: {e}", binary.display())))?;
    let reported = serde_json::from_slice::<serde_json::Value>(&output.stdout)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .ok_or_else(|| error(format!("{} does not report its version", binary.display())))?;
    if reported != version {
        return Err(error(format!(
            "{} is release {reported}: expected {version}",
            binary.display()
        )));
    }
    Ok(())
}
