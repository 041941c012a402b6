//! Runs one job to its end: list, dispatch, (for LOAD) verify, decide.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use ringside_api::{
    WorkerState,
    job::{
        CachedFiles, CachedQuery, FileOutcome, FreeTask, JobState, JobType, JobView, LoadTask,
        REBALANCE_ALL, TaskFile, TaskReport,
    },
};
use ringside_ring::Ring;
use ringside_ufs::{Entry, UfsPath};
use tokio::{sync::watch, task::JoinSet};

use super::{
    Inner, JobError,
    store::{FileRow, FileState, NewFile, Recorded},
};
use crate::pacing::task_rate;
use ringside_api::error::root_cause;

/// Files listed per metastore transaction.
const LISTING_BATCH: usize = 1000;
/// Files read from the metastore at a time while dispatching.
const FETCH: i64 = 1000;
/// Verification rounds a LOAD with `--verify` gets before short files fail.
const VERIFY_ROUNDS: u32 = 3;
/// Pause before retrying files whose worker could not be reached.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Why a job stopped before its end.
enum Halt {
    Stopped,
    Error(JobError),
}

impl From<JobError> for Halt {
    fn from(e: JobError) -> Self {
        Halt::Error(e)
    }
}

pub(super) async fn run(inner: Arc<Inner>, id: String, stop: watch::Receiver<bool>) {
    let mut job = Job {
        inner: inner.clone(),
        id: id.clone(),
        stop,
        clock: Instant::now(),
    };
    let (state, error) = match job.drive().await {
        Ok((state, error)) => (state, error),
        Err(Halt::Stopped) => (JobState::Stopped, None),
        Err(Halt::Error(e)) => {
            tracing::warn!(job = %id, error = %e, "job failed");
            (JobState::Failed, Some(e.to_string()))
        }
    };
    let _ = job.tick().await;
    if let Err(error) = inner.store.set_state(&id, state, error.as_deref()).await {
        tracing::error!(job = %id, %error, "cannot record the job's end");
    }
    tracing::info!(job = %id, state = %state, "job ended");
    inner.running().remove(&id);
}

/// The kinds of work a job hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Load,
    Free,
    /// REBALANCE, first half: copy to the new owner.
    Copy,
    /// REBALANCE, second half: drop the old copy.
    Prune,
}

/// Where a batch of files goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Worker(String),
    /// FREE: every worker drops what it holds.
    AllWorkers,
    /// REBALANCE copy: to the owner, from the worker holding a copy.
    Pair {
        owner: String,
        source: String,
    },
}

struct Job {
    inner: Arc<Inner>,
    id: String,
    stop: watch::Receiver<bool>,
    clock: Instant,
}

impl Job {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Adds the time since the last tick to the job's running time.
    async fn tick(&mut self) -> Result<(), JobError> {
        let elapsed = self.clock.elapsed();
        self.clock = Instant::now();
        let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.inner.store.add_running_time(&self.id, millis).await
    }

    async fn view(&self) -> Result<JobView, JobError> {
        self.inner
            .store
            .get(&self.id)
            .await?
            .ok_or_else(|| JobError::UnknownJob(self.id.clone()))
    }

