//! The one error type of the UFS, and the translation of `object_store`'s errors
//! into it, so callers can map every failure to an HTTP status and a metric label.

use std::error::Error as StdError;
use std::io;

use crate::path::UfsPath;

/// Everything that can go wrong talking to the UFS.
///
/// Messages are lowercase and say what to do; [`UfsError::code`] gives a stable
/// label for metrics ("UFS errors by code") and for JSON error bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UfsError {
    /// No file at that path (directories have no status: list them instead).
    #[error(
        "file not found: {path} (paths are relative to the ufs root; list the parent directory to see what exists)"
    )]
    NotFound { path: UfsPath },

    /// The path was rejected before reaching the store.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    /// The byte range does not fit in the file.
    #[error(
        "invalid range {start}..{end} for {path} of {size} bytes: ask for start <= end <= {size}"
    )]
    InvalidRange {
        path: UfsPath,
        start: u64,
        end: u64,
        size: u64,
    },

    /// The store refused access (file permissions, S3 policy or credentials).
    #[error("permission denied on {path}: {message}")]
    PermissionDenied { path: String, message: String },

    /// `Ufs::open` could not use the configured root.
    #[error("invalid ufs root {root:?}: {reason}")]
    InvalidRoot { root: String, reason: String },

    /// The store could not be reached, or kept failing after retries.
    #[error("ufs unavailable: {message} (check that the store is up and reachable, then retry)")]
    Unavailable { message: String },

    /// Any other failure, with the underlying message.
    #[error("ufs i/o error: {message}")]
    Other { message: String },
}

impl UfsError {
    /// A short, stable label for metrics and API error codes.
    pub fn code(&self) -> &'static str {
        match self {
            UfsError::NotFound { .. } => "not_found",
            UfsError::InvalidPath { .. } => "invalid_path",
            UfsError::InvalidRange { .. } => "invalid_range",
            UfsError::PermissionDenied { .. } => "permission_denied",
            UfsError::InvalidRoot { .. } => "invalid_root",
            UfsError::Unavailable { .. } => "unavailable",
            UfsError::Other { .. } => "io",
        }
    }

    /// Every code [`UfsError::code`] can return, so metrics can pre-register labels.
    pub const CODES: [&'static str; 7] = [
        "not_found",
        "invalid_path",
        "invalid_range",
        "permission_denied",
        "invalid_root",
        "unavailable",
        "io",
    ];

    /// Whether retrying the same call later might succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, UfsError::Unavailable { .. })
    }
}

/// Translates an `object_store` error about `path`. The store's own message is
/// kept (callers need it to diagnose) but never its idea of the path, which on
/// S3 includes the root prefix and locally the absolute file name.
pub(crate) fn from_store(err: object_store::Error, path: &UfsPath) -> UfsError {
    use object_store::Error as E;
    match err {
        // S3 says which in the body of a GET (not of a HEAD).
        E::NotFound { source, .. } if source.to_string().contains("NoSuchBucket") => {
            UfsError::Other {
                message: format!(
                    "the bucket does not exist; create it or fix the ufs root ({source})"
                ),
            }
        }
        E::NotFound { .. } => UfsError::NotFound { path: path.clone() },
        E::PermissionDenied { source, .. } => UfsError::PermissionDenied {
            path: path.to_string(),
            message: format!("{source}; check the bucket policy for this key"),
        },
        E::Unauthenticated { source, .. } => UfsError::PermissionDenied {
            path: path.to_string(),
            message: format!(
                "{source}; check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
                 AWS_SESSION_TOKEN or the instance role)"
            ),
        },
        other => classify(&other, path),
    }
}

fn classify(err: &object_store::Error, path: &UfsPath) -> UfsError {
    let message = err.to_string();
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                // "/a.txt/b" when a.txt is a file: nothing there either.
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                    return UfsError::NotFound { path: path.clone() };
                }
                io::ErrorKind::PermissionDenied => {
                    return UfsError::PermissionDenied {
                        path: path.to_string(),
                        message: format!(
                            "{message}; check that the ringside worker's user can read it"
                        ),
                    };
                }
                io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::TimedOut => return UfsError::Unavailable { message },
                _ => {}
            }
        }
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind as K;
            if matches!(
                http.kind(),
                K::Connect | K::Request | K::Timeout | K::Interrupted
            ) {
                return UfsError::Unavailable { message };
            }
        }
        cause = e.source();
    }
    // The HTTP status of a failed request is not reachable through
    // object_store's public API, only through its message; a 5xx left after
    // all retries means the service itself is struggling (S3 "SlowDown").
    if message.contains("status code: 5") {
        return UfsError::Unavailable { message };
    }
    UfsError::Other { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_listed_and_messages_lowercase() {
        let p = UfsPath::parse("/a b/c").unwrap();
        let all = [
            UfsError::NotFound { path: p.clone() },
            UfsError::InvalidPath {
                path: "/a/../b".into(),
                reason: "x".into(),
            },
            UfsError::InvalidRange {
                path: p.clone(),
                start: 5,
                end: 9,
                size: 4,
            },
            UfsError::PermissionDenied {
                path: p.to_string(),
                message: "x".into(),
            },
            UfsError::InvalidRoot {
                root: "x".into(),
                reason: "y".into(),
            },
            UfsError::Unavailable {
                message: "x".into(),
            },
            UfsError::Other {
                message: "x".into(),
            },
        ];
        for e in &all {
            assert!(UfsError::CODES.contains(&e.code()), "{e:?}");
            let m = e.to_string();
            assert!(m.starts_with(|c: char| c.is_ascii_lowercase()), "{m}");
        }
        assert_eq!(
            all.iter().map(UfsError::code).collect::<Vec<_>>(),
            UfsError::CODES
        );
        assert!(all[2].to_string().contains("of 4 bytes"));
    }

    #[test]
    fn io_causes_are_classified() {
        let p = UfsPath::parse("/x").unwrap();
        let wrap = |kind| object_store::Error::Generic {
            store: "test",
            source: Box::new(io::Error::new(kind, "boom")),
        };
        assert_eq!(
            from_store(wrap(io::ErrorKind::PermissionDenied), &p).code(),
            "permission_denied"
        );
        assert_eq!(
            from_store(wrap(io::ErrorKind::ConnectionRefused), &p).code(),
            "unavailable"
        );
        assert_eq!(from_store(wrap(io::ErrorKind::Other), &p).code(), "io");
        let nf = object_store::Error::NotFound {
            path: "/abs/root/x".into(),
            source: "gone".into(),
        };
        assert_eq!(from_store(nf, &p), UfsError::NotFound { path: p.clone() });
    }
}
