//! `AlarmMuteRule`: a CloudWatch alarm mute rule (AWS::CloudWatch::AlarmMuteRule,
//! Terraform's aws_cloudwatch_alarm_mute_rule). A recurring `cron(...)` or
//! one-time `at(...)` schedule, how long each window lasts, and the alarms whose
//! actions it mutes.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{MuteTargets, Rule, Schedule as SdkSchedule};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::kind::{ApplyOptions, Attrs, Issues, Kind, Wanted};
use super::metric_alarm::sdk_tags;
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner};
use crate::aws::{Aws, AwsResultExt, Env};

const SERVICE: &str = "cloudwatch";

/// AWS's timezone when the schedule names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";
/// MuteTargets.AlarmNames holds at most this many names.
pub const MAX_TARGETS: usize = 100;
/// PT1M to P15D, in minutes.
const MIN_DURATION: u64 = 1;
const MAX_DURATION: u64 = 15 * 24 * 60;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the rule mutes, and for how long.
    pub rule: RuleSpec,
    /// The alarms whose actions are muted; `${MetricAlarm/X.name}` orders the
    /// rule after the alarm it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_targets: Option<MuteTargetsSpec>,
    /// RFC 3339 (`2026-04-15T08:00:00Z`), whole minutes: AWS keeps minutes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// RFC 3339, whole minutes; after it the rule is EXPIRED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_date: Option<String>,
    /// Compared only when given; the owner tag is added either way on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSpec {
    pub schedule: ScheduleSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `cron(Minutes Hours Day-of-month Month Day-of-week)`, such as
    /// `cron(0 2 * * SUN)`, or one time: `at(2026-05-10T14:00)`.
    pub expression: String,
    /// ISO 8601, from `PT1M` to `P15D`, such as `PT2H`.
    pub duration: String,
    /// An IANA timezone such as `Asia/Tokyo`; absent means UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuteTargetsSpec {
    /// Alarm names, at most 100; order does not matter.
    pub alarm_names: Vec<String>,
}

/// A mute rule as GetAlarmMuteRule reports it: the spec, plus what AWS adds.
#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub spec: Spec,
    /// SCHEDULED, ACTIVE or EXPIRED: reported, never compared.
    pub status: Option<String>,
}

pub struct AlarmMuteRule;

// ---- normalization ----

/// A duration in minutes, from ISO 8601 `PnW`, or `PnDTnHnMnS` with whole
/// minutes. Months and years have no fixed length, so they are refused.
pub fn duration_minutes(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{s:?} is not an ISO 8601 duration in days, hours and minutes; write it like PT2H, PT30M or P1DT12H"
        )
    };
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(bad()),
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut seconds: u64 = 0;
    let mut read = |part: &str, units: &[(char, u64)]| -> Result<(), String> {
        let mut num = String::new();
        let mut allowed = units.iter();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            // Units in their order, each at most once, each after a number.
            let Some(&(_, secs)) = allowed.by_ref().find(|(u, _)| *u == c) else {
                return Err(bad());
            };
            let n: u64 = num.parse().map_err(|_| bad())?;
            seconds = n
                .checked_mul(secs)
                .and_then(|v| seconds.checked_add(v))
                .ok_or_else(bad)?;
            num.clear();
        }
        if num.is_empty() { Ok(()) } else { Err(bad()) }
    };
    read(date, &[('W', 7 * 86400), ('D', 86400)])?;
    read(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    if !seconds.is_multiple_of(60) {
        return Err(format!(
            "{s:?} is not a whole number of minutes; AWS mutes for whole minutes, from PT1M to P15D"
        ));
    }
    Ok(seconds / 60)
}

/// The one writing of a duration: `P1DT2H30M`, `PT2H`, `P15D`.
pub fn canonical_duration(minutes: u64) -> String {
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut s = String::from("P");
    if d > 0 {
        s.push_str(&format!("{d}D"));
    }
    if h > 0 || m > 0 || d == 0 {
        s.push('T');
        if h > 0 {
            s.push_str(&format!("{h}H"));
        }
        if m > 0 || h == 0 {
            s.push_str(&format!("{m}M"));
        }
    }
    s
}

