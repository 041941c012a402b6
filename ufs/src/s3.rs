//! S3 keys and listings.
//!
//! Listings go page by page through `PaginatedListStore`: object_store's own
//! `list_with_delimiter` gathers every page before returning, and its prefix
//! wrapper would hide the pagination API.

use std::borrow::Cow;

use chrono::{DateTime, Timelike, Utc};

use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3;
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as StorePath;

use crate::error::{UfsError, from_store};
use crate::path::UfsPath;
use crate::ufs::{Entry, FileStatus, file_status};

/// The key of `path` under the root's key prefix (no slashes around it).
pub(crate) fn key(prefix: &str, path: &UfsPath) -> String {
    match (prefix.is_empty(), path.is_root()) {
        (_, true) => prefix.to_string(),
        (true, false) => path.relative().to_string(),
        (false, false) => format!("{prefix}/{}", path.relative()),
    }
}

/// S3 listings give milliseconds but HEAD only seconds (an HTTP date); cutting
/// both to seconds lets a listing and a stat of one object agree.
pub(crate) fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_nanosecond(0).unwrap_or(time)
}

/// The Ringside path of a key, if it lies under the root's key prefix and
/// users could name it.
fn path_of(prefix: &str, location: &StorePath) -> Option<UfsPath> {
    let key = location.as_ref();
    let relative = if prefix.is_empty() {
        key
    } else {
        key.strip_prefix(prefix)?.strip_prefix('/')?
    };
    match UfsPath::parse(relative) {
        Ok(path) => Some(path),
        Err(e) => {
            tracing::warn!(key, error = %e, "skipping an s3 key that no ringside path can name");
            None
        }
    }
}

struct Lister {
    store: AmazonS3,
    root_prefix: String,
    listed: UfsPath,
    recursive: bool,
    /// `None` before the first page; then the continuation token, if any.
    next_page: Option<Option<String>>,
    /// A 0-byte file held back until the next key shows whether it is a folder marker.
    held: Option<FileStatus>,
}

pub(crate) fn list(
    store: AmazonS3,
    root_prefix: String,
    listed: UfsPath,
    recursive: bool,
) -> BoxStream<'static, Result<Entry, UfsError>> {
    let lister = Lister {
        store,
        root_prefix,
        listed,
        recursive,
        next_page: None,
        held: None,
    };
    futures::stream::unfold(Some(lister), |lister| async move {
        let mut lister = lister?;
        let items = lister.next_page().await;
        let done = matches!(lister.next_page, Some(None));
        Some((items, (!done).then_some(lister)))
    })
    .flat_map(futures::stream::iter)
    .boxed()
}

impl Lister {
    /// Fetches one page; after the last page (or an error) `next_page` is `Some(None)`.
    async fn next_page(&mut self) -> Vec<Result<Entry, UfsError>> {
        let dir_key = key(&self.root_prefix, &self.listed);
        // S3 prefixes are plain string prefixes: the trailing '/' keeps
        // `/data` from also listing `/database`.
        let prefix = (!dir_key.is_empty()).then(|| format!("{dir_key}/"));
        let options = PaginatedListOptions {
            delimiter: (!self.recursive).then_some(Cow::Borrowed("/")),
            page_token: self.next_page.take().flatten(),
            ..Default::default()
        };
        let page = match self.store.list_paginated(prefix.as_deref(), options).await {
            Ok(page) => page,
            Err(e) => {
                self.next_page = Some(None);
                return vec![Err(from_store(e, &self.listed))];
            }
        };
        let last = page.page_token.is_none();
        self.next_page = Some(page.page_token);

        let files = page.result.objects.iter().filter_map(|meta| {
            let path = path_of(&self.root_prefix, &meta.location)?;
            // The listed folder's own marker ("dir/") parses as the folder itself.
            path.is_under(&self.listed).then(|| {
                let mut status = file_status(path, meta);
                status.last_modified = whole_seconds(status.last_modified);
                status
            })
        });
        let mut items: Vec<Result<Entry, UfsError>> = Vec::new();
        if self.recursive {
            let files: Vec<FileStatus> = files.collect();
            items.extend(drop_folder_markers(&mut self.held, files, last));
        } else {
            items.extend(files.map(Entry::File).map(Ok));
            items.extend(
                page.result
                    .common_prefixes
                    .iter()
                    .filter_map(|p| path_of(&self.root_prefix, p))
                    .filter(|p| p.is_under(&self.listed))
                    .map(|path| Ok(Entry::Directory { path })),
            );
            items.sort_by(|a, b| {
                let key = |e: &Result<Entry, UfsError>| e.as_ref().ok().map(|e| e.path().clone());
                key(a).cmp(&key(b))
            });
        }
        items
    }
}

