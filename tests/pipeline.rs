//! The whole pipeline: real certificates and CRLs, real policies, a real backend on
//! loopback. Every case states the request, the policy, and what the caller gets.

mod common;
#[path = "common/tls_client.rs"]
mod tls_client;
#[path = "common/trust_pki.rs"]
mod trust_pki;

use certgate::body::Payload;
use certgate::cert::Certificate;
use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, GatewayRequest};
use common::backend::{EchoBackend, closed_port};
use common::request::header;
use trust_pki::{Ca, file, now, pem_of};

/// The APIM article's three policies, exactly as printed there.
const ARTICLE_ISSUER_SUBJECT: &str = include_str!("data/policies/article-issuer-subject.xml");

const ARTICLE_THUMBPRINT: &str = include_str!("data/policies/article-thumbprint.xml");

const ARTICLE_UPLOADED: &str = include_str!("data/policies/article-uploaded-certificates.xml");

/// Root → intermediate → leaves; CRLs of both CAs; the intermediate revokes serial 13.
struct Pki {
    root: Ca,
    intermediate: Ca,
    good: Vec<u8>,
    other_good: Vec<u8>,
    expired: Vec<u8>,
    revoked: Vec<u8>,
    untrusted: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        let root = Ca::root("Contoso Root");
        let intermediate = root.intermediate("Contoso Issuing");
        let foreign = Ca::root("Fabrikam Root");
        Self {
            good: intermediate.leaf("client1", 11),
            other_good: intermediate.leaf("client2", 12),
            revoked: intermediate.leaf("revoked", 13),
            expired: intermediate.leaf_with("expired", 14, |p| {
                p.not_before = trust_pki::at(2024, 1, 1);
                p.not_after = trust_pki::at(2025, 1, 1);
            }),
            untrusted: foreign.leaf("stranger", 15),
            root,
            intermediate,
        }
    }

    /// The trust part of a deployment folder; `client1` is uploaded.
    fn files(&self) -> Vec<SourceFile> {
        vec![
            file("ca/root/root.pem", self.root.pem()),
            file("ca/intermediate/issuing.pem", self.intermediate.pem()),
            file("crl/root.crl", self.root.crl(&[])),
            file("crl/issuing.crl", self.intermediate.crl(&[13])),
            file("certificates/client1.pem", pem_of(&self.good)),
        ]
    }

    /// A leaf with the intermediate, as a client presents it.
    fn chain(&self, leaf: &[u8]) -> Vec<Vec<u8>> {
        vec![leaf.to_vec(), self.intermediate.der()]
    }
}

fn policy_doc(inbound: &str, rest: &str) -> String {
    format!("<policies><inbound><base/>{inbound}</inbound>{rest}</policies>")
}

/// A deployment with one API `/orders` → `backend`, the given API policy and an
/// optional global one.
fn deploy(pki: &Pki, backend: &str, api_policy: &str, global: Option<&str>) -> Deployment {
    deploy_with(pki, backend, api_policy, global, "")
}

/// [`deploy`] with more keys for the API's table in gateway.toml.
fn deploy_with(
    pki: &Pki,
    backend: &str,
    api_policy: &str,
    global: Option<&str>,
    api_keys: &str,
) -> Deployment {
    let mut toml =
        String::from("[deployment]\nservice_name = \"contoso\"\nregion = \"eu-west-1\"\n");
    if global.is_some() {
        toml.push_str("policy = \"policies/global.xml\"\n");
    }
    toml.push_str(&format!(
        "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n{api_keys}"
    ));
    let mut files = pki.files();
    files.push(file("gateway.toml", toml));
    files.push(file("policies/orders.xml", api_policy));
    if let Some(global) = global {
        files.push(file("policies/global.xml", global));
    }
    match Deployment::load(&files, "test", now()) {
        Ok(d) => d,
        Err(e) => panic!("deployment did not load:\n{}", e.render()),
    }
}

fn request(method: &str, path: &str, chain: Option<Vec<Vec<u8>>>, body: &[u8]) -> GatewayRequest {
    let (parts, ()) = http::Request::builder()
        .method(method)
        .uri(format!("https://api.contoso.com{path}"))
        .header("host", "api.contoso.com")
        .header("x-request-marker", "m1")
        .body(())
        .unwrap()
        .into_parts();
    let certificate = match chain {
        None => ClientCertificate::Absent,
        Some(ders) => ClientCertificate::from_chain(
            ders.iter()
                .map(|d| Certificate::from_der(d).unwrap())
                .collect(),
        ),
    };
    GatewayRequest {
        parts,
        body: Payload::from(body.to_vec()),
        // As Lambda: the response comes back whole.
        stream_response: false,
        client_ip: Some("198.51.100.7".parse().unwrap()),
        certificate,
        ignored_certificate_sources: vec![],
        request_id: "req-1".into(),
    }
}

/// The response body; whole, as the requests here do not stream responses.
fn body_of(o: &gateway::Outcome) -> &[u8] {
    o.response.body.as_whole().expect("a whole response body")
}

async fn send(d: &Deployment, r: GatewayRequest) -> gateway::Outcome {
    gateway::handle(d, r, now(), true).await
}

