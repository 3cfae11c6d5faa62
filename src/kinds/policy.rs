//! IAM and S3 policy documents compared by meaning, and the offline checks AWS
//! would make on them. Shared by every kind that carries a policy.
//!
//! The rules, each unit-tested below:
//! - IAM answers GetRole and GetRolePolicy with URL-encoded JSON ([`decode`]);
//! - `Version` absent means `2008-10-17`, the version AWS assumes;
//! - a single statement equals a one-element `Statement` list, and statement order does not matter;
//! - a single string equals a one-element list in `Action`, `NotAction`, `Resource`,
//!   `NotResource`, principal values and condition values, and the order of those lists does not matter;
//! - `Principal: "*"` equals `{"AWS": "*"}`;
//! - a bare account id principal `123456789012` equals `arn:aws:iam::123456789012:root`;
//! - condition values are strings to AWS: `false` equals `"false"`.

use serde_json::{Map, Value, json};

use super::Issues;
use crate::diff::canonical;

/// The version AWS assumes when a policy names none.
pub const DEFAULT_VERSION: &str = "2008-10-17";

/// What a policy is attached to decides which elements it must or must not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    /// A role's trust policy: needs a principal, takes no resource.
    Trust,
    /// A policy attached to an identity: takes no principal, needs a resource.
    Identity,
    /// A policy attached to a resource such as a bucket: needs both.
    Resource,
}

/// The partition of a region, for ARNs built from account ids.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A policy document as AWS returns it: plain JSON, or URL-encoded JSON (IAM).
/// Text that is neither is kept as a string so that it shows in a diff.
pub fn decode(raw: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return v;
    }
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// The canonical form of a policy document; two documents that mean the same
/// normalize to equal values.
pub fn normalize(doc: &Value, partition: &str) -> Value {
    let Value::Object(m) = doc else {
        return canonical(doc);
    };
    let mut out = Map::new();
    for (k, v) in m {
        if k == "Statement" {
            let mut statements: Vec<Value> = one_or_many(v)
                .iter()
                .map(|s| statement(s, partition))
                .collect();
            // By text with sorted keys: key order is how a document was written, not what it means.
            statements.sort_by_cached_key(sorted_text);
            out.insert(k.clone(), Value::Array(statements));
        } else {
            out.insert(k.clone(), canonical(v));
        }
    }
    out.entry("Version")
        .or_insert_with(|| json!(DEFAULT_VERSION));
    Value::Object(out)
}

