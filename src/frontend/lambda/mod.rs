//! Lambda events in, Lambda responses out.

mod event;
pub mod function;
pub mod metrics;
mod response;

pub use event::{EventError, EventKind, parse_event, probe_kind, to_gateway_request};
pub use response::LambdaResponse;

use time::OffsetDateTime;

use crate::gateway::{self, Deployment, Outcome};

/// One event through the whole pipeline: what the function returns for it, and how the
/// request ended. The same for `certgate invoke` and the Lambda function.
pub async fn handle_event(
    deployment: &Deployment,
    event: &str,
    now: OffsetDateTime,
    explain: bool,
) -> Result<(LambdaResponse, Outcome), EventError> {
    let request = parse_event(event)?;
    let (kind, request) = to_gateway_request(request, &deployment.config)?;
    let outcome = gateway::handle(deployment, request, now, explain).await;
    Ok((LambdaResponse::new(kind, &outcome.response), outcome))
}
