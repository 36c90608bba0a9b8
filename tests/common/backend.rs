//! A real HTTP backend on loopback for integration tests.
//!
//! `/slow` waits 10 s before answering; `/redirect` answers 302 and `/redirect307` 307 to
//! `/echo?redirected=1`; `/redirect-away/<port>` 302 to `http://127.0.0.1:<port>/echo`; `/stream` answers at once and streams the request body back as
//! it arrives; anything else echoes: status 200, the request body back byte for byte
//! once it has all arrived, and what it received in `x-echo-method`, `x-echo-uri` and
//! `x-echo-header-<name>` headers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use certgate::body::Payload;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// A running echo backend; stops when the test's runtime ends.
pub struct EchoBackend {
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl EchoBackend {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        echo(request)
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests reached the backend so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Polls `done` until it holds or a generous 20 s have passed; says whether it held
/// (for what happens on a backend after the request that caused it has ended).
pub async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// An address on which nothing listens.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

async fn echo(request: hyper::Request<Incoming>) -> Result<hyper::Response<Payload>, Infallible> {
    let path = request.uri().path().to_owned();
    if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let redirect = match path.as_str() {
        "/redirect" => Some(302),
        "/redirect307" => Some(307),
        _ => None,
    };
    if let Some(port) = path.strip_prefix("/redirect-away/") {
        return Ok(hyper::Response::builder()
            .status(302)
            .header("location", format!("http://127.0.0.1:{port}/echo"))
            .body(Payload::empty())
            .unwrap());
    }
    if let Some(status) = redirect {
        return Ok(hyper::Response::builder()
            .status(status)
            .header("location", "/echo?redirected=1")
            .body(Payload::empty())
            .unwrap());
    }
    let mut response = hyper::Response::builder()
        .header("x-echo-method", request.method().as_str())
        .header("x-echo-uri", request.uri().to_string())
        .header("x-echo-version", format!("{:?}", request.version()));
    for (name, value) in request.headers() {
        response = response.header(format!("x-echo-header-{name}"), value);
    }
    let body = Payload::streamed(request.into_body());
    if path == "/stream" {
        return Ok(response.body(body).unwrap());
    }
    let body = body.collect(usize::MAX).await.unwrap_or_default();
    Ok(response.body(Payload::Whole(body)).unwrap())
}

/// A backend that counts its open connections, for tests that watch the gateway let go
/// of abandoned requests: `/hold` reads the request body, then never answers; `/drip`
/// answers at once with a body that never ends (a chunk every 20 ms); `/flood` with one
/// that never ends either, 64 KiB chunks as fast as they are taken; `/pause?ms=N` with
/// a line, then after N ms another, then the end; anything else answers as
/// [`EchoBackend`]'s echo does.
pub struct HoldingBackend {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    holding: Arc<AtomicUsize>,
}

/// Counts one while it lives.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HoldingBackend {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted: Arc<AtomicUsize> = Arc::default();
        let open = Arc::default();
        let holding = Arc::default();
        let backend = Self {
            addr,
            accepted: Arc::clone(&accepted),
            open: Arc::clone(&open),
            holding: Arc::clone(&holding),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let connection = Counted::new(&open);
                let holding = holding.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| hold(request, holding.clone()));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    drop(connection);
                });
            }
        });
        backend
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now (a request abandoned by the gateway closes its own).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Requests waiting at `/hold` now, their bodies read.
    pub fn holding(&self) -> usize {
        self.holding.load(Ordering::SeqCst)
    }
}

