//! Operations: one action fanned out from the console to many clusters'
//! coordinators, with a result per cluster (`/api/v1/operations` on the
//! console). An operation names its targets (clusters by name, a label
//! selector, or all), an action, and how to roll it out: canary clusters
//! first, then waves of at most N, halting when failures pass a threshold.

use std::{collections::BTreeMap, fmt};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    FieldError,
    job::{JobOptions, JobType, REBALANCE_ALL},
    lifecycle::MaxUnavailable,
    tenant::TenantPolicy,
};

/// Most clusters one request may name.
pub const MAX_NAMED_TARGETS: usize = 10_000;
/// Most calls in flight at once for one operation.
pub const MAX_CONCURRENCY: u32 = 256;
/// Most automatic retries of one call.
pub const MAX_RETRIES: u32 = 10;
/// Bounds of the per-call timeout, in milliseconds.
pub const TIMEOUT_MS_RANGE: (u64, u64) = (100, 300_000);

/// Which clusters an operation runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Targets {
    /// Every registered cluster.
    All,
    /// These clusters, by name.
    Clusters { names: Vec<String> },
    /// The clusters whose labels match, e.g. `env=prod,team!=ml,gpu`.
    Selector { selector: String },
}

/// What an operation does on each cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Submit a LOAD job of `path`.
    Load {
        path: String,
        #[serde(default)]
        options: JobOptions,
    },
    /// Submit a FREE job of `path`.
    Free {
        path: String,
        #[serde(default)]
        options: JobOptions,
    },
    /// Submit a REBALANCE job towards `target` (`ALL` or a worker id).
    Rebalance {
        #[serde(default = "rebalance_all")]
        target: String,
        #[serde(default)]
        options: JobOptions,
    },
    /// Stop the active job of `job_type` on `path`.
    StopJob { job_type: JobType, path: String },
    /// Apply a license uploaded to the console.
    ApplyLicense { license_id: String },
    /// Set dynamic properties on each coordinator, live (`PATCH
    /// /api/v1/properties`); a `null` value clears a pushed one.
    PushProperties {
        properties: BTreeMap<String, Option<String>>,
    },
    /// Roll a restart through each cluster's workers, batch by batch, each
    /// restarting in place (`POST /api/v1/lifecycle/restart`).
    RollingRestart {
        /// Workers per batch, `1` or `10%`; the cluster's applied one
        /// (else 10%) when absent.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "1"))]
        max_unavailable: Option<MaxUnavailable>,
    },
    /// Create or replace a tenant's cache policy on each coordinator
    /// (`PUT /api/v1/tenants/{name}`), which pushes it to its workers.
    SetTenantPolicy { policy: TenantPolicy },
    /// Remove a tenant from each coordinator; one that has no such tenant
    /// is where the operation wants it.
    RemoveTenant { name: String },
}

fn rebalance_all() -> String {
    REBALANCE_ALL.to_string()
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Load { path, .. } => write!(f, "load {path}"),
            Action::Free { path, .. } => write!(f, "free {path}"),
            Action::Rebalance { target, .. } => write!(f, "rebalance {target}"),
            Action::StopJob { job_type, path } => write!(f, "stop the {job_type} job on {path}"),
            Action::ApplyLicense { license_id } => write!(f, "apply license {license_id}"),
            Action::PushProperties { properties } => {
                let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
                write!(f, "push {}", keys.join(", "))
            }
            Action::RollingRestart {
                max_unavailable: Some(max),
            } => write!(f, "rolling restart of the workers, {max} at a time"),
            Action::RollingRestart {
                max_unavailable: None,
            } => write!(f, "rolling restart of the workers"),
            Action::SetTenantPolicy { policy } => {
                write!(f, "set the cache policy of tenant {}", policy.name)
            }
            Action::RemoveTenant { name } => write!(f, "remove tenant {name}"),
        }
    }
}

