//! Who may make control calls to a cluster's processes.
//!
//! Reads (GET, HEAD) are open, as metrics and status are. Unless
//! `ringside.security.authentication.type` is NONE, every other call to the
//! coordinator or a worker must carry either the cluster token
//! (`ringside.security.cluster.token.file`, the same file on every process
//! of the cluster) as a bearer (workers, the CLI, the coordinator's own
//! pushes, a console holding the cluster's access token) or, on the
//! coordinator, a token the console signed for this cluster, verified
//! against the console's JWKS (`ringside.coordinator.security.console.jwks.url`).
//! The coordinator writes a new token at its first start when the file does
//! not exist, so a cluster is never open by accident; workers refuse to start
//! without it. Each admitted call is logged with the end user the console
//! acts for.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

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
    private_file::{self, Created},
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
    #[error(
        "the cluster token file {0} does not exist: copy the one the coordinator wrote at its first start, or point ringside.security.cluster.token.file at it"
    )]
    MissingToken(PathBuf),
    #[error("cannot write a new cluster token to {path}: {source}")]
    WriteToken {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which process is loading its guard: only the coordinator creates the
/// cluster token and accepts console-signed calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Coordinator,
    Worker,
}

/// Checks control calls, and signs the process's own.
#[derive(Clone, Debug)]
pub struct Guard(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    role: Role,
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
    /// The guard of one of `cluster`'s processes.
    pub fn load(
        security: &SecurityConfig,
        cluster: &str,
        role: Role,
    ) -> Result<Guard, SecurityError> {
        if !security.enforcing() {
            tracing::warn!(
                "control calls are not authenticated: ringside.security.authentication.type is NONE, so anyone who reaches this port can change the cluster"
            );
            return Ok(Guard::open());
        }
        let token = match role {
            Role::Coordinator => read_or_create_token(&security.cluster_token_file)?,
            Role::Worker => read_token(&security.cluster_token_file)?
                .ok_or_else(|| SecurityError::MissingToken(security.cluster_token_file.clone()))?,
        };
        let console = match (&security.console_jwks_url, &security.console_issuer, role) {
            (Some(jwks_url), Some(issuer), Role::Coordinator) => Some(Console {
                jwks_url: jwks_url.clone(),
                issuer: issuer.clone(),
                cluster: cluster.to_string(),
                validator: OnceCell::new(),
            }),
            _ => None,
        };
        Ok(Guard(Arc::new(Inner {
            role,
            token: Some(token),
            console,
        })))
    }

    /// No checks: for tests and the fleet simulator.
    pub fn open() -> Guard {
        Guard(Arc::new(Inner {
            role: Role::Coordinator,
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
            .ok_or("a control call needs Authorization: Bearer with the cluster token (the file ringside.security.cluster.token.file names) or a token the console signed")?;
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
            return Err(match self.0.role {
                Role::Coordinator => "the bearer token is not the cluster token, and this coordinator trusts no console's signature (ringside.coordinator.security.console.jwks.url is not set): register the cluster in the console with the cluster token as its access token, or set that property",
                Role::Worker => "the bearer token is not the cluster token",
            }
            .into());
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

/// The token in `path`, or None when the file does not exist.
fn read_token(path: &Path) -> Result<Option<SecretString>, SecurityError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SecurityError::TokenFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = text.trim();
    if text.len() < 16 {
        return Err(SecurityError::EmptyToken(path.to_path_buf()));
    }
    Ok(Some(SecretString::new(text)))
}

/// The coordinator's token: the file's, or a new one written there first
/// (complete or not at all; if another process created the file meanwhile,
/// that one's token is read instead).
fn read_or_create_token(path: &Path) -> Result<SecretString, SecurityError> {
    if let Some(token) = read_token(path)? {
        return Ok(token);
    }
    let token = SecretString::generate();
    let created =
        private_file::create(path, format!("{}\n", token.expose()).as_bytes()).map_err(|e| {
            SecurityError::WriteToken {
                path: e.path,
                source: e.source,
            }
        })?;
    match created {
        Created::Written => {
            tracing::info!(
                path = %path.display(),
                "wrote a new cluster token: give this file to the cluster's workers and CLI users (ringside.security.cluster.token.file)"
            );
            Ok(token)
        }
        Created::AlreadyExists => {
            read_token(path)?.ok_or_else(|| SecurityError::MissingToken(path.to_path_buf()))
        }
    }
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

/// Headers a client of the cluster (the CLI) sends: the cluster token, when
/// authentication is on and the token file exists. Without it reads still
/// work, and the coordinator's refusal of a control call names the property.
pub fn client_headers(security: &SecurityConfig) -> Result<HeaderMap, SecurityError> {
    if !security.enforcing() {
        return Ok(HeaderMap::new());
    }
    Ok(bearer_headers(
        read_token(&security.cluster_token_file)?.as_ref(),
    ))
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use ringside_config::AuthenticationType;

    fn security(path: &Path) -> SecurityConfig {
        SecurityConfig {
            authentication: AuthenticationType::Token,
            cluster_token_file: path.to_path_buf(),
            console_jwks_url: None,
            console_issuer: None,
        }
    }

    #[test]
    fn the_coordinator_writes_a_private_token_once_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf/cluster.token");
        let first = read_or_create_token(&path).unwrap();
        assert_eq!(first.expose().len(), 43);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_or_create_token(&path).unwrap(), first);
        // Nothing half-written is left beside it.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cluster.token")]);
    }

    #[test]
    fn an_operator_token_is_used_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.token");
        std::fs::write(&path, "  operator-chosen-secret-0123456789\n").unwrap();
        let token = read_or_create_token(&path).unwrap();
        assert_eq!(token.expose(), "operator-chosen-secret-0123456789");
        std::fs::write(&path, "short\n").unwrap();
        let err = read_or_create_token(&path).unwrap_err();
        assert!(matches!(err, SecurityError::EmptyToken(_)), "{err}");
    }

    #[test]
    fn a_worker_without_the_token_is_refused_and_told_where_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.token");
        let err = Guard::load(&security(&path), "c", Role::Worker).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("does not exist"), "{message}");
        assert!(
            message.contains("ringside.security.cluster.token.file"),
            "{message}"
        );
        assert!(!path.exists(), "a worker never makes up a token");
    }

    #[tokio::test]
    async fn control_calls_need_the_token_unless_authentication_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.token");
        let coordinator = Guard::load(&security(&path), "c", Role::Coordinator).unwrap();
        assert!(coordinator.enforcing());
        let worker = Guard::load(&security(&path), "c", Role::Worker).unwrap();
        let headers = coordinator.client_headers();
        assert!(headers[header::AUTHORIZATION].is_sensitive());
        let caller = worker.check(&headers).await.unwrap();
        assert_eq!(caller.via, "cluster-token");
        let err = coordinator.check(&HeaderMap::new()).await.unwrap_err();
        assert!(
            err.contains("ringside.security.cluster.token.file"),
            "{err}"
        );
        let mut wrong = HeaderMap::new();
        wrong.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        let err = coordinator.check(&wrong).await.unwrap_err();
        assert!(err.contains("console.jwks.url"), "{err}");

        let mut off = security(&dir.path().join("never"));
        off.authentication = AuthenticationType::None;
        assert!(
            !Guard::load(&off, "c", Role::Coordinator)
                .unwrap()
                .enforcing()
        );
        assert!(!dir.path().join("never").exists());
        assert!(client_headers(&off).unwrap().is_empty());
    }
}
