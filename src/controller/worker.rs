//! One target's reconcile loop inside `vigil run`: every cycle re-reads the
//! directory, the inventory and live AWS, and ends in a decision value.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use serde_json::json;
use tokio::sync::Notify;

use super::config::Config;
use super::lease::{self, Fence, Lease, LeaseKeeper};
use super::notify::{Category, Event, Notifier};
use super::schedule::{self, Action, Cycle, Outcome, Policy, Scheduler};
use super::shard;
use super::status::{
    self, CycleStatus, DriftItem, DriftState, ErrorItem, ErrorLabel, LastSuccess, Mode, Next,
    Shared,
};
use crate::aws::{Aws, ErrorClass};
use crate::connect::ConnectError;
use crate::engine::WriteGate;
use crate::engine::report::{
    Change, ChangeAction, NoteCode, Report, Status as ChangeStatus, Summary,
};
use crate::manifest::{self, Manifests, Target};
use crate::ops::drift::{self, DriftReport};
use crate::ops::reconcile::{self, RunOptions, StartError};
use crate::state::{Location, StateError};

/// Refuses writes once shutdown began or the lease is gone.
#[derive(Debug)]
struct Gate {
    fence: Fence,
    token: u64,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl WriteGate for Gate {
    fn check(&self) -> Result<(), String> {
        if *self.stop.borrow() {
            return Err("vigil is stopping".into());
        }
        self.fence.check(self.token)
    }

    fn fence(&self) -> Option<u64> {
        Some(self.token)
    }
}

/// What one cycle found and did.
struct Record {
    mode: Mode,
    outcome: Outcome,
    summary: Option<Summary>,
    pending: Option<usize>,
    changes: Vec<Change>,
    drift: Vec<DriftItem>,
    /// Whether drift was looked at this cycle (so an absence of drift means something).
    observed_drift: bool,
    errors: Vec<ErrorItem>,
    pending_subscriptions: Option<usize>,
    /// The directory could not be read (not merely invalid): not ready.
    unreadable: Option<String>,
}

impl Record {
    fn new() -> Record {
        Record {
            mode: Mode::ReadOnly,
            outcome: Outcome::Success,
            summary: None,
            pending: None,
            changes: vec![],
            drift: vec![],
            observed_drift: false,
            errors: vec![],
            pending_subscriptions: None,
            unreadable: None,
        }
    }

