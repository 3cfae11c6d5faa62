//! What AWS answers after a spec was applied, as each kind's observe reads it:
//! the SDK shapes observe parses (through the kind's own conversion where it
//! has one), with AWS's habits drawn from a style: defaults filled in or left
//! out, lists reordered, numbers as floats, JSON re-serialized, IAM documents
//! URL-encoded. Also what import is meant to carry over of a spec.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_config::types as cfg;
use serde_json::{Value, json};

use super::strategies::{Style, respell, respell_policy};
use crate::aws::Env;
use crate::kinds::tags::{Tags, with_owner};
use crate::kinds::{
    agent_config, bucket, composite_alarm, config_recorder, config_rule, dashboard,
    delivery_channel, log_group, metric_alarm, metric_filter, policy, query_definition, role,
    sampling_rule, stack, topic, xray_group,
};

/// Tags as vigil's create leaves them: the declared ones (none when absent) and the owner.
fn created_tags(declared: Option<&Tags>, env: &Env) -> Tags {
    with_owner(declared.unwrap_or(&Tags::new()), env)
}

fn shuffled(st: Style, what: &str, v: &[String]) -> Vec<String> {
    st.shuffled(what, v)
}

/// An optional string AWS may report empty rather than absent.
fn maybe_empty(st: Style, what: &str, v: Option<&str>) -> Option<String> {
    match v {
        None if st.coin(what) => Some(String::new()),
        other => other.map(str::to_string),
    }
}

// ---- CloudWatch ----

pub fn metric_alarm(
    name: &str,
    s: &metric_alarm::Spec,
    st: Style,
    env: &Env,
) -> metric_alarm::Live {
    use aws_sdk_cloudwatch::types::{
        ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, StandardUnit,
        StateValue, Statistic,
    };
    let dims = |d: &BTreeMap<String, String>, what: &str| -> Vec<Dimension> {
        let pairs: Vec<(String, String)> = d.clone().into_iter().collect();
        st.shuffled(what, &pairs)
            .into_iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect()
    };
    let metrics: Vec<MetricDataQuery> = s
        .metrics
        .iter()
        .map(|q| {
            let qs = st.sub(&q.id);
            MetricDataQuery::builder()
                .id(&q.id)
                .set_expression(q.expression.clone())
                .set_label(q.label.clone())
                // AWS reports the default true explicitly, or not at all.
                .set_return_data(q.return_data.or(qs.coin("rd").then_some(true)))
                .set_period(q.period)
                .set_metric_stat(q.metric_stat.as_ref().map(|ms| {
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(&ms.metric.namespace)
                                .metric_name(&ms.metric.metric_name)
                                .set_dimensions(Some(dims(&ms.metric.dimensions, "qd")))
                                .build(),
                        )
                        .period(ms.period)
                        .stat(&ms.stat)
                        .set_unit(ms.unit.as_deref().map(StandardUnit::from))
                        .build()
                }))
                .build()
        })
        .collect();
    let a = aws_sdk_cloudwatch::types::MetricAlarm::builder()
        .alarm_name(name)
        .alarm_arn(metric_alarm::alarm_arn(env, name))
        .set_alarm_description(s.alarm_description.clone())
        .actions_enabled(s.actions_enabled.unwrap_or(true))
        .set_ok_actions(Some(shuffled(st, "ok", &s.ok_actions)))
        .set_alarm_actions(Some(shuffled(st, "alarm", &s.alarm_actions)))
        .set_insufficient_data_actions(Some(shuffled(st, "ins", &s.insufficient_data_actions)))
        .set_metric_name(s.metric_name.clone())
        .set_namespace(s.namespace.clone())
        .set_statistic(s.statistic.as_deref().map(Statistic::from))
        .set_extended_statistic(s.extended_statistic.clone())
        .set_dimensions(Some(dims(&s.dimensions, "d")))
        .set_period(s.period)
        .set_unit(s.unit.as_deref().map(StandardUnit::from))
        .evaluation_periods(s.evaluation_periods)
        .set_datapoints_to_alarm(
            s.datapoints_to_alarm
                .or(st.coin("dp").then_some(s.evaluation_periods)),
        )
        .set_threshold(s.threshold)
        .comparison_operator(ComparisonOperator::from(s.comparison_operator.as_str()))
        .set_treat_missing_data(
            s.treat_missing_data
                .clone()
                .or(st.coin("tmd").then(|| "missing".to_string())),
        )
        .set_evaluate_low_sample_count_percentile(s.evaluate_low_sample_count_percentile.clone())
        .set_metrics(Some(metrics))
        .set_threshold_metric_id(s.threshold_metric_id.clone())
        .state_value(if st.coin("state") {
            StateValue::Alarm
        } else {
            StateValue::InsufficientData
        })
        .build();
    let mut spec = metric_alarm::spec_from_live(&a);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    metric_alarm::Live {
        name: name.into(),
        arn: metric_alarm::alarm_arn(env, name),
        spec,
        state: a.state_value().map(|v| v.as_str().to_string()),
    }
}

