//! `certgate-lambda`: the Lambda function. Wiring only; the logic is in
//! `certgate::frontend::lambda::function` (settings, cold start, answers, logs, metrics).

use certgate::frontend::lambda::function::{self, Settings};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let versions = function::init_logging();
    let settings = Settings::from_env().inspect_err(|error| tracing::error!("{error}"))?;
    let function = function::start(&settings, &versions)
        .await
        .inspect_err(|error| tracing::error!("CERTGATE_CONFIG: {error}"))?;
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            function
                .invoke(&event.payload.to_string(), &event.context.request_id)
                .await
        },
    ))
    .await
}
