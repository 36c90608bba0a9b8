//! `Backend::forward` over HTTP/1.1 against backends scripted byte by byte on loopback:
//! how a response's body is delimited (RFC 9112 §6.3), which responses are refused as
//! bad HTTP, when a connection is kept for the next request, and how requests are framed.
//!
//! Each backend is a bare `TcpListener` that reads requests and writes exactly the
//! bytes a test gives it, so a test can send what no well-behaved server library would,
//! and count the connections and requests that reached it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use certgate::body::Payload;
use certgate::proxy::{Backend, BackendResponse, ForwardOptions, ProxyError};
use http_body_util::BodyExt as _;
use hyper::body::Body as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request as a scripted backend read it off the wire.
#[derive(Debug, Clone)]
struct Received {
    /// The request line and header lines, each ending in CRLF, and the blank line.
    head: String,
    /// The body, decoded from its chunks when it came chunked.
    body: Vec<u8>,
}

impl Received {
    fn method(&self) -> &str {
        self.head.split(' ').next().unwrap_or_default()
    }

    /// Every value of header `name`, in order.
    fn headers(&self, name: &str) -> Vec<&str> {
        self.head
            .split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
            .collect()
    }
}

/// One accepted connection of a scripted backend.
struct Conn {
    io: BufReader<TcpStream>,
    /// Which connection this is, counting from 0 in the order they were accepted.
    index: usize,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Conn {
    /// The next request, its body read whole; `None` once the client closed (or sent
    /// something this reader does not understand).
    async fn request(&mut self) -> Option<Received> {
        let mut head = Vec::new();
        loop {
            let start = head.len();
            if self.io.read_until(b'\n', &mut head).await.ok()? == 0 {
                return None;
            }
            if head[start..] == *b"\r\n" {
                break;
            }
        }
        let head = String::from_utf8(head).ok()?;
        let mut request = Received {
            head,
            body: Vec::new(),
        };
        if request
            .headers("transfer-encoding")
            .iter()
            .any(|te| te.eq_ignore_ascii_case("chunked"))
        {
            request.body = self.chunked().await?;
        } else if let Some(length) = request.headers("content-length").first() {
            let mut body = vec![0; length.parse().ok()?];
            self.io.read_exact(&mut body).await.ok()?;
            request.body = body;
        }
        self.received.lock().unwrap().push(request.clone());
        Some(request)
    }

    /// A chunked body, decoded; `None` if it is not well-formed.
    async fn chunked(&mut self) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let mut line = String::new();
            self.io.read_line(&mut line).await.ok()?;
            let size = line.strip_suffix("\r\n")?.split(';').next()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.io.read_exact(&mut body[start..]).await.ok()?;
            let mut crlf = [0; 2];
            self.io.read_exact(&mut crlf).await.ok()?;
            if crlf != *b"\r\n" {
                return None;
            }
        }
        // Trailers, up to the blank line.
        loop {
            let mut line = String::new();
            if self.io.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if line == "\r\n" {
                return Some(body);
            }
        }
    }

    /// Writes `bytes` as they are (a client that left early is not the backend's concern).
    async fn send(&mut self, bytes: &[u8]) {
        let _ = self.io.get_mut().write_all(bytes).await;
    }

    /// Writes `bytes` in pieces of `piece` bytes, each its own write.
    async fn send_in_pieces(&mut self, bytes: &[u8], piece: usize) {
        for part in bytes.chunks(piece) {
            if self.io.get_mut().write_all(part).await.is_err() {
                return;
            }
        }
    }

    /// Keeps the connection open, saying nothing, until the client closes it: a client
    /// that waits for more than it was sent waits forever.
    async fn hold(mut self) {
        let mut sink = Vec::new();
        let _ = self.io.read_to_end(&mut sink).await;
    }

    /// Closes the connection (FIN, after everything written).
    async fn close(mut self) {
        let _ = self.io.get_mut().shutdown().await;
    }
}

