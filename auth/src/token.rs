//! Console API tokens for scripts and the CLI: `rst_<id>_<secret>`.
//!
//! The id is public (it names the token in listings and audit lines and
//! finds the stored record); the secret is shown once at creation and only
//! its SHA-256 is stored. A plain hash suffices, unlike passwords: the secret
//! is 260 random bits, so there is nothing to brute-force.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::random;
use crate::secret::SecretString;
use crate::session::constant_time_eq;

/// What every console API token starts with.
pub const PREFIX: &str = "rst_";
/// 16 symbols of 5 bits: 80 bits, plenty to keep ids unique.
const ID_LEN: usize = 16;
/// 52 symbols of 5 bits: 260 bits.
const SECRET_LEN: usize = 52;

/// What a token may do. The console's policy maps scopes to routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read-only calls: `GET` of fleet state, metrics, jobs, licenses.
    Read,
    /// Mutating calls too: registering clusters, starting jobs and bulk
    /// operations, applying licenses.
    Write,
}

impl Scope {
    /// The scope as written in token records and policy input.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            other => Err(TokenError::UnknownScope(other.to_owned())),
        }
    }
}

/// A token as the console stores it: no secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The public id, the middle part of the token.
    pub id: String,
    /// What the owner called it, e.g. `nightly-load-job`.
    pub name: String,
    /// The user the token acts for.
    pub owner: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Lowercase hex SHA-256 of the secret part.
    pub secret_sha256: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `None` for no expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set when the owner or an admin revokes it.
    pub revoked: bool,
}

/// A freshly issued token: the full token to show once, and the record to
/// store.
#[derive(Debug)]
pub struct IssuedToken {
    /// `rst_<id>_<secret>`, never stored.
    pub token: SecretString,
    /// What the console stores.
    pub stored: StoredToken,
}

/// A token split into its parts.
#[derive(Debug)]
pub struct PresentedToken {
    /// The public id, to look up the stored record.
    pub id: String,
    secret: SecretString,
}

/// Why a presented token is refused, or a scope name is unknown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a Ringside token at all (maybe a JWT in the wrong place).
    #[error("api token does not start with {PREFIX}")]
    MissingPrefix,
    /// Not `rst_<id>_<secret>`.
    #[error("api token is not of the form rst_<id>_<secret>")]
    Shape,
    /// The id part has the wrong length.
    #[error("api token id has {0} characters, expected {ID_LEN}")]
    IdLength(usize),
    /// The secret part has the wrong length (truncated when pasted?).
    #[error("api token secret has {0} characters, expected {SECRET_LEN}")]
    SecretLength(usize),
    /// A character outside the token alphabet.
    #[error(
        "api token contains characters outside its alphabet (lowercase letters and digits 2-9)"
    )]
    Alphabet,
    /// The token is for another record than the one it is checked against.
    #[error("api token id does not match the stored token")]
    IdMismatch,
    /// Wrong secret for this id.
    #[error("api token secret is wrong")]
    WrongSecret,
    /// Revoked.
    #[error("api token {0} was revoked")]
    Revoked(String),
    /// Past its expiry.
    #[error("api token {id} expired at {at}")]
    Expired {
        /// The token id.
        id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A scope name that is not `read` or `write`.
    #[error("unknown scope {0}, expected read or write")]
    UnknownScope(String),
}

