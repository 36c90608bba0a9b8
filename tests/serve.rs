//! `certgate serve` end to end: the built binary on a free loopback port, a deployment
//! folder made by the demo's generator (run-time rcgen PKI, the APIM article's policy),
//! an echo backend, and real TLS clients (curl over HTTP/1.1 and HTTP/2, and rustls).

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use certgate::demo::{self, DemoLayout, DemoPki, EchoBackend, Issued};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[path = "common/served.rs"]
mod served;
#[allow(dead_code, unreachable_pub)]
#[path = "common/backend.rs"]
mod streaming_backend;
#[path = "common/tls_client.rs"]
mod tls_client;

use tls_client::{BoxError, CurlFiles, CurlOutput, Presents, Version, send};

const REQUEST: &str = "localhost";
const REQUIRE: &str = "require.localhost";
const OFF: &str = "off.localhost";
const REASON: &str = "Invalid client certificate";

fn pki() -> &'static DemoPki {
    static PKI: OnceLock<DemoPki> = OnceLock::new();
    PKI.get_or_init(|| DemoPki::generate(time::OffsetDateTime::now_utc()).unwrap())
}

/// A `certgate serve` process with its deployment folder and echo backend.
struct Served {
    process: served::Process,
    /// The demo's client files for curl.
    curl: CurlFiles,
    layout: DemoLayout,
    _dir: tempfile::TempDir,
    _backend: Option<EchoBackend>,
}

impl Served {
    /// With the demo's echo backend.
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// With the demo's echo backend and more `serve` flags.
    async fn start_with(flags: &[&str]) -> Self {
        let backend = EchoBackend::start().await.unwrap();
        let url = backend.url();
        Self::start_for(&url, Some(backend), flags).await
    }

    /// With the echo API's backend at `backend_url`.
    async fn start_for(backend_url: &str, backend: Option<EchoBackend>, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let layout = demo::write(dir.path(), pki(), backend_url).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_certgate"));
        command
            .arg("serve")
            .args(flags)
            .arg("--config")
            .arg(&layout.deployment);
        Self {
            process: served::Process::start(command).await,
            curl: CurlFiles::in_dir(&layout.client),
            layout,
            _dir: dir,
            _backend: backend,
        }
    }

    fn policy(&self, name: &str) -> PathBuf {
        self.layout.deployment.join("policies").join(name)
    }
}

/// The process: its address, child and log.
impl std::ops::Deref for Served {
    type Target = served::Process;

    fn deref(&self) -> &served::Process {
        &self.process
    }
}

impl std::ops::DerefMut for Served {
    fn deref_mut(&mut self) -> &mut served::Process {
        &mut self.process
    }
}

// ---------------------------------------------------------------------------------------
// curl

/// Which client certificate a call presents, by the demo's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cert {
    None,
    Good,
    Untrusted,
    Expired,
    Revoked,
}

impl Cert {
    const ALL: [Cert; 5] = [
        Cert::Good,
        Cert::None,
        Cert::Untrusted,
        Cert::Expired,
        Cert::Revoked,
    ];

    fn name(self) -> Option<&'static str> {
        match self {
            Cert::None => None,
            Cert::Good => Some("good"),
            Cert::Untrusted => Some("untrusted"),
            Cert::Expired => Some("expired"),
            Cert::Revoked => Some("revoked"),
        }
    }

    fn issued(self) -> Option<&'static Issued> {
        let pki = pki();
        match self {
            Cert::None => None,
            Cert::Good => Some(&pki.good),
            Cert::Untrusted => Some(&pki.untrusted),
            Cert::Expired => Some(&pki.expired),
            Cert::Revoked => Some(&pki.revoked),
        }
    }
}

/// curl to `host` as `cert` (the demo's client files).
async fn curl(s: &Served, host: &str, cert: Cert, path: &str, extra: &[&str]) -> CurlOutput {
    tls_client::curl_as(&s.curl, s.addr, host, path, cert.name(), extra).await
}

// ---------------------------------------------------------------------------------------
// rustls client

/// A [`tls_client`] call presenting one of the demo's client certificates.
type Call<'a> = tls_client::Call<'a, Cert>;