/// A backend on loopback whose every connection is served by a script.
struct Scripted {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Scripted {
    /// Serves each accepted connection with `serve`.
    async fn start<F, Fut>(serve: F) -> Self
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (Arc::clone(&accepted), Arc::clone(&received));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = count.fetch_add(1, Ordering::SeqCst);
                let conn = Conn {
                    io: BufReader::new(stream),
                    index,
                    received: Arc::clone(&log),
                };
                tokio::spawn(serve(conn));
            }
        });
        Self {
            addr,
            accepted,
            received,
        }
    }

    /// Answers every request on every connection with `respond(request)`, and keeps
    /// each connection open for more until the client closes it.
    async fn answering(respond: impl Fn(&Received) -> Vec<u8> + Send + Sync + 'static) -> Self {
        let respond = Arc::new(respond);
        Self::start(move |mut conn| {
            let respond = Arc::clone(&respond);
            async move {
                while let Some(request) = conn.request().await {
                    conn.send(&respond(&request)).await;
                }
            }
        })
        .await
    }

    /// Answers every request with `head`, then `body` written `piece` bytes at a time.
    async fn streaming(head: Vec<u8>, body: Arc<Vec<u8>>, piece: usize) -> Self {
        Self::start(move |mut conn| {
            let (head, body) = (head.clone(), Arc::clone(&body));
            async move {
                while conn.request().await.is_some() {
                    conn.send(&head).await;
                    conn.send_in_pieces(&body, piece).await;
                }
            }
        })
        .await
    }

    /// Answers every request with these very bytes.
    async fn always(response: &'static [u8]) -> Self {
        Self::answering(move |_| response.to_vec()).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every request read so far, in order.
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests with `method` were read so far.
    fn received_with(&self, method: &str) -> usize {
        self.received()
            .iter()
            .filter(|r| r.method() == method)
            .count()
    }
}

/// `200 OK` with a two-byte body, kept alive.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn backend() -> Backend {
    Backend::new(&[], None, 16 * 1024 * 1024).unwrap()
}

fn request(method: &str, url: &str, body: Payload) -> http::Request<Payload> {
    http::Request::builder()
        .method(method)
        .uri(url)
        .header("x-client", "yes")
        .body(body)
        .unwrap()
}

fn get(url: &str) -> http::Request<Payload> {
    request("GET", url, Payload::empty())
}

/// Fails the test instead of letting it hang when the client waits for bytes that
/// will never come (every scripted backend here answers at once).
async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

/// `request` forwarded with the default options: HTTP/1.1, the body streamed.
async fn forward(
    client: &Backend,
    request: http::Request<Payload>,
) -> Result<BackendResponse, ProxyError> {
    within(
        "forward",
        client.forward(request, ForwardOptions::default()),
    )
    .await
}

/// The rest of `response`'s body.
async fn collect(response: BackendResponse) -> Result<Bytes, String> {
    within("reading the body", response.body.collect(usize::MAX))
        .await
        .map_err(|e| e.to_string())
}

/// `GET url`, which must succeed, and its body, which must arrive whole.
async fn fetch(client: &Backend, url: &str) -> (BackendResponse, Bytes) {
    let mut response = forward(client, get(url)).await.unwrap();
    let body = std::mem::take(&mut response.body);
    let body = within("reading the body", body.collect(usize::MAX))
        .await
        .unwrap();
    (response, body)
}

/// Two GETs to a backend that answers each with `response`, both read as a 200 with
/// `body`: how many connections the backend accepted for them.
async fn connections_for_two_gets(response: &'static [u8], body: &str) -> usize {
    let server = Scripted::always(response).await;
    let client = backend();
    for _ in 0..2 {
        let (answer, read) = fetch(&client, &server.url("/")).await;
        assert_eq!(answer.status, 200);
        assert_eq!(read, body.as_bytes());
    }
    server.accepted()
}

/// `GET url` refused as bad HTTP from the backend: a 502, before any body, whose message
/// says `why`.
async fn refused(client: &Backend, url: &str, why: &str) -> ProxyError {
    let error = match forward(client, get(url)).await {
        Err(error) => error,
        Ok(response) => panic!(
            "passed on as {} with headers {:?}",
            response.status,
            response.headers.keys().collect::<Vec<_>>()
        ),
    };
    assert!(matches!(error, ProxyError::Protocol { .. }), "{error:?}");
    assert_eq!(error.status(), 502);
    assert!(
        error.to_string().contains(why),
        "{error} does not say {why:?}"
    );
    error
}

