//! Who is calling the console, and how they prove it: the bootstrap admin's
//! password, logins through the configured OpenID provider, browser
//! sessions, console API tokens and the provider's own access tokens. Every
//! path ends in an [`Actor`] with groups and roles, for the gateway to
//! authorize. The cryptography is `ringside-auth`'s; this module keeps the
//! records in the console database and applies the console's rules.

mod store;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use ringside_api::access::LoginOptions;
use ringside_auth::{
    SecretString, Validator,
    jwt::JwtError,
    oidc::{OidcConfig, OidcError, PendingLogin, Provider},
    password::{self, PasswordError},
    session,
    signer::{ConsoleSigner, SignerError},
    token::{self, Scope, StoredToken, TokenError, sha256_hex},
};

use crate::{
    Actor,
    config::{ConsoleConfig, IdentityConfig},
    store::{Store, StoreError},
};
pub use store::TokenRow;
use store::{LocalUser, PendingRow, SessionRow};

/// The bootstrap admin's account name.
pub const BOOTSTRAP_ADMIN: &str = "admin";
/// The bootstrap admin's role: everything, on every resource.
pub const SUPER_ADMIN_ROLE: &str = "super-admin";
/// How long a login may stay at the provider before its callback is refused.
const PENDING_LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// The session cookie; `__Host-` (only set over https) also pins it to this
/// host and path.
const COOKIE: &str = "ringside_session";
const SECURE_COOKIE: &str = "__Host-ringside_session";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("the local bootstrap admin is disabled: log in through the identity provider")]
    BootstrapDisabled,
    #[error("no identity provider is configured: set --oidc-issuer to log in through one")]
    NoProvider,
    #[error(
        "this login is unknown or expired (older than 10 minutes, or finished already): start again"
    )]
    LoginExpired,
    #[error("the identity provider refused the login: {0}")]
    Oidc(#[from] OidcError),
    #[error("bearer token refused: {0}")]
    Jwt(#[from] JwtError),
    #[error("api token refused: {0}")]
    Token(#[from] TokenError),
    #[error(
        "bearer tokens from the identity provider are not accepted: set --oidc-audience to accept them"
    )]
    NoBearerAudience,
    #[error("cannot set up the bootstrap admin: {0}")]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error(
        "--disable-bootstrap-admin needs --oidc-issuer: without a provider no one could log in"
    )]
    NoWayIn,
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IdentityError {
    /// Whether the caller is at fault (401), not the console (503).
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            IdentityError::Password(_)
                | IdentityError::Signer(_)
                | IdentityError::File { .. }
                | IdentityError::Store(_)
                | IdentityError::NoWayIn
        )
    }
}

/// A session just opened: the cookie to set, once.
#[derive(Debug)]
pub struct NewSession {
    pub id: SecretString,
    pub actor: Actor,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session, as a request's cookie finds it.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub display_name: String,
    pub csrf_token: String,
    pub via: String,
    pub expires_at: DateTime<Utc>,
}

/// The console's identity service, shared by the gateway and the login
/// routes.
#[derive(Clone)]
pub struct IdentityService(Arc<Inner>);

struct Inner {
    store: Store,
    provider: Option<Provider>,
    bearer_jwt: Option<Validator>,
    bootstrap: bool,
    scopes: Vec<String>,
    redirect_uri: String,
    secure_cookies: bool,
    session_ttl: Duration,
    signer: ConsoleSigner,
    issuer: String,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field(
                "provider",
                &self.0.provider.as_ref().map(|p| &p.metadata().issuer),
            )
            .field("bootstrap", &self.0.bootstrap)
            .finish_non_exhaustive()
    }
}

/// `next` if it is a path on this console, else `/`: a login must not
/// redirect anywhere else (an open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.chars().any(char::is_control) =>
        {
            next.to_string()
        }
        _ => "/".to_string(),
    }
}

