//! Ringside's hash ring: decides which cache worker owns which file path.
//! The coordinator plans jobs with it, workers and clients route reads with
//! it, and the console compiles it to WebAssembly to preview what a scaling or
//! policy change would move before anyone makes it. It is pure code: no I/O,
//! no clocks, no randomness, and the same inputs give the same owner in every
//! process, on every machine, native or wasm.
//!
//! # Using it
//!
//! ```
//! use ringside_ring::{movement, Member, Ring, RingConfig};
//!
//! let workers = (0..10).map(|i| Member::new(format!("worker-{i}"), 1 << 40));
//! let ring = Ring::new(RingConfig::default(), workers, 1)?;
//! let owner = ring.locate("/data/part-0000001.parquet").unwrap();
//! let fallbacks = ring.locate_n("/data/part-0000001.parquet", 3);
//! assert_eq!(fallbacks[0], owner);
//!
//! // Preview adding an 11th worker: the epoch goes up, about 1/11 moves.
//! let bigger = ring.next(ring.members().iter().cloned().chain([Member::new("worker-10", 1 << 40)]))?;
//! assert_eq!(bigger.epoch(), 2);
//! let files = (0..10_000).map(|i| (format!("/data/part-{i:07}.parquet"), 1u64 << 20));
//! let moved = movement(&ring, &bigger, files);
//! assert!(moved.file_fraction() < 0.11);
//! # Ok::<(), ringside_ring::RingError>(())
//! ```
//!
//! # Policies
//!
//! | policy | table | weights | minimal movement |
//! | --- | --- | --- | --- |
//! | `CONSISTENT` | `virtual_nodes_per_worker` points per worker (default 2000) | yes | yes |
//! | `KETAMA` | libketama point layout, `ketama_points_per_worker` (default 160) | yes | yes |
//! | `JUMP` | jump hash over slots, vacant slots for departed workers | no | yes |
//! | `MAGLEV` | prime lookup table, `maglev_table_size` (default 65537) | yes | no (near-minimal) |
//! | `MULTI_PROBE` | one point per worker, `multi_probe_count` probes (default 21) | no | yes |
//! | `CAPACITY` | `CONSISTENT` with points scaled by capacity | always | yes, see below |
//!
//! "Minimal movement" means: adding workers moves keys only to them, removing
//! workers moves only their keys. MAGLEV rebuilds its table and moves a few
//! percent more than that.
//!
//! [`Ring::locate_n`] lists distinct workers in preference order: clockwise
//! from the key on point rings, in draw order under JUMP, by probe distance
//! under MULTI_PROBE, in table order under MAGLEV. For CONSISTENT, KETAMA,
//! CAPACITY and JUMP the second worker is exactly where the key goes if the
//! first one leaves, so a reader's fallback is where the data will be.
//!
//! # Previews
//!
//! [`movement`] counts the files and bytes that change owner between two
//! rings for a concrete file list; [`key_space_moved`] estimates the moved
//! fraction without one; [`Ring::shares`] gives each worker's share of the key
//! space (exact from the table, sampled for MULTI_PROBE); [`Ring::load`]
//! counts a concrete file list per worker.
//!
//! **Capacity weighting** (`weighting = CAPACITY`, or the `CAPACITY` policy)
//! makes a worker's share proportional to `capacity_bytes`. Point rings give a
//! worker `round(points * capacity / reference)` points (at least 1), where the
//! reference is `capacity_reference_bytes` or, if unset, the largest member's
//! capacity. With a pinned reference every join and departure moves the
//! minimum; with the default, one that changes the largest capacity (say the
//! biggest worker fails) rescales every worker's points and moves data between
//! unchanged workers too. MAGLEV hands out table entries by smooth weighted
//! round robin (no reference needed). A worker with capacity 0 owns nothing.
//! JUMP and MULTI_PROBE refuse weighting ([`RingError::WeightingUnsupported`]).
//!
//! # Hashes (part of the contract)
//!
//! All placement math is integer arithmetic on fixed-width types; changing any
//! of this reshuffles every cluster, and pinned tests guard it.
//!
//! - Path hash `h` (every policy starts from it): XXH3-64 of the path's UTF-8
//!   bytes, seed 0. No normalisation: `/a/b` and `/a//b` are different keys.
//! - Worker point `j` (CONSISTENT, CAPACITY): XXH3-64 of the worker id's UTF-8
//!   bytes with seed `j`, for `j` in `0..count`. MULTI_PROBE uses `j = 0` only.
//! - Derived hash `d(h, i)` = SplitMix64 finaliser of `h + i * 0x9e3779b97f4a7c15`
//!   (wrapping). MULTI_PROBE's probes are `d(h, 0..k)`; the probe with the
//!   smallest clockwise distance to the next point wins (ties: lower member).
//! - A point ring owner is the first point `>= h`, wrapping to the lowest;
//!   colliding points belong to the member whose id sorts first, and the
//!   other members at that point are its next fallbacks, in id order.
//! - KETAMA: worker points = MD5(`"{id}-{k}"`) for k = 0, 1, ..., four
//!   little-endian `u32` per digest, on a 32-bit ring (libketama's layout);
//!   key hash = the top 32 bits of `h`. (libketama hashes keys with MD5 as
//!   well; that cost a full MD5 block per lookup, so this ring is not
//!   key-compatible with memcached clients.)
//! - JUMP: Lamping & Veach's jump hash on `h` over the slot count, with the
//!   division done in integers; a vacant slot re-draws with `d(h, 1)`,
//!   `d(h, 2)`, ... and after 64 draws takes the next live slot clockwise.
//! - MAGLEV: offset = XXH3-64(id, seed `0x6d61676c65766f66`) mod M, skip =
//!   XXH3-64(id, seed `0x6d61676c6576736b`) mod (M - 1) + 1; workers take
//!   turns in id order; a key reads entry `(h * M) >> 64`.
//!
//! # Epochs and JUMP layouts
//!
//! A ring carries an `epoch` the caller owns. [`Ring::next`] takes the current
//! ring and the new member set and bumps the epoch only if the ids (or, when
//! weighted, the capacities) changed. Members are sorted by id internally, so
//! the order they are given in never matters. JUMP is the one policy whose
//! placement depends on history (which slots departed workers left vacant);
//! [`Ring::to_spec`] / [`Ring::from_spec`] (also serde on [`Ring`]) carry that
//! layout, so the coordinator should persist and publish the spec rather than
//! only the member list. [`Ring::new`] always starts from the compact layout.

mod analysis;
mod config;
mod error;
mod hash;
mod preview;
mod ring;
mod table;

pub use analysis::{Load, Movement, Share, Shares, key_space_moved, max_over_mean_files, movement};
pub use config::{Policy, RingConfig, Weighting, defaults, is_prime, next_prime};
pub use error::{ParseError, RingError};
pub use preview::{MAX_PREVIEW_ADD, Preview, RingChange, preview};
pub use ring::{MAX_RING_POINTS, MAX_WORKERS, Member, Ring, RingSpec};

/// The raw hash functions, for tools that need to reproduce placement
/// outside this crate (and for tests that pin them).
pub mod hashing {
    pub use crate::hash::{
        derived, jump, ketama_key_hash, ketama_key_of, md5, mix64, path_hash, worker_point,
    };
}

#[cfg(test)]
mod tests;
