//! XML text read into a tree, the one reader of message bodies for `xml-to-json` and
//! for `XDocument` in expressions (so both accept and refuse the same documents).
//!
//! The reader refuses DTDs (no entity expansion), unknown entities, mismatched end
//! tags, repeated attributes and nesting deeper than `MAX_DEPTH` (64); it keeps open
//! elements on a stack, so it does not recurse while reading. As .NET's readers with
//! default settings, it drops whitespace-only text between markup (`XDocument.Parse`'s
//! `LoadOptions.None`), reads `\r\n` and a lone `\r` as `\n`, and normalises attribute
//! values (tabs and line breaks read as spaces). Names are kept as written
//! (`prefix`, `local`); resolving namespaces is the caller's business.

use std::collections::HashSet;

use xmlparser::{ElementEnd, Token, Tokenizer};

/// Deepest element nesting of a document read.
pub(crate) const MAX_DEPTH: usize = 64;

/// Most elements, attributes and texts of a document read or converted: about 100
/// bytes of memory each, so a body of tiny elements (`<a/>` is 4 bytes) cannot take 25
/// times its size (the Lambda function has 256 MB).
pub(crate) const MAX_NODES: usize = 500_000;

/// Why a text is not a document certgate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
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
    #[error("it has more than {0} elements, attributes and texts")]
    TooManyNodes(usize),
}

/// A name as written: `prefix:local`, the prefix empty when there is none.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Name {
    pub prefix: String,
    pub local: String,
}

impl Name {
    /// `prefix:local` (or `local`), for messages.
    pub(crate) fn qualified(&self) -> String {
        if self.prefix.is_empty() {
            self.local.clone()
        } else {
            format!("{}:{}", self.prefix, self.local)
        }
    }
}

/// An element as read.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: Name,
    /// In document order; namespace declarations (`xmlns`, `xmlns:p`) among them.
    pub attributes: Vec<(Name, String)>,
    pub children: Vec<Node>,
    /// `<a/>` rather than `<a></a>` (`XElement.IsEmpty`).
    pub self_closing: bool,
}

#[derive(Debug)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
    CData(String),
    Comment(String),
    Instruction { target: String, content: String },
}

/// The XML declaration's fields.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Declaration {
    pub version: String,
    pub encoding: Option<String>,
    pub standalone: Option<bool>,
}

/// A document: the declaration, comments and instructions around the root, the root.
#[derive(Debug)]
pub(crate) struct Document {
    pub declaration: Option<Declaration>,
    pub before: Vec<Node>,
    pub root: Element,
    pub after: Vec<Node>,
}

fn syntax(e: xmlparser::Error) -> ReadError {
    ReadError::Syntax(e.to_string())
}

fn name(prefix: &str, local: &str) -> Name {
    Name {
        prefix: prefix.to_owned(),
        local: local.to_owned(),
    }
}

/// Reads `xml` (a leading byte-order mark skipped) with at most `max_nodes` elements,
/// attributes, comments and instructions.
pub(crate) fn read(xml: &str, max_nodes: usize) -> Result<Document, ReadError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut declaration = None;
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut root: Option<Element> = None;
    // Open elements, innermost last; the one being started is the last too.
    let mut open: Vec<Element> = Vec::new();
    let mut nodes = 0;
    for token in Tokenizer::from(xml) {
        let token = token.map_err(syntax)?;
        if !matches!(token, Token::ElementEnd { .. } | Token::Text { .. }) {
            nodes += 1;
            if nodes > max_nodes {
                return Err(ReadError::TooManyNodes(max_nodes));
            }
        }
        let node = match token {
            Token::Declaration {
                version,
                encoding,
                standalone,
                ..
            } => {
                declaration = Some(Declaration {
                    version: version.to_string(),
                    encoding: encoding.map(|e| e.to_string()),
                    standalone,
                });
                continue;
            }
            Token::ProcessingInstruction {
                target, content, ..
            } => Node::Instruction {
                target: target.to_string(),
                content: content.map(|c| c.to_string()).unwrap_or_default(),
            },
            Token::Comment { text, .. } => Node::Comment(text.to_string()),
            Token::DtdStart { .. }
            | Token::EmptyDtd { .. }
            | Token::EntityDeclaration { .. }
            | Token::DtdEnd { .. } => return Err(ReadError::Dtd),
            Token::ElementStart { prefix, local, .. } => {
                if root.is_some() {
                    return Err(ReadError::Syntax("a second root element".into()));
                }
                if open.len() >= MAX_DEPTH {
                    return Err(ReadError::TooDeep);
                }
                open.push(Element {
                    name: name(&prefix, &local),
                    ..Element::default()
                });
                continue;
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
                continue;
            }
            Token::ElementEnd { end, .. } => {
                if let (ElementEnd::Open | ElementEnd::Empty, Some(element)) = (end, open.last()) {
                    unique(&element.attributes)?;
                }
                match end {
                    ElementEnd::Open => continue,
                    ElementEnd::Empty => {
                        if let Some(element) = open.last_mut() {
                            element.self_closing = true;
                        }
                    }
                    ElementEnd::Close(prefix, local) => {
                        let found = name(&prefix, &local);
                        let open_name = open.last().map(|e| &e.name);
                        if open_name != Some(&found) {
                            return Err(ReadError::Mismatch {
                                open: open_name.map(Name::qualified).unwrap_or_default(),
                                found: found.qualified(),
                            });
                        }
                    }
                }
                let Some(element) = open.pop() else { continue };
                if open.is_empty() {
                    root = Some(element);
                    continue;
                }
                Node::Element(element)
            }
            Token::Text { text } => {
                let text = text.as_str();
                // Whitespace between elements, or text outside the root (the tokenizer
                // only lets whitespace through there).
                if text.trim().is_empty() || open.is_empty() {
                    continue;
                }
                Node::Text(unescape(&line_ends(text))?)
            }
            Token::Cdata { text, .. } => Node::CData(line_ends(&text)),
        };
        match open.last_mut() {
            Some(parent) => parent.children.push(node),
            None if root.is_some() => after.push(node),
            None => before.push(node),
        }
    }
    if let Some(element) = open.last() {
        return Err(ReadError::Unclosed(element.name.qualified()));
    }
    Ok(Document {
        declaration,
        before,
        root: root.ok_or(ReadError::NoRoot)?,
        after,
    })
}

