//! Inputs and measurements shared by the target tests and the benchmark, so
//! the numbers the benchmark prints are the ones the tests assert.

#![allow(dead_code)] // each user needs a different part

use ringside_ring::hashing::mix64;
use ringside_ring::{Member, Policy, Ring, RingConfig, max_over_mean_files, movement};

pub const WORKERS: usize = 10;
pub const PATHS: usize = 1_000_000;
pub const FILE_BYTES: u64 = 64 << 20;

/// Worker ids shaped like the UUIDs real workers persist, derived from a
/// counter so every run (and every machine) uses the same ones.
pub fn worker_id(i: u64) -> String {
    let a = mix64(i.wrapping_add(0x5249_4e47)); // "RING"
    let b = mix64(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

pub fn members(n: usize) -> Vec<Member> {
    (0..n as u64)
        .map(|i| Member::new(worker_id(i), 1 << 40))
        .collect()
}

pub fn path(i: usize) -> String {
    format!("/data/part-{i:07}.parquet")
}

pub fn paths(n: usize) -> Vec<String> {
    (0..n).map(path).collect()
}

/// Balance and movement of one policy at its defaults over the full path set.
#[derive(Clone, Debug)]
pub struct Measured {
    pub policy: Policy,
    /// Largest worker's file count over the mean, 10 workers.
    pub max_over_mean: f64,
    /// Fraction of files that change owner when an 11th worker joins.
    pub moved_on_add: f64,
    /// Fraction that change owner when worker #3 of 10 leaves.
    pub moved_on_remove: f64,
    /// The least that can move: the joining worker's fair share (1/11 for
    /// equal workers) and the leaving worker's (1/10).
    pub ideal_add: f64,
    pub ideal_remove: f64,
}

impl Measured {
    /// Moved fraction on add over the ideal.
    pub fn add_over_ideal(&self) -> f64 {
        self.moved_on_add / self.ideal_add
    }

    /// Moved fraction on remove over the ideal.
    pub fn remove_over_ideal(&self) -> f64 {
        self.moved_on_remove / self.ideal_remove
    }
}

pub fn measure(policy: Policy, paths: &[String]) -> Measured {
    let config = RingConfig::with_policy(policy);
    let base = Ring::new(config, members(WORKERS), 1).expect("valid ring");
    let files = || paths.iter().map(|p| (p.as_str(), FILE_BYTES));
    let max_over_mean = max_over_mean_files(&base.load(files()));
    let grown = base.next(members(WORKERS + 1)).expect("valid ring");
    let moved_on_add = movement(&base, &grown, files()).file_fraction();
    let mut fewer = members(WORKERS);
    fewer.remove(3);
    let shrunk = base.next(fewer).expect("valid ring");
    let moved_on_remove = movement(&base, &shrunk, files()).file_fraction();
    Measured {
        policy,
        max_over_mean,
        moved_on_add,
        moved_on_remove,
        ideal_add: 1.0 / (WORKERS as f64 + 1.0),
        ideal_remove: 1.0 / WORKERS as f64,
    }
}

/// CONSISTENT's balance depends on where the worker ids happen to hash. The
/// analytic max/mean over many random 10-worker clusters shows how typical
/// the measured cluster is: (fraction at or under 1.05, median, 95th percentile, worst).
pub fn consistent_balance_spread(clusters: u64) -> (f64, f64, f64, f64) {
    let mut ratios: Vec<f64> = (0..clusters)
        .map(|c| {
            let members = (0..WORKERS as u64)
                .map(|i| Member::new(worker_id(1_000_000 + c * 100 + i), 1 << 40));
            Ring::new(RingConfig::default(), members, 0)
                .expect("valid ring")
                .shares()
                .max_over_mean()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ok = ratios.iter().filter(|&&r| r <= 1.05).count() as f64 / ratios.len() as f64;
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    (ok, at(0.5), at(0.95), ratios[ratios.len() - 1])
}

/// An order-sensitive checksum of owners for every policy over `n` paths:
/// the native and the wasm32 builds must print the same number.
pub fn placement_checksum(n: usize) -> u64 {
    let mut sum = 0u64;
    for policy in Policy::ALL {
        let ring =
            Ring::new(RingConfig::with_policy(policy), members(WORKERS), 0).expect("valid ring");
        for i in 0..n {
            let owner = ring.owner_index(&path(i)).map_or(u64::MAX, u64::from);
            sum = mix64(sum ^ owner);
        }
    }
    sum
}
