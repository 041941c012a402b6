//! Ring settings: the policy and its parameters, as the properties give them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ParseError, RingError};

/// Defaults and limits, in one place so the config crate, the CLI and the
/// console all show the same numbers.
pub mod defaults {
    use super::{Policy, Weighting};

    /// `ringside.user.worker.selection.policy`
    pub const POLICY: Policy = Policy::Consistent;
    /// Applies to CONSISTENT, KETAMA and MAGLEV; CAPACITY always weights.
    pub const WEIGHTING: Weighting = Weighting::Uniform;
    /// `...policy.consistent.hash.virtual.node.count.per.worker`; also the
    /// virtual node count of the largest worker under CAPACITY.
    pub const VIRTUAL_NODES_PER_WORKER: u32 = 2000;
    /// libketama's 40 MD5 digests x 4 points per server.
    pub const KETAMA_POINTS_PER_WORKER: u32 = 160;
    /// The reference system's default lookup table size (a prime).
    pub const MAGLEV_TABLE_SIZE: u32 = 65_537;
    /// The reference system's default probe count (~1.05 peak-to-mean).
    pub const MULTI_PROBE_COUNT: u32 = 21;

    /// Upper bounds keep a typo from allocating gigabytes (a ring is also
    /// built in the browser, where memory is tight).
    pub const MAX_VIRTUAL_NODES_PER_WORKER: u32 = 100_000;
    pub const MAX_KETAMA_POINTS_PER_WORKER: u32 = 100_000;
    pub const MAX_MAGLEV_TABLE_SIZE: u32 = 16_777_213; // largest prime < 2^24
    pub const MAX_MULTI_PROBE_COUNT: u32 = 1024;
}

/// How the ring picks a worker for a path (`ringside.user.worker.selection.policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// Consistent hashing with `virtual_nodes_per_worker` points per worker.
    Consistent,
    /// libketama's ring layout: MD5 points on a 32-bit ring.
    Ketama,
    /// Jump consistent hash over slots, with vacant slots for departed workers.
    Jump,
    /// Maglev lookup table of `maglev_table_size` (prime) entries.
    Maglev,
    /// Multi-probe consistent hashing: one point per worker, `multi_probe_count` probes per key.
    MultiProbe,
    /// CONSISTENT with virtual nodes scaled by each worker's page store capacity.
    Capacity,
}

impl Policy {
    pub const ALL: [Policy; 6] = [
        Policy::Consistent,
        Policy::Ketama,
        Policy::Jump,
        Policy::Maglev,
        Policy::MultiProbe,
        Policy::Capacity,
    ];

    /// The property value, e.g. `MULTI_PROBE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Policy::Consistent => "CONSISTENT",
            Policy::Ketama => "KETAMA",
            Policy::Jump => "JUMP",
            Policy::Maglev => "MAGLEV",
            Policy::MultiProbe => "MULTI_PROBE",
            Policy::Capacity => "CAPACITY",
        }
    }

    /// Whether [`Weighting::Capacity`] can be combined with this policy.
    /// JUMP has no notion of unequal buckets and MULTI_PROBE's single point
    /// per worker has nothing to scale, so both are uniform only.
    pub const fn supports_weighting(self) -> bool {
        matches!(
            self,
            Policy::Consistent | Policy::Ketama | Policy::Maglev | Policy::Capacity
        )
    }

    /// Whether adding a worker moves keys only to it and removing one moves
    /// only its keys. MAGLEV trades a little extra movement for its table.
    pub const fn minimal_movement(self) -> bool {
        !matches!(self, Policy::Maglev)
    }

    fn expected() -> String {
        let names: Vec<&str> = Policy::ALL.iter().map(|p| p.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        Policy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| ParseError {
                what: "worker selection policy",
                input: s.to_owned(),
                expected: Policy::expected(),
            })
    }
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether workers get equal shares or shares proportional to page store capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Weighting {
    #[default]
    Uniform,
    Capacity,
}

impl Weighting {
    pub const fn as_str(self) -> &'static str {
        match self {
            Weighting::Uniform => "UNIFORM",
            Weighting::Capacity => "CAPACITY",
        }
    }
}

