//! The audit trail: every change made through the console or its API, who
//! asked, when, on which clusters, what was asked and how it ended. Entries
//! are append-only; nothing edits or deletes them. Here are the entry as
//! every side shows it, and the query the API and the page filter it by,
//! with the rules its values follow, so both refuse the same bad input.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// Entries one page shows when the query does not say.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most entries one page may ask for; export streams any number.
pub const MAX_LIMIT: u32 = 500;
/// Longest text a filter value may be.
const MAX_FILTER_LEN: usize = 256;

/// The actions the console records, as dotted names: the object, then what
/// was done to it. Other parts of the console add their own.
pub mod action {
    pub const CLUSTER_REGISTER: &str = "cluster.register";
    pub const CLUSTER_UPDATE: &str = "cluster.update";
    pub const CLUSTER_REMOVE: &str = "cluster.remove";
    pub const CLUSTER_REMOVE_STALE_WORKERS: &str = "cluster.remove_stale_workers";
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Grows with every entry recorded: the order of the trail, and the
    /// cursor `before` pages by.
    pub id: i64,
    /// When the change was recorded, in UTC, to the millisecond.
    pub at: DateTime<Utc>,
    /// Who asked, such as `local-admin`.
    pub actor: String,
    /// What was asked, such as `cluster.register`.
    pub action: String,
    /// The clusters it was asked of.
    pub targets: Vec<String>,
    /// A summary of what was asked. Secrets such as access tokens are
    /// never part of it: only `"[redacted]"` where one was given.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    pub result: AuditResult,
}

/// How a change ended: `{"status":"ok"}`, or
/// `{"status":"error","code":...,"message":...}` with the error the
/// caller was answered with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditResult {
    Ok,
    Error {
        /// The error code of the API's error envelope, such as `invalid_field`.
        code: String,
        message: String,
        /// The input field at fault, when one was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

impl AuditResult {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> AuditResult {
        AuditResult::Error {
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, AuditResult::Ok)
    }

    /// `ok`, or the error code: one word for a table cell.
    pub fn code(&self) -> &str {
        match self {
            AuditResult::Ok => "ok",
            AuditResult::Error { code, .. } => code,
        }
    }
}

/// Whether entries that succeeded or failed are wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error,
}

/// Which entries: every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Found in the action, actor, targets, detail or error,
    /// case-insensitively.
    pub text: Option<String>,
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Actions starting with this, such as `cluster.` or `cluster.remove`.
    pub action: Option<String>,
    /// Entries that name this cluster among their targets.
    pub cluster: Option<String>,
    pub outcome: Option<Outcome>,
    /// Recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// Which page of the newest-first listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Entries on the page, 1 to [`MAX_LIMIT`].
    pub limit: u32,
    /// Only entries older than this id: the previous page's `next_before`.
    pub before: Option<i64>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            before: None,
        }
    }
}

/// One page of entries, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next, older page; none when this page
    /// holds the oldest matching entry.
    pub next_before: Option<i64>,
}

/// The query of `GET /api/v1/audit` and `GET /api/v1/audit/export`, and of
/// the audit page's address, as typed: every value is text, read by
/// [`AuditQuery::filter`] and [`AuditQuery::page`] so that a bad one is
/// answered with its name and what is expected. Blank values are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Free text, found in the action, actor, targets, detail or error
    /// (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Exactly this actor, such as `local-admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Actions starting with this, such as `cluster.` or `cluster.register`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Entries whose targets include this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Entries recorded at or after this time: RFC 3339
    /// (`2026-01-31T12:00:00Z`), or a UTC date or date and time
    /// (`2026-01-31`, `2026-01-31T12:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Entries recorded before this time, in the forms `from` takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Entries per page, 1 to 500 (default 50). Not used by export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Only entries older than this id: a page's `next_before`. Not used
    /// by export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