/// A duration as compared: the canonical writing when it parses, else as written.
fn duration_key(s: &str) -> String {
    duration_minutes(s.trim()).map_or_else(|_| s.trim().to_string(), canonical_duration)
}

/// An RFC 3339 instant, any offset.
pub fn parse_date(s: &str) -> Result<DateTime, String> {
    DateTime::from_str(s.trim(), Format::DateTimeWithOffset).map_err(|_| {
        format!("{s:?} is not an RFC 3339 date and time; write it like 2026-04-15T08:00:00Z")
    })
}

/// The one writing of an instant: UTC, to the second.
pub fn canonical_date(d: &DateTime) -> String {
    DateTime::from_secs(d.secs())
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| d.secs().to_string())
}

fn date_key(s: &str) -> String {
    parse_date(s).map_or_else(|_| s.trim().to_string(), |d| canonical_date(&d))
}

/// Sorted, without repeats: AWS keeps a set of alarm names.
fn targets(spec: &Spec) -> Vec<String> {
    let mut names: Vec<String> = spec
        .mute_targets
        .iter()
        .flat_map(|t| t.alarm_names.iter().map(|n| n.trim().to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn timezone(spec: &Spec) -> &str {
    spec.rule
        .schedule
        .timezone
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_TIMEZONE)
}

/// The normalized form, itself a spec: defaults filled, names sorted, the
/// duration and dates in one writing each.
pub fn canonical(spec: &Spec, tags: Option<&Tags>) -> Value {
    let s = &spec.rule.schedule;
    let mut v = json!({
        "rule": {"schedule": {
            "expression": s.expression.trim(),
            "duration": duration_key(&s.duration),
            "timezone": timezone(spec),
        }},
        "muteTargets": {"alarmNames": targets(spec)},
    });
    let m = v.as_object_mut().expect("object");
    // AWS reports an empty description as none.
    if let Some(d) = spec.description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(d));
    }
    if let Some(d) = &spec.start_date {
        m.insert("startDate".into(), json!(date_key(d)));
    }
    if let Some(d) = &spec.expire_date {
        m.insert("expireDate".into(), json!(date_key(d)));
    }
    if let Some(t) = tags {
        m.insert("tags".into(), json!(t));
    }
    v
}

// ---- validation ----

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One cron field: `*`, or values and ranges (`1-5`, `MON-FRI`) joined by
/// commas, each in `lo..=hi` or one of `names`.
fn cron_field(field: &str, lo: u32, hi: u32, names: &[&str]) -> bool {
    if field == "*" {
        return true;
    }
    let value = |v: &str| {
        v.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n))
            || names.iter().any(|n| n.eq_ignore_ascii_case(v))
    };
    field.split(',').all(|item| match item.split_once('-') {
        Some((a, b)) => value(a) && value(b),
        None => value(item),
    })
}

