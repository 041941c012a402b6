//! ListObjectsV2 and ListObjects (V1): query parameters in, XML out, and
//! the continuation tokens in between.

use crate::error::S3Error;
use crate::request::{Query, validate_prefix};
use crate::source::{ListMarker, ListPage, ListRequest};
use crate::xml::{Xml, iso8601, url_encode};

/// Largest and default page size, as in S3.
pub const MAX_KEYS: usize = 1000;

/// Token layout version, so the format can change without misreading
/// tokens held by clients across an upgrade.
const TOKEN_VERSION: char = '1';

/// Which listing API a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListVersion {
    V1,
    V2,
}

/// A validated listing request plus what its answer must echo back.
#[derive(Debug)]
pub(crate) struct ListParams {
    pub(crate) version: ListVersion,
    pub(crate) request: ListRequest,
    pub(crate) encode_url: bool,
    pub(crate) fetch_owner: bool,
    /// V2 `continuation-token`, as sent.
    pub(crate) continuation_token: Option<String>,
    /// V2 `start-after`, as sent.
    pub(crate) start_after: Option<String>,
    /// V1 `marker`, as sent.
    pub(crate) marker: Option<String>,
}

impl ListParams {
    pub(crate) fn from_query(query: &Query) -> Result<Self, S3Error> {
        let version = match query.get("list-type") {
            None => ListVersion::V1,
            Some("2") => ListVersion::V2,
            Some(other) => {
                return Err(S3Error::invalid_argument(format!(
                    "Invalid list-type {other:?}: use 2 (ListObjectsV2) or none (ListObjects)."
                )));
            }
        };
        let prefix = query.get("prefix").unwrap_or_default().to_owned();
        validate_prefix(&prefix)?;
        // An empty delimiter means none, as in S3.
        let delimiter = query
            .get("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let max_keys = parse_max_keys(query.get("max-keys"))?;
        let encode_url = match query.get("encoding-type") {
            None => false,
            Some(e) if e.eq_ignore_ascii_case("url") => true,
            Some(other) => {
                return Err(S3Error::invalid_argument(format!(
                    "Invalid Encoding Method {other:?} specified in Request: only \"url\" is supported."
                )));
            }
        };
        let fetch_owner = query
            .get("fetch-owner")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));

        let mut params = ListParams {
            version,
            request: ListRequest {
                prefix,
                delimiter,
                max_keys,
                after: None,
            },
            encode_url,
            fetch_owner,
            continuation_token: None,
            start_after: None,
            marker: None,
        };
        match version {
            ListVersion::V2 => {
                params.continuation_token = query.get("continuation-token").map(str::to_owned);
                params.start_after = query
                    .get("start-after")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                // The token already accounts for start-after: it came from
                // a listing that honoured it.
                params.request.after = match &params.continuation_token {
                    Some(token) => Some(decode_token(token)?),
                    None => params.start_after.clone().map(ListMarker::Key),
                };
            }
            ListVersion::V1 => {
                params.marker = query
                    .get("marker")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                params.request.after = params
                    .marker
                    .as_deref()
                    .map(|m| v1_marker(m, &params.request));
            }
        }
        Ok(params)
    }

    /// The answer document for one page.
    pub(crate) fn to_xml(&self, bucket: &str, page: &ListPage) -> String {
        let req = &self.request;
        let enc = |s: &str| {
            if self.encode_url {
                url_encode(s)
            } else {
                s.to_owned()
            }
        };
        let mut xml = Xml::document();
        xml.open_root("ListBucketResult");
        xml.element("Name", bucket);
        xml.element("Prefix", &enc(&req.prefix));
        if let Some(delimiter) = &req.delimiter {
            xml.element("Delimiter", &enc(delimiter));
        }
        xml.element("MaxKeys", &req.max_keys.to_string());
        if self.encode_url {
            xml.element("EncodingType", "url");
        }
        xml.element(
            "IsTruncated",
            if page.is_truncated() { "true" } else { "false" },
        );
        match self.version {
            ListVersion::V2 => {
                xml.element("KeyCount", &page.key_count().to_string());
                if let Some(token) = &self.continuation_token {
                    xml.element("ContinuationToken", token);
                }
                if let Some(next) = &page.next {
                    xml.element("NextContinuationToken", &encode_token(next));
                }
                if let Some(start_after) = &self.start_after {
                    xml.element("StartAfter", &enc(start_after));
                }
            }
            ListVersion::V1 => {
                xml.element("Marker", &enc(self.marker.as_deref().unwrap_or_default()));
                // S3 sends NextMarker only with a delimiter and leaves
                // clients to use the last key otherwise; sending it always
                // is allowed and saves them the guess.
                if let Some(next) = &page.next {
                    xml.element("NextMarker", &enc(next.as_str()));
                }
            }
        }
        for entry in &page.objects {
            xml.open("Contents");
            xml.element("Key", &enc(&entry.key));
            xml.element("LastModified", &iso8601(entry.meta.last_modified));
            xml.element("ETag", &entry.meta.quoted_etag());
            xml.element("Size", &entry.meta.size.to_string());
            if self.fetch_owner || self.version == ListVersion::V1 {
                write_owner(&mut xml);
            }
            xml.element("StorageClass", "STANDARD");
            xml.close("Contents");
        }
        for prefix in &page.common_prefixes {
            xml.open("CommonPrefixes");
            xml.element("Prefix", &enc(prefix));
            xml.close("CommonPrefixes");
        }
        xml.close("ListBucketResult");
        xml.finish()
    }
}

