//! `Role`: an IAM role with its trust policy, managed policy attachments,
//! inline policies and tags. Policies are compared by meaning (see `policy`).

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::policy::{self, PolicyType};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};
use crate::diff::FieldDiff;
use crate::refs::contains_unknown;

const SERVICE: &str = "iam";

/// IAM's limits are low; a few detail reads at a time is plenty.
const CONCURRENCY: usize = 4;

const DEFAULT_PATH: &str = "/";
const DEFAULT_MAX_SESSION: i32 = 3600;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The trust policy (AssumeRolePolicyDocument), as a mapping.
    pub assume_role_policy: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Defaults to `/`. AWS cannot change it after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Seconds, 3600 (the default) to 43200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<String>,
    /// Policy name to policy document.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inline_policies: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub role_id: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    /// Decoded, as AWS stored it.
    pub assume_role_policy: Value,
    pub managed_policy_arns: BTreeSet<String>,
    pub inline_policies: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
}

#[allow(clippy::too_many_arguments)] // one argument per field of the canonical form
fn canonical(
    assume: &Value,
    description: &str,
    path: &str,
    max_session: i32,
    managed: impl IntoIterator<Item = String>,
    inline: &BTreeMap<String, Value>,
    tags: &BTreeMap<String, String>,
    partition: &str,
) -> Value {
    let managed: BTreeSet<String> = managed.into_iter().collect();
    let inline: BTreeMap<&String, Value> = inline
        .iter()
        .map(|(k, v)| (k, policy::normalize(v, partition)))
        .collect();
    json!({
        "assumeRolePolicy": policy::normalize(assume, partition),
        "description": description,
        "path": path,
        "maxSessionDuration": max_session,
        "managedPolicyArns": managed,
        "inlinePolicies": inline,
        "tags": tags,
    })
}

fn inline_path(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!("inlinePolicies.{name}")
    } else {
        format!("inlinePolicies[{name:?}]")
    }
}

/// Offline hints for the two policies the lab attaches and AWS refuses.
pub fn known_bad_policy(arn: &str) -> Option<&'static str> {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    match name {
        "ConfigRole" if arn.contains(":iam::aws:policy/") => Some(
            "AWS has no managed policy service-role/ConfigRole: AWS Config's policy is \
             arn:aws:iam::aws:policy/service-role/AWS_ConfigRole; attach that instead",
        ),
        "AWS_ConfigServiceRolePolicy" | "AWSConfigServiceRolePolicy" => Some(
            "this policy belongs to AWS Config's service-linked role (AWSServiceRoleForConfig) and cannot be \
             attached to an ordinary role; attach arn:aws:iam::aws:policy/service-role/AWS_ConfigRole instead",
        ),
        _ => None,
    }
}

fn is_policy_arn(arn: &str) -> bool {
    let Some(rest) = ["arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"]
        .iter()
        .find_map(|p| arn.strip_prefix(p))
    else {
        return false;
    };
    match rest.split_once(":policy/") {
        Some((account, name)) => {
            (account == "aws" || policy::is_account_id(account)) && !name.is_empty()
        }
        None => false,
    }
}

pub struct Role;

