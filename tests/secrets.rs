//! Named values kept in AWS Secrets Manager and SSM Parameter Store, against a real API
//! (`moto_server` on loopback, see `common/moto.rs`): read at load, sent to a loopback
//! backend that echoes what it received, re-read at refresh (a rotated secret), kept
//! out of errors and `--explain`, stood in for offline with `--named-value`.

mod common;
#[path = "common/s3_cli.rs"]
mod s3_cli;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use certgate::files::SourceFile;
use certgate::gateway::{self, Build, ClientCertificate, Deployment, GatewayRequest};
use certgate::source::origin::LocalFolder;
use certgate::source::refresh::{Refreshed, Refresher};
use certgate::source::secrets::SecretReader;
use common::backend::EchoBackend;
use common::moto::{Moto, client_options, sdk_config};
use common::request::gateway_request;
use s3_cli::write_folder;

/// Characters XML gives meaning to, and a C# char quote: the value must arrive byte for
/// byte. (Replaced textually as APIM does, an entity such as `&amp;` in a value would
/// be read as its character, and a `"` would end the verbatim string.)
const XML_SPECIAL: &str = "p&ss<w0rd>'&x";
const TOKEN: &str = "ssm-token-1";

/// A secret holding `value`; its ARN (moto adds the random suffix AWS adds).
async fn create_secret(config: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create the secret")
        .arn
        .expect("an ARN")
}

async fn rotate_secret(config: &aws_config::SdkConfig, arn: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(config)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .expect("rotate the secret");
}

/// A SecureString parameter (encrypted with the account's default SSM key); its ARN.
async fn create_parameter(config: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    aws_sdk_ssm::Client::new(config)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("create the parameter");
    format!("arn:aws:ssm:us-east-1:123456789012:parameter{name}")
}

/// A deployment whose API sends `{{key}}` and `{{token}}` to `backend` as headers: the
/// secret inside a verbatim C# string (where `<`, `>` and `&` are text), the parameter as
/// plain element text.
fn deployment(backend: &str, key: &str, token: &str) -> Vec<SourceFile> {
    let config = format!(
        r#"
[[apis]]
name = "orders"
path = "/orders"
backend = "{backend}"
policy = "policies/orders.xml"

[named_values]
key = {{ secret = "{key}" }}
token = {{ parameter = "{token}" }}
plain = "x-plain"
"#
    );
    let policy = r#"<policies>
    <inbound>
        <set-header name="x-api-key" exists-action="override"><value>@(@"{{key}}")</value></set-header>
        <set-header name="x-token" exists-action="override"><value>{{token}}</value></set-header>
        <set-header name="{{plain}}" exists-action="override"><value>1</value></set-header>
        <set-query-parameter name="k" exists-action="override"><value>@(@"{{key}}")</value></set-query-parameter>
    </inbound>
    <backend><forward-request /></backend>
</policies>"#;
    vec![
        SourceFile::new("gateway.toml", config),
        SourceFile::new("policies/orders.xml", policy),
    ]
}

fn request() -> GatewayRequest {
    gateway_request(
        "GET",
        "https://api.contoso.com/orders/1",
        &[],
        ClientCertificate::Absent,
    )
}

