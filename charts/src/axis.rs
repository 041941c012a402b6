use std::ops::Range;

use chrono::DateTime;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

use crate::Unit;

/// A linear axis whose ticks are exactly the values given: plotters' own
/// ticks fall on powers of ten, which are odd clock times and odd sizes.
pub(crate) struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub(crate) fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Ticked {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    // The chart always passes its own label formatter; this only satisfies
    // plotters' bound for drawing a mesh.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only bold ticks: light grid lines in between would be clutter.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// The y axis: its range and ticks in display units (MiB, percent, …), so
/// that the "nice" steps are nice in the unit the reader sees.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueAxis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) ticks: Vec<f64>,
    /// Multiplies a raw value into display units.
    scale: f64,
    step: f64,
    decimals: usize,
    /// Appended to each tick label, e.g. " MiB/s" or "%".
    suffix: &'static str,
    /// Shown in brackets after the axis description; counts have none.
    pub(crate) unit_label: Option<&'static str>,
}

/// Room above the largest value so that the line does not run along the
/// top edge of the plot.
const HEADROOM: f64 = 1.05;

/// Below this (in display units) a range is treated as flat: a step that
/// small would print as a row of zeros.
const FLAT: f64 = 1e-9;

/// Labels of larger numbers switch to scientific notation to stay short.
const PLAIN_LIMIT: f64 = 1e15;

const IEC_BYTES: [&str; 7] = [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"];
const IEC_RATES: [&str; 7] = [
    " B/s", " KiB/s", " MiB/s", " GiB/s", " TiB/s", " PiB/s", " EiB/s",
];

impl ValueAxis {
    /// Builds the axis for finite values between `min` and `max`, with at
    /// most about `max_ticks` intervals.
    pub(crate) fn new(unit: Unit, min: f64, max: f64, max_ticks: usize) -> Self {
        let max_ticks = max_ticks.max(1) as f64;
        let (scale, suffix, integer) = match unit {
            Unit::Ratio => (100.0, "%", false),
            Unit::Count => (1.0, "", true),
            Unit::Bytes | Unit::BytesPerSecond => {
                let names = if unit == Unit::Bytes {
                    &IEC_BYTES
                } else {
                    &IEC_RATES
                };
                let magnitude = min.abs().max(max.abs());
                let mut power = 0;
                while power + 1 < names.len() && magnitude >= 1024f64.powi(power as i32 + 1) {
                    power += 1;
                }
                (1024f64.powi(-(power as i32)), names[power], false)
            }
        };
        let (lo, hi, step, decimals) = if unit == Unit::Ratio {
            // A ratio always spans 0..1 so that charts of it compare at a glance.
            let (step, decimals) = nice_step(100.0 / max_ticks, false);
            (0.0, 100.0, step, decimals)
        } else {
            nice_range(min * scale, max * scale, integer, max_ticks)
        };
        let intervals = (hi / step - lo / step).round().clamp(0.0, 4.0 * max_ticks) as usize;
        let ticks = (0..=intervals)
            .map(|i| lo + i as f64 * step)
            .filter(|t| t.is_finite() && *t <= hi)
            .collect();
        ValueAxis {
            lo,
            hi,
            ticks,
            scale,
            step,
            decimals,
            suffix,
            unit_label: (unit != Unit::Count).then(|| suffix.trim_start()),
        }
    }

    /// A raw value in display units, kept inside the axis so that nothing
    /// is drawn outside the plot (a ratio above 1 is shown as 100%).
    pub(crate) fn display(&self, value: f64) -> f64 {
        (value * self.scale).clamp(self.lo, self.hi)
    }

    pub(crate) fn tick_label(&self, value: f64) -> String {
        // Rounding can leave -0.0000001 where zero was meant; it must not
        // print as "-0".
        let value = if value.abs() < self.step * 1e-6 {
            0.0
        } else {
            value
        };
        if value.abs() >= PLAIN_LIMIT {
            format!("{value:.2e}{}", self.suffix)
        } else {
            format!("{value:.*}{}", self.decimals, self.suffix)
        }
    }
}

/// A range from 0 (or below, for negative data) to a little above `max`,
/// ending on whole steps, with the step and the decimals its labels need.
fn nice_range(min: f64, max: f64, integer: bool, max_ticks: f64) -> (f64, f64, f64, usize) {
    let top = if max > 0.0 {
        (max * HEADROOM).min(f64::MAX)
    } else {
        0.0
    };
    let bottom = if min < 0.0 {
        (min * HEADROOM).max(f64::MIN)
    } else {
        0.0
    };
    let (bottom, top) = if top - bottom < FLAT {
        (0.0, 1.0)
    } else {
        (bottom, top)
    };
    // Dividing first keeps the span finite when both ends are huge.
    let (step, decimals) = nice_step(top / max_ticks - bottom / max_ticks, integer);
    let hi = ((top / step).ceil() * step).min(f64::MAX);
    let lo = ((bottom / step).floor() * step).max(f64::MIN);
    (lo, hi, step, decimals)
}

/// The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least
/// `raw`; counts only get whole steps.
fn nice_step(raw: f64, integer: bool) -> (f64, usize) {
    if !raw.is_finite() || raw <= 0.0 || (integer && raw <= 1.0) {
        return (1.0, 0);
    }
    let exponent = raw.log10().floor();
    let power = 10f64.powf(exponent);
    let fraction = raw / power;
    let mantissas: &[f64] = if integer {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0, 2.0, 2.5, 5.0]
    };
    let (mantissa, power) = mantissas
        .iter()
        .find(|&&m| m >= fraction * (1.0 - 1e-12))
        .map_or((1.0, power * 10.0), |&m| (m, power));
    let step = (mantissa * power).min(f64::MAX);
    let exponent = power.log10().round() as i64;
    let extra = i64::from(mantissa == 2.5);
    let decimals = (extra - exponent).clamp(0, 15) as usize;
    (step, decimals)
}

