//! Plan: a pure function from the manifests, the observation and the inventory
//! to a [`Plan`] of typed steps. Every safety rule lives here: ownership,
//! adoption, drift modes, deletion policy, prune guards, maxDeletions and
//! partial observations. Nothing here calls AWS.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::observe::Snapshot;
use super::report::{Failure, FailureCode, Note, NoteCode};
use crate::aws::{Env, ErrorClass};
use crate::diff::FieldDiff;
use crate::kinds::{Attrs, Desired, KindId, LiveOwner, Observed};
use crate::manifest::{DeletionPolicy, DriftMode, Manifests, Resource};
use crate::refs::{self, Referent, contains_unknown};
use crate::state::{self, AppliedJson, Entry, EntryState, Inventory, ResourceId};

/// What a run was asked to do.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub dry_run: bool,
    /// `Kind/name` filters; empty means everything.
    pub only: Vec<String>,
    /// `--prune` (Settings.prune turns it on too).
    pub prune: bool,
    /// The git revision being applied, recorded in the inventory.
    pub revision: Option<String>,
    /// When, for the inventory's `appliedAt` (passed in: planning reads no clock).
    pub now: String,
}

/// Why a run stops before it writes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stop {
    #[error("--only {0}: no such resource in the directory; use Kind/name as declared")]
    UnknownOnly(String),
    /// A safety guard refused the whole run.
    #[error("refused: {0}")]
    Refused(String),
}

/// What to observe, decided before observing: the selection, what it
/// references, and the owned resources that left the directory.
#[derive(Debug, Clone, Default)]
pub struct PlanScope {
    /// Resources to plan.
    pub selected: BTreeSet<usize>,
    /// The selected ones and everything they reference (to resolve references).
    pub needed: BTreeSet<usize>,
    /// Whether prune runs (`--only` never prunes).
    pub prune: bool,
    /// Owned resources that left the directory, to observe for prune.
    pub orphans: BTreeSet<(KindId, String)>,
    /// Inventory entries of kinds this vigil does not know.
    pub unknown_kinds: Vec<String>,
}

/// Whether prune runs: `--prune` or `Settings.prune` asks for it, and `--only` never prunes.
pub fn prunes(asked: bool, settings_prune: bool, only: &[String]) -> bool {
    (asked || settings_prune) && only.is_empty()
}

/// A desired-state directory that does not exist (a typo, a checkout not made).
/// Under prune it is refused: it must never read as "delete everything". Without
/// prune it is `Ok`, and the caller reports the directory as an error.
pub fn guard_missing_directory(dir: &Path, prune: bool) -> Result<(), Stop> {
    if prune {
        return Err(Stop::Refused(format!(
            "prune is on but the directory declares no resources: {} does not exist; \
             vigil will not delete everything it owns. Pass the desired-state directory, or run `vigil destroy` to do that on purpose",
            dir.display()
        )));
    }
    Ok(())
}

/// What a one-shot run does once the directory is loaded, before any AWS call.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Connect to each target, observe and plan.
    Observe,
    /// No resources, Settings or Targets, and no prune: an empty report with
    /// nothing to look at in AWS. (With Settings, the account guard still runs.)
    NothingDeclared,
}

/// The directory guards ([`guard_directory`]), then whether there is anything to observe.
pub fn start(m: &Manifests, prune: bool) -> Result<Start, Stop> {
    guard_directory(m, prune)?;
    let declared =
        !m.resources.is_empty() || m.settings_declared || m.targets.iter().any(|t| t.declared);
    Ok(if declared {
        Start::Observe
    } else {
        Start::NothingDeclared
    })
}

/// The guard that needs no AWS: prune of a directory that declares nothing.
pub fn guard_directory(m: &Manifests, prune: bool) -> Result<(), Stop> {
    if prune && m.resources.is_empty() {
        return Err(Stop::Refused(
            "prune is on but the directory declares no resources (missing, empty, or only Settings); \
             vigil will not delete everything it owns. Run `vigil destroy` to do that on purpose"
                .into(),
        ));
    }
    Ok(())
}

