//! The HTTP endpoints of `vigil run`: `/healthz`, `/readyz`, `/metrics` and
//! `/status`, served with hyper's HTTP/1.1 connection on tokio's listener.
//!
//! What a client may hold is bounded: a number of connections at once, the
//! time to send a request head (also the idle time between keep-alive
//! requests), the size of that head, the requests on one connection, and the
//! age of a connection.
//!
//! Probes always answer: at the connection cap a new connection is served, and
//! an open one closed to make room, the oldest of the client (IP address) that
//! holds the most. So one client holding every slot loses its own connections,
//! not the kubelet's probe.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::status::{Board, METRICS_CONTENT_TYPE};

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

/// Answers one request: its method and target (path, maybe with a query).
pub fn route(method: &str, target: &str, board: &Board) -> Response {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return Response::text(405, "method not allowed: use GET\n");
    }
    match path {
        "/healthz" => Response::text(200, "ok\n"),
        "/readyz" => {
            if board.ready() {
                Response::text(200, "ready\n")
            } else if let Some(why) = board.unreadable() {
                Response::text(
                    503,
                    format!("not ready: cannot load the directory: {why}\n"),
                )
            } else {
                Response::text(503, "not ready: the first reconcile has not finished\n")
            }
        }
        "/metrics" => Response {
            status: 200,
            content_type: METRICS_CONTENT_TYPE,
            body: board.metrics_text(),
        },
        "/status" => Response {
            status: 200,
            content_type: "application/json",
            body: board.status_json() + "\n",
        },
        _ => Response::text(
            404,
            "not found; try /healthz, /readyz, /metrics or /status\n",
        ),
    }
}

/// What one client may hold of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to send a request head; also how long a keep-alive connection may idle.
    pub header_read_timeout: Duration,
    /// Bytes of request line and headers (hyper's read buffer; at least 8 KiB).
    pub max_head: usize,
    /// Requests on one connection; the last answer says `Connection: close`.
    pub max_requests: u32,
    /// After this a connection finishes the answer in flight and is closed, so a
    /// client that never reads its answer cannot keep its slot.
    pub max_age: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // Two probes and a scraper or two need a handful; 64 leaves room for
            // bursts and `kubectl port-forward` users while bounding memory.
            max_connections: 64,
            header_read_timeout: Duration::from_secs(5),
            // Probes and scrapers send a few hundred bytes.
            max_head: 8 * 1024,
            max_requests: 100,
            max_age: Duration::from_secs(60),
        }
    }
}

/// How long a connection past `max_age` gets to finish its answer.
const GRACE: Duration = Duration::from_secs(5);

/// How long a connection closed to make room gets to finish an answer in flight
/// (one idle, or still sending its request head, is closed at once).
const EVICT_GRACE: Duration = Duration::from_secs(1);

/// The connections served, oldest first, and those closing to make room.
#[derive(Default)]
struct Open {
    next: u64,
    live: BTreeMap<u64, (IpAddr, Arc<Notify>)>,
    /// Closed to make room but still finishing (at most [`EVICT_GRACE`]).
    closing: usize,
}

impl Open {
    /// Admits a connection from `peer`: at the cap, another is told to close
    /// first. `None` when there is no room even so (the closing ones are as many
    /// as the cap: a flood is refused rather than held).
    fn admit(&mut self, peer: IpAddr, max: usize) -> Option<(u64, Arc<Notify>)> {
        if self.live.len() >= max {
            if self.closing >= max {
                return None;
            }
            let victim = self.victim()?;
            if let Some((_, close)) = self.live.remove(&victim) {
                close.notify_one();
                self.closing += 1;
            }
        }
        let id = self.next;
        self.next += 1;
        let close = Arc::new(Notify::new());
        self.live.insert(id, (peer, close.clone()));
        Some((id, close))
    }

    /// The oldest connection of the client holding the most.
    fn victim(&self) -> Option<u64> {
        let mut by_peer: HashMap<IpAddr, (usize, u64)> = HashMap::new();
        for (id, (peer, _)) in &self.live {
            let e = by_peer.entry(*peer).or_insert((0, *id));
            e.0 += 1;
        }
        by_peer
            .into_values()
            .max_by_key(|(n, oldest)| (*n, std::cmp::Reverse(*oldest)))
            .map(|(_, oldest)| oldest)
    }

    /// A connection ended, on its own or after being told to close.
    fn done(&mut self, id: u64) {
        if self.live.remove(&id).is_none() {
            self.closing = self.closing.saturating_sub(1);
        }
    }
}

/// Marks a connection's request done when hyper drops the answer's body.
struct Written(Arc<AtomicBool>);

