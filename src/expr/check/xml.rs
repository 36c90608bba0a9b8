//! The checker's part for System.Xml.Linq: what may be XML content, explicit casts of
//! elements and attributes, and `x.Value = text;`.

use super::super::ast::Expr;
use super::super::ir::{self, Method, Node, XmlMethod};
use super::super::json::Target;
use super::super::span::Span;
use super::super::types::{Ty, XmlTy};
use super::super::value::{Handle, HandleKind, Value};
use super::super::xlinq::{XName, XObj};
use super::{CResult, Checker, K, mismatch};

/// Whether a value of type `t` may be given to `Add` or a constructor as content:
/// nodes, attributes, values that become text, and collections of them (.NET accepts
/// any object and writes its `ToString()`; certgate refuses at load what it would not
/// write as .NET does).
pub(super) fn is_content(t: &Ty) -> bool {
    match t {
        Ty::Xml(_)
        | Ty::Null
        | Ty::Object
        | Ty::String
        | Ty::Bool
        | Ty::Int
        | Ty::Long
        | Ty::Double
        | Ty::Char
        | Ty::DateTime
        | Ty::TimeSpan => true,
        Ty::Array(e) | Ty::List(e) => is_content(e),
        _ => false,
    }
}

/// `"name"` or `"{namespace}name"` where an `XName` is expected: converted at load,
/// so a name that is not one is a load error.
pub(super) fn const_name(s: &str, span: Span) -> CResult<Node> {
    match XName::parse(s) {
        Ok(n) => Ok(Node::Const(Value::Object(Handle(HandleKind::Xml(
            XObj::Name(n),
        ))))),
        Err(e) => Err((
            K::Expected {
                expected: "an XML name ('local' or '{namespace}local')".into(),
                found: e.to_string(),
            },
            span,
        )),
    }
}

/// What an explicit cast of an element or attribute to `to` reads its value as: a token's
/// conversions, to text and the primitives.
fn target(to: &Ty) -> Option<Target> {
    super::json::target(to).filter(|t| {
        matches!(
            t,
            Target::String | Target::Bool | Target::Int | Target::Long | Target::Double
        )
    })
}

impl Checker {
    /// `(string)element`, `(int)attribute`, ..., `(XElement)variable`, `(object)element`.
    pub(super) fn xml_cast(
        &mut self,
        n: Node,
        from: &Ty,
        to: &Ty,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        if from == to || *to == Ty::Object || (*from == Ty::Null && matches!(to, Ty::Xml(_))) {
            return Ok((n, to.clone()));
        }
        match (from, to) {
            (Ty::Object, Ty::Xml(_)) => Ok((
                Node::Cast {
                    to: to.clone(),
                    expr: Box::new(n),
                    unbox: true,
                    span,
                },
                to.clone(),
            )),
            (Ty::Xml(XmlTy::Element | XmlTy::Attribute), _) if let Some(t) = target(to) => Ok((
                Node::Method {
                    recv: Box::new(n),
                    method: Method::Xml(XmlMethod::To(t)),
                    args: Vec::new(),
                    lambda: None,
                    ty: None,
                    // (string)null is null; a number from null is an error, as in .NET
                    null_cond: !to.is_value_type(),
                    span,
                },
                to.clone(),
            )),
            (Ty::Xml(XmlTy::Element | XmlTy::Attribute), Ty::DateTime) => Err((
                K::NotImplemented(format!("the cast ({to}) of an {from}")),
                span,
            )),
            _ => Err((
                K::BadCast {
                    from: from.to_string(),
                    to: to.to_string(),
                },
                span,
            )),
        }
    }

    /// `x.Value = value;` of an element or attribute (`recv`, of type `rt`): the one
    /// property of System.Xml.Linq assigned here.
    pub(super) fn xml_value_assign(
        &mut self,
        (recv, rt): (Node, &Ty),
        (name, name_span, span): (&str, Span, Span),
        value: &Expr,
    ) -> CResult<ir::Stmt> {
        if name != "Value" {
            return Err((K::NotAssignable(format!("{rt}.{name}")), span));
        }
        let (vn, vt) = self.value(value)?;
        if !matches!(vt, Ty::String | Ty::Null) {
            return Err(mismatch("string", &vt, value.span));
        }
        Ok(ir::Stmt::Expr(Node::Method {
            recv: Box::new(recv),
            method: Method::Xml(XmlMethod::SetValue),
            args: vec![vn],
            lambda: None,
            ty: None,
            null_cond: false,
            span: name_span,
        }))
    }
}
