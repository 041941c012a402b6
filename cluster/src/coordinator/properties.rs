//! The coordinator's configuration while it runs: the site file (and
//! `--set`) it started with, plus dynamic properties pushed through
//! `PATCH /api/v1/properties`.
//!
//! A pushed value wins over the site file until it is pushed again or
//! cleared with `null`; it is kept in the metastore and applied again at the
//! next start, so a restart does not silently revert it. Only the dynamic
//! properties the coordinator reads ([`CoordinatorConfig::DYNAMIC_KEYS`])
//! can be pushed, and every value is checked as a site file line is, rules
//! between properties included, before anything changes.
//!
//! Membership and the job service read their settings from the `watch`
//! channel this service feeds ([`PropertyService::subscribe`]), so a pushed
//! value takes effect at their next look: membership's next refresh (every
//! second), the job runner's next pass, the next sweep of finished jobs.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, SecondsFormat, Utc};
use ringside_api::{PropertyPatch, PropertyView};
use ringside_config::{ConfigError, CoordinatorConfig, SiteConfig, Source};
use sqlx::{Row, SqlitePool};
use tokio::sync::{Mutex, watch};

/// Why a patch was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("unknown property {key:?}: {}", unknown_hint(*suggestion))]
    UnknownProperty {
        key: String,
        /// The known key the caller most likely meant.
        suggestion: Option<&'static str>,
    },
    #[error("{key} {reason}")]
    NotDynamic { key: String, reason: &'static str },
    #[error("{message}")]
    InvalidValue { key: String, message: String },
    #[error("metastore database: {0}")]
    Database(#[from] sqlx::Error),
}

impl PatchError {
    /// The property at fault, if one is.
    pub fn key(&self) -> Option<&str> {
        match self {
            PatchError::UnknownProperty { key, .. }
            | PatchError::NotDynamic { key, .. }
            | PatchError::InvalidValue { key, .. } => Some(key),
            PatchError::Database(_) => None,
        }
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

const NOT_DYNAMIC: &str =
    "is read at start only: change it in ringside-site.properties and restart the coordinator";
const NOT_THE_COORDINATORS: &str = "is not a setting of the coordinator (workers or clients read it): change it in ringside-site.properties where they run and restart them";

/// A value pushed through the API, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pushed {
    value: String,
    at: DateTime<Utc>,
}

/// Pushed values by key.
type Overrides = BTreeMap<String, Pushed>;

/// `base` with `overrides` on top, each marked as pushed through the API.
fn effective(base: &SiteConfig, overrides: &Overrides) -> Result<SiteConfig, ConfigError> {
    base.with_changes(overrides.iter().map(|(key, pushed)| {
        let at = Source::Api {
            at: pushed.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        (key.as_str(), pushed.value.as_str(), at)
    }))
}

/// The overrides after `patch` at `now`, and the configuration they make on
/// top of `base`. Checks every key before any value: unknown keys first,
/// then keys the coordinator cannot change live, then the values (each as
/// the site file's, then the rules between properties).
fn plan(
    base: &SiteConfig,
    current: &Overrides,
    patch: &PropertyPatch,
    now: DateTime<Utc>,
) -> Result<(Overrides, SiteConfig), PatchError> {
    for key in patch.properties.keys() {
        if ringside_config::property(key).is_none() {
            return Err(PatchError::UnknownProperty {
                key: key.clone(),
                suggestion: ringside_config::suggest(key),
            });
        }
    }
    for key in patch.properties.keys() {
        if !CoordinatorConfig::DYNAMIC_KEYS.contains(&key.as_str()) {
            let dynamic = ringside_config::property(key).is_some_and(|p| p.dynamic);
            return Err(PatchError::NotDynamic {
                key: key.clone(),
                reason: if dynamic {
                    NOT_THE_COORDINATORS
                } else {
                    NOT_DYNAMIC
                },
            });
        }
    }
    let mut next = current.clone();
    for (key, value) in &patch.properties {
        match value {
            Some(value) => {
                next.insert(
                    key.clone(),
                    Pushed {
                        value: value.clone(),
                        at: now,
                    },
                );
            }
            None => {
                next.remove(key);
            }
        }
    }
    let config = effective(base, &next).map_err(invalid_value)?;
    Ok((next, config))
}

/// A value error from the config crate, worded without its source (the
/// caller knows it sent it).
fn invalid_value(error: ConfigError) -> PatchError {
    match error {
        ConfigError::BadValue {
            key,
            value,
            expected,
            ..
        } => PatchError::InvalidValue {
            key: key.to_owned(),
            message: format!("bad value {value:?} for {key}: expected {expected}"),
        },
        ConfigError::Conflict(c) => PatchError::InvalidValue {
            key: c.key.to_owned(),
            message: format!(
                "{}={} conflicts with {}={} ({}): expected {}",
                c.key, c.value, c.other_key, c.other_value, c.other_at, c.expected
            ),
        },
        // `plan` checked the keys, so nothing else can be wrong.
        other => PatchError::InvalidValue {
            key: String::new(),
            message: other.to_string(),
        },
    }
}

/// The coordinator's live configuration; cheap to clone.
#[derive(Clone, Debug)]
pub struct PropertyService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: SqlitePool,
    /// What the site file and `--set` say.
    base: SiteConfig,
    /// Held across a patch's metastore write, so patches apply one at a time.
    state: Mutex<State>,
    config: watch::Sender<CoordinatorConfig>,
}

#[derive(Debug)]
struct State {
    overrides: Overrides,
    effective: SiteConfig,
}

impl PropertyService {
    /// Reads the pushed values from the metastore and applies them on top of
    /// `base`. A stored value this build no longer accepts (the schema
    /// changed, or the site file now contradicts it) is logged, removed and
    /// ignored.
    pub async fn open(pool: SqlitePool, base: SiteConfig) -> Result<PropertyService, sqlx::Error> {
        // Membership runs them too; a second run finds nothing to do. Here
        // they run first, since membership starts from this configuration.
        sqlx::migrate!("./migrations").run(&pool).await?;
        let rows = sqlx::query("SELECT key, value, set_at FROM property_overrides ORDER BY key")
            .fetch_all(&pool)
            .await?;
        let mut overrides = Overrides::new();
        let mut effective_config = base.clone();
        for row in rows {
            let key: String = row.try_get("key")?;
            let value: String = row.try_get("value")?;
            let at = crate::metastore::from_millis(row.try_get("set_at")?);
            let patch = PropertyPatch {
                properties: BTreeMap::from([(key.clone(), Some(value.clone()))]),
            };
            match plan(&base, &overrides, &patch, at) {
                Ok((next, config)) => {
                    tracing::info!(%key, %value, pushed_at = %at, "applying a pushed property");
                    overrides = next;
                    effective_config = config;
                }
                Err(error) => {
                    tracing::warn!(
                        %key, %value, pushed_at = %at, %error,
                        "ignoring a pushed property this coordinator no longer accepts; removed from the metastore, so the site file's value (or the default) applies"
                    );
                    sqlx::query("DELETE FROM property_overrides WHERE key = ?1")
                        .bind(&key)
                        .execute(&pool)
                        .await?;
                }
            }
        }
        let (config, _) = watch::channel(effective_config.coordinator());
        Ok(PropertyService {
            inner: Arc::new(Inner {
                pool,
                base,
                state: Mutex::new(State {
                    overrides,
                    effective: effective_config,
                }),
                config,
            }),
        })
    }

    /// The coordinator's settings as they are now, updated on every patch.
    pub fn subscribe(&self) -> watch::Receiver<CoordinatorConfig> {
        self.inner.config.subscribe()
    }

    /// The coordinator's settings as they are now.
    pub fn current(&self) -> CoordinatorConfig {
        self.inner.config.borrow().clone()
    }

    /// Every property with its value and where it came from.
    pub async fn list(&self) -> Vec<PropertyView> {
        views(&self.inner.state.lock().await.effective)
    }

    /// Applies `patch` all or nothing: stores it, hands the new settings to
    /// membership and the job service, and answers every property.
    pub async fn patch(&self, patch: &PropertyPatch) -> Result<Vec<PropertyView>, PatchError> {
        let mut state = self.inner.state.lock().await;
        let now = Utc::now();
        let (overrides, effective) = plan(&self.inner.base, &state.overrides, patch, now)?;
        let mut tx = self.inner.pool.begin().await?;
        for (key, value) in &patch.properties {
            match value {
                Some(value) => {
                    sqlx::query(
                        "INSERT INTO property_overrides (key, value, set_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (key) DO UPDATE SET value = ?2, set_at = ?3",
                    )
                    .bind(key)
                    .bind(value)
                    .bind(now.timestamp_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM property_overrides WHERE key = ?1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        for (key, value) in &patch.properties {
            match value {
                Some(value) => tracing::info!(%key, %value, "property pushed"),
                None => tracing::info!(%key, "pushed property cleared"),
            }
        }
        let views = views(&effective);
        self.inner.config.send_replace(effective.coordinator());
        *state = State {
            overrides,
            effective,
        };
        Ok(views)
    }
}

fn views(site: &SiteConfig) -> Vec<PropertyView> {
    site.entries()
        .map(|e| PropertyView {
            key: e.key.to_string(),
            value: e.value,
            source: e.source.to_string(),
            dynamic: e.dynamic,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_config::keys;
    use std::time::Duration;

    fn patch(pairs: &[(&str, Option<&str>)]) -> PropertyPatch {
        PropertyPatch {
            properties: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                .collect(),
        }
    }

    fn site(text: &str) -> SiteConfig {
        SiteConfig::parse(text, "ringside-site.properties", &[]).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn pushed_values_win_and_show_when_they_were_pushed() {
        let base = site("ringside.worker.failure.detection.timeout=30s\n");
        let (overrides, config) = plan(
            &base,
            &Overrides::new(),
            &patch(&[
                ("ringside.worker.failure.detection.timeout", Some("5s")),
                ("ringside.job.max.tasks.per.worker", Some("8")),
            ]),
            at("2026-12-02T05:01:02.345Z"),
        )
        .unwrap();
        assert_eq!(overrides.len(), 2);
        assert_eq!(
            config.get(keys::WORKER_FAILURE_DETECTION_TIMEOUT),
            Duration::from_secs(5)
        );
        assert_eq!(config.coordinator().job.max_tasks_per_worker, 8);
        let view = views(&config)
            .into_iter()
            .find(|v| v.key == "ringside.job.max.tasks.per.worker")
            .unwrap();
        assert_eq!(
            (view.value.as_str(), view.source.as_str()),
            ("8", "api (2026-12-02T05:01:02Z)")
        );
    }

    #[test]
    fn null_clears_a_pushed_value_back_to_the_site_file() {
        let base = site("ringside.job.retention.time=2d\n");
        let (pushed, _) = plan(
            &base,
            &Overrides::new(),
            &patch(&[("ringside.job.retention.time", Some("1h"))]),
            Utc::now(),
        )
        .unwrap();
        let (cleared, config) = plan(
            &base,
            &pushed,
            &patch(&[("ringside.job.retention.time", None)]),
            Utc::now(),
        )
        .unwrap();
        assert!(cleared.is_empty());
        assert_eq!(config, base);
        // Clearing what was never pushed changes nothing and is no error.
        let (none, _) = plan(
            &base,
            &Overrides::new(),
            &patch(&[("ringside.job.failure.ratio.threshold", None)]),
            Utc::now(),
        )
        .unwrap();
        assert!(none.is_empty());
    }

    fn refused(pairs: &[(&str, Option<&str>)]) -> PatchError {
        match plan(&site(""), &Overrides::new(), &patch(pairs), Utc::now()) {
            Ok(_) => panic!("{pairs:?} should be refused"),
            Err(e) => e,
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_the_closest_known_one() {
        let error = refused(&[
            ("ringside.job.max.tasks.per.worker", Some("8")),
            ("ringside.worker.failure.detection.timout", Some("5s")),
        ]);
        assert_eq!(
            error.key(),
            Some("ringside.worker.failure.detection.timout")
        );
        assert_eq!(
            error.to_string(),
            "unknown property \"ringside.worker.failure.detection.timout\": did you mean `ringside.worker.failure.detection.timeout`?"
        );
        let error = refused(&[("colour", Some("blue"))]);
        assert!(matches!(
            error,
            PatchError::UnknownProperty {
                suggestion: None,
                ..
            }
        ));
    }

    #[test]
    fn unknown_keys_are_reported_before_bad_values() {
        let error = refused(&[
            ("ringside.job.max.tasks.per.worker", Some("lots")),
            ("ringside.zzz", Some("1")),
        ]);
        assert!(
            matches!(error, PatchError::UnknownProperty { .. }),
            "{error}"
        );
    }

    #[test]
    fn static_and_worker_only_keys_are_not_dynamic_here() {
        let error = refused(&[("ringside.coordinator.port", Some("1234"))]);
        assert!(matches!(error, PatchError::NotDynamic { .. }));
        assert_eq!(
            error.to_string(),
            "ringside.coordinator.port is read at start only: change it in ringside-site.properties and restart the coordinator"
        );
        for key in [
            "ringside.worker.pagestore.high.watermark",
            "ringside.worker.heartbeat.interval",
            "ringside.user.request.timeout",
        ] {
            let error = refused(&[(key, Some("0.5"))]);
            assert!(
                error
                    .to_string()
                    .contains("is not a setting of the coordinator")
                    && error.to_string().contains("ringside-site.properties"),
                "{error}"
            );
            // Not even a clear: nothing of it is the coordinator's to keep.
            assert!(matches!(
                refused(&[(key, None)]),
                PatchError::NotDynamic { .. }
            ));
        }
    }

    #[test]
    fn bad_values_name_the_key_and_what_is_expected() {
        let error = refused(&[("ringside.job.max.tasks.per.worker", Some("0"))]);
        assert_eq!(error.key(), Some("ringside.job.max.tasks.per.worker"));
        assert_eq!(
            error.to_string(),
            "bad value \"0\" for ringside.job.max.tasks.per.worker: expected an integer from 1 to 1024"
        );
        let error = refused(&[("ringside.worker.failure.detection.timeout", Some("soon"))]);
        assert!(error.to_string().contains("expected a duration"), "{error}");
    }

    #[test]
    fn the_rules_between_properties_hold_for_pushed_values() {
        // The default heartbeat interval is 3s.
        let error = refused(&[("ringside.worker.failure.detection.timeout", Some("2s"))]);
        assert_eq!(
            error.key(),
            Some("ringside.worker.failure.detection.timeout")
        );
        assert!(
            error.to_string().starts_with(
                "ringside.worker.failure.detection.timeout=2s conflicts with ringside.worker.heartbeat.interval=3s (default): expected"
            ),
            "{error}"
        );
    }

    #[test]
    fn one_bad_value_changes_nothing() {
        let base = site("");
        let (current, _) = plan(
            &base,
            &Overrides::new(),
            &patch(&[("ringside.job.retention.time", Some("1h"))]),
            Utc::now(),
        )
        .unwrap();
        let refused = plan(
            &base,
            &current,
            &patch(&[
                ("ringside.job.max.tasks.per.worker", Some("8")),
                ("ringside.job.failure.ratio.threshold", Some("1.5")),
                ("ringside.job.retention.time", None),
            ]),
            Utc::now(),
        );
        assert!(matches!(refused, Err(PatchError::InvalidValue { .. })));
        // `plan` is pure: the caller keeps `current` as it was.
        assert_eq!(current.len(), 1);
    }

    #[tokio::test]
    async fn pushed_values_survive_a_restart_and_stale_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let metastore = crate::metastore::Metastore::open(dir.path()).unwrap();
        let pool = metastore.database().await.unwrap();
        let base = site("ringside.worker.heartbeat.interval=200ms\n");
        let service = PropertyService::open(pool.clone(), base.clone())
            .await
            .unwrap();
        let mut live = service.subscribe();
        service
            .patch(&patch(&[
                ("ringside.worker.failure.detection.timeout", Some("1s")),
                ("ringside.job.max.tasks.per.worker", Some("9")),
            ]))
            .await
            .unwrap();
        assert!(live.has_changed().unwrap());
        assert_eq!(
            live.borrow_and_update().failure_detection_timeout,
            Duration::from_secs(1)
        );
        // A refused patch leaves the live settings and the list alone.
        let before = service.list().await;
        assert!(
            service
                .patch(&patch(&[
                    ("ringside.job.max.tasks.per.worker", Some("10")),
                    ("ringside.job.retention.time", Some("forever")),
                ]))
                .await
                .is_err()
        );
        assert!(!live.has_changed().unwrap());
        assert_eq!(service.list().await, before);

        // A value that no longer holds: here the site file's heartbeat
        // interval now exceeds the pushed failure detection timeout.
        let again = PropertyService::open(pool.clone(), base.clone())
            .await
            .unwrap();
        assert_eq!(again.subscribe().borrow().job.max_tasks_per_worker, 9);
        // And ones a newer schema would refuse: a key gone, a bad value.
        for (key, value) in [
            ("ringside.job.gone", "1"),
            ("ringside.job.retention.time", "forever"),
        ] {
            sqlx::query("INSERT INTO property_overrides (key, value, set_at) VALUES (?1, ?2, 0)")
                .bind(key)
                .bind(value)
                .execute(&pool)
                .await
                .unwrap();
        }
        let slower = site("ringside.worker.heartbeat.interval=3s\n");
        let stale = PropertyService::open(pool.clone(), slower).await.unwrap();
        let config = stale.subscribe().borrow().clone();
        assert_eq!(config.failure_detection_timeout, Duration::from_secs(15));
        assert_eq!(config.job.max_tasks_per_worker, 9);
        assert_eq!(config.job.retention_time, Duration::from_secs(7 * 86_400));
        let kept: Vec<String> = sqlx::query_scalar("SELECT key FROM property_overrides")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(kept, ["ringside.job.max.tasks.per.worker"]);
    }
}
