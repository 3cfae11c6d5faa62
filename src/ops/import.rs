//! `vigil import`: manifests for resources that already exist, so they can be
//! adopted. One file per resource, defaults omitted, fields in spec order, and
//! references instead of ARNs where the target is imported too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::aws::{Aws, AwsResultExt, ErrorClass};
use crate::kinds::{KindError, KindId, LiveOwner, Observed, Wanted};
use crate::state::Inventory;
use crate::vocab::ADOPT;

/// What to import and where to write it; built by `vigil import` from its arguments.
pub struct ImportOptions {
    pub out: PathBuf,
    pub kinds: Vec<KindId>,
    pub prefix: Option<String>,
    /// `Settings.owner` of the `--dir` directory; otherwise the owner most
    /// imported resources carry.
    pub owner: Option<String>,
}

pub struct Imported {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<String>,
    /// Kinds that could not be read, one line each: every other kind is
    /// imported, and the command fails at the end.
    pub failed: Vec<String>,
}

/// A live resource to import: its kind, name and what was observed.
type Found = (KindId, String, Observed);

/// Lists live resources of the chosen kinds and writes their manifests.
pub async fn run(aws: &Aws, opts: &ImportOptions, inv: &Inventory) -> Result<Imported, KindError> {
    let (mut found, mut skipped, failed) = observe_all(aws, opts).await;
    // Resources a CloudFormation stack manages belong to the stack's template, not to
    // manifests of their own: managing them twice would fight the stack.
    let stack_owned = stack_resources(aws, &found).await?;
    found.retain(|(kind, name, obs)| {
        let managed = *kind != KindId::Stack
            && (stack_owned.contains(name) || obs.attrs.values().any(|v| stack_owned.contains(v)));
        if managed {
            skipped.push(format!("{kind}/{name}: managed by a CloudFormation stack"));
        }
        !managed
    });
    let refs = reference_map(&found);
    let owner = settings_owner(opts, inv, &found);

    std::fs::create_dir_all(&opts.out).map_err(|e| io_error(&opts.out, e))?;
    let mut files = Vec::new();
    let settings = opts.out.join("settings.yaml");
    write(
        &settings,
        &format!(
            "apiVersion: vigil/v1\nkind: Settings\nmetadata:\n  name: default\nspec:\n  region: {}\n  owner: {}\n",
            scalar(&Value::from(aws.env.region.clone()), false),
            scalar(&Value::from(owner.clone()), false)
        ),
    )?;
    files.push(settings);
    for (kind, name, obs) in &found {
        let owned = obs.owner == LiveOwner::Tagged(owner.clone())
            || (obs.owner == LiveOwner::Untaggable
                && inv.owns(&crate::state::ResourceId::new(*kind, name.as_str())));
        let doc = manifest(*kind, name, obs, &refs, owned);
        let path = opts
            .out
            .join(kind.name().to_lowercase())
            .join(format!("{}.yaml", file_name(name)));
        write(&path, &doc)?;
        files.push(path);
    }
    Ok(Imported {
        files,
        skipped,
        failed,
    })
}

/// Observes every chosen kind at once: the resources that match the prefix,
/// the kinds the endpoint does not support, and the kinds that failed.
async fn observe_all(aws: &Aws, opts: &ImportOptions) -> (Vec<Found>, Vec<String>, Vec<String>) {
    let kinds: Vec<KindId> = if opts.kinds.is_empty() {
        KindId::ALL.to_vec()
    } else {
        opts.kinds.clone()
    };
    let everything = Wanted::everything();
    let results = futures::future::join_all(kinds.iter().map(|k| {
        let everything = &everything;
        async move { (*k, k.observe(aws, everything).await) }
    }))
    .await;
    let mut found: Vec<Found> = Vec::new();
    let mut skipped = Vec::new();
    let mut failed = Vec::new();
    for (kind, result) in results {
        match result {
            Ok(observed) => {
                for (name, obs) in observed.found {
                    if opts.prefix.as_deref().is_none_or(|p| name.starts_with(p)) {
                        found.push((kind, name, obs));
                    }
                }
            }
            // An emulator that lacks a kind should not stop the others from importing.
            Err(e) if e.class() == ErrorClass::Unsupported => skipped.push(format!("{kind}: {e}")),
            // One service's error does not stop the others from importing.
            Err(e) => failed.push(format!("{kind}: {e}")),
        }
    }
    (found, skipped, failed)
}

/// Attribute values that other manifests can reference instead of repeating.
fn reference_map(found: &[Found]) -> HashMap<String, String> {
    let mut refs: HashMap<String, String> = HashMap::new();
    for (kind, name, obs) in found {
        for (attr, value) in &obs.attrs {
            if attr != "name" && value.len() > 8 {
                refs.insert(value.clone(), format!("${{{kind}/{name}.{attr}}}"));
            }
        }
    }
    refs
}

