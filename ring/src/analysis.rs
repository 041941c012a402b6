//! What-if numbers for the console's ring preview and the coordinator's
//! re-planning: how much data a change moves, and who owns how much.

use serde::Serialize;

use crate::hash::path_hash;
use crate::ring::{Member, Ring, SAMPLE_HASHES, sample_hashes};

/// Files and bytes whose owner differs between two rings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub files_moved: u64,
    pub bytes_moved: u64,
    pub files_total: u64,
    pub bytes_total: u64,
}

impl Movement {
    /// Moved fraction of files (0 when there are none).
    pub fn file_fraction(&self) -> f64 {
        ratio(self.files_moved, self.files_total)
    }

    /// Moved fraction of bytes (0 when there are none).
    pub fn byte_fraction(&self) -> f64 {
        ratio(self.bytes_moved, self.bytes_total)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Counts the files (path, size in bytes) that change owner from `old` to
/// `new`. Owners are compared by worker id, so the rings may differ in
/// members, policy or parameters. A file with no owner in one ring (empty
/// ring) and an owner in the other counts as moved.
pub fn movement<P: AsRef<str>>(
    old: &Ring,
    new: &Ring,
    files: impl IntoIterator<Item = (P, u64)>,
) -> Movement {
    let translate = translation(old, new);
    let mut mv = Movement::default();
    for (path, bytes) in files {
        let hash = path_hash(path.as_ref());
        let before = old.owner_of_hash(hash);
        let after = new.owner_of_hash(hash);
        mv.files_total += 1;
        mv.bytes_total = mv.bytes_total.saturating_add(bytes);
        let moved = match (before, after) {
            (None, None) => false,
            (Some(b), Some(a)) => translate[b as usize] != Some(a),
            _ => true,
        };
        if moved {
            mv.files_moved += 1;
            mv.bytes_moved = mv.bytes_moved.saturating_add(bytes);
        }
    }
    mv
}

/// Fraction of the key space whose owner differs between two rings: what
/// [`movement`] would report for a large set of equally sized files, without
/// needing the files. Estimated from 65,536 fixed sample hashes (standard
/// error about 0.1 percentage points), the same ones on every call.
pub fn key_space_moved(old: &Ring, new: &Ring) -> f64 {
    let translate = translation(old, new);
    let moved = sample_hashes()
        .filter(|&h| match (old.owner_of_hash(h), new.owner_of_hash(h)) {
            (None, None) => false,
            (Some(b), Some(a)) => translate[b as usize] != Some(a),
            _ => true,
        })
        .count();
    moved as f64 / SAMPLE_HASHES as f64
}

/// Per member of `old`, in [`Ring::members`] order: the fraction of the
/// whole key space it owns in `old` whose owner differs in `new`. They sum
/// to [`key_space_moved`] whenever `old` has members.
pub fn key_space_moved_by_member(old: &Ring, new: &Ring) -> Vec<f64> {
    let translate = translation(old, new);
    let mut moved = vec![0u64; old.members().len()];
    for h in sample_hashes() {
        // A key nobody owns afterwards (an empty ring) moves too.
        if let Some(b) = old.owner_of_hash(h)
            && new
                .owner_of_hash(h)
                .is_none_or(|a| translate[b as usize] != Some(a))
        {
            moved[b as usize] += 1;
        }
    }
    moved
        .into_iter()
        .map(|n| n as f64 / SAMPLE_HASHES as f64)
        .collect()
}

/// Old member index -> new member index, so hot loops compare integers.
fn translation(old: &Ring, new: &Ring) -> Vec<Option<u32>> {
    old.members()
        .iter()
        .map(|m| {
            new.members()
                .binary_search_by(|n| n.id.cmp(&m.id))
                .ok()
                .map(|i| i as u32)
        })
        .collect()
}

/// One member's expected fraction of the key space.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Share<'a> {
    pub member: &'a Member,
    pub fraction: f64,
}

/// Every member's share of the key space (what a large uniform set of paths
/// would converge to), in [`Ring::members`] order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shares<'a> {
    pub shares: Vec<Share<'a>>,
    /// True when computed from the table itself (arc lengths, table entries,
    /// live slots); false for MULTI_PROBE, estimated from 65,536 fixed sample hashes.
    pub exact: bool,
}

impl Shares<'_> {
    /// Largest share over the mean share: 1.0 is perfect balance.
    pub fn max_over_mean(&self) -> f64 {
        if self.shares.is_empty() {
            return 1.0;
        }
        let max = self.shares.iter().map(|s| s.fraction).fold(0.0, f64::max);
        max * self.shares.len() as f64
    }

    /// Largest relative gap between a member's share and its capacity's
    /// share of the total capacity (0 = exactly proportional).
    pub fn max_capacity_deviation(&self) -> f64 {
        let total: f64 = self
            .shares
            .iter()
            .map(|s| s.member.capacity_bytes as f64)
            .sum();
        if total == 0.0 {
            return 0.0;
        }
        self.shares
            .iter()
            .filter(|s| s.member.capacity_bytes > 0)
            .map(|s| {
                let want = s.member.capacity_bytes as f64 / total;
                (s.fraction - want).abs() / want
            })
            .fold(0.0, f64::max)
    }
}

impl Ring {
    /// Each member's share of the key space, see [`Shares`].
    pub fn shares(&self) -> Shares<'_> {
        let (fractions, exact) = self.raw_shares();
        Shares {
            shares: self
                .members()
                .iter()
                .zip(fractions)
                .map(|(member, fraction)| Share { member, fraction })
                .collect(),
            exact,
        }
    }

    /// Files and bytes each member would own for a concrete set of files,
    /// in [`Ring::members`] order.
    pub fn load<P: AsRef<str>>(&self, files: impl IntoIterator<Item = (P, u64)>) -> Vec<Load<'_>> {
        let mut loads: Vec<Load<'_>> = self
            .members()
            .iter()
            .map(|member| Load {
                member,
                files: 0,
                bytes: 0,
            })
            .collect();
        for (path, bytes) in files {
            if let Some(i) = self.owner_index(path.as_ref()) {
                let l = &mut loads[i as usize];
                l.files += 1;
                l.bytes = l.bytes.saturating_add(bytes);
            }
        }
        loads
    }
}

/// What one member owns of a concrete file set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Load<'a> {
    pub member: &'a Member,
    pub files: u64,
    pub bytes: u64,
}

/// Largest load over the mean load, by file count (1.0 = perfect balance).
pub fn max_over_mean_files(loads: &[Load<'_>]) -> f64 {
    let total: u64 = loads.iter().map(|l| l.files).sum();
    if loads.is_empty() || total == 0 {
        return 1.0;
    }
    let max = loads.iter().map(|l| l.files).max().unwrap_or(0);
    max as f64 * loads.len() as f64 / total as f64
}
