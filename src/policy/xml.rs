//! A tolerant reader for APIM policy XML.
//!
//! APIM policies are "XML" that is often not well-formed: Microsoft's own documentation
//! writes `condition="@(x != "trusted-issuer")"` and
//! `subject="C=US, O="Contoso, Inc.", CN=*.contoso.com"`. This reader accepts what APIM
//! accepts as far as it can be told apart from broken input:
//!
//! * **Expressions in attributes.** A value that starts with `@(` or `@{` is read as a C#
//!   expression up to its balanced closing bracket (see `csharp.rs`: strings, verbatim
//!   and interpolated strings, char literals and comments are skipped). Inside it, any
//!   `"` or `'` (raw or written as an entity) is a C# quote, `<` and `>` are operators or
//!   generics, and the attribute's own quote ends the value only after the expression
//!   has closed. Nothing but the closing quote may follow the expression.
//! * **Raw quotes in literal values.** In a value that is not an expression, the
//!   attribute's quote character ends the value only when what follows looks like the
//!   end of an attribute: `>`, `/`, `?`, the end of input, or whitespace followed by one
//!   of those or by `name=`. Any other quote is kept as a literal character. This accepts
//!   `subject="C=US, O="Contoso, Inc.", CN=x"` and reads every well-formed document as
//!   XML does. It cannot help a value whose inner quote is followed by ` name=` (for
//!   example `O="A" CN=B"`): write `&quot;` there.
//! * **Expressions in text.** Text whose first non-blank characters are `@(` or `@{`
//!   is read the same way, so `<set-body>@{ return x.As<JObject>(); }</set-body>` works.
//! * Single- and double-quoted attributes; the entities `&quot; &amp; &lt; &gt; &apos;`
//!   and numeric references `&#...;` / `&#x...;`. A `&` that does not start a reference
//!   (as in `a && b`) is a literal `&`; an unknown named entity is an error (no entity
//!   expansion beyond the predefined ones).
//! * Comments, CDATA sections and an XML declaration at the very start are accepted.
//!   A `<!DOCTYPE` (or any other DTD markup) and processing instructions are errors.
//! * `{{named-value}}` references are left as literal text.
//! * As in XML, `\r\n` and a lone `\r` read as `\n`, and in a *literal* attribute value
//!   a raw tab or line break reads as a space. Expression values keep their line breaks
//!   (C# does not care, and positions inside them stay exact).
//!
//! The reader is bounded ([`MAX_DOCUMENT_BYTES`], [`MAX_DEPTH`], [`MAX_ATTRIBUTES`]), has
//! no recursion (open elements live on an explicit stack) and never panics.

use std::sync::Arc;

use super::csharp::{CSharpScanner, Scan};
use super::error::{Location, PolicyError};
use super::value::{PolicyValue, scan_error_message, unclosed_message};

/// Largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Deepest element nesting accepted (`<policies>` is depth 1).
pub const MAX_DEPTH: usize = 64;
/// Most attributes on one element.
pub(crate) const MAX_ATTRIBUTES: usize = 32;

/// An element as read, before any policy meaning is given to it.
#[derive(Debug, Clone)]
pub(crate) struct XmlElement {
    pub(crate) name: String,
    /// Position of the `<`.
    pub(crate) at: Location,
    pub(crate) attributes: Vec<XmlAttribute>,
    pub(crate) children: Vec<XmlNode>,
}

#[derive(Debug, Clone)]
pub(crate) struct XmlAttribute {
    pub(crate) name: String,
    /// Position of the attribute name.
    pub(crate) at: Location,
    pub(crate) value: PolicyValue,
}

#[derive(Debug, Clone)]
pub(crate) enum XmlNode {
    Element(XmlElement),
    /// Text or CDATA content (comments are dropped).
    Text(PolicyValue),
}

/// Byte offset → line and column, in O(1) amortised per lookup (no rescanning of long
/// lines: columns come from a sparse count of UTF-8 continuation bytes).
struct SourceMap {
    file: Arc<str>,
    /// Byte offset where each line starts; line 1 starts after a BOM.
    line_starts: Vec<usize>,
    /// `continuations[k]`: UTF-8 continuation bytes in `src[..k * CHUNK]`.
    continuations: Vec<usize>,
}

const CHUNK: usize = 64;

