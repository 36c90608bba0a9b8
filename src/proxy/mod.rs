//! Forwarding a request to the backend (`forward-request`).
//!
//! Plain-HTTP backends at HTTP/1.1 get certgate's own client (`h1`), on the request's
//! task; the rest one hyper client per HTTP-version setting, built once and shared, over
//! rustls with the public web roots plus the deployment's extra backend CAs. Bodies
//! stream in both directions; the response is read whole (bounded) only when the caller
//! asks, because a policy reads it or the front end (Lambda) needs it whole, and the
//! request only to replay it on a redirect.

mod h1;
mod headers;
mod url;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use headers::{CERTIFICATE_HEADERS, ForwardedFor};
pub(crate) use headers::{
    declared_length, is_hop_by_hop, prepare_request_headers, strip_hop_by_hop, wire_name,
};

use crate::body::{CollectError, Payload};
pub use url::backend_url;
pub use verify::TlsValidation;

/// Why the backend did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No connection (refused, DNS, TLS handshake): APIM's `BackendConnectionFailure`.
    #[error("cannot reach the backend at {url}: {cause}")]
    Connect { url: String, cause: String },
    /// No response headers within the `forward-request` timeout: APIM's `Timeout`.
    #[error("the backend at {url} did not answer within {after:?}")]
    Timeout { url: String, after: Duration },
    /// The backend's response body was larger than certgate buffers.
    #[error("the backend's response body is larger than {limit} bytes")]
    ResponseTooLarge { limit: usize },
    /// The connection broke mid-response, or the backend spoke bad HTTP.
    #[error("the backend at {url} broke off the response: {cause}")]
    Protocol { url: String, cause: String },
    /// More redirects than `follow-redirects` allows.
    #[error("the backend redirected more than {0} times")]
    TooManyRedirects(usize),
    /// Following redirects needs the request body whole, to send it again.
    #[error("cannot keep the request body to replay it on a redirect: {0}")]
    RequestBody(CollectError),
}

impl ProxyError {
    /// The same error naming `url` (the request's URL as the policy built it, before
    /// credentials were added to its query).
    pub(crate) fn with_url(self, url: String) -> Self {
        match self {
            Self::Connect { cause, .. } => Self::Connect { url, cause },
            Self::Timeout { after, .. } => Self::Timeout { url, after },
            Self::Protocol { cause, .. } => Self::Protocol { url, cause },
            other => other,
        }
    }

    /// The `context.LastError.Reason` APIM reports for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "Timeout",
            _ => "BackendConnectionFailure",
        }
    }

    /// The status the caller gets when no `on-error` answers instead.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Timeout { .. } => http::StatusCode::GATEWAY_TIMEOUT,
            Self::RequestBody(CollectError::TooLarge { .. }) => http::StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestBody(CollectError::Broken(_)) => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::BAD_GATEWAY,
        }
    }
}

/// `forward-request` `http-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 only (APIM's default, `1`).
    #[default]
    Http1,
    /// HTTP/2 only (`2`): ALPN h2 over TLS, prior knowledge over cleartext.
    Http2,
    /// Whatever ALPN agrees (`2or1`).
    Http2Or1,
}

/// The `forward-request` attributes that shape one backend call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardOptions {
    pub timeout: Duration,
    pub follow_redirects: bool,
    pub http_version: HttpVersion,
    /// Read the whole response body (bounded) before returning, instead of streaming it.
    pub collect_response: bool,
}

impl Default for ForwardOptions {
    /// APIM's defaults: 300 s, no redirects, HTTP/1.1; the response streams.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            follow_redirects: false,
            http_version: HttpVersion::Http1,
            collect_response: false,
        }
    }
}

/// The backend's answer: its body whole when asked for, else still arriving.
#[derive(Debug)]
pub struct BackendResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Payload,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Payload>;

/// Redirects followed at most, as .NET's HttpClient does by default.
const MAX_REDIRECTS: usize = 50;

/// Shared HTTP clients to backends.
#[derive(Clone)]
pub struct Backend {
    plain: h1::Client,
    http1: HttpClient,
    http2: HttpClient,
    either: HttpClient,
    max_body: usize,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// A rustls client configuration (`src/crypto.rs`'s provider) trusting the public web
/// roots compiled in (webpki-roots) plus `extra_roots`: what every outgoing TLS connection
/// of certgate starts from, to backends and to S3.
///
/// # Errors
/// A certificate in `extra_roots` that is not a usable trust anchor.
pub(crate) fn web_roots_tls(
    extra_roots: impl IntoIterator<Item = rustls_pki_types::CertificateDer<'static>>,
) -> Result<
    rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
    rustls::Error,
> {
    let roots = web_roots(extra_roots)?;
    Ok(tls_builder()?.with_root_certificates(roots))
}

fn web_roots(
    extra_roots: impl IntoIterator<Item = rustls_pki_types::CertificateDer<'static>>,
) -> Result<rustls::RootCertStore, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        roots.add(root)?;
    }
    Ok(roots)
}

