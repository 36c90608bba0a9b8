//! The demo API's backend: an HTTP echo server on loopback, in-process.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Largest body the echo backend reads (the gateway forwards at most 16 MiB).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A running echo backend. It answers every request `200` with the request body back
/// byte for byte and what it received in `x-echo-method`, `x-echo-uri` and
/// `x-echo-header-<name>` headers. It stops when dropped.
#[derive(Debug)]
pub struct EchoBackend {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EchoBackend {
    /// Binds `127.0.0.1` on a free port and serves from a task of the current runtime.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Typically out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the `backend` of the demo API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for EchoBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let mut response = hyper::Response::builder()
        .header("x-echo-method", request.method().as_str())
        .header("x-echo-uri", request.uri().to_string());
    for (name, value) in request.headers() {
        response = response.header(format!("x-echo-header-{name}"), value);
    }
    let body = http_body_util::Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await;
    let response = match body {
        Ok(body) => response.body(Full::new(body.to_bytes())),
        Err(_) => hyper::Response::builder()
            .status(http::StatusCode::PAYLOAD_TOO_LARGE)
            .body(Full::new(Bytes::new())),
    };
    Ok(response.unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))))
}
