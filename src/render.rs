//! Reports as people and tools read them: text (multi-line values through
//! `similar`), JSON with a stable schema, and Markdown for a pull request.

use std::fmt::Write as _;

use serde_json::Value;

use crate::engine::report::{ChangeAction, FieldView, Report, Status};
use crate::escape::{self, visible, visible_lines};
use crate::ops::drift::{DriftReport, Item};
use crate::refs::UNKNOWN_TEXT;

/// `BEFORE n AFTER`, or nothing when `n` is 0: a summary's count that is
/// worth saying only when there are some.
pub fn if_any(n: usize, before: &str, after: &str) -> String {
    if n > 0 {
        format!("{before}{n}{after}")
    } else {
        String::new()
    }
}

/// A text report's `MARK kind/name: message` line.
fn write_line(out: &mut String, mark: char, kind: &str, name: &str, message: &str) {
    let _ = writeln!(
        out,
        "{mark} {}: {}",
        visible(&format!("{kind}/{name}")),
        visible(message)
    );
}

/// A Markdown report's `> MARK**kind/name**: message` line.
fn write_md_line(out: &mut String, mark: &str, kind: &str, name: &str, message: &str) {
    let _ = writeln!(
        out,
        "> {mark}**{}**: {}",
        escape::md_text(&format!("{kind}/{name}")),
        escape::md_text(message)
    );
}

impl Report {
    pub fn to_json(&self) -> String {
        crate::secret::redact_json(self)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let status = match c.status {
                Status::Failed => " (failed)",
                _ => "",
            };
            let _ = writeln!(
                out,
                "{} {:<43} {}{}",
                c.action.symbol(),
                visible(&c.id()),
                c.action.word(),
                status
            );
            for f in &c.fields {
                // A create lists only what cannot be known yet and what the kind
                // explained (a stack's resources); the rest is the manifest.
                if c.action == ChangeAction::Create && !f.known_after_apply && !f.explained {
                    continue;
                }
                if c.action == ChangeAction::Delete {
                    continue;
                }
                write_field(&mut out, f, c.action);
            }
            if let Some(e) = &c.error {
                let _ = writeln!(out, "    error: {}", visible(e));
            }
        }
        for n in &self.notes {
            write_line(&mut out, '!', &n.kind, &n.name, &n.message);
        }
        for e in &self.errors {
            write_line(&mut out, 'x', &e.kind, &e.name, &e.message);
        }
        let s = &self.summary;
        if self.dry_run {
            let _ = write!(
                out,
                "Plan: {} to create, {} to update, {} to delete, {} unchanged.",
                s.create, s.update, s.delete, s.unchanged
            );
        } else {
            let _ = write!(
                out,
                "Apply {}: {} created, {} updated, {} deleted, {} unchanged.",
                if self.failed() {
                    "incomplete"
                } else {
                    "complete"
                },
                s.create,
                s.update,
                s.delete,
                s.unchanged
            );
        }
        if s.adopt > 0 {
            let _ = write!(out, " {} to adopt.", s.adopt);
        }
        if s.failed > 0 {
            let _ = write!(out, " {} failed.", s.failed);
        }
        if s.not_served > 0 {
            let _ = write!(out, " {} not served by this endpoint.", s.not_served);
        }
        if s.refused > 0 {
            let _ = write!(out, " {} refused.", s.refused);
        }
        out.push('\n');
        crate::secret::redact_text(&out).into_owned()
    }

    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "#### vigil {}: {} to create, {} to update, {} to delete, {} unchanged{}\n",
            if self.dry_run { "plan" } else { "apply" },
            s.create,
            s.update,
            s.delete,
            s.unchanged,
            if_any(s.failed, ", ", " failed")
                + &if_any(s.not_served, ", ", " not served by this endpoint")
        );
        if self.changes.is_empty() && self.errors.is_empty() {
            out.push_str("No changes. AWS matches `desired-state/`.\n");
        }
        if !self.changes.is_empty() {
            out.push_str("| | Resource | Action |\n|---|---|---|\n");
            for c in &self.changes {
                let icon = match (c.status, c.action) {
                    (Status::Failed, _) => "❌",
                    (_, ChangeAction::Create) => "➕",
                    (_, ChangeAction::Update) => "🔄",
                    (_, ChangeAction::Adopt) => "📥",
                    (_, ChangeAction::Delete) => "🗑️",
                };
                let _ = writeln!(
                    out,
                    "| {icon} | {} | {} |",
                    escape::cell_code_span(&c.id()),
                    c.action.word()
                );
            }
            out.push('\n');
        }
        for c in self.changes.iter().filter(|c| {
            matches!(c.action, ChangeAction::Update | ChangeAction::Adopt) || c.error.is_some()
        }) {
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code> {}</summary>\n",
                escape::html(&c.id()),
                c.action.word()
            );
            let mut diff = String::new();
            for f in &c.fields {
                let mut block = String::new();
                write_field(&mut block, f, c.action);
                for line in block.lines() {
                    let t = line.trim_start();
                    let marker = if t.starts_with('-') || t.starts_with('+') {
                        ""
                    } else {
                        "! "
                    };
                    let _ = writeln!(diff, "{marker}{t}");
                }
            }
            if let Some(e) = &c.error {
                let _ = writeln!(diff, "- error: {}", visible(e));
            }
            out.push_str(&escape::fenced("diff", &diff));
            out.push_str("</details>\n\n");
        }
        for n in &self.notes {
            write_md_line(&mut out, "", &n.kind, &n.name, &n.message);
        }
        for e in &self.errors {
            write_md_line(&mut out, "❌ ", &e.kind, &e.name, &e.message);
        }
        crate::secret::redact_text(&out).into_owned()
    }
}

