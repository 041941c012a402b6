//! The audit trail: every change made through the console, newest first,
//! searched and filtered on the server, paged by entry id, and exported as
//! JSON lines with the same filters.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use ringside_api::audit::{AuditEntry, AuditPage, AuditQuery, AuditResult, action};

use super::{DataTable, fleet::ErrorNote};
use crate::{format, server::search_audit};

/// Actions offered as suggestions in the action filter; any prefix works.
const SUGGESTED_ACTIONS: [&str; 7] = [
    "cluster.",
    action::CLUSTER_REGISTER,
    action::CLUSTER_UPDATE,
    action::CLUSTER_REMOVE,
    "operation.",
    "license.",
    "license.upload",
];

#[component]
pub fn AuditTrailPage() -> impl IntoView {
    let params = use_query_map();
    // The address sets the first query; from then on the controls own it.
    let query = RwSignal::new(AuditQuery::from_params(|k| params.read_untracked().get(k)));
    // The cursors of the pages before this one, to go back to newer entries.
    let newer = RwSignal::new(Vec::<Option<String>>::new());
    let page = Resource::new(move || query.get(), search_audit);
    let export = move || {
        let filters = query.read().without_paging().to_query_string();
        if filters.is_empty() {
            "/api/v1/audit/export".to_string()
        } else {
            format!("/api/v1/audit/export?{filters}")
        }
    };
    view! {
        <Title text="Audit trail"/>
        <div class="mb-4 flex flex-wrap items-end justify-between gap-3">
            <div>
                <h1 class="text-2xl font-semibold">"Audit trail"</h1>
                <p class="text-sm text-slate-600">
                    "Every change made through the console or its API: who, when, what, on which clusters, and how it ended. Entries are never edited or deleted."
                </p>
            </div>
            <a
                data-testid="audit-export"
                rel="external"
                download="ringside-audit.jsonl"
                href=export
                class="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-sky-700 shadow-sm hover:bg-slate-50"
            >
                "Export JSON lines"
            </a>
        </div>
        <Filters query newer/>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading the audit trail…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <AuditTable page query newer/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Changes one value of the query and goes back to the newest page.
fn set(
    query: RwSignal<AuditQuery>,
    newer: RwSignal<Vec<Option<String>>>,
    change: impl Fn(&mut AuditQuery, String) + 'static,
) -> impl Fn(leptos::ev::Event) + 'static {
    move |ev| {
        let value = event_target_value(&ev);
        newer.set(Vec::new());
        query.update(|q| {
            change(q, value);
            q.before = None;
        });
    }
}

#[component]
fn Filters(query: RwSignal<AuditQuery>, newer: RwSignal<Vec<Option<String>>>) -> impl IntoView {
    let value = move |get: fn(&AuditQuery) -> &Option<String>| {
        move || get(&query.read()).clone().unwrap_or_default()
    };
    let input = "rounded-md border border-slate-300 px-3 py-1.5 text-sm shadow-sm focus:border-sky-500 focus:outline-none";
    view! {
        <div class="mb-3 flex flex-wrap items-end gap-3 text-sm">
            <input
                type="search"
                data-testid="audit-search"
                placeholder="Search actions, actors, clusters, details, errors"
                class=format!("w-80 {input}")
                prop:value=value(|q| &q.q)
                on:input=set(query, newer, |q, v| q.q = Some(v))
            />
            <label class="block">
                <span class="text-xs text-slate-600">"Who"</span>
                <input
                    type="text"
                    data-testid="audit-actor"
                    placeholder="admin"
                    class=format!("mt-1 block w-36 {input}")
                    prop:value=value(|q| &q.actor)
                    on:change=set(query, newer, |q, v| q.actor = Some(v))
                />
            </label>
            <label class="block">
                <span class="text-xs text-slate-600">"Action starts with"</span>
                <input
                    type="text"
                    list="audit-actions"
                    data-testid="audit-action"
                    placeholder="cluster."
                    class=format!("mt-1 block w-44 {input}")
                    prop:value=value(|q| &q.action)
                    on:change=set(query, newer, |q, v| q.action = Some(v))
                />
                <datalist id="audit-actions">
                    {SUGGESTED_ACTIONS.map(|a| view! { <option value=a></option> }).collect_view()}
                </datalist>
            </label>
            <label class="block">
                <span class="text-xs text-slate-600">"Cluster"</span>
                <input
                    type="text"
                    data-testid="audit-cluster"
                    placeholder="eu-west"
                    class=format!("mt-1 block w-36 {input}")
                    prop:value=value(|q| &q.cluster)
                    on:change=set(query, newer, |q, v| q.cluster = Some(v))
                />
            </label>
            <label class="block">
                <span class="text-xs text-slate-600">"Result"</span>
                <select
                    data-testid="audit-result"
                    class="mt-1 block rounded-md border border-slate-300 px-2 py-1.5 text-sm shadow-sm"
                    on:change=set(query, newer, |q, v| q.result = Some(v))
                >
                    {[("", "any result"), ("ok", "ok"), ("error", "failed")]
                        .map(|(v, label)| view! {
                            <option value=v selected=move || query.read().result.as_deref().unwrap_or("") == v>{label}</option>
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="block">
                <span class="text-xs text-slate-600">"From (UTC)"</span>
                <input
                    type="datetime-local"
                    data-testid="audit-from"
                    class=format!("mt-1 block {input}")
                    prop:value=value(|q| &q.from)
                    on:change=set(query, newer, |q, v| q.from = Some(v))
                />
            </label>
            <label class="block">
                <span class="text-xs text-slate-600">"To (UTC)"</span>
                <input
                    type="datetime-local"
                    data-testid="audit-to"
                    class=format!("mt-1 block {input}")
                    prop:value=value(|q| &q.to)
                    on:change=set(query, newer, |q, v| q.to = Some(v))
                />
            </label>
        </div>
    }
}

#[component]
fn AuditTable(
    page: AuditPage,
    query: RwSignal<AuditQuery>,
    newer: RwSignal<Vec<Option<String>>>,
) -> impl IntoView {
    let AuditPage {
        entries,
        next_before,
    } = page;
    let first_page = newer.read_untracked().is_empty();
    if entries.is_empty() {
        let text = if first_page {
            "No entries match."
        } else {
            "No older entries match."
        };
        return view! {
            <p data-testid="audit-empty" class="rounded-md border border-dashed border-slate-300 p-6 text-center text-slate-600">{text}</p>
        }
        .into_any();
    }
    let shown = entries.len();
    let rows = entries
        .into_iter()
        .map(|entry| view! { <AuditRow entry/> })
        .collect_view();
    let older = move |_| {
        let current = query.read_untracked().before.clone();
        newer.update(|stack| stack.push(current));
        query.update(|q| q.before = next_before.map(|id| id.to_string()));
    };
    let back = move |_| {
        let previous = newer.try_update(|stack| stack.pop()).flatten().flatten();
        query.update(|q| q.before = previous);
    };
    view! {
        <DataTable headers=&["When", "Who", "Action", "Targets", "Result", "Detail"] testid="audit-table">{rows}</DataTable>
        <div class="mt-2 flex items-center justify-between text-xs text-slate-500">
            <p data-testid="audit-count">{format!("{shown} entries shown, newest first")}</p>
            <div class="flex items-center gap-2" data-testid="audit-pages">
                <button
                    type="button"
                    data-testid="audit-newer"
                    class="rounded border border-slate-300 px-2 py-0.5 disabled:opacity-40"
                    disabled=first_page
                    on:click=back
                >"‹ Newer"</button>
                <button
                    type="button"
                    data-testid="audit-older"
                    class="rounded border border-slate-300 px-2 py-0.5 disabled:opacity-40"
                    disabled=next_before.is_none()
                    on:click=older
                >"Older ›"</button>
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let AuditEntry {
        id,
        at,
        actor,
        action,
        targets,
        detail,
        result,
    } = entry;
    let detail = if detail.as_object().is_some_and(|o| o.is_empty()) {
        String::new()
    } else {
        detail.to_string()
    };
    let ok = result.is_ok();
    let (badge, message) = match &result {
        AuditResult::Ok => ("ok".to_string(), String::new()),
        AuditResult::Error { code, message, .. } => (code.clone(), message.clone()),
    };
    let row_action = action.clone();
    view! {
        <tr data-testid="audit-row" data-id=id data-action=row_action data-result=result.code().to_string()>
            <td class="whitespace-nowrap px-3 py-2 text-xs text-slate-600">{format::time(&at)}</td>
            <td class="whitespace-nowrap px-3 py-2 text-xs" data-testid="audit-row-actor">{actor}</td>
            <td class="px-3 py-2 font-mono text-xs" data-testid="audit-row-action">{action}</td>
            <td class="px-3 py-2 text-xs" data-testid="audit-row-targets">{targets.join(", ")}</td>
            <td class="px-3 py-2 text-xs" data-testid="audit-row-result">
                <span class=if ok {
                    "inline-flex rounded-md bg-emerald-100 px-2 py-0.5 font-medium text-emerald-800 ring-1 ring-inset ring-emerald-600/20"
                } else {
                    "inline-flex rounded-md bg-rose-100 px-2 py-0.5 font-medium text-rose-800 ring-1 ring-inset ring-rose-600/20"
                }>{badge}</span>
                <p class="mt-0.5 max-w-xs text-slate-600">{message}</p>
            </td>
            <td class="max-w-md px-3 py-2 font-mono text-xs text-slate-600" data-testid="audit-row-detail">
                <span class="line-clamp-3 break-all" title=detail.clone()>{detail.clone()}</span>
            </td>
        </tr>
    }
}
