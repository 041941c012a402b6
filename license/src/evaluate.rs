//! Where a verified license stands for one cluster at one moment, and
//! whether one more worker fits its limits.

use chrono::{DateTime, TimeDelta, Utc};

use crate::{License, LicenseError, error::day, format_size};

/// A license's standing over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Before its expiry date.
    Valid,
    /// Expired, within the grace period: everything still works, with loud
    /// warnings.
    Grace,
    /// Expired and the grace period over: new jobs are refused; reads and
    /// the workers already in the cluster go on.
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Valid => "valid",
            State::Grace => "grace",
            State::Expired => "expired",
        }
    }
}

/// A license evaluated for one cluster at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub state: State,
    /// Whole days until the expiry date, rounded down: 0 on its last day,
    /// negative once it has passed.
    pub days_left: i64,
    pub expires_at: DateTime<Utc>,
    /// The expiry date plus the grace period.
    pub grace_ends_at: DateTime<Utc>,
}

/// Where `license` stands for the cluster named `cluster` at `now`, with a
/// grace period of `grace` after its expiry date: an error if it does not
/// cover that cluster. `Valid` up to (not including) the expiry instant,
/// `Grace` from it until the grace period ends, `Expired` from then on.
pub fn evaluate(
    license: &License,
    cluster: &str,
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Result<Evaluation, LicenseError> {
    if !license.covers(cluster) {
        return Err(LicenseError::WrongCluster {
            id: license.id.clone(),
            covers: license.clusters.clone(),
            cluster: cluster.to_string(),
        });
    }
    Ok(evaluate_at(license, now, grace))
}

/// [`evaluate`] without the cluster check, for showing a license on its own
/// (`ringside license inspect`).
pub fn evaluate_at(license: &License, now: DateTime<Utc>, grace: TimeDelta) -> Evaluation {
    let grace = grace.max(TimeDelta::zero());
    let grace_ends_at = license
        .expires_at
        .checked_add_signed(grace)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let state = if now < license.expires_at {
        State::Valid
    } else if now < grace_ends_at {
        State::Grace
    } else {
        State::Expired
    };
    let days_left = floor_days(license.expires_at - now);
    Evaluation {
        state,
        days_left,
        expires_at: license.expires_at,
        grace_ends_at,
    }
}

/// Whole days in `delta`, rounded down (towards the past): -1 for a
/// second ago, 0 for a second ahead.
fn floor_days(delta: TimeDelta) -> i64 {
    let days = delta.num_days();
    if delta < TimeDelta::days(days) {
        days - 1
    } else {
        days
    }
}

impl Evaluation {
    /// Why new jobs are refused, once the grace period is over.
    pub fn refusal(&self, license: &License) -> Option<LicenseError> {
        (self.state == State::Expired).then(|| LicenseError::Expired {
            id: license.id.clone(),
            expired_at: self.expires_at,
            grace_ended_at: self.grace_ends_at,
        })
    }

    /// One sentence on where `license` stands, for operators.
    pub fn describe(&self, license: &License) -> String {
        match self.state {
            State::Valid => format!(
                "license {} for {} is valid until {} ({} left)",
                license.id,
                license.customer,
                day(&self.expires_at),
                days(self.days_left)
            ),
            State::Grace => format!(
                "license {} for {} EXPIRED on {}; its grace period ends on {} ({} left), after which new jobs are refused: apply a renewed license",
                license.id,
                license.customer,
                day(&self.expires_at),
                day(&self.grace_ends_at),
                days(floor_days(self.grace_ends_at - self.expires_at) + self.days_left)
            ),
            State::Expired => self
                .refusal(license)
                .map(|e| e.to_string())
                .unwrap_or_default(),
        }
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{} days", n.max(0))
    }
}

/// What the ONLINE workers of a cluster use, the worker asking to join not
/// counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub workers: u32,
    pub capacity_bytes: u64,
}

