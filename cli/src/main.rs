//! `ringside`: the operator's tool for Ringside clusters, the counterpart of
//! the reference system's `bin/alluxio`. It parses the command line and
//! hands over to `commands`.

mod args;
mod client;
mod commands;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = args::Cli::parse();
    tracing_subscriber::fmt()
        // Escape codes only where someone reads a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RINGSIDE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    match commands::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringside: {error:#}");
            ExitCode::FAILURE
        }
    }
}
