//! `ringside info ...`: facts about this build and the cluster.

use crate::args::Format;

pub fn version(format: Format) -> anyhow::Result<()> {
    let version = ringside_cluster::VERSION;
    match format {
        Format::Text => println!("{version}"),
        Format::Json => println!("{}", serde_json::json!({ "version": version })),
    }
    Ok(())
}
