use std::collections::BTreeMap;

use aws_sdk_cloudwatch::operation::get_alarm_mute_rule::GetAlarmMuteRuleOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

use super::replay::{Account, arn, aws_over, rules};
use super::*;
use crate::aws::ErrorClass;
use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::{KindId, OWNER_TAG};
use crate::testkit::fixtures::{apply_as_planned, desired_state_spec, observe_live};

fn spec(v: Value) -> Spec {
    serde_json::from_value(v).unwrap()
}

fn weekly() -> Value {
    json!({
        "rule": {"schedule": {"expression": "cron(0 2 * * SUN)", "duration": "PT2H", "timezone": "Asia/Tokyo"}},
        "muteTargets": {"alarmNames": ["HighCPUUtilization", "HighErrorRate"]},
    })
}

/// The messages `validate` gives, by field path.
fn problems(v: Value) -> Vec<(String, String)> {
    let mut issues = Issues::default();
    AlarmMuteRule::validate(&spec(v), &mut issues);
    issues
        .0
        .into_iter()
        .map(|(path, m)| (dotted(&path), m))
        .collect()
}

/// `a.b[1]`, as the paths are written.
fn dotted(path: &[crate::yaml::Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            crate::yaml::Seg::Key(k) if s.is_empty() => s.push_str(k),
            crate::yaml::Seg::Key(k) => s.push_str(&format!(".{k}")),
            crate::yaml::Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn with(mut v: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut v;
    for p in &path[..path.len() - 1] {
        at = at.get_mut(*p).unwrap();
    }
    at[path[path.len() - 1]] = value;
    v
}

#[test]
fn the_labs_maintenance_window_is_valid() {
    let s = desired_state_spec(
        "alarms/maintenance-window.yaml",
        KindId::AlarmMuteRule,
        "monitoring-lab-weekly-maintenance",
    );
    assert_eq!(s["rule"]["schedule"]["timezone"], "Asia/Tokyo");
    assert_eq!(s["muteTargets"]["alarmNames"].as_array().unwrap().len(), 4);
    assert!(problems(s).is_empty());
}

#[test]
fn schedule_expressions_follow_awss_two_forms() {
    for ok in [
        "cron(0 2 * * SUN)",
        "cron(0 2 * * *)",
        "cron(0 1 1 * *)",
        "cron(0,30 9-17 * JAN-MAR MON-FRI)",
        "cron(59 23 31 12 7)",
        "at(2026-05-10T14:00)",
    ] {
        assert_eq!(expression_problem(ok), None, "{ok}");
    }
    for (bad, says) in [
        ("rate(7 days)", "neither cron(...) nor at(...)"),
        ("cron(0 2 ? * SUN *)", "has 6 fields"),
        ("cron(0 2 * *)", "has 4 fields"),
        ("cron(60 2 * * SUN)", "not a valid minutes field"),
        ("cron(0 24 * * *)", "not a valid hours field"),
        ("cron(0 2 0 * *)", "not a valid day-of-month field"),
        ("cron(0 2 * FOO *)", "not a valid month field"),
        ("cron(0 2 * * SUNDAY)", "not a valid day-of-week field"),
        ("at(2026-05-10T14:00:00)", "at(yyyy-MM-ddThh:mm)"),
        ("at(2026-13-10T14:00)", "at(yyyy-MM-ddThh:mm)"),
        ("at(2026-05-10 14:00)", "at(yyyy-MM-ddThh:mm)"),
        ("", "1 to 256 characters"),
    ] {
        let m = expression_problem(bad).unwrap_or_else(|| panic!("{bad} passed"));
        assert!(m.contains(says), "{bad}: {m}");
    }
}

#[test]
fn durations_are_days_hours_and_minutes_from_one_minute_to_fifteen_days() {
    for (s, minutes) in [
        ("PT2H", 120),
        ("PT120M", 120),
        ("P2DT12H", 3600),
        ("P1W", 10080),
        ("PT60S", 1),
        ("P15D", 21600),
    ] {
        assert_eq!(duration_minutes(s), Ok(minutes), "{s}");
    }
    for bad in [
        "2H", "P", "PT", "P1M", "P1Y", "PT1H2H", "PTH", "PT1.5H", "PT2M1H",
    ] {
        assert!(duration_minutes(bad).is_err(), "{bad}");
    }
    assert!(
        duration_minutes("PT90S")
            .unwrap_err()
            .contains("whole number of minutes")
    );
    assert_eq!(canonical_duration(120), "PT2H");
    assert_eq!(canonical_duration(3600), "P2DT12H");
    assert_eq!(canonical_duration(10080), "P7D");
    assert_eq!(canonical_duration(61), "PT1H1M");
    assert_eq!(canonical_duration(0), "PT0M");

    let p = problems(with(
        weekly(),
        &["rule", "schedule", "duration"],
        json!("P16D"),
    ));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "rule.schedule.duration");
    assert!(p[0].1.contains("from PT1M (1 minute) to P15D"), "{p:?}");
    let p = problems(with(
        weekly(),
        &["rule", "schedule", "duration"],
        json!("PT0M"),
    ));
    assert_eq!(p.len(), 1, "{p:?}");
}

#[test]
fn timezones_targets_names_and_dates_are_checked_where_they_are() {
    let p = problems(with(
        weekly(),
        &["rule", "schedule", "timezone"],
        json!("JST +09:00"),
    ));
    assert_eq!(p[0].0, "rule.schedule.timezone");
    for tz in [
        "UTC",
        "Asia/Tokyo",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+9",
    ] {
        assert!(timezone_ok(tz), "{tz}");
    }
    assert!(!timezone_ok(&"A".repeat(51)));

    let many: Vec<String> = (0..101).map(|i| format!("alarm-{i}")).collect();
    let p = problems(with(weekly(), &["muteTargets", "alarmNames"], json!(many)));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "muteTargets.alarmNames");
    assert!(p[0].1.contains("at most 100"), "{p:?}");
    let p = problems(with(
        weekly(),
        &["muteTargets", "alarmNames"],
        json!(["ok", ""]),
    ));
    assert_eq!(p[0].0, "muteTargets.alarmNames[1]");

    assert!(AlarmMuteRule::validate_name(&"n".repeat(255)).is_ok());
    assert!(AlarmMuteRule::validate_name(&"n".repeat(256)).is_err());
    assert!(AlarmMuteRule::validate_name("").is_err());

    let dated = |start: &str, expire: &str| {
        let mut v = weekly();
        v["startDate"] = json!(start);
        v["expireDate"] = json!(expire);
        problems(v)
    };
    assert!(dated("2026-04-15T08:00:00Z", "2026-12-31T23:59:00+09:00").is_empty());
    let p = dated("2026-12-01T00:00:00Z", "2026-11-30T23:59:00Z");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "expireDate");
    let p = dated("2026-04-15T08:00:30Z", "2026-12-31T23:59:00Z");
    assert_eq!(p[0].0, "startDate");
    assert!(p[0].1.contains("write 2026-04-15T08:00:00Z"), "{p:?}");
    let p = dated("next tuesday", "2026-12-31T23:59:00Z");
    assert!(p[0].1.contains("not an RFC 3339"), "{p:?}");

    let p = problems(with(weekly(), &["description"], json!("d".repeat(1025))));
    assert_eq!(p[0].0, "description");
}

