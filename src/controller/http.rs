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
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    #[test]
    fn routes() {
        let (board, shared) = Board::implicit("d");
        assert_eq!(route("GET", "/healthz", &board).status, 200);
        assert_eq!(route("GET", "/readyz", &board).status, 503);
        shared.update(|s| s.ready = true);
        assert_eq!(route("GET", "/readyz?verbose", &board).status, 200);
        assert_eq!(route("POST", "/status", &board).status, 405);
        assert_eq!(route("GET", "/nope", &board).status, 404);
        let status = route("GET", "/status", &board);
        let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        assert_eq!(v["ready"], true);
        assert!(
            route("GET", "/metrics", &board)
                .body
                .contains("vigil_ready 1")
        );
    }

    async fn start(
        limits: Limits,
    ) -> (
        SocketAddr,
        Arc<super::super::status::Shared>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (board, shared) = Board::implicit("d");
        let server = serve(listener, Arc::new(board), limits);
        (addr, shared, server)
    }

    /// Sends `raw` and reads until the server closes (or resets) the connection.
    async fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // A refused connection may already be reset; the empty answer tells.
        let _ = s.write_all(raw).await;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .expect("the server closes the connection");
        String::from_utf8_lossy(&out).into_owned()
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        exchange(addr, req.as_bytes()).await
    }

    fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
        let head = resp.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn body(resp: &str) -> &str {
        resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    #[tokio::test]
    async fn every_route_over_tcp() {
        let (addr, shared, server) = start(Limits::default()).await;

        let r = get(addr, "/healthz").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(
            header(&r, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(header(&r, "cache-control"), Some("no-store"));
        assert_eq!(header(&r, "content-length"), Some("3"));
        assert_eq!(body(&r), "ok\n");

        let r = get(addr, "/readyz").await;
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
        assert!(body(&r).starts_with("not ready"), "{r}");
        shared.update(|s| s.ready = true);
        let r = get(addr, "/readyz").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(body(&r), "ready\n");

        let r = get(addr, "/metrics").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(header(&r, "content-type"), Some(METRICS_CONTENT_TYPE));
        assert!(body(&r).contains("vigil_ready 1\n"), "{r}");
        assert!(body(&r).ends_with("# EOF\n"), "{r}");

        let r = get(addr, "/status?pretty").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
        assert_eq!(v["ready"], true);

        let r = get(addr, "/nope").await;
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");

        // HEAD: the GET's headers, no body.
        let r = exchange(
            addr,
            b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(header(&r, "content-length"), Some("3"), "{r}");
        assert_eq!(body(&r), "", "{r}");

        let r = exchange(
            addr,
            b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{r}");
        assert_eq!(header(&r, "allow"), Some("GET, HEAD"));
        server.abort();
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_head_limit_arrives_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = "d".repeat(200 * 1024);
        let server = spawn(listener, Arc::new(Board::implicit(&dir).0));
        let r = get(addr, "/status").await;
        let v: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
        assert_eq!(v["dir"].as_str().map(str::len), Some(dir.len()));
        server.abort();
    }

    /// Reads one response with a Content-Length body off a kept-alive connection.
    async fn read_one(s: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).await.unwrap(), 1, "closed mid-head");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let len: usize = header(&head, "content-length").unwrap().parse().unwrap();
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    #[tokio::test]
    async fn keep_alive_is_bounded_by_requests_and_idle_time() {
        let idle = Duration::from_millis(300);
        let (addr, _, server) = start(Limits {
            max_requests: 3,
            header_read_timeout: idle,
            ..Limits::default()
        })
        .await;
        // An idle kept-alive connection is closed after the header timeout.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let r = read_one(&mut s).await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(header(&r, "connection"), None, "{r}");
        let t = std::time::Instant::now();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
            .await
            .expect("an idle connection is closed")
            .unwrap();
        assert_eq!(n, 0);
        assert!(
            t.elapsed() >= idle - Duration::from_millis(50),
            "{:?}",
            t.elapsed()
        );

        let mut s = TcpStream::connect(addr).await.unwrap();
        for i in 1..=3 {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let r = read_one(&mut s).await;
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
            let close = header(&r, "connection") == Some("close");
            assert_eq!(close, i == 3, "request {i}: {r}");
        }
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
            .await
            .expect("closed after the last request")
            .unwrap();
        assert_eq!(n, 0);
        server.abort();
    }

    #[tokio::test]
    async fn a_malformed_request_gets_400_and_others_are_still_served() {
        let (addr, _, server) = start(Limits::default()).await;
        for bad in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET /healthz HTTP/9.9\r\n\r\n",
            b"GET /hea lthz HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
        ] {
            let r = exchange(addr, bad).await;
            assert!(
                r.starts_with("HTTP/1.1 400 Bad Request\r\n"),
                "{:?}: {r}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(
            get(addr, "/healthz")
                .await
                .starts_with("HTTP/1.1 200 OK\r\n")
        );
        server.abort();
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused_and_others_are_still_served() {
        let (addr, _, server) = start(Limits::default()).await;
        let mut req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
        while req.len() < 64 * 1024 {
            req.extend_from_slice(
                format!("X-Filler-{}: {}\r\n", req.len(), "y".repeat(100)).as_bytes(),
            );
        }
        req.extend_from_slice(b"\r\n");
        let mut s = TcpStream::connect(addr).await.unwrap();
        // The server stops reading at 8 KiB, so the rest may not go through.
        let _ = s.write_all(&req).await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .expect("the server gives up on the request");
        let r = String::from_utf8_lossy(&out);
        eprintln!(
            "64 KiB head: {}",
            r.lines().next().map_or(format!("{read:?}"), str::to_string)
        );
        // 431, unless the close with the unread rest reset the connection first.
        assert!(
            r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")
                || (r.is_empty() && read.is_err()),
            "{r}"
        );
        assert!(
            get(addr, "/healthz")
                .await
                .starts_with("HTTP/1.1 200 OK\r\n")
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_slow_client_is_cut_off_while_others_are_served() {
        let timeout = Duration::from_millis(400);
        let (addr, _, server) = start(Limits {
            header_read_timeout: timeout,
            ..Limits::default()
        })
        .await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /hea").await.unwrap();
        let started = std::time::Instant::now();
        let cut = tokio::spawn(async move {
            let mut out = Vec::new();
            let n = slow.read_to_end(&mut out).await;
            (started.elapsed(), n.map(|_| out.len()))
        });
        // Meanwhile probes are answered at once.
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            assert!(
                get(addr, "/healthz")
                    .await
                    .starts_with("HTTP/1.1 200 OK\r\n")
            );
            slowest = slowest.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (after, read) = tokio::time::timeout(Duration::from_secs(5), cut)
            .await
            .expect("the slow client is disconnected")
            .unwrap();
        eprintln!("slow client cut off after {after:?}; slowest probe meanwhile {slowest:?}");
        // Closed with nothing sent (hyper answers no 408), or reset.
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(after >= timeout - Duration::from_millis(50), "{after:?}");
        assert!(after < timeout * 3, "{after:?}");
        assert!(slowest < Duration::from_millis(200), "{slowest:?}");
        server.abort();
    }

    #[test]
    fn at_the_cap_the_busiest_clients_oldest_connection_makes_room() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let mut open = Open::default();
        let (first_b, _) = open.admit(b, 4).unwrap();
        let mut a_ids = Vec::new();
        for _ in 0..3 {
            a_ids.push(open.admit(a, 4).unwrap().0);
        }
        // Full: b's older connection stays; a, holding three, loses its oldest.
        let (new_b, _) = open.admit(b, 4).unwrap();
        assert!(open.live.contains_key(&first_b));
        assert!(!open.live.contains_key(&a_ids[0]));
        assert!(open.live.contains_key(&new_b));
        assert_eq!((open.live.len(), open.closing), (4, 1));
        // The closed one ends: nothing is counted twice.
        open.done(a_ids[0]);
        assert_eq!((open.live.len(), open.closing), (4, 0));
        open.done(new_b);
        assert_eq!((open.live.len(), open.closing), (3, 0));
        // As many closing as the cap: a flood is refused.
        let mut open = Open::default();
        for _ in 0..8 {
            assert!(open.admit(a, 4).is_some());
        }
        assert_eq!((open.live.len(), open.closing), (4, 4));
        assert!(open.admit(b, 4).is_none());
    }

    #[tokio::test]
    async fn at_the_cap_idle_connections_make_room_for_probes() {
        let cap = 4;
        let (addr, _, server) = start(Limits {
            max_connections: cap,
            header_read_timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .await;
        // Idle connections take every slot (and would keep them for 30 s).
        let mut idle = Vec::new();
        for _ in 0..cap {
            idle.push(TcpStream::connect(addr).await.unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;

        // Each probe is answered; the oldest idle connection is closed for it.
        for _ in 0..cap * 2 {
            let r = tokio::time::timeout(Duration::from_secs(5), get(addr, "/healthz"))
                .await
                .expect("a probe at the cap is answered");
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        }
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), idle[0].read_to_end(&mut out))
            .await
            .expect("the oldest idle connection is closed");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        server.abort();
    }

    #[tokio::test]
    async fn connections_that_never_finish_their_head_cannot_fill_the_closing_ones() {
        let cap = 4;
        let (addr, _, server) = start(Limits {
            max_connections: cap,
            header_read_timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .await;
        // Each round a client opens as many connections as the cap, each sending
        // half a request head, so each closes an older one. Were they given time
        // to finish (1 s), the closing ones would reach the cap within a round and
        // the probe would be refused.
        let mut held = Vec::new();
        for round in 0..4 {
            for _ in 0..cap {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(b"GET /hea").await.unwrap();
                held.push(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let r = get(addr, "/healthz").await;
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "round {round}: {r:?}");
        }
        server.abort();
    }
}
