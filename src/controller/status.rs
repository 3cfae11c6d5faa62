//! What the controller knows about itself: `/status` as JSON and `/metrics` in
//! the OpenMetrics text format (prometheus-client).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use serde::Serialize;

use crate::aws::{ApiCalls, CallLog, ErrorClass};
use crate::engine::report::{Change, FieldView, Summary};

use super::lease::View as LeaseView;
use super::shard::ShardView;
use crate::manifest::Target;

/// Whether a cycle may write, as `/status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// This replica holds the lease: it applies.
    Apply,
    /// It observes and reports, and writes nothing.
    ReadOnly,
    /// It did nothing: another replica's target, or one that left the directory.
    Standby,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::ReadOnly => "readOnly",
            Mode::Standby => "standby",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a resource differs from what vigil applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftState {
    /// Changed outside vigil.
    Drifted,
    /// Deleted outside vigil.
    Missing,
}

impl DriftState {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftState::Drifted => "drifted",
            DriftState::Missing => "missing",
        }
    }
}

impl std::fmt::Display for DriftState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of error an [`ErrorItem`] reports: an AWS error class, or one of vigil's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorLabel {
    Aws(ErrorClass),
    /// The directory is invalid.
    Validation,
    /// A safety refusal.
    Refused,
    /// A bug: the cycle panicked.
    Internal,
}

