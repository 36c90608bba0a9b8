//! HTTP/1.1 on the local TLS listener, byte by byte over real TLS: a bodiless `GET` is
//! answered by the listener's own loop, which must write what hyper writes (and stream,
//! cancel and shut down as hyper's server does), and every other request (a body,
//! HTTP/1.0, `Connection`, a malformed head) goes to hyper on the same connection, in
//! order, with nothing read twice or lost.

#[allow(dead_code, unreachable_pub)]
#[path = "common/backend.rs"]
mod backend;
#[path = "common/tls_client.rs"]
mod tls_client;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use certgate::body::Payload;
use certgate::frontend::tls::Limits;
use certgate::gateway::{GatewayRequest, GatewayResponse};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{Full, StreamBody};
use tls_client::{Gateway, Offer, open, raw};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Answers by path, never echoing request headers, so that the same request reads the
/// same whichever server took it: `x-path` and `x-body-bytes` say what arrived.
async fn by_path(request: GatewayRequest) -> GatewayResponse {
    let path = request.parts.uri.path().to_owned();
    let body = request.body.collect(usize::MAX).await.unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert("x-path", HeaderValue::from_str(&path).unwrap());
    headers.insert("x-body-bytes", HeaderValue::from(body.len()));
    let (status, reason, payload) = match path.as_str() {
        "/whole" => (StatusCode::OK, None, Payload::from("whole body")),
        "/echo" => (StatusCode::OK, None, Payload::from(body)),
        // Streamed, its length unknown: chunked.
        "/chunks" => {
            let chunks = ["first ", "", "second ", "third"]
                .map(|chunk| Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from(chunk))));
            let stream = futures_util::stream::iter(chunks);
            (
                StatusCode::OK,
                None,
                Payload::streamed(StreamBody::new(stream)),
            )
        }
        // Streamed, its length known: Content-Length.
        "/known" => (
            StatusCode::OK,
            None,
            Payload::streamed(Full::new(Bytes::from(vec![b'k'; 40_000]))),
        ),
        "/large" => (StatusCode::OK, None, Payload::from(vec![b'l'; 100_000])),
        // Its head, then nothing: a long poll or an event stream.
        "/pending" => (StatusCode::OK, None, Payload::streamed(Pending(None))),
        // In flight long enough for a shutdown to begin under it.
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            (StatusCode::OK, None, Payload::from("slow"))
        }
        "/no-content" => (StatusCode::NO_CONTENT, None, Payload::from("dropped")),
        "/not-modified" => (StatusCode::NOT_MODIFIED, None, Payload::empty()),
        "/reason" => (
            StatusCode::FORBIDDEN,
            Some("Invalid client certificate".to_owned()),
            Payload::from("no"),
        ),
        "/bad-reason" => (
            StatusCode::FORBIDDEN,
            Some("two\r\nlines".to_owned()),
            Payload::from("no"),
        ),
        "/unnamed" => (StatusCode::from_u16(599).unwrap(), None, Payload::empty()),
        "/early-hints" => (
            StatusCode::from_u16(103).unwrap(),
            None,
            Payload::from("hints"),
        ),
        "/dated" => {
            headers.insert(
                "date",
                HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            );
            headers.insert("connection", HeaderValue::from_static("x-hop"));
            headers.insert("x-hop", HeaderValue::from_static("dropped"));
            headers.insert("content-length", HeaderValue::from_static("999"));
            (StatusCode::OK, None, Payload::from("dated"))
        }
        _ => (StatusCode::NOT_FOUND, None, Payload::from("unknown path")),
    };
    GatewayResponse {
        status,
        reason,
        headers,
        body: payload,
    }
}

/// A body with no frame ever; sets its flag when dropped.
struct Pending(Option<Arc<AtomicBool>>);

impl hyper::body::Body for Pending {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(dropped) = &self.0 {
            dropped.store(true, Ordering::SeqCst);
        }
    }
}

async fn gateway() -> Gateway {
    Gateway::serving(
        Limits {
            header_read_timeout: Duration::from_secs(5),
            ..Limits::default()
        },
        by_path,
    )
    .await
}