/// The selection and the prune guards, before anything is observed.
pub fn scope(m: &Manifests, inv: &Inventory, opts: &PlanOptions) -> Result<PlanScope, Stop> {
    let selected: BTreeSet<usize> = if opts.only.is_empty() {
        (0..m.resources.len()).collect()
    } else {
        opts.only
            .iter()
            .map(|o| {
                m.resources
                    .iter()
                    .position(|r| r.id().to_string() == *o)
                    .ok_or_else(|| Stop::UnknownOnly(o.clone()))
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
    let prune = prunes(opts.prune, m.settings.prune, &opts.only);
    guard_directory(m, prune)?;
    if prune && !m.settings_declared && inv.settings_declared {
        return Err(Stop::Refused(
            "prune is on but the directory has no Settings document, and it had one last time; \
             a wrong or partial checkout must not prune. Restore Settings, or run without --prune"
                .into(),
        ));
    }
    let mut orphans = BTreeSet::new();
    let mut unknown_kinds = Vec::new();
    if prune {
        for id in inv.resources.keys() {
            if m.find_id(id).is_none() {
                orphans.insert((id.kind, id.name.clone()));
            }
        }
        unknown_kinds.extend(inv.resources.unknown.keys().cloned());
    }
    Ok(PlanScope {
        selected,
        needed,
        prune,
        orphans,
        unknown_kinds,
    })
}

/// Who a live resource belongs to, from its owner tag, or the inventory where
/// AWS cannot tag the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    Owned,
    /// Exists, and nothing says vigil made it.
    Unowned,
    /// Tagged by another vigil owner: never touched.
    Foreign(String),
    /// The inventory lists it, but its tags carry no owner: it was deleted and
    /// made again (or retagged) outside vigil.
    Recreated,
    /// The inventory records it as being created, but it carries no owner tag
    /// and is not what vigil was creating: someone else made it.
    Unconfirmed,
}

/// Who a live resource belongs to. `entry` must come from an inventory bound
/// to `owner` and this account and region (see [`plan`]). An entry still
/// `creating` proves nothing on its own for a kind that carries the owner tag:
/// without the tag, the resource is vigil's only if it is what vigil was
/// creating ([`is_intended`]); `desired` is the spec being applied now, for
/// intents recorded without one.
pub fn ownership(
    owner: &str,
    kind: KindId,
    live: &Observed,
    entry: Option<&Entry>,
    desired: Option<&Value>,
    env: &Env,
) -> Ownership {
    let creating = |e: &Entry| {
        if is_intended(kind, live, e, desired, env) {
            Ownership::Owned
        } else {
            Ownership::Unconfirmed
        }
    };
    match (&live.owner, entry) {
        (LiveOwner::Tagged(o), _) if o == owner => Ownership::Owned,
        (LiveOwner::Tagged(o), _) => Ownership::Foreign(o.clone()),
        // A create that crashed before its tags landed, if it is what was being created.
        (LiveOwner::Untagged, Some(e)) if e.state == EntryState::Creating => creating(e),
        (LiveOwner::Untagged, Some(_)) => Ownership::Recreated,
        // The inventory is the only record of what cannot be tagged: an entry of
        // this owner, account and region, applied or still creating (a crash can
        // leave it half made, such as a Config recorder created but not started).
        (LiveOwner::Untaggable, Some(_)) => Ownership::Owned,
        (LiveOwner::Untagged | LiveOwner::Untaggable, None) => Ownership::Unowned,
    }
}

/// Whether a live resource is what vigil was creating when it recorded the
/// intent `e`: its recorded spec, or where that was not fully known (values
/// known only after apply, or an intent written before vigil recorded one)
/// the spec being applied now, equals the live one but for tags, which are
/// what may not have landed; or the live one is what the kind's create call
/// alone leaves (a crash between the calls of a create, [`crate::kinds::Kind::bare`]).
pub fn is_intended(
    kind: KindId,
    live: &Observed,
    e: &Entry,
    desired: Option<&Value>,
    env: &Env,
) -> bool {
    let recorded = e.applied.value();
    let intent = if recorded.is_object() && !contains_unknown(&recorded) {
        recorded
    } else {
        match desired {
            Some(d) if !contains_unknown(d) => d.clone(),
            _ => return false,
        }
    };
    let untagged = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("tags");
        }
        v
    };
    let live = live.state(env);
    // A recorded intent keeps its secrets as salted hashes.
    let intent = crate::secret::unseal(&intent, &live, &format!("{}/{}", e.kind, e.name));
    kind.bare(&live) || kind.diff(&untagged(intent), &untagged(live)).is_empty()
}

