//! `vigil report` (lab step 9): for every declared alarm, its state and the state
//! changes in the period, and the min, average and max of its metric; then drift,
//! Config rule compliance and pending SNS subscriptions.
//!
//! Reads are batched: one DescribeAlarms walk, one account-wide DescribeAlarmHistory
//! walk, and GetMetricData with up to 500 queries a call (five per alarm).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{
    AlarmType, HistoryItemType, Metric, MetricAlarm, MetricDataQuery, MetricStat, ScanBy,
};
use aws_smithy_types::DateTime;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Endpoint, LiveAlarm, epoch_secs, format_duration, rfc3339};
use crate::aws::{ApiCalls, Aws, AwsError, AwsResultExt};
use crate::kinds::KindId;
use crate::manifest::Manifests;

/// GetMetricData takes at most 500 queries a call.
pub const MAX_QUERIES: usize = 500;
/// Charts keep at most this many points per alarm; longer periods use a coarser period.
const MAX_POINTS: i64 = 1440;
/// The shape version of the JSON report.
pub const VERSION: u32 = 1;

/// The JSON report (`vigil report --format json`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "vigil report",
    description = "The output of `vigil report --format json`."
)]
pub struct Report {
    /// The version of this document's shape; it changes only with an incompatible change.
    pub version: u32,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    pub account: String,
    pub region: String,
    pub period: Period,
    pub summary: Summary,
    /// Every declared MetricAlarm and CompositeAlarm, in directory order.
    pub alarms: Vec<AlarmEntry>,
    /// Drift and pending changes, as `vigil drift` reports them; null when it could not be computed.
    pub drift: Option<DriftSection>,
    /// Compliance of every declared ConfigRule.
    pub config_rules: Vec<RuleCompliance>,
    /// Subscriptions of declared topics that nobody has confirmed yet: they receive nothing.
    pub pending_subscriptions: Vec<PendingSubscription>,
    /// Sections that could not be read, and why. The rest of the report is still valid.
    pub unavailable: Vec<Unavailable>,
    /// AWS calls made, by service and operation.
    #[schemars(with = "ApiCallsShape")]
    pub api_calls: ApiCalls,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub start: String,
    pub end: String,
    pub seconds: u64,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub alarms: usize,
    pub in_alarm: usize,
    pub ok: usize,
    pub insufficient_data: usize,
    /// Declared but absent from AWS.
    pub missing: usize,
    /// State changes in the period, over all alarms; null when the history could not be read.
    pub state_changes: Option<usize>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmEntry {
    /// `MetricAlarm` or `CompositeAlarm`.
    pub kind: String,
    pub name: String,
    /// False when the alarm is declared but does not exist in AWS.
    pub exists: bool,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: Option<String>,
    pub state_reason: Option<String>,
    /// When the current state began.
    pub state_since: Option<String>,
    pub actions_enabled: Option<bool>,
    pub metric: Option<MetricInfo>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    /// Over the whole period; null when the metric has no datapoints in it.
    pub stats: Option<Stats>,
    /// The alarm's statistic per `seriesPeriod`, oldest first (what the chart draws).
    pub series: Vec<Point>,
    pub series_period: Option<i64>,
    /// State changes in the period, oldest first; null when the history could not be read.
    pub transitions: Option<Vec<Transition>>,
    /// When the alarm was in ALARM during the period. Without history, only the current state is known.
    pub alarm_periods: Vec<Span>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub(crate) raw_series: Vec<(i64, f64)>,
    #[serde(skip)]
    pub(crate) raw_spans: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricInfo {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: BTreeMap<String, String>,
    /// The alarm's statistic (`Average`, `p99`, ...), or `expression` for metric math.
    pub stat: String,
    pub period: Option<i32>,
    pub unit: Option<String>,
    /// For metric math, the expression the alarm watches.
    pub expression: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub min: f64,
    /// Sum over sample count: the true average of every sample. For metric math, the mean of the series.
    pub avg: f64,
    pub max: f64,
    /// The number of samples, for a single metric.
    pub samples: Option<f64>,
    /// Periods with data.
    pub periods: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Point {
    /// The start of the period.
    pub t: String,
    pub v: f64,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub at: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    #[serde(skip)]
    pub(crate) at_secs: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Span {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftSection {
    pub drifted: usize,
    pub missing: usize,
    pub pending: usize,
    pub unmanaged: usize,
    pub unknown: usize,
    pub items: Vec<DriftEntry>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// `drifted`, `missing`, `pending`, `unmanaged` or `unknown`.
    pub status: String,
    pub kind: String,
    pub name: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleCompliance {
    pub name: String,
    /// `COMPLIANT`, `NON_COMPLIANT`, `NOT_APPLICABLE` or `INSUFFICIENT_DATA`; null when unknown.
    pub compliance: Option<String>,
    /// Non-compliant resources, when AWS counts them.
    pub non_compliant_resources: Option<i32>,
    /// True when the count reached AWS's cap and is a lower bound.
    pub capped: Option<bool>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingSubscription {
    pub topic: String,
    pub protocol: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unavailable {
    /// `metrics`, `stateHistory`, `drift`, `configCompliance` or `subscriptions`.
    pub section: String,
    /// The error class: `notFound`, `throttled`, `transient`, `accessDenied`, `unsupported` or `terminal`.
    pub class: String,
    pub message: String,
}

/// The documented shape of [`ApiCalls`].
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // only its schema is used
struct ApiCallsShape {
    total: u64,
    reads: u64,
    writes: u64,
    by_service: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    throttles: BTreeMap<String, BTreeMap<String, u64>>,
}

fn unavailable(section: &str, e: &AwsError) -> Unavailable {
    Unavailable {
        section: section.to_string(),
        class: serde_json::to_value(e.class)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        message: e.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Metric data

/// A coarser period than the alarm's when the range would need too many points.
pub fn chart_period(alarm_period: i64, range: i64) -> i64 {
    let needed = (range + MAX_POINTS - 1) / MAX_POINTS;
    if alarm_period >= needed {
        alarm_period.max(1)
    } else {
        (needed + 59) / 60 * 60
    }
}

/// Prefixes the ids an expression uses, leaving quoted text, functions and numbers alone.
pub fn rewrite_ids(expr: &str, ids: &HashSet<String>, prefix: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 16);
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            i += 1;
        } else if c == '\'' || c == '"' {
            quote = Some(c);
            out.push(c);
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if ids.contains(&word) {
                out.push_str(prefix);
            }
            out.push_str(&word);
        } else if c.is_ascii_digit() {
            // `1e5` is a number, not the id `e5`.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                out.push(chars[i]);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The queries for one alarm, and how to read their results back.
#[derive(Debug, Clone)]
pub struct AlarmQueries {
    pub alarm: usize,
    pub queries: Vec<MetricDataQuery>,
    pub period: i64,
    /// True for one metric (min, max, sum and sample count are queried); false for metric math.
    pub single: bool,
    /// Where the alarm's series comes from.
    pub series: Series,
}

/// The alarm's statistic per period: one query's values, or Sum over SampleCount
/// (an Average alarm needs no query of its own).
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    Query(String),
    Average,
}

fn stat_query(
    id: String,
    metric: &Metric,
    period: i64,
    stat: &str,
    unit: Option<&aws_sdk_cloudwatch::types::StandardUnit>,
) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric.clone())
                .period(i32::try_from(period).unwrap_or(i32::MAX))
                .stat(stat)
                .set_unit(unit.cloned())
                .build(),
        )
        .return_data(true)
        .build()
}

/// The queries that give an alarm's series and statistics; `None` when it has no metric.
pub fn queries_for(i: usize, a: &MetricAlarm, range: i64) -> Option<AlarmQueries> {
    let prefix = format!("a{i}_");
    if let (Some(ns), Some(name)) = (a.namespace(), a.metric_name()) {
        let stat = a
            .statistic()
            .map(|s| s.as_str().to_string())
            .or_else(|| a.extended_statistic().map(str::to_string))?;
        let period = chart_period(i64::from(a.period().unwrap_or(60)), range);
        let metric = Metric::builder()
            .namespace(ns)
            .metric_name(name)
            .set_dimensions(Some(a.dimensions().to_vec()))
            .build();
        let unit = a.unit();
        let parts = [
            ("mn", "Minimum"),
            ("mx", "Maximum"),
            ("sm", "Sum"),
            ("n", "SampleCount"),
        ];
        let mut queries: Vec<MetricDataQuery> = parts
            .iter()
            .map(|(suffix, st)| stat_query(format!("{prefix}{suffix}"), &metric, period, st, unit))
            .collect();
        let series = match parts.iter().find(|(_, st)| *st == stat) {
            Some((suffix, _)) => Series::Query(format!("{prefix}{suffix}")),
            None if stat == "Average" => Series::Average,
            None => {
                // A percentile or trimmed statistic needs its own query.
                queries.push(stat_query(
                    format!("{prefix}s"),
                    &metric,
                    period,
                    &stat,
                    unit,
                ));
                Series::Query(format!("{prefix}s"))
            }
        };
        return Some(AlarmQueries {
            alarm: i,
            queries,
            period,
            single: true,
            series,
        });
    }
    let metrics = a.metrics();
    if metrics.is_empty() {
        return None;
    }
    // The alarm watches the query that returns data and is not its anomaly band.
    let band = a.threshold_metric_id();
    let out = metrics
        .iter()
        .find(|q| q.return_data() != Some(false) && q.id() != band)?
        .id()?
        .to_string();
    let ids: HashSet<String> = metrics
        .iter()
        .filter_map(|q| q.id().map(str::to_string))
        .collect();
    let period = metrics
        .iter()
        .filter_map(|q| q.metric_stat().and_then(MetricStat::period).or(q.period()))
        .max()
        .map_or(60, i64::from);
    let queries = metrics
        .iter()
        .map(|q| {
            let mut b = q.clone().to_builder();
            b = b
                .id(format!("{prefix}{}", q.id().unwrap_or_default()))
                .return_data(q.id() == Some(out.as_str()))
                .set_label(None);
            if let Some(e) = q.expression() {
                b = b.expression(rewrite_ids(e, &ids, &prefix));
            }
            b.build()
        })
        .collect();
    Some(AlarmQueries {
        alarm: i,
        queries,
        period,
        single: false,
        series: Series::Query(format!("{prefix}{out}")),
    })
}

trait ToBuilder {
    fn to_builder(self) -> aws_sdk_cloudwatch::types::builders::MetricDataQueryBuilder;
}

impl ToBuilder for MetricDataQuery {
    fn to_builder(self) -> aws_sdk_cloudwatch::types::builders::MetricDataQueryBuilder {
        MetricDataQuery::builder()
            .set_id(self.id)
            .set_metric_stat(self.metric_stat)
            .set_expression(self.expression)
            .set_label(self.label)
            .set_return_data(self.return_data)
            .set_period(self.period)
            .set_account_id(self.account_id)
    }
}

/// Packs each alarm's queries whole into calls of at most [`MAX_QUERIES`].
pub fn pack(plans: &[AlarmQueries]) -> Vec<Vec<MetricDataQuery>> {
    let mut calls: Vec<Vec<MetricDataQuery>> = Vec::new();
    for p in plans {
        match calls.last_mut() {
            Some(c) if c.len() + p.queries.len() <= MAX_QUERIES => {
                c.extend(p.queries.iter().cloned())
            }
            _ => calls.push(p.queries.clone()),
        }
    }
    calls
}

/// One GetMetricData request, every page; values by query id, oldest first.
async fn get_metric_data(
    aws: &Aws,
    queries: Vec<MetricDataQuery>,
    start: i64,
    end: i64,
) -> Result<HashMap<String, Vec<(i64, f64)>>, AwsError> {
    let mut out: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    let mut pages = aws
        .clients
        .cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries.clone()))
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampAscending)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("cloudwatch", "GetMetricData")?;
        for r in page.metric_data_results() {
            let Some(id) = r.id() else { continue };
            let entry = out.entry(id.to_string()).or_default();
            entry.extend(
                r.timestamps()
                    .iter()
                    .map(DateTime::secs)
                    .zip(r.values().iter().copied()),
            );
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|(t, _)| *t);
        v.dedup_by_key(|(t, _)| *t);
    }
    Ok(out)
}

/// Min, average and max from the per-period results.
pub fn stats_from(
    plan: &AlarmQueries,
    data: &HashMap<String, Vec<(i64, f64)>>,
) -> (Vec<(i64, f64)>, Option<Stats>) {
    let part = |suffix: &str| {
        data.get(&format!("a{}_{suffix}", plan.alarm))
            .cloned()
            .unwrap_or_default()
    };
    let series = match &plan.series {
        Series::Query(id) => data.get(id).cloned().unwrap_or_default(),
        Series::Average => {
            let counts: HashMap<i64, f64> = part("n").into_iter().collect();
            part("sm")
                .into_iter()
                .filter_map(|(t, sum)| counts.get(&t).filter(|n| **n > 0.0).map(|n| (t, sum / n)))
                .collect()
        }
    };
    if series.is_empty() {
        return (series, None);
    }
    let values = |suffix: &str| -> Vec<f64> { part(suffix).iter().map(|(_, x)| *x).collect() };
    let stats = if plan.single {
        let (min, max) = (values("mn"), values("mx"));
        let sum: f64 = values("sm").iter().sum();
        let n: f64 = values("n").iter().sum();
        Stats {
            min: min.iter().copied().fold(f64::INFINITY, f64::min),
            max: max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            avg: if n > 0.0 { sum / n } else { f64::NAN },
            samples: Some(n),
            periods: series.len(),
        }
    } else {
        let v: Vec<f64> = series.iter().map(|(_, x)| *x).collect();
        Stats {
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            avg: v.iter().sum::<f64>() / v.len() as f64,
            samples: None,
            periods: v.len(),
        }
    };
    let finite = stats.min.is_finite() && stats.max.is_finite() && stats.avg.is_finite();
    (series, finite.then_some(stats))
}

// ---------------------------------------------------------------------------
// State history

/// `(from, to, reason)` from a StateUpdate item's JSON, or from its summary.
pub fn parse_state_update(
    data: Option<&str>,
    summary: Option<&str>,
) -> Option<(String, String, Option<String>)> {
    if let Some(v) = data.and_then(|d| serde_json::from_str::<Value>(d).ok()) {
        let from = v.pointer("/oldState/stateValue").and_then(Value::as_str);
        let to = v.pointer("/newState/stateValue").and_then(Value::as_str);
        if let (Some(from), Some(to)) = (from, to) {
            let reason = v
                .pointer("/newState/stateReason")
                .and_then(Value::as_str)
                .map(str::to_string);
            return Some((from.to_string(), to.to_string(), reason));
        }
    }
    // "Alarm updated from OK to ALARM"
    let s = summary?;
    let rest = &s[s.find(" from ")? + 6..];
    let (from, to) = rest.split_once(" to ")?;
    Some((from.trim().to_string(), to.trim().to_string(), None))
}

/// DescribeAlarmHistory for the whole account, state updates only, every page.
async fn history(
    aws: &Aws,
    names: &HashSet<String>,
    start: i64,
    end: i64,
) -> Result<HashMap<String, Vec<Transition>>, AwsError> {
    let mut out: HashMap<String, Vec<Transition>> = HashMap::new();
    let mut pages = aws
        .clients
        .cloudwatch
        .describe_alarm_history()
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .history_item_type(HistoryItemType::StateUpdate)
        .start_date(DateTime::from_secs(start))
        .end_date(DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampAscending)
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("cloudwatch", "DescribeAlarmHistory")?;
        for item in page.alarm_history_items() {
            let Some(name) = item.alarm_name().filter(|n| names.contains(*n)) else {
                continue;
            };
            let Some(at) = item.timestamp().map(DateTime::secs) else {
                continue;
            };
            let Some((from, to, reason)) =
                parse_state_update(item.history_data(), item.history_summary())
            else {
                continue;
            };
            out.entry(name.to_string()).or_default().push(Transition {
                at: rfc3339(at),
                from,
                to,
                reason,
                at_secs: at,
            });
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|t| t.at_secs);
    }
    Ok(out)
}

/// When the alarm was in ALARM within `[start, end]`. With history, from the
/// transitions; without it, only the current state since it began is known.
pub fn alarm_spans(
    start: i64,
    end: i64,
    transitions: Option<&[Transition]>,
    current: &str,
    since: Option<i64>,
) -> Vec<(i64, i64)> {
    let mut spans = Vec::new();
    match transitions {
        Some(ts) => {
            let mut state = ts.first().map_or(current, |t| t.from.as_str());
            let mut cursor = start;
            for t in ts {
                let at = t.at_secs.clamp(start, end);
                if state == "ALARM" {
                    spans.push((cursor, at));
                }
                state = t.to.as_str();
                cursor = at;
            }
            if state == "ALARM" {
                spans.push((cursor, end));
            }
        }
        None => {
            if current == "ALARM" {
                spans.push((since.unwrap_or(start).clamp(start, end), end));
            }
        }
    }
    spans.retain(|(a, b)| b > a);
    spans
}

// ---------------------------------------------------------------------------
// Config compliance and subscriptions

async fn compliance_call(aws: &Aws, names: &[String]) -> Result<Vec<RuleCompliance>, AwsError> {
    let mut out = Vec::new();
    let mut pages = aws
        .clients
        .config
        .describe_compliance_by_config_rule()
        .set_config_rule_names(Some(names.to_vec()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("config", "DescribeComplianceByConfigRule")?;
        for c in page.compliance_by_config_rules() {
            let compliance = c.compliance();
            let count = compliance.and_then(|x| x.compliance_contributor_count());
            out.push(RuleCompliance {
                name: c.config_rule_name().unwrap_or_default().to_string(),
                compliance: compliance
                    .and_then(|x| x.compliance_type())
                    .map(|t| t.as_str().to_string()),
                non_compliant_resources: count.map(|n| n.capped_count()),
                capped: count.map(|n| n.cap_exceeded()),
                note: None,
            });
        }
    }
    Ok(out)
}

/// DescribeComplianceByConfigRule, 25 rules a call. One missing rule fails the whole
/// call, so a failed chunk is asked again rule by rule.
async fn config_compliance(aws: &Aws, names: &[String]) -> Result<Vec<RuleCompliance>, AwsError> {
    let mut found: HashMap<String, RuleCompliance> = HashMap::new();
    for chunk in names.chunks(25) {
        match compliance_call(aws, chunk).await {
            Ok(list) => found.extend(list.into_iter().map(|c| (c.name.clone(), c))),
            Err(e) if e.is_not_found() => {
                for n in chunk {
                    match compliance_call(aws, std::slice::from_ref(n)).await {
                        Ok(list) => found.extend(list.into_iter().map(|c| (c.name.clone(), c))),
                        Err(e) if e.is_not_found() => {
                            found.insert(
                                n.clone(),
                                RuleCompliance {
                                    name: n.clone(),
                                    compliance: None,
                                    non_compliant_resources: None,
                                    capped: None,
                                    note: Some("the rule does not exist in AWS".into()),
                                },
                            );
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(names
        .iter()
        .map(|n| {
            found.remove(n).unwrap_or_else(|| RuleCompliance {
                name: n.clone(),
                compliance: None,
                non_compliant_resources: None,
                capped: None,
                note: Some("AWS returned no compliance for it yet".into()),
            })
        })
        .collect())
}

async fn pending_subscriptions(
    aws: &Aws,
    topics: &[String],
) -> Result<Vec<PendingSubscription>, AwsError> {
    let mut out = Vec::new();
    for t in topics {
        let arn = format!("arn:aws:sns:{}:{}:{t}", aws.env.region, aws.env.account_id);
        if let Some(subs) = super::topic_subscriptions(aws, &arn).await? {
            out.extend(
                subs.pending
                    .into_iter()
                    .map(|Endpoint { protocol, endpoint }| PendingSubscription {
                        topic: t.clone(),
                        protocol,
                        endpoint,
                    }),
            );
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Drift

async fn drift_section(aws: &Aws, m: &Manifests) -> Result<DriftSection, String> {
    let store = crate::target::inventory_location(
        &m.settings,
        &aws.env.account_id,
        &aws.env.region,
        m.targets.first(),
    );
    let d = crate::engine::drift::run(aws, m, &store)
        .await
        .map_err(|e| e.to_string())?;
    let mut items = Vec::new();
    for (status, list) in [
        ("drifted", &d.drifted),
        ("missing", &d.missing),
        ("pending", &d.pending),
        ("unmanaged", &d.unmanaged),
        ("unknown", &d.unknown),
    ] {
        for it in list {
            let detail = match (&it.action, &it.reason) {
                (Some(a), Some(r)) => Some(format!("{a}: {r}")),
                (Some(a), None) => Some(a.clone()),
                (None, r) => r.clone(),
            };
            items.push(DriftEntry {
                status: status.to_string(),
                kind: it.kind.clone(),
                name: it.name.clone(),
                detail,
            });
        }
    }
    Ok(DriftSection {
        drifted: d.summary.drifted,
        missing: d.summary.missing,
        pending: d.summary.pending,
        unmanaged: d.summary.unmanaged,
        unknown: d.summary.unknown,
        items,
        errors: d
            .errors
            .iter()
            .map(|e| format!("{}/{}: {}", e.kind, e.name, e.message))
            .collect(),
    })
}

// ---------------------------------------------------------------------------
// Assembly

fn metric_info(a: &MetricAlarm) -> MetricInfo {
    let spec = crate::kinds::metric_alarm::spec_from_live(a);
    let expression = a
        .metrics()
        .iter()
        .find(|q| q.return_data() != Some(false) && q.id() != a.threshold_metric_id())
        .and_then(|q| {
            q.expression()
                .map(str::to_string)
                .or_else(|| q.id().map(str::to_string))
        });
    MetricInfo {
        namespace: spec.namespace,
        metric_name: spec.metric_name,
        dimensions: spec.dimensions,
        stat: spec
            .statistic
            .or(spec.extended_statistic)
            .unwrap_or_else(|| "expression".to_string()),
        period: spec.period,
        unit: spec.unit,
        expression: if a.metrics().is_empty() {
            None
        } else {
            expression
        },
    }
}

/// Reads everything and builds the report. `Err` only when the alarms cannot be read.
pub async fn collect(
    aws: &Aws,
    m: &Manifests,
    since: Duration,
    now: i64,
) -> Result<Report, AwsError> {
    let end = now;
    let start = now - i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2);
    let declared = super::declared_alarms(m);
    let pages = crate::kinds::metric_alarm::all_alarms(aws).await?;
    // Read before the drift section's observe takes the alarms out of the walk.
    let live: Vec<Option<LiveAlarm>> = {
        let metric = pages.metric.lock().expect("alarm pages lock");
        let composite = pages.composite.lock().expect("alarm pages lock");
        declared
            .iter()
            .map(|(kind, name)| match kind {
                KindId::MetricAlarm => metric.get(name).map(|a| LiveAlarm::from_metric(a)),
                _ => composite.get(name).map(LiveAlarm::from_composite),
            })
            .collect()
    };

    let plans: Vec<AlarmQueries> = live
        .iter()
        .enumerate()
        .filter_map(|(i, l)| queries_for(i, l.as_ref()?.metric.as_ref()?, end - start))
        .collect();
    let names: HashSet<String> = declared.iter().map(|(_, n)| n.clone()).collect();
    let rules: Vec<String> = m
        .resources
        .iter()
        .filter(|r| r.kind == KindId::ConfigRule)
        .map(|r| r.name.clone())
        .collect();
    let topics: Vec<String> = m
        .resources
        .iter()
        .filter(|r| r.kind == KindId::Topic)
        .map(|r| r.name.clone())
        .collect();

    let metric_calls = async {
        let mut all = HashMap::new();
        for call in pack(&plans) {
            all.extend(get_metric_data(aws, call, start, end).await?);
        }
        Ok::<_, AwsError>(all)
    };
    let (data, hist, drift, rules_c, pending) = futures::join!(
        metric_calls,
        history(aws, &names, start, end),
        drift_section(aws, m),
        async {
            if rules.is_empty() {
                Ok(Vec::new())
            } else {
                config_compliance(aws, &rules).await
            }
        },
        pending_subscriptions(aws, &topics),
    );

    let mut unavailable_list = Vec::new();
    let data = data.unwrap_or_else(|e| {
        unavailable_list.push(unavailable("metrics", &e));
        HashMap::new()
    });
    let hist = match hist {
        Ok(h) => Some(h),
        Err(e) => {
            unavailable_list.push(unavailable("stateHistory", &e));
            None
        }
    };
    let metrics_read = !unavailable_list.iter().any(|u| u.section == "metrics");

    let mut alarms = Vec::new();
    for (i, ((kind, name), l)) in declared.iter().zip(&live).enumerate() {
        let mut e = AlarmEntry {
            kind: kind.name().to_string(),
            name: name.clone(),
            exists: l.is_some(),
            state: None,
            state_reason: None,
            state_since: None,
            actions_enabled: None,
            metric: None,
            threshold: None,
            comparison_operator: None,
            stats: None,
            series: vec![],
            series_period: None,
            transitions: None,
            alarm_periods: vec![],
            notes: vec![],
            raw_series: vec![],
            raw_spans: vec![],
        };
        let Some(l) = l else {
            e.notes
                .push("declared but absent from AWS; run `vigil reconcile`".into());
            alarms.push(e);
            continue;
        };
        e.state = Some(l.state.clone());
        e.state_reason = Some(l.reason.clone());
        e.state_since = l.since.map(rfc3339);
        e.actions_enabled = Some(l.actions_enabled);
        if let Some(a) = &l.metric {
            e.metric = Some(metric_info(a));
            e.threshold = a.threshold();
            e.comparison_operator = a.comparison_operator().map(|c| c.as_str().to_string());
            if let Some(plan) = plans.iter().find(|p| p.alarm == i) {
                let (series, stats) = stats_from(plan, &data);
                e.series_period = Some(plan.period);
                if stats.is_none() && metrics_read {
                    e.notes
                        .push("the metric has no datapoints in this period".into());
                }
                e.stats = stats;
                e.series = series
                    .iter()
                    .map(|(t, v)| Point {
                        t: rfc3339(*t),
                        v: *v,
                    })
                    .collect();
                e.raw_series = series;
            }
        }
        let transitions = hist
            .as_ref()
            .map(|h| h.get(name).cloned().unwrap_or_default());
        e.raw_spans = alarm_spans(start, end, transitions.as_deref(), &l.state, l.since);
        e.alarm_periods = e
            .raw_spans
            .iter()
            .map(|(a, b)| Span {
                start: rfc3339(*a),
                end: rfc3339(*b),
            })
            .collect();
        e.transitions = transitions;
        alarms.push(e);
    }

    let drift = match drift {
        Ok(d) => Some(d),
        Err(msg) => {
            unavailable_list.push(Unavailable {
                section: "drift".into(),
                class: "terminal".into(),
                message: msg,
            });
            None
        }
    };
    let config_rules = rules_c.unwrap_or_else(|e| {
        unavailable_list.push(unavailable("configCompliance", &e));
        Vec::new()
    });
    let pending = pending.unwrap_or_else(|e| {
        unavailable_list.push(unavailable("subscriptions", &e));
        Vec::new()
    });

    let count = |s: &str| {
        alarms
            .iter()
            .filter(|a| a.state.as_deref() == Some(s))
            .count()
    };
    let summary = Summary {
        alarms: alarms.len(),
        in_alarm: count("ALARM"),
        ok: count("OK"),
        insufficient_data: count("INSUFFICIENT_DATA"),
        missing: alarms.iter().filter(|a| !a.exists).count(),
        state_changes: hist.as_ref().map(|_| {
            alarms
                .iter()
                .map(|a| a.transitions.as_ref().map_or(0, Vec::len))
                .sum()
        }),
    };
    Ok(Report {
        version: VERSION,
        generated_at: rfc3339(epoch_secs(SystemTime::now())),
        account: aws.env.account_id.clone(),
        region: aws.env.region.clone(),
        period: Period {
            start: rfc3339(start),
            end: rfc3339(end),
            seconds: since.as_secs(),
        },
        summary,
        alarms,
        drift,
        config_rules,
        pending_subscriptions: pending,
        unavailable: unavailable_list,
        api_calls: aws.calls.snapshot(),
    })
}

// ---------------------------------------------------------------------------
// Rendering

/// `80`, `83.33`, `0.001`: short, without trailing zeros.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let digits = if v.abs() >= 1.0 { 2 } else { 4 };
    let s = format!("{v:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `> 80`, `<= 3`, or `band` for anomaly detection.
pub fn threshold_text(op: Option<&str>, threshold: Option<f64>) -> String {
    let sym = match op {
        Some("GreaterThanThreshold") => ">",
        Some("GreaterThanOrEqualToThreshold") => ">=",
        Some("LessThanThreshold") => "<",
        Some("LessThanOrEqualToThreshold") => "<=",
        Some(_) => return "band".into(),
        None => return "-".into(),
    };
    match threshold {
        Some(t) => format!("{sym} {}", fmt_num(t)),
        None => "-".into(),
    }
}

/// A user string in Markdown (a table cell, a list item): it means nothing but itself.
fn md_cell(s: &str) -> String {
    crate::escape::md_text(s)
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// For a chat message.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let s = &self.summary;
        let _ = writeln!(
            out,
            "### vigil report: last {} ({} to {})",
            format_duration(Duration::from_secs(self.period.seconds)),
            self.period.start,
            self.period.end
        );
        let changes = s.state_changes.map_or_else(
            || "state changes unknown".to_string(),
            |n| format!("{n} state change(s)"),
        );
        let _ = writeln!(
            out,
            "Account {}, {}. {} alarm(s): **{} in ALARM**, {} OK, {} INSUFFICIENT_DATA{}; {changes}.",
            md_cell(&self.account),
            md_cell(&self.region),
            s.alarms,
            s.in_alarm,
            s.ok,
            s.insufficient_data,
            if s.missing > 0 {
                format!(", {} missing", s.missing)
            } else {
                String::new()
            },
        );
        if !self.alarms.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| Alarm | State | Changes | Min | Avg | Max | Threshold |"
            );
            let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|");
            for a in &self.alarms {
                let state = match a.state.as_deref() {
                    Some("ALARM") => "**ALARM**".to_string(),
                    Some(st) => md_cell(st),
                    None => "absent".to_string(),
                };
                let changes = a
                    .transitions
                    .as_ref()
                    .map_or("?".to_string(), |t| t.len().to_string());
                let (min, avg, max) = a
                    .stats
                    .as_ref()
                    .map_or(("-".into(), "-".into(), "-".into()), |st| {
                        (fmt_num(st.min), fmt_num(st.avg), fmt_num(st.max))
                    });
                let _ = writeln!(
                    out,
                    "| {} | {state} | {changes} | {min} | {avg} | {max} | {} |",
                    md_cell(&a.name),
                    threshold_text(a.comparison_operator.as_deref(), a.threshold)
                );
            }
        }
        let _ = writeln!(out);
        match &self.drift {
            Some(d) => {
                let _ = writeln!(
                    out,
                    "**Drift:** {} drifted, {} missing, {} pending, {} unmanaged{}.",
                    d.drifted,
                    d.missing,
                    d.pending,
                    d.unmanaged,
                    if d.errors.is_empty() {
                        String::new()
                    } else {
                        format!(", {} could not be checked", d.errors.len())
                    }
                );
                for it in d
                    .items
                    .iter()
                    .filter(|i| i.status != "pending" || d.items.len() <= 10)
                {
                    let _ = writeln!(
                        out,
                        "- {} {}{}",
                        md_cell(&it.status),
                        crate::escape::code_span(&format!("{}/{}", it.kind, it.name)),
                        it.detail
                            .as_ref()
                            .map_or_else(String::new, |x| format!(" ({})", md_cell(x)))
                    );
                }
            }
            None => {
                let _ = writeln!(out, "**Drift:** unavailable.");
            }
        }
        if !self.config_rules.is_empty() {
            let list: Vec<String> = self
                .config_rules
                .iter()
                .map(|r| {
                    let c = r.compliance.as_deref().unwrap_or("unknown");
                    match r.non_compliant_resources {
                        Some(n) if c == "NON_COMPLIANT" => {
                            format!(
                                "{} **{c}** ({n}{} resources)",
                                crate::escape::code_span(&r.name),
                                if r.capped == Some(true) { "+" } else { "" }
                            )
                        }
                        _ => format!("{} {}", crate::escape::code_span(&r.name), md_cell(c)),
                    }
                })
                .collect();
            let _ = writeln!(out, "**Config rules:** {}.", list.join(", "));
        }
        if self.pending_subscriptions.is_empty() {
            let _ = writeln!(out, "**Pending SNS subscriptions:** none.");
        } else {
            let list: Vec<String> = self
                .pending_subscriptions
                .iter()
                .map(|p| {
                    format!(
                        "{}:{} on {}",
                        md_cell(&p.protocol),
                        md_cell(&p.endpoint),
                        crate::escape::code_span(&p.topic)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "**Pending SNS subscriptions** (they receive nothing until confirmed): {}.",
                list.join(", ")
            );
        }
        for u in &self.unavailable {
            let _ = writeln!(
                out,
                "_{} unavailable: {}_",
                md_cell(&u.section),
                md_cell(&u.message)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests;
