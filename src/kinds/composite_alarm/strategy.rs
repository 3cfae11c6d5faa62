//! The composite_alarm kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct CompositeSem {
    pub name: String,
    pub rule: String,
    pub description: Option<String>,
    pub actions: AlarmActions,
    pub suppressor: Option<(String, i32, i32)>,
    pub tags: Option<Tags>,
}

pub fn strategy() -> impl Strategy<Value = Case> {
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

// ---- What AWS answers ----

pub fn live(name: &str, s: &composite_alarm::Spec, st: Style, env: &Env) -> composite_alarm::Live {
    let suppressed = s.actions_suppressor.is_some();
    // AWS fills both periods in (60 s) once a suppressor is set.
    let period = |p: Option<i32>| {
        if suppressed { Some(p.unwrap_or(60)) } else { p }
    };
    let a = aws_sdk_cloudwatch::types::CompositeAlarm::builder()
        .alarm_name(name)
        .alarm_arn(metric_alarm::alarm_arn(env, name))
        .alarm_rule(s.alarm_rule.trim())
        .set_alarm_description(s.alarm_description.clone())
        .actions_enabled(s.actions_enabled.unwrap_or(true))
        .set_ok_actions(Some(shuffled(st, "ok", &s.ok_actions)))
        .set_alarm_actions(Some(shuffled(st, "alarm", &s.alarm_actions)))
        .set_insufficient_data_actions(Some(shuffled(st, "ins", &s.insufficient_data_actions)))
        .set_actions_suppressor(maybe_empty(st, "sup", s.actions_suppressor.as_deref()))
        .set_actions_suppressor_wait_period(period(s.actions_suppressor_wait_period))
        .set_actions_suppressor_extension_period(period(s.actions_suppressor_extension_period))
        .build();
    let mut spec = composite_alarm::spec_from_live(&a);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    composite_alarm::Live {
        name: name.into(),
        arn: metric_alarm::alarm_arn(env, name),
        spec,
    }
}

pub fn imported(s: &composite_alarm::Spec) -> composite_alarm::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    if s.actions_suppressor.is_some() {
        s.actions_suppressor_wait_period.get_or_insert(60);
        s.actions_suppressor_extension_period.get_or_insert(60);
    }
    s
}
