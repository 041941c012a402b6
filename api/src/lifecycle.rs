//! A cluster's lifecycle as its coordinator reports it
//! (`/api/v1/lifecycle`): what the operator last applied (version, worker
//! count, batch size), the restart rolling through the workers, and the
//! phase the cluster is in: Ready, Updating or Degraded.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{FieldError, WorkerState, WorkerView};

/// How many workers a rolling restart takes down at once: a number, or a
/// percentage of the workers (rounded down, at least one), as the
/// reference's `rollingUpdate.maxUnavailable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxUnavailable {
    Count(u32),
    Percent(u32),
}

impl Default for MaxUnavailable {
    /// The reference's default: 10% of the workers.
    fn default() -> Self {
        MaxUnavailable::Percent(10)
    }
}

impl MaxUnavailable {
    /// Parses `3` or `25%`.
    pub fn parse(text: &str) -> Result<MaxUnavailable, String> {
        let text = text.trim();
        let expected = "expected a whole number of workers (e.g. 1) or a percentage from 1% to 100% (e.g. 10%)";
        match text.strip_suffix('%') {
            Some(number) => match number.trim().parse::<u32>() {
                Ok(p) if (1..=100).contains(&p) => Ok(MaxUnavailable::Percent(p)),
                _ => Err(format!(
                    "{text:?} is not a percentage from 1% to 100%: {expected}"
                )),
            },
            None => match text.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(MaxUnavailable::Count(n)),
                _ => Err(format!(
                    "{text:?} is not a worker count of at least 1: {expected}"
                )),
            },
        }
    }

    /// Workers per batch among `workers`: never zero, so a restart moves.
    pub fn batch_size(self, workers: usize) -> usize {
        let size = match self {
            MaxUnavailable::Count(n) => n as usize,
            MaxUnavailable::Percent(p) => workers * p as usize / 100,
        };
        size.clamp(1, workers.max(1))
    }

    /// `items` cut into the batches a rolling restart takes, in order.
    pub fn batches<T: Clone>(self, items: &[T]) -> Vec<Vec<T>> {
        items
            .chunks(self.batch_size(items.len()))
            .map(<[T]>::to_vec)
            .collect()
    }
}

impl fmt::Display for MaxUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUnavailable::Count(n) => write!(f, "{n}"),
            MaxUnavailable::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for MaxUnavailable {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxUnavailable::Count(n) => serializer.serialize_u32(*n),
            MaxUnavailable::Percent(_) => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for MaxUnavailable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(t) => t,
        };
        MaxUnavailable::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which processes a restart takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Coordinator,
    Worker,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Coordinator => "coordinator",
            Component::Worker => "worker",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lifecycle phase, as the reference's `CLUSTERPHASE` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Phase {
    /// Every wanted process runs the wanted version and is ONLINE.
    Ready,
    /// A restart or upgrade is rolling, or versions are mixed.
    Updating,
    /// Fewer workers ONLINE than wanted, or the last restart failed.
    Degraded,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ready => "Ready",
            Phase::Updating => "Updating",
            Phase::Degraded => "Degraded",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the operator last applied (`ringside cluster apply` sends it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DesiredState {
    /// The version every process should run.
    pub version: String,
    /// Workers that should be ONLINE.
    pub workers: u32,
    /// Batch size of rolling restarts.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "10%"))]
    #[serde(default)]
    pub max_unavailable: MaxUnavailable,
}

impl DesiredState {
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.version.trim().is_empty() {
            return Err(FieldError::new(
                "version",
                "the version is empty: expected the release every process should run, e.g. 0.1.0",
            ));
        }
        Ok(())
    }
}

/// Who rolls a restart: the coordinator itself (workers restart in place).
pub const DRIVER_COORDINATOR: &str = "coordinator";
/// Who rolls a restart: `ringside cluster apply|restart`, which starts the
/// processes.
pub const DRIVER_CLI: &str = "cluster apply";

/// A restart rolling through a cluster's processes, batch by batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestartProgress {
    pub component: Component,
    /// Why: `restart`, `upgrade to 0.2.0`, …
    pub reason: String,
    /// Who drives it: `cluster apply` (the CLI, which starts processes) or
    /// `coordinator` (workers restart themselves when asked).
    pub driver: String,
    /// Batches done, of `batches`.
    pub batch: u32,
    pub batches: u32,
    /// Processes restarted and ready again, of `total`.
    pub restarted: u32,
    pub total: u32,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it stopped short; none while rolling or once done.
    #[serde(default)]
    pub error: Option<String>,
}