/// How an operation is rolled out; every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Rollout {
    /// Clusters that run first, on their own, before any wave.
    pub canary: Vec<String>,
    /// At most this many clusters per wave after the canaries; one wave
    /// with all of them when absent.
    pub wave_size: Option<u32>,
    /// Halt (start nothing more) once more clusters than this have failed;
    /// never halt when absent.
    pub max_failures: Option<u32>,
    /// Calls in flight at once.
    pub concurrency: u32,
    /// How long one call to a coordinator may take.
    pub timeout_ms: u64,
    /// Retries of a call that failed for a passing reason (unreachable,
    /// timeout, 5xx), with exponential backoff.
    pub retries: u32,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            canary: Vec::new(),
            wave_size: None,
            max_failures: None,
            concurrency: 64,
            timeout_ms: 10_000,
            retries: 3,
        }
    }
}

/// A request to start an operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOperation {
    pub action: Action,
    pub targets: Targets,
    #[serde(default)]
    pub rollout: Rollout,
}

impl NewOperation {
    /// Checks every field that can be checked without the registry.
    pub fn validate(&self) -> Result<(), FieldError> {
        match &self.action {
            Action::Load { path, options } | Action::Free { path, options } => {
                validate_path("action.path", path)?;
                validate_filter(options)?;
            }
            Action::Rebalance { target, options } => {
                if target.trim().is_empty() {
                    return Err(FieldError::new(
                        "action.target",
                        "the rebalance target is empty: expected ALL or a worker id",
                    ));
                }
                validate_filter(options)?;
            }
            Action::StopJob { path, .. } => validate_path("action.path", path)?,
            Action::PushProperties { properties } => {
                if properties.is_empty() || properties.keys().any(|k| k.trim().is_empty()) {
                    return Err(FieldError::new(
                        "action.properties",
                        "no property to push, or an empty key: expected {\"ringside.…\": \"value\"}",
                    ));
                }
            }
            Action::RollingRestart { .. } => {}
            Action::SetTenantPolicy { policy } => {
                policy.clone().validate().map_err(|e| {
                    FieldError::new(&format!("action.policy.{}", e.field), e.message)
                })?;
            }
            Action::RemoveTenant { name } => {
                crate::cluster::validate_dns_label("tenant", name)
                    .map_err(|e| FieldError::new("action.name", e.message))?;
            }
            Action::ApplyLicense { license_id } => {
                if license_id.trim().is_empty() {
                    return Err(FieldError::new(
                        "action.license_id",
                        "the license id is empty: expected the id of an uploaded license",
                    ));
                }
            }
        }
        match &self.targets {
            Targets::All => {}
            Targets::Clusters { names } => {
                if names.is_empty() {
                    return Err(FieldError::new(
                        "targets.names",
                        "no clusters named: expected at least one cluster name",
                    ));
                }
                if names.len() > MAX_NAMED_TARGETS {
                    return Err(FieldError::new(
                        "targets.names",
                        format!(
                            "{} clusters named: expected at most {MAX_NAMED_TARGETS}; use a label selector",
                            names.len()
                        ),
                    ));
                }
            }
            Targets::Selector { selector } => {
                Selector::parse(selector)?;
            }
        }
        let r = &self.rollout;
        if r.concurrency == 0 || r.concurrency > MAX_CONCURRENCY {
            return Err(FieldError::new(
                "rollout.concurrency",
                format!(
                    "concurrency {} is out of range: expected 1 to {MAX_CONCURRENCY}",
                    r.concurrency
                ),
            ));
        }
        if r.wave_size == Some(0) {
            return Err(FieldError::new(
                "rollout.wave_size",
                "a wave of 0 clusters: expected at least 1, or no wave size for one wave",
            ));
        }
        if r.retries > MAX_RETRIES {
            return Err(FieldError::new(
                "rollout.retries",
                format!("{} retries: expected at most {MAX_RETRIES}", r.retries),
            ));
        }
        let (low, high) = TIMEOUT_MS_RANGE;
        if !(low..=high).contains(&r.timeout_ms) {
            return Err(FieldError::new(
                "rollout.timeout_ms",
                format!(
                    "timeout {} ms is out of range: expected {low} to {high} ms",
                    r.timeout_ms
                ),
            ));
        }
        Ok(())
    }
}

