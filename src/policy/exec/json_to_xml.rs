//! `json-to-xml`: the JSON body becomes XML as APIM writes it.
//!
//! The mapping (APIM's reference example and observed outputs): an object whose only
//! property is not an array becomes that element; any other object is wrapped in
//! `<Document>`. A property becomes an element; an array repeats its element once per
//! item (an empty array is one empty element); `null` is
//! `xsi:nil="true"`; scalars are written as .NET's `JValue.ToString()` does (`True`,
//! dates as `DateTime.ToString()` unless `parse-date="false"`). `@name` properties and
//! the properties of the `attribute-block-name` object become attributes, `#text` the
//! element's text; with `namespace-prefix`, `prefix` and `prefix<separator>p` properties
//! declare namespaces, and a name `p<separator>local` whose `p` is declared becomes
//! `p:local`. Names that are not XML names are encoded as `XmlConvert.EncodeLocalName`
//! does (`first name` → `first_x0020_name`). The text is `XDocument.ToString()`'s: no
//! declaration, two spaces a level, `<empty />`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::param::{self, FromValue};
use super::transform::{self, Conversion, Format, MAX_CONVERTED_BYTES, MAX_NODES};
use super::{Exchange, Failure, Flow};
use crate::expr::json::{J, JsonError, parse_with};
use crate::expr::{Context, Value};
use crate::policy::SectionKind;
use crate::policy::elements::{JsonApply, JsonToXml};

const POLICY: &str = "json-to-xml";

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

impl FromValue for JsonApply {
    const EXPECTED: &'static str = "always or content-type-json";
    fn from_value(value: &Value) -> Option<Self> {
        Self::parse(value.as_str()?).ok()
    }
}

impl FromValue for char {
    const EXPECTED: &'static str = "a single character";
    fn from_value(value: &Value) -> Option<Self> {
        crate::policy::elements::parse_separator(value.as_str()?).ok()
    }
}

/// Converts the message's body when the policy applies to it.
pub(super) fn json_to_xml(
    t: &JsonToXml,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    let ctx = &x.ctx;
    let conversion = Conversion {
        policy: POLICY,
        from: Format::Json,
        to: Format::Xml,
        on_response: t.on_response,
        content_type_only: param::eval(&t.apply, ctx, POLICY)? == JsonApply::ContentTypeJson,
        consider_accept: param::eval(&t.consider_accept_header, ctx, POLICY)?,
    };
    let options = Options {
        separator: param::eval(&t.namespace_separator, ctx, POLICY)?,
        namespace_prefix: optional(t.namespace_prefix.as_ref(), ctx)?,
        attribute_block: optional(t.attribute_block_name.as_ref(), ctx)?,
        dates: t.parse_date,
    };
    transform::run(x, section, path, &conversion, |json| {
        convert(json, &options)
    })
}

fn optional(
    param: Option<&crate::policy::Param<String>>,
    ctx: &Context,
) -> Result<Option<String>, Failure> {
    param
        .map(|p| param::eval(p, ctx, POLICY))
        .transpose()
        .map(|v| v.filter(|s| !s.is_empty()))
}

/// Why a JSON body has no XML form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ConvertError {
    #[error("{0}")]
    Json(#[from] JsonError),
    #[error("the JSON is a {0}, not an object: only an object has an XML form")]
    NotAnObject(&'static str),
    #[error("a JSON property has an empty name, which no XML element or attribute can have")]
    EmptyName,
    #[error(
        "the value of `{0}` is a JSON {1}: an attribute takes a string, number, Boolean or null"
    )]
    AttributeValue(String, &'static str),
    #[error("the text holds the character U+{0:04X}, which XML 1.0 cannot carry")]
    Character(u32),
    #[error("the element gets the attribute `{0}` twice")]
    DuplicateAttribute(String),
    #[error("the XML would be larger than {MAX_CONVERTED_BYTES} bytes")]
    TooLarge,
    #[error("the XML would have more than {MAX_NODES} elements, attributes and texts")]
    TooManyNodes,
}

/// What the attributes decided for this request.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub separator: char,
    pub namespace_prefix: Option<String>,
    pub attribute_block: Option<String>,
    pub dates: bool,
}

