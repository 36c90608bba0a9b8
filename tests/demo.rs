//! `certgate demo` end to end: the built binary on a free port; every curl command it
//! prints is run as printed (through `sh`) and must give the outcome it announces.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// One announced example: `# <title>: expect <status> (<note>)` and its command.
#[derive(Debug)]
struct Printed {
    title: String,
    status: u16,
    command: String,
}

struct Demo {
    child: Child,
    output: Vec<String>,
}

impl Demo {
    /// Starts the demo in `dir` and reads what it prints up to "Press Ctrl-C to stop.".
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || read_until_ready(stdout, &tx));
        let output = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo printed its commands within 60 s");
        Self { child, output }
    }

    fn examples(&self) -> Vec<Printed> {
        let mut examples = Vec::new();
        let mut lines = self.output.iter();
        while let Some(line) = lines.next() {
            let Some(comment) = line.strip_prefix("# ") else {
                continue;
            };
            let (title, rest) = comment.rsplit_once(": expect ").unwrap();
            let status = rest.split_whitespace().next().unwrap().parse().unwrap();
            let command = lines.next().unwrap().clone();
            examples.push(Printed {
                title: title.to_owned(),
                status,
                command,
            });
        }
        examples
    }
}

fn read_until_ready(stdout: ChildStdout, tx: &std::sync::mpsc::Sender<Vec<String>>) {
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let done = line.starts_with("Press Ctrl-C to stop.");
        lines.push(line);
        if done {
            let _ = tx.send(lines);
            return;
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a printed command as a user would paste it, quietly and with a time limit.
fn run(command: &str) -> (u16, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} -sS --max-time 30"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = stdout
        .lines()
        .find(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {stdout}"));
    (status, stdout)
}

#[test]
fn every_printed_command_gives_the_outcome_it_announces() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let demo = Demo::start(&root);
    let text = demo.output.join("\n");
    assert!(
        text.contains("certgate demo: serving https://127.0.0.1:"),
        "{text}"
    );

    let examples = demo.examples();
    let titles: Vec<&str> = examples.iter().map(|e| e.title.as_str()).collect();
    for wanted in [
        "good certificate",
        "no certificate",
        "revoked",
        "expired",
        "foreign CA",
        "spoofed",
        "off.localhost",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "{wanted} not in {titles:?}"
        );
    }
    for example in &examples {
        // Every file a command names was written.
        for word in example.command.split_whitespace() {
            let path = word.trim_start_matches('@');
            if path.starts_with('/') {
                assert!(std::path::Path::new(path).is_file(), "{path} missing");
            }
        }
        let (status, output) = run(&example.command);
        assert_eq!(status, example.status, "{}: {output}", example.title);
        if example.status == 200 {
            assert!(output.contains("x-echo-uri: /hello"), "proxied: {output}");
        }
        if example.command.contains("--data-binary") {
            assert!(
                output.ends_with(certgate::demo::ECHO_BODY),
                "body echo: {output}"
            );
        }
    }
    assert_eq!(examples.iter().filter(|e| e.status == 200).count(), 2);
    assert_eq!(examples.len(), 8);

    // The deployment it wrote is the one `certgate serve` reads, and it checks clean.
    let check = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["check", "--config"])
        .arg(root.join("deployment"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn a_second_run_rewrites_its_own_folder_and_a_foreign_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let first = Demo::start(&root);
    let good = std::fs::read(root.join("client/good.pem")).unwrap();
    drop(first);
    let second = Demo::start(&root);
    assert_ne!(
        std::fs::read(root.join("client/good.pem")).unwrap(),
        good,
        "a fresh PKI at each run"
    );
    let (status, _) = run(&second.examples()[0].command);
    assert_eq!(status, 200);
    drop(second);

    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&foreign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a certgate demo folder"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn sigint_stops_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(&dir.path().join("demo"));
    let pid = demo.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            return;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}
