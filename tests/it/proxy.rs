//! A quota-enforcing, fault-injecting HTTP proxy between an AWS client (the SDK
//! or the `vigil` binary) and moto, so that tests see AWS's request-rate
//! throttling, which moto does not do.
//!
//! Each signed request is identified by account (the access key id in the SigV4
//! credential scope: moto maps each AssumeRole credential to one account),
//! region and service (the scope's region and signing name, `monitoring` read
//! as `cloudwatch`) and operation (from the protocol: awsQuery `Action=`,
//! awsJson `X-Amz-Target`, Smithy RPC v2 CBOR's `/operation/` path, S3's method,
//! path and query, X-Ray's path). A token
//! bucket per (account, region, service, operation), as AWS's quotas are per
//! account and region, refills at [`quotas::default_rate`] unless overridden;
//! a request without a token is answered with the service's own throttling
//! error and not forwarded. Storm mode throttles a random fraction on top;
//! fault mode forwards a random fraction and then answers it with a 500, so the
//! client sees a failure of a call that took effect; it can also be turned on
//! for every request of one operation. Unsigned requests (moto's
//! `/moto-api/`) pass through untouched and uncounted.
//!
//! Standalone mode, for the benchmark script:
//!
//! ```text
//! VIGIL_PROXY_UPSTREAM=http://127.0.0.1:5000 VIGIL_PROXY_PORT_FILE=/tmp/proxy-endpoint \
//!   cargo test --features testkit --test it proxy::serve -- --ignored --exact
//! ```
//!
//! writes `http://127.0.0.1:PORT` to the port file once listening and serves until
//! killed. Optional: `VIGIL_PROXY_STORM` and `VIGIL_PROXY_FAULTS` (fractions 0..1),
//! `VIGIL_PROXY_SEED` (u64), `VIGIL_PROXY_QUOTAS`
//! (`cloudwatch:PutMetricAlarm=10,cloudwatch:DescribeAlarms=9`), `VIGIL_PROXY_NO_QUOTAS=1`.
//! `GET /__proxy/stats` answers the counters as JSON ([`Stats`]); `POST /__proxy/reset`
//! zeroes them.
#![allow(dead_code)] // an API for other test modules and the benchmark; not all used here

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use vigil::aws::quotas;

type Body = Full<Bytes>;
type Upstream = Client<HttpConnector, Body>;

/// What the proxy does besides forwarding.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Fraction (0..1) of requests throttled at random, on top of the quotas.
    pub storm: f64,
    /// Fraction (0..1) of requests forwarded and then answered with a 500.
    pub faults: f64,
    /// Seeds the storm and fault draws.
    pub seed: u64,
    /// Whether the token buckets apply at all.
    pub enforce_quotas: bool,
    /// Rates (requests a second) replacing `quotas::default_rate`, by (service, operation).
    pub quotas: BTreeMap<(String, String), f64>,
    /// Operations answered with the service's access-denied error, as IAM would
    /// answer a caller whose policy lacks them.
    pub denied: BTreeSet<(String, String)>,
    /// Operations throttled on every request (counted as storm throttles).
    pub always_throttled: BTreeSet<(String, String)>,
    /// Requests of an operation whose body holds a string (an account id, a role
    /// ARN), answered with access denied: one principal's call among many.
    pub denied_matching: Vec<(String, String, String)>,
    /// Operations forwarded on every request and then answered with a 500:
    /// each call takes effect, and the client is told it failed.
    pub always_faulted: BTreeSet<(String, String)>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            storm: 0.0,
            faults: 0.0,
            seed: 0,
            enforce_quotas: true,
            quotas: BTreeMap::new(),
            denied: BTreeSet::new(),
            always_throttled: BTreeSet::new(),
            always_faulted: BTreeSet::new(),
            denied_matching: Vec::new(),
        }
    }
}

impl ProxyConfig {
    /// Overrides one operation's rate. A rate below 1 still allows a burst of one.
    pub fn quota(mut self, service: &str, operation: &str, rate: f64) -> Self {
        self.quotas
            .insert((service.to_string(), operation.to_string()), rate);
        self
    }

    /// Denies one operation.
    pub fn deny(mut self, service: &str, operation: &str) -> Self {
        self.denied
            .insert((service.to_string(), operation.to_string()));
        self
    }

    /// Denies the requests of one operation whose body contains `needle`.
    pub fn deny_matching(mut self, service: &str, operation: &str, needle: &str) -> Self {
        self.denied_matching.push((
            service.to_string(),
            operation.to_string(),
            needle.to_string(),
        ));
        self
    }

    /// Throttles every request of one operation.
    pub fn always_throttle(mut self, service: &str, operation: &str) -> Self {
        self.always_throttled
            .insert((service.to_string(), operation.to_string()));
        self
    }

    /// Applies every request of one operation upstream, then answers it with a 500.
    pub fn always_fault(mut self, service: &str, operation: &str) -> Self {
        self.always_faulted
            .insert((service.to_string(), operation.to_string()));
        self
    }

    /// The standalone mode's configuration, from `VIGIL_PROXY_*`.
    pub fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            let v = std::env::var(name).ok()?;
            Some(
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} does not parse")),
            )
        }
        let c = ProxyConfig {
            storm: var("VIGIL_PROXY_STORM").unwrap_or(0.0),
            faults: var("VIGIL_PROXY_FAULTS").unwrap_or(0.0),
            seed: var("VIGIL_PROXY_SEED").unwrap_or(0),
            enforce_quotas: std::env::var("VIGIL_PROXY_NO_QUOTAS").is_err(),
            quotas: BTreeMap::new(),
            denied: BTreeSet::new(),
            always_throttled: BTreeSet::new(),
            always_faulted: BTreeSet::new(),
            denied_matching: Vec::new(),
        };
        match std::env::var("VIGIL_PROXY_QUOTAS") {
            Ok(list) => c
                .quota_list(&list)
                .unwrap_or_else(|e| panic!("VIGIL_PROXY_QUOTAS: {e}")),
            Err(_) => c,
        }
    }

    /// Applies `service:Operation=rate,...` overrides.
    pub fn quota_list(mut self, list: &str) -> Result<Self, String> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parsed = item.split_once(':').and_then(|(service, rest)| {
                let (op, rate) = rest.split_once('=')?;
                Some((service, op, rate.trim().parse::<f64>().ok()?))
            });
            let (service, op, rate) =
                parsed.ok_or_else(|| format!("{item:?} is not service:Operation=rate"))?;
            self = self.quota(service.trim(), op.trim(), rate);
        }
        Ok(self)
    }
}

/// Counters of one (service, operation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpStats {
    /// Requests sent on to the upstream (faulted ones included).
    pub forwarded: u64,
    /// Answered with a throttling error because the bucket was empty.
    pub throttled_quota: u64,
    /// Answered with a throttling error by storm mode.
    pub throttled_storm: u64,
    /// Answered with an access-denied error.
    #[serde(default)]
    pub denied: u64,
    /// Forwarded, then answered with a 500 by fault mode.
    pub faulted: u64,
    /// Not answered by the upstream (the proxy answered 502).
    pub upstream_errors: u64,
    /// Tokens the forwarded requests cost: one each, DescribeAlarms one per page.
    pub tokens: u64,
}

impl OpStats {
    pub fn throttled(&self) -> u64 {
        self.throttled_quota + self.throttled_storm
    }

    fn add(&mut self, o: &OpStats) {
        self.forwarded += o.forwarded;
        self.throttled_quota += o.throttled_quota;
        self.throttled_storm += o.throttled_storm;
        self.denied += o.denied;
        self.faulted += o.faulted;
        self.upstream_errors += o.upstream_errors;
        self.tokens += o.tokens;
    }
}

/// All counters, as `GET /__proxy/stats` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub total: OpStats,
    pub by_service: BTreeMap<String, BTreeMap<String, OpStats>>,
}

