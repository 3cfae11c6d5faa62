//! CloudFormation templates: parsing YAML (with short tags such as `!Sub`) or JSON
//! into the long form, comparing by meaning, and the checks CloudFormation would
//! make that can run offline, located by path so callers can turn them into
//! `file:line:col`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::yaml::{self, Node, Pos, Seg};

/// CloudFormation rejects a `TemplateBody` larger than this; bigger templates need S3.
pub const MAX_BODY_BYTES: usize = 51_200;

/// The short tags CloudFormation's YAML accepts and the long-form key each maps to.
const FUNCTIONS: &[&str] = &[
    "And",
    "Base64",
    "Cidr",
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "RefAll",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
    "ValueOf",
    "ValueOfAll",
];

const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

const TOP_LEVEL: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
];

const RESOURCE_ATTRIBUTES: &[&str] = &[
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "Metadata",
    "Version",
];

/// Maps one short tag to its long form: `!Ref X` is `{"Ref": X}`, `!GetAtt A.B` is
/// `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` is `{"Fn::Sub": s}`.
pub fn long_form(tag: &str, value: Value) -> Option<Value> {
    match tag {
        "Ref" | "Condition" => Some(json!({ tag: value })),
        "GetAtt" => Some(json!({"Fn::GetAtt": get_att_args(value)})),
        // `!GetAZs` with no value means the current region, like `!GetAZs ''`.
        "GetAZs" if value.is_null() => Some(json!({"Fn::GetAZs": ""})),
        _ if FUNCTIONS.contains(&tag) => Some(json!({ format!("Fn::{tag}"): value })),
        _ => None,
    }
}

/// `A.B.C` is `["A", "B.C"]`: the logical id never holds a dot, the attribute may.
fn get_att_args(value: Value) -> Value {
    match value {
        Value::String(s) => match s.split_once('.') {
            Some((a, b)) => json!([a, b]),
            None => Value::String(s),
        },
        other => other,
    }
}

/// A parsed template: the long-form JSON, and the YAML tree for positions.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub value: Value,
    pub node: Option<Node>,
}

/// Parses template text, JSON or YAML. Errors carry a 1-based position.
pub fn parse(text: &str) -> Result<Parsed, (Pos, String)> {
    if text.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            (
                Pos {
                    line: e.line(),
                    col: e.column(),
                },
                format!("invalid JSON: {e}"),
            )
        })?;
        // JSON is YAML too, so the same tree gives positions when it parses.
        let node = yaml::parse_documents(text)
            .ok()
            .and_then(|d| d.into_iter().next());
        return Ok(Parsed { value, node });
    }
    let docs = yaml::parse_documents(text)
        .map_err(|e| (e.pos, format!("YAML syntax error: {}", e.message)))?;
    let mut docs = docs.into_iter();
    let node = docs
        .next()
        .ok_or_else(|| (Pos { line: 1, col: 1 }, "the template is empty".to_string()))?;
    if let Some(extra) = docs.next() {
        return Err((
            extra.pos,
            "a template is one YAML document; remove the `---` and what follows".into(),
        ));
    }
    let value = node.to_json_with_tags(&|tag, v| long_form(tag, v)).map_err(|(pos, msg)| {
        let msg = if msg.starts_with("unsupported YAML tag") {
            format!("{msg}; CloudFormation knows !Ref, !GetAtt, !Sub, !Join, !Select, !If and the other Fn:: short forms")
        } else {
            msg
        };
        (pos, msg)
    })?;
    Ok(Parsed {
        value,
        node: Some(node),
    })
}

/// The template in a form where equal meaning is equal JSON: `Fn::GetAtt` as a
/// list, numbers canonical.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if k == "Fn::GetAtt" {
                        get_att_args(v.clone())
                    } else {
                        v.clone()
                    };
                    (k.clone(), canonical(&v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => crate::diff::canonical(other),
    }
}

/// CloudFormation's `${...}` would read as vigil references in a manifest; a
/// template file is data, so they are escaped at load and come back on resolve.
pub fn escape_refs(text: &str) -> String {
    text.replace("${", "$${")
}

/// What the template says about one parameter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamInfo {
    pub default: Option<String>,
    pub no_echo: bool,
}

/// A YAML scalar or list as CloudFormation reads a parameter value.
pub fn param_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(param_string)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

pub fn parameters(template: &Value) -> BTreeMap<String, ParamInfo> {
    let Some(params) = template.get("Parameters").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    params
        .iter()
        .map(|(k, p)| {
            let info = ParamInfo {
                default: p.get("Default").and_then(param_string),
                no_echo: matches!(p.get("NoEcho"), Some(Value::Bool(true)))
                    || p.get("NoEcho").and_then(Value::as_str) == Some("true"),
            };
            (k.clone(), info)
        })
        .collect()
}