/// The head of a 200 with a body of `len` bytes.
fn length_head(len: usize) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes()
}

/// Bytes that repeat only every 64 KiB or so, so a lost, doubled or shifted piece shows.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `data` in chunks of `sizes` in turn (cycling), with extensions on some, then the
/// last chunk.
fn chunked(data: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    for (n, size) in sizes.iter().cycle().enumerate() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        if n % 3 == 0 {
            out.extend_from_slice(format!("{:x};n={n}\r\n", chunk.len()).as_bytes());
        } else {
            out.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
        }
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// --- How the body is delimited -------------------------------------------------------

/// A Content-Length body is read to its length exactly, which leaves the connection at
/// the start of the next response, ready for the next request.
#[tokio::test]
async fn a_content_length_body_is_exact_and_its_connection_is_reused() {
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(connections_for_two_gets(response, "hello").await, 1);
}

/// Chunk extensions are skipped and trailers are read to the blank line but not made
/// headers (they arrive after the head was passed on): the connection is then clean for
/// the next request.
#[tokio::test]
async fn a_chunked_body_is_its_chunks_joined_without_extensions_or_trailers() {
    let server = Scripted::always(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n\
          6;a=b;c=\"d e\"\r\n world\r\n\
          0\r\nx-trailer: t\r\nx-other: u\r\n\r\n",
    )
    .await;
    let client = backend();
    for _ in 0..2 {
        let (response, body) = fetch(&client, &server.url("/")).await;
        assert_eq!(response.status, 200);
        assert_eq!(body, "hello world");
        assert!(!response.headers.contains_key("x-trailer"), "{response:?}");
        assert!(!response.headers.contains_key("x-other"), "{response:?}");
    }
    assert_eq!(server.accepted(), 1);
}

/// Without Content-Length or Transfer-Encoding the body runs to the backend's close;
/// that connection is gone, so the next request needs a new one.
#[tokio::test]
async fn a_body_without_length_runs_to_the_close_and_the_next_request_connects_again() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                .await;
            conn.send(b"all of this, ").await;
            conn.send(b"up to the close").await;
            conn.close().await;
        }
    })
    .await;
    let client = backend();
    for _ in 0..2 {
        let (response, body) = fetch(&client, &server.url("/")).await;
        assert_eq!(response.status, 200);
        assert_eq!(body, "all of this, up to the close");
    }
    assert_eq!(server.accepted(), 2);
}

/// A response to HEAD has no body whatever its Content-Length says (which describes
/// what GET would return, and is passed on for that); waiting for 1000 bytes would hang
/// and spoil the connection.
#[tokio::test]
async fn a_head_response_has_no_body_whatever_its_length_and_keeps_its_connection() {
    let server = Scripted::answering(|request| {
        if request.method() == "HEAD" {
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec()
        } else {
            OK.to_vec()
        }
    })
    .await;
    let client = backend();
    let url = server.url("/");
    let response = forward(&client, request("HEAD", &url, Payload::empty()))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["content-length"], "1000");
    assert_eq!(collect(response).await.unwrap(), "");
    let (_, body) = fetch(&client, &url).await;
    assert_eq!(body, "ok");
    assert_eq!(server.accepted(), 1);
}

