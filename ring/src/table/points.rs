//! A sorted ring of points, shared by CONSISTENT, CAPACITY, KETAMA and MULTI_PROBE.

use crate::hash::derived;

/// Sorted points with their owners, plus a radix index over the top bits of
/// the hash space so a lookup touches one or two cache lines instead of
/// binary-searching the whole array.
#[derive(Clone, Debug)]
pub(crate) struct PointRing {
    points: Vec<u64>,
    owners: Vec<u32>,
    /// `index[b]` is the first position whose point's top bits are >= `b`;
    /// has `2^bits + 1` entries so `index[b + 1]` is always valid.
    index: Vec<u32>,
    shift: u32,
    /// 64 for XXH3 rings, 32 for KETAMA's libketama-compatible ring.
    space_bits: u32,
}

/// Cap on the radix index: 2^20 entries (4 MiB) is already far past the point
/// where it stops paying off.
const MAX_INDEX_BITS: u32 = 20;

/// Rings up to this many points are searched by counting instead.
const SMALL_RING: usize = 32;

impl PointRing {
    /// `entries` are `(point, owner)`; owners are member indexes in id order,
    /// so sorting by the pair breaks point collisions the same way everywhere.
    ///
    /// Collided points are kept, not deduplicated: a lookup lands on the first
    /// of them (the owner whose id sorts first), and a fallback walk passes the
    /// others next, which is exactly who owns the point once that owner leaves.
    /// Short ids collide often under seeded XXH3 (`"ea0"` seed 10 equals
    /// `"eaa"` seed 89), so this is not a theoretical case.
    pub(crate) fn new(mut entries: Vec<(u64, u32)>, space_bits: u32) -> PointRing {
        debug_assert!(space_bits == 64 || space_bits == 32);
        entries.sort_unstable();
        let points: Vec<u64> = entries.iter().map(|e| e.0).collect();
        let owners: Vec<u32> = entries.iter().map(|e| e.1).collect();

        let bits = if points.len() <= 1 {
            0
        } else {
            (usize::BITS - (points.len() - 1).leading_zeros()).min(MAX_INDEX_BITS)
        };
        let shift = space_bits - bits;
        let buckets = 1usize << bits;
        let mut index = Vec::with_capacity(buckets + 1);
        let mut pos = 0usize;
        for b in 0..=buckets as u64 {
            while pos < points.len() && bucket_of(points[pos], shift) < b {
                pos += 1;
            }
            index.push(pos as u32);
        }
        PointRing {
            points,
            owners,
            index,
            shift,
            space_bits,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// Position of the first point >= `hash`, wrapping past the top to 0.
    /// The ring must not be empty.
    #[inline]
    pub(crate) fn successor(&self, hash: u64) -> usize {
        if self.points.len() <= SMALL_RING {
            // A branch-free count beats the index for a handful of points
            // (MULTI_PROBE's one point per worker, probed 21 times a key).
            let i = self.points.iter().filter(|&&p| p < hash).count();
            return if i == self.points.len() { 0 } else { i };
        }
        let b = bucket_of(hash, self.shift) as usize;
        let lo = self.index[b] as usize;
        let hi = self.index[b + 1] as usize;
        let i = lo + self.points[lo..hi].partition_point(|&p| p < hash);
        if i == self.points.len() { 0 } else { i }
    }

    #[cfg(test)]
    pub(crate) fn point_at(&self, pos: usize) -> u64 {
        self.points[pos]
    }

    #[inline]
    pub(crate) fn locate(&self, hash: u64) -> Option<u32> {
        if self.points.is_empty() {
            return None;
        }
        Some(self.owners[self.successor(hash)])
    }

    /// Distinct owners clockwise from `start`, until `n` are found or the lap ends.
    pub(crate) fn walk_distinct(&self, start: usize, n: usize, out: &mut Vec<u32>) {
        let len = self.points.len();
        for step in 0..len {
            if out.len() >= n {
                return;
            }
            let owner = self.owners[(start + step) % len];
            if !out.contains(&owner) {
                out.push(owner);
            }
        }
    }

    pub(crate) fn locate_n(&self, hash: u64, n: usize, out: &mut Vec<u32>) {
        if self.points.is_empty() || n == 0 {
            return;
        }
        self.walk_distinct(self.successor(hash), n, out);
    }

    /// Each owner's fraction of the hash space: the arcs ending at its points.
    pub(crate) fn arc_shares(&self, members: usize) -> Vec<f64> {
        let mut arcs = vec![0u128; members];
        let len = self.points.len();
        let mask: u64 = if self.space_bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.space_bits) - 1
        };
        for i in 0..len {
            let prev = self.points[(i + len - 1) % len];
            // (prev, point] wrapping; a single point owns the whole space, and
            // so does the first of several that all collided.
            let arc = if self.points[0] == self.points[len - 1] {
                if i == 0 { u128::from(mask) + 1 } else { 0 }
            } else {
                u128::from(self.points[i].wrapping_sub(prev) & mask)
            };
            arcs[self.owners[i] as usize] += arc;
        }
        let space = (u128::from(mask) + 1) as f64;
        arcs.into_iter().map(|a| a as f64 / space).collect()
    }

