//! What a page store is opened with. Every default lives here, and each field
//! names the `ringside-site.properties` key the worker fills it from, so an
//! error can tell the operator which property to change.

use std::fmt;
use std::path::PathBuf;

use crate::error::PageStoreError;

/// 1 KiB.
pub const KIB: u64 = 1024;
/// 1 MiB.
pub const MIB: u64 = 1024 * KIB;
/// 1 GiB.
pub const GIB: u64 = 1024 * MIB;

/// Which cached pages go first when the store passes its high watermark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EvictorKind {
    /// Least recently used: the page read or written longest ago.
    #[default]
    Lru,
    /// Least frequently used: the page with the fewest reads since it was
    /// cached (or since the store was opened); ties go to the least recently
    /// used among them.
    Lfu,
    /// First in, first out: the page cached earliest, however often it is read.
    Fifo,
}

impl EvictorKind {
    /// Every kind, in the order the names are documented.
    pub const ALL: [EvictorKind; 3] = [EvictorKind::Lru, EvictorKind::Lfu, EvictorKind::Fifo];

    /// The property value: `LRU`, `LFU` or `FIFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictorKind::Lru => "LRU",
            EvictorKind::Lfu => "LFU",
            EvictorKind::Fifo => "FIFO",
        }
    }

    /// Parses a property value, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<EvictorKind> {
        EvictorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for EvictorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a [`PageStore`](crate::PageStore) is laid out on disk and evicted.
///
/// Build it with [`Options::new`], which fills in the defaults below, then
/// override fields:
///
/// | field | property | default |
/// | --- | --- | --- |
/// | `dir` | `ringside.worker.pagestore.dir` | (required) |
/// | `size` | `ringside.worker.pagestore.size` | [`Options::DEFAULT_SIZE`] (1 GiB) |
/// | `reserved_size` | `ringside.worker.pagestore.reserved.size` | [`Options::DEFAULT_RESERVED_SIZE`] (64 MiB) |
/// | `page_size` | `ringside.worker.pagestore.page.size` | [`Options::DEFAULT_PAGE_SIZE`] (1 MiB) |
/// | `evictor` | `ringside.worker.pagestore.evictor.type` | [`Options::DEFAULT_EVICTOR`] (LRU) |
/// | `high_watermark` | `ringside.worker.pagestore.high.watermark` | [`Options::DEFAULT_HIGH_WATERMARK`] (0.9) |
/// | `low_watermark` | `ringside.worker.pagestore.low.watermark` | [`Options::DEFAULT_LOW_WATERMARK`] (0.8) |
/// | `verify_checksums_on_open` | (none) | `false` |
/// | `sync_writes` | (none) | `true` |
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Directory holding the store. Created when missing; it must be empty or
    /// hold a page store.
    pub dir: PathBuf,
    /// Capacity: the most page payload bytes the store keeps.
    pub size: u64,
    /// Disk space needed on top of `size` for page headers, metadata records,
    /// temporary files and file system block rounding. Only checked at open.
    pub reserved_size: u64,
    /// Bytes per page; every page but a file's last is exactly this long.
    pub page_size: u64,
    /// Which pages are evicted first.
    pub evictor: EvictorKind,
    /// Fraction of `size` that a write may not push the store past without
    /// evicting first.
    pub high_watermark: f64,
    /// Fraction of `size` that eviction frees the store down to, so it does
    /// not evict again on the very next write.
    pub low_watermark: f64,
    /// Read every page in full when opening, and drop those whose checksum
    /// fails. Off by default because it reads the whole cache; every read
    /// verifies its page anyway.
    pub verify_checksums_on_open: bool,
    /// Flush every page and record to disk (`fdatasync`) before renaming it
    /// into place, and fsync directories after renaming records. Turning it
    /// off makes writes several times cheaper (benchmarks, caches on tmpfs)
    /// at the price that a power loss may lose or damage recently written
    /// pages; the checks on open and on every read still keep damaged pages
    /// from being served.
    pub sync_writes: bool,
}

impl Options {
    /// Default capacity, as `ringside.worker.pagestore.size`.
    pub const DEFAULT_SIZE: u64 = GIB;
    /// Default reserve, as `ringside.worker.pagestore.reserved.size`.
    pub const DEFAULT_RESERVED_SIZE: u64 = 64 * MIB;
    /// Default page size, as `ringside.worker.pagestore.page.size`.
    pub const DEFAULT_PAGE_SIZE: u64 = MIB;
    /// Default eviction policy.
    pub const DEFAULT_EVICTOR: EvictorKind = EvictorKind::Lru;
    /// Default high watermark.
    pub const DEFAULT_HIGH_WATERMARK: f64 = 0.9;
    /// Default low watermark.
    pub const DEFAULT_LOW_WATERMARK: f64 = 0.8;
    /// Largest page size: a page is read into memory whole.
    pub const MAX_PAGE_SIZE: u64 = GIB;

