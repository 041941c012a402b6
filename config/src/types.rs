//! The kinds of value a property can hold: how each is parsed, what an
//! operator is told to write instead when parsing fails, and how it is shown.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// The type of a property, with the limits its values must respect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PropertyType {
    /// Bytes, written like `512MiB`, `1GiB` or `4096`.
    Size { min: u64, max: u64 },
    /// A span of time, written like `15s`, `2m` or `500ms`; a plain number
    /// is milliseconds.
    Duration { min: Duration, max: Duration },
    /// A TCP port from 1 to 65535.
    Port,
    /// A whole number within bounds.
    Integer { min: i64, max: i64 },
    /// A prime number within bounds (Maglev tables must have a prime size).
    Prime { min: i64, max: i64 },
    /// A fraction from 0 to 1.
    Ratio,
    /// `true` or `false`.
    Bool,
    /// Any text on one line.
    String,
    /// A DNS-label-like name: 1 to 63 of `a-z`, `0-9`, `-`, starting and
    /// ending with a letter or digit.
    Name,
    /// A host name or an IP address.
    Host,
    /// An absolute file system path.
    Path,
    /// An `http://` or `https://` URL.
    Url,
    /// Where the under file system lives: an absolute path, a `file://` URL
    /// or an `s3://bucket/prefix` URL.
    UfsUri,
    /// One of a fixed set of upper-case names; input is case-insensitive.
    Enum(&'static [&'static str]),
    /// Comma-separated items of one type.
    List {
        item: &'static PropertyType,
        min_items: usize,
    },
    /// The inner type, or empty for "not set".
    Optional(&'static PropertyType),
}

/// A parsed, validated property value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Bytes.
    Size(u64),
    /// Whole milliseconds.
    Duration(Duration),
    /// A port from 1 to 65535.
    Port(u16),
    /// A whole number, prime or not.
    Integer(i64),
    /// A fraction from 0 to 1.
    Ratio(f64),
    /// A flag.
    Bool(bool),
    /// Text of the string, name, host, URL and UFS types, in canonical form.
    String(String),
    /// An absolute path.
    Path(PathBuf),
    /// The canonical upper-case name of an enum value.
    Enum(&'static str),
    /// Items in canonical form.
    List(Vec<String>),
    /// An optional property left empty.
    Unset,
}

impl fmt::Display for Value {
    /// The canonical spelling: parsing it again yields the same value, and
    /// two configurations that mean the same thing print the same text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Size(bytes) => f.write_str(&format_size(*bytes)),
            Value::Duration(duration) => f.write_str(&format_duration(*duration)),
            Value::Port(port) => write!(f, "{port}"),
            Value::Integer(n) => write!(f, "{n}"),
            Value::Ratio(r) => write!(f, "{r}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => f.write_str(s),
            Value::Path(p) => write!(f, "{}", p.display()),
            Value::Enum(name) => f.write_str(name),
            Value::List(items) => f.write_str(&items.join(",")),
            Value::Unset => Ok(()),
        }
    }
}