fn validate_path(field: &str, path: &str) -> Result<(), FieldError> {
    if !path.starts_with('/') {
        return Err(FieldError::new(
            field,
            format!("path {path:?} is not absolute: expected a UFS path such as /data"),
        ));
    }
    Ok(())
}

fn validate_filter(options: &JobOptions) -> Result<(), FieldError> {
    if options.batch_size == Some(0) {
        return Err(FieldError::new(
            "action.options.batch_size",
            "a batch of 0 files: expected at least 1",
        ));
    }
    Ok(())
}

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
}

/// A parsed label selector: requirements separated by commas, each
/// `key=value`, `key!=value` or `key` (has the label); all must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, FieldError> {
        let invalid = |part: &str, why: &str| {
            FieldError::new(
                "targets.selector",
                format!(
                    "selector part {part:?} {why}: expected key=value, key!=value or key, separated by commas"
                ),
            )
        };
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(invalid(part, "is empty"));
            }
            let requirement = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else {
                Requirement::Exists(part.to_string())
            };
            let key = match &requirement {
                Requirement::Equals(k, _)
                | Requirement::NotEquals(k, _)
                | Requirement::Exists(k) => k,
            };
            if key.is_empty() {
                return Err(invalid(part, "has no key"));
            }
            requirements.push(requirement);
        }
        Ok(Selector(requirements))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::Exists(k) => labels.contains_key(k),
        })
    }
}

/// Splits `targets` (in order) into waves: the canaries alone first, then
/// the rest in waves of at most `wave_size`.
pub fn waves(targets: &[String], canary: &[String], wave_size: Option<u32>) -> Vec<Vec<String>> {
    let mut waves = Vec::new();
    let first: Vec<String> = targets
        .iter()
        .filter(|t| canary.contains(t))
        .cloned()
        .collect();
    if !first.is_empty() {
        waves.push(first);
    }
    let rest: Vec<String> = targets
        .iter()
        .filter(|t| !canary.contains(t))
        .cloned()
        .collect();
    let size = wave_size.map_or(rest.len(), |n| n as usize).max(1);
    waves.extend(rest.chunks(size).map(<[String]>::to_vec));
    waves
}

/// Where an operation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationState {
    Running,
    /// Every target succeeded.
    Succeeded,
    /// Every target ran; some failed.
    Failed,
    /// Failures passed the threshold; targets not started were skipped.
    Halted,
    /// Cancelled; targets not started were cancelled.
    Cancelled,
}

/// Where one target of an operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetState {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Not started: the operation was cancelled.
    Cancelled,
    /// Not started: the operation halted.
    Skipped,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $text),* }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s.to_ascii_uppercase().as_str() {
                    $($text => Ok(<$ty>::$variant),)*
                    _ => Err(format!(
                        "unknown state {s:?}: expected one of {}",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(OperationState {
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    Halted => "HALTED",
    Cancelled => "CANCELLED",
});

text_enum!(TargetState {
    Pending => "PENDING",
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
    Skipped => "SKIPPED",
});

impl TargetState {
    /// Whether the target is done with (nothing more will run unless asked).
    pub fn is_final(self) -> bool {
        !matches!(self, TargetState::Pending | TargetState::Running)
    }
}

/// How many targets are in each state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetCounts {
    pub total: u32,
    pub pending: u32,
    pub running: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub cancelled: u32,
    pub skipped: u32,
}

impl TargetCounts {
    pub fn add(&mut self, state: TargetState) {
        self.total += 1;
        *match state {
            TargetState::Pending => &mut self.pending,
            TargetState::Running => &mut self.running,
            TargetState::Succeeded => &mut self.succeeded,
            TargetState::Failed => &mut self.failed,
            TargetState::Cancelled => &mut self.cancelled,
            TargetState::Skipped => &mut self.skipped,
        } += 1;
    }
}

/// One cluster's part in an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetView {
    pub cluster: String,
    /// 0-based; the canaries, when there are any, are wave 0.
    pub wave: u32,
    pub state: TargetState,
    /// Calls made so far, automatic retries included.
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What the coordinator answered (a job id), or why it failed.
    pub message: Option<String>,
}

impl TargetView {
    pub fn duration_ms(&self) -> Option<i64> {
        Some((self.finished_at? - self.started_at?).num_milliseconds())
    }
}

/// An operation without its targets, as the history lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationSummary {
    /// A UUID.
    pub id: String,
    /// What it does, in words: "load /data on 12 clusters".
    pub description: String,
    pub request: NewOperation,
    pub state: OperationState,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: TargetCounts,
}

