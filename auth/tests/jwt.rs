//! The Validator against forged, stale and misdirected tokens, and key
//! rotation through a JWKS served over HTTP.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use ringside_auth::jwks::{Jwks, JwksConfig};
use ringside_auth::jwt::{JwtError, Validator, ValidatorConfig};
use serde_json::{Value, json};

fn config() -> ValidatorConfig {
    let mut config = ValidatorConfig::new(ISSUER, vec![AUDIENCE.to_owned()]);
    config.roles_claim = "realm_access.roles".to_owned();
    config
}

/// A validator over a fixed key set holding RSA key A and the EC key.
fn validator() -> Validator {
    let (_, _, ec_jwk) = ec_key();
    let jwks = Jwks::fixed(&json!({"keys": [rsa_key("rsa_a").jwk, ec_jwk]})).unwrap();
    Validator::new(config(), Arc::new(jwks)).unwrap()
}

async fn refused(token: &str) -> JwtError {
    validator()
        .validate(token)
        .await
        .expect_err("token must be refused")
}

#[tokio::test]
async fn a_valid_token_maps_to_an_identity() {
    let claims = claims();
    let token = sign_rs256(&rsa_key("rsa_a"), &claims);
    let identity = validator().validate(&token).await.unwrap();
    assert_eq!(identity.subject, "user-42");
    assert_eq!(identity.name, "alice@ringside.test");
    assert_eq!(identity.groups, ["platform"]);
    assert_eq!(identity.roles, ["admin"]);
    assert_eq!(identity.issuer, ISSUER);
    assert_eq!(
        identity.expires_at.timestamp(),
        claims["exp"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn the_name_falls_back_to_preferred_username_then_subject() {
    let key = rsa_key("rsa_a");
    let mut c = claims();
    c.as_object_mut().unwrap().remove("email");
    c["preferred_username"] = json!("alice");
    assert_eq!(
        validator()
            .validate(&sign_rs256(&key, &c))
            .await
            .unwrap()
            .name,
        "alice"
    );
    c.as_object_mut().unwrap().remove("preferred_username");
    assert_eq!(
        validator()
            .validate(&sign_rs256(&key, &c))
            .await
            .unwrap()
            .name,
        "user-42"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let header = json!({"alg": "none", "typ": "JWT", "kid": "test-rsa-a"});
    let err = refused(&raw_token(&header, &claims(), b"")).await;
    assert!(matches!(err, JwtError::AlgNone), "{err}");
    let header = json!({"alg": "None", "typ": "JWT"});
    assert!(matches!(
        refused(&raw_token(&header, &claims(), b"")).await,
        JwtError::AlgNone
    ));
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let key = rsa_key("rsa_a");
    let secret = EncodingKey::from_secret(key.public_pem.as_bytes());
    let token = sign(
        Algorithm::HS256,
        Some(&key.kid),
        Some("JWT"),
        &claims(),
        &secret,
    );
    let err = refused(&token).await;
    assert!(
        matches!(&err, JwtError::AlgorithmNotAllowed(alg) if alg == "HS256"),
        "{err}"
    );
    assert_eq!(err.to_string(), "algorithm HS256 is not accepted");
}

#[tokio::test]
async fn a_key_of_another_type_than_the_header_alg_is_refused() {
    let (ec_kid, ec, _) = ec_key();
    // ES256 with the EC key's own kid is fine...
    let good = sign(Algorithm::ES256, Some(&ec_kid), Some("JWT"), &claims(), &ec);
    validator().validate(&good).await.unwrap();
    // ...but naming the RSA key for an ES256 token is not.
    let confused = sign(
        Algorithm::ES256,
        Some("test-rsa-a"),
        Some("JWT"),
        &claims(),
        &ec,
    );
    let err = refused(&confused).await;
    assert!(
        matches!(&err, JwtError::KeyMismatch { kid, .. } if kid == "test-rsa-a"),
        "{err}"
    );
}

#[tokio::test]
async fn an_algorithm_outside_the_allowlist_is_refused_even_with_a_matching_key() {
    let key = rsa_key("rsa_a");
    let mut c = config();
    c.algorithms = vec![Algorithm::EdDSA];
    let only_eddsa = Validator::new(
        c,
        Arc::new(Jwks::fixed(&json!({"keys": [key.jwk.clone()]})).unwrap()),
    )
    .unwrap();
    let err = only_eddsa
        .validate(&sign_rs256(&key, &claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JwtError::AlgorithmNotAllowed(alg) if alg == "RS256"),
        "{err}"
    );
}

#[tokio::test]
async fn expired_tokens_are_refused_beyond_the_leeway() {
    let key = rsa_key("rsa_a");
    let mut c = claims();
    c["exp"] = json!(now() - 120);
    let err = refused(&sign_rs256(&key, &c)).await;
    assert!(matches!(err, JwtError::Expired(at) if at.timestamp() == c["exp"].as_i64().unwrap()));
    // 10 s late is within the 30 s leeway.
    c["exp"] = json!(now() - 10);
    validator().validate(&sign_rs256(&key, &c)).await.unwrap();
}

#[tokio::test]
async fn tokens_not_yet_valid_are_refused() {
    let key = rsa_key("rsa_a");
    let mut c = claims();
    c["nbf"] = json!(now() + 120);
    assert!(matches!(
        refused(&sign_rs256(&key, &c)).await,
        JwtError::NotYetValid(_)
    ));
    c["nbf"] = json!(now() + 5);
    validator().validate(&sign_rs256(&key, &c)).await.unwrap();
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let mut c = claims();
    c["iss"] = json!("https://evil.test");
    let err = refused(&sign_rs256(&rsa_key("rsa_a"), &c)).await;
    assert_eq!(
        err.to_string(),
        "issuer https://evil.test is not the expected issuer https://idp.ringside.test"
    );
    // Exact match only: a trailing slash is another issuer.
    c["iss"] = json!(format!("{ISSUER}/"));
    assert!(matches!(
        refused(&sign_rs256(&rsa_key("rsa_a"), &c)).await,
        JwtError::WrongIssuer { .. }
    ));
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let key = rsa_key("rsa_a");
    let mut c = claims();
    c["aud"] = json!(["another-app", "yet-another"]);
    let err = refused(&sign_rs256(&key, &c)).await;
    assert_eq!(
        err.to_string(),
        "audience another-app, yet-another is not accepted"
    );
    c["aud"] = json!(["another-app", AUDIENCE]);
    validator().validate(&sign_rs256(&key, &c)).await.unwrap();
    c.as_object_mut().unwrap().remove("aud");
    assert!(matches!(
        refused(&sign_rs256(&key, &c)).await,
        JwtError::MissingClaim("aud")
    ));
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let key = rsa_key("rsa_a");
    let token = sign(
        Algorithm::RS256,
        Some("who-knows"),
        Some("JWT"),
        &claims(),
        &key.encoding,
    );
    let err = refused(&token).await;
    assert!(
        matches!(&err, JwtError::UnknownKid(kid) if kid == "who-knows"),
        "{err}"
    );
}

#[tokio::test]
async fn a_tampered_payload_breaks_the_signature() {
    let token = sign_rs256(&rsa_key("rsa_a"), &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged_claims = claims();
    forged_claims["realm_access"] = json!({"roles": ["admin", "superuser"]});
    forged_claims["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    assert!(matches!(refused(&forged).await, JwtError::BadSignature));
}

#[tokio::test]
async fn wrong_token_types_are_refused() {
    let key = rsa_key("rsa_a");
    let token = sign(
        Algorithm::RS256,
        Some(&key.kid),
        Some("secevent+jwt"),
        &claims(),
        &key.encoding,
    );
    let err = refused(&token).await;
    assert_eq!(err.to_string(), "token type secevent+jwt is not accepted");

    // An access-token validator takes only at+jwt: an ID token (typ JWT)
    // with the right audience is still refused.
    let mut c = config();
    c.token_types = vec!["at+jwt".to_owned()];
    c.require_typ = true;
    let jwks = Arc::new(Jwks::fixed(&json!({"keys": [key.jwk.clone()]})).unwrap());
    let access = Validator::new(c, jwks).unwrap();
    assert!(matches!(
        access.validate(&sign_rs256(&key, &claims())).await,
        Err(JwtError::WrongType(_))
    ));
    let untyped = sign(
        Algorithm::RS256,
        Some(&key.kid),
        None,
        &claims(),
        &key.encoding,
    );
    assert!(matches!(
        access.validate(&untyped).await,
        Err(JwtError::MissingType)
    ));
    let at = sign(
        Algorithm::RS256,
        Some(&key.kid),
        Some("at+jwt"),
        &claims(),
        &key.encoding,
    );
    access.validate(&at).await.unwrap();
}

#[tokio::test]
async fn a_token_without_kid_needs_exactly_one_candidate_key() {
    let (a, b) = (rsa_key("rsa_a"), rsa_key("rsa_b"));
    let untagged = sign(Algorithm::RS256, None, Some("JWT"), &claims(), &a.encoding);
    // One RSA key (the EC key cannot verify RS256): it is used.
    validator().validate(&untagged).await.unwrap();
    let two = Jwks::fixed(&json!({"keys": [a.jwk, b.jwk]})).unwrap();
    let v = Validator::new(config(), Arc::new(two)).unwrap();
    assert!(matches!(
        v.validate(&untagged).await,
        Err(JwtError::AmbiguousKey(Algorithm::RS256))
    ));
}

#[tokio::test]
async fn garbage_is_malformed_not_a_panic() {
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.",
        "e30.e30.",
        "bnVsbA.e30.x",
    ] {
        let err = refused(token).await;
        assert!(matches!(err, JwtError::Malformed(_)), "{token}: {err}");
    }
}

fn jwks_doc(keys: &[&RsaKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

fn fast_config() -> JwksConfig {
    JwksConfig {
        min_refetch_interval: Duration::from_secs(1),
        ..JwksConfig::default()
    }
}

#[tokio::test]
async fn a_new_key_is_accepted_after_a_refetch() {
    let (a, b) = (rsa_key("rsa_a"), rsa_key("rsa_b"));
    let token_b = sign_rs256(&b, &claims());
    let server = JwksServer::start(jwks_doc(&[&a])).await;
    let jwks = Arc::new(Jwks::fetch(&server.url, fast_config()).await.unwrap());
    let v = Validator::new(config(), jwks.clone()).unwrap();
    assert_eq!(server.hits(), 1);

    // The issuer rotates: B is published and starts signing.
    server.set(jwks_doc(&[&a, &b]));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let identity = v.validate(&token_b).await.unwrap();
    assert_eq!(identity.subject, "user-42");
    assert_eq!(server.hits(), 2);
    assert_eq!(jwks.kids(), ["test-rsa-a", "test-rsa-b"]);
    // Known keys need no further requests.
    v.validate(&sign_rs256(&a, &claims())).await.unwrap();
    v.validate(&sign_rs256(&b, &claims())).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn refetches_for_unknown_kids_are_rate_limited() {
    let (a, b) = (rsa_key("rsa_a"), rsa_key("rsa_b"));
    // Signed up front so that slow debug-build RSA signing does not eat into
    // the refetch interval.
    let bogus = sign(
        Algorithm::RS256,
        Some("bogus"),
        Some("JWT"),
        &claims(),
        &a.encoding,
    );
    let token_b = sign_rs256(&b, &claims());
    let server = JwksServer::start(jwks_doc(&[&a])).await;
    let jwks = Arc::new(Jwks::fetch(&server.url, fast_config()).await.unwrap());
    let v = Validator::new(config(), jwks).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    for _ in 0..5 {
        assert!(matches!(
            v.validate(&bogus).await,
            Err(JwtError::UnknownKid(_))
        ));
    }
    assert_eq!(server.hits(), 2, "one refetch for a burst of unknown kids");

    // Within the interval even a real new key waits...
    server.set(jwks_doc(&[&a, &b]));
    assert!(matches!(
        v.validate(&token_b).await,
        Err(JwtError::UnknownKid(_))
    ));
    assert_eq!(server.hits(), 2);
    // ...and is found once the interval has passed.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    v.validate(&token_b).await.unwrap();
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_removed_key_is_refused_after_refresh() {
    let (a, b) = (rsa_key("rsa_a"), rsa_key("rsa_b"));
    let server = JwksServer::start(jwks_doc(&[&a, &b])).await;
    let jwks = Arc::new(
        Jwks::fetch(&server.url, JwksConfig::default())
            .await
            .unwrap(),
    );
    let v = Validator::new(config(), jwks.clone()).unwrap();
    let token_a = sign_rs256(&a, &claims());
    v.validate(&token_a).await.unwrap();

    server.set(jwks_doc(&[&b]));
    // Cached until the refresh.
    v.validate(&token_a).await.unwrap();
    jwks.refresh().await.unwrap();
    let err = v.validate(&token_a).await.unwrap_err();
    assert!(
        matches!(&err, JwtError::UnknownKid(kid) if kid == "test-rsa-a"),
        "{err}"
    );
    v.validate(&sign_rs256(&b, &claims())).await.unwrap();
}

#[tokio::test]
async fn the_periodic_refresh_drops_removed_keys_without_being_asked() {
    let (a, b) = (rsa_key("rsa_a"), rsa_key("rsa_b"));
    // Signed up front: RSA signing in a debug build takes a good part of the
    // refresh interval below.
    let token_a = sign_rs256(&a, &claims());
    let server = JwksServer::start(jwks_doc(&[&a, &b])).await;
    let config_jwks = JwksConfig {
        refresh_interval: Duration::from_secs(1),
        ..JwksConfig::default()
    };
    let jwks = Arc::new(Jwks::fetch(&server.url, config_jwks).await.unwrap());
    let v = Validator::new(config(), jwks).unwrap();
    v.validate(&token_a).await.unwrap();
    assert_eq!(server.hits(), 1);

    server.set(jwks_doc(&[&b]));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(
        v.validate(&token_a).await,
        Err(JwtError::UnknownKid(_))
    ));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn an_unreachable_jwks_uri_fails_at_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/jwks.json");
    let err = Jwks::fetch(&url, JwksConfig::default()).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("fetching the key set from {url} failed")),
        "{err}"
    );
}