#[test]
fn normalize_fills_utc_sorts_targets_and_writes_durations_and_dates_once() {
    let env = crate::testkit::props::env();
    let a = spec(json!({
        "rule": {"schedule": {"expression": " cron(0 2 * * SUN) ", "duration": "PT120M"}},
        "muteTargets": {"alarmNames": ["b", "a", "b"]},
        "startDate": "2026-04-15T17:00:00+09:00",
        "description": "",
    }));
    assert_eq!(
        AlarmMuteRule::normalize(&a, &env),
        json!({
            "rule": {"schedule": {"expression": "cron(0 2 * * SUN)", "duration": "PT2H", "timezone": "UTC"}},
            "muteTargets": {"alarmNames": ["a", "b"]},
            "startDate": "2026-04-15T08:00:00Z",
        })
    );
    // No targets: the same as an empty list.
    let none = spec(
        json!({"rule": {"schedule": {"expression": "at(2026-05-10T14:00)", "duration": "PT1H"}}}),
    );
    assert_eq!(
        AlarmMuteRule::normalize(&none, &env)["muteTargets"],
        json!({"alarmNames": []})
    );
}

#[test]
fn arns_name_their_rule() {
    assert_eq!(
        name_of_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm-mute-rule:a:b"),
        Some("a:b")
    );
    assert_eq!(name_of_arn("arn:aws:cloudwatch:us-east-1:1:alarm:x"), None);
    let env = crate::testkit::props::env();
    assert_eq!(rule_arn(&env, "w"), arn("w"));
}

