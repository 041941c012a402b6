//! The console's shared state and the operations on it. The REST API and the
//! UI's server functions both call these, so there is one code path per
//! action, whichever door a request came through.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{Stream, TryStreamExt};
use ringside_api::{
    ClusterDetail, ClusterPatch, ClusterView, NewCluster, WorkerState, WorkerView,
    audit::{AuditEntry, AuditFilter, AuditPage, PageRequest, action},
    drift::DriftReport,
};
use ringside_ring::{Preview, Ring, RingChange, preview};

use ringside_policy::PolicyEngine;

use crate::{
    Actor, ConsoleConfig, ConsoleError,
    audit::{self, AuditLog, Record},
    identity::IdentityService,
    operations::Operations,
    poller::{self, FleetStatus},
    remote::{Clients, Remote},
    secrets::SecretKey,
    store::{Store, StoredCluster},
};

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub fleet: FleetStatus,
    /// The audit trail; record into it with [`AppState::audit`].
    pub audit: AuditLog,
    /// The fan-out engine: bulk actions on many clusters.
    pub operations: Operations,
    /// Logins, sessions and tokens.
    pub identity: IdentityService,
    /// The Rego policy every request is authorized by.
    pub policy: Arc<PolicyEngine>,
    key: SecretKey,
    registry: Registry,
    /// How long one request to a coordinator may take.
    timeout: Duration,
}

/// How long the registered clusters with their status, as read from the
/// store and the poller at an instant, serve page views before they are
/// read again. This console's own writes clear it at once; the age bounds
/// how stale another console on the same PostgreSQL (or the last poll) can
/// be, and keeps a busy fleet page at one registry query and one copy of
/// every status a second.
const REGISTRY_MAX_AGE: Duration = Duration::from_secs(1);

/// The registered clusters with their status at an instant.
type Snapshot = (Instant, Arc<Vec<ClusterView>>);

/// The registered clusters with their status, as last read. Past its age
/// the snapshot is still served while one background read replaces it, so
/// no page view waits for the registry or a thousand status copies; only
/// this console's own writes make the next view wait for a fresh read.
#[derive(Clone, Debug, Default)]
struct Registry(Arc<Mutex<Cached>>);

#[derive(Debug, Default)]
struct Cached {
    snapshot: Option<Snapshot>,
    /// A background read is under way.
    refreshing: bool,
    /// Moves on every write: a read begun before it must not be kept.
    generation: u64,
}

/// What the registry has for a page view.
enum Lookup {
    Fresh(Arc<Vec<ClusterView>>),
    /// Past its age; `refresh` says this caller is the one to read anew.
    Stale {
        views: Arc<Vec<ClusterView>>,
        refresh: bool,
    },
    Missing {
        generation: u64,
    },
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self) -> Lookup {
        let mut cached = self.lock();
        let generation = cached.generation;
        match cached.snapshot.clone() {
            Some((at, views)) if at.elapsed() < REGISTRY_MAX_AGE => Lookup::Fresh(views),
            Some((_, views)) => {
                let refresh = !cached.refreshing;
                cached.refreshing = true;
                Lookup::Stale { views, refresh }
            }
            None => Lookup::Missing { generation },
        }
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps `views`, read when the registry was at `generation`, unless a
    /// write came in since.
    fn keep(&self, generation: u64, views: Arc<Vec<ClusterView>>) {
        let mut cached = self.lock();
        cached.refreshing = false;
        if cached.generation == generation {
            cached.snapshot = Some((Instant::now(), views));
        }
    }

    fn refresh_failed(&self) {
        self.lock().refreshing = false;
    }

    fn clear(&self) {
        let mut cached = self.lock();
        cached.snapshot = None;
        cached.generation += 1;
    }
}

impl AppState {
    /// Opens the store and the secret key, and starts the poller.
    pub async fn start(config: &ConsoleConfig) -> Result<AppState, ConsoleError> {
        if config.database_url.is_none() || config.secret_key_file.is_none() {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| ConsoleError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
        }
        let key = SecretKey::load_or_create(&config.secret_key_file())?;
        let store = Store::open(&config.database_url()).await?;
        let policy = Arc::new(PolicyEngine::new(&config.policy())?);
        let identity = IdentityService::start(config, store.clone()).await?;
        let fleet = FleetStatus::default();
        tokio::spawn(poller::run(
            store.clone(),
            fleet.clone(),
            key.clone(),
            config.poller(),
        ));
        let audit = AuditLog::new(store.clone());
        let operations = Operations::new(store.clone(), key.clone(), identity.clone());
        operations.resume().await?;
        Ok(AppState {
            store,
            fleet,
            audit,
            operations,
            identity,
            policy,
            key,
            registry: Registry::default(),
            timeout: config.poll_timeout,
        })
    }

