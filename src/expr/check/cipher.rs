//! APIM's `byte[].Encrypt` / `Decrypt` at load: the algorithm name when it is a constant,
//! and `aes.Key = ...`, the settable properties of the SymmetricAlgorithm they may take.

use super::super::ast::Expr;
use super::super::builtins::cipher;
use super::super::diagnostic::CompileErrorKind as K;
use super::super::ir::{self, Method, Node, Prop};
use super::super::span::Span;
use super::super::types::{Obj, Ty};
use super::super::value::Value;
use super::{CResult, Checker, coerce, members, mismatch};

impl Checker {
    /// `aes.Name = value;`: a settable property of a SymmetricAlgorithm (`recv`).
    pub(super) fn symmetric_assign(
        &mut self,
        recv: Node,
        (name, name_span, span): (&str, Span, Span),
        value: &Expr,
    ) -> CResult<ir::Stmt> {
        let rt = Ty::Obj(Obj::Symmetric);
        let Some((prop, ty)) = members::property(&rt, name) else {
            return Err(self.no_member(&rt, name, name_span));
        };
        if prop == Prop::SymBlockSize {
            return Err((K::NotAssignable(format!("{rt}.{name}")), span));
        }
        let (vn, vt) = self.value(value)?;
        if !ty.accepts(&vt) {
            return Err(mismatch(&ty, &vt, value.span));
        }
        Ok(ir::Stmt::SetProp {
            recv,
            prop,
            value: coerce(vn, &vt, &ty),
            span,
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