/// Import reads the tags it found: an alarm that declared none comes back with `{}`.
pub fn metric_alarm_imported(s: &metric_alarm::Spec) -> metric_alarm::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    s
}

pub fn composite_alarm(
    name: &str,
    s: &composite_alarm::Spec,
    st: Style,
    env: &Env,
) -> composite_alarm::Live {
    let suppressed = s.actions_suppressor.is_some();
    // AWS fills both periods in (60 s) once a suppressor is set.
    let period = |p: Option<i32>| {
        if suppressed { Some(p.unwrap_or(60)) } else { p }
    };
    let a = aws_sdk_cloudwatch::types::CompositeAlarm::builder()
        .alarm_name(name)
        .alarm_arn(metric_alarm::alarm_arn(env, name))
        .alarm_rule(s.alarm_rule.trim())
        .set_alarm_description(s.alarm_description.clone())
        .actions_enabled(s.actions_enabled.unwrap_or(true))
        .set_ok_actions(Some(shuffled(st, "ok", &s.ok_actions)))
        .set_alarm_actions(Some(shuffled(st, "alarm", &s.alarm_actions)))
        .set_insufficient_data_actions(Some(shuffled(st, "ins", &s.insufficient_data_actions)))
        .set_actions_suppressor(maybe_empty(st, "sup", s.actions_suppressor.as_deref()))
        .set_actions_suppressor_wait_period(period(s.actions_suppressor_wait_period))
        .set_actions_suppressor_extension_period(period(s.actions_suppressor_extension_period))
        .build();
    let mut spec = composite_alarm::spec_from_live(&a);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    composite_alarm::Live {
        name: name.into(),
        arn: metric_alarm::alarm_arn(env, name),
        spec,
    }
}

pub fn composite_alarm_imported(s: &composite_alarm::Spec) -> composite_alarm::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    if s.actions_suppressor.is_some() {
        s.actions_suppressor_wait_period.get_or_insert(60);
        s.actions_suppressor_extension_period.get_or_insert(60);
    }
    s
}

pub fn dashboard(name: &str, s: &dashboard::Spec, st: Style, env: &Env) -> dashboard::Live {
    // GetDashboard returns the body as text, re-serialized: keys and numbers its own way.
    let text = respell(s.body.as_ref().unwrap_or(&Value::Null), st).to_string();
    dashboard::Live {
        arn: dashboard::dashboard_arn(env, name),
        body: serde_json::from_str(&text).expect("json"),
    }
}

// ---- X-Ray ----

pub fn xray_group(name: &str, s: &xray_group::Spec, _st: Style, env: &Env) -> xray_group::Live {
    let c = s.insights_configuration.as_ref();
    xray_group::Live {
        name: name.into(),
        arn: format!(
            "arn:aws:xray:{}:{}:group/{name}/ABC123",
            env.region, env.account_id
        ),
        filter_expression: s.filter_expression.trim().into(),
        insights_enabled: c.and_then(|c| c.insights_enabled).unwrap_or(false),
        notifications_enabled: c.and_then(|c| c.notifications_enabled).unwrap_or(false),
        tags: Some(created_tags(s.tags.as_ref(), env)),
    }
}

