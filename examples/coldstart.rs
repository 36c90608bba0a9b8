//! Cold start of `certgate-lambda`: time from process start to the first response, and
//! peak RSS (`VmHWM`), for a deployment of 100 CAs, 10 CRLs and 1,000 uploaded
//! certificates read from a loopback S3 API (moto_server); the same for a hello-world
//! lambda_http function (`examples/hello_lambda.rs`) as the yardstick, and for one that
//! also GETs the bundle with certgate's S3 client (`examples/hello_s3_lambda.rs`), the
//! part of the cold start that is S3's. A measurement to run by hand, not a test:
//!
//! ```sh
//! export CARGO_TARGET_DIR=target/lambda-ci                 # as .ci/test builds it
//! cargo lambda build --release --bin certgate-lambda
//! cargo lambda build --release --example hello_lambda --example hello_s3_lambda
//! cargo run --example coldstart -- [RUNS]                  # needs moto_server on PATH
//! ```
//!
//! Each run starts the release binary in an environment like Lambda's (nothing of this
//! shell's) with `AWS_LAMBDA_RUNTIME_API` pointing at a fake runtime API served here on
//! loopback: the first `GET .../invocation/next` gets
//! `events/rest/valid.json`, the `POST .../response` stops the clock, `VmHWM` is read from
//! `/proc/PID/status`, and the process is killed. `COLDSTART_LOG=info` shows the
//! function's log lines (the cold-start line says how long loading took).

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/common/moto.rs"]
mod moto;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use certgate::files::SourceFile;
use certgate::source::push::{PushOptions, push};
use certgate::source::read_folder;
use certgate::source::s3::{ClientOptions, S3Source, s3_client};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber, date_time_ymd,
};