/// A safety refusal of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Foreign(String),
    Unowned,
    Recreated,
    Unconfirmed,
}

impl Refusal {
    pub fn message(&self, owner: &str) -> String {
        match self {
            Refusal::Foreign(o) => format!(
                "refused: it exists and is owned by vigil owner `{o}`, not `{owner}`; vigil never takes over another owner's resource"
            ),
            Refusal::Unowned => "refused: it already exists in AWS and vigil did not create it. To manage it, add the annotation \
                 `vigil/adopt: \"true\"` to this manifest (or set `adopt: true` in Settings); otherwise rename the manifest's resource"
                .to_string(),
            Refusal::Recreated => format!(
                "refused: vigil's inventory lists it, but the live resource has no vigil:owner tag, so someone deleted and \
                 recreated it (or removed the tag) outside vigil. If it is safe to take over, add `vigil/adopt: \"true\"`; \
                 otherwise rename the manifest's resource (owner `{owner}`)"
            ),
            Refusal::Unconfirmed => unconfirmed(
                owner,
                "If it is safe to take over, add `vigil/adopt: \"true\"` to this manifest (or set `adopt: true` \
                 in Settings); otherwise rename the manifest's resource",
            ),
        }
    }
}

/// Why a live resource recorded as `creating` is not taken as vigil's.
fn unconfirmed(owner: &str, todo: &str) -> String {
    format!(
        "refused: vigil's inventory records it as being created (owner `{owner}`), but the live resource has no \
         vigil:owner tag and differs from what vigil was creating, so someone else made it; vigil neither \
         overwrites nor deletes it. {todo}"
    )
}

/// Why a resource is not planned.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// Its kind could not be observed.
    ObserveFailed { class: ErrorClass, message: String },
    /// It references a resource that failed or was refused.
    Dependency(ResourceId),
    /// Its spec, with references resolved, does not check.
    Invalid(String),
}

/// What happens to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// `drift`: vigil applied it before and it is gone now.
    Create {
        fields: Vec<FieldDiff>,
        drift: bool,
    },
    /// `drift`: AWS changed and git did not; the change puts AWS back.
    Update {
        fields: Vec<FieldDiff>,
        drift: bool,
    },
    Adopt {
        fields: Vec<FieldDiff>,
    },
    Delete,
    /// AWS drifted and `vigil/drift: warn` leaves it.
    DriftWarned {
        fields: Vec<FieldDiff>,
    },
    Refused(Refusal),
    Skipped(Skip),
}

impl Decision {
    /// The fields that differ, where the decision compared any.
    pub fn fields(&self) -> &[FieldDiff] {
        match self {
            Decision::Create { fields, .. }
            | Decision::Update { fields, .. }
            | Decision::Adopt { fields }
            | Decision::DriftWarned { fields } => fields,
            Decision::Delete | Decision::Refused(_) | Decision::Skipped(_) => &[],
        }
    }

    /// Whether the step writes.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Decision::Create { .. }
                | Decision::Update { .. }
                | Decision::Adopt { .. }
                | Decision::Delete
        )
    }
}

