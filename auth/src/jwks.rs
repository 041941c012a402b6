//! A JSON Web Key Set fetched from an issuer's `jwks_uri`, cached, and
//! refetched when the issuer rotates its keys.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tracing::{debug, warn};

/// How often a remote key set is refetched.
#[derive(Debug, Clone)]
pub struct JwksConfig {
    /// Keys older than this are refetched on the next lookup, so a key the
    /// issuer removed (revoked, leaked) stops being accepted within this
    /// time. Default 5 minutes.
    pub refresh_interval: Duration,
    /// At most one refetch per this interval for a `kid` not in the set.
    /// Tokens with made-up `kid`s are free to produce; without this bound each
    /// one would cost a request to the identity provider. Default 10 seconds.
    pub min_refetch_interval: Duration,
    /// Timeout of one fetch. Default 5 seconds.
    pub fetch_timeout: Duration,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a key set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The HTTP request failed or returned an error status.
    #[error("fetching the key set from {uri} failed: {reason}")]
    Fetch {
        /// The `jwks_uri`.
        uri: String,
        /// What went wrong.
        reason: String,
    },
    /// The document is not a JWKS (`{"keys": [...]}`).
    #[error("the key set from {source_name} is not a jwks document: {reason}")]
    Document {
        /// The `jwks_uri`, or `fixed key set`.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The kinds of public keys a JWKS may hold that this crate verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    fn verifies(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => alg == ES256,
            KeyKind::EcP384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "a P-256 key",
            KeyKind::EcP384 => "a P-384 key",
            KeyKind::Ed25519 => "an Ed25519 key",
        }
    }
}

#[derive(Clone)]
pub(crate) struct VerifyingKey {
    kid: Option<String>,
    kind: KeyKind,
    /// The key's own `alg`, when the JWKS pins one.
    alg: Option<String>,
    pub(crate) key: DecodingKey,
}

impl VerifyingKey {
    /// Why this key must not verify a token whose header says `alg`, if so.
    pub(crate) fn refuses(&self, alg: Algorithm) -> Option<String> {
        if !self.kind.verifies(alg) {
            return Some(format!(
                "it is {}, which cannot verify {alg:?}",
                self.kind.describe()
            ));
        }
        match &self.alg {
            Some(pinned) if *pinned != format!("{alg:?}") => Some(format!(
                "the key set pins it to {pinned}, the token says {alg:?}"
            )),
            _ => None,
        }
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    Found(Box<VerifyingKey>),
    UnknownKid,
    /// No `kid` in the header and not exactly one key able to verify `alg`.
    Ambiguous,
}

struct Cached {
    keys: Vec<VerifyingKey>,
    fetched_at: Instant,
    last_attempt: Instant,
}

enum Source {
    Remote {
        uri: String,
        client: reqwest::Client,
    },
    Fixed,
}

/// The public keys of one issuer.
///
/// Keys are parsed once when fetched. Keys that cannot verify signatures are
/// left out with a warning: `oct` keys (a JWKS never carries the secret of an
/// HMAC algorithm for a relying party), `use: enc` keys, encryption-only `alg`s
/// and unknown key types.
pub struct Jwks {
    source: Source,
    config: JwksConfig,
    cached: RwLock<Cached>,
    // Serialises refetches so that a burst of tokens with a new `kid` causes
    // one request, not one per token.
    refetch: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Remote { uri, .. } => uri.as_str(),
            Source::Fixed => "fixed key set",
        };
        let kids: Vec<Option<String>> = self
            .cached
            .read()
            .expect("jwks cache lock poisoned")
            .keys
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        f.debug_struct("Jwks")
            .field("source", &source)
            .field("kids", &kids)
            .finish()
    }
}

