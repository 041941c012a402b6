//! Read buffers that go back to a pool when the last `Bytes` of them drops.
//!
//! A cache miss reads a page into a buffer that is then shared by the HTTP
//! response and the page store write, and freed when both are done; a hit
//! reads a page file into one that the response frees. Freed megabyte
//! buffers go back to the kernel, so every fresh one faults in (and zeroes)
//! 256 pages: a profile of a miss put 13% of the worker's CPU there, of a
//! warm hit 30%. Recycling them makes the faults a one-time cost.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Free bytes the pool keeps at most; beyond that, buffers are freed.
const MAX_FREE_BYTES: usize = 32 << 20;

/// Buffers the pool keeps are at least this big: small reads are cheap to
/// allocate, and would only crowd out the page-sized buffers.
const MIN_POOLED_BYTES: usize = 64 << 10;

/// Buffers of about a page each, kept for the next read while at most
/// `MAX_FREE_BYTES` of them are free.
///
/// A buffer is handed out at the length asked for, filled with whatever an
/// earlier read left in it: readers overwrite it (and truncate it to what
/// they read), and reads that need initialized memory (`RWF_NOWAIT`
/// `preadv2`) need not zero it first. Every free buffer is initialized to its
/// capacity, so handing one out never writes to it.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A buffer of `len` bytes of unspecified content, reused when a free
    /// one is no more than twice as big.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let reused = {
            let mut free = self.lock();
            // Most buffers are page-sized; one that does not fit (a read
            // shorter than half a page, or the short last page of a file
            // asking) stays for a read it fits.
            let fits = |buf: &Vec<u8>| buf.capacity() >= len && len >= buf.capacity() / 2;
            free.iter().rposition(fits).map(|at| free.swap_remove(at))
        };
        match reused {
            Some(mut buf) => {
                buf.truncate(len);
                buf
            }
            None => vec![0; len],
        }
    }

    /// Wraps a filled buffer; it comes back here when the last clone of the
    /// returned bytes (or of any slice of them) drops.
    pub fn share(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        })
    }

    /// Keeps a buffer for the next read, if there is room for it. When the
    /// pool is full, the buffer takes the place of a smaller free one, so
    /// that buffers of short reads cannot crowd out the page-sized ones.
    pub fn give_back(&self, mut buf: Vec<u8>) {
        let size = buf.capacity();
        if !(MIN_POOLED_BYTES..=MAX_FREE_BYTES).contains(&size) {
            return;
        }
        let mut free = self.lock();
        let mut held: usize = free.iter().map(Vec::capacity).sum();
        let smaller: usize = free.iter().map(Vec::capacity).filter(|&c| c < size).sum();
        if held - smaller + size > MAX_FREE_BYTES {
            return;
        }
        while held + size > MAX_FREE_BYTES {
            // Some smaller buffer is left: the check above made sure.
            let Some(at) = (0..free.len()).min_by_key(|&at| free[at].capacity()) else {
                return;
            };
            held -= free.swap_remove(at).capacity();
        }
        // Zeroes what a read left out: the tail of a short one (`take`
        // hands out at least half of a buffer), or all of one a read did
        // not use.
        buf.resize(size, 0);
        free.push(buf);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A Vec of buffers cannot be left half-changed by a panic.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_last_bytes_drop() {
        let pool = Arc::new(BufferPool::default());
        let page = 2 * MIN_POOLED_BYTES;
        let mut buf = pool.take(page);
        assert_eq!(buf.len(), page);
        buf.fill(7);
        let address = buf.as_ptr();
        let bytes = pool.share(buf);
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert!(pool.lock().is_empty(), "a slice still holds it");
        assert_eq!(slice, &[7; 10][..]);
        drop(slice);
        // Handed out again at the length asked for, holding what was there.
        let mut again = pool.take(page - 100);
        assert_eq!(again.as_ptr(), address);
        assert_eq!(again, vec![7; page - 100]);
        // A short read truncates it; back in the pool it is whole again.
        again.truncate(page / 2);
        pool.give_back(again);
        let whole = pool.take(page);
        assert_eq!(whole.as_ptr(), address);
        assert_eq!(&whole[..page / 2], &vec![7; page / 2][..]);
        assert_eq!(&whole[page / 2..], &vec![0; page / 2][..]);
        pool.give_back(whole);
        // Too small for the next ask, or more than twice too big: a new one,
        // and the pooled buffer stays.
        let bigger = pool.take(2 * page);
        assert_ne!(bigger.as_ptr(), address);
        assert_eq!(bigger.len(), 2 * page);
        let small = pool.take(page / 2 - 1);
        assert_ne!(small.as_ptr(), address);
        assert_eq!(pool.lock().len(), 1);
        // Small buffers are not kept.
        pool.give_back(small);
        assert_eq!(pool.lock().len(), 1);
        // One of a short last page, kept on top, does not hide the page one
        // from the next read of a page.
        pool.give_back(vec![1; page * 3 / 4]);
        assert_eq!(pool.lock().len(), 2);
        let again = pool.take(page);
        assert_eq!(again.as_ptr(), address);
        assert_eq!(pool.take(page / 2), vec![1; page / 2]);
    }

    #[test]
    fn a_full_pool_keeps_the_bigger_buffers() {
        let pool = Arc::new(BufferPool::default());
        let small = MIN_POOLED_BYTES;
        for _ in 0..MAX_FREE_BYTES / small {
            pool.give_back(vec![1; small]);
        }
        assert_eq!(pool.lock().len(), MAX_FREE_BYTES / small);
        // A page-sized buffer replaces as many small ones as it needs room.
        let page = 16 * small;
        pool.give_back(vec![2; page]);
        let sizes: Vec<usize> = pool.lock().iter().map(Vec::capacity).collect();
        assert_eq!(sizes.iter().sum::<usize>(), MAX_FREE_BYTES);
        assert_eq!(sizes.iter().filter(|&&c| c == page).count(), 1);
        assert_eq!(pool.take(page), vec![2; page]);
        // A small one does not replace a bigger one, nor is one beyond the
        // pool's whole budget kept.
        pool.give_back(vec![3; page]);
        pool.give_back(vec![4; small]);
        pool.give_back(vec![5; 2 * MAX_FREE_BYTES]);
        assert!(pool.lock().iter().all(|b| b.capacity() <= page));
        assert_eq!(pool.take(page), vec![3; page]);
    }

    #[test]
    fn the_pool_keeps_a_bounded_amount() {
        let pool = Arc::new(BufferPool::default());
        let page = 4 << 20;
        let all: Vec<Bytes> = (0..2 * MAX_FREE_BYTES / page)
            .map(|_| pool.share(pool.take(page)))
            .collect();
        drop(all);
        let held: usize = pool.lock().iter().map(Vec::capacity).sum();
        assert!(held <= MAX_FREE_BYTES, "{held}");
        assert!(held >= MAX_FREE_BYTES - page, "{held}");
    }
}
