//! The ring: members, configuration, epoch and the precomputed lookup table.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::{Policy, RingConfig};
use crate::error::RingError;
use crate::hash::{ketama_key_of, md5, path_hash, worker_point};
use crate::table::jump::{JumpTable, VACANT};
use crate::table::maglev::MaglevTable;
use crate::table::points::PointRing;

/// A worker as the ring sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    /// Stable identity (the worker's UUID); placement hashes this, never an address.
    pub id: String,
    /// Page store capacity; shapes shares only under capacity weighting.
    pub capacity_bytes: u64,
}

impl Member {
    pub fn new(id: impl Into<String>, capacity_bytes: u64) -> Member {
        Member {
            id: id.into(),
            capacity_bytes,
        }
    }
}

/// Largest member count; owners are stored as `u32`.
pub const MAX_WORKERS: usize = 1 << 20;
/// Largest total number of ring points (about 200 MiB of table).
pub const MAX_RING_POINTS: u64 = 1 << 24;

/// Everything needed to rebuild a ring elsewhere (the browser, a worker, after
/// a coordinator restart). Only JUMP has state beyond config and members: the
/// slot layout its history produced, which `jump_slots` carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingSpec {
    #[serde(default)]
    pub config: RingConfig,
    pub epoch: u64,
    pub members: Vec<Member>,
    /// JUMP only: worker id per slot, `null` for a vacant slot. Absent means
    /// the compact layout (slot i = i-th member by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump_slots: Option<Vec<Option<String>>>,
}

#[derive(Clone, Debug)]
enum Table {
    /// No member owns anything.
    Empty,
    Points(PointRing),
    Ketama(PointRing),
    Jump(JumpTable),
    Maglev(MaglevTable),
    MultiProbe {
        ring: PointRing,
        probes: u32,
    },
}

/// An immutable placement of file paths onto workers.
///
/// Built once per membership change; lookups only read precomputed arrays.
/// Cloning copies the tables; share a ring behind an `Arc` if that matters.
#[derive(Clone, Deserialize)]
#[serde(try_from = "RingSpec")]
pub struct Ring {
    config: RingConfig,
    epoch: u64,
    /// Sorted by id: member indexes, and so every tie-break, do not depend on
    /// the order the caller listed the workers in.
    members: Vec<Member>,
    table: Table,
}

impl Ring {
    /// Builds a ring from scratch. Members may come in any order; duplicate or
    /// empty ids are refused. An empty member set is allowed (nothing is
    /// located). Under JUMP the slot layout is the compact one; use
    /// [`Ring::next`] to keep a running cluster's layout.
    pub fn new(
        config: RingConfig,
        members: impl IntoIterator<Item = Member>,
        epoch: u64,
    ) -> Result<Ring, RingError> {
        let members = normalize(members)?;
        Ring::build(config, members, epoch, None)
    }

    /// Rebuilds a ring described by a [`RingSpec`], checking it.
    pub fn from_spec(spec: RingSpec) -> Result<Ring, RingError> {
        let members = normalize(spec.members)?;
        let slots = match (spec.config.policy, spec.jump_slots) {
            (Policy::Jump, Some(ids)) => {
                let index = id_index(&members);
                let slots = ids
                    .iter()
                    .map(|id| match id {
                        None => Ok(VACANT),
                        Some(id) => index.get(id.as_str()).copied().ok_or_else(|| {
                            RingError::InvalidJumpSlots(format!(
                                "slot names {id:?}, which is not a member"
                            ))
                        }),
                    })
                    .collect::<Result<Vec<u32>, RingError>>()?;
                Some(JumpTable::from_slots(slots, members.len())?)
            }
            (policy, Some(_)) => {
                return Err(RingError::InvalidJumpSlots(format!(
                    "only JUMP rings have slots, this one is {policy}"
                )));
            }
            (_, None) => None,
        };
        Ring::build(spec.config, members, spec.epoch, slots)
    }

    /// The description to persist or send; [`Ring::from_spec`] restores it.
    pub fn to_spec(&self) -> RingSpec {
        let jump_slots = match &self.table {
            Table::Jump(t) => {
                let compact = t.slots().iter().enumerate().all(|(i, &s)| s as usize == i);
                (!compact).then(|| {
                    t.slots()
                        .iter()
                        .map(|&s| (s != VACANT).then(|| self.members[s as usize].id.clone()))
                        .collect()
                })
            }
            _ => None,
        };
        RingSpec {
            config: self.config.clone(),
            epoch: self.epoch,
            members: self.members.clone(),
            jump_slots,
        }
    }

