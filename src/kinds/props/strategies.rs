//! Strategies of valid specs for every kind. Shared: the unit properties in
//! `src/kinds/props` and the integration properties in `tests/it/props.rs`
//! include this file, so it names the kind modules only through `super::k`.
//!
//! A [`Case`] is one meaning written twice: `a` and `b` differ only in how
//! they are written (list and key order, defaults explicit or left out,
//! `80` or `80.0`, a policy's single string or one-element list), so every
//! property can check that the two normalize alike.
#![allow(dead_code)]

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Map, Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// One generated spec: its name, the spec written two ways, and a style for
/// whatever the test makes of it (how AWS answers, in the unit properties).
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub a: Value,
    pub b: Value,
    pub style: Style,
}

/// Deterministic choices of how to write something, from a seed: the same
/// style answers the same question the same way, so shrinking stays stable.
#[derive(Debug, Clone, Copy)]
pub struct Style(pub u64);

fn mix(mut z: u64) -> u64 {
    // splitmix64's finalizer: every input bit reaches every output bit.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Style {
    fn h(&self, what: &str) -> u64 {
        let mut h = mix(self.0);
        for b in what.bytes() {
            h = mix(h ^ u64::from(b));
        }
        h
    }

    pub fn coin(&self, what: &str) -> bool {
        self.h(what) & 1 == 1
    }

    pub fn sub(&self, what: &str) -> Style {
        Style(self.h(what))
    }

    pub fn pick<'a, T>(&self, what: &str, from: &'a [T]) -> &'a T {
        &from[(self.h(what) % from.len() as u64) as usize]
    }

    pub fn shuffled<T: Clone>(&self, what: &str, v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        let mut s = self.h(what);
        for i in (1..v.len()).rev() {
            s = mix(s);
            v.swap(i, (s % (i as u64 + 1)) as usize);
        }
        v
    }

    /// An integral number as `80` or `80.0`; others as they are.
    pub fn num(&self, what: &str, n: f64) -> Value {
        if n.fract() == 0.0 && n.abs() < 1e15 && self.coin(what) {
            json!(n as i64)
        } else {
            json!(n)
        }
    }

    /// A list of strings as a list, in any order, or a lone string when it has one item.
    pub fn string_or_list(&self, what: &str, items: &[String]) -> Value {
        if items.len() == 1 && self.coin(what) {
            json!(items[0])
        } else {
            json!(self.shuffled(what, items))
        }
    }
}

