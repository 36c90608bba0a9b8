//! Member tables: which properties, methods and static members each type has, with their
//! parameter and result types.

use super::super::ir::{
    JsonFn, JsonMethod, JsonProp, Method, Prop, StaticFn, XmlFn, XmlMethod, XmlProp,
};
use super::super::types::{Class, DictTy, EnumTy, HashAlg, JsonClass, JsonTy, Obj, Ty, XmlTy};

/// The property `name` of `ty`, with its type.
pub(crate) fn property(ty: &Ty, name: &str) -> Option<(Prop, Ty)> {
    use Prop as P;
    use Ty as T;
    let s = || T::String;
    let r = match (ty, name) {
        (T::Obj(Obj::Context), _) => match name {
            "Request" => (P::Request, T::Obj(Obj::Request)),
            "Response" => (P::Response, T::Obj(Obj::Response)),
            "Variables" => (P::Variables, T::Dict(DictTy::Variables)),
            "Deployment" => (P::Deployment, T::Obj(Obj::Deployment)),
            "Api" => (P::Api, T::Obj(Obj::Api)),
            "Operation" => (P::Operation, T::Obj(Obj::Operation)),
            "LastError" => (P::LastError, T::Obj(Obj::LastError)),
            "RequestId" => (P::RequestId, T::Obj(Obj::Guid)),
            "Timestamp" => (P::Timestamp, T::DateTime),
            "Elapsed" => (P::Elapsed, T::TimeSpan),
            "User" => (P::User, T::Obj(Obj::User)),
            "Subscription" => (P::Subscription, T::Obj(Obj::Subscription)),
            "Product" => (P::Product, T::Obj(Obj::Product)),
            "Tracing" => (P::Tracing, T::Bool),
            _ => return None,
        },
        (T::Obj(Obj::Request), _) => match name {
            "Method" => (P::ReqMethod, s()),
            "Url" => (P::ReqUrl, T::Obj(Obj::Url)),
            "OriginalUrl" => (P::ReqOriginalUrl, T::Obj(Obj::Url)),
            "Headers" => (P::ReqHeaders, T::Dict(DictTy::Headers)),
            "IpAddress" => (P::ReqIpAddress, s()),
            "Body" => (P::ReqBody, T::Obj(Obj::Body)),
            "MatchedParameters" => (P::ReqMatchedParameters, T::Dict(DictTy::MatchedParameters)),
            "Certificate" => (P::ReqCertificate, T::Cert),
            _ => return None,
        },
        (T::Obj(Obj::Response), _) => match name {
            "StatusCode" => (P::RespStatusCode, T::Int),
            "StatusReason" => (P::RespStatusReason, s()),
            "Headers" => (P::RespHeaders, T::Dict(DictTy::Headers)),
            "Body" => (P::RespBody, T::Obj(Obj::Body)),
            _ => return None,
        },
        (T::Obj(Obj::Url), _) => match name {
            "Host" => (P::UrlHost, s()),
            "Path" => (P::UrlPath, s()),
            "Port" => (P::UrlPort, T::Int),
            "Query" => (P::UrlQuery, T::Dict(DictTy::Query)),
            "QueryString" => (P::UrlQueryString, s()),
            "Scheme" => (P::UrlScheme, s()),
            _ => return None,
        },
        (T::Obj(Obj::Deployment), _) => match name {
            "Region" => (P::DepRegion, s()),
            "ServiceName" => (P::DepServiceName, s()),
            "Certificates" => (P::DepCertificates, T::Dict(DictTy::Certificates)),
            _ => return None,
        },
        (T::Obj(Obj::Api), _) => match name {
            "Id" => (P::ApiId, s()),
            "Name" => (P::ApiName, s()),
            "Path" => (P::ApiPath, s()),
            "Revision" => (P::ApiRevision, s()),
            "Version" => (P::ApiVersion, s()),
            "IsCurrentRevision" => (P::ApiIsCurrentRevision, T::Bool),
            "ServiceUrl" => (P::ApiServiceUrl, T::Obj(Obj::Url)),
            _ => return None,
        },
        (T::Obj(Obj::Operation), _) => match name {
            "Id" => (P::OpId, s()),
            "Method" => (P::OpMethod, s()),
            "Name" => (P::OpName, s()),
            "UrlTemplate" => (P::OpUrlTemplate, s()),
            _ => return None,
        },
        (T::Obj(Obj::LastError), _) => match name {
            "Source" => (P::ErrSource, s()),
            "Reason" => (P::ErrReason, s()),
            "Message" => (P::ErrMessage, s()),
            "Scope" => (P::ErrScope, s()),
            "Section" => (P::ErrSection, s()),
            "Path" => (P::ErrPath, s()),
            "PolicyId" => (P::ErrPolicyId, s()),
            _ => return None,
        },
        (T::Cert, _) => match name {
            "Subject" => (P::CertSubject, s()),
            "Issuer" => (P::CertIssuer, s()),
            "SubjectName" => (P::CertSubjectName, T::Obj(Obj::X500Name)),
            "IssuerName" => (P::CertIssuerName, T::Obj(Obj::X500Name)),
            "Thumbprint" => (P::CertThumbprint, s()),
            "SerialNumber" => (P::CertSerialNumber, s()),
            "NotBefore" => (P::CertNotBefore, T::DateTime),
            "NotAfter" => (P::CertNotAfter, T::DateTime),
            "Version" => (P::CertVersion, T::Int),
            "SignatureAlgorithm" => (P::CertSignatureAlgorithm, T::Obj(Obj::Oid)),
            "RawData" => (P::CertRawData, T::Bytes),
            "FriendlyName" => (P::CertFriendlyName, s()),
            "HasPrivateKey" => (P::CertHasPrivateKey, T::Bool),
            _ => return None,
        },
        (T::Obj(Obj::Jwt), _) => match name {
            "Claims" => (P::JwtClaims, T::Dict(DictTy::Claims)),
            "Subject" => (P::JwtSubject, s()),
            "Issuer" => (P::JwtIssuer, s()),
            "Id" => (P::JwtId, s()),
            "Audiences" => (P::JwtAudiences, T::Array(Box::new(T::String))),
            "ExpirationTime" => (P::JwtExpirationTime, T::DateTime),
            "NotBefore" => (P::JwtNotBefore, T::DateTime),
            "IssuedAt" => (P::JwtIssuedAt, T::DateTime),
            "Algorithm" => (P::JwtAlgorithm, s()),
            "Type" => (P::JwtType, s()),
            _ => return None,
        },
        (T::Obj(Obj::BasicAuth), "UserId") => (P::BasicUserId, s()),
        (T::Obj(Obj::BasicAuth), "Password") => (P::BasicPassword, s()),
        // certgate has no users, subscriptions or products: these objects are always
        // null, so their members are typed but never read (`?.` gives null)
        (T::Obj(Obj::Subscription), _) => match name {
            "Id" | "Key" | "Name" | "PrimaryKey" | "SecondaryKey" => (P::Absent, s()),
            "CreatedDate" | "StartDate" | "EndDate" => (P::Absent, T::DateTime),
            _ => return None,
        },
        (T::Obj(Obj::User), _) => match name {
            "Email" | "FirstName" | "Id" | "LastName" | "Note" => (P::Absent, s()),
            "RegistrationDate" => (P::Absent, T::DateTime),
            _ => return None,
        },
        (T::Obj(Obj::Product), _) => match name {
            "Id" | "Name" => (P::Absent, s()),
            "ApprovalRequired" | "SubscriptionRequired" => (P::Absent, T::Bool),
            "SubscriptionLimit" => (P::Absent, T::Int),
            _ => return None,
        },
        (T::Obj(Obj::X500Name), "Name") => (P::X500Name, s()),
        (T::Obj(Obj::Oid), "Value") => (P::OidValue, s()),
        (T::Obj(Obj::Oid), "FriendlyName") => (P::OidFriendlyName, s()),
        (T::String, "Length") => (P::StrLength, T::Int),
        // `Count` of an array: `IList<T>` and `ICollection<T>` are read as arrays
        (T::Array(_), "Length" | "Count") | (T::List(_), "Count") => (P::ArrLength, T::Int),
        (T::Map(..), "Count") => (P::MapCount, T::Int),
        (T::Map(k, _), "Keys") => (P::MapKeys, T::Array(k.clone())),
        (T::Map(_, v), "Values") => (P::MapValues, T::Array(v.clone())),
        (T::Bytes, "Length") => (P::BytesLength, T::Int),
        (T::Pair(k, _) | T::Grouping(k, _), "Key") => (P::PairKey, (**k).clone()),
        (T::Pair(_, v), "Value") => (P::PairValue, (**v).clone()),
        (T::Dict(_), "Count") => (P::DictCount, T::Int),
        (T::Dict(d), "Keys") => (P::DictKeys, T::Array(Box::new(d.key()))),
        (T::Dict(d), "Values") => (P::DictValues, T::Array(Box::new(d.value()))),
        (T::DateTimeOffset, _) => match name {
            "DateTime" => (P::DtoClock, T::DateTime),
            "UtcDateTime" | "LocalDateTime" => (P::DtoUtcDateTime, T::DateTime),
            "Offset" => (P::DtoOffset, T::TimeSpan),
            "UtcTicks" => (P::DtoUtcTicks, T::Long),
            // the clock time's parts, as DateTime's
            _ => match property(&T::DateTime, name)? {
                (P::DtKind, _) => return None,
                r => r,
            },
        },
        (T::DateTime, _) => match name {
            "Year" => (P::DtYear, T::Int),
            "Month" => (P::DtMonth, T::Int),
            "Day" => (P::DtDay, T::Int),
            "Hour" => (P::DtHour, T::Int),
            "Minute" => (P::DtMinute, T::Int),
            "Second" => (P::DtSecond, T::Int),
            "Millisecond" => (P::DtMillisecond, T::Int),
            "DayOfYear" => (P::DtDayOfYear, T::Int),
            "DayOfWeek" => (P::DtDayOfWeek, T::Enum(EnumTy::DayOfWeek)),
            "Date" => (P::DtDate, T::DateTime),
            "Ticks" => (P::DtTicks, T::Long),
            "TimeOfDay" => (P::DtTimeOfDay, T::TimeSpan),
            "Kind" => (P::DtKind, T::Enum(EnumTy::DateTimeKind)),
            _ => return None,
        },
        (T::TimeSpan, _) => match name {
            "Days" => (P::TsDays, T::Int),
            "Hours" => (P::TsHours, T::Int),
            "Minutes" => (P::TsMinutes, T::Int),
            "Seconds" => (P::TsSeconds, T::Int),
            "Milliseconds" => (P::TsMilliseconds, T::Int),
            "Ticks" => (P::TsTicks, T::Long),
            "TotalDays" => (P::TsTotalDays, T::Double),
            "TotalHours" => (P::TsTotalHours, T::Double),
            "TotalMinutes" => (P::TsTotalMinutes, T::Double),
            "TotalSeconds" => (P::TsTotalSeconds, T::Double),
            "TotalMilliseconds" => (P::TsTotalMilliseconds, T::Double),
            _ => return None,
        },
        (T::Obj(Obj::Match | Obj::Group), _) => match name {
            "Success" => (P::GroupSuccess, T::Bool),
            "Value" => (P::GroupValue, s()),
            "Index" => (P::GroupIndex, T::Int),
            "Length" => (P::GroupLength, T::Int),
            "Groups" if *ty == T::Obj(Obj::Match) => (P::MatchGroups, T::Obj(Obj::Groups)),
            _ => return None,
        },
        (T::Obj(Obj::Groups), "Count") => (P::GroupsCount, T::Int),
        // Newtonsoft.Json
        (T::Json(JsonTy::Object | JsonTy::Array), "Count") => (P::Json(JsonProp::Count), T::Int),
        (T::Json(_), "Type") => (P::Json(JsonProp::Type), T::Enum(EnumTy::JTokenType)),
        (T::Json(_), "HasValues") => (P::Json(JsonProp::HasValues), T::Bool),
        (T::Json(JsonTy::Property), "Name") => (P::Json(JsonProp::Name), s()),
        (T::Json(JsonTy::Property), "Value") => (P::Json(JsonProp::Value), T::Json(JsonTy::Token)),
        // System.Xml.Linq
        (T::Xml(XmlTy::Document), "Root") => (P::Xml(XmlProp::Root), T::Xml(XmlTy::Element)),
        (T::Xml(XmlTy::Element | XmlTy::Attribute), _) => match name {
            "Name" => (P::Xml(XmlProp::Name), T::Xml(XmlTy::Name)),
            "Value" => (P::Xml(XmlProp::Value), s()),
            "Parent" => (P::Xml(XmlProp::Parent), T::Xml(XmlTy::Element)),
            "HasElements" | "HasAttributes" | "IsEmpty" if *ty == T::Xml(XmlTy::Element) => {
                let p = match name {
                    "HasElements" => XmlProp::HasElements,
                    "HasAttributes" => XmlProp::HasAttributes,
                    _ => XmlProp::IsEmpty,
                };
                (P::Xml(p), T::Bool)
            }
            _ => return None,
        },
        (T::Xml(XmlTy::Name), "LocalName") => (P::Xml(XmlProp::LocalName), s()),
        (T::Xml(XmlTy::Name | XmlTy::Namespace), "NamespaceName") => {
            (P::Xml(XmlProp::NamespaceName), s())
        }
        (T::Xml(XmlTy::Name), "Namespace") => {
            (P::Xml(XmlProp::Namespace), T::Xml(XmlTy::Namespace))
        }
        // i15
        (T::Obj(Obj::Exception), "Message") => (P::ExMessage, s()),
        (T::Obj(Obj::Uri), _) => match name {
            "Host" => (P::UriHost, s()),
            "AbsolutePath" => (P::UriAbsolutePath, s()),
            "Query" => (P::UriQuery, s()),
            "Scheme" => (P::UriScheme, s()),
            "Port" => (P::UriPort, T::Int),
            "PathAndQuery" => (P::UriPathAndQuery, s()),
            "Fragment" => (P::UriFragment, s()),
            "AbsoluteUri" => (P::UriAbsoluteUri, s()),
            "Authority" => (P::UriAuthority, s()),
            "OriginalString" => (P::UriOriginalString, s()),
            "IsDefaultPort" => (P::UriIsDefaultPort, T::Bool),
            _ => return None,
        },
        (T::Obj(Obj::StringBuilder), "Length") => (P::SbLength, T::Int),
        (T::Obj(Obj::Symmetric), _) => match name {
            "Key" => (P::SymKey, T::Bytes),
            "IV" => (P::SymIv, T::Bytes),
            "KeySize" => (P::SymKeySize, T::Int),
            "BlockSize" => (P::SymBlockSize, T::Int),
            "Mode" => (P::SymMode, T::Enum(EnumTy::CipherMode)),
            "Padding" => (P::SymPadding, T::Enum(EnumTy::PaddingMode)),
            _ => return None,
        },
        _ => return None,
    };
    Some(r)
}

