//! Password hashing for the local bootstrap admin.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::random;
use crate::secret::SecretString;

/// Characters in a generated password, before the dashes: 28 symbols of a
/// 32-symbol alphabet carry 140 bits, above the 128 the console promises.
const GENERATED_SYMBOLS: usize = 28;

/// Why hashing or verifying failed (not: a wrong password, which is
/// `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored string is not a PHC string argon2 understands.
    #[error("stored password hash is not a valid phc string: {0}")]
    InvalidHash(String),
    /// The stored hash uses another algorithm than argon2id.
    #[error("stored password hash uses {0}, not argon2id")]
    WrongAlgorithm(String),
    /// Hashing itself failed.
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// Hashes with argon2id and the crate's default cost (19 MiB, 2 passes, 1
/// lane: OWASP's recommendation), returning a PHC string such as
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` that carries its own salt
/// and parameters, so raising the cost later still verifies old hashes.
pub fn hash_password(password: &SecretString) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&random::bytes::<16>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string (in constant time, by
/// argon2's comparison).
pub fn verify_password(password: &SecretString, stored: &str) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(stored).map_err(|e| PasswordError::InvalidHash(e.to_string()))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(PasswordError::WrongAlgorithm(hash.algorithm.to_string()));
    }
    match Argon2::default().verify_password(password.expose().as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::InvalidHash(e.to_string())),
    }
}

/// A password for the bootstrap admin, shown once at first start: 140 random
/// bits as seven dash-separated groups of four lowercase letters and digits
/// (no `l`, `o`, `0`, `1`), e.g. `k7xq-m2ra-...`, easy to read off a terminal
/// and type.
pub fn generate_bootstrap_password() -> SecretString {
    let symbols = random::typeable(GENERATED_SYMBOLS);
    let groups: Vec<&str> = symbols
        .as_bytes()
        .chunks(4)
        .map(|chunk| std::str::from_utf8(chunk).expect("the alphabet is ascii"))
        .collect();
    SecretString::new(groups.join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let password = SecretString::new("correct horse battery staple");
        let stored = hash_password(&password).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert!(!stored.contains("horse"));
        assert!(verify_password(&password, &stored).unwrap());
        assert!(!verify_password(&SecretString::new("wrong"), &stored).unwrap());
        // Salted: the same password hashes differently each time.
        assert_ne!(stored, hash_password(&password).unwrap());
    }

    #[test]
    fn malformed_and_foreign_hashes_are_errors_not_mismatches() {
        let password = SecretString::new("x");
        assert!(matches!(
            verify_password(&password, "not-a-hash"),
            Err(PasswordError::InvalidHash(_))
        ));
        let argon2i = "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$wWKIMhR9lyDFvRz9YTZweHByXt1RLo6S";
        assert!(matches!(
            verify_password(&password, argon2i),
            Err(PasswordError::WrongAlgorithm(alg)) if alg == "argon2i"
        ));
    }

    #[test]
    fn bootstrap_passwords_are_long_typeable_and_distinct() {
        let a = generate_bootstrap_password();
        let b = generate_bootstrap_password();
        assert_ne!(a, b);
        let groups: Vec<&str> = a.expose().split('-').collect();
        assert_eq!(groups.len(), 7);
        assert!(groups.iter().all(|g| g.len() == 4));
        let symbols: String = groups.concat();
        assert!(symbols.chars().all(random::is_typeable));
        // 5 bits per symbol.
        assert!(symbols.len() * 5 >= 128);
    }
}