fn account_with(names: &[&str]) -> Account {
    let acct = Account::default();
    for n in names {
        acct.rules.lock().unwrap().insert(
            n.to_string(),
            GetAlarmMuteRuleOutput::builder()
                .name(*n)
                .alarm_mute_rule_arn(arn(n))
                .rule(
                    aws_sdk_cloudwatch::types::Rule::builder()
                        .schedule(
                            aws_sdk_cloudwatch::types::Schedule::builder()
                                .expression("cron(0 2 * * SUN)")
                                .duration("PT2H")
                                .timezone("UTC")
                                .build(),
                        )
                        .build(),
                )
                .status(aws_sdk_cloudwatch::types::AlarmMuteRuleStatus::Expired)
                .build(),
        );
        acct.tags
            .lock()
            .unwrap()
            .insert(arn(n), Tags::from([(OWNER_TAG.into(), "test".into())]));
    }
    acct
}

fn wanted(names: &[&str]) -> Wanted {
    Wanted::names(
        names
            .iter()
            .map(|n| (n.to_string(), Value::Null))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[tokio::test]
async fn observe_walks_every_page_and_reads_only_the_wanted_rules() {
    let mut acct = account_with(&["a", "b", "c", "d"]);
    acct.vanished = vec!["bb-gone".into()];
    let r = rules(&acct);
    let aws = aws_over(&r);
    let [list, get, put, delete, list_tags, tag, untag, get_resources] = &r;
    let found = observe_live::<AlarmMuteRule>(&aws, &wanted(&["b", "bb-gone", "nope"]))
        .await
        .unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["b"]);
    // Five rules, one a page; one GetAlarmMuteRule for each wanted rule listed
    // (the one deleted between the list and the read is absent, not an error).
    assert_eq!(list.num_calls(), 5);
    assert_eq!(get.num_calls(), 2);
    // Tags: the Tagging API by ARN list first, then ListTagsForResource when it lists none.
    assert_eq!(get_resources.num_calls(), 1);
    assert_eq!(list_tags.num_calls(), 1);
    assert_eq!(
        found["b"].spec.tags.as_ref().unwrap()[OWNER_TAG],
        "test".to_string()
    );
    assert_eq!(
        put.num_calls() + delete.num_calls() + tag.num_calls() + untag.num_calls(),
        0
    );
    // An expired rule says so.
    assert!(AlarmMuteRule::notes(&found["b"])[0].contains("expired"));
}

#[tokio::test]
async fn import_reads_every_rule_and_writes_specs_that_plan_nothing() {
    let acct = account_with(&["a", "b"]);
    let r = rules(&acct);
    let aws = aws_over(&r);
    let obs = KindId::AlarmMuteRule
        .observe(&aws, &Wanted::everything())
        .await
        .unwrap();
    assert_eq!(obs.found.len(), 2);
    for (name, o) in &obs.found {
        let spec = o.spec.clone();
        assert!(
            spec.get("tags").is_some_and(|t| t.get(OWNER_TAG).is_none()),
            "{spec:#}"
        );
        let desired = KindId::AlarmMuteRule.normalize(&spec, &aws.env).unwrap();
        // The owner tag is the live one (owner "test" in this account).
        let d = KindId::AlarmMuteRule.diff(&desired, &o.state(&aws.env));
        assert!(d.is_empty(), "{name}: {d:?}");
    }
}

#[tokio::test]
async fn a_tags_only_change_tags_without_putting_the_rule_again() {
    let acct = account_with(&[]);
    let r = rules(&acct);
    let aws = aws_over(&r);
    let [_, _, put, _, _, tag, untag, _] = &r;
    let mut v = weekly();
    v["tags"] = json!({"team": "ops"});
    apply_as_planned(&aws, KindId::AlarmMuteRule, "w", &v, None)
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1);
    assert_eq!(tag.num_calls(), 0, "tags go with the create");

    let aws = aws.next_cycle();
    let w = Wanted::names(BTreeMap::from([("w".to_string(), v.clone())]));
    let obs = KindId::AlarmMuteRule.observe(&aws, &w).await.unwrap();
    v["tags"] = json!({"team": "platform"});
    apply_as_planned(&aws, KindId::AlarmMuteRule, "w", &v, obs.found.get("w"))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1, "only the tags differ");
    assert_eq!(tag.num_calls(), 1);
    assert_eq!(untag.num_calls(), 0);
    assert_eq!(acct.tags.lock().unwrap()[&arn("w")]["team"], "platform");

    // A schedule change puts the whole rule again, and its targets as a set.
    let aws = aws.next_cycle();
    let obs = KindId::AlarmMuteRule.observe(&aws, &w).await.unwrap();
    v["rule"]["schedule"]["duration"] = json!("PT3H");
    apply_as_planned(&aws, KindId::AlarmMuteRule, "w", &v, obs.found.get("w"))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 2);
    let stored = acct.rules.lock().unwrap()["w"].clone();
    assert_eq!(
        stored.rule().unwrap().schedule().unwrap().duration(),
        Some("PT3H")
    );
    assert_eq!(
        stored.mute_targets().unwrap().alarm_names(),
        ["HighCPUUtilization", "HighErrorRate"]
    );
}

