//! load → resolve → observe → diff → plan → apply → report.
//!
//! Safety rules live here: nothing is written before every guard has passed;
//! a resource vigil does not own is never changed unless adoption is asked for;
//! nothing is deleted from a failed or partial observation.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::aws::{Aws, AwsError, ErrorClass};
use crate::kinds::{Attrs, KindId, Observed, Wanted};
use crate::manifest::{Manifests, Resource};
use crate::plan::{Action, Change, Failure, FieldView, Note, Report, Status, Summary};
use crate::refs::{self, Target, contains_unknown};
use crate::state::{self, Entry, EntryState, Inventory};

pub use crate::manifest::DriftMode;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    /// `Kind/name` filters; empty means everything.
    pub only: Vec<String>,
    /// Delete owned resources that left the directory.
    pub prune: bool,
    /// Asked before every write (`vigil run`: shutdown, and the lease's fencing token).
    pub gate: Option<Arc<dyn WriteGate>>,
}

/// Asked before each resource is written. A refusal stops the run between two
/// resources, so none is left half-applied; what was applied is still recorded.
pub trait WriteGate: std::fmt::Debug + Send + Sync {
    fn check(&self) -> Result<(), String>;
}

impl Options {
    fn may_write(&self) -> Result<(), String> {
        self.gate.as_ref().map_or(Ok(()), |g| g.check())
    }
}

/// Why a reconcile stopped before writing anything.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--only {0}: no such resource in the directory; use Kind/name as declared")]
    UnknownOnly(String),
    /// A safety guard refused; nothing was written.
    #[error("refused: {0}")]
    Refused(String),
    #[error(transparent)]
    State(#[from] state::StateError),
}

