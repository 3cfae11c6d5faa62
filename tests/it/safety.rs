//! Ownership, drift versus pending change, guarded prune, adoption, import and destroy.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use serde_json::Value;

use crate::harness::{Lab, changes, writes};

fn alarm(name: &str, threshold: u32, annotations: &str) -> String {
    format!(
        "---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {name}\n{annotations}spec:\n  namespace: Lab/App\n  metricName: Latency\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: {threshold}\n  comparisonOperator: GreaterThanThreshold\n"
    )
}

const SETTINGS: &str = "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: us-east-1\n  owner: safety-test\n  maxDeletions: 10\n";

async fn put_alarm(lab: &Lab, name: &str, threshold: f64) {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("Lab/App")
        .metric_name("Latency")
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(threshold)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
}

async fn alarm_names(lab: &Lab) -> Vec<String> {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let mut names: Vec<String> = cw
        .describe_alarms()
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn calls(report: &Value, op: &str) -> u64 {
    report["apiCalls"]["byService"]["CloudWatch"][op]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn drift_is_reported_apart_from_pending_changes() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.reconcile_json(&[]).0.expect_code(0);
    let clean = lab.vigil(&["drift", "{dir}"]);
    clean.expect_code(0);
    assert!(
        clean
            .stdout
            .contains("Drift: 0 drifted, 0 missing, 0 pending, 0 unmanaged."),
        "{}",
        clean.stdout
    );

    // Someone raises a threshold in AWS; git changes another alarm.
    lab.set_cpu_threshold_out_of_band(95.0).await;
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let path = lab.dir().join("alarms/lab-alarms.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("threshold: 3\n", "threshold: 5\n");
    std::fs::write(&path, text).unwrap();

    let run = lab.vigil(&["drift", "{dir}", "--output", "json"]);
    run.expect_code(3);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let drifted = report["drifted"].as_array().unwrap();
    assert_eq!(drifted.len(), 1, "{report:#}");
    assert_eq!(drifted[0]["name"], "HighCPUUtilization");
    assert_eq!(drifted[0]["fields"][0]["path"], "threshold");
    assert_eq!(drifted[0]["fields"][0]["from"], 80);
    assert_eq!(drifted[0]["fields"][0]["to"], 95);
    let pending = report["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{report:#}");
    assert_eq!(pending[0]["name"], "HighErrorRate");
    assert_eq!(pending[0]["fields"][0]["path"], "threshold");
    assert_eq!(report["summary"]["drifted"], 1);
    assert_eq!(writes(&report), 0);

    // An owned resource deleted out of band is "missing".
    cw.delete_dashboards()
        .dashboard_names("MonitoringLabDashboard")
        .send()
        .await
        .unwrap();
    let run = lab.vigil(&["drift", "{dir}", "--output", "json"]);
    run.expect_code(3);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["missing"][0]["name"], "MonitoringLabDashboard",
        "{report:#}"
    );
}

#[tokio::test]
async fn warn_mode_reports_drift_without_correcting_it() {
    let lab = Lab::new().await;
    lab.write("settings.yaml", SETTINGS);
    lab.write(
        "alarms.yaml",
        &(alarm("kept", 10, "  annotations:\n    vigil/drift: warn\n") + &alarm("fixed", 10, "")),
    );
    lab.reconcile_json(&[]).0.expect_code(0);
    put_alarm(&lab, "kept", 99.0).await;
    put_alarm(&lab, "fixed", 99.0).await;
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("update".to_string(), "MetricAlarm/fixed".to_string())]
    );
    assert!(
        report["notes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("vigil/drift is warn"),
        "{report:#}"
    );
    assert_eq!(calls(&report, "PutMetricAlarm"), 1);
}