/// Import leaves tags out when only the owner tag is there.
pub fn xray_group_imported(s: &xray_group::Spec) -> xray_group::Spec {
    let mut s = s.clone();
    s.tags = s.tags.filter(|t| !t.is_empty());
    s
}

pub fn sampling_rule(
    name: &str,
    s: &sampling_rule::Spec,
    st: Style,
    env: &Env,
) -> sampling_rule::Live {
    let any = |v: &Option<String>| v.clone().unwrap_or_else(|| "*".into());
    let default = name == sampling_rule::DEFAULT_RULE;
    // AWS keeps a rate as a double; `1` comes back as `1.0`.
    let rate: f64 = if st.coin("rate") {
        format!("{:?}", s.fixed_rate).parse().expect("rate")
    } else {
        s.fixed_rate
    };
    let r = aws_sdk_xray::types::SamplingRule::builder()
        .rule_name(name)
        .rule_arn(format!(
            "arn:aws:xray:{}:{}:sampling-rule/{name}",
            env.region, env.account_id
        ))
        .resource_arn(any(&s.resource_arn))
        .priority(s.priority.unwrap_or(10000))
        .fixed_rate(rate)
        .reservoir_size(s.reservoir_size)
        .service_name(any(&s.service_name))
        .service_type(any(&s.service_type))
        .host(any(&s.host))
        .http_method(any(&s.http_method))
        .url_path(any(&s.url_path))
        .version(s.version.unwrap_or(1))
        .set_attributes(
            (!s.attributes.is_empty() || st.coin("attrs{}"))
                .then(|| s.attributes.clone().into_iter().collect::<HashMap<_, _>>()),
        )
        .build()
        .expect("rule");
    sampling_rule::Live {
        name: name.into(),
        arn: r.rule_arn().unwrap_or_default().into(),
        rule: sampling_rule::Rule::from_sdk(&r),
        // vigil never tags AWS's Default rule, so its tags are never read.
        tags: (!default).then(|| created_tags(s.tags.as_ref(), env)),
    }
}

pub fn sampling_rule_imported(s: &sampling_rule::Spec) -> sampling_rule::Spec {
    let mut s = s.clone();
    s.tags = s.tags.filter(|t| !t.is_empty());
    s
}

// ---- IAM and S3 ----

/// IAM answers GetRole and GetRolePolicy with URL-encoded JSON.
fn iam_document(doc: &Value, st: Style) -> Value {
    let text = respell_policy(doc, st).to_string();
    let encoded = percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    policy::decode(if st.coin("encoded") { &encoded } else { &text })
}

pub fn role(name: &str, s: &role::Spec, st: Style, env: &Env) -> role::Live {
    role::Live {
        name: name.into(),
        arn: format!("arn:aws:iam::{}:role/{name}", env.account_id),
        role_id: "AROAEXAMPLE".into(),
        path: s.path.clone().unwrap_or_else(|| "/".into()),
        description: s
            .description
            .clone()
            .filter(|d| !d.is_empty() || st.coin("description")),
        max_session_duration: s.max_session_duration.unwrap_or(3600),
        assume_role_policy: iam_document(&s.assume_role_policy, st.sub("trust")),
        managed_policy_arns: s.managed_policy_arns.iter().cloned().collect(),
        inline_policies: s
            .inline_policies
            .iter()
            .map(|(k, v)| (k.clone(), iam_document(v, st.sub(k))))
            .collect(),
        tags: with_owner(&s.tags, env),
    }
}