/// Why an expression is not one AWS takes, if it is not.
pub fn expression_problem(expr: &str) -> Option<String> {
    let e = expr.trim();
    if e.is_empty() || e.chars().count() > 256 {
        return Some("expression is 1 to 256 characters long".into());
    }
    if let Some(body) = e.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 5 {
            return Some(format!(
                "{e:?} has {} fields; a mute rule's cron takes five: cron(Minutes Hours Day-of-month Month Day-of-week), such as cron(0 2 * * SUN) (EventBridge's six-field form with a year is not accepted)",
                fields.len()
            ));
        }
        let specs = [
            ("minutes", 0, 59, &[][..]),
            ("hours", 0, 23, &[][..]),
            ("day-of-month", 1, 31, &[][..]),
            ("month", 1, 12, MONTHS),
            ("day-of-week", 0, 7, DAYS),
        ];
        for (f, (what, lo, hi, names)) in fields.iter().zip(specs) {
            if !cron_field(f, lo, hi, names) {
                return Some(format!(
                    "{e:?}: {f:?} is not a valid {what} field; use *, a value from {lo} to {hi}{}, a range such as 1-5, or a list joined by commas",
                    if names.is_empty() {
                        ""
                    } else if names.len() == 12 {
                        " or JAN-DEC"
                    } else {
                        " or SUN-SAT"
                    }
                ));
            }
        }
        return None;
    }
    if let Some(body) = e.strip_prefix("at(").and_then(|b| b.strip_suffix(')')) {
        // at(yyyy-MM-ddThh:mm): minutes, no seconds, no offset (the timezone field says it).
        let ok = body.len() == 16
            && DateTime::from_str(&format!("{body}:00Z"), Format::DateTime).is_ok();
        return (!ok).then(|| {
            format!(
                "{e:?} is not a one-time schedule AWS takes; write at(yyyy-MM-ddThh:mm), such as at(2026-05-10T14:00), with the timezone in `timezone`"
            )
        });
    }
    Some(format!(
        "{e:?} is neither cron(...) nor at(...); write cron(0 2 * * SUN) for a weekly window or at(2026-05-10T14:00) for one time"
    ))
}

/// An IANA timezone name's shape (`UTC`, `Asia/Tokyo`, `America/Argentina/Buenos_Aires`).
/// The database itself is AWS's; a name it lacks is refused when applied.
pub fn timezone_ok(tz: &str) -> bool {
    let part_ok = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    (1..=50).contains(&tz.len()) && tz.split('/').all(part_ok)
}

fn check_date(path: &str, s: Option<&str>, issues: &mut Issues) -> Option<DateTime> {
    let s = s?;
    match parse_date(s) {
        Err(m) => {
            issues.at(path, m);
            None
        }
        Ok(d) if d.secs() % 60 != 0 || d.subsec_nanos() != 0 => {
            issues.at(
                path,
                format!(
                    "{s:?} has seconds; AWS keeps whole minutes, so write {}",
                    canonical_date(&DateTime::from_secs(d.secs() - d.secs().rem_euclid(60)))
                ),
            );
            None
        }
        Ok(d) => Some(d),
    }
}

impl Kind for AlarmMuteRule {
    const NAME: &'static str = "AlarmMuteRule";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 255, "alarm mute rule")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        let sched = &s.rule.schedule;
        if let Some(m) = expression_problem(&sched.expression) {
            issues.at("rule.schedule.expression", m);
        }
        match duration_minutes(sched.duration.trim()) {
            Err(m) => issues.at("rule.schedule.duration", m),
            Ok(n) if !(MIN_DURATION..=MAX_DURATION).contains(&n) => issues.at(
                "rule.schedule.duration",
                format!(
                    "{:?} is {} than AWS allows; a mute lasts from PT1M (1 minute) to P15D (15 days)",
                    sched.duration,
                    if n < MIN_DURATION { "shorter" } else { "longer" }
                ),
            ),
            Ok(_) => {}
        }
        if let Some(tz) = &sched.timezone
            && !timezone_ok(tz.trim())
        {
            issues.at(
                "rule.schedule.timezone",
                format!(
                    "{tz:?} is not a timezone name; use an IANA name such as Asia/Tokyo, Europe/London or UTC (at most 50 characters)"
                ),
            );
        }
        if let Some(t) = &s.mute_targets {
            if t.alarm_names.len() > MAX_TARGETS {
                issues.at(
                    "muteTargets.alarmNames",
                    format!(
                        "{} alarms are listed; a mute rule targets at most {MAX_TARGETS}: split them across several rules",
                        t.alarm_names.len()
                    ),
                );
            }
            for (i, n) in t.alarm_names.iter().enumerate() {
                if let Err(m) = super::kind::check_no_control(n.trim(), 255, "alarm") {
                    issues.at(
                        &format!("muteTargets.alarmNames[{i}]"),
                        format!("an alarm name {m}"),
                    );
                }
            }
        }
        if let Some(d) = &s.description
            && d.chars().count() > 1024
        {
            issues.at(
                "description",
                "description is longer than the 1024 characters AWS allows",
            );
        }
        let start = check_date("startDate", s.start_date.as_deref(), issues);
        let expire = check_date("expireDate", s.expire_date.as_deref(), issues);
        if let (Some(a), Some(b)) = (start, expire)
            && b.secs() <= a.secs()
        {
            issues.at(
                "expireDate",
                "expireDate is not after startDate; the rule would never take effect: move expireDate later or remove it",
            );
        }
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

