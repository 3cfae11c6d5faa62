//! The report as text: [`DailyReport::to_json`] for machines, and
//! [`DailyReport::to_markdown`] for a chat message, one section at a time.
//! `ops::html` and `ops::svg` draw the HTML page from the same model.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::DailyReport;
use crate::escape::code_span;
use crate::ops::format_duration;
use crate::render::if_any;

/// `80`, `83.33`, `0.001`: short, without trailing zeros.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let digits = if v.abs() >= 1.0 { 2 } else { 4 };
    let s = format!("{v:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `> 80`, `<= 3`, or `band` for anomaly detection.
pub fn threshold_text(op: Option<&str>, threshold: Option<f64>) -> String {
    let sym = match op {
        Some("GreaterThanThreshold") => ">",
        Some("GreaterThanOrEqualToThreshold") => ">=",
        Some("LessThanThreshold") => "<",
        Some("LessThanOrEqualToThreshold") => "<=",
        Some(_) => return "band".into(),
        None => return "-".into(),
    };
    match threshold {
        Some(t) => format!("{sym} {}", fmt_num(t)),
        None => "-".into(),
    }
}

/// A user string in Markdown (a table cell, a list item): it means nothing but itself.
fn md_cell(s: &str) -> String {
    crate::escape::md_text(s)
}

impl DailyReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// For a chat message.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.md_heading(&mut out);
        self.md_alarm_table(&mut out);
        let _ = writeln!(out);
        self.md_drift(&mut out);
        self.md_config_rules(&mut out);
        self.md_pending_subscriptions(&mut out);
        for u in &self.unavailable {
            let _ = writeln!(
                out,
                "_{} unavailable: {}_",
                md_cell(&u.section),
                md_cell(&u.message)
            );
        }
        out
    }

    /// The title line, and one line of counts.
    fn md_heading(&self, out: &mut String) {
        let s = &self.summary;
        let _ = writeln!(
            out,
            "### vigil report: last {} ({} to {})",
            format_duration(Duration::from_secs(self.period.seconds)),
            self.period.start,
            self.period.end
        );
        let changes = s.state_changes.map_or_else(
            || "state changes unknown".to_string(),
            |n| format!("{n} state change(s)"),
        );
        let _ = writeln!(
            out,
            "Account {}, {}. {} alarm(s): **{} in ALARM**, {} OK, {} INSUFFICIENT_DATA{}; {changes}.",
            md_cell(&self.account),
            md_cell(&self.region),
            s.alarms,
            s.in_alarm,
            s.ok,
            s.insufficient_data,
            if_any(s.missing, ", ", " missing"),
        );
    }

    /// One row per alarm; nothing when no alarm is declared.
    fn md_alarm_table(&self, out: &mut String) {
        if self.alarms.is_empty() {
            return;
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| Alarm | State | Changes | Min | Avg | Max | Threshold |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|");
        for a in &self.alarms {
            let state = match a.state.as_deref() {
                Some("ALARM") => "**ALARM**".to_string(),
                Some(st) => md_cell(st),
                None => "absent".to_string(),
            };
            let changes = a
                .transitions
                .as_ref()
                .map_or("?".to_string(), |t| t.len().to_string());
            let (min, avg, max) = a
                .stats
                .as_ref()
                .map_or(("-".into(), "-".into(), "-".into()), |st| {
                    (fmt_num(st.min), fmt_num(st.avg), fmt_num(st.max))
                });
            let _ = writeln!(
                out,
                "| {} | {state} | {changes} | {min} | {avg} | {max} | {} |",
                md_cell(&a.name),
                threshold_text(a.comparison_operator.as_deref(), a.threshold)
            );
        }
    }

    /// The drift counts, then one line per item (pending ones only when few).
    fn md_drift(&self, out: &mut String) {
        let Some(d) = &self.drift else {
            let _ = writeln!(out, "**Drift:** unavailable.");
            return;
        };
        let _ = writeln!(
            out,
            "**Drift:** {} drifted, {} missing, {} pending, {} unmanaged{}.",
            d.drifted,
            d.missing,
            d.pending,
            d.unmanaged,
            if_any(d.errors.len(), ", ", " could not be checked")
        );
        for it in d
            .items
            .iter()
            .filter(|i| i.status != "pending" || d.items.len() <= 10)
        {
            let _ = writeln!(
                out,
                "- {} {}{}",
                md_cell(&it.status),
                code_span(&format!("{}/{}", it.kind, it.name)),
                it.detail
                    .as_ref()
                    .map_or_else(String::new, |x| format!(" ({})", md_cell(x)))
            );
        }
    }

    /// One line listing every rule's compliance; nothing when no rule is declared.
    fn md_config_rules(&self, out: &mut String) {
        if self.config_rules.is_empty() {
            return;
        }
        let list: Vec<String> = self
            .config_rules
            .iter()
            .map(|r| {
                let c = r.compliance.as_deref().unwrap_or("unknown");
                match r.non_compliant_resources {
                    Some(n) if c == "NON_COMPLIANT" => {
                        format!(
                            "{} **{c}** ({n}{} resources)",
                            code_span(&r.name),
                            if r.capped == Some(true) { "+" } else { "" }
                        )
                    }
                    _ => format!("{} {}", code_span(&r.name), md_cell(c)),
                }
            })
            .collect();
        let _ = writeln!(out, "**Config rules:** {}.", list.join(", "));
    }

    fn md_pending_subscriptions(&self, out: &mut String) {
        if self.pending_subscriptions.is_empty() {
            let _ = writeln!(out, "**Pending SNS subscriptions:** none.");
            return;
        }
        let list: Vec<String> = self
            .pending_subscriptions
            .iter()
            .map(|p| {
                format!(
                    "{}:{} on {}",
                    md_cell(&p.protocol),
                    md_cell(&p.endpoint),
                    code_span(&p.topic)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "**Pending SNS subscriptions** (they receive nothing until confirmed): {}.",
            list.join(", ")
        );
    }
}