    /// The ring after a membership change, with the same configuration.
    ///
    /// The epoch goes up by one only if placement inputs changed: the set of
    /// ids or, under capacity weighting, a capacity. Otherwise the result keeps
    /// this ring's epoch (carrying any new capacity figures along). Under JUMP
    /// the slot layout evolves so that movement stays minimal.
    pub fn next(&self, members: impl IntoIterator<Item = Member>) -> Result<Ring, RingError> {
        self.next_with_config(self.config.clone(), members)
    }

    /// Like [`Ring::next`], also changing the configuration (a config change
    /// always bumps the epoch).
    pub fn next_with_config(
        &self,
        config: RingConfig,
        members: impl IntoIterator<Item = Member>,
    ) -> Result<Ring, RingError> {
        let members = normalize(members)?;
        let same_ids = members.len() == self.members.len()
            && members.iter().zip(&self.members).all(|(a, b)| a.id == b.id);
        let same_weights = !config.is_weighted()
            || members
                .iter()
                .zip(&self.members)
                .all(|(a, b)| a.capacity_bytes == b.capacity_bytes);
        let unchanged = config == self.config && same_ids && same_weights;
        let epoch = if unchanged {
            self.epoch
        } else {
            self.epoch.saturating_add(1)
        };
        let slots = match (&self.table, config.policy) {
            (Table::Jump(old), Policy::Jump) => {
                let old_slots: Vec<Option<&str>> = old
                    .slots()
                    .iter()
                    .map(|&s| (s != VACANT).then(|| self.members[s as usize].id.as_str()))
                    .collect();
                let index = id_index(&members);
                let joining: Vec<u32> = members
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| self.member(&m.id).is_none())
                    .map(|(i, _)| i as u32)
                    .collect();
                Some(JumpTable::evolve(
                    &old_slots,
                    |id| index.get(id).copied(),
                    &joining,
                )?)
            }
            _ => None,
        };
        Ring::build(config, members, epoch, slots)
    }

    fn build(
        config: RingConfig,
        members: Vec<Member>,
        epoch: u64,
        jump_slots: Option<JumpTable>,
    ) -> Result<Ring, RingError> {
        config.validate()?;
        let weights = if config.is_weighted() {
            let w: Vec<u64> = members.iter().map(|m| m.capacity_bytes).collect();
            if !members.is_empty() && w.iter().all(|&c| c == 0) {
                return Err(RingError::NoCapacity);
            }
            Some(w)
        } else {
            None
        };
        let table = if members.is_empty() {
            Table::Empty
        } else {
            match config.policy {
                Policy::Consistent | Policy::Capacity => {
                    let counts = point_counts(
                        config.virtual_nodes_per_worker,
                        members.len(),
                        weights.as_deref(),
                        config.capacity_reference_bytes,
                    )?;
                    let mut entries = Vec::with_capacity(counts.iter().sum::<u64>() as usize);
                    for (i, (m, &count)) in members.iter().zip(&counts).enumerate() {
                        entries.extend((0..count).map(|j| (worker_point(&m.id, j), i as u32)));
                    }
                    Table::Points(PointRing::new(entries, 64))
                }
                Policy::Ketama => {
                    let counts = point_counts(
                        config.ketama_points_per_worker,
                        members.len(),
                        weights.as_deref(),
                        config.capacity_reference_bytes,
                    )?;
                    let mut entries = Vec::with_capacity(counts.iter().sum::<u64>() as usize);
                    for (i, (m, &count)) in members.iter().zip(&counts).enumerate() {
                        ketama_points(&m.id, count, i as u32, &mut entries);
                    }
                    Table::Ketama(PointRing::new(entries, 32))
                }
                Policy::Jump => {
                    Table::Jump(jump_slots.unwrap_or_else(|| JumpTable::compact(members.len())))
                }
                Policy::Maglev => {
                    let holders = match &weights {
                        Some(w) => w.iter().filter(|&&c| c > 0).count(),
                        None => members.len(),
                    };
                    if (config.maglev_table_size as usize) < holders {
                        return Err(RingError::MaglevTableTooSmall {
                            size: config.maglev_table_size,
                            members: holders,
                        });
                    }
                    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
                    Table::Maglev(MaglevTable::new(
                        &ids,
                        weights.as_deref(),
                        config.maglev_table_size,
                    ))
                }
                Policy::MultiProbe => {
                    let entries = members
                        .iter()
                        .enumerate()
                        .map(|(i, m)| (worker_point(&m.id, 0), i as u32))
                        .collect();
                    Table::MultiProbe {
                        ring: PointRing::new(entries, 64),
                        probes: config.multi_probe_count,
                    }
                }
            }
        };
        Ok(Ring {
            config,
            epoch,
            members,
            table,
        })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn config(&self) -> &RingConfig {
        &self.config
    }

    pub fn policy(&self) -> Policy {
        self.config.policy
    }

    /// Members sorted by id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members
            .binary_search_by(|m| m.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.members[i])
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The worker that owns `path`, or None when the ring has no members.
    #[inline]
    pub fn locate(&self, path: &str) -> Option<&Member> {
        self.owner_index(path).map(|i| &self.members[i as usize])
    }

    /// The owning worker's index in [`Ring::members`].
    #[inline]
    pub fn owner_index(&self, path: &str) -> Option<u32> {
        self.owner_of_hash(path_hash(path))
    }

    /// Owner of a path whose [`hashing::path_hash`](crate::hashing::path_hash)
    /// is `hash`: every policy starts from that one hash, which is what lets
    /// previews sample the key space without inventing paths.
    #[inline]
    pub fn owner_of_hash(&self, hash: u64) -> Option<u32> {
        match &self.table {
            Table::Empty => None,
            Table::Points(ring) => ring.locate(hash),
            Table::Ketama(ring) => ring.locate(u64::from(ketama_key_of(hash))),
            Table::Jump(t) => t.locate(hash),
            Table::Maglev(t) => Some(t.locate(hash)),
            Table::MultiProbe { ring, probes } => ring.multi_probe(hash, *probes),
        }
    }

    /// Up to `n` distinct workers for `path` in preference order: the owner
    /// first, then the fallbacks a reader should try. Fewer when the ring has
    /// fewer members (or, under capacity weighting, fewer with capacity).
    pub fn locate_n(&self, path: &str, n: usize) -> Vec<&Member> {
        let mut idx = Vec::with_capacity(n.min(self.members.len()));
        self.locate_n_indexes(path, n, &mut idx);
        idx.into_iter().map(|i| &self.members[i as usize]).collect()
    }

    /// [`Ring::locate_n`] into a caller's buffer of member indexes (cleared
    /// first), so hot paths can reuse one allocation. MULTI_PROBE still
    /// allocates a small scratch list of its probes.
    pub fn locate_n_indexes(&self, path: &str, n: usize, out: &mut Vec<u32>) {
        out.clear();
        if n == 0 {
            return;
        }
        match &self.table {
            Table::Empty => {}
            Table::Points(ring) => ring.locate_n(path_hash(path), n, out),
            Table::Ketama(ring) => ring.locate_n(u64::from(ketama_key_of(path_hash(path))), n, out),
            Table::Jump(t) => t.locate_n(path_hash(path), n, out),
            Table::Maglev(t) => t.locate_n(path_hash(path), n, self.members.len(), out),
            Table::MultiProbe { ring, probes } => {
                ring.multi_probe_n(path_hash(path), *probes, n, out)
            }
        }
    }

    /// JUMP's slot layout as worker ids (None = vacant); None for other policies.
    pub fn jump_slots(&self) -> Option<Vec<Option<&str>>> {
        match &self.table {
            Table::Jump(t) => Some(
                t.slots()
                    .iter()
                    .map(|&s| (s != VACANT).then(|| self.members[s as usize].id.as_str()))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Number of points, table entries or slots: a rough size of the table.
    pub fn table_len(&self) -> usize {
        match &self.table {
            Table::Empty => 0,
            Table::Points(r) | Table::Ketama(r) | Table::MultiProbe { ring: r, .. } => r.len(),
            Table::Jump(t) => t.slots().len(),
            Table::Maglev(_) => self.config.maglev_table_size as usize,
        }
    }

    /// Fraction of the key space per member (indexed like [`Ring::members`]),
    /// and whether it is exact (computed from the table) rather than sampled.
    pub(crate) fn raw_shares(&self) -> (Vec<f64>, bool) {
        let n = self.members.len();
        match &self.table {
            Table::Empty => (Vec::new(), true),
            Table::Points(r) | Table::Ketama(r) => (r.arc_shares(n), true),
            Table::Maglev(t) => (t.entry_shares(n), true),
            Table::Jump(t) => {
                let mut shares = vec![0.0; n];
                let each = 1.0 / f64::from(t.live());
                for &s in t.slots() {
                    if s != VACANT {
                        shares[s as usize] = each;
                    }
                }
                (shares, true)
            }
            Table::MultiProbe { .. } => {
                // No closed form: count a fixed, evenly spread sample of hashes.
                let mut counts = vec![0u64; n];
                for h in sample_hashes() {
                    if let Some(o) = self.owner_of_hash(h) {
                        counts[o as usize] += 1;
                    }
                }
                let shares = counts
                    .into_iter()
                    .map(|c| c as f64 / SAMPLE_HASHES as f64)
                    .collect();
                (shares, false)
            }
        }
    }
}

/// Size of the fixed hash sample used where no closed form exists.
pub(crate) const SAMPLE_HASHES: u64 = 1 << 16;

/// The same well-spread hashes every time, so estimates are reproducible.
pub(crate) fn sample_hashes() -> impl Iterator<Item = u64> {
    (0..SAMPLE_HASHES).map(|i| crate::hash::mix64(i.wrapping_mul(crate::hash::GOLDEN_GAMMA)))
}

/// A summary: the tables run to megabytes and would swamp any log line.
impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("policy", &self.config.policy)
            .field("epoch", &self.epoch)
            .field("members", &self.members.len())
            .field("table_len", &self.table_len())
            .finish_non_exhaustive()
    }
}

impl Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_spec().serialize(serializer)
    }
}

