//! One module per command group; each turns arguments into calls on the
//! library crates and prints what comes back.

mod cluster;
mod conf;
mod fs;
mod info;
mod job;
mod license;
mod process;
mod tenant;

use anyhow::Context;
use ringside_config::{SiteConfig, resolve_conf_dir};

use crate::args::{Cli, Command, FsCommand, GlobalArgs, InfoCommand, ProcessCommand};
use crate::client::Coordinator;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Process(ProcessCommand::Start(daemon)) => {
            let global = cli.global;
            process::start(daemon, move || site_config(&global)).await
        }
        Command::Process(ProcessCommand::RemoveWorker { name }) => {
            let coordinator = coordinator(&cli.global)?;
            coordinator.delete(&format!("/workers/{name}")).await?;
            println!("removed worker {name}");
            Ok(())
        }
        Command::Fs(command) => {
            let site = site_config(&cli.global)?;
            let coordinator = Coordinator::new(cli.global.coordinator.as_deref(), &site)?;
            match command {
                FsCommand::Ls {
                    path,
                    recursive,
                    format,
                } => fs::ls(&coordinator, &path, recursive, format.format).await,
                FsCommand::Cat { path } => fs::cat(&coordinator, &site, &path).await,
                FsCommand::Stat { path, format } => {
                    fs::stat(&coordinator, &path, format.format).await
                }
            }
        }
        Command::Info(InfoCommand::Version(format)) => info::version(format.format),
        Command::Info(InfoCommand::Nodes(format)) => {
            info::nodes(&coordinator(&cli.global)?, format.format).await
        }
        Command::Info(InfoCommand::Ring(format)) => {
            info::ring(&coordinator(&cli.global)?, format.format).await
        }
        Command::Job(command) => job::run(&coordinator(&cli.global)?, command).await,
        Command::License(command) => {
            let site = site_config(&cli.global)?;
            let flag = cli.global.coordinator.as_deref();
            license::run(command, &site, || Coordinator::new(flag, &site)).await
        }
        Command::Conf(command) => conf::run(&coordinator(&cli.global)?, command).await,
        Command::Cluster(command) => cluster::run(command).await,
        Command::Tenant(command) => tenant::run(&coordinator(&cli.global)?, command).await,
    }
}

fn coordinator(global: &GlobalArgs) -> anyhow::Result<Coordinator> {
    Coordinator::new(global.coordinator.as_deref(), &site_config(global)?)
}

/// The site configuration: `--conf` (or `RINGSIDE_CONF_DIR`) plus `--set`.
fn site_config(global: &GlobalArgs) -> anyhow::Result<SiteConfig> {
    let conf_dir = resolve_conf_dir(global.conf.clone());
    SiteConfig::load(conf_dir.as_deref(), &global.overrides).context("invalid configuration")
}