impl License {
    /// Whether worker `worker`, bringing `worker_capacity` bytes of page
    /// store, may join a cluster whose ONLINE workers use `usage`: refused
    /// when it would be one worker too many or take the capacity beyond
    /// the limit. Workers already ONLINE are not asked.
    pub fn admit_worker(
        &self,
        usage: Usage,
        worker: &str,
        worker_capacity: u64,
    ) -> Result<(), LicenseError> {
        if let Some(limit) = self.limits.max_workers
            && usage.workers >= limit
        {
            return Err(LicenseError::TooManyWorkers {
                id: self.id.clone(),
                limit,
                worker: worker.to_string(),
            });
        }
        if let Some(limit) = self.limits.max_capacity_bytes {
            let total = usage.capacity_bytes.saturating_add(worker_capacity);
            if total > limit {
                return Err(LicenseError::CapacityExceeded {
                    id: self.id.clone(),
                    limit,
                    worker: worker.to_string(),
                    worker_capacity,
                    total,
                });
            }
        }
        Ok(())
    }

    /// The limits as one phrase: `3 workers, 10TiB of page store`.
    pub fn limits_text(&self) -> String {
        let workers = self
            .limits
            .max_workers
            .map_or("unlimited workers".to_string(), |n| {
                format!("{n} worker{}", if n == 1 { "" } else { "s" })
            });
        let capacity = self
            .limits
            .max_capacity_bytes
            .map_or("unlimited page store".to_string(), |b| {
                format!("{} of page store", format_size(b))
            });
        format!("{workers}, {capacity}")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::license::tests::sample;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    const GRACE: TimeDelta = TimeDelta::days(14);
    const DAY_SECONDS: i64 = 86_400;

    #[test]
    fn states_change_exactly_at_expiry_and_at_the_end_of_grace() {
        let l = sample(); // expires 2031-01-01T00:00:00Z
        let eval = |now| evaluate(&l, "eu-west", now, GRACE).unwrap();

        let before = eval(at(2030, 12, 31, 23, 59, 59));
        assert_eq!((before.state, before.days_left), (State::Valid, 0));
        let day_before = eval(at(2030, 12, 31, 0, 0, 0));
        assert_eq!((day_before.state, day_before.days_left), (State::Valid, 1));

        let expiry = eval(at(2031, 1, 1, 0, 0, 0));
        assert_eq!((expiry.state, expiry.days_left), (State::Grace, 0));
        let just_after = eval(at(2031, 1, 1, 0, 0, 1));
        assert_eq!((just_after.state, just_after.days_left), (State::Grace, -1));
        assert_eq!(just_after.grace_ends_at, at(2031, 1, 15, 0, 0, 0));

        let last = eval(at(2031, 1, 14, 23, 59, 59));
        assert_eq!(last.state, State::Grace);
        let over = eval(at(2031, 1, 15, 0, 0, 0));
        assert_eq!((over.state, over.days_left), (State::Expired, -14));
        assert!(over.refusal(&l).is_some() && last.refusal(&l).is_none());
    }

    #[test]
    fn days_round_down_to_the_millisecond() {
        assert_eq!(floor_days(TimeDelta::milliseconds(-1)), -1);
        assert_eq!(floor_days(TimeDelta::milliseconds(1)), 0);
        assert_eq!(
            floor_days(TimeDelta::days(-1) - TimeDelta::milliseconds(300)),
            -2
        );
        assert_eq!(floor_days(TimeDelta::days(-1)), -1);
        assert_eq!(
            floor_days(TimeDelta::days(2) - TimeDelta::nanoseconds(1)),
            1
        );
    }

    #[test]
    fn no_grace_means_expired_at_expiry() {
        let l = sample();
        let e = evaluate(&l, "eu-west", l.expires_at, TimeDelta::zero()).unwrap();
        assert_eq!(e.state, State::Expired);
        let e = evaluate(&l, "eu-west", l.expires_at, TimeDelta::days(-3)).unwrap();
        assert_eq!(e.state, State::Expired, "a negative grace counts as none");
    }

    #[test]
    fn the_cluster_must_be_covered() {
        let mut l = sample();
        l.kind = crate::LicenseKind::Deployment;
        l.clusters = vec!["a".into(), "b".into()];
        let error = evaluate(&l, "c", at(2030, 6, 1, 0, 0, 0), GRACE).unwrap_err();
        assert_eq!(
            error.to_string(),
            "license L-1 covers a, b; this cluster is c"
        );
        assert!(evaluate(&l, "b", at(2030, 6, 1, 0, 0, 0), GRACE).is_ok());
    }

    #[test]
    fn descriptions_say_where_it_stands() {
        let l = sample();
        let e = evaluate_at(&l, at(2030, 12, 1, 0, 0, 0), GRACE);
        assert_eq!(
            e.describe(&l),
            "license L-1 for ACME Corp is valid until 2031-01-01 (31 days left)"
        );
        let e = evaluate_at(&l, at(2031, 1, 5, 12, 0, 0), GRACE);
        let text = e.describe(&l);
        assert!(
            text.contains(
                "EXPIRED on 2031-01-01; its grace period ends on 2031-01-15 (9 days left)"
            ),
            "{text}"
        );
        let e = evaluate_at(&l, at(2031, 2, 1, 0, 0, 0), GRACE);
        let text = e.describe(&l);
        assert!(
            text.starts_with(
                "license L-1 expired on 2031-01-01 and its grace period ended on 2031-01-15: new jobs are refused"
            ),
            "{text}"
        );
    }

    #[test]
    fn limits_admit_up_to_the_limit_and_no_further() {
        let l = sample(); // 3 workers, 10TiB
        let usage = |workers, capacity_bytes| Usage {
            workers,
            capacity_bytes,
        };
        l.admit_worker(usage(2, 0), "w3", 1 << 30).unwrap();
        let error = l.admit_worker(usage(3, 0), "w4", 1 << 30).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("license L-1 allows 3 workers; worker w4 would be the 4th"),
            "{error}"
        );
        l.admit_worker(usage(1, 9 << 40), "w", 1 << 40).unwrap();
        let error = l
            .admit_worker(usage(1, 9 << 40), "w", (1 << 40) + 1)
            .unwrap_err();
        assert!(
            error.to_string().starts_with("license L-1 allows 10TiB of page store capacity; worker w with 1099511627777 bytes (1.00TiB) would bring the cluster to"),
            "{error}"
        );
        let mut unlimited = sample();
        unlimited.limits = crate::Limits::default();
        unlimited
            .admit_worker(usage(u32::MAX, u64::MAX), "w", u64::MAX)
            .unwrap();
        assert_eq!(
            unlimited.limits_text(),
            "unlimited workers, unlimited page store"
        );
        assert_eq!(l.limits_text(), "3 workers, 10TiB of page store");
    }

