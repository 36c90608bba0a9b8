//! Lambda events in, Lambda responses out.

mod event;
pub mod function;
pub mod metrics;
mod raw;
mod response;

pub use event::{EventError, EventKind, HttpEvent, parse_event, to_gateway_request};
pub use response::LambdaResponse;

use time::OffsetDateTime;

use crate::gateway::{
    self, ClientCertificate, Decision, Deployment, GatewayRequest, GatewayResponse, Outcome,
};
use crate::source::refresh::NotLoaded;

/// One event's answer and how it came about. `certgate invoke` prints `response`; the
/// function returns it, and logs and counts the rest.
#[derive(Debug)]
pub struct Handled {
    pub(crate) kind: EventKind,
    /// The document the function returns.
    pub response: LambdaResponse,
    /// How the request ended; when the gateway answered by itself (400, 503, 502 too
    /// large), `outcome.response` is that answer.
    pub outcome: Outcome,
    /// No deployment loaded: `outcome.response` is the 503.
    unavailable: bool,
    /// Why the gateway answered by itself, in full; empty otherwise.
    pub(crate) detail: String,
    pub(crate) carried: Carried,
}

impl Handled {
    /// Short and stable, for logs and metrics: the outcome's decision, or `unavailable`.
    pub fn decision(&self) -> &str {
        if self.unavailable {
            "unavailable"
        } else {
            self.outcome.decision.as_str()
        }
    }

    /// An answer the gateway gave by itself, before any policy ran.
    fn own(kind: EventKind, mut response: GatewayResponse, version: &str, detail: String) -> Self {
        set_version(&mut response, version);
        Self {
            kind,
            response: LambdaResponse::new(kind, &response),
            outcome: Outcome::not_routed(response),
            unavailable: false,
            detail,
            carried: Carried::default(),
        }
    }
}

/// The certificate evidence an event carried, for the function's log line.
#[derive(Debug)]
pub(crate) struct Carried {
    /// `absent`, `presented`, `undecodable` or `conflicting`.
    pub(crate) certificate: &'static str,
    pub(crate) thumbprint: Option<String>,
    pub(crate) subject: Option<String>,
    /// Certificate carriers present in the event that are not the deployment's source.
    pub(crate) ignored: Vec<&'static str>,
}

impl Default for Carried {
    fn default() -> Self {
        Self {
            certificate: "absent",
            thumbprint: None,
            subject: None,
            ignored: Vec::new(),
        }
    }
}

impl Carried {
    fn of(request: &GatewayRequest) -> Self {
        let mut carried = Self {
            ignored: request.ignored_certificate_sources.clone(),
            ..Self::default()
        };
        match &request.certificate {
            ClientCertificate::Absent => {}
            ClientCertificate::Presented(chain) => {
                carried.certificate = "presented";
                carried.thumbprint = Some(chain.leaf.thumbprint().to_owned());
                carried.subject = Some(chain.leaf.subject().to_owned());
            }
            ClientCertificate::Undecodable(_) => carried.certificate = "undecodable",
            ClientCertificate::Conflicting(_) => carried.certificate = "conflicting",
        }
        carried
    }
}

/// One event through the whole pipeline: the one path of the Lambda function and of
/// `certgate invoke`, so that `invoke` prints exactly the function's answer.
///
/// * A client's malformed request (a Host that is no host, which an ALB passes on; a
///   control character in a header, which API Gateway passes on): 400 in the event's
///   shape, not a failed invocation that would count as the function's error.
/// * `deployment` not loaded: 503 in the event's shape, never proxied.
/// * An answer larger than the front end takes from Lambda: 502 that says so (returned
///   as is, the front end would fail the request without a word).
///
/// Every answer carries [`function::VERSION_HEADER`] (`none` without a deployment).
///
/// # Errors
/// [`EventError`] when the event is not an HTTP request of a front end served here
/// (another service's event, an authorizer's, a WebSocket API's).
pub async fn handle_event(
    deployment: Result<&Deployment, &NotLoaded>,
    event: &str,
    now: OffsetDateTime,
    explain: bool,
) -> Result<Handled, EventError> {
    let version = deployment.map_or("none", |deployment| deployment.version.as_str());
    let event = match parse_event(event) {
        Ok(event) => event,
        Err(error) => return bad_request(error, version),
    };
    let kind = event.kind();
    let deployment = match deployment {
        Ok(deployment) => deployment,
        Err(not_loaded) => {
            let mut handled = Handled::own(
                kind,
                GatewayResponse::unavailable(),
                version,
                not_loaded.to_string(),
            );
            handled.unavailable = true;
            return Ok(handled);
        }
    };
    let (_, request) = to_gateway_request(event, &deployment.config, &deployment.presented);
    let carried = Carried::of(&request);
    let mut outcome = gateway::handle(deployment, request, now, explain).await;
    set_version(&mut outcome.response, version);
    let mut response = LambdaResponse::new(kind, &outcome.response);
    let mut detail = String::new();
    let size = response.json_len();
    if size > kind.max_response_bytes() {
        detail = format!(
            "the answer ({} from the policy or backend) is {size} bytes as Lambda JSON; \
             this front end takes at most {} from Lambda: have the backend answer \
             smaller, or serve large downloads another way",
            outcome.response.status,
            kind.max_response_bytes()
        );
        let mut too_large = GatewayResponse::too_large_for_front_end();
        set_version(&mut too_large, version);
        response = LambdaResponse::new(kind, &too_large);
        outcome.decision = Decision::Failed {
            reason: too_large.reason.clone().unwrap_or_default(),
        };
        outcome.response = too_large;
    }
    Ok(Handled {
        kind,
        response,
        outcome,
        unavailable: false,
        detail,
        carried,
    })
}

/// The 400 for a client's malformed request; any other error stays one.
fn bad_request(error: EventError, version: &str) -> Result<Handled, EventError> {
    let (kind, response) = match error {
        EventError::BadUrl(kind) => (kind, GatewayResponse::bad_url()),
        EventError::BadHeader(kind) => (kind, GatewayResponse::bad_header()),
        EventError::BadBody(kind) => (kind, GatewayResponse::bad_body()),
        error => return Err(error),
    };
    Ok(Handled::own(kind, response, version, error.to_string()))
}

/// Sets [`function::VERSION_HEADER`]; every response of the function carries it.
fn set_version(response: &mut GatewayResponse, version: &str) {
    if let Ok(value) = http::HeaderValue::from_str(version) {
        response.headers.insert(
            http::HeaderName::from_static(function::VERSION_HEADER),
            value,
        );
    }
}
