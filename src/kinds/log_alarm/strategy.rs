//! The log_alarm kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct LogAlarmSem {
    pub name: String,
    pub description: Option<String>,
    pub query: String,
    pub groups: Vec<String>,
    pub rate: String,
    pub start: i64,
    pub end: Option<i64>,
    pub aggregation: String,
    pub evaluate: i32,
    pub alarm: i32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing: String,
    pub actions: AlarmActions,
    pub log_lines: i32,
    pub warm_up: Option<(i32, Option<bool>)>,
    pub tags: Option<Tags>,
}

const ROLE: &str = "arn:aws:iam::123456789012:role/LogAlarmQueryRole";

pub fn strategy() -> impl Strategy<Value = Case> {
    let query = (
        select(&["HttpdErrors", "api 5xx from logs", "l-1"][..]),
        opt_string(&["", "Errors in the httpd log"]),
        select(
            &[
                "fields @message | filter @message like /ERROR/",
                "filter status >= 500\n",
                "  stats count(*) by host",
            ][..],
        ),
        subsequence(
            vec![
                "/aws/ec2/httpd/error_log",
                "/aws/ec2/httpd/access_log",
                "arn:aws:logs:us-east-1:210987654321:log-group:shared",
            ],
            1..=3,
        ),
        select(&["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)"][..]),
        select(&[300i64, 600, 3600][..]),
        prop::option::of(select(&[0i64, 60][..])),
        select(&["count(*)", "avg(latency) by host\n"][..]),
    );
    let sem = (
        query,
        (1..=5i32).prop_flat_map(|n| (Just(n), 1..=n)),
        select(&[0.0, 1.0, 10.0, 99.5][..]),
        select(
            &[
                "GreaterThanThreshold",
                "GreaterThanOrEqualToThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ][..],
        ),
        select(&["missing", "breaching", "notBreaching", "ignore"][..]),
        alarm_actions(),
        select(&[0, 5][..]),
        prop::option::of((select(&[1, 30][..]), prop::option::of(any::<bool>()))),
        opt_tags(),
    )
        .prop_map(
            |(
                (name, description, query, groups, rate, start, end, aggregation),
                (evaluate, alarm),
                threshold,
                comparison,
                treat,
                actions,
                log_lines,
                warm_up,
                tags,
            )| LogAlarmSem {
                name: name.into(),
                description,
                query: query.into(),
                groups: groups.into_iter().map(str::to_string).collect(),
                rate: rate.into(),
                start,
                end,
                aggregation: aggregation.into(),
                evaluate,
                alarm,
                threshold,
                comparison: comparison.into(),
                treat_missing: treat.into(),
                actions,
                log_lines,
                warm_up,
                tags,
            },
        );
    case(sem, |s| s.name.clone(), render_log_alarm)
}

fn render_log_alarm(s: &LogAlarmSem, st: Style) -> Value {
    let schedule = Obj::new()
        .put("scheduleExpression", s.rate.as_str())
        .put("startTimeOffset", s.start)
        .when(
            s.end.is_some_and(|e| e != 0) || st.coin("end"),
            "endTimeOffset",
            s.end.unwrap_or(0),
        )
        .done(st, "schedule");
    let query = Obj::new()
        .put("queryString", s.query.as_str())
        .put(
            "logGroupIdentifiers",
            json!(st.shuffled("groups", &s.groups)),
        )
        .put("scheduledQueryRoleArn", ROLE)
        .put("scheduleConfiguration", schedule)
        .put("aggregationExpression", s.aggregation.as_str())
        .done(st, "query");
    let mut o = Obj::new()
        .opt("alarmDescription", s.description.as_deref())
        .put("scheduledQueryConfiguration", query)
        .put("queryResultsToEvaluate", s.evaluate)
        .put("queryResultsToAlarm", s.alarm)
        .put("threshold", st.num("threshold", s.threshold))
        .put("comparisonOperator", s.comparison.as_str())
        .when(
            s.treat_missing != "missing" || st.coin("treat"),
            "treatMissingData",
            s.treat_missing.as_str(),
        )
        .when(
            s.log_lines != 0 || st.coin("lines"),
            "actionLogLineCount",
            s.log_lines,
        )
        .when(
            s.log_lines != 0,
            "actionLogLineRoleArn",
            "arn:aws:iam::123456789012:role/LogAlarmLines",
        );
    if let Some((minutes, only_after)) = s.warm_up {
        o = o.put(
            "warmUpConfiguration",
            Obj::new()
                .put("warmUpPeriodDurationInMinutes", minutes)
                .when(
                    only_after.is_some() || st.coin("wu.only"),
                    "onlyStartEvaluatingAfterWarmUpPeriodEnds",
                    only_after.unwrap_or(false),
                )
                .done(st, "warmUp"),
        );
    }
    o = put_actions(o, &s.actions, st);
    opt_tags_field(o, &s.tags, st).done(st, "logAlarm")
}

// ---- What AWS answers ----

/// What DescribeAlarms reports for a log alarm written from `s`: the query
/// as sent (trimmed), log groups in any order, defaults spelled out or not.
pub fn live(name: &str, s: &log_alarm::Spec, st: Style, env: &Env) -> log_alarm::Live {
    use aws_sdk_cloudwatch::types::{
        ComparisonOperator, ScheduleConfiguration, ScheduledQueryConfiguration, StateValue,
        WarmUpConfiguration,
    };
    let q = &s.scheduled_query_configuration;
    let sched = &q.schedule_configuration;
    let query_arn = format!(
        "arn:aws:logs:{}:{}:scheduled-query:0f9e8d7c-{}",
        env.region,
        env.account_id,
        name.len()
    );
    let a = aws_sdk_cloudwatch::types::LogAlarm::builder()
        .alarm_name(name)
        .alarm_arn(metric_alarm::alarm_arn(env, name))
        .set_alarm_description(s.alarm_description.clone())
        .actions_enabled(s.actions_enabled.unwrap_or(true))
        .set_ok_actions(Some(shuffled(st, "ok", &s.ok_actions)))
        .set_alarm_actions(Some(shuffled(st, "alarm", &s.alarm_actions)))
        .set_insufficient_data_actions(Some(shuffled(st, "ins", &s.insufficient_data_actions)))
        .scheduled_query_configuration(
            ScheduledQueryConfiguration::builder()
                .query_string(q.query_string.trim())
                .set_log_group_identifiers(Some(shuffled(st, "groups", &q.log_group_identifiers)))
                .query_arn(query_arn.clone())
                .scheduled_query_role_arn(&q.scheduled_query_role_arn)
                .schedule_configuration(
                    ScheduleConfiguration::builder()
                        .schedule_expression(sched.schedule_expression.trim())
                        .start_time_offset(sched.start_time_offset)
                        .set_end_time_offset(sched.end_time_offset.or(st.coin("end0").then_some(0)))
                        .build(),
                )
                .aggregation_expression(q.aggregation_expression.trim())
                .build(),
        )
        .query_results_to_evaluate(s.query_results_to_evaluate)
        .query_results_to_alarm(s.query_results_to_alarm)
        .threshold(s.threshold)
        .comparison_operator(ComparisonOperator::from(s.comparison_operator.as_str()))
        .set_treat_missing_data(
            s.treat_missing_data
                .clone()
                .or(st.coin("tmd").then(|| "missing".to_string())),
        )
        .set_action_log_line_count(s.action_log_line_count.or(st.coin("lines0").then_some(0)))
        .set_action_log_line_role_arn(s.action_log_line_role_arn.clone())
        .set_warm_up_configuration(s.warm_up_configuration.as_ref().map(|w| {
            WarmUpConfiguration::builder()
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
    let mut spec = log_alarm::spec_from_live(&a);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    log_alarm::Live {
        name: name.into(),
        arn: metric_alarm::alarm_arn(env, name),
        spec,
        query_arn: Some(query_arn),
        state: a.state_value().map(|v| v.as_str().to_string()),
    }
}

/// Import reads the tags it found: an alarm that declared none comes back with `{}`.
pub fn imported(s: &log_alarm::Spec) -> log_alarm::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    s
}
