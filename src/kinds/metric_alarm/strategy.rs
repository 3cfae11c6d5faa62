//! The metric_alarm kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct MetricStatSem {
    pub namespace: String,
    pub metric: String,
    pub dims: Tags,
    pub period: i32,
    pub stat: String,
}

#[derive(Debug, Clone)]
pub enum AlarmMetric {
    Single {
        m: MetricStatSem,
        extended: bool,
        unit: Option<String>,
        low_sample: Option<String>,
    },
    Math {
        m: MetricStatSem,
        expression: String,
        label: Option<String>,
    },
    Anomaly {
        m: MetricStatSem,
        width: f64,
    },
    /// A PromQL alarm: no metric, threshold, operator or periods.
    PromQl {
        query: String,
        pending: Option<i32>,
        recovery: Option<i32>,
        interval: i32,
    },
}

#[derive(Debug, Clone)]
pub struct MetricAlarmSem {
    pub name: String,
    pub description: Option<String>,
    pub actions: AlarmActions,
    pub metric: AlarmMetric,
    pub evaluation_periods: i32,
    pub datapoints: i32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing: String,
    pub warm_up: Option<(i32, Option<bool>)>,
    pub tags: Option<Tags>,
}

const METRICS: &[(&str, &str, &str)] = &[
    ("AWS/EC2", "CPUUtilization", "InstanceId"),
    ("CWAgent", "mem_used_percent", "InstanceId"),
    ("AWS/SNS", "NumberOfMessagesPublished", "TopicName"),
    ("MonitoringLab/Logs", "HttpdErrors", "Host"),
];

fn metric_stat() -> impl Strategy<Value = MetricStatSem> {
    (
        select(METRICS),
        vec(select(&["i-1", "i-0abc", "web-a"][..]), 0..3),
        select(&[10, 30, 60, 300, 3600][..]),
        select(&["Average", "Sum", "Maximum", "Minimum", "SampleCount"][..]),
    )
        .prop_map(|((ns, metric, dim), values, period, stat)| MetricStatSem {
            namespace: ns.into(),
            metric: metric.into(),
            dims: values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let k = if i == 0 {
                        dim.to_string()
                    } else {
                        format!("{dim}{i}")
                    };
                    (k, v.to_string())
                })
                .collect(),
            period,
            stat: stat.into(),
        })
}

