//! MAGLEV: Google's Maglev lookup table (Eisenbud et al., NSDI 2016).

use crate::hash::{MAGLEV_OFFSET_SEED, MAGLEV_SKIP_SEED, fast_range, worker_point};

#[derive(Clone, Debug)]
pub(crate) struct MaglevTable {
    table: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

impl MaglevTable {
    /// Fills a prime-sized table from each worker's permutation
    /// `(offset + j * skip) mod size`. Workers take turns; with weights the
    /// turns follow smooth weighted round robin, so a worker's entry count is
    /// proportional to its weight and turns stay interleaved (which keeps the
    /// table's disruption close to the unweighted one). A worker of weight 0
    /// gets no turn. `weights` is None for equal weights.
    pub(crate) fn new(ids: &[&str], weights: Option<&[u64]>, size: u32) -> MaglevTable {
        let m = u64::from(size);
        let mut position: Vec<u64> = Vec::with_capacity(ids.len());
        let mut skip: Vec<u64> = Vec::with_capacity(ids.len());
        for id in ids {
            position.push(worker_point(id, MAGLEV_OFFSET_SEED) % m);
            skip.push(worker_point(id, MAGLEV_SKIP_SEED) % (m - 1) + 1);
        }
        let mut table = vec![EMPTY; size as usize];
        let mut take_turn = |i: usize, table: &mut Vec<u32>| loop {
            // Each permutation visits every entry once (size is prime), and a
            // worker only skips entries that are already taken, so this ends.
            let c = position[i] as usize;
            position[i] = (position[i] + skip[i]) % m;
            if table[c] == EMPTY {
                table[c] = i as u32;
                return;
            }
        };

        let mut filled = 0u64;
        match weights {
            None => 'fill: loop {
                for i in 0..ids.len() {
                    take_turn(i, &mut table);
                    filled += 1;
                    if filled == m {
                        break 'fill;
                    }
                }
            },
            Some(weights) => {
                let total: i128 = weights.iter().map(|&w| i128::from(w)).sum();
                let mut current = vec![0i128; ids.len()];
                while filled < m {
                    let mut pick = usize::MAX;
                    for (i, &w) in weights.iter().enumerate() {
                        if w == 0 {
                            continue;
                        }
                        current[i] += i128::from(w);
                        if pick == usize::MAX || current[i] > current[pick] {
                            pick = i;
                        }
                    }
                    current[pick] -= total;
                    take_turn(pick, &mut table);
                    filled += 1;
                }
            }
        }
        MaglevTable { table }
    }

    #[inline]
    pub(crate) fn locate(&self, hash: u64) -> u32 {
        self.table[fast_range(hash, self.table.len() as u32) as usize]
    }

    /// Distinct workers in table order from the key's entry.
    pub(crate) fn locate_n(&self, hash: u64, n: usize, members: usize, out: &mut Vec<u32>) {
        let want = n.min(members);
        let len = self.table.len();
        let start = fast_range(hash, len as u32) as usize;
        for step in 0..len {
            if out.len() >= want {
                return;
            }
            let owner = self.table[(start + step) % len];
            if !out.contains(&owner) {
                out.push(owner);
            }
        }
    }

    pub(crate) fn entry_shares(&self, members: usize) -> Vec<f64> {
        let mut counts = vec![0u64; members];
        for &owner in &self.table {
            counts[owner as usize] += 1;
        }
        let len = self.table.len() as f64;
        counts.into_iter().map(|c| c as f64 / len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_workers_get_equal_entries() {
        let ids = ["a", "b", "c", "d", "e", "f", "g"];
        let t = MaglevTable::new(&ids, None, 65_537);
        let shares = t.entry_shares(ids.len());
        for s in shares {
            // Round robin: counts differ by at most one entry.
            assert!((s * 65_537.0 - 65_537.0 / 7.0).abs() <= 1.0, "{s}");
        }
    }

    #[test]
    fn weights_give_proportional_entries() {
        let ids = ["a", "b", "c"];
        let t = MaglevTable::new(&ids, Some(&[1, 2, 4]), 65_537);
        let shares = t.entry_shares(3);
        for (s, w) in shares.iter().zip([1.0, 2.0, 4.0]) {
            assert!((s - w / 7.0).abs() < 1e-3, "{shares:?}");
        }
        let t = MaglevTable::new(&ids, Some(&[0, 1, 1]), 101);
        assert_eq!(t.entry_shares(3)[0], 0.0);
    }
}
