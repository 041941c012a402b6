//! Jobs and their file lists in the coordinator's metastore database.

use chrono::{DateTime, Utc};
use ringside_api::job::{FailedFile, JobOptions, JobProgress, JobState, JobType, JobView};
use sqlx::{Row, SqlitePool, sqlite::SqliteRow};

use super::JobError;
use crate::metastore::{from_millis, from_sql, to_sql};

/// Most failed files a job's progress lists.
const FAILED_FILES_SHOWN: i64 = 100;

/// What happened to a file, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileState {
    Pending,
    Done,
    Skipped,
    Failed,
    Pruned,
}

impl FileState {
    fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "PENDING",
            FileState::Done => "DONE",
            FileState::Skipped => "SKIPPED",
            FileState::Failed => "FAILED",
            FileState::Pruned => "PRUNED",
        }
    }
}

/// A file of a job's work list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub seq: i64,
    pub path: String,
    pub source: String,
    pub size: u64,
    pub version: String,
    pub owner: Option<String>,
    pub bytes: u64,
}

/// A file found by a job's listing.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub path: String,
    pub source: String,
    pub size: u64,
    pub version: String,
}

/// What one file's task did, to record.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub source: String,
    pub state: FileState,
    pub owner: String,
    pub bytes: u64,
    pub skipped_bytes: u64,
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct JobStore {
    pool: SqlitePool,
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

impl JobStore {
    pub fn new(pool: SqlitePool) -> JobStore {
        JobStore { pool }
    }

    /// A write transaction that takes the database's write lock up front.
    /// A deferred one that reads first fails outright (SQLITE_BUSY_SNAPSHOT)
    /// when another connection writes in between; this one waits its turn.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    pub async fn insert(
        &self,
        id: &str,
        job_type: JobType,
        path: &str,
        options: &JobOptions,
    ) -> Result<(), JobError> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO jobs (id, job_type, path, state, options, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )
        .bind(id)
        .bind(job_type.as_str())
        .bind(path)
        .bind(JobState::Waiting.as_str())
        .bind(serde_json::to_string(options).map_err(|e| JobError::Corrupt(e.to_string()))?)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobView>, JobError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.view_of(row).await
    }

    /// The latest job of `job_type` on `path`.
    pub async fn current(
        &self,
        job_type: JobType,
        path: &str,
    ) -> Result<Option<JobView>, JobError> {
        let row = sqlx::query(
            "SELECT * FROM jobs WHERE job_type = ?1 AND path = ?2 ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(job_type.as_str())
        .bind(path)
        .fetch_optional(&self.pool)
        .await?;
        self.view_of(row).await
    }

    async fn view_of(&self, row: Option<SqliteRow>) -> Result<Option<JobView>, JobError> {
        match row {
            Some(row) => Ok(Some(self.view(&row).await?)),
            None => Ok(None),
        }
    }

    /// Jobs, oldest first, of one type and state when given.
    pub async fn list(
        &self,
        job_type: Option<JobType>,
        state: Option<JobState>,
    ) -> Result<Vec<JobView>, JobError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE (?1 IS NULL OR job_type = ?1) AND (?2 IS NULL OR state = ?2)
             ORDER BY created_at, rowid",
        )
        .bind(job_type.map(JobType::as_str))
        .bind(state.map(JobState::as_str))
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            jobs.push(self.view(row).await?);
        }
        Ok(jobs)
    }

    /// How many jobs there are of each type and state.
    pub async fn counts(&self) -> Result<Vec<(JobType, JobState, u64)>, JobError> {
        let rows =
            sqlx::query("SELECT job_type, state, COUNT(*) AS n FROM jobs GROUP BY job_type, state")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let corrupt = |e: ringside_api::job::UnknownName| JobError::Corrupt(e.to_string());
                Ok((
                    row.try_get::<String, _>("job_type")?
                        .parse()
                        .map_err(corrupt)?,
                    row.try_get::<String, _>("state")?
                        .parse()
                        .map_err(corrupt)?,
                    from_sql(row.try_get("n")?),
                ))
            })
            .collect()
    }

    /// Ids of the jobs that still have work to do.
    pub async fn active_ids(&self) -> Result<Vec<String>, JobError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM jobs WHERE state IN ('WAITING', 'RUNNING', 'VERIFYING') ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn set_state(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
    ) -> Result<(), JobError> {
        let now = now_millis();
        let finished = (!state.is_active() && state != JobState::Stopped).then_some(now);
        sqlx::query(
            "UPDATE jobs SET state = ?2, error = ?3, updated_at = ?4, finished_at = ?5 WHERE id = ?1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(error)
        .bind(now)
        .bind(finished)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds running time, for the throughput.
    pub async fn add_running_time(&self, id: &str, millis: u64) -> Result<(), JobError> {
        sqlx::query(
            "UPDATE jobs SET running_millis = running_millis + ?2, updated_at = ?3 WHERE id = ?1",
        )
        .bind(id)
        .bind(to_sql(millis))
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds listed files; files already listed (a listing resumed after a
    /// restart) keep their row and state.
    pub async fn add_files(&self, id: &str, files: &[NewFile]) -> Result<(), JobError> {
        let mut tx = self.write().await?;
        let mut seq: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM job_files WHERE job_id = ?1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let (mut count, mut bytes) = (0i64, 0i64);
        for file in files {
            seq += 1;
            let done = sqlx::query(
                "INSERT OR IGNORE INTO job_files (job_id, seq, path, source, size, version, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'PENDING')",
            )
            .bind(id)
            .bind(seq)
            .bind(&file.path)
            .bind(&file.source)
            .bind(to_sql(file.size))
            .bind(&file.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() > 0 {
                count += 1;
                bytes += to_sql(file.size);
            }
        }
        sqlx::query(
            "UPDATE jobs SET files_total = files_total + ?2, bytes_total = bytes_total + ?3, updated_at = ?4 WHERE id = ?1",
        )
        .bind(id)
        .bind(count)
        .bind(bytes)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn complete_listing(&self, id: &str) -> Result<(), JobError> {
        sqlx::query("UPDATE jobs SET listing_complete = 1, updated_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(now_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn listing_complete(&self, id: &str) -> Result<bool, JobError> {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT listing_complete FROM jobs WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(done == Some(1))
    }

    /// Up to `limit` files in `state`, in listing order after `after`.
    pub async fn files_after(
        &self,
        id: &str,
        state: FileState,
        after: i64,
        limit: i64,
    ) -> Result<Vec<FileRow>, JobError> {
        let rows = sqlx::query(
            "SELECT seq, path, source, size, version, owner, bytes FROM job_files
             WHERE job_id = ?1 AND state = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FileRow {
                    seq: row.try_get("seq")?,
                    path: row.try_get("path")?,
                    source: row.try_get("source")?,
                    size: from_sql(row.try_get("size")?),
                    version: row.try_get("version")?,
                    owner: row.try_get("owner")?,
                    bytes: from_sql(row.try_get("bytes")?),
                })
            })
            .collect()
    }

    pub async fn count(&self, id: &str, state: FileState) -> Result<u64, JobError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM job_files WHERE job_id = ?1 AND state = ?2")
                .bind(id)
                .bind(state.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(from_sql(n))
    }

    /// Records what tasks did to PENDING files, with the job's counters.
    pub async fn record(&self, id: &str, outcomes: &[Recorded]) -> Result<(), JobError> {
        let mut tx = self.write().await?;
        let mut counters = [0i64; 5]; // loaded, skipped, failed, bytes loaded, bytes skipped
        for o in outcomes {
            let done = sqlx::query(
                "UPDATE job_files SET state = ?4, owner = ?5, bytes = ?6, error = ?7
                 WHERE job_id = ?1 AND path = ?2 AND source = ?3 AND state = 'PENDING'",
            )
            .bind(id)
            .bind(&o.path)
            .bind(&o.source)
            .bind(o.state.as_str())
            .bind(&o.owner)
            .bind(to_sql(o.bytes))
            .bind(&o.error)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            match o.state {
                FileState::Done => counters[0] += 1,
                FileState::Skipped => counters[1] += 1,
                FileState::Failed => counters[2] += 1,
                FileState::Pending | FileState::Pruned => {}
            }
            counters[3] += to_sql(o.bytes);
            counters[4] += to_sql(o.skipped_bytes);
        }
        sqlx::query(
            "UPDATE jobs SET files_loaded = files_loaded + ?2, files_skipped = files_skipped + ?3,
                files_failed = files_failed + ?4, bytes_loaded = bytes_loaded + ?5,
                bytes_skipped = bytes_skipped + ?6, updated_at = ?7 WHERE id = ?1",
        )
        .bind(id)
        .bind(counters[0])
        .bind(counters[1])
        .bind(counters[2])
        .bind(counters[3])
        .bind(counters[4])
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the prune of DONE files: their old copies were dropped.
    pub async fn record_pruned(&self, id: &str, pruned: &[(FileRow, u64)]) -> Result<(), JobError> {
        let mut tx = self.write().await?;
        let mut bytes = 0i64;
        for (file, freed) in pruned {
            sqlx::query(
                "UPDATE job_files SET state = ?4 WHERE job_id = ?1 AND path = ?2 AND source = ?3 AND state IN ('DONE', 'SKIPPED')",
            )
            .bind(id)
            .bind(&file.path)
            .bind(&file.source)
            .bind(FileState::Pruned.as_str())
            .execute(&mut *tx)
            .await?;
            bytes += to_sql(*freed);
        }
        sqlx::query(
            "UPDATE jobs SET bytes_pruned = bytes_pruned + ?2, updated_at = ?3 WHERE id = ?1",
        )
        .bind(id)
        .bind(bytes)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts processed files back to PENDING (their owner changed, or they
    /// were found not cached), taking them out of the counts.
    pub async fn requeue(&self, id: &str, files: &[FileRow]) -> Result<(), JobError> {
        let mut tx = self.write().await?;
        let (mut loaded, mut skipped) = (0i64, 0i64);
        for file in files {
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM job_files WHERE job_id = ?1 AND path = ?2 AND source = ?3",
            )
            .bind(id)
            .bind(&file.path)
            .bind(&file.source)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE job_files SET state = 'PENDING', owner = NULL, bytes = 0, error = NULL
                 WHERE job_id = ?1 AND path = ?2 AND source = ?3 AND state IN ('DONE', 'SKIPPED')",
            )
            .bind(id)
            .bind(&file.path)
            .bind(&file.source)
            .execute(&mut *tx)
            .await?;
            match state.as_deref() {
                Some("DONE") => loaded += 1,
                Some("SKIPPED") => skipped += 1,
                _ => {}
            }
        }
        sqlx::query(
            "UPDATE jobs SET files_loaded = files_loaded - ?2, files_skipped = files_skipped - ?3, updated_at = ?4 WHERE id = ?1",
        )
        .bind(id)
        .bind(loaded)
        .bind(skipped)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks files that stayed short after verification as failed.
    pub async fn fail_files(&self, id: &str, files: &[(FileRow, String)]) -> Result<(), JobError> {
        let outcomes: Vec<Recorded> = files
            .iter()
            .map(|(f, reason)| Recorded {
                path: f.path.clone(),
                source: f.source.clone(),
                state: FileState::Failed,
                owner: f.owner.clone().unwrap_or_default(),
                bytes: 0,
                skipped_bytes: 0,
                error: Some(reason.clone()),
            })
            .collect();
        self.record(id, &outcomes).await
    }

    pub async fn set_cached_bytes(&self, id: &str, bytes: u64) -> Result<(), JobError> {
        sqlx::query("UPDATE jobs SET cached_bytes = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(id)
            .bind(to_sql(bytes))
            .bind(now_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops jobs that finished before `cutoff`, with their file lists.
    pub async fn expire(&self, cutoff: DateTime<Utc>) -> Result<u64, JobError> {
        let mut tx = self.write().await?;
        let cutoff = cutoff.timestamp_millis();
        sqlx::query(
            "DELETE FROM job_files WHERE job_id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let done =
            sqlx::query("DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1")
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn view(&self, row: &SqliteRow) -> Result<JobView, JobError> {
        let id: String = row.try_get("id")?;
        let text = |name: &str| -> Result<String, JobError> { Ok(row.try_get::<String, _>(name)?) };
        let n = |name: &str| -> Result<u64, JobError> { Ok(from_sql(row.try_get(name)?)) };
        let job_type: JobType = text("job_type")?
            .parse()
            .map_err(|e: ringside_api::job::UnknownName| JobError::Corrupt(e.to_string()))?;
        let state: JobState = text("state")?
            .parse()
            .map_err(|e: ringside_api::job::UnknownName| JobError::Corrupt(e.to_string()))?;
        let options: JobOptions = serde_json::from_str(&text("options")?)
            .map_err(|e| JobError::Corrupt(format!("options of job {id}: {e}")))?;
        let failed_files = sqlx::query(
            "SELECT path, error FROM job_files WHERE job_id = ?1 AND state = 'FAILED' ORDER BY seq LIMIT ?2",
        )
        .bind(&id)
        .bind(FAILED_FILES_SHOWN)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(FailedFile {
                path: r.try_get("path")?,
                reason: r.try_get::<Option<String>, _>("error")?.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, JobError>>()?;
        let (loaded, skipped, failed) =
            (n("files_loaded")?, n("files_skipped")?, n("files_failed")?);
        let processed = loaded + skipped + failed;
        let bytes_loaded = n("bytes_loaded")?;
        let running = n("running_millis")?;
        Ok(JobView {
            id,
            job_type,
            path: text("path")?,
            state,
            options,
            created_at: from_millis(row.try_get("created_at")?),
            updated_at: from_millis(row.try_get("updated_at")?),
            finished_at: row
                .try_get::<Option<i64>, _>("finished_at")?
                .map(from_millis),
            error: row.try_get("error")?,
            progress: JobProgress {
                listing_complete: row.try_get::<i64, _>("listing_complete")? == 1,
                files_total: n("files_total")?,
                files_processed: processed,
                files_loaded: loaded,
                files_skipped: skipped,
                files_failed: failed,
                bytes_total: n("bytes_total")?,
                bytes_loaded,
                bytes_skipped: n("bytes_skipped")?,
                bytes_pruned: n("bytes_pruned")?,
                throughput_bytes_per_sec: if running == 0 {
                    0.0
                } else {
                    bytes_loaded as f64 * 1000.0 / running as f64
                },
                failure_rate: if processed == 0 {
                    0.0
                } else {
                    failed as f64 / processed as f64
                },
                cached_bytes: row.try_get::<Option<i64>, _>("cached_bytes")?.map(from_sql),
                failed_files,
            },
        })
    }
}
