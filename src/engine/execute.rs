//! Execute: runs a [`Plan`] along its dependency graph. Independent steps run
//! concurrently (bounded); a step starts only after the steps it references,
//! resolving values known only after they applied; a failed step skips only
//! its dependents. Every write passes the gate. Only this module writes.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde_json::Value;

use super::observe::Snapshot;
use super::plan::{self, Decision, Plan, Skip};
use super::report::{
    Change, ChangeAction, Failure, FailureCode, FieldView, Note, NoteCode, Report, Status, Summary,
};
use crate::aws::{Aws, ErrorClass};
use crate::failpoint;
use crate::kinds::KindId;
use crate::kinds::{ApplyOptions, Attrs, Desired, KindError, Observed};
use crate::manifest::Manifests;
use crate::refs::contains_unknown;
use crate::state::{self, EntryState, Inventory, ResourceId, StateError};

/// Asked before each write. A refusal stops the run between two steps, so none
/// is left half-applied; what was applied is still recorded.
pub trait WriteGate: std::fmt::Debug + Send + Sync {
    fn check(&self) -> Result<(), String>;

    /// The fencing token the writes are made under, recorded with the inventory;
    /// `None` without a lease.
    fn fence(&self) -> Option<u64> {
        None
    }
}

/// Told as a run goes, for a progress display. Called from the executor's own
/// task; implementations return at once.
pub trait Progress: Send + Sync {
    /// A phase begins (`observing`, `applying`, `deleting`), with its step count when known.
    fn phase(&self, name: &str, total: Option<usize>);
    /// A step starts.
    fn start(&self, id: &str);
    /// A step ended.
    fn done(&self, id: &str);
}

impl std::fmt::Debug for dyn Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// What the executor needs besides the plan.
pub struct Exec<'a> {
    pub aws: &'a Aws,
    pub m: &'a Manifests,
    pub obs: &'a Snapshot,
    /// The inventory as loaded: each save is conditional on the last.
    pub store: &'a state::Writer,
    pub gate: Option<&'a dyn WriteGate>,
    pub progress: Option<&'a dyn Progress>,
    /// Steps in flight at once.
    pub concurrency: usize,
    pub revision: Option<&'a str>,
    pub now: &'a str,
}

impl Exec<'_> {
    fn may_write(&self) -> Result<(), String> {
        self.gate.map_or(Ok(()), |g| g.check())
    }

    fn live(&self, step: &plan::Step) -> Option<&Observed> {
        match step.resource {
            Some(i) => self.obs.live.get(&i),
            None => self.obs.extra.get(&step.id()),
        }
    }
}

/// How a step ended.
#[derive(Debug)]
enum Outcome {
    /// Not run: a dry run, or writing stopped before it.
    NotRun,
    Applied,
    /// Decided again once its references were known: nothing to change.
    Unchanged,
    Failed(KindError),
    /// A step it waits for did not succeed.
    Skipped(ResourceId),
}

impl Outcome {
    fn succeeded(&self) -> bool {
        matches!(self, Outcome::Applied | Outcome::Unchanged)
    }
}

/// Runs the plan and reports. A dry run writes nothing, the inventory included.
pub async fn execute(
    x: &Exec<'_>,
    mut plan: Plan,
    mut inv: Inventory,
) -> Result<Report, StateError> {
    let mut outcomes: Vec<Outcome> = plan.steps.iter().map(|_| Outcome::NotRun).collect();
    let mut stopped: Option<(ResourceId, String)> = None;
    if !plan.dry_run {
        let loaded = inv.fingerprint();
        let mut run = Run {
            x,
            plan: &mut plan,
            inv: &mut inv,
            outcomes: &mut outcomes,
            stopped: &mut stopped,
            applied: HashMap::new(),
            resolved: HashMap::new(),
        };
        run.intents().await?;
        run.graph(Phase::Apply).await;
        run.finalize().await;
        run.graph(Phase::Delete).await;
        run.record();
        if inv.migrated || inv.fingerprint() != loaded {
            failpoint::hit("before-final-save").await;
            x.store.save(x.aws, &inv).await?;
            failpoint::hit("after-final-save").await;
        }
    }
    Ok(report(x, plan, outcomes, stopped))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Apply,
    Delete,
}

