//! Time-series charts for Ringside's console, drawn on the server as SVG
//! strings that pages inline as they are. The crate is pure: it takes the
//! samples the console already holds (throughput, cache usage, hit ratio,
//! job counts over a time range) and returns markup, with no I/O and no
//! system fonts, so it renders the same on a developer's machine, in CI and
//! on a headless server. Gaps in the data stay visible as breaks in the
//! line, and a range without data says so instead of drawing empty axes.

mod axis;
mod series;

use chrono::DateTime;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use thiserror::Error;

use crate::axis::{Ticked, ValueAxis, time_ticks};
use crate::series::{Run, split_runs};

/// What the values of a chart measure; it decides the y axis and its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Sizes, shown in IEC units (KiB, MiB, GiB, TiB, …).
    Bytes,
    /// Throughput, shown in IEC units per second (MiB/s, …).
    BytesPerSecond,
    /// A fraction from 0 to 1, shown as a percentage on a fixed 0–100% axis.
    Ratio,
    /// Things counted, shown as whole numbers.
    Count,
}

/// One named line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// Samples as (unix milliseconds, value). Non-finite values mark missing
    /// samples and break the line; order does not matter.
    pub points: Vec<(i64, f64)>,
}

/// Everything needed to draw one chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    /// What the y axis shows, without its unit, e.g. "Read throughput".
    pub y_label: String,
    pub unit: Unit,
    /// Start of the x axis, unix milliseconds, inclusive.
    pub from_ms: i64,
    /// End of the x axis, unix milliseconds, inclusive; after `from_ms`.
    pub to_ms: i64,
    pub series: Vec<Series>,
    /// Size in pixels; also the viewBox, so CSS can scale the chart.
    pub width: u32,
    pub height: u32,
}

/// The smallest width, in pixels, at which axes and labels still fit.
pub const MIN_WIDTH: u32 = 240;
/// The smallest height, in pixels, at which axes and labels still fit.
pub const MIN_HEIGHT: u32 = 160;
/// The largest width or height, in pixels, a chart may ask for.
pub const MAX_SIDE: u32 = 8192;

/// The text shown in place of a plot when no series has a finite sample in
/// the range; browser tests look for it.
pub const NO_DATA_TEXT: &str = "No data yet for this range";

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChartError {
    #[error(
        "time range {from_ms}..{to_ms} is empty or reversed: from_ms must be earlier than to_ms"
    )]
    EmptyRange { from_ms: i64, to_ms: i64 },
    #[error(
        "time range {from_ms}..{to_ms} is not a range of dates: both ends must be unix milliseconds within about 262,000 years of 1970"
    )]
    RangeNotDates { from_ms: i64, to_ms: i64 },
    #[error(
        "chart size {width}x{height} is out of bounds: width must be {MIN_WIDTH} to {MAX_SIDE} and height {MIN_HEIGHT} to {MAX_SIDE} pixels"
    )]
    Size { width: u32, height: u32 },
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

/// Renders `chart` as a standalone `<svg>` element.
///
/// The root element carries `role="img"`, an `aria-label` and a `<title>`
/// with the chart's title, and `data-points` with the number of samples
/// plotted (finite and inside the range), so tests can tell an empty chart
/// from one with data.
pub fn render_svg(chart: &Chart) -> Result<String, ChartError> {
    validate(chart)?;
    let runs: Vec<Vec<Run>> = chart
        .series
        .iter()
        .map(|s| split_runs(s, chart.from_ms, chart.to_ms))
        .collect();
    let points: usize = runs.iter().flatten().map(Vec::len).sum();

    let mut svg = String::new();
    draw(chart, &runs, points, &mut svg).map_err(|e| ChartError::Draw(e.to_string()))?;
    annotate(&svg, &chart.title, points)
}

fn validate(chart: &Chart) -> Result<(), ChartError> {
    let (width, height) = (chart.width, chart.height);
    if !(MIN_WIDTH..=MAX_SIDE).contains(&width) || !(MIN_HEIGHT..=MAX_SIDE).contains(&height) {
        return Err(ChartError::Size { width, height });
    }
    let (from_ms, to_ms) = (chart.from_ms, chart.to_ms);
    if from_ms >= to_ms {
        return Err(ChartError::EmptyRange { from_ms, to_ms });
    }
    if DateTime::from_timestamp_millis(from_ms).is_none()
        || DateTime::from_timestamp_millis(to_ms).is_none()
    {
        return Err(ChartError::RangeNotDates { from_ms, to_ms });
    }
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult<T> = Result<T, DrawingAreaErrorKind<std::io::Error>>;

/// Okabe and Ito's colour-blind safe palette, less its yellow, which is too
/// pale on white. More series than colours reuse them in order.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];
const TEXT: RGBColor = RGBColor(0x1F, 0x29, 0x37);
const MUTED: RGBColor = RGBColor(0x6B, 0x72, 0x80);
const AXIS: RGBColor = RGBColor(0x9C, 0xA3, 0xAF);
const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);
const FONT: &str = "sans-serif";

