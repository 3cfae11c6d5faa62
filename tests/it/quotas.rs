//! vigil under AWS's request-rate quotas: the real binary through the quota and
//! fault proxy (`proxy.rs`) in front of moto.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::controller::Running;
use crate::harness::{Lab, Run, writes};
use crate::lab::lab_with_unique_bucket;
use crate::proxy::{Proxy, ProxyConfig, Stats};

/// `n` alarms named `{prefix}-00000`..., with tags when `tagged`.
fn alarms(prefix: &str, n: usize, tagged: bool) -> String {
    let tags = if tagged {
        "  tags:\n    team: sre\n    tier: web\n"
    } else {
        ""
    };
    (0..n)
        .map(|i| {
            format!(
                "---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {prefix}-{i:05}\n\
                 spec:\n  namespace: Quota/App\n  metricName: Latency\n  dimensions: {{Service: svc-{}}}\n  \
                 statistic: Average\n  period: 60\n  evaluationPeriods: 3\n  threshold: {}\n  \
                 comparisonOperator: GreaterThanThreshold\n{tags}",
                i % 7,
                100 + i
            )
        })
        .collect()
}

/// Applies the directory straight on moto, with the alarm quota raised for it:
/// these tests are about the plan that follows.
fn create_quickly(lab: &Lab) {
    lab.write(
        "settings.yaml",
        "apiVersion: vigil/v1\nkind: Settings\nmetadata:\n  name: settings\nspec:\n  \
         quotas:\n    cloudwatch:PutMetricAlarm: 1000\n",
    );
    lab.vigil(&["reconcile", "{dir}"]).expect_code(0);
    lab.remove("settings.yaml");
}

/// `vigil ARGS` with its AWS calls sent through `proxy`.
fn via(lab: &Lab, proxy: &Proxy, args: &[&str]) -> Run {
    let (mut cmd, args) = lab.command(args);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    Run::from(cmd.output().expect("run vigil"), args)
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    })
}

fn proxy_for(lab: &Lab, config: ProxyConfig) -> Proxy {
    Proxy::spawn(&lab.endpoint, config)
}

