//! `ringside tenant ...`: tenants' cache policies on the coordinator
//! (`/api/v1/tenants`), which pushes them to its workers.

use anyhow::{Context, bail};
use ringside_api::{
    tenant::{Evictor, TenantChange, TenantPolicy, TenantsView},
    units::iec,
};
use ringside_config::units::{format_duration, parse_duration, parse_size};

use super::info::print_table;
use crate::{
    args::{Format, TenantCommand},
    client::Coordinator,
};

pub async fn run(coordinator: &Coordinator, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Ls(format) => {
            let view: TenantsView = coordinator.get("/tenants").await?;
            match format.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&view)?),
                Format::Text => print_view(&view),
            }
            Ok(())
        }
        TenantCommand::Set {
            name,
            group,
            prefixes,
            quota,
            ttl,
            evictor,
        } => {
            let policy = TenantPolicy {
                quota_bytes: quota.as_deref().map(size).transpose()?,
                ttl_seconds: ttl.as_deref().map(seconds).transpose()?,
                evictor: Evictor::parse(&evictor)
                    .map_err(|e| anyhow::anyhow!("--evictor {}", e.message))?,
                name,
                group,
                prefixes,
            };
            let policy = policy
                .validate()
                .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
            let (_, change): (_, TenantChange) = coordinator
                .put_json(&format!("/tenants/{}", policy.name), &policy)
                .await?;
            report(&change, &format!("set tenant {}", policy.name));
            Ok(())
        }
        TenantCommand::Rm { name } => {
            coordinator
                .delete(&format!("/tenants/{name}"))
                .await
                .with_context(|| format!("cannot remove tenant {name}"))?;
            println!("removed tenant {name}");
            Ok(())
        }
    }
}

fn size(text: &str) -> anyhow::Result<u64> {
    parse_size(text)
        .with_context(|| format!("--quota {text:?}: expected a size such as 512MiB or 10GiB"))
}

fn seconds(text: &str) -> anyhow::Result<u64> {
    let duration = parse_duration(text)
        .with_context(|| format!("--ttl {text:?}: expected a duration such as 90s, 1h or 7d"))?;
    if duration.subsec_millis() != 0 || duration.as_secs() == 0 {
        bail!("--ttl {text:?}: expected whole seconds, at least 1s");
    }
    Ok(duration.as_secs())
}

fn human(bytes: u64) -> String {
    let (value, unit) = iec(bytes);
    format!("{value:.1} {unit}")
}

/// Says how the push to each worker went; a worker that missed it catches
/// up within its sync interval, so that is a warning, not a failure.
fn report(change: &TenantChange, what: &str) {
    let reached = change.workers.iter().filter(|w| w.error.is_none()).count();
    println!(
        "{what} (revision {}): pushed to {reached} of {} ONLINE workers",
        change.revision,
        change.workers.len()
    );
    for missed in change.workers.iter().filter(|w| w.error.is_some()) {
        eprintln!(
            "warning: worker {} at {} did not take it ({}); it catches up within ringside.worker.tenant.sync.interval",
            missed.worker,
            missed.address,
            missed.error.as_deref().unwrap_or_default()
        );
    }
}

fn print_view(view: &TenantsView) {
    let rows: Vec<[String; 7]> = view
        .tenants
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                t.group.clone(),
                t.prefixes.join(","),
                t.quota_bytes.map_or("-".into(), human),
                t.ttl_seconds.map_or("-".into(), |s| {
                    format_duration(std::time::Duration::from_secs(s))
                }),
                t.evictor.as_str().to_string(),
                human(view.used_bytes.get(&t.name).copied().unwrap_or(0)),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME", "GROUP", "PREFIXES", "QUOTA", "TTL", "EVICTOR", "USED",
        ],
        &rows,
    );
    let stale: Vec<&str> = view
        .workers
        .iter()
        .filter(|w| w.error.is_some() || w.revision != Some(view.revision))
        .map(|w| w.worker.as_str())
        .collect();
    println!("revision {}", view.revision);
    if !stale.is_empty() {
        println!("workers not on this revision yet: {}", stale.join(", "));
    }
}
