//! The job service: LOAD, FREE and REBALANCE jobs, kept in the metastore
//! and carried out by the workers that own the files on the ring.
//!
//! A job lists its files into the metastore in batches (so a million files
//! are never in memory at once), then hands them out as tasks of
//! `batch size` files to their owners, at most `max tasks per worker` at a
//! time each. Each file's outcome is recorded as its task answers, so a
//! coordinator killed mid-job resumes with the files still pending. When
//! the ring changes, files already done whose owner changed are handed to
//! the new owner; at the end a LOAD counts what the owners really hold.

mod runner;
mod store;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use futures::StreamExt;
use ringside_api::job::{JobRequest, JobState, JobType, JobView, REBALANCE_ALL};
use ringside_config::{CoordinatorConfig, JobConfig, UfsConfig};
use ringside_ufs::{Ufs, UfsError, UfsPath};
use sqlx::SqlitePool;
use tokio::sync::watch;

use crate::membership::{Membership, MembershipError};
use store::JobStore;

/// Most files a task may carry.
pub const MAX_BATCH_SIZE: u32 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("metastore database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("metastore holds a job it cannot read: {0}")]
    Corrupt(String),
    #[error("no job with id {0}")]
    UnknownJob(String),
    #[error("no {job_type} job for {path}")]
    NoJobFor { job_type: JobType, path: String },
    #[error("no file or directory {path} in the UFS")]
    PathNotFound { path: String },
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a {} job for {} is already {} (id {}): not submitted again", .0.job_type, .0.path, .0.state, .0.id)]
    Exists(Box<JobView>),
    #[error("{} job {} for {} already finished ({}): nothing to stop", .0.job_type, .0.id, .0.path, .0.state)]
    Finished(Box<JobView>),
    #[error("ufs: {0}")]
    Ufs(#[from] UfsError),
    #[error(transparent)]
    Membership(#[from] MembershipError),
}

/// Whether a submit made a job or resumed a stopped one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    Created,
    Resumed,
}

/// The coordinator's jobs.
#[derive(Clone, Debug)]
pub struct JobService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: JobStore,
    membership: Membership,
    /// Opened when a job needs it, so a coordinator whose UFS is not
    /// reachable yet still starts and serves membership.
    ufs: UfsConfig,
    /// The coordinator's settings as they are now; the job settings are
    /// read at each use ([`Inner::config`]), so a pushed value applies to
    /// the next pass of every running job.
    live: watch::Receiver<CoordinatorConfig>,
    http: reqwest::Client,
    /// Stop switches of the jobs running in this process.
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
}

