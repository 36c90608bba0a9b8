//! The S3 client's HTTP client: hyper over rustls (ring) with the compiled-in public web
//! roots (webpki-roots), the same trust the backend clients start from, plus the CAs of
//! `AWS_CA_BUNDLE` for an S3-compatible endpoint with a private CA.
//!
//! Why not the SDK's default client: it reads and parses the system's root store (every
//! PEM file openssl-probe finds) when the first request is made. That was 5 ms of a 30 ms
//! cold start, spent before the deployment's one GET could leave.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::{Client, Error as ClientError};
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;

/// How long an idle connection to S3 is kept for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// An [`HttpClient`] for the SDK: one connection pool per distinct connect timeout the SDK
/// asks for (in practice one).
#[derive(Debug, Clone)]
pub(super) struct WebpkiClient {
    tls: Arc<rustls::ClientConfig>,
    pools: Arc<Mutex<Pools>>,
}

/// The connection pools made so far, by connect timeout.
type Pools = Vec<(Option<Duration>, SharedHttpConnector)>;

impl WebpkiClient {
    /// Trusts the public web roots and `extra_roots`.
    ///
    /// # Errors
    /// A certificate in `extra_roots` that is not a usable trust anchor.
    pub(super) fn new(extra_roots: Vec<CertificateDer<'static>>) -> Result<Self, rustls::Error> {
        let tls = crate::proxy::web_roots_tls(extra_roots)?.with_no_client_auth();
        Ok(Self {
            tls: Arc::new(tls),
            pools: Arc::default(),
        })
    }
}

impl HttpClient for WebpkiClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeout = settings.connect_timeout();
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, pool)) = pools.iter().find(|(t, _)| *t == timeout) {
            return pool.clone();
        }
        let pool = SharedHttpConnector::new(Pool::new(&self.tls, timeout));
        pools.push((timeout, pool.clone()));
        pool
    }
}

/// HTTP/1.1 (what S3 speaks) over TLS or plain TCP (an `http://` endpoint override).
#[derive(Debug, Clone)]
struct Pool(Client<HttpsConnector<TcpConnector>, SdkBody>);

impl Pool {
    fn new(tls: &rustls::ClientConfig, connect_timeout: Option<Duration>) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(connect_timeout);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // Lambda freezes the process between invocations, so a pooled connection may have
        // been closed by S3 long ago without hyper noticing: one idle for longer than
        // the bound is dropped at checkout, not tried and failed (hyper's default keeps
        // them 90 s, longer than the default refresh interval).
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(POOL_IDLE_TIMEOUT);
        Self(builder.build(https))
    }
}

impl HttpConnector for Pool {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let response = self.0.request(request);
        HttpConnectorFuture::new(async move {
            let response = response.await.map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// Classifies a failure the way the SDK's retry strategy expects: no connection, a
/// connection that broke or closed, and a timeout are retried; a malformed request is not.
fn connector_error(error: ClientError) -> ConnectorError {
    let hyper = std::error::Error::source(&error).and_then(|e| e.downcast_ref::<hyper::Error>());
    match hyper {
        Some(e) if e.is_timeout() => ConnectorError::timeout(error.into()),
        Some(e) if e.is_user() => ConnectorError::user(error.into()),
        Some(e) if e.is_incomplete_message() => {
            ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
        }
        _ if error.is_connect() => ConnectorError::io(error.into()),
        Some(e) if e.is_closed() || e.is_canceled() => ConnectorError::io(error.into()),
        _ => ConnectorError::other(error.into(), None),
    }
}
