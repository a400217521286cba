//! The run's SVG charts, drawn with `plotters` (SVG backend only): grouped bars and x/y lines,
//! linear or log scales. The SVG backend writes text as `<text>` elements and plotters without
//! its `ttf` feature only estimates text sizes, so no font file, fontconfig or freetype is
//! needed to build or to run; the viewer renders the text.

use std::error::Error;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const SIZE: (u32, u32) = (760, 420);
const HEADER: u32 = 50;
/// Least width of the legend on the right.
const LEGEND: u32 = 180;
const COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];
const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn Error>>;

/// plotters writes `font-size` as the given size / 1.24; this gives the SVG `px` size.
fn font(px: f64) -> TextStyle<'static> {
    ("sans-serif", px * 1.24).into()
}

/// A short human number: 1234 -> "1234", 12345 -> "12.3k", 0.0123 -> "0.012".
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e9 {
        format!("{:.3}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// An axis tick: [`fmt_num`] without trailing zeros ("10", "0.1", "20k").
fn fmt_tick(v: f64) -> String {
    let s = fmt_num(v);
    match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) if s[..i].contains('.') => format!("{}{}", s[..i].trim_end_matches('0').trim_end_matches('.'), &s[i..]),
        None if s.contains('.') => s.trim_end_matches('0').trim_end_matches('.').to_string(),
        _ => s,
    }
}

/// The value range an axis shows: from 0 to a round number above the maximum, or (log) from
/// the power of ten below the minimum to the one above the maximum.
fn range(vals: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let v: Vec<f64> = vals.filter(|x| x.is_finite() && (!log || *x > 0.0)).collect();
    if v.is_empty() {
        return (if log { 1.0 } else { 0.0 }, 10.0);
    }
    let mx = v.iter().cloned().fold(f64::MIN, f64::max);
    if log {
        let mn = v.iter().cloned().fold(f64::MAX, f64::min);
        let lo = 10f64.powf(mn.log10().floor());
        (lo, 10f64.powf(mx.log10().ceil()).max(lo * 10.0))
    } else {
        let x = mx.max(1e-12) * 1.1;
        let p = 10f64.powf(x.log10().floor());
        let m = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0].into_iter().find(|m| m * p >= x).unwrap_or(10.0);
        (0.0, m * p)
    }
}

/// A chart: title and subtitle above, the legend (one colour per series) on the right; `plot`
/// draws into the rest. Returns the SVG document.
fn chart(title: &str, subtitle: &str, legend: &[String], plot: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    let mut svg = String::new();
    let drawn: Drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(title, (80, 8), ("sans-serif", 16.0 * 1.24, FontStyle::Bold)))?;
        root.draw(&Text::new(subtitle, (80, 28), font(12.0).color(&GREY)))?;
        let (_, body) = root.split_vertically(HEADER);
        // the legend is as wide as its longest name (about 7 px a character at 12 px)
        let longest = legend.iter().map(|n| n.chars().count()).max().unwrap_or(0) as u32;
        let (plot_area, legend_area) = body.split_horizontally(SIZE.0 - (50 + 7 * longest).clamp(LEGEND, 280));
        for (i, name) in legend.iter().enumerate() {
            let y = 10 + 20 * i as i32;
            legend_area.draw(&Rectangle::new([(20, y), (32, y + 12)], COLORS[i % COLORS.len()].filled()))?;
            legend_area.draw(&Text::new(name.as_str(), (38, y), font(12.0)))?;
        }
        plot(&plot_area)?;
        root.present()?;
        Ok(())
    })();
    drawn.unwrap_or_else(|e| panic!("chart {title:?}: {e}"));
    svg
}

/// Grouped bars: `groups` are (label, one value per series); `None` = not measured.
pub fn bars(title: &str, subtitle: &str, ylabel: &str, series: &[String], groups: &[(String, Vec<Option<f64>>)], log: bool) -> String {
    let (lo, hi) = range(groups.iter().flat_map(|g| g.1.iter().flatten().cloned()), log);
    chart(title, subtitle, series, |area| {
        if log {
            draw_bars(area, (lo..hi).log_scale(), lo, ylabel, series.len(), groups)
        } else {
            draw_bars(area, lo..hi, lo, ylabel, series.len(), groups)
        }
    })
}

/// Group `g` is centred on x = g; its bars share 80 % of the unit width.
fn draw_bars<Y>(area: &Area<'_>, y: Y, base: f64, ylabel: &str, nseries: usize, groups: &[(String, Vec<Option<f64>>)]) -> Drawn
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut ch = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..groups.len() as f64 - 0.5, y)?;
    let label = |x: &f64| match groups.get(x.round() as usize) {
        Some(g) if (x - x.round()).abs() < 1e-6 => g.0.clone(),
        _ => String::new(),
    };
    ch.configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len())
        .x_label_formatter(&label)
        .y_label_formatter(&|v| fmt_tick(*v))
        .label_style(font(12.0))
        .light_line_style(BLACK.mix(0.04))
        .y_desc(ylabel)
        .draw()?;
    let bw = 0.8 / nseries.max(1) as f64;
    let above = |text: String, at: (f64, f64), style: TextStyle<'static>| {
        EmptyElement::at(at) + Text::new(text, (0, -3), style.pos(Pos::new(HPos::Center, VPos::Bottom)))
    };
    for (g, (_, vals)) in groups.iter().enumerate() {
        for (s, v) in vals.iter().enumerate() {
            let x0 = g as f64 - 0.4 + s as f64 * bw;
            let xc = x0 + bw * 0.46;
            match v {
                Some(v) => {
                    ch.draw_series([Rectangle::new([(x0, base), (x0 + bw * 0.92, *v)], COLORS[s % COLORS.len()].filled())])?;
                    ch.draw_series([above(fmt_num(*v), (xc, *v), font(10.0))])?;
                }
                None => {
                    ch.draw_series([above("n/a".into(), (xc, base), font(10.0).color(&GREY))])?;
                }
            }
        }
    }
    Ok(())
}

