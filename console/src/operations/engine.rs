//! Runs an operation's targets: wave by wave, a bounded number of calls at
//! a time, checking before each start whether the operation was cancelled
//! or has halted. Targets already started are always finished (their call
//! may have reached the coordinator), so cancel and halt only stop what has
//! not started. What the targets do is reported to the store in batches.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use futures::{StreamExt, stream};
use ringside_api::operation::{OperationState, TargetCounts, TargetState, TargetView};

use super::{
    call::{self, Prepared},
    store::{StoredOperation, TargetUpdate},
};
use crate::{
    actor::Actor,
    audit::{AuditLog, Record},
    identity::IdentityService,
    remote::{Clients, Remote},
    secrets::SecretKey,
    store::{Store, StoreError},
};

/// How often target updates are written while an operation runs.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The state an operation ends in, from its targets' states.
pub fn final_state(counts: &TargetCounts) -> OperationState {
    if counts.pending > 0 || counts.running > 0 {
        OperationState::Running
    } else if counts.cancelled > 0 {
        OperationState::Cancelled
    } else if counts.skipped > 0 {
        OperationState::Halted
    } else if counts.failed > 0 {
        OperationState::Failed
    } else {
        OperationState::Succeeded
    }
}

/// The idempotency key of one target: the same for every call made for it,
/// whoever makes it and however often.
pub fn idempotency_key(operation: &str, cluster: &str) -> String {
    format!("ringside-op-{operation}-{cluster}")
}

/// Whether a target must run even when the operation is cancelled or has
/// halted: it was started before (its call may have reached the cluster),
/// or an operator asked for it again.
fn must_finish(target: &TargetView) -> bool {
    target.state == TargetState::Running || target.attempts > 0
}

/// Target updates waiting to be written, written in order.
struct Recorder {
    store: Store,
    operation: String,
    waiting: Mutex<Vec<TargetUpdate>>,
    writing: tokio::sync::Mutex<()>,
}

impl Recorder {
    fn push(&self, update: TargetUpdate) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(update);
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let _writing = self.writing.lock().await;
        let batch = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        let written = self.store.update_targets(&self.operation, &batch).await;
        if written.is_err() {
            // Put back in front, in order, for the next flush: a lost
            // outcome would leave its target running forever.
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            let newer = std::mem::replace(&mut *waiting, batch);
            waiting.extend(newer);
        }
        written
    }
}

/// What one pass over an operation needs.
pub struct Pass {
    pub store: Store,
    pub key: SecretKey,
    pub identity: IdentityService,
    pub audit: AuditLog,
    /// Set when a cancel is asked while the pass runs.
    pub cancel: Arc<AtomicBool>,
}

