//! The fan-out engine: one operation (submit a load, stop a job, free a
//! path, rebalance, apply a license) run on many clusters at once, with a
//! result per cluster. Every bulk action of the console goes through it.
//!
//! An operation is persisted with all of its targets before the first call
//! goes out, and every call carries an idempotency key per target that the
//! coordinators honour; so a console killed mid-operation resumes the
//! unfinished targets on restart and nothing is lost or done twice.

pub mod call;
pub mod engine;
pub mod store;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use chrono::{DateTime, Utc};
use ringside_api::{
    FieldError,
    operation::{
        NewOperation, OperationPreview, OperationState, OperationSummary, OperationView, Selector,
        TargetCounts, Targets, waves,
    },
};

use serde_json::json;

use crate::{
    ConsoleError,
    actor::Actor,
    audit::{AuditLog, Record},
    identity::IdentityService,
    secrets::SecretKey,
    store::Store,
};
use engine::Pass;

/// Most operations one history page lists.
pub const MAX_PAGE: u64 = 200;
/// Passes over one operation that may fail in a row (the database away)
/// before it is left for the next start, and the pause that grows between.
const MAX_FAILED_PASSES: u32 = 10;
const PASS_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// A pass running for an operation, and whether another is wanted after it.
#[derive(Debug, Default)]
struct Running {
    cancel: Arc<AtomicBool>,
    again: bool,
}

/// Starts, watches, cancels and retries operations.
#[derive(Clone, Debug)]
pub struct Operations {
    store: Store,
    key: SecretKey,
    /// Signs each call to a coordinator for the operation's creator.
    identity: IdentityService,
    audit: AuditLog,
    running: Arc<Mutex<HashMap<String, Running>>>,
}

impl Operations {
    pub fn new(store: Store, key: SecretKey, identity: IdentityService) -> Operations {
        Operations {
            audit: AuditLog::new(store.clone()),
            store,
            key,
            identity,
            running: Arc::default(),
        }
    }

    /// Resumes every operation left RUNNING by a console that stopped.
    pub async fn resume(&self) -> Result<usize, ConsoleError> {
        let ids = self.store.running_operations().await?;
        for id in &ids {
            tracing::info!(operation = %id, "resuming operation");
            self.spawn(id.clone());
        }
        Ok(ids.len())
    }

    /// The clusters `request` would run on, by wave, without starting it.
    pub async fn preview(&self, request: &NewOperation) -> Result<OperationPreview, ConsoleError> {
        request.validate()?;
        let targets = self.resolve(&request.targets).await?;
        for canary in &request.rollout.canary {
            if !targets.contains(canary) {
                return Err(FieldError::new(
                    "rollout.canary",
                    format!(
                        "canary {canary:?} is not among the operation's targets: expected one of the clusters it runs on"
                    ),
                )
                .into());
            }
        }
        let waves = waves(&targets, &request.rollout.canary, request.rollout.wave_size);
        Ok(OperationPreview {
            description: describe(request, targets.len(), waves.len()),
            targets,
            waves,
        })
    }

    /// Persists `request` with its targets, then starts it.
    pub async fn create(
        &self,
        request: NewOperation,
        created_by: &str,
    ) -> Result<OperationView, ConsoleError> {
        let preview = self.preview(&request).await?;
        if preview.targets.is_empty() {
            return Err(FieldError::new(
                "targets",
                "no registered cluster matches the targets: expected at least one",
            )
            .into());
        }
        let targets: Vec<(String, u32)> = preview
            .waves
            .iter()
            .enumerate()
            .flat_map(|(wave, names)| names.iter().map(move |n| (n.clone(), wave as u32)))
            .collect();
        let summary = OperationSummary {
            id: uuid::Uuid::new_v4().to_string(),
            description: preview.description,
            request,
            state: OperationState::Running,
            created_at: millis(Utc::now()),
            created_by: created_by.to_string(),
            finished_at: None,
            counts: TargetCounts::default(),
        };
        self.store.insert_operation(&summary, &targets).await?;
        tracing::info!(operation = %summary.id, description = %summary.description, "operation started");
        self.spawn(summary.id.clone());
        self.get(&summary.id).await
    }

