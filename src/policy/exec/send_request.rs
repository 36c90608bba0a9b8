//! `send-request` and `send-one-way-request`: a request of the policy's own, sent with the
//! deployment's backend clients, its answer kept as an `IResponse` in a variable.

use std::time::Duration;

use http::StatusCode;

use super::{Exchange, Failure, Forwarder, backend, message, param};
use crate::body::Payload;
use crate::expr::{Body, Headers, Response, Value};
use crate::policy::SectionKind;
use crate::policy::elements::{RequestMode, SendRequest};
use crate::proxy::{self, ForwardOptions, ProxyError};

/// `send-request`: sends, waits at most `timeout`, stores the answer (its body read whole,
/// bounded) in `response-variable-name`. A failure to get an answer goes to on-error
/// (`Timeout` or `BackendConnectionFailure`), or stores null with `ignore-error`.
pub(super) async fn send_request(
    r: &SendRequest,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
    section: SectionKind,
    path: &str,
) -> Result<(), Failure> {
    const POLICY: &str = "send-request";
    let Some(variable) = &r.response_variable_name else {
        return Ok(());
    };
    let variable = param::eval(variable, &x.ctx, POLICY)?;
    let (request, options, certificate) = build(r, x, section, POLICY)?;
    x.note(section, path, || {
        format!("{} {}", request.method(), request.uri())
    });
    // The answer is read whole, so the timeout covers its body too.
    let answer = forwarder
        .forward(request, options, certificate.as_deref(), None)
        .await;
    let value = match answer {
        Ok(answer) => {
            x.note(section, path, || {
                format!("answered {}; stored in {variable}", answer.status)
            });
            Value::response(Response {
                status_code: i32::from(answer.status.as_u16()),
                status_reason: answer
                    .status
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_owned(),
                headers: Headers::from_http(answer.headers),
                body: Some(Body::payload(answer.body)),
            })
        }
        Err(error) if r.ignore_error => {
            x.note(section, path, || format!("{error}; {variable} is null"));
            Value::Null
        }
        Err(error) => return Err(failure(POLICY, &error)),
    };
    x.set_variable(variable, value);
    Ok(())
}

/// `send-one-way-request`: hands the request to a task of its own and goes on at once.
pub(super) fn send_one_way_request(
    r: &SendRequest,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
    section: SectionKind,
    path: &str,
) -> Result<(), Failure> {
    const POLICY: &str = "send-one-way-request";
    let (request, mut options, certificate) = build(r, x, section, POLICY)?;
    // Nobody reads the answer: its body is dropped unread.
    options.collect_response = false;
    let line = format!("{} {}", request.method(), request.uri());
    let sent = forwarder.send_detached(request, options, certificate.as_deref());
    x.note(section, path, || {
        if sent {
            format!("{line} (not waited for)")
        } else {
            format!("{line} dropped: too many one-way requests in flight")
        }
    });
    Ok(())
}

fn failure(policy: &'static str, error: &ProxyError) -> Failure {
    Failure::new(policy, error.reason(), error.to_string(), error.status())
}

type Built = (http::Request<Payload>, ForwardOptions, Option<String>);

/// The request of `r`: `mode="copy"` starts from the current request's method, headers
/// and body (no body in outbound and on-error, as APIM) and its backend URL; `new` from
/// nothing. Then `set-url`, `set-method`, the `set-header`s and `set-body` in turn.
fn build(
    r: &SendRequest,
    x: &Exchange,
    section: SectionKind,
    policy: &'static str,
) -> Result<Built, Failure> {
    let ctx = &x.ctx;
    let mode = param::eval(&r.mode, ctx, policy)?;
    let mut headers = Headers::new();
    let mut body = Payload::empty();
    let (mut method, mut url) = (None, None);
    if mode == RequestMode::Copy {
        headers = ctx.request.headers.clone();
        for name in ["host", "content-length"] {
            headers.remove(name);
        }
        if matches!(section, SectionKind::Inbound | SectionKind::Backend) {
            body = ctx
                .request
                .body
                .as_ref()
                .map_or_else(Payload::empty, Body::take_payload);
        }
        method = Some(ctx.request.method.clone());
        url = backend::backend_uri(x).map(|u| u.to_string());
    }
    if let Some(set_url) = &r.url {
        url = Some(param::eval(set_url, ctx, policy)?.trim().to_owned());
    }
    if let Some(set_method) = &r.method {
        method = Some(set_method.clone());
    }
    for header in &r.headers {
        if let Some((name, action, values)) = message::header_change(header, ctx)? {
            message::apply_header(&mut headers, &name, action, values);
        }
    }
    if let Some(set_body) = &r.body {
        body = Payload::from(param::eval(&set_body.body, ctx, "set-body")?.into_bytes());
    }
    let certificate = r
        .certificate
        .as_ref()
        .map(|auth| backend::certificate_id(auth, ctx))
        .transpose()?;
    let timeout = Duration::from_secs(u64::from(param::eval(&r.timeout, ctx, policy)?));
    let bad = |message: String| {
        Failure::new(
            policy,
            "ExpressionValueEvaluationFailure",
            message,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    };
    let url = url.ok_or_else(|| bad("the request has no URL: add <set-url>".to_owned()))?;
    let uri = url
        .parse::<http::Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
        .ok_or_else(|| {
            bad(format!(
                "`{url}` is not an absolute http:// or https:// URL"
            ))
        })?;
    let method = method.ok_or_else(|| bad("the request has no method: add <set-method>".into()))?;
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| bad(format!("`{method}` is not an HTTP method")))?;
    if backend::NOT_FORWARDED.contains(&method.as_str()) {
        return Err(bad(format!("{method} is not sent to a backend")));
    }
    let mut map = http::HeaderMap::new();
    for (name, values) in headers.iter() {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("`{name}` is not a valid header name")))?;
        for value in values {
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| bad(format!("the value of header {name} is not valid")))?;
            map.append(name.clone(), value);
        }
    }
    proxy::strip_hop_by_hop(&mut map);
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = map;
    let options = ForwardOptions {
        timeout,
        follow_redirects: false,
        http_version: proxy::HttpVersion::Http1,
        // The answer is read whole, bounded, for the expressions that read it.
        collect_response: true,
    };
    Ok((request, options, certificate))
}