/// An element's attributes, each name once.
fn unique(attributes: &[(Name, String)]) -> Result<(), ReadError> {
    let mut seen = HashSet::new();
    match attributes.iter().find(|(name, _)| !seen.insert(name)) {
        Some((name, _)) => Err(ReadError::Duplicate(name.qualified())),
        None => Ok(()),
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
fn unescape(text: &str) -> Result<String, ReadError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        let Some(end) = after.find(';') else {
            return Err(ReadError::Syntax("a `&` that starts no reference".into()));
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
        out.push(c.ok_or_else(|| ReadError::Entity(entity.chars().take(32).collect()))?);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(xml: &str) -> ReadError {
        read(xml, 1000).unwrap_err()
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(
            bad("<a></b>"),
            ReadError::Mismatch {
                open: "a".into(),
                found: "b".into()
            }
        );
        assert_eq!(bad("<a>"), ReadError::Unclosed("a".into()));
        assert_eq!(bad(""), ReadError::NoRoot);
        assert!(matches!(bad("<a/><b/>"), ReadError::Syntax(_)));
        assert_eq!(
            bad("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
            ReadError::Dtd
        );
        assert_eq!(bad("<a>&e;</a>"), ReadError::Entity("e".into()));
        assert!(matches!(bad("{\"json\": 1}"), ReadError::Syntax(_)));
        assert_eq!(bad("<a b='1' b='2'/>"), ReadError::Duplicate("b".into()));
        assert_eq!(bad("<p:a></q:a>").to_string(), "</q:a> closes <p:a>");
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(bad(&deep), ReadError::TooDeep);
        let many = format!("<r>{}</r>", "<a/>".repeat(1000));
        assert_eq!(bad(&many), ReadError::TooManyNodes(1000));
    }

    #[test]
    fn the_tree_keeps_what_xdocument_keeps() {
        let d = read(
            "\u{feff}<?xml version=\"1.0\"?><!--c--><r a=\"1\n2\">x &amp; <![CDATA[<y>]]><e/><f></f>  <?p d?></r><!--z-->",
            100,
        )
        .unwrap();
        assert_eq!(d.declaration.unwrap().version, "1.0");
        assert!(matches!(&d.before[..], [Node::Comment(c)] if c == "c"));
        assert!(matches!(&d.after[..], [Node::Comment(c)] if c == "z"));
        assert_eq!(d.root.attributes[0].1, "1 2");
        assert!(!d.root.self_closing);
        match &d.root.children[..] {
            [
                Node::Text(t),
                Node::CData(c),
                Node::Element(e),
                Node::Element(f),
                Node::Instruction { target, content },
            ] => {
                assert_eq!((t.as_str(), c.as_str()), ("x & ", "<y>"));
                assert!(e.self_closing && !f.self_closing);
                assert_eq!((target.as_str(), content.as_str()), ("p", "d"));
            }
            other => panic!("{other:?}"),
        }
    }
}
