//! Property tests: the comparison is stable for every kind.
//!
//! For each kind, on plain data (no AWS):
//! - equivalent writings of one spec (see [`strategies::Case`]) normalize alike, and
//!   normalizing after a trip through JSON changes nothing;
//! - spec → what AWS answers after applying it ([`sim`]) → live state compares
//!   equal to the spec, and the live resource written back as a spec (import)
//!   normalizes like the spec again;
//! - [`replay`]: for the kinds moto does not serve, apply → observe → diff
//!   through recorded requests and replayed answers, then a second apply writes nothing.
//!
//! 256 cases per property by default; `PROPTEST_CASES=5000 cargo test --lib kinds::props`
//! runs more (the replayed ones run an eighth of that count).

mod replay;
mod sim;
pub mod strategies;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use serde_json::Value;

use super::{Kind, KindId, validate_typed};
use crate::aws::Env;

/// The kind modules, named the way `strategies` (shared with the integration tests) expects.
pub(crate) mod k {
    pub use crate::kinds::*;
}

pub fn env() -> Env {
    Env {
        region: strategies::REGION.into(),
        account_id: strategies::ACCOUNT.into(),
        owner: "lab".into(),
    }
}

/// 256 cases unless `PROPTEST_CASES` says otherwise; failures are not persisted
/// (the seed is printed), so no regression files appear in the tree.
pub fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

pub fn spec_of<K: Kind>(v: &Value) -> Result<K::Spec, TestCaseError> {
    serde_json::from_value(v.clone())
        .map_err(|e| TestCaseError::fail(format!("{}: {e}\n{v:#}", K::NAME)))
}

pub fn valid<K: Kind>(name: &str, v: &Value) -> Result<K::Spec, TestCaseError> {
    let spec = spec_of::<K>(v)?;
    if let Err(m) = K::validate_name(name) {
        return Err(TestCaseError::fail(format!(
            "{} name {name:?}: {m}",
            K::NAME
        )));
    }
    let issues = validate_typed::<K>(name, &spec);
    prop_assert!(
        issues.is_empty(),
        "{} {name}: the loader refuses the generated spec: {:?}\n{v:#}",
        K::NAME,
        issues.0
    );
    Ok(spec)
}

fn json_trip<K: Kind>(spec: &K::Spec) -> Result<K::Spec, TestCaseError> {
    spec_of::<K>(&serde_json::to_value(spec).expect("specs serialize"))
}

/// The plain-data properties of one kind.
pub struct Plain<K: Kind> {
    pub id: KindId,
    /// What observe makes of AWS's answers once the spec is applied.
    pub live: fn(&str, &K::Spec, strategies::Style, &Env) -> K::Live,
    /// What import is meant to carry over of a spec (some of it on purpose not).
    pub imported: fn(&K::Spec) -> K::Spec,
}

impl<K: Kind> Plain<K> {
    pub fn check(&self, case: &strategies::Case) -> Result<(), TestCaseError> {
        let env = env();
        let name = &case.name;
        let a = valid::<K>(name, &case.a)?;
        let b = valid::<K>(name, &case.b)?;
        let want = K::normalize(&a, &env);

        // Two writings of one meaning are one desired state.
        prop_assert_eq!(
            &want,
            &K::normalize(&b, &env),
            "{} {}: equivalent writings normalize apart\n{:#}\n{:#}",
            K::NAME,
            name,
            case.a,
            case.b
        );
        // Through JSON and back changes nothing, and neither does the engine's entry point.
        prop_assert_eq!(&want, &K::normalize(&json_trip::<K>(&a)?, &env));
        prop_assert_eq!(
            &want,
            &self.id.normalize(&case.a, &env).expect("normalizes")
        );

        // Applied, then observed: nothing to do.
        let live = (self.live)(name, &a, case.style, &env);
        let state = K::live_state(&live, &env);
        for (which, spec) in [("a", &a), ("b", &b)] {
            let d = self.id.diff(&K::normalize(spec, &env), &state);
            prop_assert!(
                d.is_empty(),
                "{} {}: a perpetual diff after apply ({which}): {:?}\nspec {:#}\nlive {:#}",
                K::NAME,
                name,
                d,
                if which == "a" { &case.a } else { &case.b },
                state
            );
        }

        // Imported, the live resource is a valid spec that plans nothing and
        // normalizes like what was applied.
        let imported = json_trip::<K>(&K::to_spec(&live))?;
        let imported_json = serde_json::to_value(&imported).expect("specs serialize");
        valid::<K>(name, &imported_json)?;
        let got = K::normalize(&imported, &env);
        let d = self.id.diff(&got, &state);
        prop_assert!(
            d.is_empty(),
            "{} {}: an imported spec plans a change: {:?}\nimported {:#}",
            K::NAME,
            name,
            d,
            imported_json
        );
        // Compared as the engine would compare them (AWS's reported defaults aside).
        let d = self
            .id
            .diff(&K::normalize(&(self.imported)(&a), &env), &got);
        prop_assert!(
            d.is_empty(),
            "{} {}: import lost or changed something: {:?}\nspec {:#}\nimported {:#}",
            K::NAME,
            name,
            d,
            case.a,
            imported_json
        );
        Ok(())
    }
}

