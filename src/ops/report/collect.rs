//! Reading AWS for the report: [`collect`] is the entry point, and reads in
//! named steps: the declared alarms from one DescribeAlarms walk, then metrics,
//! state history, drift, Config compliance and subscriptions side by side; then
//! one [`AlarmEntry`] per declared alarm and the summary.
//!
//! Reads are batched: one DescribeAlarms walk, one account-wide DescribeAlarmHistory
//! walk, and GetMetricData with up to 500 queries a call (five per alarm). The
//! query planning (`queries_for`, `pack`, `stats_from`) and the history reading
//! (`parse_state_update`, `alarm_spans`) are pure and tested without AWS.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{
    AlarmType, HistoryItemType, Metric, MetricAlarm, MetricDataQuery, MetricStat, ScanBy,
};
use aws_smithy_types::DateTime;
use serde_json::Value;

use super::model::{
    AlarmEntry, DailyReport, DriftEntry, DriftSection, MetricInfo, PendingSubscription, Period,
    Point, ReportSummary, RuleCompliance, Span, Stats, Transition, Unavailable, VERSION,
};
use crate::aws::{Aws, AwsError, AwsResultExt};
use crate::kinds::KindId;
use crate::manifest::Manifests;
use crate::ops::{Endpoint, LiveAlarm, epoch_secs, rfc3339};

/// GetMetricData takes at most 500 queries a call.
pub const MAX_QUERIES: usize = 500;
/// Charts keep at most this many points per alarm; longer periods use a coarser period.
const MAX_POINTS: i64 = 1440;

/// Values by GetMetricData query id, oldest first.
type MetricData = HashMap<String, Vec<(i64, f64)>>;
/// State changes by alarm name, oldest first.
type History = HashMap<String, Vec<Transition>>;

pub(super) fn unavailable(section: &str, e: &AwsError) -> Unavailable {
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
    match (a.namespace(), a.metric_name()) {
        (Some(ns), Some(name)) => single_metric_queries(i, &prefix, a, (ns, name), range),
        _ => math_queries(i, &prefix, a),
    }
}

/// One metric: its minimum, maximum, sum and sample count, and its own statistic
/// when that is none of these nor the average.
fn single_metric_queries(
    i: usize,
    prefix: &str,
    a: &MetricAlarm,
    (ns, name): (&str, &str),
    range: i64,
) -> Option<AlarmQueries> {
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
    Some(AlarmQueries {
        alarm: i,
        queries,
        period,
        single: true,
        series,
    })
}

