//! `CompositeAlarm`: a CloudWatch alarm whose rule combines other alarms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::alarms_walk::{AlarmPages, alarms_listed, wanted_alarms};
use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::metric_alarm::{TAGS, sdk_tags, validate_actions};
use super::tags::{TagApi, Tags, with_owner};
use crate::aws::{Aws, AwsResultExt, Env};

const SERVICE: &str = "cloudwatch";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// For example `ALARM("${MetricAlarm/HighCPUUtilization.name}") OR ALARM(Other)`;
    /// a reference orders the composite after the alarms it names.
    pub alarm_rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    #[serde(default, rename = "okActions", skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insufficient_data_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_suppressor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_suppressor_wait_period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_suppressor_extension_period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub spec: Spec,
}

pub fn canonical(spec: &Spec, tags: Option<&BTreeMap<String, String>>) -> Value {
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    let mut v = json!({
        "alarmRule": spec.alarm_rule.trim(),
        "actionsEnabled": spec.actions_enabled.unwrap_or(true),
        "okActions": sorted(&spec.ok_actions),
        "alarmActions": sorted(&spec.alarm_actions),
        "insufficientDataActions": sorted(&spec.insufficient_data_actions),
    });
    let m = v.as_object_mut().expect("object");
    // AWS reports an empty description as none.
    if let Some(d) = spec.alarm_description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("alarmDescription".into(), json!(d));
    }
    if let Some(s) = &spec.actions_suppressor {
        m.insert("actionsSuppressor".into(), json!(s));
        // AWS defaults both periods to 60 seconds when a suppressor is set.
        m.insert(
            "actionsSuppressorWaitPeriod".into(),
            json!(spec.actions_suppressor_wait_period.unwrap_or(60)),
        );
        m.insert(
            "actionsSuppressorExtensionPeriod".into(),
            json!(spec.actions_suppressor_extension_period.unwrap_or(60)),
        );
    }
    if let Some(t) = tags {
        m.insert("tags".into(), json!(t));
    }
    v
}

pub(crate) fn spec_from_live(a: &aws_sdk_cloudwatch::types::CompositeAlarm) -> Spec {
    Spec {
        alarm_rule: a.alarm_rule().unwrap_or_default().to_string(),
        alarm_description: a
            .alarm_description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        actions_enabled: a.actions_enabled(),
        ok_actions: a.ok_actions().to_vec(),
        alarm_actions: a.alarm_actions().to_vec(),
        insufficient_data_actions: a.insufficient_data_actions().to_vec(),
        actions_suppressor: a
            .actions_suppressor()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        actions_suppressor_wait_period: a.actions_suppressor_wait_period(),
        actions_suppressor_extension_period: a.actions_suppressor_extension_period(),
        tags: None,
    }
}

pub struct CompositeAlarm;

impl Kind for CompositeAlarm {
    const NAME: &'static str = "CompositeAlarm";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 255, "alarm")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        let rule = s.alarm_rule.trim();
        if rule.is_empty() {
            issues.at(
                "alarmRule",
                "alarmRule must not be empty; for example ALARM(HighCPUUtilization)",
            );
        } else if rule.len() > 10240 {
            issues.at(
                "alarmRule",
                "alarmRule is longer than the 10240 characters AWS allows",
            );
        } else if !["ALARM(", "OK(", "INSUFFICIENT_DATA(", "TRUE", "FALSE"]
            .iter()
            .any(|f| rule.contains(f))
        {
            issues.at(
                "alarmRule",
                "alarmRule names no alarm; use ALARM(name), OK(name) or INSUFFICIENT_DATA(name)",
            );
        }
        if rule.matches('(').count() != rule.matches(')').count() {
            issues.at(
                "alarmRule",
                "alarmRule has unbalanced parentheses; close every ( with a )",
            );
        }
        if s.actions_suppressor.is_none()
            && (s.actions_suppressor_wait_period.is_some()
                || s.actions_suppressor_extension_period.is_some())
        {
            let period = if s.actions_suppressor_wait_period.is_some() {
                "actionsSuppressorWaitPeriod"
            } else {
                "actionsSuppressorExtensionPeriod"
            };
            issues.at(
                period,
                "actionsSuppressorWaitPeriod and actionsSuppressorExtensionPeriod need actionsSuppressor; name the alarm that suppresses actions, or remove them",
            );
        }
        validate_actions(
            [
                ("okActions", &s.ok_actions),
                ("alarmActions", &s.alarm_actions),
                ("insufficientDataActions", &s.insufficient_data_actions),
            ],
            issues,
        );
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        canonical(
            spec,
            spec.tags.as_ref().map(|t| with_owner(t, env)).as_ref(),
        )
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec, live.spec.tags.as_ref())
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::arn_and_name(&live.arn, &live.name)
    }

    fn to_spec(live: &Live) -> Spec {
        let mut spec = live.spec.clone();
        super::tags::strip_owner(&mut spec.tags);
        spec
    }

    const TAGS: Option<TagApi> = Some(TAGS);

    crate::kinds::tags::accessors!(id: arn, live: opt spec.tags, spec: opt tags);

    fn listed(aws: &Aws) -> Option<usize> {
        alarms_listed(aws)
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let pages = wanted_alarms(aws, wanted).await?;
        let mut out = BTreeMap::new();
        for (name, a) in AlarmPages::wanted(&pages.composite, wanted) {
            let arn = a
                .alarm_arn()
                .map(str::to_string)
                .unwrap_or_else(|| super::metric_alarm::alarm_arn(&aws.env, name));
            let live = Live {
                name: name.clone(),
                arn,
                spec: spec_from_live(a),
            };
            out.insert(name.clone(), live);
        }
        Ok(out)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let env = &aws.env;
        let arn = live
            .map(|l| l.arn.clone())
            .unwrap_or_else(|| super::metric_alarm::alarm_arn(env, name));
        let config_changed = live.is_none_or(|l| canonical(spec, None) != canonical(&l.spec, None));
        if config_changed {
            // Tags count at creation only; the engine syncs an update's tags.
            let create_tags = match live {
                None => with_owner(spec.tags.as_ref().unwrap_or(&Tags::new()), env),
                Some(_) => Tags::new(),
            };
            aws.clients
                .cloudwatch
                .put_composite_alarm()
                .alarm_name(name)
                .alarm_rule(spec.alarm_rule.trim())
                .set_alarm_description(spec.alarm_description.clone())
                .actions_enabled(spec.actions_enabled.unwrap_or(true))
                .set_ok_actions(Some(spec.ok_actions.clone()))
                .set_alarm_actions(Some(spec.alarm_actions.clone()))
                .set_insufficient_data_actions(Some(spec.insufficient_data_actions.clone()))
                .set_actions_suppressor(spec.actions_suppressor.clone())
                .set_actions_suppressor_wait_period(spec.actions_suppressor_wait_period)
                .set_actions_suppressor_extension_period(spec.actions_suppressor_extension_period)
                .set_tags((!create_tags.is_empty()).then(|| sdk_tags(&create_tags)))
                .send()
                .await
                .aws(SERVICE, "PutCompositeAlarm")?;
        }
        Ok(Attrs::from([
            ("arn".to_string(), arn),
            ("name".to_string(), name.to_string()),
        ]))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        aws.clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(name)
            .send()
            .await
            .aws(SERVICE, "DeleteAlarms")?;
        Ok(())
    }
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
