//! The kinds vigil manages. This file is the one place that lists them. Adding a
//! kind is its folder `src/kinds/<kind>/` (`mod.rs` implementing [`Kind`],
//! `tests.rs`, `strategy.rs` with its property strategy and simulated answers,
//! and `replay.rs` where moto lacks the service), plus two lines here: its
//! `pub mod` line and its line in `kinds!`, which also declares its properties.
//! The generic glue here adds what every kind shares: tag reading and owner
//! detection on observe, tag validation on load, and the tag sync of an update.

pub mod alarms_walk;
pub mod common;
pub mod error;
pub mod issues;
pub mod kind;
pub mod once;
pub mod tags;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::aws::{Aws, Env};
use crate::diff::FieldDiff;
use crate::input::Root;
use crate::yaml::{self, Node, Pos};

pub use error::KindError;
pub use kind::{
    ApplyOptions, Attrs, Issues, Kind, LiveOwner, Observed, Wanted, check_name, field_name,
    parse_path,
};
pub use tags::{OWNER_TAG, Tags};

/// A type-checked spec, or located problems.
pub type CheckResult = Result<Value, Vec<(Pos, String)>>;

/// What one kind's observe found.
#[derive(Debug, Default)]
pub struct Observation {
    pub found: BTreeMap<String, Observed>,
    /// About the kind as a whole, such as tags read one call each.
    pub notes: Vec<String>,
}

fn check<K: Kind>(name: &str, node: &Node, base: &Path, root: &Root) -> CheckResult {
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
    let issues = validate_typed::<K>(name, &spec);
    for (path, msg) in issues.0 {
        errors.push((node.locate(&path).pos, msg));
    }
    let mut json = node.to_json().map_err(|e| vec![e])?;
    if let Err((field, msg)) = K::load_files(&mut json, base, root) {
        let pos = node.get(&field).map_or(node.pos, |n| n.pos);
        errors.push((pos, msg));
    }
    if errors.is_empty() {
        Ok(json)
    } else {
        Err(errors)
    }
}

/// The kind's checks, and its declared tags against its service's rules.
pub(crate) fn validate_typed<K: Kind>(name: &str, spec: &K::Spec) -> Issues {
    let mut issues = Issues::default();
    K::validate_named(name, spec, &mut issues);
    if let (Some(api), Some(declared)) = (K::TAGS, K::spec_tags(spec)) {
        tags::validate(declared, &api.rules, &mut issues);
    }
    issues
}

fn spec_from<K: Kind>(spec: &Value) -> Result<K::Spec, KindError> {
    // Deserialized from the borrowed tree: no copy of the whole spec first.
    <K::Spec as serde::Deserialize>::deserialize(spec).map_err(|e| {
        KindError::Invalid(format!("{} spec after resolving references: {e}", K::NAME))
    })
}

fn normalize<K: Kind>(spec: &Value, env: &Env) -> Result<Value, KindError> {
    Ok(K::normalize(&spec_from::<K>(spec)?, env))
}

fn desired<K: Member>(spec: &Value, env: &Env) -> Result<Desired, KindError> {
    let spec = spec_from::<K>(spec)?;
    let state = K::normalize(&spec, env);
    Ok(Desired {
        spec: K::wrap_spec(spec),
        state,
    })
}

/// A declared resource's desired state once its references are resolved: the
/// kind's typed spec, read once, and its normalized form. The planner compares
/// and the inventory records `state`; apply and finalize take `spec`.
#[derive(Debug, Clone)]
pub struct Desired {
    pub spec: AnySpec,
    pub state: Value,
}

/// How a kind's typed values sit in [`AnySpec`] and [`AnyLive`]; `kinds!`
/// implements it for every kind.
pub trait Member: Kind {
    fn spec_of(spec: &AnySpec) -> Option<&Self::Spec>;
    fn live_of(live: &AnyLive) -> Option<&Self::Live>;
    fn wrap_spec(spec: Self::Spec) -> AnySpec;
    fn wrap_live(live: Self::Live) -> AnyLive;
}

/// A value of another kind reached this one: the engine pairs them by kind, so
/// this is a bug, reported rather than panicking mid-apply.
fn mismatch<K: Kind>() -> KindError {
    KindError::Invalid(format!(
        "internal error: a value of another kind was given to {}",
        K::NAME
    ))
}