    /// One error that decides the outcome by its class.
    fn fail(&mut self, item: ErrorItem, class: ErrorClass) {
        self.outcome = outcome_of(&[(class, item.message.clone())]);
        self.errors.push(item);
    }
}

/// Retryable failures win: the same revision may work once AWS recovers.
fn outcome_of(failures: &[(ErrorClass, String)]) -> Outcome {
    let more = |n: usize| {
        if n > 1 {
            format!(" (and {} more)", n - 1)
        } else {
            String::new()
        }
    };
    if let Some((_, msg)) = failures.iter().find(|(c, _)| c.is_retryable()) {
        Outcome::Transient(format!("{msg}{}", more(failures.len())))
    } else if let Some((_, msg)) = failures.first() {
        Outcome::Terminal(format!("{msg}{}", more(failures.len())))
    } else {
        Outcome::Success
    }
}

fn start_error(rec: &mut Record, e: StartError) {
    let class = match &e {
        StartError::State(StateError::Aws(a)) => a.class,
        // Another writer won: the next cycle reads the inventory again.
        StartError::State(s) if s.is_conflict() => ErrorClass::Transient,
        _ => ErrorClass::Terminal,
    };
    let label = match &e {
        StartError::Refused(_) => ErrorLabel::Refused,
        _ => ErrorLabel::Aws(class),
    };
    rec.fail(ErrorItem::new(label, e.to_string()), class);
}

/// A directory that did not load: every finding, and nothing changed.
fn invalid(errors: &manifest::ValidationErrors) -> Record {
    let mut rec = Record::new();
    let n = errors.0.len();
    for d in &errors.0 {
        rec.errors
            .push(ErrorItem::new(ErrorLabel::Validation, d.to_string()));
    }
    rec.unreadable = errors
        .0
        .iter()
        .find(|d| d.is_unreadable())
        .map(|d| d.to_string());
    rec.outcome = Outcome::Terminal(format!(
        "validation failed: {n} error{}; nothing was changed",
        if n == 1 { "" } else { "s" }
    ));
    rec
}

fn connect_failed(rec: &mut Record, e: &ConnectError) {
    let class = match e {
        ConnectError::Identity(a) => a.class,
        ConnectError::AssumeRole { source, .. } => source.class,
        ConnectError::WrongAccount { .. } => ErrorClass::Terminal,
    };
    let label = if e.is_refusal() {
        ErrorLabel::Refused
    } else {
        ErrorLabel::Aws(class)
    };
    rec.fail(ErrorItem::new(label, e.to_string()), class);
}

/// How a worker comes by its target's lease.
pub(super) enum Leasing {
    /// The one target of a directory without Target documents: a lease of its
    /// own, moved when Settings move it. A replica that does not hold it
    /// observes read-only, as a standby.
    Own {
        keeper: Option<LeaseKeeper>,
        /// Read-only for want of a shared lease: where the lease would be, and its view.
        unshared: Option<(Location, Fence)>,
    },
    /// One of the directory's targets, whose lease the shard keeps: a target
    /// held by another replica is that replica's work, and this one leaves it be.
    Sharded(shard::Handle),
    /// Inside Kubernetes without a shared lease: observe, never write.
    ReadOnly(Fence),
}

impl Leasing {
    pub(super) fn own() -> Leasing {
        Leasing::Own {
            keeper: None,
            unshared: None,
        }
    }
}

/// What every worker of the process shares.
pub(super) struct Common {
    pub cfg: Config,
    pub loader: Loader,
    pub lease_id: String,
    /// Bounds how many targets run a cycle at once (memory, not AWS quotas: those are per target).
    pub permits: tokio::sync::Semaphore,
}

/// The directory, loaded once per change and shared by the targets' workers.
pub(super) struct Loader {
    state: tokio::sync::Mutex<LoaderState>,
    /// `manifest::load`; a test's stand-in that hangs.
    read: fn(&std::path::Path) -> Result<Manifests, manifest::ValidationErrors>,
}

impl Default for Loader {
    fn default() -> Loader {
        Loader {
            state: Default::default(),
            read: manifest::load,
        }
    }
}

#[derive(Default)]
struct LoaderState {
    last: Option<(u64, Loaded)>,
    /// A load that outlived [`LOAD_TIMEOUT`]: the next cycle waits for it, not a new one.
    running: Option<tokio::sync::oneshot::Receiver<(u64, Loaded)>>,
}

pub(super) type Loaded = Arc<Result<Manifests, manifest::ValidationErrors>>;

/// How long a cycle waits for the directory before it reports that it cannot load it.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

impl Loader {
    /// The directory as it is now; loaded again only when a file, or the revision, changed.
    /// The load runs on a thread of its own, so a read that hangs holds up no
    /// task and no shutdown: the cycle reports it after [`LOAD_TIMEOUT`].
    pub async fn load(&self, dir: &std::path::Path) -> Loaded {
        // Held across the load, so that workers starting together load once.
        let mut state = self.state.lock().await;
        let mut rx = match state.running.take() {
            Some(rx) => rx,
            None => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let seen = state.last.clone();
                let owned = dir.to_path_buf();
                let read = self.read;
                let spawned =
                    std::thread::Builder::new()
                        .name("vigil-load".into())
                        .spawn(move || {
                            let now = super::watch::fingerprint(&owned);
                            let loaded = match seen {
                                Some((at, loaded)) if at == now => loaded,
                                _ => Arc::new(read(&owned)),
                            };
                            let _ = tx.send((now, loaded));
                        });
                if let Err(e) = spawned {
                    return unloadable(dir, format!("cannot start loading it: {e}"));
                }
                rx
            }
        };
        match tokio::time::timeout(LOAD_TIMEOUT, &mut rx).await {
            Ok(Ok((now, loaded))) => {
                state.last = Some((now, loaded.clone()));
                loaded
            }
            Ok(Err(_)) => unloadable(dir, "loading it failed (an internal error)".into()),
            Err(_) => {
                state.running = Some(rx);
                unloadable(
                    dir,
                    format!(
                        "loading it did not finish within {}s: a file may be on a hung filesystem; the load goes on, and the next cycle looks again",
                        LOAD_TIMEOUT.as_secs()
                    ),
                )
            }
        }
    }
}

