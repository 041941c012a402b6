//! Sizes and durations as operators write them (`512MiB`, `15s`) and the one
//! canonical spelling each value is shown in.
//!
//! Units follow the reference system: size units are binary whether or not
//! they carry the `i` (`1KB` is 1024 bytes), unit letters are
//! case-insensitive, a size without a unit is bytes and a duration without a
//! unit is milliseconds.

use std::time::Duration;

/// Binary size units from largest to smallest, as spelled in canonical output.
const SIZE_UNITS: [(&str, u64); 5] = [
    ("PiB", 1 << 50),
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
];

/// Duration units in milliseconds, largest first, as spelled in canonical output.
const DURATION_UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a size such as `512MiB`, `1.5GB`, `4096` or `64 kb` into bytes.
///
/// Fractions are allowed and round down to whole bytes. Returns `None` for
/// anything else, including values above `u64::MAX` bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = split_number(text)?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        _ => return None,
    };
    scale(number, multiplier)
}

/// Formats bytes in the largest binary unit that represents them exactly, so
/// `parse_size(&format_size(n)) == Some(n)` for every `n`.
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_owned();
    }
    for (name, unit) in SIZE_UNITS {
        if bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    format!("{bytes}B")
}

/// Parses a duration such as `15s`, `2m`, `500ms`, `1h`, `1d` or `1.5s`.
///
/// A plain number is milliseconds. Precision is whole milliseconds;
/// fractions below that round down.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = split_number(text)?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    scale(number, multiplier).map(Duration::from_millis)
}

/// Formats a duration in the largest unit that represents it exactly, so
/// durations of whole milliseconds round-trip through [`parse_duration`].
///
/// Sub-millisecond parts are dropped: configuration never carries them.
pub fn format_duration(duration: Duration) -> String {
    // Durations above u64::MAX milliseconds cannot come out of the parser;
    // saturate rather than wrap if a caller builds one by hand.
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return "0s".to_owned();
    }
    for (name, unit) in DURATION_UNITS {
        if millis.is_multiple_of(unit) {
            return format!("{}{name}", millis / unit);
        }
    }
    format!("{millis}ms")
}

/// A decimal number split into its whole and fractional digit strings.
struct Number<'a> {
    whole: &'a str,
    fraction: &'a str,
}

/// Splits `12.5 GiB` into the number and the unit, both trimmed.
fn split_number(text: &str) -> Option<(Number<'_>, &str)> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let valid = !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit());
    valid.then_some((Number { whole, fraction }, unit.trim()))
}

/// `number × multiplier` rounded down, or `None` when it does not fit a u64.
fn scale(number: Number<'_>, multiplier: u64) -> Option<u64> {
    let whole = number.whole.trim_start_matches('0');
    // More digits than u64::MAX has cannot fit even before scaling; the
    // check keeps the u128 arithmetic below from overflowing.
    if whole.len() > 20 {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // Digits past the 18th cannot change the result by a whole unit of any
    // multiplier up to 2^50, so ignoring them only affects the rounding.
    let fraction = &number.fraction[..number.fraction.len().min(18)];
    let fraction_value: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let total =
        whole * u128::from(multiplier) + fraction_value * u128::from(multiplier) / denominator;
    u64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_accept_binary_and_alluxio_units() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("100KiB"), Some(100 << 10));
        assert_eq!(parse_size("1TiB"), Some(1 << 40));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("4096B"), Some(4096));
        assert_eq!(parse_size("1KB"), Some(1024));
        assert_eq!(parse_size("1mb"), Some(1 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("1tb"), Some(1 << 40));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size(" 64 MiB "), Some(64 << 20));
        assert_eq!(parse_size(".5k"), Some(512));
        assert_eq!(parse_size("0"), Some(0));
    }

    #[test]
    fn sizes_reject_garbage_and_overflow() {
        for bad in [
            "",
            "abc",
            "MiB",
            "1 2",
            "1.2.3",
            "-1",
            "+1",
            "1XB",
            "1e3",
            ".",
            "1MiBs",
            "16384PiB",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        assert_eq!(parse_size("15PiB"), Some(15 << 50));
    }

    #[test]
    fn sizes_format_in_largest_exact_unit() {
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(1), "1B");
        assert_eq!(format_size(4096), "4KiB");
        assert_eq!(format_size(4097), "4097B");
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(1536 << 20), "1536MiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(3 << 40), "3TiB");
        assert_eq!(format_size(1 << 50), "1PiB");
    }

    #[test]
    fn durations_accept_units_and_plain_milliseconds() {
        assert_eq!(parse_duration("15s"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10min"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("3 sec"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_duration("7days"),
            Some(Duration::from_secs(7 * 86_400))
        );
    }

    #[test]
    fn durations_reject_garbage_and_overflow() {
        for bad in [
            "",
            "s",
            "abc",
            "-1s",
            "1w",
            "1us",
            "1.s.",
            "1 2s",
            "999999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_format_in_largest_exact_unit() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(15)), "15s");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
    }

    proptest! {
        #[test]
        fn size_round_trips_through_canonical_form(bytes in any::<u64>()) {
            prop_assert_eq!(parse_size(&format_size(bytes)), Some(bytes));
        }

        #[test]
        fn small_unit_multiples_round_trip(n in 0u64..100_000, shift in prop::sample::select(vec![0u32, 10, 20, 30, 40])) {
            let bytes = n << shift;
            prop_assert_eq!(parse_size(&format_size(bytes)), Some(bytes));
        }

        #[test]
        fn duration_round_trips_through_canonical_form(millis in any::<u64>()) {
            let duration = Duration::from_millis(millis);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Some(duration));
        }

        #[test]
        fn unit_parsers_never_panic(text in ".*") {
            let _ = parse_size(&text);
            let _ = parse_duration(&text);
        }
    }
}
