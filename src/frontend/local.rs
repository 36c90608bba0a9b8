//! The local gateway: a deployment (folder or S3 prefix) served by the TLS listener,
//! refreshed while it serves exactly as the Lambda function refreshes.
//!
//! [`LocalGateway::open`] loads the deployment once and builds the [`TlsSettings`] from
//! it (server certificates, client-certificate modes, CA hints); those are fixed for the
//! life of the process. Policies, `[[apis]]`, CA certificates, CRLs and uploaded
//! certificates are refreshed by [`Refresher`]: a new deployment is swapped in whole
//! when it loads, and a broken one leaves the last good one serving. Each request runs
//! [`gateway::handle`] against the snapshot current when it arrived, and is logged on
//! one line ([`super::request_log`]).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::net::TcpListener;

use super::request_log::RequestLine;
use super::tls::{self, Handler, Limits, TlsError, TlsSettings};
use crate::gateway::{self, Build, ClientCertificate, Deployment, GatewayRequest, GatewayResponse};

use crate::source::origin::Origin;
use crate::source::refresh::{RefreshError, Refresher, Snapshot};
use crate::source::s3::S3Error;

/// Why the local gateway cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    #[error(transparent)]
    Source(#[from] S3Error),
    #[error(transparent)]
    Load(#[from] RefreshError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A loaded deployment with its TLS settings, ready to serve.
pub struct LocalGateway {
    refresher: Arc<Refresher<Origin, Deployment, Build>>,
    tls: TlsSettings,
}

impl std::fmt::Debug for LocalGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGateway")
            .field("version", &self.refresher.snapshot().version())
            .finish_non_exhaustive()
    }
}

impl LocalGateway {
    /// Loads `config` (a folder, or `s3://bucket/prefix`) and builds the listener's TLS
    /// settings from it.
    ///
    /// # Errors
    ///
    /// The deployment cannot be read or does not load, or its TLS files are unusable.
    pub async fn open(config: &str, limits: Limits) -> Result<Self, LocalError> {
        let origin = Origin::from_config(config).await?;
        let refresher = Arc::new(
            Refresher::new(origin, Deployment::from_files as Build)
                .with_tick(Deployment::keys_tick()),
        );
        let loaded = refresher.load_initial().await?;
        let deployment = &loaded.value;
        let tls = TlsSettings::builder(&deployment.config)
            .files(&deployment.tls_files)
            .trust_store(&deployment.trust)
            .limits(limits)
            .build()?;
        Ok(Self { refresher, tls })
    }

    /// The deployments requests are served from.
    pub fn snapshot(&self) -> Arc<Snapshot<Deployment>> {
        self.refresher.snapshot()
    }

    pub fn tls_settings(&self) -> &TlsSettings {
        &self.tls
    }

    /// Serves on `listener` until `shutdown` completes, refreshing the deployment every
    /// `refresh_every` (never with `None`); then drains in-flight requests.
    ///
    /// # Errors
    ///
    /// As [`tls::serve`].
    pub async fn serve(
        self,
        listener: TcpListener,
        refresh_every: Option<Duration>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let refreshing = refresh_every.map(|every| Arc::clone(&self.refresher).spawn(every));
        let result = tls::serve(
            listener,
            self.tls,
            handler(self.refresher.snapshot()),
            shutdown,
        )
        .await;
        if let Some(task) = refreshing {
            task.abort();
        }
        result
    }
}

/// The listener's handler: [`gateway::handle`] against the current deployment, one log
/// line per request; 503 while none has loaded.
pub fn handler(snapshot: Arc<Snapshot<Deployment>>) -> impl Handler {
    // `handle`'s own future, not one that awaits it: each nesting would hold another
    // copy of the request, moved with the future.
    move |request: GatewayRequest| handle(Arc::clone(&snapshot), request)
}

async fn handle(
    snapshot: Arc<Snapshot<Deployment>>,
    mut request: GatewayRequest,
) -> GatewayResponse {
    let started = Instant::now();
    let Some(current) = snapshot.current() else {
        return GatewayResponse::unavailable();
    };
    let deployment = &current.value;
    // The handshake asks by the settings read at start; a refresh that turned the
    // host's "Request client certificate" off takes effect here.
    // The listener made the URI absolute from the one parsed authority.
    let host = request
        .parts
        .uri
        .authority()
        .map_or("", http::uri::Authority::as_str);
    if !deployment.config.requests_client_certificate(host) {
        request.certificate = ClientCertificate::Absent;
    }
    // What the log line needs, shared rather than copied: the URI's parts and the leaf
    // are reference-counted.
    let method = request.parts.method.clone();
    let uri = request.parts.uri.clone();
    let certificate = match &request.certificate {
        ClientCertificate::Absent => Err("none"),
        ClientCertificate::Presented(chain) => Ok(Arc::clone(&chain.leaf)),
        ClientCertificate::Undecodable(_) => Err("undecodable"),
        ClientCertificate::Conflicting(_) => Err("conflicting"),
    };
    let request_id = Arc::clone(&request.request_id);
    let ignored = request.ignored_certificate_sources.clone();
    // Boxed: the pipeline's state is kilobytes, and hyper moves the request future (into
    // an HTTP/2 stream's task, among others); a box moves as a pointer.
    let outcome = Box::pin(gateway::handle(
        deployment,
        request,
        OffsetDateTime::now_utc(),
        false,
    ))
    .await;
    RequestLine {
        method: &method,
        path: uri.path(),
        status: outcome.response.status.as_u16(),
        decision: outcome.decision.as_str(),
        reason: match &outcome.decision {
            gateway::Decision::Failed { reason } => Some(reason),
            _ => None,
        },
        api: outcome.api.as_deref(),
        certificate: certificate
            .as_ref()
            .map_or_else(|name| *name, |leaf| leaf.thumbprint()),
        ignored: &ignored,
        duration: started.elapsed(),
        deployment: &deployment.version,
        request_id: &request_id,
    }
    .log();
    outcome.response
}
