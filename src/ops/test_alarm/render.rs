//! A test-alarm report as text for the terminal (secrets redacted) or JSON.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::{ActionCheck, AlarmTest, TestReport};
use crate::ops::format_duration;

impl TestReport {
    pub fn to_json(&self) -> String {
        crate::secret::redact_json(self)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.text_heading(&mut out);
        for t in &self.alarms {
            let _ = writeln!(out);
            self.text_alarm(&mut out, t);
        }
        let _ = writeln!(out);
        let broken: Vec<String> = self
            .alarms
            .iter()
            .filter(|t| t.broken())
            .map(AlarmTest::id)
            .collect();
        let _ = writeln!(
            out,
            "Result: {} passed, {} broken{}.",
            self.passed,
            self.broken,
            if broken.is_empty() {
                String::new()
            } else {
                format!(" ({})", broken.join(", "))
            }
        );
        // Endpoints print as their shape: a webhook key stays out of the terminal.
        crate::secret::redact_text(&out).into_owned()
    }

    /// What is tested, and how.
    fn text_heading(&self, out: &mut String) {
        let how = if self.via_metric {
            "by publishing breaching datapoints"
        } else {
            "by SetAlarmState"
        };
        let then = if self.via_metric {
            String::new()
        } else if self.restore {
            format!(
                ", hold {}, then restore",
                format_duration(Duration::from_secs(self.hold_seconds))
            )
        } else {
            ", no restore".to_string()
        };
        let _ = writeln!(
            out,
            "Testing {} alarm(s): {} {how}{then}.",
            self.alarms.len(),
            self.state
        );
    }

    /// One alarm: its state change, its actions, then problems, warnings and notes.
    fn text_alarm(&self, out: &mut String, t: &AlarmTest) {
        let status = match (t.fired, t.confirmed) {
            (_, true) => "confirmed",
            (true, false) => "NOT CONFIRMED",
            (false, false) => "not fired",
        };
        let restored = t
            .restored
            .as_ref()
            .map_or_else(String::new, |s| format!(", restored {s}"));
        let _ = writeln!(
            out,
            "{}: {} -> {}  {status}{restored}",
            t.id(),
            t.previous_state.as_deref().unwrap_or("(absent)"),
            self.state
        );
        if !t.actions.is_empty() {
            let _ = writeln!(out, "  {} actions:", self.state);
        }
        for a in &t.actions {
            text_action(out, a);
        }
        for p in &t.problems {
            let _ = writeln!(out, "  !! {}", p.to_uppercase_first());
        }
        for w in &t.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        for n in &t.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }

    /// The loud part: one line per broken path, for stderr.
    pub fn warnings(&self) -> Vec<String> {
        self.alarms
            .iter()
            .flat_map(|t| {
                t.problems
                    .iter()
                    .map(move |p| format!("WARNING: {}: {p}", t.id()))
            })
            .collect()
    }
}

trait UpperFirst {
    fn to_uppercase_first(&self) -> String;
}

impl UpperFirst for String {
    fn to_uppercase_first(&self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    }
}

/// One action and where it leads.
fn text_action(out: &mut String, a: &ActionCheck) {
    match (&a.topic, a.exists) {
        (Some(topic), Some(true)) => {
            let _ = writeln!(
                out,
                "    SNS topic {topic}: {} confirmed, {} pending",
                a.confirmed.len(),
                a.pending.len()
            );
            for e in &a.confirmed {
                let _ = writeln!(out, "      confirmed {e}");
            }
            for e in &a.pending {
                let _ = writeln!(out, "      pending   {e}");
            }
        }
        (Some(topic), Some(false)) => {
            let _ = writeln!(out, "    SNS topic {topic}: does not exist");
        }
        (Some(topic), None) => {
            let _ = writeln!(out, "    SNS topic {topic}: not checked");
        }
        (None, _) => {
            let _ = writeln!(out, "    {}: not checked", a.arn);
        }
    }
}
