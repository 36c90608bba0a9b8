//! The JSON of a Lambda HTTP event as certgate reads it: one type for the three shapes
//! (API Gateway REST, HTTP API, ALB), with only the fields certgate uses, read in one
//! pass. Strings are borrowed from the event where they need no unescaping. Every other
//! field is skipped unread, whatever it holds.
//!
//! A field certgate reads must have its JSON type (a string, an object of strings or
//! string arrays, ...), or the event is not one this function serves; `null` reads as
//! absent, as lambda_http reads it.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// An event, any of the three shapes; which one it is, is told from which of the
/// method fields it has (see `event::shape`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawEvent<'a> {
    /// REST and ALB.
    #[serde(borrow)]
    pub(super) http_method: Option<Text<'a>>,
    /// REST and ALB; an HTTP API's `rawPath` under its other name.
    #[serde(borrow)]
    pub(super) path: Option<Text<'a>>,
    /// HTTP API.
    #[serde(borrow)]
    pub(super) raw_path: Option<Text<'a>>,
    /// HTTP API.
    #[serde(borrow)]
    pub(super) raw_query_string: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub(super) headers: Fields<'a>,
    /// REST and ALB (with multi-value headers on).
    #[serde(borrow, default)]
    pub(super) multi_value_headers: Fields<'a>,
    /// REST and ALB.
    #[serde(borrow, default)]
    pub(super) query_string_parameters: Fields<'a>,
    /// REST and ALB.
    #[serde(borrow, default)]
    pub(super) multi_value_query_string_parameters: Fields<'a>,
    /// HTTP API: the request's cookies, apart from its headers.
    #[serde(borrow)]
    pub(super) cookies: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    pub(super) body: Option<Text<'a>>,
    pub(super) is_base64_encoded: Option<bool>,
    #[serde(borrow)]
    pub(super) request_context: Option<RawContext<'a>>,
    /// Lambda authorizers' inputs: `type` (REQUEST, TOKEN), `methodArn` (REST and HTTP
    /// API payload 1.0), `routeArn` (HTTP API payload 2.0).
    #[serde(rename = "type", default)]
    pub(super) authorizer_type: Present,
    #[serde(default)]
    pub(super) method_arn: Present,
    #[serde(default)]
    pub(super) route_arn: Present,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawContext<'a> {
    /// REST (and WebSocket) only.
    #[serde(borrow)]
    pub(super) http_method: Option<Text<'a>>,
    /// HTTP API only.
    #[serde(borrow)]
    pub(super) http: Option<RawHttp<'a>>,
    /// ALB only; what it holds is not read.
    pub(super) elb: Option<IgnoredAny>,
    #[serde(borrow)]
    pub(super) request_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) domain_name: Option<Text<'a>>,
    /// REST: the caller, with the certificate of mutual TLS.
    #[serde(borrow)]
    pub(super) identity: Option<RawIdentity<'a>>,
    /// HTTP API: the certificate of mutual TLS.
    #[serde(borrow)]
    pub(super) authentication: Option<RawAuthentication<'a>>,
    #[serde(borrow)]
    pub(super) route_key: Option<Text<'a>>,
    /// WebSocket APIs' events.
    #[serde(default)]
    pub(super) connection_id: Present,
    #[serde(default)]
    pub(super) event_type: Present,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawHttp<'a> {
    #[serde(borrow)]
    pub(super) method: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) source_ip: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawIdentity<'a> {
    #[serde(borrow)]
    pub(super) source_ip: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) client_cert: Option<RawClientCert<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawAuthentication<'a> {
    #[serde(borrow)]
    pub(super) client_cert: Option<RawClientCert<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawClientCert<'a> {
    #[serde(borrow)]
    pub(super) client_cert_pem: Option<Literal<'a>>,
}

/// A JSON string as the event spells it, quotes and escapes included (API Gateway's
/// `clientCertPem`, a `\n` escape per PEM line: see `event::ContextPem`).
#[derive(Debug)]
pub(super) struct Literal<'a>(&'a serde_json::value::RawValue);

impl<'a> Literal<'a> {
    pub(super) fn as_str(&self) -> &'a str {
        self.0.get()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Literal<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&'a serde_json::value::RawValue>::deserialize(deserializer)?;
        let unexpected = match raw.get().as_bytes().first() {
            Some(b'"') => return Ok(Self(raw)),
            Some(b'{') => de::Unexpected::Map,
            Some(b'[') => de::Unexpected::Seq,
            Some(b't' | b'f') => de::Unexpected::Other("boolean"),
            _ => de::Unexpected::Other("number"),
        };
        Err(de::Error::invalid_type(unexpected, &"a string"))
    }
}

/// A JSON string: borrowed from the event, or unescaped into its own buffer when it
/// holds escapes (`\n`, `\u002F`). serde borrows a `Cow` only when it is a field's whole
/// type, not inside an `Option` or a `Vec`: hence this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

/// The value of a header or query parameter: one string (`headers`), or several
/// (`multiValueHeaders`). lambda_http takes either form in either field, and so does this.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Values<'a> {
    One(Text<'a>),
    Many(Vec<Text<'a>>),
}

impl<'a> Values<'a> {
    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Self::One(one) => (Some(&**one), &[][..]),
            Self::Many(many) => (None, &many[..]),
        };
        one.into_iter().chain(many.iter().map(|text| &**text))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Values<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValuesVisitor)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Values<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        TextVisitor.visit_borrowed_str(text).map(Values::One)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        TextVisitor.visit_str(text).map(Values::One)
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        TextVisitor.visit_string(text).map(Values::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(Values::Many(values))
    }
}

/// A JSON object of names to [`Values`], in the event's order (`null` is empty).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Fields<'a>(pub(super) Vec<(Text<'a>, Values<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings or arrays of strings")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fields::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fields::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(entry) = map.next_entry()? {
            fields.push(entry);
        }
        Ok(Fields(fields))
    }
}

/// Whether a field is there, whatever its value (`null` too).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Present(pub(super) bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Self(true))
    }
}