/// Lines: each series is (name, points (x, y)); `log`: both axes log10.
pub fn lines(title: &str, subtitle: &str, xlabel: &str, ylabel: &str, series: &[(String, Vec<(f64, f64)>)], log: bool) -> String {
    let (x0, x1) = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)), log);
    let (y0, y1) = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)), log);
    let names: Vec<String> = series.iter().map(|s| s.0.clone()).collect();
    chart(title, subtitle, &names, |area| {
        if log {
            draw_lines(area, (x0..x1).log_scale(), (y0..y1).log_scale(), xlabel, ylabel, series, true)
        } else {
            draw_lines(area, x0..x1, y0..y1, xlabel, ylabel, series, false)
        }
    })
}

fn draw_lines<X, Y>(area: &Area<'_>, x: X, y: Y, xlabel: &str, ylabel: &str, series: &[(String, Vec<(f64, f64)>)], log: bool) -> Drawn
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut ch = ChartBuilder::on(area).margin(10).x_label_area_size(40).y_label_area_size(60).build_cartesian_2d(x, y)?;
    ch.configure_mesh()
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .label_style(font(12.0))
        .light_line_style(BLACK.mix(0.04))
        .x_desc(xlabel)
        .y_desc(ylabel)
        .draw()?;
    for (i, (_, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|(x, y)| !log || (*x > 0.0 && *y > 0.0)).collect();
        ch.draw_series([PathElement::new(pts.clone(), color.stroke_width(2))])?;
        if pts.len() <= 40 {
            ch.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CHARTS_DIR=DIR cargo test -p pg_nodesync_bench` also writes the four charts to DIR, to
    /// look at (e.g. `rsvg-convert -o bars.png DIR/bars.svg`).
    #[test]
    fn charts_carry_their_text() {
        let series = vec!["nodesync".to_string(), "floor".to_string(), "snapshot-rewrite".to_string()];
        let groups = vec![
            ("1 client".to_string(), vec![Some(2066.2), Some(9637.4), Some(541.8)]),
            ("8 clients, 1 doc".to_string(), vec![Some(1908.2), Some(10842.3), None]),
            ("8 clients, 8 docs".to_string(), vec![Some(2275.5), Some(15678.4), Some(787.8)]),
        ];
        let b = bars("One-node edit throughput (async commits)", "ops/s, higher is better", "ops/s", &series, &groups, false);
        let four: Vec<String> =
            ["nodesync.snapshot()", "plain SELECT (rows)", "SQL jsonb_agg (flat)", "snapshot-rewrite: read row"].map(String::from).into();
        let lg = bars(
            "snapshot() vs plain SELECT",
            "ms, lower is better",
            "ms",
            &four,
            &[
                ("1k nodes".into(), vec![Some(13.7), Some(1.71), Some(7.07), Some(1.07)]),
                ("100k nodes".into(), vec![Some(1661.0), Some(187.0), Some(1281.0), Some(123.0)]),
            ],
            true,
        );
        let pts = |f: f64| vec![(10.0, 0.3 * f), (1000.0, 0.32 * f), (10000.0, 0.35 * f), (100000.0, 0.4 * f)];
        let two = [("nodesync".to_string(), pts(1.0)), ("floor".to_string(), pts(0.2))];
        let l = lines("One-node edit latency vs document size", "p50 per edit", "nodes in the document", "p50 ms", &two, true);
        let w: Vec<(f64, f64)> = (1..=26).map(|i| (i as f64 * 770.0, 4000.0 + (i % 5) as f64 * 300.0)).collect();
        let t = lines("Editing trace", "edits/s per window", "keystrokes done", "edits/s", &[("nodesync async".into(), w)], false);
        for (svg, title) in [(&b, "One-node edit throughput"), (&lg, "snapshot()"), (&l, "latency vs document size"), (&t, "Editing trace")] {
            assert!(svg.starts_with("<svg") && svg.contains(title), "{svg}");
            assert!(svg.contains("<text") && svg.contains("nodesync"));
            assert!(!svg.contains("@font-face") && !svg.contains("url("), "no font files");
        }
        assert!(b.contains("8 clients, 8 docs") && b.contains("15.7k") && b.contains("n/a"));
        assert!(l.contains("nodes in the document") && l.contains("p50 ms"));
        assert_eq!([fmt_tick(10.0), fmt_tick(0.1), fmt_tick(20000.0), fmt_tick(12500.0), fmt_tick(1500.0)], ["10", "0.1", "20k", "12.5k", "1500"]);
        if let Ok(dir) = std::env::var("CHARTS_DIR") {
            for (n, s) in [("bars", &b), ("bars_log", &lg), ("lines_log", &l), ("lines", &t)] {
                std::fs::write(format!("{dir}/{n}.svg"), s).unwrap();
            }
        }
    }
}
