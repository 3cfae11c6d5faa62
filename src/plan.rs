//! The report of a reconcile: changes in order, and their text, JSON and
//! Markdown renderings.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::aws::{ApiCalls, AwsError, ErrorClass};
use crate::diff::FieldDiff;
use crate::refs::{UNKNOWN, UNKNOWN_TEXT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Create,
    Update,
    /// Take over an existing resource vigil did not create (`vigil/adopt`).
    Adopt,
    Delete,
}

impl Action {
    fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update | Action::Adopt => '~',
            Action::Delete => '-',
        }
    }

    fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Adopt => "adopt",
            Action::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Shown in a dry run.
    Planned,
    Applied,
    Failed,
}

/// A failure tied to one resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub kind: String,
    pub name: String,
    pub class: ErrorClass,
    pub message: String,
}

impl Failure {
    pub fn from_aws(kind: &str, name: &str, e: &AwsError) -> Self {
        Failure {
            kind: kind.to_string(),
            name: name.to_string(),
            class: e.class,
            message: e.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: Action,
    pub kind: String,
    pub name: String,
    pub fields: Vec<FieldView>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How the failure should be handled, when it failed (`vigil run` backs off on retryable ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// The change puts back what someone changed in AWS; git did not change.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drift: bool,
}

impl Change {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// A field diff as reports show it; unknown values are flagged, not embedded.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldView {
    pub path: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub known_after_apply: bool,
    /// Computed by the kind's `explain` (such as a change set's resource changes), not by the diff.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub explained: bool,
}

impl FieldView {
    /// A field that the kind's `explain` reported.
    pub fn explained(d: FieldDiff) -> Self {
        FieldView {
            explained: true,
            ..FieldView::from(d)
        }
    }
}

impl From<FieldDiff> for FieldView {
    fn from(d: FieldDiff) -> Self {
        let known_after_apply = d.to_unknown();
        FieldView {
            path: d.path,
            from: d.from.map(|v| crate::diff::canonical(&v)),
            to: d.to.map(|v| scrub(&crate::diff::canonical(&v))),
            known_after_apply,
            explained: false,
        }
    }
}

/// Replaces the internal unknown marker with readable text.
fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains(UNKNOWN) => Value::String(UNKNOWN_TEXT.to_string()),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        other => other.clone(),
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Resources a safety rule would not touch (not owned, or another owner's).
    pub refused: usize,
}

/// Something worth telling that is neither a change nor an error.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub kind: String,
    pub name: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    pub changes: Vec<Change>,
    pub summary: Summary,
    pub notes: Vec<Note>,
    pub errors: Vec<Failure>,
    pub api_calls: ApiCalls,
}

impl Report {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn failed(&self) -> bool {
        self.summary.failed > 0 || self.changes.iter().any(|c| c.status == Status::Failed)
    }

    pub fn refused(&self) -> bool {
        self.summary.refused > 0
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
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
                c.id(),
                c.action.word(),
                status
            );
            for f in &c.fields {
                // A create lists only what cannot be known yet and what the kind
                // explained (a stack's resources); the rest is the manifest.
                if c.action == Action::Create && !f.known_after_apply && !f.explained {
                    continue;
                }
                if c.action == Action::Delete {
                    continue;
                }
                write_field(&mut out, f, c.action);
            }
            if let Some(e) = &c.error {
                let _ = writeln!(out, "    error: {e}");
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "! {}/{}: {}", n.kind, n.name, n.message);
        }
        for e in &self.errors {
            let _ = writeln!(out, "x {}/{}: {}", e.kind, e.name, e.message);
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
        if s.refused > 0 {
            let _ = write!(out, " {} refused.", s.refused);
        }
        out.push('\n');
        out
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
            if s.failed > 0 {
                format!(", {} failed", s.failed)
            } else {
                String::new()
            }
        );
        if self.changes.is_empty() && self.errors.is_empty() {
            out.push_str("No changes. AWS matches `desired-state/`.\n");
        }
        if !self.changes.is_empty() {
            out.push_str("| | Resource | Action |\n|---|---|---|\n");
            for c in &self.changes {
                let icon = match (c.status, c.action) {
                    (Status::Failed, _) => "❌",
                    (_, Action::Create) => "➕",
                    (_, Action::Update) => "🔄",
                    (_, Action::Adopt) => "📥",
                    (_, Action::Delete) => "🗑️",
                };
                let _ = writeln!(out, "| {icon} | `{}` | {} |", c.id(), c.action.word());
            }
            out.push('\n');
        }
        for c in self
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Update | Action::Adopt) || c.error.is_some())
        {
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code> {}</summary>\n\n```diff",
                c.id(),
                c.action.word()
            );
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
                    let _ = writeln!(out, "{marker}{t}");
                }
            }
            if let Some(e) = &c.error {
                let _ = writeln!(out, "- error: {e}");
            }
            out.push_str("```\n</details>\n\n");
        }
        for n in &self.notes {
            let _ = writeln!(out, "> **{}/{}**: {}", n.kind, n.name, n.message);
        }
        for e in &self.errors {
            let _ = writeln!(out, "> ❌ **{}/{}**: {}", e.kind, e.name, e.message);
        }
        out
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

