//! `ringside process ...`: run daemons in the foreground.

use anyhow::Context;
use ringside_api::http::shutdown_signal;
use ringside_cluster::{
    coordinator::Coordinator,
    worker::{Ending, LiveSettings, Worker},
};
use ringside_config::SiteConfig;

use crate::args::Daemon;

/// How often a worker looks at its site file for changed dynamic properties.
const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `daemon` with the configuration `load` reads; a worker calls
/// `load` again every few seconds to reload its dynamic properties.
pub async fn start(
    daemon: Daemon,
    load: impl Fn() -> anyhow::Result<SiteConfig> + Send + 'static,
) -> anyhow::Result<()> {
    let site = load()?;
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
            tokio::spawn(reload_forever(site, load, worker.live()));
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

/// Reads the site file again every few seconds and applies what changed
/// among the worker's dynamic properties live; a change to any other is
/// logged once as waiting for a restart. On Kubernetes the mounted
/// ConfigMap changes under the worker; with `ringside cluster apply`, the
/// site file it writes.
async fn reload_forever(
    mut current: SiteConfig,
    load: impl Fn() -> anyhow::Result<SiteConfig>,
    live: LiveSettings,
) {
    let mut last_error = None;
    loop {
        tokio::time::sleep(RELOAD_INTERVAL).await;
        let newer = match load() {
            Ok(newer) => newer,
            Err(error) => {
                let text = format!("{error:#}");
                if last_error.as_ref() != Some(&text) {
                    tracing::warn!(error = %text, "the site file does not load; keeping the settings in use");
                    last_error = Some(text);
                }
                continue;
            }
        };
        last_error = None;
        let changes = current.diff(&newer);
        if changes.is_empty() {
            continue;
        }
        let (dynamic, other): (Vec<_>, Vec<_>) = changes.iter().partition(|c| c.dynamic);
        if !dynamic.is_empty() {
            match live.apply(&newer.worker()) {
                Ok(()) => {
                    let keys: Vec<&str> = dynamic.iter().map(|c| c.key).collect();
                    tracing::info!(properties = ?keys, "dynamic properties applied live");
                }
                Err(error) => {
                    tracing::warn!(%error, "dynamic properties refused; keeping the settings in use");
                    continue;
                }
            }
        }
        if !other.is_empty() {
            let keys: Vec<&str> = other.iter().map(|c| c.key).collect();
            tracing::warn!(properties = ?keys, "properties changed in the site file apply after a restart");
        }
        current = newer;
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
