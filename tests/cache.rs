//! The cache policies: `cache-lookup-value`, `cache-store-value` and `cache-remove-value`
//! on the internal cache (per instance) and on a DynamoDB table served by moto_server on
//! loopback (hit, miss, expiry read from the TTL attribute, a table that is down), and
//! `cache-lookup` / `cache-store` for whole responses, with a real echo backend that
//! counts the requests it gets. Expiry is shown with the request time `handle` is
//! given, never by waiting.

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use certgate::cache::{EXPIRES_ATTRIBUTE, KEY_ATTRIBUTE};
use certgate::files::SourceFile;
use certgate::gateway::{self, ClientCertificate, Decision, Deployment, GatewayRequest, Outcome};
use common::backend::EchoBackend;
use common::moto::{Moto, client_options};
use common::request::gateway_request;
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
    request_to(method, "/orders/42", headers)
}

fn request_to(method: &str, path: &str, headers: &[(&str, &str)]) -> GatewayRequest {
    gateway_request(
        method,
        &format!("https://api.contoso.com{path}"),
        headers,
        ClientCertificate::Absent,
    )
}

fn header<'o>(outcome: &'o Outcome, name: &str) -> &'o str {
    outcome
        .response
        .headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

/// What the backend saw as `x-cached` for a request at `now`.
async fn cached(
    d: &Deployment,
    method: &str,
    key: &str,
    value: &str,
    now: OffsetDateTime,
) -> String {
    let headers = [("x-key", key), ("x-value", value)];
    let outcome = gateway::handle(d, request(method, &headers), now, false).await;
    assert_eq!(
        outcome.decision,
        Decision::Proxied,
        "{:?}",
        outcome.response
    );
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
    assert_eq!(
        cached(&d, "GET", "a", "", t0 + Duration::seconds(59)).await,
        "blue"
    );
    assert_eq!(
        cached(&d, "GET", "a", "", t0 + Duration::seconds(60)).await,
        "none"
    );

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
    assert_eq!(
        cached(&d, "GET", "a", "", t0 + Duration::seconds(29)).await,
        "blue"
    );
    assert_eq!(
        cached(&d, "GET", "a", "", t0 + Duration::seconds(30)).await,
        "none"
    );

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

/// `cache-lookup` with `lookup` (attributes and children) in inbound, and outbound
/// headers before and after `cache-store` with `store` (attributes).
fn response_policy(lookup: &str, store: &str) -> String {
    format!(
        r#"<policies>
  <inbound>
    <cache-lookup vary-by-developer="false" vary-by-developer-groups="false" {lookup}</cache-lookup>
  </inbound>
  <backend><forward-request /></backend>
  <outbound>
    <set-header name="x-before-store" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("x-tag", "none"))</value></set-header>
    <cache-store duration="60" {store} />
    <set-header name="x-after-store" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("x-tag", "none"))</value></set-header>
  </outbound>
</policies>"#
    )
}

async fn get(d: &Deployment, path: &str, headers: &[(&str, &str)], now: OffsetDateTime) -> Outcome {
    gateway::handle(d, request_to("GET", path, headers), now, false).await
}

