//! Licenses across the fleet: the alerts a cluster's license status raises,
//! the forecast of when capacity reaches a license's limit, licenses
//! uploaded once to the console, and applying one to the clusters it names
//! through the fan-out engine.
//!
//! The console does not verify signatures: it reads what a license says to
//! list it and to know where it applies; each coordinator verifies it with
//! its vendor key when it is applied, and refuses a forged one.

use chrono::{DateTime, Duration, Utc};
use ringside_api::{
    FieldError,
    license::{EXPIRY_ALERT_DAYS, LicenseState, LicenseStatus},
    licenses::{LicenseDashboard, LicenseRow, UploadedLicense},
    operation::{Action, NewOperation, OperationView, Rollout, Targets},
};
use ringside_charts::{Chart, Series, Unit, render_svg};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde_json::json;
use sqlx::Row;

use crate::{
    AppState, ConsoleError,
    actor::Actor,
    audit::Record,
    history::{Metric, Scope},
    store::{Store, StoreError, fetch_rows},
};

/// Use above this fraction of a license limit raises an alert.
pub const LIMIT_ALERT: f64 = 0.9;
/// How far back the capacity trend is read, and how far ahead it is
/// projected.
const TREND_WINDOW: i64 = 7;
const FORECAST_HORIZON: i64 = 365;

/// What needs an operator in one cluster's license status.
pub fn alerts(status: &LicenseStatus) -> Vec<String> {
    let mut alerts = Vec::new();
    let day = |t: &DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let license = status.license.as_ref();
    match status.state {
        LicenseState::Unlicensed => {}
        LicenseState::Invalid => alerts.push(format!("license invalid: {}", status.message)),
        LicenseState::Expired => alerts.push(format!(
            "license expired{}; the grace period is over and new jobs are refused",
            license.map_or(String::new(), |l| format!(" on {}", day(&l.expires_at)))
        )),
        LicenseState::Grace => alerts.push(format!(
            "license expired{}; grace period until {}, then new jobs are refused",
            license.map_or(String::new(), |l| format!(" on {}", day(&l.expires_at))),
            status
                .grace_ends_at
                .as_ref()
                .map_or_else(|| "soon".to_string(), day)
        )),
        LicenseState::Valid => {
            if let (Some(days), Some(l)) = (status.days_left, license)
                && days <= EXPIRY_ALERT_DAYS
            {
                alerts.push(format!(
                    "license expires in {days} {} ({})",
                    if days == 1 { "day" } else { "days" },
                    day(&l.expires_at)
                ));
            }
        }
    }
    if let Some(limit) = status.workers_limit.filter(|l| *l > 0) {
        let used = f64::from(status.workers_used) / f64::from(limit);
        if used > LIMIT_ALERT {
            alerts.push(format!(
                "{} of {limit} licensed workers in use ({:.0}%)",
                status.workers_used,
                used * 100.0
            ));
        }
    }
    if let Some(limit) = status.capacity_limit_bytes.filter(|l| *l > 0) {
        let used = status.capacity_used_bytes as f64 / limit as f64;
        if used > LIMIT_ALERT {
            let size = |bytes| {
                let (value, unit) = ringside_api::units::iec(bytes);
                format!("{value:.1} {unit}")
            };
            alerts.push(format!(
                "{} of {} licensed capacity in use ({:.0}%)",
                size(status.capacity_used_bytes),
                size(limit),
                used * 100.0
            ));
        }
    }
    alerts
}

/// When a series growing like `points` (unix ms, value) reaches `limit`,
/// by a least-squares line; none when it does not grow, is already past
/// the limit (that is an alert, not a forecast), or gets there only after
/// `now` + `horizon`.
pub fn reaches(
    points: &[(i64, f64)],
    limit: f64,
    now: DateTime<Utc>,
    horizon: Duration,
) -> Option<DateTime<Utc>> {
    let points: Vec<(f64, f64)> = points
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(t, v)| (*t as f64, *v))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_v = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points
        .iter()
        .map(|(t, v)| (t - mean_t) * (v - mean_v))
        .sum();
    let variance: f64 = points.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    if variance == 0.0 {
        return None;
    }
    let slope = covariance / variance;
    let current = mean_v + slope * (now.timestamp_millis() as f64 - mean_t);
    if slope <= 0.0 || current >= limit {
        return None;
    }
    let at = now.timestamp_millis() as f64 + (limit - current) / slope;
    let at = DateTime::from_timestamp_millis(at as i64)?;
    (at <= now + horizon).then_some(at)
}

