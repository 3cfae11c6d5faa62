//! The HTML report: one self-contained file (inline CSS and SVG, no script, no
//! external reference), so it opens offline and can be mailed or archived.

use std::fmt::Write as _;
use std::time::Duration;

use super::report::{AlarmEntry, DailyReport, Transition, fmt_num, threshold_text};
use super::svg::{Chart, esc, render as chart};
use super::{datetime_secs, format_duration};
use crate::render::if_any;

const STYLE: &str = "
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 24px auto; max-width: 820px; color: #1f2933; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 0 0 4px; display: flex; gap: 8px; align-items: center; }
.muted { color: #616e7c; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; background: #e4e7eb; }
.state-ALARM .badge, .badge.ALARM { background: #fde2e2; color: #9b1c1c; }
.state-OK .badge, .badge.OK { background: #def7ec; color: #03543f; }
.state-INSUFFICIENT_DATA .badge, .badge.INSUFFICIENT_DATA { background: #fdf6b2; color: #723b13; }
.alarm { border: 1px solid #e4e7eb; border-radius: 8px; padding: 12px 14px; margin: 14px 0; }
.alarm.state-ALARM { border-color: #f8b4b4; }
.warn { color: #9b1c1c; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
svg .plot { fill: #fbfcfd; stroke: #e4e7eb; }
svg .grid { stroke: #eef0f2; }
svg .tick, svg .threshold-label, svg .empty { font-size: 11px; fill: #616e7c; }
svg .threshold-label { fill: #c81e1e; }
svg .alarm-span { fill: #f05252; fill-opacity: 0.18; }
svg .threshold { stroke: #c81e1e; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .series { fill: none; stroke: #1c64f2; stroke-width: 1.8; stroke-linejoin: round; }
svg .point { fill: #1c64f2; }
ul { margin: 4px 0; padding-left: 20px; }
";

fn badge(state: Option<&str>) -> String {
    let s = state.unwrap_or("ABSENT");
    format!(r#"<span class="badge {}">{}</span>"#, esc(s), esc(s))
}

fn metric_label(a: &AlarmEntry) -> String {
    match &a.metric {
        Some(m) => match (&m.namespace, &m.metric_name, &m.expression) {
            (Some(ns), Some(name), _) => {
                let dims: Vec<String> = m
                    .dimensions
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let period = m.period.map_or_else(String::new, |p| format!(", {p}s"));
                let dims = if dims.is_empty() {
                    String::new()
                } else {
                    format!(" {{{}}}", dims.join(", "))
                };
                format!("{ns} {name}{dims} ({}{period})", m.stat)
            }
            (_, _, Some(expr)) => format!("metric math: {expr}"),
            _ => "metric".to_string(),
        },
        None if a.kind == "CompositeAlarm" => "composite alarm".to_string(),
        None => "no metric".to_string(),
    }
}

fn alarm_section(out: &mut String, a: &AlarmEntry, start: i64, end: i64) {
    let state = a.state.as_deref().unwrap_or("ABSENT");
    let _ = write!(
        out,
        r#"<article class="alarm state-{state}" id="alarm-{}"><h3>{} {}</h3>"#,
        esc(&a.name),
        esc(&a.name),
        badge(a.state.as_deref())
    );
    let label = metric_label(a);
    let _ = write!(out, r#"<div class="muted">{}</div>"#, esc(&label));
    let facts = alarm_facts(a, state);
    let _ = write!(out, "<div>{}</div>", facts.join(" · "));
    let empty = match (&a.metric, a.exists) {
        (_, false) => "the alarm does not exist in AWS",
        (None, _) => "no metric: the shading shows when it was in ALARM",
        (Some(_), _) => "no datapoints in this period",
    };
    let title = format!("{}: {label}", a.name);
    out.push_str(&chart(&Chart {
        name: &a.name,
        label: &title,
        start,
        end,
        points: &a.raw_series,
        period: a.series_period,
        threshold: a.threshold,
        alarm_spans: &a.raw_spans,
        empty_text: empty,
    }));
    if let Some(ts) = a.transitions.as_ref().filter(|t| !t.is_empty()) {
        transitions_table(out, ts);
    }
    if let Some(reason) = a.state_reason.as_deref().filter(|s| !s.is_empty()) {
        let _ = write!(out, r#"<div class="muted">reason: {}</div>"#, esc(reason));
    }
    for n in &a.notes {
        let _ = write!(out, r#"<div class="muted">{}</div>"#, esc(n));
    }
    out.push_str("</article>");
}

/// Statistics, threshold, state changes and since when: the line under the title.
fn alarm_facts(a: &AlarmEntry, state: &str) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(st) = &a.stats {
        facts.push(format!(
            "min <b>{}</b> · avg <b>{}</b> · max <b>{}</b>",
            esc(&fmt_num(st.min)),
            esc(&fmt_num(st.avg)),
            esc(&fmt_num(st.max))
        ));
    }
    if a.threshold.is_some() || a.comparison_operator.is_some() {
        facts.push(format!(
            "threshold {}",
            esc(&threshold_text(
                a.comparison_operator.as_deref(),
                a.threshold
            ))
        ));
    }
    match &a.transitions {
        Some(t) => facts.push(format!("{} state change(s)", t.len())),
        None => facts.push("state changes unknown".into()),
    }
    if let Some(since) = &a.state_since {
        facts.push(format!("{} since {}", esc(state), esc(since)));
    }
    facts
}

fn transitions_table(out: &mut String, ts: &[Transition]) {
    out.push_str("<table><tr><th>at</th><th>from</th><th>to</th><th>reason</th></tr>");
    for t in ts {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.at),
            esc(&t.from),
            esc(&t.to),
            esc(t.reason.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>");
}

fn title(r: &DailyReport) -> String {
    format!(
        "vigil report: last {}",
        format_duration(Duration::from_secs(r.period.seconds))
    )
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(title)
    );
}

/// The whole page.
pub fn render(r: &DailyReport) -> String {
    let mut out = String::new();
    head(&mut out, &title(r));
    body(&mut out, r);
    out.push_str("</body></html>\n");
    out
}

/// One page for several targets: a section each, in order.
pub fn render_many(reports: &[(String, &DailyReport)]) -> String {
    let mut out = String::new();
    let t = reports
        .first()
        .map_or("vigil report".to_string(), |(_, r)| title(r));
    head(&mut out, &t);
    for (target, r) in reports {
        let _ = write!(out, "<section><h1>target {}</h1>", esc(target));
        body(&mut out, r);
        out.push_str("</section>");
    }
    out.push_str("</body></html>\n");
    out
}

/// One report's content: heading, summary, the alarm table and one section per
/// alarm, then Config rules, drift and what could not be read.
fn body(out: &mut String, r: &DailyReport) {
    let start = parse(&r.period.start);
    let end = parse(&r.period.end);
    page_heading(out, r);
    summary_table(out, r);
    alarm_table(out, r);
    for a in &r.alarms {
        alarm_section(out, a, start, end);
    }
    if !r.config_rules.is_empty() {
        config_rules_table(out, r);
    }
    drift_list(out, r);
    if !r.unavailable.is_empty() {
        unavailable_list(out, r);
    }
}

fn page_heading(out: &mut String, r: &DailyReport) {
    let title = title(r);
    let _ = write!(
        out,
        r#"<h1>{}</h1><div class="muted">{} to {} · account {} · {} · generated {}</div>"#,
        esc(&title),
        esc(&r.period.start),
        esc(&r.period.end),
        esc(&r.account),
        esc(&r.region),
        esc(&r.generated_at)
    );
}

fn summary_table(out: &mut String, r: &DailyReport) {
    let s = &r.summary;
    out.push_str("<h2>Summary</h2><table>");
    let _ = write!(
        out,
        r#"<tr><th>Alarms</th><td>{} · {} {} · {} {} · {} {}{}</td></tr>"#,
        s.alarms,
        s.in_alarm,
        badge(Some("ALARM")),
        s.ok,
        badge(Some("OK")),
        s.insufficient_data,
        badge(Some("INSUFFICIENT_DATA")),
        if_any(s.missing, r#" · <span class="warn">"#, " missing</span>")
    );
    let _ = write!(
        out,
        "<tr><th>State changes</th><td>{}</td></tr>",
        s.state_changes.map_or_else(
            || "unknown (no alarm history)".to_string(),
            |n| n.to_string()
        )
    );
    drift_row(out, r);
    pending_row(out, r);
    out.push_str("</table>");
}

fn drift_row(out: &mut String, r: &DailyReport) {
    match &r.drift {
        Some(d) => {
            let _ = write!(
                out,
                "<tr><th>Drift</th><td>{} drifted · {} missing · {} pending · {} unmanaged{}</td></tr>",
                d.drifted,
                d.missing,
                d.pending,
                d.unmanaged,
                if_any(d.errors.len(), " · ", " could not be checked")
            );
        }
        None => out.push_str("<tr><th>Drift</th><td>unavailable</td></tr>"),
    }
}

fn pending_row(out: &mut String, r: &DailyReport) {
    let _ = write!(
        out,
        "<tr><th>Pending SNS subscriptions</th><td>{}</td></tr>",
        if r.pending_subscriptions.is_empty() {
            "none".to_string()
        } else {
            r.pending_subscriptions
                .iter()
                .map(|p| {
                    format!(
                        r#"<span class="warn">{}:{}</span> on {}"#,
                        esc(&p.protocol),
                        esc(&p.endpoint),
                        esc(&p.topic)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
                + " (they receive nothing until confirmed)"
        }
    );
}

fn alarm_table(out: &mut String, r: &DailyReport) {
    out.push_str(r#"<h2>Alarms</h2><table><tr><th>alarm</th><th>state</th><th class="num">changes</th><th class="num">min</th><th class="num">avg</th><th class="num">max</th><th>threshold</th></tr>"#);
    for a in &r.alarms {
        let (min, avg, max) = a
            .stats
            .as_ref()
            .map_or(("-".into(), "-".into(), "-".into()), |st| {
                (fmt_num(st.min), fmt_num(st.avg), fmt_num(st.max))
            });
        let _ = write!(
            out,
            r##"<tr><td><a href="#alarm-{}">{}</a></td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"##,
            esc(&a.name),
            esc(&a.name),
            badge(a.state.as_deref()),
            a.transitions
                .as_ref()
                .map_or("?".to_string(), |t| t.len().to_string()),
            esc(&min),
            esc(&avg),
            esc(&max),
            esc(&threshold_text(
                a.comparison_operator.as_deref(),
                a.threshold
            ))
        );
    }
    out.push_str("</table>");
}

fn config_rules_table(out: &mut String, r: &DailyReport) {
    out.push_str("<h2>Config rules</h2><table><tr><th>rule</th><th>compliance</th><th class=\"num\">non-compliant resources</th></tr>");
    for c in &r.config_rules {
        let comp = c.compliance.as_deref().unwrap_or("unknown");
        let class = if comp == "NON_COMPLIANT" {
            " class=\"warn\""
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td{class}>{}{}</td><td class="num">{}</td></tr>"#,
            esc(&c.name),
            esc(comp),
            c.note.as_ref().map_or_else(String::new, |n| format!(
                r#" <span class="muted">({})</span>"#,
                esc(n)
            )),
            c.non_compliant_resources
                .map_or_else(String::new, |n| format!(
                    "{n}{}",
                    if c.capped == Some(true) { "+" } else { "" }
                ))
        );
    }
    out.push_str("</table>");
}

/// The drift items and the resources that could not be checked; nothing when none.
fn drift_list(out: &mut String, r: &DailyReport) {
    if let Some(d) = r
        .drift
        .as_ref()
        .filter(|d| !d.items.is_empty() || !d.errors.is_empty())
    {
        out.push_str("<h2>Drift</h2><ul>");
        for it in &d.items {
            let _ = write!(
                out,
                "<li>{} <b>{}/{}</b>{}</li>",
                esc(&it.status),
                esc(&it.kind),
                esc(&it.name),
                it.detail
                    .as_ref()
                    .map_or_else(String::new, |x| format!(" ({})", esc(x)))
            );
        }
        for e in &d.errors {
            let _ = write!(out, r#"<li class="muted">not checked: {}</li>"#, esc(e));
        }
        out.push_str("</ul>");
    }
}

fn unavailable_list(out: &mut String, r: &DailyReport) {
    out.push_str("<h2>Not available</h2><ul>");
    for u in &r.unavailable {
        let _ = write!(
            out,
            "<li><b>{}</b>: {}</li>",
            esc(&u.section),
            esc(&u.message)
        );
    }
    out.push_str("</ul>");
}

fn parse(s: &str) -> i64 {
    aws_smithy_types::DateTime::from_str(s, aws_smithy_types::date_time::Format::DateTime)
        .map_or(0, |d| datetime_secs(&d))
}
