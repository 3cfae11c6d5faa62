//! `LogAlarm`: a CloudWatch alarm on a scheduled Logs Insights query
//! (PutLogAlarm; CloudFormation's AWS::CloudWatch::LogAlarm). CloudWatch runs
//! the query as a service-managed scheduled query and compares its aggregated
//! results with the threshold, M of the last N results. Observed through the
//! shared DescribeAlarms walk (`AlarmTypes` LogAlarm), tagged like the other
//! alarms, deleted with DeleteAlarms.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, ScheduleConfiguration, ScheduledQueryConfiguration,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::alarms_walk::{AlarmPages, alarms_listed, wanted_alarms};
use super::error::KindError;
use super::kind::{ApplyOptions, Attrs, Issues, Kind, Wanted};
use super::metric_alarm::{TAGS, WarmUpSpec, alarm_arn, sdk_tags, validate_actions};
use super::tags::{TagApi, Tags, with_owner};
use crate::aws::{Aws, AwsResultExt, Env};

const SERVICE: &str = "cloudwatch";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    /// The Logs Insights query, the log groups it reads, and when it runs.
    pub scheduled_query_configuration: QueryConfiguration,
    /// N: how many of the latest query results are evaluated (1 to 100).
    pub query_results_to_evaluate: i32,
    /// M: how many of those must breach for ALARM (1 to queryResultsToEvaluate).
    pub query_results_to_alarm: i32,
    pub threshold: f64,
    /// GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold
    /// or LessThanOrEqualToThreshold.
    pub comparison_operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    #[serde(default, rename = "okActions", skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insufficient_data_actions: Vec<String>,
    /// Log lines of the latest run included in notifications (0 to 50; absent means 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_log_line_count: Option<i32>,
    /// The role CloudWatch assumes to read those lines; required when the count is above 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_log_line_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_up_configuration: Option<WarmUpSpec>,
    /// Absent: tags are not managed (and not read). Present, even `{}`: exactly these tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryConfiguration {
    /// A Logs Insights query, for example `fields @message | filter @message like /ERROR/`.
    pub query_string: String,
    /// 1 to 50 log group names or ARNs (an ARN for another account's group).
    pub log_group_identifiers: Vec<String>,
    /// The role CloudWatch assumes to run the query on those log groups.
    pub scheduled_query_role_arn: String,
    pub schedule_configuration: ScheduleSpec,
    /// How results become the compared values, for example `count(*)`.
    pub aggregation_expression: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleSpec {
    /// A rate expression, for example `rate(5 minutes)`.
    pub schedule_expression: String,
    /// Seconds before each run at which the queried range begins.
    pub start_time_offset: i64,
    /// Seconds before each run at which it ends (below startTimeOffset; absent means 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_offset: Option<i64>,
}

/// One live log alarm.
#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub spec: Spec,
    /// The ARN of the scheduled query AWS manages for the alarm.
    pub query_arn: Option<String>,
    pub state: Option<String>,
}

const OPERATORS: &[&str] = &[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];

const TREAT_MISSING: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];

/// Reads a live log alarm back into the manifest's shape.
pub(crate) fn spec_from_live(a: &aws_sdk_cloudwatch::types::LogAlarm) -> Spec {
    let q = a.scheduled_query_configuration();
    let sched = q.and_then(|q| q.schedule_configuration());
    Spec {
        alarm_description: a
            .alarm_description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        scheduled_query_configuration: QueryConfiguration {
            query_string: q
                .and_then(|q| q.query_string())
                .unwrap_or_default()
                .to_string(),
            log_group_identifiers: q
                .map(|q| q.log_group_identifiers().to_vec())
                .unwrap_or_default(),
            scheduled_query_role_arn: q
                .and_then(|q| q.scheduled_query_role_arn())
                .unwrap_or_default()
                .to_string(),
            schedule_configuration: ScheduleSpec {
                schedule_expression: sched
                    .and_then(|s| s.schedule_expression())
                    .unwrap_or_default()
                    .to_string(),
                start_time_offset: sched.and_then(|s| s.start_time_offset()).unwrap_or(0),
                end_time_offset: sched.and_then(|s| s.end_time_offset()),
            },
            aggregation_expression: q
                .and_then(|q| q.aggregation_expression())
                .unwrap_or_default()
                .to_string(),
        },
        query_results_to_evaluate: a.query_results_to_evaluate().unwrap_or_default(),
        query_results_to_alarm: a.query_results_to_alarm().unwrap_or_default(),
        threshold: a.threshold().unwrap_or_default(),
        comparison_operator: a
            .comparison_operator()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        treat_missing_data: a.treat_missing_data().map(str::to_string),
        actions_enabled: a.actions_enabled(),
        ok_actions: a.ok_actions().to_vec(),
        alarm_actions: a.alarm_actions().to_vec(),
        insufficient_data_actions: a.insufficient_data_actions().to_vec(),
        action_log_line_count: a.action_log_line_count(),
        action_log_line_role_arn: a
            .action_log_line_role_arn()
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        warm_up_configuration: a.warm_up_configuration().and_then(WarmUpSpec::from_sdk),
        tags: None,
    }
}

