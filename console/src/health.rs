//! How a cluster that answered is judged: Ready, or Degraded with the
//! reasons an operator should look at. Pure, so every rule has a test.

use chrono::{DateTime, Utc};
use ringside_api::{
    Health, WorkerState, WorkerView,
    job::{JobState, JobView},
};
use ringside_ring::RingSpec;

/// What one poll of a reachable cluster brought back.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    pub workers: &'a [WorkerView],
    pub ring: Option<&'a RingSpec>,
    pub jobs: &'a [JobView],
    /// The parts of the poll that failed (the coordinator answered its
    /// info, but not, say, its job list).
    pub errors: &'a [String],
    /// The previous poll: jobs that failed since then count as errors of
    /// the last interval.
    pub since: Option<DateTime<Utc>>,
}

/// The cluster's health and, when degraded, why.
pub fn assess(o: &Observation<'_>) -> (Health, Vec<String>) {
    let mut reasons = Vec::new();
    let offline: Vec<&WorkerView> = o
        .workers
        .iter()
        .filter(|w| w.state == WorkerState::Offline)
        .collect();
    let online = o.workers.len() - offline.len();
    if o.workers.is_empty() {
        reasons.push("no workers have joined".to_string());
    } else if online == 0 {
        reasons.push(format!("all {} workers are OFFLINE", o.workers.len()));
    } else if !offline.is_empty() {
        reasons.push(format!(
            "{} of {} workers OFFLINE",
            offline.len(),
            o.workers.len()
        ));
    }
    if let Some(ring) = o.ring {
        let stale = ring
            .members
            .iter()
            .filter(|m| offline.iter().any(|w| w.heartbeat.id == m.id))
            .count();
        if stale > 0 {
            reasons.push(format!(
                "ring bloat: {stale} OFFLINE {} still on the ring, owning files nobody serves from cache (ringside process remove-worker)",
                if stale == 1 { "worker" } else { "workers" }
            ));
        }
    }
    let failed: Vec<&JobView> = o
        .jobs
        .iter()
        .filter(|j| j.state == JobState::Failed)
        .filter(|j| match (j.finished_at, o.since) {
            (Some(at), Some(since)) => at > since,
            // Without a previous poll there is no "last interval" yet.
            _ => false,
        })
        .collect();
    for job in failed {
        reasons.push(format!(
            "job {} {} failed: {}",
            job.job_type.as_str(),
            job.path,
            job.error.as_deref().unwrap_or("no reason given")
        ));
    }
    reasons.extend(o.errors.iter().map(|e| format!("poll error: {e}")));
    let health = if reasons.is_empty() {
        Health::Ready
    } else {
        Health::Degraded
    };
    (health, reasons)
}

#[cfg(test)]
mod tests {
    use ringside_api::{WorkerHeartbeat, job::JobType};
    use ringside_ring::{Member, Ring, RingConfig};

    use super::*;

    fn worker(id: &str, state: WorkerState) -> WorkerView {
        WorkerView {
            heartbeat: WorkerHeartbeat {
                id: id.into(),
                address: format!("http://{id}"),
                s3_address: String::new(),
                capacity_bytes: 1 << 30,
                used_bytes: 0,
                pages: 0,
                version: "0.1.0".into(),
                cache_read_bytes: 0,
                ufs_read_bytes: 0,
            },
            state,
            last_heartbeat: Utc::now(),
            registered_at: Utc::now(),
        }
    }

    fn ring(ids: &[&str]) -> RingSpec {
        Ring::new(
            RingConfig::default(),
            ids.iter().map(|id| Member::new(*id, 1 << 30)),
            1,
        )
        .unwrap()
        .to_spec()
    }

    fn observe<'a>(workers: &'a [WorkerView], ring: Option<&'a RingSpec>) -> Observation<'a> {
        Observation {
            workers,
            ring,
            jobs: &[],
            errors: &[],
            since: None,
        }
    }

    #[test]
    fn all_online_is_ready() {
        let workers = [
            worker("a", WorkerState::Online),
            worker("b", WorkerState::Online),
        ];
        let spec = ring(&["a", "b"]);
        assert_eq!(
            assess(&observe(&workers, Some(&spec))),
            (Health::Ready, vec![])
        );
    }

    #[test]
    fn offline_workers_and_ring_bloat_are_reasons() {
        let workers = [
            worker("a", WorkerState::Online),
            worker("b", WorkerState::Offline),
        ];
        let (health, reasons) = assess(&observe(&workers, Some(&ring(&["a", "b"]))));
        assert_eq!(health, Health::Degraded);
        assert_eq!(reasons[0], "1 of 2 workers OFFLINE");
        assert!(
            reasons[1].starts_with("ring bloat: 1 OFFLINE worker"),
            "{reasons:?}"
        );
        // Taken off the ring (dynamic ring), an OFFLINE worker is no bloat.
        let (_, reasons) = assess(&observe(&workers, Some(&ring(&["a"]))));
        assert_eq!(reasons, vec!["1 of 2 workers OFFLINE".to_string()]);
        let (_, reasons) = assess(&observe(&[], None));
        assert_eq!(reasons, vec!["no workers have joined".to_string()]);
    }

    #[test]
    fn jobs_failed_in_the_last_interval_and_poll_errors_degrade() {
        let workers = [worker("a", WorkerState::Online)];
        let now = Utc::now();
        let job = |finished: DateTime<Utc>| JobView {
            id: "j".into(),
            job_type: JobType::Load,
            path: "/data".into(),
            state: JobState::Failed,
            options: Default::default(),
            created_at: finished,
            updated_at: finished,
            finished_at: Some(finished),
            error: Some("2 of 25 files failed".into()),
            progress: Default::default(),
        };
        let recent = [job(now)];
        let old = [job(now - chrono::Duration::minutes(5))];
        let errors = ["jobs: timed out".to_string()];
        let since = Some(now - chrono::Duration::seconds(10));
        let (health, reasons) = assess(&Observation {
            jobs: &recent,
            errors: &errors,
            since,
            ..observe(&workers, None)
        });
        assert_eq!(health, Health::Degraded);
        assert_eq!(
            reasons,
            vec![
                "job LOAD /data failed: 2 of 25 files failed".to_string(),
                "poll error: jobs: timed out".to_string()
            ]
        );
        let (health, _) = assess(&Observation {
            jobs: &old,
            since,
            ..observe(&workers, None)
        });
        assert_eq!(health, Health::Ready, "an old failure is not news");
    }
}
