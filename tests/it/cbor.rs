//! CloudWatch speaks Smithy RPC v2 CBOR: its errors, as moto serves them (and as
//! the quota proxy sends them in AWS's shape), reach the user classified and
//! named by their code, with the right exit code.

use serde_json::Value;

use crate::harness::{Lab, Run};
use crate::proxy::{Proxy, ProxyConfig};

fn alarm(name: &str, statistic: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {name}\nspec:\n  \
         namespace: Cbor/App\n  metricName: Latency\n  {statistic}\n  period: 60\n  \
         evaluationPeriods: 1\n  threshold: 100\n  comparisonOperator: GreaterThanThreshold\n"
    )
}

const DASHBOARD: &str = "apiVersion: vigil/v1\nkind: Dashboard\nmetadata:\n  name: cbor-board\nspec:\n  \
    body:\n    widgets:\n      - type: text\n        x: 0\n        y: 0\n        width: 6\n        height: 3\n        \
    properties:\n          markdown: hello\n";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    })
}

/// The failed change of `id` (`Kind/name`) in a report: its error class and message.
fn failure<'r>(report: &'r Value, id: &str) -> (&'r str, &'r str) {
    let c = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| {
            format!(
                "{}/{}",
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            ) == id
        })
        .unwrap_or_else(|| panic!("no change for {id}: {report:#}"));
    assert_eq!(c["status"], "failed", "{c:#}");
    (
        c["errorClass"].as_str().expect("errorClass"),
        c["error"].as_str().expect("error"),
    )
}

/// moto answers PutMetricAlarm with a trimmed-mean statistic (which AWS and vigil
/// accept) with InvalidParameterValue, in CBOR: a terminal failure of that alarm
/// alone, named by its code and message, exit 1; the other alarm is created.
#[tokio::test]
async fn an_alarm_cloudwatch_rejects_over_cbor_fails_naming_the_code() {
    let lab = Lab::new().await;
    lab.write(
        "alarms/trimmed.yaml",
        &alarm("trimmed", "extendedStatistic: tm90"),
    );
    lab.write("alarms/plain.yaml", &alarm("plain", "statistic: Average"));

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(1);
    let (class, message) = failure(&report, "MetricAlarm/trimmed");
    assert_eq!(class, "terminal", "{message}");
    assert_eq!(
        message,
        "cloudwatch PutMetricAlarm: InvalidParameterValue: \
         The value tm90 for parameter ExtendedStatistic is not supported."
    );
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    assert_eq!(report["summary"]["create"], 2, "{report:#}");

    // The text output names the failed alarm, the call and the code.
    let text = lab.vigil(&["reconcile", "{dir}"]);
    text.expect_code(1);
    let out = format!("{}{}", text.stdout, text.stderr);
    assert!(
        out.contains("MetricAlarm/trimmed")
            && out.contains("cloudwatch PutMetricAlarm: InvalidParameterValue"),
        "{out}"
    );

    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let live = cw.describe_alarms().send().await.unwrap();
    let names: Vec<_> = live
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    assert_eq!(names, ["plain"]);
}

/// PutDashboard refused in CBOR (AccessDenied, as AWS sends it: the namespaced
/// `__type` and the awsQuery code in `x-amzn-query-error`): class accessDenied,
/// not retried, the code in the message, exit 1.
#[tokio::test]
async fn a_dashboard_denied_over_cbor_is_access_denied_and_not_retried() {
    let lab = Lab::new().await;
    lab.write("dashboards/board.yaml", DASHBOARD);
    let proxy = Proxy::spawn(
        &lab.endpoint,
        ProxyConfig::default().deny("cloudwatch", "PutDashboard"),
    );
    let (mut cmd, args) = lab.command(&["reconcile", "{dir}", "--output", "json"]);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let run = Run::from(cmd.output().expect("run vigil"), args);
    run.expect_code(1);
    let report = json(&run);
    let (class, message) = failure(&report, "Dashboard/cbor-board");
    assert_eq!(class, "accessDenied", "{message}");
    assert!(
        message.contains("cloudwatch PutDashboard: AccessDenied: User:")
            && message.contains("is not authorized to perform: cloudwatch:PutDashboard"),
        "{message}"
    );
    assert_eq!(proxy.stats().op("cloudwatch", "PutDashboard").denied, 1);
}

/// A throttle in CBOR is seen as one (counted, retried, paced) and, past the
/// deadline, reported as class throttled naming the call.
#[tokio::test]
async fn a_dashboard_throttled_over_cbor_is_retried_then_reported_throttled() {
    let lab = Lab::new().await;
    lab.write("dashboards/board.yaml", DASHBOARD);
    let proxy = Proxy::spawn(
        &lab.endpoint,
        ProxyConfig::default().always_throttle("cloudwatch", "PutDashboard"),
    );
    let (mut cmd, args) = lab.command(&[
        "reconcile",
        "{dir}",
        "--output",
        "json",
        "--deadline",
        "10s",
    ]);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let run = Run::from(cmd.output().expect("run vigil"), args);
    run.expect_code(1);
    let report = json(&run);
    let (class, message) = failure(&report, "Dashboard/cbor-board");
    assert_eq!(class, "throttled", "{message}");
    assert_eq!(
        message,
        "cloudwatch PutDashboard: Throttling: Rate exceeded"
    );
    let throttled = proxy.stats().op("cloudwatch", "PutDashboard").throttled();
    assert!(throttled >= 2, "retried: {throttled}");
    assert_eq!(
        report["apiCalls"]["throttles"]["CloudWatch"]["PutDashboard"]
            .as_u64()
            .unwrap_or(0),
        throttled,
        "{report:#}"
    );
}
