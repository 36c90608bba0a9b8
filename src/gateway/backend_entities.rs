//! `[[backends]]` entries made ready at load: their URL, a client with their TLS
//! settings and client certificate, and their credentials with named values replaced,
//! added to each request `set-backend-service backend-id` sends them.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderName, HeaderValue};

use super::deployment::DeploymentError;
use crate::config::{BackendEntity, ConfigError};
use crate::policy::substitute_named_values;
use crate::proxy::{Backend, ClientIdentity, TlsValidation};

/// One `[[backends]]` entry, ready to send requests.
#[derive(Debug, Clone)]
pub(crate) struct EntityBackend {
    pub(crate) url: http::Uri,
    pub(crate) client: Backend,
    headers: Vec<(HeaderName, Vec<HeaderValue>)>,
    /// `name=value`, percent-encoded, appended to the query.
    query: String,
}

/// Builds every entry. `identity(id)` is the uploaded certificate `id` with its key.
pub(super) fn build(
    entities: &[BackendEntity],
    values: &BTreeMap<String, String>,
    extra_roots: &[rustls_pki_types::CertificateDer<'static>],
    mut identity: impl FnMut(&str) -> Result<ClientIdentity, String>,
    max_body: usize,
) -> Result<HashMap<String, EntityBackend>, DeploymentError> {
    let mut built = HashMap::new();
    for (i, entity) in entities.iter().enumerate() {
        let key = |rest: &str| format!("backends[{i}]{rest}");
        let invalid = |key: String, message: String| {
            DeploymentError::Config(ConfigError::Invalid { key, message })
        };
        let identity = match &entity.client_certificate {
            Some(id) => Some(identity(id).map_err(|m| invalid(key(".client_certificate"), m))?),
            None => None,
        };
        let validation = TlsValidation {
            chain: entity.validate_certificate_chain,
            name: entity.validate_certificate_name,
        };
        let client = Backend::with_validation(extra_roots, identity, validation, max_body)
            .map_err(|e| invalid(key(""), format!("backend TLS client: {e}")))?;
        // `{{name}}` replaced; the error names the key, never a value.
        let text = |key: String, value: &str| {
            substitute_named_values(&key, value, values)
                .map(std::borrow::Cow::into_owned)
                .map_err(|e| invalid(key, e.message()))
        };
        let header_value = |key: String, value: &str| {
            HeaderValue::from_str(&text(key.clone(), value)?).map_err(|_| {
                invalid(
                    key,
                    "the value (named values replaced) is not a valid header value".to_owned(),
                )
            })
        };
        let credentials = &entity.credentials;
        let mut headers = Vec::new();
        for (name, list) in &credentials.header {
            let key = key(&format!(".credentials.header.\"{name}\""));
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| invalid(key.clone(), e.to_string()))?;
            let list = list
                .iter()
                .map(|value| header_value(key.clone(), value))
                .collect::<Result<_, _>>()?;
            headers.push((name, list));
        }
        if let Some(auth) = &credentials.authorization {
            let key = key(".credentials.authorization.parameter");
            let parameter = text(key.clone(), &auth.parameter)?;
            let value = header_value(key, &format!("{} {parameter}", auth.scheme))?;
            headers.push((http::header::AUTHORIZATION, vec![value]));
        }
        let mut query = String::new();
        for (name, list) in &credentials.query {
            for value in list {
                let value = text(key(&format!(".credentials.query.\"{name}\"")), value)?;
                if !query.is_empty() {
                    query.push('&');
                }
                query.extend(encode(name));
                query.push('=');
                query.extend(encode(&value));
            }
        }
        built.insert(
            entity.id.clone(),
            EntityBackend {
                url: entity.url.clone(),
                client,
                headers,
                query,
            },
        );
    }
    Ok(built)
}

fn encode(text: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
}

impl EntityBackend {
    /// Adds the entry's credentials to `request`: its headers (over the request's own),
    /// `Authorization`, and its query parameters after the request's.
    pub(crate) fn add_credentials<B>(&self, request: &mut http::Request<B>) {
        let headers = request.headers_mut();
        for (name, values) in &self.headers {
            headers.remove(name);
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
        if self.query.is_empty() {
            return;
        }
        let uri = request.uri();
        let path = uri.path();
        let query = match uri.query() {
            Some(q) if !q.is_empty() => format!("{q}&{}", self.query),
            _ => self.query.clone(),
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = format!("{path}?{query}").parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
}
