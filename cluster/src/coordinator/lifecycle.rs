//! The cluster's lifecycle as the coordinator keeps it: what the operator
//! last applied, the restart rolling through the workers, and the phase
//! both give (`/api/v1/lifecycle`).
//!
//! A restart is rolled by whoever can start processes: `ringside cluster
//! apply` reports its progress here as it goes; or the coordinator rolls
//! one itself (`POST /api/v1/lifecycle/restart`, what the console's fan-out
//! calls), asking each worker of a batch to restart in place and waiting
//! until every one is back (a newer start time, ONLINE again) before the
//! next batch.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use ringside_api::{
    WorkerState, WorkerView,
    lifecycle::{
        Component, DRIVER_COORDINATOR, DesiredState, LifecycleStatus, LifecycleUpdate, ProcessView,
        RestartProgress, RestartRequest,
    },
    worker::WorkerStatus,
};
use sqlx::{Row, SqlitePool};
use tokio::sync::Mutex;

use crate::membership::{Membership, MembershipError};

/// Version of the JSON kept in the `lifecycle` table.
const FORMAT_VERSION: i64 = 1;
/// How long one batch of workers may take to come back.
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);
/// A rollout driven from outside (the CLI) that reports nothing for this
/// long was interrupted: its driver is gone (a batch reports within about
/// 90 s: a stop grace and a readiness wait).
const SILENT_ROLLOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("metastore database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error("lifecycle record in the metastore: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "a {} of the {}s is rolling ({} of {} restarted, driven by {}): wait for it to finish",
        .0.reason, .0.component, .0.restarted, .0.total, .0.driver
    )]
    Busy(Box<RestartProgress>),
    #[error("no ONLINE worker to restart")]
    NothingToRestart,
}

#[derive(Clone, Debug)]
pub struct LifecycleService {
    pool: SqlitePool,
    membership: Membership,
    coordinator: ProcessView,
    http: reqwest::Client,
    /// Held while the record is read and written, so a restart request and
    /// an update do not interleave.
    lock: Arc<Mutex<()>>,
}

