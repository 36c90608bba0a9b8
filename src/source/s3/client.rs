//! The S3 client: aws-config from the environment, rustls with ring and the webpki roots,
//! path-style addressing for endpoint overrides.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::Client;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use super::S3Error;
use super::http::WebpkiClient;

/// Environment variables that override the S3 endpoint (aws-config reads them).
const ENDPOINT_VARS: [&str; 2] = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"];

/// Settings of the S3 client on top of the standard AWS environment.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Endpoint override (an S3-compatible server); path-style addressing is used with it.
    pub endpoint_url: Option<String>,
    /// Region; by default from the environment (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// Static access key id and secret; by default the standard credential chain.
    pub credentials: Option<(String, String)>,
    /// Attempts per request (first try included); by default 3.
    pub max_attempts: Option<u32>,
    /// Bound on one request, retries included; by default 90 s. Lambda's init phase lasts
    /// at most 10 s: a cold-start load there wants a few seconds.
    pub timeout: Option<Duration>,
    /// PEM file of CA certificates to trust besides the public web roots, for an
    /// S3-compatible endpoint with a private CA; by default `AWS_CA_BUNDLE`, as in the AWS
    /// CLI and the other SDKs.
    pub ca_bundle: Option<PathBuf>,
}

/// Builds an S3 client from the environment (aws-config: `AWS_REGION`, credentials chain,
/// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`) with `options` laid on top. Path-style
/// addressing is forced whenever an endpoint override is set, because S3-compatible servers
/// on `localhost` have no per-bucket host names. HTTP is hyper over rustls with the public
/// web roots compiled in, plus `AWS_CA_BUNDLE`.
///
/// # Errors
/// [`S3Error::CaBundle`]: the CA bundle cannot be read or holds no usable CA certificate.
pub async fn s3_client(options: &ClientOptions) -> Result<Client, S3Error> {
    let sdk_config = sdk_config(options).await?;
    let path_style = options.endpoint_url.is_some() || endpoint_override_in_env();
    let config = aws_sdk_s3::config::Builder::from(&sdk_config)
        .force_path_style(path_style)
        .build();
    Ok(Client::from_conf(config))
}

/// The AWS settings every certgate client shares (S3; Secrets Manager and SSM for named
/// values; DynamoDB for the external cache): the environment with `options` laid on top,
/// and the HTTP client, timeouts and retries of [`s3_client`].
///
/// # Errors
/// [`S3Error::CaBundle`]: the CA bundle cannot be read or holds no usable CA certificate.
pub async fn sdk_config(options: &ClientOptions) -> Result<aws_config::SdkConfig, S3Error> {
    let ca_bundle = options.ca_bundle.clone().or_else(|| {
        std::env::var_os("AWS_CA_BUNDLE")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
    });
    let extra_roots = match &ca_bundle {
        Some(path) => read_ca_bundle(path)?,
        None => Vec::new(),
    };
    let http = WebpkiClient::new(extra_roots).map_err(|error| S3Error::CaBundle {
        path: ca_bundle.unwrap_or_default().display().to_string(),
        reason: error.to_string(),
    })?;
    let http_client = aws_sdk_s3::config::SharedHttpClient::new(http);
    let operation = options.timeout.unwrap_or(Duration::from_secs(90));
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(operation.min(Duration::from_secs(5)))
        .operation_attempt_timeout(operation.min(Duration::from_secs(30)))
        .operation_timeout(operation)
        .build();
    let retries = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(options.max_attempts.unwrap_or(3).max(1));
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(retries);
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some((id, secret)) = &options.credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            id.clone(),
            secret.clone(),
            None,
            None,
            "certgate-static",
        ));
    } else if credentials_in_env() {
        // What the default chain would pick first anyway (Lambda sets these), without
        // building the rest of the chain: its STS client costs milliseconds of cold start.
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    Ok(loader.load().await)
}

fn read_ca_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, S3Error> {
    let error = |reason: String| S3Error::CaBundle {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error(
            "no `-----BEGIN CERTIFICATE-----` block found".to_owned(),
        ));
    }
    Ok(certs)
}

fn credentials_in_env() -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|var| std::env::var(var).is_ok_and(|value| !value.is_empty()))
}

fn endpoint_override_in_env() -> bool {
    let ignored = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|value| value.eq_ignore_ascii_case("true"));
    !ignored
        && ENDPOINT_VARS
            .iter()
            .any(|var| std::env::var(var).is_ok_and(|value| !value.is_empty()))
}
