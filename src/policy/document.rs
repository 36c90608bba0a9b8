//! Policy documents, scopes and `<base/>` composition (spec §1.1–1.2).
//!
//! A document is `<policies>` with the sections `<inbound>`, `<backend>`, `<outbound>`
//! and `<on-error>`. Scopes go from broad to narrow: global, product, API, operation.
//! In a section, `<base/>` means "insert here the same section of the broader scope"
//! (as that scope composed it, with its own `<base/>`). The rules certgate implements:
//!
//! * `<base/>` may come before, between or after the policies of a section.
//! * A section without `<base/>` does not inherit: only its own policies run.
//! * An empty section written out (`<outbound/>`) therefore runs nothing.
//! * A section that is **omitted** from the document is treated as `<base/>` alone, so
//!   a short operation policy with only `<inbound>` keeps the API's and global backend
//!   (APIM's editor always writes all four sections with `<base/>`; this is a choice).
//! * At global scope `<base/>` has no effect (there is nothing broader).
//! * All four sections compose the same way. (Microsoft's emulator runs outbound and
//!   on-error inner scope first; the documented rule, and certgate's, is that the order
//!   is whatever `<base/>` placement says.)
//! * `<base/>` at most once per section (twice would run the parent's policies twice),
//!   only directly inside a section, without attributes or children.
//! * A scope that has no document is transparent (as if every section were `<base/>`).
//!   Without a global document, APIM's default global policy applies:
//!   `<forward-request/>` in backend and nothing else ([`PolicyDocument::default_global`]).

use std::sync::Arc;

use super::elements::{
    self, Ctx, ForwardRequest, Meta, Node, Policy, SetBackendService, SiblingCounter,
    child_elements,
};
use super::error::{Location, PolicyError};
use super::fragments::PolicySources;
use super::section::SectionKind;
use super::xml;
use crate::expr::BodyReads;

/// A policy scope, broadest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Global,
    Product,
    Api,
    Operation,
}

impl Scope {
    /// The name used by `context.LastError.Scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Product => "product",
            Scope::Api => "api",
            Scope::Operation => "operation",
        }
    }
}

/// An entry of a section as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `<base/>` (or the implicit one of an omitted section), at this position.
    Base(Location),
    Policy(Arc<Node>),
}

/// A section of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    /// Where the section element is; `None` when the section was omitted (then `items`
    /// is one implicit `Base`).
    pub at: Option<Location>,
    pub items: Vec<Item>,
}

/// One loaded policy document of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub file: Arc<str>,
    pub scope: Scope,
    sections: [Section; 4],
}

impl PolicyDocument {
    /// Parses and validates a policy document. `file` names it in errors. `{{name}}`
    /// stays as written and `<include-fragment>` names no fragment: a deployment's
    /// documents load with `PolicyDocument::load`.
    pub fn parse(file: &str, text: &str, scope: Scope) -> Result<Self, PolicyError> {
        Self::parse_with(file, text, scope, &PolicySources::default())
    }

    /// Like [`PolicyDocument::parse`] for bytes: checks UTF-8 first (a BOM is fine).
    pub fn from_bytes(file: &str, bytes: &[u8], scope: Scope) -> Result<Self, PolicyError> {
        Self::load(file, bytes, scope, &PolicySources::default())
    }

    /// A document of a deployment: UTF-8 checked, named values replaced, fragments
    /// included.
    pub(crate) fn load(
        file: &str,
        bytes: &[u8],
        scope: Scope,
        sources: &PolicySources,
    ) -> Result<Self, PolicyError> {
        let text = xml::utf8(file, bytes)?;
        Self::parse_with(file, text, scope, sources)
            .map_err(|e| sources.locate_written(e, file, text))
    }

