//! Everything that can go wrong, worded for the operator who reads it in a
//! worker's log: what was wrong, and what was expected instead.

use std::io;
use std::path::PathBuf;

/// An error from the page store.
///
/// Of these, only [`PageStoreError::DiskFull`] and
/// [`PageStoreError::CapacityExhausted`] come from normal operation under
/// pressure; [`PageStoreError::is_out_of_space`] tells them apart so a worker
/// can serve the read from the UFS and carry on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageStoreError {
    /// An option is out of range or contradicts another.
    #[error("invalid page store option {property}={value}: expected {expected}")]
    InvalidOption {
        /// The `ringside-site.properties` key that sets it.
        property: &'static str,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },

    /// A file system call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What the store was doing, as a verb phrase.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// The disk cannot hold `size + reserved_size` next to what is already on
    /// it.
    #[error(
        "page store {} needs {} ({} ringside.worker.pagestore.size + {} \
         ringside.worker.pagestore.reserved.size) but its disk has only {} available \
         ({} free + {} already held by the store): lower ringside.worker.pagestore.size \
         or ringside.worker.pagestore.reserved.size, or point ringside.worker.pagestore.dir \
         at a disk with more free space",
        dir.display(),
        human_bytes(size.saturating_add(*reserved_size)),
        human_bytes(*size),
        human_bytes(*reserved_size),
        human_bytes(free.saturating_add(*occupied)),
        human_bytes(*free),
        human_bytes(*occupied)
    )]
    InsufficientSpace {
        /// The store's directory.
        dir: PathBuf,
        /// Configured capacity.
        size: u64,
        /// Configured reserve.
        reserved_size: u64,
        /// Bytes free for unprivileged users on the disk.
        free: u64,
        /// Bytes the store's own files already take on the disk.
        occupied: u64,
    },

    /// Another process has the store open.
    #[error(
        "page store {} is in use by another process (it holds the lock on {}): \
         stop that worker, or give this one its own ringside.worker.pagestore.dir",
        dir.display(),
        dir.join(crate::format::LOCK_FILE).display()
    )]
    Locked {
        /// The store's directory.
        dir: PathBuf,
    },

    /// The directory holds something other than a page store.
    #[error(
        "{} is not a page store: it has {found} but no {} marker; point \
         ringside.worker.pagestore.dir at an empty directory or an existing page store",
        dir.display(),
        crate::format::MARKER_FILE
    )]
    NotAPageStore {
        /// The directory.
        dir: PathBuf,
        /// What was found in it.
        found: String,
    },

    /// A file on disk was written in a format this build does not know, most
    /// likely by a newer Ringside. Nothing is deleted.
    #[error(
        "{} is in page store format version {found}, but this build reads only version \
         {supported}: run a Ringside that reads it, or move ringside.worker.pagestore.dir \
         away to start with an empty cache",
        path.display()
    )]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// A page index past the end of the file.
    #[error(
        "page {index} is out of range for {path}: its {len} bytes make {pages} pages of \
         {page_size} bytes, so expected an index below {pages}"
    )]
    PageOutOfRange {
        /// The file's UFS path.
        path: String,
        /// The page index asked for.
        index: u64,
        /// The file's length.
        len: u64,
        /// How many pages it has.
        pages: u64,
        /// The store's page size.
        page_size: u64,
    },

    /// Page data whose length does not fit its place in the file.
    #[error(
        "page {index} of {path} has {actual} bytes, expected {expected} (pages are \
         {page_size} bytes; only a file's last page is shorter)"
    )]
    PageLength {
        /// The file's UFS path.
        path: String,
        /// The page index.
        index: u64,
        /// The length given.
        actual: u64,
        /// The length that page must have.
        expected: u64,
        /// The store's page size.
        page_size: u64,
    },

    /// A UFS path or version string too long to keep in a metadata record.
    #[error("{what} of {len} bytes is too long: expected at most {max} bytes")]
    KeyTooLong {
        /// `path` or `version`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The disk ran out of space while writing a page, even after evicting.
    /// The page is not cached; serve it from the UFS.
    #[error(
        "disk of page store {} is full, even after evicting pages; the page was not \
         cached (serve it from the ufs), and ringside.worker.pagestore.size plus \
         ringside.worker.pagestore.reserved.size should leave room for what else writes \
         to that disk: {source}",
        dir.display()
    )]
    DiskFull {
        /// The store's directory.
        dir: PathBuf,
        /// The operating system's error (ENOSPC or EDQUOT).
        source: io::Error,
    },

    /// The page does not fit because concurrent writes hold the rest of the
    /// capacity. The page is not cached; serve it from the UFS.
    #[error(
        "no room for a {needed}-byte page: {in_flight} of the {capacity} bytes of \
         capacity are taken by page writes in flight; the page was not cached (serve it \
         from the ufs)"
    )]
    CapacityExhausted {
        /// The page's length.
        needed: u64,
        /// Bytes reserved by writes not finished yet.
        in_flight: u64,
        /// The store's capacity.
        capacity: u64,
    },

    /// A tenant rule set the store cannot apply; none of it was applied.
    #[error("invalid tenant rule {tenant:?}: {reason}")]
    InvalidTenant {
        /// The tenant's name (empty when the set as a whole is at fault).
        tenant: String,
        /// What is wrong and what was expected.
        reason: String,
    },
}

impl PageStoreError {
    /// Whether this is a lack of space that a worker should shrug off: the
    /// page was not cached, and the read it came from should still be
    /// answered from the UFS.
    pub fn is_out_of_space(&self) -> bool {
        matches!(
            self,
            PageStoreError::DiskFull { .. } | PageStoreError::CapacityExhausted { .. }
        )
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        PageStoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub(crate) fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// `1.5 GiB (1610612736 bytes)`: short for people, exact for scripts.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(1536 << 20), "1.5 GiB (1610612736 bytes)");
        assert!(human_bytes(u64::MAX).starts_with("16.0 EiB"));
    }

    #[test]
    fn insufficient_space_names_both_properties() {
        let error = PageStoreError::InsufficientSpace {
            dir: "/cache".into(),
            size: 100 << 30,
            reserved_size: 1 << 30,
            free: 40 << 30,
            occupied: 10 << 30,
        };
        let message = error.to_string();
        assert!(
            message.starts_with(
                "page store /cache needs 101.0 GiB (108447924224 bytes) (100.0 GiB \
                 (107374182400 bytes) ringside.worker.pagestore.size + 1.0 GiB (1073741824 \
                 bytes) ringside.worker.pagestore.reserved.size) but its disk has only \
                 50.0 GiB (53687091200 bytes) available"
            ),
            "{message}"
        );
        assert!(message.contains(
            "lower ringside.worker.pagestore.size or ringside.worker.pagestore.reserved.size"
        ));
        assert!(!error.is_out_of_space());
    }

    #[test]
    fn disk_full_is_recognised() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(28)));
        assert!(!is_disk_full(&io::Error::from_raw_os_error(2)));
    }
}
