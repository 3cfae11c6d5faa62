//! `ConfigRule`: an AWS Config rule, AWS managed or custom (Lambda or Guard policy).
//!
//! AWS refuses PutConfigRule until a configuration recorder exists, so a rule
//! declares `vigil/depends-on: ConfigurationRecorder/NAME` to be applied after it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_config::types as cfg;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};
use crate::diff::FieldDiff;

const SERVICE: &str = "config";

/// What AWS assumes when a periodic rule or trigger gives no frequency.
const DEFAULT_FREQUENCY: &str = "TwentyFour_Hours";
/// Message types that trigger periodically and so take a frequency.
const PERIODIC_MESSAGES: &[&str] = &[
    "ScheduledNotification",
    "ConfigurationSnapshotDeliveryCompleted",
];
const EVENT_SOURCE: &str = "aws.config";
const GUARD_RUNTIME: &str = "guard-2.x.x";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source: Source,
    /// A mapping; AWS stores it as a JSON string whose values are strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_execution_frequency: Option<String>,
    /// Absent means AWS's default, detective only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluation_modes: Vec<EvaluationMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// AWS, CUSTOM_LAMBDA or CUSTOM_POLICY.
    pub owner: String,
    /// The managed rule identifier (ROOT_ACCOUNT_MFA_ENABLED) or the Lambda function ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_details: Vec<SourceDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_policy_details: Option<CustomPolicyDetails>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceDetail {
    /// Always `aws.config`; may be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    pub message_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_execution_frequency: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomPolicyDetails {
    pub policy_runtime: String,
    pub policy_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_debug_log_delivery: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compliance_resource_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_resource_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluationMode {
    pub mode: String,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub id: String,
    /// Set on service-linked rules (Security Hub, Control Tower).
    pub created_by: Option<String>,
    /// `tags` is `Some` only when they were read.
    pub spec: Spec,
}

fn one_of(issues: &mut Issues, path: &str, value: &str, allowed: &[&str]) {
    if !allowed.contains(&value) {
        issues.at(
            path,
            format!(
                "`{value}` is not a valid {}; expected one of {}",
                super::field_name(path),
                allowed.join(", ")
            ),
        );
    }
}

fn has_ref(s: &str) -> bool {
    s.contains("${")
}

/// Checks the `AWS::Service::Type` shape and catches wrong capitalization of known types.
pub(crate) fn check_resource_type(issues: &mut Issues, path: &str, t: &str) {
    if has_ref(t) || cfg::ResourceType::values().contains(&t) {
        return;
    }
    let parts: Vec<&str> = t.split("::").collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        issues.at(
            path,
            format!("`{t}` is not a resource type; write it like AWS::EC2::Instance"),
        );
    } else if let Some(known) = cfg::ResourceType::values()
        .iter()
        .find(|k| k.eq_ignore_ascii_case(t))
    {
        issues.at(
            path,
            format!("`{t}` is not a resource type; did you mean {known}?"),
        );
    }
}

/// Known misspellings of managed rule identifiers, with the real one.
const RENAMED_IDENTIFIERS: &[(&str, &str)] =
    &[("ROOT_ACCESS_KEY_CHECK", "IAM_ROOT_ACCESS_KEY_CHECK")];

/// One input parameter as AWS keeps it: managed rules take every value as a string.
fn param_value(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        Value::Number(_) | Value::Bool(_) => Value::String(crate::diff::canonical(v).to_string()),
        Value::Null => Value::String(String::new()),
        Value::Object(_) | Value::Array(_) => crate::diff::canonical(v),
    }
}

/// `{"maxAccessKeyAge": 90}` and `{"maxAccessKeyAge": "90"}` are the same parameters;
/// an empty mapping is none at all.
pub fn params_canonical(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::Object(m) if m.is_empty() => None,
        Value::Object(m) => Some(Value::Object(
            m.iter().map(|(k, v)| (k.clone(), param_value(v))).collect(),
        )),
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        other => Some(other.clone()),
    }
}

