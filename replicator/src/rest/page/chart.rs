//! Small line charts as inline SVG for the status page: one or more series
//! of `(time, value)` over a time window that ends now, a zero baseline,
//! the top of the scale labelled, a gap where a value is unknown.
//!
//! Invariants: the output is a self-contained `<svg>` element with no
//! script and no external reference; every text in it (labels, the
//! `<title>`) is HTML-escaped; values that are not finite or negative are
//! treated as unknown or clamped to 0, so no input makes a coordinate
//! `NaN` or leaves the drawing area.

use std::fmt::Write as _;

use super::html::escape;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub label: &'a str,
    /// A CSS colour.
    pub colour: &'a str,
    /// `(ms since the Unix epoch, value)`, oldest first; `None`: unknown.
    pub points: Vec<(i64, Option<f64>)>,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    pub width: u32,
    pub height: u32,
    /// The unit after the scale's top value (`s`, `tx/s`).
    pub unit: &'a str,
    /// The scale reaches at least this high (a flat line at 0 stays at
    /// the bottom, not in the middle).
    pub min_top: f64,
    /// The window ends here (ms since the Unix epoch).
    pub now_ms: i64,
    /// The longest window shown; a shorter history is stretched over the
    /// whole width, but never below [`MIN_SPAN_MS`].
    pub max_span_ms: i64,
    pub series: Vec<Series<'a>>,
}

/// The shortest window a chart shows.
pub const MIN_SPAN_MS: i64 = 60_000;

/// The smallest "nice" number (1, 2, 2.5 or 5 times a power of ten) at or
/// above `x`; `x` at or below 0 (or not finite) gives 1.
pub fn nice_ceiling(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(x.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        let v = step * magnitude;
        if v >= x * (1.0 - 1e-9) {
            return v;
        }
    }
    10.0 * magnitude
}

/// A value for a label: no more decimals than it needs (`2`, `0.5`,
/// `0.25`, `1200`).
pub fn short_number(x: f64) -> String {
    if x >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else if (x * 10.0).fract().abs() < 1e-9 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A window length for a label: `45 s`, `12 min`, `1 h`.
pub fn span_label(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 120 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", (s + 30) / 60)
    } else {
        format!("{} h", (s + 1800) / 3600)
    }
}

