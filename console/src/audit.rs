//! The audit trail in the console's store: every change made through the
//! console or its API, recorded append-only.
//!
//! [`AuditLog`] has three operations and no others: [`AuditLog::record`]
//! appends an entry, [`AuditLog::search`] pages through entries newest
//! first, and [`AuditLog::export`] streams them oldest first. Nothing in the
//! console edits or deletes an entry, and the database refuses it too:
//! triggers on `audit_log` and `audit_targets` reject every `UPDATE` and
//! `DELETE` (and `TRUNCATE` on PostgreSQL), whoever sends them.
//!
//! Secrets never reach the table: [`AuditLog::record`] runs every detail
//! through [`redact`] (values under secret-sounding keys such as
//! `access_token` become `"[redacted]"`, credentials in URLs are cut out,
//! long strings are shortened) and strips URL credentials from error
//! messages.
//!
//! Code that changes something records it with [`crate::AppState::audit`]
//! (see there); the cluster operations in `state` show the pattern: build a
//! [`Record`] before acting, then record it with the outcome, success or
//! failure alike.
//!
//! Entries have the targets they name in a second table, `audit_targets`
//! (cluster, entry id), so "what happened to this cluster" is an index
//! lookup rather than a search through every entry's text.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use ringside_api::{
    ClusterPatch, NewCluster,
    audit::{AuditEntry, AuditFilter, AuditPage, AuditResult, Outcome, PageRequest},
};
use sea_query::{Cond, Expr, ExprTrait, Func, Iden, LikeExpr, Order, Query, SelectStatement};
use sea_query_sqlx::SqlxBinder;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row};

use crate::{
    Actor, ConsoleError,
    store::{Store, StoreError, fetch_rows, on_backend},
};

/// What stands in for a secret in an entry's detail.
pub const REDACTED: &str = "[redacted]";

/// Strings in a detail longer than this many characters are shortened to
/// their start and their length: a detail summarizes what was asked, it
/// does not archive it (a CA certificate can be 64 KiB).
const MAX_STRING_CHARS: usize = 512;
const KEPT_CHARS: usize = 120;

/// Entries an export reads from the database at a time: its memory bound.
const EXPORT_BATCH: u64 = 500;

/// Target rows one statement inserts, well under SQLite's bound-parameter
/// limit.
const TARGETS_PER_INSERT: usize = 1_000;

#[derive(Iden, Clone, Copy)]
enum AuditLogTable {
    #[iden = "audit_log"]
    Table,
    Id,
    AtMs,
    Actor,
    Action,
    Targets,
    Detail,
    ResultCode,
    ResultMessage,
    ResultField,
}

#[derive(Iden)]
enum AuditTargets {
    Table,
    Cluster,
    EntryId,
}

const COLUMNS: [AuditLogTable; 9] = [
    AuditLogTable::Id,
    AuditLogTable::AtMs,
    AuditLogTable::Actor,
    AuditLogTable::Action,
    AuditLogTable::Targets,
    AuditLogTable::Detail,
    AuditLogTable::ResultCode,
    AuditLogTable::ResultMessage,
    AuditLogTable::ResultField,
];

/// An entry about to be recorded: who asked for what, of which clusters,
/// and how it ended. Build it before acting, then give it the outcome:
///
/// ```ignore
/// let record = Record::new(&actor, "operation.create")
///     .targets(names.iter().cloned())
///     .detail(json!({"kind": "load", "path": path}));
/// let outcome = do_it().await;
/// state.audit(record.outcome(&outcome)).await?;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub actor: String,
    pub action: String,
    pub targets: Vec<String>,
    pub detail: Value,
    pub result: AuditResult,
}

impl Record {
    /// `action` is a dotted name such as `cluster.register`; the record
    /// starts with no targets, an empty detail and an `ok` result.
    pub fn new(actor: &Actor, action: &str) -> Record {
        Record {
            actor: actor.name().to_string(),
            action: action.to_string(),
            targets: Vec::new(),
            detail: json!({}),
            result: AuditResult::Ok,
        }
    }

    pub fn target(mut self, cluster: impl Into<String>) -> Record {
        self.targets.push(cluster.into());
        self
    }

    pub fn targets(mut self, clusters: impl IntoIterator<Item = String>) -> Record {
        self.targets.extend(clusters);
        self
    }

