//! What crosses the boundary between a front end and the core.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::body::Payload;
use crate::cert::{Certificate, PresentedChain};

/// The client certificate as the deployment's trusted source delivered it.
#[derive(Debug, Clone, Default)]
pub enum ClientCertificate {
    /// No certificate (or the hostname does not request one): the policy sees null.
    #[default]
    Absent,
    /// The leaf and the intermediates the client presented (untrusted hints).
    Presented(PresentedChain),
    /// The trusted source carried something that is not a certificate. The policy sees
    /// null (fail closed); why is kept for logs and `--explain`.
    Undecodable(String),
    /// The trusted source carried two certificates where a front end sets one (both ALB
    /// headers, a carrier header repeated): one came from the client. The request is
    /// refused (400) before any policy runs; which one the front end meant cannot be told.
    Conflicting(String),
}

impl ClientCertificate {
    /// A decoded chain, leaf first; an empty one is [`ClientCertificate::Absent`].
    pub fn from_chain(chain: Vec<Certificate>) -> Self {
        PresentedChain::from_certificates(chain).map_or(Self::Absent, Self::Presented)
    }

    /// The leaf, if one was presented and decoded.
    pub fn leaf(&self) -> Option<&Certificate> {
        match self {
            Self::Presented(chain) => Some(&chain.leaf),
            _ => None,
        }
    }
}

/// One request, whatever front end it came from.
#[derive(Debug)]
pub struct GatewayRequest {
    /// Method, URI (with scheme and authority when known), headers: certificate headers
    /// are already removed, so nothing downstream can mistake a client's header for
    /// the front end's.
    pub parts: http::request::Parts,
    /// Whole (Lambda) or still arriving (the TLS listener).
    pub body: Payload,
    /// Whether the front end can send the response body on as it arrives (the TLS
    /// listener) or needs it whole (Lambda, whose response is one JSON document).
    pub stream_response: bool,
    pub client_ip: Option<IpAddr>,
    pub certificate: ClientCertificate,
    /// Certificate carriers other than the trusted one that were present (and ignored),
    /// by name, e.g. `x-forwarded-client-cert`; for logs and metrics.
    pub ignored_certificate_sources: Vec<&'static str>,
    /// The front end's request id (API Gateway), or one made up by the front end;
    /// shared with the policy's `context` and the request's log line.
    pub request_id: Arc<str>,
}

/// The answer, before a front end shapes it for its caller.
#[derive(Debug)]
pub struct GatewayResponse {
    pub status: http::StatusCode,
    /// A reason phrase set by policy (`set-status reason`), if any; front ends that
    /// cannot carry one (API Gateway) drop it.
    pub reason: Option<String>,
    /// A `Content-Length` here (the backend's, a policy's or a cached one) may be stale,
    /// as a policy may have changed the body: whoever writes the response frames the
    /// body itself and leaves it out (certgate's listener keeps a HEAD's when it is one
    /// number, the length a GET would get).
    pub headers: http::HeaderMap,
    /// Whole, or streaming from the backend when the request allowed it.
    pub body: Payload,
}

impl GatewayResponse {
    /// 503: no deployment has loaded yet. Fail closed, say nothing about the source (the
    /// log says why), and tell clients when to try again.
    pub fn unavailable() -> Self {
        let mut response = Self::json_error(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "Deployment not loaded",
            br#"{"statusCode": 503, "message": "The gateway has no deployment loaded yet; try again shortly."}"#,
        );
        response.headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("5"),
        );
        response
    }

    /// 502: a front end that sends whole bodies (Lambda) was handed one that is still a
    /// stream. The pipeline reads every response whole for such front ends, so this is a
    /// bug, and it is answered as one, never as an empty body.
    pub fn unbuffered() -> Self {
        Self::json_error(
            http::StatusCode::BAD_GATEWAY,
            "Response not buffered",
            br#"{"statusCode": 502, "message": "The gateway could not buffer the response."}"#,
        )
    }

    /// 400: the request's host and path do not form a URL.
    pub fn bad_url() -> Self {
        Self::json_error(
            http::StatusCode::BAD_REQUEST,
            "Bad Request",
            br#"{"statusCode": 400, "message": "The request's host and path do not form a URL."}"#,
        )
    }

    /// 400: a request header's name or value is not HTTP (a control character).
    pub fn bad_header() -> Self {
        Self::json_error(
            http::StatusCode::BAD_REQUEST,
            "Bad Request",
            br#"{"statusCode": 400, "message": "A request header's name or value is not valid HTTP (a control character)."}"#,
        )
    }

    /// 400: a body its front end marked base64-encoded is not (a malformed event).
    pub fn bad_body() -> Self {
        Self::json_error(
            http::StatusCode::BAD_REQUEST,
            "Bad Request",
            br#"{"statusCode": 400, "message": "The request body is marked base64-encoded but is not valid base64."}"#,
        )
    }

    /// 502: the answer is larger than the front end takes from a Lambda function.
    pub fn too_large_for_front_end() -> Self {
        Self::json_error(
            http::StatusCode::BAD_GATEWAY,
            "Response too large",
            br#"{"statusCode": 502, "message": "The response is larger than the front end accepts from the gateway."}"#,
        )
    }

    fn json_error(status: http::StatusCode, reason: &str, body: &'static [u8]) -> Self {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Self {
            status,
            reason: Some(reason.to_owned()),
            headers,
            body: Payload::Whole(Bytes::from_static(body)),
        }
    }
}
