//! The console's charts: a metric of the history, for a cluster or the
//! whole fleet, over a time range, drawn as SVG by `ringside-charts`.

use chrono::Utc;
use ringside_api::metrics::{ChartMetric, ChartRange};
use ringside_charts::{Chart, Series, Unit, render_svg};

use crate::{
    AppState, ConsoleError,
    history::{Metric, Scope},
};

/// About one point per 15 s over an hour and a few hundred over longer
/// ranges: more than a chart this wide can show adds nothing.
const POINTS: usize = 240;
const WIDTH: u32 = 640;
const HEIGHT: u32 = 240;

/// The series one chart draws, with their legend names.
fn series_of(metric: ChartMetric) -> (&'static str, Unit, &'static [(Metric, &'static str)]) {
    match metric {
        ChartMetric::HitRatio => ("Hit ratio", Unit::Ratio, &[(Metric::HitRatio, "hit ratio")]),
        ChartMetric::Throughput => (
            "Read throughput",
            Unit::BytesPerSecond,
            &[
                (Metric::CacheReadRate, "from cache"),
                (Metric::UfsReadRate, "from UFS"),
            ],
        ),
        ChartMetric::Capacity => (
            "Page store",
            Unit::Bytes,
            &[
                (Metric::UsedBytes, "used"),
                (Metric::CapacityBytes, "capacity"),
            ],
        ),
        ChartMetric::WorkersOnline => {
            ("Workers", Unit::Count, &[(Metric::WorkersOnline, "online")])
        }
        ChartMetric::RunningJobs => ("Jobs", Unit::Count, &[(Metric::RunningJobs, "running")]),
    }
}

impl AppState {
    /// Draws `metric` over the last `range` for `cluster`, or for the fleet
    /// when none is named.
    pub async fn chart(
        &self,
        cluster: Option<&str>,
        metric: ChartMetric,
        range: ChartRange,
    ) -> Result<String, ConsoleError> {
        let scope = match cluster {
            Some(name) => Scope::Cluster(self.get_cluster(name).await?.cluster.name),
            None => Scope::Fleet,
        };
        let to = Utc::now();
        let from = to - chrono::Duration::seconds(range.seconds());
        // A fleet sum over the newest steps would count only the clusters
        // polled so far in them and dip; the fleet's lines end a couple of
        // steps back, where every cluster has reported.
        let until = match scope {
            Scope::Fleet => {
                let step = (range.seconds() / POINTS as i64).max(10);
                to - chrono::Duration::seconds(2 * step)
            }
            Scope::Cluster(_) => to,
        };
        let (y_label, unit, wanted) = series_of(metric);
        let mut series = Vec::with_capacity(wanted.len());
        for (m, name) in wanted {
            series.push(Series {
                name: (*name).to_string(),
                points: self
                    .store
                    .series(scope.clone(), *m, from, until, POINTS)
                    .await?,
            });
        }
        let chart = Chart {
            title: format!("{} · last {}", metric.title(), range.label()),
            y_label: y_label.to_string(),
            unit,
            from_ms: from.timestamp_millis(),
            to_ms: to.timestamp_millis(),
            series,
            width: WIDTH,
            height: HEIGHT,
        };
        render_svg(&chart).map_err(ConsoleError::Chart)
    }
}
