//! Server functions: the calls the pages make to the console. Each is a thin
//! door onto the same `AppState` operation the REST API uses.

use leptos::prelude::*;
use ringside_api::{
    ClusterDetail, ClusterView,
    audit::{AuditPage, AuditQuery},
    metrics::{ChartMetric, ChartRange},
};

use crate::error::UiError;

pub mod access;
pub mod licenses;
pub mod operations;

#[cfg(feature = "ssr")]
fn state() -> Result<ringside_console::AppState, UiError> {
    use_context::<ringside_console::AppState>()
        .ok_or_else(|| UiError::Server("console state is not available".into()))
}

/// Who the request acts as: the one rule, `Actor::from_request`, applied
/// to the request this server function serves.
#[cfg(feature = "ssr")]
fn actor() -> Result<ringside_console::Actor, UiError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| ringside_console::Actor::from_request(&parts))
        .ok_or_else(|| UiError::Unauthenticated("not logged in".into()))
}

#[server(endpoint = "ui/list_clusters")]
pub async fn list_clusters() -> Result<Vec<ClusterView>, UiError> {
    Ok(state()?.list_clusters().await?)
}

/// Config drift against `baseline`, over every other cluster.
#[server(endpoint = "ui/config_drift")]
pub async fn config_drift(baseline: String) -> Result<ringside_api::drift::DriftReport, UiError> {
    Ok(state()?.drift(&baseline, None).await?)
}

/// One page of the fleet table, filtered and sorted on the server.
#[server(endpoint = "ui/fleet_page")]
pub async fn fleet_page(
    query: crate::fleet_query::FleetQuery,
) -> Result<crate::fleet_query::FleetPage, UiError> {
    Ok(query.page_of(&state()?.cluster_views().await?))
}

/// A cluster's properties, read from its coordinator now.
#[server(endpoint = "ui/cluster_properties")]
pub async fn cluster_properties(name: String) -> Result<Vec<ringside_api::PropertyView>, UiError> {
    Ok(state()?.cluster_properties(&name).await?)
}

#[server(endpoint = "ui/get_cluster")]
pub async fn get_cluster(name: String) -> Result<ClusterDetail, UiError> {
    Ok(state()?.cluster_detail(&name).await?)
}

/// Removes the cluster's OFFLINE member entries (ring bloat); the ids removed.
#[server(endpoint = "ui/remove_stale_workers")]
pub async fn remove_stale_workers(name: String) -> Result<Vec<String>, UiError> {
    Ok(state()?.remove_stale_workers(&actor()?, &name).await?)
}

#[server(endpoint = "ui/register_cluster")]
pub async fn register_cluster(
    name: String,
    coordinator_url: String,
    region: String,
    labels: String,
) -> Result<ClusterView, UiError> {
    use ringside_console::audit::{self, Record};
    let (state, actor) = (state()?, actor()?);
    let mut new = ringside_api::NewCluster {
        name: name.trim().to_string(),
        coordinator_url,
        region,
        ..Default::default()
    };
    new.labels = match ringside_api::cluster::parse_labels(&labels) {
        Ok(labels) => labels,
        Err(e) => {
            // Refused before the console's own checks: audited here.
            let record = Record::new(&actor, ringside_api::audit::action::CLUSTER_REGISTER)
                .target(new.name.clone())
                .detail(audit::new_cluster_detail(&new));
            return Err(state.refused(record, e.into()).await.into());
        }
    };
    Ok(state.register_cluster(&actor, new).await?)
}

/// A page of the audit trail, newest first.
#[server(endpoint = "ui/search_audit")]
pub async fn search_audit(
    // Blank filters send no field at all.
    #[server(default)] query: AuditQuery,
) -> Result<AuditPage, UiError> {
    let field = |e: ringside_api::FieldError| UiError::Field {
        field: e.field,
        message: e.message,
    };
    let filter = query.filter().map_err(field)?;
    let page = query.page().map_err(field)?;
    Ok(state()?.audit_search(&filter, page).await?)
}

/// A chart of the cluster's history (the fleet's when `cluster` is none),
/// drawn as SVG.
#[server(endpoint = "ui/chart")]
pub async fn chart(
    cluster: Option<String>,
    metric: ChartMetric,
    range: ChartRange,
) -> Result<String, UiError> {
    Ok(state()?.chart(cluster.as_deref(), metric, range).await?)
}
