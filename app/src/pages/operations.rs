//! Operations: the builder (what, on which clusters, how to roll it out)
//! with a preview of where it will run, the history, and each operation's
//! live per-cluster results with retry and cancel.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use ringside_api::{
    job::{JobOptions, JobType},
    lifecycle::MaxUnavailable,
    operation::{
        Action as OpAction, NewOperation, OperationPreview, OperationState, OperationSummary,
        OperationView, Rollout, TargetState, TargetView, Targets,
    },
    tenant::{Evictor, TenantPolicy},
};

use super::{Bar, DataTable, fleet::ErrorNote, not_found::NotFound, refresh_ticker};
use crate::{
    error::UiError,
    format,
    server::operations::{
        cancel_operation, get_operation, list_operations, preview_operation,
        retry_operation_target, start_operation,
    },
};

/// How many target names the preview lists before summing up the rest.
const PREVIEW_NAMES: usize = 40;

/// The builder's inputs, kept by the page.
#[derive(Clone, Copy)]
struct Builder {
    action: RwSignal<String>,
    path: RwSignal<String>,
    job_type: RwSignal<String>,
    license_id: RwSignal<String>,
    properties: RwSignal<String>,
    max_unavailable: RwSignal<String>,
    tenant: RwSignal<String>,
    tenant_group: RwSignal<String>,
    tenant_prefixes: RwSignal<String>,
    tenant_quota: RwSignal<String>,
    tenant_ttl: RwSignal<String>,
    tenant_evictor: RwSignal<String>,
    targets: RwSignal<String>,
    selector: RwSignal<String>,
    names: RwSignal<String>,
    canary: RwSignal<String>,
    wave_size: RwSignal<String>,
    max_failures: RwSignal<String>,
    concurrency: RwSignal<String>,
}

/// `key=value` lines; `key=` clears a pushed value.
fn properties(text: &str) -> Result<BTreeMap<String, Option<String>>, UiError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('=') {
            Some((k, v)) => Ok((
                k.trim().to_string(),
                Some(v.trim().to_string()).filter(|v| !v.is_empty()),
            )),
            None => Err(UiError::Field {
                field: "action.properties".into(),
                message: format!("{line:?} has no '=': expected key=value, one per line"),
            }),
        })
        .collect()
}

fn number(field: &str, text: &str) -> Result<Option<u32>, UiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| UiError::Field {
        field: field.to_string(),
        message: format!("{text:?} is not a number: expected a whole number, or nothing"),
    })
}

impl Builder {
    fn new() -> Builder {
        Builder {
            action: RwSignal::new("load".into()),
            path: RwSignal::new("/".into()),
            job_type: RwSignal::new("LOAD".into()),
            license_id: RwSignal::new(String::new()),
            properties: RwSignal::new(String::new()),
            max_unavailable: RwSignal::new(String::new()),
            tenant: RwSignal::new(String::new()),
            tenant_group: RwSignal::new(String::new()),
            tenant_prefixes: RwSignal::new(String::new()),
            tenant_quota: RwSignal::new(String::new()),
            tenant_ttl: RwSignal::new(String::new()),
            tenant_evictor: RwSignal::new("LRU".into()),
            targets: RwSignal::new("selector".into()),
            selector: RwSignal::new(String::new()),
            names: RwSignal::new(String::new()),
            canary: RwSignal::new(String::new()),
            wave_size: RwSignal::new(String::new()),
            max_failures: RwSignal::new(String::new()),
            concurrency: RwSignal::new("64".into()),
        }
    }

    /// The tenant policy the tenant fields describe; the server checks the
    /// rest of its rules.
    fn tenant_policy(&self) -> Result<TenantPolicy, UiError> {
        let field = |field: &str, message: String| UiError::Field {
            field: field.to_string(),
            message,
        };
        let quota_bytes = match self.tenant_quota.get_untracked().trim() {
            "" => None,
            text => Some(text.parse::<u64>().map_err(|_| {
                field(
                    "action.policy.quota_bytes",
                    format!(
                        "{text:?} is not a number of bytes: expected e.g. 10737418240, or nothing"
                    ),
                )
            })?),
        };
        let ttl_seconds = super::tenants::parse_ttl(&self.tenant_ttl.get_untracked())
            .map_err(|e| field("action.policy.ttl_seconds", e))?;
        let evictor = self.tenant_evictor.get_untracked();
        Ok(TenantPolicy {
            name: self.tenant.get_untracked().trim().to_string(),
            group: self.tenant_group.get_untracked().trim().to_string(),
            prefixes: crate::format::comma_list(&self.tenant_prefixes.get_untracked()),
            quota_bytes,
            ttl_seconds,
            evictor: Evictor::ALL
                .into_iter()
                .find(|e| e.as_str() == evictor)
                .unwrap_or_default(),
        })
    }

