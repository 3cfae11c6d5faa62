//! `XRayGroup`: an X-Ray group, a named filter expression over traces, with
//! optional insights. Also the X-Ray tag helpers that `SamplingRule` shares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};

pub(crate) const SERVICE: &str = "xray";

/// AWS reserves this group name; it cannot be created, and GetGroups lists it in every account.
const RESERVED: &str = "Default";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// For example `service("monitoring-lab-api")` or `http.url CONTAINS "/api/"`.
    pub filter_expression: String,
    /// Absent means both flags false, as AWS creates a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insights_configuration: Option<InsightsConfiguration>,
    /// Compared only when given; the owner tag is added either way on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InsightsConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insights_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications_enabled: Option<bool>,
}

impl InsightsConfiguration {
    /// (insightsEnabled, notificationsEnabled), absent meaning false.
    fn flags(c: Option<&Self>) -> (bool, bool) {
        c.map_or((false, false), |c| {
            (
                c.insights_enabled.unwrap_or(false),
                c.notifications_enabled.unwrap_or(false),
            )
        })
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub filter_expression: String,
    pub insights_enabled: bool,
    pub notifications_enabled: bool,
    /// Read only when the manifest declares tags, or for import and prune.
    pub tags: Option<BTreeMap<String, String>>,
}

fn canonical(
    filter: &str,
    (insights, notifications): (bool, bool),
    tags: Option<&BTreeMap<String, String>>,
) -> Value {
    let mut v = json!({
        "filterExpression": filter.trim(),
        "insightsConfiguration": {
            "insightsEnabled": insights,
            "notificationsEnabled": notifications,
        },
    });
    if let Some(t) = tags {
        v["tags"] = json!(t);
    }
    v
}

fn insights(flags: (bool, bool)) -> aws_sdk_xray::types::InsightsConfiguration {
    aws_sdk_xray::types::InsightsConfiguration::builder()
        .insights_enabled(flags.0)
        .notifications_enabled(flags.1)
        .build()
}

pub struct XRayGroup;

impl Kind for XRayGroup {
    const NAME: &'static str = "XRayGroup";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        if name == RESERVED {
            return Err(
                "`Default` is reserved by X-Ray and cannot be created; choose another group name"
                    .into(),
            );
        }
        super::kind::check_no_control(name, 32, "group")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if s.filter_expression.trim().is_empty() {
            issues.at(
                "filterExpression",
                "filterExpression must not be empty; for example service(\"monitoring-lab-api\")",
            );
        }
        let (insights, notifications) =
            InsightsConfiguration::flags(s.insights_configuration.as_ref());
        if notifications && !insights {
            issues.at(
                "insightsConfiguration.notificationsEnabled",
                "notifications need insights; set insightsEnabled: true as well",
            );
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        canonical(
            &spec.filter_expression,
            InsightsConfiguration::flags(spec.insights_configuration.as_ref()),
            spec.tags.as_ref().map(|t| with_owner(t, env)).as_ref(),
        )
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(
            &live.filter_expression,
            (live.insights_enabled, live.notifications_enabled),
            live.tags.as_ref(),
        )
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::arn_and_name(&live.arn, &live.name)
    }

    fn to_spec(live: &Live) -> Spec {
        let tags = live.tags.as_ref().map(without_owner);
        Spec {
            filter_expression: live.filter_expression.clone(),
            insights_configuration: (live.insights_enabled || live.notifications_enabled).then(
                || InsightsConfiguration {
                    insights_enabled: Some(live.insights_enabled),
                    notifications_enabled: live.notifications_enabled.then_some(true),
                },
            ),
            tags: tags.filter(|t| !t.is_empty()),
        }
    }

    const TAGS: Option<TagApi> = Some(TAGS);