#[tokio::test]
async fn article_uploaded_certificate_policy_admits_only_valid_uploaded_certificates() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let d = deploy(&pki, &echo.url(), &policy_doc(ARTICLE_UPLOADED, ""), None);
    let ok = send(
        &d,
        request("GET", "/orders/42", Some(pki.chain(&pki.good)), b""),
    )
    .await;
    assert_eq!(ok.response.status, 200, "{:?}", ok.trace);
    assert_eq!(ok.decision, Decision::Proxied);
    assert_eq!(header(&ok, "x-echo-uri"), "/42");
    // The deployment holds the intermediate, so a leaf presented alone verifies too.
    let alone = send(
        &d,
        request("GET", "/orders/42", Some(vec![pki.good.clone()]), b""),
    )
    .await;
    assert_eq!(alone.response.status, 200);
    for (what, chain) in [
        ("no certificate", None),
        ("valid but not uploaded", Some(pki.chain(&pki.other_good))),
        ("expired", Some(pki.chain(&pki.expired))),
        ("revoked", Some(pki.chain(&pki.revoked))),
        ("untrusted", Some(vec![pki.untrusted.clone()])),
    ] {
        let out = send(&d, request("GET", "/orders/42", chain, b"")).await;
        assert_eq!(out.response.status, 403, "{what}: {:?}", out.trace);
        assert_eq!(
            out.response.reason.as_deref(),
            Some("Invalid client certificate")
        );
        assert_eq!(out.decision, Decision::Responded, "{what}");
        assert!(
            out.response.headers.get("x-echo-uri").is_none(),
            "{what} reached the backend"
        );
    }
}

#[tokio::test]
async fn paths_a_backend_could_read_differently_are_refused_before_routing() {
    // `/orders/../admin` matches the API `/orders` segment by segment; a backend that
    // resolves the `..` (or merges `//`, decodes `%2f`, drops `;x`) would serve another
    // resource under the policy of `/orders`.
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let d = deploy(
        &pki,
        &echo.url(),
        "<policies><inbound><base/></inbound></policies>",
        None,
    );
    for (path, why) in [
        ("/orders/../admin", "'..' segment"),
        ("/orders/./42", "'..' segment"),
        ("/orders/%2e%2E/admin", "'..' segment"),
        ("/orders/42/..", "'..' segment"),
        ("/orders/..%2fadmin", "encoded '/'"),
        ("/orders/..%5Cadmin", "encoded '/'"),
        ("/orders//admin/users", "empty segment"),
        ("/orders/admin%2fusers", "encoded '/'"),
        ("/orders/admin;x/users", "path parameter"),
        ("/public/..;/admin/x", "path parameter"),
        ("/orders/a%zz", "two hex digits"),
        ("/orders/a%00", "NUL"),
    ] {
        let out = send(&d, request("GET", path, Some(pki.chain(&pki.good)), b"")).await;
        assert_eq!(out.response.status, 400, "{path}");
        assert_eq!(out.decision, Decision::NotRouted, "{path}");
        let message = String::from_utf8_lossy(body_of(&out)).into_owned();
        assert!(message.contains(why), "{path}: {message}");
        assert!(out.response.headers.get("x-echo-uri").is_none(), "{path}");
    }
    // Dots inside a segment are ordinary characters.
    let out = send(
        &d,
        request(
            "GET",
            "/orders/v1..2/.well-known",
            Some(pki.chain(&pki.good)),
            b"",
        ),
    )
    .await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-uri"), "/v1..2/.well-known");
}

#[tokio::test]
async fn routing_the_policy_and_the_backend_see_one_normalized_path() {
    // The issue's layout: `/orders` takes any valid certificate, `/orders/admin` only the
    // uploaded one. `%61` is `a`: a backend decodes it, so routing must too.
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let backend = echo.url();
    let mut files = pki.files();
    files.push(file(
        "gateway.toml",
        format!(
            "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n\
             [[apis]]\nname = \"admin\"\npath = \"/orders/admin\"\nbackend = \"{backend}/admin\"\npolicy = \"policies/admin.xml\"\n"
        ),
    ));
    let seen = r#"<set-header name="x-seen-url" exists-action="override"><value>@(context.Request.Url.ToString() + " " + context.Request.OriginalUrl.Path)</value></set-header>"#;
    let valid = r#"<choose><when condition="@(context.Request.Certificate == null || !context.Request.Certificate.Verify())"><return-response><set-status code="403" reason="Invalid client certificate" /></return-response></when></choose>"#;
    files.push(file(
        "policies/orders.xml",
        policy_doc(&format!("{valid}{seen}"), ""),
    ));
    files.push(file(
        "policies/admin.xml",
        policy_doc(&format!("{ARTICLE_UPLOADED}{seen}"), ""),
    ));
    let d = Deployment::load(&files, "test", now()).unwrap_or_else(|e| panic!("{}", e.render()));
    let not_uploaded = || Some(pki.chain(&pki.other_good));

    for path in [
        "/orders/admin/users",
        "/orders/%61dmin/users",
        "/ORDERS/%41DMIN/users",
    ] {
        let out = send(&d, request("GET", path, not_uploaded(), b"")).await;
        assert_eq!(out.api.as_deref(), Some("admin"), "{path}");
        assert_eq!(out.response.status, 403, "{path}: {:?}", out.trace);
    }
    let out = send(
        &d,
        request(
            "GET",
            "/orders/%61dmin/users",
            Some(pki.chain(&pki.good)),
            b"",
        ),
    )
    .await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-uri"), "/admin/users");

    let out = send(
        &d,
        request("GET", "/orders/%7euser/a%2bb?q=%2e", not_uploaded(), b""),
    )
    .await;
    assert_eq!(out.api.as_deref(), Some("orders"));
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-uri"), "/~user/a%2Bb?q=%2E");
    assert_eq!(
        header(&out, "x-echo-header-x-seen-url"),
        "https://api.contoso.com/orders/~user/a%2Bb?q=%2E /orders/~user/a%2Bb"
    );
}