/// Members APIM does not offer (the allowed-types table limits them), or that certgate's
/// always-null objects do not have: "not supported in policy expressions".
pub(crate) fn known_unsupported(ty: &Ty, name: &str) -> bool {
    match ty {
        Ty::Obj(Obj::X500Name) => matches!(name, "Decode" | "Format" | "RawData" | "Oid"),
        Ty::Obj(Obj::User | Obj::Subscription | Obj::Product) => true,
        // APIM allows XDocument with "everything except Load"
        Ty::Static(Class::Xml(_)) => name == "Load",
        _ => false,
    }
}

/// Members APIM offers (its extension methods, the allowed types' members) that certgate
/// does not implement yet: refused at load with "certgate does not implement ... yet",
/// never as if they did not exist.
pub(crate) fn not_yet(ty: &Ty, name: &str) -> bool {
    match ty {
        // X509Certificate2 is allowed whole.
        Ty::Cert => matches!(
            name,
            "Extensions"
                | "PublicKey"
                | "PrivateKey"
                | "Archived"
                | "Handle"
                | "GetRawCertData"
                | "Export"
                | "GetPublicKey"
                | "GetRSAPublicKey"
                | "Import"
                | "Reset"
        ),
        Ty::Obj(Obj::Context) => matches!(name, "Trace"),
        // APIM's extension methods.
        Ty::Obj(Obj::Guid) => matches!(name, "CompareTo"),
        Ty::Json(_) => matches!(
            name,
            "Parent"
                | "Root"
                | "Next"
                | "Previous"
                | "First"
                | "Last"
                | "Children"
                | "Values"
                | "Descendants"
                | "AddFirst"
                | "AddAfterSelf"
                | "AddBeforeSelf"
                | "Replace"
                | "ReplaceWith"
                | "RemoveAll"
                | "Merge"
                | "SelectTokens"
                | "DeepClone"
                | "ToObject"
                | "Path"
                | "Insert"
                | "TryGetValue"
                | "PropertyValues"
        ),
        Ty::Static(Class::Json(_)) => matches!(
            name,
            "FromObject" | "Load" | "ReadFrom" | "DeepEquals" | "PopulateObject"
        ),
        Ty::Xml(XmlTy::Name | XmlTy::Namespace) => matches!(name, "Get"),
        Ty::Xml(_) => matches!(
            name,
            "Nodes"
                | "DescendantNodes"
                | "DescendantNodesAndSelf"
                | "DescendantsAndSelf"
                | "Ancestors"
                | "AncestorsAndSelf"
                | "ElementsAfterSelf"
                | "ElementsBeforeSelf"
                | "NodesAfterSelf"
                | "NodesBeforeSelf"
                | "FirstNode"
                | "LastNode"
                | "NextNode"
                | "PreviousNode"
                | "FirstAttribute"
                | "LastAttribute"
                | "NextAttribute"
                | "PreviousAttribute"
                | "IsNamespaceDeclaration"
                | "Document"
                | "Declaration"
                | "DocumentType"
                | "NodeType"
                | "BaseUri"
                | "AddFirst"
                | "AddAfterSelf"
                | "AddBeforeSelf"
                | "ReplaceWith"
                | "ReplaceAll"
                | "ReplaceAttributes"
                | "ReplaceNodes"
                | "RemoveAttributes"
                | "GetDefaultNamespace"
                | "GetNamespaceOfPrefix"
                | "GetPrefixOfNamespace"
                | "Save"
                | "WriteTo"
                | "CreateReader"
                | "CreateWriter"
                | "Annotation"
                | "Annotations"
                | "AddAnnotation"
                | "RemoveAnnotations"
                | "IsBefore"
                | "IsAfter"
        ),
        Ty::Static(Class::Xml(XmlTy::Namespace)) => matches!(name, "Xml" | "Xmlns"),
        Ty::Static(Class::Xml(_)) => matches!(name, "ReadFrom" | "Get" | "EmptySequence"),
        _ => false,
    }
}