impl Kind for Role {
    const NAME: &'static str = "Role";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name", "roleId"];
    const DOCUMENT_FIELDS: &'static [&'static str] = &["assumeRolePolicy"];
    /// Other resources (a Config recorder, an instance profile) stop working without it.
    const RETAIN_BY_DEFAULT: bool = true;

    fn validate_name(name: &str) -> Result<(), String> {
        super::check_name(
            name,
            64,
            |c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c),
            "role names allow A-Z, a-z, 0-9 and + = , . @ _ -",
        )
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        policy::validate(
            &s.assume_role_policy,
            PolicyType::Trust,
            "assumeRolePolicy",
            issues,
        );
        if let Some(d) = &s.description {
            if d.chars().count() > 1000 {
                issues.at(
                    "description",
                    "description is longer than the 1000 characters IAM allows",
                );
            }
            // IAM's pattern: tab, newlines and Latin-1 printable characters only.
            if let Some(c) = d
                .chars()
                .find(|c| !matches!(*c, '\t' | '\n' | '\r' | ' '..='~' | '\u{A1}'..='\u{FF}'))
            {
                issues.at(
                    "description",
                    format!("contains {c:?}; IAM descriptions allow only Latin-1 characters"),
                );
            }
        }
        if let Some(p) = &s.path {
            let ok = p.len() <= 512
                && p.starts_with('/')
                && p.ends_with('/')
                && p.chars().all(|c| ('!'..='~').contains(&c));
            if !ok {
                issues.at("path", "a path starts and ends with / and has at most 512 printable ASCII characters, for example /service-role/");
            }
        }
        if let Some(m) = s.max_session_duration
            && !(3600..=43200).contains(&m)
        {
            issues.at(
                "maxSessionDuration",
                format!("maxSessionDuration {m} is out of range; use 3600 to 43200 seconds"),
            );
        }
        if s.managed_policy_arns.len() > 20 {
            issues.at(
                "managedPolicyArns",
                "a role can have at most 20 managed policies (10 unless the quota was raised)",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, arn) in s.managed_policy_arns.iter().enumerate() {
            let path = format!("managedPolicyArns[{i}]");
            if !seen.insert(arn) {
                issues.at(&path, format!("`{arn}` is listed twice; remove one"));
            }
            if let Some(hint) = known_bad_policy(arn) {
                issues.at(&path, hint);
            } else if arn.contains(":policy/aws-service-role/") {
                issues.at(
                    &path,
                    "policies under aws-service-role/ belong to service-linked roles and cannot be attached to an ordinary role",
                );
            } else if !arn.contains("${") && !is_policy_arn(arn) {
                issues.at(
                    &path,
                    format!("`{arn}` is not a managed policy ARN; write arn:aws:iam::aws:policy/NAME (AWS managed) or arn:aws:iam::ACCOUNT:policy/NAME"),
                );
            }
        }
        let mut total = 0;
        for (name, doc) in &s.inline_policies {
            let path = inline_path(name);
            if name.is_empty()
                || name.len() > 128
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
            {
                issues.at(
                    &path,
                    "a policy name is 1 to 128 characters of A-Z, a-z, 0-9 and + = , . @ _ -",
                );
            }
            policy::validate(doc, PolicyType::Identity, &path, issues);
            total += policy::size(doc);
        }
        if total > 10240 {
            issues.at(
                "inlinePolicies",
                format!("the inline policies add up to {total} characters; IAM allows 10240 per role. Move some into a managed policy"),
            );
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        canonical(
            &spec.assume_role_policy,
            spec.description.as_deref().unwrap_or_default(),
            spec.path.as_deref().unwrap_or(DEFAULT_PATH),
            spec.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION),
            spec.managed_policy_arns.iter().cloned(),
            &spec.inline_policies,
            &with_owner(&spec.tags, env),
            policy::partition(&env.region),
        )
    }

    fn live_state(live: &Live, env: &Env) -> Value {
        canonical(
            &live.assume_role_policy,
            live.description.as_deref().unwrap_or_default(),
            &live.path,
            live.max_session_duration,
            live.managed_policy_arns.iter().cloned(),
            &live.inline_policies,
            &live.tags,
            policy::partition(&env.region),
        )
    }

    /// The trust policy and each inline policy are shown as whole documents.
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        let split = |v: &Value| {
            let mut v = v.clone();
            let inline = v
                .as_object_mut()
                .and_then(|m| m.remove("inlinePolicies"))
                .and_then(|i| i.as_object().cloned())
                .unwrap_or_default();
            (v, inline)
        };
        let (d, d_inline) = split(desired);
        let (l, l_inline) = split(live);
        let mut out = crate::diff::diff(&d, &l, Self::DOCUMENT_FIELDS);
        let names: BTreeSet<&String> = d_inline.keys().chain(l_inline.keys()).collect();
        for name in names {
            let (dv, lv) = (d_inline.get(name), l_inline.get(name));
            let differs = match (dv, lv) {
                (Some(d), Some(l)) => contains_unknown(d) || !crate::diff::same(d, l),
                _ => true,
            };
            if differs {
                out.push(FieldDiff {
                    path: inline_path(name),
                    from: lv.cloned(),
                    to: dv.cloned(),
                });
            }
        }
        out
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([
            ("arn".to_string(), live.arn.clone()),
            ("name".to_string(), live.name.clone()),
            ("roleId".to_string(), live.role_id.clone()),
        ])
    }

    fn to_spec(live: &Live) -> Spec {
        let tags = without_owner(&live.tags);
        Spec {
            assume_role_policy: live.assume_role_policy.clone(),
            description: live.description.clone().filter(|d| !d.is_empty()),
            path: (live.path != DEFAULT_PATH).then(|| live.path.clone()),
            max_session_duration: (live.max_session_duration != DEFAULT_MAX_SESSION)
                .then_some(live.max_session_duration),
            managed_policy_arns: live.managed_policy_arns.iter().cloned().collect(),
            inline_policies: live.inline_policies.clone(),
            tags,
        }
    }

    /// Read with the role's details (ListRoleTags); IAM takes the role's name.
    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::WithResource,
        write: Write::Delta {
            tag: tag_role,
            untag: untag_role,
        },
    });

    crate::kinds::tags::accessors!(id: name, live: map tags, spec: map tags, read: with_resource);

    /// IAM GetPolicy for each literal managed policy ARN: a name that does not
    /// exist is caught before anything is created.
    async fn remote_validate(aws: &Aws, spec: &Spec) -> Issues {
        let mut issues = Issues::default();
        for (i, arn) in spec.managed_policy_arns.iter().enumerate() {
            if arn.contains("${") {
                continue;
            }
            match aws
                .clients
                .iam
                .get_policy()
                .policy_arn(arn)
                .send()
                .await
                .aws(SERVICE, "GetPolicy")
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    let hint = known_bad_policy(arn).unwrap_or(
                        "check the name and path (AWS managed policies are arn:aws:iam::aws:policy/[path/]NAME); \
                         `aws iam list-policies --scope AWS` lists them",
                    );
                    issues.at(
                        &format!("managedPolicyArns[{i}]"),
                        format!("policy {arn} does not exist: {hint}"),
                    );
                }
                // Without iam:GetPolicy the check is skipped, not failed: apply will tell.
                Err(e) => tracing::warn!(policy = %arn, "cannot check the managed policy: {e}"),
            }
        }
        issues
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // ListRoles returns every role with its trust policy, page by page, but not
        // the attachments, inline policies or tags: IAM has no batch API for those,
        // so they are read per role, and only for the roles wanted.
        let mut pages = aws.clients.iam.list_roles().into_paginator().items().send();
        let mut roles = Vec::new();
        while let Some(r) = pages.try_next().await.aws(SERVICE, "ListRoles")? {
            if wanted.contains(r.role_name()) {
                roles.push(r);
            }
        }
        Ok(futures::stream::iter(roles)
            .map(|r| async move { read_details(aws, &r).await.map(|l| (l.name.clone(), l)) })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let update = RoleUpdate {
            iam: &aws.clients.iam,
            region: &aws.env.region,
            name,
            spec,
        };
        let (arn, role_id) = match live {
            None => create_role(aws, name, spec).await?,
            Some(l) => {
                update.update_role(l).await?;
                (l.arn.clone(), l.role_id.clone())
            }
        };
        // A new role has no policies yet.
        let (no_managed, no_inline) = (BTreeSet::new(), BTreeMap::new());
        let (have_managed, have_inline) = live.map_or((&no_managed, &no_inline), |l| {
            (&l.managed_policy_arns, &l.inline_policies)
        });
        update.sync_managed_policies(have_managed).await?;
        update.sync_inline_policies(have_inline).await?;
        Ok(Attrs::from([
            ("arn".to_string(), arn),
            ("name".to_string(), name.to_string()),
            ("roleId".to_string(), role_id),
        ]))
    }

    /// IAM refuses to delete a role that still has policies or instance
    /// profiles, so those go first.
    async fn delete(aws: &Aws, name: &str, live: &Live) -> Result<(), KindError> {
        let iam = &aws.clients.iam;
        let mut profiles = iam
            .list_instance_profiles_for_role()
            .role_name(name)
            .into_paginator()
            .items()
            .send();
        while let Some(p) = profiles
            .try_next()
            .await
            .aws(SERVICE, "ListInstanceProfilesForRole")?
        {
            iam.remove_role_from_instance_profile()
                .instance_profile_name(p.instance_profile_name())
                .role_name(name)
                .send()
                .await
                .aws(SERVICE, "RemoveRoleFromInstanceProfile")?;
        }
        for arn in &live.managed_policy_arns {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .aws(SERVICE, "DetachRolePolicy")?;
        }
        for pname in live.inline_policies.keys() {
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(pname)
                .send()
                .await
                .aws(SERVICE, "DeleteRolePolicy")?;
        }
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteRole")?;
        Ok(())
    }
}