#[tokio::test]
async fn a_cached_response_is_answered_without_the_backend_until_it_expires() {
    let echo = EchoBackend::start().await;
    let d = deploy(
        &echo.url(),
        "",
        &response_policy(r#"caching-type="internal">"#, ""),
    )
    .unwrap();
    let t0 = OffsetDateTime::now_utc();

    let first = get(&d, "/orders/42", &[("x-tag", "first")], t0).await;
    assert_eq!(first.decision, Decision::Proxied);
    assert_eq!(echo.requests(), 1);
    let second = get(&d, "/orders/42", &[("x-tag", "second")], t0).await;
    assert_eq!(echo.requests(), 1, "the second GET reached the backend");
    assert_eq!(second.decision, Decision::Responded);
    assert_eq!(second.response.status, 200);
    assert_eq!(header(&second, "x-echo-uri"), header(&first, "x-echo-uri"));
    assert_eq!(header(&second, "x-echo-header-x-tag"), "first");
    // Outbound ran again from after cache-store only.
    assert_eq!(header(&second, "x-before-store"), "first");
    assert_eq!(header(&second, "x-after-store"), "second");

    // Another path is another entry; other methods are never cached.
    get(&d, "/orders/43", &[], t0).await;
    assert_eq!(echo.requests(), 2);
    for _ in 0..2 {
        let post = gateway::handle(&d, request("POST", &[]), t0, false).await;
        assert_eq!(post.decision, Decision::Proxied);
    }
    assert_eq!(echo.requests(), 4);

    // 60 s later the entry has expired: the backend answers and the entry is renewed.
    get(&d, "/orders/42", &[], t0 + Duration::seconds(60)).await;
    assert_eq!(echo.requests(), 5);
    get(&d, "/orders/42", &[], t0 + Duration::seconds(61)).await;
    assert_eq!(echo.requests(), 5);
}

#[tokio::test]
async fn vary_by_header_and_query_parameter_separate_entries() {
    let echo = EchoBackend::start().await;
    let lookup = r#"caching-type="internal">
      <vary-by-header>Accept</vary-by-header>
      <vary-by-query-parameter>version;format</vary-by-query-parameter>"#;
    let d = deploy(&echo.url(), "", &response_policy(lookup, "")).unwrap();
    let t0 = OffsetDateTime::now_utc();

    let json = get(&d, "/orders/42", &[("accept", "application/json")], t0).await;
    let xml = get(&d, "/orders/42", &[("accept", "application/xml")], t0).await;
    assert_eq!(echo.requests(), 2);
    let json_again = get(&d, "/orders/42", &[("accept", "application/json")], t0).await;
    let xml_again = get(&d, "/orders/42", &[("accept", "application/xml")], t0).await;
    assert_eq!(echo.requests(), 2);
    assert_eq!(
        header(&json_again, "x-echo-header-accept"),
        header(&json, "x-echo-header-accept")
    );
    assert_eq!(
        header(&xml_again, "x-echo-header-accept"),
        header(&xml, "x-echo-header-accept")
    );
    assert_eq!(
        header(&json_again, "x-echo-header-accept"),
        "application/json"
    );

    // The listed query parameters vary the entry; others do not.
    get(&d, "/orders/42?version=1", &[], t0).await;
    get(&d, "/orders/42?version=2", &[], t0).await;
    get(&d, "/orders/42?version=2&format=csv", &[], t0).await;
    assert_eq!(echo.requests(), 5);
    get(&d, "/orders/42?version=1&page=3", &[], t0).await;
    get(&d, "/orders/42?format=csv&version=2", &[], t0).await;
    assert_eq!(echo.requests(), 5);
}

#[tokio::test]
async fn private_requests_statuses_and_downstream_cache_control() {
    let echo = EchoBackend::start().await;
    let t0 = OffsetDateTime::now_utc();
    let d = deploy(
        &echo.url(),
        "",
        &response_policy(r#"downstream-caching-type="public">"#, ""),
    )
    .unwrap();

    // With Authorization and without allow-private-response-caching: never cached.
    for _ in 0..2 {
        get(&d, "/orders/1", &[("authorization", "Bearer a")], t0).await;
    }
    assert_eq!(echo.requests(), 2);

    let stored = get(&d, "/orders/2", &[], t0).await;
    assert_eq!(
        header(&stored, "cache-control"),
        "public, max-age=60, must-revalidate"
    );
    let hit = get(&d, "/orders/2", &[], t0 + Duration::seconds(20)).await;
    assert_eq!(echo.requests(), 3);
    assert_eq!(
        header(&hit, "cache-control"),
        "public, max-age=40, must-revalidate"
    );

    // Only 200 is stored, unless cache-response says otherwise.
    for _ in 0..2 {
        let redirect = get(&d, "/orders/redirect", &[], t0).await;
        assert_eq!(redirect.response.status, 302);
    }
    assert_eq!(echo.requests(), 5);
    let lookup = r#"allow-private-response-caching="@(true)" downstream-caching-type="private" must-revalidate="false">
      <vary-by-header>Authorization</vary-by-header>"#;
    let d = deploy(
        &echo.url(),
        "",
        &response_policy(lookup, r#"cache-response="true""#),
    )
    .unwrap();
    for _ in 0..2 {
        let redirect = get(&d, "/orders/redirect", &[("authorization", "Bearer a")], t0).await;
        assert_eq!(redirect.response.status, 302);
        assert_eq!(header(&redirect, "cache-control"), "private, max-age=60");
    }
    assert_eq!(echo.requests(), 6);
    get(&d, "/orders/redirect", &[("authorization", "Bearer b")], t0).await;
    assert_eq!(echo.requests(), 7);
}

#[tokio::test]
async fn response_caching_is_checked_at_load() {
    let echo = EchoBackend::start().await;
    let url = echo.url();
    let policy = response_policy(">", "").replace(
        r#"vary-by-developer="false""#,
        r#"vary-by-developer="true""#,
    );
    let error = deploy(&url, "", &policy).unwrap_err();
    assert!(error.contains("no APIM developer accounts"), "{error}");
    let error = deploy(
        &url,
        "",
        &response_policy(r#"caching-type="external">"#, ""),
    )
    .unwrap_err();
    assert!(error.contains("[cache]"), "{error}");
    let error = deploy(
        &url,
        "",
        &response_policy(r#"downstream-caching-type="shared">"#, ""),
    )
    .unwrap_err();
    assert!(
        error.contains("`shared` is not a downstream-caching-type"),
        "{error}"
    );
    let error = deploy(
        &url,
        "",
        &response_policy("><vary-by-developer>x</vary-by-developer>", ""),
    )
    .unwrap_err();
    assert!(
        error.contains("only <vary-by-header> and <vary-by-query-parameter>"),
        "{error}"
    );
    let misplaced = r#"<policies><inbound><cache-store duration="10" /></inbound></policies>"#;
    let error = deploy(&url, "", misplaced).unwrap_err();
    assert!(
        error.contains("<cache-store> is not allowed in <inbound>"),
        "{error}"
    );
    let misplaced = r#"<policies><outbound><cache-lookup vary-by-developer="false" vary-by-developer-groups="false" /></outbound></policies>"#;
    let error = deploy(&url, "", misplaced).unwrap_err();
    assert!(
        error.contains("<cache-lookup> is not allowed in <outbound>"),
        "{error}"
    );
}

#[tokio::test]
async fn responses_cached_in_dynamodb_are_shared_by_instances() {
    let echo = EchoBackend::start().await;
    let moto = Moto::start();
    create_table(&moto).await;
    let toml = format!("[cache]\ntable = \"{TABLE}\"\n");
    let policy = response_policy(">", "");
    let instance = || {
        deploy(&echo.url(), &toml, &policy)
            .unwrap()
            .with_cache_client(client_options(moto.url()))
    };
    let (a, b) = (instance(), instance());
    let t0 = OffsetDateTime::now_utc();
    let first = get(&a, "/orders/42", &[("x-tag", "a")], t0).await;
    assert_eq!(first.decision, Decision::Proxied);
    let second = get(&b, "/orders/42", &[("x-tag", "b")], t0).await;
    assert_eq!(echo.requests(), 1);
    assert_eq!(header(&second, "x-echo-header-x-tag"), "a");
    assert_eq!(header(&second, "x-after-store"), "b");
    get(&b, "/orders/42", &[], t0 + Duration::seconds(60)).await;
    assert_eq!(echo.requests(), 2);
}

#[tokio::test]
async fn the_internal_cache_keeps_to_its_bounds() {
    let echo = EchoBackend::start().await;
    let toml = "[cache]\nmax_entries = 2\nmax_bytes = 400\n";
    let d = deploy(&echo.url(), toml, &value_policy("internal", "60")).unwrap();
    let t0 = OffsetDateTime::now_utc();
    // A value larger than the whole cache is not kept; the request still goes on.
    let big = "x".repeat(500);
    assert_eq!(cached(&d, "PUT", "big", &big, t0).await, "none");
    assert_eq!(cached(&d, "GET", "big", "", t0).await, "none");
    // Three entries in a cache of two: the least recently used goes.
    for key in ["a", "b"] {
        cached(&d, "PUT", key, key, t0).await;
    }
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "a");
    cached(&d, "PUT", "c", "c", t0).await;
    assert_eq!(cached(&d, "GET", "b", "", t0).await, "none");
    assert_eq!(cached(&d, "GET", "a", "", t0).await, "a");
    assert_eq!(cached(&d, "GET", "c", "", t0).await, "c");
}