/// The JSON text of a value with every object's keys sorted.
fn sorted_text(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut pairs: Vec<(&String, &Value)> = m.iter().collect();
                pairs.sort_by_key(|(k, _)| *k);
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

fn one_or_many(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// A scalar as the string AWS keeps.
fn text(v: &Value) -> Value {
    match v {
        Value::Number(_) | Value::Bool(_) => Value::String(v.to_string()),
        other => canonical(other),
    }
}

/// A string or list as a sorted list without duplicates.
fn string_set(v: &Value, map: impl Fn(Value) -> Value) -> Value {
    let mut items: Vec<Value> = one_or_many(v).iter().map(|x| map(text(x))).collect();
    items.sort_by_cached_key(Value::to_string);
    items.dedup();
    Value::Array(items)
}

fn statement(s: &Value, partition: &str) -> Value {
    let Value::Object(m) = s else {
        return canonical(s);
    };
    let mut out = Map::new();
    for (k, v) in m {
        let value = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => string_set(v, |x| x),
            "Principal" | "NotPrincipal" => principal(v, partition),
            "Condition" => condition(v),
            _ => canonical(v),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

fn principal(v: &Value, partition: &str) -> Value {
    match v {
        Value::String(s) if s == "*" => json!({"AWS": ["*"]}),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(kind, ids)| {
                    let ids = if kind == "AWS" {
                        string_set(ids, |x| match x {
                            Value::String(s) if is_account_id(&s) => {
                                Value::String(format!("arn:{partition}:iam::{s}:root"))
                            }
                            other => other,
                        })
                    } else {
                        string_set(ids, |x| x)
                    };
                    (kind.clone(), ids)
                })
                .collect(),
        ),
        other => canonical(other),
    }
}

fn condition(v: &Value) -> Value {
    let Value::Object(ops) = v else {
        return canonical(v);
    };
    Value::Object(
        ops.iter()
            .map(|(op, keys)| {
                let keys = match keys {
                    Value::Object(km) => Value::Object(
                        km.iter()
                            .map(|(k, vals)| (k.clone(), string_set(vals, |x| x)))
                            .collect(),
                    ),
                    other => canonical(other),
                };
                (op.clone(), keys)
            })
            .collect(),
    )
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// The checks AWS makes on a policy that can be made offline. `path` is where
/// the document sits in the spec, such as `inlinePolicies.Delivery`.
pub fn validate(doc: &Value, ty: PolicyType, path: &str, issues: &mut Issues) {
    let Value::Object(m) = doc else {
        issues.at(
            path,
            "a policy document must be a mapping with Version and Statement",
        );
        return;
    };
    for k in m.keys() {
        if !["Version", "Id", "Statement"].contains(&k.as_str()) {
            issues.at(
                &format!("{path}.{k}"),
                format!("`{k}` is not a policy element; a policy has Version, Id and Statement (names are case-sensitive)"),
            );
        }
    }
    match m.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == DEFAULT_VERSION => {}
        Some(v) => issues.at(
            &format!("{path}.Version"),
            format!("{v} is not a policy version; use \"2012-10-17\" (quoted, so YAML keeps it a string)"),
        ),
    }
    let statements: Vec<(String, &Value)> = match m.get("Statement") {
        None => {
            issues.at(path, "the policy needs a Statement");
            return;
        }
        Some(Value::Array(a)) if a.is_empty() => {
            issues.at(
                &format!("{path}.Statement"),
                "the policy needs at least one statement",
            );
            return;
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("{path}.Statement[{i}]"), s))
            .collect(),
        Some(s) => vec![(format!("{path}.Statement"), s)],
    };
    let mut sids = std::collections::BTreeSet::new();
    for (sp, s) in statements {
        validate_statement(s, ty, &sp, issues);
        if let Some(sid) = s.get("Sid").and_then(Value::as_str)
            && !sids.insert(sid.to_string())
        {
            issues.at(
                &format!("{sp}.Sid"),
                format!("Sid `{sid}` is used twice; statement ids must be unique"),
            );
        }
    }
}

/// One statement: its elements, then each element by the rule for this policy type.
fn validate_statement(s: &Value, ty: PolicyType, sp: &str, issues: &mut Issues) {
    let Value::Object(m) = s else {
        issues.at(
            sp,
            "a statement must be a mapping with Effect, Action and the rest",
        );
        return;
    };
    check_statement_keys(m, sp, issues);
    check_sid(m, ty, sp, issues);
    check_effect(m, sp, issues);
    check_actions(m, sp, issues);
    check_principal_and_resource_fit(m, ty, sp, issues);
    check_resources(m, sp, issues);
    check_principals(m, sp, issues);
    check_condition(m, sp, issues);
}

/// Only the elements IAM knows, spelled as IAM spells them.
fn check_statement_keys(m: &Map<String, Value>, sp: &str, issues: &mut Issues) {
    for k in m.keys() {
        if !STATEMENT_KEYS.contains(&k.as_str()) {
            issues.at(
                &format!("{sp}.{k}"),
                format!(
                    "`{k}` is not a statement element; use {} (names are case-sensitive)",
                    STATEMENT_KEYS.join(", ")
                ),
            );
        }
    }
}

/// Sid is a string; IAM (not resource policies) allows only letters and digits.
fn check_sid(m: &Map<String, Value>, ty: PolicyType, sp: &str, issues: &mut Issues) {
    if let Some(sid) = m.get("Sid") {
        match sid.as_str() {
            Some(s)
                if ty != PolicyType::Resource && !s.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                issues.at(
                    &format!("{sp}.Sid"),
                    "an IAM statement id allows only letters and digits (A-Z, a-z, 0-9)",
                )
            }
            Some(_) => {}
            None => issues.at(&format!("{sp}.Sid"), "Sid must be a string"),
        }
    }
}

/// Effect is Allow or Deny.
fn check_effect(m: &Map<String, Value>, sp: &str, issues: &mut Issues) {
    match m.get("Effect") {
        Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
        Some(e) => issues.at(
            &format!("{sp}.Effect"),
            format!("{e} is not an effect; use Allow or Deny"),
        ),
        None => issues.at(sp, "the statement needs Effect: Allow or Deny"),
    }
}

/// Action or NotAction, each action written service:Action.
fn check_actions(m: &Map<String, Value>, sp: &str, issues: &mut Issues) {
    exactly_one(m, "Action", "NotAction", sp, issues);
    for key in ["Action", "NotAction"] {
        for (p, a) in strings(m.get(key), &format!("{sp}.{key}"), issues) {
            if a != "*" && !a.contains(':') && !a.contains("${") {
                issues.at(
                    &p,
                    format!(
                        "`{a}` is not an action; write service:Action, for example s3:GetObject"
                    ),
                );
            }
        }
    }
}

