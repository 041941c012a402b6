//! Operations and their targets in the console's database, on either
//! backend. An operation is written with all of its targets in one
//! transaction before anything runs; target updates arrive in batches, one
//! transaction each, so a fan-out to a thousand clusters is a few dozen
//! commits rather than thousands.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ringside_api::operation::{
    NewOperation, OperationState, OperationSummary, TargetCounts, TargetState, TargetView,
};
use sea_query::{Expr, ExprTrait, Func, Iden, Order, Query};
use sqlx::Row;

use crate::store::{Store, StoreError, fetch_rows};

/// Version of the JSON in `operations.request` this build writes and reads.
pub const REQUEST_VERSION: i64 = 1;

#[derive(Iden)]
enum Operations {
    Table,
    Id,
    CreatedAt,
    CreatedBy,
    Description,
    RequestVersion,
    Request,
    State,
    CancelRequested,
    FinishedAt,
}

#[derive(Iden)]
enum OperationTargets {
    Table,
    OperationId,
    Cluster,
    Position,
    Wave,
    State,
    Attempts,
    StartedAt,
    FinishedAt,
    Message,
}

/// An operation as the engine reads it back.
#[derive(Clone, Debug)]
pub struct StoredOperation {
    pub summary: OperationSummary,
    pub cancel_requested: bool,
    pub targets: Vec<TargetView>,
}