fn tls_builder()
-> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, rustls::Error> {
    let provider = crate::crypto::tls_provider();
    rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
}

impl Backend {
    /// Clients trusting the public web roots plus `extra_roots` (DER), optionally
    /// presenting a client certificate (`authentication-certificate`).
    pub fn new(
        extra_roots: &[rustls_pki_types::CertificateDer<'static>],
        identity: Option<ClientIdentity>,
        max_body: usize,
    ) -> Result<Self, rustls::Error> {
        Self::with_validation(extra_roots, identity, TlsValidation::default(), max_body)
    }

    /// [`Backend::new`] checking the backend's certificate as `validation` says (a
    /// `[[backends]]` entry may turn the chain or the name check off).
    pub fn with_validation(
        extra_roots: &[rustls_pki_types::CertificateDer<'static>],
        identity: Option<ClientIdentity>,
        validation: TlsValidation,
        max_body: usize,
    ) -> Result<Self, rustls::Error> {
        let roots = web_roots(extra_roots.iter().cloned())?;
        let builder = if validation == TlsValidation::default() {
            tls_builder()?.with_root_certificates(roots)
        } else {
            tls_builder()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verify::BackendVerifier::new(
                    roots, validation,
                )?))
        };
        let tls = match identity {
            Some(id) => builder.with_client_auth_cert(id.chain, id.key)?,
            None => builder.with_no_client_auth(),
        };
        let connector = |versions: HttpVersion| {
            // Requests leave as soon as they are written, as with nginx's `tcp_nodelay on`
            // (Nagle's algorithm could hold a streamed body's last small chunk back until
            // the backend acknowledged the one before).
            let mut tcp = HttpConnector::new();
            tcp.enforce_http(false);
            tcp.set_nodelay(true);
            let b = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http();
            match versions {
                HttpVersion::Http1 => b.enable_http1().wrap_connector(tcp),
                HttpVersion::Http2 => b.enable_http2().wrap_connector(tcp),
                HttpVersion::Http2Or1 => b.enable_all_versions().wrap_connector(tcp),
            }
        };
        let client = |versions: HttpVersion| {
            let mut builder = Client::builder(TokioExecutor::new());
            builder.http2_only(versions == HttpVersion::Http2);
            builder.build(connector(versions))
        };
        Ok(Self {
            plain: h1::Client::default(),
            http1: client(HttpVersion::Http1),
            http2: client(HttpVersion::Http2),
            either: client(HttpVersion::Http2Or1),
            max_body,
        })
    }

    /// Sends the request, following redirects if asked. The timeout covers the time
    /// until the response headers arrive, and for an answer read whole
    /// (`collect_response`) its body too: a streamed answer may take as long as it
    /// flows, one read whole must not hold the request up forever.
    pub async fn forward(
        &self,
        request: http::Request<Payload>,
        options: ForwardOptions,
    ) -> Result<BackendResponse, ProxyError> {
        let client = match options.http_version {
            HttpVersion::Http1 => &self.http1,
            HttpVersion::Http2 => &self.http2,
            HttpVersion::Http2Or1 => &self.either,
        };
        // URLs are kept as `Uri`s (a clone shares their bytes) and written out only for
        // an error.
        let first_uri = request.uri().clone();
        let send = |request: http::Request<Payload>| {
            let uri = request.uri().clone();
            // Taken apart before the future is made, which then holds what it sends
            // and not the request beside it: each copy widens the future, moved whole.
            let plain = match plain_http1(&request, options) {
                Some((origin, body)) => Ok((origin, body, request.map(drop))),
                None => {
                    // hyper sets it from the body (exact for a whole body, or for a
                    // stream whose client declared it), where the client's would be
                    // stale once a policy changed the body; certgate's own client
                    // writes the body's and never reads this one.
                    let mut request = request;
                    request.headers_mut().remove(http::header::CONTENT_LENGTH);
                    Err(request)
                }
            };
            async move {
                let response = match plain {
                    Ok((ref origin, ref body, ref head)) => self
                        .plain
                        .send(origin, head, body)
                        .await
                        .map_err(|e| h1_error(&uri, e))?,
                    Err(request) => client
                        .request(request)
                        .await
                        .map_err(|e| connect_error(&uri.to_string(), &e))?
                        .map(Payload::streamed),
                };
                Ok::<_, ProxyError>((uri, response))
            }
        };
        let deadline = tokio::time::Instant::now() + options.timeout;
        let sent = if options.follow_redirects {
            // Boxed: the replayed request and a second call's state would otherwise
            // widen every forwarded request's future.
            let following = Box::pin(follow_redirects(request, self.max_body, send));
            tokio::time::timeout_at(deadline, following).await
        } else {
            tokio::time::timeout_at(deadline, send(request)).await
        };
        let (uri, response) = sent.map_err(|_| ProxyError::Timeout {
            url: first_uri.to_string(),
            after: options.timeout,
        })??;
        let (parts, mut body) = response.into_parts();
        if options.collect_response {
            let collected = tokio::time::timeout_at(deadline, body.collect(self.max_body))
                .await
                .map_err(|_| ProxyError::Timeout {
                    url: uri.to_string(),
                    after: options.timeout,
                })?;
            let bytes = collected.map_err(|e| match e {
                CollectError::TooLarge { limit } => ProxyError::ResponseTooLarge { limit },
                CollectError::Broken(cause) => ProxyError::Protocol {
                    url: uri.to_string(),
                    cause,
                },
            })?;
            body = Payload::Whole(bytes);
        }
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        Ok(BackendResponse {
            status: parts.status,
            headers,
            body,
        })
    }
}