    fn parse_with(
        file: &str,
        text: &str,
        scope: Scope,
        sources: &PolicySources,
    ) -> Result<Self, PolicyError> {
        let root = sources.read(file, text)?;
        let file: Arc<str> = Arc::clone(&root.at.file);
        if root.name != "policies" {
            return Err(PolicyError::Structure {
                at: root.at.clone(),
                message: format!("the root element must be <policies>, found <{}>", root.name),
            });
        }
        if let Some(a) = root.attributes.first() {
            return Err(PolicyError::UnknownAttribute {
                at: a.at.clone(),
                element: "policies".into(),
                attribute: a.name.clone(),
                allowed: "none".into(),
            });
        }
        let mut found: [Option<Section>; 4] = Default::default();
        for el in child_elements(&root)? {
            let Some(kind) = SectionKind::ALL.into_iter().find(|k| k.as_str() == el.name) else {
                return Err(PolicyError::UnknownElement {
                    at: el.at.clone(),
                    name: el.name.clone(),
                    hint: " in <policies>: expected <inbound>, <backend>, <outbound> or <on-error>"
                        .into(),
                });
            };
            if found[kind.index()].is_some() {
                return Err(PolicyError::Structure {
                    at: el.at.clone(),
                    message: format!("<policies> has more than one <{}>", kind.as_str()),
                });
            }
            found[kind.index()] = Some(section(el, kind)?);
        }
        let omitted = |kind| Section {
            kind,
            at: None,
            items: vec![Item::Base(root.at.clone())],
        };
        let [inbound, backend, outbound, on_error] = found;
        let sections = [
            inbound.unwrap_or_else(|| omitted(SectionKind::Inbound)),
            backend.unwrap_or_else(|| omitted(SectionKind::Backend)),
            outbound.unwrap_or_else(|| omitted(SectionKind::Outbound)),
            on_error.unwrap_or_else(|| omitted(SectionKind::OnError)),
        ];
        Ok(PolicyDocument {
            file,
            scope,
            sections,
        })
    }

    /// Fails on the first `<set-backend-service backend-id="...">` naming an id that
    /// `known` does not know (`[[backends]]` of gateway.toml), at its attribute.
    pub(crate) fn check_backend_ids(
        &self,
        known: impl Fn(&str) -> bool,
    ) -> Result<(), PolicyError> {
        fn visit(
            nodes: &mut dyn Iterator<Item = &Node>,
            known: &dyn Fn(&str) -> bool,
        ) -> Result<(), PolicyError> {
            for node in nodes {
                match &node.policy {
                    Policy::SetBackendService(SetBackendService::BackendId { id, at })
                        if !known(id) =>
                    {
                        return Err(PolicyError::InvalidValue {
                            at: at.origin().clone(),
                            element: "set-backend-service".into(),
                            attribute: "backend-id".into(),
                            message: format!(
                                "no [[backends]] entry of gateway.toml has the id `{id}`"
                            ),
                        });
                    }
                    _ => visit(&mut node.children().into_iter(), known)?,
                }
            }
            Ok(())
        }
        for section in &self.sections {
            let mut nodes = section.items.iter().filter_map(|item| match item {
                Item::Policy(node) => Some(node.as_ref()),
                Item::Base(_) => None,
            });
            visit(&mut nodes, &known)?;
        }
        Ok(())
    }

    /// APIM's default global policy: `<forward-request/>` in backend, nothing else.
    pub fn default_global() -> Self {
        let file: Arc<str> = Arc::from("(default global policy)");
        let at = Location {
            file: Arc::clone(&file),
            line: 1,
            column: 1,
            offset: 0,
        };
        let section = |kind, items| Section {
            kind,
            at: Some(at.clone()),
            items,
        };
        let forward = Node {
            meta: Meta {
                name: "forward-request",
                id: None,
                at: at.clone(),
                path: "forward-request[1]".into(),
            },
            policy: Policy::ForwardRequest(ForwardRequest::defaults(&at)),
        };
        PolicyDocument {
            file,
            scope: Scope::Global,
            sections: [
                section(SectionKind::Inbound, Vec::new()),
                section(SectionKind::Backend, vec![Item::Policy(Arc::new(forward))]),
                section(SectionKind::Outbound, Vec::new()),
                section(SectionKind::OnError, Vec::new()),
            ],
        }
    }

