//! Bandwidth limits for jobs. A job's limit is split over the targets of a
//! pass in proportion to the bytes each has to move, and each target's share
//! evenly over its task slots; each task paces itself: it never gets ahead of
//! its rate, measured from the task's start, so the sum over busy slots stays
//! at or under the job's limit without any coordination between workers. In
//! proportion, not evenly, so that every target finishes at about the same
//! time and the job runs at its limit to the end instead of slowing down as
//! the targets with less to do finish first.

use std::time::{Duration, Instant};

/// Paces a stream of bytes to at most `rate` bytes per second on average
/// since it was made.
#[derive(Debug)]
pub struct Pacer {
    rate: Option<u64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    /// A pacer for `rate` bytes per second; `None` or 0 never waits.
    pub fn new(rate: Option<u64>) -> Pacer {
        Pacer {
            rate: rate.filter(|r| *r > 0),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// How long to wait at `now` before `bytes` more count as sent: until
    /// they and everything before them fit in the time since the start at
    /// the rate. Paying for each chunk in full, the first one too, keeps a
    /// run of short tasks (one small file each) from each getting a chunk
    /// for free.
    pub fn delay(&mut self, bytes: u64, now: Instant) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        self.sent += bytes;
        let due = self.start + Duration::from_secs_f64(self.sent as f64 / rate as f64);
        due.saturating_duration_since(now)
    }

    /// Waits until `bytes` more may be sent.
    pub async fn acquire(&mut self, bytes: u64) {
        let delay = self.delay(bytes, Instant::now());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// The rate of one task for a target that has `bytes` of the pass's `total`
/// to move, running `slots` tasks at once.
pub fn task_rate(limit: Option<u64>, bytes: u64, total: u64, slots: usize) -> Option<u64> {
    let slots = u128::from(u64::try_from(slots.max(1)).unwrap_or(u64::MAX));
    let (bytes, total) = (u128::from(bytes), u128::from(total.max(1)));
    limit.map(|l| {
        let share = u128::from(l) * bytes.min(total) / total / slots;
        u64::try_from(share).unwrap_or(u64::MAX).max(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unlimited_never_waits() {
        let mut p = Pacer::new(None);
        assert_eq!(p.delay(1 << 40, Instant::now()), Duration::ZERO);
        let mut p = Pacer::new(Some(0));
        assert_eq!(p.delay(1 << 40, Instant::now()), Duration::ZERO);
    }

    #[test]
    fn shares_follow_the_bytes_to_move() {
        assert_eq!(task_rate(Some(100), 1, 3, 1), Some(33));
        assert_eq!(task_rate(Some(100), 2, 3, 1), Some(66));
        assert_eq!(task_rate(Some(100), 2, 3, 2), Some(33));
        assert_eq!(task_rate(Some(2), 1, 8, 1), Some(1));
        assert_eq!(task_rate(Some(10), 5, 5, 0), Some(10));
        assert_eq!(
            task_rate(Some(u64::MAX), u64::MAX, u64::MAX, 1),
            Some(u64::MAX)
        );
        assert_eq!(task_rate(None, 1, 4, 1), None);
    }

    proptest! {
        /// Chunks paced back to back never run ahead of the rate, and
        /// sleep no more than needed.
        /// However the bytes fall over targets, the tasks that may run at
        /// once never add up past the limit (the 1 B/s floor aside), and
        /// each target's time to finish is the same within rounding.
        #[test]
        fn shares_never_add_up_past_the_limit(
            limit in 1_000u64..10_000_000_000,
            bytes in proptest::collection::vec(1u64..1_000_000_000_000, 1..20),
            slots in 1usize..8,
        ) {
            let total: u64 = bytes.iter().sum();
            let rates: Vec<u64> = bytes
                .iter()
                .map(|&b| task_rate(Some(limit), b, total, slots).unwrap())
                .collect();
            let sum: u128 = rates.iter().map(|&r| u128::from(r) * slots as u128).sum();
            let floors = rates.iter().filter(|&&r| r == 1).count() as u128 * slots as u128;
            prop_assert!(sum <= u128::from(limit) + floors, "{sum} > {limit}");
            for (&b, &r) in bytes.iter().zip(&rates) {
                if r > 1_000 {
                    let finish = b as f64 / (r as f64 * slots as f64);
                    let ideal = total as f64 / limit as f64;
                    prop_assert!((finish - ideal).abs() <= ideal * 0.01 + 1.0, "{finish} vs {ideal}");
                }
            }
        }

        #[test]
        fn pacing_holds_the_rate(rate in 1u64..1_000_000_000, chunks in proptest::collection::vec(1u64..10_000_000, 1..50)) {
            let mut p = Pacer::new(Some(rate));
            let mut now = p.start;
            let mut sent = 0u64;
            for bytes in chunks {
                now += p.delay(bytes, now);
                sent += bytes;
                // Once paid for, everything sent so far fits in the time gone.
                let earliest = Duration::from_secs_f64(sent as f64 / rate as f64);
                let elapsed = now - p.start;
                prop_assert!(elapsed + Duration::from_micros(1) >= earliest);
                prop_assert!(elapsed <= earliest + Duration::from_micros(1));
            }
        }
    }
}