/// A directory that could not be loaded, as a located error on the directory.
fn unloadable(dir: &std::path::Path, message: String) -> Loaded {
    Arc::new(Err(manifest::ValidationErrors(vec![
        manifest::Diagnostic {
            file: dir.display().to_string(),
            pos: crate::yaml::Pos { line: 1, col: 1 },
            subject: "directory".into(),
            message,
        },
    ])))
}

/// The AWS context of a target, built once and kept while its identity stays the same.
struct Conn {
    /// What the clients were built for: the target and `Settings.region`.
    key: String,
    aws: Aws,
}

/// Reconciles one target, cycle after cycle.
pub(super) struct Worker {
    common: Arc<Common>,
    target: Target,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    stop: tokio::sync::watch::Receiver<bool>,
    span: tracing::Span,
    conn: Option<Conn>,
    pub(super) leasing: Leasing,
    notifier: Notifier,
    topic: Option<String>,
    cycles: u64,
    /// The inventory last warned about as local to this pod.
    warned_local: Option<Location>,
    /// `Settings.region`: the base credentials' region.
    base_region: Option<String>,
    /// Publishes a declared target's notifications: the base credentials in the topic's region.
    publisher: Option<(String, Aws)>,
}

impl Worker {
    pub(super) fn new(
        common: Arc<Common>,
        target: Target,
        shared: Arc<Shared>,
        wake: Arc<Notify>,
        stop: tokio::sync::watch::Receiver<bool>,
        leasing: Leasing,
    ) -> Worker {
        Worker {
            common,
            target,
            shared,
            wake,
            stop,
            span: tracing::Span::current(),
            conn: None,
            leasing,
            notifier: Notifier::default(),
            topic: None,
            cycles: 0,
            warned_local: None,
            base_region: None,
            publisher: None,
        }
    }

    /// Runs cycles until told to stop, then gives its own lease up.
    pub(super) async fn drive(mut self, grace: Duration) {
        let mut sched = Scheduler::new(Policy::new(self.common.cfg.interval));
        let wake = self.wake.clone();
        let stop = self.stop.clone();
        schedule::drive(&mut self, &mut sched, &wake, stop, grace).await;
        if let Leasing::Own { keeper, .. } = &mut self.leasing
            && let Some(k) = keeper.take()
        {
            k.stop(Duration::from_secs(2)).await;
        }
    }

