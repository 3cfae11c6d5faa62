//! `MetricAlarm`: a CloudWatch metric alarm on one metric, metric math, or an anomaly band.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::{
    AlarmPromQlCriteria, ComparisonOperator, Dimension, EvaluationCriteria, Metric,
    MetricDataQuery, MetricStat, StandardUnit, Statistic, Tag, WarmUpConfiguration,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::alarms_walk::{AlarmPages, alarms_listed, wanted_alarms};
use super::error::KindError;
use super::kind::{ApplyOptions, Attrs, Issues, Kind, Wanted};
// Kept at its old path for the daily report's walk (ops/report.rs).
pub use super::alarms_walk::all_alarms;
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner};
use crate::aws::{Aws, AwsResultExt, Env};

const SERVICE: &str = "cloudwatch";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    #[serde(default, rename = "okActions", skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insufficient_data_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Required, except on a PromQL alarm (`evaluationCriteria`), which has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_periods: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Required, except on a PromQL alarm (`evaluationCriteria`), which has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_operator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricQuery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_metric_id: Option<String>,
    /// A PromQL alarm: the query and how long a contributor breaches (or
    /// recovers) before the alarm changes state. It replaces the metric, the
    /// threshold, the operator and the evaluation periods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_criteria: Option<EvaluationCriteriaSpec>,
    /// Seconds between evaluations of a PromQL alarm: 10, 20, 30 or a multiple of 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_up_configuration: Option<WarmUpSpec>,
    /// Absent: tags are not managed (and not read). Present, even `{}`: exactly these tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// AWS's `EvaluationCriteria` union; `PromQLCriteria` is its one member.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationCriteriaSpec {
    #[serde(rename = "promQLCriteria")]
    pub prom_ql_criteria: PromQlCriteriaSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromQlCriteriaSpec {
    /// A PromQL instant query returning a vector; each series is a contributor.
    pub query: String,
    /// Seconds a contributor breaches before ALARM (0 to 86400; absent means 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_period: Option<i32>,
    /// Seconds a contributor stays absent before OK (0 to 86400; absent means 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_period: Option<i32>,
}

/// How long a new or updated alarm stays in INSUFFICIENT_DATA without acting
/// (metric and log alarms).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmUpSpec {
    pub warm_up_period_duration_in_minutes: i32,
    /// Wait the whole period even once data arrives (AWS's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_start_evaluating_after_warm_up_period_ends: Option<bool>,
}

impl WarmUpSpec {
    pub fn from_sdk(w: &WarmUpConfiguration) -> Option<WarmUpSpec> {
        Some(WarmUpSpec {
            warm_up_period_duration_in_minutes: w.warm_up_period_duration_in_minutes()?,
            only_start_evaluating_after_warm_up_period_ends: w
                .only_start_evaluating_after_warm_up_period_ends(),
        })
    }

    pub fn to_sdk(&self) -> WarmUpConfiguration {
        WarmUpConfiguration::builder()
            .warm_up_period_duration_in_minutes(self.warm_up_period_duration_in_minutes)
            .set_only_start_evaluating_after_warm_up_period_ends(
                self.only_start_evaluating_after_warm_up_period_ends,
            )
            .build()
    }

    /// The default `false` filled in.
    pub fn canonical(&self) -> Value {
        json!({
            "warmUpPeriodDurationInMinutes": self.warm_up_period_duration_in_minutes,
            "onlyStartEvaluatingAfterWarmUpPeriodEnds":
                self.only_start_evaluating_after_warm_up_period_ends.unwrap_or(false),
        })
    }

    pub fn validate(&self, path: &str, issues: &mut Issues) {
        if self.warm_up_period_duration_in_minutes < 1 {
            issues.at(
                &format!("{path}.warmUpPeriodDurationInMinutes"),
                format!(
                    "{} is not a warm-up period; give at least 1 minute, or remove warmUpConfiguration",
                    self.warm_up_period_duration_in_minutes
                ),
            );
        }
    }
}

