//! A string that must never reach a log line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A password, token, session id, client secret or PKCE verifier.
///
/// `Debug` prints `<redacted>` and there is no `Display`, so a secret cannot
/// slip into a `tracing` field or an error message by accident; reading it
/// takes an explicit [`SecretString::expose`]. Serde sees the real value,
/// because the console has to store pending logins and hand tokens to the user
/// exactly once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// A new random secret: 256 bits as 43 base64url characters, for shared
    /// secrets a machine generates and another reads from a file.
    pub fn generate() -> Self {
        Self(crate::random::base64url::<32>())
    }

    /// The secret itself, for the one place that needs it (a hash, a header,
    /// a form field).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = SecretString::new("hunter2-very-secret");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }
}