    fn view(&self, stored: StoredCluster) -> ClusterView {
        ClusterView {
            status: self.fleet.get(&stored.cluster.name),
            cluster: stored.cluster,
        }
    }

    /// Every registered cluster with its live status, shared: what the
    /// fleet page reads on every view.
    pub async fn cluster_views(&self) -> Result<Arc<Vec<ClusterView>>, ConsoleError> {
        match self.registry.lookup() {
            Lookup::Fresh(views) => Ok(views),
            Lookup::Stale { views, refresh } => {
                if refresh {
                    let this = self.clone();
                    let generation = self.registry.generation();
                    tokio::spawn(async move {
                        if let Err(error) = this.read_views(generation).await {
                            this.registry.refresh_failed();
                            tracing::warn!(%error, "cannot read the registered clusters");
                        }
                    });
                }
                Ok(views)
            }
            Lookup::Missing { generation } => self.read_views(generation).await,
        }
    }

    async fn read_views(&self, generation: u64) -> Result<Arc<Vec<ClusterView>>, ConsoleError> {
        let views: Arc<Vec<ClusterView>> = Arc::new(
            self.store
                .list_clusters()
                .await?
                .into_iter()
                .map(|c| self.view(c))
                .collect(),
        );
        self.registry.keep(generation, views.clone());
        Ok(views)
    }

    pub async fn list_clusters(&self) -> Result<Vec<ClusterView>, ConsoleError> {
        Ok(self.cluster_views().await?.to_vec())
    }

