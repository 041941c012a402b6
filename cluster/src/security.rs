//! Who may make control calls to a cluster's processes.
//!
//! Reads (GET, HEAD) are open, as metrics and status are. Once a cluster
//! token is configured (`ringside.security.cluster.token.file`, the same
//! file on every process of the cluster), every other call to the
//! coordinator or a worker must carry either that token as a bearer
//! (workers, the CLI, the coordinator's own pushes, a console holding the
//! cluster's access token) or, on the coordinator, a token the console
//! signed for this cluster, verified against the console's JWKS
//! (`ringside.coordinator.security.console.jwks.url`). Each admitted call
//! is logged with the end user the console acts for.

use std::{path::PathBuf, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use ringside_api::{ACTING_FOR_HEADER, http::ApiError};
use ringside_auth::{
    SecretString, Validator,
    jwks::{Jwks, JwksConfig},
    session::constant_time_eq,
    signer::coordinator_validator_config,
};
use ringside_config::SecurityConfig;
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("cannot read the cluster token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the cluster token file {0} is empty: expected a secret of at least 16 characters")]
    EmptyToken(PathBuf),
}

/// Checks control calls, and signs the process's own.
#[derive(Clone, Debug)]
pub struct Guard(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    token: Option<SecretString>,
    console: Option<Console>,
}

#[derive(Debug)]
struct Console {
    jwks_url: String,
    issuer: String,
    cluster: String,
    /// Built at the first signed call, so a coordinator starts while the
    /// console is down.
    validator: OnceCell<Validator>,
}

/// Who made a control call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `cluster-token` or `console`.
    pub via: &'static str,
    /// The user the console acts for, when it says.
    pub user: Option<String>,
}

impl Guard {
    /// The guard of `cluster`'s processes; `console` only for the coordinator.
    pub fn load(
        security: &SecurityConfig,
        cluster: &str,
        console: bool,
    ) -> Result<Guard, SecurityError> {
        let token = read_token(security)?;
        let console = match (
            &security.console_jwks_url,
            &security.console_issuer,
            console,
        ) {
            (Some(jwks_url), Some(issuer), true) => Some(Console {
                jwks_url: jwks_url.clone(),
                issuer: issuer.clone(),
                cluster: cluster.to_string(),
                validator: OnceCell::new(),
            }),
            _ => None,
        };
        let guard = Guard(Arc::new(Inner { token, console }));
        if !guard.enforcing() {
            tracing::warn!(
                "control calls are not authenticated: set ringside.security.cluster.token.file (and, on the coordinator, ringside.coordinator.security.console.jwks.url)"
            );
        }
        Ok(guard)
    }

    /// No checks: for tests and the fleet simulator.
    pub fn open() -> Guard {
        Guard(Arc::new(Inner {
            token: None,
            console: None,
        }))
    }

    pub fn enforcing(&self) -> bool {
        self.0.token.is_some() || self.0.console.is_some()
    }

    /// Headers for this process's own calls to the cluster's other
    /// processes: the cluster token.
    pub fn client_headers(&self) -> HeaderMap {
        bearer_headers(self.0.token.as_ref())
    }

    /// Who `headers` prove the caller is, or why they prove nothing.
    pub async fn check(&self, headers: &HeaderMap) -> Result<Caller, String> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credential)| credential.trim())
            .ok_or("a control call needs Authorization: Bearer with the cluster token or a token the console signed")?;
        if let Some(token) = &self.0.token
            && constant_time_eq(bearer.as_bytes(), token.expose().as_bytes())
        {
            let user = headers
                .get(ACTING_FOR_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Ok(Caller {
                via: "cluster-token",
                user,
            });
        }
        let Some(console) = &self.0.console else {
            return Err("the bearer token is not the cluster token".into());
        };
        let validator = console
            .validator
            .get_or_try_init(|| async {
                let jwks = Jwks::fetch(&console.jwks_url, JwksConfig::default())
                    .await
                    .map_err(|e| format!("cannot fetch the console's keys: {e}"))?;
                Validator::new(
                    coordinator_validator_config(&console.issuer, &console.cluster),
                    Arc::new(jwks),
                )
                .map_err(|e| e.to_string())
            })
            .await?;
        let identity = validator
            .validate(bearer)
            .await
            .map_err(|e| format!("neither the cluster token nor a valid console token: {e}"))?;
        Ok(Caller {
            via: "console",
            user: Some(identity.subject),
        })
    }
}

/// The cluster token of `security`, if one is configured.
fn read_token(security: &SecurityConfig) -> Result<Option<SecretString>, SecurityError> {
    let Some(path) = &security.cluster_token_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|source| SecurityError::TokenFile {
        path: path.clone(),
        source,
    })?;
    let text = text.trim();
    if text.len() < 16 {
        return Err(SecurityError::EmptyToken(path.clone()));
    }
    Ok(Some(SecretString::new(text)))
}

/// `Authorization: Bearer <token>`, marked sensitive so it is never logged.
fn bearer_headers(token: Option<&SecretString>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(token) = token
        && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
    {
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    headers
}

/// Headers a client of the cluster (the CLI, a worker's heartbeat) sends:
/// the cluster token, when `security` names one.
pub fn client_headers(security: &SecurityConfig) -> Result<HeaderMap, SecurityError> {
    Ok(bearer_headers(read_token(security)?.as_ref()))
}

/// The middleware in front of a process's API: `from_fn_with_state(guard,
/// control_calls)`.
pub async fn control_calls(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) || !guard.enforcing() {
        return next.run(request).await;
    }
    match guard.check(request.headers()).await {
        Ok(caller) => {
            let (method, path) = (request.method(), request.uri().path());
            match &caller.user {
                // A change made for someone: the trail the issue asks for.
                Some(user) => {
                    tracing::info!(%method, path, via = caller.via, user = user.as_str(), "control call")
                }
                // The cluster's own traffic (heartbeats, tasks, pushes).
                None => tracing::debug!(%method, path, via = caller.via, "control call"),
            }
            next.run(request).await
        }
        Err(reason) => {
            tracing::warn!(method = %request.method(), path = request.uri().path(), %reason, "control call refused");
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthenticated",
                reason,
            )
            .into_response()
        }
    }
}
