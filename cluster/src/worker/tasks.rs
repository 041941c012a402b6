//! The job tasks a coordinator hands a worker: load files into the page
//! store (from the UFS, or copied from another worker's cache), free them,
//! and say how much of them is cached. Also the cache listing and the
//! cache-only reads that rebalancing copies from.
//!
//! A load answers only once every page it reports is durably in the store,
//! so a job that counts a file as loaded can rely on it being cached.

use std::ops::Range;

use axum::{
    Json,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt, stream};
use ringside_api::{
    http::{ApiError, ApiJson},
    job::{
        CachedFileView, CachedFiles, CachedQuery, FileOutcome, FreeTask, LoadTask, TaskFile,
        TaskReport,
    },
};
use ringside_pagestore::{FileKey, page_count, page_len};
use ringside_ufs::{FileStatus, UfsPath};
use serde::Deserialize;

use super::{WorkerContext, api::ufs_error, read::key_of};
use tokio::sync::Mutex;

use crate::pacing::Pacer;

/// Pages of one file read at once while loading it.
const LOAD_PIPELINE_PAGES: usize = 4;
/// Files of one task loaded at once, so small files keep the disk busy.
const LOAD_FILES_AT_ONCE: usize = 4;
/// Most files one cache listing page answers with.
const MAX_CACHE_PAGE: usize = 10_000;

pub async fn load(
    State(ctx): State<WorkerContext>,
    ApiJson(task): ApiJson<LoadTask>,
) -> Json<TaskReport> {
    let pacer = Mutex::new(Pacer::new(task.rate));
    let (ctx, task, pacer) = (&ctx, &task, &pacer);
    let files = stream::iter(task.files.iter().cloned())
        .map(move |file| async move {
            let outcome = load_file(ctx, &file, task, pacer).await;
            if let Some(error) = &outcome.error {
                tracing::info!(path = %file.path, %error, "file not loaded");
            }
            outcome
        })
        .buffered(LOAD_FILES_AT_ONCE)
        .collect()
        .await;
    Json(TaskReport { files })
}

pub async fn free(
    State(ctx): State<WorkerContext>,
    ApiJson(task): ApiJson<FreeTask>,
) -> Json<TaskReport> {
    let mut pacer = Pacer::new(task.rate);
    let mut files = Vec::with_capacity(task.paths.len());
    for path in task.paths {
        let store = ctx.reader.store.clone();
        let target = path.clone();
        let removed = tokio::task::spawn_blocking(move || store.remove_file(&target)).await;
        let outcome = match removed {
            Ok(Ok(bytes)) => {
                pacer.acquire(bytes).await;
                FileOutcome {
                    path,
                    bytes,
                    ..FileOutcome::default()
                }
            }
            Ok(Err(e)) => failed(path, e.to_string()),
            Err(e) => failed(path, format!("free interrupted: {e}")),
        };
        files.push(outcome);
    }
    Json(TaskReport { files })
}

