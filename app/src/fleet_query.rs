//! What the fleet table shows: the filter, sort and page an operator chose,
//! read from the page's address, and the fleet's summary numbers. Pure, so
//! the same code runs on the server and in the browser, with unit tests.

use std::cmp::Ordering;

use ringside_api::{ClusterView, Health, cluster::format_labels};
use serde::{Deserialize, Serialize};

/// Rows per page of the fleet table.
pub const PAGE_SIZE: usize = 25;

/// A column the fleet table sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    #[default]
    Name,
    Region,
    Health,
    Version,
    Workers,
    Used,
    HitRatio,
    Jobs,
}

impl SortKey {
    const ALL: [SortKey; 8] = [
        SortKey::Name,
        SortKey::Region,
        SortKey::Health,
        SortKey::Version,
        SortKey::Workers,
        SortKey::Used,
        SortKey::HitRatio,
        SortKey::Jobs,
    ];

    pub fn key(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Region => "region",
            SortKey::Health => "health",
            SortKey::Version => "version",
            SortKey::Workers => "workers",
            SortKey::Used => "used",
            SortKey::HitRatio => "hit_ratio",
            SortKey::Jobs => "jobs",
        }
    }

    fn compare(self, a: &ClusterView, b: &ClusterView) -> Ordering {
        let (sa, sb) = (&a.status, &b.status);
        match self {
            SortKey::Name => Ordering::Equal,
            SortKey::Region => a.cluster.region.cmp(&b.cluster.region),
            // Worst first reads better, but ascending is the rule for all
            // columns: Unknown < Ready < Degraded < Unreachable.
            SortKey::Health => sa.health.cmp(&sb.health),
            SortKey::Version => sa.version.cmp(&sb.version),
            SortKey::Workers => sa.workers_online.cmp(&sb.workers_online),
            SortKey::Used => sa.used_bytes.cmp(&sb.used_bytes),
            SortKey::HitRatio => sa
                .hit_ratio
                .unwrap_or(-1.0)
                .total_cmp(&sb.hit_ratio.unwrap_or(-1.0)),
            SortKey::Jobs => sa.running_jobs.cmp(&sb.running_jobs),
        }
        .then_with(|| a.cluster.name.cmp(&b.cluster.name))
    }
}

/// The table's filter, sort and page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetQuery {
    /// Matched against name, URL, region and labels, case-insensitively.
    pub text: String,
    pub health: Option<Health>,
    /// `key=value`, or `key` alone for any value.
    pub label: Option<(String, Option<String>)>,
    pub sort: SortKey,
    pub descending: bool,
    /// From 0.
    pub page: usize,
    /// Parameters of the address that were ignored, and why.
    #[serde(skip)]
    pub notices: Vec<String>,
}