/// `(logical id, type)` for every resource, in template order.
pub fn resources(template: &Value) -> Vec<(String, String)> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|r| {
            r.iter()
                .map(|(id, res)| {
                    (
                        id.clone(),
                        res.get("Type")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const NAMED_IAM: &[(&str, &str)] = &[
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
];

/// The capabilities CloudFormation will ask for, each with the resource that needs it.
pub fn required_capabilities(template: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (id, ty) in resources(template) {
        if !ty.starts_with("AWS::IAM::") {
            continue;
        }
        let props = template["Resources"][&id].get("Properties");
        let named = NAMED_IAM
            .iter()
            .any(|(t, p)| *t == ty && props.and_then(|pr| pr.get(*p)).is_some());
        let cap = if named {
            "CAPABILITY_NAMED_IAM"
        } else {
            "CAPABILITY_IAM"
        };
        out.push((cap, format!("{id} ({ty})")));
    }
    if template.get("Transform").is_some() {
        out.push(("CAPABILITY_AUTO_EXPAND", "Transform".to_string()));
    }
    out
}

/// Whether the given capabilities acknowledge what the template needs; one message per gap.
pub fn missing_capabilities(template: &Value, given: &[String]) -> Vec<String> {
    let has = |c: &str| given.iter().any(|g| g == c);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (cap, why) in required_capabilities(template) {
        let ok = match cap {
            "CAPABILITY_IAM" => has("CAPABILITY_IAM") || has("CAPABILITY_NAMED_IAM"),
            other => has(other),
        };
        if !ok && seen.insert(cap) {
            out.push(format!(
                "{why} needs capabilities: [{cap}]; add it to acknowledge that the stack creates it"
            ));
        }
    }
    out
}

/// Located problems: a path into the template and a message.
pub type Findings = Vec<(Vec<Seg>, String)>;

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn at(path: &[Seg], more: &[&str]) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.extend(more.iter().map(|k| key(k)));
    p
}

/// The checks CloudFormation makes before it creates anything: structure,
/// and that every `Ref`, `Fn::GetAtt`, `Fn::Sub` variable, `DependsOn` and
/// `Condition` names something the template declares.
pub fn check(t: &Value, body_bytes: usize) -> Findings {
    let mut out = Vec::new();
    check_body_size(body_bytes, &mut out);
    let Some(root) = t.as_object() else {
        out.push((
            Vec::new(),
            "a template must be a mapping with a Resources section".into(),
        ));
        return out;
    };
    check_sections_are_known(root, &mut out);
    check_format_version(root, &mut out);
    let params: BTreeSet<&str> = section_keys(root, "Parameters");
    let conditions: BTreeSet<&str> = section_keys(root, "Conditions");
    let resources: BTreeSet<&str> = section_keys(root, "Resources");
    check_parameters_have_a_type(root, &mut out);
    check_resources_section_shape(root, &mut out);
    let transform = root.contains_key("Transform");
    for (id, r) in section(root, "Resources") {
        // `Fn::ForEach::Name` loops (AWS::LanguageExtensions) expand into resources later.
        if transform && id.starts_with("Fn::") {
            continue;
        }
        check_resource(id, r, &resources, &conditions, &mut out);
    }
    check_outputs_have_a_value(root, &mut out);
    // A transform (macro, SAM) may add names the template does not declare.
    if !transform {
        let names = Names {
            params: &params,
            resources: &resources,
            conditions: &conditions,
        };
        for s in ["Resources", "Outputs", "Conditions"] {
            if let Some(v) = root.get(s) {
                names.walk(v, &mut vec![key(s)], &mut out);
            }
        }
    }
    out
}

/// A request body over the limit needs an S3 TemplateURL, which vigil does not upload.
fn check_body_size(body_bytes: usize, out: &mut Findings) {
    if body_bytes > MAX_BODY_BYTES {
        out.push((
            Vec::new(),
            format!(
                "the template is {body_bytes} bytes; CloudFormation accepts at most {MAX_BODY_BYTES} in a request body (larger ones need an S3 TemplateURL, which vigil does not upload)"
            ),
        ));
    }
}

/// Every top-level key is a section CloudFormation knows.
fn check_sections_are_known(root: &Map<String, Value>, out: &mut Findings) {
    for k in root.keys() {
        if !TOP_LEVEL.contains(&k.as_str()) {
            out.push((
                vec![key(k)],
                format!(
                    "unknown template section `{k}`; CloudFormation knows {}",
                    TOP_LEVEL.join(", ")
                ),
            ));
        }
    }
}

/// `AWSTemplateFormatVersion`, when given, is the one version there is.
fn check_format_version(root: &Map<String, Value>, out: &mut Findings) {
    if let Some(v) = root.get("AWSTemplateFormatVersion")
        && v.as_str() != Some("2010-09-09")
    {
        out.push((
            vec![key("AWSTemplateFormatVersion")],
            "the only format version is '2010-09-09' (quote it)".into(),
        ));
    }
}

/// Every parameter declares its Type.
fn check_parameters_have_a_type(root: &Map<String, Value>, out: &mut Findings) {
    for (name, p) in section(root, "Parameters") {
        if p.get("Type").and_then(Value::as_str).is_none() {
            out.push((
                vec![key("Parameters"), key(name)],
                format!("parameter `{name}` needs a Type, such as String"),
            ));
        }
    }
}

/// Resources is present, a mapping, and not empty.
fn check_resources_section_shape(root: &Map<String, Value>, out: &mut Findings) {
    match root.get("Resources") {
        None => out.push((
            Vec::new(),
            "the template needs a Resources section with at least one resource".into(),
        )),
        Some(Value::Object(r)) if r.is_empty() => out.push((
            vec![key("Resources")],
            "Resources must declare at least one resource".into(),
        )),
        Some(Value::Object(_)) => {}
        Some(_) => out.push((
            vec![key("Resources")],
            "Resources must be a mapping of logical ids to resources".into(),
        )),
    }
}

/// One resource: an alphanumeric logical id, a mapping with a Type, only known
/// attributes, and `DependsOn` and `Condition` naming what the template declares.
fn check_resource(
    id: &str,
    r: &Value,
    resources: &BTreeSet<&str>,
    conditions: &BTreeSet<&str>,
    out: &mut Findings,
) {
    let path = vec![key("Resources"), key(id)];
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        out.push((
            path.clone(),
            format!("logical id `{id}` must be alphanumeric (A-Za-z0-9)"),
        ));
    }
    let Some(r) = r.as_object() else {
        out.push((
            path,
            format!("resource `{id}` must be a mapping with a Type"),
        ));
        return;
    };
    match r.get("Type").and_then(Value::as_str) {
        Some(_) => {}
        None => out.push((
            path.clone(),
            format!("resource `{id}` needs a Type, such as AWS::SNS::Topic"),
        )),
    }
    for k in r.keys() {
        if !RESOURCE_ATTRIBUTES.contains(&k.as_str()) {
            out.push((
                at(&path, &[k]),
                format!("unknown resource attribute `{k}`; put resource settings under Properties"),
            ));
        }
    }
    check_depends_on(&path, r, resources, out);
    if let Some(c) = r.get("Condition").and_then(Value::as_str)
        && !conditions.contains(c)
    {
        out.push((
            at(&path, &["Condition"]),
            format!("condition `{c}` is not declared under Conditions"),
        ));
    }
}

/// `DependsOn`, a name or a list of names, names resources of this template.
fn check_depends_on(
    path: &[Seg],
    r: &Map<String, Value>,
    resources: &BTreeSet<&str>,
    out: &mut Findings,
) {
    let depends: Vec<(Vec<Seg>, &str)> = match r.get("DependsOn") {
        Some(Value::String(s)) => vec![(at(path, &["DependsOn"]), s.as_str())],
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let mut p = at(path, &["DependsOn"]);
                p.push(Seg::Index(i));
                v.as_str().map(|s| (p, s))
            })
            .collect(),
        _ => Vec::new(),
    };
    for (p, d) in depends {
        if !resources.contains(d) {
            out.push((
                p,
                format!("DependsOn names `{d}`, which is not a resource in this template"),
            ));
        }
    }
}

