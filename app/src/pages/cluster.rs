//! A cluster's page: its health and why, its workers, its ring, its jobs
//! and its charts, as the console last polled them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ringside_api::{
    ClusterDetail, WorkerState, WorkerView,
    cluster::format_labels,
    job::{JobState, JobView},
    lifecycle::{LifecycleStatus, Phase},
    metrics::{ChartMetric, ChartRange},
};
use ringside_ring::{
    MAX_PREVIEW_ADD, Policy, Preview, Ring, RingChange, RingConfig, RingSpec, preview,
};

use super::{
    Bar, Chart, DataTable, HealthBadge, RangePicker, fleet::ErrorNote, not_found::NotFound,
    refresh_ticker,
};
use crate::{
    error::UiError,
    format,
    server::{get_cluster, remove_stale_workers},
};

#[component]
pub fn ClusterPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let tick = refresh_ticker();
    let cluster = Resource::new(move || (name(), tick.get()), |(name, _)| get_cluster(name));
    let range = RwSignal::new(ChartRange::Hour);
    // What the page keeps across refreshes lives here, outside the part
    // that is drawn anew with each poll: the preview's inputs, the charts.
    let inputs = PreviewInputs::new();
    let found = move || !matches!(cluster.get(), Some(Err(UiError::NotFound(_))));
    view! {
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match cluster.await {
                    Ok(detail) => view! { <ClusterDetails detail inputs/> }.into_any(),
                    Err(UiError::NotFound(_)) => view! { <NotFound/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <Show when=found>
            <RingPreview inputs cluster/>
            <Properties name=name()/>
            <section class="mt-8">
                <div class="mb-2 flex items-center justify-between">
                    <h2 class="text-lg font-semibold">"History"</h2>
                    <RangePicker range/>
                </div>
                <div class="grid grid-cols-1 gap-4 lg:grid-cols-2">
                    {ChartMetric::ALL
                        .into_iter()
                        .map(|metric| view! { <Chart cluster=Some(name()) metric range=range.into() tick/> })
                        .collect_view()}
                </div>
            </section>
        </Show>
    }
}

#[component]
fn ClusterDetails(detail: ClusterDetail, inputs: PreviewInputs) -> impl IntoView {
    let ClusterDetail {
        view,
        workers,
        ring,
        jobs,
        lifecycle,
    } = detail;
    let (cluster, status) = (view.cluster, view.status);
    let rows: Vec<(&'static str, String)> = vec![
        ("Coordinator", cluster.coordinator_url.clone()),
        ("Region", cluster.region.clone()),
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
            "Access token",
            if cluster.has_access_token {
                "set (never shown)"
            } else {
                "none"
            }
            .into(),
        ),
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
        ("License", format::license(status.license.as_ref())),
        ("Registered", format::time(&cluster.created_at)),
    ];
    view! {
        <Title text=cluster.name.clone()/>
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold" data-testid="cluster-name">{cluster.name.clone()}</h1>
            <HealthBadge health=status.health/>
            <span class="text-sm text-slate-500">{format::status_line(&status)}</span>
        </div>
        {(!status.reasons.is_empty()).then(|| view! {
            <ul data-testid="cluster-reasons" class="mb-4 list-disc rounded-md border border-amber-200 bg-amber-50 py-2 pl-8 pr-3 text-sm text-amber-900">
                {status.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}
            </ul>
        })}
        <div class="grid grid-cols-1 gap-6 xl:grid-cols-3">
            <dl class="grid grid-cols-[8rem_1fr] content-start gap-x-4 gap-y-2 rounded-lg border border-slate-200 bg-white p-5 text-sm shadow-sm">
                {rows
                    .into_iter()
                    .map(|(k, v)| view! {
                        <dt class="font-medium text-slate-600">{k}</dt>
                        <dd class="break-all font-mono text-xs leading-5">{v}</dd>
                    })
                    .collect_view()}
            </dl>
            <div class="xl:col-span-2">
                <Workers workers=workers.clone()/>
            </div>
        </div>
        {lifecycle.map(|lifecycle| view! { <Lifecycle name=cluster.name.clone() lifecycle/> })}
        <div class="mt-6 grid grid-cols-1 gap-6 xl:grid-cols-3">
            <RingShares ring workers inputs/>
            <div class="xl:col-span-2">
                <Jobs jobs/>
            </div>
        </div>
    }
}

fn phase_class(phase: Phase) -> &'static str {
    match phase {
        Phase::Ready => "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
        Phase::Updating => "bg-sky-50 text-sky-800 ring-sky-600/30",
        Phase::Degraded => "bg-amber-50 text-amber-800 ring-amber-600/30",
    }
}

