//! HTTP `Range` requests (RFC 9110 §14) for the servers that stream file
//! bytes: the worker's HTTP file API and its S3 API. Both must agree on what
//! `bytes=-0` or `bytes=5-2` means, so the rules live here, once, as pure
//! functions over a header value and a file size.
//!
//! Ringside serves at most one range per response. The policy, applied by
//! [`select`]:
//!
//! | request                                   | outcome                                   |
//! | ----------------------------------------- | ----------------------------------------- |
//! | no `Range` header                         | [`Selection::Full`] → 200                  |
//! | `bytes=a-b`, `bytes=a-`, `bytes=-n`, satisfiable | [`Selection::Partial`] → 206 + [`ByteRange::content_range`] |
//! | satisfiable form but `a >= size`, `bytes=-0`, or any range on an empty file | [`Unsatisfiable`] → 416 + `Content-Range: bytes */SIZE` |
//! | malformed (`bytes=x`, `bytes=5-2`, `bytes=`), unknown unit (`items=0-1`), or several ranges (`bytes=0-1,5-6`) | ignored: [`Selection::Full`] → 200 |
//!
//! Ignoring rather than rejecting is what RFC 9110 §14.2 allows ("MAY ignore
//! or reject ... an invalid ranges-specifier") and requires for unknown units,
//! and it is what Amazon S3 does, so S3 SDKs see the behaviour they expect.
//! Multipart (`multipart/byteranges`) answers are not worth their complexity
//! for a read cache whose clients ask for one range at a time; a client that
//! sends several still gets correct bytes, just all of them.
//!
//! An empty file has no byte a range could select, so every range on it is
//! unsatisfiable. (RFC 9110 would let a server answer `bytes=-n` on an empty
//! file with the whole, empty, representation; S3 answers 416, and so do we.)

use std::fmt;
use std::ops::Range;

/// The one range unit Ringside understands.
const BYTES_UNIT: &str = "bytes";

/// One parsed `byte-range-spec` or `suffix-range`, not yet held against a
/// file size. Positions that overflow `u64` saturate, which keeps their
/// meaning: a huge first position is past any end, a huge last position or
/// suffix means "to the end".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeSpec {
    /// `bytes=first-last`, both inclusive, `first <= last`.
    FromTo { first: u64, last: u64 },
    /// `bytes=first-`: from `first` to the end.
    From { first: u64 },
    /// `bytes=-len`: the last `len` bytes.
    Suffix { len: u64 },
}

/// Why a `Range` header is ignored (the file is served whole with 200).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IgnoredRange {
    #[error("the range unit is not `bytes`")]
    UnknownUnit,
    #[error("the range is not of the form bytes=a-b, bytes=a- or bytes=-n")]
    Malformed,
    #[error("more than one range was asked for; only single ranges are served")]
    MultipleRanges,
}

/// A range that selects no byte of the file: answer 416 with
/// [`Unsatisfiable::content_range`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("the requested range is not satisfiable for a file of {size} bytes")]
pub struct Unsatisfiable {
    /// The file's size, reported back in `Content-Range: bytes */SIZE`.
    pub size: u64,
}

impl Unsatisfiable {
    /// The `Content-Range` value of the 416 answer: `bytes */SIZE`.
    pub fn content_range(&self) -> String {
        format!("{BYTES_UNIT} */{}", self.size)
    }
}

/// A non-empty, satisfiable byte range of a file of known size. Fields are
/// private so that `start < end <= size` always holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ByteRange {
    start: u64,
    end: u64,
    size: u64,
}

impl ByteRange {
    /// The range `start..end` of a file of `size` bytes, if it is non-empty
    /// and inside the file.
    pub fn new(start: u64, end: u64, size: u64) -> Option<Self> {
        (start < end && end <= size).then_some(Self { start, end, size })
    }

    /// First byte served.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte served.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Last byte served (inclusive), as `Content-Range` writes it.
    pub fn last(&self) -> u64 {
        self.end - 1
    }