/// Parameter kinds of the method tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum P {
    Str,
    Char,
    StrOrChar,
    Int,
    Long,
    Num,
    Bool,
    Enum(EnumTy),
    Bytes,
    Obj,
    Elem,
    Pred,
    /// A predicate that may also take the element's index: `(x, i) => bool`.
    PredIdx,
    /// A selector that may also take the element's index: `(x, i) => value`.
    SelIdx,
    /// A selector `x => value`.
    Sel,
    Span,
    Date,
    /// A DateTimeOffset, or a DateTime (C# converts it implicitly).
    DateOffset,
    /// Any number of further arguments of any type (`params object[]`).
    Rest,
    /// A collection of elements of the receiver's element type (`AddRange`).
    Items,
    /// The receiver dictionary's key type, value type.
    Key,
    Val,
    /// A SymmetricAlgorithm (`Aes.Create()`).
    Symmetric,
    /// A JSON token or a value that converts to one (string, number, bool, DateTime,
    /// null): Newtonsoft's implicit conversions to `JToken`.
    JsonArg,
    /// Any number of further arguments that are XML content (`params object[] content`
    /// of `XElement`'s constructor and `Add`).
    XmlContents,
    /// An `XName`, or a string that converts to one.
    XName,
    /// An XML object of this type.
    Xml(XmlTy),
}

impl P {
    /// The parameter as a message names it, with the receiver's element type when known
    /// (`string` rather than "the element type").
    pub(crate) fn describe_in(self, elem: Option<&Ty>) -> String {
        match (self, elem) {
            (P::Elem, Some(t)) => t.to_string(),
            (P::Key | P::Val, Some(Ty::Pair(k, v))) => {
                if self == P::Key { k } else { v }.to_string()
            }
            _ => self.describe(),
        }
    }

    pub(crate) fn describe(self) -> String {
        match self {
            P::Str => "string".into(),
            P::Char => "char".into(),
            P::StrOrChar => "string".into(),
            P::Int => "int".into(),
            P::Long => "long".into(),
            P::Num => "double".into(),
            P::Bool => "bool".into(),
            P::Enum(e) => e.name().into(),
            P::Bytes => "byte[]".into(),
            P::Obj => "object".into(),
            P::Elem => "the element type".into(),
            P::Pred => "a predicate lambda x => bool".into(),
            P::PredIdx => "a predicate lambda x => bool or (x, i) => bool".into(),
            P::SelIdx => "a lambda x => value or (x, i) => value".into(),
            P::Sel => "a lambda x => value".into(),
            P::Span => "TimeSpan".into(),
            P::Date => "DateTime".into(),
            P::DateOffset => "DateTimeOffset".into(),
            P::Rest => "...".into(),
            P::JsonArg => "JToken".into(),
            P::Symmetric => "SymmetricAlgorithm".into(),
            P::XmlContents => "XML content (XElement, XAttribute, text, or arrays of them)".into(),
            P::XName => "XName".into(),
            P::Xml(t) => t.name().into(),
            P::Items => "a collection of the element type".into(),
            P::Key => "the key type".into(),
            P::Val => "the value type".into(),
        }
    }
}

/// Result kinds of the method tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum R {
    Bool,
    Int,
    Long,
    Double,
    Str,
    StrArr,
    CharArr,
    Date,
    /// The receiver's type: `AddDays` of a DateTimeOffset is a DateTimeOffset.
    Recv,
    DateOffset,
    Span,
    Bytes,
    Elem,
    ArrElem,
    /// `List<T>` of the element type.
    ListElem,
    ArrSel,
    /// The selector lambda's type.
    Sel,
    Match,
    /// The numeric type of the arguments (Math.Abs/Max/Min).
    NumArg,
    Json(JsonTy),
    /// `IEnumerable<JProperty>`.
    JsonProperties,
    Xml(XmlTy),
    /// `IEnumerable<XElement>`, `IEnumerable<XAttribute>`.
    XmlSeq(XmlTy),
    /// No value (`void` in .NET): `JArray.Add`.
    Void,
    // i15
    Exception,
    Uri,
    Builder,
    Random,
    Guid,
    Jwt,
    Basic,
    Symmetric,
}

/// Which receivers a method table entry applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Recv {
    Str,
    Cert,
    /// DateTime or DateTimeOffset: what both have (`AddDays`, ...).
    Date,
    DateOffset,
    Span,
    Enc,
    /// Headers, Query, MatchedParameters.
    StrDict,
    Vars,
    Certs,
    // i15
    Builder,
    Random,
    List,
    Map,
    /// A hash or HMAC object.
    Hash,
    Guid,
    /// `IDictionary<string, IList<string>>`, what `AsFormUrlEncodedContent` gives.
    Form,
    Bytes,
    Symmetric,
    Seq,
    Any,
    /// A JSON token of this type (`Token`: any token).
    Json(JsonTy),
    Xml(XmlTy),
    /// `XContainer`: an element or a document.
    XmlContainer,
    /// Any System.Xml.Linq object.
    XmlAny,
    /// A sequence of elements (`Extensions.Remove`).
    XmlElements,
}

impl Recv {
    pub(crate) fn matches(self, ty: &Ty) -> bool {
        match self {
            Recv::Str => *ty == Ty::String,
            Recv::Cert => *ty == Ty::Cert,
            Recv::Date => matches!(ty, Ty::DateTime | Ty::DateTimeOffset),
            Recv::DateOffset => *ty == Ty::DateTimeOffset,
            Recv::Span => *ty == Ty::TimeSpan,
            Recv::Enc => *ty == Ty::Obj(Obj::Encoding),
            Recv::StrDict => matches!(
                ty,
                Ty::Dict(
                    DictTy::Headers | DictTy::Query | DictTy::MatchedParameters | DictTy::Claims
                )
            ),
            Recv::Vars => *ty == Ty::Dict(DictTy::Variables),
            Recv::Certs => *ty == Ty::Dict(DictTy::Certificates),
            Recv::Builder => *ty == Ty::Obj(Obj::StringBuilder),
            Recv::Random => *ty == Ty::Obj(Obj::Random),
            Recv::Guid => *ty == Ty::Obj(Obj::Guid),
            Recv::List => matches!(ty, Ty::List(_)),
            Recv::Hash => matches!(ty, Ty::Obj(Obj::Hash(_) | Obj::Hmac(_))),
            Recv::Map => matches!(ty, Ty::Map(..)),
            Recv::Bytes => *ty == Ty::Bytes,
            Recv::Symmetric => *ty == Ty::Obj(Obj::Symmetric),
            Recv::Form => match ty {
                Ty::Map(k, v) => {
                    **k == Ty::String
                        && matches!(&**v, Ty::Array(e) | Ty::List(e) if **e == Ty::String)
                }
                _ => false,
            },
            Recv::Seq => ty.element().is_some(),
            Recv::Any => !matches!(ty, Ty::Static(_) | Ty::Namespace(_)),
            Recv::Json(JsonTy::Token) => matches!(ty, Ty::Json(_)),
            Recv::Json(t) => *ty == Ty::Json(t),
            Recv::Xml(t) => *ty == Ty::Xml(t),
            Recv::XmlContainer => matches!(ty, Ty::Xml(XmlTy::Element | XmlTy::Document)),
            Recv::XmlAny => matches!(ty, Ty::Xml(_)),
            Recv::XmlElements => matches!(
                ty,
                Ty::Array(t) | Ty::List(t) if **t == Ty::Xml(XmlTy::Element)
            ),
        }
    }
}

pub(crate) type MethodEntry = (Recv, &'static str, &'static [P], R, Method);

use Method as M;
use P::*;

