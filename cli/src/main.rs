//! `ringside`: the operator's tool for Ringside clusters, the counterpart of
//! the reference system's `bin/alluxio`. It parses the command line and
//! hands over to `commands`.

mod args;
mod client;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
    let runtime = match &args.command {
        // Reading files is one stream at a time: on one thread, no wake-up
        // crosses threads for every chunk the connection hands the reader.
        args::Command::Fs(_) => tokio::runtime::Builder::new_current_thread(),
        // Daemons and the commands that supervise them serve many at once.
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ringside: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringside: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: many errors
/// already name their cause in their own message, and `{:#}` would repeat it.
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address already in use");
        let error = anyhow::Error::new(io)
            .context("cannot listen on 127.0.0.1:1: address already in use")
            .context("cannot run the fleet simulator");
        assert_eq!(
            describe(&error),
            "cannot run the fleet simulator: cannot listen on 127.0.0.1:1: address already in use"
        );
        let plain = anyhow::anyhow!("no such file").context("cannot read conf");
        assert_eq!(describe(&plain), "cannot read conf: no such file");
    }
}