/// The canonical form both sides are compared in: AWS's defaults filled in
/// (`treatMissingData: missing`, `actionsEnabled: true`, no log lines, an
/// end offset of 0), order-free lists sorted, the query and the aggregation
/// trimmed (a YAML block adds a newline).
pub fn canonical(spec: &Spec, tags: Option<&BTreeMap<String, String>>) -> Value {
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    let q = &spec.scheduled_query_configuration;
    let sched = &q.schedule_configuration;
    let mut v = json!({
        "scheduledQueryConfiguration": {
            "queryString": q.query_string.trim(),
            "logGroupIdentifiers": sorted(&q.log_group_identifiers),
            "scheduledQueryRoleArn": q.scheduled_query_role_arn,
            "scheduleConfiguration": {
                "scheduleExpression": sched.schedule_expression.trim(),
                "startTimeOffset": sched.start_time_offset,
                "endTimeOffset": sched.end_time_offset.unwrap_or(0),
            },
            "aggregationExpression": q.aggregation_expression.trim(),
        },
        "queryResultsToEvaluate": spec.query_results_to_evaluate,
        "queryResultsToAlarm": spec.query_results_to_alarm,
        "threshold": spec.threshold,
        "comparisonOperator": spec.comparison_operator,
        "treatMissingData": spec.treat_missing_data.as_deref().unwrap_or("missing"),
        "actionsEnabled": spec.actions_enabled.unwrap_or(true),
        "okActions": sorted(&spec.ok_actions),
        "alarmActions": sorted(&spec.alarm_actions),
        "insufficientDataActions": sorted(&spec.insufficient_data_actions),
        "actionLogLineCount": spec.action_log_line_count.unwrap_or(0),
    });
    let m = v.as_object_mut().expect("object");
    // AWS reports an empty description as none.
    if let Some(d) = spec.alarm_description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("alarmDescription".into(), json!(d));
    }
    if let Some(r) = spec
        .action_log_line_role_arn
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        m.insert("actionLogLineRoleArn".into(), json!(r));
    }
    if let Some(w) = &spec.warm_up_configuration {
        m.insert("warmUpConfiguration".into(), w.canonical());
    }
    if let Some(t) = tags {
        m.insert("tags".into(), json!(t));
    }
    v
}

fn is_arn_or_ref(s: &str) -> bool {
    s.starts_with("arn:") || s.starts_with("${")
}

/// `rate(N minute[s]|hour[s]|day[s])`, N at least 1.
fn valid_rate(expr: &str) -> bool {
    let Some(inner) = expr
        .trim()
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return false;
    };
    let mut parts = inner.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    n.parse::<u32>().is_ok_and(|n| n >= 1)
        && ["minute", "minutes", "hour", "hours", "day", "days"].contains(&unit)
}

