//! The report's data: what `vigil report --format json` prints, field by field.
//! [`DailyReport`] is the root; `schema/report.schema.json` is generated from these
//! types, so a field's doc comment is also its schema description.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::aws::ApiCalls;
use crate::kinds::KindId;

/// The shape version of the JSON report.
pub const VERSION: u32 = 1;

/// The JSON report (`vigil report --format json`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "vigil report",
    description = "The output of `vigil report --format json`."
)]
pub struct DailyReport {
    /// The version of this document's shape; it changes only with an incompatible change.
    pub version: u32,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    pub account: String,
    pub region: String,
    pub period: Period,
    pub summary: ReportSummary,
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
// The schema keeps the name it was published with.
#[schemars(rename = "Summary")]
pub struct ReportSummary {
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

impl AlarmEntry {
    /// A declared alarm before anything is known of it but whether it exists.
    pub(crate) fn declared(kind: KindId, name: &str, exists: bool) -> Self {
        AlarmEntry {
            kind: kind.name().to_string(),
            name: name.to_string(),
            exists,
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
        }
    }
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
