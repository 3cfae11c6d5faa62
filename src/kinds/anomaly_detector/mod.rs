//! `AnomalyDetector`: a CloudWatch anomaly detection model on one metric and
//! statistic, or on a metric math expression (AWS::CloudWatch::AnomalyDetector).
//!
//! AWS gives a detector no name and no tags: it is identified by its metric
//! (or its math queries). `metadata.name` is vigil's name for it, the
//! inventory is the record of ownership, and observe pairs a name with a live
//! detector by that identity, which therefore cannot hold references.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::{
    AnomalyDetector as SdkDetector, AnomalyDetectorAdaptationSpeed, AnomalyDetectorConfiguration,
    AnomalyDetectorOutlierFilteringStrength, AnomalyDetectorType, Dimension, Metric as SdkMetric,
    MetricCharacteristics as SdkCharacteristics, MetricDataQuery, MetricMathAnomalyDetector,
    MetricStat, Range, SingleMetricAnomalyDetector, StandardUnit,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::KindError;
use super::kind::{ApplyOptions, Attrs, Issues, Kind, Wanted};
use crate::aws::{Aws, AwsResultExt, Env};
use crate::diff::FieldDiff;

const SERVICE: &str = "cloudwatch";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// One metric: its namespace (with `metricName` and `stat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// The metric's dimensions, as a mapping; order does not matter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// `Average`, `Sum`, `p99`, `tm90`, `TM(10%:90%)`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    /// The account of the metric, for a monitoring account (cross-account observability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Metric math instead of one metric: the query with `returnData: true`
    /// is the time series the model is trained on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_data_queries: Vec<Query>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Configuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_characteristics: Option<MetricCharacteristics>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Configuration {
    /// Up to 10 time ranges the model does not train on (deployments, maintenance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_time_ranges: Vec<TimeRange>,
    /// A tz database name such as `Asia/Tokyo`; absent means UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_timezone: Option<String>,
    /// `FAST`, `NORMAL` (the default) or `SLOW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation_speed: Option<String>,
    /// `MINIMAL`, `MODERATE` (the default) or `STRICT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_filtering_strength: Option<String>,
}

