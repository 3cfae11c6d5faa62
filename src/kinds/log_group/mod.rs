//! `LogGroup`: a CloudWatch Logs log group with its retention, KMS key and tags.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::tag_write;
use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsResultExt, Env};

const SERVICE: &str = "logs";

/// The only values PutRetentionPolicy accepts; absent means "never expire".
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Days to keep events; absent means never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    /// ARN of a symmetric KMS key that encrypts the group's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    /// Without the `:*` suffix that DescribeLogGroups puts on `arn`.
    pub arn: String,
    /// As read; its tags are all the live ones, the owner's included.
    pub spec: Spec,
}

/// The ARN that tagging APIs and IAM policies use (no `:*`).
pub fn log_group_arn(env: &Env, name: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{name}",
        env.region, env.account_id
    )
}

/// DescribeLogGroups returns `arn` as `...:log-group:NAME:*` (the form that covers
/// the group's streams) and, in newer responses, `logGroupArn` without it.
pub fn clean_arn(g: &aws_sdk_cloudwatchlogs::types::LogGroup) -> Option<String> {
    g.log_group_arn().map(str::to_string).or_else(|| {
        g.arn()
            .map(|a| a.strip_suffix(":*").unwrap_or(a).to_string())
    })
}

fn canonical(spec: &Spec, tags: &BTreeMap<String, String>) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(r) = spec.retention_in_days {
        m.insert("retentionInDays".into(), json!(r));
    }
    if let Some(k) = spec.kms_key_id.as_deref().filter(|k| !k.is_empty()) {
        m.insert("kmsKeyId".into(), json!(k));
    }
    m.insert("tags".into(), json!(tags));
    Value::Object(m)
}

/// The longest prefix all names share, to narrow a listing call.
pub fn common_prefix<'a>(mut names: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = names.next() else {
        return String::new();
    };
    let mut prefix = first.to_string();
    for n in names {
        let len = prefix
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        prefix.truncate(len);
    }
    prefix
}

/// The name prefix that narrows a listing of the wanted resources: the declared
/// names' common prefix (`/aws/ec2/httpd/` for the lab), none for all of them;
/// `None` when nothing is wanted, so nothing need be listed.
pub fn listing_prefix(wanted: &Wanted) -> Option<Option<String>> {
    if wanted.all {
        return Some(None);
    }
    if wanted.specs.is_empty() {
        return None;
    }
    let prefix = common_prefix(wanted.specs.keys().map(String::as_str));
    Some((!prefix.is_empty()).then_some(prefix))
}

pub struct LogGroup;