/// The owner every object reports: this API has no identities yet.
pub(crate) fn write_owner(xml: &mut Xml) {
    xml.open("Owner");
    xml.element("ID", "ringside");
    xml.element("DisplayName", "ringside");
    xml.close("Owner");
}

/// `max-keys`: default and cap 1000, like S3. Values above the cap are
/// capped rather than refused, also like S3.
fn parse_max_keys(raw: Option<&str>) -> Result<usize, S3Error> {
    let Some(raw) = raw else {
        return Ok(MAX_KEYS);
    };
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(S3Error::invalid_argument(format!(
            "Provided max-keys {raw:?} is not a non-negative integer."
        )));
    }
    Ok(raw
        .bytes()
        .fold(0usize, |n, b| {
            n.saturating_mul(10).saturating_add(usize::from(b - b'0'))
        })
        .min(MAX_KEYS))
}

/// A V1 `marker` is a plain key, except that the `NextMarker` of a page
/// that ended on a common prefix names that prefix, and resuming after it
/// must skip the keys under it rather than roll them up into it again.
fn v1_marker(marker: &str, req: &ListRequest) -> ListMarker {
    if req.common_prefix_of(marker) == Some(marker) {
        ListMarker::CommonPrefix(marker.to_owned())
    } else {
        ListMarker::Key(marker.to_owned())
    }
}

