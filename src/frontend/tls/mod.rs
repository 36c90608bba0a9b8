//! The local TLS listener: certgate's stand-in for a managed mTLS front end (API
//! Gateway or an ALB with mutual TLS), for running a deployment on a laptop or a VM.
//!
//! It terminates TLS with rustls, serves HTTP/1.1 and HTTP/2 (chosen by ALPN) with
//! hyper, and hands every request, with the client certificate of its connection, to a
//! [`Handler`] as a [`GatewayRequest`]. A bodiless HTTP/1.1 `GET`, most of a gateway's
//! traffic, is read and answered by a loop of its own that writes what hyper would; the
//! first request of any other kind moves the connection to hyper (`server/bodiless.rs`).
//! It never evaluates policy and never judges trust: a presented certificate reaches the
//! core as [`ClientCertificate::Presented`] whoever issued it, and the policy decides
//! (`Verify()`, thumbprint checks, ...).
//!
//! * **Server certificate by SNI.** Each `[[hostnames]]` entry of `gateway.toml` may name
//!   `tls_certificate` and `tls_key` (PEM, paths relative to the deployment folder); the
//!   `*` entry's pair is the default (without one, the first pair listed).
//! * **Client certificate mode by SNI** ([`ClientAuth`]): `request_client_certificate =
//!   false` never asks; `true` asks at the handshake and lets the client decline (the
//!   core sees [`ClientCertificate::Absent`]); `require_client_certificate = true` fails
//!   the handshake without one. The `ClientHello` is read first, so each connection gets
//!   the rustls `ServerConfig` of its host name.
//! * **Asked at the handshake, never later.** TLS 1.3 has no renegotiation and rustls
//!   never renegotiates TLS 1.2, so APIM's ~60 KB deadlock (a certificate requested by
//!   renegotiation while a large POST body fills the buffers, spec §6.3) cannot happen.
//! * **Only the handshake is evidence.** Every certificate header a client sends
//!   (`X-Amzn-Mtls-Clientcert`, `Client-Cert`, `X-Forwarded-Client-Cert`, ...) is removed
//!   and listed in `ignored_certificate_sources`.
//! * **Host must match SNI.** A request whose `Host` (or `:authority`) selects a
//!   different `[[hostnames]]` entry than the connection's SNI gets `421 Misdirected
//!   Request`, so a connection negotiated for an `off` host cannot reach a `require` host.
//! * **Bounded.** Handshake time, header size and time, body size and time, idle time
//!   and open connections are limited ([`Limits`]); a body over the limit gets `413`.
//!   So are requests in flight and the request body bytes they hold, across all
//!   connections: beyond either, `503` with `Retry-After`.
//! * **Abandoned requests stop.** A client that disconnects or resets its HTTP/2 stream
//!   cancels its request: the handler's future is dropped, and with it the backend
//!   call and the body.
//! * **Graceful shutdown.** When the shutdown future completes, [`serve`] stops
//!   accepting, lets in-flight requests finish (HTTP/2 sends GOAWAY), and returns once
//!   every connection is closed or [`Limits::shutdown_grace`] has passed.
//!
//! ```no_run
//! # async fn run(config: certgate::config::GatewayConfig,
//! #              files: Vec<certgate::files::SourceFile>,
//! #              store: certgate::trust::TrustStore) -> anyhow::Result<()> {
//! use certgate::frontend::tls::{self, TlsSettings};
//! use certgate::gateway::{GatewayRequest, GatewayResponse};
//!
//! let settings = TlsSettings::builder(&config).files(&files).trust_store(&store).build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let handler = |request: GatewayRequest| async move {
//!     GatewayResponse {
//!         status: http::StatusCode::OK,
//!         reason: None,
//!         headers: http::HeaderMap::new(),
//!         body: request.body,
//!     }
//! };
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! tls::serve(listener, settings, handler, shutdown).await?;
//! # Ok(()) }
//! ```
//!
//! [`GatewayRequest`]: crate::gateway::GatewayRequest
//! [`ClientCertificate::Presented`]: crate::gateway::ClientCertificate::Presented
//! [`ClientCertificate::Absent`]: crate::gateway::ClientCertificate::Absent

mod any_client_cert;
mod request_body;
mod server;
mod settings;

use std::future::Future;
use std::time::Duration;

use crate::gateway::{GatewayRequest, GatewayResponse};