impl JobService {
    /// Opens the job tables (the membership's migrations made them) and
    /// resumes every job that was active when the coordinator last stopped.
    /// `live` carries the coordinator's settings as they change.
    pub async fn start(
        pool: SqlitePool,
        membership: Membership,
        live: watch::Receiver<CoordinatorConfig>,
        headers: reqwest::header::HeaderMap,
    ) -> Result<JobService, JobError> {
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| JobError::Corrupt(format!("cannot build the HTTP client: {e}")))?;
        let ufs = live.borrow().ufs.clone();
        let service = JobService {
            inner: Arc::new(Inner {
                store: JobStore::new(pool),
                membership,
                ufs,
                live,
                http,
                running: Mutex::new(HashMap::new()),
            }),
        };
        for id in service.inner.store.active_ids().await? {
            tracing::info!(job = %id, "resuming job");
            service.spawn(id);
        }
        tokio::spawn(service.clone().expire_loop());
        Ok(service)
    }

    /// Starts a job, or resumes the stopped job of the same type and path.
    pub async fn submit(&self, request: JobRequest) -> Result<(JobView, Submitted), JobError> {
        let path = self.validate(&request).await?;
        let store = &self.inner.store;
        if let Some(current) = store.current(request.job_type, &path).await? {
            if current.state.is_active() {
                return Err(JobError::Exists(Box::new(current)));
            }
            if current.state == JobState::Stopped {
                store
                    .set_state(&current.id, JobState::Waiting, None)
                    .await?;
                tracing::info!(job = %current.id, job_type = %request.job_type, %path, "job resumed");
                self.spawn(current.id.clone());
                return Ok((self.get(&current.id).await?, Submitted::Resumed));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = store
            .insert(&id, request.job_type, &path, &request.options)
            .await;
        if let Err(JobError::Database(sqlx::Error::Database(e))) = &inserted
            && e.is_unique_violation()
            && let Some(current) = store.current(request.job_type, &path).await?
        {
            // Another submit of the same job got in first.
            return Err(JobError::Exists(Box::new(current)));
        }
        inserted?;
        tracing::info!(job = %id, job_type = %request.job_type, %path, "job submitted");
        self.spawn(id.clone());
        Ok((self.get(&id).await?, Submitted::Created))
    }

    pub async fn get(&self, id: &str) -> Result<JobView, JobError> {
        self.inner
            .store
            .get(id)
            .await?
            .ok_or_else(|| JobError::UnknownJob(id.to_string()))
    }

    /// The latest job of a type on a path (a REBALANCE's is its target).
    pub async fn current(&self, job_type: JobType, path: &str) -> Result<JobView, JobError> {
        let path = match job_type {
            JobType::Rebalance => path.to_string(),
            _ => UfsPath::parse(path)
                .map_err(|e| invalid("path", e.to_string()))?
                .to_string(),
        };
        self.inner
            .store
            .current(job_type, &path)
            .await?
            .ok_or(JobError::NoJobFor { job_type, path })
    }

    pub async fn list(
        &self,
        job_type: Option<JobType>,
        state: Option<JobState>,
    ) -> Result<Vec<JobView>, JobError> {
        self.inner.store.list(job_type, state).await
    }

    /// How many jobs there are of each type and state.
    pub async fn counts(&self) -> Result<Vec<(JobType, JobState, u64)>, JobError> {
        self.inner.store.counts().await
    }

    /// Stops an active job; its finished files stay done.
    pub async fn stop(&self, id: &str) -> Result<JobView, JobError> {
        let job = self.get(id).await?;
        if !job.state.is_active() {
            return Err(JobError::Finished(Box::new(job)));
        }
        let switch = self.inner.running().remove(id);
        match switch {
            // The runner sees the switch, stops its tasks and records STOPPED.
            Some(switch) => {
                let _ = switch.send(true);
                switch.closed().await;
            }
            None => {
                self.inner
                    .store
                    .set_state(id, JobState::Stopped, None)
                    .await?
            }
        }
        tracing::info!(job = %id, "job stopped");
        self.get(id).await
    }

    fn spawn(&self, id: String) {
        let (switch, stop) = watch::channel(false);
        self.inner.running().insert(id.clone(), switch);
        tokio::spawn(runner::run(self.inner.clone(), id, stop));
    }

    /// Checks a request and returns its normalized path (or target).
    async fn validate(&self, request: &JobRequest) -> Result<String, JobError> {
        let o = &request.options;
        let only = |set: bool, option: &'static str, types: &str| {
            if set {
                Err(invalid(
                    "options",
                    format!(
                        "{option} does not apply to {} jobs: it is an option of {types} jobs",
                        request.job_type
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let positive = |value: Option<u64>, field: &'static str| match value {
            Some(0) => Err(invalid(
                field,
                format!("{field} must be at least 1 byte per second, e.g. 200MiB"),
            )),
            _ => Ok(()),
        };
        positive(o.bandwidth, "bandwidth")?;
        positive(o.load_bandwidth, "load_bandwidth")?;
        positive(o.prune_bandwidth, "prune_bandwidth")?;
        if let Some(n) = o.batch_size
            && !(1..=MAX_BATCH_SIZE).contains(&n)
        {
            return Err(invalid(
                "batch_size",
                format!("batch size {n} is out of range: expected 1 to {MAX_BATCH_SIZE} files"),
            ));
        }
        if let Some(regex) = &o.file_filter_regex {
            regex::Regex::new(regex).map_err(|e| {
                invalid(
                    "file_filter_regex",
                    format!(
                        "invalid file filter regex {regex:?}: {e}; expected a regular expression matched against each file's path, e.g. \\.parquet$"
                    ),
                )
            })?;
        }
        match request.job_type {
            JobType::Load | JobType::Free => {
                let rebalance_only = "REBALANCE";
                only(o.load_bandwidth.is_some(), "load_bandwidth", rebalance_only)?;
                only(
                    o.prune_bandwidth.is_some(),
                    "prune_bandwidth",
                    rebalance_only,
                )?;
                only(o.skip_prune, "skip_prune", rebalance_only)?;
                if request.job_type == JobType::Free {
                    only(o.skip_if_exists, "skip_if_exists", "LOAD")?;
                    only(o.verify, "verify", "LOAD")?;
                    only(o.bandwidth.is_some(), "bandwidth", "LOAD")?;
                }
                let path =
                    UfsPath::parse(&request.path).map_err(|e| invalid("path", e.to_string()))?;
                self.check_exists(&path).await?;
                Ok(path.to_string())
            }
            JobType::Rebalance => {
                let load_only = "LOAD";
                only(o.skip_if_exists, "skip_if_exists", load_only)?;
                only(o.verify, "verify", load_only)?;
                only(o.bandwidth.is_some(), "bandwidth", load_only)?;
                only(
                    o.file_filter_regex.is_some(),
                    "file_filter_regex",
                    "LOAD and FREE",
                )?;
                let target = request.path.trim();
                if target.eq_ignore_ascii_case(REBALANCE_ALL) {
                    return Ok(REBALANCE_ALL.to_string());
                }
                let workers = self.inner.membership.list().await?;
                if workers.iter().any(|w| w.heartbeat.id == target) {
                    Ok(target.to_string())
                } else {
                    Err(invalid(
                        "path",
                        format!(
                            "unknown rebalance target {target:?}: expected ALL or the id of a worker, as `ringside info nodes` lists them"
                        ),
                    ))
                }
            }
        }
    }

    async fn check_exists(&self, path: &UfsPath) -> Result<(), JobError> {
        let ufs = self.inner.ufs()?;
        if path.is_root() {
            // The whole UFS; it has no status of its own.
            return Ok(());
        }
        match ufs.stat(path).await {
            Ok(_) => return Ok(()),
            Err(UfsError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        match ufs.list(path, false).next().await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
            None => Err(JobError::PathNotFound {
                path: path.to_string(),
            }),
        }
    }

    /// Drops finished jobs once they are older than the retention time.
    async fn expire_loop(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let retention =
                chrono::Duration::from_std(self.inner.config().retention_time).unwrap_or_default();
            match self.inner.store.expire(Utc::now() - retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "expired finished jobs"),
                Err(error) => tracing::warn!(%error, "cannot expire finished jobs"),
            }
        }
    }
}

impl Inner {
    /// The job settings as they are now.
    fn config(&self) -> JobConfig {
        self.live.borrow().job.clone()
    }

    fn ufs(&self) -> Result<Ufs, JobError> {
        crate::worker::open_ufs(&self.ufs).map_err(JobError::from)
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> JobError {
    JobError::Invalid {
        field,
        message: message.into(),
    }
}
