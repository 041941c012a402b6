//! Eviction order over page slots, in flat arrays: twelve bytes per slot and
//! no allocation per page, so a million cached pages cost 12 MB here
//! (plus the `Vec`'s spare capacity).
//!
//! All three policies are one structure: a list of buckets, each a doubly
//! linked list of slots. LRU and FIFO keep a single bucket; LFU keeps one
//! bucket per access count in use, in ascending order (the O(1) LFU scheme of
//! Shah, Mitra and Matani), so a victim is always the head of the first
//! bucket and a read moves its slot by at most one bucket.
//!
//! The slots are split into partitions, each with its own policy and bucket
//! list over the one shared node array: a tenant's pages are one partition,
//! evicted in the tenant's order, and pages of no tenant are partition 0.
//! A slot is in at most one partition, so tenants cost no memory per page.

use crate::options::EvictorKind;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    prev: u32,
    next: u32,
    /// The bucket holding the slot, or NIL when the slot is not tracked.
    bucket: u32,
}

const UNLINKED: Node = Node {
    prev: NIL,
    next: NIL,
    bucket: NIL,
};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Reads plus one (LFU); always 1 for LRU and FIFO.
    count: u32,
    head: u32,
    tail: u32,
    prev: u32,
    /// Next bucket in ascending count, or, for a free bucket, the next free one.
    next: u32,
    partition: u32,
}

#[derive(Clone, Copy, Debug)]
struct Partition {
    kind: EvictorKind,
    first_bucket: u32,
    len: usize,
}

/// The eviction order of page slots numbered by the index.
#[derive(Debug)]
pub(crate) struct Evictor {
    partitions: Vec<Partition>,
    nodes: Vec<Node>,
    buckets: Vec<Bucket>,
    free_buckets: u32,
}

impl Evictor {
    /// An evictor with one partition, 0, of policy `kind`.
    pub fn new(kind: EvictorKind) -> Evictor {
        let mut evictor = Evictor {
            partitions: Vec::new(),
            nodes: Vec::new(),
            buckets: Vec::new(),
            free_buckets: NIL,
        };
        evictor.set_partitions(&[kind]);
        evictor
    }

    /// Replaces the partitions by empty ones of these policies; every slot
    /// must have been removed first (the index drains and re-inserts them).
    pub fn set_partitions(&mut self, kinds: &[EvictorKind]) {
        debug_assert!(self.partitions.iter().all(|p| p.len == 0));
        self.partitions = kinds
            .iter()
            .map(|&kind| Partition {
                kind,
                first_bucket: NIL,
                len: 0,
            })
            .collect();
        self.buckets.clear();
        self.free_buckets = NIL;
    }

    /// Slots tracked in `partition`.
    pub fn len(&self, partition: u32) -> usize {
        self.partitions.get(partition as usize).map_or(0, |p| p.len)
    }