/// 204 never has a body, even when the backend wrongly sends a Content-Length; 304's
/// Content-Length is the length of the representation the client has cached (RFC 9110
/// §8.6), not of a body. Neither has one to wait for, and the connection stays usable.
#[tokio::test]
async fn a_204_or_304_has_no_body_whatever_its_content_length_and_keeps_its_connection() {
    let heads: [(u16, &'static [u8]); 2] = [
        (204, b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        (
            304,
            b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n",
        ),
    ];
    for (status, head) in heads {
        let server = Scripted::answering(move |request| {
            if request.head.starts_with("GET /empty ") {
                head.to_vec()
            } else {
                OK.to_vec()
            }
        })
        .await;
        let client = backend();
        let (response, body) = fetch(&client, &server.url("/empty")).await;
        assert_eq!(response.status, status);
        assert_eq!(body, "", "a {status}");
        let (_, body) = fetch(&client, &server.url("/")).await;
        assert_eq!(body, "ok", "after a {status}");
        assert_eq!(server.accepted(), 1, "after a {status}");
    }
}

/// Interim 1xx responses are for the hop only; the caller gets the final response,
/// without the interim ones' headers.
#[tokio::test]
async fn interim_1xx_responses_are_skipped_for_the_final_one() {
    let server = Scripted::always(
        b"HTTP/1.1 100 Continue\r\n\r\n\
          HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    )
    .await;
    let client = backend();
    let (response, body) = fetch(&client, &server.url("/")).await;
    assert_eq!(response.status, 200);
    assert!(!response.headers.contains_key("link"), "{response:?}");
    assert_eq!(body, "final");
}

/// The gateway asked for no upgrade and cannot relay one: a 101 is bad HTTP from the
/// backend, not a response to pass on.
#[tokio::test]
async fn a_101_switching_protocols_is_refused_with_502() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            )
            .await;
            conn.hold().await;
        }
    })
    .await;
    refused(&backend(), &server.url("/"), "switched protocols (101)").await;
}

// --- Ambiguous framing is refused (request smuggling) ----------------------------------

/// With both, a proxy and the next hop may disagree on where the response ends: RFC
/// 9112 §6.3 says such a message "ought to be handled as an error" (response splitting).
#[tokio::test]
async fn content_length_together_with_transfer_encoding_is_refused_with_502() {
    let server = Scripted::always(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    refused(
        &backend(),
        &server.url("/"),
        "both Content-Length and Transfer-Encoding",
    )
    .await;
}

#[tokio::test]
async fn two_different_content_lengths_are_refused_with_502() {
    let server = Scripted::always(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    )
    .await;
    refused(&backend(), &server.url("/"), r#""5, 6""#).await;
}

/// Repeated identical lengths are unambiguous (RFC 9110 §8.6 lets a recipient accept them).
#[tokio::test]
async fn two_identical_content_lengths_are_read_as_one() {
    let server =
        Scripted::always(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
            .await;
    let client = backend();
    let (response, body) = fetch(&client, &server.url("/")).await;
    assert_eq!(response.status, 200);
    assert_eq!(body, "hello");
}

/// A transfer coding certgate cannot decode leaves it no way to pass the body on as it
/// is framed: anything but `chunked` alone is refused.
#[tokio::test]
async fn a_transfer_encoding_other_than_chunked_alone_is_refused_with_502() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot really gzip")
                .await;
            conn.close().await;
        }
    })
    .await;
    refused(&backend(), &server.url("/"), r#""gzip""#).await;
}

#[tokio::test]
async fn a_content_length_that_is_not_a_number_is_refused_with_502() {
    let server = Scripted::always(b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello").await;
    refused(&backend(), &server.url("/"), r#""five""#).await;
}

// --- Limits on what the backend may send ----------------------------------------------

/// `Scripted` whose response carries one header `x-big` of `len` bytes.
async fn with_header_of(len: usize) -> Scripted {
    let big = "b".repeat(len);
    Scripted::answering(move |_| {
        format!("HTTP/1.1 200 OK\r\nx-big: {big}\r\nContent-Length: 2\r\n\r\nok").into_bytes()
    })
    .await
}

/// The head is buffered whole before it is parsed: its size must be bounded (64 KiB).
/// The backend keeps the connection open, so a client without a bound would wait.
#[tokio::test]
async fn a_response_head_over_64_kib_is_refused_with_502() {
    let server = with_header_of(70_000).await;
    refused(&backend(), &server.url("/"), "larger than 65536 bytes").await;
}

/// The bound is not so tight that large real-world heads (big cookies, CSP) fail.
#[tokio::test]
async fn a_response_head_of_60_kb_is_accepted() {
    let server = with_header_of(60_000).await;
    let (response, body) = fetch(&backend(), &server.url("/")).await;
    assert_eq!(response.headers["x-big"].len(), 60_000);
    assert_eq!(body, "ok");
}

/// A backend that streams header lines without end is cut off at the bound, not read
/// until memory runs out or waited on forever.
#[tokio::test]
async fn a_response_head_that_never_ends_is_refused_with_502() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(b"HTTP/1.1 200 OK\r\n").await;
            let line = format!("x-more: {}\r\n", "m".repeat(1000));
            // 1 MiB of header lines, then silence: a bounded client has given up by then.
            for _ in 0..1000 {
                conn.send(line.as_bytes()).await;
            }
            conn.hold().await;
        }
    })
    .await;
    refused(&backend(), &server.url("/"), "larger than 65536 bytes").await;
}