/// An object with its keys in a style's order.
pub fn object(st: Style, what: &str, pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        st.shuffled(what, &pairs)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Builds an object field by field, some fields optional.
pub struct Obj(Vec<(String, Value)>);

impl Obj {
    pub fn new() -> Obj {
        Obj(Vec::new())
    }
    pub fn put(mut self, k: &str, v: impl Into<Value>) -> Obj {
        self.0.push((k.to_string(), v.into()));
        self
    }
    pub fn opt(self, k: &str, v: Option<impl Into<Value>>) -> Obj {
        match v {
            Some(v) => self.put(k, v),
            None => self,
        }
    }
    pub fn when(self, cond: bool, k: &str, v: impl Into<Value>) -> Obj {
        if cond { self.put(k, v) } else { self }
    }
    pub fn done(self, st: Style, what: &str) -> Value {
        let pairs = st.shuffled(what, &self.0);
        Value::Object(pairs.into_iter().collect())
    }
}

impl Default for Obj {
    fn default() -> Self {
        Obj::new()
    }
}

/// A JSON document respelled without changing its meaning to `diff::canonical`:
/// keys reordered, integral numbers as `80` or `80.0`.
pub fn respell(v: &Value, st: Style) -> Value {
    match v {
        Value::Object(m) => {
            let keys: Vec<&String> = m.keys().collect();
            Value::Object(
                st.shuffled("keys", &keys)
                    .into_iter()
                    .map(|k| (k.clone(), respell(&m[k], st.sub(k))))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| respell(x, st.sub(&i.to_string())))
                .collect(),
        ),
        Value::Number(n) => match n.as_f64() {
            Some(f) => st.num("n", f),
            None => v.clone(),
        },
        other => other.clone(),
    }
}

/// A policy document respelled by the rules of `kinds::policy`: statements in
/// any order (a lone one as an object), string sets in any order (a lone item
/// as a string, an item repeated), `"*"` principals as `{"AWS": "*"}`, account
/// ids as root ARNs, `"true"` conditions as `true`, and `Version: 2008-10-17`
/// left out.
pub fn respell_policy(doc: &Value, st: Style) -> Value {
    let Value::Object(m) = doc else {
        return doc.clone();
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in m {
        match k.as_str() {
            "Version" if v == "2008-10-17" && st.coin("version") => {}
            "Statement" => {
                let list: Vec<Value> = match v {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let list: Vec<Value> = st
                    .shuffled("statements", &list)
                    .iter()
                    .enumerate()
                    .map(|(i, s)| statement(s, st.sub(&format!("s{i}"))))
                    .collect();
                let value = if list.len() == 1 && st.coin("lone") {
                    list[0].clone()
                } else {
                    Value::Array(list)
                };
                out.push((k.clone(), value));
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    Value::Object(st.shuffled("keys", &out).into_iter().collect())
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

fn string_set(v: &Value, st: Style, map: impl Fn(&str, Style) -> Value) -> Value {
    let mut items = strings(v);
    if !items.is_empty() && st.coin("dup") {
        items.push(items[0].clone());
    }
    let items: Vec<Value> = st
        .shuffled("order", &items)
        .iter()
        .enumerate()
        .map(|(i, s)| map(s, st.sub(&i.to_string())))
        .collect();
    if items.len() == 1 && st.coin("lone") {
        items[0].clone()
    } else {
        Value::Array(items)
    }
}

fn statement(s: &Value, st: Style) -> Value {
    let Value::Object(m) = s else {
        return s.clone();
    };
    let plain = |x: &str, _: Style| json!(x);
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in m {
        let sk = st.sub(k);
        let value = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => string_set(v, sk, plain),
            "Principal" | "NotPrincipal" => match v {
                Value::String(s) if s == "*" => match *sk.pick("star", &[0, 1, 2]) {
                    0 => json!("*"),
                    1 => json!({"AWS": "*"}),
                    _ => json!({"AWS": ["*"]}),
                },
                Value::Object(pm) => Value::Object(
                    sk.shuffled("types", &pm.iter().collect::<Vec<_>>())
                        .into_iter()
                        .map(|(kind, ids)| {
                            let ids = if kind == "AWS" {
                                string_set(ids, sk.sub(kind), account_or_root)
                            } else {
                                string_set(ids, sk.sub(kind), plain)
                            };
                            (kind.clone(), ids)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            "Condition" => match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Value::Object(km) => Value::Object(
                                    km.iter()
                                        .map(|(ck, vals)| {
                                            let vs = string_set(
                                                vals,
                                                sk.sub(op).sub(ck),
                                                |x, s| match x {
                                                    "true" | "false" if s.coin("bool") => {
                                                        json!(x == "true")
                                                    }
                                                    _ => json!(x),
                                                },
                                            );
                                            (ck.clone(), vs)
                                        })
                                        .collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.push((k.clone(), value));
    }
    Value::Object(st.shuffled("keys", &out).into_iter().collect())
}

/// `123456789012` and `arn:aws:iam::123456789012:root` name the same principal.
fn account_or_root(x: &str, st: Style) -> Value {
    let id = x
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
        .unwrap_or(x);
    let is_id = id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
    if is_id && st.coin("root") {
        json!(format!("arn:aws:iam::{id}:root"))
    } else if is_id {
        json!(id)
    } else {
        json!(x)
    }
}

// ---- shared pieces ----

pub type Tags = BTreeMap<String, String>;

const TAG_KEYS: &[&str] = &["team", "env", "project", "cost-center", "Name", "a b"];
const TAG_VALUES: &[&str] = &["ops", "prod", "monitoring-lab", "x y=z", ""];

pub fn tags() -> impl Strategy<Value = Tags> {
    btree_map(
        select(TAG_KEYS).prop_map(str::to_string),
        select(TAG_VALUES).prop_map(str::to_string),
        0..4,
    )
}

/// Absent (tags unmanaged), `{}` (exactly none), or some.
pub fn opt_tags() -> impl Strategy<Value = Option<Tags>> {
    prop_oneof![Just(None), Just(Some(Tags::new())), tags().prop_map(Some)]
}

fn tags_value(t: &Tags, st: Style) -> Value {
    object(
        st,
        "tags",
        t.iter().map(|(k, v)| (k.as_str(), json!(v))).collect(),
    )
}

/// Tags of a kind where absent means none: `{}` is written or left out.
fn plain_tags(o: Obj, t: &Tags, st: Style) -> Obj {
    o.when(
        !t.is_empty() || st.coin("tags{}"),
        "tags",
        tags_value(t, st),
    )
}

fn opt_tags_field(o: Obj, t: &Option<Tags>, st: Style) -> Obj {
    o.opt("tags", t.as_ref().map(|t| tags_value(t, st)))
}

/// Both writings of one meaning, and a style of its own for the test.
fn case<S: std::fmt::Debug + Clone + 'static>(
    sem: impl Strategy<Value = S>,
    name: impl Fn(&S) -> String + 'static,
    render: fn(&S, Style) -> Value,
) -> impl Strategy<Value = Case> {
    (sem, any::<u64>(), any::<u64>(), any::<u64>()).prop_map(move |(s, a, b, c)| Case {
        name: name(&s),
        a: render(&s, Style(a)),
        b: render(&s, Style(b)),
        style: Style(c),
    })
}

fn arn(service: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}")
}

fn topic_arns() -> impl Strategy<Value = Vec<String>> {
    subsequence(vec!["alerts", "oncall", "audit", "pager"], 0..=3).prop_map(|v| {
        v.into_iter()
            .map(|t| arn("sns", t))
            .collect::<Vec<String>>()
    })
}

fn opt_string(pool: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(pool).prop_map(str::to_string))
}

// ---- MetricAlarm ----

#[derive(Debug, Clone)]
pub struct AlarmActions {
    pub enabled: bool,
    pub ok: Vec<String>,
    pub alarm: Vec<String>,
    pub insufficient: Vec<String>,
}

fn alarm_actions() -> impl Strategy<Value = AlarmActions> {
    (any::<bool>(), topic_arns(), topic_arns(), topic_arns()).prop_map(|(e, ok, alarm, ins)| {
        AlarmActions {
            enabled: e || ok.len() % 2 == 0,
            ok,
            alarm,
            insufficient: ins,
        }
    })
}

fn put_actions(o: Obj, a: &AlarmActions, st: Style) -> Obj {
    let list = |o: Obj, k: &str, v: &[String]| {
        o.when(
            !v.is_empty() || st.coin(&format!("{k}[]")),
            k,
            json!(st.shuffled(k, v)),
        )
    };
    let o = o.when(
        !a.enabled || st.coin("actionsEnabled"),
        "actionsEnabled",
        a.enabled,
    );
    let o = list(o, "okActions", &a.ok);
    let o = list(o, "alarmActions", &a.alarm);
    list(o, "insufficientDataActions", &a.insufficient)
}

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
    ]
}

pub fn metric_alarm() -> impl Strategy<Value = Case> {
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
        opt_tags(),
    )
        .prop_map(
            |(name, description, actions, metric, (e, d), threshold, cmp, treat, tags)| {
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
                    tags,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_metric_alarm)
}

fn dims_value(d: &Tags, st: Style) -> Value {
    object(
        st,
        "dims",
        d.iter().map(|(k, v)| (k.as_str(), json!(v))).collect(),
    )
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

fn render_metric_alarm(s: &MetricAlarmSem, st: Style) -> Value {
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
    }
    o.done(st, "alarm")
}

// ---- CompositeAlarm ----

#[derive(Debug, Clone)]
pub struct CompositeSem {
    pub name: String,
    pub rule: String,
    pub description: Option<String>,
    pub actions: AlarmActions,
    pub suppressor: Option<(String, i32, i32)>,
    pub tags: Option<Tags>,
}

pub fn composite_alarm() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["AnyHigh", "lab composite", "c-1"][..]),
        select(
            &[
                "ALARM(HighCPUUtilization) OR ALARM(HighMemoryUtilization)",
                "ALARM(\"Low Disk\") AND NOT OK(a)",
                "INSUFFICIENT_DATA(x)",
                "TRUE",
            ][..],
        ),
        opt_string(&["", "Either is high"]),
        alarm_actions(),
        prop::option::of((
            select(&["Maintenance", "deploying"][..]),
            select(&[60, 120][..]),
            select(&[60, 300][..]),
        )),
        opt_tags(),
    )
        .prop_map(
            |(name, rule, description, actions, sup, tags)| CompositeSem {
                name: name.into(),
                rule: rule.into(),
                description,
                actions,
                suppressor: sup.map(|(s, w, e)| (s.to_string(), w, e)),
                tags,
            },
        );
    case(sem, |s| s.name.clone(), render_composite)
}

fn render_composite(s: &CompositeSem, st: Style) -> Value {
    // Surrounding whitespace means nothing to AWS (and a YAML block scalar adds a newline).
    let rule = if st.coin("pad") {
        format!("  {}\n", s.rule)
    } else {
        s.rule.clone()
    };
    let mut o = Obj::new()
        .put("alarmRule", rule)
        .opt("alarmDescription", s.description.as_deref());
    if let Some((sup, wait, ext)) = &s.suppressor {
        o = o
            .put("actionsSuppressor", sup.as_str())
            .when(
                *wait != 60 || st.coin("wait"),
                "actionsSuppressorWaitPeriod",
                *wait,
            )
            .when(
                *ext != 60 || st.coin("ext"),
                "actionsSuppressorExtensionPeriod",
                *ext,
            );
    }
    o = put_actions(o, &s.actions, st);
    opt_tags_field(o, &s.tags, st).done(st, "composite")
}

// ---- Dashboard ----

fn widget() -> impl Strategy<Value = Value> {
    let place = (0..20i64, 0..20i64, 1..=24i64, 1..=24i64);
    prop_oneof![
        (place.clone(), select(&["# Lab", "hi", "*bold* text"][..])).prop_map(
            |((x, y, w, h), md)| {
                json!({"type": "text", "x": x, "y": y, "width": w, "height": h,
                "properties": {"markdown": md}})
            }
        ),
        (
            place.clone(),
            select(&[60, 300][..]),
            select(&[0.5, 100.0, 99.9][..])
        )
            .prop_map(|((x, y, w, h), period, max)| {
                json!({"type": "metric", "x": x, "y": y, "width": w, "height": h,
                "properties": {
                    "metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", "i-1"],
                                [".", "NetworkIn", ".", ".", {"stat": "Sum", "yAxis": "right"}]],
                    "period": period, "stat": "Average", "region": REGION, "title": "CPU",
                    "yAxis": {"left": {"min": 0, "max": max}}}})
            }),
        place.clone().prop_map(|(x, y, w, h)| {
            json!({"type": "alarm", "x": x, "y": y, "width": w, "height": h,
            "properties": {"alarms": [format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:HighCPUUtilization")],
                "title": "Alarms"}})
        }),
        place.prop_map(|(x, y, w, h)| {
            json!({"type": "log", "x": x, "y": y, "width": w, "height": h,
            "properties": {"query": "SOURCE '/aws/ec2/httpd/error_log' | fields @timestamp, @message | limit 20",
                "region": REGION, "view": "table"}})
        }),
    ]
}

pub fn dashboard() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["monitoring-lab", "Ops_Board", "d-1"][..]),
        vec(widget(), 1..5),
        prop::option::of(select(&["auto", "inherit"][..])),
    )
        .prop_map(|(name, widgets, period)| {
            let mut body = json!({"widgets": widgets});
            if let Some(p) = period {
                body["periodOverride"] = json!(p);
            }
            (name.to_string(), body)
        });
    case(
        sem,
        |s| s.0.clone(),
        |s, st| json!({"body": respell(&s.1, st)}),
    )
}

