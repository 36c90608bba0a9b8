//! Evaluating System.Xml.Linq members: every operation charges the nodes it reads,
//! builds or writes ([`NODE_COST`] each) and the bytes it parses or writes.

use std::sync::Arc;

use super::super::builtins::datetime::format_datetime;
use super::super::diagnostic::EvalErrorKind as E;
use super::super::ir::{XmlFn, XmlMethod, XmlProp};
use super::super::json::Target;
use super::super::number::format_double;
use super::super::span::Span;
use super::super::types::XmlTy;
use super::super::value::{Handle, HandleKind, Value};
use super::super::xlinq::{
    self, Content, Top, XAttribute, XDocument, XElement, XName, XObj, XmlError,
};
use super::{Eval, R};

fn obj(x: XObj) -> Value {
    Value::Object(Handle(HandleKind::Xml(x)))
}

/// An element found below a node whose tree has the top `top`.
fn element(e: Option<XElement>, top: &Top) -> Value {
    e.map_or(Value::Null, |e| obj(XObj::Element(e, top.clone())))
}

fn elements(v: Vec<XElement>, top: &Top) -> Value {
    Value::Array(
        v.into_iter()
            .map(|e| obj(XObj::Element(e, top.clone())))
            .collect(),
    )
}

fn xml_error(e: XmlError) -> E {
    E::Xml(e.to_string())
}

/// Steps for each node read, built, copied or written: a lock, a name compare or a
/// namespace lookup each, dearer than a JSON token. Measured on the 2-core VM,
/// `xml/rewrite_4kb` took 226 µs (`json/rewrite_4kb`: 60 µs); at 3 steps a node it was
/// charged 3,837 steps (59 ns a step), at 8 it is 9,172 (25 ns a step, what the limit
/// is calibrated for).
const NODE_COST: usize = 8;

/// Arrays put in an element are walked this deep at most (a list may hold itself).
const MAX_CONTENT_DEPTH: usize = 64;