/// A time range in UTC: `2026-01-04T18:00:00` (a trailing `Z` is accepted).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeRange {
    pub start_time: String,
    pub end_time: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricCharacteristics {
    /// The metric has regular spikes that are not anomalies. Absent means false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_spikes: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Query {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<QueryStat>,
    /// Absent means true; exactly one query returns data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryStat {
    pub metric: QueryMetric,
    pub period: i32,
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryMetric {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

/// One live detector: the spec as DescribeAnomalyDetectors reports it.
#[derive(Debug, Clone)]
pub struct Live {
    /// vigil's name for it (AWS has none).
    pub name: String,
    /// AnomalyDetectorId, when AWS reports one.
    pub id: Option<String>,
    pub spec: Spec,
    /// The model's training state (`PENDING_TRAINING`, `TRAINED`, ...).
    pub state: Option<String>,
}

/// The fields that identify a detector: a change to any is a new detector.
pub const IDENTITY: &[&str] = &[
    "accountId",
    "namespace",
    "metricName",
    "dimensions",
    "stat",
    "metricDataQueries",
];

const DEFAULT_TIMEZONE: &str = "UTC";
const DEFAULT_SPEED: &str = "NORMAL";
const DEFAULT_FILTERING: &str = "MODERATE";
const MAX_EXCLUDED: usize = 10;
const BASIC_STATS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// The tz database's areas; a name is `UTC`, `GMT` or `Area/Location[/...]`.
const TZ_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

/// Parses a range end as AWS takes it (`yyyy-MM-dd'T'HH:mm:ss`, UTC); a
/// trailing `Z` is accepted, an offset is not (AWS reads these times in UTC).
pub fn parse_time(s: &str) -> Option<DateTime> {
    let s = s.trim();
    let full = if s.ends_with('Z') {
        s.to_string()
    } else {
        format!("{s}Z")
    };
    DateTime::from_str(&full, Format::DateTime).ok()
}

/// The canonical text of a time: UTC, `Z`, whole seconds unless given finer.
fn canonical_time(s: &str) -> String {
    parse_time(s)
        .and_then(|t| t.fmt(Format::DateTime).ok())
        .unwrap_or_else(|| s.to_string())
}

fn time_text(t: &DateTime) -> String {
    t.fmt(Format::DateTime).unwrap_or_default()
}

pub fn valid_timezone(tz: &str) -> bool {
    if tz == "UTC" || tz == "GMT" {
        return true;
    }
    let mut parts = tz.split('/');
    let area = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    TZ_AREAS.contains(&area)
        && !rest.is_empty()
        && rest.iter().all(|p| {
            p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

/// AWS's statistic forms: the five basic ones, percentiles and trimmed
/// statistics (`p99`, `p99.9`, `tm90`, `wm99`, `tc90`, `ts90`), their range
/// forms (`TM(10%:90%)`, `PR(:300)`, ...) and `IQM`.
pub fn valid_stat(s: &str) -> bool {
    if BASIC_STATS.contains(&s) || s == "IQM" {
        return true;
    }
    let percent = |n: &str| {
        let (int, frac) = n.split_once('.').unwrap_or((n, ""));
        !int.is_empty()
            && int.len() <= 3
            && int.chars().all(|c| c.is_ascii_digit())
            && frac.len() <= 10
            && frac.chars().all(|c| c.is_ascii_digit())
            && (!n.contains('.') || !frac.is_empty())
            && n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v))
    };
    for p in ["p", "tm", "wm", "tc", "ts"] {
        if let Some(n) = s.strip_prefix(p)
            && percent(n)
        {
            return true;
        }
    }
    for p in ["PR", "TM", "WM", "TC", "TS"] {
        if let Some(inner) = s
            .strip_prefix(p)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            && let Some((lo, hi)) = inner.split_once(':')
            && !(lo.is_empty() && hi.is_empty())
        {
            let bound = |b: &str| {
                b.is_empty()
                    || b.strip_suffix('%').map_or_else(
                        || b.parse::<f64>().is_ok(),
                        |n| n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)),
                    )
            };
            if bound(lo) && bound(hi) {
                return true;
            }
        }
    }
    false
}

fn valid_period(p: i32) -> bool {
    p == 1 || p == 5 || p == 10 || p == 20 || p == 30 || (p > 0 && p % 60 == 0)
}

fn has_reference(s: &str) -> bool {
    s.replace("$${", "").contains("${")
}

/// The canonical form, itself a spec: defaults filled in (UTC, NORMAL,
/// MODERATE, no periodic spikes, `returnData: true`), excluded ranges in UTC
/// and in time order.
pub fn canonical(spec: &Spec) -> Spec {
    let c = spec.configuration.clone().unwrap_or_default();
    let mut ranges: Vec<TimeRange> = c
        .excluded_time_ranges
        .iter()
        .map(|r| TimeRange {
            start_time: canonical_time(&r.start_time),
            end_time: canonical_time(&r.end_time),
        })
        .collect();
    ranges.sort_by(|a, b| (&a.start_time, &a.end_time).cmp(&(&b.start_time, &b.end_time)));
    ranges.dedup();
    Spec {
        namespace: spec.namespace.clone(),
        metric_name: spec.metric_name.clone(),
        dimensions: spec.dimensions.clone(),
        stat: spec.stat.clone(),
        account_id: spec.account_id.clone(),
        metric_data_queries: spec
            .metric_data_queries
            .iter()
            .map(|q| Query {
                return_data: Some(q.return_data.unwrap_or(true)),
                ..q.clone()
            })
            .collect(),
        configuration: Some(Configuration {
            excluded_time_ranges: ranges,
            metric_timezone: Some(
                c.metric_timezone
                    .unwrap_or_else(|| DEFAULT_TIMEZONE.to_string()),
            ),
            adaptation_speed: Some(c.adaptation_speed.unwrap_or_else(|| DEFAULT_SPEED.into())),
            outlier_filtering_strength: Some(
                c.outlier_filtering_strength
                    .unwrap_or_else(|| DEFAULT_FILTERING.into()),
            ),
        }),
        metric_characteristics: Some(MetricCharacteristics {
            periodic_spikes: Some(
                spec.metric_characteristics
                    .as_ref()
                    .and_then(|m| m.periodic_spikes)
                    .unwrap_or(false),
            ),
        }),
    }
}

/// What identifies a detector in AWS, as text: the metric (or the queries).
pub fn identity(spec: &Spec) -> String {
    let v = serde_json::to_value(canonical(spec)).expect("specs serialize");
    let mut id = serde_json::Map::new();
    for f in IDENTITY {
        if let Some(x) = v.get(*f) {
            id.insert((*f).to_string(), x.clone());
        }
    }
    Value::Object(id).to_string()
}

/// A short human description of a detector's identity, for plans and names.
pub fn describe(spec: &Spec) -> String {
    if !spec.metric_data_queries.is_empty() {
        let ret = spec
            .metric_data_queries
            .iter()
            .find(|q| q.return_data.unwrap_or(true))
            .or(spec.metric_data_queries.first());
        return match ret {
            Some(q) => format!(
                "metric math {}: {}",
                q.id,
                q.expression.as_deref().unwrap_or("(a metric)")
            ),
            None => "metric math".into(),
        };
    }
    let mut s = format!(
        "{} {} {}",
        spec.namespace.as_deref().unwrap_or_default(),
        spec.metric_name.as_deref().unwrap_or_default(),
        spec.stat.as_deref().unwrap_or_default()
    );
    for (k, v) in &spec.dimensions {
        s.push_str(&format!(" {k}={v}"));
    }
    if let Some(a) = &spec.account_id {
        s.push_str(&format!(" (account {a})"));
    }
    s
}

/// Whether the planner's diff touches what identifies the detector.
pub fn replaces(fields: &[FieldDiff]) -> bool {
    fields.iter().any(|f| {
        IDENTITY.iter().any(|i| {
            f.path
                .strip_prefix(i)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    })
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

fn check_stat(issues: &mut Issues, path: &str, stat: &str) {
    if !valid_stat(stat) {
        issues.at(
            path,
            format!(
                "`{stat}` is not a statistic AWS accepts; use SampleCount, Average, Sum, Minimum, Maximum, \
                 a percentile such as p99 or p99.9, a trimmed statistic such as tm90 or TM(10%:90%), or IQM"
            ),
        );
    }
}

fn check_single(s: &Spec, issues: &mut Issues) {
    for (field, v) in [
        ("namespace", &s.namespace),
        ("metricName", &s.metric_name),
        ("stat", &s.stat),
    ] {
        if v.as_deref().is_none_or(|x| x.trim().is_empty()) {
            issues.at(
                field,
                format!(
                    "{field} is required for a single-metric detector (namespace, metricName and stat)"
                ),
            );
        }
    }
    if let Some(st) = &s.stat {
        check_stat(issues, "stat", st);
    }
    if s.dimensions.len() > 30 {
        issues.at("dimensions", "a metric has at most 30 dimensions");
    }
}

fn check_math(s: &Spec, issues: &mut Issues) {
    let mut ids = BTreeSet::new();
    let mut returning = 0;
    for (i, q) in s.metric_data_queries.iter().enumerate() {
        let at = |f: &str| format!("metricDataQueries[{i}]{f}");
        let valid_id = q.id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_id {
            issues.at(
                &at(".id"),
                format!(
                    "`{}` is not a valid id; start with a lowercase letter, then letters, digits or _",
                    q.id
                ),
            );
        }
        if !ids.insert(q.id.clone()) {
            issues.at(
                &at(".id"),
                format!("id `{}` is used twice; query ids must be unique", q.id),
            );
        }
        if q.expression.is_some() == q.metric_stat.is_some() {
            issues.at(&at(""), "set exactly one of expression and metricStat");
        }
        if let Some(ms) = &q.metric_stat {
            if !valid_period(ms.period) {
                issues.at(
                    &at(".metricStat.period"),
                    format!(
                        "{} is not a valid period; use 1, 5, 10, 20, 30 or a multiple of 60",
                        ms.period
                    ),
                );
            }
            check_stat(issues, &at(".metricStat.stat"), &ms.stat);
            if let Some(u) = &ms.unit {
                one_of(issues, &at(".metricStat.unit"), u, StandardUnit::values());
            }
        }
        if q.return_data.unwrap_or(true) {
            returning += 1;
        }
    }
    if returning != 1 {
        issues.at(
            "metricDataQueries",
            format!(
                "exactly one query must have returnData: true (the default), the series the model trains on; \
                 {returning} do: set returnData: false on the others"
            ),
        );
    }
}

fn check_configuration(c: &Configuration, issues: &mut Issues) {
    if c.excluded_time_ranges.len() > MAX_EXCLUDED {
        issues.at(
            "configuration.excludedTimeRanges",
            format!(
                "at most {MAX_EXCLUDED} excluded time ranges; {} are given",
                c.excluded_time_ranges.len()
            ),
        );
    }
    for (i, r) in c.excluded_time_ranges.iter().enumerate() {
        let at = |f: &str| format!("configuration.excludedTimeRanges[{i}].{f}");
        let start = parse_time(&r.start_time);
        let end = parse_time(&r.end_time);
        for (f, v, t) in [
            ("startTime", &r.start_time, start),
            ("endTime", &r.end_time, end),
        ] {
            if t.is_none() {
                issues.at(
                    &at(f),
                    format!("`{v}` is not a UTC time such as 2026-01-04T18:00:00 (AWS reads these times in UTC: write no offset)"),
                );
            }
        }
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            issues.at(
                &at("endTime"),
                format!(
                    "the range must end after it starts: {} is not after {}",
                    r.end_time, r.start_time
                ),
            );
        }
    }
    if let Some(tz) = &c.metric_timezone
        && !valid_timezone(tz)
    {
        issues.at(
            "configuration.metricTimezone",
            format!(
                "`{tz}` is not a tz database name; use one such as Asia/Tokyo, Europe/Paris or UTC"
            ),
        );
    }
    if let Some(s) = &c.adaptation_speed {
        one_of(
            issues,
            "configuration.adaptationSpeed",
            s,
            AnomalyDetectorAdaptationSpeed::values(),
        );
    }
    if let Some(s) = &c.outlier_filtering_strength {
        one_of(
            issues,
            "configuration.outlierFilteringStrength",
            s,
            AnomalyDetectorOutlierFilteringStrength::values(),
        );
    }
}

/// Observe finds a detector by its identity before references resolve.
fn check_no_references(s: &Spec, issues: &mut Issues) {
    let msg = |f: &str| {
        format!(
            "{f} is part of the detector's identity (AWS gives a detector no name), so it cannot hold a \
             reference: vigil finds the detector by it before references resolve; write the value itself"
        )
    };
    for (f, v) in [
        ("namespace", &s.namespace),
        ("metricName", &s.metric_name),
        ("stat", &s.stat),
        ("accountId", &s.account_id),
    ] {
        if v.as_deref().is_some_and(has_reference) {
            issues.at(f, msg(f));
        }
    }
    for (k, v) in &s.dimensions {
        if has_reference(k) || has_reference(v) {
            issues.at(&format!("dimensions.{k}"), msg("dimensions"));
        }
    }
    for (i, q) in s.metric_data_queries.iter().enumerate() {
        let text = serde_json::to_string(q).unwrap_or_default();
        if has_reference(&text) {
            issues.at(&format!("metricDataQueries[{i}]"), msg("metricDataQueries"));
        }
    }
}

fn dims(m: &BTreeMap<String, String>) -> Option<Vec<Dimension>> {
    (!m.is_empty()).then(|| {
        m.iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect()
    })
}

fn dims_map(d: &[Dimension]) -> BTreeMap<String, String> {
    d.iter()
        .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
        .collect()
}

fn sdk_queries(qs: &[Query]) -> Vec<MetricDataQuery> {
    qs.iter()
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
                            SdkMetric::builder()
                                .namespace(&ms.metric.namespace)
                                .metric_name(&ms.metric.metric_name)
                                .set_dimensions(dims(&ms.metric.dimensions))
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
}

fn single(spec: &Spec) -> SingleMetricAnomalyDetector {
    SingleMetricAnomalyDetector::builder()
        .set_account_id(spec.account_id.clone())
        .set_namespace(spec.namespace.clone())
        .set_metric_name(spec.metric_name.clone())
        .set_dimensions(dims(&spec.dimensions))
        .set_stat(spec.stat.clone())
        .build()
}

fn math(spec: &Spec) -> MetricMathAnomalyDetector {
    MetricMathAnomalyDetector::builder()
        .set_metric_data_queries(Some(sdk_queries(&spec.metric_data_queries)))
        .build()
}

fn sdk_configuration(spec: &Spec) -> Option<AnomalyDetectorConfiguration> {
    let c = spec.configuration.as_ref()?;
    let ranges = c
        .excluded_time_ranges
        .iter()
        .map(|r| {
            Range::builder()
                .set_start_time(parse_time(&r.start_time))
                .set_end_time(parse_time(&r.end_time))
                .build()
        })
        .collect();
    Some(
        AnomalyDetectorConfiguration::builder()
            .set_excluded_time_ranges(Some(ranges))
            .set_metric_timezone(c.metric_timezone.clone())
            .set_adaptation_speed(
                c.adaptation_speed
                    .as_deref()
                    .map(AnomalyDetectorAdaptationSpeed::from),
            )
            .set_outlier_filtering_strength(
                c.outlier_filtering_strength
                    .as_deref()
                    .map(AnomalyDetectorOutlierFilteringStrength::from),
            )
            .build(),
    )
}

/// A detector as DescribeAnomalyDetectors reports it, read back into a spec.
#[allow(deprecated)] // the flat Namespace/MetricName/... fields: older detectors report only those
pub fn spec_from_live(d: &SdkDetector) -> Spec {
    let mut spec = Spec::default();
    if let Some(m) = d.metric_math_anomaly_detector() {
        spec.metric_data_queries = m
            .metric_data_queries()
            .iter()
            .map(|q| Query {
                id: q.id().unwrap_or_default().to_string(),
                expression: q.expression().map(str::to_string),
                label: q.label().map(str::to_string),
                metric_stat: q.metric_stat().map(|ms| QueryStat {
                    metric: ms
                        .metric()
                        .map(|m| QueryMetric {
                            namespace: m.namespace().unwrap_or_default().to_string(),
                            metric_name: m.metric_name().unwrap_or_default().to_string(),
                            dimensions: dims_map(m.dimensions()),
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
            .collect();
    } else if let Some(s) = d.single_metric_anomaly_detector() {
        spec.account_id = s.account_id().map(str::to_string);
        spec.namespace = s.namespace().map(str::to_string);
        spec.metric_name = s.metric_name().map(str::to_string);
        spec.dimensions = dims_map(s.dimensions());
        spec.stat = s.stat().map(str::to_string);
    } else {
        spec.namespace = d.namespace().map(str::to_string);
        spec.metric_name = d.metric_name().map(str::to_string);
        spec.dimensions = dims_map(d.dimensions());
        spec.stat = d.stat().map(str::to_string);
    }
    spec.configuration = d.configuration().map(|c| Configuration {
        excluded_time_ranges: c
            .excluded_time_ranges()
            .iter()
            .filter_map(|r| {
                Some(TimeRange {
                    start_time: time_text(r.start_time()?),
                    end_time: time_text(r.end_time()?),
                })
            })
            .collect(),
        metric_timezone: c.metric_timezone().map(str::to_string),
        adaptation_speed: c.adaptation_speed().map(|s| s.as_str().to_string()),
        outlier_filtering_strength: c
            .outlier_filtering_strength()
            .map(|s| s.as_str().to_string()),
    });
    spec.metric_characteristics = d.metric_characteristics().map(|m| MetricCharacteristics {
        periodic_spikes: m.periodic_spikes(),
    });
    spec
}

/// A name for an undeclared detector (import): its metric, or its math.
pub fn import_name(spec: &Spec) -> String {
    use sha2::Digest;
    if spec.metric_data_queries.is_empty() {
        let mut n = format!(
            "{}/{}/{}",
            spec.namespace.as_deref().unwrap_or_default(),
            spec.metric_name.as_deref().unwrap_or_default(),
            spec.stat.as_deref().unwrap_or_default()
        );
        for (k, v) in &spec.dimensions {
            n.push_str(&format!("/{k}={v}"));
        }
        n.chars().filter(|c| !c.is_control()).take(255).collect()
    } else {
        let h = hex::encode(sha2::Sha256::digest(identity(spec).as_bytes()));
        let id = spec
            .metric_data_queries
            .iter()
            .find(|q| q.return_data.unwrap_or(true))
            .map_or("math", |q| q.id.as_str());
        format!("math/{id}/{}", &h[..12])
    }
}

/// Which detectors DescribeAnomalyDetectors must list, and with what filter.
#[derive(Debug, Default, PartialEq)]
pub struct Walk {
    pub types: Vec<AnomalyDetectorType>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
}

/// One walk that lists every detector the wanted identities can match: filtered
/// by namespace (and metric) when every single-metric detector shares them and
/// no math detector is wanted, which cuts the pages read in a busy account.
pub fn walk_for(all: bool, identities: &[&Spec]) -> Option<Walk> {
    if all {
        return Some(Walk {
            types: vec![
                AnomalyDetectorType::SingleMetric,
                AnomalyDetectorType::MetricMath,
            ],
            ..Walk::default()
        });
    }
    if identities.is_empty() {
        return None;
    }
    let (maths, singles): (Vec<&&Spec>, Vec<&&Spec>) = identities
        .iter()
        .partition(|s| !s.metric_data_queries.is_empty());
    let mut w = Walk::default();
    if !singles.is_empty() {
        w.types.push(AnomalyDetectorType::SingleMetric);
    }
    if !maths.is_empty() {
        w.types.push(AnomalyDetectorType::MetricMath);
        return Some(w);
    }
    let shared = |f: fn(&Spec) -> Option<&String>| {
        let first = f(singles[0])?;
        singles
            .iter()
            .all(|s| f(s) == Some(first))
            .then(|| first.clone())
    };
    w.namespace = shared(|s| s.namespace.as_ref());
    if w.namespace.is_some() {
        w.metric_name = shared(|s| s.metric_name.as_ref());
    }
    Some(w)
}

pub struct AnomalyDetector;

impl Kind for AnomalyDetector {
    const NAME: &'static str = "AnomalyDetector";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["name", "namespace", "metricName", "stat"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 255, "anomaly detector")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        let single_set = s.namespace.is_some()
            || s.metric_name.is_some()
            || s.stat.is_some()
            || !s.dimensions.is_empty()
            || s.account_id.is_some();
        match (single_set, s.metric_data_queries.is_empty()) {
            (true, false) => issues.at(
                "metricDataQueries",
                "set either namespace, metricName and stat (one metric) or metricDataQueries (metric math), not both",
            ),
            (false, true) => issues.at(
                "metricName",
                "the detector needs a metric: set namespace, metricName and stat, or metricDataQueries",
            ),
            (true, true) => check_single(s, issues),
            (false, false) => check_math(s, issues),
        }
        if let Some(c) = &s.configuration {
            check_configuration(c, issues);
        }
        check_no_references(s, issues);
    }

    fn normalize(spec: &Spec, _env: &Env) -> Value {
        serde_json::to_value(canonical(spec)).expect("specs serialize")
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        serde_json::to_value(canonical(&live.spec)).expect("specs serialize")
    }

    fn attributes(live: &Live) -> Attrs {
        attrs(&live.name, &live.spec)
    }

    fn notes(live: &Live) -> Vec<String> {
        match live.state.as_deref() {
            Some("PENDING_TRAINING") => {
                vec!["the model is still training; its band appears once it has enough data".into()]
            }
            _ => Vec::new(),
        }
    }

    fn to_spec(live: &Live) -> Spec {
        live.spec.clone()
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // A declared detector is found by the identity its manifest writes; an
        // undeclared one (prune) by the identity the inventory recorded.
        let mut specs: Vec<(String, Spec)> = Vec::new();
        for (name, raw) in &wanted.specs {
            let raw = if raw.is_null() {
                match wanted.applied.get(name) {
                    Some(a) => a.as_ref(),
                    None => continue,
                }
            } else {
                raw.as_ref()
            };
            if let Ok(s) = serde_json::from_value::<Spec>(raw.clone()) {
                specs.push((name.clone(), s));
            }
        }
        let Some(walk) = walk_for(
            wanted.all,
            &specs.iter().map(|(_, s)| s).collect::<Vec<_>>(),
        ) else {
            return Ok(BTreeMap::new());
        };
        let by_identity: BTreeMap<String, &String> =
            specs.iter().map(|(n, s)| (identity(s), n)).collect();
        let mut items = aws
            .clients
            .cloudwatch
            .describe_anomaly_detectors()
            .set_anomaly_detector_types(Some(walk.types))
            .set_namespace(walk.namespace)
            .set_metric_name(walk.metric_name)
            .max_results(100)
            .into_paginator()
            .items()
            .send();
        let mut out = BTreeMap::new();
        while let Some(d) = items
            .try_next()
            .await
            .aws(SERVICE, "DescribeAnomalyDetectors")?
        {
            let spec = spec_from_live(&d);
            let name = match by_identity.get(&identity(&spec)) {
                Some(n) => (*n).clone(),
                None if wanted.all => import_name(&spec),
                None => continue,
            };
            out.insert(
                name.clone(),
                Live {
                    name,
                    id: d.anomaly_detector_id().map(str::to_string),
                    state: d.state_value().map(|s| s.as_str().to_string()),
                    spec,
                },
            );
        }
        Ok(out)
    }

    /// Dry runs: a changed identity is a new detector, as AWS sees it.
    async fn explain(
        _aws: &Aws,
        _name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Option<Vec<FieldDiff>>, KindError> {
        Ok(Some(match live {
            Some(l) if identity(&l.spec) != identity(spec) => vec![replacement(&l.spec, spec)],
            _ => Vec::new(),
        }))
    }

    /// Without the planner's diff, the identities decide.
    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let fields = match live {
            Some(l) if identity(&l.spec) != identity(spec) => vec![replacement(&l.spec, spec)],
            Some(_) => vec![FieldDiff {
                path: "configuration".into(),
                from: None,
                to: None,
            }],
            None => Vec::new(),
        };
        let opts = ApplyOptions {
            fields,
            ..ApplyOptions::default()
        };
        Self::apply_annotated(aws, name, spec, live, &opts).await
    }

    /// PutAnomalyDetector creates or overwrites the detector of a metric. A
    /// change to the metric (or the queries) is another detector: the old one
    /// is deleted first, as CloudFormation replaces it.
    async fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
        opts: &ApplyOptions,
    ) -> Result<Attrs, KindError> {
        if let Some(l) = live {
            if opts.fields.is_empty() {
                return Ok(attrs(name, &l.spec));
            }
            if replaces(&opts.fields) {
                delete(aws, &l.spec).await?;
            }
        }
        let cw = &aws.clients.cloudwatch;
        let put = cw
            .put_anomaly_detector()
            .set_configuration(sdk_configuration(spec))
            .set_metric_characteristics(spec.metric_characteristics.as_ref().map(|m| {
                SdkCharacteristics::builder()
                    .set_periodic_spikes(m.periodic_spikes)
                    .build()
            }));
        let put = if spec.metric_data_queries.is_empty() {
            put.single_metric_anomaly_detector(single(spec))
        } else {
            put.metric_math_anomaly_detector(math(spec))
        };
        put.send().await.aws(SERVICE, "PutAnomalyDetector")?;
        Ok(attrs(name, spec))
    }

    async fn delete(aws: &Aws, _name: &str, live: &Live) -> Result<(), KindError> {
        delete(aws, &live.spec).await
    }
}

/// DeleteAnomalyDetector by identity; already gone is done.
async fn delete(aws: &Aws, spec: &Spec) -> Result<(), KindError> {
    let del = aws.clients.cloudwatch.delete_anomaly_detector();
    let del = if spec.metric_data_queries.is_empty() {
        del.single_metric_anomaly_detector(single(spec))
    } else {
        del.metric_math_anomaly_detector(math(spec))
    };
    match del.send().await.aws(SERVICE, "DeleteAnomalyDetector") {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

fn replacement(from: &Spec, to: &Spec) -> FieldDiff {
    FieldDiff {
        path: "(replacement)".into(),
        from: Some(Value::String(describe(from))),
        to: Some(Value::String(format!(
            "{}: a detector is identified by its metric, so AWS makes a new one \
             (DeleteAnomalyDetector, then PutAnomalyDetector); its model trains again from scratch",
            describe(to)
        ))),
    }
}

fn attrs(name: &str, spec: &Spec) -> Attrs {
    let mut a = Attrs::from([("name".to_string(), name.to_string())]);
    for (k, v) in [
        ("namespace", &spec.namespace),
        ("metricName", &spec.metric_name),
        ("stat", &spec.stat),
    ] {
        if let Some(v) = v {
            a.insert(k.to_string(), v.clone());
        }
    }
    a
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