impl PropertyType {
    /// Parses raw property text (already trimmed of surrounding whitespace
    /// by the caller or not: it is trimmed here too).
    ///
    /// `None` means the text is not a valid value; [`Self::expected`] then
    /// says what would have been.
    pub fn parse(&self, raw: &str) -> Option<Value> {
        let text = raw.trim();
        match *self {
            PropertyType::Size { min, max } => parse_size(text)
                .filter(|n| (min..=max).contains(n))
                .map(Value::Size),
            PropertyType::Duration { min, max } => parse_duration(text)
                .filter(|d| (min..=max).contains(d))
                .map(Value::Duration),
            PropertyType::Port => text
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .map(Value::Port),
            PropertyType::Integer { min, max } => text
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Value::Integer),
            PropertyType::Prime { min, max } => text
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n) && is_prime(*n))
                .map(Value::Integer),
            PropertyType::Ratio => text
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                // `-0` is within range but would print as "-0".
                .map(|r| Value::Ratio(r + 0.0)),
            PropertyType::Bool => {
                if text.eq_ignore_ascii_case("true") {
                    Some(Value::Bool(true))
                } else if text.eq_ignore_ascii_case("false") {
                    Some(Value::Bool(false))
                } else {
                    None
                }
            }
            PropertyType::String => is_single_line(text).then(|| Value::String(text.to_owned())),
            PropertyType::Name => is_name(text).then(|| Value::String(text.to_owned())),
            PropertyType::Host => is_host(text).then(|| Value::String(text.to_owned())),
            PropertyType::Path => is_absolute_path(text).then(|| Value::Path(PathBuf::from(text))),
            PropertyType::Url => canonical_http_url(text).map(Value::String),
            PropertyType::UfsUri => is_ufs_uri(text).then(|| Value::String(text.to_owned())),
            PropertyType::Enum(names) => names
                .iter()
                .find(|name| name.eq_ignore_ascii_case(text))
                .map(|name| Value::Enum(name)),
            PropertyType::List { item, min_items } => {
                let items = text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| item.parse(s).map(|v| v.to_string()))
                    .collect::<Option<Vec<_>>>()?;
                (items.len() >= min_items).then_some(Value::List(items))
            }
            PropertyType::Optional(inner) => {
                if text.is_empty() {
                    Some(Value::Unset)
                } else {
                    inner.parse(text)
                }
            }
        }
    }

    /// What a valid value looks like, phrased to follow "expected".
    pub fn expected(&self) -> String {
        match *self {
            PropertyType::Size { min, max } => {
                let example = "such as 512MiB, 1GiB or 4096 (bytes)";
                match (min, max) {
                    (0, u64::MAX) => format!("a size {example}"),
                    (min, u64::MAX) => format!("a size of at least {}, {example}", format_size(min)),
                    (min, max) => format!(
                        "a size from {} to {}, {example}",
                        format_size(min),
                        format_size(max)
                    ),
                }
            }
            PropertyType::Duration { min, max } => format!(
                "a duration from {} to {}, such as 500ms, 15s, 2m, 1h or 1d (a plain number is milliseconds)",
                format_duration(min),
                format_duration(max)
            ),
            PropertyType::Port => "a port number from 1 to 65535".to_owned(),
            PropertyType::Integer { min, max } => format!("an integer from {min} to {max}"),
            PropertyType::Prime { min, max } => format!("a prime number from {min} to {max}"),
            PropertyType::Ratio => "a ratio from 0 to 1, such as 0.9".to_owned(),
            PropertyType::Bool => "true or false".to_owned(),
            PropertyType::String => "text without line breaks or other control characters".to_owned(),
            PropertyType::Name => "a name of 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit".to_owned(),
            PropertyType::Host => "a host name or IP address, such as 127.0.0.1 or worker-1.example.com".to_owned(),
            PropertyType::Path => "an absolute path, such as /var/lib/ringside".to_owned(),
            PropertyType::Url => "an http:// or https:// URL with a host, such as http://127.0.0.1:19999".to_owned(),
            PropertyType::UfsUri => "an absolute path, a file:///path URL or an s3://bucket/prefix URL".to_owned(),
            PropertyType::Enum(names) => format!("one of {}", names.join(", ")),
            PropertyType::List { item, min_items } => {
                let count = match min_items {
                    0 => String::new(),
                    1 => "at least one item, ".to_owned(),
                    n => format!("at least {n} items, "),
                };
                format!("a comma-separated list of {count}each {}", item.expected())
            }
            PropertyType::Optional(inner) => format!("{}, or nothing to leave it unset", inner.expected()),
        }
    }

    /// A short name of the type for tables and listings.
    pub fn name(&self) -> String {
        match *self {
            PropertyType::Size {
                min: 0,
                max: u64::MAX,
            } => "size".to_owned(),
            PropertyType::Size { min, max: u64::MAX } => format!("size >= {}", format_size(min)),
            PropertyType::Size { min, max } => {
                format!("size {}..={}", format_size(min), format_size(max))
            }
            PropertyType::Duration { min, max } => {
                format!(
                    "duration {}..={}",
                    format_duration(min),
                    format_duration(max)
                )
            }
            PropertyType::Port => "port".to_owned(),
            PropertyType::Integer { min, max } => format!("integer {min}..={max}"),
            PropertyType::Prime { min, max } => format!("prime {min}..={max}"),
            PropertyType::Ratio => "ratio".to_owned(),
            PropertyType::Bool => "bool".to_owned(),
            PropertyType::String => "string".to_owned(),
            PropertyType::Name => "name".to_owned(),
            PropertyType::Host => "host".to_owned(),
            PropertyType::Path => "path".to_owned(),
            PropertyType::Url => "url".to_owned(),
            PropertyType::UfsUri => "ufs uri".to_owned(),
            PropertyType::Enum(names) => format!("enum: {}", names.join(", ")),
            PropertyType::List { item, .. } => format!("list of {}", item.name()),
            PropertyType::Optional(inner) => format!("optional {}", inner.name()),
        }
    }
}

