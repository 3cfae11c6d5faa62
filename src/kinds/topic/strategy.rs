//! The topic kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::{Tags, with_owner};
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct SubscriptionSem {
    pub protocol: String,
    pub endpoint: String,
    pub raw: Option<bool>,
    pub filter: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct TopicSem {
    pub name: String,
    pub display: String,
    pub delivery_policy: Option<Value>,
    pub signature: Option<u8>,
    pub subscriptions: Vec<SubscriptionSem>,
    pub tags: Tags,
}

fn subscription() -> impl Strategy<Value = SubscriptionSem> {
    (
        select(
            &[
                ("email", "ops@example.com"),
                ("email-json", "dev@example.com"),
                ("sqs", "arn:aws:sqs:us-east-1:123456789012:queue"),
                ("https", "https://example.com/hook"),
                ("lambda", "arn:aws:lambda:us-east-1:123456789012:function:f"),
            ][..],
        ),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            Just(json!({"severity": ["high", "critical"]})),
            Just(json!({"price": [{"numeric": [">=", 100]}]})),
        ]),
    )
        .prop_map(|((p, e), raw, filter)| {
            // Pending email subscriptions cannot be read back: they carry no attributes.
            let pending = p.starts_with("email");
            SubscriptionSem {
                protocol: p.into(),
                endpoint: e.into(),
                raw: if pending || p == "lambda" { None } else { raw },
                filter: if pending { None } else { filter },
            }
        })
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["monitoring-lab-alerts", "ops_topic", "t-1"][..]),
        select(&["", "Lab Alerts", "ünïcode"][..]),
        prop::option::of(select(&[3, 5][..]).prop_map(|n| {
            json!({"http": {"defaultHealthyRetryPolicy": {"numRetries": n, "minDelayTarget": 20, "maxDelayTarget": 20}}})
        })),
        prop::option::of(select(&[1u8, 2][..])),
        vec(subscription(), 0..4),
        tags(),
    )
        .prop_map(|(name, display, dp, sig, subs, tags)| {
            let mut seen = std::collections::BTreeSet::new();
            let subscriptions = subs
                .into_iter()
                .filter(|s| seen.insert((s.protocol.clone(), s.endpoint.clone())))
                .collect();
            TopicSem {
                name: name.into(),
                display: display.into(),
                delivery_policy: dp,
                signature: sig,
                subscriptions,
                tags,
            }
        });
    case(sem, |s| s.name.clone(), render_topic)
}

/// A JSON attribute as a mapping, or as the JSON text AWS keeps.
fn json_attr(v: &Value, st: Style) -> Value {
    let v = respell(v, st);
    if st.coin("text") {
        Value::String(v.to_string())
    } else {
        v
    }
}

fn render_topic(s: &TopicSem, st: Style) -> Value {
    let mut attrs: Vec<(&str, Value)> = Vec::new();
    if let Some(p) = &s.delivery_policy {
        attrs.push(("DeliveryPolicy", json_attr(p, st.sub("dp"))));
    }
    if let Some(v) = s.signature {
        // SNS keeps every attribute as text; a number or a string says the same.
        let v = if st.coin("sig") {
            json!(v)
        } else {
            json!(v.to_string())
        };
        attrs.push(("SignatureVersion", v));
    }
    // The display name may go in its own field or among the attributes.
    let display_in_attrs = !s.display.is_empty() && st.coin("displayInAttrs");
    if display_in_attrs {
        attrs.push(("DisplayName", json!(s.display)));
    }
    let subs: Vec<Value> = s
        .subscriptions
        .iter()
        .map(|sub| {
            let ss = st.sub(&sub.endpoint);
            let mut a: Vec<(&str, Value)> = Vec::new();
            if let Some(r) = sub.raw {
                a.push((
                    "RawMessageDelivery",
                    if ss.coin("raw") {
                        json!(r)
                    } else {
                        json!(r.to_string())
                    },
                ));
            }
            if let Some(f) = &sub.filter {
                a.push(("FilterPolicy", json_attr(f, ss.sub("filter"))));
            }
            Obj::new()
                .put("protocol", sub.protocol.as_str())
                .put("endpoint", sub.endpoint.as_str())
                .when(
                    !a.is_empty() || ss.coin("attrs{}"),
                    "attributes",
                    object(ss, "attrs", a),
                )
                .done(ss, "sub")
        })
        .collect();
    let o = Obj::new()
        .when(
            !display_in_attrs && (!s.display.is_empty() || st.coin("display")),
            "displayName",
            s.display.as_str(),
        )
        .when(
            !attrs.is_empty() || st.coin("attrs{}"),
            "attributes",
            object(st, "attrs", attrs),
        )
        .when(
            !subs.is_empty() || st.coin("subs[]"),
            "subscriptions",
            json!(st.shuffled("subs", &subs)),
        );
    plain_tags(o, &s.tags, st).done(st, "topic")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &topic::Spec, st: Style, env: &Env) -> topic::Live {
    let arn = format!("arn:aws:sns:{}:{}:{name}", env.region, env.account_id);
    let mut attributes = default_topic_attributes(&arn, env);
    for (k, v) in &s.attributes {
        attributes.insert(k.clone(), sns_text(v, st.sub(k)));
    }
    if let Some(d) = &s.display_name {
        attributes.insert("DisplayName".into(), json!(d));
    } else if !attributes.contains_key("DisplayName") && st.coin("display") {
        attributes.insert("DisplayName".into(), json!(""));
    }
    let subscriptions = s
        .subscriptions
        .iter()
        .map(|sub| {
            // Email subscriptions wait for someone to confirm; their attributes cannot be read.
            let pending = sub.protocol.starts_with("email");
            let mut attributes = BTreeMap::new();
            if !pending && !sub.attributes.is_empty() {
                attributes.insert("RawMessageDelivery".into(), json!("false"));
                attributes.insert("PendingConfirmation".into(), json!("false"));
                attributes.insert("Protocol".into(), json!(sub.protocol));
                for (k, v) in &sub.attributes {
                    attributes.insert(k.clone(), sns_text(v, st.sub(&sub.endpoint).sub(k)));
                }
            }
            topic::LiveSubscription {
                protocol: sub.protocol.clone(),
                endpoint: sub.endpoint.clone(),
                arn: (!pending).then(|| format!("{arn}:0000-{}", sub.protocol)),
                attributes,
            }
        })
        .collect::<Vec<_>>();
    let order: Vec<usize> = (0..subscriptions.len()).collect();
    topic::Live {
        arn,
        attributes,
        tags: with_owner(&s.tags, env),
        subscriptions: st
            .shuffled("subs", &order)
            .into_iter()
            .map(|i| subscriptions[i].clone())
            .collect(),
    }
}

/// Import keeps only attributes someone set on purpose and never AWS's
/// defaults (so not Policy, DeliveryPolicy, SignatureVersion or TracingConfig),
/// and no subscription attributes.
pub fn imported(s: &topic::Spec) -> topic::Spec {
    let mut s = s.clone();
    if let Some(Value::String(d)) = s.attributes.remove("DisplayName") {
        s.display_name = Some(d);
    }
    s.attributes.retain(|k, v| topic::set_on_purpose(k, v));
    for sub in &mut s.subscriptions {
        sub.attributes.clear();
    }
    s
}