/// One planned step. Unchanged resources are counted, not stepped.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: KindId,
    pub name: String,
    /// The declared resource, or `None` for an owned one that left the directory.
    pub resource: Option<usize>,
    pub decision: Decision,
    /// The desired state with references resolved as far as they are known:
    /// the typed spec that apply and finalize take, and its normalized form.
    pub desired: Option<Arc<Desired>>,
    /// Some referenced value is known only after another step applies: the
    /// executor resolves and decides this one again then.
    pub unresolved: bool,
    /// Steps that must finish first.
    pub after: Vec<usize>,
    /// Detail from the dry-run preview (a change set's resource changes).
    pub explained: Vec<FieldDiff>,
    /// The preview could not be computed.
    pub preview_error: Option<String>,
}

/// A plan: steps in dependency order (deletions last, dependents first), and
/// what the inventory learns without a write.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub dry_run: bool,
    pub steps: Vec<Step>,
    /// Resources that already match.
    pub unchanged: usize,
    pub notes: Vec<Note>,
    pub errors: Vec<Failure>,
    /// Entries for resources that match but whose record is missing or stale.
    pub records: Vec<Entry>,
    /// Inventory entries to drop: gone, retained after leaving, or no longer vigil's.
    pub forget: Vec<ResourceId>,
    /// `Settings.owner`, for messages.
    pub owner: String,
}

impl Plan {
    /// Drops the steps at `gone` (which are found unchanged after all); the
    /// others keep their order and the steps they wait for.
    pub fn drop_steps(&mut self, gone: &BTreeSet<usize>) {
        let mut new_index = Vec::with_capacity(self.steps.len());
        let mut next = 0;
        for n in 0..self.steps.len() {
            new_index.push((!gone.contains(&n)).then(|| {
                next += 1;
                next - 1
            }));
        }
        let steps = std::mem::take(&mut self.steps);
        self.steps = steps
            .into_iter()
            .enumerate()
            .filter(|(n, _)| !gone.contains(n))
            .map(|(_, mut s)| {
                s.after = s.after.iter().filter_map(|a| new_index[*a]).collect();
                s
            })
            .collect();
        self.unchanged += gone.len();
    }

    pub fn has_creates(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.decision, Decision::Create { .. }))
    }
}

/// Attributes that survive an update unchanged.
const IDENTITY_ATTRIBUTES: &[&str] = &["arn", "name", "id"];

/// Resolves the references in one resource's spec. `value` answers for a
/// referenced resource's attribute; `None` makes the value unknown. A spec
/// without any `${...}` is borrowed as it is.
pub fn resolve<'m>(
    m: &Manifests,
    r: &'m Resource,
    obs: &Snapshot,
    value: &dyn Fn(usize, &str) -> Option<String>,
) -> Cow<'m, Value> {
    let env = &obs.env;
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
            Referent::AccountId => Some(env.account_id.clone()),
            // Read before planning (`secret::resolve`); absent only where a
            // command plans without them, and then unknown.
            Referent::Secret(s) => obs.secrets.get(&s.expr()).cloned(),
            Referent::Region => Some(env.region.clone()),
            // `Manifests::for_target` replaces these; one left here was never
            // given a target, so it stays unknown and cannot be applied.
            Referent::TargetName | Referent::TargetValue(_) => {
                tracing::error!("`${{{expr}}}` was not resolved for a target");
                None
            }
            Referent::Resource {
                kind,
                name,
                attribute,
            } => value(m.find(KindId::parse(&kind)?, &name)?, &attribute),
        }
    };
    Cow::Owned(refs::substitute_json(&r.spec, &lookup))
}

/// The drift mode of a resource: its annotation, else the Settings default.
pub fn drift_mode(m: &Manifests, r: &Resource) -> DriftMode {
    r.annotations.drift.unwrap_or(m.settings.drift)
}

pub fn deletion_policy(r: &Resource) -> DeletionPolicy {
    match r.annotations.deletion_policy {
        Some(p) => p,
        None if r.kind.retain_by_default() => DeletionPolicy::Retain,
        None => DeletionPolicy::Delete,
    }
}

