//! Static types the checker knows, with the .NET names used in messages.

use std::fmt;

/// Objects of the `context` model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Obj {
    Context,
    Request,
    Response,
    Url,
    Deployment,
    Api,
    Operation,
    LastError,
    Body,
    Encoding,
    X500Name,
    Oid,
    Match,
    Groups,
    Group,
    User,
    Subscription,
    Product,
    // i15
    /// `System.Exception`: what `catch (Exception e)` binds and `throw` takes.
    Exception,
    /// `System.Uri`, made by `new Uri(text)`.
    Uri,
    StringBuilder,
    Random,
    Guid,
    /// `Jwt`: `AsJwt()`, validate-jwt's `output-token-variable-name`.
    Jwt,
    /// APIM's `BasicAuthCredentials` of `AsBasic()`: `UserId`, `Password`.
    BasicAuth,
    /// `SHA256.Create()`, `MD5.Create()`, ...
    Hash(HashAlg),
    /// `new HMACSHA256(key)`, ...
    Hmac(HashAlg),
    /// A `SymmetricAlgorithm` (`Aes.Create()`) for `Encrypt` / `Decrypt`.
    Symmetric,
}

/// The hash functions of the allowed `SHA*`, `MD5` and `HMAC*` types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HashAlg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            HashAlg::Md5 => "MD5",
            HashAlg::Sha1 => "SHA1",
            HashAlg::Sha256 => "SHA256",
            HashAlg::Sha384 => "SHA384",
            HashAlg::Sha512 => "SHA512",
        }
    }
}

/// Dictionaries of the `context` model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DictTy {
    Headers,
    Query,
    MatchedParameters,
    Variables,
    Certificates,
    /// `Jwt.Claims`.
    Claims,
}

impl DictTy {
    pub(crate) fn key(self) -> Ty {
        Ty::String
    }
    pub(crate) fn value(self) -> Ty {
        match self {
            DictTy::Headers | DictTy::Query | DictTy::Claims => Ty::Array(Box::new(Ty::String)),
            DictTy::MatchedParameters => Ty::String,
            DictTy::Variables => Ty::Object,
            DictTy::Certificates => Ty::Cert,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EnumTy {
    X509NameType,
    StringComparison,
    /// `StringComparer.Ordinal`, ...: objects in .NET, read here as the
    /// `StringComparison` of the same name (a dictionary's key comparison).
    StringComparer,
    DateTimeKind,
    DayOfWeek,
    RegexOptions,
    StringSplitOptions,
    // Newtonsoft.Json
    Formatting,
    JTokenType,
    // System.Security.Cryptography
    CipherMode,
    PaddingMode,
    // System.Xml.Linq
    SaveOptions,
}

impl EnumTy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            EnumTy::X509NameType => "X509NameType",
            EnumTy::StringComparison => "StringComparison",
            EnumTy::StringComparer => "StringComparer",
            EnumTy::DateTimeKind => "DateTimeKind",
            EnumTy::DayOfWeek => "DayOfWeek",
            EnumTy::RegexOptions => "RegexOptions",
            EnumTy::StringSplitOptions => "StringSplitOptions",
            EnumTy::Formatting => "Formatting",
            EnumTy::JTokenType => "JTokenType",
            EnumTy::CipherMode => "CipherMode",
            EnumTy::PaddingMode => "PaddingMode",
            EnumTy::SaveOptions => "SaveOptions",
        }
    }
    pub(crate) fn members(self) -> &'static [(&'static str, i32)] {
        match self {
            EnumTy::X509NameType => &[
                ("SimpleName", 0),
                ("EmailName", 1),
                ("UpnName", 2),
                ("DnsName", 3),
                ("DnsFromAlternativeName", 4),
                ("UrlName", 5),
            ],
            EnumTy::StringComparison | EnumTy::StringComparer => &[
                ("CurrentCulture", 0),
                ("CurrentCultureIgnoreCase", 1),
                ("InvariantCulture", 2),
                ("InvariantCultureIgnoreCase", 3),
                ("Ordinal", 4),
                ("OrdinalIgnoreCase", 5),
            ],
            EnumTy::DateTimeKind => &[("Unspecified", 0), ("Utc", 1), ("Local", 2)],
            EnumTy::DayOfWeek => &[
                ("Sunday", 0),
                ("Monday", 1),
                ("Tuesday", 2),
                ("Wednesday", 3),
                ("Thursday", 4),
                ("Friday", 5),
                ("Saturday", 6),
            ],
            EnumTy::RegexOptions => &[
                ("None", 0),
                ("IgnoreCase", 1),
                ("Multiline", 2),
                ("ExplicitCapture", 4),
                ("Compiled", 8),
                ("Singleline", 16),
                ("IgnorePatternWhitespace", 32),
                ("CultureInvariant", 512),
            ],
            EnumTy::StringSplitOptions => {
                &[("None", 0), ("RemoveEmptyEntries", 1), ("TrimEntries", 2)]
            }
            EnumTy::Formatting => &[("None", 0), ("Indented", 1)],
            EnumTy::CipherMode => &[("CBC", 1), ("ECB", 2), ("OFB", 3), ("CFB", 4), ("CTS", 5)],
            EnumTy::PaddingMode => &[
                ("None", 1),
                ("PKCS7", 2),
                ("Zeros", 3),
                ("ANSIX923", 4),
                ("ISO10126", 5),
            ],
            EnumTy::SaveOptions => &[
                ("None", 0),
                ("DisableFormatting", 1),
                ("OmitDuplicateNamespaces", 2),
            ],
            EnumTy::JTokenType => &[
                ("None", 0),
                ("Object", 1),
                ("Array", 2),
                ("Constructor", 3),
                ("Property", 4),
                ("Comment", 5),
                ("Integer", 6),
                ("Float", 7),
                ("String", 8),
                ("Boolean", 9),
                ("Null", 10),
                ("Undefined", 11),
                ("Date", 12),
                ("Raw", 13),
                ("Bytes", 14),
                ("Guid", 15),
                ("Uri", 16),
                ("TimeSpan", 17),
            ],
        }
    }
    pub(crate) fn member_name(self, v: i32) -> Option<&'static str> {
        self.members()
            .iter()
            .find(|(_, n)| *n == v)
            .map(|(s, _)| *s)
    }
}

