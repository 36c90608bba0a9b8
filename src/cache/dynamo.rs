//! The external cache: one DynamoDB item per key, with the expiry in the table's TTL
//! attribute. DynamoDB deletes expired items lazily (within days), so a read checks the
//! expiry itself and treats a late item as a miss.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::CacheError;
use crate::source::s3::describe_sdk_error;

/// The partition key (a string).
pub const KEY_ATTRIBUTE: &str = "cache_key";
/// The cached bytes (a binary).
pub const VALUE_ATTRIBUTE: &str = "cache_value";
/// Expiry in seconds since 1970 (a number): the table's TTL attribute.
pub const EXPIRES_ATTRIBUTE: &str = "expires_at";

/// DynamoDB's largest item: names and values of all its attributes together.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Room for the expiry number in an item's size.
const NUMBER_BYTES: usize = 21;

/// A cache table.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) client: Client,
    pub(super) name: String,
}

impl Table {
    pub(super) async fn get(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<u8>>, CacheError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_owned()))
            .send()
            .await
            .map_err(|e| self.error("GetItem", &describe_sdk_error(&e)))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let expires_at = item
            .get(EXPIRES_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok());
        let value = item.get(VALUE_ATTRIBUTE).and_then(|v| v.as_b().ok());
        match (expires_at, value) {
            (Some(expires_at), Some(value)) if now.unix_timestamp() < expires_at => {
                Ok(Some(value.as_ref().to_vec()))
            }
            (Some(_), Some(_)) => Ok(None),
            _ => Err(self.error(
                "GetItem",
                &format!(
                    "the item of this key lacks {VALUE_ATTRIBUTE} (binary) or {EXPIRES_ATTRIBUTE} (number): the table is not a certgate cache table"
                ),
            )),
        }
    }

    pub(super) async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: OffsetDateTime,
    ) -> Result<(), CacheError> {
        let size = KEY_ATTRIBUTE.len()
            + key.len()
            + VALUE_ATTRIBUTE.len()
            + value.len()
            + EXPIRES_ATTRIBUTE.len()
            + NUMBER_BYTES;
        if size > MAX_ITEM_BYTES {
            return Err(CacheError::TooLarge {
                size,
                max: MAX_ITEM_BYTES,
            });
        }
        self.client
            .put_item()
            .table_name(&self.name)
            .item(KEY_ATTRIBUTE, AttributeValue::S(key.to_owned()))
            .item(VALUE_ATTRIBUTE, AttributeValue::B(Blob::new(value)))
            .item(
                EXPIRES_ATTRIBUTE,
                AttributeValue::N(expires_at.unix_timestamp().to_string()),
            )
            .send()
            .await
            .map_err(|e| self.error("PutItem", &describe_sdk_error(&e)))?;
        Ok(())
    }

    pub(super) async fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.client
            .delete_item()
            .table_name(&self.name)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_owned()))
            .send()
            .await
            .map_err(|e| self.error("DeleteItem", &describe_sdk_error(&e)))?;
        Ok(())
    }

    fn error(&self, operation: &'static str, message: &str) -> CacheError {
        CacheError::Table {
            operation,
            table: self.name.clone(),
            message: message.to_owned(),
        }
    }
}
