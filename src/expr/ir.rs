//! The compiled form: names and members resolved, types checked, constants folded.

use std::sync::Arc;

use super::ast::{BinOp, UnOp};
use super::json::Target;
use super::span::Span;
use super::types::{EnumTy, JsonTy, Ty, XmlTy};
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
    // Jwt
    JwtClaims,
    JwtSubject,
    JwtIssuer,
    JwtId,
    JwtAudiences,
    JwtExpirationTime,
    JwtNotBefore,
    JwtIssuedAt,
    JwtAlgorithm,
    JwtType,
    BasicUserId,
    BasicPassword,
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
    DtDayOfWeek,
    DtDate,
    DtTicks,
    DtTimeOfDay,
    DtKind,
    DtoClock,
    DtoUtcDateTime,
    DtoOffset,
    DtoUtcTicks,
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
    Json(JsonProp),
    Xml(XmlProp),
    // i15
    ExMessage,
    UriHost,
    UriAbsolutePath,
    UriQuery,
    UriScheme,
    UriPort,
    UriPathAndQuery,
    UriFragment,
    UriAbsoluteUri,
    UriAuthority,
    UriOriginalString,
    UriIsDefaultPort,
    SbLength,
    /// `Key`, `IV`, `KeySize`, `BlockSize`, `Mode`, `Padding` of a SymmetricAlgorithm.
    SymKey,
    SymIv,
    SymKeySize,
    SymBlockSize,
    SymMode,
    SymPadding,
    MapCount,
    MapKeys,
    MapValues,
    /// A member of `context.User`, `Subscription` or `Product`, which are null here.
    Absent,
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
    StrRemove,
    StrRemoveCount,
    StrInsert,
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
    DtoToOffset,
    DtoToUnixTimeSeconds,
    DtoToUnixTimeMilliseconds,
    TsAdd,
    TsSubtract,
    TsNegate,
    TsDuration,
    // context objects
    BodyAsString,
    BodyAsBytes,
    /// `Body.AsFormUrlEncodedContent()`.
    BodyAsForm,
    /// APIM's `ToQueryString()` / `ToFormUrlEncodedContent()` of a form dictionary.
    FormToQueryString,
    DictContainsKey,
    DictGetValueOrDefault,
    VarGetValueOrDefault,
    EncGetString,
    EncGetBytes,
    StrAsJwt,
    /// Gives a pair (parsed, the `Jwt` or null) that `Node::Out` takes apart.
    StrTryParseJwt,
    StrAsBasic,
    StrTryParseBasic,
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
    /// `Contains(value, StringComparer.X)`.
    ContainsCmp,
    ToArray,
    Distinct,
    Skip,
    Take,
    Single,
    SinglePred,
    SingleOrDefault,
    SingleOrDefaultPred,
    Sum,
    SumSel,
    Min,
    MinSel,
    Max,
    MaxSel,
    Json(JsonMethod),
    Xml(XmlMethod),
    // i15
    SbAppend,
    SbAppendLine,
    RandomNext,
    RandomNextDouble,
    /// `Guid.ToByteArray()`: .NET's order, the first three fields little-endian.
    GuidToByteArray,
    // List<T> and Dictionary<K, V>: see `eval::collections`
    ListAdd,
    ListAddRange,
    ListInsert,
    ListRemove,
    ListRemoveAt,
    /// `List<T>.Sort()`: in place, by the default comparer (OrderBy's order).
    ListSort,
    /// `List<T>.Reverse()`: in place.
    ListReverse,
    ListIndexOf,
    Clear,
    MapAdd,
    MapContainsKey,
    MapContainsValue,
    MapRemove,
    /// Gives a pair (found, value) that `Node::Out` takes apart.
    MapTryGetValue,
    /// `ComputeHash(bytes)` of a hash or HMAC object.
    ComputeHash,
    /// `Dispose()` of a hash object: nothing to release.
    Dispose,
    /// APIM's `byte[].Encrypt` / `Decrypt`: with an algorithm name, key and IV, or a
    /// SymmetricAlgorithm (and a key and IV).
    Encrypt,
    Decrypt,
    SymGenerateKey,
    SymGenerateIv,
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
    DtoParse,
    DtoUtcNow,
    DtoFromUnixTimeSeconds,
    DtoFromUnixTimeMilliseconds,
    NewDateTimeOffset,
    DtSpecifyKind,
    DtDaysInMonth,
    DtIsLeapYear,
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
    // constructors (i15): `new T(args)`, see `check::members::CONSTRUCTORS`
    NewTimeSpan,
    NewDateTime,
    NewException,
    NewUri,
    NewStringBuilder,
    NewRandom,
    /// `Aes.Create()`, `new AesManaged()`.
    AesCreate,
    /// `(int)x` and `(long)x` of an integer inside `unchecked(...)`: the low bits.
    UncheckedInt,
    UncheckedLong,
    GuidNewGuid,
    GuidParse,
    /// `new HMACSHA256(key)`, ...
    NewHmac(super::types::HashAlg),
    BitConverterToString,
    UrlEncode,
    UrlDecode,
    HtmlEncode,
    HtmlDecode,
    EscapeDataString,
    UnescapeDataString,
    /// `string.Compare(a, b)`, `(a, b, ignoreCase)`, `(a, b, StringComparison)`.
    StrCompare,
    /// `new List<T>()`, `new List<T>(capacity)`, `new List<T>(items)`.
    NewList,
    /// `new Dictionary<K, V>()`, with a `StringComparer` argument or not.
    NewMap,
    Json(JsonFn),
    Xml(XmlFn),
}

