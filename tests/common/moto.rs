//! A real S3 API on loopback: `moto_server` (PyPI `moto[server]`) as a child process.
//!
//! [`Moto::start`] picks a free port on 127.0.0.1, starts `moto_server` there, waits until it
//! answers, and kills it when the value is dropped. A missing `moto_server` binary is a test
//! failure with a message saying how to install it, never a silent skip.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certgate::source::s3::ClientOptions;

/// The region of every test bucket.
pub const REGION: &str = "us-east-1";

/// The SDK client's options for the S3 API at `endpoint`: test credentials, [`REGION`], one
/// attempt (a failure shows at once).
pub fn client_options(endpoint: String) -> ClientOptions {
    ClientOptions {
        endpoint_url: Some(endpoint),
        region: Some(REGION.to_owned()),
        credentials: Some(("testing".to_owned(), "testing".to_owned())),
        max_attempts: Some(1),
        ..ClientOptions::default()
    }
}

/// AWS settings aimed at `endpoint` (as [`client_options`]), for the clients a test makes
/// its own fixtures with (Secrets Manager secrets, SSM parameters).
pub async fn sdk_config(endpoint: String) -> aws_config::SdkConfig {
    certgate::source::s3::sdk_config(&client_options(endpoint))
        .await
        .expect("AWS settings for moto")
}

/// A running `moto_server`; killed on drop.
pub struct Moto {
    child: Option<Child>,
    pub addr: SocketAddr,
    tls: bool,
}

/// How long a starting `moto_server` may take to answer: a bound, not a timing. Python
/// importing moto took over 30 s on a 2-core machine busy with a test's `cargo lambda`
/// builds beside it.
const READY_WITHIN: Duration = Duration::from_secs(120);

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until it answers HTTP.
    ///
    /// # Panics
    /// When `moto_server` is not on PATH or does not answer within [`READY_WITHIN`].
    pub fn start() -> Self {
        Self::start_binary("moto_server")
    }

    /// [`Moto::start`] serving HTTPS with the given PEM certificate chain and key.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Self {
        let tls = [
            "-c".to_owned(),
            cert.display().to_string(),
            "-k".to_owned(),
            key.display().to_string(),
        ];
        Self::spawn("moto_server", &tls)
    }

    /// [`Moto::start`] with another executable (to test the missing-binary message).
    pub fn start_binary(binary: &str) -> Self {
        Self::spawn(binary, &[])
    }

    fn spawn(binary: &str, tls: &[String]) -> Self {
        // A port can be taken between `free_port` and the server's bind: try another.
        let mut exits = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            if answers(SocketAddr::from(([127, 0, 0, 1], port))) {
                continue; // taken already
            }
            let child = Command::new(binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .args(tls)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|error| {
                    panic!(
                        "cannot start `{binary}` ({error}): the S3 tests need moto_server on \
                         PATH; install it with `pip install 'moto[server]'`"
                    )
                });
            let mut moto = Self {
                child: Some(child),
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                tls: !tls.is_empty(),
            };
            match moto.wait_until_ready() {
                Ok(()) => return moto,
                Err(exit) => exits.push(exit),
            }
        }
        panic!("moto_server exited before answering: {}", exits.join("; "));
    }

    /// `http://127.0.0.1:<port>` (`https://` with TLS), for `AWS_ENDPOINT_URL_S3` and the
    /// SDK's `endpoint_url`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Kills the server now (to test an unreachable bucket); drop does nothing more.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until our child answers; `Err` with its exit status when it died first.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            // Speaking TLS here is the test's job: a TLS server is ready once it accepts.
            let answered = if self.tls {
                TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok()
            } else {
                answers(self.addr)
            };
            // Checked after answering too: a server of another test may own the port.
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("{status} (port {})", self.addr.port()));
            }
            if answered {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                panic!(
                    "moto_server did not answer on {} within {} s",
                    self.addr,
                    READY_WITHIN.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True when something on `addr` answers an HTTP request with a status line.
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind a loopback port")
}
