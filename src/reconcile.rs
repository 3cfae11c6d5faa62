//! load → resolve → observe → diff → plan → apply → report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::aws::{Aws, AwsError};
use crate::kinds::{Attrs, KindId, Observed, Wanted};
use crate::manifest::refs::{self, Target, contains_unknown};
use crate::manifest::{Manifests, Resource};
use crate::plan::{Action, Change, FieldView, Failure, Note, Report, Status, Summary};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    /// `Kind/name` filters; empty means everything.
    pub only: Vec<String>,
}

/// Why a reconcile could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--only {0}: no such resource in the directory; use Kind/name as declared")]
    UnknownOnly(String),
}

/// Selected resources and everything they reference (needed to resolve references).
fn selection(m: &Manifests, only: &[String]) -> Result<(BTreeSet<usize>, BTreeSet<usize>), StartError> {
    let selected: BTreeSet<usize> = if only.is_empty() {
        (0..m.resources.len()).collect()
    } else {
        only.iter()
            .map(|o| {
                m.resources
                    .iter()
                    .position(|r| r.id() == *o)
                    .ok_or_else(|| StartError::UnknownOnly(o.clone()))
            })
            .collect::<Result<_, _>>()?
    };
    let mut needed = selected.clone();
    let mut stack: Vec<usize> = selected.iter().copied().collect();
    while let Some(i) = stack.pop() {
        for &d in &m.resources[i].deps {
            if needed.insert(d) {
                stack.push(d);
            }
        }
    }
    Ok((selected, needed))
}

/// Live state per resource index, and per-kind observation failures.
pub struct Observation {
    pub live: HashMap<usize, Observed>,
    pub failed: HashMap<KindId, AwsError>,
}

/// Observes the given resources: one batched observe per kind, all kinds concurrently.
pub async fn observe(aws: &Aws, m: &Manifests, which: &BTreeSet<usize>) -> Observation {
    let mut by_kind: BTreeMap<KindId, Wanted> = BTreeMap::new();
    for &i in which {
        let r = &m.resources[i];
        by_kind.entry(r.kind).or_default().specs.insert(r.name.clone(), r.spec.clone());
    }
    let results = futures::future::join_all(
        by_kind
            .iter()
            .map(|(kind, wanted)| async move { (*kind, kind.observe(aws, wanted).await) }),
    )
    .await;
    let mut live = HashMap::new();
    let mut failed = HashMap::new();
    for (kind, result) in results {
        match result {
            Ok(found) => {
                for (name, obs) in found {
                    if let Some(i) = m.find(kind, &name) {
                        live.insert(i, obs);
                    }
                }
            }
            Err(e) => {
                failed.insert(kind, e);
            }
        }
    }
    Observation { live, failed }
}

/// Resolves the references in one resource's spec; unknown values become markers.
pub fn resolve(m: &Manifests, r: &Resource, aws: &Aws, attrs: &HashMap<usize, Attrs>) -> Value {
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &d in &r.deps {
        let dep = &m.resources[d];
        declared.entry(dep.kind.name().to_string()).or_default().push(dep.name.clone());
    }
    let lookup = |expr: &str| -> Option<String> {
        match refs::parse_expr(expr, &declared, &|_, _| Ok(())).ok()? {
            Target::AccountId => Some(aws.env.account_id.clone()),
            Target::Region => Some(aws.env.region.clone()),
            Target::Resource { kind, name, attribute } => {
                let j = m.find(KindId::parse(&kind)?, &name)?;
                attrs.get(&j)?.get(&attribute).cloned()
            }
        }
    };
    refs::substitute_json(&r.spec, &lookup)
}

/// Attributes that survive an update unchanged.
const IDENTITY_ATTRIBUTES: &[&str] = &["arn", "name", "id"];

