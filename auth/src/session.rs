//! Session ids and CSRF tokens for the console's cookie sessions.

use crate::random;
use crate::secret::SecretString;

/// A new session id: 256 random bits, base64url (43 characters), for the
/// session cookie. The console stores only what it needs to find the session;
/// the id is as good as a password while the session lives.
pub fn new_session_id() -> SecretString {
    SecretString::new(random::base64url::<32>())
}

/// A new CSRF token: 256 random bits, base64url, bound to one session and
/// echoed by the browser in a header or form field on unsafe requests.
pub fn new_csrf_token() -> SecretString {
    SecretString::new(random::base64url::<32>())
}

/// Compares two secrets in time that depends on their lengths only, so that
/// response timing does not reveal how many leading bytes of a guess were
/// right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimiser from turning the fold into an early-exit loop.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_and_tokens_are_256_bit_base64url_and_distinct() {
        let ids = [new_session_id(), new_session_id(), new_csrf_token()];
        for id in &ids {
            assert_eq!(id.expose().len(), 43);
            assert!(
                id.expose()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
    }

    #[test]
    fn debug_of_a_session_id_does_not_leak_it() {
        let id = new_session_id();
        assert!(!format!("{id:?}").contains(id.expose()));
    }

    proptest! {
        #[test]
        fn constant_time_eq_agrees_with_eq(a in proptest::collection::vec(any::<u8>(), 0..40),
                                            b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(constant_time_eq(&a, &b), a == b);
            prop_assert!(constant_time_eq(&a, &a));
        }
    }
}
