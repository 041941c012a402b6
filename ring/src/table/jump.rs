//! JUMP: jump consistent hash over slots, with a remapping layer for departures.
//!
//! Plain jump hash can only shrink from the end: removing bucket 3 of 10 would
//! renumber everything after it. Here buckets are *slots* holding a worker or
//! nothing. A departed worker leaves its slot vacant; a key whose jump lands on
//! a vacant slot draws again with a derived hash (uniform over all slots, so
//! uniform over the live ones), and after [`MAX_DRAWS`] draws falls back to the
//! next live slot clockwise. Joining workers fill vacancies (lowest slot first)
//! before new slots are appended.
//!
//! Why this keeps movement minimal: a key's sequence of draws depends only on
//! its hash and the slot count, and growing the slot count only ever turns a
//! draw into one of the new slots (jump's own guarantee). So filling or
//! appending a slot can only make a key stop earlier, at the new worker; and
//! vacating one only makes the keys that stopped there draw on, to the worker
//! that [`JumpTable::locate_n`] named as their first fallback.
//!
//! Vacancies cost a re-draw per lookup that hits one; a cluster that shrank a
//! lot can be compacted with `Ring::new` at the price of a full reshuffle.

use crate::error::RingError;
use crate::hash::{derived, jump};

pub(crate) const VACANT: u32 = u32::MAX;

/// After this many draws a key takes the next live slot clockwise instead.
/// With half the slots vacant that happens to one key in 2^64.
pub(crate) const MAX_DRAWS: u64 = 64;

/// Slots beyond this are refused rather than allocated.
pub(crate) const MAX_SLOTS: usize = 1 << 22;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JumpTable {
    /// Member index per slot, or [`VACANT`].
    slots: Vec<u32>,
    live: u32,
}

impl JumpTable {
    /// Slot `i` holds member `i`: the layout of a ring built from scratch.
    pub(crate) fn compact(members: usize) -> JumpTable {
        JumpTable {
            slots: (0..members as u32).collect(),
            live: members as u32,
        }
    }

    /// Validates a layout read from outside: every member exactly once.
    pub(crate) fn from_slots(slots: Vec<u32>, members: usize) -> Result<JumpTable, RingError> {
        if slots.len() > MAX_SLOTS {
            return Err(RingError::InvalidJumpSlots(format!(
                "{} slots, at most {MAX_SLOTS} allowed",
                slots.len()
            )));
        }
        let mut seen = vec![false; members];
        for &s in &slots {
            if s == VACANT {
                continue;
            }
            let Some(flag) = seen.get_mut(s as usize) else {
                return Err(RingError::InvalidJumpSlots(format!(
                    "slot refers to member #{s}, there are {members}"
                )));
            };
            if *flag {
                return Err(RingError::InvalidJumpSlots(
                    "a worker holds more than one slot".to_owned(),
                ));
            }
            *flag = true;
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(RingError::InvalidJumpSlots(format!(
                "member #{missing} has no slot"
            )));
        }
        let mut table = JumpTable {
            live: members as u32,
            slots,
        };
        if members == 0 {
            // Nothing is placed anywhere, so there is nothing to keep stable.
            table.slots.clear();
        }
        Ok(table)
    }

    /// The layout after a membership change. `old_slots` names each old slot's
    /// worker (None = vacant); `new_index` gives a surviving worker's index in
    /// the new member list; `joining` are the new members' indexes in id order.
    pub(crate) fn evolve(
        old_slots: &[Option<&str>],
        new_index: impl Fn(&str) -> Option<u32>,
        joining: &[u32],
    ) -> Result<JumpTable, RingError> {
        let mut slots: Vec<u32> = old_slots
            .iter()
            .map(|id| id.and_then(&new_index).unwrap_or(VACANT))
            .collect();
        let mut joining = joining.iter().copied();
        for slot in slots.iter_mut() {
            if *slot == VACANT {
                match joining.next() {
                    Some(i) => *slot = i,
                    None => break,
                }
            }
        }
        slots.extend(joining);
        // Vacated slots stay, even at the end: dropping a trailing one would
        // still move only the departed worker's keys, but they would land by
        // `jump(h, n - 1)` instead of the next draw, and the next draw is
        // what `locate_n` offers readers as the first fallback.
        let members = slots.iter().filter(|&&s| s != VACANT).count();
        JumpTable::from_slots(slots, members)
    }