/// Classes with static members: `string.IsNullOrEmpty`, `DateTime.UtcNow`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    String,
    DateTime,
    TimeSpan,
    Convert,
    Encoding,
    Math,
    Regex,
    Int,
    Long,
    Double,
    Bool,
    Char,
    Enum(EnumTy),
    // i15
    DateTimeOffset,
    Exception,
    Uri,
    StringBuilder,
    Random,
    Guid,
    /// `System.Net.WebUtility`.
    WebUtility,
    BitConverter,
    /// `SHA256` (and `SHA256Managed`), `MD5`, ...
    Hash(HashAlg),
    /// `HMACSHA256`, ...
    Hmac(HashAlg),
    /// `Aes` (`Aes.Create()`, `new AesManaged()`).
    Aes,
    /// `System.Array`'s static helpers (`Array.Exists`, `Array.IndexOf`, ...).
    Array,
    /// Newtonsoft.Json: `JObject.Parse`, `JsonConvert.SerializeObject`, ...
    Json(JsonClass),
    /// System.Xml.Linq: `XDocument.Parse`, `new XElement(...)`, ...
    Xml(XmlTy),
}

/// System.Xml.Linq object types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum XmlTy {
    Document,
    Element,
    Attribute,
    Name,
    /// `XNamespace`: at run time the namespace's name, a string (its `ToString()`).
    Namespace,
}