    pub async fn get(&self, id: &str) -> Result<OperationView, ConsoleError> {
        let op = self
            .store
            .get_operation(id)
            .await?
            .ok_or_else(|| ConsoleError::NoOperation(id.to_string()))?;
        Ok(OperationView {
            summary: op.summary,
            targets: op.targets,
        })
    }

    /// The history, newest first.
    pub async fn list(
        &self,
        limit: u64,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<OperationSummary>, ConsoleError> {
        Ok(self
            .store
            .list_operations(limit.clamp(1, MAX_PAGE), before)
            .await?)
    }

    /// Stops starting targets; those already started finish.
    pub async fn cancel(&self, id: &str) -> Result<OperationView, ConsoleError> {
        let view = self.get(id).await?;
        if !self.store.request_cancel(id).await? {
            return Err(ConsoleError::OperationFinished {
                id: id.to_string(),
                state: view.summary.state,
            });
        }
        let running = match self.lock().get(id) {
            Some(run) => {
                run.cancel.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        };
        tracing::info!(operation = %id, "operation cancel asked");
        // Not running here (a console that stopped left it RUNNING): a pass
        // finds the flag and cancels what has not started.
        if !running {
            self.spawn(id.to_string());
        }
        self.get(id).await
    }

    /// Runs a FAILED target again, under the same idempotency key.
    pub async fn retry(&self, id: &str, cluster: &str) -> Result<OperationView, ConsoleError> {
        let view = self.get(id).await?;
        if !view.targets.iter().any(|t| t.cluster == cluster) {
            return Err(ConsoleError::NoTarget {
                id: id.to_string(),
                cluster: cluster.to_string(),
            });
        }
        if !self.store.reset_failed_target(id, cluster).await? {
            return Err(ConsoleError::Conflict(FieldError::new(
                "cluster",
                format!(
                    "the target {cluster:?} of operation {id} has not failed: only FAILED targets are retried"
                ),
            )));
        }
        self.store
            .set_operation_state(id, OperationState::Running, Utc::now())
            .await?;
        tracing::info!(operation = %id, %cluster, "target retry asked");
        self.spawn(id.to_string());
        self.get(id).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs passes over `id` until nothing is left to run; at most one
    /// runner per operation, which makes another pass when asked while busy.
    fn spawn(&self, id: String) {
        let cancel = {
            let mut running = self.lock();
            if let Some(run) = running.get_mut(&id) {
                run.again = true;
                return;
            }
            let run = Running::default();
            let cancel = run.cancel.clone();
            running.insert(id.clone(), run);
            cancel
        };
        let this = self.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                if let Err(error) = this.pass(&id, cancel.clone()).await {
                    failures += 1;
                    if failures < MAX_FAILED_PASSES {
                        tracing::warn!(operation = %id, %error, failures, "operation pass failed; trying again");
                        tokio::time::sleep(PASS_RETRY_PAUSE * failures).await;
                        continue;
                    }
                    tracing::error!(operation = %id, %error, "operation pass failed; resumed at the next start");
                }
                let mut running = this.lock();
                match running.get_mut(&id) {
                    Some(run) if run.again => run.again = false,
                    _ => {
                        running.remove(&id);
                        break;
                    }
                }
            }
        });
    }

    async fn pass(&self, id: &str, cancel: Arc<AtomicBool>) -> Result<(), ConsoleError> {
        let Some(op) = self.store.get_operation(id).await? else {
            return Ok(());
        };
        // Ended, and nothing asked again since: an extra pass would only
        // record the same end twice.
        if op.summary.state != OperationState::Running
            && op.targets.iter().all(|t| t.state.is_final())
        {
            return Ok(());
        }
        let license = match &op.summary.request.action {
            ringside_api::operation::Action::ApplyLicense { license_id } => {
                self.store.license_text(license_id).await?
            }
            _ => None,
        };
        let pass = Pass {
            store: self.store.clone(),
            key: self.key.clone(),
            identity: self.identity.clone(),
            audit: self.audit.clone(),
            cancel,
        };
        let state = pass.run(op, license).await?;
        tracing::info!(operation = %id, %state, "operation pass done");
        if state != OperationState::Running {
            let view = self.get(id).await?;
            let record = Record::new(&Actor::system("operations"), "operation.finish")
                .detail(operation_detail(&view.summary));
            let record = match state {
                OperationState::Succeeded => record,
                _ => record.refused(
                    &state.as_str().to_ascii_lowercase(),
                    &format!(
                        "{} of {} targets failed, {} skipped, {} cancelled",
                        view.summary.counts.failed,
                        view.summary.counts.total,
                        view.summary.counts.skipped,
                        view.summary.counts.cancelled
                    ),
                    None,
                ),
            };
            if let Err(error) = self.audit.record(record).await {
                tracing::warn!(operation = %id, %error, "cannot audit the end of an operation");
            }
        }
        Ok(())
    }