    /// One section as written.
    pub fn section(&self, kind: SectionKind) -> &Section {
        &self.sections[kind.index()]
    }
}

fn section(el: &xml::XmlElement, kind: SectionKind) -> Result<Section, PolicyError> {
    if let Some(a) = el.attributes.first() {
        return Err(PolicyError::UnknownAttribute {
            at: a.at.clone(),
            element: el.name.clone(),
            attribute: a.name.clone(),
            allowed: "none".into(),
        });
    }
    let mut items = Vec::new();
    let mut base_at: Option<Location> = None;
    let mut counter = SiblingCounter::default();
    let mut forward_request: Option<Location> = None;
    for child in child_elements(el)? {
        let path = counter.path("", &child.name);
        if child.name == "base" {
            if let Some(first) = &base_at {
                return Err(PolicyError::Structure {
                    at: child.at.clone(),
                    message: format!(
                        "<{}> has a second <base/> (the first is at line {}, column {}); a section may include its parent scope once",
                        kind.as_str(),
                        first.line,
                        first.column
                    ),
                });
            }
            if let Some(a) = child.attributes.first() {
                return Err(PolicyError::UnknownAttribute {
                    at: a.at.clone(),
                    element: "base".into(),
                    attribute: a.name.clone(),
                    allowed: "none".into(),
                });
            }
            if !child.children.is_empty() {
                return Err(PolicyError::Structure {
                    at: child.at.clone(),
                    message: "<base/> takes no content".into(),
                });
            }
            base_at = Some(child.at.clone());
            items.push(Item::Base(child.at.clone()));
            continue;
        }
        let node = elements::parse_node(child, Ctx { section: kind }, path)?;
        if matches!(node.policy, Policy::ForwardRequest(_)) {
            if let Some(first) = &forward_request {
                return Err(PolicyError::Structure {
                    at: child.at.clone(),
                    message: format!(
                        "a second <forward-request> in <backend> (the first is at line {}, column {}); APIM allows one per policy document",
                        first.line, first.column
                    ),
                });
            }
            forward_request = Some(child.at.clone());
        }
        items.push(Item::Policy(Arc::new(node)));
    }
    Ok(Section {
        kind,
        at: Some(el.at.clone()),
        items,
    })
}

/// One statement of an effective pipeline: the policy, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `context.LastError.Scope`.
    pub scope: Scope,
    /// `context.LastError.Section`.
    pub section: SectionKind,
    /// The policy; `node.meta.path` is `context.LastError.Path`, `node.meta.id` its
    /// `PolicyId`, `node.meta.at.file` the document it came from.
    pub node: Arc<Node>,
}

/// The statements that run for one request, per section, after `<base/>` composition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EffectivePolicy {
    sections: [Vec<Step>; 4],
    /// Which bodies any expression of any section reads; computed once, here.
    reads: BodyReads,
}

impl EffectivePolicy {
    /// Composes the documents of one request, broadest scope first (for example
    /// `[global, api, operation]`). An empty chain gives empty sections; pass
    /// [`PolicyDocument::default_global`] first when there is no global document, or use
    /// [`EffectivePolicy::for_request`].
    pub fn compose(chain: &[&PolicyDocument]) -> Self {
        let sections = SectionKind::ALL.map(|kind| {
            let mut effective: Vec<Step> = Vec::new();
            for doc in chain {
                let mut next = Vec::with_capacity(effective.len());
                for item in &doc.section(kind).items {
                    match item {
                        Item::Base(_) => next.extend(effective.iter().cloned()),
                        Item::Policy(node) => next.push(Step {
                            scope: doc.scope,
                            section: kind,
                            node: Arc::clone(node),
                        }),
                    }
                }
                effective = next;
            }
            effective
        });
        let mut reads = BodyReads::default();
        for step in sections.iter().flatten() {
            reads |= step.node.reads();
        }
        EffectivePolicy { sections, reads }
    }

    /// Which message bodies the policies read: the gateway buffers those (bounded) and
    /// streams the others.
    pub fn reads(&self) -> BodyReads {
        self.reads
    }