async fn hold(
    request: hyper::Request<Incoming>,
    holding: Arc<AtomicUsize>,
) -> Result<hyper::Response<Payload>, Infallible> {
    match request.uri().path() {
        "/hold" => {
            // Read first: hyper notices a client gone only once the body is read.
            let _ = Payload::streamed(request.into_body())
                .collect(usize::MAX)
                .await;
            let _held = Counted::new(&holding);
            std::future::pending().await
        }
        "/drip" => {
            let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
            tokio::spawn(async move {
                while tx.send_data(Bytes::from_static(b"drip\n")).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            Ok(hyper::Response::new(Payload::streamed(body)))
        }
        "/flood" => {
            let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            tokio::spawn(async move { while tx.send_data(chunk.clone()).await.is_ok() {} });
            Ok(hyper::Response::new(Payload::streamed(body)))
        }
        "/pause" => {
            // `?ms=N`: "before", a pause of N ms, "after", the end.
            let pause = request
                .uri()
                .query()
                .and_then(|query| query.strip_prefix("ms="))
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::ZERO, Duration::from_millis);
            let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
            tokio::spawn(async move {
                if tx.send_data(Bytes::from_static(b"before\n")).await.is_ok() {
                    tokio::time::sleep(pause).await;
                    let _ = tx.send_data(Bytes::from_static(b"after\n")).await;
                }
            });
            Ok(hyper::Response::new(Payload::streamed(body)))
        }
        _ => echo(request).await,
    }
}

/// A backend that holds every request until [`GatedBackend::release`], then answers as
/// [`EchoBackend`]'s echo does: a test holds requests inside the gateway, and knows when
/// they arrived, without waiting on a clock.
pub struct GatedBackend {
    pub addr: SocketAddr,
    arrived: tokio::sync::watch::Receiver<usize>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
}

impl GatedBackend {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (arrived_tx, arrived) = tokio::sync::watch::channel(0_usize);
        let arrived_tx = Arc::new(arrived_tx);
        let gate = Arc::new(tokio::sync::watch::channel(false).0);
        let opened = Arc::clone(&gate);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (arrived_tx, opened) = (Arc::clone(&arrived_tx), Arc::clone(&opened));
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        arrived_tx.send_modify(|n| *n += 1);
                        let mut open = opened.subscribe();
                        async move {
                            let _ = open.wait_for(|open| *open).await;
                            echo(request).await
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            arrived,
            gate,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns once `n` requests have arrived in all.
    pub async fn arrived(&self, n: usize) {
        let mut arrived = self.arrived.clone();
        arrived.wait_for(|count| *count >= n).await.unwrap();
    }

    /// How many requests have arrived in all.
    pub fn count(&self) -> usize {
        *self.arrived.borrow()
    }

    /// Lets every held request, and every later one, through.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }
}

/// One request as [`RecordingBackend`] received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A backend that records every request it receives, whole, and answers each path with
/// the statuses scripted for it, one per call (then 200): `JSON {"path": ..., "call": n}`
/// (or the body set by [`RecordingBackend::answer`]) with `x-call: n` (n counts that path's calls from 1). `/hold` never answers; `/pair`
/// answers only once a second `/pair` request is there too (two at once).
pub struct RecordingBackend {
    pub addr: SocketAddr,
    seen: Arc<std::sync::Mutex<Vec<Recorded>>>,
    script: Script,
    bodies: Bodies,
}

/// The JSON bodies set per path by [`RecordingBackend::answer`].
type Bodies = Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

type Script = Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u16>>>>;

impl RecordingBackend {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Self {
            addr,
            seen: Arc::default(),
            script: Arc::default(),
            bodies: Arc::default(),
        };
        let (seen, script, bodies) = (
            backend.seen.clone(),
            backend.script.clone(),
            backend.bodies.clone(),
        );
        let pair = Arc::new(tokio::sync::Barrier::new(2));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, script, bodies, pair) =
                    (seen.clone(), script.clone(), bodies.clone(), pair.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let answer = (script.clone(), bodies.clone());
                        record(request, seen.clone(), answer, pair.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        backend
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next calls to `path` get `statuses`, in turn.
    pub fn script(&self, path: &str, statuses: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .insert(path.to_owned(), statuses.to_vec());
    }

    /// Calls to `path` are answered with `json` instead of the path and call count.
    pub fn answer(&self, path: &str, json: &str) {
        self.bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), json.to_owned());
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests so far whose path is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.uri.split('?').next() == Some(path))
            .collect()
    }
}

async fn record(
    request: hyper::Request<Incoming>,
    seen: Arc<std::sync::Mutex<Vec<Recorded>>>,
    (script, bodies): (Script, Bodies),
    pair: Arc<tokio::sync::Barrier>,
) -> Result<hyper::Response<Payload>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = Payload::streamed(body)
        .collect(usize::MAX)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let call = {
        let mut seen = seen.lock().unwrap();
        seen.push(Recorded {
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body,
        });
        seen.iter()
            .filter(|r| r.uri.split('?').next() == Some(path.as_str()))
            .count()
    };
    match path.as_str() {
        "/hold" => std::future::pending::<()>().await,
        "/pair" => {
            pair.wait().await;
        }
        _ => {}
    }
    let status = {
        let mut script = script.lock().unwrap();
        match script.get_mut(&path) {
            Some(statuses) if !statuses.is_empty() => statuses.remove(0),
            _ => 200,
        }
    };
    let json = bodies
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| format!(r#"{{"path":"{path}","call":{call}}}"#));
    Ok(hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-call", call.to_string())
        .body(Payload::from(json.into_bytes()))
        .unwrap())
}
