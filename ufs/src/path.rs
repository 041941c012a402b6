//! Ringside paths: what users type, checked once so that no backend ever sees a
//! path that could leave the UFS root.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::UfsError;

/// Longest path accepted, in bytes. S3 keys stop at 1024 bytes and Linux paths
/// at 4096; the bound mostly keeps hostile input out of logs and error messages.
pub const MAX_PATH_LEN: usize = 4096;

/// A validated path relative to the UFS root, such as `/data/train/part-0001.parquet`.
///
/// Always displayed with a leading `/`; the root itself is `/`. The text is the
/// literal file name: it is never percent-decoded here. The HTTP layer decodes a
/// request path exactly once before calling [`UfsPath::parse`], and this function
/// must still refuse anything that decoding may have produced to escape the root,
/// so a request for `/a/%2E%2E/b` arrives here as `/a/../b` and is rejected.
///
/// Rejected, each with an [`UfsError::InvalidPath`] that says why and what is expected:
/// `.` and `..` segments, empty segments in the middle (`a//b`), a leading `//`,
/// NUL and every other control character, backslashes (a Windows separator that
/// some servers would treat as `/`), and paths longer than [`MAX_PATH_LEN`] bytes.
/// Accepted: any other Unicode, spaces, `%`, `#`, `?`, and one trailing `/`
/// (ignored, so `/data/` names the same directory as `/data`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UfsPath {
    // Invariant: starts with '/', has no trailing '/' unless it is exactly "/",
    // and every segment passed `check_segment`.
    text: String,
}

impl UfsPath {
    /// Parses and validates a user-supplied path; see the type's documentation
    /// for the rules.
    pub fn parse(input: &str) -> Result<UfsPath, UfsError> {
        if input.len() > MAX_PATH_LEN {
            return Err(invalid(
                input,
                format!(
                    "it is {} bytes long; paths are limited to {MAX_PATH_LEN} bytes",
                    input.len()
                ),
            ));
        }
        let relative = input.strip_prefix('/').unwrap_or(input);
        let relative = relative.strip_suffix('/').unwrap_or(relative);
        if relative.is_empty() {
            // Only "", "/" and "//" get here; "//" would mean an empty segment.
            if input == "//" {
                return Err(invalid(
                    input,
                    "it contains an empty segment; use '/' for the root".to_string(),
                ));
            }
            return Ok(UfsPath::root());
        }
        for segment in relative.split('/') {
            check_segment(segment).map_err(|reason| invalid(input, reason))?;
        }
        Ok(UfsPath {
            text: format!("/{relative}"),
        })
    }

    /// The root of the UFS, `/`.
    pub fn root() -> UfsPath {
        UfsPath {
            text: "/".to_string(),
        }
    }

    /// Whether this is the root, `/`.
    pub fn is_root(&self) -> bool {
        self.text == "/"
    }

    /// The path with its leading slash, e.g. `/data/a.txt`; the root is `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path without its leading slash, e.g. `data/a.txt`; the root is `""`.
    pub fn relative(&self) -> &str {
        &self.text[1..]
    }

