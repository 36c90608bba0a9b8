//! `certgate check` and `certgate invoke` on the committed sample deployments and
//! events: what the README promises users who try them.

mod common;

use std::path::Path;

use common::cli::certgate;

use certgate::frontend::lambda::function::VERSION_HEADER;
use certgate::source::{content_version, read_folder};
use common::lambda_json::header;
use serde_json::Value;

const NOW: &str = "2030-06-01T00:00:00Z";

fn invoke(config: &str, event: &str, explain: bool) -> (Value, String) {
    let mut args = vec!["invoke", "--config", config, "--now", NOW, event];
    if explain {
        args.insert(1, "--explain");
    }
    let out = certgate(&args);
    assert!(
        out.status.success(),
        "{event}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = serde_json::from_slice(&out.stdout).expect("stdout is the Lambda response JSON");
    (json, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every sample event gives the answer events/README.md states.
#[test]
fn every_sample_event_gets_the_policy_answer() {
    let expected = [
        ("valid", 200),
        ("post-64k", 200),
        ("no-certificate", 403),
        ("untrusted", 403),
        ("expired", 403),
        ("revoked", 403),
        ("spoofed-header", 403),
    ];
    for (front_end, config) in [
        ("rest", "examples/apigateway"),
        ("http-api", "examples/apigateway"),
        ("alb", "examples/alb"),
    ] {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(config);
        let version = content_version(&read_folder(&folder).unwrap());
        for (name, status) in expected {
            let event = format!("events/{front_end}/{name}.json");
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(&event).exists(),
                "{event}"
            );
            let (response, _) = invoke(config, &event, false);
            assert_eq!(response["statusCode"], status, "{event}: {response}");
            // As from the function: the deployment's version on every answer.
            assert_eq!(
                header(&response, VERSION_HEADER).as_deref(),
                Some(version.as_str()),
                "{event}"
            );
            if status == 200 {
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                assert_eq!(body["subject"], "CN=client1.contoso.com, O=Contoso, C=US");
            }
            if front_end == "alb" && status == 403 {
                assert_eq!(
                    response["statusDescription"],
                    "403 Invalid client certificate"
                );
            }
            if front_end != "alb" {
                assert!(response.get("statusDescription").is_none(), "{event}");
            }
        }
    }
}

#[test]
fn explain_shows_the_certificate_the_verdicts_and_the_decision() {
    let (_, trace) = invoke("examples/apigateway", "events/http-api/revoked.json", true);
    assert!(
        trace.contains("Subject=CN=client2-revoked.contoso.com"),
        "{trace}"
    );
    assert!(trace.contains("Verify() = false (Revoked"), "{trace}");
    assert!(trace.contains("VerifyNoRevocation() = true"), "{trace}");
    assert!(
        trace.contains("choose[1]/when[1]: condition is true"),
        "{trace}"
    );
    assert!(trace.ends_with("decision: responded 403\n"), "{trace}");

    let (_, trace) = invoke("examples/alb", "events/alb/spoofed-header.json", true);
    assert!(
        trace.contains("ignored a certificate from client-cert"),
        "{trace}"
    );
    assert!(trace.contains("no client certificate"), "{trace}");
}

#[test]
fn check_accepts_the_samples_and_prints_what_loaded() {
    let out = certgate(&["check", "--config", "examples/apigateway", "--now", NOW]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("ok: 1 API(s), 0 operation(s), 2 policy document(s), 1 root CA(s), 1 intermediate(s), 1 uploaded certificate(s) (version "),
        "{stdout}"
    );
}

#[test]
fn check_points_at_the_broken_expression_with_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("gateway.toml"),
        "[[apis]]\nname = \"a\"\npath = \"/a\"\nbackend = \"http://127.0.0.1:9\"\npolicy = \"policies/a.xml\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policies/a.xml"),
        "<policies>\n  <inbound>\n    <choose><when condition=\"@(context.Request.Certificate.Thumbprnt == &quot;x&quot;)\"><return-response/></when></choose>\n  </inbound>\n</policies>\n",
    )
    .unwrap();
    let out = certgate(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = stderr.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("policies/a.xml:3:60: error: "),
        "{stderr}"
    );
    assert!(
        first.ends_with(
            "'Thumbprnt' is not a member of X509Certificate2; did you mean 'Thumbprint'?"
        ),
        "{stderr}"
    );
    assert_eq!(
        lines.next(),
        Some(
            "3 |     <choose><when condition=\"@(context.Request.Certificate.Thumbprnt == &quot;x&quot;)\"><return-response/></when></choose>"
        )
    );
    assert_eq!(lines.next().map(|l| l.find('^')), Some(Some(4 + 59)));
}

