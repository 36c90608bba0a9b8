//! Arguments several commands share: where the deployment is, and the clock.
//!
//! A deployment is a folder or an S3 prefix, given by `--config` or, as for the Lambda
//! function, by `CERTGATE_CONFIG`. It is read through [`Origin`], the function's own
//! loader: one GET of the bundle `certgate trust push` wrote, so a command sees exactly
//! what the function would.

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow};
use certgate::files::SourceFile;
use certgate::gateway::Deployment;
use certgate::source::origin::Origin;
use certgate::source::refresh::DeploymentSource as _;
use certgate::source::s3::{Fetch, FetchedDeployment};
use certgate::source::secrets::{SecretReader, secret_refs};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the deployment is when `--config` is not given (the Lambda function's setting).
pub(crate) const CONFIG_ENV: &str = "CERTGATE_CONFIG";

/// `--config DIR|s3://bucket/prefix [--now T]`, for commands that load a deployment.
#[derive(clap::Args)]
pub(crate) struct DeploymentArgs {
    /// The deployment: a folder (gateway.toml, policies/, ca/, crl/, certificates/) or
    /// `s3://bucket/prefix` as written by `certgate trust push` (one GET of its bundle).
    /// Default: $CERTGATE_CONFIG.
    #[arg(long, value_name = "DIR|S3")]
    pub(crate) config: Option<String>,
    /// Use this time instead of now (RFC 3339, e.g. 2030-01-01T00:00:00Z): for
    /// expiry, CRL freshness and DateTime.UtcNow.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub(crate) now: Option<OffsetDateTime>,
}

impl DeploymentArgs {
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// `--config`, else `CERTGATE_CONFIG`, else an error saying what to pass.
    pub(crate) fn config(&self) -> anyhow::Result<String> {
        require_config(self.config.as_deref())
    }
}

/// `--config` when given, else `CERTGATE_CONFIG` when set and not blank.
pub(crate) fn config_or_env(config: Option<&str>) -> Option<String> {
    config.map(str::to_owned).or_else(|| {
        std::env::var(CONFIG_ENV)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    })
}

/// [`config_or_env`], or an error that says what to pass.
pub(crate) fn require_config(config: Option<&str>) -> anyhow::Result<String> {
    config_or_env(config).ok_or_else(|| {
        anyhow!(
            "no deployment given: pass --config DIR (a deployment folder) or --config \
             s3://bucket/prefix (written by `certgate trust push`), or set {CONFIG_ENV} to one \
             of them"
        )
    })
}

/// `--named-value name=value`, repeatable: for commands that run policies offline
/// (`check`, `invoke`), where the deployment's own values may be missing or secret.
#[derive(clap::Args)]
pub(crate) struct NamedValueArgs {
    /// Use VALUE for `{{NAME}}` in policies, over (or in addition to) gateway.toml's
    /// [named_values]. Repeatable.
    #[arg(long = "named-value", value_name = "NAME=VALUE", value_parser = parse_named_value)]
    named_values: Vec<(String, String)>,
}

impl NamedValueArgs {
    /// The values given, the last one winning for a name given twice.
    pub(crate) fn values(&self) -> BTreeMap<String, String> {
        self.named_values.iter().cloned().collect()
    }
}

/// `--named-value`: `name=value`, the name as APIM allows it. The value is never echoed
/// in the error: it may be a secret.
fn parse_named_value(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or("expected NAME=VALUE, e.g. --named-value backend-host=orders.internal")?;
    if !certgate::config::is_named_value_name(name) {
        return Err(format!(
            "`{name}` is not a named value name: use 1 to 256 letters, digits, `.`, `-` or `_`"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `--now`: an RFC 3339 time.
pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("{e}; expected RFC 3339, e.g. 2026-01-01T00:00:00Z"))
}

/// Reads the deployment at `config` (a folder, or `s3://bucket/prefix` with the S3
/// client of the standard AWS environment); the read's warnings (e.g. no bundle) go to
/// stderr.
pub(crate) fn read(config: &str) -> anyhow::Result<FetchedDeployment> {
    let fetched = runtime()?
        .block_on(async {
            let origin = Origin::from_config(config).await?;
            anyhow::Ok(origin.fetch(None).await?)
        })
        .map_err(|error| {
            failed(
                format!("cannot read the deployment {config}"),
                config,
                error,
            )
        })?;
    let Fetch::Loaded(fetched) = fetched else {
        anyhow::bail!("{config}: S3 answered 'not modified' to an unconditional GET");
    };
    for warning in &fetched.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(fetched)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The named values to load `files` with: `overrides` (`--named-value`), and the value
/// of every secret named value not among them, read from Secrets Manager or SSM with
/// the standard AWS environment, as the function reads them.
pub(crate) fn named_values(
    config: &str,
    files: &[SourceFile],
    mut overrides: BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut refs = secret_refs(files);
    refs.retain(|name, _| !overrides.contains_key(name));
    if refs.is_empty() {
        return Ok(overrides);
    }
    let read = runtime()?
        .block_on(SecretReader::default().read(&refs))
        .map_err(|error| {
            failed(
                "cannot read the secret named values".to_owned(),
                config,
                error,
            )
        })?;
    overrides.extend(read.into_map());
    Ok(overrides)
}

/// Reads and loads a deployment with `named_values` over its own (secret ones read as
/// [`named_values`] does); a load error is printed as `check` prints it and becomes an
/// error of the command.
pub(crate) fn load(
    config: &str,
    now: OffsetDateTime,
    overrides: BTreeMap<String, String>,
) -> anyhow::Result<Deployment> {
    let fetched = read(config)?;
    let values = named_values(config, &fetched.files, overrides)?;
    Deployment::load_with_named_values(&fetched.files, fetched.version, now, values)
        .map_err(|e| anyhow!("{}", e.render()))
}

/// `error` behind `what`, with a `help:` line when the fix is not in its text: S3 and
/// the AWS SDK say what failed, not what to set.
pub(crate) fn failed(what: String, config: &str, error: impl Into<anyhow::Error>) -> anyhow::Error {
    let error = error.into();
    match hint(&format!("{error:#}"), config) {
        Some(help) => anyhow!("{what}: {error:#}\nhelp: {help}"),
        None => error.context(what),
    }
}

/// What to do about a failure to read `config`, recognised by S3's error code or the
/// SDK's message (the SDK has no typed error for the last two).
fn hint(error: &str, config: &str) -> Option<String> {
    let push = format!("`certgate trust push DIR {config}`");
    if error.contains("NoSuchBucket") {
        Some(format!(
            "the bucket does not exist: check its name (and AWS_ENDPOINT_URL_S3, if set), or \
             create it and run {push}"
        ))
    } else if error.contains("holds no deployment") {
        Some(format!(
            "check the prefix, or put a deployment there with {push}"
        ))
    } else if error.contains("AccessDenied") && error.contains("named value") {
        Some(
            "the credentials may not read this secret: grant secretsmanager:GetSecretValue \
             (or ssm:GetParameter and kms:Decrypt), or pass --named-value NAME=VALUE to \
             check or invoke offline"
                .to_owned(),
        )
    } else if error.contains("no providers in chain provided credentials") {
        Some(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
             AWS_PROFILE (see `aws configure` or `aws sso login`)"
                .to_owned(),
        )
    } else if error.contains("A region must be set") {
        Some(
            "no AWS region: set AWS_REGION to the bucket's region (e.g. eu-west-1), or a \
             region in the AWS profile"
                .to_owned(),
        )
    } else {
        None
    }
}
