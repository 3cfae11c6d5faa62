//! The alarm_mute_rule kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::Value;

use crate::aws::Env;
use crate::kinds::alarm_mute_rule::{self as amr, DEFAULT_TIMEZONE};
use crate::kinds::tags::Tags;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct MuteSem {
    pub name: String,
    pub expression: String,
    /// The same length, written several ways.
    pub duration: [&'static str; 2],
    pub timezone: Option<String>,
    pub targets: Vec<String>,
    pub description: Option<String>,
    /// The same instant, written with and without an offset.
    pub start: Option<[&'static str; 2]>,
    pub expire: Option<[&'static str; 2]>,
    pub tags: Option<Tags>,
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["weekly-maintenance", "lab window", "m:1"][..]),
        select(
            &[
                "cron(0 2 * * SUN)",
                "cron(30 18 * * MON-FRI)",
                "cron(0 1 1 * *)",
                "cron(0,30 9-17 * JAN,DEC 1-5)",
                "at(2026-05-10T14:00)",
            ][..],
        ),
        select(
            &[
                ["PT2H", "PT120M"],
                ["PT4H", "PT4H"],
                ["P2DT12H", "PT60H"],
                ["P7D", "P1W"],
                ["PT1M", "PT60S"],
            ][..],
        ),
        prop::option::of(select(&["Asia/Tokyo", "UTC", "America/New_York"][..])),
        subsequence(
            vec![
                "HighCPUUtilization",
                "HighMemoryUtilization",
                "Low Disk",
                "HighResponseTime",
            ],
            0..=4,
        ),
        opt_string(&["", "Weekly maintenance: mute the lab's alarms"]),
        prop::option::of(select(
            &[
                ["2026-04-15T08:00:00Z", "2026-04-15T17:00:00+09:00"],
                ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"],
            ][..],
        )),
        prop::option::of(select(
            &[["2027-12-31T23:59:00Z", "2028-01-01T08:59:00+09:00"]][..],
        )),
        opt_tags(),
    )
        .prop_map(
            |(name, expr, duration, tz, targets, description, start, expire, tags)| MuteSem {
                name: name.into(),
                expression: expr.into(),
                duration,
                timezone: tz.map(str::to_string),
                targets: targets.into_iter().map(str::to_string).collect(),
                description,
                start,
                expire,
                tags,
            },
        );
    case(sem, |s| s.name.clone(), render)
}

fn render(s: &MuteSem, st: Style) -> Value {
    let expression = if st.coin("pad") {
        format!(" {} ", s.expression)
    } else {
        s.expression.clone()
    };
    // UTC may be written or left out: it is AWS's default.
    let tz = match s.timezone.as_deref() {
        Some(DEFAULT_TIMEZONE) if st.coin("utc") => None,
        None if st.coin("utc") => Some(DEFAULT_TIMEZONE),
        other => other,
    };
    let schedule = Obj::new()
        .put("expression", expression)
        .put("duration", *st.pick("duration", &s.duration))
        .opt("timezone", tz)
        .done(st, "schedule");
    let rule = Obj::new().put("schedule", schedule).done(st, "rule");
    // No targets may be written as an empty list or left out; a name may repeat.
    let mut names = st.shuffled("targets", &s.targets);
    if let Some(first) = names.first().cloned()
        && st.coin("repeat")
    {
        names.push(first);
    }
    let o = Obj::new()
        .put("rule", rule)
        .when(
            !names.is_empty() || st.coin("empty"),
            "muteTargets",
            Obj::new().put("alarmNames", names).done(st, "targets"),
        )
        .opt("description", s.description.as_deref())
        .opt("startDate", s.start.map(|d| *st.pick("start", &d)))
        .opt("expireDate", s.expire.map(|d| *st.pick("expire", &d)));
    opt_tags_field(o, &s.tags, st).done(st, "mute")
}

// ---- What AWS answers ----

/// GetAlarmMuteRule after PutAlarmMuteRule: the input echoed, UTC filled in, the
/// dates as instants (CBOR timestamps), targets in any order.
pub fn live(name: &str, s: &amr::Spec, st: Style, env: &Env) -> amr::Live {
    use aws_sdk_cloudwatch::operation::get_alarm_mute_rule::GetAlarmMuteRuleOutput;
    use aws_sdk_cloudwatch::types::{MuteTargets, Rule, Schedule};

    let sched = &s.rule.schedule;
    let names: Vec<String> = {
        let mut n: Vec<String> = s
            .mute_targets
            .iter()
            .flat_map(|t| t.alarm_names.clone())
            .collect();
        n.sort();
        n.dedup();
        shuffled(st, "targets", &n)
    };
    let date = |d: &Option<String>| d.as_deref().map(|d| amr::parse_date(d).expect("valid"));
    let out = GetAlarmMuteRuleOutput::builder()
        .name(name)
        .alarm_mute_rule_arn(amr::rule_arn(env, name))
        .set_description(maybe_empty(st, "desc", s.description.as_deref()))
        .rule(
            Rule::builder()
                .schedule(
                    Schedule::builder()
                        .expression(sched.expression.trim())
                        .duration(sched.duration.trim())
                        .timezone(
                            sched
                                .timezone
                                .as_deref()
                                .map_or(DEFAULT_TIMEZONE, str::trim),
                        )
                        .build(),
                )
                .build(),
        )
        .set_mute_targets(
            (!names.is_empty() || st.coin("empty"))
                .then(|| MuteTargets::builder().set_alarm_names(Some(names)).build()),
        )
        .set_start_date(date(&s.start_date))
        .set_expire_date(date(&s.expire_date))
        .status(aws_sdk_cloudwatch::types::AlarmMuteRuleStatus::Scheduled)
        .build();
    let mut spec = amr::spec_from_live(&out);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    amr::Live {
        name: name.into(),
        arn: amr::rule_arn(env, name),
        spec,
        status: Some("SCHEDULED".into()),
    }
}

/// Import writes what AWS reports: UTC explicitly, dates in UTC, tags as a map.
pub fn imported(s: &amr::Spec) -> amr::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    s
}