impl Stats {
    /// One operation's counters; zero if it was never seen.
    pub fn op(&self, service: &str, operation: &str) -> OpStats {
        self.by_service
            .get(service)
            .and_then(|ops| ops.get(operation))
            .copied()
            .unwrap_or_default()
    }
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on `127.0.0.1:0`.
    pub async fn start(upstream: &str, config: ProxyConfig) -> Proxy {
        Proxy::spawn(upstream, config)
    }

    /// The same, for sync code. The proxy runs on a thread and runtime of its own,
    /// so a caller that blocks (a test running the `vigil` binary) does not stall it.
    pub fn spawn(upstream: &str, config: ProxyConfig) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            state: Mutex::new(State::new(config)),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(run(listener, for_thread, stopped));
            })
            .expect("spawn the proxy thread");
        Proxy {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.shared.state().stats()
    }

    pub fn reset_stats(&self) {
        self.shared.state().stats.clear();
    }

    pub fn set_storm(&self, fraction: f64) {
        self.shared.state().storm = fraction;
    }

    pub fn set_faults(&self, fraction: f64) {
        self.shared.state().faults = fraction;
    }

    pub fn set_enforce_quotas(&self, on: bool) {
        self.shared.state().enforce = on;
    }

    /// Changes one operation's rate, for buckets already running too.
    pub fn set_quota(&self, service: &str, operation: &str, rate: f64) {
        let mut s = self.shared.state();
        s.overrides
            .insert((service.to_string(), operation.to_string()), rate);
        let now = Instant::now();
        for ((_, _, sv, op), b) in s.buckets.iter_mut() {
            if sv == service && op == operation {
                b.refill(now);
                b.rate = rate;
                b.tokens = b.tokens.min(capacity(rate));
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Shared {
    upstream: String,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not turn every later request into a second panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct State {
    storm: f64,
    faults: f64,
    enforce: bool,
    overrides: BTreeMap<(String, String), f64>,
    denied: BTreeSet<(String, String)>,
    always_throttled: BTreeSet<(String, String)>,
    always_faulted: BTreeSet<(String, String)>,
    denied_matching: Vec<(String, String, String)>,
    rng: u64,
    requests: u64,
    buckets: HashMap<BucketKey, Bucket>,
    stats: BTreeMap<String, BTreeMap<String, OpStats>>,
}

impl State {
    fn new(c: ProxyConfig) -> Self {
        State {
            storm: c.storm,
            faults: c.faults,
            enforce: c.enforce_quotas,
            overrides: c.quotas,
            denied: c.denied,
            always_throttled: c.always_throttled,
            always_faulted: c.always_faulted,
            denied_matching: c.denied_matching,
            rng: c.seed,
            requests: 0,
            buckets: HashMap::new(),
            stats: BTreeMap::new(),
        }
    }

    /// A uniform draw in [0, 1): splitmix64, so a seed gives one sequence.
    fn draw(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn rate(&self, service: &str, op: &str) -> f64 {
        self.overrides
            .get(&(service.to_string(), op.to_string()))
            .copied()
            .unwrap_or_else(|| quotas::default_rate(service, op))
    }

    fn stat(&mut self, call: &Call) -> &mut OpStats {
        self.stats
            .entry(call.service.clone())
            .or_default()
            .entry(call.op.clone())
            .or_default()
    }

    fn stats(&self) -> Stats {
        let mut total = OpStats::default();
        for ops in self.stats.values() {
            for s in ops.values() {
                total.add(s);
            }
        }
        Stats {
            total,
            by_service: self.stats.clone(),
        }
    }

    fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.requests)
    }

    /// Takes a token, or says why not: `Err` is a refusal, `Ok(true)` a fault to come.
    fn admit(&mut self, call: &Call) -> Result<bool, Failure> {
        if self
            .denied
            .contains(&(call.service.clone(), call.op.clone()))
        {
            self.stat(call).denied += 1;
            return Err(Failure::Denied);
        }
        let always = self
            .always_throttled
            .contains(&(call.service.clone(), call.op.clone()));
        if always || (self.storm > 0.0 && self.draw() < self.storm) {
            self.stat(call).throttled_storm += 1;
            return Err(Failure::Throttle);
        }
        if self.enforce {
            let rate = self.rate(&call.service, &call.op);
            let now = Instant::now();
            let b = self
                .buckets
                .entry(call.bucket_key())
                .or_insert_with(|| Bucket::new(rate, now));
            b.refill(now);
            if b.tokens < 1.0 {
                self.stat(call).throttled_quota += 1;
                return Err(Failure::Throttle);
            }
            b.tokens -= 1.0;
        }
        let always = self
            .always_faulted
            .contains(&(call.service.clone(), call.op.clone()));
        Ok(always || (self.faults > 0.0 && self.draw() < self.faults))
    }

    /// Books a forwarded request: its full token cost, the extra as debt.
    fn settle(&mut self, call: &Call, cost: u64, faulted: bool) {
        if cost > 1 && self.enforce {
            let now = Instant::now();
            if let Some(b) = self.buckets.get_mut(&call.bucket_key()) {
                b.refill(now);
                b.tokens -= (cost - 1) as f64;
            }
        }
        let s = self.stat(call);
        s.forwarded += 1;
        s.tokens += cost;
        if faulted {
            s.faulted += 1;
        }
    }
}

/// Burst capacity: max(1, rate) tokens.
fn capacity(rate: f64) -> f64 {
    rate.max(1.0)
}

struct Bucket {
    tokens: f64,
    rate: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Self {
        Bucket {
            tokens: capacity(rate),
            rate,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + self.rate.max(0.0) * dt).min(capacity(self.rate));
        self.at = now;
    }
}

async fn run(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("proxy listener");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let upstream: Upstream = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(10))
        .build(connector);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        let upstream = upstream.clone();
                        async move { Ok::<_, Infallible>(handle(req, &shared, &upstream).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

async fn handle(req: Request<Incoming>, shared: &Shared, upstream: &Upstream) -> Response<Body> {
    let (parts, body) = req.into_parts();
    if parts.uri.path().starts_with("/__proxy/") {
        return control(&parts, shared);
    }
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("reading the request: {e}")),
    };
    let call = identify(&parts, &body);
    let mut fault = false;
    if let Some(call) = &call {
        let mut s = shared.state();
        let matched = s.denied_matching.iter().any(|(service, op, needle)| {
            *service == call.service && *op == call.op && contains(&body, needle.as_bytes())
        });
        if matched {
            s.stat(call).denied += 1;
            let id = s.request_id();
            return error_response(call, Failure::Denied, &id);
        }
        match s.admit(call) {
            Ok(f) => fault = f,
            Err(refusal) => {
                let id = s.request_id();
                return error_response(call, refusal, &id);
            }
        }
    }
    let resp = match forward(&shared.upstream, upstream, &parts, body).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(call) = &call {
                shared.state().stat(call).upstream_errors += 1;
            }
            eprintln!("proxy: {} {}: {e}", parts.method, parts.uri);
            return plain(StatusCode::BAD_GATEWAY, format!("upstream: {e}"));
        }
    };
    let Some(call) = call else {
        return resp.into_response();
    };
    let cost = match call.alarm_page {
        Some(page) if resp.status().is_success() => {
            count_alarms(resp.body_bytes()).div_ceil(page).max(1)
        }
        _ => 1,
    };
    let mut s = shared.state();
    s.settle(&call, cost, fault);
    if fault {
        let id = s.request_id();
        return error_response(&call, Failure::Fault, &id);
    }
    resp.into_response()
}

/// A response read whole, so DescribeAlarms can be counted before it goes back.
struct Buffered {
    parts: hyper::http::response::Parts,
    body: Bytes,
}

impl Buffered {
    fn status(&self) -> StatusCode {
        self.parts.status
    }

    fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    fn into_response(self) -> Response<Body> {
        Response::from_parts(self.parts, Full::new(self.body))
    }
}

/// Headers of one hop only; the body is forwarded whole, so framing is redone.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "expect"
    )
}

