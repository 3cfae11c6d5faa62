//! `vigil run`: the continuous controller.
//!
//! A level-based loop: every cycle re-reads the directory, the inventory and
//! live AWS, and trusts nothing from the cycle before; events (a directory
//! change, a timer, gaining the lease) only say *when* to look. Every cycle
//! ends in a decision value ([`schedule::Action`]). Only the replica holding
//! the lease ([`lease`]) writes; the others observe read-only, and so does every
//! replica inside Kubernetes without a shared lease ([`lease::unshared`]). Shutdown lets
//! the resource in flight finish, writes nothing more, releases the lease and
//! exits 0.

pub mod http;
pub mod lease;
pub mod notify;
pub mod schedule;
pub mod status;
pub mod watch;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use serde_json::json;
use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::aws::{self, ApiCalls, Aws, AwsError, ErrorClass};
use crate::engine::report::{
    Action as ChangeAction, Change, NoteCode, Report, Status as ChangeStatus, Summary,
};
use crate::engine::{self, StartError, WriteGate};
use crate::manifest::{self, Manifests};
use crate::state::{Location, StateError};

use lease::{Fence, Keeper, Lease};
use notify::{Category, Event, Notifier};
use schedule::{Action, Cycle, Outcome, Policy, Scheduler};
use status::{CycleStatus, DriftItem, ErrorItem, LastSuccess, Next, Shared};

/// Validated options for `vigil run`.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub interval: Duration,
    pub listen: String,
    pub lease_duration: Duration,
    /// Quiet time after a directory change before the cycle starts.
    pub debounce: Duration,
    /// How long shutdown waits for the cycle in flight; releasing the lease comes after.
    pub grace: Duration,
    /// `--deadline`: how long a cycle retries throttled and failing calls.
    pub deadline: Option<Duration>,
}

impl Config {
    pub fn new(
        dir: PathBuf,
        interval: Duration,
        listen: String,
        lease_duration: Duration,
    ) -> Result<Config, String> {
        if interval < Duration::from_millis(10) {
            return Err(format!(
                "--interval {interval:?} is too short; use at least 10ms"
            ));
        }
        if lease_duration < Duration::from_secs(3) {
            return Err(format!(
                "--lease-duration {lease_duration:?} is too short; use at least 3s"
            ));
        }
        Ok(Config {
            dir,
            interval,
            listen,
            lease_duration,
            debounce: Duration::from_millis(300),
            grace: Duration::from_secs(7),
            deadline: None,
        })
    }
}

/// Why `vigil run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("--listen {addr}: cannot listen there: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("installing the signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// Runs until SIGTERM or SIGINT, then returns.
pub async fn run(cfg: Config) -> Result<(), StartupError> {
    let listen_err = |source| StartupError::Listen {
        addr: cfg.listen.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    eprintln!("listening on {addr}");
    let span = tracing::info_span!(
        "vigil",
        applied = tracing::field::Empty,
        attempted = tracing::field::Empty
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    signals(stop_tx, span.clone()).map_err(StartupError::Signals)?;
    async move {
        tracing::info!(%addr, dir = %cfg.dir.display(), interval = ?cfg.interval, "vigil run started");
        let shared = Arc::new(Shared::new(&cfg.dir.display().to_string()));
        let _http = http::spawn(listener, shared.clone());
        let wake = Arc::new(Notify::new());
        let watcher = watch::spawn(cfg.dir.clone(), cfg.debounce, wake.clone());
        let mut ctl = Controller::new(cfg.clone(), shared, wake.clone(), stop_rx.clone());
        let mut sched = Scheduler::new(Policy::new(cfg.interval));
        schedule::drive(&mut ctl, &mut sched, &wake, stop_rx, cfg.grace).await;
        watcher.abort();
        if let Some(k) = ctl.keeper.take() {
            k.stop(Duration::from_secs(2)).await;
        }
        tracing::info!("stopped");
        Ok(())
    }
    .instrument(span)
    .await
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C) asks for a graceful stop.
fn signals(tx: tokio::sync::watch::Sender<bool>, span: tracing::Span) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(
            async move {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                tracing::info!(
                    signal = name,
                    "stopping: finishing the write in flight, then releasing the lease"
                );
                let _ = tx.send(true);
            }
            .instrument(span),
        );
    }
    #[cfg(not(unix))]
    tokio::spawn(
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("stopping: finishing the write in flight, then releasing the lease");
                let _ = tx.send(true);
            }
        }
        .instrument(span),
    );
    Ok(())
}

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

/// AWS clients, built once per region.
struct Conn {
    region: Option<String>,
    aws: Aws,
    sdk: aws_types::SdkConfig,
}