fn alarm_metric() -> impl Strategy<Value = AlarmMetric> {
    prop_oneof![
        (
            metric_stat(),
            any::<bool>(),
            opt_string(&["Percent", "Count", "Seconds", "Bytes"]),
            opt_string(&["evaluate", "ignore"]),
        )
            .prop_map(|(m, extended, unit, low)| AlarmMetric::Single {
                m,
                extended,
                unit,
                low_sample: if extended { low } else { None },
            }),
        (
            metric_stat(),
            select(&["m1 * 100", "RATE(m1)", "m1 / 60"][..]),
            opt_string(&["scaled", "per second"]),
        )
            .prop_map(|(m, e, label)| AlarmMetric::Math {
                m,
                expression: e.into(),
                label,
            }),
        (metric_stat(), select(&[1.0, 2.0, 2.5][..]))
            .prop_map(|(m, width)| AlarmMetric::Anomaly { m, width }),
        (
            select(
                &[
                    "up == 0",
                    "rate(http_errors_total[5m]) > 1\n",
                    "  sum by (host) (x) > 3"
                ][..]
            ),
            prop::option::of(select(&[0, 60, 300, 86_400][..])),
            prop::option::of(select(&[0, 120][..])),
            select(&[10, 20, 30, 60, 600][..]),
        )
            .prop_map(|(q, pending, recovery, interval)| AlarmMetric::PromQl {
                query: q.into(),
                pending,
                recovery,
                interval,
            }),
    ]
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["HighCPUUtilization", "Low Disk", "api-5xx/errors", "a"][..]),
        opt_string(&["", "CPU above the line", "Ünïcode — dash"]),
        alarm_actions(),
        alarm_metric(),
        (1..=5i32).prop_flat_map(|e| (Just(e), 1..=e)),
        select(&[0.0, 1.0, 80.0, 99.5, -5.0, 1e6][..]),
        select(
            &[
                "GreaterThanThreshold",
                "GreaterThanOrEqualToThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ][..],
        ),
        select(&["missing", "breaching", "notBreaching", "ignore"][..]),
        prop::option::of((select(&[1, 10, 60][..]), prop::option::of(any::<bool>()))),
        opt_tags(),
    )
        .prop_map(
            |(name, description, actions, metric, (e, d), threshold, cmp, treat, warm_up, tags)| {
                let comparison = if matches!(metric, AlarmMetric::Anomaly { .. }) {
                    "LessThanLowerOrGreaterThanUpperThreshold".to_string()
                } else {
                    cmp.to_string()
                };
                MetricAlarmSem {
                    name: name.into(),
                    description,
                    actions,
                    metric,
                    evaluation_periods: e,
                    datapoints: d,
                    threshold,
                    comparison,
                    treat_missing: treat.into(),
                    warm_up,
                    tags,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_metric_alarm)
}

fn metric_stat_value(m: &MetricStatSem, st: Style) -> Value {
    let metric = Obj::new()
        .put("namespace", m.namespace.as_str())
        .put("metricName", m.metric.as_str())
        .when(
            !m.dims.is_empty() || st.coin("dims{}"),
            "dimensions",
            dims_value(&m.dims, st),
        )
        .done(st, "metric");
    Obj::new()
        .put("metric", metric)
        .put("period", m.period)
        .put("stat", m.stat.as_str())
        .done(st, "metricStat")
}

fn render_warm_up(o: Obj, s: &MetricAlarmSem, st: Style) -> Obj {
    match s.warm_up {
        None => o,
        Some((minutes, only_after)) => {
            let w = Obj::new()
                .put("warmUpPeriodDurationInMinutes", minutes)
                .when(
                    only_after.is_some() || st.coin("wu.only"),
                    "onlyStartEvaluatingAfterWarmUpPeriodEnds",
                    only_after.unwrap_or(false),
                )
                .done(st, "warmUp");
            o.put("warmUpConfiguration", w)
        }
    }
}

fn render_metric_alarm(s: &MetricAlarmSem, st: Style) -> Value {
    if let AlarmMetric::PromQl {
        query,
        pending,
        recovery,
        interval,
    } = &s.metric
    {
        // `pendingPeriod` and `recoveryPeriod` are 0 when left out.
        let criteria = Obj::new()
            .put("query", query.as_str())
            .when(
                pending.is_some() || st.coin("pending"),
                "pendingPeriod",
                pending.unwrap_or(0),
            )
            .when(
                recovery.is_some() || st.coin("recovery"),
                "recoveryPeriod",
                recovery.unwrap_or(0),
            )
            .done(st, "promql");
        let mut o = Obj::new()
            .opt("alarmDescription", s.description.as_deref())
            .put("evaluationCriteria", json!({ "promQLCriteria": criteria }))
            .put("evaluationInterval", *interval);
        o = put_actions(o, &s.actions, st);
        o = opt_tags_field(o, &s.tags, st);
        return render_warm_up(o, s, st).done(st, "alarm");
    }
    let mut o = Obj::new()
        .opt("alarmDescription", s.description.as_deref())
        .put("evaluationPeriods", s.evaluation_periods)
        .when(
            s.datapoints != s.evaluation_periods || st.coin("datapoints"),
            "datapointsToAlarm",
            s.datapoints,
        )
        .put("comparisonOperator", s.comparison.as_str())
        .when(
            s.treat_missing != "missing" || st.coin("treat"),
            "treatMissingData",
            s.treat_missing.as_str(),
        );
    o = put_actions(o, &s.actions, st);
    o = opt_tags_field(o, &s.tags, st);
    o = render_warm_up(o, s, st);
    // `returnData` is true when left out.
    let returning = |st: Style, what: &str| st.coin(what).then_some(true);
    match &s.metric {
        AlarmMetric::Single {
            m,
            extended,
            unit,
            low_sample,
        } => {
            o = o
                .put("namespace", m.namespace.as_str())
                .put("metricName", m.metric.as_str())
                .put("period", m.period)
                .when(
                    !m.dims.is_empty() || st.coin("dims{}"),
                    "dimensions",
                    dims_value(&m.dims, st),
                )
                .opt("unit", unit.as_deref())
                .opt("evaluateLowSampleCountPercentile", low_sample.as_deref())
                .put("threshold", st.num("threshold", s.threshold));
            o = if *extended {
                o.put("extendedStatistic", "p99")
            } else {
                o.put("statistic", m.stat.as_str())
            };
        }
        AlarmMetric::Math {
            m,
            expression,
            label,
        } => {
            let m1 = Obj::new()
                .put("id", "m1")
                .put("metricStat", metric_stat_value(m, st))
                .put("returnData", false)
                .done(st, "m1");
            let e1 = Obj::new()
                .put("id", "e1")
                .put("expression", expression.as_str())
                .opt("label", label.as_deref())
                .opt("returnData", returning(st, "e1.returnData"))
                .done(st, "e1");
            o = o
                .put("metrics", json!([m1, e1]))
                .put("threshold", st.num("threshold", s.threshold));
        }
        AlarmMetric::Anomaly { m, width } => {
            let m1 = Obj::new()
                .put("id", "m1")
                .put("metricStat", metric_stat_value(m, st))
                .opt("returnData", returning(st, "m1.returnData"))
                .done(st, "m1");
            let ad = Obj::new()
                .put("id", "ad1")
                .put(
                    "expression",
                    format!("ANOMALY_DETECTION_BAND(m1, {})", width),
                )
                .opt("returnData", returning(st, "ad1.returnData"))
                .done(st, "ad1");
            o = o
                .put("metrics", json!([m1, ad]))
                .put("thresholdMetricId", "ad1");
        }
        AlarmMetric::PromQl { .. } => unreachable!("rendered above"),
    }
    o.done(st, "alarm")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &metric_alarm::Spec, st: Style, env: &Env) -> metric_alarm::Live {
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
        .set_evaluation_periods(s.evaluation_periods)
        .set_datapoints_to_alarm(
            s.datapoints_to_alarm
                .or(s.evaluation_periods.filter(|_| st.coin("dp"))),
        )
        .set_threshold(s.threshold)
        .set_comparison_operator(
            s.comparison_operator
                .as_deref()
                .map(ComparisonOperator::from),
        )
        .set_treat_missing_data(
            s.treat_missing_data
                .clone()
                .or(st.coin("tmd").then(|| "missing".to_string())),
        )
        .set_evaluate_low_sample_count_percentile(s.evaluate_low_sample_count_percentile.clone())
        .set_metrics(Some(metrics))
        .set_threshold_metric_id(s.threshold_metric_id.clone())
        .set_evaluation_criteria(s.evaluation_criteria.as_ref().map(|c| {
            let p = &c.prom_ql_criteria;
            // AWS may report the periods left out as 0.
            aws_sdk_cloudwatch::types::EvaluationCriteria::PromQlCriteria(
                aws_sdk_cloudwatch::types::AlarmPromQlCriteria::builder()
                    .query(p.query.trim())
                    .set_pending_period(p.pending_period.or(st.coin("pp0").then_some(0)))
                    .set_recovery_period(p.recovery_period.or(st.coin("rp0").then_some(0)))
                    .build(),
            )
        }))
        .set_evaluation_interval(s.evaluation_interval)
        .set_warm_up_configuration(s.warm_up_configuration.as_ref().map(|w| {
            aws_sdk_cloudwatch::types::WarmUpConfiguration::builder()
                .warm_up_period_duration_in_minutes(w.warm_up_period_duration_in_minutes)
                .set_only_start_evaluating_after_warm_up_period_ends(
                    w.only_start_evaluating_after_warm_up_period_ends
                        .or(st.coin("wu0").then_some(false)),
                )
                .build()
        }))
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
pub fn imported(s: &metric_alarm::Spec) -> metric_alarm::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    s
}