async fn forward(
    base: &str,
    upstream: &Upstream,
    parts: &Parts,
    body: Bytes,
) -> Result<Buffered, String> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{base}{path}"));
    for (k, v) in &parts.headers {
        if !hop_by_hop(k.as_str()) {
            req = req.header(k, v);
        }
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let resp = upstream.request(req).await.map_err(|e| e.to_string())?;
    let (mut rparts, rbody) = resp.into_parts();
    let body = rbody.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let names: Vec<_> = rparts
        .headers
        .keys()
        .filter(|k| hop_by_hop(k.as_str()))
        .cloned()
        .collect();
    for k in names {
        rparts.headers.remove(k);
    }
    Ok(Buffered {
        parts: rparts,
        body,
    })
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(text)))
        .expect("a plain response")
}

fn control(parts: &Parts, shared: &Shared) -> Response<Body> {
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/__proxy/stats") => {
            let json = serde_json::to_vec(&shared.state().stats()).expect("stats as JSON");
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(json)))
                .expect("a stats response")
        }
        (&Method::POST, "/__proxy/reset") => {
            shared.state().stats.clear();
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::new(Bytes::new()))
                .expect("a reset response")
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "GET /__proxy/stats or POST /__proxy/reset".into(),
        ),
    }
}

/// How a service shapes its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Query,
    /// awsJson, with the request's content type (1.0 or 1.1).
    Json(&'static str),
    /// Smithy RPC v2 CBOR (CloudWatch).
    Cbor,
    /// S3's restXml.
    S3,
    RestJson,
}

/// (access key id, region, service, operation): AWS's quotas are per account and region.
type BucketKey = (String, String, String, String);

/// One identified AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    /// The access key id: one account.
    key: String,
    /// From the credential scope, as a target in another region signs for it.
    region: String,
    service: String,
    op: String,
    protocol: Protocol,
    /// DescribeAlarms' page size (MaxRecords, at most 100), whose cost is one token a page.
    alarm_page: Option<u64>,
}

impl Call {
    fn bucket_key(&self) -> BucketKey {
        (
            self.key.clone(),
            self.region.clone(),
            self.service.clone(),
            self.op.clone(),
        )
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `name`'s value in an `application/x-www-form-urlencoded` string.
fn form_value(form: &[u8], name: &str) -> Option<String> {
    fn decode(s: &[u8]) -> String {
        let plus: Vec<u8> = s
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&plus)
            .decode_utf8_lossy()
            .into_owned()
    }
    form.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        (decode(k) == name).then(|| decode(v))
    })
}

/// (access key id, region, signing name) from the SigV4 credential scope
/// `AKID/DATE/REGION/SERVICE/aws4_request`, in the header or a presigned query.
fn credential(parts: &Parts) -> Option<(String, String, String)> {
    let scope = match header(parts, "authorization") {
        Some(auth) => auth
            .split("Credential=")
            .nth(1)?
            .split([',', ' '])
            .next()?
            .to_string(),
        None => form_value(parts.uri.query()?.as_bytes(), "X-Amz-Credential")?,
    };
    let mut it = scope.split('/');
    let key = it.next()?;
    let region = it.nth(1)?;
    let service = it.next()?;
    (!key.is_empty() && !service.is_empty())
        .then(|| (key.to_string(), region.to_string(), service.to_string()))
}

fn identify(parts: &Parts, body: &[u8]) -> Option<Call> {
    let (key, region, signing) = credential(parts)?;
    let service = match signing.as_str() {
        "monitoring" => "cloudwatch".to_string(),
        _ => signing,
    };
    let form = header(parts, "content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let target = header(parts, "x-amz-target");
    let action = || {
        form.then(|| form_value(body, "Action"))
            .flatten()
            .or_else(|| form_value(parts.uri.query()?.as_bytes(), "Action"))
    };
    let op = if let Some(t) = target {
        t.rsplit('.').next().unwrap_or(t).to_string()
    } else if let Some(a) = action() {
        a
    } else if service == "s3" {
        s3_operation(parts)
    } else if service == "xray" {
        xray_operation(parts.uri.path())
    } else if let Some((_, op)) = parts.uri.path().split_once("/operation/") {
        // Smithy RPC v2 (`/service/NAME/operation/OP`).
        op.to_string()
    } else {
        format!("Unknown.{}", parts.method)
    };
    let cbor = header(parts, "smithy-protocol") == Some("rpc-v2-cbor");
    let protocol = if service == "s3" {
        Protocol::S3
    } else if cbor {
        Protocol::Cbor
    } else if target.is_some() {
        match header(parts, "content-type") {
            Some(ct) if ct.starts_with("application/x-amz-json-1.0") => {
                Protocol::Json("application/x-amz-json-1.0")
            }
            _ => Protocol::Json("application/x-amz-json-1.1"),
        }
    } else if service == "xray" {
        Protocol::RestJson
    } else if form {
        Protocol::Query
    } else {
        match service.as_str() {
            "logs" | "config" | "ssm" | "tagging" => Protocol::Json("application/x-amz-json-1.1"),
            _ => Protocol::Query,
        }
    };
    let alarm_page = (service == "cloudwatch" && op == "DescribeAlarms").then(|| {
        let max_records = match protocol {
            Protocol::Json(_) => serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["MaxRecords"].as_u64()),
            Protocol::Cbor => cbor_max_records(body),
            _ => form_value(body, "MaxRecords").and_then(|v| v.parse::<u64>().ok()),
        };
        max_records.unwrap_or(100).clamp(1, 100)
    });
    Some(Call {
        key,
        region,
        service,
        op,
        protocol,
        alarm_page,
    })
}

/// S3 (path-style) operation names from method, path and query.
fn s3_operation(parts: &Parts) -> String {
    let path = parts.uri.path().trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let query = parts.uri.query().unwrap_or("");
    let has = |name: &str| query.split('&').any(|p| p.split('=').next() == Some(name));
    let m = &parts.method;
    let verb = match *m {
        Method::GET => "Get",
        Method::PUT => "Put",
        Method::DELETE => "Delete",
        _ => "",
    };
    let op = if bucket.is_empty() {
        (*m == Method::GET).then(|| "ListBuckets".to_string())
    } else if key.is_empty() {
        const SUBRESOURCES: &[(&str, &str)] = &[
            ("tagging", "BucketTagging"),
            ("policy", "BucketPolicy"),
            ("versioning", "BucketVersioning"),
            ("encryption", "BucketEncryption"),
            ("publicAccessBlock", "PublicAccessBlock"),
            ("location", "BucketLocation"),
        ];
        if let Some((_, noun)) = SUBRESOURCES.iter().find(|(q, _)| has(q)) {
            (!verb.is_empty()).then(|| format!("{verb}{noun}"))
        } else {
            match *m {
                Method::GET if has("list-type") => Some("ListObjectsV2".into()),
                Method::GET => Some("ListObjects".into()),
                Method::PUT => Some("CreateBucket".into()),
                Method::HEAD => Some("HeadBucket".into()),
                Method::DELETE => Some("DeleteBucket".into()),
                Method::POST if has("delete") => Some("DeleteObjects".into()),
                _ => None,
            }
        }
    } else if has("tagging") {
        (!verb.is_empty()).then(|| format!("{verb}ObjectTagging"))
    } else {
        match *m {
            Method::GET => Some("GetObject".into()),
            Method::PUT if parts.headers.contains_key("x-amz-copy-source") => {
                Some("CopyObject".into())
            }
            Method::PUT => Some("PutObject".into()),
            Method::HEAD => Some("HeadObject".into()),
            Method::DELETE => Some("DeleteObject".into()),
            _ => None,
        }
    };
    op.unwrap_or_else(|| format!("S3.{m}"))
}

/// X-Ray (restJson1, all POST) operation names from the path.
fn xray_operation(path: &str) -> String {
    let name = path.trim_start_matches('/');
    match name {
        "Traces" => "BatchGetTraces".into(),
        "TelemetryRecords" | "TraceSegments" => format!("Put{name}"),
        "Groups"
        | "EncryptionConfig"
        | "Insight"
        | "InsightEvents"
        | "InsightImpactGraph"
        | "InsightSummaries"
        | "SamplingStatisticSummaries"
        | "SamplingTargets"
        | "ServiceGraph"
        | "TimeSeriesServiceStatistics"
        | "TraceGraph"
        | "TraceSummaries" => format!("Get{name}"),
        // The rest are named by their path: /CreateGroup, /GetSamplingRules, ...
        _ => name.to_string(),
    }
}

