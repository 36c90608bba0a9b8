//! `<send-request>` and `<send-one-way-request>`: attributes and children read and
//! checked at load. The children `set-header`, `set-body` and
//! `authentication-certificate` are read as the policies of the same name.

use super::{
    Attrs, AuthenticationCertificate, Ctx, Policy, PolicyError, SetBody, SetParameter,
    SiblingCounter, XmlElement, absolute_url, build_node, child_elements, is_token, parse_bool,
    parse_u32, structure, text_param,
};
use crate::policy::value::Param;

/// `mode` of send-request: a new request, or a copy of the current one's headers and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMode {
    New,
    Copy,
}

impl RequestMode {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "new" => Ok(Self::New),
            "copy" => Ok(Self::Copy),
            other => Err(format!("`{other}` is not a mode; use new or copy")),
        }
    }
}

/// `<send-request>` (and, without a response variable, `<send-one-way-request>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// Default `new` (expr).
    pub mode: Param<RequestMode>,
    /// `response-variable-name` (expr); `None` for send-one-way-request.
    pub response_variable_name: Option<Param<String>>,
    /// Seconds; default [`SendRequest::DEFAULT_TIMEOUT_SECS`] (expr).
    pub timeout: Param<u32>,
    /// Default false: an error fails the request (on-error); true stores null.
    pub ignore_error: bool,
    /// `<set-url>` (expr): required unless the mode is `copy`.
    pub url: Option<Param<String>>,
    /// `<set-method>` (no expressions): required unless the mode is `copy`.
    pub method: Option<String>,
    /// `<set-header>`s, applied in order.
    pub headers: Vec<SetParameter>,
    pub body: Option<SetBody>,
    pub certificate: Option<AuthenticationCertificate>,
}

impl SendRequest {
    /// APIM's default send-request timeout.
    pub const DEFAULT_TIMEOUT_SECS: u32 = 60;
}

pub(super) const ATTRIBUTES: &[&str] = &[
    "id",
    "mode",
    "response-variable-name",
    "timeout",
    "ignore-error",
];
pub(super) const ONE_WAY_ATTRIBUTES: &[&str] = &["id", "mode", "timeout"];

/// Reads either policy; `one_way` for send-one-way-request.
pub(super) fn send_request(
    el: &XmlElement,
    a: &Attrs<'_>,
    ctx: Ctx,
    path: &str,
    one_way: bool,
) -> Result<SendRequest, PolicyError> {
    let mode = a
        .param("mode", RequestMode::parse)?
        .unwrap_or_else(|| Param::Literal(RequestMode::New, a.empty()));
    let response_variable_name = if one_way {
        None
    } else {
        Some(a.required(
            a.param("response-variable-name", super::non_empty)?,
            "response-variable-name",
        )?)
    };
    let mut request = SendRequest {
        mode,
        response_variable_name,
        timeout: a
            .param("timeout", parse_u32)?
            .unwrap_or_else(|| Param::Literal(SendRequest::DEFAULT_TIMEOUT_SECS, a.empty())),
        ignore_error: a.literal("ignore-error", parse_bool)?.unwrap_or(false),
        url: None,
        method: None,
        headers: Vec::new(),
        body: None,
        certificate: None,
    };
    let mut counter = SiblingCounter::default();
    for child in child_elements(el)? {
        let child_path = counter.path(path, &child.name);
        let once = |given: bool| {
            if given {
                Err(structure(
                    child,
                    &format!("<{}> has more than one <{}>", el.name, child.name),
                ))
            } else {
                Ok(())
            }
        };
        match child.name.as_str() {
            "set-url" => {
                once(request.url.is_some())?;
                Attrs::new(child, &[])?;
                request.url = Some(text_param(child, |s| absolute_url(s.trim()))?);
            }
            "set-method" => {
                once(request.method.is_some())?;
                Attrs::new(child, &[])?;
                let method = match text_param(child, method_name)? {
                    Param::Literal(method, _) => method,
                    Param::Expression(_) => {
                        return Err(structure(
                            child,
                            "<set-method> inside <send-request> takes no policy expressions (APIM); write the method",
                        ));
                    }
                };
                request.method = Some(method);
            }
            "set-header" | "set-body" | "authentication-certificate" => {
                match build_node(child, ctx, child_path)?.policy {
                    Policy::SetHeader(header) => request.headers.push(header),
                    Policy::SetBody(body) => {
                        once(request.body.is_some())?;
                        request.body = Some(body);
                    }
                    Policy::AuthenticationCertificate(certificate) => {
                        once(request.certificate.is_some())?;
                        request.certificate = Some(certificate);
                    }
                    _ => {}
                }
            }
            "proxy" | "authentication-managed-identity" => {
                return Err(PolicyError::UnsupportedElement {
                    at: child.at.clone(),
                    name: child.name.clone(),
                    reason: super::azure_bound(&child.name).unwrap_or_else(|| {
                        format!(
                            "certgate does not implement <{}> inside <{}>; remove it",
                            child.name, el.name
                        )
                    }),
                });
            }
            other => {
                return Err(PolicyError::UnknownElement {
                    at: child.at.clone(),
                    name: other.to_owned(),
                    hint: format!(
                        " in <{}>: expected set-url, set-method, set-header, set-body or authentication-certificate",
                        el.name
                    ),
                });
            }
        }
    }
    if matches!(request.mode, Param::Literal(RequestMode::New, _)) {
        for (given, name) in [
            (request.url.is_some(), "set-url"),
            (request.method.is_some(), "set-method"),
        ] {
            if !given {
                return Err(structure(
                    el,
                    &format!("<{}> with mode=\"new\" needs a <{name}>", el.name),
                ));
            }
        }
    }
    Ok(request)
}

fn method_name(s: &str) -> Result<String, String> {
    let method = s.trim();
    if is_token(method) {
        Ok(method.to_owned())
    } else {
        Err(format!("`{method}` is not an HTTP method"))
    }
}
