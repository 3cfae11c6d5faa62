//! Pacing under AWS's request-rate quotas, and retries that outlast throttling.
//!
//! - A token bucket per (account, region, service, operation), seeded from the
//!   quota table ([`super::quotas`]) or `Settings.quotas`, held by the
//!   process's one [`Pacer`] and shared by every client built through its
//!   [`super::Connector`]: every cycle of `vigil run`, every target.
//! - Requests wait for their slot in the HTTP connector, just before they go,
//!   so every attempt, retry and page is paced. Waits stay short because the
//!   executor bounds how many steps are in flight.
//! - Adaptive: a throttle cuts that bucket's rate by 30% (once a second at
//!   most), and the rate climbs back to the quota within seconds.
//! - Retries: the SDK's standard strategy with no retry quota and many
//!   attempts, cut off at the run's deadline. A non-idempotent create is never
//!   retried after an ambiguous failure; its kind reads back instead.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::ErrorKind;

use super::calls::CallLog;
use super::quotas;

/// How long a run keeps retrying throttled and transient calls.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// A throttle cuts a bucket's rate to this share of what it was...
const CUT: f64 = 0.7;

/// ...at most once in this long: a burst of throttles is one signal.
const CUT_EVERY: Duration = Duration::from_secs(1);

/// After a cut, the rate climbs back by this share of the quota a second, so a
/// random storm of throttles slows vigil down without stalling it.
const CLIMB: f64 = 0.2;

/// The lowest a throttled bucket goes, as a share of its quota.
const FLOOR: f64 = 0.1;

pub use super::services::{SERVICES, service_name};

/// Creates that AWS would repeat if a lost response were retried; their kinds
/// read back and retry themselves. Throttled requests are safe to retry:
/// AWS did not run them.
const NOT_IDEMPOTENT: &[(&str, &str)] = &[("logs", "PutQueryDefinition"), ("sns", "Subscribe")];

/// Attempts of a call that AWS answered with a server error (a 5xx): unlike
/// throttling, it may not pass by itself.
const SERVER_ERROR_ATTEMPTS: u32 = 10;

/// Attempts of a call that got no answer at all (refused, timed out): an
/// endpoint that cannot be reached should fail fast, and `vigil run` backs off.
const UNREACHABLE_ATTEMPTS: u32 = 3;

/// Which operation a request is, put on it before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Op {
    pub service: &'static str,
    pub name: String,
}

/// What the connector and the retry classifier learn about an attempt.
#[derive(Debug, Clone)]
struct Attempt {
    op: Op,
    number: u32,
}

impl Attempt {
    fn not_idempotent(&self) -> bool {
        NOT_IDEMPOTENT
            .iter()
            .any(|(s, o)| *s == self.op.service && *o == self.op.name)
    }
}

#[derive(Debug)]
struct Bucket {
    quota: f64,
    /// The rate since the last cut, or the quota.
    rate: f64,
    /// When the next request may go.
    next: Instant,
    /// The last cut: when, and the rate it cut to.
    cut: Option<(Instant, f64)>,
}

impl Bucket {
    fn new(quota: f64, now: Instant) -> Bucket {
        Bucket {
            quota,
            rate: quota,
            next: now,
            cut: None,
        }
    }

    /// Takes the next slot; returns how long to wait for it. AWS's buckets hold
    /// about a second of requests, so an idle bucket lets a short burst go at
    /// once; one token of that is kept back, so that requests arriving closer
    /// together than they were sent are not throttled.
    fn reserve(&mut self, now: Instant) -> Duration {
        self.recover(now);
        let interval = Duration::from_secs_f64(1.0 / self.rate);
        let burst = interval.mul_f64((self.rate.floor() - 2.0).max(0.0));
        let due = self.next.max(now);
        self.next = due + interval;
        due.checked_sub(burst)
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
    }

    fn throttled(&mut self, now: Instant) {
        if self
            .cut
            .is_some_and(|(at, _)| now.duration_since(at) < CUT_EVERY)
        {
            return;
        }
        self.recover(now);
        self.rate = (self.rate * CUT).max(self.quota * FLOOR);
        self.cut = Some((now, self.rate));
    }

