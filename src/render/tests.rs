//! Unit tests for `crate::render`, in their own file so `render.rs` reads as production code.

use super::*;
use crate::aws::ApiCalls;
use crate::diff::FieldDiff;
use crate::engine::report::{Change, Note, NoteCode, Summary};
use crate::refs::UNKNOWN;
use serde_json::json;

fn report() -> Report {
    Report {
        dry_run: true,
        changes: vec![
            Change {
                action: ChangeAction::Create,
                kind: "Topic".into(),
                name: "monitoring-lab-alerts".into(),
                fields: vec![],
                status: Status::Planned,
                error: None,
                error_class: None,
                drift: false,
            },
            Change {
                action: ChangeAction::Update,
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
                action: ChangeAction::Delete,
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
    write_field(&mut out, &f, ChangeAction::Update);
    assert!(out.contains("-       \"width\": 6"), "{out}");
    assert!(out.contains("+       \"width\": 12"), "{out}");
}

/// Names as AWS may return them (a deleted dashboard's, an error's): with
/// newlines, markup, backticks and pipes.
#[test]
fn hostile_names_keep_the_markdown_and_text_structure() {
    let evil = "a\n\n</details>`x` | <b>\u{1b}[2J";
    let mut r = report();
    for c in &mut r.changes {
        c.name = evil.into();
    }
    r.changes[1].error = Some(format!("failed: {evil}"));
    r.notes
        .push(Note::new("Dashboard", evil, NoteCode::Observed, evil));
    let md = r.to_markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(md.matches("<details>").count(), 1, "{md}");
    assert!(
        md.contains("<code>MetricAlarm/a\\n\\n&lt;/details&gt;`x` | &lt;b&gt;\\u{1b}[2J</code>"),
        "{md}"
    );
    assert!(
        md.contains("| ➕ | ``Topic/a\\n\\n</details>`x` \\| <b>\\u{1b}[2J`` | create |"),
        "{md}"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "</details>").count(),
        1,
        "{md}"
    );
    assert!(
        md.contains("> **Dashboard/a\\\\n\\\\n\\</details\\>\\`x\\` \\| \\<b\\>"),
        "{md}"
    );
    assert!(!md.contains('\u{1b}'), "{md}");
    let text = r.to_text();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert_eq!(
        text.lines().count(),
        8,
        "one line each, none injected:\n{text}"
    );
    assert!(
        text.contains("- Dashboard/a\\n\\n</details>`x` | <b>\\u{1b}[2J"),
        "{text}"
    );
}

#[test]
fn markdown_has_a_table() {
    let md = report().to_markdown();
    assert!(md.contains("| ➕ | `Topic/monitoring-lab-alerts` | create |"));
    assert!(md.contains("```diff"));
}