struct Run<'r, 'a> {
    x: &'r Exec<'a>,
    plan: &'r mut Plan,
    inv: &'r mut Inventory,
    outcomes: &'r mut Vec<Outcome>,
    stopped: &'r mut Option<(ResourceId, String)>,
    /// Attributes of what this run applied, for the references of later steps.
    applied: HashMap<usize, Attrs>,
    /// Per applied step: its desired state as applied (for finalize and the inventory).
    resolved: HashMap<usize, Arc<Desired>>,
}

impl<'a> Run<'_, 'a> {
    /// Write-ahead: before the first create, record intents, so that a crash
    /// between a create and the final inventory write still leaves the new
    /// resource known as vigil's (no duplicates, no orphans).
    async fn intents(&mut self) -> Result<(), StateError> {
        let x = self.x;
        let creates: Vec<usize> = self
            .plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.decision, Decision::Create { .. }))
            .map(|(n, _)| n)
            .collect();
        let Some(&first) = creates.first() else {
            return Ok(());
        };
        if let Err(reason) = x.may_write() {
            *self.stopped = Some((self.plan.steps[first].id(), reason));
            return Ok(());
        }
        let mut added = false;
        for n in creates {
            let s = &self.plan.steps[n];
            let Some(i) = s.resource else { continue };
            let r = &x.m.resources[i];
            // An intent left by an earlier run is refreshed: this is what is created now.
            if self
                .inv
                .get(&r.id())
                .is_some_and(|e| e.state == EntryState::Applied)
            {
                continue;
            }
            let mut e = plan::entry(x.m, r, &Value::Null, None, x.now);
            e.state = EntryState::Creating;
            // What is being created, so that a live resource found without its
            // owner tag later is taken as vigil's only if it is this.
            let intent = s
                .desired
                .as_deref()
                .map(|d| &d.state)
                .filter(|d| !contains_unknown(d));
            match intent {
                Some(d) => {
                    e.digest = state::digest(d);
                    e.applied =
                        state::AppliedJson::new(&crate::secret::seal(d, &r.id().to_string()));
                }
                None => {
                    e.digest = String::new();
                    e.applied = state::AppliedJson::default();
                }
            }
            e.applied_at = None;
            if self.inv.get(&r.id()) != Some(&e) {
                self.inv.resources.insert(r.id(), e);
                added = true;
            }
        }
        if added {
            failpoint::hit("before-intents").await;
            x.store.save(x.aws, self.inv).await?;
            failpoint::hit("after-intents").await;
        }
        Ok(())
    }

    /// Runs one phase's steps, each after the steps it waits for.
    async fn graph(&mut self, phase: Phase) {
        let x = self.x;
        let mut waiting: Vec<usize> = (0..self.plan.steps.len())
            .filter(|&n| {
                let d = &self.plan.steps[n].decision;
                match phase {
                    Phase::Apply => d.writes() && *d != Decision::Delete,
                    Phase::Delete => *d == Decision::Delete,
                }
            })
            .collect();
        if let Some(p) = x.progress
            && !waiting.is_empty()
        {
            let name = match phase {
                Phase::Apply => "applying",
                Phase::Delete => "deleting",
            };
            p.phase(name, Some(waiting.len()));
        }
        let mut running = FuturesUnordered::new();
        loop {
            while self.stopped.is_none() && running.len() < x.concurrency.max(1) {
                let Some(pos) = waiting.iter().position(|&n| self.ready(n)) else {
                    break;
                };
                let n = waiting.remove(pos);
                if let Some(on) = self.failed_dependency(n) {
                    self.outcomes[n] = Outcome::Skipped(on);
                    continue;
                }
                if let Err(reason) = x.may_write() {
                    *self.stopped = Some((self.plan.steps[n].id(), reason));
                    break;
                }
                if let Some(p) = x.progress {
                    p.start(&self.plan.steps[n].id().to_string());
                }
                match phase {
                    Phase::Apply => match self.start_apply(n) {
                        Some(fut) => running.push(fut),
                        None => {
                            if let Some(p) = x.progress {
                                p.done(&self.plan.steps[n].id().to_string());
                            }
                        }
                    },
                    Phase::Delete => {
                        let step = &self.plan.steps[n];
                        let live = x.live(step).cloned();
                        let (kind, name) = (step.kind, step.name.clone());
                        let aws = x.aws;
                        running.push(Box::pin(async move {
                            failpoint::hit("before-delete").await;
                            let result = match &live {
                                Some(l) => kind.delete(aws, &name, l).await,
                                None => Ok(()),
                            };
                            (n, result.map(|()| Attrs::new()))
                        }) as StepFuture<'a>);
                    }
                }
            }
            let Some((n, result)) = running.next().await else {
                break;
            };
            self.finish(n, phase, result).await;
            if let Some(p) = x.progress {
                p.done(&self.plan.steps[n].id().to_string());
            }
        }
    }

    /// Every step it waits for has ended.
    fn ready(&self, n: usize) -> bool {
        self.plan.steps[n]
            .after
            .iter()
            .all(|&a| !matches!(self.outcomes[a], Outcome::NotRun))
    }

    fn failed_dependency(&self, n: usize) -> Option<ResourceId> {
        self.plan.steps[n]
            .after
            .iter()
            .find(|&&a| !self.outcomes[a].succeeded())
            .map(|&a| self.plan.steps[a].id())
    }

    /// Resolves the step's references with what has applied so far and, if some
    /// were unknown when planned, decides it again. `None`: nothing to run.
    fn start_apply(&mut self, n: usize) -> Option<StepFuture<'a>> {
        let x = self.x;
        let step = &self.plan.steps[n];
        let i = step.resource.expect("apply steps are declared");
        let r = &x.m.resources[i];
        let live = x.obs.live.get(&i);
        let desired = if step.unresolved {
            let applied = &self.applied;
            let value = |j: usize, attr: &str| {
                plan::attrs_of(x.obs, applied, j).and_then(|a| a.get(attr).cloned())
            };
            let resolved = plan::resolve(x.m, r, x.obs, &value);
            let desired = match r.kind.desired(&resolved, &x.obs.env) {
                Ok(d) => d,
                Err(e) => {
                    self.outcomes[n] = Outcome::Failed(e);
                    return None;
                }
            };
            let adopt = matches!(step.decision, Decision::Adopt { .. });
            let entry = self.inv.get(&r.id());
            match plan::decide(x.m, r, &desired.state, live, entry, adopt, &x.obs.env) {
                None | Some(Decision::DriftWarned { .. }) => {
                    let e = plan::entry(x.m, r, &desired.state, x.revision, x.now);
                    self.inv.resources.insert(r.id(), e);
                    self.outcomes[n] = Outcome::Unchanged;
                    return None;
                }
                Some(d) => self.plan.steps[n].decision = d,
            }
            if contains_unknown(&resolved) {
                self.outcomes[n] = Outcome::Failed(KindError::Unresolved);
                return None;
            }
            Arc::new(desired)
        } else {
            match &step.desired {
                Some(d) => d.clone(),
                None => {
                    let e = KindError::Invalid(
                        "internal error: a planned change without its desired state".into(),
                    );
                    self.outcomes[n] = Outcome::Failed(e);
                    return None;
                }
            }
        };
        self.resolved.insert(n, desired.clone());
        let live = live.cloned();
        let kind = r.kind;
        let name = r.name.clone();
        let opts = ApplyOptions {
            recreate_on_rollback: r.annotations.recreate_on_rollback,
            fields: self.plan.steps[n].decision.fields().to_vec(),
        };
        let aws = x.aws;
        tracing::info!(kind = %kind, name = %name, "applying");
        // The future owns what it reads; the driver keeps the mutable state.
        Some(Box::pin(async move {
            failpoint::hit("before-apply").await;
            let result = kind
                .apply(aws, &name, &desired.spec, live.as_ref(), &opts)
                .await;
            (n, result)
        }))
    }

    async fn finish(&mut self, n: usize, phase: Phase, result: Result<Attrs, KindError>) {
        let x = self.x;
        let step = &self.plan.steps[n];
        let key = step.id();
        match (phase, result) {
            (Phase::Apply, Ok(attrs)) => {
                let i = step.resource.expect("apply steps are declared");
                let r = &x.m.resources[i];
                let e = plan::entry(x.m, r, &self.resolved[&n].state, x.revision, x.now);
                self.inv.resources.insert(key, e);
                self.applied.insert(i, attrs);
                self.outcomes[n] = Outcome::Applied;
                failpoint::hit("after-apply").await;
            }
            (Phase::Delete, Ok(_)) => {
                self.inv.resources.remove(&key);
                self.outcomes[n] = Outcome::Applied;
                failpoint::hit("after-delete").await;
            }
            (Phase::Delete, Err(e)) if e.is_not_found() => {
                self.inv.resources.remove(&key);
                self.outcomes[n] = Outcome::Applied;
            }
            (_, Err(e)) => self.outcomes[n] = Outcome::Failed(e),
        }
    }

    /// Second steps, in dependency order, once everything else exists (the
    /// Config recorder starts recording once its delivery channel exists).
    async fn finalize(&mut self) {
        let x = self.x;
        for n in 0..self.plan.steps.len() {
            if !matches!(self.outcomes[n], Outcome::Applied)
                || self.plan.steps[n].decision == Decision::Delete
            {
                continue;
            }
            if self.stopped.is_none()
                && let Err(reason) = x.may_write()
            {
                *self.stopped = Some((self.plan.steps[n].id(), reason));
            }
            if self.stopped.is_some() {
                break;
            }
            let step = &self.plan.steps[n];
            let spec = &self.resolved[&n].spec;
            if let Err(e) = step.kind.finalize(x.aws, &step.name, spec).await {
                self.outcomes[n] = Outcome::Failed(e);
            }
        }
    }

    /// What the plan learned without a write: matching resources recorded,
    /// gone ones forgotten, and the owner and Settings guard for next time.
    fn record(&mut self) {
        for e in self.plan.records.drain(..) {
            if let Some(id) = KindId::parse(&e.kind).map(|k| ResourceId::new(k, e.name.as_str())) {
                self.inv.resources.insert(id, e);
            }
        }
        for key in &self.plan.forget {
            self.inv.resources.remove(key);
        }
        self.inv.owner = self.x.m.settings.owner.clone();
        self.inv.settings_declared = self.x.m.settings_declared;
        for (kind, n) in &self.x.obs.populations {
            self.inv.populations.insert(kind.name().to_string(), *n);
        }
    }
}

