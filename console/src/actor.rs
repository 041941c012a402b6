//! Who is acting: the identity every request is authorized, made and
//! audited as.
//!
//! The gateway (`crate::gateway`) is the one place an `Actor` is made from
//! a request: from its session cookie or its bearer credential. It puts the
//! actor into the request's extensions, and [`Actor::from_request`] takes it
//! from there for the REST API (through the axum extractor below) and for
//! the UI's server functions alike. A request that reached a handler without
//! passing the gateway has no actor and is refused, so a route wired past
//! the gateway by mistake fails closed.

use std::fmt;

use axum::{extract::FromRequestParts, http::request::Parts};
use ringside_api::http::ApiError;

/// An identity requests are authorized and recorded as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    name: String,
    groups: Vec<String>,
    roles: Vec<String>,
    /// A read-scoped API token: changes are refused whatever the roles.
    read_only: bool,
}

impl Actor {
    /// The identity the gateway put into this request, if it passed one.
    pub fn from_request(parts: &Parts) -> Option<Actor> {
        parts.extensions.get::<Actor>().cloned()
    }

    /// A user with groups and roles, as the identity provider (or the
    /// console's own account store) names them.
    pub fn user(name: impl Into<String>, groups: Vec<String>, roles: Vec<String>) -> Actor {
        Actor {
            name: name.into(),
            groups,
            roles,
            read_only: false,
        }
    }

    /// An identity known by name only: for records and tests.
    pub fn named(name: impl Into<String>) -> Actor {
        Actor::user(name, Vec::new(), Vec::new())
    }

    /// The console acting on its own, such as a scheduled wave of an
    /// operation: `system:<what>`.
    pub fn system(what: &str) -> Actor {
        Actor::named(format!("system:{what}"))
    }

    /// The same identity, limited to reads (a read-scoped API token).
    pub fn read_only(mut self) -> Actor {
        self.read_only = true;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `actor: Actor` in a handler's arguments: [`Actor::from_request`], or
/// 401 when the request did not pass the gateway.
impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Actor::from_request(parts).ok_or_else(ApiError::unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_has_an_actor_only_once_the_gateway_put_one_in() {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        assert_eq!(Actor::from_request(&parts), None);
        parts.extensions.insert(Actor::user(
            "alice",
            vec!["platform".into()],
            vec!["admin".into()],
        ));
        let alice = Actor::from_request(&parts).expect("the actor put in");
        assert_eq!(alice.name(), "alice");
        assert_eq!(alice.groups(), ["platform"]);
        assert!(!alice.is_read_only());
        assert!(alice.read_only().is_read_only());
        assert_eq!(Actor::system("operations").to_string(), "system:operations");
    }
}
