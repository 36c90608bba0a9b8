//! `cache-lookup-value`, `cache-store-value` and `cache-remove-value`.
//!
//! The cache itself ([`crate::cache`]) keeps bytes; values are encoded here with their
//! type, so a lookup gives back what the store was given: a string stays a string, a
//! number a number, a `JObject` a `JObject`. A cache that does not answer is a miss or a
//! skipped store (logged there); only a policy's own errors (an expression that throws,
//! a value of a type no cache can keep) fail the request.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Exchange, Failure, Flow, param};
use crate::cache::{Caches, Tier};
use crate::expr::{JToken, Value};
use crate::policy::SectionKind;
use crate::policy::elements::{CacheLookupValue, CacheRemoveValue, CacheStoreValue, CachingType};
use crate::policy::value::Param;

/// Where `caching-type` sends this deployment's entries.
pub(super) fn tier(caching_type: CachingType, caches: &Caches) -> Tier {
    match caching_type {
        CachingType::Internal => Tier::Internal,
        CachingType::External => Tier::External,
        CachingType::PreferExternal if caches.has_external() => Tier::External,
        CachingType::PreferExternal => Tier::Internal,
    }
}

fn key(key: &Param<String>, x: &Exchange, policy: &'static str) -> Result<String, Failure> {
    let key = param::eval(key, &x.ctx, policy)?;
    if key.is_empty() {
        return Err(Failure::expression(policy, "the cache key is empty"));
    }
    Ok(key)
}

pub(super) async fn lookup_value(
    c: &CacheLookupValue,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    const POLICY: &str = "cache-lookup-value";
    let key = key(&c.key, x, POLICY)?;
    let tier = tier(c.caching_type, &x.cache);
    let cached = x.cache.get(tier, &key, x.ctx.timestamp).await;
    let found = cached.and_then(|bytes| {
        decode(&bytes).or_else(|| {
            tracing::warn!(
                tier = tier.as_str(),
                "cache entry not readable: treated as a miss"
            );
            None
        })
    });
    let hit = found.is_some();
    let value = match (found, &c.default_value) {
        (Some(value), _) => value,
        (None, Some(default)) => param::eval_value(default, &x.ctx, POLICY)?,
        (None, None) => Value::Null,
    };
    x.note(section, path, || {
        let outcome = if hit { "hit" } else { "miss" };
        format!("{} cache {outcome} for {key}", tier.as_str())
    });
    x.set_variable(c.variable_name.clone(), value);
    Ok(Flow::Continue)
}

pub(super) async fn store_value(
    c: &CacheStoreValue,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    const POLICY: &str = "cache-store-value";
    let key = key(&c.key, x, POLICY)?;
    let value = param::eval_value(&c.value, &x.ctx, POLICY)?;
    let duration = param::eval(&c.duration, &x.ctx, POLICY)?;
    let Some(bytes) = encode(&value) else {
        return Err(Failure::expression(
            POLICY,
            format!(
                "a cache keeps strings, numbers, Booleans, chars, DateTime, TimeSpan, byte[] and JSON tokens, not {}",
                value.type_name()
            ),
        ));
    };
    let tier = tier(c.caching_type, &x.cache);
    x.note(section, path, || {
        format!("{} cache store {key} for {duration} s", tier.as_str())
    });
    let now = x.ctx.timestamp;
    x.cache
        .put(tier, &key, bytes, now, Duration::from_secs(duration.into()))
        .await;
    Ok(Flow::Continue)
}

pub(super) async fn remove_value(
    c: &CacheRemoveValue,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    let key = key(&c.key, x, "cache-remove-value")?;
    let tier = tier(c.caching_type, &x.cache);
    x.note(section, path, || {
        format!("{} cache remove {key}", tier.as_str())
    });
    x.cache.remove(tier, &key).await;
    Ok(Flow::Continue)
}

// The encoding: one tag byte, then the value.
const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT: u8 = 2;
const LONG: u8 = 3;
const DOUBLE: u8 = 4;
const CHAR: u8 = 5;
const STRING: u8 = 6;
const DATETIME: u8 = 7;
const TIMESPAN: u8 = 8;
const BYTES: u8 = 9;
const JSON: u8 = 10;

/// `value` as bytes; `None` for the types a cache does not keep (certificates, regex
/// matches and other library objects, arrays).
fn encode(value: &Value) -> Option<Vec<u8>> {
    let (tag, body): (u8, Vec<u8>) = match value {
        Value::Null => (NULL, Vec::new()),
        Value::Bool(b) => (BOOL, vec![u8::from(*b)]),
        Value::Int(n) => (INT, n.to_be_bytes().to_vec()),
        Value::Long(n) => (LONG, n.to_be_bytes().to_vec()),
        Value::Double(d) => (DOUBLE, d.to_be_bytes().to_vec()),
        Value::Char(c) => (CHAR, c.to_string().into_bytes()),
        Value::String(s) => (STRING, s.as_bytes().to_vec()),
        Value::DateTime(d) => (DATETIME, d.unix_timestamp_nanos().to_be_bytes().to_vec()),
        Value::TimeSpan(ticks) => (TIMESPAN, ticks.to_be_bytes().to_vec()),
        Value::Bytes(b) => (BYTES, b.to_vec()),
        Value::Json(token) => (JSON, token.to_text().ok()?.into_bytes()),
        _ => return None,
    };
    let mut bytes = Vec::with_capacity(1 + body.len());
    bytes.push(tag);
    bytes.extend_from_slice(&body);
    Some(bytes)
}

/// What [`encode`] wrote; `None` for anything else.
fn decode(bytes: &[u8]) -> Option<Value> {
    let (&tag, body) = bytes.split_first()?;
    let text = || std::str::from_utf8(body).ok();
    Some(match tag {
        NULL if body.is_empty() => Value::Null,
        BOOL => match body {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            _ => return None,
        },
        INT => Value::Int(i32::from_be_bytes(body.try_into().ok()?)),
        LONG => Value::Long(i64::from_be_bytes(body.try_into().ok()?)),
        DOUBLE => Value::Double(f64::from_be_bytes(body.try_into().ok()?)),
        CHAR => {
            let mut chars = text()?.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Value::Char(c),
                _ => return None,
            }
        }
        STRING => Value::string(text()?),
        DATETIME => Value::DateTime(
            OffsetDateTime::from_unix_timestamp_nanos(i128::from_be_bytes(body.try_into().ok()?))
                .ok()?,
        ),
        TIMESPAN => Value::TimeSpan(i64::from_be_bytes(body.try_into().ok()?)),
        BYTES => Value::Bytes(body.into()),
        JSON => Value::Json(JToken::from_text(text()?).ok()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_with_their_type() {
        let json = JToken::from_text(r#"{"a":[1,2.5,"x",null,true]}"#).unwrap();
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Long(1 << 40),
            Value::Double(0.1),
            Value::Char('é'),
            Value::string("text"),
            Value::DateTime(OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()),
            Value::TimeSpan(36_000_000_000),
            Value::Bytes(vec![0, 255].into()),
            Value::Json(json),
        ];
        for value in values {
            let back = decode(&encode(&value).unwrap()).unwrap();
            assert_eq!(back.type_name(), value.type_name());
            assert_eq!(back.to_string(), value.to_string());
        }
        assert!(encode(&Value::Array(vec![Value::Null].into())).is_none());
        for corrupt in [&[][..], &[BOOL, 2], &[INT, 1], &[99], &[NULL, 0]] {
            assert!(decode(corrupt).is_none(), "{corrupt:?}");
        }
    }
}