pub(crate) const METHODS: &[MethodEntry] = &[
    // string
    (Recv::Str, "Contains", &[StrOrChar], R::Bool, M::StrContains),
    (
        Recv::Str,
        "Contains",
        &[Str, Enum(EnumTy::StringComparison)],
        R::Bool,
        M::StrContainsCmp,
    ),
    (
        Recv::Str,
        "StartsWith",
        &[StrOrChar],
        R::Bool,
        M::StrStartsWith,
    ),
    (
        Recv::Str,
        "StartsWith",
        &[Str, Enum(EnumTy::StringComparison)],
        R::Bool,
        M::StrStartsWithCmp,
    ),
    (Recv::Str, "EndsWith", &[StrOrChar], R::Bool, M::StrEndsWith),
    (
        Recv::Str,
        "EndsWith",
        &[Str, Enum(EnumTy::StringComparison)],
        R::Bool,
        M::StrEndsWithCmp,
    ),
    (Recv::Str, "IndexOf", &[StrOrChar], R::Int, M::StrIndexOf),
    (
        Recv::Str,
        "IndexOf",
        &[StrOrChar, Int],
        R::Int,
        M::StrIndexOfFrom,
    ),
    (
        Recv::Str,
        "IndexOf",
        &[Str, Enum(EnumTy::StringComparison)],
        R::Int,
        M::StrIndexOfCmp,
    ),
    (
        Recv::Str,
        "LastIndexOf",
        &[StrOrChar],
        R::Int,
        M::StrLastIndexOf,
    ),
    (Recv::Str, "Substring", &[Int], R::Str, M::StrSubstring),
    (
        Recv::Str,
        "Substring",
        &[Int, Int],
        R::Str,
        M::StrSubstringLen,
    ),
    (
        Recv::Str,
        "Replace",
        &[StrOrChar, StrOrChar],
        R::Str,
        M::StrReplace,
    ),
    (Recv::Str, "Split", &[StrOrChar], R::StrArr, M::StrSplit),
    (
        Recv::Str,
        "Split",
        &[StrOrChar, Enum(EnumTy::StringSplitOptions)],
        R::StrArr,
        M::StrSplitOptions,
    ),
    (Recv::Str, "Trim", &[], R::Str, M::StrTrim),
    (Recv::Str, "Trim", &[Char], R::Str, M::StrTrimChars),
    (Recv::Str, "TrimStart", &[], R::Str, M::StrTrimStart),
    (Recv::Str, "TrimStart", &[Char], R::Str, M::StrTrimStart),
    (Recv::Str, "TrimEnd", &[], R::Str, M::StrTrimEnd),
    (Recv::Str, "TrimEnd", &[Char], R::Str, M::StrTrimEnd),
    (Recv::Str, "ToUpper", &[], R::Str, M::StrToUpper),
    (Recv::Str, "ToUpperInvariant", &[], R::Str, M::StrToUpper),
    (Recv::Str, "ToLower", &[], R::Str, M::StrToLower),
    (Recv::Str, "ToLowerInvariant", &[], R::Str, M::StrToLower),
    (
        Recv::Str,
        "Equals",
        &[Str, Enum(EnumTy::StringComparison)],
        R::Bool,
        M::StrEqualsCmp,
    ),
    (Recv::Str, "PadLeft", &[Int], R::Str, M::StrPadLeft),
    (Recv::Str, "Remove", &[Int], R::Str, M::StrRemove),
    (Recv::Str, "Remove", &[Int, Int], R::Str, M::StrRemoveCount),
    (Recv::Str, "Insert", &[Int, Str], R::Str, M::StrInsert),
    (Recv::Str, "PadLeft", &[Int, Char], R::Str, M::StrPadLeft),
    (Recv::Str, "PadRight", &[Int], R::Str, M::StrPadRight),
    (Recv::Str, "PadRight", &[Int, Char], R::Str, M::StrPadRight),
    (Recv::Str, "ToCharArray", &[], R::CharArr, M::StrToCharArray),
    (Recv::Str, "CompareTo", &[Str], R::Int, M::StrCompareTo),
    // certificate
    (Recv::Cert, "Verify", &[], R::Bool, M::CertVerify),
    (
        Recv::Cert,
        "VerifyNoRevocation",
        &[],
        R::Bool,
        M::CertVerifyNoRevocation,
    ),
    (
        Recv::Cert,
        "GetNameInfo",
        &[Enum(EnumTy::X509NameType), Bool],
        R::Str,
        M::CertGetNameInfo,
    ),
    (
        Recv::Cert,
        "GetSerialNumberString",
        &[],
        R::Str,
        M::CertGetSerialNumberString,
    ),
    (
        Recv::Cert,
        "GetCertHashString",
        &[],
        R::Str,
        M::CertGetCertHashString,
    ),
    // DateTime
    (Recv::Date, "AddDays", &[Num], R::Recv, M::DtAddDays),
    (Recv::Date, "AddHours", &[Num], R::Recv, M::DtAddHours),
    (Recv::Date, "AddMinutes", &[Num], R::Recv, M::DtAddMinutes),
    (Recv::Date, "AddSeconds", &[Num], R::Recv, M::DtAddSeconds),
    (
        Recv::Date,
        "AddMilliseconds",
        &[Num],
        R::Recv,
        M::DtAddMilliseconds,
    ),
    (Recv::Date, "AddTicks", &[Long], R::Recv, M::DtAddTicks),
    (Recv::Date, "AddMonths", &[Int], R::Recv, M::DtAddMonths),
    (Recv::Date, "AddYears", &[Int], R::Recv, M::DtAddYears),
    (Recv::Date, "Add", &[Span], R::Recv, M::DtAdd),
    (Recv::Date, "Subtract", &[Span], R::Recv, M::DtSubtractSpan),
    (Recv::Date, "Subtract", &[Date], R::Span, M::DtSubtractDate),
    (
        Recv::DateOffset,
        "Subtract",
        &[DateOffset],
        R::Span,
        M::DtSubtractDate,
    ),
    (
        Recv::Date,
        "ToUniversalTime",
        &[],
        R::Recv,
        M::DtToUniversalTime,
    ),
    (Recv::Date, "ToLocalTime", &[], R::Recv, M::DtToLocalTime),
    (Recv::Date, "CompareTo", &[Date], R::Int, M::DtCompareTo),
    (
        Recv::DateOffset,
        "CompareTo",
        &[DateOffset],
        R::Int,
        M::DtCompareTo,
    ),
    (
        Recv::DateOffset,
        "ToOffset",
        &[Span],
        R::DateOffset,
        M::DtoToOffset,
    ),
    (
        Recv::DateOffset,
        "ToUnixTimeSeconds",
        &[],
        R::Long,
        M::DtoToUnixTimeSeconds,
    ),
    (
        Recv::DateOffset,
        "ToUnixTimeMilliseconds",
        &[],
        R::Long,
        M::DtoToUnixTimeMilliseconds,
    ),
    // TimeSpan
    (Recv::Span, "Add", &[Span], R::Span, M::TsAdd),
    (Recv::Span, "Subtract", &[Span], R::Span, M::TsSubtract),
    (Recv::Span, "Negate", &[], R::Span, M::TsNegate),
    (Recv::Span, "Duration", &[], R::Span, M::TsDuration),
    // Encoding
    (Recv::Enc, "GetString", &[Bytes], R::Str, M::EncGetString),
    (Recv::Enc, "GetBytes", &[Str], R::Bytes, M::EncGetBytes),
    // APIM's string extension: the decoded token, or null
    (Recv::Str, "AsJwt", &[], R::Jwt, M::StrAsJwt),
    // and the Basic credentials of an Authorization header, or null
    (Recv::Str, "AsBasic", &[], R::Basic, M::StrAsBasic),
    // dictionaries
    (
        Recv::StrDict,
        "ContainsKey",
        &[Str],
        R::Bool,
        M::DictContainsKey,
    ),
    (
        Recv::StrDict,
        "GetValueOrDefault",
        &[Str],
        R::Str,
        M::DictGetValueOrDefault,
    ),
    (
        Recv::StrDict,
        "GetValueOrDefault",
        &[Str, Str],
        R::Str,
        M::DictGetValueOrDefault,
    ),
    (
        Recv::Vars,
        "ContainsKey",
        &[Str],
        R::Bool,
        M::DictContainsKey,
    ),
    (
        Recv::Certs,
        "ContainsKey",
        &[Str],
        R::Bool,
        M::DictContainsKey,
    ),
    // LINQ
    (Recv::Seq, "Any", &[], R::Bool, M::Any),
    (Recv::Seq, "Any", &[Pred], R::Bool, M::AnyPred),
    (Recv::Seq, "All", &[Pred], R::Bool, M::All),
    (Recv::Seq, "Count", &[], R::Int, M::Count),
    (Recv::Seq, "Count", &[Pred], R::Int, M::CountPred),
    (Recv::Seq, "Where", &[PredIdx], R::ArrElem, M::Where),
    (Recv::Seq, "Select", &[SelIdx], R::ArrSel, M::Select),
    (Recv::Seq, "First", &[], R::Elem, M::First),
    (Recv::Seq, "First", &[Pred], R::Elem, M::FirstPred),
    (Recv::Seq, "FirstOrDefault", &[], R::Elem, M::FirstOrDefault),
    (
        Recv::Seq,
        "FirstOrDefault",
        &[Pred],
        R::Elem,
        M::FirstOrDefaultPred,
    ),
    (Recv::Seq, "Last", &[], R::Elem, M::Last),
    (Recv::Seq, "LastOrDefault", &[], R::Elem, M::LastOrDefault),
    (Recv::Seq, "Contains", &[Elem], R::Bool, M::Contains),
    (
        Recv::Seq,
        "Contains",
        &[Elem, Enum(EnumTy::StringComparer)],
        R::Bool,
        M::ContainsCmp,
    ),
    (Recv::Seq, "ToArray", &[], R::ArrElem, M::ToArray),
    (Recv::Seq, "ToList", &[], R::ListElem, M::ToArray),
    (Recv::Seq, "Distinct", &[], R::ArrElem, M::Distinct),
    (Recv::Seq, "Skip", &[Int], R::ArrElem, M::Skip),
    (Recv::Seq, "Take", &[Int], R::ArrElem, M::Take),
    (Recv::Seq, "Single", &[], R::Elem, M::Single),
    (Recv::Seq, "Single", &[Pred], R::Elem, M::SinglePred),
    (
        Recv::Seq,
        "SingleOrDefault",
        &[],
        R::Elem,
        M::SingleOrDefault,
    ),
    (
        Recv::Seq,
        "SingleOrDefault",
        &[Pred],
        R::Elem,
        M::SingleOrDefaultPred,
    ),
    (Recv::Seq, "Sum", &[], R::Elem, M::Sum),
    (Recv::Seq, "Sum", &[Sel], R::Sel, M::SumSel),
    (Recv::Seq, "Min", &[], R::Elem, M::Min),
    (Recv::Seq, "Min", &[Sel], R::Sel, M::MinSel),
    (Recv::Seq, "Max", &[], R::Elem, M::Max),
    (Recv::Seq, "Max", &[Sel], R::Sel, M::MaxSel),
    // List<T> and Dictionary<K, V>
    (Recv::List, "Add", &[Elem], R::Void, M::ListAdd),
    (Recv::List, "AddRange", &[Items], R::Void, M::ListAddRange),
    (Recv::List, "Insert", &[Int, Elem], R::Void, M::ListInsert),
    (Recv::List, "Remove", &[Elem], R::Bool, M::ListRemove),
    (Recv::List, "RemoveAt", &[Int], R::Void, M::ListRemoveAt),
    (Recv::List, "Sort", &[], R::Void, M::ListSort),
    (Recv::List, "Reverse", &[], R::Void, M::ListReverse),
    (Recv::List, "IndexOf", &[Elem], R::Int, M::ListIndexOf),
    (Recv::List, "Clear", &[], R::Void, M::Clear),
    (Recv::Map, "Add", &[Key, Val], R::Void, M::MapAdd),
    (Recv::Map, "ContainsKey", &[Key], R::Bool, M::MapContainsKey),
    (
        Recv::Map,
        "ContainsValue",
        &[Val],
        R::Bool,
        M::MapContainsValue,
    ),
    (Recv::Map, "Remove", &[Key], R::Bool, M::MapRemove),
    (Recv::Map, "Clear", &[], R::Void, M::Clear),
    // APIM's extensions of a form (`AsFormUrlEncodedContent`): the two are one encoding
    (
        Recv::Form,
        "ToQueryString",
        &[],
        R::Str,
        M::FormToQueryString,
    ),
    (
        Recv::Form,
        "ToFormUrlEncodedContent",
        &[],
        R::Str,
        M::FormToQueryString,
    ),
    // hash and HMAC objects
    (
        Recv::Hash,
        "ComputeHash",
        &[Bytes],
        R::Bytes,
        M::ComputeHash,
    ),
    (Recv::Hash, "Dispose", &[], R::Void, M::Dispose),
    // APIM's ciphers: byte[].Encrypt/Decrypt and the SymmetricAlgorithm they may take
    (
        Recv::Bytes,
        "Encrypt",
        &[Str, Bytes, Bytes],
        R::Bytes,
        M::Encrypt,
    ),
    (Recv::Bytes, "Encrypt", &[Symmetric], R::Bytes, M::Encrypt),
    (
        Recv::Bytes,
        "Encrypt",
        &[Symmetric, Bytes, Bytes],
        R::Bytes,
        M::Encrypt,
    ),
    (
        Recv::Bytes,
        "Decrypt",
        &[Str, Bytes, Bytes],
        R::Bytes,
        M::Decrypt,
    ),
    (Recv::Bytes, "Decrypt", &[Symmetric], R::Bytes, M::Decrypt),
    (
        Recv::Bytes,
        "Decrypt",
        &[Symmetric, Bytes, Bytes],
        R::Bytes,
        M::Decrypt,
    ),
    (
        Recv::Symmetric,
        "GenerateKey",
        &[],
        R::Void,
        M::SymGenerateKey,
    ),
    (
        Recv::Symmetric,
        "GenerateIV",
        &[],
        R::Void,
        M::SymGenerateIv,
    ),
    (Recv::Symmetric, "Dispose", &[], R::Void, M::Dispose),
    (Recv::Symmetric, "Clear", &[], R::Void, M::Dispose),
    (Recv::Hash, "Clear", &[], R::Void, M::Dispose),
    // StringBuilder and Random (i15)
    (Recv::Builder, "Append", &[Obj], R::Builder, M::SbAppend),
    (
        Recv::Builder,
        "AppendLine",
        &[],
        R::Builder,
        M::SbAppendLine,
    ),
    (
        Recv::Builder,
        "AppendLine",
        &[Str],
        R::Builder,
        M::SbAppendLine,
    ),
    (Recv::Random, "Next", &[], R::Int, M::RandomNext),
    (Recv::Random, "Next", &[Int], R::Int, M::RandomNext),
    (Recv::Random, "Next", &[Int, Int], R::Int, M::RandomNext),
    (
        Recv::Random,
        "NextDouble",
        &[],
        R::Double,
        M::RandomNextDouble,
    ),
    // Newtonsoft.Json (before "every object": its ToString writes JSON)
    (
        Recv::Json(JsonTy::Token),
        "ToString",
        &[],
        R::Str,
        M::Json(JsonMethod::ToString),
    ),
    (
        Recv::Json(JsonTy::Token),
        "ToString",
        &[Enum(EnumTy::Formatting)],
        R::Str,
        M::Json(JsonMethod::ToStringFormatting),
    ),
    (
        Recv::Json(JsonTy::Token),
        "SelectToken",
        &[Str],
        R::Json(JsonTy::Token),
        M::Json(JsonMethod::SelectToken),
    ),
    (
        Recv::Json(JsonTy::Object),
        "Properties",
        &[],
        R::JsonProperties,
        M::Json(JsonMethod::Properties),
    ),
    (
        Recv::Json(JsonTy::Object),
        "Add",
        &[Str, JsonArg],
        R::Void,
        M::Json(JsonMethod::AddNamed),
    ),
    (
        Recv::Json(JsonTy::Object),
        "Add",
        &[JsonArg],
        R::Void,
        M::Json(JsonMethod::Add),
    ),
    (
        Recv::Json(JsonTy::Array),
        "Add",
        &[JsonArg],
        R::Void,
        M::Json(JsonMethod::Add),
    ),
    (
        Recv::Json(JsonTy::Object),
        "Remove",
        &[Str],
        R::Bool,
        M::Json(JsonMethod::Remove),
    ),
    (
        Recv::Json(JsonTy::Property),
        "Remove",
        &[],
        R::Void,
        M::Json(JsonMethod::RemoveSelf),
    ),
    (
        Recv::Json(JsonTy::Object),
        "ContainsKey",
        &[Str],
        R::Bool,
        M::Json(JsonMethod::ContainsKey),
    ),
    (
        Recv::Json(JsonTy::Object),
        "GetValue",
        &[Str],
        R::Json(JsonTy::Token),
        M::Json(JsonMethod::GetValue),
    ),
    (
        Recv::Json(JsonTy::Object),
        "Property",
        &[Str],
        R::Json(JsonTy::Property),
        M::Json(JsonMethod::Property),
    ),
    (Recv::Guid, "ToByteArray", &[], R::Bytes, M::GuidToByteArray),
    // System.Xml.Linq (before "every object": its ToString writes XML)
    (
        Recv::XmlAny,
        "ToString",
        &[],
        R::Str,
        M::Xml(XmlMethod::ToString),
    ),
    (
        Recv::XmlContainer,
        "ToString",
        &[Enum(EnumTy::SaveOptions)],
        R::Str,
        M::Xml(XmlMethod::ToStringOptions),
    ),
    (
        Recv::XmlContainer,
        "Element",
        &[XName],
        R::Xml(XmlTy::Element),
        M::Xml(XmlMethod::Element),
    ),
    (
        Recv::XmlContainer,
        "Elements",
        &[],
        R::XmlSeq(XmlTy::Element),
        M::Xml(XmlMethod::Elements),
    ),
    (
        Recv::XmlContainer,
        "Elements",
        &[XName],
        R::XmlSeq(XmlTy::Element),
        M::Xml(XmlMethod::Elements),
    ),
    (
        Recv::XmlContainer,
        "Descendants",
        &[],
        R::XmlSeq(XmlTy::Element),
        M::Xml(XmlMethod::Descendants),
    ),
    (
        Recv::XmlContainer,
        "Descendants",
        &[XName],
        R::XmlSeq(XmlTy::Element),
        M::Xml(XmlMethod::Descendants),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "Attribute",
        &[XName],
        R::Xml(XmlTy::Attribute),
        M::Xml(XmlMethod::Attribute),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "Attributes",
        &[],
        R::XmlSeq(XmlTy::Attribute),
        M::Xml(XmlMethod::Attributes),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "Attributes",
        &[XName],
        R::XmlSeq(XmlTy::Attribute),
        M::Xml(XmlMethod::Attributes),
    ),
    (
        Recv::XmlContainer,
        "Add",
        &[XmlContents],
        R::Void,
        M::Xml(XmlMethod::Add),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "Remove",
        &[],
        R::Void,
        M::Xml(XmlMethod::Remove),
    ),
    (
        Recv::Xml(XmlTy::Attribute),
        "Remove",
        &[],
        R::Void,
        M::Xml(XmlMethod::Remove),
    ),
    (
        Recv::XmlElements,
        "Remove",
        &[],
        R::Void,
        M::Xml(XmlMethod::RemoveEach),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "RemoveNodes",
        &[],
        R::Void,
        M::Xml(XmlMethod::RemoveNodes),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "RemoveAll",
        &[],
        R::Void,
        M::Xml(XmlMethod::RemoveAll),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "SetAttributeValue",
        &[XName, Obj],
        R::Void,
        M::Xml(XmlMethod::SetAttributeValue),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "SetElementValue",
        &[XName, Obj],
        R::Void,
        M::Xml(XmlMethod::SetElementValue),
    ),
    (
        Recv::Xml(XmlTy::Element),
        "SetValue",
        &[Obj],
        R::Void,
        M::Xml(XmlMethod::SetValue),
    ),
    (
        Recv::Xml(XmlTy::Attribute),
        "SetValue",
        &[Obj],
        R::Void,
        M::Xml(XmlMethod::SetValue),
    ),
    // every object
    (Recv::Any, "ToString", &[], R::Str, M::ToString),
    (Recv::Any, "ToString", &[Str], R::Str, M::ToStringFormat),
    (Recv::Any, "Equals", &[Obj], R::Bool, M::Equals),
];

