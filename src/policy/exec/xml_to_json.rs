//! `xml-to-json`: the XML body becomes JSON as APIM writes it.
//!
//! The mapping follows Newtonsoft's `SerializeXmlNode` conventions with what APIM was
//! seen to change: an element with text only is a string, an empty one `null`; otherwise
//! an object with `@name` attributes, `#text` and one property per child name (an array
//! when the name repeats, or always with `always-array-child-elements`); all values are
//! strings; the `:` of a prefixed name is written `$` (`soap$Envelope`, `@xmlns$soap`);
//! CDATA is text. `kind="direct"` also keeps what else the document holds: the XML
//! declaration's `version`, `encoding` and `standalone` as top-level properties (APIM's
//! observed output), comments as `#comment` and processing instructions as `?target`;
//! `javascript-friendly` leaves those out. The text is Newtonsoft's indented JSON.
//!
//! The body is read by [`crate::xml::read`], the reader `XDocument` uses too.

use std::collections::HashMap;
use std::sync::Arc;

use super::param::{self, FromValue};
use super::transform::{self, Conversion, Format, MAX_CONVERTED_BYTES, MAX_NODES};
use super::{Exchange, Failure, Flow};
use crate::expr::Value;
use crate::expr::json::{Items, J, Props, write};
use crate::policy::SectionKind;
use crate::policy::elements::{XmlApply, XmlToJson, XmlToJsonKind};
use crate::xml::{self, Element, Node, ReadError};

const POLICY: &str = "xml-to-json";

impl FromValue for XmlApply {
    const EXPECTED: &'static str = "always or content-type-xml";
    fn from_value(value: &Value) -> Option<Self> {
        Self::parse(value.as_str()?).ok()
    }
}

impl FromValue for XmlToJsonKind {
    const EXPECTED: &'static str = "javascript-friendly or direct";
    fn from_value(value: &Value) -> Option<Self> {
        Self::parse(value.as_str()?).ok()
    }
}

/// Converts the message's body when the policy applies to it.
pub(super) fn xml_to_json(
    t: &XmlToJson,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    let ctx = &x.ctx;
    let kind = param::eval(&t.kind, ctx, POLICY)?;
    let always_array = param::eval(&t.always_array_child_elements, ctx, POLICY)?;
    let conversion = Conversion {
        policy: POLICY,
        from: Format::Xml,
        to: Format::Json,
        on_response: t.on_response,
        content_type_only: param::eval(&t.apply, ctx, POLICY)? == XmlApply::ContentTypeXml,
        consider_accept: param::eval(&t.consider_accept_header, ctx, POLICY)?,
    };
    transform::run(x, section, path, &conversion, |xml| {
        convert(xml, kind, always_array)
    })
}

/// Why an XML body has no JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConvertError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("the JSON would be larger than {MAX_CONVERTED_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Json(String),
}

/// `xml` as JSON text.
pub(crate) fn convert(
    xml: &str,
    kind: XmlToJsonKind,
    always_array: bool,
) -> Result<String, ConvertError> {
    let document = xml::read(xml, MAX_NODES)?;
    let direct = kind == XmlToJsonKind::Direct;
    let root = &document.root;
    let mut props: Vec<Entry> = Vec::new();
    if direct {
        if let Some(d) = &document.declaration {
            props.push(("version".into(), string(&d.version), false));
            if let Some(encoding) = &d.encoding {
                props.push(("encoding".into(), string(encoding), false));
            }
            if let Some(standalone) = d.standalone {
                let yes = if standalone { "yes" } else { "no" };
                props.push(("standalone".into(), string(yes), false));
            }
        }
        props.extend(document.before.iter().filter_map(|n| entry(n, true, false)));
    }
    props.push((name(&root.name), value(root, direct, always_array), false));
    let json = group(props, false);
    if written_len(&json, 0) > MAX_CONVERTED_BYTES {
        return Err(ConvertError::TooLarge);
    }
    let mut out = String::new();
    write(&json, true, &mut out, &mut 0).map_err(|e| ConvertError::Json(e.to_string()))?;
    Ok(out)
}

fn string(s: &str) -> J {
    J::Str(Arc::from(s))
}

/// A property about to be grouped: name, value, and whether it is a child element.
type Entry = (String, J, bool);

