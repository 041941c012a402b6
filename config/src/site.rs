//! A validated site configuration: every schema property with its value and
//! where that value came from.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::SITE_FILE_NAME;
use crate::error::{ConfigError, Conflict};
use crate::properties::parse_properties;
use crate::schema::{self, Key, SCHEMA, keys};
use crate::types::{FromValue, MembershipType, Value};

/// Where a property's value came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Nobody set it; the schema default applies.
    Default,
    /// A line of a properties file.
    File { path: PathBuf, line: usize },
    /// A `--set key=value` argument.
    Override,
    /// Pushed to a running daemon through its API (`PATCH
    /// /api/v1/properties`) at `at`, an RFC 3339 time the daemon records.
    Api { at: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Override => f.write_str("--set"),
            Source::Api { at } => write!(f, "api ({at})"),
        }
    }
}

/// One property as [`SiteConfig::entries`] lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<'a> {
    /// Full property name.
    pub key: &'static str,
    /// The value in canonical form, so equal settings compare equal as text.
    pub value: String,
    /// Where the value came from.
    pub source: &'a Source,
    /// Whether a running daemon can apply a change without restarting.
    pub dynamic: bool,
}

/// A property whose value differs between two configurations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Full property name.
    pub key: &'static str,
    /// Canonical value before.
    pub old: String,
    /// Canonical value after.
    pub new: String,
    /// Whether a running daemon can apply it without restarting.
    pub dynamic: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct Setting {
    value: Value,
    source: Source,
}

/// Every property in the schema, validated, with its origin.
///
/// Built once at start-up from the site file and `--set` overrides; an
/// invalid input never produces one, so readers need no error handling.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteConfig {
    /// One slot per [`SCHEMA`] row, in the same order.
    settings: Vec<Setting>,
}

impl Default for SiteConfig {
    /// Every property at its schema default.
    fn default() -> Self {
        let settings = SCHEMA
            .iter()
            .map(|p| Setting {
                // The schema tests parse every default, so this cannot fail
                // on any input: it depends only on the compiled-in table.
                value: p.kind.parse(p.default).unwrap_or_else(|| {
                    panic!("schema default {:?} of {} is invalid", p.default, p.name)
                }),
                source: Source::Default,
            })
            .collect();
        SiteConfig { settings }
    }
}