    /// This worker's manifests: the directory's for the implicit target, else
    /// those that apply to its target. `None` once the target left the directory.
    fn manifests_for<'a>(&mut self, all: &'a Manifests) -> Option<Cow<'a, Manifests>> {
        if !self.target.declared {
            self.target = all.targets.first().filter(|t| !t.declared)?.clone();
            return Some(Cow::Borrowed(all));
        }
        let key = self.target.key();
        self.target = all.targets.iter().find(|t| t.key() == key)?.clone();
        Some(Cow::Owned(all.for_target(&self.target)))
    }

    /// The target's clients, built once and reused; rebuilt when the target or
    /// `Settings.region` changed. Each cycle gets a fresh observe cache and deadline.
    async fn connect(&mut self, m: &Manifests) -> Result<Aws, ConnectError> {
        let t = &self.target;
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{:?}",
            t.key(),
            t.region,
            t.role_arn,
            t.external_id,
            m.settings.region
        );
        if self.conn.as_ref().is_none_or(|c| c.key != key) {
            let deadline = crate::connect::deadline(&m.settings, self.common.cfg.deadline);
            // The guard is checked below, every cycle: Settings.accountId may change.
            let mut unguarded = self.target.clone();
            unguarded.account_id = None;
            let aws = crate::connect::connect_target(
                &self.common.cfg.connector,
                &m.settings,
                &unguarded,
                deadline,
            )
            .await
            .map_err(|(aws, e)| {
                self.shared.set_call_log(aws.calls.clone());
                e
            })?;
            self.shared.set_call_log(aws.calls.clone());
            self.conn = Some(Conn { key, aws });
        }
        let conn = self.conn.as_ref().expect("connected above");
        crate::connect::check_target_account(&self.target, &conn.aws.env.account_id)?;
        let mut aws = conn.aws.next_cycle();
        aws.env.owner = m.settings.owner.clone();
        // The buckets outlive the cycle; the deadline is the cycle's.
        crate::connect::pace_for(&aws, &m.settings, &aws.env.account_id);
        aws.pace.start_run(crate::connect::deadline(
            &m.settings,
            self.common.cfg.deadline,
        ));
        Ok(aws)
    }

    /// The implicit target's own lease: starts the keeper, or moves it when
    /// Settings moved the lease. Inside Kubernetes without a shared lease it takes
    /// none: the fence never admits a write.
    async fn own_lease(&mut self, m: &Manifests, store: &Location) -> Fence {
        let Leasing::Own { keeper, unshared } = &mut self.leasing else {
            unreachable!("own_lease is only called for an own lease")
        };
        let explicit = m.settings.lease.is_some();
        let location = m
            .settings
            .lease
            .clone()
            .unwrap_or_else(|| crate::connect::default_lease(store));
        let k8s = lease::in_kubernetes();
        if let Some(reason) = lease::unshared(&location, explicit, k8s) {
            if let Some(old) = keeper.take() {
                old.stop(Duration::from_secs(2)).await;
            }
            if let Some((at, fence)) = unshared
                && *at == location
            {
                return fence.clone();
            }
            // Once, not every cycle: /status keeps saying it.
            tracing::warn!("{reason}");
            let fence = Fence::read_only(&location, &self.common.lease_id, &reason);
            self.shared.set_lease(Some(fence.clone()));
            *unshared = Some((location, fence.clone()));
            return fence;
        }
        *unshared = None;
        if let Some(k) = keeper.as_ref()
            && k.location == location
        {
            return k.fence();
        }
        if let Some(old) = keeper.take() {
            old.stop(Duration::from_secs(2)).await;
        }
        let sdk = self
            .common
            .cfg
            .connector
            .base_config(m.settings.region.as_deref())
            .await;
        let lease = Lease::new(
            lease::Store::new(&location, &sdk),
            self.common.lease_id.clone(),
            self.common.cfg.lease_duration,
        );
        let k = LeaseKeeper::start(location, lease, self.wake.clone()).await;
        let fence = k.fence();
        self.shared.set_lease(Some(fence.clone()));
        *keeper = Some(k);
        fence
    }

    /// One cycle, with a permit, between the shard's lease moves; a panic ends it as terminal.
    async fn guarded_cycle(&mut self) -> Record {
        let common = self.common.clone();
        let _permit = common.permits.acquire().await;
        // The shard releases a lease only between two cycles.
        let _busy = match &self.leasing {
            Leasing::Sharded(h) => Some(h.busy.clone().lock_owned().await),
            _ => None,
        };
        // A bug must not take the controller down.
        match AssertUnwindSafe(self.cycle()).catch_unwind().await {
            Ok(rec) => rec,
            Err(p) => {
                let mut rec = Record::new();
                rec.fail(
                    ErrorItem::new(
                        ErrorLabel::Internal,
                        format!("internal error: {}", panic_message(p.as_ref())),
                    ),
                    ErrorClass::Terminal,
                );
                rec
            }
        }
    }

    /// Puts a finished cycle on `/status` and `/metrics`.
    fn record(&mut self, mut cycle: CycleStatus, rec: Record) -> Outcome {
        let success = rec.outcome == Outcome::Success;
        if success
            && rec.mode == Mode::Apply
            && let Some(r) = &cycle.revision
        {
            self.span.record("applied", r.as_str());
        }
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for d in &rec.drift {
            *by_kind.entry(d.kind.clone()).or_default() += 1;
        }
        cycle.changes = rec.changes;
        cycle.drift = rec.drift;
        cycle.errors = rec.errors;
        let (observed_drift, pending_subscriptions) =
            (rec.observed_drift, rec.pending_subscriptions);
        self.shared.update(|st| {
            st.cycles = cycle.number;
            st.ready = rec.unreadable.is_none();
            st.unreadable = rec.unreadable;
            *st.outcomes.entry(cycle.outcome).or_default() += 1;
            st.durations.observe(cycle.duration_seconds);
            if observed_drift {
                st.drift_by_kind = by_kind;
            }
            if pending_subscriptions.is_some() {
                st.pending_subscriptions = pending_subscriptions;
            }
            if success {
                if cycle.mode == Mode::Apply {
                    st.revision.applied = cycle.revision.clone();
                }
                st.last_success = Some(LastSuccess {
                    at: cycle.started_at.clone(),
                    revision: cycle.revision.clone(),
                    mode: cycle.mode,
                    summary: cycle.summary.clone(),
                });
                st.last_success_unix = Some(unix_now());
            }
            st.last_cycle = Some(cycle);
        });
        rec.outcome
    }

    /// Who publishes to `topic`. The implicit target's own clients (its calls
    /// count with the cycle's); a declared target's topic is the platform's,
    /// usually in another account and region than the target, so the base
    /// credentials publish it, from the topic's region.
    async fn publisher(&mut self, topic: &str) -> Option<Aws> {
        let conn = self.conn.as_ref()?;
        let region = topic.split(':').nth(3).filter(|r| !r.is_empty());
        if !self.target.declared && region.is_none_or(|r| r == conn.aws.env.region) {
            return Some(conn.aws.next_cycle());
        }
        let region = region.map(str::to_string);
        let key = format!("{region:?}|{:?}", self.base_region);
        if self.publisher.as_ref().is_none_or(|(k, _)| *k != key) {
            let connector = &self.common.cfg.connector;
            let base = connector.base_config(self.base_region.as_deref()).await;
            let aws = connector.for_target(&base, region.as_deref(), None);
            self.publisher = Some((key, aws));
        }
        self.publisher.as_ref().map(|(_, aws)| aws.next_cycle())
    }

    /// Inside Kubernetes, says once per location that a pod's inventory is a
    /// file that a replica taking the target over will not see.
    fn warn_if_local(&mut self, store: &Location) {
        if lease::in_kubernetes()
            && matches!(store, Location::File(_))
            && self.warned_local.as_ref() != Some(store)
        {
            tracing::warn!(
                "the inventory {} is a local file: another pod that takes the lease over will not \
                 know what this one recorded. Set Settings.inventory to an S3 object",
                store.describe()
            );
            self.warned_local = Some(store.clone());
        }
    }

    /// One cycle: load the directory, connect, take or check the lease, then
    /// reconcile (holding it) or observe drift (not holding it).
    async fn cycle(&mut self) -> Record {
        let mut rec = Record::new();
        let loaded = self.common.loader.load(&self.common.cfg.dir).await;
        let all = match &*loaded {
            Ok(m) => m,
            Err(errors) => return invalid(errors),
        };
        // The target left the directory: the supervisor stops this worker.
        let Some(m) = self.manifests_for(all) else {
            rec.mode = Mode::Standby;
            return rec;
        };
        self.read_settings(&m);
        // Another replica's target: nothing to look at here, not even AWS.
        if let Leasing::Sharded(h) = &self.leasing
            && h.fence.held().is_none()
        {
            rec.mode = Mode::Standby;
            return rec;
        }
        let aws = match self.connect(&m).await {
            Ok(aws) => aws,
            Err(e) => {
                connect_failed(&mut rec, &e);
                return rec;
            }
        };
        let store = crate::connect::inventory_location(
            &m.settings,
            &aws.env.account_id,
            &aws.env.region,
            Some(&self.target),
        );
        let (fence, standby_observes) = self.fence(&m, &store).await;
        match fence.held() {
            Some(token) => {
                self.reconcile(&mut rec, &aws, &m, &store, &fence, token)
                    .await
            }
            None if standby_observes => match drift::run(&aws, &m, &store).await {
                Ok(report) => read_drift(&mut rec, report),
                Err(e) => start_error(&mut rec, e),
            },
            // Lost between the check above and now: the next holder does it.
            None => rec.mode = Mode::Standby,
        }
        rec
    }

    /// What the cycle's Settings say about notifications and the base region.
    fn read_settings(&mut self, m: &Manifests) {
        self.topic = m
            .settings
            .notifications
            .as_ref()
            .map(|n| n.topic_arn.clone());
        self.base_region = m.settings.region.clone();
    }

    /// The fence this cycle writes under, and whether a replica without the
    /// lease observes drift.
    async fn fence(&mut self, m: &Manifests, store: &Location) -> (Fence, bool) {
        let got = match &self.leasing {
            Leasing::Own { .. } => (self.own_lease(m, store).await, true),
            Leasing::Sharded(h) => (h.fence.clone(), false),
            Leasing::ReadOnly(f) => (f.clone(), true),
        };
        // A replica that may write; a read-only one already says what to set.
        if !matches!(
            self.leasing,
            Leasing::ReadOnly(_)
                | Leasing::Own {
                    unshared: Some(_),
                    ..
                }
        ) {
            self.warn_if_local(store);
        }
        got
    }

    /// Reconciles holding the lease under `token`: every write is gated on it.
    async fn reconcile(
        &self,
        rec: &mut Record,
        aws: &Aws,
        m: &Manifests,
        store: &Location,
        fence: &Fence,
        token: u64,
    ) {
        rec.mode = Mode::Apply;
        let gate = Gate {
            fence: fence.clone(),
            token,
            stop: self.stop.clone(),
        };
        let opts = RunOptions {
            gate: Some(Arc::new(gate)),
            ..Default::default()
        };
        match reconcile::reconcile(aws, m, &opts, store).await {
            Ok(report) => read_report(rec, report),
            Err(e) => {
                // The inventory is newer than our token: if we still hold the
                // lease (it was reset or moved), move above it for the retry.
                if let StartError::State(StateError::FencedOut { stored, .. }) = &e {
                    fence.raise_floor(*stored);
                }
                start_error(rec, e);
            }
        }
    }

    /// Only the writer publishes, so replicas do not send everything twice.
    async fn notify(&mut self, rec: &Record, revision: Option<&str>) {
        let Some(topic) = self.topic.clone() else {
            return;
        };
        let writer = match &self.leasing {
            Leasing::Own { keeper, .. } => {
                keeper.as_ref().is_some_and(|k| k.fence().held().is_some())
            }
            Leasing::Sharded(h) => h.fence.held().is_some(),
            Leasing::ReadOnly(_) => false,
        };
        if !writer || *self.stop.borrow() {
            return;
        }
        let Some(aws) = self.publisher(&topic).await else {
            return;
        };
        let mut events: Vec<Event> = rec
            .drift
            .iter()
            .map(|d| {
                Event::new(
                    Category::Drift,
                    format!("{}/{}", d.kind, d.name),
                    format!(
                        "vigil: {}/{} {}{}",
                        d.kind,
                        d.name,
                        d.state,
                        if d.corrected { ", corrected" } else { "" }
                    ),
                    json!({"state": d.state, "fields": d.fields}),
                )
            })
            .collect();
        events.extend(rec.errors.iter().map(|e| {
            let resource = match (&e.kind, &e.name) {
                (Some(k), Some(n)) => format!("{k}/{n}"),
                _ => "vigil".to_string(),
            };
            Event::new(
                Category::Failure,
                resource.clone(),
                format!("vigil: {resource} failed ({})", e.class),
                json!({"class": e.class, "message": e.message}),
            )
        }));
        let observed: &[Category] = if rec.observed_drift {
            &[Category::Drift, Category::Failure]
        } else {
            &[Category::Failure]
        };
        let env = self
            .conn
            .as_ref()
            .map(|c| c.aws.env.clone())
            .unwrap_or_default();
        let context = json!({
            "revision": revision,
            "account": env.account_id,
            "region": env.region,
            "dir": self.common.cfg.dir.display().to_string(),
            "target": self.target.declared.then(|| self.target.key()),
        });
        self.notifier
            .publish(&aws, &topic, &context, &events, observed)
            .await;
        let (published, failed) = (self.notifier.published, self.notifier.failed);
        self.shared.update(|s| {
            s.notifications_published = published;
            s.notifications_failed = failed;
        });
    }
}

