//! Ring benchmark: placement quality over 1,000,000 paths and lookup speed
//! against the `hash-rings` crate, in one run.
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/target-ring cargo bench -p ringside-ring -j1 --bench ring
//! ```
//!
//! First it prints balance and movement for every policy at its defaults
//! (10 workers, 1,000,000 paths), plus the same for `hash-rings`' rings. Then
//! criterion times lookups of the first 100,000 of those paths, ours and
//! `hash-rings`' side by side per policy, and the run ends with a table of
//! lookups per second and the ratios, read back from criterion's estimates.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput};
use hash_rings::{consistent, jump, maglev, mpc, weighted_rendezvous};
use ringside_ring::{Member, Policy, Ring, RingConfig, defaults};
use support::{PATHS, WORKERS, measure, members, paths};

/// Lookups are timed on a prefix of the path set to keep the run short.
const LOOKUP_PATHS: usize = 100_000;

/// hash-rings hashes with std's SipHash; a fixed-key builder keeps its runs
/// reproducible (RandomState would cost the same but vary run to run).
type Sip = BuildHasherDefault<DefaultHasher>;

/// Capacities of a heterogeneous cluster for the CAPACITY comparison.
fn capacity_members() -> Vec<Member> {
    members(WORKERS)
        .into_iter()
        .enumerate()
        .map(|(i, m)| Member::new(m.id, (1 + i as u64 % 4) << 40))
        .collect()
}

fn main() {
    let all_paths = paths(PATHS);
    print_placement(&all_paths);

    let out_dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&out_dir)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let lookup_paths = &all_paths[..LOOKUP_PATHS];
    let rows = bench_lookups(&mut c, lookup_paths);
    c.final_summary();
    print_speed_table(&out_dir, &rows);
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// One line of the speed table: our policy and the hash-rings ring compared with it.
struct Row {
    policy: &'static str,
    group: String,
    theirs: &'static str,
}

fn bench_lookups(c: &mut Criterion, paths: &[String]) -> Vec<Row> {
    let ids: Vec<String> = members(WORKERS).into_iter().map(|m| m.id).collect();
    let mut rows = Vec::new();

    let mut group_for = |c: &mut Criterion,
                         policy: Policy,
                         ring_members: Vec<Member>,
                         theirs_label: &'static str,
                         theirs: &mut dyn FnMut(&str) -> usize| {
        let ring = Ring::new(RingConfig::with_policy(policy), ring_members, 0).unwrap();
        let name = format!("lookup_{}", policy.as_str().to_lowercase());
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Elements(paths.len() as u64));
        group.bench_function("ringside", |b| {
            b.iter(|| {
                let mut acc = 0usize;
                for p in paths {
                    acc ^= black_box(ring.locate(black_box(p))).map_or(0, |m| m.id.len());
                }
                acc
            })
        });
        group.bench_function("hash-rings", |b| {
            b.iter(|| {
                let mut acc = 0usize;
                for p in paths {
                    acc ^= theirs(black_box(p.as_str()));
                }
                acc
            })
        });
        group.finish();
        rows.push(Row {
            policy: policy.as_str(),
            group: name,
            theirs: theirs_label,
        });
    };

    let mut theirs_consistent: consistent::Ring<'_, String, Sip> =
        consistent::Ring::with_hasher(Sip::default());
    for id in &ids {
        theirs_consistent.insert_node(id, defaults::VIRTUAL_NODES_PER_WORKER as usize);
    }
    group_for(
        c,
        Policy::Consistent,
        members(WORKERS),
        "consistent::Ring, 2000 replicas",
        &mut |p| black_box(theirs_consistent.get_node(&p)).len(),
    );

    let mut theirs_ketama: consistent::Ring<'_, String, Sip> =
        consistent::Ring::with_hasher(Sip::default());
    for id in &ids {
        theirs_ketama.insert_node(id, defaults::KETAMA_POINTS_PER_WORKER as usize);
    }
    group_for(
        c,
        Policy::Ketama,
        members(WORKERS),
        "no KETAMA; consistent::Ring, 160 replicas",
        &mut |p| black_box(theirs_ketama.get_node(&p)).len(),
    );

    let theirs_jump = jump::Ring::with_hasher(Sip::default(), WORKERS as u32);
    group_for(c, Policy::Jump, members(WORKERS), "jump::Ring", &mut |p| {
        black_box(&ids[theirs_jump.get_node(&p) as usize]).len()
    });

    let theirs_maglev = maglev::Ring::with_capacity_hint(
        ids.iter().collect(),
        defaults::MAGLEV_TABLE_SIZE as usize,
    );
    assert_eq!(
        theirs_maglev.capacity(),
        defaults::MAGLEV_TABLE_SIZE as usize
    );
    group_for(
        c,
        Policy::Maglev,
        members(WORKERS),
        "maglev::Ring, 65537 entries",
        &mut |p| black_box(theirs_maglev.get_node(&p)).len(),
    );

    let mut theirs_mpc: mpc::Ring<'_, String, Sip> =
        mpc::Ring::with_hasher(Sip::default(), u64::from(defaults::MULTI_PROBE_COUNT));
    for id in &ids {
        theirs_mpc.insert_node(id);
    }
    group_for(
        c,
        Policy::MultiProbe,
        members(WORKERS),
        "mpc::Ring, 21 probes",
        &mut |p| black_box(theirs_mpc.get_node(&p)).len(),
    );

    let weighted = capacity_members();
    let mut theirs_weighted: weighted_rendezvous::Ring<'_, String, Sip> =
        weighted_rendezvous::Ring::with_hasher(Sip::default());
    for m in &weighted {
        theirs_weighted.insert_node(&m.id, m.capacity_bytes as f64);
    }
    let weighted_ring = weighted.clone();
    group_for(
        c,
        Policy::Capacity,
        weighted_ring,
        "no CAPACITY; weighted_rendezvous::Ring",
        &mut |p| black_box(theirs_weighted.get_node(&p)).len(),
    );

    rows
}

