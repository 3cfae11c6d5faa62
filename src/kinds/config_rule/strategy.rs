//! The config_rule kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use aws_sdk_config::types as cfg;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub enum RuleSource {
    Managed {
        id: String,
        params: Option<Vec<(String, Value)>>,
        periodic: bool,
    },
    Lambda {
        arn: String,
        triggers: Vec<(String, Option<String>)>,
    },
    Guard {
        text: String,
        debug: bool,
    },
}

#[derive(Debug, Clone)]
pub enum ScopeSem {
    Types(Vec<String>),
    Tag(String, Option<String>),
    Resource(String, String),
}

#[derive(Debug, Clone)]
pub struct RuleSem {
    pub name: String,
    pub description: String,
    pub source: RuleSource,
    pub scope: Option<ScopeSem>,
    pub frequency: Option<String>,
    pub modes: Vec<String>,
    pub tags: Option<Tags>,
}

fn rule_source() -> impl Strategy<Value = RuleSource> {
    let managed = select(
        &[
            ("ACCESS_KEYS_ROTATED", 1, true),
            ("IAM_PASSWORD_POLICY", 2, true),
            ("S3_BUCKET_VERSIONING_ENABLED", 0, false),
            ("ROOT_ACCOUNT_MFA_ENABLED", 0, true),
            ("REQUIRED_TAGS", 3, false),
        ][..],
    )
    .prop_map(|(id, params, periodic)| {
        let params = match params {
            1 => Some(vec![("maxAccessKeyAge".to_string(), json!(90))]),
            2 => Some(vec![
                ("RequireUppercaseCharacters".to_string(), json!("true")),
                ("MinimumPasswordLength".to_string(), json!(14)),
            ]),
            3 => Some(vec![("tag1Key".to_string(), json!("team"))]),
            _ => None,
        };
        RuleSource::Managed {
            id: id.into(),
            params,
            periodic,
        }
    });
    let lambda = subsequence(
        vec![
            ("ConfigurationItemChangeNotification", None),
            ("OversizedConfigurationItemChangeNotification", None),
            ("ScheduledNotification", Some("TwentyFour_Hours")),
            ("ScheduledNotification", Some("One_Hour")),
        ],
        1..=3,
    )
    .prop_map(|t| RuleSource::Lambda {
        arn: arn("lambda", "function:config-check"),
        triggers: t
            .into_iter()
            .map(|(m, f)| (m.to_string(), f.map(str::to_string)))
            .collect(),
    });
    let guard = (
        select(
            &[
                "rule check_versioning { supplementaryConfiguration.BucketVersioningConfiguration.status == \"Enabled\" }",
                "rule tags { tags[*] !empty }",
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(|(t, debug)| RuleSource::Guard {
            text: t.into(),
            debug,
        });
    prop_oneof![managed, lambda, guard]
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["access-keys-rotated", "lab rule", "r"][..]),
        select(&["", "Checks what the lab needs"][..]),
        rule_source(),
        prop::option::of(prop_oneof![
            resource_types().prop_map(ScopeSem::Types),
            (select(&["team", "env"][..]), opt_string(&["ops", ""]),)
                .prop_map(|(k, v)| ScopeSem::Tag(k.into(), v)),
            Just(ScopeSem::Resource(
                "AWS::S3::Bucket".into(),
                "monitoring-lab-config-bucket".into()
            )),
        ]),
        opt_string(&["One_Hour", "TwentyFour_Hours", "Twelve_Hours"]),
        subsequence(vec!["DETECTIVE", "PROACTIVE"], 0..=2),
        opt_tags(),
    )
        .prop_map(
            |(name, description, source, scope, frequency, modes, tags)| {
                let periodic = matches!(source, RuleSource::Managed { periodic: true, .. });
                RuleSem {
                    name: name.into(),
                    description: description.into(),
                    source,
                    scope,
                    // Only periodic rules take a frequency.
                    frequency: if periodic { frequency } else { None },
                    modes: modes.into_iter().map(str::to_string).collect(),
                    tags,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_rule)
}

/// An input parameter written as AWS keeps it (text) or as YAML would (number, boolean).
fn param(v: &Value, st: Style) -> Value {
    match v {
        Value::Number(n) => match *st.pick("param", &[0, 1, 2]) {
            0 => json!(n.to_string()),
            1 => st.num("n", n.as_f64().unwrap_or_default()),
            _ => json!(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) if (s == "true" || s == "false") && st.coin("bool") => json!(s == "true"),
        other => other.clone(),
    }
}

fn render_rule(s: &RuleSem, st: Style) -> Value {
    let source = match &s.source {
        RuleSource::Managed { id, .. } => Obj::new()
            .put("owner", "AWS")
            .put("sourceIdentifier", id.as_str()),
        RuleSource::Lambda { arn, triggers } => {
            let list: Vec<Value> = triggers
                .iter()
                .enumerate()
                .map(|(i, (m, f))| {
                    let ts = st.sub(&format!("t{i}"));
                    let default_f = m == "ScheduledNotification"
                        && f.as_deref() == Some("TwentyFour_Hours")
                        && ts.coin("f");
                    Obj::new()
                        .when(ts.coin("src"), "eventSource", "aws.config")
                        .put("messageType", m.as_str())
                        .opt(
                            "maximumExecutionFrequency",
                            f.as_deref().filter(|_| !default_f),
                        )
                        .done(ts, "trigger")
                })
                .collect();
            Obj::new()
                .put("owner", "CUSTOM_LAMBDA")
                .put("sourceIdentifier", arn.as_str())
                .put("sourceDetails", json!(st.shuffled("triggers", &list)))
        }
        RuleSource::Guard { text, debug } => {
            let text = if st.coin("nl") {
                format!("{text}\n")
            } else {
                text.clone()
            };
            let details = Obj::new()
                .put("policyRuntime", "guard-2.x.x")
                .put("policyText", text)
                .when(*debug || st.coin("debug"), "enableDebugLogDelivery", *debug)
                .done(st, "details");
            Obj::new()
                .put("owner", "CUSTOM_POLICY")
                .put("customPolicyDetails", details)
                .put(
                    "sourceDetails",
                    json!([{"messageType": "ConfigurationItemChangeNotification"}]),
                )
        }
    }
    .done(st, "source");
    let params = match &s.source {
        RuleSource::Managed {
            params: Some(p), ..
        } => Some(object(
            st,
            "params",
            p.iter()
                .map(|(k, v)| (k.as_str(), param(v, st.sub(k))))
                .collect(),
        )),
        // An empty mapping is no parameters at all.
        _ => st.coin("params{}").then(|| json!({})),
    };
    let scope = match &s.scope {
        None => st.coin("scope{}").then(|| json!({})),
        Some(ScopeSem::Types(t)) => {
            Some(json!({"complianceResourceTypes": set_value(t, st, "scope")}))
        }
        Some(ScopeSem::Tag(k, v)) => Some(
            Obj::new()
                .put("tagKey", k.as_str())
                .opt("tagValue", v.as_deref())
                .done(st, "scope"),
        ),
        Some(ScopeSem::Resource(t, id)) => Some(
            Obj::new()
                .put("complianceResourceTypes", json!([t]))
                .put("complianceResourceId", id.as_str())
                .done(st, "scope"),
        ),
    };
    // Detective only is what AWS does when no mode is given.
    let modes: Vec<Value> = if s.modes == ["DETECTIVE"] && st.coin("modes") {
        Vec::new()
    } else {
        s.modes.iter().map(|m| json!({"mode": m})).collect()
    };
    let o = Obj::new()
        .when(
            !s.description.is_empty() || st.coin("description"),
            "description",
            s.description.as_str(),
        )
        .put("source", source)
        .opt("inputParameters", params)
        .opt("scope", scope)
        .opt("maximumExecutionFrequency", s.frequency.as_deref())
        .when(
            !modes.is_empty() || st.coin("modes[]"),
            "evaluationModes",
            json!(st.shuffled("modes", &modes)),
        );
    opt_tags_field(o, &s.tags, st).done(st, "rule")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &config_rule::Spec, st: Style, env: &Env) -> config_rule::Live {
    let src = &s.source;
    let periodic = |m: &str| m == "ScheduledNotification";
    let details: Vec<cfg::SourceDetail> = src
        .source_details
        .iter()
        .map(|d| {
            cfg::SourceDetail::builder()
                .event_source(cfg::EventSource::from(
                    d.event_source.as_deref().unwrap_or("aws.config"),
                ))
                .message_type(cfg::MessageType::from(d.message_type.as_str()))
                // AWS fills the 24-hour default in for periodic triggers.
                .set_maximum_execution_frequency(
                    d.maximum_execution_frequency
                        .as_deref()
                        .or(periodic(&d.message_type).then_some("TwentyFour_Hours"))
                        .map(cfg::MaximumExecutionFrequency::from),
                )
                .build()
        })
        .collect();
    let source = cfg::Source::builder()
        .owner(cfg::Owner::from(src.owner.as_str()))
        .set_source_identifier(src.source_identifier.clone())
        .set_source_details(Some(st.shuffled("details", &details)))
        .set_custom_policy_details(src.custom_policy_details.as_ref().map(|c| {
            cfg::CustomPolicyDetails::builder()
                .policy_runtime(&c.policy_runtime)
                .policy_text(&c.policy_text)
                .enable_debug_log_delivery(c.enable_debug_log_delivery.unwrap_or(false))
                .build()
                .expect("policy")
        }))
        .build()
        .expect("source");
    // AWS returns the parameters as the JSON text it was sent, in its own spacing and order.
    let params = config_rule::params_canonical(s.input_parameters.as_ref())
        .map(|p| respell(&p, st.sub("params")).to_string());
    let scope = s.scope.as_ref().map(|sc| {
        cfg::Scope::builder()
            .set_compliance_resource_types(Some(
                st.shuffled("scope", &sc.compliance_resource_types),
            ))
            .set_tag_key(sc.tag_key.clone())
            .set_tag_value(sc.tag_value.clone())
            .set_compliance_resource_id(sc.compliance_resource_id.clone())
            .build()
    });
    let modes: Vec<String> = if s.evaluation_modes.is_empty() {
        // Detective only, said or not.
        if st.coin("modes") {
            vec!["DETECTIVE".into()]
        } else {
            Vec::new()
        }
    } else {
        s.evaluation_modes.iter().map(|m| m.mode.clone()).collect()
    };
    let managed_periodic = src.owner == "AWS" && st.coin("freq");
    let arn = format!(
        "arn:aws:config:{}:{}:config-rule/config-rule-abc123",
        env.region, env.account_id
    );
    let r = cfg::ConfigRule::builder()
        .config_rule_name(name)
        .config_rule_arn(&arn)
        .config_rule_id("config-rule-abc123")
        .set_description(maybe_empty(st, "description", s.description.as_deref()))
        .source(source)
        .set_input_parameters(params)
        .set_scope(scope)
        .set_maximum_execution_frequency(
            s.maximum_execution_frequency
                .as_deref()
                .or(managed_periodic.then_some("TwentyFour_Hours"))
                .map(cfg::MaximumExecutionFrequency::from),
        )
        .set_evaluation_modes(Some(
            st.shuffled("m", &modes)
                .iter()
                .map(|m| {
                    cfg::EvaluationModeConfiguration::builder()
                        .mode(cfg::EvaluationMode::from(m.as_str()))
                        .build()
                })
                .collect(),
        ))
        .config_rule_state(cfg::ConfigRuleState::Active)
        .build();
    let mut spec = config_rule::spec_from_live(&r);
    spec.tags = Some(created_tags(s.tags.as_ref(), env));
    config_rule::Live {
        name: name.into(),
        arn,
        id: "config-rule-abc123".into(),
        created_by: None,
        spec,
    }
}

/// Import reads the tags it found, and AWS's default frequency on periodic managed rules.
pub fn imported(s: &config_rule::Spec) -> config_rule::Spec {
    let mut s = s.clone();
    s.tags.get_or_insert_with(Tags::new);
    s
}