impl Jwks {
    /// Fetches the key set at `uri` now, so that a wrong `jwks_uri` shows up
    /// when the console starts rather than at the first login.
    pub async fn fetch(uri: &str, config: JwksConfig) -> Result<Self, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            // A redirect would let whoever controls the first host choose the
            // keys; the discovery document names the real location.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| JwksError::Fetch {
                uri: uri.to_owned(),
                reason: e.to_string(),
            })?;
        let keys = download(&client, uri).await?;
        let now = Instant::now();
        Ok(Self {
            source: Source::Remote {
                uri: uri.to_owned(),
                client,
            },
            config,
            cached: RwLock::new(Cached {
                keys,
                fetched_at: now,
                last_attempt: now,
            }),
            refetch: tokio::sync::Mutex::new(()),
        })
    }

    /// A key set that never changes, from a JWKS document: a coordinator
    /// pinned to the console's keys, or tests.
    pub fn fixed(document: &Value) -> Result<Self, JwksError> {
        let keys = parse(document, "fixed key set")?;
        let now = Instant::now();
        Ok(Self {
            source: Source::Fixed,
            config: JwksConfig::default(),
            cached: RwLock::new(Cached {
                keys,
                fetched_at: now,
                last_attempt: now,
            }),
            refetch: tokio::sync::Mutex::new(()),
        })
    }

    /// The `kid`s currently cached, in document order (keys without a `kid`
    /// are left out).
    pub fn kids(&self) -> Vec<String> {
        self.read()
            .keys
            .iter()
            .filter_map(|k| k.kid.clone())
            .collect()
    }

    /// Refetches the key set now. On failure the cached keys stay in use: an
    /// identity provider that is briefly down must not log everyone out.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        let _guard = self.refetch.lock().await;
        self.refetch_locked().await
    }

    async fn refetch_locked(&self) -> Result<(), JwksError> {
        let Source::Remote { uri, client } = &self.source else {
            return Ok(());
        };
        self.write().last_attempt = Instant::now();
        let keys = download(client, uri).await?;
        debug!(uri, keys = keys.len(), "key set refetched");
        let mut cached = self.write();
        cached.keys = keys;
        cached.fetched_at = Instant::now();
        Ok(())
    }

    pub(crate) async fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        if matches!(self.source, Source::Remote { .. })
            && self.read().fetched_at.elapsed() >= self.config.refresh_interval
        {
            let _guard = self.refetch.lock().await;
            if self.read().fetched_at.elapsed() >= self.config.refresh_interval
                && let Err(e) = self.refetch_locked().await
            {
                warn!(error = %e, "periodic key set refresh failed; keeping the cached keys");
            }
        }
        match kid {
            None => self.find_only(alg),
            Some(kid) => {
                if let Some(key) = self.find(kid) {
                    return Lookup::Found(Box::new(key));
                }
                let _guard = self.refetch.lock().await;
                // Another task may have refetched while this one waited.
                if let Some(key) = self.find(kid) {
                    return Lookup::Found(Box::new(key));
                }
                if matches!(self.source, Source::Fixed)
                    || self.read().last_attempt.elapsed() < self.config.min_refetch_interval
                {
                    return Lookup::UnknownKid;
                }
                if let Err(e) = self.refetch_locked().await {
                    warn!(error = %e, kid, "refetching the key set for an unknown kid failed");
                }
                match self.find(kid) {
                    Some(key) => Lookup::Found(Box::new(key)),
                    None => Lookup::UnknownKid,
                }
            }
        }
    }

    fn find(&self, kid: &str) -> Option<VerifyingKey> {
        self.read()
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .cloned()
    }

    fn find_only(&self, alg: Algorithm) -> Lookup {
        let cached = self.read();
        let mut candidates = cached.keys.iter().filter(|k| k.refuses(alg).is_none());
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => Lookup::Found(Box::new(key.clone())),
            _ => Lookup::Ambiguous,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cached.read().expect("jwks cache lock poisoned")
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cached> {
        self.cached.write().expect("jwks cache lock poisoned")
    }
}