#[tokio::test]
async fn prune_deletes_exactly_what_left_and_guards_refuse_with_no_writes() {
    let lab = Lab::new().await;
    lab.write("settings.yaml", SETTINGS);
    let many: String = (0..12)
        .map(|i| alarm(&format!("svc-{i:02}"), 10, ""))
        .collect();
    lab.write("alarms.yaml", &many);
    lab.reconcile_json(&[]).0.expect_code(0);
    // An unowned look-alike with the same prefix must never be touched.
    put_alarm(&lab, "svc-99-manual", 1.0).await;

    // One alarm leaves the directory: exactly that one is deleted.
    let fewer: String = (0..11)
        .map(|i| alarm(&format!("svc-{i:02}"), 10, ""))
        .collect();
    lab.write("alarms.yaml", &fewer);
    let (run, report) = lab.reconcile_json(&["--prune"]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("delete".to_string(), "MetricAlarm/svc-11".to_string())]
    );
    assert_eq!(calls(&report, "DeleteAlarms"), 1);
    assert!(
        alarm_names(&lab)
            .await
            .contains(&"svc-99-manual".to_string())
    );

    // Eleven deletions with maxDeletions 10: refused, nothing written.
    lab.write("alarms.yaml", &alarm("other", 10, ""));
    let (run, report) = lab.reconcile_json(&["--prune"]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("more than Settings.maxDeletions (10)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("  - MetricAlarm/svc-10"),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&report), 0, "{report:#}");

    // An empty directory (only Settings) with prune: refused.
    lab.remove("alarms.yaml");
    let (run, report) = lab.reconcile_json(&["--prune"]);
    run.expect_code(4);
    assert_eq!(writes(&report), 0);
    assert!(
        run.stderr.contains("declares no resources"),
        "{}",
        run.stderr
    );

    // Settings existed last time but are gone now: refused.
    lab.write("alarms.yaml", &alarm("svc-00", 10, ""));
    lab.remove("settings.yaml");
    let (run, report) = lab.reconcile_json(&["--prune"]);
    run.expect_code(4);
    assert_eq!(writes(&report), 0);
    assert!(
        run.stderr.contains("no Settings document"),
        "{}",
        run.stderr
    );
    assert_eq!(
        alarm_names(&lab).await.len(),
        12,
        "11 owned plus the look-alike"
    );
}

#[tokio::test]
async fn unowned_resources_are_refused_unless_adopted_and_foreign_ones_never() {
    let lab = Lab::new().await;
    lab.write("settings.yaml", SETTINGS);
    put_alarm(&lab, "legacy", 5.0).await;
    lab.write(
        "alarms.yaml",
        &(alarm("legacy", 7, "") + &alarm("fresh", 7, "")),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("vigil/adopt: \\\"true\\\"")
            || report["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("vigil/adopt: \"true\""),
        "{report:#}"
    );
    assert_eq!(
        changes(&report),
        vec![("create".to_string(), "MetricAlarm/fresh".to_string())]
    );
    assert_eq!(
        calls(&report, "PutMetricAlarm"),
        1,
        "the legacy alarm was not touched"
    );

    lab.write(
        "alarms.yaml",
        &(alarm("legacy", 7, "  annotations:\n    vigil/adopt: \"true\"\n")
            + &alarm("fresh", 7, "")),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("adopt".to_string(), "MetricAlarm/legacy".to_string())]
    );
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let arn = format!("arn:aws:cloudwatch:us-east-1:{}:alarm:legacy", lab.account);
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("safety-test")),
        "{tags:?}"
    );
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(writes(&report), 0);

    // Another owner's alarm is never taken over, even with adopt.
    put_alarm(&lab, "theirs", 1.0).await;
    let theirs = format!("arn:aws:cloudwatch:us-east-1:{}:alarm:theirs", lab.account);
    cw.tag_resource()
        .resource_arn(&theirs)
        .tags(
            aws_sdk_cloudwatch::types::Tag::builder()
                .key("vigil:owner")
                .value("other-team")
                .build(),
        )
        .send()
        .await
        .unwrap();
    lab.write(
        "theirs.yaml",
        &alarm("theirs", 2, "  annotations:\n    vigil/adopt: \"true\"\n"),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("other-team"),
        "{report:#}"
    );
    assert_eq!(calls(&report, "PutMetricAlarm"), 0);
}