/// Plotters' SVG text is 1/1.24 of the size asked for, so these give about
/// 16 px titles and 11 px labels.
const TITLE_SIZE: f64 = 20.0;
const LABEL_SIZE: f64 = 14.0;
const MARGIN: u32 = 10;
const X_LABEL_AREA: u32 = 44;
const LEGEND_ROW: u32 = 20;
const LEGEND_SWATCH: i32 = 14;
const LEGEND_PAD: i32 = 6;
const LEGEND_GAP: i32 = 16;
/// Room a time label needs on the x axis, and a value label on the y axis.
const X_TICK_SPACING: u32 = 90;
const Y_TICK_SPACING: u32 = 40;

fn draw(chart: &Chart, runs: &[Vec<Run>], points: usize, svg: &mut String) -> DrawResult<()> {
    let root = SVGBackend::with_string(svg, (chart.width, chart.height)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = (FONT, TITLE_SIZE).into_font().color(&TEXT);
    let body = root.titled(&chart.title, title)?;
    if points == 0 {
        draw_empty(&body)?;
    } else {
        draw_plot(chart, runs, &body)?;
    }
    root.present()
}

fn draw_empty(body: &Area) -> DrawResult<()> {
    let (w, h) = body.dim_in_pixel();
    let style = (FONT, 16.0)
        .into_font()
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Center));
    body.draw(&Text::new(
        NO_DATA_TEXT,
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
}

fn draw_plot(chart: &Chart, runs: &[Vec<Run>], body: &Area) -> DrawResult<()> {
    let label_style = (FONT, LABEL_SIZE).into_font().color(&TEXT);
    let plot_area = if chart.series.len() >= 2 {
        let legend_height = draw_legend(chart, body, &label_style)?;
        body.split_vertically(legend_height).1
    } else {
        body.clone()
    };
    let (area_w, area_h) = plot_area.dim_in_pixel();

    let (min, max) = runs
        .iter()
        .flatten()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, v)| {
            (lo.min(v), hi.max(v))
        });
    let plot_h = area_h.saturating_sub(X_LABEL_AREA + 2 * MARGIN);
    let y = ValueAxis::new(chart.unit, min, max, (plot_h / Y_TICK_SPACING) as usize);
    let y_desc = match y.unit_label {
        Some(unit) => format!("{} ({unit})", chart.y_label),
        None => chart.y_label.clone(),
    };

    // The y label area holds the rotated description and the widest tick
    // label; it must not eat the plot on a narrow chart.
    let widest = y
        .ticks
        .iter()
        .map(|&t| plot_area.estimate_text_size(&y.tick_label(t), &label_style))
        .try_fold(0, |w, size| size.map(|(tw, _)| w.max(tw)))?;
    let (_, desc_h) = plot_area.estimate_text_size(&y_desc, &label_style)?;
    let y_label_area = (widest + desc_h + 16).min(area_w / 3);

    let plot_w = area_w.saturating_sub(y_label_area + 2 * MARGIN);
    let x_ticks = time_ticks(
        chart.from_ms,
        chart.to_ms,
        (plot_w / X_TICK_SPACING) as usize,
    );
    // A time label on the right edge is centred on it; half of it would be
    // cut off without room beyond the plot.
    let widest_time = x_ticks
        .iter()
        .map(|(_, label)| plot_area.estimate_text_size(label, &label_style))
        .try_fold(0, |w, size| size.map(|(tw, _)| w.max(tw)))?;
    let margin_right = MARGIN.max(widest_time / 2 + 4);
    let span = (i128::from(chart.to_ms) - i128::from(chart.from_ms)) as f64;
    let offset = |t: i64| (i128::from(t) - i128::from(chart.from_ms)) as f64;

    let mut plot = ChartBuilder::on(&plot_area)
        .margin(MARGIN)
        .margin_right(margin_right)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(
            Ticked::new(0.0..span, x_ticks.iter().map(|&(o, _)| o).collect()),
            Ticked::new(y.lo..y.hi, y.ticks.clone()),
        )?;

    let x_label = |v: &f64| {
        x_ticks
            .iter()
            .find(|(o, _)| (o - v).abs() < 0.5)
            .map(|(_, label)| label.clone())
            .unwrap_or_default()
    };
    let y_label = |v: &f64| y.tick_label(*v);
    plot.configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(label_style.clone())
        .axis_desc_style(label_style.clone())
        .x_desc("Time (UTC)")
        .y_desc(y_desc)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()?;

    for (i, series_runs) in runs.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        for run in series_runs {
            if let [(t, v)] = run.as_slice() {
                // A lone sample has no neighbour to draw a line to; a dot
                // keeps it visible.
                let dot = Circle::new((offset(*t), y.display(*v)), 3, colour.filled());
                plot.draw_series(std::iter::once(dot))?;
            } else {
                let points = run.iter().map(|&(t, v)| (offset(t), y.display(v)));
                plot.draw_series(LineSeries::new(points, colour.stroke_width(2)))?;
            }
        }
    }
    Ok(())
}

