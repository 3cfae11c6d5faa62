//! `Topic`: an SNS topic with its attributes, tags and subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsResultExt, Env};
use crate::diff::FieldDiff;
use crate::failpoint;

const SERVICE: &str = "sns";

/// What `ListSubscriptionsByTopic` shows instead of an ARN until someone confirms.
const PENDING: &str = "PendingConfirmation";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// SNS topic attributes by their AWS names. JSON ones (Policy, DeliveryPolicy)
    /// may be written as mappings. Only the attributes set here are compared.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscription {
    pub protocol: String,
    pub endpoint: String,
    /// Subscription attributes (RawMessageDelivery, FilterPolicy, ...); only these are compared.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct LiveSubscription {
    pub protocol: String,
    pub endpoint: String,
    /// `None` while pending confirmation.
    pub arn: Option<String>,
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub attributes: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
    pub subscriptions: Vec<LiveSubscription>,
}

const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];

/// Attributes AWS computes; never compared, never set.
const READ_ONLY: &[&str] = &[
    "TopicArn",
    "Owner",
    "SubscriptionsPending",
    "SubscriptionsConfirmed",
    "SubscriptionsDeleted",
    "EffectiveDeliveryPolicy",
];

/// JSON-valued attributes are compared as parsed JSON; others as strings.
fn attr_value(v: &Value) -> Value {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(j @ (Value::Object(_) | Value::Array(_))) => crate::diff::canonical(&j),
            _ => Value::String(s.clone()),
        },
        Value::Object(_) | Value::Array(_) => crate::diff::canonical(v),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Null => Value::String(String::new()),
    }
}