pub use server::serve;
pub use settings::{ClientAuth, TlsError, TlsSettings, TlsSettingsBuilder};

/// What the listener calls for each request: the gateway pipeline, or a test double.
///
/// Each call runs in its own task, so a handler that panics costs its request a `500`,
/// not the connection. The task is aborted when the client goes away (disconnects, or
/// resets its HTTP/2 stream) before the response is ready: the handler's future may be
/// dropped at any await. Any `Fn(GatewayRequest) -> impl Future<Output = GatewayResponse>`
/// closure that is `Send + Sync + 'static` is a handler.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: GatewayRequest) -> impl Future<Output = GatewayResponse> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(GatewayRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = GatewayResponse> + Send + 'static,
{
    fn handle(&self, request: GatewayRequest) -> impl Future<Output = GatewayResponse> + Send {
        self(request)
    }
}

/// Bounds that keep one slow or greedy client from holding the listener's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes; a larger one is answered `413 Payload Too Large`
    /// at once when `Content-Length` says so, else the body is cut off when the limit
    /// is crossed (`413` unless the response has already started).
    pub max_body_bytes: usize,
    /// Largest request header block, in bytes (HTTP/1.1: `431`; HTTP/2: the header list
    /// size advertised to the client). At least 8 KiB.
    pub max_header_bytes: usize,
    /// Time from TCP accept to the end of the TLS handshake.
    pub handshake_timeout: Duration,
    /// HTTP/1.1: time to receive a request's headers, including an idle keep-alive wait.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed gracefully
    /// (HTTP/2: GOAWAY). HTTP/1.1 connections are usually closed sooner, by
    /// `header_read_timeout`.
    pub idle_timeout: Duration,
    /// Longest wait for the next piece of a request body the gateway is reading; after
    /// it the body is cut off (`408` unless the response has already started).
    pub body_read_timeout: Duration,
    /// Longest time bytes sent to a client may stay unacknowledged, or unsent behind
    /// its zero window, before its connection is closed: without it an HTTP/1.1 client
    /// that never reads a large response holds its connection, its place among
    /// [`Limits::max_requests_in_flight`] and a backend connection as long as it likes.
    /// The kernel keeps the time (`TCP_USER_TIMEOUT`; Linux only, and a client that
    /// stops reading is caught from Linux 5.11, one that is gone on any). The kernel
    /// cannot see an HTTP/2 client that reads its connection (and answers pings) but
    /// never opens a stream's window, so the listener watches HTTP/2 responses too: one
    /// whose next piece (at most 16 KiB) waited this long for room closes its
    /// connection. nginx's `send_timeout` (also 60 s) bounds such a stream too,
    /// resetting only it; hyper offers no way to reset one stream from outside, so its
    /// connection goes. A connection shutting down with nothing in flight that is still
    /// sending after this long is closed as well. Zero turns all of these off.
    pub send_timeout: Duration,
    /// HTTP/2: concurrent requests per connection.
    pub max_concurrent_streams: u32,
    /// Open connections (including those still in the handshake); further clients
    /// wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Requests in flight across all connections, from their headers until their
    /// response is sent; beyond it `503` with `Retry-After`, the handler not called.
    /// Each may hold a backend connection (a file descriptor beside its client's), and
    /// without this bound only `max_connections × max_concurrent_streams` (409,600 by
    /// default) would limit them. 1024 by default: with the 4096 connections, the
    /// listener needs about 5,200 file descriptors (`ulimit -n`); lower both where the
    /// process gets fewer.
    pub max_requests_in_flight: usize,
    /// Bytes of request body held across all requests in flight; beyond it `503` with
    /// `Retry-After`: at once when `Content-Length` says the body does not fit (the
    /// handler not called), else when the body crosses it. A policy may read a body
    /// whole (up to 16 MiB) and the listener cannot tell which do, so every byte read
    /// counts until its request ends. 256 MiB by default: 16 bodies of the largest
    /// size, where `max_body_bytes` alone would allow one per request in flight. Keep
    /// it at least `max_body_bytes`, or the largest bodies never get through.
    pub max_buffered_body_bytes: usize,
    /// After shutdown is asked, how long in-flight requests may take before their
    /// connections are dropped.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_concurrent_streams: 100,
            max_connections: 4096,
            max_requests_in_flight: 1024,
            max_buffered_body_bytes: 256 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}
