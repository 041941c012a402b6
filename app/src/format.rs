//! How times and states read on the page.

use chrono::{DateTime, Utc};
use ringside_api::{ClusterStatus, Reachability};

pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// "up since …", "unreachable since …": what a status cell says.
pub fn status_line(status: &ClusterStatus) -> String {
    match (&status.state, &status.since) {
        (Reachability::Unknown, _) => "not polled yet".to_string(),
        (state, Some(since)) => format!("{} since {}", state.label(), time(since)),
        (state, None) => state.label().to_string(),
    }
}

/// Tailwind classes of a state badge.
pub fn badge_class(state: Reachability) -> &'static str {
    match state {
        Reachability::Up => "bg-emerald-100 text-emerald-800 ring-emerald-600/20",
        Reachability::Unreachable => "bg-rose-100 text-rose-800 ring-rose-600/20",
        Reachability::Unknown => "bg-slate-100 text-slate-700 ring-slate-500/20",
    }
}
