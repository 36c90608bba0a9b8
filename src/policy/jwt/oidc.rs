//! `<openid-config url="...">`: the discovery document and its JWKS, fetched off the
//! request path (when a deployment loads, then in the background) and kept as the last
//! good set. A fetch that fails keeps the keys of the last one that worked; a URL that
//! never answered has no keys, and every token checked against it is refused.
//!
//! One [`OpenIdKeys`] per URL in the process, shared by every deployment that names it,
//! so a new deployment starts with the keys the previous one had fetched: a refresh that
//! meets an identity provider outage does not turn into 401s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};

use super::{SigningKey, VerifyKey, es512};
use crate::body::Payload;
use crate::proxy::{Backend, ForwardOptions};

/// Largest discovery document or JWKS read.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// How long one fetch (document and JWKS) may take in the background.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the fetches of a deployment being loaded may take together: a cold start
/// (8 s budget in Lambda) must not wait out an identity provider that does not answer;
/// keys not fetched by then are fetched by the background refresh.
pub(crate) const LOAD_FETCH_BUDGET: Duration = Duration::from_secs(3);
/// How old keys may get before a background refresh fetches them again (APIM: 1 hour).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(3600);
/// How soon a failed fetch is tried again by a background refresh (APIM: 5 minutes at most
/// once per key miss; certgate retries on its own schedule instead).
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(30);

/// What one successful fetch gave.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The discovery document's `issuer`: an allowed issuer of tokens checked with these keys.
    pub issuer: Option<String>,
    pub keys: Vec<SigningKey>,
    pub at: Instant,
}

/// The keys of one OpenID configuration URL.
pub(crate) struct OpenIdKeys {
    pub url: String,
    current: ArcSwapOption<Fetched>,
    last_attempt: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OpenIdKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenIdKeys")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PartialEq for OpenIdKeys {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for OpenIdKeys {}

fn registry() -> &'static Mutex<HashMap<String, Weak<OpenIdKeys>>> {
    static REGISTRY: std::sync::OnceLock<Mutex<HashMap<String, Weak<OpenIdKeys>>>> =
        std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl OpenIdKeys {
    /// The process's keys for `url`: those another loaded deployment already holds, or new
    /// empty ones.
    pub(crate) fn for_url(url: &str) -> Arc<Self> {
        let mut map = registry().lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, keys| keys.strong_count() > 0);
        if let Some(keys) = map.get(url).and_then(Weak::upgrade) {
            return keys;
        }
        let keys = Arc::new(Self {
            url: url.to_owned(),
            current: ArcSwapOption::empty(),
            last_attempt: Mutex::new(None),
        });
        map.insert(url.to_owned(), Arc::downgrade(&keys));
        keys
    }

    /// The last good keys; `None` before any fetch succeeded.
    pub(crate) fn current(&self) -> Option<Arc<Fetched>> {
        self.current.load_full()
    }

    /// Whether a background refresh should fetch now: never fetched, keys older than
    /// [`MAX_AGE`], or no keys and the last try longer than [`RETRY_AFTER`] ago.
    pub(crate) fn due(&self, now: Instant) -> bool {
        let last_attempt = *self
            .last_attempt
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let since = |t: Instant| now.saturating_duration_since(t);
        match (self.current(), last_attempt) {
            (_, None) => true,
            (Some(f), Some(tried)) => since(f.at) >= MAX_AGE && since(tried) >= RETRY_AFTER,
            (None, Some(tried)) => since(tried) >= RETRY_AFTER,
        }
    }

    /// Fetches the discovery document and its JWKS; on success the keys replace the
    /// previous ones, on failure the previous ones stay and the error is returned.
    pub(crate) async fn fetch(&self, client: &Backend, within: Duration) -> Result<usize, String> {
        *self
            .last_attempt
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        let result = tokio::time::timeout(within, self.fetch_once(client))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", within.as_secs())));
        match result {
            Ok(fetched) => {
                let count = fetched.keys.len();
                self.current.store(Some(Arc::new(fetched)));
                Ok(count)
            }
            Err(message) => Err(format!("openid-config {}: {message}", self.url)),
        }
    }

