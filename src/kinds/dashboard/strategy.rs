//! The dashboard kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::*;
use crate::testkit::strategy::*;

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

pub fn strategy() -> impl Strategy<Value = Case> {
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

// ---- What AWS answers ----

pub fn live(name: &str, s: &dashboard::Spec, st: Style, env: &Env) -> dashboard::Live {
    // GetDashboard returns the body as text, re-serialized: keys and numbers its own way.
    let text = respell(s.body.as_ref().unwrap_or(&Value::Null), st).to_string();
    dashboard::Live {
        arn: dashboard::dashboard_arn(env, name),
        body: serde_json::from_str(&text).expect("json"),
    }
}

/// Import carries the whole spec over.
pub fn imported(s: &dashboard::Spec) -> dashboard::Spec {
    s.clone()
}