pub async fn cached(
    State(ctx): State<WorkerContext>,
    ApiJson(query): ApiJson<CachedQuery>,
) -> Json<TaskReport> {
    let files = query
        .files
        .into_iter()
        .map(|f| {
            let key = FileKey::new(f.path.clone(), f.version, f.size);
            let bytes = ctx
                .reader
                .store
                .cached_file(&f.path)
                .filter(|c| c.key() == key)
                .map_or(0, |c| c.cached_bytes);
            FileOutcome {
                path: f.path,
                bytes,
                ..FileOutcome::default()
            }
        })
        .collect();
    Json(TaskReport { files })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachePage {
    after: Option<String>,
    limit: Option<usize>,
}

/// The files this worker holds pages of, in path order.
pub async fn cache_listing(
    State(ctx): State<WorkerContext>,
    Query(page): Query<CachePage>,
) -> Json<CachedFiles> {
    let limit = page.limit.unwrap_or(1000).clamp(1, MAX_CACHE_PAGE);
    // One more than the page says whether there is a next page.
    let mut files = ctx
        .reader
        .store
        .files_after(page.after.as_deref(), limit + 1);
    let more = files.len() > limit;
    files.truncate(limit);
    let next = more.then(|| files.last().map(|f| f.path.clone())).flatten();
    Json(CachedFiles {
        files: files
            .into_iter()
            .map(|f| CachedFileView {
                path: f.path,
                version: f.version,
                size: f.len,
                cached_bytes: f.cached_bytes,
            })
            .collect(),
        next,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    version: String,
}

/// A file served from this worker's cache only: 404 unless every page of
/// that version is held. A page evicted while sending cuts the answer
/// short, which the copying worker notices by the length.
pub async fn cached_file(
    State(ctx): State<WorkerContext>,
    Path(raw): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let path = UfsPath::parse(&raw).map_err(ufs_error)?;
    let store = ctx.reader.store.clone();
    let file = store
        .cached_file(path.as_str())
        .filter(|f| f.version == query.version && f.is_fully_cached())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{path} version {} is not fully cached here",
                query.version
            ))
        })?;
    let key = file.key();
    let pages = page_count(key.len(), store.page_size());
    let body = stream::iter(0..pages)
        .then(move |index| {
            let (store, key) = (store.clone(), key.clone());
            async move {
                let page = tokio::task::spawn_blocking(move || store.get_page(&key, index))
                    .await
                    .map_err(std::io::Error::other)?
                    .map_err(std::io::Error::other)?;
                page.map(Bytes::from)
                    .ok_or_else(|| std::io::Error::other("page evicted while copying"))
            }
        })
        .into_stream();
    let mut response = Body::from_stream(body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(file.len));
    Ok(response)
}

fn failed(path: String, error: String) -> FileOutcome {
    FileOutcome {
        path,
        error: Some(error),
        ..FileOutcome::default()
    }
}

/// Loads one file whole; what it could not do is the outcome's error.
async fn load_file(
    ctx: &WorkerContext,
    file: &TaskFile,
    task: &LoadTask,
    pacer: &Mutex<Pacer>,
) -> FileOutcome {
    let path = match UfsPath::parse(&file.path) {
        Ok(path) => path,
        Err(e) => return failed(file.path.clone(), e.to_string()),
    };
    let status = match ctx.reader.stat(&path).await {
        Ok(status) => status,
        Err(e) => return failed(file.path.clone(), e.to_string()),
    };
    let key = key_of(&status);
    let store = &ctx.reader.store;
    if !task.skip_if_exists {
        // Without --skip-if-exists a load refreshes: every byte is read again.
        let (store, target) = (store.clone(), file.path.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || store.remove_file(&target)).await {
            return failed(file.path.clone(), format!("load interrupted: {e}"));
        }
    }
    let page_size = store.page_size();
    let (missing, held): (Vec<u64>, Vec<u64>) =
        (0..page_count(status.size, page_size)).partition(|i| !store.has_page(&key, *i));
    let mut outcome = FileOutcome {
        path: file.path.clone(),
        skipped_bytes: held
            .iter()
            .filter_map(|i| page_len(status.size, page_size, *i))
            .sum(),
        ..FileOutcome::default()
    };
    let mut missing = missing.as_slice();
    if let (Some(source), false) = (&task.source, missing.is_empty()) {
        match copy_from_peer(ctx, source, &status, missing, pacer).await {
            Ok(copied) => {
                outcome.from_peer_bytes = copied.bytes;
                outcome.bytes += copied.bytes;
                missing = &missing[copied.pages..];
            }
            Err(error) => {
                tracing::info!(path = %file.path, %source, %error, "cannot copy from the old owner; loading from the UFS")
            }
        }
    }
    match load_from_ufs(ctx, &status, missing, pacer).await {
        Ok(bytes) => outcome.bytes += bytes,
        Err(error) => outcome.error = Some(error),
    }
    outcome
}