impl IdentityService {
    /// Discovers the provider (when configured), loads or makes the signing
    /// key, and creates the bootstrap admin at first start.
    pub async fn start(config: &ConsoleConfig, store: Store) -> Result<Self, IdentityError> {
        let identity = &config.identity;
        if identity.disable_bootstrap_admin && identity.oidc_issuer.is_none() {
            return Err(IdentityError::NoWayIn);
        }
        let public_url = config.public_url();
        let provider = match &identity.oidc_issuer {
            Some(issuer) => Some(Self::discover(identity, issuer).await?),
            None => None,
        };
        let bearer_jwt = match (&provider, &identity.oidc_audience) {
            (Some(provider), Some(audience)) => Some(
                provider
                    .access_token_validator(vec![audience.clone()])
                    .map_err(OidcError::from)?,
            ),
            _ => None,
        };
        let signer = ConsoleSigner::load_or_create(&config.signing_key_file(), &public_url)?;
        let service = IdentityService(Arc::new(Inner {
            store,
            provider,
            bearer_jwt,
            bootstrap: !identity.disable_bootstrap_admin,
            scopes: identity
                .oidc_scopes
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            redirect_uri: format!("{public_url}/api/v1/auth/callback"),
            secure_cookies: public_url.starts_with("https://"),
            session_ttl: identity.session_ttl,
            signer,
            issuer: public_url,
        }));
        if service.0.bootstrap {
            service
                .create_bootstrap_admin(identity.bootstrap_password_file.as_deref())
                .await?;
        }
        Ok(service)
    }

    async fn discover(identity: &IdentityConfig, issuer: &str) -> Result<Provider, IdentityError> {
        let secret = match &identity.oidc_client_secret_file {
            Some(path) => Some(SecretString::new(
                std::fs::read_to_string(path)
                    .map_err(|source| IdentityError::File {
                        path: path.clone(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            )),
            None => None,
        };
        let mut oidc = OidcConfig::new(issuer, identity.oidc_client_id.clone(), secret);
        oidc.groups_claim = identity.oidc_groups_claim.clone();
        oidc.roles_claim = identity.oidc_roles_claim.clone();
        let provider = Provider::discover(oidc).await?;
        tracing::info!(issuer, client = %identity.oidc_client_id, "identity provider discovered");
        Ok(provider)
    }

    /// At first start: a generated password, stored as an argon2id hash and
    /// shown once (on standard error, or in `password_file`). A console
    /// that finds the account already there shows nothing.
    async fn create_bootstrap_admin(
        &self,
        password_file: Option<&Path>,
    ) -> Result<(), IdentityError> {
        if self.0.store.local_user(BOOTSTRAP_ADMIN).await?.is_some() {
            return Ok(());
        }
        let password = password::generate_bootstrap_password();
        let user = LocalUser {
            name: BOOTSTRAP_ADMIN.to_string(),
            password_hash: password::hash_password(&password)?,
            groups: Vec::new(),
            roles: vec![SUPER_ADMIN_ROLE.to_string()],
        };
        if !self.0.store.insert_local_user(&user).await? {
            return Ok(());
        }
        match password_file {
            Some(path) => write_private(path, password.expose())?,
            // Printed past the log subscriber on purpose: the password is
            // for the person starting the console, not for log collectors.
            None => eprintln!(
                "\nringside console: the bootstrap admin is `{BOOTSTRAP_ADMIN}` with password\n\n    {}\n\nIt is shown this once and stored only as a hash. Log in at /login.\n",
                password.expose()
            ),
        }
        tracing::info!(
            user = BOOTSTRAP_ADMIN,
            shown = if password_file.is_some() {
                "in the password file"
            } else {
                "on standard error"
            },
            "bootstrap admin created"
        );
        Ok(())
    }

    pub fn login_options(&self) -> LoginOptions {
        LoginOptions {
            password: self.0.bootstrap,
            provider: self
                .0
                .provider
                .as_ref()
                .map(|p| p.metadata().issuer.clone()),
        }
    }

    /// The console's signing key, for its calls to coordinators and its JWKS.
    pub fn signer(&self) -> &ConsoleSigner {
        &self.0.signer
    }

    /// The `iss` of the console's own tokens: its public URL.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.0.secure_cookies {
            SECURE_COOKIE
        } else {
            COOKIE
        }
    }

    /// The `Set-Cookie` value opening `session`.
    pub fn session_cookie(&self, session: &NewSession) -> String {
        let max_age = (session.expires_at - Utc::now()).num_seconds().max(0);
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            self.cookie_name(),
            session.id.expose(),
            if self.0.secure_cookies {
                "; Secure"
            } else {
                ""
            }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clearing_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            self.cookie_name(),
            if self.0.secure_cookies {
                "; Secure"
            } else {
                ""
            }
        )
    }

