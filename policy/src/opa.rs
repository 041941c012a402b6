//! The external backend: an OPA server asked over its REST Data API.
//!
//! `POST {url}/v1/data/{decision_path}?provenance=true` with `{"input": ...}`;
//! OPA answers `{"result": true|false}`, plus the revisions of its bundles
//! under `provenance`. Anything else — no answer in time, an HTTP error, a
//! body that is not JSON, a missing or non-boolean result — denies, and the
//! decision says why: the console fails closed.

use std::time::Duration;

use serde::Serialize;

use crate::{Decision, Input, OpaConfig, PolicyError};

/// The revision of decisions when OPA reports no bundle revision.
const UNVERSIONED: &str = "opa";

/// How much of an error body goes into the reason: enough to recognise
/// OPA's own error, not enough to flood the decision log.
const BODY_EXCERPT: usize = 200;

pub(crate) struct Opa {
    client: reqwest::Client,
    decision_url: String,
    decision_path: String,
    timeout: Duration,
}

#[derive(Serialize)]
struct Request<'a> {
    input: &'a Input,
}

impl Opa {
    pub(crate) fn new(config: &OpaConfig) -> Result<Self, PolicyError> {
        let invalid = |message: String| PolicyError::OpaConfig {
            url: config.url.clone(),
            message,
        };
        let base = reqwest::Url::parse(&config.url).map_err(|err| invalid(err.to_string()))?;
        // This build of reqwest has no TLS; an https URL would fail on every
        // request, so refuse it at start instead.
        if base.scheme() != "http" {
            return Err(invalid(format!(
                "scheme {} is not supported, only http",
                base.scheme()
            )));
        }
        let decision_path = config.decision_path.trim_matches('/').to_owned();
        if decision_path.is_empty() {
            return Err(invalid("the decision path is empty".to_owned()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|err| invalid(err.to_string()))?;
        Ok(Opa {
            client,
            decision_url: format!(
                "{}/v1/data/{decision_path}",
                config.url.trim_end_matches('/')
            ),
            decision_path,
            timeout: config.timeout,
        })
    }

    pub(crate) fn decision_url(&self) -> &str {
        &self.decision_url
    }

    pub(crate) async fn decide(&self, input: &Input) -> Decision {
        match self.ask(input).await {
            Ok((allow, revision)) => Decision {
                allow,
                revision,
                reason: None,
            },
            Err(err) => {
                tracing::warn!(url = %self.decision_url, error = %err, "opa decision failed, denying");
                Decision::deny(UNVERSIONED.to_owned(), err)
            }
        }
    }

    async fn ask(&self, input: &Input) -> Result<(bool, String), PolicyError> {
        let transport = |err: reqwest::Error| {
            if err.is_timeout() {
                PolicyError::OpaTimeout {
                    url: self.decision_url.clone(),
                    timeout: self.timeout,
                }
            } else {
                PolicyError::OpaUnreachable {
                    url: self.decision_url.clone(),
                    message: error_chain(&err),
                }
            }
        };
        let response = self
            .client
            .post(&self.decision_url)
            .query(&[("provenance", "true")])
            .json(&Request { input })
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&body);
            return Err(PolicyError::OpaStatus {
                url: self.decision_url.clone(),
                status: status.as_u16(),
                body: text.chars().take(BODY_EXCERPT).collect(),
            });
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&body).map_err(|err| PolicyError::OpaBody {
                url: self.decision_url.clone(),
                message: err.to_string(),
            })?;
        match answer.get("result") {
            Some(serde_json::Value::Bool(allow)) => Ok((*allow, revision(&answer))),
            other => Err(PolicyError::NotBoolean {
                query: self.decision_path.clone(),
                got: other.map_or_else(|| "undefined".to_owned(), ToString::to_string),
            }),
        }
    }
}

