//! `json-to-xml` and `xml-to-json` through the real pipeline: a request goes through
//! `gateway::handle` to an echo backend on loopback, which sends the request body back;
//! the policies convert the request (inbound) or the echoed response (outbound). The
//! expected texts are byte for byte. Also `apply`, `consider-accept-header`, bodies
//! that cannot be converted, and the attribute values refused at load.

mod common;

use certgate::body::Payload;
use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, Outcome};
use common::backend::EchoBackend;
use common::request::gateway_request;
use time::OffsetDateTime;

/// API `/orders` → `backend`, with `inbound` and `outbound` as the API's sections.
fn deploy(backend: &str, inbound: &str, outbound: &str) -> Result<Deployment, String> {
    load(
        backend,
        &format!(
            "<policies>\n<inbound>\n<base />\n{inbound}\n</inbound>\n<backend><forward-request /></backend>\n<outbound>\n<base />\n{outbound}\n</outbound>\n<on-error><base /></on-error>\n</policies>"
        ),
    )
}

/// API `/orders` → `backend` with `policy` as its document.
fn load(backend: &str, policy: &str) -> Result<Deployment, String> {
    let toml = format!(
        "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n"
    );
    let files = vec![
        SourceFile::new("gateway.toml", toml),
        SourceFile::new("policies/orders.xml", policy),
    ];
    Deployment::load(&files, "test", OffsetDateTime::now_utc()).map_err(|e| e.render())
}

async fn start(inbound: &str, outbound: &str) -> (EchoBackend, Deployment) {
    let echo = EchoBackend::start().await;
    let d = deploy(&echo.url(), inbound, outbound).unwrap_or_else(|e| panic!("{e}"));
    (echo, d)
}

/// POSTs `body` with `headers` to the API.
async fn post(d: &Deployment, headers: &[(&str, &str)], body: &str) -> Outcome {
    let mut request = gateway_request(
        "POST",
        "https://api.contoso.com/orders/42",
        headers,
        ClientCertificate::Absent,
    );
    request.body = Payload::from(body.as_bytes().to_vec());
    gateway::handle(d, request, OffsetDateTime::now_utc(), false).await
}

fn header<'o>(outcome: &'o Outcome, name: &str) -> &'o str {
    outcome
        .response
        .headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

fn body(outcome: &Outcome) -> &str {
    std::str::from_utf8(outcome.response.body.as_whole().expect("a whole body")).unwrap()
}

/// The example of Microsoft's json-to-xml reference
/// (https://learn.microsoft.com/azure/api-management/json-to-xml-policy, "Example").
const MS_POLICY: &str = r##"<json-to-xml apply="always" consider-accept-header="false" parse-date="false" namespace-separator=":" namespace-prefix="xmlns" attribute-block-name="#attrs" />"##;

const MS_JSON: &str = r##"{
  "soapenv:Envelope": {
    "xmlns:soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
    "xmlns:v1": "http://localdomain.com/core/v1",
    "soapenv:Header": {},
    "soapenv:Body": {
      "v1:QueryList": {
        "#attrs": {
          "queryName": "test"
        },
        "v1:QueryItem": {
          "name": "dummy text"
        }
      }
    }
  }
}"##;

/// The page's output, except that the page leaves out the `<v1:QueryItem>` element
/// around `<name>`, which its JSON has (the `"v1:QueryItem"` object): certgate keeps it.
const MS_XML: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="http://localdomain.com/core/v1">
  <soapenv:Header />
  <soapenv:Body>
    <v1:QueryList queryName="test">
      <v1:QueryItem>
        <name>dummy text</name>
      </v1:QueryItem>
    </v1:QueryList>
  </soapenv:Body>
</soapenv:Envelope>"#;

#[tokio::test]
async fn microsofts_json_to_xml_example_in_outbound() {
    let (echo, d) = start("", MS_POLICY).await;
    let out = post(&d, &[("content-type", "application/json")], MS_JSON).await;
    assert_eq!(out.decision, Decision::Proxied);
    assert_eq!(echo.requests(), 1);
    assert_eq!(body(&out), MS_XML);
    assert_eq!(header(&out, "content-type"), "application/xml");
}

