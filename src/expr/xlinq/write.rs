//! The writer of `XElement.ToString()` and `XDocument.ToString()`, as .NET's `XmlWriter`
//! with the settings `XNode.GetXmlString` uses: no XML declaration; indented by two
//! spaces unless `SaveOptions.DisableFormatting`, with the indenting writer's rule that
//! once an element holds text or CDATA, nothing inside it is indented any more (mixed
//! content). Line breaks are `\n`, as on the Linux gateway (the JSON writer makes the
//! same choice). An element with no content is written `<a />`, one with empty text
//! `<a></a>`.
//!
//! Escaping as `XmlEncodedRawTextWriter`: in text `&`, `<` and `>`; in attributes also
//! `"`, and tab, line feed and carriage return as `&#x9;`, `&#xA;`, `&#xD;`. Characters
//! XML cannot hold are an error, as .NET's `CheckCharacters`.
//!
//! Namespaces: an element's or attribute's namespace is written with a prefix declared
//! on it or above (`xmlns:p` attributes, those of the element's ancestors too, as
//! `ElementWriter.PushAncestors`), declared where the output does not have it yet;
//! without one an element declares it as the default (`xmlns="..."`) and an attribute
//! gets a generated `p<n>` prefix, as `XmlWellFormedWriter` does.

use super::{MAX_WRITE_DEPTH, XElement, XML, XMLNS, XName, XNode, XmlError};

/// What to write: an element, or a document's content.
pub(crate) enum Source<'a> {
    Element(&'a XElement),
    Nodes(&'a [XNode]),
}

/// Appends the XML of `source` to `out`; `work` counts the nodes written.
pub(crate) fn write(
    source: Source<'_>,
    indented: bool,
    out: &mut String,
    work: &mut usize,
) -> Result<(), XmlError> {
    let mut w = Writer {
        out,
        indented,
        level: 0,
        scopes: Vec::new(),
        ancestors: Vec::new(),
        work,
    };
    match source {
        Source::Element(e) => {
            let mut up = e.parent();
            while let Some(a) = up {
                *w.work += 1;
                w.ancestors.extend(declarations(&a.attributes()));
                up = a.parent();
            }
            w.element(e, false, 0)
        }
        Source::Nodes(nodes) => {
            for n in nodes {
                w.node(n, false, 0)?;
            }
            Ok(())
        }
    }
}

struct Writer<'a> {
    out: &'a mut String,
    indented: bool,
    level: usize,
    /// Namespace bindings (prefix, namespace) written on the elements being written,
    /// innermost last.
    scopes: Vec<Vec<(String, String)>>,
    /// The declarations of the written element's ancestors, nearest first: they choose
    /// prefixes, but are not in the output.
    ancestors: Vec<(String, String)>,
    work: &'a mut usize,
}

/// The namespace declarations among `attributes`, as (prefix, namespace).
fn declarations(attributes: &[super::XAttribute]) -> Vec<(String, String)> {
    attributes
        .iter()
        .filter(|a| a.name().is_namespace_declaration())
        .map(|a| {
            let prefix = if a.name().ns.is_empty() {
                String::new()
            } else {
                a.name().local.to_string()
            };
            (prefix, a.value().to_string())
        })
        .collect()
}