/// An element about to be written.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Content>,
}

#[derive(Debug)]
enum Content {
    Element(Element),
    Text(String),
}

/// `json` as XML text.
pub(crate) fn convert(json: &str, options: &Options) -> Result<String, ConvertError> {
    let mut work = 0;
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let root = parse_with(json, &mut work, options.dates)?;
    let J::Object(props) = &root else {
        return Err(ConvertError::NotAnObject(root.type_name()));
    };
    let props = props.get().clone();
    let mut builder = Builder {
        options,
        scope: HashMap::new(),
        depth: 0,
        size: 0,
        nodes: 0,
    };
    let element = match props.as_slice() {
        [(name, value)] if !matches!(value, J::Array(_)) && !builder.is_special(name) => {
            builder.element(name, value)?
        }
        _ => builder.element("Document", &root)?,
    };
    let mut out = String::new();
    write_element(&element, 0, &mut out);
    Ok(out)
}

struct Builder<'o> {
    options: &'o Options,
    /// Namespace prefixes declared by the elements being built, with how many of them
    /// declare each.
    scope: HashMap<String, usize>,
    /// Nesting of the element being built.
    depth: usize,
    /// Bytes the XML will take, at most [`MAX_CONVERTED_BYTES`].
    size: usize,
    /// Elements, attributes and texts built, at most [`MAX_NODES`].
    nodes: usize,
}