    async fn fetch_once(&self, client: &Backend) -> Result<Fetched, String> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: Option<String>,
            jwks_uri: String,
        }
        let discovery: Discovery = serde_json::from_slice(&get(client, &self.url).await?)
            .map_err(|e| format!("the discovery document has no usable jwks_uri ({e})"))?;
        let jwks: JwkSet = serde_json::from_slice(&get(client, &discovery.jwks_uri).await?)
            .map_err(|e| format!("{} is not a JWK set ({e})", discovery.jwks_uri))?;
        let keys = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
                    return None;
                }
                let key = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => DecodingKey::from_jwk(jwk).map(VerifyKey::Jose).ok(),
                    AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                        EllipticCurve::P256 | EllipticCurve::P384 => {
                            DecodingKey::from_jwk(jwk).map(VerifyKey::Jose).ok()
                        }
                        EllipticCurve::P521 => es512::key_from_coordinates(&ec.x, &ec.y)
                            .map(VerifyKey::P521)
                            .ok(),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(key) = key else {
                    tracing::warn!(url = %self.url, kid = ?jwk.common.key_id, "skipping a JWK that certgate cannot verify with (only RSA and EC P-256/P-384/P-521 keys are used)");
                    return None;
                };
                Some(SigningKey {
                    kid: jwk.common.key_id.clone(),
                    key,
                })
            })
            .collect();
        Ok(Fetched {
            issuer: discovery.issuer,
            keys,
            at: Instant::now(),
        })
    }
}

/// One bounded GET; anything but 200 is an error.
async fn get(client: &Backend, url: &str) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    let request = http::Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(Payload::from(Vec::new()))
        .map_err(|e| e.to_string())?;
    let options = ForwardOptions {
        timeout: FETCH_TIMEOUT,
        collect_response: true,
        ..ForwardOptions::default()
    };
    let response = client
        .forward(request, options)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if response.status != http::StatusCode::OK {
        return Err(format!("GET {url}: status {}", response.status));
    }
    match response.body.as_whole() {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(format!("GET {url}: the body was not read")),
    }
}

/// The OpenID configurations that `policies` use, each once.
pub(crate) fn used_by<'p>(
    policies: impl IntoIterator<Item = &'p crate::policy::EffectivePolicy>,
) -> Vec<Arc<OpenIdKeys>> {
    let mut out: Vec<Arc<OpenIdKeys>> = Vec::new();
    super::each_validate_jwt(policies, &mut |j| {
        for keys in &j.openid_configs {
            if !out.iter().any(|k| Arc::ptr_eq(k, keys)) {
                out.push(Arc::clone(keys));
            }
        }
    });
    out
}

/// Fetches every configuration of `keys` that is due (all of them with `force`), at the
/// same time, each within `within`; the errors, each already logged. Keys that fail to
/// fetch stay as they were.
pub(crate) async fn refresh(
    keys: &[Arc<OpenIdKeys>],
    client: &Backend,
    force: bool,
    within: Duration,
) -> Vec<String> {
    let mut fetches = tokio::task::JoinSet::new();
    for config in keys {
        if force || config.due(Instant::now()) {
            let (config, client) = (Arc::clone(config), client.clone());
            fetches.spawn(async move {
                let result = config.fetch(&client, within).await;
                (config, result)
            });
        }
    }
    let mut errors = Vec::new();
    while let Some(done) = fetches.join_next().await {
        match done {
            Ok((config, Ok(count))) => {
                tracing::info!(url = %config.url, keys = count, "openid-config keys fetched");
            }
            Ok((config, Err(message))) => {
                let serving = config.current().map_or(0, |f| f.keys.len());
                tracing::warn!(url = %config.url, serving_keys = serving, "{message}; keeping the last good keys");
                errors.push(message);
            }
            Err(panicked) => errors.push(format!("an openid-config fetch failed: {panicked}")),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_due_when_never_fetched_then_after_a_retry_delay_or_an_hour() {
        let keys = OpenIdKeys::for_url("https://unit.test/.well-known/openid-configuration");
        // One set per URL while a deployment holds it.
        assert!(Arc::ptr_eq(
            &keys,
            &OpenIdKeys::for_url("https://unit.test/.well-known/openid-configuration")
        ));
        let t0 = Instant::now();
        assert!(keys.due(t0));
        *keys.last_attempt.lock().unwrap() = Some(t0);
        assert!(!keys.due(t0 + Duration::from_secs(5)));
        assert!(keys.due(t0 + RETRY_AFTER));
        keys.current.store(Some(Arc::new(Fetched {
            issuer: None,
            keys: Vec::new(),
            at: t0,
        })));
        assert!(!keys.due(t0 + RETRY_AFTER));
        assert!(keys.due(t0 + MAX_AGE));
    }
}
