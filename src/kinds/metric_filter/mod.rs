//! `MetricFilter`: a CloudWatch Logs metric filter. `metadata.name` is the filter
//! name; `spec.logGroupName` (usually `${LogGroup/NAME.name}`) is the group it watches.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::{Attrs, Issues, Kind, Wanted};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};

const SERVICE: &str = "logs";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub log_group_name: String,
    /// May be empty, which matches every event.
    #[serde(default)]
    pub filter_pattern: String,
    /// Exactly one, as AWS requires.
    pub metric_transformations: Vec<Transformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_on_transformed_logs: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transformation {
    pub metric_name: String,
    pub metric_namespace: String,
    /// A number such as `1`, or a field such as `$.latency`; written as either.
    #[serde(deserialize_with = "string_or_number")]
    #[schemars(extend("type" = ["string", "number"]))]
    pub metric_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    /// Metric dimension name to a field of the event, such as `{Status: $status}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub spec: Spec,
    /// Other log groups holding a filter of the same name (names are unique per group only).
    pub others: Vec<String>,
}

fn canonical(s: &Spec) -> Value {
    let transformations: Vec<Value> = s
        .metric_transformations
        .iter()
        .map(|t| {
            let mut v = json!({
                "metricName": t.metric_name,
                "metricNamespace": t.metric_namespace,
                "metricValue": t.metric_value.trim(),
                // AWS records an omitted unit as None.
                "unit": t.unit.as_deref().unwrap_or("None"),
            });
            let m = v.as_object_mut().expect("object");
            if let Some(d) = t.default_value {
                m.insert("defaultValue".into(), json!(d));
            }
            if !t.dimensions.is_empty() {
                m.insert("dimensions".into(), json!(t.dimensions));
            }
            v
        })
        .collect();
    json!({
        "logGroupName": s.log_group_name,
        "filterPattern": s.filter_pattern.trim(),
        "metricTransformations": transformations,
        "applyOnTransformedLogs": s.apply_on_transformed_logs.unwrap_or(false),
    })
}

pub(crate) fn spec_from_live(f: &aws_sdk_cloudwatchlogs::types::MetricFilter) -> Spec {
    Spec {
        log_group_name: f.log_group_name().unwrap_or_default().to_string(),
        filter_pattern: f.filter_pattern().unwrap_or_default().to_string(),
        metric_transformations: f
            .metric_transformations()
            .iter()
            .map(|t| Transformation {
                metric_name: t.metric_name().to_string(),
                metric_namespace: t.metric_namespace().to_string(),
                metric_value: t.metric_value().to_string(),
                default_value: t.default_value(),
                dimensions: t
                    .dimensions()
                    .map(|d| d.clone().into_iter().collect())
                    .unwrap_or_default(),
                unit: t.unit().map(|u| u.as_str().to_string()),
            })
            .collect(),
        apply_on_transformed_logs: f.apply_on_transformed_logs().then_some(true),
    }
}

/// The log group a declared filter names, when it is known before anything is
/// resolved: a literal name, or a `${LogGroup/NAME.name}` reference (that
/// attribute is the name itself).
fn declared_group(spec: &Value) -> Option<String> {
    let g = spec.get("logGroupName")?.as_str()?;
    if !g.contains('$') {
        return Some(g.to_string());
    }
    let inner = g.strip_prefix("${LogGroup/")?.strip_suffix(".name}")?;
    (!inner.contains('}') && !inner.contains('$')).then(|| inner.to_string())
}

fn check_metric_part(issues: &mut Issues, path: &str, value: &str, what: &str) {
    if value.is_empty() || value.chars().count() > 255 {
        issues.at(path, format!("{what} must be 1 to 255 characters long"));
    }
    if let Some(c) = value.chars().find(|c| matches!(c, ':' | '*' | '$')) {
        issues.at(path, format!("{what} cannot contain {c:?}"));
    }
}

/// A transformation as PutMetricFilter takes it (and DescribeMetricFilters
/// answers it), with this unit.
pub fn sdk_transformation(
    t: &Transformation,
    unit: Option<&str>,
) -> Result<
    aws_sdk_cloudwatchlogs::types::MetricTransformation,
    aws_smithy_types::error::operation::BuildError,
> {
    aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
        .metric_name(&t.metric_name)
        .metric_namespace(&t.metric_namespace)
        .metric_value(t.metric_value.trim())
        .set_default_value(t.default_value)
        .set_dimensions(
            (!t.dimensions.is_empty())
                .then(|| t.dimensions.clone().into_iter().collect::<HashMap<_, _>>()),
        )
        .set_unit(unit.map(aws_sdk_cloudwatchlogs::types::StandardUnit::from))
        .build()
}

pub struct MetricFilter;

