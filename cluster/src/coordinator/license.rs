//! The cluster's license: which one is in force, where it stands, and what
//! it refuses.
//!
//! A license comes from the `ringside.license` property or through `PUT
//! /api/v1/license`, and is verified with `ringside.license.verification.key`
//! and checked against `ringside.cluster.name` before it is taken. The one
//! in force is kept in the metastore, so a license applied through the API
//! survives restarts; the property takes over again whenever its value
//! changes (the license applied last wins). At start a bad license in the
//! property stops the coordinator with the reason, since bad configuration
//! should; one that expired beyond its grace period does not, since reads
//! never stop because of a license.
//!
//! What a license enforces:
//! - a worker that is not ONLINE (joining, or rejoining after being OFFLINE)
//!   is refused when it would be one worker too many, or take the page store
//!   capacity of the ONLINE workers beyond the limit; workers already ONLINE
//!   are never cut off;
//! - after expiry, during the grace period (`ringside.license.grace.period`,
//!   default 14 days) everything works and the coordinator warns loudly (at
//!   start, on every job submitted, and every hour); after it, new jobs are
//!   refused. Reads through the workers go on whatever the license says.
//!
//! With no verification key and no license the cluster is unlicensed and
//! nothing is enforced (demos and tests). In ETCD membership workers register
//! in etcd, not with the coordinator, so worker limits are reported but
//! cannot be enforced at registration.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeDelta, Utc};
use prometheus::{IntGaugeVec, Opts, Registry};
use ringside_api::{
    WorkerHeartbeat, WorkerState, WorkerView,
    license::{LicenseSource, LicenseState, LicenseStatus},
};
use ringside_config::CoordinatorConfig;
use ringside_license::{Evaluation, License, LicenseError, PublicKey, State, Usage};
use sqlx::{Row, SqlitePool};

use crate::{membership::MembershipError, metastore::from_millis};

/// How often the standing is re-evaluated (state changes, gauges).
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// How often an expired (in grace or beyond) or invalid license is logged again.
const NAG_EVERY: Duration = Duration::from_secs(3600);

/// Why the coordinator cannot start with its license settings.
#[derive(Debug, thiserror::Error)]
pub enum LicenseStartError {
    #[error(
        "ringside.license is set but ringside.license.verification.key is not: expected the vendor's public key (the .pub file of `ringside license keygen`) to verify the license with"
    )]
    NoKey,
    #[error("ringside.license.verification.key: {0}")]
    Key(LicenseError),
    #[error("ringside.license: {0}")]
    License(LicenseError),
    #[error("license in the metastore: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a license applied through the API was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "this coordinator has no ringside.license.verification.key, so it cannot verify a license: set it to the vendor's public key and restart"
    )]
    NoKey,
    #[error("{0}")]
    License(LicenseError),
    #[error("metastore database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a new job is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobRefused {
    /// `license_expired` or `license_invalid`.
    pub code: &'static str,
    pub message: String,
}

/// The license in force, or why there is none that holds.
#[derive(Clone, Debug)]
enum Current {
    Unlicensed,
    Licensed {
        license: License,
        source: LicenseSource,
        applied_at: DateTime<Utc>,
    },
    /// A stored license that no longer verifies (the key or the cluster
    /// name changed); `license` is its unverified content, for display.
    Invalid {
        reason: String,
        license: Option<License>,
        source: LicenseSource,
        applied_at: DateTime<Utc>,
    },
}

/// The row of the `license` table.
struct Stored {
    token: String,
    source: LicenseSource,
    applied_at: DateTime<Utc>,
    property_token: String,
}