/// The number of clusters still licensed (valid or in grace) at each day
/// from `now` until the last license has run out: the expiry chart's line.
pub fn licensed_over_time(statuses: &[&LicenseStatus], now: DateTime<Utc>) -> Vec<(i64, f64)> {
    let ends: Vec<DateTime<Utc>> = statuses
        .iter()
        .filter(|s| matches!(s.state, LicenseState::Valid | LicenseState::Grace))
        .filter_map(|s| {
            s.grace_ends_at
                .or_else(|| s.license.as_ref().map(|l| l.expires_at))
        })
        .collect();
    let last = ends.iter().max().copied().unwrap_or(now);
    let days = (last - now).num_days().clamp(0, 3 * FORECAST_HORIZON) + 2;
    (0..days)
        .map(|d| {
            let at = now + Duration::days(d);
            let left = ends.iter().filter(|end| **end > at).count();
            (at.timestamp_millis(), left as f64)
        })
        .collect()
}

#[derive(Iden)]
enum Licenses {
    Table,
    Id,
    Customer,
    Kind,
    Clusters,
    IssuedAt,
    ExpiresAt,
    Token,
    UploadedAt,
    UploadedBy,
}

/// An uploaded license as stored.
#[derive(Clone, Debug)]
struct StoredLicense {
    token: String,
    uploaded_at: DateTime<Utc>,
    uploaded_by: String,
}