    pub(crate) fn slots(&self) -> &[u32] {
        &self.slots
    }

    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    #[inline]
    pub(crate) fn locate(&self, hash: u64) -> Option<u32> {
        if self.live == 0 {
            return None;
        }
        let n = self.slots.len() as u32;
        let mut slot = jump(hash, n);
        let mut draw = 0;
        loop {
            let owner = self.slots[slot as usize];
            if owner != VACANT {
                return Some(owner);
            }
            draw += 1;
            if draw == MAX_DRAWS {
                return self.probe(slot as usize);
            }
            slot = jump(derived(hash, draw), n);
        }
    }

    #[cold]
    fn probe(&self, from: usize) -> Option<u32> {
        let len = self.slots.len();
        (1..=len)
            .map(|step| self.slots[(from + step) % len])
            .find(|&s| s != VACANT)
    }

    /// Distinct workers in the order the draws reach them, then clockwise:
    /// when the first choice leaves, the second becomes the owner.
    pub(crate) fn locate_n(&self, hash: u64, n: usize, out: &mut Vec<u32>) {
        if self.live == 0 || n == 0 {
            return;
        }
        let want = n.min(self.live as usize);
        let slots_n = self.slots.len() as u32;
        let mut slot = jump(hash, slots_n);
        for draw in 1..=MAX_DRAWS {
            let owner = self.slots[slot as usize];
            if owner != VACANT && !out.contains(&owner) {
                out.push(owner);
                if out.len() >= want {
                    return;
                }
            }
            if draw < MAX_DRAWS {
                slot = jump(derived(hash, draw), slots_n);
            }
        }
        let len = self.slots.len();
        for step in 1..=len {
            let owner = self.slots[(slot as usize + step) % len];
            if owner != VACANT && !out.contains(&owner) {
                out.push(owner);
                if out.len() >= want {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::mix64;

    #[test]
    fn without_vacancies_it_is_plain_jump() {
        let t = JumpTable::compact(10);
        for k in 0..10_000u64 {
            let h = mix64(k);
            assert_eq!(t.locate(h), Some(jump(h, 10)));
        }
    }

    #[test]
    fn vacancies_are_filled_before_appending() {
        let old = [Some("a"), Some("b"), Some("c")];
        // b leaves, d and e join (indexes in the new member list a, c, d, e).
        let t = JumpTable::evolve(
            &old,
            |id| match id {
                "a" => Some(0),
                "c" => Some(1),
                _ => None,
            },
            &[2, 3],
        )
        .unwrap();
        assert_eq!(t.slots(), &[0, 2, 1, 3]);
    }

    #[test]
    fn departures_leave_vacancies_even_at_the_end() {
        let old = [Some("a"), None, Some("c")];
        let t = JumpTable::evolve(&old, |id| (id == "a").then_some(0), &[]).unwrap();
        assert_eq!(t.slots(), &[0, VACANT, VACANT]);
    }

    #[test]
    fn probing_fallback_finds_the_live_slot() {
        // One live slot among many vacancies forces the fallback for some keys.
        let mut slots = vec![VACANT; 1000];
        slots[500] = 0;
        let t = JumpTable::from_slots(slots, 1).unwrap();
        for k in 0..2000u64 {
            assert_eq!(t.locate(mix64(k)), Some(0));
        }
    }

    #[test]
    fn rejects_inconsistent_layouts() {
        assert!(JumpTable::from_slots(vec![0, 0], 1).is_err());
        assert!(JumpTable::from_slots(vec![0], 2).is_err());
        assert!(JumpTable::from_slots(vec![5], 1).is_err());
    }
}
