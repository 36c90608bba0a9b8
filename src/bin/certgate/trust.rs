//! `certgate trust push|ls|pull`: a deployment folder to and from an S3 prefix.
//!
//! The S3 client comes from the standard AWS environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL_S3` for an S3-compatible server). `push` runs the same check as
//! `certgate check` first. Exit codes: 0 done, 1 the folder does not pass the check
//! (nothing uploaded), 2 any other error.

mod ls;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use certgate::files::SourceFile;
use certgate::gateway::check_deployment;
use certgate::source::bundle::{BUNDLE_NAME, JSON_BUNDLE_NAME};
use certgate::source::push::{PushOptions, push, reserved_conflicts, truststore_pem};
use certgate::source::read_folder;
use certgate::source::s3::{ClientOptions, Fetch, S3Location, S3Source, s3_client};
use time::OffsetDateTime;

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Check a deployment folder, upload what changed, write the API Gateway truststore PEM
    /// and, last, the bundle the gateway reads.
    Push {
        /// The deployment folder (gateway.toml, policies/, ca/, crl/, certificates/).
        dir: PathBuf,
        /// Where to put it: s3://bucket/prefix (the bucket should be versioned).
        uri: String,
        /// Delete objects under the prefix that are no longer in the folder.
        #[arg(long)]
        delete: bool,
    },
    /// List a deployment in S3: files, CA subjects and expiry dates, warnings.
    Ls {
        /// s3://bucket/prefix
        uri: String,
        /// Judge expiry and CRL freshness at this time instead of now (RFC 3339).
        #[arg(long, value_name = "RFC3339", value_parser = crate::deployment_args::parse_time)]
        at: Option<OffsetDateTime>,
    },
    /// Download a deployment from S3 into a folder.
    Pull {
        /// s3://bucket/prefix
        uri: String,
        /// The folder to write (created if missing; must be empty unless --force).
        dir: PathBuf,
        /// Write into a non-empty folder, replacing files of the same name.
        #[arg(long)]
        force: bool,
    },
}

pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            Command::Push { dir, uri, delete } => run_push(&dir, &uri, delete).await,
            Command::Ls { uri, at } => {
                let source = source(&uri).await?;
                ls::run(&source, at.unwrap_or_else(OffsetDateTime::now_utc)).await
            }
            Command::Pull { uri, dir, force } => run_pull(&uri, &dir, force).await,
        }
    })
}

async fn source(uri: &str) -> anyhow::Result<S3Source> {
    let location: S3Location = uri.parse()?;
    Ok(S3Source::new(
        s3_client(&ClientOptions::default()).await?,
        location,
    ))
}

async fn run_push(dir: &Path, uri: &str, delete: bool) -> anyhow::Result<ExitCode> {
    let location: S3Location = uri.parse()?;
    let files = read_folder(dir)
        .with_context(|| format!("cannot read the deployment folder {}", dir.display()))?;
    let now = OffsetDateTime::now_utc();
    let mut errors = reserved_conflicts(&files);
    let checked = match check_deployment(&files, now) {
        Ok(checked) => Some(checked),
        Err(failed) => {
            errors.extend(failed.errors);
            print_warnings(&failed.warnings);
            None
        }
    };
    let checked = match checked {
        Some(checked) if errors.is_empty() => checked,
        _ => {
            for error in &errors {
                eprintln!("{error}");
            }
            eprintln!(
                "{} does not pass the check ({} error(s)); nothing uploaded",
                dir.display(),
                errors.len()
            );
            return Ok(ExitCode::from(1));
        }
    };
    print_warnings(&checked.warnings);
    outln!("checked: {}", checked.deployment.summary());
    let pem = truststore_pem(&checked.deployment.trust);
    let s3 = S3Source::new(s3_client(&ClientOptions::default()).await?, location);
    let report = push(&s3, &files, &pem, &PushOptions { delete, now }).await?;

    for path in &report.uploaded {
        outln!("uploaded  {path}");
    }
    outln!(
        "uploaded {} file(s), {} unchanged (compared by SHA-256 in object metadata)",
        report.uploaded.len(),
        report.unchanged.len()
    );
    for path in &report.stale {
        if report.deleted.contains(path) {
            outln!("deleted   {path}");
        } else {
            outln!("stale     {path} (in S3, not in the folder; --delete removes it)");
        }
    }
    match &report.truststore {
        None => eprintln!(
            "warning: no CA certificate in ca/root or ca/intermediate: no truststore written"
        ),
        Some(truststore) => {
            let state = if truststore.uploaded {
                "written"
            } else {
                "unchanged"
            };
            let url = format!("s3://{}/{}", s3.location().bucket, truststore.key);
            match &truststore.version_id {
                Some(version) => outln!("truststore {url} {state}, version {version}"),
                None => {
                    outln!("truststore {url} {state}, no version");
                    eprintln!(
                        "warning: the bucket is not versioned; API Gateway's TruststoreVersion \
                         needs an S3 object version: enable versioning on {}",
                        s3.location().bucket
                    );
                }
            }
        }
    }
    outln!(
        "bundle {} {}, deployment version {}",
        report.bundle.key,
        if report.bundle.uploaded {
            "written"
        } else {
            "unchanged"
        },
        report.version
    );
    if report.deleted.iter().any(|path| path == JSON_BUNDLE_NAME) {
        outln!(
            "deleted   {JSON_BUNDLE_NAME} (the bundle of the old format, replaced by {BUNDLE_NAME})"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_pull(uri: &str, dir: &Path, force: bool) -> anyhow::Result<ExitCode> {
    if !force && folder_has_entries(dir)? {
        bail!(
            "{} is not empty; pull into an empty folder, or pass --force to replace files",
            dir.display()
        );
    }
    let source = source(uri).await?;
    let Fetch::Loaded(deployment) = source.fetch(None).await? else {
        bail!("S3 answered 'not modified' to an unconditional GET");
    };
    print_warnings(&deployment.warnings);
    for file in &deployment.files {
        write_file(dir, file)?;
    }
    outln!(
        "pulled {} file(s) of deployment {} into {}",
        deployment.files.len(),
        deployment.version,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn folder_has_entries(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// Writes one file under `dir`; its path was checked clean when the bundle was read.
fn write_file(dir: &Path, file: &SourceFile) -> anyhow::Result<()> {
    let path = file
        .path
        .split('/')
        .fold(dir.to_path_buf(), |path, segment| path.join(segment));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, &file.bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}