fn is_continuation(b: &u8) -> bool {
    b & 0xC0 == 0x80
}

impl SourceMap {
    fn new(file: Arc<str>, src: &str) -> Self {
        let bom = if src.starts_with('\u{feff}') { 3 } else { 0 };
        let mut line_starts = vec![bom];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut continuations = vec![0];
        let mut total = 0;
        for chunk in src.as_bytes().chunks(CHUNK) {
            total += chunk.iter().filter(|b| is_continuation(b)).count();
            continuations.push(total);
        }
        SourceMap {
            file,
            line_starts,
            continuations,
        }
    }

    /// Continuation bytes in `src[..offset]`.
    fn continuations_before(&self, src: &str, offset: usize) -> usize {
        let k = offset / CHUNK;
        let base = self.continuations.get(k).copied().unwrap_or(0);
        let tail = src
            .as_bytes()
            .get(k * CHUNK..offset)
            .map_or(0, |t| t.iter().filter(|b| is_continuation(b)).count());
        base + tail
    }

    fn location(&self, src: &str, offset: usize) -> Location {
        let offset = offset.min(src.len());
        let line = self.line_starts.partition_point(|s| *s <= offset).max(1);
        let start = self.line_starts[line - 1].min(offset);
        let chars = (offset - start)
            - (self.continuations_before(src, offset) - self.continuations_before(src, start));
        Location {
            file: Arc::clone(&self.file),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(chars + 1).unwrap_or(u32::MAX),
            offset,
        }
    }
}

/// The position of byte `offset` in `src`, for errors found outside the reader.
pub(crate) fn location(file: &str, src: &str, offset: usize) -> Location {
    SourceMap::new(Arc::from(file), src).location(src, offset)
}

/// Reads one policy document into its element tree. `file` names the document in error
/// messages.
pub(crate) fn read(file: &str, src: &str) -> Result<XmlElement, PolicyError> {
    let map = SourceMap::new(Arc::from(file), src);
    if src.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::Limit {
            at: map.location(src, 0),
            message: format!(
                "document is {} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes",
                src.len()
            ),
        });
    }
    let reader = Reader {
        src,
        pos: map.line_starts[0],
        map,
        stack: Vec::new(),
        root: None,
    };
    reader.run()
}

