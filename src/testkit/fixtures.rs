//! Fixtures of the kinds' unit tests: a kind's observe as its own live values,
//! the diff of a spec against a live value,
//! and a spec from the repository's desired-state/ checked as the loader checks it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::aws::{Aws, Env};
use crate::diff::FieldDiff;
use crate::input::Root;
use crate::kinds::{self, Issues, Kind, KindError, KindId, Wanted};
use crate::yaml::{self, Node};

/// [`observe`] for unit tests: the kind's own live values, tags read.
pub async fn observe_live<K: kinds::Member>(
    aws: &Aws,
    wanted: &Wanted,
) -> Result<BTreeMap<String, K::Live>, KindError>
where
    K::Live: Clone,
{
    Ok(kinds::observe::<K>(aws, wanted)
        .await?
        .found
        .iter()
        .map(|(n, o)| (n.clone(), kinds::detail::<K>(o).clone()))
        .collect())
}

/// The live value of `name` as [`observe_live`] finds it; panics when it is not found.
pub async fn observe_one<K: kinds::Member>(aws: &Aws, wanted: &Wanted, name: &str) -> K::Live
where
    K::Live: Clone,
{
    let mut live = observe_live::<K>(aws, wanted).await.expect("observe");
    live.remove(name)
        .unwrap_or_else(|| panic!("{} {name} not observed", K::NAME))
}

/// The kind's apply as the engine calls it: with the planner's diff of `spec`
/// against `live` (against nothing for a create).
pub async fn apply<K: Kind>(
    aws: &Aws,
    name: &str,
    spec: &K::Spec,
    live: Option<&K::Live>,
) -> Result<kinds::Attrs, KindError> {
    let env = &aws.env;
    let live_state = live.map_or_else(
        || Value::Object(Default::default()),
        |l| K::live_state(l, env),
    );
    let id = KindId::parse(K::NAME).expect("a listed kind");
    let opts = kinds::ApplyOptions {
        fields: id.diff(&K::normalize(spec, env), &live_state),
        ..kinds::ApplyOptions::default()
    };
    kinds::apply_typed::<K>(aws, name, spec, live, &opts).await
}

/// What a run with nothing changed does: asserts that `live` shows no
/// difference from `spec`, then applies `spec` over it (the caller counts the writes).
pub async fn apply_unchanged<K: Kind>(aws: &Aws, name: &str, spec: &K::Spec, live: &K::Live) {
    assert!(diff_of::<K>(spec, live, &aws.env).is_empty());
    apply::<K>(aws, name, spec, Some(live))
        .await
        .expect("apply");
}

/// The kind's own checks of `spec`.
pub fn issues_of<K: Kind>(spec: &K::Spec) -> Issues {
    let mut i = Issues::default();
    K::validate(spec, &mut i);
    i
}

/// The messages of the kind's own checks of `spec`.
pub fn messages<K: Kind>(spec: &K::Spec) -> Vec<String> {
    issues_of::<K>(spec).0.into_iter().map(|(_, m)| m).collect()
}

/// The messages of every check the loader makes of `spec`, the tag rules all
/// kinds share included.
pub fn load_messages<K: Kind>(spec: &K::Spec) -> Vec<String> {
    kinds::validate_typed::<K>("n", spec)
        .0
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

/// The account the unit tests run in (that of [`aws_with`](crate::aws::testing::aws_with)),
/// with this owner.
pub fn env_of(owner: &str) -> Env {
    Env {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        owner: owner.into(),
    }
}

/// The spec of `kind/name` in a file under the repository's desired-state/,
/// checked as the loader checks it. Kind tests use this, not `manifest::load`,
/// because manifest imports kinds.
pub fn desired_state_spec(file: &str, kind: KindId, name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("desired-state")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let docs = yaml::parse_documents(&text).unwrap_or_else(|e| panic!("{file}: {e:?}"));
    let doc = docs
        .iter()
        .find(|d| {
            d.get("kind").and_then(Node::as_str) == Some(kind.name())
                && d.get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Node::as_str)
                    == Some(name)
        })
        .unwrap_or_else(|| panic!("{kind}/{name} is not in {file}"));
    let spec = doc.get("spec").expect("a spec");
    let root = Root::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state"));
    kind.check(name, spec, path.parent().expect("a directory"), &root)
        .unwrap_or_else(|e| panic!("{kind}/{name}: {e:?}"))
}

/// What the planner would change on `live` to reach `spec`: the kind's diff of
/// the normalized spec against the live state.
pub fn diff_of<K: Kind>(spec: &K::Spec, live: &K::Live, env: &Env) -> Vec<FieldDiff> {
    K::diff(&K::normalize(spec, env), &K::live_state(live, env))
}

/// Applies `spec` as the engine does: read into the kind's type once, and
/// given the planner's diff against `live`.
pub async fn apply_as_planned(
    aws: &Aws,
    id: KindId,
    name: &str,
    spec: &Value,
    live: Option<&kinds::Observed>,
) -> Result<kinds::Attrs, KindError> {
    let desired = id.desired(spec, &aws.env)?;
    let live_state = live.map_or_else(|| Value::Object(Default::default()), |l| l.state(&aws.env));
    let opts = kinds::ApplyOptions {
        fields: id.diff(&desired.state, &live_state),
        ..kinds::ApplyOptions::default()
    };
    id.apply(aws, name, &desired.spec, live, &opts).await
}