    /// Number of bytes served: the `Content-Length` of the 206 answer.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Always false: a `ByteRange` selects at least one byte. Present so the
    /// type reads like the other length-carrying types.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Size of the whole file the range was resolved against.
    pub fn complete_length(&self) -> u64 {
        self.size
    }

    /// Whether the range covers the whole file.
    pub fn is_whole(&self) -> bool {
        self.start == 0 && self.end == self.size
    }

    /// The half-open range, for readers that take `Range<u64>`.
    pub fn as_range(&self) -> Range<u64> {
        self.start..self.end
    }

    /// The `Content-Range` value of the 206 answer: `bytes FIRST-LAST/SIZE`.
    pub fn content_range(&self) -> String {
        format!("{BYTES_UNIT} {}-{}/{}", self.start, self.last(), self.size)
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}/{}", self.start, self.last(), self.size)
    }
}

impl RangeSpec {
    /// Holds the range against a file of `size` bytes (RFC 9110 §14.1.2).
    /// A last position past the end is clipped to the end, and a suffix
    /// longer than the file selects the whole file.
    pub fn resolve(&self, size: u64) -> Result<ByteRange, Unsatisfiable> {
        let unsatisfiable = Unsatisfiable { size };
        let (start, end) = match *self {
            RangeSpec::FromTo { first, last } => (first, last.saturating_add(1).min(size)),
            RangeSpec::From { first } => (first, size),
            RangeSpec::Suffix { len } => (size.saturating_sub(len), size),
        };
        ByteRange::new(start, end, size).ok_or(unsatisfiable)
    }
}

impl fmt::Display for RangeSpec {
    /// The header value that parses back to this spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RangeSpec::FromTo { first, last } => write!(f, "{BYTES_UNIT}={first}-{last}"),
            RangeSpec::From { first } => write!(f, "{BYTES_UNIT}={first}-"),
            RangeSpec::Suffix { len } => write!(f, "{BYTES_UNIT}=-{len}"),
        }
    }
}

/// What to serve for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Selection {
    /// The whole file, status 200.
    Full,
    /// Part of the file, status 206 with `Content-Range`.
    Partial(ByteRange),
}

impl Selection {
    /// The bytes to read from a file of `size` bytes.
    pub fn byte_range(&self, size: u64) -> Range<u64> {
        match self {
            Selection::Full => 0..size,
            Selection::Partial(range) => range.as_range(),
        }
    }
}

/// Parses a `Range` header value into a single range, without a file size.
/// Returns why the header is to be ignored when it is not a single `bytes`
/// range; see the module documentation for the policy.
pub fn parse(value: &str) -> Result<RangeSpec, IgnoredRange> {
    let (unit, set) = value
        .trim_matches(is_ows)
        .split_once('=')
        .ok_or(IgnoredRange::Malformed)?;
    // Range units are case-insensitive tokens (RFC 9110 §14.1).
    if !unit.eq_ignore_ascii_case(BYTES_UNIT) {
        return if is_token(unit) {
            Err(IgnoredRange::UnknownUnit)
        } else {
            Err(IgnoredRange::Malformed)
        };
    }
    // `1#range-spec`: recipients must accept empty list elements (RFC 9110
    // §5.6.1.2), so `bytes=, 0-1` is one range.
    let mut specs = set
        .split(',')
        .map(|s| s.trim_matches(is_ows))
        .filter(|s| !s.is_empty());
    let first = specs.next().ok_or(IgnoredRange::Malformed)?;
    if specs.next().is_some() {
        return Err(IgnoredRange::MultipleRanges);
    }
    parse_spec(first)
}

/// Decides what to serve for an optional `Range` header value and a file
/// of `size` bytes. `Err` means answer 416.
pub fn select(header: Option<&str>, size: u64) -> Result<Selection, Unsatisfiable> {
    match header.map(parse) {
        None | Some(Err(_)) => Ok(Selection::Full),
        Some(Ok(spec)) => spec.resolve(size).map(Selection::Partial),
    }
}

