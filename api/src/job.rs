//! Jobs: what operators submit to warm, free and rebalance caches
//! (`/api/v1/jobs` on the coordinator), and the tasks the coordinator hands
//! to workers to carry them out (`/api/v1/tasks` on each worker).

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobType {
    /// Read every file under a path into the cache of its owning worker.
    Load,
    /// Drop every cached page of the files under a path, on every worker.
    Free,
    /// Copy files to the workers that own them now and drop the copies left
    /// on the workers that no longer do.
    Rebalance,
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Accepted, not started yet.
    Waiting,
    /// Listing files and dispatching tasks.
    Running,
    /// Every file processed; counting what the owners hold.
    Verifying,
    Succeeded,
    /// Too many files failed (or the job could not run at all): see `error`.
    Failed,
    /// Stopped by an operator; submitting it again resumes it.
    Stopped,
}

impl JobType {
    pub const ALL: [JobType; 3] = [JobType::Load, JobType::Free, JobType::Rebalance];

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Load => "LOAD",
            JobType::Free => "FREE",
            JobType::Rebalance => "REBALANCE",
        }
    }
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Waiting,
        JobState::Running,
        JobState::Verifying,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "WAITING",
            JobState::Running => "RUNNING",
            JobState::Verifying => "VERIFYING",
            JobState::Succeeded => "SUCCEEDED",
            JobState::Failed => "FAILED",
            JobState::Stopped => "STOPPED",
        }
    }

    /// Whether the job still has work to do (and holds its (type, path)).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobState::Waiting | JobState::Running | JobState::Verifying
        )
    }
}

/// A name that is none of the expected ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

fn parse_name<T: Copy>(
    text: &str,
    what: &'static str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| UnknownName {
            what,
            given: text.to_string(),
            expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

impl FromStr for JobType {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, "job type", &JobType::ALL, JobType::as_str)
    }
}

impl FromStr for JobState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, "job state", &JobState::ALL, JobState::as_str)
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The target of a rebalance that moves files to every worker.
pub const REBALANCE_ALL: &str = "ALL";

/// `POST /api/v1/jobs`: a job to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    pub job_type: JobType,
    /// LOAD and FREE: a UFS path (file or directory). REBALANCE: the target,
    /// `ALL` or the id of the worker to move files to.
    pub path: String,
    #[serde(default)]
    pub options: JobOptions,
}

/// How a job runs; every field is optional on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    /// LOAD: leave files that are already fully cached alone.
    pub skip_if_exists: bool,
    /// LOAD: after loading, check every file on its owner and load again
    /// what is missing; files still short then fail the job.
    pub verify: bool,
    /// LOAD and FREE: only files whose path matches this regular expression.
    pub file_filter_regex: Option<String>,
    /// LOAD: bytes per second read from the UFS across all workers; none
    /// means unlimited.
    pub bandwidth: Option<u64>,
    /// Files per task; else `ringside.job.batch.size`.
    pub batch_size: Option<u32>,
    /// REBALANCE: bytes per second copied in the load phase.
    pub load_bandwidth: Option<u64>,
    /// REBALANCE: bytes per second freed in the prune phase.
    pub prune_bandwidth: Option<u64>,
    /// REBALANCE: keep the old copies (eviction drops them in time).
    pub skip_prune: bool,
}

/// A job and how far it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    /// A UUID.
    pub id: String,
    pub job_type: JobType,
    pub path: String,
    pub state: JobState,
    pub options: JobOptions,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the job failed or could not go on.
    pub error: Option<String>,
    pub progress: JobProgress,
}

/// Counters of a job. For FREE, "loaded" bytes are bytes freed; for
/// REBALANCE, bytes copied to their new owners.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobProgress {
    /// Whether every file of the job has been listed (the totals are final).
    pub listing_complete: bool,
    pub files_total: u64,
    pub files_processed: u64,
    pub files_loaded: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
    pub bytes_total: u64,
    pub bytes_loaded: u64,
    pub bytes_skipped: u64,
    /// REBALANCE: bytes of old copies dropped in the prune phase.
    pub bytes_pruned: u64,
    /// Bytes loaded per second of running time.
    pub throughput_bytes_per_sec: f64,
    /// Failed files over processed files.
    pub failure_rate: f64,
    /// LOAD, once verified: bytes of the job's files that their current
    /// owners hold, counted on the workers.
    pub cached_bytes: Option<u64>,
    /// Up to the first 100 failed files, with why.
    pub failed_files: Vec<FailedFile>,
}