/// An apply: changes, drift put back or left (warn), errors, pending subscriptions.
fn read_report(rec: &mut Record, report: Report) {
    rec.observed_drift = true;
    rec.summary = Some(report.summary.clone());
    let mut failures = Vec::new();
    for c in &report.changes {
        if c.drift {
            rec.drift.push(DriftItem {
                kind: c.kind.clone(),
                name: c.name.clone(),
                // A change goes from live to git; drift reads from what was applied to what is live.
                fields: c.fields.iter().map(|f| f.reversed()).collect(),
                state: if c.action == ChangeAction::Create {
                    DriftState::Missing
                } else {
                    DriftState::Drifted
                },
                corrected: c.status == ChangeStatus::Applied,
            });
        }
        if c.status == ChangeStatus::Failed {
            let class = c.error_class.unwrap_or(ErrorClass::Terminal);
            let msg = c.error.clone().unwrap_or_else(|| "failed".into());
            failures.push((class, format!("{}: {msg}", c.id())));
            rec.errors
                .push(ErrorItem::resource(&c.kind, &c.name, class, msg));
        }
    }
    for n in &report.notes {
        // `vigil/drift: warn` reports drift as a note and leaves it.
        if n.code == NoteCode::DriftWarned {
            rec.drift.push(DriftItem {
                kind: n.kind.clone(),
                name: n.name.clone(),
                fields: n.fields.clone(),
                state: DriftState::Drifted,
                corrected: false,
            });
        }
    }
    rec.pending_subscriptions = Some(
        report
            .notes
            .iter()
            .filter(|n| n.code == NoteCode::PendingConfirmation)
            .count(),
    );
    push_failures(rec, &mut failures, &report.errors);
    rec.outcome = outcome_of(&failures);
    rec.changes = report.changes;
}