    /// Heap bytes held, for the memory report.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>() + self.buckets.capacity() * size_of::<Bucket>()
    }

    /// Starts tracking `slot` in `partition` as its newest page (once
    /// cached, not yet read). A slot already tracked counts as read.
    pub fn insert(&mut self, slot: u32, partition: u32) {
        if slot == NIL || partition as usize >= self.partitions.len() {
            return;
        }
        let at = slot as usize;
        if self.nodes.len() <= at {
            self.nodes.resize(at + 1, UNLINKED);
        }
        if self.nodes[at].bucket != NIL {
            self.touch(slot);
            return;
        }
        let first = self.partitions[partition as usize].first_bucket;
        let bucket = if first != NIL && self.buckets[first as usize].count == 1 {
            first
        } else {
            self.new_bucket(partition, 1, NIL)
        };
        self.push_back(bucket, slot);
        self.partitions[partition as usize].len += 1;
    }

    /// Records a read of `slot`.
    pub fn touch(&mut self, slot: u32) {
        let Some(node) = self.nodes.get(slot as usize).copied() else {
            return;
        };
        if node.bucket == NIL {
            return;
        }
        let partition = self.buckets[node.bucket as usize].partition;
        match self.partitions[partition as usize].kind {
            EvictorKind::Fifo => {}
            EvictorKind::Lru => {
                self.unlink(slot);
                self.push_back(node.bucket, slot);
            }
            EvictorKind::Lfu => {
                let from = node.bucket;
                let count = self.buckets[from as usize].count;
                if count == u32::MAX {
                    self.unlink(slot);
                    self.push_back(from, slot);
                    return;
                }
                let next = self.buckets[from as usize].next;
                let to = if next != NIL && self.buckets[next as usize].count == count + 1 {
                    next
                } else {
                    self.new_bucket(partition, count + 1, from)
                };
                self.unlink(slot);
                self.drop_bucket_if_empty(from);
                self.push_back(to, slot);
            }
        }
    }

    /// Stops tracking `slot`.
    pub fn remove(&mut self, slot: u32) {
        let Some(node) = self.nodes.get(slot as usize).copied() else {
            return;
        };
        if node.bucket == NIL {
            return;
        }
        let partition = self.buckets[node.bucket as usize].partition;
        self.unlink(slot);
        self.drop_bucket_if_empty(node.bucket);
        self.partitions[partition as usize].len -= 1;
    }

    /// The slot of `partition` to evict next, left in place.
    pub fn victim(&self, partition: u32) -> Option<u32> {
        let mut bucket = self.partitions.get(partition as usize)?.first_bucket;
        while bucket != NIL {
            let b = self.buckets[bucket as usize];
            if b.head != NIL {
                return Some(b.head);
            }
            bucket = b.next;
        }
        None
    }

    /// The slots of `partition`, first to evict first.
    pub fn order(&self, partition: u32) -> Vec<u32> {
        let mut order = Vec::with_capacity(self.len(partition));
        let mut bucket = self
            .partitions
            .get(partition as usize)
            .map_or(NIL, |p| p.first_bucket);
        while bucket != NIL {
            let b = self.buckets[bucket as usize];
            let mut slot = b.head;
            while slot != NIL {
                order.push(slot);
                slot = self.nodes[slot as usize].next;
            }
            bucket = b.next;
        }
        order
    }

    /// Creates a bucket of `partition` for `count` right after `after` (or
    /// first, for NIL).
    fn new_bucket(&mut self, partition: u32, count: u32, after: u32) -> u32 {
        let fresh = Bucket {
            count,
            head: NIL,
            tail: NIL,
            prev: after,
            next: if after == NIL {
                self.partitions[partition as usize].first_bucket
            } else {
                self.buckets[after as usize].next
            },
            partition,
        };
        let id = if self.free_buckets != NIL {
            let id = self.free_buckets;
            self.free_buckets = self.buckets[id as usize].next;
            self.buckets[id as usize] = fresh;
            id
        } else {
            self.buckets.push(fresh);
            (self.buckets.len() - 1) as u32
        };
        if fresh.next != NIL {
            self.buckets[fresh.next as usize].prev = id;
        }
        if after == NIL {
            self.partitions[partition as usize].first_bucket = id;
        } else {
            self.buckets[after as usize].next = id;
        }
        id
    }

    fn drop_bucket_if_empty(&mut self, id: u32) {
        let Bucket {
            prev,
            next,
            partition,
            head,
            ..
        } = self.buckets[id as usize];
        // LRU and FIFO keep their one bucket for good.
        if self.partitions[partition as usize].kind != EvictorKind::Lfu || head != NIL {
            return;
        }
        if prev == NIL {
            self.partitions[partition as usize].first_bucket = next;
        } else {
            self.buckets[prev as usize].next = next;
        }
        if next != NIL {
            self.buckets[next as usize].prev = prev;
        }
        self.buckets[id as usize].next = self.free_buckets;
        self.free_buckets = id;
    }

    fn push_back(&mut self, bucket: u32, slot: u32) {
        let tail = self.buckets[bucket as usize].tail;
        self.nodes[slot as usize] = Node {
            prev: tail,
            next: NIL,
            bucket,
        };
        if tail == NIL {
            self.buckets[bucket as usize].head = slot;
        } else {
            self.nodes[tail as usize].next = slot;
        }
        self.buckets[bucket as usize].tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let Node { prev, next, bucket } = self.nodes[slot as usize];
        if prev == NIL {
            self.buckets[bucket as usize].head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.buckets[bucket as usize].tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[slot as usize] = UNLINKED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evicts everything, returning the order.
    fn drain(evictor: &mut Evictor) -> Vec<u32> {
        let listed = evictor.order(0);
        let mut order = Vec::new();
        while let Some(slot) = evictor.victim(0) {
            evictor.remove(slot);
            order.push(slot);
        }
        assert_eq!(evictor.len(0), 0);
        assert_eq!(listed, order, "order() lists the eviction order");
        order
    }

    fn with(kind: EvictorKind, slots: &[u32], reads: &[u32]) -> Vec<u32> {
        let mut evictor = Evictor::new(kind);
        for &slot in slots {
            evictor.insert(slot, 0);
        }
        for &slot in reads {
            evictor.touch(slot);
        }
        drain(&mut evictor)
    }

    #[test]
    fn fifo_ignores_reads() {
        assert_eq!(
            with(EvictorKind::Fifo, &[3, 1, 2], &[3, 3, 1]),
            vec![3, 1, 2]
        );
    }

    #[test]
    fn lru_evicts_least_recently_read() {
        assert_eq!(with(EvictorKind::Lru, &[3, 1, 2], &[3]), vec![1, 2, 3]);
        assert_eq!(
            with(EvictorKind::Lru, &[3, 1, 2], &[2, 1, 3]),
            vec![2, 1, 3]
        );
    }

    #[test]
    fn lfu_evicts_least_often_read_then_least_recent() {
        // 0 read three times, 1 once, 2 twice, 3 never, 4 once after 1.
        let order = with(EvictorKind::Lfu, &[0, 1, 2, 3, 4], &[0, 2, 0, 1, 2, 4, 0]);
        assert_eq!(order, vec![3, 1, 4, 2, 0]);
    }

    #[test]
    fn lfu_reuses_buckets_and_survives_removal_mid_order() {
        let mut evictor = Evictor::new(EvictorKind::Lfu);
        for slot in 0..4 {
            evictor.insert(slot, 0);
        }
        for _ in 0..5 {
            evictor.touch(2);
        }
        evictor.touch(1);
        evictor.remove(1);
        evictor.remove(1);
        evictor.insert(9, 0);
        evictor.touch(9);
        assert_eq!(drain(&mut evictor), vec![0, 3, 9, 2]);
        assert!(evictor.buckets.len() <= 6, "{}", evictor.buckets.len());
        // Emptied buckets come back from the free list.
        evictor.insert(0, 0);
        evictor.touch(0);
        evictor.touch(0);
        assert_eq!(drain(&mut evictor), vec![0]);
        assert!(evictor.buckets.len() <= 6);
    }

    #[test]
    fn operations_on_unknown_slots_are_harmless() {
        for kind in EvictorKind::ALL {
            let mut evictor = Evictor::new(kind);
            evictor.touch(5);
            evictor.remove(5);
            evictor.insert(NIL, 0);
            evictor.insert(2, 0);
            evictor.insert(2, 0);
            evictor.remove(7);
            assert_eq!(evictor.len(0), 1);
            assert_eq!(drain(&mut evictor), vec![2]);
        }
    }

    #[test]
    fn lfu_saturates_instead_of_overflowing() {
        let mut evictor = Evictor::new(EvictorKind::Lfu);
        evictor.insert(0, 0);
        evictor.insert(1, 0);
        let bucket = evictor.nodes[0].bucket;
        evictor.buckets[bucket as usize].count = u32::MAX - 1;
        // Slot 1 shared the bucket, so give it its own first.
        evictor.remove(1);
        evictor.touch(0);
        evictor.touch(0);
        evictor.insert(1, 0);
        assert_eq!(drain(&mut evictor), vec![1, 0]);
    }

    #[test]
    fn partitions_keep_their_own_order_and_policy() {
        let mut evictor = Evictor::new(EvictorKind::Lru);
        evictor.remove(0);
        evictor.set_partitions(&[EvictorKind::Lru, EvictorKind::Fifo, EvictorKind::Lfu]);
        for slot in 0..9 {
            evictor.insert(slot, slot % 3);
        }
        for slot in [0, 1, 2, 4, 4, 5] {
            evictor.touch(slot);
        }
        assert_eq!(evictor.order(0), vec![3, 6, 0]);
        assert_eq!(evictor.order(1), vec![1, 4, 7]);
        assert_eq!(evictor.order(2), vec![8, 2, 5]);
        assert_eq!(evictor.victim(1), Some(1));
        evictor.remove(1);
        assert_eq!((evictor.len(0), evictor.len(1), evictor.len(2)), (3, 2, 3));
        assert_eq!(
            evictor.victim(3),
            None,
            "an unknown partition has no victim"
        );
        evictor.insert(20, 7);
        assert_eq!(evictor.order(7), Vec::<u32>::new());
    }
}
