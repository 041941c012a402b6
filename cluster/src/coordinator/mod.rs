//! The coordinator daemon: opens the metastore, resumes its jobs, then
//! serves the cluster's HTTP API until asked to stop.

mod api;
pub mod idempotency;
pub mod jobs;
pub mod license;
pub mod lifecycle;
mod metrics;
pub mod properties;
pub mod tenants;

use std::{future::Future, net::SocketAddr};

use chrono::Utc;
use ringside_api::{
    ClusterInfo,
    lifecycle::{Component, ProcessView},
};
use ringside_config::SiteConfig;

use crate::{
    membership::{Membership, MembershipError},
    metastore::{Metastore, MetastoreError},
};

pub use api::openapi;

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error(transparent)]
    Metastore(#[from] MetastoreError),
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error("jobs: {0}")]
    Jobs(#[from] jobs::JobError),
    #[error("idempotency keys in the metastore: {0}")]
    Idempotency(sqlx::Error),
    #[error("pushed properties in the metastore: {0}")]
    Properties(sqlx::Error),
    #[error(transparent)]
    License(#[from] license::LicenseStartError),
    #[error("lifecycle: {0}")]
    Lifecycle(#[from] lifecycle::LifecycleError),
    #[error("cannot build the client tenant policies are pushed with: {0}")]
    TenantClient(reqwest::Error),
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("serving the coordinator API failed: {0}")]
    Serve(std::io::Error),
}

/// What the coordinator's handlers share.
#[derive(Clone, Debug)]
pub struct CoordinatorState {
    pub info: ClusterInfo,
    pub membership: Membership,
    pub jobs: jobs::JobService,
    pub metrics: metrics::CoordinatorMetrics,
    pub idempotency: idempotency::Idempotency,
    pub license: license::LicenseService,
    /// The configuration it runs with: the site file's plus pushed values.
    pub properties: properties::PropertyService,
    pub lifecycle: lifecycle::LifecycleService,
    pub tenants: tenants::TenantService,
    /// Who may make control calls.
    pub guard: crate::security::Guard,
}

/// A coordinator bound to its port, ready to serve.
pub struct Coordinator {
    listener: tokio::net::TcpListener,
    state: CoordinatorState,
    added_latency: std::time::Duration,
}

impl Coordinator {
    /// Opens the metastore and binds the API port; a failure here stops the
    /// daemon before it claims to be up.
    pub async fn bind(site: &SiteConfig) -> Result<Coordinator, CoordinatorError> {
        let metastore = Metastore::open(&site.coordinator().metastore_dir)?;
        let database = metastore.database().await?;
        // The site file with the values pushed before the last stop on top.
        let properties = properties::PropertyService::open(database.clone(), site.clone())
            .await
            .map_err(CoordinatorError::Properties)?;
        let config = &properties.current();
        let guard = crate::security::Guard::load(
            &config.security,
            &config.cluster_name,
            crate::security::Role::Coordinator,
        )?;
        let membership = Membership::open(database.clone(), properties.subscribe()).await?;
        let metrics = metrics::CoordinatorMetrics::new();
        let idempotency = idempotency::Idempotency::open(database.clone(), &metrics.registry)
            .await
            .map_err(CoordinatorError::Idempotency)?;
        let license =
            license::LicenseService::open(database.clone(), config, &metrics.registry).await?;
        let jobs = jobs::JobService::start(
            database.clone(),
            membership.clone(),
            properties.subscribe(),
            guard.client_headers(),
        )
        .await?;
        let addr = format!("{}:{}", config.bind_host, config.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| CoordinatorError::Bind { addr, source })?;
        let info = ClusterInfo {
            name: config.cluster_name.clone(),
            id: metastore.identity().cluster_id.clone(),
            version: crate::VERSION.to_string(),
            started_at: Utc::now(),
        };
        let tenants = tenants::TenantService::new(
            database.clone(),
            membership.clone(),
            guard.client_headers(),
        )
        .map_err(CoordinatorError::TenantClient)?;
        let lifecycle = lifecycle::LifecycleService::open(
            database,
            membership.clone(),
            ProcessView {
                component: Component::Coordinator,
                id: "coordinator".into(),
                address: format!("http://{}:{}", config.hostname, config.port),
                version: info.version.clone(),
                state: ringside_api::WorkerState::Online,
            },
            guard.client_headers(),
        )
        .await?;
        Ok(Coordinator {
            listener,
            state: CoordinatorState {
                info,
                membership,
                jobs,
                metrics,
                idempotency,
                license,
                properties,
                lifecycle,
                tenants,
                guard,
            },
            added_latency: std::time::Duration::ZERO,
        })
    }

    /// Delays every answer by `latency`, after the request is carried out:
    /// the fleet simulator's stand-in for coordinators far away.
    pub fn with_added_latency(mut self, latency: std::time::Duration) -> Coordinator {
        self.added_latency = latency;
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), CoordinatorError> {
        let addr = self.local_addr().map_err(CoordinatorError::Serve)?;
        tracing::info!(
            cluster = %self.state.info.name,
            cluster_id = %self.state.info.id,
            %addr,
            version = crate::VERSION,
            "coordinator listening"
        );
        tokio::spawn(self.state.membership.clone().watch());
        tokio::spawn(self.state.idempotency.clone().prune_forever());
        tokio::spawn(self.state.license.clone().watch());
        let mut router = api::router(self.state);
        let latency = self.added_latency;
        if !latency.is_zero() {
            router = router.layer(axum::middleware::from_fn(
                // After the work, before the answer: a client that gives up
                // waiting has had its request carried out, as with a
                // coordinator far away.
                move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                    let response = next.run(request).await;
                    tokio::time::sleep(latency).await;
                    response
                },
            ));
        }
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(CoordinatorError::Serve)
    }
}
