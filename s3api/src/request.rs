//! Turning the raw request line into what it addresses: a path-style
//! bucket and key, and decoded query parameters. Everything here is strict
//! and total: bad input is an `S3Error`, never a panic.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::error::S3Error;

/// S3's limit on key length, in UTF-8 bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// What a path-style request addresses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/`: the service (ListBuckets).
    Service,
    /// `/bucket` or `/bucket/`.
    Bucket(String),
    /// `/bucket/key...`.
    Object { bucket: String, key: String },
}

/// Splits a raw (still percent-encoded) path into bucket and key. The key
/// keeps every `/` after the bucket's, so nested keys, keys ending in `/`
/// and `%2F` all mean what S3 means by them.
pub(crate) fn parse_target(raw_path: &str) -> Result<Target, S3Error> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if path.is_empty() {
        return Ok(Target::Service);
    }
    let (raw_bucket, raw_key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, key),
        None => (path, ""),
    };
    let bucket = decode(raw_bucket, "bucket name")?;
    if bucket.is_empty() {
        return Err(S3Error::invalid_argument(
            "The bucket name in the path is empty.",
        ));
    }
    if raw_key.is_empty() {
        return Ok(Target::Bucket(bucket));
    }
    let key = decode(raw_key, "key")?;
    validate_key(&key)?;
    Ok(Target::Object { bucket, key })
}

/// Rejects keys that could walk out of a directory-backed bucket or that
/// no file system can hold. `.` and empty segments are S3-legal and left to
/// the source, which owns the mapping from keys to paths.
pub(crate) fn validate_key(key: &str) -> Result<(), S3Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::KeyTooLong);
    }
    check_path_like(key, "key")
}

/// Listing prefixes get the same traversal checks as keys, because a
/// directory-backed source may turn a prefix into a directory to read.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), S3Error> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(S3Error::KeyTooLong);
    }
    check_path_like(prefix, "prefix")
}

fn check_path_like(value: &str, what: &str) -> Result<(), S3Error> {
    if value.contains('\0') {
        return Err(S3Error::invalid_argument(format!(
            "The {what} contains a NUL character."
        )));
    }
    if value.starts_with('/') {
        return Err(S3Error::invalid_argument(format!(
            "The {what} starts with '/'; keys are relative to the bucket."
        )));
    }
    if value.split('/').any(|segment| segment == "..") {
        return Err(S3Error::invalid_argument(format!(
            "The {what} contains a '..' segment, which is not allowed."
        )));
    }
    Ok(())
}

/// Percent-decodes a path segment. `+` stays `+` in paths; only query
/// strings use it for a space.
fn decode(raw: &str, what: &str) -> Result<String, S3Error> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| S3Error::invalid_argument(format!("The {what} is not valid UTF-8.")))
}

/// Decoded query parameters, in order. A name without `=` (`?location`)
/// has an empty value. Unknown parameters are kept and ignored by callers:
/// SDKs add their own (`x-id=GetObject`) and presigned URLs carry the
/// signature (`X-Amz-Signature=...`), none of which change the answer.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, S3Error> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let mut params = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode_query(name)?, decode_query(value)?));
        }
        Ok(Self(params))
    }

    /// The first value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

fn decode_query(raw: &str) -> Result<String, S3Error> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| S3Error::invalid_argument("A query parameter is not valid UTF-8."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn object(bucket: &str, key: &str) -> Target {
        Target::Object {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn targets() {
        assert_eq!(parse_target("/").unwrap(), Target::Service);
        assert_eq!(parse_target("").unwrap(), Target::Service);
        assert_eq!(parse_target("/b").unwrap(), Target::Bucket("b".into()));
        assert_eq!(parse_target("/b/").unwrap(), Target::Bucket("b".into()));
        assert_eq!(parse_target("/b/k").unwrap(), object("b", "k"));
        assert_eq!(
            parse_target("/b/dir/sub/").unwrap(),
            object("b", "dir/sub/")
        );
    }

    #[test]
    fn keys_are_percent_decoded() {
        assert_eq!(
            parse_target("/b/a%20b/%C3%BC%2Bc+d").unwrap(),
            object("b", "a b/ü+c+d")
        );
        assert_eq!(parse_target("/b/a%2Fb").unwrap(), object("b", "a/b"));
        assert_eq!(parse_target("/b/caf%c3%a9").unwrap(), object("b", "café"));
    }

    #[test]
    fn traversal_and_unholdable_keys_are_rejected() {
        for path in [
            "/b/..",
            "/b/../etc/passwd",
            "/b/a/../../x",
            "/b/a/%2E%2E/x",
            "/b/a%2F..%2Fx",
            "/b//etc/passwd",
            "/b/a%00b",
            "/b/%FF",
        ] {
            let err = parse_target(path).unwrap_err();
            assert_eq!(err.code(), "InvalidArgument", "{path}");
        }
        let long = format!("/b/{}", "k".repeat(MAX_KEY_BYTES + 1));
        assert_eq!(parse_target(&long).unwrap_err().code(), "KeyTooLongError");
        // Dots that are not a whole segment are ordinary characters.
        assert!(parse_target("/b/a..b/...").is_ok());
        assert!(parse_target("/b/./a").is_ok());
    }

    #[test]
    fn prefixes() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("dir/..x").is_ok());
        assert!(validate_prefix("dir/..").is_err());
        assert!(validate_prefix("/etc").is_err());
    }

    #[test]
    fn query_parameters() {
        let q = Query::parse(Some(
            "list-type=2&prefix=a%20b+c&location&x-id=ListObjectsV2&prefix=z",
        ))
        .unwrap();
        assert_eq!(q.get("list-type"), Some("2"));
        assert_eq!(q.get("prefix"), Some("a b c"));
        assert_eq!(q.get("location"), Some(""));
        assert!(q.has("location"));
        assert!(!q.has("acl"));
        assert_eq!(
            Query::parse(Some("prefix=%2B")).unwrap().get("prefix"),
            Some("+")
        );
        assert!(Query::parse(Some("prefix=%FF")).is_err());
        assert!(Query::parse(None).unwrap().get("x").is_none());
    }

    proptest! {
        #[test]
        fn parsing_any_path_or_query_never_panics(raw in "[/a-z.%0-9A-F+&=]{0,40}", any in ".{0,40}") {
            let _ = parse_target(&raw);
            let _ = parse_target(&any);
            let _ = Query::parse(Some(&raw));
            let _ = Query::parse(Some(&any));
        }

        #[test]
        fn accepted_keys_never_escape(raw in "[/a.%2EF]{0,20}") {
            if let Ok(Target::Object { key, .. }) = parse_target(&format!("/b/{raw}")) {
                prop_assert!(!key.starts_with('/'));
                prop_assert!(!key.split('/').any(|s| s == ".."));
            }
        }
    }
}