    fn request(&self) -> Result<NewOperation, UiError> {
        let path = self.path.get_untracked();
        let action = match self.action.get_untracked().as_str() {
            "free" => OpAction::Free {
                path,
                options: JobOptions::default(),
            },
            "rebalance" => OpAction::Rebalance {
                target: ringside_api::job::REBALANCE_ALL.into(),
                options: JobOptions::default(),
            },
            "stop_job" => OpAction::StopJob {
                job_type: self
                    .job_type
                    .get_untracked()
                    .parse::<JobType>()
                    .unwrap_or(JobType::Load),
                path,
            },
            "apply_license" => OpAction::ApplyLicense {
                license_id: self.license_id.get_untracked(),
            },
            "push_properties" => OpAction::PushProperties {
                properties: properties(&self.properties.get_untracked())?,
            },
            "rolling_restart" => OpAction::RollingRestart {
                max_unavailable: match self.max_unavailable.get_untracked().trim() {
                    "" => None,
                    text => {
                        Some(
                            MaxUnavailable::parse(text).map_err(|message| UiError::Field {
                                field: "action.max_unavailable".into(),
                                message,
                            })?,
                        )
                    }
                },
            },
            "set_tenant_policy" => OpAction::SetTenantPolicy {
                policy: self.tenant_policy()?,
            },
            "remove_tenant" => OpAction::RemoveTenant {
                name: self.tenant.get_untracked().trim().to_string(),
            },
            _ => OpAction::Load {
                path,
                options: JobOptions::default(),
            },
        };
        let targets = match self.targets.get_untracked().as_str() {
            "all" => Targets::All,
            "clusters" => Targets::Clusters {
                names: crate::format::comma_list(&self.names.get_untracked()),
            },
            _ => Targets::Selector {
                selector: self.selector.get_untracked(),
            },
        };
        let rollout = Rollout {
            canary: crate::format::comma_list(&self.canary.get_untracked()),
            wave_size: number("rollout.wave_size", &self.wave_size.get_untracked())?,
            max_failures: number("rollout.max_failures", &self.max_failures.get_untracked())?,
            concurrency: number("rollout.concurrency", &self.concurrency.get_untracked())?
                .unwrap_or(Rollout::default().concurrency),
            ..Rollout::default()
        };
        Ok(NewOperation {
            action,
            targets,
            rollout,
        })
    }
}

const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1 text-sm";

