//! The compiled form: names and members resolved, types checked, constants folded.

use std::sync::Arc;

use super::ast::{BinOp, UnOp};
use super::span::Span;
use super::types::{EnumTy, Ty};
use super::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    // context
    Request,
    Response,
    Variables,
    Deployment,
    Api,
    Operation,
    LastError,
    RequestId,
    Timestamp,
    Elapsed,
    User,
    Subscription,
    Product,
    Tracing,
    // request / response
    ReqMethod,
    ReqUrl,
    ReqOriginalUrl,
    ReqHeaders,
    ReqIpAddress,
    ReqBody,
    ReqMatchedParameters,
    ReqCertificate,
    RespStatusCode,
    RespStatusReason,
    RespHeaders,
    RespBody,
    // url
    UrlHost,
    UrlPath,
    UrlPort,
    UrlQuery,
    UrlQueryString,
    UrlScheme,
    // deployment, api, operation, last error
    DepRegion,
    DepServiceName,
    DepCertificates,
    ApiId,
    ApiName,
    ApiPath,
    ApiRevision,
    ApiVersion,
    ApiIsCurrentRevision,
    ApiServiceUrl,
    OpId,
    OpMethod,
    OpName,
    OpUrlTemplate,
    ErrSource,
    ErrReason,
    ErrMessage,
    ErrScope,
    ErrSection,
    ErrPath,
    ErrPolicyId,
    // certificate
    CertSubject,
    CertIssuer,
    CertSubjectName,
    CertIssuerName,
    CertThumbprint,
    CertSerialNumber,
    CertNotBefore,
    CertNotAfter,
    CertVersion,
    CertSignatureAlgorithm,
    CertRawData,
    CertFriendlyName,
    CertHasPrivateKey,
    X500Name,
    OidValue,
    OidFriendlyName,
    // library
    StrLength,
    ArrLength,
    BytesLength,
    PairKey,
    PairValue,
    DictCount,
    DictKeys,
    DictValues,
    DtYear,
    DtMonth,
    DtDay,
    DtHour,
    DtMinute,
    DtSecond,
    DtMillisecond,
    DtDayOfYear,
    DtDate,
    DtTicks,
    DtTimeOfDay,
    DtKind,
    TsDays,
    TsHours,
    TsMinutes,
    TsSeconds,
    TsMilliseconds,
    TsTicks,
    TsTotalDays,
    TsTotalHours,
    TsTotalMinutes,
    TsTotalSeconds,
    TsTotalMilliseconds,
    GroupSuccess,
    GroupValue,
    GroupIndex,
    GroupLength,
    MatchGroups,
    GroupsCount,
}

/// Which certificate property an uploaded-certificates lookup compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertField {
    Thumbprint,
    Subject,
    SerialNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    ToString,
    ToStringFormat,
    Equals,
    // string
    StrContains,
    StrStartsWith,
    StrEndsWith,
    StrIndexOf,
    StrIndexOfFrom,
    StrLastIndexOf,
    StrSubstring,
    StrSubstringLen,
    StrReplace,
    StrSplit,
    StrSplitOptions,
    StrTrim,
    StrTrimChars,
    StrTrimStart,
    StrTrimEnd,
    StrToUpper,
    StrToLower,
    StrEqualsCmp,
    StrStartsWithCmp,
    StrEndsWithCmp,
    StrContainsCmp,
    StrIndexOfCmp,
    StrPadLeft,
    StrPadRight,
    StrToCharArray,
    StrCompareTo,
    // certificate
    CertVerify,
    CertVerifyNoRevocation,
    CertGetNameInfo,
    CertGetSerialNumberString,
    CertGetCertHashString,
    // date and time
    DtAddDays,
    DtAddHours,
    DtAddMinutes,
    DtAddSeconds,
    DtAddMilliseconds,
    DtAddTicks,
    DtAddMonths,
    DtAddYears,
    DtAdd,
    DtSubtractSpan,
    DtSubtractDate,
    DtToUniversalTime,
    DtToLocalTime,
    DtCompareTo,
    TsAdd,
    TsSubtract,
    TsNegate,
    TsDuration,
    // context objects
    BodyAsString,
    BodyAsBytes,
    DictContainsKey,
    DictGetValueOrDefault,
    VarGetValueOrDefault,
    EncGetString,
    EncGetBytes,
    // LINQ
    Any,
    AnyPred,
    All,
    Count,
    CountPred,
    Where,
    Select,
    First,
    FirstPred,
    FirstOrDefault,
    FirstOrDefaultPred,
    Last,
    LastOrDefault,
    Contains,
    ToArray,
    Distinct,
    Skip,
    Take,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaticFn {
    StrIsNullOrEmpty,
    StrIsNullOrWhiteSpace,
    StrJoin,
    StrFormat,
    StrConcat,
    StrEquals,
    StrEqualsCmp,
    DtUtcNow,
    DtNow,
    DtToday,
    DtParse,
    DtSpecifyKind,
    TsFromDays,
    TsFromHours,
    TsFromMinutes,
    TsFromSeconds,
    TsFromMilliseconds,
    TsFromTicks,
    ToBase64String,
    FromBase64String,
    ConvertToInt32,
    ConvertToInt64,
    ConvertToDouble,
    ConvertToBoolean,
    ConvertToString,
    MathAbs,
    MathMax,
    MathMin,
    MathFloor,
    MathCeiling,
    MathRound,
    MathRoundDigits,
    MathPow,
    MathSqrt,
    RegexIsMatch,
    RegexMatch,
    RegexReplace,
    RegexEscape,
    IntParse,
    LongParse,
    DoubleParse,
    BoolParse,
}