    crate::kinds::tags::accessors!(id: arn, live: opt tags, spec: opt tags);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // GetGroups returns every group with its filter and insights: one walk for all.
        let mut out = BTreeMap::new();
        let mut pages = aws.clients.xray.get_groups().into_paginator().send();
        while let Some(page) = pages.try_next().await.aws(SERVICE, "GetGroups")? {
            for g in page.groups() {
                let (Some(name), Some(arn)) = (g.group_name(), g.group_arn()) else {
                    continue;
                };
                if name == RESERVED || !wanted.contains(name) {
                    continue;
                }
                let (insights, notifications) =
                    g.insights_configuration().map_or((false, false), |c| {
                        (
                            c.insights_enabled().unwrap_or(false),
                            c.notifications_enabled().unwrap_or(false),
                        )
                    });
                out.insert(
                    name.to_string(),
                    Live {
                        name: name.to_string(),
                        arn: arn.to_string(),
                        filter_expression: g.filter_expression().unwrap_or_default().to_string(),
                        insights_enabled: insights,
                        notifications_enabled: notifications,
                        tags: None,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let xray = &aws.clients.xray;
        let want = InsightsConfiguration::flags(spec.insights_configuration.as_ref());
        let filter = spec.filter_expression.trim();
        let Some(l) = live else {
            let tags = xray_tags(
                &with_owner(&spec.tags.clone().unwrap_or_default(), &aws.env),
                "CreateGroup",
            )?;
            let out = xray
                .create_group()
                .group_name(name)
                .filter_expression(filter)
                .insights_configuration(insights(want))
                .set_tags(Some(tags))
                .send()
                .await
                .aws(SERVICE, "CreateGroup")?;
            let arn = out.group().and_then(|g| g.group_arn()).ok_or_else(|| {
                AwsError::unexpected(SERVICE, "CreateGroup", "no GroupARN in the response")
            })?;
            return Ok(Attrs::arn_and_name(arn, name));
        };
        // One UpdateGroup only when something differs. It carries the whole desired
        // group, so the result does not depend on how AWS treats an omitted member.
        let filter_changed = l.filter_expression.trim() != filter;
        let insights_changed = (l.insights_enabled, l.notifications_enabled) != want;
        if filter_changed || insights_changed {
            xray.update_group()
                .group_arn(&l.arn)
                .filter_expression(filter)
                .insights_configuration(insights(want))
                .send()
                .await
                .aws(SERVICE, "UpdateGroup")?;
        }
        Ok(Attrs::arn_and_name(&l.arn, name))
    }

    async fn delete(aws: &Aws, _name: &str, live: &Live) -> Result<(), KindError> {
        let result = aws
            .clients
            .xray
            .delete_group()
            .group_arn(&live.arn)
            .send()
            .await
            .aws(SERVICE, "DeleteGroup");
        match result {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// X-Ray's tag API, shared with `SamplingRule`: one ListTagsForResource per
/// resource. Not batched: the X-Ray Developer Guide ("Tagging X-Ray sampling
/// rules and groups") says Tag Editor and AWS Resource Groups, which read
/// through the Tagging API, do not support X-Ray resources; moto's does not
/// serve them either.
pub(super) const TAGS: TagApi = TagApi {
    rules: AWS_RULES,
    read: Read::PerResource(list_tags),
    write: Write::Delta {
        tag: tag_resource,
        untag: untag_resource,
    },
};

pub(super) fn xray_tags(
    tags: &Tags,
    op: &'static str,
) -> Result<Vec<aws_sdk_xray::types::Tag>, KindError> {
    tags.iter()
        .map(|(k, v)| aws_sdk_xray::types::Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()
        .map_err(|e| KindError::invalid(SERVICE, op, e))
}

super::tags::tag_api! {
    client: xray, service: SERVICE, id: resource_arn, sdk_tag: aws_sdk_xray::types::Tag;
    list: fn list_tags = list_tags_for_resource("ListTagsForResource") paged;
    tag: fn tag_resource = tag_resource("TagResource");
    untag: fn untag_resource = untag_resource("UntagResource");
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
