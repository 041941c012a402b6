//! Listing a local directory: one level, or the whole tree in path order.
//!
//! object_store's `list_with_delimiter` reads a whole directory into memory
//! before returning, which a directory of a million files must not do. This
//! reads it in chunks instead, with the same conventions as object_store's
//! `LocalFileSystem` so that listings and reads agree: names are the text of
//! Ringside paths, symbolic links are followed, broken links and special files
//! are skipped, and upload staging files (`name#123`) are hidden.

use std::collections::VecDeque;
use std::fs::{Metadata, ReadDir};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::UfsError;
use crate::path::UfsPath;
use crate::ufs::{Entry, FileStatus};

/// Directory entries read per blocking task; also the unit of ordering.
const CHUNK: usize = 1024;

/// Whether object_store's `LocalFileSystem` treats a file name as an upload in
/// progress (`#` then only digits at the end), hiding it and refusing to read it.
pub(crate) fn is_upload_staging_name(name: &str) -> bool {
    // The first '#', as object_store looks: "a#b#1" is an ordinary name there.
    match name.split_once('#') {
        Some((_, digits)) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

enum Cursor {
    Unopened(PathBuf),
    Open(ReadDir),
    Done,
}

pub(crate) fn list_dir(
    root: &Path,
    listed: UfsPath,
) -> BoxStream<'static, Result<Entry, UfsError>> {
    let mut dir = root.to_path_buf();
    dir.extend(listed.segments());
    futures::stream::unfold(
        (Cursor::Unopened(dir), VecDeque::new(), listed),
        |(mut cursor, mut buffer, listed)| async move {
            loop {
                if let Some(item) = buffer.pop_front() {
                    return Some((item, (cursor, buffer, listed)));
                }
                if matches!(cursor, Cursor::Done) {
                    return None;
                }
                if tokio::runtime::Handle::try_current().is_err() {
                    // Polled outside Tokio (e.g. `futures::executor`): there is
                    // no blocking pool to hand the reads to, so do them here.
                    let (next, items) = read_chunk(cursor, &listed);
                    cursor = next;
                    buffer.extend(items);
                    continue;
                }
                let task_listed = listed.clone();
                let read = tokio::task::spawn_blocking(move || read_chunk(cursor, &task_listed));
                match read.await {
                    Ok((next, items)) => {
                        cursor = next;
                        buffer.extend(items);
                    }
                    Err(e) => {
                        cursor = Cursor::Done;
                        buffer.push_back(Err(UfsError::Other {
                            message: format!("listing {listed} was interrupted: {e}"),
                        }));
                    }
                }
            }
        },
    )
    .boxed()
}

/// Every file below `listed`, at all levels, in path order (by UTF-8
/// bytes, as S3 sorts keys): a depth-first walk that reads one directory at
/// a time whole, sorts it with subdirectories named as `name/`, and
/// descends into each subdirectory where it sorts. Memory is one sorted
/// directory per level of the walk, not the tree.
///
/// Symbolic links are followed, as in the other listings; a link back to a
/// directory being walked is skipped with a warning instead of looping.
pub(crate) fn walk_in_order(
    root: &Path,
    listed: UfsPath,
    after: Option<String>,
) -> BoxStream<'static, Result<Entry, UfsError>> {
    let root = root.to_path_buf();
    let after = std::sync::Arc::new(after);
    let start = Some(Entry::Directory { path: listed });
    futures::stream::unfold(
        (root, after, Vec::<Level>::new(), start),
        |(root, after, mut stack, mut next_dir)| async move {
            loop {
                if let Some(Entry::Directory { path }) = next_dir.take() {
                    let (task_root, task_after) = (root.clone(), after.clone());
                    let level = if tokio::runtime::Handle::try_current().is_err() {
                        read_level(&task_root, path, task_after.as_deref())
                    } else {
                        match tokio::task::spawn_blocking(move || {
                            read_level(&task_root, path, task_after.as_deref())
                        })
                            .await
                        {
                            Ok(level) => level,
                            Err(e) => {
                                let message = format!("listing was interrupted: {e}");
                                return Some((Err(UfsError::Other { message }), (root, after, Vec::new(), None)));
                            }
                        }
                    };
                    let looped = level.identity.is_some()
                        && stack.iter().any(|up| up.identity == level.identity);
                    if looped {
                        tracing::warn!(dir = %level.dir, "skipping a directory link back to a directory being listed");
                    } else {
                        stack.push(level);
                    }
                }
                let level = stack.last_mut()?;
                match level.entries.pop_front() {
                    None => {
                        stack.pop();
                    }
                    Some(Ok(dir @ Entry::Directory { .. })) => next_dir = Some(dir),
                    Some(item) => return Some((item, (root, after, stack, None))),
                }
            }
        },
    )
    .boxed()
}

/// One directory of [`walk_in_order`], sorted.
struct Level {
    dir: UfsPath,
    /// Device and inode, to notice a link back up the walk.
    identity: Option<(u64, u64)>,
    entries: VecDeque<Result<Entry, UfsError>>,
}