fn is_prime(n: i64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2i64;
    // `d <= n / d` avoids the overflow `d * d` could hit near i64::MAX.
    while d <= n / d {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// Cluster names end up in DNS names, metric labels and file names, so they
/// follow the strictest of those rules.
fn is_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

fn is_host(text: &str) -> bool {
    if text.parse::<IpAddr>().is_ok() {
        return true;
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    (1..=253).contains(&text.len())
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes.first() != Some(&b'-')
                && bytes.last() != Some(&b'-')
        })
}

/// Relative paths would resolve against whatever directory a daemon happens
/// to be started from, so only absolute ones are accepted.
fn is_absolute_path(text: &str) -> bool {
    Path::new(text).is_absolute() && is_single_line(text)
}

/// Values must survive being written back as one `key=value` line, which
/// showing and comparing configurations relies on.
fn is_single_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Validates an http(s) URL and spells it without the trailing `/` that a
/// bare origin gets, so `http://h:1` and `http://h:1/` compare equal.
fn canonical_http_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none();
    if !ok {
        return None;
    }
    let s = url.as_str();
    if url.path() == "/" {
        Some(s.strip_suffix('/').unwrap_or(s).to_owned())
    } else {
        Some(s.to_owned())
    }
}

fn is_ufs_uri(text: &str) -> bool {
    if text.starts_with('/') {
        return is_absolute_path(text);
    }
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    match url.scheme() {
        "file" => {
            url.host_str()
                .is_none_or(|h| h.is_empty() || h == "localhost")
                && url.path().len() > 1
                && url.query().is_none()
                && url.fragment().is_none()
        }
        "s3" => {
            url.host_str().is_some_and(|h| !h.is_empty())
                && url.query().is_none()
                && url.fragment().is_none()
        }
        _ => false,
    }
}

/// Declares a closed set of upper-case names used by an enum property,
/// with the conversions to and from its canonical text.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every accepted value, in canonical upper-case form.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// The canonical name, as written in properties.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Looks a name up case-insensitively.
            pub fn from_name(name: &str) -> Option<Self> {
                $(if name.eq_ignore_ascii_case($text) {
                    return Some($name::$variant);
                })+
                None
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromValue for $name {
            fn from_value(value: &Value) -> Option<Self> {
                match value {
                    Value::Enum(name) => Self::from_name(name),
                    _ => None,
                }
            }
        }
    };
}

named_enum! {
    /// Which cached pages a worker drops first when its page store is full.
    EvictorType {
        /// Least recently used.
        Lru = "LRU",
        /// Least frequently used.
        Lfu = "LFU",
        /// First in, first out.
        Fifo = "FIFO",
    }
}

named_enum! {
    /// Whether a cluster's processes authenticate control calls.
    AuthenticationType {
        /// Control calls carry the cluster token or a console-signed JWT.
        Token = "TOKEN",
        /// Anyone who can reach a port may change the cluster.
        None = "NONE",
    }
}

named_enum! {
    /// Where the list of workers in a cluster is kept.
    MembershipType {
        /// In the coordinator's own metastore; workers register by heartbeat.
        Embedded = "EMBEDDED",
        /// In an external etcd cluster.
        Etcd = "ETCD",
        /// A fixed list of workers in a file.
        Static = "STATIC",
    }
}

named_enum! {
    /// How clients and the coordinator map a file to the worker that caches it.
    SelectionPolicy {
        /// Consistent hashing with virtual nodes.
        Consistent = "CONSISTENT",
        /// Ketama consistent hashing.
        Ketama = "KETAMA",
        /// Jump consistent hashing.
        Jump = "JUMP",
        /// Maglev lookup table.
        Maglev = "MAGLEV",
        /// Multi-probe consistent hashing.
        MultiProbe = "MULTI_PROBE",
        /// Consistent hashing weighted by each worker's page store capacity.
        Capacity = "CAPACITY",
    }
}

