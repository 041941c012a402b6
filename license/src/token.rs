//! The token: a license payload and its signature as one line of text.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{SIGNATURE_LENGTH, Signature};

use crate::{LICENSE_VERSION, License, LicenseError, PublicKey};

/// What every token starts with: `RSL` (Ringside license) and the token
/// format version, then a dot.
pub const TOKEN_PREFIX: &str = "RSL1";

/// Most bytes a token may have; a license is a few hundred.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The token for a payload and its signature.
pub(crate) fn encode(payload: &[u8], signature: &Signature) -> String {
    format!(
        "{TOKEN_PREFIX}.{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// A token taken apart, nothing checked but its shape.
struct Parts {
    payload: Vec<u8>,
    signature: Signature,
}

fn split(token: &str) -> Result<Parts, LicenseError> {
    let malformed = |why: &str| Err(LicenseError::Malformed(why.to_string()));
    // Tokens may arrive wrapped or indented (mail, YAML): whitespace is not
    // part of one.
    let token: String = token.chars().filter(|c| !c.is_whitespace()).collect();
    if token.is_empty() {
        return malformed("the license is empty");
    }
    if token.len() > MAX_TOKEN_LEN {
        return malformed(&format!(
            "the license is {} bytes long, more than the {MAX_TOKEN_LEN} a license can be",
            token.len()
        ));
    }
    let mut parts = token.split('.');
    let (Some(prefix), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return malformed("it is not three parts separated by dots");
    };
    if prefix != TOKEN_PREFIX {
        if let Some(version) = prefix.strip_prefix("RSL")
            && !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(LicenseError::UnsupportedVersion {
                found: version.to_string(),
                expected: 1,
            });
        }
        return malformed(&format!(
            "it starts with {:?} instead of {TOKEN_PREFIX:?}",
            prefix.chars().take(16).collect::<String>()
        ));
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| LicenseError::Malformed(format!("the payload is not base64url: {e}")))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| LicenseError::Malformed(format!("the signature is not base64url: {e}")))?;
    let signature: [u8; SIGNATURE_LENGTH] = signature.try_into().map_err(|bytes: Vec<u8>| {
        LicenseError::Malformed(format!(
            "the signature is {} bytes, not the {SIGNATURE_LENGTH} of an Ed25519 signature",
            bytes.len()
        ))
    })?;
    Ok(Parts {
        payload,
        signature: Signature::from_bytes(&signature),
    })
}

/// The license in a payload, version first so a newer format is named as
/// such rather than as a parse error.
fn parse_payload(payload: &[u8]) -> Result<License, LicenseError> {
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| LicenseError::Malformed(format!("the payload is not JSON: {e}")))?;
    match value.get("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(LICENSE_VERSION)) => {}
        Some(other) => {
            return Err(LicenseError::UnsupportedVersion {
                found: other.to_string(),
                expected: LICENSE_VERSION,
            });
        }
        None => {
            return Err(LicenseError::Malformed(
                "the payload has no version".to_string(),
            ));
        }
    }
    let license: License = serde_json::from_value(value).map_err(|e| {
        LicenseError::Malformed(format!("the payload is not a version 1 license: {e}"))
    })?;
    license.validate()?;
    Ok(license)
}

/// The license in `token` if its signature holds under `key`, its version
/// is one this build reads and its content follows [`License::validate`].
/// The signature is checked before anything in the payload is believed, so
/// a tampered payload is always [`LicenseError::BadSignature`].
pub fn verify(token: &str, key: &PublicKey) -> Result<License, LicenseError> {
    let parts = split(token)?;
    key.verifying_key()
        .verify_strict(&parts.payload, &parts.signature)
        .map_err(|_| LicenseError::BadSignature)?;
    parse_payload(&parts.payload)
}