impl Chart<'_> {
    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> String {
        let (w, h) = (f64::from(self.width.max(40)), f64::from(self.height.max(24)));
        // The drawing area: room for the labels above and below.
        let (left, right, top, bottom) = (2.0, w - 2.0, 12.0, h - 11.0);
        let known = |v: Option<f64>| v.filter(|x| x.is_finite()).map(|x| x.max(0.0));
        let first = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(|t| *t <= self.now_ms)
            .min();
        let span = first
            .map_or(MIN_SPAN_MS, |t| self.now_ms - t)
            .clamp(MIN_SPAN_MS, self.max_span_ms.max(MIN_SPAN_MS));
        let start = self.now_ms - span;
        let peak = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| p.0 >= start && p.0 <= self.now_ms))
            .filter_map(|p| known(p.1))
            .fold(0.0f64, f64::max);
        let scale_top = nice_ceiling(peak.max(self.min_top));
        let x = |t: i64| left + (right - left) * ((t - start) as f64 / span as f64).clamp(0.0, 1.0);
        let y = |v: f64| bottom - (bottom - top) * (v / scale_top).clamp(0.0, 1.0);

        let mut title = String::new();
        for s in &self.series {
            let last = s.points.iter().rev().find_map(|p| known(p.1));
            let _ = write!(
                title,
                "{}{}: {}",
                if title.is_empty() { "" } else { "; " },
                s.label,
                last.map_or_else(|| "unknown".to_owned(), |v| format!("{v:.3} {}", self.unit))
            );
        }
        let mut out = format!(
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
            t = escape(&format!("last {}: {title}", span_label(span)))
        );
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{top}\" x2=\"{right}\" y2=\"{top}\"/>\
             <line class=\"axis\" x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"/>\
             <text class=\"lbl\" x=\"{left}\" y=\"9\">{}</text>\
             <text class=\"lbl\" x=\"{left}\" y=\"{ly}\">−{}</text>\
             <text class=\"lbl\" x=\"{right}\" y=\"{ly}\" text-anchor=\"end\">now</text>",
            escape(&format!("{} {}", short_number(scale_top), self.unit)),
            escape(&span_label(span)),
            ly = h - 1.0,
        );
        let mut drawn = false;
        for s in &self.series {
            let mut d = String::new();
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut dots: Vec<(f64, f64)> = Vec::new();
            let flush = |run: &mut Vec<(f64, f64)>, d: &mut String, dots: &mut Vec<(f64, f64)>| {
                match run.as_slice() {
                    [] => {}
                    [one] => dots.push(*one),
                    [first, rest @ ..] => {
                        let _ = write!(d, "M{:.1} {:.1}", first.0, first.1);
                        for p in rest {
                            let _ = write!(d, "L{:.1} {:.1}", p.0, p.1);
                        }
                    }
                }
                run.clear();
            };
            for &(t, v) in s.points.iter().filter(|p| p.0 >= start && p.0 <= self.now_ms) {
                match known(v) {
                    Some(v) => run.push((x(t), y(v))),
                    None => flush(&mut run, &mut d, &mut dots),
                }
            }
            flush(&mut run, &mut d, &mut dots);
            let colour = escape(s.colour);
            if !d.is_empty() {
                drawn = true;
                let _ = write!(
                    out,
                    "<path class=\"line\" d=\"{d}\" stroke=\"{colour}\"><title>{}</title></path>",
                    escape(s.label)
                );
            }
            for (cx, cy) in dots {
                drawn = true;
                let _ = write!(
                    out,
                    "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"2\" fill=\"{colour}\"><title>{}</title></circle>",
                    escape(s.label)
                );
            }
        }
        if !drawn {
            let _ = write!(
                out,
                "<text class=\"lbl empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no samples yet</text>",
                w / 2.0,
                (top + bottom) / 2.0 + 3.0
            );
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(i64, Option<f64>)>) -> String {
        Chart {
            width: 200,
            height: 50,
            unit: "s",
            min_top: 1.0,
            now_ms: 1_000_000,
            max_span_ms: 3_600_000,
            series: vec![Series {
                label: "applied <latency>",
                colour: "#1f6feb",
                points,
            }],
        }
        .svg()
    }

    #[test]
    fn nice_numbers_and_labels() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.3), 2.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(4.0), 5.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(1234.0), 2000.0);
        assert_eq!(short_number(2.0), "2");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(2500.0), "2500");
        assert_eq!(span_label(45_000), "45 s");
        assert_eq!(span_label(720_000), "12 min");
        assert_eq!(span_label(3_600_000), "1 h");
    }

    #[test]
    fn a_few_points_make_one_path_scaled_to_a_nice_top() {
        // 60 s of samples every 20 s, the last now.
        let svg = chart(vec![
            (940_000, Some(0.5)),
            (960_000, Some(1.5)),
            (980_000, Some(0.0)),
            (1_000_000, Some(1.0)),
        ]);
        assert!(
            svg.starts_with("<svg class=\"chart\"") && svg.ends_with("</svg>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<path").count(), 1, "{svg}");
        // Top of the scale: 2 s; the window: 60 s.
        assert!(svg.contains(">2 s</text>"), "{svg}");
        assert!(svg.contains(">−60 s</text>"), "{svg}");
        // x from 2 to 198, y from 39 (0) up to 12 (2 s): the first point is
        // at the left edge, 0.5 s a quarter up; the last at the right.
        assert!(svg.contains("d=\"M2.0 32.2L67.3 18.8L132.7 39.0L198.0 25.5\""), "{svg}");
        // Labels are escaped.
        assert!(svg.contains("applied &lt;latency&gt;"), "{svg}");
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn unknown_values_break_the_line_and_bad_values_stay_inside() {
        let svg = chart(vec![
            (900_000, Some(1.0)),
            (920_000, Some(f64::INFINITY)),
            (940_000, Some(0.2)),
            (960_000, Some(0.3)),
            (980_000, None),
            (1_000_000, Some(-4.0)),
        ]);
        // One segment of two points, and two single points as dots.
        assert_eq!(svg.matches("<path").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        // A negative value is drawn at 0, on the baseline.
        assert!(svg.contains("cx=\"198.0\" cy=\"39.0\""), "{svg}");
    }

    #[test]
    fn no_samples_say_so_and_old_ones_are_left_out() {
        let svg = chart(Vec::new());
        assert!(svg.contains("no samples yet"), "{svg}");
        assert!(svg.contains(">1 s</text>"), "{svg}");
        // Only samples older than the hour: nothing drawn.
        let mut old: Vec<(i64, Option<f64>)> = (0..5).map(|i| (i * 1000, Some(3.0))).collect();
        old.push((1_000_000 + 10_000, Some(9.0)));
        let svg = Chart {
            max_span_ms: 60_000,
            ..Chart {
                width: 200,
                height: 50,
                unit: "s",
                min_top: 1.0,
                now_ms: 1_000_000,
                max_span_ms: 0,
                series: vec![Series {
                    label: "x",
                    colour: "red",
                    points: old,
                }],
            }
        }
        .svg();
        assert!(svg.contains("no samples yet"), "{svg}");
    }
}