impl Builder<'_> {
    /// Properties that are not child elements.
    fn is_special(&self, name: &str) -> bool {
        name.starts_with('@')
            || name == "#text"
            || self.options.attribute_block.as_deref() == Some(name)
            || self.declared_prefix(name).is_some()
    }

    /// For a namespace declaration property: `Some("")` for the default namespace,
    /// `Some(prefix)` for a prefixed one.
    fn declared_prefix<'n>(&self, name: &'n str) -> Option<&'n str> {
        let marker = self.options.namespace_prefix.as_deref()?;
        let rest = name.strip_prefix(marker)?;
        if rest.is_empty() {
            return Some("");
        }
        rest.strip_prefix(self.options.separator)
            .filter(|p| !p.is_empty())
    }

    /// An element or attribute name: `p:local` when `p` is a declared prefix, else the
    /// name encoded as an XML local name.
    fn qualify(&self, name: &str) -> Result<String, ConvertError> {
        if name.is_empty() {
            return Err(ConvertError::EmptyName);
        }
        if let Some((prefix, local)) = name.split_once(self.options.separator)
            && !local.is_empty()
            && (prefix == "xml" || self.scope.contains_key(prefix))
        {
            return Ok(format!("{}:{}", encode_name(prefix), encode_name(local)));
        }
        Ok(encode_name(name))
    }

    /// Counts one node and `bytes` more of output.
    fn charge(&mut self, bytes: usize) -> Result<(), ConvertError> {
        self.size = self.size.saturating_add(bytes);
        self.nodes += 1;
        if self.size > MAX_CONVERTED_BYTES {
            return Err(ConvertError::TooLarge);
        }
        if self.nodes > MAX_NODES {
            return Err(ConvertError::TooManyNodes);
        }
        Ok(())
    }

    /// A new element named `name`: its tags and indentation are counted.
    fn start(&mut self, name: &str) -> Result<Element, ConvertError> {
        let name = self.qualify(name)?;
        self.charge(2 * name.len() + 2 * self.depth + 8)?;
        Ok(Element {
            name,
            ..Element::default()
        })
    }

    fn text(&mut self, element: &mut Element, text: String) -> Result<(), ConvertError> {
        let text = checked(text)?;
        self.charge(escaped_len(&text, false))?;
        element.children.push(Content::Text(text));
        Ok(())
    }

    fn element(&mut self, name: &str, value: &J) -> Result<Element, ConvertError> {
        self.depth += 1;
        let mut declared: Vec<String> = Vec::new();
        let built = self.build(name, value, &mut declared);
        for prefix in declared {
            if let Some(count) = self.scope.get_mut(&prefix) {
                *count -= 1;
                if *count == 0 {
                    self.scope.remove(&prefix);
                }
            }
        }
        self.depth -= 1;
        built
    }

    fn build(
        &mut self,
        name: &str,
        value: &J,
        declared: &mut Vec<String>,
    ) -> Result<Element, ConvertError> {
        let mut attributes: Vec<(String, String)> = Vec::new();
        let mut element = Element::default();
        match value {
            J::Null => {
                attributes.push(("xsi:nil".into(), "true".into()));
                attributes.push(("xmlns:xsi".into(), XSI.into()));
            }
            J::Object(props) => {
                let props = props.get().clone();
                // Declarations first: the element's own name may use them.
                for (key, value) in &props {
                    if let Some(prefix) = self.declared_prefix(key) {
                        let attribute = if prefix.is_empty() {
                            "xmlns".to_owned()
                        } else {
                            *self.scope.entry(prefix.to_owned()).or_default() += 1;
                            declared.push(prefix.to_owned());
                            format!("xmlns:{}", encode_name(prefix))
                        };
                        attributes.push((attribute, attribute_text(key, value)?));
                    }
                }
                for (key, value) in &props {
                    if self.declared_prefix(key).is_some() {
                        continue;
                    }
                    if let Some(attribute) = key.strip_prefix('@') {
                        let name = self.qualify(attribute)?;
                        attributes.push((name, attribute_text(key, value)?));
                    } else if self.options.attribute_block.as_deref() == Some(&**key)
                        && let J::Object(block) = value
                    {
                        for (attribute, value) in block.get().iter() {
                            let name = self.qualify(attribute)?;
                            attributes.push((name, attribute_text(attribute, value)?));
                        }
                    } else if &**key == "#text" {
                        self.text(&mut element, attribute_text(key, value)?)?;
                    } else {
                        self.children(key, value, &mut element.children)?;
                    }
                }
            }
            J::Array(items) => {
                for item in items.get().iter() {
                    self.children(name, item, &mut element.children)?;
                }
            }
            scalar => {
                let text = scalar.value_text().unwrap_or_default();
                self.text(&mut element, text)?;
            }
        }
        // Named last: its prefix may be declared by its own properties.
        let start = self.start(name)?;
        element.name = start.name;
        let mut seen = HashSet::new();
        for (name, value) in &attributes {
            if !seen.insert(name.as_str()) {
                return Err(ConvertError::DuplicateAttribute(name.clone()));
            }
            self.charge(name.len() + escaped_len(value, true) + 4)?;
        }
        element.attributes = attributes;
        Ok(element)
    }

    /// The elements of property `name`: one, or one per item of an array (an empty
    /// array gives one empty element).
    fn children(
        &mut self,
        name: &str,
        value: &J,
        out: &mut Vec<Content>,
    ) -> Result<(), ConvertError> {
        match value {
            J::Array(items) if !items.get().is_empty() => {
                for item in items.get().iter() {
                    out.push(Content::Element(self.element(name, item)?));
                }
            }
            J::Array(_) => {
                self.depth += 1;
                let empty = self.start(name);
                self.depth -= 1;
                out.push(Content::Element(empty?));
            }
            value => out.push(Content::Element(self.element(name, value)?)),
        }
        Ok(())
    }
}

/// An attribute's (or `#text`'s) text: scalars only.
fn attribute_text(name: &str, value: &J) -> Result<String, ConvertError> {
    let text = value
        .value_text()
        .ok_or_else(|| ConvertError::AttributeValue(name.to_owned(), value.type_name()))?;
    checked(text)
}

/// The length of `text` once [`escape`]d.
fn escaped_len(text: &str, attribute: bool) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match b {
                b'&' | b'\r' => 4,
                b'<' | b'>' => 3,
                b'"' if attribute => 5,
                b'\n' | b'\t' if attribute => 4,
                _ => 0,
            })
            .sum::<usize>()
}

