//! Config drift: the properties of chosen clusters compared key by key
//! against a baseline cluster's. Pure, so the console's API and its page
//! agree on what differs.

use serde::{Deserialize, Serialize};

use crate::PropertyView;

/// Properties that name one cluster's own place (its name, address, port,
/// directories): they differ between any two clusters by design, so they
/// are not drift.
pub const IDENTITY_KEYS: [&str; 7] = [
    "ringside.cluster.name",
    // A cluster license names its one cluster: each differs by design.
    "ringside.license",
    "ringside.coordinator.address",
    "ringside.coordinator.hostname",
    "ringside.coordinator.bind.host",
    "ringside.coordinator.port",
    "ringside.coordinator.metastore.dir",
];

/// One property across the compared clusters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftRow {
    pub key: String,
    /// The baseline's value; none when the baseline does not know the key
    /// (another version).
    pub baseline: Option<String>,
    /// Each compared cluster's value, in the report's cluster order.
    pub values: Vec<Option<String>>,
    /// Whether any cluster's value differs from the baseline's.
    pub differs: bool,
}

/// The clusters compared against a baseline, and what could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftReport {
    pub baseline: String,
    pub clusters: Vec<String>,
    /// Every property known to any of them, by key.
    pub rows: Vec<DriftRow>,
    /// Clusters whose properties could not be fetched, with why.
    pub errors: Vec<(String, String)>,
}

/// Compares `others` against `baseline`, key by key, leaving out
/// [`IDENTITY_KEYS`].
pub fn compare(baseline: &[PropertyView], others: &[Vec<PropertyView>]) -> Vec<DriftRow> {
    let value = |list: &[PropertyView], key: &str| {
        list.iter().find(|p| p.key == key).map(|p| p.value.clone())
    };
    let mut keys: Vec<&str> = baseline
        .iter()
        .chain(others.iter().flatten())
        .map(|p| p.key.as_str())
        .filter(|k| !IDENTITY_KEYS.contains(k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let base = value(baseline, key);
            let values: Vec<Option<String>> = others.iter().map(|o| value(o, key)).collect();
            DriftRow {
                key: key.to_string(),
                differs: values.iter().any(|v| *v != base),
                baseline: base,
                values,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Vec<PropertyView> {
        pairs
            .iter()
            .map(|(k, v)| PropertyView {
                key: k.to_string(),
                value: v.to_string(),
                source: "default".into(),
                dynamic: false,
            })
            .collect()
    }

    #[test]
    fn differences_are_flagged_and_identity_is_not_drift() {
        let base = props(&[
            ("ringside.cluster.name", "a"),
            ("ringside.job.batch.size", "200"),
            ("ringside.worker.pagestore.size", "1GiB"),
        ]);
        let b = props(&[
            ("ringside.cluster.name", "b"),
            ("ringside.job.batch.size", "50"),
            ("ringside.worker.pagestore.size", "1GiB"),
            ("ringside.new.key", "x"),
        ]);
        let rows = compare(&base, &[b]);
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ringside.job.batch.size",
                "ringside.new.key",
                "ringside.worker.pagestore.size"
            ]
        );
        assert!(rows[0].differs);
        assert_eq!(rows[0].values, vec![Some("50".to_string())]);
        assert!(rows[1].differs, "a key the baseline lacks differs");
        assert_eq!(rows[1].baseline, None);
        assert!(!rows[2].differs);
        assert!(compare(&base, &[]).iter().all(|r| !r.differs));
    }
}