struct Reader<'a> {
    src: &'a str,
    pos: usize,
    map: SourceMap,
    stack: Vec<XmlElement>,
    root: Option<XmlElement>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!c.is_ascii() && c.is_alphabetic())
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn at(&self, offset: usize) -> Location {
        self.map.location(self.src, offset)
    }

    fn syntax(&self, offset: usize, message: impl Into<String>) -> PolicyError {
        PolicyError::Syntax {
            at: self.at(offset),
            message: message.into(),
        }
    }

    fn skip_space(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn name(&mut self) -> Option<String> {
        if !self.peek().is_some_and(is_name_start) {
            return None;
        }
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
            self.pos += c.len_utf8();
        }
        Some(self.src[start..self.pos].to_owned())
    }

    fn value(&self, start: usize, text: String, anchors: Vec<(usize, usize)>) -> PolicyValue {
        PolicyValue::new(
            text,
            self.src[start..self.pos].to_owned(),
            self.at(start),
            start..self.pos,
            anchors,
        )
    }

    fn run(mut self) -> Result<XmlElement, PolicyError> {
        if self.rest().starts_with("<?xml")
            && self.rest()[5..].starts_with(|c: char| is_space(c) || c == '?')
        {
            let start = self.pos;
            let Some(end) = self.rest().find("?>") else {
                return Err(self.syntax(start, "XML declaration is never closed: missing `?>`"));
            };
            self.pos += end + 2;
        }
        while self.pos < self.src.len() {
            let rest = self.rest();
            if rest.starts_with("<!--") {
                self.comment()?;
            } else if rest.starts_with("<![CDATA[") {
                self.cdata()?;
            } else if rest.starts_with("<!") {
                let is_doctype = rest
                    .get(2..9)
                    .is_some_and(|s| s.eq_ignore_ascii_case("doctype"));
                return Err(self.syntax(
                    self.pos,
                    if is_doctype {
                        "DTDs are not allowed in policy documents: remove the <!DOCTYPE ...> declaration"
                    } else {
                        "unexpected `<!`: only comments `<!-- -->` and CDATA sections `<![CDATA[ ]]>` are allowed"
                    },
                ));
            } else if rest.starts_with("<?") {
                let message = if rest.starts_with("<?xml") {
                    "the XML declaration `<?xml ...?>` must be at the very start of the document"
                } else {
                    "processing instructions `<? ?>` are not allowed in policy documents"
                };
                return Err(self.syntax(self.pos, message));
            } else if rest.starts_with("</") {
                self.end_tag()?;
            } else if rest.starts_with('<') {
                self.start_tag()?;
            } else {
                self.text()?;
            }
        }
        if let Some(open) = self.stack.last() {
            return Err(PolicyError::Syntax {
                at: open.at.clone(),
                message: format!(
                    "element <{name}> is never closed: add </{name}>",
                    name = open.name
                ),
            });
        }
        self.root.ok_or_else(|| PolicyError::Syntax {
            at: self.map.location(self.src, self.src.len()),
            message: "empty document: expected a <policies> element".into(),
        })
    }

    fn comment(&mut self) -> Result<(), PolicyError> {
        let start = self.pos;
        match self.rest()[4..].find("-->") {
            Some(end) => {
                self.pos += 4 + end + 3;
                Ok(())
            }
            None => Err(self.syntax(start, "comment is never closed: missing `-->`")),
        }
    }

    fn cdata(&mut self) -> Result<(), PolicyError> {
        let start = self.pos;
        if self.stack.is_empty() {
            return Err(self.syntax(start, "CDATA section outside the root element"));
        }
        let Some(end) = self.rest()[9..].find("]]>") else {
            return Err(self.syntax(start, "CDATA section is never closed: missing `]]>`"));
        };
        let body_start = start + 9;
        let body_end = body_start + end;
        self.pos = body_start;
        let mut text = String::with_capacity(end);
        let mut anchors = Vec::new();
        while self.pos < body_end {
            // Entities are not decoded in CDATA: take `&` and everything else as is.
            match self.peek() {
                Some('\r') => {
                    self.char_or_entity(body_start, &mut text, &mut anchors)?;
                }
                Some(c) => {
                    self.pos += c.len_utf8();
                    text.push(c);
                }
                None => break,
            }
        }
        let value = self.value(body_start, text, anchors);
        self.pos += 3;
        self.push_child(XmlNode::Text(value));
        Ok(())
    }

    fn push_child(&mut self, node: XmlNode) {
        match (self.stack.last_mut(), node) {
            (Some(parent), node) => parent.children.push(node),
            (None, XmlNode::Element(el)) => self.root = Some(el),
            (None, XmlNode::Text(_)) => {}
        }
    }

    fn start_tag(&mut self) -> Result<(), PolicyError> {
        let lt = self.pos;
        self.pos += 1;
        let Some(name) = self.name() else {
            return Err(self.syntax(
                lt,
                "expected an element name after `<` (write &lt; for a literal <)",
            ));
        };
        if let Some(root) = &self.root {
            return Err(self.syntax(
                lt,
                format!(
                    "a policy document has one root element; found <{name}> after </{}>",
                    root.name
                ),
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(PolicyError::Limit {
                at: self.at(lt),
                message: format!("elements are nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let mut element = XmlElement {
            name,
            at: self.at(lt),
            attributes: Vec::new(),
            children: Vec::new(),
        };
        loop {
            let spaced = self.skip_space();
            match self.peek() {
                None => {
                    return Err(self.syntax(
                        lt,
                        format!("start tag <{}> is never closed: missing `>`", element.name),
                    ));
                }
                Some('>') => {
                    self.pos += 1;
                    self.stack.push(element);
                    return Ok(());
                }
                Some('/') if self.rest().starts_with("/>") => {
                    self.pos += 2;
                    self.push_child(XmlNode::Element(element));
                    return Ok(());
                }
                Some(c) if is_name_start(c) => {
                    if !spaced {
                        return Err(
                            self.syntax(self.pos, "expected whitespace before the attribute name")
                        );
                    }
                    let attribute = self.attribute(&element)?;
                    if element.attributes.len() >= MAX_ATTRIBUTES {
                        return Err(PolicyError::Limit {
                            at: attribute.at,
                            message: format!(
                                "<{}> has more than {MAX_ATTRIBUTES} attributes",
                                element.name
                            ),
                        });
                    }
                    element.attributes.push(attribute);
                }
                Some(c) => {
                    return Err(self.syntax(
                        self.pos,
                        format!(
                            "unexpected `{c}` in the start tag of <{}>: expected an attribute, `>` or `/>`",
                            element.name
                        ),
                    ));
                }
            }
        }
    }

    fn attribute(&mut self, element: &XmlElement) -> Result<XmlAttribute, PolicyError> {
        let name_start = self.pos;
        let name = self.name().unwrap_or_default();
        if element.attributes.iter().any(|a| a.name == name) {
            return Err(self.syntax(
                name_start,
                format!("duplicate attribute `{name}` on <{}>", element.name),
            ));
        }
        self.skip_space();
        if self.peek() != Some('=') {
            return Err(self.syntax(
                self.pos,
                format!("expected `=` after the attribute name `{name}`"),
            ));
        }
        self.pos += 1;
        self.skip_space();
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                return Err(self.syntax(
                    self.pos,
                    format!("the value of `{name}` must be in quotes (\"...\" or '...')"),
                ));
            }
        };
        let quote_at = self.pos;
        self.pos += 1;
        let start = self.pos;
        let value = if self.rest().starts_with("@(") || self.rest().starts_with("@{") {
            let (text, anchors) = self.expression(start)?;
            if self.peek() != Some(quote) {
                return Err(self.syntax(
                    self.pos,
                    format!(
                        "unexpected text after the expression in `{name}`: an expression must be the whole value, closed by {quote}"
                    ),
                ));
            }
            self.value(start, text, anchors)
        } else {
            let mut text = String::new();
            let mut anchors = Vec::new();
            loop {
                match self.peek() {
                    None => {
                        return Err(self.syntax(
                            quote_at,
                            format!("the value of `{name}` is never closed: missing {quote}"),
                        ));
                    }
                    Some(c) if c == quote && self.value_ends_at(self.pos + 1) => break,
                    Some('<') => {
                        return Err(self.syntax(
                            self.pos,
                            format!(
                                "`<` is not allowed in the value of `{name}`: write &lt; (or is the closing {quote} missing?)"
                            ),
                        ));
                    }
                    Some(c) => {
                        // XML attribute-value normalization: a raw tab or line break
                        // is a space (`&#10;` stays a line break).
                        let decoded = self.char_or_entity(start, &mut text, &mut anchors)?;
                        if c != '&' && matches!(decoded, '\t' | '\n') {
                            text.pop();
                            text.push(' ');
                        }
                    }
                }
            }
            self.value(start, text, anchors)
        };
        self.pos += 1; // the closing quote
        Ok(XmlAttribute {
            name,
            at: self.at(name_start),
            value,
        })
    }

    /// Whether a quote just before `offset` can end an attribute value (see the module
    /// docs for the rule).
    fn value_ends_at(&self, offset: usize) -> bool {
        let rest = self.src.get(offset..).unwrap_or_default();
        let after_space = rest.trim_start_matches(is_space);
        match rest.chars().next() {
            None | Some('>' | '/' | '?') => true,
            Some(c) if is_space(c) => match after_space.chars().next() {
                None | Some('>' | '/' | '?') => true,
                Some(c) if is_name_start(c) => {
                    let after_name = after_space.trim_start_matches(is_name_char);
                    after_name.trim_start_matches(is_space).starts_with('=')
                }
                Some(_) => false,
            },
            Some(_) => false,
        }
    }

    /// Consumes one character, or one entity reference, appending it decoded to `out`.
    /// `start` is where the value began (anchors are relative to it).
    fn char_or_entity(
        &mut self,
        start: usize,
        out: &mut String,
        anchors: &mut Vec<(usize, usize)>,
    ) -> Result<char, PolicyError> {
        let Some(c) = self.bump() else {
            return Err(self.syntax(self.pos, "unexpected end of document"));
        };
        if c == '\r' {
            // XML end-of-line handling: `\r\n` and a lone `\r` are read as `\n`.
            if self.peek() == Some('\n') {
                self.pos += 1;
                out.push('\n');
                anchors.push((out.len(), self.pos - start));
            } else {
                out.push('\n');
            }
            return Ok('\n');
        }
        if c != '&' {
            out.push(c);
            return Ok(c);
        }
        let amp = self.pos - 1;
        let rest = self.rest();
        let body_len = rest
            .char_indices()
            .take(33)
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))
            .filter(|(i, c)| *c == ';' && *i > 0)
            .map(|(i, _)| i);
        let Some(len) = body_len else {
            // Not a reference: a literal `&` (as in `a && b`).
            out.push('&');
            return Ok('&');
        };
        let body = &rest[..len];
        let decoded = match body {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ if body.starts_with('#') => {
                let number = match body[1..].strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => body[1..].parse::<u32>().ok(),
                };
                match number.and_then(char::from_u32).filter(|c| *c != '\0') {
                    Some(c) => Some(c),
                    None => {
                        return Err(self.syntax(
                            amp,
                            format!("`&{body};` is not a valid character reference"),
                        ));
                    }
                }
            }
            _ => None,
        };
        let Some(decoded) = decoded else {
            return Err(self.syntax(
                amp,
                format!(
                    "unknown entity `&{body};`: only &quot; &amp; &lt; &gt; &apos; and numeric references like &#38; are supported (write &amp; for a literal &)"
                ),
            ));
        };
        self.pos += len + 1;
        out.push(decoded);
        anchors.push((out.len(), self.pos - start));
        Ok(decoded)
    }

    /// Reads `@(`...`)` or `@{`...`}` starting at `self.pos`, decoding entities.
    fn expression(&mut self, start: usize) -> Result<(String, Vec<(usize, usize)>), PolicyError> {
        let open_at = self.pos;
        let open = if self.rest().starts_with("@{") {
            '{'
        } else {
            '('
        };
        let mut text = String::from("@");
        text.push(open);
        self.pos += 2;
        let mut anchors = Vec::new();
        let mut scanner = CSharpScanner::new(open);
        loop {
            if self.pos >= self.src.len() {
                return Err(self.syntax(open_at, unclosed_message(&text)));
            }
            let at = self.pos;
            let c = self.char_or_entity(start, &mut text, &mut anchors)?;
            match scanner.feed(c) {
                Ok(Scan::More) => {}
                Ok(Scan::Done) => return Ok((text, anchors)),
                Err(e) => return Err(self.syntax(at, scan_error_message(&e))),
            }
        }
    }

    fn text(&mut self) -> Result<(), PolicyError> {
        let start = self.pos;
        self.skip_space();
        if self.stack.is_empty() {
            if self.pos < self.src.len() && !self.rest().starts_with('<') {
                return Err(self.syntax(
                    self.pos,
                    "text outside the root element: a policy document is one <policies> element",
                ));
            }
            return Ok(());
        }
        let is_expression = self.rest().starts_with("@(") || self.rest().starts_with("@{");
        let blank_end = self.pos;
        self.pos = start;
        let mut text = String::new();
        let mut anchors = Vec::new();
        // Up to the expression, or else up to the next markup.
        let run_ends = |r: &Self| match is_expression {
            true => r.pos >= blank_end,
            false => r.peek().is_none_or(|c| c == '<'),
        };
        while !run_ends(self) {
            self.char_or_entity(start, &mut text, &mut anchors)?;
        }
        if !text.is_empty() {
            let value = self.value(start, text, anchors);
            self.push_child(XmlNode::Text(value));
        }
        if is_expression {
            let expr_start = self.pos;
            let (text, anchors) = self.expression(expr_start)?;
            let value = self.value(expr_start, text, anchors);
            self.push_child(XmlNode::Text(value));
        }
        Ok(())
    }

    fn end_tag(&mut self) -> Result<(), PolicyError> {
        let lt = self.pos;
        self.pos += 2;
        let Some(name) = self.name() else {
            return Err(self.syntax(lt, "expected an element name after `</`"));
        };
        self.skip_space();
        if self.peek() != Some('>') {
            return Err(self.syntax(self.pos, format!("expected `>` to end </{name}>")));
        }
        self.pos += 1;
        match self.stack.pop() {
            None => Err(self.syntax(
                lt,
                format!("closing tag </{name}> has no matching opening tag"),
            )),
            Some(open) if open.name != name => Err(self.syntax(
                lt,
                format!(
                    "mismatched closing tag </{name}>: expected </{open_name}> to close <{open_name}> from line {line}, column {column}",
                    open_name = open.name,
                    line = open.at.line,
                    column = open.at.column
                ),
            )),
            Some(element) => {
                self.push_child(XmlNode::Element(element));
                Ok(())
            }
        }
    }
}

