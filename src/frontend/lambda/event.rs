//! Lambda events (API Gateway REST v1, HTTP API v2, ALB) to a [`GatewayRequest`].

use std::cell::Cell;
use std::net::IpAddr;

use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, RequestExt as _};

use crate::body::Payload;
use crate::cert::{self, Certificate};
use crate::config::{CertificateSource, GatewayConfig};
use crate::frontend::forwarded::{self, CertificateHeaders, ForwardedError};
use crate::gateway::{ClientCertificate, GatewayRequest};

/// Which kind of event a request came from; the response must take the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// API Gateway REST API (payload 1.0).
    RestV1,
    /// API Gateway HTTP API (payload 2.0).
    HttpV2,
    /// Application Load Balancer target.
    Alb,
}

impl EventKind {
    /// The largest response document (JSON) the front end takes from the function: an
    /// ALB at most 1 MB (its Lambda-target documentation), API Gateway whatever Lambda
    /// returns from a synchronous invocation, 6 MB.
    pub fn max_response_bytes(self) -> usize {
        match self {
            Self::Alb => 1_000_000,
            Self::RestV1 | Self::HttpV2 => 6 * 1024 * 1024,
        }
    }
}

/// Why an event cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    #[error("not an API Gateway REST, HTTP API or ALB event: {0}; see events/ for samples of each")]
    Unrecognised(String),
    #[error("the event's front end ({0}) is not supported; use API Gateway or an ALB")]
    Unsupported(&'static str),
    /// A Lambda authorizer's input: it has an HTTP request's fields, but whatever the
    /// function answered would be read as an IAM policy, not sent to a client.
    #[error(
        "this is a Lambda authorizer's event (it has `type`, `methodArn` or `routeArn`); \
         make certgate-lambda the route's proxy integration (or the ALB's target), not its authorizer"
    )]
    Authorizer,
    /// An API Gateway WebSocket API's event (`$connect`, a message): no HTTP request to
    /// forward, and none of the front ends this serves.
    #[error(
        "this is an API Gateway WebSocket event (route {0}); certgate forwards HTTP \
         requests: put it behind a REST API, an HTTP API or an ALB"
    )]
    WebSocket(String),
    /// An HTTP event whose host or path (which a client chose) do not form a URL.
    #[error("the request's host and path do not form a URL")]
    BadUrl(EventKind),
    /// An HTTP event with a header that is not HTTP (a control character in its value,
    /// which API Gateway passes on): the client's doing.
    #[error("the request has a header whose name or value is not valid HTTP (a control character)")]
    BadHeader(EventKind),
}

thread_local! {
    /// Set while lambda_http parses an event on this thread (see [`parse_event`]).
    static PARSING: Cell<bool> = const { Cell::new(false) };
}

/// Parses the JSON of a Lambda event into an HTTP request (with its context).
///
/// Authorizers' and WebSocket events, which read as requests, are refused. lambda_http
/// panics on some malformed events (a `Host` header that is not a host); that panic is
/// caught here and reported as [`EventError::BadUrl`]. A panic hook can tell such a
/// panic from a fault with [`panicked_parsing_event`]. A header that is not HTTP is
/// [`EventError::BadHeader`].
pub fn parse_event(json: &str) -> Result<lambda_http::Request, EventError> {
    parse(json).map(|(_, request)| request)
}

/// [`parse_event`], with the kind of the event.
pub(crate) fn parse(json: &str) -> Result<(EventKind, lambda_http::Request), EventError> {
    let mut kind = None;
    PARSING.with(|parsing| parsing.set(true));
    // The closure's captures are the input and `kind`, which is written once, whole.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let event = read(json)?;
        let event_kind = request_kind(&event)?;
        kind = Some(event_kind);
        Ok((event_kind, lambda_http::Request::from(event)))
    }));
    PARSING.with(|parsing| parsing.set(false));
    parsed.unwrap_or_else(|_| {
        Err(match kind {
            Some(kind) => EventError::BadUrl(kind),
            None => EventError::Unrecognised("lambda_http could not read it".to_owned()),
        })
    })
}