/// The entries of a CBOR map at the decoder, `f` reading each key's value (or
/// skipping it). Definite and indefinite lengths alike; None if it is no map.
fn cbor_map_entries(
    d: &mut aws_smithy_cbor::Decoder,
    mut f: impl FnMut(&str, &mut aws_smithy_cbor::Decoder) -> Option<()>,
) -> Option<()> {
    use aws_smithy_cbor::data::Type;
    let len = d.map().ok()?;
    let mut i = 0;
    loop {
        match len {
            Some(n) if i == n => return Some(()),
            None if d.datatype().ok()? == Type::Break => {
                d.skip().ok()?;
                return Some(());
            }
            _ => {}
        }
        let key = d.str().ok()?.into_owned();
        f(&key, d)?;
        i += 1;
    }
}

/// The number of items of the CBOR array at the decoder, which it skips.
fn cbor_array_len(d: &mut aws_smithy_cbor::Decoder) -> Option<u64> {
    use aws_smithy_cbor::data::Type;
    match d.list().ok()? {
        Some(n) => {
            for _ in 0..n {
                d.skip().ok()?;
            }
            Some(n)
        }
        None => {
            let mut n = 0;
            while d.datatype().ok()? != Type::Break {
                d.skip().ok()?;
                n += 1;
            }
            d.skip().ok()?;
            Some(n)
        }
    }
}

/// DescribeAlarms' `MaxRecords` in a CBOR request body.
fn cbor_max_records(body: &[u8]) -> Option<u64> {
    let mut max = None;
    cbor_map_entries(&mut aws_smithy_cbor::Decoder::new(body), |k, d| {
        if k == "MaxRecords" {
            max = u64::try_from(d.long().ok()?).ok();
        } else {
            d.skip().ok()?;
        }
        Some(())
    })?;
    max
}

/// The lengths of `MetricAlarms` and `CompositeAlarms` in a CBOR DescribeAlarms response.
fn cbor_count_alarms(body: &[u8]) -> Option<u64> {
    let mut n = 0;
    cbor_map_entries(&mut aws_smithy_cbor::Decoder::new(body), |k, d| {
        if matches!(k, "MetricAlarms" | "CompositeAlarms") {
            n += cbor_array_len(d)?;
        } else {
            d.skip().ok()?;
        }
        Some(())
    })?;
    Some(n)
}

