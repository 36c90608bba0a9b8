//! Lambda events (API Gateway REST v1, HTTP API v2, ALB) to a [`GatewayRequest`].

use std::cell::Cell;
use std::net::IpAddr;

use lambda_http::request::RequestContext;
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
    /// An HTTP event whose host or path (which a client chose) do not form a URL.
    #[error("the request's host and path do not form a URL")]
    BadUrl,
}

thread_local! {
    /// Set while lambda_http parses an event on this thread (see [`parse_event`]).
    static PARSING: Cell<bool> = const { Cell::new(false) };
}

/// Parses the JSON of a Lambda event into an HTTP request (with its context).
///
/// lambda_http panics on some malformed events (a `Host` header that is not a host);
/// that panic is caught here and reported as [`EventError::BadUrl`]. A panic hook can
/// tell such a panic from a fault with [`panicked_parsing_event`].
pub fn parse_event(json: &str) -> Result<lambda_http::Request, EventError> {
    PARSING.with(|parsing| parsing.set(true));
    let parsed = std::panic::catch_unwind(|| lambda_http::request::from_str(json));
    PARSING.with(|parsing| parsing.set(false));
    parsed
        .map_err(|_| EventError::BadUrl)?
        .map_err(|e| EventError::Unrecognised(e.to_string()))
}

/// For a panic hook: whether the panic is lambda_http's on a malformed event, which
/// [`parse_event`] catches and answers with 400. That is a client's bad input, not a
/// fault of the function: it should not page whoever watches for errors.
pub fn panicked_parsing_event() -> bool {
    PARSING.with(Cell::get)
}

/// The kind of an HTTP event that could not be parsed, from its shape alone, so that
/// the answer can take that shape.
pub fn probe_kind(json: &str) -> Option<EventKind> {
    #[derive(serde::Deserialize)]
    struct Event {
        version: Option<String>,
        #[serde(rename = "requestContext")]
        context: Option<Context>,
    }
    #[derive(serde::Deserialize)]
    struct Context {
        elb: Option<serde::de::IgnoredAny>,
        http: Option<serde::de::IgnoredAny>,
        #[serde(rename = "httpMethod")]
        http_method: Option<serde::de::IgnoredAny>,
    }
    let event: Event = serde_json::from_str(json).ok()?;
    let context = event.context?;
    if context.elb.is_some() {
        Some(EventKind::Alb)
    } else if event.version.as_deref() == Some("2.0") && context.http.is_some() {
        Some(EventKind::HttpV2)
    } else if context.http_method.is_some() {
        Some(EventKind::RestV1)
    } else {
        None
    }
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
    client_target(&mut parts)?;
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
fn client_target(parts: &mut http::request::Parts) -> Result<(), EventError> {
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
    parts.uri = uri.build().map_err(|_| EventError::BadUrl)?;
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