type StepFuture<'f> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (usize, Result<Attrs, KindError>)> + Send + 'f>,
>;

/// The report, in plan order.
fn report(
    x: &Exec<'_>,
    plan: Plan,
    outcomes: Vec<Outcome>,
    stopped: Option<(ResourceId, String)>,
) -> Report {
    let mut r = Report {
        dry_run: plan.dry_run,
        changes: Vec::new(),
        summary: Summary {
            unchanged: plan.unchanged,
            ..Summary::default()
        },
        notes: plan.notes,
        errors: Vec::new(),
        api_calls: x.aws.calls.snapshot(),
    };
    for (step, outcome) in plan.steps.into_iter().zip(outcomes) {
        report_step(&mut r, &plan.owner, step, outcome);
    }
    for e in plan.errors {
        match e.code {
            FailureCode::Refused => r.summary.refused += 1,
            _ => r.summary.not_written(e.class),
        }
        r.errors.push(e);
    }
    if let Some((at, reason)) = stopped {
        r.errors.push(Failure {
            kind: "vigil".into(),
            name: "*".into(),
            class: ErrorClass::Transient,
            message: format!(
                "stopped before writing {at}: {reason}; the rest waits for the next run"
            ),
            code: FailureCode::Stopped,
        });
        r.summary.failed += 1;
    }
    r
}