/// Draws centred rows of swatches and names, and returns the height they
/// took. The legend gets at most a quarter of the chart's height; series
/// beyond that are summed up as "+N more" rather than squeezing the plot.
fn draw_legend(chart: &Chart, body: &Area, style: &TextStyle) -> DrawResult<u32> {
    let (width, height) = body.dim_in_pixel();
    let usable = width.saturating_sub(2 * MARGIN) as i32;
    let max_rows = (height / 4 / LEGEND_ROW).max(1) as usize;
    let muted = style.color(&MUTED);

    let mut series_widths = Vec::with_capacity(chart.series.len());
    for s in &chart.series {
        let (text_w, _) = body.estimate_text_size(&s.name, style)?;
        series_widths.push(LEGEND_SWATCH + LEGEND_PAD + text_w as i32);
    }
    let mut shown = series_widths.len();
    let mut rows = legend_rows(&series_widths, usable);
    let mut more = String::new();
    while rows.len() > max_rows && shown > 0 {
        shown -= 1;
        more = format!("+{} more", series_widths.len() - shown);
        let (more_w, _) = body.estimate_text_size(&more, &muted)?;
        let mut widths = series_widths[..shown].to_vec();
        widths.push(more_w as i32);
        rows = legend_rows(&widths, usable);
    }

    let text_style = style.pos(Pos::new(HPos::Left, VPos::Center));
    let more_style = muted.pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in rows.iter().enumerate() {
        let mut x = (width as i32 - row_width(row)) / 2;
        let y = r as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        for &(i, item) in row {
            if i < shown {
                let colour = PALETTE[i % PALETTE.len()];
                body.draw(&Rectangle::new(
                    [(x, y - 2), (x + LEGEND_SWATCH, y + 2)],
                    colour.filled(),
                ))?;
                let name = chart.series[i].name.as_str();
                let at = (x + LEGEND_SWATCH + LEGEND_PAD, y);
                body.draw(&Text::new(name, at, text_style.clone()))?;
            } else {
                body.draw(&Text::new(more.as_str(), (x, y), more_style.clone()))?;
            }
            x += item + LEGEND_GAP;
        }
    }
    Ok(rows.len() as u32 * LEGEND_ROW + 4)
}

/// Fills rows left to right with (item index, width) pairs; an item wider
/// than a row gets a row of its own.
fn legend_rows(widths: &[i32], usable: i32) -> Vec<Vec<(usize, i32)>> {
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    for (i, &w) in widths.iter().enumerate() {
        match rows.last_mut() {
            Some(row) if row_width(row) + LEGEND_GAP + w <= usable => row.push((i, w)),
            _ => rows.push(vec![(i, w)]),
        }
    }
    rows
}

fn row_width(row: &[(usize, i32)]) -> i32 {
    let items: i32 = row.iter().map(|&(_, w)| w).sum();
    items + LEGEND_GAP * (row.len() as i32 - 1).max(0)
}