/// The `InputParameters` string sent to AWS.
fn params_wire(v: Option<&Value>) -> Option<String> {
    params_canonical(v).map(|p| p.to_string())
}

/// `InputParameters` as read back: a JSON string, parsed when it is JSON.
fn params_from_live(s: Option<&str>) -> Option<Value> {
    let s = s.filter(|s| !s.trim().is_empty())?;
    let v = serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()));
    params_canonical(Some(&v)).is_some().then_some(v)
}

fn source_canonical(s: &Source) -> Value {
    let mut m = Map::new();
    m.insert("owner".into(), json!(s.owner));
    if let Some(id) = s.source_identifier.as_deref().filter(|i| !i.is_empty()) {
        m.insert("sourceIdentifier".into(), json!(id));
    }
    let mut details: Vec<Value> = s
        .source_details
        .iter()
        .map(|d| {
            // AWS fills the 24-hour default in for periodic triggers.
            let freq = d.maximum_execution_frequency.clone().or_else(|| {
                PERIODIC_MESSAGES
                    .contains(&d.message_type.as_str())
                    .then(|| DEFAULT_FREQUENCY.to_string())
            });
            let mut o = json!({
                "eventSource": d.event_source.as_deref().unwrap_or(EVENT_SOURCE),
                "messageType": d.message_type,
            });
            if let Some(f) = freq {
                o["maximumExecutionFrequency"] = json!(f);
            }
            o
        })
        .collect();
    // Triggers are a set.
    details.sort_by_key(|d| d.to_string());
    details.dedup();
    if !details.is_empty() {
        m.insert("sourceDetails".into(), Value::Array(details));
    }
    if let Some(c) = &s.custom_policy_details {
        m.insert(
            "customPolicyDetails".into(),
            json!({
                "policyRuntime": c.policy_runtime,
                // A YAML block scalar ends in a newline that means nothing.
                "policyText": c.policy_text.trim_end(),
                "enableDebugLogDelivery": c.enable_debug_log_delivery.unwrap_or(false),
            }),
        );
    }
    Value::Object(m)
}

fn scope_canonical(s: Option<&Scope>) -> Option<Value> {
    let s = s?;
    let mut m = Map::new();
    let mut types = s.compliance_resource_types.clone();
    types.sort();
    types.dedup();
    if !types.is_empty() {
        m.insert("complianceResourceTypes".into(), json!(types));
    }
    for (k, v) in [
        ("tagKey", &s.tag_key),
        ("tagValue", &s.tag_value),
        ("complianceResourceId", &s.compliance_resource_id),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            m.insert(k.into(), json!(v));
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Evaluation modes as a sorted set; detective only is AWS's default and so left out.
fn modes_canonical(modes: &[EvaluationMode]) -> Option<Value> {
    let set: BTreeSet<&str> = modes.iter().map(|m| m.mode.as_str()).collect();
    if set.is_empty() || set == BTreeSet::from(["DETECTIVE"]) {
        None
    } else {
        Some(json!(set))
    }
}

pub fn canonical(spec: &Spec, tags: Option<&BTreeMap<String, String>>) -> Value {
    let mut m = Map::new();
    if let Some(d) = spec.description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(d));
    }
    m.insert("source".into(), source_canonical(&spec.source));
    if let Some(p) = params_canonical(spec.input_parameters.as_ref()) {
        m.insert("inputParameters".into(), p);
    }
    if let Some(s) = scope_canonical(spec.scope.as_ref()) {
        m.insert("scope".into(), s);
    }
    if let Some(f) = &spec.maximum_execution_frequency {
        m.insert("maximumExecutionFrequency".into(), json!(f));
    }
    if let Some(modes) = modes_canonical(&spec.evaluation_modes) {
        m.insert("evaluationModes".into(), modes);
    }
    if let Some(t) = tags {
        m.insert("tags".into(), json!(t));
    }
    Value::Object(m)
}

