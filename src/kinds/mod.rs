//! The kinds vigil manages. This file is the one place that lists them: adding a
//! kind is a module implementing [`Kind`], its `pub mod` line, and one line in `kinds!`.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::aws::{Aws, AwsError, Env};
use crate::diff::FieldDiff;
use crate::manifest::yaml::{self, Node, Pos, Seg};

/// Attributes a reference may read, such as `arn` or `outputs.KEY`, sorted by
/// name. A short list rather than a BTreeMap: most resources have two, and a
/// BTreeMap allocates a node for eleven (half a kilobyte) per resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(Vec<(String, String)>);

impl Attrs {
    pub fn new() -> Attrs {
        Attrs::default()
    }

    pub fn get(&self, name: &str) -> Option<&String> {
        let i = self
            .0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()?;
        Some(&self.0[i].1)
    }

    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        match self.0.binary_search_by(|(k, _)| k.cmp(&name)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut String) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, String)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Attrs {
        let mut a = Attrs::new();
        a.extend(iter);
        a
    }
}

impl Extend<(String, String)> for Attrs {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for Attrs {
    fn from(pairs: [(String, String); N]) -> Attrs {
        pairs.into_iter().collect()
    }
}

impl std::ops::Index<&str> for Attrs {
    type Output = String;
    /// Panics when the attribute is missing, like a map's index.
    fn index(&self, name: &str) -> &String {
        self.get(name)
            .unwrap_or_else(|| panic!("no attribute `{name}`"))
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// Validation findings, each at a path inside the spec.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<(Vec<Seg>, String)>);

impl Issues {
    /// Records `message` at `path`, written like `metrics[0].id`.
    pub fn at(&mut self, path: &str, message: impl Into<String>) {
        self.0.push((parse_path(path), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                segs.push(Seg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').unwrap_or(r.len());
                if let Ok(n) = r[..end].parse() {
                    segs.push(Seg::Index(n));
                }
                rest = r.get(end + 1..).unwrap_or("");
            }
        } else {
            segs.push(Seg::Key(rest.to_string()));
        }
    }
    segs
}

/// What one resource looks like live, with the kind's own detail kept for apply.
#[derive(Clone)]
pub struct Observed {
    pub attrs: Attrs,
    /// The live resource as a spec, for import (null unless every resource was wanted).
    pub spec: Value,
    pub owner: Option<String>,
    /// Facts worth telling the user, such as a pending subscription.
    pub notes: Vec<String>,
    pub detail: Arc<dyn Any + Send + Sync>,
    /// Derives the normalized state from `detail`. It is built when compared and
    /// then dropped: kept for thousands of resources, it was most of the peak memory.
    state_of: fn(&Observed, &Env) -> Value,
}

impl Observed {
    /// Normalized, in the same shape as the desired state.
    pub fn state(&self, env: &Env) -> Value {
        (self.state_of)(self, env)
    }
}

impl Debug for Observed {
    // The kind's own detail is opaque.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("attrs", &self.attrs)
            .field("notes", &self.notes)
            .finish()
    }
}

/// Which resources an observe should return.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// Declared resources: name to spec as written (references unresolved),
    /// shared with the manifests rather than copied.
    pub specs: BTreeMap<String, Arc<Value>>,
    /// Return every resource of the kind, declared or not (import, prune).
    pub all: bool,
    /// Declared names vigil has no record of: kinds that read ownership lazily
    /// (alarm tags cost a call each) must read it for these.
    pub unowned: std::collections::BTreeSet<String>,
}

impl Wanted {
    pub fn names(specs: BTreeMap<String, Value>) -> Self {
        Wanted {
            specs: specs.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            ..Wanted::default()
        }
    }

    pub fn everything() -> Self {
        Wanted {
            all: true,
            ..Wanted::default()
        }
    }

