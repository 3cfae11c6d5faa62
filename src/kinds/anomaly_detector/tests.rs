//! Unit tests of the anomaly detector kind: validation, normalize, identity,
//! and observe, apply, delete and import against replayed CloudWatch answers.

use std::sync::Arc;

use serde_json::json;

use super::replay::{aws_over, delete_not_found, foreign, rules};
use super::*;
use crate::kinds::{KindId, Wanted};
use crate::testkit::replay::{Shared, shared};

fn spec(v: Value) -> Spec {
    serde_json::from_value(v).unwrap()
}

fn response_time() -> Value {
    json!({
        "namespace": "MonitoringLab/Application",
        "metricName": "ResponseTime",
        "dimensions": {"Environment": "lab"},
        "stat": "Average",
        "configuration": {
            "excludedTimeRanges": [{"startTime": "2026-01-04T18:00:00", "endTime": "2026-01-04T20:00:00"}],
            "metricTimezone": "Asia/Tokyo"
        }
    })
}

fn math_spec() -> Value {
    json!({"metricDataQueries": [
        {"id": "m1", "returnData": false, "metricStat": {
            "metric": {"namespace": "Custom/App", "metricName": "Requests"}, "period": 300, "stat": "Sum"}},
        {"id": "e1", "expression": "RATE(m1)"}
    ]})
}

fn issues(v: Value) -> Vec<(String, String)> {
    let mut i = Issues::default();
    AnomalyDetector::validate(&spec(v), &mut i);
    let text = |segs: &[crate::yaml::Seg]| {
        let mut p = String::new();
        for s in segs {
            match s {
                crate::yaml::Seg::Key(k) if p.is_empty() => p.push_str(k),
                crate::yaml::Seg::Key(k) => p.push_str(&format!(".{k}")),
                crate::yaml::Seg::Index(n) => p.push_str(&format!("[{n}]")),
            }
        }
        p
    };
    i.0.iter().map(|(p, m)| (text(p), m.clone())).collect()
}

