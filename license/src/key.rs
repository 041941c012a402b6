//! The vendor's keys: the secret one that signs licenses, kept in a key
//! file, and the public one coordinators verify them with.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
};
use ed25519_dalek::{
    PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, Signature, Signer, SigningKey, VerifyingKey,
};
use serde::{Deserialize, Serialize};

use crate::{License, LicenseError, token};

/// Version of the vendor key file format this build writes and reads.
pub const KEY_FILE_VERSION: u32 = 1;

const KEY_FILE_KIND: &str = "ringside-license-vendor-key";
const ALGORITHM: &str = "ed25519";

/// The vendor's signing key. Its [`Debug`] form never shows the secret.
#[derive(Clone)]
pub struct VendorKey {
    signing: SigningKey,
}

impl std::fmt::Debug for VendorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VendorKey(public {})", self.public_key())
    }
}

/// The key file as stored: versioned JSON, both keys in base64.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format_version: u32,
    kind: String,
    algorithm: String,
    /// The 32-byte Ed25519 secret key (seed).
    secret_key: String,
    /// Its public key, so a reader can check the file is whole.
    public_key: String,
}

impl VendorKey {
    /// The key made from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; SECRET_KEY_LENGTH]) -> VendorKey {
        VendorKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<VendorKey, getrandom::Error> {
        let mut seed = [0u8; SECRET_KEY_LENGTH];
        getrandom::fill(&mut seed)?;
        Ok(VendorKey::from_seed(seed))
    }

    /// The public key licenses it signs verify with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The token of `license`, after checking its content with
    /// [`License::validate`].
    pub fn sign(&self, license: &License) -> Result<String, LicenseError> {
        license.validate()?;
        let payload = serde_json::to_vec(license)
            .map_err(|e| LicenseError::Malformed(format!("cannot encode the license: {e}")))?;
        Ok(token::encode(&payload, &self.sign_bytes(&payload)))
    }

    pub(crate) fn sign_bytes(&self, bytes: &[u8]) -> Signature {
        self.signing.sign(bytes)
    }

    /// The key file's text (`ringside license keygen` writes it with mode
    /// 0600): versioned JSON holding the secret and the public key.
    pub fn to_file_text(&self) -> String {
        let file = KeyFile {
            format_version: KEY_FILE_VERSION,
            kind: KEY_FILE_KIND.into(),
            algorithm: ALGORITHM.into(),
            secret_key: STANDARD.encode(self.signing.to_bytes()),
            public_key: self.public_key().to_base64(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a key file's text, checking its version, its algorithm, and
    /// that its public key belongs to its secret key.
    pub fn from_file_text(text: &str) -> Result<VendorKey, LicenseError> {
        let bad = |why: String| LicenseError::MalformedKeyFile(why);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("it is not JSON: {e}")))?;
        match value.get("format_version") {
            Some(serde_json::Value::Number(n))
                if n.as_u64() == Some(u64::from(KEY_FILE_VERSION)) => {}
            Some(other) => {
                return Err(bad(format!(
                    "format version {other} is not supported: this build reads version {KEY_FILE_VERSION}"
                )));
            }
            None => return Err(bad("it has no format_version".into())),
        }
        let file: KeyFile = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        if file.kind != KEY_FILE_KIND {
            return Err(bad(format!(
                "its kind is {:?}, not {KEY_FILE_KIND:?}",
                file.kind
            )));
        }
        if file.algorithm != ALGORITHM {
            return Err(bad(format!(
                "its algorithm is {:?}, not {ALGORITHM:?}",
                file.algorithm
            )));
        }
        let seed: [u8; SECRET_KEY_LENGTH] = decode_base64(&file.secret_key)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                bad(format!(
                    "secret_key is not the base64 of {SECRET_KEY_LENGTH} bytes"
                ))
            })?;
        let key = VendorKey::from_seed(seed);
        let public = PublicKey::parse(&file.public_key)
            .map_err(|_| bad("public_key is not a public key".into()))?;
        if public != key.public_key() {
            return Err(bad(
                "its public_key does not belong to its secret_key: the file was edited or mixed up"
                    .into(),
            ));
        }
        Ok(key)
    }
}

/// A vendor public key: what `ringside.license.verification.key` holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the base64 text of a 32-byte Ed25519 public key (standard or
    /// URL-safe alphabet, padded or not; surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<PublicKey, LicenseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LicenseError::MalformedKey("the key is empty".into()));
        }
        let bytes = decode_base64(text)
            .ok_or_else(|| LicenseError::MalformedKey("it is not base64".into()))?;
        let bytes: [u8; PUBLIC_KEY_LENGTH] = bytes.try_into().map_err(|b: Vec<u8>| {
            LicenseError::MalformedKey(format!("it is {} bytes, not {PUBLIC_KEY_LENGTH}", b.len()))
        })?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| {
                LicenseError::MalformedKey("it is not a point of the Ed25519 curve".into())
            })
    }

    /// The key as standard base64 (44 characters), as `.pub` files hold it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = LicenseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        PublicKey::parse(text)
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_check_themselves() {
        let key = VendorKey::generate().unwrap();
        let text = key.to_file_text();
        let again = VendorKey::from_file_text(&text).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(!format!("{key:?}").contains(&STANDARD.encode(key.signing.to_bytes())));

        let other = VendorKey::from_seed([9; 32]).public_key().to_base64();
        let mixed = text.replace(&key.public_key().to_base64(), &other);
        let error = VendorKey::from_file_text(&mixed).unwrap_err().to_string();
        assert!(
            error.contains("does not belong to its secret_key"),
            "{error}"
        );

        let newer = text.replace("\"format_version\": 1", "\"format_version\": 2");
        let error = VendorKey::from_file_text(&newer).unwrap_err().to_string();
        assert!(
            error.contains("format version 2 is not supported"),
            "{error}"
        );

        let error = VendorKey::from_file_text("garbage")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("malformed vendor key file: it is not JSON"),
            "{error}"
        );
    }

    #[test]
    fn public_keys_parse_in_every_base64_spelling() {
        let key = VendorKey::from_seed([5; 32]).public_key();
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        assert_eq!(PublicKey::parse(&format!(" {text}\n")).unwrap(), key);
        assert_eq!(PublicKey::parse(text.trim_end_matches('=')).unwrap(), key);
        let url = URL_SAFE_NO_PAD.encode(key.0.as_bytes());
        assert_eq!(url.parse::<PublicKey>().unwrap(), key);
        for (bad, says) in [("", "empty"), ("%%%", "not base64"), ("AAAA", "3 bytes")] {
            let error = PublicKey::parse(bad).unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
            assert!(error.contains("expected the base64 text"), "{error}");
        }
    }
}
