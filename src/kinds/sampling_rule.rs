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
use super::tags::{TagApi, Tags, with_owner, without_owner};
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

fn attrs(arn: &str, name: &str) -> Attrs {
    Attrs::from([
        ("arn".to_string(), arn.to_string()),
        ("name".to_string(), name.to_string()),
    ])
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
        super::check_name(
            name,
            32,
            |c| !c.is_control(),
            "rule names cannot contain control characters",
        )
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
        attrs(&live.arn, &live.name)
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
            return Ok(attrs(arn, name));
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
        Ok(attrs(&l.arn, name))
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
mod tests {
    use super::*;
    use crate::aws::ErrorClass;
    use crate::aws::testing::{MockClients, aws_with};
    use aws_sdk_xray::operation::create_sampling_rule::CreateSamplingRuleOutput;
    use aws_sdk_xray::operation::delete_sampling_rule::DeleteSamplingRuleOutput;
    use aws_sdk_xray::operation::get_sampling_rules::GetSamplingRulesOutput;
    use aws_sdk_xray::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_xray::operation::tag_resource::TagResourceOutput;
    use aws_sdk_xray::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_xray::operation::update_sampling_rule::UpdateSamplingRuleOutput;
    use aws_sdk_xray::types::SamplingRuleRecord;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const NAME: &str = "monitoring-lab-api";
    const ARN: &str = "arn:aws:xray:us-east-1:123456789012:sampling-rule/monitoring-lab-api";
    const DEFAULT_ARN: &str = "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default";

    fn spec() -> Spec {
        Spec {
            resource_arn: Some("*".into()),
            priority: Some(1000),
            fixed_rate: 0.1,
            reservoir_size: 1,
            service_name: Some("monitoring-lab-api".into()),
            service_type: Some("*".into()),
            host: Some("*".into()),
            http_method: Some("*".into()),
            url_path: Some("/api/*".into()),
            version: Some(1),
            attributes: BTreeMap::new(),
            tags: Some(BTreeMap::new()),
        }
    }

    fn env() -> Env {
        Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "test".into(),
        }
    }

    fn sdk_rule(
        name: &str,
        arn: &str,
        f: impl FnOnce(Rule) -> Rule,
    ) -> aws_sdk_xray::types::SamplingRule {
        let base = if name == DEFAULT_RULE {
            Rule {
                resource_arn: "*".into(),
                priority: 10000,
                fixed_rate: 0.05,
                reservoir_size: 1,
                service_name: "*".into(),
                service_type: "*".into(),
                host: "*".into(),
                http_method: "*".into(),
                url_path: "*".into(),
                version: 1,
                attributes: BTreeMap::new(),
            }
        } else {
            Rule::from_spec(&spec())
        };
        let r = f(base);
        aws_sdk_xray::types::SamplingRule::builder()
            .rule_name(name)
            .rule_arn(arn)
            .resource_arn(r.resource_arn)
            .priority(r.priority)
            .fixed_rate(r.fixed_rate)
            .reservoir_size(r.reservoir_size)
            .service_name(r.service_name)
            .service_type(r.service_type)
            .host(r.host)
            .http_method(r.http_method)
            .url_path(r.url_path)
            .version(r.version)
            // AWS answers with an empty map, not an absent one.
            .set_attributes(Some(r.attributes.into_iter().collect()))
            .build()
            .unwrap()
    }

    /// GetSamplingRules as AWS answers it: the Default rule is always listed.
    fn rules_output(extra: Option<aws_sdk_xray::types::SamplingRule>) -> GetSamplingRulesOutput {
        let record = |r| {
            SamplingRuleRecord::builder()
                .sampling_rule(r)
                .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                .modified_at(aws_smithy_types::DateTime::from_secs(1_700_000_500))
                .build()
        };
        let mut b = GetSamplingRulesOutput::builder().sampling_rule_records(record(sdk_rule(
            DEFAULT_RULE,
            DEFAULT_ARN,
            |r| r,
        )));
        if let Some(r) = extra {
            b = b.sampling_rule_records(record(r));
        }
        b.build()
    }

    fn owner_tags() -> ListTagsForResourceOutput {
        ListTagsForResourceOutput::builder()
            .tags(
                aws_sdk_xray::types::Tag::builder()
                    .key("vigil:owner")
                    .value("test")
                    .build()
                    .unwrap(),
            )
            .build()
    }

    fn wanted(names: &[&str]) -> Wanted {
        Wanted::names(
            names
                .iter()
                .map(|n| (n.to_string(), json!({"tags": {}})))
                .collect(),
        )
    }

    fn issues(name: &str, s: &Spec) -> Vec<(String, String)> {
        let mut i = Issues::default();
        SamplingRule::validate_named(name, s, &mut i);
        i.0.into_iter()
            .map(|(p, m)| (format!("{p:?}"), m))
            .collect()
    }

    #[test]
    fn validation_enforces_aws_ranges() {
        assert!(issues(NAME, &spec()).is_empty());
        let bad = Spec {
            priority: Some(10000),
            fixed_rate: 1.5,
            reservoir_size: -1,
            version: Some(2),
            http_method: Some("PROPPATCHXX".into()),
            attributes: BTreeMap::from([("k".to_string(), "v".repeat(33))]),
            ..spec()
        };
        let found = issues(NAME, &bad);
        let msgs: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(found.len(), 6, "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("between 0 and 1")));
        assert!(msgs.iter().any(|m| m.contains("1 to 9999")));
        assert!(msgs.iter().any(|m| m.contains("must be 1")));
        let missing = Spec {
            priority: None,
            ..spec()
        };
        assert!(issues(NAME, &missing)[0].1.contains("is required"));
        assert!(SamplingRule::validate_name(&"r".repeat(33)).is_err());
        assert!(SamplingRule::validate_name(&"r".repeat(32)).is_ok());
    }

    #[test]
    fn default_rule_takes_only_rate_and_reservoir() {
        let ok = Spec {
            fixed_rate: 0.1,
            reservoir_size: 2,
            ..Spec::default()
        };
        assert!(issues(DEFAULT_RULE, &ok).is_empty());
        let found = issues(DEFAULT_RULE, &spec());
        // Every matcher, the priority, the version and the tags are AWS's to set.
        assert_eq!(found.len(), 9, "{found:?}");
        assert!(
            found
                .iter()
                .all(|(_, m)| m.contains("only fixedRate and reservoirSize"))
        );
        // Its live form, with AWS's fixed values, is the same as the short manifest.
        let live = Live {
            name: DEFAULT_RULE.into(),
            arn: DEFAULT_ARN.into(),
            rule: Rule::from_sdk(&sdk_rule(DEFAULT_RULE, DEFAULT_ARN, |r| Rule {
                fixed_rate: 0.1,
                reservoir_size: 2,
                ..r
            })),
            tags: None,
        };
        assert_eq!(
            SamplingRule::normalize(&ok, &env()),
            SamplingRule::live_state(&live, &env())
        );
        assert_eq!(SamplingRule::to_spec(&live), ok);
    }

    #[test]
    fn defaults_fill_in_like_aws() {
        // resourceArn and the matchers absent mean "*", version 1, attributes empty.
        let short = Spec {
            priority: Some(1000),
            fixed_rate: 1.0,
            reservoir_size: 0,
            ..Spec::default()
        };
        let live = Live {
            name: NAME.into(),
            arn: ARN.into(),
            rule: Rule::from_sdk(&sdk_rule(NAME, ARN, |r| Rule {
                fixed_rate: 1.0,
                reservoir_size: 0,
                service_name: "*".into(),
                url_path: "*".into(),
                ..r
            })),
            tags: None,
        };
        assert_eq!(
            SamplingRule::normalize(&short, &env()),
            SamplingRule::live_state(&live, &env())
        );
        // A rate written as the integer 1 is the same as 1.0.
        let from_yaml: Spec =
            serde_json::from_value(json!({"priority": 1000, "fixedRate": 1, "reservoirSize": 0}))
                .unwrap();
        assert_eq!(
            SamplingRule::normalize(&from_yaml, &env()),
            SamplingRule::live_state(&live, &env())
        );
        // Import writes the defaults back out as absent.
        let imported = SamplingRule::to_spec(&live);
        assert_eq!(imported, short);
    }

    #[test]
    fn update_carries_only_changed_fields() {
        let live = Rule::from_spec(&spec());
        assert!(live.update_from(&live, NAME).is_none());
        let mut want = live.clone();
        want.fixed_rate = 0.2;
        want.url_path = "/api/orders/*".into();
        let u = live.clone();
        let upd = want.update_from(&u, NAME).unwrap();
        assert_eq!(upd.rule_name(), Some(NAME));
        assert_eq!(upd.fixed_rate(), Some(0.2));
        assert_eq!(upd.url_path(), Some("/api/orders/*"));
        assert_eq!(
            (upd.priority(), upd.host(), upd.attributes()),
            (None, None, None)
        );
        // Removing the last attribute sends an empty map, which clears them.
        let mut with_attr = live.clone();
        with_attr.attributes.insert("tier".into(), "gold".into());
        let upd = live.update_from(&with_attr, NAME).unwrap();
        assert_eq!(upd.attributes().map(|a| a.len()), Some(0));
    }

    #[tokio::test]
    async fn create() {
        let get =
            mock!(aws_sdk_xray::Client::get_sampling_rules).then_output(|| rules_output(None));
        let create = mock!(aws_sdk_xray::Client::create_sampling_rule)
            .match_requests(|r| {
                let Some(s) = r.sampling_rule() else {
                    return false;
                };
                s.rule_name() == Some(NAME)
                    && s.priority() == 1000
                    && s.fixed_rate() == 0.1
                    && s.reservoir_size() == 1
                    && s.service_name() == "monitoring-lab-api"
                    && s.url_path() == "/api/*"
                    && s.resource_arn() == "*"
                    && s.version() == 1
                    && s.attributes().is_none()
                    && r.tags()
                        .iter()
                        .any(|t| t.key() == "vigil:owner" && t.value() == "test")
            })
            .then_output(|| {
                CreateSamplingRuleOutput::builder()
                    .sampling_rule_record(
                        SamplingRuleRecord::builder()
                            .sampling_rule(sdk_rule(NAME, ARN, |r| r))
                            .build(),
                    )
                    .build()
            });
        let xray = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&get, &create]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<SamplingRule>(&aws, &wanted(&[NAME]))
            .await
            .unwrap();
        assert!(live.is_empty());
        let attrs = crate::kinds::apply_typed::<SamplingRule>(
            &aws,
            NAME,
            &spec(),
            None,
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(attrs["arn"], ARN);
        assert_eq!((get.num_calls(), create.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn noop_writes_nothing() {
        let get = mock!(aws_sdk_xray::Client::get_sampling_rules)
            .then_output(|| rules_output(Some(sdk_rule(NAME, ARN, |r| r))));
        let tags = mock!(aws_sdk_xray::Client::list_tags_for_resource)
            .match_requests(|r| r.resource_arn() == Some(ARN))
            .then_output(owner_tags);
        let update = mock!(aws_sdk_xray::Client::update_sampling_rule)
            .then_output(|| UpdateSamplingRuleOutput::builder().build());
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
        let live = crate::kinds::observe_live::<SamplingRule>(&aws, &wanted(&[NAME]))
            .await
            .unwrap();
        let l = &live[NAME];
        assert!(
            SamplingRule::diff(
                &SamplingRule::normalize(&spec(), &aws.env),
                &SamplingRule::live_state(l, &aws.env)
            )
            .is_empty()
        );
        crate::kinds::apply_typed::<SamplingRule>(
            &aws,
            NAME,
            &spec(),
            Some(l),
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!((get.num_calls(), tags.num_calls()), (1, 1));
        assert_eq!(
            (update.num_calls(), tag.num_calls(), untag.num_calls()),
            (0, 0, 0)
        );
    }

    #[tokio::test]
    async fn update_sends_a_partial_sampling_rule_update() {
        // Someone raised the rate to 0.5 in the console.
        let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_output(|| {
            rules_output(Some(sdk_rule(NAME, ARN, |r| Rule {
                fixed_rate: 0.5,
                ..r
            })))
        });
        let tags = mock!(aws_sdk_xray::Client::list_tags_for_resource).then_output(owner_tags);
        let update = mock!(aws_sdk_xray::Client::update_sampling_rule)
            .match_requests(|r| {
                r.sampling_rule_update().is_some_and(|u| {
                    u.rule_name() == Some(NAME)
                        && u.fixed_rate() == Some(0.1)
                        && u.priority().is_none()
                        && u.reservoir_size().is_none()
                        && u.service_name().is_none()
                        && u.attributes().is_none()
                })
            })
            .then_output(|| UpdateSamplingRuleOutput::builder().build());
        let tag = mock!(aws_sdk_xray::Client::tag_resource)
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
        let live = crate::kinds::observe_live::<SamplingRule>(&aws, &wanted(&[NAME]))
            .await
            .unwrap();
        let l = &live[NAME];
        let diffs = SamplingRule::diff(
            &SamplingRule::normalize(&spec(), &aws.env),
            &SamplingRule::live_state(l, &aws.env),
        );
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].path, "fixedRate");
        assert_eq!(
            (diffs[0].from.clone(), diffs[0].to.clone()),
            (Some(json!(0.5)), Some(json!(0.1)))
        );
        crate::kinds::apply_typed::<SamplingRule>(
            &aws,
            NAME,
            &spec(),
            Some(l),
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!((update.num_calls(), tag.num_calls()), (1, 0));
    }

    #[tokio::test]
    async fn default_rule_is_updated_in_place_never_created_tagged_or_deleted() {
        let get =
            mock!(aws_sdk_xray::Client::get_sampling_rules).then_output(|| rules_output(None));
        let update = mock!(aws_sdk_xray::Client::update_sampling_rule)
            .match_requests(|r| {
                r.sampling_rule_update().is_some_and(|u| {
                    u.rule_name() == Some(DEFAULT_RULE)
                        && u.fixed_rate() == Some(0.1)
                        && u.reservoir_size().is_none()
                })
            })
            .then_output(|| UpdateSamplingRuleOutput::builder().build());
        let xray = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&get, &update]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let s = Spec {
            fixed_rate: 0.1,
            reservoir_size: 1,
            ..Spec::default()
        };
        // Even with tags wanted (import), the Default rule's tags are not read.
        let live = crate::kinds::observe_live::<SamplingRule>(&aws, &Wanted::everything())
            .await
            .unwrap();
        let l = &live[DEFAULT_RULE];
        assert!(
            SamplingRule::live_tags(l).is_none(),
            "its tags are not read"
        );
        crate::kinds::apply_typed::<SamplingRule>(
            &aws,
            DEFAULT_RULE,
            &s,
            Some(l),
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(update.num_calls(), 1);

        let err = crate::kinds::apply_typed::<SamplingRule>(
            &aws,
            DEFAULT_RULE,
            &s,
            None,
            &Default::default(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("cannot be created"), "{err}");
        let err = SamplingRule::delete(&aws, DEFAULT_RULE, l)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot be deleted"), "{err}");
        assert_eq!(err.class(), ErrorClass::Terminal);
        // Only the one update was sent.
        assert_eq!((get.num_calls(), update.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn delete() {
        let del = mock!(aws_sdk_xray::Client::delete_sampling_rule)
            .match_requests(|r| r.rule_name() == Some(NAME) && r.rule_arn().is_none())
            .then_output(|| DeleteSamplingRuleOutput::builder().build());
        let xray = mock_client!(aws_sdk_xray, RuleMode::Sequential, [&del]);
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let l = Live {
            name: NAME.into(),
            arn: ARN.into(),
            rule: Rule::from_spec(&spec()),
            tags: None,
        };
        SamplingRule::delete(&aws, NAME, &l).await.unwrap();
        assert_eq!(del.num_calls(), 1);
    }

    #[tokio::test]
    async fn throttling_is_classified() {
        // X-Ray's ThrottledException is a 429. Retries are off so the test counts one attempt;
        // vigil's own clients retry it (standard mode) before reporting.
        let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_http_response(|| {
            let mut r = HttpResponse::new(
                StatusCode::try_from(429).unwrap(),
                SdkBody::from(r#"{"message":"Rate exceeded"}"#),
            );
            r.headers_mut().insert("content-type", "application/json");
            r.headers_mut()
                .insert("x-amzn-errortype", "ThrottledException");
            r
        });
        let xray = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&get], |c| c
            .retry_config(aws_sdk_xray::config::retry::RetryConfig::disabled()));
        let aws = aws_with(MockClients {
            xray: Some(xray),
            ..Default::default()
        });
        let err = crate::kinds::observe_live::<SamplingRule>(&aws, &wanted(&[NAME]))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Throttled);
        assert!(err.class().is_retryable());
        assert_eq!(
            err.aws().and_then(|a| a.code.as_deref()),
            Some("ThrottledException")
        );
        assert_eq!(
            err.aws().unwrap().message,
            "ThrottledException: Rate exceeded"
        );
        assert_eq!(get.num_calls(), 1);
    }
}