impl JobProgress {
    /// `cached_bytes` as a percentage of `bytes_total` (100 for no bytes).
    pub fn cached_percent(&self) -> Option<f64> {
        self.cached_bytes.map(|cached| {
            if self.bytes_total == 0 {
                100.0
            } else {
                cached as f64 * 100.0 / self.bytes_total as f64
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailedFile {
    pub path: String,
    pub reason: String,
}

/// A file a task is about, as the coordinator listed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub path: String,
    pub size: u64,
    /// The UFS version listed; the worker loads the version it finds.
    pub version: String,
}

/// `POST /api/v1/tasks/load` on a worker: cache these files whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoadTask {
    pub files: Vec<TaskFile>,
    /// Leave fully cached files alone and load only missing pages.
    #[serde(default)]
    pub skip_if_exists: bool,
    /// Bytes per second this task may read; none means unlimited.
    #[serde(default)]
    pub rate: Option<u64>,
    /// Base URL of a worker that holds the files: copy from its cache, and
    /// from the UFS only what it cannot serve.
    #[serde(default)]
    pub source: Option<String>,
}

/// `POST /api/v1/tasks/free` on a worker: drop these files' pages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FreeTask {
    pub paths: Vec<String>,
    /// Bytes per second this task may free; none means unlimited.
    #[serde(default)]
    pub rate: Option<u64>,
}

/// `POST /api/v1/tasks/cached` on a worker: how much of each file it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CachedQuery {
    pub files: Vec<TaskFile>,
}

/// What a task did to one file, in the order of the task's files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileOutcome {
    pub path: String,
    /// LOAD: bytes read and cached; FREE: bytes dropped; CACHED: bytes held
    /// of the given version.
    pub bytes: u64,
    /// LOAD: bytes already cached and left alone.
    pub skipped_bytes: u64,
    /// LOAD: bytes copied from the source worker rather than the UFS.
    pub from_peer_bytes: u64,
    /// Why the file failed; none when it did not.
    pub error: Option<String>,
}

/// The answer to a task: one outcome per file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskReport {
    pub files: Vec<FileOutcome>,
}

/// `GET /api/v1/cache?after=P&limit=N` on a worker: the files it holds
/// pages of, in path order, a page at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CachedFiles {
    pub files: Vec<CachedFileView>,
    /// Pass as `after` for the next page; none when this was the last.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CachedFileView {
    pub path: String,
    pub version: String,
    pub size: u64,
    pub cached_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_say_what_is_expected() {
        assert_eq!("load".parse::<JobType>(), Ok(JobType::Load));
        assert_eq!("RUNNING".parse::<JobState>(), Ok(JobState::Running));
        let err = "LAOD".parse::<JobType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown job type \"LAOD\": expected one of LOAD, FREE, REBALANCE"
        );
    }

    #[test]
    fn wire_names_are_the_guides() {
        assert_eq!(
            serde_json::to_string(&JobState::Succeeded).unwrap(),
            "\"SUCCEEDED\""
        );
        let request: JobRequest =
            serde_json::from_str(r#"{"job_type":"LOAD","path":"/data"}"#).unwrap();
        assert_eq!(request.options, JobOptions::default());
        assert!(
            serde_json::from_str::<JobRequest>(
                r#"{"job_type":"LOAD","path":"/d","options":{"bandwith":1}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn cached_percent_of_nothing_is_complete() {
        let mut p = JobProgress {
            cached_bytes: Some(0),
            ..JobProgress::default()
        };
        assert_eq!(p.cached_percent(), Some(100.0));
        p.bytes_total = 4;
        p.cached_bytes = Some(1);
        assert_eq!(p.cached_percent(), Some(25.0));
    }
}