/// An object of `entries`, a repeated name becoming an array at its first place;
/// with `always_array`, a child element's value is an array even when alone.
fn group(entries: Vec<Entry>, always_array: bool) -> J {
    let mut grouped: Vec<(Arc<str>, Vec<J>, bool)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, value, element) in entries {
        match index.get(&name) {
            Some(&i) => {
                if let Some(slot) = grouped.get_mut(i) {
                    slot.1.push(value);
                }
            }
            None => {
                grouped.push((Arc::from(name.as_str()), vec![value], element));
                index.insert(name, grouped.len() - 1);
            }
        }
    }
    J::Object(Props::new(
        grouped
            .into_iter()
            .map(|(name, mut values, element)| {
                let value = if values.len() == 1 && !(element && always_array) {
                    values.pop().unwrap_or(J::Null)
                } else {
                    J::Array(Items::new(values))
                };
                (name, value)
            })
            .collect(),
    ))
}

/// Text and CDATA next to each other are one text.
fn merged_texts(children: &[Node]) -> Vec<Merged<'_>> {
    let mut out: Vec<Merged<'_>> = Vec::new();
    for child in children {
        let text = match child {
            Node::Text(t) | Node::CData(t) => t,
            other => {
                out.push(Merged::Node(other));
                continue;
            }
        };
        match out.last_mut() {
            Some(Merged::Text(previous)) => previous.push_str(text),
            _ => out.push(Merged::Text(text.clone())),
        }
    }
    out
}

enum Merged<'a> {
    Text(String),
    Node(&'a Node),
}

/// The property of a child node other than text; comments and instructions only
/// when `direct`.
fn entry(node: &Node, direct: bool, always_array: bool) -> Option<Entry> {
    Some(match node {
        Node::Text(text) | Node::CData(text) => ("#text".to_owned(), string(text), false),
        Node::Comment(text) if direct => ("#comment".to_owned(), string(text), false),
        Node::Instruction { target, content } if direct => {
            (format!("?{target}"), string(content), false)
        }
        Node::Element(child) => (name(&child.name), value(child, direct, always_array), true),
        Node::Comment(_) | Node::Instruction { .. } => return None,
    })
}

/// The JSON value of an element. Depth is bounded by the reader.
fn value(element: &Element, direct: bool, always_array: bool) -> J {
    let children: Vec<Entry> = merged_texts(&element.children)
        .into_iter()
        .filter_map(|m| match m {
            Merged::Text(text) => Some(("#text".to_owned(), J::Str(Arc::from(text)), false)),
            Merged::Node(node) => entry(node, direct, always_array),
        })
        .collect();
    if element.attributes.is_empty() {
        match children.as_slice() {
            [] => return J::Null,
            [(n, text @ J::Str(_), false)] if n == "#text" => return text.clone(),
            _ => {}
        }
    }
    let mut entries: Vec<Entry> = element
        .attributes
        .iter()
        .map(|(n, value)| (format!("@{}", name(n)), string(value), false))
        .collect();
    entries.extend(children);
    group(entries, always_array)
}

/// At least the length of `j` written indented at `depth`, without writing it.
fn written_len(j: &J, depth: usize) -> usize {
    let line = 2 * depth + 4;
    match j {
        J::Str(s) => quoted_len(s),
        J::Array(items) => items
            .get()
            .iter()
            .map(|item| line + written_len(item, depth + 1))
            .fold(line, usize::saturating_add),
        J::Object(props) => props
            .get()
            .iter()
            .map(|(name, value)| line + quoted_len(name) + 2 + written_len(value, depth + 1))
            .fold(line, usize::saturating_add),
        _ => 8,
    }
}

/// The length of `s` as a JSON string with Newtonsoft's escaping.
fn quoted_len(s: &str) -> usize {
    let escapes: usize = s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 1,
            c if (c as u32) < 0x20 => 5,
            '\u{85}' => 4,
            '\u{2028}' | '\u{2029}' => 3,
            _ => 0,
        })
        .sum();
    s.len() + escapes + 2
}

