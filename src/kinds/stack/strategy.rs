//! The stack kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct StackSem {
    pub name: String,
    pub topic: bool,
    pub log_group: bool,
    /// The topic name's default, and the value given (if any).
    pub topic_name: (Option<String>, Option<String>),
    /// Retention: default, value given.
    pub retention: (Option<i64>, Option<i64>),
    pub secret: bool,
    pub tags: Option<Tags>,
    pub protection: bool,
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["app", "monitoring-infra", "s-1"][..]),
        prop_oneof![Just((true, false)), Just((false, true)), Just((true, true))],
        (
            opt_string(&["web-a", "alerts"]),
            opt_string(&["web-a", "web-b"]),
        ),
        (
            prop::option::of(select(&[7i64, 30][..])),
            prop::option::of(select(&[7i64, 14][..])),
        ),
        any::<bool>(),
        opt_tags(),
        any::<bool>(),
    )
        .prop_map(
            |(name, (topic, log_group), mut tn, mut rt, secret, tags, protection)| {
                // A parameter without a default needs a value.
                if tn.0.is_none() && tn.1.is_none() {
                    tn.1 = Some("web-c".into());
                }
                if rt.0.is_none() && rt.1.is_none() {
                    rt.1 = Some(3);
                }
                StackSem {
                    name: name.into(),
                    topic,
                    log_group,
                    topic_name: tn,
                    retention: rt,
                    secret,
                    tags,
                    protection,
                }
            },
        );
    case(sem, |s| s.name.clone(), render_stack)
}

fn render_stack(s: &StackSem, st: Style) -> Value {
    let yaml = st.coin("yaml");
    let mut params = Obj::new();
    let mut resources = Obj::new();
    let mut outputs = Obj::new();
    let mut text = String::from("AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n");
    if s.topic {
        let p = Obj::new()
            .put("Type", "String")
            .opt("Default", s.topic_name.0.as_deref())
            .done(st, "p1");
        params = params.put("TopicName", p);
        text += "  TopicName:\n    Type: String\n";
        if let Some(d) = &s.topic_name.0 {
            text += &format!("    Default: {d}\n");
        }
    }
    if s.log_group {
        let p = Obj::new()
            .put("Type", "Number")
            .opt("Default", s.retention.0)
            .done(st, "p2");
        params = params.put("Retention", p);
        text += "  Retention:\n    Type: Number\n";
        if let Some(d) = s.retention.0 {
            text += &format!("    Default: {d}\n");
        }
    }
    if s.secret {
        params = params.put(
            "Token",
            json!({"Type": "String", "NoEcho": true, "Default": "hunter2"}),
        );
        text += "  Token:\n    Type: String\n    NoEcho: true\n    Default: hunter2\n";
    }
    text += "Resources:\n";
    if s.topic {
        resources = resources.put(
            "Topic",
            json!({"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "TopicName"}}}),
        );
        text += "  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Ref TopicName\n";
        // The text form writes `!GetAtt Topic.TopicName`, the same in short.
        outputs = outputs.put(
            "TopicName",
            json!({"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}}),
        );
    }
    if s.log_group {
        resources = resources.put(
            "Logs",
            json!({"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": {"Ref": "Retention"}}}),
        );
        text += "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: !Ref Retention\n";
        outputs = outputs.put("LogGroup", json!({"Value": {"Ref": "Logs"}}));
    }
    text += "Outputs:\n";
    if s.topic {
        text += "  TopicName:\n    Value: !GetAtt Topic.TopicName\n";
    }
    if s.log_group {
        text += "  LogGroup:\n    Value: !Ref Logs\n";
    }
    let template = if yaml {
        Value::String(text)
    } else {
        Obj::new()
            .put("AWSTemplateFormatVersion", "2010-09-09")
            .put("Parameters", params.done(st, "params"))
            .put("Resources", resources.done(st, "resources"))
            .put("Outputs", outputs.done(st, "outputs"))
            .done(st, "template")
    };
    // A value equal to the default may be given or left out; numbers as text or not.
    let mut values = Obj::new();
    if s.topic {
        let v = s
            .topic_name
            .1
            .clone()
            .or_else(|| st.coin("tn").then(|| s.topic_name.0.clone()).flatten());
        values = values.opt("TopicName", v);
    }
    if s.log_group {
        let v = s
            .retention
            .1
            .or_else(|| st.coin("rt").then_some(s.retention.0).flatten());
        values = values.opt(
            "Retention",
            v.map(|n| {
                if st.coin("rtn") {
                    json!(n)
                } else {
                    json!(n.to_string())
                }
            }),
        );
    }
    let values = values.done(st, "values");
    let tags = match &s.tags {
        // Stack tags left out are none.
        Some(t) if t.is_empty() && st.coin("tags") => None,
        other => other.clone(),
    };
    Obj::new()
        .put("template", template)
        .when(
            values.as_object().is_some_and(|m| !m.is_empty()) || st.coin("params{}"),
            "parameters",
            values,
        )
        .opt("tags", tags.map(|t| tags_value(&t, st)))
        .when(
            s.protection || st.coin("tp"),
            "terminationProtection",
            s.protection,
        )
        .done(st, "stack")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &stack::Spec, st: Style, env: &Env) -> stack::Live {
    use aws_sdk_cloudformation::types::{Output, Parameter, Stack, StackStatus, Tag};
    let template = s.template_value();
    let info = stack::template::parameters(&template);
    let parameters: Vec<Parameter> = info
        .iter()
        .filter_map(|(k, i)| {
            let v = s.parameters.get(k).cloned().or(i.default.clone())?;
            let v = if i.no_echo { "****".to_string() } else { v };
            Some(
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build(),
            )
        })
        .collect();
    let tags: Vec<Tag> = created_tags(s.tags.as_ref(), env)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let id = format!(
        "arn:aws:cloudformation:{}:{}:stack/{name}/0a1b2c3d",
        env.region, env.account_id
    );
    let out = Stack::builder()
        .stack_name(name)
        .stack_id(&id)
        .stack_status(if st.coin("updated") {
            StackStatus::UpdateComplete
        } else {
            StackStatus::CreateComplete
        })
        .set_parameters(Some(st.shuffled("params", &parameters)))
        .set_tags(Some(st.shuffled("tags", &tags)))
        .enable_termination_protection(s.termination_protection.unwrap_or(false))
        .outputs(
            Output::builder()
                .output_key("TopicName")
                .output_value("t")
                .build(),
        )
        .build();
    // GetTemplate (Original) returns the body exactly as it was sent.
    stack::Live::from_sdk(&out, Some(&s.body()))
}

/// Import carries the whole spec over.
pub fn imported(s: &stack::Spec) -> stack::Spec {
    s.clone()
}
