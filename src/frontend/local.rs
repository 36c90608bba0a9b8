//! The local gateway: a deployment folder served by the TLS listener, with hot reload.
//!
//! [`LocalGateway::open`] loads the folder once and builds the [`TlsSettings`] from it
//! (server certificates, client-certificate modes, CA hints). Those are fixed for the
//! life of the process; policies, `[[apis]]`, CA certificates, CRLs and uploaded
//! certificates are reloaded while it serves ([`super::reload`]). Each request runs
//! [`gateway::handle`] against the snapshot current when it arrived, and is logged on
//! one line.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::net::TcpListener;

use super::reload::{LiveDeployment, LoadError, load_folder, log_diagnostics};
use super::tls::{self, Handler, Limits, TlsError, TlsSettings};
use crate::gateway::{self, ClientCertificate, GatewayRequest, GatewayResponse};

/// Why the local gateway cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("{0}")]
    Tls(#[from] TlsError),
}

/// A loaded deployment folder with its TLS settings, ready to serve.
#[derive(Debug)]
pub struct LocalGateway {
    live: Arc<LiveDeployment>,
    tls: TlsSettings,
}

impl LocalGateway {
    /// Loads `dir` and builds the listener's TLS settings from it.
    ///
    /// # Errors
    ///
    /// The folder cannot be read or does not load, or its TLS files are unusable.
    pub fn open(dir: &Path, limits: Limits) -> Result<Self, LocalError> {
        let (deployment, files) = load_folder(dir, OffsetDateTime::now_utc())?;
        log_diagnostics(&deployment);
        let tls = TlsSettings::builder(&deployment.config)
            .files(&files)
            .trust_store(&deployment.trust)
            .limits(limits)
            .build()?;
        Ok(Self {
            live: Arc::new(LiveDeployment::new(PathBuf::from(dir), deployment)),
            tls,
        })
    }

    /// The deployment and its folder.
    pub fn live(&self) -> &Arc<LiveDeployment> {
        &self.live
    }

    pub fn tls_settings(&self) -> &TlsSettings {
        &self.tls
    }

    /// Serves on `listener` until `shutdown` completes, polling the folder every
    /// `reload_every` (never with `None`); then drains in-flight requests.
    ///
    /// # Errors
    ///
    /// As [`tls::serve`].
    pub async fn serve(
        self,
        listener: TcpListener,
        reload_every: Option<Duration>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = reload_every.map(|interval| {
            let mut stop = stop_rx.clone();
            tokio::spawn(Arc::clone(&self.live).watch(interval, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }))
        });
        let result = tls::serve(listener, self.tls, handler(self.live), shutdown).await;
        let _ = stop_tx.send(true);
        if let Some(watcher) = watcher {
            let _ = watcher.await;
        }
        result
    }
}

/// The listener's handler: [`gateway::handle`] against the current snapshot of `live`,
/// one log line per request.
pub fn handler(live: Arc<LiveDeployment>) -> impl Handler {
    move |request: GatewayRequest| {
        let live = Arc::clone(&live);
        async move { handle(&live, request).await }
    }
}

async fn handle(live: &LiveDeployment, mut request: GatewayRequest) -> GatewayResponse {
    let started = Instant::now();
    let deployment = live.snapshot();
    // The handshake asks by the settings read at start; a reload that turned the host's
    // "Request client certificate" off takes effect here.
    let host = request
        .parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if !deployment.config.requests_client_certificate(&host) {
        request.certificate = ClientCertificate::Absent;
    }
    let method = request.parts.method.clone();
    let path = request.parts.uri.path().to_owned();
    let thumbprint = match &request.certificate {
        ClientCertificate::Absent => "none".to_owned(),
        ClientCertificate::Presented(_) => request
            .certificate
            .leaf()
            .map_or_else(|| "none".to_owned(), |c| c.thumbprint().to_owned()),
        ClientCertificate::Undecodable(_) => "undecodable".to_owned(),
    };
    let request_id = request.request_id.clone();
    let ignored = request.ignored_certificate_sources.join(",");
    let outcome = gateway::handle(&deployment, request, OffsetDateTime::now_utc(), false).await;
    let decision = match &outcome.decision {
        gateway::Decision::Failed { reason } => format!("failed:{reason}"),
        other => other.as_str().to_owned(),
    };
    tracing::info!(
        method = %method,
        path = %path,
        status = outcome.response.status.as_u16(),
        decision = %decision,
        api = %outcome.api.as_deref().unwrap_or("-"),
        certificate = %thumbprint,
        ignored = %if ignored.is_empty() { "-" } else { ignored.as_str() },
        duration = ?started.elapsed(),
        deployment = %deployment.version,
        request_id = %request_id,
        "request"
    );
    outcome.response
}
