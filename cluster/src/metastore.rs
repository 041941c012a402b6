//! The coordinator's persistent metastore directory. For now it holds the
//! cluster's identity; every file in it carries a format version, is written
//! crash-safely (temp file, fsync, rename), and leftovers of an interrupted
//! write are removed at start.

use std::{
    fs, io,
    io::Write,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the identity file format this build reads and writes.
pub const IDENTITY_FORMAT_VERSION: u32 = 1;
const IDENTITY_FILE: &str = "cluster.json";
const DATABASE_FILE: &str = "metastore.db";
/// Ending of a file being written; one left behind was never renamed into place.
pub const TEMP_SUFFIX: &str = ".tmp";

#[derive(Debug, thiserror::Error)]
pub enum MetastoreError {
    #[error("metastore {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("metastore file {} is corrupt: {reason}; restore it from a backup or move it away to start a new cluster identity", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("metastore database {}: {reason}", path.display())]
    Database { path: PathBuf, reason: String },
    #[error("metastore file {} has format version {found}: this build reads version {IDENTITY_FORMAT_VERSION}", path.display())]
    UnsupportedVersion { path: PathBuf, found: u32 },
}

/// Who this cluster is: made once, kept forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdentity {
    pub format_version: u32,
    pub cluster_id: String,
    pub created_at: DateTime<Utc>,
}

/// An opened metastore directory.
#[derive(Debug)]
pub struct Metastore {
    dir: PathBuf,
    identity: ClusterIdentity,
}

impl Metastore {
    /// Opens `dir`, creating it and a new cluster identity on first start.
    pub fn open(dir: &Path) -> Result<Metastore, MetastoreError> {
        let io_err = |source| MetastoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_err)?;
        remove_half_written(dir).map_err(io_err)?;
        let path = dir.join(IDENTITY_FILE);
        let identity = match fs::read(&path) {
            Ok(bytes) => parse_identity(&path, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let identity = ClusterIdentity {
                    format_version: IDENTITY_FORMAT_VERSION,
                    cluster_id: uuid::Uuid::new_v4().to_string(),
                    created_at: Utc::now(),
                };
                let json =
                    serde_json::to_vec_pretty(&identity).map_err(|e| MetastoreError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                write_atomically(&path, &json).map_err(|source| MetastoreError::Io {
                    path: path.clone(),
                    source,
                })?;
                tracing::info!(cluster_id = %identity.cluster_id, "new cluster identity created");
                identity
            }
            Err(source) => return Err(MetastoreError::Io { path, source }),
        };
        Ok(Metastore {
            dir: dir.to_path_buf(),
            identity,
        })
    }

    /// The metastore's SQLite database (`metastore.db`), made on first use.
    pub async fn database(&self) -> Result<sqlx::SqlitePool, MetastoreError> {
        let path = self.dir.join(DATABASE_FILE);
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| MetastoreError::Database {
                path,
                reason: e.to_string(),
            })
    }

    pub fn identity(&self) -> &ClusterIdentity {
        &self.identity
    }
}

fn parse_identity(path: &Path, bytes: &[u8]) -> Result<ClusterIdentity, MetastoreError> {
    #[derive(Deserialize)]
    struct Versioned {
        format_version: u32,
    }
    let corrupt = |e: serde_json::Error| MetastoreError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let Versioned { format_version } = serde_json::from_slice(bytes).map_err(corrupt)?;
    if format_version != IDENTITY_FORMAT_VERSION {
        return Err(MetastoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: format_version,
        });
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// Writes `bytes` so that `path` holds either its old content or all of the
/// new, whatever happens: a crash can leave only a temp file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(TEMP_SUFFIX);
    let temp = PathBuf::from(temp_name);
    let mut file = fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temp, path)?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Removes the files of `dir` a crash left half-written.
pub fn remove_half_written(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == &TEMP_SUFFIX[1..]) {
            tracing::warn!(path = %path.display(), "removing a half-written metastore file");
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// A count or size as SQLite stores integers (signed 64-bit), saturating.
pub(crate) fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A count or size read back; a negative value (never written) reads as 0.
pub(crate) fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A time stored as Unix milliseconds.
pub(crate) fn from_millis(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = Metastore::open(dir.path()).unwrap().identity().clone();
        let again = Metastore::open(dir.path()).unwrap().identity().clone();
        assert_eq!(first, again);
    }

    #[test]
    fn half_written_files_are_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cluster.json.tmp"), b"{\"form").unwrap();
        Metastore::open(dir.path()).unwrap();
        assert!(!dir.path().join("cluster.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_identity_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cluster.json"), b"not json").unwrap();
        let err = Metastore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert_eq!(
            fs::read(dir.path().join("cluster.json")).unwrap(),
            b"not json"
        );
    }

    #[test]
    fn a_newer_format_is_refused_with_the_versions() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cluster.json"), br#"{"format_version": 9}"#).unwrap();
        let err = Metastore::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("format version 9") && err.contains("version 1"),
            "{err}"
        );
    }
}