#[tokio::test]
async fn article_issuer_and_thumbprint_policies_load_verbatim_and_compare_exact_strings() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    // As printed, the placeholders match no certificate: every request is refused.
    for policy in [ARTICLE_ISSUER_SUBJECT, ARTICLE_THUMBPRINT] {
        let d = deploy(&pki, &echo.url(), &policy_doc(policy, ""), None);
        let out = send(
            &d,
            request("GET", "/orders", Some(pki.chain(&pki.good)), b""),
        )
        .await;
        assert_eq!(out.response.status, 403);
    }
    // With the real values filled in, the good certificate passes and others do not.
    let good = Certificate::from_der(&pki.good).unwrap();
    let issuer_subject = ARTICLE_ISSUER_SUBJECT
        .replace("trusted-issuer", good.issuer())
        .replace("expected-subject-name", good.subject());
    let thumbprint =
        ARTICLE_THUMBPRINT.replace("DESIRED-THUMBPRINT-IN-UPPER-CASE", good.thumbprint());
    for policy in [issuer_subject, thumbprint] {
        let d = deploy(&pki, &echo.url(), &policy_doc(&policy, ""), None);
        let ok = send(
            &d,
            request("GET", "/orders", Some(pki.chain(&pki.good)), b""),
        )
        .await;
        assert_eq!(ok.response.status, 200, "{:?}", ok.trace);
        let other = send(
            &d,
            request("GET", "/orders", Some(pki.chain(&pki.other_good)), b""),
        )
        .await;
        assert_eq!(other.response.status, 403);
    }
}

#[tokio::test]
async fn global_policy_runs_where_the_api_policy_puts_base() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let global = policy_doc(
        r#"<set-header name="x-order" exists-action="append"><value>global</value></set-header>"#,
        "<backend><forward-request/></backend>",
    )
    .replace("<base/>", "");
    let api = r#"<policies><inbound><set-header name="x-order" exists-action="append"><value>api-before</value></set-header><base/><set-header name="x-order" exists-action="append"><value>api-after</value></set-header></inbound><backend><base/></backend></policies>"#;
    let d = deploy(&pki, &echo.url(), api, Some(&global));
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(
        header(&out, "x-echo-header-x-order"),
        "api-before,global,api-after"
    );
    // Without <base/> in inbound the global inbound does not run.
    let api = r#"<policies><inbound><set-header name="x-order" exists-action="append"><value>api</value></set-header></inbound><backend><base/></backend></policies>"#;
    let d = deploy(&pki, &echo.url(), api, Some(&global));
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(header(&out, "x-echo-header-x-order"), "api");
}

#[tokio::test]
async fn validate_client_certificate_fails_with_401_and_the_observed_reasons() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let good = Certificate::from_der(&pki.good).unwrap();
    let vcc = format!(
        r#"<validate-client-certificate validate-revocation="true" validate-trust="true" validate-not-before="true" validate-not-after="true" ignore-error="false">
  <identities><identity thumbprint="{}"/><identity subject="CN=client2, O=Contoso Test"/></identities>
</validate-client-certificate>"#,
        good.thumbprint().to_ascii_lowercase()
    );
    let on_error = r#"<on-error><base/><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header><set-header name="x-source" exists-action="override"><value>@(context.LastError.Source + "|" + context.LastError.Section + "|" + context.LastError.Scope + "|" + context.LastError.Path)</value></set-header></on-error>"#;
    let d = deploy(&pki, &echo.url(), &policy_doc(&vcc, on_error), None);
    let cases = [
        (
            None,
            "ClientCertificateNotFound",
            "Client certificate missing",
        ),
        (
            Some(pki.chain(&pki.expired)),
            "ClientCertificateExpired",
            "Invalid client certificate",
        ),
        (
            Some(vec![pki.untrusted.clone()]),
            "ClientCertificateNotTrusted",
            "Invalid client certificate",
        ),
        (
            Some(pki.chain(&pki.revoked)),
            "ClientCertificateRevoked",
            "Invalid client certificate",
        ),
    ];
    for (chain, reason, message) in cases {
        let out = send(&d, request("GET", "/orders", chain, b"")).await;
        assert_eq!(out.response.status, 401, "{reason}: {:?}", out.trace);
        assert_eq!(header(&out, "x-reason"), reason);
        assert_eq!(
            header(&out, "x-source"),
            "validate-client-certificate|inbound|api|validate-client-certificate[1]"
        );
        let body: serde_json::Value = serde_json::from_slice(body_of(&out)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"statusCode": 401, "message": message})
        );
        assert_eq!(
            out.decision,
            Decision::Failed {
                reason: reason.into()
            }
        );
    }
    // The first identity matches by thumbprint (case ignored), the second by subject
    // written in another order; a third certificate matches neither.
    for leaf in [&pki.good, &pki.other_good] {
        let out = send(&d, request("GET", "/orders", Some(pki.chain(leaf)), b"")).await;
        assert_eq!(out.response.status, 200, "{:?}", out.trace);
    }
    let stranger = pki.intermediate.leaf("client3", 21);
    let out = send(
        &d,
        request("GET", "/orders", Some(pki.chain(&stranger)), b""),
    )
    .await;
    assert_eq!(
        header(&out, "x-reason"),
        "ClientCertificateIdentityNotMatched"
    );
}

