//! The console daemon's configuration: every setting, its flag, its
//! environment variable and its default, in one place.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

use crate::{history::Retention, poller::PollerConfig};

#[derive(Args, Clone, Debug)]
pub struct ConsoleConfig {
    /// Address the console listens on.
    #[arg(
        long,
        env = "RINGSIDE_CONSOLE_LISTEN",
        default_value = "127.0.0.1:3000"
    )]
    pub listen: SocketAddr,

    /// Directory for the console's own files (the SQLite database by default).
    #[arg(
        long,
        env = "RINGSIDE_CONSOLE_DATA_DIR",
        default_value = "ringside-console-data"
    )]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    /// Defaults to `console.db` in the data directory.
    #[arg(long, env = "RINGSIDE_CONSOLE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Time between two polls of every cluster, e.g. `10s` or `1m`.
    #[arg(long, env = "RINGSIDE_CONSOLE_POLL_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,

    /// How long one coordinator may take to answer a poll.
    #[arg(long, env = "RINGSIDE_CONSOLE_POLL_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub poll_timeout: Duration,

    /// How many coordinators are polled at once. Each gets its requests one
    /// after another, so this many is what keeps a round of 1,000 clusters
    /// 50 ms away near 1.5 s.
    #[arg(long, env = "RINGSIDE_CONSOLE_POLL_CONCURRENCY", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub poll_concurrency: u16,

    /// Longest wait between two polls of a cluster that stays unreachable;
    /// the wait doubles from the poll interval with each failed poll.
    #[arg(long, env = "RINGSIDE_CONSOLE_POLL_MAX_BACKOFF", default_value = "5m", value_parser = humantime::parse_duration)]
    pub poll_max_backoff: Duration,

    /// How long raw metrics samples are kept.
    #[arg(long, env = "RINGSIDE_CONSOLE_HISTORY_RAW_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub history_raw_retention: Duration,

    /// How long one-minute rollups of the metrics are kept.
    #[arg(long, env = "RINGSIDE_CONSOLE_HISTORY_ROLLUP_RETENTION", default_value = "30days", value_parser = humantime::parse_duration)]
    pub history_rollup_retention: Duration,

    /// File holding the key that seals coordinator access tokens at rest
    /// (32 bytes, base64). Made at first start when missing. Defaults to
    /// `secret.key` in the data directory.
    #[arg(long, env = "RINGSIDE_CONSOLE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// Directory holding the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    #[command(flatten)]
    pub identity: IdentityConfig,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// How people and automation prove who they are.
#[derive(Args, Clone, Debug)]
pub struct IdentityConfig {
    /// The URL browsers reach the console at, e.g. `https://ringside.example.com`:
    /// the base of the OIDC redirect URI, the issuer of the tokens the console
    /// signs for coordinators, and (when `https`) what makes session cookies
    /// `Secure`. Defaults to `http://` and the listen address.
    #[arg(long, env = "RINGSIDE_CONSOLE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The OpenID provider's issuer URL (Okta, Keycloak, Entra ID, Dex...).
    /// Discovery at `<issuer>/.well-known/openid-configuration` finds the
    /// rest. Leave unset for the bootstrap admin only.
    #[arg(long, env = "RINGSIDE_CONSOLE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The console's client id at the provider.
    #[arg(
        long,
        env = "RINGSIDE_CONSOLE_OIDC_CLIENT_ID",
        default_value = "ringside-console"
    )]
    pub oidc_client_id: String,

    /// File holding the client secret (kept out of the command line and the
    /// environment, which other processes can read). None for a public client.
    #[arg(long, env = "RINGSIDE_CONSOLE_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,

    /// Scopes asked for at login, separated by spaces; `openid` is always added.
    #[arg(
        long,
        env = "RINGSIDE_CONSOLE_OIDC_SCOPES",
        default_value = "openid profile email"
    )]
    pub oidc_scopes: String,

    /// The claim holding the user's groups; a dot path for nested claims.
    #[arg(
        long,
        env = "RINGSIDE_CONSOLE_OIDC_GROUPS_CLAIM",
        default_value = "groups"
    )]
    pub oidc_groups_claim: String,

    /// The claim holding the user's console roles (`super-admin`, `admin`,
    /// `viewer`), e.g. `realm_access.roles` on Keycloak.
    #[arg(
        long,
        env = "RINGSIDE_CONSOLE_OIDC_ROLES_CLAIM",
        default_value = "roles"
    )]
    pub oidc_roles_claim: String,

    /// Audience of the provider's access tokens that automation may send as
    /// `Authorization: Bearer` (the API's resource indicator). Unset: only
    /// sessions and console API tokens are accepted.
    #[arg(long, env = "RINGSIDE_CONSOLE_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// Turns the local bootstrap admin off; allowed only with an OIDC issuer,
    /// so that someone can still log in.
    #[arg(long, env = "RINGSIDE_CONSOLE_DISABLE_BOOTSTRAP_ADMIN")]
    pub disable_bootstrap_admin: bool,

    /// Where the bootstrap admin's password, generated at first start, is
    /// written (mode 0600) instead of being printed once on standard error.
    #[arg(long, env = "RINGSIDE_CONSOLE_BOOTSTRAP_PASSWORD_FILE")]
    pub bootstrap_password_file: Option<PathBuf>,

    /// How long a login lasts.
    #[arg(long, env = "RINGSIDE_CONSOLE_SESSION_TTL", default_value = "12h", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,

    /// The Ed25519 key the console signs its calls to coordinators with.
    /// Made at first start when missing. Defaults to `signing.key` in the
    /// data directory.
    #[arg(long, env = "RINGSIDE_CONSOLE_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
}