/// `GET /echo/hello` (the echo API) on `host`.
fn get(host: &str, cert: Cert, http2: bool) -> Call<'_> {
    Call::get(host, cert).path("/echo/hello").http2(http2)
}

impl Presents for Cert {
    /// Trusts the demo's root; presents the certificate's chain and key.
    fn client_config(self, version: Version, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let builder = tls_client::client_builder(&pki().root.der, version);
        let mut config = match self.issued() {
            None => builder.with_no_client_auth(),
            Some(issued) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from(issued.der.clone())],
                    PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap(),
                )
                .unwrap(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// Bytes that are not UTF-8, so any text handling on the way would corrupt them.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 0x80 + i / 251) as u8).collect()
}

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_mode_gives_the_article_policy_answer_for_each_certificate() {
    let s = Served::start().await;
    for cert in Cert::ALL {
        for protocol in ["--http1.1", "--http2"] {
            let out = curl(&s, REQUEST, cert, "/echo/hello", &[protocol]).await;
            assert!(out.success, "{cert:?} {protocol}: {}", out.stderr);
            if cert == Cert::Good {
                assert_eq!(out.status(), 200, "{cert:?} {protocol}");
                assert_eq!(out.header("x-echo-uri").as_deref(), Some("/hello"));
            } else {
                assert_eq!(out.status(), 403, "{cert:?} {protocol}");
                assert!(out.header("x-echo-uri").is_none(), "not proxied");
                if protocol == "--http1.1" {
                    assert_eq!(out.status_line(), format!("HTTP/1.1 403 {REASON}"));
                }
            }
        }
        for http2 in [false, true] {
            let answer = send(s.addr, get(REQUEST, cert, http2)).await.unwrap();
            let expected = if cert == Cert::Good { 200 } else { 403 };
            assert_eq!(answer.status, expected, "rustls {cert:?} http2={http2}");
        }
    }
    // One log line per request, with the thumbprint the policy saw.
    let good = certgate::cert::Certificate::from_der(&pki().good.der).unwrap();
    let line = s.wait_for_log(good.thumbprint()).await;
    for field in [
        "method=GET",
        "path=/echo/hello",
        "status=200",
        "decision=proxied",
        "duration=",
    ] {
        assert!(line.contains(field), "{field} not in {line}");
    }
    s.wait_for_log("status=403 decision=responded").await;
}

/// A backend on raw TCP that keeps its connections alive and answers `HEAD` as a file
/// server does, with the `Content-Length` a `GET` would get and no body; a `GET` gets
/// that many bytes. Each answer names the method in `x-method`. It reads heads only: a
/// request with a body gets a 400 and the connection closes.
async fn head_backend(length: usize) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let request = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    if request.contains("\r\ntransfer-encoding:")
                        || (request.contains("\r\ncontent-length:")
                            && !request.contains("\r\ncontent-length: 0"))
                    {
                        let refused = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
                        let _ = stream.write_all(refused).await;
                        return;
                    }
                    let head = request.starts_with("head ");
                    buf.drain(..end + 4);
                    let method = if head { "HEAD" } else { "GET" };
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\nx-method: {method}\r\ncontent-length: {length}\r\n\r\n"
                    )
                    .into_bytes();
                    if !head {
                        answer.extend(std::iter::repeat_n(b'g', length));
                    }
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// A `HEAD` through the whole gateway (listener, policy, backend client) gets the length
/// the backend declares and no body, over both protocols, and the connection goes on:
/// two in a row on one connection, as curl sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_gets_the_backend_s_length_and_no_body_and_the_connection_goes_on() {
    let s = Served::start_for(&head_backend(1234).await, None, &[]).await;
    // curl puts this URL before the one `curl` adds: it is asked for first.
    let other = format!("https://{REQUEST}:{}/echo/again", s.addr.port());
    for protocol in ["--http1.1", "--http2"] {
        let out = curl(
            &s,
            REQUEST,
            Cert::Good,
            "/echo/hello",
            &["-I", protocol, &other],
        )
        .await;
        assert!(out.success, "{protocol}: {}", out.stderr);
        let lengths: Vec<&str> = out
            .head
            .lines()
            .filter_map(|line| line.strip_prefix("content-length: "))
            .collect();
        assert_eq!(lengths, ["1234", "1234"], "{protocol}: {}", out.head);
        let methods = out.head.lines().filter(|line| *line == "x-method: HEAD");
        assert_eq!(methods.count(), 2, "{protocol}: the backend got HEADs");
        // A body sent after a HEAD's head would be read as the start of the next
        // response (curl says "Excess" and opens another connection).
        assert!(!out.stderr.contains("Excess"), "{protocol}: {}", out.stderr);
        assert!(
            out.stderr.contains("Re-using existing"),
            "{protocol}: {}",
            out.stderr
        );
        let get = curl(&s, REQUEST, Cert::Good, "/echo/hello", &[protocol]).await;
        assert_eq!(get.status(), 200, "{protocol}");
        assert_eq!(get.body, vec![b'g'; 1234], "{protocol}");
    }
}

