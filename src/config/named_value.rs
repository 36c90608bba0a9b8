//! `[named_values]` entries: plain text, or a reference to an AWS secret (APIM's Key
//! Vault named values) that the deployment loader reads at load and at each refresh.

use std::collections::BTreeMap;
use std::fmt;

use super::{ConfigError, invalid, is_named_value_name};

/// Where a secret named value is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretRef {
    /// `{ secret = "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME" }`: the secret's
    /// current `SecretString`.
    SecretsManager(Arn),
    /// `{ parameter = "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME" }`: the parameter's
    /// value, a SecureString decrypted.
    Parameter(Arn),
}

impl SecretRef {
    pub fn arn(&self) -> &Arn {
        match self {
            Self::SecretsManager(arn) | Self::Parameter(arn) => arn,
        }
    }
}

/// A checked ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`. Shown in messages (an
/// ARN names a secret, it is not one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arn {
    text: String,
    region_end: usize,
}

impl Arn {
    /// `text` when it is an ARN of `service` whose resource starts with `resource`
    /// (`secret:` or `parameter/`) and names something after it.
    fn parse(text: &str, service: &str, resource: &str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        let (arn, partition, svc, region, account, rest) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let region_ok = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let ok = arn == "arn"
            && partition.starts_with("aws")
            && svc == service
            && region_ok
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && rest
                .strip_prefix(resource)
                .is_some_and(|name| !name.is_empty())
            && text.len() <= 2048
            && !text.chars().any(char::is_whitespace);
        let region_end = arn.len() + partition.len() + svc.len() + region.len() + 3;
        ok.then(|| Self {
            text: text.to_owned(),
            region_end,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The region the secret is kept in, where the SDK client must ask for it.
    pub fn region(&self) -> &str {
        let start = self.text[..self.region_end].rfind(':').map_or(0, |i| i + 1);
        &self.text[start..self.region_end]
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `[named_values]` split into plain text values and secret references.
pub(super) type NamedValues = (BTreeMap<String, String>, BTreeMap<String, SecretRef>);

const SECRET_FORM: &str = "`{ secret = \"arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME\" }`";
const PARAMETER_FORM: &str = "`{ parameter = \"arn:aws:ssm:REGION:ACCOUNT:parameter/NAME\" }`";

pub(super) fn validate(raw: BTreeMap<String, toml::Value>) -> Result<NamedValues, ConfigError> {
    let mut texts = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (name, value) in raw {
        let key = format!("named_values.\"{name}\"");
        if !is_named_value_name(&name) {
            return Err(invalid(
                key,
                "a named value's name is 1 to 256 letters, digits, `.`, `-` or `_`",
            ));
        }
        match value {
            toml::Value::String(text) => {
                texts.insert(name, text);
            }
            toml::Value::Table(table) => {
                let secret = secret_ref(&key, &table)?;
                secrets.insert(name, secret);
            }
            other => {
                return Err(invalid(
                    key,
                    format!(
                        "expected text (`name = \"text\"`), {SECRET_FORM} or {PARAMETER_FORM}, found a {}",
                        other.type_str()
                    ),
                ));
            }
        }
    }
    Ok((texts, secrets))
}

fn secret_ref(key: &str, table: &toml::Table) -> Result<SecretRef, ConfigError> {
    let mut entries = table.iter();
    let (Some((kind, value)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(
            key,
            format!("write one of {SECRET_FORM} or {PARAMETER_FORM}"),
        ));
    };
    let text = value.as_str().unwrap_or_default();
    match kind.as_str() {
        "secret" => Arn::parse(text, "secretsmanager", "secret:")
            .map(SecretRef::SecretsManager)
            .ok_or_else(|| {
                invalid(
                    format!("{key}.secret"),
                    format!("`{text}` is not a Secrets Manager secret ARN; write {SECRET_FORM}"),
                )
            }),
        "parameter" => Arn::parse(text, "ssm", "parameter/")
            .map(SecretRef::Parameter)
            .ok_or_else(|| {
                invalid(
                    format!("{key}.parameter"),
                    format!("`{text}` is not an SSM parameter ARN; write {PARAMETER_FORM}"),
                )
            }),
        other => Err(invalid(
            format!("{key}.{other}"),
            format!(
                "unknown key `{other}` (Key Vault's `secretIdentifier` is not read); write {SECRET_FORM} or {PARAMETER_FORM}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<NamedValues, ConfigError> {
        let table: BTreeMap<String, toml::Value> = toml::from_str(toml_text).unwrap();
        validate(table)
    }

    #[test]
    fn texts_secrets_and_parameters_are_told_apart() {
        let (texts, secrets) = parse(
            r#"
host = "orders.internal"
key = { secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/key-AbCdEf" }
token = { parameter = "arn:aws:ssm:us-east-2:123456789012:parameter/certgate/token" }
"#,
        )
        .unwrap();
        assert_eq!(texts["host"], "orders.internal");
        let SecretRef::SecretsManager(key) = &secrets["key"] else {
            panic!("{:?}", secrets["key"]);
        };
        assert_eq!(key.region(), "eu-west-1");
        let SecretRef::Parameter(token) = &secrets["token"] else {
            panic!("{:?}", secrets["token"]);
        };
        assert_eq!(token.region(), "us-east-2");
        assert_eq!(
            token.as_str(),
            "arn:aws:ssm:us-east-2:123456789012:parameter/certgate/token"
        );
    }

    #[test]
    fn malformed_references_name_the_key_and_the_form() {
        for (text, key, says) in [
            (
                r#"k = { secret = "orders/key" }"#,
                "\"k\".secret",
                "not a Secrets Manager",
            ),
            (
                r#"k = { secret = "arn:aws:ssm:eu-west-1:123456789012:parameter/x" }"#,
                "\"k\".secret",
                "not a Secrets Manager",
            ),
            (
                r#"k = { parameter = "arn:aws:ssm:eu-west-1:12345:parameter/x" }"#,
                "\"k\".parameter",
                "not an SSM parameter",
            ),
            (
                r#"k = { secretIdentifier = "https://v.vault.azure.net/secrets/x" }"#,
                "\"k\".secretIdentifier",
                "secretIdentifier",
            ),
            (
                r#"k = { secret = "a", parameter = "b" }"#,
                "\"k\"",
                "one of",
            ),
            ("k = 3", "\"k\"", "found a integer"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(
                error.contains(key) && error.contains(says),
                "{text}: {error}"
            );
        }
    }
}