impl Store {
    /// Keeps an uploaded license; the same id again with another text is a
    /// conflict, with the same text a no-op.
    async fn insert_license(
        &self,
        license: &ringside_license::License,
        token: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        if let Some(existing) = self.license_text(&license.id).await? {
            return if existing == token {
                Ok(false)
            } else {
                Err(StoreError::Duplicate(license.id.clone()))
            };
        }
        let clusters = serde_json::to_string(&license.clusters)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let query = Query::insert()
            .into_table(Licenses::Table)
            .columns([
                Licenses::Id,
                Licenses::Customer,
                Licenses::Kind,
                Licenses::Clusters,
                Licenses::IssuedAt,
                Licenses::ExpiresAt,
                Licenses::Token,
                Licenses::UploadedAt,
                Licenses::UploadedBy,
            ])
            .values_panic([
                license.id.clone().into(),
                license.customer.clone().into(),
                license.kind.as_str().into(),
                clusters.into(),
                license.issued_at.timestamp_millis().into(),
                license.expires_at.timestamp_millis().into(),
                token.into(),
                Utc::now().timestamp_millis().into(),
                by.into(),
            ])
            .to_owned();
        match self.rows_affected(&query).await {
            Ok(_) => Ok(true),
            // Another upload of the same id got in between: the same text
            // is a no-op, another one a conflict, as above.
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                match self.license_text(&license.id).await? {
                    Some(existing) if existing == token => Ok(false),
                    _ => Err(StoreError::Duplicate(license.id.clone())),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The signed text of an uploaded license.
    pub async fn license_text(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.select_licenses(Some(id)).await?.pop().map(|l| l.token))
    }

    async fn select_licenses(&self, id: Option<&str>) -> Result<Vec<StoredLicense>, StoreError> {
        let mut query = Query::select();
        query
            .columns([Licenses::Token, Licenses::UploadedAt, Licenses::UploadedBy])
            .from(Licenses::Table)
            .order_by(Licenses::ExpiresAt, Order::Asc);
        if let Some(id) = id {
            query.and_where(Expr::col(Licenses::Id).eq(id));
        }
        fetch_rows!(self, &query, |row| {
            let at: i64 = row.try_get("uploaded_at")?;
            Ok(StoredLicense {
                token: row.try_get("token")?,
                uploaded_at: DateTime::from_timestamp_millis(at)
                    .ok_or_else(|| StoreError::Corrupt(format!("timestamp {at} out of range")))?,
                uploaded_by: row.try_get("uploaded_by")?,
            })
        })
    }
}

fn unreadable(error: ringside_license::LicenseError) -> ConsoleError {
    FieldError::new(
        "license",
        format!("{error}: expected a license as `ringside license issue` writes it"),
    )
    .into()
}

impl AppState {
    /// Keeps a license to apply later; what it says is read, not verified
    /// (each coordinator verifies it when it is applied).
    pub async fn upload_license(
        &self,
        actor: &Actor,
        token: &str,
    ) -> Result<UploadedLicense, ConsoleError> {
        let token = token.trim();
        let outcome = async {
            let license = ringside_license::decode_unverified(token).map_err(unreadable)?;
            self.store
                .insert_license(&license, token, actor.name())
                .await
                .map_err(|e| match e {
                    StoreError::Duplicate(id) => ConsoleError::Conflict(FieldError::new(
                        "license",
                        format!(
                            "another license with id {id} is already uploaded: expected a new id for a new license"
                        ),
                    )),
                    other => other.into(),
                })?;
            self.uploaded(&license.id).await
        }
        .await;
        let mut record = Record::new(actor, "license.upload");
        if let Ok(uploaded) = &outcome {
            record = record
                .targets(uploaded.license.clusters.iter().cloned())
                .detail(json!({
                    "license": uploaded.license.id,
                    "customer": uploaded.license.customer,
                    "kind": uploaded.license.kind,
                    "expires_at": uploaded.license.expires_at,
                }));
        }
        self.audited(record, &outcome).await;
        outcome
    }

    async fn uploaded(&self, id: &str) -> Result<UploadedLicense, ConsoleError> {
        self.uploaded_licenses()
            .await?
            .into_iter()
            .find(|l| l.license.id == id)
            .ok_or_else(|| ConsoleError::NoLicense(id.to_string()))
    }

    /// Every uploaded license, soonest expiry first.
    pub async fn uploaded_licenses(&self) -> Result<Vec<UploadedLicense>, ConsoleError> {
        let registered: Vec<String> = self
            .list_clusters()
            .await?
            .into_iter()
            .map(|c| c.cluster.name)
            .collect();
        let mut list = Vec::new();
        for stored in self.store.select_licenses(None).await? {
            let license = ringside_license::decode_unverified(&stored.token)
                .map_err(|e| StoreError::Corrupt(format!("stored license: {e}")))?;
            let (known, unknown) = license
                .clusters
                .iter()
                .cloned()
                .partition(|c| registered.contains(c));
            list.push(UploadedLicense {
                license: license.summary(),
                uploaded_at: stored.uploaded_at,
                uploaded_by: stored.uploaded_by,
                registered: known,
                unregistered: unknown,
            });
        }
        Ok(list)
    }

    /// Applies an uploaded license to the registered clusters it names: a
    /// fan-out operation, one call per cluster, each coordinator verifying.
    pub async fn apply_license(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<OperationView, ConsoleError> {
        let uploaded = match self.license_targets(id).await {
            Ok(uploaded) => uploaded,
            Err(error) => {
                let refused = Err(error);
                let record = Record::new(actor, "license.apply").detail(json!({ "license": id }));
                self.audited(record, &refused).await;
                return refused;
            }
        };
        let request = NewOperation {
            action: Action::ApplyLicense {
                license_id: id.to_string(),
            },
            targets: Targets::Clusters {
                names: uploaded.registered,
            },
            rollout: Rollout::default(),
        };
        self.create_operation(actor, request).await
    }

    /// An uploaded license that names at least one registered cluster.
    async fn license_targets(&self, id: &str) -> Result<UploadedLicense, ConsoleError> {
        let uploaded = self.uploaded(id).await?;
        if uploaded.registered.is_empty() {
            return Err(FieldError::new(
                "license",
                format!(
                    "license {id} names {}, none of them registered: expected at least one registered cluster",
                    uploaded.license.clusters.join(", ")
                ),
            )
            .into());
        }
        Ok(uploaded)
    }

    /// Every cluster's license with its alerts and capacity forecast, and
    /// the uploaded licenses.
    pub async fn license_dashboard(&self) -> Result<LicenseDashboard, ConsoleError> {
        let now = Utc::now();
        let mut rows = Vec::new();
        for view in self.list_clusters().await? {
            let status = view.status.license.clone();
            let alerts = status.as_ref().map(alerts).unwrap_or_default();
            let forecast = match status.as_ref().and_then(|s| s.capacity_limit_bytes) {
                Some(limit) => {
                    let points = self
                        .store
                        .series(
                            Scope::Cluster(view.cluster.name.clone()),
                            Metric::CapacityBytes,
                            now - Duration::days(TREND_WINDOW),
                            now,
                            96,
                        )
                        .await?;
                    reaches(&points, limit as f64, now, Duration::days(FORECAST_HORIZON))
                }
                None => None,
            };
            rows.push(LicenseRow {
                cluster: view.cluster.name,
                status,
                alerts,
                capacity_limit_reached_at: forecast,
            });
        }
        Ok(LicenseDashboard {
            rows,
            uploaded: self.uploaded_licenses().await?,
        })
    }

    /// The expiry chart: clusters still licensed, day by day ahead.
    pub async fn license_expiry_chart(&self) -> Result<String, ConsoleError> {
        let now = Utc::now();
        let views = self.list_clusters().await?;
        let statuses: Vec<&LicenseStatus> = views
            .iter()
            .filter_map(|v| v.status.license.as_ref())
            .collect();
        let points = licensed_over_time(&statuses, now);
        let to = points.last().map_or(now.timestamp_millis(), |p| p.0);
        let chart = Chart {
            title: "Clusters licensed, by day ahead (grace included)".to_string(),
            y_label: "clusters".to_string(),
            unit: Unit::Count,
            from_ms: now.timestamp_millis(),
            to_ms: std::cmp::max(to, now.timestamp_millis() + 86_400_000),
            series: vec![Series {
                name: "licensed".to_string(),
                points,
            }],
            width: 640,
            height: 240,
        };
        render_svg(&chart).map_err(ConsoleError::Chart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_api::license::{LicenseKind, LicenseSummary};

    fn status(state: LicenseState, days_left: i64) -> LicenseStatus {
        let now = Utc::now();
        LicenseStatus {
            state,
            message: "m".into(),
            cluster: "c".into(),
            license: Some(LicenseSummary {
                id: "L-1".into(),
                customer: "acme".into(),
                kind: LicenseKind::Cluster,
                clusters: vec!["c".into()],
                issued_at: now - Duration::days(300),
                expires_at: now + Duration::days(days_left),
                max_workers: Some(10),
                max_capacity_bytes: Some(1000),
                features: vec![],
            }),
            source: None,
            applied_at: None,
            days_left: Some(days_left),
            grace_ends_at: Some(now + Duration::days(days_left + 14)),
            grace_period_seconds: 14 * 86_400,
            workers_used: 3,
            workers_limit: Some(10),
            capacity_used_bytes: 100,
            capacity_limit_bytes: Some(1000),
            verification_key_configured: true,
            checked_at: now,
        }
    }

    #[test]
    fn alerts_name_expiry_limits_and_bad_licenses() {
        assert!(alerts(&status(LicenseState::Valid, 200)).is_empty());
        let soon = alerts(&status(LicenseState::Valid, 12));
        assert_eq!(soon.len(), 1);
        assert!(
            soon[0].starts_with("license expires in 12 days"),
            "{soon:?}"
        );
        let mut full = status(LicenseState::Valid, 200);
        full.workers_used = 10;
        full.capacity_used_bytes = 950;
        let full = alerts(&full);
        assert!(full[0].contains("10 of 10 licensed workers"), "{full:?}");
        assert!(
            full[1].contains("licensed capacity in use (95%)"),
            "{full:?}"
        );
        assert!(alerts(&status(LicenseState::Invalid, 100))[0].starts_with("license invalid"));
        assert!(alerts(&status(LicenseState::Grace, -3))[0].contains("grace period until"));
        assert!(alerts(&status(LicenseState::Expired, -30))[0].contains("new jobs are refused"));
        let mut none = status(LicenseState::Unlicensed, 0);
        none.license = None;
        none.workers_limit = None;
        none.capacity_limit_bytes = None;
        assert!(alerts(&none).is_empty());
    }

    #[test]
    fn the_forecast_follows_a_growing_line() {
        let now = DateTime::from_timestamp_millis(10 * 86_400_000).unwrap();
        let day = 86_400_000i64;
        // 100 bytes a day, 1000 now: 2000 is reached in 10 days.
        let points: Vec<(i64, f64)> = (0..=10).map(|d| (d * day, 100.0 * d as f64)).collect();
        let at = reaches(&points, 2000.0, now, Duration::days(365)).unwrap();
        assert_eq!((at - now).num_days(), 10);
        assert_eq!(reaches(&points, 2000.0, now, Duration::days(5)), None);
        let flat: Vec<(i64, f64)> = (0..10).map(|d| (d * day, 5.0)).collect();
        assert_eq!(reaches(&flat, 2000.0, now, Duration::days(365)), None);
        assert_eq!(reaches(&points, 500.0, now, Duration::days(365)), None);
        assert_eq!(
            reaches(&points[..1], 2000.0, now, Duration::days(365)),
            None
        );
    }

    #[test]
    fn the_licensed_line_steps_down_at_each_end_of_grace() {
        let now = Utc::now();
        let a = status(LicenseState::Valid, 10);
        let b = status(LicenseState::Valid, 40);
        let mut gone = status(LicenseState::Expired, -100);
        gone.grace_ends_at = Some(now - Duration::days(86));
        let line = licensed_over_time(&[&a, &b, &gone], now);
        assert_eq!(line[0].1, 2.0);
        assert_eq!(line[30].1, 1.0, "a's grace ends after day 24");
        assert_eq!(line.last().unwrap().1, 0.0);
    }
}