#[tokio::test]
async fn validate_client_certificate_checks_only_what_it_is_told_to() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let relaxed = r#"<validate-client-certificate validate-revocation="false" validate-trust="true" validate-not-after="false"/>"#;
    let d = deploy(&pki, &echo.url(), &policy_doc(relaxed, ""), None);
    for leaf in [&pki.revoked, &pki.expired] {
        let out = send(&d, request("GET", "/orders", Some(pki.chain(leaf)), b"")).await;
        assert_eq!(out.response.status, 200, "{:?}", out.trace);
    }
    let ignore = r#"<validate-client-certificate ignore-error="true"/>"#;
    let d = deploy(&pki, &echo.url(), &policy_doc(ignore, ""), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 200);
}

#[tokio::test]
async fn an_expression_that_throws_goes_to_on_error_and_is_never_proxied() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    // Member access on a null certificate throws.
    let throwing = r#"<set-header name="x-subject" exists-action="override"><value>@(context.Request.Certificate.Subject)</value></set-header>"#;
    let d = deploy(&pki, &echo.url(), &policy_doc(throwing, ""), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 500);
    assert!(out.response.headers.get("x-echo-uri").is_none());
    assert_eq!(
        out.decision,
        Decision::Failed {
            reason: "ExpressionValueEvaluationFailure".into()
        }
    );
    let on_error = r#"<on-error><return-response><set-status code="418" reason="Teapot"/><set-body>@(context.LastError.Reason + ": " + context.LastError.Message)</set-body></return-response></on-error>"#;
    let d = deploy(&pki, &echo.url(), &policy_doc(throwing, on_error), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 418);
    assert_eq!(out.response.reason.as_deref(), Some("Teapot"));
    let body = String::from_utf8(body_of(&out).to_vec()).unwrap();
    assert!(
        body.starts_with("ExpressionValueEvaluationFailure: "),
        "{body}"
    );
}

#[tokio::test]
async fn backend_down_is_502_and_slow_is_504_both_through_on_error() {
    let pki = Pki::new();
    let down = format!("http://{}", closed_port().await);
    let on_error = r#"<on-error><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header></on-error>"#;
    let d = deploy(&pki, &down, &policy_doc("", on_error), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 502);
    assert_eq!(header(&out, "x-reason"), "BackendConnectionFailure");

    let echo = EchoBackend::start().await;
    let slow = policy_doc(
        "",
        &format!(r#"<backend><forward-request timeout-ms="300"/></backend>{on_error}"#),
    );
    let d = deploy(&pki, &echo.url(), &slow, None);
    let out = send(&d, request("GET", "/orders/slow", None, b"")).await;
    assert_eq!(out.response.status, 504);
    assert_eq!(header(&out, "x-reason"), "Timeout");
}

#[tokio::test]
async fn bodies_are_proxied_byte_exact_in_both_directions() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let d = deploy(&pki, &echo.url(), &policy_doc("", ""), None);
    for len in [0usize, 64 * 1024, 5 * 1024 * 1024] {
        let binary: Vec<u8> = (0..len).map(|i| (i * 31 + 0x80) as u8).collect();
        let out = send(&d, request("POST", "/orders", None, &binary)).await;
        assert_eq!(out.response.status, 200);
        assert!(
            body_of(&out) == binary,
            "binary body of {len} bytes changed"
        );
        let text = "ü".repeat(len / 2);
        let out = send(&d, request("PUT", "/orders", None, text.as_bytes())).await;
        assert_eq!(body_of(&out), text.as_bytes());
    }
}

/// As the TLS listener delivers it: the body arrives in 1 MiB pieces, and the response
/// may stream back.
fn streamed_request(method: &str, path: &str, body: Vec<u8>) -> GatewayRequest {
    let (mut tx, stream) = http_body_util::channel::Channel::<bytes::Bytes>::new(1);
    tokio::spawn(async move {
        for piece in body.chunks(1024 * 1024) {
            if tx.send_data(piece.to_vec().into()).await.is_err() {
                return;
            }
        }
    });
    GatewayRequest {
        body: Payload::streamed(stream),
        stream_response: true,
        ..request(method, path, None, b"")
    }
}

#[tokio::test]
async fn bodies_no_policy_reads_stream_past_the_buffer_limit_and_read_ones_are_bounded() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let big: Vec<u8> = (0..16 * 1024 * 1024 + 1)
        .map(|i| (i * 31 + 0x80) as u8)
        .collect();

    let d = deploy(&pki, &echo.url(), &policy_doc("", ""), None);
    let out = gateway::handle(
        &d,
        streamed_request("POST", "/orders", big.clone()),
        now(),
        false,
    )
    .await;
    assert_eq!(out.response.status, 200);
    assert!(
        out.response.body.as_whole().is_none(),
        "the response was read whole"
    );
    let echoed = out.response.body.collect(usize::MAX).await.unwrap();
    assert!(echoed == big, "the streamed body changed");

    // A policy that reads the request body makes certgate hold it: bounded.
    let reads_request = policy_doc(
        r#"<set-header name="x-length" exists-action="override"><value>@(context.Request.Body.As<string>(preserveContent: true).Length.ToString())</value></set-header>"#,
        "",
    );
    let d = deploy(&pki, &echo.url(), &reads_request, None);
    let out = gateway::handle(&d, streamed_request("POST", "/orders", big), now(), false).await;
    assert_eq!(out.response.status, 413);
    assert_eq!(
        out.decision,
        Decision::Failed {
            reason: "RequestEntityTooLarge".to_owned()
        }
    );
    let out = gateway::handle(
        &d,
        streamed_request("POST", "/orders", b"hello".to_vec()),
        now(),
        false,
    )
    .await;
    assert_eq!(out.response.status, 200);
    assert_eq!(header(&out, "x-echo-header-x-length"), "5");
    let echoed = out.response.body.collect(usize::MAX).await.unwrap();
    assert_eq!(
        &echoed[..],
        b"hello",
        "preserveContent kept the body for the backend"
    );

    // A policy that reads the response body gets it whole.
    let reads_response = policy_doc(
        "",
        r#"<outbound><base/><set-header name="x-response-length" exists-action="override"><value>@(context.Response.Body.As<string>(preserveContent: true).Length.ToString())</value></set-header></outbound>"#,
    );
    let d = deploy(&pki, &echo.url(), &reads_response, None);
    let out = gateway::handle(
        &d,
        streamed_request("PUT", "/orders", b"abc".to_vec()),
        now(),
        false,
    )
    .await;
    assert_eq!(header(&out, "x-response-length"), "3");
    assert_eq!(
        out.response.body.as_whole().map(|b| &b[..]),
        Some(&b"abc"[..])
    );
}