/// Plans, and unless `dry_run`, applies. Failures are per resource: a failed
/// resource skips its dependents but not the rest.
pub async fn run(aws: &Aws, m: &Manifests, opts: &Options) -> Result<Report, StartError> {
    let (selected, needed) = selection(m, &opts.only)?;
    let obs = observe(aws, m, &needed).await;
    let mut attrs: HashMap<usize, Attrs> = obs.live.iter().map(|(i, o)| (*i, o.attrs.clone())).collect();
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut summary = Summary::default();
    let mut broken: BTreeSet<usize> = BTreeSet::new();
    let mut applied: Vec<(usize, Value)> = Vec::new();

    for (i, r) in m.resources.iter().enumerate() {
        if !needed.contains(&i) {
            continue;
        }
        if let Some(e) = obs.failed.get(&r.kind) {
            broken.insert(i);
            if selected.contains(&i) {
                errors.push(Failure::from_aws(r.kind.name(), &r.name, e));
                summary.failed += 1;
            }
            continue;
        }
        if !selected.contains(&i) {
            continue;
        }
        if let Some(&d) = r.deps.iter().find(|d| broken.contains(d)) {
            broken.insert(i);
            summary.failed += 1;
            errors.push(Failure {
                kind: r.kind.name().to_string(),
                name: r.name.clone(),
                class: crate::aws::ErrorClass::Terminal,
                message: format!("skipped: it references {}, which failed", m.resources[d].id()),
            });
            continue;
        }
        let live = obs.live.get(&i);
        if let Some(l) = live {
            notes.extend(l.notes.iter().map(|n| Note {
                kind: r.kind.name().to_string(),
                name: r.name.clone(),
                message: n.clone(),
            }));
        }
        let resolved = resolve(m, r, aws, &attrs);
        let desired = match r.kind.normalize(&resolved, &aws.env) {
            Ok(d) => d,
            Err(msg) => {
                broken.insert(i);
                summary.failed += 1;
                errors.push(Failure {
                    kind: r.kind.name().to_string(),
                    name: r.name.clone(),
                    class: crate::aws::ErrorClass::Terminal,
                    message: msg,
                });
                continue;
            }
        };
        let (action, fields) = match live {
            None => (Action::Create, r.kind.diff(&desired, &Value::Object(Default::default()))),
            Some(l) => {
                let d = r.kind.diff(&desired, &l.state);
                if d.is_empty() {
                    summary.unchanged += 1;
                    continue;
                }
                (Action::Update, d)
            }
        };
        let mut change = Change {
            action,
            kind: r.kind.name().to_string(),
            name: r.name.clone(),
            fields: fields.into_iter().map(FieldView::from).collect(),
            status: Status::Planned,
            error: None,
        };
        if opts.dry_run {
            // What dependents read from a changing resource may change too, except
            // its identity; they see "(known after apply)".
            if let Some(a) = attrs.get_mut(&i) {
                a.retain(|k, _| IDENTITY_ATTRIBUTES.contains(&k.as_str()));
            }
            if !contains_unknown(&resolved) {
                match r.kind.explain(aws, &r.name, &resolved, live).await {
                    Ok(Some(extra)) => change.fields.extend(extra.into_iter().map(FieldView::explained)),
                    Ok(None) => {
                        summary.unchanged += 1;
                        continue;
                    }
                    Err(e) => change.error = Some(format!("could not compute the detailed plan: {e}")),
                }
            }
        } else {
            let result = if contains_unknown(&resolved) {
                Err(AwsError::other(
                    "vigil",
                    "Resolve",
                    "a referenced value is still unknown; apply the resource it references first",
                ))
            } else {
                tracing::info!(kind = %r.kind, name = %r.name, action = ?action, "applying");
                r.kind.apply(aws, &r.name, &resolved, live, &r.annotations).await
            };
            match result {
                Ok(a) => {
                    attrs.insert(i, a);
                    change.status = Status::Applied;
                    applied.push((i, resolved));
                }
                Err(e) => {
                    broken.insert(i);
                    change.status = Status::Failed;
                    change.error = Some(e.to_string());
                    summary.failed += 1;
                }
            }
        }
        match action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Delete => summary.delete += 1,
        }
        changes.push(change);
    }
    // Second steps, in dependency order, once everything else exists.
    for (i, resolved) in applied {
        let r = &m.resources[i];
        if let Err(e) = r.kind.finalize(aws, &r.name, &resolved).await
            && let Some(c) = changes.iter_mut().find(|c| c.kind == r.kind.name() && c.name == r.name)
        {
            c.status = Status::Failed;
            c.error = Some(e.to_string());
            summary.failed += 1;
        }
    }
    Ok(Report {
        dry_run: opts.dry_run,
        changes,
        summary,
        notes,
        errors,
        api_calls: aws.calls.snapshot(),
    })
}
