//! The on-disk format, version 1. Pure encoding and decoding: no I/O.
//!
//! ```text
//! <dir>/ringside-pagestore        marker: "ringside page store\nformat 1\n"
//! <dir>/lock                      held with flock while a process has the store open
//! <dir>/meta/<xx>/<id>            one metadata record per cached file
//! <dir>/pages/<yy>/<id>-<index>   one page: 64-byte header, then the payload
//! <dir>/tmp/<n>.tmp               writes in progress; deleted on open
//! ```
//!
//! `<id>` is the file id ([`crate::key::file_id`]) in 32 lowercase hex
//! digits; `<xx>` is its first byte mod 64, and `<yy>` that plus the page
//! index (mod 64), so one file's pages spread over all 64 page directories.
//!
//! Page header, little endian:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..4 | magic `RSPG` |
//! | 4..6 | format version (1) |
//! | 6..8 | header length (64) |
//! | 8..24 | file id |
//! | 24..32 | page index |
//! | 32..40 | payload length |
//! | 40..48 | xxh3-64 of the payload |
//! | 48..56 | reserved, zero |
//! | 56..64 | xxh3-64 of bytes 0..56 |
//!
//! Metadata record, little endian: magic `RSFM`, format version (u16), flags
//! (u16, zero), page size (u64), file length (u64), path length (u32),
//! version length (u32), the path and version in UTF-8, then xxh3-64 of
//! everything before it. A later version can add fields (a tenant, say)
//! after the version string.

use std::ffi::CStr;

use xxhash_rust::xxh3::xxh3_64;

use crate::key::{MAX_PATH_LEN, MAX_VERSION_LEN};

/// The format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u16 = 1;
/// Marks a directory as a page store and records its format version.
pub(crate) const MARKER_FILE: &str = "ringside-pagestore";
/// Held locked by the process that has the store open.
pub(crate) const LOCK_FILE: &str = "lock";
pub(crate) const PAGES_DIR: &str = "pages";
pub(crate) const META_DIR: &str = "meta";
pub(crate) const TMP_DIR: &str = "tmp";

const PAGE_MAGIC: [u8; 4] = *b"RSPG";
const META_MAGIC: [u8; 4] = *b"RSFM";
pub(crate) const HEADER_LEN: usize = 64;
const META_FIXED_LEN: usize = 32;
const CHECKSUM_LEN: usize = 8;
/// No valid metadata record is longer than this.
pub(crate) const MAX_META_LEN: usize =
    META_FIXED_LEN + MAX_PATH_LEN + MAX_VERSION_LEN + CHECKSUM_LEN;

/// Why bytes on disk could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Not something this store wrote, or damaged.
    Invalid(&'static str),
    /// Our magic, but a format version this build does not know.
    UnknownVersion(u16),
}

/// The marker file's content.
pub(crate) fn marker_text() -> String {
    format!("ringside page store\nformat {FORMAT_VERSION}\n")
}

/// The format version a marker file declares.
pub(crate) fn parse_marker(text: &[u8]) -> Result<u32, DecodeError> {
    let text = std::str::from_utf8(text).map_err(|_| DecodeError::Invalid("marker is not text"))?;
    let mut lines = text.lines();
    if lines.next() != Some("ringside page store") {
        return Err(DecodeError::Invalid("marker does not name a page store"));
    }
    lines
        .find_map(|line| line.strip_prefix("format "))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or(DecodeError::Invalid("marker has no format line"))
}

/// What a page header says about the payload after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageHeader {
    pub file_id: u128,
    pub index: u64,
    pub payload_len: u64,
    pub checksum: u64,
}