/// A client certificate chain and key for mTLS to the backend.
#[derive(Debug)]
pub struct ClientIdentity {
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    pub key: rustls_pki_types::PrivateKeyDer<'static>,
}

fn connect_error(url: &str, error: &hyper_util::client::legacy::Error) -> ProxyError {
    let (url, cause) = (url.to_owned(), innermost_cause(error));
    if error.is_connect() {
        ProxyError::Connect { url, cause }
    } else {
        ProxyError::Protocol { url, cause }
    }
}

/// The innermost cause of a client's error: it says what happened ("Connection refused",
/// a TLS alert), where the outer ones say only which step failed.
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// The origin and the body, when certgate's own client ([`h1`]) takes the request: a
/// cleartext backend at HTTP/1.1 (`2or1` too: over cleartext there is no ALPN to agree
/// on 2) and a small body in hand. A larger body, or one still arriving, goes with
/// hyper, which reads the response while it writes.
fn plain_http1(
    request: &http::Request<Payload>,
    options: ForwardOptions,
) -> Option<(http::uri::Authority, Bytes)> {
    if request.uri().scheme() != Some(&http::uri::Scheme::HTTP)
        || options.http_version == HttpVersion::Http2
        || request.method() == http::Method::CONNECT
    {
        return None;
    }
    let origin = request.uri().authority()?.clone();
    match request.body() {
        Payload::Whole(bytes) if bytes.len() <= h1::MAX_BODY => Some((origin, bytes.clone())),
        ended if ended.is_empty() => Some((origin, Bytes::new())),
        Payload::Whole(_) | Payload::Streamed(_) => None,
    }
}

/// Sends `request` with `send`, then each redirect it answers (at most
/// [`MAX_REDIRECTS`]) with the body read whole once and replayed.
async fn follow_redirects<F, Fut>(
    request: http::Request<Payload>,
    max_body: usize,
    send: F,
) -> Result<(http::Uri, http::Response<Payload>), ProxyError>
where
    F: Fn(http::Request<Payload>) -> Fut,
    Fut: Future<Output = Result<(http::Uri, http::Response<Payload>), ProxyError>>,
{
    let (parts, body) = request.into_parts();
    let body = body
        .collect(max_body)
        .await
        .map_err(ProxyError::RequestBody)?;
    let mut replay = (parts, body);
    let mut redirects = 0;
    loop {
        let sent = http::Request::from_parts(replay.0.clone(), replay.1.clone().into());
        let (uri, response) = send(sent).await?;
        let Some(next) = redirect_target(&replay.0.uri, &response) else {
            return Ok((uri, response));
        };
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(ProxyError::TooManyRedirects(MAX_REDIRECTS));
        }
        replay = redirected(replay, response.status(), next);
    }
}

/// An [`h1`] failure as APIM reports it: no connection, or anything after one.
fn h1_error(uri: &http::Uri, error: h1::Error) -> ProxyError {
    let url = uri.to_string();
    match error {
        h1::Error::Connect(cause) => ProxyError::Connect { url, cause },
        other => ProxyError::Protocol {
            url,
            cause: other.to_string(),
        },
    }
}

fn redirect_target<B>(base: &http::Uri, response: &http::Response<B>) -> Option<http::Uri> {
    if !response.status().is_redirection() || response.status() == http::StatusCode::NOT_MODIFIED {
        return None;
    }
    let location = response
        .headers()
        .get(http::header::LOCATION)?
        .to_str()
        .ok()?;
    url::resolve(base, location)
}

/// The request to send after a redirect: 303 (and 301/302 after POST, as browsers and
/// HttpClient do) become a bodiless GET; 307/308 repeat the request. Credentials and the
/// client's certificate do not follow to another origin or from https to http.
fn redirected(
    (mut parts, body): (http::request::Parts, Bytes),
    status: http::StatusCode,
    next: http::Uri,
) -> (http::request::Parts, Bytes) {
    let becomes_get = status == http::StatusCode::SEE_OTHER
        || (matches!(status.as_u16(), 301 | 302) && parts.method == http::Method::POST);
    headers::strip_credentials_for(&mut parts.headers, &parts.uri, &next);
    if let Some(host) = next
        .authority()
        .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(http::header::HOST, host);
    }
    parts.uri = next;
    let body = if becomes_get {
        parts.method = http::Method::GET;
        parts.headers.remove(http::header::CONTENT_LENGTH);
        parts.headers.remove(http::header::CONTENT_TYPE);
        Bytes::new()
    } else {
        body
    };
    (parts, body)
}
