//! `certgate check --config DIR|s3://bucket/prefix`: loads and compiles everything a
//! deployment holds, as the gateway would at start, and says what is wrong or what loaded.

use std::process::ExitCode;

use certgate::gateway::Deployment;
use certgate::trust::Severity;

use crate::deployment_args;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    deployment: deployment_args::DeploymentArgs,
    #[command(flatten)]
    named_values: deployment_args::NamedValueArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = args.deployment.now();
    let config = args.deployment.config()?;
    let fetched = deployment_args::read(&config)?;
    let values =
        deployment_args::named_values(&config, &fetched.files, args.named_values.values())?;
    let deployment =
        match Deployment::load_with_named_values(&fetched.files, fetched.version, now, values) {
            Ok(d) => d,
            Err(error) => {
                eprint!("{}", with_newline(error.render()));
                return Ok(ExitCode::from(1));
            }
        };
    for d in &deployment.diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            _ => "warning",
        };
        eprintln!("{}: {level}: {}", d.path, d.message);
    }
    if deployment.has_errors() {
        eprintln!("the deployment has errors; fix them before pushing it");
        return Ok(ExitCode::from(1));
    }
    outln!(
        "ok: {} (version {})",
        deployment.summary(),
        deployment.version
    );
    Ok(ExitCode::SUCCESS)
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
