//! Everyday APIM policies: `set-method`, `find-and-replace`, `authentication-basic`,
//! `trace`, `emit-metric` and `limit-concurrency`, in process against real loopback
//! backends that show what they received; the trace line captured from `tracing`, the
//! EMF line from the deployment's metric sink; Azure-bound policies refused at load with
//! the AWS way in the message.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use certgate::body::Payload;
use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, GatewayRequest, Outcome};
use certgate::policy::MetricSink;
use common::backend::{EchoBackend, GatedBackend};
use common::cli::certgate;
use common::request::gateway_request;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The secret named value `key` of every deployment here, as if read from Secrets Manager.
const SECRET: &str = "s3cr3t-v4lue";

fn files(backend: &str, policy: &str) -> Vec<SourceFile> {
    let toml = format!(
        "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n\n[named_values]\nkey = {{ secret = \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf\" }}\n"
    );
    vec![
        SourceFile::new("gateway.toml", toml),
        SourceFile::new("policies/orders.xml", policy),
    ]
}

fn deploy(backend: &str, policy: &str) -> Result<Deployment, String> {
    let values = BTreeMap::from([("key".to_owned(), SECRET.to_owned())]);
    Deployment::load_with_named_values(
        &files(backend, policy),
        "t",
        OffsetDateTime::now_utc(),
        values,
    )
    .map_err(|e| e.render())
}

fn policy(inbound: &str, outbound: &str) -> String {
    format!(
        "<policies>\n<inbound>{inbound}</inbound>\n<backend><forward-request /></backend>\n<outbound>{outbound}</outbound>\n<on-error />\n</policies>"
    )
}

fn request(method: &str, headers: &[(&str, &str)], body: &str) -> GatewayRequest {
    let mut request = gateway_request(
        method,
        "https://api.contoso.com/orders/42",
        headers,
        ClientCertificate::Absent,
    );
    request.body = Payload::from(body.as_bytes().to_vec());
    request
}

fn header<'o>(outcome: &'o Outcome, name: &str) -> &'o str {
    outcome
        .response
        .headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