pub(crate) type StaticEntry = (Class, &'static str, &'static [P], R, StaticFn);

use StaticFn as F;

pub(crate) const STATICS: &[StaticEntry] = &[
    (Class::Guid, "NewGuid", &[], R::Guid, F::GuidNewGuid),
    (Class::Aes, "Create", &[], R::Symmetric, F::AesCreate),
    (Class::Guid, "Parse", &[Str], R::Guid, F::GuidParse),
    (
        Class::BitConverter,
        "ToString",
        &[Bytes],
        R::Str,
        F::BitConverterToString,
    ),
    (Class::WebUtility, "UrlEncode", &[Str], R::Str, F::UrlEncode),
    (Class::WebUtility, "UrlDecode", &[Str], R::Str, F::UrlDecode),
    (
        Class::WebUtility,
        "HtmlEncode",
        &[Str],
        R::Str,
        F::HtmlEncode,
    ),
    (
        Class::WebUtility,
        "HtmlDecode",
        &[Str],
        R::Str,
        F::HtmlDecode,
    ),
    (
        Class::Uri,
        "EscapeDataString",
        &[Str],
        R::Str,
        F::EscapeDataString,
    ),
    (
        Class::Uri,
        "UnescapeDataString",
        &[Str],
        R::Str,
        F::UnescapeDataString,
    ),
    (Class::String, "Compare", &[Str, Str], R::Int, F::StrCompare),
    (
        Class::String,
        "Compare",
        &[Str, Str, Bool],
        R::Int,
        F::StrCompare,
    ),
    (
        Class::String,
        "Compare",
        &[Str, Str, Enum(EnumTy::StringComparison)],
        R::Int,
        F::StrCompare,
    ),
    (
        Class::String,
        "IsNullOrEmpty",
        &[Str],
        R::Bool,
        F::StrIsNullOrEmpty,
    ),
    (
        Class::String,
        "IsNullOrWhiteSpace",
        &[Str],
        R::Bool,
        F::StrIsNullOrWhiteSpace,
    ),
    (
        Class::String,
        "Join",
        &[StrOrChar, Rest],
        R::Str,
        F::StrJoin,
    ),
    (Class::String, "Format", &[Str, Rest], R::Str, F::StrFormat),
    (Class::String, "Concat", &[Rest], R::Str, F::StrConcat),
    (Class::String, "Equals", &[Str, Str], R::Bool, F::StrEquals),
    (
        Class::String,
        "Equals",
        &[Str, Str, Enum(EnumTy::StringComparison)],
        R::Bool,
        F::StrEqualsCmp,
    ),
    (Class::DateTime, "Parse", &[Str], R::Date, F::DtParse),
    (
        Class::DateTimeOffset,
        "Parse",
        &[Str],
        R::DateOffset,
        F::DtoParse,
    ),
    (
        Class::DateTimeOffset,
        "FromUnixTimeSeconds",
        &[Long],
        R::DateOffset,
        F::DtoFromUnixTimeSeconds,
    ),
    (
        Class::DateTimeOffset,
        "FromUnixTimeMilliseconds",
        &[Long],
        R::DateOffset,
        F::DtoFromUnixTimeMilliseconds,
    ),
    (
        Class::DateTime,
        "DaysInMonth",
        &[Int, Int],
        R::Int,
        F::DtDaysInMonth,
    ),
    (
        Class::DateTime,
        "IsLeapYear",
        &[Int],
        R::Bool,
        F::DtIsLeapYear,
    ),
    (
        Class::DateTime,
        "SpecifyKind",
        &[Date, Enum(EnumTy::DateTimeKind)],
        R::Date,
        F::DtSpecifyKind,
    ),
    (Class::TimeSpan, "FromDays", &[Num], R::Span, F::TsFromDays),
    (
        Class::TimeSpan,
        "FromHours",
        &[Num],
        R::Span,
        F::TsFromHours,
    ),
    (
        Class::TimeSpan,
        "FromMinutes",
        &[Num],
        R::Span,
        F::TsFromMinutes,
    ),
    (
        Class::TimeSpan,
        "FromSeconds",
        &[Num],
        R::Span,
        F::TsFromSeconds,
    ),
    (
        Class::TimeSpan,
        "FromMilliseconds",
        &[Num],
        R::Span,
        F::TsFromMilliseconds,
    ),
    (
        Class::TimeSpan,
        "FromTicks",
        &[Long],
        R::Span,
        F::TsFromTicks,
    ),
    (
        Class::Convert,
        "ToBase64String",
        &[Bytes],
        R::Str,
        F::ToBase64String,
    ),
    (
        Class::Convert,
        "FromBase64String",
        &[Str],
        R::Bytes,
        F::FromBase64String,
    ),
    (Class::Convert, "ToInt32", &[Obj], R::Int, F::ConvertToInt32),
    (
        Class::Convert,
        "ToInt64",
        &[Obj],
        R::Long,
        F::ConvertToInt64,
    ),
    (
        Class::Convert,
        "ToDouble",
        &[Obj],
        R::Double,
        F::ConvertToDouble,
    ),
    (
        Class::Convert,
        "ToBoolean",
        &[Obj],
        R::Bool,
        F::ConvertToBoolean,
    ),
    (
        Class::Convert,
        "ToString",
        &[Obj],
        R::Str,
        F::ConvertToString,
    ),
    (Class::Math, "Abs", &[Num], R::NumArg, F::MathAbs),
    (Class::Math, "Max", &[Num, Num], R::NumArg, F::MathMax),
    (Class::Math, "Min", &[Num, Num], R::NumArg, F::MathMin),
    (Class::Math, "Floor", &[Num], R::Double, F::MathFloor),
    (Class::Math, "Ceiling", &[Num], R::Double, F::MathCeiling),
    (Class::Math, "Round", &[Num], R::Double, F::MathRound),
    (
        Class::Math,
        "Round",
        &[Num, Int],
        R::Double,
        F::MathRoundDigits,
    ),
    (Class::Math, "Pow", &[Num, Num], R::Double, F::MathPow),
    (Class::Math, "Sqrt", &[Num], R::Double, F::MathSqrt),
    (
        Class::Regex,
        "IsMatch",
        &[Str, Str],
        R::Bool,
        F::RegexIsMatch,
    ),
    (
        Class::Regex,
        "IsMatch",
        &[Str, Str, Enum(EnumTy::RegexOptions)],
        R::Bool,
        F::RegexIsMatch,
    ),
    (Class::Regex, "Match", &[Str, Str], R::Match, F::RegexMatch),
    (
        Class::Regex,
        "Match",
        &[Str, Str, Enum(EnumTy::RegexOptions)],
        R::Match,
        F::RegexMatch,
    ),
    (
        Class::Regex,
        "Replace",
        &[Str, Str, Str],
        R::Str,
        F::RegexReplace,
    ),
    (
        Class::Regex,
        "Replace",
        &[Str, Str, Str, Enum(EnumTy::RegexOptions)],
        R::Str,
        F::RegexReplace,
    ),
    (Class::Regex, "Escape", &[Str], R::Str, F::RegexEscape),
    (Class::Int, "Parse", &[Str], R::Int, F::IntParse),
    (Class::Long, "Parse", &[Str], R::Long, F::LongParse),
    (Class::Double, "Parse", &[Str], R::Double, F::DoubleParse),
    (Class::Bool, "Parse", &[Str], R::Bool, F::BoolParse),
    // Newtonsoft.Json
    (
        Class::Json(JsonClass::Token(JsonTy::Object)),
        "Parse",
        &[Str],
        R::Json(JsonTy::Object),
        F::Json(JsonFn::Parse(JsonTy::Object)),
    ),
    (
        Class::Json(JsonClass::Token(JsonTy::Array)),
        "Parse",
        &[Str],
        R::Json(JsonTy::Array),
        F::Json(JsonFn::Parse(JsonTy::Array)),
    ),
    (
        Class::Json(JsonClass::Token(JsonTy::Token)),
        "Parse",
        &[Str],
        R::Json(JsonTy::Token),
        F::Json(JsonFn::Parse(JsonTy::Token)),
    ),
    (
        Class::Json(JsonClass::JsonConvert),
        "SerializeObject",
        &[Obj],
        R::Str,
        F::Json(JsonFn::Serialize),
    ),
    (
        Class::Json(JsonClass::JsonConvert),
        "SerializeObject",
        &[Obj, Enum(EnumTy::Formatting)],
        R::Str,
        F::Json(JsonFn::SerializeFormatting),
    ),
    (
        Class::Json(JsonClass::JsonConvert),
        "DeserializeObject",
        &[Str],
        R::Json(JsonTy::Token),
        F::Json(JsonFn::Deserialize(JsonTy::Token)),
    ),
    // System.Xml.Linq
    (
        Class::Xml(XmlTy::Document),
        "Parse",
        &[Str],
        R::Xml(XmlTy::Document),
        F::Xml(XmlFn::Parse(XmlTy::Document)),
    ),
    (
        Class::Xml(XmlTy::Element),
        "Parse",
        &[Str],
        R::Xml(XmlTy::Element),
        F::Xml(XmlFn::Parse(XmlTy::Element)),
    ),
    (
        Class::Xml(XmlTy::Namespace),
        "Get",
        &[Str],
        R::Xml(XmlTy::Namespace),
        F::Xml(XmlFn::Namespace),
    ),
];