pub fn bucket(name: &str, s: &bucket::Spec, st: Style, env: &Env) -> bucket::Live {
    // Observe reads versioning, encryption and the access block only where the spec sets them.
    bucket::Live {
        name: name.into(),
        arn: bucket::bucket_arn(env, name),
        versioning: match &s.versioning {
            Some(v) => bucket::Versioning::Status(Some(v.clone())),
            None => bucket::Versioning::NotRead,
        },
        encryption: s.encryption.as_ref().map(|e| {
            Some(bucket::Encryption {
                sse_algorithm: e.sse_algorithm.clone(),
                kms_master_key_id: e.kms_master_key_id.clone(),
                bucket_key_enabled: e
                    .bucket_key_enabled
                    .or(st.coin("bucketKey").then_some(false)),
            })
        }),
        public_access_block: s.public_access_block.map(Some),
        // GetBucketPolicy returns the stored text, minified.
        policy: s
            .policy
            .as_ref()
            .map(|p| policy::decode(&respell_policy(p, st.sub("policy")).to_string())),
        tags: with_owner(&s.tags, env),
    }
}

/// Import leaves out SSE-S3 without a bucket key: every bucket has it by default.
pub fn bucket_imported(s: &bucket::Spec) -> bucket::Spec {
    let mut s = s.clone();
    s.encryption = s
        .encryption
        .filter(|e| !(e.sse_algorithm == "AES256" && e.bucket_key_enabled != Some(true)));
    s
}

// ---- SNS ----

/// The attributes AWS adds to every topic; never compared unless declared.
fn default_topic_attributes(arn: &str, env: &Env) -> BTreeMap<String, Value> {
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
fn sns_text(v: &Value, st: Style) -> Value {
    Value::String(match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(j @ (Value::Object(_) | Value::Array(_))) => respell(&j, st).to_string(),
            _ => s.clone(),
        },
        Value::Object(_) | Value::Array(_) => respell(v, st).to_string(),
        other => other.to_string(),
    })
}