/// `Scripted` whose response has `count` header lines in all (Content-Length included).
async fn with_headers(count: usize) -> Scripted {
    let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
    for n in 1..count {
        head.push_str(&format!("x-h{n}: {n}\r\n"));
    }
    head.push_str("\r\nok");
    Scripted::answering(move |_| head.clone().into_bytes()).await
}

/// At most 100 header lines (hyper's default too): many tiny headers cost far more to
/// index than their bytes suggest.
#[tokio::test]
async fn more_than_100_response_headers_are_refused_with_502() {
    let server = with_headers(101).await;
    refused(&backend(), &server.url("/"), "more than 100 headers").await;
}

#[tokio::test]
async fn exactly_100_response_headers_are_accepted() {
    let server = with_headers(100).await;
    let (response, body) = fetch(&backend(), &server.url("/")).await;
    assert_eq!(response.headers["x-h99"], "99");
    assert_eq!(body, "ok");
}

/// `Scripted` answering a chunked 200 whose body is `body` as sent, after which the
/// connection stays open and silent.
async fn chunked_then_silent(body: impl Into<Bytes>) -> Scripted {
    let body: Bytes = body.into();
    Scripted::start(move |mut conn| {
        let body = body.clone();
        async move {
            if conn.request().await.is_some() {
                conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                conn.send(&body).await;
                conn.hold().await;
            }
        }
    })
    .await
}

/// The head is good, so the response starts; the body then breaks off with an error,
/// neither read as a success nor waited on.
async fn body_fails(server: &Scripted) {
    let response = forward(&backend(), get(&server.url("/"))).await.unwrap();
    assert_eq!(response.status, 200);
    collect(response).await.unwrap_err();
}

/// 40 hex digits overflow any integer: no chunk of that size is allocated or awaited.
#[tokio::test]
async fn a_chunk_size_of_40_hex_digits_breaks_the_body() {
    let size = "f".repeat(40);
    let server = chunked_then_silent(format!("{size}\r\nhello\r\n0\r\n\r\n")).await;
    body_fails(&server).await;
}

/// A chunk-size line of 10,000 digits is refused, whether the client bounds the digits
/// or the line, instead of being read into memory to its end.
#[tokio::test]
async fn a_chunk_size_line_of_10000_hex_digits_breaks_the_body() {
    let size = format!("1{}", "0".repeat(9_999));
    let server = chunked_then_silent(format!("{size}\r\nhello\r\n0\r\n\r\n")).await;
    body_fails(&server).await;
}

#[tokio::test]
async fn a_chunk_size_that_is_not_hex_breaks_the_body() {
    let server = chunked_then_silent(&b"zz\r\nhello\r\n0\r\n\r\n"[..]).await;
    body_fails(&server).await;
}

// --- When a connection is kept --------------------------------------------------------

/// `Connection: close` means the backend closes after this response; a request sent on
/// that connection would be lost. (The backend here keeps it open, to see if it is reused.)
#[tokio::test]
async fn a_response_with_connection_close_is_read_whole_and_its_connection_not_reused() {
    let response = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(connections_for_two_gets(response, "hello").await, 2);
}

/// An HTTP/1.0 response ends its connection: certgate does not keep HTTP/1.0 connections,
/// `keep-alive` or not (nothing is lost but a connection).
#[tokio::test]
async fn an_http_1_0_response_is_read_whole_and_its_connection_not_reused() {
    let response = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(connections_for_two_gets(response, "hello").await, 2);
}