/// Rust types a property value can be read as through
/// [`SiteConfig::get`](crate::SiteConfig::get).
///
/// `None` means the key's schema type does not produce this Rust type; the
/// schema tests read every key with its declared type so that cannot ship.
pub trait FromValue: Sized {
    /// Converts a validated value, or `None` if the types do not match.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Size(n) => Some(*n),
            Value::Integer(n) => u64::try_from(*n).ok(),
            _ => None,
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Integer(n) => u32::try_from(*n).ok(),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }
}

impl FromValue for u16 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Port(p) => Some(*p),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Ratio(r) => Some(*r),
            _ => None,
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromValue for Duration {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Duration(d) => Some(*d),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for PathBuf {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Path(p) => Some(p.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<String> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::List(items) => Some(items.clone()),
            _ => None,
        }
    }
}

/// Optional properties read as `None` when left empty.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Unset => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: PropertyType, text: &str) -> String {
        match kind.parse(text) {
            Some(value) => value.to_string(),
            None => panic!("{text:?} should be a valid {}", kind.name()),
        }
    }

    fn bad(kind: PropertyType, text: &str) {
        assert_eq!(
            kind.parse(text),
            None,
            "{text:?} should be rejected as {}",
            kind.name()
        );
    }

    const ANY_SIZE: PropertyType = PropertyType::Size {
        min: 0,
        max: u64::MAX,
    };

    #[test]
    fn size_values() {
        assert_eq!(ok(ANY_SIZE, "512mb"), "512MiB");
        assert_eq!(ok(ANY_SIZE, "4096"), "4KiB");
        bad(ANY_SIZE, "lots");
        let page = PropertyType::Size {
            min: 4 << 10,
            max: 1 << 30,
        };
        bad(page, "1KiB");
        bad(page, "2GiB");
        assert_eq!(ok(page, "1MiB"), "1MiB");
        assert_eq!(
            page.expected(),
            "a size from 4KiB to 1GiB, such as 512MiB, 1GiB or 4096 (bytes)"
        );
    }

    #[test]
    fn duration_values() {
        let kind = PropertyType::Duration {
            min: Duration::from_millis(1),
            max: Duration::from_secs(86_400),
        };
        assert_eq!(ok(kind, "15000"), "15s");
        assert_eq!(ok(kind, "120s"), "2m");
        bad(kind, "0s");
        bad(kind, "2d");
        bad(kind, "soon");
        assert!(kind.expected().starts_with("a duration from 1ms to 1d"));
    }

    #[test]
    fn port_values() {
        assert_eq!(ok(PropertyType::Port, "19999"), "19999");
        assert_eq!(ok(PropertyType::Port, "65535"), "65535");
        for text in ["0", "65536", "-1", "abc", "80.0", ""] {
            bad(PropertyType::Port, text);
        }
    }

    #[test]
    fn integer_and_prime_values() {
        let kind = PropertyType::Integer { min: 1, max: 10 };
        assert_eq!(ok(kind, "10"), "10");
        bad(kind, "0");
        bad(kind, "11");
        bad(kind, "1e1");
        let prime = PropertyType::Prime {
            min: 3,
            max: 1_000_003,
        };
        assert_eq!(ok(prime, "65537"), "65537");
        bad(prime, "65536");
        bad(prime, "2");
        assert!(is_prime(1_000_003));
        assert!(!is_prime(i64::MAX));
    }

    #[test]
    fn ratio_values() {
        assert_eq!(ok(PropertyType::Ratio, "0.9"), "0.9");
        assert_eq!(ok(PropertyType::Ratio, "1"), "1");
        assert_eq!(ok(PropertyType::Ratio, "-0"), "0");
        assert_eq!(ok(PropertyType::Ratio, "5e-2"), "0.05");
        for text in ["1.01", "-0.1", "NaN", "inf", "half"] {
            bad(PropertyType::Ratio, text);
        }
    }

    #[test]
    fn bool_values() {
        assert_eq!(ok(PropertyType::Bool, "TRUE"), "true");
        assert_eq!(ok(PropertyType::Bool, "false"), "false");
        bad(PropertyType::Bool, "yes");
        bad(PropertyType::Bool, "1");
    }

    #[test]
    fn name_values() {
        assert_eq!(ok(PropertyType::Name, "eu-west-1"), "eu-west-1");
        for text in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            bad(PropertyType::Name, text);
        }
    }

    #[test]
    fn host_values() {
        for text in [
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "[::1]",
            "worker-1.example.com",
            "localhost",
        ] {
            assert_eq!(ok(PropertyType::Host, text), text);
        }
        for text in ["", "http://x", "a b", "a..b", "-a", "host:80", "[nope]"] {
            bad(PropertyType::Host, text);
        }
    }

    #[test]
    fn path_values() {
        assert_eq!(ok(PropertyType::Path, "/tmp/ringside"), "/tmp/ringside");
        bad(PropertyType::Path, "relative/dir");
        bad(PropertyType::Path, "");
        bad(PropertyType::Path, "/a\0b");
        bad(PropertyType::Path, "/a\nb");
        bad(PropertyType::String, "two\nlines");
        assert_eq!(ok(PropertyType::String, " us-east-1 "), "us-east-1");
    }

    #[test]
    fn url_values() {
        assert_eq!(
            ok(PropertyType::Url, "http://127.0.0.1:19999/"),
            "http://127.0.0.1:19999"
        );
        assert_eq!(
            ok(PropertyType::Url, "HTTPS://Example.com/api"),
            "https://example.com/api"
        );
        for text in [
            "",
            "127.0.0.1:19999",
            "ftp://x",
            "http://",
            "http://x?a=1",
            "mailto:a@b",
        ] {
            bad(PropertyType::Url, text);
        }
    }

    #[test]
    fn ufs_uri_values() {
        for text in [
            "/tmp/ufs",
            "file:///data/ufs",
            "s3://bucket",
            "s3://bucket/prefix/",
        ] {
            assert_eq!(ok(PropertyType::UfsUri, text), text);
        }
        for text in [
            "",
            "data/ufs",
            "file://",
            "file://host/x",
            "s3://",
            "s3:///prefix",
            "hdfs://nn/x",
        ] {
            bad(PropertyType::UfsUri, text);
        }
    }

    #[test]
    fn enum_values() {
        let kind = PropertyType::Enum(SelectionPolicy::NAMES);
        assert_eq!(ok(kind, "multi_probe"), "MULTI_PROBE");
        assert_eq!(ok(kind, " Maglev "), "MAGLEV");
        bad(kind, "multi-probe");
        assert_eq!(
            kind.expected(),
            "one of CONSISTENT, KETAMA, JUMP, MAGLEV, MULTI_PROBE, CAPACITY"
        );
        for name in SelectionPolicy::NAMES {
            let policy = SelectionPolicy::from_name(name).map(SelectionPolicy::as_str);
            assert_eq!(policy, Some(*name));
        }
        for name in EvictorType::NAMES {
            assert_eq!(
                EvictorType::from_name(name)
                    .map(|e| e.to_string())
                    .as_deref(),
                Some(*name)
            );
        }
        for name in MembershipType::NAMES {
            assert_eq!(
                MembershipType::from_name(name).map(MembershipType::as_str),
                Some(*name)
            );
        }
    }

    #[test]
    fn list_values() {
        let kind = PropertyType::List {
            item: &PropertyType::Url,
            min_items: 1,
        };
        assert_eq!(
            ok(kind, " http://a:2379/ , ,https://b:2379"),
            "http://a:2379,https://b:2379"
        );
        bad(kind, "");
        bad(kind, " , ");
        bad(kind, "http://a:2379,b:2379");
        let strings = PropertyType::List {
            item: &PropertyType::String,
            min_items: 0,
        };
        assert_eq!(strings.parse(""), Some(Value::List(vec![])));
        assert!(kind.expected().contains("at least one item"));
    }

    #[test]
    fn optional_values() {
        let kind = PropertyType::Optional(&PropertyType::Path);
        assert_eq!(kind.parse("  "), Some(Value::Unset));
        assert_eq!(ok(kind, "/etc/ringside/license"), "/etc/ringside/license");
        bad(kind, "license");
        assert_eq!(Option::<PathBuf>::from_value(&Value::Unset), Some(None));
        assert!(kind.expected().ends_with("or nothing to leave it unset"));
    }
}
