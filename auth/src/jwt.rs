//! Validation of signed JWTs (ID tokens, access tokens, console-signed
//! tokens) against an issuer's key set, following RFC 8725.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use serde_json::{Map, Value};

use crate::jwks::{Jwks, Lookup};

/// What a [`Validator`] accepts.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// The exact `iss` expected (no trailing-slash normalisation: OIDC
    /// requires an exact match).
    pub issuer: String,
    /// `aud` must contain at least one of these (for ID tokens the client
    /// id, for access tokens the console's resource identifier).
    pub audiences: Vec<String>,
    /// Header `alg`s accepted. Default RS256, ES256, EdDSA. `none` is never
    /// accepted, and HMAC algorithms are refused by [`Validator::new`]: with a
    /// JWKS, an HMAC "key" would be the public key, which anyone has.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`. Default 30 seconds: NTP keeps
    /// servers within milliseconds, so this only covers a badly drifting
    /// host, and it is a small fraction of the 60 s lifetime of the
    /// console-signed tokens, whose replay window it widens.
    pub leeway: Duration,
    /// Header `typ`s accepted, compared case-insensitively and with an
    /// optional `application/` prefix (RFC 7515 §4.1.9). Default `JWT` and
    /// `at+jwt` (RFC 9068). Narrow this per use so that one kind of token
    /// cannot be replayed as another (RFC 8725 §3.11): `at+jwt` only for
    /// bearer access tokens.
    pub token_types: Vec<String>,
    /// Whether a token without `typ` is refused. Default false because
    /// OpenID Connect does not require `typ` on ID tokens and some providers
    /// leave it out.
    pub require_typ: bool,
    /// Claim holding the user's groups: a name or a dot path into nested
    /// objects. Default `groups`.
    pub groups_claim: String,
    /// Claim holding the user's roles, e.g. `roles` (default) or Keycloak's
    /// `realm_access.roles`.
    pub roles_claim: String,
}

impl ValidatorConfig {
    /// The defaults documented on each field, for one issuer and audience
    /// set.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
            leeway: Duration::from_secs(30),
            token_types: vec!["JWT".to_owned(), "at+jwt".to_owned()],
            require_typ: false,
            groups_claim: "groups".to_owned(),
            roles_claim: "roles".to_owned(),
        }
    }
}