fn paths(v: Value) -> Vec<String> {
    issues(v).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn the_lab_detector_and_a_math_detector_are_valid() {
    assert_eq!(issues(response_time()), vec![]);
    assert_eq!(issues(math_spec()), vec![]);
}

#[test]
fn one_metric_or_metric_math_not_both_nor_neither() {
    let mut both = math_spec();
    both["metricName"] = json!("ResponseTime");
    assert_eq!(paths(both), ["metricDataQueries"]);
    assert_eq!(paths(json!({})), ["metricName"]);
    assert_eq!(
        paths(json!({"namespace": "A", "metricName": "B"})),
        ["stat"]
    );
}

#[test]
fn stat_forms_follow_aws() {
    for ok in [
        "Average",
        "SampleCount",
        "p99",
        "p99.9",
        "p0",
        "p100",
        "tm90",
        "wm99",
        "tc90",
        "ts99.5",
        "TM(10%:90%)",
        "PR(:300)",
        "TC(0.005:0.030)",
        "IQM",
    ] {
        assert!(valid_stat(ok), "{ok}");
    }
    for bad in [
        "average",
        "p101",
        "p",
        "p9.",
        "TM()",
        "TM(:)",
        "Avg",
        "tm",
        "PR(10%:x)",
    ] {
        assert!(!valid_stat(bad), "{bad}");
    }
    let mut v = response_time();
    v["stat"] = json!("Mean");
    assert_eq!(paths(v), ["stat"]);
}

#[test]
fn excluded_ranges_end_after_they_start_and_are_times() {
    let mut v = response_time();
    v["configuration"]["excludedTimeRanges"] = json!([
        {"startTime": "2026-01-04T20:00:00", "endTime": "2026-01-04T18:00:00"},
        {"startTime": "next tuesday", "endTime": "2026-01-04T18:00:00+09:00"},
    ]);
    assert_eq!(
        paths(v),
        [
            "configuration.excludedTimeRanges[0].endTime",
            "configuration.excludedTimeRanges[1].startTime",
            "configuration.excludedTimeRanges[1].endTime"
        ]
    );
    let mut v = response_time();
    v["configuration"]["excludedTimeRanges"] = json!(
        (0..11)
            .map(|d| json!({"startTime": format!("2026-02-{:02}T00:00:00", d + 1), "endTime": format!("2026-02-{:02}T01:00:00", d + 1)}))
            .collect::<Vec<_>>()
    );
    assert_eq!(paths(v), ["configuration.excludedTimeRanges"]);
}

#[test]
fn timezones_are_tz_database_names() {
    for ok in [
        "UTC",
        "Asia/Tokyo",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+9",
    ] {
        assert!(valid_timezone(ok), "{ok}");
    }
    for bad in ["JST", "Tokyo", "Asia/", "asia/tokyo", "Mars/Olympus"] {
        assert!(!valid_timezone(bad), "{bad}");
    }
    let mut v = response_time();
    v["configuration"]["metricTimezone"] = json!("JST");
    assert_eq!(paths(v), ["configuration.metricTimezone"]);
}

#[test]
fn enumerations_and_math_rules() {
    let mut v = response_time();
    v["configuration"]["adaptationSpeed"] = json!("QUICK");
    v["configuration"]["outlierFilteringStrength"] = json!("LOOSE");
    assert_eq!(
        paths(v),
        [
            "configuration.adaptationSpeed",
            "configuration.outlierFilteringStrength"
        ]
    );
    let mut v = math_spec();
    v["metricDataQueries"][0]["returnData"] = json!(true);
    v["metricDataQueries"][1]["id"] = json!("m1");
    assert_eq!(paths(v), ["metricDataQueries[1].id", "metricDataQueries"]);
}

#[test]
fn identity_fields_hold_no_references() {
    let mut v = response_time();
    v["dimensions"] = json!({"InstanceId": "${Stack/lab.outputs.WebServerInstanceId}"});
    assert_eq!(paths(v), ["dimensions.InstanceId"]);
    // A literal `$${` is no reference.
    let mut v = response_time();
    v["dimensions"] = json!({"Path": "$${x}"});
    assert_eq!(paths(v), Vec::<String>::new());
}

#[test]
fn normalize_fills_defaults_and_reads_times_in_utc() {
    let env = Env::default();
    let a = AnomalyDetector::normalize(
        &spec(json!({"namespace": "N", "metricName": "M", "stat": "p99",
            "configuration": {"excludedTimeRanges": [
                {"startTime": "2026-01-05T00:00:00", "endTime": "2026-01-05T01:00:00"},
                {"startTime": "2026-01-04T00:00:00Z", "endTime": "2026-01-04T01:00:00"}]}})),
        &env,
    );
    assert_eq!(
        a["configuration"],
        json!({
            "excludedTimeRanges": [
                {"startTime": "2026-01-04T00:00:00Z", "endTime": "2026-01-04T01:00:00Z"},
                {"startTime": "2026-01-05T00:00:00Z", "endTime": "2026-01-05T01:00:00Z"}],
            "metricTimezone": "UTC",
            "adaptationSpeed": "NORMAL",
            "outlierFilteringStrength": "MODERATE"
        })
    );
    assert_eq!(a["metricCharacteristics"], json!({"periodicSpikes": false}));
    // The canonical form is a spec that normalizes to itself.
    let again = AnomalyDetector::normalize(&spec(a.clone()), &env);
    assert_eq!(a, again);
}

#[test]
fn a_changed_metric_replaces_the_detector_and_configuration_does_not() {
    let env = Env::default();
    let a = AnomalyDetector::normalize(&spec(response_time()), &env);
    let mut other = response_time();
    other["stat"] = json!("p90");
    let b = AnomalyDetector::normalize(&spec(other), &env);
    assert!(replaces(&AnomalyDetector::diff(&b, &a)));
    let mut cfg = response_time();
    cfg["configuration"]["metricTimezone"] = json!("Europe/Paris");
    let c = AnomalyDetector::normalize(&spec(cfg), &env);
    let d = AnomalyDetector::diff(&c, &a);
    assert_eq!(d.len(), 1);
    assert!(!replaces(&d));
}

#[test]
fn observe_walks_as_few_detectors_as_the_declared_ones_allow() {
    let s = spec(response_time());
    let mut t = spec(response_time());
    t.metric_name = Some("Latency".into());
    let w = walk_for(false, &[&s, &t]).unwrap();
    assert_eq!(w.namespace.as_deref(), Some("MonitoringLab/Application"));
    assert_eq!(w.metric_name, None);
    assert_eq!(w.types, [AnomalyDetectorType::SingleMetric]);
    let m = spec(math_spec());
    let w = walk_for(false, &[&s, &m]).unwrap();
    assert_eq!(w.namespace, None);
    assert_eq!(
        w.types,
        [
            AnomalyDetectorType::SingleMetric,
            AnomalyDetectorType::MetricMath
        ]
    );
    assert_eq!(walk_for(false, &[]), None);
}

fn wanted(pairs: &[(&str, Value)]) -> Wanted {
    Wanted::names(
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect(),
    )
}

fn table_with(extra: usize) -> Shared<Vec<aws_sdk_cloudwatch::types::AnomalyDetector>> {
    let mut v = vec![foreign()];
    for i in 0..extra {
        v.push(
            aws_sdk_cloudwatch::types::AnomalyDetector::builder()
                .anomaly_detector_id(format!("ad-x{i}"))
                .single_metric_anomaly_detector(
                    SingleMetricAnomalyDetector::builder()
                        .namespace("MonitoringLab/Application")
                        .metric_name(format!("Other{i}"))
                        .stat("Average")
                        .build(),
                )
                .build(),
        );
    }
    shared(v)
}

#[tokio::test]
async fn create_then_nothing_then_an_update_then_a_replacement() {
    let table = table_with(3);
    let [put, describe, delete] = rules(&table);
    let aws = aws_over(&[&put, &describe, &delete]);
    let w = wanted(&[("lab-response-time", response_time())]);
    let id = KindId::AnomalyDetector;

    let before = id.observe(&aws, &w).await.unwrap();
    assert!(before.found.is_empty());
    // One walk filtered by the declared metric: the other detectors are not read.
    assert_eq!(describe.num_calls(), 1);
    let fixtures = crate::testkit::fixtures::apply_as_planned;
    fixtures(&aws, id, "lab-response-time", &response_time(), None)
        .await
        .unwrap();
    assert_eq!((put.num_calls(), delete.num_calls()), (1, 0));

    let aws = aws.next_cycle();
    let after = id.observe(&aws, &w).await.unwrap();
    let live = &after.found["lab-response-time"];
    assert_eq!(live.attrs.get("metricName").unwrap(), "ResponseTime");
    assert_eq!(live.attrs.get("name").unwrap(), "lab-response-time");
    assert!(live.notes[0].contains("still training"));
    let desired = id.normalize(&response_time(), &aws.env).unwrap();
    assert_eq!(id.diff(&desired, &live.state(&aws.env)), vec![]);
    fixtures(&aws, id, "lab-response-time", &response_time(), Some(live))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1, "a second run writes nothing");

    // A configuration change: one PutAnomalyDetector over the same detector.
    let mut v = response_time();
    v["configuration"]["adaptationSpeed"] = json!("SLOW");
    fixtures(&aws, id, "lab-response-time", &v, Some(live))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), delete.num_calls()), (2, 0));
    assert_eq!(table.lock().unwrap().len(), 5);

    // Another statistic is another detector: the old one goes first.
    let mut v = response_time();
    v["stat"] = json!("p90");
    let d = id.desired(&v, &aws.env).unwrap();
    let explained = id
        .explain(&aws, "lab-response-time", &d.spec, Some(live))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(explained[0].path, "(replacement)");
    assert!(
        explained[0]
            .to
            .as_ref()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("DeleteAnomalyDetector"),
        "{explained:?}"
    );
    fixtures(&aws, id, "lab-response-time", &v, Some(live))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), delete.num_calls()), (3, 1));
    let t = table.lock().unwrap();
    assert_eq!(t.len(), 5);
    assert!(
        t.iter()
            .any(|d| d.single_metric_anomaly_detector().and_then(|s| s.stat()) == Some("p90"))
    );
}

