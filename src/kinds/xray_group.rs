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
        super::check_name(
            name,
            32,
            |c| !c.is_control(),
            "group names cannot contain control characters",
        )
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
        attrs(&live.arn, &live.name)
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

    fn tag_id(_name: &str, live: &Live) -> String {
        live.arn.clone()
    }

    fn live_tags(live: &Live) -> Option<&Tags> {
        live.tags.as_ref()
    }

    fn set_live_tags(live: &mut Live, tags: Tags) {
        live.tags = Some(tags);
    }

    fn spec_tags(spec: &Spec) -> Option<&Tags> {
        spec.tags.as_ref()
    }

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
            return Ok(attrs(arn, name));
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
        Ok(attrs(&l.arn, name))
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

fn attrs(arn: &str, name: &str) -> Attrs {
    Attrs::from([
        ("arn".to_string(), arn.to_string()),
        ("name".to_string(), name.to_string()),
    ])
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
mod tests {
    use super::*;
    use crate::aws::ErrorClass;
    use crate::aws::testing::{MockClients, aws_with};
    use aws_sdk_xray::operation::create_group::CreateGroupOutput;
    use aws_sdk_xray::operation::delete_group::DeleteGroupOutput;
    use aws_sdk_xray::operation::get_groups::GetGroupsOutput;
    use aws_sdk_xray::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_xray::operation::tag_resource::TagResourceOutput;
    use aws_sdk_xray::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_xray::operation::update_group::UpdateGroupOutput;
    use aws_sdk_xray::types::{Group, GroupSummary};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const NAME: &str = "monitoring-lab-api";
    // X-Ray appends a random id to group ARNs, so the ARN must come from AWS.
    const ARN: &str =
        "arn:aws:xray:us-east-1:123456789012:group/monitoring-lab-api/LJ6WPMYOKYVWRUBL2WQAFI5AUQ";
    const FILTER: &str = "service(\"monitoring-lab-api\")";

    fn spec() -> Spec {
        Spec {
            filter_expression: FILTER.into(),
            insights_configuration: Some(InsightsConfiguration {
                insights_enabled: Some(true),
                notifications_enabled: None,
            }),
            tags: Some(BTreeMap::from([(
                "project".to_string(),
                "monitoring-lab".to_string(),
            )])),
        }
    }

    fn env() -> Env {
        Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "test".into(),
        }
    }

    /// GetGroups as AWS answers it: the reserved Default group first, with no filter.
    fn summaries(filter: &str, insights: bool) -> Vec<GroupSummary> {
        let conf = |i: bool| {
            aws_sdk_xray::types::InsightsConfiguration::builder()
                .insights_enabled(i)
                .notifications_enabled(false)
                .build()
        };
        vec![
            GroupSummary::builder()
                .group_name("Default")
                .group_arn("arn:aws:xray:us-east-1:123456789012:group/Default")
                .insights_configuration(conf(false))
                .build(),
            GroupSummary::builder()
                .group_name(NAME)
                .group_arn(ARN)
                .filter_expression(filter)
                .insights_configuration(conf(insights))
                .build(),
        ]
    }

    fn groups_rule(filter: &'static str, insights: bool) -> Rule {
        mock!(aws_sdk_xray::Client::get_groups).then_output(move || {
            GetGroupsOutput::builder()
                .set_groups(Some(summaries(filter, insights)))
                .build()
        })
    }

    fn tags_rule(tags: &'static [(&'static str, &'static str)]) -> Rule {
        mock!(aws_sdk_xray::Client::list_tags_for_resource)
            .match_requests(|r| r.resource_arn() == Some(ARN))
            .then_output(move || {
                ListTagsForResourceOutput::builder()
                    .set_tags(Some(
                        tags.iter()
                            .map(|(k, v)| {
                                aws_sdk_xray::types::Tag::builder()
                                    .key(*k)
                                    .value(*v)
                                    .build()
                                    .unwrap()
                            })
                            .collect(),
                    ))
                    .build()
            })
    }

    fn wanted() -> Wanted {
        Wanted::names(BTreeMap::from([(
            NAME.to_string(),
            json!({"filterExpression": FILTER, "tags": {}}),
        )]))
    }

    #[test]
    fn validation() {
        let mut i = Issues::default();
        XRayGroup::validate(&spec(), &mut i);
        assert!(i.is_empty(), "{:?}", i.0);

        let mut bad = spec();
        bad.filter_expression = "  ".into();
        bad.insights_configuration = Some(InsightsConfiguration {
            insights_enabled: Some(false),
            notifications_enabled: Some(true),
        });
        let mut i = Issues::default();
        XRayGroup::validate(&bad, &mut i);
        assert_eq!(i.0.len(), 2, "{:?}", i.0);
        assert!(i.0[1].1.contains("insightsEnabled: true"));

        assert!(
            XRayGroup::validate_name("Default")
                .unwrap_err()
                .contains("reserved")
        );
        assert!(XRayGroup::validate_name(&"g".repeat(33)).is_err());
        assert!(XRayGroup::validate_name(NAME).is_ok());
    }

    #[test]
    fn absent_insights_mean_false_and_filter_whitespace_is_ignored() {
        let s = Spec {
            filter_expression: format!("  {FILTER}\n"),
            ..Spec::default()
        };
        let l = Live {
            name: NAME.into(),
            arn: ARN.into(),
            filter_expression: FILTER.into(),
            insights_enabled: false,
            notifications_enabled: false,
            tags: None,
        };
        assert_eq!(
            XRayGroup::normalize(&s, &env()),
            XRayGroup::live_state(&l, &env())
        );
        // Written out in full, the same.
        let explicit = Spec {
            insights_configuration: Some(InsightsConfiguration {
                insights_enabled: Some(false),
                notifications_enabled: Some(false),
            }),
            ..s
        };
        assert_eq!(
            XRayGroup::normalize(&explicit, &env()),
            XRayGroup::live_state(&l, &env())
        );
    }

    #[test]
    fn tags_compare_only_when_declared_and_import_drops_the_owner_tag() {
        let mut s = spec();
        s.tags = None;
        let l = Live {
            name: NAME.into(),
            arn: ARN.into(),
            filter_expression: FILTER.into(),
            insights_enabled: true,
            notifications_enabled: false,
            tags: Some(BTreeMap::from([(
                "vigil:owner".to_string(),
                "test".to_string(),
            )])),
        };
        assert!(XRayGroup::normalize(&s, &env()).get("tags").is_none());
        assert_eq!(
            XRayGroup::live_tags(&l).and_then(crate::kinds::tags::owner),
            Some("test")
        );
        let imported = XRayGroup::to_spec(&l);
        assert_eq!(imported.tags, None);
        assert_eq!(
            imported
                .insights_configuration
                .unwrap()
                .notifications_enabled,
            None
        );
    }

    #[tokio::test]
    async fn create() {
        let get = mock!(aws_sdk_xray::Client::get_groups).then_output(|| {
            GetGroupsOutput::builder()
                .groups(summaries(FILTER, false).remove(0))
                .build()
        });
        let create = mock!(aws_sdk_xray::Client::create_group)
            .match_requests(|r| {
                r.group_name() == Some(NAME)
                    && r.filter_expression() == Some(FILTER)
                    && r.insights_configuration()
                        .and_then(|c| c.insights_enabled())
                        == Some(true)
                    && r.insights_configuration()
                        .and_then(|c| c.notifications_enabled())
                        == Some(false)
                    && r.tags()
                        .iter()
                        .any(|t| t.key() == "vigil:owner" && t.value() == "test")
                    && r.tags().iter().any(|t| t.key() == "project")
            })
            .then_output(|| {
                CreateGroupOutput::builder()
                    .group(
                        Group::builder()
                            .group_name(NAME)
                            .group_arn(ARN)
                            .filter_expression(FILTER)
                            .build(),
                    )
                    .build()
            });
        let xray = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&get, &create]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<XRayGroup>(&aws, &wanted())
            .await
            .unwrap();
        assert!(
            live.is_empty(),
            "the reserved Default group is never a declared one"
        );
        let attrs =
            crate::kinds::apply_typed::<XRayGroup>(&aws, NAME, &spec(), None, &Default::default())
                .await
                .unwrap();
        assert_eq!(attrs["arn"], ARN);
        assert_eq!((get.num_calls(), create.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn noop_writes_nothing() {
        let get = groups_rule(FILTER, true);
        let tags = tags_rule(&[("project", "monitoring-lab"), ("vigil:owner", "test")]);
        let update = mock!(aws_sdk_xray::Client::update_group)
            .then_output(|| UpdateGroupOutput::builder().build());
        let tag = mock!(aws_sdk_xray::Client::tag_resource)
            .then_output(|| TagResourceOutput::builder().build());
        let untag = mock!(aws_sdk_xray::Client::untag_resource)
            .then_output(|| UntagResourceOutput::builder().build());
        let xray = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&get, &tags, &update, &tag, &untag]
        );
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<XRayGroup>(&aws, &wanted())
            .await
            .unwrap();
        let l = &live[NAME];
        assert!(
            XRayGroup::diff(
                &XRayGroup::normalize(&spec(), &aws.env),
                &XRayGroup::live_state(l, &aws.env)
            )
            .is_empty()
        );
        crate::kinds::apply_typed::<XRayGroup>(&aws, NAME, &spec(), Some(l), &Default::default())
            .await
            .unwrap();
        assert_eq!((get.num_calls(), tags.num_calls()), (1, 1));
        assert_eq!(
            (update.num_calls(), tag.num_calls(), untag.num_calls()),
            (0, 0, 0)
        );
    }

    #[tokio::test]
    async fn update_only_when_filter_or_insights_differ() {
        // Someone turned insights off and added a tag in the console; the filter still matches.
        let get = groups_rule(FILTER, false);
        let tags = tags_rule(&[
            ("project", "monitoring-lab"),
            ("vigil:owner", "test"),
            ("extra", "x"),
        ]);
        let update = mock!(aws_sdk_xray::Client::update_group)
            .match_requests(|r| {
                r.group_arn() == Some(ARN)
                    && r.filter_expression() == Some(FILTER)
                    && r.insights_configuration()
                        .and_then(|c| c.insights_enabled())
                        == Some(true)
            })
            .then_output(|| UpdateGroupOutput::builder().build());
        let tag = mock!(aws_sdk_xray::Client::tag_resource)
            .then_output(|| TagResourceOutput::builder().build());
        let untag = mock!(aws_sdk_xray::Client::untag_resource)
            .match_requests(|r| r.resource_arn() == Some(ARN) && r.tag_keys() == ["extra"])
            .then_output(|| UntagResourceOutput::builder().build());
        let xray = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&get, &tags, &update, &tag, &untag]
        );
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<XRayGroup>(&aws, &wanted())
            .await
            .unwrap();
        let l = &live[NAME];
        let diffs = XRayGroup::diff(
            &XRayGroup::normalize(&spec(), &aws.env),
            &XRayGroup::live_state(l, &aws.env),
        );
        let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["insightsConfiguration.insightsEnabled", "tags.extra"]
        );
        crate::kinds::apply_typed::<XRayGroup>(&aws, NAME, &spec(), Some(l), &Default::default())
            .await
            .unwrap();
        assert_eq!(
            (update.num_calls(), tag.num_calls(), untag.num_calls()),
            (1, 0, 1)
        );
    }

    #[tokio::test]
    async fn a_tag_change_alone_does_not_update_the_group() {
        let get = groups_rule(FILTER, true);
        let tags = tags_rule(&[("vigil:owner", "test")]);
        let update = mock!(aws_sdk_xray::Client::update_group)
            .then_output(|| UpdateGroupOutput::builder().build());
        let tag = mock!(aws_sdk_xray::Client::tag_resource)
            .match_requests(|r| {
                r.resource_arn() == Some(ARN)
                    && r.tags().len() == 1
                    && r.tags()[0].key() == "project"
                    && r.tags()[0].value() == "monitoring-lab"
            })
            .then_output(|| TagResourceOutput::builder().build());
        let xray = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&get, &tags, &update, &tag]
        );
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<XRayGroup>(&aws, &wanted())
            .await
            .unwrap();
        crate::kinds::apply_typed::<XRayGroup>(
            &aws,
            NAME,
            &spec(),
            Some(&live[NAME]),
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!((update.num_calls(), tag.num_calls()), (0, 1));
    }

    #[tokio::test]
    async fn delete_by_arn_and_already_gone_is_fine() {
        let del = mock!(aws_sdk_xray::Client::delete_group)
            .match_requests(|r| r.group_arn() == Some(ARN))
            .then_output(|| DeleteGroupOutput::builder().build());
        let xray = mock_client!(aws_sdk_xray, RuleMode::Sequential, [&del]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let l = Live {
            name: NAME.into(),
            arn: ARN.into(),
            filter_expression: FILTER.into(),
            insights_enabled: false,
            notifications_enabled: false,
            tags: None,
        };
        XRayGroup::delete(&aws, NAME, &l).await.unwrap();
        assert_eq!(del.num_calls(), 1);

        let gone = mock!(aws_sdk_xray::Client::delete_group)
            .then_http_response(|| json_error(400, "InvalidRequestException", "Group not found"));
        let xray = mock_client!(aws_sdk_xray, RuleMode::Sequential, [&gone]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        XRayGroup::delete(&aws, NAME, &l).await.unwrap();
        assert_eq!(gone.num_calls(), 1);
    }

    /// An X-Ray (restJson1) error as it comes over the wire.
    fn json_error(status: u16, code: &str, message: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
        );
        r.headers_mut().insert("content-type", "application/json");
        r.headers_mut().insert("x-amzn-errortype", code.to_string());
        r
    }

    #[tokio::test]
    async fn an_emulator_without_xray_is_unsupported_not_retried() {
        // moto 5.2.5 has no X-Ray group routes: Werkzeug answers POST /Groups with this page.
        let get = mock!(aws_sdk_xray::Client::get_groups).then_http_response(|| {
            let mut r = HttpResponse::new(
                StatusCode::try_from(404).unwrap(),
                SdkBody::from(
                    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n",
                ),
            );
            r.headers_mut()
                .insert("content-type", "text/html; charset=utf-8");
            r
        });
        let xray = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&get]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let err = crate::kinds::observe_live::<XRayGroup>(&aws, &wanted())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Unsupported);
        assert_eq!(
            err.to_string(),
            "xray GetGroups: the endpoint does not implement this API (it answered HTTP 404 with an HTML page)"
        );
        assert_eq!(get.num_calls(), 1);
    }

    #[tokio::test]
    async fn access_denied_is_classified_and_not_retried() {
        let get = mock!(aws_sdk_xray::Client::get_groups).then_http_response(|| {
            json_error(
                403,
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: xray:GetGroups",
            )
        });
        let xray = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&get]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let err = crate::kinds::observe_live::<XRayGroup>(&aws, &wanted())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::AccessDenied);
        assert_eq!(err.aws().unwrap().operation, "GetGroups");
        assert!(err.to_string().contains("xray:GetGroups"), "{err}");
        assert_eq!(get.num_calls(), 1);
    }
}