/// `XmlConvert.ToString` of a value that becomes text (`XObject.GetStringValue`):
/// `true`/`false`, shortest round-trip doubles with `INF`/`-INF`, round-trip dates.
fn string_value(v: &Value) -> Result<String, E> {
    Ok(match v {
        Value::String(s) => s.to_string(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Double(d) if d.is_infinite() => if *d > 0.0 { "INF" } else { "-INF" }.to_owned(),
        Value::Double(d) => format_double(*d),
        Value::DateTime(d) => format_datetime(*d, "yyyy-MM-ddTHH:mm:ss.FFFFFFF")? + "Z",
        Value::TimeSpan(ticks) => duration(*ticks),
        Value::Object(Handle(HandleKind::Xml(x))) if x.kind() != XmlTy::Name => {
            return Err(E::Argument("An XObject cannot be used as a value.".into()));
        }
        other => other.to_display_string(),
    })
}

/// `XmlConvert.ToString(TimeSpan)`: an xsd:duration (`P1DT2H3M4.5S`, `-PT1M`, `PT0S`).
fn duration(ticks: i64) -> String {
    const SECOND: u64 = 10_000_000;
    let t = ticks.unsigned_abs();
    let (days, rest) = (t / (86_400 * SECOND), t % (86_400 * SECOND));
    let (hours, minutes) = (rest / (3_600 * SECOND), rest / (60 * SECOND) % 60);
    let (seconds, fraction) = (rest / SECOND % 60, rest % SECOND);
    let mut out = String::from(if ticks < 0 { "-P" } else { "P" });
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || fraction > 0 || rest == 0 {
            out.push_str(&seconds.to_string());
            if fraction > 0 {
                let digits = format!("{fraction:07}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    out
}

/// The content `Add` and the constructors take: nodes, attributes, text, and the items
/// of arrays; null adds nothing.
fn contents(v: &Value, depth: usize, out: &mut Vec<Content>) -> Result<(), E> {
    match v {
        Value::Null => {}
        Value::Object(Handle(HandleKind::Xml(XObj::Element(e, _)))) => {
            out.push(Content::Element(e.clone()));
        }
        Value::Object(Handle(HandleKind::Xml(XObj::Attribute(a, _)))) => {
            out.push(Content::Attribute(a.clone()));
        }
        Value::Object(Handle(HandleKind::Xml(XObj::Document(_)))) => {
            return Err(xml_error(XmlError::Content("XDocument")));
        }
        Value::Array(items) => {
            if depth >= MAX_CONTENT_DEPTH {
                return Err(xml_error(XmlError::TooDeep(MAX_CONTENT_DEPTH)));
            }
            for item in items.to_vec() {
                contents(&item, depth + 1, out)?;
            }
        }
        other => out.push(Content::Text(string_value(other)?)),
    }
    Ok(())
}

/// A name argument: an `XName`, or a string converted as `XName.Get`.
fn name_arg(v: Option<&Value>) -> Result<XName, E> {
    match v {
        Some(Value::Object(Handle(HandleKind::Xml(XObj::Name(n))))) => Ok(n.clone()),
        Some(Value::String(s)) => XName::parse(s).map_err(xml_error),
        _ => Err(E::Argument(
            "Value cannot be null. (Parameter 'name')".into(),
        )),
    }
}

/// `XmlConvert.ToInt32`, `ToInt64`, `ToDouble`, `ToBoolean` of an element's or an
/// attribute's value (surrounding whitespace allowed).
fn convert(text: &str, to: Target) -> Result<Value, E> {
    let t = text.trim_matches([' ', '\t', '\n', '\r']);
    let bad = || E::Format(format!("The string '{text}' is not a valid {}.", to.name()));
    let integer = |s: &str| -> Option<i64> {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    Ok(match to {
        Target::String => Value::string(text),
        Target::Bool => match t {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(bad()),
        },
        Target::Int => Value::Int(
            integer(t)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(bad)?,
        ),
        Target::Long => Value::Long(integer(t).ok_or_else(bad)?),
        Target::Double => Value::Double(match t {
            "INF" => f64::INFINITY,
            "-INF" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            _ if t
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
            {
                t.parse().map_err(|_| bad())?
            }
            _ => return Err(bad()),
        }),
        Target::DateTime | Target::Token(_) => {
            return Err(E::InvalidCast {
                from: "XElement".into(),
                to: to.name().into(),
            });
        }
    })
}

impl Eval<'_> {
    fn charge_nodes(&mut self, n: usize, span: Span) -> R<()> {
        self.charge(n.saturating_mul(NODE_COST), span)
    }

    /// Runs `f` with a work counter and charges what it counted.
    fn counted<T>(&mut self, span: Span, f: impl FnOnce(&mut usize) -> T) -> R<T> {
        let mut work = 0;
        let r = f(&mut work);
        self.charge_nodes(work, span)?;
        Ok(r)
    }

    /// `x` as XML text, charged and size-checked.
    fn xml_text(&mut self, x: &XObj, indented: bool, span: Span) -> R<Value> {
        let r = self.counted(span, |w| x.write(indented, w))?;
        let out = r.map_err(|e| (xml_error(e), span))?;
        self.check_len(out.len(), "the XML text", span)?;
        self.charge_bytes(out.len(), span)?;
        Ok(Value::String(Arc::from(out)))
    }

    fn xml_parse(&mut self, text: &str, k: XmlTy, span: Span) -> R<Value> {
        self.charge_bytes(text.len(), span)?;
        let r = self.counted(span, |w| match k {
            XmlTy::Element => xlinq::parse_element(text, w).map(|e| XObj::Element(e, Top::Own)),
            _ => xlinq::parse_document(text, w).map(XObj::Document),
        })?;
        r.map(obj).map_err(|e| (xml_error(e), span))
    }

    pub(crate) fn xml_prop(&mut self, v: Value, p: XmlProp, span: Span) -> R<Value> {
        if let (XmlProp::NamespaceName, Value::String(_)) = (p, &v) {
            // an XNamespace is its name
            return Ok(v);
        }
        let Value::Object(Handle(HandleKind::Xml(x))) = &v else {
            return Err((E::Internal(format!("{p:?} on a {}", v.type_name())), span));
        };
        let s = |t: &str| Value::string(t);
        let parent = |ev: &mut Self, p: Option<XElement>| -> R<Value> {
            let Some(p) = p else { return Ok(Value::Null) };
            let top = ev.counted(span, |w| Top::of(&p, w))?;
            Ok(obj(XObj::Element(p, top)))
        };
        Ok(match (p, x) {
            (XmlProp::Root, XObj::Document(d)) => element(d.root(), &Top::Document(d.clone())),
            (XmlProp::Name, XObj::Element(e, _)) => obj(XObj::Name(e.name())),
            (XmlProp::Name, XObj::Attribute(a, _)) => obj(XObj::Name(a.name().clone())),
            (XmlProp::Value, XObj::Element(e, _)) => {
                let text = self.counted(span, |w| e.value(w))?;
                self.charge_bytes(text.len(), span)?;
                s(&text)
            }
            (XmlProp::Value, XObj::Attribute(a, _)) => Value::String(a.value()),
            (XmlProp::Parent, XObj::Element(e, _)) => parent(self, e.parent())?,
            (XmlProp::Parent, XObj::Attribute(a, _)) => parent(self, a.parent())?,
            (XmlProp::HasElements, XObj::Element(e, _)) => Value::Bool(!e.elements().is_empty()),
            (XmlProp::HasAttributes, XObj::Element(e, _)) => {
                Value::Bool(!e.attributes().is_empty())
            }
            (XmlProp::IsEmpty, XObj::Element(e, _)) => {
                let inner = e.lock();
                Value::Bool(inner.empty && inner.nodes.is_empty())
            }
            (XmlProp::LocalName, XObj::Name(n)) => Value::String(n.local.clone()),
            (XmlProp::NamespaceName | XmlProp::Namespace, XObj::Name(n)) => {
                Value::String(n.ns.clone())
            }
            _ => {
                return Err((E::Internal(format!("{p:?} on a {}", x.kind().name())), span));
            }
        })
    }

    pub(crate) fn xml_method(
        &mut self,
        recv: Value,
        m: XmlMethod,
        args: Vec<Value>,
        span: Span,
    ) -> R<Value> {
        let fail = |e: E| (e, span);
        let xfail = |e: XmlError| (xml_error(e), span);
        if let XmlMethod::BodyAs(k) = m {
            let Value::Object(Handle(HandleKind::Body(w))) = recv else {
                return Err((E::Internal(format!("As on a {}", recv.type_name())), span));
            };
            let preserve = args.first().and_then(Value::as_bool).unwrap_or(false);
            let bytes = self.body_bytes(&w, preserve, span)?;
            return self.xml_parse(&String::from_utf8_lossy(&bytes), k, span);
        }
        if let (XmlMethod::ToString, Value::String(_)) = (m, &recv) {
            // an XNamespace is its name
            return Ok(recv);
        }
        if m == XmlMethod::RemoveEach {
            let Value::Array(items) = &recv else {
                return Err((
                    E::Internal(format!("Remove on a {}", recv.type_name())),
                    span,
                ));
            };
            for item in items.to_vec() {
                self.charge_nodes(1, span)?;
                if let Value::Object(Handle(HandleKind::Xml(XObj::Element(e, _)))) = item {
                    e.remove().map_err(xfail)?;
                }
            }
            return Ok(Value::Null);
        }
        let Value::Object(Handle(HandleKind::Xml(x))) = &recv else {
            return match m {
                // a cast from object met something else
                XmlMethod::To(t) => Err((
                    E::InvalidCast {
                        from: recv.type_name().to_owned(),
                        to: t.name().to_owned(),
                    },
                    span,
                )),
                _ => Err((
                    E::Internal(format!("{m:?} on a {}", recv.type_name())),
                    span,
                )),
            };
        };
        // XContainer's members, on an element or a document's root, and the top of the
        // tree below
        let (container, top) = match x {
            XObj::Element(e, t) => (Some(e.clone()), t.below(e)),
            XObj::Document(d) => (d.root(), Top::Document(d.clone())),
            _ => (None, Top::Own),
        };
        let named = |ev: &mut Self, v: Vec<XElement>| -> R<Value> {
            let v = match args.first() {
                Some(n) => {
                    let n = name_arg(Some(n)).map_err(fail)?;
                    v.into_iter().filter(|e| e.name() == n).collect()
                }
                None => v,
            };
            ev.charge_nodes(v.len(), span)?;
            Ok(elements(v, &top))
        };
        match (m, x) {
            (XmlMethod::ToString, _) => self.xml_text(x, true, span),
            (XmlMethod::ToStringOptions, _) => {
                let disable = matches!(args.first(), Some(Value::Enum(e)) if e.value & 1 == 1);
                self.xml_text(x, !disable, span)
            }
            (XmlMethod::To(t), XObj::Element(e, _)) => {
                let text = self.counted(span, |w| e.value(w))?;
                convert(&text, t).map_err(fail)
            }
            (XmlMethod::To(t), XObj::Attribute(a, _)) => convert(&a.value(), t).map_err(fail),
            (XmlMethod::Element, _) => {
                let n = name_arg(args.first()).map_err(fail)?;
                let found = match (x, &container) {
                    // a document's only child element is its root
                    (XObj::Document(_), Some(root)) => Some(root.clone()).filter(|r| r.name() == n),
                    (_, Some(e)) => self.counted(span, |w| e.element(&n, w))?,
                    _ => None,
                };
                Ok(element(found, &top))
            }
            (XmlMethod::Elements, _) => {
                let v = match (x, &container) {
                    (XObj::Document(_), Some(root)) => vec![root.clone()],
                    (_, Some(e)) => e.elements(),
                    _ => Vec::new(),
                };
                named(self, v)
            }
            (XmlMethod::Descendants, _) => {
                let v = match (x, &container) {
                    (XObj::Document(_), Some(root)) => {
                        let mut v = vec![root.clone()];
                        v.extend(self.counted(span, |w| root.descendants(w))?);
                        v
                    }
                    (_, Some(e)) => self.counted(span, |w| e.descendants(w))?,
                    _ => Vec::new(),
                };
                named(self, v)
            }
            (XmlMethod::Attribute, XObj::Element(e, _)) => {
                let n = name_arg(args.first()).map_err(fail)?;
                Ok(e.attribute(&n)
                    .map_or(Value::Null, |a| obj(XObj::Attribute(a, top.clone()))))
            }
            (XmlMethod::Attributes, XObj::Element(e, _)) => {
                let mut v = e.attributes();
                if let Some(n) = args.first() {
                    let n = name_arg(Some(n)).map_err(fail)?;
                    v.retain(|a| *a.name() == n);
                }
                self.charge_nodes(v.len(), span)?;
                Ok(Value::Array(
                    v.into_iter()
                        .map(|a| obj(XObj::Attribute(a, top.clone())))
                        .collect(),
                ))
            }
            (XmlMethod::Add, XObj::Element(..) | XObj::Document(_)) => {
                let mut items = Vec::new();
                for a in &args {
                    contents(a, 0, &mut items).map_err(fail)?;
                }
                if let XObj::Element(e, _) = x {
                    self.check_count(e.lock().nodes.len() + items.len(), span)?;
                }
                for c in items {
                    let r = self.counted(span, |w| match x {
                        XObj::Element(e, _) => e.add(c, w),
                        XObj::Document(d) => d.add(c, w),
                        _ => Ok(()),
                    })?;
                    r.map_err(xfail)?;
                }
                Ok(Value::Null)
            }
            (XmlMethod::Remove, XObj::Element(e, _)) => {
                e.remove().map_err(xfail)?;
                Ok(Value::Null)
            }
            (XmlMethod::Remove, XObj::Attribute(a, _)) => {
                a.remove().map_err(xfail)?;
                Ok(Value::Null)
            }
            (XmlMethod::RemoveNodes | XmlMethod::RemoveAll, XObj::Element(e, _)) => {
                if m == XmlMethod::RemoveAll {
                    for a in e.attributes() {
                        a.remove().map_err(xfail)?;
                    }
                }
                e.remove_nodes();
                Ok(Value::Null)
            }
            (XmlMethod::SetAttributeValue | XmlMethod::SetElementValue, XObj::Element(e, _)) => {
                let n = name_arg(args.first()).map_err(fail)?;
                let v = match args.get(1) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(string_value(v).map_err(fail)?),
                };
                self.charge_bytes(v.as_ref().map_or(0, String::len), span)?;
                if m == XmlMethod::SetAttributeValue {
                    e.set_attribute_value(n, v.as_deref());
                } else {
                    self.counted(span, |w| e.set_element_value(n, v.as_deref(), w))?;
                }
                Ok(Value::Null)
            }
            (XmlMethod::SetValue, XObj::Element(..) | XObj::Attribute(..)) => {
                let v = match args.first() {
                    None | Some(Value::Null) => {
                        return Err(fail(E::Argument(
                            "Value cannot be null. (Parameter 'value')".into(),
                        )));
                    }
                    Some(v) => string_value(v).map_err(fail)?,
                };
                self.charge_bytes(v.len(), span)?;
                match x {
                    XObj::Element(e, _) => e.set_value(&v),
                    XObj::Attribute(a, _) => a.set_value(&v),
                    _ => {}
                }
                Ok(Value::Null)
            }
            _ => Err((E::Internal(format!("{m:?} on a {}", x.kind().name())), span)),
        }
    }

    pub(crate) fn xml_static(&mut self, f: XmlFn, args: Vec<Value>, span: Span) -> R<Value> {
        let fail = |e: E| (e, span);
        let xfail = |e: XmlError| (xml_error(e), span);
        match f {
            XmlFn::Parse(k) => match args.first() {
                Some(Value::String(text)) => {
                    let text = text.clone();
                    self.xml_parse(&text, k, span)
                }
                _ => Err(fail(E::Argument(
                    "Value cannot be null. (Parameter 'text')".into(),
                ))),
            },
            XmlFn::New(XmlTy::Attribute) => {
                let n = name_arg(args.first()).map_err(fail)?;
                let v = match args.get(1) {
                    None | Some(Value::Null) => {
                        return Err(fail(E::Argument(
                            "Value cannot be null. (Parameter 'value')".into(),
                        )));
                    }
                    Some(v) => string_value(v).map_err(fail)?,
                };
                Ok(obj(XObj::Attribute(XAttribute::new(n, &v), Top::Own)))
            }
            XmlFn::New(XmlTy::Element) => {
                // the copy constructor: `new XElement(other)`
                if let [Value::Object(Handle(HandleKind::Xml(XObj::Element(e, _))))] = &args[..] {
                    let r = self.counted(span, |w| e.deep_clone(0, w))?;
                    return Ok(obj(XObj::Element(r.map_err(xfail)?, Top::Own)));
                }
                let n = name_arg(args.first()).map_err(fail)?;
                let e = XElement::new(n);
                let mut items = Vec::new();
                for a in args.iter().skip(1) {
                    contents(a, 0, &mut items).map_err(fail)?;
                }
                self.check_count(items.len(), span)?;
                for c in items {
                    let r = self.counted(span, |w| e.add(c, w))?;
                    r.map_err(xfail)?;
                }
                Ok(obj(XObj::Element(e, Top::Own)))
            }
            XmlFn::New(XmlTy::Document) => {
                let mut items = Vec::new();
                for a in &args {
                    if let Value::Object(Handle(HandleKind::Xml(XObj::Document(d)))) = a {
                        // the copy constructor: `new XDocument(other)`
                        for n in d.nodes() {
                            items.push(match n {
                                xlinq::XNode::Element(e) => Content::Element(e),
                                other => Content::Node(other),
                            });
                        }
                        continue;
                    }
                    contents(a, 0, &mut items).map_err(fail)?;
                }
                let r = self.counted(span, |w| XDocument::new(items, w))?;
                Ok(obj(XObj::Document(r.map_err(xfail)?)))
            }
            XmlFn::Name => match (args.first(), args.get(1)) {
                (Some(Value::String(ns)), Some(Value::String(local))) => {
                    let n = XName::in_namespace(ns, local).map_err(xfail)?;
                    Ok(obj(XObj::Name(n)))
                }
                _ => Err(fail(E::Argument(
                    "Value cannot be null. (Parameter 'localName')".into(),
                ))),
            },
            XmlFn::Namespace => match args.first() {
                Some(v @ Value::String(_)) => Ok(v.clone()),
                _ => Err(fail(E::Argument(
                    "Value cannot be null. (Parameter 'namespaceName')".into(),
                ))),
            },
            XmlFn::New(XmlTy::Name | XmlTy::Namespace) => {
                Err(fail(E::Internal("new XName".into())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_text_as_xmlconvert_writes_them() {
        assert_eq!(string_value(&Value::Bool(true)).unwrap(), "true");
        assert_eq!(string_value(&Value::Double(1.5)).unwrap(), "1.5");
        assert_eq!(
            string_value(&Value::Double(f64::NEG_INFINITY)).unwrap(),
            "-INF"
        );
        let d = time::macros::datetime!(2024-01-02 03:04:05 UTC);
        assert_eq!(
            string_value(&Value::DateTime(d)).unwrap(),
            "2024-01-02T03:04:05Z"
        );
        let d = time::macros::datetime!(2024-01-02 03:04:05.25 UTC);
        assert_eq!(
            string_value(&Value::DateTime(d)).unwrap(),
            "2024-01-02T03:04:05.25Z"
        );
    }

    #[test]
    fn timespans_become_xsd_durations() {
        let d = |t: i64| duration(t);
        assert_eq!(d(0), "PT0S");
        assert_eq!(d(36_000_000_000), "PT1H");
        assert_eq!(d(-600_000_000), "-PT1M");
        assert_eq!(d(864_000_000_000), "P1D");
        assert_eq!(
            d(864_000_000_000 + 36_000_000_000 + 45_000_000),
            "P1DT1H4.5S"
        );
    }

    #[test]
    fn casts_read_as_xmlconvert() {
        assert!(matches!(convert(" 42 ", Target::Int), Ok(Value::Int(42))));
        assert!(matches!(convert("1", Target::Bool), Ok(Value::Bool(true))));
        assert!(matches!(convert("True", Target::Bool), Err(E::Format(_))));
        assert!(matches!(convert("1e3", Target::Double), Ok(Value::Double(d)) if d == 1000.0));
        assert!(matches!(convert("x", Target::Long), Err(E::Format(_))));
        assert!(matches!(
            convert("99999999999", Target::Int),
            Err(E::Format(_))
        ));
    }
}