/// The inventory entry for a resource applied (or found matching) with `desired`.
pub fn entry(
    m: &Manifests,
    r: &Resource,
    desired: &Value,
    revision: Option<&str>,
    now: &str,
) -> Entry {
    Entry {
        kind: r.kind.name().to_string(),
        name: r.name.clone(),
        state: EntryState::Applied,
        digest: state::digest(desired),
        // Secrets are kept as salted hashes: drift in them is still seen.
        applied: AppliedJson::new(&crate::secret::seal(desired, &r.id().to_string())),
        revision: revision.map(str::to_string),
        deletion_policy: deletion_policy(r),
        deps: r.deps.iter().map(|&d| m.resources[d].id()).collect(),
        applied_at: Some(now.to_string()),
    }
}

/// What becomes of one declared, owned (or adopted) resource, given its
/// desired and live state: the rule shared by the planner and by the
/// executor when it decides a step again once its references are known.
pub fn decide(
    m: &Manifests,
    r: &Resource,
    desired: &Value,
    live: Option<&Observed>,
    entry: Option<&Entry>,
    adopt: bool,
    env: &Env,
) -> Option<Decision> {
    let applied = entry.filter(|e| e.state == EntryState::Applied);
    let Some(l) = live else {
        // Applied before and gone now: deleted outside vigil.
        return Some(Decision::Create {
            fields: r.kind.diff(desired, &Value::Object(Default::default())),
            drift: applied.is_some(),
        });
    };
    let fields = r.kind.diff(desired, &l.state(env));
    if fields.is_empty() && !adopt {
        return None;
    }
    if adopt {
        return Some(Decision::Adopt { fields });
    }
    // Git unchanged since the last apply: AWS drifted, and the drift mode decides.
    let pending =
        applied.is_none_or(|e| contains_unknown(desired) || e.digest != state::digest(desired));
    if pending {
        return Some(Decision::Update {
            fields,
            drift: false,
        });
    }
    match drift_mode(m, r) {
        DriftMode::Correct => Some(Decision::Update {
            fields,
            drift: true,
        }),
        DriftMode::Warn => Some(Decision::DriftWarned { fields }),
        DriftMode::Ignore => None,
    }
}

/// Plans a run. Pure: the same inputs give the same plan.
pub fn plan(
    m: &Manifests,
    obs: &Snapshot,
    inv: &Inventory,
    scope: &PlanScope,
    opts: &PlanOptions,
) -> Result<Plan, Stop> {
    guard_binding(m, obs, inv)?;
    let mut walk = Walk {
        m,
        obs,
        inv,
        opts,
        plan: Plan {
            dry_run: opts.dry_run,
            owner: m.settings.owner.clone(),
            notes: obs.notes.clone(),
            ..Plan::default()
        },
        changing: HashSet::new(),
        broken: HashSet::new(),
        step_of: HashMap::new(),
    };
    for i in &scope.needed {
        walk.resource(*i, scope.selected.contains(i));
    }
    let mut plan = walk.plan;
    if scope.prune {
        prune(m, obs, inv, scope, &mut plan)?;
    }
    Ok(plan)
}

/// An inventory entry is evidence of ownership only for the owner, account and
/// region the inventory is bound to: without that, no untaggable resource is
/// overwritten or pruned on its strength (the engine binds or refuses the
/// inventory before planning; this is the planner's own rule).
pub fn guard_binding(m: &Manifests, obs: &Snapshot, inv: &Inventory) -> Result<(), Stop> {
    let here = state::Binding {
        owner: m.settings.owner.clone(),
        account: obs.env.account_id.clone(),
        region: obs.env.region.clone(),
        target: None,
    };
    if inv.resources.is_empty() || inv.bound_to(&here) {
        return Ok(());
    }
    Err(Stop::Refused(
        match inv.check_binding(&here, "loaded for this run") {
            Err(mismatch) => mismatch.to_string(),
            Ok(_) => format!(
                "the inventory records no owner, account and region, so its entries are not evidence that owner `{}` \
                 owns anything in account {}, region {}; nothing was planned",
                here.owner, here.account, here.region
            ),
        },
    ))
}

