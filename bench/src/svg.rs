//! Hand-written SVG charts: grouped bars and x/y lines (optionally log scales). No dependencies.

use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 420.0;
const L: f64 = 80.0; // left margin (y labels)
const R: f64 = 180.0; // right margin (legend)
const T: f64 = 50.0;
const B: f64 = 70.0;
const COLORS: [&str; 6] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A short human number: 1234 -> "1.23k", 0.0123 -> "0.0123".
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

fn header(title: &str, subtitle: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" font-size="16" font-weight="bold">{}</text>
<text x="{}" y="40" fill="#555">{}</text>
"##,
        L,
        esc(title),
        L,
        esc(subtitle)
    );
    s
}

fn legend(s: &mut String, names: &[String]) {
    for (i, n) in names.iter().enumerate() {
        let y = T + 10.0 + i as f64 * 20.0;
        let x = W - R + 20.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            y - 10.0,
            COLORS[i % COLORS.len()],
            x + 18.0,
            y,
            esc(n)
        );
    }
}

/// A value axis: maps values to pixels (linear from 0, or log10).
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn new(vals: impl Iterator<Item = f64>, log: bool) -> Axis {
        let v: Vec<f64> = vals.filter(|x| x.is_finite() && (!log || *x > 0.0)).collect();
        let mx = v.iter().cloned().fold(f64::MIN, f64::max);
        let mn = v.iter().cloned().fold(f64::MAX, f64::min);
        if v.is_empty() {
            return Axis { lo: if log { 1.0 } else { 0.0 }, hi: 10.0, log };
        }
        if log {
            let lo = 10f64.powf(mn.log10().floor());
            let mut hi = 10f64.powf(mx.log10().ceil());
            if hi <= lo {
                hi = lo * 10.0;
            }
            Axis { lo, hi, log }
        } else {
            let hi = nice_ceil(mx.max(1e-12) * 1.1);
            Axis { lo: 0.0, hi, log }
        }
    }
    /// 0..1 along the axis.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.lo);
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut t = vec![];
            let mut x = self.lo;
            while x <= self.hi * 1.0001 {
                t.push(x);
                x *= 10.0;
            }
            t
        } else {
            (0..=5).map(|i| self.lo + (self.hi - self.lo) * i as f64 / 5.0).collect()
        }
    }
}

fn nice_ceil(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * p >= x {
            return m * p;
        }
    }
    10.0 * p
}

fn y_axis(s: &mut String, ax: &Axis, label: &str) {
    let (x0, y0, y1) = (L, H - B, T);
    for t in ax.ticks() {
        let y = y0 - ax.frac(t) * (y0 - y1);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - R,
            x0 - 6.0,
            y + 4.0,
            fmt_num(t)
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/><line x1="{x0}" y1="{y0}" x2="{}" y2="{y0}" stroke="#333"/>
<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"##,
        W - R,
        (y0 + y1) / 2.0,
        esc(label)
    );
}

/// Grouped bars: `groups` are (label, one value per series); `None` = not measured.
pub fn bars(title: &str, subtitle: &str, ylabel: &str, series: &[String], groups: &[(String, Vec<Option<f64>>)], log: bool) -> String {
    let mut s = header(title, subtitle);
    let ax = Axis::new(groups.iter().flat_map(|g| g.1.iter().flatten().cloned()), log);
    y_axis(&mut s, &ax, ylabel);
    let plot_w = W - R - L;
    let gw = plot_w / groups.len().max(1) as f64;
    let bw = (gw * 0.8) / series.len().max(1) as f64;
    let (y0, y1) = (H - B, T);
    for (gi, (label, vals)) in groups.iter().enumerate() {
        let gx = L + gi as f64 * gw + gw * 0.1;
        for (si, v) in vals.iter().enumerate() {
            let x = gx + si as f64 * bw;
            match v {
                Some(v) => {
                    let h = ax.frac(*v).clamp(0.0, 1.0) * (y0 - y1);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                        y0 - h,
                        bw * 0.92,
                        COLORS[si % COLORS.len()],
                        esc(&series[si]),
                        v,
                        x + bw * 0.46,
                        y0 - h - 3.0,
                        fmt_num(*v)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="#999">n/a</text>"##,
                        x + bw * 0.46,
                        y0 - 3.0
                    );
                }
            }
        }
        let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, gx + gw * 0.4, y0 + 18.0, esc(label));
    }
    legend(&mut s, series);
    s.push_str("</svg>\n");
    s
}

/// Lines: each series is (name, points (x, y)); x and y may be log scales.
pub fn lines(title: &str, subtitle: &str, xlabel: &str, ylabel: &str, series: &[(String, Vec<(f64, f64)>)], logx: bool, logy: bool) -> String {
    let mut s = header(title, subtitle);
    let ay = Axis::new(series.iter().flat_map(|x| x.1.iter().map(|p| p.1)), logy);
    let ax = Axis::new(series.iter().flat_map(|x| x.1.iter().map(|p| p.0)), logx);
    y_axis(&mut s, &ay, ylabel);
    let (x0, x1, y0, y1) = (L, W - R, H - B, T);
    for t in ax.ticks() {
        let x = x0 + ax.frac(t) * (x1 - x0);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="#333"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            y0 + 5.0,
            y0 + 18.0,
            fmt_num(t)
        );
    }
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, (x0 + x1) / 2.0, H - 25.0, esc(xlabel));
    for (si, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[si % COLORS.len()];
        let p: Vec<String> = pts
            .iter()
            .filter(|(x, y)| (!logx || *x > 0.0) && (!logy || *y > 0.0))
            .map(|(x, y)| format!("{:.1},{:.1}", x0 + ax.frac(*x) * (x1 - x0), y0 - ay.frac(*y).clamp(0.0, 1.0) * (y0 - y1)))
            .collect();
        let _ = writeln!(s, r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#, p.join(" "));
        if pts.len() <= 40 {
            for (pt, (x, y)) in p.iter().zip(pts.iter()) {
                let (px, py) = pt.split_once(',').unwrap();
                let _ = writeln!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{c}"><title>{}: x={} y={}</title></circle>"#, esc(name), x, y);
            }
        }
    }
    let names: Vec<String> = series.iter().map(|x| x.0.clone()).collect();
    legend(&mut s, &names);
    s.push_str("</svg>\n");
    s
}
