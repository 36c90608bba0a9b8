//! Lambda events (API Gateway REST v1, HTTP API v2, ALB) to a [`GatewayRequest`].
//!
//! The event is read with certgate's own types ([`super::raw`]): the fields certgate
//! uses, in one pass, borrowed from the JSON where they need no unescaping. It becomes
//! the request lambda_http would make of it (the shapes told apart in lambda_http's
//! order, the same method, headers, host, query and body), without lambda_http's
//! copies of every field, its query maps and its extensions, which were half of what
//! the front end cost per event. Nothing here panics on any input.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::form_urlencoded;

use super::raw::{RawContext, RawEvent, Text, Values};
use crate::body::Payload;
use crate::cert::PresentedChains;
use crate::config::{AlbHeader, CertificateSource, GatewayConfig};
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
    /// An HTTP event whose body is marked base64 (`isBase64Encoded`) but is not.
    #[error("the request's body is marked base64-encoded but is not valid base64")]
    BadBody(EventKind),
}

/// An HTTP event, read: the request as its front end described it, before the
/// deployment's certificate source is applied ([`to_gateway_request`]).
#[derive(Debug)]
pub struct HttpEvent {
    kind: EventKind,
    /// Method, the URI the client sent (`https`, the host, the path and query as sent),
    /// every header (certificate headers too, until [`to_gateway_request`]).
    parts: http::request::Parts,
    body: Payload,
    /// API Gateway's `clientCertPem` (REST: `requestContext.identity.clientCert`, HTTP
    /// API: `requestContext.authentication.clientCert`).
    context_pem: Option<ContextPem>,
    client_ip: Option<IpAddr>,
    request_id: Arc<str>,
}

impl HttpEvent {
    /// The event's shape; its answer must have the same.
    pub fn kind(&self) -> EventKind {
        self.kind
    }
}

/// Reads the JSON of a Lambda event as an HTTP request.
///
/// The shape is told as lambda_http tells it, in its order: REST (`httpMethod` and
/// `requestContext.httpMethod`), HTTP API (`requestContext.http.method`), ALB
/// (`httpMethod` and `requestContext.elb`). Then:
/// * [`EventError::Authorizer`], [`EventError::WebSocket`]: events that read as REST or
///   HTTP API requests but are a Lambda authorizer's input or a WebSocket API's event.
/// * [`EventError::BadHeader`]: a header name that is no token, a value with a control
///   character (API Gateway passes them on).
/// * [`EventError::BadUrl`]: a host that is no host (an ALB passes any `Host` on), a
///   path or query that do not make a URI.
/// * [`EventError::BadBody`]: a body marked base64 that is not.
/// * [`EventError::Unrecognised`]: anything else (other services' events, a field
///   certgate reads with another JSON type).
///
/// As lambda_http: the host is the `Host` header's (API Gateway: else
/// `requestContext.domainName`), normalized as a URL's (lower case, no default port);
/// REST and ALB query parameters are written back form-encoded (an ALB's decoded first,
/// as lambda_http does); an HTTP API's `rawQueryString` is kept as it is, and its
/// `cookies` become one `Cookie` header. Unlike lambda_http: the `Host` header of an ALB
/// with multi-value headers on is read from `multiValueHeaders` (lambda_http read none,
/// and the gateway answered 400), a name in both `headers` and `multiValueHeaders` (REST,
/// ALB) has all the values of `multiValueHeaders` (lambda_http kept `headers`' last one),
/// parameters keep the event's order (not a hash map's),
/// and a path that does not start with `/` is [`EventError::BadUrl`].
pub fn parse_event(json: &str) -> Result<HttpEvent, EventError> {
    let raw: RawEvent<'_> =
        serde_json::from_str(json).map_err(|error| EventError::Unrecognised(error.to_string()))?;
    let (kind, method, context) = shape(&raw)?;
    let mut headers = headers(kind, &raw)?;
    if let (EventKind::HttpV2, Some(cookies)) = (kind, &raw.cookies) {
        let joined = cookies.iter().map(|c| &**c).collect::<Vec<_>>().join("; ");
        // lambda_http leaves a value that is no header value out, and so does this.
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(http::header::COOKIE, value);
        }
    }
    let uri = uri(kind, &raw, context, &headers)?;
    let body = body(kind, &raw)?;
    let (client_ip, request_id) = match (kind, context) {
        (EventKind::Alb, _) | (_, None) => (
            alb_client_ip(&headers),
            header_str(&headers, "x-amzn-trace-id").map(Arc::from),
        ),
        (_, Some(context)) => {
            let source_ip = match kind {
                EventKind::RestV1 => context.identity.as_ref().and_then(|i| i.source_ip.as_ref()),
                _ => context.http.as_ref().and_then(|h| h.source_ip.as_ref()),
            };
            (
                source_ip.and_then(|ip| ip.parse().ok()),
                context.request_id.as_ref().map(|id| Arc::from(&*id.0)),
            )
        }
    };
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.headers = headers;
    Ok(HttpEvent {
        kind,
        parts,
        body,
        context_pem: raw
            .request_context
            .and_then(|context| context_certificate_pem(kind, context)),
        client_ip,
        // `Arc<str>::default()` shares one static empty string: no allocation.
        request_id: request_id.unwrap_or_default(),
    })
}