#[tokio::test]
async fn math_detectors_are_found_by_their_queries() {
    let table = table_with(1);
    let [put, describe, delete] = rules(&table);
    let aws = aws_over(&[&put, &describe, &delete]);
    let id = KindId::AnomalyDetector;
    crate::testkit::fixtures::apply_as_planned(&aws, id, "requests", &math_spec(), None)
        .await
        .unwrap();
    let w = wanted(&[("requests", math_spec()), ("lab", response_time())]);
    let found = id.observe(&aws.next_cycle(), &w).await.unwrap().found;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["requests"]);
    let desired = id.normalize(&math_spec(), &aws.env).unwrap();
    assert_eq!(
        id.diff(&desired, &found["requests"].state(&aws.env)),
        vec![]
    );
}

#[tokio::test]
async fn an_undeclared_detector_is_found_by_its_inventory_record_and_deleted() {
    let table = table_with(2);
    let [put, describe, delete] = rules(&table);
    let aws = aws_over(&[&put, &describe, &delete]);
    let id = KindId::AnomalyDetector;
    crate::testkit::fixtures::apply_as_planned(&aws, id, "old", &response_time(), None)
        .await
        .unwrap();
    // Left the directory: observe gets no spec, only what the inventory recorded.
    let mut w = wanted(&[("old", Value::Null), ("never-applied", Value::Null)]);
    let recorded = id.normalize(&response_time(), &aws.env).unwrap();
    w.applied.insert("old".into(), Arc::new(recorded));
    let obs = id.observe(&aws.next_cycle(), &w).await.unwrap();
    assert_eq!(obs.found.keys().collect::<Vec<_>>(), ["old"]);
    assert_eq!(obs.found["old"].owner, crate::kinds::LiveOwner::Untaggable);
    id.delete(&aws, "old", &obs.found["old"]).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(table.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn nothing_wanted_is_no_call_and_import_names_every_detector() {
    let table = table_with(2);
    let [put, describe, delete] = rules(&table);
    let aws = aws_over(&[&put, &describe, &delete]);
    let id = KindId::AnomalyDetector;
    id.observe(&aws, &Wanted::default()).await.unwrap();
    assert_eq!(describe.num_calls(), 0);
    crate::testkit::fixtures::apply_as_planned(&aws, id, "requests", &math_spec(), None)
        .await
        .unwrap();
    let all = id
        .observe(&aws.next_cycle(), &Wanted::everything())
        .await
        .unwrap()
        .found;
    let names: Vec<&String> = all.keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    // Every page of one walk (one detector a page in the replay).
    assert_eq!(describe.num_calls(), 4);
    assert!(names.contains(&&"AWS/EC2/NetworkIn/Average".to_string()));
    assert!(names.iter().any(|n| n.starts_with("math/e1/")));
    for (n, o) in &all {
        assert!(AnomalyDetector::validate_name(n).is_ok());
        // Imported, each plans no change.
        let s: Spec = serde_json::from_value(o.spec.clone()).unwrap();
        assert_eq!(issues(o.spec.clone()), vec![], "{n}");
        let d = id.diff(
            &AnomalyDetector::normalize(&s, &aws.env),
            &o.state(&aws.env),
        );
        assert_eq!(d, vec![], "{n}");
    }
}

#[tokio::test]
async fn deleting_a_detector_already_gone_is_done() {
    let gone = delete_not_found();
    let aws = aws_over(&[&gone]);
    let live = Live {
        name: "x".into(),
        id: None,
        spec: spec(response_time()),
        state: None,
    };
    AnomalyDetector::delete(&aws, "x", &live).await.unwrap();
    assert_eq!(gone.num_calls(), 1);
}