// ---------------------------------------------------------------- Newtonsoft.Json

/// Properties of JSON tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonProp {
    /// `JObject.Count`, `JArray.Count`.
    Count,
    /// `JToken.Type` (a `JTokenType`).
    Type,
    HasValues,
    /// `JProperty.Name`.
    Name,
    /// `JProperty.Value`.
    Value,
}

/// Methods of JSON tokens, and the conversions casts and `Value<T>` make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonMethod {
    /// `Body.As<JObject>()`, `As<JArray>()`, `As<JToken>()`.
    BodyAs(JsonTy),
    /// `ToString()`: indented JSON for a container, the value's text for a JValue.
    ToString,
    /// `ToString(Formatting)`.
    ToStringFormatting,
    /// `(string)t`, `(int)t`, `(JObject)t`, `t.Value<T>()`.
    To(Target),
    /// `t.Value<T>(key)`.
    ValueOf(Target),
    SelectToken,
    Properties,
    /// `JObject.Property(name)`: the property of that name (ordinal), or null.
    Property,
    /// `JObject.Add(name, value)`.
    AddNamed,
    /// `JArray.Add(value)`, `JObject.Add(JProperty)`.
    Add,
    /// `JObject.Remove(name)`.
    Remove,
    /// `JProperty.Remove()`: out of the object it was read from.
    RemoveSelf,
    /// `JObject.ContainsKey(name)`.
    ContainsKey,
    /// `JObject.GetValue(name)`: as `o[name]`, null when missing.
    GetValue,
}

/// Static members of Newtonsoft.Json classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonFn {
    /// `JObject.Parse`, `JArray.Parse`, `JToken.Parse`.
    Parse(JsonTy),
    /// `JsonConvert.SerializeObject(value)`.
    Serialize,
    /// `JsonConvert.SerializeObject(value, Formatting)`.
    SerializeFormatting,
    /// `JsonConvert.DeserializeObject(text)`, `DeserializeObject<JObject>(text)`.
    Deserialize(JsonTy),
    /// `new JObject(content...)`, `new JArray(...)`, `new JProperty(name, value)`,
    /// `new JValue(value)`: see `eval::tokens::construct`.
    New(JsonTy),
}

// ---------------------------------------------------------------- System.Xml.Linq

/// Properties of XML objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XmlProp {
    /// `XDocument.Root`.
    Root,
    /// `XElement.Name`, `XAttribute.Name`.
    Name,
    /// `XElement.Value` (all text below), `XAttribute.Value`.
    Value,
    /// `XElement.Parent`, `XAttribute.Parent`.
    Parent,
    HasElements,
    HasAttributes,
    IsEmpty,
    /// `XName.LocalName`, `XName.NamespaceName` (and `XNamespace.NamespaceName`).
    LocalName,
    NamespaceName,
    /// `XName.Namespace`.
    Namespace,
}

