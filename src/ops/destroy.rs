//! `vigil destroy`: deletes every resource vigil owns, in reverse dependency
//! order, keeping those whose deletion policy is retain (lab step 10). The
//! plan is pure; the executor deletes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::drift::undeclared;
use super::reconcile::{StartError, bind};
use crate::aws::Aws;
use crate::engine::execute::{self, Exec};
use crate::engine::observe::{Snapshot, observe};
use crate::engine::plan::{self, Ownership, Plan, deletion_order, deletion_policy, ownership};
use crate::engine::report::{Failure, FailureCode, Note, NoteCode, Report};
use crate::manifest::{DeletionPolicy, Manifests};
use crate::state::{self, Inventory, Location, ResourceId};

pub async fn run(
    aws: &Aws,
    m: &Manifests,
    store: &Location,
    dry_run: bool,
) -> Result<Report, StartError> {
    let (mut inv, writer) = store.open(aws, None).await?;
    bind(&mut inv, m, aws, store)?;
    let all: BTreeSet<usize> = (0..m.resources.len()).collect();
    let obs = observe(aws, m, &all, &undeclared(m, &inv), &inv).await;
    let plan = plan_destroy(m, &obs, &inv, dry_run);
    let now = state::now_rfc3339();
    let exec = Exec {
        aws,
        m,
        obs: &obs,
        store: &writer,
        gate: None,
        progress: None,
        concurrency: 8,
        revision: None,
        now: &now,
    };
    Ok(execute::execute(&exec, plan, inv).await?)
}

/// Deletes of everything owned and live; nothing at all from a partial observation.
pub fn plan_destroy(m: &Manifests, obs: &Snapshot, inv: &Inventory, dry_run: bool) -> Plan {
    let mut plan = Plan {
        dry_run,
        owner: m.settings.owner.clone(),
        ..Plan::default()
    };
    if !obs.complete() {
        for (kind, e) in &obs.failed {
            plan.errors.push(Failure {
                kind: kind.name().to_string(),
                name: "*".into(),
                class: e.class(),
                message: format!(
                    "destroy stopped before deleting anything: observing {kind} failed, and vigil never deletes from a partial observation: {e}"
                ),
                code: FailureCode::PruneSkipped,
            });
        }
        return plan;
    }
    // Everything owned and live, with its deletion policy and dependencies.
    let mut targets: BTreeMap<ResourceId, DeletionPolicy> = BTreeMap::new();
    let mut deps: HashMap<ResourceId, Vec<ResourceId>> = HashMap::new();
    for (i, r) in m.resources.iter().enumerate() {
        let key = r.id();
        deps.insert(
            key.clone(),
            r.deps.iter().map(|&d| m.resources[d].id()).collect(),
        );
        let Some(live) = obs.live.get(&i) else {
            plan.forget.push(key);
            continue;
        };
        let entry = inv.get(&key);
        match ownership(&plan.owner, r.kind, live, entry, None, &obs.env) {
            Ownership::Owned => {
                targets.insert(key, deletion_policy(r));
            }
            _ => plan.notes.push(Note::new(
                r.kind.name(),
                &r.name,
                NoteCode::NotOwned,
                "exists but vigil does not own it; left alone",
            )),
        }
    }
    for (kind, name) in undeclared(m, inv) {
        let key = ResourceId::new(kind, name.as_str());
        let entry = &inv.resources[&key];
        deps.insert(key.clone(), entry.deps.clone());
        match obs.extra.get(&key) {
            Some(live)
                if ownership(&plan.owner, kind, live, Some(entry), None, &obs.env)
                    == Ownership::Owned =>
            {
                targets.insert(key, entry.deletion_policy);
            }
            Some(_) => {
                plan.notes.push(Note::new(
                    kind.name(),
                    &name,
                    NoteCode::NotOwned,
                    "exists but vigil does not own it; left alone",
                ));
                plan.forget.push(key);
            }
            None => plan.forget.push(key),
        }
    }
    let keys: Vec<ResourceId> = targets.keys().cloned().collect();
    let mut order = Vec::new();
    for key in deletion_order(&keys, &deps) {
        if targets[&key] == DeletionPolicy::Retain {
            plan.notes.push(Note::new(
                key.kind.name(),
                &key.name,
                NoteCode::Retained,
                "retained (deletion policy retain); no longer managed",
            ));
            plan.forget.push(key);
            continue;
        }
        order.push(key);
    }
    plan::push_deletions(&mut plan, &order, &deps, |key| m.find_id(key));
    plan
}
