//! `ringside job load|free|rebalance|list`: jobs the coordinator runs to
//! warm, free and rebalance caches. As in the reference guide, operators
//! name a job by its type and path (the target for REBALANCE), never by id:
//! the CLI asks the coordinator for the latest job of that pair and acts on
//! its id.

use std::time::Duration;

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::StatusCode;
use ringside_api::job::{
    JobOptions, JobProgress, JobRequest, JobState, JobType, JobView, REBALANCE_ALL,
};
use ringside_config::units::format_size;
use ringside_ufs::UfsPath;

use super::info::{aligned, human_size};
use crate::args::{
    Action, Format, JobCommand, LoadOptions, ProgressArgs, RebalanceOptions, StateFilter,
};
use crate::client::{ApiError, Coordinator};

/// How often `--watch` asks the coordinator.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

pub async fn run(coordinator: &Coordinator, command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Load {
            path,
            action,
            options,
            progress,
        } => {
            let request = JobRequest {
                job_type: JobType::Load,
                path: ufs_path(&path)?,
                options: load_options(&options),
            };
            act(coordinator, &request, action.get(), &progress).await
        }
        JobCommand::Free {
            path,
            action,
            progress,
        } => {
            let request = JobRequest {
                job_type: JobType::Free,
                path: ufs_path(&path)?,
                options: JobOptions::default(),
            };
            act(coordinator, &request, action.get(), &progress).await
        }
        JobCommand::Rebalance {
            target,
            action,
            options,
            progress,
        } => {
            let request = JobRequest {
                job_type: JobType::Rebalance,
                path: rebalance_target(&target)?,
                options: rebalance_options(&options),
            };
            act(coordinator, &request, action.get(), &progress).await
        }
        JobCommand::List {
            job_type,
            job_state,
        } => list(coordinator, job_type, job_state).await,
    }
}

/// The canonical spelling, so `/data/` finds the job submitted as `/data`.
fn ufs_path(raw: &str) -> anyhow::Result<String> {
    Ok(UfsPath::parse(raw)?.as_str().to_string())
}

fn rebalance_target(raw: &str) -> anyhow::Result<String> {
    let target = raw.trim();
    if target.is_empty() {
        Err(anyhow!("--target must be ALL or a worker id"))
    } else if target.eq_ignore_ascii_case(REBALANCE_ALL) {
        Ok(REBALANCE_ALL.to_string())
    } else {
        Ok(target.to_string())
    }
}

fn load_options(options: &LoadOptions) -> JobOptions {
    JobOptions {
        skip_if_exists: options.skip_if_exists,
        verify: options.verify,
        file_filter_regex: options.file_filter_regex.clone(),
        bandwidth: options.bandwidth,
        batch_size: options.batch_size,
        ..JobOptions::default()
    }
}

fn rebalance_options(options: &RebalanceOptions) -> JobOptions {
    JobOptions {
        load_bandwidth: options.load_bandwidth,
        prune_bandwidth: options.prune_bandwidth,
        skip_prune: options.skip_prune,
        ..JobOptions::default()
    }
}

async fn act(
    coordinator: &Coordinator,
    request: &JobRequest,
    action: Action,
    progress: &ProgressArgs,
) -> anyhow::Result<()> {
    match action {
        Action::Submit => submit(coordinator, request).await,
        Action::Progress => show_progress(coordinator, request, progress).await,
        Action::Stop => stop(coordinator, request).await,
    }
}

