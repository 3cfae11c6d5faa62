//! `ConfigurationRecorder`: the AWS Config recorder, and whether it records.
//!
//! `recording` maps to StartConfigurationRecorder and StopConfigurationRecorder.
//! AWS starts a recorder only once a delivery channel exists, and the channel
//! can only be created after the recorder: so `apply` puts the recorder (and
//! stops it), and `finalize`, which runs after every other resource, starts it.
//!
//! The recorder carries no owner tag: AWS accepts tags on it, but moto 5.2.5
//! drops them on PutConfigurationRecorder, returns no recorder ARN, and refuses
//! TagResource on one. An account has at most one customer managed recorder,
//! so its name identifies it.

use std::collections::BTreeMap;

use aws_sdk_config::types as cfg;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::config_rule::check_resource_type;
use super::error::KindError;
use super::{Attrs, Issues, Kind, Wanted};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};
use crate::diff::FieldDiff;
use crate::failpoint;

const SERVICE: &str = "config";

const ALL_SUPPORTED: &str = "ALL_SUPPORTED_RESOURCE_TYPES";
const INCLUSION: &str = "INCLUSION_BY_RESOURCE_TYPES";
const EXCLUSION: &str = "EXCLUSION_BY_RESOURCE_TYPES";
const CONTINUOUS: &str = "CONTINUOUS";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The role AWS Config assumes, usually `${Role/ConfigServiceRole.arn}`.
    /// AWS spells the member `roleARN`; both are accepted.
    #[serde(alias = "roleARN")]
    pub role_arn: String,
    /// Absent means AWS's default: every supported type, without the global IAM types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_group: Option<RecordingGroup>,
    /// Absent means continuous recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_mode: Option<RecordingMode>,
    /// Start (true) or stop (false) the recorder. Absent leaves it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingGroup {
    /// As in the API, false when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_global_resource_types: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_by_resource_types: Option<ExclusionByResourceTypes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_strategy: Option<RecordingStrategy>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExclusionByResourceTypes {
    #[serde(default)]
    pub resource_types: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingStrategy {
    pub use_only: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingMode {
    pub recording_frequency: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recording_mode_overrides: Vec<RecordingModeOverride>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingModeOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub resource_types: Vec<String>,
    pub recording_frequency: String,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    /// Absent from older APIs and from moto.
    pub arn: Option<String>,
    /// `recording` is always known here.
    pub spec: Spec,
    /// Why the last recording attempt failed, if it did.
    pub failure: Option<String>,
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The recording group with AWS's defaults filled in and the strategy made explicit.
fn group_canonical(g: Option<&RecordingGroup>) -> Value {
    let Some(g) = g else {
        return json!({
            "allSupported": true,
            "includeGlobalResourceTypes": false,
            "resourceTypes": [],
            "exclusionByResourceTypes": {"resourceTypes": []},
            "recordingStrategy": {"useOnly": ALL_SUPPORTED},
        });
    };
    let all = g.all_supported.unwrap_or(false);
    let excluded = g
        .exclusion_by_resource_types
        .as_ref()
        .map(|e| sorted(&e.resource_types))
        .unwrap_or_default();
    let strategy = match &g.recording_strategy {
        Some(s) => s.use_only.as_str(),
        None if all => ALL_SUPPORTED,
        None if !excluded.is_empty() => EXCLUSION,
        None => INCLUSION,
    };
    json!({
        "allSupported": all,
        "includeGlobalResourceTypes": g.include_global_resource_types.unwrap_or(false),
        "resourceTypes": sorted(&g.resource_types),
        "exclusionByResourceTypes": {"resourceTypes": excluded},
        "recordingStrategy": {"useOnly": strategy},
    })
}

/// Continuous with no overrides when absent; overrides are a set.
fn mode_canonical(m: Option<&RecordingMode>) -> Value {
    let Some(m) = m else {
        return json!({"recordingFrequency": CONTINUOUS, "recordingModeOverrides": []});
    };
    let mut overrides: Vec<Value> = m
        .recording_mode_overrides
        .iter()
        .map(|o| {
            let mut v = json!({
                "resourceTypes": sorted(&o.resource_types),
                "recordingFrequency": o.recording_frequency,
            });
            if let Some(d) = o.description.as_deref().filter(|d| !d.is_empty()) {
                v["description"] = json!(d);
            }
            v
        })
        .collect();
    overrides.sort_by_key(|o| o.to_string());
    json!({"recordingFrequency": m.recording_frequency, "recordingModeOverrides": overrides})
}

pub fn canonical(spec: &Spec) -> Value {
    let mut m = Map::new();
    m.insert("roleArn".into(), json!(spec.role_arn));
    m.insert(
        "recordingGroup".into(),
        group_canonical(spec.recording_group.as_ref()),
    );
    m.insert(
        "recordingMode".into(),
        mode_canonical(spec.recording_mode.as_ref()),
    );
    if let Some(r) = spec.recording {
        m.insert("recording".into(), json!(r));
    }
    Value::Object(m)
}

/// What PutConfigurationRecorder writes: everything except `recording`.
fn settings(spec: &Spec) -> Value {
    canonical(&Spec {
        recording: None,
        ..spec.clone()
    })
}

fn types_str(t: &[cfg::ResourceType]) -> Vec<String> {
    t.iter().map(|t| t.as_str().to_string()).collect()
}

pub(crate) fn spec_from_live(r: &cfg::ConfigurationRecorder, recording: bool) -> Spec {
    Spec {
        role_arn: r.role_arn().unwrap_or_default().to_string(),
        recording_group: r.recording_group().map(|g| RecordingGroup {
            all_supported: Some(g.all_supported()),
            include_global_resource_types: Some(g.include_global_resource_types()),
            resource_types: types_str(g.resource_types()),
            exclusion_by_resource_types: g.exclusion_by_resource_types().map(|e| {
                ExclusionByResourceTypes {
                    resource_types: types_str(e.resource_types()),
                }
            }),
            recording_strategy: g.recording_strategy().and_then(|s| s.use_only()).map(|u| {
                RecordingStrategy {
                    use_only: u.as_str().to_string(),
                }
            }),
        }),
        recording_mode: r.recording_mode().map(|m| RecordingMode {
            recording_frequency: m.recording_frequency().as_str().to_string(),
            recording_mode_overrides: m
                .recording_mode_overrides()
                .iter()
                .map(|o| RecordingModeOverride {
                    description: o
                        .description()
                        .filter(|d| !d.is_empty())
                        .map(str::to_string),
                    resource_types: types_str(o.resource_types()),
                    recording_frequency: o.recording_frequency().as_str().to_string(),
                })
                .collect(),
        }),
        recording: Some(recording),
    }
}

fn resource_types(v: &[String]) -> Option<Vec<cfg::ResourceType>> {
    (!v.is_empty()).then(|| {
        v.iter()
            .map(|t| cfg::ResourceType::from(t.as_str()))
            .collect()
    })
}

/// A recording group's strategy: which resource types it records (`useOnly`).
pub fn recording_strategy(use_only: &str) -> cfg::RecordingStrategy {
    cfg::RecordingStrategy::builder()
        .use_only(cfg::RecordingStrategyType::from(use_only))
        .build()
}

fn build_recorder(name: &str, spec: &Spec) -> Result<cfg::ConfigurationRecorder, KindError> {
    let bad = |e: aws_sdk_config::error::BuildError| {
        KindError::invalid(SERVICE, "PutConfigurationRecorder", e)
    };
    // Written out in full, so that removing a field from the manifest resets it.
    let g = group_canonical(spec.recording_group.as_ref());
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let excluded = strings(&g["exclusionByResourceTypes"]["resourceTypes"]);
    let group = cfg::RecordingGroup::builder()
        .all_supported(g["allSupported"].as_bool().unwrap_or(false))
        .include_global_resource_types(g["includeGlobalResourceTypes"].as_bool().unwrap_or(false))
        .set_resource_types(resource_types(&strings(&g["resourceTypes"])))
        .set_exclusion_by_resource_types((!excluded.is_empty()).then(|| {
            cfg::ExclusionByResourceTypes::builder()
                .set_resource_types(resource_types(&excluded))
                .build()
        }))
        .recording_strategy(recording_strategy(
            g["recordingStrategy"]["useOnly"]
                .as_str()
                .unwrap_or(ALL_SUPPORTED),
        ))
        .build();
    let mode = match &spec.recording_mode {
        None => cfg::RecordingMode::builder()
            .recording_frequency(cfg::RecordingFrequency::Continuous)
            .build()
            .map_err(bad)?,
        Some(m) => {
            let overrides = m
                .recording_mode_overrides
                .iter()
                .map(|o| {
                    cfg::RecordingModeOverride::builder()
                        .set_description(o.description.clone())
                        .set_resource_types(resource_types(&o.resource_types))
                        .recording_frequency(cfg::RecordingFrequency::from(
                            o.recording_frequency.as_str(),
                        ))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            cfg::RecordingMode::builder()
                .recording_frequency(cfg::RecordingFrequency::from(
                    m.recording_frequency.as_str(),
                ))
                .set_recording_mode_overrides((!overrides.is_empty()).then_some(overrides))
                .build()
                .map_err(bad)?
        }
    };
    Ok(cfg::ConfigurationRecorder::builder()
        .name(name)
        .role_arn(&spec.role_arn)
        .recording_group(group)
        .recording_mode(mode)
        .build())
}

fn validate_group(g: &RecordingGroup, issues: &mut Issues) {
    let all = g.all_supported.unwrap_or(false);
    let excluded = g
        .exclusion_by_resource_types
        .as_ref()
        .map_or(&[][..], |e| &e.resource_types[..]);
    let strategy = g.recording_strategy.as_ref().map(|s| s.use_only.as_str());
    if let Some(s) = strategy
        && !cfg::RecordingStrategyType::values().contains(&s)
    {
        issues.at(
            "recordingGroup.recordingStrategy.useOnly",
            format!(
                "`{s}` is not a valid useOnly; expected one of {}",
                cfg::RecordingStrategyType::values().join(", ")
            ),
        );
    }
    if all {
        if !g.resource_types.is_empty() {
            issues.at("recordingGroup.resourceTypes", "allSupported: true records every type; list resourceTypes only with allSupported: false");
        }
        if !excluded.is_empty() {
            issues.at(
                "recordingGroup.exclusionByResourceTypes",
                "allSupported: true records every type; to exclude types set allSupported: false and recordingStrategy.useOnly: EXCLUSION_BY_RESOURCE_TYPES",
            );
        }
        if strategy.is_some_and(|s| s != ALL_SUPPORTED) {
            issues.at(
                "recordingGroup.recordingStrategy.useOnly",
                format!("allSupported: true goes with {ALL_SUPPORTED}"),
            );
        }
    } else {
        if g.include_global_resource_types == Some(true) {
            issues.at(
                "recordingGroup.includeGlobalResourceTypes",
                "includeGlobalResourceTypes applies only with allSupported: true; list the global types (AWS::IAM::Role, ...) in resourceTypes instead",
            );
        }
        match (g.resource_types.is_empty(), excluded.is_empty()) {
            (true, true) => issues.at(
                "recordingGroup",
                "recordingGroup records nothing: set allSupported: true, list resourceTypes, or exclude types with exclusionByResourceTypes",
            ),
            (false, false) => issues.at("recordingGroup", "list resourceTypes or exclusionByResourceTypes, not both"),
            (true, false) if strategy != Some(EXCLUSION) => issues.at(
                "recordingGroup.recordingStrategy",
                format!("exclusionByResourceTypes needs recordingStrategy: {{useOnly: {EXCLUSION}}}"),
            ),
            (false, true) if strategy.is_some_and(|s| s != INCLUSION) => {
                issues.at("recordingGroup.recordingStrategy.useOnly", format!("resourceTypes goes with {INCLUSION}"))
            }
            _ => {}
        }
    }
    for (i, t) in g.resource_types.iter().enumerate() {
        check_resource_type(issues, &format!("recordingGroup.resourceTypes[{i}]"), t);
    }
    for (i, t) in excluded.iter().enumerate() {
        check_resource_type(
            issues,
            &format!("recordingGroup.exclusionByResourceTypes.resourceTypes[{i}]"),
            t,
        );
    }
}

fn validate_mode(m: &RecordingMode, issues: &mut Issues) {
    let freqs = cfg::RecordingFrequency::values();
    if !freqs.contains(&m.recording_frequency.as_str()) {
        issues.at(
            "recordingMode.recordingFrequency",
            format!(
                "`{}` is not a valid recordingFrequency; expected one of {}",
                m.recording_frequency,
                freqs.join(", ")
            ),
        );
    }
    for (i, o) in m.recording_mode_overrides.iter().enumerate() {
        let at = |f: &str| format!("recordingMode.recordingModeOverrides[{i}].{f}");
        if !freqs.contains(&o.recording_frequency.as_str()) {
            issues.at(
                &at("recordingFrequency"),
                format!(
                    "`{}` is not a valid recordingFrequency; expected one of {}",
                    o.recording_frequency,
                    freqs.join(", ")
                ),
            );
        }
        if o.resource_types.is_empty() {
            issues.at(
                &at("resourceTypes"),
                "resourceTypes must list at least one resource type, such as AWS::EC2::Instance",
            );
        }
        if o.description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 256)
        {
            issues.at(
                &at("description"),
                "description is longer than the 256 characters AWS allows",
            );
        }
        for (j, t) in o.resource_types.iter().enumerate() {
            check_resource_type(issues, &at(&format!("resourceTypes[{j}]")), t);
        }
    }
}

/// What DescribeConfigurationRecorderStatus says about one recorder.
struct Status {
    recording: bool,
    /// The last recording attempt failed (a role without permission, a missing bucket).
    failure: Option<String>,
}

/// Status by recorder name, for customer managed recorders.
async fn statuses(aws: &Aws) -> Result<BTreeMap<String, Status>, AwsError> {
    let out = aws
        .clients
        .config
        .describe_configuration_recorder_status()
        .send()
        .await
        .aws(SERVICE, "DescribeConfigurationRecorderStatus")?;
    Ok(out
        .configuration_recorders_status()
        .iter()
        .filter(|s| s.service_principal().is_none())
        .filter_map(|s| {
            let failure = (s.last_status() == Some(&cfg::RecorderStatus::Failure)).then(|| {
                format!(
                    "{}: {}",
                    s.last_error_code().unwrap_or("error"),
                    s.last_error_message().unwrap_or("no message")
                )
            });
            let status = Status {
                recording: s.recording(),
                failure,
            };
            Some((s.name()?.to_string(), status))
        })
        .collect())
}

/// Stops every customer managed recorder that is recording; a delivery channel
/// cannot be deleted while one is.
pub(crate) async fn stop_all(aws: &Aws) -> Result<(), AwsError> {
    for (name, status) in statuses(aws).await? {
        if status.recording {
            stop(aws, &name).await?;
        }
    }
    Ok(())
}

async fn stop(aws: &Aws, name: &str) -> Result<(), AwsError> {
    aws.clients
        .config
        .stop_configuration_recorder()
        .configuration_recorder_name(name)
        .send()
        .await
        .aws(SERVICE, "StopConfigurationRecorder")?;
    Ok(())
}

pub struct ConfigurationRecorder;

impl Kind for ConfigurationRecorder {
    const NAME: &'static str = "ConfigurationRecorder";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["name"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_plain_name(name, 256, "recorder")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if s.role_arn.trim().is_empty() {
            issues.at("roleArn", "must name the IAM role AWS Config assumes, for example ${Role/ConfigServiceRole.arn}");
        } else if !s.role_arn.contains("${") && !s.role_arn.starts_with("arn:") {
            issues.at(
                "roleArn",
                format!(
                    "`{}` is not a role ARN; write arn:aws:iam::ACCOUNT:role/NAME or a reference such as ${{Role/NAME.arn}}",
                    s.role_arn
                ),
            );
        }
        if let Some(g) = &s.recording_group {
            validate_group(g, issues);
        }
        if let Some(m) = &s.recording_mode {
            validate_mode(m, issues);
        }
    }

    fn normalize(spec: &Spec, _env: &Env) -> Value {
        canonical(spec)
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec)
    }

    /// `recording` is compared only when the manifest sets it.
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        let mut live = live.clone();
        if desired.get("recording").is_none()
            && let Some(m) = live.as_object_mut()
        {
            m.remove("recording");
        }
        crate::diff::diff(desired, &live, &[])
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([("name".to_string(), live.name.clone())])
    }

    fn notes(live: &Live) -> Vec<String> {
        live.failure
            .iter()
            .map(|f| format!("the recorder's last recording attempt failed: {f}"))
            .collect()
    }

    fn to_spec(live: &Live) -> Spec {
        let mut spec = live.spec.clone();
        // Leave out what equals AWS's defaults.
        if mode_canonical(spec.recording_mode.as_ref()) == mode_canonical(None) {
            spec.recording_mode = None;
        }
        if let Some(g) = &mut spec.recording_group {
            if group_canonical(Some(g)) == group_canonical(None) {
                spec.recording_group = None;
            } else {
                if g.include_global_resource_types == Some(false) {
                    g.include_global_resource_types = None;
                }
                if g.exclusion_by_resource_types
                    .as_ref()
                    .is_some_and(|e| e.resource_types.is_empty())
                {
                    g.exclusion_by_resource_types = None;
                }
                // The strategy is needed only for exclusions.
                if g.recording_strategy
                    .as_ref()
                    .is_some_and(|s| s.use_only != EXCLUSION)
                {
                    g.recording_strategy = None;
                }
            }
        }
        spec
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // Without names: naming a missing recorder is an error, and there is at most one.
        let out = aws
            .clients
            .config
            .describe_configuration_recorders()
            .send()
            .await
            .aws(SERVICE, "DescribeConfigurationRecorders")?;
        let found: Vec<&cfg::ConfigurationRecorder> = out
            .configuration_recorders()
            .iter()
            .filter(|r| r.service_principal().is_none())
            .filter(|r| r.name().is_some_and(|n| wanted.contains(n)))
            .collect();
        if found.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut status = statuses(aws).await?;
        Ok(found
            .into_iter()
            .filter_map(|r| {
                let name = r.name()?.to_string();
                let s = status.remove(&name);
                let live = Live {
                    name: name.clone(),
                    arn: r.arn().map(str::to_string),
                    spec: spec_from_live(r, s.as_ref().is_some_and(|s| s.recording)),
                    failure: s.and_then(|s| s.failure),
                };
                Some((name, live))
            })
            .collect())
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        if live.is_none_or(|l| settings(spec) != settings(&l.spec)) {
            aws.clients
                .config
                .put_configuration_recorder()
                .configuration_recorder(build_recorder(name, spec)?)
                .send()
                .await
                .aws(SERVICE, "PutConfigurationRecorder")?;
        }
        // A new recorder is stopped; starting waits for finalize, once the channel exists.
        if spec.recording == Some(false) && live.is_some_and(|l| l.spec.recording == Some(true)) {
            stop(aws, name).await?;
        }
        Ok(Attrs::from([("name".to_string(), name.to_string())]))
    }

    async fn finalize(aws: &Aws, name: &str, spec: &Spec) -> Result<(), KindError> {
        if spec.recording != Some(true)
            || statuses(aws).await?.get(name).is_some_and(|s| s.recording)
        {
            return Ok(());
        }
        failpoint::hit("before-recorder-start").await;
        aws.clients
            .config
            .start_configuration_recorder()
            .configuration_recorder_name(name)
            .send()
            .await
            .aws(SERVICE, "StartConfigurationRecorder")?;
        failpoint::hit("after-recorder-start").await;
        Ok(())
    }

    /// Stops it first, as the lab's cleanup does. The status is read again: deleting
    /// the delivery channel, just before, may have stopped it already.
    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        if statuses(aws).await?.get(name).is_some_and(|s| s.recording) {
            stop(aws, name).await?;
        }
        aws.clients
            .config
            .delete_configuration_recorder()
            .configuration_recorder_name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteConfigurationRecorder")?;
        Ok(())
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
