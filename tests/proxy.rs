//! `forward-request` against a real backend on loopback.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use certgate::body::Payload;
use certgate::proxy::{Backend, BackendResponse, ForwardOptions, HttpVersion, ProxyError};
use common::backend::{EchoBackend, closed_port};

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
    assert!(streamed.body.as_whole().is_none());
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
