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
    let (value, unit) = ringside_api::units::iec(bytes);
    // Exact only while f64 holds every integer: scaling by 1024 then
    // leaves no fraction exactly when the unit divides the size.
    if value.fract() == 0.0 && bytes < 1 << f64::MANTISSA_DIGITS {
        format!("{value}{unit}")
    } else {
        format!("{bytes} bytes ({value:.2}{unit})")
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