impl PageHeader {
    pub fn for_payload(file_id: u128, index: u64, payload: &[u8]) -> PageHeader {
        PageHeader {
            file_id,
            index,
            payload_len: payload.len() as u64,
            checksum: xxh3_64(payload),
        }
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut buf = [0u8; HEADER_LEN];
        buf[0..4].copy_from_slice(&PAGE_MAGIC);
        buf[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        buf[8..24].copy_from_slice(&self.file_id.to_le_bytes());
        buf[24..32].copy_from_slice(&self.index.to_le_bytes());
        buf[32..40].copy_from_slice(&self.payload_len.to_le_bytes());
        buf[40..48].copy_from_slice(&self.checksum.to_le_bytes());
        let own = xxh3_64(&buf[..56]);
        buf[56..64].copy_from_slice(&own.to_le_bytes());
        buf
    }

    pub fn decode(buf: &[u8; HEADER_LEN]) -> Result<PageHeader, DecodeError> {
        if buf[0..4] != PAGE_MAGIC {
            return Err(DecodeError::Invalid("page has no header"));
        }
        let version = u16::from_le_bytes([buf[4], buf[5]]);
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        if u16::from_le_bytes([buf[6], buf[7]]) as usize != HEADER_LEN {
            return Err(DecodeError::Invalid("page header has the wrong length"));
        }
        if xxh3_64(&buf[..56]) != le_u64(&buf[56..64]) {
            return Err(DecodeError::Invalid("page header checksum mismatch"));
        }
        Ok(PageHeader {
            file_id: le_u128(&buf[8..24]),
            index: le_u64(&buf[24..32]),
            payload_len: le_u64(&buf[32..40]),
            checksum: le_u64(&buf[40..48]),
        })
    }

    /// Whether `payload` is what this header was written for.
    pub fn matches(&self, payload: &[u8]) -> bool {
        payload.len() as u64 == self.payload_len && xxh3_64(payload) == self.checksum
    }
}

/// The per-file metadata record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetaRecord {
    pub path: String,
    pub version: String,
    pub len: u64,
    pub page_size: u64,
}

impl MetaRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(
            META_FIXED_LEN + self.path.len() + self.version.len() + CHECKSUM_LEN,
        );
        buf.extend_from_slice(&META_MAGIC);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.extend_from_slice(&self.page_size.to_le_bytes());
        buf.extend_from_slice(&self.len.to_le_bytes());
        // Callers check path and version against MAX_PATH_LEN and
        // MAX_VERSION_LEN first, so both fit a u32.
        buf.extend_from_slice(&(self.path.len() as u32).to_le_bytes());
        buf.extend_from_slice(&(self.version.len() as u32).to_le_bytes());
        buf.extend_from_slice(self.path.as_bytes());
        buf.extend_from_slice(self.version.as_bytes());
        let checksum = xxh3_64(&buf);
        buf.extend_from_slice(&checksum.to_le_bytes());
        buf
    }

    pub fn decode(buf: &[u8]) -> Result<MetaRecord, DecodeError> {
        if buf.len() < 6 || buf[0..4] != META_MAGIC {
            return Err(DecodeError::Invalid("metadata record has no header"));
        }
        let version = u16::from_le_bytes([buf[4], buf[5]]);
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        if buf.len() < META_FIXED_LEN + CHECKSUM_LEN {
            return Err(DecodeError::Invalid("metadata record is truncated"));
        }
        let path_len = le_u32(&buf[24..28]) as usize;
        let version_len = le_u32(&buf[28..32]) as usize;
        if path_len > MAX_PATH_LEN || version_len > MAX_VERSION_LEN {
            return Err(DecodeError::Invalid(
                "metadata record has an oversized field",
            ));
        }
        let body_len = META_FIXED_LEN + path_len + version_len;
        if buf.len() != body_len + CHECKSUM_LEN {
            return Err(DecodeError::Invalid("metadata record has the wrong length"));
        }
        if xxh3_64(&buf[..body_len]) != le_u64(&buf[body_len..]) {
            return Err(DecodeError::Invalid("metadata record checksum mismatch"));
        }
        let text = |range: std::ops::Range<usize>| {
            String::from_utf8(buf[range].to_vec())
                .map_err(|_| DecodeError::Invalid("metadata record holds invalid utf-8"))
        };
        Ok(MetaRecord {
            page_size: le_u64(&buf[8..16]),
            len: le_u64(&buf[16..24]),
            path: text(META_FIXED_LEN..META_FIXED_LEN + path_len)?,
            version: text(META_FIXED_LEN + path_len..body_len)?,
        })
    }
}