/// Metric math: the alarm's own queries, their ids prefixed so that many alarms
/// share one call.
fn math_queries(i: usize, prefix: &str, a: &MetricAlarm) -> Option<AlarmQueries> {
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
                b = b.expression(rewrite_ids(e, &ids, prefix));
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
pub(super) async fn get_metric_data(
    aws: &Aws,
    queries: Vec<MetricDataQuery>,
    start: i64,
    end: i64,
) -> Result<MetricData, AwsError> {
    let mut out: MetricData = HashMap::new();
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
pub fn stats_from(plan: &AlarmQueries, data: &MetricData) -> (Vec<(i64, f64)>, Option<Stats>) {
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
pub(super) async fn history(
    aws: &Aws,
    names: &HashSet<String>,
    start: i64,
    end: i64,
) -> Result<History, AwsError> {
    let mut out: History = HashMap::new();
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
pub(super) async fn config_compliance(
    aws: &Aws,
    names: &[String],
) -> Result<Vec<RuleCompliance>, AwsError> {
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
        if let Some(subs) = crate::ops::topic_subscriptions(aws, &arn).await? {
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
    let store = crate::connect::inventory_location(
        &m.settings,
        &aws.env.account_id,
        &aws.env.region,
        m.targets.first(),
    );
    let d = crate::ops::drift::run(aws, m, &store)
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

// ---------------------------------------------------------------------------
// Assembly

/// Reads everything and builds the report. `Err` only when the alarms cannot be read.
pub async fn collect(
    aws: &Aws,
    m: &Manifests,
    since: Duration,
    now: i64,
) -> Result<DailyReport, AwsError> {
    let window = Window {
        start: now - i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2),
        end: now,
    };
    let declared = crate::ops::declared_alarms(m);
    // The drift section's observe reads the same walk.
    let live = read_declared(aws, &declared).await?;
    let plans: Vec<AlarmQueries> = live
        .iter()
        .enumerate()
        .filter_map(|(i, l)| queries_for(i, l.as_ref()?.metric.as_ref()?, window.range()))
        .collect();
    let reads = read_sections(aws, m, &declared, &plans, window).await;

    let Settled {
        metrics,
        history,
        drift,
        config_rules,
        pending,
        unavailable,
    } = reads.settle();
    let metrics_read = metrics.is_some();
    let data = metrics.unwrap_or_default();
    let inputs = EntryInputs {
        plans: &plans,
        data: &data,
        metrics_read,
        history: history.as_ref(),
        window,
    };
    let alarms: Vec<AlarmEntry> = declared
        .iter()
        .zip(&live)
        .enumerate()
        .map(|(i, ((kind, name), l))| inputs.entry(i, *kind, name, l.as_ref()))
        .collect();
    Ok(DailyReport {
        version: VERSION,
        generated_at: rfc3339(epoch_secs(SystemTime::now())),
        account: aws.env.account_id.clone(),
        region: aws.env.region.clone(),
        period: Period {
            start: rfc3339(window.start),
            end: rfc3339(window.end),
            seconds: since.as_secs(),
        },
        summary: summarize(&alarms, history.is_some()),
        alarms,
        drift,
        config_rules,
        pending_subscriptions: pending,
        unavailable,
        api_calls: aws.calls.snapshot(),
    })
}

/// The period the report covers, in epoch seconds.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
}

impl Window {
    fn range(self) -> i64 {
        self.end - self.start
    }
}

/// The declared alarms as they are live, in declared order; `None` for an absent one.
async fn read_declared(
    aws: &Aws,
    declared: &[(KindId, String)],
) -> Result<Vec<Option<LiveAlarm>>, AwsError> {
    let pages = crate::kinds::metric_alarm::all_alarms(aws).await?;
    let (metric, composite) = (&pages.metric, &pages.composite);
    Ok(declared
        .iter()
        .map(|(kind, name)| match kind {
            KindId::MetricAlarm => metric.get(name).map(|a| LiveAlarm::from_metric(a)),
            _ => composite.get(name).map(LiveAlarm::from_composite),
        })
        .collect())
}

/// What each section's read returned; an `Err` leaves that section out.
struct SectionReads {
    metrics: Result<MetricData, AwsError>,
    history: Result<History, AwsError>,
    drift: Result<DriftSection, String>,
    config_rules: Result<Vec<RuleCompliance>, AwsError>,
    pending: Result<Vec<PendingSubscription>, AwsError>,
}

/// The sections read, each `None` or empty when it could not be read; and the
/// sections that could not, in the order the report lists them.
struct Settled {
    metrics: Option<MetricData>,
    history: Option<History>,
    drift: Option<DriftSection>,
    config_rules: Vec<RuleCompliance>,
    pending: Vec<PendingSubscription>,
    unavailable: Vec<Unavailable>,
}

impl SectionReads {
    fn settle(self) -> Settled {
        let mut gaps = Vec::new();
        let metrics = ok_or_gap(self.metrics, "metrics", &mut gaps);
        let history = ok_or_gap(self.history, "stateHistory", &mut gaps);
        let drift = match self.drift {
            Ok(d) => Some(d),
            Err(message) => {
                gaps.push(Unavailable {
                    section: "drift".into(),
                    class: "terminal".into(),
                    message,
                });
                None
            }
        };
        let config_rules = ok_or_gap(self.config_rules, "configCompliance", &mut gaps);
        let pending = ok_or_gap(self.pending, "subscriptions", &mut gaps);
        Settled {
            metrics,
            history,
            drift,
            config_rules: config_rules.unwrap_or_default(),
            pending: pending.unwrap_or_default(),
            unavailable: gaps,
        }
    }
}

/// The value, or `None` with the section listed as unavailable.
fn ok_or_gap<T>(r: Result<T, AwsError>, section: &str, gaps: &mut Vec<Unavailable>) -> Option<T> {
    r.map_err(|e| gaps.push(unavailable(section, &e))).ok()
}

/// Reads metrics, state history, drift, Config compliance and pending
/// subscriptions side by side.
async fn read_sections(
    aws: &Aws,
    m: &Manifests,
    declared: &[(KindId, String)],
    plans: &[AlarmQueries],
    window: Window,
) -> SectionReads {
    let Window { start, end } = window;
    let names: HashSet<String> = declared.iter().map(|(_, n)| n.clone()).collect();
    let rules = declared_names(m, KindId::ConfigRule);
    let topics = declared_names(m, KindId::Topic);
    let metric_calls = async {
        let mut all = HashMap::new();
        for call in pack(plans) {
            all.extend(get_metric_data(aws, call, start, end).await?);
        }
        Ok::<_, AwsError>(all)
    };
    let (metrics, history, drift, config_rules, pending) = futures::join!(
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
    SectionReads {
        metrics,
        history,
        drift,
        config_rules,
        pending,
    }
}

/// The names of the declared resources of one kind, in directory order.
fn declared_names(m: &Manifests, kind: KindId) -> Vec<String> {
    m.resources
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.name.clone())
        .collect()
}

/// What every alarm's entry is built from.
struct EntryInputs<'a> {
    plans: &'a [AlarmQueries],
    data: &'a MetricData,
    /// False when GetMetricData failed: then "no datapoints" is not known.
    metrics_read: bool,
    /// `None` when the history could not be read.
    history: Option<&'a History>,
    window: Window,
}

impl EntryInputs<'_> {
    /// The entry of the `i`th declared alarm.
    fn entry(&self, i: usize, kind: KindId, name: &str, live: Option<&LiveAlarm>) -> AlarmEntry {
        let mut e = AlarmEntry::declared(kind, name, live.is_some());
        let Some(l) = live else {
            e.notes
                .push("declared but absent from AWS; run `vigil reconcile`".into());
            return e;
        };
        e.state = Some(l.state.clone());
        e.state_reason = Some(l.reason.clone());
        e.state_since = l.since.map(rfc3339);
        e.actions_enabled = Some(l.actions_enabled);
        if let Some(a) = &l.metric {
            self.add_metric(&mut e, i, a);
        }
        self.add_history(&mut e, l);
        e
    }

    /// The metric, its threshold, and its series and statistics over the period.
    fn add_metric(&self, e: &mut AlarmEntry, i: usize, a: &MetricAlarm) {
        e.metric = Some(metric_info(a));
        e.threshold = a.threshold();
        e.comparison_operator = a.comparison_operator().map(|c| c.as_str().to_string());
        let Some(plan) = self.plans.iter().find(|p| p.alarm == i) else {
            return;
        };
        let (series, stats) = stats_from(plan, self.data);
        e.series_period = Some(plan.period);
        if stats.is_none() && self.metrics_read {
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

    /// The state changes in the period, and when the alarm was in ALARM.
    fn add_history(&self, e: &mut AlarmEntry, l: &LiveAlarm) {
        let Window { start, end } = self.window;
        let transitions = self
            .history
            .map(|h| h.get(&e.name).cloned().unwrap_or_default());
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
    }
}

/// Counts by state; state changes only when the history was read.
fn summarize(alarms: &[AlarmEntry], history_read: bool) -> ReportSummary {
    let count = |s: &str| {
        alarms
            .iter()
            .filter(|a| a.state.as_deref() == Some(s))
            .count()
    };
    ReportSummary {
        alarms: alarms.len(),
        in_alarm: count("ALARM"),
        ok: count("OK"),
        insufficient_data: count("INSUFFICIENT_DATA"),
        missing: alarms.iter().filter(|a| !a.exists).count(),
        state_changes: history_read.then(|| {
            alarms
                .iter()
                .map(|a| a.transitions.as_ref().map_or(0, Vec::len))
                .sum()
        }),
    }
}