/// A short value on one line, or `None` when it needs a multi-line diff.
fn inline(v: Option<&Value>, unknown: bool) -> Option<String> {
    if unknown && v.and_then(Value::as_str) == Some(UNKNOWN_TEXT) {
        return Some(UNKNOWN_TEXT.to_string());
    }
    let text = match v {
        None => "(none)".to_string(),
        Some(Value::String(s)) if s.contains('\n') => return None,
        Some(Value::String(s)) => format!("{s:?}"),
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            let t = v.to_string();
            if t.len() > 60 {
                return None;
            }
            t
        }
        Some(v) => v.to_string(),
    };
    Some(text)
}

fn pretty(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => format!("{s}\n"),
        Some(v) => format!("{}\n", serde_json::to_string_pretty(v).expect("json")),
    }
}

fn write_field(out: &mut String, f: &FieldView, action: ChangeAction) {
    let from = inline(f.from.as_ref(), false);
    let to = inline(f.to.as_ref(), f.known_after_apply);
    match (from, to) {
        (_, Some(t)) if action == ChangeAction::Create => {
            let _ = writeln!(out, "    {}: {}", visible(&f.path), visible(&t));
        }
        (Some(a), Some(b)) => {
            let _ = writeln!(
                out,
                "    {}: {} -> {}",
                visible(&f.path),
                visible(&a),
                visible(&b)
            );
        }
        _ => {
            let _ = writeln!(out, "    {}:", visible(&f.path));
            let old = pretty(f.from.as_ref());
            let new = pretty(f.to.as_ref());
            let diff = similar::TextDiff::from_lines(&old, &new);
            for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
                for change in hunk.iter_changes() {
                    let sign = match change.tag() {
                        similar::ChangeTag::Delete => '-',
                        similar::ChangeTag::Insert => '+',
                        similar::ChangeTag::Equal => ' ',
                    };
                    let _ = write!(out, "      {sign} {}", visible_lines(&change.to_string()));
                    if change.missing_newline() {
                        out.push('\n');
                    }
                }
            }
        }
    }
}

impl DriftReport {
    pub fn to_json(&self) -> String {
        crate::secret::redact_json(self)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut section = |label: &str, items: &[Item]| {
            for it in items {
                let extra = match (&it.action, &it.reason) {
                    (Some(a), Some(r)) => format!("{a} ({r})"),
                    (Some(a), None) => a.clone(),
                    (None, Some(r)) => format!("({r})"),
                    (None, None) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{label:<9} {:<43} {}",
                    visible(&format!("{}/{}", it.kind, it.name)),
                    visible(&extra)
                );
                for f in &it.fields {
                    let show = |v: &Option<Value>| {
                        v.as_ref().map_or("(none)".to_string(), |v| v.to_string())
                    };
                    let _ = writeln!(
                        out,
                        "    {}: {} -> {}",
                        visible(&f.path),
                        visible(&show(&f.from)),
                        visible(&show(&f.to))
                    );
                }
            }
        };
        section("drifted", &self.drifted);
        section("missing", &self.missing);
        section("pending", &self.pending);
        section("unmanaged", &self.unmanaged);
        section("unknown", &self.unknown);
        for e in &self.errors {
            write_line(&mut out, 'x', &e.kind, &e.name, &e.message);
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "Drift: {} drifted, {} missing, {} pending, {} unmanaged{}.",
            s.drifted,
            s.missing,
            s.pending,
            s.unmanaged,
            if_any(s.unknown, ", ", " unknown")
        );
        crate::secret::redact_text(&out).into_owned()
    }
}

#[cfg(test)]
mod tests;