/// Requests the proxy forwarded to moto for each operation that writes.
fn forwarded_writes(stats: &Stats) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (service, ops) in &stats.by_service {
        for (op, s) in ops {
            let read = vigil::aws::calls::is_read_operation(op) || op.starts_with("Head");
            if !read && s.forwarded > 0 && service != "sts" {
                out.insert(format!("{service}:{op}"), s.forwarded);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_tagged_no_op_plan_reads_tags_in_pages_within_the_quotas() {
    let lab = Lab::new().await;
    lab.write("alarms.yaml", &alarms("tagged", 150, true));
    create_quickly(&lab);

    let proxy = proxy_for(&lab, ProxyConfig::default());
    let run = via(
        &lab,
        &proxy,
        &["reconcile", "{dir}", "--dry-run", "--output", "json"],
    );
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(r["summary"]["unchanged"], 150, "{r:#}");
    assert_eq!(r["summary"]["failed"], 0);
    assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r:#}");
    let stats = proxy.stats();
    assert_eq!(stats.total.throttled(), 0, "{stats:#?}");
    assert_eq!(stats.op("cloudwatch", "ListTagsForResource").forwarded, 0);
    // 150 alarms: two pages of GetResources and of DescribeAlarms, never one call per alarm.
    assert_eq!(
        stats.op("tagging", "GetResources").forwarded,
        2,
        "{stats:#?}"
    );
    assert!(
        stats.op("cloudwatch", "DescribeAlarms").forwarded <= 2,
        "{stats:#?}"
    );
    assert!(r["apiCalls"]["total"].as_u64().unwrap() <= 10, "{r:#}");
    assert_eq!(writes(&r), 0);
}

#[tokio::test]
async fn creates_wait_for_their_quota_instead_of_being_throttled() {
    let lab = Lab::new().await;
    lab.write("alarms.yaml", &alarms("paced", 24, false));
    let proxy = proxy_for(&lab, ProxyConfig::default());
    let run = via(&lab, &proxy, &["reconcile", "{dir}", "--output", "json"]);
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(r["summary"]["create"], 24, "{r:#}");
    let put = proxy.stats().op("cloudwatch", "PutMetricAlarm");
    assert_eq!(put.forwarded, 24, "{put:?}");
    // Under 5% of them throttled: the pacer waited instead, and says how long.
    assert!(put.throttled() * 20 < 24, "{put:?}");
    let waited = r["apiCalls"]["quotaWaitSeconds"]["CloudWatch"]["PutMetricAlarm"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(waited > 1.0, "24 puts at 3/s wait for quota: {r:#}");
}

#[tokio::test]
async fn settings_quotas_raise_the_pace_for_an_account_with_raised_quotas() {
    let lab = Lab::new().await;
    lab.write("alarms.yaml", &alarms("raised", 40, false));
    lab.write(
        "settings.yaml",
        "apiVersion: vigil/v1\nkind: Settings\nmetadata:\n  name: settings\nspec:\n  \
         quotas:\n    cloudwatch:PutMetricAlarm: 10\n",
    );
    let proxy = proxy_for(
        &lab,
        ProxyConfig::default().quota("cloudwatch", "PutMetricAlarm", 10.0),
    );
    let started = std::time::Instant::now();
    let run = via(&lab, &proxy, &["reconcile", "{dir}", "--output", "json"]);
    let took = started.elapsed();
    run.expect_code(0);
    assert_eq!(json(&run)["summary"]["create"], 40);
    let put = proxy.stats().op("cloudwatch", "PutMetricAlarm");
    assert_eq!(put.forwarded, 40);
    assert!(put.throttled() * 20 < 40, "{put:?}");
    // Not a timing test: only that it did not keep the default 3/s (13 s for 40).
    assert!(took < Duration::from_secs(12), "{took:?}");
}

/// The lab's kinds that moto serves, plus `n` alarms.
fn storm_directory(lab: &Lab, n: usize) {
    lab_with_unique_bucket(lab);
    // moto lacks X-Ray groups, sampling rules, query definitions, mute rules
    // and anomaly detectors.
    lab.remove("xray/monitoring-lab-api.yaml");
    lab.remove("logs/insights-queries.yaml");
    lab.remove("alarms/maintenance-window.yaml");
    lab.remove("alarms/anomaly-detection.yaml");
    lab.write("alarms/generated.yaml", &alarms("storm", n, true));
}

#[tokio::test]
async fn half_of_all_requests_throttled_still_applies_everything_once() {
    // The same directory on two accounts: calmly, and in a storm.
    let calm = Lab::new().await;
    storm_directory(&calm, 20);
    let calm_proxy = proxy_for(&calm, ProxyConfig::default());
    via(
        &calm,
        &calm_proxy,
        &["reconcile", "{dir}", "--output", "json"],
    )
    .expect_code(0);

    let lab = Lab::new().await;
    storm_directory(&lab, 20);
    let proxy = proxy_for(
        &lab,
        ProxyConfig {
            storm: 0.5,
            seed: 7,
            ..ProxyConfig::default()
        },
    );
    let run = via(&lab, &proxy, &["reconcile", "{dir}", "--output", "json"]);
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(r["summary"]["failed"], 0, "{r:#}");
    let stats = proxy.stats();
    assert!(
        stats.total.throttled_storm * 3 > stats.total.forwarded,
        "the storm was real: {stats:#?}"
    );
    // Every write reached moto exactly as often as in the calm run: no duplicates.
    assert_eq!(
        forwarded_writes(&stats),
        forwarded_writes(&calm_proxy.stats())
    );

    // Still storming, the next run finds nothing to do.
    let run = via(&lab, &proxy, &["reconcile", "{dir}", "--output", "json"]);
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(writes(&r), 0, "{r:#}");
    assert!(r["changes"].as_array().unwrap().is_empty(), "{r:#}");
}

#[tokio::test]
async fn vigil_run_converges_in_a_storm_with_no_terminal_cycle() {
    let lab = Lab::new().await;
    storm_directory(&lab, 10);
    let proxy = proxy_for(
        &lab,
        ProxyConfig {
            storm: 0.5,
            seed: 11,
            ..ProxyConfig::default()
        },
    );
    let endpoint = proxy.endpoint();
    let mut vigil = Running::start(
        &lab,
        &["--interval", "2s"],
        &[("AWS_ENDPOINT_URL", &endpoint)],
    );
    let s = vigil.wait_status("a clean cycle", Duration::from_secs(240), |s| {
        s["lastCycle"]["outcome"] == "success"
            && s["lastCycle"]["changes"]
                .as_array()
                .is_some_and(|c| c.is_empty())
    });
    assert_eq!(s["lastCycle"]["apiCalls"]["writes"], 0, "{s:#}");
    let (_, metrics) = vigil.get("/metrics");
    assert!(
        metrics.contains("vigil_reconcile_total{outcome=\"terminal\"} 0\n"),
        "{metrics}"
    );
    assert!(
        !metrics.contains(
            "vigil_aws_api_throttles_total{service=\"CloudWatch\",operation=\"PutMetricAlarm\"} 0\n"
        ),
        "the storm throttled the creates: {metrics}"
    );
    let (code, _) = vigil.terminate();
    assert_eq!(code, Some(0), "{}", vigil.log());
}

#[tokio::test]
async fn a_call_throttled_until_the_deadline_is_reported_as_throttled() {
    let lab = Lab::new().await;
    lab.write("alarms.yaml", &alarms("stuck", 1, false));
    let proxy = proxy_for(
        &lab,
        ProxyConfig::default().always_throttle("cloudwatch", "PutMetricAlarm"),
    );
    let run = via(
        &lab,
        &proxy,
        &["reconcile", "{dir}", "--output", "json", "--deadline", "4s"],
    );
    run.expect_code(1);
    let r = json(&run);
    let change = &r["changes"][0];
    assert_eq!(change["name"], "stuck-00000", "{r:#}");
    assert_eq!(change["status"], "failed", "{r:#}");
    assert_eq!(change["errorClass"], "throttled", "{r:#}");
    let error = change["error"].as_str().unwrap();
    assert!(error.contains("PutMetricAlarm"), "{error}");
    let put = proxy.stats().op("cloudwatch", "PutMetricAlarm");
    // Retried until the deadline, then stopped: several attempts, none forwarded.
    assert!(put.throttled() >= 2, "{put:?}");
    assert_eq!(put.forwarded, 0);
    assert!(
        r["apiCalls"]["throttles"]["CloudWatch"]["PutMetricAlarm"]
            .as_u64()
            .unwrap()
            >= 2,
        "{r:#}"
    );
}

/// `n` alarms made outside vigil, straight on moto.
async fn alarms_out_of_band(lab: &Lab, prefix: &str, n: usize) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    use futures::StreamExt as _;
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    futures::stream::iter(0..n)
        .map(|i| {
            cw.put_metric_alarm()
                .alarm_name(format!("{prefix}-{i:05}"))
                .namespace("Other/Team")
                .metric_name("Errors")
                .statistic(Statistic::Sum)
                .period(60)
                .evaluation_periods(1)
                .threshold(1.0)
                .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                .send()
        })
        .buffer_unordered(16)
        .for_each(|r| async move {
            r.expect("PutMetricAlarm");
        })
        .await;
}

/// moto ignores MaxRecords, so a walk of the account is one response; the
/// proxy charges it a token per 100 alarms, which tells a walk from a read of
/// a few names.
#[tokio::test]
async fn a_few_declared_alarms_are_read_by_name_in_a_large_account() {
    let lab = Lab::new().await;
    alarms_out_of_band(&lab, "others", 250).await;

    // 120 declared and no population known yet: one walk of the account's 250.
    lab.write("alarms.yaml", &alarms("big", 120, false));
    let proxy = proxy_for(&lab, ProxyConfig::default());
    let run = via(
        &lab,
        &proxy,
        &["reconcile", "{dir}", "--dry-run", "--output", "json"],
    );
    run.expect_code(0);
    let walk = proxy.stats().op("cloudwatch", "DescribeAlarms");
    assert_eq!((walk.forwarded, walk.tokens), (1, 3), "{walk:?}");

    // Applied, the walk is recorded: the account held 250 alarms.
    create_quickly(&lab);
    let inventory = lab.inventory();
    assert_eq!(
        inventory["populations"]["MetricAlarm"], 250,
        "{inventory:#}"
    );

    // Now 3 declared: their names, in one DescribeAlarms that returns only them.
    lab.remove("alarms.yaml");
    lab.write("alarms.yaml", &alarms("few", 3, false));
    proxy.reset_stats();
    let run = via(
        &lab,
        &proxy,
        &["reconcile", "{dir}", "--dry-run", "--output", "json"],
    );
    run.expect_code(0);
    assert_eq!(json(&run)["summary"]["create"], 3);
    let named = proxy.stats().op("cloudwatch", "DescribeAlarms");
    assert_eq!((named.forwarded, named.tokens), (1, 1), "{named:?}");

    // Import walks everything: the 370 alarms, four pages' worth.
    proxy.reset_stats();
    let out = lab.tmp.path().join("imported");
    let out = out.to_str().unwrap();
    via(
        &lab,
        &proxy,
        &["import", "--out", out, "--kind", "MetricAlarm"],
    )
    .expect_code(0);
    let all = proxy.stats().op("cloudwatch", "DescribeAlarms");
    assert_eq!((all.forwarded, all.tokens), (1, 4), "{all:?}");
}

/// Subscribe is not idempotent for vigil's purposes: the SDK must not resend it,
/// and after a 500 vigil reads the topic's subscriptions back. Here every
/// Subscribe reaches moto and is then answered with a 500.
#[tokio::test]
async fn a_subscribe_that_took_effect_behind_a_500_is_sent_once() {
    let lab = Lab::new().await;
    lab.write(
        "topic.yaml",
        "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: faulted-alerts\nspec:\n  \
         subscriptions:\n    - protocol: email\n      endpoint: ops@example.com\n",
    );
    let proxy = proxy_for(
        &lab,
        ProxyConfig::default().always_fault("sns", "Subscribe"),
    );
    let run = via(&lab, &proxy, &["reconcile", "{dir}", "--output", "json"]);
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(r["summary"]["failed"], 0, "{r:#}");
    let sub = proxy.stats().op("sns", "Subscribe");
    assert_eq!((sub.forwarded, sub.faulted), (1, 1), "{sub:?}");

    let sns = aws_sdk_sns::Client::new(&lab.sdk().await);
    let arn = format!(
        "arn:aws:sns:{}:{}:faulted-alerts",
        crate::harness::REGION,
        lab.account
    );
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&arn)
        .send()
        .await
        .unwrap();
    let endpoints: Vec<_> = subs
        .subscriptions()
        .iter()
        .map(|s| (s.protocol(), s.endpoint()))
        .collect();
    assert_eq!(endpoints, [(Some("email"), Some("ops@example.com"))]);

    let run = via(&lab, &proxy, &["reconcile", "{dir}", "--output", "json"]);
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(writes(&r), 0, "{r:#}");
    assert_eq!(proxy.stats().op("sns", "Subscribe").forwarded, 1);
}

#[tokio::test]
async fn get_resources_denied_falls_back_to_one_call_each_and_says_so() {
    let lab = Lab::new().await;
    lab.write("alarms.yaml", &alarms("denied", 3, true));
    create_quickly(&lab);
    let proxy = proxy_for(&lab, ProxyConfig::default().deny("tagging", "GetResources"));
    let run = via(
        &lab,
        &proxy,
        &["reconcile", "{dir}", "--dry-run", "--output", "json"],
    );
    run.expect_code(0);
    let r = json(&run);
    assert_eq!(r["summary"]["unchanged"], 3, "{r:#}");
    let stats = proxy.stats();
    assert!(
        stats.op("tagging", "GetResources").denied >= 1,
        "{stats:#?}"
    );
    assert_eq!(
        stats.op("cloudwatch", "ListTagsForResource").forwarded,
        3,
        "{stats:#?}"
    );
    let notes = r["notes"].as_array().unwrap();
    let note = notes
        .iter()
        .find(|n| n["code"] == "tagFallback")
        .unwrap_or_else(|| panic!("no fallback note: {r:#}"));
    let message = note["message"].as_str().unwrap();
    assert!(message.contains("tag:GetResources is denied"), "{message}");
}