/// A change to one target, as the engine reports it.
#[derive(Clone, Debug)]
pub enum TargetUpdate {
    Started {
        cluster: String,
        at: DateTime<Utc>,
    },
    Finished {
        cluster: String,
        state: TargetState,
        attempts: u32,
        at: DateTime<Utc>,
        message: String,
    },
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl Store {
    /// Writes a new operation and its targets, `(cluster, wave)` in order.
    pub async fn insert_operation(
        &self,
        summary: &OperationSummary,
        targets: &[(String, u32)],
    ) -> Result<(), StoreError> {
        let request = serde_json::to_string(&summary.request).map_err(corrupt)?;
        let operation = Query::insert()
            .into_table(Operations::Table)
            .columns([
                Operations::Id,
                Operations::CreatedAt,
                Operations::CreatedBy,
                Operations::Description,
                Operations::RequestVersion,
                Operations::Request,
                Operations::State,
            ])
            .values_panic([
                summary.id.clone().into(),
                summary.created_at.timestamp_millis().into(),
                summary.created_by.clone().into(),
                summary.description.clone().into(),
                REQUEST_VERSION.into(),
                request.into(),
                summary.state.as_str().into(),
            ])
            .to_owned();
        // Inserted in chunks: one statement per target would make a large
        // fan-out slow to start, and one for all could pass the backends'
        // limits on bound values.
        let rows: Vec<_> = targets
            .chunks(500)
            .enumerate()
            .map(|(chunk, part)| {
                let mut insert = Query::insert();
                insert.into_table(OperationTargets::Table).columns([
                    OperationTargets::OperationId,
                    OperationTargets::Cluster,
                    OperationTargets::Position,
                    OperationTargets::Wave,
                    OperationTargets::State,
                ]);
                for (i, (cluster, wave)) in part.iter().enumerate() {
                    insert.values_panic([
                        summary.id.clone().into(),
                        cluster.clone().into(),
                        ((chunk * 500 + i) as i64).into(),
                        i64::from(*wave).into(),
                        TargetState::Pending.as_str().into(),
                    ]);
                }
                insert
            })
            .collect();
        // One transaction for all: a half-written target list would resume
        // as a smaller operation.
        let mut statements = vec![operation];
        statements.extend(rows);
        self.execute_all(&statements).await?;
        Ok(())
    }

    /// Applies target updates in order, in one transaction.
    pub async fn update_targets(
        &self,
        operation: &str,
        updates: &[TargetUpdate],
    ) -> Result<(), StoreError> {
        if updates.is_empty() {
            return Ok(());
        }
        let statements: Vec<_> = updates
            .iter()
            .map(|update| {
                let mut query = Query::update();
                query
                    .table(OperationTargets::Table)
                    .and_where(Expr::col(OperationTargets::OperationId).eq(operation));
                match update {
                    TargetUpdate::Started { cluster, at } => {
                        query
                            .value(OperationTargets::State, TargetState::Running.as_str())
                            .value(OperationTargets::StartedAt, at.timestamp_millis())
                            .value(OperationTargets::FinishedAt, Option::<i64>::None)
                            .and_where(Expr::col(OperationTargets::Cluster).eq(cluster.as_str()));
                    }
                    TargetUpdate::Finished {
                        cluster,
                        state,
                        attempts,
                        at,
                        message,
                    } => {
                        query
                            .value(OperationTargets::State, state.as_str())
                            .value(OperationTargets::Attempts, i64::from(*attempts))
                            .value(OperationTargets::FinishedAt, at.timestamp_millis())
                            .value(OperationTargets::Message, message.as_str())
                            .and_where(Expr::col(OperationTargets::Cluster).eq(cluster.as_str()));
                    }
                }
                query
            })
            .collect();
        self.execute_all(&statements).await
    }

    /// Moves every target of `operation` in one of `from` that never ran
    /// to `to`. A target that ran before stays: it was asked again (a
    /// retry), and that is not undone by a halt or a cancel.
    pub async fn move_targets(
        &self,
        operation: &str,
        from: &[TargetState],
        to: TargetState,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let query = Query::update()
            .table(OperationTargets::Table)
            .value(OperationTargets::State, to.as_str())
            .value(OperationTargets::FinishedAt, at.timestamp_millis())
            .and_where(Expr::col(OperationTargets::OperationId).eq(operation))
            .and_where(Expr::col(OperationTargets::State).is_in(from.iter().map(|s| s.as_str())))
            .and_where(Expr::col(OperationTargets::Attempts).eq(0))
            .to_owned();
        self.rows_affected(&query).await
    }

    /// Puts one target back to PENDING if it is FAILED; answers whether it was.
    pub async fn reset_failed_target(
        &self,
        operation: &str,
        cluster: &str,
    ) -> Result<bool, StoreError> {
        let query = Query::update()
            .table(OperationTargets::Table)
            .value(OperationTargets::State, TargetState::Pending.as_str())
            .value(OperationTargets::Message, "retry asked")
            .and_where(Expr::col(OperationTargets::OperationId).eq(operation))
            .and_where(Expr::col(OperationTargets::Cluster).eq(cluster))
            .and_where(Expr::col(OperationTargets::State).eq(TargetState::Failed.as_str()))
            .to_owned();
        Ok(self.rows_affected(&query).await? == 1)
    }

    /// Sets an operation's state; a final state also sets `finished_at`.
    pub async fn set_operation_state(
        &self,
        id: &str,
        state: OperationState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let finished = (state != OperationState::Running).then(|| at.timestamp_millis());
        let mut query = Query::update();
        query
            .table(Operations::Table)
            .value(Operations::State, state.as_str())
            .value(Operations::FinishedAt, finished)
            .and_where(Expr::col(Operations::Id).eq(id));
        if state == OperationState::Running {
            query.value(Operations::CancelRequested, 0);
        }
        self.rows_affected(&query).await?;
        Ok(())
    }

    /// Marks a running operation for cancelling; answers whether it was running.
    pub async fn request_cancel(&self, id: &str) -> Result<bool, StoreError> {
        let query = Query::update()
            .table(Operations::Table)
            .value(Operations::CancelRequested, 1)
            .and_where(Expr::col(Operations::Id).eq(id))
            .and_where(Expr::col(Operations::State).eq(OperationState::Running.as_str()))
            .to_owned();
        Ok(self.rows_affected(&query).await? == 1)
    }

    /// Ids of the operations still RUNNING, oldest first: what a restarted
    /// console resumes.
    pub async fn running_operations(&self) -> Result<Vec<String>, StoreError> {
        let query = Query::select()
            .column(Operations::Id)
            .from(Operations::Table)
            .and_where(Expr::col(Operations::State).eq(OperationState::Running.as_str()))
            .order_by(Operations::CreatedAt, Order::Asc)
            .to_owned();
        fetch_rows!(self, &query, |row| Ok(row.try_get::<String, _>("id")?))
    }

    /// One operation with its targets in order.
    pub async fn get_operation(&self, id: &str) -> Result<Option<StoredOperation>, StoreError> {
        let Some((summary, cancel_requested)) =
            self.select_operations(Some(id), 1, None).await?.pop()
        else {
            return Ok(None);
        };
        let query = Query::select()
            .columns([
                OperationTargets::Cluster,
                OperationTargets::Wave,
                OperationTargets::State,
                OperationTargets::Attempts,
                OperationTargets::StartedAt,
                OperationTargets::FinishedAt,
                OperationTargets::Message,
            ])
            .from(OperationTargets::Table)
            .and_where(Expr::col(OperationTargets::OperationId).eq(id))
            .order_by(OperationTargets::Position, Order::Asc)
            .to_owned();
        let targets = fetch_rows!(self, &query, |row| {
            let state: String = row.try_get("state")?;
            Ok(TargetView {
                cluster: row.try_get("cluster")?,
                wave: u32::try_from(row.try_get::<i64, _>("wave")?).map_err(corrupt)?,
                state: state.parse().map_err(corrupt)?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).map_err(corrupt)?,
                started_at: optional_time(row.try_get("started_at")?)?,
                finished_at: optional_time(row.try_get("finished_at")?)?,
                message: row.try_get("message")?,
            })
        })?;
        let mut summary = summary;
        summary.counts = TargetCounts::default();
        for t in &targets {
            summary.counts.add(t.state);
        }
        Ok(Some(StoredOperation {
            summary,
            cancel_requested,
            targets,
        }))
    }