/// The string AWS expects for an attribute value.
fn attr_wire(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => v.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn sub_key(protocol: &str, endpoint: &str) -> String {
    format!("{protocol}:{endpoint}")
}

fn canonical(
    display_name: &str,
    attributes: &BTreeMap<String, Value>,
    tags: &BTreeMap<String, String>,
    subs: Vec<(String, String, BTreeMap<String, Value>)>,
) -> Value {
    let attrs: BTreeMap<&String, Value> = attributes
        .iter()
        .filter(|(k, _)| !READ_ONLY.contains(&k.as_str()) && k.as_str() != "DisplayName")
        .map(|(k, v)| (k, attr_value(v)))
        .collect();
    let subs: BTreeMap<String, Value> = subs
        .into_iter()
        .map(|(p, e, a)| {
            let a: BTreeMap<String, Value> =
                a.iter().map(|(k, v)| (k.clone(), attr_value(v))).collect();
            (sub_key(&p, &e), json!({ "attributes": a }))
        })
        .collect();
    json!({
        "displayName": display_name,
        "attributes": attrs,
        "tags": tags,
        "subscriptions": subs,
    })
}

/// Whether import keeps a topic attribute: not a default AWS adds (Policy,
/// DeliveryPolicy, SignatureVersion, TracingConfig) nor an empty value.
pub fn set_on_purpose(key: &str, value: &Value) -> bool {
    ![
        "Policy",
        "DeliveryPolicy",
        "SignatureVersion",
        "TracingConfig",
    ]
    .contains(&key)
        && value.as_str() != Some("")
}

pub struct Topic;

impl Kind for Topic {
    const NAME: &'static str = "Topic";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        super::check_name(
            base,
            256,
            |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
            "topic names allow A-Z, a-z, 0-9, - and _ (and a .fifo suffix)",
        )
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if s.display_name.is_some() && s.attributes.contains_key("DisplayName") {
            issues.at(
                "attributes.DisplayName",
                "set displayName or attributes.DisplayName, not both",
            );
        }
        for k in s.attributes.keys() {
            if READ_ONLY.contains(&k.as_str()) {
                issues.at(
                    &format!("attributes.{k}"),
                    format!("{k} is computed by AWS and cannot be set; remove it"),
                );
            }
        }
        let mut seen = BTreeSet::new();
        for (i, sub) in s.subscriptions.iter().enumerate() {
            if !PROTOCOLS.contains(&sub.protocol.as_str()) {
                issues.at(
                    &format!("subscriptions[{i}].protocol"),
                    format!(
                        "`{}` is not an SNS protocol; expected one of {}",
                        sub.protocol,
                        PROTOCOLS.join(", ")
                    ),
                );
            }
            if sub.endpoint.is_empty() {
                issues.at(
                    &format!("subscriptions[{i}].endpoint"),
                    "endpoint must not be empty; give the address the protocol delivers to",
                );
            }
            if sub.protocol.starts_with("email")
                && !sub.endpoint.contains('@')
                && !sub.endpoint.contains("${")
            {
                issues.at(
                    &format!("subscriptions[{i}].endpoint"),
                    format!(
                        "`{}` is not an email address; an {} subscription delivers to an address such as ops@example.com",
                        sub.endpoint, sub.protocol
                    ),
                );
            }
            if !seen.insert(sub_key(&sub.protocol, &sub.endpoint)) {
                issues.at(
                    &format!("subscriptions[{i}]"),
                    "the same protocol and endpoint are listed twice; remove one",
                );
            }
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        // Given either way (validation allows one of the two), it is the display name.
        let display = spec
            .display_name
            .as_deref()
            .or_else(|| spec.attributes.get("DisplayName").and_then(Value::as_str));
        canonical(
            display.unwrap_or_default(),
            &spec.attributes,
            &with_owner(&spec.tags, env),
            spec.subscriptions
                .iter()
                .map(|s| (s.protocol.clone(), s.endpoint.clone(), s.attributes.clone()))
                .collect(),
        )
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        let display = live
            .attributes
            .get("DisplayName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        canonical(
            display,
            &live.attributes,
            &live.tags,
            live.subscriptions
                .iter()
                .map(|s| (s.protocol.clone(), s.endpoint.clone(), s.attributes.clone()))
                .collect(),
        )
    }

    /// Only the attributes the manifest sets are compared: AWS adds a default
    /// Policy, a DeliveryPolicy and more to every topic.
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        let mut live = live.clone();
        let keep = |d: Option<&Value>, l: Option<&mut Value>| {
            if let (Some(Value::Object(d)), Some(Value::Object(l))) = (d, l) {
                l.retain(|k, _| d.contains_key(k));
            }
        };
        keep(desired.get("attributes"), live.get_mut("attributes"));
        if let (Some(Value::Object(ds)), Some(Value::Object(ls))) =
            (desired.get("subscriptions"), live.get_mut("subscriptions"))
        {
            for (key, l) in ls.iter_mut() {
                keep(
                    ds.get(key).and_then(|d| d.get("attributes")),
                    l.get_mut("attributes"),
                );
            }
        }
        crate::diff::diff(desired, &live, &[])
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([("arn".to_string(), live.arn.clone())])
    }

    fn to_spec(live: &Live) -> Spec {
        let display = live
            .attributes
            .get("DisplayName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Only attributes someone set on purpose: the defaults AWS adds are left out.
        let attributes = live
            .attributes
            .iter()
            .filter(|(k, v)| {
                !READ_ONLY.contains(&k.as_str())
                    && k.as_str() != "DisplayName"
                    && set_on_purpose(k, v)
            })
            .map(|(k, v)| (k.clone(), attr_value(v)))
            .collect();
        let tags = without_owner(&live.tags);
        Spec {
            display_name: (!display.is_empty()).then(|| display.to_string()),
            attributes,
            tags,
            subscriptions: live
                .subscriptions
                .iter()
                .map(|s| Subscription {
                    protocol: s.protocol.clone(),
                    endpoint: s.endpoint.clone(),
                    attributes: BTreeMap::new(),
                })
                .collect(),
        }
    }

    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::Batched {
            filter: "sns",
            list: list_tags,
        },
        write: Write::Delta {
            tag: tag_resource,
            untag: untag_resource,
        },
    });

    crate::kinds::tags::accessors!(id: arn, live: map tags, spec: map tags);

    fn pending(live: &Live) -> Vec<String> {
        live.subscriptions
            .iter()
            .filter(|s| s.arn.is_none())
            .map(|s| format!("{}:{}", s.protocol, s.endpoint))
            .collect()
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let mut arns = BTreeMap::new();
        let mut topics = aws
            .clients
            .sns
            .list_topics()
            .into_paginator()
            .items()
            .send();
        while let Some(t) = topics.try_next().await.aws(SERVICE, "ListTopics")? {
            if let Some(arn) = t.topic_arn()
                && let Some(name) = arn.rsplit(':').next()
                && wanted.contains(name)
            {
                arns.insert(name.to_string(), arn.to_string());
            }
        }
        futures::stream::iter(arns)
            .map(|(name, arn)| {
                let spec = wanted.spec(&name).clone();
                async move { observe_one(aws, &arn, &spec).await.map(|l| (name, l)) }
            })
            .buffer_unordered(8)
            .try_collect()
            .await
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let sns = &aws.clients.sns;
        let env = &aws.env;
        let mut want_attrs: BTreeMap<String, String> = spec
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), attr_wire(v)))
            .collect();
        if let Some(d) = &spec.display_name {
            want_attrs.insert("DisplayName".into(), d.clone());
        }
        let arn = match live {
            None => {
                let tags = sdk_tags(&with_owner(&spec.tags, env), "CreateTopic")?;
                let out = sns
                    .create_topic()
                    .name(name)
                    .set_attributes(Some(want_attrs.clone().into_iter().collect()))
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .aws(SERVICE, "CreateTopic")?;
                out.topic_arn().map(str::to_string).ok_or_else(|| {
                    crate::aws::AwsError::unexpected(
                        SERVICE,
                        "CreateTopic",
                        "no TopicArn in the response",
                    )
                })?
            }
            Some(l) => {
                // SetTopicAttributes takes one attribute a call; send only the changed ones.
                for (k, v) in &want_attrs {
                    let have = l.attributes.get(k).map(attr_value);
                    if have.as_ref() != Some(&attr_value(&Value::String(v.clone()))) {
                        sns.set_topic_attributes()
                            .topic_arn(&l.arn)
                            .attribute_name(k)
                            .attribute_value(v)
                            .send()
                            .await
                            .aws(SERVICE, "SetTopicAttributes")?;
                    }
                }
                l.arn.clone()
            }
        };
        sync_subscriptions(
            aws,
            &arn,
            &spec.subscriptions,
            live.map_or(&[][..], |l| &l.subscriptions),
        )
        .await?;
        Ok(Attrs::from([("arn".to_string(), arn)]))
    }

    async fn delete(aws: &Aws, _name: &str, live: &Live) -> Result<(), KindError> {
        // Deleting the topic removes its confirmed subscriptions too.
        aws.clients
            .sns
            .delete_topic()
            .topic_arn(&live.arn)
            .send()
            .await
            .aws(SERVICE, "DeleteTopic")?;
        Ok(())
    }
}

