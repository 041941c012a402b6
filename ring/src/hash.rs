//! The hash functions every placement decision is built on.
//!
//! They are part of the on-the-wire contract: a client in the browser, a worker
//! and the coordinator must agree bit for bit, so everything here is integer
//! arithmetic on fixed-width types (never `usize`, never floats) and every
//! constant is spelled out. Changing anything in this file moves data; the
//! golden tests at the bottom exist to make such a change loud.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Hash of a file path as every policy except KETAMA sees it: XXH3-64 of the
/// path's UTF-8 bytes with seed 0.
#[inline]
pub fn path_hash(path: &str) -> u64 {
    xxh3_64(path.as_bytes())
}

/// Position of virtual node `index` of a worker on the 64-bit ring: XXH3-64 of
/// the worker id's UTF-8 bytes with `index` as the seed. Seed 0 is also the
/// worker's single point under MULTI_PROBE.
#[inline]
pub fn worker_point(worker_id: &str, index: u64) -> u64 {
    xxh3_64_with_seed(worker_id.as_bytes(), index)
}

/// Seeds of the two per-worker hashes MAGLEV derives its permutation from.
/// They are above any virtual node index so the values differ from ring points.
pub const MAGLEV_OFFSET_SEED: u64 = 0x6d61_676c_6576_6f66; // "maglevof"
pub const MAGLEV_SKIP_SEED: u64 = 0x6d61_676c_6576_736b; // "maglevsk"

/// Weyl increment (2^64 / golden ratio) used to derive a sequence of
/// independent-looking hashes from one path hash without rehashing the path.
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finaliser: a bijective mixer, so distinct inputs stay distinct.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `i`-th derived hash of a path hash (`i >= 1`); used for MULTI_PROBE
/// probes and JUMP re-draws.
#[inline]
pub fn derived(hash: u64, i: u64) -> u64 {
    mix64(hash.wrapping_add(i.wrapping_mul(GOLDEN_GAMMA)))
}

/// Lamping & Veach's jump consistent hash, with the division done in integers
/// instead of `f64`: the float version is deterministic under IEEE 754 too, but
/// integers make that obvious and leave nothing to the platform.
#[inline]
pub fn jump(mut key: u64, buckets: u32) -> u32 {
    debug_assert!(buckets > 0);
    let buckets = u64::from(buckets);
    let mut b: u64 = 0;
    let mut j: u64 = 0;
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // (b + 1) <= 2^32, so the shift cannot overflow.
        j = ((b + 1) << 31) / ((key >> 33) + 1);
    }
    b as u32
}

/// Maps a 64-bit hash onto `0..n` without a division (Lemire's multiply-shift).
#[inline]
pub fn fast_range(hash: u64, n: u32) -> u32 {
    ((u128::from(hash) * u128::from(n)) >> 64) as u32
}

/// KETAMA's key hash: the top 32 bits of [`path_hash`], for its 32-bit ring.
/// libketama hashes keys with MD5 too, but that made every lookup cost a
/// full MD5 block (~150 ns); only the point layout keeps MD5.
#[inline]
pub fn ketama_key_hash(path: &str) -> u32 {
    ketama_key_of(path_hash(path))
}

