use crate::Series;

/// A stretch of finite samples, in time order, that may be joined by one line.
pub(crate) type Run = Vec<(i64, f64)>;

/// Cuts a series into runs at non-finite samples and at gaps longer than
/// [`GAP_FACTOR`] times the median spacing, keeping only samples inside
/// `from_ms..=to_ms`.
///
/// A line drawn across a gap would claim values nobody measured, e.g. while a
/// cluster was unreachable, so the chart must show the hole instead.
pub(crate) fn split_runs(series: &Series, from_ms: i64, to_ms: i64) -> Vec<Run> {
    let mut samples: Vec<(i64, f64)> = series
        .points
        .iter()
        .copied()
        .filter(|(t, _)| (from_ms..=to_ms).contains(t))
        .collect();
    // Callers usually send sorted points; a stable sort keeps equal
    // timestamps in the order they came.
    samples.sort_by_key(|&(t, _)| t);

    let max_gap = median_spacing(&samples).map(|m| m * GAP_FACTOR);
    let mut runs = Vec::new();
    let mut current = Run::new();
    let mut previous: Option<i64> = None;
    for (t, v) in samples {
        let too_far = match (previous, max_gap) {
            (Some(p), Some(max)) => u128::from(t.abs_diff(p)) > max,
            _ => false,
        };
        previous = Some(t);
        if (too_far || !v.is_finite()) && !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
        if v.is_finite() {
            current.push((t, v));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// How many median spacings two neighbouring samples may lie apart before
/// the line between them is dropped.
const GAP_FACTOR: u128 = 3;

/// The median of the positive spacings between samples, including those
/// around non-finite ones, since they still show the sampling cadence.
/// Zero spacings (duplicate timestamps) are left out so that they cannot
/// make every real step look like a gap.
fn median_spacing(samples: &[(i64, f64)]) -> Option<u128> {
    let mut spacings: Vec<u128> = samples
        .windows(2)
        .map(|w| u128::from(w[1].0.abs_diff(w[0].0)))
        .filter(|&d| d > 0)
        .collect();
    if spacings.is_empty() {
        return None;
    }
    spacings.sort_unstable();
    let mid = spacings.len() / 2;
    Some(if spacings.len().is_multiple_of(2) {
        (spacings[mid - 1] + spacings[mid]) / 2
    } else {
        spacings[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, f64)]) -> Series {
        Series {
            name: "s".into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn regular_samples_form_one_run() {
        let s = series(&[(0, 1.0), (10, 2.0), (20, 3.0), (30, 4.0)]);
        assert_eq!(split_runs(&s, 0, 30).len(), 1);
    }

    #[test]
    fn nan_and_infinity_break_the_line_and_are_dropped() {
        let s = series(&[
            (0, 1.0),
            (10, f64::NAN),
            (20, 3.0),
            (30, 4.0),
            (40, f64::INFINITY),
            (50, 5.0),
        ]);
        let runs = split_runs(&s, 0, 50);
        assert_eq!(
            runs,
            vec![vec![(0, 1.0)], vec![(20, 3.0), (30, 4.0)], vec![(50, 5.0)]]
        );
    }

    #[test]
    fn a_gap_longer_than_three_median_spacings_breaks_the_line() {
        let s = series(&[(0, 1.0), (10, 1.0), (20, 1.0), (51, 1.0), (61, 1.0)]);
        assert_eq!(split_runs(&s, 0, 100).len(), 2);
        let s = series(&[(0, 1.0), (10, 1.0), (20, 1.0), (50, 1.0), (60, 1.0)]);
        assert_eq!(split_runs(&s, 0, 100).len(), 1, "exactly 3x is not a gap");
    }

    #[test]
    fn points_outside_the_range_are_left_out() {
        let s = series(&[(-5, 1.0), (0, 1.0), (5, 2.0), (11, 3.0)]);
        assert_eq!(split_runs(&s, 0, 10), vec![vec![(0, 1.0), (5, 2.0)]]);
    }

    #[test]
    fn unsorted_points_are_put_in_time_order() {
        let s = series(&[(20, 3.0), (0, 1.0), (10, 2.0)]);
        assert_eq!(
            split_runs(&s, 0, 20),
            vec![vec![(0, 1.0), (10, 2.0), (20, 3.0)]]
        );
    }

    #[test]
    fn duplicate_timestamps_do_not_turn_every_step_into_a_gap() {
        let s = series(&[(0, 1.0), (0, 1.0), (0, 1.0), (10, 2.0), (20, 2.0)]);
        assert_eq!(split_runs(&s, 0, 20).len(), 1);
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let s = series(&[(i64::MIN, 1.0), (0, 1.0), (i64::MAX, 1.0)]);
        assert_eq!(split_runs(&s, i64::MIN, i64::MAX).len(), 1);
    }
}
