//! The syntax tree. Every node carries the span of the text it came from.

use super::span::Span;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Plus,
    /// `~`
    BitNot,
    /// `-` inside `unchecked(...)`: wraps (made by the checker).
    NegWrap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Coalesce,
    /// `&`, `|`, `^` (on integers bitwise; on bool without short-circuit), `<<`, `>>`.
    BitAnd,
    BitOr,
    Xor,
    Shl,
    Shr,
    /// `+`, `-`, `*` on integers inside `unchecked(...)`: they wrap instead of throwing
    /// (made by the checker).
    AddWrap,
    SubWrap,
    MulWrap,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Coalesce => "??",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::Xor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::AddWrap => "+",
            BinOp::SubWrap => "-",
            BinOp::MulWrap => "*",
        }
    }
}

/// A type as written: `string`, `bool?`, `string[]`, `System.DateTime`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeRef {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    pub name: Option<(String, Span)>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Lit(String),
    Hole(Box<Expr>, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    /// `checked(e)` (`wrapping` false) and `unchecked(e)`.
    Checked {
        wrapping: bool,
        expr: Box<Expr>,
    },
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
    Char(char),
    Interp(Vec<Part>),
    Name(String),
    Member {
        target: Box<Expr>,
        name: String,
        name_span: Span,
        null_cond: bool,
    },
    /// `target(args)`; a method call when `target` is a `Member`.
    Call {
        target: Box<Expr>,
        type_args: Vec<TypeRef>,
        args: Vec<Arg>,
    },
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
        null_cond: bool,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(TypeRef, Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Lambda {
        params: Vec<(String, Span)>,
        body: Box<Expr>,
    },
    // C# 7 expressions (i15)
    /// `x is T` and `x is T name`.
    IsType {
        expr: Box<Expr>,
        ty: TypeRef,
        name: Option<(String, Span)>,
    },
    /// `x as T`.
    As(Box<Expr>, TypeRef),
    /// `new T(args)`, `new T[n]`, `new T[] { ... }`, `new[] { ... }`.
    New(New),
    /// An `out` argument: `out var x`, `out T x` (`ty` is the type written) or `out x`
    /// (`ty` is None: an existing local).
    Out {
        ty: Option<TypeRef>,
        name: String,
        name_span: Span,
    },
}

/// What follows `new`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum New {
    /// `new T(args)`, with a `{ ... }` initializer if one follows.
    Object {
        ty: TypeRef,
        args: Vec<Arg>,
        init: Option<Init>,
    },
    /// `new T[size]`, `new T[] { elems }` or `new[] { elems }` (`elem` is None).
    Array {
        elem: Option<TypeRef>,
        size: Option<Box<Expr>>,
        elems: Option<Vec<Expr>>,
    },
}

/// An object or collection initializer: `{ a, b }`, `{ { k, v }, [k] = v }`,
/// `{ Name = value }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Init {
    pub items: Vec<InitItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InitItem {
    /// `x` or `{ k, v }`: a call of `Add` with these arguments.
    Add(Vec<Expr>, Span),
    /// `[k] = v`.
    Index(Expr, Expr),
    /// `Name = value`.
    Member(String, Span, Expr),
}

/// One `case` / `default` section of a `switch` statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    /// The `case` values; `None` is `default`.
    pub labels: Vec<(Option<Expr>, Span)>,
    pub body: Vec<Stmt>,
}

/// The `catch` clause of a `try` statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catch {
    pub ty: Option<TypeRef>,
    pub name: Option<(String, Span)>,
    pub body: Vec<Stmt>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stmt {
    Var {
        ty: Option<TypeRef>,
        name: String,
        name_span: Span,
        /// None: `string[] parts;`, the type's default value.
        init: Option<Expr>,
        is_const: bool,
    },
    Assign {
        name: String,
        name_span: Span,
        op: Option<BinOp>,
        value: Expr,
    },
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    Return(Option<Expr>, Span),
    Foreach {
        ty: Option<TypeRef>,
        name: String,
        name_span: Span,
        iter: Expr,
        body: Box<Stmt>,
    },
    Block(Vec<Stmt>),
    /// `checked { ... }` / `unchecked { ... }` (`wrapping`): integer arithmetic in the
    /// block throws on overflow or wraps, as `checked(e)` / `unchecked(e)`.
    Checked {
        wrapping: bool,
        body: Vec<Stmt>,
    },
    Expr(Expr),
    /// `target[index] = value;` (`target` is an `ExprKind::Index`), or
    /// `target.Name = value;` (an `ExprKind::Member`).
    IndexAssign {
        target: Expr,
        value: Expr,
    },
    /// `target.Name = value;` (`target` is an `ExprKind::Member`).
    MemberAssign {
        target: Expr,
        value: Expr,
    },
    // C# 7 statements (i15)
    /// Declarations that share the current scope: `int a = 1, b = 2;`, a `for`'s parts.
    Seq(Vec<Stmt>),
    /// `for (init; cond; step) body`, `while (cond) body` and `do body while (cond);`
    /// (`test_after`).
    Loop {
        init: Vec<Stmt>,
        cond: Option<Expr>,
        step: Vec<Stmt>,
        body: Box<Stmt>,
        span: Span,
        test_after: bool,
    },
    Break(Span),
    Continue(Span),
    /// `throw e;`, or `throw;` in a catch.
    Throw(Option<Expr>, Span),
    Try {
        body: Vec<Stmt>,
        catch: Option<Catch>,
        finally: Option<Vec<Stmt>>,
    },
    Switch {
        value: Expr,
        sections: Vec<Section>,
        span: Span,
    },
    /// `T F(A a, B b) => e;` or `T F(A a) { ... }`.
    LocalFn(Box<LocalFn>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LocalFn {
    pub ret: TypeRef,
    pub name: String,
    pub name_span: Span,
    pub params: Vec<(TypeRef, String, Span)>,
    /// `Ok(e)` for `=> e;`, `Err(block)` for a block body.
    pub body: Result<Expr, Vec<Stmt>>,
}