/// `text` when XML 1.0 can carry every character of it.
fn checked(text: String) -> Result<String, ConvertError> {
    match text.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(ConvertError::Character(c as u32)),
        None => Ok(text),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// `XmlConvert.EncodeLocalName`: a character that may not stand where it is becomes
/// `_xHHHH_` (`_xHHHHHHHH_` beyond the BMP), as does the `_` of a `_xHHHH_` already
/// in the name.
fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.char_indices() {
        let allowed = if i == 0 {
            is_name_start(c)
        } else {
            is_name_char(c)
        };
        let looks_encoded = c == '_' && looks_like_escape(name.get(i..).unwrap_or_default());
        if allowed && !looks_encoded {
            out.push(c);
        } else if (c as u32) > 0xFFFF {
            let _ = write!(out, "_x{:08X}_", c as u32);
        } else {
            let _ = write!(out, "_x{:04X}_", c as u32);
        }
    }
    out
}

/// Whether `s` starts with `_xHHHH_`.
fn looks_like_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 7 && b[1] == b'x' && b[2..6].iter().all(u8::is_ascii_hexdigit) && b[6] == b'_'
}

/// Writes `element` as `XDocument.ToString()` does.
fn write_element(element: &Element, depth: usize, out: &mut String) {
    out.push('<');
    out.push_str(&element.name);
    for (name, value) in &element.attributes {
        let _ = write!(out, " {name}=\"");
        escape(value, true, out);
        out.push('"');
    }
    if element.children.is_empty() {
        out.push_str(" />");
        return;
    }
    out.push('>');
    let mixed = element
        .children
        .iter()
        .any(|c| matches!(c, Content::Text(_)));
    for child in &element.children {
        match child {
            Content::Text(text) => escape(text, false, out),
            Content::Element(child) => {
                if !mixed {
                    newline(depth + 1, out);
                }
                write_element(child, depth + 1, out);
            }
        }
    }
    if !mixed {
        newline(depth, out);
    }
    out.push_str("</");
    out.push_str(&element.name);
    out.push('>');
}

