//! Reads the few cluster-wide numbers the console keeps from a
//! coordinator's Prometheus text exposition at `/metrics`.

/// The cluster-wide numbers of one scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterMetrics {
    /// Counter: bytes the workers served from their page stores.
    pub cache_read_bytes: u64,
    /// Counter: bytes the workers read from the UFS.
    pub ufs_read_bytes: u64,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
}

/// Picks the cluster totals out of a text exposition. Lines it does not
/// know are skipped, so a newer coordinator with more metrics still parses;
/// a known metric whose value is not a number is an error.
pub fn parse(text: &str) -> Result<ClusterMetrics, String> {
    let mut m = ClusterMetrics::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = line.split_once([' ', '{']) else {
            continue;
        };
        let slot = match name {
            "ringside_cluster_bytes_read_cache_total" => &mut m.cache_read_bytes,
            "ringside_cluster_bytes_read_ufs_total" => &mut m.ufs_read_bytes,
            "ringside_cluster_pagestore_capacity_bytes" => &mut m.capacity_bytes,
            "ringside_cluster_pagestore_used_bytes" => &mut m.used_bytes,
            _ => continue,
        };
        // The value follows the labels, if any, and may have a timestamp after it.
        let after_labels = rest.rsplit_once('}').map_or(rest, |(_, v)| v);
        let value = after_labels.split_whitespace().next().unwrap_or_default();
        let parsed: f64 = value
            .parse()
            .map_err(|_| format!("metric {name} has value {value:?}: expected a number"))?;
        *slot = if parsed.is_finite() && parsed > 0.0 {
            parsed as u64
        } else {
            0
        };
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_cluster_totals_and_skips_the_rest() {
        let text = "\
# HELP ringside_cluster_bytes_read_cache_total Bytes
# TYPE ringside_cluster_bytes_read_cache_total counter
ringside_cluster_bytes_read_cache_total 1048576
ringside_cluster_bytes_read_ufs_total 2.5e3
ringside_cluster_pagestore_capacity_bytes 17179869184 1700000000000
ringside_cluster_pagestore_used_bytes{} 42
ringside_workers{state=\"ONLINE\"} 3
something_else 7
";
        assert_eq!(
            parse(text).unwrap(),
            ClusterMetrics {
                cache_read_bytes: 1_048_576,
                ufs_read_bytes: 2_500,
                capacity_bytes: 17_179_869_184,
                used_bytes: 42,
            }
        );
    }

    #[test]
    fn a_known_metric_with_a_bad_value_is_an_error() {
        let err = parse("ringside_cluster_pagestore_used_bytes lots\n").unwrap_err();
        assert!(err.contains("expected a number"), "{err}");
        assert_eq!(parse("").unwrap(), ClusterMetrics::default());
        assert_eq!(
            parse("ringside_cluster_pagestore_used_bytes NaN\n")
                .unwrap()
                .used_bytes,
            0
        );
    }
}
