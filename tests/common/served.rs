//! A `certgate serve` child process on a free loopback port: its address read from its
//! log, its stderr lines kept to wait on, killed on drop.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `certgate serve`.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Spawns `command` (`certgate serve` with its deployment) on `127.0.0.1:0`, polling
    /// every 0.2 s and logging at info, and waits until it says where it listens.
    pub async fn start(mut command: Command) -> Self {
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--reload-seconds", "0.2"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut process = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let line = process.wait_for_log("listening on https://").await;
        process.addr = line
            .split("listening on https://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        process
    }

    /// Waits (up to 30 s) for a log line containing `needle`, after `skip` lines.
    pub async fn wait_for_log_after(&self, skip: usize, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log.lock().unwrap().clone();
            if let Some(line) = log.iter().skip(skip).find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                log.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first log line containing `needle`, waiting up to 30 s for it.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_log_after(0, needle).await
    }

    /// Sends the process `signal` (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}: {sent:?}");
    }

    /// How the process ended, waiting up to 30 s for it.
    pub async fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
