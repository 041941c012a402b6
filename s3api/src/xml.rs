//! The few XML documents S3 answers with, written by hand: they are flat,
//! element-only and write-only, so a small writer whose one job is correct
//! escaping is easier to audit than a serde mapping of S3's shapes.

use std::fmt::Write as _;
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The namespace of every S3 result document (errors have none).
pub(crate) const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds one XML document. Element names are trusted literals; all text
/// goes through [`escape_into`].
pub(crate) struct Xml {
    out: String,
}

impl Xml {
    pub(crate) fn document() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// The root element of a result document, in the S3 namespace.
    pub(crate) fn open_root(&mut self, name: &str) {
        let _ = write!(self.out, "<{name} xmlns=\"{S3_NAMESPACE}\">");
    }

    pub(crate) fn open(&mut self, name: &str) {
        let _ = write!(self.out, "<{name}>");
    }

    pub(crate) fn close(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
    }

    pub(crate) fn element(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Escapes text content. Beyond the five markup characters, control
/// characters become character references: a raw CR would be normalised to
/// LF by every parser (changing the key), and XML 1.0 cannot carry most C0
/// controls at all. Such references are rejected by strict parsers, which
/// is why S3 clients list with `encoding-type=url` (boto3 does by default);
/// S3 itself behaves the same way.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Characters `encoding-type=url` leaves alone: RFC 3986 unreserved plus
/// `/`, which keeps keys readable. Everything else, `+` and space included,
/// is percent-encoded, since botocore decodes with `unquote_plus`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub(crate) fn url_encode(text: &str) -> String {
    utf8_percent_encode(text, URL_ENCODE).to_string()
}

/// `2009-10-12T17:50:30.000Z`, as S3 writes times in XML.
pub(crate) fn iso8601(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;
    use std::time::{Duration, UNIX_EPOCH};

    /// The text of the single `<K>` element, as a conforming parser sees it.
    fn parse_text(doc: &str) -> String {
        let mut reader = Reader::from_str(doc);
        let mut text = String::new();
        let mut inside = false;
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(_) => inside = true,
                Event::End(_) => inside = false,
                Event::Text(t) if inside => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if inside => {
                    let name = r.xml10_content();
                    let resolved = match name.as_ref() {
                        "amp" => "&".to_owned(),
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        _ => r
                            .resolve_char_ref()
                            .expect("valid char ref")
                            .expect("known reference")
                            .to_string(),
                    };
                    text.push_str(&resolved);
                }
                Event::Eof => return text,
                _ => {}
            }
        }
    }

    fn doc_with(text: &str) -> String {
        let mut xml = Xml::document();
        xml.element("K", text);
        xml.finish()
    }

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            doc_with("a&b<c>\"d'"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<K>a&amp;b&lt;c&gt;&quot;d&apos;</K>"
        );
        assert_eq!(
            parse_text(&doc_with("<Key>&amp;</Key>")),
            "<Key>&amp;</Key>"
        );
    }

    #[test]
    fn carriage_returns_survive_parsing() {
        assert!(doc_with("a\rb").contains("a&#xD;b"));
        assert_eq!(parse_text(&doc_with("a\r\nb")), "a\r\nb");
    }

    #[test]
    fn root_carries_the_s3_namespace() {
        let mut xml = Xml::document();
        xml.open_root("ListAllMyBucketsResult");
        xml.close("ListAllMyBucketsResult");
        assert!(xml.finish().contains(
            "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        ));
    }

    #[test]
    fn url_encoding_keeps_slashes_and_encodes_plus_and_space() {
        assert_eq!(url_encode("a b+c/ü%.~_-"), "a%20b%2Bc/%C3%BC%25.~_-");
    }

    #[test]
    fn times_in_iso8601_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_255_369_830_123);
        assert_eq!(iso8601(t), "2009-10-12T17:50:30.123Z");
    }

    proptest! {
        /// Any text without the controls XML 1.0 cannot hold round-trips
        /// through a real parser unchanged.
        #[test]
        fn text_round_trips(text in "[^\u{0}-\u{8}\u{B}\u{C}\u{E}-\u{1F}\u{7F}-\u{9F}\u{FFFE}\u{FFFF}]{0,40}") {
            prop_assert_eq!(parse_text(&doc_with(&text)), text);
        }

        #[test]
        fn url_encoding_round_trips(text in ".{0,40}") {
            let encoded = url_encode(&text);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().unwrap();
            prop_assert_eq!(decoded, text);
        }
    }
}
