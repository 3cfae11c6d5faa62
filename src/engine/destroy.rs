//! `vigil destroy`: deletes every resource vigil owns, in reverse dependency
//! order, keeping those whose deletion policy is retain (lab step 10).

use std::collections::{BTreeSet, HashMap};

use crate::aws::Aws;
use crate::kinds::{KindId, Observed};
use crate::manifest::Manifests;
use crate::plan::{Action, Change, Failure, Note, Report, Status, Summary};
use crate::reconcile::{
    Ownership, StartError, deletion_order, deletion_policy, observe_with, ownership,
};
use crate::state;

pub async fn run(
    aws: &Aws,
    m: &Manifests,
    store: &state::Location,
    dry_run: bool,
) -> Result<Report, StartError> {
    let mut inv = store.load(aws).await?;
    let loaded = inv.fingerprint();
    let all: BTreeSet<usize> = (0..m.resources.len()).collect();
    let declared: BTreeSet<String> = m.resources.iter().map(|r| r.id()).collect();
    let extra: BTreeSet<(KindId, String)> = inv
        .resources
        .values()
        .filter(|e| !declared.contains(&state::key(&e.kind, &e.name)))
        .filter_map(|e| Some((KindId::parse(&e.kind)?, e.name.clone())))
        .collect();
    let obs = observe_with(aws, m, &all, &extra, &inv).await;
    let mut report = Report {
        dry_run,
        changes: vec![],
        summary: Summary::default(),
        notes: vec![],
        errors: vec![],
        api_calls: Default::default(),
    };
    if !obs.failed.is_empty() {
        for (kind, e) in &obs.failed {
            report.errors.push(Failure {
                kind: kind.name().to_string(),
                name: "*".into(),
                class: e.class,
                message: format!("destroy stopped before deleting anything: observing {kind} failed, and vigil never deletes from a partial observation: {e}"),
            });
        }
        report.summary.failed = report.errors.len();
        report.api_calls = aws.calls.snapshot();
        return Ok(report);
    }

    // Everything owned and live, with its deletion policy and dependencies.
    let mut targets: HashMap<String, (KindId, String, Observed, crate::manifest::DeletionPolicy)> =
        HashMap::new();
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    for (i, r) in m.resources.iter().enumerate() {
        let key = r.id();
        deps.insert(
            key.clone(),
            r.deps.iter().map(|&d| m.resources[d].id()).collect(),
        );
        let Some(live) = obs.live.get(&i) else {
            inv.resources.remove(&key);
            continue;
        };
        match ownership(&inv, &m.settings.owner, r.kind, &r.name, live) {
            Ownership::Owned => {
                targets.insert(
                    key,
                    (r.kind, r.name.clone(), live.clone(), deletion_policy(r)),
                );
            }
            _ => report.notes.push(Note {
                kind: r.kind.name().to_string(),
                name: r.name.clone(),
                message: "exists but vigil does not own it; left alone".into(),
            }),
        }
    }
    for (kind, name) in &extra {
        let key = state::key(kind.name(), name);
        let entry = &inv.resources[&key];
        deps.insert(key.clone(), entry.deps.clone());
        match obs.extra.get(&key) {
            Some(live) => {
                targets.insert(
                    key,
                    (*kind, name.clone(), live.clone(), entry.deletion_policy),
                );
            }
            None => {
                inv.resources.remove(&key);
            }
        }
    }
    let mut keys: Vec<String> = targets.keys().cloned().collect();
    keys.sort();
    for key in deletion_order(&keys, &deps) {
        let (kind, name, live, policy) = &targets[&key];
        if *policy == crate::manifest::DeletionPolicy::Retain {
            report.notes.push(Note {
                kind: kind.name().to_string(),
                name: name.clone(),
                message: "retained (deletion policy retain); no longer managed".into(),
            });
            inv.resources.remove(&key);
            continue;
        }
        let mut change = Change {
            action: Action::Delete,
            kind: kind.name().to_string(),
            name: name.clone(),
            fields: vec![],
            status: Status::Planned,
            error: None,
            error_class: None,
            drift: false,
        };
        report.summary.delete += 1;
        if !dry_run {
            match kind.delete(aws, name, live).await {
                Ok(()) => {
                    change.status = Status::Applied;
                    inv.resources.remove(&key);
                }
                Err(e) if e.is_not_found() => {
                    change.status = Status::Applied;
                    inv.resources.remove(&key);
                }
                Err(e) => {
                    change.status = Status::Failed;
                    change.error = Some(e.to_string());
                    change.error_class = Some(e.class);
                    report.summary.failed += 1;
                }
            }
        }
        report.changes.push(change);
    }
    if !dry_run && inv.fingerprint() != loaded {
        store.save(aws, &inv).await?;
    }
    report.api_calls = aws.calls.snapshot();
    Ok(report)
}
