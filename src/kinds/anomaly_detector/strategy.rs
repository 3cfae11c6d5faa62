//! The anomaly_detector kind's property strategy ([`strategy`]: valid specs, each
//! written two ways), what AWS answers once one is applied ([`live`]) and what
//! import carries over ([`imported`]). The properties are in `crate::testkit::props`.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::{Spec, canonical};
use crate::aws::Env;
use crate::kinds::*;
use crate::testkit::strategy::{Tags, *};

#[derive(Debug, Clone)]
pub enum Source {
    Single {
        namespace: String,
        metric: String,
        dims: Tags,
        stat: String,
    },
    /// (namespace, metric, stat) of m1, and the expression's multiplier.
    Math { metric: String, stat: String },
}

#[derive(Debug, Clone)]
pub struct Sem {
    pub name: String,
    pub source: Source,
    /// (start hour, length in hours) on 2026-01-0N.
    pub ranges: Vec<(u32, u32, u32)>,
    pub timezone: Option<String>,
    pub speed: Option<String>,
    pub filtering: Option<String>,
    pub spikes: Option<bool>,
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        (
            select(&["MonitoringLab/Application", "AWS/EC2", "Custom/App"][..]),
            select(&["ResponseTime", "CPUUtilization", "Latency"][..]),
            prop::collection::btree_map(
                select(&["Environment", "InstanceId", "Service"][..]).prop_map(String::from),
                select(&["lab", "i-0abc", "api"][..]).prop_map(String::from),
                0..3
            ),
            select(
                &[
                    "Average",
                    "Sum",
                    "p99",
                    "p99.9",
                    "tm90",
                    "TM(10%:90%)",
                    "IQM"
                ][..]
            ),
        )
            .prop_map(|(n, m, dims, s)| Source::Single {
                namespace: n.into(),
                metric: m.into(),
                dims,
                stat: s.into(),
            }),
        (
            select(&["Requests", "Errors"][..]),
            select(&["Sum", "Average"][..])
        )
            .prop_map(|(m, s)| Source::Math {
                metric: m.into(),
                stat: s.into(),
            }),
    ]
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["lab-response-time", "cpu band", "api_latency"][..]),
        source(),
        vec((1..9u32, 0..20u32, 1..4u32), 0..3),
        prop::option::of(select(&["UTC", "Asia/Tokyo", "America/New_York"][..])),
        prop::option::of(select(&["FAST", "NORMAL", "SLOW"][..])),
        prop::option::of(select(&["MINIMAL", "MODERATE", "STRICT"][..])),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(name, source, ranges, tz, speed, filt, spikes)| Sem {
            name: name.into(),
            source,
            ranges,
            timezone: tz.map(String::from),
            speed: speed.map(String::from),
            filtering: filt.map(String::from),
            spikes,
        });
    case(sem, |s| s.name.clone(), render)
}

fn time(day: u32, hour: u32, st: Style, what: &str) -> String {
    let t = format!("2026-01-{day:02}T{hour:02}:00:00");
    if st.coin(what) { format!("{t}Z") } else { t }
}

fn render(s: &Sem, st: Style) -> Value {
    let o = match &s.source {
        Source::Single {
            namespace,
            metric,
            dims,
            stat,
        } => Obj::new()
            .put("namespace", namespace.as_str())
            .put("metricName", metric.as_str())
            .when(
                !dims.is_empty() || st.coin("dims"),
                "dimensions",
                dims_value(dims, st),
            )
            .put("stat", stat.as_str()),
        Source::Math { metric, stat } => {
            let m1 = Obj::new()
                .put("id", "m1")
                .put(
                    "metricStat",
                    json!({"metric": {"namespace": "Custom/App", "metricName": metric},
                           "period": 300, "stat": stat}),
                )
                .put("returnData", false)
                .done(st, "m1");
            let e1 = Obj::new()
                .put("id", "e1")
                .put("expression", "RATE(m1)")
                .when(st.coin("rd"), "returnData", true)
                .done(st, "e1");
            Obj::new().put("metricDataQueries", json!([m1, e1]))
        }
    };
    let ranges: Vec<Value> = st
        .shuffled("ranges", &s.ranges)
        .iter()
        .enumerate()
        .map(|(i, (day, h, len))| {
            json!({
                "startTime": time(*day, *h, st, &format!("s{i}")),
                "endTime": time(*day, *h + *len, st, &format!("e{i}")),
            })
        })
        .collect();
    let config = Obj::new()
        .when(
            !ranges.is_empty() || st.coin("empty-ranges"),
            "excludedTimeRanges",
            json!(ranges),
        )
        .opt("metricTimezone", s.timezone.clone())
        .opt("adaptationSpeed", s.speed.clone())
        .opt("outlierFilteringStrength", s.filtering.clone())
        .done(st, "config");
    let has_config =
        !s.ranges.is_empty() || s.timezone.is_some() || s.speed.is_some() || s.filtering.is_some();
    o.when(has_config || st.coin("config"), "configuration", config)
        .opt(
            "metricCharacteristics",
            s.spikes.map(|b| json!({"periodicSpikes": b})),
        )
        .done(st, "detector")
}

// ---- What AWS answers ----

/// DescribeAnomalyDetectors reports the detector with its defaults filled in
/// and its times as timestamps (read back in UTC with a `Z`).
pub fn live(name: &str, s: &Spec, st: Style, _env: &Env) -> anomaly_detector::Live {
    let mut spec = canonical(s);
    // Some answers leave the defaults out.
    if st.coin("bare") {
        if let Some(c) = spec.configuration.as_mut() {
            if c.metric_timezone.as_deref() == Some("UTC") {
                c.metric_timezone = None;
            }
            if c.adaptation_speed.as_deref() == Some("NORMAL") {
                c.adaptation_speed = None;
            }
            if c.outlier_filtering_strength.as_deref() == Some("MODERATE") {
                c.outlier_filtering_strength = None;
            }
        }
        if spec
            .metric_characteristics
            .as_ref()
            .is_some_and(|m| m.periodic_spikes == Some(false))
        {
            spec.metric_characteristics = None;
        }
    }
    anomaly_detector::Live {
        name: name.into(),
        id: Some("ad-1".into()),
        spec,
        state: Some("TRAINED".into()),
    }
}

/// Import carries the whole spec over.
pub fn imported(s: &Spec) -> Spec {
    s.clone()
}
