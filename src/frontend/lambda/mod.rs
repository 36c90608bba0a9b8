//! Lambda events in, Lambda responses out.

mod event;
mod response;

pub use event::{EventError, EventKind, parse_event, to_gateway_request};
pub use response::LambdaResponse;