/// APIM's output for a JSON body with several top-level properties, as published at
/// http://dev.fyicenter.com/1000734_json-to-xml_Azure_API_Policy_Statement.html (a
/// capture of a real APIM response; the page shows it indented by four spaces, as the
/// client displayed it): the `<Document>` root, `True`, an empty array as one empty
/// element, and `null` as `xsi:nil`.
#[tokio::test]
async fn several_top_level_properties_are_wrapped_in_document() {
    let (_echo, d) = start(
        "",
        r#"<json-to-xml apply="always" consider-accept-header="false" />"#,
    )
    .await;
    let json = r#"{
  "firstName": "John",
  "lastName": "Smith",
  "isAlive": true,
  "age": 25,
  "address": {
    "streetAddress": "21 2nd Street",
    "city": "New York",
    "state": "NY",
    "postalCode": "10021-3100"
  },
  "phoneNumbers": [
    {
      "type": "home",
      "number": "212 555-1234"
    },
    {
      "type": "mobile",
      "number": "123 456-7890"
    }
  ],
  "children": [],
  "spouse": null
}"#;
    let out = post(&d, &[], json).await;
    assert_eq!(
        body(&out),
        r#"<Document>
  <firstName>John</firstName>
  <lastName>Smith</lastName>
  <isAlive>True</isAlive>
  <age>25</age>
  <address>
    <streetAddress>21 2nd Street</streetAddress>
    <city>New York</city>
    <state>NY</state>
    <postalCode>10021-3100</postalCode>
  </address>
  <phoneNumbers>
    <type>home</type>
    <number>212 555-1234</number>
  </phoneNumbers>
  <phoneNumbers>
    <type>mobile</type>
    <number>123 456-7890</number>
  </phoneNumbers>
  <children />
  <spouse xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" />
</Document>"#
    );
}

/// The example policy of Microsoft's xml-to-json reference
/// (https://learn.microsoft.com/azure/api-management/xml-to-json-policy, "Example"; the
/// page shows no body), with the SOAP response and APIM's output published at
/// http://dev.fyicenter.com/1000733_xml-to-json_Policy_Statement.html (shown there
/// indented by four spaces): the declaration's version first, `$` for `:`, `@` for
/// attributes.
#[tokio::test]
async fn microsofts_xml_to_json_example_in_outbound() {
    let (_echo, d) = start(
        "",
        r#"<xml-to-json kind="direct" apply="always" consider-accept-header="false" />"#,
    )
    .await;
    let xml = r#"<?xml version="1.0"?>
<soap:Envelope xmlns="http://fyicenter.com/" 
    xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
    <soap:Body>
        <GetOrders>
            <Customer>1234567</Customer>
        </GetOrders>
    </soap:Body>
</soap:Envelope>"#;
    let out = post(&d, &[("content-type", "text/xml")], xml).await;
    assert_eq!(
        body(&out),
        r#"{
  "version": "1.0",
  "soap$Envelope": {
    "@xmlns": "http://fyicenter.com/",
    "@xmlns$soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "soap$Body": {
      "GetOrders": {
        "Customer": "1234567"
      }
    }
  }
}"#
    );
    assert_eq!(header(&out, "content-type"), "application/json");
}

#[tokio::test]
async fn inbound_conversions_reach_the_backend_and_round_trip() {
    // The request's XML becomes JSON for the backend; the echoed JSON becomes XML again.
    let (_echo, d) = start(
        r#"<xml-to-json kind="javascript-friendly" apply="content-type-xml" consider-accept-header="false" always-array-child-elements="true" />"#,
        r#"<json-to-xml apply="content-type-json" consider-accept-header="false" />"#,
    )
    .await;
    let out = post(
        &d,
        &[("content-type", "application/xml")],
        r#"<?xml version="1.0"?><order id="7"><line>a</line><note>x &amp; y</note></order>"#,
    )
    .await;
    assert_eq!(out.decision, Decision::Proxied);
    // What the backend got, as its echo reports it.
    assert_eq!(
        header(&out, "x-echo-header-content-type"),
        "application/json"
    );
    // The echo answers without a Content-Type: outbound's content-type-json skips it.
    assert_eq!(
        body(&out),
        "{\n  \"order\": {\n    \"@id\": \"7\",\n    \"line\": [\n      \"a\"\n    ],\n    \"note\": [\n      \"x & y\"\n    ]\n  }\n}"
    );

    let (_echo, d) = start(
        r#"<xml-to-json kind="direct" apply="always" consider-accept-header="false" />"#,
        r#"<set-header name="Content-Type" exists-action="override"><value>application/json; charset=utf-8</value></set-header>
<json-to-xml apply="content-type-json" consider-accept-header="false" />"#,
    )
    .await;
    let out = post(
        &d,
        &[],
        r#"<order id="7"><line>a</line><line>b</line></order>"#,
    )
    .await;
    assert_eq!(
        body(&out),
        "<order id=\"7\">\n  <line>a</line>\n  <line>b</line>\n</order>"
    );
    assert_eq!(header(&out, "content-type"), "application/xml");
}