pub(crate) fn spec_from_live(r: &cfg::ConfigRule) -> Spec {
    let source = r.source().map_or_else(Source::default, |s| Source {
        owner: s.owner().as_str().to_string(),
        source_identifier: s
            .source_identifier()
            .filter(|i| !i.is_empty())
            .map(str::to_string),
        source_details: s
            .source_details()
            .iter()
            .map(|d| SourceDetail {
                event_source: d.event_source().map(|e| e.as_str().to_string()),
                message_type: d
                    .message_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                maximum_execution_frequency: d
                    .maximum_execution_frequency()
                    .map(|f| f.as_str().to_string()),
            })
            .collect(),
        custom_policy_details: s.custom_policy_details().map(|c| CustomPolicyDetails {
            policy_runtime: c.policy_runtime().to_string(),
            policy_text: c.policy_text().to_string(),
            enable_debug_log_delivery: Some(c.enable_debug_log_delivery()),
        }),
    });
    let scope = r.scope().map(|s| Scope {
        compliance_resource_types: s.compliance_resource_types().to_vec(),
        tag_key: s.tag_key().map(str::to_string),
        tag_value: s.tag_value().map(str::to_string),
        compliance_resource_id: s.compliance_resource_id().map(str::to_string),
    });
    Spec {
        description: r
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        source,
        input_parameters: params_from_live(r.input_parameters()),
        scope: scope.filter(|s| scope_canonical(Some(s)).is_some()),
        maximum_execution_frequency: r
            .maximum_execution_frequency()
            .map(|f| f.as_str().to_string()),
        evaluation_modes: r
            .evaluation_modes()
            .iter()
            .filter_map(|m| m.mode())
            .map(|m| EvaluationMode {
                mode: m.as_str().to_string(),
            })
            .collect(),
        tags: None,
    }
}

/// The source by owner: a managed rule, a Lambda rule or a Guard policy rule, then its triggers.
fn validate_source(s: &Source, issues: &mut Issues) {
    one_of(issues, "source.owner", &s.owner, cfg::Owner::values());
    let id = s.source_identifier.as_deref().unwrap_or_default();
    match s.owner.as_str() {
        "AWS" => validate_managed_source(s, id, issues),
        "CUSTOM_LAMBDA" => validate_lambda_source(s, id, issues),
        "CUSTOM_POLICY" => validate_policy_source(s, issues),
        _ => {}
    }
    validate_source_details(s, issues);
}

/// A managed rule: an upper-case identifier AWS knows, and no triggers or policy of its own.
fn validate_managed_source(s: &Source, id: &str, issues: &mut Issues) {
    if id.is_empty() {
        issues.at(
            "source.sourceIdentifier",
            "a managed rule needs sourceIdentifier, the rule's identifier such as IAM_ROOT_ACCESS_KEY_CHECK",
        );
    } else if let Some((_, real)) = RENAMED_IDENTIFIERS.iter().find(|(wrong, _)| *wrong == id) {
        issues.at(
            "source.sourceIdentifier",
            format!("`{id}` is not an AWS managed rule identifier; use {real}"),
        );
    } else if !has_ref(id)
        && !id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        issues.at(
            "source.sourceIdentifier",
            format!("`{id}` is not a managed rule identifier; they are upper case, like ENCRYPTED_VOLUMES"),
        );
    }
    if !s.source_details.is_empty() {
        issues.at(
            "source.sourceDetails",
            "a managed rule takes no sourceDetails; remove them",
        );
    }
    if s.custom_policy_details.is_some() {
        issues.at(
            "source.customPolicyDetails",
            "only a CUSTOM_POLICY rule takes customPolicyDetails",
        );
    }
}

/// A Lambda rule: the function's ARN and at least one trigger.
fn validate_lambda_source(s: &Source, id: &str, issues: &mut Issues) {
    if id.is_empty() {
        issues.at(
            "source.sourceIdentifier",
            "a CUSTOM_LAMBDA rule needs sourceIdentifier, the Lambda function ARN",
        );
    } else if !has_ref(id) && !id.starts_with("arn:") {
        issues.at(
            "source.sourceIdentifier",
            format!(
                "`{id}` is not a Lambda function ARN; write arn:aws:lambda:REGION:ACCOUNT:function:NAME"
            ),
        );
    }
    if s.source_details.is_empty() {
        issues.at(
            "source.sourceDetails",
            "a CUSTOM_LAMBDA rule needs at least one trigger in sourceDetails, for example {messageType: ConfigurationItemChangeNotification}",
        );
    }
    if s.custom_policy_details.is_some() {
        issues.at(
            "source.customPolicyDetails",
            "only a CUSTOM_POLICY rule takes customPolicyDetails",
        );
    }
}