/// An opaque continuation token: version, kind, hex of the marker. Hex
/// keeps it URL- and XML-safe whatever the key contains.
pub(crate) fn encode_token(marker: &ListMarker) -> String {
    let (kind, value) = match marker {
        ListMarker::Key(k) => ('k', k),
        ListMarker::CommonPrefix(p) => ('p', p),
    };
    let mut token = String::with_capacity(2 + 2 * value.len());
    token.push(TOKEN_VERSION);
    token.push(kind);
    for b in value.bytes() {
        token.push(char::from(HEX[usize::from(b >> 4)]));
        token.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    token
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn decode_token(token: &str) -> Result<ListMarker, S3Error> {
    let invalid = || S3Error::invalid_argument("The continuation token provided is incorrect.");
    let mut chars = token.chars();
    if chars.next() != Some(TOKEN_VERSION) {
        return Err(invalid());
    }
    let kind = chars.next().ok_or_else(invalid)?;
    let hex = chars.as_str().as_bytes();
    if !hex.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let nibble = |b: u8| char::from(b).to_digit(16).ok_or_else(invalid);
    let bytes = hex
        .chunks_exact(2)
        .map(|pair| Ok((nibble(pair[0])? << 4 | nibble(pair[1])?) as u8))
        .collect::<Result<Vec<u8>, S3Error>>()?;
    let value = String::from_utf8(bytes).map_err(|_| invalid())?;
    match kind {
        'k' => Ok(ListMarker::Key(value)),
        'p' => Ok(ListMarker::CommonPrefix(value)),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{ListEntry, ObjectMeta};
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn params(query: &str) -> Result<ListParams, S3Error> {
        ListParams::from_query(&Query::parse(Some(query)).unwrap())
    }

    fn entry(key: &str, size: u64) -> ListEntry {
        ListEntry {
            key: key.into(),
            meta: ObjectMeta::new(size, UNIX_EPOCH + Duration::from_secs(1_700_000_000), "abc"),
        }
    }

    #[test]
    fn defaults_and_caps() {
        let p = params("list-type=2").unwrap();
        assert_eq!(p.version, ListVersion::V2);
        assert_eq!(p.request, ListRequest::new(""));
        assert_eq!(
            params("list-type=2&max-keys=5000")
                .unwrap()
                .request
                .max_keys,
            1000
        );
        assert_eq!(
            params("list-type=2&max-keys=99999999999999999999999")
                .unwrap()
                .request
                .max_keys,
            1000
        );
        assert_eq!(
            params("list-type=2&max-keys=0").unwrap().request.max_keys,
            0
        );
        assert_eq!(params("").unwrap().version, ListVersion::V1);
        assert_eq!(
            params("list-type=2&delimiter=").unwrap().request.delimiter,
            None
        );
    }

    #[test]
    fn bad_parameters_are_invalid_arguments() {
        for query in [
            "list-type=3",
            "list-type=2&max-keys=-1",
            "list-type=2&max-keys=ten",
            "list-type=2&max-keys=",
            "list-type=2&encoding-type=base64",
            "list-type=2&continuation-token=garbage",
            "list-type=2&continuation-token=",
            "list-type=2&prefix=../",
            "list-type=2&prefix=/etc",
        ] {
            assert_eq!(
                params(query).unwrap_err().code(),
                "InvalidArgument",
                "{query}"
            );
        }
    }

    #[test]
    fn continuation_token_wins_over_start_after() {
        let token = encode_token(&ListMarker::CommonPrefix("dir/".into()));
        let p = params(&format!(
            "list-type=2&start-after=a&continuation-token={token}"
        ))
        .unwrap();
        assert_eq!(
            p.request.after,
            Some(ListMarker::CommonPrefix("dir/".into()))
        );
        let p = params("list-type=2&start-after=a").unwrap();
        assert_eq!(p.request.after, Some(ListMarker::Key("a".into())));
    }

    #[test]
    fn v1_markers_that_name_a_common_prefix_skip_it() {
        let p = params("prefix=p/&delimiter=/&marker=p/dir/").unwrap();
        assert_eq!(
            p.request.after,
            Some(ListMarker::CommonPrefix("p/dir/".into()))
        );
        let p = params("prefix=p/&delimiter=/&marker=p/dir/x").unwrap();
        assert_eq!(p.request.after, Some(ListMarker::Key("p/dir/x".into())));
        let p = params("marker=p/dir/").unwrap();
        assert_eq!(p.request.after, Some(ListMarker::Key("p/dir/".into())));
    }

    #[test]
    fn v2_document() {
        let p = params("list-type=2&prefix=a&delimiter=/&max-keys=2").unwrap();
        let page = ListPage {
            objects: vec![entry("a&b <c>.txt", 3)],
            common_prefixes: vec!["a/".into()],
            next: Some(ListMarker::CommonPrefix("a/".into())),
        };
        let xml = p.to_xml("bkt", &page);
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Name>bkt</Name><Prefix>a</Prefix><Delimiter>/</Delimiter><MaxKeys>2</MaxKeys>\
             <IsTruncated>true</IsTruncated><KeyCount>2</KeyCount>\
             <NextContinuationToken>{}</NextContinuationToken>\
             <Contents><Key>a&amp;b &lt;c&gt;.txt</Key><LastModified>2023-11-14T22:13:20.000Z</LastModified>\
             <ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes></ListBucketResult>",
            encode_token(&ListMarker::CommonPrefix("a/".into()))
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn url_encoding_applies_to_keys_prefixes_and_echoes() {
        let p = params("list-type=2&prefix=a%20b&start-after=a%20b%2B&encoding-type=url").unwrap();
        let page = ListPage {
            objects: vec![entry("a b+ü", 1)],
            common_prefixes: vec!["a b/".into()],
            next: None,
        };
        let xml = p.to_xml("bkt", &page);
        for needle in [
            "<Prefix>a%20b</Prefix>",
            "<EncodingType>url</EncodingType>",
            "<StartAfter>a%20b%2B</StartAfter>",
            "<Key>a%20b%2B%C3%BC</Key>",
            "<Prefix>a%20b/</Prefix>",
            "<IsTruncated>false</IsTruncated>",
        ] {
            assert!(xml.contains(needle), "{needle} in {xml}");
        }
        assert!(!xml.contains("NextContinuationToken"));
    }

    #[test]
    fn v1_document_has_marker_and_owner() {
        let p = params("marker=a&max-keys=1").unwrap();
        let page = ListPage {
            objects: vec![entry("b", 1)],
            common_prefixes: vec![],
            next: Some(ListMarker::Key("b".into())),
        };
        let xml = p.to_xml("bkt", &page);
        for needle in [
            "<Marker>a</Marker>",
            "<NextMarker>b</NextMarker>",
            "<Owner><ID>ringside</ID>",
        ] {
            assert!(xml.contains(needle), "{needle} in {xml}");
        }
        assert!(!xml.contains("KeyCount"));
    }

    proptest! {
        #[test]
        fn tokens_round_trip(key in ".{0,40}", prefix in any::<bool>()) {
            let marker = if prefix { ListMarker::CommonPrefix(key) } else { ListMarker::Key(key) };
            let token = encode_token(&marker);
            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
            prop_assert_eq!(decode_token(&token).unwrap(), marker);
        }

        #[test]
        fn any_listing_query_is_answered_or_refused_without_panic(
            max_keys in ".{0,8}",
            token in ".{0,12}",
            prefix in ".{0,8}",
            enc in ".{0,4}",
        ) {
            let mut query = Query::default();
            query = Query::parse(Some(&format!(
                "list-type=2&max-keys={}&continuation-token={}&prefix={}&encoding-type={}",
                url_encode(&max_keys), url_encode(&token), url_encode(&prefix), url_encode(&enc)
            ))).unwrap_or(query);
            if let Ok(p) = ListParams::from_query(&query) {
                prop_assert!(p.request.max_keys <= MAX_KEYS);
            }
        }
    }
}
