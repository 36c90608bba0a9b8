//! `<trace source="..." severity="..."><message/><metadata/></trace>`, and the original
//! `<trace source="...">message</trace>`.

use super::{
    Attrs, PolicyError, XmlElement, XmlNode, any_text, child_elements, no_children, non_empty,
    structure, text_param,
};
use crate::policy::value::Param;

/// `severity` of `trace`, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceSeverity {
    /// The default; logged at DEBUG.
    Verbose,
    /// Logged at INFO.
    Information,
    /// Logged at ERROR.
    Error,
}

impl TraceSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verbose => "verbose",
            Self::Information => "information",
            Self::Error => "error",
        }
    }
}

/// One `<metadata name="..." value="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceMetadata {
    pub name: Param<String>,
    pub value: Param<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// No expressions.
    pub source: String,
    pub severity: TraceSeverity,
    pub message: Param<String>,
    pub metadata: Vec<TraceMetadata>,
}

pub(super) fn trace(el: &XmlElement, a: &Attrs<'_>) -> Result<Trace, PolicyError> {
    let source = a.required(a.literal("source", non_empty)?, "source")?;
    let severity = a
        .literal("severity", |s| match s {
            "verbose" => Ok(TraceSeverity::Verbose),
            "information" => Ok(TraceSeverity::Information),
            "error" => Ok(TraceSeverity::Error),
            _ => Err(format!(
                "`{s}` is not a severity; use verbose, information or error"
            )),
        })?
        .unwrap_or(TraceSeverity::Verbose);
    let mut message = None;
    let mut metadata = Vec::new();
    // The original form, which APIM still runs: the message as the element's own text.
    let blank = |c: &XmlNode| matches!(c, XmlNode::Text(t) if t.source().trim().is_empty());
    let text_only = el.children.iter().all(|c| matches!(c, XmlNode::Text(_)));
    let children = if text_only && !el.children.iter().all(blank) {
        message = Some(text_param(el, any_text)?);
        Vec::new()
    } else {
        child_elements(el)?
    };
    for child in children {
        match child.name.as_str() {
            "message" if message.is_some() => {
                return Err(structure(child, "<trace> has more than one <message>"));
            }
            "message" => {
                Attrs::new(child, &[])?;
                message = Some(text_param(child, any_text)?);
            }
            "metadata" => {
                let m = Attrs::new(child, &["name", "value"])?;
                no_children(child)?;
                metadata.push(TraceMetadata {
                    name: m.required(m.param("name", non_empty)?, "name")?,
                    value: m.required(m.param("value", any_text)?, "value")?,
                });
            }
            other => {
                return Err(PolicyError::UnknownElement {
                    at: child.at.clone(),
                    name: other.to_owned(),
                    hint: " in <trace>: only <message> and <metadata> are allowed".into(),
                });
            }
        }
    }
    let message = message.ok_or_else(|| {
        structure(
            el,
            "<trace> needs a <message> with the text (or expression) to log",
        )
    })?;
    Ok(Trace {
        source,
        severity,
        message,
        metadata,
    })
}