impl ErrorLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorLabel::Aws(c) => c.as_str(),
            ErrorLabel::Validation => "validation",
            ErrorLabel::Refused => "refused",
            ErrorLabel::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `/status` for one cycle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleStatus {
    pub number: u64,
    pub started_at: String,
    pub duration_seconds: f64,
    /// The commit the cycle read, when DIR is in a git checkout.
    pub revision: Option<String>,
    pub mode: Mode,
    /// `success`, `transient` or `terminal`.
    pub outcome: &'static str,
    pub reason: Option<String>,
    /// What comes next: `requeue`, `retry` or `awaitChange`.
    pub next: Option<Next>,
    /// The plan summary (apply mode).
    pub summary: Option<Summary>,
    /// What a reconcile would change (read-only mode: pending and drift counts).
    pub pending: Option<usize>,
    pub changes: Vec<Change>,
    pub drift: Vec<DriftItem>,
    pub errors: Vec<ErrorItem>,
    /// AWS calls this cycle made.
    pub api_calls: ApiCalls,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Next {
    pub action: &'static str,
    pub after_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftItem {
    pub kind: String,
    pub name: String,
    /// From what vigil applied to what is live.
    pub fields: Vec<FieldView>,
    pub state: DriftState,
    /// This cycle put it back.
    pub corrected: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub class: ErrorLabel,
    pub message: String,
}

impl ErrorItem {
    pub fn new(class: ErrorLabel, message: impl Into<String>) -> ErrorItem {
        ErrorItem {
            kind: None,
            name: None,
            class,
            message: message.into(),
        }
    }

    pub fn resource(
        kind: &str,
        name: &str,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> ErrorItem {
        ErrorItem {
            kind: Some(kind.to_string()),
            name: Some(name.to_string()),
            class: ErrorLabel::Aws(class),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSuccess {
    pub at: String,
    pub revision: Option<String>,
    pub mode: Mode,
    pub summary: Option<Summary>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revisions {
    /// The revision of the last successful apply.
    pub applied: Option<String>,
    /// The revision the latest cycle read.
    pub attempted: Option<String>,
}

/// Everything `/status` and `/metrics` show.
#[derive(Debug, Clone)]
pub struct State {
    pub dir: String,
    pub ready: bool,
    pub revision: Revisions,
    pub cycles: u64,
    pub last_cycle: Option<CycleStatus>,
    pub last_success: Option<LastSuccess>,
    pub last_success_unix: Option<f64>,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub durations: Histogram,
    pub drift_by_kind: BTreeMap<String, usize>,
    pub pending_subscriptions: Option<usize>,
    pub notifications_published: u64,
    pub notifications_failed: u64,
    /// The last look found the target held by another replica (or gone from the directory).
    pub standby: bool,
    /// The last cycle could not read the directory (a file refused, a limit, a hung
    /// load): the first such error. Not ready while set.
    pub unreadable: Option<String>,
}

/// Seconds, for cycle durations.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// State shared by the loop, the lease keeper and the HTTP server.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    calls: Mutex<Calls>,
    lease: Mutex<Option<super::lease::Fence>>,
}

/// AWS calls of this process: the live call log, plus those of clients replaced
/// since (a region change).
#[derive(Debug, Default)]
struct Calls {
    live: Option<Arc<CallLog>>,
    retired: ApiCalls,
}

/// The calls in `after` that are not in `before`.
pub fn delta(after: &ApiCalls, before: &ApiCalls) -> ApiCalls {
    let mut out = ApiCalls {
        total: after.total.saturating_sub(before.total),
        reads: after.reads.saturating_sub(before.reads),
        writes: after.writes.saturating_sub(before.writes),
        ..ApiCalls::default()
    };
    for (map, a, b) in [
        (&mut out.by_service, &after.by_service, &before.by_service),
        (&mut out.throttles, &after.throttles, &before.throttles),
    ] {
        for (service, ops) in a {
            for (op, n) in ops {
                let was = b.get(service).and_then(|o| o.get(op)).copied().unwrap_or(0);
                if *n > was {
                    map.entry(service.clone())
                        .or_default()
                        .insert(op.clone(), n - was);
                }
            }
        }
    }
    for (service, ops) in &after.quota_wait_seconds {
        for (op, secs) in ops {
            let was = before
                .quota_wait_seconds
                .get(service)
                .and_then(|o| o.get(op))
                .copied()
                .unwrap_or(0.0);
            if *secs > was {
                out.quota_wait_seconds
                    .entry(service.clone())
                    .or_default()
                    .insert(op.clone(), secs - was);
            }
        }
    }
    out
}

impl Shared {
    pub fn new(dir: &str) -> Shared {
        Shared {
            state: Mutex::new(State {
                dir: dir.to_string(),
                ready: false,
                revision: Revisions {
                    applied: None,
                    attempted: None,
                },
                cycles: 0,
                last_cycle: None,
                last_success: None,
                last_success_unix: None,
                outcomes: BTreeMap::new(),
                durations: Histogram::new(&[
                    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                ]),
                drift_by_kind: BTreeMap::new(),
                pending_subscriptions: None,
                notifications_published: 0,
                notifications_failed: 0,
                standby: false,
                unreadable: None,
            }),
            calls: Mutex::new(Calls::default()),
            lease: Mutex::new(None),
        }
    }

    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn snapshot(&self) -> State {
        self.update(|s| s.clone())
    }

    /// Points at the call log of new clients, keeping the counts of the old ones.
    pub fn set_call_log(&self, log: Arc<CallLog>) {
        let mut c = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = c.live.take() {
            let snap = old.snapshot();
            c.retired.add(&snap);
        }
        c.live = Some(log);
    }

    /// Every AWS call this process made for reconcile, drift and notifications.
    pub fn api_calls(&self) -> ApiCalls {
        let c = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = c.retired.clone();
        if let Some(live) = &c.live {
            out.add(&live.snapshot());
        }
        out
    }

    pub fn set_lease(&self, fence: Option<super::lease::Fence>) {
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = fence;
    }

    pub fn lease(&self) -> Option<LeaseView> {
        self.lease
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|f| f.view())
    }

    /// `/status` of a directory without Target documents.
    pub fn status_json(&self) -> String {
        let mut doc = self.status_value();
        doc["dir"] = self.update(|s| s.dir.clone()).into();
        // Served unauthenticated: no secret, whatever a report or error holds.
        crate::secret::redact_json(&doc)
    }

    /// This target's part of `/status`.
    fn status_value(&self) -> serde_json::Value {
        let s = self.snapshot();
        let lease = self.lease();
        serde_json::json!({
            "ready": s.ready,
            "leader": lease.as_ref().is_some_and(|l| l.leader),
            "lease": lease,
            "revision": s.revision,
            "cycles": s.cycles,
            "lastCycle": s.last_cycle,
            "lastSuccess": s.last_success,
            "notifications": {"published": s.notifications_published, "failed": s.notifications_failed},
            "apiCalls": self.api_calls(),
        })
    }

    pub fn metrics_text(&self) -> String {
        render_metrics(&self.snapshot(), self.lease().as_ref(), &self.api_calls())
    }
}

/// One target's status, shown beside the others'.
pub struct TargetStatus {
    pub target: Target,
    pub shared: Arc<Shared>,
}

/// What the endpoints show: each target's status, and how the targets are
/// spread over the replicas. A directory without Target documents shows its one
/// target's status exactly as it always has.
pub struct Board {
    dir: String,
    entries: Mutex<Vec<TargetStatus>>,
    shard: Mutex<Option<Arc<Mutex<ShardView>>>>,
}

impl Board {
    pub fn new(dir: &str) -> Board {
        Board {
            dir: dir.to_string(),
            entries: Mutex::new(Vec::new()),
            shard: Mutex::new(None),
        }
    }

    /// A board showing one implicit target: what a directory without Target documents has.
    pub fn implicit(dir: &str) -> (Board, Arc<Shared>) {
        let board = Board::new(dir);
        let shared = Arc::new(Shared::new(dir));
        board.set_entries(vec![TargetStatus {
            target: Target::implicit(None, None),
            shared: shared.clone(),
        }]);
        (board, shared)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<TargetStatus>) -> T) -> T {
        f(&mut self.entries.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The targets now run, in the directory's order.
    pub fn set_entries(&self, entries: Vec<TargetStatus>) {
        self.with(|e| *e = entries);
    }

    pub fn set_shard(&self, view: Option<Arc<Mutex<ShardView>>>) {
        *self.shard.lock().unwrap_or_else(|p| p.into_inner()) = view;
    }

    fn shard(&self) -> Option<ShardView> {
        self.shard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|v| v.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// The implicit target's status, when that is all the directory has.
    fn single(&self) -> Option<Arc<Shared>> {
        self.with(|e| match e.as_slice() {
            [only] if !only.target.declared => Some(only.shared.clone()),
            _ => None,
        })
    }

    fn all(&self) -> Vec<(Target, Arc<Shared>)> {
        self.with(|e| {
            e.iter()
                .map(|x| (x.target.clone(), x.shared.clone()))
                .collect()
        })
    }

    /// Every target has finished its first cycle (or found it is another replica's),
    /// and the last one could read the directory.
    pub fn ready(&self) -> bool {
        let all = self.all();
        !all.is_empty() && all.iter().all(|(_, s)| s.update(|s| s.ready))
    }

    /// Why the directory cannot be read, when that is why it is not ready.
    pub fn unreadable(&self) -> Option<String> {
        self.all()
            .into_iter()
            .find_map(|(_, s)| s.update(|s| s.unreadable.clone()))
    }

    pub fn status_json(&self) -> String {
        if let Some(one) = self.single() {
            return one.status_json();
        }
        let mut calls = ApiCalls::default();
        let mut leader = false;
        let targets: Vec<serde_json::Value> = self
            .all()
            .into_iter()
            .map(|(t, shared)| {
                let mut v = shared.status_value();
                calls.add(&shared.api_calls());
                leader |= v["leader"] == true;
                v["target"] = t.key().into();
                v["name"] = t.name.clone().into();
                v["accountId"] = t.account_id.clone().into();
                v["region"] = t.region.clone().into();
                v["standby"] = shared.update(|s| s.standby).into();
                v
            })
            .collect();
        let doc = serde_json::json!({
            "dir": self.dir,
            "ready": self.ready(),
            "leader": leader,
            "replica": self.shard(),
            "targets": targets,
            "apiCalls": calls,
        });
        crate::secret::redact_json(&doc)
    }

    pub fn metrics_text(&self) -> String {
        if let Some(one) = self.single() {
            return one.metrics_text();
        }
        let all = self.all();
        let snapshots: Vec<(String, State, Option<LeaseView>, ApiCalls)> = all
            .iter()
            .map(|(t, s)| (t.key(), s.snapshot(), s.lease(), s.api_calls()))
            .collect();
        let items: Vec<Item> = snapshots
            .iter()
            .map(|(key, state, lease, calls)| Item {
                labels: vec![("target", key.clone())],
                state,
                lease: lease.as_ref(),
                calls,
            })
            .collect();
        render(&items, self.shard().as_ref())
    }
}

/// What `/metrics` serves: the OpenMetrics text that `render_metrics` encodes.
/// Prometheus asks for it first and parses it natively.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The labels of one target's series: `target` with Target documents, none without.
type TargetLabels = Vec<(&'static str, String)>;

/// One metric, one series per label set: what a `Family` holds, built from values
/// rather than updated in place (the values live in `State`, the lease view and
/// the call log, and each scrape encodes a snapshot).
#[derive(Debug)]
struct Series<S, M> {
    kind: MetricType,
    series: Vec<(S, M)>,
}

impl<S, M> Series<S, M> {
    fn new(kind: MetricType) -> Self {
        Series {
            kind,
            series: Vec::new(),
        }
    }

    fn add(&mut self, labels: S, metric: M) {
        self.series.push((labels, metric));
    }
}

impl<S, M> EncodeMetric for Series<S, M>
where
    S: EncodeLabelSet + std::fmt::Debug,
    M: EncodeMetric,
{
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, metric) in &self.series {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }
}

/// Labels of per-operation AWS metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceOperation {
    pub service: String,
    pub operation: String,
}

/// The counts live in `State` (the loop observes, a scrape reads a snapshot), so
/// the snapshot encodes itself as a histogram rather than through
/// prometheus-client's own, which cannot be set from counts.
impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Ours are cumulative; the encoder wants each bucket's own count.
        let mut buckets = Vec::with_capacity(self.bounds.len() + 1);
        let mut below = 0;
        for (bound, cumulative) in self.bounds.iter().zip(&self.counts) {
            buckets.push((*bound, cumulative.saturating_sub(below)));
            below = *cumulative;
        }
        buckets.push((f64::INFINITY, self.count.saturating_sub(below)));
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn gauge(v: i64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

fn counter_f64(v: f64) -> Counter<f64, AtomicU64> {
    let c = Counter::<f64, AtomicU64>::default();
    c.inc_by(v);
    c
}

fn gauge_f64(v: f64) -> Gauge<f64, AtomicU64> {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    g
}

fn label(name: &'static str, value: impl Into<String>) -> TargetLabels {
    vec![(name, value.into())]
}

/// Registers a counter labelled `service` and `operation` from fractional totals,
/// for per-operation measures beyond call counts. `name` is without the `vigil_`
/// prefix, the unit and `_total`.
pub fn register_operation_counter(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    values: &BTreeMap<String, BTreeMap<String, f64>>,
) {
    let mut series = Series::new(MetricType::Counter);
    per_operation_f64(&mut series, &Vec::new(), values);
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, series),
        None => registry.register(name, help, series),
    }
}

fn per_operation(
    series: &mut Series<(TargetLabels, ServiceOperation), Counter>,
    target: &TargetLabels,
    values: &BTreeMap<String, BTreeMap<String, u64>>,
) {
    for (service, ops) in values {
        for (operation, n) in ops {
            let op = ServiceOperation {
                service: service.clone(),
                operation: operation.clone(),
            };
            series.add((target.clone(), op), counter(*n));
        }
    }
}

fn per_operation_f64(
    series: &mut Series<(TargetLabels, ServiceOperation), Counter<f64, AtomicU64>>,
    target: &TargetLabels,
    values: &BTreeMap<String, BTreeMap<String, f64>>,
) {
    for (service, ops) in values {
        for (operation, v) in ops {
            let op = ServiceOperation {
                service: service.clone(),
                operation: operation.clone(),
            };
            series.add((target.clone(), op), counter_f64(*v));
        }
    }
}

/// One target's values, for a scrape.
struct Item<'a> {
    labels: TargetLabels,
    state: &'a State,
    lease: Option<&'a LeaseView>,
    calls: &'a ApiCalls,
}

/// The OpenMetrics exposition of one snapshot. A fresh registry per scrape: the
/// values already live in `State`, the lease view and the call log.
pub fn render_metrics(s: &State, lease: Option<&LeaseView>, calls: &ApiCalls) -> String {
    render(
        &[Item {
            labels: Vec::new(),
            state: s,
            lease,
            calls,
        }],
        None,
    )
}

/// The exposition of every target's values, each series labelled with its target.
fn render(items: &[Item], shard: Option<&ShardView>) -> String {
    let mut reg = Registry::with_prefix("vigil");
    reg.register(
        "build",
        "The running vigil version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    if let Some(v) = shard {
        reg.register(
            "replicas",
            "Replicas of this Deployment alive, as this replica last counted them",
            gauge(i64::try_from(v.replicas).unwrap_or(i64::MAX)),
        );
        reg.register(
            "targets_held",
            "Targets whose lease this replica holds",
            gauge(i64::try_from(v.held.len()).unwrap_or(i64::MAX)),
        );
        reg.register(
            "targets_share",
            "The targets this replica aims to hold: targets divided by replicas, rounded up",
            gauge(i64::try_from(v.share).unwrap_or(i64::MAX)),
        );
    }
    register_state(&mut reg, items);
    register_lease(&mut reg, items);
    register_calls(&mut reg, items);
    let mut out = String::new();
    encode(&mut out, &reg).expect("writing to a String cannot fail");
    out
}

/// The cycle's own series: revision, readiness, outcomes, durations, drift,
/// subscriptions, last success and notifications.
fn register_state(reg: &mut Registry, items: &[Item]) {
    // Revisions change with every commit, so they live on one info series (join it
    // with `* on() group_left(applied, attempted) vigil_revision_info`) rather than
    // on every series, which would start new series with every commit.
    let mut revision = Series::new(MetricType::Info);
    let mut ready = Series::new(MetricType::Gauge);
    let mut outcomes = Series::new(MetricType::Counter);
    let mut durations = Series::new(MetricType::Histogram);
    let mut drift = Series::new(MetricType::Gauge);
    let mut pending = Series::new(MetricType::Gauge);
    let mut last_success = Series::new(MetricType::Gauge);
    let mut notifications = Series::new(MetricType::Counter);
    for it in items {
        let s = it.state;
        let t = &it.labels;
        revision.add(
            t.clone(),
            Info::new(vec![
                ("applied", s.revision.applied.clone().unwrap_or_default()),
                (
                    "attempted",
                    s.revision.attempted.clone().unwrap_or_default(),
                ),
            ]),
        );
        ready.add(t.clone(), gauge(i64::from(s.ready)));
        for outcome in ["success", "transient", "terminal"] {
            let n = s.outcomes.get(outcome).copied().unwrap_or(0);
            outcomes.add((t.clone(), label("outcome", outcome)), counter(n));
        }
        durations.add(t.clone(), s.durations.clone());
        for kind in crate::kinds::KindId::ALL {
            let n = s.drift_by_kind.get(kind.name()).copied().unwrap_or(0);
            drift.add(
                (t.clone(), label("kind", kind.name())),
                gauge(i64::try_from(n).unwrap_or(i64::MAX)),
            );
        }
        pending.add(
            t.clone(),
            gauge(i64::try_from(s.pending_subscriptions.unwrap_or(0)).unwrap_or(i64::MAX)),
        );
        last_success.add(t.clone(), gauge_f64(s.last_success_unix.unwrap_or(0.0)));
        for (result, n) in [
            ("published", s.notifications_published),
            ("failed", s.notifications_failed),
        ] {
            notifications.add((t.clone(), label("result", result)), counter(n));
        }
    }
    reg.register(
        "revision",
        "The last applied and the last attempted git revision",
        revision,
    );
    reg.register("ready", "1 once the first reconcile has finished", ready);
    reg.register(
        "reconcile",
        "Cycles by outcome: success, transient or terminal",
        outcomes,
    );
    reg.register_with_unit(
        "reconcile_duration",
        "How long each cycle took",
        Unit::Seconds,
        durations,
    );
    reg.register(
        "drift_resources",
        "Resources found drifted or missing in the last cycle, by kind",
        drift,
    );
    reg.register(
        "sns_pending_subscriptions",
        "SNS subscriptions still waiting for confirmation",
        pending,
    );
    reg.register_with_unit(
        "last_success_timestamp",
        "Unix time of the last successful cycle",
        Unit::Seconds,
        last_success,
    );
    reg.register(
        "notifications",
        "Events published to the notification topic, by result",
        notifications,
    );
}

/// Whether this replica writes, under which token, and what keeping the lease cost.
fn register_lease(reg: &mut Registry, items: &[Item]) {
    let mut leader = Series::new(MetricType::Gauge);
    let mut token = Series::new(MetricType::Gauge);
    let mut calls = Series::new(MetricType::Counter);
    for it in items {
        let t = &it.labels;
        leader.add(
            t.clone(),
            gauge(i64::from(it.lease.is_some_and(|l| l.leader))),
        );
        let g = Gauge::<u64, AtomicU64>::default();
        g.set(it.lease.map_or(0, |l| l.token));
        token.add(t.clone(), g);
        for (op, n) in it.lease.map(|l| l.calls.clone()).unwrap_or_default() {
            calls.add((t.clone(), label("operation", op)), counter(n));
        }
    }
    reg.register(
        "leader",
        "1 while this replica holds the lease and may write",
        leader,
    );
    reg.register(
        "lease_fencing_token",
        "The lease's fencing token as last seen",
        token,
    );
    reg.register(
        "lease_calls",
        "Calls made to keep the lease, by operation",
        calls,
    );
}

/// AWS calls, writes, throttles and time waiting for quota.
fn register_calls(reg: &mut Registry, items: &[Item]) {
    let mut calls = Series::new(MetricType::Counter);
    let mut writes = Series::new(MetricType::Counter);
    let mut throttles = Series::new(MetricType::Counter);
    let mut waits = Series::new(MetricType::Counter);
    for it in items {
        per_operation(&mut calls, &it.labels, &it.calls.by_service);
        writes.add(it.labels.clone(), counter(it.calls.writes));
        per_operation(&mut throttles, &it.labels, &it.calls.throttles);
        per_operation_f64(&mut waits, &it.labels, &it.calls.quota_wait_seconds);
    }
    reg.register(
        "aws_api_calls",
        "AWS calls by service and operation, retries included",
        calls,
    );
    reg.register(
        "aws_api_writes",
        "AWS calls that are not reads (Describe, List, Get)",
        writes,
    );
    reg.register(
        "aws_api_throttles",
        "AWS calls throttled, by service and operation",
        throttles,
    );
    reg.register_with_unit(
        "aws_quota_wait",
        "Time AWS calls waited for their quota slot before being sent",
        Unit::Seconds,
        waits,
    );
}

#[cfg(test)]
mod tests;