/// The scheduled query: what it reads, as whom, when, and how it aggregates.
fn check_query(q: &QueryConfiguration, issues: &mut Issues) {
    let path = "scheduledQueryConfiguration";
    let query = q.query_string.trim();
    if query.is_empty() {
        issues.at(
            &format!("{path}.queryString"),
            "queryString must not be empty; give a Logs Insights query such as fields @message | filter @message like /ERROR/",
        );
    } else if query.chars().count() > 10_000 {
        issues.at(
            &format!("{path}.queryString"),
            "queryString is longer than the 10000 characters AWS allows",
        );
    }
    let groups = q.log_group_identifiers.len();
    if !(1..=50).contains(&groups) {
        issues.at(
            &format!("{path}.logGroupIdentifiers"),
            format!("give 1 to 50 log groups (names or ARNs) to query, found {groups}"),
        );
    }
    for (i, g) in q.log_group_identifiers.iter().enumerate() {
        if g.trim().is_empty() {
            issues.at(
                &format!("{path}.logGroupIdentifiers[{i}]"),
                "a log group name or ARN must not be empty",
            );
        }
    }
    if !is_arn_or_ref(&q.scheduled_query_role_arn) {
        issues.at(
            &format!("{path}.scheduledQueryRoleArn"),
            format!(
                "`{}` is not an ARN; use the role's ARN or a reference such as ${{Role/NAME.arn}}",
                q.scheduled_query_role_arn
            ),
        );
    }
    let agg = q.aggregation_expression.trim();
    if agg.is_empty() || agg.chars().count() > 2048 {
        issues.at(
            &format!("{path}.aggregationExpression"),
            "aggregationExpression must be 1 to 2048 characters, for example count(*) or avg(latency) by host",
        );
    }
    let s = &q.schedule_configuration;
    let spath = format!("{path}.scheduleConfiguration");
    if !valid_rate(&s.schedule_expression) {
        issues.at(
            &format!("{spath}.scheduleExpression"),
            format!(
                "`{}` is not a rate expression; write rate(N minutes), rate(N hours) or rate(N days), for example rate(5 minutes)",
                s.schedule_expression
            ),
        );
    }
    if s.start_time_offset < 0 {
        issues.at(
            &format!("{spath}.startTimeOffset"),
            "startTimeOffset is seconds before each run and cannot be negative",
        );
    }
    if let Some(end) = s.end_time_offset
        && (end < 0 || end >= s.start_time_offset)
    {
        issues.at(
            &format!("{spath}.endTimeOffset"),
            format!(
                "endTimeOffset must be 0 or more and below startTimeOffset ({}): the queried range ends after it begins",
                s.start_time_offset
            ),
        );
    }
}

/// M of N, the operator and missing data.
fn check_evaluation(s: &Spec, issues: &mut Issues) {
    let n = s.query_results_to_evaluate;
    if !(1..=100).contains(&n) {
        issues.at(
            "queryResultsToEvaluate",
            format!("queryResultsToEvaluate must be 1 to 100, found {n}"),
        );
    }
    let m = s.query_results_to_alarm;
    if m < 1 || m > n {
        issues.at(
            "queryResultsToAlarm",
            format!(
                "queryResultsToAlarm must be between 1 and queryResultsToEvaluate ({n}), found {m}"
            ),
        );
    }
    if !OPERATORS.contains(&s.comparison_operator.as_str()) {
        issues.at(
            "comparisonOperator",
            format!(
                "`{}` is not a comparison a log alarm can make; expected one of {}",
                s.comparison_operator,
                OPERATORS.join(", ")
            ),
        );
    }
    if let Some(t) = &s.treat_missing_data
        && !TREAT_MISSING.contains(&t.as_str())
    {
        issues.at(
            "treatMissingData",
            format!(
                "`{t}` is not a valid treatMissingData; expected one of {}",
                TREAT_MISSING.join(", ")
            ),
        );
    }
}

/// The log lines sent with notifications, and the role that reads them.
fn check_log_lines(s: &Spec, issues: &mut Issues) {
    let count = s.action_log_line_count.unwrap_or(0);
    if !(0..=50).contains(&count) {
        issues.at(
            "actionLogLineCount",
            format!("actionLogLineCount must be 0 to 50, found {count}"),
        );
    }
    match s.action_log_line_role_arn.as_deref() {
        None if count > 0 => issues.at(
            "actionLogLineCount",
            "actionLogLineCount above 0 needs actionLogLineRoleArn, the role CloudWatch assumes to read those lines: add it",
        ),
        Some(r) if !is_arn_or_ref(r) => issues.at(
            "actionLogLineRoleArn",
            format!("`{r}` is not an ARN; use the role's ARN or a reference such as ${{Role/NAME.arn}}"),
        ),
        _ => {}
    }
}