async fn download(client: &reqwest::Client, uri: &str) -> Result<Vec<VerifyingKey>, JwksError> {
    let fetch_error = |reason: String| JwksError::Fetch {
        uri: uri.to_owned(),
        reason,
    };
    let response = client
        .get(uri)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fetch_error(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fetch_error(format!("status {}", response.status())));
    }
    let document: Value = response.json().await.map_err(|e| JwksError::Document {
        source_name: uri.to_owned(),
        reason: e.to_string(),
    })?;
    parse(&document, uri)
}

fn parse(document: &Value, source_name: &str) -> Result<Vec<VerifyingKey>, JwksError> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JwksError::Document {
            source_name: source_name.to_owned(),
            reason: "no \"keys\" array".to_owned(),
        })?;
    let mut parsed = Vec::with_capacity(keys.len());
    for jwk in keys {
        match parse_key(jwk) {
            Ok(key) => parsed.push(key),
            Err(reason) => warn!(
                source = source_name,
                kid = jwk.get("kid").and_then(serde_json::Value::as_str),
                %reason,
                "key left out of the key set"
            ),
        }
    }
    Ok(parsed)
}

fn parse_key(jwk: &Value) -> Result<VerifyingKey, String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let required = |name: &str| field(name).ok_or_else(|| format!("no \"{name}\""));
    if let Some(usage) = field("use")
        && usage != "sig"
    {
        return Err(format!("use is {usage}, not sig"));
    }
    let alg = field("alg").map(str::to_owned);
    if let Some(alg) = &alg
        && (alg.starts_with("HS") || alg == "none")
    {
        return Err(format!("alg {alg} has no place in a public key set"));
    }
    let bad = |e: jsonwebtoken::errors::Error| format!("unusable key material: {e}");
    let (kind, key) = match required("kty")? {
        "RSA" => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(required("n")?, required("e")?).map_err(bad)?,
        ),
        "EC" => {
            let kind = match required("crv")? {
                "P-256" => KeyKind::EcP256,
                "P-384" => KeyKind::EcP384,
                other => return Err(format!("curve {other} is not supported")),
            };
            let key =
                DecodingKey::from_ec_components(required("x")?, required("y")?).map_err(bad)?;
            (kind, key)
        }
        "OKP" => match required("crv")? {
            "Ed25519" => (
                KeyKind::Ed25519,
                DecodingKey::from_ed_components(required("x")?).map_err(bad)?,
            ),
            other => return Err(format!("curve {other} is not supported")),
        },
        "oct" => return Err("a symmetric (oct) key is never accepted from a key set".to_owned()),
        other => return Err(format!("key type {other} is not supported")),
    };
    Ok(VerifyingKey {
        kid: field("kid").map(str::to_owned),
        kind,
        alg,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn keys_that_cannot_verify_signatures_are_left_out() {
        let jwks = Jwks::fixed(&json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": ED_X},
            {"kty": "OKP", "crv": "Ed25519", "kid": "pinned-hs", "alg": "HS256", "x": ED_X},
            {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": ED_X},
            {"kty": "OKP", "crv": "Ed25519", "kid": "good", "x": ED_X},
        ]}))
        .unwrap();
        assert_eq!(jwks.kids(), vec!["good".to_owned()]);
    }

    #[test]
    fn a_document_without_keys_is_refused() {
        let err = Jwks::fixed(&json!({"issuer": "x"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the key set from fixed key set is not a jwks document: no \"keys\" array"
        );
    }

    #[test]
    fn a_key_refuses_algorithms_of_another_family_or_pin() {
        let jwks = Jwks::fixed(&json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "alg": "EdDSA", "x": ED_X},
        ]}))
        .unwrap();
        let key = jwks.find("a").unwrap();
        assert!(key.refuses(Algorithm::EdDSA).is_none());
        assert!(key.refuses(Algorithm::RS256).unwrap().contains("Ed25519"));
        let mut unpinned_rsa = key.clone();
        unpinned_rsa.kind = KeyKind::Rsa;
        unpinned_rsa.alg = Some("RS256".to_owned());
        assert!(
            unpinned_rsa
                .refuses(Algorithm::PS256)
                .unwrap()
                .contains("pins")
        );
    }
}
