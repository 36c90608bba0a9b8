//! System.Xml.Linq (`XDocument`, `XElement`, `XAttribute`, `XName`; an `XNamespace` is
//! its name, a string) as APIM policies use it: parse a body, read and change it, write
//! it back as .NET's `ToString()` does.
//!
//! Elements are shared and mutable, as in .NET: `var b = doc.Root.Element("a");
//! b.Value = "x";` changes `doc`. A node added where it already has a parent, or added
//! into its own tree, is a deep copy (as `XContainer.Add` does), so no element can hold
//! itself. Each element has its own lock and no code holds two at once. Walks over the
//! tree keep their own stack (no recursion), except the writer and the copier, which
//! stop at [`MAX_WRITE_DEPTH`]; every operation counts the nodes it touches in `work`
//! for the caller to charge.

mod write;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::types::XmlTy;

use write::{Source, write};

/// Nesting the writer and the copier accept for trees expressions built.
pub(crate) const MAX_WRITE_DEPTH: usize = 256;

const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Why an XML operation failed, in .NET's words where it has them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    #[error("invalid XML: {0}")]
    Read(#[from] crate::xml::ReadError),
    #[error("'{0}' is an undeclared prefix")]
    Prefix(String),
    #[error("the name '{0}' is not a valid XML name")]
    Name(String),
    #[error("the XML is nested more than {0} levels deep")]
    TooDeep(usize),
    #[error("Duplicate attribute: '{0}'")]
    DuplicateAttribute(String),
    #[error("The parent is missing.")]
    NoParent,
    #[error("'{0}', hexadecimal value {1:#04X}, is an invalid character")]
    InvalidChar(char, u32),
    #[error("a {0} can not be content here")]
    Content(&'static str),
}

/// An `XName`: a namespace (empty for none) and a local name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct XName {
    pub(crate) ns: Arc<str>,
    pub(crate) local: Arc<str>,
}

impl XName {
    /// `XName.Get(expanded)`: `local` or `{namespace}local`; the local name must be an
    /// XML name without `:`, as .NET's `XmlConvert.VerifyNCName`.
    pub(crate) fn parse(expanded: &str) -> Result<XName, XmlError> {
        let bad = || XmlError::Name(expanded.chars().take(64).collect());
        let (ns, local) = match expanded.strip_prefix('{') {
            Some(rest) => rest.rsplit_once('}').ok_or_else(bad)?,
            None => ("", expanded),
        };
        if !is_ncname(local) || (expanded.starts_with('{') && ns.is_empty()) {
            return Err(bad());
        }
        Ok(XName {
            ns: Arc::from(ns),
            local: Arc::from(local),
        })
    }

    /// `namespace + local`: the local name must be an XML name without `:`.
    pub(crate) fn in_namespace(ns: &str, local: &str) -> Result<XName, XmlError> {
        if !is_ncname(local) {
            return Err(XmlError::Name(local.chars().take(64).collect()));
        }
        Ok(XName::new(ns, local))
    }

    fn new(ns: &str, local: &str) -> XName {
        XName {
            ns: Arc::from(ns),
            local: Arc::from(local),
        }
    }

    /// `XName.ToString()`: `{namespace}local`, or `local` without a namespace.
    pub(crate) fn expanded(&self) -> String {
        if self.ns.is_empty() {
            self.local.to_string()
        } else {
            format!("{{{}}}{}", self.ns, self.local)
        }
    }

    fn is_namespace_declaration(&self) -> bool {
        &*self.ns == XMLNS || (self.ns.is_empty() && &*self.local == "xmlns")
    }
}

fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let start = |c: char| c.is_alphabetic() || c == '_';
    chars.next().is_some_and(start)
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{b7}'))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // nothing panics while a lock is held; a poisoned lock still holds consistent data
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A node of an element's or a document's content.
#[derive(Clone, Debug)]
pub(crate) enum XNode {
    Element(XElement),
    Text(Arc<str>),
    CData(Arc<str>),
    Comment(Arc<str>),
    Instruction(Arc<str>, Arc<str>),
}