    /// Composes global, API and operation documents. Without a global document, APIM's
    /// default global policy applies; a missing API or operation document is
    /// transparent. Meant for load time: the result is shared by every request of the
    /// operation (steps hold their nodes behind `Arc`).
    pub fn for_request(
        global: Option<&PolicyDocument>,
        api: Option<&PolicyDocument>,
        operation: Option<&PolicyDocument>,
    ) -> Self {
        let default_global;
        let global = match global {
            Some(g) => g,
            None => {
                default_global = PolicyDocument::default_global();
                &default_global
            }
        };
        let chain: Vec<&PolicyDocument> = std::iter::once(global)
            .chain(api)
            .chain(operation)
            .collect();
        Self::compose(&chain)
    }

    /// The statements of one section, in the order they run.
    pub fn section(&self, kind: SectionKind) -> &[Step] {
        &self.sections[kind.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_global_is_forward_request_in_backend_only() {
        let g = PolicyDocument::default_global();
        assert_eq!(g.scope, Scope::Global);
        for kind in SectionKind::ALL {
            let items = &g.section(kind).items;
            if kind == SectionKind::Backend {
                assert!(matches!(&items[..], [Item::Policy(n)]
                    if matches!(n.policy, Policy::ForwardRequest(_)) && n.meta.path == "forward-request[1]"));
            } else {
                assert!(items.is_empty(), "{kind:?}");
            }
        }
    }

    #[test]
    fn the_bodies_a_policy_reads_are_known_at_load() {
        let reads = |inbound: &str, outbound: &str| {
            let text = format!(
                "<policies><inbound>{inbound}</inbound><outbound>{outbound}</outbound></policies>"
            );
            let doc =
                PolicyDocument::parse("p.xml", &text, Scope::Api).unwrap_or_else(|e| panic!("{e}"));
            let r = EffectivePolicy::for_request(None, Some(&doc), None).reads();
            (r.request, r.response)
        };
        let nested = r#"<choose><when condition="@(context.Request.Headers.ContainsKey(&quot;x&quot;))"><return-response><set-body>@(context.Request.Body.As<string>())</set-body></return-response></when></choose>"#;
        assert_eq!(reads(nested, ""), (true, false));
        let response = r#"<set-header name="x-n" exists-action="override"><value>@{ var b = context.Response.Body; return b.As<string>(preserveContent: true).Length.ToString(); }</value></set-header>"#;
        assert_eq!(reads("", response), (false, true));
        // Writing a body, naming Body in a string, or reading headers reads nothing.
        let writes = r#"<set-body>@("Body" + context.Request.Headers.GetValueOrDefault("x", ""))</set-body><set-header name="Body" exists-action="override"><value>Body</value></set-header>"#;
        assert_eq!(reads(writes, "<set-body>done</set-body>"), (false, false));
    }

    #[test]
    fn paths_number_same_named_siblings() {
        let doc = PolicyDocument::parse(
            "p.xml",
            r#"<policies><inbound><set-variable name="a" value="1"/><base/><choose><when condition="true"/></choose><set-variable name="b" value="2"/></inbound></policies>"#,
            Scope::Operation,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let paths: Vec<_> = doc
            .section(SectionKind::Inbound)
            .items
            .iter()
            .map(|i| match i {
                Item::Base(_) => "base".to_owned(),
                Item::Policy(n) => n.meta.path.clone(),
            })
            .collect();
        assert_eq!(
            paths,
            ["set-variable[1]", "base", "choose[1]", "set-variable[2]"]
        );
    }

    #[test]
    fn omitted_sections_inherit_and_written_ones_do_not() {
        let doc = PolicyDocument::parse("p.xml", "<policies><outbound/></policies>", Scope::Api)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            &doc.section(SectionKind::Inbound).items[..],
            [Item::Base(_)]
        ));
        assert!(doc.section(SectionKind::Inbound).at.is_none());
        assert!(doc.section(SectionKind::Outbound).items.is_empty());
        assert_eq!(Scope::Operation.as_str(), "operation");
        assert_eq!(SectionKind::OnError.as_str(), "on-error");
    }
}