async fn submit(coordinator: &Coordinator, request: &JobRequest) -> anyhow::Result<()> {
    match coordinator.post_json::<_, JobView>("/jobs", request).await {
        Ok((status, view)) => {
            let verb = if status == StatusCode::CREATED {
                "submitted"
            } else {
                "resumed"
            };
            println!("{}", job_line(verb, &view));
            Ok(())
        }
        // The job the operator asked for is already running: what they
        // wanted holds, and scripts that submit twice must not fail.
        Err(error) if has_code(&error, "job_exists") => {
            println!("{error}");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

async fn stop(coordinator: &Coordinator, request: &JobRequest) -> anyhow::Result<()> {
    let view = current(coordinator, request).await?;
    match coordinator
        .post::<JobView>(&format!("/jobs/{}/stop", view.id))
        .await
    {
        Ok((_, view)) => {
            println!("{}", job_line("stopped", &view));
            Ok(())
        }
        // Nothing is left running, which is what stopping is for.
        Err(error) if has_code(&error, "job_finished") => {
            println!("{error}");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

async fn show_progress(
    coordinator: &Coordinator,
    request: &JobRequest,
    args: &ProgressArgs,
) -> anyhow::Result<()> {
    let mut view = current(coordinator, request).await?;
    if args.watch {
        view = watch(coordinator, view).await?;
    }
    match args.format {
        Format::Text => {
            for line in progress_lines(&view) {
                println!("{line}");
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    if args.watch && view.state == JobState::Failed {
        return Err(anyhow!("{}", failure_line(&view)));
    }
    Ok(())
}

/// The latest job of the request's type and path.
async fn current(coordinator: &Coordinator, request: &JobRequest) -> anyhow::Result<JobView> {
    let query = [
        ("job_type", request.job_type.as_str()),
        ("path", request.path.as_str()),
    ];
    coordinator
        .get_query("/jobs/current", &query)
        .await
        .map_err(|error| match ApiError::of(&error) {
            Some(api) if api.status == StatusCode::NOT_FOUND => anyhow!(
                "no {} job for {}",
                request.job_type,
                subject(request.job_type, &request.path)
            ),
            _ => error,
        })
}

fn has_code(error: &anyhow::Error, code: &str) -> bool {
    ApiError::of(error).is_some_and(|api| api.code.as_deref() == Some(code))
}

/// Polls the job until it is no longer active, drawing a bar on stderr
/// (indicatif hides it when stderr is not a terminal, so logs stay clean).
async fn watch(coordinator: &Coordinator, view: JobView) -> anyhow::Result<JobView> {
    let bar = ProgressBar::new(0).with_style(ProgressStyle::with_template(
        "{spinner} [{elapsed}] {wide_bar} {msg}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(100));
    let result = poll(coordinator, view, &bar).await;
    // Cleared on errors too, so the one-line reason stands alone.
    bar.finish_and_clear();
    result
}

async fn poll(
    coordinator: &Coordinator,
    mut view: JobView,
    bar: &ProgressBar,
) -> anyhow::Result<JobView> {
    let path = format!("/jobs/{}", view.id);
    while view.state.is_active() {
        // An empty bar while nothing is listed yet, not a full one.
        bar.set_length(view.progress.bytes_total.max(1));
        bar.set_position(done_bytes(&view.progress));
        bar.set_message(bar_message(&view));
        tokio::time::sleep(POLL_INTERVAL).await;
        view = coordinator.get(&path).await?;
    }
    Ok(view)
}

async fn list(
    coordinator: &Coordinator,
    job_type: Option<JobType>,
    state: StateFilter,
) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(job_type) = job_type {
        query.push(("job_type", job_type.as_str()));
    }
    if let StateFilter(Some(state)) = state {
        query.push(("job_state", state.as_str()));
    }
    let jobs: Vec<JobView> = coordinator.get_query("/jobs", &query).await?;
    for line in list_lines(&jobs) {
        println!("{line}");
    }
    Ok(())
}

/// What a job is about, as its messages name it.
fn subject(job_type: JobType, path: &str) -> String {
    match job_type {
        JobType::Rebalance => format!("target {path}"),
        JobType::Load | JobType::Free => path.to_string(),
    }
}

fn job_line(verb: &str, view: &JobView) -> String {
    format!(
        "{verb} {} job {} for {}",
        view.job_type,
        view.id,
        subject(view.job_type, &view.path)
    )
}

fn failure_line(view: &JobView) -> String {
    format!(
        "{} job {} for {} failed: {}",
        view.job_type,
        view.id,
        subject(view.job_type, &view.path),
        view.error.as_deref().unwrap_or("no reason given")
    )
}

/// What "loaded" bytes and files mean for each type.
fn done_verb(job_type: JobType) -> &'static str {
    match job_type {
        JobType::Load => "loaded",
        JobType::Free => "freed",
        JobType::Rebalance => "copied",
    }
}

/// Bytes no longer left to do: skipped ones are done too.
fn done_bytes(progress: &JobProgress) -> u64 {
    progress.bytes_loaded + progress.bytes_skipped
}

fn done_percent(progress: &JobProgress) -> f64 {
    if progress.bytes_total > 0 {
        done_bytes(progress) as f64 * 100.0 / progress.bytes_total as f64
    } else if progress.listing_complete {
        100.0
    } else {
        0.0
    }
}

fn rate(bytes_per_sec: Option<u64>) -> String {
    bytes_per_sec.map_or("unlimited".to_string(), |b| format!("{}/s", format_size(b)))
}

fn settings(job_type: JobType, options: &JobOptions) -> String {
    let filter = || {
        format!(
            "filter {}",
            options.file_filter_regex.as_deref().unwrap_or("none")
        )
    };
    let mut parts = match job_type {
        JobType::Load => vec![
            format!("bandwidth {}", rate(options.bandwidth)),
            format!("verify {}", options.verify),
            format!("skip-if-exists {}", options.skip_if_exists),
            filter(),
        ],
        JobType::Free => vec![filter()],
        JobType::Rebalance => vec![
            format!("load bandwidth {}", rate(options.load_bandwidth)),
            format!("prune bandwidth {}", rate(options.prune_bandwidth)),
            format!("skip-prune {}", options.skip_prune),
        ],
    };
    if let Some(batch_size) = options.batch_size {
        parts.push(format!("batch size {batch_size}"));
    }
    parts.join(", ")
}

/// `--progress` as text: labelled lines, then the failed files with why.
fn progress_lines(view: &JobView) -> Vec<String> {
    let p = &view.progress;
    let verb = done_verb(view.job_type);
    let mut lines = Vec::new();
    // One width for every job, the longest label's, so that values stay in
    // place from one `--progress` to the next.
    let mut row =
        |label: &str, value: String| lines.push(format!("{:<18}{value}", format!("{label}:")));
    row("Job", format!("{} {}", view.job_type, view.id));
    match view.job_type {
        JobType::Rebalance => row("Target", view.path.clone()),
        JobType::Load | JobType::Free => row("Path", view.path.clone()),
    }
    row("Settings", settings(view.job_type, &view.options));
    row("State", view.state.to_string());
    if let Some(error) = &view.error {
        row("Error", error.clone());
    }
    let listing = if p.listing_complete {
        ""
    } else {
        "; listing…"
    };
    row(
        "Files processed",
        format!(
            "{} of {} ({} {verb}, {} skipped, {} failed){listing}",
            p.files_processed, p.files_total, p.files_loaded, p.files_skipped, p.files_failed
        ),
    );
    row(
        &format!("Bytes {verb}"),
        format!(
            "{} of {}",
            human_size(p.bytes_loaded),
            human_size(p.bytes_total)
        ),
    );
    row("Bytes skipped", human_size(p.bytes_skipped));
    if view.job_type == JobType::Rebalance {
        row("Bytes pruned", human_size(p.bytes_pruned));
    }
    row(
        "Throughput",
        format!("{}/s", human_size(p.throughput_bytes_per_sec as u64)),
    );
    row("Failure rate", format!("{:.2}%", p.failure_rate * 100.0));
    if let (Some(cached), Some(percent)) = (p.cached_bytes, p.cached_percent()) {
        row(
            "Cached on owners",
            format!("{} ({percent:.1}%)", human_size(cached)),
        );
    }
    if !p.failed_files.is_empty() {
        lines.push("Failed files:".to_string());
        lines.extend(
            p.failed_files
                .iter()
                .map(|f| format!("  {}: {}", f.path, f.reason)),
        );
        let unlisted = p.files_failed.saturating_sub(p.failed_files.len() as u64);
        if unlisted > 0 {
            lines.push(format!("  … and {unlisted} more"));
        }
    }
    lines
}

/// The `--watch` bar's text beside the bar itself.
fn bar_message(view: &JobView) -> String {
    let p = &view.progress;
    let more = if p.listing_complete { "" } else { "+" };
    format!(
        "{} of {}{more}, files {}/{}{more}, {}/s, {}",
        human_size(done_bytes(p)),
        human_size(p.bytes_total),
        p.files_processed,
        p.files_total,
        human_size(p.throughput_bytes_per_sec as u64),
        view.state
    )
}

/// `job list`: one line per job and no header, so that "no job matches"
/// is empty output, which the reference guide's scripts test for.
fn list_lines(jobs: &[JobView]) -> Vec<String> {
    let rows: Vec<[String; 6]> = jobs
        .iter()
        .map(|job| {
            let p = &job.progress;
            let more = if p.listing_complete { "" } else { "+" };
            [
                job.id.clone(),
                job.job_type.to_string(),
                job.state.to_string(),
                job.path.clone(),
                format!("{}/{}{more}", p.files_processed, p.files_total),
                format!("{:.1}%", done_percent(p)),
            ]
        })
        .collect();
    aligned(rows.iter())
}

#[cfg(test)]
mod tests {
    use ringside_api::job::FailedFile;

    use super::*;

    fn job(job_type: JobType, path: &str, state: JobState) -> JobView {
        JobView {
            id: "7d1c".to_string(),
            job_type,
            path: path.to_string(),
            state,
            options: JobOptions::default(),
            created_at: "2025-01-02T03:04:05Z".parse().unwrap(),
            updated_at: "2025-01-02T03:05:05Z".parse().unwrap(),
            finished_at: None,
            error: None,
            progress: JobProgress::default(),
        }
    }

    fn running_load() -> JobView {
        let mut view = job(JobType::Load, "/data", JobState::Running);
        view.options = JobOptions {
            bandwidth: Some(200 << 20),
            verify: true,
            file_filter_regex: Some(r".*\.parquet".to_string()),
            ..JobOptions::default()
        };
        view.progress = JobProgress {
            listing_complete: false,
            files_total: 100,
            files_processed: 10,
            files_loaded: 8,
            files_skipped: 1,
            files_failed: 1,
            bytes_total: 3 << 30,
            bytes_loaded: 3 << 29,
            bytes_skipped: 1 << 20,
            throughput_bytes_per_sec: 12.5 * (1 << 20) as f64,
            failure_rate: 0.1,
            failed_files: vec![FailedFile {
                path: "/data/a.parquet".to_string(),
                reason: "not found".to_string(),
            }],
            ..JobProgress::default()
        };
        view
    }

    #[test]
    fn load_progress_reads_like_the_reference() {
        assert_eq!(
            progress_lines(&running_load()),
            [
                "Job:              LOAD 7d1c",
                "Path:             /data",
                r"Settings:         bandwidth 200MiB/s, verify true, skip-if-exists false, filter .*\.parquet",
                "State:            RUNNING",
                "Files processed:  10 of 100 (8 loaded, 1 skipped, 1 failed); listing…",
                "Bytes loaded:     1.50GiB of 3.00GiB",
                "Bytes skipped:    1.00MiB",
                "Throughput:       12.50MiB/s",
                "Failure rate:     10.00%",
                "Failed files:",
                "  /data/a.parquet: not found",
            ]
        );
    }

    #[test]
    fn finished_progress_shows_the_error_cache_and_unlisted_failures() {
        let mut view = running_load();
        view.state = JobState::Failed;
        view.error = Some("too many files failed".to_string());
        view.progress.listing_complete = true;
        view.progress.files_failed = 3;
        view.progress.cached_bytes = Some(3 << 28);
        let lines = progress_lines(&view);
        assert!(lines.contains(&"State:            FAILED".to_string()));
        assert!(lines.contains(&"Error:            too many files failed".to_string()));
        assert!(lines.contains(&"Cached on owners: 768.00MiB (25.0%)".to_string()));
        assert!(
            lines.contains(
                &"Files processed:  10 of 100 (8 loaded, 1 skipped, 3 failed)".to_string()
            )
        );
        assert_eq!(lines.last().unwrap(), "  … and 2 more");
        assert_eq!(
            failure_line(&view),
            "LOAD job 7d1c for /data failed: too many files failed"
        );
    }

    #[test]
    fn rebalance_and_free_progress_name_their_own_work() {
        let mut view = job(JobType::Rebalance, "ALL", JobState::Succeeded);
        view.options.prune_bandwidth = Some(100 << 20);
        view.options.skip_prune = true;
        view.progress.bytes_pruned = 2048;
        let lines = progress_lines(&view);
        assert_eq!(lines[1], "Target:           ALL");
        assert_eq!(
            lines[2],
            "Settings:         load bandwidth unlimited, prune bandwidth 100MiB/s, skip-prune true"
        );
        assert!(lines.contains(&"Bytes copied:     0B of 0B".to_string()));
        assert!(lines.contains(&"Bytes pruned:     2.00KiB".to_string()));

        let mut view = job(JobType::Free, "/data", JobState::Stopped);
        view.options.batch_size = Some(64);
        let lines = progress_lines(&view);
        assert_eq!(lines[2], "Settings:         filter none, batch size 64");
        assert!(lines.iter().any(|l| l.starts_with("Bytes freed:")));
        assert!(!lines.iter().any(|l| l.starts_with("Bytes pruned:")));
    }

    #[test]
    fn list_is_one_aligned_line_per_job_and_nothing_for_none() {
        assert!(list_lines(&[]).is_empty());
        let mut done = job(JobType::Rebalance, "ALL", JobState::Succeeded);
        done.id = "e5".to_string();
        done.progress.listing_complete = true;
        assert_eq!(
            list_lines(&[running_load(), done]),
            [
                "7d1c  LOAD       RUNNING    /data  10/100+  50.0%",
                "e5    REBALANCE  SUCCEEDED  ALL    0/0      100.0%",
            ]
        );
    }

    #[test]
    fn one_line_answers_name_the_job() {
        let view = running_load();
        assert_eq!(
            job_line("submitted", &view),
            "submitted LOAD job 7d1c for /data"
        );
        let view = job(JobType::Rebalance, "ALL", JobState::Stopped);
        assert_eq!(
            job_line("stopped", &view),
            "stopped REBALANCE job 7d1c for target ALL"
        );
        assert_eq!(
            bar_message(&running_load()),
            "1.50GiB of 3.00GiB+, files 10/100+, 12.50MiB/s, RUNNING"
        );
    }

    #[test]
    fn paths_and_targets_are_canonical() {
        assert_eq!(ufs_path("/data/").unwrap(), "/data");
        assert!(ufs_path("/a/../b").is_err());
        assert_eq!(rebalance_target("all").unwrap(), "ALL");
        assert_eq!(rebalance_target("worker-1").unwrap(), "worker-1");
        assert!(rebalance_target(" ").is_err());
    }
}
