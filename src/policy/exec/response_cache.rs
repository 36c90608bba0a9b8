//! `cache-lookup` and `cache-store`: whole responses to GET requests.
//!
//! `cache-lookup` (inbound) builds the key from the API, the operation, the request path
//! and the `vary-by-header` / `vary-by-query-parameter` values. A hit becomes
//! `context.Response` and the request skips the rest of inbound and the backend; as in
//! APIM, outbound then runs from the step after the top-level `cache-store` (a
//! `cache-store` nested in `choose` lets outbound run whole, and does nothing). A miss
//! lets `cache-store` (outbound) keep the response for `duration` seconds.
//!
//! Not cached: other methods, requests with `Authorization` unless
//! `allow-private-response-caching`, responses that set cookies (they belong to one
//! client), and (without `cache-response="true"`) any status but 200.
//! `downstream-caching-type` private or public sets `Cache-Control` to
//! `private|public, max-age=<seconds left>[, must-revalidate]` on stored and cached
//! responses; `none` leaves the response's own header.

use std::time::Duration;

use super::cache::tier;
use super::message::fresh_response;
use super::{Exchange, Failure, Flow, param};
use crate::cache::Tier;
use crate::expr::{Body, Headers};
use crate::policy::SectionKind;
use crate::policy::document::Step;
use crate::policy::elements::{CacheLookup, CacheStore, DownstreamCaching, Policy};
use crate::proxy::is_hop_by_hop;
use http::StatusCode;

/// What `cache-lookup` decided for this request, for `cache-store` and outbound.
#[derive(Debug, Clone)]
pub(crate) struct ResponseCaching {
    key: String,
    tier: Tier,
    downstream: DownstreamCaching,
    must_revalidate: bool,
    /// The response came from the cache: nothing to store.
    hit: bool,
}

pub(super) async fn lookup(
    c: &CacheLookup,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    const POLICY: &str = "cache-lookup";
    if x.ctx.request.method != "GET" {
        x.note(section, path, || {
            "not a GET: no response caching".to_owned()
        });
        return Ok(Flow::Continue);
    }
    let private = param::eval(&c.allow_private_response_caching, &x.ctx, POLICY)?;
    if !private && x.ctx.request.headers.get("Authorization").is_some() {
        x.note(section, path, || {
            "Authorization present and allow-private-response-caching is false: no response caching"
                .to_owned()
        });
        return Ok(Flow::Continue);
    }
    let downstream = param::eval(&c.downstream_caching_type, &x.ctx, POLICY)?;
    let must_revalidate = param::eval(&c.must_revalidate, &x.ctx, POLICY)?;
    let key = key(c, x);
    let tier = tier(c.caching_type, &x.cache);
    let now = x.ctx.timestamp;
    let cached = x.cache.get(tier, &key, now).await.and_then(|bytes| {
        decode(&bytes).or_else(|| {
            tracing::warn!(
                tier = tier.as_str(),
                "cached response not readable: treated as a miss"
            );
            None
        })
    });
    let hit = cached.is_some();
    x.note(section, path, || {
        let outcome = if hit { "hit" } else { "miss" };
        format!("{} response cache {outcome}", tier.as_str())
    });
    let caching = ResponseCaching {
        key,
        tier,
        downstream,
        must_revalidate,
        hit,
    };
    let Some(cached) = cached else {
        x.response_cache = Some(caching);
        return Ok(Flow::Continue);
    };
    let mut response = fresh_response();
    let status = StatusCode::from_u16(cached.status).unwrap_or(StatusCode::OK);
    response.status_code = i32::from(status.as_u16());
    response.status_reason = status.canonical_reason().unwrap_or_default().to_owned();
    for (name, value) in cached.headers {
        response.headers.append(&name, value);
    }
    response.body = Some(Body::new(cached.body));
    x.ctx.response = response;
    x.ctx.request.body = None;
    let left = (cached.expires_at - now.unix_timestamp()).max(0);
    cache_control(&caching, &mut x.ctx.response.headers, left);
    x.response_cache = Some(caching);
    Ok(Flow::FromCache)
}