impl fmt::Display for Weighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Weighting {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        [Weighting::Uniform, Weighting::Capacity]
            .into_iter()
            .find(|w| w.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| ParseError {
                what: "ring weighting",
                input: s.to_owned(),
                expected: "UNIFORM, CAPACITY".to_owned(),
            })
    }
}

impl Serialize for Weighting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Weighting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything that decides placement besides the member set.
///
/// Parameters of policies other than the selected one are carried along
/// (so switching policy in a preview keeps them) but only the selected
/// policy's are validated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingConfig {
    /// `ringside.user.worker.selection.policy`
    pub policy: Policy,
    /// Capacity weighting for CONSISTENT, KETAMA and MAGLEV. CAPACITY implies it.
    pub weighting: Weighting,
    /// `ringside.user.worker.selection.policy.consistent.hash.virtual.node.count.per.worker`
    pub virtual_nodes_per_worker: u32,
    /// The reference system calls this `user.ketama.hash.replicas`.
    pub ketama_points_per_worker: u32,
    /// The reference system calls this `user.maglev.hash.lookup.size`; must be prime.
    pub maglev_table_size: u32,
    /// The reference system calls this `user.multi.probe.hash.probe.num`.
    pub multi_probe_count: u32,
    /// Under capacity weighting of point rings (CONSISTENT, KETAMA, CAPACITY):
    /// the capacity that gets exactly the configured point count; others get
    /// `round(points * capacity / reference)`. None means the largest member's
    /// capacity, which is simplest but rescales every worker's points (and
    /// moves data between unchanged workers) whenever the largest capacity
    /// changes, e.g. when the biggest worker fails. Pin it to the typical
    /// worker size to make every join and departure move the minimum.
    pub capacity_reference_bytes: Option<u64>,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            policy: defaults::POLICY,
            weighting: defaults::WEIGHTING,
            virtual_nodes_per_worker: defaults::VIRTUAL_NODES_PER_WORKER,
            ketama_points_per_worker: defaults::KETAMA_POINTS_PER_WORKER,
            maglev_table_size: defaults::MAGLEV_TABLE_SIZE,
            multi_probe_count: defaults::MULTI_PROBE_COUNT,
            capacity_reference_bytes: None,
        }
    }
}

impl RingConfig {
    /// The defaults with another policy.
    pub fn with_policy(policy: Policy) -> Self {
        RingConfig {
            policy,
            ..RingConfig::default()
        }
    }

    /// Whether capacities shape the shares under this configuration.
    pub fn is_weighted(&self) -> bool {
        self.policy == Policy::Capacity || self.weighting == Weighting::Capacity
    }

    /// Checks the selected policy's parameters.
    pub fn validate(&self) -> Result<(), RingError> {
        fn range(field: &'static str, value: u32, max: u32) -> Result<(), RingError> {
            if value == 0 || value > max {
                return Err(RingError::OutOfRange {
                    field,
                    value: u64::from(value),
                    min: 1,
                    max: u64::from(max),
                });
            }
            Ok(())
        }
        if self.weighting == Weighting::Capacity && !self.policy.supports_weighting() {
            return Err(RingError::WeightingUnsupported {
                policy: self.policy,
            });
        }
        if self.capacity_reference_bytes == Some(0) {
            return Err(RingError::OutOfRange {
                field: "capacity_reference_bytes",
                value: 0,
                min: 1,
                max: u64::MAX,
            });
        }
        match self.policy {
            Policy::Consistent | Policy::Capacity => range(
                "virtual_nodes_per_worker",
                self.virtual_nodes_per_worker,
                defaults::MAX_VIRTUAL_NODES_PER_WORKER,
            ),
            Policy::Ketama => range(
                "ketama_points_per_worker",
                self.ketama_points_per_worker,
                defaults::MAX_KETAMA_POINTS_PER_WORKER,
            ),
            Policy::Jump => Ok(()),
            Policy::Maglev => {
                range(
                    "maglev_table_size",
                    self.maglev_table_size,
                    defaults::MAX_MAGLEV_TABLE_SIZE,
                )?;
                if !is_prime(self.maglev_table_size) {
                    return Err(RingError::MaglevTableNotPrime {
                        size: self.maglev_table_size,
                        suggestion: next_prime(self.maglev_table_size),
                    });
                }
                Ok(())
            }
            Policy::MultiProbe => range(
                "multi_probe_count",
                self.multi_probe_count,
                defaults::MAX_MULTI_PROBE_COUNT,
            ),
        }
    }
}