/// Hides S3 folder markers from a recursive listing in key order.
///
/// A marker `dir/` is listed as a 0-byte file `dir` (object_store drops the
/// trailing slash), and in key order it comes right before the first key under
/// `dir/`. So a 0-byte file directly followed by a key below it is a marker; any
/// other 0-byte file is real. `held` carries the last 0-byte file across pages.
fn drop_folder_markers(
    held: &mut Option<FileStatus>,
    page: Vec<FileStatus>,
    last_page: bool,
) -> Vec<Result<Entry, UfsError>> {
    let mut out = Vec::with_capacity(page.len() + 1);
    for file in page {
        if let Some(previous) = held.take()
            && !file.path.is_under(&previous.path)
        {
            out.push(Ok(Entry::File(previous)));
        }
        if file.size == 0 {
            *held = Some(file);
        } else {
            out.push(Ok(Entry::File(file)));
        }
    }
    if last_page && let Some(previous) = held.take() {
        out.push(Ok(Entry::File(previous)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> FileStatus {
        FileStatus {
            path: UfsPath::parse(path).unwrap(),
            size,
            last_modified: Utc::now(),
            version: "v".into(),
        }
    }

    fn paths(items: &[Result<Entry, UfsError>]) -> Vec<&str> {
        items
            .iter()
            .map(|i| i.as_ref().unwrap().path().as_str())
            .collect()
    }

    #[test]
    fn times_are_cut_to_seconds() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:20:30.456Z")
            .unwrap()
            .to_utc();
        assert_eq!(whole_seconds(t).to_rfc3339(), "2024-05-01T10:20:30+00:00");
    }

    #[test]
    fn keys_under_prefix() {
        let p = UfsPath::parse("/a b/c").unwrap();
        assert_eq!(key("", &p), "a b/c");
        assert_eq!(key("pre fix/x", &p), "pre fix/x/a b/c");
        assert_eq!(key("pre", &UfsPath::root()), "pre");
        assert_eq!(key("", &UfsPath::root()), "");
        let loc = StorePath::parse("pre/a b/c").unwrap();
        assert_eq!(path_of("pre", &loc), Some(p));
        assert_eq!(path_of("pr", &loc), None);
        // The root's own folder marker is not an entry.
        assert_eq!(path_of("pre", &StorePath::parse("pre").unwrap()), None);
    }

    #[test]
    fn markers_are_dropped_real_empty_files_kept() {
        let mut held = None;
        // Key order: "a" (real, 0 B), "a.txt", "a/" (marker), "a/x", "b/" (marker of an empty folder), "c".
        let page1 = vec![file("/a", 0), file("/a.txt", 3), file("/a", 0)];
        let out1 = drop_folder_markers(&mut held, page1, false);
        assert_eq!(paths(&out1), ["/a", "/a.txt"]);
        // The marker "/a" was held across the page boundary.
        let page2 = vec![file("/a/x", 0), file("/b", 0), file("/c", 1), file("/d", 0)];
        let out2 = drop_folder_markers(&mut held, page2, false);
        assert_eq!(paths(&out2), ["/a/x", "/b", "/c"]);
        // The last 0-byte file is released when the listing ends.
        let out3 = drop_folder_markers(&mut held, vec![], true);
        assert_eq!(paths(&out3), ["/d"]);
        let mut held = Some(file("/z", 0));
        assert_eq!(paths(&drop_folder_markers(&mut held, vec![], true)), ["/z"]);
    }
}
