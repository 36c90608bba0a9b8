//! `forward-request` against a real backend on loopback.

mod common;

use std::time::Duration;

use bytes::Bytes;
use certgate::proxy::{Backend, ForwardOptions, HttpVersion, ProxyError};
use common::backend::{EchoBackend, closed_port};

fn backend() -> Backend {
    Backend::new(&[], None, 16 * 1024 * 1024).unwrap()
}

fn request(method: &str, url: &str, body: Vec<u8>) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(url)
        .header("x-client", "yes")
        .body(Bytes::from(body))
        .unwrap()
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
        assert_eq!(response.body.len(), len);
        assert!(
            response.body == body,
            "body of {len} bytes came back changed"
        );
        assert_eq!(response.headers["x-echo-method"], "POST");
        assert_eq!(response.headers["x-echo-header-x-client"], "yes");
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
    let response = backend()
        .forward(request("GET", &url, vec![]), options)
        .await
        .unwrap();
    assert_eq!(response.headers["x-echo-version"], "HTTP/2.0");
    let response = backend()
        .forward(request("GET", &url, vec![]), ForwardOptions::default())
        .await
        .unwrap();
    assert_eq!(response.headers["x-echo-version"], "HTTP/1.1");
}

#[tokio::test]
async fn a_backend_that_is_down_is_a_connection_failure_with_502() {
    let url = format!("http://{}/", closed_port().await);
    let error = backend()
        .forward(request("GET", &url, vec![]), ForwardOptions::default())
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
    let error = backend()
        .forward(request("GET", &url, vec![]), options)
        .await
        .unwrap_err();
    assert!(matches!(error, ProxyError::Timeout { .. }), "{error:?}");
    assert_eq!(error.reason(), "Timeout");
    assert_eq!(error.status(), 504);
}

#[tokio::test]
async fn redirects_are_returned_unless_follow_redirects_is_set() {
    let echo = EchoBackend::start().await;
    let url = format!("{}/redirect", echo.url());
    let response = backend()
        .forward(request("GET", &url, vec![]), ForwardOptions::default())
        .await
        .unwrap();
    assert_eq!(response.status, 302);
    let follow = ForwardOptions {
        follow_redirects: true,
        ..ForwardOptions::default()
    };
    let response = backend()
        .forward(request("GET", &url, vec![]), follow)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-echo-uri"], "/echo?redirected=1");
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    let echo = EchoBackend::start().await;
    let small = Backend::new(&[], None, 1024).unwrap();
    let url = format!("{}/echo", echo.url());
    let error = small
        .forward(
            request("POST", &url, binary(4096)),
            ForwardOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error, ProxyError::ResponseTooLarge { limit: 1024 });
}
