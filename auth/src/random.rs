//! Randomness from the operating system, and the encodings secrets use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Lowercase letters and digits without `l`, `o`, `0` and `1`, which people
/// confuse when they read a password off a screen. Exactly 32 symbols, so one
/// random byte masked to 5 bits picks each symbol uniformly.
const TYPEABLE: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // Without an entropy source no secret this crate makes would be safe;
    // there is no meaningful fallback.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// `N` random bytes as unpadded base64url (cookies, URLs, JSON).
pub(crate) fn base64url<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<N>())
}

/// `len` symbols of the typeable alphabet, 5 bits of entropy each.
pub(crate) fn typeable(len: usize) -> String {
    let mut raw = vec![0u8; len];
    getrandom::fill(&mut raw).expect("the operating system's random number generator failed");
    raw.iter()
        .map(|b| char::from(TYPEABLE[usize::from(b & 31)]))
        .collect()
}

pub(crate) fn is_typeable(c: char) -> bool {
    c.is_ascii() && TYPEABLE.contains(&(c as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typeable_uses_only_the_alphabet_and_varies() {
        let a = typeable(64);
        let b = typeable(64);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(is_typeable), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn base64url_has_the_expected_length() {
        // 32 bytes = 256 bits = 43 unpadded base64 characters.
        assert_eq!(base64url::<32>().len(), 43);
    }
}
