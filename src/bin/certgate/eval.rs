//! `certgate eval 'EXPRESSION'`: evaluates one policy expression against a request built
//! from the flags, and prints the value as JSON.
//!
//! The expression is `@(...)`, `@{...}` or a bare C# expression (`1 + 1`, which is read
//! as `@(1 + 1)`). Errors, at load or while running, are printed on stderr with their
//! position and a caret; the exit code is then 1. With a deployment (`--config DIR`,
//! `--config s3://bucket/prefix` or `CERTGATE_CONFIG`), its trust store answers `Verify()` /
//! `VerifyNoRevocation()`, `certificates/` is `context.Deployment.Certificates` and
//! `gateway.toml`'s `[deployment]` gives `Region` and `ServiceName`; without one `Verify()`
//! is false.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use certgate::cert::decode_chain;
use certgate::expr::{self, Body, Context, Deployment, Limits, Origin, Url, Value};
use certgate::gateway::TrustVerifier;
use certgate::trust::TrustStore;
use time::OffsetDateTime;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The expression: `@(...)`, `@{...}` or a bare C# expression.
    expression: String,
    /// The client certificate (PEM or DER), optionally followed by its intermediates.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The deployment, a folder or `s3://bucket/prefix`: trust store (ca/, crl/),
    /// certificates/, gateway.toml. Default: $CERTGATE_CONFIG; without either, Verify() is
    /// false.
    #[arg(long, value_name = "DIR|S3")]
    config: Option<String>,
    /// The request method.
    #[arg(long, value_name = "M", default_value = "GET")]
    method: String,
    /// The request URL.
    #[arg(long, value_name = "URL", default_value = "https://localhost/")]
    url: String,
    /// A request header, `Name: value`; repeat for more.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A context variable as a string, `name=value`; repeat for more.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The request body.
    #[arg(long, value_name = "TEXT")]
    body: Option<String>,
    /// The caller's IP address.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    ip: String,
    /// The clock (DateTime.UtcNow, Verify()), RFC 3339; default: now.
    #[arg(long, value_name = "RFC3339", value_parser = crate::deployment_args::parse_time)]
    now: Option<OffsetDateTime>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(OffsetDateTime::now_utc);
    let ctx = build_context(&args, now)?;

    let origin = Origin::new("<expression>", 1, 1);
    let trimmed = args.expression.trim_start();
    let compiled = if trimmed.starts_with("@(") || trimmed.starts_with("@{") {
        expr::compile(&args.expression, origin)
    } else {
        expr::compile_expression(&args.expression, origin, &Limits::default())
    };
    let compiled = match compiled {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.render());
            return Ok(ExitCode::from(1));
        }
    };
    match compiled.eval(&ctx) {
        Ok(v) => {
            outln!("{}", render(&v));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", e.render());
            Ok(ExitCode::from(1))
        }
    }
}

fn render(v: &Value) -> String {
    serde_json::to_string_pretty(&v.to_json()).unwrap_or_else(|_| v.to_string())
}

fn build_context(args: &Args, now: OffsetDateTime) -> anyhow::Result<Context> {
    let mut ctx = Context::new(now);
    ctx.request.method = args.method.clone();
    let Some(url) = Url::parse(&args.url) else {
        bail!(
            "--url {} is not an absolute URL (https://host/path?query)",
            args.url
        );
    };
    ctx.request.url = std::sync::Arc::new(url);
    ctx.request.original_url = std::sync::Arc::clone(&ctx.request.url);
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            bail!("--header {h:?} is not 'Name: value'");
        };
        ctx.request.headers.append(name.trim(), value.trim());
    }
    for v in &args.vars {
        let Some((name, value)) = v.split_once('=') else {
            bail!("--var {v:?} is not 'name=value'");
        };
        ctx.variables.insert(name.to_owned(), Value::string(value));
    }
    ctx.request.body = args
        .body
        .as_ref()
        .map(|b| Body::new(b.clone().into_bytes()));
    ctx.request.ip_address = args.ip.clone();
    ctx.request_id = request_id(now).into();

    if let Some(path) = &args.cert {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut certs = decode_chain(&bytes)
            .with_context(|| format!("{} is not a certificate", path.display()))?;
        if certs.is_empty() {
            bail!("{} holds no certificate", path.display());
        }
        let leaf = certs.remove(0);
        ctx.request.certificate = Some(Arc::new(leaf));
        ctx.request.certificate_chain = certs.into();
    }

    if let Some(config) = crate::deployment_args::config_or_env(args.config.as_deref()) {
        let files = crate::deployment_args::read(&config)?.files;
        let (store, diagnostics) = TrustStore::from_files(&files, now);
        for d in &diagnostics {
            eprintln!("warning: {d}");
        }
        let mut deployment = Deployment {
            certificates: Arc::clone(store.uploaded()),
            ..Deployment::default()
        };
        if let Some(toml) = files.iter().find(|f| f.path == "gateway.toml") {
            let table: toml::Table = std::str::from_utf8(&toml.bytes)
                .ok()
                .and_then(|t| t.parse().ok())
                .context("gateway.toml is not valid TOML")?;
            let get = |key: &str| {
                table
                    .get("deployment")
                    .and_then(|d| d.get(key))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            deployment.region = get("region");
            deployment.service_name = get("service_name");
        }
        ctx.deployment = Arc::new(deployment);
        ctx.verifier = Some(Arc::new(TrustVerifier::new(Arc::new(store))));
    }
    Ok(ctx)
}

/// A request id that looks like a Guid, derived from the clock.
fn request_id(now: OffsetDateTime) -> String {
    let n = now.unix_timestamp_nanos() as u128;
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