fn newline(depth: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// XmlWriter's escaping: `& < >` always, in attributes also `"` and the whitespace
/// characters that would not survive attribute normalisation; `\r` in text.
fn escape(text: &str, attribute: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            '\n' if attribute => out.push_str("&#xA;"),
            '\t' if attribute => out.push_str("&#x9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            separator: '_',
            namespace_prefix: None,
            attribute_block: None,
            dates: true,
        }
    }

    fn xml(json: &str) -> String {
        convert(json, &options()).unwrap()
    }

    #[test]
    fn one_property_is_the_root_and_several_are_wrapped_in_document() {
        assert_eq!(xml(r##"{"a":{"b":"x"}}"##), "<a>\n  <b>x</b>\n</a>");
        assert_eq!(xml(r##"{"a":1}"##), "<a>1</a>");
        assert_eq!(
            xml(r##"{"a":1,"b":2}"##),
            "<Document>\n  <a>1</a>\n  <b>2</b>\n</Document>"
        );
        assert_eq!(
            xml(r##"{"a":[1,2]}"##),
            "<Document>\n  <a>1</a>\n  <a>2</a>\n</Document>"
        );
        assert_eq!(xml("{}"), "<Document />");
    }

    #[test]
    fn scalars_are_written_as_dotnet_prints_them() {
        assert_eq!(
            xml(r##"{"r":{"t":true,"f":false,"i":-3,"d":1.50,"e":1e3,"s":"","n":null}}"##),
            "<r>\n  <t>True</t>\n  <f>False</f>\n  <i>-3</i>\n  <d>1.5</d>\n  <e>1000</e>\n  <s></s>\n  <n xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" />\n</r>"
        );
    }

    #[test]
    fn dates_are_reformatted_unless_parse_date_is_false() {
        let json = r##"{"d":"2024-03-18T10:20:30Z"}"##;
        assert_eq!(xml(json), "<d>03/18/2024 10:20:30</d>");
        let kept = Options {
            dates: false,
            ..options()
        };
        assert_eq!(convert(json, &kept).unwrap(), "<d>2024-03-18T10:20:30Z</d>");
    }

    #[test]
    fn nested_and_empty_arrays_repeat_their_element() {
        assert_eq!(
            xml(r##"{"r":{"a":[[1,2],[]],"e":[]}}"##),
            "<r>\n  <a>\n    <a>1</a>\n    <a>2</a>\n  </a>\n  <a />\n  <e />\n</r>"
        );
    }

    #[test]
    fn at_properties_and_text_make_attributes_and_mixed_content() {
        assert_eq!(
            xml(r##"{"p":{"@id":7,"#text":"a & b","q":"<c>"}}"##),
            "<p id=\"7\">a &amp; b<q>&lt;c&gt;</q></p>"
        );
        assert_eq!(
            xml(r##"{"p":{"@v":"x\"y\n\tz"}}"##),
            "<p v=\"x&quot;y&#xA;&#x9;z\" />"
        );
    }

    #[test]
    fn attribute_blocks_and_namespaces() {
        let o = Options {
            separator: ':',
            namespace_prefix: Some("xmlns".into()),
            attribute_block: Some("#attrs".into()),
            dates: true,
        };
        assert_eq!(
            convert(
                r##"{"a:r":{"xmlns:a":"urn:a","xmlns":"urn:d","#attrs":{"k":"v","a:l":1},"b:c":"x"}}"##,
                &o
            )
            .unwrap(),
            "<a:r xmlns:a=\"urn:a\" xmlns=\"urn:d\" k=\"v\" a:l=\"1\">\n  <b_x003A_c>x</b_x003A_c>\n</a:r>"
        );
        // The default separator is `_`; a name whose prefix is not declared stays as is.
        let o = Options {
            namespace_prefix: Some("xmlns".into()),
            ..options()
        };
        assert_eq!(
            convert(r##"{"s_E":{"xmlns_s":"urn:s","first_name":"x"}}"##, &o).unwrap(),
            "<s:E xmlns:s=\"urn:s\">\n  <first_name>x</first_name>\n</s:E>"
        );
    }

    #[test]
    fn names_that_are_not_xml_names_are_encoded() {
        assert_eq!(encode_name("first name"), "first_x0020_name");
        assert_eq!(encode_name("1a"), "_x0031_a");
        assert_eq!(encode_name("a_x0020_b"), "a_x005F_x0020_b");
        assert_eq!(encode_name("ok-name.1"), "ok-name.1");
        assert_eq!(xml(r##"{"a b":1}"##), "<a_x0020_b>1</a_x0020_b>");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let o = options();
        assert!(matches!(
            convert("[1]", &o),
            Err(ConvertError::NotAnObject("Array"))
        ));
        assert!(matches!(convert("{", &o), Err(ConvertError::Json(_))));
        assert!(matches!(
            convert(r##"{"":1}"##, &o),
            Err(ConvertError::EmptyName)
        ));
        assert!(matches!(
            convert(r##"{"a":"\u0001"}"##, &o),
            Err(ConvertError::Character(1))
        ));
        assert!(matches!(
            convert(r##"{"a":{"@b":[1]}}"##, &o),
            Err(ConvertError::AttributeValue(..))
        ));
        let deep = format!("{}{}", r##"{"a":"##.repeat(100), "}".repeat(100));
        assert!(matches!(
            convert(&deep, &o),
            Err(ConvertError::Json(JsonError::TooDeep(_)))
        ));
    }

    #[test]
    fn repeated_attributes_and_oversized_output_are_refused() {
        let o = Options {
            attribute_block: Some("a".into()),
            ..options()
        };
        assert_eq!(
            convert(r#"{"p":{"@k":1,"a":{"k":2}}}"#, &o),
            Err(ConvertError::DuplicateAttribute("k".into()))
        );
        // A long name repeated by a long array: 30 kB in, over 32 MiB out.
        let json = format!(r#"{{"{}":[{}1]}}"#, "n".repeat(10_000), "1,".repeat(2_000));
        assert_eq!(convert(&json, &o), Err(ConvertError::TooLarge));
    }

    #[test]
    fn the_number_of_nodes_is_bounded() {
        let json = format!(r#"{{"a":[{}1]}}"#, "1,".repeat(MAX_NODES));
        assert_eq!(convert(&json, &options()), Err(ConvertError::TooManyNodes));
    }

    #[test]
    fn many_names_take_linear_time() {
        let names: Vec<String> = (0..100_000).map(|i| format!(r#""n{i}":{i}"#)).collect();
        let xml = xml(&format!("{{{}}}", names.join(",")));
        assert!(xml.ends_with("  <n99999>99999</n99999>\n</Document>"));
    }
}