// ---- XRayGroup ----

#[derive(Debug, Clone)]
pub struct XRayGroupSem {
    pub name: String,
    pub filter: String,
    pub insights: bool,
    pub notifications: bool,
    pub tags: Option<Tags>,
}

pub fn xray_group() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["monitoring-lab-api", "errors", "slow requests", "g_1"][..]),
        select(
            &[
                "service(\"monitoring-lab-api\")",
                "http.url CONTAINS \"/api/\"",
                "responsetime > 5",
                "fault = true AND service(\"web\")",
            ][..],
        ),
        any::<bool>(),
        any::<bool>(),
        opt_tags(),
    )
        .prop_map(|(name, filter, i, n, tags)| XRayGroupSem {
            name: name.into(),
            filter: filter.into(),
            insights: i,
            notifications: i && n,
            tags,
        });
    case(sem, |s| s.name.clone(), render_xray_group)
}

fn render_xray_group(s: &XRayGroupSem, st: Style) -> Value {
    let filter = if st.coin("pad") {
        format!(" {} \n", s.filter)
    } else {
        s.filter.clone()
    };
    // False flags may be written or left out, and so may an all-false block.
    let insights = Obj::new()
        .when(s.insights || st.coin("i"), "insightsEnabled", s.insights)
        .when(
            s.notifications || st.coin("n"),
            "notificationsEnabled",
            s.notifications,
        )
        .done(st, "insights");
    let o = Obj::new().put("filterExpression", filter).when(
        s.insights || st.coin("block"),
        "insightsConfiguration",
        insights,
    );
    opt_tags_field(o, &s.tags, st).done(st, "group")
}

// ---- SamplingRule ----

#[derive(Debug, Clone)]
pub struct SamplingSem {
    pub name: String,
    pub priority: i32,
    pub fixed_rate: f64,
    pub reservoir: i32,
    /// resourceArn, serviceName, serviceType, host, httpMethod, urlPath; `*` matches anything.
    pub matchers: [String; 6],
    pub attributes: Tags,
    pub tags: Option<Tags>,
}

const MATCHERS: [&str; 6] = [
    "resourceArn",
    "serviceName",
    "serviceType",
    "host",
    "httpMethod",
    "urlPath",
];

pub fn sampling_rule() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["Default", "monitoring-lab-api", "health checks", "r1"][..]),
        1..=9999i32,
        select(&[0.0, 0.05, 0.1, 0.5, 1.0][..]),
        0..20i32,
        (
            select(&["*"][..]),
            select(&["*", "api", "web-*"][..]),
            select(&["*", "AWS::EC2::Instance"][..]),
            select(&["*", "example.com"][..]),
            select(&["*", "GET", "POST"][..]),
            select(&["*", "/api/*", "/health"][..]),
        ),
        btree_map(
            select(&["env", "tenant", "x"][..]).prop_map(str::to_string),
            select(&["prod", "a", "b-1"][..]).prop_map(str::to_string),
            0..3,
        ),
        opt_tags(),
    )
        .prop_map(
            |(name, priority, fixed_rate, reservoir, m, attributes, tags)| {
                let default = name == "Default";
                let any = || "*".to_string();
                SamplingSem {
                    name: name.into(),
                    priority,
                    fixed_rate,
                    reservoir,
                    matchers: if default {
                        [any(), any(), any(), any(), any(), any()]
                    } else {
                        [m.0, m.1, m.2, m.3, m.4, m.5].map(str::to_string)
                    },
                    attributes: if default { Tags::new() } else { attributes },
                    tags: if default { None } else { tags },
                }
            },
        );
    case(sem, |s| s.name.clone(), render_sampling)
}

fn render_sampling(s: &SamplingSem, st: Style) -> Value {
    let mut o = Obj::new()
        .put("fixedRate", st.num("rate", s.fixed_rate))
        .put("reservoirSize", s.reservoir);
    if s.name != "Default" {
        o = o
            .put("priority", s.priority)
            .when(st.coin("version"), "version", 1);
        for (k, v) in MATCHERS.iter().zip(&s.matchers) {
            o = o.when(v != "*" || st.coin(k), k, v.as_str());
        }
        o = o.when(
            !s.attributes.is_empty() || st.coin("attrs{}"),
            "attributes",
            tags_value(&s.attributes, st.sub("attrs")),
        );
    }
    opt_tags_field(o, &s.tags, st).done(st, "rule")
}

// ---- policies ----

fn service_principals() -> impl Strategy<Value = Vec<String>> {
    subsequence(
        vec![
            "config.amazonaws.com",
            "ec2.amazonaws.com",
            "lambda.amazonaws.com",
        ],
        1..=2,
    )
    .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        Just(json!({"StringEquals": {"aws:SourceAccount": [ACCOUNT]}})),
        Just(json!({"Bool": {"aws:SecureTransport": ["true"]}})),
        Just(json!({"StringLike": {"aws:SourceArn": ["arn:aws:config:*", "arn:aws:logs:*"]}})),
    ])
}

/// A role's trust policy in its plainest form; [`respell_policy`] writes it other ways.
fn trust_policy() -> impl Strategy<Value = Value> {
    (service_principals(), any::<bool>(), condition()).prop_map(|(services, account, cond)| {
        let mut principal = json!({"Service": services});
        if account {
            principal["AWS"] = json!([ACCOUNT]);
        }
        let mut s =
            json!({"Effect": "Allow", "Principal": principal, "Action": ["sts:AssumeRole"]});
        if let Some(c) = cond {
            s["Condition"] = c;
        }
        json!({"Version": "2012-10-17", "Statement": [s]})
    })
}

