//! Console-signed JWTs for console → coordinator calls.
//!
//! The console acts on a coordinator for an end user; the coordinator must
//! know both that the call comes from the console and for whom. The console
//! signs a short-lived Ed25519 JWT per call with `sub` = the end user and
//! `aud` = `ringside-coordinator:<cluster>`, and serves its public key at
//! `/api/v1/jwks.json`; coordinators validate with a [`Validator`] built from
//! [`coordinator_validator_config`].
//!
//! [`Validator`]: crate::jwt::Validator

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::jwt::ValidatorConfig;
use crate::private_file::{self, Created};
use crate::random;
use crate::secret::SecretString;

/// The `typ` of console-signed tokens. An explicit type (RFC 8725 §3.11)
/// keeps an ID token or access token that happens to carry a matching `aud`
/// from being accepted as a console call, and the other way round.
pub const TOKEN_TYPE: &str = "ringside-console+jwt";

/// Lifetime of a console-signed token: one call, plus retries. Short, as it
/// cannot be revoked.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);

const KEY_FILE_FORMAT: &str = "ringside-console-signing-key";
const KEY_FILE_VERSION: u32 = 1;

/// The RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key: what follows is
/// the 32-byte seed. jsonwebtoken takes Ed25519 signing keys only as PKCS#8.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The audience of tokens for `cluster`'s coordinator.
pub fn coordinator_audience(cluster: &str) -> String {
    format!("ringside-coordinator:{cluster}")
}

/// How a coordinator of `cluster` validates the console's calls: only
/// EdDSA, only [`TOKEN_TYPE`], only its own audience, issuer = the console's
/// id.
pub fn coordinator_validator_config(console_issuer: &str, cluster: &str) -> ValidatorConfig {
    let mut config = ValidatorConfig::new(console_issuer, vec![coordinator_audience(cluster)]);
    config.algorithms = vec![Algorithm::EdDSA];
    config.token_types = vec![TOKEN_TYPE.to_owned()];
    config.require_typ = true;
    config
}

/// Why the signing key could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// Reading or writing the key file failed.
    #[error("signing key file {path}: {source}")]
    Io {
        /// The key file (or its temporary file or directory).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file exists but is not a valid key file. It is never
    /// replaced automatically: a new key would silently invalidate what
    /// coordinators pinned.
    #[error(
        "signing key file {path} is corrupt ({reason}); restore it from a backup, or delete it to create a new key"
    )]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file was written by a newer console.
    #[error(
        "signing key file {path} has version {version}, this console reads version {KEY_FILE_VERSION}"
    )]
    UnsupportedVersion {
        /// The key file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// Signing failed.
    #[error("signing a console token failed: {0}")]
    Sign(String),
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: String,
    version: u32,
    algorithm: String,
    kid: String,
    created_at: DateTime<Utc>,
    /// base64url of the 32-byte Ed25519 seed.
    private_key: String,
}

#[derive(Serialize)]
struct ConsoleClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    groups: &'a [String],
}

/// The console's signing key and identity.
pub struct ConsoleSigner {
    issuer: String,
    kid: String,
    public_x: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ConsoleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSigner")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ConsoleSigner {
    /// Loads the key from `path`, or creates it there on first use.
    /// `issuer` is the console's id or URL, put in `iss`.
    pub fn load_or_create(path: &Path, issuer: &str) -> Result<Self, SignerError> {
        match fs::read(path) {
            Ok(bytes) => Self::from_key_file(path, &bytes, issuer),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path, issuer),
            Err(source) => Err(SignerError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The key id, the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document the console serves at `/api/v1/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.public_jwk()]})
    }

    /// A token for one call to `cluster`'s coordinator on behalf of
    /// `end_user` (the subject of the console session) with their groups,
    /// valid for [`TOKEN_TTL`].
    pub fn sign(
        &self,
        cluster: &str,
        end_user: &str,
        groups: &[String],
    ) -> Result<SecretString, SignerError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(TOKEN_TTL.as_secs()).expect("the ttl is a small constant");
        let claims = ConsoleClaims {
            iss: &self.issuer,
            sub: end_user,
            aud: coordinator_audience(cluster),
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: random::base64url::<16>(),
            groups,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::new)
            .map_err(|e| SignerError::Sign(e.to_string()))
    }

    fn public_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    fn from_seed(seed: [u8; 32], issuer: &str) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let public_x = URL_SAFE_NO_PAD.encode(public);
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        Self {
            issuer: issuer.to_owned(),
            kid: thumbprint(&public_x),
            public_x,
            key: EncodingKey::from_ed_der(&der),
        }
    }

    fn from_key_file(path: &Path, bytes: &[u8], issuer: &str) -> Result<Self, SignerError> {
        let corrupt = |reason: String| SignerError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let file: KeyFile =
            serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not a key file: {e}")))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(corrupt(format!(
                "format is {:?}, expected {KEY_FILE_FORMAT:?}",
                file.format
            )));
        }
        if file.version != KEY_FILE_VERSION {
            return Err(SignerError::UnsupportedVersion {
                path: path.to_owned(),
                version: file.version,
            });
        }
        if file.algorithm != "Ed25519" {
            return Err(corrupt(format!(
                "algorithm is {:?}, expected \"Ed25519\"",
                file.algorithm
            )));
        }
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&file.private_key)
            .ok()
            .and_then(|raw| raw.try_into().ok())
            .ok_or_else(|| corrupt("private_key is not 32 bytes of base64url".to_owned()))?;
        let signer = Self::from_seed(seed, issuer);
        if signer.kid != file.kid {
            return Err(corrupt("kid does not match the private key".to_owned()));
        }
        Ok(signer)
    }

    fn create(path: &Path, issuer: &str) -> Result<Self, SignerError> {
        let seed = random::bytes::<32>();
        let signer = Self::from_seed(seed, issuer);
        let file = KeyFile {
            format: KEY_FILE_FORMAT.to_owned(),
            version: KEY_FILE_VERSION,
            algorithm: "Ed25519".to_owned(),
            kid: signer.kid.clone(),
            created_at: Utc::now(),
            private_key: URL_SAFE_NO_PAD.encode(seed),
        };
        let mut contents = serde_json::to_vec_pretty(&file).expect("a key file serialises");
        contents.push(b'\n');
        match private_file::create(path, &contents).map_err(|e| SignerError::Io {
            path: e.path,
            source: e.source,
        })? {
            Created::Written => Ok(signer),
            // Another process created the key first; use theirs, so both
            // sign with the key that is on disk.
            Created::AlreadyExists => Self::load_or_create(path, issuer),
        }
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over the required
/// members in lexicographic order, without whitespace.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_8037_appendix_a3() {
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn the_seed_of_rfc_8032_test_1_gives_its_public_key() {
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap()
            .try_into()
            .unwrap();
        let signer = ConsoleSigner::from_seed(seed, "console");
        assert_eq!(
            signer.public_x,
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert!(!format!("{signer:?}").contains("nWGxne"));
    }
}
