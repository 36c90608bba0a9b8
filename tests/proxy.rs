//! `forward-request` against a real backend on loopback.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use certgate::body::Payload;
use certgate::proxy::{Backend, BackendResponse, ForwardOptions, HttpVersion, ProxyError};
use common::backend::{EchoBackend, HoldingBackend, closed_port, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn backend() -> Backend {
    Backend::new(&[], None, 16 * 1024 * 1024).unwrap()
}

fn request(method: &str, url: &str, body: impl Into<Payload>) -> http::Request<Payload> {
    http::Request::builder()
        .method(method)
        .uri(url)
        .header("x-client", "yes")
        .body(body.into())
        .unwrap()
}

/// `GET url`, no body.
fn get(url: &str) -> http::Request<Payload> {
    request("GET", url, Payload::empty())
}

/// Options that follow the backend's redirects.
fn following() -> ForwardOptions {
    ForwardOptions {
        follow_redirects: true,
        ..ForwardOptions::default()
    }
}

async fn body(response: BackendResponse) -> Vec<u8> {
    response.body.collect(usize::MAX).await.unwrap().to_vec()
}

/// Bytes that are not valid UTF-8 anywhere, so text handling would corrupt them.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 0x80) as u8).collect()
}

#[tokio::test]
async fn bodies_of_every_size_arrive_and_return_byte_exact() {
    let echo = EchoBackend::start().await;
    let client = backend();
    for len in [0, 64 * 1024, 5 * 1024 * 1024] {
        let body = binary(len);
        let url = format!("{}/echo", echo.url());
        let response = client
            .forward(
                request("POST", &url, body.clone()),
                ForwardOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.headers["x-echo-method"], "POST");
        assert_eq!(response.headers["x-echo-header-x-client"], "yes");
        let echoed = self::body(response).await;
        assert_eq!(echoed.len(), len);
        assert!(echoed == body, "body of {len} bytes came back changed");
    }
}

#[tokio::test]
async fn http2_is_used_when_asked_for() {
    let echo = EchoBackend::start().await;
    let options = ForwardOptions {
        http_version: HttpVersion::Http2,
        ..ForwardOptions::default()
    };
    let url = format!("{}/echo", echo.url());
    let response = backend().forward(get(&url), options).await.unwrap();
    assert_eq!(response.headers["x-echo-version"], "HTTP/2.0");
    let response = backend()
        .forward(get(&url), ForwardOptions::default())
        .await
        .unwrap();
    assert_eq!(response.headers["x-echo-version"], "HTTP/1.1");
}

#[tokio::test]
async fn a_backend_that_is_down_is_a_connection_failure_with_502() {
    let url = format!("http://{}/", closed_port().await);
    let error = backend()
        .forward(get(&url), ForwardOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ProxyError::Connect { .. }), "{error:?}");
    assert_eq!(error.reason(), "BackendConnectionFailure");
    assert_eq!(error.status(), 502);
    assert!(error.to_string().contains("refused"), "{error}");
}

#[tokio::test]
async fn a_slow_backend_times_out_with_504() {
    let echo = EchoBackend::start().await;
    let options = ForwardOptions {
        timeout: Duration::from_millis(200),
        ..ForwardOptions::default()
    };
    let url = format!("{}/slow", echo.url());
    let error = backend().forward(get(&url), options).await.unwrap_err();
    assert!(matches!(error, ProxyError::Timeout { .. }), "{error:?}");
    assert_eq!(error.reason(), "Timeout");
    assert_eq!(error.status(), 504);
}

#[tokio::test]
async fn redirects_are_returned_unless_follow_redirects_is_set() {
    let echo = EchoBackend::start().await;
    let url = format!("{}/redirect", echo.url());
    let response = backend()
        .forward(get(&url), ForwardOptions::default())
        .await
        .unwrap();
    assert_eq!(response.status, 302);
    let response = backend().forward(get(&url), following()).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-echo-uri"], "/echo?redirected=1");
}

#[tokio::test]
async fn a_response_read_whole_is_bounded_and_a_streamed_one_is_not() {
    let echo = EchoBackend::start().await;
    let small = Backend::new(&[], None, 1024).unwrap();
    let url = format!("{}/echo", echo.url());
    let whole = ForwardOptions {
        collect_response: true,
        ..ForwardOptions::default()
    };
    let error = small
        .forward(request("POST", &url, binary(4096)), whole)
        .await
        .unwrap_err();
    assert_eq!(error, ProxyError::ResponseTooLarge { limit: 1024 });
    let response = small
        .forward(request("POST", &url, binary(1024)), whole)
        .await
        .unwrap();
    assert_eq!(response.body.as_whole().map(|b| b.len()), Some(1024));
    let streamed = small
        .forward(
            request("POST", &url, binary(4096)),
            ForwardOptions::default(),
        )
        .await
        .unwrap();
    // Past the limit all the same: it is not buffered for the caller, however it arrives.
    assert!(body(streamed).await == binary(4096));
}

