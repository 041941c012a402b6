//! `ringside process ...`: run daemons in the foreground.

use anyhow::Context;
use ringside_api::http::shutdown_signal;
use ringside_cluster::{
    coordinator::Coordinator,
    worker::{Ending, Worker},
};
use ringside_config::SiteConfig;

use crate::args::Daemon;

pub async fn start(daemon: Daemon, site: SiteConfig) -> anyhow::Result<()> {
    match daemon {
        Daemon::Coordinator => {
            let coordinator = Coordinator::bind(&site)
                .await
                .context("cannot start the coordinator")?;
            coordinator.serve(shutdown_signal()).await?;
            tracing::info!("coordinator stopped");
            Ok(())
        }
        Daemon::FleetSimulator {
            clusters,
            base_port,
            dir,
            latency_ms,
        } => {
            let announce = |list: &[ringside_cluster::simulator::SimulatedCluster]| {
                for c in list {
                    println!("{} {}", c.name, c.url);
                }
                tracing::info!(clusters = list.len(), "fleet simulator ready");
            };
            ringside_cluster::simulator::run(
                clusters,
                base_port,
                &dir,
                std::time::Duration::from_millis(latency_ms),
                announce,
                shutdown_signal(),
            )
            .await
            .context("cannot run the fleet simulator")?;
            Ok(())
        }
        Daemon::Worker => {
            let worker = Worker::bind(&site.worker())
                .await
                .context("cannot start the worker")?;
            match worker.serve(shutdown_signal()).await? {
                Ending::Stopped => {
                    tracing::info!("worker stopped");
                    Ok(())
                }
                Ending::Restart => restart_in_place(),
            }
        }
    }
}

/// Starts this program again with the same arguments in this process: the
/// pid stays (whatever supervises it sees no exit), and the site file and
/// the binary on disk are read afresh.
fn restart_in_place() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let binary = std::env::current_exe().context("cannot find this program to restart it")?;
    let error = std::process::Command::new(&binary)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(error).with_context(|| format!("cannot restart {}", binary.display()))
}
