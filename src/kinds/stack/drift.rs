//! CloudFormation drift detection: which resources of a stack were changed
//! outside CloudFormation. moto lacks these APIs; the tests replay AWS's shapes.

use std::time::Duration;

use aws_sdk_cloudformation::types::{
    DifferenceType, StackDriftDetectionStatus, StackResourceDriftStatus,
};
use serde::Serialize;

use super::events::Backoff;
use super::service::SERVICE;
use crate::aws::{Aws, AwsError, AwsResultExt, Condition};

/// A resource's drift status as CloudFormation reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriftStatus {
    InSync,
    Modified,
    Deleted,
    /// CloudFormation did not check it (the type does not support drift detection):
    /// unknown, not clean.
    NotChecked,
    /// A status this version of vigil does not know.
    Unknown,
}

impl DriftStatus {
    fn from_sdk(s: Option<&StackResourceDriftStatus>) -> Self {
        match s {
            Some(StackResourceDriftStatus::InSync) => DriftStatus::InSync,
            Some(StackResourceDriftStatus::Modified) => DriftStatus::Modified,
            Some(StackResourceDriftStatus::Deleted) => DriftStatus::Deleted,
            Some(StackResourceDriftStatus::NotChecked) => DriftStatus::NotChecked,
            _ => DriftStatus::Unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDifference {
    pub property_path: String,
    pub expected_value: Option<String>,
    pub actual_value: Option<String>,
    /// ADD, REMOVE or NOT_EQUAL.
    pub difference_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDrift {
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub resource_type: String,
    pub status: DriftStatus,
    pub differences: Vec<PropertyDifference>,
}

/// The result of one drift detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackDrift {
    pub stack_name: String,
    /// DRIFTED, IN_SYNC, UNKNOWN or NOT_CHECKED for the stack as a whole.
    pub stack_drift_status: String,
    /// Why detection failed, when it did for some resources.
    pub detection_status_reason: Option<String>,
    pub resources: Vec<ResourceDrift>,
}

impl StackDrift {
    /// Resources changed or deleted outside CloudFormation.
    pub fn drifted(&self) -> impl Iterator<Item = &ResourceDrift> {
        self.resources
            .iter()
            .filter(|r| matches!(r.status, DriftStatus::Modified | DriftStatus::Deleted))
    }

    /// Resources whose state is unknown.
    pub fn unknown(&self) -> impl Iterator<Item = &ResourceDrift> {
        self.resources
            .iter()
            .filter(|r| matches!(r.status, DriftStatus::NotChecked | DriftStatus::Unknown))
    }

    pub fn has_drift(&self) -> bool {
        self.drifted().next().is_some()
    }

    /// One line per drifted or unknown resource, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in self.drifted() {
            let status = match r.status {
                DriftStatus::Deleted => "DELETED",
                _ => "MODIFIED",
            };
            let mut line = format!("{} ({}) {status}", r.logical_resource_id, r.resource_type);
            let diffs: Vec<String> = r
                .differences
                .iter()
                .map(|d| {
                    format!(
                        "{}: {} -> {}",
                        d.property_path,
                        d.expected_value.as_deref().unwrap_or("(none)"),
                        d.actual_value.as_deref().unwrap_or("(none)")
                    )
                })
                .collect();
            if !diffs.is_empty() {
                line.push_str(": ");
                line.push_str(&diffs.join("; "));
            }
            out.push(line);
        }
        for r in self.unknown() {
            out.push(format!(
                "{} ({}) NOT_CHECKED: drift unknown; CloudFormation cannot check this resource",
                r.logical_resource_id, r.resource_type
            ));
        }
        if let Some(reason) = &self.detection_status_reason {
            out.push(format!("detection incomplete: {reason}"));
        }
        out
    }
}

/// Runs DetectStackDrift, waits for it, and reads every resource's drift.
pub async fn detect_drift(aws: &Aws, name: &str) -> Result<StackDrift, AwsError> {
    detect_drift_with(aws, name, Backoff::QUICK).await
}

pub async fn detect_drift_with(
    aws: &Aws,
    name: &str,
    backoff: Backoff,
) -> Result<StackDrift, AwsError> {
    let cf = &aws.clients.cloudformation;
    let id = cf
        .detect_stack_drift()
        .stack_name(name)
        .send()
        .await
        .aws(SERVICE, "DetectStackDrift")?
        .stack_drift_detection_id
        .ok_or_else(|| {
            AwsError::unexpected(
                SERVICE,
                "DetectStackDrift",
                "no detection id in the response",
            )
        })?;
    let clock = std::time::Instant::now();
    let mut delay = Duration::ZERO;
    let status = loop {
        let s = cf
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .aws(SERVICE, "DescribeStackDriftDetectionStatus")?;
        if s.detection_status() != Some(&StackDriftDetectionStatus::DetectionInProgress) {
            break s;
        }
        if clock.elapsed() > backoff.limit {
            return Err(AwsError::raised(
                SERVICE,
                "DescribeStackDriftDetectionStatus",
                Condition::WaitTimedOut,
                "drift detection did not finish in time",
            ));
        }
        delay = backoff.next(delay);
        tokio::time::sleep(delay).await;
    };
    let mut resources = Vec::new();
    let mut pages = cf
        .describe_stack_resource_drifts()
        .stack_name(name)
        .into_paginator()
        .send();
    while let Some(out) = pages
        .try_next()
        .await
        .aws(SERVICE, "DescribeStackResourceDrifts")?
    {
        for r in out.stack_resource_drifts() {
            resources.push(ResourceDrift {
                logical_resource_id: r.logical_resource_id().unwrap_or_default().to_string(),
                physical_resource_id: r.physical_resource_id().map(str::to_string),
                resource_type: r.resource_type().unwrap_or_default().to_string(),
                status: DriftStatus::from_sdk(r.stack_resource_drift_status()),
                differences: r
                    .property_differences()
                    .iter()
                    .map(|d| PropertyDifference {
                        property_path: d.property_path().unwrap_or_default().to_string(),
                        expected_value: d.expected_value().map(str::to_string),
                        actual_value: d.actual_value().map(str::to_string),
                        difference_type: d
                            .difference_type()
                            .map(DifferenceType::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    })
                    .collect(),
            });
        }
    }
    resources.sort_by(|a, b| a.logical_resource_id.cmp(&b.logical_resource_id));
    Ok(StackDrift {
        stack_name: name.to_string(),
        stack_drift_status: status
            .stack_drift_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        detection_status_reason: if status.detection_status()
            == Some(&StackDriftDetectionStatus::DetectionFailed)
        {
            status.detection_status_reason().map(str::to_string)
        } else {
            None
        },
        resources,
    })
}