impl SiteConfig {
    /// Loads `ringside-site.properties` from `conf_dir` and applies
    /// `overrides` (`key=value` strings from `--set`, later ones winning).
    ///
    /// Without a configuration directory only defaults and overrides apply.
    /// A directory without the file is an error naming the path expected.
    pub fn load(conf_dir: Option<&Path>, overrides: &[String]) -> Result<Self, ConfigError> {
        let Some(dir) = conf_dir else {
            return Self::build(&[], Path::new(""), overrides);
        };
        let path = dir.join(SITE_FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::MissingFile { path });
            }
            Err(e) => {
                return Err(ConfigError::Unreadable {
                    path,
                    reason: lowercase_first(&e.to_string()),
                });
            }
        };
        let entries = parse_properties(&text, &path)?;
        Self::build(&entries, &path, overrides)
    }

    /// Parses properties `text` as if read from a file named `source`, then
    /// applies `overrides`. For tests and for text that arrives by other
    /// means than a file.
    pub fn parse(text: &str, source: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let path = Path::new(source);
        let entries = parse_properties(text, path)?;
        Self::build(&entries, path, overrides)
    }

    fn build(
        entries: &[crate::properties::RawProperty],
        path: &Path,
        overrides: &[String],
    ) -> Result<Self, ConfigError> {
        let mut config = SiteConfig::default();
        for entry in entries {
            let at = Source::File {
                path: path.to_path_buf(),
                line: entry.line,
            };
            config.set(&entry.key, &entry.value, at)?;
        }
        for arg in overrides {
            let Some((key, value)) = arg.split_once('=') else {
                return Err(ConfigError::OverrideWithoutEquals { arg: arg.clone() });
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(ConfigError::EmptyKey {
                    at: Source::Override,
                    text: arg.clone(),
                });
            }
            config.set(key, value, Source::Override)?;
        }
        config.check_consistency()?;
        Ok(config)
    }

    fn set(&mut self, key: &str, raw: &str, at: Source) -> Result<(), ConfigError> {
        let Some(index) = schema::index_of(key) else {
            return Err(ConfigError::UnknownKey {
                at,
                key: key.to_owned(),
                suggestion: schema::suggest(key),
            });
        };
        let property = &SCHEMA[index];
        let Some(value) = property.kind.parse(raw) else {
            return Err(ConfigError::BadValue {
                at,
                key: property.name,
                value: raw.trim().to_owned(),
                expected: property.kind.expected(),
            });
        };
        self.settings[index] = Setting { value, source: at };
        Ok(())
    }

    /// This configuration with `changes` (key, value, where it came from)
    /// applied in order, each checked as a site file line is, then the rules
    /// between properties: for values that arrive while a daemon runs. All
    /// or nothing: on the first problem `self` is left as it was.
    pub fn with_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, &'a str, Source)>,
    ) -> Result<SiteConfig, ConfigError> {
        let mut config = self.clone();
        for (key, value, at) in changes {
            config.set(key, value, at)?;
        }
        config.check_consistency()?;
        Ok(config)
    }

    /// Rules between properties that each look fine on their own.
    fn check_consistency(&self) -> Result<(), ConfigError> {
        let low = self.get(keys::WORKER_PAGESTORE_LOW_WATERMARK);
        let high = self.get(keys::WORKER_PAGESTORE_HIGH_WATERMARK);
        if low >= high {
            return Err(self.conflict(
                keys::WORKER_PAGESTORE_LOW_WATERMARK,
                keys::WORKER_PAGESTORE_HIGH_WATERMARK,
                "the low watermark below the high watermark",
            ));
        }
        if self.get(keys::WORKER_PAGESTORE_PAGE_SIZE) > self.get(keys::WORKER_PAGESTORE_SIZE) {
            return Err(self.conflict(
                keys::WORKER_PAGESTORE_PAGE_SIZE,
                keys::WORKER_PAGESTORE_SIZE,
                "a page size no larger than the page store size",
            ));
        }
        if self.get(keys::WORKER_HEARTBEAT_INTERVAL)
            >= self.get(keys::WORKER_FAILURE_DETECTION_TIMEOUT)
        {
            return Err(self.conflict(
                keys::WORKER_HEARTBEAT_INTERVAL,
                keys::WORKER_FAILURE_DETECTION_TIMEOUT,
                "a heartbeat interval shorter than the failure detection timeout, or every worker would look dead",
            ));
        }
        if self.get(keys::WORKER_MEMBERSHIP_MANAGER_TYPE) == MembershipType::Static
            && self
                .get(keys::WORKER_STATIC_MEMBERSHIP_MANAGER_CONFIG_FILE)
                .is_none()
        {
            return Err(self.conflict(
                keys::WORKER_MEMBERSHIP_MANAGER_TYPE,
                keys::WORKER_STATIC_MEMBERSHIP_MANAGER_CONFIG_FILE,
                "a worker list file when the membership type is STATIC",
            ));
        }
        Ok(())
    }

    /// Reports a conflict at whichever of the two settings the operator
    /// touched most recently, since that is the one they are likely to fix.
    fn conflict<A, B>(&self, a: Key<A>, b: Key<B>, expected: &'static str) -> ConfigError {
        let (first, second) = (a.index(), b.index());
        let rank = |i: usize| match &self.settings[i].source {
            Source::Default => (0, 0),
            Source::File { line, .. } => (1, *line),
            Source::Override => (2, 0),
            Source::Api { .. } => (3, 0),
        };
        let (main, other) = if rank(second) > rank(first) {
            (second, first)
        } else {
            (first, second)
        };
        ConfigError::Conflict(Box::new(Conflict {
            at: self.settings[main].source.clone(),
            key: SCHEMA[main].name,
            value: self.settings[main].value.to_string(),
            other_key: SCHEMA[other].name,
            other_value: self.settings[other].value.to_string(),
            other_at: self.settings[other].source.clone(),
            expected,
        }))
    }

    /// Reads a property as its Rust type.
    ///
    /// # Panics
    ///
    /// Only if a key handle's Rust type disagrees with its schema type,
    /// which the schema tests rule out for every key before release.
    pub fn get<T: FromValue>(&self, key: Key<T>) -> T {
        let value = &self.settings[key.index()].value;
        T::from_value(value).unwrap_or_else(|| {
            panic!(
                "{} holds {value:?}, not the type its key handle declares",
                key.name()
            )
        })
    }

    /// The value of a property by name, or `None` for an unknown name.
    pub fn value(&self, name: &str) -> Option<&Value> {
        schema::index_of(name).map(|i| &self.settings[i].value)
    }

    /// Where a property's value came from, or `None` for an unknown name.
    pub fn source(&self, name: &str) -> Option<&Source> {
        schema::index_of(name).map(|i| &self.settings[i].source)
    }

    /// Every property in schema order, defaults included, with its
    /// canonical value and origin: the input for showing a configuration and
    /// for comparing clusters.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        SCHEMA
            .iter()
            .zip(&self.settings)
            .map(|(property, setting)| Entry {
                key: property.name,
                value: setting.value.to_string(),
                source: &setting.source,
                dynamic: property.dynamic,
            })
    }

    /// Properties whose values differ in `newer`, in schema order. A daemon
    /// can reload live when every change is dynamic.
    pub fn diff(&self, newer: &SiteConfig) -> Vec<Change> {
        SCHEMA
            .iter()
            .zip(self.settings.iter().zip(&newer.settings))
            .filter(|(_, (old, new))| old.value != new.value)
            .map(|(property, (old, new))| Change {
                key: property.name,
                old: old.value.to_string(),
                new: new.value.to_string(),
                dynamic: property.dynamic,
            })
            .collect()
    }
}

