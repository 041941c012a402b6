//! A fleet in one process: N real coordinators, each with its own
//! metastore and port and no workers, for console tests and benchmarks
//! that need many clusters on one machine. Nothing is mocked: each serves
//! the same API, metrics and jobs as a coordinator started on its own, and
//! refuses control calls without the fleet's cluster token (`DIR/cluster.token`).

use std::{future::Future, path::Path, time::Duration};

use ringside_config::SiteConfig;
use tokio::sync::watch;

use crate::coordinator::{Coordinator, CoordinatorError};

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(
        "{count} clusters from port {base_port} would run past port 65535: expected a lower --base-port or fewer --clusters"
    )]
    Ports { count: u32, base_port: u16 },
    #[error("cannot configure simulated cluster {name}: {source}")]
    Config {
        name: String,
        source: ringside_config::ConfigError,
    },
    #[error("simulated cluster {name}: {source}")]
    Coordinator {
        name: String,
        source: CoordinatorError,
    },
}

/// One simulated cluster, as the simulator announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedCluster {
    pub name: String,
    pub url: String,
}

/// The simulated clusters' names: `sim-0000`, `sim-0001`, …
pub fn cluster_name(index: u32) -> String {
    format!("sim-{index:04}")
}

/// Starts `count` coordinators on ports from `base_port` with their state
/// under `dir`, each answering `latency` late, calls `ready` with the list
/// once all listen, and serves until `shutdown` resolves.
pub async fn run(
    count: u32,
    base_port: u16,
    dir: &Path,
    latency: Duration,
    ready: impl FnOnce(&[SimulatedCluster]),
    shutdown: impl Future<Output = ()>,
) -> Result<(), SimulatorError> {
    if u32::from(base_port) + count > 65_536 {
        return Err(SimulatorError::Ports { count, base_port });
    }
    let ufs = dir.join("ufs");
    let mut coordinators = Vec::with_capacity(count as usize);
    let mut clusters = Vec::with_capacity(count as usize);
    for i in 0..count {
        let name = cluster_name(i);
        // Checked above: the port fits in a u16.
        let port = base_port + i as u16;
        let overrides = [
            format!("ringside.cluster.name={name}"),
            "ringside.coordinator.bind.host=127.0.0.1".to_string(),
            format!("ringside.coordinator.port={port}"),
            format!(
                "ringside.coordinator.metastore.dir={}",
                dir.join(&name).display()
            ),
            format!("ringside.ufs.root={}", ufs.display()),
            // One token for the whole fleet, which the first coordinator
            // writes: a console registers each cluster with it.
            format!(
                "ringside.security.cluster.token.file={}",
                dir.join("cluster.token").display()
            ),
        ];
        let site = SiteConfig::parse("", "fleet simulator", &overrides).map_err(|source| {
            SimulatorError::Config {
                name: name.clone(),
                source,
            }
        })?;
        let coordinator = Coordinator::bind(&site)
            .await
            .map_err(|source| SimulatorError::Coordinator {
                name: name.clone(),
                source,
            })?
            .with_added_latency(latency);
        clusters.push(SimulatedCluster {
            url: format!("http://127.0.0.1:{port}"),
            name,
        });
        coordinators.push(coordinator);
    }
    ready(&clusters);
    let (stop, stopped) = watch::channel(false);
    let mut serving = tokio::task::JoinSet::new();
    for (coordinator, cluster) in coordinators.into_iter().zip(clusters) {
        let mut stopped = stopped.clone();
        serving.spawn(async move {
            let until = async move {
                let _ = stopped.changed().await;
            };
            coordinator
                .serve(until)
                .await
                .map_err(|source| SimulatorError::Coordinator {
                    name: cluster.name,
                    source,
                })
        });
    }
    shutdown.await;
    let _ = stop.send(true);
    while let Some(done) = serving.join_next().await {
        if let Ok(Err(error)) = done {
            tracing::warn!(%error, "simulated coordinator stopped with an error");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_ports_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(10, 65_530, dir.path(), Duration::ZERO, |_| {}, async {})
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("expected a lower --base-port"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn every_simulated_cluster_answers_as_a_coordinator() {
        let client = reqwest::Client::new();
        // Ports are picked from a free one; another process may take one of
        // its neighbours first, so a few tries are allowed.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let base = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port().min(65_000)
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (done, wait) = tokio::sync::oneshot::channel::<()>();
            let path = dir.path().to_path_buf();
            let sim = tokio::spawn(async move {
                let ready = |clusters: &[SimulatedCluster]| {
                    let _ = tx.send(clusters.to_vec());
                };
                run(3, base, &path, Duration::ZERO, ready, async {
                    let _ = wait.await;
                })
                .await
            });
            let Ok(clusters) = rx.await else {
                let error = sim.await.unwrap().unwrap_err();
                assert!(
                    matches!(error, SimulatorError::Coordinator { .. }),
                    "{error}"
                );
                continue;
            };
            assert_eq!(clusters.len(), 3);
            for c in &clusters {
                let info: ringside_api::ClusterInfo = client
                    .get(format!("{}/api/v1/info", c.url))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(info.name, c.name);
            }
            let _ = done.send(());
            sim.await.unwrap().unwrap();
            return;
        }
        panic!("no free run of 3 ports found in 5 tries");
    }
}