impl EvaluationCriteriaSpec {
    fn from_sdk(c: &EvaluationCriteria) -> Option<EvaluationCriteriaSpec> {
        let p = c.as_prom_ql_criteria().ok()?;
        Some(EvaluationCriteriaSpec {
            prom_ql_criteria: PromQlCriteriaSpec {
                query: p.query().unwrap_or_default().to_string(),
                pending_period: p.pending_period(),
                recovery_period: p.recovery_period(),
            },
        })
    }

    fn to_sdk(&self) -> EvaluationCriteria {
        let p = &self.prom_ql_criteria;
        EvaluationCriteria::PromQlCriteria(
            AlarmPromQlCriteria::builder()
                .query(p.query.trim())
                .set_pending_period(p.pending_period)
                .set_recovery_period(p.recovery_period)
                .build(),
        )
    }

    /// Surrounding whitespace trimmed (a YAML block adds a newline); both
    /// periods absent mean 0.
    fn canonical(&self) -> Value {
        let p = &self.prom_ql_criteria;
        json!({"promQLCriteria": {
            "query": p.query.trim(),
            "pendingPeriod": p.pending_period.unwrap_or(0),
            "recoveryPeriod": p.recovery_period.unwrap_or(0),
        }})
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricQuery {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStatSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricStatSpec {
    pub metric: MetricSpec,
    pub period: i32,
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

/// One live alarm; `tags` is `None` when they were not read.
#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub spec: Spec,
    pub state: Option<String>,
}

/// CloudWatch's tag API, shared by both alarm kinds: reads through the
/// Resource Groups Tagging API, writes with TagResource and UntagResource.
pub(super) const TAGS: TagApi = TagApi {
    rules: AWS_RULES,
    read: Read::Batched {
        filter: "cloudwatch:alarm",
        list: list_tags,
    },
    write: Write::Delta {
        tag: tag_resource,
        untag: untag_resource,
    },
};

super::tags::tag_api! {
    client: cloudwatch, service: SERVICE, id: resource_arn, sdk_tag: Tag;
    list: fn list_tags = list_tags_for_resource("ListTagsForResource");
    tag: fn tag_resource = tag_resource("TagResource");
    untag: fn untag_resource = untag_resource("UntagResource");
}

pub(super) fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn alarm_arn(env: &Env, name: &str) -> String {
    format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{name}",
        env.region, env.account_id
    )
}

fn dims_to_map(dims: &[Dimension]) -> BTreeMap<String, String> {
    dims.iter()
        .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
        .collect()
}

fn map_to_dims(m: &BTreeMap<String, String>) -> Option<Vec<Dimension>> {
    Some(
        m.iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect(),
    )
}

/// Reads a live alarm back into the manifest's shape. A PromQL alarm keeps
/// only what a PromQL alarm may declare, whatever else AWS reports for it.
pub fn spec_from_live(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> Spec {
    let spec = Spec {
        alarm_description: a
            .alarm_description()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        actions_enabled: a.actions_enabled(),
        ok_actions: a.ok_actions().to_vec(),
        alarm_actions: a.alarm_actions().to_vec(),
        insufficient_data_actions: a.insufficient_data_actions().to_vec(),
        metric_name: a.metric_name().map(str::to_string),
        namespace: a.namespace().map(str::to_string),
        statistic: a.statistic().map(|s| s.as_str().to_string()),
        extended_statistic: a.extended_statistic().map(str::to_string),
        dimensions: dims_to_map(a.dimensions()),
        period: a.period(),
        unit: a.unit().map(|u| u.as_str().to_string()),
        evaluation_periods: a.evaluation_periods(),
        datapoints_to_alarm: a.datapoints_to_alarm(),
        threshold: a.threshold(),
        comparison_operator: a.comparison_operator().map(|c| c.as_str().to_string()),
        treat_missing_data: a.treat_missing_data().map(str::to_string),
        evaluate_low_sample_count_percentile: a
            .evaluate_low_sample_count_percentile()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        metrics: a
            .metrics()
            .iter()
            .map(|q| MetricQuery {
                id: q.id().unwrap_or_default().to_string(),
                expression: q.expression().map(str::to_string),
                label: q.label().map(str::to_string),
                metric_stat: q.metric_stat().map(|ms| MetricStatSpec {
                    metric: ms
                        .metric()
                        .map(|m| MetricSpec {
                            namespace: m.namespace().unwrap_or_default().to_string(),
                            metric_name: m.metric_name().unwrap_or_default().to_string(),
                            dimensions: dims_to_map(m.dimensions()),
                        })
                        .unwrap_or_default(),
                    period: ms.period().unwrap_or_default(),
                    stat: ms.stat().unwrap_or_default().to_string(),
                    unit: ms.unit().map(|u| u.as_str().to_string()),
                }),
                return_data: q.return_data(),
                period: q.period(),
                account_id: q.account_id().map(str::to_string),
            })
            .collect(),
        threshold_metric_id: a.threshold_metric_id().map(str::to_string),
        evaluation_criteria: a
            .evaluation_criteria()
            .and_then(EvaluationCriteriaSpec::from_sdk),
        evaluation_interval: a.evaluation_interval(),
        warm_up_configuration: a.warm_up_configuration().and_then(WarmUpSpec::from_sdk),
        tags: None,
    };
    if spec.evaluation_criteria.is_some() {
        promql_only(spec)
    } else {
        // Only a PromQL alarm has an interval of its own.
        Spec {
            evaluation_interval: None,
            ..spec
        }
    }
}

/// The fields a PromQL alarm may declare; the others cleared.
fn promql_only(s: Spec) -> Spec {
    Spec {
        alarm_description: s.alarm_description,
        actions_enabled: s.actions_enabled,
        ok_actions: s.ok_actions,
        alarm_actions: s.alarm_actions,
        insufficient_data_actions: s.insufficient_data_actions,
        evaluation_criteria: s.evaluation_criteria,
        evaluation_interval: s.evaluation_interval,
        warm_up_configuration: s.warm_up_configuration,
        tags: s.tags,
        ..Spec::default()
    }
}

/// The canonical form both sides are compared in. Defaults are filled in
/// (`treatMissingData: missing`, `datapointsToAlarm = evaluationPeriods`,
/// `actionsEnabled: true`, `returnData: true`), action lists are sorted, and
/// empty dimension maps are dropped.
pub fn canonical(spec: &Spec, tags: Option<&BTreeMap<String, String>>) -> Value {
    if spec.evaluation_criteria.is_some() {
        return canonical_promql(&promql_only(spec.clone()), tags);
    }
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    let mut obj = json!({
        "actionsEnabled": spec.actions_enabled.unwrap_or(true),
        "okActions": sorted(&spec.ok_actions),
        "alarmActions": sorted(&spec.alarm_actions),
        "insufficientDataActions": sorted(&spec.insufficient_data_actions),
        "evaluationPeriods": spec.evaluation_periods,
        "datapointsToAlarm": spec.datapoints_to_alarm.or(spec.evaluation_periods),
        "comparisonOperator": spec.comparison_operator,
        "treatMissingData": spec.treat_missing_data.clone().unwrap_or_else(|| "missing".into()),
    });
    let m = obj.as_object_mut().expect("object");
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    // AWS reports an empty description as none.
    put(
        "alarmDescription",
        spec.alarm_description
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(Value::from),
    );
    put("metricName", spec.metric_name.clone().map(Value::from));
    put("namespace", spec.namespace.clone().map(Value::from));
    put("statistic", spec.statistic.clone().map(Value::from));
    put(
        "extendedStatistic",
        spec.extended_statistic.clone().map(Value::from),
    );
    put(
        "dimensions",
        (!spec.dimensions.is_empty()).then(|| json!(spec.dimensions)),
    );
    put("period", spec.period.map(Value::from));
    put("unit", spec.unit.clone().map(Value::from));
    put("threshold", spec.threshold.map(Value::from));
    put(
        "evaluateLowSampleCountPercentile",
        spec.evaluate_low_sample_count_percentile
            .clone()
            .map(Value::from),
    );
    put(
        "thresholdMetricId",
        spec.threshold_metric_id.clone().map(Value::from),
    );
    if !spec.metrics.is_empty() {
        let metrics: Vec<Value> = spec
            .metrics
            .iter()
            .map(|q| {
                let mut q = q.clone();
                q.return_data = Some(q.return_data.unwrap_or(true));
                serde_json::to_value(q).expect("serializable")
            })
            .collect();
        put("metrics", Some(Value::Array(metrics)));
    }
    put(
        "warmUpConfiguration",
        spec.warm_up_configuration
            .as_ref()
            .map(WarmUpSpec::canonical),
    );
    put("tags", tags.map(|t| json!(t)));
    obj
}

/// A PromQL alarm's canonical form: no metric, threshold or periods, and no
/// `treatMissingData` default, which does not apply to it.
fn canonical_promql(spec: &Spec, tags: Option<&BTreeMap<String, String>>) -> Value {
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    let mut obj = json!({
        "actionsEnabled": spec.actions_enabled.unwrap_or(true),
        "okActions": sorted(&spec.ok_actions),
        "alarmActions": sorted(&spec.alarm_actions),
        "insufficientDataActions": sorted(&spec.insufficient_data_actions),
        "evaluationCriteria": spec.evaluation_criteria.as_ref().map(EvaluationCriteriaSpec::canonical),
        "evaluationInterval": spec.evaluation_interval,
    });
    let m = obj.as_object_mut().expect("object");
    if let Some(d) = spec.alarm_description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("alarmDescription".into(), json!(d));
    }
    if let Some(w) = &spec.warm_up_configuration {
        m.insert("warmUpConfiguration".into(), w.canonical());
    }
    if let Some(t) = tags {
        m.insert("tags".into(), json!(t));
    }
    obj
}

pub fn validate_actions(lists: [(&str, &Vec<String>); 3], issues: &mut Issues) {
    for (field, list) in lists {
        if list.len() > 5 {
            issues.at(
                field,
                format!("at most 5 actions are allowed, found {}", list.len()),
            );
        }
        for (i, a) in list.iter().enumerate() {
            if !a.starts_with("arn:") && !a.starts_with("${") {
                issues.at(
                    &format!("{field}[{i}]"),
                    format!(
                        "`{a}` is not an ARN; use an ARN or a reference such as ${{Topic/NAME.arn}}"
                    ),
                );
            }
        }
    }
}

fn valid_period(p: i32) -> bool {
    p == 10 || p == 30 || (p > 0 && p % 60 == 0)
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

/// The statistic and the enumerations.
fn check_statistics(s: &Spec, issues: &mut Issues) {
    if s.statistic.is_some() && s.extended_statistic.is_some() {
        issues.at(
            "extendedStatistic",
            "set either statistic or extendedStatistic, not both",
        );
    }
    if let Some(st) = &s.statistic {
        one_of(issues, "statistic", st, Statistic::values());
    }
    if let Some(es) = &s.extended_statistic
        && ![
            "p", "tm", "wm", "tc", "ts", "PR", "TM", "WM", "TC", "TS", "IQM",
        ]
        .iter()
        .any(|p| es.starts_with(p))
    {
        issues.at(
            "extendedStatistic",
            format!("`{es}` is not a percentile or trimmed statistic such as p99 or tm90"),
        );
    }
    match &s.comparison_operator {
        Some(op) => one_of(
            issues,
            "comparisonOperator",
            op,
            ComparisonOperator::values(),
        ),
        None => issues.at(
            "comparisonOperator",
            "missing field `comparisonOperator`: add it to spec",
        ),
    }
    if let Some(t) = &s.treat_missing_data {
        one_of(
            issues,
            "treatMissingData",
            t,
            &["breaching", "notBreaching", "ignore", "missing"],
        );
    }
    if let Some(e) = &s.evaluate_low_sample_count_percentile {
        one_of(
            issues,
            "evaluateLowSampleCountPercentile",
            e,
            &["evaluate", "ignore"],
        );
    }
    if let Some(u) = &s.unit {
        one_of(issues, "unit", u, StandardUnit::values());
    }
}

/// How many periods, and how long each.
fn check_evaluation(s: &Spec, issues: &mut Issues) {
    let Some(periods) = s.evaluation_periods else {
        issues.at(
            "evaluationPeriods",
            "missing field `evaluationPeriods`: add it to spec",
        );
        return;
    };
    if periods < 1 {
        issues.at("evaluationPeriods", "evaluationPeriods must be at least 1");
    }
    if let Some(d) = s.datapoints_to_alarm
        && (d < 1 || d > periods)
    {
        issues.at(
            "datapointsToAlarm",
            format!("datapointsToAlarm must be between 1 and evaluationPeriods ({periods})"),
        );
    }
    if s.evaluation_interval.is_some() {
        issues.at(
            "evaluationInterval",
            "evaluationInterval is only for a PromQL alarm (evaluationCriteria); this alarm is evaluated every period: remove it",
        );
    }
    if let Some(p) = s.period
        && !valid_period(p)
    {
        issues.at(
            "period",
            format!("{p} is not a valid period; use 10, 30 or a multiple of 60"),
        );
    }
}

/// One metric (metricName) or metric math (metrics), not both.
fn check_metric_source(s: &Spec, issues: &mut Issues) {
    match (&s.metric_name, s.metrics.is_empty()) {
        (Some(_), false) => issues.at(
            "metrics",
            "set either metricName (one metric) or metrics (metric math), not both",
        ),
        (None, true) => issues.at(
            "comparisonOperator",
            "the alarm needs a metric: set metricName with namespace, or metrics (or evaluationCriteria for a PromQL alarm)",
        ),
        (Some(_), true) => {
            if s.namespace.is_none() {
                issues.at("metricName", "namespace is required with metricName");
            }
            if s.statistic.is_none() && s.extended_statistic.is_none() {
                issues.at(
                    "metricName",
                    "statistic or extendedStatistic is required with metricName",
                );
            }
            if s.period.is_none() {
                issues.at("metricName", "period is required with metricName");
            }
        }
        (None, false) => {
            check_metric_math(s, issues);
        }
    }
}

/// Metric math: ids, one source per query, and which queries return data.
fn check_metric_math(s: &Spec, issues: &mut Issues) {
    for f in ["namespace", "statistic", "extendedStatistic", "period"] {
        let set = match f {
            "namespace" => s.namespace.is_some(),
            "statistic" => s.statistic.is_some(),
            "extendedStatistic" => s.extended_statistic.is_some(),
            _ => s.period.is_some(),
        };
        if set {
            issues.at(
                f,
                format!("{f} cannot be used with metrics; put it in each metricStat"),
            );
        }
    }
    if !s.dimensions.is_empty() {
        issues.at(
            "dimensions",
            "dimensions cannot be used with metrics; put them in each metricStat.metric",
        );
    }
    let mut ids = BTreeSet::new();
    let mut returning = 0;
    for (i, q) in s.metrics.iter().enumerate() {
        let valid_id = q.id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_id {
            issues.at(&format!("metrics[{i}].id"), format!("`{}` is not a valid id; start with a lowercase letter, then letters, digits or _", q.id));
        }
        if !ids.insert(q.id.clone()) {
            issues.at(
                &format!("metrics[{i}].id"),
                format!("id `{}` is used twice; metric ids must be unique", q.id),
            );
        }
        if q.expression.is_some() == q.metric_stat.is_some() {
            issues.at(
                &format!("metrics[{i}]"),
                "set exactly one of expression and metricStat",
            );
        }
        if let Some(ms) = &q.metric_stat
            && !valid_period(ms.period)
        {
            issues.at(
                &format!("metrics[{i}].metricStat.period"),
                format!(
                    "{} is not a valid period; use 10, 30 or a multiple of 60",
                    ms.period
                ),
            );
        }
        if q.return_data.unwrap_or(true) {
            returning += 1;
        }
    }
    let expected = if s.threshold_metric_id.is_some() {
        2
    } else {
        1
    };
    if returning != expected {
        issues.at(
            "metrics",
            format!("exactly {expected} of the metrics must have returnData: true (the default); set returnData: false on the others"),
        );
    }
}

/// A fixed threshold, or an anomaly band through thresholdMetricId.
fn check_threshold(s: &Spec, issues: &mut Issues) {
    match (&s.threshold_metric_id, s.threshold) {
        (Some(_), Some(_)) => issues.at(
            "threshold",
            "set either threshold or thresholdMetricId, not both",
        ),
        (None, None) => issues.at(
            "threshold",
            "threshold is required: add a number (or thresholdMetricId for an anomaly band)",
        ),
        (Some(id), None) => {
            if !s.metrics.iter().any(|q| &q.id == id) {
                issues.at(
                    "thresholdMetricId",
                    format!("`{id}` is not the id of one of the metrics"),
                );
            }
            if !ANOMALY_OPERATORS.contains(&s.comparison_operator.as_deref().unwrap_or_default()) {
                issues.at(
                    "comparisonOperator",
                    format!(
                        "an anomaly band needs one of {}",
                        ANOMALY_OPERATORS.join(", ")
                    ),
                );
            }
        }
        (None, Some(_)) => {
            if let Some(op) = s
                .comparison_operator
                .as_deref()
                .filter(|op| ANOMALY_OPERATORS.contains(op))
            {
                issues.at(
                    "comparisonOperator",
                    format!(
                        "`{op}` compares with an anomaly band and needs thresholdMetricId; with a fixed threshold use GreaterThanThreshold, LessThanThreshold or their OrEqualTo forms"
                    ),
                );
            }
        }
    }
}

/// What AWS refuses beside `EvaluationCriteria`: a PromQL alarm's query,
/// interval and periods replace all of these.
fn check_promql(s: &Spec, issues: &mut Issues) {
    let set = [
        ("namespace", s.namespace.is_some()),
        ("metricName", s.metric_name.is_some()),
        ("dimensions", !s.dimensions.is_empty()),
        ("period", s.period.is_some()),
        ("unit", s.unit.is_some()),
        ("statistic", s.statistic.is_some()),
        ("extendedStatistic", s.extended_statistic.is_some()),
        ("metrics", !s.metrics.is_empty()),
        ("threshold", s.threshold.is_some()),
        ("comparisonOperator", s.comparison_operator.is_some()),
        ("thresholdMetricId", s.threshold_metric_id.is_some()),
        ("evaluationPeriods", s.evaluation_periods.is_some()),
        ("datapointsToAlarm", s.datapoints_to_alarm.is_some()),
        ("treatMissingData", s.treat_missing_data.is_some()),
        (
            "evaluateLowSampleCountPercentile",
            s.evaluate_low_sample_count_percentile.is_some(),
        ),
    ];
    for (field, _) in set.iter().filter(|(_, on)| *on) {
        issues.at(
            field,
            format!("{field} cannot be used with evaluationCriteria: a PromQL alarm's query decides what breaches; remove {field}"),
        );
    }
    let Some(c) = &s.evaluation_criteria else {
        return;
    };
    let p = &c.prom_ql_criteria;
    let path = "evaluationCriteria.promQLCriteria";
    let query = p.query.trim();
    if query.is_empty() {
        issues.at(
            &format!("{path}.query"),
            "query must not be empty; give a PromQL query that returns the breaching series, such as up == 0",
        );
    } else if query.chars().count() > 10_000 {
        issues.at(
            &format!("{path}.query"),
            "query is longer than the 10000 characters AWS allows",
        );
    }
    for (field, v) in [
        ("pendingPeriod", p.pending_period),
        ("recoveryPeriod", p.recovery_period),
    ] {
        if let Some(v) = v
            && !(0..=86_400).contains(&v)
        {
            issues.at(
                &format!("{path}.{field}"),
                format!("{v} is not a valid {field}; give seconds from 0 to 86400 (one day)"),
            );
        }
    }
    match s.evaluation_interval {
        None => issues.at(
            "evaluationCriteria",
            "a PromQL alarm needs evaluationInterval: add it to spec (seconds: 10, 20, 30 or a multiple of 60)",
        ),
        Some(i) if !(i == 10 || i == 20 || i == 30 || (i > 0 && i % 60 == 0)) => issues.at(
            "evaluationInterval",
            format!("{i} is not a valid evaluationInterval; use 10, 20, 30 or a multiple of 60"),
        ),
        Some(_) => {}
    }
}

const ANOMALY_OPERATORS: &[&str] = &[
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

pub struct MetricAlarm;

impl Kind for MetricAlarm {
    const NAME: &'static str = "MetricAlarm";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 255, "alarm")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if s.evaluation_criteria.is_some() {
            check_promql(s, issues);
        } else {
            check_statistics(s, issues);
            check_evaluation(s, issues);
            check_metric_source(s, issues);
            check_threshold(s, issues);
        }
        if let Some(w) = &s.warm_up_configuration {
            w.validate("warmUpConfiguration", issues);
        }
        validate_actions(
            [
                ("okActions", &s.ok_actions),
                ("alarmActions", &s.alarm_actions),
                ("insufficientDataActions", &s.insufficient_data_actions),
            ],
            issues,
        );
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        let tags = spec.tags.as_ref().map(|t| with_owner(t, env));
        canonical(spec, tags.as_ref())
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec, live.spec.tags.as_ref())
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::arn_and_name(&live.arn, &live.name)
    }

    fn to_spec(live: &Live) -> Spec {
        let mut spec = live.spec.clone();
        super::tags::strip_owner(&mut spec.tags);
        spec
    }

    const TAGS: Option<TagApi> = Some(TAGS);

    crate::kinds::tags::accessors!(id: arn, live: opt spec.tags, spec: opt tags);

    fn listed(aws: &Aws) -> Option<usize> {
        alarms_listed(aws)
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let pages = wanted_alarms(aws, wanted).await?;
        let mut out = BTreeMap::new();
        for (name, a) in AlarmPages::wanted(&pages.metric, wanted) {
            let arn = a
                .alarm_arn()
                .map(str::to_string)
                .unwrap_or_else(|| alarm_arn(&aws.env, name));
            let live = Live {
                name: name.clone(),
                arn,
                spec: spec_from_live(a),
                state: a.state_value().map(|s| s.as_str().to_string()),
            };
            out.insert(name.clone(), live);
        }
        Ok(out)
    }

    /// Without the planner's diff, every field is written.
    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        put(aws, name, spec, live, true).await
    }

