//! One module per page of the console.

pub mod cluster;
pub mod fleet;
pub mod not_found;

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

/// A state badge: `up`, `unreachable` or `unknown`.
#[component]
pub fn StateBadge(state: ringside_api::Reachability) -> impl IntoView {
    view! {
        <span
            data-testid="cluster-state"
            class=format!(
                "inline-flex items-center rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}",
                crate::format::badge_class(state),
            )
        >
            {state.label()}
        </span>
    }
}
