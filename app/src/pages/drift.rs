//! Config drift: every cluster's properties next to a baseline cluster's,
//! read from the coordinators when asked, differences highlighted.

use leptos::prelude::*;
use leptos_meta::Title;
use ringside_api::drift::DriftReport;

use super::fleet::ErrorNote;
use crate::server::{config_drift, list_clusters};

#[component]
pub fn DriftPage() -> impl IntoView {
    let clusters = Resource::new(|| (), |_| list_clusters());
    let baseline = RwSignal::new(String::new());
    let only_differences = RwSignal::new(true);
    let report = LocalResource::new(move || {
        let name = baseline.get();
        async move {
            if name.is_empty() {
                None
            } else {
                Some(config_drift(name).await)
            }
        }
    });
    view! {
        <Title text="Config drift"/>
        <h1 class="text-2xl font-semibold">"Config drift"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Every cluster's properties compared with a baseline cluster's, read from the coordinators now. Names, addresses and ports are left out: they differ by design."
        </p>
        <div class="mb-4 flex flex-wrap items-end gap-4 text-sm">
            <label class="block">
                <span class="text-xs text-slate-600">"Baseline cluster"</span>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let names: Vec<String> = clusters
                            .await
                            .map(|list| list.into_iter().map(|c| c.cluster.name).collect())
                            .unwrap_or_default();
                        view! {
                            <select
                                data-testid="drift-baseline"
                                class="mt-1 block rounded-md border border-slate-300 px-2 py-1"
                                on:change=move |ev| baseline.set(event_target_value(&ev))
                            >
                                <option value="">"choose a cluster"</option>
                                {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                            </select>
                        }
                    })}
                </Transition>
            </label>
            <label class="inline-flex items-center gap-2">
                <input
                    type="checkbox"
                    data-testid="drift-only-differences"
                    prop:checked=move || only_differences.get()
                    on:change=move |ev| only_differences.set(event_target_checked(&ev))
                />
                "only properties that differ"
            </label>
        </div>
        <Suspense fallback=|| view! { <p class="text-slate-500">"Reading properties…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    None => view! { <p class="text-sm text-slate-600">"Choose a baseline to compare the other clusters with."</p> }.into_any(),
                    Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                    Some(Ok(report)) => view! { <DriftTable report only_differences/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DriftTable(report: DriftReport, only_differences: RwSignal<bool>) -> impl IntoView {
    let DriftReport {
        baseline,
        clusters,
        rows,
        errors,
    } = report;
    let differing = rows.iter().filter(|r| r.differs).count();
    let headers = clusters
        .iter()
        .map(|c| view! { <th class="px-3 py-2">{c.clone()}</th> })
        .collect_view();
    let body = rows
        .into_iter()
        .map(|row| {
            let differs = row.differs;
            let base = row.baseline.clone();
            let cells = row
                .values
                .into_iter()
                .map(|v| {
                    let changed = v != base;
                    view! {
                        <td class="px-3 py-1 font-mono text-xs" class=("bg-amber-100", changed) data-differs=changed.then_some("true")>
                            {v.unwrap_or_else(|| "—".into())}
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr data-testid="drift-row" data-key=row.key.clone() class:hidden=move || only_differences.get() && !differs>
                    <td class="px-3 py-1 font-mono text-xs">{row.key.clone()}</td>
                    <td class="px-3 py-1 font-mono text-xs">{row.baseline.unwrap_or_else(|| "—".into())}</td>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="mb-2 text-sm" data-testid="drift-summary">
            {format!("{differing} properties differ from {baseline} across {} clusters.", clusters.len())}
        </p>
        {errors.into_iter().map(|(name, error)| view! {
            <p class="mb-2 text-sm text-rose-700" data-testid="drift-error">{format!("{name}: {error}")}</p>
        }).collect_view()}
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="drift-table">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <th class="px-3 py-2">"Property"</th>
                        <th class="px-3 py-2">{format!("{baseline} (baseline)")}</th>
                        {headers}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{body}</tbody>
            </table>
        </div>
    }
}
