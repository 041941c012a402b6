//! Secrets at rest: coordinator access tokens are stored encrypted with
//! XChaCha20-Poly1305 under a key from the console's configuration, so a
//! copy of the database alone gives nothing away. The cluster's name is
//! bound in as associated data: a ciphertext moved to another cluster's row
//! does not decrypt.

use std::{fmt, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use ringside_auth::private_file::{self, Created};

/// The stored form's version prefix; a new scheme gets a new prefix.
const PREFIX: &str = "v1:";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the secret key file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "secret key file {path} is invalid: expected {KEY_LEN} bytes, base64-encoded on one line"
    )]
    BadKey { path: String },
    #[error("a stored secret is unreadable: {0}")]
    Corrupt(&'static str),
}

/// The key secrets are sealed with. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey(chacha20poly1305::Key);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// Reads the key from `path`, making a new random one there (readable
    /// by the owner only) when the file does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, SecretError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = STANDARD
                    .decode(text.trim())
                    .map_err(|_| SecretError::BadKey {
                        path: shown.clone(),
                    })?;
                let key: [u8; KEY_LEN] = bytes
                    .try_into()
                    .map_err(|_| SecretError::BadKey { path: shown })?;
                Ok(SecretKey(key.into()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                let contents = format!("{}\n", STANDARD.encode(key));
                let created = private_file::create(path, contents.as_bytes()).map_err(|e| {
                    SecretError::Create {
                        path: shown.clone(),
                        source: e.source,
                    }
                })?;
                if created == Created::AlreadyExists {
                    // Another console process made one first: use theirs.
                    return Self::load_or_create(path);
                }
                tracing::info!(path = %path.display(), "created a new secret key for tokens at rest");
                Ok(SecretKey(key))
            }
            Err(source) => Err(SecretError::Read {
                path: shown,
                source,
            }),
        }
    }

    /// Seals `secret` for the row of `owner`.
    pub fn seal(&self, owner: &str, secret: &str) -> String {
        let cipher = XChaCha20Poly1305::new(&self.0);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: owner.as_bytes(),
        };
        // Encryption into a Vec only fails on absurd lengths, which the
        // API's size limits rule out; an empty output then fails to open.
        let sealed = cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens what [`SecretKey::seal`] made for `owner`.
    pub fn open(&self, owner: &str, stored: &str) -> Result<String, SecretError> {
        let body = stored
            .strip_prefix(PREFIX)
            .ok_or(SecretError::Corrupt("unknown format version"))?;
        let raw = STANDARD
            .decode(body)
            .map_err(|_| SecretError::Corrupt("not base64"))?;
        if raw.len() < NONCE_LEN {
            return Err(SecretError::Corrupt("too short"));
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| SecretError::Corrupt("too short"))?;
        let cipher = XChaCha20Poly1305::new(&self.0);
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Corrupt("wrong key, or sealed for another cluster"))?;
        String::from_utf8(plain).map_err(|_| SecretError::Corrupt("not text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_for_their_cluster_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let key = SecretKey::load_or_create(&path).unwrap();
        let again = SecretKey::load_or_create(&path).unwrap();
        let sealed = key.seal("alpha", "tok-123");
        assert!(!sealed.contains("tok-123"));
        assert_ne!(
            sealed,
            key.seal("alpha", "tok-123"),
            "fresh nonce each time"
        );
        assert_eq!(again.open("alpha", &sealed).unwrap(), "tok-123");
        assert!(key.open("beta", &sealed).is_err());
        let other = SecretKey::load_or_create(&dir.path().join("other.key")).unwrap();
        assert!(other.open("alpha", &sealed).is_err());
        assert!(key.open("alpha", "v1:!!").is_err());
        assert!(key.open("alpha", "v9:AAAA").is_err());
        assert!(!format!("{key:?}").contains(&STANDARD.encode(key.0)));
    }

    #[test]
    fn a_bad_key_file_is_refused_with_what_is_expected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "short\n").unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("expected 32 bytes"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        SecretKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
