//! AlarmMuteRule against moto, which does not serve the mute-rule API
//! (Put/Get/List/DeleteAlarmMuteRule): vigil must say so plainly, once, without
//! retrying, and apply every other kind of the lab, the alarms the rule names
//! included. The kind's own behaviour (plan, apply, a clean second run, import,
//! delete, not-found, pagination) is proven on replayed responses in
//! `src/kinds/alarm_mute_rule/{replay.rs,tests.rs}`.

use serde_json::Value;

use crate::harness::{Lab, writes};
use crate::lab::lab_with_unique_bucket;

const NOT_SERVED: &str = "cloudwatch ListAlarmMuteRules: the endpoint does not implement this API";

/// The mute rule's error: one, `unsupported`, from the list call; every other
/// error is another kind the emulator lacks, and no change failed.
fn mute_rule_unserved(report: &Value) {
    let errors = report["errors"].as_array().unwrap();
    for e in errors {
        assert_eq!(e["class"], "unsupported", "{e:#}");
    }
    let mute: Vec<&Value> = errors
        .iter()
        .filter(|e| e["kind"] == "AlarmMuteRule")
        .collect();
    assert_eq!(mute.len(), 1, "{report:#}");
    let message = mute[0]["message"].as_str().unwrap();
    assert!(message.starts_with(NOT_SERVED), "{message}");
    for c in report["changes"].as_array().unwrap() {
        assert_ne!(c["status"], "failed", "{c:#}");
    }
    // One attempt (the call log counts every attempt): no retry, and no
    // GetAlarmMuteRule or PutAlarmMuteRule after the failed list.
    let cw = &report["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(cw["ListAlarmMuteRules"], 1, "{report:#}");
    assert!(cw.get("GetAlarmMuteRule").is_none(), "{report:#}");
    assert!(cw.get("PutAlarmMuteRule").is_none(), "{report:#}");
}

#[tokio::test]
async fn emulator_without_mute_rules_reports_them_unsupported_and_the_lab_still_applies() {
    let lab = Lab::new().await;
    lab_with_unique_bucket(&lab);
    assert!(lab.dir().join("alarms/maintenance-window.yaml").exists());
    lab.vigil(&["validate", "{dir}", "--offline"])
        .expect_code(0);

    let (run, plan) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(1);
    mute_rule_unserved(&plan);
    assert_eq!(plan["summary"]["create"], 18, "{plan:#}");
    assert_eq!(writes(&plan), 0);

    let (run, applied) = lab.reconcile_json(&[]);
    run.expect_code(1);
    mute_rule_unserved(&applied);
    assert_eq!(applied["summary"]["create"], 18, "{applied:#}");

    let (run, again) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(1);
    mute_rule_unserved(&again);
    assert_eq!(again["summary"]["create"], 0, "{again:#}");
    assert_eq!(again["summary"]["update"], 0, "{again:#}");
    assert_eq!(writes(&again), 0);

    // The alarms the rule would mute were created all the same.
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let alarms = cw
        .describe_alarms()
        .alarm_names("HighCPUUtilization")
        .alarm_names("HighMemoryUtilization")
        .alarm_names("HighResponseTime")
        .alarm_names("HighErrorRate")
        .send()
        .await
        .unwrap();
    assert_eq!(alarms.metric_alarms().len(), 4);

    // The text summary counts it as the endpoint's limit, in one plain line.
    let run = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(NOT_SERVED) || run.stdout.contains(NOT_SERVED),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}