impl XmlTy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            XmlTy::Document => "XDocument",
            XmlTy::Element => "XElement",
            XmlTy::Attribute => "XAttribute",
            XmlTy::Name => "XName",
            XmlTy::Namespace => "XNamespace",
        }
    }
    pub(crate) fn from_name(name: &str) -> Option<XmlTy> {
        let name = name.strip_prefix("System.Xml.Linq.").unwrap_or(name);
        [
            XmlTy::Document,
            XmlTy::Element,
            XmlTy::Attribute,
            XmlTy::Name,
            XmlTy::Namespace,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

/// Newtonsoft.Json.Linq token types (`JToken` is the base of the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum JsonTy {
    Token,
    Object,
    Array,
    Property,
    Value,
}

impl JsonTy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            JsonTy::Token => "JToken",
            JsonTy::Object => "JObject",
            JsonTy::Array => "JArray",
            JsonTy::Property => "JProperty",
            JsonTy::Value => "JValue",
        }
    }
    fn from_name(name: &str) -> Option<JsonTy> {
        let name = name.strip_prefix("Newtonsoft.Json.Linq.").unwrap_or(name);
        [
            JsonTy::Token,
            JsonTy::Object,
            JsonTy::Array,
            JsonTy::Property,
            JsonTy::Value,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

/// Newtonsoft.Json classes with static members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum JsonClass {
    Token(JsonTy),
    JsonConvert,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Ty {
    /// `object`: only casts, `ToString`, `Equals`, `==` and `??` apply.
    Object,
    /// The type of the `null` literal.
    Null,
    Bool,
    Int,
    Long,
    Double,
    Char,
    String,
    DateTime,
    /// `DateTimeOffset`: an instant and the offset it is written in.
    DateTimeOffset,
    TimeSpan,
    Bytes,
    Array(Box<Ty>),
    /// `List<T>`: an array that grows (the same run-time value).
    List(Box<Ty>),
    /// `Dictionary<TKey, TValue>`.
    Map(Box<Ty>, Box<Ty>),
    /// `IGrouping<K, T>` of `GroupBy`: a key and its elements (at run time a pair of the
    /// key and an array).
    Grouping(Box<Ty>, Box<Ty>),
    Pair(Box<Ty>, Box<Ty>),
    Cert,
    Enum(EnumTy),
    Obj(Obj),
    Dict(DictTy),
    Static(Class),
    Namespace(&'static str),
    /// A Newtonsoft.Json.Linq token.
    Json(JsonTy),
    /// A System.Xml.Linq object.
    Xml(XmlTy),
    /// A local function, by its index in the program's function table (i15).
    Fn(u16),
}

impl Ty {
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Long | Ty::Double | Ty::Char)
    }
    /// Value types cannot be null (we don't model `int?` as a separate type; a nullable
    /// value type is read as its underlying type, and null stays possible at run time).
    pub(crate) fn is_value_type(&self) -> bool {
        matches!(
            self,
            Ty::Bool
                | Ty::Int
                | Ty::Long
                | Ty::Double
                | Ty::Char
                | Ty::DateTime
                | Ty::DateTimeOffset
                | Ty::TimeSpan
                | Ty::Enum(_)
                | Ty::Pair(..)
        )
    }
    /// The element type when this can be enumerated (`foreach`, LINQ).
    pub(crate) fn element(&self) -> Option<Ty> {
        match self {
            Ty::Array(t) | Ty::List(t) => Some((**t).clone()),
            Ty::Map(k, v) => Some(Ty::Pair(k.clone(), v.clone())),
            Ty::Grouping(_, t) => Some((**t).clone()),
            Ty::String => Some(Ty::Char),
            Ty::Bytes => Some(Ty::Int),
            Ty::Dict(d) => Some(Ty::Pair(Box::new(d.key()), Box::new(d.value()))),
            Ty::Obj(Obj::Groups) => Some(Ty::Obj(Obj::Group)),
            // JObject enumerates KeyValuePair<string, JToken>; other tokens their children
            Ty::Json(JsonTy::Object) => Some(Ty::Pair(
                Box::new(Ty::String),
                Box::new(Ty::Json(JsonTy::Token)),
            )),
            Ty::Json(_) => Some(Ty::Json(JsonTy::Token)),
            _ => None,
        }
    }

    /// Parses a type as written in a cast, a declaration or a type argument.
    pub(crate) fn from_name(name: &str) -> Option<Ty> {
        if let Some(inner) = name.strip_suffix("[]") {
            let inner = Ty::from_name(inner)?;
            return Some(if inner == Ty::Int && name == "byte[]" {
                Ty::Bytes
            } else {
                Ty::Array(Box::new(inner))
            });
        }
        if let Some(inner) = name.strip_suffix('?') {
            let t = Ty::from_name(inner)?;
            return t.is_value_type().then_some(t);
        }
        let name = name
            .strip_prefix("System.Collections.Generic.")
            .or_else(|| name.strip_prefix("System."))
            .unwrap_or(name);
        if let Some(inner) = name.strip_prefix("List<").and_then(|s| s.strip_suffix('>')) {
            return Some(Ty::List(Box::new(Ty::from_name(inner)?)));
        }
        if let Some(args) = name
            .strip_prefix("Dictionary<")
            .or_else(|| name.strip_prefix("IDictionary<"))
            .and_then(|s| s.strip_suffix('>'))
        {
            let (k, v) = split_type_args(args)?;
            let k = Ty::from_name(k)?;
            if !k.is_key() {
                return None;
            }
            return Some(Ty::Map(Box::new(k), Box::new(Ty::from_name(v)?)));
        }
        if let Some(inner) = name
            .strip_prefix("IEnumerable<")
            .or_else(|| name.strip_prefix("IList<"))
            .or_else(|| name.strip_prefix("ICollection<"))
            .and_then(|s| s.strip_suffix('>'))
        {
            return Some(Ty::Array(Box::new(Ty::from_name(inner)?)));
        }
        Some(match name {
            "object" | "Object" => Ty::Object,
            "string" | "String" => Ty::String,
            "bool" | "Boolean" => Ty::Bool,
            "int" | "Int32" => Ty::Int,
            "long" | "Int64" => Ty::Long,
            "double" | "Double" => Ty::Double,
            "char" | "Char" => Ty::Char,
            "byte" | "Byte" => Ty::Int,
            "DateTime" => Ty::DateTime,
            "DateTimeOffset" => Ty::DateTimeOffset,
            "TimeSpan" => Ty::TimeSpan,
            "X509Certificate2" | "X509Certificate" => Ty::Cert,
            "Jwt" => Ty::Obj(Obj::Jwt),
            "BasicAuthCredentials" => Ty::Obj(Obj::BasicAuth),
            "IResponse" => Ty::Obj(Obj::Response),
            "Security.Cryptography.X509Certificates.X509Certificate2" => Ty::Cert,
            "StringBuilder" | "Text.StringBuilder" => Ty::Obj(Obj::StringBuilder),
            "Random" => Ty::Obj(Obj::Random),
            "Guid" => Ty::Obj(Obj::Guid),
            other => {
                let crypto = other
                    .strip_prefix("Security.Cryptography.")
                    .unwrap_or(other);
                if let "SymmetricAlgorithm" | "Aes" | "AesManaged" | "AesCryptoServiceProvider" =
                    crypto
                {
                    return Some(Ty::Obj(Obj::Symmetric));
                }
                return hash_type(crypto)
                    .or_else(|| JsonTy::from_name(other).map(Ty::Json))
                    .or_else(|| XmlTy::from_name(other).map(Ty::Xml));
            }
        })
    }

    /// Whether a dictionary may have keys of this type (what `collections::Key` holds).
    pub(crate) fn is_key(&self) -> bool {
        matches!(self, Ty::String | Ty::Int | Ty::Long | Ty::Char | Ty::Bool)
    }

    /// Whether a value of type `from` can be used where `self` is expected.
    pub(crate) fn accepts(&self, from: &Ty) -> bool {
        if self == from || *self == Ty::Object {
            return true;
        }
        match (self, from) {
            (t, Ty::Null) => !t.is_value_type(),
            (Ty::Long, Ty::Int | Ty::Char) | (Ty::Int, Ty::Char) => true,
            (Ty::Double, Ty::Int | Ty::Long | Ty::Char) => true,
            // `IEnumerable<T>` is read as `T[]`, and a list is one
            (Ty::Array(a), Ty::Array(b) | Ty::List(b)) => {
                a == b || (**a == Ty::Object && !b.is_value_type())
            }
            (Ty::Json(JsonTy::Token), Ty::Json(_)) => true,
            // `XNamespace ns = "urn:x";` (the run-time value is the string)
            (Ty::Xml(XmlTy::Namespace), Ty::String) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Ty::Object => "object",
            Ty::Null => "<null>",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Long => "long",
            Ty::Double => "double",
            Ty::Char => "char",
            Ty::String => "string",
            Ty::DateTime => "DateTime",
            Ty::DateTimeOffset => "DateTimeOffset",
            Ty::TimeSpan => "TimeSpan",
            Ty::Bytes => "byte[]",
            Ty::Array(t) => return write!(f, "{t}[]"),
            Ty::List(t) => return write!(f, "List<{t}>"),
            Ty::Map(k, v) => return write!(f, "Dictionary<{k}, {v}>"),
            Ty::Grouping(k, t) => return write!(f, "IGrouping<{k}, {t}>"),
            Ty::Pair(k, v) => return write!(f, "KeyValuePair<{k}, {v}>"),
            Ty::Cert => "X509Certificate2",
            Ty::Enum(e) => e.name(),
            Ty::Obj(o) => match o {
                Obj::Context => "IProxyRequestContext",
                Obj::Request => "IRequest",
                Obj::Response => "IResponse",
                Obj::Url => "IUrl",
                Obj::Deployment => "IDeployment",
                Obj::Api => "IApi",
                Obj::Operation => "IOperation",
                Obj::LastError => "ProxyError",
                Obj::Body => "IMessageBody",
                Obj::Encoding => "Encoding",
                Obj::X500Name => "X500DistinguishedName",
                Obj::Oid => "Oid",
                Obj::Match => "Match",
                Obj::Groups => "GroupCollection",
                Obj::Group => "Group",
                Obj::User => "IUser",
                Obj::Subscription => "ISubscription",
                Obj::Product => "IProduct",
                Obj::Exception => "Exception",
                Obj::Uri => "Uri",
                Obj::StringBuilder => "StringBuilder",
                Obj::Random => "Random",
                Obj::Guid => "Guid",
                Obj::Jwt => "Jwt",
                Obj::BasicAuth => "BasicAuthCredentials",
                Obj::Hash(a) => a.name(),
                Obj::Hmac(a) => return write!(f, "HMAC{}", a.name()),
                Obj::Symmetric => "SymmetricAlgorithm",
            },
            Ty::Dict(d) => match d {
                DictTy::Headers | DictTy::Query | DictTy::Claims => {
                    "IReadOnlyDictionary<string, string[]>"
                }
                DictTy::MatchedParameters => "IReadOnlyDictionary<string, string>",
                DictTy::Variables => "IReadOnlyDictionary<string, object>",
                DictTy::Certificates => "IReadOnlyDictionary<string, X509Certificate2>",
            },
            Ty::Static(c) => match c {
                Class::String => "String",
                Class::DateTime => "DateTime",
                Class::TimeSpan => "TimeSpan",
                Class::Convert => "Convert",
                Class::Encoding => "Encoding",
                Class::Math => "Math",
                Class::Regex => "Regex",
                Class::Int => "Int32",
                Class::Long => "Int64",
                Class::Double => "Double",
                Class::Bool => "Boolean",
                Class::Char => "Char",
                Class::Enum(e) => e.name(),
                Class::Json(JsonClass::Token(t)) => t.name(),
                Class::Json(JsonClass::JsonConvert) => "JsonConvert",
                Class::DateTimeOffset => "DateTimeOffset",
                Class::Xml(t) => t.name(),
                Class::Exception => "Exception",
                Class::Uri => "Uri",
                Class::StringBuilder => "StringBuilder",
                Class::Random => "Random",
                Class::Guid => "Guid",
                Class::WebUtility => "WebUtility",
                Class::BitConverter => "BitConverter",
                Class::Hash(a) => a.name(),
                Class::Hmac(a) => return write!(f, "HMAC{}", a.name()),
                Class::Aes => "Aes",
                Class::Array => "Array",
            },
            Ty::Namespace(n) => n,
            Ty::Json(t) => t.name(),
            Ty::Xml(t) => t.name(),
            Ty::Fn(_) => "local function",
        };
        f.write_str(s)
    }
}

/// `K,V` of `Dictionary<K,V>`: split at the comma outside any `<...>`.
fn split_type_args(args: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in args.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => return Some((args[..i].trim(), args[i + 1..].trim())),
            _ => {}
        }
    }
    None
}

/// The hash and HMAC types, as a local's declared type (`HMACSHA256 h = new ...`).
fn hash_type(name: &str) -> Option<Ty> {
    let alg = |n: &str| match n {
        "MD5" => Some(HashAlg::Md5),
        "SHA1" | "SHA1Managed" => Some(HashAlg::Sha1),
        "SHA256" | "SHA256Managed" => Some(HashAlg::Sha256),
        "SHA384" | "SHA384Managed" => Some(HashAlg::Sha384),
        "SHA512" | "SHA512Managed" => Some(HashAlg::Sha512),
        _ => None,
    };
    match name.strip_prefix("HMAC") {
        Some(rest) => alg(rest).map(|a| Ty::Obj(Obj::Hmac(a))),
        None => alg(name).map(|a| Ty::Obj(Obj::Hash(a))),
    }
}
