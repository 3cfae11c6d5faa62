//! Waiting for a stack operation, printing its events as they arrive (like
//! `aws cloudformation deploy`, so a ten-minute stack is not a silent
//! terminal), and finding the reason when it fails.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::types::{Stack, StackEvent};

use crate::aws::{Aws, AwsError, AwsResultExt, Condition};

use super::service::SERVICE;

/// Poll intervals: the first check is immediate (moto finishes at once), then
/// `first`, growing by half each time up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Give up after this long; CloudFormation's own timeouts normally end an operation first.
    pub limit: Duration,
}

impl Backoff {
    pub const STACK: Backoff = Backoff {
        first: Duration::from_secs(2),
        max: Duration::from_secs(10),
        limit: Duration::from_secs(3 * 3600),
    };

    /// For change sets and drift detection, which take seconds.
    pub const QUICK: Backoff = Backoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(5),
        limit: Duration::from_secs(15 * 60),
    };

    #[cfg(test)]
    pub const NONE: Backoff = Backoff {
        first: Duration::ZERO,
        max: Duration::ZERO,
        limit: Duration::from_secs(5),
    };

    pub fn next(&self, current: Duration) -> Duration {
        if current.is_zero() {
            self.first
        } else {
            (current + current / 2).min(self.max)
        }
    }
}

/// How a stack status bears on what vigil may do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Stable and updatable.
    Ready,
    /// An operation is running; try again when it ends.
    Busy,
    /// Creation failed and rolled back (or could not): only delete and recreate help.
    NeedsRecreate,
    /// The rollback of an update failed; a person must continue the rollback.
    UpdateRollbackFailed,
    /// A delete failed; resources are left behind.
    DeleteFailed,
    /// Created by a change set that was never executed.
    Review,
    Deleted,
}

impl Health {
    pub fn of(status: &str) -> Health {
        match status {
            "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "IMPORT_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE" => Health::Ready,
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => Health::NeedsRecreate,
            "UPDATE_ROLLBACK_FAILED" | "IMPORT_ROLLBACK_FAILED" | "UPDATE_FAILED" => {
                Health::UpdateRollbackFailed
            }
            "DELETE_FAILED" => Health::DeleteFailed,
            "REVIEW_IN_PROGRESS" => Health::Review,
            "DELETE_COMPLETE" => Health::Deleted,
            s if s.ends_with("_IN_PROGRESS") => Health::Busy,
            _ => Health::Busy,
        }
    }
}

/// The status name, or an empty string.
pub fn status_of(s: &Stack) -> String {
    s.stack_status()
        .map(|st| st.as_str().to_string())
        .unwrap_or_default()
}

/// One line of progress: `  3s  WebServer  AWS::EC2::Instance  CREATE_IN_PROGRESS  reason`.
pub fn format_event(elapsed: Duration, e: &StackEvent) -> String {
    let mut line = format!(
        "{:>6}  {:<32} {:<36} {}",
        format_elapsed(elapsed),
        e.logical_resource_id().unwrap_or("?"),
        e.resource_type().unwrap_or("?"),
        e.resource_status().map(|s| s.as_str()).unwrap_or("?"),
    );
    if let Some(r) = e.resource_status_reason().filter(|r| !r.is_empty()) {
        line.push_str("  ");
        line.push_str(r);
    }
    line.trim_end().to_string()
}

pub fn format_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Events of one operation, gathered across polls.
pub struct Watch<'a> {
    aws: &'a Aws,
    stack_id: String,
    token: String,
    started: SystemTime,
    seen: HashSet<String>,
    /// This operation's events, oldest first.
    pub events: Vec<StackEvent>,
    /// Prints progress to stderr; stdout carries the report.
    pub print: bool,
}

impl<'a> Watch<'a> {
    pub fn new(aws: &'a Aws, stack_id: &str, token: &str, started: SystemTime) -> Self {
        Watch {
            aws,
            stack_id: stack_id.to_string(),
            token: token.to_string(),
            started,
            seen: HashSet::new(),
            events: Vec::new(),
            print: true,
        }
    }

