//! Console-signed tokens: the key file's life cycle, and verification by a
//! coordinator's Validator.

use std::sync::Arc;

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use ringside_auth::jwks::Jwks;
use ringside_auth::jwt::{JwtError, Validator};
use ringside_auth::signer::{ConsoleSigner, SignerError, TOKEN_TTL, coordinator_validator_config};

const CONSOLE: &str = "https://console.ringside.test";

fn coordinator(signer: &ConsoleSigner, cluster: &str) -> Result<Validator> {
    let jwks = Jwks::fixed(&signer.jwks())?;
    Ok(Validator::new(
        coordinator_validator_config(CONSOLE, cluster),
        Arc::new(jwks),
    )?)
}

#[test]
fn the_key_is_created_once_and_reloaded() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("signing-key.json");
    let first = ConsoleSigner::load_or_create(&path, CONSOLE)?;
    let again = ConsoleSigner::load_or_create(&path, CONSOLE)?;
    assert_eq!(first.kid(), again.kid());
    assert_eq!(first.jwks(), again.jwks());
    // Only the key file is left: the temporary file was removed.
    let names: Vec<_> = std::fs::read_dir(dir.path())?
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["signing-key.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
    }
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    assert_eq!(file["format"], "ringside-console-signing-key");
    assert_eq!(file["version"], 1);
    assert_eq!(file["kid"], first.kid());
    Ok(())
}

#[test]
fn the_jwks_publishes_an_okp_ed25519_key_without_private_parts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let signer = ConsoleSigner::load_or_create(&dir.path().join("k.json"), CONSOLE)?;
    let jwks = signer.jwks();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["kid"], signer.kid());
    assert!(key.get("d").is_none());
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    Ok(())
}

#[test]
fn corrupt_and_future_key_files_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("k.json");
    ConsoleSigner::load_or_create(&path, CONSOLE)?;
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;

    std::fs::write(
        &path,
        b"{\"format\": \"ringside-console-signing-key\", \"vers",
    )?;
    let err = ConsoleSigner::load_or_create(&path, CONSOLE).unwrap_err();
    assert!(matches!(err, SignerError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("is corrupt (not a key file"),
        "{err}"
    );
    // Refused, not replaced.
    assert!(std::fs::read_to_string(&path)?.ends_with("\"vers"));

    let mut other_kid = good.clone();
    other_kid["kid"] = "something-else".into();
    std::fs::write(&path, other_kid.to_string())?;
    let err = ConsoleSigner::load_or_create(&path, CONSOLE).unwrap_err();
    assert!(
        err.to_string()
            .contains("kid does not match the private key"),
        "{err}"
    );

    let mut short = good.clone();
    short["private_key"] = "AAAA".into();
    std::fs::write(&path, short.to_string())?;
    let err = ConsoleSigner::load_or_create(&path, CONSOLE).unwrap_err();
    assert!(err.to_string().contains("not 32 bytes"), "{err}");

    let mut newer = good;
    newer["version"] = 2.into();
    std::fs::write(&path, newer.to_string())?;
    let err = ConsoleSigner::load_or_create(&path, CONSOLE).unwrap_err();
    assert!(
        matches!(err, SignerError::UnsupportedVersion { version: 2, .. }),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_coordinator_accepts_its_own_tokens_only() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let signer = ConsoleSigner::load_or_create(&dir.path().join("k.json"), CONSOLE)?;
    let groups = vec!["platform".to_owned()];
    let token = signer.sign("eu-west", "alice", &groups)?;
    assert!(!format!("{token:?}").contains(token.expose()));

    let eu = coordinator(&signer, "eu-west")?;
    let validated = eu.validate_at(token.expose(), Utc::now()).await?;
    assert_eq!(validated.identity.subject, "alice");
    assert_eq!(validated.identity.groups, groups);
    assert_eq!(validated.identity.issuer, CONSOLE);
    assert_eq!(validated.claims["aud"], "ringside-coordinator:eu-west");
    assert!(
        validated.claims["jti"]
            .as_str()
            .is_some_and(|j| j.len() >= 22)
    );
    let lifetime =
        validated.claims["exp"].as_i64().unwrap() - validated.claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, i64::try_from(TOKEN_TTL.as_secs())?);
    // Two calls, two jtis.
    let second = eu
        .validate_at(
            signer.sign("eu-west", "alice", &groups)?.expose(),
            Utc::now(),
        )
        .await?;
    assert_ne!(second.claims["jti"], validated.claims["jti"]);

    let us = coordinator(&signer, "us-east")?;
    let err = us.validate(token.expose()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "audience ringside-coordinator:eu-west is not accepted"
    );

    // Short-lived: refused once the lifetime and the leeway are over.
    let later = Utc::now() + TimeDelta::seconds(120);
    assert!(matches!(
        eu.validate_at(token.expose(), later).await,
        Err(JwtError::Expired(_))
    ));
    Ok(())
}

#[tokio::test]
async fn tokens_of_another_console_key_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ours = ConsoleSigner::load_or_create(&dir.path().join("ours.json"), CONSOLE)?;
    let theirs = ConsoleSigner::load_or_create(&dir.path().join("theirs.json"), CONSOLE)?;
    let token = theirs.sign("eu-west", "mallory", &[])?;
    let err = coordinator(&ours, "eu-west")?
        .validate(token.expose())
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::UnknownKid(_)), "{err}");
    Ok(())
}
