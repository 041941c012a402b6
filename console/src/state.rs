//! The console's shared state and the operations on it. The REST API and the
//! UI's server functions both call these, so there is one code path per
//! action, whichever door a request came through.

use ringside_api::{ClusterView, NewCluster};

use crate::{
    ConsoleConfig, ConsoleError,
    poller::{self, FleetStatus},
    store::Store,
};

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub fleet: FleetStatus,
}

impl AppState {
    /// Opens the store and starts the poller.
    pub async fn start(config: &ConsoleConfig) -> Result<AppState, ConsoleError> {
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| ConsoleError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
        }
        let store = Store::open(&config.database_url()).await?;
        let fleet = FleetStatus::default();
        tokio::spawn(poller::run(store.clone(), fleet.clone(), config.poller()));
        Ok(AppState { store, fleet })
    }

    pub async fn list_clusters(&self) -> Result<Vec<ClusterView>, ConsoleError> {
        Ok(self
            .store
            .list_clusters()
            .await?
            .into_iter()
            .map(|cluster| ClusterView {
                status: self.fleet.get(&cluster.name),
                cluster,
            })
            .collect())
    }

    pub async fn get_cluster(&self, name: &str) -> Result<ClusterView, ConsoleError> {
        let cluster = self
            .store
            .get_cluster(name)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(name.to_string()))?;
        Ok(ClusterView {
            status: self.fleet.get(name),
            cluster,
        })
    }

    pub async fn register_cluster(&self, new: NewCluster) -> Result<ClusterView, ConsoleError> {
        let new = new.validate()?;
        let cluster = self.store.insert_cluster(&new).await?;
        tracing::info!(cluster = %cluster.name, url = %cluster.coordinator_url, "cluster registered");
        self.fleet.poll_now();
        Ok(ClusterView {
            status: self.fleet.get(&cluster.name),
            cluster,
        })
    }

    pub async fn remove_cluster(&self, name: &str) -> Result<(), ConsoleError> {
        if !self.store.delete_cluster(name).await? {
            return Err(ConsoleError::NotFound(name.to_string()));
        }
        self.fleet.forget(name);
        tracing::info!(cluster = %name, "cluster removed");
        Ok(())
    }
}