    /// Whether an event belongs to this operation: AWS stamps our token on its
    /// events; where it does not (moto), those from its start on count.
    fn ours(&self, e: &StackEvent) -> bool {
        match e.client_request_token().filter(|t| !t.is_empty()) {
            Some(t) => t == self.token,
            None => e
                .timestamp()
                .and_then(|t| SystemTime::try_from(*t).ok())
                // Allow for a few seconds of clock skew between here and AWS.
                .is_some_and(|t| t + Duration::from_secs(5) >= self.started),
        }
    }

    /// Reads new events (newest first from AWS, so page until one is known or older).
    pub async fn poll(&mut self) -> Result<(), AwsError> {
        let mut fresh = Vec::new();
        // Pages are fetched lazily: the walk ends at the first event already seen.
        let mut events = self
            .aws
            .clients
            .cloudformation
            .describe_stack_events()
            .stack_name(&self.stack_id)
            .into_paginator()
            .items()
            .send();
        while let Some(e) = events
            .try_next()
            .await
            .aws(SERVICE, "DescribeStackEvents")?
        {
            let id = e.event_id().unwrap_or_default().to_string();
            if self.seen.contains(&id) || !self.ours(&e) {
                break;
            }
            self.seen.insert(id);
            fresh.push(e);
        }
        fresh.reverse();
        for e in fresh {
            if self.print {
                let elapsed = e
                    .timestamp()
                    .and_then(|t| SystemTime::try_from(*t).ok())
                    .and_then(|t| t.duration_since(self.started).ok())
                    .unwrap_or_default();
                eprintln!("{}", format_event(elapsed, &e));
            }
            self.events.push(e);
        }
        Ok(())
    }

    /// The first failure of this operation, oldest first: usually the cause,
    /// where later ones say "Resource creation cancelled".
    pub fn first_failure(&self) -> Option<String> {
        let failed = |e: &&StackEvent| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
                && e.resource_status_reason().is_some_and(|r| !r.is_empty())
        };
        let resource_level = |e: &&StackEvent| {
            e.resource_type() != Some("AWS::CloudFormation::Stack")
                || e.logical_resource_id() != e.stack_name()
        };
        let pick = self
            .events
            .iter()
            .filter(failed)
            .find(resource_level)
            .or_else(|| self.events.iter().find(failed))?;
        Some(format!(
            "{} ({}) {}: {}",
            pick.logical_resource_id().unwrap_or("?"),
            pick.resource_type().unwrap_or("?"),
            pick.resource_status().map(|s| s.as_str()).unwrap_or("?"),
            pick.resource_status_reason().unwrap_or_default()
        ))
    }
}

/// Describes one stack by its id. By id, CloudFormation still describes a
/// deleted stack (as DELETE_COMPLETE), so a missing answer is an error.
pub async fn describe(aws: &Aws, stack_id: &str) -> Result<Option<Stack>, AwsError> {
    let out = aws
        .clients
        .cloudformation
        .describe_stacks()
        .stack_name(stack_id)
        .send()
        .await
        .aws(SERVICE, "DescribeStacks")?;
    Ok(out.stacks().first().cloned())
}

