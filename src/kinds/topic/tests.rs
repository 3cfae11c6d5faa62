//! Unit tests of the topic kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::testkit::fixtures::diff_of;

fn live(attrs: &[(&str, &str)], subs: Vec<LiveSubscription>) -> Live {
    Live {
        arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
        tags: BTreeMap::from([("vigil:owner".into(), "o".into())]),
        subscriptions: subs,
    }
}

fn env() -> Env {
    Env {
        owner: "o".into(),
        ..Env::default()
    }
}

#[test]
fn server_added_attributes_are_ignored() {
    let spec = Spec {
        display_name: Some("Alerts".into()),
        ..Spec::default()
    };
    let l = live(
        &[
            ("DisplayName", "Alerts"),
            ("Policy", r#"{"Version":"2008-10-17"}"#),
            ("EffectiveDeliveryPolicy", "{}"),
            ("SubscriptionsConfirmed", "3"),
        ],
        vec![],
    );
    assert!(diff_of::<Topic>(&spec, &l, &env()).is_empty());
}

// `attributes: {DisplayName: X}` set X on AWS, but normalized to an empty display
// name: a diff on every run that no write could fix.
#[test]
fn display_name_among_the_attributes_is_the_display_name() {
    let spec = Spec {
        attributes: BTreeMap::from([("DisplayName".to_string(), json!("Alerts"))]),
        ..Spec::default()
    };
    let l = live(&[("DisplayName", "Alerts")], vec![]);
    assert!(diff_of::<Topic>(&spec, &l, &env()).is_empty());
}

#[test]
fn json_attributes_compare_by_meaning() {
    let spec = Spec {
        attributes: BTreeMap::from([(
            "DeliveryPolicy".to_string(),
            json!({"http": {"defaultHealthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 20}}}),
        )]),
        ..Spec::default()
    };
    let l = live(
        &[(
            "DeliveryPolicy",
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"numRetries":3}}}"#,
        )],
        vec![],
    );
    assert!(diff_of::<Topic>(&spec, &l, &env()).is_empty());
}

#[test]
fn pending_subscription_is_not_a_change_and_is_reported() {
    let spec = Spec {
        subscriptions: vec![Subscription {
            protocol: "email".into(),
            endpoint: "ops@example.com".into(),
            attributes: BTreeMap::new(),
        }],
        ..Spec::default()
    };
    let l = live(
        &[],
        vec![LiveSubscription {
            protocol: "email".into(),
            endpoint: "ops@example.com".into(),
            arn: None,
            attributes: BTreeMap::new(),
        }],
    );
    assert!(diff_of::<Topic>(&spec, &l, &env()).is_empty());
    assert_eq!(Topic::pending(&l), vec!["email:ops@example.com"]);
}

#[test]
fn undeclared_subscription_shows_as_removal() {
    let l = live(
        &[],
        vec![LiveSubscription {
            protocol: "sqs".into(),
            endpoint: "arn:aws:sqs:us-east-1:1:q".into(),
            arn: Some("arn:sub".into()),
            attributes: BTreeMap::new(),
        }],
    );
    let d = diff_of::<Topic>(&Spec::default(), &l, &env());
    assert_eq!(d.len(), 1);
    assert!(d[0].path.starts_with("subscriptions["), "{}", d[0].path);
    assert!(d[0].to.is_none());
}