fn identity_statement() -> impl Strategy<Value = Value> {
    (
        select(&["Allow", "Deny"][..]),
        subsequence(
            vec![
                "s3:GetObject",
                "s3:PutObject",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "cloudwatch:PutMetricData",
            ],
            1..=3,
        ),
        subsequence(
            vec![
                "*",
                "arn:aws:s3:::monitoring-lab-config-bucket/*",
                "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ec2/*",
            ],
            1..=2,
        ),
        prop::option::of(select(&["AllowWrites", "S1"][..])),
        condition(),
    )
        .prop_map(|(effect, actions, resources, sid, cond)| {
            let mut s = json!({"Effect": effect, "Action": actions, "Resource": resources});
            if let Some(id) = sid {
                s["Sid"] = json!(id);
            }
            if let Some(c) = cond {
                s["Condition"] = c;
            }
            s
        })
}

fn identity_policy() -> impl Strategy<Value = Value> {
    (
        vec(identity_statement(), 1..=2),
        select(&["2012-10-17", "2008-10-17"][..]),
    )
        .prop_map(|(mut statements, version)| {
            // Sids are unique within a policy.
            if statements.len() == 2 && statements[0].get("Sid") == statements[1].get("Sid") {
                statements[1].as_object_mut().unwrap().remove("Sid");
            }
            json!({"Version": version, "Statement": statements})
        })
}

// ---- Role ----

#[derive(Debug, Clone)]
pub struct RoleSem {
    pub name: String,
    pub trust: Value,
    pub description: String,
    pub path: String,
    pub max_session: i32,
    pub managed: Vec<String>,
    pub inline: BTreeMap<String, Value>,
    pub tags: Tags,
}

pub const MANAGED_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
];

pub fn role() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["ConfigServiceRole", "ec2-agent", "a.b@c+d=e,f"][..]),
        trust_policy(),
        select(&["", "Service role for AWS Config", "tabs\tand ~ marks"][..]),
        select(&["/", "/service-role/"][..]),
        select(&[3600, 7200, 43200][..]),
        subsequence(MANAGED_POLICIES.to_vec(), 0..=3),
        btree_map(
            select(&["Delivery", "Logs-Write", "s3.read"][..]).prop_map(str::to_string),
            identity_policy(),
            0..=2,
        ),
        tags(),
    )
        .prop_map(
            |(name, trust, description, path, max_session, managed, inline, tags)| RoleSem {
                name: name.into(),
                trust,
                description: description.into(),
                path: path.into(),
                max_session,
                managed: managed.into_iter().map(str::to_string).collect(),
                inline,
                tags,
            },
        );
    case(sem, |s| s.name.clone(), render_role)
}

fn render_role(s: &RoleSem, st: Style) -> Value {
    let inline = object(
        st,
        "inline",
        s.inline
            .iter()
            .map(|(k, v)| (k.as_str(), respell_policy(v, st.sub(k))))
            .collect(),
    );
    let o = Obj::new()
        .put(
            "assumeRolePolicy",
            respell_policy(&s.trust, st.sub("trust")),
        )
        .when(
            !s.description.is_empty() || st.coin("description"),
            "description",
            s.description.as_str(),
        )
        .when(s.path != "/" || st.coin("path"), "path", s.path.as_str())
        .when(
            s.max_session != 3600 || st.coin("max"),
            "maxSessionDuration",
            s.max_session,
        )
        .when(
            !s.managed.is_empty() || st.coin("managed[]"),
            "managedPolicyArns",
            json!(st.shuffled("managed", &s.managed)),
        )
        .when(
            !s.inline.is_empty() || st.coin("inline{}"),
            "inlinePolicies",
            inline,
        );
    plain_tags(o, &s.tags, st).done(st, "role")
}

// ---- Bucket ----

#[derive(Debug, Clone)]
pub struct BucketSem {
    pub name: String,
    pub versioning: Option<String>,
    /// Algorithm, KMS key, bucket key.
    pub encryption: Option<(String, Option<String>, bool)>,
    pub policy: Option<Value>,
    pub public_access_block: Option<[bool; 4]>,
    pub tags: Tags,
}

fn bucket_policy(name: &str) -> impl Strategy<Value = Value> + use<> {
    let bucket = format!("arn:aws:s3:::{name}");
    let objects = format!("arn:aws:s3:::{name}/*");
    (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(select(&["Allow Config", "AWSConfigBucketPermissionsCheck"][..])),
    )
        .prop_map(move |(delivery, account, sid)| {
            let principal = if account {
                json!({"AWS": [ACCOUNT]})
            } else {
                json!({"Service": ["config.amazonaws.com"]})
            };
            let mut check = json!({"Effect": "Allow", "Principal": principal.clone(),
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": [bucket.clone()]});
            if let Some(s) = sid {
                check["Sid"] = json!(s);
            }
            let mut statements = vec![check];
            if delivery {
                statements.push(json!({"Effect": "Allow", "Principal": principal,
                    "Action": ["s3:PutObject"], "Resource": [objects.clone()],
                    "Condition": {"StringEquals": {"s3:x-amz-acl": ["bucket-owner-full-control"]}}}));
            }
            json!({"Version": "2012-10-17", "Statement": statements})
        })
}

pub fn bucket() -> impl Strategy<Value = Case> {
    let sem = select(&["monitoring-lab-config-bucket", "a.b-c", "logs-123"][..]).prop_flat_map(
        |name| {
            (
                Just(name.to_string()),
                opt_string(&["Enabled", "Suspended"]),
                prop::option::of(prop_oneof![
                    any::<bool>().prop_map(|k| ("AES256".to_string(), None, k)),
                    (
                        select(&["aws:kms", "aws:kms:dsse"][..]),
                        opt_string(&[
                            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                            "alias/aws/s3",
                        ]),
                        any::<bool>(),
                    )
                        .prop_map(|(a, k, b)| (a.to_string(), k, b)),
                ]),
                prop::option::of(bucket_policy(name)),
                prop::option::of(any::<[bool; 4]>()),
                tags(),
            )
        },
    );
    let sem = sem.prop_map(
        |(name, versioning, encryption, policy, pab, tags)| BucketSem {
            name,
            versioning,
            encryption,
            policy,
            public_access_block: pab,
            tags,
        },
    );
    case(sem, |s| s.name.clone(), render_bucket)
}

fn render_bucket(s: &BucketSem, st: Style) -> Value {
    let encryption = s.encryption.as_ref().map(|(alg, key, bk)| {
        Obj::new()
            .put("sseAlgorithm", alg.as_str())
            .opt("kmsMasterKeyId", key.as_deref())
            .when(*bk || st.coin("bucketKey"), "bucketKeyEnabled", *bk)
            .done(st, "encryption")
    });
    let pab = s.public_access_block.map(|flags| {
        let names = [
            "blockPublicAcls",
            "ignorePublicAcls",
            "blockPublicPolicy",
            "restrictPublicBuckets",
        ];
        let mut o = Obj::new();
        for (k, on) in names.iter().zip(flags) {
            // Left out means false.
            o = o.when(on || st.coin(k), k, on);
        }
        o.done(st, "pab")
    });
    let o = Obj::new()
        .opt("versioning", s.versioning.as_deref())
        .opt("encryption", encryption)
        .opt(
            "policy",
            s.policy
                .as_ref()
                .map(|p| respell_policy(p, st.sub("policy"))),
        )
        .opt("publicAccessBlock", pab);
    plain_tags(o, &s.tags, st).done(st, "bucket")
}

// ---- Topic ----

#[derive(Debug, Clone)]
pub struct SubscriptionSem {
    pub protocol: String,
    pub endpoint: String,
    pub raw: Option<bool>,
    pub filter: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct TopicSem {
    pub name: String,
    pub display: String,
    pub delivery_policy: Option<Value>,
    pub signature: Option<u8>,
    pub subscriptions: Vec<SubscriptionSem>,
    pub tags: Tags,
}

fn subscription() -> impl Strategy<Value = SubscriptionSem> {
    (
        select(
            &[
                ("email", "ops@example.com"),
                ("email-json", "dev@example.com"),
                ("sqs", "arn:aws:sqs:us-east-1:123456789012:queue"),
                ("https", "https://example.com/hook"),
                ("lambda", "arn:aws:lambda:us-east-1:123456789012:function:f"),
            ][..],
        ),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            Just(json!({"severity": ["high", "critical"]})),
            Just(json!({"price": [{"numeric": [">=", 100]}]})),
        ]),
    )
        .prop_map(|((p, e), raw, filter)| {
            // Pending email subscriptions cannot be read back: they carry no attributes.
            let pending = p.starts_with("email");
            SubscriptionSem {
                protocol: p.into(),
                endpoint: e.into(),
                raw: if pending || p == "lambda" { None } else { raw },
                filter: if pending { None } else { filter },
            }
        })
}

pub fn topic() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["monitoring-lab-alerts", "ops_topic", "t-1"][..]),
        select(&["", "Lab Alerts", "ünïcode"][..]),
        prop::option::of(select(&[3, 5][..]).prop_map(|n| {
            json!({"http": {"defaultHealthyRetryPolicy": {"numRetries": n, "minDelayTarget": 20, "maxDelayTarget": 20}}})
        })),
        prop::option::of(select(&[1u8, 2][..])),
        vec(subscription(), 0..4),
        tags(),
    )
        .prop_map(|(name, display, dp, sig, subs, tags)| {
            let mut seen = std::collections::BTreeSet::new();
            let subscriptions = subs
                .into_iter()
                .filter(|s| seen.insert((s.protocol.clone(), s.endpoint.clone())))
                .collect();
            TopicSem {
                name: name.into(),
                display: display.into(),
                delivery_policy: dp,
                signature: sig,
                subscriptions,
                tags,
            }
        });
    case(sem, |s| s.name.clone(), render_topic)
}

