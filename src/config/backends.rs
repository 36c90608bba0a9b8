//! `[[backends]]`: APIM's backend entities. A policy names one with
//! `<set-backend-service backend-id="..."/>`; the request then goes to its URL, over a
//! client with its TLS settings, with its credentials added.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::{ConfigError, invalid, parse_backend};

/// One `[[backends]]` entry, validated. Credential values are as written: `{{name}}` in
/// them is replaced when the deployment loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendEntity {
    pub id: String,
    pub url: http::Uri,
    /// An uploaded certificate (`certificates/<id>.pem` with its `.key`) presented to
    /// the backend.
    pub client_certificate: Option<String>,
    /// Check the backend's certificate chain against the trusted roots.
    pub validate_certificate_chain: bool,
    /// Check that the backend's certificate is for the URL's host.
    pub validate_certificate_name: bool,
    pub credentials: Credentials,
}

/// `[backends.credentials]`: what is added to every request sent to the backend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Header name → value(s), lower case names.
    #[serde(default, deserialize_with = "one_or_many")]
    pub header: BTreeMap<String, Vec<String>>,
    /// Query parameter name → value(s).
    #[serde(default, deserialize_with = "one_or_many")]
    pub query: BTreeMap<String, Vec<String>>,
    /// `Authorization: <scheme> <parameter>`.
    pub authorization: Option<Authorization>,
}

/// `authorization = { scheme = "Bearer", parameter = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    pub scheme: String,
    pub parameter: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackend {
    id: String,
    url: String,
    client_certificate: Option<String>,
    #[serde(default = "super::yes")]
    validate_certificate_chain: bool,
    #[serde(default = "super::yes")]
    validate_certificate_name: bool,
    #[serde(default)]
    credentials: Credentials,
}

/// APIM writes each credential as a list of values; one value may stand alone here.
fn one_or_many<'de, D>(deserializer: D) -> Result<BTreeMap<String, Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let raw = BTreeMap::<String, OneOrMany>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(name, values)| match values {
            OneOrMany::One(value) => (name, vec![value]),
            OneOrMany::Many(values) => (name, values),
        })
        .collect())
}

pub(super) fn validate(raw: Vec<RawBackend>) -> Result<Vec<BackendEntity>, ConfigError> {
    let mut ids = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, b)| {
            let key = format!("backends[{i}]");
            let id_ok = !b.id.is_empty()
                && b.id.len() <= 80
                && b.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !id_ok {
                return Err(invalid(
                    format!("{key}.id"),
                    format!(
                        "`{}` is not a backend id: use 1 to 80 letters, digits, `-`, `_` or `.`",
                        b.id
                    ),
                ));
            }
            if !ids.insert(b.id.clone()) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("`{}` is the id of another backend too", b.id),
                ));
            }
            let url = parse_backend(&b.url).ok_or_else(|| {
                invalid(
                    format!("{key}.url"),
                    format!(
                        "`{}` is not an absolute http:// or https:// URL without a query",
                        b.url
                    ),
                )
            })?;
            let mut credentials = b.credentials;
            credentials.header = credentials
                .header
                .into_iter()
                .map(|(name, values)| {
                    let lower = name.to_ascii_lowercase();
                    match http::HeaderName::from_bytes(lower.as_bytes()) {
                        Ok(_) if lower != "host" => Ok((lower, values)),
                        _ => Err(invalid(
                            format!("{key}.credentials.header.\"{name}\""),
                            "not a header name a backend credential can set",
                        )),
                    }
                })
                .collect::<Result<_, _>>()?;
            if let Some(name) = credentials.query.keys().find(|name| name.is_empty()) {
                return Err(invalid(
                    format!("{key}.credentials.query.\"{name}\""),
                    "a query parameter needs a name",
                ));
            }
            if let Some(auth) = &credentials.authorization
                && (auth.scheme.is_empty()
                    || !auth
                        .scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                return Err(invalid(
                    format!("{key}.credentials.authorization.scheme"),
                    format!(
                        "`{}` is not an authorization scheme; write e.g. `Bearer` or `Basic`",
                        auth.scheme
                    ),
                ));
            }
            Ok(BackendEntity {
                id: b.id,
                url,
                client_certificate: b.client_certificate,
                validate_certificate_chain: b.validate_certificate_chain,
                validate_certificate_name: b.validate_certificate_name,
                credentials,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::GatewayConfig;

    #[test]
    fn backends_parse_with_defaults_and_credentials() {
        let config = GatewayConfig::parse(
            r#"
[[backends]]
id = "orders"
url = "https://orders.internal/api"
client_certificate = "orders-client"
validate_certificate_name = false

[backends.credentials]
header = { "X-Api-Key" = "{{key}}", "x-tenant" = ["a", "b"] }
query = { code = "{{code}}" }
authorization = { scheme = "Bearer", parameter = "{{token}}" }

[[backends]]
id = "plain"
url = "http://127.0.0.1:8080"
"#,
        )
        .unwrap();
        let [orders, plain] = &config.backends[..] else {
            panic!("{:?}", config.backends);
        };
        assert_eq!(orders.url.to_string(), "https://orders.internal/api");
        assert_eq!(orders.client_certificate.as_deref(), Some("orders-client"));
        assert!(orders.validate_certificate_chain && !orders.validate_certificate_name);
        assert_eq!(orders.credentials.header["x-api-key"], ["{{key}}"]);
        assert_eq!(orders.credentials.header["x-tenant"], ["a", "b"]);
        assert_eq!(orders.credentials.query["code"], ["{{code}}"]);
        assert_eq!(
            orders.credentials.authorization.as_ref().unwrap().scheme,
            "Bearer"
        );
        assert!(plain.validate_certificate_chain && plain.validate_certificate_name);
        assert_eq!(plain.credentials, Default::default());
    }

    #[test]
    fn bad_backends_name_the_key() {
        for (text, says) in [
            (
                "[[backends]]\nid = \"a b\"\nurl = \"http://x\"",
                "backends[0].id",
            ),
            (
                "[[backends]]\nid = \"a\"\nurl = \"http://x\"\n[[backends]]\nid = \"a\"\nurl = \"http://y\"",
                "backends[1].id",
            ),
            (
                "[[backends]]\nid = \"a\"\nurl = \"ftp://x\"",
                "backends[0].url",
            ),
            (
                "[[backends]]\nid = \"a\"\nurl = \"http://x\"\n[backends.credentials]\nheader = { \"a b\" = \"1\" }",
                "backends[0].credentials.header",
            ),
            (
                "[[backends]]\nid = \"a\"\nurl = \"http://x\"\n[backends.credentials]\nauthorization = { scheme = \"Bad scheme\", parameter = \"x\" }",
                "authorization.scheme",
            ),
            (
                "[[backends]]\nid = \"a\"\nurl = \"http://x\"\nprotocol = \"http\"",
                "unknown field",
            ),
        ] {
            let error = GatewayConfig::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
