//! The contract between the S3 protocol layer and whatever holds the bytes
//! (in Ringside, a worker's page store in front of the UFS).

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use ringside_api::range::RangeSpec;

use crate::error::S3Error;

/// What S3 clients learn about an object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// Sent as `Last-Modified` (HTTP date, whole seconds) and as
    /// `LastModified` in listings (ISO 8601, milliseconds).
    pub last_modified: SystemTime,
    /// The entity tag, unquoted (`abc123`, not `"abc123"`). It must change
    /// whenever the content changes, because SDKs send it back in `If-Match`
    /// to make sure the parts of a multipart download come from one version.
    /// Printable ASCII without `"`; quotes around it are tolerated.
    pub etag: String,
}

impl ObjectMeta {
    pub fn new(size: u64, last_modified: SystemTime, etag: impl Into<String>) -> Self {
        Self {
            size,
            last_modified,
            etag: etag.into(),
        }
    }

    /// The entity tag without surrounding quotes, whichever way the source
    /// stored it.
    pub fn etag_value(&self) -> &str {
        let tag = self.etag.as_str();
        tag.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(tag)
    }

    /// The entity tag as it goes on the wire: `"abc123"`.
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag_value())
    }
}

/// An object's content as a stream of chunks, so that a 1 GiB object is
/// never held in memory: the server writes each chunk as it arrives.
pub struct ByteStream(Pin<Box<dyn Stream<Item = Result<Bytes, S3Error>> + Send + 'static>>);

impl ByteStream {
    pub fn new(stream: impl Stream<Item = Result<Bytes, S3Error>> + Send + 'static) -> Self {
        Self(Box::pin(stream))
    }

    /// A body already in memory, sent as one chunk.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self::new(futures::stream::once(std::future::ready(Ok(bytes.into()))))
    }

    pub fn empty() -> Self {
        Self::new(futures::stream::empty())
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByteStream")
    }
}

/// An object's metadata and the bytes a GET asked for.
#[derive(Debug)]
pub struct GetObject {
    pub meta: ObjectMeta,
    /// Exactly the bytes of `range.resolve(meta.size)` when a range was
    /// asked for, else the whole object. The server checks the count and
    /// cuts the connection if it is wrong, so a client never takes a short
    /// or long body for a complete one.
    pub body: ByteStream,
}

/// Where a listing resumes: strictly after this point.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListMarker {
    /// After the object with this key: only keys sorting after it.
    Key(String),
    /// After this common prefix: keys sorting after it that do not start
    /// with it, since the previous page already summarised all of those.
    CommonPrefix(String),
}

impl ListMarker {
    /// The key or prefix the marker names.
    pub fn as_str(&self) -> &str {
        match self {
            ListMarker::Key(s) | ListMarker::CommonPrefix(s) => s,
        }
    }
}

/// One page request of a bucket listing (ListObjectsV2 or V1), already
/// validated. Keys compare as UTF-8 bytes, i.e. as Rust `str` does, which is
/// the order S3 lists in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys starting with this ("" for all).
    pub prefix: String,
    /// When set, keys that contain it after the prefix are rolled up into
    /// one common prefix each: the prefix plus everything up to and
    /// including the first delimiter. Never empty.
    pub delimiter: Option<String>,
    /// At most this many entries (objects plus common prefixes), 0..=1000.
    pub max_keys: usize,
    /// Resume point, from `start-after`, a continuation token or a V1 marker.
    pub after: Option<ListMarker>,
}

impl ListRequest {
    /// A request for the first page of everything under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            delimiter: None,
            max_keys: crate::MAX_KEYS,
            after: None,
        }
    }

    /// Whether `key` is listed at all: under the prefix and past the
    /// resume point. Delimiter roll-up and the page size come on top.
    pub fn admits(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && match &self.after {
                None => true,
                Some(ListMarker::Key(after)) => key > after.as_str(),
                Some(ListMarker::CommonPrefix(after)) => {
                    key > after.as_str() && !key.starts_with(after.as_str())
                }
            }
    }

    /// The smallest key worth looking at: sources over an ordered index
    /// (a `BTreeMap`, a sorted directory walk) can seek here and scan on.
    pub fn seek_key(&self) -> &str {
        match &self.after {
            Some(marker) if marker.as_str() > self.prefix.as_str() => marker.as_str(),
            _ => &self.prefix,
        }
    }

    /// The common prefix `key` rolls up into, if any.
    pub fn common_prefix_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        let delimiter = self.delimiter.as_deref().filter(|d| !d.is_empty())?;
        let rest = key.get(self.prefix.len()..)?;
        let at = rest.find(delimiter)?;
        key.get(..self.prefix.len() + at + delimiter.len())
    }
}

