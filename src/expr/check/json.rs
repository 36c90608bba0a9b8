//! The checker's part for Newtonsoft.Json: casts to and from tokens, `Value<T>`,
//! `JsonConvert.DeserializeObject<T>`, and `token[index] = value`.

use super::super::ast::{Arg, Expr, ExprKind, TypeRef};
use super::super::ir::{self, JsonFn, JsonMethod, Method, Node, StaticFn};
use super::super::json::Target;
use super::super::span::Span;
use super::super::types::{JsonTy, Ty};
use super::{CResult, Checker, K, mismatch};

/// Whether a value of type `t` converts to a `JToken` where one is expected (Newtonsoft's
/// implicit conversions from string, numbers, bool and DateTime, and null).
pub(super) fn converts_to_token(t: &Ty) -> bool {
    matches!(
        t,
        Ty::Json(_)
            | Ty::String
            | Ty::Int
            | Ty::Long
            | Ty::Double
            | Ty::Bool
            | Ty::Char
            | Ty::DateTime
            | Ty::Null
    )
}

/// What a cast or `Value<T>` to `to` converts a token to.
pub(super) fn target(to: &Ty) -> Option<Target> {
    Some(match to {
        Ty::String => Target::String,
        Ty::Bool => Target::Bool,
        Ty::Int => Target::Int,
        Ty::Long => Target::Long,
        Ty::Double => Target::Double,
        Ty::DateTime => Target::DateTime,
        Ty::Json(k) => Target::Token(*k),
        _ => return None,
    })
}

fn convert(recv: Node, t: Target, to: &Ty, args: Vec<Node>, null_cond: bool, span: Span) -> Node {
    let method = if args.is_empty() {
        JsonMethod::To(t)
    } else {
        JsonMethod::ValueOf(t)
    };
    Node::Method {
        recv: Box::new(recv),
        method: Method::Json(method),
        args,
        lambda: None,
        ty: Some(to.clone()),
        null_cond,
        span,
    }
}

impl Checker {
    /// `(string)token`, `(int)token`, `(JObject)token`, `(JObject)variable`, `(object)token`.
    pub(super) fn json_cast(
        &mut self,
        n: Node,
        from: &Ty,
        to: &Ty,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        let bad = || {
            (
                K::BadCast {
                    from: from.to_string(),
                    to: to.to_string(),
                },
                span,
            )
        };
        if *to == Ty::Object || (*to == Ty::Json(JsonTy::Token) && matches!(from, Ty::Json(_))) {
            return Ok((n, to.clone()));
        }
        if *from == Ty::Null && matches!(to, Ty::Json(_)) {
            return Ok((n, to.clone()));
        }
        let t = match (from, target(to)) {
            (Ty::Json(_) | Ty::Object, Some(t)) => t,
            _ => return Err(bad()),
        };
        // (string)null is null; a value type from a null token is an error, as in .NET
        Ok((
            convert(n, t, to, Vec::new(), !to.is_value_type(), span),
            to.clone(),
        ))
    }

    /// `token.Value<T>()` and `token.Value<T>(key)`.
    pub(super) fn json_value(
        &mut self,
        recv: Node,
        type_args: &[TypeRef],
        args: &[Arg],
        null_cond: bool,
        name_span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let usage = || {
            (
                K::Arguments {
                    method: "JToken.Value<T>".into(),
                    expected: "one type argument and () or (key)".into(),
                },
                name_span,
            )
        };
        let [t] = type_args else { return Err(usage()) };
        let to = self.type_ref(t)?;
        let Some(target) = target(&to) else {
            return Err((
                K::NotImplemented(format!("JToken.Value<{}>", t.name)),
                t.span,
            ));
        };
        let mut nodes = Vec::new();
        match args {
            [] => {}
            [key] => {
                let (kn, kt) = self.value(&key.value)?;
                if !matches!(kt, Ty::String | Ty::Int | Ty::Char) {
                    return Err(mismatch("string or int", &kt, key.value.span));
                }
                nodes.push(kn);
            }
            _ => return Err(usage()),
        }
        let null_cond = null_cond || (!to.is_value_type() && nodes.is_empty());
        Ok((convert(recv, target, &to, nodes, null_cond, name_span), to))
    }

    /// `JsonConvert.DeserializeObject<JObject>(text)` (and `<JArray>`, `<JToken>`); any
    /// other generic static member is refused as not implemented yet.
    pub(super) fn json_generic_static(
        &mut self,
        owner: &Ty,
        name: &str,
        name_span: Span,
        type_args: &[TypeRef],
        args: &[Arg],
        span: Span,
    ) -> CResult<(Node, Ty)> {
        let written: Vec<&str> = type_args.iter().map(|t| t.name.as_str()).collect();
        let what = format!("{owner}.{name}<{}>", written.join(", "));
        let kind = match (owner.to_string().as_str(), name, type_args) {
            ("JsonConvert", "DeserializeObject", [t]) => match Ty::from_name(&t.name) {
                Some(Ty::Json(k @ (JsonTy::Object | JsonTy::Array | JsonTy::Token))) => k,
                _ => return Err((K::NotImplemented(what), t.span)),
            },
            _ => return Err((K::NotImplemented(what), name_span)),
        };
        self.no_named(args)?;
        let [text] = args else {
            return Err((
                K::Arguments {
                    method: what,
                    expected: "(string value)".into(),
                },
                name_span,
            ));
        };
        let (tn, tt) = self.value(&text.value)?;
        if !matches!(tt, Ty::String | Ty::Null) {
            return Err(mismatch("string", &tt, text.value.span));
        }
        Ok((
            Node::Static {
                f: StaticFn::Json(JsonFn::Deserialize(kind)),
                args: vec![tn],
                regex: None,
                span,
            },
            Ty::Json(kind),
        ))
    }

    /// `token[index] = value;` on a JObject (string key) or JArray (int index).
    pub(super) fn index_assign(&mut self, target: &Expr, value: &Expr) -> CResult<ir::Stmt> {
        if let ExprKind::Member { .. } = &target.kind {
            return self.member_assign(target, value);
        }
        let ExprKind::Index {
            target: recv_e,
            index,
            ..
        } = &target.kind
        else {
            return Err((
                K::Expected {
                    expected: "an indexer such as token[\"name\"]".into(),
                    found: "an expression".into(),
                },
                target.span,
            ));
        };
        let (rn, rt) = self.value(recv_e)?;
        let (inode, it) = self.value(index)?;
        match (&rt, &it) {
            (Ty::Json(JsonTy::Object | JsonTy::Token), Ty::String)
            | (Ty::Json(JsonTy::Array | JsonTy::Token), Ty::Int | Ty::Char) => {}
            (Ty::Json(JsonTy::Object), _) => return Err(mismatch("string", &it, index.span)),
            (Ty::Json(JsonTy::Array), _) => return Err(mismatch("int", &it, index.span)),
            _ => {
                return self.collection_assign(
                    (rn, rt),
                    (inode, it),
                    value,
                    target.span,
                    index.span,
                );
            }
        }
        let (vn, vt) = self.value(value)?;
        if !converts_to_token(&vt) {
            return Err(mismatch("JToken", &vt, value.span));
        }
        Ok(ir::Stmt::SetIndex {
            recv: rn,
            index: inode,
            value: vn,
            span: target.span,
        })
    }
}
