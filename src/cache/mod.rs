//! The caches of `cache-lookup-value`, `cache-store-value` and `cache-remove-value`.
//!
//! `internal` is a bounded LRU with a time to live in the memory of one instance (one
//! Lambda execution environment, one `certgate serve` process), like APIM's built-in
//! cache of one gateway: instances do not share it, and a new deployment starts empty.
//! `external` is a DynamoDB table (`[cache] table` in `gateway.toml`) that every
//! instance shares.
//!
//! A cache never fails a request: a table that does not answer is a miss for a lookup
//! and a skipped store or removal, logged with the reason. Values are bytes; the policy
//! executor encodes what expressions give.

mod dynamo;
mod lru;

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::CacheSettings;
use crate::source::s3::{ClientOptions, sdk_config};

pub use dynamo::{EXPIRES_ATTRIBUTE, KEY_ATTRIBUTE, MAX_ITEM_BYTES, VALUE_ATTRIBUTE};

/// Keys longer than this are kept under their SHA-256 (DynamoDB allows 2048 bytes in a
/// partition key; the internal cache counts keys against its byte bound).
const MAX_KEY_BYTES: usize = 1024;

/// How long one call to the table may take, retries included, when the deployment does
/// not say: a lookup sits on the request path.
const TABLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a cache operation did not happen (logged, never returned to a request).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CacheError {
    #[error("DynamoDB {operation} on table {table} failed: {message}")]
    Table {
        operation: &'static str,
        table: String,
        message: String,
    },
    #[error("the DynamoDB client for the cache cannot be made: {0}")]
    Client(String),
    #[error(
        "the value and its key take {size} bytes, more than the {max} bytes one entry may hold"
    )]
    TooLarge { size: usize, max: usize },
}

/// Which cache a policy uses, once `prefer-external` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    Internal,
    External,
}

impl Tier {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tier::Internal => "internal",
            Tier::External => "external",
        }
    }
}

/// The caches of one deployment.
pub(crate) struct Caches {
    internal: Mutex<lru::Lru>,
    external: Option<External>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("external", &self.external.as_ref().map(|e| &e.table))
            .finish_non_exhaustive()
    }
}

/// The table of the external cache; its client is made on first use (it reads the AWS
/// environment, which loading a deployment does not wait for).
struct External {
    table: String,
    options: ClientOptions,
    client: tokio::sync::OnceCell<dynamo::Table>,
}

impl Caches {
    /// The caches `settings` describe; the table's client will be made with `options`
    /// on top of the AWS environment (endpoint, region, credentials: see
    /// [`crate::source::s3::ClientOptions`]).
    pub(crate) fn new(settings: &CacheSettings, mut options: ClientOptions) -> Self {
        options.timeout.get_or_insert(TABLE_TIMEOUT);
        options.max_attempts.get_or_insert(2);
        Self {
            internal: Mutex::new(lru::Lru::new(settings.max_entries, settings.max_bytes)),
            external: settings.table.as_ref().map(|table| External {
                table: table.clone(),
                options,
                client: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// Whether `[cache] table` is set: where `prefer-external` goes.
    pub(crate) fn has_external(&self) -> bool {
        self.external.is_some()
    }

    /// The value of `key` unless it expired at `now`; a cache that fails is a miss.
    pub(crate) async fn get(&self, tier: Tier, key: &str, now: OffsetDateTime) -> Option<Vec<u8>> {
        let key = stored_key(key);
        match tier {
            Tier::Internal => self.lru().get(&key, now),
            Tier::External => match self.table().await {
                Ok(table) => table.get(&key, now).await,
                Err(e) => Err(e),
            }
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "external cache lookup failed: treated as a miss");
                None
            }),
        }
    }

    /// Keeps `value` under `key` for `duration` from `now`; a store that fails is skipped.
    pub(crate) async fn put(
        &self,
        tier: Tier,
        key: &str,
        value: Vec<u8>,
        now: OffsetDateTime,
        duration: Duration,
    ) {
        let key = stored_key(key);
        let expires_at = now.saturating_add(time::Duration::saturating_seconds_f64(
            duration.as_secs_f64(),
        ));
        let outcome = match tier {
            Tier::Internal => {
                let size = key.len() + value.len();
                let mut lru = self.lru();
                if lru.put(&key, value, expires_at) {
                    Ok(())
                } else {
                    Err(CacheError::TooLarge {
                        size,
                        max: lru.max_bytes(),
                    })
                }
            }
            Tier::External => match self.table().await {
                Ok(table) => table.put(&key, value, expires_at).await,
                Err(e) => Err(e),
            },
        };
        if let Err(error) = outcome {
            tracing::warn!(tier = tier.as_str(), %error, "cache store skipped");
        }
    }

    /// Removes `key`; a removal that fails is skipped.
    pub(crate) async fn remove(&self, tier: Tier, key: &str) {
        let key = stored_key(key);
        let outcome = match tier {
            Tier::Internal => {
                self.lru().remove(&key);
                Ok(())
            }
            Tier::External => match self.table().await {
                Ok(table) => table.remove(&key).await,
                Err(e) => Err(e),
            },
        };
        if let Err(error) = outcome {
            tracing::warn!(tier = tier.as_str(), %error, "cache removal skipped");
        }
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, lru::Lru> {
        // Nothing panics while the lock is held; a poisoned one still holds whole entries.
        self.internal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn table(&self) -> Result<&dynamo::Table, CacheError> {
        let external = self
            .external
            .as_ref()
            .ok_or_else(|| CacheError::Client("no [cache] table in gateway.toml".to_owned()))?;
        external
            .client
            .get_or_try_init(|| async {
                let config = sdk_config(&external.options)
                    .await
                    .map_err(|e| CacheError::Client(e.to_string()))?;
                Ok(dynamo::Table {
                    client: aws_sdk_dynamodb::Client::new(&config),
                    name: external.table.clone(),
                })
            })
            .await
    }
}

/// `key` as kept: itself, or `sha256:<hex>` when longer than [`MAX_KEY_BYTES`].
fn stored_key(key: &str) -> String {
    if key.len() <= MAX_KEY_BYTES {
        return key.to_owned();
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    format!("sha256:{}", crate::text::hex_lower(digest.as_ref()))
}