    /// Resolves targets against the registry, in registry (name) order for
    /// `all` and selectors, in the given order for named clusters.
    async fn resolve(&self, targets: &Targets) -> Result<Vec<String>, ConsoleError> {
        let clusters = self.store.list_clusters().await?;
        Ok(match targets {
            Targets::All => clusters.into_iter().map(|c| c.cluster.name).collect(),
            Targets::Selector { selector } => {
                let selector = Selector::parse(selector)?;
                clusters
                    .into_iter()
                    .filter(|c| selector.matches(&c.cluster.labels))
                    .map(|c| c.cluster.name)
                    .collect()
            }
            Targets::Clusters { names } => {
                let known: HashSet<&str> =
                    clusters.iter().map(|c| c.cluster.name.as_str()).collect();
                let unknown: Vec<&str> = names
                    .iter()
                    .map(String::as_str)
                    .filter(|n| !known.contains(n))
                    .collect();
                if !unknown.is_empty() {
                    return Err(FieldError::new(
                        "targets.names",
                        format!(
                            "no cluster named {} is registered: expected registered cluster names",
                            unknown.join(", ")
                        ),
                    )
                    .into());
                }
                let mut seen = HashSet::new();
                names
                    .iter()
                    .filter(|n| seen.insert(n.as_str()))
                    .cloned()
                    .collect()
            }
        })
    }
}

fn describe(request: &NewOperation, targets: usize, waves: usize) -> String {
    let clusters = if targets == 1 { "cluster" } else { "clusters" };
    let mut text = format!("{} on {targets} {clusters}", request.action);
    if waves > 1 {
        text.push_str(&format!(", in {waves} waves"));
    }
    text
}

fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The doors into the engine that the REST API and the UI share; each one
/// audited with who asked and how it ended.
impl crate::AppState {
    pub async fn create_operation(
        &self,
        actor: &Actor,
        request: NewOperation,
    ) -> Result<OperationView, ConsoleError> {
        let record = Record::new(actor, "operation.create")
            .detail(serde_json::to_value(&request).unwrap_or_default());
        let tenant = match &request.action {
            ringside_api::operation::Action::SetTenantPolicy { policy } => Some(policy.clone()),
            _ => None,
        };
        let outcome = self.operations.create(request, actor.name()).await;
        // The console's record of the tenant (its owning group for the
        // policy) follows the policy it pushes.
        if let (Ok(_), Some(policy)) = (&outcome, tenant)
            && let Err(error) = self.store.upsert_tenant(&policy, actor.name()).await
        {
            tracing::error!(%error, tenant = %policy.name, "cannot record the tenant");
        }
        let record = match &outcome {
            Ok(view) => record
                .targets(view.targets.iter().map(|t| t.cluster.clone()))
                .detail(operation_detail(&view.summary)),
            Err(_) => record,
        };
        self.audited(record, &outcome).await;
        outcome
    }

    pub async fn cancel_operation(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<OperationView, ConsoleError> {
        let outcome = self.operations.cancel(id).await;
        let record = Record::new(actor, "operation.cancel").detail(json!({ "operation": id }));
        self.audited(record, &outcome).await;
        outcome
    }

    pub async fn retry_target(
        &self,
        actor: &Actor,
        id: &str,
        cluster: &str,
    ) -> Result<OperationView, ConsoleError> {
        let outcome = self.operations.retry(id, cluster).await;
        let record = Record::new(actor, "operation.retry")
            .target(cluster)
            .detail(json!({ "operation": id }));
        self.audited(record, &outcome).await;
        outcome
    }
}

/// What the audit trail keeps of an operation.
fn operation_detail(summary: &OperationSummary) -> serde_json::Value {
    json!({
        "operation": summary.id,
        "description": summary.description,
        "request": summary.request,
        "state": summary.state,
        "counts": summary.counts,
    })
}