#[tokio::test]
async fn delete_removes_the_rule_and_a_missing_one_is_already_gone() {
    let acct = account_with(&["w"]);
    let r = rules(&acct);
    let aws = aws_over(&r);
    let obs = KindId::AlarmMuteRule
        .observe(&aws, &wanted(&["w"]))
        .await
        .unwrap();
    KindId::AlarmMuteRule
        .delete(&aws, "w", &obs.found["w"])
        .await
        .unwrap();
    assert!(acct.rules.lock().unwrap().is_empty());

    // Deleted by someone else meanwhile: AWS answers not found, which is done.
    let gone = mock!(aws_sdk_cloudwatch::Client::delete_alarm_mute_rule)
        .then_http_response(super::replay::not_found);
    let aws2 = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&gone]
        )),
        ..Default::default()
    });
    KindId::AlarmMuteRule
        .delete(&aws2, "w", &obs.found["w"])
        .await
        .unwrap();
    assert_eq!(gone.num_calls(), 1);
}

#[tokio::test]
async fn not_found_over_cbor_is_classified_as_absent() {
    let get = mock!(aws_sdk_cloudwatch::Client::get_alarm_mute_rule)
        .then_http_response(super::replay::not_found);
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&get]);
    let err = cw
        .get_alarm_mute_rule()
        .alarm_mute_rule_name("w")
        .send()
        .await
        .aws(SERVICE, "GetAlarmMuteRule")
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.class, ErrorClass::NotFound);
}

#[tokio::test]
async fn an_emulator_without_mute_rules_is_unsupported_not_retried() {
    // moto answers operations it lacks with an HTML page.
    let list = mock!(aws_sdk_cloudwatch::Client::list_alarm_mute_rules).then_http_response(|| {
        let mut r = HttpResponse::new(
            StatusCode::try_from(404).unwrap(),
            SdkBody::from("<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n"),
        );
        r.headers_mut()
            .insert("content-type", "text/html; charset=utf-8");
        r
    });
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&list]);
    let aws = aws_with(MockClients {
        cloudwatch: Some(cw),
        ..Default::default()
    });
    let err = observe_live::<AlarmMuteRule>(&aws, &wanted(&["w"]))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported);
    assert!(
        err.to_string()
            .starts_with("cloudwatch ListAlarmMuteRules: the endpoint does not implement this API"),
        "{err}"
    );
    assert_eq!(list.num_calls(), 1);
}

#[test]
fn references_to_alarms_resolve_into_the_targets() {
    // The engine substitutes `${MetricAlarm/X.name}` before the spec is read; the
    // resolved names are plain targets, compared as a set.
    let env = crate::testkit::props::env();
    let mut v = weekly();
    v["muteTargets"]["alarmNames"] = json!(["HighErrorRate", "HighCPUUtilization"]);
    let desired = KindId::AlarmMuteRule.desired(&v, &env).unwrap();
    assert_eq!(
        desired.state["muteTargets"]["alarmNames"],
        json!(["HighCPUUtilization", "HighErrorRate"])
    );
}