/// A JSON attribute as a mapping, or as the JSON text AWS keeps.
fn json_attr(v: &Value, st: Style) -> Value {
    let v = respell(v, st);
    if st.coin("text") {
        Value::String(v.to_string())
    } else {
        v
    }
}

fn render_topic(s: &TopicSem, st: Style) -> Value {
    let mut attrs: Vec<(&str, Value)> = Vec::new();
    if let Some(p) = &s.delivery_policy {
        attrs.push(("DeliveryPolicy", json_attr(p, st.sub("dp"))));
    }
    if let Some(v) = s.signature {
        // SNS keeps every attribute as text; a number or a string says the same.
        let v = if st.coin("sig") {
            json!(v)
        } else {
            json!(v.to_string())
        };
        attrs.push(("SignatureVersion", v));
    }
    // The display name may go in its own field or among the attributes.
    let display_in_attrs = !s.display.is_empty() && st.coin("displayInAttrs");
    if display_in_attrs {
        attrs.push(("DisplayName", json!(s.display)));
    }
    let subs: Vec<Value> = s
        .subscriptions
        .iter()
        .map(|sub| {
            let ss = st.sub(&sub.endpoint);
            let mut a: Vec<(&str, Value)> = Vec::new();
            if let Some(r) = sub.raw {
                a.push((
                    "RawMessageDelivery",
                    if ss.coin("raw") {
                        json!(r)
                    } else {
                        json!(r.to_string())
                    },
                ));
            }
            if let Some(f) = &sub.filter {
                a.push(("FilterPolicy", json_attr(f, ss.sub("filter"))));
            }
            Obj::new()
                .put("protocol", sub.protocol.as_str())
                .put("endpoint", sub.endpoint.as_str())
                .when(
                    !a.is_empty() || ss.coin("attrs{}"),
                    "attributes",
                    object(ss, "attrs", a),
                )
                .done(ss, "sub")
        })
        .collect();
    let o = Obj::new()
        .when(
            !display_in_attrs && (!s.display.is_empty() || st.coin("display")),
            "displayName",
            s.display.as_str(),
        )
        .when(
            !attrs.is_empty() || st.coin("attrs{}"),
            "attributes",
            object(st, "attrs", attrs),
        )
        .when(
            !subs.is_empty() || st.coin("subs[]"),
            "subscriptions",
            json!(st.shuffled("subs", &subs)),
        );
    plain_tags(o, &s.tags, st).done(st, "topic")
}

// ---- LogGroup ----

pub const KMS_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

pub fn log_group() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["/aws/ec2/httpd/access_log", "app.v2#blue", "/a/b_c-d"][..]),
        prop::option::of(select(super::k::log_group::RETENTION_DAYS)),
        prop::option::of(Just(KMS_KEY.to_string())),
        tags(),
    );
    case(
        sem,
        |s| s.0.to_string(),
        |(_, retention, kms, tags), st| {
            let o = Obj::new()
                .opt("retentionInDays", *retention)
                .opt("kmsKeyId", kms.as_deref());
            plain_tags(o, tags, st).done(st, "group")
        },
    )
}

// ---- MetricFilter ----

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

pub fn metric_filter() -> impl Strategy<Value = Case> {
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

// ---- QueryDefinition ----

pub fn query_definition() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["Top Error Messages", "lab/slow requests", "q"][..]),
        subsequence(
            vec![
                "fields @timestamp, @message",
                "| filter @message like /ERROR/",
                "| stats count() by @message",
                "| sort @timestamp desc",
                "| limit 20",
            ],
            1..=5,
        ),
        subsequence(
            vec![
                "/aws/ec2/httpd/error_log",
                "/aws/ec2/httpd/access_log",
                "app.v2#blue",
            ],
            0..=3,
        ),
    );
    case(
        sem,
        |s| s.0.to_string(),
        |(_, lines, groups), st| {
            // Indented as in a YAML block or a Python string, with blank lines around.
            let indent = if st.coin("indent") { "    " } else { "" };
            let mut text: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let extra = if st.coin(&format!("extra{i}")) {
                        "  "
                    } else {
                        ""
                    };
                    let trail = if st.coin(&format!("trail{i}")) {
                        "  "
                    } else {
                        ""
                    };
                    format!("{indent}{extra}{l}{trail}")
                })
                .collect();
            if st.coin("lead") {
                text.insert(0, String::new());
            }
            if st.coin("end") {
                text.push(indent.to_string());
            }
            let mut groups: Vec<&str> = groups.clone();
            if !groups.is_empty() && st.coin("dup") {
                groups.push(groups[0]);
            }
            Obj::new()
                .put("queryString", text.join("\n"))
                .when(
                    !groups.is_empty() || st.coin("groups[]"),
                    "logGroupNames",
                    json!(st.shuffled("groups", &groups)),
                )
                .done(st, "query")
        },
    )
}

// ---- AgentConfig ----