impl Kind for LogGroup {
    const NAME: &'static str = "LogGroup";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        super::check_name(
            name,
            512,
            |c| c.is_ascii_alphanumeric() || "._-/#".contains(c),
            "log group names allow A-Z, a-z, 0-9, and . _ - / #",
        )?;
        if name.starts_with("aws/") {
            return Err(
                "log group names cannot start with `aws/` (that prefix is reserved for AWS)".into(),
            );
        }
        Ok(())
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if let Some(r) = s.retention_in_days
            && !RETENTION_DAYS.contains(&r)
        {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
            issues.at(
                "retentionInDays",
                format!(
                    "{r} is not a retention CloudWatch Logs accepts; use one of {}, or omit it to keep events forever",
                    allowed.join(", ")
                ),
            );
        }
        if let Some(k) = &s.kms_key_id
            && !k.contains("${")
            && !(k.starts_with("arn:") && k.contains(":kms:") && k.contains(":key/"))
        {
            issues.at(
                "kmsKeyId",
                format!("`{k}` is not a KMS key ARN; CloudWatch Logs needs arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (not an alias or a bare id)"),
            );
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        canonical(spec, &with_owner(&spec.tags, env))
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec, &live.spec.tags)
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::arn_and_name(&live.arn, &live.name)
    }

    fn to_spec(live: &Live) -> Spec {
        Spec {
            tags: without_owner(&live.spec.tags),
            ..live.spec.clone()
        }
    }

    /// The Tagging API filter is the service: moto files log groups as
    /// `logs:loggroup`, AWS as `logs:log-group`; ARNs tell them apart anyway.
    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::Batched {
            filter: "logs",
            list: list_tags,
        },
        write: Write::Delta {
            tag: tag_resource,
            untag: untag_resource,
        },
    });

    crate::kinds::tags::accessors!(id: arn, live: map spec.tags, spec: map tags);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let Some(prefix) = listing_prefix(wanted) else {
            return Ok(BTreeMap::new());
        };
        let mut found = BTreeMap::new();
        let mut groups = aws
            .clients
            .logs
            .describe_log_groups()
            .set_log_group_name_prefix(prefix)
            .limit(50)
            .into_paginator()
            .items()
            .send();
        while let Some(g) = groups.try_next().await.aws(SERVICE, "DescribeLogGroups")? {
            if let Some(name) = g.log_group_name()
                && wanted.contains(name)
            {
                found.insert(
                    name.to_string(),
                    Live {
                        name: name.to_string(),
                        arn: clean_arn(&g).unwrap_or_else(|| log_group_arn(&aws.env, name)),
                        spec: Spec {
                            retention_in_days: g.retention_in_days(),
                            kms_key_id: g
                                .kms_key_id()
                                .filter(|k| !k.is_empty())
                                .map(str::to_string),
                            tags: Tags::new(),
                        },
                    },
                );
            }
        }
        Ok(found)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let logs = &aws.clients.logs;
        let (have_retention, have_kms) = match live {
            None => {
                logs.create_log_group()
                    .log_group_name(name)
                    .set_kms_key_id(spec.kms_key_id.clone())
                    .set_tags(Some(with_owner(&spec.tags, &aws.env).into_iter().collect()))
                    .send()
                    .await
                    .aws(SERVICE, "CreateLogGroup")?;
                (None, spec.kms_key_id.clone())
            }
            Some(l) => (l.spec.retention_in_days, l.spec.kms_key_id.clone()),
        };
        if spec.retention_in_days != have_retention {
            match spec.retention_in_days {
                Some(days) => {
                    logs.put_retention_policy()
                        .log_group_name(name)
                        .retention_in_days(days)
                        .send()
                        .await
                        .aws(SERVICE, "PutRetentionPolicy")?;
                }
                None => {
                    logs.delete_retention_policy()
                        .log_group_name(name)
                        .send()
                        .await
                        .aws(SERVICE, "DeleteRetentionPolicy")?;
                }
            }
        }
        if spec.kms_key_id != have_kms {
            match &spec.kms_key_id {
                Some(key) => {
                    logs.associate_kms_key()
                        .log_group_name(name)
                        .kms_key_id(key)
                        .send()
                        .await
                        .aws(SERVICE, "AssociateKmsKey")?;
                }
                None => {
                    logs.disassociate_kms_key()
                        .log_group_name(name)
                        .send()
                        .await
                        .aws(SERVICE, "DisassociateKmsKey")?;
                }
            }
        }
        let arn = live.map_or_else(|| log_group_arn(&aws.env, name), |l| l.arn.clone());
        Ok(Attrs::arn_and_name(&arn, name))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        aws.clients
            .logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteLogGroup")?;
        Ok(())
    }
}

fn list_tags<'a>(aws: &'a Aws, arn: &'a str) -> BoxFuture<'a, Result<Tags, KindError>> {
    Box::pin(async move {
        let out = aws
            .clients
            .logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(SERVICE, "ListTagsForResource")?;
        Ok(out
            .tags()
            .map(|t| t.clone().into_iter().collect())
            .unwrap_or_default())
    })
}

fn tag_resource<'a>(
    aws: &'a Aws,
    arn: &'a str,
    add: &'a Tags,
) -> BoxFuture<'a, Result<(), KindError>> {
    let call = aws.clients.logs.tag_resource().resource_arn(arn);
    tag_write(
        call.set_tags(Some(add.clone().into_iter().collect()))
            .send(),
        SERVICE,
        "TagResource",
    )
}

fn untag_resource<'a>(
    aws: &'a Aws,
    arn: &'a str,
    keys: &'a [String],
) -> BoxFuture<'a, Result<(), KindError>> {
    let call = aws.clients.logs.untag_resource().resource_arn(arn);
    tag_write(
        call.set_tag_keys(Some(keys.to_vec())).send(),
        SERVICE,
        "UntagResource",
    )
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