/// `opa:name@rev,...` from the bundle revisions OPA reports, so the decision
/// log says which bundle decided; `opa` when it reports none.
fn revision(answer: &serde_json::Value) -> String {
    let provenance = &answer["provenance"];
    let mut revisions: Vec<String> = provenance["bundles"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, bundle)| Some(format!("{name}@{}", bundle["revision"].as_str()?)))
        .collect();
    if revisions.is_empty()
        && let Some(legacy) = provenance["revision"].as_str()
    {
        revisions.push(legacy.to_owned());
    }
    if revisions.is_empty() {
        UNVERSIONED.to_owned()
    } else {
        format!("{UNVERSIONED}:{}", revisions.join(","))
    }
}

/// reqwest's top-level message is often just "error sending request"; the
/// cause (connection refused, ...) is what an operator needs.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::embedded::SHIPPED_POLICY;
    use crate::matrix::cells;
    use crate::{Action, Resource};

    /// How the test server answers, beyond OPA's normal behaviour.
    #[derive(Clone, Copy)]
    enum Serve {
        /// Like OPA with the shipped policy loaded as bundle `authz` at
        /// revision `r7`: the decision for a known rule, `{}` for an unknown
        /// document.
        Policy,
        /// OPA's answer to an internal error.
        Error,
        /// An answer that comes after the client's timeout.
        Slow,
        /// A decision document that is not a boolean.
        NotBoolean,
        /// A body that is not JSON.
        Garbage,
    }

    /// A minimal HTTP/1.1 server implementing OPA's Data API contract
    /// (`POST /v1/data/{path}` with `{"input": ...}`), evaluating with regorus
    /// what a real OPA would evaluate. OPA itself cannot be installed here.
    async fn opa_server(serve: Serve) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, serve));
            }
        });
        url
    }

    async fn answer(mut stream: TcpStream, serve: Serve) {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        let (head_len, body_len) = loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            request.extend_from_slice(&buf[..n]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                break (end + 4, len);
            }
        };
        while request.len() < head_len + body_len {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&request[..head_len]).into_owned();
        let target = head.split_whitespace().nth(1).unwrap().to_owned();
        let body: serde_json::Value = serde_json::from_slice(&request[head_len..]).unwrap();

        let (status, reply) = match serve {
            Serve::Policy => (200, evaluate(&target, &body["input"])),
            Serve::Error => (
                500,
                r#"{"code":"internal_error","message":"eval_conflict_error: complete rules must not produce multiple outputs"}"#
                    .to_owned(),
            ),
            Serve::Slow => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                (200, r#"{"result":true}"#.to_owned())
            }
            Serve::NotBoolean => (200, r#"{"result":{"allow":true}}"#.to_owned()),
            Serve::Garbage => (200, "<html>proxy error</html>".to_owned()),
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
    }

    fn evaluate(target: &str, input: &serde_json::Value) -> String {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let rule = path.strip_prefix("/v1/data/").unwrap().replace('/', ".");
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("ringside.rego".into(), SHIPPED_POLICY.into())
            .unwrap();
        engine.set_input(regorus::Value::from(input.clone()));
        let mut reply = match engine.eval_rule(format!("data.{rule}")) {
            Ok(value) if value != regorus::Value::Undefined => {
                serde_json::json!({"result": serde_json::to_value(&value).unwrap()})
            }
            _ => serde_json::json!({}),
        };
        if query.contains("provenance=true") {
            reply["provenance"] =
                serde_json::json!({"version": "1.0.0", "bundles": {"authz": {"revision": "r7"}}});
        }
        reply.to_string()
    }

    fn opa(url: &str) -> Opa {
        Opa::new(&OpaConfig {
            url: url.to_owned(),
            decision_path: "ringside/authz/allow".into(),
            timeout: Duration::from_millis(300),
        })
        .unwrap()
    }

    fn admin_update(group: &str) -> Input {
        Input::new(
            "alice",
            vec!["payments".into()],
            vec!["admin".into()],
            Action::ClusterUpdate,
            Resource::new("cluster").on_cluster("eu-1").in_group(group),
        )
    }

    #[tokio::test]
    async fn allows_and_denies_as_opa_decides() {
        let backend = opa(&opa_server(Serve::Policy).await);
        let allowed = backend.decide(&admin_update("payments")).await;
        assert_eq!(
            allowed,
            Decision {
                allow: true,
                revision: "opa:authz@r7".into(),
                reason: None
            }
        );
        let denied = backend.decide(&admin_update("search")).await;
        assert!(!denied.allow);
        assert_eq!(denied.reason, None);
        assert!(!backend.decide(&Input::default()).await.allow);
    }

    #[tokio::test]
    async fn authorization_matrix_through_opa() {
        let backend = opa(&opa_server(Serve::Policy).await);
        let mut wrong = Vec::new();
        for (who, action, input, allowed) in cells() {
            let decision = backend.decide(&input).await;
            assert_eq!(decision.reason, None, "{who:?} {action}");
            if decision.allow != allowed {
                wrong.push(format!("{who:?} {action}: got {}", decision.allow));
            }
        }
        assert!(wrong.is_empty(), "wrong decisions:\n{}", wrong.join("\n"));
    }

    #[tokio::test]
    async fn missing_result_denies() {
        let url = opa_server(Serve::Policy).await;
        let backend = Opa::new(&OpaConfig {
            decision_path: "/ringside/authz/permit/".into(),
            ..OpaConfig::new(url.clone())
        })
        .unwrap();
        let decision = backend.decide(&admin_update("payments")).await;
        assert!(!decision.allow);
        assert_eq!(
            decision.reason.as_deref(),
            Some("policy query ringside/authz/permit yielded undefined, expected true or false")
        );
    }

    #[tokio::test]
    async fn non_boolean_result_denies() {
        let decision = opa(&opa_server(Serve::NotBoolean).await)
            .decide(&admin_update("payments"))
            .await;
        assert!(!decision.allow);
        let reason = decision.reason.unwrap();
        assert!(reason.contains(r#"yielded {"allow":true}"#), "{reason}");
    }

    #[tokio::test]
    async fn error_status_denies_with_opas_message() {
        let decision = opa(&opa_server(Serve::Error).await)
            .decide(&admin_update("payments"))
            .await;
        assert!(!decision.allow);
        assert_eq!(decision.revision, "opa");
        let reason = decision.reason.unwrap();
        assert!(reason.contains("answered http 500"), "{reason}");
        assert!(reason.contains("eval_conflict_error"), "{reason}");
    }

    #[tokio::test]
    async fn body_that_is_not_json_denies() {
        let decision = opa(&opa_server(Serve::Garbage).await)
            .decide(&admin_update("payments"))
            .await;
        assert!(!decision.allow);
        assert!(decision.reason.unwrap().contains("not json"));
    }

    #[tokio::test]
    async fn timeout_denies() {
        let backend = opa(&opa_server(Serve::Slow).await);
        let started = std::time::Instant::now();
        let decision = backend.decide(&admin_update("payments")).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(!decision.allow);
        let reason = decision.reason.unwrap();
        assert!(reason.contains("did not answer within 300ms"), "{reason}");
    }

    #[tokio::test]
    async fn unreachable_server_denies() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let decision = opa(&url).decide(&admin_update("payments")).await;
        assert!(!decision.allow);
        let reason = decision.reason.unwrap();
        assert!(
            reason.starts_with(&format!(
                "opa request to {url}/v1/data/ringside/authz/allow failed"
            )),
            "{reason}"
        );
    }

    #[test]
    fn unusable_configuration_is_refused() {
        for url in [
            "https://opa.example:8181",
            "not a url",
            "unix:///run/opa.sock",
        ] {
            let err = Opa::new(&OpaConfig::new(url)).err().unwrap();
            assert!(
                matches!(err, PolicyError::OpaConfig { .. }),
                "{url}: {err:?}"
            );
            assert!(err.to_string().contains("expected an http url"), "{err}");
        }
        let err = Opa::new(&OpaConfig {
            decision_path: "/".into(),
            ..OpaConfig::new("http://127.0.0.1:8181")
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("decision path is empty"), "{err}");
    }

    #[test]
    fn revision_names_the_bundles() {
        let answer = serde_json::json!({"result": true, "provenance": {"revision": "legacy-3"}});
        assert_eq!(revision(&answer), "opa:legacy-3");
        assert_eq!(revision(&serde_json::json!({"result": true})), "opa");
    }
}