fn agent_document() -> impl Strategy<Value = Value> {
    (
        prop::option::of(select(&[10, 60][..])),
        prop::option::of(subsequence(vec!["cpu_usage_idle", "cpu_usage_user", "cpu_usage_system"], 1..=3)),
        any::<bool>(),
        prop::option::of(subsequence(
            vec!["/var/log/httpd/access_log", "/var/log/httpd/error_log"],
            1..=2,
        )),
    )
        .prop_map(|(interval, cpu, mem, files)| {
            let mut doc = Map::new();
            if let Some(i) = interval {
                doc.insert(
                    "agent".into(),
                    json!({"metrics_collection_interval": i, "run_as_user": "cwagent"}),
                );
            }
            let mut collected = Map::new();
            if let Some(m) = cpu {
                collected.insert(
                    "cpu".into(),
                    json!({"measurement": m, "totalcpu": false, "metrics_collection_interval": 60}),
                );
            }
            if mem || (collected.is_empty() && files.is_none()) {
                collected.insert(
                    "mem".into(),
                    json!({"measurement": ["mem_used_percent"], "metrics_collection_interval": 60.5}),
                );
            }
            if !collected.is_empty() {
                doc.insert(
                    "metrics".into(),
                    json!({"namespace": "CWAgent", "metrics_collected": collected}),
                );
            }
            if let Some(f) = files {
                let list: Vec<Value> = f
                    .iter()
                    .map(|p| json!({"file_path": p, "log_group_name": format!("/aws/ec2/httpd/{}", p.rsplit('/').next().unwrap_or("log")), "log_stream_name": "{instance_id}", "retention_in_days": 30}))
                    .collect();
                doc.insert(
                    "logs".into(),
                    json!({"logs_collected": {"files": {"collect_list": list}}}),
                );
            }
            Value::Object(doc)
        })
}

pub fn agent_config() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["AmazonCloudWatch-monitoring-lab", "AmazonCloudWatch-a.b_c"][..]),
        agent_document(),
        opt_string(&["", "CloudWatch agent configuration"]),
        opt_string(&["Standard", "Advanced", "Intelligent-Tiering"]),
        tags(),
    );
    case(
        sem,
        |s| s.0.to_string(),
        |(_, doc, description, tier, tags), st| {
            let o = Obj::new()
                .put("config", respell(doc, st.sub("config")))
                .opt("description", description.as_deref())
                .opt("tier", tier.as_deref());
            plain_tags(o, tags, st).done(st, "agent")
        },
    )
}

// ---- AWS Config ----

pub const RESOURCE_TYPES: &[&str] = &[
    "AWS::EC2::Instance",
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::RDS::DBInstance",
];

fn resource_types() -> impl Strategy<Value = Vec<String>> {
    subsequence(RESOURCE_TYPES.to_vec(), 1..=3)
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

/// A set of strings in any order, an item sometimes repeated.
fn set_value(v: &[String], st: Style, what: &str) -> Value {
    let mut items = v.to_vec();
    if !items.is_empty() && st.coin(&format!("{what}.dup")) {
        items.push(items[0].clone());
    }
    json!(st.shuffled(what, &items))
}

#[derive(Debug, Clone)]
pub enum RecordingGroupSem {
    Default,
    All { include_global: bool },
    Include(Vec<String>),
    Exclude(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct RecorderSem {
    pub name: String,
    pub group: RecordingGroupSem,
    /// None: continuous without overrides.
    pub daily: Option<Vec<(String, Vec<String>, String)>>,
    pub recording: Option<bool>,
}

pub fn config_recorder() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["default", "lab recorder"][..]),
        prop_oneof![
            Just(RecordingGroupSem::Default),
            any::<bool>().prop_map(|g| RecordingGroupSem::All { include_global: g }),
            resource_types().prop_map(RecordingGroupSem::Include),
            resource_types().prop_map(RecordingGroupSem::Exclude),
        ],
        prop::option::of(vec(
            (
                select(&["", "instances daily"][..]).prop_map(str::to_string),
                resource_types(),
                select(&["CONTINUOUS", "DAILY"][..]).prop_map(str::to_string),
            ),
            0..=2,
        )),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(name, group, daily, recording)| RecorderSem {
            name: name.into(),
            group,
            daily,
            recording,
        });
    case(sem, |s| s.name.clone(), render_recorder)
}

fn render_recorder(s: &RecorderSem, st: Style) -> Value {
    let strategy = |o: Obj, what: &str, must: bool| {
        o.when(
            must || st.coin("strategy"),
            "recordingStrategy",
            json!({"useOnly": what}),
        )
    };
    let group = match &s.group {
        RecordingGroupSem::Default => (st.coin("group")).then(|| {
            let o = Obj::new().put("allSupported", true).when(
                st.coin("global"),
                "includeGlobalResourceTypes",
                false,
            );
            strategy(o, "ALL_SUPPORTED_RESOURCE_TYPES", false).done(st, "group")
        }),
        RecordingGroupSem::All { include_global } => {
            let o = Obj::new().put("allSupported", true).when(
                *include_global || st.coin("global"),
                "includeGlobalResourceTypes",
                *include_global,
            );
            Some(strategy(o, "ALL_SUPPORTED_RESOURCE_TYPES", false).done(st, "group"))
        }
        RecordingGroupSem::Include(types) => {
            let o = Obj::new()
                .when(st.coin("all"), "allSupported", false)
                .put("resourceTypes", set_value(types, st, "types"));
            Some(strategy(o, "INCLUSION_BY_RESOURCE_TYPES", false).done(st, "group"))
        }
        RecordingGroupSem::Exclude(types) => {
            let o = Obj::new().when(st.coin("all"), "allSupported", false).put(
                "exclusionByResourceTypes",
                json!({"resourceTypes": set_value(types, st, "types")}),
            );
            Some(strategy(o, "EXCLUSION_BY_RESOURCE_TYPES", true).done(st, "group"))
        }
    };
    let mode = match &s.daily {
        None => st.coin("mode").then(|| {
            Obj::new()
                .put("recordingFrequency", "CONTINUOUS")
                .when(st.coin("overrides"), "recordingModeOverrides", json!([]))
                .done(st, "mode")
        }),
        Some(overrides) => {
            let list: Vec<Value> = overrides
                .iter()
                .enumerate()
                .map(|(i, (d, types, f))| {
                    let os = st.sub(&i.to_string());
                    Obj::new()
                        .when(!d.is_empty() || os.coin("d"), "description", d.as_str())
                        .put("resourceTypes", set_value(types, os, "types"))
                        .put("recordingFrequency", f.as_str())
                        .done(os, "override")
                })
                .collect();
            Some(
                Obj::new()
                    .put("recordingFrequency", "DAILY")
                    .when(
                        !list.is_empty() || st.coin("overrides"),
                        "recordingModeOverrides",
                        json!(st.shuffled("overrides", &list)),
                    )
                    .done(st, "mode"),
            )
        }
    };
    // AWS spells the member roleARN; both are accepted.
    let role_key = if st.coin("roleARN") {
        "roleARN"
    } else {
        "roleArn"
    };
    Obj::new()
        .put(
            role_key,
            format!("arn:aws:iam::{ACCOUNT}:role/ConfigServiceRole"),
        )
        .opt("recordingGroup", group)
        .opt("recordingMode", mode)
        .opt("recording", s.recording)
        .done(st, "recorder")
}

#[derive(Debug, Clone)]
pub struct ChannelSem {
    pub name: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub kms: Option<String>,
    pub sns: Option<String>,
    pub frequency: String,
}