    /// Options for a store in `dir`, everything else at its default.
    pub fn new(dir: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            size: Options::DEFAULT_SIZE,
            reserved_size: Options::DEFAULT_RESERVED_SIZE,
            page_size: Options::DEFAULT_PAGE_SIZE,
            evictor: Options::DEFAULT_EVICTOR,
            high_watermark: Options::DEFAULT_HIGH_WATERMARK,
            low_watermark: Options::DEFAULT_LOW_WATERMARK,
            verify_checksums_on_open: false,
            sync_writes: true,
        }
    }

    /// Checks the options against each other before anything touches disk.
    pub(crate) fn validate(&self) -> Result<(), PageStoreError> {
        fn invalid(property: &'static str, value: impl ToString, expected: &str) -> PageStoreError {
            PageStoreError::InvalidOption {
                property,
                value: value.to_string(),
                expected: expected.to_string(),
            }
        }
        if self.dir.as_os_str().is_empty() {
            return Err(invalid(
                "ringside.worker.pagestore.dir",
                "",
                "a directory path",
            ));
        }
        if self.page_size == 0 || self.page_size > Options::MAX_PAGE_SIZE {
            return Err(invalid(
                "ringside.worker.pagestore.page.size",
                self.page_size,
                "a page size from 1 byte to 1GiB",
            ));
        }
        if self.size < self.page_size {
            return Err(invalid(
                "ringside.worker.pagestore.size",
                self.size,
                &format!("at least the page size ({} bytes)", self.page_size),
            ));
        }
        let ratio = |w: f64| w.is_finite() && w > 0.0 && w <= 1.0;
        if !ratio(self.high_watermark) {
            return Err(invalid(
                "ringside.worker.pagestore.high.watermark",
                self.high_watermark,
                "a ratio above 0 and at most 1",
            ));
        }
        if !ratio(self.low_watermark) || self.low_watermark >= self.high_watermark {
            return Err(invalid(
                "ringside.worker.pagestore.low.watermark",
                self.low_watermark,
                &format!(
                    "a ratio above 0 and below the high watermark ({})",
                    self.high_watermark
                ),
            ));
        }
        Ok(())
    }

    /// The watermarks in bytes of payload.
    pub(crate) fn watermark_bytes(&self) -> (u64, u64) {
        // f64 holds every size up to 2^53 exactly and rounds above it by
        // less than a page, which is harmless for a threshold.
        let bytes = |w: f64| ((self.size as f64) * w).floor() as u64;
        (bytes(self.high_watermark), bytes(self.low_watermark))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_properties() {
        let options = Options::new("/tmp/x");
        assert_eq!(options.size, GIB);
        assert_eq!(options.reserved_size, 64 * MIB);
        assert_eq!(options.page_size, MIB);
        assert_eq!(options.evictor, EvictorKind::Lru);
        assert_eq!(options.high_watermark, 0.9);
        assert_eq!(options.low_watermark, 0.8);
        assert!(options.validate().is_ok());
        assert_eq!(options.watermark_bytes(), (966_367_641, 858_993_459));
    }

    #[test]
    fn evictor_names_round_trip() {
        for kind in EvictorKind::ALL {
            assert_eq!(EvictorKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(
                EvictorKind::from_name(&kind.as_str().to_lowercase()),
                Some(kind)
            );
        }
        assert_eq!(EvictorKind::from_name("ARC"), None);
    }

    #[test]
    fn bad_options_name_the_property() {
        let mut options = Options::new("/tmp/x");
        options.low_watermark = 0.95;
        let message = options.validate().unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid page store option ringside.worker.pagestore.low.watermark=0.95: \
             expected a ratio above 0 and below the high watermark (0.9)"
        );
        let mut options = Options::new("/tmp/x");
        options.size = 10;
        assert!(
            options
                .validate()
                .unwrap_err()
                .to_string()
                .contains("ringside.worker.pagestore.size=10")
        );
        let mut options = Options::new("/tmp/x");
        options.high_watermark = f64::NAN;
        assert!(options.validate().is_err());
        let mut options = Options::new("/tmp/x");
        options.page_size = 0;
        assert!(options.validate().is_err());
    }
}
