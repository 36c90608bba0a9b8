//! `cors`: browser cross-origin requests.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
//! by the gateway and never reaches the backend. As in APIM, only the `cors` policies
//! that are direct children of `<inbound>` run for it ([`preflight`]), so later inbound
//! policies (a `choose` that refuses requests without a client certificate, say) cannot
//! block it: browsers never send a client certificate or credentials on a preflight.
//! Any other request with an `Origin` is an actual cross-origin request: when it
//! matches, the final response gets the CORS headers ([`add_granted_headers`]).
//!
//! A preflight, `GET` or `HEAD` that does not match gets an empty `200 OK` when
//! `terminate-unmatched-request` is true (the default), else goes on without CORS
//! headers. APIM documents the empty answer for those three only: any other unmatched
//! method goes on without CORS headers (browsers send `Origin` on same-origin `POST`s
//! too, which must still reach the backend).

use super::message::fresh_response;
use super::{Exchange, Failure, Flow, param};
use crate::expr::Headers;
use crate::policy::SectionKind;
use crate::policy::document::Step;
use crate::policy::elements::{Cors, Policy, is_token};

const POLICY: &str = "cors";

/// Answers a preflight from the `cors` policies among `steps` (an inbound section), in
/// order: the first that matches answers; one that does not match ends the preflight
/// with an empty 200 unless its `terminate-unmatched-request` is false. `None` when the
/// request is not a preflight or the section has no `cors`: the request runs the
/// section as usual.
pub(super) fn preflight(steps: &[Step], x: &mut Exchange) -> Result<Option<Flow>, Failure> {
    if !is_preflight(&x.ctx.request.method, &x.ctx.request.headers) {
        return Ok(None);
    }
    let mut found = false;
    for step in steps {
        let Policy::Cors(cors) = &step.node.policy else {
            continue;
        };
        found = true;
        let flow = answer_preflight(cors, x, step.section, &step.node.meta.path)
            .map_err(|f| f.located(step, &step.node))?;
        if flow == Flow::Respond {
            return Ok(Some(flow));
        }
    }
    if !found {
        return Ok(None);
    }
    x.ctx.response = fresh_response();
    Ok(Some(Flow::Respond))
}