/// The x axis ticks, as offsets in milliseconds from `from_ms` with their
/// labels, at round UTC times: clock times up to two days (unless the axis
/// is too narrow for more than a tick a day), then dates.
pub(crate) fn time_ticks(from_ms: i64, to_ms: i64, max_ticks: usize) -> Vec<(f64, String)> {
    const MINUTE: i128 = 60_000;
    const DAY: i128 = 24 * 60 * MINUTE;
    let max_ticks = max_ticks.max(1) as i128;
    let from = i128::from(from_ms);
    let to = i128::from(to_ms);
    let span = to - from;
    let fits = |step: i128| span / step <= max_ticks;

    // Every clock step divides a day, so ticks land on the same clock times
    // whatever the range starts at.
    let clock_step = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720]
        .into_iter()
        .map(|m| m * MINUTE)
        .filter(|_| span <= 2 * DAY)
        .find(|&s| fits(s));
    let step = clock_step.unwrap_or_else(|| {
        [1, 2, 7, 14, 30, 61, 91, 182, 365]
            .into_iter()
            .map(|d| d * DAY)
            .find(|&s| fits(s))
            .unwrap_or_else(|| {
                let mut years = 1;
                loop {
                    for m in [2, 5, 10] {
                        let step = m * years * 365 * DAY;
                        if fits(step) {
                            return step;
                        }
                    }
                    years *= 10;
                }
            })
    });
    // Ticks a day or more apart would all read 00:00; past a year the month
    // and day alone would repeat.
    let format = if step < DAY {
        "%H:%M"
    } else if span <= 366 * DAY {
        "%b %d"
    } else {
        "%Y-%m-%d"
    };

    let first = from + (step - from.rem_euclid(step)) % step;
    std::iter::successors(Some(first), |t| Some(t + step))
        .take_while(|&t| t <= to)
        .map(|t| {
            let label = i64::try_from(t)
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .map(|d| d.format(format).to_string())
                .unwrap_or_default();
            ((t - from) as f64, label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    /// 2024-03-05T00:00:00Z
    const MARCH_5: i64 = 1_709_596_800_000;

    fn labels(axis: &ValueAxis) -> Vec<String> {
        axis.ticks.iter().map(|&t| axis.tick_label(t)).collect()
    }

    #[test]
    fn bytes_per_second_pick_the_iec_unit_from_the_max() {
        let axis = ValueAxis::new(Unit::BytesPerSecond, 0.0, 300.0 * MIB, 5);
        assert_eq!(axis.unit_label, Some("MiB/s"));
        assert_eq!(
            labels(&axis),
            [
                "0 MiB/s",
                "100 MiB/s",
                "200 MiB/s",
                "300 MiB/s",
                "400 MiB/s"
            ]
        );
        assert!(axis.hi > axis.display(300.0 * MIB) - 1e-9);
    }

    #[test]
    fn bytes_scale_through_kib_gib_and_tib() {
        let unit_of = |max: f64| ValueAxis::new(Unit::Bytes, 0.0, max, 5).unit_label;
        assert_eq!(unit_of(500.0), Some("B"));
        assert_eq!(unit_of(2048.0), Some("KiB"));
        assert_eq!(unit_of(3.0 * 1024.0 * MIB), Some("GiB"));
        assert_eq!(unit_of(7.0 * 1024.0 * 1024.0 * MIB), Some("TiB"));
        assert_eq!(unit_of(u64::MAX as f64), Some("EiB"));
    }

    #[test]
    fn fractional_steps_get_decimals() {
        let axis = ValueAxis::new(Unit::Bytes, 0.0, 1.1 * MIB, 5);
        assert_eq!(axis.unit_label, Some("MiB"));
        assert_eq!(
            labels(&axis),
            [
                "0.00 MiB", "0.25 MiB", "0.50 MiB", "0.75 MiB", "1.00 MiB", "1.25 MiB"
            ]
        );
    }

    #[test]
    fn ratios_span_zero_to_one_hundred_percent() {
        let axis = ValueAxis::new(Unit::Ratio, 0.2, 0.3, 5);
        assert_eq!((axis.lo, axis.hi), (0.0, 100.0));
        assert_eq!(labels(&axis), ["0%", "20%", "40%", "60%", "80%", "100%"]);
        assert_eq!(axis.unit_label, Some("%"));
        assert_eq!(axis.display(1.7), 100.0);
    }

    #[test]
    fn counts_use_whole_numbers() {
        let axis = ValueAxis::new(Unit::Count, 0.0, 3.0, 8);
        assert_eq!(labels(&axis), ["0", "1", "2", "3", "4"]);
        assert_eq!(axis.unit_label, None);
        let axis = ValueAxis::new(Unit::Count, 0.0, 1234.0, 5);
        assert_eq!(labels(&axis), ["0", "500", "1000", "1500"]);
    }

    #[test]
    fn all_zero_values_still_get_an_axis() {
        let axis = ValueAxis::new(Unit::Count, 0.0, 0.0, 5);
        assert_eq!((axis.lo, axis.hi), (0.0, 1.0));
        assert_eq!(labels(&axis), ["0", "1"]);
    }

    #[test]
    fn negative_values_extend_the_axis_below_zero() {
        let axis = ValueAxis::new(Unit::Count, -40.0, 10.0, 5);
        assert!(axis.lo <= -40.0 && axis.hi >= 10.0);
        assert!(labels(&axis).contains(&"0".to_string()));
    }

    #[test]
    fn extreme_values_give_finite_short_labels() {
        for (min, max) in [(0.0, f64::MAX), (f64::MIN, f64::MAX), (0.0, 5e-324)] {
            let axis = ValueAxis::new(Unit::Count, min, max, 5);
            assert!(axis.lo.is_finite() && axis.hi.is_finite() && axis.lo < axis.hi);
            assert!(!axis.ticks.is_empty());
            assert!(labels(&axis).iter().all(|l| l.len() < 16), "{axis:?}");
        }
    }

    #[test]
    fn up_to_two_days_ticks_are_clock_times() {
        let ticks = time_ticks(MARCH_5, MARCH_5 + DAY, 4);
        let labels: Vec<_> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["00:00", "06:00", "12:00", "18:00", "00:00"]);
        assert_eq!(ticks[1].0, 6.0 * HOUR as f64);
    }

    #[test]
    fn a_narrow_two_day_axis_shows_dates_not_midnights() {
        let ticks = time_ticks(MARCH_5, MARCH_5 + 2 * DAY, 1);
        let labels: Vec<_> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["Mar 06"]);
    }

    #[test]
    fn ticks_land_on_round_times_when_the_range_does_not() {
        let from = MARCH_5 + 17 * 60_000 + 123;
        let ticks = time_ticks(from, from + HOUR, 6);
        assert_eq!(ticks[0].1, "00:20");
        assert!(ticks.iter().all(|(_, l)| l.ends_with('0')));
    }

    #[test]
    fn beyond_two_days_ticks_are_dates() {
        let ticks = time_ticks(MARCH_5, MARCH_5 + 7 * DAY, 8);
        assert_eq!(ticks.first().unwrap().1, "Mar 05");
        assert_eq!(ticks.last().unwrap().1, "Mar 12");
        let ticks = time_ticks(MARCH_5, MARCH_5 + 800 * DAY, 8);
        assert!(ticks.iter().all(|(_, l)| l.len() == 10), "{ticks:?}");
    }

    #[test]
    fn tick_counts_stay_bounded_for_any_span() {
        for span in [
            1,
            59_999,
            HOUR,
            2 * DAY,
            2 * DAY + 1,
            400 * DAY,
            8_000_000_000_000_000,
        ] {
            let ticks = time_ticks(-span / 2, span - span / 2, 6);
            assert!(ticks.len() <= 7, "{span}: {}", ticks.len());
        }
    }
}