/// The planner's walk over declared resources, in dependency order.
struct Walk<'a> {
    m: &'a Manifests,
    obs: &'a Snapshot,
    inv: &'a Inventory,
    opts: &'a PlanOptions,
    plan: Plan,
    /// Resources that will not be as observed: dependents read "(known after
    /// apply)" from them (but for their identity), and wait for them.
    changing: HashSet<usize>,
    /// Resources refused, skipped or failed: their dependents are skipped.
    broken: HashSet<usize>,
    /// The step of each changing resource.
    step_of: HashMap<usize, usize>,
}

impl Walk<'_> {
    /// Plans resource `i`: a needed one that is not `selected` is only read.
    fn resource(&mut self, i: usize, selected: bool) {
        let (m, obs) = (self.m, self.obs);
        let r = &m.resources[i];
        if let Some(e) = obs.failed.get(&r.kind) {
            let skip = Skip::ObserveFailed {
                class: e.class(),
                message: e.to_string(),
            };
            return self.stop(i, selected.then_some(Decision::Skipped(skip)));
        }
        if !selected {
            return;
        }
        if let Some(&d) = r.deps.iter().find(|d| self.broken.contains(d)) {
            let skip = Skip::Dependency(m.resources[d].id());
            return self.stop(i, Some(Decision::Skipped(skip)));
        }
        let live = obs.live.get(&i);
        let entry = self.inv.get(&r.id());
        let value = |j: usize, attr: &str| -> Option<String> {
            if self.changing.contains(&j) && !IDENTITY_ATTRIBUTES.contains(&attr) {
                return None;
            }
            match obs.attrs(j) {
                Some(a) => a.get(attr).cloned(),
                // Not created yet: its name is the manifest's, known before apply
                // (a composite alarm's rule over new alarms is shown whole).
                None if attr == "name" => Some(m.resources[j].name.clone()),
                None => None,
            }
        };
        let resolved = resolve(m, r, obs, &value);
        let desired = r.kind.desired(&resolved, &obs.env);
        let adopt =
            match live.map(|l| self.owned(r, l, entry, desired.as_ref().ok().map(|d| &d.state))) {
                Some(Err(refusal)) => return self.stop(i, Some(Decision::Refused(refusal))),
                Some(Ok(adopt)) => adopt,
                None => false,
            };
        if let Some(l) = live {
            self.plan.notes.extend(live_notes(r, l));
        }
        let desired = match desired {
            Ok(d) => d,
            Err(e) => return self.stop(i, Some(Decision::Skipped(Skip::Invalid(e.to_string())))),
        };
        match decide(m, r, &desired.state, live, entry, adopt, &obs.env) {
            None => self.unchanged(r, &desired.state, entry),
            Some(d @ Decision::DriftWarned { .. }) => {
                self.plan.steps.push(step(r, Some(i), d, None, false));
                self.plan.unchanged += 1;
            }
            Some(d) => {
                self.changing.insert(i);
                let unresolved = contains_unknown(&resolved);
                let mut s = step(r, Some(i), d, Some(Arc::new(desired)), unresolved);
                s.after = r
                    .deps
                    .iter()
                    .filter_map(|d| self.step_of.get(d).copied())
                    .collect();
                self.step_of.insert(i, self.plan.steps.len());
                self.plan.steps.push(s);
            }
        }
    }

    /// Whether vigil may act on a live resource: `Ok(adopt)`, or why not.
    fn owned(
        &self,
        r: &Resource,
        live: &Observed,
        entry: Option<&Entry>,
        desired: Option<&Value>,
    ) -> Result<bool, Refusal> {
        let wants_adopt = r.annotations.adopt || self.m.settings.adopt;
        let env = &self.obs.env;
        match ownership(&self.plan.owner, r.kind, live, entry, desired, env) {
            Ownership::Owned => Ok(false),
            Ownership::Foreign(o) => Err(Refusal::Foreign(o)),
            Ownership::Unowned | Ownership::Recreated | Ownership::Unconfirmed if wants_adopt => {
                Ok(true)
            }
            Ownership::Unowned => Err(Refusal::Unowned),
            Ownership::Recreated => Err(Refusal::Recreated),
            Ownership::Unconfirmed => Err(Refusal::Unconfirmed),
        }
    }

    /// A resource not written this run; its dependents are skipped.
    fn stop(&mut self, i: usize, decision: Option<Decision>) {
        self.broken.insert(i);
        if let Some(d) = decision {
            let r = &self.m.resources[i];
            self.plan.steps.push(step(r, Some(i), d, None, false));
        }
    }

    /// Matches already; a missing or stale record is written (not in a dry run).
    fn unchanged(&mut self, r: &Resource, desired: &Value, entry: Option<&Entry>) {
        self.plan.unchanged += 1;
        let stale = entry
            .is_none_or(|e| e.state != EntryState::Applied || e.digest != state::digest(desired));
        if !self.opts.dry_run && stale {
            let o = self.opts;
            let e = self::entry(self.m, r, desired, o.revision.as_deref(), &o.now);
            self.plan.records.push(e);
        }
    }
}

