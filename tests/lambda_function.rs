//! The Lambda function `certgate-lambda`.
//!
//! * Through cargo-lambda: the release `bootstrap` (`cargo lambda build --release`) serving
//!   every sample event of `events/` (`cargo lambda invoke --data-file`) from a deployment
//!   that `certgate trust push` put into a real S3 API (moto_server on loopback), answers
//!   checked against `events/README.md`; S3 unreachable at cold start; a non-HTTP event.
//! * In process, against moto: a refresh that sees a broken policy keeps the last good
//!   deployment; 503 in each event shape while nothing is loaded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use certgate::files::SourceFile;
use certgate::frontend::lambda::function::{Function, VERSION_HEADER};
use certgate::gateway::{Build, Deployment};
use certgate::source::origin::{LocalFolder, Origin};
use certgate::source::push::{PushOptions, push};
use certgate::source::refresh::{RefreshError, Refreshed, Refresher, Snapshot};
use certgate::source::s3::{ClientOptions, S3Source, s3_client};
use certgate::source::{content_version, read_folder};
use common::lambda_json::header;
use common::lambda_watch::{FunctionProcess, Watch, build_release, repo};
use common::moto::{Moto, free_port};
use serde_json::Value;

const BUCKET: &str = "certgate-lambda";
const FUNCTION: &str = "certgate-lambda";

/// `events/README.md`: each sample event and the status it must get.
const EXPECTED: [(&str, u16); 7] = [
    ("valid", 200),
    ("no-certificate", 403),
    ("untrusted", 403),
    ("expired", 403),
    ("revoked", 403),
    ("spoofed-header", 403),
    ("post-64k", 200),
];

fn s3_env(moto_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL_S3", moto_url.to_owned()),
    ]
}

async fn client(endpoint: String, timeout: Option<Duration>) -> Client {
    s3_client(&ClientOptions {
        endpoint_url: Some(endpoint),
        region: Some("us-east-1".to_owned()),
        credentials: Some(("testing".to_owned(), "testing".to_owned())),
        max_attempts: Some(1),
        timeout,
        ..ClientOptions::default()
    })
    .await
    .expect("an S3 client")
}