impl FleetQuery {
    /// Reads `q`, `health`, `label`, `sort`, `order` and `page` from the
    /// address. A malformed one is ignored with a notice, never an error
    /// page: the rest of the query still applies.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<String> + 'a) -> FleetQuery {
        let mut q = FleetQuery {
            text: get("q").unwrap_or_default(),
            ..FleetQuery::default()
        };
        if let Some(raw) = get("health").filter(|s| !s.is_empty()) {
            match Health::parse(&raw) {
                Some(h) => q.health = Some(h),
                None => q.notices.push(format!(
                    "Ignored health={raw:?}: expected one of ready, degraded, unreachable, unknown."
                )),
            }
        }
        if let Some(raw) = get("label").filter(|s| !s.is_empty()) {
            q.set_label(&raw);
        }
        if let Some(raw) = get("sort").filter(|s| !s.is_empty()) {
            match SortKey::ALL.into_iter().find(|k| k.key() == raw) {
                Some(k) => q.sort = k,
                None => q.notices.push(format!(
                    "Ignored sort={raw:?}: expected one of {}.",
                    SortKey::ALL.map(SortKey::key).join(", ")
                )),
            }
        }
        match get("order").as_deref() {
            None | Some("" | "asc") => {}
            Some("desc") => q.descending = true,
            Some(raw) => q
                .notices
                .push(format!("Ignored order={raw:?}: expected asc or desc.")),
        }
        if let Some(raw) = get("page").filter(|s| !s.is_empty()) {
            match raw.parse::<usize>() {
                Ok(n) if n >= 1 => q.page = n - 1,
                _ => q.notices.push(format!(
                    "Ignored page={raw:?}: expected a page number from 1."
                )),
            }
        }
        q
    }

    pub fn set_label(&mut self, raw: &str) {
        let raw = raw.trim();
        self.label = (!raw.is_empty()).then(|| match raw.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
            None => (raw.to_string(), None),
        });
    }

    pub fn label_text(&self) -> String {
        match &self.label {
            Some((k, Some(v))) => format!("{k}={v}"),
            Some((k, None)) => k.clone(),
            None => String::new(),
        }
    }

    /// A click on a column: sort by it, or reverse when it already is.
    pub fn sort_by(&mut self, key: SortKey) {
        if self.sort == key {
            self.descending = !self.descending;
        } else {
            self.sort = key;
            self.descending = false;
        }
    }

    fn matches(&self, view: &ClusterView) -> bool {
        let c = &view.cluster;
        let needle = self.text.trim().to_lowercase();
        let text_ok = needle.is_empty()
            || [
                c.name.as_str(),
                c.coordinator_url.as_str(),
                c.region.as_str(),
                &format_labels(&c.labels),
            ]
            .iter()
            .any(|h| h.to_lowercase().contains(&needle));
        let health_ok = self.health.is_none_or(|h| view.status.health == h);
        let label_ok = match &self.label {
            None => true,
            Some((k, None)) => c.labels.contains_key(k),
            Some((k, Some(v))) => c.labels.get(k) == Some(v),
        };
        text_ok && health_ok && label_ok
    }

    /// The clusters that pass the filter, in the chosen order.
    pub fn apply<'a>(&self, clusters: &'a [ClusterView]) -> Vec<&'a ClusterView> {
        let mut shown: Vec<&ClusterView> = clusters.iter().filter(|c| self.matches(c)).collect();
        shown.sort_by(|a, b| {
            let order = self.sort.compare(a, b);
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        shown
    }
}

/// One page of the fleet table, as the server cuts it: a fleet of a
/// thousand clusters sends 25 rows to the browser, not a thousand.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetPage {
    pub summary: Summary,
    pub rows: Vec<ClusterView>,
    /// Clusters registered.
    pub total: usize,
    /// Clusters that pass the filter.
    pub shown: usize,
    /// The page shown, from 0, and how many there are.
    pub page: usize,
    pub pages: usize,
}

impl FleetQuery {
    /// The page of the table this query asks for, with the summary of the
    /// whole fleet.
    pub fn page_of(&self, clusters: &[ClusterView]) -> FleetPage {
        let shown = self.apply(clusters);
        let pages = shown.len().div_ceil(PAGE_SIZE).max(1);
        let page = self.page.min(pages - 1);
        FleetPage {
            summary: summarize(clusters),
            total: clusters.len(),
            shown: shown.len(),
            rows: shown
                .into_iter()
                .skip(page * PAGE_SIZE)
                .take(PAGE_SIZE)
                .cloned()
                .collect(),
            page,
            pages,
        }
    }
}

/// The numbers of the fleet page's summary cards.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub by_health: Vec<(Health, usize)>,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    /// Summed over the clusters' last intervals: bytes, not ratios, so a
    /// busy cluster weighs more than an idle one.
    pub hit_ratio: Option<f64>,
    pub running_jobs: u64,
    /// Clusters whose license expires within 30 days, or has expired or
    /// is invalid.
    pub licenses_expiring: usize,
}

