//! The cache policies: `cache-lookup-value`, `cache-store-value` and `cache-remove-value`
//! on the internal cache (per instance) and on a DynamoDB table served by moto_server on
//! loopback (hit, miss, expiry read from the TTL attribute, a table that is down), with
//! a real echo backend. Expiry is shown with the request time `handle` is given, never
//! by waiting.

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use certgate::body::Payload;
use certgate::cache::{EXPIRES_ATTRIBUTE, KEY_ATTRIBUTE};
use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, GatewayRequest, Outcome};
use common::backend::EchoBackend;
use common::moto::{Moto, client_options};
use time::{Duration, OffsetDateTime};

const TABLE: &str = "certgate-cache";

/// Looks `key` up (the `x-key` header) into `v` with `default` as default, stores the
/// `x-value` header for `duration` seconds on PUT, removes it on DELETE, and sends the
/// variable to the backend as `x-cached`.
fn value_policy(caching_type: &str, duration: &str) -> String {
    format!(
        r#"<policies>
  <inbound>
    <cache-lookup-value key="@("k-" + context.Request.Headers.GetValueOrDefault("x-key", ""))" variable-name="v" default-value="none" caching-type="{caching_type}" />
    <choose>
      <when condition="@(context.Request.Method == "PUT")">
        <cache-store-value key="@("k-" + context.Request.Headers.GetValueOrDefault("x-key", ""))" value="@(context.Request.Headers.GetValueOrDefault("x-value", ""))" duration="{duration}" caching-type="{caching_type}" />
      </when>
      <when condition="@(context.Request.Method == "DELETE")">
        <cache-remove-value key="@("k-" + context.Request.Headers.GetValueOrDefault("x-key", ""))" caching-type="{caching_type}" />
      </when>
    </choose>
    <set-header name="x-cached" exists-action="override"><value>@(context.Variables["v"] == null ? "null" : context.Variables["v"].ToString())</value></set-header>
  </inbound>
  <backend><forward-request /></backend>
</policies>"#
    )
}

fn deploy(backend: &str, cache_toml: &str, policy: &str) -> Result<Deployment, String> {
    let toml = format!(
        "{cache_toml}\n[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\npolicy = \"policies/orders.xml\"\n"
    );
    let files = vec![
        SourceFile::new("gateway.toml", toml),
        SourceFile::new("policies/orders.xml", policy),
    ];
    Deployment::load(&files, "test", OffsetDateTime::now_utc()).map_err(|e| e.render())
}

fn request(method: &str, headers: &[(&str, &str)]) -> GatewayRequest {
    let mut builder = http::Request::builder()
        .method(method)
        .uri("https://api.contoso.com/orders/42")
        .header("host", "api.contoso.com");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    GatewayRequest {
        parts,
        body: Payload::from(Vec::new()),
        stream_response: false,
        client_ip: Some("198.51.100.7".parse().unwrap()),
        certificate: ClientCertificate::Absent,
        ignored_certificate_sources: vec![],
        request_id: "req-1".into(),
    }
}

fn header<'o>(outcome: &'o Outcome, name: &str) -> &'o str {
    outcome
        .response
        .headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

/// What the backend saw as `x-cached` for a request at `now`.
async fn cached(d: &Deployment, method: &str, key: &str, value: &str, now: OffsetDateTime) -> String {
    let headers = [("x-key", key), ("x-value", value)];
    let outcome = gateway::handle(d, request(method, &headers), now, false).await;
    assert_eq!(outcome.decision, Decision::Proxied, "{:?}", outcome.response);
    header(&outcome, "x-echo-header-x-cached").to_owned()
}