/// Adds what plotters cannot emit to its root element: the accessible name
/// and the count of plotted points.
fn annotate(svg: &str, title: &str, points: usize) -> Result<String, ChartError> {
    let (attributes, rest) = svg
        .trim_end()
        .strip_prefix("<svg ")
        .and_then(|s| s.split_once('>'))
        .ok_or_else(|| ChartError::Draw("plotters did not start the output with <svg".into()))?;
    let title = escape_xml(title);
    Ok(format!(
        "<svg role=\"img\" aria-label=\"{title}\" data-points=\"{points}\" {attributes}>\n<title>{title}</title>{rest}"
    ))
}

fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    /// 2024-03-05T00:00:00Z
    const MARCH_5: i64 = 1_709_596_800_000;
    const MIB: f64 = 1024.0 * 1024.0;

    fn chart(unit: Unit, series: Vec<Series>) -> Chart {
        Chart {
            title: "Reads on eu-west".into(),
            y_label: "Read throughput".into(),
            unit,
            from_ms: MARCH_5,
            to_ms: MARCH_5 + DAY,
            series,
            width: 640,
            height: 320,
        }
    }

    fn series(name: &str, points: Vec<(i64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
        }
    }

    /// Samples every 5 minutes over the first `minutes` of the day.
    fn steady(minutes: i64, value: f64) -> Vec<(i64, f64)> {
        (0..=minutes / 5)
            .map(|i| (MARCH_5 + i * 5 * MINUTE, value))
            .collect()
    }

    fn data_points(svg: &str) -> usize {
        let start = svg.find("data-points=\"").unwrap() + "data-points=\"".len();
        let len = svg[start..].find('"').unwrap();
        svg[start..start + len].parse().unwrap()
    }

    /// Polylines drawn in the colour of the `i`th series: the axes and grid
    /// are polylines too, in greys.
    fn lines_of(svg: &str, i: usize) -> usize {
        let RGBColor(r, g, b) = PALETTE[i];
        let stroke = format!("stroke=\"#{r:02X}{g:02X}{b:02X}\"");
        svg.lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&stroke))
            .count()
    }

    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>'))
            .filter_map(|(_, rest)| rest.split_once("</text>"))
            .map(|(text, _)| text.trim())
            .collect()
    }

    #[test]
    fn root_element_is_inline_ready() {
        let svg = render_svg(&chart(Unit::Count, vec![series("jobs", steady(60, 3.0))])).unwrap();
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\"Reads on eu-west\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("width=\"640\" height=\"320\" viewBox=\"0 0 640 320\""));
        assert!(svg.contains("<title>Reads on eu-west</title>"));
        assert_eq!(data_points(&svg), 13);
    }

    #[test]
    fn title_and_axis_descriptions_appear_with_the_unit() {
        let s = series("reads", steady(300, 300.0 * MIB));
        let svg = render_svg(&chart(Unit::BytesPerSecond, vec![s])).unwrap();
        let texts = texts(&svg);
        assert!(texts.contains(&"Reads on eu-west"));
        assert!(texts.contains(&"Read throughput (MiB/s)"), "{texts:?}");
        assert!(texts.contains(&"Time (UTC)"));
        assert!(texts.contains(&"200 MiB/s"), "{texts:?}");
        assert!(!texts.iter().any(|t| t.contains("GiB") || t.contains("KiB")));
    }

    #[test]
    fn tick_labels_follow_the_unit() {
        let ratio =
            render_svg(&chart(Unit::Ratio, vec![series("hits", steady(60, 0.93))])).unwrap();
        let texts_ratio = texts(&ratio);
        assert!(texts_ratio.contains(&"100%") && texts_ratio.contains(&"0%"));
        assert!(texts_ratio.contains(&"Read throughput (%)"));

        let gib = render_svg(&chart(Unit::Bytes, vec![series("used", steady(60, 5e9))])).unwrap();
        assert!(texts(&gib).iter().any(|t| t.ends_with(" GiB")));

        let count = render_svg(&chart(Unit::Count, vec![series("jobs", steady(60, 7.0))])).unwrap();
        let texts_count = texts(&count);
        assert!(texts_count.contains(&"Read throughput"));
        assert!(texts_count.contains(&"6"));
        assert!(!texts_count.iter().any(|t| t.contains('.')));
    }

    #[test]
    fn x_axis_spans_the_whole_range_with_clock_times() {
        let svg = render_svg(&chart(Unit::Count, vec![series("jobs", steady(5, 1.0))])).unwrap();
        let day = texts(&svg);
        assert!(day.contains(&"00:00") && day.contains(&"12:00"), "{day:?}");
        assert_eq!(data_points(&svg), 2);

        let mut week = chart(Unit::Count, vec![series("jobs", steady(60, 1.0))]);
        week.to_ms = MARCH_5 + 7 * DAY;
        let svg = render_svg(&week).unwrap();
        let week = texts(&svg);
        // Two-day steps land on even days since the epoch.
        assert!(
            week.contains(&"Mar 06") && week.contains(&"Mar 12"),
            "{week:?}"
        );
        assert!(!week.iter().any(|t| t.contains(':')));
    }

    #[test]
    fn gaps_break_the_line() {
        let mut points = steady(60, 2.0);
        points.extend(steady(60, 2.0).into_iter().map(|(t, v)| (t + 3 * HOUR, v)));
        let svg = render_svg(&chart(Unit::Count, vec![series("jobs", points)])).unwrap();
        assert_eq!(lines_of(&svg, 0), 2);

        let mut points = steady(60, 2.0);
        points[6].1 = f64::NAN;
        let svg = render_svg(&chart(Unit::Count, vec![series("jobs", points)])).unwrap();
        assert_eq!(lines_of(&svg, 0), 2);
        assert_eq!(data_points(&svg), 12);

        let svg = render_svg(&chart(Unit::Count, vec![series("jobs", steady(60, 2.0))])).unwrap();
        assert_eq!(lines_of(&svg, 0), 1);
    }

    #[test]
    fn a_lone_sample_is_a_dot() {
        let points = vec![(MARCH_5 + HOUR, 4.0)];
        let svg = render_svg(&chart(Unit::Count, vec![series("jobs", points)])).unwrap();
        assert_eq!(lines_of(&svg, 0), 0);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert_eq!(data_points(&svg), 1);
    }

    #[test]
    fn several_series_get_a_legend_and_their_own_colours() {
        let svg = render_svg(&chart(
            Unit::BytesPerSecond,
            vec![
                series("worker-1", steady(60, 10.0 * MIB)),
                series("worker-2", steady(60, 20.0 * MIB)),
            ],
        ))
        .unwrap();
        let texts = texts(&svg);
        assert!(texts.contains(&"worker-1") && texts.contains(&"worker-2"));
        assert_eq!((lines_of(&svg, 0), lines_of(&svg, 1)), (1, 1));

        let single =
            render_svg(&chart(Unit::Count, vec![series("jobs", steady(60, 1.0))])).unwrap();
        assert!(
            !self::texts(&single).contains(&"jobs"),
            "one series needs no legend"
        );
    }

    #[test]
    fn a_legend_too_long_for_the_chart_sums_up_the_rest() {
        let many = (0..40)
            .map(|i| series(&format!("worker-{i}"), steady(60, f64::from(i))))
            .collect();
        let svg = render_svg(&chart(Unit::Count, many)).unwrap();
        let texts = texts(&svg);
        assert!(texts.contains(&"worker-0"));
        assert!(!texts.contains(&"worker-39"));
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with('+') && t.ends_with(" more")),
            "{texts:?}"
        );
        assert_eq!(data_points(&svg), 40 * 13);
    }

    #[test]
    fn empty_state_says_so_without_axes() {
        let cases = [
            vec![],
            vec![series("reads", vec![])],
            vec![series(
                "reads",
                vec![(MARCH_5 - HOUR, 1.0), (MARCH_5 + 2 * DAY, 1.0)],
            )],
            vec![series(
                "reads",
                vec![(MARCH_5, f64::NAN), (MARCH_5 + HOUR, f64::INFINITY)],
            )],
        ];
        for series in cases {
            let svg = render_svg(&chart(Unit::BytesPerSecond, series)).unwrap();
            assert_eq!(texts(&svg), ["Reads on eu-west", NO_DATA_TEXT]);
            assert!(!svg.contains("<polyline") && !svg.contains("<line"));
            assert!(svg.contains("viewBox=\"0 0 640 320\""));
            assert_eq!(data_points(&svg), 0);
        }
    }

    #[test]
    fn the_title_is_escaped() {
        let mut c = chart(Unit::Count, vec![]);
        c.title = "<b> & \"co\"".into();
        let svg = render_svg(&c).unwrap();
        assert!(svg.contains("aria-label=\"&lt;b&gt; &amp; &quot;co&quot;\""));
        assert!(svg.contains("<title>&lt;b&gt; &amp; &quot;co&quot;</title>"));
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn odd_values_never_panic() {
        for value in [
            0.0,
            -5.0,
            1e-300,
            u64::MAX as f64,
            f64::MAX,
            f64::MIN,
            5e-324,
        ] {
            for unit in [Unit::Bytes, Unit::BytesPerSecond, Unit::Ratio, Unit::Count] {
                let svg = render_svg(&chart(unit, vec![series("s", steady(60, value))])).unwrap();
                assert_eq!(data_points(&svg), 13);
            }
        }
        let svg = render_svg(&chart(
            Unit::Bytes,
            vec![series("s", steady(60, u64::MAX as f64))],
        ))
        .unwrap();
        assert!(texts(&svg).contains(&"Read throughput (EiB)"));
    }

    #[test]
    fn bad_ranges_and_sizes_are_errors_that_say_what_is_expected() {
        let mut c = chart(Unit::Count, vec![]);
        c.to_ms = c.from_ms;
        let err = render_svg(&c).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "time range {0}..{0} is empty or reversed: from_ms must be earlier than to_ms",
                MARCH_5
            )
        );
        c.to_ms = c.from_ms - 1;
        assert!(matches!(render_svg(&c), Err(ChartError::EmptyRange { .. })));

        let mut c = chart(Unit::Count, vec![]);
        (c.from_ms, c.to_ms) = (i64::MIN, i64::MAX);
        assert!(matches!(
            render_svg(&c),
            Err(ChartError::RangeNotDates { .. })
        ));

        for (width, height) in [(0, 0), (100, 300), (640, 50), (u32::MAX, 300), (640, 9000)] {
            let mut c = chart(Unit::Count, vec![]);
            (c.width, c.height) = (width, height);
            let err = render_svg(&c).unwrap_err();
            assert_eq!(err, ChartError::Size { width, height });
            assert!(err.to_string().contains("width must be 240 to 8192"));
        }
    }

    #[test]
    fn smallest_and_largest_sizes_render() {
        for (width, height) in [(MIN_WIDTH, MIN_HEIGHT), (MAX_SIDE, MAX_SIDE)] {
            let mut c = chart(
                Unit::BytesPerSecond,
                vec![
                    series("a long worker name", steady(600, 3.0 * MIB)),
                    series("another long worker name", steady(600, 1.0 * MIB)),
                    series("a third", steady(600, 2.0 * MIB)),
                ],
            );
            (c.width, c.height) = (width, height);
            let svg = render_svg(&c).unwrap();
            assert_eq!(data_points(&svg), 3 * 121);
        }
    }

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => 0.0..1e12f64,
            1 => 0.0..=1.0f64,
            1 => Just(0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(u64::MAX as f64),
            1 => any::<f64>(),
        ]
    }

    fn any_unit() -> impl Strategy<Value = Unit> {
        prop_oneof![
            Just(Unit::Bytes),
            Just(Unit::BytesPerSecond),
            Just(Unit::Ratio),
            Just(Unit::Count),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_series_always_give_svg(
            unit in any_unit(),
            from_ms in -100 * 365 * DAY..100 * 365 * DAY,
            span in 1..800 * DAY,
            width in MIN_WIDTH..2000,
            height in MIN_HEIGHT..1200,
            series in prop::collection::vec(
                prop::collection::vec((-1.5f64..1.5, any_value()), 0..60),
                0..5,
            ),
        ) {
            let to_ms = from_ms + span;
            // Times as fractions of the range, so that most land inside it
            // and some just outside.
            let series: Vec<Series> = series
                .into_iter()
                .enumerate()
                .map(|(i, points)| Series {
                    name: format!("series {i}"),
                    points: points
                        .into_iter()
                        .map(|(f, v)| (from_ms + (f * span as f64) as i64, v))
                        .collect(),
                })
                .collect();
            let expected: usize = series
                .iter()
                .flat_map(|s| &s.points)
                .filter(|(t, v)| (from_ms..=to_ms).contains(t) && v.is_finite())
                .count();
            let c = Chart {
                title: "random".into(),
                y_label: "value".into(),
                unit,
                from_ms,
                to_ms,
                series,
                width,
                height,
            };
            let svg = render_svg(&c).unwrap();
            prop_assert!(svg.starts_with("<svg"));
            prop_assert!(svg.ends_with("</svg>"));
            prop_assert_eq!(data_points(&svg), expected);
            prop_assert_eq!(svg.contains(NO_DATA_TEXT), expected == 0);
        }
    }
}
