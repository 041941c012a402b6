//! The worker daemon: a page store caching files of the UFS, served over an
//! HTTP read API and an S3-compatible one, and a heartbeat that keeps the
//! worker in its coordinator's member list.

mod api;
mod identity;
mod metrics;
mod read;
mod s3;
mod tasks;
mod tenants;
mod write_behind;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use reqwest::header::HeaderMap;
use ringside_api::WorkerHeartbeat;
use ringside_config::{EvictorType, MembershipType, UfsConfig, WorkerConfig};
use ringside_pagestore::{EvictorKind, Options, PageStore, PageStoreError};
use ringside_ufs::{Ufs, UfsError, UfsOptions};

use crate::membership::etcd::EtcdRegistrar;

pub use api::ufs_error;
pub use identity::IdentityError;
pub use metrics::WorkerMetrics;
pub use read::{ReadAhead, Reader};
pub use write_behind::WriteBehind;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    #[error("page store: {0}")]
    PageStore(#[from] PageStoreError),
    #[error("ufs: {0}")]
    Ufs(#[from] UfsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the page writer threads: {0}")]
    Writers(std::io::Error),
    #[error("serving the worker API failed: {0}")]
    Serve(std::io::Error),
    /// The coordinator refused this worker for good, such as for its license.
    #[error("the coordinator refused this worker: {0}")]
    Refused(String),
}

/// Opens the UFS a site configuration names. Workers read misses from it;
/// clients read it directly when a file's owner is down.
pub fn open_ufs(config: &UfsConfig) -> Result<Ufs, UfsError> {
    Ufs::open(
        &config.root,
        UfsOptions {
            s3_endpoint: config.s3_endpoint.clone(),
            s3_region: Some(config.s3_region.clone()),
            // A plain-http endpoint is a local S3 server (moto, MinIO).
            allow_http: config
                .s3_endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://")),
            ..UfsOptions::default()
        },
    )
}

/// What the worker's handlers share.
#[derive(Clone, Debug)]
pub struct WorkerContext {
    pub id: String,
    pub reader: Reader,
    /// Calls to other workers, for copying files out of their caches.
    pub peers: reqwest::Client,
    /// When this process started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Rung by `POST /api/v1/restart`: the worker drains and restarts.
    pub restart: Arc<tokio::sync::Notify>,
    /// The tenant policy revision the page store enforces.
    pub tenants: tenants::Applied,
    /// Who may make control calls, and the token this worker's own carry.
    pub guard: crate::security::Guard,
}

/// Why a worker stopped serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Its shutdown signal came.
    Stopped,
    /// It was asked to restart: the caller starts it again in place.
    Restart,
}

/// A worker with its page store open and its ports bound.
pub struct Worker {
    ctx: WorkerContext,
    config: WorkerConfig,
    /// The heartbeat interval now: a dynamic property.
    heartbeat: Arc<tokio::sync::watch::Sender<Duration>>,
    http: tokio::net::TcpListener,
    s3: tokio::net::TcpListener,
}

impl Worker {
    pub async fn bind(config: &WorkerConfig) -> Result<Worker, WorkerError> {
        let id = identity::load_or_create(&config.identity_file)?;
        let guard = crate::security::Guard::load(
            &config.security,
            &config.cluster_name,
            crate::security::Role::Worker,
        )?;
        let ps = &config.page_store;
        let options = Options {
            size: ps.size,
            reserved_size: ps.reserved_size,
            page_size: ps.page_size,
            evictor: match ps.evictor {
                EvictorType::Lru => EvictorKind::Lru,
                EvictorType::Lfu => EvictorKind::Lfu,
                EvictorType::Fifo => EvictorKind::Fifo,
            },
            high_watermark: ps.high_watermark,
            low_watermark: ps.low_watermark,
            sync_writes: ps.sync_writes,
            ..Options::new(&ps.dir)
        };
        let store = tokio::task::spawn_blocking(move || PageStore::open(options))
            .await
            .map_err(|e| WorkerError::Serve(std::io::Error::other(e)))??;
        let store = Arc::new(store);
        let metrics = WorkerMetrics::new();
        let cache = WriteBehind::start(
            store.clone(),
            ps.async_write_threads as usize,
            ps.async_write_queue_size,
            metrics.cache_puts_rejected.clone(),
            metrics.cache_write_failures.clone(),
        )
        .map_err(WorkerError::Writers)?;
        let ufs = open_ufs(&config.ufs)?;
        let bind = |port: u16| {
            let addr = format!("{}:{port}", config.bind_host);
            async move {
                tokio::net::TcpListener::bind(&addr)
                    .await
                    .map_err(|source| WorkerError::Bind { addr, source })
            }
        };
        let http = bind(config.port).await?;
        let s3 = bind(config.s3_port).await?;
        Ok(Worker {
            ctx: WorkerContext {
                id,
                reader: Reader {
                    store,
                    ufs,
                    metrics,
                    cache: Arc::new(cache),
                    read_ahead: ReadAhead::new(ps.read_ahead_pages, ps.cold_read_ahead_pages),
                },
                peers: reqwest::Client::builder()
                    .default_headers(guard.client_headers())
                    .build()
                    .map_err(|e| WorkerError::Serve(std::io::Error::other(e)))?,
                started_at: chrono::Utc::now(),
                restart: Arc::default(),
                tenants: tenants::Applied::default(),
                guard,
            },
            config: config.clone(),
            heartbeat: Arc::new(tokio::sync::watch::Sender::new(config.heartbeat_interval)),
            http,
            s3,
        })
    }