/// A body cut short is an error, so a truncated file is never passed on as complete.
#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_an_error_not_a_short_success() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfour")
                .await;
            conn.close().await;
        }
    })
    .await;
    let client = backend();
    let response = forward(&client, get(&server.url("/"))).await.unwrap();
    assert_eq!(response.status, 200);
    collect(response).await.unwrap_err();
    // Read whole, the same break is the backend's failure.
    let whole = ForwardOptions {
        collect_response: true,
        ..ForwardOptions::default()
    };
    let error = within("forward", client.forward(get(&server.url("/")), whole))
        .await
        .unwrap_err();
    assert!(matches!(error, ProxyError::Protocol { .. }), "{error:?}");
    assert_eq!(error.status(), 502);
}

/// A backend closes idle connections when it likes (here right after answering): the
/// next request must not fail on the dead one.
#[tokio::test]
async fn a_pooled_connection_the_backend_closed_is_replaced_by_a_new_one() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(OK).await;
            conn.close().await;
        }
    })
    .await;
    let client = backend();
    for _ in 0..2 {
        let (response, body) = fetch(&client, &server.url("/")).await;
        assert_eq!(response.status, 200);
        assert_eq!(body, "ok");
    }
    assert_eq!(server.accepted(), 2);
}

/// A backend that answers the first request on its first connection, then reads the
/// second and closes without a byte of response (its idle timeout fired as the request
/// arrived); every later connection answers every request.
async fn closing_on_the_second_request() -> Scripted {
    Scripted::start(|mut conn| async move {
        if conn.index == 0 {
            if conn.request().await.is_some() {
                conn.send(OK).await;
            }
            if conn.request().await.is_some() {
                conn.close().await;
            }
            return;
        }
        while conn.request().await.is_some() {
            conn.send(OK).await;
        }
    })
    .await
}

/// The backend may have acted on a POST before the connection died: sending it again
/// could do it twice, so the failure is reported instead (nginx does not retry
/// non-idempotent requests either).
#[tokio::test]
async fn a_post_lost_on_a_reused_connection_is_not_sent_again() {
    let server = closing_on_the_second_request().await;
    let client = backend();
    let url = server.url("/");
    let (_, body) = fetch(&client, &url).await;
    assert_eq!(body, "ok");
    let post = request("POST", &url, Payload::from(b"pay once".to_vec()));
    let error = forward(&client, post).await.unwrap_err();
    assert!(matches!(error, ProxyError::Protocol { .. }), "{error:?}");
    assert_eq!(error.status(), 502);
    assert_eq!(server.received_with("POST"), 1);
    assert_eq!(server.received()[1].body, b"pay once");
}

/// A GET is idempotent, and a reused connection that dies before a byte of response
/// is most likely one the backend closed as idle: one more try on a new connection.
#[tokio::test]
async fn a_get_lost_on_a_reused_connection_is_sent_once_more_on_a_new_one() {
    let server = closing_on_the_second_request().await;
    let client = backend();
    let url = server.url("/");
    for _ in 0..2 {
        let (response, body) = fetch(&client, &url).await;
        assert_eq!(response.status, 200);
        assert_eq!(body, "ok");
    }
    assert_eq!(server.accepted(), 2);
    assert_eq!(server.received_with("GET"), 3);
}

// --- How requests are framed ----------------------------------------------------------

/// A body of unknown length can only be sent chunked in HTTP/1.1; an empty piece of it
/// must not end it early (a zero-size chunk is the last one).
#[tokio::test]
async fn a_streamed_request_body_of_unknown_length_is_sent_chunked() {
    let server = Scripted::always(OK).await;
    let pieces: Vec<Vec<u8>> = vec![
        b"first ".to_vec(),
        Vec::new(),
        binary(70_000),
        b"0\r\n\r\n".to_vec(),
        b"last".to_vec(),
    ];
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
    let sent = pieces.concat();
    tokio::spawn(async move {
        for piece in pieces {
            if tx.send_data(piece.into()).await.is_err() {
                return;
            }
        }
    });
    let response = forward(
        &backend(),
        request("PUT", &server.url("/"), Payload::streamed(body)),
    )
    .await
    .unwrap();
    assert_eq!(collect(response).await.unwrap(), "ok");
    let received = &server.received()[0];
    assert_eq!(received.headers("transfer-encoding"), ["chunked"]);
    assert!(
        received.headers("content-length").is_empty(),
        "{received:?}"
    );
    assert!(
        received.body == sent,
        "the chunked body decoded differently"
    );
}