async fn body(outcome: Outcome) -> String {
    let bytes = outcome.response.body.collect(usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn send(d: &Deployment, request: GatewayRequest) -> Outcome {
    gateway::handle(d, request, OffsetDateTime::now_utc(), false).await
}

#[tokio::test]
async fn set_method_is_the_method_the_backend_gets_and_context_request_method_shows() {
    let echo = EchoBackend::start().await;
    let inbound = r#"<set-method>@(context.Request.Headers.GetValueOrDefault("x-want", "DELETE"))</set-method>
<set-header name="x-seen" exists-action="override"><value>@(context.Request.Method)</value></set-header>"#;
    let d = deploy(&echo.url(), &policy(inbound, "")).unwrap();

    let outcome = send(&d, request("GET", &[], "")).await;
    assert_eq!(outcome.decision, Decision::Proxied);
    assert_eq!(header(&outcome, "x-echo-method"), "DELETE");
    assert_eq!(header(&outcome, "x-echo-header-x-seen"), "DELETE");

    let outcome = send(&d, request("GET", &[("x-want", "PATCH")], "")).await;
    assert_eq!(header(&outcome, "x-echo-method"), "PATCH");

    // An expression that gives no method fails the request: nothing is sent.
    let outcome = send(&d, request("GET", &[("x-want", "NOT A METHOD")], "")).await;
    assert_eq!(outcome.response.status, 500);
    assert_eq!(
        outcome.decision,
        Decision::Failed {
            reason: "ExpressionValueEvaluationFailure".into()
        }
    );
    assert_eq!(echo.requests(), 2);

    // A literal, and on-error, load.
    let literal = "<policies><inbound><set-method>POST</set-method></inbound><backend><forward-request /></backend><on-error><set-method>GET</set-method></on-error></policies>";
    let d = deploy(&echo.url(), literal).unwrap();
    let outcome = send(&d, request("GET", &[], "")).await;
    assert_eq!(header(&outcome, "x-echo-method"), "POST");
}

#[tokio::test]
async fn find_and_replace_rewrites_the_request_body_inbound_and_the_response_body_outbound() {
    let echo = EchoBackend::start().await;
    let d = deploy(
        &echo.url(),
        &policy(
            r#"<find-and-replace from="notebook" to="@("lap" + "top")" />"#,
            r#"<find-and-replace from=" and " to=" &amp; " /><find-and-replace from="Notebook" to="" /><find-and-replace from=" " to="_" />"#,
        ),
    )
    .unwrap();
    // The echo backend answers with the body it received: the inbound replacement
    // reached the backend, the outbound one the client. Ordinal: `Notebook` is not
    // `notebook`.
    let outcome = send(
        &d,
        request("POST", &[], "notebook and notebook and Notebook"),
    )
    .await;
    assert_eq!(outcome.decision, Decision::Proxied);
    assert_eq!(body(outcome).await, "laptop_&_laptop_&_");

    let outcome = send(&d, request("POST", &[], "nothing-to-replace")).await;
    assert_eq!(body(outcome).await, "nothing-to-replace");
}

#[tokio::test]
async fn authentication_basic_sends_the_credentials_to_the_backend_instead_of_the_clients() {
    let echo = EchoBackend::start().await;
    let d = deploy(
        &echo.url(),
        &policy(
            r#"<authentication-basic username="@("svc-" + "orders")" password="{{key}}" />"#,
            "",
        ),
    )
    .unwrap();
    let outcome = send(
        &d,
        request("GET", &[("authorization", "Bearer client")], ""),
    )
    .await;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("svc-orders:{SECRET}"));
    assert_eq!(
        header(&outcome, "x-echo-header-authorization"),
        format!("Basic {expected}")
    );
}

/// A `tracing` writer into a buffer the test reads.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn trace_writes_one_json_log_line_and_an_explain_entry_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    // The test's runtime runs on this thread only: every event of the request lands here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let echo = EchoBackend::start().await;
    let inbound = r#"<trace source="orders-api" severity="information">
    <message>@("calling with " + "{{key}}")</message>
    <metadata name="client" value="@(context.Request.Headers.GetValueOrDefault("x-client", ""))" />
    <metadata name="token" value="{{key}}" />
</trace>
<trace source="orders-api"><message>verbose by default</message></trace>
<trace source="legacy" severity="error">@("the original form: " + context.Request.Method)</trace>"#;
    let d = deploy(&echo.url(), &policy(inbound, "")).unwrap();
    let outcome = gateway::handle(
        &d,
        request("GET", &[("x-client", "c-7")], ""),
        OffsetDateTime::now_utc(),
        true,
    )
    .await;
    assert_eq!(outcome.decision, Decision::Proxied);

    let traces: Vec<Value> = captured
        .lines()
        .into_iter()
        .filter(|l| l["target"] == "certgate::trace")
        .collect();
    assert_eq!(traces.len(), 3, "{traces:?}");
    let info = &traces[0];
    assert_eq!(info["level"], "INFO");
    let fields = &info["fields"];
    assert_eq!(fields["message"], "calling with {{key}}");
    assert_eq!(fields["request_id"], "req-1");
    assert_eq!(fields["source"], "orders-api");
    assert_eq!(fields["severity"], "information");
    let metadata: Value = serde_json::from_str(fields["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata, json!({"client": "c-7", "token": "{{key}}"}));
    assert_eq!(traces[1]["level"], "DEBUG");
    assert_eq!(traces[1]["fields"]["severity"], "verbose");
    // The message as the element's text, as APIM's original `trace` takes it.
    assert_eq!(traces[2]["level"], "ERROR");
    assert_eq!(traces[2]["fields"]["message"], "the original form: GET");
    let all = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!all.contains(SECRET), "{all}");

    let explain: Vec<String> = outcome
        .trace
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(
        explain.contains(&"trace information orders-api: calling with {{key}}".to_owned()),
        "{explain:?}"
    );
    assert!(!explain.iter().any(|e| e.contains(SECRET)), "{explain:?}");
}

/// The EMF lines `emit-metric` writes.
#[derive(Default)]
struct Metrics(Mutex<Vec<String>>);

impl MetricSink for Metrics {
    fn write(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

#[tokio::test]
async fn emit_metric_writes_a_cloudwatch_embedded_metric_format_line() {
    let echo = EchoBackend::start().await;
    let inbound = r#"<emit-metric name="OrderRequests" namespace="contoso/gateway" value="@(context.Request.Headers.GetValueOrDefault("x-n", "2.5"))">
    <dimension name="API ID" />
    <dimension name="Client" value="@(context.Request.Headers.GetValueOrDefault("x-client", "none"))" />
</emit-metric>
<emit-metric name="Calls"><dimension name="Region" value="eu-west-1" /></emit-metric>"#;
    let mut d = deploy(&echo.url(), &policy(inbound, "")).unwrap();
    let metrics = Arc::new(Metrics::default());
    d.set_metric_sink(metrics.clone());
    let now = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
    let outcome = gateway::handle(&d, request("GET", &[("x-client", "c-7")], ""), now, false).await;
    assert_eq!(outcome.decision, Decision::Proxied);

    let lines = metrics.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| !l.contains('\n')));
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        first,
        json!({
            "_aws": {
                "Timestamp": 1_764_000_000_000_i64,
                "CloudWatchMetrics": [{
                    "Namespace": "contoso/gateway",
                    "Dimensions": [["API ID", "Client"]],
                    "Metrics": [{"Name": "OrderRequests"}]
                }]
            },
            "API ID": "orders",
            "Client": "c-7",
            "OrderRequests": 2.5
        })
    );
    // Defaults: namespace `API Management`, value 1.
    let second: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(
        second["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "API Management"
    );
    assert_eq!(second["Calls"], 1.0);
    assert_eq!(second["Region"], "eu-west-1");

    // A value that is no number fails the request.
    let outcome = gateway::handle(&d, request("GET", &[("x-n", "many")], ""), now, false).await;
    assert_eq!(outcome.response.status, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_concurrency_answers_429_to_one_request_more_than_max_count() {
    let backend = GatedBackend::start().await;
    let backend_section = r#"<limit-concurrency key="@(context.Request.Headers.GetValueOrDefault("x-tenant", "all"))" max-count="2"><forward-request /></limit-concurrency>"#;
    let policy = format!(
        "<policies><inbound /><backend>{backend_section}</backend><outbound /><on-error /></policies>"
    );
    let d = Arc::new(deploy(&backend.url(), &policy).unwrap());
    let held: Vec<_> = (0..2)
        .map(|_| {
            let d = Arc::clone(&d);
            tokio::spawn(async move { send(&d, request("GET", &[], "")).await })
        })
        .collect();
    // Both are inside the limit, held by the backend.
    backend.arrived(2).await;

    let refused = send(&d, request("GET", &[], "")).await;
    assert_eq!(refused.response.status, 429);
    assert_eq!(
        refused.decision,
        Decision::Failed {
            reason: "ConcurrencyLimitExceeded".into()
        }
    );
    // Another key has places of its own.
    let other = tokio::spawn({
        let d = Arc::clone(&d);
        async move { send(&d, request("GET", &[("x-tenant", "b")], "")).await }
    });
    backend.arrived(3).await;

    backend.release();
    for request in held {
        assert_eq!(request.await.unwrap().decision, Decision::Proxied);
    }
    assert_eq!(other.await.unwrap().decision, Decision::Proxied);
    // The places were given back.
    assert_eq!(
        send(&d, request("GET", &[], "")).await.decision,
        Decision::Proxied
    );
    assert_eq!(
        backend.count(),
        4,
        "the refused request never reached the backend"
    );
}

/// The rendered load error of `inbound` (on line 2 of the document).
fn load_error(inbound: &str) -> String {
    deploy("http://127.0.0.1:9", &policy(inbound, "")).expect_err(inbound)
}

#[test]
fn bad_attributes_are_load_errors_with_line_and_column() {
    let cases = [
        (
            r#"<trace source="s" severity="loud"><message>m</message></trace>"#,
            "policies/orders.xml:2:38",
            "`loud` is not a severity",
        ),
        (
            r#"<trace source="s" />"#,
            "policies/orders.xml:2:10",
            "needs a <message>",
        ),
        (
            r#"<limit-concurrency key="k" max-count="0"><forward-request /></limit-concurrency>"#,
            "policies/orders.xml:2:48",
            "is not a whole number from 1",
        ),
        (
            r#"<set-method>GET POST</set-method>"#,
            "policies/orders.xml:2:22",
            "is not an HTTP method",
        ),
        (
            r#"<find-and-replace from="" to="x" />"#,
            "policies/orders.xml:2:34",
            "must not be empty",
        ),
        (
            r#"<authentication-basic username="u" />"#,
            "policies/orders.xml:2:10",
            "password",
        ),
        (
            r#"<emit-metric name="m"><dimension name="User ID" /></emit-metric>"#,
            "policies/orders.xml:2:32",
            "certgate fills in only `API ID` and `Operation ID`",
        ),
        (
            r#"<emit-metric name="m" namespace="AWS/Lambda"><dimension name="a" value="b" /></emit-metric>"#,
            "policies/orders.xml:2:43",
            "AWS's own",
        ),
        (
            r#"<emit-metric name="m"><dimension name="m" value="b" /></emit-metric>"#,
            "policies/orders.xml:2:49",
            "already the metric's",
        ),
        (
            r#"<emit-metric name="m" />"#,
            "policies/orders.xml:2:10",
            "at least one <dimension",
        ),
    ];
    let mut wrong = Vec::new();
    for (inbound, at, message) in cases {
        let error = load_error(inbound);
        if !(error.contains(at) && error.contains(message)) {
            wrong.push(format!("{inbound}\n{error}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let eleven: String = (0..11)
        .map(|i| format!(r#"<dimension name="d{i}" value="v" />"#))
        .collect();
    let error = load_error(&format!(r#"<emit-metric name="m">{eleven}</emit-metric>"#));
    assert!(error.contains("more than 10 <dimension>s"), "{error}");
    // Placement as APIM documents it.
    let error = deploy(
        "http://127.0.0.1:9",
        &policy("", "<set-method>GET</set-method>"),
    )
    .unwrap_err();
    assert!(
        error.contains("<set-method> is not allowed in <outbound>"),
        "{error}"
    );
    let error = deploy(
        "http://127.0.0.1:9",
        &policy("", r#"<authentication-basic username="u" password="p" />"#),
    )
    .unwrap_err();
    assert!(error.contains("not allowed in <outbound>"), "{error}");
}

#[test]
fn azure_bound_policies_are_refused_with_the_aws_way() {
    let cases = [
        (
            r#"<authentication-managed-identity resource="https://vault.azure.net" />"#,
            "[[backends]]",
        ),
        (
            "<get-authorization-context provider-id=\"p\" authorization-id=\"a\" context-variable-name=\"c\" />",
            "Secrets Manager",
        ),
        (
            "<validate-azure-ad-token tenant-id=\"t\" />",
            "<validate-jwt>",
        ),
        (
            "<log-to-eventhub logger-id=\"l\">x</log-to-eventhub>",
            "<trace>",
        ),
        ("<publish-to-dapr topic=\"t\">x</publish-to-dapr>", "Dapr"),
        ("<invoke-dapr-binding name=\"b\" />", "Dapr"),
        (
            "<azure-openai-token-limit tokens-per-minute=\"5\" counter-key=\"k\" />",
            "Bedrock",
        ),
        ("<azure-openai-emit-token-metric />", "usage plans"),
        ("<llm-content-safety backend-id=\"b\" />", "Bedrock"),
    ];
    for (inbound, aws) in cases {
        let error = load_error(inbound);
        assert!(
            error.contains("policies/orders.xml:2:1")
                && error.contains("needs Azure")
                && error.contains(aws),
            "{inbound}\n{error}"
        );
    }
    let error = load_error(r#"<set-body template="liquid">Hello</set-body>"#);
    assert!(error.contains("Liquid"), "{error}");
    let error = load_error(r#"<set-body parse-date="false">Hello</set-body>"#);
    assert!(
        error.contains("policies/orders.xml:2:32") && error.contains("Liquid"),
        "{error}"
    );
}

#[test]
fn certgate_invoke_keeps_stdout_for_the_response_and_writes_metrics_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "gateway.toml",
        "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"http://127.0.0.1:9\"\npolicy = \"policies/orders.xml\"\n",
    );
    write(
        "policies/orders.xml",
        r#"<policies><inbound><emit-metric name="Hits" namespace="contoso"><dimension name="API ID" /></emit-metric><mock-response status-code="204" /></inbound><backend><forward-request /></backend></policies>"#,
    );
    let config = dir.path().to_str().unwrap();
    let out = certgate(&[
        "invoke",
        "--config",
        config,
        "events/rest/no-certificate.json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let response: Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the response alone");
    assert_eq!(response["statusCode"], 204);
    let emf: Value = stderr
        .lines()
        .find(|l| l.contains("\"_aws\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no EMF line: {stderr}"));
    assert_eq!(emf["Hits"], 1.0);
    assert_eq!(emf["API ID"], "orders");
}
