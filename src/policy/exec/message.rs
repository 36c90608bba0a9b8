//! Policies that change the request or the response: `set-header`,
//! `set-query-parameter`, `set-body`, `set-status`, `return-response`, `mock-response`.

use std::sync::Arc;

use http::StatusCode;

use super::{Exchange, Failure, param};
use crate::expr::{Body, Context, Headers, Response};
use crate::policy::SectionKind;
use crate::policy::elements::{
    ExistsAction, MockResponse, Policy, ReturnResponse, SetBody, SetParameter, SetStatus,
};

/// Which message a policy changes: the request in inbound and backend, the response in
/// outbound and on-error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Request,
    Response,
}

impl Target {
    pub(super) fn of(section: SectionKind) -> Self {
        match section {
            SectionKind::Inbound | SectionKind::Backend => Self::Request,
            SectionKind::Outbound | SectionKind::OnError => Self::Response,
        }
    }
}

/// Headers whose values may contain commas or dates: several values are sent as
/// separate header lines, never joined (spec §2.4).
const NOT_CONCATENATED: &[&str] = &[
    "user-agent",
    "www-authenticate",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    "warning",
    "date",
    "expires",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "retry-after",
];

/// Headers a policy may not change (spec §2.4); `Server` may not be removed.
const PROTECTED: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "transfer-encoding",
];

pub(super) fn set_header(
    p: &SetParameter,
    ctx: &mut Context,
    target: Target,
) -> Result<(), Failure> {
    let Some((name, action, values)) = header_change(p, ctx)? else {
        return Ok(());
    };
    let headers = match target {
        Target::Request => &mut ctx.request.headers,
        Target::Response => &mut ctx.response.headers,
    };
    apply_header(headers, &name, action, values);
    Ok(())
}

/// What a `set-header` does, evaluated against `ctx`: the name, the action and the
/// values; `None` for a header no policy may change.
pub(super) fn header_change(
    p: &SetParameter,
    ctx: &Context,
) -> Result<Option<(String, ExistsAction, Vec<String>)>, Failure> {
    let name = param::eval(&p.name, ctx, "set-header")?;
    let action = param::eval(&p.exists_action, ctx, "set-header")?;
    let values = p
        .values
        .iter()
        .map(|v| param::eval(v, ctx, "set-header"))
        .collect::<Result<Vec<_>, _>>()?;
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(Failure::expression(
            "set-header",
            format!("`{name}` is not a valid header name"),
        ));
    }
    let lower = name.to_ascii_lowercase();
    if PROTECTED.contains(&lower.as_str()) || (lower == "server" && action == ExistsAction::Delete)
    {
        return Ok(None);
    }
    Ok(Some((name, action, values)))
}

pub(super) fn apply_header(
    headers: &mut Headers,
    name: &str,
    action: ExistsAction,
    values: Vec<String>,
) {
    let separate = NOT_CONCATENATED.contains(&name.to_ascii_lowercase().as_str());
    let shape = |values: Vec<String>| {
        if separate || values.len() < 2 {
            values
        } else {
            vec![values.join(",")]
        }
    };
    match action {
        ExistsAction::Delete => headers.remove(name),
        ExistsAction::Skip if headers.get(name).is_some() => {}
        ExistsAction::Override | ExistsAction::Skip => headers.set(name, shape(values)),
        ExistsAction::Append => {
            let mut all: Vec<String> = headers
                .get(name)
                .map(<[String]>::to_vec)
                .unwrap_or_default();
            all.extend(values);
            headers.set(name, shape(all));
        }
    }
}

pub(super) fn set_query_parameter(p: &SetParameter, ctx: &mut Context) -> Result<(), Failure> {
    const POLICY: &str = "set-query-parameter";
    let name = param::eval(&p.name, ctx, POLICY)?;
    let action = param::eval(&p.exists_action, ctx, POLICY)?;
    let values = p
        .values
        .iter()
        .map(|v| param::eval(v, ctx, POLICY))
        .collect::<Result<Vec<_>, _>>()?;
    let query = &mut Arc::make_mut(&mut ctx.request.url).query;
    let existing = query.iter().position(|(n, _)| *n == name);
    match (action, existing) {
        (ExistsAction::Delete, Some(i)) => {
            query.remove(i);
        }
        (ExistsAction::Delete | ExistsAction::Skip, _)
            if existing.is_some() || action == ExistsAction::Delete => {}
        (ExistsAction::Append, Some(i)) => query[i].1.extend(values),
        (_, Some(i)) => query[i].1 = values,
        (_, None) => query.push((name, values)),
    }
    Ok(())
}

