//! `<xml-to-json>`: attributes read and checked at load.

use super::{Attrs, PolicyError, SectionKind, XmlElement, no_children, parse_bool};
use crate::policy::value::Param;

/// `kind` of `xml-to-json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlToJsonKind {
    /// Elements, attributes and text only.
    JavascriptFriendly,
    /// Also the document's declaration, comments and processing instructions.
    Direct,
}

impl XmlToJsonKind {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "javascript-friendly" => Ok(Self::JavascriptFriendly),
            "direct" => Ok(Self::Direct),
            other => Err(format!(
                "`{other}` is not allowed; use javascript-friendly or direct"
            )),
        }
    }
}

/// `apply` of `xml-to-json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlApply {
    Always,
    /// Only when the message's Content-Type is XML.
    ContentTypeXml,
}

impl XmlApply {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "always" => Ok(Self::Always),
            "content-type-xml" => Ok(Self::ContentTypeXml),
            other => Err(format!(
                "`{other}` is not allowed; use always or content-type-xml"
            )),
        }
    }
}

/// `<xml-to-json>` (APIM's xml-to-json policy reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlToJson {
    pub kind: Param<XmlToJsonKind>,
    pub apply: Param<XmlApply>,
    /// Default true: convert only when the request's Accept asks for JSON.
    pub consider_accept_header: Param<bool>,
    /// Default false: only repeated child elements become arrays.
    pub always_array_child_elements: Param<bool>,
    /// Converts the response (outbound, on-error), else the request.
    pub(crate) on_response: bool,
}

pub(super) const ATTRIBUTES: &[&str] = &[
    "id",
    "kind",
    "apply",
    "consider-accept-header",
    "always-array-child-elements",
];

pub(super) fn xml_to_json(
    el: &XmlElement,
    a: &Attrs<'_>,
    section: SectionKind,
) -> Result<XmlToJson, PolicyError> {
    no_children(el)?;
    Ok(XmlToJson {
        kind: a.required(a.param("kind", XmlToJsonKind::parse)?, "kind")?,
        apply: a.required(a.param("apply", XmlApply::parse)?, "apply")?,
        consider_accept_header: a
            .param("consider-accept-header", parse_bool)?
            .unwrap_or_else(|| Param::Literal(true, a.empty())),
        always_array_child_elements: a
            .param("always-array-child-elements", parse_bool)?
            .unwrap_or_else(|| Param::Literal(false, a.empty())),
        on_response: matches!(section, SectionKind::Outbound | SectionKind::OnError),
    })
}