/// A Guard policy rule: no identifier, a Guard policy, and only configuration-change triggers.
fn validate_policy_source(s: &Source, issues: &mut Issues) {
    if s.source_identifier.is_some() {
        issues.at(
            "source.sourceIdentifier",
            "a CUSTOM_POLICY rule has no sourceIdentifier (AWS ignores it); remove it",
        );
    }
    match &s.custom_policy_details {
        None => issues.at(
            "source.customPolicyDetails",
            "a CUSTOM_POLICY rule needs customPolicyDetails with policyRuntime and policyText",
        ),
        Some(c) => {
            if c.policy_runtime != GUARD_RUNTIME {
                issues.at(
                    "source.customPolicyDetails.policyRuntime",
                    format!(
                        "`{}` is not a policy runtime; use {GUARD_RUNTIME}",
                        c.policy_runtime
                    ),
                );
            }
            if c.policy_text.trim().is_empty() {
                issues.at(
                    "source.customPolicyDetails.policyText",
                    "policyText must not be empty; write the rule in Guard",
                );
            } else if c.policy_text.len() > 10_000 {
                issues.at(
                    "source.customPolicyDetails.policyText",
                    "policyText is longer than the 10000 characters AWS allows",
                );
            }
        }
    }
    for (i, d) in s.source_details.iter().enumerate() {
        if ![
            "ConfigurationItemChangeNotification",
            "OversizedConfigurationItemChangeNotification",
        ]
        .contains(&d.message_type.as_str())
        {
            issues.at(
                &format!("source.sourceDetails[{i}].messageType"),
                "a CUSTOM_POLICY rule is triggered only by ConfigurationItemChangeNotification or OversizedConfigurationItemChangeNotification",
            );
        }
    }
}

/// Each trigger: known values, a frequency only on periodic messages, and none listed twice.
fn validate_source_details(s: &Source, issues: &mut Issues) {
    let mut seen = BTreeSet::new();
    for (i, d) in s.source_details.iter().enumerate() {
        let at = |f: &str| format!("source.sourceDetails[{i}].{f}");
        if let Some(e) = &d.event_source {
            one_of(issues, &at("eventSource"), e, cfg::EventSource::values());
        }
        one_of(
            issues,
            &at("messageType"),
            &d.message_type,
            cfg::MessageType::values(),
        );
        if let Some(f) = &d.maximum_execution_frequency {
            one_of(
                issues,
                &at("maximumExecutionFrequency"),
                f,
                cfg::MaximumExecutionFrequency::values(),
            );
            if !PERIODIC_MESSAGES.contains(&d.message_type.as_str()) {
                issues.at(
                    &at("maximumExecutionFrequency"),
                    format!(
                        "a frequency applies only to {}; remove it",
                        PERIODIC_MESSAGES.join(" or ")
                    ),
                );
            }
        }
        if !seen.insert((&d.message_type, &d.maximum_execution_frequency)) {
            issues.at(
                &format!("source.sourceDetails[{i}]"),
                "the same trigger is listed twice; remove one",
            );
        }
    }
}

