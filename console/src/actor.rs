//! Who is acting: the identity every change is made and audited as.
//!
//! [`Actor::from_request`] is the one place an identity comes from a
//! request, for the REST API (through the axum extractor below) and for the
//! UI's server functions alike. There is no login yet, so every request
//! acts as the local bootstrap admin, unless a layer in front of the
//! handlers (the coming authentication gateway) has put an `Actor` into
//! the request's extensions: then that one is used. Adding OIDC means
//! inserting that layer and deciding here what an unauthenticated request
//! becomes; no handler changes.

use std::{convert::Infallible, fmt};

use axum::{extract::FromRequestParts, http::request::Parts};

/// An identity changes are made and recorded as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor(String);

impl Actor {
    /// The console's bootstrap identity, until users log in.
    pub const LOCAL_ADMIN: &'static str = "local-admin";

    /// The identity a request acts as: one an authentication layer put in
    /// its extensions, else the local bootstrap admin.
    pub fn from_request(parts: &Parts) -> Actor {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .unwrap_or_else(Actor::local_admin)
    }

    pub fn local_admin() -> Actor {
        Actor(Self::LOCAL_ADMIN.to_string())
    }

    /// An authenticated identity, by the name it is shown and audited
    /// under: for the authentication layer, and for tests.
    pub fn named(name: impl Into<String>) -> Actor {
        Actor(name.into())
    }

    /// The console acting on its own, such as a scheduled wave of an
    /// operation: `system:<what>`.
    pub fn system(what: &str) -> Actor {
        Actor(format!("system:{what}"))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `actor: Actor` in a handler's arguments: [`Actor::from_request`].
impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Actor::from_request(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_acts_as_the_local_admin_unless_authenticated() {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        assert_eq!(Actor::from_request(&parts).name(), "local-admin");
        parts.extensions.insert(Actor::named("alice@example.com"));
        assert_eq!(Actor::from_request(&parts).name(), "alice@example.com");
        assert_eq!(Actor::system("operations").to_string(), "system:operations");
    }
}