impl Kind for MetricFilter {
    const NAME: &'static str = "MetricFilter";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["name"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::check_name(
            name,
            512,
            |c| c != ':' && c != '*' && !c.is_control(),
            "filter names cannot contain : or *",
        )
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if !s.log_group_name.contains("${")
            && let Err(m) = super::log_group::LogGroup::validate_name(&s.log_group_name)
        {
            issues.at(
                "logGroupName",
                format!("`{}` is not a log group name: {m}", s.log_group_name),
            );
        }
        if s.filter_pattern.chars().count() > 1024 {
            issues.at(
                "filterPattern",
                "a filter pattern is at most 1024 characters long",
            );
        }
        if s.metric_transformations.len() != 1 {
            issues.at(
                "metricTransformations",
                "a metric filter has exactly one metric transformation; declare each other one as its own MetricFilter",
            );
        }
        let units = aws_sdk_cloudwatchlogs::types::StandardUnit::values();
        for (i, t) in s.metric_transformations.iter().enumerate() {
            let p = format!("metricTransformations[{i}]");
            check_metric_part(
                issues,
                &format!("{p}.metricName"),
                &t.metric_name,
                "metricName",
            );
            if t.metric_namespace.is_empty() || t.metric_namespace.chars().count() > 255 {
                issues.at(
                    &format!("{p}.metricNamespace"),
                    "metricNamespace must be 1 to 255 characters long",
                );
            }
            if let Some(c) = t
                .metric_namespace
                .chars()
                .find(|c| matches!(c, ':' | '*' | '$'))
            {
                issues.at(
                    &format!("{p}.metricNamespace"),
                    format!("metricNamespace cannot contain {c:?}"),
                );
            }
            if t.metric_value.trim().is_empty() {
                issues.at(
                    &format!("{p}.metricValue"),
                    "metricValue is required: a number such as 1, or a field such as $.latency",
                );
            }
            if t.dimensions.len() > 3 {
                issues.at(
                    &format!("{p}.dimensions"),
                    "a metric filter can have at most 3 dimensions",
                );
            }
            if let Some(u) = &t.unit
                && !units.contains(&u.as_str())
            {
                issues.at(
                    &format!("{p}.unit"),
                    format!(
                        "`{u}` is not a CloudWatch unit; use one of {}",
                        units.join(", ")
                    ),
                );
            }
        }
    }

    fn normalize(spec: &Spec, _env: &Env) -> Value {
        canonical(spec)
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec)
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([("name".to_string(), live.name.clone())])
    }

    fn notes(live: &Live) -> Vec<String> {
        if live.others.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "a metric filter of the same name also exists in {}; vigil manages the one in {}",
            live.others.join(", "),
            live.spec.log_group_name
        )]
    }

    fn to_spec(live: &Live) -> Spec {
        live.spec.clone()
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        if !wanted.all && wanted.specs.is_empty() {
            return Ok(BTreeMap::new());
        }
        // Without a log group, DescribeMetricFilters lists every filter in the region.
        let mut by_name: BTreeMap<String, Vec<Spec>> = BTreeMap::new();
        let mut filters = aws
            .clients
            .logs
            .describe_metric_filters()
            .limit(50)
            .into_paginator()
            .items()
            .send();
        while let Some(f) = filters
            .try_next()
            .await
            .aws(SERVICE, "DescribeMetricFilters")?
        {
            if let Some(name) = f.filter_name()
                && wanted.contains(name)
            {
                let spec = spec_from_live(&f);
                let same = by_name.entry(name.to_string()).or_default();
                // AWS keeps one filter per (group, name). An emulator that appends
                // on every PutMetricFilter lists the newest last: keep that one.
                same.retain(|s| s.log_group_name != spec.log_group_name);
                same.push(spec);
            }
        }
        Ok(by_name
            .into_iter()
            .map(|(name, mut specs)| {
                specs.sort_by(|a, b| a.log_group_name.cmp(&b.log_group_name));
                // The declared group's filter; else, when the manifest moved it, the first.
                let i = declared_group(wanted.spec(&name))
                    .and_then(|g| specs.iter().position(|s| s.log_group_name == g))
                    .unwrap_or(0);
                let spec = specs.remove(i);
                let others = specs.into_iter().map(|s| s.log_group_name).collect();
                (name.clone(), Live { name, spec, others })
            })
            .collect())
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let logs = &aws.clients.logs;
        let transformations = spec
            .metric_transformations
            .iter()
            .map(|t| sdk_transformation(t, t.unit.as_deref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KindError::invalid(SERVICE, "PutMetricFilter", e))?;
        // PutMetricFilter creates or replaces the whole filter.
        if live.is_none_or(|l| canonical(&l.spec) != canonical(spec)) {
            logs.put_metric_filter()
                .log_group_name(&spec.log_group_name)
                .filter_name(name)
                .filter_pattern(spec.filter_pattern.trim())
                .set_metric_transformations(Some(transformations))
                .set_apply_on_transformed_logs(spec.apply_on_transformed_logs)
                .send()
                .await
                .aws(SERVICE, "PutMetricFilter")?;
        }
        // Moving a filter to another group: the new one exists, so remove the old one.
        if let Some(l) = live
            && l.spec.log_group_name != spec.log_group_name
        {
            delete_filter(aws, &l.spec.log_group_name, name).await?;
        }
        Ok(Attrs::from([("name".to_string(), name.to_string())]))
    }

    async fn delete(aws: &Aws, name: &str, live: &Live) -> Result<(), KindError> {
        Ok(delete_filter(aws, &live.spec.log_group_name, name).await?)
    }
}

async fn delete_filter(aws: &Aws, group: &str, name: &str) -> Result<(), AwsError> {
    match aws
        .clients
        .logs
        .delete_metric_filter()
        .log_group_name(group)
        .filter_name(name)
        .send()
        .await
        .aws(SERVICE, "DeleteMetricFilter")
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