/// The license in `token` **without checking its signature**: for showing
/// a license when no verification key is at hand (`ringside license
/// inspect` without `--public-key`). Never enforce what this returns.
pub fn decode_unverified(token: &str) -> Result<License, LicenseError> {
    parse_payload(&split(token)?.payload)
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    use super::*;
    use crate::{VendorKey, license::tests::sample};

    fn vendor() -> VendorKey {
        VendorKey::from_seed([42; 32])
    }

    /// A token re-made from (possibly altered) payload and signature bytes.
    fn rebuild(payload: &[u8], signature: &[u8]) -> String {
        format!(
            "{TOKEN_PREFIX}.{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    fn pieces(token: &str) -> (Vec<u8>, Vec<u8>) {
        let mut parts = token.split('.').skip(1);
        (
            URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap(),
            URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap(),
        )
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let token = vendor().sign(&sample()).unwrap();
        assert!(token.starts_with("RSL1."));
        assert!(!token.contains(['\n', ' ', '=']), "one line: {token}");
        assert_eq!(verify(&token, &vendor().public_key()).unwrap(), sample());
        assert_eq!(decode_unverified(&token).unwrap(), sample());
        // Wrapped over lines, as mail does, it is still the same token.
        let wrapped: String = token
            .as_bytes()
            .chunks(40)
            .map(|c| format!("  {}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(verify(&wrapped, &vendor().public_key()).unwrap(), sample());
    }

    #[test]
    fn another_vendors_key_is_a_bad_signature() {
        let token = vendor().sign(&sample()).unwrap();
        let other = VendorKey::from_seed([1; 32]).public_key();
        let error = verify(&token, &other).unwrap_err();
        assert_eq!(error, LicenseError::BadSignature);
        assert!(error.to_string().contains("forged or tampered"), "{error}");
    }

    #[test]
    fn tampered_limits_are_refused() {
        let token = vendor().sign(&sample()).unwrap();
        let (payload, signature) = pieces(&token);
        let text = String::from_utf8(payload).unwrap();
        let tampered = text.replace("\"max_workers\":3", "\"max_workers\":300");
        assert_ne!(tampered, text);
        let forged = rebuild(tampered.as_bytes(), &signature);
        assert_eq!(
            verify(&forged, &vendor().public_key()),
            Err(LicenseError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_say_what_is_expected() {
        let key = vendor().public_key();
        for (token, says) in [
            ("", "empty"),
            ("hello", "three parts"),
            ("RSL1.a.b.c", "three parts"),
            ("JWT.abc.def", "instead of \"RSL1\""),
            ("RSL1.!!!.AAAA", "payload is not base64url"),
            ("RSL1.e30.***", "signature is not base64url"),
            ("RSL1.e30.AAAA", "not the 64 of an Ed25519 signature"),
        ] {
            let error = verify(token, &key).unwrap_err();
            assert!(
                matches!(error, LicenseError::Malformed(_)),
                "{token}: {error:?}"
            );
            assert!(error.to_string().contains(says), "{token}: {error}");
            assert!(
                error.to_string().contains("expected one line RSL1."),
                "{error}"
            );
        }
        let error = verify("RSL2.e30.AAAA", &key).unwrap_err();
        assert_eq!(
            error.to_string(),
            "license format version 2 is not supported: this build reads version 1"
        );
    }

    #[test]
    fn a_signed_payload_of_another_version_is_named_as_such() {
        let key = VendorKey::from_seed([3; 32]);
        let payload = br#"{"version":2,"id":"L-9","anything":"new"}"#;
        let token = encode(payload, &key.sign_bytes(payload));
        let error = verify(&token, &key.public_key()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "license format version 2 is not supported: this build reads version 1"
        );
        let payload = br#"{"id":"L-9"}"#;
        let token = encode(payload, &key.sign_bytes(payload));
        assert!(
            verify(&token, &key.public_key())
                .unwrap_err()
                .to_string()
                .contains("no version")
        );
        let payload = br#"{"version":1,"id":"L-9"}"#;
        let token = encode(payload, &key.sign_bytes(payload));
        assert!(
            verify(&token, &key.public_key())
                .unwrap_err()
                .to_string()
                .contains("not a version 1 license")
        );
    }

    #[test]
    fn a_signed_license_that_breaks_the_rules_is_invalid() {
        let key = VendorKey::from_seed([3; 32]);
        let mut license = sample();
        license.clusters = vec!["a".into(), "b".into()];
        let payload = serde_json::to_vec(&license).unwrap();
        let token = encode(&payload, &key.sign_bytes(&payload));
        let error = verify(&token, &key.public_key()).unwrap_err();
        assert!(matches!(error, LicenseError::Invalid { .. }), "{error:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn flipping_any_payload_byte_is_refused(index in any::<prop::sample::Index>(), bit in 0u8..8) {
            let token = vendor().sign(&sample()).unwrap();
            let (mut payload, signature) = pieces(&token);
            let i = index.index(payload.len());
            payload[i] ^= 1 << bit;
            prop_assert_eq!(
                verify(&rebuild(&payload, &signature), &vendor().public_key()),
                Err(LicenseError::BadSignature)
            );
        }

        #[test]
        fn flipping_any_signature_byte_is_refused(index in any::<prop::sample::Index>(), bit in 0u8..8) {
            let token = vendor().sign(&sample()).unwrap();
            let (payload, mut signature) = pieces(&token);
            let i = index.index(signature.len());
            signature[i] ^= 1 << bit;
            prop_assert_eq!(
                verify(&rebuild(&payload, &signature), &vendor().public_key()),
                Err(LicenseError::BadSignature)
            );
        }

        #[test]
        fn changing_any_character_of_the_token_is_refused(
            index in any::<prop::sample::Index>(),
            replacement in proptest::char::range('-', 'z'),
        ) {
            let token = vendor().sign(&sample()).unwrap();
            let i = index.index(token.len());
            prop_assume!(token.as_bytes()[i] as char != replacement);
            let mut changed = token.clone();
            changed.replace_range(i..=i, &replacement.to_string());
            prop_assert!(verify(&changed, &vendor().public_key()).is_err());
        }

        #[test]
        fn arbitrary_text_never_verifies_or_panics(text in ".{0,300}") {
            prop_assert!(verify(&text, &vendor().public_key()).is_err());
            let _ = decode_unverified(&text);
        }

        #[test]
        fn every_valid_license_round_trips(
            workers in proptest::option::of(1u32..10_000),
            capacity in proptest::option::of(1u64..u64::MAX),
            days in 1i64..5000,
            clusters in proptest::collection::btree_set("[a-z][a-z0-9-]{0,20}[a-z0-9]", 1..5),
        ) {
            let mut license = sample();
            license.kind = LicenseKind::Deployment;
            license.clusters = clusters.into_iter().collect();
            license.limits = crate::Limits { max_workers: workers, max_capacity_bytes: capacity };
            license.expires_at = license.issued_at + chrono::Duration::days(days);
            let token = vendor().sign(&license).unwrap();
            prop_assert_eq!(verify(&token, &vendor().public_key()).unwrap(), license);
        }
    }

    use crate::LicenseKind;
}
