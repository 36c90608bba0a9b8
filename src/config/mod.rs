//! `gateway.toml`: hostnames, APIs and deployment settings.
//!
//! Parsed raw with serde (unknown keys are errors, so a typo never silently turns a
//! setting off), then validated into [`GatewayConfig`], whose invariants the rest of the
//! gateway relies on: API paths are normalised prefixes, backends are absolute http(s)
//! URLs, names are unique, URL templates are well formed.

mod backends;
mod cache;
mod named_value;
mod template;

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

pub use backends::{Authorization, BackendEntity, Credentials};
pub use cache::CacheSettings;
pub use named_value::{Arn, SecretRef};
pub use template::{TemplateError, UrlTemplate};

/// Why `gateway.toml` was rejected. Messages name the key and say what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// TOML syntax, a wrong type, a missing or unknown key.
    #[error("gateway.toml:{line}:{column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A value that parses but cannot work.
    #[error("gateway.toml: {key}: {message}")]
    Invalid { key: String, message: String },
}

/// Where the deployment believes a client certificate comes from in Lambda events.
///
/// Exactly one source is trusted; a certificate arriving any other way is ignored
/// (the policy sees null), counted and logged, because a header a client can set is not
/// evidence of a TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CertificateSource {
    /// `requestContext.identity.clientCert` (REST) or
    /// `requestContext.authentication.clientCert` (HTTP API).
    #[default]
    Apigateway,
    /// ALB mTLS headers `X-Amzn-Mtls-Clientcert` (passthrough) or `-Leaf` (verify).
    Alb,
    /// Envoy's `X-Forwarded-Client-Cert`.
    Xfcc,
    /// RFC 9440 `Client-Cert` and `Client-Cert-Chain`.
    Rfc9440,
}

/// How the client certificate is passed on to the backend, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardCertificate {
    /// RFC 9440 `Client-Cert` / `Client-Cert-Chain`.
    Rfc9440,
    /// Envoy's `X-Forwarded-Client-Cert` with `Hash`, `Cert` and `Chain`.
    Xfcc,
}

/// The validated `gateway.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub deployment: DeploymentSettings,
    pub hostnames: Vec<Hostname>,
    pub apis: Vec<Api>,
    /// `[named_values]`: `{{name}}` in policies is replaced by this text at load.
    pub named_values: BTreeMap<String, String>,
    /// `[named_values]` kept in Secrets Manager or SSM: read by the loader, never here.
    pub secret_values: BTreeMap<String, SecretRef>,
    /// `[[backends]]`: what `set-backend-service backend-id` names.
    pub backends: Vec<BackendEntity>,
    /// `[cache]`: the external cache table and the internal cache's bounds.
    pub cache: CacheSettings,
}

/// `[deployment]`: what `context.Deployment` shows, and deployment-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSettings {
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub certificate_source: CertificateSource,
    /// Header carrying the ALB chain, for deployments that renamed it with ALB header
    /// modification.
    #[serde(default)]
    pub alb_header: AlbHeader,
    /// Global-scope policy; without it APIM's default global policy applies.
    pub policy: Option<String>,
}

/// `deployment.alb_header`, lower case, with its `-leaf` twin named once at load rather
/// than per event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct AlbHeader {
    /// The chain's header, then the leaf's: both are certificate headers a client could
    /// forge, whichever the deployment reads.
    names: [String; 2],
}

impl AlbHeader {
    /// The header of the whole chain (`x-amzn-mtls-clientcert`).
    pub fn chain(&self) -> &str {
        &self.names[0]
    }

    /// The header of the leaf alone (`x-amzn-mtls-clientcert-leaf`).
    pub fn leaf(&self) -> &str {
        &self.names[1]
    }

    /// Both names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl Default for AlbHeader {
    fn default() -> Self {
        Self::from("x-amzn-mtls-clientcert".to_owned())
    }
}

impl From<String> for AlbHeader {
    fn from(name: String) -> Self {
        let chain = name.to_ascii_lowercase();
        let leaf = format!("{chain}-leaf");
        Self {
            names: [chain, leaf],
        }
    }
}