/// lambda_http's reading of an event (its `from_str` without the conversion, which
/// drops the fields that tell an authorizer's or a WebSocket event from a request).
///
/// lambda_http refuses a whole event for one header that is not HTTP, so a client's
/// control character would make a request "not an HTTP event". When the event reads
/// without its invalid headers, it is the request of that kind with a bad header.
fn read(json: &str) -> Result<LambdaRequest, EventError> {
    typed(json).map_err(|error| {
        let cleaned = without_invalid_headers(json).and_then(|cleaned| typed(&cleaned).ok());
        match cleaned.as_ref().map(request_kind) {
            Some(Ok(kind)) => EventError::BadHeader(kind),
            Some(Err(not_a_request)) => not_a_request,
            None => EventError::Unrecognised(error.to_string()),
        }
    })
}

/// lambda_http's `LambdaRequest` deserialization without its first pass: it reads the
/// whole event into a `RawValue` (a scan and a copy, a tenth of the adapter's work for a
/// REST event) and then tries each event type on that copy. This tries the same types
/// in the same order on the input itself; only when none fits is lambda_http asked, for
/// its error.
fn typed(json: &str) -> Result<LambdaRequest, serde_json::Error> {
    if let Ok(event) = serde_json::from_str(json) {
        return Ok(LambdaRequest::ApiGatewayV1(event));
    }
    if let Ok(event) = serde_json::from_str(json) {
        return Ok(LambdaRequest::ApiGatewayV2(event));
    }
    if let Ok(event) = serde_json::from_str(json) {
        return Ok(LambdaRequest::Alb(event));
    }
    serde_json::from_str(json)
}

/// The kind of an HTTP event; an error for the events that read as one but are no
/// request (REST and WebSocket events share a shape, and so do authorizers' inputs).
fn request_kind(event: &LambdaRequest) -> Result<EventKind, EventError> {
    let (kind, top, context) = match event {
        LambdaRequest::ApiGatewayV1(event) => (
            EventKind::RestV1,
            &event.other,
            &event.request_context.other,
        ),
        LambdaRequest::ApiGatewayV2(event) => {
            // Authorizer payload 1.0 fields that the HTTP API type keeps apart.
            #[allow(deprecated)]
            if event.kind.is_some() || event.method_arn.is_some() {
                return Err(EventError::Authorizer);
            }
            (
                EventKind::HttpV2,
                &event.other,
                &event.request_context.other,
            )
        }
        LambdaRequest::Alb(_) => return Ok(EventKind::Alb),
        _ => return Err(EventError::Unsupported("unknown request context")),
    };
    if ["type", "methodArn", "routeArn"]
        .iter()
        .any(|field| top.contains_key(*field))
    {
        return Err(EventError::Authorizer);
    }
    if context.contains_key("connectionId") || context.contains_key("eventType") {
        let route = context.get("routeKey").and_then(|route| route.as_str());
        return Err(EventError::WebSocket(route.unwrap_or("unknown").to_owned()));
    }
    Ok(kind)
}

/// The event without the headers lambda_http refuses; `None` when it has none such (or
/// is no JSON object).
fn without_invalid_headers(json: &str) -> Option<String> {
    let mut event: serde_json::Value = serde_json::from_str(json).ok()?;
    let fields = event.as_object_mut()?;
    let mut removed = false;
    for field in ["headers", "multiValueHeaders"] {
        if let Some(serde_json::Value::Object(headers)) = fields.get_mut(field) {
            let before = headers.len();
            headers.retain(|name, value| is_http_header(name, value));
            removed |= headers.len() != before;
        }
    }
    removed.then(|| event.to_string())
}

/// Whether lambda_http takes this header: a token for a name, values without control
/// characters. Values of other JSON types are left for lambda_http to refuse.
fn is_http_header(name: &str, value: &serde_json::Value) -> bool {
    let value_ok = |value: &serde_json::Value| {
        value
            .as_str()
            .is_none_or(|value| http::HeaderValue::from_str(value).is_ok())
    };
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && match value {
            serde_json::Value::Array(values) => values.iter().all(value_ok),
            value => value_ok(value),
        }
}

