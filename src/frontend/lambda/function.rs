//! The Lambda function (`certgate-lambda`): settings from the environment, the deployment
//! loaded at cold start and kept fresh in the background, one event in and one response
//! out, with a JSON log line and an EMF metrics line per request.
//!
//! * `CERTGATE_CONFIG`: `s3://bucket/prefix` (as written by `certgate trust push`) or a
//!   local folder. Required.
//! * `CERTGATE_REFRESH_SECONDS`: how often the background task looks for a new deployment
//!   (one conditional GET); default 60, `0` turns refreshing off.
//! * `RUST_LOG` (or Lambda's `AWS_LAMBDA_LOG_LEVEL`): log filter, default `info`.
//!
//! Answers ([`handle_event`], the path `certgate invoke` runs too):
//! * API Gateway REST, HTTP API and ALB events go through the gateway; policy rejections
//!   are ordinary responses. Every response carries [`VERSION_HEADER`].
//! * No deployment ever loaded (S3 unreachable at cold start, a broken first deployment):
//!   503 with a JSON body, in the event's own shape; never proxied.
//! * An event that is not an HTTP request of those three kinds (another service's, a
//!   Lambda authorizer's, a WebSocket API's): a Lambda error ([`FunctionError`],
//!   `errorType` `certgate::NotAnHttpEvent`) naming what was expected. Nothing HTTP is
//!   waiting for an answer to such an event, and an error makes the mistake visible in
//!   the function's `Errors` metric instead of hiding it in a response.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::metrics::RequestMetric;
use super::{Carried, EventError, EventKind, LambdaResponse, handle_event};
use crate::frontend::task::AbortOnDrop;
use crate::gateway::{Build, Decision, Deployment};

use crate::source::origin::Origin;
use crate::source::refresh::{Refresher, Snapshot};
use crate::source::s3::{ClientOptions, S3Error, S3Source, s3_client};
use crate::source::secrets::SecretReader;

/// Response header with the version of the deployment that answered (`none` for a 503
/// without a deployment).
pub const VERSION_HEADER: &str = "x-certgate-deployment";

/// Default of `CERTGATE_REFRESH_SECONDS`.
pub(crate) const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// Bound on one S3 request, retries included. Lambda's init phase lasts at most 10 s.
pub(crate) const S3_TIMEOUT: Duration = Duration::from_secs(4);

/// Bound on the cold-start load's waiting (S3, secrets); past it the function starts
/// without a deployment (503) and the background task keeps trying. The build that
/// follows a fetch runs to its end on this thread (CPU work, bounded by the
/// deployment's limits, that no timeout could stop).
pub(crate) const COLD_START_BUDGET: Duration = Duration::from_secs(8);

/// The function's settings, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `CERTGATE_CONFIG`.
    pub config: String,
    /// `CERTGATE_REFRESH_SECONDS`; `None` when refreshing is off.
    pub refresh: Option<Duration>,
}

impl Settings {
    /// Reads `CERTGATE_CONFIG` and `CERTGATE_REFRESH_SECONDS`.
    ///
    /// # Errors
    /// A message naming the variable that is missing or malformed.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(
            std::env::var("CERTGATE_CONFIG").ok().as_deref(),
            std::env::var("CERTGATE_REFRESH_SECONDS").ok().as_deref(),
        )
    }

    fn from_vars(config: Option<&str>, refresh: Option<&str>) -> Result<Self, String> {
        let config = config
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or("CERTGATE_CONFIG is not set: set it to s3://bucket/prefix (written by `certgate trust push`) or a deployment folder")?
            .to_owned();
        let refresh = match refresh.map(str::trim).filter(|r| !r.is_empty()) {
            None => Some(DEFAULT_REFRESH),
            Some(text) => match text.parse::<u64>() {
                Ok(0) => None,
                Ok(seconds) => Some(Duration::from_secs(seconds)),
                Err(_) => {
                    return Err(format!(
                        "CERTGATE_REFRESH_SECONDS={text:?} is not a number of seconds (0 turns refreshing off)"
                    ));
                }
            },
        };
        Ok(Self { config, refresh })
    }
}

/// Where `config` points, with an S3 client bounded by `timeout` per request (retries
/// included, at most 2 attempts): the cold start must fit Lambda's 10 s init phase.
///
/// # Errors
/// A malformed `s3://` URI, an unusable `AWS_CA_BUNDLE`.
pub async fn origin(config: &str, timeout: Duration) -> Result<Origin, S3Error> {
    if config.starts_with("s3://") {
        let location = config.parse()?;
        let client = s3_client(&aws_options(timeout)).await?;
        Ok(Origin::S3(S3Source::new(client, location)))
    } else {
        Origin::from_config(config).await
    }
}

/// The AWS clients' settings in the function (S3, and Secrets Manager and SSM for
/// named values): calls bounded by `timeout`, one retry.
fn aws_options(timeout: Duration) -> ClientOptions {
    ClientOptions {
        timeout: Some(timeout),
        max_attempts: Some(2),
        ..ClientOptions::default()
    }
}

