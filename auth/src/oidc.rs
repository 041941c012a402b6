//! OpenID Connect login: the authorization code flow with PKCE (S256),
//! and validation of the provider's JWT access tokens for automation.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jwks::{Jwks, JwksConfig, JwksError};
use crate::jwt::{ConfigError, Identity, JwtError, Validator, ValidatorConfig};
use crate::random;
use crate::secret::SecretString;
use crate::session::constant_time_eq;

/// The console's registration at one OpenID provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL, exactly as the provider writes it in `iss`.
    pub issuer: String,
    /// The console's client id.
    pub client_id: String,
    /// The client secret of a confidential client; `None` for a public
    /// client, which then relies on PKCE alone.
    pub client_secret: Option<SecretString>,
    /// Where the provider puts the user's groups (see
    /// [`ValidatorConfig::groups_claim`]).
    pub groups_claim: String,
    /// Where the provider puts the user's roles (see
    /// [`ValidatorConfig::roles_claim`]).
    pub roles_claim: String,
    /// Key set caching.
    pub jwks: JwksConfig,
    /// Timeout of discovery and token requests.
    pub http_timeout: Duration,
}

impl OidcConfig {
    /// A configuration with `groups` / `roles` claims and default timeouts.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            groups_claim: "groups".to_owned(),
            roles_claim: "roles".to_owned(),
            jwks: JwksConfig::default(),
            http_timeout: Duration::from_secs(10),
        }
    }
}

/// The parts of the discovery document the console uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser is sent to log in.
    pub authorization_endpoint: String,
    /// Where codes are exchanged.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
}

/// What the console keeps server-side between sending the browser to the
/// provider and the callback, keyed by `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// Echoed by the provider on the callback; binds it to this browser.
    pub state: SecretString,
    /// Must come back in the ID token, binding the token to this login.
    pub nonce: SecretString,
    /// Proves to the token endpoint that whoever redeems the code started
    /// the login.
    pub pkce_verifier: SecretString,
    /// Sent again with the code exchange, as OAuth 2.0 requires.
    pub redirect_uri: String,
}

/// A login in progress.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// Where to redirect the browser.
    pub authorize_url: String,
    /// What to store until the callback.
    pub pending: PendingLogin,
}