/// Kinds whose normalized form need not be a spec, so normalizing it again can
/// mean nothing: it carries what AWS reports beside the spec, or keys a list by
/// identity. Their normalize is checked through JSON and import instead, and
/// twice where the form happens to read as a spec.
const NOT_A_SPEC: &[(KindId, &str)] = &[
    (
        KindId::Topic,
        "subscriptions keyed by protocol and endpoint",
    ),
    (KindId::QueryDefinition, "queryLanguage"),
    (KindId::AgentConfig, "the parameter's type"),
    (KindId::ConfigRule, "evaluationModes as plain modes"),
    (KindId::Stack, "stackStatus"),
];

fn twice(id: KindId, case: &strategies::Case) -> Result<(), TestCaseError> {
    let env = env();
    let once = id
        .normalize(&case.a, &env)
        .map_err(|e| TestCaseError::fail(format!("{id}: {e}\n{:#}", case.a)))?;
    // Where the normalized form reads as a spec, it must normalize to itself.
    let again = match id.normalize(&once, &env) {
        Ok(again) => again,
        Err(_) if NOT_A_SPEC.iter().any(|(k, _)| *k == id) => return Ok(()),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "{id}: a normalized spec is no spec: {e}\n{once:#}"
            )));
        }
    };
    prop_assert_eq!(
        &once,
        &again,
        "{} {}: normalizing twice changes it\n{:#}",
        id,
        &case.name,
        case.a
    );
    Ok(())
}

fn same<S: Clone>(s: &S) -> S {
    s.clone()
}

macro_rules! plain {
    ($($test:ident: $kind:ident => $module:ident, $strategy:ident, $imported:expr;)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $test(case in strategies::$strategy()) {
                    Plain::<super::$module::$kind> {
                        id: KindId::$kind,
                        live: sim::$module,
                        imported: $imported,
                    }
                    .check(&case)?;
                }
            )*
        }

        /// `normalize` is idempotent: a normalized spec, read as a spec again,
        /// normalizes to itself (for the kinds whose normalized form is a spec;
        /// see [`NOT_A_SPEC`]). 64 cases a kind.
        mod normalize_is_idempotent {
            use super::*;

            proptest! {
                #![proptest_config(Config { cases: 64, ..config() })]
                $(
                    #[test]
                    fn $test(case in strategies::$strategy()) {
                        twice(KindId::$kind, &case)?;
                    }
                )*
            }
        }

        /// Every kind has its plain-data properties.
        #[test]
        fn every_kind_is_covered() {
            let covered = [$(KindId::$kind),*];
            for k in KindId::ALL {
                assert!(covered.contains(k), "{k} has no property test");
            }
        }
    };
}

plain! {
    topic_is_stable: Topic => topic, topic, sim::topic_imported;
    metric_alarm_is_stable: MetricAlarm => metric_alarm, metric_alarm, sim::metric_alarm_imported;
    composite_alarm_is_stable: CompositeAlarm => composite_alarm, composite_alarm, sim::composite_alarm_imported;
    dashboard_is_stable: Dashboard => dashboard, dashboard, same;
    xray_group_is_stable: XRayGroup => xray_group, xray_group, sim::xray_group_imported;
    sampling_rule_is_stable: SamplingRule => sampling_rule, sampling_rule, sim::sampling_rule_imported;
    role_is_stable: Role => role, role, same;
    bucket_is_stable: Bucket => bucket, bucket, sim::bucket_imported;
    log_group_is_stable: LogGroup => log_group, log_group, same;
    metric_filter_is_stable: MetricFilter => metric_filter, metric_filter, same;
    query_definition_is_stable: QueryDefinition => query_definition, query_definition, same;
    agent_config_is_stable: AgentConfig => agent_config, agent_config, sim::agent_config_imported;
    config_recorder_is_stable: ConfigurationRecorder => config_recorder, config_recorder, sim::config_recorder_imported;
    delivery_channel_is_stable: DeliveryChannel => delivery_channel, delivery_channel, same;
    config_rule_is_stable: ConfigRule => config_rule, config_rule, sim::config_rule_imported;
    stack_is_stable: Stack => stack, stack, same;
}
