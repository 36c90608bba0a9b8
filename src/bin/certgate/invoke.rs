//! `certgate invoke --config DIR|s3://bucket/prefix EVENT.json`: one Lambda event through the whole
//! pipeline, proxying for real when the policy lets it through, printing exactly the
//! JSON the Lambda function returns (both run `handle_event`). An event the function
//! fails with a Lambda error is an error here (exit 2).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use certgate::frontend::lambda::handle_event;
use certgate::policy::MetricSink;

use crate::deployment_args;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    deployment: deployment_args::DeploymentArgs,
    #[command(flatten)]
    named_values: deployment_args::NamedValueArgs,
    /// Write the decision trace to stderr: the certificate, Verify() verdicts, each
    /// condition, the backend call.
    #[arg(long)]
    explain: bool,
    /// An API Gateway (REST or HTTP API) or ALB event, as in events/.
    event: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = args.deployment.now();
    let mut deployment =
        deployment_args::load(&args.deployment.config()?, now, args.named_values.values())?;
    // Standard output is the Lambda response alone.
    deployment.set_metric_sink(Arc::new(StderrMetrics));
    let event = std::fs::read_to_string(&args.event)
        .with_context(|| format!("cannot read {}", args.event.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let handled = runtime
        .block_on(handle_event(Ok(&deployment), &event, now, args.explain))
        .with_context(|| format!("{}", args.event.display()))?;
    if args.explain {
        for event in handled.outcome.trace.iter().flatten() {
            let section = event.section.as_str();
            match event.path.as_str() {
                "" => eprintln!("[{section}] {}", event.detail),
                path => eprintln!("[{section}] {path}: {}", event.detail),
            }
        }
        eprintln!(
            "decision: {} {}",
            handled.decision(),
            handled.outcome.response.status.as_u16()
        );
    }
    outln!("{}", serde_json::to_string_pretty(&handled.response)?);
    Ok(ExitCode::SUCCESS)
}

/// `emit-metric`'s EMF lines on standard error, beside the `--explain` trace.
struct StderrMetrics;

impl MetricSink for StderrMetrics {
    fn write(&self, line: &str) {
        eprintln!("{line}");
    }
}
