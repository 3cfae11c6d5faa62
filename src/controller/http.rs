//! A tiny HTTP/1.1 responder for four GET endpoints: `/healthz`, `/readyz`,
//! `/metrics` and `/status`. One request per connection. Hand-written on
//! tokio's TcpListener so that no HTTP server stack (and no new feature set of
//! the crates the AWS SDK shares) is compiled in.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument as _;

use super::status::Shared;

/// Requests larger than this are refused; probes and scrapers send a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;

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

/// Answers one request line.
pub fn route(method: &str, target: &str, shared: &Shared) -> Response {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return Response::text(405, "method not allowed: use GET\n");
    }
    match path {
        "/healthz" => Response::text(200, "ok\n"),
        "/readyz" => {
            if shared.update(|s| s.ready) {
                Response::text(200, "ready\n")
            } else {
                Response::text(503, "not ready: the first reconcile has not finished\n")
            }
        }
        "/metrics" => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: shared.metrics_text(),
        },
        "/status" => Response {
            status: 200,
            content_type: "application/json",
            body: shared.status_json() + "\n",
        },
        _ => Response::text(
            404,
            "not found; try /healthz, /readyz, /metrics or /status\n",
        ),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

async fn handle(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break Some(i);
        }
        if buf.len() > MAX_REQUEST {
            break None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end.unwrap_or(0)]).into_owned();
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let resp = match head_end {
        None => Response::text(431, "request too large\n"),
        Some(_) if method.is_empty() || !target.starts_with('/') => {
            Response::text(400, "bad request\n")
        }
        Some(_) => route(method, target, shared),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(resp.body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}

/// Serves until the process exits.
pub fn spawn(listener: TcpListener, shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            // A client that stalls must not hold a task forever.
                            let _ = tokio::time::timeout(
                                Duration::from_secs(10),
                                handle(stream, &shared),
                            )
                            .await;
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors, usually: wait rather than spin.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
        .in_current_span(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let shared = Shared::new("d");
        assert_eq!(route("GET", "/healthz", &shared).status, 200);
        assert_eq!(route("GET", "/readyz", &shared).status, 503);
        shared.update(|s| s.ready = true);
        assert_eq!(route("GET", "/readyz?verbose", &shared).status, 200);
        assert_eq!(route("POST", "/status", &shared).status, 405);
        assert_eq!(route("GET", "/nope", &shared).status, 404);
        let status = route("GET", "/status", &shared);
        let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        assert_eq!(v["ready"], true);
        assert!(
            route("GET", "/metrics", &shared)
                .body
                .contains("vigil_ready 1")
        );
    }

    #[tokio::test]
    async fn answers_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new("d"));
        let server = spawn(listener, shared);
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.ends_with("\r\n\r\nok\n"), "{resp}");
        server.abort();
    }
}
