//! Targets: the (account, region) pairs one directory manages.
//!
//! A `Target` document names an account, its regions, how to reach it and
//! values for the manifests; each of its regions is one [`Target`]. A directory
//! without Target documents has one implicit target: the ambient credentials
//! and `Settings.region`.
//!
//! This module reads Target documents and `metadata.targets`; `placement`
//! checks what needs both the Targets and the resources, and `model` gives
//! each target its own view of the manifests (`Manifests::for_target`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::Deserialize;

use super::diag::{Diagnostic, diag};
use super::explain::explain;
use super::settings::{SettingsDoc, account_id_problem};
use crate::refs::{self, Piece, Referent};
use crate::yaml::{self, Node, Pos, Value};

/// The name of the implicit target of a directory that declares none.
pub const IMPLICIT: &str = "default";

/// The `kind` of a Target document.
pub const KIND: &str = "Target";

/// One place vigil acts: an account and a region, and how to get there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Target document's name ([`IMPLICIT`] when none is declared).
    pub name: String,
    /// `None` only for the implicit target without `Settings.region`: the ambient region.
    pub region: Option<String>,
    /// The account the credentials must belong to (the account guard);
    /// `None` only for the implicit target without `Settings.accountId`.
    pub account_id: Option<String>,
    /// Assumed from the base credentials, session name `vigil-<name>`; `None`: the base credentials.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// `metadata.labels`, for `metadata.targets` selectors.
    pub labels: BTreeMap<String, String>,
    /// `spec.values`, for `${target:values.KEY}`.
    pub values: BTreeMap<String, String>,
    /// False for the implicit target.
    pub declared: bool,
}

impl Target {
    /// The implicit target of a directory without Target documents.
    pub fn implicit(region: Option<String>, account_id: Option<String>) -> Target {
        Target {
            name: IMPLICIT.to_string(),
            region,
            account_id,
            role_arn: None,
            external_id: None,
            labels: BTreeMap::new(),
            values: BTreeMap::new(),
            declared: false,
        }
    }

    /// `name/region`: unique per directory; how reports, `/status`, metrics and
    /// leases name it. The implicit target is just `default`.
    pub fn key(&self) -> String {
        match (&self.region, self.declared) {
            (Some(r), true) => format!("{}/{r}", self.name),
            _ => self.name.clone(),
        }
    }

    /// Whether `--target ARG` selects it: the document's name (all its regions) or `name/region`.
    pub fn matches(&self, arg: &str) -> bool {
        arg == self.name || arg == self.key()
    }

    /// The value of a `${target:...}` expression; `None` for any other
    /// expression, or a value the target does not have.
    pub fn resolve(&self, expr: &str) -> Option<String> {
        match refs::parse_target(expr)?.ok()? {
            Referent::TargetName => Some(self.name.clone()),
            Referent::TargetValue(key) => self.values.get(&key).cloned(),
            _ => None,
        }
    }
}

/// One entry of `metadata.targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A Target document's name: all its regions.
    Name(String),
    /// `key=value`: every Target whose `metadata.labels` has it.
    Label { key: String, value: String },
}

impl Selector {
    /// `key=value` is a label selector; anything else names a Target.
    pub fn parse(text: &str) -> Selector {
        match text.split_once('=') {
            Some((key, value)) => Selector::Label {
                key: key.to_string(),
                value: value.to_string(),
            },
            None => Selector::Name(text.to_string()),
        }
    }

    pub fn matches(&self, t: &Target) -> bool {
        match self {
            Selector::Name(n) => *n == t.name,
            Selector::Label { key, value } => t.labels.get(key) == Some(value),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Name(n) => f.write_str(n),
            Selector::Label { key, value } => write!(f, "{key}={value}"),
        }
    }
}

/// `s` with each `${target:...}` it holds replaced by `t`'s value; `None` when
/// it holds none. The rest is written back so that [`refs::split`] reads the
/// same pieces: other expressions as they were, and literal text (a value
/// included) with `${` escaped as `$${`.
pub fn substitute_str(s: &str, t: &Target) -> Option<String> {
    if !s.contains("${target:") {
        return None;
    }
    let pieces = refs::split(s).ok()?;
    let (mut out, mut literal, mut replaced) = (String::new(), String::new(), false);
    for piece in pieces {
        match piece {
            Piece::Text(text) => literal.push_str(&text),
            Piece::Expr(e) => match t.resolve(&e) {
                Some(v) => {
                    literal.push_str(&v);
                    replaced = true;
                }
                None => {
                    out.push_str(&literal.replace("${", "$${"));
                    literal.clear();
                    out.push_str(&format!("${{{e}}}"));
                }
            },
        }
    }
    out.push_str(&literal.replace("${", "$${"));
    replaced.then_some(out)
}