/// Reads `pages` of the file from the UFS into the store, a few at a time.
async fn load_from_ufs(
    ctx: &WorkerContext,
    status: &FileStatus,
    pages: &[u64],
    pacer: &Mutex<Pacer>,
) -> Result<u64, String> {
    let page_size = ctx.reader.store.page_size();
    let key = key_of(status);
    let mut loads = stream::iter(pages.iter().copied())
        .map(|index| {
            let range = page_range(status.size, page_size, index);
            let (key, path) = (key.clone(), status.path.clone());
            async move {
                // Paid before the read, so bytes land at the rate rather
                // than in a burst at the start of each task.
                pacer.lock().await.acquire(range.end - range.start).await;
                let data = ctx
                    .reader
                    .ufs
                    .read_range(&path, range)
                    .await
                    .map_err(|e| e.to_string())?;
                ctx.reader.metrics.bytes_read_ufs.inc_by(data.len() as u64);
                put(ctx, key, index, data).await
            }
        })
        .buffered(LOAD_PIPELINE_PAGES);
    let mut total = 0;
    while let Some(loaded) = loads.next().await {
        total += loaded?;
    }
    Ok(total)
}

struct Copied {
    pages: usize,
    bytes: u64,
}

/// Copies the leading run of `pages` from `source`'s cache. Stops at the
/// first failure and says how far it got, so the caller loads the rest
/// from the UFS.
async fn copy_from_peer(
    ctx: &WorkerContext,
    source: &str,
    status: &FileStatus,
    pages: &[u64],
    pacer: &Mutex<Pacer>,
) -> Result<Copied, String> {
    let page_size = ctx.reader.store.page_size();
    let key = key_of(status);
    let url = format!(
        "{}{}/cache/{}",
        source.trim_end_matches('/'),
        ringside_api::API_PREFIX,
        status.path.as_str().trim_start_matches('/')
    );
    let response = ctx
        .peers
        .get(url)
        .query(&[("version", &status.version)])
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
    let mut body = response.bytes_stream();
    let mut copied = Copied { pages: 0, bytes: 0 };
    let mut buffer = BytesMut::new();
    let mut index = 0u64;
    loop {
        let wanted = page_range(status.size, page_size, index);
        let want = usize::try_from(wanted.end - wanted.start).unwrap_or(usize::MAX);
        while buffer.len() < want {
            match body.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return partial(copied, e.to_string()),
                None => return partial(copied, "the source's answer ended early".into()),
            }
        }
        let page = buffer.split_to(want).freeze();
        if pages.get(copied.pages) == Some(&index) {
            pacer.lock().await.acquire(page.len() as u64).await;
            let bytes = match put(ctx, key.clone(), index, page).await {
                Ok(bytes) => bytes,
                Err(e) => return partial(copied, e),
            };
            copied.pages += 1;
            copied.bytes += bytes;
            if copied.pages == pages.len() {
                return Ok(copied);
            }
        }
        index += 1;
    }
}

/// What was copied stands; the error only ends the copy.
fn partial(copied: Copied, error: String) -> Result<Copied, String> {
    if copied.pages == 0 {
        Err(error)
    } else {
        tracing::info!(%error, pages = copied.pages, "copy from the old owner cut short");
        Ok(copied)
    }
}

/// Stores one page through the worker's page writers (one flush for the
/// pages written together) and waits until it is in the store.
async fn put(ctx: &WorkerContext, key: FileKey, index: u64, data: Bytes) -> Result<u64, String> {
    let len = data.len() as u64;
    ctx.reader
        .cache
        .write(key, index, data)
        .await
        .map_err(|e| format!("cannot cache: {e}"))?;
    Ok(len)
}

fn page_range(size: u64, page_size: u64, index: u64) -> Range<u64> {
    let start = index * page_size;
    start..(start + page_size).min(size)
}