pub(super) async fn store(
    c: &CacheStore,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<Flow, Failure> {
    const POLICY: &str = "cache-store";
    let Some(caching) = x.response_cache.take_if(|c| !c.hit) else {
        return Ok(Flow::Continue);
    };
    let duration = param::eval(&c.duration, &x.ctx, POLICY)?;
    let any_status = match &c.cache_response {
        Some(param) => param::eval(param, &x.ctx, POLICY)?,
        None => false,
    };
    let response = &x.ctx.response;
    let skip = if !any_status && response.status_code != 200 {
        Some(format!("status {} is not 200", response.status_code))
    } else if response.headers.get("Set-Cookie").is_some() {
        Some("the response sets a cookie".to_owned())
    } else {
        None
    };
    if let Some(why) = skip {
        x.note(section, path, || format!("not stored: {why}"));
        return Ok(Flow::Continue);
    }
    // `Node::reads` made the gateway read the body whole; a stream is never stored.
    let Some(body) = response
        .body
        .as_ref()
        .map_or(Some(Default::default()), |b| b.read(true))
    else {
        x.note(section, path, || {
            "not stored: the body is streamed".to_owned()
        });
        return Ok(Flow::Continue);
    };
    let now = x.ctx.timestamp;
    let expires_at = now.unix_timestamp().saturating_add(duration.into());
    let bytes = encode(
        u16::try_from(response.status_code).unwrap_or(200),
        &response.headers,
        &body,
        expires_at,
    );
    x.note(section, path, || {
        format!(
            "{} response cache store for {duration} s",
            caching.tier.as_str()
        )
    });
    x.cache
        .put(
            caching.tier,
            &caching.key,
            bytes,
            now,
            Duration::from_secs(duration.into()),
        )
        .await;
    cache_control(&caching, &mut x.ctx.response.headers, duration.into());
    Ok(Flow::Continue)
}

/// Where outbound starts: after the top-level `cache-store` for a response from the
/// cache, else at the beginning.
pub(super) fn outbound_start(steps: &[Step], x: &Exchange) -> usize {
    let from_cache = x.response_cache.as_ref().is_some_and(|c| c.hit);
    if !from_cache
        || steps
            .first()
            .is_none_or(|s| s.section != SectionKind::Outbound)
    {
        return 0;
    }
    steps
        .iter()
        .position(|s| matches!(s.node.policy, Policy::CacheStore(_)))
        .map_or(0, |i| i + 1)
}

fn cache_control(caching: &ResponseCaching, headers: &mut Headers, max_age: i64) {
    let visibility = match caching.downstream {
        DownstreamCaching::None => return,
        DownstreamCaching::Private => "private",
        DownstreamCaching::Public => "public",
    };
    let revalidate = if caching.must_revalidate {
        ", must-revalidate"
    } else {
        ""
    };
    headers.set(
        "Cache-Control",
        vec![format!("{visibility}, max-age={max_age}{revalidate}")],
    );
}

/// The cache key of this request.
fn key(c: &CacheLookup, x: &Exchange) -> String {
    let ctx = &x.ctx;
    let mut key = format!(
        "response\n{}\n{}\n{}\n",
        ctx.api.as_ref().map_or("", |a| a.id.as_str()),
        ctx.operation.as_ref().map_or("", |o| o.id.as_str()),
        ctx.request.original_url.path,
    );
    for name in &c.vary_by_headers {
        let value = ctx.request.headers.joined(name).unwrap_or_default();
        key.push_str(&format!("h:{}={value:?}\n", name.to_ascii_lowercase()));
    }
    for name in &c.vary_by_query_parameters {
        let values = ctx
            .request
            .original_url
            .query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default();
        key.push_str(&format!("q:{name:?}={values:?}\n"));
    }
    key
}

/// A response as the cache keeps it.
#[derive(Debug, PartialEq)]
struct Cached {
    status: u16,
    expires_at: i64,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

const MAGIC: u8 = b'R';

/// `R`, status (2 bytes), expiry (8), header count (4), each header as name and value
/// with 4-byte lengths, then the body.
fn encode(status: u16, headers: &Headers, body: &[u8], expires_at: i64) -> Vec<u8> {
    let mut out = vec![MAGIC];
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&expires_at.to_be_bytes());
    let kept: Vec<(&str, &String)> = headers
        .iter()
        .filter(|(name, _)| {
            !http::HeaderName::from_bytes(name.as_bytes()).is_ok_and(|name| is_hop_by_hop(&name))
        })
        .flat_map(|(name, values)| values.iter().map(move |v| (name, v)))
        .collect();
    out.extend_from_slice(&u32::try_from(kept.len()).unwrap_or(0).to_be_bytes());
    for (name, value) in kept {
        for part in [name.as_bytes(), value.as_bytes()] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(0).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out.extend_from_slice(body);
    out
}

fn decode(bytes: &[u8]) -> Option<Cached> {
    let mut r = Reader(bytes);
    if r.take(1)? != [MAGIC] {
        return None;
    }
    let status = u16::from_be_bytes(r.take(2)?.try_into().ok()?);
    let expires_at = i64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let count = r.length()?;
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = r.text()?;
        let value = r.text()?;
        headers.push((name, value));
    }
    Some(Cached {
        status,
        expires_at,
        headers,
        body: r.0.to_vec(),
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn length(&mut self) -> Option<usize> {
        usize::try_from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)).ok()
    }

    fn text(&mut self) -> Option<String> {
        let n = self.length()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_comes_back_without_hop_by_hop_headers() {
        let mut headers = Headers::new();
        headers.append("Content-Type", "application/json");
        headers.append("Vary", "Accept");
        headers.append("Vary", "Origin");
        headers.append("Transfer-Encoding", "chunked");
        let bytes = encode(203, &headers, b"{\"a\":1}", 1_700_000_060);
        let cached = decode(&bytes).unwrap();
        assert_eq!(
            cached,
            Cached {
                status: 203,
                expires_at: 1_700_000_060,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Vary".into(), "Accept".into()),
                    ("Vary".into(), "Origin".into()),
                ],
                body: b"{\"a\":1}".to_vec(),
            }
        );
        for cut in 0..20 {
            let _ = decode(&bytes[..cut]);
        }
        assert!(decode(b"Rxx").is_none());
    }
}