/// OS messages start upper-case ("Permission denied"); ours do not.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Property;
    use crate::types::{EvictorType, SelectionPolicy};
    use proptest::prelude::*;
    use std::time::Duration;

    fn sets(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    fn error(text: &str, overrides: &[&str]) -> String {
        match SiteConfig::parse(text, "ringside-site.properties", &sets(overrides)) {
            Ok(_) => panic!("{text:?} with {overrides:?} should be rejected"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_key_reads_as_its_declared_type() {
        schema::read_every_key(&SiteConfig::default());
    }

    #[test]
    fn empty_text_gives_defaults() {
        let config = SiteConfig::parse("", "x", &[]).unwrap();
        assert_eq!(config, SiteConfig::default());
        assert_eq!(config.get(keys::COORDINATOR_PORT), 19999);
        assert_eq!(config.get(keys::WORKER_PAGESTORE_SIZE), 1 << 30);
        assert_eq!(
            config.get(keys::WORKER_PAGESTORE_EVICTOR_TYPE),
            EvictorType::Lru
        );
        assert_eq!(config.get(keys::LICENSE), None);
        assert!(config.entries().all(|e| *e.source == Source::Default));
    }

    #[test]
    fn file_values_replace_defaults_and_record_their_line() {
        let text = "# site\nringside.worker.failure.detection.timeout=20s\n\
                    ringside.user.worker.selection.policy: maglev\n";
        let config = SiteConfig::parse(text, "conf/ringside-site.properties", &[]).unwrap();
        assert_eq!(
            config.get(keys::WORKER_FAILURE_DETECTION_TIMEOUT),
            Duration::from_secs(20)
        );
        assert_eq!(
            config.get(keys::USER_WORKER_SELECTION_POLICY),
            SelectionPolicy::Maglev
        );
        assert_eq!(
            config.source("ringside.user.worker.selection.policy"),
            Some(&Source::File {
                path: PathBuf::from("conf/ringside-site.properties"),
                line: 3
            })
        );
        assert_eq!(
            config.value("ringside.user.worker.selection.policy"),
            Some(&Value::Enum("MAGLEV"))
        );
        assert_eq!(config.value("ringside.unknown"), None);
    }

    #[test]
    fn overrides_beat_the_file_and_later_overrides_win() {
        let config = SiteConfig::parse(
            "ringside.worker.port=30000\n",
            "f",
            &sets(&[
                "ringside.worker.port=30001",
                " ringside.worker.port = 30002 ",
            ]),
        )
        .unwrap();
        assert_eq!(config.get(keys::WORKER_PORT), 30002);
        assert_eq!(
            config.source("ringside.worker.port"),
            Some(&Source::Override)
        );
    }

    #[test]
    fn override_values_may_contain_equals_signs() {
        let config = SiteConfig::parse("", "f", &sets(&["ringside.ufs.s3.region=a=b"])).unwrap();
        assert_eq!(config.get(keys::UFS_S3_REGION), "a=b");
    }

    #[test]
    fn bad_port_names_file_line_key_and_expectation() {
        assert_eq!(
            error("\n\nringside.coordinator.port=abc\n", &[]),
            "ringside-site.properties:3: bad value \"abc\" for ringside.coordinator.port: expected a port number from 1 to 65535"
        );
    }

    #[test]
    fn bad_override_names_set() {
        assert_eq!(
            error("", &["ringside.worker.pagestore.size=lots"]),
            "--set: bad value \"lots\" for ringside.worker.pagestore.size: expected a size of at least 1MiB, such as 512MiB, 1GiB or 4096 (bytes)"
        );
    }

    #[test]
    fn unknown_key_suggests_the_close_one() {
        assert_eq!(
            error("ringside.worker.prot=1", &[]),
            "ringside-site.properties:1: unknown property \"ringside.worker.prot\": did you mean `ringside.worker.port`?"
        );
        assert_eq!(
            error("", &["colour=blue"]),
            "--set: unknown property \"colour\": expected one of the ringside.* properties listed in docs/configuration.md"
        );
    }

    #[test]
    fn override_without_equals_or_key() {
        assert_eq!(
            error("", &["ringside.worker.port"]),
            "--set \"ringside.worker.port\": missing '=': expected --set key=value"
        );
        assert_eq!(
            error("", &["=5"]),
            "--set: empty key in \"=5\": expected a property name before the separator"
        );
    }

    #[test]
    fn watermarks_must_be_ordered() {
        assert_eq!(
            error("ringside.worker.pagestore.low.watermark=0.95", &[]),
            "ringside-site.properties:1: ringside.worker.pagestore.low.watermark=0.95 conflicts with \
             ringside.worker.pagestore.high.watermark=0.9 (default): expected the low watermark below the high watermark"
        );
        assert_eq!(
            error(
                "ringside.worker.pagestore.low.watermark=0.5\nringside.worker.pagestore.high.watermark=0.5",
                &[]
            ),
            "ringside-site.properties:2: ringside.worker.pagestore.high.watermark=0.5 conflicts with \
             ringside.worker.pagestore.low.watermark=0.5 (ringside-site.properties:1): expected the low watermark below the high watermark"
        );
    }

    #[test]
    fn page_size_must_fit_the_store() {
        let message = error(
            "ringside.worker.pagestore.size=1MiB\nringside.worker.pagestore.page.size=2MiB",
            &[],
        );
        assert!(message.starts_with("ringside-site.properties:2: ringside.worker.pagestore.page.size=2MiB conflicts with ringside.worker.pagestore.size=1MiB"), "{message}");
    }

    #[test]
    fn heartbeat_must_beat_failure_detection() {
        let message = error("", &["ringside.worker.heartbeat.interval=20s"]);
        assert!(message.starts_with("--set: ringside.worker.heartbeat.interval=20s conflicts with ringside.worker.failure.detection.timeout=15s (default)"), "{message}");
    }

    #[test]
    fn static_membership_needs_a_worker_list() {
        let message = error("ringside.worker.membership.manager.type=static", &[]);
        assert!(
            message.contains("expected a worker list file when the membership type is STATIC"),
            "{message}"
        );
        let config = SiteConfig::parse(
            "ringside.worker.membership.manager.type=static\n\
             ringside.worker.static.membership.manager.config.file=/etc/ringside/workers",
            "f",
            &[],
        )
        .unwrap();
        assert_eq!(
            config.get(keys::WORKER_MEMBERSHIP_MANAGER_TYPE),
            MembershipType::Static
        );
    }

    #[test]
    fn syntax_errors_come_before_meaning() {
        assert!(
            error("ringside.worker.port=1\nringside.worker.port=2", &[]).contains("duplicate key")
        );
        assert!(error("just words", &[]).contains("malformed line"));
    }

    #[test]
    fn entries_show_canonical_values_and_sources() {
        let config = SiteConfig::parse(
            "ringside.worker.pagestore.size = 2048mb\n",
            "site",
            &sets(&["ringside.worker.heartbeat.interval=1000"]),
        )
        .unwrap();
        let entries: Vec<_> = config.entries().collect();
        assert_eq!(entries.len(), SCHEMA.len());
        let size = entries
            .iter()
            .find(|e| e.key == "ringside.worker.pagestore.size")
            .unwrap();
        assert_eq!(size.value, "2GiB");
        assert_eq!(size.source.to_string(), "site:1");
        let heartbeat = entries
            .iter()
            .find(|e| e.key == "ringside.worker.heartbeat.interval")
            .unwrap();
        assert_eq!((heartbeat.value.as_str(), heartbeat.dynamic), ("1s", true));
        assert_eq!(heartbeat.source.to_string(), "--set");
        let license = entries
            .iter()
            .find(|e| e.key == "ringside.license")
            .unwrap();
        assert_eq!(license.value, "");
    }

    #[test]
    fn canonical_entries_parse_back_to_the_same_config() {
        let config = SiteConfig::parse(
            "ringside.etcd.endpoints=http://a:2379/, http://b:2379\nringside.job.retention.time=48h\n",
            "f",
            &[],
        )
        .unwrap();
        let text: String = config
            .entries()
            .map(|e| format!("{}={}\n", e.key, e.value))
            .collect();
        let again = SiteConfig::parse(&text, "f", &[]).unwrap();
        assert!(config.diff(&again).is_empty());
    }

    #[test]
    fn diff_lists_changes_with_their_dynamic_flag() {
        let old = SiteConfig::default();
        let new = SiteConfig::parse(
            "ringside.worker.failure.detection.timeout=30s\nringside.worker.port=1234\n",
            "f",
            &[],
        )
        .unwrap();
        assert_eq!(
            old.diff(&new),
            vec![
                Change {
                    key: "ringside.worker.port",
                    old: "29999".into(),
                    new: "1234".into(),
                    dynamic: false
                },
                Change {
                    key: "ringside.worker.failure.detection.timeout",
                    old: "15s".into(),
                    new: "30s".into(),
                    dynamic: true
                },
            ]
        );
        // Same value from another source is no change.
        let same = SiteConfig::parse("ringside.worker.port=29999", "f", &[]).unwrap();
        assert!(old.diff(&same).is_empty());
    }

    #[test]
    fn changes_apply_on_top_with_their_source() {
        let base = SiteConfig::parse("ringside.job.retention.time=2d\n", "f", &[]).unwrap();
        let at = Source::Api {
            at: "2026-12-02T05:01:02Z".into(),
        };
        let changed = base
            .with_changes([
                ("ringside.job.retention.time", "3d", at.clone()),
                ("ringside.job.max.tasks.per.worker", "8", at.clone()),
            ])
            .unwrap();
        assert_eq!(
            changed.get(keys::JOB_RETENTION_TIME),
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(changed.get(keys::JOB_MAX_TASKS_PER_WORKER), 8);
        assert_eq!(
            changed
                .source("ringside.job.retention.time")
                .unwrap()
                .to_string(),
            "api (2026-12-02T05:01:02Z)"
        );
        assert_eq!(base.get(keys::JOB_MAX_TASKS_PER_WORKER), 3);
    }

    #[test]
    fn changes_are_checked_as_the_site_file_is() {
        let base = SiteConfig::default();
        let at = || Source::Api { at: "t".into() };
        let bad = base
            .with_changes([
                ("ringside.job.max.tasks.per.worker", "8", at()),
                ("ringside.job.failure.ratio.threshold", "2", at()),
            ])
            .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "api (t): bad value \"2\" for ringside.job.failure.ratio.threshold: expected a ratio from 0 to 1, such as 0.9"
        );
        let unknown = base
            .with_changes([("ringside.job.max.task", "8", at())])
            .unwrap_err();
        assert!(
            matches!(unknown, ConfigError::UnknownKey { .. }),
            "{unknown}"
        );
        // The rules between properties hold too, reported at the pushed key.
        let conflict = base
            .with_changes([("ringside.worker.failure.detection.timeout", "2s", at())])
            .unwrap_err();
        assert!(
            conflict.to_string().starts_with(
                "api (t): ringside.worker.failure.detection.timeout=2s conflicts with ringside.worker.heartbeat.interval=3s (default)"
            ),
            "{conflict}"
        );
    }

    #[test]
    fn load_without_conf_dir_uses_defaults_and_overrides() {
        let config = SiteConfig::load(None, &sets(&["ringside.cluster.name=edge"])).unwrap();
        assert_eq!(config.get(keys::CLUSTER_NAME), "edge");
    }

    #[test]
    fn load_reads_the_site_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SITE_FILE_NAME);
        std::fs::write(&path, "ringside.worker.port=1\nringside.worker.s3.port=x\n").unwrap();
        let message = SiteConfig::load(Some(dir.path()), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            format!(
                "{}:2: bad value \"x\" for ringside.worker.s3.port: expected a port number from 1 to 65535",
                path.display()
            )
        );
        std::fs::write(&path, "ringside.worker.port=1\n").unwrap();
        let config = SiteConfig::load(Some(dir.path()), &[]).unwrap();
        assert_eq!(config.get(keys::WORKER_PORT), 1);
    }

    #[test]
    fn load_with_missing_file_names_the_expected_path() {
        let dir = tempfile::tempdir().unwrap();
        let message = SiteConfig::load(Some(dir.path()), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            format!(
                "no configuration file at {}: expected ringside-site.properties in the directory given by --conf or RINGSIDE_CONF_DIR",
                dir.path().join(SITE_FILE_NAME).display()
            )
        );
    }

    #[test]
    fn load_reports_unreadable_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SITE_FILE_NAME), [0xff, 0xfe, 0x00]).unwrap();
        let message = SiteConfig::load(Some(dir.path()), &[])
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("cannot read "), "{message}");
        assert!(
            message.contains(": stream did not contain valid UTF-8: "),
            "{message}"
        );
        assert!(
            message.ends_with("expected a readable UTF-8 text file"),
            "{message}"
        );
    }

    fn key_strategy() -> impl Strategy<Value = &'static Property> {
        prop::sample::select(SCHEMA.iter().collect::<Vec<_>>())
    }

    proptest! {
        #[test]
        fn arbitrary_text_and_overrides_never_panic(
            text in any::<String>(),
            overrides in prop::collection::vec(any::<String>(), 0..4),
        ) {
            let _ = SiteConfig::parse(&text, "f", &overrides);
        }

        #[test]
        fn arbitrary_values_for_known_keys_never_panic(
            property in key_strategy(),
            value in r"[ -~]{0,40}",
        ) {
            let _ = SiteConfig::parse(&format!("{}={value}", property.name), "f", &[]);
        }

        #[test]
        fn every_rejected_value_names_key_and_expectation(
            property in key_strategy(),
            value in prop_oneof![
                r"[ -~]{0,30}",
                r"[0-9]{1,25}(\.[0-9]{0,3})?( ?[a-zA-Z]{1,3})?",
                r"-?[0-9]\.[0-9]{1,3}",
                r"(https?|s3|file)://[a-z0-9./:]{0,20}",
            ],
        ) {
            let result = SiteConfig::parse("", "f", &[format!("{}={value}", property.name)]);
            if let Err(e) = result {
                let message = e.to_string();
                prop_assert!(message.contains(property.name), "{}", message);
                prop_assert!(message.contains("expected"), "{}", message);
                prop_assert!(message.starts_with("--set"), "{}", message);
            }
        }

        #[test]
        fn accepted_values_survive_their_canonical_form(
            property in key_strategy(),
            value in prop_oneof![r"[ -~]{0,30}", r"[0-9]{1,12}( ?[a-zA-Z]{1,3})?"],
        ) {
            if let Some(parsed) = property.kind.parse(&value) {
                prop_assert_eq!(property.kind.parse(&parsed.to_string()), Some(parsed));
            }
        }
    }
}