#[component]
fn Field(
    label: &'static str,
    value: RwSignal<String>,
    testid: &'static str,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    view! {
        <label class="block text-sm">
            <span class="text-xs text-slate-600">{label}</span>
            <input
                class=INPUT
                data-testid=testid
                placeholder=placeholder
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

#[component]
fn Choice(
    label: &'static str,
    value: RwSignal<String>,
    testid: &'static str,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    view! {
        <label class="block text-sm">
            <span class="text-xs text-slate-600">{label}</span>
            <select
                class=INPUT
                data-testid=testid
                on:change=move |ev| value.set(event_target_value(&ev))
            >
                {options
                    .iter()
                    .map(|(v, text)| view! { <option value=*v selected=move || value.get() == *v>{*text}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}

#[component]
pub fn OperationsPage() -> impl IntoView {
    let tick = refresh_ticker();
    let history = Resource::new(move || tick.get(), |_| list_operations());
    let builder = Builder::new();
    let error = RwSignal::new(None::<UiError>);
    let preview = Action::new(|request: &NewOperation| preview_operation(request.clone()));
    let start = Action::new(|request: &NewOperation| start_operation(request.clone()));
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(view)) = start.value().get() {
            navigate(
                &format!("/operations/{}", view.summary.id),
                Default::default(),
            );
        }
    });
    Effect::new(move || {
        let failed = start
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| preview.value().get().and_then(Result::err));
        error.set(failed);
    });
    let submit = move |run: bool| match builder.request() {
        Ok(request) => {
            error.set(None);
            if run {
                start.dispatch(request);
            } else {
                preview.dispatch(request);
            }
        }
        Err(e) => error.set(Some(e)),
    };
    let action = builder.action;
    let targets = builder.targets;
    view! {
        <Title text="Operations"/>
        <h1 class="text-2xl font-semibold">"Operations"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "One action on many clusters: canaries first, then waves, halting when failures pass the threshold. Every call carries an idempotency key, so a retry never runs twice on a cluster."
        </p>
        <section class="mb-8 rounded-lg border border-slate-200 bg-white p-5 shadow-sm" data-testid="operation-builder">
            <div class="grid grid-cols-1 gap-4 md:grid-cols-3">
                <Choice label="Action" value=builder.action testid="op-action" options=&[
                    ("load", "Load (warm the cache)"),
                    ("free", "Free a path"),
                    ("rebalance", "Rebalance"),
                    ("stop_job", "Stop a job"),
                    ("apply_license", "Apply a license"),
                    ("push_properties", "Push properties (live)"),
                    ("rolling_restart", "Rolling restart of the workers"),
                    ("set_tenant_policy", "Set a tenant's cache policy"),
                    ("remove_tenant", "Remove a tenant"),
                ]/>
                <Show when=move || matches!(action.get().as_str(), "set_tenant_policy" | "remove_tenant")>
                    <Field label="Tenant" value=builder.tenant testid="op-tenant" placeholder="team-a"/>
                </Show>
                <Show when=move || action.get() == "set_tenant_policy">
                    <Field label="Owning group" value=builder.tenant_group testid="op-tenant-group" placeholder="ml-platform"/>
                    <Field label="Path prefixes" value=builder.tenant_prefixes testid="op-tenant-prefixes" placeholder="/datasets/team-a, /scratch/team-a"/>
                    <Field label="Quota in bytes (blank: none)" value=builder.tenant_quota testid="op-tenant-quota" placeholder="214748364800"/>
                    <Field label="TTL (blank: none)" value=builder.tenant_ttl testid="op-tenant-ttl" placeholder="7d"/>
                    <Choice label="Evictor" value=builder.tenant_evictor testid="op-tenant-evictor" options=&[
                        ("LRU", "LRU"), ("LFU", "LFU"), ("FIFO", "FIFO"),
                    ]/>
                </Show>
                <Show when=move || action.get() == "rolling_restart">
                    <Field label="Workers per batch (1 or 10%)" value=builder.max_unavailable testid="op-max-unavailable" placeholder="as applied, else 10%"/>
                </Show>
                <Show when=move || matches!(action.get().as_str(), "load" | "free" | "stop_job")>
                    <Field label="Path" value=builder.path testid="op-path" placeholder="/data"/>
                </Show>
                <Show when=move || action.get() == "stop_job">
                    <Choice label="Job type" value=builder.job_type testid="op-job-type" options=&[
                        ("LOAD", "LOAD"), ("FREE", "FREE"), ("REBALANCE", "REBALANCE"),
                    ]/>
                </Show>
                <Show when=move || action.get() == "apply_license">
                    <Field label="License id" value=builder.license_id testid="op-license"/>
                </Show>
                <Show when=move || action.get() == "push_properties">
                    <label class="block text-sm">
                        <span class="text-xs text-slate-600">"Properties, key=value per line (key= clears)"</span>
                        <textarea
                            class=INPUT
                            data-testid="op-properties"
                            placeholder="ringside.job.max.tasks.per.worker=8"
                            prop:value=move || builder.properties.get()
                            on:input=move |ev| builder.properties.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                </Show>
                <Choice label="Targets" value=builder.targets testid="op-targets" options=&[
                    ("selector", "Clusters with labels"),
                    ("clusters", "Clusters by name"),
                    ("all", "All clusters"),
                ]/>
                <Show when=move || targets.get() == "selector">
                    <Field label="Label selector" value=builder.selector testid="op-selector" placeholder="env=prod,team!=ml"/>
                </Show>
                <Show when=move || targets.get() == "clusters">
                    <Field label="Cluster names" value=builder.names testid="op-names" placeholder="eu-1, us-2"/>
                </Show>
                <Field label="Canary clusters (first, alone)" value=builder.canary testid="op-canary" placeholder="eu-1"/>
                <Field label="Wave size" value=builder.wave_size testid="op-wave-size" placeholder="all at once"/>
                <Field label="Halt after more failures than" value=builder.max_failures testid="op-max-failures" placeholder="never"/>
                <Field label="Calls at once" value=builder.concurrency testid="op-concurrency"/>
            </div>
            <div class="mt-4 flex gap-3">
                <button
                    class="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50"
                    data-testid="op-preview"
                    on:click=move |_| submit(false)
                >"Preview"</button>
                <button
                    class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800 disabled:opacity-50"
                    data-testid="op-start"
                    disabled=move || start.pending().get()
                    on:click=move |_| submit(true)
                >"Start"</button>
            </div>
            {move || error.get().map(|e| view! { <div class="mt-3"><ErrorNote error=e/></div> })}
            {move || preview.value().get().and_then(Result::ok).map(|p| view! { <PreviewNote preview=p/> })}
        </section>
        <h2 class="mb-2 text-lg font-semibold">"History"</h2>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(list) => view! { <History list/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PreviewNote(preview: OperationPreview) -> impl IntoView {
    let more = preview.targets.len().saturating_sub(PREVIEW_NAMES);
    let names = preview
        .targets
        .iter()
        .take(PREVIEW_NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let waves = preview
        .waves
        .iter()
        .enumerate()
        .map(|(i, w)| view! { <li>{format!("wave {}: {} clusters", i + 1, w.len())}</li> })
        .collect_view();
    view! {
        <div class="mt-4 rounded-md border border-sky-200 bg-sky-50 p-3 text-sm" data-testid="op-preview-result">
            <p class="font-medium" data-testid="op-preview-description">
                {format!("Runs on these {} clusters: {}", preview.targets.len(), preview.description)}
            </p>
            <p class="mt-1 font-mono text-xs">
                {names}{(more > 0).then(|| format!(" and {more} more"))}
            </p>
            <ul class="mt-1 list-disc pl-5 text-xs">{waves}</ul>
        </div>
    }
}

fn state_class(state: OperationState) -> &'static str {
    match state {
        OperationState::Running => "bg-sky-50 text-sky-800 ring-sky-600/30",
        OperationState::Succeeded => "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
        OperationState::Failed | OperationState::Halted => {
            "bg-rose-50 text-rose-800 ring-rose-600/30"
        }
        OperationState::Cancelled => "bg-slate-100 text-slate-700 ring-slate-500/30",
    }
}

fn target_class(state: TargetState) -> &'static str {
    match state {
        TargetState::Pending | TargetState::Skipped | TargetState::Cancelled => "text-slate-500",
        TargetState::Running => "text-sky-700",
        TargetState::Succeeded => "text-emerald-700",
        TargetState::Failed => "text-rose-700 font-semibold",
    }
}

#[component]
fn StateBadge(state: OperationState) -> impl IntoView {
    view! {
        <span
            data-testid="op-state"
            class=format!("inline-flex items-center rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", state_class(state))
        >{state.as_str()}</span>
    }
}

#[component]
fn History(list: Vec<OperationSummary>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="text-sm text-slate-600">"No operations yet."</p> }.into_any();
    }
    let rows = list
        .into_iter()
        .map(|op| {
            let done = op.counts.total - op.counts.pending - op.counts.running;
            view! {
                <tr data-testid="op-row">
                    <td class="px-3 py-2 text-xs">{format::time(&op.created_at)}</td>
                    <td class="px-3 py-2">
                        <a class="text-sky-700 hover:underline" href=format!("/operations/{}", op.id)>{op.description.clone()}</a>
                    </td>
                    <td class="px-3 py-2 text-xs">{op.created_by.clone()}</td>
                    <td class="px-3 py-2"><StateBadge state=op.state/></td>
                    <td class="px-3 py-2 text-xs">
                        {format!("{} ok, {} failed of {}", op.counts.succeeded, op.counts.failed, op.counts.total)}
                        <Bar fraction=format::fraction(u64::from(done), u64::from(op.counts.total))/>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <DataTable headers=&["Started", "Operation", "By", "State", "Results"] testid="op-history">{rows}</DataTable>
    }
    .into_any()
}

#[component]
pub fn OperationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let tick = refresh_ticker();
    let operation = Resource::new(move || (id(), tick.get()), |(id, _)| get_operation(id));
    let cancel = Action::new(|id: &String| cancel_operation(id.clone()));
    let retry = Action::new(|(id, cluster): &(String, String)| {
        retry_operation_target(id.clone(), cluster.clone())
    });
    // A click shows at once, without waiting for the next refresh.
    Effect::new(move || {
        cancel.version().get();
        retry.version().get();
        operation.refetch();
    });
    let failure = move || {
        cancel
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| retry.value().get().and_then(Result::err))
    };
    view! {
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match operation.await {
                    Ok(op) => view! { <Details op cancel retry/> }.into_any(),
                    Err(UiError::NotFound(_)) => view! { <NotFound/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        {move || failure().map(|e| view! { <div class="mt-3"><ErrorNote error=e/></div> })}
    }
}

#[component]
fn Details(
    op: OperationView,
    cancel: Action<String, Result<OperationView, UiError>>,
    retry: Action<(String, String), Result<OperationView, UiError>>,
) -> impl IntoView {
    let OperationView { summary, targets } = op;
    let counts = summary.counts.clone();
    let done = counts.total - counts.pending - counts.running;
    let id = summary.id.clone();
    let running = summary.state == OperationState::Running;
    let rows = targets
        .into_iter()
        .map(|t| view! { <TargetRow target=t id=id.clone() retry/> })
        .collect_view();
    view! {
        <Title text=summary.description.clone()/>
        <div class="mb-2 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold" data-testid="op-description">{summary.description.clone()}</h1>
            <StateBadge state=summary.state/>
            {running.then(|| {
                let id = id.clone();
                view! {
                    <button
                        class="rounded-md border border-rose-300 px-3 py-1 text-sm text-rose-700 hover:bg-rose-50"
                        data-testid="op-cancel"
                        on:click=move |_| { cancel.dispatch(id.clone()); }
                    >"Cancel"</button>
                }
            })}
        </div>
        <p class="mb-3 text-sm text-slate-600">
            {format!("Started {} by {}", format::time(&summary.created_at), summary.created_by)}
            {summary.finished_at.map(|t| format!(", ended {}", format::time(&t)))}
        </p>
        <div class="mb-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="op-progress">
            <p class="mb-2 text-sm">
                {format!(
                    "{done} of {} done: {} succeeded, {} failed, {} running, {} pending, {} skipped, {} cancelled",
                    counts.total, counts.succeeded, counts.failed, counts.running, counts.pending, counts.skipped, counts.cancelled
                )}
            </p>
            <Bar fraction=format::fraction(u64::from(done), u64::from(counts.total))/>
        </div>
        <DataTable headers=&["Cluster", "Wave", "State", "Attempts", "Duration", "Message", ""] testid="op-targets-table">{rows}</DataTable>
    }
}

#[component]
fn TargetRow(
    target: TargetView,
    id: String,
    retry: Action<(String, String), Result<OperationView, UiError>>,
) -> impl IntoView {
    let duration = target
        .duration_ms()
        .map(|ms| format!("{:.2} s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "—".into());
    let failed = target.state == TargetState::Failed;
    let cluster = target.cluster.clone();
    view! {
        <tr data-testid="op-target" data-cluster=target.cluster.clone() data-state=target.state.as_str()>
            <td class="px-3 py-1.5">
                <a class="text-sky-700 hover:underline" href=format!("/clusters/{}", target.cluster)>{target.cluster.clone()}</a>
            </td>
            <td class="px-3 py-1.5 text-xs">{target.wave + 1}</td>
            <td class=format!("px-3 py-1.5 text-xs {}", target_class(target.state))>{target.state.as_str()}</td>
            <td class="px-3 py-1.5 text-xs">{target.attempts}</td>
            <td class="px-3 py-1.5 text-xs">{duration}</td>
            <td class="px-3 py-1.5 font-mono text-xs">{target.message.clone().unwrap_or_default()}</td>
            <td class="px-3 py-1.5">
                {failed.then(|| view! {
                    <button
                        class="rounded-md border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50"
                        data-testid="op-retry"
                        on:click=move |_| { retry.dispatch((id.clone(), cluster.clone())); }
                    >"Retry"</button>
                })}
            </td>
        </tr>
    }
}
