//! `Stack`: a CloudFormation stack. Dry runs plan through a change set (created,
//! described, deleted); apply uses CreateStack and UpdateStack and waits,
//! printing events. Its outputs are attributes: `${Stack/NAME.outputs.KEY}`.
//!
//! Why UpdateStack and not ExecuteChangeSet: both make the same update on AWS,
//! but moto does not refresh a stack's Outputs after ExecuteChangeSet (nor after
//! a CREATE change set), while it does after CreateStack and UpdateStack, and
//! the outputs feed other manifests in the same run. UpdateStack also takes a
//! ClientRequestToken directly, and it is one write instead of three.

pub mod drift;
pub mod events;
mod service;
pub mod template;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aws_sdk_cloudformation::types::{
    Capability, Change, ChangeSetStatus, ChangeSetType, Parameter, ResourceAttribute,
    Stack as CfnStack, Tag, TemplateStage,
};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

pub use drift::{DriftStatus, PropertyDifference, ResourceDrift, StackDrift, detect_drift};
use events::{Backoff, Health};
use service::SERVICE;

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::tags::{AWS_RULES, OWNER_TAG, Read, TagApi, Write, with_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Condition, Env, ErrorClass, change_set_condition};
use crate::diff::FieldDiff;
use crate::failpoint;
use crate::input::{ReadError, Root};
// A leaf of manifest: it imports nothing back from kinds.
use crate::vocab::RECREATE_ON_ROLLBACK;

const CAPABILITIES: &[&str] = &[
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// A YAML or JSON template file, relative to the manifest. It is data: its
    /// `${...}` are CloudFormation's own, never vigil references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_file: Option<String>,
    /// The template inline: a mapping (write intrinsic functions in the long
    /// form, `Fn::Sub:`), or the template text as a string, where short tags
    /// such as `!Sub` work. Inline, `${...}` is a vigil reference; write
    /// CloudFormation's as `$${...}`. Filled from `templateFile` at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    /// Parameter values; numbers and booleans are read as text, lists are joined with commas.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "parameter_values"
    )]
    #[schemars(extend("additionalProperties" = {
        "type": ["string", "number", "boolean", "array"],
        "items": {"type": ["string", "number", "boolean"]}
    }))]
    pub parameters: BTreeMap<String, String>,
    /// CAPABILITY_IAM, CAPABILITY_NAMED_IAM or CAPABILITY_AUTO_EXPAND.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Stack tags; CloudFormation copies them to the resources it creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_protection: Option<bool>,
    /// The service role CloudFormation uses; sent with every create and update, never compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// vigil's own: also run drift detection on every reconcile and report drifted
    /// resources as notes (`vigil drift` always does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<bool>,
}

fn parameter_values<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    BTreeMap::<String, Value>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| {
            template::param_string(&v)
                .map(|s| (k.clone(), s))
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "parameter `{k}` must be a string, a number, a boolean or a list of them"
                    ))
                })
        })
        .collect()
}

impl Spec {
    /// The `TemplateBody` sent to CloudFormation: the file's own text (comments
    /// and short tags kept, as `aws cloudformation deploy` sends it), the inline
    /// text, or an inline mapping as JSON.
    pub fn body(&self) -> String {
        match &self.template {
            Some(Value::String(s)) => s.clone(),
            Some(v) => serde_json::to_string_pretty(v).expect("json"),
            None => String::new(),
        }
    }

    /// The template in the long form; text that does not parse stays text.
    pub fn template_value(&self) -> Value {
        match &self.template {
            Some(Value::String(s)) => template::parse(s)
                .map(|p| p.value)
                .unwrap_or_else(|_| Value::String(s.clone())),
            Some(v) => v.clone(),
            None => Value::Null,
        }
    }

    fn sdk_parameters(&self) -> Option<Vec<Parameter>> {
        Some(
            self.parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        )
    }