fn typed_spec<K: Member>(spec: &AnySpec) -> Result<&K::Spec, KindError> {
    K::spec_of(spec).ok_or_else(mismatch::<K>)
}

fn typed_live<K: Member>(obs: &Observed) -> Result<&K::Live, KindError> {
    K::live_of(&obs.live).ok_or_else(mismatch::<K>)
}

/// One kind's observe with what every kind shares: tags read, the owner learned.
pub(crate) async fn observe<K: Member>(
    aws: &Aws,
    wanted: &Wanted,
) -> Result<Observation, KindError> {
    // Tags read in one walk of the type can be read while the kind lists its resources.
    let prefetch = async {
        if let Some(api) = K::TAGS {
            tags::prefetch(aws, &api.read, wanted.specs.len(), wanted.population).await;
        }
    };
    let (live, ()) = futures::join!(K::observe(aws, wanted), prefetch);
    let mut live = live?;
    let mut notes = Vec::new();
    if let Some(api) = K::TAGS
        && !matches!(api.read, tags::Read::WithResource)
    {
        let ids: Vec<(String, String)> = live
            .iter()
            .filter(|(n, _)| K::tagged(n))
            .map(|(n, l)| (n.clone(), K::tag_id(n, l)))
            .collect();
        let arns: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
        let confirm: HashSet<String> = ids
            .iter()
            .filter(|(n, _)| wanted.inventoried.contains(n))
            .map(|(_, id)| id.clone())
            .collect();
        let listed = K::listed(aws);
        let mut found = tags::read(aws, &api.read, &arns, listed, &confirm).await?;
        notes.extend(found.fell_back.take());
        for (name, id) in ids {
            if let Some(l) = live.get_mut(&name) {
                K::set_live_tags(l, found.tags.remove(&id).unwrap_or_default());
            }
        }
    }
    let found = live
        .into_iter()
        .map(|(name, l)| {
            let owner = match (K::TAGS, K::live_tags(&l)) {
                (None, _) => LiveOwner::Untaggable,
                _ if !K::tagged(&name) => LiveOwner::Untaggable,
                (Some(_), t) => match t.and_then(tags::owner) {
                    Some(o) => LiveOwner::Tagged(o.to_string()),
                    None => LiveOwner::Untagged,
                },
            };
            let obs = Observed {
                attrs: K::attributes(&l),
                // Only import reads it; skip the work (and memory) everywhere else.
                spec: if wanted.all {
                    serde_json::to_value(K::to_spec(&l)).expect("specs serialize")
                } else {
                    Value::Null
                },
                owner,
                notes: K::notes(&l),
                pending: K::pending(&l),
                live: Arc::new(K::wrap_live(l)),
            };
            (name, obs)
        })
        .collect();
    Ok(Observation { found, notes })
}

/// The kind's own view of an observed resource (for tests).
#[cfg(any(test, feature = "testkit"))]
pub(crate) fn detail<K: Member>(obs: &Observed) -> &K::Live {
    K::live_of(&obs.live).expect("observed detail matches its kind")
}

async fn apply<K: Member>(
    aws: &Aws,
    name: &str,
    spec: &AnySpec,
    live: Option<&Observed>,
    opts: &ApplyOptions,
) -> Result<Attrs, KindError> {
    let live = live.map(typed_live::<K>).transpose()?;
    apply_typed::<K>(aws, name, typed_spec::<K>(spec)?, live, opts).await
}

/// The kind's apply, then, on an update, its tags brought to the manifest's
/// (or the live ones kept, owner tag added, where the manifest has none).
/// Creates carry their tags themselves.
pub(crate) async fn apply_typed<K: Kind>(
    aws: &Aws,
    name: &str,
    spec: &K::Spec,
    live: Option<&K::Live>,
    opts: &ApplyOptions,
) -> Result<Attrs, KindError> {
    let attrs = K::apply_annotated(aws, name, spec, live, opts).await?;
    if let (Some(api), Some(l)) = (K::TAGS, live)
        && K::tagged(name)
    {
        let have = K::live_tags(l).cloned().unwrap_or_default();
        let declared = K::spec_tags(spec)
            .cloned()
            .unwrap_or_else(|| tags::without_owner(&have));
        let want = tags::with_owner(&declared, &aws.env);
        tags::sync(&api, aws, &K::tag_id(name, l), &want, &have).await?;
    }
    Ok(attrs)
}