fn step(
    r: &Resource,
    i: Option<usize>,
    decision: Decision,
    desired: Option<Arc<Desired>>,
    unresolved: bool,
) -> Step {
    Step {
        kind: r.kind,
        name: r.name.clone(),
        resource: i,
        decision,
        desired,
        unresolved,
        after: Vec::new(),
        explained: Vec::new(),
        preview_error: None,
    }
}

/// What the observation says about a resource worth telling.
fn live_notes<'a>(r: &'a Resource, l: &'a Observed) -> impl Iterator<Item = Note> + 'a {
    let kind = r.kind.name();
    l.notes
        .iter()
        .map(move |n| Note::new(kind, &r.name, NoteCode::Observed, n.clone()))
        .chain(l.pending.iter().map(move |p| {
            Note::new(
                kind,
                &r.name,
                NoteCode::PendingConfirmation,
                format!("subscription {p} is pending confirmation"),
            )
        }))
}

/// Deletions of owned resources that left the directory, decided before any
/// write so that the guards can refuse the whole run.
fn prune(
    m: &Manifests,
    obs: &Snapshot,
    inv: &Inventory,
    scope: &PlanScope,
    plan: &mut Plan,
) -> Result<(), Stop> {
    if let Some((kind, e)) = obs.failed.iter().next() {
        plan.errors.push(Failure {
            kind: kind.name().to_string(),
            name: "*".into(),
            class: e.class(),
            message: format!(
                "prune skipped: observing {kind} failed, and vigil never deletes from a partial observation: {e}"
            ),
            code: FailureCode::PruneSkipped,
        });
        return Ok(());
    }
    for key in &scope.unknown_kinds {
        plan.notes.push(Note::new(
            "inventory",
            key,
            NoteCode::UnknownKind,
            "this vigil does not know the kind; left alone",
        ));
    }
    let mut deletions: Vec<ResourceId> = Vec::new();
    for (kind, name) in &scope.orphans {
        let key = ResourceId::new(*kind, name.as_str());
        let entry = &inv.resources[&key];
        let Some(live) = obs.extra.get(&key) else {
            plan.forget.push(key);
            continue;
        };
        if entry.deletion_policy == DeletionPolicy::Retain {
            plan.notes.push(Note::new(
                kind.name(),
                name,
                NoteCode::Retained,
                "left the directory; deletion policy retain: no longer managed, not deleted",
            ));
            plan.forget.push(key);
            continue;
        }
        match ownership(&plan.owner, *kind, live, Some(entry), None, &obs.env) {
            Ownership::Owned => deletions.push(key),
            other => {
                // Not vigil's any more: never deleted, and no longer recorded.
                let message = match other {
                    Ownership::Foreign(o) => left(&format!("it is now owned by vigil owner `{o}`")),
                    Ownership::Unconfirmed => unconfirmed(
                        &plan.owner,
                        "vigil stops recording it; to manage it, declare it again with `vigil/adopt: \"true\"`",
                    ),
                    _ => left(
                        "its vigil:owner tag is gone, so it was recreated or retagged outside vigil",
                    ),
                };
                plan.errors.push(Failure {
                    kind: kind.name().to_string(),
                    name: name.clone(),
                    class: ErrorClass::Terminal,
                    message,
                    code: FailureCode::Refused,
                });
                plan.forget.push(key);
            }
        }
    }
    let deps: HashMap<ResourceId, Vec<ResourceId>> = inv
        .resources
        .iter()
        .map(|(k, e)| (k.clone(), e.deps.clone()))
        .collect();
    let order = deletion_order(&deletions, &deps);
    let max = m.settings.max_deletions as usize;
    if order.len() > max {
        let list: Vec<String> = order.iter().map(|k| format!("  - {k}")).collect();
        return Err(Stop::Refused(format!(
            "prune would delete {} resources, more than Settings.maxDeletions ({max}); nothing was changed:\n{}",
            order.len(),
            list.join("\n")
        )));
    }
    push_deletions(plan, &order, &deps, |_| None);
    Ok(())
}

