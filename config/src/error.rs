//! Everything that can be wrong with a configuration, worded for the operator
//! who has to fix it: where (file and line, or `--set`), what was found, and
//! what was expected instead.

use std::path::PathBuf;

use crate::SITE_FILE_NAME;
use crate::site::Source;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration directory has no site file.
    #[error(
        "no configuration file at {}: expected {SITE_FILE_NAME} in the directory given by --conf or RINGSIDE_CONF_DIR",
        path.display()
    )]
    MissingFile { path: PathBuf },

    /// The site file exists but could not be read.
    #[error("cannot read {}: {reason}: expected a readable UTF-8 text file", path.display())]
    Unreadable { path: PathBuf, reason: String },

    /// A line that is not a comment, not blank and not `key=value`.
    #[error("{at}: malformed line {text:?}: expected {expected}")]
    MalformedLine {
        at: Source,
        text: String,
        expected: &'static str,
    },

    /// A separator with nothing before it.
    #[error("{at}: empty key in {text:?}: expected a property name before the separator")]
    EmptyKey { at: Source, text: String },

    /// The same key twice in one file; which one was meant is anyone's guess.
    #[error(
        "{}:{line}: duplicate key {key:?}, already set on line {first_line}: expected each key at most once per file",
        path.display()
    )]
    DuplicateKey {
        path: PathBuf,
        key: String,
        first_line: usize,
        line: usize,
    },

    /// A `--set` argument without `=`.
    #[error("--set {arg:?}: missing '=': expected --set key=value")]
    OverrideWithoutEquals { arg: String },

    /// A key the schema does not know.
    #[error("{at}: unknown property {key:?}: {}", unknown_hint(*suggestion))]
    UnknownKey {
        at: Source,
        key: String,
        /// The known key the operator most likely meant, if one is close.
        suggestion: Option<&'static str>,
    },

    /// A value its property's type does not accept.
    #[error("{at}: bad value {value:?} for {key}: expected {expected}")]
    BadValue {
        at: Source,
        key: &'static str,
        value: String,
        expected: String,
    },

    /// Two properties that are each valid but contradict each other.
    #[error("{0}")]
    Conflict(Box<Conflict>),
}

/// Two settings that cannot both hold, reported at the one the operator
/// changed last since that is the one they are likely to fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Where the reported setting came from.
    pub at: Source,
    /// The reported property.
    pub key: &'static str,
    /// Its canonical value.
    pub value: String,
    /// The property it contradicts.
    pub other_key: &'static str,
    /// That property's canonical value.
    pub other_value: String,
    /// Where that value came from.
    pub other_at: Source,
    /// The rule that was broken, phrased to follow "expected".
    pub expected: &'static str,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}={} conflicts with {}={} ({}): expected {}",
            self.at,
            self.key,
            self.value,
            self.other_key,
            self.other_value,
            self.other_at,
            self.expected
        )
    }
}

fn unknown_hint(suggestion: Option<&'static str>) -> String {
    match suggestion {
        Some(key) => format!("did you mean `{key}`?"),
        None => {
            "expected one of the ringside.* properties listed in docs/configuration.md".to_owned()
        }
    }
}
