//! `ringside info ...`: facts about this build and the cluster.

use ringside_api::WorkerView;

use crate::{args::Format, client::Coordinator};

pub fn version(format: Format) -> anyhow::Result<()> {
    let version = ringside_cluster::VERSION;
    match format {
        Format::Text => println!("{version}"),
        Format::Json => println!("{}", serde_json::json!({ "version": version })),
    }
    Ok(())
}

pub async fn nodes(coordinator: &Coordinator, format: Format) -> anyhow::Result<()> {
    let workers: Vec<WorkerView> = coordinator.get("/workers").await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&workers)?),
        Format::Text => {
            let rows: Vec<[String; 6]> = workers
                .iter()
                .map(|w| {
                    let hb = &w.heartbeat;
                    [
                        hb.id.clone(),
                        hb.address.clone(),
                        w.state.as_str().to_string(),
                        human_size(hb.capacity_bytes),
                        human_size(hb.used_bytes),
                        hb.pages.to_string(),
                    ]
                })
                .collect();
            print_table(
                &["ID", "ADDRESS", "STATE", "CAPACITY", "USED", "PAGES"],
                &rows,
            );
        }
    }
    Ok(())
}

/// The ring the coordinator routes with, rebuilt here from its spec so the
/// shares are computed by the same library the cluster uses.
pub async fn ring(coordinator: &Coordinator, format: Format) -> anyhow::Result<()> {
    let spec: ringside_ring::RingSpec = coordinator.get("/ring").await?;
    let ring = ringside_ring::Ring::from_spec(spec)
        .map_err(|e| anyhow::anyhow!("the coordinator's ring cannot be rebuilt: {e}"))?;
    let shares = ring.shares();
    match format {
        Format::Json => {
            let members: Vec<_> = shares
                .shares
                .iter()
                .map(|s| serde_json::json!({ "id": s.member.id, "share": s.fraction }))
                .collect();
            let json = serde_json::json!({
                "policy": ring.config().policy.to_string(),
                "epoch": ring.epoch(),
                "exact": shares.exact,
                "members": members,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text => {
            println!(
                "policy {}, epoch {}, {} workers",
                ring.config().policy,
                ring.epoch(),
                ring.len()
            );
            let rows: Vec<[String; 2]> = shares
                .shares
                .iter()
                .map(|s| [s.member.id.clone(), format!("{:.2}%", s.fraction * 100.0)])
                .collect();
            print_table(&["ID", "SHARE"], &rows);
        }
    }
    Ok(())
}

/// Prints aligned columns; nothing at all when there are no rows, so
/// scripts can test for empty output as the reference guide does.
pub fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    if rows.is_empty() {
        return;
    }
    let header = header.map(str::to_string);
    for line in aligned(std::iter::once(&header).chain(rows)) {
        println!("{line}");
    }
}

/// Rows as lines of columns padded to the widest cell, two spaces apart.
pub fn aligned<'a, const N: usize>(
    rows: impl Iterator<Item = &'a [String; N]> + Clone,
) -> Vec<String> {
    let mut widths = [0; N];
    for row in rows.clone() {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.map(|row| {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    })
    .collect()
}

/// Bytes as people read them: `0B`, `512B`, `1.50KiB`, `2.86MiB`.
pub fn human_size(bytes: u64) -> String {
    match ringside_api::units::iec(bytes) {
        (_, "B") => format!("{bytes}B"),
        (value, unit) => format!("{value:.2}{unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(1536), "1.50KiB");
        assert_eq!(human_size(3_000_000), "2.86MiB");
        assert_eq!(human_size(64 << 30), "64.00GiB");
    }
}