    /// Whether ownership (tags) must be read for `name`.
    pub fn needs_owner(&self, name: &str) -> bool {
        self.all || self.unowned.contains(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.all || self.specs.contains_key(name)
    }

    /// The spec as written, or null when the resource is not declared.
    pub fn spec(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.specs.get(name).map_or(&NULL, |v| v)
    }
}

/// Per-run memo of list calls that several kinds share (one DescribeAlarms walk for both alarm kinds).
#[derive(Debug, Default)]
pub struct ObserveCache {
    pub alarms: tokio::sync::OnceCell<Result<Arc<metric_alarm::AlarmPages>, AwsError>>,
}

/// One kind of AWS resource.
pub trait Kind: Send + Sync + 'static {
    const NAME: &'static str;
    /// The manifest's `spec`, mirroring the AWS API input in lowerCamelCase.
    /// Its JSON Schema (`vigil schema`) is generated from this type, so it cannot drift from the loader.
    type Spec: DeserializeOwned + Serialize + Clone + Debug + Send + Sync + schemars::JsonSchema;
    /// What observe learned about one live resource.
    type Live: Send + Sync + 'static;
    /// Attributes that `${Kind/name.attr}` may read.
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name"];
    /// Top-level fields compared and shown as whole documents (JSON bodies).
    const DOCUMENT_FIELDS: &'static [&'static str] = &[];
    /// Whether deleting needs `vigil/deletion-policy: delete` to happen.
    const RETAIN_BY_DEFAULT: bool = false;

    fn validate_name(name: &str) -> Result<(), String>;

    /// Checks what AWS would reject, beyond types.
    fn validate(spec: &Self::Spec, issues: &mut Issues);

    /// Checks that depend on the name as well, such as a reserved name that
    /// allows fewer fields (X-Ray's `Default` sampling rule).
    fn validate_named(_name: &str, spec: &Self::Spec, issues: &mut Issues) {
        Self::validate(spec, issues);
    }

    /// Inlines files the spec points at (such as `bodyFile`), relative to the manifest.
    fn load_files(_spec: &mut Value, _base: &Path) -> Result<(), (String, String)> {
        Ok(())
    }

    /// The canonical desired state; defaults filled in, order-free parts sorted.
    fn normalize(spec: &Self::Spec, env: &Env) -> Value;

    /// The canonical live state, in the same shape as [`Kind::normalize`].
    fn live_state(live: &Self::Live, env: &Env) -> Value;

    fn attributes(live: &Self::Live) -> Attrs;

    fn notes(_live: &Self::Live) -> Vec<String> {
        Vec::new()
    }

    /// Field-level differences; pure.
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        crate::diff::diff(desired, live, Self::DOCUMENT_FIELDS)
    }

    /// Reads the live state of the wanted resources in as few calls as the APIs allow.
    fn observe(
        aws: &Aws,
        wanted: &Wanted,
    ) -> impl Future<Output = Result<BTreeMap<String, Self::Live>, AwsError>> + Send;

    /// The live resource written back as a spec, for `vigil import`.
    fn to_spec(live: &Self::Live) -> Self::Spec;

    /// The `vigil:owner` tag, for kinds that can carry tags and were observed with them.
    fn owner(_live: &Self::Live) -> Option<&str> {
        None
    }

    /// Checks that need AWS but change nothing (IAM GetPolicy, ValidateTemplate);
    /// run by `vigil validate` only when credentials are available.
    fn remote_validate(_aws: &Aws, _spec: &Self::Spec) -> impl Future<Output = Issues> + Send {
        async { Issues::default() }
    }

    /// Extra detail for a planned change that only AWS can compute, such as the
    /// resource changes of a CloudFormation change set. Dry runs only.
    /// `None` means AWS says nothing would change after all.
    fn explain(
        _aws: &Aws,
        _name: &str,
        _spec: &Self::Spec,
        _live: Option<&Self::Live>,
    ) -> impl Future<Output = Result<Option<Vec<FieldDiff>>, AwsError>> + Send {
        async { Ok(Some(Vec::new())) }
    }