/// [`substitute_str`] over every string of a JSON value; `None` when nothing changed.
pub fn substitute_json(v: &serde_json::Value, t: &Target) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    match v {
        J::String(s) => substitute_str(s, t).map(J::String),
        J::Array(items) => {
            let new: Vec<_> = items.iter().map(|i| substitute_json(i, t)).collect();
            new.iter().any(Option::is_some).then(|| {
                let both = new.into_iter().zip(items);
                J::Array(
                    both.map(|(n, old)| n.unwrap_or_else(|| old.clone()))
                        .collect(),
                )
            })
        }
        J::Object(m) => {
            let new: Vec<_> = m.values().map(|i| substitute_json(i, t)).collect();
            new.iter().any(Option::is_some).then(|| {
                let both = new.into_iter().zip(m);
                J::Object(
                    both.map(|(n, (k, old))| (k.clone(), n.unwrap_or_else(|| old.clone())))
                        .collect(),
                )
            })
        }
        _ => None,
    }
}

/// A copy of `node` with [`substitute_str`] applied to every string, positions kept.
pub(super) fn substitute_node(node: &Node, t: &Target) -> Node {
    let mut out = node.clone();
    fn walk(n: &mut Node, t: &Target) {
        match &mut n.value {
            Value::Str(s) => {
                if let Some(new) = substitute_str(s, t) {
                    *s = new;
                }
            }
            Value::Seq(items) => items.iter_mut().for_each(|i| walk(i, t)),
            Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| walk(v, t)),
            _ => {}
        }
    }
    walk(&mut out, t);
    out
}