fn folder(relative: &str) -> Vec<SourceFile> {
    read_folder(&repo().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Checks one response against `events/README.md`.
fn check_answer(kind: &str, event: &str, expected: u16, response: &Value, version: &str) {
    let what = format!("{kind}/{event}.json: {response}");
    assert_eq!(response["statusCode"], expected, "{what}");
    assert_eq!(
        header(response, VERSION_HEADER).as_deref(),
        Some(version),
        "{what}"
    );
    if kind == "alb" {
        let description = match expected {
            200 => "200 OK",
            _ => "403 Invalid client certificate",
        };
        assert_eq!(response["statusDescription"], description, "{what}");
    } else {
        assert_eq!(response.get("statusDescription"), None, "{what}");
    }
    if event == "valid" {
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body["subject"], "CN=client1.contoso.com, O=Contoso, C=US",
            "{what}"
        );
    }
}

// ------------------------------------------------------------------ through cargo-lambda

#[test]
fn every_sample_event_through_cargo_lambda_from_s3() {
    let bootstrap = build_release(FUNCTION);
    let moto = Moto::start();
    let env = s3_env(&moto.url());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = client(moto.url(), None).await;
        client.create_bucket().bucket(BUCKET).send().await.unwrap();
    });
    for (deployment, prefix, kinds) in [
        (
            "examples/apigateway",
            "apigateway",
            &["rest", "http-api"][..],
        ),
        ("examples/alb", "alb", &["alb"][..]),
    ] {
        let uri = format!("s3://{BUCKET}/{prefix}");
        let pushed = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["trust", "push", deployment, &uri])
            .current_dir(repo())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            pushed.status.success(),
            "certgate trust push {deployment} {uri}: {}",
            String::from_utf8_lossy(&pushed.stderr)
        );
        let version = content_version(&folder(deployment));

        let mut function_env = env.clone();
        function_env.push(("CERTGATE_CONFIG", uri.clone()));
        function_env.push(("CERTGATE_REFRESH_SECONDS", "60".to_owned()));
        // One emulator per function process: a killed process leaves its pending poll
        // behind, which could take the next process's invocation.
        let watch = Watch::start();
        let function = FunctionProcess::start(&bootstrap, &watch, FUNCTION, &function_env);
        let loaded = function
            .wait_for("cold start", Duration::from_secs(30))
            .unwrap_or_else(|| panic!("no cold-start line: {:?}", function.lines()));
        assert!(loaded.contains("deployment loaded"), "{loaded}");
        // The load's line says where its time went: the GET or the build.
        let cold_ms = serde_json::from_str::<Value>(&loaded).unwrap()["ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("no ms: {loaded}"));
        let load = function
            .lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["message"] == "deployment loaded")
            .unwrap_or_else(|| panic!("no load line: {:?}", function.lines()));
        for phase in ["fetch_ms", "build_ms"] {
            let ms = load[phase]
                .as_f64()
                .unwrap_or_else(|| panic!("no {phase}: {load}"));
            assert!((0.0..=cold_ms + 1.0).contains(&ms), "{phase}: {load}");
        }

        let mut invoked = 0;
        for kind in kinds {
            for (event, expected) in EXPECTED {
                let path = repo()
                    .join("events")
                    .join(kind)
                    .join(format!("{event}.json"));
                let response = watch
                    .invoke(FUNCTION, &path)
                    .unwrap_or_else(|e| panic!("{kind}/{event}.json: {e}"));
                check_answer(kind, event, expected, &response, &version);
                invoked += 1;
            }
        }

        // One request line and one EMF line per event; every JSON line names the version.
        std::thread::sleep(Duration::from_millis(200));
        let lines = function.lines();
        let json: Vec<Value> = lines
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        assert_eq!(
            json.len(),
            lines.len(),
            "every stdout line is JSON: {lines:#?}"
        );
        for line in &json {
            assert!(line["deployment"].is_string(), "no deployment: {line}");
        }
        let requests: Vec<&Value> = json.iter().filter(|l| l["message"] == "request").collect();
        assert_eq!(requests.len(), invoked, "{lines:#?}");
        let valid = requests
            .iter()
            .find(|l| l["status"] == 200 && l["certificate"] == "presented")
            .expect("a valid request line");
        assert_eq!(valid["route"], "orders");
        assert_eq!(valid["decision"], "responded");
        assert_eq!(valid["deployment"], version.as_str());
        assert_eq!(valid["subject"], "CN=client1.contoso.com, O=Contoso, C=US");
        assert!(valid["thumbprint"].as_str().unwrap().len() == 40, "{valid}");
        assert!(
            valid["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
        assert!(valid["duration_ms"].is_number());
        assert_eq!(valid["ignored_certificate_sources"], "-");
        // Each spoofed-header event carries a certificate header the deployment does not
        // trust: logged by name and counted.
        let spoofed = requests
            .iter()
            .filter(|l| l["ignored_certificate_sources"] != "-")
            .count();
        assert_eq!(spoofed, kinds.len(), "{lines:#?}");
        let emf: Vec<&Value> = json.iter().filter(|l| l["_aws"].is_object()).collect();
        assert_eq!(emf.len(), invoked, "{lines:#?}");
        assert!(
            emf.iter()
                .all(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "certgate")
        );
        assert!(emf.iter().any(|l| l["Decision"] == "responded"
            && l["Reason"] == "Invalid client certificate"
            && l["Status"] == 403));
        let counted: u64 = emf
            .iter()
            .map(|l| l["IgnoredCertificates"].as_u64().unwrap())
            .sum();
        assert!(counted >= kinds.len() as u64, "{lines:#?}");
    }

    // An event that is not HTTP: a Lambda error that says what the function serves.
    let watch = Watch::start();
    let function = FunctionProcess::start(&bootstrap, &watch, FUNCTION, &{
        let mut e = env.clone();
        e.push(("CERTGATE_CONFIG", format!("s3://{BUCKET}/alb")));
        e
    });
    let error = watch
        .invoke_ascii(FUNCTION, r#"{"Records": [{"eventSource": "aws:s3"}]}"#)
        .expect_err("a non-HTTP event is a Lambda error");
    // cargo lambda wraps the message over lines that start with `│`.
    let words: Vec<&str> = error.split_whitespace().filter(|w| *w != "│").collect();
    assert!(
        words
            .join(" ")
            .contains("API Gateway REST, HTTP API and ALB events only"),
        "{error}"
    );
    // A Host that is no host (an ALB passes on whatever a client sends) is answered 400,
    // and the same process then answers the next event.
    let valid_alb = repo().join("events/alb/valid.json");
    let mut malformed: Value = serde_json::from_slice(&std::fs::read(&valid_alb).unwrap()).unwrap();
    malformed["headers"]["host"] = "api.example.com:99999".into();
    // The non-HTTP event's error line first, so that it is not counted below.
    function
        .wait_for("FunctionError", Duration::from_secs(5))
        .expect("the non-HTTP event's error is logged");
    let logged_before = function.lines().len();
    let response = watch
        .invoke_ascii(FUNCTION, &malformed.to_string())
        .expect("a 400, not a failed invocation");
    assert_eq!(response["statusCode"], 400, "{response}");
    assert_eq!(response["statusDescription"], "400 Bad Request");
    // The client's bad input is logged as a request, not as an error line that would
    // trip an alarm on the function's errors, and nothing panics.
    function
        .wait_for("\"status\":400", Duration::from_secs(5))
        .expect("the 400 is logged");
    let errors: Vec<String> = function.lines()[logged_before..]
        .iter()
        .filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("panic"))
        .cloned()
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let response = watch.invoke(FUNCTION, &valid_alb).unwrap();
    assert_eq!(
        response["statusCode"], 200,
        "after a malformed event: {response}"
    );
    drop(function);
    drop(watch);

    // The bucket unreachable at cold start: 503 with a JSON body, never proxied.
    let watch = Watch::start();
    let mut dead = s3_env(&format!("http://127.0.0.1:{}", free_port()));
    dead.push(("CERTGATE_CONFIG", format!("s3://{BUCKET}/apigateway")));
    let function = FunctionProcess::start(&bootstrap, &watch, FUNCTION, &dead);
    let line = function
        .wait_for("cold start", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no cold-start line: {:?}", function.lines()));
    assert!(line.contains("no deployment loaded"), "{line}");
    for kind in ["rest", "http-api", "alb"] {
        let path = repo().join("events").join(kind).join("valid.json");
        let response = watch.invoke(FUNCTION, &path).unwrap();
        assert_eq!(response["statusCode"], 503, "{kind}: {response}");
        assert_eq!(header(&response, VERSION_HEADER).as_deref(), Some("none"));
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["statusCode"], 503);
    }
}