/// Selected resources and everything they reference (needed to resolve references).
fn selection(
    m: &Manifests,
    only: &[String],
) -> Result<(BTreeSet<usize>, BTreeSet<usize>), StartError> {
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

/// Live state per declared resource index, undeclared extras by `Kind/name`,
/// and per-kind observation failures.
pub struct Observation {
    pub live: HashMap<usize, Observed>,
    pub extra: BTreeMap<String, Observed>,
    pub failed: HashMap<KindId, AwsError>,
}

impl Observation {
    /// Moves each declared resource's attributes out, for resolving references;
    /// at thousands of resources a copy would be megabytes.
    pub fn take_attrs(&mut self) -> HashMap<usize, Attrs> {
        self.live
            .iter_mut()
            .map(|(i, o)| (*i, std::mem::take(&mut o.attrs)))
            .collect()
    }
}

/// Observes declared resources `which` plus undeclared `extra` keys (`Kind/name`):
/// one batched observe per kind, all kinds concurrently. `inv` says which names
/// vigil already owns, so kinds that read ownership lazily know where it matters.
pub async fn observe_with(
    aws: &Aws,
    m: &Manifests,
    which: &BTreeSet<usize>,
    extra: &BTreeSet<(KindId, String)>,
    inv: &Inventory,
) -> Observation {
    let mut by_kind: BTreeMap<KindId, Wanted> = BTreeMap::new();
    for &i in which {
        let r = &m.resources[i];
        let w = by_kind.entry(r.kind).or_default();
        w.specs.insert(r.name.clone(), r.spec.clone());
        if !inv.owns(r.kind.name(), &r.name) {
            w.unowned.insert(r.name.clone());
        }
    }
    for (kind, name) in extra {
        by_kind
            .entry(*kind)
            .or_default()
            .specs
            .insert(name.clone(), Arc::new(Value::Null));
    }
    let results = futures::future::join_all(
        by_kind
            .iter()
            .map(|(kind, wanted)| async move { (*kind, kind.observe(aws, wanted).await) }),
    )
    .await;
    // Sized up front: growing by doubling would briefly hold two tables.
    let mut live = HashMap::with_capacity(which.len());
    let mut extra_live = BTreeMap::new();
    let mut failed = HashMap::new();
    for (kind, result) in results {
        match result {
            Ok(found) => {
                for (name, obs) in found {
                    match m.find(kind, &name) {
                        Some(i) if which.contains(&i) => {
                            live.insert(i, obs);
                        }
                        _ if extra.contains(&(kind, name.clone())) => {
                            extra_live.insert(state::key(kind.name(), &name), obs);
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => {
                failed.insert(kind, e);
            }
        }
    }
    Observation {
        live,
        extra: extra_live,
        failed,
    }
}

/// Observes the given declared resources (no inventory).
pub async fn observe(aws: &Aws, m: &Manifests, which: &BTreeSet<usize>) -> Observation {
    observe_with(aws, m, which, &BTreeSet::new(), &Inventory::default()).await
}

/// Resolves the references in one resource's spec; unknown values become markers.
/// A spec without any `${...}` is borrowed as it is.
pub fn resolve<'m>(
    m: &Manifests,
    r: &'m Resource,
    aws: &Aws,
    attrs: &HashMap<usize, Attrs>,
) -> Cow<'m, Value> {
    if !refs::has_references(&r.spec) {
        return Cow::Borrowed(&r.spec);
    }
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &d in &r.deps {
        let dep = &m.resources[d];
        declared
            .entry(dep.kind.name().to_string())
            .or_default()
            .push(dep.name.clone());
    }
    let lookup = |expr: &str| -> Option<String> {
        match refs::parse_expr(expr, &declared, &|_, _| Ok(())).ok()? {
            Target::AccountId => Some(aws.env.account_id.clone()),
            Target::Region => Some(aws.env.region.clone()),
            Target::Resource {
                kind,
                name,
                attribute,
            } => {
                let j = m.find(KindId::parse(&kind)?, &name)?;
                attrs.get(&j)?.get(&attribute).cloned()
            }
        }
    };
    Cow::Owned(refs::substitute_json(&r.spec, &lookup))
}

/// Attributes that survive an update unchanged.
const IDENTITY_ATTRIBUTES: &[&str] = &["arn", "name", "id"];

/// Who a live resource belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    Owned,
    /// Exists, but nothing says vigil made it.
    Unowned,
    /// Tagged by another vigil owner: never touched.
    Foreign(String),
}

pub fn ownership(
    inv: &Inventory,
    owner: &str,
    kind: KindId,
    name: &str,
    live: &Observed,
) -> Ownership {
    match &live.owner {
        Some(o) if o == owner => Ownership::Owned,
        Some(o) => Ownership::Foreign(o.clone()),
        None if inv.owns(kind.name(), name) => Ownership::Owned,
        None => Ownership::Unowned,
    }
}

/// The drift mode of a resource: its annotation, else the Settings default.
pub fn drift_mode(m: &Manifests, r: &Resource) -> DriftMode {
    r.annotations.drift.unwrap_or(m.settings.drift)
}

pub fn deletion_policy(r: &Resource) -> crate::manifest::DeletionPolicy {
    use crate::manifest::DeletionPolicy;
    match r.annotations.deletion_policy {
        Some(p) => p,
        None if r.kind.retain_by_default() => DeletionPolicy::Retain,
        None => DeletionPolicy::Delete,
    }
}

/// Plans, and unless `dry_run`, applies. Failures are per resource: a failed
/// resource skips its dependents but not the rest.
pub async fn run(
    aws: &Aws,
    m: &Manifests,
    opts: &Options,
    store: &state::Location,
) -> Result<Report, StartError> {
    let (selected, needed) = selection(m, &opts.only)?;
    let prune = (opts.prune || m.settings.prune) && opts.only.is_empty();
    let mut inv = store.load(aws).await?;
    // A dry run never writes the inventory, so it need not know whether it changed.
    let loaded = (!opts.dry_run).then(|| inv.fingerprint());

    if prune && m.resources.is_empty() {
        return Err(StartError::Refused(
            "prune is on but the directory declares no resources (missing, empty, or only Settings); \
             vigil will not delete everything it owns. Run `vigil destroy` to do that on purpose"
                .into(),
        ));
    }
    if prune && !m.settings_declared && inv.settings_declared {
        return Err(StartError::Refused(
            "prune is on but the directory has no Settings document, and it had one last time; \
             a wrong or partial checkout must not prune. Restore Settings, or run without --prune"
                .into(),
        ));
    }

    // Owned resources that left the directory.
    let declared: BTreeSet<String> = m.resources.iter().map(Resource::id).collect();
    let mut orphans: BTreeSet<(KindId, String)> = BTreeSet::new();
    let mut unknown_kinds = Vec::new();
    if prune {
        for (key, e) in &inv.resources {
            if declared.contains(key) {
                continue;
            }
            match KindId::parse(&e.kind) {
                Some(k) => {
                    orphans.insert((k, e.name.clone()));
                }
                None => unknown_kinds.push(key.clone()),
            }
        }
    }

    let mut obs = observe_with(aws, m, &needed, &orphans, &inv).await;
    let mut attrs = obs.take_attrs();
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut summary = Summary::default();

    // Deletions are decided before any write, so the guard can refuse the whole run.
    let mut deletions: Vec<(KindId, String, Observed)> = Vec::new();
    let mut forget: Vec<String> = Vec::new();
    if prune {
        if let Some((kind, e)) = obs.failed.iter().next() {
            errors.push(Failure {
                kind: kind.name().to_string(),
                name: "*".into(),
                class: e.class,
                message: format!("prune skipped: observing {kind} failed, and vigil never deletes from a partial observation: {e}"),
            });
            summary.failed += 1;
        } else {
            for key in &unknown_kinds {
                notes.push(Note {
                    kind: "inventory".into(),
                    name: key.clone(),
                    message: "this vigil does not know the kind; left alone".into(),
                });
            }
            for (kind, name) in &orphans {
                let key = state::key(kind.name(), name);
                let entry = &inv.resources[&key];
                match obs.extra.get(&key) {
                    None => forget.push(key),
                    Some(_) if entry.deletion_policy == crate::manifest::DeletionPolicy::Retain => {
                        notes.push(Note {
                            kind: kind.name().to_string(),
                            name: name.clone(),
                            message: "left the directory; deletion policy retain: no longer managed, not deleted".into(),
                        });
                        forget.push(key);
                    }
                    Some(live) => deletions.push((*kind, name.clone(), live.clone())),
                }
            }
            order_deletions(&mut deletions, &inv);
            let max = m.settings.max_deletions as usize;
            if deletions.len() > max {
                let list: Vec<String> = deletions
                    .iter()
                    .map(|(k, n, _)| format!("  - {k}/{n}"))
                    .collect();
                return Err(StartError::Refused(format!(
                    "prune would delete {} resources, more than Settings.maxDeletions ({max}); nothing was changed:\n{}",
                    deletions.len(),
                    list.join("\n")
                )));
            }
        }
    }

    let mut broken: BTreeSet<usize> = BTreeSet::new();
    let mut applied: Vec<(usize, Value)> = Vec::new();
    let mut intents_written = false;
    let revision = crate::git::revision(&m.dir);
    // Why writing stopped early (shutdown, lost lease): the rest waits for the next run.
    let mut stopped: Option<(String, String)> = None;

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
        let fail = |errors: &mut Vec<Failure>, class, message: String| {
            errors.push(Failure {
                kind: r.kind.name().to_string(),
                name: r.name.clone(),
                class,
                message,
            })
        };
        if let Some(&d) = r.deps.iter().find(|d| broken.contains(d)) {
            broken.insert(i);
            summary.failed += 1;
            fail(
                &mut errors,
                ErrorClass::Terminal,
                format!(
                    "skipped: it references {}, which failed or was refused",
                    m.resources[d].id()
                ),
            );
            continue;
        }
        let live = obs.live.get(&i);
        let mut adopt = false;
        if let Some(l) = live {
            match ownership(&inv, &m.settings.owner, r.kind, &r.name, l) {
                Ownership::Owned => {}
                Ownership::Foreign(o) => {
                    broken.insert(i);
                    summary.refused += 1;
                    fail(
                        &mut errors,
                        ErrorClass::Terminal,
                        format!(
                            "refused: it exists and is owned by vigil owner `{o}`, not `{}`; vigil never takes over another owner's resource",
                            m.settings.owner
                        ),
                    );
                    continue;
                }
                Ownership::Unowned => {
                    if r.annotations.adopt || m.settings.adopt {
                        adopt = true;
                    } else {
                        broken.insert(i);
                        summary.refused += 1;
                        fail(
                            &mut errors,
                            ErrorClass::Terminal,
                            "refused: it already exists in AWS and vigil did not create it. To manage it, add the annotation \
                             `vigil/adopt: \"true\"` to this manifest (or set `adopt: true` in Settings); otherwise rename the manifest's resource"
                                .into(),
                        );
                        continue;
                    }
                }
            }
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
                fail(&mut errors, ErrorClass::Terminal, msg);
                continue;
            }
        };
        let entry = inv
            .get(r.kind.name(), &r.name)
            .filter(|e| e.state == EntryState::Applied);
        // Applied before and gone now: deleted outside vigil.
        let mut drift = live.is_none() && entry.is_some();
        let (action, fields) = match live {
            None => (
                Action::Create,
                r.kind.diff(&desired, &Value::Object(Default::default())),
            ),
            Some(l) => {
                let d = r.kind.diff(&desired, &l.state(&aws.env));
                if d.is_empty() && !adopt {
                    summary.unchanged += 1;
                    // An owned resource with no record yet (or a stale one) gets recorded.
                    if !opts.dry_run && entry.is_none_or(|e| e.digest != state::digest(&desired)) {
                        record(&mut inv, m, r, &desired, revision.as_deref());
                    }
                    continue;
                }
                // Drift only, git unchanged: the resource's drift mode decides.
                let pending = entry.is_none_or(|e| {
                    contains_unknown(&desired) || e.digest != state::digest(&desired)
                });
                if !pending && !adopt {
                    drift = true;
                    match drift_mode(m, r) {
                        DriftMode::Correct => {}
                        DriftMode::Warn => {
                            let paths: Vec<&str> = d.iter().map(|f| f.path.as_str()).collect();
                            notes.push(Note {
                                kind: r.kind.name().to_string(),
                                name: r.name.clone(),
                                message: format!(
                                    "drifted ({}); not corrected because vigil/drift is warn",
                                    paths.join(", ")
                                ),
                            });
                            summary.unchanged += 1;
                            continue;
                        }
                        DriftMode::Ignore => {
                            summary.unchanged += 1;
                            continue;
                        }
                    }
                }
                (if adopt { Action::Adopt } else { Action::Update }, d)
            }
        };
        let mut change = Change {
            action,
            kind: r.kind.name().to_string(),
            name: r.name.clone(),
            fields: fields.into_iter().map(FieldView::from).collect(),
            status: Status::Planned,
            error: None,
            error_class: None,
            drift,
        };
        if opts.dry_run {
            // What dependents read from a changing resource may change too, except
            // its identity; they see "(known after apply)".
            if let Some(a) = attrs.get_mut(&i) {
                a.retain(|k, _| IDENTITY_ATTRIBUTES.contains(&k.as_str()));
            }
            if !contains_unknown(&resolved) {
                match r.kind.explain(aws, &r.name, &resolved, live).await {
                    Ok(Some(extra)) => change
                        .fields
                        .extend(extra.into_iter().map(FieldView::explained)),
                    Ok(None) => {
                        summary.unchanged += 1;
                        continue;
                    }
                    Err(e) => {
                        change.error = Some(format!("could not compute the detailed plan: {e}"))
                    }
                }
            }
        } else {
            if let Err(reason) = opts.may_write() {
                stopped = Some((r.id(), reason));
                break;
            }
            // Write-ahead: before the first create, record intents so a crash
            // between a create and the final inventory write still leaves the
            // new resource known as ours (no duplicates, no orphans).
            if action == Action::Create && !intents_written {
                mark_intents(&mut inv, m, &selected, &obs, &declared);
                store.save(aws, &inv).await?;
                intents_written = true;
            }
            let result = if contains_unknown(&resolved) {
                Err(AwsError::other(
                    "vigil",
                    "Resolve",
                    "a referenced value is still unknown; apply the resource it references first",
                ))
            } else {
                tracing::info!(kind = %r.kind, name = %r.name, action = ?action, "applying");
                r.kind
                    .apply(
                        aws,
                        &r.name,
                        &resolved,
                        live,
                        &crate::kinds::ApplyOptions {
                            recreate_on_rollback: r.annotations.recreate_on_rollback,
                        },
                    )
                    .await
            };
            match result {
                Ok(a) => {
                    attrs.insert(i, a);
                    change.status = Status::Applied;
                    record(&mut inv, m, r, &desired, revision.as_deref());
                    applied.push((i, resolved.into_owned()));
                    failpoint_after_apply(applied.len()).await;
                }
                Err(e) => {
                    broken.insert(i);
                    change.status = Status::Failed;
                    change.error = Some(e.to_string());
                    change.error_class = Some(e.class);
                    summary.failed += 1;
                }
            }
        }
        match action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Adopt => summary.adopt += 1,
            Action::Delete => summary.delete += 1,
        }
        changes.push(change);
    }

    // Second steps, in dependency order, once everything else exists.
    for (i, resolved) in applied {
        let r = &m.resources[i];
        if stopped.is_none()
            && let Err(reason) = opts.may_write()
        {
            stopped = Some((r.id(), reason));
        }
        if stopped.is_some() {
            break;
        }
        if let Err(e) = r.kind.finalize(aws, &r.name, &resolved).await
            && let Some(c) = changes
                .iter_mut()
                .find(|c| c.kind == r.kind.name() && c.name == r.name)
        {
            c.status = Status::Failed;
            c.error = Some(e.to_string());
            c.error_class = Some(e.class);
            summary.failed += 1;
        }
    }

    // Prune: reverse dependency order, after everything else.
    for (kind, name, live) in deletions {
        if stopped.is_none()
            && let Err(reason) = opts.may_write()
        {
            stopped = Some((state::key(kind.name(), &name), reason));
        }
        if stopped.is_some() {
            break;
        }
        let mut change = Change {
            action: Action::Delete,
            kind: kind.name().to_string(),
            name: name.clone(),
            fields: Vec::new(),
            status: Status::Planned,
            error: None,
            error_class: None,
            drift: false,
        };
        summary.delete += 1;
        if !opts.dry_run {
            match kind.delete(aws, &name, &live).await {
                Ok(()) => {
                    change.status = Status::Applied;
                    inv.resources.remove(&state::key(kind.name(), &name));
                }
                Err(e) if e.is_not_found() => {
                    change.status = Status::Applied;
                    inv.resources.remove(&state::key(kind.name(), &name));
                }
                Err(e) => {
                    change.status = Status::Failed;
                    change.error = Some(e.to_string());
                    change.error_class = Some(e.class);
                    summary.failed += 1;
                }
            }
        }
        changes.push(change);
    }
    if let Some((at, reason)) = stopped {
        errors.push(Failure {
            kind: "vigil".into(),
            name: "*".into(),
            class: ErrorClass::Transient,
            message: format!(
                "stopped before writing {at}: {reason}; the rest waits for the next run"
            ),
        });
        summary.failed += 1;
    }
    if !opts.dry_run {
        for key in forget {
            inv.resources.remove(&key);
        }
        inv.owner = m.settings.owner.clone();
        inv.settings_declared = m.settings_declared;
        if Some(inv.fingerprint()) != loaded {
            store.save(aws, &inv).await?;
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

/// Crash tests need vigil stopped between an apply and the inventory write:
/// `VIGIL_FAILPOINT=after-first-apply` parks the process there so a test can SIGKILL it.
async fn failpoint_after_apply(applied: usize) {
    if applied == 1 && std::env::var("VIGIL_FAILPOINT").as_deref() == Ok("after-first-apply") {
        eprintln!("failpoint after-first-apply: waiting to be killed");
        tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    }
}

/// Records what was just applied (or found already matching).
fn record(
    inv: &mut Inventory,
    m: &Manifests,
    r: &Resource,
    desired: &Value,
    revision: Option<&str>,
) {
    let deps = r.deps.iter().map(|&d| m.resources[d].id()).collect();
    inv.resources.insert(
        r.id(),
        Entry {
            kind: r.kind.name().to_string(),
            name: r.name.clone(),
            state: EntryState::Applied,
            digest: state::digest(desired),
            applied: state::AppliedJson::new(desired),
            revision: revision.map(str::to_string),
            deletion_policy: deletion_policy(r),
            deps,
            applied_at: Some(state::now_rfc3339()),
        },
    );
}

/// Adds a `creating` entry for every selected resource that does not exist yet.
fn mark_intents(
    inv: &mut Inventory,
    m: &Manifests,
    selected: &BTreeSet<usize>,
    obs: &Observation,
    declared: &BTreeSet<String>,
) {
    for &i in selected {
        let r = &m.resources[i];
        if obs.live.contains_key(&i)
            || inv.owns(r.kind.name(), &r.name)
            || !declared.contains(&r.id())
        {
            continue;
        }
        inv.resources.insert(
            r.id(),
            Entry {
                kind: r.kind.name().to_string(),
                name: r.name.clone(),
                state: EntryState::Creating,
                digest: String::new(),
                applied: state::AppliedJson::default(),
                revision: None,
                deletion_policy: deletion_policy(r),
                deps: r.deps.iter().map(|&d| m.resources[d].id()).collect(),
                applied_at: None,
            },
        );
    }
}

/// Orders `keys` (`Kind/name`) for deletion: a resource goes before everything
/// it references (`deps`), so dependents are deleted first.
pub fn deletion_order(keys: &[String], deps: &HashMap<String, Vec<String>>) -> Vec<String> {
    // depth = the longest chain of dependents within the set.
    fn depth(
        key: &str,
        keys: &[String],
        deps: &HashMap<String, Vec<String>>,
        seen: &mut Vec<String>,
    ) -> usize {
        if seen.iter().any(|s| s == key) {
            return 0;
        }
        seen.push(key.to_string());
        let d = keys
            .iter()
            .filter(|k| deps.get(*k).is_some_and(|ds| ds.iter().any(|x| x == key)))
            .map(|k| 1 + depth(k, keys, deps, seen))
            .max()
            .unwrap_or(0);
        seen.pop();
        d
    }
    let mut out: Vec<(usize, String)> = keys
        .iter()
        .map(|k| (depth(k, keys, deps, &mut Vec::new()), k.clone()))
        .collect();
    // Stable: resources nothing depends on go first.
    out.sort_by_key(|(d, _)| *d);
    out.into_iter().map(|(_, k)| k).collect()
}

fn order_deletions(deletions: &mut Vec<(KindId, String, Observed)>, inv: &Inventory) {
    let keys: Vec<String> = deletions
        .iter()
        .map(|(k, n, _)| state::key(k.name(), n))
        .collect();
    let deps: HashMap<String, Vec<String>> = inv
        .resources
        .iter()
        .map(|(k, e)| (k.clone(), e.deps.clone()))
        .collect();
    let order = deletion_order(&keys, &deps);
    let mut by_key: HashMap<String, (KindId, String, Observed)> = deletions
        .drain(..)
        .map(|d| (state::key(d.0.name(), &d.1), d))
        .collect();
    deletions.extend(order.iter().filter_map(|k| by_key.remove(k)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_are_deleted_first() {
        let keys: Vec<String> = ["Topic/t", "MetricAlarm/a", "CompositeAlarm/c"]
            .map(String::from)
            .to_vec();
        let deps = HashMap::from([
            ("MetricAlarm/a".to_string(), vec!["Topic/t".to_string()]),
            (
                "CompositeAlarm/c".to_string(),
                vec!["MetricAlarm/a".to_string(), "Topic/t".to_string()],
            ),
        ]);
        assert_eq!(
            deletion_order(&keys, &deps),
            vec!["CompositeAlarm/c", "MetricAlarm/a", "Topic/t"]
        );
    }
}