/// What holds a node.
#[derive(Clone, Debug, Default)]
enum Parent {
    #[default]
    None,
    Element(Weak<ElementData>),
    Document(Weak<DocumentData>),
}

/// An `XElement`: a shared handle.
#[derive(Clone, Debug)]
pub struct XElement(Arc<ElementData>);

#[derive(Debug)]
pub(crate) struct ElementData(Mutex<ElementInner>);

#[derive(Debug)]
pub(crate) struct ElementInner {
    pub name: XName,
    pub attributes: Vec<XAttribute>,
    pub nodes: Vec<XNode>,
    /// No content at all (`<a />`), as opposed to empty text (`<a></a>`).
    pub empty: bool,
    parent: Parent,
}

/// An `XAttribute`: a shared handle.
#[derive(Clone, Debug)]
pub struct XAttribute(Arc<AttributeData>);

#[derive(Debug)]
pub(crate) struct AttributeData {
    name: XName,
    inner: Mutex<(Arc<str>, Weak<ElementData>)>,
}

/// An `XDocument`: its content (comments, instructions, at most one root element).
#[derive(Clone, Debug)]
pub struct XDocument(Arc<DocumentData>);

#[derive(Debug)]
pub(crate) struct DocumentData(Mutex<Vec<XNode>>);

impl XAttribute {
    pub(crate) fn new(name: XName, value: &str) -> XAttribute {
        XAttribute(Arc::new(AttributeData {
            name,
            inner: Mutex::new((Arc::from(value), Weak::new())),
        }))
    }
    pub(crate) fn name(&self) -> &XName {
        &self.0.name
    }
    pub(crate) fn value(&self) -> Arc<str> {
        lock(&self.0.inner).0.clone()
    }
    pub(crate) fn set_value(&self, v: &str) {
        lock(&self.0.inner).0 = Arc::from(v);
    }
    pub(crate) fn parent(&self) -> Option<XElement> {
        lock(&self.0.inner).1.upgrade().map(XElement)
    }
    pub(crate) fn same(&self, other: &XAttribute) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// `XAttribute.Remove()`.
    pub(crate) fn remove(&self) -> Result<(), XmlError> {
        let parent = self.parent().ok_or(XmlError::NoParent)?;
        parent.lock().attributes.retain(|a| !a.same(self));
        lock(&self.0.inner).1 = Weak::new();
        Ok(())
    }
}

