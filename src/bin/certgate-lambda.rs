//! `certgate-lambda`: the Lambda function. Wiring only; the logic is in
//! `certgate::frontend::lambda::function` (settings, cold start, answers, logs, metrics).
//!
//! It allocates with glibc's malloc, not with `certgate`'s mimalloc: at a cold start
//! mimalloc's fresh pages for each size class cost 0.7 ms of CPU and 120 page faults more
//! (`benches/coldstart_cpu.sh`), where a warm event pays about 0.6 µs for glibc
//! (`examples/adapter_cost.rs`), far below what Lambda bills or a client sees.

#![forbid(unsafe_code)]

use certgate::frontend::lambda::function::{self, Settings};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let versions = function::init_logging();
    // A panic is a JSON log line like every other, not bare text on stderr.
    std::panic::set_hook(Box::new(|panic| tracing::error!(%panic, "panic")));
    let settings = Settings::from_env().inspect_err(|error| tracing::error!("{error}"))?;
    let function = function::start(&settings, &versions)
        .await
        .inspect_err(|error| tracing::error!("CERTGATE_CONFIG: {error}"))?;
    let function = &function;
    // The event stays raw JSON until certgate reads it (`parse_event`): a
    // `serde_json::Value` would build a tree only to print it again.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            function
                .invoke(event.payload.get(), &event.context.request_id)
                .await
        },
    ))
    .await
}