/// One object in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub key: String,
    pub meta: ObjectMeta,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects, in key order.
    pub objects: Vec<ListEntry>,
    /// Common prefixes, in order, each ending with the delimiter.
    pub common_prefixes: Vec<String>,
    /// Where the next page starts; `Some` exactly when this page is
    /// truncated. It is the last object key or common prefix returned.
    pub next: Option<ListMarker>,
}

impl ListPage {
    pub fn is_truncated(&self) -> bool {
        self.next.is_some()
    }

    /// Objects plus common prefixes: S3's `KeyCount`.
    pub fn key_count(&self) -> usize {
        self.objects.len() + self.common_prefixes.len()
    }
}

/// Cuts one page out of a listing given in key order: applies the prefix,
/// the resume point, delimiter roll-up and `max_keys`, and sets the next
/// marker. Sources that can enumerate their keys in order only need this;
/// feed it from a seek to [`ListRequest::seek_key`]. Unsorted input gives
/// wrong pages (never a panic).
///
/// It reads one entry past the page to know whether the page is truncated,
/// and skips the rest of a rolled-up prefix while doing so, so a prefix with
/// many keys costs a scan of them. A source whose keys come from a stream
/// feeds a [`Paginator`] instead.
pub fn paginate(sorted: impl IntoIterator<Item = ListEntry>, req: &ListRequest) -> ListPage {
    let mut paginator = Paginator::new(req);
    for entry in sorted {
        if paginator.push(entry).is_break() {
            break;
        }
    }
    paginator.finish()
}

/// [`paginate`] one entry at a time, for keys that arrive in key order from
/// a stream: it holds one page, and says when it needs no more entries, so
/// a listing of any size costs the memory of a page.
#[derive(Debug)]
pub struct Paginator<'r> {
    req: &'r ListRequest,
    page: ListPage,
    last: Option<ListMarker>,
    truncated: bool,
}

