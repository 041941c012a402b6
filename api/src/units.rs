//! Sizes as people read them, shared by the CLI and the console so both
//! name the same number the same way.

/// `bytes` scaled to the largest IEC unit it reaches: `(1.5, "KiB")` for
/// 1536; bytes below 1 KiB stay in `B`.
pub fn iec(bytes: u64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    (value, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::iec;

    #[test]
    fn scales_to_the_largest_unit_reached() {
        assert_eq!(iec(0), (0.0, "B"));
        assert_eq!(iec(1023), (1023.0, "B"));
        assert_eq!(iec(1536), (1.5, "KiB"));
        assert_eq!(iec(3 << 30), (3.0, "GiB"));
        assert_eq!(iec(u64::MAX), (16.0, "EiB"));
    }
}
