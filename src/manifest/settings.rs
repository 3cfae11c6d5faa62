//! The optional `kind: Settings` document: its types, and what it must hold
//! beyond them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::annotations::DriftMode;
use super::diag::{Diagnostic, diag};
use super::explain::explain;
use crate::yaml::{self, Node, Pos, Value};

/// The optional `kind: Settings` document.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub region: Option<String>,
    /// Refuse to run against any other account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Written to every taggable resource vigil creates as `vigil:owner`.
    #[serde(default = "default_owner")]
    pub owner: String,
    #[serde(default)]
    pub prune: bool,
    #[serde(default = "default_max_deletions")]
    pub max_deletions: u32,
    /// Take over existing resources that vigil did not create, everywhere.
    #[serde(default)]
    pub adopt: bool,
    /// The default for `vigil/drift`: correct, warn or ignore.
    #[serde(default)]
    pub drift: DriftMode,
    /// Where the inventory lives; default: a local file under `.vigil/`.
    #[serde(default)]
    pub inventory: Option<Location>,
    /// `vigil run`: where the single-writer lease lives; default: beside the inventory.
    #[serde(default)]
    pub lease: Option<Location>,
    /// `vigil run`: where drift and failure events are published.
    #[serde(default)]
    pub notifications: Option<Notifications>,
    /// Request rates, per second, for operations whose quota AWS raised (or
    /// lowered) for this account: `{cloudwatch:PutMetricAlarm: 10}`. The rest
    /// use AWS's defaults.
    #[serde(default)]
    pub quotas: BTreeMap<String, f64>,
    /// How long a run retries throttled and failing calls before it reports
    /// them (`15m` when absent; `--deadline` wins).
    #[serde(default)]
    pub deadline: Option<String>,
}

/// Where the inventory is kept (`Settings.inventory`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Location {
    /// A local file; the default, meant for the local quickstart.
    File(PathBuf),
    /// An S3 object: `{bucket, key}`.
    S3 { bucket: String, key: String },
}

/// `Settings.notifications`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notifications {
    /// An SNS topic ARN.
    pub topic_arn: String,
}

fn default_owner() -> String {
    "vigil".to_string()
}

fn default_max_deletions() -> u32 {
    10
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: None,
            account_id: None,
            owner: default_owner(),
            prune: false,
            max_deletions: default_max_deletions(),
            adopt: false,
            drift: Default::default(),
            inventory: None,
            lease: None,
            notifications: None,
            quotas: BTreeMap::new(),
            deadline: None,
        }
    }
}

/// A Settings document with where it is written.
pub(super) struct SettingsDoc {
    pub settings: Settings,
    pub pos: Pos,
    pub file: String,
    pub subject: String,
    /// The fields that a Target names instead (accountId, region) that are set, at their keys.
    pub per_target: Vec<(&'static str, Pos)>,
}

/// Reads a Settings document's spec.
pub(super) fn read_settings(
    spec: &Node,
    (file, pos): (&str, Pos),
    subject: String,
    mut diags: Vec<Diagnostic>,
) -> Result<SettingsDoc, Vec<Diagnostic>> {
    let settings = match yaml::from_node::<Settings>(spec) {
        Ok(s) => s,
        Err(e) => {
            let pos = e.pos.unwrap_or(spec.pos);
            diags.push(diag(file, pos, &subject, explain(spec, pos, &e.message)));
            return Err(diags);
        }
    };
    check_settings(&settings, spec, file, &subject, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let set = [
        ("accountId", settings.account_id.is_some()),
        ("region", settings.region.is_some()),
    ];
    let per_target = set
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| (f, spec.key_node(f).map_or(spec.pos, |k| k.pos)))
        .collect();
    Ok(SettingsDoc {
        settings,
        pos,
        file: file.to_string(),
        subject,
        per_target,
    })
}

/// What Settings must hold beyond their types.
fn check_settings(
    s: &Settings,
    spec: &Node,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(acct) = &s.account_id {
        let node = spec.get("accountId");
        if let Some(msg) = account_id_problem(node, acct) {
            diags.push(diag(file, node.map_or(spec.pos, |n| n.pos), subject, msg));
        }
    }
    if let Some(n) = &s.notifications
        && !(n.topic_arn.starts_with("arn:") && n.topic_arn.split(':').nth(2) == Some("sns"))
    {
        let pos = spec
            .get("notifications")
            .and_then(|n| n.get("topicArn"))
            .map_or(spec.pos, |n| n.pos);
        diags.push(diag(file, pos, subject, format!("notifications.topicArn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), not `{}`", n.topic_arn)));
    }
    for (key, rate) in &s.quotas {
        let pos = spec
            .get("quotas")
            .and_then(|q| q.key_node(key))
            .map_or(spec.pos, |n| n.pos);
        let known = key
            .split_once(':')
            .is_some_and(|(svc, op)| crate::aws::pace::SERVICES.contains(&svc) && !op.is_empty());
        if !known {
            diags.push(diag(
                file,
                pos,
                subject,
                format!(
                    "quotas.{key}: write service:Operation, such as cloudwatch:PutMetricAlarm; the services are {}",
                    crate::aws::pace::SERVICES.join(", ")
                ),
            ));
        } else if !(*rate > 0.0 && *rate <= 10_000.0) {
            diags.push(diag(
                file,
                pos,
                subject,
                format!("quotas.{key}: {rate} is not a rate; give requests per second, above 0 and at most 10000"),
            ));
        }
    }
    if let Some(d) = &s.deadline {
        let pos = spec.get("deadline").map_or(spec.pos, |n| n.pos);
        match crate::duration::parse(d) {
            Ok(v) if v >= std::time::Duration::from_secs(1) => {}
            Ok(_) => diags.push(diag(file, pos, subject, "deadline must be at least 1s")),
            Err(e) => diags.push(diag(file, pos, subject, format!("deadline: {e}"))),
        }
    }
}

/// What is wrong with an `accountId`, if anything.
pub(super) fn account_id_problem(node: Option<&Node>, acct: &str) -> Option<String> {
    if acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // An unquoted number has lost its leading zeros; a string is just wrong.
    Some(if node.is_some_and(|n| matches!(n.value, Value::Int(_))) {
        "accountId must be 12 digits; quote it (\"012345678901\") so YAML keeps the leading zeros"
            .to_string()
    } else {
        format!(
            "accountId must be the 12 digits of an AWS account id, such as \"123456789012\", not `{acct}`"
        )
    })
}
