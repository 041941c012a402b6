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

    /// How many coordinators are polled at once.
    #[arg(long, env = "RINGSIDE_CONSOLE_POLL_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
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