/// On one CPU (`taskset`, as `benches/peers/run.sh` pins it) `serve` runs tokio's
/// current-thread scheduler; the connection, the backend's connection and the reload
/// all share that thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_one_cpu_the_current_thread_scheduler_serves_both_protocols() {
    if Command::new("taskset").arg("-V").output().is_err() {
        eprintln!("skipped: no taskset (util-linux) on this machine");
        return;
    }
    let backend = EchoBackend::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = demo::write(dir.path(), pki(), &backend.url()).unwrap();
    let mut command = Command::new("taskset");
    command
        .args([
            "-c",
            "0",
            env!("CARGO_BIN_EXE_certgate"),
            "serve",
            "--config",
        ])
        .arg(&layout.deployment);
    let s = Served {
        process: served::Process::start(command).await,
        curl: CurlFiles::in_dir(&layout.client),
        layout,
        _dir: dir,
        _backend: Some(backend),
    };
    s.wait_for_log("current-thread scheduler").await;
    // Sixteen connections at once, HTTP/1.1 and HTTP/2, good and revoked certificates.
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (addr, cert) = (s.addr, [Cert::Good, Cert::Revoked][i % 2]);
        sent.spawn(async move {
            let answer = send(addr, get(REQUEST, cert, i % 4 < 2)).await.unwrap();
            (cert, answer.status)
        });
    }
    while let Some(done) = sent.join_next().await {
        let (cert, status) = done.unwrap();
        assert_eq!(status, if cert == Cert::Good { 200 } else { 403 });
    }
    let out = curl(&s, REQUEST, Cert::Good, "/echo/a", &["--http2"]).await;
    assert_eq!(out.status(), 200, "{}", out.stderr);
    assert_eq!(out.header("x-echo-uri").as_deref(), Some("/a"));
    // A policy changed on disk is picked up by the reload on the same thread.
    std::fs::write(
        s.policy("echo.xml"),
        r#"<policies><inbound><base /><return-response><set-status code="418" /></return-response></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"#,
    )
    .unwrap();
    until_status(&s, 418).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_routed_as_the_backend_reads_them_over_both_protocols() {
    let s = Served::start().await;
    for protocol in ["--http1.1", "--http2"] {
        for path in [
            "/echo//hello",
            "/echo/a%2fb",
            "/echo/a;x/b",
            "/echo/%2e%2e/hello",
        ] {
            let out = curl(&s, REQUEST, Cert::Good, path, &[protocol, "--path-as-is"]).await;
            assert!(out.success, "{path} {protocol}: {}", out.stderr);
            assert_eq!(out.status(), 400, "{path} {protocol}");
            assert!(
                out.header("x-echo-uri").is_none(),
                "{path} reached the backend"
            );
        }
        // `%68` is `h`: the backend gets the path that was routed.
        let out = curl(&s, REQUEST, Cert::Good, "/%65cho/%68ello", &[protocol]).await;
        assert_eq!(out.status(), 200, "{protocol}");
        assert_eq!(out.header("x-echo-uri").as_deref(), Some("/hello"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_mode_refuses_the_handshake_without_a_certificate_and_the_policy_judges_the_rest() {
    let s = Served::start().await;
    for cert in Cert::ALL {
        for protocol in ["--http1.1", "--http2"] {
            let out = curl(&s, REQUIRE, cert, "/echo/hello", &[protocol]).await;
            match cert {
                Cert::None => assert!(!out.success, "got through: {}", out.head),
                Cert::Good => assert_eq!(out.status(), 200, "{protocol}: {}", out.stderr),
                _ => {
                    assert_eq!(out.status(), 403, "{cert:?} {protocol}");
                    if protocol == "--http1.1" {
                        assert_eq!(out.status_line(), format!("HTTP/1.1 403 {REASON}"));
                    }
                }
            }
        }
        for http2 in [false, true] {
            let answer = send(s.addr, get(REQUIRE, cert, http2)).await;
            match cert {
                // TLS 1.3: the client learns of the refusal on its first read.
                Cert::None => assert!(answer.is_err(), "{answer:?}"),
                Cert::Good => assert_eq!(answer.unwrap().status, 200),
                _ => assert_eq!(answer.unwrap().status, 403, "{cert:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_mode_never_asks_so_the_policy_sees_null_even_for_a_good_certificate() {
    let s = Served::start().await;
    for protocol in ["--http1.1", "--http2"] {
        let out = curl(&s, OFF, Cert::Good, "/echo/hello", &[protocol]).await;
        assert_eq!(out.status(), 403, "{protocol}: {}", out.stderr);
    }
    for http2 in [false, true] {
        let answer = send(s.addr, get(OFF, Cert::Good, http2)).await.unwrap();
        assert_eq!(answer.status, 403);
    }
    s.wait_for_log("certificate=none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_certificate_header_without_a_tls_certificate_is_refused() {
    let s = Served::start().await;
    let spoofed = std::fs::read_to_string(s.layout.client_file("spoofed-header.txt")).unwrap();
    let (name, value) = spoofed.trim().split_once(": ").unwrap();
    assert_eq!(name, "X-Amzn-Mtls-Clientcert");
    let header = format!("@{}", s.layout.client_file("spoofed-header.txt").display());
    for protocol in ["--http1.1", "--http2"] {
        let out = curl(
            &s,
            REQUEST,
            Cert::None,
            "/echo/hello",
            &[protocol, "-H", &header],
        )
        .await;
        assert_eq!(out.status(), 403, "{protocol}: {}", out.stderr);
    }
    for http2 in [false, true] {
        let spoofed = vec![
            ("x-amzn-mtls-clientcert", value.to_owned()),
            ("client-cert", format!(":{}:", "AAAA")),
        ];
        let call = get(REQUEST, Cert::None, http2).headers(spoofed);
        let answer = send(s.addr, call).await.unwrap();
        assert_eq!(answer.status, 403);
    }
    s.wait_for_log("ignored=x-amzn-mtls-clientcert").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_go_through_the_policy_to_the_backend_and_back_byte_exact() {
    let s = Served::start().await;
    for size in [64 * 1024, 1024 * 1024, 10 * 1024 * 1024] {
        let body = binary(size);
        let data = s.curl.upload(&format!("upload-{size}"), &body);
        for method in ["POST", "PUT"] {
            for protocol in ["--http1.1", "--http2"] {
                let out = curl(
                    &s,
                    REQUEST,
                    Cert::Good,
                    "/echo/upload",
                    &[
                        protocol,
                        "-X",
                        method,
                        "-H",
                        "Content-Type: application/octet-stream",
                        "--data-binary",
                        &data,
                    ],
                )
                .await;
                assert_eq!(
                    out.status(),
                    200,
                    "{size} {method} {protocol}: {}",
                    out.stderr
                );
                assert_eq!(out.header("x-echo-method").as_deref(), Some(method));
                assert!(out.body == body, "{size} {method} {protocol}: body differs");
            }
            for http2 in [false, true] {
                let call = get(REQUEST, Cert::Good, http2).path("/echo/upload");
                let answer = send(s.addr, call.upload(method, body.clone()))
                    .await
                    .unwrap();
                assert_eq!(answer.status, 200, "rustls {size} {method} http2={http2}");
                assert_eq!(answer.headers["x-echo-method"], method);
                assert!(answer.body == body, "rustls {size} {method}: body differs");
            }
        }
    }
}

/// The listener's limits are `serve` flags: a body over `--max-body-bytes` gets 413, one
/// under it goes through; a value out of range stops `serve` with the flag's rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_limits_are_serve_flags() {
    let s = Served::start_with(&["--max-body-bytes", "4096", "--idle-timeout", "5"]).await;
    for (size, status) in [(2048, 200), (8192, 413)] {
        let data = s.curl.upload(&format!("upload-{size}"), &binary(size));
        let out = curl(
            &s,
            REQUEST,
            Cert::Good,
            "/echo/upload",
            &["--data-binary", &data],
        )
        .await;
        assert_eq!(out.status(), status, "{size} bytes: {}", out.stderr);
    }

    let refused = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["serve", "--config", ".", "--max-header-bytes", "100"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--max-header-bytes") && stderr.contains("8192"),
        "{stderr}"
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["serve", "--config", ".", "--idle-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("expected seconds between 0.01 and 86400")
    );
    // The global bounds: at least one request in flight, and room for the largest body.
    for (args, expected) in [
        (
            &["--max-requests-in-flight", "0"][..],
            "--max-requests-in-flight",
        ),
        (
            &[
                "--max-body-bytes",
                "4096",
                "--max-buffered-body-bytes",
                "1024",
            ][..],
            "--max-buffered-body-bytes 1024 is below --max-body-bytes 4096",
        ),
    ] {
        let refused = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["serve", "--config", "."])
            .args(args)
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// A policy that refuses a large upload answers before the body has arrived, and the
/// client must still get the answer (not a reset) on both protocols and be able to go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_gets_its_answer_while_the_body_is_still_coming() {
    let s = Served::start().await;
    let body = binary(10 * 1024 * 1024);
    let data = s.curl.upload("refused", &body);
    for protocol in ["--http1.1", "--http2"] {
        for cert in [Cert::Untrusted, Cert::None] {
            let out = curl(
                &s,
                REQUEST,
                cert,
                "/echo/upload",
                &[protocol, "-H", "Expect:", "--data-binary", &data],
            )
            .await;
            assert_eq!(out.status(), 403, "{cert:?} {protocol}: {}", out.stderr);
        }
    }
    for http2 in [false, true] {
        let call = get(REQUEST, Cert::Untrusted, http2).path("/echo/upload");
        let answer = send(s.addr, call.upload("PUT", body.clone()))
            .await
            .unwrap();
        assert_eq!(answer.status, 403, "rustls http2={http2}");
    }
}

/// Proves that neither direction is buffered: the client sends a piece, reads it back
/// through gateway and backend (`/stream` answers at once and streams the request body
/// back), and only then sends the next. A gateway that read either body whole would
/// wait for the rest, which the client never sends: the test would time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways_while_the_client_is_still_sending() {
    use http_body_util::BodyExt as _;

    let backend = streaming_backend::EchoBackend::start().await;
    let s = Served::start_for(&backend.url(), None, &[]).await;
    for http2 in [false, true] {
        let alpn: &[u8] = if http2 { b"h2" } else { b"http/1.1" };
        let config = Cert::Good.client_config(Version::Tls13, &[alpn]);
        let tls = tls_client::connect(s.addr, REQUEST, config).await.unwrap();
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, BoxError>::new(1);
        let authority = format!("{REQUEST}:{}", s.addr.port());
        let request = http::Request::post(format!("https://{authority}/echo/stream"))
            .header("host", &authority)
            .body(body)
            .unwrap();
        let pieces: Vec<Vec<u8>> = (0..4).map(|i| binary(16 * 1024 + i)).collect();
        let exchange = async {
            let response = tokio::spawn(tls_client::send_request(tls, http2, request));
            tx.send_data(Bytes::from(pieces[0].clone())).await.unwrap();
            let response = response.await.unwrap().unwrap();
            assert_eq!(response.status(), 200, "http2={http2}");
            let mut body = response.into_body();
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    tx.send_data(Bytes::from(piece.clone())).await.unwrap();
                }
                let mut echoed = Vec::new();
                while echoed.len() < piece.len() {
                    let frame = body.frame().await.expect("the body ended early").unwrap();
                    echoed.extend_from_slice(&frame.into_data().unwrap_or_default());
                }
                assert!(
                    echoed == *piece,
                    "http2={http2}: piece {i} came back changed"
                );
            }
            drop(tx);
            let rest = body.collect().await.unwrap().to_bytes();
            assert!(
                rest.is_empty(),
                "http2={http2}: {} bytes more than were sent",
                rest.len()
            );
        };
        tokio::time::timeout(Duration::from_secs(60), exchange)
            .await
            .unwrap_or_else(|_| panic!("http2={http2}: a body was held back instead of streamed"));
    }
}

const TEAPOT: &str = r#"<policies>
    <inbound><base /></inbound>
    <backend>
        <return-response>
            <set-status code="418" reason="Reloaded" />
        </return-response>
    </backend>
    <outbound><base /></outbound>
    <on-error><base /></on-error>
</policies>
"#;

/// Sends good-certificate GETs until one answers `status` (up to 10 s).
async fn until_status(s: &Served, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = send(s.addr, get(REQUEST, Cert::Good, false)).await.unwrap();
        if answer.status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after 10 s",
            answer.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_policy_applies_after_the_next_poll_and_a_broken_one_keeps_the_last_good() {
    let s = Served::start().await;
    until_status(&s, 200).await;

    std::fs::write(s.policy("echo.xml"), TEAPOT).unwrap();
    until_status(&s, 418).await;
    s.wait_for_log("deployment loaded").await;
    let out = curl(&s, REQUEST, Cert::Good, "/echo/hello", &["--http1.1"]).await;
    assert_eq!(out.status_line(), "HTTP/1.1 418 Reloaded");
    // The global policy still runs first.
    assert_eq!(
        curl(&s, REQUEST, Cert::None, "/echo/hello", &[])
            .await
            .status(),
        403
    );

    let seen = s.log_len();
    std::fs::write(s.policy("echo.xml"), "<policies><inbound><base /></inbound").unwrap();
    let line = s
        .wait_for_log_after(seen, "keeping the last good deployment")
        .await;
    assert!(line.contains("WARN"), "{line}");
    for http2 in [false, true] {
        let answer = send(s.addr, get(REQUEST, Cert::Good, http2)).await.unwrap();
        assert_eq!(answer.status, 418, "the last good deployment serves");
    }
    std::fs::write(s.policy("echo.xml"), demo::API_POLICY).unwrap();
    until_status(&s, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_request_client_certificate_off_applies_at_the_next_reload() {
    let s = Served::start().await;
    until_status(&s, 200).await;
    let toml = s.layout.deployment.join("gateway.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let off = text.replacen(
        "request_client_certificate = true",
        "request_client_certificate = false",
        1,
    );
    assert_ne!(off, text);
    std::fs::write(&toml, off).unwrap();
    // The handshake still asks (TLS settings are fixed), but the policy sees null.
    until_status(&s, 403).await;
    s.wait_for_log("status=403 decision=responded api=echo certificate=none")
        .await;
    std::fs::write(&toml, text).unwrap();
    until_status(&s, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_gracefully() {
    let mut s = Served::start().await;
    let answer = send(s.addr, get(REQUEST, Cert::Good, true)).await.unwrap();
    assert_eq!(answer.status, 200);
    s.signal("TERM");
    let status = s.wait_for_exit().await;
    assert!(status.success(), "{status:?}");
    s.wait_for_log("stopped").await;
}

/// Lines reach stderr from a thread of their own, many with one write under load: none is
/// lost or torn, and all are out by the time the server has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_line_is_written_whole_before_serve_stops() {
    const CLIENTS: usize = 4;
    const EACH: usize = 300;
    let mut s = Served::start().await;
    let range = format!("[1-{EACH}]");
    let runs = (0..CLIENTS).map(|client| {
        let path = format!("/echo/c{client}-{range}");
        let s = &s;
        async move { curl(s, REQUEST, Cert::Good, &path, &[]).await }
    });
    for out in futures_util::future::join_all(runs).await {
        assert!(out.success, "{}", out.stderr);
    }
    s.signal("TERM");
    let status = s.wait_for_exit().await;
    assert!(status.success(), "{status:?}");
    s.wait_for_log("stopped").await;
    let log = s.log();
    let stopped = log.iter().position(|l| l.contains("stopped")).unwrap();
    for client in 0..CLIENTS {
        for i in 1..=EACH {
            let needle = format!(" path=/echo/c{client}-{i} status=200 decision=proxied ");
            let at: Vec<usize> = (0..log.len())
                .filter(|&n| log[n].contains(&needle))
                .collect();
            assert_eq!(at.len(), 1, "{needle:?} logged {} times", at.len());
            assert!(at[0] < stopped, "{needle:?} after `stopped`");
            assert!(
                log[at[0]].ends_with(|c: char| c.is_ascii_alphanumeric()),
                "{}",
                log[at[0]]
            );
        }
    }
}

#[test]
fn an_unreachable_s3_deployment_stops_serve_at_start_with_the_reason() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args([
            "serve",
            "--config",
            "s3://bucket/prefix",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("AWS_ENDPOINT_URL_S3", &endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot serve s3://bucket/prefix"),
        "{stderr}"
    );
}

#[test]
fn a_folder_that_does_not_load_stops_serve_at_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gateway.toml"),
        "[deployment]\nregion = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gateway.toml:2"), "{stderr}");
}

/// CORS over real TLS with curl, as a browser would send it: the preflight (no client
/// certificate, as browsers send none) is answered by the gateway alone; the actual
/// request from that origin passes the certificate check and gets the CORS headers; an
/// origin not allowed gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_are_answered_by_the_gateway_and_actual_requests_marked() {
    let s = Served::start().await;
    until_status(&s, 200).await;
    let cors = r#"<base />
        <cors allow-credentials="true">
            <allowed-origins><origin>https://app.contoso.com</origin></allowed-origins>
            <allowed-methods preflight-result-max-age="300"><method>GET</method></allowed-methods>
            <allowed-headers><header>x-token</header></allowed-headers>
            <expose-headers><header>x-echo-uri</header></expose-headers>
        </cors>"#;
    let policy = demo::API_POLICY.replacen("<base />", cors, 1);
    std::fs::write(s.policy("echo.xml"), policy).unwrap();
    let preflight = [
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://app.contoso.com",
        "-H",
        "Access-Control-Request-Method: GET",
        "-H",
        "Access-Control-Request-Headers: x-token",
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = curl(&s, REQUEST, Cert::None, "/echo/hello", &preflight).await;
        if out.header("access-control-allow-origin").is_some() {
            break out;
        }
        assert!(Instant::now() < deadline, "no CORS answer after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(out.status(), 200);
    assert_eq!(
        out.header("access-control-allow-methods").as_deref(),
        Some("GET")
    );
    assert_eq!(
        out.header("access-control-allow-headers").as_deref(),
        Some("x-token")
    );
    assert_eq!(out.header("access-control-max-age").as_deref(), Some("300"));
    assert_eq!(
        out.header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        out.header("x-echo-uri"),
        None,
        "a preflight never reaches the backend"
    );

    let actual = |origin: &'static str| {
        let s = &s;
        async move {
            let header = format!("Origin: {origin}");
            curl(s, REQUEST, Cert::Good, "/echo/hello", &["-H", &header]).await
        }
    };
    let allowed = actual("https://app.contoso.com").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("https://app.contoso.com")
    );
    assert_eq!(
        allowed.header("access-control-expose-headers").as_deref(),
        Some("x-echo-uri")
    );
    assert_eq!(allowed.header("vary").as_deref(), Some("Origin"));
    // The certificate check still applies to actual requests.
    let header = "Origin: https://app.contoso.com";
    let no_certificate = curl(&s, REQUEST, Cert::None, "/echo/hello", &["-H", header]).await;
    assert_eq!(no_certificate.status(), 403);
    let other = actual("https://evil.example").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}
