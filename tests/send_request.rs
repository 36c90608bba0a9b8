//! `send-request`, `send-one-way-request`, `retry` and `wait`, through `gateway::handle`
//! with a real loopback backend that records every request it receives and answers with
//! scripted statuses. No timing is asserted: outcomes, counts and bytes are.

mod common;
#[path = "common/tls_client.rs"]
mod tls_client;

use certgate::body::Payload;
use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, Outcome};
use common::backend::{HoldingBackend, RecordingBackend, closed_port, eventually};
use common::request::gateway_request;
use time::OffsetDateTime;

fn deploy(backend: &str, policy: &str) -> Result<Deployment, String> {
    deploy_with(backend, policy, Vec::new())
}

fn deploy_with(backend: &str, policy: &str, more: Vec<SourceFile>) -> Result<Deployment, String> {
    let toml = format!(
        "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n"
    );
    let mut files = vec![
        SourceFile::new("gateway.toml", toml),
        SourceFile::new("policies/orders.xml", policy),
    ];
    files.extend(more);
    Deployment::load(&files, "test", OffsetDateTime::now_utc()).map_err(|e| e.render())
}

async fn call(d: &Deployment, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Outcome {
    let mut request = gateway_request(
        method,
        "https://api.contoso.com/orders/42",
        headers,
        ClientCertificate::Absent,
    );
    request.body = Payload::from(body.to_vec());
    gateway::handle(d, request, OffsetDateTime::now_utc(), false).await
}

fn header<'o>(outcome: &'o Outcome, name: &str) -> &'o str {
    outcome
        .response
        .headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

fn body(outcome: &Outcome) -> String {
    String::from_utf8(outcome.response.body.as_whole().unwrap().to_vec()).unwrap()
}