/// Trial division: table sizes are below 2^24, so at most ~2000 divisions.
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let n = u64::from(n);
    let mut d = 3u64;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// Smallest prime >= `n` (within u32), for error messages that suggest a fix.
pub fn next_prime(n: u32) -> u32 {
    (n.max(2)..=u32::MAX).find(|&c| is_prime(c)).unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_property_values_case_insensitively() {
        for p in Policy::ALL {
            assert_eq!(p.as_str().parse::<Policy>().unwrap(), p);
            assert_eq!(p.as_str().to_lowercase().parse::<Policy>().unwrap(), p);
        }
        assert_eq!(
            " multi_probe ".parse::<Policy>().unwrap(),
            Policy::MultiProbe
        );
        assert_eq!(
            "Capacity".parse::<Weighting>().unwrap(),
            Weighting::Capacity
        );
    }

    #[test]
    fn parse_error_names_input_and_choices() {
        let err = "MULTIPROBE".parse::<Policy>().unwrap_err().to_string();
        assert!(err.contains("\"MULTIPROBE\""), "{err}");
        assert!(
            err.contains("CONSISTENT, KETAMA, JUMP, MAGLEV, MULTI_PROBE, CAPACITY"),
            "{err}"
        );
        let err = "".parse::<Policy>().unwrap_err().to_string();
        assert!(err.contains("\"\""), "{err}");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = RingConfig::default();
        assert_eq!(c.policy, Policy::Consistent);
        assert_eq!(c.virtual_nodes_per_worker, 2000);
        assert_eq!(c.maglev_table_size, 65_537);
        assert_eq!(c.multi_probe_count, 21);
        for p in Policy::ALL {
            RingConfig::with_policy(p).validate().unwrap();
        }
    }

    #[test]
    fn rejects_bad_parameters_with_clear_errors() {
        let c = RingConfig {
            virtual_nodes_per_worker: 0,
            ..RingConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("virtual_nodes_per_worker") && e.contains("got 0"),
            "{e}"
        );

        let c = RingConfig {
            maglev_table_size: 65_536,
            ..RingConfig::with_policy(Policy::Maglev)
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("prime") && e.contains("65537"), "{e}");

        let c = RingConfig {
            multi_probe_count: 0,
            ..RingConfig::with_policy(Policy::MultiProbe)
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("multi_probe_count")
        );

        let c = RingConfig {
            weighting: Weighting::Capacity,
            ..RingConfig::with_policy(Policy::Jump)
        };
        assert!(c.validate().unwrap_err().to_string().contains("JUMP"));

        // Parameters of other policies are not checked.
        let c = RingConfig {
            maglev_table_size: 4,
            ..RingConfig::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn primes() {
        let small: Vec<u32> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(small, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(65_537));
        assert!(is_prime(defaults::MAX_MAGLEV_TABLE_SIZE));
        assert!(!is_prime(65_535));
        assert_eq!(next_prime(65_536), 65_537);
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = RingConfig {
            policy: Policy::MultiProbe,
            multi_probe_count: 7,
            ..RingConfig::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"MULTI_PROBE\""), "{json}");
        assert_eq!(serde_json::from_str::<RingConfig>(&json).unwrap(), c);
        let partial: RingConfig = serde_json::from_str(r#"{"policy":"maglev"}"#).unwrap();
        assert_eq!(partial, RingConfig::with_policy(Policy::Maglev));
        let bad = serde_json::from_str::<RingConfig>(r#"{"policy":"ROUND_ROBIN"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("ROUND_ROBIN") && bad.contains("MAGLEV"),
            "{bad}"
        );
    }
}
