//! `LogGroup`: a CloudWatch Logs log group with its retention, KMS key and tags.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Attrs, Issues, Kind, Wanted, with_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};

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
    pub retention_in_days: Option<i32>,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
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

fn canonical(retention: Option<i32>, kms: Option<&str>, tags: &BTreeMap<String, String>) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(r) = retention {
        m.insert("retentionInDays".into(), json!(r));
    }
    if let Some(k) = kms.filter(|k| !k.is_empty()) {
        m.insert("kmsKeyId".into(), json!(k));
    }
    m.insert("tags".into(), json!(tags));
    Value::Object(m)
}

/// Checks tag keys and values the way the tagging APIs of Logs and SSM do.
pub fn check_tags(tags: &BTreeMap<String, String>, issues: &mut Issues) {
    if tags.len() > 49 {
        issues.at("tags", "at most 50 tags, one of which is vigil's owner tag");
    }
    for (k, v) in tags {
        let path = format!("tags.{k}");
        if k.is_empty() || k.chars().count() > 128 {
            issues.at(&path, "tag keys are 1 to 128 characters long");
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            issues.at(
                &path,
                "tag keys starting with `aws:` are reserved for AWS; rename the tag",
            );
        }
        if k == super::OWNER_TAG {
            issues.at(
                &path,
                format!(
                    "{} is set by vigil from Settings.owner; remove it here",
                    super::OWNER_TAG
                ),
            );
        }
        if v.chars().count() > 256 {
            issues.at(&path, "tag values are at most 256 characters long");
        }
    }
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
        check_tags(&s.tags, issues);
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        canonical(
            spec.retention_in_days,
            spec.kms_key_id.as_deref(),
            &with_owner(&spec.tags, env),
        )
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(
            live.retention_in_days,
            live.kms_key_id.as_deref(),
            &live.tags,
        )
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([
            ("arn".to_string(), live.arn.clone()),
            ("name".to_string(), live.name.clone()),
        ])
    }

    fn to_spec(live: &Live) -> Spec {
        let mut tags = live.tags.clone();
        tags.remove(super::OWNER_TAG);
        Spec {
            retention_in_days: live.retention_in_days,
            kms_key_id: live.kms_key_id.clone(),
            tags,
        }
    }

    fn owner(live: &Live) -> Option<&str> {
        live.tags.get(super::OWNER_TAG).map(String::as_str)
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, AwsError> {
        if !wanted.all && wanted.specs.is_empty() {
            return Ok(BTreeMap::new());
        }
        // The declared names' common prefix narrows the listing (`/aws/ec2/httpd/` for the lab).
        let prefix = if wanted.all {
            String::new()
        } else {
            common_prefix(wanted.specs.keys().map(String::as_str))
        };
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let out = aws
                .clients
                .logs
                .describe_log_groups()
                .set_log_group_name_prefix((!prefix.is_empty()).then(|| prefix.clone()))
                .limit(50)
                .set_next_token(token.take())
                .send()
                .await
                .aws(SERVICE, "DescribeLogGroups")?;
            for g in out.log_groups() {
                if let Some(name) = g.log_group_name()
                    && wanted.contains(name)
                {
                    found.push(Live {
                        name: name.to_string(),
                        arn: clean_arn(g).unwrap_or_else(|| log_group_arn(&aws.env, name)),
                        retention_in_days: g.retention_in_days(),
                        kms_key_id: g.kms_key_id().filter(|k| !k.is_empty()).map(str::to_string),
                        tags: BTreeMap::new(),
                    });
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        // Logs has no batch tag read: one ListTagsForResource per observed group.
        futures::stream::iter(found)
            .map(|mut l| async move {
                let out = aws
                    .clients
                    .logs
                    .list_tags_for_resource()
                    .resource_arn(&l.arn)
                    .send()
                    .await
                    .aws(SERVICE, "ListTagsForResource")?;
                l.tags = out
                    .tags()
                    .map(|t| t.clone().into_iter().collect())
                    .unwrap_or_default();
                Ok::<_, AwsError>((l.name.clone(), l))
            })
            .buffer_unordered(8)
            .try_collect()
            .await
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, AwsError> {
        let logs = &aws.clients.logs;
        let want_tags = with_owner(&spec.tags, &aws.env);
        let (have_retention, have_kms) = match live {
            None => {
                logs.create_log_group()
                    .log_group_name(name)
                    .set_kms_key_id(spec.kms_key_id.clone())
                    .set_tags(Some(
                        want_tags.clone().into_iter().collect::<HashMap<_, _>>(),
                    ))
                    .send()
                    .await
                    .aws(SERVICE, "CreateLogGroup")?;
                (None, spec.kms_key_id.clone())
            }
            Some(l) => (l.retention_in_days, l.kms_key_id.clone()),
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
        if let Some(l) = live {
            sync_tags(aws, &arn, &want_tags, &l.tags).await?;
        }
        Ok(Attrs::from([
            ("arn".to_string(), arn),
            ("name".to_string(), name.to_string()),
        ]))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), AwsError> {
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

/// TagResource and UntagResource with the group's ARN, for the difference only.
async fn sync_tags(
    aws: &Aws,
    arn: &str,
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (add, remove) = super::tag_delta(want, have);
    let add: HashMap<String, String> = add.into_iter().collect();
    if !add.is_empty() {
        aws.clients
            .logs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(add))
            .send()
            .await
            .aws(SERVICE, "TagResource")?;
    }
    if !remove.is_empty() {
        aws.clients
            .logs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .aws(SERVICE, "UntagResource")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::testing::{MockClients, aws_with};
    use aws_sdk_cloudwatchlogs::operation::associate_kms_key::AssociateKmsKeyOutput;
    use aws_sdk_cloudwatchlogs::operation::delete_retention_policy::DeleteRetentionPolicyOutput;
    use aws_sdk_cloudwatchlogs::operation::disassociate_kms_key::DisassociateKmsKeyOutput;
    use aws_sdk_cloudwatchlogs::operation::tag_resource::TagResourceOutput;
    use aws_sdk_cloudwatchlogs::operation::untag_resource::UntagResourceOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn env() -> Env {
        Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "lab".into(),
        }
    }

    fn live(retention: Option<i32>) -> Live {
        Live {
            name: "/aws/ec2/httpd/access_log".into(),
            arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ec2/httpd/access_log".into(),
            retention_in_days: retention,
            kms_key_id: None,
            tags: BTreeMap::from([(super::super::OWNER_TAG.to_string(), "lab".to_string())]),
        }
    }

    fn issues(s: &Spec) -> Vec<String> {
        let mut i = Issues::default();
        LogGroup::validate(s, &mut i);
        i.0.into_iter().map(|(_, m)| m).collect()
    }

    #[test]
    fn names_allow_slashes_and_dots_but_not_the_reserved_prefix() {
        assert!(LogGroup::validate_name("/aws/ec2/httpd/access_log").is_ok());
        assert!(LogGroup::validate_name("app.v2#blue").is_ok());
        assert!(
            LogGroup::validate_name("aws/mine")
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            LogGroup::validate_name("has space")
                .unwrap_err()
                .contains("' '")
        );
    }

    #[test]
    fn retention_must_be_a_value_aws_accepts() {
        assert!(
            issues(&Spec {
                retention_in_days: Some(30),
                ..Spec::default()
            })
            .is_empty()
        );
        let msgs = issues(&Spec {
            retention_in_days: Some(31),
            ..Spec::default()
        });
        assert!(
            msgs[0].contains("31 is not a retention") && msgs[0].contains("3653"),
            "{msgs:?}"
        );
    }

    #[test]
    fn kms_key_must_be_an_arn_and_reserved_tags_are_refused() {
        let msgs = issues(&Spec {
            kms_key_id: Some("alias/logs".into()),
            tags: BTreeMap::from([("aws:cloudformation".into(), "x".into())]),
            ..Spec::default()
        });
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            issues(&Spec {
                kms_key_id: Some(
                    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                        .into()
                ),
                ..Spec::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn describe_arn_loses_its_stream_wildcard() {
        let g = aws_sdk_cloudwatchlogs::types::LogGroup::builder()
            .log_group_name("/a")
            .arn("arn:aws:logs:us-east-1:1:log-group:/a:*")
            .build();
        assert_eq!(
            clean_arn(&g).unwrap(),
            "arn:aws:logs:us-east-1:1:log-group:/a"
        );
    }

    #[test]
    fn absent_retention_is_never_expire_and_owner_tag_is_expected() {
        let desired = LogGroup::normalize(&Spec::default(), &env());
        assert!(LogGroup::diff(&desired, &LogGroup::live_state(&live(None), &env())).is_empty());
        let d = LogGroup::diff(&desired, &LogGroup::live_state(&live(Some(7)), &env()));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "retentionInDays");
        assert!(d[0].to.is_none());
    }

    #[test]
    fn common_prefix_of_declared_names() {
        let names = ["/aws/ec2/httpd/access_log", "/aws/ec2/httpd/error_log"];
        assert_eq!(common_prefix(names.into_iter()), "/aws/ec2/httpd/");
        assert_eq!(common_prefix(["a", "b"].into_iter()), "");
        assert_eq!(common_prefix(std::iter::empty()), "");
    }

    // moto has no AssociateKmsKey or DisassociateKmsKey; this covers them, the
    // retention removal and the tag difference.
    #[tokio::test]
    async fn update_touches_only_what_differs() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let assoc = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
            .match_requests(move |r| {
                r.log_group_name() == Some("/aws/ec2/httpd/access_log")
                    && r.kms_key_id() == Some(key)
            })
            .then_output(|| AssociateKmsKeyOutput::builder().build());
        let disassoc = mock!(aws_sdk_cloudwatchlogs::Client::disassociate_kms_key)
            .then_output(|| DisassociateKmsKeyOutput::builder().build());
        let del_ret = mock!(aws_sdk_cloudwatchlogs::Client::delete_retention_policy)
            .then_output(|| DeleteRetentionPolicyOutput::builder().build());
        let tag = mock!(aws_sdk_cloudwatchlogs::Client::tag_resource)
            .match_requests(|r| {
                r.resource_arn()
                    == Some(
                        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ec2/httpd/access_log",
                    )
                    && r.tags().is_some_and(|t| {
                        t.len() == 1 && t.get("team").map(String::as_str) == Some("ops")
                    })
            })
            .then_output(|| TagResourceOutput::builder().build());
        let untag = mock!(aws_sdk_cloudwatchlogs::Client::untag_resource)
            .then_output(|| UntagResourceOutput::builder().build());
        let client = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            [&assoc, &disassoc, &del_ret, &tag, &untag]
        );
        let mut aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        aws.env.owner = "lab".into();
        let spec = Spec {
            retention_in_days: None,
            kms_key_id: Some(key.into()),
            tags: BTreeMap::from([("team".into(), "ops".into())]),
        };
        LogGroup::apply(
            &aws,
            "/aws/ec2/httpd/access_log",
            &spec,
            Some(&live(Some(30))),
        )
        .await
        .unwrap();
        assert_eq!(
            (assoc.num_calls(), del_ret.num_calls(), tag.num_calls()),
            (1, 1, 1)
        );
        assert_eq!((disassoc.num_calls(), untag.num_calls()), (0, 0));

        // Removing the key from the manifest disassociates it.
        let mut l = live(None);
        l.kms_key_id = Some(key.into());
        l.tags.insert("team".into(), "ops".into());
        let spec = Spec {
            tags: BTreeMap::from([("team".into(), "ops".into())]),
            ..Spec::default()
        };
        LogGroup::apply(&aws, "/aws/ec2/httpd/access_log", &spec, Some(&l))
            .await
            .unwrap();
        assert_eq!(disassoc.num_calls(), 1);
        assert_eq!(
            (
                assoc.num_calls(),
                del_ret.num_calls(),
                tag.num_calls(),
                untag.num_calls()
            ),
            (1, 1, 1, 0)
        );
    }
}