    async fn drive(&mut self) -> Result<(JobState, Option<String>), Halt> {
        let store = self.inner.store.clone();
        store.set_state(&self.id, JobState::Running, None).await?;
        self.clock = Instant::now();
        let job = self.view().await?;
        if !store.listing_complete(&self.id).await? {
            match job.job_type {
                JobType::Rebalance => self.list_misplaced(&job).await?,
                JobType::Load | JobType::Free => self.list_ufs(&job).await?,
            }
            store.complete_listing(&self.id).await?;
        }
        match job.job_type {
            JobType::Load => self.load(&job).await?,
            JobType::Free => {
                self.dispatch(&job, Phase::Free).await?;
            }
            JobType::Rebalance => {
                self.dispatch(&job, Phase::Copy).await?;
                if !job.options.skip_prune {
                    self.dispatch(&job, Phase::Prune).await?;
                }
            }
        }
        self.tick().await?;
        let job = self.view().await?;
        let p = &job.progress;
        let threshold = self.inner.config().failure_ratio_threshold;
        let ratio = if p.files_total == 0 {
            0.0
        } else {
            p.files_failed as f64 / p.files_total as f64
        };
        if p.files_failed > 0 && ratio > threshold {
            let reason = format!(
                "{} of {} files failed ({:.1}%), more than the threshold of {:.1}% (ringside.job.failure.ratio.threshold)",
                p.files_failed,
                p.files_total,
                ratio * 100.0,
                threshold * 100.0
            );
            return Ok((JobState::Failed, Some(reason)));
        }
        Ok((JobState::Succeeded, None))
    }

    /// LOAD: dispatch until every file is done on its current owner, then
    /// count what the owners hold.
    async fn load(&mut self, job: &JobView) -> Result<(), Halt> {
        let mut round = 0;
        loop {
            self.dispatch(job, Phase::Load).await?;
            self.inner
                .store
                .set_state(&self.id, JobState::Verifying, None)
                .await?;
            let epoch = self.inner.membership.ring().epoch();
            let short = self.verify(job).await?;
            if self.inner.membership.ring().epoch() != epoch {
                // Owners changed while counting: count again under the new ring.
                self.set_running().await?;
                continue;
            }
            if short.is_empty() {
                return Ok(());
            }
            if !job.options.verify {
                tracing::info!(job = %self.id, files = short.len(), "files not fully cached on their owners");
                return Ok(());
            }
            round += 1;
            let rows: Vec<FileRow> = short.iter().map(|(f, _)| f.clone()).collect();
            if round >= VERIFY_ROUNDS {
                self.inner.store.requeue(&self.id, &rows).await?;
                self.inner.store.fail_files(&self.id, &short).await?;
                return Ok(());
            }
            tracing::info!(job = %self.id, files = rows.len(), round, "verification found files not cached; loading them again");
            self.inner.store.requeue(&self.id, &rows).await?;
            self.set_running().await?;
        }
    }

    async fn set_running(&self) -> Result<(), JobError> {
        self.inner
            .store
            .set_state(&self.id, JobState::Running, None)
            .await
    }

    /// Lists the job's UFS files into its work list.
    async fn list_ufs(&mut self, job: &JobView) -> Result<(), Halt> {
        let path =
            UfsPath::parse(&job.path).map_err(|e| JobError::Corrupt(format!("job path: {e}")))?;
        let filter = match &job.options.file_filter_regex {
            Some(r) => Some(regex::Regex::new(r).map_err(|e| JobError::Corrupt(e.to_string()))?),
            None => None,
        };
        let keep = |p: &str| filter.as_ref().is_none_or(|f| f.is_match(p));
        let ufs = self.inner.ufs()?;
        let mut listing = ufs.list(&path, true);
        let mut batch = Vec::with_capacity(LISTING_BATCH);
        let mut any = false;
        while let Some(entry) = listing.next().await {
            if self.stopped() {
                return Err(Halt::Stopped);
            }
            let Entry::File(status) = entry.map_err(JobError::from)? else {
                continue;
            };
            any = true;
            if keep(status.path.as_str()) {
                batch.push(NewFile {
                    path: status.path.to_string(),
                    source: String::new(),
                    size: status.size,
                    version: status.version,
                });
            }
            if batch.len() == LISTING_BATCH {
                self.inner.store.add_files(&self.id, &batch).await?;
                batch.clear();
            }
        }
        if !any && !path.is_root() {
            // A single file: the listing below it is empty.
            if let Ok(status) = ufs.stat(&path).await
                && keep(status.path.as_str())
            {
                batch.push(NewFile {
                    path: status.path.to_string(),
                    source: String::new(),
                    size: status.size,
                    version: status.version,
                });
            }
        }
        self.inner.store.add_files(&self.id, &batch).await?;
        Ok(())
    }