/// Methods of XML objects, and the conversions explicit casts make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XmlMethod {
    /// `Body.As<XDocument>()`, `As<XElement>()`.
    BodyAs(XmlTy),
    /// `Element(name)`: the first child element of that name, or null.
    Element,
    /// `Elements()`, `Elements(name)`.
    Elements,
    /// `Descendants()`, `Descendants(name)`.
    Descendants,
    Attribute,
    /// `Attributes()`, `Attributes(name)`.
    Attributes,
    /// `Add(content...)`.
    Add,
    /// `Remove()` of an element or attribute.
    Remove,
    /// `Remove()` of a sequence of elements (`Extensions.Remove`).
    RemoveEach,
    RemoveNodes,
    RemoveAll,
    SetAttributeValue,
    SetElementValue,
    /// `SetValue(value)`, and the property assignment `x.Value = text`.
    SetValue,
    /// `ToString()`: indented XML, `name="value"` for an attribute.
    ToString,
    /// `ToString(SaveOptions)`.
    ToStringOptions,
    /// `(string)x`, `(int)x`, ...
    To(Target),
}

/// Static members and constructors of XML types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XmlFn {
    /// `XDocument.Parse(text)`, `XElement.Parse(text)`.
    Parse(XmlTy),
    /// `new XElement(name, content...)`, `new XAttribute(name, value)`,
    /// `new XDocument(content...)`, and the copy constructors.
    New(XmlTy),
    /// `ns + "local"`: the name in a namespace.
    Name,
    /// `XNamespace.Get(name)`.
    Namespace,
}

/// LINQ operators with several lambdas or lambdas of other shapes than `x => ...`:
/// `check::linq` builds them, `eval::linq` runs them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LinqOp {
    /// `OrderBy(k)` / `OrderByDescending(k)`, then `ThenBy(k)`...: a lambda per key.
    Sort(Vec<SortKey>),
    /// `ToDictionary(k)` or `ToDictionary(k, v)`.
    ToDictionary,
    /// `GroupBy(k)` or `GroupBy(k, e)`.
    GroupBy,
    /// `Aggregate((acc, x) => ...)` or `Aggregate(seed, (acc, x) => ...)` (`args` has the
    /// seed).
    Aggregate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SortKey {
    pub descending: bool,
    /// Strings compared ordinally (`StringComparer.Ordinal` given), not as .NET's
    /// default comparer does.
    pub ordinal: bool,
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
    // C# 7 expressions (i15)
    /// `x is T` (null is no T); with a name, the value is stored in `slot` when it is.
    IsType {
        expr: Box<Node>,
        ty: Ty,
        slot: Option<u16>,
    },
    /// `x as T`: the value when it is a T, else null.
    As {
        expr: Box<Node>,
        ty: Ty,
    },
    /// A call of local function `id` of the program's table.
    CallFn {
        id: u16,
        args: Vec<Node>,
        span: Span,
    },
    /// A call with an `out` argument: `call` gives a pair (result, out value); the out
    /// value goes to `slot` (`default`, the type's default value, when the result is
    /// false, as .NET's Try methods do), the result is the node's.
    Out {
        call: Box<Node>,
        slot: u16,
        default: Value,
        /// `TryParse`: `call` is the `Parse`; its format error makes the result false.
        tried: bool,
    },
    /// `new T(...) { ... }`: the new object is put in `slot`, the initializer's
    /// statements (`Add` calls, index assignments) run, and the object is the value.
    Init {
        value: Box<Node>,
        slot: u16,
        stmts: Vec<Stmt>,
    },
    Linq {
        recv: Box<Node>,
        op: LinqOp,
        lambdas: Vec<Lambda>,
        args: Vec<Node>,
        span: Span,
    },
    /// `new T[size]` (filled with `fill`) or `new T[] { elems }`; `bytes` for `byte[]`.
    NewArray {
        size: Option<Box<Node>>,
        elems: Vec<Node>,
        fill: Value,
        bytes: bool,
        span: Span,
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
            Node::IsType { expr, slot: s, .. } => u(expr) || *s == Some(slot),
            Node::As { expr, .. } => u(expr),
            Node::CallFn { args, .. } => args.iter().any(u),
            Node::NewArray { size, elems, .. } => {
                size.as_deref().is_some_and(u) || elems.iter().any(u)
            }
            Node::Out { call, slot: s, .. } => u(call) || *s == slot,
            Node::Linq {
                recv,
                lambdas,
                args,
                ..
            } => u(recv) || lambdas.iter().any(|l| u(&l.body)) || args.iter().any(u),
            // the initializer's statements only use the hidden slot and what they were
            // given: say yes, which keeps what callers do with the answer correct
            Node::Init { .. } => true,
        }
    }
}