/// A value written as a string, a number or a boolean, kept as its text.
#[derive(Debug, Clone, PartialEq, schemars::JsonSchema)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or true/false")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Scalar, E> {
                Ok(Scalar(s.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Scalar, E> {
                Ok(Scalar(b.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Scalar, E> {
                Ok(Scalar(i.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, i: u64) -> Result<Scalar, E> {
                Ok(Scalar(i.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Scalar, E> {
                Ok(Scalar(f.to_string()))
            }
        }
        // The YAML reader hands a plain number or boolean over as its source text.
        d.deserialize_str(V)
    }
}

/// The `spec` of a Target document.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetSpec {
    /// The 12-digit account id, quoted. The credentials (after `roleArn`) must belong to it.
    #[schemars(pattern(r"^[0-9]{12}$"))]
    pub account_id: String,
    /// The regions vigil manages in the account; each one is a target of its own.
    #[schemars(length(min = 1), extend("uniqueItems" = true), inner(pattern(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")))]
    pub regions: Vec<String>,
    /// An IAM role in the account, assumed from the base credentials; absent: the base credentials.
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$"))]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires.
    #[serde(default)]
    #[schemars(pattern(r"^[A-Za-z0-9_+=,.@:/-]{2,1224}$"))]
    pub external_id: Option<String>,
    /// Per-target values for `${target:values.KEY}`.
    #[serde(default)]
    pub values: BTreeMap<String, Scalar>,
}

/// A Target document, checked on its own; each of its regions becomes a [`Target`].
#[derive(Debug, Clone)]
pub(super) struct TargetDoc {
    /// The document's target, without a region.
    pub target: Target,
    pub regions: Vec<(String, Pos)>,
    pub file: String,
    pub pos: Pos,
}

impl TargetDoc {
    fn subject(&self) -> String {
        format!("{KIND}/{}", self.target.name)
    }
}

/// Reads a Target document's spec, with its name and labels from metadata.
pub(super) fn read_target(
    (name, name_pos): (String, Pos),
    labels: BTreeMap<String, String>,
    spec: &Node,
    (file, pos): (&str, Pos),
    subject: &str,
    mut diags: Vec<Diagnostic>,
) -> Result<TargetDoc, Vec<Diagnostic>> {
    if let Some(msg) = name_problem(&name) {
        diags.push(diag(file, name_pos, subject, msg));
    }
    let s: TargetSpec = match yaml::from_node(spec) {
        Ok(s) => s,
        Err(e) => {
            let at = e.pos.unwrap_or(spec.pos);
            diags.push(diag(file, at, subject, explain(spec, at, &e.message)));
            return Err(diags);
        }
    };
    let at = |field: &str| spec.get(field).map_or(spec.pos, |n| n.pos);
    let mut problem = |field: &str, msg: String| diags.push(diag(file, at(field), subject, msg));
    if let Some(msg) = account_id_problem(spec.get("accountId"), &s.account_id) {
        problem("accountId", msg);
    }
    if let Some(arn) = &s.role_arn {
        match role_account(arn) {
            None => problem(
                "roleArn",
                format!(
                    "roleArn must be an IAM role ARN, such as arn:aws:iam::{}:role/vigil-monitoring, not `{arn}`",
                    s.account_id
                ),
            ),
            Some(acct) if acct != s.account_id => problem(
                "roleArn",
                format!(
                    "roleArn is a role in account {acct}, but accountId is {}; vigil acts in accountId through the role, so name a role in that account (or fix accountId)",
                    s.account_id
                ),
            ),
            Some(_) => {}
        }
    }
    if let Some(x) = s.external_id.as_deref().filter(|x| !external_id_ok(x)) {
        problem(
            "externalId",
            format!(
                "externalId must be 2 to 1224 characters of letters, digits and _+=,.@:/-, not `{x}`"
            ),
        );
    }
    let regions = read_regions(spec, &s.regions, file, subject, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let target = Target {
        name,
        region: None,
        account_id: Some(s.account_id),
        role_arn: s.role_arn,
        external_id: s.external_id,
        labels,
        values: s.values.into_iter().map(|(k, v)| (k, v.0)).collect(),
        declared: true,
    };
    Ok(TargetDoc {
        target,
        regions,
        file: file.to_string(),
        pos,
    })
}

/// A Target's name ends up in `name/region` keys and in the role session name `vigil-NAME`.
fn name_problem(name: &str) -> Option<String> {
    let ok = name.len() <= 58
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!ok).then(|| format!(
        "metadata.name `{name}`: a Target name is part of target keys (NAME/REGION) and role session names (vigil-NAME), so use up to 58 letters, digits, -, _ and ."
    ))
}

/// The regions with where each is written; an empty list, a name that is not a
/// region's, and a repeat are errors.
fn read_regions(
    spec: &Node,
    regions: &[String],
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, Pos)> {
    let list = spec.get("regions");
    let pos_of = |i: usize| match list.map(|l| &l.value) {
        Some(Value::Seq(items)) => items.get(i).map_or(spec.pos, |n| n.pos),
        _ => spec.pos,
    };
    if regions.is_empty() {
        let at = list.map_or(spec.pos, |l| l.pos);
        diags.push(diag(
            file,
            at,
            subject,
            "regions is empty; list the regions vigil manages in this account, such as [us-east-1]",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        if !is_region(r) {
            diags.push(diag(file, pos_of(i), subject, format!(
                "regions[{i}]: `{r}` is not a region name; write it like us-east-1, ap-southeast-2 or us-gov-west-1"
            )));
        } else if !seen.insert(r.as_str()) {
            diags.push(diag(
                file,
                pos_of(i),
                subject,
                format!("regions[{i}]: {r} is listed twice; list each region once"),
            ));
        } else {
            out.push((r.clone(), pos_of(i)));
        }
    }
    out
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`: a two-letter area, words, a number.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let (Some(last), Some(first)) = (parts.last(), parts.first()) else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && parts[..parts.len() - 1].iter().all(word)
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The account of `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, if `arn` is one.
fn role_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let ok = arn_ == "arn"
        && partition.starts_with("aws")
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|n| {
            !n.is_empty() && !n.ends_with('/') && !n.contains(char::is_whitespace)
        });
    ok.then_some(account)
}

/// What IAM accepts as an external id.
fn external_id_ok(s: &str) -> bool {
    (2..=1224).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
}

/// The text of a scalar; numbers and booleans as written.
fn scalar(node: &Node) -> Option<String> {
    match (&node.value, &node.raw) {
        (Value::Str(s), _) => Some(s.clone()),
        (Value::Bool(_) | Value::Int(_) | Value::Float(_), Some(raw)) => Some(raw.clone()),
        _ => None,
    }
}

/// A Target's `metadata.labels`: names to scalar values.
pub(super) fn read_labels(
    node: &Node,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        diags.push(diag(
            file,
            node.pos,
            subject,
            "metadata.labels must be a mapping of names to values, such as {env: prod}",
        ));
        return out;
    };
    for (k, v) in entries {
        let key = scalar(k).unwrap_or_default();
        if key.is_empty() || key.contains('=') {
            diags.push(diag(file, k.pos, subject, format!(
                "metadata.labels: `{key}` cannot be a label name: selectors read key=value, so write a name without `=`"
            )));
        } else if let Some(value) = scalar(v) {
            out.insert(key, value);
        } else {
            diags.push(diag(
                file,
                v.pos,
                subject,
                format!(
                    "metadata.labels.{key} must be a string, number or true/false, not {}",
                    v.type_name()
                ),
            ));
        }
    }
    out
}

/// `metadata.targets`, where it is written and where each entry is.
pub(super) type Selected = (Vec<Selector>, Pos, Vec<Pos>);

/// A resource's `metadata.targets`: a non-empty list of Target names and `key=value` labels.
pub(super) fn read_selectors(
    node: &Node,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Selected> {
    let Value::Seq(items) = &node.value else {
        diags.push(diag(file, node.pos, subject, "metadata.targets must be a list of Target names or key=value labels, such as [prod-eu, env=prod]"));
        return None;
    };
    if items.is_empty() {
        diags.push(diag(file, node.pos, subject, "metadata.targets is empty, so the resource would apply nowhere; list Target names or key=value labels, or remove it to apply to every target"));
        return None;
    }
    let (mut selectors, mut positions) = (Vec::new(), Vec::new());
    for (i, item) in items.iter().enumerate() {
        match scalar(item).filter(|s| !s.is_empty() && !s.starts_with('=')) {
            Some(text) => {
                selectors.push(Selector::parse(&text));
                positions.push(item.pos);
            }
            None => diags.push(diag(
                file,
                item.pos,
                subject,
                format!(
                    "metadata.targets[{i}] must be a Target name or a key=value label, not {}",
                    scalar(item).map_or(item.type_name().to_string(), |s| format!("`{s}`"))
                ),
            )),
        }
    }
    (!selectors.is_empty()).then_some((selectors, node.pos, positions))
}

/// The Target documents with a unique name, in declaration order; a repeated
/// name, or an (account, region) another Target already has, is an error.
pub(super) fn unique(docs: Vec<TargetDoc>, diags: &mut Vec<Diagnostic>) -> Vec<TargetDoc> {
    let mut names: HashMap<String, (String, Pos)> = HashMap::new();
    let mut pairs: HashMap<(String, String), (String, String, Pos)> = HashMap::new();
    let mut kept = Vec::new();
    for d in docs {
        let subject = d.subject();
        if let Some((file, pos)) = names.get(&d.target.name) {
            diags.push(diag(&d.file, d.pos, &subject, format!(
                "duplicate: {subject} is also declared at {file}:{pos}; (kind, metadata.name) must be unique, so rename or remove one"
            )));
            continue;
        }
        names.insert(d.target.name.clone(), (d.file.clone(), d.pos));
        let account = d.target.account_id.clone().unwrap_or_default();
        for (region, pos) in &d.regions {
            let key = (account.clone(), region.clone());
            if let Some((first, file, at)) = pairs.get(&key) {
                diags.push(diag(&d.file, *pos, &subject, format!(
                    "account {account} in {region} is already a target of Target/{first} (at {file}:{at}); an (account, region) belongs to one Target, so remove {region} from one of them"
                )));
            } else {
                pairs.insert(key, (d.target.name.clone(), d.file.clone(), *pos));
            }
        }
        kept.push(d);
    }
    kept
}

/// One [`Target`] per region of each document, in declaration order.
pub(super) fn expand(docs: &[TargetDoc]) -> Vec<Target> {
    docs.iter()
        .flat_map(|d| {
            d.regions.iter().map(|(region, _)| Target {
                region: Some(region.clone()),
                ..d.target.clone()
            })
        })
        .collect()
}

/// With Target documents, the account and region come from each Target, not Settings.
pub(super) fn check_settings(s: &SettingsDoc, diags: &mut Vec<Diagnostic>) {
    for (field, pos) in &s.per_target {
        diags.push(diag(&s.file, *pos, &s.subject, format!(
            "with Target documents, each Target names its account and regions; remove Settings.{field}"
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_named_by_document_and_region() {
        let mut t = Target::implicit(Some("eu-west-1".into()), None);
        assert_eq!(t.key(), "default");
        t.name = "prod".into();
        t.declared = true;
        assert_eq!(t.key(), "prod/eu-west-1");
        assert!(t.matches("prod") && t.matches("prod/eu-west-1"));
        assert!(!t.matches("prod/us-east-1"));
    }

    fn prod() -> Target {
        let mut t = Target::implicit(Some("eu-west-1".into()), Some("111111111111".into()));
        t.name = "prod".into();
        t.declared = true;
        t.labels.insert("env".into(), "prod".into());
        t.values.insert("instanceId".into(), "i-0abc".into());
        t.values.insert("odd".into(), "a${b}".into());
        t
    }

    #[test]
    fn selectors_match_names_and_labels() {
        let t = prod();
        assert!(Selector::parse("prod").matches(&t));
        assert!(Selector::parse("env=prod").matches(&t));
        assert!(!Selector::parse("env=dev").matches(&t));
        assert!(!Selector::parse("staging").matches(&t));
        assert_eq!(Selector::parse("env=prod").to_string(), "env=prod");
    }

    #[test]
    fn substitution_keeps_other_references_and_escapes() {
        let t = prod();
        let sub = |s: &str| substitute_str(s, &t);
        assert_eq!(sub("plain $5"), None);
        assert_eq!(sub("${Topic/a.arn}"), None);
        assert_eq!(sub("${target:name}").as_deref(), Some("prod"));
        assert_eq!(
            sub("${target:values.instanceId}/${aws:region}/${Topic/a.arn}").as_deref(),
            Some("i-0abc/${aws:region}/${Topic/a.arn}")
        );
        // Escapes stay escapes; a literal `${` in a value comes out escaped.
        assert_eq!(
            sub("$${lit}-${target:name}-$${aws:x}").as_deref(),
            Some("$${lit}-prod-$${aws:x}")
        );
        assert_eq!(sub("${target:values.odd}").as_deref(), Some("a$${b}"));
        // Escaped target expressions are text, not references.
        assert_eq!(sub("$${target:name}"), None);
        // A value the target lacks is left for the engine, which reports it.
        assert_eq!(sub("${target:values.nope}"), None);
        let out = sub("x${target:name}${target:values.nope}").unwrap();
        assert_eq!(out, "xprod${target:values.nope}");
        for s in ["$${lit}-${target:name}-$${aws:x}", "${target:values.odd}"] {
            let resolved = refs::substitute(&sub(s).unwrap(), &|_| None);
            assert!(!resolved.contains(refs::UNKNOWN), "{s}: {resolved}");
        }
    }

    #[test]
    fn json_substitution_reports_no_change_as_none() {
        let t = prod();
        let v = serde_json::json!({"a": ["x", {"b": "${target:name}"}], "c": 1});
        let out = substitute_json(&v, &t).unwrap();
        assert_eq!(out, serde_json::json!({"a": ["x", {"b": "prod"}], "c": 1}));
        assert_eq!(
            substitute_json(&serde_json::json!({"a": "${aws:region}"}), &t),
            None
        );
    }

    #[test]
    fn field_rules() {
        for ok in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "us-east",
            "useast-1",
            "US-EAST-1",
            "us--1",
            "eu-west-1a",
            "-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        assert_eq!(
            role_account("arn:aws:iam::111111111111:role/ops/vigil"),
            Some("111111111111")
        );
        assert_eq!(
            role_account("arn:aws-us-gov:iam::111111111111:role/v"),
            Some("111111111111")
        );
        for bad in [
            "arn:aws:iam::111111111111:user/v",
            "arn:aws:iam::1111:role/v",
            "arn:aws:sts::111111111111:role/v",
            "arn:aws:iam::111111111111:role/",
        ] {
            assert_eq!(role_account(bad), None, "{bad}");
        }
        assert!(external_id_ok("vigil:prod/eu@x=1,y+z_-."));
        assert!(!external_id_ok("x"));
        assert!(!external_id_ok("has space"));
        assert!(!external_id_ok(&"x".repeat(1225)));
        assert!(name_problem("prod-eu_1.x").is_none());
        assert!(name_problem("prod/eu").is_some());
        assert!(name_problem("env=prod").is_some());
    }
}
