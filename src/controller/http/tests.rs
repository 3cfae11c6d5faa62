//! Unit tests for `crate::controller::http`, in their own file so `http.rs` reads as production code.

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
    assert_closed(&mut s, "an idle connection is closed").await;
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
    assert_closed(&mut s, "closed after the last request").await;
    server.abort();
}

/// Asserts that the server closes the connection within 2 s, sending nothing more.
async fn assert_closed(s: &mut TcpStream, what: &str) {
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
        .await
        .expect(what)
        .unwrap();
    assert_eq!(n, 0);
}

/// A probe is still answered.
async fn assert_still_served(addr: SocketAddr) {
    let r = get(addr, "/healthz").await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
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
    assert_still_served(addr).await;
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
    assert_still_served(addr).await;
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

const CAP: usize = 4;

/// A server that holds at most [`CAP`] connections, each given 30 s for its head.
async fn start_capped() -> (
    SocketAddr,
    Arc<super::super::status::Shared>,
    tokio::task::JoinHandle<()>,
) {
    start(Limits {
        max_connections: CAP,
        header_read_timeout: Duration::from_secs(30),
        ..Limits::default()
    })
    .await
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_for_probes() {
    let cap = CAP;
    let (addr, _, server) = start_capped().await;
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
    let cap = CAP;
    let (addr, _, server) = start_capped().await;
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
