//! A real HTTP backend on loopback for integration tests.
//!
//! `/slow` waits 10 s before answering; `/redirect` answers 302 and `/redirect307` 307 to
//! `/echo?redirected=1`; `/redirect-away/<port>` 302 to `http://127.0.0.1:<port>/echo`; `/stream` answers at once and streams the request body back as
//! it arrives; anything else echoes: status 200, the request body back byte for byte
//! once it has all arrived, and what it received in `x-echo-method`, `x-echo-uri` and
//! `x-echo-header-<name>` headers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use certgate::body::Payload;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// A running echo backend; stops when the test's runtime ends.
pub struct EchoBackend {
    pub addr: SocketAddr,
}

impl EchoBackend {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                });
            }
        });
        Self { addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
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