/// The event's kind and method, or why it is no HTTP request served here.
fn shape<'e, 'a>(
    raw: &'e RawEvent<'a>,
) -> Result<(EventKind, Method, Option<&'e RawContext<'a>>), EventError> {
    let context = raw.request_context.as_ref();
    let top = method(raw.http_method.as_ref());
    let (kind, method) = match (top, context) {
        (Some(Ok(method)), Some(c)) if method_is_valid(c.http_method.as_ref()) => {
            (EventKind::RestV1, method)
        }
        (
            _,
            Some(RawContext {
                http: Some(http), ..
            }),
        ) if method_is_valid(http.method.as_ref()) => match method(http.method.as_ref()) {
            Some(Ok(method)) => (EventKind::HttpV2, method),
            _ => return Err(unrecognised()),
        },
        (Some(Ok(method)), Some(RawContext { elb: Some(_), .. })) => (EventKind::Alb, method),
        _ => return Err(unrecognised()),
    };
    if kind != EventKind::Alb {
        if raw.authorizer_type.0 || raw.method_arn.0 || raw.route_arn.0 {
            return Err(EventError::Authorizer);
        }
        if let Some(c) = context.filter(|c| c.connection_id.0 || c.event_type.0) {
            let route = c.route_key.as_ref().map_or("unknown", |route| &**route);
            return Err(EventError::WebSocket(route.to_owned()));
        }
    }
    Ok((kind, method, context))
}

fn unrecognised() -> EventError {
    EventError::Unrecognised(
        "it has neither `httpMethod` with `requestContext.httpMethod` (REST API) nor \
         `requestContext.http.method` (HTTP API) nor `httpMethod` with `requestContext.elb` \
         (ALB)"
            .to_owned(),
    )
}

/// An event's method as lambda_http reads it: empty is `GET`.
fn method(text: Option<&Text<'_>>) -> Option<Result<Method, http::method::InvalidMethod>> {
    text.map(|text| match &**text {
        "" => Ok(Method::GET),
        text => Method::from_bytes(text.as_bytes()),
    })
}

fn method_is_valid(text: Option<&Text<'_>>) -> bool {
    matches!(method(text), Some(Ok(_)))
}