pub fn topic(name: &str, s: &topic::Spec, st: Style, env: &Env) -> topic::Live {
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
pub fn topic_imported(s: &topic::Spec) -> topic::Spec {
    let mut s = s.clone();
    if let Some(Value::String(d)) = s.attributes.remove("DisplayName") {
        s.display_name = Some(d);
    }
    s.attributes.retain(|k, v| {
        ![
            "Policy",
            "DeliveryPolicy",
            "SignatureVersion",
            "TracingConfig",
        ]
        .contains(&k.as_str())
            && v.as_str() != Some("")
    });
    for sub in &mut s.subscriptions {
        sub.attributes.clear();
    }
    s
}

// ---- CloudWatch Logs ----

pub fn log_group(name: &str, s: &log_group::Spec, _st: Style, env: &Env) -> log_group::Live {
    log_group::Live {
        name: name.into(),
        arn: log_group::log_group_arn(env, name),
        retention_in_days: s.retention_in_days,
        kms_key_id: s.kms_key_id.clone(),
        tags: with_owner(&s.tags, env),
    }
}

pub fn metric_filter(
    name: &str,
    s: &metric_filter::Spec,
    st: Style,
    _env: &Env,
) -> metric_filter::Live {
    use aws_sdk_cloudwatchlogs::types::{MetricFilter, MetricTransformation, StandardUnit};
    let transformations = s
        .metric_transformations
        .iter()
        .map(|t| {
            MetricTransformation::builder()
                .metric_name(&t.metric_name)
                .metric_namespace(&t.metric_namespace)
                .metric_value(t.metric_value.trim())
                .set_default_value(t.default_value)
                .set_dimensions(
                    (!t.dimensions.is_empty())
                        .then(|| t.dimensions.clone().into_iter().collect::<HashMap<_, _>>()),
                )
                // AWS records an omitted unit as None, and may say so.
                .set_unit(
                    t.unit
                        .as_deref()
                        .or(st.coin("unit").then_some("None"))
                        .map(StandardUnit::from),
                )
                .build()
                .expect("transformation")
        })
        .collect();
    let f = MetricFilter::builder()
        .filter_name(name)
        .log_group_name(&s.log_group_name)
        .filter_pattern(s.filter_pattern.trim())
        .set_metric_transformations(Some(transformations))
        .apply_on_transformed_logs(s.apply_on_transformed_logs.unwrap_or(false))
        .creation_time(1_717_171_717_171)
        .build();
    metric_filter::Live {
        name: name.into(),
        spec: metric_filter::spec_from_live(&f),
        others: Vec::new(),
    }
}

pub fn query_definition(
    name: &str,
    s: &query_definition::Spec,
    _st: Style,
    _env: &Env,
) -> query_definition::Live {
    // PutQueryDefinition is sent the cleaned text and the groups without repeats.
    let mut seen = BTreeSet::new();
    query_definition::Live {
        id: "0b1c5e7a-3f0e-4d7a-9a53-3c5a8f0e1a11".into(),
        name: name.into(),
        query_string: query_definition::clean_query(&s.query_string),
        log_group_names: s
            .log_group_names
            .iter()
            .filter(|g| seen.insert(*g))
            .cloned()
            .collect(),
        query_language: "CWLI".into(),
        duplicates: Vec::new(),
    }
}

// ---- SSM ----

pub fn agent_config(
    name: &str,
    s: &agent_config::Spec,
    _st: Style,
    env: &Env,
) -> agent_config::Live {
    agent_config::Live {
        name: name.into(),
        arn: format!(
            "arn:aws:ssm:{}:{}:parameter/{name}",
            env.region, env.account_id
        ),
        // GetParameters returns the text PutParameter stored.
        value: agent_config::serialized(&s.config),
        parameter_type: "String".into(),
        // DescribeParameters leaves an empty description out.
        description: s.description.clone().filter(|d| !d.is_empty()),
        // Intelligent-Tiering is a policy; the parameter itself is Standard at this size.
        tier: Some(
            match s.tier.as_deref() {
                Some("Advanced") => "Advanced",
                _ => "Standard",
            }
            .into(),
        ),
        tags: with_owner(&s.tags, env),
    }
}

/// Import writes no tier for Standard, and no empty description.
pub fn agent_config_imported(s: &agent_config::Spec) -> agent_config::Spec {
    let mut s = s.clone();
    s.tier = s.tier.filter(|t| t == "Advanced");
    s.description = s.description.filter(|d| !d.is_empty());
    s
}

// ---- AWS Config ----

fn types(v: &[String]) -> Vec<cfg::ResourceType> {
    v.iter()
        .map(|t| cfg::ResourceType::from(t.as_str()))
        .collect()
}

pub fn config_recorder(
    name: &str,
    s: &config_recorder::Spec,
    st: Style,
    _env: &Env,
) -> config_recorder::Live {
    // AWS keeps what PutConfigurationRecorder was sent, which vigil writes in full.
    let c = config_recorder::canonical(s);
    let strings = |v: &Value, what: &str| -> Vec<String> {
        let v: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        st.shuffled(what, &v)
    };
    let g = &c["recordingGroup"];
    let excluded = strings(&g["exclusionByResourceTypes"]["resourceTypes"], "ex");
    let group = cfg::RecordingGroup::builder()
        .all_supported(g["allSupported"].as_bool().unwrap_or(false))
        .include_global_resource_types(g["includeGlobalResourceTypes"].as_bool().unwrap_or(false))
        .set_resource_types(Some(types(&strings(&g["resourceTypes"], "in"))))
        .set_exclusion_by_resource_types((!excluded.is_empty() || st.coin("ex[]")).then(|| {
            cfg::ExclusionByResourceTypes::builder()
                .set_resource_types(Some(types(&excluded)))
                .build()
        }))
        .recording_strategy(
            cfg::RecordingStrategy::builder()
                .use_only(cfg::RecordingStrategyType::from(
                    g["recordingStrategy"]["useOnly"]
                        .as_str()
                        .unwrap_or_default(),
                ))
                .build(),
        )
        .build();
    let m = &c["recordingMode"];
    let overrides: Vec<cfg::RecordingModeOverride> = m["recordingModeOverrides"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, o)| {
            let os = st.sub(&i.to_string());
            cfg::RecordingModeOverride::builder()
                .set_description(maybe_empty(os, "d", o["description"].as_str()))
                .set_resource_types(Some(types(&strings(&o["resourceTypes"], &format!("o{i}")))))
                .recording_frequency(cfg::RecordingFrequency::from(
                    o["recordingFrequency"].as_str().unwrap_or_default(),
                ))
                .build()
                .expect("override")
        })
        .collect();
    let r = cfg::ConfigurationRecorder::builder()
        .name(name)
        .role_arn(&s.role_arn)
        .recording_group(group)
        .recording_mode(
            cfg::RecordingMode::builder()
                .recording_frequency(cfg::RecordingFrequency::from(
                    m["recordingFrequency"].as_str().unwrap_or_default(),
                ))
                .set_recording_mode_overrides(Some(st.shuffled("overrides", &overrides)))
                .build()
                .expect("mode"),
        )
        .build();
    config_recorder::Live {
        name: name.into(),
        arn: None,
        // A new recorder is stopped; finalize starts it when the spec says so.
        spec: config_recorder::spec_from_live(&r, s.recording == Some(true)),
        failure: None,
    }
}