// The callers pass slices of exactly the right length; a wrong one reads as
// zeros rather than panicking.
fn le_u32(bytes: &[u8]) -> u32 {
    bytes.try_into().map(u32::from_le_bytes).unwrap_or(0)
}

fn le_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_le_bytes).unwrap_or(0)
}

fn le_u128(bytes: &[u8]) -> u128 {
    bytes.try_into().map(u128::from_le_bytes).unwrap_or(0)
}

/// A path relative to the store directory, built on the stack so that reads
/// allocate nothing but the page buffer.
pub(crate) struct RelPath {
    buf: [u8; 64],
    /// Length without the trailing NUL.
    len: usize,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl RelPath {
    fn start(prefix: &str) -> RelPath {
        let mut path = RelPath {
            buf: [0; 64],
            len: 0,
        };
        path.push(prefix.as_bytes());
        path
    }

    fn push(&mut self, bytes: &[u8]) {
        // Every name below is at most 54 bytes plus NUL, so this never
        // truncates; the guard keeps it from panicking regardless.
        let room = self.buf.len() - 1 - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn push_hex_byte(&mut self, byte: u8) {
        self.push(&[HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]]);
    }

    fn push_id(&mut self, id: u128) {
        for byte in id.to_be_bytes() {
            self.push_hex_byte(byte);
        }
    }

    fn push_decimal(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    /// `pages/<yy>/<id>-<index>`.
    pub fn page(id: u128, index: u32) -> RelPath {
        let mut path = RelPath::start("pages/");
        path.push_hex_byte(page_shard(id, index));
        path.push(b"/");
        path.push_id(id);
        path.push(b"-");
        path.push_decimal(u64::from(index));
        path
    }

    /// `meta/<xx>/<id>`.
    pub fn meta(id: u128) -> RelPath {
        let mut path = RelPath::start("meta/");
        path.push_hex_byte(meta_shard(id));
        path.push(b"/");
        path.push_id(id);
        path
    }

    /// `meta/<xx>`: the directory to fsync after a record is renamed in.
    pub fn meta_dir(id: u128) -> RelPath {
        let mut path = RelPath::start("meta/");
        path.push_hex_byte(meta_shard(id));
        path
    }

    /// `tmp/<n>.tmp`.
    pub fn temp(n: u64) -> RelPath {
        let mut path = RelPath::start("tmp/");
        path.push_decimal(n);
        path.push(b".tmp");
        path
    }

    pub fn as_cstr(&self) -> &CStr {
        // buf[len] is always NUL (push leaves the last byte alone) and the
        // names hold no NUL, so this cannot fail; c"" keeps it panic-free.
        CStr::from_bytes_until_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// Directories per kind. Enough that renames and deletions rarely contend
/// for one directory and no directory grows huge; few enough that opening
/// lists them quickly.
pub(crate) const SHARDS: u8 = 64;

pub(crate) fn meta_shard(id: u128) -> u8 {
    id.to_be_bytes()[0] % SHARDS
}

pub(crate) fn page_shard(id: u128, index: u32) -> u8 {
    ((u32::from(meta_shard(id)) + index % u32::from(SHARDS)) % u32::from(SHARDS)) as u8
}

/// Reads `<id>` back from a meta file name.
pub(crate) fn parse_meta_name(name: &str) -> Option<u128> {
    if name.len() != 32 || !name.bytes().all(|b| HEX.contains(&b)) {
        return None;
    }
    u128::from_str_radix(name, 16).ok()
}

/// Reads `<id>-<index>` back from a page file name.
pub(crate) fn parse_page_name(name: &str) -> Option<(u128, u32)> {
    let (id, index) = name.split_once('-')?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Reject "007": names are written without leading zeros, so such a file
    // is not ours and would never be found by a read.
    if index.len() > 1 && index.starts_with('0') {
        return None;
    }
    Some((parse_meta_name(id)?, index.parse().ok()?))
}

/// The shard directory name for a shard number.
pub(crate) fn shard_name(shard: u8) -> String {
    format!("{shard:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_detects_damage() {
        let header =
            PageHeader::for_payload(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, 7, b"hello");
        let bytes = header.encode();
        assert_eq!(PageHeader::decode(&bytes), Ok(header));
        assert!(header.matches(b"hello"));
        assert!(!header.matches(b"hellp"));
        assert!(!header.matches(b"hell"));
        for i in 0..HEADER_LEN {
            let mut damaged = bytes;
            damaged[i] ^= 0x40;
            assert!(PageHeader::decode(&damaged).is_err(), "byte {i}");
        }
        let mut future = bytes;
        future[4] = 2;
        assert_eq!(
            PageHeader::decode(&future),
            Err(DecodeError::UnknownVersion(2))
        );
    }

    #[test]
    fn meta_round_trips_and_detects_damage() {
        let record = MetaRecord {
            path: "/data/ü.parquet".into(),
            version: "42-1700000000".into(),
            len: 42,
            page_size: 1 << 20,
        };
        let bytes = record.encode();
        assert_eq!(MetaRecord::decode(&bytes), Ok(record));
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            assert!(MetaRecord::decode(&damaged).is_err(), "byte {i}");
        }
        for n in 0..bytes.len() {
            assert!(MetaRecord::decode(&bytes[..n]).is_err());
        }
        let mut future = bytes.clone();
        future[4] = 9;
        assert_eq!(
            MetaRecord::decode(&future),
            Err(DecodeError::UnknownVersion(9))
        );
        let mut huge = bytes;
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(MetaRecord::decode(&huge).is_err());
    }

    #[test]
    fn names_round_trip() {
        let id = u128::MAX - 5;
        let page = RelPath::page(id, u32::MAX);
        let text = page.as_str();
        assert_eq!(page.as_cstr().to_str().unwrap(), text);
        let (dir, name) = text.rsplit_once('/').unwrap();
        assert_eq!(
            dir,
            format!("pages/{}", shard_name(page_shard(id, u32::MAX)))
        );
        assert_eq!(parse_page_name(name), Some((id, u32::MAX)));
        let meta = RelPath::meta(7);
        assert_eq!(meta.as_str(), "meta/00/00000000000000000000000000000007");
        assert_eq!(parse_meta_name("00000000000000000000000000000007"), Some(7));
        assert_eq!(RelPath::temp(12).as_str(), "tmp/12.tmp");
        assert_eq!(RelPath::meta_dir(7).as_str(), "meta/00");
        assert_eq!(parse_page_name("00000000000000000000000000000007-07"), None);
        assert_eq!(parse_page_name("00000000000000000000000000000007-"), None);
        assert_eq!(
            parse_page_name("00000000000000000000000000000007-4294967296"),
            None
        );
        assert_eq!(parse_page_name("0000000000000000000000000000000G-1"), None);
        assert_eq!(parse_page_name("7-1"), None);
        assert_eq!(parse_meta_name("0000000000000000000000000000000A"), None);
    }

    #[test]
    fn marker_round_trips() {
        assert_eq!(parse_marker(marker_text().as_bytes()), Ok(1));
        assert_eq!(parse_marker(b"ringside page store\nformat 3\n"), Ok(3));
        assert!(parse_marker(b"something else").is_err());
        assert!(parse_marker(&[0xff, 0xfe]).is_err());
    }
}