/// `--dir`'s owner; else the owner most imported resources carry; else the
/// inventory's; else `vigil`.
fn settings_owner(opts: &ImportOptions, inv: &Inventory, found: &[Found]) -> String {
    let mut owners: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, obs) in found {
        if let LiveOwner::Tagged(o) = &obs.owner {
            *owners.entry(o.as_str()).or_default() += 1;
        }
    }
    let owner = opts.owner.clone().or_else(|| {
        owners
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(o, _)| o.to_string())
            .or_else(|| (!inv.owner.is_empty()).then(|| inv.owner.clone()))
    });
    owner.unwrap_or_else(|| "vigil".to_string())
}

/// One resource's manifest: references for ARNs of imported resources, secrets as
/// placeholders, and the adopt annotation when vigil does not own it yet.
fn manifest(
    kind: KindId,
    name: &str,
    obs: &Observed,
    refs: &HashMap<String, String>,
    owned: bool,
) -> String {
    let own: Vec<&String> = obs.attrs.values().collect();
    let spec = replace_refs(&obs.spec, refs, &own);
    let (spec, secrets) = placeholders(&spec);
    let mut doc = format!(
        "apiVersion: vigil/v1\nkind: {kind}\nmetadata:\n  name: {}\n",
        scalar(&Value::from(name.to_string()), false)
    );
    if !owned {
        // Created outside vigil: taking it over must be explicit.
        doc.push_str(&format!("  annotations:\n    {ADOPT}: \"true\"\n"));
    }
    doc.push_str("spec:");
    let body = to_yaml(&spec, 1);
    if body.starts_with('\n') {
        doc.push_str(&body);
    } else {
        doc.push(' ');
        doc.push_str(&body);
        doc.push('\n');
    }
    fill_placeholders(&doc, secrets)
}

/// Physical ids (names or ARNs) of every resource in the found stacks.
async fn stack_resources(
    aws: &Aws,
    found: &[Found],
) -> Result<std::collections::HashSet<String>, KindError> {
    let mut ids = std::collections::HashSet::new();
    for (_, name, _) in found.iter().filter(|(k, _, _)| *k == KindId::Stack) {
        let mut summaries = aws
            .clients
            .cloudformation
            .list_stack_resources()
            .stack_name(name)
            .into_paginator()
            .items()
            .send();
        while let Some(r) = summaries
            .try_next()
            .await
            .aws("cloudformation", "ListStackResources")?
        {
            ids.extend(r.physical_resource_id().map(str::to_string));
        }
    }
    Ok(ids)
}

fn io_error(p: &Path, e: std::io::Error) -> KindError {
    KindError::io(p.display().to_string(), e)
}

fn write(path: &Path, text: &str) -> Result<(), KindError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| io_error(path, e))
}

/// A file name for a resource name that may contain `/`, spaces and more.
fn file_name(name: &str) -> String {
    let s: String = name
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_string() } else { s }
}

fn replace_refs(v: &Value, refs: &HashMap<String, String>, own: &[&String]) -> Value {
    match v {
        Value::String(s) if !own.contains(&s) => match refs.get(s) {
            Some(r) => Value::String(r.clone()),
            None => Value::String(s.replace("${", "$${")),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| replace_refs(x, refs, own)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), replace_refs(x, refs, own)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Marks a live value that holds a credential; never a character of a manifest.
const SECRET_MARK: char = '\u{E001}';

/// `v` with every value that holds a credential (by [`crate::secret::is_sensitive`])
/// replaced by a mark, and how many there were: an imported manifest is committed
/// to git, and a secret must not go there.
fn placeholders(v: &Value) -> (Value, usize) {
    fn walk(v: &Value, n: &mut usize) -> Value {
        match v {
            Value::String(s) if crate::secret::is_sensitive(s) => {
                *n += 1;
                Value::String(format!("{SECRET_MARK}{n}{SECRET_MARK}"))
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, n)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), walk(x, n))).collect())
            }
            other => other.clone(),
        }
    }
    let mut n = 0;
    let out = walk(v, &mut n);
    (out, n)
}