/// Waits until the operation leaves `*_IN_PROGRESS`, printing events. Returns
/// the final description when the status is one of `success`, otherwise an
/// error naming the first failing resource and its reason.
pub async fn wait(
    aws: &Aws,
    name: &str,
    stack_id: &str,
    token: &str,
    started: SystemTime,
    success: &[&str],
    backoff: Backoff,
) -> Result<Option<Stack>, AwsError> {
    let mut watch = Watch::new(aws, stack_id, token, started);
    let clock = std::time::Instant::now();
    let mut delay = Duration::ZERO;
    loop {
        let stack = describe(aws, stack_id).await?;
        watch.poll().await?;
        let status = stack
            .as_ref()
            .map(status_of)
            .unwrap_or_else(|| "DELETE_COMPLETE".to_string());
        if !status.ends_with("_IN_PROGRESS") {
            if success.contains(&status.as_str()) {
                return Ok(stack);
            }
            let reason = watch
                .first_failure()
                .or_else(|| {
                    stack
                        .as_ref()
                        .and_then(|s| s.stack_status_reason())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "CloudFormation gave no reason".to_string());
            return Err(AwsError::raised(
                SERVICE,
                "Wait",
                Condition::OperationFailed,
                format!(
                    "stack {name} ended in {status}; first failure: {reason}{}",
                    after_failure(name, &status)
                ),
            ));
        }
        if clock.elapsed() > backoff.limit {
            return Err(AwsError::raised(
                SERVICE,
                "Wait",
                Condition::WaitTimedOut,
                format!(
                    "stack {name} is still {status} after {}; vigil stopped waiting, CloudFormation carries on",
                    format_elapsed(clock.elapsed())
                ),
            ));
        }
        delay = backoff.next(delay);
        tokio::time::sleep(delay).await;
    }
}

/// What the user can do once an operation ended in `status`.
pub fn after_failure(name: &str, status: &str) -> String {
    match Health::of(status) {
        Health::NeedsRecreate => format!(
            ". A stack in {status} cannot be updated: delete it (aws cloudformation delete-stack --stack-name {name}), or set the annotation vigil/recreate-on-rollback: \"true\" to let vigil delete and recreate it"
        ),
        Health::UpdateRollbackFailed => update_rollback_failed(name),
        _ => String::new(),
    }
}

pub fn update_rollback_failed(name: &str) -> String {
    format!(
        ". CloudFormation could not roll back the update, so the stack cannot be updated. Fix the resources named above, then run `aws cloudformation continue-update-rollback --stack-name {name}` (add --resources-to-skip for those that cannot be fixed); vigil updates it again once it is UPDATE_ROLLBACK_COMPLETE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn event(id: &str, ty: &str, status: ResourceStatus, reason: Option<&str>) -> StackEvent {
        StackEvent::builder()
            .event_id(format!("{id}-{}", status.as_str()))
            .stack_name("lab")
            .logical_resource_id(id)
            .resource_type(ty)
            .resource_status(status)
            .set_resource_status_reason(reason.map(str::to_string))
            .build()
    }

    #[test]
    fn progress_lines() {
        let e = event(
            "WebServer",
            "AWS::EC2::Instance",
            ResourceStatus::CreateInProgress,
            None,
        );
        let line = format_event(Duration::from_secs(3), &e);
        assert!(line.starts_with("    3s  WebServer "), "{line:?}");
        assert!(
            line.ends_with("AWS::EC2::Instance                   CREATE_IN_PROGRESS"),
            "{line:?}"
        );
        assert_eq!(format_elapsed(Duration::from_secs(605)), "10m05s");
    }

    #[test]
    fn statuses_sort_into_what_vigil_may_do() {
        assert_eq!(Health::of("UPDATE_ROLLBACK_COMPLETE"), Health::Ready);
        assert_eq!(Health::of("ROLLBACK_COMPLETE"), Health::NeedsRecreate);
        assert_eq!(
            Health::of("UPDATE_ROLLBACK_FAILED"),
            Health::UpdateRollbackFailed
        );
        assert_eq!(
            Health::of("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Health::Busy
        );
        assert_eq!(Health::of("REVIEW_IN_PROGRESS"), Health::Review);
    }

    #[test]
    fn backoff_grows_to_its_cap() {
        let b = Backoff::STACK;
        let mut d = Duration::ZERO;
        let steps: Vec<u64> = (0..6)
            .map(|_| {
                d = b.next(d);
                d.as_secs()
            })
            .collect();
        assert_eq!(steps, vec![2, 3, 4, 6, 10, 10]);
    }
}
