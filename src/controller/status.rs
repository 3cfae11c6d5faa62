//! What the controller knows about itself: `/status` as JSON and `/metrics` in
//! the Prometheus text format (written by hand: four endpoints need no framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::aws::{ApiCalls, CallLog, ErrorClass};
use crate::engine::report::{Change, FieldView, Summary};

use super::lease::View as LeaseView;

/// `/status` for one cycle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleStatus {
    pub number: u64,
    pub started_at: String,
    pub duration_seconds: f64,
    /// The commit the cycle read, when DIR is in a git checkout.
    pub revision: Option<String>,
    /// `apply` (this replica holds the lease) or `readOnly`.
    pub mode: &'static str,
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
    /// `drifted` (changed outside vigil) or `missing` (deleted outside vigil).
    pub state: &'static str,
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
    /// An AWS error class, or `validation`, `refused`, `internal`.
    pub class: String,
    pub message: String,
}

impl ErrorItem {
    pub fn new(class: &str, message: impl Into<String>) -> ErrorItem {
        ErrorItem {
            kind: None,
            name: None,
            class: class.to_string(),
            message: message.into(),
        }
    }

    pub fn resource(
        kind: &str,
        name: &str,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> ErrorItem {
        let class = serde_json::to_value(class)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        ErrorItem {
            kind: Some(kind.to_string()),
            name: Some(name.to_string()),
            class,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSuccess {
    pub at: String,
    pub revision: Option<String>,
    pub mode: &'static str,
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

fn add(into: &mut ApiCalls, more: &ApiCalls) {
    into.total += more.total;
    into.reads += more.reads;
    into.writes += more.writes;
    for (map, other) in [
        (&mut into.by_service, &more.by_service),
        (&mut into.throttles, &more.throttles),
    ] {
        for (service, ops) in other {
            for (op, n) in ops {
                *map.entry(service.clone())
                    .or_default()
                    .entry(op.clone())
                    .or_default() += n;
            }
        }
    }
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
            add(&mut c.retired, &snap);
        }
        c.live = Some(log);
    }

    /// Every AWS call this process made for reconcile, drift and notifications.
    pub fn api_calls(&self) -> ApiCalls {
        let c = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = c.retired.clone();
        if let Some(live) = &c.live {
            add(&mut out, &live.snapshot());
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

    pub fn status_json(&self) -> String {
        let s = self.snapshot();
        let lease = self.lease();
        let doc = serde_json::json!({
            "dir": s.dir,
            "ready": s.ready,
            "leader": lease.as_ref().is_some_and(|l| l.leader),
            "lease": lease,
            "revision": s.revision,
            "cycles": s.cycles,
            "lastCycle": s.last_cycle,
            "lastSuccess": s.last_success,
            "notifications": {"published": s.notifications_published, "failed": s.notifications_failed},
            "apiCalls": self.api_calls(),
        });
        serde_json::to_string_pretty(&doc).expect("status serializes")
    }

    pub fn metrics_text(&self) -> String {
        render_metrics(&self.snapshot(), self.lease().as_ref(), &self.api_calls())
    }
}

/// A label value, escaped as the text format asks.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub fn render_metrics(s: &State, lease: Option<&LeaseView>, calls: &ApiCalls) -> String {
    let mut out = String::new();
    let o = &mut out;

    head(o, "vigil_build_info", "gauge", "The running vigil version.");
    let _ = writeln!(
        o,
        "vigil_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );

    // Revisions change with every commit, so they live on one info series (join it
    // with `* on() group_left(applied, attempted) vigil_revision_info`) rather than
    // on every series, which would start new series with every commit.
    head(
        o,
        "vigil_revision_info",
        "gauge",
        "The last applied and the last attempted git revision.",
    );
    let _ = writeln!(
        o,
        "vigil_revision_info{{applied=\"{}\",attempted=\"{}\"}} 1",
        esc(s.revision.applied.as_deref().unwrap_or("")),
        esc(s.revision.attempted.as_deref().unwrap_or(""))
    );

    head(
        o,
        "vigil_ready",
        "gauge",
        "1 once the first reconcile has finished.",
    );
    let _ = writeln!(o, "vigil_ready {}", u8::from(s.ready));

    head(
        o,
        "vigil_leader",
        "gauge",
        "1 while this replica holds the lease and may write.",
    );
    let _ = writeln!(
        o,
        "vigil_leader {}",
        u8::from(lease.is_some_and(|l| l.leader))
    );
    head(
        o,
        "vigil_lease_fencing_token",
        "gauge",
        "The lease's fencing token as last seen.",
    );
    let _ = writeln!(
        o,
        "vigil_lease_fencing_token {}",
        lease.map_or(0, |l| l.token)
    );
    head(
        o,
        "vigil_lease_calls_total",
        "counter",
        "Calls made to keep the lease, by operation.",
    );
    for (op, n) in lease.map(|l| l.calls.clone()).unwrap_or_default() {
        let _ = writeln!(
            o,
            "vigil_lease_calls_total{{operation=\"{}\"}} {n}",
            esc(&op)
        );
    }

    head(
        o,
        "vigil_reconcile_total",
        "counter",
        "Cycles by outcome: success, transient or terminal.",
    );
    for outcome in ["success", "transient", "terminal"] {
        let n = s.outcomes.get(outcome).copied().unwrap_or(0);
        let _ = writeln!(o, "vigil_reconcile_total{{outcome=\"{outcome}\"}} {n}");
    }

    head(
        o,
        "vigil_reconcile_duration_seconds",
        "histogram",
        "How long each cycle took.",
    );
    for (b, c) in s.durations.bounds.iter().zip(&s.durations.counts) {
        let _ = writeln!(
            o,
            "vigil_reconcile_duration_seconds_bucket{{le=\"{}\"}} {c}",
            num(*b)
        );
    }
    let _ = writeln!(
        o,
        "vigil_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        s.durations.count
    );
    let _ = writeln!(
        o,
        "vigil_reconcile_duration_seconds_sum {}",
        s.durations.sum
    );
    let _ = writeln!(
        o,
        "vigil_reconcile_duration_seconds_count {}",
        s.durations.count
    );

    head(
        o,
        "vigil_drift_resources",
        "gauge",
        "Resources found drifted or missing in the last cycle, by kind.",
    );
    for kind in crate::kinds::KindId::ALL {
        let n = s.drift_by_kind.get(kind.name()).copied().unwrap_or(0);
        let _ = writeln!(o, "vigil_drift_resources{{kind=\"{}\"}} {n}", kind.name());
    }

    head(
        o,
        "vigil_aws_api_calls_total",
        "counter",
        "AWS calls by service and operation, retries included.",
    );
    for (service, ops) in &calls.by_service {
        for (op, n) in ops {
            let _ = writeln!(
                o,
                "vigil_aws_api_calls_total{{service=\"{}\",operation=\"{}\"}} {n}",
                esc(service),
                esc(op)
            );
        }
    }
    head(
        o,
        "vigil_aws_api_writes_total",
        "counter",
        "AWS calls that are not reads (Describe, List, Get).",
    );
    let _ = writeln!(o, "vigil_aws_api_writes_total {}", calls.writes);
    head(
        o,
        "vigil_aws_api_throttles_total",
        "counter",
        "AWS calls throttled, by service and operation.",
    );
    for (service, ops) in &calls.throttles {
        for (op, n) in ops {
            let _ = writeln!(
                o,
                "vigil_aws_api_throttles_total{{service=\"{}\",operation=\"{}\"}} {n}",
                esc(service),
                esc(op)
            );
        }
    }

    head(
        o,
        "vigil_sns_pending_subscriptions",
        "gauge",
        "SNS subscriptions still waiting for confirmation.",
    );
    let _ = writeln!(
        o,
        "vigil_sns_pending_subscriptions {}",
        s.pending_subscriptions.unwrap_or(0)
    );

    head(
        o,
        "vigil_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful cycle.",
    );
    let _ = writeln!(
        o,
        "vigil_last_success_timestamp_seconds {}",
        s.last_success_unix.unwrap_or(0.0)
    );

    head(
        o,
        "vigil_notifications_total",
        "counter",
        "Events published to the notification topic, by result.",
    );
    let _ = writeln!(
        o,
        "vigil_notifications_total{{result=\"published\"}} {}",
        s.notifications_published
    );
    let _ = writeln!(
        o,
        "vigil_notifications_total{{result=\"failed\"}} {}",
        s.notifications_failed
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_valid_text_format() {
        let shared = Shared::new("desired-state");
        shared.update(|s| {
            s.ready = true;
            s.revision.applied = Some("a".repeat(40));
            s.durations.observe(0.3);
            s.durations.observe(12.0);
            *s.outcomes.entry("success").or_default() += 2;
            s.drift_by_kind.insert("MetricAlarm".into(), 1);
        });
        let text = shared.metrics_text();
        assert!(text.contains("vigil_ready 1\n"));
        assert!(text.contains("vigil_reconcile_total{outcome=\"success\"} 2\n"));
        assert!(
            text.contains("vigil_reconcile_duration_seconds_bucket{le=\"0.5\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("vigil_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("vigil_drift_resources{kind=\"MetricAlarm\"} 1\n"));
        assert!(text.contains(&format!("applied=\"{}\"", "a".repeat(40))));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(name.starts_with("vigil_"), "{line}");
        }
    }

    #[test]
    fn call_deltas_subtract_per_operation() {
        let mut a = ApiCalls {
            total: 5,
            reads: 4,
            writes: 1,
            ..ApiCalls::default()
        };
        a.by_service
            .entry("CloudWatch".into())
            .or_default()
            .insert("DescribeAlarms".into(), 4);
        a.by_service
            .entry("CloudWatch".into())
            .or_default()
            .insert("PutMetricAlarm".into(), 1);
        let mut b = ApiCalls {
            total: 2,
            reads: 2,
            ..ApiCalls::default()
        };
        b.by_service
            .entry("CloudWatch".into())
            .or_default()
            .insert("DescribeAlarms".into(), 2);
        let d = delta(&a, &b);
        assert_eq!((d.total, d.reads, d.writes), (3, 2, 1));
        assert_eq!(d.by_service["CloudWatch"]["DescribeAlarms"], 2);
    }
}