// ------------------------------------------------------------------------- in process

fn event(kind: &str, name: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("events")
            .join(kind)
            .join(format!("{name}.json")),
    )
    .unwrap()
}

async fn answer(function: &Function, kind: &str, name: &str) -> Value {
    let response = function
        .invoke(&event(kind, name), "test-request")
        .await
        .unwrap();
    serde_json::to_value(&response).unwrap()
}

fn refresher(source: S3Source) -> Arc<Refresher<Origin, Deployment, Build>> {
    Arc::new(Refresher::new(
        Origin::S3(source),
        Deployment::from_files as Build,
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_that_sees_a_broken_policy_keeps_the_last_good() {
    let moto = Moto::start();
    let client = client(moto.url(), None).await;
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    let source = S3Source::new(client, format!("s3://{BUCKET}/fn").parse().unwrap());
    let options = PushOptions {
        delete: true,
        now: time::OffsetDateTime::now_utc(),
    };
    let good = folder("examples/apigateway");
    let good_version = content_version(&good);
    push(&source, &good, b"", &options).await.unwrap();

    let refresher = refresher(source.clone());
    refresher.load_initial().await.unwrap();
    let function = Function::with_snapshot(refresher.snapshot());
    let response = answer(&function, "rest", "valid").await;
    check_answer("rest", "valid", 200, &response, &good_version);

    // A policy that does not parse reaches S3 (pushed without `certgate check`).
    let mut broken = good.clone();
    let policy = broken
        .iter_mut()
        .find(|f| f.path == "policies/orders.xml")
        .unwrap();
    policy.bytes = b"<policies><inbound><base /></inbound>"[..].into();
    push(&source, &broken, b"", &options).await.unwrap();
    let error = refresher.refresh().await.unwrap_err();
    assert!(matches!(error, RefreshError::Build { .. }), "{error}");
    assert!(error.to_string().contains("policies/orders.xml"), "{error}");
    for (name, status) in EXPECTED {
        let response = answer(&function, "rest", name).await;
        check_answer("rest", name, status, &response, &good_version);
    }
    assert!(function.snapshot().last_error().is_some());

    // A good deployment again: served from the next refresh on.
    let mut fixed = good.clone();
    let config = fixed.iter_mut().find(|f| f.path == "gateway.toml").unwrap();
    config.bytes = [&config.bytes[..], b"\n# fixed\n"].concat().into();
    let fixed_version = content_version(&fixed);
    push(&source, &fixed, b"", &options).await.unwrap();
    assert_eq!(
        refresher.refresh().await,
        Ok(Refreshed::Updated {
            version: fixed_version.clone()
        })
    );
    let response = answer(&function, "http-api", "valid").await;
    check_answer("http-api", "valid", 200, &response, &fixed_version);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_bucket_at_cold_start_answers_503_in_each_shape() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let client = client(dead, Some(Duration::from_secs(2))).await;
    let source = S3Source::new(client, format!("s3://{BUCKET}/fn").parse().unwrap());
    let refresher = refresher(source);
    let error = refresher.load_initial().await.unwrap_err();
    assert!(matches!(error, RefreshError::Fetch { .. }), "{error}");
    let function = Function::with_snapshot(refresher.snapshot());
    for kind in ["rest", "http-api", "alb"] {
        for (name, _) in EXPECTED {
            let response = answer(&function, kind, name).await;
            assert_eq!(response["statusCode"], 503, "{kind}/{name}: {response}");
            assert_eq!(header(&response, VERSION_HEADER).as_deref(), Some("none"));
            assert_eq!(
                header(&response, "content-type").as_deref(),
                Some("application/json")
            );
            assert_eq!(header(&response, "retry-after").as_deref(), Some("5"));
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["statusCode"], 503, "{kind}/{name}");
            if kind == "alb" {
                assert_eq!(response["statusDescription"], "503 Deployment not loaded");
            }
        }
    }
}

#[tokio::test]
async fn an_event_whose_host_is_no_host_gets_400_in_its_shape() {
    let function = Function::with_snapshot(Arc::new(Snapshot::empty()));
    for kind in ["rest", "http-api", "alb"] {
        let mut event: Value = serde_json::from_str(&event(kind, "valid")).unwrap();
        for name in ["host", "Host"] {
            if event["headers"].get(name).is_some() {
                event["headers"][name] = "api.contoso.com:99999".into();
            }
            if event["multiValueHeaders"].get(name).is_some() {
                event["multiValueHeaders"][name] = serde_json::json!(["api.contoso.com:99999"]);
            }
        }
        let response = function
            .invoke(&event.to_string(), "r")
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let response = serde_json::to_value(&response).unwrap();
        assert_eq!(response["statusCode"], 400, "{kind}: {response}");
        assert_eq!(header(&response, VERSION_HEADER).as_deref(), Some("none"));
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["statusCode"], 400, "{kind}");
    }
}

#[tokio::test]
async fn events_that_are_not_http_are_lambda_errors() {
    let function = Function::with_snapshot(Arc::new(Snapshot::empty()));
    for event in [
        r#"{"Records": [{"eventSource": "aws:s3"}]}"#,
        r#"{"hello": "world"}"#,
        "[]",
    ] {
        let error = function.invoke(event, "r").await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("serves API Gateway REST, HTTP API and ALB events only"),
            "{event}: {message}"
        );
    }
    // Events with a request's fields that are no request to forward, even with a
    // deployment that would answer them 200 (tests/data/lambda/README.md).
    let function = serving(&repo().join("examples/apigateway")).await;
    for (file, says) in [
        ("rest-request-authorizer.json", "Lambda authorizer's event"),
        (
            "http-api-request-authorizer-v1.json",
            "Lambda authorizer's event",
        ),
        (
            "http-api-request-authorizer-v2.json",
            "Lambda authorizer's event",
        ),
        ("websocket-connect.json", "WebSocket event (route $connect)"),
    ] {
        let error = function.invoke(&data(file), "r").await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("serves API Gateway REST, HTTP API and ALB events only")
                && message.contains(says),
            "{file}: {message}"
        );
        let diagnostic = lambda_http::lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "certgate::NotAnHttpEvent", "{file}");
    }
}

