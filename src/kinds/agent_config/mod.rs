//! `AgentConfig`: the CloudWatch agent's JSON configuration, kept in an SSM
//! String parameter named by `metadata.name`. The agent loads it with
//! `amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c ssm:NAME -s`.
//!
//! The agent's own placeholders such as `${aws:InstanceId}` look like vigil
//! references; write them as `$${aws:InstanceId}`.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::tag_write;
use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};
use crate::diff::{FieldDiff, canonical};
use aws_sdk_ssm::types::{
    ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag,
};

const SERVICE: &str = "ssm";

/// What the AWS managed policy CloudWatchAgentServerPolicy lets the agent read.
pub const NAME_PREFIX: &str = "AmazonCloudWatch-";

const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;
const TIERS: &[&str] = &["Standard", "Advanced", "Intelligent-Tiering"];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The agent configuration (`agent`, `metrics`, `logs`, ...) as a mapping.
    pub config: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Standard (4 KB, the default), Advanced (8 KB) or Intelligent-Tiering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    /// The parameter's value as stored.
    pub value: String,
    pub parameter_type: String,
    pub description: Option<String>,
    pub tier: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// The text stored in the parameter: compact JSON, in the order written.
pub fn serialized(config: &Value) -> String {
    config.to_string()
}

fn parameter_arn(env: &Env, name: &str) -> String {
    format!(
        "arn:aws:ssm:{}:{}:parameter/{name}",
        env.region, env.account_id
    )
}

fn parsed(value: &str) -> Value {
    serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))
}

/// Everything compared except tags, which are synced separately.
fn settings(config: &Value, ptype: &str, description: Option<&str>, tier: Option<&str>) -> Value {
    let mut v = json!({ "config": canonical(config), "type": ptype });
    let m = v.as_object_mut().expect("object");
    if let Some(d) = description {
        m.insert("description".into(), json!(d));
    }
    // Intelligent-Tiering is a policy: the parameter itself reports Standard or Advanced.
    if let Some(t) = tier.filter(|t| *t != "Intelligent-Tiering") {
        m.insert("tier".into(), json!(t));
    }
    v
}

fn with_tags(mut v: Value, tags: &BTreeMap<String, String>) -> Value {
    v["tags"] = json!(tags);
    v
}

pub struct AgentConfig;

