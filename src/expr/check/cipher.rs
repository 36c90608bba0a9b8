//! APIM's `byte[].Encrypt` / `Decrypt` at load: the algorithm name when it is a constant,
//! and `aes.Key = ...`, the settable properties of the SymmetricAlgorithm they may take.

use super::super::ast::{Expr, ExprKind};
use super::super::builtins::cipher;
use super::super::diagnostic::CompileErrorKind as K;
use super::super::ir::{self, Method, Node, Prop};
use super::super::span::Span;
use super::super::types::{Obj, Ty};
use super::super::value::Value;
use super::{CResult, Checker, coerce, members, mismatch};

impl Checker {
    /// `target.Name = value;`: only the properties of a SymmetricAlgorithm can be set
    /// (the `context` model is read-only, and the library's other objects are immutable
    /// here).
    pub(super) fn member_assign(&mut self, target: &Expr, value: &Expr) -> CResult<ir::Stmt> {
        let not_assignable = || {
            (
                K::NotAssignable("a property of this object (only a SymmetricAlgorithm's)".into()),
                target.span,
            )
        };
        let ExprKind::Member {
            target: recv_e,
            name,
            name_span,
            null_cond: false,
        } = &target.kind
        else {
            return Err(not_assignable());
        };
        let (rn, rt) = self.value(recv_e)?;
        let Some((prop, ty)) = members::property(&rt, name) else {
            return Err(self.no_member(&rt, name, *name_span));
        };
        if rt != Ty::Obj(Obj::Symmetric) || prop == Prop::SymBlockSize {
            return Err((K::NotAssignable(format!("{rt}.{name}")), target.span));
        }
        let (vn, vt) = self.value(value)?;
        if !ty.accepts(&vt) {
            return Err(mismatch(&ty, &vt, value.span));
        }
        Ok(ir::Stmt::SetProp {
            recv: rn,
            prop,
            value: coerce(vn, &vt, &ty),
            span: target.span,
        })
    }

    /// `Encrypt("TripleDES", key, iv)`: a constant algorithm name certgate does not have
    /// is refused at load (one known only at run time is checked then).
    pub(super) fn cipher_name(&self, method: Method, args: &[Node], span: Span) -> CResult<()> {
        if let (Method::Encrypt | Method::Decrypt, Some(Node::Const(Value::String(name)))) =
            (method, args.first())
            && !cipher::is_aes_name(name)
        {
            return Err((
                K::NotImplemented(format!(
                    "the cipher '{name}' of Encrypt/Decrypt (certgate has 'Aes')"
                )),
                span,
            ));
        }
        Ok(())
    }
}