    /// PutMetricAlarm only when the planner found a field other than tags
    /// different: tags alone are the engine's tag sync.
    async fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
        opts: &ApplyOptions,
    ) -> Result<Attrs, KindError> {
        let config_changed = live.is_none() || opts.fields.iter().any(|f| !f.in_tags());
        put(aws, name, spec, live, config_changed).await
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        aws.clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(name)
            .send()
            .await
            .aws(SERVICE, "DeleteAlarms")?;
        Ok(())
    }
}

/// Creates or updates the alarm (PutMetricAlarm when `config_changed`).
async fn put(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
    config_changed: bool,
) -> Result<Attrs, KindError> {
    let env = &aws.env;
    let arn = live
        .map(|l| l.arn.clone())
        .unwrap_or_else(|| alarm_arn(env, name));
    if config_changed {
        let metrics: Option<Vec<MetricDataQuery>> = (!spec.metrics.is_empty()).then(|| {
            spec.metrics
                .iter()
                .map(|q| {
                    MetricDataQuery::builder()
                        .id(&q.id)
                        .set_expression(q.expression.clone())
                        .set_label(q.label.clone())
                        .set_return_data(q.return_data)
                        .set_period(q.period)
                        .set_account_id(q.account_id.clone())
                        .set_metric_stat(q.metric_stat.as_ref().map(|ms| {
                            MetricStat::builder()
                                .metric(
                                    Metric::builder()
                                        .namespace(&ms.metric.namespace)
                                        .metric_name(&ms.metric.metric_name)
                                        .set_dimensions(map_to_dims(&ms.metric.dimensions))
                                        .build(),
                                )
                                .period(ms.period)
                                .stat(&ms.stat)
                                .set_unit(ms.unit.as_deref().map(StandardUnit::from))
                                .build()
                        }))
                        .build()
                })
                .collect()
        });
        // Tags on PutMetricAlarm only count at creation; the engine syncs an
        // update's tags through TagResource.
        let create_tags = match live {
            None => with_owner(spec.tags.as_ref().unwrap_or(&Tags::new()), env),
            Some(_) => Tags::new(),
        };
        aws.clients
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .set_alarm_description(spec.alarm_description.clone())
            .actions_enabled(spec.actions_enabled.unwrap_or(true))
            .set_ok_actions(Some(spec.ok_actions.clone()))
            .set_alarm_actions(Some(spec.alarm_actions.clone()))
            .set_insufficient_data_actions(Some(spec.insufficient_data_actions.clone()))
            .set_metric_name(spec.metric_name.clone())
            .set_namespace(spec.namespace.clone())
            .set_statistic(spec.statistic.as_deref().map(Statistic::from))
            .set_extended_statistic(spec.extended_statistic.clone())
            .set_dimensions(
                (!spec.dimensions.is_empty())
                    .then(|| map_to_dims(&spec.dimensions))
                    .flatten(),
            )
            .set_period(spec.period)
            .set_unit(spec.unit.as_deref().map(StandardUnit::from))
            .set_evaluation_periods(spec.evaluation_periods)
            .set_datapoints_to_alarm(spec.datapoints_to_alarm)
            .set_threshold(spec.threshold)
            .set_comparison_operator(
                spec.comparison_operator
                    .as_deref()
                    .map(ComparisonOperator::from),
            )
            .set_treat_missing_data(spec.treat_missing_data.clone())
            .set_evaluate_low_sample_count_percentile(
                spec.evaluate_low_sample_count_percentile.clone(),
            )
            .set_metrics(metrics)
            .set_threshold_metric_id(spec.threshold_metric_id.clone())
            .set_evaluation_criteria(
                spec.evaluation_criteria
                    .as_ref()
                    .map(EvaluationCriteriaSpec::to_sdk),
            )
            .set_evaluation_interval(spec.evaluation_interval)
            .set_warm_up_configuration(spec.warm_up_configuration.as_ref().map(WarmUpSpec::to_sdk))
            .set_tags((!create_tags.is_empty()).then(|| sdk_tags(&create_tags)))
            .send()
            .await
            .aws(SERVICE, "PutMetricAlarm")?;
    }
    Ok(Attrs::from([
        ("arn".to_string(), arn),
        ("name".to_string(), name.to_string()),
    ]))
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