#[tokio::test]
async fn import_round_trip_shows_zero_changes() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.reconcile_json(&[]).0.expect_code(0);
    let out = lab.tmp.path().join("imported");
    let run = lab.vigil(&["import", "--out", out.to_str().unwrap()]);
    run.expect_code(0);
    for kind in ["metricalarm", "topic", "dashboard"] {
        assert!(out.join(kind).is_dir(), "{kind} missing: {}", run.stdout);
    }
    let cpu = std::fs::read_to_string(out.join("metricalarm/HighCPUUtilization.yaml")).unwrap();
    assert!(cpu.contains("${Topic/monitoring-lab-alerts.arn}"), "{cpu}");
    assert!(
        !cpu.contains("vigil/adopt"),
        "owned resources need no adoption:\n{cpu}"
    );
    let run = lab.vigil(&[
        "reconcile",
        out.to_str().unwrap(),
        "--dry-run",
        "--detailed-exitcode",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(changes(&report).is_empty(), "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 6);
}

#[tokio::test]
async fn import_marks_resources_created_outside_vigil_for_adoption() {
    let lab = Lab::new().await;
    put_alarm(&lab, "made-by-script", 3.0).await;
    let out = lab.tmp.path().join("imported");
    lab.vigil(&[
        "import",
        "--out",
        out.to_str().unwrap(),
        "--kind",
        "MetricAlarm",
        "--prefix",
        "made-",
    ])
    .expect_code(0);
    let text = std::fs::read_to_string(out.join("metricalarm/made-by-script.yaml")).unwrap();
    assert!(text.contains("vigil/adopt: \"true\""), "{text}");
    let (run, report) = {
        let run = lab.vigil(&["reconcile", out.to_str().unwrap(), "--output", "json"]);
        let v: Value = serde_json::from_str(&run.stdout).unwrap();
        (run, v)
    };
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![(
            "adopt".to_string(),
            "MetricAlarm/made-by-script".to_string()
        )]
    );
    let run = lab.vigil(&[
        "reconcile",
        out.to_str().unwrap(),
        "--dry-run",
        "--detailed-exitcode",
    ]);
    run.expect_code(0);
}

#[tokio::test]
async fn destroy_leaves_only_retained_resources_and_repeats_as_a_no_op() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let dash = lab.dir().join("dashboards/monitoring-lab.yaml");
    let text = std::fs::read_to_string(&dash).unwrap().replace(
        "  name: MonitoringLabDashboard\n",
        "  name: MonitoringLabDashboard\n  annotations:\n    vigil/deletion-policy: retain\n",
    );
    std::fs::write(&dash, text).unwrap();
    lab.reconcile_json(&[]).0.expect_code(0);
    let run = lab.vigil(&["destroy", "{dir}"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("! Dashboard/MonitoringLabDashboard: retained"),
        "{}",
        run.stdout
    );
    // Every alarm goes before the topic it notifies.
    let topic = run
        .stdout
        .find("- Topic/monitoring-lab-alerts")
        .expect("topic deleted");
    for a in [
        "HighCPUUtilization",
        "HighMemoryUtilization",
        "HighResponseTime",
        "HighErrorRate",
    ] {
        let at = run
            .stdout
            .find(&format!("- MetricAlarm/{a}"))
            .expect("alarm deleted");
        assert!(at < topic, "{}", run.stdout);
    }
    assert!(alarm_names(&lab).await.is_empty());
    let sns = aws_sdk_sns::Client::new(&lab.sdk().await);
    assert!(sns.list_topics().send().await.unwrap().topics().is_empty());
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    assert_eq!(
        cw.list_dashboards()
            .send()
            .await
            .unwrap()
            .dashboard_entries()
            .len(),
        1,
        "the retained dashboard stays"
    );
    let again = lab.vigil(&["destroy", "{dir}"]);
    again.expect_code(0);
    assert!(!again.stdout.contains("- "), "{}", again.stdout);
}

#[tokio::test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
async fn sigkill_between_apply_and_inventory_write_converges() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    // Killed right after the first apply of the run ends, long before the final save.
    let killed = lab
        .kill_at(&["reconcile", "{dir}"], "after-apply:1")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(killed.signal, Some(9), "{killed:?}");
    assert_eq!(
        lab.inventory()["resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|e| e["state"] == "creating")
            .count(),
        6,
        "only the intents were saved: {:#}",
        lab.inventory()
    );
    // The two roots (dashboard and topic) were sent together; the dashboard, which
    // cannot carry an owner tag, exists, and only its intent says it is vigil's.
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cw
        .list_dashboards()
        .send()
        .await
        .unwrap()
        .dashboard_entries()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the dashboard was never created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        report["summary"]["refused"], 0,
        "the dashboard is known as ours: {report:#}"
    );
    // Steps run concurrently, so what the kill interrupted varies; every one of
    // the six declared resources ends applied exactly once.
    let s = &report["summary"];
    let total = ["create", "update", "unchanged"]
        .iter()
        .map(|k| s[*k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(total, 6, "{report:#}");
    assert_eq!(s["failed"], 0, "{report:#}");
    let listed = cw.list_dashboards().send().await.unwrap();
    assert_eq!(listed.dashboard_entries().len(), 1, "no duplicate");
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(writes(&report), 0);
    // Nothing is left half-known: a prune now deletes nothing.
    let (run, report) = lab.reconcile_json(&["--prune", "--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(changes(&report).is_empty(), "{report:#}");
}

/// The owner tag and threshold of one live alarm.
async fn alarm_owner_and_threshold(lab: &Lab, name: &str) -> (Option<String>, f64) {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let out = cw.describe_alarms().alarm_names(name).send().await.unwrap();
    let a = &out.metric_alarms()[0];
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(a.alarm_arn().unwrap())
        .send()
        .await
        .unwrap();
    let owner = tags
        .tags()
        .iter()
        .find(|t| t.key() == Some("vigil:owner"))
        .and_then(|t| t.value().map(str::to_string));
    (owner, a.threshold().unwrap())
}

#[tokio::test]
async fn a_name_recreated_by_another_owner_is_refused_whatever_the_inventory_says() {
    let lab = Lab::new().await;
    let settings = SETTINGS.replace("owner: safety-test", "owner: team-a");
    lab.write("settings.yaml", &settings);
    // No `tags` in the manifest: ownership is still read from the live tag.
    lab.write("alarms.yaml", &alarm("shared-name", 10, ""));
    lab.reconcile_json(&[]).0.expect_code(0);
    assert_eq!(
        alarm_owner_and_threshold(&lab, "shared-name").await,
        (Some("team-a".into()), 10.0)
    );

    // Someone deletes it; another team creates one of the same name, tagged as theirs.
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    cw.delete_alarms()
        .alarm_names("shared-name")
        .send()
        .await
        .unwrap();
    put_alarm(&lab, "shared-name", 77.0).await;
    let arn = cw
        .describe_alarms()
        .alarm_names("shared-name")
        .send()
        .await
        .unwrap()
        .metric_alarms()[0]
        .alarm_arn()
        .unwrap()
        .to_string();
    cw.tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_cloudwatch::types::Tag::builder()
                .key("vigil:owner")
                .value("team-b")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let (run, r) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert_eq!(writes(&r), 0, "{r:#}");
    let refused = &r["errors"][0];
    assert_eq!(refused["name"], "shared-name", "{r:#}");
    assert_eq!(refused["code"], "refused", "{r:#}");
    assert!(
        refused["message"].as_str().unwrap().contains("team-b"),
        "{refused:#}"
    );
    assert_eq!(
        alarm_owner_and_threshold(&lab, "shared-name").await,
        (Some("team-b".into()), 77.0),
        "team-b's alarm is untouched"
    );

    // Recreated with no owner tag at all: someone else's too, unless adopted.
    cw.delete_alarms()
        .alarm_names("shared-name")
        .send()
        .await
        .unwrap();
    put_alarm(&lab, "shared-name", 55.0).await;
    // moto keeps a deleted alarm's tags for its successor; AWS does not.
    cw.untag_resource()
        .resource_arn(&arn)
        .tag_keys("vigil:owner")
        .send()
        .await
        .unwrap();
    let (run, r) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert_eq!(writes(&r), 0, "{r:#}");
    let message = r["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("recreated"), "{message}");
    assert!(message.contains("vigil/adopt"), "{message}");
    assert_eq!(
        alarm_owner_and_threshold(&lab, "shared-name").await,
        (None, 55.0)
    );
}

/// A loopback endpoint that answers every request with an error no SDK models:
/// HTTP 400, an awsJson `__type` of a new exception, no message.
fn unmodeled_error_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let body = r#"{"__type":"com.amazonaws.starling#BrandNewException"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: r-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

// One service answering an error the SDK does not model: every other kind is
// imported, that service's kinds are named in one clear line each (no SDK debug
// dump), and the command exits 1 at the end.
#[tokio::test]
async fn import_goes_on_past_one_services_unmodeled_error_and_fails_at_the_end() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.reconcile_json(&[]).0.expect_code(0);
    let out = lab.tmp.path().join("imported");
    let (mut cmd, args) = lab.command(&["import", "--out", out.to_str().unwrap()]);
    cmd.env(
        "AWS_ENDPOINT_URL_CONFIG_SERVICE",
        unmodeled_error_endpoint(),
    );
    let run = crate::harness::Run::from(cmd.output().unwrap(), args);
    run.expect_code(1);
    for kind in ["metricalarm", "topic", "dashboard"] {
        assert!(out.join(kind).is_dir(), "{kind} missing: {}", run.stderr);
    }
    let failed: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: not imported: "))
        .collect();
    assert_eq!(failed.len(), 3, "{}", run.stderr);
    for (line, kind) in
        failed
            .iter()
            .zip(["ConfigurationRecorder", "DeliveryChannel", "ConfigRule"])
    {
        assert!(line.contains(kind), "{line}");
        assert!(
            line.contains(
                "BrandNewException (HTTP 400): an error this version of vigil does not know"
            ),
            "{line}"
        );
    }
    for noise in ["ServiceError", "raw:", "Unhandled", "SdkBody"] {
        assert!(
            !run.stderr.contains(noise),
            "debug dump in:\n{}",
            run.stderr
        );
    }
}
