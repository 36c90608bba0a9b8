//! Lambda events in, Lambda responses out.

mod event;
pub mod function;
pub mod metrics;
mod response;

pub use event::{
    EventError, EventKind, panicked_parsing_event, parse_event, probe_kind, to_gateway_request,
};
pub use response::LambdaResponse;

use time::OffsetDateTime;

use crate::gateway::{self, Deployment, GatewayResponse, Outcome};

/// One event through the whole pipeline: what the function returns for it, and how the
/// request ended. The same for `certgate invoke` and the Lambda function.
pub async fn handle_event(
    deployment: &Deployment,
    event: &str,
    now: OffsetDateTime,
    explain: bool,
) -> Result<(LambdaResponse, Outcome), EventError> {
    let request = match parse_event(event) {
        Ok(request) => request,
        // As the function answers it: a client's bad Host is a 400 in the event's shape.
        Err(EventError::BadUrl) => {
            let kind = probe_kind(event).ok_or(EventError::BadUrl)?;
            let mut outcome = Outcome::not_routed(GatewayResponse::bad_url());
            function::set_version(&mut outcome.response, &deployment.version);
            return Ok((LambdaResponse::new(kind, &outcome.response), outcome));
        }
        Err(error) => return Err(error),
    };
    let (kind, request) = to_gateway_request(request, &deployment.config)?;
    let mut outcome = gateway::handle(deployment, request, now, explain).await;
    function::set_version(&mut outcome.response, &deployment.version);
    Ok((LambdaResponse::new(kind, &outcome.response), outcome))
}