    /// What was asked. It is redacted when recorded, but leave secrets out
    /// in the first place where you can.
    pub fn detail(mut self, detail: Value) -> Record {
        self.detail = detail;
        self
    }

    pub fn result(mut self, result: AuditResult) -> Record {
        self.result = result;
        self
    }

    /// Ok, or the error as the API answers it (code, message, field).
    pub fn outcome<T>(self, outcome: &Result<T, ConsoleError>) -> Record {
        let result = match outcome {
            Ok(_) => AuditResult::Ok,
            Err(error) => result_of(error),
        };
        self.result(result)
    }

    /// Refused with the error code and message the caller was answered
    /// with, such as a request body that could not be read.
    pub fn refused(self, code: &str, message: &str, field: Option<&str>) -> Record {
        self.result(AuditResult::Error {
            code: code.to_string(),
            message: message.to_string(),
            field: field.map(str::to_string),
        })
    }
}

/// A console error as the audit trail records it: the code, message and
/// field the API answers it with.
pub fn result_of(error: &ConsoleError) -> AuditResult {
    let answer = ringside_api::http::ApiError::from(error).body.error;
    AuditResult::Error {
        code: answer.code,
        message: answer.message,
        field: answer.field,
    }
}

/// The detail of `cluster.register`: the request as given, the access
/// token redacted and a CA certificate summarized.
pub fn new_cluster_detail(new: &NewCluster) -> Value {
    let mut detail = json!({
        "name": new.name,
        "coordinator_url": new.coordinator_url,
        "region": new.region,
        "labels": new.labels,
    });
    if let Some(token) = &new.access_token {
        detail["access_token"] = secret_given(Some(token));
    }
    if let Some(pem) = &new.ca_certificate {
        detail["ca_certificate"] = json!(certificate_summary(pem));
    }
    detail
}

/// The detail of `cluster.update`: the fields the patch gives, the access
/// token redacted (`""` when it removes the token) and a CA certificate
/// summarized.
pub fn cluster_patch_detail(patch: &ClusterPatch) -> Value {
    let mut detail = serde_json::Map::new();
    if let Some(url) = &patch.coordinator_url {
        detail.insert("coordinator_url".into(), json!(url));
    }
    if let Some(labels) = &patch.labels {
        detail.insert("labels".into(), json!(labels));
    }
    if let Some(region) = &patch.region {
        detail.insert("region".into(), json!(region));
    }
    if let Some(token) = &patch.access_token {
        detail.insert("access_token".into(), secret_given(Some(token)));
    }
    if let Some(pem) = &patch.ca_certificate {
        detail.insert("ca_certificate".into(), json!(certificate_summary(pem)));
    }
    Value::Object(detail)
}

/// A secret as a detail shows it: `"[redacted]"` when one was given, `""`
/// when it was blank (which removes it), null when left out.
fn secret_given(secret: Option<&str>) -> Value {
    match secret {
        None => Value::Null,
        Some(s) if s.trim().is_empty() => json!(""),
        Some(_) => json!(REDACTED),
    }
}

fn certificate_summary(pem: &str) -> String {
    if pem.trim().is_empty() {
        String::new()
    } else {
        format!("[PEM, {} bytes]", pem.len())
    }
}

/// Whether a detail's key names a secret: its value is never stored.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    [
        "token",
        "secret",
        "password",
        "passwd",
        "authorization",
        "api_key",
        "apikey",
        "private_key",
        "credential",
        "cookie",
        "sealed",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// A detail made safe to store: values under secret keys (see
/// [`is_secret_key`]) replaced by `"[redacted]"`, unless they are null,
/// `false`/`true` or blank, which say whether a secret was given without
/// giving it; credentials cut out of URLs anywhere; long strings shortened.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if is_secret_key(&key) {
                        match value {
                            Value::Null | Value::Bool(_) => value,
                            Value::String(s) if s.trim().is_empty() || s == REDACTED => {
                                Value::String(s)
                            }
                            _ => json!(REDACTED),
                        }
                    } else {
                        redact(value)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::String(s) => Value::String(shorten(&strip_url_credentials(&s)).into_owned()),
        other => other,
    }
}

fn shorten(s: &str) -> Cow<'_, str> {
    if s.chars().count() <= MAX_STRING_CHARS {
        return Cow::Borrowed(s);
    }
    let head: String = s.chars().take(KEPT_CHARS).collect();
    Cow::Owned(format!("{head}… [{} bytes]", s.len()))
}