/// CreateRole with its tags; the new role's ARN and id.
async fn create_role(aws: &Aws, name: &str, spec: &Spec) -> Result<(String, String), KindError> {
    let out = aws
        .clients
        .iam
        .create_role()
        .role_name(name)
        .path(spec.path.as_deref().unwrap_or(DEFAULT_PATH))
        .assume_role_policy_document(spec.assume_role_policy.to_string())
        .set_description(spec.description.clone())
        .max_session_duration(spec.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION))
        .set_tags(Some(iam_tags(
            &with_owner(&spec.tags, &aws.env),
            "CreateRole",
        )?))
        .send()
        .await
        .aws(SERVICE, "CreateRole")?;
    let role = out
        .role()
        .ok_or_else(|| AwsError::unexpected(SERVICE, "CreateRole", "no Role in the response"))?;
    Ok((role.arn().to_string(), role.role_id().to_string()))
}

/// What a role's update shares: the role's name, the spec and where they are written.
struct RoleUpdate<'a> {
    iam: &'a aws_sdk_iam::Client,
    region: &'a str,
    name: &'a str,
    spec: &'a Spec,
}

impl RoleUpdate<'_> {
    /// UpdateRole and UpdateAssumeRolePolicy where they differ; a path IAM cannot change is refused.
    async fn update_role(&self, l: &Live) -> Result<(), KindError> {
        let part = policy::partition(self.region);
        let description = self.spec.description.clone().unwrap_or_default();
        let max_session = self
            .spec
            .max_session_duration
            .unwrap_or(DEFAULT_MAX_SESSION);
        let want_path = self.spec.path.as_deref().unwrap_or(DEFAULT_PATH);
        if l.path != want_path {
            return Err(KindError::refused(
                SERVICE,
                "UpdateRole",
                format!(
                    "the role's path is {} and IAM cannot change a path; delete the role (or keep path: {}) to use {want_path}",
                    l.path, l.path
                ),
            ));
        }
        if l.description.clone().unwrap_or_default() != description
            || l.max_session_duration != max_session
        {
            self.iam
                .update_role()
                .role_name(self.name)
                .description(&description)
                .max_session_duration(max_session)
                .send()
                .await
                .aws(SERVICE, "UpdateRole")?;
        }
        if policy::normalize(&l.assume_role_policy, part)
            != policy::normalize(&self.spec.assume_role_policy, part)
        {
            self.iam
                .update_assume_role_policy()
                .role_name(self.name)
                .policy_document(self.spec.assume_role_policy.to_string())
                .send()
                .await
                .aws(SERVICE, "UpdateAssumeRolePolicy")?;
        }
        Ok(())
    }

    /// Attaches the managed policies the spec adds, then detaches those it dropped.
    async fn sync_managed_policies(&self, have: &BTreeSet<String>) -> Result<(), AwsError> {
        let want: BTreeSet<&String> = self.spec.managed_policy_arns.iter().collect();
        for arn in want.iter().filter(|a| !have.contains(**a)) {
            self.iam
                .attach_role_policy()
                .role_name(self.name)
                .policy_arn(*arn)
                .send()
                .await
                .aws(SERVICE, "AttachRolePolicy")?;
        }
        for arn in have.iter().filter(|a| !want.contains(a)) {
            self.iam
                .detach_role_policy()
                .role_name(self.name)
                .policy_arn(arn)
                .send()
                .await
                .aws(SERVICE, "DetachRolePolicy")?;
        }
        Ok(())
    }

    /// Puts the inline policies that differ by meaning, then deletes those the spec dropped.
    async fn sync_inline_policies(&self, have: &BTreeMap<String, Value>) -> Result<(), AwsError> {
        let part = policy::partition(self.region);
        for (pname, doc) in &self.spec.inline_policies {
            let same = have
                .get(pname)
                .is_some_and(|h| policy::normalize(h, part) == policy::normalize(doc, part));
            if !same {
                self.iam
                    .put_role_policy()
                    .role_name(self.name)
                    .policy_name(pname)
                    .policy_document(doc.to_string())
                    .send()
                    .await
                    .aws(SERVICE, "PutRolePolicy")?;
            }
        }
        for pname in have
            .keys()
            .filter(|p| !self.spec.inline_policies.contains_key(*p))
        {
            self.iam
                .delete_role_policy()
                .role_name(self.name)
                .policy_name(pname)
                .send()
                .await
                .aws(SERVICE, "DeleteRolePolicy")?;
        }
        Ok(())
    }
}

