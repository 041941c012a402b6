//! Configuration of Ringside's coordinator, workers and CLI.
//!
//! Every program reads `ringside-site.properties` from the directory given by
//! `--conf DIR` (or `RINGSIDE_CONF_DIR`) and lets `--set key=value` override
//! single properties. This crate parses that Java-style properties text,
//! checks every key and value against one schema of known properties
//! ([`SCHEMA`]), and hands each program its settings as typed structs
//! ([`CoordinatorConfig`], [`WorkerConfig`], [`ClientConfig`]). An unknown key
//! or a bad value is an error naming the file and line (or `--set`), the key,
//! and what was expected, so a daemon can refuse to start with a message the
//! operator can act on. Apart from reading the one file in
//! [`SiteConfig::load`], everything here is pure.
//!
//! ```
//! use ringside_config::{SiteConfig, keys};
//!
//! let text = "ringside.worker.pagestore.size=512MiB\n";
//! let site = SiteConfig::parse(text, "ringside-site.properties", &[]).unwrap();
//! assert_eq!(site.get(keys::WORKER_PAGESTORE_SIZE), 512 << 20);
//! assert_eq!(site.worker().port, 29999);
//! ```

mod daemon;
mod error;
mod properties;
mod schema;
mod site;
mod types;
pub mod units;

use std::ffi::OsString;
use std::path::PathBuf;

pub use daemon::{
    ClientConfig, CoordinatorConfig, JobConfig, PageStoreConfig, RingConfig, SecurityConfig,
    UfsConfig, WorkerConfig,
};
pub use error::{ConfigError, Conflict};
pub use properties::{RawProperty, parse_properties};
pub use schema::{Key, Property, SCHEMA, keys, markdown_row, markdown_table, property, suggest};
pub use site::{Change, Entry, SiteConfig, Source};
pub use types::{
    AuthenticationType, EvictorType, FromValue, MembershipType, PropertyType, SelectionPolicy,
    Value,
};

/// Name of the site file inside the configuration directory.
pub const SITE_FILE_NAME: &str = "ringside-site.properties";

/// Environment variable naming the configuration directory when `--conf`
/// is not given.
pub const CONF_DIR_ENV: &str = "RINGSIDE_CONF_DIR";

/// The configuration directory: the `--conf` flag if given, else
/// `RINGSIDE_CONF_DIR` if set and non-empty, else none (defaults only).
pub fn resolve_conf_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    resolve_conf_dir_from(flag, std::env::var_os(CONF_DIR_ENV))
}

/// [`resolve_conf_dir`] with the environment value passed in, so callers and
/// tests need not touch the process environment.
pub fn resolve_conf_dir_from(flag: Option<PathBuf>, env: Option<OsString>) -> Option<PathBuf> {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_dir_prefers_the_flag_then_the_environment() {
        let flag = Some(PathBuf::from("/flag"));
        let env = Some(OsString::from("/env"));
        assert_eq!(resolve_conf_dir_from(flag.clone(), env.clone()), flag);
        assert_eq!(
            resolve_conf_dir_from(None, env),
            Some(PathBuf::from("/env"))
        );
        assert_eq!(resolve_conf_dir_from(None, Some(OsString::new())), None);
        assert_eq!(resolve_conf_dir_from(None, None), None);
    }

    /// The docs must list every key with its current type, default, dynamic
    /// flag and description, so they cannot fall behind the schema.
    #[test]
    fn configuration_docs_list_every_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let docs = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let stale: Vec<String> = SCHEMA
            .iter()
            .map(markdown_row)
            .filter(|row| !docs.lines().any(|line| line == row))
            .collect();
        assert!(
            stale.is_empty(),
            "docs/configuration.md lacks these rows (or has them out of date); \
             replace the table with ringside_config::markdown_table():\n{}",
            stale.join("\n")
        );
    }
}