#[tokio::test]
async fn messages_are_shaped_by_set_header_query_rewrite_and_backend_service() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let elsewhere = EchoBackend::start().await;
    let inbound = format!(
        r#"<set-header name="x-tenant" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("x-request-marker", "").ToUpperInvariant())</value></set-header>
<set-header name="x-request-marker" exists-action="delete"/>
<set-query-parameter name="added" exists-action="override"><value>1</value></set-query-parameter>
<set-variable name="who" value="@(context.Request.Certificate == null ? "anonymous" : context.Request.Certificate.GetNameInfo(X509NameType.SimpleName, false))"/>
<rewrite-uri template="/v2/items/{{id}}"/>
<set-backend-service base-url="{}/base"/>"#,
        elsewhere.url()
    );
    let outbound = r#"<outbound><base/><set-header name="x-who" exists-action="override"><value>@((string)context.Variables["who"])</value></set-header></outbound>"#;
    let api = policy_doc(&inbound, outbound);
    let toml_extra =
        "[[apis.operations]]\nname = \"get\"\nmethod = \"GET\"\nurl_template = \"/{id}\"\n";
    let mut files = pki.files();
    files.push(file(
        "gateway.toml",
        format!(
            "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{}\"\npolicy = \"policies/orders.xml\"\n{toml_extra}",
            echo.url()
        ),
    ));
    files.push(file("policies/orders.xml", api));
    let d = Deployment::load(&files, "t", now()).unwrap_or_else(|e| panic!("{}", e.render()));
    let out = send(
        &d,
        request(
            "GET",
            "/orders/42?keep=yes",
            Some(pki.chain(&pki.good)),
            b"",
        ),
    )
    .await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(
        header(&out, "x-echo-uri"),
        "/base/v2/items/42?keep=yes&added=1"
    );
    assert_eq!(header(&out, "x-echo-header-x-tenant"), "M1");
    assert!(
        out.response
            .headers
            .get("x-echo-header-x-request-marker")
            .is_none()
    );
    assert_eq!(
        header(&out, "x-echo-header-x-forwarded-for"),
        "198.51.100.7"
    );
    // The backend set-backend-service chose is asked as itself; where the client went
    // travels beside it.
    assert_eq!(
        header(&out, "x-echo-header-host"),
        elsewhere.url().trim_start_matches("http://")
    );
    assert_eq!(header(&out, "x-echo-header-x-forwarded-proto"), "https");
    assert_eq!(
        header(&out, "x-echo-header-x-forwarded-host"),
        "api.contoso.com"
    );
    assert_eq!(header(&out, "x-who"), "client1");
    // A host in capitals goes on as the authority reads it (lower case), not as sent.
    let mut shouting = request(
        "GET",
        "/orders/42?keep=yes",
        Some(pki.chain(&pki.good)),
        b"",
    );
    shouting.parts.uri = "https://API.Contoso.COM/orders/42?keep=yes"
        .parse()
        .unwrap();
    shouting
        .parts
        .headers
        .insert("host", "API.Contoso.COM".parse().unwrap());
    let out = send(&d, shouting).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(
        header(&out, "x-echo-header-x-forwarded-host"),
        "api.contoso.com"
    );
    // An operation that does not exist is a 404, before any policy.
    let out = send(&d, request("DELETE", "/orders/42", None, b"")).await;
    assert_eq!(out.response.status, 404);
    assert_eq!(out.decision, Decision::NotRouted);
}