/// What the backend received in `name`, as it echoes it.
async fn received(deployment: &Deployment, name: &str) -> String {
    let outcome = gateway::handle(
        deployment,
        request(),
        time::OffsetDateTime::now_utc(),
        false,
    )
    .await;
    assert_eq!(outcome.response.status, 200, "{outcome:?}");
    outcome
        .response
        .headers
        .get(format!("x-echo-header-{name}"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("the backend got no {name}: {:?}", outcome.response.headers))
        .to_owned()
}

fn refresher(dir: &Path, moto: &Moto) -> Arc<Refresher<LocalFolder, Deployment, Build>> {
    Arc::new(Refresher::with_secrets(
        LocalFolder::new(dir),
        Deployment::from_files as Build,
        SecretReader::new(client_options(moto.url())),
    ))
}

/// moto with the secret `orders/api-key` and the SecureString `/certgate/token`, and
/// the echo backend a deployment of them sends to.
struct Aws {
    moto: Moto,
    aws: aws_config::SdkConfig,
    /// ARNs of the secret and the parameter.
    key: String,
    token: String,
    echo: EchoBackend,
}

impl Aws {
    async fn start() -> Self {
        let moto = Moto::start();
        let aws = sdk_config(moto.url()).await;
        let key = create_secret(&aws, "orders/api-key", XML_SPECIAL).await;
        let token = create_parameter(&aws, "/certgate/token", TOKEN).await;
        let echo = EchoBackend::start().await;
        Self {
            moto,
            aws,
            key,
            token,
            echo,
        }
    }
}

#[tokio::test]
async fn secrets_and_secure_parameters_are_read_at_load_and_a_rotated_secret_at_refresh() {
    let Aws {
        moto,
        aws,
        key,
        token,
        echo,
    } = Aws::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &deployment(&echo.url(), &key, &token));

    let refresher = refresher(dir.path(), &moto);
    let loaded = refresher
        .load_initial()
        .await
        .expect("the deployment loads");
    assert_eq!(received(&loaded.value, "x-api-key").await, XML_SPECIAL);
    // Decrypted: without WithDecryption moto answers the KMS-encrypted form.
    assert_eq!(received(&loaded.value, "x-token").await, TOKEN);
    assert_eq!(received(&loaded.value, "x-plain").await, "1");
    let version = loaded.version.clone();

    // Nothing changed: nothing is rebuilt.
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(refresher.snapshot().status().builds, 1);

    // Same files, a new secret value: the refresh rebuilds from the kept files.
    rotate_secret(&aws, &key, "rotated<&>").await;
    assert_eq!(
        refresher.refresh().await,
        Ok(Refreshed::Updated {
            version: version.clone()
        })
    );
    let current = refresher.snapshot().current().unwrap();
    assert_eq!(received(&current.value, "x-api-key").await, "rotated<&>");
    assert_eq!(received(&current.value, "x-token").await, TOKEN);
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_fails_the_load_and_a_refresh_keeps_the_last_good() {
    let Aws {
        moto,
        aws,
        key,
        token,
        echo,
    } = Aws::start().await;

    // A parameter that does not exist: no deployment, and the error says which.
    let missing = "arn:aws:ssm:us-east-1:123456789012:parameter/certgate/missing";
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &deployment(&echo.url(), &key, missing));
    let error = refresher(dir.path(), &moto)
        .load_initial()
        .await
        .expect_err("a missing parameter fails the load")
        .to_string();
    assert!(
        error.contains("named value `token`") && error.contains(missing),
        "{error}"
    );
    assert!(error.contains("ParameterNotFound"), "{error}");

    // Loaded once, then the secret goes: the refresh fails and the last good stays.
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &deployment(&echo.url(), &key, &token));
    let refresher = refresher(dir.path(), &moto);
    let loaded = refresher
        .load_initial()
        .await
        .expect("the deployment loads");
    aws_sdk_secretsmanager::Client::new(&aws)
        .delete_secret()
        .secret_id(&key)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let error = refresher.refresh().await.expect_err("the secret is gone");
    let message = error.to_string();
    assert!(
        message.contains("named value `key`") && message.contains(&key),
        "{message}"
    );
    assert!(!message.contains(XML_SPECIAL), "{message}");
    let current = refresher.snapshot().current().unwrap();
    assert!(Arc::ptr_eq(&current, &loaded));
    assert_eq!(refresher.snapshot().last_error(), Some(error));
    assert_eq!(received(&current.value, "x-api-key").await, XML_SPECIAL);
}

