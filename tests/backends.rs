//! `[[backends]]` entities of gateway.toml and `set-backend-service backend-id`: real
//! loopback backends that echo what they received (headers, query, `Authorization`,
//! the client certificate shown over TLS).

mod common;
#[path = "common/tls_client.rs"]
mod tls_client;
#[path = "common/trust_pki.rs"]
mod trust_pki;

use std::collections::BTreeMap;

use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Deployment, GatewayRequest};
use common::backend::EchoBackend;
use common::request::{gateway_request, header};
use trust_pki::{file, now};

fn policy(inbound: &str) -> String {
    format!(
        "<policies>\n    <inbound>\n        {inbound}\n    </inbound>\n    <backend><forward-request /></backend>\n</policies>"
    )
}

/// An API whose own backend is never reached (port 9), and `backends` (TOML).
fn files(backends: &str, inbound: &str) -> Vec<SourceFile> {
    vec![
        file(
            "gateway.toml",
            format!(
                "[[apis]]\nname = \"o\"\npath = \"/o\"\nbackend = \"http://127.0.0.1:9\"\npolicy = \"policies/o.xml\"\n\n[named_values]\ntenant = \"contoso\"\nkey = {{ secret = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf\" }}\n\n{backends}"
            ),
        ),
        file("policies/o.xml", policy(inbound)),
    ]
}

/// Loads with the secret `key` as if read from Secrets Manager.
fn load(files: &[SourceFile]) -> Result<Deployment, String> {
    let values = BTreeMap::from([("key".to_owned(), "s3cr3t&=?".to_owned())]);
    Deployment::load_with_named_values(files, "t", now(), values).map_err(|e| e.render())
}

fn request(path: &str) -> GatewayRequest {
    gateway_request(
        "GET",
        &format!("https://api.contoso.com{path}"),
        &[("x-api-key", "from-the-client")],
        ClientCertificate::Absent,
    )
}

async fn send(d: &Deployment, path: &str) -> gateway::Outcome {
    gateway::handle(d, request(path), now(), true).await
}