impl Pass {
    /// Runs every target of `op` that is not final yet, then answers the
    /// state the operation ended in (RUNNING if a retry was asked during
    /// the pass and is still waiting).
    pub async fn run(
        &self,
        op: StoredOperation,
        license: Option<String>,
    ) -> Result<OperationState, StoreError> {
        let id = op.summary.id.clone();
        let rollout = op.summary.request.rollout.clone();
        if op.cancel_requested {
            self.cancel.store(true, Ordering::SeqCst);
        }
        let recorder = Arc::new(Recorder {
            store: self.store.clone(),
            operation: id.clone(),
            waiting: Mutex::new(Vec::new()),
            writing: tokio::sync::Mutex::new(()),
        });
        let flusher = {
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    if let Err(error) = recorder.flush().await {
                        tracing::warn!(%error, "cannot record operation progress");
                    }
                }
            })
        };
        let outcome = self.run_waves(&op, license, &rollout, &recorder).await;
        flusher.abort();
        recorder.flush().await?;
        outcome?;
        let now = Utc::now();
        if self.cancel.load(Ordering::SeqCst) {
            self.store
                .move_targets(&id, &[TargetState::Pending], TargetState::Cancelled, now)
                .await?;
        }
        let read = || async {
            self.store.get_operation(&id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("operation {id} vanished while running"))
            })
        };
        let mut after = read().await?;
        // Failures past the threshold: what has not run is skipped.
        if rollout
            .max_failures
            .is_some_and(|max| after.summary.counts.failed > max)
            && after.summary.counts.pending > 0
        {
            self.store
                .move_targets(&id, &[TargetState::Pending], TargetState::Skipped, now)
                .await?;
            after = read().await?;
        }
        let state = final_state(&after.summary.counts);
        self.store.set_operation_state(&id, state, now).await?;
        Ok(state)
    }

    async fn run_waves(
        &self,
        op: &StoredOperation,
        license: Option<String>,
        rollout: &ringside_api::operation::Rollout,
        recorder: &Arc<Recorder>,
    ) -> Result<(), StoreError> {
        let id = &op.summary.id;
        let prepared = Prepared::new(&op.summary.request.action, license);
        let registered: HashMap<String, _> = self
            .store
            .list_clusters()
            .await?
            .into_iter()
            .map(|c| (c.cluster.name.clone(), c))
            .collect();
        let failures = Arc::new(AtomicU32::new(op.summary.counts.failed));
        let waves: BTreeSet<u32> = op
            .targets
            .iter()
            .filter(|t| !t.state.is_final())
            .map(|t| t.wave)
            .collect();
        let mut clients = Clients::default();
        let timeout = Duration::from_millis(rollout.timeout_ms);
        for wave in waves {
            let over = |failures: &AtomicU32| {
                rollout
                    .max_failures
                    .is_some_and(|max| failures.load(Ordering::SeqCst) > max)
            };
            let started = Utc::now();
            let failed_before = failures.load(Ordering::SeqCst);
            let targets: Vec<(TargetView, Option<Remote>)> = op
                .targets
                .iter()
                .filter(|t| t.wave == wave && !t.state.is_final())
                .filter(|t| {
                    must_finish(t) || !(self.cancel.load(Ordering::SeqCst) || over(&failures))
                })
                .map(|t| {
                    let remote = registered.get(&t.cluster).cloned().map(|c| {
                        Remote::new(c, &self.key, &mut clients, timeout)
                            .acting_for(&self.identity, &op.summary.created_by)
                    });
                    (t.clone(), remote)
                })
                .collect();
            stream::iter(targets)
                .map(|(target, remote)| {
                    let failures = failures.clone();
                    let prepared = &prepared;
                    async move {
                        // Checked again at the start: a wave's later
                        // targets must see the failures of its first ones.
                        let stopped = self.cancel.load(Ordering::SeqCst) || over(&failures);
                        if stopped && !must_finish(&target) {
                            return;
                        }
                        recorder.push(TargetUpdate::Started {
                            cluster: target.cluster.clone(),
                            at: Utc::now(),
                        });
                        let outcome = match (remote, prepared) {
                            (None, _) => call::Outcome {
                                succeeded: false,
                                attempts: 1,
                                message: format!(
                                    "cluster {:?} is no longer registered",
                                    target.cluster
                                ),
                            },
                            (_, Err(message)) => call::Outcome {
                                succeeded: false,
                                attempts: 1,
                                message: message.clone(),
                            },
                            (Some(remote), Ok(prepared)) => {
                                let key = idempotency_key(id, &target.cluster);
                                call::run(&remote, prepared, &key, rollout).await
                            }
                        };
                        if !outcome.succeeded {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                        recorder.push(TargetUpdate::Finished {
                            cluster: target.cluster,
                            state: if outcome.succeeded {
                                TargetState::Succeeded
                            } else {
                                TargetState::Failed
                            },
                            attempts: target.attempts + outcome.attempts,
                            at: Utc::now(),
                            message: outcome.message,
                        });
                    }
                })
                .buffer_unordered(rollout.concurrency.max(1) as usize)
                .collect::<()>()
                .await;
            recorder.flush().await?;
            self.audit_wave(
                op,
                wave,
                started,
                failures.load(Ordering::SeqCst) - failed_before,
            )
            .await;
        }
        Ok(())
    }

    /// Every step audited: one entry per wave, naming its clusters.
    async fn audit_wave(
        &self,
        op: &StoredOperation,
        wave: u32,
        started: chrono::DateTime<Utc>,
        failed: u32,
    ) {
        let clusters = op
            .targets
            .iter()
            .filter(|t| t.wave == wave)
            .map(|t| t.cluster.clone());
        let record = Record::new(&Actor::system("operations"), "operation.wave")
            .targets(clusters)
            .detail(serde_json::json!({
                "operation": op.summary.id,
                "wave": wave,
                "failed": failed,
                "elapsed_ms": (Utc::now() - started).num_milliseconds(),
            }));
        let record = if failed == 0 {
            record
        } else {
            record.refused(
                "wave_failures",
                &format!("{failed} targets failed in wave {wave}"),
                None,
            )
        };
        if let Err(error) = self.audit.record(record).await {
            tracing::warn!(operation = %op.summary.id, %error, "cannot audit a wave");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(states: &[TargetState]) -> TargetCounts {
        let mut c = TargetCounts::default();
        for s in states {
            c.add(*s);
        }
        c
    }

    #[test]
    fn the_final_state_follows_the_targets() {
        use TargetState::*;
        assert_eq!(
            final_state(&counts(&[Succeeded, Succeeded])),
            OperationState::Succeeded
        );
        assert_eq!(
            final_state(&counts(&[Succeeded, Failed])),
            OperationState::Failed
        );
        assert_eq!(
            final_state(&counts(&[Failed, Skipped])),
            OperationState::Halted
        );
        assert_eq!(
            final_state(&counts(&[Succeeded, Cancelled, Skipped])),
            OperationState::Cancelled
        );
        assert_eq!(
            final_state(&counts(&[Succeeded, Pending])),
            OperationState::Running
        );
    }

    #[test]
    fn keys_name_the_operation_and_the_cluster() {
        assert_eq!(idempotency_key("op1", "eu-1"), "ringside-op-op1-eu-1");
    }
}