/// The request's headers: for REST and ALB every value of `multiValueHeaders`, and
/// `headers` for the names it lacks. API Gateway puts a repeated header's last value in
/// `headers` and all of them in `multiValueHeaders`: read from there, a certificate
/// header sent twice stays two values, which the gateway refuses as conflicting
/// (lambda_http let `headers` have the last word, and one of them went unseen).
fn headers(kind: EventKind, raw: &RawEvent<'_>) -> Result<HeaderMap, EventError> {
    let bad = || EventError::BadHeader(kind);
    let multi = match kind {
        EventKind::HttpV2 => &[][..],
        EventKind::RestV1 | EventKind::Alb => &raw.multi_value_headers.0[..],
    };
    let mut map = HeaderMap::with_capacity(raw.headers.0.len().max(multi.len()));
    for (name, values) in multi {
        add(&mut map, name, values).ok_or_else(bad)?;
    }
    for (name, values) in &raw.headers.0 {
        let covered = multi.iter().any(|(many, values)| {
            values.iter().next().is_some() && many.eq_ignore_ascii_case(name)
        });
        if covered {
            // The name is a valid one's, in another case: only the values are checked.
            if !values.iter().all(|value| is_header_value(value.as_bytes())) {
                return Err(bad());
            }
        } else {
            add(&mut map, name, values).ok_or_else(bad)?;
        }
    }
    Ok(map)
}

/// Adds one JSON header as lambda_http does: one string replaces, an array appends.
fn add(map: &mut HeaderMap, name: &str, values: &Values<'_>) -> Option<()> {
    let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
    match values {
        Values::One(value) => {
            map.insert(name, HeaderValue::from_str(value).ok()?);
        }
        Values::Many(values) => {
            for value in values {
                map.append(&name, HeaderValue::from_str(value).ok()?);
            }
        }
    }
    Some(())
}

/// What `HeaderValue::from_str` takes: no control character but tab.
fn is_header_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| (b >= 0x20 && b != 0x7f) || b == b'\t')
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

/// The URI the client sent, as the event has it: lambda_http resolves dot segments and
/// puts the stage in front (`/prod/orders`), neither of which the client sent through a
/// custom domain (which mTLS requires). The scheme is `https`: every front end of a
/// Lambda function here terminates TLS, whatever `X-Forwarded-Proto` said. The gateway
/// then normalizes this one path for routing and the backend alike.
fn uri(
    kind: EventKind,
    raw: &RawEvent<'_>,
    context: Option<&RawContext<'_>>,
    headers: &HeaderMap,
) -> Result<http::Uri, EventError> {
    let bad = || EventError::BadUrl(kind);
    let path = match kind {
        EventKind::HttpV2 => raw.raw_path.as_ref().or(raw.path.as_ref()),
        EventKind::RestV1 | EventKind::Alb => raw.path.as_ref(),
    }
    .map_or("", |path| &**path);
    // A path is absolute; any other text after the host would change the host.
    if !path.is_empty() && !path.starts_with('/') {
        return Err(bad());
    }
    let path = if path.is_empty() { "/" } else { path };
    let mut path_and_query: String =
        percent_encoding::utf8_percent_encode(path, NOT_IN_PATH).collect();
    if let Some(query) = query(kind, raw) {
        path_and_query.push('?');
        path_and_query.push_str(&query);
    }
    let mut uri = http::uri::Builder::new().path_and_query(path_and_query);
    let host = header_str(headers, "host").or_else(|| match kind {
        EventKind::Alb => None,
        EventKind::RestV1 | EventKind::HttpV2 => context?.domain_name.as_deref(),
    });
    if let Some(host) = host {
        // Without one the gateway answers 400: it never makes a host up.
        uri = uri
            .scheme(http::uri::Scheme::HTTPS)
            .authority(authority(host, headers).ok_or_else(bad)?);
    }
    uri.build().map_err(|_| bad())
}

/// `host` as lambda_http makes it part of a URL with `X-Forwarded-Proto`'s scheme (a
/// URL's host: lower case, percent-decoded, IDNA, no default port), or `None` if it is
/// no host.
fn authority(host: &str, headers: &HeaderMap) -> Option<http::uri::Authority> {
    let scheme = header_str(headers, "x-forwarded-proto").unwrap_or("https");
    let mut text = String::with_capacity(scheme.len() + host.len() + 4);
    for part in [scheme, "://", host, "/"] {
        text.push_str(part);
    }
    let url = url::Url::parse(&text).ok()?;
    url.authority().parse().ok()
}

