//! `ringside conf ...`: the coordinator's properties, and pushing its
//! dynamic ones live (`PATCH /api/v1/properties`).

use std::collections::BTreeMap;

use anyhow::bail;
use ringside_api::{PropertyPatch, PropertyView};

use super::info::print_table;
use crate::{
    args::{ConfCommand, Format},
    client::Coordinator,
};

pub async fn run(coordinator: &Coordinator, command: ConfCommand) -> anyhow::Result<()> {
    match command {
        ConfCommand::Get { keys, format } => {
            let list: Vec<PropertyView> = coordinator.get("/properties").await?;
            for key in &keys {
                if !list.iter().any(|p| &p.key == key) {
                    bail!("the coordinator has no property {key:?}");
                }
            }
            let shown: Vec<&PropertyView> = list
                .iter()
                .filter(|p| keys.is_empty() || keys.contains(&p.key))
                .collect();
            print(&shown, format.format)
        }
        ConfCommand::Set { properties } => {
            let patch = PropertyPatch {
                properties: parse_assignments(&properties)?,
            };
            push(coordinator, &patch).await
        }
        ConfCommand::Unset { keys } => {
            let patch = PropertyPatch {
                properties: keys.into_iter().map(|k| (k, None)).collect(),
            };
            push(coordinator, &patch).await
        }
    }
}

/// `KEY=VALUE` arguments as a patch; the coordinator checks keys and values.
fn parse_assignments(args: &[String]) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut properties = BTreeMap::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            bail!("{arg:?}: missing '=': expected KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("{arg:?}: empty key: expected KEY=VALUE");
        }
        properties.insert(key.to_string(), Some(value.trim().to_string()));
    }
    Ok(properties)
}

/// Sends `patch` and prints the properties it names as they are now.
async fn push(coordinator: &Coordinator, patch: &PropertyPatch) -> anyhow::Result<()> {
    let (_, list): (_, Vec<PropertyView>) = coordinator.patch_json("/properties", patch).await?;
    let changed: Vec<&PropertyView> = list
        .iter()
        .filter(|p| patch.properties.contains_key(&p.key))
        .collect();
    print(&changed, Format::Text)
}

fn print(properties: &[&PropertyView], format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(properties)?),
        Format::Text => {
            let rows: Vec<[String; 3]> = properties
                .iter()
                .map(|p| [p.key.clone(), p.value.clone(), p.source.clone()])
                .collect();
            print_table(&["KEY", "VALUE", "SOURCE"], &rows);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_split_at_the_first_equals_sign() {
        let parsed = parse_assignments(&[
            "ringside.job.max.tasks.per.worker = 7".to_string(),
            "ringside.license=a=b".to_string(),
        ])
        .unwrap();
        assert_eq!(
            parsed["ringside.job.max.tasks.per.worker"].as_deref(),
            Some("7")
        );
        assert_eq!(parsed["ringside.license"].as_deref(), Some("a=b"));
        assert!(parse_assignments(&["ringside.job.retention.time".to_string()]).is_err());
        assert!(parse_assignments(&["=5".to_string()]).is_err());
    }
}