    proptest! {
        #[test]
        fn state_follows_the_clock(offset in -100_000_000i64..100_000_000, grace_days in 0i64..100) {
            let l = sample();
            let now = l.expires_at + TimeDelta::seconds(offset);
            let grace = TimeDelta::days(grace_days);
            let e = evaluate(&l, "eu-west", now, grace).unwrap();
            let expected = if offset < 0 {
                State::Valid
            } else if offset < grace.num_seconds() {
                State::Grace
            } else {
                State::Expired
            };
            prop_assert_eq!(e.state, expected);
            prop_assert_eq!(e.days_left, (-offset).div_euclid(DAY_SECONDS));
            prop_assert_eq!(e.days_left < 0, offset > 0);
        }

        #[test]
        fn admission_matches_the_arithmetic(
            workers in 0u32..20, limit in 1u32..20,
            used in 0u64..1 << 50, capacity in 0u64..1 << 50, max in 1u64..1 << 51,
        ) {
            let mut l = sample();
            l.limits = crate::Limits { max_workers: Some(limit), max_capacity_bytes: Some(max) };
            let ok = l.admit_worker(Usage { workers, capacity_bytes: used }, "w", capacity).is_ok();
            prop_assert_eq!(ok, workers < limit && used + capacity <= max);
        }
    }
}