impl RestartProgress {
    /// A restart of `total` processes in `batches`, starting at `started_at`.
    pub fn start(
        component: Component,
        reason: &str,
        driver: &str,
        (batches, total): (usize, usize),
        started_at: DateTime<Utc>,
    ) -> RestartProgress {
        RestartProgress {
            component,
            reason: reason.to_string(),
            driver: driver.to_string(),
            batch: 0,
            batches: u32::try_from(batches).unwrap_or(u32::MAX),
            restarted: 0,
            total: u32::try_from(total).unwrap_or(u32::MAX),
            started_at,
            finished_at: None,
            error: None,
        }
    }

    pub fn running(&self) -> bool {
        self.finished_at.is_none()
    }
}

/// A request to roll a restart through the workers
/// (`POST /api/v1/lifecycle/restart`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RestartRequest {
    /// Batch size; the applied one (or 10%) when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "1"))]
    pub max_unavailable: Option<MaxUnavailable>,
}

/// What `PUT /api/v1/lifecycle` takes: the applied state, and the restart
/// the CLI is rolling, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LifecycleUpdate {
    pub desired: DesiredState,
    #[serde(default)]
    pub restart: Option<RestartProgress>,
}

/// One process of a cluster, as the lifecycle lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessView {
    pub component: Component,
    /// The worker id; `coordinator` for the coordinator.
    pub id: String,
    pub address: String,
    pub version: String,
    pub state: WorkerState,
}

/// `GET /api/v1/lifecycle`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LifecycleStatus {
    pub phase: Phase,
    /// Why the phase is not Ready, one line each.
    pub reasons: Vec<String>,
    /// What was last applied; none for a cluster no `cluster apply` manages.
    pub desired: Option<DesiredState>,
    pub processes: Vec<ProcessView>,
    /// Ids of OFFLINE workers still in the member list: ring bloat that
    /// `ringside process remove-worker` (or the console) cleans up.
    pub stale_offline: Vec<String>,
    /// The restart rolling now, or the last one.
    pub restart: Option<RestartProgress>,
}

impl LifecycleStatus {
    /// The lifecycle of a cluster whose coordinator runs `version` with
    /// `workers` in its member list.
    pub fn derive(
        coordinator: ProcessView,
        workers: &[WorkerView],
        desired: Option<DesiredState>,
        restart: Option<RestartProgress>,
    ) -> LifecycleStatus {
        let mut processes = vec![coordinator];
        processes.extend(workers.iter().map(|w| ProcessView {
            component: Component::Worker,
            id: w.heartbeat.id.clone(),
            address: w.heartbeat.address.clone(),
            version: w.heartbeat.version.clone(),
            state: w.state,
        }));
        let (phase, reasons) = phase(&processes, desired.as_ref(), restart.as_ref());
        LifecycleStatus {
            phase,
            reasons,
            desired,
            stale_offline: workers
                .iter()
                .filter(|w| w.state == WorkerState::Offline)
                .map(|w| w.heartbeat.id.clone())
                .collect(),
            processes,
            restart,
        }
    }
}