// Object creation (i15)
/// Constructors: `new T(args)` with `T` known to [`class`] picks its overload here (the
/// name is always "new"). A new type's constructor is a row in this table plus its
/// `StaticFn` in `eval::methods::static_fn`; see `Checker::new_object`.
pub(crate) const CONSTRUCTORS: &[StaticEntry] = &[
    (Class::TimeSpan, "new", &[Long], R::Span, F::NewTimeSpan),
    (
        Class::TimeSpan,
        "new",
        &[Int, Int, Int],
        R::Span,
        F::NewTimeSpan,
    ),
    (
        Class::TimeSpan,
        "new",
        &[Int, Int, Int, Int],
        R::Span,
        F::NewTimeSpan,
    ),
    (
        Class::TimeSpan,
        "new",
        &[Int, Int, Int, Int, Int],
        R::Span,
        F::NewTimeSpan,
    ),
    (Class::DateTime, "new", &[Long], R::Date, F::NewDateTime),
    (
        Class::DateTime,
        "new",
        &[Int, Int, Int],
        R::Date,
        F::NewDateTime,
    ),
    (
        Class::DateTime,
        "new",
        &[Int, Int, Int, Int, Int, Int],
        R::Date,
        F::NewDateTime,
    ),
    (
        Class::DateTime,
        "new",
        &[Int, Int, Int, Int, Int, Int, Enum(EnumTy::DateTimeKind)],
        R::Date,
        F::NewDateTime,
    ),
    (
        Class::DateTime,
        "new",
        &[Int, Int, Int, Int, Int, Int, Int],
        R::Date,
        F::NewDateTime,
    ),
    (
        Class::DateTime,
        "new",
        &[
            Int,
            Int,
            Int,
            Int,
            Int,
            Int,
            Int,
            Enum(EnumTy::DateTimeKind),
        ],
        R::Date,
        F::NewDateTime,
    ),
    (
        Class::DateTimeOffset,
        "new",
        &[Date],
        R::DateOffset,
        F::NewDateTimeOffset,
    ),
    (
        Class::DateTimeOffset,
        "new",
        &[Date, Span],
        R::DateOffset,
        F::NewDateTimeOffset,
    ),
    (
        Class::DateTimeOffset,
        "new",
        &[Long, Span],
        R::DateOffset,
        F::NewDateTimeOffset,
    ),
    (
        Class::DateTimeOffset,
        "new",
        &[Int, Int, Int, Int, Int, Int, Span],
        R::DateOffset,
        F::NewDateTimeOffset,
    ),
    (
        Class::DateTimeOffset,
        "new",
        &[Int, Int, Int, Int, Int, Int, Int, Span],
        R::DateOffset,
        F::NewDateTimeOffset,
    ),
    (Class::Exception, "new", &[], R::Exception, F::NewException),
    (
        Class::Exception,
        "new",
        &[Str],
        R::Exception,
        F::NewException,
    ),
    (Class::Uri, "new", &[Str], R::Uri, F::NewUri),
    (
        Class::StringBuilder,
        "new",
        &[],
        R::Builder,
        F::NewStringBuilder,
    ),
    (
        Class::StringBuilder,
        "new",
        &[Str],
        R::Builder,
        F::NewStringBuilder,
    ),
    (Class::Random, "new", &[], R::Random, F::NewRandom),
    (Class::Random, "new", &[Int], R::Random, F::NewRandom),
    (Class::Aes, "new", &[], R::Symmetric, F::AesCreate),
    // System.Xml.Linq: `new XElement(name, content...)`, the copy constructors
    (
        Class::Xml(XmlTy::Element),
        "new",
        &[XName, XmlContents],
        R::Xml(XmlTy::Element),
        F::Xml(XmlFn::New(XmlTy::Element)),
    ),
    (
        Class::Xml(XmlTy::Element),
        "new",
        &[Xml(XmlTy::Element)],
        R::Xml(XmlTy::Element),
        F::Xml(XmlFn::New(XmlTy::Element)),
    ),
    (
        Class::Xml(XmlTy::Attribute),
        "new",
        &[XName, Obj],
        R::Xml(XmlTy::Attribute),
        F::Xml(XmlFn::New(XmlTy::Attribute)),
    ),
    (
        Class::Xml(XmlTy::Document),
        "new",
        &[XmlContents],
        R::Xml(XmlTy::Document),
        F::Xml(XmlFn::New(XmlTy::Document)),
    ),
];