    fn recover(&mut self, now: Instant) {
        if let Some((at, from)) = self.cut {
            let climbed = from + self.quota * CLIMB * now.duration_since(at).as_secs_f64();
            self.rate = climbed.min(self.quota);
            if self.rate >= self.quota {
                self.cut = None;
            }
        }
    }

    /// A new quota keeps how far a throttled bucket is below it.
    fn set_quota(&mut self, quota: f64) {
        let share = quota / self.quota;
        self.rate = (self.rate * share).clamp(quota * FLOOR, quota);
        self.cut = self.cut.map(|(at, from)| (at, from * share));
        self.quota = quota;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    account: String,
    region: String,
    op: Op,
}

/// Every bucket: one per process, held by its [`super::Connector`] and shared by
/// every client built through it (each target's [`Pacing`]), so that targets in
/// one account and region share that account's quota there.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

/// Where one set of clients acts (an account and region), and the run's deadline.
#[derive(Debug)]
pub struct Pacing {
    pacer: Arc<Pacer>,
    region: String,
    account: OnceLock<String>,
    overrides: Mutex<BTreeMap<(String, String), f64>>,
    deadline: Mutex<Instant>,
    calls: Arc<CallLog>,
    /// Requests waiting for their slot right now, and for what.
    waiting: AtomicUsize,
    waiting_for: Mutex<Option<Op>>,
}

impl Pacing {
    /// The pacing of clients in `region`, with buckets in `pacer`.
    pub fn new(region: &str, calls: Arc<CallLog>, pacer: Arc<Pacer>) -> Pacing {
        Pacing {
            pacer,
            region: region.to_string(),
            account: OnceLock::new(),
            overrides: Mutex::new(BTreeMap::new()),
            deadline: Mutex::new(Instant::now() + DEFAULT_DEADLINE),
            calls,
            waiting: AtomicUsize::new(0),
            waiting_for: Mutex::new(None),
        }
    }

    /// Once the account is known, buckets are the account's (until then, one shared set).
    pub fn set_account(&self, account: &str) {
        let _ = self.account.set(account.to_string());
    }

    /// `Settings.quotas`: `service:Operation` to requests per second.
    pub fn set_quotas(&self, quotas: &BTreeMap<String, f64>) {
        let parsed: BTreeMap<(String, String), f64> = quotas
            .iter()
            .filter_map(|(k, v)| {
                let (s, o) = k.split_once(':')?;
                Some(((s.to_string(), o.to_string()), *v))
            })
            .collect();
        let mut buckets = self.pacer.buckets.lock().expect("pacer lock");
        for (key, b) in buckets.iter_mut() {
            if key.account == self.account() && key.region == self.region {
                b.set_quota(self.quota_in(&parsed, &key.op));
            }
        }
        *self.overrides.lock().expect("overrides lock") = parsed;
    }

    /// A run starts: retries stop `within` from now.
    pub fn start_run(&self, within: Duration) {
        *self.deadline.lock().expect("deadline lock") = Instant::now() + within;
    }

    fn past_deadline(&self) -> bool {
        Instant::now() >= *self.deadline.lock().expect("deadline lock")
    }

    fn account(&self) -> String {
        self.account.get().cloned().unwrap_or_default()
    }

    fn quota_in(&self, overrides: &BTreeMap<(String, String), f64>, op: &Op) -> f64 {
        overrides
            .get(&(op.service.to_string(), op.name.clone()))
            .copied()
            .unwrap_or_else(|| quotas::default_rate(op.service, &op.name))
    }

    fn key(&self, op: &Op) -> Key {
        Key {
            account: self.account(),
            region: self.region.clone(),
            op: op.clone(),
        }
    }

    /// How long `op` must wait for its slot (taking it).
    fn reserve(&self, op: &Op) -> Duration {
        let quota = self.quota_in(&self.overrides.lock().expect("overrides lock"), op);
        let now = Instant::now();
        let mut buckets = self.pacer.buckets.lock().expect("pacer lock");
        buckets
            .entry(self.key(op))
            .or_insert_with(|| Bucket::new(quota, now))
            .reserve(now)
    }

