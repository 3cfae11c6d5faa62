//! Unit tests for `crate::controller::status`, in their own file so `status.rs` reads as production code.

use super::*;
use std::collections::BTreeSet;

#[test]
fn labels_are_written_as_their_serialized_names() {
    for c in ErrorClass::ALL {
        assert_eq!(serde_json::json!(c), ErrorLabel::Aws(c).as_str());
        assert_eq!(serde_json::json!(ErrorLabel::Aws(c)), c.as_str());
    }
    for m in [Mode::Apply, Mode::ReadOnly, Mode::Standby] {
        assert_eq!(serde_json::json!(m), m.as_str());
    }
    for d in [DriftState::Drifted, DriftState::Missing] {
        assert_eq!(serde_json::json!(d), d.as_str());
    }
}

#[test]
fn metrics_are_valid_text_format() {
    let shared = Shared::new("desired-state");
    shared.update(|s| {
        s.ready = true;
        s.revision.applied = Some("a".repeat(40));
        s.revision.attempted = Some("b\"\\\n".into());
        s.durations.observe(0.3);
        s.durations.observe(12.0);
        *s.outcomes.entry("success").or_default() += 2;
        s.drift_by_kind.insert("MetricAlarm".into(), 1);
        s.pending_subscriptions = Some(3);
        s.last_success_unix = Some(1_700_000_000.5);
    });
    let mut calls = ApiCalls {
        total: 3,
        reads: 1,
        writes: 2,
        ..ApiCalls::default()
    };
    calls
        .by_service
        .entry("CloudWatch".into())
        .or_default()
        .insert("PutMetricAlarm".into(), 2);
    calls
        .throttles
        .entry("CloudWatch".into())
        .or_default()
        .insert("DescribeAlarms".into(), 1);
    let text = render_metrics(&shared.snapshot(), None, &calls);
    assert!(text.contains("vigil_ready 1\n"));
    assert!(text.contains("vigil_reconcile_total{outcome=\"success\"} 2\n"));
    assert!(text.contains("vigil_reconcile_total{outcome=\"terminal\"} 0\n"));
    assert!(
        text.contains("vigil_reconcile_duration_seconds_bucket{le=\"0.5\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("vigil_reconcile_duration_seconds_bucket{le=\"10.0\"} 1\n"));
    assert!(text.contains("vigil_reconcile_duration_seconds_bucket{le=\"30.0\"} 2\n"));
    assert!(text.contains("vigil_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert!(text.contains("vigil_reconcile_duration_seconds_count 2\n"));
    assert!(text.contains("vigil_reconcile_duration_seconds_sum 12.3\n"));
    assert!(text.contains("vigil_drift_resources{kind=\"MetricAlarm\"} 1\n"));
    assert!(text.contains("vigil_drift_resources{kind=\"Dashboard\"} 0\n"));
    assert!(text.contains(
        "vigil_aws_api_calls_total{service=\"CloudWatch\",operation=\"PutMetricAlarm\"} 2\n"
    ));
    assert!(text.contains(
        "vigil_aws_api_throttles_total{service=\"CloudWatch\",operation=\"DescribeAlarms\"} 1\n"
    ));
    assert!(text.contains("vigil_aws_api_writes_total 2\n"));
    assert!(text.contains("vigil_sns_pending_subscriptions 3\n"));
    assert!(text.contains("vigil_last_success_timestamp_seconds 1700000000.5\n"));
    assert!(text.contains("vigil_leader 0\n"));
    assert!(text.contains("vigil_lease_fencing_token 0\n"));
    // Label values are escaped.
    assert!(
        text.contains(&format!(
            "vigil_revision_info{{applied=\"{}\",attempted=\"b\\\"\\\\\\n\"}} 1\n",
            "a".repeat(40)
        )),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    // Every name the README lists is a sample name here.
    let samples: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    for name in [
        "vigil_reconcile_total",
        "vigil_reconcile_duration_seconds_bucket",
        "vigil_reconcile_duration_seconds_sum",
        "vigil_reconcile_duration_seconds_count",
        "vigil_drift_resources",
        "vigil_aws_api_calls_total",
        "vigil_aws_api_throttles_total",
        "vigil_aws_api_writes_total",
        "vigil_sns_pending_subscriptions",
        "vigil_last_success_timestamp_seconds",
        "vigil_leader",
        "vigil_lease_fencing_token",
        "vigil_revision_info",
    ] {
        assert!(samples.contains(name), "{name} missing from\n{text}");
    }
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        assert!(name.starts_with("vigil_"), "{line}");
    }
    // Each family has one HELP and one TYPE line.
    let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
    assert_eq!(types, helps);
    let families: BTreeSet<_> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(families.len(), types, "{text}");
    // Through `Shared`: the same text from the live snapshot.
    assert!(shared.metrics_text().contains("vigil_ready 1\n"));
}

#[test]
fn an_extra_per_operation_counter_renders_with_unit_and_total() {
    let mut waits: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    waits
        .entry("CloudWatch".into())
        .or_default()
        .insert("PutMetricAlarm".into(), 1.5);
    waits
        .entry("SNS".into())
        .or_default()
        .insert("Subscribe".into(), 0.25);
    let mut reg = Registry::with_prefix("vigil");
    register_operation_counter(
        &mut reg,
        "aws_quota_wait",
        "Seconds spent waiting for AWS quota, by service and operation",
        Some(Unit::Seconds),
        &waits,
    );
    let mut text = String::new();
    encode(&mut text, &reg).unwrap();
    assert!(
        text.contains("# TYPE vigil_aws_quota_wait_seconds counter\n"),
        "{text}"
    );
    assert!(text.contains(
        "vigil_aws_quota_wait_seconds_total{service=\"CloudWatch\",operation=\"PutMetricAlarm\"} 1.5\n"
    ), "{text}");
    assert!(
        text.contains(
            "vigil_aws_quota_wait_seconds_total{service=\"SNS\",operation=\"Subscribe\"} 0.25\n"
        ),
        "{text}"
    );

    let mut reg = Registry::with_prefix("vigil");
    register_operation_counter(&mut reg, "aws_retries", "Retries", None, &waits);
    let mut text = String::new();
    encode(&mut text, &reg).unwrap();
    assert!(
        text.contains("vigil_aws_retries_total{service=\"SNS\",operation=\"Subscribe\"} 0.25\n"),
        "{text}"
    );
}

#[test]
fn status_says_why_a_replica_is_read_only() {
    let shared = Shared::new("desired-state");
    let at = crate::state::Location::File(".vigil/inventory-1-r.json.lease".into());
    let fence = super::super::lease::Fence::read_only(&at, "pod/1/ab", "read-only: because");
    shared.set_lease(Some(fence));
    let v: serde_json::Value = serde_json::from_str(&shared.status_json()).unwrap();
    assert_eq!(v["leader"], false);
    assert_eq!(v["lease"]["readOnlyReason"], "read-only: because");
    assert_eq!(v["lease"]["location"], ".vigil/inventory-1-r.json.lease");
    assert!(shared.metrics_text().contains("vigil_leader 0\n"));
}

#[test]
fn call_deltas_subtract_per_operation() {
    let cloudwatch = |ops: &[(&str, u64)]| {
        std::collections::BTreeMap::from([(
            "CloudWatch".to_string(),
            ops.iter().map(|(op, n)| (op.to_string(), *n)).collect(),
        )])
    };
    let a = ApiCalls {
        total: 5,
        reads: 4,
        writes: 1,
        by_service: cloudwatch(&[("DescribeAlarms", 4), ("PutMetricAlarm", 1)]),
        ..ApiCalls::default()
    };
    let b = ApiCalls {
        total: 2,
        reads: 2,
        by_service: cloudwatch(&[("DescribeAlarms", 2)]),
        ..ApiCalls::default()
    };
    let d = delta(&a, &b);
    assert_eq!((d.total, d.reads, d.writes), (3, 2, 1));
    assert_eq!(d.by_service["CloudWatch"]["DescribeAlarms"], 2);
}