/// A body whose length is known is sent with it, so the backend need not parse chunks.
#[tokio::test]
async fn a_whole_request_body_is_sent_with_its_content_length() {
    let server = Scripted::always(OK).await;
    let body = binary(10_000);
    let post = request("POST", &server.url("/"), Payload::from(body.clone()));
    let response = forward(&backend(), post).await.unwrap();
    assert_eq!(collect(response).await.unwrap(), "ok");
    let received = &server.received()[0];
    assert_eq!(received.headers("content-length"), ["10000"]);
    assert!(
        received.headers("transfer-encoding").is_empty(),
        "{received:?}"
    );
    assert!(received.body == body);
}

/// A GET without a body says nothing of one: some servers refuse a GET with
/// `Content-Length` or `Transfer-Encoding`.
#[tokio::test]
async fn a_get_without_a_body_carries_no_framing_headers() {
    let server = Scripted::always(OK).await;
    let (_, body) = fetch(&backend(), &server.url("/")).await;
    assert_eq!(body, "ok");
    let received = &server.received()[0];
    assert!(
        received.headers("content-length").is_empty(),
        "{received:?}"
    );
    assert!(
        received.headers("transfer-encoding").is_empty(),
        "{received:?}"
    );
    assert!(received.body.is_empty());
}

/// An origin server expects the origin-form target and `Host` with the port; the
/// request's own headers go along.
#[tokio::test]
async fn the_request_head_has_the_origin_form_target_host_and_the_request_headers() {
    let server = Scripted::always(OK).await;
    let (_, body) = fetch(&backend(), &server.url("/path?q=1")).await;
    assert_eq!(body, "ok");
    let received = &server.received()[0];
    assert!(
        received.head.starts_with("GET /path?q=1 HTTP/1.1\r\n"),
        "{}",
        received.head
    );
    assert_eq!(received.headers("host"), [server.addr.to_string()]);
    assert_eq!(received.headers("x-client"), ["yes"]);
}

// --- Large bodies ---------------------------------------------------------------------

/// 8 MiB arrive in many reads of odd sizes; every byte must land once, in order.
#[tokio::test]
async fn an_8_mib_content_length_body_arrives_byte_exact() {
    let data = Arc::new(binary(8 * 1024 * 1024));
    let server = Scripted::streaming(length_head(data.len()), Arc::clone(&data), 65_521).await;
    let (response, body) = fetch(&backend(), &server.url("/")).await;
    assert_eq!(response.status, 200);
    assert_eq!(body.len(), data.len());
    assert!(body == data[..], "the body came back changed");
}

/// Chunks of varying sizes, written in pieces that split size lines and data
/// anywhere: the decoder must carry its state across reads.
#[tokio::test]
async fn an_8_mib_chunked_body_arrives_byte_exact() {
    let data = binary(8 * 1024 * 1024);
    let encoded = Arc::new(chunked(&data, &[1, 4093, 65_536, 100_000, 17, 8192]));
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let server = Scripted::streaming(head, encoded, 4099).await;
    let (response, body) = fetch(&backend(), &server.url("/")).await;
    assert_eq!(response.status, 200);
    assert_eq!(body.len(), data.len());
    assert!(body == data[..], "the body came back changed");
}

/// A backend named by its host name is reached through name resolution, each address
/// tried in turn (`localhost` may resolve to `::1` first, where nothing listens here),
/// and the connection is kept under that name.
#[tokio::test]
async fn a_backend_named_by_host_name_is_reached_and_its_connection_kept() {
    let server = Scripted::always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let url = server.url("/named").replace("127.0.0.1", "localhost");
    let client = backend();
    for _ in 0..2 {
        let (response, body) = fetch(&client, &url).await;
        assert_eq!((response.status.as_u16(), body.as_ref()), (200, &b"ok"[..]));
    }
    assert_eq!(server.accepted(), 1);
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/named");
    assert_eq!(
        server.received()[0].headers("host"),
        [format!("localhost:{port}")]
    );
}

