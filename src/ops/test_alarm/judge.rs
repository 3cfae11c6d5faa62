//! Where the tested state's notifications go, judged from the live alarm and the
//! subscriptions of its topics, read before. Pure: no AWS call here.

use std::collections::HashMap;

use super::model::{ActionCheck, AlarmTest};
use crate::aws::AwsError;
use crate::ops::{LiveAlarm, TopicSubscriptions, actions_field, sns_arn_parts};

/// Each same-account topic's subscriptions by ARN; `Ok(None)` when the topic is absent.
pub(super) type Subscriptions = HashMap<String, Result<Option<TopicSubscriptions>, AwsError>>;

/// Where the tested state's notifications go. Pure: subscriptions were read before.
pub(super) fn judge(
    l: &LiveAlarm,
    state: &str,
    region: &str,
    account: &str,
    subs: &Subscriptions,
    t: &mut AlarmTest,
) {
    let actions = l.actions_for(state);
    t.actions_enabled = Some(l.actions_enabled);
    if !l.actions_enabled {
        t.problems.push(
            "actions are disabled (actionsEnabled: false): CloudWatch runs no action on a state change, so notifications reach nobody"
                .into(),
        );
    }
    if actions.is_empty() {
        t.problems.push(format!(
            "notifications reach nobody: the alarm has no {state} action ({} is empty)",
            actions_field(state)
        ));
    }
    let mut reaches = false;
    let mut topic_msgs = Vec::new();
    for arn in actions {
        let (check, reached, msg) = follow(arn, region, account, subs, t);
        reaches |= reached;
        topic_msgs.extend(msg);
        t.actions.push(check);
    }
    if !actions.is_empty() && !reaches {
        t.problems.push(format!(
            "notifications reach nobody: no {state} action leads to a confirmed subscription"
        ));
        t.problems.extend(topic_msgs);
    } else {
        t.warnings.extend(topic_msgs);
    }
}

/// Where one action leads: its check, whether it may reach someone, and why a
/// topic reaches nobody. Notes and warnings go on `t` as they are found.
fn follow(
    arn: &str,
    region: &str,
    account: &str,
    subs: &Subscriptions,
    t: &mut AlarmTest,
) -> (ActionCheck, bool, Option<String>) {
    let Some((r, acct, topic)) = sns_arn_parts(arn) else {
        t.notes.push(format!(
            "{arn}: not an SNS topic; vigil does not follow where it leads"
        ));
        return (ActionCheck::unfollowed(arn, "other", None), true, None);
    };
    let mut check = ActionCheck::unfollowed(arn, "sns", Some(topic.to_string()));
    if r != region || acct != account {
        t.notes.push(format!(
            "topic {topic} is in account {acct}, region {r}: its subscriptions were not checked"
        ));
        return (check, true, None);
    }
    let (reaches, msg) = match subs.get(arn) {
        Some(Ok(None)) => {
            check.checked = true;
            check.exists = Some(false);
            (
                false,
                Some(format!(
                    "topic {topic} does not exist, so SNS delivers nothing"
                )),
            )
        }
        Some(Ok(Some(s))) => {
            check.checked = true;
            check.exists = Some(true);
            check.confirmed = s.confirmed.clone();
            check.pending = s.pending.clone();
            (!s.confirmed.is_empty(), unconfirmed(topic, s))
        }
        Some(Err(e)) => {
            t.warnings.push(format!(
                "topic {topic}: its subscriptions could not be read: {e}"
            ));
            (true, None)
        }
        None => (true, None),
    };
    (check, reaches, msg)
}

/// Why a topic that exists reaches nobody; `None` when someone confirmed.
fn unconfirmed(topic: &str, s: &TopicSubscriptions) -> Option<String> {
    if !s.confirmed.is_empty() {
        None
    } else if s.pending.is_empty() {
        Some(format!(
            "topic {topic} has no subscription, so SNS delivers to nobody"
        ))
    } else {
        let list: Vec<String> = s.pending.iter().map(ToString::to_string).collect();
        Some(format!(
            "topic {topic} has no confirmed subscription: {} pending confirmation ({}); SNS delivers nothing until someone confirms",
            s.pending.len(),
            list.join(", ")
        ))
    }
}