fn validate_scope(s: &Scope, issues: &mut Issues) {
    let has_tag = s.tag_key.is_some() || s.tag_value.is_some();
    if s.tag_value.is_some() && s.tag_key.is_none() {
        issues.at(
            "scope.tagValue",
            "scope.tagValue needs scope.tagKey; add the tag's key",
        );
    }
    if has_tag && (!s.compliance_resource_types.is_empty() || s.compliance_resource_id.is_some()) {
        issues.at("scope", "scope a rule by tag or by resource, not both");
    }
    if s.compliance_resource_id.is_some() && s.compliance_resource_types.len() != 1 {
        issues.at(
            "scope.complianceResourceId",
            "scope.complianceResourceId needs exactly one entry in scope.complianceResourceTypes",
        );
    }
    if s.tag_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.chars().count() > 128)
    {
        issues.at(
            "scope.tagKey",
            "scope.tagKey must be 1 to 128 characters long",
        );
    }
    if s.tag_value
        .as_ref()
        .is_some_and(|v| v.chars().count() > 256)
    {
        issues.at(
            "scope.tagValue",
            "scope.tagValue is longer than the 256 characters AWS allows",
        );
    }
    if s.compliance_resource_types.len() > 100 {
        issues.at(
            "scope.complianceResourceTypes",
            "scope.complianceResourceTypes lists more than the 100 resource types AWS allows",
        );
    }
    for (i, t) in s.compliance_resource_types.iter().enumerate() {
        check_resource_type(issues, &format!("scope.complianceResourceTypes[{i}]"), t);
    }
}

fn build_rule(name: &str, spec: &Spec) -> Result<cfg::ConfigRule, KindError> {
    let bad =
        |e: aws_sdk_config::error::BuildError| KindError::invalid(SERVICE, "PutConfigRule", e);
    let s = &spec.source;
    let details: Vec<cfg::SourceDetail> = s
        .source_details
        .iter()
        .map(|d| {
            cfg::SourceDetail::builder()
                .event_source(cfg::EventSource::from(
                    d.event_source.as_deref().unwrap_or(EVENT_SOURCE),
                ))
                .message_type(cfg::MessageType::from(d.message_type.as_str()))
                .set_maximum_execution_frequency(
                    d.maximum_execution_frequency
                        .as_deref()
                        .map(cfg::MaximumExecutionFrequency::from),
                )
                .build()
        })
        .collect();
    let policy = match &s.custom_policy_details {
        Some(c) => Some(
            cfg::CustomPolicyDetails::builder()
                .policy_runtime(&c.policy_runtime)
                .policy_text(&c.policy_text)
                .enable_debug_log_delivery(c.enable_debug_log_delivery.unwrap_or(false))
                .build()
                .map_err(bad)?,
        ),
        None => None,
    };
    let source = cfg::Source::builder()
        .owner(cfg::Owner::from(s.owner.as_str()))
        .set_source_identifier(s.source_identifier.clone())
        .set_source_details((!details.is_empty()).then_some(details))
        .set_custom_policy_details(policy)
        .build()
        .map_err(bad)?;
    let scope = spec
        .scope
        .as_ref()
        .filter(|s| scope_canonical(Some(s)).is_some())
        .map(|s| {
            cfg::Scope::builder()
                .set_compliance_resource_types(
                    (!s.compliance_resource_types.is_empty())
                        .then(|| s.compliance_resource_types.clone()),
                )
                .set_tag_key(s.tag_key.clone())
                .set_tag_value(s.tag_value.clone())
                .set_compliance_resource_id(s.compliance_resource_id.clone())
                .build()
        });
    let modes: Vec<cfg::EvaluationModeConfiguration> = spec
        .evaluation_modes
        .iter()
        .map(|m| {
            cfg::EvaluationModeConfiguration::builder()
                .mode(cfg::EvaluationMode::from(m.mode.as_str()))
                .build()
        })
        .collect();
    Ok(cfg::ConfigRule::builder()
        .config_rule_name(name)
        .set_description(spec.description.clone())
        .source(source)
        .set_input_parameters(params_wire(spec.input_parameters.as_ref()))
        .set_scope(scope)
        .set_maximum_execution_frequency(
            spec.maximum_execution_frequency
                .as_deref()
                .map(cfg::MaximumExecutionFrequency::from),
        )
        .set_evaluation_modes((!modes.is_empty()).then_some(modes))
        .build())
}

fn tag_list(tags: &Tags) -> Vec<cfg::Tag> {
    tags.iter()
        .map(|(k, v)| cfg::Tag::builder().key(k).value(v).build())
        .collect()
}