    /// A second step run after every resource has been applied, in dependency
    /// order, for resources this run applied. The Config recorder starts
    /// recording here, once its delivery channel exists.
    fn finalize(
        _aws: &Aws,
        _name: &str,
        _spec: &Self::Spec,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        async { Ok(()) }
    }

    /// Creates or updates; returns the attributes of the result.
    fn apply(
        aws: &Aws,
        name: &str,
        spec: &Self::Spec,
        live: Option<&Self::Live>,
    ) -> impl Future<Output = Result<Attrs, AwsError>> + Send;

    /// [`Kind::apply`] for kinds whose apply depends on an annotation, such as
    /// `vigil/recreate-on-rollback` for stacks. The engine calls this one.
    fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Self::Spec,
        live: Option<&Self::Live>,
        _annotations: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Attrs, AwsError>> + Send {
        Self::apply(aws, name, spec, live)
    }

    fn delete(
        aws: &Aws,
        name: &str,
        live: &Self::Live,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A type-checked spec, or located problems.
pub type CheckResult = Result<Value, Vec<(Pos, String)>>;

fn check<K: Kind>(name: &str, node: &Node, base: &Path) -> CheckResult {
    let mut errors = Vec::new();
    if let Err(msg) = K::validate_name(name) {
        errors.push((Pos::default(), format!("metadata.name: {msg}")));
    }
    let spec: K::Spec = match yaml::from_node(node) {
        Ok(s) => s,
        Err(e) => {
            errors.push((e.pos.unwrap_or(node.pos), e.message));
            return Err(errors);
        }
    };
    let mut issues = Issues::default();
    K::validate_named(name, &spec, &mut issues);
    for (path, msg) in issues.0 {
        errors.push((node.locate(&path).pos, msg));
    }
    let mut json = node.to_json().map_err(|e| vec![e])?;
    if let Err((field, msg)) = K::load_files(&mut json, base) {
        let pos = node.get(&field).map_or(node.pos, |n| n.pos);
        errors.push((pos, msg));
    }
    if errors.is_empty() {
        Ok(json)
    } else {
        Err(errors)
    }
}

fn spec_from<K: Kind>(spec: &Value) -> Result<K::Spec, String> {
    // Deserialized from the borrowed tree: no copy of the whole spec first.
    <K::Spec as serde::Deserialize>::deserialize(spec)
        .map_err(|e| format!("{} spec after resolving references: {e}", K::NAME))
}

fn normalize<K: Kind>(spec: &Value, env: &Env) -> Result<Value, String> {
    Ok(K::normalize(&spec_from::<K>(spec)?, env))
}

async fn observe<K: Kind>(
    aws: &Aws,
    wanted: &Wanted,
) -> Result<BTreeMap<String, Observed>, AwsError> {
    let live = K::observe(aws, wanted).await?;
    Ok(live
        .into_iter()
        .map(|(name, l)| {
            let obs = Observed {
                state_of: state_of::<K>,
                attrs: K::attributes(&l),
                // Only import reads it; skip the work (and memory) everywhere else.
                spec: if wanted.all {
                    serde_json::to_value(K::to_spec(&l)).expect("specs serialize")
                } else {
                    Value::Null
                },
                owner: K::owner(&l).map(str::to_string),
                notes: K::notes(&l),
                detail: Arc::new(l),
            };
            (name, obs)
        })
        .collect())
}

fn state_of<K: Kind>(obs: &Observed, env: &Env) -> Value {
    K::live_state(detail::<K>(obs), env)
}

fn detail<K: Kind>(obs: &Observed) -> &K::Live {
    obs.detail
        .downcast_ref::<K::Live>()
        .expect("observed detail matches its kind")
}

async fn apply<K: Kind>(
    aws: &Aws,
    name: &str,
    spec: &Value,
    live: Option<&Observed>,
    annotations: &BTreeMap<String, String>,
) -> Result<Attrs, AwsError> {
    let spec = spec_from::<K>(spec).map_err(|m| AwsError::other("vigil", "Apply", m))?;
    K::apply_annotated(aws, name, &spec, live.map(detail::<K>), annotations).await
}

async fn remote_validate<K: Kind>(aws: &Aws, spec: &Value) -> Issues {
    match spec_from::<K>(spec) {
        Ok(s) => K::remote_validate(aws, &s).await,
        Err(_) => Issues::default(),
    }
}

async fn explain<K: Kind>(
    aws: &Aws,
    name: &str,
    spec: &Value,
    live: Option<&Observed>,
) -> Result<Option<Vec<FieldDiff>>, AwsError> {
    let spec = spec_from::<K>(spec).map_err(|m| AwsError::other("vigil", "Explain", m))?;
    K::explain(aws, name, &spec, live.map(detail::<K>)).await
}

async fn finalize<K: Kind>(aws: &Aws, name: &str, spec: &Value) -> Result<(), AwsError> {
    let spec = spec_from::<K>(spec).map_err(|m| AwsError::other("vigil", "Finalize", m))?;
    K::finalize(aws, name, &spec).await
}

async fn delete<K: Kind>(aws: &Aws, name: &str, live: &Observed) -> Result<(), AwsError> {
    K::delete(aws, name, detail::<K>(live)).await
}

macro_rules! kinds {
    ($($variant:ident => $module:ident),* $(,)?) => {
        /// Every kind, in the order used to break ties when sorting.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum KindId { $($variant),* }

        impl KindId {
            pub const ALL: &'static [KindId] = &[$(KindId::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(KindId::$variant => <$module::$variant as Kind>::NAME),* }
            }

            pub fn parse(s: &str) -> Option<KindId> {
                Self::ALL.iter().copied().find(|k| k.name() == s)
            }

            pub fn attribute_ok(self, attr: &str) -> bool {
                match self { $(KindId::$variant => <$module::$variant as Kind>::ATTRIBUTES.iter().any(|a| {
                    *a == attr || (a.ends_with(".*") && attr.starts_with(&a[..a.len() - 1]) && attr.len() > a.len() - 1)
                })),* }
            }

            pub fn attributes(self) -> &'static [&'static str] {
                match self { $(KindId::$variant => <$module::$variant as Kind>::ATTRIBUTES),* }
            }

            /// The JSON Schema of the kind's spec, from its Rust type.
            pub fn spec_schema(self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match self { $(KindId::$variant => generator.subschema_for::<<$module::$variant as Kind>::Spec>()),* }
            }

            pub fn retain_by_default(self) -> bool {
                match self { $(KindId::$variant => <$module::$variant as Kind>::RETAIN_BY_DEFAULT),* }
            }

            pub fn check(self, name: &str, node: &Node, base: &Path) -> CheckResult {
                match self { $(KindId::$variant => check::<$module::$variant>(name, node, base)),* }
            }

            pub fn normalize(self, spec: &Value, env: &Env) -> Result<Value, String> {
                match self { $(KindId::$variant => normalize::<$module::$variant>(spec, env)),* }
            }

            /// Tags read only to learn the owner are compared only where the manifest manages tags.
            pub fn diff(self, desired: &Value, live: &Value) -> Vec<FieldDiff> {
                let untagged;
                let live = if desired.get("tags").is_none() && live.get("tags").is_some() {
                    let mut l = live.clone();
                    if let Some(m) = l.as_object_mut() {
                        m.remove("tags");
                    }
                    untagged = l;
                    &untagged
                } else {
                    live
                };
                match self { $(KindId::$variant => <$module::$variant as Kind>::diff(desired, live)),* }
            }

            pub fn remote_validate<'a>(self, aws: &'a Aws, spec: &'a Value) -> BoxFuture<'a, Issues> {
                match self { $(KindId::$variant => Box::pin(remote_validate::<$module::$variant>(aws, spec))),* }
            }

            pub fn explain<'a>(self, aws: &'a Aws, name: &'a str, spec: &'a Value, live: Option<&'a Observed>) -> BoxFuture<'a, Result<Option<Vec<FieldDiff>>, AwsError>> {
                match self { $(KindId::$variant => Box::pin(explain::<$module::$variant>(aws, name, spec, live))),* }
            }

            pub fn finalize<'a>(self, aws: &'a Aws, name: &'a str, spec: &'a Value) -> BoxFuture<'a, Result<(), AwsError>> {
                match self { $(KindId::$variant => Box::pin(finalize::<$module::$variant>(aws, name, spec))),* }
            }