/// Mean time per iteration (all lookup paths), from criterion's estimates.
fn mean_ns(out_dir: &Path, group: &str, function: &str) -> Option<f64> {
    let file = out_dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(file).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn print_speed_table(out_dir: &Path, rows: &[Row]) {
    println!();
    println!("## Lookups per second ({LOOKUP_PATHS} paths per iteration, criterion mean)");
    println!();
    println!(
        "| policy | ringside Mlookups/s | hash-rings counterpart | hash-rings Mlookups/s | ours / theirs |"
    );
    println!("| --- | ---: | --- | ---: | ---: |");
    for row in rows {
        let ours = mean_ns(out_dir, &row.group, "ringside");
        let theirs = mean_ns(out_dir, &row.group, "hash-rings");
        let rate = |ns: Option<f64>| ns.map(|ns| LOOKUP_PATHS as f64 / ns * 1e3);
        let fmt = |r: Option<f64>| r.map_or("n/a".to_owned(), |r| format!("{r:.2}"));
        let ratio = match (rate(ours), rate(theirs)) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "n/a".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            row.policy,
            fmt(rate(ours)),
            row.theirs,
            fmt(rate(theirs)),
            ratio
        );
    }
    println!();
}

fn print_placement(paths: &[String]) {
    println!("## Placement: {WORKERS} workers, {PATHS} paths, defaults");
    println!();
    println!(
        "| ring | max/mean load | moved when an 11th joins (x ideal) | moved when 1 of 10 leaves (x ideal) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for policy in Policy::ALL {
        let m = if policy == Policy::Capacity {
            measure_capacity(paths)
        } else {
            measure(policy, paths)
        };
        println!(
            "| ringside {}{} | {:.4} | {:.4} ({:.3}x) | {:.4} ({:.3}x) |",
            policy,
            if policy == Policy::Capacity {
                " (1-4 TiB workers; load = max over capacity share)"
            } else {
                ""
            },
            m.max_over_mean,
            m.moved_on_add,
            m.add_over_ideal(),
            m.moved_on_remove,
            m.remove_over_ideal()
        );
    }
    for (name, m) in hash_rings_placement(paths) {
        println!(
            "| hash-rings {name} | {:.4} | {:.4} ({:.3}x) | {:.4} ({:.3}x) |",
            m.0,
            m.1,
            m.1 * (WORKERS as f64 + 1.0),
            m.2,
            m.2 * WORKERS as f64
        );
    }
    let (ok, median, p95, worst) = support::consistent_balance_spread(200);
    println!();
    println!(
        "CONSISTENT analytic max/mean over 200 other random 10-worker clusters: \
         {:.0}% at or under 1.05, median {median:.4}, p95 {p95:.4}, worst {worst:.4}",
        ok * 100.0
    );
    println!();
}

