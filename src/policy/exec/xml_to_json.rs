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
//! The reader refuses DTDs (no entity expansion), unknown entities, mismatched end
//! tags and nesting deeper than [`MAX_DEPTH`]; it keeps open elements on a stack, so
//! it does not recurse while reading.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use xmlparser::{ElementEnd, Token, Tokenizer};

use super::param::{self, FromValue};
use super::transform::{self, Conversion, Format, MAX_CONVERTED_BYTES, MAX_NODES};
use super::{Exchange, Failure, Flow};
use crate::expr::Value;
use crate::expr::json::{Items, J, Props, write};
use crate::policy::SectionKind;
use crate::policy::elements::{XmlApply, XmlToJson, XmlToJsonKind};

const POLICY: &str = "xml-to-json";

/// Deepest element nesting of a converted body.
pub(crate) const MAX_DEPTH: usize = 64;

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
    #[error("it is not well-formed XML: {0}")]
    Syntax(String),
    #[error("it declares a DTD, which certgate does not read (no entity expansion)")]
    Dtd,
    #[error("`&{0};` is not one of XML's predefined entities or a character reference")]
    Entity(String),
    #[error("</{found}> closes <{open}>")]
    Mismatch { open: String, found: String },
    #[error("<{0}> is not closed")]
    Unclosed(String),
    #[error("the attribute `{0}` is repeated")]
    Duplicate(String),
    #[error("it has no root element")]
    NoRoot,
    #[error("elements are nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error("it has more than {MAX_NODES} elements, attributes and texts")]
    TooManyNodes,
    #[error("the JSON would be larger than {MAX_CONVERTED_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Json(String),
}

/// An element as read.
#[derive(Debug, Default)]
struct Element {
    /// `prefix$local`.
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
    Comment(String),
    Instruction(String, String),
}

/// The document: what precedes the root (declaration, comments, instructions) and
/// the root.
#[derive(Debug, Default)]
struct Document {
    prolog: Vec<(String, J)>,
    root: Option<Element>,
}

/// `xml` as JSON text.
pub(crate) fn convert(
    xml: &str,
    kind: XmlToJsonKind,
    always_array: bool,
) -> Result<String, ConvertError> {
    let document = read(xml.strip_prefix('\u{feff}').unwrap_or(xml))?;
    let direct = kind == XmlToJsonKind::Direct;
    let root = document.root.ok_or(ConvertError::NoRoot)?;
    let mut props: Vec<Entry> = Vec::new();
    if direct {
        props.extend(document.prolog.into_iter().map(|(n, v)| (n, v, false)));
    }
    props.push((root.name.clone(), value(&root, direct, always_array), false));
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

/// The JSON value of an element. Depth is bounded by the reader.
fn value(element: &Element, direct: bool, always_array: bool) -> J {
    let shown = |node: &&Node| match node {
        Node::Comment(_) | Node::Instruction(..) => direct,
        _ => true,
    };
    let children: Vec<&Node> = element.children.iter().filter(shown).collect();
    if element.attributes.is_empty() {
        match children.as_slice() {
            [] => return J::Null,
            [Node::Text(text)] => return string(text),
            _ => {}
        }
    }
    let mut entries: Vec<Entry> = element
        .attributes
        .iter()
        .map(|(name, value)| (format!("@{name}"), string(value), false))
        .collect();
    for child in children {
        entries.push(match child {
            Node::Text(text) => ("#text".to_owned(), string(text), false),
            Node::Comment(text) => ("#comment".to_owned(), string(text), false),
            Node::Instruction(target, content) => (format!("?{target}"), string(content), false),
            Node::Element(child) => (child.name.clone(), value(child, direct, always_array), true),
        });
    }
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

/// `prefix:local` as APIM writes it in JSON.
fn name(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_owned()
    } else {
        format!("{prefix}${local}")
    }
}

fn syntax(e: xmlparser::Error) -> ConvertError {
    ConvertError::Syntax(e.to_string())
}

/// Reads the document into a tree, with no recursion.
fn read(xml: &str) -> Result<Document, ConvertError> {
    let mut document = Document::default();
    // Open elements, innermost last; the one being started is the last too.
    let mut open: Vec<Element> = Vec::new();
    let mut nodes = 0;
    for token in Tokenizer::from(xml) {
        let token = token.map_err(syntax)?;
        if !matches!(token, Token::ElementEnd { .. } | Token::Text { .. }) {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err(ConvertError::TooManyNodes);
            }
        }
        match token {
            Token::Declaration {
                version,
                encoding,
                standalone,
                ..
            } => {
                document.prolog.push(("version".into(), string(&version)));
                if let Some(encoding) = encoding {
                    document.prolog.push(("encoding".into(), string(&encoding)));
                }
                if let Some(standalone) = standalone {
                    let yes = if standalone { "yes" } else { "no" };
                    document.prolog.push(("standalone".into(), string(yes)));
                }
            }
            Token::ProcessingInstruction {
                target, content, ..
            } => {
                let content = content.map(|c| c.as_str()).unwrap_or_default();
                match open.last_mut() {
                    Some(parent) => parent
                        .children
                        .push(Node::Instruction(target.to_string(), content.to_owned())),
                    None if document.root.is_none() => document
                        .prolog
                        .push((format!("?{target}"), string(content))),
                    None => {}
                }
            }
            Token::Comment { text, .. } => match open.last_mut() {
                Some(parent) => parent.children.push(Node::Comment(text.to_string())),
                None if document.root.is_none() => {
                    document.prolog.push(("#comment".into(), string(&text)));
                }
                None => {}
            },
            Token::DtdStart { .. }
            | Token::EmptyDtd { .. }
            | Token::EntityDeclaration { .. }
            | Token::DtdEnd { .. } => return Err(ConvertError::Dtd),
            Token::ElementStart { prefix, local, .. } => {
                if document.root.is_some() {
                    return Err(ConvertError::Syntax("a second root element".into()));
                }
                if open.len() >= MAX_DEPTH {
                    return Err(ConvertError::TooDeep);
                }
                open.push(Element {
                    name: name(&prefix, &local),
                    ..Element::default()
                });
            }
            Token::Attribute {
                prefix,
                local,
                value,
                ..
            } => {
                let value = unescape(&normalize_attribute(&value))?;
                if let Some(element) = open.last_mut() {
                    element.attributes.push((name(&prefix, &local), value));
                }
            }
            Token::ElementEnd { end, .. } => {
                if let (ElementEnd::Open | ElementEnd::Empty, Some(element)) = (end, open.last()) {
                    unique(&element.attributes)?;
                }
                let close = match end {
                    ElementEnd::Open => continue,
                    ElementEnd::Empty => true,
                    ElementEnd::Close(prefix, local) => {
                        let found = name(&prefix, &local);
                        let open_name = open.last().map(|e| e.name.as_str()).unwrap_or_default();
                        if found != open_name {
                            return Err(ConvertError::Mismatch {
                                open: open_name.replace('$', ":"),
                                found: found.replace('$', ":"),
                            });
                        }
                        true
                    }
                };
                if close && let Some(element) = open.pop() {
                    match open.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(element)),
                        None => document.root = Some(element),
                    }
                }
            }
            Token::Text { text } => {
                let text = text.as_str();
                match open.last_mut() {
                    Some(parent) if !text.trim().is_empty() => {
                        push_text(parent, unescape(&line_ends(text))?);
                    }
                    // Whitespace between elements, or text outside the root (the
                    // tokenizer only lets whitespace through there).
                    _ => {}
                }
            }
            Token::Cdata { text, .. } => {
                if let Some(parent) = open.last_mut() {
                    push_text(parent, line_ends(&text));
                }
            }
        }
    }
    if let Some(element) = open.last() {
        return Err(ConvertError::Unclosed(element.name.replace('$', ":")));
    }
    Ok(document)
}

