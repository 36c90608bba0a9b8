//! One request through a deployment: route, inbound, backend, outbound, and on-error
//! when any of them fails.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;
use time::OffsetDateTime;

use super::deployment::{Backends, Deployment, MAX_BUFFERED_BODY, Routed};
use super::request::{ClientCertificate, GatewayRequest, GatewayResponse};
use super::route::{RouteError, route};
use super::target::{self, TargetError};
use crate::body::{CollectError, Payload};
use crate::expr::{self, Body, Context, Headers, Url};
use crate::policy::exec::{self, BackendTarget, Exchange, Failure, Flow, Forwarder, TraceEvent};
use crate::policy::{EffectivePolicy, SecretTexts, SectionKind};
use crate::proxy::{BackendResponse, ForwardOptions, ProxyError};
use crate::trust::Verifier;

/// How a request ended, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The backend answered (the response may still have been changed by outbound).
    Proxied,
    /// A policy answered without the backend (`return-response`, `mock-response`).
    Responded,
    /// A policy failed and on-error (or the default error response) answered; the
    /// reason is `context.LastError.Reason`.
    Failed { reason: String },
    /// No API or operation matched.
    NotRouted,
}

impl Decision {
    /// A short stable name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Proxied => "proxied",
            Self::Responded => "responded",
            Self::Failed { .. } => "failed",
            Self::NotRouted => "not-routed",
        }
    }
}

/// The result of one request.
#[derive(Debug)]
pub struct Outcome {
    pub response: GatewayResponse,
    pub decision: Decision,
    /// API name, when routed.
    pub api: Option<String>,
    /// The decision trace, when asked for.
    pub trace: Option<Vec<TraceEvent>>,
}

impl Outcome {
    /// `response`, given before any route or policy was chosen.
    pub fn not_routed(response: GatewayResponse) -> Self {
        Self {
            response,
            decision: Decision::NotRouted,
            api: None,
            trace: None,
        }
    }
}