    /// REBALANCE: lists, worker by worker, the cached files that worker does
    /// not own (and, for a worker target, that the target owns).
    async fn list_misplaced(&mut self, job: &JobView) -> Result<(), Halt> {
        let ring = self.inner.membership.ring();
        for (worker, address) in self.online_workers().await? {
            let mut after: Option<String> = None;
            loop {
                if self.stopped() {
                    return Err(Halt::Stopped);
                }
                let mut request = self
                    .inner
                    .http
                    .get(format!("{address}{}/cache", ringside_api::API_PREFIX))
                    .query(&[("limit", "1000")]);
                if let Some(after) = &after {
                    request = request.query(&[("after", after)]);
                }
                let page: CachedFiles = match request.send().await {
                    Ok(r) => match r.error_for_status() {
                        Ok(r) => r.json().await.map_err(|e| listing_failed(&worker, e))?,
                        Err(e) => return Err(listing_failed(&worker, e).into()),
                    },
                    Err(e) => return Err(listing_failed(&worker, e).into()),
                };
                let misplaced: Vec<NewFile> = page
                    .files
                    .into_iter()
                    .filter(|f| {
                        let owner = ring.locate(&f.path).map(|m| m.id.as_str());
                        owner.is_some_and(|o| {
                            o != worker && (job.path == REBALANCE_ALL || o == job.path)
                        })
                    })
                    .map(|f| NewFile {
                        path: f.path,
                        source: worker.clone(),
                        size: f.size,
                        version: f.version,
                    })
                    .collect();
                self.inner.store.add_files(&self.id, &misplaced).await?;
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// ONLINE workers and their API addresses.
    async fn online_workers(&self) -> Result<HashMap<String, String>, JobError> {
        Ok(self
            .inner
            .membership
            .list()
            .await?
            .into_iter()
            .filter(|w| w.state == WorkerState::Online)
            .map(|w| {
                let address = w.heartbeat.address.trim_end_matches('/').to_string();
                (w.heartbeat.id, address)
            })
            .collect())
    }

    /// Runs `phase` over the job's files until none is left to do.
    async fn dispatch(&mut self, job: &JobView, phase: Phase) -> Result<(), Halt> {
        let mut planned_epoch = None;
        loop {
            let ring = self.inner.membership.ring();
            if phase == Phase::Load && planned_epoch != Some(ring.epoch()) {
                self.replan(&ring).await?;
                planned_epoch = Some(ring.epoch());
            }
            let progressed = self.pass(job, phase, &ring).await?;
            let left = match phase {
                Phase::Prune => 0,
                _ => self.inner.store.count(&self.id, FileState::Pending).await?,
            };
            let settled = self.inner.membership.ring().epoch() == ring.epoch();
            if left == 0 && settled {
                return Ok(());
            }
            if !progressed {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            if self.stopped() {
                return Err(Halt::Stopped);
            }
        }
    }

    /// Puts back to PENDING the done files whose owner is no longer the
    /// worker that loaded them.
    async fn replan(&self, ring: &Ring) -> Result<(), JobError> {
        let mut moved = 0;
        for state in [FileState::Done, FileState::Skipped] {
            let mut after = 0;
            loop {
                let rows = self.next_files(state, &mut after).await?;
                if rows.is_empty() {
                    break;
                }
                let stale: Vec<FileRow> = rows
                    .into_iter()
                    .filter(|f| ring.locate(&f.path).map(|m| &m.id) != f.owner.as_ref())
                    .collect();
                moved += stale.len();
                self.inner.store.requeue(&self.id, &stale).await?;
            }
        }
        if moved > 0 {
            tracing::info!(job = %self.id, files = moved, epoch = ring.epoch(), "ring changed; files handed to their new owners");
        }
        Ok(())
    }

    /// The next files in `state` after `after` in listing order, moving
    /// `after` past them; none at the end.
    async fn next_files(
        &self,
        state: FileState,
        after: &mut i64,
    ) -> Result<Vec<FileRow>, JobError> {
        let rows = self
            .inner
            .store
            .files_after(&self.id, state, *after, FETCH)
            .await?;
        if let Some(last) = rows.last() {
            *after = last.seq;
        }
        Ok(rows)
    }

    /// How many targets the files to do in `states` go to.
    /// The bytes each target has to move in `phase`: the weights its
    /// tasks' share of a bandwidth limit follows. A file counts at least one
    /// byte, so a target of empty files still gets a share.
    async fn target_bytes(
        &self,
        phase: Phase,
        states: &[FileState],
        ring: &Ring,
    ) -> Result<HashMap<Target, u64>, JobError> {
        let mut bytes = HashMap::new();
        for &state in states {
            let mut after = 0;
            loop {
                let rows = self.next_files(state, &mut after).await?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    if let Some(target) = self.target(phase, row, ring) {
                        *bytes.entry(target).or_insert(0u64) += row.size.max(1);
                    }
                }
            }
        }
        Ok(bytes)
    }

    fn target(&self, phase: Phase, file: &FileRow, ring: &Ring) -> Option<Target> {
        let owner = || ring.locate(&file.path).map(|m| m.id.clone());
        match phase {
            Phase::Load => owner().map(Target::Worker),
            Phase::Free => (!ring.is_empty()).then_some(Target::AllWorkers),
            Phase::Copy => owner().map(|owner| Target::Pair {
                owner,
                source: file.source.clone(),
            }),
            // A copy on the worker that owns the file again is no orphan.
            Phase::Prune => (owner().as_ref() != Some(&file.source))
                .then(|| Target::Worker(file.source.clone())),
        }
    }

    /// One sweep over the files to do in `phase`, in listing order, with up
    /// to `max tasks per worker` tasks in flight per target. Ends early,
    /// once its tasks are back, when the ring changes. Says whether any
    /// task came back done (else the caller waits before trying again).
    async fn pass(&mut self, job: &JobView, phase: Phase, ring: &Ring) -> Result<bool, Halt> {
        let config = self.inner.config();
        let per_target = config.max_tasks_per_worker.max(1) as usize;
        let limit = match phase {
            Phase::Load => job.options.bandwidth,
            Phase::Copy => job.options.load_bandwidth,
            Phase::Prune => job.options.prune_bandwidth,
            Phase::Free => None,
        };
        let targets = match (phase, job.path.as_str()) {
            (Phase::Free, _) => 1,
            (Phase::Copy, target) if target != REBALANCE_ALL => 1,
            _ => ring.len().max(1),
        };
        let states: &[FileState] = match phase {
            Phase::Prune => &[FileState::Done, FileState::Skipped],
            _ => &[FileState::Pending],
        };
        // A limit is shared by the tasks that will really run side by side
        // (a rebalance onto one new worker has one target per old worker),
        // in proportion to what each target has to move.
        let shares = match limit {
            Some(_) => self.target_bytes(phase, states, ring).await?,
            None => HashMap::new(),
        };
        let total_bytes: u64 = shares.values().sum();
        let rate = |target: &Target| {
            let bytes = shares.get(target).copied().unwrap_or(0);
            task_rate(limit, bytes, total_bytes, per_target)
        };
        let total = self.view().await?.progress.files_total;
        let batch = batch_size(
            job.options.batch_size,
            config.batch_size,
            total,
            targets * per_target,
        );
        let workers = self.online_workers().await?;
        let mut progressed = false;
        for &state in states {
            let mut sweep = Sweep::default();
            loop {
                if self.stopped() {
                    return Err(Halt::Stopped);
                }
                let draining = self.inner.membership.ring().epoch() != ring.epoch();
                while !sweep.exhausted && !draining && sweep.queued < 4 * batch * targets {
                    let rows = self
                        .inner
                        .store
                        .files_after(&self.id, state, sweep.after, FETCH)
                        .await?;
                    sweep.exhausted = (rows.len() as i64) < FETCH;
                    for row in rows {
                        sweep.after = row.seq;
                        match self.target(phase, &row, ring) {
                            Some(t) if !sweep.unreachable.contains(&t) => {
                                sweep.queues.entry(t).or_default().push_back(row);
                                sweep.queued += 1;
                            }
                            _ => {}
                        }
                    }
                }
                if !draining {
                    for (target, queue) in &mut sweep.queues {
                        while sweep.busy.get(target).copied().unwrap_or(0) < per_target
                            && !queue.is_empty()
                        {
                            let files: Vec<FileRow> =
                                queue.drain(..batch.min(queue.len())).collect();
                            sweep.queued -= files.len();
                            *sweep.busy.entry(target.clone()).or_default() += 1;
                            let call = Call {
                                inner: self.inner.clone(),
                                workers: workers.clone(),
                                phase,
                                skip_if_exists: job.options.skip_if_exists,
                                rate: rate(target),
                            };
                            let target = target.clone();
                            sweep.inflight.spawn(async move {
                                let report = call.send(&target, &files).await;
                                (target, files, report)
                            });
                        }
                    }
                }
                if sweep.inflight.is_empty() && (draining || (sweep.exhausted && sweep.queued == 0))
                {
                    break;
                }
                let mut stop = self.stop.clone();
                let finished = tokio::select! {
                    done = sweep.inflight.join_next() => done,
                    _ = stop.changed() => None,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => None,
                };
                let Some(Ok((target, files, report))) = finished else {
                    continue;
                };
                if let Some(n) = sweep.busy.get_mut(&target) {
                    *n -= 1;
                }
                match report {
                    Ok(report) => {
                        progressed = true;
                        self.record(phase, &target, &files, report).await?;
                        self.tick().await?;
                    }
                    Err(error) => {
                        tracing::warn!(job = %self.id, ?target, %error, "task failed; its files wait for the worker or a new owner");
                        if let Some(queue) = sweep.queues.remove(&target) {
                            sweep.queued -= queue.len();
                        }
                        sweep.unreachable.insert(target);
                    }
                }
            }
        }
        Ok(progressed)
    }

    async fn record(
        &self,
        phase: Phase,
        target: &Target,
        files: &[FileRow],
        report: TaskReport,
    ) -> Result<(), JobError> {
        let outcomes = files.iter().zip(report.files);
        if phase == Phase::Prune {
            let pruned: Vec<(FileRow, u64)> = outcomes
                .filter(|(_, o)| o.error.is_none())
                .map(|(f, o)| (f.clone(), o.bytes))
                .collect();
            return self.inner.store.record_pruned(&self.id, &pruned).await;
        }
        let owner = match target {
            Target::Worker(id) | Target::Pair { owner: id, .. } => id.clone(),
            Target::AllWorkers => String::new(),
        };
        let recorded: Vec<Recorded> = outcomes
            .map(|(file, outcome)| recorded(file, &owner, outcome))
            .collect();
        self.inner.store.record(&self.id, &recorded).await
    }

    /// LOAD: counts, on each file's current owner, the bytes it holds.
    /// Returns the processed files that are not fully cached, with why.
    async fn verify(&mut self, job: &JobView) -> Result<Vec<(FileRow, String)>, Halt> {
        let ring = self.inner.membership.ring();
        let workers = self.online_workers().await?;
        let mut cached = 0u64;
        let mut short = Vec::new();
        for state in [FileState::Done, FileState::Skipped] {
            let mut after = 0;
            loop {
                if self.stopped() {
                    return Err(Halt::Stopped);
                }
                let rows = self.next_files(state, &mut after).await?;
                if rows.is_empty() {
                    break;
                }
                let mut by_owner: HashMap<String, Vec<FileRow>> = HashMap::new();
                for row in rows {
                    let owner = ring.locate(&row.path).map(|m| m.id.clone());
                    by_owner
                        .entry(owner.unwrap_or_default())
                        .or_default()
                        .push(row);
                }
                for (owner, rows) in by_owner {
                    let counted = match workers.get(&owner) {
                        Some(address) => self.cached_on(address, &rows).await,
                        None => Err(format!("owner {owner:?} is not online")),
                    };
                    match counted {
                        Ok(report) => {
                            for (row, outcome) in rows.into_iter().zip(report.files) {
                                cached += outcome.bytes.min(row.size);
                                if outcome.bytes < row.size {
                                    let reason = format!(
                                        "not cached after loading: {} of {} bytes on its owner {owner}",
                                        outcome.bytes, row.size
                                    );
                                    short.push((row, reason));
                                }
                            }
                        }
                        Err(error) => short.extend(rows.into_iter().map(|row| {
                            (row, format!("cannot count what its owner holds: {error}"))
                        })),
                    }
                }
            }
        }
        self.inner.store.set_cached_bytes(&self.id, cached).await?;
        tracing::info!(job = %self.id, cached, short = short.len(), path = %job.path, "load verified");
        Ok(short)
    }

    async fn cached_on(&self, address: &str, rows: &[FileRow]) -> Result<TaskReport, String> {
        let query = CachedQuery {
            files: rows.iter().map(task_file).collect(),
        };
        post(&self.inner.http, address, "/tasks/cached", &query).await
    }
}

/// The work list of one sweep.
#[derive(Default)]
struct Sweep {
    after: i64,
    exhausted: bool,
    queues: HashMap<Target, VecDeque<FileRow>>,
    queued: usize,
    busy: HashMap<Target, usize>,
    unreachable: HashSet<Target>,
    inflight: JoinSet<(Target, Vec<FileRow>, Result<TaskReport, String>)>,
}

/// One task call, owned so it can run on its own.
struct Call {
    inner: Arc<Inner>,
    workers: HashMap<String, String>,
    phase: Phase,
    skip_if_exists: bool,
    rate: Option<u64>,
}

impl Call {
    async fn send(&self, target: &Target, files: &[FileRow]) -> Result<TaskReport, String> {
        let http = &self.inner.http;
        let address = |id: &str| {
            self.workers
                .get(id)
                .cloned()
                .ok_or_else(|| format!("worker {id} is not online"))
        };
        let paths = || files.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
        let report = match (self.phase, target) {
            (Phase::Load, Target::Worker(owner)) => {
                let task = LoadTask {
                    files: files.iter().map(task_file).collect(),
                    skip_if_exists: self.skip_if_exists,
                    rate: self.rate,
                    source: None,
                };
                post(http, &address(owner)?, "/tasks/load", &task).await?
            }
            (Phase::Copy, Target::Pair { owner, source }) => {
                let task = LoadTask {
                    files: files.iter().map(task_file).collect(),
                    skip_if_exists: true,
                    rate: self.rate,
                    source: self.workers.get(source).cloned(),
                };
                post(http, &address(owner)?, "/tasks/load", &task).await?
            }
            (Phase::Prune, Target::Worker(source)) => {
                let task = FreeTask {
                    paths: paths(),
                    rate: self.rate,
                };
                post(http, &address(source)?, "/tasks/free", &task).await?
            }
            (Phase::Free, Target::AllWorkers) => {
                let task = FreeTask {
                    paths: paths(),
                    rate: None,
                };
                let mut total = vec![FileOutcome::default(); files.len()];
                for address in self.workers.values() {
                    let report: TaskReport = post(http, address, "/tasks/free", &task).await?;
                    for (sum, one) in total.iter_mut().zip(report.files) {
                        sum.bytes += one.bytes;
                        sum.error = sum.error.take().or(one.error);
                    }
                }
                TaskReport { files: total }
            }
            (phase, target) => return Err(format!("no task for {phase:?} to {target:?}")),
        };
        if report.files.len() != files.len() {
            return Err(format!(
                "the worker answered for {} files, not {}",
                report.files.len(),
                files.len()
            ));
        }
        Ok(report)
    }
}

async fn post<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    address: &str,
    path: &str,
    body: &T,
) -> Result<R, String> {
    let url = format!("{address}{}{path}", ringside_api::API_PREFIX);
    let response = http
        .post(&url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", root_cause(&e)))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{url} answered {status}: {text}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("{url}: unexpected answer: {e}"))
}

fn listing_failed(worker: &str, error: reqwest::Error) -> JobError {
    JobError::Corrupt(format!(
        "cannot list the cache of worker {worker}: {}",
        root_cause(&error)
    ))
}

fn task_file(row: &FileRow) -> TaskFile {
    TaskFile {
        path: row.path.clone(),
        size: row.size,
        version: row.version.clone(),
    }
}

/// Files per task: the job's `--batch-size` if given; else the configured
/// size, but small enough that a job with few files still keeps every task
/// slot busy.
fn batch_size(requested: Option<u32>, configured: u32, files: u64, slots: usize) -> usize {
    let size = |n: u32| usize::try_from(n.max(1)).unwrap_or(usize::MAX);
    match requested {
        Some(n) => size(n),
        None => {
            let spread = usize::try_from(files.div_ceil(slots.max(1) as u64)).unwrap_or(usize::MAX);
            size(configured).min(spread.max(1))
        }
    }
}

/// A file's outcome as the work list records it.
fn recorded(file: &FileRow, owner: &str, outcome: FileOutcome) -> Recorded {
    let state = if outcome.error.is_some() {
        FileState::Failed
    } else if outcome.bytes == 0 && file.size > 0 && outcome.skipped_bytes >= file.size {
        FileState::Skipped
    } else {
        FileState::Done
    };
    Recorded {
        path: file.path.clone(),
        source: file.source.clone(),
        state,
        owner: owner.to_string(),
        bytes: outcome.bytes,
        skipped_bytes: outcome.skipped_bytes,
        error: outcome.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(size: u64) -> FileRow {
        FileRow {
            seq: 1,
            path: "/a".into(),
            source: String::new(),
            size,
            version: "v".into(),
            owner: None,
            bytes: 0,
        }
    }

    #[test]
    fn few_files_are_spread_over_every_slot() {
        assert_eq!(batch_size(None, 200, 1000, 9), 112);
        assert_eq!(batch_size(None, 200, 100_000, 9), 200);
        assert_eq!(batch_size(None, 200, 0, 9), 1);
        assert_eq!(batch_size(Some(7), 200, 1000, 9), 7);
        assert_eq!(batch_size(Some(0), 200, 1000, 0), 1);
    }

    #[test]
    fn outcomes_map_to_file_states() {
        let ok = FileOutcome {
            path: "/a".into(),
            bytes: 10,
            ..FileOutcome::default()
        };
        assert_eq!(recorded(&row(10), "w", ok).state, FileState::Done);
        let skipped = FileOutcome {
            path: "/a".into(),
            skipped_bytes: 10,
            ..FileOutcome::default()
        };
        assert_eq!(recorded(&row(10), "w", skipped).state, FileState::Skipped);
        let empty = FileOutcome::default();
        assert_eq!(recorded(&row(0), "w", empty).state, FileState::Done);
        let failed = FileOutcome {
            error: Some("gone".into()),
            bytes: 3,
            ..FileOutcome::default()
        };
        let r = recorded(&row(10), "w", failed);
        assert_eq!((r.state, r.bytes), (FileState::Failed, 3));
    }
}