impl Kind for AgentConfig {
    const NAME: &'static str = "AgentConfig";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn"];
    const DOCUMENT_FIELDS: &'static [&'static str] = &["config"];

    fn validate_name(name: &str) -> Result<(), String> {
        if !name.starts_with(NAME_PREFIX) {
            return Err(format!(
                "must start with `{NAME_PREFIX}`: the AWS managed policy CloudWatchAgentServerPolicy only lets the agent \
                 read parameters named {NAME_PREFIX}*, so `-c ssm:{name}` would be denied on the instance"
            ));
        }
        super::check_name(
            name,
            1011,
            |c| c.is_ascii_alphanumeric() || "._-".contains(c),
            "parameter names allow A-Z, a-z, 0-9, and . _ - (a name with / must start with /, which the agent policy does not allow)",
        )
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        match &s.config {
            Value::Object(m) if !m.is_empty() => {}
            Value::Object(_) => issues.at(
                "config",
                "the agent configuration is empty; give at least `metrics` or `logs`",
            ),
            other => issues.at(
                "config",
                format!(
                    "config must be a mapping (the agent's JSON written as YAML), found {}",
                    json_type(other)
                ),
            ),
        }
        let tier = s.tier.as_deref().unwrap_or("Standard");
        if !TIERS.contains(&tier) {
            issues.at(
                "tier",
                format!(
                    "`{tier}` is not a parameter tier; use one of {}",
                    TIERS.join(", ")
                ),
            );
        }
        // Measured on the text before references are resolved; close enough to warn early.
        let size = serialized(&s.config).len();
        if tier == "Standard" && size > STANDARD_MAX {
            issues.at(
                "config",
                format!("the configuration is {size} bytes as JSON, over the {STANDARD_MAX}-byte (4 KB) limit of a Standard parameter; set `tier: Advanced` (up to 8 KB, charged) or shorten it"),
            );
        } else if size > ADVANCED_MAX {
            issues.at(
                "config",
                format!("the configuration is {size} bytes as JSON, over the {ADVANCED_MAX}-byte (8 KB) limit of an Advanced parameter"),
            );
        }
        if let Some(d) = &s.description
            && d.chars().count() > 1024
        {
            issues.at(
                "description",
                "a description is at most 1024 characters long",
            );
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        let v = settings(
            &spec.config,
            "String",
            spec.description.as_deref(),
            spec.tier.as_deref(),
        );
        with_tags(v, &with_owner(&spec.tags, env))
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        // DescribeParameters leaves an empty description out: absent reads as empty.
        let v = settings(
            &parsed(&live.value),
            &live.parameter_type,
            Some(live.description.as_deref().unwrap_or_default()),
            live.tier.as_deref(),
        );
        with_tags(v, &live.tags)
    }

    /// The description and tier are compared only where the manifest sets them.
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        let mut live = live.clone();
        if let Some(m) = live.as_object_mut() {
            for k in ["description", "tier"] {
                if desired.get(k).is_none() {
                    m.remove(k);
                }
            }
        }
        crate::diff::diff(desired, &live, Self::DOCUMENT_FIELDS)
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::arn_and_name(&live.arn, &live.name)
    }

    fn to_spec(live: &Live) -> Spec {
        Spec {
            config: parsed(&live.value),
            description: live.description.clone(),
            tier: live.tier.clone().filter(|t| t != "Standard"),
            tags: without_owner(&live.tags),
        }
    }

    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::Batched {
            filter: "ssm:parameter",
            list: list_tags,
        },
        write: Write::Delta {
            tag: add_tags,
            untag: remove_tags,
        },
    });

    crate::kinds::tags::accessors!(id: arn, live: map tags, spec: map tags);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let names: Vec<String> = if wanted.all {
            describe(aws, "BeginsWith", vec![NAME_PREFIX.to_string()])
                .await?
                .into_keys()
                .collect()
        } else {
            wanted.specs.keys().cloned().collect()
        };
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        // GetParameters takes up to 10 names; names that do not exist come back as InvalidParameters.
        let params: Vec<Vec<aws_sdk_ssm::types::Parameter>> =
            futures::stream::iter(names.chunks(10).map(<[String]>::to_vec))
                .map(|chunk| async move {
                    let out = aws
                        .clients
                        .ssm
                        .get_parameters()
                        .set_names(Some(chunk))
                        .send()
                        .await
                        .aws(SERVICE, "GetParameters")?;
                    Ok::<_, AwsError>(out.parameters().to_vec())
                })
                .buffer_unordered(4)
                .try_collect()
                .await?;
        let mut found: BTreeMap<String, Live> = params
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let name = p.name()?.to_string();
                Some((
                    name.clone(),
                    Live {
                        arn: p
                            .arn()
                            .map_or_else(|| parameter_arn(&aws.env, &name), str::to_string),
                        value: p.value().unwrap_or_default().to_string(),
                        parameter_type: p.r#type().map_or("String", |t| t.as_str()).to_string(),
                        name,
                        description: None,
                        tier: None,
                        tags: BTreeMap::new(),
                    },
                ))
            })
            .collect();
        if found.is_empty() {
            return Ok(found);
        }
        // GetParameters does not return the description or tier: one DescribeParameters per 50 names.
        let existing: Vec<String> = found.keys().cloned().collect();
        for chunk in existing.chunks(50) {
            for (name, (description, tier)) in describe(aws, "Equals", chunk.to_vec()).await? {
                if let Some(l) = found.get_mut(&name) {
                    l.description = description;
                    l.tier = tier;
                }
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
        let ssm = &aws.clients.ssm;
        // Overwriting without a tier would try to move an Advanced parameter back to
        // Standard, which AWS refuses; keep the live tier unless the manifest sets one.
        let tier = spec
            .tier
            .clone()
            .or_else(|| live.and_then(|l| l.tier.clone()));
        let put = ssm
            .put_parameter()
            .name(name)
            .value(serialized(&spec.config))
            .r#type(ParameterType::String)
            .data_type("text")
            .set_description(spec.description.clone())
            .set_tier(tier.as_deref().map(ParameterTier::from));
        match live {
            None => {
                // Tags only on create: AWS refuses Tags together with Overwrite.
                put.overwrite(false)
                    .set_tags(Some(ssm_tags(&with_owner(&spec.tags, &aws.env))?))
                    .send()
                    .await
                    .aws(SERVICE, "PutParameter")?;
            }
            Some(l) => {
                let desired = settings(
                    &spec.config,
                    "String",
                    spec.description.as_deref(),
                    spec.tier.as_deref(),
                );
                let have = Self::live_state(l, &aws.env);
                if !Self::diff(&desired, &with_object_without(&have, "tags")).is_empty() {
                    put.overwrite(true)
                        .send()
                        .await
                        .aws(SERVICE, "PutParameter")?;
                }
            }
        }
        let arn = live.map_or_else(|| parameter_arn(&aws.env, name), |l| l.arn.clone());
        Ok(Attrs::from([
            ("name".to_string(), name.to_string()),
            ("arn".to_string(), arn),
        ]))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        match aws
            .clients
            .ssm
            .delete_parameter()
            .name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteParameter")
        {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn with_object_without(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
    v
}

/// DescribeParameters with one Name filter, all pages: name to (description, tier).
async fn describe(
    aws: &Aws,
    option: &str,
    values: Vec<String>,
) -> Result<BTreeMap<String, (Option<String>, Option<String>)>, KindError> {
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option(option)
        .set_values(Some(values))
        .build()
        .map_err(|e| KindError::invalid(SERVICE, "DescribeParameters", e))?;
    let mut out = BTreeMap::new();
    let mut pages = aws
        .clients
        .ssm
        .describe_parameters()
        .parameter_filters(filter)
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.try_next().await.aws(SERVICE, "DescribeParameters")? {
        for p in page.parameters() {
            if let Some(n) = p.name() {
                out.insert(
                    n.to_string(),
                    (
                        p.description()
                            .filter(|d| !d.is_empty())
                            .map(str::to_string),
                        p.tier().map(|t| t.as_str().to_string()),
                    ),
                );
            }
        }
    }
    Ok(out)
}

fn ssm_tags(tags: &Tags) -> Result<Vec<Tag>, KindError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KindError::invalid(SERVICE, "AddTagsToResource", e))
}

/// SSM's tag calls take the parameter's name; the Tagging API, its ARN.
fn name_of(arn: &str) -> String {
    let rest = arn.split_once(":parameter/").map_or(arn, |(_, r)| r);
    // A name with `/` starts with one, which the ARN drops.
    if rest.contains('/') {
        format!("/{rest}")
    } else {
        rest.to_string()
    }
}

fn list_tags<'a>(aws: &'a Aws, arn: &'a str) -> BoxFuture<'a, Result<Tags, KindError>> {
    Box::pin(async move {
        let out = aws
            .clients
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name_of(arn))
            .send()
            .await
            .aws(SERVICE, "ListTagsForResource")?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    })
}

fn add_tags<'a>(aws: &'a Aws, arn: &'a str, add: &'a Tags) -> BoxFuture<'a, Result<(), KindError>> {
    Box::pin(async move {
        aws.clients
            .ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name_of(arn))
            .set_tags(Some(ssm_tags(add)?))
            .send()
            .await
            .aws(SERVICE, "AddTagsToResource")?;
        Ok(())
    })
}

fn remove_tags<'a>(
    aws: &'a Aws,
    arn: &'a str,
    keys: &'a [String],
) -> BoxFuture<'a, Result<(), KindError>> {
    let call = aws.clients.ssm.remove_tags_from_resource();
    tag_write(
        call.resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name_of(arn))
            .set_tag_keys(Some(keys.to_vec()))
            .send(),
        SERVICE,
        "RemoveTagsFromResource",
    )
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