    /// A handle that changes the worker's dynamic settings while it runs.
    pub fn live(&self) -> LiveSettings {
        LiveSettings {
            store: self.ctx.reader.store.clone(),
            heartbeat: self.heartbeat.clone(),
        }
    }

    pub fn id(&self) -> &str {
        &self.ctx.id
    }

    pub fn local_addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.http.local_addr()?, self.s3.local_addr()?))
    }

    /// Serves both APIs and heartbeats until `shutdown` resolves or a
    /// restart is asked for; either way it drains the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Ending, WorkerError> {
        let (http_addr, s3_addr) = self.local_addrs().map_err(WorkerError::Serve)?;
        let address = format!("http://{}:{}", self.config.hostname, http_addr.port());
        let s3_address = format!("http://{}:{}", self.config.hostname, s3_addr.port());
        tracing::info!(worker = %self.ctx.id, %address, %s3_address, "worker listening");

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut heartbeat = tokio::spawn(heartbeat_loop(
            self.ctx.clone(),
            self.config.clone(),
            self.heartbeat.subscribe(),
            address,
            s3_address,
        ));
        let tenant_sync = tokio::spawn(tenants::sync_loop(
            self.ctx.clone(),
            self.config.coordinator_address.clone(),
            self.config.tenant_sync_interval,
        ));
        let _stop_sync = AbortOnDrop(tenant_sync);
        let s3_source = s3::CacheSource {
            bucket: self.config.cluster_name.clone(),
            reader: self.ctx.reader.clone(),
        };
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let restart = self.ctx.restart.clone();
        let s3_server = axum::serve(self.s3, ringside_s3api::router(s3_source))
            .with_graceful_shutdown(wait(stop_rx.clone()));
        let http_server =
            axum::serve(self.http, api::router(self.ctx)).with_graceful_shutdown(wait(stop_rx));
        let servers =
            async { tokio::try_join!(http_server.into_future(), s3_server.into_future()) };
        tokio::pin!(servers);
        tokio::select! {
            result = &mut servers => { heartbeat.abort(); return result.map(|_| Ending::Stopped).map_err(WorkerError::Serve); }
            () = shutdown => {}
            () = restart.notified() => {
                tracing::info!("restarting as asked");
                heartbeat.abort();
                let _ = stop_tx.send(true);
                return servers.await.map(|_| Ending::Restart).map_err(WorkerError::Serve);
            }
            refused = &mut heartbeat => {
                // Only a refusal ends the heartbeat loop: drain and stop.
                let reason = refused.unwrap_or_else(|e| format!("the heartbeat task failed: {e}"));
                let _ = stop_tx.send(true);
                let _ = servers.await;
                return Err(WorkerError::Refused(reason));
            }
        }
        heartbeat.abort();
        let _ = stop_tx.send(true);
        servers
            .await
            .map(|_| Ending::Stopped)
            .map_err(WorkerError::Serve)
    }
}

/// Aborts a background task when the worker stops serving.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The worker's dynamic properties, changed while it runs: the page
/// store's watermarks and the heartbeat interval.
#[derive(Clone, Debug)]
pub struct LiveSettings {
    store: Arc<PageStore>,
    heartbeat: Arc<tokio::sync::watch::Sender<Duration>>,
}

impl LiveSettings {
    /// Applies the dynamic settings of `config`; the others are read at
    /// start only. Refused, changing nothing, when the watermarks are not
    /// 0 < low < high ≤ 1.
    pub fn apply(&self, config: &WorkerConfig) -> Result<(), WorkerError> {
        let ps = &config.page_store;
        self.store
            .set_watermarks(ps.high_watermark, ps.low_watermark)?;
        self.heartbeat.send_replace(config.heartbeat_interval);
        Ok(())
    }
}

