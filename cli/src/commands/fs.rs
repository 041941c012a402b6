//! `ringside fs ls|cat|stat`: files as clients see them. The CLI locates a
//! file's owner on the ring, exactly as every client does, and reads from
//! it; when the owner is down it reads the UFS directly (unless the UFS
//! fallback is off) and says so on stderr.

use std::io::Write;
use std::os::fd::AsFd;

use anyhow::{Context, anyhow};
use futures::StreamExt;
use ringside_api::{
    WorkerState, WorkerView,
    worker::{FileEntry, Listing},
};
use ringside_config::SiteConfig;
use ringside_ring::{Ring, RingSpec};
use ringside_ufs::{Ufs, UfsPath};

use super::info::{human_size, print_table};
use crate::{args::Format, client::Coordinator};

/// The cluster as a client routes to it: the ring and where each worker is.
pub struct Route {
    ring: Ring,
    workers: Vec<WorkerView>,
    http: reqwest::Client,
}

impl Route {
    pub async fn fetch(coordinator: &Coordinator) -> anyhow::Result<Route> {
        let spec: RingSpec = coordinator.get("/ring").await?;
        let ring = Ring::from_spec(spec).context("the coordinator's ring is invalid")?;
        let workers: Vec<WorkerView> = coordinator.get("/workers").await?;
        Ok(Route {
            ring,
            workers,
            http: reqwest::Client::new(),
        })
    }

    /// The owner of `path` and its HTTP address.
    fn owner(&self, path: &UfsPath) -> Option<&WorkerView> {
        let member = self.ring.locate(path.as_str())?;
        self.workers
            .iter()
            .find(|w| w.heartbeat.id == member.id && w.state == WorkerState::Online)
    }

    fn url(worker: &WorkerView, api: &str, path: &UfsPath) -> anyhow::Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&worker.heartbeat.address)
            .with_context(|| format!("worker address {:?}", worker.heartbeat.address))?;
        url.path_segments_mut()
            .map_err(|()| {
                anyhow!(
                    "worker address {} cannot take a path",
                    worker.heartbeat.address
                )
            })?
            .pop_if_empty()
            .extend(["api", "v1", api])
            .extend(path.segments());
        Ok(url)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        worker: &WorkerView,
        api: &str,
        path: &UfsPath,
    ) -> anyhow::Result<T> {
        let url = Self::url(worker, api, path)?;
        let response = self.http.get(url).send().await?;
        if !response.status().is_success() {
            return Err(api_error(response).await);
        }
        Ok(response.json().await?)
    }
}

async fn api_error(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    match response.json::<ringside_api::ErrorBody>().await {
        Ok(body) => anyhow!("{}", body.error.message),
        Err(_) => anyhow!("worker answered {status}"),
    }
}

fn ufs(site: &SiteConfig) -> anyhow::Result<Ufs> {
    ringside_cluster::worker::open_ufs(&site.client().ufs)
        .context("opening the UFS for the direct-read fallback")
}

