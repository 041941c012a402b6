//! How cached data is named: a UFS file at one version, and its pages.

use xxhash_rust::xxh3::Xxh3;

use crate::error::PageStoreError;

/// Longest UFS path a metadata record keeps (S3 keys stop at 1 KiB; local
/// paths at 4 KiB).
pub const MAX_PATH_LEN: usize = 16 * 1024;
/// Longest version string a metadata record keeps.
pub const MAX_VERSION_LEN: usize = 1024;

/// One UFS file at one version.
///
/// The version is whatever the caller can cheaply get from the UFS that
/// changes whenever the content does: `"{len}-{mtime_ns}"` for a local file,
/// the ETag for an S3 object. A page cached under one version is never served
/// for another, so a changed UFS file reads as a miss, and caching the new
/// version drops the old one.
///
/// The length is part of the key too: it tells how many pages the file has
/// and how long each must be, which is how the store rejects a page of the
/// wrong length instead of caching it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileKey {
    path: String,
    version: String,
    len: u64,
}

impl FileKey {
    /// The file at `path` (its UFS path, as the ring hashes it) whose content
    /// is identified by `version` and is `len` bytes long.
    pub fn new(path: impl Into<String>, version: impl Into<String>, len: u64) -> FileKey {
        FileKey {
            path: path.into(),
            version: version.into(),
            len,
        }
    }

    /// The UFS path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty (and so has no pages).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn check_lengths(&self) -> Result<(), PageStoreError> {
        if self.path.len() > MAX_PATH_LEN {
            return Err(PageStoreError::KeyTooLong {
                what: "path",
                len: self.path.len(),
                max: MAX_PATH_LEN,
            });
        }
        if self.version.len() > MAX_VERSION_LEN {
            return Err(PageStoreError::KeyTooLong {
                what: "version",
                len: self.version.len(),
                max: MAX_VERSION_LEN,
            });
        }
        Ok(())
    }

    pub(crate) fn id(&self) -> u128 {
        file_id(&self.path, &self.version, self.len)
    }
}

/// The 128-bit name a file's pages and metadata record carry on disk. It
/// covers path, version and length, so pages of another version can never be
/// mistaken for this one's; at 128 bits a collision is not a practical
/// concern. The fields are length-prefixed so `("a", "bc")` and `("ab", "c")`
/// differ.
pub(crate) fn file_id(path: &str, version: &str, len: u64) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&(path.len() as u64).to_le_bytes());
    hasher.update(path.as_bytes());
    hasher.update(&(version.len() as u64).to_le_bytes());
    hasher.update(version.as_bytes());
    hasher.update(&len.to_le_bytes());
    hasher.digest128()
}

/// How many pages a file of `len` bytes has.
pub fn page_count(len: u64, page_size: u64) -> u64 {
    if page_size == 0 {
        return 0;
    }
    len.div_ceil(page_size)
}

/// How long page `index` of a file of `len` bytes is, or `None` past the end.
pub fn page_len(len: u64, page_size: u64, index: u64) -> Option<u64> {
    let start = index.checked_mul(page_size)?;
    if start >= len {
        return None;
    }
    Some((len - start).min(page_size))
}

/// A file the store holds pages of, as [`PageStore::files`](crate::PageStore::files)
/// and [`PageStore::cached_file`](crate::PageStore::cached_file) report it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CachedFile {
    /// The UFS path.
    pub path: String,
    /// The version whose pages are cached.
    pub version: String,
    /// The file's length in bytes.
    pub len: u64,
    /// Bytes of the file held in cached pages.
    pub cached_bytes: u64,
    /// Number of cached pages.
    pub cached_pages: u64,
}

impl CachedFile {
    /// Whether every byte of the file is cached.
    pub fn is_fully_cached(&self) -> bool {
        self.cached_bytes == self.len
    }

    /// The key to read this file's pages with.
    pub fn key(&self) -> FileKey {
        FileKey::new(self.path.clone(), self.version.clone(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_separate_path_version_and_length() {
        let a = file_id("a", "bc", 1);
        assert_ne!(a, file_id("ab", "c", 1));
        assert_ne!(a, file_id("a", "bc", 2));
        assert_ne!(a, file_id("a", "bd", 1));
        assert_eq!(a, FileKey::new("a", "bc", 1).id());
    }

    #[test]
    fn page_geometry() {
        assert_eq!(page_count(0, 4), 0);
        assert_eq!(page_count(8, 4), 2);
        assert_eq!(page_count(9, 4), 3);
        assert_eq!(page_len(9, 4, 0), Some(4));
        assert_eq!(page_len(9, 4, 2), Some(1));
        assert_eq!(page_len(9, 4, 3), None);
        assert_eq!(page_len(u64::MAX, 4, u64::MAX), None);
        assert_eq!(page_len(0, 4, 0), None);
    }

    #[test]
    fn long_keys_are_refused() {
        let key = FileKey::new("x".repeat(MAX_PATH_LEN + 1), "v", 1);
        assert_eq!(
            key.check_lengths().unwrap_err().to_string(),
            "path of 16385 bytes is too long: expected at most 16384 bytes"
        );
        assert!(
            FileKey::new("p", "v".repeat(2000), 1)
                .check_lengths()
                .is_err()
        );
        assert!(FileKey::new("p", "v", 1).check_lengths().is_ok());
    }
}
