//! The console's ring preview: what a scaling or configuration change would
//! move, before anyone makes it. Pure, so the browser (compiled to WASM)
//! and the console's server compute the very same numbers.

use serde::{Deserialize, Serialize};

use crate::{Member, Ring, RingConfig, RingError, analysis::key_space_moved_by_member};

/// A change an operator considers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RingChange {
    /// Workers join, each with this page store capacity (by default the
    /// current members' mean). Their ids are made up (`preview-new-1`, …):
    /// real ones are UUIDs, so the numbers are an estimate of the same
    /// size, not the same keys.
    AddWorkers {
        count: u32,
        #[serde(default)]
        capacity_bytes: Option<u64>,
    },
    /// A worker leaves for good.
    RemoveWorker { id: String },
    /// The policy or its parameters change; the members stay.
    Configure { config: RingConfig },
}

/// What a change would do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// Fraction of the key space, and so of a large set of files, that
    /// changes owner.
    pub file_fraction: f64,
    /// Cached bytes that would move, taking each worker's cached bytes as
    /// spread evenly over the keys it owns.
    pub bytes_moved: u64,
    /// Cached bytes today.
    pub bytes_total: u64,
    /// Each member's share of the key space after the change, by id.
    pub shares_after: Vec<(String, f64)>,
}

/// Most workers one preview may add: beyond this a preview stops being a
/// question anyone asks and starts being a way to burn the browser's CPU.
pub const MAX_PREVIEW_ADD: u32 = 1_000;

/// Previews `change` on `current`; `cached_bytes` says how many bytes each
/// current member holds.
pub fn preview(
    current: &Ring,
    change: &RingChange,
    cached_bytes: impl Fn(&str) -> u64,
) -> Result<Preview, RingError> {
    let members = current.members().iter().cloned();
    let next = match change {
        RingChange::AddWorkers {
            count,
            capacity_bytes,
        } => {
            if *count == 0 || *count > MAX_PREVIEW_ADD {
                return Err(RingError::Preview(format!(
                    "cannot preview adding {count} workers: expected 1 to {MAX_PREVIEW_ADD}"
                )));
            }
            let mean = || {
                let all = current.members();
                let total: u128 = all.iter().map(|m| u128::from(m.capacity_bytes)).sum();
                u64::try_from(total / all.len().max(1) as u128).unwrap_or(u64::MAX)
            };
            let capacity = capacity_bytes.unwrap_or_else(mean);
            let added = (1..=*count).map(|i| Member::new(format!("preview-new-{i}"), capacity));
            current.next(members.chain(added))?
        }
        RingChange::RemoveWorker { id } => {
            if !current.members().iter().any(|m| m.id == *id) {
                return Err(RingError::Preview(format!(
                    "cannot preview removing worker {id:?}: it is not on the ring"
                )));
            }
            current.next(members.filter(|m| m.id != *id))?
        }
        RingChange::Configure { config } => current.next_with_config(config.clone(), members)?,
    };
    let owned = current.shares();
    let moved = key_space_moved_by_member(current, &next);
    let mut bytes_total = 0u64;
    let mut bytes_moved = 0f64;
    for ((share, moved), member) in owned.shares.iter().zip(&moved).zip(current.members()) {
        let held = cached_bytes(&member.id);
        bytes_total = bytes_total.saturating_add(held);
        if share.fraction > 0.0 {
            bytes_moved += held as f64 * (moved / share.fraction).min(1.0);
        }
    }
    Ok(Preview {
        file_fraction: moved.iter().sum::<f64>().min(1.0),
        bytes_moved: (bytes_moved.round() as u64).min(bytes_total),
        bytes_total,
        shares_after: next
            .shares()
            .shares
            .iter()
            .map(|s| (s.member.id.clone(), s.fraction))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Policy, key_space_moved};

    fn ring(n: usize) -> Ring {
        Ring::new(
            RingConfig::default(),
            (0..n).map(|i| Member::new(format!("w{i}"), 1 << 30)),
            1,
        )
        .unwrap()
    }

    #[test]
    fn adding_a_worker_moves_about_its_share() {
        let r = ring(3);
        let p = preview(
            &r,
            &RingChange::AddWorkers {
                count: 1,
                capacity_bytes: None,
            },
            |_| 1_000_000,
        )
        .unwrap();
        assert!((p.file_fraction - 0.25).abs() < 0.03, "{p:?}");
        assert_eq!(p.bytes_total, 3_000_000);
        let byte_fraction = p.bytes_moved as f64 / p.bytes_total as f64;
        assert!((byte_fraction - p.file_fraction).abs() < 0.01, "{p:?}");
        assert_eq!(p.shares_after.len(), 4);
        let next = r
            .next(
                r.members()
                    .iter()
                    .cloned()
                    .chain([Member::new("preview-new-1", 1 << 30)]),
            )
            .unwrap();
        assert!((p.file_fraction - key_space_moved(&r, &next)).abs() < 1e-9);
    }

    #[test]
    fn removing_a_worker_moves_exactly_what_it_held() {
        let p = preview(
            &ring(4),
            &RingChange::RemoveWorker { id: "w2".into() },
            |id| if id == "w2" { 500 } else { 100 },
        )
        .unwrap();
        assert_eq!(p.bytes_moved, 500, "only the leaving worker's bytes move");
        assert!(p.shares_after.iter().all(|(id, _)| id != "w2"));
        let last = preview(
            &ring(1),
            &RingChange::RemoveWorker { id: "w0".into() },
            |_| 7,
        )
        .unwrap();
        assert_eq!(
            last.file_fraction, 1.0,
            "the last worker's keys have nowhere to go"
        );
        assert_eq!(last.bytes_moved, 7);
    }

    #[test]
    fn a_policy_change_and_bad_previews() {
        let r = ring(4);
        let p = preview(
            &r,
            &RingChange::Configure {
                config: RingConfig::with_policy(Policy::Maglev),
            },
            |_| 10,
        )
        .unwrap();
        assert!(
            p.file_fraction > 0.5,
            "a new policy reshuffles most keys: {p:?}"
        );
        let unchanged = preview(
            &r,
            &RingChange::Configure {
                config: r.config().clone(),
            },
            |_| 10,
        )
        .unwrap();
        assert_eq!(unchanged.file_fraction, 0.0);
        assert_eq!(unchanged.bytes_moved, 0);
        for bad in [
            RingChange::AddWorkers {
                count: 0,
                capacity_bytes: None,
            },
            RingChange::AddWorkers {
                count: MAX_PREVIEW_ADD + 1,
                capacity_bytes: Some(1),
            },
            RingChange::RemoveWorker {
                id: "nobody".into(),
            },
        ] {
            let err = preview(&r, &bad, |_| 0).unwrap_err();
            assert!(err.to_string().contains("preview"), "{err}");
        }
    }
}