/// Every output declares its Value.
fn check_outputs_have_a_value(root: &Map<String, Value>, out: &mut Findings) {
    for (name, o) in section(root, "Outputs") {
        if o.get("Value").is_none() {
            out.push((
                vec![key("Outputs"), key(name)],
                format!("output `{name}` needs a Value"),
            ));
        }
    }
}

fn section<'a>(
    root: &'a Map<String, Value>,
    name: &str,
) -> impl Iterator<Item = (&'a str, &'a Value)> {
    root.get(name)
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
}

fn section_keys<'a>(root: &'a Map<String, Value>, name: &str) -> BTreeSet<&'a str> {
    section(root, name).map(|(k, _)| k).collect()
}

struct Names<'a> {
    params: &'a BTreeSet<&'a str>,
    resources: &'a BTreeSet<&'a str>,
    conditions: &'a BTreeSet<&'a str>,
}

impl Names<'_> {
    fn walk(&self, v: &Value, path: &mut Vec<Seg>, out: &mut Findings) {
        match v {
            Value::Object(m) => {
                if m.len() == 1 {
                    let (k, arg) = m.iter().next().expect("one entry");
                    self.function(k, arg, path, out);
                }
                for (k, child) in m {
                    path.push(key(k));
                    self.walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn known(&self, name: &str) -> bool {
        self.params.contains(name)
            || self.resources.contains(name)
            || PSEUDO_PARAMETERS.contains(&name)
            || vigil_reference(name)
    }

    fn function(&self, k: &str, arg: &Value, path: &[Seg], out: &mut Findings) {
        let here = at(path, &[k]);
        match k {
            "Ref" => match arg.as_str() {
                Some(n) if !self.known(n) => out.push((
                    here,
                    format!(
                        "Ref to `{n}`, which is neither a parameter nor a resource in this template"
                    ),
                )),
                Some(_) => {}
                None => out.push((here, "Ref takes the name of a parameter or resource".into())),
            },
            "Fn::GetAtt" => {
                match get_att_args(arg.clone()) {
                    Value::Array(a) if a.len() == 2 => {
                        if let Some(r) = a[0].as_str()
                            && !self.resources.contains(r)
                        {
                            out.push((here, format!("Fn::GetAtt reads `{r}`, which is not a resource in this template")));
                        }
                    }
                    _ => out.push((
                        here,
                        "Fn::GetAtt takes LogicalId.Attribute or [LogicalId, Attribute]".into(),
                    )),
                }
            }
            "Fn::Sub" => {
                let (text, vars): (Option<&str>, BTreeSet<&str>) = match arg {
                    Value::String(s) => (Some(s), BTreeSet::new()),
                    Value::Array(a) if a.len() == 2 => (
                        a[0].as_str(),
                        a[1].as_object()
                            .map(|m| m.keys().map(String::as_str).collect())
                            .unwrap_or_default(),
                    ),
                    _ => {
                        out.push((
                            here,
                            "Fn::Sub takes a string, or [string, {variables}]".into(),
                        ));
                        return;
                    }
                };
                for var in text.map(sub_variables).unwrap_or_default() {
                    let base = var.split('.').next().unwrap_or(&var);
                    let ok = vigil_reference(&var)
                        || vars.contains(var.as_str())
                        || if var.contains('.') && !var.starts_with("AWS::") {
                            self.resources.contains(base)
                        } else {
                            self.known(&var)
                        };
                    if !ok {
                        out.push((
                            here.clone(),
                            format!("Fn::Sub uses ${{{var}}}, which is not a parameter, resource or variable; write ${{!{var}}} for a literal"),
                        ));
                    }
                }
            }
            "Condition" | "Fn::If" => {
                let name = if k == "Condition" {
                    arg.as_str()
                } else {
                    arg.get(0).and_then(Value::as_str)
                };
                if let Some(c) = name
                    && !self.conditions.contains(c)
                    // A resource's `Condition:` attribute is checked with the resource.
                    && !(k == "Condition" && path.len() == 2 && path[0] == key("Resources"))
                {
                    out.push((
                        here,
                        format!("condition `{c}` is not declared under Conditions"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// An inline template may hold vigil references (`${Topic/x.arn}`), resolved
/// before CloudFormation sees the template.
fn vigil_reference(name: &str) -> bool {
    name.contains('/') || name.contains("${")
}

/// The `${Name}` variables of a `Fn::Sub` string; `${!Literal}` is not one.
fn sub_variables(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let var = after[..end].trim();
        if !var.starts_with('!') && !var.is_empty() {
            out.push(var.to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

/// Findings as `FILE:LINE:COL: message`, positioned through the YAML tree when there is one.
pub fn located(file: &str, node: Option<&Node>, findings: &Findings) -> Vec<String> {
    findings
        .iter()
        .map(|(path, msg)| match node {
            Some(n) => format!("{file}:{}: {msg}", locate(n, path)),
            None => format!("{file}: {}: {msg}", render_path(path)),
        })
        .collect()
}

/// The position of `path`: the value for scalars (a short tag's node is the
/// function itself), the key for mappings and lists that start on a later line.
fn locate(node: &Node, path: &[Seg]) -> Pos {
    let target = node.locate(path);
    if let Some((Seg::Key(k), parent_path)) = path.split_last()
        && matches!(target.value, yaml::Value::Map(_) | yaml::Value::Seq(_))
        && let Some(kn) = node.locate(parent_path).key_node(k)
    {
        return kn.pos;
    }
    target.pos
}

pub fn render_path(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[cfg(test)]
mod tests;
