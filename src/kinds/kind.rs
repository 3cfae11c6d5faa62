//! What a kind is: the [`Kind`] trait, and the plain data that passes between
//! a kind and the engine (attributes, validation issues, observed state).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AnyLive;
use super::error::KindError;
pub use super::issues::{Issues, field_name, parse_path};
use super::tags::{TagApi, Tags};
use crate::aws::{Aws, Env};
use crate::diff::FieldDiff;
use crate::input::Root;

/// Attributes a reference may read, such as `arn` or `outputs.KEY`, sorted by
/// name. A short list rather than a BTreeMap: most resources have two, and a
/// BTreeMap allocates a node for eleven (half a kilobyte) per resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(Vec<(String, String)>);

impl Attrs {
    pub fn new() -> Attrs {
        Attrs::default()
    }

    /// The `arn` and `name` most kinds expose.
    pub fn arn_and_name(arn: &str, name: &str) -> Attrs {
        Attrs::from([
            ("arn".to_string(), arn.to_string()),
            ("name".to_string(), name.to_string()),
        ])
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

/// What the engine tells a kind's apply beyond the spec: the manifest's
/// annotations, and the planner's diff.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyOptions {
    /// `vigil/recreate-on-rollback`: a stack stuck in ROLLBACK_COMPLETE is deleted and created again.
    pub recreate_on_rollback: bool,
    /// The fields the planner found different (on a create, every field).
    pub fields: Vec<FieldDiff>,
}

/// What one resource looks like live, with the kind's own detail kept for apply.
#[derive(Clone)]
pub struct Observed {
    pub attrs: Attrs,
    /// The live resource as a spec, for import (null unless every resource was wanted).
    pub spec: Value,
    /// What the live resource says about who owns it.
    pub owner: LiveOwner,
    /// Facts worth telling the user.
    pub notes: Vec<String>,
    /// Subscriptions waiting for someone to confirm them (`protocol:endpoint`).
    pub pending: Vec<String>,
    /// The kind's own view of it, typed.
    pub live: Arc<AnyLive>,
}

/// The owner a live resource names, from its `vigil:owner` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveOwner {
    /// AWS cannot tag the kind: the inventory is the record of ownership.
    Untaggable,
    /// Its tags were read, and none is `vigil:owner`.
    Untagged,
    /// The value of its `vigil:owner` tag.
    Tagged(String),
}

impl Observed {
    /// Normalized, in the same shape as the desired state.
    pub fn state(&self, env: &Env) -> Value {
        self.live.state(env)
    }