impl TryFrom<RingSpec> for Ring {
    type Error = RingError;

    fn try_from(spec: RingSpec) -> Result<Ring, RingError> {
        Ring::from_spec(spec)
    }
}

fn normalize(members: impl IntoIterator<Item = Member>) -> Result<Vec<Member>, RingError> {
    let mut members: Vec<Member> = members.into_iter().collect();
    if members.len() > MAX_WORKERS {
        return Err(RingError::TooManyWorkers {
            count: members.len(),
            max: MAX_WORKERS,
        });
    }
    if members.iter().any(|m| m.id.is_empty()) {
        return Err(RingError::EmptyWorkerId);
    }
    members.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = members.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(RingError::DuplicateWorker(w[0].id.clone()));
    }
    Ok(members)
}

fn id_index(members: &[Member]) -> HashMap<&str, u32> {
    members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i as u32))
        .collect()
}

/// Points per member. Unweighted: `base` each. Weighted: a member with the
/// reference capacity gets `base`, others `round(base * capacity / reference)`,
/// at least one for any capacity above zero. A member's count depends on its
/// own capacity and the reference only (never on the total), so joins and
/// departures leave other members' points alone while the reference holds.
fn point_counts(
    base: u32,
    members: usize,
    weights: Option<&[u64]>,
    reference: Option<u64>,
) -> Result<Vec<u64>, RingError> {
    let counts: Vec<u64> = match weights {
        None => vec![u64::from(base); members],
        Some(w) => {
            let largest = w.iter().copied().max().unwrap_or(0);
            let reference = u128::from(reference.unwrap_or(largest).max(1));
            w.iter()
                .map(|&c| {
                    if c == 0 {
                        0
                    } else {
                        let scaled = (u128::from(base) * u128::from(c) + reference / 2) / reference;
                        u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
                    }
                })
                .collect()
        }
    };
    let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
    if total > MAX_RING_POINTS {
        return Err(RingError::TooManyPoints {
            points: total,
            max: MAX_RING_POINTS,
        });
    }
    Ok(counts)
}

/// libketama's layout: MD5 of `"{id}-{k}"` for k = 0, 1, ..., each digest
/// giving four little-endian 32-bit points, truncated to `count` points.
fn ketama_points(id: &str, count: u64, owner: u32, out: &mut Vec<(u64, u32)>) {
    let mut k = 0u64;
    let mut left = count;
    let mut buf = String::with_capacity(id.len() + 21);
    while left > 0 {
        buf.clear();
        buf.push_str(id);
        buf.push('-');
        buf.push_str(&k.to_string());
        let d = md5(buf.as_bytes());
        for chunk in d.chunks_exact(4).take(left.min(4) as usize) {
            let p = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            out.push((u64::from(p), owner));
        }
        left = left.saturating_sub(4);
        k += 1;
    }
}
