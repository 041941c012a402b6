//! Where decisions go: JSON lines appended to a file, and the most recent
//! ones in memory for the console's policy page.
//!
//! Each record holds the input (names, groups, roles, action, resource) and
//! the outcome, never credentials: the [`Input`] has none to give.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Decision, Input, PolicyError, Resource};

/// One line of the decision log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// When the decision was made, RFC 3339 in UTC.
    pub time: DateTime<Utc>,
    /// Who asked.
    pub user: String,
    /// The user's groups at the time.
    pub groups: Vec<String>,
    /// The user's roles at the time.
    pub roles: Vec<String>,
    /// The action name, as the policy saw it.
    pub action: String,
    /// What it was about.
    pub resource: Resource,
    /// The outcome.
    pub result: Verdict,
    /// The policy revision that decided.
    pub revision: String,
    /// Why the policy's answer was not used, when it was not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// `allow` or `deny`, as written in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The policy allowed the request.
    Allow,
    /// The policy denied it, or could not be asked.
    Deny,
}

impl DecisionRecord {
    /// The record of `decision` on `input`, timed now.
    pub fn new(input: &Input, decision: &Decision) -> Self {
        DecisionRecord {
            time: DateTime::<Utc>::from(SystemTime::now()),
            user: input.user.clone(),
            groups: input.groups.clone(),
            roles: input.roles.clone(),
            action: input.action.clone(),
            resource: input.resource.clone(),
            result: if decision.allow {
                Verdict::Allow
            } else {
                Verdict::Deny
            },
            revision: decision.revision.clone(),
            reason: decision.reason.clone(),
        }
    }
}

/// The decision log: an optional append-only file and a bounded list of the
/// most recent records. Safe to share between threads.
pub struct DecisionLog {
    file: Option<(PathBuf, Mutex<File>)>,
    recent: Mutex<VecDeque<Arc<DecisionRecord>>>,
    capacity: usize,
}

impl DecisionLog {
    /// Opens (creating if needed) `file` for appending, keeping the last
    /// `capacity` records in memory. Without a file, records are only kept
    /// in memory.
    pub fn open(file: Option<&Path>, capacity: usize) -> Result<Self, PolicyError> {
        let file = file
            .map(|path| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map(|handle| (path.to_path_buf(), Mutex::new(handle)))
                    .map_err(|source| PolicyError::OpenDecisionLog {
                        file: path.to_path_buf(),
                        source: Arc::new(source),
                    })
            })
            .transpose()?;
        Ok(DecisionLog {
            file,
            recent: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        })
    }

    /// Appends `record` to the file as one line and to the recent list.
    ///
    /// A failed write is logged and does not change the decision: the request
    /// was already decided, and refusing everything because a disk is full
    /// would turn a logging problem into an outage.
    pub fn record(&self, record: DecisionRecord) {
        if let Some((path, file)) = &self.file {
            self.append(path, file, &record);
        }
        if self.capacity > 0 {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if recent.len() == self.capacity {
                recent.pop_front();
            }
            recent.push_back(Arc::new(record));
        }
    }

    /// The most recent records, newest first.
    pub fn recent(&self) -> Vec<DecisionRecord> {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .map(|record| DecisionRecord::clone(record))
            .collect()
    }

    fn append(&self, path: &Path, file: &Mutex<File>, record: &DecisionRecord) {
        let mut line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(err) => {
                tracing::warn!(file = %path.display(), error = %err, "decision record cannot be serialized");
                return;
            }
        };
        line.push('\n');
        // One write per line on an append-mode file, so lines from concurrent
        // writers (even other processes) never interleave.
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            tracing::warn!(file = %path.display(), error = %err, "decision log write failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    fn input(user: &str) -> Input {
        Input::new(
            user,
            vec!["g".into()],
            vec!["viewer".into()],
            Action::ClusterRead,
            Resource::new("cluster").on_cluster("c1").in_group("g"),
        )
    }

    fn decision(allow: bool) -> Decision {
        Decision {
            allow,
            revision: "abc.1".into(),
            reason: None,
        }
    }

    #[test]
    fn appends_one_json_line_per_decision() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let log = DecisionLog::open(Some(&path), 10).unwrap();
        log.record(DecisionRecord::new(&input("alice"), &decision(true)));
        log.record(DecisionRecord::new(&input("bob"), &decision(false)));

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(first["user"], "alice");
        assert_eq!(first["action"], "cluster.read");
        assert_eq!(first["resource"]["cluster"], "c1");
        assert_eq!(first["result"], "allow");
        assert_eq!(first["revision"], "abc.1");
        let time = first["time"].as_str().unwrap();
        assert!(time.ends_with('Z'), "{time}");
        DateTime::parse_from_rfc3339(time).unwrap();
        let second: DecisionRecord = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(second.result, Verdict::Deny);
        assert_eq!(second.user, "bob");
    }

    #[test]
    fn keeps_only_the_most_recent_newest_first() {
        let log = DecisionLog::open(None, 3).unwrap();
        for user in ["a", "b", "c", "d", "e"] {
            log.record(DecisionRecord::new(&input(user), &decision(true)));
        }
        let users: Vec<_> = log.recent().into_iter().map(|r| r.user).collect();
        assert_eq!(users, ["e", "d", "c"]);
    }

    #[test]
    fn concurrent_writers_never_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::open(Some(&path), 5).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let log = &log;
                scope.spawn(move || {
                    for n in 0..100 {
                        let user = format!("user-{thread}-{n}-{}", "x".repeat(200));
                        log.record(DecisionRecord::new(&input(&user), &decision(n % 2 == 0)));
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 400);
        for line in text.lines() {
            serde_json::from_str::<DecisionRecord>(line).unwrap();
        }
        assert_eq!(log.recent().len(), 5);
    }

    #[test]
    fn unopenable_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("decisions.jsonl");
        let err = DecisionLog::open(Some(&path), 1).err().unwrap().to_string();
        assert!(err.starts_with("decision log "), "{err}");
        assert!(err.contains("missing"), "{err}");
    }
}