// --- What the review of the client asked for -------------------------------------------

/// hyper's server stops polling a body once it has the bytes `size_hint` promised: the
/// connection must be free by then, not only after a poll that sees the end.
#[tokio::test]
async fn a_streamed_body_read_until_it_says_it_ended_leaves_its_connection_for_the_next() {
    let body = Arc::new(binary(100_000));
    let server = Scripted::streaming(length_head(body.len()), Arc::clone(&body), 4099).await;
    let client = backend();
    for _ in 0..2 {
        let mut response = forward(&client, get(&server.url("/"))).await.unwrap();
        let mut read = Vec::new();
        while !response.body.is_end_stream() {
            let frame = within("a frame", response.body.frame())
                .await
                .unwrap()
                .unwrap();
            read.extend_from_slice(&frame.into_data().unwrap());
        }
        assert!(read == body[..], "{} bytes read", read.len());
    }
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn a_url_with_a_query_and_no_path_asks_for_the_root() {
    let server = Scripted::always(OK).await;
    let url = server.url("?x=1");
    let (_, body) = fetch(&backend(), &url).await;
    assert_eq!(body, "ok");
    assert!(
        server.received()[0]
            .head
            .starts_with("GET /?x=1 HTTP/1.1\r\n"),
        "{}",
        server.received()[0].head
    );
}

/// Bytes past the end of a response are not the start of the next one: the connection
/// they came on is not kept.
#[tokio::test]
async fn bytes_after_a_response_end_keep_its_connection_from_reuse() {
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 418 Smuggled\r\n\r\n";
    assert_eq!(connections_for_two_gets(response, "ok").await, 2);
}

/// A body the caller stops reading (its client went away) closes its connection; the
/// next request gets a connection of its own and its own answer.
#[tokio::test]
async fn a_body_dropped_half_read_closes_its_connection() {
    let big = Arc::new(binary(200_000));
    let server = Scripted::streaming(length_head(big.len()), Arc::clone(&big), 4099).await;
    let client = backend();
    let mut response = forward(&client, get(&server.url("/"))).await.unwrap();
    let first = within("a frame", response.body.frame())
        .await
        .unwrap()
        .unwrap();
    assert!(!first.into_data().unwrap().is_empty());
    drop(response);
    let (_, body) = fetch(&client, &server.url("/")).await;
    assert!(body == big[..], "{} bytes read", body.len());
    assert_eq!(server.accepted(), 2);
}

/// Once a byte of the answer has come, the backend has acted on the request: no retry,
/// even for a GET on a reused connection.
#[tokio::test]
async fn a_response_broken_off_after_its_first_byte_is_not_retried() {
    let server = Scripted::start(|mut conn| async move {
        if conn.request().await.is_some() {
            conn.send(OK).await;
        }
        if conn.request().await.is_some() {
            conn.send(b"HTTP/1.1 2").await;
            conn.close().await;
        }
    })
    .await;
    let client = backend();
    let (_, body) = fetch(&client, &server.url("/")).await;
    assert_eq!(body, "ok");
    let error = forward(&client, get(&server.url("/"))).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("in the middle of the response head"),
        "{error}"
    );
    assert_eq!(error.status(), 502);
    assert_eq!(server.received_with("GET"), 2);
    assert_eq!(server.accepted(), 1);
}

/// A request body larger than certgate's own client writes with its head goes through
/// hyper's, which hears a backend that answers before reading it all.
#[tokio::test]
async fn a_backend_that_refuses_a_large_body_early_is_heard() {
    let server = Scripted::start(|mut conn| async move {
        // The head only, then the answer, the body left unread.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            if conn.io.read_exact(&mut byte).await.is_err() {
                return;
            }
            head.push(byte[0]);
        }
        conn.send(b"HTTP/1.1 413 Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        conn.hold().await;
    })
    .await;
    let post = request(
        "POST",
        &server.url("/upload"),
        Payload::from(binary(4 * 1024 * 1024)),
    );
    let response = forward(&backend(), post).await.unwrap();
    assert_eq!(response.status, 413);
}