/// One step's part of the report: a change, a note, or a failure.
fn report_step(r: &mut Report, owner: &str, step: plan::Step, outcome: Outcome) {
    let (kind, name) = (step.kind.name(), step.name.as_str());
    let failure = |class, message: String, code| Failure {
        kind: kind.to_string(),
        name: name.to_string(),
        class,
        message,
        code,
    };
    let skipped = |on: &ResourceId| {
        failure(
            ErrorClass::Terminal,
            format!("skipped: it references {on}, which failed or was refused"),
            FailureCode::Skipped,
        )
    };
    let (action, fields, drift) = match step.decision {
        Decision::Create { fields, drift } => (ChangeAction::Create, fields, drift),
        Decision::Update { fields, drift } => (ChangeAction::Update, fields, drift),
        Decision::Adopt { fields } => (ChangeAction::Adopt, fields, false),
        Decision::Delete => (ChangeAction::Delete, Vec::new(), false),
        Decision::DriftWarned { fields } => {
            let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
            let message = format!(
                "drifted ({}); not corrected because vigil/drift is warn",
                paths.join(", ")
            );
            let mut note = Note::new(kind, name, NoteCode::DriftWarned, message);
            note.fields = fields
                .into_iter()
                .map(|f| FieldView::from(f).reversed())
                .collect();
            r.notes.push(note);
            return;
        }
        Decision::Refused(refusal) => {
            r.summary.refused += 1;
            let message = refusal.message(owner);
            r.errors
                .push(failure(ErrorClass::Terminal, message, FailureCode::Refused));
            return;
        }
        Decision::Skipped(skip) => {
            let class = match &skip {
                Skip::ObserveFailed { class, .. } => *class,
                _ => ErrorClass::Terminal,
            };
            r.summary.not_written(class);
            r.errors.push(match skip {
                Skip::ObserveFailed { class, message } => {
                    failure(class, message, FailureCode::ObserveFailed)
                }
                Skip::Dependency(on) => skipped(&on),
                Skip::Invalid(message) => {
                    failure(ErrorClass::Terminal, message, FailureCode::Invalid)
                }
            });
            return;
        }
    };
    let (status, error, error_class) = match outcome {
        Outcome::NotRun if r.dry_run => (Status::Planned, step.preview_error.clone(), None),
        // Writing stopped before it: it waits for the next run.
        Outcome::NotRun => return,
        Outcome::Unchanged => {
            r.summary.unchanged += 1;
            return;
        }
        Outcome::Skipped(on) => {
            r.summary.failed += 1;
            r.errors.push(skipped(&on));
            return;
        }
        Outcome::Applied => (Status::Applied, None, None),
        Outcome::Failed(e) => {
            r.summary.not_written(e.class());
            (Status::Failed, Some(e.to_string()), Some(e.class()))
        }
    };
    match action {
        ChangeAction::Create => r.summary.create += 1,
        ChangeAction::Update => r.summary.update += 1,
        ChangeAction::Adopt => r.summary.adopt += 1,
        ChangeAction::Delete => r.summary.delete += 1,
    }
    let mut fields: Vec<FieldView> = fields.into_iter().map(FieldView::from).collect();
    fields.extend(step.explained.into_iter().map(FieldView::explained));
    r.changes.push(Change {
        action,
        kind: kind.to_string(),
        name: name.to_string(),
        fields,
        status,
        error,
        error_class,
        drift,
    });
}

impl plan::Step {
    pub fn id(&self) -> ResourceId {
        ResourceId::new(self.kind, self.name.as_str())
    }
}