/// `bytes` as text, or an error at the first byte that is not UTF-8 (a BOM is fine).
pub(crate) fn utf8<'b>(file: &str, bytes: &'b [u8]) -> Result<&'b str, PolicyError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(valid.get(line_start..).unwrap_or_default())
            .chars()
            .count()
            + 1;
        PolicyError::Syntax {
            at: Location {
                file: Arc::from(file),
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
                offset: e.valid_up_to(),
            },
            message: "the document is not valid UTF-8; save it as UTF-8".into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(el: &'a XmlElement, name: &str) -> &'a PolicyValue {
        &el.attributes
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
            .value
    }

    fn first_child(el: &XmlElement) -> &XmlElement {
        el.children
            .iter()
            .find_map(|n| match n {
                XmlNode::Element(e) => Some(e),
                XmlNode::Text(_) => None,
            })
            .expect("child element")
    }

    fn err(src: &str) -> (u32, u32, String) {
        let e = read("t.xml", src).expect_err("should fail");
        (e.location().line, e.location().column, e.message())
    }

    #[test]
    fn reads_raw_quotes_inside_expressions() {
        let src = r#"<when condition="@(a != "x)" && b == 'y')" >"#.to_owned() + "</when>";
        let root = read("t.xml", &src).unwrap();
        let v = attr(&root, "condition");
        assert_eq!(v.source(), r#"@(a != "x)" && b == 'y')"#);
        assert!(v.is_expression());
        assert_eq!((v.origin().line, v.origin().column), (1, 18));
    }

    #[test]
    fn reads_entity_quotes_and_single_quotes() {
        let root = read(
            "t.xml",
            r#"<a x="@(a == &quot;b&quot;)" y='it"s' z="&lt;&#65;&#x42;&gt;&apos;"/>"#,
        )
        .unwrap();
        assert_eq!(attr(&root, "x").source(), r#"@(a == "b")"#);
        assert_eq!(attr(&root, "x").raw(), "@(a == &quot;b&quot;)");
        assert_eq!(attr(&root, "y").source(), "it\"s");
        assert_eq!(attr(&root, "z").source(), "<AB>'");
    }

    #[test]
    fn reads_raw_quotes_in_literal_dn_values() {
        let root = read(
            "t.xml",
            r#"<identity subject="C=US, O="Contoso, Inc.", CN=*.contoso.com" issuer-subject="CN=x"/>"#,
        )
        .unwrap();
        assert_eq!(
            attr(&root, "subject").source(),
            r#"C=US, O="Contoso, Inc.", CN=*.contoso.com"#
        );
        assert_eq!(attr(&root, "issuer-subject").source(), "CN=x");
        let root = read(
            "t.xml",
            r#"<i subject='O='A B', CN=x' s="O="Contoso, Inc.""/>"#,
        )
        .unwrap();
        assert_eq!(attr(&root, "subject").source(), "O='A B', CN=x");
        assert_eq!(attr(&root, "s").source(), r#"O="Contoso, Inc.""#);
    }

    #[test]
    fn reads_expressions_in_text_with_generics() {
        let src = "<set-body>\n  @{ var j = context.Request.Body.As<JObject>(); return j.ToString(); }\n</set-body>";
        let root = read("t.xml", src).unwrap();
        let exprs: Vec<_> = root
            .children
            .iter()
            .filter_map(|n| match n {
                XmlNode::Text(v) if v.is_expression() => Some(v),
                _ => None,
            })
            .collect();
        assert_eq!(exprs.len(), 1);
        assert!(exprs[0].source().ends_with("j.ToString(); }"));
        assert_eq!((exprs[0].origin().line, exprs[0].origin().column), (2, 3));
    }

    #[test]
    fn skips_comments_declaration_and_keeps_cdata() {
        let src = "\u{feff}<?xml version=\"1.0\"?>\n<!-- c --><a><!-- <b> --><![CDATA[<x>&amp;]]></a>\n<!-- end -->";
        let root = read("t.xml", src).unwrap();
        assert_eq!(root.name, "a");
        assert_eq!((root.at.line, root.at.column), (2, 11));
        match &root.children[..] {
            [XmlNode::Text(v)] => assert_eq!(v.source(), "<x>&amp;"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn normalizes_line_ends_and_literal_attribute_whitespace() {
        let src = "<a v=\"x\r\n\ty&#10;\" e=\"@(a\r\n+ b)\">\r\n1\r2<![CDATA[\r\n]]></a>";
        let root = read("t.xml", src).unwrap();
        assert_eq!(attr(&root, "v").source(), "x  y\n");
        assert_eq!(attr(&root, "e").source(), "@(a\n+ b)");
        let plus = attr(&root, "e").position_of(4);
        assert_eq!((plus.line, plus.column), (3, 1));
        let texts: Vec<&str> = root
            .children
            .iter()
            .filter_map(|n| match n {
                XmlNode::Text(v) => Some(v.source()),
                XmlNode::Element(_) => None,
            })
            .collect();
        assert_eq!(texts, ["\n1\n2", "\n"]);
    }

    #[test]
    fn keeps_named_values_literal() {
        let root = read("t.xml", "<a v=\"{{my-value}}\"/>").unwrap();
        assert_eq!(attr(&root, "v").source(), "{{my-value}}");
        assert!(!attr(&root, "v").is_expression());
    }

    #[test]
    fn nested_elements() {
        let root = read("t.xml", "<a><b><c/></b></a>").unwrap();
        assert_eq!(first_child(first_child(&root)).name, "c");
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(
            err("<a>\n  <b>\n</a>"),
            (
                3,
                1,
                "mismatched closing tag </a>: expected </b> to close <b> from line 2, column 3"
                    .into()
            )
        );
        assert_eq!(
            err("<a>\n <b>"),
            (2, 2, "element <b> is never closed: add </b>".into())
        );
        assert_eq!(err("<!DOCTYPE a>\n<a/>").0, 1);
        assert!(err("<!DOCTYPE a>").2.contains("DTDs are not allowed"));
        assert_eq!(
            err("<a x=\"@(f(1)\"/>\n<b/>"),
            (
                1,
                7,
                "`@(` is never closed: missing `)` (check the brackets, and that every string literal in the expression is closed)".into()
            )
        );
        assert_eq!(err("<a x=\"&bogus;\"/>").1, 7);
        assert_eq!(err("<a x=\"1\" x=\"2\"/>").1, 10);
        assert_eq!(err("<a x=1/>").1, 6);
        assert_eq!(err("<a>\n</b>").0, 2);
        assert_eq!(
            err("<a/><b/>").2,
            "a policy document has one root element; found <b> after </a>"
        );
        assert_eq!(err("").2, "empty document: expected a <policies> element");
        assert_eq!(err("<a x=\"@(1) 2\"/>").1, 11);
        assert_eq!(err("<a x=\"a <b/>").1, 9);
        assert_eq!(err("<a><!-- x </a>").1, 4);
        assert_eq!(err("<a><?pi x?></a>").1, 4);
        assert_eq!(err("hello").1, 1);
    }

    #[test]
    fn columns_count_characters_across_chunks() {
        let src: String = (0..700)
            .map(|i| match i % 7 {
                0 => 'é',
                3 if i % 91 == 3 => '\n',
                5 => '€',
                _ => 'a',
            })
            .collect();
        let map = SourceMap::new(Arc::from("f"), &src);
        let (mut line, mut column) = (1, 1);
        for (offset, c) in src.char_indices() {
            let at = map.location(&src, offset);
            assert_eq!((at.line, at.column), (line, column), "offset {offset}");
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
    }

    #[test]
    fn limits() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = read("t.xml", &deep).unwrap_err();
        assert!(matches!(e, PolicyError::Limit { .. }));
        assert_eq!(e.location().column, 3 * MAX_DEPTH as u32 + 1);
        let big = format!("<a>{}</a>", " ".repeat(MAX_DOCUMENT_BYTES));
        assert!(matches!(
            read("t.xml", &big),
            Err(PolicyError::Limit { .. })
        ));
        let many: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"\""))
            .collect();
        assert!(matches!(
            read("t.xml", &format!("<a{many}/>")),
            Err(PolicyError::Limit { .. })
        ));
    }
}