    /// MULTI_PROBE: of `probes` derived positions, the one whose clockwise
    /// distance to the next point is smallest wins.
    #[inline]
    pub(crate) fn multi_probe(&self, hash: u64, probes: u32) -> Option<u32> {
        if self.points.is_empty() {
            return None;
        }
        let mut best = (u64::MAX, u32::MAX);
        for i in 0..u64::from(probes) {
            let probe = derived(hash, i);
            let pos = self.successor(probe);
            let candidate = (self.points[pos].wrapping_sub(probe), self.owners[pos]);
            if candidate < best {
                best = candidate;
            }
        }
        Some(best.1)
    }

    /// MULTI_PROBE preference order: owners by their best probe distance,
    /// then (if more are wanted than the probes reached) clockwise from the winner.
    pub(crate) fn multi_probe_n(&self, hash: u64, probes: u32, n: usize, out: &mut Vec<u32>) {
        if self.points.is_empty() || n == 0 {
            return;
        }
        let mut candidates: Vec<(u64, u32, usize)> = (0..u64::from(probes))
            .map(|i| {
                let probe = derived(hash, i);
                let pos = self.successor(probe);
                (self.points[pos].wrapping_sub(probe), self.owners[pos], pos)
            })
            .collect();
        candidates.sort_unstable();
        let winner_pos = candidates[0].2;
        for (_, owner, _) in &candidates {
            if out.len() >= n {
                return;
            }
            if !out.contains(owner) {
                out.push(*owner);
            }
        }
        self.walk_distinct(winner_pos, n, out);
    }
}

#[inline]
fn bucket_of(hash: u64, shift: u32) -> u64 {
    if shift >= 64 { 0 } else { hash >> shift }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::mix64;

    fn brute_successor(points: &[u64], h: u64) -> usize {
        points.iter().position(|&p| p >= h).unwrap_or(0)
    }

    #[test]
    fn radix_index_agrees_with_a_linear_scan() {
        for (count, space) in [
            (1usize, 64u32),
            (2, 64),
            (7, 64),
            (32, 64),
            (33, 64),
            (1000, 64),
            (333, 32),
        ] {
            let mask = if space == 64 {
                u64::MAX
            } else {
                u32::MAX as u64
            };
            let entries: Vec<(u64, u32)> = (0..count as u64)
                .map(|i| (mix64(i + 1) & mask, (i % 5) as u32))
                .collect();
            let ring = PointRing::new(entries, space);
            for k in 0..5000u64 {
                let h = mix64(k ^ 0xabcdef) & mask;
                assert_eq!(ring.successor(h), brute_successor(&ring.points, h));
            }
            // Exact hits and the extremes.
            for &p in ring.points.clone().iter() {
                assert_eq!(ring.point_at(ring.successor(p)), p);
            }
            assert_eq!(ring.successor(0), 0);
            assert_eq!(ring.successor(mask), brute_successor(&ring.points, mask));
        }
    }

    #[test]
    fn arcs_cover_the_whole_space() {
        let entries: Vec<(u64, u32)> = (0..100u64).map(|i| (mix64(i), (i % 3) as u32)).collect();
        let ring = PointRing::new(entries, 64);
        let total: f64 = ring.arc_shares(3).iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let single = PointRing::new(vec![(42, 0)], 32);
        assert_eq!(single.arc_shares(1), vec![1.0]);
    }

    #[test]
    fn collided_points_go_to_the_lowest_owner() {
        let ring = PointRing::new(vec![(10, 3), (10, 1), (20, 2)], 64);
        assert_eq!(ring.locate(5), Some(1));
        assert_eq!(ring.locate(10), Some(1));
        assert_eq!(ring.locate(11), Some(2));
        assert_eq!(ring.locate(21), Some(1));
        // The collided owner is the first fallback, and owns the point once 1 leaves.
        let mut prefs = Vec::new();
        ring.locate_n(5, 3, &mut prefs);
        assert_eq!(prefs, vec![1, 3, 2]);
        let shares = ring.arc_shares(4);
        assert_eq!(shares[3], 0.0);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let all_collided = PointRing::new(vec![(7, 2), (7, 0)], 64);
        assert_eq!(all_collided.arc_shares(3), vec![1.0, 0.0, 0.0]);
    }
}