/// The query string: an HTTP API's `rawQueryString` as it is; REST and ALB parameters
/// written back form-encoded, `multiValueQueryStringParameters` if it has any. `None`:
/// no `?`.
fn query(kind: EventKind, raw: &RawEvent<'_>) -> Option<String> {
    let parameters = match kind {
        EventKind::HttpV2 => {
            return raw
                .raw_query_string
                .as_ref()
                .filter(|query| !query.is_empty())
                .map(|query| query.0.clone().into_owned());
        }
        EventKind::RestV1 | EventKind::Alb => {
            let multi = &raw.multi_value_query_string_parameters;
            if multi.0.is_empty() {
                &raw.query_string_parameters
            } else {
                multi
            }
        }
    };
    if parameters.0.is_empty() {
        return None;
    }
    let pairs = parameters
        .0
        .iter()
        .flat_map(|(name, values)| values.iter().map(move |value| (&**name, value)));
    let mut query = form_urlencoded::Serializer::new(String::new());
    match kind {
        // An ALB passes parameters as the client encoded them; lambda_http decodes
        // them (as a form: `+` is a space) before encoding them again.
        EventKind::Alb => {
            let sent = alb_query_text(pairs);
            query.extend_pairs(form_urlencoded::parse(sent.as_bytes()));
        }
        EventKind::RestV1 | EventKind::HttpV2 => {
            query.extend_pairs(pairs);
        }
    }
    Some(query.finish())
}

/// ALB parameters as one query text, `name=value&...`, the text lambda_http decodes
/// (its encoding and percent-decoding of the parameters give them back as they came,
/// but for a space, which becomes `+`).
fn alb_query_text<'p>(pairs: impl Iterator<Item = (&'p str, &'p str)>) -> String {
    let mut text = String::new();
    for (name, value) in pairs {
        if !text.is_empty() {
            text.push('&');
        }
        for part in [name, "=", value] {
            text.extend(part.chars().map(|c| if c == ' ' { '+' } else { c }));
        }
    }
    text
}

fn body(kind: EventKind, raw: &RawEvent<'_>) -> Result<Payload, EventError> {
    Ok(match &raw.body {
        None => Payload::empty(),
        Some(text) if raw.is_base64_encoded == Some(true) => Payload::from(
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|_| EventError::BadBody(kind))?,
        ),
        Some(text) => Payload::from(text.0.clone().into_owned().into_bytes()),
    })
}

/// API Gateway's `clientCertPem` as the event spells it, a JSON string literal with a
/// `\n` escape per PEM line. Read as text, every event unescaped it into a buffer grown
/// as it went and copied it out; kept as the literal, a client's next request finds its
/// chain by these bytes ([`PresentedChains::decode_by`]) and only a new one is unescaped.
#[derive(Debug)]
struct ContextPem(Box<str>);

