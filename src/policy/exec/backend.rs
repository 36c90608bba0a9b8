//! Policies about the backend call: `set-backend-service`, `rewrite-uri`,
//! `authentication-certificate`, and `forward-request` itself.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::{Exchange, Failure, Forwarder, param};
use crate::body::Payload;
use crate::cert::Certificate;
use crate::cert::PresentedChain;
use crate::config::ForwardCertificate;
use crate::expr::Url;
use crate::expr::{Body, Headers, Response};
use crate::policy::SectionKind;
use crate::policy::elements::{
    AuthenticationCertificate, ForwardRequest, HttpVersion, RewriteUri, SetBackendService,
};
use crate::proxy::{self, ForwardOptions};

/// Where and how `forward-request` sends the request.
#[derive(Debug, Clone)]
pub(crate) struct BackendTarget {
    /// The API's "Web service URL", or what `set-backend-service` chose.
    pub base_url: http::Uri,
    /// The path after the API's prefix (`/42` for `/orders/42`), as `rewrite-uri`
    /// may have changed it.
    pub path: String,
    /// Uploaded certificate (`certificates/<id>`) to present to the backend.
    pub client_certificate: Option<String>,
    /// The `[[backends]]` entry `set-backend-service backend-id` chose.
    pub backend_id: Option<String>,
    /// Scheme and host the client used, for `X-Forwarded-Proto` and `-Host`: the
    /// scheme as written (`https` or `http` without an allocation), the host as the
    /// header value it becomes.
    pub client_scheme: Cow<'static, str>,
    pub client_host: Option<http::HeaderValue>,
    /// The client certificate to pass on in headers (`forward_client_certificate`).
    pub forward_certificate: Option<(ForwardCertificate, PresentedChain)>,
}

pub(super) fn set_backend_service(
    sbs: &SetBackendService,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
) -> Result<(), Failure> {
    let base_url = match sbs {
        SetBackendService::BaseUrl(base_url) => base_url,
        SetBackendService::BackendId { id, .. } => {
            // Checked at load: an unknown id does not load.
            let url = forwarder.backend_url(id).ok_or_else(|| {
                Failure::expression(
                    "set-backend-service",
                    format!("no [[backends]] entry has the id `{id}`"),
                )
            })?;
            x.backend.base_url = url;
            x.backend.backend_id = Some(id.clone());
            return Ok(());
        }
    };
    let url = param::eval(base_url, &x.ctx, "set-backend-service")?;
    let uri = url
        .parse::<http::Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
        .ok_or_else(|| {
            Failure::expression(
                "set-backend-service",
                format!("base-url `{url}` is not an absolute http:// or https:// URL"),
            )
        })?;
    x.backend.base_url = uri;
    x.backend.backend_id = None;
    Ok(())
}

/// `rewrite-uri`: the template's `{name}` placeholders take the matched parameters;
/// its query parameters replace the request's, which are kept as well unless
/// `copy-unmatched-params="false"`.
pub(super) fn rewrite_uri(rw: &RewriteUri, x: &mut Exchange) -> Result<(), Failure> {
    let template = param::eval(&rw.template, &x.ctx, "rewrite-uri")?;
    let filled = fill_template(&template, &x.ctx.request.matched_parameters);
    let (path, query) = filled.split_once('?').unwrap_or((&filled, ""));
    let mut url = Url::clone(&x.ctx.request.url);
    let original = std::mem::take(&mut url.query);
    url.set_query_string(query);
    if rw.copy_unmatched_params {
        for (name, values) in original {
            if !url.query.iter().any(|(n, _)| *n == name) {
                url.query.push((name, values));
            }
        }
    }
    Arc::make_mut(&mut x.ctx.request.url).query = url.query;
    x.backend.path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok(())
}