    fn throttled(&self, op: &Op) {
        let now = Instant::now();
        if let Some(b) = self
            .pacer
            .buckets
            .lock()
            .expect("pacer lock")
            .get_mut(&self.key(op))
        {
            b.throttled(now);
        }
    }

    /// What is waiting for quota now: how many requests, and one of their operations.
    pub fn waiting(&self) -> (usize, Option<Op>) {
        let n = self.waiting.load(Ordering::Relaxed);
        let op = (n > 0)
            .then(|| self.waiting_for.lock().expect("waiting lock").clone())
            .flatten();
        (n, op)
    }

    async fn wait_for_slot(&self, op: &Op) {
        let wait = self.reserve(op);
        if wait.is_zero() {
            return;
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        *self.waiting_for.lock().expect("waiting lock") = Some(op.clone());
        tokio::time::sleep(wait).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.calls.record_wait(service_sdk(op), &op.name, wait);
    }
}

/// The SDK's name back from vigil's, for the call log (which uses the SDK's names).
fn service_sdk(op: &Op) -> &'static str {
    super::services::sdk_name(op.service)
}

/// Names each request's operation before it goes, and slows its bucket when AWS throttled it.
#[derive(Debug, Clone)]
pub(super) struct Marker(pub(super) Arc<Pacing>);

impl Intercept for Marker {
    fn name(&self) -> &'static str {
        "vigil::pace::Marker"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(md) = cfg.load::<Metadata>() {
            let number = cfg
                .load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
                .map_or(1, |a| a.attempts());
            ctx.request_mut().add_extension(Attempt {
                op: Op {
                    service: service_name(md.service()),
                    name: md.name().to_string(),
                },
                number,
            });
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if ctx.response().is_some_and(super::calls::is_throttle)
            && let Some(md) = cfg.load::<Metadata>()
        {
            self.0.throttled(&Op {
                service: service_name(md.service()),
                name: md.name().to_string(),
            });
        }
        Ok(())
    }
}

/// Stops retries at the run's deadline, and never retries a non-idempotent
/// create after an ambiguous failure. Runs after every other classifier and
/// only narrows their verdict.
#[derive(Debug, Clone)]
pub(super) struct Persist(pub(super) Arc<Pacing>);

impl ClassifyRetry for Persist {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        let RetryAction::RetryIndicated(RetryReason::RetryableError { kind, .. }) = previous else {
            return RetryAction::NoActionIndicated;
        };
        if self.0.past_deadline() {
            return RetryAction::RetryForbidden;
        }
        if *kind == ErrorKind::ThrottlingError {
            return RetryAction::NoActionIndicated;
        }
        // The request is gone by now; the connector put its attempt on the response.
        // A call with no response at all was already settled by the connector.
        match ctx.response().and_then(|r| r.extension::<Attempt>()) {
            Some(a) if a.not_idempotent() || a.number >= SERVER_ERROR_ATTEMPTS => {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "vigil::pace::Persist"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // After the SDK's and moto's classifiers: it reads their verdict.
        RetryClassifierPriority::run_after(RetryClassifierPriority::run_after(
            RetryClassifierPriority::transient_error_classifier(),
        ))
    }
}

/// The SDK's HTTP client with every request paced first.
#[derive(Debug, Clone)]
pub(super) struct PacedClient {
    pub(super) inner: SharedHttpClient,
    pub(super) pacing: Arc<Pacing>,
}

impl HttpClient for PacedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacing: self.pacing.clone(),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacing: Arc<Pacing>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let pacing = self.pacing.clone();
        HttpConnectorFuture::new(async move {
            let attempt = request.extension::<Attempt>().cloned();
            if let Some(a) = &attempt {
                pacing.wait_for_slot(&a.op).await;
            }
            match (inner.call(request).await, attempt) {
                (Ok(mut response), Some(a)) => {
                    response.add_extension(a);
                    Ok(response)
                }
                // No answer: AWS may or may not have run it. Retry classifiers see
                // only the error, so the last allowed attempt becomes an error no
                // classifier retries.
                (Err(e), Some(a)) if a.not_idempotent() || a.number >= UNREACHABLE_ATTEMPTS => {
                    Err(ConnectorError::other(e.into(), None))
                }
                (result, _) => result,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_spaces_requests_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(4.0, t0);
        let waits: Vec<Duration> = (0..5).map(|_| b.reserve(t0)).collect();
        // A burst of three (AWS's bucket of four, less one), then one every 250 ms.
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(250));
        assert_eq!(waits[4], Duration::from_millis(500));
        // Later, a free slot is taken at once.
        assert_eq!(b.reserve(t0 + Duration::from_secs(2)), Duration::ZERO);
    }

    #[test]
    fn a_throttle_cuts_the_rate_once_a_second_and_it_climbs_back() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, t0);
        b.throttled(t0);
        assert!((b.rate - 7.0).abs() < 1e-9);
        // Throttles of the same burst are one signal.
        b.throttled(t0 + Duration::from_millis(500));
        assert!((b.rate - 7.0).abs() < 1e-9);
        // Half a second later it has climbed by a tenth of the quota.
        b.recover(t0 + Duration::from_millis(500));
        assert!((b.rate - 8.0).abs() < 1e-9, "{}", b.rate);
        for i in 1..=20 {
            b.throttled(t0 + Duration::from_secs(i));
        }
        assert!(b.rate >= 1.0 - 1e-9, "never below a tenth of the quota");
        b.recover(t0 + Duration::from_secs(60));
        assert_eq!(b.rate, 10.0, "back to the quota, not beyond");
    }

