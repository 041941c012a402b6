//! The fleet page: summary cards, every registered cluster in a table that
//! sorts, filters and pages in the browser, fleet-wide charts, and the form
//! that registers another cluster.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};
use ringside_api::{
    ClusterView, Health,
    cluster::format_labels,
    metrics::{ChartMetric, ChartRange},
};

use super::{Bar, Chart, HealthBadge, RangePicker, refresh_ticker};
use crate::{
    error::UiError,
    fleet_query::{FleetPage, FleetQuery, SortKey, Summary},
    format,
    server::{RegisterCluster, fleet_page},
};

#[component]
pub fn FleetPage() -> impl IntoView {
    let register = ServerAction::<RegisterCluster>::new();
    let tick = refresh_ticker();
    let query = use_query_map();
    // The address sets where the table starts; from then on the controls
    // own the state, so typing does not reload the page.
    let parsed = FleetQuery::parse(|k| query.read_untracked().get(k));
    let notices = parsed.notices.clone();
    let state = RwSignal::new(parsed);
    let fleet = Resource::new(
        move || (tick.get(), register.version().get(), state.get()),
        |(_, _, query)| fleet_page(query),
    );
    let range = RwSignal::new(ChartRange::Hour);

    view! {
        <Title text="Fleet"/>
        <div class="mb-4">
            <h1 class="text-2xl font-semibold">"Fleet"</h1>
            <p class="text-sm text-slate-600">"Every registered cluster, polled continuously."</p>
        </div>
        {(!notices.is_empty()).then(|| view! {
            <ul data-testid="query-notice" class="mb-4 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
                {notices.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
            </ul>
        })}
        // The filters stay outside the part each refresh draws anew, so
        // typing in them never loses focus.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                fleet.await.ok().map(|page| view! { <SummaryCards summary=page.summary/> })
            })}
        </Transition>
        <Filters state/>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading clusters…"</p> }>
            {move || Suspend::new(async move {
                match fleet.await {
                    Ok(page) => view! { <FleetTable page state/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <section class="mt-8">
            <div class="mb-2 flex items-center justify-between">
                <h2 class="text-lg font-semibold">"Fleet history"</h2>
                <RangePicker range/>
            </div>
            <div class="grid grid-cols-1 gap-4 lg:grid-cols-2">
                {ChartMetric::ALL
                    .into_iter()
                    .map(|metric| view! { <Chart cluster=None metric range=range.into() tick/> })
                    .collect_view()}
            </div>
        </section>
        <RegisterForm action=register/>
    }
}

#[component]
fn SummaryCards(summary: Summary) -> impl IntoView {
    let s = summary;
    let by_health = Health::ALL
        .into_iter()
        .map(|h| {
            let n = s.by_health.iter().find(|(k, _)| *k == h).map_or(0, |(_, n)| *n);
            view! {
                <span class="mr-3 inline-flex items-center gap-1" data-testid=format!("summary-{}", h.label())>
                    <HealthBadge health=h/>
                    <span class="font-semibold">{n}</span>
                </span>
            }
        })
        .collect_view();
    view! {
        <div class="mb-6 grid grid-cols-1 gap-4 md:grid-cols-3 xl:grid-cols-5" data-testid="summary">
            <Card title="Clusters by health">
                <div class="mt-1 text-sm">{by_health}</div>
            </Card>
            <Card title="Cache capacity">
                <p class="text-xl font-semibold" data-testid="summary-capacity">
                    {format::bytes(s.used_bytes)} " of " {format::bytes(s.capacity_bytes)}
                </p>
                <Bar fraction=format::fraction(s.used_bytes, s.capacity_bytes)/>
            </Card>
            <Card title="Fleet hit ratio (last poll)">
                <p class="text-xl font-semibold" data-testid="summary-hit-ratio">{format::percent(s.hit_ratio)}</p>
            </Card>
            <Card title="Running jobs">
                <p class="text-xl font-semibold" data-testid="summary-jobs">{s.running_jobs}</p>
            </Card>
            <Card title="Licenses expiring">
                <a href="/licenses" class="text-xl font-semibold hover:underline" class=("text-amber-700", s.licenses_expiring > 0) data-testid="summary-licenses">
                    {s.licenses_expiring}
                </a>
            </Card>
        </div>
    }
}

#[component]
fn Card(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <h3 class="text-xs font-semibold uppercase tracking-wide text-slate-500">{title}</h3>
            {children()}
        </div>
    }
}

#[component]
fn Filters(state: RwSignal<FleetQuery>) -> impl IntoView {
    view! {
        <div class="mb-3 flex flex-wrap items-end gap-3">
            <input
                type="search"
                data-testid="fleet-filter"
                placeholder="Filter by name, URL, region or label"
                class="w-72 rounded-md border border-slate-300 px-3 py-1.5 text-sm shadow-sm focus:border-sky-500 focus:outline-none"
                prop:value=move || state.read().text.clone()
                on:input=move |ev| state.update(|s| { s.text = event_target_value(&ev); s.page = 0; })
            />
            <input
                type="text"
                data-testid="fleet-label"
                placeholder="label: key=value"
                class="w-48 rounded-md border border-slate-300 px-3 py-1.5 text-sm shadow-sm focus:border-sky-500 focus:outline-none"
                prop:value=move || state.read().label_text()
                on:input=move |ev| state.update(|s| { s.set_label(&event_target_value(&ev)); s.page = 0; })
            />
            <select
                data-testid="fleet-health"
                class="rounded-md border border-slate-300 px-2 py-1.5 text-sm shadow-sm"
                on:change=move |ev| state.update(|s| { s.health = Health::parse(&event_target_value(&ev)); s.page = 0; })
            >
                <option value="" selected=move || state.read().health.is_none()>"any health"</option>
                {Health::ALL
                    .into_iter()
                    .map(|h| view! {
                        <option value=h.label() selected=move || state.read().health == Some(h)>{h.label()}</option>
                    })
                    .collect_view()}
            </select>
        </div>
    }
}

#[component]
fn FleetTable(page: FleetPage, state: RwSignal<FleetQuery>) -> impl IntoView {
    if page.total == 0 {
        return view! {
            <p data-testid="fleet-empty" class="rounded-md border border-dashed border-slate-300 p-6 text-center text-slate-600">
                "No clusters registered yet. Register one below."
            </p>
        }
        .into_any();
    }
    let FleetPage {
        rows,
        total,
        shown,
        page,
        pages,
        ..
    } = page;
    let rows = rows
        .into_iter()
        .map(|view| view! { <ClusterRow view/> })
        .collect_view();
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="fleet-table">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <SortHeader state key=SortKey::Name label="Cluster"/>
                        <SortHeader state key=SortKey::Region label="Region"/>
                        <th class="px-3 py-2">"Labels"</th>
                        <SortHeader state key=SortKey::Health label="Health"/>
                        <SortHeader state key=SortKey::Version label="Version"/>
                        <SortHeader state key=SortKey::Workers label="Workers"/>
                        <SortHeader state key=SortKey::Used label="Cache used"/>
                        <SortHeader state key=SortKey::HitRatio label="Hit ratio"/>
                        <SortHeader state key=SortKey::Jobs label="Jobs"/>
                        <th class="px-3 py-2">"License"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{rows}</tbody>
            </table>
        </div>
        <div class="mt-2 flex items-center justify-between text-xs text-slate-500">
            <p data-testid="fleet-count">{format!("{shown} of {total} clusters shown")}</p>
            <div class="flex items-center gap-2" data-testid="fleet-pages">
                <button
                    type="button"
                    class="rounded border border-slate-300 px-2 py-0.5 disabled:opacity-40"
                    disabled={page == 0}
                    on:click=move |_| state.update(|s| s.page = page.saturating_sub(1))
                >"‹ Prev"</button>
                <span data-testid="fleet-page">{format!("page {} of {pages}", page + 1)}</span>
                <button
                    type="button"
                    class="rounded border border-slate-300 px-2 py-0.5 disabled:opacity-40"
                    disabled={page + 1 >= pages}
                    on:click=move |_| state.update(|s| s.page = (page + 1).min(pages - 1))
                >"Next ›"</button>
            </div>
        </div>
    }
    .into_any()
}

/// A column header that sorts by its column; a second click reverses.
#[component]
fn SortHeader(state: RwSignal<FleetQuery>, key: SortKey, label: &'static str) -> impl IntoView {
    let arrow = move || {
        let s = state.read();
        match (s.sort == key, s.descending) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        }
    };
    view! {
        <th class="px-3 py-2">
            <button
                type="button"
                data-testid=format!("sort-{}", key.key())
                class="uppercase tracking-wide hover:text-slate-900"
                on:click=move |_| state.update(|s| s.sort_by(key))
            >
                {label}{arrow}
            </button>
        </th>
    }
}

