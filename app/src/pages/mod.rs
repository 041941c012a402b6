//! One module per page of the console.

pub mod audit;
pub mod cluster;
pub mod drift;
pub mod fleet;
pub mod licenses;
pub mod login;
pub mod not_found;
pub mod operations;
pub mod policy;
pub mod tenants;
pub mod tokens;

use std::time::Duration;

use leptos::prelude::*;

/// How often an open page asks the server for fresh cluster states.
pub const REFRESH: Duration = Duration::from_secs(2);

/// A counter that ticks every `REFRESH` in the browser; resources that read
/// it refetch on each tick. On the server it never ticks.
pub fn refresh_ticker() -> RwSignal<u64> {
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    tick
}

/// A health badge: `ready`, `degraded`, `unreachable` or `unknown`.
#[component]
pub fn HealthBadge(health: ringside_api::Health) -> impl IntoView {
    view! {
        <span
            data-testid="cluster-state"
            class=format!(
                "inline-flex items-center rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}",
                crate::format::badge_class(health),
            )
        >
            {health.label()}
        </span>
    }
}

/// A horizontal bar filled to `fraction` (0..=1), for capacity, shares
/// and progress.
#[component]
pub fn Bar(fraction: f64, #[prop(default = "bg-sky-600")] color: &'static str) -> impl IntoView {
    let width = format!("width: {:.2}%", fraction.clamp(0.0, 1.0) * 100.0);
    view! {
        <div class="h-2 w-full min-w-16 overflow-hidden rounded bg-slate-200">
            <div class=format!("h-2 rounded {color}") style=width></div>
        </div>
    }
}

/// A bordered table under a header row of `headers`; `children` are its rows.
#[component]
pub fn DataTable(
    headers: &'static [&'static str],
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid=testid>
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>{headers.iter().map(|h| view! { <th class="px-3 py-2">{*h}</th> }).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{children()}</tbody>
            </table>
        </div>
    }
}

/// A chart the server drew as SVG, refreshed with the page.
#[component]
pub fn Chart(
    /// The cluster, or none for the whole fleet.
    cluster: Option<String>,
    metric: ringside_api::metrics::ChartMetric,
    range: Signal<ringside_api::metrics::ChartRange>,
    tick: RwSignal<u64>,
) -> impl IntoView {
    // Drawn for the browser only: the page itself renders without waiting
    // for history queries, and the charts arrive right after hydration.
    let svg = LocalResource::new(move || {
        let (cluster, range) = (cluster.clone(), range.get());
        tick.track();
        crate::server::chart(cluster, metric, range)
    });
    view! {
        <figure class="rounded-lg border border-slate-200 bg-white p-2 shadow-sm" data-testid="chart" data-metric=metric.key()>
            <Transition fallback=|| view! { <div class="h-48 animate-pulse rounded bg-slate-100"></div> }>
                {move || Suspend::new(async move {
                    match svg.await {
                        Ok(svg) => view! { <div class="[&>svg]:h-auto [&>svg]:w-full" inner_html=svg></div> }.into_any(),
                        Err(e) => view! { <p class="p-4 text-sm text-rose-700">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </figure>
    }
}

/// The time-range choice above a set of charts.
#[component]
pub fn RangePicker(range: RwSignal<ringside_api::metrics::ChartRange>) -> impl IntoView {
    use ringside_api::metrics::ChartRange;
    view! {
        <div class="inline-flex rounded-md shadow-sm" role="group" data-testid="range-picker">
            {ChartRange::ALL
                .into_iter()
                .map(|r| view! {
                    <button
                        type="button"
                        data-range=r.key()
                        class="border border-slate-300 px-3 py-1 text-xs first:rounded-l-md last:rounded-r-md"
                        class=("bg-sky-700", move || range.get() == r)
                        class=("text-white", move || range.get() == r)
                        class=("bg-white", move || range.get() != r)
                        on:click=move |_| range.set(r)
                    >
                        {r.label()}
                    </button>
                })
                .collect_view()}
        </div>
    }
}