/// The phase of a cluster whose processes are `processes` (the coordinator
/// first), and why it is not Ready. A rolling restart is Updating even
/// while its batch is down; without one, too few ONLINE workers is
/// Degraded, and mixed versions are Updating.
pub fn phase(
    processes: &[ProcessView],
    desired: Option<&DesiredState>,
    restart: Option<&RestartProgress>,
) -> (Phase, Vec<String>) {
    let online: Vec<&ProcessView> = processes
        .iter()
        .filter(|p| p.component == Component::Worker && p.state == WorkerState::Online)
        .collect();
    let coordinator_version = processes
        .iter()
        .find(|p| p.component == Component::Coordinator)
        .map(|p| p.version.as_str());
    let wanted_version = desired.map(|d| d.version.as_str()).or(coordinator_version);
    let mut updating = Vec::new();
    let mut degraded = Vec::new();
    match restart {
        Some(r) if r.running() => updating.push(format!(
            "{}: {} of {} {}s restarted, batch {} of {}",
            r.reason, r.restarted, r.total, r.component, r.batch, r.batches
        )),
        Some(r) => {
            if let Some(error) = &r.error {
                degraded.push(format!("{} stopped: {error}", r.reason));
            }
        }
        None => {}
    }
    if let Some(wanted) = wanted_version {
        let behind: Vec<&ProcessView> = processes
            .iter()
            .filter(|p| p.state == WorkerState::Online && p.version != wanted)
            .collect();
        if !behind.is_empty() {
            let names: Vec<String> = behind
                .iter()
                .map(|p| format!("{} {} runs {}", p.component, p.id, p.version))
                .collect();
            updating.push(format!("{} (wanted {wanted})", names.join(", ")));
        }
    }
    if let Some(d) = desired
        && (online.len() as u32) < d.workers
        && updating.is_empty()
    {
        degraded.push(format!("{} of {} workers ONLINE", online.len(), d.workers));
    }
    let phase = if !updating.is_empty() {
        Phase::Updating
    } else if !degraded.is_empty() {
        Phase::Degraded
    } else {
        Phase::Ready
    };
    updating.extend(degraded);
    (phase, updating)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn process(component: Component, id: &str, version: &str, online: bool) -> ProcessView {
        ProcessView {
            component,
            id: id.into(),
            address: format!("http://{id}"),
            version: version.into(),
            state: if online {
                WorkerState::Online
            } else {
                WorkerState::Offline
            },
        }
    }

    fn desired(version: &str, workers: u32) -> DesiredState {
        DesiredState {
            version: version.into(),
            workers,
            max_unavailable: MaxUnavailable::default(),
        }
    }

    #[test]
    fn max_unavailable_reads_numbers_and_percentages() {
        assert_eq!(MaxUnavailable::parse("1"), Ok(MaxUnavailable::Count(1)));
        assert_eq!(
            MaxUnavailable::parse(" 25% "),
            Ok(MaxUnavailable::Percent(25))
        );
        for bad in ["0", "-1", "0%", "101%", "ten", "", "1.5", "%"] {
            let error = MaxUnavailable::parse(bad).unwrap_err();
            assert!(error.contains("expected"), "{bad}: {error}");
        }
        let n: MaxUnavailable = serde_json::from_str("2").unwrap();
        let p: MaxUnavailable = serde_json::from_str("\"10%\"").unwrap();
        assert_eq!(
            (n, p),
            (MaxUnavailable::Count(2), MaxUnavailable::Percent(10))
        );
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"10%\"");
        assert_eq!(serde_json::to_string(&n).unwrap(), "2");
        assert!(serde_json::from_str::<MaxUnavailable>("0").is_err());
    }

    #[test]
    fn batches_follow_the_reference_default() {
        let ten: Vec<u32> = (0..10).collect();
        assert_eq!(MaxUnavailable::default().batches(&ten).len(), 10);
        assert_eq!(MaxUnavailable::Percent(10).batch_size(3), 1);
        assert_eq!(MaxUnavailable::Percent(50).batch_size(10), 5);
        assert_eq!(MaxUnavailable::Count(4).batches(&ten).len(), 3);
        assert_eq!(MaxUnavailable::Count(40).batch_size(3), 3);
        assert!(MaxUnavailable::Count(1).batches::<u32>(&[]).is_empty());
    }

    proptest! {
        #[test]
        fn batches_cover_every_item_once_in_order(
            n in 0usize..300,
            limit in 1u32..120,
            percent in any::<bool>(),
        ) {
            let items: Vec<usize> = (0..n).collect();
            let max = if percent {
                MaxUnavailable::Percent(limit.min(100))
            } else {
                MaxUnavailable::Count(limit)
            };
            let batches = max.batches(&items);
            let size = max.batch_size(n);
            prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= size));
            prop_assert_eq!(batches.concat(), items);
        }
    }

    #[test]
    fn phase_reads_versions_counts_and_restarts() {
        let c = |v| process(Component::Coordinator, "coordinator", v, true);
        let w = |id, v, online| process(Component::Worker, id, v, online);
        let ready = [c("1"), w("a", "1", true), w("b", "1", true)];
        assert_eq!(
            phase(&ready, Some(&desired("1", 2)), None),
            (Phase::Ready, vec![])
        );
        assert_eq!(phase(&ready, None, None).0, Phase::Ready);

        let down = [c("1"), w("a", "1", true), w("b", "1", false)];
        let (p, reasons) = phase(&down, Some(&desired("1", 2)), None);
        assert_eq!(p, Phase::Degraded);
        assert_eq!(reasons, vec!["1 of 2 workers ONLINE".to_string()]);
        // A stale OFFLINE entry beside enough ONLINE workers is not Degraded.
        assert_eq!(phase(&down, Some(&desired("1", 1)), None).0, Phase::Ready);

        let mixed = [c("2"), w("a", "2", true), w("b", "1", true)];
        let (p, reasons) = phase(&mixed, Some(&desired("2", 2)), None);
        assert_eq!(p, Phase::Updating);
        assert!(reasons[0].contains("worker b runs 1"), "{reasons:?}");

        let mut restart = RestartProgress::start(
            Component::Worker,
            "restart",
            "coordinator",
            (2, 2),
            Utc::now(),
        );
        restart.batch = 1;
        restart.restarted = 1;
        assert_eq!(
            phase(&down, Some(&desired("1", 2)), Some(&restart)).0,
            Phase::Updating
        );
        restart.finished_at = Some(Utc::now());
        restart.error = Some("worker b did not come back".into());
        let (p, reasons) = phase(&ready, Some(&desired("1", 2)), Some(&restart));
        assert_eq!(p, Phase::Degraded);
        assert!(reasons[0].contains("did not come back"));
    }
}
