//! `SamplingRule`: an X-Ray sampling rule, which decides how many matching
//! requests the X-Ray SDKs trace.
//!
//! Every account has a rule named `Default` (priority 10000, matching
//! everything). AWS refuses to create or delete it; only its `fixedRate` and
//! `reservoirSize` can change. vigil lets a manifest declare it with just those
//! two fields, updates it in place, never tags it (vigil did not create it),
//! and refuses to delete it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{TagApi, with_owner, without_owner};
use super::xray_group::{SERVICE, TAGS, xray_tags};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};

/// The rule AWS keeps in every account.
pub const DEFAULT_RULE: &str = "Default";
const DEFAULT_PRIORITY: i32 = 10000;
const ANY: &str = "*";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Matches the ARN of the resource the service runs on; absent means `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// 1 to 9999, lower first. Required, except on the `Default` rule (10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Share of matching requests traced after the reservoir is used, 0 to 1.
    pub fixed_rate: f64,
    /// Requests per second traced before `fixedRate` applies.
    pub reservoir_size: i32,
    /// The matchers below are absent meaning `*`, as in the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    /// The rule format; AWS knows only 1, the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Request attributes that must all match; absent means none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Compared only when given; the owner tag is added either way on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// A rule with every default filled in: what AWS stores and GetSamplingRules returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub resource_arn: String,
    pub priority: i32,
    pub fixed_rate: f64,
    pub reservoir_size: i32,
    pub service_name: String,
    pub service_type: String,
    pub host: String,
    pub http_method: String,
    pub url_path: String,
    pub version: i32,
    pub attributes: BTreeMap<String, String>,
}

impl Rule {
    fn from_spec(s: &Spec) -> Self {
        let any = |v: &Option<String>| v.clone().unwrap_or_else(|| ANY.to_string());
        Rule {
            resource_arn: any(&s.resource_arn),
            // Validation lets only the Default rule leave priority out.
            priority: s.priority.unwrap_or(DEFAULT_PRIORITY),
            fixed_rate: s.fixed_rate,
            reservoir_size: s.reservoir_size,
            service_name: any(&s.service_name),
            service_type: any(&s.service_type),
            host: any(&s.host),
            http_method: any(&s.http_method),
            url_path: any(&s.url_path),
            version: s.version.unwrap_or(1),
            attributes: s.attributes.clone(),
        }
    }

    pub(crate) fn from_sdk(r: &aws_sdk_xray::types::SamplingRule) -> Self {
        Rule {
            resource_arn: r.resource_arn().to_string(),
            priority: r.priority(),
            fixed_rate: r.fixed_rate(),
            reservoir_size: r.reservoir_size(),
            service_name: r.service_name().to_string(),
            service_type: r.service_type().to_string(),
            host: r.host().to_string(),
            http_method: r.http_method().to_string(),
            url_path: r.url_path().to_string(),
            version: r.version(),
            attributes: r
                .attributes()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }

    fn canonical(&self, tags: Option<&BTreeMap<String, String>>) -> Value {
        let mut v = json!({
            "resourceArn": self.resource_arn,
            "priority": self.priority,
            "fixedRate": self.fixed_rate,
            "reservoirSize": self.reservoir_size,
            "serviceName": self.service_name,
            "serviceType": self.service_type,
            "host": self.host,
            "httpMethod": self.http_method,
            "urlPath": self.url_path,
            "version": self.version,
            "attributes": self.attributes,
        });
        if let Some(t) = tags {
            v["tags"] = json!(t);
        }
        // 1 and 1.0 are the same rate.
        crate::diff::canonical(&v)
    }

    /// A SamplingRuleUpdate carrying only the fields that differ from `live`,
    /// or `None` when nothing does. Unset fields keep their value in AWS;
    /// attributes are replaced as a whole, so an empty map clears them.
    fn update_from(
        &self,
        live: &Rule,
        name: &str,
    ) -> Option<aws_sdk_xray::types::SamplingRuleUpdate> {
        let mut u = aws_sdk_xray::types::SamplingRuleUpdate::builder().rule_name(name);
        let mut changed = false;
        macro_rules! field {
            ($f:ident, $set:ident) => {
                if self.$f != live.$f {
                    u = u.$set(self.$f.clone());
                    changed = true;
                }
            };
        }
        field!(resource_arn, resource_arn);
        field!(priority, priority);
        field!(reservoir_size, reservoir_size);
        field!(service_name, service_name);
        field!(service_type, service_type);
        field!(host, host);
        field!(http_method, http_method);
        field!(url_path, url_path);
        if crate::diff::canonical(&json!(self.fixed_rate))
            != crate::diff::canonical(&json!(live.fixed_rate))
        {
            u = u.fixed_rate(self.fixed_rate);
            changed = true;
        }
        if self.attributes != live.attributes {
            u = u.set_attributes(Some(self.attributes.clone().into_iter().collect()));
            changed = true;
        }
        changed.then(|| u.build())
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub rule: Rule,
    /// Read only when the manifest declares tags, or for import and prune.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Length limits from the X-Ray API reference; unresolved references are not measured.
fn check_len(value: Option<&String>, max: usize, path: &str, issues: &mut Issues) {
    if let Some(v) = value
        && !v.contains("${")
        && v.chars().count() > max
    {
        issues.at(
            path,
            format!(
                "{} is longer than the {max} characters AWS allows",
                super::field_name(path)
            ),
        );
    }
}

pub struct SamplingRule;

impl Kind for SamplingRule {
    const NAME: &'static str = "SamplingRule";
    type Spec = Spec;
    type Live = Live;

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 32, "rule")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if !(0.0..=1.0).contains(&s.fixed_rate) {
            issues.at(
                "fixedRate",
                "fixedRate must be between 0 and 1 (0.05 traces 5% of requests)",
            );
        }
        if s.reservoir_size < 0 {
            issues.at(
                "reservoirSize",
                "reservoirSize must be 0 or more requests per second",
            );
        }
        if let Some(v) = s.version
            && v != 1
        {
            issues.at(
                "version",
                "version must be 1, the only sampling rule format AWS knows; or leave it out",
            );
        }
        check_len(s.resource_arn.as_ref(), 500, "resourceArn", issues);
        check_len(s.service_name.as_ref(), 64, "serviceName", issues);
        check_len(s.service_type.as_ref(), 64, "serviceType", issues);
        check_len(s.host.as_ref(), 64, "host", issues);
        check_len(s.http_method.as_ref(), 10, "httpMethod", issues);
        check_len(s.url_path.as_ref(), 128, "urlPath", issues);
        if s.attributes.len() > 5 {
            issues.at(
                "attributes",
                "AWS allows at most 5 attributes on a sampling rule",
            );
        }
        for (k, v) in &s.attributes {
            let len_ok = |x: &str| (1..=32).contains(&x.chars().count());
            if !len_ok(k) || !len_ok(v) {
                issues.at(
                    &format!("attributes.{k}"),
                    "attribute keys and values must be 1 to 32 characters long",
                );
            }
        }
    }

    fn validate_named(name: &str, s: &Spec, issues: &mut Issues) {
        Self::validate(s, issues);
        if name != DEFAULT_RULE {
            match s.priority {
                None => issues.at(
                    "priority",
                    "priority is required: 1 to 9999, lower is evaluated first",
                ),
                Some(p) if !(1..=9999).contains(&p) => issues.at(
                    "priority",
                    "priority must be 1 to 9999 (10000 belongs to the Default rule)",
                ),
                Some(_) => {}
            }
            return;
        }
        // AWS fixes everything about the Default rule but its rate and reservoir.
        let fixed = [
            ("resourceArn", s.resource_arn.is_some()),
            ("priority", s.priority.is_some()),
            ("serviceName", s.service_name.is_some()),
            ("serviceType", s.service_type.is_some()),
            ("host", s.host.is_some()),
            ("httpMethod", s.http_method.is_some()),
            ("urlPath", s.url_path.is_some()),
            ("version", s.version.is_some()),
            ("attributes", !s.attributes.is_empty()),
            ("tags", s.tags.is_some()),
        ];
        for (field, set) in fixed {
            if set {
                issues.at(
                    field,
                    format!(
                        "the Default rule belongs to AWS: only fixedRate and reservoirSize can change; remove `{field}`"
                    ),
                );
            }
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        Rule::from_spec(spec).canonical(spec.tags.as_ref().map(|t| with_owner(t, env)).as_ref())
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        live.rule.canonical(live.tags.as_ref())
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::arn_and_name(&live.arn, &live.name)
    }

    fn to_spec(live: &Live) -> Spec {
        let r = &live.rule;
        let fixed_rate = r.fixed_rate;
        let reservoir_size = r.reservoir_size;
        if live.name == DEFAULT_RULE {
            return Spec {
                fixed_rate,
                reservoir_size,
                ..Spec::default()
            };
        }
        let unless_any = |v: &str| (v != ANY).then(|| v.to_string());
        let tags = live.tags.as_ref().map(without_owner);
        Spec {
            resource_arn: unless_any(&r.resource_arn),
            priority: Some(r.priority),
            fixed_rate,
            reservoir_size,
            service_name: unless_any(&r.service_name),
            service_type: unless_any(&r.service_type),
            host: unless_any(&r.host),
            http_method: unless_any(&r.http_method),
            url_path: unless_any(&r.url_path),
            version: (r.version != 1).then_some(r.version),
            attributes: r.attributes.clone(),
            tags: tags.filter(|t| !t.is_empty()),
        }
    }

    const TAGS: Option<TagApi> = Some(TAGS);

    /// The Default rule is AWS's: never tagged by vigil, so never read.
    fn tagged(name: &str) -> bool {
        name != DEFAULT_RULE
    }

    crate::kinds::tags::accessors!(id: arn, live: opt tags, spec: opt tags);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // GetSamplingRules returns every rule in full: one walk for all.
        let mut out = BTreeMap::new();
        let mut pages = aws
            .clients
            .xray
            .get_sampling_rules()
            .into_paginator()
            .send();
        while let Some(page) = pages.try_next().await.aws(SERVICE, "GetSamplingRules")? {
            for record in page.sampling_rule_records() {
                let Some(r) = record.sampling_rule() else {
                    continue;
                };
                let (Some(name), Some(arn)) = (r.rule_name(), r.rule_arn()) else {
                    continue;
                };
                if !wanted.contains(name) {
                    continue;
                }
                out.insert(
                    name.to_string(),
                    Live {
                        name: name.to_string(),
                        arn: arn.to_string(),
                        rule: Rule::from_sdk(r),
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
        let want = Rule::from_spec(spec);
        let Some(l) = live else {
            if name == DEFAULT_RULE {
                return Err(KindError::refused(
                    SERVICE,
                    "CreateSamplingRule",
                    "the Default sampling rule cannot be created; AWS keeps one in every account, \
                     but GetSamplingRules did not list it here",
                ));
            }
            let Some(priority) = spec.priority else {
                return Err(KindError::Invalid(format!(
                    "{SERVICE} CreateSamplingRule: priority is required"
                )));
            };
            let rule = aws_sdk_xray::types::SamplingRule::builder()
                .rule_name(name)
                .resource_arn(&want.resource_arn)
                .priority(priority)
                .fixed_rate(want.fixed_rate)
                .reservoir_size(want.reservoir_size)
                .service_name(&want.service_name)
                .service_type(&want.service_type)
                .host(&want.host)
                .http_method(&want.http_method)
                .url_path(&want.url_path)
                .version(want.version)
                .set_attributes(
                    (!want.attributes.is_empty())
                        .then(|| want.attributes.clone().into_iter().collect()),
                )
                .build()
                .map_err(|e| KindError::invalid(SERVICE, "CreateSamplingRule", e))?;
            let tags = xray_tags(
                &with_owner(&spec.tags.clone().unwrap_or_default(), &aws.env),
                "CreateSamplingRule",
            )?;
            let out = xray
                .create_sampling_rule()
                .sampling_rule(rule)
                .set_tags(Some(tags))
                .send()
                .await
                .aws(SERVICE, "CreateSamplingRule")?;
            let arn = out
                .sampling_rule_record()
                .and_then(|r| r.sampling_rule())
                .and_then(|r| r.rule_arn())
                .ok_or_else(|| {
                    AwsError::unexpected(
                        SERVICE,
                        "CreateSamplingRule",
                        "no RuleARN in the response",
                    )
                })?;
            return Ok(Attrs::arn_and_name(arn, name));
        };
        if want.version != l.rule.version {
            // SamplingRuleUpdate has no Version member.
            return Err(KindError::refused(
                SERVICE,
                "UpdateSamplingRule",
                format!(
                    "the rule has version {} and UpdateSamplingRule cannot change it; delete the rule to recreate it",
                    l.rule.version
                ),
            ));
        }
        if let Some(update) = want.update_from(&l.rule, name) {
            xray.update_sampling_rule()
                .sampling_rule_update(update)
                .send()
                .await
                .aws(SERVICE, "UpdateSamplingRule")?;
        }
        Ok(Attrs::arn_and_name(&l.arn, name))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        if name == DEFAULT_RULE {
            return Err(KindError::refused(
                SERVICE,
                "DeleteSamplingRule",
                "the Default sampling rule cannot be deleted; AWS keeps it in every account. \
                 Remove it from the directory to stop managing it",
            ));
        }
        let result = aws
            .clients
            .xray
            .delete_sampling_rule()
            .rule_name(name)
            .send()
            .await
            .aws(SERVICE, "DeleteSamplingRule");
        match result {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
