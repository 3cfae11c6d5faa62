//! Unit tests for `crate::controller::worker`, in their own file so `worker.rs` reads as production code.

use super::*;
use crate::aws::ApiCalls;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static RELEASE: AtomicBool = AtomicBool::new(false);
static LOADS: AtomicUsize = AtomicUsize::new(0);

/// Hangs until the test releases it.
fn hanging_load(_: &std::path::Path) -> Result<Manifests, manifest::ValidationErrors> {
    LOADS.fetch_add(1, Ordering::SeqCst);
    while !RELEASE.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(manifest::ValidationErrors(vec![]))
}

#[tokio::test(start_paused = true)]
async fn a_load_that_hangs_is_reported_and_awaited_not_started_again() {
    let tmp = tempfile::tempdir().unwrap();
    let loader = Loader {
        state: Default::default(),
        read: hanging_load,
    };
    for _ in 0..2 {
        let loaded = loader.load(tmp.path()).await;
        let errors = loaded.as_ref().as_ref().unwrap_err();
        let d = &errors.0[0];
        assert!(d.is_unreadable(), "{d}");
        assert!(
            d.message
                .starts_with("loading it did not finish within 30s"),
            "{d}"
        );
    }
    RELEASE.store(true, Ordering::SeqCst);
    tokio::time::resume();
    let loaded = loader.load(tmp.path()).await;
    assert!(loaded.as_ref().as_ref().unwrap_err().0.is_empty());
    assert_eq!(LOADS.load(Ordering::SeqCst), 1);
}

#[test]
fn retryable_failures_decide_the_outcome() {
    assert_eq!(outcome_of(&[]), Outcome::Success);
    let t = outcome_of(&[
        (ErrorClass::AccessDenied, "a".into()),
        (ErrorClass::Throttled, "b".into()),
    ]);
    assert_eq!(t, Outcome::Transient("b (and 1 more)".into()));
    assert_eq!(
        outcome_of(&[(ErrorClass::Unsupported, "x".into())]),
        Outcome::Terminal("x".into())
    );
}

fn change(action: ChangeAction, name: &str, status: ChangeStatus) -> Change {
    Change {
        action,
        kind: "MetricAlarm".into(),
        name: name.into(),
        fields: vec![crate::engine::report::FieldView {
            path: "threshold".into(),
            from: Some(json!(95)),
            to: Some(json!(80)),
            known_after_apply: false,
            explained: false,
        }],
        status,
        error: None,
        error_class: None,
        drift: false,
    }
}

#[test]
fn an_apply_report_becomes_drift_errors_and_an_outcome() {
    let mut corrected = change(ChangeAction::Update, "cpu", ChangeStatus::Applied);
    corrected.drift = true;
    let mut missing = change(ChangeAction::Create, "mem", ChangeStatus::Applied);
    missing.drift = true;
    let mut throttled = change(ChangeAction::Update, "latency", ChangeStatus::Failed);
    throttled.error = Some("CloudWatch PutMetricAlarm: Throttling: Rate exceeded".into());
    throttled.error_class = Some(ErrorClass::Throttled);
    let note = |kind: &str, code, message: &str| {
        let mut n = crate::engine::report::Note::new(kind, "n", code, message);
        if code == NoteCode::DriftWarned {
            n.fields = vec![crate::engine::report::FieldView {
                path: "threshold".into(),
                from: Some(json!(80)),
                to: Some(json!(95)),
                known_after_apply: false,
                explained: false,
            }];
        }
        n
    };
    let report = Report {
        dry_run: false,
        changes: vec![
            corrected,
            missing,
            throttled,
            change(ChangeAction::Update, "git", ChangeStatus::Applied),
        ],
        summary: Summary::default(),
        notes: vec![
            note(
                "Topic",
                NoteCode::PendingConfirmation,
                "subscription email:a@example.com is pending confirmation",
            ),
            note(
                "Topic",
                NoteCode::PendingConfirmation,
                "subscription email:b@example.com is pending confirmation",
            ),
            note(
                "MetricAlarm",
                NoteCode::DriftWarned,
                "drifted (threshold); not corrected because vigil/drift is warn",
            ),
        ],
        errors: vec![],
        api_calls: ApiCalls::default(),
    };
    let mut rec = Record::new();
    read_report(&mut rec, report);
    let drift: Vec<_> = rec
        .drift
        .iter()
        .map(|d| (d.name.as_str(), d.state.as_str(), d.corrected))
        .collect();
    assert_eq!(
        drift,
        vec![
            ("cpu", "drifted", true),
            ("mem", "missing", true),
            ("n", "drifted", false)
        ]
    );
    // Drift reads from what was applied to what is live: the reverse of the change.
    assert_eq!(rec.drift[0].fields[0].from, Some(json!(80)));
    // A drift left alone says how, too (a notification names the fields).
    assert_eq!(rec.drift[2].fields[0].to, Some(json!(95)));
    assert_eq!(rec.pending_subscriptions, Some(2));
    assert_eq!(rec.errors[0].class.as_str(), "throttled");
    assert!(matches!(rec.outcome, Outcome::Transient(ref m) if m.contains("MetricAlarm/latency")));
}

#[test]
fn settings_name_the_lease_and_the_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = |extra: &str| {
        std::fs::write(
            tmp.path().join("settings.yaml"),
            format!(
                "apiVersion: vigil/v1\nkind: Settings\nmetadata: {{name: default}}\nspec:\n{extra}"
            ),
        )
        .unwrap();
        manifest::load(tmp.path())
    };
    let m = settings(
        "  lease: {s3: {bucket: state, key: vigil/lease.json}}\n  notifications: {topicArn: arn:aws:sns:us-east-1:123456789012:ops}\n",
    )
    .unwrap();
    assert_eq!(
        m.settings.lease,
        Some(Location::S3 {
            bucket: "state".into(),
            key: "vigil/lease.json".into()
        })
    );
    assert_eq!(
        m.settings.notifications.unwrap().topic_arn,
        "arn:aws:sns:us-east-1:123456789012:ops"
    );
    let err = settings("  notifications: {topicArn: ops-topic}\n").unwrap_err();
    assert!(err.to_string().contains("settings.yaml:5:29"), "{err}");
    assert!(err.to_string().contains("SNS topic ARN"), "{err}");
}