#[component]
fn ClusterRow(view: ClusterView) -> impl IntoView {
    let ClusterView { cluster, status } = view;
    let href = format!("/clusters/{}", cluster.name);
    let detail = status
        .last_error
        .clone()
        .unwrap_or_else(|| status.reasons.join("; "));
    let reasons = status.reasons.join("; ");
    let used = format::fraction(status.used_bytes, status.capacity_bytes);
    let name = cluster.name.clone();
    view! {
        <tr data-testid="cluster-row" data-cluster=cluster.name.clone()>
            <td class="px-3 py-2 font-medium">
                <A href=href attr:class="text-sky-700 hover:underline">{name}</A>
            </td>
            <td class="px-3 py-2 text-xs">{if cluster.region.is_empty() { "—".to_string() } else { cluster.region.clone() }}</td>
            <td class="px-3 py-2 text-xs text-slate-600">{format_labels(&cluster.labels)}</td>
            <td class="px-3 py-2" title=detail>
                <HealthBadge health=status.health/>
                <p class="mt-0.5 max-w-xs truncate text-xs text-slate-500" data-testid="cluster-reasons">{reasons}</p>
            </td>
            <td class="px-3 py-2 font-mono text-xs">{status.version.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="px-3 py-2 text-xs" data-testid="cluster-workers">{format!("{}/{}", status.workers_online, status.workers_total)}</td>
            <td class="px-3 py-2 text-xs">
                <div class="w-32">
                    <Bar fraction=used/>
                    <span class="text-slate-600">{format!("{} / {}", format::bytes(status.used_bytes), format::bytes(status.capacity_bytes))}</span>
                </div>
            </td>
            <td class="px-3 py-2 text-xs" data-testid="cluster-hit-ratio">{format::percent(status.hit_ratio)}</td>
            <td class="px-3 py-2 text-xs">{status.running_jobs}</td>
            <td class="px-3 py-2 text-xs" data-testid="cluster-license">
                <A href="/licenses" attr:class="hover:underline">{format::license(status.license.as_ref())}</A>
            </td>
        </tr>
    }
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
                <FormField label="Region" name="region" placeholder="eu-west-1" error=field_error("region")/>
                <FormField label="Labels" name="labels" placeholder="env=prod, team=ml" error=field_error("labels")/>
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