pub(super) fn set_body(body: &SetBody, ctx: &mut Context, target: Target) -> Result<(), Failure> {
    let text = param::eval(&body.body, ctx, "set-body")?;
    let new = Some(Body::new(text.into_bytes()));
    match target {
        Target::Request => ctx.request.body = new,
        Target::Response => ctx.response.body = new,
    }
    Ok(())
}

pub(super) fn set_status(status: &SetStatus, ctx: &mut Context) -> Result<(), Failure> {
    let code = param::eval(&status.code, ctx, "set-status")?;
    let code = StatusCode::from_u16(code)
        .ok()
        .filter(|c| (100..=599).contains(&c.as_u16()))
        .ok_or_else(|| {
            Failure::expression(
                "set-status",
                format!("{code} is not an HTTP status code (100-599)"),
            )
        })?;
    let reason = match &status.reason {
        Some(reason) => param::eval(reason, ctx, "set-status")?,
        None => code.canonical_reason().unwrap_or_default().to_owned(),
    };
    ctx.response.status_code = i32::from(code.as_u16());
    ctx.response.status_reason = reason;
    Ok(())
}

/// `return-response`: a fresh 200 with no body, shaped by the children in order,
/// becomes `context.Response`; the request body is dropped (spec §1.3).
pub(super) fn return_response(
    rr: &ReturnResponse,
    x: &mut Exchange,
    _section: SectionKind,
) -> Result<(), Failure> {
    let start = match &rr.response_variable_name {
        None => fresh_response(),
        Some(name) => x
            .ctx
            .variables
            .get(name)
            .and_then(crate::expr::Value::as_response)
            .cloned()
            .ok_or_else(|| {
                Failure::expression(
                    "return-response",
                    format!("variable `{name}` does not hold a response (IResponse)"),
                )
            })?,
    };
    let previous = std::mem::replace(&mut x.ctx.response, start);
    x.ctx.request.body = None;
    for node in &rr.steps {
        let done = match &node.policy {
            Policy::SetStatus(s) => set_status(s, &mut x.ctx),
            Policy::SetHeader(h) => set_header(h, &mut x.ctx, Target::Response),
            Policy::SetBody(b) => set_body(b, &mut x.ctx, Target::Response),
            // The reader allows nothing else inside return-response.
            _ => Ok(()),
        };
        if let Err(failure) = done {
            x.ctx.response = previous;
            return Err(failure);
        }
    }
    Ok(())
}

/// `mock-response`: the status and content type, no content (certgate has no API
/// schemas or examples to draw a sample from).
pub(super) fn mock_response(mock: &MockResponse, x: &mut Exchange) {
    let mut response = fresh_response();
    let code = StatusCode::from_u16(mock.status_code).unwrap_or(StatusCode::OK);
    response.status_code = i32::from(code.as_u16());
    response.status_reason = code.canonical_reason().unwrap_or_default().to_owned();
    if let Some(content_type) = &mock.content_type {
        response
            .headers
            .set("Content-Type", vec![content_type.clone()]);
    }
    x.ctx.response = response;
    x.ctx.request.body = None;
}

pub(super) fn fresh_response() -> Response {
    Response {
        status_code: 200,
        status_reason: "OK".to_owned(),
        headers: Headers::new(),
        body: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(h: &Headers, name: &str) -> Vec<String> {
        h.get(name).map(<[String]>::to_vec).unwrap_or_default()
    }

    #[test]
    fn several_values_are_joined_with_commas_except_for_the_listed_headers() {
        let mut h = Headers::new();
        apply_header(
            &mut h,
            "X-A",
            ExistsAction::Override,
            vec!["1".into(), "2".into()],
        );
        assert_eq!(values(&h, "x-a"), ["1,2"]);
        apply_header(
            &mut h,
            "Set-Cookie",
            ExistsAction::Override,
            vec!["a=1".into(), "b=2".into()],
        );
        assert_eq!(values(&h, "set-cookie"), ["a=1", "b=2"]);
    }

    #[test]
    fn exists_actions_do_what_apim_documents() {
        let mut h = Headers::new();
        h.append("X-A", "old");
        apply_header(&mut h, "x-a", ExistsAction::Skip, vec!["new".into()]);
        assert_eq!(values(&h, "X-A"), ["old"]);
        apply_header(&mut h, "x-b", ExistsAction::Skip, vec!["new".into()]);
        assert_eq!(values(&h, "X-B"), ["new"]);
        apply_header(&mut h, "x-a", ExistsAction::Append, vec!["more".into()]);
        assert_eq!(values(&h, "X-A"), ["old,more"]);
        apply_header(&mut h, "x-a", ExistsAction::Override, vec!["only".into()]);
        assert_eq!(values(&h, "X-A"), ["only"]);
        apply_header(&mut h, "X-A", ExistsAction::Delete, vec![]);
        assert_eq!(h.get("x-a"), None);
    }
}