/// `name` without the namespace APIM code may write before it (`System.Text.`, ...).
pub(crate) fn short_type_name(name: &str) -> &str {
    let generic = name.find('<').unwrap_or(name.len());
    match name.get(..generic).and_then(|head| head.rfind('.')) {
        Some(dot) if NAMESPACES.contains(&&name[..dot]) => &name[dot + 1..],
        _ => name,
    }
}

/// Whether APIM's allowed-types list (apim.md §4.2) has this type, so that a name certgate
/// does not know is refused as not implemented rather than as a typo.
pub(crate) fn apim_allows(short: &str) -> bool {
    matches!(
        short,
        "Array"
            | "BitConverter"
            | "Byte"
            | "Decimal"
            | "Int16"
            | "SByte"
            | "Single"
            | "UInt16"
            | "UInt32"
            | "UInt64"
            | "TimeZone"
            | "TimeZoneInfo"
            | "MidpointRounding"
            | "Nullable"
            | "StringComparer"
            | "Tuple"
            | "UriPartial"
            | "IPAddress"
            | "Dictionary"
            | "HashSet"
            | "ICollection"
            | "IDictionary"
            | "IEnumerable"
            | "IEnumerator"
            | "IList"
            | "IReadOnlyCollection"
            | "IReadOnlyDictionary"
            | "ISet"
            | "KeyValuePair"
            | "List"
            | "Queue"
            | "Stack"
            | "StringReader"
            | "StringWriter"
            | "Enumerable"
            | "WebUtility"
            | "Match"
            | "Group"
            | "Capture"
            | "MatchCollection"
            | "GroupCollection"
            | "Formatting"
            | "JsonConvert"
            | "JArray"
            | "JConstructor"
            | "JContainer"
            | "JObject"
            | "JProperty"
            | "JRaw"
            | "JToken"
            | "JTokenType"
            | "JValue"
            | "HashAlgorithm"
            | "HMACSHA256"
            | "HMACSHA1"
            | "HMACSHA384"
            | "HMACSHA512"
            | "HMACMD5"
            | "MD5"
            | "SHA1"
            | "SHA256"
            | "SHA384"
            | "SHA512"
            | "RSA"
            | "Oid"
            | "PublicKey"
            | "X500DistinguishedName"
            | "XAttribute"
            | "XDocument"
            | "XElement"
            | "XName"
            | "XNamespace"
            | "XNode"
            | "XText"
            | "XCData"
            | "XComment"
            | "XContainer"
            | "XDeclaration"
            | "XDocumentType"
            | "XObject"
            | "XProcessingInstruction"
            | "XNodeDocumentOrderComparer"
            | "XNodeEqualityComparer"
            | "XmlNodeType"
            | "SaveOptions"
    )
}