/// One directory, sorted; with `after`, without what sorts at or before
/// it, except a directory `after` lies in (its later entries still count).
fn read_level(root: &Path, dir: UfsPath, after: Option<&str>) -> Level {
    let mut fs_dir = root.to_path_buf();
    fs_dir.extend(dir.segments());
    #[cfg(unix)]
    let identity = std::fs::metadata(&fs_dir).ok().map(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    });
    #[cfg(not(unix))]
    let identity = None;
    let mut items = Vec::new();
    let mut cursor = Cursor::Unopened(fs_dir);
    while !matches!(cursor, Cursor::Done) {
        let (next, chunk) = read_chunk(cursor, &dir);
        cursor = next;
        items.extend(chunk);
    }
    // A directory sorts as its name and a slash, which is where its keys
    // fall among its siblings' (`a-b` < `a/x` < `a0`); errors go first.
    let mut keyed: Vec<(Option<String>, Result<Entry, UfsError>)> = items
        .into_iter()
        .map(|item| {
            let key = match &item {
                Ok(Entry::Directory { path }) => Some(format!("{path}/")),
                Ok(Entry::File(status)) => Some(status.path.to_string()),
                Err(_) => None,
            };
            (key, item)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(after) = after {
        keyed.retain(|(key, _)| match key {
            None => true,
            Some(key) => {
                key.as_str() > after || (key.ends_with('/') && after.starts_with(key.as_str()))
            }
        });
    }
    Level {
        dir,
        identity,
        entries: keyed.into_iter().map(|(_, item)| item).collect(),
    }
}

fn read_chunk(cursor: Cursor, listed: &UfsPath) -> (Cursor, Vec<Result<Entry, UfsError>>) {
    let mut entries = match cursor {
        Cursor::Done => return (Cursor::Done, Vec::new()),
        Cursor::Open(entries) => entries,
        Cursor::Unopened(dir) => match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Like an object store: listing what is not a directory finds nothing.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return (Cursor::Done, Vec::new());
            }
            Err(e) => return (Cursor::Done, vec![Err(io_error(e, listed))]),
        },
    };
    let mut items = Vec::new();
    let mut read = 0;
    while read < CHUNK {
        let Some(entry) = entries.next() else {
            sort_page(&mut items);
            return (Cursor::Done, items);
        };
        read += 1;
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // A failing directory read may keep failing; stop rather than spin.
                items.push(Err(io_error(e, listed)));
                return (Cursor::Done, items);
            }
        };
        let name = match entry.file_name().into_string() {
            Ok(name) => name,
            Err(name) => {
                tracing::warn!(dir = %listed, ?name, "skipping a file whose name is not UTF-8");
                continue;
            }
        };
        let path = match listed.join(&name) {
            Ok(path) => path,
            Err(e) => {
                tracing::warn!(dir = %listed, ?name, error = %e, "skipping a file that no ringside path can name");
                continue;
            }
        };
        // `fs::metadata` follows symbolic links, as object_store does.
        match std::fs::metadata(entry.path()) {
            Ok(meta) if meta.is_dir() => items.push(Ok(Entry::Directory { path })),
            // object_store hides its upload staging files, and so must we.
            Ok(meta) if meta.is_file() && !is_upload_staging_name(&name) => {
                items.push(Ok(Entry::File(status(path, &meta))))
            }
            Ok(_) => {} // fifos, sockets, devices: not files to cache
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // gone, or a broken link
            Err(e) => items.push(Err(io_error(e, &path))),
        }
    }
    sort_page(&mut items);
    (Cursor::Open(entries), items)
}

/// Errors first, then entries by path: a total order, as `sort_by` requires.
fn sort_page(items: &mut [Result<Entry, UfsError>]) {
    fn key(item: &Result<Entry, UfsError>) -> Option<&UfsPath> {
        item.as_ref().ok().map(Entry::path)
    }
    items.sort_by(|a, b| key(a).cmp(&key(b)));
}

pub(crate) fn io_error(e: io::Error, path: &UfsPath) -> UfsError {
    match e.kind() {
        io::ErrorKind::PermissionDenied => UfsError::PermissionDenied {
            path: path.to_string(),
            message: format!("{e}; check that the ringside worker's user can read it"),
        },
        _ => UfsError::Other {
            message: format!("reading {path}: {e}"),
        },
    }
}

/// The same status `Ufs::stat` reports through object_store, so a listing and a
/// stat of an unchanged file agree on its version (a test holds them together).
fn status(path: UfsPath, meta: &Metadata) -> FileStatus {
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    FileStatus {
        path,
        size: meta.len(),
        last_modified: DateTime::<Utc>::from(modified),
        version: etag(meta, modified),
    }
}

/// object_store's `LocalFileSystem` ETag: inode, mtime in µs and size, in hex.
fn etag(meta: &Metadata, modified: SystemTime) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = modified
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    format!("\"{inode:x}-{mtime:x}-{:x}\"", meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names() {
        assert!(is_upload_staging_name("a#1"));
        assert!(is_upload_staging_name("data.bin#42"));
        assert!(!is_upload_staging_name("a#"));
        assert!(!is_upload_staging_name("a#b1"));
        assert!(!is_upload_staging_name("tag#1x"));
        assert!(!is_upload_staging_name("plain"));
        assert!(!is_upload_staging_name("a#b#1"));
        assert!(!is_upload_staging_name("a#1#2"));
    }
}
