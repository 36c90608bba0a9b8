//! Named values kept in AWS Secrets Manager and SSM Parameter Store (APIM's Key Vault
//! named values), read when a deployment loads and again at each refresh.
//!
//! The values are never logged nor put in an error: errors name the named value and the
//! ARN only. The AWS settings are the S3 client's ([`sdk_config`]: the standard
//! environment, rustls with the web roots and `AWS_CA_BUNDLE`), made on first use, so a
//! deployment without secrets costs nothing; each secret is asked for in its ARN's region.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};

use super::s3::{ClientOptions, S3Error, sdk_config};
use crate::config::{Arn, GatewayConfig, SecretRef};
use crate::files::SourceFile;

/// Why a secret named value could not be read. Never holds a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("named value `{name}`: cannot read {arn}: {reason}")]
    Read {
        name: String,
        arn: String,
        reason: String,
    },
    #[error(
        "named value `{name}`: {arn} holds no text (a binary secret, or no value); certgate reads SecretString and parameter values"
    )]
    NotText { name: String, arn: String },
    #[error("named values: {0}")]
    Client(#[from] S3Error),
}

/// The text of secret named values, by name. Its `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(BTreeMap<String, String>);

impl SecretValues {
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

impl From<BTreeMap<String, String>> for SecretValues {
    fn from(values: BTreeMap<String, String>) -> Self {
        Self(values)
    }
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Reads secret named values with the AWS SDK.
#[derive(Debug, Default)]
pub struct SecretReader {
    options: ClientOptions,
    config: tokio::sync::OnceCell<aws_config::SdkConfig>,
}

impl SecretReader {
    /// A reader with the S3 client's `options` (endpoint, credentials, timeouts).
    pub fn new(options: ClientOptions) -> Self {
        Self {
            options,
            config: tokio::sync::OnceCell::new(),
        }
    }

    /// The current value of each of `refs`, by name; nothing is asked when `refs` is empty.
    ///
    /// # Errors
    /// The first secret that cannot be read, naming it and its ARN.
    pub async fn read(
        &self,
        refs: &BTreeMap<String, SecretRef>,
    ) -> Result<SecretValues, SecretError> {
        let mut values = BTreeMap::new();
        for (name, secret) in refs {
            let value = self.read_one(name, secret).await?;
            values.insert(name.clone(), value);
        }
        Ok(SecretValues(values))
    }

    async fn read_one(&self, name: &str, secret: &SecretRef) -> Result<String, SecretError> {
        let config = self
            .config
            .get_or_try_init(|| sdk_config(&self.options))
            .await?;
        let arn = secret.arn();
        let read_error = |reason: String| SecretError::Read {
            name: name.to_owned(),
            arn: arn.to_string(),
            reason,
        };
        let text = match secret {
            SecretRef::SecretsManager(arn) => {
                let conf = aws_sdk_secretsmanager::config::Builder::from(config)
                    .region(region(arn))
                    .build();
                aws_sdk_secretsmanager::Client::from_conf(conf)
                    .get_secret_value()
                    .secret_id(arn.as_str())
                    .send()
                    .await
                    .map_err(|e| read_error(reason(&e)))?
                    .secret_string
            }
            SecretRef::Parameter(arn) => {
                let conf = aws_sdk_ssm::config::Builder::from(config)
                    .region(region(arn))
                    .build();
                aws_sdk_ssm::Client::from_conf(conf)
                    .get_parameter()
                    .name(arn.as_str())
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| read_error(reason(&e)))?
                    .parameter
                    .and_then(|p| p.value)
            }
        };
        text.ok_or_else(|| SecretError::NotText {
            name: name.to_owned(),
            arn: arn.to_string(),
        })
    }
}

/// The secret named values the `gateway.toml` among `files` declares; none when there
/// is none or it does not parse (the load reports that).
pub fn secret_refs(files: &[SourceFile]) -> BTreeMap<String, SecretRef> {
    files
        .iter()
        .find(|f| f.path == "gateway.toml")
        .and_then(|f| GatewayConfig::parse(&String::from_utf8_lossy(&f.bytes)).ok())
        .map(|config| config.secret_values)
        .unwrap_or_default()
}

fn region(arn: &Arn) -> aws_config::Region {
    aws_config::Region::new(arn.region().to_owned())
}

/// The service's error code and message (`ResourceNotFoundException: ...`,
/// `AccessDeniedException: ...`), or the SDK's account of a failure without one.
fn reason<E, R>(error: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(error).to_string(),
    }
}