const BUCKET: &str = "coldstart";
const ROOTS: usize = 10;
const INTERMEDIATES: usize = 90;
const CERTIFICATES: usize = 1000;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = repo.join("target").join("lambda-ci").join("lambda");
    let certgate = built.join("certgate-lambda").join("bootstrap");
    let hello = built.join("hello_lambda").join("bootstrap");
    let hello_s3 = built.join("hello_s3_lambda").join("bootstrap");
    for binary in [&certgate, &hello, &hello_s3] {
        assert!(
            binary.is_file(),
            "{} is missing: CARGO_TARGET_DIR=target/lambda-ci cargo lambda build --release \
             --bin certgate-lambda (and --example hello_lambda, --example hello_s3_lambda)",
            binary.display()
        );
    }
    let event = std::fs::read(repo.join("events/rest/valid.json")).unwrap();

    let moto = moto::Moto::start();
    let files = deployment(repo);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (bundle_bytes, get) = runtime.block_on(async {
        let client = s3_client(&ClientOptions {
            endpoint_url: Some(moto.url()),
            region: Some("us-east-1".to_owned()),
            credentials: Some(("testing".to_owned(), "testing".to_owned())),
            ..ClientOptions::default()
        })
        .await
        .unwrap();
        client.create_bucket().bucket(BUCKET).send().await.unwrap();
        let source = S3Source::new(client, format!("s3://{BUCKET}/big").parse().unwrap());
        let now = time::OffsetDateTime::now_utc();
        let report = push(&source, &files, b"", &PushOptions { delete: false, now })
            .await
            .unwrap();
        let _ = report;
        // What one GET of the bundle costs on this S3 server with a warm client: the part
        // of the cold start that is the server's, not certgate's.
        let key = format!("big/{}", certgate::source::bundle::BUNDLE_NAME);
        let mut gets = Vec::new();
        let mut size = 0;
        for _ in 0..9 {
            let started = Instant::now();
            let object = source.client().get_object().bucket(BUCKET).key(&key).send();
            size = object
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
                .len();
            gets.push(started.elapsed());
        }
        gets.sort();
        (size, gets[gets.len() / 2])
    });
    println!(
        "deployment: {} files ({ROOTS} roots + {INTERMEDIATES} intermediates, 10 CRLs, \
         {CERTIFICATES} uploaded certificates, plus examples/apigateway); bundle {} KiB, \
         one GET of it {:.1} ms (median of 9, warm client)",
        files.len(),
        bundle_bytes / 1024,
        ms(get)
    );

    let env = vec![
        ("CERTGATE_CONFIG", format!("s3://{BUCKET}/big")),
        ("CERTGATE_REFRESH_SECONDS", "60".to_owned()),
        ("AWS_ENDPOINT_URL_S3", moto.url()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        (
            "RUST_LOG",
            std::env::var("COLDSTART_LOG").unwrap_or_else(|_| "warn".to_owned()),
        ),
    ];
    // The same deployment from a local folder: what loading costs without S3.
    let folder = std::env::temp_dir().join(format!("certgate-coldstart-{}", std::process::id()));
    for file in &files {
        let path = folder.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.bytes).unwrap();
    }
    let mut local = env.clone();
    local[0].1 = folder.display().to_string();
    let subjects = [
        ("hello_lambda", &hello, vec![]),
        ("hello_s3_lambda", &hello_s3, env.clone()),
        ("certgate-lambda", &certgate, env),
        ("  (local folder)", &certgate, local),
    ];
    // Round-robin, one run of each per round: the machine's load drifts over a minute,
    // and running the binaries in turn spreads the drift over all of them alike.
    let mut results: Vec<Vec<Run>> = subjects.iter().map(|_| Vec::new()).collect();
    for _ in 0..runs {
        for ((_, binary, env), results) in subjects.iter().zip(&mut results) {
            results.push(run_once(binary, env, &event));
        }
    }
    let mut medians = Vec::new();
    for ((name, _, _), mut results) in subjects.iter().zip(results) {
        results.sort_by_key(|r| r.first_response);
        let median = &results[results.len() / 2];
        let max_rss = results.iter().map(|r| r.vm_hwm_kb).max().unwrap_or(0);
        println!(
            "{name:16} median of {runs}: init (start -> first /next) {:>7.1} ms, \
             first response {:>7.1} ms (min {:.1}, max {:.1}); peak RSS (VmHWM) {:.1} MiB (max {:.1}); status {}",
            ms(median.init),
            ms(median.first_response),
            ms(results[0].first_response),
            ms(results[results.len() - 1].first_response),
            median.vm_hwm_kb as f64 / 1024.0,
            max_rss as f64 / 1024.0,
            median.status,
        );
        medians.push(ms(median.first_response));
    }
    if let [hello, hello_s3, certgate, _] = medians[..] {
        println!(
            "certgate from S3 / hello-world: {:.1}x; / hello_s3 (hello-world that GETs the \
             bundle): {:.1}x; hello_s3 / hello-world: {:.1}x",
            certgate / hello,
            certgate / hello_s3,
            hello_s3 / hello,
        );
    }
    let _ = std::fs::remove_dir_all(&folder);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Run {
    init: Duration,
    first_response: Duration,
    vm_hwm_kb: u64,
    status: String,
}

