//! Unit tests of the dashboard kind: pure normalize and diff, and mocked AWS calls.

use super::*;

#[test]
fn bodies_compare_by_meaning() {
    let env = Env::default();
    let desired = Dashboard::normalize(
        &Spec {
            body: Some(
                json!({"widgets": [{"type": "text", "x": 0, "width": 6, "properties": {"markdown": "hi"}}]}),
            ),
            body_file: None,
        },
        &env,
    );
    // AWS returns the same JSON with other key order and float numbers.
    let live: Value = serde_json::from_str(
        r#"{"widgets":[{"properties":{"markdown":"hi"},"width":6.0,"x":0,"type":"text"}]}"#,
    )
    .unwrap();
    let live = Dashboard::live_state(
        &Live {
            arn: String::new(),
            body: live,
        },
        &env,
    );
    assert!(Dashboard::diff(&desired, &live).is_empty());
}

#[test]
fn a_changed_widget_is_one_document_diff() {
    let env = Env::default();
    let d = Dashboard::normalize(
        &Spec {
            body: Some(json!({"widgets": [{"type": "text", "width": 6}]})),
            body_file: None,
        },
        &env,
    );
    let l = Dashboard::live_state(
        &Live {
            arn: String::new(),
            body: json!({"widgets": [{"type": "text", "width": 12}]}),
        },
        &env,
    );
    let diffs = Dashboard::diff(&d, &l);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].path, "body");
}

#[test]
fn body_checks() {
    let mut i = Issues::default();
    check_body(
        &json!({"widgets": [{"type": "chart", "width": 30}]}),
        &mut i,
    );
    let msgs: Vec<_> = i.0.iter().map(|(_, m)| m.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("unknown widget type")));
    assert!(msgs.iter().any(|m| m.contains("between 1 and 24")));
}
