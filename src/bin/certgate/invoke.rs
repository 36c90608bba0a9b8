//! `certgate invoke --config DIR EVENT.json`: one Lambda event through the whole
//! pipeline, proxying for real when the policy lets it through, printing exactly the
//! JSON the Lambda function returns.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use certgate::frontend::lambda::handle_event;

use crate::deployment_args;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    deployment: deployment_args::DeploymentArgs,
    /// Write the decision trace to stderr: the certificate, Verify() verdicts, each
    /// condition, the backend call.
    #[arg(long)]
    explain: bool,
    /// An API Gateway (REST or HTTP API) or ALB event, as in events/.
    event: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = args.deployment.now();
    let deployment = deployment_args::load(&args.deployment.config, now)?;
    let event = std::fs::read_to_string(&args.event)
        .with_context(|| format!("cannot read {}", args.event.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (response, outcome) = runtime
        .block_on(handle_event(&deployment, &event, now, args.explain))
        .with_context(|| format!("{}", args.event.display()))?;
    if args.explain {
        for event in outcome.trace.iter().flatten() {
            let section = event.section.as_str();
            match event.path.as_str() {
                "" => eprintln!("[{section}] {}", event.detail),
                path => eprintln!("[{section}] {path}: {}", event.detail),
            }
        }
        eprintln!(
            "decision: {} {}",
            outcome.decision.as_str(),
            outcome.response.status.as_u16()
        );
    }
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(ExitCode::SUCCESS)
}