#[test]
fn a_secret_value_never_appears_in_a_load_error_nor_a_missing_one_in_a_plain_load() {
    let config = r#"
[[apis]]
name = "orders"
path = "/orders"
backend = "http://127.0.0.1:9"
policy = "policies/orders.xml"

[named_values]
code = { secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:code-AbCdEf" }
"#;
    // The secret is expression code that does not compile.
    let policy = r#"<policies>
    <inbound><set-header name="x" exists-action="override"><value>@({{code}})</value></set-header></inbound>
    <backend><forward-request /></backend>
</policies>"#;
    let files = [
        SourceFile::new("gateway.toml", config),
        SourceFile::new("policies/orders.xml", policy),
    ];
    let now = time::OffsetDateTime::now_utc();
    let secret = "hunter2sekrit";
    let values = BTreeMap::from([("code".to_owned(), secret.to_owned())]);
    let error = Deployment::load_with_named_values(&files, "v", now, values)
        .expect_err("unknown name")
        .render();
    assert!(error.contains("policies/orders.xml:2:"), "{error}");
    assert!(!error.contains(secret), "{error}");

    let error = Deployment::load(&files, "v", now)
        .expect_err("the secret was not read")
        .to_string();
    assert!(
        error.contains("`code`")
            && error.contains("arn:aws:secretsmanager:eu-west-1:123456789012:secret:code-AbCdEf")
            && error.contains("--named-value code="),
        "{error}"
    );
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    let mut command = s3_cli::certgate(endpoint, args);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command.output().expect("run certgate")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_invoke_read_secrets_or_take_named_values_and_never_print_them() {
    let Aws {
        moto,
        key,
        token,
        echo,
        ..
    } = Aws::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &deployment(&echo.url(), &key, &token));
    let config = dir.path().to_str().unwrap();
    let encoded = "p%26ss%3Cw0rd%3E%27%26x";

    let out = run(&moto.url(), &["check", "--config", config]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("ok: 1 API(s)"), "{}", text(&out));

    let event = "events/http-api/no-certificate.json";
    let out = run(
        &moto.url(),
        &["invoke", "--config", config, "--explain", event],
    );
    assert!(out.status.success(), "{}", text(&out));
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The backend got the values (and echoes them: that is the response, not certgate's).
    assert_eq!(
        response["headers"]["x-echo-header-x-api-key"], XML_SPECIAL,
        "{response}"
    );
    assert_eq!(
        response["headers"]["x-echo-header-x-token"], TOKEN,
        "{response}"
    );
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(trace.contains("?k={{key}}"), "{trace}");
    assert!(
        !trace.contains(XML_SPECIAL) && !trace.contains(encoded),
        "{trace}"
    );

    // Offline: --named-value stands in for every secret, none is read.
    let closed = "http://127.0.0.1:9";
    let out = run(
        closed,
        &[
            "check",
            "--config",
            config,
            "--named-value",
            "key=a",
            "--named-value",
            "token=b",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // Without them, the one not given is read, and cannot be.
    let out = run(
        closed,
        &["check", "--config", config, "--named-value", "key=a"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("named value `token`") && text(&out).contains(&token),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_push_checks_that_every_named_value_is_defined_without_reading_secrets() {
    let moto = Moto::start();
    let s3 = certgate::source::s3::s3_client(&client_options(moto.url()))
        .await
        .unwrap();
    s3.create_bucket().bucket("trust").send().await.unwrap();
    // Neither exists: push does not read them (who pushes may not be allowed to).
    let key = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf";
    let token = "arn:aws:ssm:us-east-1:123456789012:parameter/nowhere";
    let mut files = deployment("http://127.0.0.1:9", key, token);
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &files);
    let folder = dir.path().to_str().unwrap();
    let out = run(&moto.url(), &["trust", "push", folder, "s3://trust/prod"]);
    assert!(out.status.success(), "{}", text(&out));

    files[1] = SourceFile::new(
        "policies/orders.xml",
        "<policies>\n<inbound><set-header name=\"x\"><value>{{undefined}}</value></set-header></inbound>\n</policies>",
    );
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &files);
    let folder = dir.path().to_str().unwrap();
    let out = run(&moto.url(), &["trust", "push", folder, "s3://trust/prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("policies/orders.xml:2:")
            && text(&out).contains("`{{undefined}}` is not defined"),
        "{}",
        text(&out)
    );
}