    #[test]
    fn a_random_storm_slows_a_bucket_but_does_not_stall_it() {
        // Half the requests throttled, for a minute: the rate settles well above the floor.
        let t0 = Instant::now();
        let mut b = Bucket::new(3.0, t0);
        let mut now = t0;
        let mut n = 0u32;
        while now < t0 + Duration::from_secs(60) {
            now += b.reserve(now);
            n += 1;
            if n.is_multiple_of(2) {
                b.throttled(now);
            }
        }
        assert!(b.rate > 1.5, "{}", b.rate);
    }

    #[test]
    fn settings_quotas_replace_the_default() {
        let calls = Arc::new(CallLog::default());
        let pacing = Pacing::new("test-region-pace", calls, Arc::default());
        pacing.set_account("111111111111");
        let op = Op {
            service: "cloudwatch",
            name: "PutMetricAlarm".into(),
        };
        // At the default 3/s, the fourth request of a burst waits two thirds of a second.
        let waits: Vec<Duration> = (0..4).map(|_| pacing.reserve(&op)).collect();
        assert!(waits[3] > Duration::from_millis(600), "{waits:?}");
        pacing.set_quotas(&BTreeMap::from([(
            "cloudwatch:PutMetricAlarm".into(),
            100.0,
        )]));
        // Past the slots already handed out at the old rate.
        std::thread::sleep(Duration::from_millis(1500));
        let waits: Vec<Duration> = (0..4).map(|_| pacing.reserve(&op)).collect();
        assert!(waits[3] < Duration::from_millis(50), "{waits:?}");
    }

    #[test]
    fn buckets_are_per_account_and_region() {
        let pacer = Arc::new(Pacer::default());
        let pacing = |region: &str, account: &str| {
            let s = Pacing::new(region, Arc::new(CallLog::default()), pacer.clone());
            s.set_account(account);
            s
        };
        let op = Op {
            service: "cloudwatch",
            name: "PutMetricAlarm".into(),
        };
        let a = pacing("test-region-keys-1", "111111111111");
        // At the default 3/s, a burst of three empties the bucket.
        for _ in 0..3 {
            a.reserve(&op);
        }
        assert!(!a.reserve(&op).is_zero());
        // Another target's clients in the same account and region share it...
        assert!(
            !pacing("test-region-keys-1", "111111111111")
                .reserve(&op)
                .is_zero()
        );
        // ...but not another account in that region, or that account in another region.
        assert!(
            pacing("test-region-keys-1", "222222222222")
                .reserve(&op)
                .is_zero()
        );
        assert!(
            pacing("test-region-keys-2", "111111111111")
                .reserve(&op)
                .is_zero()
        );
    }

    #[test]
    fn sdk_service_names_map_both_ways() {
        for s in SERVICES {
            let op = Op {
                service: s,
                name: String::new(),
            };
            assert_eq!(service_name(service_sdk(&op)), *s);
        }
    }
}