/// `GET path` as the listener's own loop serves it.
fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: request.test\r\nAccept: */*\r\n\r\n")
}

/// The same `GET` with a header that hands the connection to hyper without changing
/// the request's meaning.
fn get_via_hyper(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: request.test\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
    )
}

/// The last request of a connection: hyper answers it and closes.
const CLOSE: &str = "GET /whole HTTP/1.1\r\nHost: request.test\r\nConnection: close\r\n\r\n";

/// Everything the listener sent back for `requests`, sent in one write, the connection
/// read until the listener closed it.
async fn exchange(gateway: &Gateway, requests: &str) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        raw(
            gateway.addr,
            "request.test",
            Offer::Nothing,
            requests.as_bytes(),
        ),
    )
    .await
    .expect("the listener kept the connection open")
    .unwrap();
    String::from_utf8(out).unwrap()
}

/// The responses in `text`, split where each status line starts (no test body holds
/// one), without their `date` lines.
fn responses(text: &str) -> Vec<String> {
    text.split("HTTP/1.")
        .filter(|part| !part.is_empty())
        .map(|part| {
            format!("HTTP/1.{part}")
                .split_inclusive("\r\n")
                .filter(|line| !line.starts_with("date: "))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bodiless_get_is_written_as_hyper_writes_it() {
    let gateway = gateway().await;
    let paths = [
        "/whole",
        "/chunks",
        "/known",
        "/large",
        "/no-content",
        "/not-modified",
        "/reason",
        "/bad-reason",
        "/unnamed",
        "/dated",
        "/nowhere",
    ];
    for path in paths {
        // The first request is the listener's loop's, the second hyper's.
        let text = exchange(
            &gateway,
            &format!("{}{}{CLOSE}", get(path), get_via_hyper(path)),
        )
        .await;
        let answers = responses(&text);
        assert_eq!(answers.len(), 3, "{path}: {text}");
        assert_eq!(answers[0], answers[1], "{path}: ours, then hyper's");
        assert!(
            answers[0].contains(&format!("x-path: {path}\r\n")),
            "{path}: {}",
            answers[0]
        );
    }
    // A 1xx cannot be the answer: 500, and the connection closes, as hyper does it.
    for request in [get("/early-hints"), get_via_hyper("/early-hints")] {
        let text = exchange(&gateway, &format!("{request}{CLOSE}")).await;
        assert_eq!(
            responses(&text),
            ["HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"],
            "{text}"
        );
    }
    // What the comparison rests on, spelled out for a few.
    let whole = exchange(&gateway, &format!("{}{CLOSE}", get("/whole"))).await;
    assert!(whole.starts_with("HTTP/1.1 200 OK\r\n"), "{whole}");
    assert!(whole.contains("content-length: 10\r\ndate: "), "{whole}");
    assert!(
        whole.contains(" GMT\r\n\r\nwhole bodyHTTP/1.1 200 OK"),
        "{whole}"
    );
    let chunks = exchange(&gateway, &format!("{}{CLOSE}", get("/chunks"))).await;
    assert!(
        chunks.contains("transfer-encoding: chunked\r\n")
            && chunks.contains("\r\n\r\n6\r\nfirst \r\n7\r\nsecond \r\n5\r\nthird\r\n0\r\n\r\n"),
        "{chunks}"
    );
    let empty = exchange(&gateway, &format!("{}{CLOSE}", get("/no-content"))).await;
    let first = &responses(&empty)[0];
    assert!(first.starts_with("HTTP/1.1 204 No Content\r\n"), "{first}");
    assert!(
        !first.contains("content-length") && first.ends_with("\r\n\r\n"),
        "{first}"
    );
    let dated = exchange(&gateway, &format!("{}{CLOSE}", get("/dated"))).await;
    let first = &responses(&dated)[0];
    assert!(
        first.contains("content-length: 5\r\n") && !first.contains("999"),
        "{first}"
    );
    assert!(
        !first.contains("x-hop") && !first.contains("connection"),
        "{first}"
    );
    assert!(
        dated.contains("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
        "{dated}"
    );
    let reason = exchange(&gateway, &format!("{}{CLOSE}", get("/reason"))).await;
    assert!(
        reason.starts_with("HTTP/1.1 403 Invalid client certificate\r\n"),
        "{reason}"
    );
    let bad = exchange(&gateway, &format!("{}{CLOSE}", get("/bad-reason"))).await;
    assert!(bad.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_bodies_and_the_rest_go_to_hyper_in_order_on_the_same_connection() {
    let gateway = gateway().await;
    let post = "POST /echo HTTP/1.1\r\nHost: request.test\r\nContent-Length: 5\r\n\r\nhello";
    let chunked = "POST /echo HTTP/1.1\r\nHost: request.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let head = "HEAD /whole HTTP/1.1\r\nHost: request.test\r\n\r\n";
    let text = exchange(
        &gateway,
        &format!(
            "{}{}{post}{}{chunked}{head}{}{CLOSE}",
            get("/whole"),
            get("/chunks"),
            get("/known"),
            get("/no-content")
        ),
    )
    .await;
    let answers = responses(&text);
    let paths: Vec<&str> = answers
        .iter()
        .map(|answer| {
            let at = answer.find("x-path: ").expect("x-path") + 8;
            &answer[at..at + answer[at..].find("\r\n").unwrap()]
        })
        .collect();
    assert_eq!(
        paths,
        [
            "/whole",
            "/chunks",
            "/echo",
            "/known",
            "/echo",
            "/whole",
            "/no-content",
            "/whole"
        ],
        "{text}"
    );
    assert!(answers[2].contains("x-body-bytes: 5\r\n") && answers[2].ends_with("hello"));
    assert!(answers[4].contains("x-body-bytes: 3\r\n") && answers[4].ends_with("abc"));
    // HEAD: hyper's, the length of what a GET would get, no body.
    assert!(answers[5].contains("content-length: 10\r\n") && answers[5].ends_with("\r\n\r\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_0_goes_to_hyper_and_a_head_in_pieces_is_read_whole() {
    let gateway = gateway().await;
    let old = exchange(
        &gateway,
        "GET /whole HTTP/1.0\r\nHost: request.test\r\n\r\n",
    )
    .await;
    assert!(
        old.starts_with("HTTP/1.0 200 OK\r\n") && old.ends_with("whole body"),
        "{old}"
    );

    // A head of 20 KiB, more than one read takes: read whole and answered.
    let large = format!(
        "GET /whole HTTP/1.1\r\nHost: request.test\r\nX-Large: {}\r\n\r\n{CLOSE}",
        "a".repeat(20 * 1024)
    );
    let text = exchange(&gateway, &large).await;
    assert_eq!(responses(&text).len(), 2, "{text}");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");

    // A head that is not whole after a read: the rest is read and the request answered.
    let mut stream = open(gateway.addr, "request.test", Offer::Nothing, b"http/1.1")
        .await
        .unwrap();
    stream
        .write_all(b"GET /whole HTTP/1.1\r\nHost: requ")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream
        .write_all(format!("est.test\r\n\r\n{CLOSE}").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the listener kept the connection open")
        .ok();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(responses(&text).len(), 2, "{text}");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_head_gets_hyper_s_400() {
    let gateway = gateway().await;
    let text = exchange(&gateway, "GET /whole HTTP/1.1\r\nHost request.test\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert_eq!(gateway.calls(), 0);
}

/// Reads from `stream` until `text` has come, within 10 s.
async fn read_until<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, text: &str) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let reading = async {
        while !String::from_utf8_lossy(&out).contains(text) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reading)
        .await
        .unwrap_or_else(|_| panic!("{text:?} did not come: {}", String::from_utf8_lossy(&out)));
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_s_head_goes_out_before_its_body_and_a_client_that_leaves_drops_it() {
    let dropped = Arc::new(AtomicBool::new(false));
    let handler = {
        let dropped = dropped.clone();
        move |request: GatewayRequest| {
            let dropped = dropped.clone();
            async move {
                let mut response = by_path(request).await;
                response.body = Payload::streamed(Pending(Some(dropped)));
                response
            }
        }
    };
    let gateway = Gateway::serving(Limits::default(), handler).await;
    let mut stream = open(gateway.addr, "request.test", Offer::Nothing, b"http/1.1")
        .await
        .unwrap();
    stream.write_all(get("/pending").as_bytes()).await.unwrap();
    let head = read_until(&mut stream, "\r\n\r\n").await;
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("transfer-encoding: chunked\r\n"),
        "{head}"
    );
    assert!(
        !dropped.load(Ordering::SeqCst),
        "the body went before the client did"
    );
    drop(stream);
    assert!(
        backend::eventually(|| dropped.load(Ordering::SeqCst)).await,
        "the body of a client gone was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_in_flight_at_shutdown_says_the_connection_closes() {
    let mut gateway = gateway().await;
    let mut stream = open(gateway.addr, "request.test", Offer::Nothing, b"http/1.1")
        .await
        .unwrap();
    stream.write_all(get("/slow").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let serving = gateway.shutdown();
    let answer = read_until(&mut stream, "slow").await;
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("serve did not return after shutdown")
        .unwrap()
        .unwrap();
}
