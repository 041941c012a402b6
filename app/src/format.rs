//! How times, sizes and states read on the page.

use chrono::{DateTime, Utc};
use ringside_api::{ClusterStatus, Health};

pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// "ready since …", "unreachable since …": what a status cell says.
pub fn status_line(status: &ClusterStatus) -> String {
    match (&status.health, &status.since) {
        (Health::Unknown, _) => "not polled yet".to_string(),
        (health, Some(since)) => format!("{} since {}", health.label(), time(since)),
        (health, None) => health.label().to_string(),
    }
}

/// Tailwind classes of a health badge.
pub fn badge_class(health: Health) -> &'static str {
    match health {
        Health::Ready => "bg-emerald-100 text-emerald-800 ring-emerald-600/20",
        Health::Degraded => "bg-amber-100 text-amber-800 ring-amber-600/20",
        Health::Unreachable => "bg-rose-100 text-rose-800 ring-rose-600/20",
        Health::Unknown => "bg-slate-100 text-slate-700 ring-slate-500/20",
    }
}

/// Bytes in IEC units with three significant digits: `1.50 GiB`.
pub fn bytes(n: u64) -> String {
    match ringside_api::units::iec(n) {
        (_, "B") => format!("{n} B"),
        (value, unit) if value < 10.0 => format!("{value:.2} {unit}"),
        (value, unit) if value < 100.0 => format!("{value:.1} {unit}"),
        (value, unit) => format!("{value:.0} {unit}"),
    }
}

/// A ratio in 0..=1 as a percentage, `—` when there is none.
pub fn percent(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r.is_finite() => format!("{:.1}%", r * 100.0),
        _ => "—".to_string(),
    }
}

/// Share of `used` in `total`, for capacity bars: 0 when there is no total.
pub fn fraction(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (used as f64 / total as f64).clamp(0.0, 1.0)
    }
}

/// A license in a few words: its state, and days left while it has any.
pub fn license(status: Option<&ringside_api::license::LicenseStatus>) -> String {
    use ringside_api::license::LicenseState;
    match status {
        None => "—".into(),
        Some(s) => match (s.state, s.days_left) {
            (LicenseState::Valid, Some(days)) => format!("valid, {days} d left"),
            (state, _) => state.as_str().into(),
        },
    }
}

/// `a, b,,c` as `["a", "b", "c"]`: a list typed into one field.
pub fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ratios_read_well() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(50 * 1024 * 1024), "50.0 MiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
        assert_eq!(percent(Some(0.756)), "75.6%");
        assert_eq!(percent(None), "—");
        assert_eq!(percent(Some(f64::NAN)), "—");
        assert_eq!(fraction(5, 0), 0.0);
        assert_eq!(fraction(15, 10), 1.0);
    }
}