/// Issues a new token.
pub fn issue(
    name: &str,
    owner: &str,
    scopes: Vec<Scope>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> IssuedToken {
    let id = random::typeable(ID_LEN);
    let secret = random::typeable(SECRET_LEN);
    let stored = StoredToken {
        id: id.clone(),
        name: name.to_owned(),
        owner: owner.to_owned(),
        scopes,
        secret_sha256: sha256_hex(&secret),
        created_at: now,
        expires_at,
        revoked: false,
    };
    IssuedToken {
        token: SecretString::new(format!("{PREFIX}{id}_{secret}")),
        stored,
    }
}

/// Splits a presented token, explaining what is wrong with a malformed one.
pub fn parse(presented: &str) -> Result<PresentedToken, TokenError> {
    let rest = presented
        .strip_prefix(PREFIX)
        .ok_or(TokenError::MissingPrefix)?;
    let (id, secret) = rest.split_once('_').ok_or(TokenError::Shape)?;
    if secret.contains('_') {
        return Err(TokenError::Shape);
    }
    if id.chars().count() != ID_LEN {
        return Err(TokenError::IdLength(id.chars().count()));
    }
    if secret.chars().count() != SECRET_LEN {
        return Err(TokenError::SecretLength(secret.chars().count()));
    }
    if !id.chars().chain(secret.chars()).all(random::is_typeable) {
        return Err(TokenError::Alphabet);
    }
    Ok(PresentedToken {
        id: id.to_owned(),
        secret: SecretString::new(secret),
    })
}

/// Checks a presented token against its stored record as of `now`.
pub fn verify(presented: &str, stored: &StoredToken, now: DateTime<Utc>) -> Result<(), TokenError> {
    let token = parse(presented)?;
    if token.id != stored.id {
        return Err(TokenError::IdMismatch);
    }
    let hash = sha256_hex(token.secret.expose());
    if !constant_time_eq(hash.as_bytes(), stored.secret_sha256.as_bytes()) {
        return Err(TokenError::WrongSecret);
    }
    if stored.revoked {
        return Err(TokenError::Revoked(stored.id.clone()));
    }
    if let Some(at) = stored.expires_at
        && now >= at
    {
        return Err(TokenError::Expired {
            id: stored.id.clone(),
            at,
        });
    }
    Ok(())
}

/// Lowercase hex SHA-256 of `secret`: how tokens, session ids and login
/// states are stored.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_and_only_its_hash_is_stored() {
        let issued = issue("ci", "alice", vec![Scope::Read], None, now());
        let token = issued.token.expose();
        assert!(token.starts_with("rst_"));
        assert_eq!(token.len(), 4 + ID_LEN + 1 + SECRET_LEN);
        let secret = token.rsplit('_').next().unwrap();
        let stored = serde_json::to_string(&issued.stored).unwrap();
        assert!(!stored.contains(secret));
        assert!(!format!("{issued:?}").contains(secret));
        assert_eq!(verify(token, &issued.stored, now()), Ok(()));
    }

    #[test]
    fn wrong_secret_revoked_expired_and_other_ids_are_refused() {
        let expiry = now() + TimeDelta::hours(1);
        let issued = issue("ci", "alice", vec![Scope::Write], Some(expiry), now());
        let token = issued.token.expose();

        let last = token.chars().last().unwrap();
        let other = if last == 'a' { 'b' } else { 'a' };
        let tampered = format!("{}{other}", &token[..token.len() - 1]);
        assert_eq!(
            verify(&tampered, &issued.stored, now()),
            Err(TokenError::WrongSecret)
        );

        let mut revoked = issued.stored.clone();
        revoked.revoked = true;
        assert_eq!(
            verify(token, &revoked, now()),
            Err(TokenError::Revoked(issued.stored.id.clone()))
        );

        assert_eq!(
            verify(token, &issued.stored, expiry),
            Err(TokenError::Expired {
                id: issued.stored.id.clone(),
                at: expiry
            })
        );
        assert_eq!(
            verify(token, &issued.stored, expiry - TimeDelta::seconds(1)),
            Ok(())
        );

        let another = issue("other", "bob", vec![], None, now());
        assert_eq!(
            verify(another.token.expose(), &issued.stored, now()),
            Err(TokenError::IdMismatch)
        );
    }

    #[test]
    fn malformed_tokens_are_explained() {
        let good_id = "a".repeat(ID_LEN);
        let good_secret = "b".repeat(SECRET_LEN);
        let cases = [
            ("eyJhbGciOi.x.y".to_owned(), TokenError::MissingPrefix),
            ("rst_nounderscore".to_owned(), TokenError::Shape),
            (format!("rst_{good_id}_{good_secret}_x"), TokenError::Shape),
            (format!("rst_abc_{good_secret}"), TokenError::IdLength(3)),
            (format!("rst_{good_id}_short"), TokenError::SecretLength(5)),
            (
                format!("rst_{good_id}_{}", "0".repeat(SECRET_LEN)),
                TokenError::Alphabet,
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(parse(&token).unwrap_err(), expected, "{token}");
        }
    }

    #[test]
    fn scopes_parse_and_print_as_lowercase_words() {
        assert_eq!("read".parse::<Scope>(), Ok(Scope::Read));
        assert_eq!(Scope::Write.to_string(), "write");
        assert_eq!(serde_json::to_string(&Scope::Write).unwrap(), "\"write\"");
        assert_eq!(
            "admin".parse::<Scope>().unwrap_err().to_string(),
            "unknown scope admin, expected read or write"
        );
    }
}
