//! What `cluster apply` keeps about a cluster between invocations, under
//! `<state dir>/<cluster name>/`:
//!
//! ```text
//! state.json                   the processes started (versioned format)
//! lock                         held while a command changes the cluster
//! conf/ringside-site.properties  the cluster-wide properties (the ConfigMap)
//! coordinator/log              coordinator/metastore/
//! workers/worker-N/log         workers/worker-N/identity (its UUID)
//! pagestore/worker-N/          unless spec.worker.pagestore.hostPath is set
//! ```

use std::{
    collections::BTreeMap,
    fs, io,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use ringside_cluster::metastore::{remove_half_written, write_atomically};
use serde::{Deserialize, Serialize};

use crate::process::Handle;

/// Version of `state.json` this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cluster state {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(
        "cluster state {path} is not readable by this build ({reason}); move it away only if no process of the cluster runs"
    )]
    Corrupt { path: String, reason: String },
    #[error(
        "another `ringside cluster` command is changing cluster {name} (lock {path} is held): wait for it to finish"
    )]
    Busy { name: String, path: String },
}

/// A daemon the CLI started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    #[serde(flatten)]
    pub handle: Handle,
    pub binary: PathBuf,
    pub version: String,
    /// Its HTTP port.
    pub port: u16,
    pub started_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    pub format_version: u32,
    pub coordinator: Option<ProcessRecord>,
    /// By ordinal: worker-0, worker-1, …
    pub workers: BTreeMap<u32, ProcessRecord>,
}

/// Where a cluster's files are.
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(state_dir: &Path, cluster: &str) -> Layout {
        Layout {
            root: state_dir.join(cluster),
        }
    }
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn conf_dir(&self) -> PathBuf {
        self.root.join("conf")
    }
    pub fn site_file(&self) -> PathBuf {
        self.conf_dir().join("ringside-site.properties")
    }
    pub fn coordinator_dir(&self) -> PathBuf {
        self.root.join("coordinator")
    }
    pub fn worker_dir(&self, ordinal: u32) -> PathBuf {
        self.root.join("workers").join(worker_name(ordinal))
    }
    pub fn default_pagestore(&self) -> PathBuf {
        self.root.join("pagestore")
    }

    /// Takes the cluster's lock for as long as the returned file lives.
    pub fn lock(&self, cluster: &str) -> Result<fs::File, StateError> {
        let path = self.root.join("lock");
        let io_err = |source| StateError::Io {
            path: path.display().to_string(),
            source,
        };
        fs::create_dir_all(&self.root).map_err(io_err)?;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(fs::TryLockError::WouldBlock) => Err(StateError::Busy {
                name: cluster.to_string(),
                path: path.display().to_string(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(io_err(e)),
        }
    }

    /// The saved state, or an empty one for a cluster never applied. Files
    /// a crash left half-written are removed first.
    pub fn load(&self) -> Result<ClusterState, StateError> {
        let path = self.state_file();
        let shown = path.display().to_string();
        if self.root.is_dir() {
            remove_half_written(&self.root).map_err(|source| StateError::Io {
                path: shown.clone(),
                source,
            })?;
        }
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(ClusterState {
                    format_version: FORMAT_VERSION,
                    ..ClusterState::default()
                });
            }
            Err(source) => {
                return Err(StateError::Io {
                    path: shown,
                    source,
                });
            }
        };
        let corrupt = |e: serde_json::Error| StateError::Corrupt {
            path: shown.clone(),
            reason: e.to_string(),
        };
        // The version first: another version's fields mean nothing here.
        #[derive(Deserialize)]
        struct Versioned {
            format_version: u32,
        }
        let versioned: Versioned = serde_json::from_slice(&bytes).map_err(corrupt)?;
        if versioned.format_version != FORMAT_VERSION {
            return Err(StateError::Corrupt {
                path: shown.clone(),
                reason: format!(
                    "format version {}, this build reads {FORMAT_VERSION}",
                    versioned.format_version
                ),
            });
        }
        serde_json::from_slice(&bytes).map_err(corrupt)
    }

    pub fn save(&self, state: &ClusterState) -> Result<(), StateError> {
        let path = self.state_file();
        let bytes = serde_json::to_vec_pretty(state).expect("cluster state serializes");
        fs::create_dir_all(&self.root)
            .and_then(|()| write_atomically(&path, &bytes))
            .map_err(|source| StateError::Io {
                path: path.display().to_string(),
                source,
            })
    }

    /// Writes the site file; true when its content changed.
    pub fn write_site(&self, text: &str) -> Result<bool, StateError> {
        let path = self.site_file();
        if fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        fs::create_dir_all(self.conf_dir())
            .and_then(|()| write_atomically(&path, text.as_bytes()))
            .map_err(|source| StateError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(true)
    }
}

pub fn worker_name(ordinal: u32) -> String {
    format!("worker-{ordinal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_half_written_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), "demo");
        assert_eq!(layout.load().unwrap().workers.len(), 0);
        let mut state = layout.load().unwrap();
        state.workers.insert(
            2,
            ProcessRecord {
                handle: Handle {
                    pid: 7,
                    start_ticks: 9,
                },
                binary: "/bin/ringside".into(),
                version: "0.1.0".into(),
                port: 30003,
                started_at: Utc::now(),
            },
        );
        layout.save(&state).unwrap();
        fs::write(layout.root.join("state.json.tmp"), b"{half").unwrap();
        assert_eq!(layout.load().unwrap(), state);
        assert!(!layout.root.join("state.json.tmp").exists());

        fs::write(layout.state_file(), br#"{"format_version": 99}"#).unwrap();
        let error = layout.load().unwrap_err().to_string();
        assert!(error.contains("format version 99"), "{error}");
    }

    #[test]
    fn one_command_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), "demo");
        let held = layout.lock("demo").unwrap();
        assert!(matches!(layout.lock("demo"), Err(StateError::Busy { .. })));
        drop(held);
        layout.lock("demo").unwrap();
    }

    #[test]
    fn the_site_file_is_written_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), "demo");
        assert!(layout.write_site("a=1\n").unwrap());
        assert!(!layout.write_site("a=1\n").unwrap());
        assert!(layout.write_site("a=2\n").unwrap());
    }
}