/// Answers at once with the headers `x-<name>` set to `values`.
fn answer(headers: &[(&str, &str)]) -> String {
    let set: String = headers
        .iter()
        .map(|(name, value)| {
            format!(r#"<set-header name="x-{name}" exists-action="override"><value>{value}</value></set-header>"#)
        })
        .collect();
    format!("<return-response><set-status code=\"200\" />{set}</return-response>")
}

#[tokio::test]
async fn send_request_new_sends_what_the_policy_built_and_later_expressions_read_the_answer() {
    let rec = RecordingBackend::start().await;
    rec.script("/token", &[201]);
    let policy = format!(
        r#"<policies>
  <inbound>
    <send-request mode="new" response-variable-name="token" timeout="10">
      <set-url>{url}/token?scope=orders</set-url>
      <set-method>POST</set-method>
      <set-header name="x-a" exists-action="override"><value>one</value><value>two</value></set-header>
      <set-header name="Content-Type" exists-action="override"><value>application/json</value></set-header>
      <set-body>@("{{\"user\":\"" + context.Request.Headers.GetValueOrDefault("x-user", "") + "\"}}")</set-body>
    </send-request>
    <set-header name="x-token-status" exists-action="override"><value>@(((IResponse)context.Variables["token"]).StatusCode.ToString())</value></set-header>
    <set-header name="x-token-call" exists-action="override"><value>@(context.Variables.GetValueOrDefault<IResponse>("token").Headers.GetValueOrDefault("x-call", "none"))</value></set-header>
    <set-header name="x-token-path" exists-action="override"><value>@((string)((IResponse)context.Variables["token"]).Body.As<JObject>()["path"])</value></set-header>
  </inbound>
  <backend><forward-request /></backend>
</policies>"#,
        url = rec.url()
    );
    let d = deploy(&rec.url(), &policy).unwrap();
    let outcome = call(&d, "GET", &[("x-user", "alice")], b"").await;
    assert_eq!(outcome.decision, Decision::Proxied, "{}", body(&outcome));

    let seen = rec.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let token = &seen[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.uri, "/token?scope=orders");
    assert_eq!(token.headers["x-a"], "one,two");
    assert_eq!(token.headers["content-type"], "application/json");
    assert_eq!(&token.body[..], br#"{"user":"alice"}"#);
    // a new request carries none of the client's headers
    assert!(token.headers.get("x-user").is_none());

    let forwarded = &seen[1];
    assert_eq!(forwarded.uri, "/42");
    assert_eq!(forwarded.headers["x-token-status"], "201");
    assert_eq!(forwarded.headers["x-token-call"], "1");
    assert_eq!(forwarded.headers["x-token-path"], "/token");
}

#[tokio::test]
async fn send_request_copy_sends_the_requests_method_headers_and_body_and_return_response_answers_with_it()
 {
    let rec = RecordingBackend::start().await;
    rec.script("/42", &[202]);
    let policy = r#"<policies>
  <inbound>
    <send-request mode="copy" response-variable-name="copy">
      <set-header name="x-extra" exists-action="override"><value>added</value></set-header>
    </send-request>
    <return-response response-variable-name="copy">
      <set-header name="x-returned" exists-action="override"><value>yes</value></set-header>
    </return-response>
  </inbound>
</policies>"#;
    let d = deploy(&rec.url(), policy).unwrap();
    let outcome = call(&d, "PUT", &[("x-client", "c")], b"hello \x00 bytes").await;
    assert_eq!(outcome.decision, Decision::Responded);
    assert_eq!(outcome.response.status, 202);
    assert_eq!(header(&outcome, "x-returned"), "yes");
    assert_eq!(header(&outcome, "x-call"), "1");
    assert_eq!(body(&outcome), r#"{"path":"/42","call":1}"#);

    let seen = rec.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].uri, "/42");
    assert_eq!(seen[0].headers["x-client"], "c");
    assert_eq!(seen[0].headers["x-extra"], "added");
    assert_eq!(&seen[0].body[..], b"hello \x00 bytes");
}

fn failing_policy(url: &str, ignore_error: bool) -> String {
    format!(
        r#"<policies>
  <inbound>
    <send-request mode="new" response-variable-name="r" timeout="1" ignore-error="{ignore_error}">
      <set-url>{url}</set-url>
      <set-method>GET</set-method>
    </send-request>
    {}
  </inbound>
  <on-error>
    {}
  </on-error>
</policies>"#,
        answer(&[("r", r#"@(context.Variables["r"] == null ? "null" : "set")"#)]),
        answer(&[
            ("source", "@(context.LastError.Source)"),
            ("reason", "@(context.LastError.Reason)"),
        ]),
    )
}

#[tokio::test]
async fn a_send_request_without_an_answer_stores_null_with_ignore_error_and_fails_without() {
    let rec = RecordingBackend::start().await;
    let hold = format!("{}/hold", rec.url());
    let closed = format!("http://{}/x", closed_port().await);
    // headers at once, then a body that never ends: the timeout covers the whole answer
    let holding = HoldingBackend::start().await;
    let drip = format!("{}/drip", holding.url());
    for url in [&hold, &closed, &drip] {
        let d = deploy(&rec.url(), &failing_policy(url, true)).unwrap();
        let outcome = call(&d, "GET", &[], b"").await;
        assert_eq!(outcome.decision, Decision::Responded, "{url}");
        assert_eq!(header(&outcome, "x-r"), "null", "{url}");
    }
    for (url, reason) in [
        (&hold, "Timeout"),
        (&closed, "BackendConnectionFailure"),
        (&drip, "Timeout"),
    ] {
        let d = deploy(&rec.url(), &failing_policy(url, false)).unwrap();
        let outcome = call(&d, "GET", &[], b"").await;
        assert!(
            matches!(&outcome.decision, Decision::Failed { reason: r } if r == reason),
            "{url}: {:?}",
            outcome.decision
        );
        assert_eq!(header(&outcome, "x-source"), "send-request");
        assert_eq!(header(&outcome, "x-reason"), reason);
        // the policy after the failed send-request did not run
        assert_eq!(header(&outcome, "x-r"), "");
    }
    // the backend saw the two held requests, nothing else
    assert_eq!(rec.requests_to("/hold").len(), 2);
    assert_eq!(rec.requests().len(), 2);
}

#[tokio::test]
async fn retry_forwards_again_while_the_condition_holds_replaying_the_body_byte_for_byte() {
    let rec = RecordingBackend::start().await;
    let policy = r#"<policies>
  <inbound />
  <backend>
    <retry condition="@(context.Response.StatusCode == 503)" count="5" interval="0" first-fast-retry="true">
      <forward-request />
    </retry>
  </backend>
</policies>"#;
    let d = deploy(&rec.url(), policy).unwrap();
    let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    rec.script("/42", &[503, 503, 503]);
    let outcome = call(
        &d,
        "POST",
        &[("content-type", "application/octet-stream")],
        &payload,
    )
    .await;
    assert_eq!(outcome.decision, Decision::Proxied);
    assert_eq!(outcome.response.status, 200);
    assert_eq!(header(&outcome, "x-call"), "4");
    let tries = rec.requests_to("/42");
    assert_eq!(tries.len(), 4);
    for t in &tries {
        assert_eq!(t.method, "POST");
        assert_eq!(&t.body[..], &payload[..]);
        assert_eq!(t.headers["content-type"], "application/octet-stream");
    }

    // count="5": one try and five retries, then the last answer stands
    rec.script("/42", &[503; 10]);
    let outcome = call(&d, "POST", &[], b"again").await;
    assert_eq!(outcome.response.status, 503);
    let tries = rec.requests_to("/42");
    assert_eq!(tries.len(), 4 + 6);
    assert!(tries[4..].iter().all(|t| &t.body[..] == b"again"));
}

#[tokio::test]
async fn retry_around_send_request_reads_each_tries_iresponse() {
    let rec = RecordingBackend::start().await;
    rec.script("/token", &[500, 500]);
    let policy = format!(
        r#"<policies>
  <inbound>
    <retry condition="@(((IResponse)context.Variables["t"]).StatusCode != 200)" count="3" interval="0" first-fast-retry="true">
      <send-request mode="new" response-variable-name="t">
        <set-url>{}/token</set-url>
        <set-method>POST</set-method>
        <set-body>same</set-body>
      </send-request>
    </retry>
    {}
  </inbound>
</policies>"#,
        rec.url(),
        answer(&[(
            "call",
            r#"@(((IResponse)context.Variables["t"]).Headers.GetValueOrDefault("x-call", ""))"#
        )]),
    );
    let d = deploy(&rec.url(), &policy).unwrap();
    let outcome = call(&d, "GET", &[], b"").await;
    assert_eq!(header(&outcome, "x-call"), "3");
    let tries = rec.requests_to("/token");
    assert_eq!(tries.len(), 3);
    assert!(tries.iter().all(|t| &t.body[..] == b"same"));
}

fn get_into(variable: &str, url: &str, extra: &str) -> String {
    format!(
        r#"<send-request mode="new" response-variable-name="{variable}" {extra}>
        <set-url>{url}</set-url>
        <set-method>GET</set-method>
      </send-request>"#
    )
}

#[tokio::test]
async fn wait_for_all_runs_every_child_and_keeps_their_variables() {
    let rec = RecordingBackend::start().await;
    let url = rec.url();
    let policy = format!(
        r#"<policies>
  <inbound>
    <wait for="all">
      {a}
      {held}
      <choose>
        <when condition="@(context.Request.Headers.ContainsKey("x-go"))">
          <set-variable name="chosen" value="yes" />
          {b}
        </when>
      </choose>
    </wait>
    {answer}
  </inbound>
</policies>"#,
        a = get_into("a", &format!("{url}/a"), ""),
        held = get_into(
            "held",
            &format!("{url}/hold"),
            r#"timeout="1" ignore-error="true""#
        ),
        b = get_into("b", &format!("{url}/b"), ""),
        answer = answer(&[
            (
                "a",
                r#"@(((IResponse)context.Variables["a"]).StatusCode.ToString())"#
            ),
            (
                "b",
                r#"@(context.Variables.GetValueOrDefault<IResponse>("b").Body.As<string>())"#
            ),
            (
                "held",
                r#"@(context.Variables["held"] == null ? "null" : "set")"#
            ),
            ("chosen", r#"@((string)context.Variables["chosen"])"#),
        ]),
    );
    let d = deploy(&url, &policy).unwrap();
    let outcome = call(&d, "GET", &[("x-go", "1")], b"").await;
    assert_eq!(outcome.decision, Decision::Responded, "{}", body(&outcome));
    assert_eq!(header(&outcome, "x-a"), "200");
    assert_eq!(header(&outcome, "x-b"), r#"{"path":"/b","call":1}"#);
    assert_eq!(header(&outcome, "x-held"), "null");
    assert_eq!(header(&outcome, "x-chosen"), "yes");
    for path in ["/a", "/b", "/hold"] {
        assert_eq!(rec.requests_to(path).len(), 1, "{path}");
    }
}

#[tokio::test]
async fn the_children_of_wait_run_at_the_same_time() {
    // `/pair` answers only when two requests wait there at once: one after the other,
    // each would time out and be null.
    let rec = RecordingBackend::start().await;
    let url = format!("{}/pair", rec.url());
    let extra = r#"timeout="30" ignore-error="true""#;
    let policy = format!(
        r#"<policies>
  <inbound>
    <wait>
      {one}
      {two}
    </wait>
    {answer}
  </inbound>
</policies>"#,
        one = get_into("one", &url, extra),
        two = get_into("two", &url, extra),
        answer = answer(&[
            (
                "one",
                r#"@(context.Variables["one"] == null ? "null" : "answered")"#
            ),
            (
                "two",
                r#"@(context.Variables["two"] == null ? "null" : "answered")"#
            ),
        ]),
    );
    let d = deploy(&rec.url(), &policy).unwrap();
    let outcome = call(&d, "GET", &[], b"").await;
    assert_eq!(header(&outcome, "x-one"), "answered");
    assert_eq!(header(&outcome, "x-two"), "answered");
}

#[tokio::test]
async fn wait_for_any_ends_with_the_first_child_and_drops_the_others() {
    let rec = RecordingBackend::start().await;
    let url = rec.url();
    let policy = format!(
        r#"<policies>
  <inbound>
    <wait for="@("any")">
      {held}
      {a}
    </wait>
    {answer}
  </inbound>
</policies>"#,
        held = get_into("held", &format!("{url}/hold"), ""),
        a = get_into("a", &format!("{url}/a"), ""),
        answer = answer(&[
            (
                "a",
                r#"@(((IResponse)context.Variables["a"]).StatusCode.ToString())"#
            ),
            (
                "held",
                r#"@(context.Variables.ContainsKey("held") ? "set" : "absent")"#
            ),
        ]),
    );
    let d = deploy(&url, &policy).unwrap();
    let outcome = call(&d, "GET", &[], b"").await;
    assert_eq!(outcome.decision, Decision::Responded, "{}", body(&outcome));
    assert_eq!(header(&outcome, "x-a"), "200");
    assert_eq!(header(&outcome, "x-held"), "absent");
}

#[tokio::test]
async fn wait_for_any_cancels_the_calls_it_no_longer_waits_for() {
    let holding = HoldingBackend::start().await;
    let rec = RecordingBackend::start().await;
    let policy = format!(
        r#"<policies>
  <inbound>
    <wait for="any">
      {held}
      {a}
    </wait>
    {answer}
  </inbound>
</policies>"#,
        held = get_into("held", &format!("{}/hold", holding.url()), ""),
        a = get_into("a", &format!("{}/pair", rec.url()), ""),
        answer = answer(&[("a", "done")]),
    );
    let d = deploy(&rec.url(), &policy).unwrap();
    // `/pair` answers only with a second one: send it once the held call is waiting.
    let gateway = tokio::spawn(async move { call(&d, "GET", &[], b"").await });
    assert!(eventually(|| holding.holding() == 1).await, "never reached");
    let pair = tokio::spawn(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Empty<bytes::Bytes>>()
            .get(format!("{}/pair", rec.url()).parse().unwrap()),
    );
    let outcome = gateway.await.unwrap();
    assert_eq!(header(&outcome, "x-a"), "done");
    assert_eq!(pair.await.unwrap().unwrap().status(), 200);
    assert!(
        eventually(|| holding.open() == 0).await,
        "the call wait no longer needed kept its connection"
    );
    assert_eq!(holding.holding(), 0);
}

#[tokio::test]
async fn send_one_way_request_goes_on_without_waiting_and_the_request_arrives() {
    let rec = RecordingBackend::start().await;
    let policy = format!(
        r#"<policies>
  <inbound>
    <send-one-way-request mode="new" timeout="5">
      <set-url>{}/hook</set-url>
      <set-method>POST</set-method>
      <set-body>@(context.Request.Method + " seen")</set-body>
    </send-one-way-request>
    {}
  </inbound>
</policies>"#,
        rec.url(),
        answer(&[("done", "yes")]),
    );
    let d = deploy(&rec.url(), &policy).unwrap();
    let outcome = call(&d, "DELETE", &[], b"").await;
    assert_eq!(header(&outcome, "x-done"), "yes");
    // it arrives on its own task: wait for it (no bound on how long it takes)
    let hook = loop {
        if let Some(hook) = rec.requests_to("/hook").pop() {
            break hook;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(hook.method, "POST");
    assert_eq!(&hook.body[..], b"DELETE seen");
}

#[test]
fn mistakes_are_load_errors_with_their_position() {
    let cases: &[(&str, &str)] = &[
        (
            r#"<send-request response-variable-name="r" mode="new" timeout="5" retries="2"><set-url>http://x</set-url><set-method>GET</set-method></send-request>"#,
            "retries",
        ),
        (
            r#"<send-request response-variable-name="r"><set-method>GET</set-method></send-request>"#,
            "needs a <set-url>",
        ),
        (
            r#"<send-request response-variable-name="r" mode="clone"><set-url>http://x</set-url></send-request>"#,
            "`clone` is not a mode",
        ),
        (
            r#"<send-request mode="copy"></send-request>"#,
            "response-variable-name",
        ),
        (
            r#"<send-request response-variable-name="r" mode="copy"><authentication-managed-identity resource="https://vault.azure.net" /></send-request>"#,
            "On AWS: give the backend its credentials",
        ),
        (
            r#"<send-request response-variable-name="r" timeout="soon" mode="copy"></send-request>"#,
            "`soon` is not a whole number",
        ),
        (
            r#"<send-request response-variable-name="r" mode="copy"><set-url>/relative</set-url></send-request>"#,
            "not an absolute URL",
        ),
        (
            r#"<send-request response-variable-name="r" mode="copy"><set-method>@("GET")</set-method></send-request>"#,
            "no policy expressions",
        ),
        (
            r#"<send-request response-variable-name="r" mode="copy"><proxy url="http://p" /></send-request>"#,
            "<proxy>",
        ),
        (
            r#"<send-request response-variable-name="r" mode="copy"><set-status code="200" /></send-request>"#,
            "set-status",
        ),
        (
            r#"<send-one-way-request response-variable-name="r" mode="copy" />"#,
            "response-variable-name",
        ),
        (
            r#"<send-request response-variable-name="r" mode="copy"><set-body>@(context.Nope)</set-body></send-request>"#,
            "Nope",
        ),
        (
            r#"<retry condition="true" count="51" interval="0"><set-variable name="a" value="b" /></retry>"#,
            "use 1 to 50",
        ),
        (
            r#"<retry condition="true" interval="0"><set-variable name="a" value="b" /></retry>"#,
            "count",
        ),
        (
            r#"<retry condition="true" count="2" interval="1" max-interval="9"><set-variable name="a" value="b" /></retry>"#,
            "needs delta",
        ),
        (
            r#"<retry condition="@(context.Nope)" count="2" interval="1"><set-variable name="a" value="b" /></retry>"#,
            "Nope",
        ),
        (
            r#"<wait for="some"><cache-lookup-value key="k" variable-name="v" /></wait>"#,
            "use all or any",
        ),
        (
            r#"<wait><set-variable name="a" value="b" /></wait>"#,
            "not allowed directly inside <wait>",
        ),
        (
            r#"<wait><choose><when condition="true"><set-header name="a"><value>b</value></set-header></when></choose></wait>"#,
            "copy of context",
        ),
    ];
    for (inbound, expected) in cases {
        let policy = format!("<policies>\n  <inbound>\n    {inbound}\n  </inbound>\n</policies>");
        let error = deploy("http://127.0.0.1:9", &policy).expect_err(inbound);
        assert!(error.contains(expected), "{inbound}\n{error}");
        assert!(
            error.contains("policies/orders.xml:3:"),
            "{inbound}\n{error}"
        );
    }
    // on-error takes send-request and retry, not wait
    let policy = r#"<policies><inbound /><on-error><wait><cache-lookup-value key="k" variable-name="v" /></wait></on-error></policies>"#;
    let error = deploy("http://127.0.0.1:9", policy).unwrap_err();
    assert!(
        error.contains("<wait> is not allowed in <on-error>"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_certificate_in_send_request_presents_the_uploaded_certificate() {
    // A TLS backend that reports the client certificate it was shown in x-echo-certificate.
    let backend = tls_client::Gateway::start().await;
    let tls = tls_client::pki();
    let url = format!("https://127.0.0.1:{}/who", backend.addr.port());
    let policy = |certificate: &str| {
        format!(
            r#"<policies>
  <inbound>
    <send-request mode="new" response-variable-name="r">
      <set-url>{url}</set-url>
      <set-method>GET</set-method>
      {certificate}
    </send-request>
    {}
  </inbound>
</policies>"#,
            answer(&[(
                "seen",
                r#"@(((IResponse)context.Variables["r"]).Headers.GetValueOrDefault("x-echo-certificate", "?"))"#
            )])
        )
    };
    let files = || {
        vec![
            // the backend's private CA, trusted through ca/root as for forward-request
            SourceFile::new("ca/root/backend-ca.pem", tls.server_ca.pem.clone()),
            SourceFile::new("certificates/to-backend.pem", tls.client.pem.clone()),
            SourceFile::new("certificates/to-backend.key", tls.client.key_pem.clone()),
        ]
    };
    let thumbprint = tls.client_thumbprint();
    for certificate in [
        r#"<authentication-certificate certificate-id="to-backend" />"#.to_owned(),
        format!(
            r#"<authentication-certificate thumbprint="{}" />"#,
            thumbprint.to_lowercase()
        ),
    ] {
        let d = deploy_with("http://127.0.0.1:9", &policy(&certificate), files()).unwrap();
        let outcome = call(&d, "GET", &[], b"").await;
        assert_eq!(header(&outcome, "x-seen"), thumbprint, "{certificate}");
    }
    let d = deploy_with("http://127.0.0.1:9", &policy(""), files()).unwrap();
    let outcome = call(&d, "GET", &[], b"").await;
    assert_eq!(header(&outcome, "x-seen"), "none");
}

/// forward-request's timeout also covers an answer that a policy reads whole, as
/// send-request's does: a body that never ends fails with `Timeout` (a streamed answer
/// flows for as long as its body does).
#[tokio::test]
async fn forward_request_read_whole_times_out_on_a_body_that_never_ends() {
    let holding = HoldingBackend::start().await;
    let policy = format!(
        r#"<policies>
  <inbound>
    <rewrite-uri template="/drip" />
  </inbound>
  <backend>
    <forward-request timeout="1" />
  </backend>
  <outbound>
    <set-header name="x-length" exists-action="override">
      <value>@(context.Response.Body.As<string>().Length.ToString())</value>
    </set-header>
  </outbound>
  <on-error>
    {}
  </on-error>
</policies>"#,
        answer(&[
            ("source", "@(context.LastError.Source)"),
            ("reason", "@(context.LastError.Reason)"),
        ]),
    );
    let d = deploy(&holding.url(), &policy).unwrap();
    let outcome = call(&d, "GET", &[], b"").await;
    assert!(
        matches!(&outcome.decision, Decision::Failed { reason } if reason == "Timeout"),
        "{:?}",
        outcome.decision
    );
    assert_eq!(header(&outcome, "x-source"), "forward-request");
    assert_eq!(header(&outcome, "x-reason"), "Timeout");
}