/// CAPACITY over a heterogeneous cluster: "balance" is how far the most
/// over-served worker is above its capacity share (1.0 = exactly
/// proportional), and the ideal movement is the capacity share of the worker
/// that joins (2 TiB) or leaves.
fn measure_capacity(paths: &[String]) -> support::Measured {
    let config = RingConfig::with_policy(Policy::Capacity);
    let ms = capacity_members();
    let total_cap = |ms: &[Member]| ms.iter().map(|m| m.capacity_bytes as f64).sum::<f64>();
    let base = Ring::new(config, ms.clone(), 1).unwrap();
    let files = || paths.iter().map(|p| (p.as_str(), 1u64));
    let max_over_share = base
        .load(files())
        .iter()
        .map(|l| {
            (l.files as f64 / paths.len() as f64)
                / (l.member.capacity_bytes as f64 / total_cap(&ms))
        })
        .fold(0.0, f64::max);
    let mut grown = ms.clone();
    grown.push(Member::new(support::worker_id(WORKERS as u64), 2 << 40));
    let ideal_add = (2u64 << 40) as f64 / total_cap(&grown);
    let grown = base.next(grown).unwrap();
    let moved_on_add = ringside_ring::movement(&base, &grown, files()).file_fraction();
    let mut fewer = ms.clone();
    let removed = fewer.remove(3);
    let ideal_remove = removed.capacity_bytes as f64 / total_cap(&ms);
    let shrunk = base.next(fewer).unwrap();
    let moved_on_remove = ringside_ring::movement(&base, &shrunk, files()).file_fraction();
    support::Measured {
        policy: Policy::Capacity,
        max_over_mean: max_over_share,
        moved_on_add,
        moved_on_remove,
        ideal_add,
        ideal_remove,
    }
}

/// (max/mean, moved on add, moved on remove of worker #3) for hash-rings' rings.
fn hash_rings_placement(paths: &[String]) -> Vec<(&'static str, (f64, f64, f64))> {
    let ids: Vec<String> = (0..=WORKERS as u64).map(support::worker_id).collect();
    let ten = &ids[..WORKERS];
    let max_over_mean = |owners: &[usize]| {
        let mut counts = vec![0usize; ids.len()];
        for &o in owners {
            counts[o] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(0);
        max as f64 * WORKERS as f64 / owners.len() as f64
    };
    let moved = |a: &[usize], b: &[usize]| {
        a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
    };
    let index_of = |id: &String| ids.iter().position(|i| i == id).unwrap();
    let mut out = Vec::new();

    let consistent_owners = |nodes: &[&String]| -> Vec<usize> {
        let mut r: consistent::Ring<'_, String, Sip> =
            consistent::Ring::with_hasher(Sip::default());
        for id in nodes {
            r.insert_node(id, defaults::VIRTUAL_NODES_PER_WORKER as usize);
        }
        paths
            .iter()
            .map(|p| index_of(r.get_node(&p.as_str())))
            .collect()
    };
    let base: Vec<&String> = ten.iter().collect();
    let grown: Vec<&String> = ids.iter().collect();
    let shrunk: Vec<&String> = ten
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, id)| id)
        .collect();
    let (b, g, s) = (
        consistent_owners(&base),
        consistent_owners(&grown),
        consistent_owners(&shrunk),
    );
    out.push((
        "consistent (2000 replicas)",
        (max_over_mean(&b), moved(&b, &g), moved(&b, &s)),
    ));

    // hash-rings' jump ring is bucket numbers only: removing worker #3 means
    // renumbering, which is what its callers would have to do.
    let jump_owners = |n: usize, slots: &[&String]| -> Vec<usize> {
        let r = jump::Ring::with_hasher(Sip::default(), n as u32);
        paths
            .iter()
            .map(|p| index_of(slots[r.get_node(&p.as_str()) as usize]))
            .collect()
    };
    let (b, g, s) = (
        jump_owners(10, &base),
        jump_owners(11, &grown),
        jump_owners(9, &shrunk),
    );
    out.push((
        "jump (remove = renumber)",
        (max_over_mean(&b), moved(&b, &g), moved(&b, &s)),
    ));

    let maglev_owners = |nodes: Vec<&String>| -> Vec<usize> {
        let r = maglev::Ring::with_capacity_hint(nodes, defaults::MAGLEV_TABLE_SIZE as usize);
        paths
            .iter()
            .map(|p| index_of(r.get_node(&p.as_str())))
            .collect()
    };
    let (b, g, s) = (
        maglev_owners(base.clone()),
        maglev_owners(grown.clone()),
        maglev_owners(shrunk.clone()),
    );
    out.push((
        "maglev (65537)",
        (max_over_mean(&b), moved(&b, &g), moved(&b, &s)),
    ));

    let mpc_owners = |nodes: &[&String]| -> Vec<usize> {
        let mut r: mpc::Ring<'_, String, Sip> =
            mpc::Ring::with_hasher(Sip::default(), u64::from(defaults::MULTI_PROBE_COUNT));
        for id in nodes {
            r.insert_node(id);
        }
        paths
            .iter()
            .map(|p| index_of(r.get_node(&p.as_str())))
            .collect()
    };
    let (b, g, s) = (mpc_owners(&base), mpc_owners(&grown), mpc_owners(&shrunk));
    out.push((
        "mpc (21 probes)",
        (max_over_mean(&b), moved(&b, &g), moved(&b, &s)),
    ));
    out
}
