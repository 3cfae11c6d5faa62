//! The metric_filter kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::collection::btree_map;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct FilterSem {
    pub name: String,
    pub group: String,
    pub pattern: String,
    pub metric: String,
    pub namespace: String,
    /// `1` (a number) or a field.
    pub value: String,
    pub default: Option<f64>,
    pub dims: Tags,
    pub unit: String,
    pub transformed: bool,
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["HttpdErrors", "5xx count", "latency"][..]),
        select(&["/aws/ec2/httpd/error_log", "app.v2#blue"][..]),
        select(
            &[
                "",
                "ERROR",
                "[ip, user, username, timestamp, request, status=5*, bytes]",
                "{ $.latency > 100 }",
            ][..],
        ),
        select(&["HttpdErrors", "Latency"][..]),
        select(&["MonitoringLab/Logs", "App"][..]),
        select(&["1", "$.latency", "2"][..]),
        prop_oneof![
            Just((None, Tags::new())),
            select(&[0.0, 1.0, 0.5][..]).prop_map(|d| (Some(d), Tags::new())),
            btree_map(
                select(&["Status", "Host"][..]).prop_map(str::to_string),
                select(&["$.status", "$.host"][..]).prop_map(str::to_string),
                1..3
            )
            .prop_map(|d| (None, d)),
        ],
        select(&["None", "Count", "Milliseconds"][..]),
        any::<bool>(),
    )
        .prop_map(
            |(name, group, pattern, metric, namespace, value, (default, dims), unit, t)| {
                FilterSem {
                    name: name.into(),
                    group: group.into(),
                    pattern: pattern.into(),
                    metric: metric.into(),
                    namespace: namespace.into(),
                    value: value.into(),
                    default,
                    dims,
                    unit: unit.into(),
                    transformed: t,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_metric_filter)
}

fn render_metric_filter(s: &FilterSem, st: Style) -> Value {
    let value = match s.value.parse::<i64>() {
        Ok(n) if st.coin("valueNumber") => json!(n),
        _ => json!(s.value),
    };
    let t = Obj::new()
        .put("metricName", s.metric.as_str())
        .put("metricNamespace", s.namespace.as_str())
        .put("metricValue", value)
        .opt("defaultValue", s.default.map(|d| st.num("default", d)))
        .when(
            !s.dims.is_empty() || st.coin("dims{}"),
            "dimensions",
            dims_value(&s.dims, st),
        )
        .when(s.unit != "None" || st.coin("unit"), "unit", s.unit.as_str())
        .done(st, "t");
    // The pattern may carry whitespace around it, as a YAML block scalar does.
    let pattern = if st.coin("pad") && !s.pattern.is_empty() {
        format!(" {}\n", s.pattern)
    } else {
        s.pattern.clone()
    };
    Obj::new()
        .put("logGroupName", s.group.as_str())
        .when(
            !s.pattern.is_empty() || st.coin("pattern"),
            "filterPattern",
            pattern,
        )
        .put("metricTransformations", json!([t]))
        .when(
            s.transformed || st.coin("transformed"),
            "applyOnTransformedLogs",
            s.transformed,
        )
        .done(st, "filter")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &metric_filter::Spec, st: Style, _env: &Env) -> metric_filter::Live {
    use aws_sdk_cloudwatchlogs::types::MetricFilter;
    let transformations = s
        .metric_transformations
        .iter()
        .map(|t| {
            // AWS records an omitted unit as None, and may say so.
            let unit = t.unit.as_deref().or(st.coin("unit").then_some("None"));
            metric_filter::sdk_transformation(t, unit).expect("transformation")
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

/// Import carries the whole spec over.
pub fn imported(s: &metric_filter::Spec) -> metric_filter::Spec {
    s.clone()
}