/// `[[hostnames]]`: APIM's custom-domain settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hostname {
    /// Host name, or `*` for every host not listed.
    pub name: String,
    /// APIM's "Request client certificate": off means the policy always sees null.
    #[serde(default = "yes")]
    pub request_client_certificate: bool,
    /// Local listener: fail the TLS handshake without a certificate.
    #[serde(default)]
    pub require_client_certificate: bool,
    pub tls_certificate: Option<String>,
    pub tls_key: Option<String>,
}

fn yes() -> bool {
    true
}

/// `[[apis]]`: one API with its path prefix ("API URL suffix") and backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub name: String,
    /// Normalised: starts with `/`, no trailing `/` (the root API is `""`).
    pub path: String,
    /// APIM's "Web service URL".
    pub backend: http::Uri,
    pub policy: Option<String>,
    pub forward_client_certificate: Option<ForwardCertificate>,
    pub operations: Vec<Operation>,
}

/// `[[apis.operations]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub name: String,
    pub method: http::Method,
    pub url_template: UrlTemplate,
    pub policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    deployment: DeploymentSettings,
    #[serde(default)]
    hostnames: Vec<Hostname>,
    #[serde(default)]
    apis: Vec<RawApi>,
    #[serde(default)]
    named_values: BTreeMap<String, toml::Value>,
    #[serde(default)]
    backends: Vec<backends::RawBackend>,
    #[serde(default)]
    cache: CacheSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    name: String,
    path: String,
    backend: String,
    policy: Option<String>,
    forward_client_certificate: Option<ForwardCertificate>,
    #[serde(default)]
    operations: Vec<RawOperation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation {
    name: String,
    method: String,
    url_template: String,
    policy: Option<String>,
}

impl GatewayConfig {
    /// Parses and validates the text of `gateway.toml`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        let deployment = raw.deployment;
        if http::HeaderName::from_bytes(deployment.alb_header.chain().as_bytes()).is_err() {
            return Err(invalid(
                "deployment.alb_header",
                format!(
                    "`{}` is not a valid header name",
                    deployment.alb_header.chain()
                ),
            ));
        }
        let hostnames = validate_hostnames(raw.hostnames)?;
        let apis = validate_apis(raw.apis)?;
        let (named_values, secret_values) = named_value::validate(raw.named_values)?;
        let backends = backends::validate(raw.backends)?;
        let cache = raw.cache.validate()?;
        Ok(Self {
            deployment,
            hostnames,
            apis,
            named_values,
            secret_values,
            backends,
            cache,
        })
    }

    /// The settings for `host` (port and case ignored): its own entry, else `*`, else
    /// APIM's default of requesting a certificate.
    pub fn hostname(&self, host: &str) -> Option<&Hostname> {
        let host = crate::text::host(host);
        self.hostnames
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(host))
            .or_else(|| self.hostnames.iter().find(|h| h.name == "*"))
    }

    /// Whether the policy may see a client certificate on requests to `host`.
    pub fn requests_client_certificate(&self, host: &str) -> bool {
        self.hostname(host)
            .is_none_or(|h| h.request_client_certificate)
    }

    /// Every policy file the configuration names, global first.
    pub fn policy_files(&self) -> impl Iterator<Item = &str> {
        let apis = self.apis.iter().flat_map(|api| {
            api.policy
                .iter()
                .chain(api.operations.iter().flat_map(|op| op.policy.iter()))
        });
        self.deployment
            .policy
            .iter()
            .chain(apis)
            .map(String::as_str)
    }
}

impl Api {
    /// The request path after this API's prefix ("/orders/42" → "/42"), or `None` when
    /// the request is not for this API.
    pub fn relative_path<'p>(&self, path: &'p str) -> Option<&'p str> {
        strip_path_prefix(path, &self.path)
    }
}

/// `path` without `prefix` when the prefix matches whole segments, ignoring ASCII case
/// as APIM's routing does.
fn strip_path_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let head = path.get(..prefix.len())?;
    let rest = &path[prefix.len()..];
    (head.eq_ignore_ascii_case(prefix) && (rest.is_empty() || rest.starts_with('/')))
        .then_some(rest)
}

fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let (line, column) = error.span().map_or((1, 1), |span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    });
    ConfigError::Syntax {
        line,
        column,
        message: error.message().to_owned(),
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

fn validate_hostnames(hostnames: Vec<Hostname>) -> Result<Vec<Hostname>, ConfigError> {
    let mut seen = HashSet::new();
    for (i, h) in hostnames.iter().enumerate() {
        let key = format!("hostnames[{i}]");
        if h.name.is_empty() || h.name.contains(['/', ' ', ':']) {
            return Err(invalid(
                format!("{key}.name"),
                format!(
                    "`{}` is not a host name; write e.g. `api.contoso.com` or `*`",
                    h.name
                ),
            ));
        }
        if !seen.insert(h.name.to_ascii_lowercase()) {
            return Err(invalid(
                format!("{key}.name"),
                format!("`{}` is listed twice", h.name),
            ));
        }
        if h.require_client_certificate && !h.request_client_certificate {
            return Err(invalid(
                format!("{key}.require_client_certificate"),
                "a certificate cannot be required when request_client_certificate = false",
            ));
        }
        if h.tls_certificate.is_some() != h.tls_key.is_some() {
            return Err(invalid(
                key,
                "tls_certificate and tls_key go together: set both or neither",
            ));
        }
    }
    Ok(hostnames)
}

fn validate_apis(raw: Vec<RawApi>) -> Result<Vec<Api>, ConfigError> {
    let mut names = HashSet::new();
    let mut paths = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, api)| {
            let key = format!("apis[{i}]");
            if api.name.is_empty() || !names.insert(api.name.clone()) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!(
                        "API names must be unique and not empty; `{}` is not",
                        api.name
                    ),
                ));
            }
            let path = normalise_path(&api.path).ok_or_else(|| {
                invalid(
                    format!("{key}.path"),
                    format!(
                        "`{}` is not a path prefix; write e.g. `/orders` (or `/` for the root)",
                        api.path
                    ),
                )
            })?;
            if !paths.insert(path.clone()) {
                return Err(invalid(
                    format!("{key}.path"),
                    format!("another API already uses the path `{}`", api.path),
                ));
            }
            let backend = parse_backend(&api.backend).ok_or_else(|| {
                invalid(
                    format!("{key}.backend"),
                    format!(
                        "`{}` is not an absolute http:// or https:// URL",
                        api.backend
                    ),
                )
            })?;
            let operations = api
                .operations
                .into_iter()
                .enumerate()
                .map(|(j, op)| validate_operation(&format!("{key}.operations[{j}]"), op))
                .collect::<Result<_, _>>()?;
            Ok(Api {
                name: api.name,
                path,
                backend,
                policy: api.policy,
                forward_client_certificate: api.forward_client_certificate,
                operations,
            })
        })
        .collect()
}

fn validate_operation(key: &str, op: RawOperation) -> Result<Operation, ConfigError> {
    let method = op
        .method
        .parse::<http::Method>()
        .ok()
        .filter(|m| m.as_str().chars().all(|c| c.is_ascii_uppercase()))
        .ok_or_else(|| {
            invalid(
                format!("{key}.method"),
                format!("`{}` is not an HTTP method; write e.g. `GET`", op.method),
            )
        })?;
    let url_template = UrlTemplate::parse(&op.url_template)
        .map_err(|e| invalid(format!("{key}.url_template"), e.to_string()))?;
    Ok(Operation {
        name: op.name,
        method,
        url_template,
        policy: op.policy,
    })
}

/// `/orders/` → `/orders`, `/` → ``; `None` unless it starts with `/` and is a plain path.
fn normalise_path(path: &str) -> Option<String> {
    let plain =
        path.starts_with('/') && !path.contains(['?', '#', '{', '}', ' ']) && !path.contains("//");
    plain.then(|| path.trim_end_matches('/').to_owned())
}

fn parse_backend(url: &str) -> Option<http::Uri> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    (scheme_ok && uri.host().is_some_and(|h| !h.is_empty()) && uri.query().is_none()).then_some(uri)
}

/// The longest name APIM accepts for a named value.
pub(crate) const MAX_NAMED_VALUE_NAME: usize = 256;

/// Whether `name` can be a named value's name (APIM: letters, digits, `.`, `-`, `_`).
/// Braces around anything else stay as written.
pub fn is_named_value_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAMED_VALUE_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests;
