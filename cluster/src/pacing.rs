//! Bandwidth limits for jobs. A job's limit is split evenly over the task
//! slots it may use, and each task paces itself: it never gets ahead of its
//! rate, measured from the task's start, so the sum over busy slots stays at
//! or under the job's limit without any coordination between workers.

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

/// Each task's share of a job's `limit` when `slots` tasks run at once.
pub fn task_rate(limit: Option<u64>, slots: usize) -> Option<u64> {
    let slots = u64::try_from(slots.max(1)).unwrap_or(u64::MAX);
    limit.map(|l| (l / slots).max(1))
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
    fn shares_never_add_up_past_the_limit() {
        assert_eq!(task_rate(Some(100), 3), Some(33));
        assert_eq!(task_rate(Some(2), 8), Some(1));
        assert_eq!(task_rate(Some(10), 0), Some(10));
        assert_eq!(task_rate(None, 4), None);
    }

    proptest! {
        /// Chunks paced back to back never run ahead of the rate, and
        /// sleep no more than needed.
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