/// Why an owned resource that left the directory is not deleted.
fn left(who: &str) -> String {
    format!(
        "refused: it left the directory, but {who}; vigil never deletes what it does not own, and stops managing it"
    )
}

/// Adds delete steps in `order`; each waits for the deletes of what depends on
/// it. `declared` is the index of a resource still in the directory.
pub fn push_deletions(
    plan: &mut Plan,
    order: &[ResourceId],
    deps: &HashMap<ResourceId, Vec<ResourceId>>,
    declared: impl Fn(&ResourceId) -> Option<usize>,
) {
    let first = plan.steps.len();
    let index: HashMap<&ResourceId, usize> = order
        .iter()
        .enumerate()
        .map(|(n, k)| (k, first + n))
        .collect();
    for key in order {
        let (kind, name, resource) = (key.kind, key.name.clone(), declared(key));
        // Deleted after every step that references it.
        let after = order
            .iter()
            .filter(|other| {
                deps.get(*other)
                    .is_some_and(|ds| ds.iter().any(|d| d == key))
            })
            .map(|other| index[other])
            .collect();
        plan.steps.push(Step {
            kind,
            name,
            resource,
            decision: Decision::Delete,
            desired: None,
            unresolved: false,
            after,
            explained: Vec::new(),
            preview_error: None,
        });
    }
}

/// Orders `keys` for deletion: a resource goes before everything it
/// references (`deps`), so dependents are deleted first.
pub fn deletion_order(
    keys: &[ResourceId],
    deps: &HashMap<ResourceId, Vec<ResourceId>>,
) -> Vec<ResourceId> {
    // depth = the longest chain of dependents within the set.
    fn depth<'a>(
        key: &'a ResourceId,
        keys: &'a [ResourceId],
        deps: &HashMap<ResourceId, Vec<ResourceId>>,
        seen: &mut Vec<&'a ResourceId>,
    ) -> usize {
        if seen.contains(&key) {
            return 0;
        }
        seen.push(key);
        let d = keys
            .iter()
            .filter(|k| deps.get(*k).is_some_and(|ds| ds.iter().any(|x| x == key)))
            .map(|k| 1 + depth(k, keys, deps, seen))
            .max()
            .unwrap_or(0);
        seen.pop();
        d
    }
    let mut out: Vec<(usize, ResourceId)> = keys
        .iter()
        .map(|k| (depth(k, keys, deps, &mut Vec::new()), k.clone()))
        .collect();
    // Stable: resources nothing depends on go first.
    out.sort_by_key(|(d, _)| *d);
    out.into_iter().map(|(_, k)| k).collect()
}

/// The attributes a resource has once its step applied, else as observed.
pub fn attrs_of<'a>(
    obs: &'a Snapshot,
    applied: &'a HashMap<usize, Attrs>,
    i: usize,
) -> Option<&'a Attrs> {
    applied.get(&i).or_else(|| obs.attrs(i))
}

#[cfg(test)]
mod tests;