pub fn summarize(clusters: &[ClusterView]) -> Summary {
    let mut s = Summary {
        by_health: Health::ALL.into_iter().map(|h| (h, 0)).collect(),
        ..Summary::default()
    };
    let (mut cache, mut ufs) = (0f64, 0f64);
    for c in clusters {
        let st = &c.status;
        if let Some(slot) = s.by_health.iter_mut().find(|(h, _)| *h == st.health) {
            slot.1 += 1;
        }
        s.capacity_bytes = s.capacity_bytes.saturating_add(st.capacity_bytes);
        s.used_bytes = s.used_bytes.saturating_add(st.used_bytes);
        s.running_jobs += u64::from(st.running_jobs);
        s.licenses_expiring += usize::from(st.license.as_ref().is_some_and(|l| l.needs_renewal()));
        cache += st.interval_cache_bytes as f64;
        ufs += st.interval_ufs_bytes as f64;
    }
    s.hit_ratio = (cache + ufs > 0.0).then(|| cache / (cache + ufs));
    s
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use chrono::DateTime;
    use ringside_api::{Cluster, ClusterStatus};

    use super::*;

    fn view(
        name: &str,
        region: &str,
        health: Health,
        used: u64,
        labels: &[(&str, &str)],
    ) -> ClusterView {
        ClusterView {
            cluster: Cluster {
                name: name.into(),
                coordinator_url: format!("http://{name}:19999"),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                region: region.into(),
                has_access_token: false,
                ca_certificate: None,
                created_at: DateTime::UNIX_EPOCH,
                updated_at: DateTime::UNIX_EPOCH,
            },
            status: ClusterStatus {
                health,
                used_bytes: used,
                capacity_bytes: 100,
                interval_cache_bytes: used,
                interval_ufs_bytes: 10,
                ..ClusterStatus::default()
            },
        }
    }

    fn fleet() -> Vec<ClusterView> {
        vec![
            view("b", "us", Health::Ready, 50, &[("env", "prod")]),
            view("a", "eu", Health::Unreachable, 10, &[("env", "dev")]),
            view("c", "eu", Health::Degraded, 90, &[("team", "ml")]),
        ]
    }

    fn names<'a>(v: &[&'a ClusterView]) -> Vec<&'a str> {
        v.iter().map(|c| c.cluster.name.as_str()).collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> FleetQuery {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FleetQuery::parse(move |k| map.get(k).cloned())
    }

    #[test]
    fn filters_by_text_health_and_label() {
        let all = fleet();
        assert_eq!(names(&FleetQuery::default().apply(&all)), ["a", "b", "c"]);
        assert_eq!(names(&parse(&[("q", "EU")]).apply(&all)), ["a", "c"]);
        assert_eq!(names(&parse(&[("health", "ready")]).apply(&all)), ["b"]);
        assert_eq!(names(&parse(&[("label", "env=prod")]).apply(&all)), ["b"]);
        assert_eq!(names(&parse(&[("label", "env")]).apply(&all)), ["a", "b"]);
        assert!(parse(&[("q", "nothing")]).apply(&all).is_empty());
    }

    #[test]
    fn sorts_by_any_column_both_ways() {
        let all = fleet();
        let mut q = parse(&[("sort", "used")]);
        assert_eq!(names(&q.apply(&all)), ["a", "b", "c"]);
        q.sort_by(SortKey::Used);
        assert_eq!(names(&q.apply(&all)), ["c", "b", "a"]);
        q.sort_by(SortKey::Health);
        assert!(!q.descending);
        assert_eq!(names(&q.apply(&all)), ["b", "c", "a"]);
        let q = parse(&[("sort", "region"), ("order", "desc")]);
        assert_eq!(names(&q.apply(&all)), ["b", "c", "a"]);
    }

    #[test]
    fn malformed_parameters_are_ignored_with_a_notice() {
        let q = parse(&[
            ("health", "sideways"),
            ("sort", "colour"),
            ("order", "up"),
            ("page", "-3"),
            ("q", "eu"),
        ]);
        assert_eq!(q.notices.len(), 4, "{:?}", q.notices);
        assert!(q.notices[0].contains("expected one of ready"));
        assert_eq!(q.health, None);
        assert_eq!(q.sort, SortKey::Name);
        assert_eq!(q.page, 0);
        assert_eq!(q.text, "eu", "the good parameters still apply");
        assert_eq!(parse(&[("page", "3")]).page, 2);
    }

    #[test]
    fn pages_are_cut_on_the_server_and_clamped() {
        let many: Vec<ClusterView> = (0..60)
            .map(|i| view(&format!("c{i:02}"), "eu", Health::Ready, i, &[]))
            .collect();
        let mut q = FleetQuery::default();
        let first = q.page_of(&many);
        assert_eq!(
            (first.rows.len(), first.pages, first.shown, first.total),
            (25, 3, 60, 60)
        );
        q.page = 9;
        let last = q.page_of(&many);
        assert_eq!(
            (last.page, last.rows.len()),
            (2, 10),
            "past the end shows the last page"
        );
        assert_eq!(last.rows[0].cluster.name, "c50");
    }

    #[test]
    fn the_summary_weighs_hit_ratio_by_bytes() {
        let s = summarize(&fleet());
        assert_eq!(s.capacity_bytes, 300);
        assert_eq!(s.used_bytes, 150);
        assert_eq!(s.hit_ratio, Some(150.0 / 180.0));
        assert!(s.by_health.contains(&(Health::Degraded, 1)));
        assert_eq!(summarize(&[]).hit_ratio, None);
    }
}
