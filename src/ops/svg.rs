//! Inline SVG charts for the HTML report: the alarm's metric, its threshold as a
//! line, and ALARM periods shaded. Plain SVG, no script, so the page works offline.

use std::fmt::Write as _;

use super::report::fmt_num;

const W: f64 = 760.0;
const H: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// What one chart shows. Times are epoch seconds.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub start: i64,
    pub end: i64,
    pub points: &'a [(i64, f64)],
    /// Points further apart than 1.5 periods are not joined.
    pub period: Option<i64>,
    pub threshold: Option<f64>,
    pub alarm_spans: &'a [(i64, i64)],
    /// Shown when there is no metric to draw (composite alarms, no data).
    pub empty_text: &'a str,
}

/// Escapes text for HTML and SVG, in content and in attribute values.
pub fn esc(s: &str) -> String {
    crate::escape::html_text(s)
}

/// `HH:MM`, or `MM-DD HH:MM` when the chart spans more than a day.
fn time_label(t: i64, long: bool) -> String {
    let s = super::rfc3339(t);
    // 2026-01-02T03:04:05Z
    if long {
        format!("{} {}", &s[5..10], &s[11..16])
    } else {
        s[11..16].to_string()
    }
}

/// A step of 1, 2, 2.5 or 5 times a power of ten, near `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// A y range on round numbers that holds every value and the threshold, and its tick step.
fn y_range(points: &[(i64, f64)], threshold: Option<f64>) -> (f64, f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in points.iter().map(|(_, v)| *v).chain(threshold) {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (0.0, 1.0, 0.25);
    }
    if (hi - lo).abs() < f64::EPSILON {
        let pad = (hi.abs() * 0.1).max(1.0);
        lo -= pad;
        hi += pad;
    }
    let step = nice_step((hi - lo) / 4.0);
    let lo = (lo / step).floor() * step;
    let hi = ((hi / step).ceil() * step).max(lo + step);
    (lo, hi, step)
}

pub fn render(c: &Chart) -> String {
    let f = Frame::new(c);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-alarm="{}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        esc(c.name),
        esc(c.label)
    );
    let _ = write!(s, "<title>{}</title>", esc(c.label));
    let _ = write!(
        s,
        r#"<rect class="plot" x="{LEFT}" y="{TOP}" width="{}" height="{}"/>"#,
        f.pw, f.ph
    );
    f.alarm_spans(&mut s);
    f.grid(&mut s);
    f.time_labels(&mut s);
    f.threshold(&mut s);
    if c.points.is_empty() {
        let _ = write!(
            s,
            r#"<text class="empty" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + f.pw / 2.0,
            TOP + 18.0,
            esc(c.empty_text)
        );
    } else {
        f.series(&mut s);
    }
    s.push_str("</svg>");
    s
}

/// One chart's plot area and scales: time to x, value to y.
struct Frame<'a> {
    c: &'a Chart<'a>,
    /// Plot width and height.
    pw: f64,
    ph: f64,
    /// The y range and its tick step.
    lo: f64,
    hi: f64,
    step: f64,
}

impl<'a> Frame<'a> {
    fn new(c: &'a Chart<'a>) -> Self {
        let (lo, hi, step) = y_range(c.points, c.threshold);
        Frame {
            c,
            pw: W - LEFT - RIGHT,
            ph: H - TOP - BOTTOM,
            lo,
            hi,
            step,
        }
    }

    fn x(&self, t: i64) -> f64 {
        let span = (self.c.end - self.c.start).max(1) as f64;
        LEFT + ((t - self.c.start) as f64 / span).clamp(0.0, 1.0) * self.pw
    }

    fn y(&self, v: f64) -> f64 {
        TOP + ((self.hi - v) / (self.hi - self.lo)).clamp(0.0, 1.0) * self.ph
    }

    /// ALARM periods, shaded.
    fn alarm_spans(&self, s: &mut String) {
        let ph = self.ph;
        for (a, b) in self.c.alarm_spans {
            let (xa, xb) = (self.x(*a), self.x(*b));
            let _ = write!(
                s,
                r#"<rect class="alarm-span" x="{xa:.1}" y="{TOP}" width="{:.1}" height="{ph}"><title>ALARM {} to {}</title></rect>"#,
                (xb - xa).max(1.0),
                super::rfc3339(*a),
                super::rfc3339(*b)
            );
        }
    }