    fn notes(live: &Live) -> Vec<String> {
        match live.status.as_deref() {
            Some("EXPIRED") => vec![
                "the rule has expired (past its expireDate) and mutes nothing; move expireDate later or delete the rule".into(),
            ],
            _ => Vec::new(),
        }
    }

    fn to_spec(live: &Live) -> Spec {
        let mut spec = live.spec.clone();
        super::tags::strip_owner(&mut spec.tags);
        spec
    }

    const TAGS: Option<TagApi> = Some(TAGS);

    crate::kinds::tags::accessors!(id: arn, live: opt spec.tags, spec: opt tags);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // ListAlarmMuteRules is one walk for the account, but its summaries carry
        // only the ARN, status, type and dates: no schedule, no targets, no
        // description. So GetAlarmMuteRule reads each wanted rule the list shows.
        let cw = &aws.clients.cloudwatch;
        let mut names = Vec::new();
        let mut pages = cw
            .list_alarm_mute_rules()
            .max_records(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.try_next().await.aws(SERVICE, "ListAlarmMuteRules")? {
            for s in page.alarm_mute_rule_summaries() {
                let Some(name) = s.alarm_mute_rule_arn().and_then(name_of_arn) else {
                    continue;
                };
                if wanted.contains(name) {
                    names.push(name.to_string());
                }
            }
        }
        let mut out = BTreeMap::new();
        for name in names {
            let got = cw
                .get_alarm_mute_rule()
                .alarm_mute_rule_name(&name)
                .send()
                .await
                .aws(SERVICE, "GetAlarmMuteRule");
            let r = match got {
                Ok(r) => r,
                // Deleted between the list and the read: absent.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let arn = r
                .alarm_mute_rule_arn()
                .map(str::to_string)
                .unwrap_or_else(|| rule_arn(&aws.env, &name));
            out.insert(
                name.clone(),
                Live {
                    spec: spec_from_live(&r),
                    status: r.status().map(|s| s.as_str().to_string()),
                    name,
                    arn,
                },
            );
        }
        Ok(out)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        put(aws, name, spec, live, live.is_none()).await
    }

    async fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
        opts: &ApplyOptions,
    ) -> Result<Attrs, KindError> {
        // The planner's diff decides: tags alone are synced by the engine afterwards.
        let config_changed = live.is_none() || opts.fields.iter().any(|f| !f.in_tags());
        put(aws, name, spec, live, config_changed).await
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        let result = aws
            .clients
            .cloudwatch
            .delete_alarm_mute_rule()
            .alarm_mute_rule_name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteAlarmMuteRule");
        match result {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// PutAlarmMuteRule with the whole desired rule (it replaces, so nothing is left
/// to how AWS treats an omitted member), when `config_changed`.
async fn put(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
    config_changed: bool,
) -> Result<Attrs, KindError> {
    let arn = live.map_or_else(|| rule_arn(&aws.env, name), |l| l.arn.clone());
    if !config_changed {
        return Ok(Attrs::arn_and_name(&arn, name));
    }
    let s = &spec.rule.schedule;
    let schedule = SdkSchedule::builder()
        .expression(s.expression.trim())
        .duration(s.duration.trim())
        .set_timezone(s.timezone.as_deref().map(|t| t.trim().to_string()))
        .build();
    let names = targets(spec);
    let date = |d: &Option<String>| -> Result<Option<DateTime>, KindError> {
        d.as_deref()
            .map(parse_date)
            .transpose()
            .map_err(|m| KindError::Invalid(format!("{name}: {m}")))
    };
    // Tags count at creation only; the engine syncs an update's tags.
    let create_tags = match live {
        None => with_owner(spec.tags.as_ref().unwrap_or(&Tags::new()), &aws.env),
        Some(_) => Tags::new(),
    };
    aws.clients
        .cloudwatch
        .put_alarm_mute_rule()
        .name(name)
        .set_description(spec.description.clone().filter(|d| !d.is_empty()))
        .rule(Rule::builder().schedule(schedule).build())
        .set_mute_targets(if names.is_empty() {
            None
        } else {
            Some(MuteTargets::builder().set_alarm_names(Some(names)).build())
        })
        .set_start_date(date(&spec.start_date)?)
        .set_expire_date(date(&spec.expire_date)?)
        .set_tags((!create_tags.is_empty()).then(|| sdk_tags(&create_tags)))
        .send()
        .await
        .aws(SERVICE, "PutAlarmMuteRule")?;
    Ok(Attrs::arn_and_name(&arn, name))
}

/// `arn:aws:cloudwatch:REGION:ACCOUNT:alarm-mute-rule:NAME` (the API Reference's IAM example).
pub fn rule_arn(env: &Env, name: &str) -> String {
    format!(
        "arn:aws:cloudwatch:{}:{}:alarm-mute-rule:{name}",
        env.region, env.account_id
    )
}

/// The rule's name from its ARN: the summaries of ListAlarmMuteRules carry no name.
/// Names may hold `:`, so everything after the resource type is the name.
pub fn name_of_arn(arn: &str) -> Option<&str> {
    arn.split_once(":alarm-mute-rule:")
        .map(|(_, n)| n)
        .filter(|n| !n.is_empty())
}

pub(crate) fn spec_from_live(
    r: &aws_sdk_cloudwatch::operation::get_alarm_mute_rule::GetAlarmMuteRuleOutput,
) -> Spec {
    let s = r.rule().and_then(|r| r.schedule());
    let names = r
        .mute_targets()
        .map(|t| t.alarm_names().to_vec())
        .unwrap_or_default();
    Spec {
        description: r
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        rule: RuleSpec {
            schedule: ScheduleSpec {
                expression: s.and_then(|s| s.expression()).unwrap_or_default().into(),
                duration: s.and_then(|s| s.duration()).unwrap_or_default().into(),
                timezone: s.and_then(|s| s.timezone()).map(str::to_string),
            },
        },
        mute_targets: (!names.is_empty()).then_some(MuteTargetsSpec { alarm_names: names }),
        start_date: r.start_date().map(canonical_date),
        expire_date: r.expire_date().map(canonical_date),
        tags: None,
    }
}

/// CloudWatch's tag API for mute rules: TagResource, UntagResource and
/// ListTagsForResource take the rule's ARN (Terraform's
/// aws_cloudwatch_alarm_mute_rule tags through them). Read through the
/// Resource Groups Tagging API by ARN list, 100 a call; AWS documents no
/// `cloudwatch:alarm-mute-rule` type for it, so when it returns none of the
/// rules they are read one ListTagsForResource each. Never by type walk:
/// `listed` stays unknown, so an unsupported type filter is never sent.
pub(super) const TAGS: TagApi = TagApi {
    rules: AWS_RULES,
    read: Read::BatchedOrEach {
        filter: "cloudwatch:alarm-mute-rule",
        list: list_tags,
    },
    write: Write::Delta {
        tag: tag_resource,
        untag: untag_resource,
    },
};

super::tags::tag_api! {
    client: cloudwatch, service: SERVICE, id: resource_arn, sdk_tag: aws_sdk_cloudwatch::types::Tag;
    list: fn list_tags = list_tags_for_resource("ListTagsForResource");
    tag: fn tag_resource = tag_resource("TagResource");
    untag: fn untag_resource = untag_resource("UntagResource");
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