    fn sdk_capabilities(&self) -> Option<Vec<Capability>> {
        Some(
            self.capabilities
                .iter()
                .map(|c| Capability::from(c.as_str()))
                .collect(),
        )
    }

    fn sdk_tags(&self, env: &Env) -> Option<Vec<Tag>> {
        Some(
            with_owner(&self.tags.clone().unwrap_or_default(), env)
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct Live {
    pub name: String,
    /// The stack id, an ARN.
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    /// The live template in the long form, or its text when it does not parse.
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
    pub outputs: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub role_arn: Option<String>,
    /// Drift detection, when the spec asks for it on reconcile.
    pub drift: Option<Result<StackDrift, String>>,
}

impl Live {
    pub(crate) fn from_sdk(s: &CfnStack, template_text: Option<&str>) -> Live {
        let template = match template_text {
            Some(t) => template::parse(t)
                .map(|p| template::canonical(&p.value))
                .unwrap_or_else(|_| Value::String(t.to_string())),
            None => Value::Null,
        };
        Live {
            name: s.stack_name().unwrap_or_default().to_string(),
            id: s.stack_id().unwrap_or_default().to_string(),
            status: events::status_of(s),
            status_reason: s.stack_status_reason().map(str::to_string),
            template,
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            tags: s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
            termination_protection: s.enable_termination_protection().unwrap_or(false),
            outputs: outputs(s),
            capabilities: s
                .capabilities()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            role_arn: s.role_arn().map(str::to_string),
            drift: None,
        }
    }
}

fn outputs(s: &CfnStack) -> BTreeMap<String, String> {
    s.outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect()
}

fn attrs_of(name: &str, id: &str, outputs: &BTreeMap<String, String>) -> Attrs {
    let mut a = Attrs::from([
        ("arn".to_string(), id.to_string()),
        ("id".to_string(), id.to_string()),
        ("name".to_string(), name.to_string()),
    ]);
    for (k, v) in outputs {
        a.insert(format!("outputs.{k}"), v.clone());
    }
    a
}

/// The state every healthy stack is in, for the comparison; see [`Health`].
const READY: &str = "COMPLETE";

/// A fresh token: reused by the SDK's own retries (so they are idempotent),
/// never by a later operation, which CloudFormation would take for a duplicate.
fn token(what: &str, name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    h.update(nanos.to_le_bytes());
    format!("vigil-{what}-{}", &hex::encode(h.finalize())[..24])
}

/// "No updates are to be performed." (UpdateStack, and CreateChangeSet on moto).
fn no_updates(e: &AwsError) -> bool {
    e.is(Condition::NoUpdates)
}

/// DeleteStack would be refused; say how to allow it instead of calling.
fn protected(name: &str) -> KindError {
    KindError::refused(
        SERVICE,
        "DeleteStack",
        format!(
            "stack {name} has termination protection on; set terminationProtection: false and reconcile first"
        ),
    )
}

/// Parameters and capabilities checked against the template, as CloudFormation would.
fn check_inputs(
    declared: &[&str],
    capabilities: &[String],
    t: &Value,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if t.get("Resources").is_none() {
        return out;
    }
    let params = template::parameters(t);
    for k in declared {
        if !params.contains_key(*k) {
            let known: Vec<&str> = params.keys().map(String::as_str).collect();
            out.push((
                "parameters",
                format!(
                    "parameter `{k}` is not declared in the template (it declares: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
    }
    for (k, info) in &params {
        if info.default.is_none() && !declared.contains(&k.as_str()) {
            out.push((
                "parameters",
                format!("the template needs a value for parameter `{k}`, which has no Default"),
            ));
        }
    }
    for m in template::missing_capabilities(t, capabilities) {
        out.push(("capabilities", m));
    }
    out
}

pub struct Stack;

impl Kind for Stack {
    const NAME: &'static str = "Stack";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name", "id", "outputs.*"];
    const DOCUMENT_FIELDS: &'static [&'static str] = &["template"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::check_name(
            name,
            128,
            |c| c.is_ascii_alphanumeric() || c == '-',
            "stack names allow A-Z, a-z, 0-9 and -",
        )?;
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err("must start with a letter".into());
        }
        Ok(())
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        match (&s.template_file, &s.template) {
            (Some(_), Some(_)) => issues.at(
                "templateFile",
                "set either templateFile or template, not both",
            ),
            (None, None) => issues.at(
                "templateFile",
                "the stack needs a templateFile (a path relative to this manifest) or a template",
            ),
            (None, Some(t)) => {
                let parsed = match t {
                    Value::String(text) => match template::parse(text) {
                        Ok(p) => {
                            for m in template::located(
                                "template",
                                p.node.as_ref(),
                                &template::check(&p.value, text.len()),
                            ) {
                                issues.at("template", m);
                            }
                            Some(p.value)
                        }
                        Err((pos, m)) => {
                            issues.at("template", format!("template:{pos}: {m}"));
                            None
                        }
                    },
                    Value::Object(_) => {
                        let size = serde_json::to_string_pretty(t)
                            .map(|b| b.len())
                            .unwrap_or(0);
                        for (path, m) in template::check(t, size) {
                            issues.at(&format!("template.{}", template::render_path(&path)), m);
                        }
                        Some(t.clone())
                    }
                    _ => {
                        issues.at(
                            "template",
                            "the template is a mapping, or its text as a string",
                        );
                        None
                    }
                };
                if let Some(t) = parsed {
                    let declared: Vec<&str> = s.parameters.keys().map(String::as_str).collect();
                    for (field, m) in check_inputs(&declared, &s.capabilities, &t) {
                        issues.at(field, m);
                    }
                }
            }
            (Some(_), None) => {}
        }
        for (i, c) in s.capabilities.iter().enumerate() {
            if !CAPABILITIES.contains(&c.as_str()) {
                issues.at(
                    &format!("capabilities[{i}]"),
                    format!(
                        "unknown capability `{c}`; use one of {}",
                        CAPABILITIES.join(", ")
                    ),
                );
            }
        }
        if let Some(r) = &s.role_arn
            && !r.contains("${")
            && !(r.starts_with("arn:") && r.contains(":role/"))
        {
            issues.at(
                "roleArn",
                "roleArn must be an IAM role ARN, such as arn:aws:iam::123456789012:role/cfn-deploy",
            );
        }
    }

    fn load_files(spec: &mut Value, base: &Path, root: &Root) -> Result<(), (String, String)> {
        let Some(file) = spec
            .get("templateFile")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Ok(());
        };
        let path = base.join(&file);
        let shown = path.display().to_string();
        let err = |m: String| ("templateFile".to_string(), m);
        let text = root.read_reference(base, &file).map_err(|e| match e {
            ReadError::Io(e) => err(format!(
                "cannot read {shown}: {e}; templateFile is relative to this manifest's directory"
            )),
            e => err(format!("templateFile `{file}` {e}")),
        })?;
        let parsed =
            template::parse(&text).map_err(|(pos, m)| err(format!("{shown}:{pos}: {m}")))?;
        let found = template::located(
            &shown,
            parsed.node.as_ref(),
            &template::check(&parsed.value, text.len()),
        );
        if !found.is_empty() {
            return Err(err(found.join("; ")));
        }
        let declared: Vec<&str> = spec
            .get("parameters")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let capabilities: Vec<String> = spec
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let problems = check_inputs(&declared, &capabilities, &parsed.value);
        if let Some((field, _)) = problems.first() {
            let msg: Vec<String> = problems
                .iter()
                .map(|(_, m)| format!("{m} ({shown})"))
                .collect();
            return Err((field.to_string(), msg.join("; ")));
        }
        spec["template"] = Value::String(template::escape_refs(&text));
        Ok(())
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        let t = spec.template_value();
        let info = template::parameters(&t);
        let mut params: BTreeMap<String, String> = info
            .iter()
            .filter_map(|(k, i)| i.default.clone().map(|d| (k.clone(), d)))
            .collect();
        params.extend(spec.parameters.clone());
        // AWS shows NoEcho values as ****; there is nothing to compare.
        for (k, i) in &info {
            if i.no_echo
                && let Some(v) = params.get_mut(k)
            {
                *v = "****".to_string();
            }
        }
        json!({
            "template": template::canonical(&t),
            "parameters": params,
            "tags": with_owner(&spec.tags.clone().unwrap_or_default(), env),
            "terminationProtection": spec.termination_protection.unwrap_or(false),
            "stackStatus": READY,
        })
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        let status = if Health::of(&live.status) == Health::Ready {
            READY
        } else {
            live.status.as_str()
        };
        json!({
            "template": live.template,
            "parameters": live.parameters,
            "tags": live.tags,
            "terminationProtection": live.termination_protection,
            "stackStatus": status,
        })
    }

    fn attributes(live: &Live) -> Attrs {
        attrs_of(&live.name, &live.id, &live.outputs)
    }

    fn notes(live: &Live) -> Vec<String> {
        let mut out = Vec::new();
        let reason = live
            .status_reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        match Health::of(&live.status) {
            Health::NeedsRecreate => out.push(format!(
                "the stack is in {}{reason} and cannot be updated; vigil deletes and recreates it only with the annotation {RECREATE_ON_ROLLBACK}: \"true\"",
                live.status
            )),
            Health::UpdateRollbackFailed => out.push(format!(
                "the stack is in {}{reason}{}",
                live.status,
                events::update_rollback_failed(&live.name)
            )),
            Health::DeleteFailed => out.push(format!("the stack is in DELETE_FAILED{reason}; delete it again once the blocking resources are fixed")),
            Health::Busy => out.push(format!("an operation is running ({}); vigil changes the stack once it ends", live.status)),
            Health::Review => out.push("the stack is in REVIEW_IN_PROGRESS: a change set created it and was never executed; execute or delete it".into()),
            Health::Ready | Health::Deleted => {}
        }
        match &live.drift {
            Some(Ok(d)) => out.extend(d.lines().into_iter().map(|l| format!("drift: {l}"))),
            Some(Err(e)) => out.push(format!("drift detection failed: {e}")),
            None => {}
        }
        out
    }

    fn to_spec(live: &Live) -> Spec {
        let info = template::parameters(&live.template);
        let parameters = live
            .parameters
            .iter()
            .filter(|(k, v)| {
                info.get(*k)
                    .is_none_or(|i| !i.no_echo && i.default.as_ref() != Some(v))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut tags = live.tags.clone();
        tags.remove(OWNER_TAG);
        Spec {
            template_file: None,
            // `vigil import` escapes CloudFormation's ${...} as $${...} for every kind.
            template: Some(live.template.clone()),
            parameters,
            // DescribeStacks may omit Capabilities (moto does); the template says which it needs.
            capabilities: if live.capabilities.is_empty() {
                let mut caps: Vec<String> = template::required_capabilities(&live.template)
                    .into_iter()
                    .map(|(c, _)| c.to_string())
                    .collect();
                caps.dedup();
                caps
            } else {
                live.capabilities.clone()
            },
            tags: (!tags.is_empty()).then_some(tags),
            termination_protection: live.termination_protection.then_some(true),
            role_arn: live.role_arn.clone(),
            drift: None,
        }
    }

    /// Read by DescribeStacks, written by UpdateStack (tags are part of the stack).
    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::WithResource,
        write: Write::WithResource,
    });

    crate::kinds::tags::accessors!(id: id, live: map tags, spec: opt tags, read: with_resource);

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // One DescribeStacks walk for all; GetTemplate only for the stacks wanted.
        let mut found = Vec::new();
        let mut stacks = aws
            .clients
            .cloudformation
            .describe_stacks()
            .into_paginator()
            .items()
            .send();
        while let Some(s) = stacks.try_next().await.aws(SERVICE, "DescribeStacks")? {
            let name = s.stack_name().unwrap_or_default();
            let status = events::status_of(&s);
            // Nested stacks belong to their parent; only a declared one is ours to see.
            let nested = s.parent_id().is_some() && !wanted.specs.contains_key(name);
            if status != "DELETE_COMPLETE" && !nested && wanted.contains(name) {
                found.push(s);
            }
        }
        Ok(futures::stream::iter(found)
            .map(|s| async move {
                let name = s.stack_name().unwrap_or_default().to_string();
                let text = match aws
                    .clients
                    .cloudformation
                    .get_template()
                    .stack_name(s.stack_id().unwrap_or(&name))
                    .template_stage(TemplateStage::Original)
                    .send()
                    .await
                    .aws(SERVICE, "GetTemplate")
                {
                    Ok(out) => out.template_body().map(str::to_string),
                    // A stack under review has no template yet.
                    Err(e)
                        if e.class == ErrorClass::Terminal
                            && events::status_of(&s) == "REVIEW_IN_PROGRESS" =>
                    {
                        None
                    }
                    Err(e) => return Err(e),
                };
                let mut live = Live::from_sdk(&s, text.as_deref());
                if wanted.spec(&name).get("drift") == Some(&Value::Bool(true))
                    && Health::of(&live.status) != Health::Busy
                {
                    live.drift = Some(detect_drift(aws, &name).await.map_err(|e| e.to_string()));
                }
                Ok::<_, AwsError>((name, live))
            })
            .buffer_unordered(4)
            .try_collect()
            .await?)
    }

    async fn explain(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Option<Vec<FieldDiff>>, KindError> {
        let Some(l) = live else {
            return Ok(Some(planned_resources(spec)));
        };
        match Health::of(&l.status) {
            Health::Ready => {}
            Health::NeedsRecreate => return Ok(Some(planned_resources(spec))),
            _ => return Ok(Some(Vec::new())),
        }
        let desired = Stack::normalize(spec, &aws.env);
        let current = Stack::live_state(l, &aws.env);
        let differs = |k: &str| desired[k] != current[k];
        if !["template", "parameters", "tags"]
            .iter()
            .any(|k| differs(k))
        {
            return Ok(Some(Vec::new()));
        }
        match change_set_plan(aws, name, spec, Backoff::QUICK).await? {
            Some(fields) => Ok(Some(fields)),
            None if differs("terminationProtection") => Ok(Some(Vec::new())),
            None => Ok(None),
        }
    }

    async fn remote_validate(aws: &Aws, spec: &Spec) -> Issues {
        let mut issues = Issues::default();
        let field = if spec.template_file.is_some() {
            "templateFile"
        } else {
            "template"
        };
        // References are unresolved here; any placeholder serves a syntax check.
        let mut resolved = spec.clone();
        resolved.template = spec
            .template
            .as_ref()
            .map(|t| crate::refs::substitute_json(t, &|_| Some("vigil-placeholder".to_string())));
        match aws
            .clients
            .cloudformation
            .validate_template()
            .template_body(resolved.body())
            .send()
            .await
            .aws(SERVICE, "ValidateTemplate")
        {
            Ok(out) => {
                for c in out.capabilities() {
                    let c = c.as_str();
                    let covered = spec
                        .capabilities
                        .iter()
                        .any(|g| g == c || (c == "CAPABILITY_IAM" && g == "CAPABILITY_NAMED_IAM"));
                    if !covered {
                        issues.at(
                            "capabilities",
                            format!(
                                "CloudFormation requires {c}: {}",
                                out.capabilities_reason().unwrap_or("the template needs it")
                            ),
                        );
                    }
                }
            }
            Err(e) if e.class == ErrorClass::Terminal => issues.at(
                field,
                format!("CloudFormation ValidateTemplate: {}", e.message),
            ),
            // Permissions or the network are not the template's fault.
            Err(e) => tracing::warn!(error = %e, "skipped ValidateTemplate"),
        }
        issues
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        apply_stack(aws, name, spec, live, false).await
    }

    async fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
        opts: &super::ApplyOptions,
    ) -> Result<Attrs, KindError> {
        let recreate = opts.recreate_on_rollback;
        apply_stack(aws, name, spec, live, recreate).await
    }

    async fn delete(aws: &Aws, name: &str, live: &Live) -> Result<(), KindError> {
        if live.termination_protection {
            return Err(protected(name));
        }
        delete_and_wait(aws, name, &live.id).await
    }
}

/// What a new stack will create, from the template itself (no AWS call).
fn planned_resources(spec: &Spec) -> Vec<FieldDiff> {
    let t = spec.template_value();
    template::resources(&t)
        .into_iter()
        .map(|(id, ty)| {
            let cond = t["Resources"][&id].get("Condition").and_then(Value::as_str);
            let to = match cond {
                Some(c) => format!("Add {ty} (if {c})"),
                None => format!("Add {ty}"),
            };
            FieldDiff {
                path: format!("resources.{id}"),
                from: None,
                to: Some(Value::String(to)),
            }
        })
        .collect()
}

/// One resource change of a change set as a plan line, e.g.
/// `resources.WebServer: Modify AWS::EC2::Instance (replacement: True; KeyName)`.
pub fn change_field(c: &Change) -> Option<FieldDiff> {
    let rc = c.resource_change()?;
    let action = rc.action().map(|a| a.as_str()).unwrap_or("Change");
    let mut to = format!("{action} {}", rc.resource_type().unwrap_or("?"));
    let mut extras = Vec::new();
    if let Some(r) = rc.replacement() {
        extras.push(format!("replacement: {}", r.as_str()));
    }
    let mut targets: Vec<String> = Vec::new();
    for d in rc.details() {
        let Some(t) = d.target() else { continue };
        let label = match (t.attribute(), t.name()) {
            (Some(ResourceAttribute::Properties), Some(n)) => n.to_string(),
            (Some(a), _) => a.as_str().to_string(),
            (None, Some(n)) => n.to_string(),
            (None, None) => continue,
        };
        if !targets.contains(&label) {
            targets.push(label);
        }
    }
    if !targets.is_empty() {
        extras.push(targets.join(", "));
    }
    if !extras.is_empty() {
        to.push_str(&format!(" ({})", extras.join("; ")));
    }
    Some(FieldDiff {
        path: format!("resources.{}", rc.logical_resource_id().unwrap_or("?")),
        from: None,
        to: Some(Value::String(to)),
    })
}

/// Creates a change set, reads its resource changes and deletes it again.
/// `None` when AWS says nothing would change.
async fn change_set_plan(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    backoff: Backoff,
) -> Result<Option<Vec<FieldDiff>>, AwsError> {
    let cf = &aws.clients.cloudformation;
    let cs_name = token("plan", name);
    failpoint::hit("before-create-change-set").await;
    let created = cf
        .create_change_set()
        // By name: moto finds an UPDATE change set's stack only by name.
        .stack_name(name)
        .change_set_name(&cs_name)
        .change_set_type(ChangeSetType::Update)
        .description("vigil dry run; deleted right after it is read")
        .template_body(spec.body())
        .set_parameters(spec.sdk_parameters())
        .set_capabilities(spec.sdk_capabilities())
        .set_tags(spec.sdk_tags(&aws.env))
        .set_role_arn(spec.role_arn.clone())
        .client_token(&cs_name)
        .send()
        .await
        .aws(SERVICE, "CreateChangeSet");
    let id = match created {
        Ok(out) => out.id.unwrap_or(cs_name),
        Err(e) if no_updates(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    failpoint::hit("after-create-change-set").await;
    let result = read_change_set(aws, &id, backoff).await;
    failpoint::hit("before-delete-change-set").await;
    let deleted = cf
        .delete_change_set()
        .change_set_name(&id)
        .send()
        .await
        .aws(SERVICE, "DeleteChangeSet");
    failpoint::hit("after-delete-change-set").await;
    let fields = result?;
    deleted?;
    Ok(fields)
}

async fn read_change_set(
    aws: &Aws,
    id: &str,
    backoff: Backoff,
) -> Result<Option<Vec<FieldDiff>>, AwsError> {
    let cf = &aws.clients.cloudformation;
    let clock = std::time::Instant::now();
    let mut delay = std::time::Duration::ZERO;
    loop {
        // A fresh walk each poll: the first page says whether it is ready; the
        // rest of the same walk are the remaining pages of its changes.
        let mut pages = cf
            .describe_change_set()
            .change_set_name(id)
            .into_paginator()
            .send();
        let Some(first) = pages.next().await else {
            // Unreachable: a paginator always sends its first request.
            return Ok(Some(Vec::new()));
        };
        let out = first.aws(SERVICE, "DescribeChangeSet")?;
        match out.status() {
            Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress) => {
                if clock.elapsed() > backoff.limit {
                    return Err(AwsError::raised(
                        SERVICE,
                        "DescribeChangeSet",
                        Condition::WaitTimedOut,
                        "the change set took too long to create",
                    ));
                }
                delay = backoff.next(delay);
                tokio::time::sleep(delay).await;
                continue;
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or("no reason given");
                if change_set_condition(reason) == Some(Condition::NoUpdates) {
                    return Ok(None);
                }
                return Err(AwsError::raised(
                    SERVICE,
                    "CreateChangeSet",
                    Condition::OperationFailed,
                    format!("the change set failed: {reason}"),
                ));
            }
            _ => {}
        }
        let mut fields: Vec<FieldDiff> = out.changes().iter().filter_map(change_field).collect();
        while let Some(page) = pages.next().await {
            let page = page.aws(SERVICE, "DescribeChangeSet")?;
            fields.extend(page.changes().iter().filter_map(change_field));
        }
        return Ok(Some(fields));
    }
}

async fn apply_stack(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
    recreate: bool,
) -> Result<Attrs, KindError> {
    if let Some(l) = live {
        let reason = l
            .status_reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let refuse = |msg: String| Err(KindError::refused(SERVICE, "UpdateStack", msg));
        match Health::of(&l.status) {
            Health::Ready => return update(aws, name, spec, l).await,
            Health::Busy => {
                return Err(AwsError::raised(
                    SERVICE,
                    "UpdateStack",
                    Condition::Busy,
                    format!(
                        "stack {name} is busy ({}); vigil tries again once it ends",
                        l.status
                    ),
                )
                .into());
            }
            Health::NeedsRecreate if recreate && l.termination_protection => {
                return Err(protected(name));
            }
            Health::NeedsRecreate if recreate => {
                eprintln!(
                    "Stack/{name}: {}; deleting it to create it again ({RECREATE_ON_ROLLBACK})",
                    l.status
                );
                delete_and_wait(aws, name, &l.id).await?;
            }
            Health::NeedsRecreate => {
                return refuse(format!(
                    "stack {name} is in {}{reason}{}",
                    l.status,
                    events::after_failure(name, &l.status)
                ));
            }
            Health::UpdateRollbackFailed => {
                return refuse(format!(
                    "stack {name} is in {}{reason}{}",
                    l.status,
                    events::update_rollback_failed(name)
                ));
            }
            Health::DeleteFailed => {
                return refuse(format!(
                    "stack {name} is in DELETE_FAILED{reason}; fix what blocks the delete and delete it again (aws cloudformation delete-stack --stack-name {name})"
                ));
            }
            Health::Review => {
                return refuse(format!(
                    "stack {name} is in REVIEW_IN_PROGRESS: a change set created it and was never executed; execute the change set or delete the stack"
                ));
            }
            Health::Deleted => {}
        }
    }
    create(aws, name, spec).await
}

async fn create(aws: &Aws, name: &str, spec: &Spec) -> Result<Attrs, KindError> {
    let token = token("create", name);
    let started = SystemTime::now();
    eprintln!("Stack/{name}: creating; CloudFormation events follow");
    failpoint::hit("before-create-stack").await;
    let out = aws
        .clients
        .cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(spec.body())
        .set_parameters(spec.sdk_parameters())
        .set_capabilities(spec.sdk_capabilities())
        .set_tags(spec.sdk_tags(&aws.env))
        .enable_termination_protection(spec.termination_protection.unwrap_or(false))
        .set_role_arn(spec.role_arn.clone())
        .client_request_token(&token)
        .send()
        .await
        .aws(SERVICE, "CreateStack")?;
    failpoint::hit("after-create-stack").await;
    let id = out.stack_id.unwrap_or_else(|| name.to_string());
    let stack = events::wait(
        aws,
        name,
        &id,
        &token,
        started,
        &["CREATE_COMPLETE"],
        Backoff::STACK,
    )
    .await?;
    let outs = stack.as_ref().map(outputs).unwrap_or_default();
    Ok(attrs_of(name, &id, &outs))
}

async fn update(aws: &Aws, name: &str, spec: &Spec, l: &Live) -> Result<Attrs, KindError> {
    let desired = Stack::normalize(spec, &aws.env);
    let current = Stack::live_state(l, &aws.env);
    let differs = |k: &str| desired[k] != current[k];
    let mut outs = l.outputs.clone();
    if ["template", "parameters", "tags"]
        .iter()
        .any(|k| differs(k))
    {
        let token = token("update", name);
        let started = SystemTime::now();
        failpoint::hit("before-update-stack").await;
        let sent = aws
            .clients
            .cloudformation
            .update_stack()
            .stack_name(&l.id)
            .template_body(spec.body())
            .set_parameters(spec.sdk_parameters())
            .set_capabilities(spec.sdk_capabilities())
            .set_tags(spec.sdk_tags(&aws.env))
            .set_role_arn(spec.role_arn.clone())
            .client_request_token(&token)
            .send()
            .await
            .aws(SERVICE, "UpdateStack");
        match sent {
            Ok(_) => {
                failpoint::hit("after-update-stack").await;
                eprintln!("Stack/{name}: updating; CloudFormation events follow");
                let stack = events::wait(
                    aws,
                    name,
                    &l.id,
                    &token,
                    started,
                    &["UPDATE_COMPLETE"],
                    Backoff::STACK,
                )
                .await?;
                outs = stack.as_ref().map(outputs).unwrap_or_default();
            }
            Err(e) if no_updates(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if differs("terminationProtection") {
        aws.clients
            .cloudformation
            .update_termination_protection()
            .stack_name(&l.id)
            .enable_termination_protection(spec.termination_protection.unwrap_or(false))
            .send()
            .await
            .aws(SERVICE, "UpdateTerminationProtection")?;
    }
    Ok(attrs_of(name, &l.id, &outs))
}

async fn delete_and_wait(aws: &Aws, name: &str, id: &str) -> Result<(), KindError> {
    let token = token("delete", name);
    let started = SystemTime::now();
    aws.clients
        .cloudformation
        .delete_stack()
        .stack_name(id)
        .client_request_token(&token)
        .send()
        .await
        .aws(SERVICE, "DeleteStack")?;
    eprintln!("Stack/{name}: deleting; CloudFormation events follow");
    events::wait(
        aws,
        name,
        id,
        &token,
        started,
        &["DELETE_COMPLETE"],
        Backoff::STACK,
    )
    .await?;
    Ok(())
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
