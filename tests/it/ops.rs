//! `vigil test-alarm`, `vigil report`, `vigil schema` and `vigil completions`:
//! the real binary against moto, and the HTML report in a real headless Chromium.
//!
//! moto confirms every SNS subscription at once, and has no DescribeAlarmHistory or
//! DescribeComplianceByConfigRule: those paths are tested with replayed responses
//! in `src/ops/*/tests.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StateValue, Statistic};
use aws_smithy_types::DateTime;
use serde_json::Value;

use crate::harness::Lab;

const FIXTURE_ALARMS: [&str; 4] = [
    "HighCPUUtilization",
    "HighMemoryUtilization",
    "HighResponseTime",
    "HighErrorRate",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

async fn cloudwatch(lab: &Lab) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&lab.sdk().await)
}

/// The lab's topic and four alarms, applied.
async fn applied_lab() -> Lab {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.reconcile_json(&[]).0.expect_code(0);
    lab
}

async fn alarm_state(lab: &Lab, name: &str) -> (String, String) {
    let out = cloudwatch(lab)
        .await
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap();
    let a = &out.metric_alarms()[0];
    (
        a.state_value().unwrap().as_str().to_string(),
        a.state_reason().unwrap_or_default().to_string(),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// PutMetricData of `(minutes ago, value)` pairs.
async fn put(
    lab: &Lab,
    ns: &str,
    metric: &str,
    dim: (&str, &str),
    unit: StandardUnit,
    points: &[(i64, f64)],
) {
    let t0 = now();
    let data = points
        .iter()
        .map(|(ago, v)| {
            MetricDatum::builder()
                .metric_name(metric)
                .dimensions(Dimension::builder().name(dim.0).value(dim.1).build())
                .value(*v)
                .unit(unit.clone())
                .timestamp(DateTime::from_secs(t0 - ago * 60))
                .build()
        })
        .collect();
    cloudwatch(lab)
        .await
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();
}

/// Known datapoints: CPU 10, 20, 30, 95, 91, 40 (one a period); response times 100,
/// 200 and 300 in one period and 700 in another, so the true average (325) differs
/// from the mean of the period averages (450). Then CPU is put in ALARM.
async fn lab_with_data() -> Lab {
    let lab = applied_lab().await;
    let cpu: Vec<(i64, f64)> = [10.0, 20.0, 30.0, 95.0, 91.0, 40.0]
        .iter()
        .enumerate()
        .map(|(i, v)| (60 - 10 * i as i64, *v))
        .collect();
    put(
        &lab,
        "AWS/EC2",
        "CPUUtilization",
        ("InstanceId", "i-0123456789abcdef0"),
        StandardUnit::Percent,
        &cpu,
    )
    .await;
    put(
        &lab,
        "MonitoringLab/Application",
        "ResponseTime",
        ("Environment", "lab"),
        StandardUnit::Milliseconds,
        &[(30, 100.0), (30, 200.0), (30, 300.0), (20, 700.0)],
    )
    .await;
    cloudwatch(&lab)
        .await
        .set_alarm_state()
        .alarm_name("HighCPUUtilization")
        .state_value(StateValue::Alarm)
        .state_reason("Threshold Crossed: 2 datapoints were greater than the threshold (80.0)")
        .send()
        .await
        .unwrap();
    // So that the ALARM period has a length by the time the report ends.
    tokio::time::sleep(Duration::from_secs(2)).await;
    lab
}

// ---------------------------------------------------------------------------
// test-alarm

#[tokio::test]
async fn test_alarm_moves_an_alarm_to_alarm_and_back() {
    let lab = applied_lab().await;
    let run = lab.vigil(&[
        "test-alarm",
        "HighCPUUtilization",
        "{dir}",
        "--hold",
        "1s",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let t = &r["alarms"][0];
    assert_eq!(t["name"], "HighCPUUtilization");
    assert_eq!(t["previousState"], "OK", "moto starts new alarms in OK");
    assert_eq!(
        (t["fired"].as_bool(), t["confirmed"].as_bool()),
        (Some(true), Some(true)),
        "{t:#}"
    );
    assert_eq!(t["restored"], "OK");
    // The notification path: the lab's topic and its email subscription. moto
    // confirms subscriptions at once, so it shows as confirmed here; the pending
    // case is tested with replayed AWS responses.
    let action = &t["actions"][0];
    assert_eq!(action["topic"], "monitoring-lab-alerts");
    assert_eq!(
        action["confirmed"],
        serde_json::json!([{"protocol": "email", "endpoint": "ops@example.com"}])
    );
    assert_eq!(action["pending"], serde_json::json!([]));
    assert_eq!(
        (r["passed"].as_u64(), r["broken"].as_u64()),
        (Some(1), Some(0))
    );
    let cw = &r["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(cw["SetAlarmState"], 2, "set, then restore: {cw}");
    assert!(
        run.stderr
            .contains("holding ALARM for 1s (Ctrl-C restores now)"),
        "{}",
        run.stderr
    );

    // It went through ALARM and back: the last reason is vigil's restore.
    let (state, reason) = alarm_state(&lab, "HighCPUUtilization").await;
    assert_eq!(state, "OK");
    assert!(
        reason.starts_with("vigil test-alarm: the test is over; back to the state before it (OK)"),
        "{reason}"
    );

    // --no-restore leaves it in ALARM, with a reason that says it is a test.
    lab.vigil(&["test-alarm", "HighCPUUtilization", "{dir}", "--no-restore"])
        .expect_code(0);
    let (state, reason) = alarm_state(&lab, "HighCPUUtilization").await;
    assert_eq!(state, "ALARM");
    assert!(
        reason
            .starts_with("vigil test-alarm: a test of the notification path set ALARM on purpose"),
        "{reason}"
    );

    // Already in ALARM: AWS notifies only on a change, so it goes through another state first.
    let run = lab.vigil(&["test-alarm", "HighCPUUtilization", "{dir}", "--hold", "0s"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("so vigil set INSUFFICIENT_DATA first"),
        "{}",
        run.stdout
    );
    assert_eq!(alarm_state(&lab, "HighCPUUtilization").await.0, "ALARM");
}

#[tokio::test]
async fn test_alarm_all_warns_loudly_when_notifications_reach_nobody() {
    let lab = applied_lab().await;
    // Somebody removes the only subscription.
    let sns = aws_sdk_sns::Client::new(&lab.sdk().await);
    let topic = format!(
        "arn:aws:sns:us-east-1:{}:monitoring-lab-alerts",
        lab.account
    );
    for s in sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap()
        .subscriptions()
    {
        sns.unsubscribe()
            .subscription_arn(s.subscription_arn().unwrap())
            .send()
            .await
            .unwrap();
    }
    let run = lab.vigil(&["test-alarm", "--all", "{dir}", "--hold", "0s"]);
    run.expect_code(1);
    assert!(
        run.stdout
            .starts_with("Testing 4 alarm(s): ALARM by SetAlarmState, hold 0s, then restore."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("    SNS topic monitoring-lab-alerts: 0 confirmed, 0 pending\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Result: 0 passed, 4 broken"),
        "{}",
        run.stdout
    );
    for name in FIXTURE_ALARMS {
        assert!(
            run.stderr.contains(&format!(
                "WARNING: MetricAlarm/{name}: notifications reach nobody"
            )),
            "{}",
            run.stderr
        );
        assert_eq!(
            alarm_state(&lab, name).await.0,
            "OK",
            "{name} is restored even when broken"
        );
    }

    // Testing OK: the lab's alarms have no okActions.
    let run = lab.vigil(&[
        "test-alarm",
        "HighErrorRate",
        "{dir}",
        "--state",
        "ok",
        "--hold",
        "0s",
    ]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("the alarm has no OK action (okActions is empty)"),
        "{}",
        run.stderr
    );

    // A name that is not declared is an error before any call.
    let run = lab.vigil(&["test-alarm", "Nope", "{dir}"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("`Nope` is not an alarm declared in"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn via_metric_refuses_aws_namespaces_and_publishes_breaching_datapoints() {
    let lab = applied_lab().await;
    let run = lab.vigil(&["test-alarm", "HighCPUUtilization", "{dir}", "--via-metric"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("AWS/EC2 is an AWS namespace"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("--via-metric works only for custom namespaces"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("nothing was changed\n"),
        "{}",
        run.stderr
    );
    let (state, reason) = alarm_state(&lab, "HighCPUUtilization").await;
    assert_eq!(
        (state.as_str(), reason.as_str()),
        ("OK", "Unchecked: Initial alarm creation")
    );

    // A custom namespace: datapoints above 400 ms, one per evaluated period (3).
    // moto never evaluates alarms, so the state does not change: a broken test.
    let run = lab.vigil(&[
        "test-alarm",
        "HighResponseTime",
        "{dir}",
        "--via-metric",
        "--timeout",
        "1s",
    ]);
    run.expect_code(1);
    assert!(
        run.stdout.contains(
            "published 3 breaching datapoint(s) of 440 to MonitoringLab/Application/ResponseTime"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(
            "WARNING: MetricAlarm/HighResponseTime: the state did not change to ALARM within 1s"
        ),
        "{}",
        run.stderr
    );
    let stats = cloudwatch(&lab)
        .await
        .get_metric_statistics()
        .namespace("MonitoringLab/Application")
        .metric_name("ResponseTime")
        .dimensions(
            Dimension::builder()
                .name("Environment")
                .value("lab")
                .build(),
        )
        .start_time(DateTime::from_secs(now() - 3600))
        .end_time(DateTime::from_secs(now() + 60))
        .period(3600)
        .statistics(Statistic::Maximum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .unwrap();
    let dp = &stats.datapoints()[0];
    assert_eq!((dp.maximum(), dp.sample_count()), (Some(440.0), Some(3.0)));
}

// ---------------------------------------------------------------------------
// report

#[tokio::test]
async fn report_statistics_match_the_datapoints_put() {
    let lab = lab_with_data().await;
    let run = lab.vigil(&["report", "{dir}", "--since", "2h", "--format", "json"]);
    run.expect_code(0);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let alarm = |name: &str| {
        r["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };

    let cpu = alarm("HighCPUUtilization");
    assert_eq!(cpu["state"], "ALARM");
    assert_eq!(cpu["stats"]["min"], 10.0);
    assert_eq!(cpu["stats"]["max"], 95.0);
    assert!(
        (cpu["stats"]["avg"].as_f64().unwrap() - 286.0 / 6.0).abs() < 1e-9,
        "{cpu:#}"
    );
    assert_eq!(cpu["stats"]["samples"], 6.0);
    assert_eq!(cpu["series"].as_array().unwrap().len(), 6);
    assert_eq!(
        cpu["alarmPeriods"].as_array().unwrap().len(),
        1,
        "ALARM since the state began: {cpu:#}"
    );
    assert_eq!(
        cpu["transitions"],
        Value::Null,
        "moto has no DescribeAlarmHistory"
    );

    let rt = alarm("HighResponseTime");
    assert_eq!(
        (rt["stats"]["min"].as_f64(), rt["stats"]["max"].as_f64()),
        (Some(100.0), Some(700.0))
    );
    assert_eq!(
        rt["stats"]["avg"], 325.0,
        "sum over sample count, not the mean of period averages"
    );
    assert_eq!(rt["stats"]["periods"], 2);
    assert_eq!(rt["series"][0]["v"], 200.0);

    let errors = alarm("HighErrorRate");
    assert_eq!(errors["stats"], Value::Null);
    assert_eq!(
        errors["notes"][0],
        "the metric has no datapoints in this period"
    );

    assert_eq!(r["summary"]["inAlarm"], 1);
    assert_eq!(r["summary"]["ok"], 3);
    assert_eq!(r["drift"]["drifted"], 0);
    assert_eq!(
        r["pendingSubscriptions"],
        serde_json::json!([]),
        "moto confirms at once"
    );
    let unavailable = r["unavailable"].as_array().unwrap();
    assert_eq!(unavailable.len(), 1, "{unavailable:#?}");
    assert_eq!(
        (
            unavailable[0]["section"].as_str(),
            unavailable[0]["class"].as_str()
        ),
        (Some("stateHistory"), Some("unsupported"))
    );
    // Batched: one DescribeAlarms walk and one GetMetricData call for every alarm.
    let cw = &r["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(
        (cw["DescribeAlarms"].as_u64(), cw["GetMetricData"].as_u64()),
        (Some(1), Some(1)),
        "{cw}"
    );
    assert_eq!(r["apiCalls"]["writes"], 0);

    let md = lab.vigil(&["report", "{dir}", "--since", "2h"]);
    md.expect_code(0);
    assert!(
        md.stdout.starts_with("### vigil report: last 2h ("),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("| HighCPUUtilization | **ALARM** | ? | 10 | 47.67 | 95 | > 80 |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("| HighResponseTime | OK | ? | 100 | 325 | 700 | > 400 |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stderr.contains("note: stateHistory unavailable"),
        "{}",
        md.stderr
    );

    let out = lab.tmp.path().join("report.json");
    lab.vigil(&[
        "report",
        "{dir}",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["version"], 1);
    validate_with_schema(&report_schema(&lab), &[written], true);
}

/// Debian's Chromium; the test fails, never skips, when it is missing.
fn chromium() -> PathBuf {
    let p = PathBuf::from("/usr/bin/chromium");
    assert!(
        p.exists(),
        "/usr/bin/chromium is missing: the HTML report is checked in a real headless Chromium. \
         Run scripts/test.sh (it installs Debian's chromium), or `apt-get update && apt-get install -y chromium`"
    );
    p
}

/// Runs headless Chromium on a file; returns stdout and the console messages it logged.
fn headless(page: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[tokio::test]
async fn report_html_renders_in_headless_chromium_with_one_chart_per_alarm() {
    // First prove that the console check sees errors at all.
    let probe_dir = tempfile::tempdir().unwrap();
    let probe = probe_dir.path().join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><html><body><script>throw new Error('vigil-probe')</script></body></html>",
    )
    .unwrap();
    let (_, console) = headless(&probe, &["--dump-dom"]);
    assert!(
        console
            .iter()
            .any(|l| l.contains("Uncaught Error: vigil-probe")),
        "the console check is blind: {console:?}"
    );

    let lab = lab_with_data().await;
    let page = lab.tmp.path().join("report.html");
    lab.vigil(&[
        "report",
        "{dir}",
        "--since",
        "2h",
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ])
    .expect_code(0);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for needle in [
        "http://", "https://", "src=", "url(", "@import", "<script", "<link",
    ] {
        assert!(!html.contains(needle), "the report references `{needle}`");
    }

    let (dom, console) = headless(&page, &["--dump-dom"]);
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert_eq!(
        dom.matches(r#"<svg class="chart""#).count(),
        FIXTURE_ALARMS.len(),
        "one chart per alarm"
    );
    for name in FIXTURE_ALARMS {
        assert!(
            dom.contains(&format!(r#"<svg class="chart" data-alarm="{name}""#)),
            "no chart for {name}"
        );
    }
    assert_eq!(
        dom.matches(r#"class="threshold""#).count(),
        FIXTURE_ALARMS.len(),
        "a threshold line in each"
    );
    assert_eq!(
        dom.matches(r#"class="series""#).count(),
        2,
        "CPU and response time have data"
    );
    assert!(
        dom.contains(r#"class="alarm-span""#),
        "the ALARM period is shaded"
    );

    let artifacts = repo().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let (_, console) = headless(&page, &[&shot, "--window-size=900,2200"]);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a real screenshot, {} bytes",
        bytes.len()
    );
    std::fs::copy(&page, artifacts.join("report.html")).unwrap();
    eprintln!("screenshot of the HTML report: {}", png.display());
}

#[tokio::test]
async fn report_over_100_alarms_uses_one_metric_data_call() {
    let lab = Lab::new().await;
    let mut docs = vec![
        "apiVersion: vigil/v1\nkind: Topic\nmetadata: {name: bench-alerts}\nspec:\n  subscriptions:\n    - {protocol: email, endpoint: ops@example.com}\n".to_string(),
    ];
    for i in 0..100 {
        docs.push(format!(
            "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata: {{name: bench-{i:03}}}\nspec:\n  namespace: Bench/App\n  metricName: m{i}\n  dimensions: {{Environment: lab}}\n  statistic: Average\n  period: 300\n  evaluationPeriods: 2\n  threshold: 50\n  comparisonOperator: GreaterThanThreshold\n  alarmActions: ['${{Topic/bench-alerts.arn}}']\n"
        ));
    }
    lab.write("alarms.yaml", &docs.join("---\n"));
    lab.reconcile_json(&[]).0.expect_code(0);
    let cw = cloudwatch(&lab).await;
    let t0 = now();
    for i in 0..100 {
        let data = (0..12)
            .map(|k| {
                MetricDatum::builder()
                    .metric_name(format!("m{i}"))
                    .dimensions(
                        Dimension::builder()
                            .name("Environment")
                            .value("lab")
                            .build(),
                    )
                    .value(f64::from((k * i) % 97))
                    .timestamp(DateTime::from_secs(t0 - i64::from(k) * 300 - 120))
                    .build()
            })
            .collect();
        cw.put_metric_data()
            .namespace("Bench/App")
            .set_metric_data(Some(data))
            .send()
            .await
            .unwrap();
    }
    let started = Instant::now();
    let run = lab.vigil(&["report", "{dir}", "--since", "6h", "--format", "json"]);
    let took = started.elapsed();
    run.expect_code(0);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(r["alarms"].as_array().unwrap().len(), 100);
    let calls = &r["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(
        calls["GetMetricData"], 1,
        "400 queries in one call: {calls}"
    );
    assert_eq!(calls["DescribeAlarms"], 1, "{calls}");
    // bench-005: values (5k) % 97 for k in 0..12: 0, 5, ..., 55.
    let a = &r["alarms"][5];
    assert_eq!(
        (
            a["stats"]["min"].as_f64(),
            a["stats"]["avg"].as_f64(),
            a["stats"]["max"].as_f64()
        ),
        (Some(0.0), Some(27.5), Some(55.0))
    );
    eprintln!("vigil report over 100 alarms (6h, 12 datapoints each) against moto took {took:?}");
    assert!(took < Duration::from_secs(120), "{took:?}");
}

// ---------------------------------------------------------------------------
// completions

#[tokio::test]
async fn completions_for_bash_zsh_and_fish_name_the_subcommands() {
    let lab = Lab::new().await;
    for shell in ["bash", "zsh", "fish"] {
        let run = lab.vigil(&["completions", shell]);
        run.expect_code(0);
        for sub in ["reconcile", "test-alarm", "report", "completions"] {
            assert!(run.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let run = lab.vigil(&["completions", "tcsh"]);
    run.expect_code(2);
}

/// Every YAML file under `dir`, in path order, skipping names that start with `.` as the loader does.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// The manifest documents of a YAML text, as the loader reads them. A local tag
/// (a CloudFormation `!Ref` in an inline template) becomes `{"Ref": value}`.
fn manifest_documents(text: &str) -> Vec<Value> {
    let tag = |t: &str, v: Value| Some(serde_json::json!({ t: v }));
    vigil::yaml::parse_documents(text)
        .unwrap()
        .into_iter()
        .filter(|d| d.get("apiVersion").is_some())
        .map(|d| d.to_json_with_tags(&tag).unwrap())
        .collect()
}

fn manifest_schema(lab: &Lab) -> Value {
    let run = lab.vigil(&["schema"]);
    run.expect_code(0);
    let committed = std::fs::read_to_string(repo().join("schema/vigil.schema.json")).unwrap();
    assert!(
        run.stdout == committed,
        "schema/vigil.schema.json is stale: run `cargo run -q -- schema > schema/vigil.schema.json`"
    );
    serde_json::from_str(&run.stdout).unwrap()
}

#[tokio::test]
async fn the_schema_validates_every_desired_state_file_and_each_document_names_it() {
    let lab = Lab::new().await;
    let schema = manifest_schema(&lab);
    let dir = repo().join("desired-state");
    vigil::manifest::load(&dir).expect("desired-state/ loads");
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let mut docs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        docs.extend(manifest_documents(&text));
        // yaml-language-server reads a modeline from each document's header comments only.
        let rel = pathdiff(
            &repo().join("schema/vigil.schema.json"),
            f.parent().unwrap(),
        );
        let modeline = format!("# yaml-language-server: $schema={rel}");
        for (i, chunk) in split_documents(&text).iter().enumerate() {
            if !chunk.lines().any(|l| l.starts_with("apiVersion:")) {
                continue;
            }
            let header: Vec<&str> = chunk
                .lines()
                .take_while(|l| l.starts_with('#') || l.trim().is_empty())
                .collect();
            assert!(
                header.contains(&modeline.as_str()),
                "{} document {}: its first lines must include `{modeline}`",
                f.display(),
                i + 1
            );
        }
    }
    assert!(docs.len() >= 20, "{} documents", docs.len());
    validate_with_schema(&schema, &docs, true);
}

/// The text of each YAML document, split at `---` lines.
fn split_documents(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.lines() {
        if line.starts_with("---") {
            out.push(String::new());
        } else {
            let last = out.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    out
}

/// `target` relative to the directory `from`, both under the repository.
fn pathdiff(target: &Path, from: &Path) -> String {
    let target: Vec<_> = target.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = target.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        target[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

const ALARM: &str = "apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: cpu
spec:
  namespace: AWS/EC2
  metricName: CPUUtilization
  statistic: Average
  period: 300
  evaluationPeriods: 2
  threshold: 80
  comparisonOperator: GreaterThanThreshold
";

#[tokio::test]
async fn the_schema_rejects_the_bad_input_corpus_type_errors() {
    let lab = Lab::new().await;
    let schema = manifest_schema(&lab);
    // The type errors of the loader's bad-input corpus (src/manifest/tests.rs), by case name,
    // with where the schema must point.
    let topic = "apiVersion: vigil/v1\nkind: Topic\nmetadata: {name: t}\nspec: {}\n";
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong apiVersion", topic.replace("vigil/v1", "vigil/v2"), "apiVersion"),
        ("unknown kind", topic.replace("kind: Topic", "kind: Alarm"), "kind"),
        ("unknown top-level field", format!("{topic}status: {{}}\n"), ""),
        ("missing name", topic.replace("{name: t}", "{annotations: {}}"), "metadata"),
        ("unknown metadata field", topic.replace("{name: t}", "{name: t, labels: {}}"), "metadata"),
        (
            "unknown annotation",
            topic.replace("{name: t}", "{name: t, annotations: {vigil/deletion: retain}}"),
            "metadata/annotations",
        ),
        (
            "bad annotation value",
            topic.replace("{name: t}", "{name: t, annotations: {vigil/deletion-policy: keep}}"),
            "metadata/annotations/vigil/deletion-policy",
        ),
        ("unknown spec field", format!("{ALARM}  threshhold: 80\n"), "spec"),
        // (A MetricAlarm requires no field in the schema: a PromQL alarm has no operator.)
        (
            "missing required field",
            "apiVersion: vigil/v1\nkind: CompositeAlarm\nmetadata: {name: c}\nspec: {actionsEnabled: true}\n".into(),
            "spec",
        ),
        ("wrong type", ALARM.replace("threshold: 80", "threshold: high"), "spec/threshold"),
        ("dimensions as a list", format!("{ALARM}  dimensions:\n    - Name: InstanceId\n"), "spec/dimensions"),
        ("spec is not a mapping", topic.replace("spec: {}", "spec: [1]"), "spec"),
        (
            "unknown Settings field",
            "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  regoin: us-east-1\n".into(),
            "spec",
        ),
        (
            "bad SNS subscription shape",
            topic.replace("spec: {}", "spec: {subscriptions: [{protocol: email}]}"),
            "spec/subscriptions/0",
        ),
    ];
    let mut docs: Vec<Value> = vec![
        manifest_documents(ALARM).remove(0),
        manifest_documents(topic).remove(0),
    ];
    for (what, text, _) in &cases {
        // Each is a real loader error too.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.yaml"), text).unwrap();
        assert!(
            vigil::manifest::load(tmp.path()).is_err(),
            "the loader accepts case `{what}`"
        );
        docs.push(
            vigil::yaml::parse_documents(text).unwrap()[0]
                .to_json()
                .unwrap(),
        );
    }
    let errors = validate_with_schema(&schema, &docs, false);
    assert!(
        errors[0].is_empty() && errors[1].is_empty(),
        "the valid controls fail: {:?}",
        &errors[..2]
    );
    for ((what, _, path), errs) in cases.iter().zip(&errors[2..]) {
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{path}: "))),
            "case `{what}`: expected an error at `{path}`, got {errs:#?}"
        );
    }
}

// ---------------------------------------------------------------------------
// JSON Schema validation, through python's jsonschema in the test venv

fn venv_python() -> PathBuf {
    let py = repo().join(".venv/bin/python");
    let status = Command::new(repo().join("scripts/install-moto.sh"))
        .output()
        .expect("install-moto.sh");
    assert!(status.status.success());
    let has = Command::new(&py)
        .args(["-c", "import jsonschema"])
        .status()
        .unwrap();
    if !has.success() {
        let ok = Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "jsonschema",
            ])
            .status()
            .unwrap();
        assert!(ok.success(), "pip install jsonschema");
    }
    py
}

fn report_schema(lab: &Lab) -> Value {
    let run = lab.vigil(&["schema", "--report"]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Validates each document against the schema; returns the error messages per document.
/// With `expect_valid`, any error fails the test.
fn validate_with_schema(schema: &Value, docs: &[Value], expect_valid: bool) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("schema.json");
    let docs_path = dir.path().join("docs.json");
    std::fs::write(&schema_path, schema.to_string()).unwrap();
    std::fs::write(&docs_path, Value::Array(docs.to_vec()).to_string()).unwrap();
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
v = cls(schema)
out = []
for doc in json.load(open(sys.argv[2])):
    out.append(sorted("/".join(str(p) for p in e.absolute_path) + ": " + e.message for e in v.iter_errors(doc)))
print(json.dumps(out))
"#;
    let out = Command::new(venv_python())
        .args(["-c", script])
        .arg(&schema_path)
        .arg(&docs_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jsonschema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    if expect_valid {
        for (doc, e) in docs.iter().zip(&errors) {
            assert!(e.is_empty(), "schema errors {e:#?} in\n{doc:#}");
        }
    }
    errors
}