/// Headers no policy changed go on as they came, in both directions: bytes that are not
/// UTF-8 (obs-text, which HTTP allows) included, a repeated name's values in order. A
/// policy that reads a header, or deletes one that is not there, does not change that;
/// one that sets a header sends its text form, where such a value arrives with U+FFFD.
#[tokio::test]
async fn headers_no_policy_changed_pass_byte_for_byte_and_changed_ones_as_text() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let latin = b"caf\xe9".as_slice();
    let with_headers = || {
        let mut r = request("GET", "/orders/42", Some(pki.chain(&pki.good)), b"");
        let headers = &mut r.parts.headers;
        headers.insert("x-latin", http::HeaderValue::from_bytes(latin).unwrap());
        headers.append("x-multi", http::HeaderValue::from_static("one"));
        headers.append("x-multi", http::HeaderValue::from_static("two"));
        r
    };
    let reads = r#"<set-variable name="seen" value="@(context.Request.Headers.GetValueOrDefault("x-multi", ""))"/>"#;
    let deletes_absent = r#"<set-header name="x-absent" exists-action="delete"/>"#;
    let sets =
        r#"<set-header name="x-added" exists-action="override"><value>1</value></set-header>"#;
    for (policy, arrives) in [
        (String::new(), latin.to_vec()),
        (reads.to_owned(), latin.to_vec()),
        (deletes_absent.to_owned(), latin.to_vec()),
        (sets.to_owned(), "caf\u{FFFD}".as_bytes().to_vec()),
    ] {
        let d = deploy(&pki, &echo.url(), &policy_doc(&policy, ""), None);
        let out = send(&d, with_headers()).await;
        assert_eq!(out.response.status, 200, "{policy}: {:?}", out.trace);
        let echoed = |name: &str| -> Vec<&[u8]> {
            out.response
                .headers
                .get_all(name)
                .iter()
                .map(http::HeaderValue::as_bytes)
                .collect()
        };
        assert_eq!(
            echoed("x-echo-header-x-latin"),
            [arrives.as_slice()],
            "{policy}"
        );
        assert_eq!(
            echoed("x-echo-header-x-multi"),
            [b"one".as_slice(), b"two"],
            "{policy}"
        );
        assert_eq!(echoed("x-echo-header-x-request-marker"), [b"m1".as_slice()]);
    }
}

#[tokio::test]
async fn check_header_ip_filter_and_mock_response_answer_without_the_backend() {
    let pki = Pki::new();
    let down = format!("http://{}", closed_port().await);
    let check = r#"<check-header name="x-api-key" failed-check-httpcode="401" failed-check-error-message="Missing or wrong key" ignore-case="true"><value>secret</value></check-header>"#;
    let d = deploy(&pki, &down, &policy_doc(check, ""), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 401);
    let body: serde_json::Value = serde_json::from_slice(body_of(&out)).unwrap();
    assert_eq!(body["message"], "Missing or wrong key");
    assert_eq!(
        out.decision,
        Decision::Failed {
            reason: "HeaderNotFound".into()
        }
    );

    let filter = r#"<ip-filter action="allow"><address-range from="10.0.0.0" to="10.255.255.255"/></ip-filter>"#;
    let d = deploy(&pki, &down, &policy_doc(filter, ""), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 403);
    assert_eq!(
        out.decision,
        Decision::Failed {
            reason: "CallerIpNotAllowed".into()
        }
    );

    let mock = r#"<mock-response status-code="204" content-type="application/json"/>"#;
    let d = deploy(&pki, &down, &policy_doc(mock, ""), None);
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert_eq!(out.response.status, 204);
    assert_eq!(header(&out, "content-type"), "application/json");
}

#[tokio::test]
async fn a_policy_that_does_not_compile_stops_the_deployment_with_its_position() {
    let pki = Pki::new();
    let mut files = pki.files();
    files.push(file(
        "gateway.toml",
        "[[apis]]\nname = \"o\"\npath = \"/o\"\nbackend = \"http://127.0.0.1:9\"\npolicy = \"policies/o.xml\"\n",
    ));
    files.push(file(
        "policies/o.xml",
        "<policies>\n<inbound>\n<set-header name=\"x\" exists-action=\"override\"><value>@(context.Request.Certificate.Thumbprnt)</value></set-header>\n</inbound>\n</policies>",
    ));
    let error = Deployment::load(&files, "t", now()).unwrap_err();
    let rendered = error.render();
    assert!(rendered.starts_with("policies/o.xml:3:"), "{rendered}");
    assert!(rendered.contains("Thumbprnt"), "{rendered}");
    assert!(rendered.contains('^'), "{rendered}");
}

#[tokio::test]
async fn requests_that_match_no_api_get_404() {
    let pki = Pki::new();
    let d = deploy(&pki, "http://127.0.0.1:9", &policy_doc("", ""), None);
    let out = send(&d, request("GET", "/unknown", None, b"")).await;
    assert_eq!(out.response.status, 404);
    let body: serde_json::Value = serde_json::from_slice(body_of(&out)).unwrap();
    assert_eq!(body["message"], "Resource not found");
}