            pub fn observe<'a>(self, aws: &'a Aws, wanted: &'a Wanted) -> BoxFuture<'a, Result<BTreeMap<String, Observed>, AwsError>> {
                match self { $(KindId::$variant => Box::pin(observe::<$module::$variant>(aws, wanted))),* }
            }

            pub fn apply<'a>(self, aws: &'a Aws, name: &'a str, spec: &'a Value, live: Option<&'a Observed>, annotations: &'a BTreeMap<String, String>) -> BoxFuture<'a, Result<Attrs, AwsError>> {
                match self { $(KindId::$variant => Box::pin(apply::<$module::$variant>(aws, name, spec, live, annotations))),* }
            }

            pub fn delete<'a>(self, aws: &'a Aws, name: &'a str, live: &'a Observed) -> BoxFuture<'a, Result<(), AwsError>> {
                match self { $(KindId::$variant => Box::pin(delete::<$module::$variant>(aws, name, live))),* }
            }
        }
    };
}

// Declared outside the macro so that rustfmt and IDEs see them.
pub mod agent_config;
pub mod bucket;
pub mod composite_alarm;
pub mod config_recorder;
pub mod config_rule;
pub mod dashboard;
pub mod delivery_channel;
pub mod log_group;
pub mod metric_alarm;
pub mod metric_filter;
pub mod query_definition;
pub mod role;
pub mod sampling_rule;
pub mod stack;
pub mod topic;
pub mod xray_group;

