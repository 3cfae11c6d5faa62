//! The property harness: the comparison is stable for every kind. The
//! properties are declared once for all kinds by `kinds!` (`crate::kinds::props`),
//! from each kind's `strategy.rs`; [`Plain::check`] is where to start.
//!
//! For each kind, on plain data (no AWS):
//! - equivalent writings of one spec (see [`strategy::Case`]) normalize alike, and
//!   normalizing after a trip through JSON changes nothing;
//! - spec → what AWS answers after applying it (the kind's `strategy::live`) → live state compares
//!   equal to the spec, and the live resource written back as a spec (import)
//!   normalizes like the spec again;
//! - [`super::replay`]: for the kinds moto does not serve, apply → observe → diff
//!   through recorded requests and replayed answers, then a second apply writes nothing.
//!
//! 256 cases per property by default; `PROPTEST_CASES=5000 cargo test --features testkit --lib kinds::props`
//! runs more (the replayed ones run an eighth of that count).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use serde_json::Value;

use super::strategy;
use crate::aws::Env;
use crate::kinds::{Kind, KindId, validate_typed};

pub fn env() -> Env {
    Env {
        region: strategy::REGION.into(),
        account_id: strategy::ACCOUNT.into(),
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

pub fn json_trip<K: Kind>(spec: &K::Spec) -> Result<K::Spec, TestCaseError> {
    spec_of::<K>(&serde_json::to_value(spec).expect("specs serialize"))
}

/// The plain-data properties of one kind.
pub struct Plain<K: Kind> {
    pub id: KindId,
    /// What observe makes of AWS's answers once the spec is applied.
    pub live: fn(&str, &K::Spec, strategy::Style, &Env) -> K::Live,
    /// What import is meant to carry over of a spec (some of it on purpose not).
    pub imported: fn(&K::Spec) -> K::Spec,
}

impl<K: Kind> Plain<K> {
    pub fn check(&self, case: &strategy::Case) -> Result<(), TestCaseError> {
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
pub const NOT_A_SPEC: &[(KindId, &str)] = &[
    (
        KindId::Topic,
        "subscriptions keyed by protocol and endpoint",
    ),
    (KindId::QueryDefinition, "queryLanguage"),
    (KindId::AgentConfig, "the parameter's type"),
    (KindId::ConfigRule, "evaluationModes as plain modes"),
    (KindId::Stack, "stackStatus"),
];

pub fn twice(id: KindId, case: &strategy::Case) -> Result<(), TestCaseError> {
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