/// Which Rego policy authorizes requests, and where decisions are logged.
#[derive(Args, Clone, Debug)]
pub struct PolicyArgs {
    /// Rego files to load (repeat the flag for several), watched and
    /// reloaded when changed. None: the shipped role policy.
    #[arg(
        long = "policy-file",
        env = "RINGSIDE_CONSOLE_POLICY_FILES",
        value_delimiter = ','
    )]
    pub policy_files: Vec<PathBuf>,

    /// The rule that decides, as `data.<package>.<rule>`.
    #[arg(long, env = "RINGSIDE_CONSOLE_POLICY_QUERY", default_value = ringside_policy::DEFAULT_QUERY)]
    pub policy_query: String,

    /// Ask an external OPA server instead, at this base URL
    /// (e.g. `http://127.0.0.1:8181`); the policy files are then unused.
    #[arg(long, env = "RINGSIDE_CONSOLE_OPA_URL")]
    pub opa_url: Option<String>,

    /// The decision's path under OPA's `/v1/data/`.
    #[arg(long, env = "RINGSIDE_CONSOLE_OPA_DECISION_PATH", default_value = ringside_policy::DEFAULT_OPA_DECISION_PATH)]
    pub opa_decision_path: String,

    /// JSON-lines file every decision is appended to. Defaults to
    /// `decisions.log` in the data directory.
    #[arg(long, env = "RINGSIDE_CONSOLE_DECISION_LOG")]
    pub decision_log: Option<PathBuf>,
}

impl ConsoleConfig {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("console.db").display()))
    }

    pub fn secret_key_file(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    /// The URL browsers reach the console at, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.identity
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn signing_key_file(&self) -> PathBuf {
        self.identity
            .signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("signing.key"))
    }

    /// The policy engine's configuration.
    pub fn policy(&self) -> ringside_policy::PolicyConfig {
        use ringside_policy::{BackendConfig, EmbeddedConfig, OpaConfig, PolicyConfig};
        let args = &self.policy;
        let backend = match &args.opa_url {
            Some(url) => BackendConfig::Opa(OpaConfig {
                decision_path: args.opa_decision_path.clone(),
                ..OpaConfig::new(url.clone())
            }),
            None => BackendConfig::Embedded(EmbeddedConfig {
                policy_files: args.policy_files.clone(),
                query: args.policy_query.clone(),
                ..EmbeddedConfig::default()
            }),
        };
        PolicyConfig {
            backend,
            decision_log: Some(
                args.decision_log
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("decisions.log")),
            ),
            ..PolicyConfig::default()
        }
    }

    pub fn poller(&self) -> PollerConfig {
        PollerConfig {
            interval: self.poll_interval,
            timeout: self.poll_timeout,
            concurrency: usize::from(self.poll_concurrency),
            max_backoff: self.poll_max_backoff,
            retention: Retention {
                raw: self.history_raw_retention,
                rollups: self.history_rollup_retention,
            },
        }
    }
}
