//! Unit tests of the shared tag handling: pure normalize and diff, and mocked AWS calls.

use super::*;

fn m(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn delta_touches_only_the_difference() {
    let (add, remove) = delta(
        &m(&[("a", "1"), ("b", "2")]),
        &m(&[("a", "1"), ("b", "0"), ("c", "3")]),
    );
    assert_eq!(add, m(&[("b", "2")]));
    assert_eq!(remove, vec!["c".to_string()]);
}

#[test]
fn one_wording_for_every_service() {
    let mut issues = Issues::default();
    let long = "x".repeat(300);
    let tags = m(&[("aws:x", "1"), (OWNER_TAG, "me"), ("k", long.as_str())]);
    validate(&tags, &AWS_RULES, &mut issues);
    let msgs: Vec<&str> = issues.0.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        vec![
            "tag keys starting with aws: are reserved for AWS; rename the tag",
            "a tag value is at most 256 characters long",
            "vigil:owner is set by vigil from Settings.owner; remove it here",
        ]
    );
    let many: Tags = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    let mut issues = Issues::default();
    validate(&many, &AWS_RULES, &mut issues);
    assert_eq!(
        issues.0[0].1,
        "at most 50 tags are allowed, and vigil adds its owner tag: keep 49 or fewer"
    );
}

#[test]
fn owner_is_added_and_taken_away() {
    let env = Env {
        owner: "lab".into(),
        ..Env::default()
    };
    let t = with_owner(&m(&[("team", "ops")]), &env);
    assert_eq!(owner(&t), Some("lab"));
    assert_eq!(without_owner(&t), m(&[("team", "ops")]));
}

/// Four alarms: `a` comes back from GetResources with its owner tag, `b`
/// not at all and `c` without the owner tag (the Tagging API lagging behind
/// the create), `d` not at all. The inventory lists a, b and c: only b and
/// c are confirmed with ListTagsForResource; d, which vigil never recorded,
/// costs nothing and stays untagged.
#[tokio::test]
async fn inventoried_resources_the_batch_missed_are_confirmed_one_call_each() {
    use crate::aws::testing::{MockClients, aws_with, tagging_client, tagging_rule};
    use crate::kinds::metric_alarm::MetricAlarm;
    use crate::kinds::{LiveOwner, Wanted};
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_cloudwatch::types::{MetricAlarm as SdkAlarm, Tag};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let arn = |n: &str| format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{n}");
    let alarms: Vec<SdkAlarm> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| {
            SdkAlarm::builder()
                .alarm_name(*n)
                .alarm_arn(arn(n))
                .metric_name("CPUUtilization")
                .namespace("AWS/EC2")
                .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
                .period(300)
                .evaluation_periods(1)
                .threshold(80.0)
                .comparison_operator(
                    aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
                )
                .build()
        })
        .collect();
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .set_metric_alarms(Some(alarms.clone()))
            .build()
    });
    let (arn_b, arn_c) = (arn("b"), arn("c"));
    let list = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource)
        .match_requests(move |r| {
            r.resource_arn() == Some(arn_b.as_str()) || r.resource_arn() == Some(arn_c.as_str())
        })
        .then_output(|| {
            ListTagsForResourceOutput::builder()
                .tags(Tag::builder().key(OWNER_TAG).value("test").build())
                .build()
        });
    let (arn_a, arn_c) = (arn("a"), arn("c"));
    let batch = tagging_rule(&[
        (arn_a.as_str(), &[(OWNER_TAG, "test")]),
        (arn_c.as_str(), &[("team", "ops")]),
    ]);
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&describe, &list]
        )),
        tagging: Some(tagging_client(&[&batch])),
        ..Default::default()
    });
    let mut wanted = Wanted::names(
        ["a", "b", "c", "d"]
            .iter()
            .map(|n| (n.to_string(), serde_json::Value::Null))
            .collect(),
    );
    wanted.inventoried = ["a", "b", "c"].iter().map(|n| n.to_string()).collect();
    let obs = crate::kinds::observe::<MetricAlarm>(&aws, &wanted)
        .await
        .unwrap();
    let owners: Vec<(&str, &LiveOwner)> = obs
        .found
        .iter()
        .map(|(n, o)| (n.as_str(), &o.owner))
        .collect();
    let ours = LiveOwner::Tagged("test".into());
    assert_eq!(
        owners,
        vec![
            ("a", &ours),
            ("b", &ours),
            ("c", &ours),
            ("d", &LiveOwner::Untagged)
        ]
    );
    assert_eq!(batch.num_calls(), 1, "one page of GetResources");
    assert_eq!(list.num_calls(), 2, "b and c confirmed, nothing else");
    assert!(obs.notes.is_empty(), "{:?}", obs.notes);
}

/// A no-op cycle where every alarm carries its owner tag stays at pages.
#[tokio::test]
async fn owned_and_tagged_resources_cost_no_confirm_call() {
    use crate::aws::testing::{MockClients, aws_with, tagging_client, tagging_rule};
    let arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a";
    let batch = tagging_rule(&[(arn, &[(OWNER_TAG, "test"), ("team", "ops")])]);
    let aws = aws_with(MockClients {
        tagging: Some(tagging_client(&[&batch])),
        ..Default::default()
    });
    let ids = vec![arn.to_string()];
    let confirm: HashSet<String> = ids.iter().cloned().collect();
    let read = super::super::metric_alarm::TAGS.read;
    let found = super::read(&aws, &read, &ids, None, &confirm)
        .await
        .unwrap();
    assert_eq!(found.tags[arn], m(&[(OWNER_TAG, "test"), ("team", "ops")]));
    assert_eq!(batch.num_calls(), 1);
}

#[tokio::test]
async fn a_prefetched_walk_answers_the_read_after_the_observe() {
    use crate::aws::testing::{MockClients, aws_with, tagging_client, tagging_rule};
    let arn = |i: usize| format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a{i}");
    let owned = [(OWNER_TAG, "test")];
    let arns: Vec<String> = (0..150).map(arn).collect();
    let listed: Vec<(&str, &[(&str, &str)])> =
        arns.iter().map(|a| (a.as_str(), &owned[..])).collect();
    let walk = tagging_rule(&listed);
    let aws = aws_with(MockClients {
        tagging: Some(tagging_client(&[&walk])),
        ..Default::default()
    });
    let read = super::super::metric_alarm::TAGS.read;
    // The account held 150 last time and 150 are wanted: two pages either way, so walk early.
    prefetch(&aws, &read, 150, Some(150)).await;
    assert_eq!(walk.num_calls(), 1, "the mock answers every page at once");
    let found = super::read(&aws, &read, &arns, None, &HashSet::new())
        .await
        .unwrap();
    assert_eq!(found.tags.len(), 150);
    assert_eq!(walk.num_calls(), 1, "the read used the walk");
    // Three wanted out of a thousand, or an unknown account: nothing is prefetched.
    let idle = tagging_rule(&listed);
    let aws = aws_with(MockClients {
        tagging: Some(tagging_client(&[&idle])),
        ..Default::default()
    });
    prefetch(&aws, &read, 3, Some(1000)).await;
    prefetch(&aws, &read, 3, None).await;
    assert_eq!(idle.num_calls(), 0);
}

#[test]
fn log_group_arns_match_without_the_wildcard() {
    assert_eq!(
        arn_key("arn:aws:logs:r:1:log-group:/a:*"),
        "arn:aws:logs:r:1:log-group:/a"
    );
}
