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
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stmt {
    Var {
        ty: Option<TypeRef>,
        name: String,
        name_span: Span,
        init: Expr,
    },
    Assign {
        name: String,
        name_span: Span,
        op: Option<BinOp>,
        value: Expr,
    },
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    Return(Expr, Span),
    Foreach {
        ty: Option<TypeRef>,
        name: String,
        name_span: Span,
        iter: Expr,
        body: Box<Stmt>,
    },
    Block(Vec<Stmt>),
    Expr(Expr),
}