/// What one cycle found and did.
struct Record {
    mode: &'static str,
    outcome: Outcome,
    summary: Option<Summary>,
    pending: Option<usize>,
    changes: Vec<Change>,
    drift: Vec<DriftItem>,
    /// Whether drift was looked at this cycle (so an absence of drift means something).
    observed_drift: bool,
    errors: Vec<ErrorItem>,
    pending_subscriptions: Option<usize>,
}

impl Record {
    fn new() -> Record {
        Record {
            mode: "readOnly",
            outcome: Outcome::Success,
            summary: None,
            pending: None,
            changes: vec![],
            drift: vec![],
            observed_drift: false,
            errors: vec![],
            pending_subscriptions: None,
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

fn class_name(c: ErrorClass) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn start_error(rec: &mut Record, e: StartError) {
    let class = match &e {
        StartError::State(StateError::Aws(a)) => a.class,
        // Another writer won: the next cycle reads the inventory again.
        StartError::State(s) if s.is_conflict() => ErrorClass::Transient,
        _ => ErrorClass::Terminal,
    };
    let label = match &e {
        StartError::Refused(_) => "refused".to_string(),
        _ => class_name(class),
    };
    rec.fail(ErrorItem::new(&label, e.to_string()), class);
}

struct Controller {
    cfg: Config,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    stop: tokio::sync::watch::Receiver<bool>,
    span: tracing::Span,
    conn: Option<Conn>,
    keeper: Option<Keeper>,
    /// Read-only for want of a shared lease: where the lease would be, and its view.
    unshared: Option<(Location, Fence)>,
    /// Inventories already warned about as local to this pod.
    warned_local: Option<Location>,
    lease_id: String,
    notifier: Notifier,
    topic: Option<String>,
    cycles: u64,
}

impl Controller {
    fn new(
        cfg: Config,
        shared: Arc<Shared>,
        wake: Arc<Notify>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Controller {
        Controller {
            cfg,
            shared,
            wake,
            stop,
            span: tracing::Span::current(),
            conn: None,
            keeper: None,
            unshared: None,
            warned_local: None,
            lease_id: lease::process_id(),
            notifier: Notifier::default(),
            topic: None,
            cycles: 0,
        }
    }

    /// Clients are built once and reused; the region comes from Settings, which may change.
    async fn connect(&mut self, m: &Manifests) -> Result<Aws, AwsError> {
        let region = m.settings.region.clone();
        if self.conn.as_ref().is_none_or(|c| c.region != region) {
            let sdk = aws::sdk_config(region.as_deref()).await;
            let mut fresh = Aws::from_sdk_config(&sdk);
            self.shared.set_call_log(fresh.calls.clone());
            fresh.env.account_id = fresh.caller_account().await?;
            self.conn = Some(Conn {
                region,
                aws: fresh,
                sdk,
            });
        }
        let conn = self.conn.as_ref().expect("connected above");
        let mut aws = conn.aws.next_cycle();
        aws.env.owner = m.settings.owner.clone();
        // The buckets outlive the cycle; the deadline is the cycle's.
        crate::target::pace_for(&aws, &m.settings, &aws.env.account_id);
        aws.pace
            .start_run(crate::target::deadline(&m.settings, self.cfg.deadline));
        Ok(aws)
    }

    /// Starts the lease keeper, or moves it when Settings moved the lease. Inside
    /// Kubernetes without a shared lease, takes none: the fence never admits a write.
    async fn ensure_keeper(&mut self, m: &Manifests, store: &Location) -> Fence {
        let explicit = m.settings.lease.clone();
        let location = explicit
            .clone()
            .unwrap_or_else(|| lease::default_location(store));
        let k8s = lease::in_kubernetes();
        if let Some(reason) = lease::unshared(&location, explicit.is_some(), k8s) {
            if let Some(old) = self.keeper.take() {
                old.stop(Duration::from_secs(2)).await;
            }
            if let Some((at, fence)) = &self.unshared
                && *at == location
            {
                return fence.clone();
            }
            // Once, not every cycle: /status keeps saying it.
            tracing::warn!("{reason}");
            let fence = Fence::read_only(&location, &self.lease_id, &reason);
            self.shared.set_lease(Some(fence.clone()));
            self.unshared = Some((location, fence.clone()));
            return fence;
        }
        self.unshared = None;
        if k8s && matches!(store, Location::File(_)) && self.warned_local.as_ref() != Some(store) {
            tracing::warn!(
                "the inventory {} is a local file: another pod that takes the lease over will not \
                 know what this one recorded. Set Settings.inventory to an S3 object",
                store.describe()
            );
            self.warned_local = Some(store.clone());
        }
        if let Some(k) = &self.keeper
            && k.location == location
        {
            return k.fence();
        }
        if let Some(old) = self.keeper.take() {
            old.stop(Duration::from_secs(2)).await;
        }
        let sdk = &self.conn.as_ref().expect("connected before the lease").sdk;
        let lease = Lease::new(
            lease::Store::new(&location, sdk),
            self.lease_id.clone(),
            self.cfg.lease_duration,
        );
        let keeper = Keeper::start(location, lease, self.wake.clone()).await;
        let fence = keeper.fence();
        self.shared.set_lease(Some(fence.clone()));
        self.keeper = Some(keeper);
        fence
    }

    async fn cycle(&mut self) -> Record {
        let mut rec = Record::new();
        let m = match manifest::load(&self.cfg.dir) {
            Ok(m) => m,
            Err(errors) => {
                let n = errors.0.len();
                for d in &errors.0 {
                    rec.errors.push(ErrorItem::new("validation", d.to_string()));
                }
                rec.outcome = Outcome::Terminal(format!(
                    "validation failed: {n} error{}; nothing was changed",
                    if n == 1 { "" } else { "s" }
                ));
                return rec;
            }
        };
        self.topic = m
            .settings
            .notifications
            .as_ref()
            .map(|n| n.topic_arn.clone());
        let aws = match self.connect(&m).await {
            Ok(aws) => aws,
            Err(e) => {
                let item = ErrorItem::new(
                    &class_name(e.class),
                    format!("cannot identify the AWS account (STS GetCallerIdentity): {e}"),
                );
                rec.fail(item, e.class);
                return rec;
            }
        };
        if let Err(e) = crate::target::check_account(&m.settings, &aws.env.account_id) {
            rec.fail(
                ErrorItem::new("refused", e.to_string()),
                ErrorClass::Terminal,
            );
            return rec;
        }
        let store = crate::target::inventory_location(&m.settings, &aws.env, m.targets.first());
        let fence = self.ensure_keeper(&m, &store).await;
        match fence.held() {
            Some(token) => {
                rec.mode = "apply";
                let gate = Gate {
                    fence: fence.clone(),
                    token,
                    stop: self.stop.clone(),
                };
                let opts = engine::Options {
                    gate: Some(Arc::new(gate)),
                    ..Default::default()
                };
                match engine::reconcile(&aws, &m, &opts, &store).await {
                    Ok(report) => read_report(&mut rec, report),
                    Err(e) => {
                        // The inventory is newer than our token: if we still hold the
                        // lease (it was reset or moved), move above it for the retry.
                        if let StartError::State(StateError::FencedOut { stored, .. }) = &e {
                            fence.raise_floor(*stored);
                        }
                        start_error(&mut rec, e);
                    }
                }
            }
            None => match engine::drift::run(&aws, &m, &store).await {
                Ok(report) => read_drift(&mut rec, report),
                Err(e) => start_error(&mut rec, e),
            },
        }
        rec
    }

    /// Only the leader publishes, so replicas do not send everything twice.
    async fn notify(&mut self, rec: &Record, revision: Option<&str>) {
        let Some(topic) = self.topic.clone() else {
            return;
        };
        let leader = self
            .keeper
            .as_ref()
            .is_some_and(|k| k.fence().held().is_some());
        if !leader || *self.stop.borrow() {
            return;
        }
        let Some(conn) = &self.conn else { return };
        let aws = conn.aws.next_cycle();
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
        let context = json!({
            "revision": revision,
            "account": aws.env.account_id,
            "region": aws.env.region,
            "dir": self.cfg.dir.display().to_string(),
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
                    "missing"
                } else {
                    "drifted"
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
                state: "drifted",
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
    for e in &report.errors {
        failures.push((e.class, format!("{}/{}: {}", e.kind, e.name, e.message)));
        rec.errors.push(ErrorItem::resource(
            &e.kind,
            &e.name,
            e.class,
            e.message.clone(),
        ));
    }
    rec.outcome = outcome_of(&failures);
    rec.changes = report.changes;
}

/// A read-only look (no lease): drift and pending changes, nothing written.
fn read_drift(rec: &mut Record, report: engine::drift::DriftReport) {
    rec.observed_drift = true;
    rec.pending = Some(report.pending.len());
    for (items, state) in [(&report.drifted, "drifted"), (&report.missing, "missing")] {
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
    for e in &report.errors {
        failures.push((e.class, format!("{}/{}: {}", e.kind, e.name, e.message)));
        rec.errors.push(ErrorItem::resource(
            &e.kind,
            &e.name,
            e.class,
            e.message.clone(),
        ));
    }
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

impl Cycle for Controller {
    async fn run(&mut self) -> Outcome {
        self.cycles += 1;
        let number = self.cycles;
        let started = std::time::Instant::now();
        let started_at = crate::state::now_rfc3339();
        let revision = crate::git::revision(&self.cfg.dir);
        if let Some(r) = &revision {
            self.span.record("attempted", r.as_str());
        }
        self.shared
            .update(|s| s.revision.attempted = revision.clone());
        let calls_before = self.shared.api_calls();

        // A bug must not take the controller down: a panic ends the cycle as terminal.
        let rec = match AssertUnwindSafe(self.cycle()).catch_unwind().await {
            Ok(rec) => rec,
            Err(p) => {
                let mut rec = Record::new();
                rec.fail(
                    ErrorItem::new(
                        "internal",
                        format!("internal error: {}", panic_message(p.as_ref())),
                    ),
                    ErrorClass::Terminal,
                );
                rec
            }
        };
        self.notify(&rec, revision.as_deref()).await;
        let api_calls: ApiCalls = status::delta(&self.shared.api_calls(), &calls_before);
        let secs = started.elapsed().as_secs_f64();

        let s = rec.summary.clone().unwrap_or_default();
        match &rec.outcome {
            Outcome::Success => tracing::info!(
                cycle = number,
                mode = rec.mode,
                ms = (secs * 1000.0) as u64,
                created = s.create,
                updated = s.update,
                deleted = s.delete,
                unchanged = s.unchanged,
                drifted = rec.drift.len(),
                writes = api_calls.writes,
                "cycle succeeded"
            ),
            other => {
                for e in rec.errors.iter().take(20) {
                    tracing::warn!(class = %e.class, "{}", e.message);
                }
                tracing::warn!(
                    cycle = number,
                    mode = rec.mode,
                    outcome = other.label(),
                    ms = (secs * 1000.0) as u64,
                    "cycle failed: {}",
                    other.reason().unwrap_or_default()
                );
            }
        }

        let success = rec.outcome == Outcome::Success;
        if success
            && rec.mode == "apply"
            && let Some(r) = &revision
        {
            self.span.record("applied", r.as_str());
        }
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for d in &rec.drift {
            *by_kind.entry(d.kind.clone()).or_default() += 1;
        }
        let cycle = CycleStatus {
            number,
            started_at: started_at.clone(),
            duration_seconds: secs,
            revision: revision.clone(),
            mode: rec.mode,
            outcome: rec.outcome.label(),
            reason: rec.outcome.reason().map(str::to_string),
            next: None,
            summary: rec.summary.clone(),
            pending: rec.pending,
            changes: rec.changes,
            drift: rec.drift,
            errors: rec.errors,
            api_calls,
        };
        let observed_drift = rec.observed_drift;
        let pending_subscriptions = rec.pending_subscriptions;
        let mode = rec.mode;
        self.shared.update(|st| {
            st.cycles = number;
            st.ready = true;
            *st.outcomes.entry(cycle.outcome).or_default() += 1;
            st.durations.observe(secs);
            if observed_drift {
                st.drift_by_kind = by_kind;
            }
            if pending_subscriptions.is_some() {
                st.pending_subscriptions = pending_subscriptions;
            }
            if success {
                if mode == "apply" {
                    st.revision.applied = revision.clone();
                }
                st.last_success = Some(LastSuccess {
                    at: started_at,
                    revision,
                    mode,
                    summary: cycle.summary.clone(),
                });
                st.last_success_unix = Some(unix_now());
            }
            st.last_cycle = Some(cycle);
        });
        rec.outcome
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
mod tests {
    use super::*;

    #[test]
    fn retryable_failures_decide_the_outcome() {
        assert_eq!(outcome_of(&[]), Outcome::Success);
        let t = outcome_of(&[
            (ErrorClass::AccessDenied, "a".into()),
            (ErrorClass::Throttled, "b".into()),
        ]);
        assert_eq!(t, Outcome::Transient("b (and 1 more)".into()));
        assert_eq!(
            outcome_of(&[(ErrorClass::Unsupported, "x".into())]),
            Outcome::Terminal("x".into())
        );
    }

    fn change(action: ChangeAction, name: &str, status: ChangeStatus) -> Change {
        Change {
            action,
            kind: "MetricAlarm".into(),
            name: name.into(),
            fields: vec![crate::engine::report::FieldView {
                path: "threshold".into(),
                from: Some(json!(95)),
                to: Some(json!(80)),
                known_after_apply: false,
                explained: false,
            }],
            status,
            error: None,
            error_class: None,
            drift: false,
        }
    }

    #[test]
    fn an_apply_report_becomes_drift_errors_and_an_outcome() {
        let mut corrected = change(ChangeAction::Update, "cpu", ChangeStatus::Applied);
        corrected.drift = true;
        let mut missing = change(ChangeAction::Create, "mem", ChangeStatus::Applied);
        missing.drift = true;
        let mut throttled = change(ChangeAction::Update, "latency", ChangeStatus::Failed);
        throttled.error = Some("CloudWatch PutMetricAlarm: Throttling: Rate exceeded".into());
        throttled.error_class = Some(ErrorClass::Throttled);
        let note = |kind: &str, code, message: &str| {
            let mut n = crate::engine::report::Note::new(kind, "n", code, message);
            if code == NoteCode::DriftWarned {
                n.fields = vec![crate::engine::report::FieldView {
                    path: "threshold".into(),
                    from: Some(json!(80)),
                    to: Some(json!(95)),
                    known_after_apply: false,
                    explained: false,
                }];
            }
            n
        };
        let report = Report {
            dry_run: false,
            changes: vec![
                corrected,
                missing,
                throttled,
                change(ChangeAction::Update, "git", ChangeStatus::Applied),
            ],
            summary: Summary::default(),
            notes: vec![
                note(
                    "Topic",
                    NoteCode::PendingConfirmation,
                    "subscription email:a@example.com is pending confirmation",
                ),
                note(
                    "Topic",
                    NoteCode::PendingConfirmation,
                    "subscription email:b@example.com is pending confirmation",
                ),
                note(
                    "MetricAlarm",
                    NoteCode::DriftWarned,
                    "drifted (threshold); not corrected because vigil/drift is warn",
                ),
            ],
            errors: vec![],
            api_calls: ApiCalls::default(),
        };
        let mut rec = Record::new();
        read_report(&mut rec, report);
        let drift: Vec<_> = rec
            .drift
            .iter()
            .map(|d| (d.name.as_str(), d.state, d.corrected))
            .collect();
        assert_eq!(
            drift,
            vec![
                ("cpu", "drifted", true),
                ("mem", "missing", true),
                ("n", "drifted", false)
            ]
        );
        // Drift reads from what was applied to what is live: the reverse of the change.
        assert_eq!(rec.drift[0].fields[0].from, Some(json!(80)));
        // A drift left alone says how, too (a notification names the fields).
        assert_eq!(rec.drift[2].fields[0].to, Some(json!(95)));
        assert_eq!(rec.pending_subscriptions, Some(2));
        assert_eq!(rec.errors[0].class, "throttled");
        assert!(
            matches!(rec.outcome, Outcome::Transient(ref m) if m.contains("MetricAlarm/latency"))
        );
    }

    #[test]
    fn settings_name_the_lease_and_the_topic() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = |extra: &str| {
            std::fs::write(
                tmp.path().join("settings.yaml"),
                format!("apiVersion: vigil/v1\nkind: Settings\nmetadata: {{name: default}}\nspec:\n{extra}"),
            )
            .unwrap();
            manifest::load(tmp.path())
        };
        let m = settings(
            "  lease: {s3: {bucket: state, key: vigil/lease.json}}\n  notifications: {topicArn: arn:aws:sns:us-east-1:123456789012:ops}\n",
        )
        .unwrap();
        assert_eq!(
            m.settings.lease,
            Some(Location::S3 {
                bucket: "state".into(),
                key: "vigil/lease.json".into()
            })
        );
        assert_eq!(
            m.settings.notifications.unwrap().topic_arn,
            "arn:aws:sns:us-east-1:123456789012:ops"
        );
        let err = settings("  notifications: {topicArn: ops-topic}\n").unwrap_err();
        assert!(err.to_string().contains("settings.yaml:5:29"), "{err}");
        assert!(err.to_string().contains("SNS topic ARN"), "{err}");
    }

    #[test]
    fn config_guards_its_values() {
        let ok = Config::new(
            "d".into(),
            Duration::from_secs(300),
            "127.0.0.1:0".into(),
            Duration::from_secs(30),
        );
        assert!(ok.is_ok());
        assert!(
            Config::new(
                "d".into(),
                Duration::ZERO,
                "x".into(),
                Duration::from_secs(30)
            )
            .is_err()
        );
        assert!(
            Config::new(
                "d".into(),
                Duration::from_secs(1),
                "x".into(),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