async fn read_details(aws: &Aws, r: &aws_sdk_iam::types::Role) -> Result<Live, AwsError> {
    let iam = &aws.clients.iam;
    let name = r.role_name();
    let managed_policy_arns = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(SERVICE, "ListAttachedRolePolicies")?
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    let names = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(SERVICE, "ListRolePolicies")?;
    let mut inline_policies = BTreeMap::new();
    for pname in names {
        let out = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&pname)
            .send()
            .await
            .aws(SERVICE, "GetRolePolicy")?;
        inline_policies.insert(pname, policy::decode(out.policy_document()));
    }
    let tags = iam
        .list_role_tags()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(SERVICE, "ListRoleTags")?
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    Ok(Live {
        name: name.to_string(),
        arn: r.arn().to_string(),
        role_id: r.role_id().to_string(),
        path: r.path().to_string(),
        description: r.description().map(str::to_string),
        max_session_duration: r.max_session_duration().unwrap_or(DEFAULT_MAX_SESSION),
        assume_role_policy: r
            .assume_role_policy_document()
            .map(policy::decode)
            .unwrap_or(Value::Null),
        managed_policy_arns,
        inline_policies,
        tags,
    })
}

fn iam_tags(tags: &Tags, op: &'static str) -> Result<Vec<aws_sdk_iam::types::Tag>, KindError> {
    tags.iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KindError::invalid(SERVICE, op, e))
}

super::tags::tag_api! {
    client: iam, service: SERVICE, id: role_name, sdk_tag: aws_sdk_iam::types::Tag;
    tag: fn tag_role = tag_role("TagRole");
    untag: fn untag_role = untag_role("UntagRole");
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