/// The coordinator's license: cheap to clone, shared by its handlers.
#[derive(Clone, Debug)]
pub struct LicenseService {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    cluster: String,
    key: Option<PublicKey>,
    grace: TimeDelta,
    /// The `ringside.license` value this coordinator started with ('' for none).
    property_token: String,
    current: RwLock<Current>,
    /// Held across storing a license and putting it in force, so two
    /// applies at once leave the same one in the metastore and in memory.
    applying: tokio::sync::Mutex<()>,
    gauges: Gauges,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseService")
            .field("cluster", &self.cluster)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl LicenseService {
    /// Decides which license is in force from the configuration and the
    /// metastore (whose `license` table the membership's migrations made),
    /// and registers the license gauges in `registry`.
    pub async fn open(
        pool: SqlitePool,
        config: &CoordinatorConfig,
        registry: &Registry,
    ) -> Result<LicenseService, LicenseStartError> {
        let key = config
            .license_verification_key
            .as_deref()
            .map(PublicKey::parse)
            .transpose()
            .map_err(LicenseStartError::Key)?;
        let property = config.license.clone().filter(|t| !t.trim().is_empty());
        if property.is_some() && key.is_none() {
            return Err(LicenseStartError::NoKey);
        }
        let grace = TimeDelta::from_std(config.license_grace_period).unwrap_or(TimeDelta::MAX);
        let service = LicenseService {
            inner: Arc::new(Inner {
                pool,
                cluster: config.cluster_name.clone(),
                key,
                grace,
                property_token: property.clone().unwrap_or_default(),
                current: RwLock::new(Current::Unlicensed),
                applying: tokio::sync::Mutex::new(()),
                gauges: Gauges::register(registry),
            }),
        };
        let current = service.decide(property).await?;
        *service.write() = current;
        service.log_standing(true);
        service.observe();
        Ok(service)
    }

    /// Which license holds at start: the property's when its value changed
    /// since the last start (or nothing is stored), else the stored one.
    async fn decide(&self, property: Option<String>) -> Result<Current, LicenseStartError> {
        let inner = &self.inner;
        let stored = self.load().await?;
        let now = from_millis(Utc::now().timestamp_millis());
        if let Some(token) = property {
            let unchanged = stored
                .as_ref()
                .is_some_and(|s| s.property_token == inner.property_token);
            if unchanged && let Some(s) = &stored {
                match self.check(&s.token) {
                    Ok(license) => {
                        return Ok(Current::Licensed {
                            license,
                            source: s.source,
                            applied_at: s.applied_at,
                        });
                    }
                    Err(error) if s.source == LicenseSource::Api => tracing::warn!(
                        %error,
                        "the license applied through the API no longer holds; using ringside.license instead"
                    ),
                    Err(_) => {}
                }
            }
            let license = self.check(&token).map_err(LicenseStartError::License)?;
            self.store(&token, LicenseSource::Property, now).await?;
            if !unchanged {
                tracing::info!(license = %license.id, "license from ringside.license in force");
            }
            return Ok(Current::Licensed {
                license,
                source: LicenseSource::Property,
                applied_at: now,
            });
        }
        let Some(s) = stored else {
            return Ok(Current::Unlicensed);
        };
        if s.source == LicenseSource::Property {
            tracing::info!(
                "ringside.license was removed: the license it held is no longer in force"
            );
            sqlx::query("DELETE FROM license")
                .execute(&inner.pool)
                .await?;
            return Ok(Current::Unlicensed);
        }
        if s.property_token != inner.property_token {
            // Keep the API license, but remember that the property is empty now.
            self.store(&s.token, s.source, s.applied_at).await?;
        }
        Ok(match self.check(&s.token) {
            Ok(license) => Current::Licensed {
                license,
                source: s.source,
                applied_at: s.applied_at,
            },
            Err(reason) => Current::Invalid {
                reason: match (&inner.key, &reason) {
                    (None, _) => "the license applied through the API cannot be verified: ringside.license.verification.key is not set; set it to the vendor key the license was signed with, or apply a new license".to_string(),
                    (Some(_), reason) => format!(
                        "the license applied through the API no longer holds: {reason}; apply a valid license"
                    ),
                },
                license: ringside_license::decode_unverified(&s.token).ok(),
                source: s.source,
                applied_at: s.applied_at,
            },
        })
    }

    /// Verifies `token` and checks it covers this cluster; an expired license
    /// passes (its state says so).
    fn check(&self, token: &str) -> Result<License, LicenseError> {
        let Some(key) = &self.inner.key else {
            return Err(LicenseError::MalformedKey(
                "ringside.license.verification.key is not set".into(),
            ));
        };
        let license = ringside_license::verify(token, key)?;
        ringside_license::evaluate(&license, &self.inner.cluster, Utc::now(), self.inner.grace)?;
        Ok(license)
    }

    async fn load(&self) -> Result<Option<Stored>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT token, source, applied_at, property_token FROM license WHERE slot = 1",
        )
        .fetch_optional(&self.inner.pool)
        .await?;
        row.map(|row| {
            Ok(Stored {
                token: row.try_get("token")?,
                source: match row.try_get::<String, _>("source")?.as_str() {
                    "api" => LicenseSource::Api,
                    _ => LicenseSource::Property,
                },
                applied_at: from_millis(row.try_get("applied_at")?),
                property_token: row.try_get("property_token")?,
            })
        })
        .transpose()
    }

    async fn store(
        &self,
        token: &str,
        source: LicenseSource,
        applied_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO license (slot, token, source, applied_at, property_token) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (slot) DO UPDATE SET token = ?1, source = ?2, applied_at = ?3, property_token = ?4",
        )
        .bind(token)
        .bind(match source {
            LicenseSource::Api => "api",
            LicenseSource::Property => "property",
        })
        .bind(applied_at.timestamp_millis())
        .bind(&self.inner.property_token)
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.inner.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.inner
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Verifies `token`, checks it covers this cluster and has not expired
    /// beyond its grace period, then stores it and enforces it at once.
    pub async fn apply(&self, token: &str) -> Result<(), ApplyError> {
        if self.inner.key.is_none() {
            return Err(ApplyError::NoKey);
        }
        let license = self.check(token).map_err(ApplyError::License)?;
        let evaluation = self.evaluate(&license, Utc::now());
        if let Some(refusal) = evaluation.refusal(&license) {
            return Err(ApplyError::License(refusal));
        }
        let _applying = self.inner.applying.lock().await;
        // Milliseconds, as the metastore keeps it.
        let now = from_millis(Utc::now().timestamp_millis());
        self.store(token.trim(), LicenseSource::Api, now).await?;
        tracing::info!(
            license = %license.id,
            customer = %license.customer,
            limits = %license.limits_text(),
            "license applied through the API: {}",
            evaluation.describe(&license)
        );
        *self.write() = Current::Licensed {
            license,
            source: LicenseSource::Api,
            applied_at: now,
        };
        self.log_standing(false);
        self.observe();
        Ok(())
    }

    fn evaluate(&self, license: &License, now: DateTime<Utc>) -> Evaluation {
        ringside_license::evaluate_at(license, now, self.inner.grace)
    }

    /// Whether a worker that is not ONLINE may join, given the ONLINE
    /// members: refused (403 `license_limit`) when it would be beyond the
    /// license's worker or capacity limit.
    pub fn admit(
        &self,
        hb: &WorkerHeartbeat,
        online: &[WorkerView],
    ) -> Result<(), MembershipError> {
        let Current::Licensed { license, .. } = &*self.read() else {
            return Ok(());
        };
        let online: Vec<&WorkerView> = online
            .iter()
            .filter(|w| w.state == WorkerState::Online && w.heartbeat.id != hb.id)
            .collect();
        let usage = Usage {
            workers: u32::try_from(online.len()).unwrap_or(u32::MAX),
            capacity_bytes: online.iter().fold(0u64, |sum, w| {
                sum.saturating_add(w.heartbeat.capacity_bytes)
            }),
        };
        let worker = format!("{} at {}", hb.id, hb.address);
        license
            .admit_worker(usage, &worker, hb.capacity_bytes)
            .map_err(|error| {
                tracing::warn!(worker = %hb.id, address = %hb.address, %error, "worker refused by the license");
                MembershipError::Refused {
                    code: error.code(),
                    message: error.to_string(),
                }
            })
    }

    /// Whether a new job may start: refused once the license expired beyond
    /// its grace period, or when the applied license no longer holds. In
    /// the grace period it starts, with a warning.
    pub fn check_new_job(&self) -> Result<(), JobRefused> {
        match &*self.read() {
            Current::Unlicensed => Ok(()),
            Current::Invalid { reason, .. } => Err(JobRefused {
                code: "license_invalid",
                message: format!("new jobs are refused: {reason}"),
            }),
            Current::Licensed { license, .. } => {
                let evaluation = self.evaluate(license, Utc::now());
                match evaluation.state {
                    State::Valid => Ok(()),
                    State::Grace => {
                        tracing::warn!(license = %license.id, "{}", evaluation.describe(license));
                        Ok(())
                    }
                    State::Expired => {
                        let message = evaluation.describe(license);
                        tracing::error!(license = %license.id, "job refused: {message}");
                        Err(JobRefused {
                            code: "license_expired",
                            message,
                        })
                    }
                }
            }
        }
    }

    /// The state now, with the ONLINE workers' use next to the limits.
    pub fn status(&self, workers: &[WorkerView]) -> LicenseStatus {
        let now = Utc::now();
        let online: Vec<&WorkerView> = workers
            .iter()
            .filter(|w| w.state == WorkerState::Online)
            .collect();
        let inner = &self.inner;
        let mut status = LicenseStatus {
            state: LicenseState::Unlicensed,
            message: String::new(),
            cluster: inner.cluster.clone(),
            license: None,
            source: None,
            applied_at: None,
            days_left: None,
            grace_ends_at: None,
            grace_period_seconds: u64::try_from(inner.grace.num_seconds()).unwrap_or(0),
            workers_used: u32::try_from(online.len()).unwrap_or(u32::MAX),
            workers_limit: None,
            capacity_used_bytes: online.iter().fold(0u64, |sum, w| {
                sum.saturating_add(w.heartbeat.capacity_bytes)
            }),
            capacity_limit_bytes: None,
            verification_key_configured: inner.key.is_some(),
            checked_at: now,
        };
        match &*self.read() {
            Current::Unlicensed => {
                status.message = if inner.key.is_some() {
                    "no license applied: nothing is enforced; apply one with `ringside license apply FILE` or ringside.license".into()
                } else {
                    "unlicensed: no license and no ringside.license.verification.key, so nothing is enforced".into()
                };
            }
            Current::Invalid {
                reason,
                license,
                source,
                applied_at,
            } => {
                status.state = LicenseState::Invalid;
                status.message = format!("{reason}; new jobs are refused until then");
                status.license = license.as_ref().map(License::summary);
                status.source = Some(*source);
                status.applied_at = Some(*applied_at);
            }
            Current::Licensed {
                license,
                source,
                applied_at,
            } => {
                let evaluation = self.evaluate(license, now);
                status.state = match evaluation.state {
                    State::Valid => LicenseState::Valid,
                    State::Grace => LicenseState::Grace,
                    State::Expired => LicenseState::Expired,
                };
                status.message = evaluation.describe(license);
                status.license = Some(license.summary());
                status.source = Some(*source);
                status.applied_at = Some(*applied_at);
                status.days_left = Some(evaluation.days_left);
                status.grace_ends_at = Some(evaluation.grace_ends_at);
                status.workers_limit = license.limits.max_workers;
                status.capacity_limit_bytes = license.limits.max_capacity_bytes;
            }
        }
        status
    }

    /// Logs where the license stands: loudly when it is expired or invalid.
    fn log_standing(&self, at_start: bool) {
        let inner = &self.inner;
        match &*self.read() {
            Current::Unlicensed if at_start => tracing::info!(
                cluster = %inner.cluster,
                "unlicensed: no license is in force, nothing is enforced"
            ),
            Current::Unlicensed => {}
            Current::Invalid { reason, .. } => {
                tracing::error!(cluster = %inner.cluster, "LICENSE INVALID: {reason}; new jobs are refused")
            }
            Current::Licensed { license, .. } => {
                let evaluation = self.evaluate(license, Utc::now());
                let text = evaluation.describe(license);
                match evaluation.state {
                    State::Valid => tracing::info!(
                        license = %license.id,
                        limits = %license.limits_text(),
                        "{text}"
                    ),
                    State::Grace => tracing::warn!(license = %license.id, "{text}"),
                    State::Expired => tracing::error!(license = %license.id, "{text}"),
                }
            }
        }
    }

    /// The state as the gauges name it, for change detection.
    fn state_now(&self) -> LicenseState {
        match &*self.read() {
            Current::Unlicensed => LicenseState::Unlicensed,
            Current::Invalid { .. } => LicenseState::Invalid,
            Current::Licensed { license, .. } => match self.evaluate(license, Utc::now()).state {
                State::Valid => LicenseState::Valid,
                State::Grace => LicenseState::Grace,
                State::Expired => LicenseState::Expired,
            },
        }
    }

    /// Sets the license gauges to the standing now.
    pub fn observe(&self) {
        let gauges = &self.inner.gauges;
        let state = self.state_now();
        for s in LicenseState::ALL {
            gauges
                .state
                .with_label_values(&[s.as_str()])
                .set(i64::from(s == state));
        }
        for g in [
            &gauges.expiry,
            &gauges.grace_end,
            &gauges.remaining,
            &gauges.workers_limit,
            &gauges.capacity_limit,
        ] {
            g.reset();
        }
        if let Current::Licensed { license, .. } = &*self.read() {
            let evaluation = self.evaluate(license, Utc::now());
            let id = [license.id.as_str()];
            gauges
                .expiry
                .with_label_values(&id)
                .set(evaluation.expires_at.timestamp());
            gauges
                .grace_end
                .with_label_values(&id)
                .set(evaluation.grace_ends_at.timestamp());
            gauges
                .remaining
                .with_label_values(&id)
                .set((evaluation.expires_at - Utc::now()).num_seconds());
            if let Some(n) = license.limits.max_workers {
                gauges
                    .workers_limit
                    .with_label_values(&id)
                    .set(i64::from(n));
            }
            if let Some(bytes) = license.limits.max_capacity_bytes {
                gauges
                    .capacity_limit
                    .with_label_values(&id)
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
        }
    }

    /// Re-evaluates every minute until the process ends: logs each change of
    /// state, repeats the warning every hour while expired or invalid, and
    /// keeps the gauges current.
    pub async fn watch(self) {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.tick().await;
        let mut last = self.state_now();
        let mut nagged = Instant::now();
        loop {
            tick.tick().await;
            let state = self.state_now();
            let nag = matches!(
                state,
                LicenseState::Grace | LicenseState::Expired | LicenseState::Invalid
            ) && nagged.elapsed() >= NAG_EVERY;
            if state != last || nag {
                self.log_standing(false);
                nagged = Instant::now();
            }
            last = state;
            self.observe();
        }
    }
}