#[inline]
pub fn ketama_key_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// MD5 (RFC 1321). KETAMA lays out its points with it, as libketama does; it
/// is small enough that a dependency would cost more than it saves. Not used
/// for anything security related.
pub fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    const K: [u32; 64] = [
        0xd76a_a478,
        0xe8c7_b756,
        0x2420_70db,
        0xc1bd_ceee,
        0xf57c_0faf,
        0x4787_c62a,
        0xa830_4613,
        0xfd46_9501,
        0x6980_98d8,
        0x8b44_f7af,
        0xffff_5bb1,
        0x895c_d7be,
        0x6b90_1122,
        0xfd98_7193,
        0xa679_438e,
        0x49b4_0821,
        0xf61e_2562,
        0xc040_b340,
        0x265e_5a51,
        0xe9b6_c7aa,
        0xd62f_105d,
        0x0244_1453,
        0xd8a1_e681,
        0xe7d3_fbc8,
        0x21e1_cde6,
        0xc337_07d6,
        0xf4d5_0d87,
        0x455a_14ed,
        0xa9e3_e905,
        0xfcef_a3f8,
        0x676f_02d9,
        0x8d2a_4c8a,
        0xfffa_3942,
        0x8771_f681,
        0x6d9d_6122,
        0xfde5_380c,
        0xa4be_ea44,
        0x4bde_cfa9,
        0xf6bb_4b60,
        0xbebf_bc70,
        0x289b_7ec6,
        0xeaa1_27fa,
        0xd4ef_3085,
        0x0488_1d05,
        0xd9d4_d039,
        0xe6db_99e5,
        0x1fa2_7cf8,
        0xc4ac_5665,
        0xf429_2244,
        0x432a_ff97,
        0xab94_23a7,
        0xfc93_a039,
        0x655b_59c3,
        0x8f0c_cc92,
        0xffef_f47d,
        0x8584_5dd1,
        0x6fa8_7e4f,
        0xfe2c_e6e0,
        0xa301_4314,
        0x4e08_11a1,
        0xf753_7e82,
        0xbd3a_f235,
        0x2ad7_d2bb,
        0xeb86_d391,
    ];

    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

    // Straight-line rounds: a generic loop with a per-step `match` was
    // several times slower, and large rings hash many points at build time.
    let compress = |state: &mut [u32; 4], block: &[u8]| {
        let mut m = [0u32; 16];
        for (i, word) in m.iter_mut().enumerate() {
            *word = u32::from_le_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        let [mut a, mut b, mut c, mut d] = *state;
        macro_rules! step {
            ($f:expr, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr) => {
                $a = $b.wrapping_add(
                    $f($b, $c, $d)
                        .wrapping_add($a)
                        .wrapping_add(K[$i])
                        .wrapping_add(m[$g])
                        .rotate_left(S[$i]),
                );
            };
        }
        macro_rules! round {
            ($f:expr, $g:expr, $base:expr) => {
                step!($f, a, b, c, d, $g($base), $base);
                step!($f, d, a, b, c, $g($base + 1), $base + 1);
                step!($f, c, d, a, b, $g($base + 2), $base + 2);
                step!($f, b, c, d, a, $g($base + 3), $base + 3);
            };
        }
        let f1 = |b: u32, c: u32, d: u32| (b & c) | (!b & d);
        let f2 = |b: u32, c: u32, d: u32| (d & b) | (!d & c);
        let f3 = |b: u32, c: u32, d: u32| b ^ c ^ d;
        let f4 = |b: u32, c: u32, d: u32| c ^ (b | !d);
        let g1 = |i: usize| i;
        let g2 = |i: usize| (5 * i + 1) % 16;
        let g3 = |i: usize| (3 * i + 5) % 16;
        let g4 = |i: usize| (7 * i) % 16;
        round!(f1, g1, 0);
        round!(f1, g1, 4);
        round!(f1, g1, 8);
        round!(f1, g1, 12);
        round!(f2, g2, 16);
        round!(f2, g2, 20);
        round!(f2, g2, 24);
        round!(f2, g2, 28);
        round!(f3, g3, 32);
        round!(f3, g3, 36);
        round!(f3, g3, 40);
        round!(f3, g3, 44);
        round!(f4, g4, 48);
        round!(f4, g4, 52);
        round!(f4, g4, 56);
        round!(f4, g4, 60);
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    };

    let mut chunks = input.chunks_exact(64);
    for block in &mut chunks {
        compress(&mut state, block);
    }
    // Padding: 0x80, zeros, then the bit length; one or two blocks, on the stack.
    let rest = chunks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < 56 { 64 } else { 128 };
    let bit_len = (input.len() as u64).wrapping_mul(8);
    tail[tail_len - 8..tail_len].copy_from_slice(&bit_len.to_le_bytes());
    for block in tail[..tail_len].chunks_exact(64) {
        compress(&mut state, block);
    }

    let mut out = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_matches_rfc_1321_vectors() {
        let vectors: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in vectors {
            assert_eq!(hex(&md5(input.as_bytes())), want, "md5({input:?})");
        }
    }

    #[test]
    fn md5_padding_boundaries() {
        // Lengths around 56 and 64 bytes straddle the one-or-two padding block
        // decision; the digests are those `md5sum` prints for the same input.
        let vectors: [(usize, &str); 7] = [
            (55, "04364420e25c512fd958a70738aa8f72"),
            (56, "668a72d5ba17f08e62dabcafad6db14b"),
            (63, "7dc2ca208106a2f703567bdff99d8981"),
            (64, "c1bb4f81d892b2d57947682aeb252456"),
            (65, "1bc932052302d074bdec39795fe00cf6"),
            (119, "ab347a5f68c8a443cfcddc633f12c24f"),
            (120, "fb98667f98096de92620b64f46e1c5b5"),
        ];
        for (len, want) in vectors {
            assert_eq!(hex(&md5(&vec![b'x'; len])), want, "md5 of {len} bytes");
        }
    }

    #[test]
    fn jump_matches_reference_behaviour() {
        // One bucket: everything lands in it.
        for k in 0..1000u64 {
            assert_eq!(jump(k, 1), 0);
        }
        // Growing from n to n+1 buckets moves a key only into the new bucket.
        for k in 0..20_000u64 {
            let key = mix64(k);
            for n in 1..40u32 {
                let before = jump(key, n);
                let after = jump(key, n + 1);
                assert!(after == before || after == n, "key {key} n {n}");
            }
        }
    }

    #[test]
    fn fast_range_stays_in_range() {
        for k in 0..10_000u64 {
            assert!(fast_range(mix64(k), 65_537) < 65_537);
        }
        assert_eq!(fast_range(u64::MAX, 7), 6);
        assert_eq!(fast_range(0, 7), 0);
    }

    /// Pinned values: if one of these changes, every deployed ring reshuffles.
    #[test]
    fn golden_hashes() {
        assert_eq!(path_hash(""), 0x2d06_8005_38d3_94c2);
        assert_eq!(ketama_key_hash(""), 0x2d06_8005);
        assert_eq!(mix64(0), 0);
        assert_eq!(jump(0, 10), jump(0, 10));
    }
}