/// The lifecycle: phase, what was applied, the restart rolling, every
/// process with its version, and stale OFFLINE entries with their cleanup.
#[component]
fn Lifecycle(name: String, lifecycle: LifecycleStatus) -> impl IntoView {
    let LifecycleStatus {
        phase,
        reasons,
        desired,
        processes,
        stale_offline,
        restart,
    } = lifecycle;
    let cleanup = Action::new(|name: &String| remove_stale_workers(name.clone()));
    let applied = desired.map(|d| {
        format!(
            "applied: version {}, {} workers, restarts {} at a time",
            d.version, d.workers, d.max_unavailable
        )
    });
    let restart = restart.map(|r| {
        let text = match (&r.error, r.running()) {
            (Some(error), _) => format!("{} stopped: {error}", r.reason),
            (None, true) => format!(
                "{}: {} of {} {}s, batch {} of {} ({})",
                r.reason, r.restarted, r.total, r.component, r.batch, r.batches, r.driver
            ),
            (None, false) => format!("{} of {} {}s done", r.reason, r.total, r.component),
        };
        view! {
            <div class="mb-3 text-xs text-slate-700" data-testid="restart-progress">
                <Bar fraction=format::fraction(r.restarted.into(), r.total.into())/>
                <span>{text}</span>
            </div>
        }
    });
    let stale = (!stale_offline.is_empty()).then(|| {
        let count = stale_offline.len();
        view! {
            <div class="mt-3 flex flex-wrap items-center gap-3 rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="stale-workers">
                <span>{format!("{count} stale OFFLINE entries in the ring (ring bloat): {}", stale_offline.join(", "))}</span>
                <button
                    class="rounded-md bg-amber-700 px-3 py-1 text-xs font-medium text-white hover:bg-amber-800"
                    data-testid="remove-stale"
                    on:click=move |_| { cleanup.dispatch(name.clone()); }
                >"Remove stale entries"</button>
                {move || cleanup.value().get().map(|outcome| match outcome {
                    Ok(ids) => view! { <span data-testid="stale-removed">{format!("removed {}", ids.len())}</span> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                })}
            </div>
        }
    });
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="lifecycle">
            <div class="mb-2 flex flex-wrap items-center gap-3">
                <h2 class="text-lg font-semibold">"Lifecycle"</h2>
                <span
                    data-testid="lifecycle-phase"
                    class=format!("inline-flex items-center rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", phase_class(phase))
                >{phase.as_str()}</span>
                <span class="text-xs text-slate-500">{applied}</span>
            </div>
            {(!reasons.is_empty()).then(|| view! {
                <ul class="mb-3 list-disc pl-6 text-xs text-slate-700">
                    {reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
                </ul>
            })}
            {restart}
            <DataTable headers=&["Process", "Id", "Version", "State"] testid="process-table">
                {processes.into_iter().map(|p| view! {
                    <tr data-testid="process-row">
                        <td class="px-3 py-1.5 text-xs">{p.component.as_str()}</td>
                        <td class="px-3 py-1.5 font-mono text-xs" title=p.address>{p.id}</td>
                        <td class="px-3 py-1.5 font-mono text-xs">{p.version}</td>
                        <td class="px-3 py-1.5 text-xs">{p.state.as_str()}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
            {stale}
        </section>
    }
}

#[component]
fn Section(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <h2 class="mb-2 text-lg font-semibold">{title}</h2>
            {children()}
        </section>
    }
}

#[component]
fn Workers(workers: Vec<WorkerView>) -> impl IntoView {
    if workers.is_empty() {
        return view! {
            <Section title="Workers">
                <p class="text-sm text-slate-600" data-testid="workers-empty">"No workers have joined this cluster."</p>
            </Section>
        }
        .into_any();
    }
    let rows = workers
        .into_iter()
        .map(|w| {
            let hb = &w.heartbeat;
            let online = w.state == WorkerState::Online;
            view! {
                <tr data-testid="worker-row" data-worker=hb.id.clone()>
                    <td class="px-3 py-1.5 font-mono text-xs" title=hb.address.clone()>{hb.id.clone()}</td>
                    <td class="px-3 py-1.5 text-xs">
                        <span class=if online { "text-emerald-700" } else { "font-semibold text-rose-700" }>{w.state.as_str()}</span>
                    </td>
                    <td class="px-3 py-1.5 text-xs">
                        <div class="w-40">
                            <Bar fraction=format::fraction(hb.used_bytes, hb.capacity_bytes)/>
                            <span class="text-slate-600">{format!("{} / {}", format::bytes(hb.used_bytes), format::bytes(hb.capacity_bytes))}</span>
                        </div>
                    </td>
                    <td class="px-3 py-1.5 text-xs">{hb.pages}</td>
                    <td class="px-3 py-1.5 text-xs">{format::time(&w.last_heartbeat)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <Section title="Workers">
            <div class="overflow-x-auto">
                <table class="min-w-full text-sm" data-testid="workers-table">
                    <thead class="text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                        <tr>
                            <th class="px-3 py-1">"Worker"</th>
                            <th class="px-3 py-1">"State"</th>
                            <th class="px-3 py-1">"Capacity"</th>
                            <th class="px-3 py-1">"Pages"</th>
                            <th class="px-3 py-1">"Last heartbeat"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">{rows}</tbody>
                </table>
            </div>
        </Section>
    }
    .into_any()
}

/// Each worker's share of the key space, drawn as bars; computed by the
/// ring library itself from the coordinator's ring spec.
#[component]
fn RingShares(
    ring: Option<RingSpec>,
    workers: Vec<WorkerView>,
    inputs: PreviewInputs,
) -> impl IntoView {
    let built = ring.map(Ring::from_spec);
    let body = match built {
        None => view! { <p class="text-sm text-slate-600">"The coordinator has not reported its ring yet."</p> }.into_any(),
        Some(Err(e)) => view! { <p class="text-sm text-rose-700">{format!("The coordinator's ring cannot be read: {e}")}</p> }.into_any(),
        Some(Ok(ring)) if ring.members().is_empty() => view! {
            <p class="text-sm text-slate-600">"The ring is empty: no worker owns any file."</p>
        }.into_any(),
        Some(Ok(ring)) => {
            let shares = ring.shares();
            let policy = format!("{:?} · epoch {}", ring.config().policy, ring.epoch());
            let rows = shares
                .shares
                .iter()
                .map(|s| {
                    let offline = workers
                        .iter()
                        .any(|w| w.heartbeat.id == s.member.id && w.state == WorkerState::Offline);
                    let id = s.member.id.clone();
                    view! {
                        <li class="text-xs" data-testid="ring-share" data-worker=s.member.id.clone() data-share=format!("{:.6}", s.fraction)>
                            <div class="flex justify-between gap-2 font-mono">
                                <span class=if offline { "truncate text-rose-700" } else { "truncate" }>{s.member.id.clone()}</span>
                                <span>{format::percent(Some(s.fraction))}</span>
                                <button
                                    type="button"
                                    data-testid="preview-remove"
                                    class="font-sans text-sky-700 hover:underline"
                                    title="Preview what removing this worker would move"
                                    on:click=move |_| inputs.remove_worker(id.clone())
                                >
                                    "preview removal"
                                </button>
                            </div>
                            <Bar fraction=s.fraction color=if offline { "bg-rose-500" } else { "bg-indigo-500" }/>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <p class="mb-2 text-xs text-slate-500" data-testid="ring-policy">{policy}</p>
                <ul class="space-y-2">{rows}</ul>
            }
            .into_any()
        }
    };
    view! { <Section title="Ring">{body}</Section> }
}

#[component]
fn Jobs(jobs: Vec<JobView>) -> impl IntoView {
    if jobs.is_empty() {
        return view! {
            <Section title="Jobs">
                <p class="text-sm text-slate-600" data-testid="jobs-empty">"No jobs have run on this cluster."</p>
            </Section>
        }
        .into_any();
    }
    let rows = jobs
        .into_iter()
        .map(|j| {
            let p = &j.progress;
            let done = if p.files_total == 0 {
                if matches!(j.state, JobState::Succeeded) { 1.0 } else { 0.0 }
            } else {
                p.files_processed as f64 / p.files_total as f64
            };
            let color = match j.state {
                JobState::Failed => "bg-rose-500",
                JobState::Succeeded => "bg-emerald-500",
                JobState::Stopped => "bg-slate-400",
                _ => "bg-sky-600",
            };
            let detail = format!(
                "{} of {} files, {} loaded, {} skipped, {} failed{}",
                p.files_processed,
                p.files_total,
                format::bytes(p.bytes_loaded),
                format::bytes(p.bytes_skipped),
                p.files_failed,
                j.error.as_ref().map(|e| format!(" · {e}")).unwrap_or_default(),
            );
            view! {
                <li class="py-2" data-testid="job-row" data-job=j.id.clone() data-state=j.state.as_str()>
                    <div class="flex flex-wrap justify-between gap-2 text-xs">
                        <span class="font-semibold">{format!("{} {}", j.job_type.as_str(), j.path)}</span>
                        <span class="font-mono">{j.state.as_str()}</span>
                    </div>
                    <Bar fraction=done color/>
                    <p class="mt-0.5 text-xs text-slate-600">{detail}</p>
                </li>
            }
        })
        .collect_view();
    view! {
        <Section title="Jobs">
            <ul class="divide-y divide-slate-100" data-testid="jobs">{rows}</ul>
        </Section>
    }
    .into_any()
}

/// What the ring preview is asked: kept by the page across refreshes.
#[derive(Clone, Copy)]
struct PreviewInputs {
    kind: RwSignal<&'static str>,
    count: RwSignal<u32>,
    remove: RwSignal<String>,
    policy: RwSignal<Policy>,
    virtual_nodes: RwSignal<u32>,
}

impl PreviewInputs {
    fn new() -> PreviewInputs {
        PreviewInputs {
            kind: RwSignal::new("add_workers"),
            count: RwSignal::new(1),
            remove: RwSignal::new(String::new()),
            policy: RwSignal::new(Policy::Consistent),
            virtual_nodes: RwSignal::new(ringside_ring::defaults::VIRTUAL_NODES_PER_WORKER),
        }
    }

    fn remove_worker(self, id: String) {
        self.remove.set(id);
        self.kind.set("remove_worker");
    }

    /// The change the inputs describe, starting from the ring's own config.
    fn change(self, current: &RingConfig) -> RingChange {
        match self.kind.get() {
            "remove_worker" => RingChange::RemoveWorker {
                id: self.remove.get(),
            },
            "configure" => RingChange::Configure {
                config: RingConfig {
                    policy: self.policy.get(),
                    virtual_nodes_per_worker: self.virtual_nodes.get(),
                    ..current.clone()
                },
            },
            _ => RingChange::AddWorkers {
                count: self.count.get(),
                capacity_bytes: None,
            },
        }
    }
}

/// "What if": add workers, remove one, or change the policy, and see what
/// would move. The numbers come from the ring library compiled into the
/// page's WASM bundle, recomputed in the browser on every change.
#[component]
fn RingPreview(
    inputs: PreviewInputs,
    cluster: Resource<Result<ClusterDetail, UiError>>,
) -> impl IntoView {
    let number = |value: String| value.trim().parse::<u32>().ok();
    let controls = view! {
        <div class="flex flex-wrap items-end gap-3 text-sm">
            <label class="block">
                <span class="text-xs text-slate-600">"Change"</span>
                <select
                    data-testid="preview-kind"
                    class="mt-1 block rounded-md border border-slate-300 px-2 py-1"
                    on:change=move |ev| inputs.kind.set(match event_target_value(&ev).as_str() {
                        "remove_worker" => "remove_worker",
                        "configure" => "configure",
                        _ => "add_workers",
                    })
                    prop:value=move || inputs.kind.get()
                >
                    <option value="add_workers">"add workers"</option>
                    <option value="remove_worker">"remove a worker"</option>
                    <option value="configure">"change policy / virtual nodes"</option>
                </select>
            </label>
            <Show when=move || inputs.kind.get() == "add_workers">
                <label class="block">
                    <span class="text-xs text-slate-600">"Workers to add"</span>
                    <input
                        type="number" min="1" max=MAX_PREVIEW_ADD.to_string()
                        data-testid="preview-count"
                        class="mt-1 block w-24 rounded-md border border-slate-300 px-2 py-1"
                        prop:value=move || inputs.count.get().to_string()
                        on:input=move |ev| if let Some(n) = number(event_target_value(&ev)) { inputs.count.set(n) }
                    />
                </label>
            </Show>
            <Show when=move || inputs.kind.get() == "remove_worker">
                <label class="block">
                    <span class="text-xs text-slate-600">"Worker id (or pick one above)"</span>
                    <input
                        type="text"
                        data-testid="preview-worker"
                        class="mt-1 block w-80 rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
                        prop:value=move || inputs.remove.get()
                        on:input=move |ev| inputs.remove.set(event_target_value(&ev))
                    />
                </label>
            </Show>
            <Show when=move || inputs.kind.get() == "configure">
                <label class="block">
                    <span class="text-xs text-slate-600">"Policy"</span>
                    <select
                        data-testid="preview-policy"
                        class="mt-1 block rounded-md border border-slate-300 px-2 py-1"
                        on:change=move |ev| if let Ok(p) = event_target_value(&ev).parse() { inputs.policy.set(p) }
                    >
                        {Policy::ALL
                            .into_iter()
                            .map(|p| view! { <option value=p.as_str() selected=move || inputs.policy.get() == p>{p.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="block">
                    <span class="text-xs text-slate-600">"Virtual nodes per worker"</span>
                    <input
                        type="number" min="1"
                        data-testid="preview-vnodes"
                        class="mt-1 block w-28 rounded-md border border-slate-300 px-2 py-1"
                        prop:value=move || inputs.virtual_nodes.get().to_string()
                        on:input=move |ev| if let Some(n) = number(event_target_value(&ev)) { inputs.virtual_nodes.set(n) }
                    />
                </label>
            </Show>
        </div>
    };
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="ring-preview">
            <h2 class="text-lg font-semibold">"Ring preview"</h2>
            <p class="mb-3 text-xs text-slate-500">"What a change would move, computed in your browser by the ring library itself."</p>
            {controls}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let Ok(detail) = cluster.await else { return ().into_any() };
                    let Some(spec) = detail.ring else {
                        return view! { <p class="mt-3 text-sm text-slate-600">"No ring reported yet."</p> }.into_any();
                    };
                    let ring = match Ring::from_spec(spec) {
                        Ok(ring) => ring,
                        Err(e) => return view! { <p class="mt-3 text-sm text-rose-700">{e.to_string()}</p> }.into_any(),
                    };
                    let held: Vec<(String, u64)> = detail
                        .workers
                        .iter()
                        .map(|w| (w.heartbeat.id.clone(), w.heartbeat.used_bytes))
                        .collect();
                    let result = move || {
                        let change = inputs.change(ring.config());
                        preview(&ring, &change, |id| {
                            held.iter().find(|(w, _)| w == id).map_or(0, |(_, b)| *b)
                        })
                    };
                    view! { <PreviewResult result=Signal::derive(result)/> }.into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PreviewResult(result: Signal<Result<Preview, ringside_ring::RingError>>) -> impl IntoView {
    move || {
        match result.get() {
        Err(e) => view! { <p class="mt-3 text-sm text-rose-700" data-testid="preview-error">{e.to_string()}</p> }.into_any(),
        Ok(p) => view! {
            <dl class="mt-3 grid max-w-xl grid-cols-[12rem_1fr] gap-y-1 text-sm">
                <dt class="text-slate-600">"Files that change owner"</dt>
                <dd class="font-semibold" data-testid="preview-files" data-value=format!("{:.6}", p.file_fraction)>
                    {format::percent(Some(p.file_fraction))}
                </dd>
                <dt class="text-slate-600">"Cached bytes that move"</dt>
                <dd class="font-semibold" data-testid="preview-bytes" data-value=p.bytes_moved.to_string()>
                    {format!("{} of {}", format::bytes(p.bytes_moved), format::bytes(p.bytes_total))}
                </dd>
                <dt class="text-slate-600">"Workers after"</dt>
                <dd data-testid="preview-members">{p.shares_after.len()}</dd>
            </dl>
        }.into_any(),
    }
    }
}

/// The cluster's properties as its coordinator runs with them, read once
/// when the page opens (they change only by a restart or a push).
#[component]
fn Properties(name: String) -> impl IntoView {
    let properties = LocalResource::new(move || crate::server::cluster_properties(name.clone()));
    let show_defaults = RwSignal::new(false);
    view! {
        <section class="mt-8" data-testid="cluster-properties">
            <div class="mb-2 flex items-center justify-between">
                <h2 class="text-lg font-semibold">"Properties"</h2>
                <label class="inline-flex items-center gap-2 text-sm">
                    <input
                        type="checkbox"
                        prop:checked=move || show_defaults.get()
                        on:change=move |ev| show_defaults.set(event_target_checked(&ev))
                    />
                    "show defaults too"
                </label>
            </div>
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Reading properties…"</p> }>
                {move || Suspend::new(async move {
                    match properties.await {
                        Ok(list) => {
                            let rows = list
                                .into_iter()
                                .map(|p| {
                                    let default = p.source == "default";
                                    view! {
                                        <tr data-testid="property" data-key=p.key.clone() class:hidden=move || default && !show_defaults.get()>
                                            <td class="px-3 py-1 font-mono text-xs">{p.key.clone()}</td>
                                            <td class="px-3 py-1 font-mono text-xs">{p.value.clone()}</td>
                                            <td class="px-3 py-1 text-xs text-slate-600">{p.source.clone()}</td>
                                            <td class="px-3 py-1 text-xs">{if p.dynamic { "live" } else { "restart" }}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <DataTable headers=&["Property", "Value", "Source", "Changes need"] testid="properties-table">{rows}</DataTable>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
