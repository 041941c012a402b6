//! One module per command group; each turns arguments into calls on the
//! library crates and prints what comes back.

mod info;
mod process;

use anyhow::Context;
use ringside_config::{SiteConfig, resolve_conf_dir};

use crate::args::{Cli, Command, GlobalArgs, InfoCommand, ProcessCommand};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Process(ProcessCommand::Start(daemon)) => {
            process::start(daemon, site_config(&cli.global)?).await
        }
        Command::Info(InfoCommand::Version(format)) => info::version(format.format),
    }
}

/// The site configuration: `--conf` (or `RINGSIDE_CONF_DIR`) plus `--set`.
fn site_config(global: &GlobalArgs) -> anyhow::Result<SiteConfig> {
    let conf_dir = resolve_conf_dir(global.conf.clone());
    SiteConfig::load(conf_dir.as_deref(), &global.overrides).context("invalid configuration")
}