/// What a program runs: `@(expression)` or `@{ statements }` with its local functions.
#[derive(Debug, Clone)]
pub(crate) enum ProgramBody {
    Expr(Node),
    Block(Vec<Stmt>, Vec<Function>),
}

/// A local function: its parameters' slots, the slots its body uses (saved and restored
/// around a call, so that recursion keeps each call's locals), and its body.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub params: Vec<u16>,
    pub slots: std::ops::Range<usize>,
    pub body: FnBody,
}

#[derive(Debug, Clone)]
pub(crate) enum FnBody {
    Expr(Node),
    Block(Vec<Stmt>),
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
    // C# 7 statements (i15)
    /// `for`/`while`: test `cond` (none: forever), run `body`, then `step`; `do`
    /// (`test_after`) runs the body before the first test.
    Loop {
        cond: Option<Node>,
        body: Box<Stmt>,
        step: Vec<Stmt>,
        span: Span,
        test_after: bool,
    },
    Break,
    Continue,
    /// Throws the Exception value of the node.
    Throw(Node, Span),
    /// `catch`: the slot that receives the exception, and the block.
    Try {
        body: Vec<Stmt>,
        catch: Option<(u16, Vec<Stmt>)>,
        finally: Option<Vec<Stmt>>,
    },
    /// Sections of constant labels; `default` is the index of the default section.
    Switch {
        value: Node,
        sections: Vec<(Vec<Value>, Vec<Stmt>)>,
        default: Option<usize>,
        span: Span,
    },
    /// `x.Prop = value` on an object with settable properties (a SymmetricAlgorithm).
    SetProp {
        recv: Node,
        prop: Prop,
        value: Node,
        span: Span,
    },
    /// `x[index] = value` on a JObject, JArray, array, list or dictionary.
    SetIndex {
        recv: Node,
        index: Node,
        value: Node,
        span: Span,
    },
}

/// An enum value constant.
pub(crate) fn enum_const(ty: EnumTy, value: i32) -> Value {
    Value::Enum(super::value::EnumValue { ty, value })
}

/// The value of a declared but unassigned local or of a new array's elements: C#'s
/// `default(T)` (`Guid.Empty` for a Guid, null for a reference type).
pub(crate) fn default_value(t: &Ty) -> Value {
    match t {
        Ty::Obj(super::types::Obj::Guid) => Value::Object(super::value::Handle(
            super::value::HandleKind::Guid([0; 16]),
        )),
        Ty::Bool => Value::Bool(false),
        Ty::Int => Value::Int(0),
        Ty::Long => Value::Long(0),
        Ty::Double => Value::Double(0.0),
        Ty::Char => Value::Char('\0'),
        Ty::DateTime => Value::DateTime(time::macros::datetime!(0001-01-01 0:00 UTC)),
        Ty::DateTimeOffset => Value::DateTimeOffset(time::macros::datetime!(0001-01-01 0:00 UTC)),
        Ty::TimeSpan => Value::TimeSpan(0),
        Ty::Enum(e) => enum_const(*e, 0),
        // a struct: its fields' defaults (`FirstOrDefault` of headers: Key and Value null)
        Ty::Pair(k, v) => Value::Pair(std::sync::Arc::new((default_value(k), default_value(v)))),
        _ => Value::Null,
    }
}