    /// The segments from the root down; none for the root.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.relative().split('/').filter(|s| !s.is_empty())
    }

    /// The last segment (file or directory name); `None` for the root.
    pub fn name(&self) -> Option<&str> {
        if self.is_root() {
            None
        } else {
            self.text.rsplit('/').next()
        }
    }

    /// The enclosing directory; `None` for the root.
    pub fn parent(&self) -> Option<UfsPath> {
        if self.is_root() {
            return None;
        }
        let cut = self.text.rfind('/').unwrap_or(0);
        Some(if cut == 0 {
            UfsPath::root()
        } else {
            UfsPath {
                text: self.text[..cut].to_string(),
            }
        })
    }

    /// A child of this directory; `name` must be a single valid segment.
    pub fn join(&self, name: &str) -> Result<UfsPath, UfsError> {
        let joined = if self.is_root() {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.text)
        };
        check_segment(name).map_err(|reason| invalid(&joined, reason))?;
        if joined.len() > MAX_PATH_LEN {
            return Err(invalid(
                &joined,
                format!("paths are limited to {MAX_PATH_LEN} bytes"),
            ));
        }
        Ok(UfsPath { text: joined })
    }

    /// Whether `self` lies strictly below `dir`.
    pub fn is_under(&self, dir: &UfsPath) -> bool {
        if dir.is_root() {
            return !self.is_root();
        }
        self.text
            .strip_prefix(dir.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

fn check_segment(segment: &str) -> Result<(), String> {
    match segment {
        "" => {
            Err("it contains an empty segment ('//'); separate names with a single '/'".to_string())
        }
        "." | ".." => Err(format!(
            "it contains a '{segment}' segment, which could leave the ufs root; \
             give the path from the root without '.' or '..'"
        )),
        _ => {
            if let Some(c) = segment.chars().find(|c| c.is_control()) {
                return Err(format!(
                    "it contains the control character U+{:04X}; file names must be printable",
                    u32::from(c)
                ));
            }
            if segment.contains('/') {
                return Err("a single name cannot contain '/'".to_string());
            }
            if segment.contains('\\') {
                return Err("it contains a backslash; use '/' to separate directories".to_string());
            }
            Ok(())
        }
    }
}

fn invalid(input: &str, reason: String) -> UfsError {
    UfsError::InvalidPath {
        path: excerpt(input),
        reason: format!("{reason} (expected a path such as /data/train/part-0001.parquet)"),
    }
}

/// Keeps error messages bounded when the input is huge or binary-looking.
fn excerpt(input: &str) -> String {
    const MAX: usize = 200;
    if input.len() <= MAX {
        return input.to_string();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

impl fmt::Display for UfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for UfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl AsRef<str> for UfsPath {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for UfsPath {
    type Err = UfsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UfsPath::parse(s)
    }
}

impl Serialize for UfsPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for UfsPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        UfsPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(input: &str) -> String {
        match UfsPath::parse(input) {
            Err(UfsError::InvalidPath { reason, .. }) => reason,
            other => panic!("{input:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn root_forms() {
        for input in ["", "/"] {
            let p = UfsPath::parse(input).unwrap();
            assert!(p.is_root());
            assert_eq!(p.as_str(), "/");
            assert_eq!(p.relative(), "");
            assert_eq!(p.segments().count(), 0);
            assert_eq!(p.name(), None);
            assert_eq!(p.parent(), None);
        }
        assert!(reason("//").contains("empty segment"));
    }

    #[test]
    fn leading_and_trailing_slash_are_optional() {
        let a = UfsPath::parse("/data/train/part-0001.parquet").unwrap();
        assert_eq!(UfsPath::parse("data/train/part-0001.parquet").unwrap(), a);
        assert_eq!(UfsPath::parse("/data/train/part-0001.parquet/").unwrap(), a);
        assert_eq!(a.as_str(), "/data/train/part-0001.parquet");
        assert_eq!(a.relative(), "data/train/part-0001.parquet");
        assert_eq!(a.name(), Some("part-0001.parquet"));
        assert_eq!(a.parent().unwrap().as_str(), "/data/train");
        assert_eq!(
            UfsPath::parse("/data").unwrap().parent(),
            Some(UfsPath::root())
        );
    }

    #[test]
    fn accepts_spaces_unicode_and_url_characters() {
        for input in [
            "/données/été 2024/a b.txt",
            "/日本語/ファイル.bin",
            "/100%/a%2Fb",
            "/%2e%2e/x",
            "/tag#1",
            "/q?x=1&y=2",
            "/ leading and trailing ",
            "/.hidden/...",
            "/a..b/..c/d..",
            "/emoji 🦀",
        ] {
            let p = UfsPath::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(p.as_str(), input);
        }
    }

    #[test]
    fn rejects_traversal_and_odd_segments() {
        for input in [
            "..",
            "/..",
            "/../etc/passwd",
            "/a/../b",
            "/a/..",
            "a/../../b",
            "/a/./b",
            ".",
            "/./a",
            "/a/.",
            "/a/../",
        ] {
            let why = reason(input);
            assert!(why.contains("segment"), "{input:?}: {why}");
            assert!(why.contains("expected a path such as"), "{input:?}: {why}");
        }
        assert!(reason("/a//b").contains("empty segment"));
        assert!(reason("//a").contains("empty segment"));
        assert!(reason("/a/b//").contains("empty segment"));
        assert!(reason("/a\0b").contains("U+0000"));
        assert!(reason("/a\nb").contains("U+000A"));
        assert!(reason("/a\u{7f}").contains("U+007F"));
        assert!(reason("/a\u{85}").contains("U+0085"));
        assert!(reason("/a\\b").contains("backslash"));
        assert!(reason("\\..\\etc").contains("backslash"));
        assert!(reason(&"a".repeat(MAX_PATH_LEN + 1)).contains("limited"));
    }

    #[test]
    fn error_message_is_lowercase_and_bounded() {
        let long = format!("/{}/../x", "é".repeat(1000));
        let err = UfsPath::parse(&long).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("invalid path"), "{message}");
        assert!(message.len() < 1000, "{message}");
        assert_eq!(err.code(), "invalid_path");
    }

    #[test]
    fn join_and_is_under() {
        let root = UfsPath::root();
        let data = root.join("data").unwrap();
        assert_eq!(data.as_str(), "/data");
        let file = data.join("a b.txt").unwrap();
        assert_eq!(file.as_str(), "/data/a b.txt");
        assert!(file.is_under(&data));
        assert!(file.is_under(&root));
        assert!(!data.is_under(&data));
        assert!(!root.is_under(&root));
        assert!(!UfsPath::parse("/database").unwrap().is_under(&data));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
            assert!(data.join(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let p = UfsPath::parse("/données/a b").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"/données/a b\"");
        assert_eq!(serde_json::from_str::<UfsPath>(&json).unwrap(), p);
        assert!(serde_json::from_str::<UfsPath>("\"/a/../b\"").is_err());
    }

    fn segment() -> impl Strategy<Value = String> {
        // Printable names, including dots, spaces, '%' and non-ASCII.
        "[a-zA-Z0-9 ._%#?+=&~éü日本🦀-]{1,12}".prop_filter("not . or ..", |s| s != "." && s != "..")
    }

    proptest! {
        #[test]
        fn never_panics_and_accepted_paths_are_safe(input in any::<String>()) {
            if let Ok(p) = UfsPath::parse(&input) {
                prop_assert!(p.as_str().starts_with('/'));
                for s in p.segments() {
                    prop_assert!(s != "." && s != ".." && !s.is_empty());
                    prop_assert!(!s.contains('\\') && !s.chars().any(char::is_control));
                }
                // Parsing is idempotent.
                prop_assert_eq!(UfsPath::parse(p.as_str()).unwrap(), p.clone());
                prop_assert_eq!(UfsPath::parse(p.relative()).unwrap(), p);
            }
        }

        #[test]
        fn valid_segments_round_trip(segments in prop::collection::vec(segment(), 1..6), lead in any::<bool>(), trail in any::<bool>()) {
            let body = segments.join("/");
            let input = format!("{}{}{}", if lead { "/" } else { "" }, body, if trail { "/" } else { "" });
            let p = UfsPath::parse(&input).unwrap();
            prop_assert_eq!(p.relative(), body.as_str());
            prop_assert_eq!(p.segments().collect::<Vec<_>>(), segments.iter().map(String::as_str).collect::<Vec<_>>());
            let rebuilt = segments.iter().try_fold(UfsPath::root(), |acc, s| acc.join(s)).unwrap();
            prop_assert_eq!(&rebuilt, &p);
            prop_assert_eq!(p.parent().unwrap().join(p.name().unwrap()).unwrap(), p);
        }

        #[test]
        fn any_dot_dot_segment_is_rejected(mut segments in prop::collection::vec(segment(), 0..5), at in any::<prop::sample::Index>(), dots in prop::sample::select(vec![".", ".."])) {
            let i = if segments.is_empty() { 0 } else { at.index(segments.len() + 1) };
            segments.insert(i, dots.to_string());
            let input = format!("/{}", segments.join("/"));
            prop_assert!(
                matches!(UfsPath::parse(&input), Err(UfsError::InvalidPath { .. })),
                "accepted {}", input
            );
        }

        #[test]
        fn any_bad_character_is_rejected(prefix in segment(), suffix in segment(), bad in prop::sample::select(vec!['\0', '\\', '\n', '\r', '\t', '\u{1b}', '\u{7f}'])) {
            let input = format!("/{prefix}{bad}{suffix}");
            prop_assert!(UfsPath::parse(&input).is_err(), "accepted {:?}", input);
        }
    }
}
