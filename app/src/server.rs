//! Server functions: the calls the pages make to the console. Each is a thin
//! door onto the same `AppState` operation the REST API uses.

use leptos::prelude::*;
use ringside_api::{
    ClusterDetail, ClusterView,
    metrics::{ChartMetric, ChartRange},
};

use crate::error::UiError;

#[cfg(feature = "ssr")]
fn state() -> Result<ringside_console::AppState, UiError> {
    use_context::<ringside_console::AppState>()
        .ok_or_else(|| UiError::Server("console state is not available".into()))
}

#[server]
pub async fn list_clusters() -> Result<Vec<ClusterView>, UiError> {
    Ok(state()?.list_clusters().await?)
}

/// Config drift against `baseline`, over every other cluster.
#[server]
pub async fn config_drift(baseline: String) -> Result<ringside_api::drift::DriftReport, UiError> {
    Ok(state()?.drift(&baseline, None).await?)
}

/// One page of the fleet table, filtered and sorted on the server.
#[server]
pub async fn fleet_page(
    query: crate::fleet_query::FleetQuery,
) -> Result<crate::fleet_query::FleetPage, UiError> {
    Ok(query.page_of(&state()?.list_clusters().await?))
}

#[server]
pub async fn get_cluster(name: String) -> Result<ClusterDetail, UiError> {
    Ok(state()?.cluster_detail(&name).await?)
}

#[server]
pub async fn register_cluster(
    name: String,
    coordinator_url: String,
    region: String,
    labels: String,
) -> Result<ClusterView, UiError> {
    let labels = ringside_api::cluster::parse_labels(&labels).map_err(|e| UiError::Field {
        field: e.field,
        message: e.message,
    })?;
    let new = ringside_api::NewCluster {
        name: name.trim().to_string(),
        coordinator_url,
        region,
        labels,
        ..Default::default()
    };
    Ok(state()?.register_cluster(new).await?)
}

/// A chart of the cluster's history (the fleet's when `cluster` is none),
/// drawn as SVG.
#[server]
pub async fn chart(
    cluster: Option<String>,
    metric: ChartMetric,
    range: ChartRange,
) -> Result<String, UiError> {
    Ok(state()?.chart(cluster.as_deref(), metric, range).await?)
}
