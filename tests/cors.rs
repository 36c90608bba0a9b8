//! The `cors` policy: browser preflights answered by the gateway (never the backend,
//! never blocked by a later client-certificate check), actual cross-origin requests
//! forwarded with the CORS headers, unmatched requests, and what is refused at load.
//! In process with a real backend on loopback, and `certgate serve` driven by curl.

mod common;
#[path = "common/served.rs"]
mod served;
#[path = "common/tls_client.rs"]
mod tls_client;
#[path = "common/trust_pki.rs"]
mod trust_pki;

use std::process::Command;

use certgate::cert::Certificate;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, GatewayRequest};
use certgate::policy::{PolicyDocument, Scope};
use common::backend::EchoBackend;
use common::request::gateway_request;
use trust_pki::{Ca, file, now, pem_of};

const APP: &str = "https://app.contoso.com";

/// The certificate check of the APIM article, at global scope after `cors`: a request
/// without a valid client certificate gets 403.
const CERTIFICATE_CHECK: &str = r#"<choose>
    <when condition="@(context.Request.Certificate == null || !context.Request.Certificate.Verify())">
        <return-response><set-status code="403" reason="Invalid client certificate" /></return-response>
    </when>
</choose>"#;

/// The cors policy most tests use: one origin, credentials, two methods, two headers.
const CORS: &str = r#"<cors allow-credentials="true">
    <allowed-origins><origin>https://app.contoso.com</origin></allowed-origins>
    <allowed-methods preflight-result-max-age="300"><method>GET</method><method>PUT</method></allowed-methods>
    <allowed-headers><header>Content-Type</header><header>x-trace</header></allowed-headers>
    <expose-headers><header>x-echo-uri</header><header>x-request-id</header></expose-headers>
</cors>"#;

struct Pki {
    root: Ca,
    good: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        let root = Ca::root("Contoso Root");
        Self {
            good: root.leaf("client1", 11),
            root,
        }
    }
}

fn global(inbound: &str) -> String {
    format!(
        "<policies><inbound>{inbound}</inbound><backend><forward-request/></backend><outbound/><on-error/></policies>"
    )
}

/// API `/orders` → `backend` with `global` at global scope and `api_inbound` (after
/// `<base/>`) at API scope.
fn deploy(pki: &Pki, backend: &str, global: &str, api_inbound: &str) -> Deployment {
    let toml = format!(
        "[deployment]\nservice_name = \"contoso\"\nregion = \"eu-west-1\"\npolicy = \"policies/global.xml\"\n[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n"
    );
    let files = vec![
        file("ca/root/root.pem", pki.root.pem()),
        file("crl/root.crl", pki.root.crl(&[])),
        file("certificates/client1.pem", pem_of(&pki.good)),
        file("gateway.toml", toml),
        file("policies/global.xml", global),
        file(
            "policies/orders.xml",
            format!("<policies><inbound><base/>{api_inbound}</inbound></policies>"),
        ),
    ];
    match Deployment::load(&files, "test", now()) {
        Ok(d) => d,
        Err(e) => panic!("deployment did not load:\n{}", e.render()),
    }
}

/// A fresh PKI and echo backend (kept alive by the caller), and a deployment with
/// `global_inbound` at global scope and `api_inbound` at API scope.
async fn start(global_inbound: &str, api_inbound: &str) -> (Pki, EchoBackend, Deployment) {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let d = deploy(&pki, &echo.url(), &global(global_inbound), api_inbound);
    (pki, echo, d)
}

fn request(method: &str, headers: &[(&str, &str)], certificate: Option<&[u8]>) -> GatewayRequest {
    let certificate = match certificate {
        None => ClientCertificate::Absent,
        Some(der) => ClientCertificate::from_chain(vec![Certificate::from_der(der).unwrap()]),
    };
    gateway_request(
        method,
        "https://api.contoso.com/orders/42",
        headers,
        certificate,
    )
}

fn preflight(origin: &str, method: &str, headers: Option<&str>) -> GatewayRequest {
    let mut h = vec![
        ("origin", origin),
        ("access-control-request-method", method),
    ];
    if let Some(headers) = headers {
        h.push(("access-control-request-headers", headers));
    }
    request("OPTIONS", &h, None)
}

async fn send(d: &Deployment, r: GatewayRequest) -> gateway::Outcome {
    gateway::handle(d, r, now(), true).await
}