async fn observe_one(aws: &Aws, arn: &str, spec: &Value) -> Result<Live, KindError> {
    let sns = &aws.clients.sns;
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .aws(SERVICE, "GetTopicAttributes")?;
    let attributes = attrs
        .attributes()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    // Subscription attributes are read only where the manifest sets some.
    let with_attrs: BTreeSet<String> = spec
        .get("subscriptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| {
            s.get("attributes")
                .is_some_and(|a| a.as_object().is_some_and(|o| !o.is_empty()))
        })
        .filter_map(|s| {
            Some(sub_key(
                s.get("protocol")?.as_str()?,
                s.get("endpoint")?.as_str()?,
            ))
        })
        .collect();
    // An endpoint written as a reference (a secret) is known only after resolution:
    // read the attributes of every subscription of its protocol.
    let templated: BTreeSet<&str> = with_attrs
        .iter()
        .filter(|k| k.contains("${"))
        .filter_map(|k| k.split(':').next())
        .collect();
    let mut subscriptions = Vec::new();
    let mut listed = sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .items()
        .send();
    while let Some(s) = listed
        .try_next()
        .await
        .aws(SERVICE, "ListSubscriptionsByTopic")?
    {
        {
            let sub_arn = s
                .subscription_arn()
                .filter(|a| *a != PENDING && a.starts_with("arn:"));
            let protocol = s.protocol().unwrap_or_default().to_string();
            let endpoint = s.endpoint().unwrap_or_default().to_string();
            let mut attributes = BTreeMap::new();
            if let Some(a) = sub_arn
                && (with_attrs.contains(&sub_key(&protocol, &endpoint))
                    || templated.contains(protocol.as_str()))
            {
                let out = sns
                    .get_subscription_attributes()
                    .subscription_arn(a)
                    .send()
                    .await
                    .aws(SERVICE, "GetSubscriptionAttributes")?;
                if let Some(m) = out.attributes() {
                    attributes = m
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                }
            }
            subscriptions.push(LiveSubscription {
                protocol,
                endpoint,
                arn: sub_arn.map(str::to_string),
                attributes,
            });
        }
    }
    // Tags are read in one batch for all topics, by the engine.
    Ok(Live {
        arn: arn.to_string(),
        attributes,
        tags: Tags::new(),
        subscriptions,
    })
}