impl Writer<'_> {
    fn indent(&mut self) {
        if self.indented && !self.out.is_empty() {
            self.out.push('\n');
            for _ in 0..self.level {
                self.out.push_str("  ");
            }
        }
    }

    /// A prefix bound to `ns` and not hidden by an inner binding of the same prefix.
    fn prefix_of(&self, ns: &str, allow_default: bool) -> Option<String> {
        let mut hidden: Vec<&str> = Vec::new();
        let written = self.scopes.iter().rev().flat_map(|s| s.iter().rev());
        for (p, n) in written.chain(self.ancestors.iter()) {
            if hidden.contains(&p.as_str()) {
                continue;
            }
            if n == ns && (allow_default || !p.is_empty()) {
                return Some(p.clone());
            }
            hidden.push(p);
        }
        None
    }

    fn namespace_of(&self, prefix: &str) -> Option<&str> {
        self.scopes
            .iter()
            .rev()
            .find_map(|s| s.iter().rev().find(|(p, _)| p == prefix))
            .map(|(_, n)| n.as_str())
    }

    fn node(&mut self, n: &XNode, mixed: bool, depth: usize) -> Result<bool, XmlError> {
        *self.work += 1;
        match n {
            XNode::Element(e) => {
                self.element(e, mixed, depth)?;
                Ok(mixed)
            }
            XNode::Text(t) => {
                text(t, false, self.out)?;
                Ok(true)
            }
            XNode::CData(t) => {
                check_chars(t)?;
                self.out.push_str("<![CDATA[");
                self.out.push_str(&t.replace("]]>", "]]]]><![CDATA[>"));
                self.out.push_str("]]>");
                Ok(true)
            }
            XNode::Comment(c) => {
                if !mixed {
                    self.indent();
                }
                check_chars(c)?;
                self.out.push_str("<!--");
                self.out.push_str(c);
                self.out.push_str("-->");
                Ok(mixed)
            }
            XNode::Instruction(target, data) => {
                if !mixed {
                    self.indent();
                }
                check_chars(data)?;
                self.out.push_str("<?");
                self.out.push_str(target);
                if !data.is_empty() {
                    self.out.push(' ');
                    self.out.push_str(data);
                }
                self.out.push_str("?>");
                Ok(mixed)
            }
        }
    }

    fn element(&mut self, e: &XElement, mixed: bool, depth: usize) -> Result<(), XmlError> {
        if depth > MAX_WRITE_DEPTH {
            return Err(XmlError::TooDeep(MAX_WRITE_DEPTH));
        }
        let (name, attributes, nodes, empty) = {
            let inner = e.lock();
            (
                inner.name.clone(),
                inner.attributes.clone(),
                inner.nodes.clone(),
                inner.empty,
            )
        };
        if !mixed {
            self.indent();
        }
        self.scopes.push(declarations(&attributes));
        // declarations the writer adds, written after the attributes
        let mut added: Vec<(String, String)> = Vec::new();
        let prefix = if name.ns.is_empty() {
            String::new()
        } else {
            self.prefix_of(&name.ns, true).unwrap_or_default()
        };
        if self.namespace_of(&prefix).unwrap_or_default() != &*name.ns {
            added.push((prefix.clone(), name.ns.to_string()));
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.extend(added.iter().cloned());
        }
        self.out.push('<');
        qualified(&prefix, &name.local, self.out);
        for a in &attributes {
            *self.work += 1;
            let an: &XName = a.name();
            let p = match &*an.ns {
                "" => String::new(),
                XMLNS => "xmlns".to_owned(),
                XML => "xml".to_owned(),
                ns => {
                    let p = match self.prefix_of(ns, false) {
                        Some(p) => p,
                        None => self.generated_prefix(),
                    };
                    if self.namespace_of(&p) != Some(ns) {
                        if let Some(scope) = self.scopes.last_mut() {
                            scope.push((p.clone(), ns.to_owned()));
                        }
                        added.push((p.clone(), ns.to_owned()));
                    }
                    p
                }
            };
            self.out.push(' ');
            qualified(&p, &an.local, self.out);
            self.out.push_str("=\"");
            text(&a.value(), true, self.out)?;
            self.out.push('"');
        }
        for (p, ns) in added.iter().rev() {
            self.out.push_str(" xmlns");
            if !p.is_empty() {
                self.out.push(':');
                self.out.push_str(p);
            }
            self.out.push_str("=\"");
            text(ns, true, self.out)?;
            self.out.push('"');
        }
        if nodes.is_empty() && empty {
            self.out.push_str(" />");
        } else {
            self.out.push('>');
            self.level += 1;
            let mut inner_mixed = mixed;
            for n in &nodes {
                inner_mixed = self.node(n, inner_mixed, depth + 1)?;
            }
            self.level -= 1;
            if !inner_mixed && !nodes.is_empty() {
                self.indent();
            }
            self.out.push_str("</");
            qualified(&prefix, &name.local, self.out);
            self.out.push('>');
        }
        self.scopes.pop();
        Ok(())
    }

    /// `p<n>` with `n` the number of bindings in scope, as `XmlWellFormedWriter`.
    fn generated_prefix(&self) -> String {
        let n: usize = self.scopes.iter().map(Vec::len).sum();
        let base = format!("p{n}");
        let mut candidate = base.clone();
        let mut i = 0;
        while self.namespace_of(&candidate).is_some() {
            candidate = format!("{base}{i}");
            i += 1;
        }
        candidate
    }
}

fn qualified(prefix: &str, local: &str, out: &mut String) {
    if !prefix.is_empty() {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(local);
}

fn invalid(c: char) -> bool {
    matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

fn check_chars(s: &str) -> Result<(), XmlError> {
    match s.chars().find(|c| invalid(*c)) {
        Some(c) => Err(XmlError::InvalidChar(c, u32::from(c))),
        None => Ok(()),
    }
}

/// Text or an attribute value, escaped.
fn text(s: &str, attribute: bool, out: &mut String) -> Result<(), XmlError> {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#x9;"),
            '\n' if attribute => out.push_str("&#xA;"),
            '\r' if attribute => out.push_str("&#xD;"),
            // NewLineHandling.Replace: `\r\n` and a lone `\r` are the line break
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            c if invalid(c) => return Err(XmlError::InvalidChar(c, u32::from(c))),
            c => out.push(c),
        }
    }
    Ok(())
}
