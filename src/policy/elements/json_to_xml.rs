//! `<json-to-xml>`: attributes read and checked at load.

use super::{Attrs, PolicyError, SectionKind, XmlElement, no_children, non_empty, parse_bool};
use crate::policy::value::Param;

/// `apply` of `json-to-xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonApply {
    Always,
    /// Only when the message's Content-Type is JSON.
    ContentTypeJson,
}

impl JsonApply {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "always" => Ok(Self::Always),
            "content-type-json" => Ok(Self::ContentTypeJson),
            other => Err(format!(
                "`{other}` is not allowed; use always or content-type-json"
            )),
        }
    }
}

/// `<json-to-xml>` (APIM's json-to-xml policy reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonToXml {
    pub apply: Param<JsonApply>,
    /// Default true: convert only when the request's Accept asks for XML.
    pub consider_accept_header: Param<bool>,
    /// Default true: ISO 8601 strings are read as dates and written as .NET prints them.
    pub parse_date: bool,
    /// Default `_`.
    pub namespace_separator: Param<char>,
    pub namespace_prefix: Option<Param<String>>,
    pub attribute_block_name: Option<Param<String>>,
    /// Converts the response (outbound, on-error), else the request.
    pub(crate) on_response: bool,
}

pub(super) const ATTRIBUTES: &[&str] = &[
    "id",
    "apply",
    "consider-accept-header",
    "parse-date",
    "namespace-separator",
    "namespace-prefix",
    "attribute-block-name",
];

/// One character, as `namespace-separator` takes.
pub(crate) fn parse_separator(s: &str) -> Result<char, String> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!(
            "`{s}` is not one character; the namespace separator is a single character such as _ or :"
        )),
    }
}

pub(super) fn json_to_xml(
    el: &XmlElement,
    a: &Attrs<'_>,
    section: SectionKind,
) -> Result<JsonToXml, PolicyError> {
    no_children(el)?;
    Ok(JsonToXml {
        apply: a.required(a.param("apply", JsonApply::parse)?, "apply")?,
        consider_accept_header: a
            .param("consider-accept-header", parse_bool)?
            .unwrap_or_else(|| Param::Literal(true, a.empty())),
        parse_date: a.literal("parse-date", parse_bool)?.unwrap_or(true),
        namespace_separator: a
            .param("namespace-separator", parse_separator)?
            .unwrap_or_else(|| Param::Literal('_', a.empty())),
        namespace_prefix: a.param("namespace-prefix", non_empty)?,
        attribute_block_name: a.param("attribute-block-name", non_empty)?,
        on_response: matches!(section, SectionKind::Outbound | SectionKind::OnError),
    })
}