#[tokio::test]
async fn backend_id_sends_to_the_entity_with_its_credentials() {
    let echo = EchoBackend::start().await;
    let backends = format!(
        r#"
[[backends]]
id = "orders"
url = "{}/api"

[backends.credentials]
header = {{ "X-Api-Key" = "{{{{key}}}}", "x-tenant" = ["{{{{tenant}}}}", "b"] }}
query = {{ code = "{{{{key}}}}" }}
authorization = {{ scheme = "Bearer", parameter = "t-{{{{tenant}}}}" }}
"#,
        echo.url()
    );
    let d = load(&files(
        &backends,
        r#"<set-backend-service backend-id="orders" />"#,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let out = send(&d, "/o/42?a=1").await;
    assert_eq!(out.response.status, 200, "{:?}", out.trace);
    assert_eq!(
        header(&out, "x-echo-uri"),
        "/api/42?a=1&code=s3cr3t%26%3D%3F"
    );
    // The entity's header replaces the client's.
    assert_eq!(header(&out, "x-echo-header-x-api-key"), "s3cr3t&=?");
    let tenants: Vec<&str> = out
        .response
        .headers
        .get_all("x-echo-header-x-tenant")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tenants, ["contoso", "b"]);
    assert_eq!(
        header(&out, "x-echo-header-authorization"),
        "Bearer t-contoso"
    );
    // The trace names the call without the credentials.
    let trace = format!("{:?}", out.trace);
    assert!(trace.contains("/api/42?a=1"), "{trace}");
    assert!(!trace.contains("s3cr3t"), "{trace}");

    // base-url after backend-id: the entity's credentials are not sent elsewhere.
    let d = load(&files(
        &backends,
        &format!(
            r#"<set-backend-service backend-id="orders" /><set-backend-service base-url="{}/plain" />"#,
            echo.url()
        ),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let out = send(&d, "/o/42").await;
    assert_eq!(header(&out, "x-echo-uri"), "/plain/42");
    assert_eq!(header(&out, "x-echo-header-x-api-key"), "from-the-client");
    assert!(
        !out.response
            .headers
            .contains_key("x-echo-header-authorization")
    );
}

#[test]
fn an_unknown_backend_id_or_an_undefined_named_value_does_not_load() {
    let backends = "[[backends]]\nid = \"orders\"\nurl = \"http://127.0.0.1:9\"\n";
    let error = load(&files(
        backends,
        r#"<choose><when condition="@(true)"><set-backend-service backend-id="ordres" /></when></choose>"#,
    ))
    .unwrap_err();
    assert!(
        error.starts_with("policies/o.xml:3:"),
        "the error points at the attribute: {error}"
    );
    assert!(
        error.contains("no [[backends]] entry of gateway.toml has the id `ordres`"),
        "{error}"
    );

    let error = load(&files(
        backends,
        r#"<set-backend-service backend-id="orders" base-url="http://x" />"#,
    ))
    .unwrap_err();
    assert!(error.contains("not both"), "{error}");
    let error = load(&files(
        backends,
        r#"<set-backend-service backend-id="@("orders")" />"#,
    ))
    .unwrap_err();
    assert!(error.contains("expression in backend-id"), "{error}");

    let undefined = "[[backends]]\nid = \"orders\"\nurl = \"http://127.0.0.1:9\"\n[backends.credentials]\nheader = { \"x-k\" = \"{{nope}}\" }\n";
    let error = load(&files(undefined, "")).unwrap_err();
    assert!(
        error.contains("backends[0].credentials.header.\"x-k\"")
            && error.contains("`{{nope}}` is not defined"),
        "{error}"
    );

    let no_key = "[[backends]]\nid = \"orders\"\nurl = \"https://127.0.0.1:9\"\nclient_certificate = \"missing\"\n";
    let error = load(&files(no_key, "")).unwrap_err();
    assert!(
        error.contains("backends[0].client_certificate")
            && error.contains("certificates/missing.key"),
        "{error}"
    );
}

#[tokio::test]
async fn client_certificate_and_certificate_checks_of_an_entity() {
    // A TLS backend that reports the client certificate it was shown; its certificate is
    // for 127.0.0.1 and default.test, under a private CA.
    let backend = tls_client::Gateway::start().await;
    let tls = tls_client::pki();
    let port = backend.addr.port();
    let deployment = |entity: &str, trust_ca: bool| {
        let backends = format!("[[backends]]\nid = \"b\"\n{entity}\n");
        let mut files = files(&backends, r#"<set-backend-service backend-id="b" />"#);
        files.push(file("certificates/to-backend.pem", tls.client.pem.clone()));
        files.push(file(
            "certificates/to-backend.key",
            tls.client.key_pem.clone(),
        ));
        if trust_ca {
            files.push(file("ca/root/backend-ca.pem", tls.server_ca.pem.clone()));
        }
        load(&files).unwrap_or_else(|e| panic!("{e}"))
    };
    let status = |out: &gateway::Outcome| out.response.status.as_u16();

    let mtls = format!("url = \"https://127.0.0.1:{port}\"\nclient_certificate = \"to-backend\"");
    let out = send(&deployment(&mtls, true), "/o/x").await;
    assert_eq!(status(&out), 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-certificate"), tls.client_thumbprint());

    // Without the backend's CA the chain does not verify, unless the entity says so.
    let plain = format!("url = \"https://127.0.0.1:{port}\"");
    assert_eq!(status(&send(&deployment(&plain, false), "/o/x").await), 502);
    let unchecked = format!("{plain}\nvalidate_certificate_chain = false");
    let out = send(&deployment(&unchecked, false), "/o/x").await;
    assert_eq!(status(&out), 200, "{:?}", out.trace);
    assert_eq!(header(&out, "x-echo-certificate"), "none");

    // `localhost` is not a name of the backend's certificate.
    let by_name = format!("url = \"https://localhost:{port}\"");
    assert_eq!(
        status(&send(&deployment(&by_name, true), "/o/x").await),
        502
    );
    let unnamed = format!("{by_name}\nvalidate_certificate_name = false");
    let out = send(&deployment(&unnamed, true), "/o/x").await;
    assert_eq!(status(&out), 200, "{:?}", out.trace);
    // Turning the name check off keeps the chain check.
    assert_eq!(
        status(&send(&deployment(&unnamed, false), "/o/x").await),
        502
    );
}
