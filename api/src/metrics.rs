//! The charts the console draws and the time ranges they span: names the
//! browser sends and the server understands.

use serde::{Deserialize, Serialize};

/// One chart of a cluster's (or the fleet's) history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartMetric {
    /// Bytes served from cache over all bytes read.
    HitRatio,
    /// Read throughput from cache and from the UFS.
    Throughput,
    /// Page store bytes used against capacity.
    Capacity,
    WorkersOnline,
    RunningJobs,
}

impl ChartMetric {
    pub const ALL: [ChartMetric; 5] = [
        ChartMetric::HitRatio,
        ChartMetric::Throughput,
        ChartMetric::Capacity,
        ChartMetric::WorkersOnline,
        ChartMetric::RunningJobs,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ChartMetric::HitRatio => "hit_ratio",
            ChartMetric::Throughput => "throughput",
            ChartMetric::Capacity => "capacity",
            ChartMetric::WorkersOnline => "workers_online",
            ChartMetric::RunningJobs => "running_jobs",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ChartMetric::HitRatio => "Cache hit ratio",
            ChartMetric::Throughput => "Read throughput, cache vs UFS",
            ChartMetric::Capacity => "Page store capacity",
            ChartMetric::WorkersOnline => "Workers online",
            ChartMetric::RunningJobs => "Running jobs",
        }
    }
}

/// How far back a chart looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartRange {
    #[default]
    Hour,
    Day,
    Week,
}

impl ChartRange {
    pub const ALL: [ChartRange; 3] = [ChartRange::Hour, ChartRange::Day, ChartRange::Week];

    pub fn key(self) -> &'static str {
        match self {
            ChartRange::Hour => "1h",
            ChartRange::Day => "24h",
            ChartRange::Week => "7d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChartRange::Hour => "1 h",
            ChartRange::Day => "24 h",
            ChartRange::Week => "7 d",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            ChartRange::Hour => 3_600,
            ChartRange::Day => 86_400,
            ChartRange::Week => 7 * 86_400,
        }
    }

    pub fn parse(key: &str) -> Option<ChartRange> {
        ChartRange::ALL.into_iter().find(|r| r.key() == key)
    }
}