#[test]
fn check_refuses_a_folder_without_gateway_toml() {
    let dir = tempfile::tempdir().unwrap();
    let out = certgate(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gateway.toml: not found"));
}

/// An ALB passes on whatever `Host` a client sends. `invoke` answers one that is no host
/// as the function does, a 400 in the event's shape, and nothing panics.
#[test]
fn an_event_whose_host_is_no_host_gets_the_functions_400() {
    let dir = tempfile::tempdir().unwrap();
    let valid = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/alb/valid.json");
    let mut event: Value = serde_json::from_slice(&std::fs::read(valid).unwrap()).unwrap();
    for host in ["api.example.com:99999", "["] {
        event["headers"]["host"] = host.into();
        let path = dir.path().join("bad-host.json");
        std::fs::write(&path, event.to_string()).unwrap();
        let (response, stderr) = invoke("examples/alb", path.to_str().unwrap(), false);
        assert_eq!(response["statusCode"], 400, "{host}: {response}");
        assert_eq!(response["statusDescription"], "400 Bad Request", "{host}");
        let body = response["body"].as_str().unwrap();
        assert!(body.contains("do not form a URL"), "{host}: {body}");
        assert!(!stderr.contains("panicked"), "{host}: {stderr}");
        assert!(header(&response, VERSION_HEADER).is_some(), "{host}");
    }
}

/// The sample's valid event of `front_end`, changed by `edit`, as the function answers it.
fn invoke_edited(front_end: &str, config: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let valid =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("events/{front_end}/valid.json"));
    let mut event: Value = serde_json::from_slice(&std::fs::read(valid).unwrap()).unwrap();
    edit(&mut event);
    let path = dir.path().join("edited.json");
    std::fs::write(&path, event.to_string()).unwrap();
    invoke(config, path.to_str().unwrap(), false).0
}

#[test]
fn every_event_shape_refuses_a_path_the_backend_could_read_differently() {
    for (front_end, config, field) in [
        ("rest", "examples/apigateway", "path"),
        ("http-api", "examples/apigateway", "rawPath"),
        ("alb", "examples/alb", "path"),
    ] {
        for path in [
            "/orders//42",
            "/orders/42;x",
            "/orders/%2e%2e/42",
            "/orders/4%2f2",
        ] {
            let response = invoke_edited(front_end, config, |event| event[field] = path.into());
            assert_eq!(
                response["statusCode"], 400,
                "{front_end} {path}: {response}"
            );
        }
        // Encoded unreserved characters are the same path: routed and answered.
        let response = invoke_edited(front_end, config, |e| e[field] = "/%6Frders/42".into());
        assert_eq!(response["statusCode"], 200, "{front_end}: {response}");
    }
}

#[test]
fn an_alb_event_with_both_certificate_headers_is_refused() {
    // The ALB sets one of them; the client added the other.
    let response = invoke_edited("alb", "examples/alb", |event| {
        let chain = event["headers"]["x-amzn-mtls-clientcert"].clone();
        event["headers"]["x-amzn-mtls-clientcert-leaf"] = chain;
    });
    assert_eq!(response["statusCode"], 400, "{response}");
    let body = response["body"].as_str().unwrap();
    assert!(body.contains("two client certificates"), "{body}");
}

#[test]
fn a_reader_that_goes_away_ends_invoke_quietly_not_with_a_panic() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args([
            "invoke",
            "--config",
            "examples/apigateway",
            "--now",
            NOW,
            "events/rest/valid.json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run certgate");
    // As `certgate invoke ... | head -c 0` does: the pipe's reader is gone before the
    // answer is written (loading the deployment takes longer than this).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 141)),
        "{:?}: {stderr}",
        out.status
    );
}