/// Starts `binary` against a fresh fake runtime API and waits for its first response.
fn run_once(binary: &PathBuf, env: &[(&str, String)], event: &[u8]) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<(&'static str, Instant, Vec<u8>)>();
    let event = event.to_vec();
    let served = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let tx = tx.clone();
            let event = event.clone();
            let served = Arc::clone(&served);
            std::thread::spawn(move || serve(stream, &event, &served, &tx));
        }
    });
    let started = Instant::now();
    // Only what Lambda sets (and the test's S3 settings): this machine's environment may
    // hold variables Lambda never sets, such as an `AWS_CA_BUNDLE` of the whole system
    // store, which the function would read and parse at every cold start.
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .stdin(Stdio::null())
        .stdout(if std::env::var_os("COLDSTART_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut init = None;
    let (first_response, body) = loop {
        let (what, at, body) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("no response within 30 s");
        match what {
            "next" => {
                init.get_or_insert(at - started);
            }
            "response" => break (at - started, body),
            other => panic!(
                "the function reported {other}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    };
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let vm_hwm_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let response: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Run {
        init: init.unwrap_or(first_response),
        first_response,
        vm_hwm_kb,
        status: response["statusCode"].to_string(),
    }
}

/// One connection of the fake runtime API (HTTP/1.1, keep-alive). The event is served
/// once per run (`served`); a later poll gets no answer, so a function that outlives its
/// first response (`benches/coldstart_cpu.sh` lets it) does no more work.
fn serve(
    stream: TcpStream,
    event: &[u8],
    served: &AtomicBool,
    tx: &mpsc::Sender<(&'static str, Instant, Vec<u8>)>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let now = Instant::now();
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        if path.ends_with("/invocation/next") {
            if served.swap(true, Ordering::SeqCst) {
                // One invocation only: hold the poll until the function goes away.
                let _ = reader.read(&mut [0; 1]);
                return;
            }
            let _ = tx.send(("next", now, Vec::new()));
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: coldstart-1\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:coldstart\r\n\
                 content-length: {}\r\n\r\n",
                event.len()
            );
            let _ = writer.write_all(head.as_bytes());
            let _ = writer.write_all(event);
            let _ = writer.flush();
            continue;
        }
        let what = if path.ends_with("/response") {
            "response"
        } else {
            "error"
        };
        let _ = tx.send((what, now, body));
        let _ = writer.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
    }
}

// --------------------------------------------------------------------- the deployment

fn ca(name: &str, serial: u32) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2025, 1, 1);
    params.not_after = date_time_ymd(2099, 1, 1);
    params.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Coldstart");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// examples/apigateway plus 10 roots (each with a CRL of 20 entries), 90 intermediates
/// and 1,000 uploaded client certificates.
fn deployment(repo: &Path) -> Vec<SourceFile> {
    let mut files = read_folder(&repo.join("examples/apigateway")).unwrap();
    let mut roots = Vec::new();
    for r in 0..ROOTS {
        let root = CertifiedIssuer::self_signed(
            ca(&format!("Coldstart Root {r}"), 1000 + r as u32),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        files.push(SourceFile::new(
            format!("ca/root/cs-root-{r}.pem"),
            root.pem(),
        ));
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2025, 6, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(vec![1]),
            issuing_distribution_point: None,
            revoked_certs: (0..20u32)
                .map(|i| RevokedCertParams {
                    serial_number: SerialNumber::from((900_000 + i).to_be_bytes().to_vec()),
                    revocation_time: date_time_ymd(2025, 5, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&root)
        .unwrap();
        files.push(SourceFile::new(
            format!("crl/cs-root-{r}.crl"),
            crl.pem().unwrap(),
        ));
        roots.push(root);
    }
    let mut intermediates = Vec::new();
    for i in 0..INTERMEDIATES {
        let intermediate = CertifiedIssuer::signed_by(
            ca(&format!("Coldstart Intermediate {i}"), 2000 + i as u32),
            KeyPair::generate().unwrap(),
            &roots[i % ROOTS],
        )
        .unwrap();
        files.push(SourceFile::new(
            format!("ca/intermediate/cs-int-{i}.pem"),
            intermediate.pem(),
        ));
        intermediates.push(intermediate);
    }
    let key = KeyPair::generate().unwrap();
    for c in 0..CERTIFICATES {
        let mut params = CertificateParams::default();
        params.not_before = date_time_ymd(2025, 1, 1);
        params.not_after = date_time_ymd(2095, 1, 1);
        params.serial_number = Some(SerialNumber::from(
            (10_000 + c as u32).to_be_bytes().to_vec(),
        ));
        params
            .distinguished_name
            .push(DnType::CommonName, format!("client{c}.coldstart.example"));
        let cert = params
            .signed_by(&key, &intermediates[c % INTERMEDIATES])
            .unwrap();
        files.push(SourceFile::new(
            format!("certificates/cs-client-{c}.pem"),
            cert.pem(),
        ));
    }
    files
}