/// The license gauges at `/metrics`. Those about a license carry its id and
/// are absent while the cluster is unlicensed, so an expiry alert does not
/// fire on a cluster that has no license to expire.
struct Gauges {
    state: IntGaugeVec,
    expiry: IntGaugeVec,
    grace_end: IntGaugeVec,
    remaining: IntGaugeVec,
    workers_limit: IntGaugeVec,
    capacity_limit: IntGaugeVec,
}

impl Gauges {
    fn register(registry: &Registry) -> Gauges {
        let vec = |name: &str, help: &str, label: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &[label])
                .expect("static metric definition");
            registry
                .register(Box::new(g.clone()))
                .expect("metric registered once");
            g
        };
        Gauges {
            state: vec(
                "ringside_license_state",
                "1 for the license's current state (unlicensed, valid, grace, expired, invalid), 0 for the others",
                "state",
            ),
            expiry: vec(
                "ringside_license_expiry_timestamp_seconds",
                "When the license in force expires, as a Unix time",
                "license",
            ),
            grace_end: vec(
                "ringside_license_grace_end_timestamp_seconds",
                "When the grace period after the license's expiry ends and new jobs are refused, as a Unix time",
                "license",
            ),
            remaining: vec(
                "ringside_license_remaining_seconds",
                "Time left until the license expires; negative after its expiry",
                "license",
            ),
            workers_limit: vec(
                "ringside_license_workers_limit",
                "Most ONLINE workers the license allows",
                "license",
            ),
            capacity_limit: vec(
                "ringside_license_capacity_limit_bytes",
                "Most page store capacity of the ONLINE workers the license allows",
                "license",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use ringside_license::{LicenseKind, Limits, VendorKey};

    use super::*;
    use crate::metastore::Metastore;

    async fn pool(dir: &std::path::Path) -> SqlitePool {
        let pool = Metastore::open(dir).unwrap().database().await.unwrap();
        sqlx::migrate!("./migrations").run(&pool).await.unwrap();
        pool
    }

    fn token(
        vendor: &VendorKey,
        id: &str,
        expires_in: TimeDelta,
        max_workers: Option<u32>,
    ) -> String {
        let now = Utc::now();
        vendor
            .sign(&License {
                id: id.into(),
                customer: "ACME".into(),
                kind: LicenseKind::Cluster,
                clusters: vec!["eu".into()],
                issued_at: now - TimeDelta::days(400),
                expires_at: now + expires_in,
                limits: Limits {
                    max_workers,
                    max_capacity_bytes: Some(100),
                },
                ..License::default()
            })
            .unwrap()
    }

    fn config(key: Option<&VendorKey>, license: Option<&str>) -> CoordinatorConfig {
        CoordinatorConfig {
            cluster_name: "eu".into(),
            license: license.map(str::to_string),
            license_verification_key: key.map(|k| k.public_key().to_base64()),
            ..CoordinatorConfig::default()
        }
    }

    async fn open(
        pool: &SqlitePool,
        config: &CoordinatorConfig,
    ) -> Result<LicenseService, LicenseStartError> {
        LicenseService::open(pool.clone(), config, &Registry::new()).await
    }

    fn in_force(service: &LicenseService) -> (LicenseState, Option<String>, Option<LicenseSource>) {
        let status = service.status(&[]);
        (status.state, status.license.map(|l| l.id), status.source)
    }

    #[tokio::test]
    async fn the_license_applied_last_wins_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path()).await;
        let vendor = VendorKey::from_seed([1; 32]);
        let year = TimeDelta::days(365);
        let p1 = token(&vendor, "P1", year, None);

        let service = open(&pool, &config(Some(&vendor), Some(&p1)))
            .await
            .unwrap();
        let from_property = (
            LicenseState::Valid,
            Some("P1".to_string()),
            Some(LicenseSource::Property),
        );
        assert_eq!(in_force(&service), from_property);
        service
            .apply(&token(&vendor, "A1", year, None))
            .await
            .unwrap();
        let from_api = (
            LicenseState::Valid,
            Some("A1".to_string()),
            Some(LicenseSource::Api),
        );
        assert_eq!(in_force(&service), from_api);

        // Restarted with the same property: the API's license stays.
        let service = open(&pool, &config(Some(&vendor), Some(&p1)))
            .await
            .unwrap();
        assert_eq!(in_force(&service), from_api);
        // A changed property takes over.
        let p2 = token(&vendor, "P2", year, None);
        let service = open(&pool, &config(Some(&vendor), Some(&p2)))
            .await
            .unwrap();
        assert_eq!(in_force(&service).1.as_deref(), Some("P2"));
        // Removing it withdraws the license it held.
        let service = open(&pool, &config(Some(&vendor), None)).await.unwrap();
        assert_eq!(in_force(&service), (LicenseState::Unlicensed, None, None));
        // An API license outlives a property removed later.
        service
            .apply(&token(&vendor, "A2", year, None))
            .await
            .unwrap();
        let service = open(&pool, &config(Some(&vendor), None)).await.unwrap();
        assert_eq!(in_force(&service).1.as_deref(), Some("A2"));
    }

    #[tokio::test]
    async fn a_stored_license_that_no_longer_verifies_is_invalid_and_refuses_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path()).await;
        let vendor = VendorKey::from_seed([1; 32]);
        let service = open(&pool, &config(Some(&vendor), None)).await.unwrap();
        service
            .apply(&token(&vendor, "A1", TimeDelta::days(30), None))
            .await
            .unwrap();
        service.check_new_job().unwrap();

        let rotated = VendorKey::from_seed([2; 32]);
        let service = open(&pool, &config(Some(&rotated), None)).await.unwrap();
        let status = service.status(&[]);
        assert_eq!(status.state, LicenseState::Invalid);
        assert!(
            status.message.contains("forged or tampered"),
            "{}",
            status.message
        );
        let refused = service.check_new_job().unwrap_err();
        assert_eq!(refused.code, "license_invalid");

        let keyless = open(&pool, &config(None, None)).await.unwrap();
        let status = keyless.status(&[]);
        assert_eq!(status.state, LicenseState::Invalid);
        assert!(
            status
                .message
                .contains("ringside.license.verification.key is not set"),
            "{}",
            status.message
        );
        assert!(matches!(
            keyless.apply("RSL1.a.b").await,
            Err(ApplyError::NoKey)
        ));
    }

    #[tokio::test]
    async fn grace_warns_and_beyond_it_jobs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path()).await;
        let vendor = VendorKey::from_seed([1; 32]);
        let service = open(&pool, &config(Some(&vendor), None)).await.unwrap();
        service
            .apply(&token(&vendor, "G", -TimeDelta::days(3), None))
            .await
            .unwrap();
        let status = service.status(&[]);
        assert_eq!(
            (status.state, status.days_left),
            (LicenseState::Grace, Some(-4)),
            "3 days and a moment ago, rounded down"
        );
        service.check_new_job().unwrap();

        let beyond = token(&vendor, "X", -TimeDelta::days(15), None);
        let refused = service.apply(&beyond).await.unwrap_err();
        assert!(
            matches!(&refused, ApplyError::License(LicenseError::Expired { .. })),
            "{refused}"
        );
        // At start the same license is taken: reads go on, jobs do not.
        let service = open(&pool, &config(Some(&vendor), Some(&beyond)))
            .await
            .unwrap();
        assert_eq!(service.status(&[]).state, LicenseState::Expired);
        assert_eq!(service.check_new_job().unwrap_err().code, "license_expired");
        // Bad configuration stops the coordinator.
        let forged = token(
            &VendorKey::from_seed([9; 32]),
            "F",
            TimeDelta::days(3),
            None,
        );
        let error = open(&pool, &config(Some(&vendor), Some(&forged)))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("forged or tampered"), "{error}");
        assert!(matches!(
            open(&pool, &config(None, Some(&forged))).await,
            Err(LicenseStartError::NoKey)
        ));
    }

    fn view(id: &str, state: WorkerState, capacity_bytes: u64) -> WorkerView {
        WorkerView {
            heartbeat: WorkerHeartbeat {
                id: id.into(),
                address: format!("http://{id}:29999"),
                s3_address: format!("http://{id}:29998"),
                capacity_bytes,
                used_bytes: 0,
                pages: 0,
                version: String::new(),
                cache_read_bytes: 0,
                ufs_read_bytes: 0,
            },
            state,
            last_heartbeat: Utc::now(),
            registered_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn admission_counts_the_online_workers_only() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path()).await;
        let vendor = VendorKey::from_seed([1; 32]);
        let service = open(&pool, &config(Some(&vendor), None)).await.unwrap();
        let members = [
            view("a", WorkerState::Online, 40),
            view("b", WorkerState::Offline, 40),
            view("c", WorkerState::Online, 40),
        ];
        let joining = view("d", WorkerState::Offline, 10).heartbeat;
        // Unlicensed: anyone joins.
        service.admit(&joining, &members).unwrap();

        service
            .apply(&token(&vendor, "L", TimeDelta::days(30), Some(3)))
            .await
            .unwrap();
        service.admit(&joining, &members).unwrap();
        let big = view("d", WorkerState::Offline, 30).heartbeat;
        let error = service.admit(&big, &members).unwrap_err().to_string();
        assert!(error.contains("license L allows 100B of page store capacity; worker d at http://d:29999 with 30B would bring the cluster to 110B"), "{error}");

        service
            .apply(&token(&vendor, "L2", TimeDelta::days(30), Some(2)))
            .await
            .unwrap();
        let error = service.admit(&joining, &members).unwrap_err();
        assert!(
            matches!(
                &error,
                MembershipError::Refused {
                    code: "license_limit",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("would be the 3rd"), "{error}");
        let status = service.status(&members);
        assert_eq!((status.workers_used, status.workers_limit), (2, Some(2)));
        assert_eq!(status.capacity_used_bytes, 80);
    }
}
