//! `certgate cert verify FILE --config DIR|s3://bucket/prefix`: `Verify()` of a
//! certificate against a deployment's trust store, as a policy would see it.
//!
//! Prints the store's load diagnostics as warnings on stderr, then `valid` or
//! `invalid: <Reason>: <detail>` on stdout. Exit code: 0 valid, 1 invalid, 2 error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use certgate::cert::decode_chain;
use certgate::trust::{Revocation, TrustStore, Verdict};

use crate::deployment_args;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The client certificate (PEM or DER); may be followed by intermediates.
    file: PathBuf,
    // The trust store: the deployment's ca/root, ca/intermediate, crl, certificates.
    #[command(flatten)]
    deployment: deployment_args::DeploymentArgs,
    /// More intermediates, as the client would present them.
    #[arg(long, value_name = "FILE")]
    chain: Vec<PathBuf>,
    /// VerifyNoRevocation(): skip revocation checks.
    #[arg(long)]
    no_revocation: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.deployment.config()?;
    let now = args.deployment.now();
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut certs = decode_chain(&bytes)
        .with_context(|| format!("{} is not a certificate", args.file.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", args.file.display());
    }
    for path in &args.chain {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let more = decode_chain(&bytes)
            .with_context(|| format!("{} is not a certificate", path.display()))?;
        certs.extend(more);
    }
    let leaf = certs.remove(0);

    let files = deployment_args::read(&config)?.files;
    let (store, diagnostics) = TrustStore::from_files(&files, now);
    for d in &diagnostics {
        eprintln!("warning: {d}");
    }

    let revocation = if args.no_revocation {
        Revocation::NoCheck
    } else {
        Revocation::Check
    };
    let verification = store.verify_explained(&leaf, &certs, now, revocation);
    match verification.verdict {
        Verdict::Valid => {
            outln!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Invalid(reason) => {
            match verification.detail {
                Some(detail) => outln!("invalid: {reason}: {detail}"),
                None => outln!("invalid: {reason}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}