impl ContextPem {
    fn literal(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The PEM text. serde_json checked the literal when it read the event, so this
    /// does not fail; if it did, the empty text would be no certificate (fail closed).
    fn text(&self) -> Vec<u8> {
        serde_json::from_str::<String>(&self.0)
            .unwrap_or_default()
            .into_bytes()
    }
}

/// `clientCertPem` from API Gateway's request context.
fn context_certificate_pem(kind: EventKind, context: RawContext<'_>) -> Option<ContextPem> {
    let client_cert = match kind {
        EventKind::RestV1 => context.identity?.client_cert,
        EventKind::HttpV2 => context.authentication?.client_cert,
        EventKind::Alb => None,
    }?;
    Some(ContextPem(client_cert.client_cert_pem?.as_str().into()))
}

/// The ALB appends the peer address to X-Forwarded-For: the last entry is the only one
/// the client did not write. A client that sent its own header line leaves the ALB's in
/// the last one.
fn alb_client_ip(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
}

/// Turns a read event into the core's request.
///
/// The certificate comes only from the source `gateway.toml` declares; every
/// certificate header is removed whatever the source, and the ones that were present
/// without being trusted are listed in `ignored_certificate_sources`. The chains of API
/// Gateway and of an ALB are decoded through `chains`: a client's next request reuses
/// its chain.
pub fn to_gateway_request(
    event: HttpEvent,
    config: &GatewayConfig,
    chains: &PresentedChains,
) -> (EventKind, GatewayRequest) {
    let HttpEvent {
        kind,
        mut parts,
        body,
        context_pem,
        client_ip,
        request_id,
    } = event;
    let settings = &config.deployment;
    let carried = CertificateHeaders::take(&mut parts.headers, settings.alb_header.names());

    // The ALB's headers are evidence only in an ALB event: in an API Gateway event (or a
    // Lambda function URL's, which has the same shape) the client wrote them.
    let source = match settings.certificate_source {
        CertificateSource::Alb if kind != EventKind::Alb => None,
        source => Some(source),
    };
    let mut ignored: Vec<&'static str> = carried.names().collect();
    let trusted = match source {
        Some(CertificateSource::Apigateway) => context_pem.map(|pem| {
            chains
                .decode_by(pem.literal(), || pem.text().into())
                .map(ClientCertificate::Presented)
                .map_err(|source| ForwardedError::Certificate {
                    header: "requestContext.clientCert",
                    source,
                })
        }),
        _ => {
            if context_pem.is_some() {
                ignored.push("requestContext.clientCert");
            }
            source.and_then(|source| from_headers(source, &carried, &settings.alb_header, chains))
        }
    };
    ignored.retain(|name| source.is_none_or(|source| !carries(source, name)));

    let host = parts
        .uri
        .authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| header_str(&parts.headers, "host"))
        .unwrap_or_default();
    let certificate = match trusted {
        _ if !config.requests_client_certificate(host) => ClientCertificate::Absent,
        None => ClientCertificate::Absent,
        Some(Ok(certificate)) => certificate,
        Some(Err(error @ ForwardedError::Conflicting { .. })) => {
            ClientCertificate::Conflicting(error.to_string())
        }
        Some(Err(error)) => ClientCertificate::Undecodable(error.to_string()),
    };
    (
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
    )
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
    alb_header: &AlbHeader,
    chains: &PresentedChains,
) -> Option<Result<ClientCertificate, ForwardedError>> {
    let single = |name: &str| {
        carried
            .single(name)
            .map_err(|repeated| ForwardedError::repeated(name, repeated))
    };
    match source {
        CertificateSource::Apigateway => None,
        CertificateSource::Alb => match (single(alb_header.chain()), single(alb_header.leaf())) {
            (Err(error), _) | (_, Err(error)) => Some(Err(error)),
            (Ok(Some(_)), Ok(Some(_))) => Some(Err(ForwardedError::Conflicting {
                what: format!("both {} and {}", alb_header.chain(), alb_header.leaf()),
            })),
            (Ok(Some(chain)), Ok(None)) => Some(
                forwarded::alb(chain, "x-amzn-mtls-clientcert", chains)
                    .map(ClientCertificate::Presented),
            ),
            (Ok(None), Ok(Some(leaf))) => Some(
                forwarded::alb(leaf, "x-amzn-mtls-clientcert-leaf", chains)
                    .map(ClientCertificate::Presented),
            ),
            (Ok(None), Ok(None)) => None,
        },
        // Proxies append elements; the last header's last element is the nearest's.
        CertificateSource::Xfcc => carried
            .last("x-forwarded-client-cert")
            .map(|value| forwarded::xfcc(value).map(ClientCertificate::from_chain)),
        CertificateSource::Rfc9440 => match (single("client-cert"), single("client-cert-chain")) {
            (Err(error), _) | (_, Err(error)) => Some(Err(error)),
            (Ok(cert), Ok(chain)) => {
                cert.map(|cert| forwarded::rfc9440(cert, chain).map(ClientCertificate::from_chain))
            }
        },
    }
}

fn header_str<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
