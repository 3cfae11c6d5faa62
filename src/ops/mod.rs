//! The library's work for each subcommand, one module each; the binary's
//! `commands/` only parses arguments and calls one function here.
//!
//! | subcommand | module |
//! |---|---|
//! | `vigil validate` | [`validate`] (the checks that need AWS; the rest is `manifest::load`) |
//! | `vigil reconcile` | [`reconcile`] (the engine's stages in a row) |
//! | `vigil drift` | [`drift`] |
//! | `vigil destroy` | [`destroy`] |
//! | `vigil import` | [`import`] |
//! | `vigil test-alarm` | [`test_alarm`] (lab step 8) |
//! | `vigil report` | [`report`], rendered by [`html`] and [`svg`] (lab step 9) |
//! | `vigil run` | `crate::controller`, which runs [`reconcile`] per target on a schedule |
//! | `vigil schema` | `crate::schema` |
//!
//! This module itself holds what test-alarm and report share: live alarms,
//! topic subscriptions, durations and times.

pub mod destroy;
pub mod drift;
pub mod html;
pub mod import;
pub mod reconcile;
pub mod report;
pub mod svg;
pub mod test_alarm;
pub mod validate;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::aws::{Aws, AwsError, AwsResultExt};
use crate::kinds::KindId;
use crate::manifest::Manifests;

pub use crate::duration::parse as parse_duration;

/// `90s`, `5m`, `24h`, `1h30m`: the shortest exact spelling, for messages.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    // `24h` reads better than `1d`; days from two on.
    let day = if secs >= 2 * 86_400 { 86_400 } else { u64::MAX };
    for (unit, size) in [("d", day), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Whole seconds since the epoch.
pub fn epoch_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// RFC 3339 in UTC, whole seconds: `2026-01-02T03:04:05Z`.
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

pub fn datetime_secs(t: &DateTime) -> i64 {
    t.secs()
}

/// A live alarm of either type, reduced to what the operations need.
#[derive(Debug, Clone)]
pub struct LiveAlarm {
    pub kind: KindId,
    pub name: String,
    pub state: String,
    pub reason: String,
    /// When the current state began (epoch seconds).
    pub since: Option<i64>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    /// The full definition, for metric alarms.
    pub metric: Option<MetricAlarm>,
}

/// The fields both SDK alarm shapes share under the same accessor names.
macro_rules! live_alarm {
    ($a:expr, $kind:expr, $metric:expr) => {
        LiveAlarm {
            kind: $kind,
            name: $a.alarm_name().unwrap_or_default().to_string(),
            state: $a
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: $a.state_reason().unwrap_or_default().to_string(),
            since: $a.state_updated_timestamp().map(datetime_secs),
            actions_enabled: $a.actions_enabled().unwrap_or(true),
            ok_actions: $a.ok_actions().to_vec(),
            alarm_actions: $a.alarm_actions().to_vec(),
            insufficient_data_actions: $a.insufficient_data_actions().to_vec(),
            metric: $metric,
        }
    };
}

impl LiveAlarm {
    pub fn from_metric(a: &MetricAlarm) -> Self {
        live_alarm!(a, KindId::MetricAlarm, Some(a.clone()))
    }

    pub fn from_composite(a: &CompositeAlarm) -> Self {
        live_alarm!(a, KindId::CompositeAlarm, None)
    }

    /// The actions AWS runs when the alarm enters `state`.
    pub fn actions_for(&self, state: &str) -> &[String] {
        match state {
            "ALARM" => &self.alarm_actions,
            "OK" => &self.ok_actions,
            _ => &self.insufficient_data_actions,
        }
    }
}

/// The manifest field that lists the actions for `state`.
pub fn actions_field(state: &str) -> &'static str {
    match state {
        "ALARM" => "alarmActions",
        "OK" => "okActions",
        _ => "insufficientDataActions",
    }
}

/// Declared alarms of both kinds, in directory order.
pub fn declared_alarms(m: &Manifests) -> Vec<(KindId, String)> {
    m.resources
        .iter()
        .filter(|r| matches!(r.kind, KindId::MetricAlarm | KindId::CompositeAlarm))
        .map(|r| (r.kind, r.name.clone()))
        .collect()
}

/// DescribeAlarms by name, 100 names a call, both alarm types. Absent alarms are missing from the map.
pub async fn describe_alarms(
    aws: &Aws,
    names: &[String],
) -> Result<HashMap<String, LiveAlarm>, AwsError> {
    let mut out = HashMap::new();
    for chunk in names.chunks(100) {
        let mut pages = aws
            .clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.aws("cloudwatch", "DescribeAlarms")?;
            for a in page.metric_alarms() {
                let l = LiveAlarm::from_metric(a);
                out.insert(l.name.clone(), l);
            }
            for a in page.composite_alarms() {
                let l = LiveAlarm::from_composite(a);
                out.insert(l.name.clone(), l);
            }
        }
    }
    Ok(out)
}

/// One subscription of a topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub protocol: String,
    pub endpoint: String,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.protocol, self.endpoint)
    }
}

/// A topic's subscriptions by status.
#[derive(Debug, Clone, Default)]
pub struct TopicSubscriptions {
    pub confirmed: Vec<Endpoint>,
    pub pending: Vec<Endpoint>,
}

/// What `ListSubscriptionsByTopic` shows instead of an ARN until someone confirms.
const PENDING: &str = "PendingConfirmation";

/// ListSubscriptionsByTopic, every page. `None` when the topic does not exist.
pub async fn topic_subscriptions(
    aws: &Aws,
    arn: &str,
) -> Result<Option<TopicSubscriptions>, AwsError> {
    let mut subs = TopicSubscriptions::default();
    let mut pages = aws
        .clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page.aws("sns", "ListSubscriptionsByTopic") {
            Ok(p) => p,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        for s in page.subscriptions() {
            let ep = Endpoint {
                protocol: s.protocol().unwrap_or_default().to_string(),
                endpoint: s.endpoint().unwrap_or_default().to_string(),
            };
            match s.subscription_arn() {
                Some(PENDING) => subs.pending.push(ep),
                // "Deleted" and other placeholders are neither.
                Some(a) if a.starts_with("arn:") => subs.confirmed.push(ep),
                _ => {}
            }
        }
    }
    Ok(Some(subs))
}

/// The parts of an SNS topic ARN: `(region, account, name)`.
pub fn sns_arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _partition, "sns", region, account, name] => Some((region, account, name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "24h");
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(
            format_duration(Duration::from_secs(2 * 86_400 + 3600)),
            "2d1h"
        );
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn sns_arns_split() {
        assert_eq!(
            sns_arn_parts("arn:aws:sns:us-east-1:123456789012:alerts"),
            Some(("us-east-1", "123456789012", "alerts"))
        );
        assert_eq!(sns_arn_parts("arn:aws:lambda:us-east-1:1:function:f"), None);
    }
}