super::tags::tag_api! {
    client: config, service: SERVICE, id: resource_arn, sdk_tag: cfg::Tag;
    list: fn list_tags = list_tags_for_resource("ListTagsForResource") paged;
    tag: fn tag_resource = tag_resource("TagResource");
    untag: fn untag_resource = untag_resource("UntagResource");
}

/// Every rule DescribeConfigRules lists, page by page, keyed by name.
async fn describe_rules(aws: &Aws, names: &[&str]) -> Result<Vec<cfg::ConfigRule>, AwsError> {
    let mut rules = Vec::new();
    let mut pages = aws
        .clients
        .config
        .describe_config_rules()
        .set_config_rule_names(
            (!names.is_empty()).then(|| names.iter().map(|n| n.to_string()).collect()),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.try_next().await.aws(SERVICE, "DescribeConfigRules")? {
        rules.extend(page.config_rules().iter().cloned());
    }
    Ok(rules)
}

pub struct ConfigRule;

impl Kind for ConfigRule {
    const NAME: &'static str = "ConfigRule";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name", "id"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_plain_name(name, 128, "rule")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if s.description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 256)
        {
            issues.at(
                "description",
                "description is longer than the 256 characters AWS allows",
            );
        }
        validate_source(&s.source, issues);
        match &s.input_parameters {
            None | Some(Value::Object(_)) => {}
            Some(_) => issues.at(
                "inputParameters",
                "write inputParameters as a mapping, for example {maxAccessKeyAge: 90}, not as a JSON string",
            ),
        }
        if let Some(p) = params_wire(s.input_parameters.as_ref())
            && p.len() > 1024
        {
            issues.at(
                "inputParameters",
                "inputParameters is longer than the 1024 characters of JSON AWS allows",
            );
        }
        if let Some(f) = &s.maximum_execution_frequency {
            one_of(
                issues,
                "maximumExecutionFrequency",
                f,
                cfg::MaximumExecutionFrequency::values(),
            );
        }
        if let Some(scope) = &s.scope {
            validate_scope(scope, issues);
        }
        let mut seen = BTreeSet::new();
        for (i, m) in s.evaluation_modes.iter().enumerate() {
            one_of(
                issues,
                &format!("evaluationModes[{i}].mode"),
                &m.mode,
                cfg::EvaluationMode::values(),
            );
            if !seen.insert(&m.mode) {
                issues.at(
                    &format!("evaluationModes[{i}]"),
                    format!("mode `{}` is listed twice; remove one", m.mode),
                );
            }
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        canonical(
            spec,
            spec.tags.as_ref().map(|t| with_owner(t, env)).as_ref(),
        )
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec, live.spec.tags.as_ref())
    }

    /// AWS reports the 24-hour default frequency on periodic rules that were given none.
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        let mut live = live.clone();
        if desired.get("maximumExecutionFrequency").is_none()
            && let Some(m) = live.as_object_mut()
            && m.get("maximumExecutionFrequency").and_then(Value::as_str) == Some(DEFAULT_FREQUENCY)
        {
            m.remove("maximumExecutionFrequency");
        }
        crate::diff::diff(desired, &live, &[])
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([
            ("arn".to_string(), live.arn.clone()),
            ("name".to_string(), live.name.clone()),
            ("id".to_string(), live.id.clone()),
        ])
    }

    fn to_spec(live: &Live) -> Spec {
        let mut spec = live.spec.clone();
        super::tags::strip_owner(&mut spec.tags);
        if modes_canonical(&spec.evaluation_modes).is_none() {
            spec.evaluation_modes.clear();
        }
        if let Some(c) = &mut spec.source.custom_policy_details
            && c.enable_debug_log_delivery == Some(false)
        {
            c.enable_debug_log_delivery = None;
        }
        spec
    }

    fn notes(live: &Live) -> Vec<String> {
        live.created_by
            .iter()
            .map(|by| format!("a service-linked rule created by {by}; that service manages it, and AWS refuses changes to it"))
            .collect()
    }

    /// AWS's Tagging API serves `config:config-rule` (AWS Config is among the
    /// Tag Editor and tag-based group types, and GetResources supports every
    /// type but IAM users and roles); moto's does not, so a batch that returns
    /// no rule falls back to one ListTagsForResource each.
    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::BatchedOrEach {
            filter: "config:config-rule",
            list: list_tags,
        },
        write: Write::Delta {
            tag: tag_resource,
            untag: untag_resource,
        },
    });

    crate::kinds::tags::accessors!(id: arn, live: opt spec.tags, spec: opt tags);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let mut out = BTreeMap::new();
        for r in describe_rules(aws, &[]).await? {
            let Some(name) = r.config_rule_name() else {
                continue;
            };
            // Service-linked rules belong to the service that made them; import skips them.
            let declared = wanted.specs.contains_key(name);
            if !declared && (!wanted.all || r.created_by().is_some()) {
                continue;
            }
            out.insert(
                name.to_string(),
                Live {
                    name: name.to_string(),
                    arn: r.config_rule_arn().unwrap_or_default().to_string(),
                    id: r.config_rule_id().unwrap_or_default().to_string(),
                    created_by: r.created_by().map(str::to_string),
                    spec: spec_from_live(&r),
                },
            );
        }
        // DescribeConfigRules may leave a Guard policy's text out; fetch it for those rules only.
        let missing_text: Vec<String> = out
            .values()
            .filter(|l| {
                l.spec
                    .source
                    .custom_policy_details
                    .as_ref()
                    .is_some_and(|c| c.policy_text.is_empty())
            })
            .map(|l| l.name.clone())
            .collect();
        let texts: Vec<(String, Option<String>)> = futures::stream::iter(missing_text)
            .map(|name| async move {
                let out = aws
                    .clients
                    .config
                    .get_custom_rule_policy()
                    .config_rule_name(&name)
                    .send()
                    .await
                    .aws(SERVICE, "GetCustomRulePolicy")?;
                Ok::<_, AwsError>((name, out.policy_text().map(str::to_string)))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        for (name, text) in texts {
            if let (Some(l), Some(text)) = (out.get_mut(&name), text)
                && let Some(c) = &mut l.spec.source.custom_policy_details
            {
                c.policy_text = text;
            }
        }
        Ok(out)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let env = &aws.env;
        let config_changed = live.is_none_or(|l| {
            !Self::diff(&canonical(spec, None), &canonical(&l.spec, None)).is_empty()
        });
        if config_changed {
            // AWS applies Tags only when PutConfigRule creates the rule and ignores them on an
            // update, while moto replaces the tags on every put. Sending the wanted tags each
            // time, then the engine tagging the difference, ends with the same tags on both.
            let declared = spec.tags.clone().unwrap_or_else(|| {
                live.and_then(|l| l.spec.tags.as_ref())
                    .map(without_owner)
                    .unwrap_or_default()
            });
            let put_tags = with_owner(&declared, env);
            aws.clients
                .config
                .put_config_rule()
                .config_rule(build_rule(name, spec)?)
                .set_tags((!put_tags.is_empty()).then(|| tag_list(&put_tags)))
                .send()
                .await
                .aws(SERVICE, "PutConfigRule")?;
        }
        let (arn, id) = match live {
            Some(l) => (l.arn.clone(), l.id.clone()),
            // PutConfigRule returns nothing, and the ARN holds a generated id.
            None => {
                let created = describe_rules(aws, &[name]).await?;
                let r = created.first().ok_or_else(|| {
                    AwsError::unexpected(
                        SERVICE,
                        "DescribeConfigRules",
                        format!("rule {name} is missing after PutConfigRule"),
                    )
                })?;
                (
                    r.config_rule_arn().unwrap_or_default().to_string(),
                    r.config_rule_id().unwrap_or_default().to_string(),
                )
            }
        };
        Ok(Attrs::from([
            ("arn".to_string(), arn),
            ("name".to_string(), name.to_string()),
            ("id".to_string(), id),
        ]))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        aws.clients
            .config
            .delete_config_rule()
            .config_rule_name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteConfigRule")?;
        Ok(())
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