/// A value that is not blank, trimmed.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn text(field: &str, value: &Option<String>) -> Result<Option<String>, FieldError> {
    match given(value) {
        Some(v) if v.chars().count() > MAX_FILTER_LEN => Err(FieldError::new(
            field,
            format!("{field} is too long: expected at most {MAX_FILTER_LEN} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(FieldError::new(
            field,
            format!("{field} has control characters: expected printable text"),
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// Reads a time as `from` and `to` take it: RFC 3339 with any offset, or a
/// date, or a date and time without offset, which are UTC.
pub fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, FieldError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(t.and_utc());
        }
    }
    if let Some(t) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    let shown: String = raw.chars().take(40).collect();
    Err(FieldError::new(
        field,
        format!(
            "{field} {shown:?} is not a time: expected RFC 3339 such as 2026-01-31T12:00:00Z, or a UTC date such as 2026-01-31 or 2026-01-31T12:00"
        ),
    ))
}

impl AuditQuery {
    /// The filter this query asks for, or the first value that breaks its
    /// rule.
    pub fn filter(&self) -> Result<AuditFilter, FieldError> {
        let outcome = match given(&self.result) {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("ok") => Some(Outcome::Ok),
            Some(v) if v.eq_ignore_ascii_case("error") => Some(Outcome::Error),
            Some(v) => {
                let shown: String = v.chars().take(40).collect();
                return Err(FieldError::new(
                    "result",
                    format!("result {shown:?} is not known: expected ok or error"),
                ));
            }
        };
        let from = given(&self.from)
            .map(|v| parse_time("from", v))
            .transpose()?;
        let to = given(&self.to).map(|v| parse_time("to", v)).transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(FieldError::new(
                "to",
                format!(
                    "to ({}) is not after from ({}): expected a later time",
                    to.to_rfc3339(),
                    from.to_rfc3339()
                ),
            ));
        }
        Ok(AuditFilter {
            text: text("q", &self.q)?,
            actor: text("actor", &self.actor)?,
            action: text("action", &self.action)?,
            cluster: text("cluster", &self.cluster)?,
            outcome,
            from,
            to,
        })
    }

    /// The page this query asks for, or the value that breaks its rule.
    pub fn page(&self) -> Result<PageRequest, FieldError> {
        let limit = match given(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    let shown: String = v.chars().take(40).collect();
                    return Err(FieldError::new(
                        "limit",
                        format!(
                            "limit {shown:?} is not a page size: expected a whole number from 1 to {MAX_LIMIT}"
                        ),
                    ));
                }
            },
        };
        let before = match given(&self.before) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    let shown: String = v.chars().take(40).collect();
                    return Err(FieldError::new(
                        "before",
                        format!(
                            "before {shown:?} is not an entry id: expected a whole number from 1, such as a page's next_before"
                        ),
                    ));
                }
            },
        };
        Ok(PageRequest { limit, before })
    }

    /// Reads the query from a page's address parameters.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> AuditQuery {
        AuditQuery {
            q: get("q"),
            actor: get("actor"),
            action: get("action"),
            cluster: get("cluster"),
            result: get("result"),
            from: get("from"),
            to: get("to"),
            limit: get("limit"),
            before: get("before"),
        }
    }

    /// The same query without its paging: what an export takes.
    pub fn without_paging(&self) -> AuditQuery {
        AuditQuery {
            limit: None,
            before: None,
            ..self.clone()
        }
    }

    /// The query as an address's query string (no leading `?`), leaving out
    /// blank values.
    pub fn to_query_string(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("q", &self.q),
            ("actor", &self.actor),
            ("action", &self.action),
            ("cluster", &self.cluster),
            ("result", &self.result),
            ("from", &self.from),
            ("to", &self.to),
            ("limit", &self.limit),
            ("before", &self.before),
        ] {
            if let Some(v) = given(value) {
                out.append_pair(key, v);
            }
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> AuditQuery {
        AuditQuery::from_params(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn an_empty_query_asks_for_everything_newest_first() {
        let q = query(&[]);
        assert_eq!(q.filter().unwrap(), AuditFilter::default());
        assert_eq!(q.page().unwrap(), PageRequest::default());
        let blank = query(&[("q", "  "), ("limit", ""), ("from", " ")]);
        assert_eq!(blank.filter().unwrap(), AuditFilter::default());
        assert_eq!(blank.page().unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn every_filter_is_read() {
        let q = query(&[
            ("q", " Token "),
            ("actor", "local-admin"),
            ("action", "cluster."),
            ("cluster", "alpha"),
            ("result", "ERROR"),
            ("from", "2026-01-31"),
            ("to", "2026-02-01T10:30:00+02:00"),
            ("limit", "500"),
            ("before", "42"),
        ]);
        let f = q.filter().unwrap();
        assert_eq!(f.text.as_deref(), Some("Token"));
        assert_eq!(f.actor.as_deref(), Some("local-admin"));
        assert_eq!(f.action.as_deref(), Some("cluster."));
        assert_eq!(f.cluster.as_deref(), Some("alpha"));
        assert_eq!(f.outcome, Some(Outcome::Error));
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-01-31T00:00:00+00:00");
        assert_eq!(f.to.unwrap().to_rfc3339(), "2026-02-01T08:30:00+00:00");
        assert_eq!(
            q.page().unwrap(),
            PageRequest {
                limit: 500,
                before: Some(42)
            }
        );
    }

    #[test]
    fn times_in_the_forms_a_form_sends() {
        for (raw, want) in [
            ("2026-01-31T12:00", "2026-01-31T12:00:00+00:00"),
            ("2026-01-31T12:00:05", "2026-01-31T12:00:05+00:00"),
            ("2026-01-31T12:00:05.250", "2026-01-31T12:00:05.250+00:00"),
            ("2026-01-31 12:00:05", "2026-01-31T12:00:05+00:00"),
            ("2026-01-31T12:00:05Z", "2026-01-31T12:00:05+00:00"),
        ] {
            assert_eq!(parse_time("from", raw).unwrap().to_rfc3339(), want, "{raw}");
        }
    }

    #[test]
    fn bad_values_name_their_field_and_what_is_expected() {
        for (pairs, field, expected) in [
            (vec![("limit", "0")], "limit", "from 1 to 500"),
            (vec![("limit", "501")], "limit", "from 1 to 500"),
            (vec![("limit", "ten")], "limit", "whole number"),
            (vec![("before", "-3")], "before", "whole number from 1"),
            (vec![("before", "x")], "before", "next_before"),
            (vec![("from", "yesterday")], "from", "RFC 3339"),
            (vec![("to", "2026-13-01")], "to", "RFC 3339"),
            (
                vec![("from", "2026-02-01"), ("to", "2026-01-01")],
                "to",
                "later time",
            ),
            (vec![("result", "maybe")], "result", "ok or error"),
            (vec![("actor", "a\u{7}b")], "actor", "printable"),
        ] {
            let q = query(&pairs);
            let err = q.filter().and(q.page().map(|_| AuditFilter::default()));
            let err = err.unwrap_err();
            assert_eq!(err.field, field, "{pairs:?}");
            assert!(err.message.contains(expected), "{pairs:?}: {}", err.message);
        }
        let long = "x".repeat(MAX_FILTER_LEN + 1);
        let err = query(&[("q", &long)]).filter().unwrap_err();
        assert_eq!(err.field, "q");
        assert!(err.message.contains("at most 256"), "{}", err.message);
    }

    #[test]
    fn the_query_string_round_trips_without_blanks() {
        let q = query(&[
            ("q", "a b&c"),
            ("cluster", "alpha"),
            ("limit", ""),
            ("before", "7"),
        ]);
        assert_eq!(q.to_query_string(), "q=a+b%26c&cluster=alpha&before=7");
        assert_eq!(
            q.without_paging().to_query_string(),
            "q=a+b%26c&cluster=alpha"
        );
        let parsed: Vec<(String, String)> =
            url::form_urlencoded::parse(q.to_query_string().as_bytes())
                .into_owned()
                .collect();
        assert_eq!(parsed[0], ("q".to_string(), "a b&c".to_string()));
        assert_eq!(AuditQuery::default().to_query_string(), "");
    }

    #[test]
    fn results_serialize_tagged_by_status() {
        assert_eq!(
            serde_json::to_value(AuditResult::Ok).unwrap(),
            serde_json::json!({"status": "ok"})
        );
        let err = AuditResult::Error {
            code: "invalid_field".into(),
            message: "bad".into(),
            field: Some("name".into()),
        };
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({"status": "error", "code": "invalid_field", "message": "bad", "field": "name"})
        );
        assert_eq!(err.code(), "invalid_field");
        assert!(!err.is_ok() && AuditResult::Ok.is_ok());
    }
}