    /// Checks the bootstrap admin's password and opens a session.
    pub async fn login_password(
        &self,
        user: &str,
        password: &SecretString,
    ) -> Result<NewSession, IdentityError> {
        if !self.0.bootstrap {
            return Err(IdentityError::BootstrapDisabled);
        }
        let Some(account) = self.0.store.local_user(user).await? else {
            // The same argon2 work as for a real account, so the answer's
            // timing does not tell which names exist.
            let candidate = password.clone();
            let _ = tokio::task::spawn_blocking(move || password::hash_password(&candidate)).await;
            return Err(IdentityError::BadCredentials);
        };
        let hash = account.password_hash.clone();
        let candidate = password.clone();
        let matches =
            tokio::task::spawn_blocking(move || password::verify_password(&candidate, &hash))
                .await
                .map_err(|e| PasswordError::Hash(e.to_string()))??;
        if !matches {
            tracing::warn!(user, "password login refused");
            return Err(IdentityError::BadCredentials);
        }
        let actor = Actor::user(account.name.clone(), account.groups, account.roles);
        self.open_session(actor, &account.name, "password").await
    }

    async fn open_session(
        &self,
        actor: Actor,
        display_name: &str,
        via: &str,
    ) -> Result<NewSession, IdentityError> {
        let id = session::new_session_id();
        let csrf_token = session::new_csrf_token().expose().to_string();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.0.session_ttl).unwrap_or(chrono::Duration::hours(12));
        self.0
            .store
            .insert_session(
                &sha256_hex(id.expose()),
                &SessionRow {
                    user: actor.name().to_string(),
                    display_name: display_name.to_string(),
                    groups: actor.groups().to_vec(),
                    roles: actor.roles().to_vec(),
                    csrf_token: csrf_token.clone(),
                    via: via.to_string(),
                    expires_at,
                },
            )
            .await?;
        tracing::info!(user = %actor, via, "session opened");
        Ok(NewSession {
            id,
            actor,
            csrf_token,
            expires_at,
        })
    }

    /// The live session a cookie value names.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, IdentityError> {
        Ok(self
            .0
            .store
            .session(&sha256_hex(cookie))
            .await?
            .map(|row| Session {
                actor: Actor::user(row.user, row.groups, row.roles),
                display_name: row.display_name,
                csrf_token: row.csrf_token,
                via: row.via,
                expires_at: row.expires_at,
            }))
    }

    /// Ends a session on the server: the cookie opens nothing any more.
    pub async fn logout(&self, cookie: &str) -> Result<(), IdentityError> {
        self.0.store.delete_session(&sha256_hex(cookie)).await?;
        Ok(())
    }

    /// Begins a login at the provider: where to send the browser.
    pub async fn start_oidc(&self, next: &str) -> Result<String, IdentityError> {
        let provider = self.0.provider.as_ref().ok_or(IdentityError::NoProvider)?;
        let scopes: Vec<&str> = self.0.scopes.iter().map(String::as_str).collect();
        let start = provider.start_login(&self.0.redirect_uri, &scopes)?;
        let pending = start.pending;
        self.0
            .store
            .insert_pending_login(
                &sha256_hex(pending.state.expose()),
                &PendingRow {
                    nonce: pending.nonce.expose().to_string(),
                    pkce_verifier: pending.pkce_verifier.expose().to_string(),
                    redirect_uri: pending.redirect_uri,
                    next_path: next.to_string(),
                    created_at: Utc::now(),
                },
            )
            .await?;
        Ok(start.authorize_url)
    }

    /// Finishes a login on the provider's callback: a session, and the
    /// page to go back to.
    pub async fn finish_oidc(
        &self,
        code: &str,
        state: &str,
    ) -> Result<(NewSession, String), IdentityError> {
        let provider = self.0.provider.as_ref().ok_or(IdentityError::NoProvider)?;
        let since = Utc::now()
            - chrono::Duration::from_std(PENDING_LOGIN_TTL).unwrap_or(chrono::Duration::zero());
        let row = self
            .0
            .store
            .take_pending_login(&sha256_hex(state), since)
            .await?
            .ok_or(IdentityError::LoginExpired)?;
        let pending = PendingLogin {
            state: SecretString::new(state),
            nonce: SecretString::new(row.nonce),
            pkce_verifier: SecretString::new(row.pkce_verifier),
            redirect_uri: row.redirect_uri,
        };
        let identity = provider.finish_login(code, &pending).await?;
        let actor = Actor::user(identity.subject.clone(), identity.groups, identity.roles);
        let session = self.open_session(actor, &identity.name, "oidc").await?;
        Ok((session, row.next_path))
    }

    /// The identity an `Authorization: Bearer` credential proves: a console
    /// API token (`rst_…`) or an access token from the provider.
    pub async fn bearer(&self, credential: &str) -> Result<Actor, IdentityError> {
        if credential.starts_with(token::PREFIX) {
            let presented = token::parse(credential)?;
            let row = self
                .0
                .store
                .tokens(Some(&presented.id), None)
                .await?
                .pop()
                .ok_or(TokenError::WrongSecret)?;
            token::verify(credential, &row.stored, Utc::now())?;
            let actor = Actor::user(row.stored.owner, row.groups, row.roles);
            return Ok(if row.stored.scopes.contains(&Scope::Write) {
                actor
            } else {
                actor.read_only()
            });
        }
        let validator = self
            .0
            .bearer_jwt
            .as_ref()
            .ok_or(IdentityError::NoBearerAudience)?;
        let identity = validator.validate(credential).await?;
        Ok(Actor::user(
            identity.subject,
            identity.groups,
            identity.roles,
        ))
    }

    /// Issues an API token acting for `owner` with the groups and roles the
    /// owner has now; the full token is in the answer only.
    pub async fn issue_token(
        &self,
        owner: &Actor,
        name: &str,
        scopes: Vec<Scope>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(SecretString, StoredToken), IdentityError> {
        let issued = token::issue(name, owner.name(), scopes, expires_at, Utc::now());
        self.0
            .store
            .insert_token(&TokenRow {
                stored: issued.stored.clone(),
                groups: owner.groups().to_vec(),
                roles: owner.roles().to_vec(),
            })
            .await?;
        tracing::info!(user = %owner, token = %issued.stored.id, name, "api token issued");
        Ok((issued.token, issued.stored))
    }

    /// Tokens of `owner`, or every token when `None`.
    pub async fn tokens(&self, owner: Option<&str>) -> Result<Vec<StoredToken>, IdentityError> {
        Ok(self
            .0
            .store
            .tokens(None, owner)
            .await?
            .into_iter()
            .map(|row| row.stored)
            .collect())
    }

    pub async fn token(&self, id: &str) -> Result<Option<StoredToken>, IdentityError> {
        Ok(self
            .0
            .store
            .tokens(Some(id), None)
            .await?
            .pop()
            .map(|r| r.stored))
    }

    /// Revokes a token; `false` if it did not exist or was revoked already.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, IdentityError> {
        Ok(self.0.store.revoke_token(id).await?)
    }
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), IdentityError> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let file_error = |source| IdentityError::File {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(file_error)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error)?;
    writeln!(file, "{text}").map_err(file_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_only_returns_to_a_page_of_this_console() {
        assert_eq!(
            safe_next(Some("/clusters/eu-1?tab=ring")),
            "/clusters/eu-1?tab=ring"
        );
        for hostile in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "/ok\r\nSet-Cookie: x=y",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn session_ids_are_kept_only_as_hashes() {
        let hash = sha256_hex("abc");
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