pub fn delivery_channel() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["default", "lab channel"][..]),
        select(&["monitoring-lab-config-bucket", "a.b-c"][..]),
        opt_string(&["config", "a/b"]),
        prop::option::of(Just(KMS_KEY.to_string())),
        prop::option::of(Just(arn("sns", "monitoring-lab-alerts"))),
        select(&["TwentyFour_Hours", "One_Hour", "Six_Hours"][..]),
    )
        .prop_map(|(name, bucket, prefix, kms, sns, f)| ChannelSem {
            name: name.into(),
            bucket: bucket.into(),
            prefix,
            kms,
            sns,
            frequency: f.into(),
        });
    case(
        sem,
        |s| s.name.clone(),
        |s, st| {
            let props = (s.frequency != "TwentyFour_Hours" || st.coin("props")).then(|| {
                Obj::new()
                    .when(
                        s.frequency != "TwentyFour_Hours" || st.coin("freq"),
                        "deliveryFrequency",
                        s.frequency.as_str(),
                    )
                    .done(st, "props")
            });
            let sns_key = if st.coin("snsTopicARN") {
                "snsTopicARN"
            } else {
                "snsTopicArn"
            };
            Obj::new()
                .put("s3BucketName", s.bucket.as_str())
                .opt("s3KeyPrefix", s.prefix.as_deref())
                .opt("s3KmsKeyArn", s.kms.as_deref())
                .opt(sns_key, s.sns.as_deref())
                .opt("configSnapshotDeliveryProperties", props)
                .done(st, "channel")
        },
    )
}

#[derive(Debug, Clone)]
pub enum RuleSource {
    Managed {
        id: String,
        params: Option<Vec<(String, Value)>>,
        periodic: bool,
    },
    Lambda {
        arn: String,
        triggers: Vec<(String, Option<String>)>,
    },
    Guard {
        text: String,
        debug: bool,
    },
}

#[derive(Debug, Clone)]
pub enum ScopeSem {
    Types(Vec<String>),
    Tag(String, Option<String>),
    Resource(String, String),
}

#[derive(Debug, Clone)]
pub struct RuleSem {
    pub name: String,
    pub description: String,
    pub source: RuleSource,
    pub scope: Option<ScopeSem>,
    pub frequency: Option<String>,
    pub modes: Vec<String>,
    pub tags: Option<Tags>,
}