impl LifecycleService {
    /// Opens the record; a restart this coordinator was rolling when it
    /// stopped is marked failed, since nobody drives it any more.
    pub async fn open(
        pool: SqlitePool,
        membership: Membership,
        coordinator: ProcessView,
        headers: reqwest::header::HeaderMap,
    ) -> Result<LifecycleService, LifecycleError> {
        let service = LifecycleService {
            pool,
            membership,
            coordinator,
            http: reqwest::Client::builder()
                .default_headers(headers)
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| LifecycleError::Invalid(e.to_string()))?,
            lock: Arc::default(),
        };
        let (desired, restart) = service.load().await?;
        if let Some(mut r) = restart.filter(|r| r.running() && r.driver == DRIVER_COORDINATOR) {
            r.finished_at = Some(Utc::now());
            r.error = Some("the coordinator restarted while rolling it".into());
            service.store(desired.as_ref(), Some(&r)).await?;
        }
        Ok(service)
    }

    pub async fn status(&self) -> Result<LifecycleStatus, LifecycleError> {
        let (desired, restart) = self.load().await?;
        let workers = self.membership.list().await?;
        Ok(LifecycleStatus::derive(
            self.coordinator.clone(),
            &workers,
            desired,
            restart,
        ))
    }

    /// Records what `cluster apply` applied and how far its rollout is.
    pub async fn update(&self, update: LifecycleUpdate) -> Result<LifecycleStatus, LifecycleError> {
        update
            .desired
            .validate()
            .map_err(|e| LifecycleError::Invalid(format!("{}: {}", e.field, e.message)))?;
        {
            let _guard = self.lock.lock().await;
            let (_, current) = self.load().await?;
            match (&current, &update.restart) {
                (Some(c), _) if c.running() && c.driver == DRIVER_COORDINATOR => {
                    return Err(LifecycleError::Busy(Box::new(c.clone())));
                }
                _ => {}
            }
            let restart = update.restart.or(current);
            self.store(Some(&update.desired), restart.as_ref()).await?;
        }
        self.status().await
    }

    /// Starts rolling a restart through the ONLINE workers, in batches of
    /// `request.max_unavailable` (else the applied one, else 10%).
    pub async fn restart_workers(
        &self,
        request: RestartRequest,
    ) -> Result<RestartProgress, LifecycleError> {
        let _guard = self.lock.lock().await;
        let (desired, current) = self.load().await?;
        if let Some(c) = current.filter(RestartProgress::running) {
            return Err(LifecycleError::Busy(Box::new(c)));
        }
        let workers: Vec<WorkerView> = self
            .membership
            .list()
            .await?
            .into_iter()
            .filter(|w| w.state == WorkerState::Online)
            .collect();
        if workers.is_empty() {
            return Err(LifecycleError::NothingToRestart);
        }
        let max = request
            .max_unavailable
            .or(desired.as_ref().map(|d| d.max_unavailable))
            .unwrap_or_default();
        let batches = max.batches(&workers);
        let progress = RestartProgress::start(
            Component::Worker,
            "restart",
            DRIVER_COORDINATOR,
            (batches.len(), workers.len()),
            Utc::now(),
        );
        self.store(desired.as_ref(), Some(&progress)).await?;
        tracing::info!(
            workers = workers.len(),
            batches = batches.len(),
            max_unavailable = %max,
            "rolling restart of the workers started"
        );
        tokio::spawn(self.clone().roll(batches, progress.clone()));
        Ok(progress)
    }

    async fn roll(self, batches: Vec<Vec<WorkerView>>, mut progress: RestartProgress) {
        for batch in batches {
            let outcome = self.restart_batch(&batch).await;
            let _guard = self.lock.lock().await;
            let desired = match self.load().await {
                Ok((desired, _)) => desired,
                Err(error) => {
                    tracing::error!(%error, "cannot read the lifecycle record; the rolling restart stops");
                    return;
                }
            };
            match outcome {
                Ok(()) => {
                    progress.batch += 1;
                    progress.restarted += batch.len() as u32;
                    if progress.batch == progress.batches {
                        progress.finished_at = Some(Utc::now());
                    }
                }
                Err(reason) => {
                    tracing::warn!(%reason, "rolling restart of the workers stopped");
                    progress.finished_at = Some(Utc::now());
                    progress.error = Some(reason);
                }
            }
            if let Err(error) = self.store(desired.as_ref(), Some(&progress)).await {
                tracing::error!(%error, "cannot record the rolling restart's progress");
            }
            if !progress.running() {
                break;
            }
        }
        if progress.error.is_none() {
            tracing::info!(
                workers = progress.total,
                "rolling restart of the workers finished"
            );
        }
    }

    /// Asks each worker of `batch` to restart and waits until all are back.
    async fn restart_batch(&self, batch: &[WorkerView]) -> Result<(), String> {
        let asked_at = Utc::now();
        for worker in batch {
            let url = format!(
                "{}{}/restart",
                worker.heartbeat.address,
                ringside_api::API_PREFIX
            );
            let response = self.http.post(&url).send().await.map_err(|e| {
                format!(
                    "worker {} at {} cannot be asked to restart: {}",
                    worker.heartbeat.id,
                    worker.heartbeat.address,
                    ringside_api::error::root_cause(&e)
                )
            })?;
            if !response.status().is_success() {
                return Err(format!(
                    "worker {} refused to restart: {}",
                    worker.heartbeat.id,
                    response.status()
                ));
            }
        }
        let deadline = tokio::time::Instant::now() + BATCH_TIMEOUT;
        for worker in batch {
            loop {
                if self.is_back(worker, asked_at).await {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!(
                        "worker {} at {} did not come back within {}s",
                        worker.heartbeat.id,
                        worker.heartbeat.address,
                        BATCH_TIMEOUT.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Whether `worker` started again after `asked_at` and is ONLINE with a
    /// heartbeat from its new life.
    async fn is_back(&self, worker: &WorkerView, asked_at: DateTime<Utc>) -> bool {
        let url = format!(
            "{}{}/status",
            worker.heartbeat.address,
            ringside_api::API_PREFIX
        );
        let restarted = match self.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r
                .json::<WorkerStatus>()
                .await
                .is_ok_and(|s| s.started_at.is_some_and(|t| t > asked_at)),
            _ => false,
        };
        if !restarted {
            return false;
        }
        self.membership.list().await.is_ok_and(|list| {
            list.iter().any(|m| {
                m.heartbeat.id == worker.heartbeat.id
                    && m.state == WorkerState::Online
                    && m.last_heartbeat > asked_at
            })
        })
    }

    async fn load(
        &self,
    ) -> Result<(Option<DesiredState>, Option<RestartProgress>), LifecycleError> {
        let row = sqlx::query(
            "SELECT format_version, desired, restart, updated_at FROM lifecycle WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok((None, None));
        };
        let version: i64 = row.try_get("format_version")?;
        if version != FORMAT_VERSION {
            return Err(LifecycleError::Corrupt(format!(
                "format version {version}: this build reads version {FORMAT_VERSION}"
            )));
        }
        let parse = |column: &str| -> Result<Option<String>, sqlx::Error> { row.try_get(column) };
        let desired = parse("desired")?
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| LifecycleError::Corrupt(format!("desired state: {e}")))?;
        let restart: Option<RestartProgress> = parse("restart")?
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| LifecycleError::Corrupt(format!("restart: {e}")))?;
        let updated_at = crate::metastore::from_millis(row.try_get("updated_at")?);
        Ok((
            desired,
            restart.map(|r| interrupted(r, updated_at, Utc::now())),
        ))
    }

    async fn store(
        &self,
        desired: Option<&DesiredState>,
        restart: Option<&RestartProgress>,
    ) -> Result<(), LifecycleError> {
        sqlx::query(
            "INSERT INTO lifecycle (id, format_version, desired, restart, updated_at) VALUES (1, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET format_version = excluded.format_version, \
             desired = excluded.desired, restart = excluded.restart, updated_at = excluded.updated_at",
        )
        .bind(FORMAT_VERSION)
        .bind(desired.map(|d| serde_json::to_string(d).expect("serializes")))
        .bind(restart.map(|r| serde_json::to_string(r).expect("serializes")))
        .bind(Utc::now().timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// `restart` as it stands at `now`, last reported at `reported`: one its
/// outside driver stopped reporting on is over, cut short.
fn interrupted(
    mut restart: RestartProgress,
    reported: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RestartProgress {
    let silent = (now - reported).to_std().unwrap_or_default();
    if restart.running() && restart.driver != DRIVER_COORDINATOR && silent > SILENT_ROLLOUT {
        restart.finished_at = Some(reported);
        restart.error = Some(format!(
            "{} reported nothing for {} s after batch {} of {}: interrupted",
            restart.driver,
            silent.as_secs(),
            restart.batch,
            restart.batches
        ));
    }
    restart
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_api::lifecycle::DRIVER_CLI;

    #[test]
    fn a_silent_outside_rollout_is_over() {
        let start = Utc::now();
        let progress = |driver| {
            RestartProgress::start(Component::Worker, "upgrade to 2", driver, (3, 3), start)
        };
        let later = start + chrono::Duration::seconds(301);
        let soon = start + chrono::Duration::seconds(60);
        let cut = interrupted(progress(DRIVER_CLI), start, later);
        assert!(!cut.running());
        assert!(cut.error.unwrap().contains("interrupted"));
        assert!(interrupted(progress(DRIVER_CLI), start, soon).running());
        // The coordinator's own are ended when it starts, not by silence.
        assert!(interrupted(progress(DRIVER_COORDINATOR), start, later).running());
    }
}