/// The stage's failures, as errors on `/status` and for the cycle's outcome.
fn push_failures(
    rec: &mut Record,
    failures: &mut Vec<(ErrorClass, String)>,
    errors: &[crate::engine::report::Failure],
) {
    for e in errors {
        failures.push((e.class, format!("{}/{}: {}", e.kind, e.name, e.message)));
        rec.errors.push(ErrorItem::resource(
            &e.kind,
            &e.name,
            e.class,
            e.message.clone(),
        ));
    }
}

/// A read-only look (no lease): drift and pending changes, nothing written.
fn read_drift(rec: &mut Record, report: DriftReport) {
    rec.observed_drift = true;
    rec.pending = Some(report.pending.len());
    for (items, state) in [
        (&report.drifted, DriftState::Drifted),
        (&report.missing, DriftState::Missing),
    ] {
        for it in items {
            rec.drift.push(DriftItem {
                kind: it.kind.clone(),
                name: it.name.clone(),
                fields: it.fields.clone(),
                state,
                corrected: false,
            });
        }
    }
    let mut failures = Vec::new();
    push_failures(rec, &mut failures, &report.errors);
    rec.outcome = outcome_of(&failures);
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// One log line per cycle, and a line per error (the first 20) when it failed.
fn log_cycle(cycle: &CycleStatus, rec: &Record) {
    let ms = (cycle.duration_seconds * 1000.0) as u64;
    let s = rec.summary.clone().unwrap_or_default();
    match &rec.outcome {
        Outcome::Success => tracing::info!(
            cycle = cycle.number,
            mode = rec.mode.as_str(),
            ms,
            created = s.create,
            updated = s.update,
            deleted = s.delete,
            unchanged = s.unchanged,
            drifted = rec.drift.len(),
            writes = cycle.api_calls.writes,
            "cycle succeeded"
        ),
        other => {
            for e in rec.errors.iter().take(20) {
                tracing::warn!(class = %e.class, "{}", e.message);
            }
            tracing::warn!(
                cycle = cycle.number,
                mode = rec.mode.as_str(),
                outcome = other.label(),
                ms,
                "cycle failed: {}",
                other.reason().unwrap_or_default()
            );
        }
    }
}

impl Cycle for Worker {
    async fn run(&mut self) -> Outcome {
        let started = std::time::Instant::now();
        let started_at = crate::state::now_rfc3339();
        let revision = crate::git::revision(&self.common.cfg.dir);
        let calls_before = self.shared.api_calls();
        let rec = self.guarded_cycle().await;
        if rec.mode == Mode::Standby {
            self.shared.update(|s| {
                s.ready = true;
                s.standby = true;
            });
            return Outcome::Success;
        }
        self.cycles += 1;
        if let Some(r) = &revision {
            self.span.record("attempted", r.as_str());
        }
        self.shared.update(|s| {
            s.revision.attempted = revision.clone();
            s.standby = false;
        });
        self.notify(&rec, revision.as_deref()).await;
        let cycle = CycleStatus {
            number: self.cycles,
            started_at,
            duration_seconds: started.elapsed().as_secs_f64(),
            revision,
            mode: rec.mode,
            outcome: rec.outcome.label(),
            reason: rec.outcome.reason().map(str::to_string),
            next: None,
            summary: rec.summary.clone(),
            pending: rec.pending,
            changes: Vec::new(),
            drift: Vec::new(),
            errors: Vec::new(),
            api_calls: status::delta(&self.shared.api_calls(), &calls_before),
        };
        log_cycle(&cycle, &rec);
        self.record(cycle, rec)
    }

    fn decided(&mut self, outcome: &Outcome, action: Action) {
        let next = Next {
            action: action.label(),
            after_seconds: action.delay().map(|d| d.as_secs_f64()),
        };
        self.shared.update(|s| {
            if let Some(c) = &mut s.last_cycle {
                c.next = Some(next);
            }
        });
        match action {
            Action::Requeue(d) => tracing::debug!("next full reconcile in {d:.1?}"),
            Action::Retry(d) => tracing::info!("retrying in {d:.1?}"),
            Action::AwaitChange => tracing::warn!(
                "waiting for the next revision; the last good state stays applied ({})",
                outcome.reason().unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests;
