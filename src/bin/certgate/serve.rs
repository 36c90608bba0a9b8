//! `certgate serve --config DIR|s3://bucket/prefix`: the deployment behind the local TLS
//! listener, with hot reload of its policies and trust store.

use std::fmt;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use certgate::frontend::local::LocalGateway;
use certgate::frontend::request_log::TextFormat;
use certgate::frontend::tls::Limits;
use clap::builder::TypedValueParser as _;

use crate::deployment_args;

#[derive(clap::Args)]
#[command(after_help = "\
Reloading: the deployment is checked every --reload-seconds, as the Lambda function \
checks it: a folder is re-read and hashed; an S3 prefix is asked for its bundle with one \
conditional GET (ETag), so a new `certgate trust push` is picked up whole and an unchanged \
one costs no transfer. When the content (a hash of every file) changes and loads, new \
requests use it: policies, [[apis]], ca/, crl/, certificates/. A request in flight keeps \
the deployment it started with. A change that does not load, or an S3 that cannot be \
reached, is logged and the last good deployment keeps serving.

TLS settings are built once at start: the server certificates (tls_certificate, \
tls_key), whether each hostname asks for or requires a client certificate, and the CA \
names sent to clients as hints; changing them needs a restart. Turning \
request_client_certificate off applies at the next reload (the policy sees null).

Stops on Ctrl-C or SIGTERM, letting in-flight requests finish.")]
pub(crate) struct Args {
    /// The deployment: a folder or `s3://bucket/prefix` (gateway.toml, policies/, ca/,
    /// crl/, certificates/, and the server certificates named by tls_certificate and
    /// tls_key). Default: $CERTGATE_CONFIG.
    #[arg(long, value_name = "DIR|S3")]
    config: Option<String>,
    /// Address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Look for a new deployment this often (a folder is re-read and hashed, S3 asked
    /// with a conditional GET); 0 turns reloading off.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_seconds)]
    reload_seconds: f64,
    #[command(flatten)]
    limits: LimitArgs,
}

/// The listener's bounds ([`Limits`]); the defaults are `Limits::default()`.
#[derive(clap::Args)]
#[command(next_help_heading = "Limits")]
struct LimitArgs {
    /// Largest request body: 413 at once when Content-Length says more, else the body is
    /// cut off at the limit.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest request header block (HTTP/1.1: 431); at least 8192.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_header_bytes,
          value_parser = clap::value_parser!(u32).range(8192..).map(|n| n as usize))]
    max_header_bytes: usize,
    /// Open connections; further clients wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections: usize,
    /// HTTP/2: concurrent requests per connection.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_concurrent_streams,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: u32,
    /// Requests in flight across all connections; beyond it 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_requests_in_flight,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_requests_in_flight: usize,
    /// Request body bytes held across all requests in flight (every byte read counts
    /// until its request ends); beyond it 503 with Retry-After. At least
    /// --max-body-bytes, or the largest bodies never get through.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_buffered_body_bytes)]
    max_buffered_body_bytes: usize,
    /// From TCP accept to the end of the TLS handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(Limits::default().handshake_timeout))]
    handshake_timeout: Seconds,
    /// HTTP/1.1: to receive a request's headers, including an idle keep-alive wait.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(Limits::default().header_read_timeout))]
    header_read_timeout: Seconds,
    /// Longest wait for the next piece of a request body (then 408).
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(Limits::default().body_read_timeout))]
    body_read_timeout: Seconds,
    /// A connection whose client leaves what it is sent unacknowledged (or unsent behind
    /// a zero window) this long is closed: it stopped reading, or is gone (Linux:
    /// TCP_USER_TIMEOUT; a client that stops reading from Linux 5.11). Over HTTP/2, also
    /// one with a response whose next 16 KiB waited this long for its flow-control window.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(Limits::default().send_timeout))]
    send_timeout: Seconds,
    /// A connection with no request in flight for this long is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(Limits::default().idle_timeout))]
    idle_timeout: Seconds,
    /// On Ctrl-C or SIGTERM, how long in-flight requests may still take.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(Limits::default().shutdown_grace))]
    shutdown_grace: Seconds,
}

