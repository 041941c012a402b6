//! A cluster's page: what the console knows about one cluster.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ringside_api::{ClusterView, cluster::format_labels};

use super::{StateBadge, fleet::ErrorNote, not_found::NotFound, refresh_ticker};
use crate::{error::UiError, format, server::get_cluster};

#[component]
pub fn ClusterPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let tick = refresh_ticker();
    let cluster = Resource::new(move || (name(), tick.get()), |(name, _)| get_cluster(name));
    view! {
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match cluster.await {
                    Ok(view) => view! { <ClusterDetails view/> }.into_any(),
                    Err(UiError::NotFound(_)) => view! { <NotFound/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ClusterDetails(view: ClusterView) -> impl IntoView {
    let ClusterView { cluster, status } = view;
    let rows: Vec<(&'static str, String)> = vec![
        ("Coordinator", cluster.coordinator_url.clone()),
        (
            "Version",
            status.version.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "Cluster id",
            status.cluster_id.clone().unwrap_or_else(|| "—".into()),
        ),
        ("Labels", format_labels(&cluster.labels)),
        (
            "Last checked",
            status
                .checked_at
                .as_ref()
                .map(format::time)
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "Last error",
            status.last_error.clone().unwrap_or_else(|| "—".into()),
        ),
        ("Registered", format::time(&cluster.created_at)),
    ];
    view! {
        <Title text=cluster.name.clone()/>
        <div class="mb-4 flex items-center gap-3">
            <h1 class="text-2xl font-semibold" data-testid="cluster-name">{cluster.name.clone()}</h1>
            <StateBadge state=status.state/>
            <span class="text-sm text-slate-500">{format::status_line(&status)}</span>
        </div>
        <dl class="grid max-w-3xl grid-cols-[10rem_1fr] gap-x-4 gap-y-2 rounded-lg border border-slate-200 bg-white p-5 text-sm shadow-sm">
            {rows
                .into_iter()
                .map(|(k, v)| view! {
                    <dt class="font-medium text-slate-600">{k}</dt>
                    <dd class="font-mono text-xs leading-5">{v}</dd>
                })
                .collect_view()}
        </dl>
    }
}