impl<'r> Paginator<'r> {
    pub fn new(req: &'r ListRequest) -> Paginator<'r> {
        Paginator {
            req,
            page: ListPage::default(),
            last: None,
            truncated: false,
        }
    }

    /// Takes the next entry in key order; `Break` once the page is settled,
    /// after which further entries would be ignored.
    pub fn push(&mut self, entry: ListEntry) -> ControlFlow<()> {
        let req = self.req;
        if self.truncated {
            return ControlFlow::Break(());
        }
        if !entry.key.starts_with(&req.prefix) {
            // Keys sort after the prefix once none of them start with it.
            if entry.key.as_str() > req.prefix.as_str() {
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        }
        if !req.admits(&entry.key) {
            return ControlFlow::Continue(());
        }
        let item = match req.common_prefix_of(&entry.key) {
            Some(prefix) => ListMarker::CommonPrefix(prefix.to_owned()),
            None => ListMarker::Key(entry.key.clone()),
        };
        if let (ListMarker::CommonPrefix(p), Some(ListMarker::CommonPrefix(q))) =
            (&item, &self.last)
            && p == q
        {
            return ControlFlow::Continue(());
        }
        if self.page.key_count() >= req.max_keys {
            self.truncated = true;
            return ControlFlow::Break(());
        }
        match &item {
            ListMarker::CommonPrefix(p) => self.page.common_prefixes.push(p.clone()),
            ListMarker::Key(_) => self.page.objects.push(entry),
        }
        self.last = Some(item);
        ControlFlow::Continue(())
    }

    /// The page, with its next marker when it is truncated.
    pub fn finish(mut self) -> ListPage {
        self.page.next = if self.truncated { self.last } else { None };
        self.page
    }
}

/// Where the bytes come from. The worker implements it over its page store
/// and UFS; the protocol layer adds everything S3 (parsing, XML, headers,
/// preconditions, pagination tokens, errors).
///
/// Bucket and key arrive percent-decoded and validated: keys are non-empty
/// UTF-8 of at most 1024 bytes, without NUL, a leading `/` or a `..`
/// segment. A source that maps keys to file paths still owns that mapping;
/// it should also treat `.` and empty segments with care.
pub trait ObjectSource: Send + Sync + 'static {
    /// The buckets this source serves, for ListBuckets, HeadBucket and the
    /// existence check before every bucket-level request. Called per
    /// request, so keep it cheap.
    fn buckets(&self) -> Vec<String>;

    /// An object's metadata; `Err(S3Error::NoSuchKey)` when absent.
    fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<ObjectMeta, S3Error>> + Send;

    /// An object's metadata and content. With `range`, stream exactly
    /// `range.resolve(meta.size)`, and return
    /// `Err(S3Error::InvalidRange { size })` (`?` converts the resolve error)
    /// when it is unsatisfiable. The range comes unresolved so the source
    /// resolves it against the size of the very version it is about to
    /// stream, in one lookup.
    fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> impl Future<Output = Result<GetObject, S3Error>> + Send;

    /// One page of a listing; see [`ListRequest`] for the semantics and
    /// [`paginate`] for a ready implementation over keys in order.
    fn list(
        &self,
        bucket: &str,
        req: ListRequest,
    ) -> impl Future<Output = Result<ListPage, S3Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    fn entries(keys: &[&str]) -> Vec<ListEntry> {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.into_iter()
            .map(|k| ListEntry {
                key: k.to_owned(),
                meta: ObjectMeta::new(1, UNIX_EPOCH, "e"),
            })
            .collect()
    }

    fn req(prefix: &str, delimiter: Option<&str>, max_keys: usize) -> ListRequest {
        ListRequest {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
            max_keys,
            after: None,
        }
    }

    fn keys(page: &ListPage) -> Vec<&str> {
        page.objects.iter().map(|e| e.key.as_str()).collect()
    }

    /// Follows `next` markers to the end, like a client would.
    fn all_pages(all: &[ListEntry], mut req: ListRequest) -> Vec<ListPage> {
        let mut pages = Vec::new();
        loop {
            let page = paginate(all.iter().cloned(), &req);
            let next = page.next.clone();
            pages.push(page);
            match next {
                Some(marker) if pages.len() < 10_000 => req.after = Some(marker),
                _ => return pages,
            }
        }
    }

    #[test]
    fn etag_quotes_are_normalised() {
        let bare = ObjectMeta::new(0, UNIX_EPOCH, "abc");
        let quoted = ObjectMeta::new(0, UNIX_EPOCH, "\"abc\"");
        assert_eq!(bare.quoted_etag(), "\"abc\"");
        assert_eq!(quoted.quoted_etag(), "\"abc\"");
        assert_eq!(quoted.etag_value(), "abc");
        assert_eq!(ObjectMeta::new(0, UNIX_EPOCH, "\"").quoted_etag(), "\"\"\"");
    }

    #[test]
    fn prefix_and_delimiter_roll_up() {
        let all = entries(&["a.txt", "dir/x", "dir/y/z", "dir2/q", "e"]);
        let page = paginate(all.clone(), &req("", Some("/"), 1000));
        assert_eq!(keys(&page), ["a.txt", "e"]);
        assert_eq!(page.common_prefixes, ["dir/", "dir2/"]);
        assert!(!page.is_truncated());

        let page = paginate(all.clone(), &req("dir/", Some("/"), 1000));
        assert_eq!(keys(&page), ["dir/x"]);
        assert_eq!(page.common_prefixes, ["dir/y/"]);

        let page = paginate(all, &req("dir", None, 1000));
        assert_eq!(keys(&page), ["dir/x", "dir/y/z", "dir2/q"]);
    }

    #[test]
    fn multi_character_delimiters() {
        let all = entries(&["a--b--c", "a--d", "b"]);
        let page = paginate(all, &req("", Some("--"), 1000));
        assert_eq!(keys(&page), ["b"]);
        assert_eq!(page.common_prefixes, ["a--"]);
    }

    #[test]
    fn pages_of_two_across_five_keys() {
        let all = entries(&["p/1", "p/2", "p/3", "p/4", "p/5", "q"]);
        let pages = all_pages(&all, req("p/", None, 2));
        let got: Vec<Vec<&str>> = pages.iter().map(keys).collect();
        assert_eq!(
            got,
            vec![vec!["p/1", "p/2"], vec!["p/3", "p/4"], vec!["p/5"]]
        );
        assert_eq!(pages[0].next, Some(ListMarker::Key("p/2".into())));
        assert!(!pages[2].is_truncated());
    }

    #[test]
    fn a_full_last_page_is_not_truncated() {
        let all = entries(&["1", "2", "3", "4"]);
        let pages = all_pages(&all, req("", None, 2));
        assert_eq!(pages.len(), 2);
        assert!(!pages[1].is_truncated());
    }

    #[test]
    fn resuming_after_a_common_prefix_skips_its_keys() {
        let all = entries(&["a/1", "a/2", "a/3", "b/1", "c"]);
        let pages = all_pages(&all, req("", Some("/"), 1));
        let got: Vec<(Vec<&str>, Vec<String>)> = pages
            .iter()
            .map(|p| (keys(p), p.common_prefixes.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (vec![], vec!["a/".to_owned()]),
                (vec![], vec!["b/".to_owned()]),
                (vec!["c"], vec![]),
            ]
        );
        assert_eq!(pages[0].next, Some(ListMarker::CommonPrefix("a/".into())));
    }

    #[test]
    fn max_keys_zero_is_an_empty_untruncated_page() {
        let page = paginate(entries(&["a"]), &req("", None, 0));
        assert_eq!(page, ListPage::default());
    }

    #[test]
    fn start_after_is_exclusive_and_seekable() {
        let mut r = req("p/", None, 1000);
        r.after = Some(ListMarker::Key("p/2".into()));
        let page = paginate(entries(&["p/1", "p/2", "p/3"]), &r);
        assert_eq!(keys(&page), ["p/3"]);
        assert_eq!(r.seek_key(), "p/2");
        r.after = Some(ListMarker::Key("a".into()));
        assert_eq!(r.seek_key(), "p/");
    }

    #[test]
    fn the_paginator_stops_asking_once_the_page_is_settled() {
        let all = entries(&["a/1", "a/2", "a/3", "b/1", "c"]);
        let r = req("a/", None, 2);
        let mut paginator = Paginator::new(&r);
        let mut consumed = 0;
        for entry in all.iter().cloned() {
            consumed += 1;
            if paginator.push(entry).is_break() {
                break;
            }
        }
        assert_eq!(consumed, 3, "two keys and the one that shows truncation");
        let page = paginator.finish();
        assert_eq!(keys(&page), ["a/1", "a/2"]);
        assert_eq!(page.next, Some(ListMarker::Key("a/2".into())));

        // Past the prefix: stops without reading the rest.
        let r = req("a/", None, 10);
        let mut paginator = Paginator::new(&r);
        let mut consumed = 0;
        for entry in all.iter().cloned() {
            consumed += 1;
            if paginator.push(entry).is_break() {
                break;
            }
        }
        assert_eq!(consumed, 4);
        assert_eq!(paginator.finish(), paginate(all.clone(), &r));
    }

    proptest! {
        /// Walking every page lists each admitted key exactly once, in order,
        /// whatever the page size, and never returns a page over max_keys.
        #[test]
        fn pages_partition_the_listing(
            raw in proptest::collection::btree_set("[ab/]{1,5}", 0..30),
            max_keys in 1usize..5,
            prefix in "[ab/]{0,2}",
            delimited in any::<bool>(),
        ) {
            let keys: Vec<&str> = raw.iter().map(String::as_str).collect();
            let all = entries(&keys);
            let delimiter = delimited.then_some("/");
            let whole = paginate(all.clone(), &req(&prefix, delimiter, usize::MAX));
            let pages = all_pages(&all, req(&prefix, delimiter, max_keys));
            let mut objects = Vec::new();
            let mut prefixes = Vec::new();
            for page in &pages {
                prop_assert!(page.key_count() <= max_keys);
                objects.extend(page.objects.iter().cloned());
                prefixes.extend(page.common_prefixes.iter().cloned());
            }
            prop_assert_eq!(objects, whole.objects);
            prop_assert_eq!(prefixes, whole.common_prefixes);
        }
    }
}