/// Where heartbeats go: the coordinator, or etcd.
enum Registry {
    Coordinator {
        client: reqwest::Client,
        url: String,
    },
    Etcd(Option<Box<EtcdRegistrar>>),
}

impl Registry {
    fn new(config: &WorkerConfig, headers: HeaderMap) -> Result<Registry, String> {
        if config.membership == MembershipType::Etcd {
            return Ok(Registry::Etcd(None));
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(config.heartbeat_interval.max(Duration::from_secs(1)))
            .build()
            .map_err(|e| e.to_string())?;
        let url = format!(
            "{}{}/workers/heartbeat",
            config.coordinator_address.trim_end_matches('/'),
            ringside_api::API_PREFIX
        );
        Ok(Registry::Coordinator { client, url })
    }

    async fn beat(
        &mut self,
        config: &WorkerConfig,
        beat: &WorkerHeartbeat,
    ) -> Result<(), BeatError> {
        match self {
            Registry::Coordinator { client, url } => {
                match client.post(url.as_str()).json(beat).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        match serde_json::from_str::<ringside_api::ErrorBody>(&text) {
                            // Beyond the license's limits: retrying cannot help
                            // until an operator acts, so the worker stops.
                            Ok(body)
                                if status == reqwest::StatusCode::FORBIDDEN
                                    && body.error.code.starts_with("license_") =>
                            {
                                Err(BeatError::Refused(body.error.message))
                            }
                            _ => Err(BeatError::Retry(format!("{url} answered {status}: {text}"))),
                        }
                    }
                    Err(e) => Err(BeatError::Retry(format!("{url}: {e}"))),
                }
            }
            Registry::Etcd(slot) => {
                let registrar = match slot {
                    Some(registrar) => registrar,
                    None => slot.insert(Box::new(
                        EtcdRegistrar::connect(
                            &config.etcd_endpoints,
                            &config.cluster_name,
                            config.failure_detection_timeout,
                        )
                        .await
                        .map_err(|e| BeatError::Retry(e.to_string()))?,
                    )),
                };
                registrar
                    .beat(beat)
                    .await
                    .map_err(|e| BeatError::Retry(e.to_string()))
            }
        }
    }
}

/// Why a heartbeat did not go through.
enum BeatError {
    /// Try again next beat: the coordinator or etcd may not be up yet.
    Retry(String),
    /// The coordinator refused this worker for its license: the message
    /// says why.
    Refused(String),
}

/// Tells the membership backend, every heartbeat interval, that this worker
/// is alive and how full its page store is. Failures are logged and retried
/// on the next beat: the coordinator or etcd may simply not be up yet. Ends
/// only when the coordinator refuses the worker for its license, with the
/// coordinator's reason.
async fn heartbeat_loop(
    ctx: WorkerContext,
    config: WorkerConfig,
    mut interval: tokio::sync::watch::Receiver<Duration>,
    address: String,
    s3_address: String,
) -> String {
    let mut registry = match Registry::new(&config, ctx.guard.client_headers()) {
        Ok(registry) => registry,
        Err(error) => {
            tracing::error!(%error, "cannot build the heartbeat client");
            return std::future::pending().await;
        }
    };
    let mut tick = tokio::time::interval(*interval.borrow_and_update());
    let mut healthy = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Ok(()) = interval.changed() => {
                tick = tokio::time::interval(*interval.borrow_and_update());
                continue;
            }
        }
        let stats = ctx.reader.store.stats();
        let beat = WorkerHeartbeat {
            id: ctx.id.clone(),
            address: address.clone(),
            s3_address: s3_address.clone(),
            capacity_bytes: stats.capacity_bytes,
            used_bytes: stats.used_bytes,
            pages: stats.pages,
            version: crate::VERSION.to_string(),
            cache_read_bytes: ctx.reader.metrics.bytes_read_cache.get(),
            ufs_read_bytes: ctx.reader.metrics.bytes_read_ufs.get(),
        };
        let outcome = registry.beat(&config, &beat).await;
        match (&outcome, healthy) {
            (Ok(()), Some(true)) => {}
            (Ok(()), _) => {
                tracing::info!(membership = ?config.membership, "registered")
            }
            (Err(BeatError::Refused(reason)), _) => {
                tracing::error!(
                    coordinator = %config.coordinator_address,
                    "the coordinator refused this worker, which stops: {reason}"
                );
                return reason.clone();
            }
            (Err(BeatError::Retry(error)), Some(false)) => {
                tracing::debug!(%error, "heartbeat failed")
            }
            (Err(BeatError::Retry(error)), _) => {
                tracing::warn!(%error, "heartbeat failed; retrying every interval")
            }
        }
        healthy = Some(outcome.is_ok());
    }
}