#[tokio::test]
async fn internal_cache_hits_misses_with_the_default_expires_and_removes() {
    let echo = EchoBackend::start().await;
    let d = deploy(&echo.url(), "", &value_policy("internal", "60")).unwrap();
    let t0 = OffsetDateTime::now_utc();

    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");
    // The lookup runs before the store: the PUT itself still sees the miss.
    assert_eq!(cached(&d, "PUT", "a", "blue", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "blue");
    assert_eq!(cached(&d, "GET", "b", "", t0).await, "none");
    // 60 s later the entry has expired.
    assert_eq!(cached(&d, "GET", "a", "", t0 + Duration::seconds(59)).await, "blue");
    assert_eq!(cached(&d, "GET", "a", "", t0 + Duration::seconds(60)).await, "none");

    assert_eq!(cached(&d, "PUT", "a", "green", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "green");
    assert_eq!(cached(&d, "DELETE", "a", "", t0).await, "green");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");

    // "prefer-external" (the default) without a table is the internal cache, which a
    // new deployment starts empty.
    let d = deploy(&echo.url(), "", &value_policy("prefer-external", "60")).unwrap();
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");
    assert_eq!(cached(&d, "PUT", "a", "red", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "red");
}

#[tokio::test]
async fn values_keep_their_type_and_a_lookup_without_default_is_null() {
    let echo = EchoBackend::start().await;
    let policy = r#"<policies>
  <inbound>
    <cache-lookup-value key="n" variable-name="n" caching-type="internal" />
    <cache-lookup-value key="j" variable-name="j" />
    <cache-store-value key="n" value="@(41)" duration="60" />
    <cache-store-value key="j" value="@(JObject.Parse("{\"a\":{\"b\":7}}"))" duration="@(30 * 2)" />
    <set-header name="x-n" exists-action="override"><value>@(context.Variables["n"] == null ? "null" : ((int)context.Variables["n"] + 1).ToString())</value></set-header>
    <set-header name="x-j" exists-action="override"><value>@(context.Variables["j"] == null ? "null" : ((JObject)context.Variables["j"])["a"]["b"].ToString())</value></set-header>
  </inbound>
  <backend><forward-request /></backend>
</policies>"#;
    let d = deploy(&echo.url(), "", policy).unwrap();
    let now = OffsetDateTime::now_utc();
    let first = gateway::handle(&d, request("GET", &[]), now, false).await;
    assert_eq!(header(&first, "x-echo-header-x-n"), "null");
    assert_eq!(header(&first, "x-echo-header-x-j"), "null");
    let second = gateway::handle(&d, request("GET", &[]), now, false).await;
    assert_eq!(header(&second, "x-echo-header-x-n"), "42");
    assert_eq!(header(&second, "x-echo-header-x-j"), "7");
}

#[tokio::test]
async fn a_value_no_cache_keeps_fails_the_request_and_is_not_proxied() {
    let echo = EchoBackend::start().await;
    let policy = r#"<policies><inbound>
    <cache-store-value key="c" value="@(context.Request.Certificate)" duration="60" caching-type="internal" />
  </inbound><backend><forward-request /></backend></policies>"#;
    let d = deploy(&echo.url(), "", policy).unwrap();
    let outcome = gateway::handle(&d, request("GET", &[]), OffsetDateTime::now_utc(), false).await;
    // A null certificate is cached as null; an array is not cacheable.
    assert_eq!(outcome.decision, Decision::Proxied);
    let policy = policy.replace("context.Request.Certificate", "new [] { 1, 2 }");
    let d = deploy(&echo.url(), "", &policy).unwrap();
    let outcome = gateway::handle(&d, request("GET", &[]), OffsetDateTime::now_utc(), false).await;
    assert!(
        matches!(&outcome.decision, Decision::Failed { reason } if reason == "ExpressionValueEvaluationFailure"),
        "{:?}",
        outcome.decision
    );
    assert_eq!(outcome.response.status, 500);
}

#[tokio::test]
async fn cache_policies_are_checked_at_load() {
    let echo = EchoBackend::start().await;
    let url = echo.url();
    let error = deploy(&url, "", &value_policy("external", "60")).unwrap_err();
    assert!(error.contains("policies/orders.xml:3:"), "{error}");
    assert!(
        error.contains("[cache]") && error.contains("table = "),
        "{error}"
    );
    let error = deploy(&url, "", &value_policy("remote", "60")).unwrap_err();
    assert!(error.contains("`remote` is not a caching-type"), "{error}");
    let error = deploy(&url, "", &value_policy("internal", "soon")).unwrap_err();
    assert!(error.contains("`soon` is not a whole number"), "{error}");
    let missing = r#"<policies><inbound><cache-lookup-value key="k" /></inbound></policies>"#;
    let error = deploy(&url, "", missing).unwrap_err();
    assert!(error.contains("variable-name"), "{error}");
    let expression = r#"<policies><inbound><cache-lookup-value key="k" variable-name="@("v")" /></inbound></policies>"#;
    let error = deploy(&url, "", expression).unwrap_err();
    assert!(error.contains("expressions are not allowed"), "{error}");
    let error = deploy(&url, "[cache]\ntable = \"x\"\n", "<policies/>").unwrap_err();
    assert!(error.contains("cache.table"), "{error}");
}

async fn create_table(moto: &Moto) -> aws_sdk_dynamodb::Client {
    let config = certgate::source::s3::sdk_config(&client_options(moto.url()))
        .await
        .unwrap();
    let client = aws_sdk_dynamodb::Client::new(&config);
    client
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(KEY_ATTRIBUTE)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(KEY_ATTRIBUTE)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    client
}

#[tokio::test]
async fn external_cache_on_dynamodb_hits_misses_expires_and_removes() {
    let echo = EchoBackend::start().await;
    let moto = Moto::start();
    let table = create_table(&moto).await;
    let toml = format!("[cache]\ntable = \"{TABLE}\"\n");
    let d = deploy(&echo.url(), &toml, &value_policy("external", "30"))
        .unwrap()
        .with_cache_client(client_options(moto.url()));
    let t0 = OffsetDateTime::now_utc();

    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");
    assert_eq!(cached(&d, "PUT", "a", "blue", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "blue");
    assert_eq!(cached(&d, "GET", "b", "", t0).await, "none");

    // The item carries its expiry in the TTL attribute...
    let item = table
        .get_item()
        .table_name(TABLE)
        .key(KEY_ATTRIBUTE, AttributeValue::S("k-a".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires = (t0 + Duration::seconds(30)).unix_timestamp().to_string();
    assert_eq!(item[EXPIRES_ATTRIBUTE].as_n().unwrap(), &expires);
    // ...and a read after it is a miss while DynamoDB has not deleted the item yet.
    assert_eq!(cached(&d, "GET", "a", "", t0 + Duration::seconds(29)).await, "blue");
    assert_eq!(cached(&d, "GET", "a", "", t0 + Duration::seconds(30)).await, "none");

    // Another deployment (another instance) shares the table; `prefer-external` uses it.
    let other = deploy(&echo.url(), &toml, &value_policy("prefer-external", "30"))
        .unwrap()
        .with_cache_client(client_options(moto.url()));
    assert_eq!(cached(&other, "GET", "a", "", t0).await, "blue");
    assert_eq!(cached(&other, "DELETE", "a", "", t0).await, "blue");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");
}

#[tokio::test]
async fn a_cache_table_that_is_down_is_a_miss_and_the_request_is_still_proxied() {
    let echo = EchoBackend::start().await;
    let mut moto = Moto::start();
    create_table(&moto).await;
    let toml = format!("[cache]\ntable = \"{TABLE}\"\n");
    let d = deploy(&echo.url(), &toml, &value_policy("external", "30"))
        .unwrap()
        .with_cache_client(client_options(moto.url()));
    let t0 = OffsetDateTime::now_utc();
    assert_eq!(cached(&d, "PUT", "a", "blue", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "blue");

    moto.stop();
    // Lookup, store and removal all fail at the table: the request goes on with the
    // default value.
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");
    assert_eq!(cached(&d, "PUT", "a", "green", t0).await, "none");
    assert_eq!(cached(&d, "DELETE", "a", "", t0).await, "none");

    // A table that does not exist is the same.
    let moto = Moto::start();
    let d = deploy(&echo.url(), &toml, &value_policy("external", "30"))
        .unwrap()
        .with_cache_client(client_options(moto.url()));
    assert_eq!(cached(&d, "PUT", "a", "blue", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "none");
}