/// An operation with every target's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationView {
    #[serde(flatten)]
    pub summary: OperationSummary,
    pub targets: Vec<TargetView>,
}

/// What an operation would do, before it is started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationPreview {
    /// "load /data on 12 clusters, in 3 waves".
    pub description: String,
    /// The clusters it would run on, in order.
    pub targets: Vec<String>,
    /// The same clusters, by wave.
    pub waves: Vec<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_all_their_requirements() {
        let s = Selector::parse("env=prod, team!=ml,gpu").unwrap();
        assert!(s.matches(&labels(&[("env", "prod"), ("gpu", "a100")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("team", "ml"), ("gpu", "x")])));
        assert!(!s.matches(&labels(&[("env", "prod")])));
        assert!(!s.matches(&labels(&[("env", "dev"), ("gpu", "x")])));
    }

    #[test]
    fn bad_selectors_say_what_is_expected() {
        for bad in ["", "env=prod,", "=prod", "!=x"] {
            let error = Selector::parse(bad).unwrap_err();
            assert_eq!(error.field, "targets.selector");
            assert!(
                error.message.contains("expected key=value"),
                "{bad:?}: {error:?}"
            );
        }
    }

    #[test]
    fn canaries_go_first_then_waves_of_n() {
        let all = names(&["a", "b", "c", "d", "e"]);
        assert_eq!(
            waves(&all, &names(&["c"]), Some(2)),
            vec![names(&["c"]), names(&["a", "b"]), names(&["d", "e"])]
        );
        assert_eq!(waves(&all, &[], None), vec![all.clone()]);
        assert_eq!(waves(&[], &[], Some(3)), Vec::<Vec<String>>::new());
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let ok = NewOperation {
            action: Action::Load {
                path: "/data".into(),
                options: JobOptions::default(),
            },
            targets: Targets::All,
            rollout: Rollout::default(),
        };
        assert!(ok.validate().is_ok());
        let mut relative = ok.clone();
        relative.action = Action::Free {
            path: "data".into(),
            options: JobOptions::default(),
        };
        assert_eq!(relative.validate().unwrap_err().field, "action.path");
        let mut busy = ok.clone();
        busy.rollout.concurrency = 0;
        assert_eq!(busy.validate().unwrap_err().field, "rollout.concurrency");
        let mut waves = ok.clone();
        waves.rollout.wave_size = Some(0);
        assert_eq!(waves.validate().unwrap_err().field, "rollout.wave_size");
        let mut quick = ok;
        quick.rollout.timeout_ms = 1;
        assert_eq!(quick.validate().unwrap_err().field, "rollout.timeout_ms");
    }

    #[test]
    fn the_wire_form_is_tagged() {
        let json = r#"{"action":{"type":"load","path":"/d"},"targets":{"kind":"selector","selector":"env=prod"},"rollout":{"wave_size":2}}"#;
        let op: NewOperation = serde_json::from_str(json).unwrap();
        assert_eq!(op.rollout.wave_size, Some(2));
        assert_eq!(op.rollout.concurrency, 64);
        assert_eq!(op.action.to_string(), "load /d");
    }
}
