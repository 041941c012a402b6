//! The command line, as the reference guide's commands are written.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "ringside",
    version,
    about = "Operate Ringside read-cache clusters"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Given before the command (`ringside --conf DIR --set k=v fs cat P`), so
/// there is one place they are read from.
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Directory holding ringside-site.properties.
    #[arg(long, env = "RINGSIDE_CONF_DIR")]
    pub conf: Option<PathBuf>,
    /// Override one property, e.g. --set ringside.coordinator.port=19998 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Coordinator to talk to; else ringside.coordinator.address.
    #[arg(long, env = "RINGSIDE_COORDINATOR")]
    pub coordinator: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read files through the cache.
    #[command(subcommand)]
    Fs(FsCommand),
    /// Start and manage Ringside processes.
    #[command(subcommand)]
    Process(ProcessCommand),
    /// Show information about this build and the cluster.
    #[command(subcommand)]
    Info(InfoCommand),
}

#[derive(Subcommand, Debug)]
pub enum ProcessCommand {
    /// Start a daemon in the foreground; it stops on Ctrl-C or SIGTERM.
    #[command(subcommand)]
    Start(Daemon),
    /// Remove a worker from the cluster's member list for good.
    RemoveWorker {
        /// The worker's id, as `ringside info nodes` lists it.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum Daemon {
    /// The control plane of one cluster.
    Coordinator,
    /// A cache worker: page store, read APIs, heartbeats.
    Worker,
}

#[derive(Subcommand, Debug)]
pub enum FsCommand {
    /// List a directory of the UFS.
    Ls {
        path: String,
        /// List everything below the directory.
        #[arg(long, short = 'R')]
        recursive: bool,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Print a file, read through its owning worker.
    Cat { path: String },
    /// Show a file's size and how much of it its owner caches.
    Stat {
        path: String,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum InfoCommand {
    /// Print the version of this build.
    Version(FormatArg),
    /// List the cluster's workers: id, address, state, capacity, use, pages.
    Nodes(FormatArg),
}

#[derive(Args, Debug)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "text")]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}