/// Why discovery or a login failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The discovery document could not be fetched or parsed.
    #[error("discovery at {url} failed: {reason}")]
    Discovery {
        /// The `.well-known/openid-configuration` URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The discovery document names another issuer (OIDC Discovery §4.3).
    #[error("the provider says its issuer is {found}, expected exactly {expected}")]
    IssuerMismatch {
        /// Configured.
        expected: String,
        /// In the document.
        found: String,
    },
    /// An endpoint or the redirect URI is not a valid URL.
    #[error("{what} is not a valid url: {reason}")]
    InvalidUrl {
        /// Which one.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The key set could not be loaded.
    #[error(transparent)]
    Jwks(#[from] JwksError),
    /// The validator configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token endpoint refused the code (expired, reused, wrong PKCE
    /// verifier or client credentials) or could not be reached.
    #[error("code exchange failed: {0}")]
    CodeExchange(String),
    /// The token response has no ID token (was `openid` requested?).
    #[error("the token response has no id_token")]
    NoIdToken,
    /// The ID token is invalid.
    #[error("id token refused: {0}")]
    IdToken(#[from] JwtError),
    /// The ID token has no `nonce`.
    #[error("id token has no nonce")]
    MissingNonce,
    /// The ID token's `nonce` is not the one of this login: a replayed token.
    #[error("id token nonce does not match the pending login")]
    NonceMismatch,
    /// Several audiences and `azp` is not the console (OIDC Core §3.1.3.7).
    #[error("id token was issued to {0}, not to this client")]
    AuthorizedParty(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct IdTokenFields {
    id_token: Option<SecretString>,
}

impl ExtraTokenFields for IdTokenFields {}

type IdTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;

type OidcClient = oauth2::Client<
    BasicErrorResponse,
    IdTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One discovered OpenID provider.
#[derive(Debug)]
pub struct Provider {
    config: OidcConfig,
    metadata: ProviderMetadata,
    http: reqwest::Client,
    client: OidcClient,
    jwks: Arc<Jwks>,
    id_tokens: Validator,
}

impl Provider {
    /// Fetches `<issuer>/.well-known/openid-configuration`, checks that it
    /// names the configured issuer, and loads the key set.
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let discovery = |reason: String| OidcError::Discovery {
            url: url.clone(),
            reason,
        };
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            // Following redirects from the token endpoint would let it send
            // the code and client secret elsewhere (oauth2's SSRF advice).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| discovery(e.to_string()))?;
        let response = http
            .get(&url)
            .send()
            .await
            .map_err(|e| discovery(e.to_string()))?;
        if !response.status().is_success() {
            return Err(discovery(format!("status {}", response.status())));
        }
        let metadata: ProviderMetadata = response
            .json()
            .await
            .map_err(|e| discovery(e.to_string()))?;
        if metadata.issuer != config.issuer {
            return Err(OidcError::IssuerMismatch {
                expected: config.issuer.clone(),
                found: metadata.issuer,
            });
        }
        let invalid = |what: &'static str| {
            move |e: oauth2::url::ParseError| OidcError::InvalidUrl {
                what,
                reason: e.to_string(),
            }
        };
        let mut client = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(metadata.authorization_endpoint.clone())
                    .map_err(invalid("authorization_endpoint"))?,
            )
            .set_token_uri(
                TokenUrl::new(metadata.token_endpoint.clone())
                    .map_err(invalid("token_endpoint"))?,
            );
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        let jwks = Arc::new(Jwks::fetch(&metadata.jwks_uri, config.jwks.clone()).await?);
        let mut id_config = ValidatorConfig::new(&config.issuer, vec![config.client_id.clone()]);
        id_config.groups_claim = config.groups_claim.clone();
        id_config.roles_claim = config.roles_claim.clone();
        id_config.token_types = vec!["JWT".to_owned()];
        let id_tokens = Validator::new(id_config, jwks.clone())?;
        Ok(Self {
            config,
            metadata,
            http,
            client,
            jwks,
            id_tokens,
        })
    }

    /// The discovery document's endpoints.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// The validator of this provider's ID tokens (audience = client id).
    pub fn id_token_validator(&self) -> &Validator {
        &self.id_tokens
    }

    /// A validator of this provider's JWT access tokens (RFC 9068) for an
    /// API whose resource identifiers are `audiences`: what the console's
    /// gateway uses for `Authorization: Bearer` from automation (client
    /// credentials). Only `typ: at+jwt` is accepted, so an ID token cannot be
    /// used as an access token. Shares the key set with the login.
    pub fn access_token_validator(&self, audiences: Vec<String>) -> Result<Validator, ConfigError> {
        let mut config = ValidatorConfig::new(&self.config.issuer, audiences);
        config.groups_claim = self.config.groups_claim.clone();
        config.roles_claim = self.config.roles_claim.clone();
        config.token_types = vec!["at+jwt".to_owned()];
        config.require_typ = true;
        Validator::new(config, self.jwks.clone())
    }

    /// Starts a login: fresh `state`, `nonce` and PKCE verifier, and the URL
    /// to send the browser to. `openid` is added to `scopes` if missing.
    pub fn start_login(
        &self,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> Result<LoginStart, OidcError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| OidcError::InvalidUrl {
                what: "redirect uri",
                reason: e.to_string(),
            })?;
        let state = random::base64url::<32>();
        let nonce = random::base64url::<32>();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new(state.clone()))
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.clone());
        if !scopes.contains(&"openid") {
            request = request.add_scope(oauth2::Scope::new("openid".to_owned()));
        }
        for scope in scopes {
            request = request.add_scope(oauth2::Scope::new((*scope).to_owned()));
        }
        let (url, _) = request.url();
        Ok(LoginStart {
            authorize_url: url.to_string(),
            pending: PendingLogin {
                state: SecretString::new(state),
                nonce: SecretString::new(nonce),
                pkce_verifier: SecretString::new(verifier.into_secret()),
                redirect_uri: redirect_uri.to_owned(),
            },
        })
    }

    /// Finishes a login on the callback: exchanges `code` with the PKCE
    /// verifier, validates the ID token (signature, issuer, audience = client
    /// id, expiry, nonce) and maps it to an identity. The console finds
    /// `pending` by the callback's `state`, so a callback without a pending
    /// login never gets here.
    pub async fn finish_login(
        &self,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<Identity, OidcError> {
        let redirect =
            RedirectUrl::new(pending.redirect_uri.clone()).map_err(|e| OidcError::InvalidUrl {
                what: "redirect uri",
                reason: e.to_string(),
            })?;
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pending.pkce_verifier.expose().to_owned(),
            ))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::CodeExchange(describe_token_error(&e)))?;
        let id_token = response
            .extra_fields()
            .id_token
            .as_ref()
            .ok_or(OidcError::NoIdToken)?;
        let validated = self
            .id_tokens
            .validate_at(id_token.expose(), Utc::now())
            .await?;
        let nonce = validated
            .claims
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or(OidcError::MissingNonce)?;
        if !constant_time_eq(nonce.as_bytes(), pending.nonce.expose().as_bytes()) {
            return Err(OidcError::NonceMismatch);
        }
        if let Some(Value::Array(audiences)) = validated.claims.get("aud")
            && audiences.len() > 1
        {
            let azp = validated
                .claims
                .get("azp")
                .and_then(Value::as_str)
                .unwrap_or("(no azp)");
            if azp != self.config.client_id {
                return Err(OidcError::AuthorizedParty(azp.to_owned()));
            }
        }
        Ok(validated.identity)
    }
}

fn describe_token_error<E: std::error::Error>(
    error: &RequestTokenError<E, BasicErrorResponse>,
) -> String {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error_description() {
            Some(description) => format!("{}: {description}", response.error()),
            None => response.error().to_string(),
        },
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(e, _) => format!("unreadable token response: {e}"),
        RequestTokenError::Other(e) => e.clone(),
    }
}