fn data(file: &str) -> String {
    std::fs::read_to_string(repo().join("tests/data/lambda").join(file)).unwrap()
}

/// `valid.json` of `kind` with a header whose value holds a control character, as API
/// Gateway passes it on.
fn with_control_character(kind: &str) -> Value {
    let mut event: Value = serde_json::from_str(&event(kind, "valid")).unwrap();
    event["headers"]["x-note"] = "a\u{1}b".into();
    if event.get("multiValueHeaders").is_some() {
        event["multiValueHeaders"]["x-note"] = serde_json::json!(["a\u{1}b"]);
    }
    event
}

#[tokio::test]
async fn a_header_with_a_control_character_gets_400_in_its_shape() {
    for (config, kinds) in [
        ("examples/apigateway", &["rest", "http-api"][..]),
        ("examples/alb", &["alb"][..]),
    ] {
        let function = serving(&repo().join(config)).await;
        let version = content_version(&folder(config));
        for kind in kinds {
            let event = with_control_character(kind).to_string();
            let response = function
                .invoke(&event, "r")
                .await
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let response = serde_json::to_value(&response).unwrap();
            assert_eq!(response["statusCode"], 400, "{kind}: {response}");
            assert_eq!(header(&response, VERSION_HEADER), Some(version.clone()));
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            assert_eq!(
                body["message"],
                "A request header's name or value is not valid HTTP (a control character).",
                "{kind}"
            );
            match *kind {
                "alb" => assert_eq!(response["statusDescription"], "400 Bad Request"),
                _ => assert_eq!(response.get("statusDescription"), None, "{kind}"),
            }
            // The shape's own header fields: REST puts every header in multiValueHeaders.
            let in_multi = response["multiValueHeaders"]["content-type"].is_array();
            let in_single = response["headers"]["content-type"].is_string();
            assert_eq!(
                (in_multi, in_single),
                (*kind != "http-api", *kind != "rest"),
                "{kind}: {response}"
            );
        }
    }
}