/// For a panic hook: whether the panic is lambda_http's on a malformed event, which
/// [`parse_event`] catches and answers with 400. That is a client's bad input, not a
/// fault of the function: it should not page whoever watches for errors.
pub fn panicked_parsing_event() -> bool {
    PARSING.with(Cell::get)
}

/// Turns an event, already parsed by lambda_http, into the core's request.
///
/// The certificate comes only from the source `gateway.toml` declares; every
/// certificate header is removed whatever the source, and the ones that were present
/// without being trusted are listed in `ignored_certificate_sources`.
pub fn to_gateway_request(
    request: lambda_http::Request,
    config: &GatewayConfig,
) -> Result<(EventKind, GatewayRequest), EventError> {
    let (mut parts, body) = request.into_parts();
    // Taken, not cloned: nothing after this reads it from the request.
    let context = parts.extensions.remove::<RequestContext>();
    let kind = match &context {
        Some(RequestContext::ApiGatewayV1(_)) => EventKind::RestV1,
        Some(RequestContext::ApiGatewayV2(_)) => EventKind::HttpV2,
        Some(RequestContext::Alb(_)) => EventKind::Alb,
        _ => return Err(EventError::Unsupported("unknown request context")),
    };
    client_target(&mut parts, kind)?;
    let settings = &config.deployment;
    let alb_leaf = format!("{}-leaf", settings.alb_header);
    let carried = CertificateHeaders::take(
        &mut parts.headers,
        &[settings.alb_header.as_str(), alb_leaf.as_str()],
    );
    let context_pem = context.as_ref().and_then(context_certificate_pem);

    // The ALB's headers are evidence only in an ALB event: in an API Gateway event (or a
    // Lambda function URL's, which has the same shape) the client wrote them.
    let source = match settings.certificate_source {
        CertificateSource::Alb if kind != EventKind::Alb => None,
        source => Some(source),
    };
    let mut ignored: Vec<&'static str> = carried.names().collect();
    let trusted = match source {
        Some(CertificateSource::Apigateway) => context_pem.map(|pem| {
            cert::decode_chain(pem.as_bytes()).map_err(|source| ForwardedError::Certificate {
                header: "requestContext.clientCert",
                source,
            })
        }),
        _ => {
            if context_pem.is_some() {
                ignored.push("requestContext.clientCert");
            }
            source
                .and_then(|source| from_headers(source, &carried, &settings.alb_header, &alb_leaf))
        }
    };
    ignored.retain(|name| source.is_none_or(|source| !carries(source, name)));

    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| header_str(&parts.headers, "host").map(str::to_owned))
        .unwrap_or_default();
    let certificate = match trusted {
        _ if !config.requests_client_certificate(&host) => ClientCertificate::Absent,
        None => ClientCertificate::Absent,
        Some(Ok(chain)) => ClientCertificate::from_chain(chain),
        Some(Err(error @ ForwardedError::Conflicting { .. })) => {
            ClientCertificate::Conflicting(error.to_string())
        }
        Some(Err(error)) => ClientCertificate::Undecodable(error.to_string()),
    };

    let client_ip = client_ip(context.as_ref(), &parts.headers);
    let request_id = request_id(context.as_ref(), &parts.headers);
    let body = match body {
        Body::Empty => Payload::empty(),
        Body::Text(text) => Payload::from(text.into_bytes()),
        Body::Binary(bytes) => Payload::from(bytes),
        _ => Payload::empty(),
    };
    Ok((
        kind,
        GatewayRequest {
            parts,
            body,
            // The function returns one JSON document: the response body comes whole.
            stream_response: false,
            client_ip,
            certificate,
            ignored_certificate_sources: ignored,
            request_id,
        },
    ))
}