    /// Horizontal grid with value labels.
    fn grid(&self, s: &mut String) {
        let ticks = ((self.hi - self.lo) / self.step).round() as i32;
        for i in 0..=ticks {
            let v = self.lo + self.step * f64::from(i);
            let yy = self.y(v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT + self.pw,
                LEFT - 6.0,
                yy + 4.0,
                esc(&fmt_num(v))
            );
        }
    }

    /// Time labels at the start, middle and end.
    fn time_labels(&self, s: &mut String) {
        let c = self.c;
        let long = c.end - c.start > 86_400;
        for (t, anchor) in [
            (c.start, "start"),
            ((c.start + c.end) / 2, "middle"),
            (c.end, "end"),
        ] {
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                self.x(t),
                H - 10.0,
                esc(&time_label(t, long))
            );
        }
    }

    fn threshold(&self, s: &mut String) {
        let Some(th) = self.c.threshold else {
            return;
        };
        let yy = self.y(th);
        let _ = write!(
            s,
            r#"<line class="threshold" x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"><title>threshold {}</title></line><text class="threshold-label" x="{:.1}" y="{:.1}" text-anchor="end">threshold {}</text>"#,
            LEFT + self.pw,
            esc(&fmt_num(th)),
            LEFT + self.pw - 4.0,
            yy - 4.0,
            esc(&fmt_num(th))
        );
    }

    /// The metric as a line, broken at gaps; a dot per point when there are few.
    fn series(&self, s: &mut String) {
        let c = self.c;
        let gap = c.period.map_or(i64::MAX, |p| p + p / 2);
        let mut d = String::new();
        let mut prev: Option<i64> = None;
        for (t, v) in c.points {
            let cmd = if prev.is_some_and(|p| t - p <= gap) {
                'L'
            } else {
                'M'
            };
            let _ = write!(d, "{cmd}{:.1},{:.1} ", self.x(*t), self.y(*v));
            prev = Some(*t);
        }
        let _ = write!(s, r#"<path class="series" d="{}"/>"#, d.trim_end());
        if c.points.len() <= 120 {
            for (t, v) in c.points {
                let _ = write!(
                    s,
                    r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.5"><title>{} {}</title></circle>"#,
                    self.x(*t),
                    self.y(*v),
                    super::rfc3339(*t),
                    esc(&fmt_num(*v))
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(points: &'a [(i64, f64)], spans: &'a [(i64, i64)]) -> Chart<'a> {
        Chart {
            name: "cpu <high>",
            label: "CPU",
            start: 0,
            end: 3600,
            points,
            period: Some(300),
            threshold: Some(80.0),
            alarm_spans: spans,
            empty_text: "no datapoints",
        }
    }

    #[test]
    fn draws_series_threshold_and_alarm_spans() {
        let pts = [(0, 10.0), (300, 50.0), (600, 95.0), (2400, 20.0)];
        let svg = render(&chart(&pts, &[(600, 1200)]));
        assert!(
            svg.starts_with(r#"<svg class="chart" data-alarm="cpu &lt;high&gt;""#),
            "{svg}"
        );
        assert_eq!(svg.matches(r#"class="alarm-span""#).count(), 1);
        assert_eq!(svg.matches(r#"class="threshold""#).count(), 1);
        // The gap from 600 to 2400 is wider than 1.5 periods, so the line breaks there.
        let d = svg
            .split(r#"class="series" d=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 2, "{d}");
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(!svg.contains("http"), "no external references: {svg}");
    }

    #[test]
    fn the_y_range_is_round_and_holds_the_threshold() {
        assert_eq!(
            y_range(&[(0, 10.0), (1, 95.0)], Some(80.0)),
            (0.0, 100.0, 25.0)
        );
        assert_eq!(
            y_range(&[(0, 50.0), (1, 475.0)], Some(400.0)),
            (0.0, 600.0, 200.0)
        );
        assert_eq!(y_range(&[], None), (0.0, 1.0, 0.25));
        let (lo, hi, _) = y_range(&[(0, 5.0)], None);
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(120.0), 200.0);
    }

    #[test]
    fn no_data_says_so() {
        let svg = render(&chart(&[], &[]));
        assert!(svg.contains(r#"class="empty""#));
        assert!(svg.contains("no datapoints"));
        assert!(!svg.contains("class=\"series\""));
    }
}
