//! The demo API's backend: an HTTP echo server on loopback, in-process.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::body::Payload;

/// A running echo backend. It answers every request `200` with the request body
/// streamed back byte for byte as it arrives, and what it received in `x-echo-method`,
/// `x-echo-uri` and `x-echo-header-<name>` headers. It stops when dropped.
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

async fn echo(request: hyper::Request<Incoming>) -> Result<hyper::Response<Payload>, Infallible> {
    let mut response = hyper::Response::builder()
        .header("x-echo-method", request.method().as_str())
        .header("x-echo-uri", request.uri().to_string());
    for (name, value) in request.headers() {
        response = response.header(format!("x-echo-header-{name}"), value);
    }
    let body = Payload::streamed(request.into_body());
    // The builder fails only on a header it could not take; answer without them then.
    Ok(match response.body(Payload::empty()) {
        Ok(response) => response.map(|_| body),
        Err(_) => hyper::Response::new(body),
    })
}
