//! The console's server side, independent of its user interface: the store
//! of registered clusters, the poller that watches them, the operations both
//! the REST API and the Leptos server functions call, and the REST API
//! itself. The `ringside-server` binary wires these to the Leptos app.

pub mod actor;
pub mod api;
pub mod audit;
pub mod charts;
pub mod config;
pub mod error;
pub mod gateway;
pub mod health;
pub mod history;
pub mod identity;
pub mod licenses;
pub mod operations;
pub mod poller;
pub mod remote;
pub mod render;
pub mod scrape;
pub mod secrets;
pub mod state;
pub mod store;
pub mod tenants;

pub use actor::Actor;
pub use config::ConsoleConfig;
pub use error::ConsoleError;
pub use state::AppState;
