//! A bounded load run of the local gateway: client certificates through the APIM
//! article's policy to a loopback echo backend.
//!
//! ```text
//! cargo run --release --example load -- [--requests 20000] [--connections 64] [--body-bytes 17]
//! ```
//!
//! Everything runs in this process, on loopback: the demo's run-time PKI and deployment
//! (`certgate::demo`), its echo backend, the gateway (`certgate::frontend::local`, the
//! code behind `certgate serve`, logging each request to a sink) on one runtime, and
//! the clients (rustls + hyper, HTTP/1.1, presenting the good client certificate) on
//! another. Two phases of `--requests` requests over `--connections` connections:
//!
//! * keep-alive: each connection is opened once and sends requests one after another;
//! * new connection per request: a full TLS handshake (with the client certificate)
//!   before every request.
//!
//! It reports requests per second, latency percentiles, the CPU time the whole process
//! (clients, gateway and backend) spent per request, errors (anything but a 200 with
//! the echoed body; must be 0) and the process's resident memory (VmRSS, VmHWM from
//! /proc/self/status) before and after. A load run, not a test: numbers depend on the
//! machine.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use certgate::demo::{self, DemoPki, EchoBackend};
use certgate::frontend::local::LocalGateway;
use certgate::frontend::tls::Limits;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const BODY: &[u8] = b"certgate load run";

struct Options {
    requests: usize,
    connections: usize,
    /// Size of each request body; the echo backend streams it back. Large bodies show
    /// that memory stays flat: nothing on the way holds a whole body.
    body_bytes: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        requests: 20_000,
        connections: 64,
        body_bytes: BODY.len(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--requests" => options.requests = value("--requests")?,
            "--connections" => options.connections = value("--connections")?,
            "--body-bytes" => options.body_bytes = value("--body-bytes")?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: load [--requests N] [--connections N] \
                     [--body-bytes N]"
                ));
            }
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::from(2)
        }
    }
}

/// CPU time (user + system) this process has used: fields 14 and 15 of
/// /proc/self/stat, in clock ticks of (on Linux, practically always) 1/100 s.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces: count from after its `)`.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn run(options: &Options) -> Result<bool, BoxError> {
    // The gateway logs one line per request, as `certgate serve` does, into a sink.
    tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_env_filter("info")
        .init();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gateway")
        .enable_all()
        .build()?;
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()?;

    let dir = tempfile::tempdir()?;
    let pki = DemoPki::generate(time::OffsetDateTime::now_utc())?;
    let (addr, _backend) = server.block_on(async {
        let backend = EchoBackend::start().await?;
        let layout = demo::write(dir.path(), &pki, &backend.url())?;
        let gateway =
            LocalGateway::open(&layout.deployment.to_string_lossy(), Limits::default()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(gateway.serve(
            listener,
            Some(Duration::from_secs(2)),
            std::future::pending(),
        ));
        Ok::<_, BoxError>((addr, backend))
    })?;
    let config = client_config(&pki)?;
    let body: Bytes = (0..options.body_bytes)
        .map(|i| BODY[i % BODY.len()])
        .collect();

    // Warm up (first handshakes, Verify() cache) before measuring memory.
    client.block_on(phase(addr, &config, 64, 8, true, &body));
    let (rss_before, _) = memory();
    println!(
        "certgate load run: {} requests over {} connections, POST /echo/hello ({} bytes) \
         through the article policy to a loopback echo backend; {} CPU(s)",
        options.requests,
        options.connections,
        body.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("RSS before: {} KiB", rss_before);
    let mut clean = true;
    for (keep_alive, label) in [
        (true, "keep-alive"),
        (false, "new TLS connection per request"),
    ] {
        let cpu_before = cpu_time();
        let result = client.block_on(phase(
            addr,
            &config,
            options.requests,
            options.connections,
            keep_alive,
            &body,
        ));
        let (rss, _) = memory();
        let cpu = cpu_time().saturating_sub(cpu_before);
        println!(
            "{label:<32} {:>6} ok {:>3} errors in {:>6.2} s = {:>8.0} req/s   \
             p50 {:>6.2} ms  p99 {:>6.2} ms   CPU {:>5.1} s ({:>4.0} µs/request)   \
             RSS after: {rss} KiB",
            result.ok,
            result.errors,
            result.elapsed.as_secs_f64(),
            result.ok as f64 / result.elapsed.as_secs_f64(),
            ms(result.percentile(0.50)),
            ms(result.percentile(0.99)),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / result.ok.max(1) as f64,
        );
        if let Some(first) = &result.first_error {
            println!("  first error: {first}");
        }
        clean &= result.errors == 0;
    }
    let (rss_after, peak) = memory();
    println!("RSS after: {rss_after} KiB (peak {peak} KiB)");
    drop(client);
    server.shutdown_timeout(Duration::from_secs(1));
    Ok(clean)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn client_config(pki: &DemoPki) -> Result<Arc<rustls::ClientConfig>, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.root.der.clone()))?;
    // ring, as the listener's (src/crypto.rs); deprecated since rustls 0.23.48.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(pki.good.der.clone())],
            PrivateKeyDer::from_pem_slice(pki.good.key_pem.as_bytes())?,
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A new connection per request means a full handshake: no resumption.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

struct PhaseResult {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl PhaseResult {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i]
    }
}

async fn phase(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    requests: usize,
    connections: usize,
    keep_alive: bool,
    body: &Bytes,
) -> PhaseResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (next, config, body) = (Arc::clone(&next), Arc::clone(config), body.clone());
        tasks.spawn(async move { worker(addr, config, next, requests, keep_alive, body).await });
    }
    let mut result = PhaseResult {
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(requests),
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(w) => {
                result.ok += w.latencies.len();
                result.errors += w.errors;
                result.latencies.extend(w.latencies);
                if result.first_error.is_none() {
                    result.first_error = w.first_error;
                }
            }
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(e.to_string());
            }
        }
    }
    result.elapsed = started.elapsed();
    result.latencies.sort_unstable();
    result
}

#[derive(Default)]
struct WorkerResult {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn worker(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    next: Arc<AtomicUsize>,
    requests: usize,
    keep_alive: bool,
    body: Bytes,
) -> WorkerResult {
    let mut out = WorkerResult::default();
    let mut sender: Option<Sender> = None;
    while next.fetch_add(1, Ordering::Relaxed) < requests {
        let started = Instant::now();
        let result = async {
            if sender.is_none() || !keep_alive {
                sender = Some(connect(addr, &config).await?);
            }
            let Some(s) = sender.as_mut() else {
                return Err::<(), BoxError>("no connection".into());
            };
            request(s, &body).await
        }
        .await;
        match result {
            Ok(()) => out.latencies.push(started.elapsed()),
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e.to_string());
                sender = None;
            }
        }
    }
    out
}

async fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Result<Sender, BoxError> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One POST; the echoed body is compared piece by piece as it arrives, never held.
async fn request(sender: &mut Sender, body: &Bytes) -> Result<(), BoxError> {
    sender.ready().await?;
    let request = http::Request::post("/echo/hello")
        .header("host", "localhost")
        .body(Full::new(body.clone()))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let mut echoed = response.into_body();
    let mut at = 0;
    while let Some(frame) = echoed.frame().await {
        if let Ok(data) = frame?.into_data() {
            if body.get(at..at + data.len()) != Some(&data[..]) {
                return Err(format!("status {status}, the body differs at byte {at}").into());
            }
            at += data.len();
        }
    }
    if status != http::StatusCode::OK || at != body.len() {
        return Err(format!("status {status}, {at} of {} body bytes", body.len()).into());
    }
    Ok(())
}