    pub async fn get_cluster(&self, name: &str) -> Result<ClusterView, ConsoleError> {
        let stored = self
            .store
            .get_cluster(name)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(name.to_string()))?;
        Ok(self.view(stored))
    }

    /// The cluster page's data: status, members, ring and jobs.
    pub async fn cluster_detail(&self, name: &str) -> Result<ClusterDetail, ConsoleError> {
        Ok(self.fleet.detail(self.get_cluster(name).await?))
    }

    /// What `change` would move on the cluster's ring as last polled: the
    /// same computation the cluster page runs in the browser.
    pub async fn ring_preview(
        &self,
        name: &str,
        change: &RingChange,
    ) -> Result<Preview, ConsoleError> {
        let detail = self.cluster_detail(name).await?;
        let invalid = |message: String| ringside_api::FieldError::new("change", message);
        let spec = detail.ring.ok_or_else(|| {
            invalid(format!(
                "cluster {name:?} has not reported its ring yet: expected a cluster that has been polled"
            ))
        })?;
        let ring = Ring::from_spec(spec).map_err(|e| invalid(e.to_string()))?;
        let held = |id: &str| {
            detail
                .workers
                .iter()
                .find(|w| w.heartbeat.id == id)
                .map_or(0, |w| w.heartbeat.used_bytes)
        };
        Ok(preview(&ring, change, held).map_err(|e| invalid(e.to_string()))?)
    }

    /// A cluster's properties with their values and sources, read from its
    /// coordinator now.
    pub async fn cluster_properties(
        &self,
        name: &str,
    ) -> Result<Vec<ringside_api::PropertyView>, ConsoleError> {
        let stored = self
            .store
            .get_cluster(name)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(name.to_string()))?;
        poller::fetch_properties(stored, &self.key, self.timeout)
            .await
            .map_err(|error| ConsoleError::Unreachable {
                cluster: name.to_string(),
                error,
            })
    }

    /// Compares the properties of `clusters` (every other cluster when
    /// none are named) with the `baseline` cluster's, fetched now.
    pub async fn drift(
        &self,
        baseline: &str,
        clusters: Option<Vec<String>>,
    ) -> Result<DriftReport, ConsoleError> {
        let all = self.store.list_clusters().await?;
        let find = |name: &str| {
            all.iter()
                .find(|c| c.cluster.name == name)
                .cloned()
                .ok_or_else(|| ConsoleError::NotFound(name.to_string()))
        };
        let base = find(baseline)?;
        let names: Vec<String> = match clusters {
            Some(names) => names,
            None => all
                .iter()
                .map(|c| c.cluster.name.clone())
                .filter(|n| n != baseline)
                .collect(),
        };
        let targets = names
            .iter()
            .map(|n| find(n))
            .collect::<Result<Vec<_>, _>>()?;
        let fetch = |c: StoredCluster| poller::fetch_properties(c, &self.key, self.timeout);
        let base_props = fetch(base).await.map_err(|error| {
            ringside_api::FieldError::new(
                "baseline",
                format!("cannot read the properties of {baseline:?}: {error}"),
            )
        })?;
        let fetched = futures::future::join_all(targets.into_iter().map(fetch)).await;
        let mut errors = Vec::new();
        let mut compared = Vec::new();
        let mut props = Vec::new();
        for (name, outcome) in names.into_iter().zip(fetched) {
            match outcome {
                Ok(list) => {
                    compared.push(name);
                    props.push(list);
                }
                Err(error) => errors.push((name, error)),
            }
        }
        Ok(DriftReport {
            baseline: baseline.to_string(),
            rows: ringside_api::drift::compare(&base_props, &props),
            clusters: compared,
            errors,
        })
    }

    /// A handle on every registered cluster's coordinator.
    pub async fn remotes(&self) -> Result<Vec<Remote>, ConsoleError> {
        let mut clients = Clients::default();
        Ok(self
            .store
            .list_clusters()
            .await?
            .into_iter()
            .map(|c| Remote::new(c, &self.key, &mut clients, self.timeout))
            .collect())
    }

    /// Registers a cluster as `actor`, audited as `cluster.register`
    /// whether it succeeds or is refused.
    pub async fn register_cluster(
        &self,
        actor: &Actor,
        new: NewCluster,
    ) -> Result<ClusterView, ConsoleError> {
        let record = Record::new(actor, action::CLUSTER_REGISTER)
            .target(new.name.clone())
            .detail(audit::new_cluster_detail(&new));
        let outcome = self.register(new).await;
        self.audited(record, &outcome).await;
        outcome
    }

    async fn register(&self, new: NewCluster) -> Result<ClusterView, ConsoleError> {
        let new = new.validate()?;
        check_certificate(new.ca_certificate.as_deref())?;
        let sealed = new
            .access_token
            .as_deref()
            .map(|token| self.key.seal(&new.name, token));
        let cluster = self.store.insert_cluster(&new, sealed).await?;
        self.registry.clear();
        tracing::info!(cluster = %cluster.name, url = %cluster.coordinator_url, "cluster registered");
        self.fleet.poll_now();
        Ok(ClusterView {
            status: self.fleet.get(&cluster.name),
            cluster,
        })
    }

    /// Edits a cluster as `actor`; it is polled again at once with its new
    /// settings. Audited as `cluster.update`, success or failure.
    pub async fn update_cluster(
        &self,
        actor: &Actor,
        name: &str,
        patch: ClusterPatch,
    ) -> Result<ClusterView, ConsoleError> {
        let record = Record::new(actor, action::CLUSTER_UPDATE)
            .target(name)
            .detail(audit::cluster_patch_detail(&patch));
        let outcome = self.update(name, patch).await;
        self.audited(record, &outcome).await;
        outcome
    }

    async fn update(&self, name: &str, patch: ClusterPatch) -> Result<ClusterView, ConsoleError> {
        let patch = patch.validate()?;
        check_certificate(patch.ca_certificate.as_deref().filter(|p| !p.is_empty()))?;
        let sealed = patch
            .access_token
            .as_deref()
            .map(|token| (!token.is_empty()).then(|| self.key.seal(name, token)));
        let stored = self
            .store
            .update_cluster(name, &patch, sealed)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(name.to_string()))?;
        self.registry.clear();
        tracing::info!(cluster = %name, "cluster updated");
        self.fleet.forget(name);
        self.fleet.poll_now();
        Ok(self.view(stored))
    }

    /// Forgets a cluster as `actor`, audited as `cluster.remove`.
    pub async fn remove_cluster(&self, actor: &Actor, name: &str) -> Result<(), ConsoleError> {
        let record = Record::new(actor, action::CLUSTER_REMOVE).target(name);
        let outcome = self.remove(name).await;
        self.audited(record, &outcome).await;
        outcome
    }

    async fn remove(&self, name: &str) -> Result<(), ConsoleError> {
        let removed = self.store.delete_cluster(name).await?;
        self.registry.clear();
        if !removed {
            return Err(ConsoleError::NotFound(name.to_string()));
        }
        self.store.forget_history(name).await?;
        self.fleet.forget(name);
        tracing::info!(cluster = %name, "cluster removed");
        Ok(())
    }

    /// Removes the OFFLINE entries of `name`'s member list (ring bloat) as
    /// `actor`, as `ringside process remove-worker` would one by one;
    /// answers the ids removed. The list is read from the coordinator now,
    /// so a worker that came back since the last poll stays. Audited as
    /// `cluster.remove_stale_workers`.
    pub async fn remove_stale_workers(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<Vec<String>, ConsoleError> {
        let outcome = self.remove_stale(actor, name).await;
        let record = Record::new(actor, action::CLUSTER_REMOVE_STALE_WORKERS).target(name);
        let record = match &outcome {
            Ok(ids) => record.detail(serde_json::json!({ "workers": ids })),
            Err(_) => record,
        };
        self.audited(record, &outcome).await;
        outcome
    }

    async fn remove_stale(&self, actor: &Actor, name: &str) -> Result<Vec<String>, ConsoleError> {
        let stored = self
            .store
            .get_cluster(name)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(name.to_string()))?;
        let unreachable = |error: String| ConsoleError::Unreachable {
            cluster: name.to_string(),
            error,
        };
        let remote = Remote::new(stored, &self.key, &mut Clients::default(), self.timeout)
            .acting_for(&self.identity, actor.name());
        let members: Vec<WorkerView> = remote.json("/workers").await.map_err(unreachable)?;
        let mut removed = Vec::new();
        for member in members.iter().filter(|m| m.state == WorkerState::Offline) {
            let id = &member.heartbeat.id;
            let path = format!(
                "{}/workers/{}",
                ringside_api::API_PREFIX,
                percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
            );
            let response = remote
                .request(reqwest::Method::DELETE, &path)
                .map_err(unreachable)?
                .send()
                .await
                .map_err(|e| unreachable(crate::remote::describe(e)))?;
            // Gone already (removed meanwhile): what was asked for.
            if !response.status().is_success()
                && response.status() != reqwest::StatusCode::NOT_FOUND
            {
                return Err(unreachable(format!(
                    "removing worker {id} answered {}",
                    response.status()
                )));
            }
            tracing::info!(cluster = %name, worker = %id, "stale OFFLINE worker removed");
            removed.push(id.clone());
        }
        self.fleet.poll_now();
        Ok(removed)
    }

    /// Appends `record` to the audit trail: what every change made through
    /// the console must do, success or failure, with the [`Actor`] the
    /// request acts as (`Actor::from_request`, or the `Actor` extractor in
    /// an axum handler). Build the [`Record`] before acting and finish it
    /// with [`Record::outcome`] (or [`Record::result`]):
    ///
    /// ```ignore
    /// let record = Record::new(&actor, "operation.create")
    ///     .targets(clusters.clone())
    ///     .detail(json!({"kind": "load", "path": path}));
    /// let outcome = self.create_operation(..).await;
    /// state.audit(record.outcome(&outcome)).await?;
    /// ```
    ///
    /// The detail is redacted on the way in (see [`audit::redact`]), but
    /// leave secrets out of it in the first place. An error here means the
    /// entry was not stored: the caller decides whether to go on unaudited
    /// (the cluster actions log it and answer as they would have; a step of
    /// a staged operation may rather halt).
    pub async fn audit(&self, record: Record) -> Result<AuditEntry, ConsoleError> {
        Ok(self.audit.record(record).await?)
    }

    /// Audits `record` as refused with `error`, and hands the error back:
    /// for input a door refuses before it reaches the action, such as a
    /// form field only the UI reads.
    pub async fn refused(&self, record: Record, error: ConsoleError) -> ConsoleError {
        self.keep_record(record.result(audit::result_of(&error)))
            .await;
        error
    }

    /// Records how an action ended; a failure to record is logged with
    /// the entry, and does not change what the caller is answered.
    pub(crate) async fn audited<T>(&self, record: Record, outcome: &Result<T, ConsoleError>) {
        self.keep_record(record.outcome(outcome)).await;
    }

    /// Records a finished entry, logging (not answering) a failure.
    pub(crate) async fn keep_record(&self, record: Record) {
        if let Err(error) = self.audit.record(record.clone()).await {
            tracing::error!(
                %error,
                actor = %record.actor,
                action = %record.action,
                targets = ?record.targets,
                result = record.result.code(),
                "the audit trail could not record a change"
            );
        }
    }

    /// A page of the audit trail, newest first.
    pub async fn audit_search(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<AuditPage, ConsoleError> {
        Ok(self.audit.search(filter, page).await?)
    }

    /// Every audit entry `filter` matches, oldest first, streamed from the
    /// store a batch at a time.
    pub fn audit_export(
        &self,
        filter: AuditFilter,
    ) -> impl Stream<Item = Result<AuditEntry, ConsoleError>> + Send + 'static {
        self.audit.export(filter).map_err(ConsoleError::from)
    }
}

/// The API crate only checks that a CA certificate looks like PEM; here it
/// is parsed the way the poller will use it, so a bad one is refused at
/// the door rather than failing every poll.
fn check_certificate(pem: Option<&str>) -> Result<(), ConsoleError> {
    if let Some(pem) = pem {
        let unusable = |e: reqwest::Error| {
            ringside_api::FieldError::new(
                "ca_certificate",
                format!("CA certificate cannot be read ({e}): expected a PEM X.509 certificate"),
            )
        };
        let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(unusable)?;
        reqwest::Client::builder()
            .add_root_certificate(cert)
            .build()
            .map_err(unusable)?;
    }
    Ok(())
}
