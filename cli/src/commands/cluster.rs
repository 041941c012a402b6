//! `ringside cluster apply|status|restart|delete -f cluster.yaml`: a
//! cluster on this machine, run from a spec (the reference's `kubectl apply
//! -f alluxio-cluster.yaml` without Kubernetes).

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ringside_api::lifecycle::Component;
use ringside_lifecycle::{Changes, Cluster, Observer, Spec, StatusReport};

use super::info::print_table;
use crate::args::{ClusterCommand, ComponentArg, Format, SpecArgs};

/// Notes on stdout; a bar on stderr for rollouts (hidden when stderr is
/// not a terminal, so logs stay clean).
struct Printer {
    bar: ProgressBar,
}

impl Printer {
    fn new() -> Printer {
        let bar = ProgressBar::hidden();
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.set_style(
            ProgressStyle::with_template("[{elapsed}] {wide_bar} {pos}/{len} {msg}")
                .expect("the template is valid"),
        );
        Printer { bar }
    }
}

impl Observer for Printer {
    fn note(&self, message: &str) {
        self.bar.suspend(|| println!("{message}"));
    }

    fn rollout(&self, what: &str, done: u32, total: u32) {
        self.bar.set_length(u64::from(total));
        self.bar.set_position(u64::from(done));
        self.bar.set_message(what.to_string());
        if done == total {
            self.bar.finish_and_clear();
        }
    }
}

pub async fn run(command: ClusterCommand) -> anyhow::Result<()> {
    let printer = Printer::new();
    let open = |args: &SpecArgs| {
        let spec = Spec::load(&args.file)?;
        let state_dir = args.state_dir.clone();
        anyhow::Ok((spec, state_dir))
    };
    let own = std::env::current_exe().context("cannot find this program's own binary")?;
    let own = (own.as_path(), ringside_cluster::VERSION);
    match command {
        ClusterCommand::Apply(args) => {
            let (spec, state_dir) = open(&args)?;
            let name = spec.name.clone();
            let cluster = Cluster::open(spec, &state_dir, own, &printer).await?;
            let changes = cluster.apply().await?;
            summarize(&name, &changes, "configured");
            Ok(())
        }
        ClusterCommand::Restart { spec, component } => {
            let (spec, state_dir) = open(&spec)?;
            let name = spec.name.clone();
            let cluster = Cluster::open(spec, &state_dir, own, &printer).await?;
            let component = component.map(|c| match c {
                ComponentArg::Coordinator => Component::Coordinator,
                ComponentArg::Worker => Component::Worker,
            });
            let changes = cluster.restart(component).await?;
            summarize(&name, &changes, "restarted");
            Ok(())
        }
        ClusterCommand::Delete { spec, remove_data } => {
            let (spec, state_dir) = open(&spec)?;
            let name = spec.name.clone();
            let cluster = Cluster::existing(spec, &state_dir, &printer)?;
            cluster.delete(remove_data).await?;
            println!(
                "cluster {name} deleted{}",
                if remove_data {
                    " with its data"
                } else {
                    "; its data is kept"
                }
            );
            Ok(())
        }
        ClusterCommand::Status { spec, format } => {
            let (spec, state_dir) = open(&spec)?;
            let cluster = Cluster::existing(spec, &state_dir, &printer)?;
            let report = cluster.status().await?;
            match format.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Text => print_status(&report),
            }
            Ok(())
        }
    }
}

fn summarize(name: &str, changes: &Changes, verb: &str) {
    if changes.is_empty() {
        println!("cluster {name} unchanged");
    } else {
        let mut parts = Vec::new();
        for (label, list) in [
            ("started", &changes.started),
            ("stopped", &changes.stopped),
            ("restarted", &changes.restarted),
            ("pushed live", &changes.pushed),
            ("reloaded live by the workers", &changes.reloaded),
        ] {
            if !list.is_empty() {
                parts.push(format!("{label} {}", list.join(", ")));
            }
        }
        if changes.site_file_changed && parts.is_empty() {
            parts.push("site file updated".into());
        }
        println!("cluster {name} {verb}: {}", parts.join("; "));
    }
    for component in [Component::Coordinator, Component::Worker] {
        let keys: Vec<&str> = changes
            .pending_restart
            .iter()
            .filter(|(_, c)| *c == component)
            .map(|(k, _)| k.as_str())
            .collect();
        if !keys.is_empty() {
            println!(
                "{} apply after a restart: ringside cluster restart -f <spec> --component {component}",
                keys.join(", ")
            );
        }
    }
}

fn print_status(report: &StatusReport) {
    println!("NAME\tCLUSTERPHASE");
    println!("{}\t{}", report.name, report.phase);
    for reason in &report.reasons {
        println!("  {reason}");
    }
    println!();
    let rows: Vec<[String; 7]> = report
        .processes
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                if p.running { "Running" } else { "Stopped" }.to_string(),
                p.pid.map_or_else(|| "-".into(), |pid| pid.to_string()),
                p.port.to_string(),
                p.version.clone().unwrap_or_else(|| "-".into()),
                p.state
                    .map_or_else(|| "-".into(), |s| s.as_str().to_string()),
                p.id.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(
        &[
            "PROCESS", "STATUS", "PID", "PORT", "VERSION", "MEMBER", "ID",
        ],
        &rows,
    );
    if !report.stale_offline.is_empty() {
        println!(
            "\n{} stale OFFLINE entries in the ring: ringside process remove-worker --name ID for each of {}",
            report.stale_offline.len(),
            report.stale_offline.join(", ")
        );
    }
}