fn header(o: &gateway::Outcome, name: &str) -> Option<String> {
    let values: Vec<_> = o
        .response
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

fn reached_backend(o: &gateway::Outcome) -> bool {
    header(o, "x-echo-uri").is_some()
}

/// Each named header of `o` is that value (several joined by `,`), or absent for `None`.
fn assert_headers(o: &gateway::Outcome, expected: &[(&str, Option<&str>)]) {
    for (name, want) in expected {
        assert_eq!(header(o, name).as_deref(), *want, "{name}: {:?}", o.trace);
    }
}

/// An empty 200 without any CORS header: what an unmatched request gets by default.
fn assert_empty_200(o: &gateway::Outcome, what: &str) {
    assert_eq!(o.response.status, 200, "{what}: {:?}", o.trace);
    assert!(!reached_backend(o), "{what} reached the backend");
    assert_eq!(header(o, "access-control-allow-origin"), None, "{what}");
    assert!(
        o.response.body.as_whole().is_none_or(|b| b.is_empty()),
        "{what}"
    );
}

#[tokio::test]
async fn a_preflight_is_answered_by_the_gateway_even_where_a_certificate_is_required() {
    // Global: cors then the certificate check; the API adds a second check after
    // <base/>. The preflight carries no certificate and must pass neither check.
    let (_pki, _echo, d) = start(&format!("{CORS}{CERTIFICATE_CHECK}"), CERTIFICATE_CHECK).await;
    let out = send(&d, preflight(APP, "PUT", Some("content-type, X-Trace"))).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(out.decision, Decision::Responded);
    assert!(!reached_backend(&out), "the preflight reached the backend");
    assert_headers(
        &out,
        &[
            ("access-control-allow-origin", Some(APP)),
            ("access-control-allow-credentials", Some("true")),
            ("access-control-allow-methods", Some("PUT")),
            (
                "access-control-allow-headers",
                Some("content-type, X-Trace"),
            ),
            ("access-control-max-age", Some("300")),
            ("vary", Some("Origin")),
        ],
    );

    // An OPTIONS without Origin is no preflight: the certificate check runs and
    // refuses it.
    let plain = send(
        &d,
        request("OPTIONS", &[("access-control-request-method", "PUT")], None),
    )
    .await;
    assert_eq!(plain.response.status, 403, "{:?}", plain.trace);
}

#[tokio::test]
async fn only_cors_runs_for_a_preflight_even_when_it_is_written_after_the_check() {
    // APIM evaluates only the cors policy on a preflight: a cors placed after the
    // certificate check (here at API scope, after <base/>) still answers it.
    let (_pki, _echo, d) = start(CERTIFICATE_CHECK, CORS).await;
    let out = send(&d, preflight(APP, "GET", None)).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_headers(
        &out,
        &[
            ("access-control-allow-origin", Some(APP)),
            ("access-control-allow-headers", None),
        ],
    );
    // An actual request without a certificate is still refused by the check.
    let get = send(&d, request("GET", &[("origin", APP)], None)).await;
    assert_eq!(get.response.status, 403);
}

#[tokio::test]
async fn an_actual_cross_origin_request_reaches_the_backend_and_gets_the_cors_headers() {
    let (pki, _echo, d) = start(&format!("{CORS}{CERTIFICATE_CHECK}"), "").await;
    let out = send(&d, request("GET", &[("origin", APP)], Some(&pki.good))).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(out.decision, Decision::Proxied);
    assert_headers(
        &out,
        &[
            ("x-echo-uri", Some("/42")),
            ("access-control-allow-origin", Some(APP)),
            ("access-control-allow-credentials", Some("true")),
            (
                "access-control-expose-headers",
                Some("x-echo-uri, x-request-id"),
            ),
            ("vary", Some("Origin")),
        ],
    );
    // The certificate check still answers an allowed origin without a certificate, and
    // the browser may read that refusal.
    let refused = send(&d, request("GET", &[("origin", APP)], None)).await;
    assert_eq!(refused.response.status, 403);
    assert_headers(&refused, &[("access-control-allow-origin", Some(APP))]);
    // A request without Origin is no CORS request: no CORS headers.
    let same_origin = send(&d, request("GET", &[], Some(&pki.good))).await;
    assert_eq!(same_origin.response.status, 200);
    assert_headers(
        &same_origin,
        &[("access-control-allow-origin", None), ("vary", None)],
    );
}

#[tokio::test]
async fn unmatched_requests_get_an_empty_200_unless_terminate_unmatched_request_is_false() {
    let (pki, echo, d) = start(CORS, "").await;
    let evil = "https://evil.example";
    assert_empty_200(
        &send(&d, preflight(evil, "GET", None)).await,
        "other origin",
    );
    assert_empty_200(
        &send(&d, preflight(APP, "DELETE", None)).await,
        "method not allowed",
    );
    assert_empty_200(
        &send(&d, preflight(APP, "GET", Some("x-trace, authorization"))).await,
        "header not allowed",
    );
    // Methods compare exactly, as HTTP methods are case-sensitive.
    assert_empty_200(
        &send(&d, preflight(APP, "put", None)).await,
        "lower-case put",
    );
    let get = send(&d, request("GET", &[("origin", evil)], Some(&pki.good))).await;
    assert_empty_200(&get, "GET from another origin");
    assert_eq!(get.decision, Decision::Responded);
    // APIM documents the empty answer for GET and HEAD only: a POST from an origin the
    // policy does not list (a same-origin form post carries Origin too) reaches the
    // backend, without CORS headers.
    let post = send(&d, request("POST", &[("origin", evil)], Some(&pki.good))).await;
    assert_eq!(post.decision, Decision::Proxied, "{:?}", post.trace);
    assert_eq!(header(&post, "access-control-allow-origin"), None);

    let lenient = CORS.replace(
        "<cors allow-credentials=\"true\">",
        "<cors allow-credentials=\"true\" terminate-unmatched-request=\"@(false)\">",
    );
    let d = deploy(&pki, &echo.url(), &global(&lenient), "");
    let get = send(&d, request("GET", &[("origin", evil)], Some(&pki.good))).await;
    assert_eq!(get.decision, Decision::Proxied, "{:?}", get.trace);
    assert_eq!(header(&get, "access-control-allow-origin"), None);
    // No other cors answers the preflight: an empty 200, never the backend.
    assert_empty_200(
        &send(&d, preflight(evil, "GET", None)).await,
        "lenient preflight",
    );
}

#[tokio::test]
async fn a_later_cors_answers_a_preflight_the_first_one_lets_through() {
    let first = r#"<cors terminate-unmatched-request="false"><allowed-origins><origin>https://a.example</origin></allowed-origins></cors>"#;
    let second =
        r#"<cors><allowed-origins><origin>https://b.example</origin></allowed-origins></cors>"#;
    let (_pki, _echo, d) = start(first, second).await;
    let out = send(&d, preflight("https://b.example", "POST", None)).await;
    assert_eq!(
        header(&out, "access-control-allow-origin").as_deref(),
        Some("https://b.example"),
        "{:?}",
        out.trace
    );
}

#[tokio::test]
async fn wildcards_allow_any_origin_method_and_header_and_default_methods_are_get_and_post() {
    let any = r#"<cors><allowed-origins><origin>*</origin></allowed-origins>
        <allowed-methods><method>*</method></allowed-methods>
        <allowed-headers><header>*</header></allowed-headers></cors>"#;
    let (pki, echo, d) = start(any, "").await;
    let out = send(
        &d,
        preflight("https://any.example", "PATCH", Some("x-anything")),
    )
    .await;
    assert_eq!(out.response.status, 200);
    assert_headers(
        &out,
        &[
            ("access-control-allow-origin", Some("*")),
            ("access-control-allow-credentials", None),
            ("access-control-allow-methods", Some("PATCH")),
            ("access-control-max-age", None),
        ],
    );
    // `*` allows header names only: the answer echoes them.
    assert_empty_200(
        &send(&d, preflight(APP, "GET", Some("x-anything, not a name"))).await,
        "not a header name",
    );
    assert_empty_200(
        &send(&d, preflight("https://a.example b", "GET", None)).await,
        "not an origin",
    );

    let defaults = r#"<cors><allowed-origins><origin>HTTPS://APP.CONTOSO.COM</origin></allowed-origins></cors>"#;
    let d = deploy(&pki, &echo.url(), &global(defaults), "");
    // Origins compare ignoring case.
    let post = send(&d, preflight(APP, "POST", None)).await;
    assert_headers(&post, &[("access-control-allow-origin", Some(APP))]);
    assert_empty_200(
        &send(&d, preflight(APP, "PUT", None)).await,
        "PUT by default",
    );
    assert_empty_200(
        &send(&d, preflight(APP, "GET", Some("content-type"))).await,
        "no allowed headers",
    );
}

fn load_error(inbound: &str, section: &str) -> String {
    let text = format!("<policies>\n<{section}>\n{inbound}\n</{section}>\n</policies>");
    match PolicyDocument::parse("global.xml", &text, Scope::Global) {
        Ok(_) => panic!("loaded: {inbound}"),
        Err(e) => e.render(&text),
    }
}

#[test]
fn invalid_cors_policies_are_refused_at_load_with_where_and_why() {
    let wildcard_credentials = load_error(
        r#"<cors allow-credentials="true"><allowed-origins><origin>*</origin></allowed-origins></cors>"#,
        "inbound",
    );
    assert!(
        wildcard_credentials.starts_with("global.xml:3:")
            && wildcard_credentials.contains("`*` cannot be combined with allow-credentials"),
        "{wildcard_credentials}"
    );
    let outbound = load_error(
        r#"<cors><allowed-origins><origin>*</origin></allowed-origins></cors>"#,
        "outbound",
    );
    assert!(
        outbound.contains("<cors> is not allowed in <outbound>; it may appear in <inbound>"),
        "{outbound}"
    );
    for (policy, expected) in [
        ("<cors/>", "needs <allowed-origins>"),
        (
            "<cors><allowed-origins><origin>https://a.example/app</origin></allowed-origins></cors>",
            "is not an origin",
        ),
        (
            "<cors><allowed-methods><method>GET</method></allowed-methods><allowed-origins><origin>*</origin></allowed-origins></cors>",
            "in that order",
        ),
        (
            "<cors><allowed-origins><origin>@(\"*\")</origin></allowed-origins></cors>",
            "policy expressions are not allowed here",
        ),
        (
            "<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-headers><header>bad header</header></allowed-headers></cors>",
            "is not a method or header name",
        ),
        (
            "<cors allowed=\"x\"><allowed-origins><origin>*</origin></allowed-origins></cors>",
            "allowed",
        ),
    ] {
        let error = load_error(policy, "inbound");
        assert!(
            error.starts_with("global.xml:3:") && error.contains(expected),
            "{policy}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// certgate serve, driven by curl

#[tokio::test]
async fn serve_answers_a_curl_preflight_without_a_client_certificate() {
    let pki = certgate::demo::DemoPki::generate(time::OffsetDateTime::now_utc()).unwrap();
    let backend = certgate::demo::EchoBackend::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = certgate::demo::write(dir.path(), &pki, &backend.url()).unwrap();
    // The demo's global policy is the APIM article's certificate check; put cors first,
    // as APIM recommends for a global policy.
    let global =
        certgate::demo::GLOBAL_POLICY.replacen("<inbound>", &format!("<inbound>{CORS}"), 1);
    std::fs::write(layout.deployment.join("policies/global.xml"), global).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_certgate"));
    command.arg("serve").arg("--config").arg(&layout.deployment);
    let process = served::Process::start(command).await;
    let files = tls_client::CurlFiles::in_dir(&layout.client);
    let curl = |cert, extra: &'static [&'static str]| {
        tls_client::curl_as(
            &files,
            process.addr,
            "localhost",
            "/echo/hello",
            cert,
            extra,
        )
    };
    let status = |out: &tls_client::CurlOutput| {
        out.head
            .lines()
            .rfind(|l| l.starts_with("HTTP/"))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_owned)
    };

    let pre = curl(
        None,
        &[
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://app.contoso.com",
            "-H",
            "Access-Control-Request-Method: PUT",
            "-H",
            "Access-Control-Request-Headers: content-type",
        ],
    )
    .await;
    assert_eq!(status(&pre).as_deref(), Some("200"), "{}", pre.stderr);
    assert_eq!(
        pre.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        pre.header("access-control-allow-methods").as_deref(),
        Some("PUT")
    );
    assert_eq!(pre.header("access-control-max-age").as_deref(), Some("300"));
    assert!(pre.body.is_empty());
    assert_eq!(
        pre.header("x-echo-method"),
        None,
        "the preflight reached the backend"
    );

    let get = curl(Some("good"), &["-H", "Origin: https://app.contoso.com"]).await;
    assert_eq!(status(&get).as_deref(), Some("200"), "{}", get.stderr);
    assert_eq!(get.header("x-echo-method").as_deref(), Some("GET"));
    assert_eq!(
        get.header("access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(get.header("vary").as_deref(), Some("Origin"));

    let without = curl(None, &["-H", "Origin: https://app.contoso.com"]).await;
    assert_eq!(
        status(&without).as_deref(),
        Some("403"),
        "{}",
        without.stderr
    );
}