/// Alarms in a DescribeAlarms response: `<member>`s directly under `<MetricAlarms>`
/// and `<CompositeAlarms>` (not the dimensions' or actions' members inside them),
/// or those arrays' lengths in a JSON or CBOR response.
fn count_alarms(xml: &[u8]) -> u64 {
    if let Some(n) = cbor_count_alarms(xml) {
        return n;
    }
    if xml.trim_ascii_start().starts_with(b"{") {
        let v: serde_json::Value = serde_json::from_slice(xml).unwrap_or_default();
        return ["MetricAlarms", "CompositeAlarms"]
            .iter()
            .filter_map(|k| v[k].as_array())
            .map(|a| a.len() as u64)
            .sum();
    }
    let text = String::from_utf8_lossy(xml);
    let mut stack: Vec<&str> = Vec::new();
    let mut n = 0;
    let mut rest = &text[..];
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(j) = rest.find('>') else { break };
        let tag = &rest[..j];
        rest = &rest[j + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if tag.starts_with('/') {
            stack.pop();
            continue;
        }
        let name = tag
            .trim_end_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        if name == "member" && matches!(stack.last(), Some(&("MetricAlarms" | "CompositeAlarms"))) {
            n += 1;
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    n
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Throttle,
    Fault,
    Denied,
}

/// awsQuery's XML namespace per service.
fn query_namespace(service: &str) -> &'static str {
    match service {
        "cloudwatch" => "http://monitoring.amazonaws.com/doc/2010-08-01/",
        "sns" => "http://sns.amazonaws.com/doc/2010-03-31/",
        "iam" => "https://iam.amazonaws.com/doc/2010-05-08/",
        "sts" => "https://sts.amazonaws.com/doc/2011-06-15/",
        "cloudformation" => "http://cloudformation.amazonaws.com/doc/2010-05-15/",
        _ => DEFAULT_NAMESPACE,
    }
}

const DEFAULT_NAMESPACE: &str = "https://aws.amazon.com/";

/// A throttling or internal error in the shape the service itself sends, so the
/// SDK reads its code and classifies it as AWS would have it classified.
fn error_response(call: &Call, failure: Failure, request_id: &str) -> Response<Body> {
    const THROTTLED: &str = "Rate exceeded";
    const INTERNAL: &str = "We encountered an internal error. Please try again.";
    let denied = format!(
        "User: {} is not authorized to perform: {}:{}",
        call.key, call.service, call.op
    );
    let builder = Response::builder();
    let (builder, body) = match call.protocol {
        Protocol::Query => {
            let (status, kind, code, message) = match failure {
                Failure::Throttle => (400, "Sender", "Throttling", THROTTLED),
                Failure::Fault => (500, "Receiver", "InternalFailure", INTERNAL),
                Failure::Denied => (403, "Sender", "AccessDenied", &*denied),
            };
            let ns = query_namespace(&call.service);
            (
                builder
                    .status(status)
                    .header("content-type", "text/xml")
                    .header("x-amzn-requestid", request_id),
                format!(
                    "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{code}</Code>\
                     <Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                ),
            )
        }
        Protocol::Json(content_type) => {
            let (status, code, message) = match failure {
                Failure::Throttle if call.service == "tagging" => {
                    (400, "ThrottledException", THROTTLED)
                }
                Failure::Throttle => (400, "ThrottlingException", THROTTLED),
                Failure::Fault => (500, "InternalFailure", INTERNAL),
                Failure::Denied => (400, "AccessDeniedException", &*denied),
            };
            let mut builder = builder
                .status(status)
                .header("content-type", content_type)
                .header("x-amzn-requestid", request_id);
            // An awsQuery service spoken in JSON (newer SDKs) says its query code here.
            if query_namespace(&call.service) != DEFAULT_NAMESPACE {
                let query = match failure {
                    Failure::Throttle => "Throttling;Sender",
                    Failure::Fault => "InternalFailure;Receiver",
                    Failure::Denied => "AccessDenied;Sender",
                };
                builder = builder.header("x-amzn-query-error", query);
            }
            (
                builder,
                serde_json::json!({"__type": code, "message": message}).to_string(),
            )
        }
        Protocol::Cbor => {
            // CloudWatch in RPC v2 CBOR: `__type` is the error's absolute shape id, and the
            // query-compatible header carries the awsQuery code the SDK reports.
            let (status, shape, query, message) = match failure {
                Failure::Throttle => (400, "ThrottlingException", "Throttling;Sender", THROTTLED),
                Failure::Fault => (500, "InternalFailure", "InternalFailure;Receiver", INTERNAL),
                Failure::Denied => (
                    400,
                    "AccessDeniedException",
                    "AccessDenied;Sender",
                    &*denied,
                ),
            };
            let mut cbor = aws_smithy_cbor::Encoder::new(Vec::new());
            cbor.map(2)
                .str("__type")
                .str(&format!("com.amazonaws.{}#{shape}", call.service))
                .str("message")
                .str(message);
            return builder
                .status(status)
                .header("content-type", "application/cbor")
                .header("smithy-protocol", "rpc-v2-cbor")
                .header("x-amzn-query-error", query)
                .header("x-amzn-requestid", request_id)
                .body(Full::new(Bytes::from(cbor.into_writer())))
                .expect("an error response");
        }
        Protocol::S3 => {
            let (status, code, message) = match failure {
                Failure::Throttle => (503, "SlowDown", "Please reduce your request rate."),
                Failure::Fault => (500, "InternalError", INTERNAL),
                Failure::Denied => (403, "AccessDenied", "Access Denied"),
            };
            (
                builder
                    .status(status)
                    .header("content-type", "application/xml")
                    .header("x-amz-request-id", request_id),
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                     <Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
                ),
            )
        }
        Protocol::RestJson => {
            let (status, code, message) = match failure {
                Failure::Throttle => (429, "ThrottledException", THROTTLED),
                Failure::Fault => (500, "InternalFailure", INTERNAL),
                Failure::Denied => (403, "AccessDeniedException", &*denied),
            };
            (
                builder
                    .status(status)
                    .header("content-type", "application/json")
                    .header("x-amzn-errortype", code)
                    .header("x-amzn-requestid", request_id),
                serde_json::json!({"message": message}).to_string(),
            )
        }
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("an error response")
}

#[test]
#[ignore = "standalone proxy for the benchmark: serves until killed"]
fn serve() {
    let upstream = std::env::var("VIGIL_PROXY_UPSTREAM").expect("VIGIL_PROXY_UPSTREAM");
    let port_file = std::env::var("VIGIL_PROXY_PORT_FILE").expect("VIGIL_PROXY_PORT_FILE");
    let config = ProxyConfig::from_env();
    eprintln!("proxy to {upstream}: {config:?}");
    let proxy = Proxy::spawn(&upstream, config);
    // Written whole, then renamed, so a reader polling the file never sees half of it.
    let tmp = format!("{port_file}.tmp");
    std::fs::write(&tmp, proxy.endpoint()).expect("write the port file");
    std::fs::rename(&tmp, &port_file).expect("move the port file into place");
    eprintln!("proxy listening on {}", proxy.endpoint());
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_config::retry::RetryConfig;
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::client::retries::classifiers::{
        ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
    };
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    use aws_smithy_types::retry::ErrorKind;
    use futures::StreamExt;

    use crate::harness::Lab;

    /// Records the SDK's own retry verdict for each attempt: it runs after every
    /// standard classifier and sees their accumulated result, changing nothing.
    #[derive(Debug, Clone, Default)]
    struct Seen(Arc<Mutex<Vec<RetryAction>>>);

    impl Seen {
        /// The verdicts since the last call.
        fn take(&self) -> Vec<RetryAction> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl ClassifyRetry for Seen {
        fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
            RetryAction::NoActionIndicated
        }

        fn classify_retry_v2(
            &self,
            _ctx: &InterceptorContext,
            previous: &RetryAction,
        ) -> RetryAction {
            self.0.lock().unwrap().push(previous.clone());
            RetryAction::NoActionIndicated
        }

        fn name(&self) -> &'static str {
            "proxy-test::Seen"
        }

        fn priority(&self) -> RetryClassifierPriority {
            RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
        }
    }

    macro_rules! client {
        ($krate:ident, $sdk:expr, $seen:expr) => {
            $krate::Client::from_conf(
                $krate::config::Builder::from($sdk)
                    .retry_classifier($seen.clone())
                    .build(),
            )
        };
    }

    fn s3_client(sdk: &aws_types::SdkConfig, seen: &Seen) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .retry_classifier(seen.clone())
                .force_path_style(true)
                .build(),
        )
    }

    /// The lab's account and credentials, pointed at the proxy; `attempts` replaces
    /// the SDK's standard 3.
    async fn via(lab: &Lab, proxy: &Proxy, attempts: Option<u32>) -> aws_types::SdkConfig {
        let mut b = lab.sdk().await.to_builder().endpoint_url(proxy.endpoint());
        if let Some(n) = attempts {
            b = b.retry_config(RetryConfig::standard().with_max_attempts(n));
        }
        b.build()
    }

    /// Asserts an SDK error's HTTP status, its `code()`, and the SDK's retry verdict.
    fn expect_error<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
        what: &str,
        res: Result<T, SdkError<E, HttpResponse>>,
        seen: &Seen,
        status: u16,
        code: &str,
        kind: ErrorKind,
    ) {
        let err = res.expect_err(what);
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(status),
            "{what}: {err:?}"
        );
        assert_eq!(
            err.as_service_error().and_then(|e| e.code()),
            Some(code),
            "{what}: {err:?}"
        );
        // The retry strategy and the connection-poisoning interceptor both classify.
        let verdicts = seen.take();
        assert!(!verdicts.is_empty(), "{what}: not classified");
        assert!(
            verdicts.windows(2).all(|w| w[0] == w[1]),
            "{what}: {verdicts:?}"
        );
        match &verdicts[0] {
            RetryAction::RetryIndicated(RetryReason::RetryableError { kind: k, .. }) => {
                assert_eq!(*k, kind, "{what}")
            }
            other => panic!("{what}: classified {other:?}, not {kind:?}"),
        }
    }

    fn is_throttling<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
        e.as_service_error().and_then(|e| e.code()) == Some("Throttling")
    }

    async fn put_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str) {
        cw.put_metric_alarm()
            .alarm_name(name)
            .namespace("Proxy/Test")
            .metric_name("Errors")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("PutMetricAlarm on moto");
    }

    async fn raw(method: Method, url: &str) -> (StatusCode, Bytes) {
        let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
        let req = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = client.request(req).await.expect("raw request");
        let status = resp.status();
        (status, resp.into_body().collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn a_burst_past_the_describe_alarms_quota_is_throttled_and_a_paced_caller_is_not() {
        let lab = Lab::new().await;
        let proxy = Proxy::start(&lab.endpoint, ProxyConfig::default()).await;
        assert_eq!(quotas::default_rate("cloudwatch", "DescribeAlarms"), 9.0);
        let seen = Seen::default();
        let cw = client!(aws_sdk_cloudwatch, &via(&lab, &proxy, Some(1)).await, seen);

        let started = Instant::now();
        let results = futures::future::join_all((0..30).map(|_| cw.describe_alarms().send())).await;
        let took = started.elapsed().as_secs_f64();
        let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
        for r in &results {
            if let Err(e) = r {
                assert!(is_throttling(e), "{e:?}");
            }
        }
        // A full bucket of 9, and what refills while the 30 requests arrive.
        assert!(
            ok >= 9 && ok as f64 <= 10.0 + 9.0 * took,
            "{ok} of 30 passed in {took:.3}s"
        );
        let st = proxy.stats().op("cloudwatch", "DescribeAlarms");
        assert_eq!(st.forwarded, ok, "{st:?}");
        assert_eq!(st.throttled_quota, 30 - ok, "{st:?}");
        assert_eq!(st.throttled_storm, 0, "{st:?}");
        assert_eq!(
            st.tokens, ok,
            "an empty account's DescribeAlarms costs one token"
        );
        assert_eq!(proxy.stats().total, st);

        // At the quota, with the SDK's standard retries, nothing is throttled.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        proxy.reset_stats();
        let cw = aws_sdk_cloudwatch::Client::new(&via(&lab, &proxy, None).await);
        // Delay, not the default Burst: after a stall (moto busy with another test)
        // a bursting interval fires every missed tick at once, more than the bucket holds.
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / 9.0));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for i in 0..27 {
            tick.tick().await;
            cw.describe_alarms()
                .send()
                .await
                .unwrap_or_else(|e| panic!("paced call {i}: {e:?}"));
        }
        let st = proxy.stats().op("cloudwatch", "DescribeAlarms");
        assert_eq!(st.throttled(), 0, "{st:?}");
        assert_eq!(st.forwarded, 27, "{st:?}");
    }

    #[tokio::test]
    async fn describe_alarms_costs_a_token_per_hundred_alarms_and_the_extra_is_debt() {
        let lab = Lab::new().await;
        let direct = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
        futures::stream::iter(0..250)
            .map(|i| {
                let cw = direct.clone();
                async move { put_alarm(&cw, &format!("proxy-{i:03}")).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
        // Rate 2: a bucket of 2, so without the debt a second call would pass at once.
        let proxy = Proxy::start(
            &lab.endpoint,
            ProxyConfig::default().quota("cloudwatch", "DescribeAlarms", 2.0),
        )
        .await;
        let cw = aws_sdk_cloudwatch::Client::new(&via(&lab, &proxy, Some(1)).await);
        let out = cw.describe_alarms().send().await.expect("DescribeAlarms");
        assert_eq!(out.metric_alarms().len(), 250, "moto answers in one page");
        let st = proxy.stats().op("cloudwatch", "DescribeAlarms");
        assert_eq!((st.forwarded, st.tokens), (1, 3), "{st:?}");

        let again = cw.describe_alarms().send().await;
        assert!(
            again.as_ref().is_err_and(is_throttling),
            "the bucket is in debt: {again:?}"
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        cw.describe_alarms()
            .send()
            .await
            .expect("the debt is paid off after a second");
        let st = proxy.stats().op("cloudwatch", "DescribeAlarms");
        assert_eq!(
            (st.forwarded, st.throttled_quota, st.tokens),
            (2, 1, 6),
            "{st:?}"
        );
    }

    #[tokio::test]
    async fn a_storm_throttles_its_fraction_the_same_way_for_the_same_seed() {
        let lab = Lab::new().await;
        let config = ProxyConfig {
            storm: 0.5,
            seed: 7,
            enforce_quotas: false,
            ..Default::default()
        };
        let mut counts = Vec::new();
        for _ in 0..2 {
            let proxy = Proxy::start(&lab.endpoint, config.clone()).await;
            let cw = aws_sdk_cloudwatch::Client::new(&via(&lab, &proxy, Some(1)).await);
            let results: Vec<_> = futures::stream::iter(0..200)
                .map(|_| {
                    let cw = cw.clone();
                    async move { cw.describe_alarms().send().await }
                })
                .buffer_unordered(8)
                .collect()
                .await;
            let throttled = results
                .iter()
                .filter(|r| r.as_ref().is_err_and(is_throttling))
                .count() as u64;
            let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
            assert_eq!(throttled + ok, 200);
            assert!((80..=120).contains(&throttled), "{throttled} of 200");
            let st = proxy.stats().op("cloudwatch", "DescribeAlarms");
            assert_eq!(st.throttled_storm, throttled, "{st:?}");
            assert_eq!(st.throttled_quota, 0, "{st:?}");
            assert_eq!(st.forwarded, ok, "{st:?}");
            counts.push(throttled);
        }
        assert_eq!(counts[0], counts[1], "one seed, one sequence of draws");
    }

    #[tokio::test]
    async fn a_faulted_call_took_effect_and_faults_can_be_switched_off() {
        let lab = Lab::new().await;
        let proxy = Proxy::start(
            &lab.endpoint,
            ProxyConfig {
                faults: 1.0,
                ..Default::default()
            },
        )
        .await;
        let seen = Seen::default();
        let sdk = via(&lab, &proxy, Some(1)).await;
        let cw = client!(aws_sdk_cloudwatch, &sdk, seen);
        let res = cw
            .put_metric_alarm()
            .alarm_name("faulted")
            .namespace("Proxy/Test")
            .metric_name("Errors")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await;
        expect_error(
            "PutMetricAlarm",
            res,
            &seen,
            500,
            "InternalFailure",
            ErrorKind::TransientError,
        );
        let direct = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
        let live = direct
            .describe_alarms()
            .alarm_names("faulted")
            .send()
            .await
            .unwrap();
        assert_eq!(live.metric_alarms().len(), 1, "the 500 hid a success");
        let st = proxy.stats().op("cloudwatch", "PutMetricAlarm");
        assert_eq!((st.forwarded, st.faulted, st.tokens), (1, 1, 1), "{st:?}");

        // The JSON protocol's fault, and its effect.
        let logs = client!(aws_sdk_cloudwatchlogs, &sdk, seen);
        let res = logs
            .create_log_group()
            .log_group_name("faulted")
            .send()
            .await;
        expect_error(
            "CreateLogGroup",
            res,
            &seen,
            500,
            "InternalFailure",
            ErrorKind::TransientError,
        );
        proxy.set_faults(0.0);
        let groups = logs
            .describe_log_groups()
            .log_group_name_prefix("faulted")
            .send()
            .await
            .expect("no faults now");
        assert_eq!(groups.log_groups().len(), 1);
        assert_eq!(proxy.stats().total.faulted, 2);
    }

    #[tokio::test]
    async fn throttles_and_faults_come_in_each_protocol_s_own_shape() {
        let lab = Lab::new().await;
        let proxy = Proxy::start(
            &lab.endpoint,
            ProxyConfig {
                storm: 1.0,
                ..Default::default()
            },
        )
        .await;
        let seen = Seen::default();
        let sdk = via(&lab, &proxy, Some(1)).await;
        let throttling = ErrorKind::ThrottlingError;
        let cw = client!(aws_sdk_cloudwatch, &sdk, seen);
        let sns = client!(aws_sdk_sns, &sdk, seen);
        let sts = client!(aws_sdk_sts, &sdk, seen);
        let iam = client!(aws_sdk_iam, &sdk, seen);
        let cfn = client!(aws_sdk_cloudformation, &sdk, seen);
        let logs = client!(aws_sdk_cloudwatchlogs, &sdk, seen);
        let config = client!(aws_sdk_config, &sdk, seen);
        let ssm = client!(aws_sdk_ssm, &sdk, seen);
        let tagging = client!(aws_sdk_resourcegroupstagging, &sdk, seen);
        let xray = client!(aws_sdk_xray, &sdk, seen);
        let s3 = s3_client(&sdk, &seen);

        // Smithy RPC v2 CBOR, with the awsQuery code in its query-compatible header
        let r = cw.describe_alarms().send().await;
        expect_error("cloudwatch", r, &seen, 400, "Throttling", throttling);
        // awsQuery
        let r = sns.list_topics().send().await;
        expect_error("sns", r, &seen, 400, "Throttling", throttling);
        let r = sts.get_caller_identity().send().await;
        expect_error("sts", r, &seen, 400, "Throttling", throttling);
        let r = iam.list_roles().send().await;
        expect_error("iam", r, &seen, 400, "Throttling", throttling);
        let r = cfn.describe_stacks().send().await;
        expect_error("cloudformation", r, &seen, 400, "Throttling", throttling);
        // awsJson 1.1
        let r = logs.describe_log_groups().send().await;
        expect_error("logs", r, &seen, 400, "ThrottlingException", throttling);
        let r = config.describe_config_rules().send().await;
        expect_error("config", r, &seen, 400, "ThrottlingException", throttling);
        let r = ssm.get_parameters().names("p").send().await;
        expect_error("ssm", r, &seen, 400, "ThrottlingException", throttling);
        let r = tagging.get_resources().send().await;
        expect_error("tagging", r, &seen, 400, "ThrottledException", throttling);
        // restXml, restJson1
        let r = s3.list_objects_v2().bucket("b").send().await;
        expect_error("s3", r, &seen, 503, "SlowDown", throttling);
        let r = xray.get_groups().send().await;
        expect_error("xray", r, &seen, 429, "ThrottledException", throttling);

        let st = proxy.stats();
        assert_eq!(st.total.throttled_storm, 11, "{st:?}");
        assert_eq!(st.total.forwarded, 0, "{st:?}");
        for (service, op) in [
            ("cloudwatch", "DescribeAlarms"),
            ("sns", "ListTopics"),
            ("sts", "GetCallerIdentity"),
            ("iam", "ListRoles"),
            ("cloudformation", "DescribeStacks"),
            ("logs", "DescribeLogGroups"),
            ("config", "DescribeConfigRules"),
            ("ssm", "GetParameters"),
            ("tagging", "GetResources"),
            ("s3", "ListObjectsV2"),
            ("xray", "GetGroups"),
        ] {
            assert_eq!(st.op(service, op).throttled_storm, 1, "{service} {op}");
        }

        // Faults: forwarded, then a 500 the SDK sees as transient.
        proxy.set_storm(0.0);
        proxy.set_faults(1.0);
        let transient = ErrorKind::TransientError;
        let r = cw.describe_alarms().send().await;
        expect_error("cloudwatch", r, &seen, 500, "InternalFailure", transient);
        let r = logs.describe_log_groups().send().await;
        expect_error("logs", r, &seen, 500, "InternalFailure", transient);
        let r = s3.list_buckets().send().await;
        expect_error("s3", r, &seen, 500, "InternalError", transient);
        let r = xray.get_groups().send().await;
        expect_error("xray", r, &seen, 500, "InternalFailure", transient);
        assert_eq!(proxy.stats().total.faulted, 4);
        assert_eq!(proxy.stats().total.forwarded, 4);
    }

    #[tokio::test]
    async fn s3_logs_and_moto_api_pass_through_unchanged() {
        let lab = Lab::new().await;
        let proxy = Proxy::start(&lab.endpoint, ProxyConfig::default()).await;
        let seen = Seen::default();
        let sdk = via(&lab, &proxy, None).await;
        let s3 = s3_client(&sdk, &seen);
        let bucket = format!("proxy-pass-{}", lab.account);
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        // Every byte value, and enough of them to span several reads.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        s3.put_object()
            .bucket(&bucket)
            .key("dir/object.bin")
            .content_type("application/x-proxy-test")
            .metadata("origin", "proxy test")
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key("dir/object.bin")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(data.len() as i64));
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key("dir/object.bin")
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_type(), Some("application/x-proxy-test"));
        assert_eq!(
            got.metadata()
                .and_then(|m| m.get("origin"))
                .map(String::as_str),
            Some("proxy test")
        );
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body[..] == data[..], "GetObject returned other bytes");

        let logs = client!(aws_sdk_cloudwatchlogs, &sdk, seen);
        logs.create_log_group()
            .log_group_name("/proxy/pass")
            .send()
            .await
            .unwrap();
        logs.put_retention_policy()
            .log_group_name("/proxy/pass")
            .retention_in_days(7)
            .send()
            .await
            .unwrap();
        let groups = logs
            .describe_log_groups()
            .log_group_name_prefix("/proxy/")
            .send()
            .await
            .unwrap();
        let names: Vec<_> = groups
            .log_groups()
            .iter()
            .map(|g| (g.log_group_name().unwrap(), g.retention_in_days()))
            .collect();
        assert_eq!(names, [("/proxy/pass", Some(7))]);

        let st = proxy.stats();
        for (service, op) in [
            ("s3", "CreateBucket"),
            ("s3", "PutObject"),
            ("s3", "HeadObject"),
            ("s3", "GetObject"),
            ("logs", "CreateLogGroup"),
            ("logs", "PutRetentionPolicy"),
            ("logs", "DescribeLogGroups"),
        ] {
            let o = st.op(service, op);
            assert_eq!(
                (o.forwarded, o.throttled()),
                (1, 0),
                "{service} {op}: {st:?}"
            );
        }
        assert_eq!(st.total.forwarded, 7, "{st:?}");

        // moto's own API: unsigned, passed through as is, not counted.
        let (direct, direct_body) = raw(Method::GET, &format!("{}/moto-api/", lab.endpoint)).await;
        let (proxied, proxied_body) =
            raw(Method::GET, &format!("{}/moto-api/", proxy.endpoint())).await;
        assert_eq!((proxied, proxied_body), (direct, direct_body));
        assert_eq!(proxy.stats(), st);

        // The counters over HTTP, and their reset.
        let (status, json) = raw(Method::GET, &format!("{}/__proxy/stats", proxy.endpoint())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(serde_json::from_slice::<Stats>(&json).unwrap(), st);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["byService"]["s3"]["PutObject"]["forwarded"], 1, "{v}");
        let (status, _) = raw(Method::POST, &format!("{}/__proxy/reset", proxy.endpoint())).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(proxy.stats(), Stats::default());
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn auth(signing: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=ASIAKEY1/20250101/us-east-1/{signing}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=0123"
        )
    }

    #[test]
    fn calls_are_identified_by_key_service_and_operation() {
        let form = [
            ("authorization", auth("monitoring")),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let c = identify(
            &parts("POST", "/", &form),
            b"Action=DescribeAlarms&Version=2010-08-01&MaxRecords=50",
        )
        .unwrap();
        assert_eq!(
            c,
            Call {
                key: "ASIAKEY1".into(),
                region: "us-east-1".into(),
                service: "cloudwatch".into(),
                op: "DescribeAlarms".into(),
                protocol: Protocol::Query,
                alarm_page: Some(50),
            }
        );
        let c = identify(&parts("POST", "/", &form), b"Action=PutMetricAlarm").unwrap();
        assert_eq!((c.op.as_str(), c.alarm_page), ("PutMetricAlarm", None));

        for (signing, target, service, op) in [
            (
                "logs",
                "Logs_20140328.DescribeLogGroups",
                "logs",
                "DescribeLogGroups",
            ),
            (
                "tagging",
                "ResourceGroupsTaggingAPI_20170126.GetResources",
                "tagging",
                "GetResources",
            ),
            ("ssm", "AmazonSSM.GetParameters", "ssm", "GetParameters"),
            (
                "config",
                "StarlingDoveService.PutConfigRule",
                "config",
                "PutConfigRule",
            ),
        ] {
            let a = auth(signing);
            let p = parts(
                "POST",
                "/",
                &[
                    ("authorization", &a),
                    ("x-amz-target", target),
                    ("content-type", "application/x-amz-json-1.1"),
                ],
            );
            let c = identify(&p, b"{}").unwrap();
            assert_eq!((c.service.as_str(), c.op.as_str()), (service, op));
            assert_eq!(c.protocol, Protocol::Json("application/x-amz-json-1.1"));
        }

        let a = auth("xray");
        for (path, op) in [
            ("/Groups", "GetGroups"),
            ("/GetGroup", "GetGroup"),
            ("/CreateGroup", "CreateGroup"),
            ("/GetSamplingRules", "GetSamplingRules"),
            ("/UpdateSamplingRule", "UpdateSamplingRule"),
            ("/TagResource", "TagResource"),
            ("/TraceSegments", "PutTraceSegments"),
        ] {
            let c = identify(&parts("POST", path, &[("authorization", &a)]), b"{}").unwrap();
            assert_eq!(
                (c.op.as_str(), c.protocol),
                (op, Protocol::RestJson),
                "{path}"
            );
        }

        // CloudWatch in awsJson 1.0 (the SDKs between awsQuery and CBOR): the throttle
        // also carries its awsQuery code.
        let a = auth("monitoring");
        let p = parts(
            "POST",
            "/",
            &[
                ("authorization", &a),
                (
                    "x-amz-target",
                    "GraniteServiceVersion20100801.DescribeAlarms",
                ),
                ("content-type", "application/x-amz-json-1.0"),
            ],
        );
        let c = identify(&p, br#"{"MaxRecords":20}"#).unwrap();
        assert_eq!(
            (c.op.as_str(), c.protocol, c.alarm_page),
            (
                "DescribeAlarms",
                Protocol::Json("application/x-amz-json-1.0"),
                Some(20)
            )
        );
        let r = error_response(&c, Failure::Throttle, "id");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
        assert_eq!(r.headers()["x-amzn-query-error"], "Throttling;Sender");

        // CloudWatch in Smithy RPC v2 CBOR (the SDK's protocol for it now): the operation from
        // the path, the page size from the CBOR body, the throttle in CBOR with its awsQuery code.
        let p = parts(
            "POST",
            "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
            &[
                ("authorization", &a),
                ("smithy-protocol", "rpc-v2-cbor"),
                ("content-type", "application/cbor"),
            ],
        );
        let mut body = aws_smithy_cbor::Encoder::new(Vec::new());
        body.begin_map()
            .str("AlarmNamePrefix")
            .str("x")
            .str("MaxRecords")
            .integer(30)
            .end();
        let c = identify(&p, &body.into_writer()).unwrap();
        assert_eq!(
            (c.op.as_str(), c.protocol, c.alarm_page),
            ("DescribeAlarms", Protocol::Cbor, Some(30))
        );
        let r = error_response(&c, Failure::Throttle, "id");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["content-type"], "application/cbor");
        assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");
        assert_eq!(r.headers()["x-amzn-query-error"], "Throttling;Sender");

        // Unsigned requests (moto's API, the console) are not AWS calls.
        assert_eq!(identify(&parts("GET", "/moto-api/", &[]), b""), None);
        // A presigned URL carries its scope in the query.
        let p = parts(
            "GET",
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA2%2F20250101%2Fus-east-1%2Fs3%2Faws4_request",
            &[],
        );
        let c = identify(&p, b"").unwrap();
        assert_eq!(
            (c.key.as_str(), c.service.as_str(), c.op.as_str()),
            ("AKIA2", "s3", "GetObject")
        );
    }

    #[test]
    fn s3_operations_come_from_method_path_and_query() {
        let a = auth("s3");
        let copy = [
            ("authorization", a.as_str()),
            ("x-amz-copy-source", "/b/src"),
        ];
        for (method, uri, op) in [
            ("GET", "/", "ListBuckets"),
            ("PUT", "/b", "CreateBucket"),
            ("HEAD", "/b", "HeadBucket"),
            ("DELETE", "/b", "DeleteBucket"),
            ("GET", "/b?list-type=2&prefix=x", "ListObjectsV2"),
            ("GET", "/b/?list-type=2", "ListObjectsV2"),
            ("GET", "/b?location", "GetBucketLocation"),
            ("GET", "/b?tagging", "GetBucketTagging"),
            ("PUT", "/b?tagging", "PutBucketTagging"),
            ("DELETE", "/b?tagging", "DeleteBucketTagging"),
            ("GET", "/b?policy", "GetBucketPolicy"),
            ("PUT", "/b?policy", "PutBucketPolicy"),
            ("DELETE", "/b?policy", "DeleteBucketPolicy"),
            ("GET", "/b?versioning", "GetBucketVersioning"),
            ("PUT", "/b?versioning", "PutBucketVersioning"),
            ("GET", "/b?encryption", "GetBucketEncryption"),
            ("PUT", "/b?encryption", "PutBucketEncryption"),
            ("GET", "/b?publicAccessBlock", "GetPublicAccessBlock"),
            ("PUT", "/b?publicAccessBlock", "PutPublicAccessBlock"),
            ("DELETE", "/b?publicAccessBlock", "DeletePublicAccessBlock"),
            ("GET", "/b/k/x.json", "GetObject"),
            ("GET", "/b/k?x-id=GetObject", "GetObject"),
            ("PUT", "/b/k", "PutObject"),
            ("HEAD", "/b/k", "HeadObject"),
            ("DELETE", "/b/k", "DeleteObject"),
            ("POST", "/b?delete", "DeleteObjects"),
            ("PATCH", "/b/k", "S3.PATCH"),
        ] {
            let c = identify(&parts(method, uri, &[("authorization", &a)]), b"").unwrap();
            assert_eq!(c.op, op, "{method} {uri}");
            assert_eq!(c.protocol, Protocol::S3);
        }
        let c = identify(&parts("PUT", "/b/k", &copy), b"").unwrap();
        assert_eq!(c.op, "CopyObject");
    }

    #[test]
    fn alarms_are_counted_without_their_nested_members() {
        let xml = br#"<?xml version="1.0"?>
<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <DescribeAlarmsResult>
    <MetricAlarms>
      <member><AlarmName>a</AlarmName>
        <Dimensions><member><Name>d</Name><Value>v</Value></member></Dimensions>
        <AlarmActions><member>arn:1</member><member>arn:2</member></AlarmActions>
      </member>
      <member><AlarmName>b</AlarmName><OKActions/></member>
    </MetricAlarms>
    <CompositeAlarms><member><AlarmName>c</AlarmName><AlarmActions><member>x</member></AlarmActions></member></CompositeAlarms>
  </DescribeAlarmsResult>
</DescribeAlarmsResponse>"#;
        assert_eq!(count_alarms(xml), 3);
        assert_eq!(count_alarms(b"<R><MetricAlarms/><CompositeAlarms/></R>"), 0);
        let json = br#"{"MetricAlarms":[{"Dimensions":[{}]},{}],"CompositeAlarms":[{}]}"#;
        assert_eq!(count_alarms(json), 3);
        // CBOR, a definite and an indefinite array, nested arrays not counted.
        let mut cbor = aws_smithy_cbor::Encoder::new(Vec::new());
        cbor.map(3).str("MetricAlarms").array(2);
        cbor.map(1).str("Dimensions").array(1).map(0);
        cbor.map(0);
        cbor.str("CompositeAlarms")
            .begin_array()
            .map(0)
            .map(0)
            .end();
        cbor.str("NextToken").str("t");
        assert_eq!(count_alarms(&cbor.into_writer()), 4);
        assert_eq!(count_alarms(b""), 0);
    }

    #[test]
    fn buckets_refill_continuously_up_to_their_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(4.0, t0);
        assert_eq!(b.tokens, 4.0);
        b.tokens -= 4.0;
        b.refill(t0 + Duration::from_millis(250));
        assert!((b.tokens - 1.0).abs() < 1e-9, "{}", b.tokens);
        b.refill(t0 + Duration::from_secs(10));
        assert_eq!(b.tokens, 4.0, "capped at the burst");
        // A rate below one still allows one request.
        assert_eq!(Bucket::new(0.2, t0).tokens, 1.0);
        // Debt is paid off by refilling.
        let mut d = Bucket::new(2.0, t0);
        d.tokens = -1.0;
        d.refill(t0 + Duration::from_secs(1));
        assert!((d.tokens - 1.0).abs() < 1e-9, "{}", d.tokens);
    }

    /// AWS's quotas are per account and region: a target in a second region
    /// has buckets of its own, and an operation set to fault always does.
    #[test]
    fn buckets_are_per_region_and_always_faulted_operations_always_fault() {
        let call = |region: &str| {
            let a = format!(
                "AWS4-HMAC-SHA256 Credential=ASIAKEY1/20250101/{region}/monitoring/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=0123"
            );
            let p = parts(
                "POST",
                "/",
                &[
                    ("authorization", &a),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
            );
            identify(&p, b"Action=PutMetricAlarm").unwrap()
        };
        let (east, west) = (call("us-east-1"), call("eu-west-1"));
        assert_eq!(west.region, "eu-west-1");
        assert_ne!(east.bucket_key(), west.bucket_key());
        let mut s = State::new(
            ProxyConfig::default()
                .quota("cloudwatch", "PutMetricAlarm", 0.01)
                .always_fault("cloudwatch", "PutMetricAlarm"),
        );
        assert_eq!(
            s.admit(&east),
            Ok(true),
            "admitted, to fault after the effect"
        );
        assert_eq!(s.admit(&west), Ok(true), "another region, another bucket");
        assert_eq!(s.admit(&east), Err(Failure::Throttle));
    }

    #[test]
    fn draws_follow_the_seed() {
        let draws = |seed| {
            let mut s = State::new(ProxyConfig {
                seed,
                ..Default::default()
            });
            (0..10_000).map(|_| s.draw()).collect::<Vec<_>>()
        };
        let a = draws(1);
        assert_eq!(a, draws(1));
        assert_ne!(a, draws(2));
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        let below = a.iter().filter(|&&x| x < 0.5).count();
        assert!((4_800..=5_200).contains(&below), "{below}");
    }

    #[test]
    fn quota_lists_parse() {
        let c = ProxyConfig::default()
            .quota_list("cloudwatch:PutMetricAlarm=10, cloudwatch:DescribeAlarms=9,logs:X=0.5")
            .unwrap();
        let q = |s: &str, o: &str| c.quotas.get(&(s.to_string(), o.to_string())).copied();
        assert_eq!(q("cloudwatch", "PutMetricAlarm"), Some(10.0));
        assert_eq!(q("cloudwatch", "DescribeAlarms"), Some(9.0));
        assert_eq!(q("logs", "X"), Some(0.5));
        assert!(ProxyConfig::default().quota_list("cloudwatch=3").is_err());
        assert!(ProxyConfig::default().quota_list("a:b=fast").is_err());
        assert!(
            ProxyConfig::default()
                .quota_list("")
                .unwrap()
                .quotas
                .is_empty()
        );
    }
}