/// `https://user:pass@host/x` anywhere in `text` becomes
/// `https://[redacted]@host/x`: the API refuses URLs with credentials, and
/// its error message quotes the URL it refused.
pub fn strip_url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`' | '\\')
                    || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(sign) => {
                out.push_str(REDACTED);
                out.push_str(&authority[sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The console's audit trail: append, search, export; nothing else.
#[derive(Clone, Debug)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    pub fn new(store: Store) -> AuditLog {
        AuditLog { store }
    }

    /// Appends an entry, redacted, stamped with the time now; answers it as
    /// stored, with its id.
    pub async fn record(&self, record: Record) -> Result<AuditEntry, StoreError> {
        self.record_at(record, Utc::now()).await
    }

    /// Appends an entry stamped `at`: [`AuditLog::record`], for tests that
    /// need entries spread over time.
    pub async fn record_at(
        &self,
        record: Record,
        at: DateTime<Utc>,
    ) -> Result<AuditEntry, StoreError> {
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let mut targets: Vec<String> = Vec::with_capacity(record.targets.len());
        for target in record.targets {
            let target = target.trim().to_string();
            if !target.is_empty() && !targets.contains(&target) {
                targets.push(target);
            }
        }
        let detail = redact(record.detail);
        let result = match record.result {
            AuditResult::Ok => AuditResult::Ok,
            AuditResult::Error {
                code,
                message,
                field,
            } => AuditResult::Error {
                code,
                message: shorten(&strip_url_credentials(&message)).into_owned(),
                field,
            },
        };
        let (message, field) = match &result {
            AuditResult::Ok => (None, None),
            AuditResult::Error { message, field, .. } => (Some(message.clone()), field.clone()),
        };
        let insert = Query::insert()
            .into_table(AuditLogTable::Table)
            .columns(COLUMNS[1..].iter().copied())
            .values_panic([
                at.timestamp_millis().into(),
                record.actor.clone().into(),
                record.action.clone().into(),
                to_json(&targets)?.into(),
                to_json(&detail)?.into(),
                result.code().to_string().into(),
                message.into(),
                field.into(),
            ])
            .returning_col(AuditLogTable::Id)
            .to_owned();
        let id: i64 = on_backend!(&self.store, |pool, builder| {
            let mut tx = pool.begin().await?;
            let (sql, values) = insert.build_sqlx(another(&builder));
            let (id,): (i64,) = sqlx::query_as_with(AssertSqlSafe(sql), values)
                .fetch_one(&mut *tx)
                .await?;
            for chunk in targets.chunks(TARGETS_PER_INSERT) {
                let mut rows = Query::insert();
                rows.into_table(AuditTargets::Table)
                    .columns([AuditTargets::Cluster, AuditTargets::EntryId]);
                for cluster in chunk {
                    rows.values_panic([cluster.clone().into(), id.into()]);
                }
                let (sql, values) = rows.build_sqlx(another(&builder));
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            id
        });
        Ok(AuditEntry {
            id,
            at,
            actor: record.actor,
            action: record.action,
            targets,
            detail,
            result,
        })
    }

    /// One page of the entries `filter` matches, newest first.
    pub async fn search(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<AuditPage, StoreError> {
        let limit = page.limit.clamp(1, ringside_api::audit::MAX_LIMIT);
        let mut query = select(filter);
        query
            .order_by(AuditLogTable::Id, Order::Desc)
            .limit(u64::from(limit) + 1);
        if let Some(before) = page.before {
            query.and_where(Expr::col(AuditLogTable::Id).lt(before));
        }
        let mut entries = self.fetch(&query).await?;
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        Ok(AuditPage {
            next_before: more.then(|| entries.last().map(|e| e.id)).flatten(),
            entries,
        })
    }

    /// Every entry `filter` matches, oldest first, read from the database a
    /// batch at a time as the stream is consumed: an export of a million
    /// entries holds one batch in memory and no connection between batches.
    pub fn export(
        &self,
        filter: AuditFilter,
    ) -> impl Stream<Item = Result<AuditEntry, StoreError>> + Send + 'static {
        let log = self.clone();
        futures::stream::try_unfold(Some(0i64), move |after| {
            let (log, filter) = (log.clone(), filter.clone());
            async move {
                let Some(after) = after else {
                    return Ok::<_, StoreError>(None);
                };
                let mut query = select(&filter);
                query
                    .and_where(Expr::col(AuditLogTable::Id).gt(after))
                    .order_by(AuditLogTable::Id, Order::Asc)
                    .limit(EXPORT_BATCH);
                let batch = log.fetch(&query).await?;
                if batch.is_empty() {
                    return Ok(None);
                }
                let next = (batch.len() as u64 == EXPORT_BATCH)
                    .then(|| batch.last().map(|e| e.id))
                    .flatten();
                Ok(Some((
                    futures::stream::iter(batch.into_iter().map(Ok)),
                    next,
                )))
            }
        })
        .try_flatten()
        .boxed()
    }

    async fn fetch(&self, query: &SelectStatement) -> Result<Vec<AuditEntry>, StoreError> {
        fetch_rows!(&self.store, query, |row| {
            let id: i64 = row.try_get("id")?;
            let millis: i64 = row.try_get("at_ms")?;
            let targets: String = row.try_get("targets")?;
            let detail: String = row.try_get("detail")?;
            let code: String = row.try_get("result_code")?;
            let corrupt = |what: &str, e: serde_json::Error| {
                StoreError::Corrupt(format!("audit entry {id}: {what}: {e}"))
            };
            Ok(AuditEntry {
                id,
                at: DateTime::from_timestamp_millis(millis).ok_or_else(|| {
                    StoreError::Corrupt(format!("audit entry {id}: time {millis}"))
                })?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                targets: serde_json::from_str(&targets).map_err(|e| corrupt("targets", e))?,
                detail: serde_json::from_str(&detail).map_err(|e| corrupt("detail", e))?,
                result: if code == "ok" {
                    AuditResult::Ok
                } else {
                    AuditResult::Error {
                        code,
                        message: row
                            .try_get::<Option<String>, _>("result_message")?
                            .unwrap_or_default(),
                        field: row.try_get("result_field")?,
                    }
                },
            })
        })
    }
}

/// `%text%` for LIKE, with the pattern characters in `text` escaped by `!`.
fn contains_pattern(text: &str) -> String {
    format!("%{}%", escape_like(text))
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// `lower(column) LIKE pattern ESCAPE '!'`, the same on both backends
/// (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
fn lower_like(column: AuditLogTable, pattern: String) -> Expr {
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('!'))
}

/// The entries `filter` matches, every column, unordered.
fn select(filter: &AuditFilter) -> SelectStatement {
    let mut query = Query::select();
    query.columns(COLUMNS).from(AuditLogTable::Table);
    if let Some(text) = &filter.text {
        let pattern = contains_pattern(&text.to_lowercase());
        let mut any = Cond::any();
        for column in [
            AuditLogTable::Action,
            AuditLogTable::Actor,
            AuditLogTable::Targets,
            AuditLogTable::Detail,
            AuditLogTable::ResultCode,
            AuditLogTable::ResultMessage,
        ] {
            any = any.add(lower_like(column, pattern.clone()));
        }
        query.cond_where(any);
    }
    if let Some(actor) = &filter.actor {
        query.and_where(Expr::col(AuditLogTable::Actor).eq(actor.as_str()));
    }
    if let Some(action) = &filter.action {
        let pattern = format!("{}%", escape_like(&action.to_lowercase()));
        query.and_where(lower_like(AuditLogTable::Action, pattern));
    }
    if let Some(cluster) = &filter.cluster {
        query.and_where(
            Expr::col(AuditLogTable::Id).in_subquery(
                Query::select()
                    .column(AuditTargets::EntryId)
                    .from(AuditTargets::Table)
                    .and_where(Expr::col(AuditTargets::Cluster).eq(cluster.as_str()))
                    .to_owned(),
            ),
        );
    }
    match filter.outcome {
        None => {}
        Some(Outcome::Ok) => {
            query.and_where(Expr::col(AuditLogTable::ResultCode).eq("ok"));
        }
        Some(Outcome::Error) => {
            query.and_where(Expr::col(AuditLogTable::ResultCode).ne("ok"));
        }
    }
    if let Some(from) = filter.from {
        query.and_where(Expr::col(AuditLogTable::AtMs).gte(from.timestamp_millis()));
    }
    if let Some(to) = filter.to {
        query.and_where(Expr::col(AuditLogTable::AtMs).lt(to.timestamp_millis()));
    }
    query
}

/// A second query builder of the backend's kind, for a body that builds
/// more than one statement.
fn another<B: Default>(_builder: &B) -> B {
    B::default()
}

/// JSON text for a column.
fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_absence_is_kept() {
        let detail = json!({
            "name": "alpha",
            "access_token": "tok-s3cr3t",
            "nested": {"Api-Key": 12345, "password": ["a", "b"], "note": "fine"},
            "steps": [{"bearer_token": "xyz"}, {"client_secret": {"v": 1}}],
            "refresh_token": "",
            "session_cookie": null,
            "has_access_token": true,
        });
        let redacted = redact(detail);
        assert_eq!(
            redacted,
            json!({
                "name": "alpha",
                "access_token": REDACTED,
                "nested": {"Api-Key": REDACTED, "password": REDACTED, "note": "fine"},
                "steps": [{"bearer_token": REDACTED}, {"client_secret": REDACTED}],
                "refresh_token": "",
                "session_cookie": null,
                "has_access_token": true,
            })
        );
        assert!(!redacted.to_string().contains("s3cr3t"));
    }

    #[test]
    fn url_credentials_are_cut_out_wherever_they_are() {
        for (text, want) in [
            (
                "http://bob:hunter2@10.0.0.5:19999/x",
                "http://[redacted]@10.0.0.5:19999/x",
            ),
            (
                "\"https://tok@h\" carries credentials",
                "\"https://[redacted]@h\" carries credentials",
            ),
            (
                "a http://u:p@a:1 and https://b/c?x=y@z and s3://k:s@bucket",
                "a http://[redacted]@a:1 and https://b/c?x=y@z and s3://[redacted]@bucket",
            ),
            (
                "no url here, mail@example.com",
                "no url here, mail@example.com",
            ),
            ("http://plain:19999", "http://plain:19999"),
        ] {
            assert_eq!(strip_url_credentials(text), want, "{text}");
        }
        assert_eq!(
            redact(json!({"coordinator_url": "http://u:pw@h:1"})),
            json!({"coordinator_url": "http://[redacted]@h:1"})
        );
    }

    #[test]
    fn long_strings_are_shortened_to_their_start_and_length() {
        let long = "x".repeat(10_000);
        let Value::String(short) = redact(json!(long)) else {
            panic!("a string stays a string");
        };
        assert!(short.starts_with(&"x".repeat(KEPT_CHARS)));
        assert!(short.ends_with("… [10000 bytes]"), "{short}");
        assert_eq!(redact(json!("short")), json!("short"));
    }

    #[test]
    fn cluster_details_say_what_was_asked_without_secrets() {
        let new = NewCluster {
            name: "alpha".into(),
            coordinator_url: "http://h:1".into(),
            access_token: Some("tok-s3cr3t".into()),
            ca_certificate: Some("-----BEGIN CERTIFICATE-----\nAAAA\n".into()),
            ..NewCluster::default()
        };
        let detail = new_cluster_detail(&new);
        assert_eq!(detail["access_token"], REDACTED);
        assert_eq!(detail["ca_certificate"], "[PEM, 33 bytes]");
        assert_eq!(detail["coordinator_url"], "http://h:1");
        assert!(!detail.to_string().contains("s3cr3t"));
        let plain = new_cluster_detail(&NewCluster {
            name: "beta".into(),
            ..NewCluster::default()
        });
        assert_eq!(
            plain,
            json!({"name": "beta", "coordinator_url": "", "region": "", "labels": {}}),
            "what was not given is left out"
        );

        let patch = ClusterPatch {
            region: Some("us-east-1".into()),
            access_token: Some(String::new()),
            ..ClusterPatch::default()
        };
        assert_eq!(
            cluster_patch_detail(&patch),
            json!({"region": "us-east-1", "access_token": ""}),
            "only the fields given; a blank token says it was removed"
        );
        let patch = ClusterPatch {
            access_token: Some("new-secret".into()),
            ..ClusterPatch::default()
        };
        assert_eq!(
            cluster_patch_detail(&patch),
            json!({"access_token": REDACTED})
        );
    }

    #[test]
    fn like_patterns_match_their_text_literally() {
        assert_eq!(contains_pattern("50%_off!"), "%50!%!_off!!%");
        assert_eq!(escape_like("cluster."), "cluster.");
    }
}