/// .NET types policies reach for that APIM's allowed-types table leaves out: named as not
/// allowed, as APIM refuses them, never as names that do not exist (`XmlReader` exists).
pub(crate) fn apim_refuses(short: &str) -> bool {
    matches!(
        short,
        "XmlReader"
            | "XmlWriter"
            | "XmlDocument"
            | "XmlNode"
            | "XmlElement"
            | "XmlConvert"
            | "XPathNavigator"
            | "XslCompiledTransform"
            | "UriBuilder"
            | "HttpUtility"
            | "NameValueCollection"
            | "HttpClient"
            | "HttpWebRequest"
            | "WebRequest"
            | "WebClient"
            | "JsonSerializer"
            | "JsonDocument"
            | "JsonElement"
            | "JsonNode"
            | "File"
            | "Directory"
            | "Stream"
            | "MemoryStream"
            | "StreamReader"
            | "StreamWriter"
            | "Environment"
            | "Process"
            | "Thread"
            | "Task"
            | "Console"
            | "Activator"
            | "Type"
            | "Assembly"
            | "AppDomain"
            | "GC"
            | "Stopwatch"
            | "CultureInfo"
            | "BigInteger"
            | "DateOnly"
            | "TimeOnly"
    )
}

/// A class name as written (`string`, `String`, `System.DateTime` after namespaces).
pub(crate) fn class(name: &str) -> Option<Class> {
    Some(match name {
        "string" | "String" => Class::String,
        "DateTime" => Class::DateTime,
        "DateTimeOffset" => Class::DateTimeOffset,
        "TimeSpan" => Class::TimeSpan,
        "Convert" => Class::Convert,
        "Encoding" => Class::Encoding,
        "Math" => Class::Math,
        "Regex" => Class::Regex,
        "int" | "Int32" => Class::Int,
        "long" | "Int64" => Class::Long,
        "double" | "Double" => Class::Double,
        "bool" | "Boolean" => Class::Bool,
        "char" | "Char" => Class::Char,
        "X509NameType" => Class::Enum(EnumTy::X509NameType),
        "StringComparison" => Class::Enum(EnumTy::StringComparison),
        "StringComparer" => Class::Enum(EnumTy::StringComparer),
        "DateTimeKind" => Class::Enum(EnumTy::DateTimeKind),
        "DayOfWeek" => Class::Enum(EnumTy::DayOfWeek),
        "RegexOptions" => Class::Enum(EnumTy::RegexOptions),
        "StringSplitOptions" => Class::Enum(EnumTy::StringSplitOptions),
        "Formatting" => Class::Enum(EnumTy::Formatting),
        "JTokenType" => Class::Enum(EnumTy::JTokenType),
        "JsonConvert" => Class::Json(JsonClass::JsonConvert),
        "JObject" => Class::Json(JsonClass::Token(JsonTy::Object)),
        "JArray" => Class::Json(JsonClass::Token(JsonTy::Array)),
        "JToken" => Class::Json(JsonClass::Token(JsonTy::Token)),
        "JProperty" => Class::Json(JsonClass::Token(JsonTy::Property)),
        "JValue" => Class::Json(JsonClass::Token(JsonTy::Value)),
        "XDocument" => Class::Xml(XmlTy::Document),
        "XElement" => Class::Xml(XmlTy::Element),
        "XAttribute" => Class::Xml(XmlTy::Attribute),
        "XName" => Class::Xml(XmlTy::Name),
        "XNamespace" => Class::Xml(XmlTy::Namespace),
        "SaveOptions" => Class::Enum(EnumTy::SaveOptions),
        // i15
        "Exception" => Class::Exception,
        "Uri" => Class::Uri,
        "StringBuilder" => Class::StringBuilder,
        "Random" => Class::Random,
        "Guid" => Class::Guid,
        "WebUtility" => Class::WebUtility,
        "BitConverter" => Class::BitConverter,
        "MD5" => Class::Hash(HashAlg::Md5),
        "SHA1" | "SHA1Managed" => Class::Hash(HashAlg::Sha1),
        "SHA256" | "SHA256Managed" => Class::Hash(HashAlg::Sha256),
        "SHA384" | "SHA384Managed" => Class::Hash(HashAlg::Sha384),
        "SHA512" | "SHA512Managed" => Class::Hash(HashAlg::Sha512),
        // `Aes` itself is abstract: `Checker::new_object` refuses `new Aes()`
        "Aes" | "AesManaged" | "AesCryptoServiceProvider" => Class::Aes,
        "CipherMode" => Class::Enum(EnumTy::CipherMode),
        "Array" => Class::Array,
        "PaddingMode" => Class::Enum(EnumTy::PaddingMode),
        "HMACMD5" => Class::Hmac(HashAlg::Md5),
        "HMACSHA1" => Class::Hmac(HashAlg::Sha1),
        "HMACSHA256" => Class::Hmac(HashAlg::Sha256),
        "HMACSHA384" => Class::Hmac(HashAlg::Sha384),
        "HMACSHA512" => Class::Hmac(HashAlg::Sha512),
        _ => return None,
    })
}

/// Namespaces that may prefix a class name.
pub(crate) const NAMESPACES: &[&str] = &[
    "System",
    "System.Text",
    "System.Text.RegularExpressions",
    "System.Linq",
    "System.Collections",
    "System.Collections.Generic",
    "System.Security",
    "System.Security.Cryptography",
    "System.Security.Cryptography.X509Certificates",
    // i15: namespaces of allowed types certgate does not implement yet
    "System.Net",
    "System.IO",
    "System.Xml",
    "System.Xml.Linq",
    "Newtonsoft",
    "Newtonsoft.Json",
    "Newtonsoft.Json.Linq",
];

/// Every property name of the tables above, for "did you mean" hints.
const PROPERTY_NAMES: &[&str] = &[
    "Request",
    "Response",
    "Variables",
    "Deployment",
    "Api",
    "Operation",
    "LastError",
    "RequestId",
    "Timestamp",
    "Elapsed",
    "User",
    "Subscription",
    "Product",
    "Tracing",
    "Method",
    "Url",
    "OriginalUrl",
    "Headers",
    "IpAddress",
    "Body",
    "MatchedParameters",
    "Certificate",
    "StatusCode",
    "StatusReason",
    "Host",
    "Path",
    "Port",
    "Query",
    "QueryString",
    "Scheme",
    "Region",
    "ServiceName",
    "Certificates",
    "Id",
    "Name",
    "Revision",
    "Version",
    "IsCurrentRevision",
    "ServiceUrl",
    "UrlTemplate",
    "Source",
    "Reason",
    "Message",
    "Scope",
    "Section",
    "PolicyId",
    "Subject",
    "Issuer",
    "SubjectName",
    "IssuerName",
    "Thumbprint",
    "SerialNumber",
    "NotBefore",
    "NotAfter",
    "SignatureAlgorithm",
    "RawData",
    "FriendlyName",
    "HasPrivateKey",
    "Value",
    "Length",
    "Count",
    "Key",
    "Keys",
    "Values",
    "Year",
    "Month",
    "Day",
    "Hour",
    "Minute",
    "Second",
    "Millisecond",
    "DayOfYear",
    "Date",
    "Ticks",
    "TimeOfDay",
    "Kind",
    "UtcDateTime",
    "LocalDateTime",
    "Offset",
    "UtcTicks",
    "Days",
    "Hours",
    "Minutes",
    "Seconds",
    "Milliseconds",
    "TotalDays",
    "TotalHours",
    "TotalMinutes",
    "TotalSeconds",
    "TotalMilliseconds",
    "Success",
    "Index",
    "Groups",
    "Type",
    "HasValues",
    "UserId",
    "Password",
    "IV",
    "KeySize",
    "BlockSize",
    "Mode",
    "Padding",
    "Root",
    "Parent",
    "HasElements",
    "HasAttributes",
    "IsEmpty",
    "LocalName",
    "NamespaceName",
];

const STATIC_PROPERTY_NAMES: &[&str] = &[
    "Empty",
    "UtcNow",
    "Now",
    "Today",
    "MinValue",
    "MaxValue",
    "UnixEpoch",
    "Zero",
    "UTF8",
    "PI",
    "E",
];

/// The closest member name of `ty` to `name`, as `; did you mean 'X'?`, or "".
pub(crate) fn suggest(ty: &Ty, name: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    match ty {
        Ty::Static(Class::Enum(e)) => names.extend(e.members().iter().map(|(n, _)| *n)),
        Ty::Static(c) => {
            names.extend(
                STATIC_PROPERTY_NAMES
                    .iter()
                    .copied()
                    .filter(|n| super::static_property(*c, n, super::Span::default()).is_some()),
            );
            names.extend(STATICS.iter().filter(|s| s.0 == *c).map(|s| s.1));
        }
        _ => {
            names.extend(
                PROPERTY_NAMES
                    .iter()
                    .copied()
                    .filter(|n| property(ty, n).is_some()),
            );
            names.extend(METHODS.iter().filter(|m| m.0.matches(ty)).map(|m| m.1));
        }
    }
    let lower = name.to_ascii_lowercase();
    let best = names
        .into_iter()
        .map(|n| (distance(&lower, &n.to_ascii_lowercase()), n))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, n)) if d <= (name.len() / 3).max(1) && d * 2 < name.len() => {
            format!("; did you mean '{n}'?")
        }
        _ => String::new(),
    }
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