/// Runs one `cors` where it stands: a preflight (only when nested in `choose`, the
/// others are answered by [`preflight`]) or an actual request.
pub(super) fn cors(
    cors: &Cors,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    if is_preflight(&x.ctx.request.method, &x.ctx.request.headers) {
        return answer_preflight(cors, x, section, path);
    }
    let Some(origin) = first(&x.ctx.request.headers, "Origin") else {
        return Ok(Flow::Continue);
    };
    let credentials = param::eval(&cors.allow_credentials, &x.ctx, POLICY)?;
    if origin_allowed(cors, &origin) && method_allowed(cors, &x.ctx.request.method) {
        x.note(section, path, || format!("origin {origin} allowed"));
        x.cors.clear();
        x.cors.push((
            "Access-Control-Allow-Origin",
            allow_origin(cors, origin, credentials),
        ));
        if credentials {
            x.cors
                .push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        if !cors.expose_headers.is_empty() {
            x.cors.push((
                "Access-Control-Expose-Headers",
                cors.expose_headers.join(", "),
            ));
        }
        return Ok(Flow::Continue);
    }
    if !matches!(x.ctx.request.method.as_str(), "GET" | "HEAD") {
        x.note(section, path, || {
            format!("origin {origin} not allowed; no CORS headers")
        });
        return Ok(Flow::Continue);
    }
    unmatched(cors, x, section, path)
}

/// Adds the headers a matching `cors` granted to the final response, whatever produced
/// it (backend, `return-response`, on-error): a browser shows a cross-origin response
/// to the page only with them.
pub(crate) fn add_granted_headers(x: &mut Exchange) {
    if x.cors.is_empty() {
        return;
    }
    for (name, value) in std::mem::take(&mut x.cors) {
        x.ctx.response.headers.set(name, vec![value]);
    }
    vary_origin(&mut x.ctx.response.headers);
}

fn answer_preflight(
    cors: &Cors,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    let request = &x.ctx.request.headers;
    let origin = first(request, "Origin").unwrap_or_default();
    let method = first(request, "Access-Control-Request-Method").unwrap_or_default();
    let asked: Vec<String> = request
        .get("Access-Control-Request-Headers")
        .unwrap_or_default()
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let credentials = param::eval(&cors.allow_credentials, &x.ctx, POLICY)?;
    // Only tokens: the answer echoes them, and `*` would let anything through.
    let headers_ok = asked.iter().all(|h| {
        is_token(h)
            && cors
                .allowed_headers
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(h))
    });
    if !(origin_allowed(cors, &origin) && method_allowed(cors, &method) && headers_ok) {
        return unmatched(cors, x, section, path);
    }
    x.note(section, path, || {
        format!("preflight from {origin} answered")
    });
    let mut response = fresh_response();
    let headers = &mut response.headers;
    headers.set(
        "Access-Control-Allow-Origin",
        vec![allow_origin(cors, origin, credentials)],
    );
    if credentials {
        headers.set("Access-Control-Allow-Credentials", vec!["true".to_owned()]);
    }
    headers.set("Access-Control-Allow-Methods", vec![method]);
    if !asked.is_empty() {
        headers.set("Access-Control-Allow-Headers", vec![asked.join(", ")]);
    }
    if cors.preflight_result_max_age > 0 {
        headers.set(
            "Access-Control-Max-Age",
            vec![cors.preflight_result_max_age.to_string()],
        );
    }
    vary_origin(headers);
    x.ctx.response = response;
    Ok(Flow::Respond)
}

/// An unmatched cross-origin request: an empty 200 (`terminate-unmatched-request`,
/// default true), or on without CORS headers.
fn unmatched(
    cors: &Cors,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    let terminate = param::eval(&cors.terminate_unmatched_request, &x.ctx, POLICY)?;
    x.note(section, path, || {
        format!("no match for origin, method or headers; terminate-unmatched-request={terminate}")
    });
    if !terminate {
        return Ok(Flow::Continue);
    }
    x.ctx.response = fresh_response();
    Ok(Flow::Respond)
}

fn is_preflight(method: &str, headers: &Headers) -> bool {
    method == "OPTIONS"
        && headers.get("Origin").is_some()
        && headers.get("Access-Control-Request-Method").is_some()
}

fn first(headers: &Headers, name: &str) -> Option<String> {
    headers.get(name)?.first().map(|v| v.trim().to_owned())
}

fn origin_allowed(cors: &Cors, origin: &str) -> bool {
    !origin.is_empty()
        && origin.chars().all(|c| c.is_ascii_graphic())
        && cors
            .allowed_origins
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
}

/// Without `<allowed-methods>` APIM allows GET and POST.
fn method_allowed(cors: &Cors, method: &str) -> bool {
    if !is_token(method) {
        return false;
    }
    if cors.allowed_methods.is_empty() {
        return method == "GET" || method == "POST";
    }
    cors.allowed_methods.iter().any(|m| m == "*" || m == method)
}

/// `*` when any origin may read without credentials; else the caller's origin (a
/// credentialed answer must name it).
fn allow_origin(cors: &Cors, origin: String, credentials: bool) -> String {
    if !credentials && cors.allowed_origins.iter().any(|a| a == "*") {
        "*".to_owned()
    } else {
        origin
    }
}

/// `Vary: Origin`, so caches keep answers for different origins apart.
fn vary_origin(headers: &mut Headers) {
    let present = headers.get("Vary").is_some_and(|values| {
        values
            .iter()
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("origin") || v.trim() == "*")
    });
    if !present {
        headers.append("Vary", "Origin");
    }
}
