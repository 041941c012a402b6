//! Files that hold a secret a process generates for itself: a signing key,
//! a cluster token, a key for secrets at rest.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::random;

/// What [`create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The file is ours, with the given contents.
    Written,
    /// Another process created it first; read theirs.
    AlreadyExists,
}

/// A failed write, with the file (or its temporary file or directory) it was about.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Creates `path` with `contents`, readable by its owner only (0600).
///
/// Writes a temporary file in the target's directory (created if missing),
/// fsyncs it, and moves it into place, then fsyncs the directory, so a crash
/// leaves either no file or a complete one. The move is a hard link plus
/// unlink rather than a rename so that it never replaces a file another
/// process just created: then the answer is [`Created::AlreadyExists`].
pub fn create(path: &Path, contents: &[u8]) -> Result<Created, WriteError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WriteError { path, source }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let name = path.file_name().ok_or_else(|| WriteError {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", random::typeable(8)));
    let temp = dir.join(temp_name);

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp).map_err(io(&temp))?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io(&temp))
        .and_then(|()| match fs::hard_link(&temp, path) {
            Ok(()) => Ok(Created::Written),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Created::AlreadyExists),
            Err(source) => Err(WriteError {
                path: path.to_owned(),
                source,
            }),
        });
    let removed = fs::remove_file(&temp).map_err(io(&temp));
    let written = written?;
    removed?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn creates_once_privately_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret");
        assert_eq!(create(&path, b"one").unwrap(), Created::Written);
        assert_eq!(create(&path, b"two").unwrap(), Created::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    }
}
