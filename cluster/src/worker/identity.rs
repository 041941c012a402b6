//! A worker's stable identity: a UUID kept in a file, so a restarted worker
//! rejoins under the same id instead of leaving a stale OFFLINE entry behind
//! (ring bloat).

use std::{fs, io, path::Path};

use serde::{Deserialize, Serialize};

use crate::metastore::write_atomically;

/// Version of the identity file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("worker identity file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(
        "worker identity file {path} is not a valid identity ({reason}); move it away to start as a new worker"
    )]
    Corrupt { path: String, reason: String },
}

#[derive(Serialize, Deserialize)]
struct IdentityFile {
    format_version: u32,
    worker_id: String,
}

/// Reads the worker id from `path`, or makes and stores a new one.
pub fn load_or_create(path: &Path) -> Result<String, IdentityError> {
    let shown = path.display().to_string();
    let io_err = |source| IdentityError::Io {
        path: shown.clone(),
        source,
    };
    match fs::read(path) {
        Ok(bytes) => {
            let file: IdentityFile =
                serde_json::from_slice(&bytes).map_err(|e| IdentityError::Corrupt {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            if file.format_version != FORMAT_VERSION
                || uuid::Uuid::parse_str(&file.worker_id).is_err()
            {
                return Err(IdentityError::Corrupt {
                    path: shown,
                    reason: format!(
                        "format version {} with id {:?}; expected version {FORMAT_VERSION} and a UUID",
                        file.format_version, file.worker_id
                    ),
                });
            }
            Ok(file.worker_id)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err)?;
            }
            let json = serde_json::to_vec_pretty(&IdentityFile {
                format_version: FORMAT_VERSION,
                worker_id: id.clone(),
            })
            .map_err(|e| IdentityError::Corrupt {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            write_atomically(path, &json).map_err(io_err)?;
            tracing::info!(worker = %id, path = %shown, "new worker identity");
            Ok(id)
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_survives_restarts_and_a_lost_file_means_a_new_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids/worker_identity");
        let first = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), first);
        fs::remove_file(&path).unwrap();
        assert_ne!(load_or_create(&path).unwrap(), first);
    }

    #[test]
    fn a_damaged_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker_identity");
        fs::write(&path, b"{\"format_version\":1,\"worker_id\":\"nope\"}").unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("expected version 1 and a UUID"), "{err}");
        assert!(fs::read(&path).unwrap().starts_with(b"{\"format_version\""));
    }
}