/// `prefix:local` as APIM writes it in JSON: `prefix$local`.
fn name(n: &xml::Name) -> String {
    if n.prefix.is_empty() {
        n.local.clone()
    } else {
        format!("{}${}", n.prefix, n.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(xml: &str) -> String {
        convert(xml, XmlToJsonKind::Direct, false).unwrap()
    }

    #[test]
    fn text_elements_are_strings_and_empty_ones_null() {
        assert_eq!(
            json("<r><a>1</a><b/><c></c><d>  </d></r>"),
            "{\n  \"r\": {\n    \"a\": \"1\",\n    \"b\": null,\n    \"c\": null,\n    \"d\": null\n  }\n}"
        );
    }

    #[test]
    fn repeated_children_become_arrays_at_their_first_place() {
        assert_eq!(
            json("<r><a>1</a><b>x</b><a>2</a></r>"),
            "{\n  \"r\": {\n    \"a\": [\n      \"1\",\n      \"2\"\n    ],\n    \"b\": \"x\"\n  }\n}"
        );
        assert_eq!(
            convert("<r><a>1</a></r>", XmlToJsonKind::Direct, true).unwrap(),
            "{\n  \"r\": {\n    \"a\": [\n      \"1\"\n    ]\n  }\n}"
        );
    }

    #[test]
    fn attributes_text_and_namespaces() {
        assert_eq!(
            json(r#"<s:e xmlns:s="urn:s" id="1">t<x:y>&lt;&#65;&#x42;</x:y>u</s:e>"#),
            "{\n  \"s$e\": {\n    \"@xmlns$s\": \"urn:s\",\n    \"@id\": \"1\",\n    \"#text\": [\n      \"t\",\n      \"u\"\n    ],\n    \"x$y\": \"<AB\"\n  }\n}"
        );
        assert_eq!(
            json("<a><![CDATA[<x>]]> &amp; y</a>"),
            "{\n  \"a\": \"<x> & y\"\n}"
        );
        assert_eq!(
            json("<a b=\"1\n2\"/>"),
            "{\n  \"a\": {\n    \"@b\": \"1 2\"\n  }\n}"
        );
    }

    #[test]
    fn direct_keeps_the_declaration_and_comments_javascript_friendly_does_not() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><!--c--><r><!--d-->x</r>";
        assert_eq!(
            json(xml),
            "{\n  \"version\": \"1.0\",\n  \"encoding\": \"utf-8\",\n  \"#comment\": \"c\",\n  \"r\": {\n    \"#comment\": \"d\",\n    \"#text\": \"x\"\n  }\n}"
        );
        assert_eq!(
            convert(xml, XmlToJsonKind::JavascriptFriendly, false).unwrap(),
            "{\n  \"r\": \"x\"\n}"
        );
    }

    #[test]
    fn strings_are_escaped_as_newtonsoft_writes_them() {
        assert_eq!(
            json("<a>\"q\"\\\t\r\n\r</a>"),
            "{\n  \"a\": \"\\\"q\\\"\\\\\\t\\n\\n\"\n}"
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let bad = |xml: &str| convert(xml, XmlToJsonKind::Direct, false).unwrap_err();
        assert_eq!(bad(""), ConvertError::Read(ReadError::NoRoot));
        assert_eq!(
            bad("<a>&e;</a>").to_string(),
            "`&e;` is not one of XML's predefined entities or a character reference"
        );
    }

    #[test]
    fn the_number_of_nodes_is_bounded() {
        let xml = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES));
        assert_eq!(
            convert(&xml, XmlToJsonKind::Direct, false),
            Err(ConvertError::Read(ReadError::TooManyNodes(MAX_NODES)))
        );
    }

    #[test]
    fn many_names_take_linear_time_and_oversized_output_is_refused() {
        let children: String = (0..100_000).map(|i| format!("<n{i}/>")).collect();
        let out = json(&format!("<r>{children}<n7/></r>"));
        assert!(out.contains("\"n7\": [\n      null,\n      null\n    ],"));
        // Deep indentation repeated: about 1.3 MB in, over 32 MiB out.
        let deep = format!(
            "{}{}{}",
            "<a>".repeat(60),
            "<b/>".repeat(300_000),
            "</a>".repeat(60)
        );
        assert_eq!(
            convert(&deep, XmlToJsonKind::Direct, false),
            Err(ConvertError::TooLarge)
        );
    }
}