#[tokio::test]
async fn apply_content_type_json_converts_only_json_bodies() {
    let (_echo, d) = start(
        r#"<json-to-xml apply="content-type-json" consider-accept-header="false" />"#,
        "",
    )
    .await;
    let json = r#"{"a":1}"#;
    for (content_type, converted) in [
        ("application/json", true),
        ("application/json; charset=utf-8", true),
        ("application/problem+json", true),
        ("text/plain", false),
        ("", false),
    ] {
        let headers: &[(&str, &str)] = if content_type.is_empty() {
            &[]
        } else {
            &[("content-type", content_type)]
        };
        let out = post(&d, headers, json).await;
        let want = if converted { "<a>1</a>" } else { json };
        assert_eq!(body(&out), want, "{content_type}");
    }
}

#[tokio::test]
async fn consider_accept_header_converts_only_when_the_client_asks_for_the_format() {
    // consider-accept-header defaults to true.
    let (_echo, d) = start("", r#"<json-to-xml apply="always" />"#).await;
    let json = r#"{"a":1}"#;
    for (accept, converted) in [
        (None, false),
        (Some("application/json"), false),
        (Some("*/*"), false),
        (Some("application/xml"), true),
        (Some("application/json, text/xml;q=0.5"), true),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let out = post(&d, &headers, json).await;
        let want = if converted { "<a>1</a>" } else { json };
        assert_eq!(body(&out), want, "{accept:?}");
    }
    let (_echo, d) = start(
        "",
        r#"<xml-to-json kind="direct" apply="always" consider-accept-header="@(context.Request.Headers.ContainsKey("x-ask"))" />"#,
    )
    .await;
    let out = post(&d, &[("accept", "application/json")], "<a>1</a>").await;
    assert_eq!(body(&out), "{\n  \"a\": \"1\"\n}");
    let out = post(&d, &[("x-ask", "1")], "<a>1</a>").await;
    assert_eq!(body(&out), "<a>1</a>");
}

#[tokio::test]
async fn attribute_expressions_are_evaluated_per_request() {
    let (_echo, d) = start(
        r#"<json-to-xml apply="@(context.Request.Headers.GetValueOrDefault("x-apply", "always"))" consider-accept-header="false" namespace-separator="@(context.Request.Headers.GetValueOrDefault("x-sep", "_"))" namespace-prefix="xmlns" />"#,
        "",
    )
    .await;
    let json = r#"{"s:a":{"xmlns:s":"urn:s","s_b":1}}"#;
    let out = post(&d, &[("x-sep", ":")], json).await;
    assert_eq!(
        body(&out),
        "<s:a xmlns:s=\"urn:s\">\n  <s_b>1</s_b>\n</s:a>"
    );
    // An expression whose value the attribute does not take fails the request.
    let out = post(&d, &[("x-sep", "::")], json).await;
    assert_eq!(out.response.status, 500);
    let out = post(&d, &[("x-apply", "content-type-json")], json).await;
    assert_eq!(body(&out), json);
}

#[tokio::test]
async fn a_body_that_cannot_be_converted_fails_the_request() {
    // A request body: 400, and the backend is not called.
    let (echo, d) = start(
        r#"<json-to-xml apply="always" consider-accept-header="false" />"#,
        "",
    )
    .await;
    let out = post(&d, &[], r#"{"a": [1, }"#).await;
    assert_eq!(out.response.status, 400);
    assert_eq!(echo.requests(), 0);
    // An empty body is left as it is.
    let out = post(&d, &[], "").await;
    assert_eq!(out.decision, Decision::Proxied);
    assert_eq!(body(&out), "");
    assert_eq!(header(&out, "x-echo-header-content-type"), "");

    // A response body: 502, and on-error sees why.
    let echo = EchoBackend::start().await;
    let d = load(
        &echo.url(),
        r#"<policies><inbound><base /></inbound><backend><forward-request /></backend>
<outbound><xml-to-json kind="direct" apply="always" consider-accept-header="false" /></outbound>
<on-error><set-header name="x-why" exists-action="override"><value>@(context.LastError.Source + " " + context.LastError.Reason + ": " + context.LastError.Message)</value></set-header></on-error></policies>"#,
    )
    .unwrap();
    let out = post(&d, &[], "<a><b></a>").await;
    assert_eq!(out.response.status, 502);
    assert_eq!(
        header(&out, "x-why"),
        "xml-to-json BodyConversionFailure: the body: </a> closes <b>"
    );
    let out = post(&d, &[], "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").await;
    assert_eq!(out.response.status, 502);
    assert!(
        header(&out, "x-why").contains("DTD"),
        "{}",
        header(&out, "x-why")
    );
}

#[tokio::test]
async fn on_error_converts_the_error_response() {
    let echo = EchoBackend::start().await;
    let d = load(
        &echo.url(),
        r#"<policies>
<inbound><check-header name="x-key" failed-check-httpcode="401" failed-check-error-message="Missing key" ignore-case="false" /></inbound>
<backend><forward-request /></backend>
<on-error><json-to-xml apply="content-type-json" consider-accept-header="true" /></on-error>
</policies>"#,
    )
    .unwrap();
    let out = post(&d, &[("accept", "application/xml")], "").await;
    assert_eq!(out.response.status, 401);
    assert_eq!(echo.requests(), 0);
    assert_eq!(
        body(&out),
        "<Document>\n  <message>Missing key</message>\n  <statusCode>401</statusCode>\n</Document>"
    );
    assert_eq!(header(&out, "content-type"), "application/xml");
    // The client did not ask for XML: the error stays JSON.
    let out = post(&d, &[], "").await;
    assert_eq!(body(&out), r#"{"message":"Missing key","statusCode":401}"#);
}

#[test]
fn bad_attribute_values_do_not_load() {
    let refused =
        |inbound: &str, outbound: &str| match deploy("http://127.0.0.1:9", inbound, outbound) {
            Ok(_) => panic!("loaded: {inbound}{outbound}"),
            Err(e) => e,
        };
    for (inbound, outbound, at, says) in [
        (
            r#"<json-to-xml apply="sometimes" />"#,
            "",
            "policies/orders.xml:4:21:",
            "use always or content-type-json",
        ),
        (
            r#"<json-to-xml consider-accept-header="false" />"#,
            "",
            "policies/orders.xml:4:1:",
            "apply",
        ),
        (
            r#"<json-to-xml apply="always" namespace-separator="::" />"#,
            "",
            "policies/orders.xml:4:50:",
            "is not one character",
        ),
        (
            r#"<json-to-xml apply="always" parse-date="@(true)" />"#,
            "",
            "policies/orders.xml:4:41:",
            "policy expressions are not allowed here",
        ),
        (
            "",
            r#"<xml-to-json kind="friendly" apply="always" />"#,
            "policies/orders.xml:9:20:",
            "use javascript-friendly or direct",
        ),
        (
            "",
            r#"<xml-to-json kind="direct" apply="content-type-json" />"#,
            "policies/orders.xml:9:35:",
            "use always or content-type-xml",
        ),
        (
            "",
            r#"<xml-to-json kind="direct" apply="always" always-array-children="true" />"#,
            "policies/orders.xml:9:43:",
            "always-array-child-elements",
        ),
        (
            "",
            r#"<xml-to-json kind="direct" apply="always" consider-accept-header="maybe" />"#,
            "policies/orders.xml:9:67:",
            "is not a Boolean",
        ),
    ] {
        let e = refused(inbound, outbound);
        assert!(e.contains(at), "{at} in {e}");
        assert!(e.contains(says), "{says} in {e}");
    }
    // Not in the backend section, as in APIM.
    let e = load(
        "http://127.0.0.1:9",
        r#"<policies><backend><json-to-xml apply="always" /></backend></policies>"#,
    )
    .expect_err("refused");
    assert!(
        e.contains("<json-to-xml> is not allowed in <backend>; it may appear in <inbound>, <outbound>, <on-error>"),
        "{e}"
    );
}