kinds! {
    Topic => topic,
    MetricAlarm => metric_alarm,
    CompositeAlarm => composite_alarm,
    Dashboard => dashboard,
    XRayGroup => xray_group,
    SamplingRule => sampling_rule,
    Role => role,
    Bucket => bucket,
    LogGroup => log_group,
    MetricFilter => metric_filter,
    QueryDefinition => query_definition,
    AgentConfig => agent_config,
    ConfigurationRecorder => config_recorder,
    DeliveryChannel => delivery_channel,
    ConfigRule => config_rule,
    Stack => stack,
}

pub mod policy;

impl std::fmt::Display for KindId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tags as a sorted map, plus the owner tag.
pub fn with_owner(tags: &BTreeMap<String, String>, env: &Env) -> BTreeMap<String, String> {
    let mut t = tags.clone();
    if !env.owner.is_empty() {
        t.insert(OWNER_TAG.to_string(), env.owner.clone());
    }
    t
}

/// What to tag and untag to bring `have` to `want`: changed or new pairs, and removed keys.
pub fn tag_delta(
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let add = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    (add, remove)
}

/// The tag that marks what vigil created.
pub const OWNER_TAG: &str = "vigil:owner";

/// The field a path ends with, to name it in a message: `metrics[0].metricStat.stat` is `stat`.
pub fn field_name(path: &str) -> &str {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}

