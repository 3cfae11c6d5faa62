//! Observe: the live state of what a run needs, one batched observe per kind,
//! all kinds concurrently. Observe never writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::report::{Note, NoteCode};
use crate::aws::{Aws, Env};
use crate::kinds::{Attrs, KindError, KindId, Observed, Wanted};
use crate::manifest::Manifests;
use crate::state::{Inventory, ResourceId};

/// What a run saw of the account: plain data, so the planner is a pure function of it.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Where it was observed and on whose behalf (references and owner tags read it).
    pub env: Env,
    /// Live state per declared resource index.
    pub live: HashMap<usize, Observed>,
    /// Undeclared resources the inventory lists.
    pub extra: BTreeMap<ResourceId, Observed>,
    /// Kinds whose observe failed: nothing of them is known.
    pub failed: BTreeMap<KindId, KindError>,
    /// About a kind as a whole (tags read one call each).
    pub notes: Vec<Note>,
    /// How many of a kind the account holds, for the kinds listed in full.
    pub populations: BTreeMap<KindId, usize>,
    /// The values of the directory's secret references, read with the target's credentials.
    pub secrets: crate::secret::Secrets,
}

impl Snapshot {
    /// The attributes of declared resource `i`, when it exists.
    pub fn attrs(&self, i: usize) -> Option<&Attrs> {
        self.live.get(&i).map(|o| &o.attrs)
    }

    /// Whether every kind was observed: prune and destroy need the whole picture.
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Observes declared resources `which` plus undeclared `extra` ones.
pub async fn observe(
    aws: &Aws,
    m: &Manifests,
    which: &BTreeSet<usize>,
    extra: &BTreeSet<(KindId, String)>,
    inv: &Inventory,
) -> Snapshot {
    let mut by_kind: BTreeMap<KindId, Wanted> = BTreeMap::new();
    for &i in which {
        let r = &m.resources[i];
        let w = by_kind.entry(r.kind).or_default();
        w.specs.insert(r.name.clone(), r.spec.clone());
    }
    for (kind, name) in extra {
        by_kind
            .entry(*kind)
            .or_default()
            .specs
            .insert(name.clone(), Arc::new(Value::Null));
    }
    for (kind, w) in by_kind.iter_mut() {
        w.population = inv.populations.get(kind.name()).copied();
    }
    for (id, e) in &inv.resources {
        if let Some(w) = by_kind.get_mut(&id.kind) {
            w.inventoried.insert(id.name.clone());
            if w.specs.get(&id.name).is_some_and(|s| s.is_null()) {
                w.applied
                    .insert(id.name.clone(), Arc::new(e.applied.value()));
            }
        }
    }
    let results = futures::future::join_all(
        by_kind
            .iter()
            .map(|(kind, wanted)| async move { (*kind, kind.observe(aws, wanted).await) }),
    )
    .await;
    // Sized up front: growing by doubling would briefly hold two tables.
    let mut obs = Snapshot {
        env: aws.env.clone(),
        live: HashMap::with_capacity(which.len()),
        ..Snapshot::default()
    };
    for (kind, result) in results {
        match result {
            Ok(found) => {
                obs.notes.extend(
                    found
                        .notes
                        .into_iter()
                        .map(|n| Note::new(kind.name(), "*", NoteCode::TagFallback, n)),
                );
                for (name, o) in found.found {
                    match m.find(kind, &name) {
                        Some(i) if which.contains(&i) => {
                            obs.live.insert(i, o);
                        }
                        _ if extra.contains(&(kind, name.clone())) => {
                            obs.extra.insert(ResourceId::new(kind, name), o);
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => {
                obs.failed.insert(kind, e);
            }
        }
        if let Some(n) = kind.listed(aws) {
            obs.populations.insert(kind, n);
        }
    }
    obs
}