pub async fn cat(coordinator: &Coordinator, site: &SiteConfig, raw: &str) -> anyhow::Result<()> {
    let path = UfsPath::parse(raw)?;
    // Bytes, not lines: stdout's line buffering would cut every chunk in two
    // at its last newline, a write each.
    let mut out = std::fs::File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("cannot write to standard output")?,
    );
    // Bytes written so far: a worker that goes away mid-file leaves the
    // rest to the UFS, from where it stopped.
    let mut written = 0u64;
    let reason = match Route::fetch(coordinator).await {
        Err(e) => format!(
            "the coordinator is unreachable ({})",
            ringside_api::error::root_cause(e.as_ref())
        ),
        Ok(route) => match route.owner(&path) {
            Some(worker) => match route
                .http
                .get(Route::url(worker, "files", &path)?)
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => {
                    let mut body = response.bytes_stream();
                    let mut broken = None;
                    while let Some(chunk) = body.next().await {
                        match chunk {
                            Ok(chunk) => {
                                out.write_all(&chunk)?;
                                written += chunk.len() as u64;
                            }
                            Err(e) => {
                                broken = Some(e);
                                break;
                            }
                        }
                    }
                    match broken {
                        None => return Ok(out.flush()?),
                        Some(e) => format!(
                            "worker {} stopped answering after {written} bytes ({})",
                            worker.heartbeat.id,
                            ringside_api::error::root_cause(&e)
                        ),
                    }
                }
                Ok(response) => return Err(api_error(response).await),
                Err(e) => format!(
                    "worker {} at {} unreachable ({})",
                    worker.heartbeat.id,
                    worker.heartbeat.address,
                    ringside_api::error::root_cause(&e)
                ),
            },
            None => "no ONLINE worker owns it".to_string(),
        },
    };
    if !site.client().ufs_fallback {
        return Err(anyhow!(
            "cannot read {path}: {reason}; the UFS fallback is off (ringside.user.ufs.fallback.enabled)"
        ));
    }
    eprintln!("ringside: {reason}; reading {path} from the UFS directly");
    let ufs = ufs(site)?;
    let status = ufs.stat(&path).await?;
    const CHUNK: u64 = 8 * 1024 * 1024;
    let mut offset = written;
    while offset < status.size {
        let end = (offset + CHUNK).min(status.size);
        out.write_all(&ufs.read_range(&path, offset..end).await?)?;
        offset = end;
    }
    Ok(out.flush()?)
}

fn any_online(route: &Route, path: &UfsPath) -> anyhow::Result<WorkerView> {
    route
        .owner(path)
        .or_else(|| {
            route
                .workers
                .iter()
                .find(|w| w.state == WorkerState::Online)
        })
        .cloned()
        .ok_or_else(|| {
            anyhow!("no ONLINE worker to ask; start workers or check `ringside info nodes`")
        })
}

pub async fn stat(coordinator: &Coordinator, raw: &str, format: Format) -> anyhow::Result<()> {
    let path = UfsPath::parse(raw)?;
    let route = Route::fetch(coordinator).await?;
    let worker = any_online(&route, &path)?;
    let entry: FileEntry = route.get_json(&worker, "stat", &path).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&entry)?),
        Format::Text => {
            println!("path:         {}", entry.path);
            println!(
                "type:         {}",
                if entry.is_dir { "directory" } else { "file" }
            );
            if !entry.is_dir {
                println!(
                    "size:         {} ({} bytes)",
                    human_size(entry.size),
                    entry.size
                );
                println!(
                    "cached:       {} on worker {} ({:.0}%)",
                    human_size(entry.cached_bytes),
                    worker.heartbeat.id,
                    percent(entry.cached_bytes, entry.size)
                );
                if let Some(t) = entry.last_modified {
                    println!("modified:     {}", t.to_rfc3339());
                }
            }
        }
    }
    Ok(())
}

pub async fn ls(
    coordinator: &Coordinator,
    raw: &str,
    recursive: bool,
    format: Format,
) -> anyhow::Result<()> {
    let path = UfsPath::parse(raw)?;
    let route = Route::fetch(coordinator).await?;
    let worker = any_online(&route, &path)?;
    // Route::url appends the path's segments; the root has none, so the
    // listing of the root is `/api/v1/list` itself.
    let mut url = Route::url(&worker, "list", &path)?;
    url.set_query(Some(&format!("recursive={recursive}")));
    let response = route.http.get(url).send().await?;
    if !response.status().is_success() {
        return Err(api_error(response).await);
    }
    let listing: Listing = response.json().await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&listing)?),
        Format::Text => {
            let rows: Vec<[String; 3]> = listing
                .entries
                .iter()
                .map(|e| {
                    [
                        if e.is_dir {
                            "DIR".to_string()
                        } else {
                            human_size(e.size)
                        },
                        e.last_modified
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default(),
                        e.path.clone(),
                    ]
                })
                .collect();
            print_table(&["SIZE", "MODIFIED", "PATH"], &rows);
            if listing.truncated {
                eprintln!(
                    "ringside: listing truncated at {} entries",
                    listing.entries.len()
                );
            }
        }
    }
    Ok(())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