impl XElement {
    pub(crate) fn new(name: XName) -> XElement {
        XElement(Arc::new(ElementData(Mutex::new(ElementInner {
            name,
            attributes: Vec::new(),
            nodes: Vec::new(),
            empty: true,
            parent: Parent::None,
        }))))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ElementInner> {
        lock(&self.0.0)
    }

    pub(crate) fn same(&self, other: &XElement) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn name(&self) -> XName {
        self.lock().name.clone()
    }

    /// `Parent`: the element holding this one (null for a document's root).
    pub(crate) fn parent(&self) -> Option<XElement> {
        match &self.lock().parent {
            Parent::Element(p) => p.upgrade().map(XElement),
            _ => None,
        }
    }

    /// The child elements, in order.
    pub(crate) fn elements(&self) -> Vec<XElement> {
        children(&self.lock().nodes)
    }

    /// `Element(name)`: the first child element of that name, `work` counting the
    /// children compared.
    pub(crate) fn element(&self, name: &XName, work: &mut usize) -> Option<XElement> {
        let nodes = self.lock().nodes.clone();
        nodes.into_iter().find_map(|n| {
            *work += 1;
            match n {
                XNode::Element(e) if e.name() == *name => Some(e),
                _ => None,
            }
        })
    }

    /// `Descendants()`: every element below, in document order.
    pub(crate) fn descendants(&self, work: &mut usize) -> Vec<XElement> {
        let mut out = Vec::new();
        let mut stack: Vec<XElement> = self.elements().into_iter().rev().collect();
        while let Some(e) = stack.pop() {
            *work += 1;
            stack.extend(e.elements().into_iter().rev());
            out.push(e);
        }
        out
    }

    pub(crate) fn attributes(&self) -> Vec<XAttribute> {
        self.lock().attributes.clone()
    }

    pub(crate) fn attribute(&self, name: &XName) -> Option<XAttribute> {
        let a = self.lock();
        a.attributes.iter().find(|a| a.name() == name).cloned()
    }

    /// `Value`: the text of every text and CDATA node below, in document order.
    pub(crate) fn value(&self, work: &mut usize) -> String {
        let mut out = String::new();
        let mut stack: Vec<XNode> = self.lock().nodes.iter().rev().cloned().collect();
        while let Some(n) = stack.pop() {
            *work += 1;
            match n {
                XNode::Text(t) | XNode::CData(t) => out.push_str(&t),
                XNode::Element(e) => stack.extend(e.lock().nodes.iter().rev().cloned()),
                XNode::Comment(_) | XNode::Instruction(..) => {}
            }
        }
        out
    }

    /// `Value = text`: the content becomes that text alone.
    pub(crate) fn set_value(&self, text: &str) {
        let old = {
            let mut inner = self.lock();
            inner.empty = false;
            std::mem::replace(&mut inner.nodes, vec![XNode::Text(Arc::from(text))])
        };
        orphan(old);
    }

    /// `RemoveNodes()`: no content at all (`<a />`).
    pub(crate) fn remove_nodes(&self) {
        let old = {
            let mut inner = self.lock();
            inner.empty = true;
            std::mem::take(&mut inner.nodes)
        };
        orphan(old);
    }

    /// The top of the element tree this element is in; `work` counts the steps up.
    fn root_of(&self, work: &mut usize) -> XElement {
        let mut top = self.clone();
        while let Some(p) = top.parent() {
            *work += 1;
            top = p;
        }
        top
    }

    /// `Add(content)`: an element (copied when it has a parent or is this tree's root),
    /// an attribute (copied when it has a parent; a repeated name is an error), text.
    pub(crate) fn add(&self, item: Content, work: &mut usize) -> Result<(), XmlError> {
        match item {
            Content::Text(t) => {
                let mut inner = self.lock();
                inner.empty = false;
                if t.is_empty() {
                    return Ok(());
                }
                match inner.nodes.last_mut() {
                    Some(XNode::Text(previous)) => {
                        *previous = Arc::from(format!("{previous}{t}"));
                    }
                    _ => inner.nodes.push(XNode::Text(Arc::from(t))),
                }
            }
            Content::Element(e) => {
                let e = if e.parent().is_some() || e.is_in_document() || self.root_of(work).same(&e)
                {
                    e.deep_clone(0, work)?
                } else {
                    e
                };
                e.lock().parent = Parent::Element(Arc::downgrade(&self.0));
                let mut inner = self.lock();
                inner.empty = false;
                inner.nodes.push(XNode::Element(e));
            }
            Content::Node(n) => {
                let mut inner = self.lock();
                inner.empty = false;
                inner.nodes.push(n);
            }
            Content::Attribute(a) => {
                let a = if a.parent().is_some() {
                    XAttribute::new(a.name().clone(), &a.value())
                } else {
                    a
                };
                let mut inner = self.lock();
                if inner.attributes.iter().any(|x| x.name() == a.name()) {
                    return Err(XmlError::DuplicateAttribute(a.name().expanded()));
                }
                lock(&a.0.inner).1 = Arc::downgrade(&self.0);
                inner.attributes.push(a);
            }
        }
        Ok(())
    }

    fn is_in_document(&self) -> bool {
        matches!(self.lock().parent, Parent::Document(_))
    }

    /// `Remove()`: out of its parent element or document.
    pub(crate) fn remove(&self) -> Result<(), XmlError> {
        let parent = std::mem::take(&mut self.lock().parent);
        let drop_from = |nodes: &mut Vec<XNode>| {
            nodes.retain(|n| !matches!(n, XNode::Element(e) if e.same(self)));
        };
        match parent {
            Parent::Element(p) => {
                if let Some(p) = p.upgrade() {
                    let p = XElement(p);
                    let mut inner = p.lock();
                    drop_from(&mut inner.nodes);
                    // .NET's content becomes null with its last node: `<a />` again
                    inner.empty |= inner.nodes.is_empty();
                }
            }
            Parent::Document(d) => {
                if let Some(d) = d.upgrade() {
                    drop_from(&mut lock(&d.0));
                }
            }
            Parent::None => return Err(XmlError::NoParent),
        }
        Ok(())
    }

    /// `SetAttributeValue(name, value)`: null removes the attribute.
    pub(crate) fn set_attribute_value(&self, name: XName, value: Option<&str>) {
        let found = self.attribute(&name);
        match (found, value) {
            (Some(a), Some(v)) => a.set_value(v),
            (Some(a), None) => {
                let _ = a.remove();
            }
            (None, Some(v)) => {
                let a = XAttribute::new(name, v);
                lock(&a.0.inner).1 = Arc::downgrade(&self.0);
                self.lock().attributes.push(a);
            }
            (None, None) => {}
        }
    }

    /// `SetElementValue(name, value)`: null removes the first child of that name,
    /// otherwise its value is set, or a child made.
    pub(crate) fn set_element_value(&self, name: XName, value: Option<&str>, work: &mut usize) {
        let found = self.element(&name, work);
        match (found, value) {
            (Some(e), Some(v)) => e.set_value(v),
            (Some(e), None) => {
                let _ = e.remove();
            }
            (None, Some(v)) => {
                let e = XElement::new(name);
                e.set_value(v);
                // a new element has no parent: never copied, never an error
                let _ = self.add(Content::Element(e), work);
            }
            (None, None) => {}
        }
    }

    /// A copy sharing nothing with `self`, with no parent.
    pub(crate) fn deep_clone(&self, depth: usize, work: &mut usize) -> Result<XElement, XmlError> {
        *work += 1;
        if depth > MAX_WRITE_DEPTH {
            return Err(XmlError::TooDeep(MAX_WRITE_DEPTH));
        }
        let (name, attributes, nodes, empty) = {
            let inner = self.lock();
            (
                inner.name.clone(),
                inner.attributes.clone(),
                inner.nodes.clone(),
                inner.empty,
            )
        };
        let copy = XElement::new(name);
        for a in attributes {
            copy.add(
                Content::Attribute(XAttribute::new(a.name().clone(), &a.value())),
                work,
            )?;
        }
        let mut out = Vec::with_capacity(nodes.len());
        for n in nodes {
            out.push(match n {
                XNode::Element(e) => {
                    let c = e.deep_clone(depth + 1, work)?;
                    c.lock().parent = Parent::Element(Arc::downgrade(&copy.0));
                    XNode::Element(c)
                }
                other => {
                    *work += 1;
                    other
                }
            });
        }
        {
            let mut inner = copy.lock();
            inner.nodes = out;
            inner.empty = empty;
        }
        Ok(copy)
    }
}

/// What `Add` and the constructors take, after conversion of the arguments.
pub(crate) enum Content {
    Text(String),
    Element(XElement),
    Attribute(XAttribute),
    /// A comment or instruction of a parsed document's content (never shared).
    Node(XNode),
}

fn children(nodes: &[XNode]) -> Vec<XElement> {
    nodes
        .iter()
        .filter_map(|n| match n {
            XNode::Element(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Nodes taken out of an element lose their parent.
fn orphan(nodes: Vec<XNode>) {
    for n in nodes {
        if let XNode::Element(e) = n {
            e.lock().parent = Parent::None;
        }
    }
}

impl XDocument {
    /// `Root`: the document's element.
    pub(crate) fn root(&self) -> Option<XElement> {
        children(&lock(&self.0.0)).into_iter().next()
    }

    pub(crate) fn nodes(&self) -> Vec<XNode> {
        lock(&self.0.0).clone()
    }

    /// `new XDocument(content...)`.
    pub(crate) fn new(content: Vec<Content>, work: &mut usize) -> Result<XDocument, XmlError> {
        let doc = XDocument(Arc::new(DocumentData(Mutex::new(Vec::new()))));
        for c in content {
            doc.add(c, work)?;
        }
        Ok(doc)
    }

    /// `Add(content)`: comments and at most one element (copied when it has a parent);
    /// whitespace text is dropped, other text and attributes are errors, as in .NET.
    pub(crate) fn add(&self, c: Content, work: &mut usize) -> Result<(), XmlError> {
        let node = match c {
            Content::Element(e) => {
                if self.root().is_some() {
                    return Err(XmlError::Content("second root element"));
                }
                let e = if e.parent().is_some() || e.is_in_document() {
                    e.deep_clone(0, work)?
                } else {
                    e
                };
                e.lock().parent = Parent::Document(Arc::downgrade(&self.0));
                XNode::Element(e)
            }
            Content::Node(n) => n,
            Content::Text(t) if t.trim().is_empty() => return Ok(()),
            Content::Text(_) => return Err(XmlError::Content("non-whitespace text")),
            Content::Attribute(_) => return Err(XmlError::Content("attribute")),
        };
        lock(&self.0.0).push(node);
        Ok(())
    }
}

/// `XDocument.Parse(text)`: namespaces resolved, as .NET reads them.
pub(crate) fn parse_document(text: &str, work: &mut usize) -> Result<XDocument, XmlError> {
    let d = crate::xml::read(text, crate::xml::MAX_NODES)?;
    let mut content = Vec::new();
    for n in d.before {
        content.extend(misc(n));
    }
    let mut scopes = Vec::new();
    content.push(Content::Element(build(&d.root, &mut scopes, work)?));
    for n in d.after {
        content.extend(misc(n));
    }
    XDocument::new(content, work)
}

/// `XElement.Parse(text)`: the root alone, with no parent.
pub(crate) fn parse_element(text: &str, work: &mut usize) -> Result<XElement, XmlError> {
    let d = crate::xml::read(text, crate::xml::MAX_NODES)?;
    build(&d.root, &mut Vec::new(), work)
}

fn misc(n: crate::xml::Node) -> Option<Content> {
    use crate::xml::Node as N;
    Some(Content::Node(match n {
        N::Comment(c) => XNode::Comment(Arc::from(c)),
        N::Instruction { target, content } => {
            XNode::Instruction(Arc::from(target), Arc::from(content))
        }
        _ => return None,
    }))
}

/// The namespace of `prefix` in the scopes (innermost last).
fn resolve(scopes: &[Vec<(String, String)>], prefix: &str) -> Option<String> {
    match prefix {
        "xml" => return Some(XML.to_owned()),
        "xmlns" => return Some(XMLNS.to_owned()),
        _ => {}
    }
    scopes
        .iter()
        .rev()
        .find_map(|s| s.iter().rev().find(|(p, _)| p == prefix))
        .map(|(_, ns)| ns.clone())
        .or_else(|| prefix.is_empty().then(String::new))
}

/// An element of the read tree as an `XElement`; recursion is bounded by the reader's
/// depth limit.
fn build(
    e: &crate::xml::Element,
    scopes: &mut Vec<Vec<(String, String)>>,
    work: &mut usize,
) -> Result<XElement, XmlError> {
    *work += 1;
    let declared: Vec<(String, String)> = e
        .attributes
        .iter()
        .filter_map(|(n, v)| match (n.prefix.as_str(), n.local.as_str()) {
            ("xmlns", p) => Some((p.to_owned(), v.clone())),
            ("", "xmlns") => Some((String::new(), v.clone())),
            _ => None,
        })
        .collect();
    scopes.push(declared);
    let r = (|| {
        let ns = resolve(scopes, &e.name.prefix)
            .ok_or_else(|| XmlError::Prefix(e.name.prefix.clone()))?;
        let element = XElement::new(XName::new(&ns, &e.name.local));
        for (n, v) in &e.attributes {
            let name = match (n.prefix.as_str(), n.local.as_str()) {
                ("", local) => XName::new("", local),
                (p, local) => XName::new(
                    &resolve(scopes, p).ok_or_else(|| XmlError::Prefix(p.into()))?,
                    local,
                ),
            };
            element.add(Content::Attribute(XAttribute::new(name, v)), work)?;
        }
        for child in &e.children {
            use crate::xml::Node as N;
            *work += 1;
            let node = match child {
                N::Element(c) => XNode::Element(build(c, scopes, work)?),
                N::Text(t) => {
                    element.add(Content::Text(t.clone()), work)?;
                    continue;
                }
                N::CData(t) => XNode::CData(Arc::from(t.as_str())),
                N::Comment(t) => XNode::Comment(Arc::from(t.as_str())),
                N::Instruction { target, content } => {
                    XNode::Instruction(Arc::from(target.as_str()), Arc::from(content.as_str()))
                }
            };
            if let XNode::Element(c) = &node {
                c.lock().parent = Parent::Element(Arc::downgrade(&element.0));
            }
            element.add(Content::Node(node), work)?;
        }
        // `<a></a>` holds empty text; `<a/>` nothing
        element.lock().empty = e.self_closing;
        Ok(element)
    })();
    scopes.pop();
    r
}

/// Dropping a deep tree one level at a time, not by recursion.
impl Drop for ElementData {
    fn drop(&mut self) {
        let inner = self.0.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut stack = std::mem::take(&mut inner.nodes);
        while let Some(n) = stack.pop() {
            // the last holder (children's weak links to it do not count)
            if let XNode::Element(XElement(e)) = n
                && let Some(mut data) = Arc::into_inner(e)
            {
                let inner = data.0.get_mut().unwrap_or_else(PoisonError::into_inner);
                stack.append(&mut inner.nodes);
            }
        }
    }
}

/// A System.Xml.Linq object as an expression value.
#[derive(Clone, Debug)]
pub(crate) enum XObj {
    Document(XDocument),
    /// An element, with the top of its tree (see [`Top`]).
    Element(XElement, Top),
    Attribute(XAttribute, #[allow(dead_code)] Top),
    Name(XName),
}

/// What keeps a held node's tree alive. In .NET a node references its parent, so
/// holding `doc.Root.Element("a")` keeps `doc` whole and `.Parent` works after `doc` is
/// gone; here a parent link is weak (trees have no cycles, nothing leaks), and the value
/// holding a node holds the top of its tree instead.
#[derive(Clone, Debug)]
pub(crate) enum Top {
    /// The element is the top of its tree.
    Own,
    // held, not read: they keep the tree alive
    Element(#[allow(dead_code)] XElement),
    Document(#[allow(dead_code)] XDocument),
}

impl Top {
    /// The top for the nodes below `holder`, whose top this is.
    pub(crate) fn below(&self, holder: &XElement) -> Top {
        match self {
            Top::Own => Top::Element(holder.clone()),
            other => other.clone(),
        }
    }

    /// The top of `e`'s tree, found by walking up (`work` counts the steps).
    pub(crate) fn of(e: &XElement, work: &mut usize) -> Top {
        let mut current = e.clone();
        loop {
            *work += 1;
            let up = match &current.lock().parent {
                Parent::Element(p) => p.upgrade().map(XElement),
                Parent::Document(d) => match d.upgrade() {
                    Some(d) => return Top::Document(XDocument(d)),
                    None => None,
                },
                Parent::None => None,
            };
            match up {
                Some(p) => current = p,
                None => break,
            }
        }
        if current.same(e) {
            Top::Own
        } else {
            Top::Element(current)
        }
    }
}

impl XObj {
    pub(crate) fn kind(&self) -> XmlTy {
        match self {
            XObj::Document(_) => XmlTy::Document,
            XObj::Element(..) => XmlTy::Element,
            XObj::Attribute(..) => XmlTy::Attribute,
            XObj::Name(_) => XmlTy::Name,
        }
    }

    /// Reference equality, as C#'s `==` on these classes; names by value.
    pub(crate) fn same(&self, other: &XObj) -> bool {
        match (self, other) {
            (XObj::Document(a), XObj::Document(b)) => Arc::ptr_eq(&a.0, &b.0),
            (XObj::Element(a, _), XObj::Element(b, _)) => a.same(b),
            (XObj::Attribute(a, _), XObj::Attribute(b, _)) => a.same(b),
            (XObj::Name(a), XObj::Name(b)) => a == b,
            _ => false,
        }
    }

    /// `ToString()`: the XML of a document or element (indented or not), `name="value"`
    /// of an attribute, the expanded name of a name. `work` counts the nodes written.
    pub(crate) fn write(&self, indented: bool, work: &mut usize) -> Result<String, XmlError> {
        let mut out = String::new();
        match self {
            XObj::Document(d) => write(Source::Nodes(&d.nodes()), indented, &mut out, work)?,
            XObj::Element(e, _) => write(Source::Element(e), indented, &mut out, work)?,
            XObj::Attribute(a, _) => {
                let mut w = 0;
                let probe = XElement::new(XName::new("", "a"));
                probe.add(
                    Content::Attribute(XAttribute::new(a.name().clone(), &a.value())),
                    &mut w,
                )?;
                write(Source::Element(&probe), false, &mut out, work)?;
                // `<a name="value" />` less the element around it
                out = out
                    .strip_prefix("<a ")
                    .and_then(|s| s.strip_suffix(" />"))
                    .unwrap_or_default()
                    .to_owned();
            }
            XObj::Name(n) => out = n.expanded(),
        }
        Ok(out)
    }

    /// [`XObj::write`] without counting.
    pub(crate) fn text(&self, indented: bool) -> Result<String, XmlError> {
        self.write(indented, &mut 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_xname_get() {
        assert_eq!(XName::parse("{urn:x}a").unwrap().expanded(), "{urn:x}a");
        assert_eq!(XName::parse("a").unwrap().expanded(), "a");
        for bad in ["", "a b", "p:a", "{urn:x", "{}a", "1a"] {
            assert!(XName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces_are_resolved_and_undeclared_prefixes_refused() {
        let mut w = 0;
        let d = parse_document(
            r#"<s:E xmlns:s="urn:s" xmlns="urn:d"><B a="1" s:b="2"/></s:E>"#,
            &mut w,
        )
        .unwrap();
        let root = d.root().unwrap();
        assert_eq!(root.name().expanded(), "{urn:s}E");
        let b = root.elements().remove(0);
        assert_eq!(b.name().expanded(), "{urn:d}B");
        let names: Vec<String> = b.attributes().iter().map(|a| a.name().expanded()).collect();
        assert_eq!(names, ["a", "{urn:s}b"]);
        assert_eq!(
            parse_element("<p:a/>", &mut w).unwrap_err(),
            XmlError::Prefix("p".into())
        );
    }

    #[test]
    fn adding_a_tree_into_itself_copies_it() {
        let mut w = 0;
        let a = XElement::new(XName::parse("a").unwrap());
        let b = XElement::new(XName::parse("b").unwrap());
        a.add(Content::Element(b.clone()), &mut w).unwrap();
        b.add(Content::Element(a.clone()), &mut w).unwrap();
        // b holds a copy of a (which held b), not a itself
        let inner = b.elements().remove(0);
        assert!(!inner.same(&a));
        assert_eq!(inner.descendants(&mut w).len(), 1);
    }

    fn written(xml: &str, indented: bool) -> String {
        let e = parse_element(xml, &mut 0).unwrap();
        XObj::Element(e, Top::Own).text(indented).unwrap()
    }

    #[test]
    fn round_trips_keep_prefixes_comments_and_cdata() {
        let xml = r#"<p:a xmlns:p="urn:p" xmlns:q="urn:q"><p:b q:c="1"/><!--x--><?pi data?></p:a>"#;
        assert_eq!(
            written(xml, true),
            "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\">\n  <p:b q:c=\"1\" />\n  <!--x-->\n  <?pi data?>\n</p:a>"
        );
        // an inner declaration hides the outer one of the same prefix
        let xml = r#"<a xmlns:p="urn:1"><b xmlns:p="urn:2"><p:c/></b><p:d/></a>"#;
        assert_eq!(written(xml, false), xml.replace("/>", " />"));
        // "]]>" cannot stay inside one CDATA section
        let e = XElement::new(XName::parse("a").unwrap());
        e.add(Content::Node(XNode::CData(Arc::from("x]]>y"))), &mut 0)
            .unwrap();
        assert_eq!(
            XObj::Element(e, Top::Own).text(true).unwrap(),
            "<a><![CDATA[x]]]]><![CDATA[>y]]></a>"
        );
        // text line breaks are written as the one line break
        let e = XElement::new(XName::parse("a").unwrap());
        e.set_value("1\r\n2\r3");
        assert_eq!(
            XObj::Element(e, Top::Own).text(true).unwrap(),
            "<a>1\n2\n3</a>"
        );
    }

    #[test]
    fn writing_and_copying_stop_at_the_depth_limit() {
        let mut e = XElement::new(XName::parse("a").unwrap());
        for _ in 0..MAX_WRITE_DEPTH + 5 {
            let p = XElement::new(XName::parse("a").unwrap());
            p.add(Content::Element(e), &mut 0).unwrap();
            e = p;
        }
        assert_eq!(
            XObj::Element(e.clone(), Top::Own).text(false),
            Err(XmlError::TooDeep(MAX_WRITE_DEPTH))
        );
        assert!(e.deep_clone(0, &mut 0).is_err());
        // reading stays iterative: no limit there
        assert_eq!(e.descendants(&mut 0).len(), MAX_WRITE_DEPTH + 5);
        assert_eq!(e.value(&mut 0), "");
    }

    #[test]
    fn any_input_is_a_document_or_an_error() {
        let inputs = [
            "",
            "<",
            "<a",
            "<a>",
            "</a>",
            "<a/><",
            "<a>&</a>",
            "<a>&#xD800;</a>",
            "<a b/>",
            "<a xmlns:p=''><p:b/></a>",
            "<xml:a/>",
            "<a xml:lang='en'/>",
            "\u{feff}<a/>",
            "<?xml version='1.0'?>",
            "<!-- x --><a/><!-- y -->",
            "<a><![CDATA[</a>",
        ];
        for input in inputs {
            let _ = parse_document(input, &mut 0);
            let _ = parse_element(input, &mut 0);
        }
        assert_eq!(
            written("<a xml:lang='en'/>", false),
            "<a xml:lang=\"en\" />"
        );
    }

    #[test]
    fn dropping_a_very_deep_tree_does_not_overflow_the_stack() {
        let mut w = 0;
        let mut e = XElement::new(XName::parse("a").unwrap());
        for _ in 0..200_000 {
            let p = XElement::new(XName::parse("a").unwrap());
            p.add(Content::Element(e), &mut w).unwrap();
            e = p;
        }
        drop(e);
    }
}