fn write_field(out: &mut String, f: &FieldView, action: Action) {
    let from = inline(f.from.as_ref(), false);
    let to = inline(f.to.as_ref(), f.known_after_apply);
    match (from, to) {
        (_, Some(t)) if action == Action::Create => {
            let _ = writeln!(out, "    {}: {t}", f.path);
        }
        (Some(a), Some(b)) => {
            let _ = writeln!(out, "    {}: {a} -> {b}", f.path);
        }
        _ => {
            let _ = writeln!(out, "    {}:", f.path);
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
                    let _ = write!(out, "      {sign} {change}");
                    if change.missing_newline() {
                        out.push('\n');
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Report {
        Report {
            dry_run: true,
            changes: vec![
                Change {
                    action: Action::Create,
                    kind: "Topic".into(),
                    name: "monitoring-lab-alerts".into(),
                    fields: vec![],
                    status: Status::Planned,
                    error: None,
                    error_class: None,
                    drift: false,
                },
                Change {
                    action: Action::Update,
                    kind: "MetricAlarm".into(),
                    name: "HighCPUUtilization".into(),
                    fields: vec![
                        FieldDiff {
                            path: "threshold".into(),
                            from: Some(json!(80)),
                            to: Some(json!(85)),
                        }
                        .into(),
                        FieldDiff {
                            path: "alarmActions[0]".into(),
                            from: Some(json!("arn:old")),
                            to: Some(json!(UNKNOWN)),
                        }
                        .into(),
                    ],
                    status: Status::Planned,
                    error: None,
                    error_class: None,
                    drift: false,
                },
                Change {
                    action: Action::Delete,
                    kind: "Dashboard".into(),
                    name: "old-dashboard".into(),
                    fields: vec![],
                    status: Status::Planned,
                    error: None,
                    error_class: None,
                    drift: false,
                },
            ],
            summary: Summary {
                create: 1,
                update: 1,
                delete: 1,
                unchanged: 14,
                ..Summary::default()
            },
            notes: vec![],
            errors: vec![],
            api_calls: ApiCalls::default(),
        }
    }

    #[test]
    fn text_matches_the_documented_layout() {
        let expected = "\
+ Topic/monitoring-lab-alerts                 create
~ MetricAlarm/HighCPUUtilization              update
    threshold: 80 -> 85
    alarmActions[0]: \"arn:old\" -> (known after apply)
- Dashboard/old-dashboard                     delete
Plan: 1 to create, 1 to update, 1 to delete, 14 unchanged.
";
        assert_eq!(report().to_text(), expected);
    }

    #[test]
    fn json_flags_unknowns_without_leaking_the_marker() {
        let j = report().to_json();
        assert!(!j.contains(UNKNOWN));
        let v: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["changes"][1]["fields"][1]["knownAfterApply"], json!(true));
        assert_eq!(v["summary"]["unchanged"], json!(14));
    }

    #[test]
    fn documents_get_a_line_diff() {
        let f: FieldView = FieldDiff {
            path: "body".into(),
            from: Some(json!({"widgets": [{"type": "text", "width": 6, "properties": {"markdown": "a long enough body"}}]})),
            to: Some(json!({"widgets": [{"type": "text", "width": 12, "properties": {"markdown": "a long enough body"}}]})),
        }
        .into();
        let mut out = String::new();
        write_field(&mut out, &f, Action::Update);
        assert!(out.contains("-       \"width\": 6"), "{out}");
        assert!(out.contains("+       \"width\": 12"), "{out}");
    }

    #[test]
    fn markdown_has_a_table() {
        let md = report().to_markdown();
        assert!(md.contains("| ➕ | `Topic/monitoring-lab-alerts` | create |"));
        assert!(md.contains("```diff"));
    }
}