/// README: an ALB health check of a Lambda target carries no Host (and no
/// certificate); it gets 400 once a deployment is loaded, 503 before.
#[tokio::test]
async fn an_alb_health_check_gets_400_with_a_deployment_and_503_without() {
    let check = data("alb-health-check.json");
    let function = serving(&repo().join("examples/alb")).await;
    let response = serde_json::to_value(function.invoke(&check, "r").await.unwrap()).unwrap();
    assert_eq!(
        response["statusDescription"], "400 Bad Request",
        "{response}"
    );
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["message"], "The request has no Host.");
    let function = Function::with_snapshot(Arc::new(Snapshot::empty()));
    let response = serde_json::to_value(function.invoke(&check, "r").await.unwrap()).unwrap();
    assert_eq!(
        response["statusDescription"], "503 Deployment not loaded",
        "{response}"
    );
}

// ------------------------------------------------------- invoke: the function's answer

/// `certgate invoke --config CONFIG EVENT`: the JSON it prints, or its error (exit 2).
fn invoke_cli(config: &Path, event: &Path) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .arg("invoke")
        .arg("--config")
        .arg(config)
        .arg(event)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).expect("stdout is JSON")),
        Some(2) => Err(stderr),
        code => panic!("{}: exit {code:?}: {stderr}", event.display()),
    }
}

/// The event at `path` through `function` and through `certgate invoke --config
/// config`: the same JSON, or the same error.
async fn same_answer(function: &Function, config: &Path, path: &Path) -> Result<Value, String> {
    let event = std::fs::read_to_string(path).unwrap();
    let from_function = function
        .invoke(&event, "r")
        .await
        .map(|response| serde_json::to_value(&response).unwrap());
    let (config, event) = (config.to_owned(), path.to_owned());
    let from_invoke = tokio::task::spawn_blocking(move || invoke_cli(&config, &event))
        .await
        .unwrap();
    let what = path.display();
    match (from_function, from_invoke) {
        (Ok(function), Ok(invoke)) => {
            assert_eq!(function, invoke, "{what}");
            Ok(function)
        }
        (Err(function), Err(invoke)) => {
            // The function's message is the event error after what it serves.
            let function = function.to_string();
            let (_, why) = function.split_once("events only: ").unwrap();
            assert!(invoke.contains(why), "{what}: {invoke} vs {function}");
            Err(function)
        }
        (function, invoke) => panic!("{what}: the function: {function:?}; invoke: {invoke:?}"),
    }
}