impl From<LimitArgs> for Limits {
    fn from(args: LimitArgs) -> Self {
        Self {
            max_body_bytes: args.max_body_bytes,
            max_header_bytes: args.max_header_bytes,
            handshake_timeout: args.handshake_timeout.0,
            header_read_timeout: args.header_read_timeout.0,
            idle_timeout: args.idle_timeout.0,
            body_read_timeout: args.body_read_timeout.0,
            send_timeout: args.send_timeout.0,
            max_concurrent_streams: args.max_concurrent_streams,
            max_connections: args.max_connections,
            max_requests_in_flight: args.max_requests_in_flight,
            max_buffered_body_bytes: args.max_buffered_body_bytes,
            shutdown_grace: args.shutdown_grace.0,
        }
    }
}

/// A `--...-timeout` value: seconds, fractions allowed, shown as written.
#[derive(Clone, Copy)]
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

impl FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<f64>() {
            Ok(v) if (0.01..=86_400.0).contains(&v) => Ok(Self(Duration::from_secs_f64(v))),
            _ => Err("expected seconds between 0.01 and 86400, e.g. 30 or 0.5".to_owned()),
        }
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v == 0.0 || (0.01..=86_400.0).contains(&v) => Ok(v),
        _ => Err("expected 0 (off) or seconds between 0.01 and 86400, e.g. 2 or 0.5".to_owned()),
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = deployment_args::require_config(args.config.as_deref())?;
    let _log = init_logging();
    let reload = (args.reload_seconds > 0.0).then(|| Duration::from_secs_f64(args.reload_seconds));
    let limits = Limits::from(args.limits);
    anyhow::ensure!(
        limits.max_buffered_body_bytes >= limits.max_body_bytes,
        "--max-buffered-body-bytes {} is below --max-body-bytes {}: the largest bodies \
         could never get through; raise the first or lower the second",
        limits.max_buffered_body_bytes,
        limits.max_body_bytes
    );
    runtime()?.block_on(async move {
        let gateway = LocalGateway::open(&config, limits).await.map_err(|error| {
            deployment_args::failed(format!("cannot serve {config}"), &config, error)
        })?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let shutdown = shutdown_signal();
        if let Some(current) = gateway.snapshot().current() {
            let scheduler = match tokio::runtime::Handle::current().runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => "current-thread",
                _ => "multi-thread",
            };
            tracing::info!(
                "listening on https://{addr} (deployment {}: {}; {scheduler} scheduler)",
                current.version,
                current.value.summary()
            );
        }
        gateway.serve(listener, reload, shutdown).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The listener's runtime: a worker per CPU the process may use, or with one CPU (a
/// pinned process, a small container) tokio's current-thread scheduler, which hands
/// work between the connection and backend tasks without the multi-thread
/// scheduler's queues and atomics.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Logs to stderr, one line per event; `RUST_LOG` filters (default `info`; request lines
/// are `certgate::request`). Lines reach stderr from a thread of their own, as with
/// Envoy's and nginx's buffered access logs: at once when that thread is idle, and under
/// load every line queued meanwhile with one system call, where each request's line took
/// one of its own. None is dropped: with 8,192 lines queued, a thread that logs waits (as
/// it waited on a slow stderr before), and the returned guard writes what is left when
/// the command ends: hold it until then.
pub(crate) fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(8192)
        .thread_name("certgate-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .event_format(TextFormat::new(ansi))
        .try_init();
    guard
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is
/// called (inside the runtime), not when it is first polled, so call it before telling
/// anyone the server is up: a signal that arrives early still stops it cleanly.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = wait(interrupt.take()) => {}
                () = wait(terminate.take()) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