    /// A live resource given as its normalized state, for tests of the engine
    /// that need no AWS: `state` is returned as it is.
    #[cfg(any(test, feature = "testkit"))]
    pub fn plain(state: Value, attrs: Attrs, owner: LiveOwner) -> Observed {
        Observed {
            attrs,
            spec: Value::Null,
            owner,
            notes: Vec::new(),
            pending: Vec::new(),
            live: Arc::new(AnyLive::Plain(state)),
        }
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
    /// Return every resource of the kind, declared or not (import).
    pub all: bool,
    /// How many resources of the kind the account held when last listed in
    /// full, to choose between reading by name and one walk of everything.
    pub population: Option<usize>,
    /// Names the inventory lists: a batched tag read that shows one of them
    /// without an owner tag is confirmed with one call, as the Tagging API can
    /// lag behind a create.
    pub inventoried: BTreeSet<String>,
    /// The state last applied, for inventoried names: how a kind that AWS
    /// gives no name (anomaly detectors) finds an undeclared one to prune.
    pub applied: BTreeMap<String, Arc<Value>>,
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

    pub fn contains(&self, name: &str) -> bool {
        self.all || self.specs.contains_key(name)
    }

    /// The spec as written, or null when the resource is not declared.
    pub fn spec(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.specs.get(name).map_or(&NULL, |v| v)
    }
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

    /// Inlines files the spec points at (such as `bodyFile`), relative to the
    /// manifest's directory `base`; each is read through [`Root::read_reference`].
    fn load_files(_spec: &mut Value, _base: &Path, _root: &Root) -> Result<(), (String, String)> {
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

    /// Subscriptions that wait for someone to confirm them (`protocol:endpoint`).
    fn pending(_live: &Self::Live) -> Vec<String> {
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
    ) -> impl Future<Output = Result<BTreeMap<String, Self::Live>, KindError>> + Send;

    /// How many resources of the kind the account holds, when observe learned it
    /// for free (one list walk): it decides how tags are read in batches.
    fn listed(_aws: &Aws) -> Option<usize> {
        None
    }

    /// The live resource written back as a spec, for `vigil import`.
    fn to_spec(live: &Self::Live) -> Self::Spec;

    /// How AWS tags this kind: `None` when it cannot (the inventory is the
    /// record of ownership). Reading, owner detection, validation and the sync
    /// of an update all follow from this, in [`super::tags`].
    const TAGS: Option<TagApi> = None;

    /// Whether vigil tags this resource: X-Ray's `Default` sampling rule is AWS's,
    /// so vigil never tags it and ownership comes from the inventory.
    fn tagged(_name: &str) -> bool {
        true
    }

    /// Whether a live state is what the kind's create call alone leaves, for a
    /// kind whose create takes several calls, its tags not among the first: a
    /// crash between them leaves such a resource, and it is what vigil was
    /// creating as far as the create got. Kinds that create in one call never
    /// leave one.
    fn bare(_live: &Value) -> bool {
        false
    }

    /// The identifier the tag API takes: an ARN, or a name (IAM).
    fn tag_id(_name: &str, _live: &Self::Live) -> String {
        String::new()
    }

    /// The tags as observed, the owner tag included; `None` until they were read.
    fn live_tags(_live: &Self::Live) -> Option<&Tags> {
        None
    }

    /// Stores the tags the engine read for this resource.
    fn set_live_tags(_live: &mut Self::Live, _tags: Tags) {}

    /// The tags the manifest declares; `None` when it leaves tags unmanaged.
    fn spec_tags(_spec: &Self::Spec) -> Option<&Tags> {
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
    ) -> impl Future<Output = Result<Option<Vec<FieldDiff>>, KindError>> + Send {
        async { Ok(Some(Vec::new())) }
    }

    /// A second step run after every resource has been applied, in dependency
    /// order, for resources this run applied. The Config recorder starts
    /// recording here, once its delivery channel exists.
    fn finalize(
        _aws: &Aws,
        _name: &str,
        _spec: &Self::Spec,
    ) -> impl Future<Output = Result<(), KindError>> + Send {
        async { Ok(()) }
    }

    /// Creates or updates; returns the attributes of the result. Creates carry
    /// the tags (the owner tag with them); on an update the engine syncs tags
    /// afterwards through [`Kind::TAGS`].
    fn apply(
        aws: &Aws,
        name: &str,
        spec: &Self::Spec,
        live: Option<&Self::Live>,
    ) -> impl Future<Output = Result<Attrs, KindError>> + Send;

    /// [`Kind::apply`] for kinds whose apply depends on an annotation, such as
    /// `vigil/recreate-on-rollback` for stacks. The engine calls this one.
    fn apply_annotated(
        aws: &Aws,
        name: &str,
        spec: &Self::Spec,
        live: Option<&Self::Live>,
        _opts: &ApplyOptions,
    ) -> impl Future<Output = Result<Attrs, KindError>> + Send {
        Self::apply(aws, name, spec, live)
    }

    fn delete(
        aws: &Aws,
        name: &str,
        live: &Self::Live,
    ) -> impl Future<Output = Result<(), KindError>> + Send;
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

/// The AWS Config names: not blank, at most `max` characters, no control
/// characters (`what` is the resource, as in "rule names cannot ...").
pub fn check_plain_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be blank".into());
    }
    check_no_control(name, max, what)
}

/// At most `max` characters, no control characters.
pub fn check_no_control(name: &str, max: usize, what: &str) -> Result<(), String> {
    check_name(
        name,
        max,
        |c| !c.is_control(),
        &format!("{what} names cannot contain control characters"),
    )
}