pub struct LogAlarm;

impl Kind for LogAlarm {
    const NAME: &'static str = "LogAlarm";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 255, "alarm")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        check_query(&s.scheduled_query_configuration, issues);
        check_evaluation(s, issues);
        check_log_lines(s, issues);
        if let Some(w) = &s.warm_up_configuration {
            w.validate("warmUpConfiguration", issues);
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
        for (name, a) in AlarmPages::wanted(&pages.log, wanted) {
            let live = Live {
                name: name.clone(),
                arn: a
                    .alarm_arn()
                    .map(str::to_string)
                    .unwrap_or_else(|| alarm_arn(&aws.env, name)),
                spec: spec_from_live(a),
                query_arn: a
                    .scheduled_query_configuration()
                    .and_then(|q| q.query_arn())
                    .map(str::to_string),
                state: a.state_value().map(|s| s.as_str().to_string()),
            };
            out.insert(name.clone(), live);
        }
        Ok(out)
    }

    /// Without the planner's diff, every field is written.
    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        put(aws, name, spec, live, true).await
    }

    /// PutLogAlarm only when the planner found a field other than tags
    /// different: tags alone are the engine's tag sync.
    async fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
        opts: &ApplyOptions,
    ) -> Result<Attrs, KindError> {
        let config_changed = live.is_none() || opts.fields.iter().any(|f| !f.in_tags());
        put(aws, name, spec, live, config_changed).await
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

/// Creates or replaces the alarm (PutLogAlarm when `config_changed`).
async fn put(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
    config_changed: bool,
) -> Result<Attrs, KindError> {
    let env = &aws.env;
    let arn = live
        .map(|l| l.arn.clone())
        .unwrap_or_else(|| alarm_arn(env, name));
    if config_changed {
        let q = &spec.scheduled_query_configuration;
        let s = &q.schedule_configuration;
        let query = ScheduledQueryConfiguration::builder()
            .query_string(q.query_string.trim())
            .set_log_group_identifiers(Some(q.log_group_identifiers.clone()))
            .scheduled_query_role_arn(&q.scheduled_query_role_arn)
            .schedule_configuration(
                ScheduleConfiguration::builder()
                    .schedule_expression(s.schedule_expression.trim())
                    .start_time_offset(s.start_time_offset)
                    .set_end_time_offset(s.end_time_offset)
                    .build(),
            )
            .aggregation_expression(q.aggregation_expression.trim())
            .build();
        // Tags count at creation only; the engine syncs an update's tags.
        let create_tags = match live {
            None => with_owner(spec.tags.as_ref().unwrap_or(&Tags::new()), env),
            Some(_) => Tags::new(),
        };
        aws.clients
            .cloudwatch
            .put_log_alarm()
            .alarm_name(name)
            .set_alarm_description(spec.alarm_description.clone())
            .scheduled_query_configuration(query)
            .query_results_to_evaluate(spec.query_results_to_evaluate)
            .query_results_to_alarm(spec.query_results_to_alarm)
            .threshold(spec.threshold)
            .comparison_operator(ComparisonOperator::from(spec.comparison_operator.as_str()))
            .set_treat_missing_data(spec.treat_missing_data.clone())
            .actions_enabled(spec.actions_enabled.unwrap_or(true))
            .set_ok_actions(Some(spec.ok_actions.clone()))
            .set_alarm_actions(Some(spec.alarm_actions.clone()))
            .set_insufficient_data_actions(Some(spec.insufficient_data_actions.clone()))
            .set_action_log_line_count(spec.action_log_line_count)
            .set_action_log_line_role_arn(spec.action_log_line_role_arn.clone())
            .set_warm_up_configuration(spec.warm_up_configuration.as_ref().map(WarmUpSpec::to_sdk))
            .set_tags((!create_tags.is_empty()).then(|| sdk_tags(&create_tags)))
            .send()
            .await
            .aws(SERVICE, "PutLogAlarm")?;
    }
    Ok(Attrs::from([
        ("arn".to_string(), arn),
        ("name".to_string(), name.to_string()),
    ]))
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
