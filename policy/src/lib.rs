//! Authorization for the Ringside console.
//!
//! Every page, server function and REST call of the console passes a gateway
//! that asks this crate one question: may this user do this action on this
//! resource? The answer comes from a Rego policy, evaluated in process by the
//! `regorus` engine (the default, with the shipped role policy
//! `rego/ringside.rego`) or by an external OPA server over its REST Data API.
//! Anything the policy does not allow is denied, and so is every request the
//! policy cannot answer. Decisions go to a JSON-lines decision log and to a
//! short in-memory list for the console's policy page; the simulator answers
//! "would this user be allowed?" with the same policy, without logging.
//!
//! ```
//! use ringside_policy::{Action, Input, PolicyConfig, PolicyEngine, Resource};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ringside_policy::PolicyError> {
//! let engine = PolicyEngine::new(&PolicyConfig::default())?;
//! let input = Input::new(
//!     "alice",
//!     vec!["payments".into()],
//!     vec!["admin".into()],
//!     Action::ClusterUpdate,
//!     Resource::new("cluster").on_cluster("eu-1").in_group("payments"),
//! );
//! let decision = engine.authorize(&input).await;
//! assert!(decision.allow);
//! assert_eq!(engine.recent_decisions().len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! Roles in the shipped policy: `super-admin` may do every action; `admin`
//! may read everything and change resources owned by one of their groups
//! (`resource.group`); `viewer` may read everything; no role, nothing.

mod action;
mod config;
mod decision_log;
mod embedded;
mod engine;
mod error;
mod input;
#[cfg(test)]
mod matrix;
mod opa;

pub use action::Action;
pub use config::{
    BackendConfig, DEFAULT_OPA_DECISION_PATH, DEFAULT_OPA_TIMEOUT, DEFAULT_QUERY,
    DEFAULT_RECENT_DECISIONS, DEFAULT_RELOAD_INTERVAL, EmbeddedConfig, OpaConfig, PolicyConfig,
};
pub use decision_log::{DecisionLog, DecisionRecord, Verdict};
pub use engine::{Decision, PolicyEngine, PolicyStatus};
pub use error::PolicyError;
pub use input::{Input, Resource};