/// A request body that arrives in pieces, as from a client still uploading.
fn streamed(chunks: Vec<Vec<u8>>) -> Payload {
    let (mut tx, body) = http_body_util::channel::Channel::<bytes::Bytes, Infallible>::new(1);
    tokio::spawn(async move {
        for chunk in chunks {
            if tx.send_data(chunk.into()).await.is_err() {
                return;
            }
        }
    });
    Payload::streamed(body)
}

#[tokio::test]
async fn a_streamed_request_body_arrives_byte_exact_and_is_replayed_on_307() {
    let echo = EchoBackend::start().await;
    let chunks: Vec<Vec<u8>> = (0..8).map(|i| binary(100_000 + i)).collect();
    let whole: Vec<u8> = chunks.concat();
    let url = format!("{}/echo", echo.url());
    let response = backend()
        .forward(
            request("PUT", &url, streamed(chunks.clone())),
            ForwardOptions::default(),
        )
        .await
        .unwrap();
    assert!(body(response).await == whole);
    let url = format!("{}/redirect307", echo.url());
    let response = backend()
        .forward(request("PUT", &url, streamed(chunks)), following())
        .await
        .unwrap();
    assert_eq!(response.headers["x-echo-uri"], "/echo?redirected=1");
    assert_eq!(response.headers["x-echo-method"], "PUT");
    assert!(body(response).await == whole, "the replayed body changed");
}

#[tokio::test]
async fn following_redirects_bounds_the_request_body_it_keeps_for_replay() {
    let echo = EchoBackend::start().await;
    let small = Backend::new(&[], None, 1024).unwrap();
    let url = format!("{}/redirect307", echo.url());
    let error = small
        .forward(
            request("PUT", &url, streamed(vec![binary(1025)])),
            following(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ProxyError::RequestBody(_)), "{error:?}");
    assert_eq!(error.status(), 413);
}

/// Reads `response`'s body to its end, as a front end does before the next request.
async fn read_to_end(response: BackendResponse) -> usize {
    body(response).await.len()
}

/// `request` forwarded with the default options, which must get an answer.
async fn answer(client: &Backend, request: http::Request<Payload>) -> BackendResponse {
    client
        .forward(request, ForwardOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn requests_one_after_another_share_one_kept_alive_connection() {
    let backend_server = HoldingBackend::start().await;
    let client = backend();
    let url = format!("{}/echo?n=1", backend_server.url());
    for _ in 0..5 {
        let response = answer(&client, request("POST", &url, "hello")).await;
        // Sent as an origin server expects it: origin-form target, Host with the port.
        assert_eq!(response.headers["x-echo-uri"], "/echo?n=1");
        assert_eq!(
            response.headers["x-echo-header-host"],
            backend_server.addr.to_string()
        );
        assert_eq!(read_to_end(response).await, 5);
    }
    // A body that is empty gives its connection back even when nobody reads it.
    let response = answer(&client, get(&url)).await;
    drop(response);
    let response = answer(&client, get(&url)).await;
    assert_eq!(read_to_end(response).await, 0);
    assert_eq!(backend_server.accepted(), 1);
}

#[tokio::test]
async fn a_response_left_unread_closes_its_connection_and_is_not_reused() {
    let backend_server = HoldingBackend::start().await;
    let client = backend();
    let drip = format!("{}/drip", backend_server.url());
    let response = answer(&client, get(&drip)).await;
    assert_eq!(response.status, 200);
    drop(response);
    assert!(eventually(|| backend_server.open() == 0).await);
    let url = format!("{}/echo", backend_server.url());
    let response = answer(&client, request("POST", &url, "again")).await;
    assert_eq!(read_to_end(response).await, 5);
    assert_eq!(backend_server.accepted(), 2);
}

#[tokio::test]
async fn concurrent_requests_get_connections_of_their_own_and_leave_them_for_later_ones() {
    let backend_server = HoldingBackend::start().await;
    let client = backend();
    let url = format!("{}/echo", backend_server.url());
    let calls = (0..8).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let body = format!("request {i}");
            let response = answer(&client, request("POST", &url, body.clone().into_bytes())).await;
            assert_eq!(self::body(response).await, body.as_bytes());
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    let opened = backend_server.accepted();
    assert!(
        (1..=8).contains(&opened),
        "{opened} connections for 8 requests"
    );
    for _ in 0..8 {
        let response = answer(&client, get(&url)).await;
        assert_eq!(response.status, 200);
        read_to_end(response).await;
    }
    assert_eq!(
        backend_server.accepted(),
        opened,
        "idle connections were not reused"
    );
}

/// A backend that answers every request with `ok` and then closes the connection without
/// saying so (no `Connection: close`), as a server whose idle timeout ran out does.
async fn closing_backend() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn a_connection_the_backend_closed_while_idle_is_replaced_by_a_new_one() {
    let (addr, accepted) = closing_backend().await;
    let client = backend();
    let url = format!("http://{addr}/");
    for n in 1..=5 {
        let response = client
            .forward(get(&url), ForwardOptions::default())
            .await
            .unwrap_or_else(|e| panic!("request {n}: {e}"));
        assert_eq!(body(response).await, b"ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 5);
}