/// Cold start: builds the refresher for `settings` (log lines name its version from
/// then on, through `versions`), loads the first deployment within
/// `COLD_START_BUDGET` (a failure is logged, and the function answers 503 until a
/// refresh succeeds), and starts the background refresh.
///
/// # Errors
/// A malformed `CERTGATE_CONFIG`, an unusable `AWS_CA_BUNDLE`.
pub async fn start(settings: &Settings, versions: &VersionSlot) -> Result<Function, S3Error> {
    let origin = origin(&settings.config, S3_TIMEOUT).await?;
    let secrets = SecretReader::new(aws_options(S3_TIMEOUT));
    let refresher = Arc::new(
        Refresher::with_secrets(origin, Deployment::from_files as Build, secrets)
            .with_tick(Deployment::keys_tick()),
    );
    let snapshot = refresher.snapshot();
    let _ = versions.set(Arc::clone(&snapshot));
    let started = Instant::now();
    match tokio::time::timeout(COLD_START_BUDGET, refresher.load_initial()).await {
        Ok(Ok(loaded)) => tracing::info!(
            config = %settings.config,
            version = %loaded.version,
            deployment = %loaded.version,
            ms = started.elapsed().as_millis() as u64,
            "cold start: deployment loaded"
        ),
        Ok(Err(error)) => tracing::error!(
            config = %settings.config,
            error = %error,
            "cold start: no deployment loaded; answering 503 until a refresh succeeds"
        ),
        Err(_) => tracing::error!(
            config = %settings.config,
            budget_ms = COLD_START_BUDGET.as_millis() as u64,
            "cold start: loading the deployment took too long; answering 503 until a refresh succeeds"
        ),
    }
    // With refreshing off, a failed cold start still retries: there is nothing to serve.
    let interval = settings.refresh.unwrap_or(Duration::MAX);
    let refresh = (settings.refresh.is_some() || snapshot.current().is_none())
        .then(|| Arc::clone(&refresher).spawn(interval));
    Ok(Function {
        snapshot,
        _refresh: refresh.map(AbortOnDrop),
    })
}

/// An event that is not an API Gateway or ALB HTTP request: the invocation fails with this.
#[derive(Debug)]
pub struct FunctionError(EventError);

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certgate-lambda serves API Gateway REST, HTTP API and ALB events only: {}",
            self.0
        )
    }
}

impl std::error::Error for FunctionError {}

impl From<&FunctionError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: &FunctionError) -> Self {
        Self {
            error_type: "certgate::NotAnHttpEvent".to_owned(),
            error_message: error.to_string(),
        }
    }
}

impl From<FunctionError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        Self::from(&error)
    }
}

/// The function: the snapshot it serves from and the background refresh task (aborted on
/// drop).
pub struct Function {
    snapshot: Arc<Snapshot<Deployment>>,
    _refresh: Option<AbortOnDrop<()>>,
}

/// What one request is logged and counted as.
struct Record<'a> {
    request_id: &'a str,
    kind: Option<EventKind>,
    api: Option<&'a str>,
    carried: &'a Carried,
    decision: &'a str,
    status: u16,
    /// Short and stable: a metric dimension.
    reason: &'a str,
    /// Why, in full, for the log line (answers the gateway gave by itself, non-HTTP
    /// events).
    detail: &'a str,
    deployment: &'a str,
    started: Instant,
}

impl Function {
    /// A function serving from `snapshot`, without a refresh task (tests).
    pub fn with_snapshot(snapshot: Arc<Snapshot<Deployment>>) -> Self {
        Self {
            snapshot,
            _refresh: None,
        }
    }

    /// The snapshot this function serves from.
    pub fn snapshot(&self) -> &Arc<Snapshot<Deployment>> {
        &self.snapshot
    }

    /// One invocation: the response document for an HTTP event
    /// ([`handle_event`], as `certgate invoke` runs it), logged and counted.
    ///
    /// # Errors
    /// [`FunctionError`] when the event is not an HTTP event the function serves.
    pub async fn invoke(
        &self,
        event: &str,
        request_id: &str,
    ) -> Result<LambdaResponse, FunctionError> {
        let started = Instant::now();
        let current = self.snapshot.require();
        let deployment = current.as_ref().map(|current| &current.value);
        let version = deployment.map_or("none", |deployment| deployment.version.as_str());
        match handle_event(deployment, event, OffsetDateTime::now_utc(), false).await {
            Ok(handled) => {
                let response = &handled.outcome.response;
                let reason = match &handled.outcome.decision {
                    Decision::Failed { reason } => reason.as_str(),
                    _ => response
                        .reason
                        .as_deref()
                        .or_else(|| response.status.canonical_reason())
                        .unwrap_or_default(),
                };
                Record {
                    request_id,
                    kind: Some(handled.kind),
                    api: handled.outcome.api.as_deref(),
                    carried: &handled.carried,
                    decision: handled.decision(),
                    status: response.status.as_u16(),
                    reason,
                    detail: &handled.detail,
                    deployment: version,
                    started,
                }
                .finish();
                Ok(handled.response)
            }
            Err(error) => {
                Record {
                    request_id,
                    kind: None,
                    api: None,
                    carried: &Carried::default(),
                    decision: "bad-event",
                    status: 0,
                    reason: "Not an HTTP event",
                    detail: &error.to_string(),
                    deployment: "none",
                    started,
                }
                .finish();
                Err(FunctionError(error))
            }
        }
    }
}

