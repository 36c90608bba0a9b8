//! cargo-lambda in tests: `cargo lambda build --release`, the Lambda runtime API of
//! `cargo lambda watch --only-lambda-apis` on a free loopback port, the built `bootstrap`
//! run against it, and `cargo lambda invoke --data-file`.
//!
//! A missing cargo-lambda is a test failure with the install command, never a skip.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::moto::free_port;

const INSTALL_HINT: &str = "the Lambda tests need cargo-lambda (and Zig) on PATH: install both with \
     `python3 -m pip install cargo-lambda`, as .ci/test does";

/// The repository root (where Cargo.toml is).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test, with the install command, when cargo-lambda is not installed.
pub fn require_cargo_lambda() {
    let output = Command::new("cargo-lambda")
        .args(["lambda", "--version"])
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "`cargo-lambda lambda --version` failed ({}): {}; {INSTALL_HINT}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("cannot run cargo-lambda ({error}); {INSTALL_HINT}"),
    }
}

/// `cargo lambda build --release --bin <bin>` (x86_64) into its own target directory
/// (`target/lambda-ci`, so it never waits for the cargo lock of the running tests);
/// returns the `bootstrap` it wrote. A no-op when `.ci/test` built it already.
pub fn build_release(bin: &str) -> PathBuf {
    require_cargo_lambda();
    let target_dir = repo().join("target").join("lambda-ci");
    let mut command = Command::new("cargo-lambda");
    command
        .args(["lambda", "build", "--release", "--locked", "--bin", bin])
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", &target_dir);
    // Without what `cargo test` sets for this test (build scripts such as ring's rerun when
    // CARGO_MANIFEST_DIR or CARGO_PKG_NAME change), so the build `.ci/test` made is reused.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "OUT_DIR"
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo-lambda ({error}); {INSTALL_HINT}"));
    assert!(status.success(), "cargo lambda build --release failed");
    let bootstrap = target_dir.join("lambda").join(bin).join("bootstrap");
    assert!(
        bootstrap.is_file(),
        "{} was not written",
        bootstrap.display()
    );
    bootstrap
}

/// `cargo lambda watch --only-lambda-apis` on a free loopback port; killed on drop.
pub struct Watch {
    child: Child,
    pub port: u16,
}

impl Watch {
    /// Starts the emulator and waits until it accepts connections.
    ///
    /// # Panics
    /// cargo-lambda missing, or the emulator not listening within 60 s.
    pub fn start() -> Self {
        require_cargo_lambda();
        let port = free_port();
        let child = Command::new("cargo-lambda")
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
            .args(["-A", "127.0.0.1", "-P", &port.to_string()])
            .current_dir(repo())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run cargo-lambda ({error}); {INSTALL_HINT}"));
        let mut watch = Self { child, port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = watch.child.try_wait() {
                panic!("cargo lambda watch exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        watch
    }

    /// `AWS_LAMBDA_RUNTIME_API` for a function process serving `function`.
    pub fn runtime_api(&self, function: &str) -> String {
        format!("http://127.0.0.1:{}/.rt/{function}", self.port)
    }

    /// `cargo lambda invoke <function> --data-file <event>`: the response document, or
    /// the error cargo-lambda printed (a function error).
    pub fn invoke(&self, function: &str, event: &Path) -> Result<serde_json::Value, String> {
        let output = self.invoke_with(function, &["--data-file".as_ref(), event.as_os_str()]);
        parse_invoke(output)
    }

    /// `cargo lambda invoke <function> --data-ascii <json>`.
    pub fn invoke_ascii(&self, function: &str, json: &str) -> Result<serde_json::Value, String> {
        let output = self.invoke_with(function, &["--data-ascii".as_ref(), json.as_ref()]);
        parse_invoke(output)
    }

    fn invoke_with(&self, function: &str, data: &[&std::ffi::OsStr]) -> Output {
        Command::new("cargo-lambda")
            .args(["lambda", "invoke", function, "--output-format", "json"])
            .args(["-A", "127.0.0.1", "-P", &self.port.to_string()])
            .args(data)
            .current_dir(repo())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run cargo-lambda ({error}); {INSTALL_HINT}"))
    }
}

fn parse_invoke(output: Output) -> Result<serde_json::Value, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{stdout}{stderr}"));
    }
    serde_json::from_str(&stdout).map_err(|error| format!("not JSON ({error}): {stdout}{stderr}"))
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A function process (the built `bootstrap`) polling a [`Watch`]; its stdout lines are
/// kept for the test to read. Killed on drop.
pub struct FunctionProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    /// Starts `bootstrap` for `function` with `env` (on top of the Lambda variables).
    pub fn start(bootstrap: &Path, watch: &Watch, function: &str, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(bootstrap);
        command
            .env("AWS_LAMBDA_RUNTIME_API", watch.runtime_api(function))
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/certgate")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", bootstrap.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    /// The stdout lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for a stdout line containing `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