fn fill_template(template: &str, params: &[(String, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match params.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => out.extend(percent_encoding::utf8_percent_encode(
                        v,
                        percent_encoding::NON_ALPHANUMERIC,
                    )),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

pub(super) fn authentication_certificate(
    auth: &AuthenticationCertificate,
    x: &mut Exchange,
) -> Result<(), Failure> {
    x.backend.client_certificate = Some(certificate_id(auth, &x.ctx)?);
    Ok(())
}

/// The uploaded certificate an `authentication-certificate` names, by id or thumbprint.
pub(super) fn certificate_id(
    auth: &AuthenticationCertificate,
    ctx: &crate::expr::Context,
) -> Result<String, Failure> {
    const POLICY: &str = "authentication-certificate";
    Ok(match auth {
        AuthenticationCertificate::CertificateId(id) => param::eval(id, ctx, POLICY)?,
        AuthenticationCertificate::Thumbprint(thumbprint) => {
            let thumbprint = param::eval(thumbprint, ctx, POLICY)?;
            ctx.deployment
                .certificates
                .iter()
                .find(|(_, c)| c.thumbprint().eq_ignore_ascii_case(&thumbprint))
                .map(|(id, _)| id.to_owned())
                .ok_or_else(|| {
                    Failure::expression(
                        POLICY,
                        format!("no uploaded certificate has the thumbprint {thumbprint}"),
                    )
                })?
        }
    })
}

/// `forward-request`: builds the backend request from `context.Request`, sends it, and
/// makes the answer `context.Response`.
pub(super) async fn forward_request(
    fwd: &ForwardRequest,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
    section: SectionKind,
    path: &str,
) -> Result<(), Failure> {
    const POLICY: &str = "forward-request";
    let timeout = match (&fwd.timeout_ms, &fwd.timeout) {
        (Some(ms), _) => Duration::from_millis(u64::from(param::eval(ms, &x.ctx, POLICY)?)),
        (None, Some(s)) => Duration::from_secs(u64::from(param::eval(s, &x.ctx, POLICY)?)),
        (None, None) => Duration::from_secs(u64::from(ForwardRequest::DEFAULT_TIMEOUT_SECS)),
    };
    let options = ForwardOptions {
        timeout,
        follow_redirects: param::eval(&fwd.follow_redirects, &x.ctx, POLICY)?,
        http_version: match fwd.http_version {
            HttpVersion::Http1 => proxy::HttpVersion::Http1,
            HttpVersion::Http2 => proxy::HttpVersion::Http2,
            HttpVersion::Http2Or1 => proxy::HttpVersion::Http2Or1,
        },
        collect_response: x.collect_response,
    };
    let request = backend_request(x)?;
    x.note(section, path, || {
        format!("{} {}", request.method(), request.uri())
    });
    let response = forwarder
        .forward(
            request,
            options,
            x.backend.client_certificate.as_deref(),
            x.backend.backend_id.as_deref(),
        )
        .await
        .map_err(|e| Failure::backend(&e))?;
    x.forwarded = true;
    x.note(section, path, || {
        format!("backend answered {}", response.status)
    });
    let status = response.status;
    x.ctx.response = Response {
        status_code: i32::from(status.as_u16()),
        status_reason: status.canonical_reason().unwrap_or_default().to_owned(),
        headers: Headers::from_http(response.headers),
        body: Some(Body::payload(response.body)),
    };
    if fwd.fail_on_error_status_code && (400..=599).contains(&status.as_u16()) {
        return Err(Failure::new(
            POLICY,
            "BackendErrorStatusCode",
            format!("the backend answered {status}"),
            status,
        ));
    }
    Ok(())
}

/// Methods a gateway does not pass on: CONNECT would make the backend a tunnel, and
/// TRACE (IIS: TRACK) echoes the request with whatever credentials the gateway added.
/// A policy may still answer them itself (`return-response`, `mock-response`).
pub(super) const NOT_FORWARDED: &[&str] = &["CONNECT", "TRACE", "TRACK"];

fn backend_request(x: &Exchange) -> Result<http::Request<Payload>, Failure> {
    let bad = |what: String| {
        Failure::new(
            "forward-request",
            "BackendConnectionFailure",
            what,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    };
    let request = &x.ctx.request;
    let uri = backend_uri(x).ok_or_else(|| {
        bad(format!(
            "cannot build a backend URL from {}",
            x.backend.base_url
        ))
    })?;
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| bad(format!("`{}` is not an HTTP method", request.method)))?;
    if NOT_FORWARDED.contains(&method.as_str()) {
        let mut failure = Failure::new(
            "forward-request",
            "MethodNotAllowed",
            format!("{method} is not forwarded to a backend"),
            StatusCode::METHOD_NOT_ALLOWED,
        );
        failure.public_message = Some(format!("The gateway does not forward {method} requests."));
        return Err(failure);
    }
    // Room for Host, X-Forwarded-For, -Proto and -Host.
    let mut headers = request.headers.to_http_with_room(4);
    let backend_host =
        http::HeaderValue::from_str(uri.authority().map_or("", http::uri::Authority::as_str)).ok();
    proxy::prepare_request_headers(
        &mut headers,
        &proxy::ForwardedFor {
            // Only an address goes into X-Forwarded-For (`certgate eval` takes any text).
            client_ip: request
                .ip_address
                .parse::<std::net::IpAddr>()
                .is_ok()
                .then_some(request.ip_address.as_str()),
            proto: &x.backend.client_scheme,
            host: x.backend.client_host.as_ref(),
        },
        backend_host,
    );
    if let Some((format, chain)) = &x.backend.forward_certificate {
        forward_certificate(&mut headers, *format, chain);
    }
    let body = request
        .body
        .as_ref()
        .map_or_else(Payload::empty, Body::take_payload);
    // A client's `Content-Length` stays: the backend client frames the body it sends.
    let mut built = http::Request::new(body);
    *built.method_mut() = method;
    *built.uri_mut() = uri;
    *built.headers_mut() = headers;
    Ok(built)
}

/// Where `forward-request` sends the request now: the backend, the path after the API's
/// prefix, the query.
pub(super) fn backend_uri(x: &Exchange) -> Option<http::Uri> {
    if x.ctx.request.url.query.is_empty() {
        return proxy::backend_url(&x.backend.base_url, &x.backend.path);
    }
    let target = format!("{}{}", x.backend.path, x.ctx.request.url.query_string());
    proxy::backend_url(&x.backend.base_url, &target)
}

/// Passes the client's chain (leaf first) to the backend in `format`.
fn forward_certificate(
    headers: &mut http::HeaderMap,
    format: ForwardCertificate,
    chain: &PresentedChain,
) {
    use base64::Engine as _;
    let (leaf, rest) = (chain.leaf.as_ref(), &chain.intermediates[..]);
    let b64 = |c: &Certificate| base64::engine::general_purpose::STANDARD.encode(c.der());
    let values: Vec<(&str, String)> = match format {
        ForwardCertificate::Rfc9440 => {
            let mut v = vec![("client-cert", format!(":{}:", b64(leaf)))];
            if !rest.is_empty() {
                let items: Vec<String> = rest.iter().map(|c| format!(":{}:", b64(c))).collect();
                v.push(("client-cert-chain", items.join(", ")));
            }
            v
        }
        ForwardCertificate::Xfcc => {
            let pem = |certs: &mut dyn Iterator<Item = &Certificate>| {
                let text: String = certs
                    .map(|c| {
                        let body = b64(c);
                        let lines: Vec<&str> = body
                            .as_bytes()
                            .chunks(64)
                            .filter_map(|l| std::str::from_utf8(l).ok())
                            .collect();
                        format!(
                            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                            lines.join("\n")
                        )
                    })
                    .collect();
                percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            vec![(
                "x-forwarded-client-cert",
                format!(
                    "Hash={};Cert=\"{}\";Chain=\"{}\"",
                    crate::text::hex_lower(leaf.sha256()),
                    pem(&mut std::iter::once(leaf)),
                    pem(&mut chain.iter())
                ),
            )]
        }
    };
    for (name, value) in values {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_matched_parameters_encoded() {
        let params = vec![("id".to_owned(), "a b".to_owned())];
        assert_eq!(fill_template("/v2/{id}/x", &params), "/v2/a%20b/x");
        assert_eq!(fill_template("/{missing}", &params), "/{missing}");
        assert_eq!(fill_template("/open{", &params), "/open{");
    }
}
