//! Policy fragments (`fragments/<id>.xml`) and what resolves a document's references to
//! the rest of the deployment: `<include-fragment fragment-id="..."/>` and named values.
//!
//! A fragment is `<fragment>` holding policies, as in APIM. Inclusion happens on the
//! element tree before any policy meaning is given to it: `<include-fragment>` is
//! replaced by the fragment's elements wherever it stands (any section, inside
//! `<choose>`), so the including section's rules apply to them, and errors inside them
//! point into the fragment's file. Fragments may include fragments; a cycle or an
//! unknown id is an error at the `<include-fragment>` that makes it.

use std::collections::{BTreeMap, HashMap};

use super::error::PolicyError;
use super::named_values;
use super::xml::utf8;
use super::xml::{self, MAX_DEPTH, XmlElement, XmlNode};
use crate::files::SourceFile;

/// The most elements one document may hold once its fragments are included (each
/// inclusion copies the fragment, so a few fragments including each other twice over
/// would otherwise grow a document exponentially).
const MAX_EXPANDED_ELEMENTS: usize = 20_000;

/// Where fragment files are, and how they are named.
const FOLDER: &str = "fragments/";
const SUFFIX: &str = ".xml";

/// The named values and fragments of a deployment, which policy documents refer to.
#[derive(Debug, Default)]
pub(crate) struct PolicySources {
    /// `None` outside a deployment ([`super::PolicyDocument::parse`]): `{{name}}` stays
    /// as written.
    named_values: Option<BTreeMap<String, String>>,
    /// Fragment id → its `<fragment>` element, named values replaced, not yet expanded.
    fragments: HashMap<String, XmlElement>,
    /// The text as written of each fragment file that uses named values, to point errors
    /// in it back there ([`Self::locate_written`]).
    written: HashMap<String, String>,
}

impl PolicySources {
    /// Reads every `fragments/<id>.xml` of `files` (named values replaced), so a broken
    /// fragment fails the load even when nothing includes it yet.
    pub(crate) fn load(
        files: &[SourceFile],
        named_values: BTreeMap<String, String>,
    ) -> Result<Self, PolicyError> {
        let mut sources = Self {
            named_values: Some(named_values),
            fragments: HashMap::new(),
            written: HashMap::new(),
        };
        for file in files {
            let Some(id) = file
                .path
                .strip_prefix(FOLDER)
                .and_then(|name| name.strip_suffix(SUFFIX))
                .filter(|id| !id.contains('/'))
            else {
                continue;
            };
            let text = utf8(&file.path, &file.bytes)?;
            if text.contains("{{") {
                sources.written.insert(file.path.clone(), text.to_owned());
            }
            let root = sources
                .read_raw(&file.path, text)
                .map_err(|e| sources.locate_written(e, &file.path, text))?;
            if root.name != "fragment" {
                return Err(PolicyError::Structure {
                    at: root.at.clone(),
                    message: format!(
                        "the root element of a fragment must be <fragment>, found <{}>",
                        root.name
                    ),
                });
            }
            if let Some(a) = root.attributes.first() {
                return Err(PolicyError::UnknownAttribute {
                    at: a.at.clone(),
                    element: "fragment".into(),
                    attribute: a.name.clone(),
                    allowed: "none".into(),
                });
            }
            if let Some(base) = root.children.iter().find_map(|n| match n {
                XmlNode::Element(e) if e.name == "base" => Some(e),
                _ => None,
            }) {
                return Err(PolicyError::Structure {
                    at: base.at.clone(),
                    message: "a fragment may not contain <base/>; put <base/> in the section that includes the fragment".into(),
                });
            }
            sources.fragments.insert(id.to_owned(), root);
        }
        Ok(sources)
    }

    /// Reads a policy document: named values replaced, fragments included.
    pub(crate) fn read(&self, file: &str, text: &str) -> Result<XmlElement, PolicyError> {
        let mut root = self.read_raw(file, text)?;
        let mut budget = MAX_EXPANDED_ELEMENTS;
        root.children = self.expand(
            std::mem::take(&mut root.children),
            &mut Vec::new(),
            1,
            &mut budget,
        )?;
        Ok(root)
    }