    /// Operations newest first, `limit` of them, created before `before`.
    pub async fn list_operations(
        &self,
        limit: u64,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<OperationSummary>, StoreError> {
        let mut list: Vec<OperationSummary> = self
            .select_operations(None, limit, before)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        if list.is_empty() {
            return Ok(list);
        }
        let ids: Vec<String> = list.iter().map(|s| s.id.clone()).collect();
        let query = Query::select()
            .column(OperationTargets::OperationId)
            .column(OperationTargets::State)
            .expr_as(Func::count(Expr::col(OperationTargets::Cluster)), "n")
            .from(OperationTargets::Table)
            .and_where(Expr::col(OperationTargets::OperationId).is_in(ids))
            .group_by_col(OperationTargets::OperationId)
            .group_by_col(OperationTargets::State)
            .to_owned();
        let counts: Vec<(String, String, i64)> = fetch_rows!(self, &query, |row| {
            Ok((
                row.try_get("operation_id")?,
                row.try_get("state")?,
                row.try_get("n")?,
            ))
        })?;
        let index: HashMap<String, usize> = list
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        for (id, state, n) in &counts {
            let state: TargetState = state.parse().map_err(corrupt)?;
            if let Some(&i) = index.get(id) {
                for _ in 0..*n {
                    list[i].counts.add(state);
                }
            }
        }
        Ok(list)
    }

    async fn select_operations(
        &self,
        id: Option<&str>,
        limit: u64,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<(OperationSummary, bool)>, StoreError> {
        let mut query = Query::select();
        query
            .columns([
                Operations::Id,
                Operations::CreatedAt,
                Operations::CreatedBy,
                Operations::Description,
                Operations::RequestVersion,
                Operations::Request,
                Operations::State,
                Operations::CancelRequested,
                Operations::FinishedAt,
            ])
            .from(Operations::Table)
            .order_by(Operations::CreatedAt, Order::Desc)
            .limit(limit);
        if let Some(id) = id {
            query.and_where(Expr::col(Operations::Id).eq(id));
        }
        if let Some(before) = before {
            query.and_where(Expr::col(Operations::CreatedAt).lt(before.timestamp_millis()));
        }
        fetch_rows!(self, &query, |row| {
            let version: i64 = row.try_get("request_version")?;
            if version != REQUEST_VERSION {
                return Err(corrupt(format!(
                    "operation request format version {version}: this build reads version {REQUEST_VERSION}"
                )));
            }
            let request: String = row.try_get("request")?;
            let request: NewOperation = serde_json::from_str(&request).map_err(corrupt)?;
            let state: String = row.try_get("state")?;
            let summary = OperationSummary {
                id: row.try_get("id")?,
                description: row.try_get("description")?,
                request,
                state: state.parse().map_err(corrupt)?,
                created_at: time(row.try_get("created_at")?)?,
                created_by: row.try_get("created_by")?,
                finished_at: optional_time(row.try_get("finished_at")?)?,
                counts: TargetCounts::default(),
            };
            let cancel: i64 = row.try_get::<i64, _>("cancel_requested")?;
            Ok((summary, cancel != 0))
        })
    }
}

fn time(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| corrupt(format!("timestamp {millis} out of range")))
}

fn optional_time(millis: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    millis.map(time).transpose()
}