/// A configuration a validator refuses to run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The algorithm allowlist is empty.
    #[error("the algorithm allowlist is empty")]
    NoAlgorithms,
    /// An HMAC algorithm is in the allowlist.
    #[error("{0:?} is an hmac algorithm, which cannot be verified with a public key set")]
    HmacAlgorithm(Algorithm),
    /// No audience is configured, which would accept tokens meant for anyone.
    #[error("no accepted audience is configured")]
    NoAudience,
    /// The issuer is empty.
    #[error("no issuer is configured")]
    NoIssuer,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`, unique within the issuer.
    pub subject: String,
    /// For display: `email`, else `preferred_username`, else `name`, else the
    /// subject.
    pub name: String,
    /// From the configured groups claim; empty when the claim is absent.
    pub groups: Vec<String>,
    /// From the configured roles claim; empty when the claim is absent.
    pub roles: Vec<String>,
    /// `iss`.
    pub issuer: String,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

/// A valid token: the identity and every claim, for callers that need more
/// (the OIDC `nonce`, an access token's `scope` or `client_id`).
#[derive(Debug, Clone)]
pub struct Validated {
    /// The mapped identity.
    pub identity: Identity,
    /// The whole payload.
    pub claims: Map<String, Value>,
}

/// Why a token was refused. Every variant means HTTP 401 to the console.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, or a part is not JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Header `alg` is `none`.
    #[error("unsigned tokens (alg none) are not accepted")]
    AlgNone,
    /// Header `alg` is not in the allowlist (or not an algorithm at all).
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAllowed(String),
    /// Header has no `typ` and the validator requires one.
    #[error("token has no typ header")]
    MissingType,
    /// Header `typ` is not one of the accepted types.
    #[error("token type {0} is not accepted")]
    WrongType(String),
    /// Header has no `kid` and the key set has several usable keys.
    #[error("token has no kid and the key set does not have exactly one key for {0:?}")]
    AmbiguousKey(Algorithm),
    /// No key with this `kid`, even after refetching the key set.
    #[error("no key with kid {0} in the issuer's key set")]
    UnknownKid(String),
    /// The key named by `kid` cannot verify the header's `alg`.
    #[error("key {kid} refused: {reason}")]
    KeyMismatch {
        /// The key.
        kid: String,
        /// Why.
        reason: String,
    },
    /// The signature does not verify: forged or altered token.
    #[error("signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("claim {claim} is not {expected}")]
    InvalidClaim {
        /// The claim (or dot path).
        claim: String,
        /// What it should be.
        expected: &'static str,
    },
    /// `iss` is not the configured issuer.
    #[error("issuer {found} is not the expected issuer {expected}")]
    WrongIssuer {
        /// The token's `iss`.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// `aud` names none of the accepted audiences.
    #[error("audience {0} is not accepted")]
    WrongAudience(String),
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired at {0}")]
    Expired(DateTime<Utc>),
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
}

/// Validates tokens of one issuer for one set of audiences.
#[derive(Debug, Clone)]
pub struct Validator {
    config: ValidatorConfig,
    jwks: Arc<Jwks>,
}

impl Validator {
    /// Checks the configuration; the key set is shared with other validators
    /// of the same issuer (ID tokens and access tokens use the same keys).
    pub fn new(config: ValidatorConfig, jwks: Arc<Jwks>) -> Result<Self, ConfigError> {
        if config.issuer.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        if config.audiences.is_empty() {
            return Err(ConfigError::NoAudience);
        }
        if config.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if let Some(alg) = config
            .algorithms
            .iter()
            .find(|alg| alg.family() == AlgorithmFamily::Hmac)
        {
            return Err(ConfigError::HmacAlgorithm(*alg));
        }
        Ok(Self { config, jwks })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Validates `token` now and maps it to an [`Identity`].
    pub async fn validate(&self, token: &str) -> Result<Identity, JwtError> {
        Ok(self.validate_at(token, Utc::now()).await?.identity)
    }

    /// Validates `token` as of `now`, returning all claims too.
    pub async fn validate_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Validated, JwtError> {
        let header = decode_header(token)?;
        let alg = self.check_alg(&header)?;
        self.check_typ(&header)?;
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(JwtError::Malformed("kid is not a string".to_owned())),
        };
        let key = match self.jwks.lookup(kid, alg).await {
            Lookup::Found(key) => key,
            Lookup::UnknownKid => {
                return Err(JwtError::UnknownKid(kid.unwrap_or_default().to_owned()));
            }
            Lookup::Ambiguous => return Err(JwtError::AmbiguousKey(alg)),
        };
        if let Some(reason) = key.refuses(alg) {
            return Err(JwtError::KeyMismatch {
                kid: kid.unwrap_or("(none)").to_owned(),
                reason,
            });
        }
        let claims = verify_signature(token, alg, &key.key)?;
        let identity = self.check_claims(&claims, now)?;
        Ok(Validated { identity, claims })
    }

    fn check_alg(&self, header: &Map<String, Value>) -> Result<Algorithm, JwtError> {
        let name = match header.get("alg") {
            Some(Value::String(name)) => name.as_str(),
            Some(_) => return Err(JwtError::Malformed("alg is not a string".to_owned())),
            None => return Err(JwtError::Malformed("header has no alg".to_owned())),
        };
        if name.eq_ignore_ascii_case("none") {
            return Err(JwtError::AlgNone);
        }
        name.parse::<Algorithm>()
            .ok()
            .filter(|alg| self.config.algorithms.contains(alg))
            .ok_or_else(|| JwtError::AlgorithmNotAllowed(name.to_owned()))
    }

    fn check_typ(&self, header: &Map<String, Value>) -> Result<(), JwtError> {
        let typ = match header.get("typ") {
            None if self.config.require_typ => return Err(JwtError::MissingType),
            None => return Ok(()),
            Some(Value::String(typ)) => typ,
            Some(_) => return Err(JwtError::Malformed("typ is not a string".to_owned())),
        };
        let bare = |t: &str| {
            let t = t.to_ascii_lowercase();
            t.strip_prefix("application/")
                .map(str::to_owned)
                .unwrap_or(t)
        };
        let found = bare(typ);
        if self.config.token_types.iter().any(|t| bare(t) == found) {
            Ok(())
        } else {
            Err(JwtError::WrongType(typ.clone()))
        }
    }

    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Identity, JwtError> {
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        let now = now.timestamp();

        let issuer = string_claim(claims, "iss")?.ok_or(JwtError::MissingClaim("iss"))?;
        if issuer != self.config.issuer {
            return Err(JwtError::WrongIssuer {
                found: issuer.to_owned(),
                expected: self.config.issuer.clone(),
            });
        }

        let audiences: Vec<&str> = match claims.get("aud") {
            None => return Err(JwtError::MissingClaim("aud")),
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| invalid("aud", "a string or an array of strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("aud", "a string or an array of strings")),
        };
        let accepted: HashSet<&str> = self.config.audiences.iter().map(String::as_str).collect();
        if !audiences.iter().any(|aud| accepted.contains(aud)) {
            return Err(JwtError::WrongAudience(audiences.join(", ")));
        }

        let exp = time_claim(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        if now > exp.saturating_add(leeway) {
            return Err(JwtError::Expired(timestamp(exp)));
        }
        if let Some(nbf) = time_claim(claims, "nbf")?
            && now < nbf.saturating_sub(leeway)
        {
            return Err(JwtError::NotYetValid(timestamp(nbf)));
        }

        let subject = string_claim(claims, "sub")?.ok_or(JwtError::MissingClaim("sub"))?;
        let name = ["email", "preferred_username", "name"]
            .iter()
            .find_map(|claim| claims.get(*claim).and_then(Value::as_str))
            .unwrap_or(subject);
        Ok(Identity {
            subject: subject.to_owned(),
            name: name.to_owned(),
            groups: string_list(claims, &self.config.groups_claim)?,
            roles: string_list(claims, &self.config.roles_claim)?,
            issuer: issuer.to_owned(),
            expires_at: timestamp(exp),
        })
    }
}

fn decode_header(token: &str) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "not three dot-separated parts".to_owned(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed("header is not base64url".to_owned()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| JwtError::Malformed("header is not a json object".to_owned()))
}

fn verify_signature(
    token: &str,
    alg: Algorithm,
    key: &jsonwebtoken::DecodingKey,
) -> Result<Map<String, Value>, JwtError> {
    // jsonwebtoken checks the signature and that `alg` is the one we chose;
    // the claims are checked by `check_claims` so that each failure has its
    // own error and `now` can be given.
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    use jsonwebtoken::errors::ErrorKind;
    match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAlgorithm => JwtError::AlgorithmNotAllowed(format!("{alg:?}")),
            ErrorKind::Json(_)
            | ErrorKind::Utf8(_)
            | ErrorKind::Base64(_)
            | ErrorKind::InvalidToken => JwtError::Malformed(e.to_string()),
            // A key that parsed from the JWKS but cannot be used, e.g. an RSA
            // modulus that is not a valid key.
            _ => JwtError::BadSignature,
        }),
    }
}

fn invalid(claim: &str, expected: &'static str) -> JwtError {
    JwtError::InvalidClaim {
        claim: claim.to_owned(),
        expected,
    }
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>, JwtError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(claim, "a string")),
    }
}

fn time_claim(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, JwtError> {
    match claims.get(claim) {
        None => Ok(None),
        // RFC 7519 NumericDate may have a fraction; whole seconds suffice.
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(claim, "a numeric date")),
        Some(_) => Err(invalid(claim, "a numeric date")),
    }
}

fn timestamp(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A list claim at a dot path. Absent means empty; a single string is a list
/// of one, as some providers emit a lone group that way.
fn string_list(claims: &Map<String, Value>, path: &str) -> Result<Vec<String>, JwtError> {
    let mut node = None;
    let mut current = claims;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        match current.get(*segment) {
            None => return Ok(Vec::new()),
            Some(value) if i + 1 == segments.len() => node = Some(value),
            Some(Value::Object(inner)) => current = inner,
            Some(_) => return Err(invalid(path, "an object along the claim path")),
        }
    }
    match node {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(path, "a list of strings"))
            })
            .collect(),
        Some(_) => Err(invalid(path, "a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn dot_paths_reach_nested_lists() {
        let c = claims(json!({"realm_access": {"roles": ["admin", "viewer"]}, "groups": "solo"}));
        assert_eq!(
            string_list(&c, "realm_access.roles").unwrap(),
            ["admin", "viewer"]
        );
        assert_eq!(string_list(&c, "groups").unwrap(), ["solo"]);
        assert!(string_list(&c, "realm_access.missing").unwrap().is_empty());
        assert!(string_list(&c, "absent.roles").unwrap().is_empty());
        assert!(string_list(&c, "groups.deeper").is_err());
        assert!(string_list(&claims(json!({"roles": [1]})), "roles").is_err());
    }

    #[test]
    fn hmac_and_empty_configurations_are_refused() {
        let jwks = Arc::new(Jwks::fixed(&json!({"keys": []})).unwrap());
        let mut config = ValidatorConfig::new("https://idp", vec!["console".to_owned()]);
        config.algorithms.push(Algorithm::HS256);
        assert_eq!(
            Validator::new(config.clone(), jwks.clone()).unwrap_err(),
            ConfigError::HmacAlgorithm(Algorithm::HS256)
        );
        config.algorithms.clear();
        assert_eq!(
            Validator::new(config.clone(), jwks.clone()).unwrap_err(),
            ConfigError::NoAlgorithms
        );
        let no_aud = ValidatorConfig::new("https://idp", vec![]);
        assert_eq!(
            Validator::new(no_aud, jwks).unwrap_err(),
            ConfigError::NoAudience
        );
    }

    #[test]
    fn typ_comparison_ignores_case_and_media_type_prefix() {
        let jwks = Arc::new(Jwks::fixed(&json!({"keys": []})).unwrap());
        let mut config = ValidatorConfig::new("https://idp", vec!["console".to_owned()]);
        config.token_types = vec!["at+jwt".to_owned()];
        config.require_typ = true;
        let v = Validator::new(config, jwks).unwrap();
        assert!(
            v.check_typ(&claims(json!({"typ": "application/AT+JWT"})))
                .is_ok()
        );
        assert!(matches!(
            v.check_typ(&claims(json!({"typ": "JWT"}))),
            Err(JwtError::WrongType(_))
        ));
        assert!(matches!(
            v.check_typ(&claims(json!({}))),
            Err(JwtError::MissingType)
        ));
    }
}