fn rule_source() -> impl Strategy<Value = RuleSource> {
    let managed = select(
        &[
            ("ACCESS_KEYS_ROTATED", 1, true),
            ("IAM_PASSWORD_POLICY", 2, true),
            ("S3_BUCKET_VERSIONING_ENABLED", 0, false),
            ("ROOT_ACCOUNT_MFA_ENABLED", 0, true),
            ("REQUIRED_TAGS", 3, false),
        ][..],
    )
    .prop_map(|(id, params, periodic)| {
        let params = match params {
            1 => Some(vec![("maxAccessKeyAge".to_string(), json!(90))]),
            2 => Some(vec![
                ("RequireUppercaseCharacters".to_string(), json!("true")),
                ("MinimumPasswordLength".to_string(), json!(14)),
            ]),
            3 => Some(vec![("tag1Key".to_string(), json!("team"))]),
            _ => None,
        };
        RuleSource::Managed {
            id: id.into(),
            params,
            periodic,
        }
    });
    let lambda = subsequence(
        vec![
            ("ConfigurationItemChangeNotification", None),
            ("OversizedConfigurationItemChangeNotification", None),
            ("ScheduledNotification", Some("TwentyFour_Hours")),
            ("ScheduledNotification", Some("One_Hour")),
        ],
        1..=3,
    )
    .prop_map(|t| RuleSource::Lambda {
        arn: arn("lambda", "function:config-check"),
        triggers: t
            .into_iter()
            .map(|(m, f)| (m.to_string(), f.map(str::to_string)))
            .collect(),
    });
    let guard = (
        select(
            &[
                "rule check_versioning { supplementaryConfiguration.BucketVersioningConfiguration.status == \"Enabled\" }",
                "rule tags { tags[*] !empty }",
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(|(t, debug)| RuleSource::Guard {
            text: t.into(),
            debug,
        });
    prop_oneof![managed, lambda, guard]
}

pub fn config_rule() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["access-keys-rotated", "lab rule", "r"][..]),
        select(&["", "Checks what the lab needs"][..]),
        rule_source(),
        prop::option::of(prop_oneof![
            resource_types().prop_map(ScopeSem::Types),
            (select(&["team", "env"][..]), opt_string(&["ops", ""]),)
                .prop_map(|(k, v)| ScopeSem::Tag(k.into(), v)),
            Just(ScopeSem::Resource(
                "AWS::S3::Bucket".into(),
                "monitoring-lab-config-bucket".into()
            )),
        ]),
        opt_string(&["One_Hour", "TwentyFour_Hours", "Twelve_Hours"]),
        subsequence(vec!["DETECTIVE", "PROACTIVE"], 0..=2),
        opt_tags(),
    )
        .prop_map(
            |(name, description, source, scope, frequency, modes, tags)| {
                let periodic = matches!(source, RuleSource::Managed { periodic: true, .. });
                RuleSem {
                    name: name.into(),
                    description: description.into(),
                    source,
                    scope,
                    // Only periodic rules take a frequency.
                    frequency: if periodic { frequency } else { None },
                    modes: modes.into_iter().map(str::to_string).collect(),
                    tags,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_rule)
}

/// An input parameter written as AWS keeps it (text) or as YAML would (number, boolean).
fn param(v: &Value, st: Style) -> Value {
    match v {
        Value::Number(n) => match *st.pick("param", &[0, 1, 2]) {
            0 => json!(n.to_string()),
            1 => st.num("n", n.as_f64().unwrap_or_default()),
            _ => json!(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) if (s == "true" || s == "false") && st.coin("bool") => json!(s == "true"),
        other => other.clone(),
    }
}

fn render_rule(s: &RuleSem, st: Style) -> Value {
    let source = match &s.source {
        RuleSource::Managed { id, .. } => Obj::new()
            .put("owner", "AWS")
            .put("sourceIdentifier", id.as_str()),
        RuleSource::Lambda { arn, triggers } => {
            let list: Vec<Value> = triggers
                .iter()
                .enumerate()
                .map(|(i, (m, f))| {
                    let ts = st.sub(&format!("t{i}"));
                    let default_f = m == "ScheduledNotification"
                        && f.as_deref() == Some("TwentyFour_Hours")
                        && ts.coin("f");
                    Obj::new()
                        .when(ts.coin("src"), "eventSource", "aws.config")
                        .put("messageType", m.as_str())
                        .opt(
                            "maximumExecutionFrequency",
                            f.as_deref().filter(|_| !default_f),
                        )
                        .done(ts, "trigger")
                })
                .collect();
            Obj::new()
                .put("owner", "CUSTOM_LAMBDA")
                .put("sourceIdentifier", arn.as_str())
                .put("sourceDetails", json!(st.shuffled("triggers", &list)))
        }
        RuleSource::Guard { text, debug } => {
            let text = if st.coin("nl") {
                format!("{text}\n")
            } else {
                text.clone()
            };
            let details = Obj::new()
                .put("policyRuntime", "guard-2.x.x")
                .put("policyText", text)
                .when(*debug || st.coin("debug"), "enableDebugLogDelivery", *debug)
                .done(st, "details");
            Obj::new()
                .put("owner", "CUSTOM_POLICY")
                .put("customPolicyDetails", details)
                .put(
                    "sourceDetails",
                    json!([{"messageType": "ConfigurationItemChangeNotification"}]),
                )
        }
    }
    .done(st, "source");
    let params = match &s.source {
        RuleSource::Managed {
            params: Some(p), ..
        } => Some(object(
            st,
            "params",
            p.iter()
                .map(|(k, v)| (k.as_str(), param(v, st.sub(k))))
                .collect(),
        )),
        // An empty mapping is no parameters at all.
        _ => st.coin("params{}").then(|| json!({})),
    };
    let scope = match &s.scope {
        None => st.coin("scope{}").then(|| json!({})),
        Some(ScopeSem::Types(t)) => {
            Some(json!({"complianceResourceTypes": set_value(t, st, "scope")}))
        }
        Some(ScopeSem::Tag(k, v)) => Some(
            Obj::new()
                .put("tagKey", k.as_str())
                .opt("tagValue", v.as_deref())
                .done(st, "scope"),
        ),
        Some(ScopeSem::Resource(t, id)) => Some(
            Obj::new()
                .put("complianceResourceTypes", json!([t]))
                .put("complianceResourceId", id.as_str())
                .done(st, "scope"),
        ),
    };
    // Detective only is what AWS does when no mode is given.
    let modes: Vec<Value> = if s.modes == ["DETECTIVE"] && st.coin("modes") {
        Vec::new()
    } else {
        s.modes.iter().map(|m| json!({"mode": m})).collect()
    };
    let o = Obj::new()
        .when(
            !s.description.is_empty() || st.coin("description"),
            "description",
            s.description.as_str(),
        )
        .put("source", source)
        .opt("inputParameters", params)
        .opt("scope", scope)
        .opt("maximumExecutionFrequency", s.frequency.as_deref())
        .when(
            !modes.is_empty() || st.coin("modes[]"),
            "evaluationModes",
            json!(st.shuffled("modes", &modes)),
        );
    opt_tags_field(o, &s.tags, st).done(st, "rule")
}

// ---- Stack ----

#[derive(Debug, Clone)]
pub struct StackSem {
    pub name: String,
    pub topic: bool,
    pub log_group: bool,
    /// The topic name's default, and the value given (if any).
    pub topic_name: (Option<String>, Option<String>),
    /// Retention: default, value given.
    pub retention: (Option<i64>, Option<i64>),
    pub secret: bool,
    pub tags: Option<Tags>,
    pub protection: bool,
}

pub fn stack() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["app", "monitoring-infra", "s-1"][..]),
        prop_oneof![Just((true, false)), Just((false, true)), Just((true, true))],
        (
            opt_string(&["web-a", "alerts"]),
            opt_string(&["web-a", "web-b"]),
        ),
        (
            prop::option::of(select(&[7i64, 30][..])),
            prop::option::of(select(&[7i64, 14][..])),
        ),
        any::<bool>(),
        opt_tags(),
        any::<bool>(),
    )
        .prop_map(
            |(name, (topic, log_group), mut tn, mut rt, secret, tags, protection)| {
                // A parameter without a default needs a value.
                if tn.0.is_none() && tn.1.is_none() {
                    tn.1 = Some("web-c".into());
                }
                if rt.0.is_none() && rt.1.is_none() {
                    rt.1 = Some(3);
                }
                StackSem {
                    name: name.into(),
                    topic,
                    log_group,
                    topic_name: tn,
                    retention: rt,
                    secret,
                    tags,
                    protection,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_stack)
}

fn render_stack(s: &StackSem, st: Style) -> Value {
    let yaml = st.coin("yaml");
    let mut params = Obj::new();
    let mut resources = Obj::new();
    let mut outputs = Obj::new();
    let mut text = String::from("AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n");
    if s.topic {
        let p = Obj::new()
            .put("Type", "String")
            .opt("Default", s.topic_name.0.as_deref())
            .done(st, "p1");
        params = params.put("TopicName", p);
        text += "  TopicName:\n    Type: String\n";
        if let Some(d) = &s.topic_name.0 {
            text += &format!("    Default: {d}\n");
        }
    }
    if s.log_group {
        let p = Obj::new()
            .put("Type", "Number")
            .opt("Default", s.retention.0)
            .done(st, "p2");
        params = params.put("Retention", p);
        text += "  Retention:\n    Type: Number\n";
        if let Some(d) = s.retention.0 {
            text += &format!("    Default: {d}\n");
        }
    }
    if s.secret {
        params = params.put(
            "Token",
            json!({"Type": "String", "NoEcho": true, "Default": "hunter2"}),
        );
        text += "  Token:\n    Type: String\n    NoEcho: true\n    Default: hunter2\n";
    }
    text += "Resources:\n";
    if s.topic {
        resources = resources.put(
            "Topic",
            json!({"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "TopicName"}}}),
        );
        text += "  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Ref TopicName\n";
        // The text form writes `!GetAtt Topic.TopicName`, the same in short.
        outputs = outputs.put(
            "TopicName",
            json!({"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}}),
        );
    }
    if s.log_group {
        resources = resources.put(
            "Logs",
            json!({"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": {"Ref": "Retention"}}}),
        );
        text += "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: !Ref Retention\n";
        outputs = outputs.put("LogGroup", json!({"Value": {"Ref": "Logs"}}));
    }
    text += "Outputs:\n";
    if s.topic {
        text += "  TopicName:\n    Value: !GetAtt Topic.TopicName\n";
    }
    if s.log_group {
        text += "  LogGroup:\n    Value: !Ref Logs\n";
    }
    let template = if yaml {
        Value::String(text)
    } else {
        Obj::new()
            .put("AWSTemplateFormatVersion", "2010-09-09")
            .put("Parameters", params.done(st, "params"))
            .put("Resources", resources.done(st, "resources"))
            .put("Outputs", outputs.done(st, "outputs"))
            .done(st, "template")
    };
    // A value equal to the default may be given or left out; numbers as text or not.
    let mut values = Obj::new();
    if s.topic {
        let v = s
            .topic_name
            .1
            .clone()
            .or_else(|| st.coin("tn").then(|| s.topic_name.0.clone()).flatten());
        values = values.opt("TopicName", v);
    }
    if s.log_group {
        let v = s
            .retention
            .1
            .or_else(|| st.coin("rt").then_some(s.retention.0).flatten());
        values = values.opt(
            "Retention",
            v.map(|n| {
                if st.coin("rtn") {
                    json!(n)
                } else {
                    json!(n.to_string())
                }
            }),
        );
    }
    let values = values.done(st, "values");
    let tags = match &s.tags {
        // Stack tags left out are none.
        Some(t) if t.is_empty() && st.coin("tags") => None,
        other => other.clone(),
    };
    Obj::new()
        .put("template", template)
        .when(
            values.as_object().is_some_and(|m| !m.is_empty()) || st.coin("params{}"),
            "parameters",
            values,
        )
        .opt("tags", tags.map(|t| tags_value(&t, st)))
        .when(
            s.protection || st.coin("tp"),
            "terminationProtection",
            s.protection,
        )
        .done(st, "stack")
}