/// `certgate invoke` runs the function's one path: every sample event, the events
/// that are no requests, headers that are not HTTP, an answer too large for an ALB.
#[tokio::test(flavor = "multi_thread")]
async fn invoke_prints_exactly_the_functions_answer() {
    let scratch = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (config, kinds) in [
        ("examples/apigateway", &["rest", "http-api"][..]),
        ("examples/alb", &["alb"][..]),
    ] {
        let config = repo().join(config);
        let function = serving(&config).await;
        let mut events: Vec<PathBuf> = Vec::new();
        for kind in kinds {
            let mut samples: Vec<PathBuf> = std::fs::read_dir(repo().join("events").join(kind))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
            samples.sort();
            assert_eq!(samples.len(), EXPECTED.len(), "{kind}");
            events.extend(samples);
            let path = scratch
                .path()
                .join(format!("{kind}-control-character.json"));
            std::fs::write(&path, with_control_character(kind).to_string()).unwrap();
            events.push(path);
        }
        let mut fixtures: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/data/lambda"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        fixtures.sort();
        events.extend(fixtures);
        for path in &events {
            let answer = same_answer(&function, &config, path).await;
            let name = path.file_name().unwrap().to_string_lossy();
            match name.as_ref() {
                n if n.contains("control-character") => {
                    assert_eq!(answer.unwrap()["statusCode"], 400, "{n}");
                }
                n if n.contains("authorizer") || n.contains("websocket") => {
                    assert!(answer.is_err(), "{n}: {answer:?}");
                }
                n => assert!(answer.is_ok(), "{n}: {answer:?}"),
            }
            compared += 1;
        }
    }
    // 7 samples and a control character per shape, 5 fixtures per deployment.
    assert_eq!(compared, 3 * (EXPECTED.len() + 1) + 2 * 5);

    // Too large for an ALB (1 MB): the function's 502, from invoke too.
    let echo = common::backend::EchoBackend::start().await;
    let dir = echo_alb_deployment(&echo.url());
    let function = serving(dir.path()).await;
    let mut big: Value = serde_json::from_str(&event("alb", "post-64k")).unwrap();
    big["body"] = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        vec![0xff; 800 * 1024],
    )
    .into();
    big["headers"]["content-length"] = (800 * 1024).to_string().into();
    let path = scratch.path().join("too-large.json");
    std::fs::write(&path, big.to_string()).unwrap();
    let answer = same_answer(&function, dir.path(), &path).await.unwrap();
    assert_eq!(answer["statusDescription"], "502 Response too large");
}

/// examples/alb, with /orders forwarded to the backend at `url`.
fn echo_alb_deployment(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in folder("examples/alb") {
        let mut bytes = file.bytes.to_vec();
        if file.path == "gateway.toml" {
            bytes = String::from_utf8(bytes)
                .unwrap()
                .replace("http://127.0.0.1:8080", url)
                .into_bytes();
        } else if file.path == "policies/orders.xml" {
            bytes = b"<policies><inbound><base /></inbound><backend><forward-request /></backend></policies>".to_vec();
        }
        let path = dir.path().join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

/// A function serving the deployment folder `dir`, as `certgate invoke --config dir`.
async fn serving(dir: &Path) -> Function {
    let origin = Origin::Folder(LocalFolder::new(dir));
    let refresher = Arc::new(Refresher::new(origin, Deployment::from_files as Build));
    refresher.load_initial().await.unwrap();
    Function::with_snapshot(refresher.snapshot())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_larger_than_the_front_end_takes_is_a_502_that_says_so() {
    // examples/alb, with /orders forwarded to an echo backend: the answer is as large as
    // the request body. An ALB takes at most 1 MB of JSON from a Lambda target.
    let echo = common::backend::EchoBackend::start().await;
    let dir = echo_alb_deployment(&echo.url());
    let function = serving(dir.path()).await;

    let mut event: Value = serde_json::from_str(&event("alb", "post-64k")).unwrap();
    let answer = |event: Value| {
        let function = &function;
        async move {
            let response = function.invoke(&event.to_string(), "r").await.unwrap();
            let size = response.json_len();
            (serde_json::to_value(&response).unwrap(), size)
        }
    };
    let (small, size) = answer(event.clone()).await;
    assert_eq!(small["statusCode"], 200, "{small}");
    assert!(size < 1_000_000 && size > 64 * 1024, "{size}");
    assert_eq!(size, small.to_string().len());

    let big = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        vec![0xff; 800 * 1024],
    );
    event["body"] = big.into();
    // Not UTF-8: the answer goes back base64-encoded, 1.09 MB of JSON.
    event["headers"]["content-length"] = (800 * 1024).to_string().into();
    let (refused, size) = answer(event).await;
    assert_eq!(
        refused["statusCode"],
        502,
        "{}",
        &refused.to_string()[..300]
    );
    assert_eq!(refused["statusDescription"], "502 Response too large");
    assert!(size < 1_000, "the 502 itself is small: {size}");
    let body: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["statusCode"], 502);
}
