//! Helpers of the simulated AWS answers: what every kind's `strategy::live`
//! (in `src/kinds/<kind>/strategy.rs`) uses to build the SDK shapes observe
//! parses, with AWS's habits drawn from a style.

use std::collections::BTreeMap;

use aws_sdk_config::types as cfg;
use serde_json::{Value, json};

use super::strategy::{Style, respell, respell_policy};
use crate::aws::Env;
use crate::kinds::policy;
use crate::kinds::tags::{Tags, with_owner};

/// Tags as vigil's create leaves them: the declared ones (none when absent) and the owner.
pub fn created_tags(declared: Option<&Tags>, env: &Env) -> Tags {
    with_owner(declared.unwrap_or(&Tags::new()), env)
}

pub fn shuffled(st: Style, what: &str, v: &[String]) -> Vec<String> {
    st.shuffled(what, v)
}

/// An optional string AWS may report empty rather than absent.
pub fn maybe_empty(st: Style, what: &str, v: Option<&str>) -> Option<String> {
    match v {
        None if st.coin(what) => Some(String::new()),
        other => other.map(str::to_string),
    }
}

/// IAM answers GetRole and GetRolePolicy with URL-encoded JSON.
pub fn iam_document(doc: &Value, st: Style) -> Value {
    let text = respell_policy(doc, st).to_string();
    let encoded = percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    policy::decode(if st.coin("encoded") { &encoded } else { &text })
}

/// The attributes AWS adds to every topic; never compared unless declared.
pub fn default_topic_attributes(arn: &str, env: &Env) -> BTreeMap<String, Value> {
    let policy = json!({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [
        {"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["SNS:Publish", "SNS:GetTopicAttributes"], "Resource": arn,
         "Condition": {"StringEquals": {"AWS:SourceOwner": env.account_id}}}]});
    [
        ("TopicArn", arn.to_string()),
        ("Owner", env.account_id.clone()),
        ("Policy", policy.to_string()),
        ("SubscriptionsConfirmed", "0".into()),
        ("SubscriptionsPending", "0".into()),
        ("SubscriptionsDeleted", "0".into()),
        (
            "EffectiveDeliveryPolicy",
            r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":3}}}"#.into(),
        ),
        ("SignatureVersion", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::String(v)))
    .collect()
}

/// The text SNS keeps for an attribute: JSON re-serialized, scalars as text.
pub fn sns_text(v: &Value, st: Style) -> Value {
    Value::String(match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(j @ (Value::Object(_) | Value::Array(_))) => respell(&j, st).to_string(),
            _ => s.clone(),
        },
        Value::Object(_) | Value::Array(_) => respell(v, st).to_string(),
        other => other.to_string(),
    })
}

pub fn types(v: &[String]) -> Vec<cfg::ResourceType> {
    v.iter()
        .map(|t| cfg::ResourceType::from(t.as_str()))
        .collect()
}