/// An element's attributes, each name once.
fn unique(attributes: &[(String, String)]) -> Result<(), ConvertError> {
    let mut seen = HashSet::new();
    match attributes
        .iter()
        .find(|(name, _)| !seen.insert(name.as_str()))
    {
        Some((name, _)) => Err(ConvertError::Duplicate(name.replace('$', ":"))),
        None => Ok(()),
    }
}

/// Text and CDATA next to each other are one text.
fn push_text(parent: &mut Element, text: String) {
    match parent.children.last_mut() {
        Some(Node::Text(previous)) => previous.push_str(&text),
        _ => parent.children.push(Node::Text(text)),
    }
}

/// XML's end-of-line handling: `\r\n` and a lone `\r` read as `\n`.
fn line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// XML's attribute-value normalisation: tabs and line breaks read as spaces.
fn normalize_attribute(value: &str) -> String {
    value.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ")
}

/// Replaces the predefined entities and character references.
fn unescape(text: &str) -> Result<String, ConvertError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        let Some(end) = after.find(';') else {
            return Err(ConvertError::Syntax(
                "a `&` that starts no reference".into(),
            ));
        };
        let entity = after.get(..end).unwrap_or_default();
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        out.push(c.ok_or_else(|| ConvertError::Entity(entity.chars().take(32).collect()))?);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
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
        assert_eq!(
            bad("<a></b>"),
            ConvertError::Mismatch {
                open: "a".into(),
                found: "b".into()
            }
        );
        assert_eq!(bad("<a>"), ConvertError::Unclosed("a".into()));
        assert_eq!(bad(""), ConvertError::NoRoot);
        assert!(matches!(bad("<a/><b/>"), ConvertError::Syntax(_)));
        assert_eq!(
            bad("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
            ConvertError::Dtd
        );
        assert_eq!(bad("<a>&e;</a>"), ConvertError::Entity("e".into()));
        assert!(matches!(bad("{\"json\": 1}"), ConvertError::Syntax(_)));
        assert_eq!(bad("<a b='1' b='2'/>"), ConvertError::Duplicate("b".into()));
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(bad(&deep), ConvertError::TooDeep);
    }

    #[test]
    fn the_number_of_nodes_is_bounded() {
        let xml = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES));
        assert_eq!(
            convert(&xml, XmlToJsonKind::Direct, false),
            Err(ConvertError::TooManyNodes)
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
