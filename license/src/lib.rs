//! Ringside licenses: what a license says, how the vendor signs it, and how
//! a coordinator checks it. A license is a small JSON document (who it is
//! for, which clusters it covers, until when, with which limits and
//! features) signed with the vendor's Ed25519 key. It travels as one line
//! of text, a *token*, so it fits in a property value (`ringside.license`,
//! as the reference system's `alluxio.license`), a file, or a JSON body:
//!
//! ```text
//! RSL1.<base64url(payload JSON)>.<base64url(Ed25519 signature of exactly those payload bytes)>
//! ```
//!
//! [`verify`] turns a token into a [`License`] only when the signature
//! holds under the vendor's [`PublicKey`] and the payload is a version this
//! build reads; [`evaluate`] then says whether it covers a cluster and where
//! it stands at a given time ([`State::Valid`], [`State::Grace`] after the
//! expiry date, [`State::Expired`] once the grace period is over), and
//! [`License::admit_worker`] whether one more worker fits its limits. Keys
//! come from a [`VendorKey`] file (`ringside license keygen`), and
//! [`VendorKey::sign`] issues tokens (`ringside license issue`).
//!
//! Everything here is pure: no clock (callers pass `now`), no files (callers
//! pass their text), so the rules are the same in the coordinator, the CLI
//! and the tests. Every error says what was wrong and what is expected.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use ringside_license::{License, LicenseKind, Limits, State, VendorKey, evaluate, verify};
//!
//! let vendor = VendorKey::from_seed([7; 32]);
//! let license = License {
//!     id: "L-1".into(),
//!     customer: "ACME".into(),
//!     kind: LicenseKind::Cluster,
//!     clusters: vec!["eu-west".into()],
//!     issued_at: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
//!     expires_at: Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap(),
//!     limits: Limits { max_workers: Some(3), max_capacity_bytes: None },
//!     ..License::default()
//! };
//! let token = vendor.sign(&license).unwrap();
//! let checked = verify(&token, &vendor.public_key()).unwrap();
//! let now = Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap();
//! let grace = chrono::Duration::days(14);
//! assert_eq!(evaluate(&checked, "eu-west", now, grace).unwrap().state, State::Valid);
//! assert!(evaluate(&checked, "us-east", now, grace).is_err());
//! ```

mod error;
mod evaluate;
mod key;
mod license;
mod token;

pub use error::LicenseError;
pub use evaluate::{Evaluation, State, Usage, evaluate, evaluate_at};
pub use key::{KEY_FILE_VERSION, PublicKey, VendorKey};
pub use license::{LICENSE_VERSION, License, LicenseKind, Limits};
pub use token::{TOKEN_PREFIX, decode_unverified, verify};

/// Bytes as people write them in this crate's messages: `10TiB` when exact,
/// else the byte count with an approximation (`1500 bytes (1.46KiB)`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes == 0 {
        return "0B".into();
    }
    let exact = (0..UNITS.len())
        .rev()
        .find(|&i| bytes.is_multiple_of(1u64 << (10 * i)));
    match exact {
        Some(i) if i > 0 => format!("{}{}", bytes >> (10 * i), UNITS[i]),
        _ if bytes < 1024 => format!("{bytes}B"),
        _ => {
            let mut value = bytes as f64;
            let mut unit = 0;
            while value >= 1024.0 && unit < UNITS.len() - 1 {
                value /= 1024.0;
                unit += 1;
            }
            format!("{bytes} bytes ({value:.2}{})", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_size;

    #[test]
    fn sizes_read_as_written() {
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(1024), "1KiB");
        assert_eq!(format_size(10 << 40), "10TiB");
        assert_eq!(format_size(1500), "1500 bytes (1.46KiB)");
        assert_eq!(
            format_size(u64::MAX),
            "18446744073709551615 bytes (16.00EiB)"
        );
    }
}