fn parse_spec(spec: &str) -> Result<RangeSpec, IgnoredRange> {
    let (first, last) = spec.split_once('-').ok_or(IgnoredRange::Malformed)?;
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Err(IgnoredRange::Malformed),
        (true, false) => Ok(RangeSpec::Suffix {
            len: parse_pos(last)?,
        }),
        (false, true) => Ok(RangeSpec::From {
            first: parse_pos(first)?,
        }),
        (false, false) => {
            let (first, last) = (parse_pos(first)?, parse_pos(last)?);
            // RFC 9110 §14.1.1: last < first makes the spec invalid, not
            // unsatisfiable, so it is ignored like any other malformed one.
            if last < first {
                return Err(IgnoredRange::Malformed);
            }
            Ok(RangeSpec::FromTo { first, last })
        }
    }
}

/// `1*DIGIT`, saturating at `u64::MAX`. Hand-rolled because `u64::from_str`
/// accepts a leading `+` and fails on overflow, and neither fits the grammar.
fn parse_pos(digits: &str) -> Result<u64, IgnoredRange> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IgnoredRange::Malformed);
    }
    Ok(digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 §5.6.2 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn partial(header: &str, size: u64) -> (u64, u64) {
        match select(Some(header), size) {
            Ok(Selection::Partial(r)) => (r.start(), r.end()),
            other => panic!("{header:?} on {size}: expected a partial range, got {other:?}"),
        }
    }

    #[test]
    fn no_header_serves_the_whole_file() {
        assert_eq!(select(None, 10), Ok(Selection::Full));
        assert_eq!(select(None, 0), Ok(Selection::Full));
        assert_eq!(Selection::Full.byte_range(10), 0..10);
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(partial("bytes=0-9", 100), (0, 10));
        assert_eq!(partial("bytes=10-", 100), (10, 100));
        assert_eq!(partial("bytes=-10", 100), (90, 100));
        assert_eq!(partial("bytes=99-99", 100), (99, 100));
    }

    #[test]
    fn last_position_past_the_end_is_clipped() {
        assert_eq!(partial("bytes=90-1000", 100), (90, 100));
        assert_eq!(partial("bytes=0-99999999999999999999999999", 100), (0, 100));
    }

    #[test]
    fn suffix_longer_than_the_file_selects_it_all() {
        assert_eq!(partial("bytes=-1000", 100), (0, 100));
        assert_eq!(partial("bytes=-99999999999999999999999999", 100), (0, 100));
    }

    #[test]
    fn unit_and_whitespace_are_lenient_where_the_rfc_is() {
        assert_eq!(partial("Bytes=1-2", 10), (1, 3));
        assert_eq!(partial("  bytes=1-2\t", 10), (1, 3));
        assert_eq!(partial("bytes= 1-2 ", 10), (1, 3));
        assert_eq!(partial("bytes=, 1-2,", 10), (1, 3));
    }

    #[test]
    fn unsatisfiable_ranges() {
        for header in [
            "bytes=100-",
            "bytes=100-200",
            "bytes=-0",
            "bytes=18446744073709551616-",
        ] {
            assert_eq!(
                select(Some(header), 100),
                Err(Unsatisfiable { size: 100 }),
                "{header}"
            );
        }
        for header in ["bytes=0-", "bytes=0-0", "bytes=-1"] {
            assert_eq!(
                select(Some(header), 0),
                Err(Unsatisfiable { size: 0 }),
                "{header}"
            );
        }
        assert_eq!(Unsatisfiable { size: 100 }.content_range(), "bytes */100");
    }

    #[test]
    fn malformed_unknown_and_multiple_ranges_are_ignored() {
        let cases = [
            ("bytes=5-2", IgnoredRange::Malformed),
            ("bytes=", IgnoredRange::Malformed),
            ("bytes=-", IgnoredRange::Malformed),
            ("bytes=a-b", IgnoredRange::Malformed),
            ("bytes=+1-2", IgnoredRange::Malformed),
            ("bytes=1-+2", IgnoredRange::Malformed),
            ("bytes=1 -2", IgnoredRange::Malformed),
            ("bytes 1-2", IgnoredRange::Malformed),
            ("bytes=1-2-3", IgnoredRange::Malformed),
            ("bytes=--1", IgnoredRange::Malformed),
            ("=1-2", IgnoredRange::Malformed),
            ("", IgnoredRange::Malformed),
            ("items=0-1", IgnoredRange::UnknownUnit),
            ("bytes=0-1,5-6", IgnoredRange::MultipleRanges),
            ("bytes=0-1,-1", IgnoredRange::MultipleRanges),
        ];
        for (header, why) in cases {
            assert_eq!(parse(header), Err(why), "{header:?}");
            assert_eq!(select(Some(header), 100), Ok(Selection::Full), "{header:?}");
        }
    }

    #[test]
    fn content_range_values() {
        let r = RangeSpec::FromTo { first: 0, last: 9 }
            .resolve(100)
            .unwrap();
        assert_eq!(r.content_range(), "bytes 0-9/100");
        assert_eq!(r.len(), 10);
        assert!(!r.is_whole());
        let whole = RangeSpec::From { first: 0 }.resolve(5).unwrap();
        assert_eq!(whole.content_range(), "bytes 0-4/5");
        assert!(whole.is_whole());
        assert_eq!(whole.to_string(), "0-4/5");
    }

    #[test]
    fn byte_range_new_enforces_its_invariant() {
        assert!(ByteRange::new(0, 1, 1).is_some());
        assert!(ByteRange::new(1, 1, 1).is_none());
        assert!(ByteRange::new(0, 2, 1).is_none());
        assert!(ByteRange::new(2, 1, 3).is_none());
    }

    fn spec() -> impl Strategy<Value = RangeSpec> {
        prop_oneof![
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| RangeSpec::FromTo {
                first: a.min(b),
                last: a.max(b)
            }),
            any::<u64>().prop_map(|first| RangeSpec::From { first }),
            any::<u64>().prop_map(|len| RangeSpec::Suffix { len }),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_on_any_header(header in ".*", size in any::<u64>()) {
            let _ = select(Some(&header), size);
        }

        #[test]
        fn never_panics_on_range_like_headers(
            header in "[bB]ytes=[ ,0-9-]{0,24}",
            size in any::<u64>(),
        ) {
            let _ = select(Some(&header), size);
        }

        #[test]
        fn resolved_ranges_are_inside_the_file(spec in spec(), size in 0u64..1_000_000) {
            if let Ok(r) = spec.resolve(size) {
                prop_assert!(r.start() < r.end());
                prop_assert!(r.end() <= size);
                prop_assert_eq!(r.len(), r.end() - r.start());
                prop_assert_eq!(r.complete_length(), size);
            }
        }

        #[test]
        fn display_parses_back(spec in spec()) {
            prop_assert_eq!(parse(&spec.to_string()), Ok(spec));
        }

        #[test]
        fn suffix_selects_the_last_bytes(len in any::<u64>(), size in any::<u64>()) {
            let got = RangeSpec::Suffix { len }.resolve(size);
            if len == 0 || size == 0 {
                prop_assert_eq!(got, Err(Unsatisfiable { size }));
            } else {
                let r = got.unwrap();
                prop_assert_eq!(r.end(), size);
                prop_assert_eq!(r.len(), len.min(size));
            }
        }

        #[test]
        fn satisfiable_exactly_when_the_start_is_inside(first in any::<u64>(), size in any::<u64>()) {
            let got = RangeSpec::From { first }.resolve(size);
            prop_assert_eq!(got.is_ok(), first < size);
            if let Ok(r) = got {
                prop_assert_eq!(r.content_range(), format!("bytes {}-{}/{}", first, size - 1, size));
            }
        }
    }
}
