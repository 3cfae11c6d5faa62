//! The DescribeAlarms walk every alarm kind (metric, composite, log) observes
//! through (and the daily report reads): one paginated walk of the account a
//! cycle, asking for the three alarm types at once, or the wanted alarms by
//! name when that is fewer calls. Start at [`wanted_alarms`].

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_cloudwatch::types::AlarmType;

use super::kind::Wanted;
use crate::aws::{Aws, AwsError, AwsResultExt};

const SERVICE: &str = "cloudwatch";

/// Without AlarmTypes DescribeAlarms returns metric alarms only.
pub const ALARM_TYPES: [AlarmType; 3] = [
    AlarmType::MetricAlarm,
    AlarmType::CompositeAlarm,
    AlarmType::LogAlarm,
];

pub use crate::aws::memo::AlarmPages;

impl AlarmPages {
    /// Moves a page's alarms in, not cloned: thousands of alarms stay one copy.
    fn take(
        &mut self,
        mut out: aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput,
    ) {
        let metric = out.metric_alarms.take().unwrap_or_default();
        self.metric.reserve(metric.len());
        for a in metric {
            if let Some(n) = a.alarm_name().map(str::to_string) {
                self.metric.insert(n, Box::new(a));
            }
        }
        for a in out.composite_alarms.take().unwrap_or_default() {
            if let Some(n) = a.alarm_name().map(str::to_string) {
                self.composite.insert(n, a);
            }
        }
        for a in out.log_alarms.take().unwrap_or_default() {
            if let Some(n) = a.alarm_name().map(str::to_string) {
                self.log.insert(n, a);
            }
        }
        self.listed = self.metric.len() + self.composite.len() + self.log.len();
    }

    /// The alarms of `table` that `wanted` asks for, borrowed.
    pub(crate) fn wanted<'t, A>(
        table: &'t HashMap<String, A>,
        wanted: &Wanted,
    ) -> Vec<(&'t String, &'t A)> {
        if wanted.all {
            return table.iter().collect();
        }
        wanted
            .specs
            .keys()
            .filter_map(|n| table.get_key_value(n))
            .collect()
    }
}

/// DescribeAlarms for the three alarm types over the whole account, 100 a
/// page; one walk a cycle, shared by the alarm kinds.
pub async fn all_alarms(aws: &Aws) -> Result<Arc<AlarmPages>, AwsError> {
    aws.memo
        .alarms
        .get_or_init(|| async {
            let mut pages = AlarmPages::default();
            let mut walk = aws
                .clients
                .cloudwatch
                .describe_alarms()
                .set_alarm_types(Some(ALARM_TYPES.to_vec()))
                .max_records(100)
                .into_paginator()
                .send();
            while let Some(out) = walk.next().await {
                pages.take(out.aws(SERVICE, "DescribeAlarms")?);
            }
            Ok(Arc::new(pages))
        })
        .await
        .clone()
}

/// DescribeAlarms is limited to this many names a call.
const NAMES_PER_CALL: usize = 100;

/// The alarms of these names only, 100 names a call.
pub async fn alarms_named(aws: &Aws, names: &[&String]) -> Result<AlarmPages, AwsError> {
    let mut pages = AlarmPages::default();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let out = aws
            .clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.iter().map(|n| n.to_string()).collect()))
            .set_alarm_types(Some(ALARM_TYPES.to_vec()))
            .max_records(100)
            .send()
            .await
            .aws(SERVICE, "DescribeAlarms")?;
        pages.take(out);
    }
    Ok(pages)
}

/// Whether to walk every alarm rather than ask for the wanted ones by name.
/// Names cost one call per 100 whatever the account holds; a walk, one per
/// 100 alarms in the account. How many the account held is remembered from
/// the last walk (`population`); without it, a walk once more than 100 are wanted.
pub fn walk_everything(wanted: &Wanted) -> bool {
    let n = wanted.specs.len();
    match wanted.population {
        _ if wanted.all => true,
        Some(total) => total.div_ceil(NAMES_PER_CALL) <= n.div_ceil(NAMES_PER_CALL),
        None => n > NAMES_PER_CALL,
    }
}

/// The alarms an observe needs: the shared walk, or the wanted names.
pub async fn wanted_alarms(aws: &Aws, wanted: &Wanted) -> Result<Arc<AlarmPages>, AwsError> {
    // A walk this cycle already made (the daily report's) answers for free.
    if let Some(Ok(pages)) = aws.memo.alarms.get() {
        return Ok(pages.clone());
    }
    if walk_everything(wanted) {
        return all_alarms(aws).await;
    }
    let names: Vec<&String> = wanted.specs.keys().collect();
    Ok(Arc::new(alarms_named(aws, &names).await?))
}

/// How many alarms of the three types the cycle's DescribeAlarms walk saw.
pub(crate) fn alarms_listed(aws: &Aws) -> Option<usize> {
    match aws.memo.alarms.get() {
        Some(Ok(p)) => Some(p.listed),
        _ => None,
    }
}