/// Runs `request` through `deployment` at `now`.
pub async fn handle(
    deployment: &Deployment,
    mut request: GatewayRequest,
    now: OffsetDateTime,
    explain: bool,
) -> Outcome {
    if request.parts.method == http::Method::CONNECT {
        return unrouted(
            StatusCode::METHOD_NOT_ALLOWED,
            "CONNECT is not forwarded: certgate is a gateway to HTTP APIs, not a tunnel.",
        );
    }
    if let ClientCertificate::Conflicting(why) = &request.certificate {
        let message =
            format!("The request carries two client certificates ({why}); it is refused.");
        return unrouted(StatusCode::BAD_REQUEST, &message);
    }
    let path = match one_target(&mut request.parts) {
        Ok(path) => path,
        Err(error) => return unrouted(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    // `one_target` made the URI absolute from parsed parts; it cannot fail to read back.
    let Some(url) = Url::from_uri(&request.parts.uri) else {
        return unrouted(StatusCode::BAD_REQUEST, &TargetError::Malformed.to_string());
    };
    let routed = route(&deployment.config, &request.parts.method, &path);
    let route = match routed {
        Ok(route) => route,
        Err(error) => return not_routed(error),
    };
    let Some(routed) = deployment.routed(route.api_index, route.operation.map(|(i, _)| i)) else {
        return not_routed(RouteError::NoApi);
    };
    let policy = routed.policy;
    let reads = policy.reads();
    let body = match request_body(std::mem::take(&mut request.body), reads.request).await {
        Ok(body) => body,
        Err(error) => return unreadable_body(&error, route.api.name.clone()),
    };
    let mut exchange = Exchange {
        ctx: context(deployment, &mut request, url, body, &route, &routed, now),
        backend: BackendTarget {
            base_url: route.api.backend.clone(),
            path: route.remaining_path.to_owned(),
            client_certificate: None,
            backend_id: None,
            // Every front end certgate has terminates TLS: https unless the URI says.
            client_scheme: request
                .parts
                .uri
                .scheme_str()
                .map_or(Cow::Borrowed("https"), crate::text::scheme),
            client_host: host(&request).and_then(|host| http::HeaderValue::from_str(host).ok()),
            forward_certificate: match (&route.api.forward_client_certificate, &request.certificate)
            {
                (Some(format), ClientCertificate::Presented(chain)) => {
                    Some((*format, chain.clone()))
                }
                _ => None,
            },
        },
        trust: Arc::clone(&deployment.verifier) as Arc<dyn Verifier>,
        trace: explain.then(Vec::new),
        forwarded: false,
        collect_response: reads.response || !request.stream_response,
        cors: Vec::new(),
        cache: Arc::clone(&deployment.cache),
        response_cache: None,
        secrets: Arc::clone(&deployment.secrets),
        metrics: Arc::clone(&deployment.metrics),
        concurrency: Arc::clone(&deployment.concurrency),
        branch_writes: None,
    };
    if explain {
        explain_certificate(deployment, &request, &mut exchange, now);
        let mode = |read: bool| if read { "read whole" } else { "streamed" };
        let (request_mode, response_mode) = (mode(reads.request), mode(exchange.collect_response));
        exchange.note(SectionKind::Inbound, "", || {
            format!("bodies: request {request_mode}, response {response_mode}")
        });
    }
    let api = Some(route.api.name.clone());
    let decision = run(policy, &mut exchange, &deployment.backends).await;
    exec::add_granted_headers(&mut exchange);
    Outcome {
        response: response(exchange.ctx.response),
        decision,
        api,
        trace: exchange
            .trace
            .map(|trace| redact(trace, &deployment.secrets)),
    }
}

/// The trace without the values of secret named values (a header a policy set from one,
/// the code of a condition).
fn redact(mut trace: Vec<TraceEvent>, secrets: &SecretTexts) -> Vec<TraceEvent> {
    for event in &mut trace {
        if let Cow::Owned(detail) = secrets.redact(&event.detail) {
            event.detail = detail;
        }
        if let Cow::Owned(path) = secrets.redact(&event.path) {
            event.path = path;
        }
    }
    trace
}

/// The trace's first lines: the certificate the policy will see, and both verdicts.
fn explain_certificate(
    deployment: &Deployment,
    request: &GatewayRequest,
    x: &mut Exchange,
    now: OffsetDateTime,
) {
    let mut lines = Vec::new();
    for ignored in &request.ignored_certificate_sources {
        lines.push(format!(
            "ignored a certificate from {ignored} (not the deployment's source)"
        ));
    }
    match &request.certificate {
        ClientCertificate::Absent => lines.push("no client certificate".to_owned()),
        ClientCertificate::Undecodable(why) => {
            lines.push(format!(
                "client certificate not readable, the policy sees null: {why}"
            ));
        }
        // Refused before any policy; never reaches an explanation.
        ClientCertificate::Conflicting(_) => {}
        ClientCertificate::Presented(chain) => {
            let (leaf, rest) = (&chain.leaf, &chain.intermediates);
            {
                lines.push(format!(
                    "client certificate: Subject={}, Issuer={}, Thumbprint={}, {} intermediate(s)",
                    leaf.subject(),
                    leaf.issuer(),
                    leaf.thumbprint(),
                    rest.len()
                ));
                for (name, revocation) in [
                    ("Verify()", crate::trust::Revocation::Check),
                    ("VerifyNoRevocation()", crate::trust::Revocation::NoCheck),
                ] {
                    let v = deployment
                        .trust
                        .verify_explained(leaf, rest, now, revocation);
                    let verdict = match (v.verdict.reason(), v.detail) {
                        (None, _) => "true".to_owned(),
                        (Some(reason), Some(detail)) => {
                            format!("false ({}: {detail})", reason.as_str())
                        }
                        (Some(reason), None) => format!("false ({})", reason.as_str()),
                    };
                    lines.push(format!("{name} = {verdict}"));
                }
            }
        }
    }
    for line in lines {
        x.note(SectionKind::Inbound, "certificate", || line);
    }
}

/// inbound → backend → outbound; a failure anywhere runs on-error.
async fn run(policy: &EffectivePolicy, x: &mut Exchange, backends: &Backends) -> Decision {
    let mut from_cache = false;
    for section in [
        SectionKind::Inbound,
        SectionKind::Backend,
        SectionKind::Outbound,
    ] {
        if from_cache && section == SectionKind::Backend {
            continue;
        }
        match exec::run_section(policy.section(section), x, backends).await {
            Ok(Flow::Continue) => {}
            // Only inbound's `cache-lookup` answers this.
            Ok(Flow::FromCache) => from_cache = true,
            Ok(Flow::Respond) => return Decision::Responded,
            Err(failure) => return on_error(policy, x, backends, failure).await,
        }
    }
    if x.forwarded {
        Decision::Proxied
    } else {
        Decision::Responded
    }
}

/// Fills `context.LastError`, starts from the failure's default response, and lets
/// on-error change it. A failure inside on-error ends with that default response.
async fn on_error(
    policy: &EffectivePolicy,
    x: &mut Exchange,
    backends: &Backends,
    failure: Failure,
) -> Decision {
    let reason = failure.reason.to_owned();
    x.note(SectionKind::OnError, "", || {
        format!(
            "error from {} ({}): {}",
            failure.source, failure.reason, failure.message
        )
    });
    x.ctx.last_error = Some(failure.last_error());
    x.ctx.response = error_response(&failure);
    let default = x.ctx.response.clone();
    if let Err(second) = exec::run_section(policy.section(SectionKind::OnError), x, backends).await
    {
        x.note(SectionKind::OnError, "", || {
            format!("on-error failed too: {}", second.message)
        });
        x.ctx.response = default;
    }
    Decision::Failed { reason }
}

/// APIM-style error body: `{"statusCode": 401, "message": "..."}`.
fn error_response(failure: &Failure) -> expr::Response {
    let message = failure
        .public_message
        .clone()
        .unwrap_or_else(|| match failure.status {
            StatusCode::INTERNAL_SERVER_ERROR => "Internal server error".to_owned(),
            status => status.canonical_reason().unwrap_or("Error").to_owned(),
        });
    json_response(failure.status, &message)
}

fn json_response(status: StatusCode, message: &str) -> expr::Response {
    let body = serde_json::json!({"statusCode": status.as_u16(), "message": message});
    let mut headers = Headers::new();
    headers.set("Content-Type", vec!["application/json".to_owned()]);
    expr::Response {
        status_code: i32::from(status.as_u16()),
        status_reason: status.canonical_reason().unwrap_or_default().to_owned(),
        headers,
        body: Some(Body::new(body.to_string().into_bytes())),
    }
}

/// `context.Request.Body`: whole (bounded) when a policy reads it, else the stream as
/// it came; `None` for an empty body.
async fn request_body(payload: Payload, read: bool) -> Result<Option<expr::Body>, CollectError> {
    if payload.is_empty() {
        return Ok(None);
    }
    if !read {
        return Ok(Some(Body::payload(payload)));
    }
    let bytes = payload.collect(MAX_BUFFERED_BODY).await?;
    Ok((!bytes.is_empty()).then(|| Body::new(bytes)))
}

/// A body a policy needs whole could not be read: too large (413) or cut off (400).
fn unreadable_body(error: &CollectError, api: String) -> Outcome {
    let (status, reason, message) = match error {
        CollectError::TooLarge { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!(
                "The request body is larger than {limit} bytes, the most certgate reads for a policy that uses it."
            ),
        ),
        CollectError::Broken(_) => (
            StatusCode::BAD_REQUEST,
            "ClientConnectionFailure",
            "The request body was cut off.".to_owned(),
        ),
    };
    tracing::debug!(%error, api, "request body not read");
    Outcome {
        response: response(json_response(status, &message)),
        decision: Decision::Failed {
            reason: reason.to_owned(),
        },
        api: Some(api),
        trace: None,
    }
}

fn not_routed(error: RouteError) -> Outcome {
    let message = match error {
        RouteError::NoApi => "Resource not found",
        RouteError::OperationNotFound => "Unable to match incoming request to an operation.",
    };
    unrouted(StatusCode::NOT_FOUND, message)
}

/// An answer given before any policy ran.
fn unrouted(status: StatusCode, message: &str) -> Outcome {
    Outcome::not_routed(response(json_response(status, message)))
}

/// Parses the request's authority and path once and writes them back into its URI:
/// routing, `context.Request.Url` and the backend URL all read that one value. The
/// scheme is the front end's (every front end certgate has terminates TLS), never a
/// client's absolute-form target.
fn one_target(parts: &mut http::request::Parts) -> Result<String, TargetError> {
    let authority = target::request_authority(parts)?;
    let path = target::normalize_path(parts.uri.path())?;
    if path == parts.uri.path()
        && parts.uri.scheme().is_some()
        && parts.uri.authority().map(http::uri::Authority::as_str) == Some(authority.as_str())
    {
        // As the listener wrote it.
        return Ok(path);
    }
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.clone(),
    };
    parts.uri = http::Uri::builder()
        .scheme(
            parts
                .uri
                .scheme()
                .cloned()
                .unwrap_or(http::uri::Scheme::HTTPS),
        )
        .authority(authority)
        .path_and_query(path_and_query)
        .build()
        .map_err(|_| TargetError::Malformed)?;
    Ok(path)
}

fn host(request: &GatewayRequest) -> Option<&str> {
    request
        .parts
        .uri
        .authority()
        .map(http::uri::Authority::as_str)
}

/// `context` for one request; it takes the request's headers.
fn context(
    deployment: &Deployment,
    request: &mut GatewayRequest,
    url: Url,
    body: Option<Body>,
    route: &super::route::Route<'_>,
    routed: &Routed<'_>,
    now: OffsetDateTime,
) -> Context {
    let headers = std::mem::take(&mut request.parts.headers);
    let parts = &request.parts;
    let (certificate, chain) = match &request.certificate {
        ClientCertificate::Presented(chain) => (
            Some(Arc::clone(&chain.leaf)),
            Arc::clone(&chain.intermediates),
        ),
        _ => (None, Arc::from(Vec::new())),
    };
    let url = Arc::new(url);
    let mut ctx = Context::of(
        expr::Request {
            method: parts.method.as_str().to_owned(),
            original_url: Arc::clone(&url),
            url,
            headers: Headers::from_http(headers),
            ip_address: request.client_ip.map(crate::text::ip).unwrap_or_default(),
            body,
            matched_parameters: route.matched_parameters.clone(),
            certificate,
            certificate_chain: chain,
        },
        now,
    );
    ctx.deployment = Arc::clone(&deployment.context);
    ctx.api = Some(Arc::clone(routed.api));
    ctx.operation = routed.operation.cloned();
    ctx.request_id = Arc::clone(&request.request_id);
    ctx.verifier = Some(Arc::clone(&deployment.verifier) as Arc<dyn Verifier>);
    ctx
}

/// `context.Response` as the caller gets it.
fn response(r: expr::Response) -> GatewayResponse {
    let status = u16::try_from(r.status_code)
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = r.headers.into_http();
    // A `Content-Length` stays: each front end frames the body itself and leaves it out
    // (a HEAD's answer over the listener keeps it, checked, for the GET's length).
    crate::proxy::strip_hop_by_hop(&mut headers);
    let body = r
        .body
        .as_ref()
        .map_or_else(Payload::empty, Body::take_payload);
    let canonical = status.canonical_reason().unwrap_or_default();
    GatewayResponse {
        status,
        reason: (r.status_reason != canonical && !r.status_reason.is_empty())
            .then_some(r.status_reason),
        headers,
        body,
    }
}

impl Forwarder for Backends {
    fn forward<'a>(
        &'a self,
        mut request: http::Request<Payload>,
        options: ForwardOptions,
        client_certificate: Option<&'a str>,
        backend_id: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Result<BackendResponse, ProxyError>> + Send + 'a>> {
        Box::pin(async move {
            let entity = backend_id.and_then(|id| self.entities.get(id));
            let backend = match (client_certificate, entity) {
                (None, Some(entity)) => &entity.client,
                (None, None) => &self.default,
                (Some(id), _) => self.by_identity.get(id).ok_or_else(|| ProxyError::Connect {
                    url: request.uri().to_string(),
                    cause: format!(
                        "authentication-certificate `{id}` has no key: add certificates/{id}.key"
                    ),
                })?,
            };
            let Some(entity) = entity else {
                return backend.forward(request, options).await;
            };
            // Errors name the URL without the credentials' query parameters.
            let url = request.uri().to_string();
            entity.add_credentials(&mut request);
            backend
                .forward(request, options)
                .await
                .map_err(|error| error.with_url(url))
        })
    }

    fn backend_url(&self, id: &str) -> Option<http::Uri> {
        self.entities.get(id).map(|entity| entity.url.clone())
    }

    fn send_detached(
        &self,
        request: http::Request<Payload>,
        options: ForwardOptions,
        client_certificate: Option<&str>,
    ) -> bool {
        /// One-way requests in flight at most, across the process: beyond, they are
        /// dropped (logged) rather than pile up behind a slow receiver.
        static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(64);
        let backend = match client_certificate {
            None => self.default.clone(),
            Some(id) => match self.by_identity.get(id) {
                Some(backend) => backend.clone(),
                None => {
                    tracing::warn!(id, "send-one-way-request: the certificate has no key");
                    return false;
                }
            },
        };
        let Ok(permit) = IN_FLIGHT.try_acquire() else {
            tracing::warn!(url = %request.uri(), "send-one-way-request dropped: 64 in flight");
            return false;
        };
        tokio::spawn(async move {
            let url = request.uri().to_string();
            if let Err(error) = backend.forward(request, options).await {
                tracing::warn!(url, %error, "send-one-way-request failed");
            }
            drop(permit);
        });
        true
    }
}
