//! Ringside's identity layer: who is calling, proven how.
//!
//! The console's gateway, in front of every route, accepts either a session
//! cookie (a browser that logged in through the configured OpenID provider,
//! [`oidc`], or as the local bootstrap admin, [`password`]; sessions and
//! their CSRF tokens come from [`session`]) or an `Authorization: Bearer`
//! credential: a JWT access token from the provider for automation, checked
//! by [`jwt::Validator`] against the provider's key set ([`jwks`]), or a
//! console API token `rst_<id>_<secret>` ([`token`]). Each path ends in an
//! identity (subject, groups, roles) that the Rego policy then authorises.
//! When the console calls a coordinator for a user, it signs a short-lived
//! Ed25519 JWT naming that user ([`signer`]) and publishes the public key at
//! `/api/v1/jwks.json`; coordinators verify those calls with the same
//! [`jwt::Validator`]. Every failure is a typed error that the console maps
//! to HTTP 401, and every secret is a [`SecretString`] that does not print.
//!
//! The crate does the pure work and the HTTP calls to identity providers;
//! storing sessions, pending logins and token records is the console's.

pub mod jwks;
pub mod jwt;
pub mod oidc;
pub mod password;
pub mod private_file;
mod random;
pub mod secret;
pub mod session;
pub mod signer;
pub mod token;

pub use jwt::{Identity, Validator, ValidatorConfig};
pub use secret::SecretString;