impl Record<'_> {
    /// The request's log line and its EMF line.
    fn finish(self) {
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let kind = match self.kind {
            Some(EventKind::RestV1) => "rest",
            Some(EventKind::HttpV2) => "http-api",
            Some(EventKind::Alb) => "alb",
            None => "unknown",
        };
        let route = self.api.unwrap_or("-");
        let carried = self.carried;
        let ignored = carried.ignored.join(",");
        tracing::info!(
            target: "certgate::request",
            request_id = self.request_id,
            event = kind,
            route,
            certificate = carried.certificate,
            thumbprint = carried.thumbprint.as_deref().unwrap_or("-"),
            subject = carried.subject.as_deref().unwrap_or("-"),
            ignored_certificate_sources = if ignored.is_empty() { "-" } else { &ignored },
            decision = self.decision,
            status = self.status,
            reason = %self.reason,
            detail = %self.detail,
            duration_ms = (duration_ms * 1000.0).round() / 1000.0,
            deployment = %self.deployment,
            "request"
        );
        let metric = RequestMetric {
            decision: self.decision,
            reason: self.reason,
            status: self.status,
            duration_ms,
            ignored_certificates: carried.ignored.len(),
            api: self.api,
            deployment: self.deployment,
        };
        let timestamp_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        emit(&metric.to_emf(timestamp_ms));
    }
}

/// Writes one EMF line to stdout (under the stdout lock: never interleaved).
fn emit(line: &str) {
    println!("{line}");
}

// ------------------------------------------------------------------------------ logging

/// Where log lines read the version being served; filled by the binary once the
/// refresher exists. Lines before that say `none`.
pub(crate) type VersionSlot = Arc<OnceLock<Arc<Snapshot<Deployment>>>>;

/// JSON logs on stdout (one object a line, event fields at the top level, the current
/// span with Lambda's `requestId`), each with a `deployment` member: the version being
/// served, unless the line names its own. Filter from `RUST_LOG`, else
/// `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn init_logging() -> VersionSlot {
    let slot: VersionSlot = Arc::new(OnceLock::new());
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(JsonFields::new())
        .event_format(WithDeployment {
            inner: format,
            slot: Arc::clone(&slot),
        })
        .with_writer(std::io::stdout)
        .try_init();
    slot
}

/// A JSON event format with the deployment version added to every line.
struct WithDeployment<F> {
    inner: F,
    slot: VersionSlot,
}

impl<S, N, F> FormatEvent<S, N> for WithDeployment<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let version = || {
            self.slot
                .get()
                .and_then(|snapshot| snapshot.version())
                .unwrap_or_else(|| "none".to_owned())
        };
        writer.write_str(&add_version(&line, version))
    }
}

/// `line` (one JSON object and a newline) with a `deployment` member, unless it has one.
/// A quote followed by `deployment":` outside a string can only be a member name: inside
/// JSON strings quotes are escaped.
fn add_version(line: &str, version: impl FnOnce() -> String) -> String {
    let body = line.trim_end();
    match body.strip_suffix('}') {
        Some(open) if !body.contains("\"deployment\":") => {
            let version = serde_json::Value::String(version());
            let separator = if open.trim_end().ends_with('{') {
                ""
            } else {
                ","
            };
            format!("{open}{separator}\"deployment\":{version}}}\n")
        }
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment_with_a_clear_error() {
        let s = Settings::from_vars(Some("s3://b/p"), None).unwrap();
        assert_eq!(s.config, "s3://b/p");
        assert_eq!(s.refresh, Some(DEFAULT_REFRESH));
        let s = Settings::from_vars(Some("/dir"), Some("0")).unwrap();
        assert_eq!(s.refresh, None);
        let s = Settings::from_vars(Some("/dir"), Some(" 15 ")).unwrap();
        assert_eq!(s.refresh, Some(Duration::from_secs(15)));
        let e = Settings::from_vars(None, None).unwrap_err();
        assert!(e.contains("CERTGATE_CONFIG is not set"), "{e}");
        let e = Settings::from_vars(Some("/dir"), Some("1m")).unwrap_err();
        assert!(e.contains("CERTGATE_REFRESH_SECONDS"), "{e}");
    }

    #[test]
    fn every_log_line_gets_the_version_once() {
        let line = "{\"level\":\"INFO\",\"message\":\"x \\\"deployment\\\": y\"}\n";
        let out = add_version(line, || "abc".to_owned());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["deployment"], "abc");
        assert!(out.ends_with("}\n"));
        let own = "{\"deployment\":\"old\",\"level\":\"INFO\"}\n";
        assert_eq!(add_version(own, || "new".to_owned()), own);
        assert_eq!(
            add_version("{}\n", || "v".to_owned()),
            "{\"deployment\":\"v\"}\n"
        );
    }
}