async fn remote_validate<K: Kind>(aws: &Aws, spec: &Value) -> Issues {
    match spec_from::<K>(spec) {
        Ok(s) => K::remote_validate(aws, &s).await,
        Err(_) => Issues::default(),
    }
}

async fn explain<K: Member>(
    aws: &Aws,
    name: &str,
    spec: &AnySpec,
    live: Option<&Observed>,
) -> Result<Option<Vec<FieldDiff>>, KindError> {
    let live = live.map(typed_live::<K>).transpose()?;
    K::explain(aws, name, typed_spec::<K>(spec)?, live).await
}

async fn finalize<K: Member>(aws: &Aws, name: &str, spec: &AnySpec) -> Result<(), KindError> {
    K::finalize(aws, name, typed_spec::<K>(spec)?).await
}

async fn delete<K: Member>(aws: &Aws, name: &str, live: &Observed) -> Result<(), KindError> {
    K::delete(aws, name, typed_live::<K>(live)?).await
}

macro_rules! kinds {
    ($($variant:ident => $module:ident),* $(,)?) => {
        /// A kind's typed spec, references resolved: what apply and finalize take.
        #[derive(Debug, Clone)]
        pub enum AnySpec { $($variant(<$module::$variant as Kind>::Spec)),* }

        /// A kind's live resource, as its observe read it.
        pub enum AnyLive {
            $($variant(<$module::$variant as Kind>::Live),)*
            /// A live resource given only as its normalized state, for tests of the engine.
            #[cfg(any(test, feature = "testkit"))]
            Plain(Value),
        }

        impl AnyLive {
            /// Normalized, in the same shape as the desired state. Built when
            /// compared and then dropped: kept for thousands of resources, it was
            /// most of the peak memory.
            pub fn state(&self, env: &Env) -> Value {
                match self {
                    $(AnyLive::$variant(l) => <$module::$variant as Kind>::live_state(l, env),)*
                    #[cfg(any(test, feature = "testkit"))]
                    AnyLive::Plain(v) => v.clone(),
                }
            }
        }

        $(
            impl Member for $module::$variant {
                fn spec_of(spec: &AnySpec) -> Option<&Self::Spec> {
                    match spec { AnySpec::$variant(s) => Some(s), _ => None }
                }
                fn live_of(live: &AnyLive) -> Option<&Self::Live> {
                    match live { AnyLive::$variant(l) => Some(l), _ => None }
                }
                fn wrap_spec(spec: Self::Spec) -> AnySpec {
                    AnySpec::$variant(spec)
                }
                fn wrap_live(live: Self::Live) -> AnyLive {
                    AnyLive::$variant(live)
                }
            }
        )*

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

            /// How many of the kind the account holds, when this cycle listed them all.
            pub fn listed(self, aws: &Aws) -> Option<usize> {
                match self { $(KindId::$variant => <$module::$variant as Kind>::listed(aws)),* }
            }

            /// Whether AWS can tag the kind (ownership is then the live tag).
            pub fn taggable(self) -> bool {
                match self { $(KindId::$variant => <$module::$variant as Kind>::TAGS.is_some()),* }
            }

            /// See [`Kind::bare`].
            pub fn bare(self, live: &Value) -> bool {
                match self { $(KindId::$variant => <$module::$variant as Kind>::bare(live)),* }
            }

            pub fn retain_by_default(self) -> bool {
                match self { $(KindId::$variant => <$module::$variant as Kind>::RETAIN_BY_DEFAULT),* }
            }

            pub fn check(self, name: &str, node: &Node, base: &Path, root: &Root) -> CheckResult {
                match self { $(KindId::$variant => check::<$module::$variant>(name, node, base, root)),* }
            }

            pub fn normalize(self, spec: &Value, env: &Env) -> Result<Value, KindError> {
                match self { $(KindId::$variant => normalize::<$module::$variant>(spec, env)),* }
            }

            /// Reads a resolved spec into the kind's type, once, and normalizes it.
            pub fn desired(self, spec: &Value, env: &Env) -> Result<Desired, KindError> {
                match self { $(KindId::$variant => desired::<$module::$variant>(spec, env)),* }
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

            pub fn explain<'a>(self, aws: &'a Aws, name: &'a str, spec: &'a AnySpec, live: Option<&'a Observed>) -> BoxFuture<'a, Result<Option<Vec<FieldDiff>>, KindError>> {
                match self { $(KindId::$variant => Box::pin(explain::<$module::$variant>(aws, name, spec, live))),* }
            }

            pub fn finalize<'a>(self, aws: &'a Aws, name: &'a str, spec: &'a AnySpec) -> BoxFuture<'a, Result<(), KindError>> {
                match self { $(KindId::$variant => Box::pin(finalize::<$module::$variant>(aws, name, spec))),* }
            }

            pub fn observe<'a>(self, aws: &'a Aws, wanted: &'a Wanted) -> BoxFuture<'a, Result<Observation, KindError>> {
                match self { $(KindId::$variant => Box::pin(observe::<$module::$variant>(aws, wanted))),* }
            }

            pub fn apply<'a>(self, aws: &'a Aws, name: &'a str, spec: &'a AnySpec, live: Option<&'a Observed>, opts: &'a ApplyOptions) -> BoxFuture<'a, Result<Attrs, KindError>> {
                match self { $(KindId::$variant => Box::pin(apply::<$module::$variant>(aws, name, spec, live, opts))),* }
            }

            pub fn delete<'a>(self, aws: &'a Aws, name: &'a str, live: &'a Observed) -> BoxFuture<'a, Result<(), KindError>> {
                match self { $(KindId::$variant => Box::pin(delete::<$module::$variant>(aws, name, live))),* }
            }
        }

        /// Each kind's property strategy (from its folder's `strategy.rs`), by the kind's module name.
        #[cfg(any(test, feature = "testkit"))]
        pub mod strategies {
            $(pub use super::$module::strategy::strategy as $module;)*
        }

        /// The plain-data properties of every kind (`crate::testkit::props`).
        #[cfg(test)]
        mod props {
            use proptest::prelude::*;
            use proptest::test_runner::Config;

            use super::*;
            use crate::testkit::props::{Plain, config, twice};

            mod stable {
                use super::*;

                proptest! {
                    #![proptest_config(config())]
                    $(
                        #[test]
                        fn $module(case in $module::strategy::strategy()) {
                            Plain::<$module::$variant> {
                                id: KindId::$variant,
                                live: $module::strategy::live,
                                imported: $module::strategy::imported,
                            }
                            .check(&case)?;
                        }
                    )*
                }
            }

            /// `normalize` is idempotent: a normalized spec, read as a spec again,
            /// normalizes to itself (for the kinds whose normalized form is a spec;
            /// see `NOT_A_SPEC`). 64 cases a kind.
            mod normalize_is_idempotent {
                use super::*;

                proptest! {
                    #![proptest_config(Config { cases: 64, ..config() })]
                    $(
                        #[test]
                        fn $module(case in $module::strategy::strategy()) {
                            twice(KindId::$variant, &case)?;
                        }
                    )*
                }
            }

            /// Every kind has its plain-data properties.
            #[test]
            fn every_kind_is_covered() {
                let covered = [$(KindId::$variant),*];
                for k in KindId::ALL {
                    assert!(covered.contains(k), "{k} has no property test");
                }
            }
        }
    };
}

// Declared outside the macro so that rustfmt and IDEs see them.
pub mod agent_config;
pub mod alarm_mute_rule;
pub mod anomaly_detector;
pub mod bucket;
pub mod composite_alarm;
pub mod config_recorder;
pub mod config_rule;
pub mod dashboard;
pub mod delivery_channel;
pub mod log_alarm;
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
    AlarmMuteRule => alarm_mute_rule,
    Dashboard => dashboard,
    AnomalyDetector => anomaly_detector,
    XRayGroup => xray_group,
    SamplingRule => sampling_rule,
    Role => role,
    Bucket => bucket,
    LogGroup => log_group,
    MetricFilter => metric_filter,
    QueryDefinition => query_definition,
    LogAlarm => log_alarm,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Seg;

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
