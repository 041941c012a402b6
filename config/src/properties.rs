//! The `.properties` text format, Java style: `key=value` or `key: value`,
//! `#` and `!` comment lines, a trailing `\` continuing a line, and Java's
//! backslash escapes. Only the syntax lives here; what keys and values mean
//! is the schema's business.

use std::collections::HashMap;
use std::path::Path;

use crate::error::ConfigError;
use crate::site::Source;

/// One `key=value` entry as written in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawProperty {
    /// The key, unescaped and trimmed.
    pub key: String,
    /// The value, unescaped and trimmed; continuation lines are joined.
    pub value: String,
    /// 1-based line the entry starts on.
    pub line: usize,
}

const SEPARATOR_EXPECTED: &str = "`key=value` or `key: value`";
const ESCAPE_EXPECTED: &str = "a \\uXXXX escape with four hex digits";
/// Long lines are cut in messages so one bad line cannot flood a terminal.
const MAX_QUOTED_CHARS: usize = 80;

/// Parses properties text. `path` only labels errors and entries.
///
/// Fails on the first malformed line, empty key or duplicate key.
pub fn parse_properties(text: &str, path: &Path) -> Result<Vec<RawProperty>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let start = line.trim_start();
        if start.is_empty() || start.starts_with('#') || start.starts_with('!') {
            continue;
        }
        let line_number = index + 1;
        let at = || Source::File {
            path: path.to_path_buf(),
            line: line_number,
        };
        let mut logical = start.to_owned();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let Some((raw_key, raw_value)) = split_entry(&logical) else {
            return Err(ConfigError::MalformedLine {
                at: at(),
                text: quote(&logical),
                expected: SEPARATOR_EXPECTED,
            });
        };
        let malformed_escape = || ConfigError::MalformedLine {
            at: at(),
            text: quote(&logical),
            expected: ESCAPE_EXPECTED,
        };
        let key = unescape(raw_key.trim()).ok_or_else(malformed_escape)?;
        let value = unescape(raw_value.trim()).ok_or_else(malformed_escape)?;
        if key.is_empty() {
            return Err(ConfigError::EmptyKey {
                at: at(),
                text: quote(&logical),
            });
        }
        if let Some(&first_line) = first_seen.get(&key) {
            return Err(ConfigError::DuplicateKey {
                path: path.to_path_buf(),
                key,
                first_line,
                line: line_number,
            });
        }
        first_seen.insert(key.clone(), line_number);
        entries.push(RawProperty {
            key,
            value,
            line: line_number,
        });
    }
    Ok(entries)
}

/// A backslash escapes the next one, so only an odd run at the end is a
/// continuation: `a\\` ends in a literal backslash.
fn ends_with_odd_backslashes(text: &str) -> bool {
    text.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// Splits at the first `=` or `:` not escaped by a backslash.
fn split_entry(line: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' {
            return Some((&line[..i], &line[i + 1..]));
        }
    }
    None
}

/// Applies Java's escapes: `\t`, `\n`, `\r`, `\f`, `\uXXXX`, and `\x` for
/// any other `x` meaning `x` itself. `None` for a broken `\u` escape.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                let code = u32::from_str_radix(&hex, 16).ok()?;
                // Lone surrogate halves are not characters in Rust strings.
                out.push(char::from_u32(code)?);
            }
            Some(other) => out.push(other),
            // A lone trailing backslash escapes nothing; Java drops it too.
            None => {}
        }
    }
    Some(out)
}

fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Vec<(String, String, usize)>, String> {
        parse_properties(text, Path::new("site.properties"))
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|e| (e.key, e.value, e.line))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    fn entry(key: &str, value: &str, line: usize) -> (String, String, usize) {
        (key.to_owned(), value.to_owned(), line)
    }

    #[test]
    fn reads_both_separators_comments_and_blank_lines() {
        let text = "# comment\n! also a comment\n\n  a = 1 \nb: two words  \nc=\nd=x=y:z\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                entry("a", "1", 4),
                entry("b", "two words", 5),
                entry("c", "", 6),
                entry("d", "x=y:z", 7),
            ]
        );
    }

    #[test]
    fn joins_continuation_lines_and_keeps_first_line_number() {
        let text = "\nlist = a,\\\n    b,\\\n    c\nnext=1\r\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![entry("list", "a,b,c", 2), entry("next", "1", 5)]
        );
    }

    #[test]
    fn continuation_at_end_of_file_ends_the_value() {
        assert_eq!(parse("a=1\\").unwrap(), vec![entry("a", "1", 1)]);
    }

    #[test]
    fn even_backslashes_are_a_literal_backslash_not_a_continuation() {
        assert_eq!(
            parse("a=x\\\\\nb=2").unwrap(),
            vec![entry("a", "x\\", 1), entry("b", "2", 2)]
        );
    }

    #[test]
    fn applies_java_escapes() {
        assert_eq!(
            parse("k\\=ey=t\\tab \\u00e9\\#").unwrap(),
            vec![entry("k=ey", "t\tab é#", 1)]
        );
    }

    #[test]
    fn comment_markers_inside_values_are_text() {
        assert_eq!(
            parse("a=1 # not a comment").unwrap(),
            vec![entry("a", "1 # not a comment", 1)]
        );
    }

    #[test]
    fn skips_byte_order_mark() {
        assert_eq!(parse("\u{feff}a=1").unwrap(), vec![entry("a", "1", 1)]);
    }

    #[test]
    fn line_without_separator_is_malformed() {
        assert_eq!(
            parse("a=1\nringside.worker.port 29999\n").unwrap_err(),
            "site.properties:2: malformed line \"ringside.worker.port 29999\": expected `key=value` or `key: value`"
        );
    }

    #[test]
    fn broken_unicode_escape_is_malformed() {
        assert_eq!(
            parse("a=\\u12x4").unwrap_err(),
            "site.properties:1: malformed line \"a=\\\\u12x4\": expected a \\uXXXX escape with four hex digits"
        );
        assert!(parse("a=\\ud800").is_err());
    }

    #[test]
    fn empty_key_is_an_error() {
        assert_eq!(
            parse("\n = 5").unwrap_err(),
            "site.properties:2: empty key in \"= 5\": expected a property name before the separator"
        );
    }

    #[test]
    fn duplicate_key_names_both_lines() {
        assert_eq!(
            parse("a=1\n# c\nb=2\na = 3").unwrap_err(),
            "site.properties:4: duplicate key \"a\", already set on line 1: expected each key at most once per file"
        );
    }

    #[test]
    fn long_lines_are_cut_in_messages() {
        let line = "x".repeat(500);
        let message = parse(&line).unwrap_err();
        assert!(message.len() < 250, "{message}");
        assert!(message.contains("..."));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn properties_like_text_never_panics(text in r"([a-z.\\=: #!\t]|\\u[0-9a-fA-F]{0,4}|\r?\n){0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn written_entries_read_back(pairs in prop::collection::btree_map("[a-z][a-z.]{0,20}", "[a-zA-Z0-9/,.-]{0,20}", 0..10)) {
            let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            let parsed = parse(&text).unwrap();
            let expected: Vec<_> = pairs
                .iter()
                .enumerate()
                .map(|(i, (k, v))| entry(k, v, i + 1))
                .collect();
            prop_assert_eq!(parsed, expected);
        }
    }
}