    /// `error` of the document `file` (`text`) or of a fragment it includes, pointed into
    /// the file as written when named values were replaced in it.
    pub(crate) fn locate_written(&self, error: PolicyError, file: &str, text: &str) -> PolicyError {
        let Some(values) = &self.named_values else {
            return error;
        };
        let at = error.location().file.clone();
        let written = match self.written.get(&*at) {
            Some(fragment) => fragment.as_str(),
            None if &*at == file => text,
            None => return error,
        };
        named_values::locate_written(error, written, values)
    }

    fn read_raw(&self, file: &str, text: &str) -> Result<XmlElement, PolicyError> {
        match &self.named_values {
            Some(values) => xml::read(file, &named_values::substitute(file, text, values)?),
            None => xml::read(file, text),
        }
    }

    /// `nodes` (children of an element at `depth`) with each `<include-fragment>`
    /// replaced by the fragment's expanded elements. `stack` holds the fragments being
    /// included, outermost first.
    fn expand<'s>(
        &'s self,
        nodes: Vec<XmlNode>,
        stack: &mut Vec<&'s str>,
        depth: usize,
        budget: &mut usize,
    ) -> Result<Vec<XmlNode>, PolicyError> {
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let mut el = match node {
                XmlNode::Element(el) => el,
                text => {
                    out.push(text);
                    continue;
                }
            };
            *budget = budget.checked_sub(1).ok_or_else(|| PolicyError::Limit {
                at: el.at.clone(),
                message: format!(
                    "the document holds more than {MAX_EXPANDED_ELEMENTS} elements once its fragments are included; include fewer fragments"
                ),
            })?;
            if el.name != "include-fragment" {
                if depth >= MAX_DEPTH {
                    return Err(PolicyError::Limit {
                        at: el.at.clone(),
                        message: format!(
                            "elements nest more than {MAX_DEPTH} deep once fragments are included"
                        ),
                    });
                }
                el.children =
                    self.expand(std::mem::take(&mut el.children), stack, depth + 1, budget)?;
                out.push(XmlNode::Element(el));
                continue;
            }
            let (id, fragment) = self.included(&el)?;
            if stack.contains(&id) {
                let chain: Vec<&str> = stack.iter().copied().chain([id]).collect();
                return Err(PolicyError::Structure {
                    at: el.at.clone(),
                    message: format!(
                        "fragment `{id}` includes itself ({}); remove one <include-fragment> of the cycle",
                        chain.join(" -> ")
                    ),
                });
            }
            stack.push(id);
            out.extend(self.expand(fragment.children.clone(), stack, depth, budget)?);
            stack.pop();
        }
        Ok(out)
    }

    /// The id and fragment an `<include-fragment>` names.
    fn included(&self, el: &XmlElement) -> Result<(&str, &XmlElement), PolicyError> {
        let element = || "include-fragment".to_owned();
        if let Some(a) = el.attributes.iter().find(|a| a.name != "fragment-id") {
            return Err(PolicyError::UnknownAttribute {
                at: a.at.clone(),
                element: element(),
                attribute: a.name.clone(),
                allowed: "fragment-id".into(),
            });
        }
        if let Some(child) = el.children.iter().find(|n| match n {
            XmlNode::Element(_) => true,
            XmlNode::Text(t) => !t.source().trim().is_empty(),
        }) {
            let at = match child {
                XmlNode::Element(e) => e.at.clone(),
                XmlNode::Text(t) => t.origin().clone(),
            };
            return Err(PolicyError::Structure {
                at,
                message: "<include-fragment/> takes no content".into(),
            });
        }
        let attribute = el
            .attributes
            .iter()
            .find(|a| a.name == "fragment-id")
            .ok_or_else(|| PolicyError::MissingAttribute {
                at: el.at.clone(),
                element: element(),
                attribute: "fragment-id".into(),
            })?;
        let value = &attribute.value;
        if value.is_expression() {
            return Err(PolicyError::InvalidValue {
                at: value.origin().clone(),
                element: element(),
                attribute: "fragment-id".into(),
                message: "must be a fragment id, not an expression (fragments are included when the deployment loads)".into(),
            });
        }
        let id = value.source();
        self.fragments
            .get_key_value(id)
            .map(|(id, fragment)| (id.as_str(), fragment))
            .ok_or_else(|| PolicyError::InvalidValue {
                at: value.origin().clone(),
                element: element(),
                attribute: "fragment-id".into(),
                message: format!(
                    "no fragment `{id}`: add fragments/{id}.xml (a <fragment> document) to the deployment"
                ),
            })
    }
}
