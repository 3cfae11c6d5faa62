//! Every attempt sent, counted by service and operation, and the `apiCalls`
//! block of the reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Counts every attempt sent, by service and operation.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<BTreeMap<(String, String), u64>>,
    throttles: Mutex<BTreeMap<(String, String), u64>>,
    /// Time requests waited for their quota slot.
    waits: Mutex<BTreeMap<(String, String), Duration>>,
}

/// Operation names that only read. AssumeRole is one: it changes nothing,
/// so that a target reached through a role still makes zero writes when
/// nothing changed.
pub fn is_read_operation(op: &str) -> bool {
    op == "AssumeRole"
        || [
            "Describe", "List", "Get", "Validate", "Detect", "BatchGet", "Lookup",
        ]
        .iter()
        .any(|p| op.starts_with(p))
}

impl CallLog {
    fn record(&self, service: &str, op: &str) {
        let mut calls = self.calls.lock().expect("call log lock");
        *calls
            .entry((service.to_string(), op.to_string()))
            .or_default() += 1;
    }

    fn record_throttle(&self, service: &str, op: &str) {
        let mut t = self.throttles.lock().expect("call log lock");
        *t.entry((service.to_string(), op.to_string())).or_default() += 1;
    }

    pub(super) fn record_wait(&self, service: &str, op: &str, wait: Duration) {
        let mut w = self.waits.lock().expect("call log lock");
        *w.entry((service.to_string(), op.to_string())).or_default() += wait;
    }

    pub fn snapshot(&self) -> ApiCalls {
        let calls = self.calls.lock().expect("call log lock");
        let mut out = ApiCalls::default();
        for ((service, op), n) in calls.iter() {
            out.total += n;
            if is_read_operation(op) {
                out.reads += n;
            } else {
                out.writes += n;
            }
            add(&mut out.by_service, service, op, *n);
        }
        let throttles = self.throttles.lock().expect("call log lock");
        for ((service, op), n) in throttles.iter() {
            add(&mut out.throttles, service, op, *n);
        }
        let waits = self.waits.lock().expect("call log lock");
        for ((service, op), d) in waits.iter() {
            add(&mut out.quota_wait_seconds, service, op, d.as_secs_f64());
        }
        out
    }
}

/// Adds `n` to what `by_service` holds for the operation.
fn add<T: Default + std::ops::AddAssign>(
    by_service: &mut BTreeMap<String, BTreeMap<String, T>>,
    service: &str,
    op: &str,
    n: T,
) {
    *by_service
        .entry(service.to_string())
        .or_default()
        .entry(op.to_string())
        .or_default() += n;
}

/// Whether AWS throttled the attempt: a 429, or a 400 (awsQuery, JSON and CBOR
/// protocols; CBOR's text strings are UTF-8 in the body) or 503 (S3) whose error
/// code says so.
pub(super) fn is_throttle(r: &HttpResponse) -> bool {
    const MARKERS: &[&str] = &[
        "Throttl",
        "TooManyRequests",
        "RequestLimitExceeded",
        "SlowDown",
    ];
    match r.status().as_u16() {
        429 => true,
        400 | 503 => {
            r.headers()
                .get("x-amzn-errortype")
                .is_some_and(|t| MARKERS.iter().any(|m| t.contains(m)))
                || r.body().bytes().is_some_and(|b| {
                    let body = String::from_utf8_lossy(b);
                    MARKERS.iter().any(|m| body.contains(m))
                })
        }
        _ => false,
    }
}

/// The `apiCalls` block of the JSON report.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiCalls {
    pub total: u64,
    pub reads: u64,
    pub writes: u64,
    pub by_service: BTreeMap<String, BTreeMap<String, u64>>,
    /// Throttling answers seen, by service and operation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throttles: BTreeMap<String, BTreeMap<String, u64>>,
    /// Seconds spent waiting for quota before sending, by service and operation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quota_wait_seconds: BTreeMap<String, BTreeMap<String, f64>>,
}

impl ApiCalls {
    /// Adds another count to this one.
    pub fn add(&mut self, more: &ApiCalls) {
        let into = self;
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
        for (service, ops) in &more.quota_wait_seconds {
            for (op, secs) in ops {
                *into
                    .quota_wait_seconds
                    .entry(service.clone())
                    .or_default()
                    .entry(op.clone())
                    .or_default() += secs;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct CallCounter(pub(super) Arc<CallLog>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "vigil::CallCounter"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(md) = cfg.load::<Metadata>() {
            self.0.record(md.service(), md.name());
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if ctx.response().is_some_and(is_throttle)
            && let Some(md) = cfg.load::<Metadata>()
        {
            self.0.record_throttle(md.service(), md.name());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_told_apart() {
        assert!(is_read_operation("DescribeAlarms"));
        assert!(is_read_operation("ListTagsForResource"));
        assert!(!is_read_operation("PutMetricAlarm"));
        assert!(!is_read_operation("TagResource"));
        assert!(is_read_operation("AssumeRole"));
    }
}