/// A lambda argument of a LINQ method: slots of its parameters and its body.
#[derive(Debug, Clone)]
pub(crate) struct Lambda {
    pub params: Vec<u16>,
    pub body: Node,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Const(Value),
    Local(u16),
    Context,
    Prop {
        recv: Box<Node>,
        prop: Prop,
        null_cond: bool,
        span: Span,
    },
    Method {
        recv: Box<Node>,
        method: Method,
        args: Vec<Node>,
        lambda: Option<Box<Lambda>>,
        /// The `T` of `GetValueOrDefault<T>` / `As<T>`.
        ty: Option<Ty>,
        null_cond: bool,
        span: Span,
    },
    Static {
        f: StaticFn,
        args: Vec<Node>,
        /// A regular expression compiled at load when the pattern is a constant.
        regex: Option<Arc<super::builtins::regex::Pattern>>,
        span: Span,
    },
    Index {
        recv: Box<Node>,
        index: Box<Node>,
        null_cond: bool,
        span: Span,
    },
    Unary {
        op: UnOp,
        expr: Box<Node>,
        span: Span,
    },
    Binary {
        op: BinOp,
        l: Box<Node>,
        r: Box<Node>,
        span: Span,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Coalesce(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Cast {
        to: Ty,
        expr: Box<Node>,
        /// From `object`: unboxing, the value must have exactly the target type.
        unbox: bool,
        span: Span,
    },
    IsNull {
        expr: Box<Node>,
        negated: bool,
    },
    /// String concatenation and interpolation: each part with its format.
    Concat(Vec<(Node, Option<String>)>, Span),
    /// `Deployment.Certificates.Any(c => c.Value.<field> == value)` as a hash lookup.
    UploadedContains {
        field: CertField,
        value: Box<Node>,
    },
}

impl Node {
    pub(crate) fn is_const(&self) -> bool {
        matches!(self, Node::Const(_))
    }

    /// Whether the node reads local `slot`.
    pub(crate) fn uses_slot(&self, slot: u16) -> bool {
        let u = |n: &Node| n.uses_slot(slot);
        match self {
            Node::Const(_) | Node::Context => false,
            Node::Local(s) => *s == slot,
            Node::Prop { recv, .. } => u(recv),
            Node::Method {
                recv, args, lambda, ..
            } => u(recv) || args.iter().any(u) || lambda.as_ref().is_some_and(|l| u(&l.body)),
            Node::Static { args, .. } => args.iter().any(u),
            Node::Index { recv, index, .. } => u(recv) || u(index),
            Node::Unary { expr, .. } | Node::Cast { expr, .. } | Node::IsNull { expr, .. } => {
                u(expr)
            }
            Node::Binary { l, r, .. } | Node::And(l, r) | Node::Or(l, r) | Node::Coalesce(l, r) => {
                u(l) || u(r)
            }
            Node::Cond(a, b, c) => u(a) || u(b) || u(c),
            Node::Concat(parts, _) => parts.iter().any(|(n, _)| u(n)),
            Node::UploadedContains { value, .. } => u(value),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Stmt {
    Set(u16, Node),
    If(Node, Box<Stmt>, Option<Box<Stmt>>),
    Return(Node),
    Foreach {
        slot: u16,
        iter: Node,
        body: Box<Stmt>,
        span: Span,
    },
    Block(Vec<Stmt>),
    Expr(Node),
}

/// An enum value constant.
pub(crate) fn enum_const(ty: EnumTy, value: i32) -> Value {
    Value::Enum(super::value::EnumValue { ty, value })
}