impl Drop for Written {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// An answer's body that marks its request done when hyper drops it; its
/// size passes through, so the answer keeps its Content-Length.
struct Tracked {
    body: Full<Bytes>,
    _written: Written,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Takes a connection out of [`Open`] however its task ends.
struct Leave {
    open: Arc<Mutex<Open>>,
    id: u64,
}

impl Drop for Leave {
    fn drop(&mut self) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .done(self.id);
    }
}

/// At most one warning about refused connections in this long.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

fn to_hyper(resp: Response, close: bool) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder()
        .status(StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(CONTENT_TYPE, resp.content_type)
        .header(CACHE_CONTROL, "no-store");
    if resp.status == 405 {
        b = b.header(ALLOW, "GET, HEAD");
    }
    if close {
        b = b.header(CONNECTION, "close");
    }
    // hyper sends the Content-Length of this body and leaves the body out for HEAD.
    b.body(Full::new(Bytes::from(resp.body)))
        .expect("static header values are valid")
}

/// Serves until the process exits, with the default limits.
pub fn spawn(listener: TcpListener, board: Arc<Board>) -> tokio::task::JoinHandle<()> {
    serve(listener, board, Limits::default())
}

/// Serves until the task is aborted or the process exits.
pub fn serve(
    listener: TcpListener,
    board: Arc<Board>,
    limits: Limits,
) -> tokio::task::JoinHandle<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_head)
        .keep_alive(true);
    let open = Arc::new(Mutex::new(Open::default()));
    tokio::spawn(
        async move {
            let mut refusals = Refusals::default();
            loop {
                let (stream, peer) = accept(&listener).await;
                // At the cap an open connection makes room (see `Open::admit`).
                // With no room even so, the connection is closed at once rather
                // than answered 503: an answer means reading the request first,
                // which is the very work and time the cap bounds.
                let admitted = open
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .admit(peer.ip(), limits.max_connections);
                let Some((id, close)) = admitted else {
                    drop(stream);
                    refusals.note(peer, limits.max_connections);
                    continue;
                };
                let leave = Leave {
                    open: open.clone(),
                    id,
                };
                let conn = Conn { peer, leave, close };
                spawn_connection(&builder, stream, conn, board.clone(), &limits);
            }
        }
        .in_current_span(),
    )
}

/// The next connection; an error (out of file descriptors, usually) waits rather than spins.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) => {
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Connections refused at the cap, logged at most once every [`REFUSAL_LOG_EVERY`].
#[derive(Default)]
struct Refusals {
    last_log: Option<Instant>,
    count: u64,
}

impl Refusals {
    fn note(&mut self, peer: SocketAddr, max_connections: usize) {
        self.count += 1;
        if self
            .last_log
            .is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY)
        {
            tracing::warn!(
                "{} connection(s) refused: {max_connections} open and as many closing to make room (latest from {peer})",
                self.count
            );
            self.last_log = Some(Instant::now());
            self.count = 0;
        }
    }
}

/// An admitted connection: who, its slot, and the signal to give the slot up.
struct Conn {
    peer: SocketAddr,
    leave: Leave,
    close: Arc<Notify>,
}

/// Serves one connection in a task of its own, until it ends, ages out, or is
/// closed to make room.
fn spawn_connection(
    builder: &http1::Builder,
    stream: TcpStream,
    conn: Conn,
    board: Arc<Board>,
    limits: &Limits,
) {
    let Conn { peer, leave, close } = conn;
    let max_requests = limits.max_requests;
    let served = AtomicU32::new(0);
    // A request is in flight from its dispatch until hyper drops the
    // answer's body, written; only then does closing lose anything.
    let busy = Arc::new(AtomicBool::new(false));
    let in_flight = busy.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let n = served.fetch_add(1, Ordering::Relaxed) + 1;
        let resp = route(req.method().as_str(), req.uri().path(), &board);
        in_flight.store(true, Ordering::Release);
        let written = Written(in_flight.clone());
        let resp = to_hyper(resp, n >= max_requests).map(|body| Tracked {
            body,
            _written: written,
        });
        std::future::ready(Ok::<_, Infallible>(resp))
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let max_age = limits.max_age;
    tokio::spawn(
        async move {
            let _leave = leave;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!("connection from {peer}: {e}");
                    }
                }
                () = tokio::time::sleep(max_age) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GRACE, conn).await;
                }
                () = close.notified() => {
                    tracing::debug!("connection from {peer} closed to make room");
                    // Idle or still sending its head: closed at once, so a
                    // client that keeps opening connections cannot keep
                    // the closing ones (and the cap) full.
                    if busy.load(Ordering::Acquire) {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(EVICT_GRACE, conn).await;
                    }
                }
            }
        }
        .in_current_span(),
    );
}

#[cfg(test)]
mod tests;