/// Whether the policy type takes a Principal and a Resource: a role's own policy has no
/// Principal, a trust policy no Resource.
fn check_principal_and_resource_fit(
    m: &Map<String, Value>,
    ty: PolicyType,
    sp: &str,
    issues: &mut Issues,
) {
    let has_principal = m.contains_key("Principal") || m.contains_key("NotPrincipal");
    let has_resource = m.contains_key("Resource") || m.contains_key("NotResource");
    match ty {
        PolicyType::Identity if has_principal => issues.at(
            sp,
            "a policy attached to a role takes no Principal; the role is the principal (trust goes in assumeRolePolicy)",
        ),
        PolicyType::Trust | PolicyType::Resource if !has_principal => {
            issues.at(sp, "the statement needs a Principal, for example {Service: config.amazonaws.com}")
        }
        _ => {}
    }
    match ty {
        PolicyType::Trust if has_resource => {
            issues.at(sp, "a trust policy takes no Resource; remove it")
        }
        PolicyType::Identity | PolicyType::Resource => {
            exactly_one(m, "Resource", "NotResource", sp, issues)
        }
        _ => {}
    }
}

/// Resources are ARNs, or *.
fn check_resources(m: &Map<String, Value>, sp: &str, issues: &mut Issues) {
    for key in ["Resource", "NotResource"] {
        for (p, r) in strings(m.get(key), &format!("{sp}.{key}"), issues) {
            if r != "*" && !r.starts_with("arn:") && !r.starts_with("${") {
                issues.at(&p, format!("`{r}` is not an ARN; resources are ARNs such as arn:aws:s3:::bucket/*, or *"));
            }
        }
    }
}

/// A principal is "*" or a mapping of known principal types to ids.
fn check_principals(m: &Map<String, Value>, sp: &str, issues: &mut Issues) {
    for key in ["Principal", "NotPrincipal"] {
        match m.get(key) {
            None => {}
            Some(Value::String(s)) if s == "*" => {}
            Some(Value::Object(pm)) => {
                for (kind, ids) in pm {
                    if !["AWS", "Service", "Federated", "CanonicalUser"].contains(&kind.as_str()) {
                        issues.at(
                            &format!("{sp}.{key}.{kind}"),
                            format!("`{kind}` is not a principal type; use AWS, Service, Federated or CanonicalUser"),
                        );
                    }
                    strings(Some(ids), &format!("{sp}.{key}.{kind}"), issues);
                }
            }
            Some(_) => issues.at(
                &format!("{sp}.{key}"),
                "a principal is \"*\" or a mapping such as {Service: config.amazonaws.com} or {AWS: \"123456789012\"}",
            ),
        }
    }
}

/// Condition maps operators to mappings of keys to values.
fn check_condition(m: &Map<String, Value>, sp: &str, issues: &mut Issues) {
    if let Some(c) = m.get("Condition") {
        match c {
            Value::Object(ops) => {
                for (op, keys) in ops {
                    if !keys.is_object() {
                        issues.at(
                            &format!("{sp}.Condition.{op}"),
                            format!("a condition maps keys to values, for example {op}: {{\"aws:SourceAccount\": \"123456789012\"}}"),
                        );
                    }
                }
            }
            _ => issues.at(
                &format!("{sp}.Condition"),
                "Condition must be a mapping of operators, for example {StringEquals: {\"aws:SourceAccount\": \"123456789012\"}}",
            ),
        }
    }
}

fn exactly_one(m: &Map<String, Value>, a: &str, b: &str, sp: &str, issues: &mut Issues) {
    match (m.contains_key(a), m.contains_key(b)) {
        (true, true) => issues.at(&format!("{sp}.{b}"), format!("set {a} or {b}, not both")),
        (false, false) => issues.at(sp, format!("the statement needs {a} (or {b})")),
        _ => {}
    }
}

/// The strings of a string-or-list element, each with its path; anything
/// else is reported (a YAML account id written without quotes is a number).
fn strings(v: Option<&Value>, path: &str, issues: &mut Issues) -> Vec<(String, String)> {
    let check = |v: &Value, p: String, issues: &mut Issues| match v {
        Value::String(s) => Some((p, s.clone())),
        Value::Number(n) => {
            issues.at(&p, format!("{n} must be a string; quote it: \"{n}\""));
            None
        }
        _ => {
            let name = super::field_name(&p).to_string();
            issues.at(&p, format!("{name} must be a string or a list of strings"));
            None
        }
    };
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| check(x, format!("{path}[{i}]"), issues))
            .collect(),
        Some(x) => check(x, path.to_string(), issues).into_iter().collect(),
    }
}

/// The size AWS counts against policy quotas: the JSON without whitespace.
pub fn size(doc: &Value) -> usize {
    doc.to_string().chars().count()
}

#[cfg(test)]
mod tests;