/// Import says whether the recorder records.
pub fn config_recorder_imported(s: &config_recorder::Spec) -> config_recorder::Spec {
    let mut s = s.clone();
    s.recording = Some(s.recording.unwrap_or(false));
    s
}

pub fn delivery_channel(
    name: &str,
    s: &delivery_channel::Spec,
    _st: Style,
    _env: &Env,
) -> delivery_channel::Live {
    // vigil always sends the frequency, and AWS reports it back.
    let freq = s
        .config_snapshot_delivery_properties
        .as_ref()
        .and_then(|p| p.delivery_frequency.as_deref())
        .unwrap_or("TwentyFour_Hours");
    let c = cfg::DeliveryChannel::builder()
        .name(name)
        .s3_bucket_name(&s.s3_bucket_name)
        .set_s3_key_prefix(s.s3_key_prefix.clone())
        .set_s3_kms_key_arn(s.s3_kms_key_arn.clone())
        .set_sns_topic_arn(s.sns_topic_arn.clone())
        .config_snapshot_delivery_properties(
            cfg::ConfigSnapshotDeliveryProperties::builder()
                .delivery_frequency(cfg::MaximumExecutionFrequency::from(freq))
                .build(),
        )
        .build();
    delivery_channel::Live {
        name: name.into(),
        spec: delivery_channel::spec_from_live(&c),
    }
}

