//! How the console configures authorization. Every default is here.

use std::path::PathBuf;
use std::time::Duration;

/// The rule the embedded engine evaluates unless told otherwise.
pub const DEFAULT_QUERY: &str = "data.ringside.authz.allow";
/// How often the embedded engine looks at its policy files for changes.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// The OPA decision the OPA backend asks for, under `/v1/data/`.
pub const DEFAULT_OPA_DECISION_PATH: &str = "ringside/authz/allow";
/// How long the OPA backend waits for an answer before denying.
pub const DEFAULT_OPA_TIMEOUT: Duration = Duration::from_millis(500);
/// How many recent decisions the console's policy page can show.
pub const DEFAULT_RECENT_DECISIONS: usize = 200;

/// Everything [`PolicyEngine::new`](crate::PolicyEngine::new) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Who evaluates the policy.
    pub backend: BackendConfig,
    /// Where decisions are appended as JSON lines; `None` keeps them in
    /// memory only.
    pub decision_log: Option<PathBuf>,
    /// How many recent decisions are kept in memory for the policy page.
    pub recent_decisions: usize,
}

impl Default for PolicyConfig {
    /// The shipped policy in the embedded engine, no decision log file.
    fn default() -> Self {
        PolicyConfig {
            backend: BackendConfig::Embedded(EmbeddedConfig::default()),
            decision_log: None,
            recent_decisions: DEFAULT_RECENT_DECISIONS,
        }
    }
}

/// The two ways to evaluate a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// In process, by the `regorus` Rego engine: no extra service to run.
    Embedded(EmbeddedConfig),
    /// By an external OPA server, for sites that manage policy centrally.
    Opa(OpaConfig),
}

/// The embedded engine's policy sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// Rego files to load together; empty means the shipped
    /// `rego/ringside.rego`. They are watched and reloaded on change.
    pub policy_files: Vec<PathBuf>,
    /// The rule to evaluate, as a rule path (`data.<package>.<rule>`). It
    /// must yield `true` or `false`; anything else denies.
    pub query: String,
    /// How often the files are checked for changes, at most. The check runs
    /// on the decision path, so nothing is checked while no one asks.
    pub reload_interval: Duration,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            policy_files: Vec::new(),
            query: DEFAULT_QUERY.to_owned(),
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

/// Where an OPA server is and which decision to ask it for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaConfig {
    /// The server's base URL, such as `http://127.0.0.1:8181`.
    pub url: String,
    /// The decision, as the path under `/v1/data/` (`ringside/authz/allow`).
    pub decision_path: String,
    /// How long to wait for an answer; past it the request is denied.
    pub timeout: Duration,
}

impl OpaConfig {
    /// An OPA at `url` asked for the default decision with the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        OpaConfig {
            url: url.into(),
            decision_path: DEFAULT_OPA_DECISION_PATH.to_owned(),
            timeout: DEFAULT_OPA_TIMEOUT,
        }
    }
}