/// Turns each mark into an SSM reference to create, with a comment that says so.
fn fill_placeholders(doc: &str, count: usize) -> String {
    if count == 0 {
        return doc.to_string();
    }
    let mut out = String::with_capacity(doc.len());
    for line in doc.split_inclusive('\n') {
        if !line.contains(SECRET_MARK) {
            out.push_str(line);
            continue;
        }
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut filled = String::new();
        let mut parts = body.split(SECRET_MARK);
        filled.push_str(parts.next().unwrap_or(""));
        while let (Some(n), Some(rest)) = (parts.next(), parts.next()) {
            let name = if count == 1 {
                "/vigil/REPLACE/ME".to_string()
            } else {
                format!("/vigil/REPLACE/ME-{n}")
            };
            filled.push_str(&format!("${{ssm:{name}}}"));
            filled.push_str(rest);
        }
        out.push_str(&filled);
        out.push_str("  # the live value holds a credential: store it in SSM as a SecureString and name it here");
        out.push_str(nl);
    }
    out
}

// ---------------------------------------------------------------------------
// A small YAML emitter: block style, flow style for short scalar lists.

fn needs_quotes(s: &str, flow: bool) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if [
        "true", "false", "yes", "no", "on", "off", "null", "~", ".inf", "-.inf", ".nan",
    ]
    .contains(&lower.as_str())
    {
        return true;
    }
    if s.parse::<f64>().is_ok() || s.starts_with("0x") || s.starts_with("0o") {
        return true;
    }
    let first = s.chars().next().expect("non-empty");
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains('\t') {
        return true;
    }
    flow && s.chars().any(|c| ",[]{}".contains(c))
}

fn scalar(v: &Value, flow: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if needs_quotes(s, flow) => serde_json::to_string(s).expect("json string"),
        Value::String(s) => s.clone(),
        _ => unreachable!("containers are not scalars"),
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// YAML for `v` at `indent` levels. A container starts with a newline; a scalar does not.
pub fn to_yaml(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) => {
            let mut out = String::new();
            for (k, val) in m {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(&scalar(&Value::String(k.clone()), false));
                out.push(':');
                push_value(&mut out, val, indent + 1);
            }
            out
        }
        Value::Array(a) => {
            let flow: Vec<String> = a
                .iter()
                .filter(|x| is_scalar(x) && !multiline(x))
                .map(|x| scalar(x, true))
                .collect();
            if flow.len() == a.len() && flow.iter().map(|s| s.len() + 2).sum::<usize>() < 100 {
                return format!("[{}]", flow.join(", "));
            }
            let mut out = String::new();
            for val in a {
                out.push('\n');
                out.push_str(&pad);
                out.push('-');
                match val {
                    Value::Object(m) if !m.is_empty() => {
                        // The first key shares the dash's line.
                        let inner = to_yaml(val, indent + 1);
                        out.push(' ');
                        out.push_str(inner.trim_start_matches('\n').trim_start());
                    }
                    _ => push_value(&mut out, val, indent + 1),
                }
            }
            out
        }
        Value::String(s) if s.contains('\n') => {
            let mut out = if s.ends_with('\n') {
                "|".to_string()
            } else {
                "|-".to_string()
            };
            for line in s.trim_end_matches('\n').split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
            }
            out
        }
        other => scalar(other, false),
    }
}

fn multiline(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.contains('\n'))
}

fn push_value(out: &mut String, val: &Value, indent: usize) {
    let text = to_yaml(val, indent);
    if !text.starts_with('\n') {
        out.push(' ');
    }
    out.push_str(&text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let text = format!("spec:{}", {
            let b = to_yaml(v, 1);
            if b.starts_with('\n') {
                b
            } else {
                format!(" {b}")
            }
        });
        let docs = crate::yaml::parse_documents(&text).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
        docs[0].get("spec").unwrap().to_json().unwrap()
    }

    #[test]
    fn emitted_yaml_parses_back_to_the_same_value() {
        let v = json!({
            "alarmDescription": "Alert when CPU exceeds 80%",
            "threshold": 80.5,
            "evaluationPeriods": 2,
            "actionsEnabled": true,
            "dimensions": {"InstanceId": "i-1"},
            "alarmActions": ["arn:aws:sns:us-east-1:1:t", "${Topic/x.arn}"],
            "odd": ["yes", "", " padded", "a: b", "#x", "80", "[x]"],
            "query": "fields @timestamp\n| limit 10",
            "widgets": [{"type": "metric", "properties": {"metrics": [["AWS/EC2", "CPUUtilization"], [".", "x", "."]]}}],
            "empty": {},
            "none": [],
        });
        assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn literal_dollar_braces_are_escaped() {
        let refs = HashMap::new();
        let v = replace_refs(&json!({"q": "echo ${HOME}"}), &refs, &[]);
        assert_eq!(v["q"], "echo $${HOME}");
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name("/aws/ec2/httpd/access_log"),
            "aws_ec2_httpd_access_log"
        );
        assert_eq!(file_name("Top Error Messages"), "Top_Error_Messages");
    }
}