pub fn config_rule(name: &str, s: &config_rule::Spec, st: Style, env: &Env) -> config_rule::Live {
    let src = &s.source;
    let periodic = |m: &str| m == "ScheduledNotification";
    let details: Vec<cfg::SourceDetail> = src
        .source_details
        .iter()
        .map(|d| {
            cfg::SourceDetail::builder()
                .event_source(cfg::EventSource::from(
                    d.event_source.as_deref().unwrap_or("aws.config"),
                ))
                .message_type(cfg::MessageType::from(d.message_type.as_str()))
                // AWS fills the 24-hour default in for periodic triggers.
                .set_maximum_execution_frequency(
                    d.maximum_execution_frequency
                        .as_deref()
                        .or(periodic(&d.message_type).then_some("TwentyFour_Hours"))
                        .map(cfg::MaximumExecutionFrequency::from),
                )
                .build()
        })
        .collect();
    let source = cfg::Source::builder()
        .owner(cfg::Owner::from(src.owner.as_str()))
        .set_source_identifier(src.source_identifier.clone())
        .set_source_details(Some(st.shuffled("details", &details)))
        .set_custom_policy_details(src.custom_policy_details.as_ref().map(|c| {
            cfg::CustomPolicyDetails::builder()
                .policy_runtime(&c.policy_runtime)
                .policy_text(&c.policy_text)
                .enable_debug_log_delivery(c.enable_debug_log_delivery.unwrap_or(false))
                .build()
                .expect("policy")
        }))
        .build()
        .expect("source");
    // AWS returns the parameters as the JSON text it was sent, in its own spacing and order.
    let params = config_rule::params_canonical(s.input_parameters.as_ref())
        .map(|p| respell(&p, st.sub("params")).to_string());
    let scope = s.scope.as_ref().map(|sc| {
        cfg::Scope::builder()
            .set_compliance_resource_types(Some(
                st.shuffled("scope", &sc.compliance_resource_types),
            ))
            .set_tag_key(sc.tag_key.clone())
            .set_tag_value(sc.tag_value.clone())
            .set_compliance_resource_id(sc.compliance_resource_id.clone())
            .build()
    });
    let modes: Vec<String> = if s.evaluation_modes.is_empty() {
        // Detective only, said or not.
        if st.coin("modes") {
            vec!["DETECTIVE".into()]
        } else {
            Vec::new()
        }
    } else {
        s.evaluation_modes.iter().map(|m| m.mode.clone()).collect()
    };
    let managed_periodic = src.owner == "AWS" && st.coin("freq");
    let arn = format!(
        "arn:aws:config:{}:{}:config-rule/config-rule-abc123",
        env.region, env.account_id
    );
    let r = cfg::ConfigRule::builder()
        .config_rule_name(name)
        .config_rule_arn(&arn)
        .config_rule_id("config-rule-abc123")
        .set_description(maybe_empty(st, "description", s.description.as_deref()))
        .source(source)
        .set_input_parameters(params)
        .set_scope(scope)
        .set_maximum_execution_frequency(
            s.maximum_execution_frequency
                .as_deref()
                .or(managed_periodic.then_some("TwentyFour_Hours"))
                .map(cfg::MaximumExecutionFrequency::from),
        )
        .set_evaluation_modes(Some(
            st.shuffled("m", &modes)
                .iter()
                .map(|m| {
                    cfg::EvaluationModeConfiguration::builder()
                        .mode(cfg::EvaluationMode::from(m.as_str()))
                        .build()
                })
                .collect(),
        ))
        .config_rule_state(cfg::ConfigRuleState::Active)
        .build();
    let mut spec = config_rule::spec_from_live(&r);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    config_rule::Live {
        name: name.into(),
        arn,
        id: "config-rule-abc123".into(),
        created_by: None,
        spec,
    }
}

/// Import reads the tags it found, and AWS's default frequency on periodic managed rules.
pub fn config_rule_imported(s: &config_rule::Spec) -> config_rule::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    s
}

// ---- CloudFormation ----

pub fn stack(name: &str, s: &stack::Spec, st: Style, env: &Env) -> stack::Live {
    use aws_sdk_cloudformation::types::{Output, Parameter, Stack, StackStatus, Tag};
    let template = s.template_value();
    let info = stack::template::parameters(&template);
    let parameters: Vec<Parameter> = info
        .iter()
        .filter_map(|(k, i)| {
            let v = s.parameters.get(k).cloned().or(i.default.clone())?;
            let v = if i.no_echo { "****".to_string() } else { v };
            Some(
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build(),
            )
        })
        .collect();
    let tags: Vec<Tag> = created_tags(s.tags.as_ref(), env)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let id = format!(
        "arn:aws:cloudformation:{}:{}:stack/{name}/0a1b2c3d",
        env.region, env.account_id
    );
    let out = Stack::builder()
        .stack_name(name)
        .stack_id(&id)
        .stack_status(if st.coin("updated") {
            StackStatus::UpdateComplete
        } else {
            StackStatus::CreateComplete
        })
        .set_parameters(Some(st.shuffled("params", &parameters)))
        .set_tags(Some(st.shuffled("tags", &tags)))
        .enable_termination_protection(s.termination_protection.unwrap_or(false))
        .outputs(
            Output::builder()
                .output_key("TopicName")
                .output_value("t")
                .build(),
        )
        .build();
    // GetTemplate (Original) returns the body exactly as it was sent.
    stack::Live::from_sdk(&out, Some(&s.body()))
}