/// Characters an encoded path never holds literally. API Gateway's HTTP API hands
/// `rawPath` on decoded (a client's `%20` arrives as a space), REST APIs and ALBs as sent;
/// escaping these makes either a URI path without changing an encoded one.
const NOT_IN_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Makes the URI the path the client sent, as the event has it: lambda_http resolves dot
/// segments and puts the stage in front (`/prod/orders`), neither of which the client
/// sent through a custom domain (which mTLS requires). The scheme is `https`: every
/// front end of a Lambda function here terminates TLS, whatever `X-Forwarded-Proto` said.
/// The gateway then normalizes this one path for routing and the backend alike.
fn client_target(parts: &mut http::request::Parts, kind: EventKind) -> Result<(), EventError> {
    let raw = parts.extensions.raw_http_path();
    let path = if raw.is_empty() { "/" } else { raw };
    let mut path_and_query: String =
        percent_encoding::utf8_percent_encode(path, NOT_IN_PATH).collect();
    if let Some(query) = parts.uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut uri = http::uri::Builder::new().path_and_query(path_and_query);
    if let Some(authority) = parts.uri.authority() {
        // Without one the gateway answers 400: it never makes a host up.
        uri = uri
            .scheme(http::uri::Scheme::HTTPS)
            .authority(authority.clone());
    }
    parts.uri = uri.build().map_err(|_| EventError::BadUrl(kind))?;
    Ok(())
}

/// Whether header `name` belongs to the trusted source (so it is not "ignored").
fn carries(source: CertificateSource, name: &str) -> bool {
    match source {
        CertificateSource::Apigateway => false,
        CertificateSource::Alb => name.starts_with("x-amzn-mtls-clientcert"),
        CertificateSource::Xfcc => name == "x-forwarded-client-cert",
        CertificateSource::Rfc9440 => name.starts_with("client-cert"),
    }
}

fn from_headers(
    source: CertificateSource,
    carried: &CertificateHeaders,
    alb_header: &str,
    alb_leaf: &str,
) -> Option<Result<Vec<Certificate>, ForwardedError>> {
    let single = |name: &str| {
        carried
            .single(name)
            .map_err(|repeated| ForwardedError::repeated(name, repeated))
    };
    match source {
        CertificateSource::Apigateway => None,
        CertificateSource::Alb => match (single(alb_header), single(alb_leaf)) {
            (Err(error), _) | (_, Err(error)) => Some(Err(error)),
            (Ok(Some(_)), Ok(Some(_))) => Some(Err(ForwardedError::Conflicting {
                what: format!("both {alb_header} and {alb_leaf}"),
            })),
            (Ok(Some(chain)), Ok(None)) => Some(forwarded::alb(chain, "x-amzn-mtls-clientcert")),
            (Ok(None), Ok(Some(leaf))) => Some(forwarded::alb(leaf, "x-amzn-mtls-clientcert-leaf")),
            (Ok(None), Ok(None)) => None,
        },
        // Proxies append elements; the last header's last element is the nearest's.
        CertificateSource::Xfcc => carried.last("x-forwarded-client-cert").map(forwarded::xfcc),
        CertificateSource::Rfc9440 => match (single("client-cert"), single("client-cert-chain")) {
            (Err(error), _) | (_, Err(error)) => Some(Err(error)),
            (Ok(cert), Ok(chain)) => cert.map(|cert| forwarded::rfc9440(cert, chain)),
        },
    }
}

/// `clientCertPem` from the API Gateway request context: v2 has a typed field; v1's
/// `identity.clientCert` survives only through lambda_http's `catch-all-fields`.
fn context_certificate_pem(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV2(ctx) => ctx
            .authentication
            .as_ref()?
            .client_cert
            .as_ref()?
            .client_cert_pem
            .as_deref(),
        RequestContext::ApiGatewayV1(ctx) => ctx
            .identity
            .other
            .get("clientCert")?
            .get("clientCertPem")?
            .as_str(),
        _ => None,
    }
}

fn client_ip(context: Option<&RequestContext>, headers: &http::HeaderMap) -> Option<IpAddr> {
    let from_context = match context? {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        // The ALB appends the peer address to X-Forwarded-For: the last entry is the
        // only one the client did not write.
        // A client that sent its own header line leaves the ALB's in the last one.
        RequestContext::Alb(_) => headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(|v| v.trim().to_owned()),
        _ => None,
    };
    from_context?.parse().ok()
}

fn request_id(context: Option<&RequestContext>, headers: &http::HeaderMap) -> String {
    let id = match context {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => header_str(headers, "x-amzn-trace-id").map(str::to_owned),
    };
    id.unwrap_or_default()
}

fn header_str<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