fn sdk_tags(tags: &Tags, op: &str) -> Result<Vec<aws_sdk_sns::types::Tag>, KindError> {
    tags.iter()
        .map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KindError::invalid(SERVICE, op, e))
}

super::tags::tag_api! {
    client: sns, service: SERVICE, id: resource_arn, sdk_tag: aws_sdk_sns::types::Tag;
    list: fn list_tags = list_tags_for_resource("ListTagsForResource");
    tag: fn tag_resource = tag_resource("TagResource");
    untag: fn untag_resource = untag_resource("UntagResource");
}

/// Subscribes what is missing, unsubscribes what is no longer declared, and
/// updates declared attributes. A pending subscription is left alone: AWS
/// cannot delete it, and re-subscribing would only send another email.
async fn sync_subscriptions(
    aws: &Aws,
    topic_arn: &str,
    want: &[Subscription],
    have: &[LiveSubscription],
) -> Result<(), crate::aws::AwsError> {
    let sns = &aws.clients.sns;
    for w in want {
        let existing = have
            .iter()
            .find(|h| h.protocol == w.protocol && h.endpoint == w.endpoint);
        match existing {
            None => {
                let attrs: std::collections::HashMap<String, String> = w
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), attr_wire(v)))
                    .collect();
                let subscribe = || async {
                    sns.subscribe()
                        .topic_arn(topic_arn)
                        .protocol(&w.protocol)
                        .endpoint(&w.endpoint)
                        .set_attributes((!attrs.is_empty()).then(|| attrs.clone()))
                        .return_subscription_arn(true)
                        .send()
                        .await
                        .aws(SERVICE, "Subscribe")?;
                    Ok(())
                };
                let subscribed = || async {
                    let mut subs = sns
                        .list_subscriptions_by_topic()
                        .topic_arn(topic_arn)
                        .into_paginator()
                        .items()
                        .send();
                    while let Some(s) = subs
                        .try_next()
                        .await
                        .aws(SERVICE, "ListSubscriptionsByTopic")?
                    {
                        if s.protocol() == Some(w.protocol.as_str())
                            && s.endpoint() == Some(w.endpoint.as_str())
                        {
                            return Ok(Some(()));
                        }
                    }
                    Ok(None)
                };
                failpoint::hit("before-subscribe").await;
                crate::kinds::once::create_once(subscribe, subscribed).await?;
                failpoint::hit("after-subscribe").await;
            }
            Some(LiveSubscription {
                arn: Some(arn),
                attributes,
                ..
            }) => {
                for (k, v) in &w.attributes {
                    if attributes.get(k).map(attr_value) != Some(attr_value(v)) {
                        sns.set_subscription_attributes()
                            .subscription_arn(arn)
                            .attribute_name(k)
                            .attribute_value(attr_wire(v))
                            .send()
                            .await
                            .aws(SERVICE, "SetSubscriptionAttributes")?;
                    }
                }
            }
            Some(_) => {}
        }
    }
    for h in have {
        let declared = want
            .iter()
            .any(|w| w.protocol == h.protocol && w.endpoint == h.endpoint);
        match (&h.arn, declared) {
            (Some(arn), false) => {
                sns.unsubscribe()
                    .subscription_arn(arn)
                    .send()
                    .await
                    .aws(SERVICE, "Unsubscribe")?;
            }
            (None, false) => tracing::warn!(
                topic = topic_arn,
                "subscription {}:{} is pending confirmation and cannot be removed until it is confirmed or expires",
                h.protocol,
                h.endpoint
            ),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
