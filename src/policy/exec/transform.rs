//! What `json-to-xml` and `xml-to-json` share: whether this message is converted
//! (`apply`, `consider-accept-header`), reading its body, and putting the converted body
//! and its Content-Type in place.

use http::StatusCode;

use super::message::Target;
use super::{Exchange, Failure, Flow};
use crate::expr::{Body, Context, Headers};
use crate::policy::SectionKind;

/// Largest converted body: twice the largest body the gateway reads
/// (`MAX_BUFFERED_BODY`), as names repeat and indentation grows with depth; a
/// conversion that would write more fails before it takes the memory.
pub(crate) const MAX_CONVERTED_BYTES: usize = 32 * 1024 * 1024;

/// Most elements, attributes and texts a conversion builds (the bound of every XML
/// document read).
pub(crate) use crate::xml::MAX_NODES;

/// The two formats the transforms convert between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Xml,
}

impl Format {
    /// The Content-Type a converted body gets.
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml",
        }
    }

    /// Whether a media type (`type/subtype`, any parameters) is this format:
    /// `application/json`, `text/json` and `*/*+json`; the same for XML.
    pub(super) fn is(self, media_type: &str) -> bool {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let name = match self {
            Format::Json => "json",
            Format::Xml => "xml",
        };
        let Some((kind, subtype)) = essence.split_once('/') else {
            return false;
        };
        (subtype == name && (kind == "application" || kind == "text"))
            || subtype
                .strip_suffix(name)
                .is_some_and(|rest| rest.ends_with('+') && rest.len() > 1)
    }
}

/// Whether the policy converts the message now: with `content_type_only`, the
/// message's Content-Type must be `from`; with `consider_accept`, the request's Accept
/// must name `to` (a wildcard such as `*/*` does not).
fn applies(
    ctx: &Context,
    target: Target,
    from: Format,
    to: Format,
    content_type_only: bool,
    consider_accept: bool,
) -> bool {
    let headers = headers(ctx, target);
    if content_type_only
        && !headers
            .get("Content-Type")
            .and_then(|values| values.first())
            .is_some_and(|value| from.is(value))
    {
        return false;
    }
    !consider_accept
        || ctx.request.headers.get("Accept").is_some_and(|values| {
            values
                .iter()
                .flat_map(|value| value.split(','))
                .any(|item| to.is(item))
        })
}

fn headers(ctx: &Context, target: Target) -> &Headers {
    match target {
        Target::Request => &ctx.request.headers,
        Target::Response => &ctx.response.headers,
    }
}

/// The message's body as text; `None` when there is none (nothing to convert).
fn body_text(
    ctx: &Context,
    target: Target,
    policy: &'static str,
) -> Result<Option<String>, Failure> {
    let body = match target {
        Target::Request => &ctx.request.body,
        Target::Response => &ctx.response.body,
    };
    let Some(body) = body else { return Ok(None) };
    // The policy marks its message as read (`Node::reads`), so the body is whole.
    let Some(bytes) = body.read(true) else {
        return Err(Failure::new(
            policy,
            "BodyNotBuffered",
            "the body was streamed, not read whole",
            StatusCode::INTERNAL_SERVER_ERROR,
        ));
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Ok(Some(text)),
        Err(_) => Err(invalid(
            policy,
            target,
            "the body is not UTF-8 text".to_owned(),
        )),
    }
}

/// A body that could not be converted: the client's fault for a request (400), the
/// backend's for a response (502).
fn invalid(policy: &'static str, target: Target, message: String) -> Failure {
    let status = match target {
        Target::Request => StatusCode::BAD_REQUEST,
        Target::Response => StatusCode::BAD_GATEWAY,
    };
    Failure::new(policy, "BodyConversionFailure", message, status)
}

/// What a transform decided for this message, its attributes evaluated.
pub(super) struct Conversion {
    pub policy: &'static str,
    pub from: Format,
    pub to: Format,
    pub on_response: bool,
    /// `apply="content-type-json"` (`-xml`).
    pub content_type_only: bool,
    pub consider_accept: bool,
}

/// Converts the message's body with `convert` when the conversion applies to it, and
/// notes in the trace whether it did; the pipeline goes on either way.
pub(super) fn run<E: std::fmt::Display>(
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
    c: &Conversion,
    convert: impl FnOnce(&str) -> Result<String, E>,
) -> Result<Flow, Failure> {
    let converted = convert_body(&mut x.ctx, c, convert)?;
    x.note(section, path, || {
        if converted {
            "converted"
        } else {
            "not applied"
        }
        .to_owned()
    });
    Ok(Flow::Continue)
}

/// Whether the body was converted.
fn convert_body<E: std::fmt::Display>(
    ctx: &mut Context,
    c: &Conversion,
    convert: impl FnOnce(&str) -> Result<String, E>,
) -> Result<bool, Failure> {
    let target = if c.on_response {
        Target::Response
    } else {
        Target::Request
    };
    if !applies(
        ctx,
        target,
        c.from,
        c.to,
        c.content_type_only,
        c.consider_accept,
    ) {
        return Ok(false);
    }
    let Some(text) = body_text(ctx, target, c.policy)? else {
        return Ok(false);
    };
    let converted =
        convert(&text).map_err(|e| invalid(c.policy, target, format!("the body: {e}")))?;
    replace(ctx, target, converted, c.to);
    Ok(true)
}

/// Puts the converted body in place with its Content-Type.
fn replace(ctx: &mut Context, target: Target, text: String, to: Format) {
    let (headers, body) = match target {
        Target::Request => (&mut ctx.request.headers, &mut ctx.request.body),
        Target::Response => (&mut ctx.response.headers, &mut ctx.response.body),
    };
    headers.set("Content-Type", vec![to.content_type().to_owned()]);
    *body = Some(Body::new(text.into_bytes()));
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn media_types_are_matched_by_type_and_suffix() {
        assert!(Format::Json.is("application/json; charset=utf-8"));
        assert!(Format::Json.is("Text/JSON"));
        assert!(Format::Json.is("application/problem+json"));
        assert!(!Format::Json.is("application/jsonx"));
        assert!(!Format::Json.is("*/*"));
        assert!(!Format::Json.is("application/+json"));
        assert!(Format::Xml.is("text/xml"));
        assert!(Format::Xml.is("application/soap+xml"));
        assert!(!Format::Xml.is("application/json"));
    }
}
