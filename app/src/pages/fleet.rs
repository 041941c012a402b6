//! The fleet page: every registered cluster and whether it is up, plus the
//! form that registers another.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::A;
use ringside_api::{ClusterView, cluster::format_labels};

use super::{StateBadge, refresh_ticker};
use crate::{
    error::UiError,
    format,
    server::{RegisterCluster, list_clusters},
};

#[component]
pub fn FleetPage() -> impl IntoView {
    let register = ServerAction::<RegisterCluster>::new();
    let tick = refresh_ticker();
    let clusters = Resource::new(
        move || (tick.get(), register.version().get()),
        |_| list_clusters(),
    );
    let filter = RwSignal::new(String::new());

    view! {
        <Title text="Fleet"/>
        <div class="mb-4 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold">"Fleet"</h1>
                <p class="text-sm text-slate-600">"Every registered cluster, polled continuously."</p>
            </div>
            <input
                type="search"
                data-testid="fleet-filter"
                placeholder="Filter by name, URL or label"
                class="w-72 rounded-md border border-slate-300 px-3 py-1.5 text-sm shadow-sm focus:border-sky-500 focus:outline-none"
                prop:value=move || filter.get()
                on:input=move |ev| filter.set(event_target_value(&ev))
            />
        </div>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading clusters…"</p> }>
            {move || Suspend::new(async move {
                match clusters.await {
                    Ok(list) => view! { <FleetTable clusters=list filter/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <RegisterForm action=register/>
    }
}

#[component]
fn FleetTable(clusters: Vec<ClusterView>, filter: RwSignal<String>) -> impl IntoView {
    if clusters.is_empty() {
        return view! {
            <p data-testid="fleet-empty" class="rounded-md border border-dashed border-slate-300 p-6 text-center text-slate-600">
                "No clusters registered yet. Register one below."
            </p>
        }
        .into_any();
    }
    let total = clusters.len();
    let haystacks: Vec<String> = clusters.iter().map(searchable).collect();
    let shown = {
        let haystacks = haystacks.clone();
        move || {
            let needle = filter.get().to_lowercase();
            haystacks
                .iter()
                .filter(|h| h.contains(needle.trim()))
                .count()
        }
    };
    let rows = clusters
        .into_iter()
        .zip(haystacks)
        .map(|(view, haystack)| {
            let hidden = move || !haystack.contains(filter.get().to_lowercase().trim());
            view! { <ClusterRow view hidden=Signal::derive(hidden)/> }
        })
        .collect_view();
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="fleet-table">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <th class="px-4 py-2">"Cluster"</th>
                        <th class="px-4 py-2">"Status"</th>
                        <th class="px-4 py-2">"Version"</th>
                        <th class="px-4 py-2">"Coordinator"</th>
                        <th class="px-4 py-2">"Labels"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{rows}</tbody>
            </table>
        </div>
        <p class="mt-2 text-xs text-slate-500" data-testid="fleet-count">
            {move || format!("{} of {total} clusters shown", shown())}
        </p>
    }
    .into_any()
}

#[component]
fn ClusterRow(view: ClusterView, hidden: Signal<bool>) -> impl IntoView {
    let ClusterView { cluster, status } = view;
    let href = format!("/clusters/{}", cluster.name);
    let detail = status.last_error.clone().unwrap_or_default();
    let name = cluster.name.clone();
    view! {
        <tr data-testid="cluster-row" data-cluster=name class:hidden=move || hidden.get()>
            <td class="px-4 py-2 font-medium">
                <A href=href attr:class="text-sky-700 hover:underline">{cluster.name}</A>
            </td>
            <td class="px-4 py-2" title=detail>
                <StateBadge state=status.state/>
                <span class="ml-2 text-xs text-slate-500">{format::status_line(&status)}</span>
            </td>
            <td class="px-4 py-2 font-mono text-xs">{status.version.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="px-4 py-2 font-mono text-xs">{cluster.coordinator_url.clone()}</td>
            <td class="px-4 py-2 text-xs text-slate-600">{format_labels(&cluster.labels)}</td>
        </tr>
    }
}

/// What a filter matches against: name, URL and labels.
fn searchable(view: &ClusterView) -> String {
    let c = &view.cluster;
    format!(
        "{} {} {}",
        c.name,
        c.coordinator_url,
        format_labels(&c.labels)
    )
    .to_lowercase()
}

#[component]
fn RegisterForm(action: ServerAction<RegisterCluster>) -> impl IntoView {
    let error = move || action.value().get().and_then(Result::err);
    let field_error =
        move |field: &'static str| Signal::derive(move || error().and_then(|e| e.for_field(field)));
    let general_error = move || {
        error()
            .filter(|e| !matches!(e, UiError::Field { .. }))
            .map(|e| e.to_string())
    };
    let registered = move || {
        action
            .value()
            .get()
            .and_then(Result::ok)
            .map(|v| format!("Registered {}.", v.cluster.name))
    };
    view! {
        <section class="mt-8 max-w-2xl rounded-lg border border-slate-200 bg-white p-5 shadow-sm">
            <h2 class="text-lg font-semibold">"Register a cluster"</h2>
            <ActionForm action=action attr:class="mt-3 space-y-3" attr:data-testid="register-form">
                <FormField label="Name" name="name" placeholder="eu-west-1" error=field_error("name")/>
                <FormField
                    label="Coordinator URL"
                    name="coordinator_url"
                    placeholder="http://10.0.0.5:19999"
                    error=field_error("coordinator_url")
                />
                <FormField label="Labels" name="labels" placeholder="region=eu, team=ml" error=field_error("labels")/>
                <div class="flex items-center gap-3">
                    <button
                        type="submit"
                        data-testid="register-submit"
                        class="rounded-md bg-sky-700 px-4 py-1.5 text-sm font-medium text-white hover:bg-sky-800 disabled:opacity-50"
                        prop:disabled=move || action.pending().get()
                    >
                        "Register"
                    </button>
                    <span data-testid="register-result" class="text-sm text-emerald-700">{registered}</span>
                    <span data-testid="register-error" class="text-sm text-rose-700">{general_error}</span>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn FormField(
    label: &'static str,
    name: &'static str,
    placeholder: &'static str,
    error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <label class="block">
            <span class="text-sm font-medium text-slate-700">{label}</span>
            <input
                type="text"
                name=name
                placeholder=placeholder
                class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm shadow-sm focus:border-sky-500 focus:outline-none"
                class=("border-rose-500", move || error.get().is_some())
            />
            <p data-testid=format!("error-{name}") class="mt-1 text-sm text-rose-700">{move || error.get()}</p>
        </label>
    }
}

#[component]
pub fn ErrorNote(error: UiError) -> impl IntoView {
    view! {
        <p data-testid="page-error" class="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
            {error.to_string()}
        </p>
    }
}