#[tokio::test]
async fn the_client_certificate_is_forwarded_to_the_backend_when_the_api_asks() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let good = Certificate::from_der(&pki.good).unwrap();
    let intermediate = Certificate::from_der(&pki.intermediate.der()).unwrap();
    let d = deploy_with(
        &pki,
        &echo.url(),
        &policy_doc("", ""),
        None,
        "forward_client_certificate = \"rfc9440\"\n",
    );
    let out = send(
        &d,
        request("GET", "/orders", Some(pki.chain(&pki.good)), b""),
    )
    .await;
    let chain = certgate::frontend::forwarded::rfc9440(
        header(&out, "x-echo-header-client-cert").as_bytes(),
        Some(header(&out, "x-echo-header-client-cert-chain").as_bytes()),
    )
    .unwrap();
    assert_eq!(chain[0].thumbprint(), good.thumbprint());
    assert_eq!(chain[1].thumbprint(), intermediate.thumbprint());

    let d = deploy_with(
        &pki,
        &echo.url(),
        &policy_doc("", ""),
        None,
        "forward_client_certificate = \"xfcc\"\n",
    );
    let out = send(
        &d,
        request("GET", "/orders", Some(pki.chain(&pki.good)), b""),
    )
    .await;
    let xfcc = header(&out, "x-echo-header-x-forwarded-client-cert");
    assert!(xfcc.starts_with(&format!(
        "Hash={};",
        good.sha256_fingerprint().to_ascii_lowercase()
    )));
    let chain = certgate::frontend::forwarded::xfcc(xfcc.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0].thumbprint(), good.thumbprint());

    // Without a certificate nothing is forwarded, and without the setting neither.
    let out = send(&d, request("GET", "/orders", None, b"")).await;
    assert!(
        out.response
            .headers
            .get("x-echo-header-x-forwarded-client-cert")
            .is_none()
    );
    let d = deploy(&pki, &echo.url(), &policy_doc("", ""), None);
    let out = send(
        &d,
        request("GET", "/orders", Some(pki.chain(&pki.good)), b""),
    )
    .await;
    assert!(
        out.response
            .headers
            .get("x-echo-header-client-cert")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_certificate_presents_the_uploaded_certificate_to_the_backend() {
    // A TLS backend that reports the client certificate it was shown.
    let backend = tls_client::Gateway::start().await;
    let tls = tls_client::pki();
    let files = |policy: &str| {
        vec![
            file(
                "gateway.toml",
                format!(
                    "[[apis]]\nname = \"o\"\npath = \"/o\"\nbackend = \"https://127.0.0.1:{}\"\npolicy = \"policies/o.xml\"\n",
                    backend.addr.port()
                ),
            ),
            file("policies/o.xml", policy_doc(policy, "")),
            // The backend's server CA: backends with a private CA are trusted through ca/root.
            file("ca/root/backend-ca.pem", tls.server_ca.pem.clone()),
            file("certificates/to-backend.pem", tls.client.pem.clone()),
            file("certificates/to-backend.key", tls.client.key_pem.clone()),
        ]
    };
    let load = |policy: &str| {
        let files = files(policy);
        let d = Deployment::load(&files, "t", now()).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(
            d.diagnostics.iter().all(|d| !d.path.ends_with(".key")),
            "{:?}",
            d.diagnostics
        );
        d
    };

    let d = load(r#"<authentication-certificate certificate-id="to-backend"/>"#);
    let out = send(&d, request("GET", "/o/x", None, b"")).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-certificate"), tls.client_thumbprint());

    let d = load("");
    let out = send(&d, request("GET", "/o/x", None, b"")).await;
    assert_eq!(header(&out, "x-echo-certificate"), "none");

    // An id without a key cannot authenticate: the call fails, it is not sent bare.
    let d = load(r#"<authentication-certificate certificate-id="missing"/>"#);
    let out = send(&d, request("GET", "/o/x", None, b"")).await;
    assert_eq!(out.response.status, 502);
}

#[tokio::test]
async fn redirects_to_another_origin_do_not_carry_credentials_or_the_certificate() {
    let pki = Pki::new();
    let (first, second) = (EchoBackend::start().await, EchoBackend::start().await);
    let d = deploy_with(
        &pki,
        &first.url(),
        r#"<policies><inbound><base/></inbound><backend><forward-request follow-redirects="true"/></backend></policies>"#,
        None,
        "forward_client_certificate = \"rfc9440\"\n",
    );
    let with_credentials = |path: &str| {
        let mut r = request("GET", path, Some(pki.chain(&pki.good)), b"");
        for (name, value) in [("authorization", "Bearer secret"), ("cookie", "session=1")] {
            r.parts.headers.insert(name, value.parse().unwrap());
        }
        r
    };
    // Same origin: everything follows.
    let out = send(&d, with_credentials("/orders/redirect")).await;
    assert_eq!(header(&out, "x-echo-uri"), "/echo?redirected=1");
    assert_eq!(header(&out, "x-echo-header-authorization"), "Bearer secret");
    assert!(
        out.response
            .headers
            .contains_key("x-echo-header-client-cert")
    );
    // Another origin (another port): none of it does.
    let away = format!("/orders/redirect-away/{}", second.addr.port());
    let out = send(&d, with_credentials(&away)).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-uri"), "/echo");
    for name in [
        "authorization",
        "cookie",
        "client-cert",
        "client-cert-chain",
    ] {
        let echoed = format!("x-echo-header-{name}");
        assert!(
            !out.response.headers.contains_key(&echoed),
            "{name} followed"
        );
    }
}

#[tokio::test]
async fn requests_that_cannot_be_forwarded_or_say_two_things_are_refused() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let d = deploy(
        &pki,
        &echo.url(),
        r#"<policies><inbound><base/><choose><when condition="@(context.Request.Url.Path.EndsWith(&quot;/answered&quot;))"><return-response><set-status code="204" reason="No Content" /></return-response></when></choose></inbound></policies>"#,
        None,
    );
    let chain = || Some(pki.chain(&pki.good));
    // CONNECT names a host, not a path: nothing to route.
    let out = send(&d, request("CONNECT", "/orders/1", chain(), b"")).await;
    assert_eq!(
        (out.response.status.as_u16(), out.decision.clone()),
        (405, Decision::NotRouted)
    );
    // TRACE is never forwarded, but a policy may answer it.
    let out = send(&d, request("TRACE", "/orders/1", chain(), b"")).await;
    assert_eq!(out.response.status, 405, "{:?}", out.trace);
    assert!(out.response.headers.get("x-echo-uri").is_none());
    let out = send(&d, request("TRACE", "/orders/answered", chain(), b"")).await;
    assert_eq!(out.response.status, 204);

    // Two certificates from a carrier that sets one.
    let mut r = request("GET", "/orders/1", None, b"");
    r.certificate = ClientCertificate::Conflicting("both a and b".into());
    let out = send(&d, r).await;
    assert_eq!(out.response.status, 400);
    assert!(String::from_utf8_lossy(body_of(&out)).contains("two client certificates"));

    // Hosts: a user name, and a Host that disagrees with the target.
    for (uri, host) in [
        ("https://x@api.contoso.com/orders/1", "api.contoso.com"),
        ("https://api.contoso.com/orders/1", "other.contoso.com"),
        ("/orders/1", "api.contoso.com:1:2"),
    ] {
        let mut r = request("GET", "/orders/1", chain(), b"");
        r.parts.uri = uri.parse().unwrap();
        r.parts.headers.insert("host", host.parse().unwrap());
        let out = send(&d, r).await;
        assert_eq!(out.response.status, 400, "{uri} {host}");
        assert!(out.response.headers.get("x-echo-uri").is_none());
    }
}

/// An API policy that answers 200 itself; on `/orders/costly` it first runs `n`
/// set-variables that each read the request body and copy it three times (about
/// 500,000 steps over 1 MiB, half the per-expression limit).
fn costly_policy(n: usize) -> String {
    let copy = "n += b.Substring(1).Length; ".repeat(3);
    let each = |i: usize| {
        format!(
            r#"<set-variable name="n{i}" value="@{{ var b = context.Request.Body.As&lt;string&gt;(preserveContent: true); var n = 0; {copy}return n; }}" />"#
        )
    };
    let costly: String = (0..n).map(each).collect();
    policy_doc(
        &format!(
            r#"<choose><when condition='@(context.Request.Url.Path.EndsWith("costly"))'>{costly}</when></choose><return-response><set-status code="200" reason="OK" /></return-response>"#
        ),
        "",
    )
}

#[test]
fn expensive_policies_yield_so_a_cheap_request_on_the_same_worker_finishes_first() {
    // One worker thread, as busy as a listener can get: two requests whose policies take
    // 2.5 million steps each, then a cheap one, all queued before any runs. The executor
    // yields every 100,000 steps, so the cheap request runs between their expressions
    // and finishes first; without yielding, each costly policy held the worker to its end.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pki = Pki::new();
    let d = std::sync::Arc::new(deploy(&pki, "http://127.0.0.1:9", &costly_policy(5), None));
    let big = vec![b'a'; 1 << 20];
    let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // holds the only worker until every request is queued, so they start in order
    let (open, gate) = std::sync::mpsc::channel::<()>();
    rt.spawn(async move { gate.recv().ok() });
    let mut tasks = Vec::new();
    for (name, path, body) in [
        ("costly 1", "/orders/costly", &big[..]),
        ("costly 2", "/orders/costly", &big[..]),
        ("cheap", "/orders/cheap", &b""[..]),
    ] {
        let (d, done, body) = (d.clone(), done.clone(), body.to_vec());
        tasks.push(rt.spawn(async move {
            let out = send(&d, request("POST", path, None, &body)).await;
            done.lock()
                .unwrap()
                .push((name, out.response.status.as_u16()));
        }));
    }
    open.send(()).unwrap();
    rt.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    let done = done.lock().unwrap();
    assert_eq!(
        *done,
        [("cheap", 200), ("costly 1", 200), ("costly 2", 200)],
        "in the order they finished"
    );
}

#[tokio::test]
async fn a_request_whose_expressions_add_up_past_its_budget_fails_closed() {
    // 25 expressions of about 500,000 steps: each within the per-expression million,
    // 12 million in all, past the request's 10 million.
    let pki = Pki::new();
    let big = vec![b'a'; 1 << 20];
    let d = deploy(&pki, "http://127.0.0.1:9", &costly_policy(25), None);
    let out = send(&d, request("POST", "/orders/costly", None, &big)).await;
    assert_eq!(out.response.status, 500, "{:?}", out.trace);
    assert_eq!(
        out.decision,
        Decision::Failed {
            reason: "ExpressionValueEvaluationFailure".into()
        }
    );
    let trace = format!("{:?}", out.trace);
    assert!(
        trace.contains("the request's expressions ran more than 10000000 steps in all"),
        "{trace}"
    );
    // the budget is per request: 15 of them (7.5 million) pass, as does the next request
    let d = deploy(&pki, "http://127.0.0.1:9", &costly_policy(15), None);
    for _ in 0..2 {
        let out = send(&d, request("POST", "/orders/costly", None, &big)).await;
        assert_eq!(out.response.status, 200, "{:?}", out.trace);
    }
}

#[tokio::test]
async fn a_policy_that_changes_the_url_leaves_the_original_url_as_it_came() {
    let pki = Pki::new();
    let echo = EchoBackend::start().await;
    let inbound = r#"<set-query-parameter name="added" exists-action="override"><value>1</value></set-query-parameter>
        <rewrite-uri template="/rewritten?r=2" />
        <set-header name="x-seen" exists-action="override"><value>@(context.Request.Url.QueryString + " " + context.Request.OriginalUrl.Path + context.Request.OriginalUrl.QueryString)</value></set-header>"#;
    let d = deploy(&pki, &echo.url(), &policy_doc(inbound, ""), None);

    let out = send(&d, request("GET", "/orders/42?q=1", None, b"")).await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-uri"), "/rewritten?r=2&q=1&added=1");
    assert_eq!(
        header(&out, "x-echo-header-x-seen"),
        "?r=2&q=1&added=1 /orders/42?q=1"
    );
    // The next request's context starts from its own URL again.
    let out = send(&d, request("GET", "/orders/7", None, b"")).await;
    assert_eq!(
        header(&out, "x-echo-header-x-seen"),
        "?r=2&added=1 /orders/7"
    );
}