/// Validates `name` against a character set and length, with a helpful message.
pub fn check_name(
    name: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    what: &str,
) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > max {
        return Err(format!("must be 1 to {max} characters long"));
    }
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!("contains {c:?}; {what}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_stay_sorted_and_insert_replaces() {
        let mut a = Attrs::from([
            ("name".to_string(), "n".to_string()),
            ("arn".to_string(), "a".to_string()),
        ]);
        assert_eq!(a.insert("outputs.X".into(), "x".into()), None);
        assert_eq!(a.insert("arn".into(), "b".into()), Some("a".into()));
        let keys: Vec<&String> = a.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["arn", "name", "outputs.X"]);
        assert_eq!(a.get("arn").map(String::as_str), Some("b"));
        assert_eq!(a.get("id"), None);
        a.retain(|k, _| k == "arn");
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("metrics[0].metricStat.period"),
            vec![
                Seg::Key("metrics".into()),
                Seg::Index(0),
                Seg::Key("metricStat".into()),
                Seg::Key("period".into())
            ]
        );
    }

    #[test]
    fn tag_delta_touches_only_the_difference() {
        let m = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (add, remove) = tag_delta(
            &m(&[("a", "1"), ("b", "2")]),
            &m(&[("a", "1"), ("b", "0"), ("c", "3")]),
        );
        assert_eq!(add, m(&[("b", "2")]));
        assert_eq!(remove, vec!["c".to_string()]);
    }

    #[test]
    fn attributes_allow_wildcards() {
        assert!(KindId::Topic.attribute_ok("arn"));
        assert!(!KindId::Topic.attribute_ok("outputs.X"));
    }

    /// What `vigil import` relies on: a live resource written back as a spec
    /// normalizes to exactly its live state, so the imported manifest plans no change.
    fn round_trip<K: Kind>(live: &K::Live) {
        let env = Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "lab".into(),
        };
        let spec = K::to_spec(live);
        // The spec goes through JSON as an imported manifest would.
        let spec: K::Spec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        let diff = KindId::parse(K::NAME)
            .unwrap()
            .diff(&K::normalize(&spec, &env), &K::live_state(live, &env));
        assert!(diff.is_empty(), "{}: {diff:?}", K::NAME);
    }

    #[test]
    fn import_round_trips_for_the_kinds_the_emulator_lacks() {
        let tags = Some(BTreeMap::from([
            ("team".to_string(), "ops".to_string()),
            (OWNER_TAG.to_string(), "lab".to_string()),
        ]));
        round_trip::<query_definition::QueryDefinition>(&query_definition::Live {
            id: "q-1".into(),
            name: "Top Error Messages".into(),
            query_string: "fields @timestamp, @message\n| filter @message like /ERROR/\n| limit 10"
                .into(),
            log_group_names: vec!["/aws/ec2/httpd/error_log".into()],
            query_language: "CWLI".into(),
            duplicates: vec![],
        });
        round_trip::<xray_group::XRayGroup>(&xray_group::Live {
            name: "api".into(),
            arn: "arn:aws:xray:us-east-1:123456789012:group/api/x".into(),
            filter_expression: "service(\"api\")".into(),
            insights_enabled: true,
            notifications_enabled: false,
            tags: tags.clone(),
        });
        round_trip::<sampling_rule::SamplingRule>(&sampling_rule::Live {
            name: "api".into(),
            arn: "arn:aws:xray:us-east-1:123456789012:sampling-rule/api".into(),
            rule: sampling_rule::Rule {
                resource_arn: "*".into(),
                priority: 1000,
                fixed_rate: 0.1,
                reservoir_size: 1,
                service_name: "api".into(),
                service_type: "*".into(),
                host: "*".into(),
                http_method: "*".into(),
                url_path: "/api/*".into(),
                version: 1,
                attributes: BTreeMap::new(),
            },
            tags: tags.clone(),
        });
        round_trip::<composite_alarm::CompositeAlarm>(&composite_alarm::Live {
            name: "Any".into(),
            arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Any".into(),
            spec: composite_alarm::Spec {
                alarm_rule: "ALARM(a) OR ALARM(b)".into(),
                alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:t".into()],
                actions_enabled: Some(true),
                tags: tags.clone(),
                ..Default::default()
            },
        });
    }
}
