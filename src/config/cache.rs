//! `[cache]` of `gateway.toml`: where `caching-type="external"` keeps values (a DynamoDB
//! table) and the bounds of the per-instance internal cache.

use serde::Deserialize;

use super::{ConfigError, invalid};

/// `[cache]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// The DynamoDB table of the external cache; without it `prefer-external` uses the
    /// internal cache and `external` does not load.
    pub table: Option<String>,
    /// Most entries the internal cache of one instance holds.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
    /// Most bytes (keys and values) the internal cache of one instance holds.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            table: None,
            max_entries: default_max_entries(),
            max_bytes: default_max_bytes(),
        }
    }
}

fn default_max_entries() -> usize {
    10_000
}

/// 16 MiB: a small part of the smallest Lambda memory size that runs certgate.
fn default_max_bytes() -> usize {
    16 * 1024 * 1024
}

impl CacheSettings {
    pub(super) fn validate(self) -> Result<Self, ConfigError> {
        if let Some(table) = &self.table
            && !is_table_name(table)
        {
            return Err(invalid(
                "cache.table",
                format!(
                    "`{table}` is not a DynamoDB table name: 3 to 255 letters, digits, `_`, `-` or `.`"
                ),
            ));
        }
        if self.max_entries == 0 || self.max_bytes == 0 {
            return Err(invalid(
                "cache",
                "max_entries and max_bytes must be at least 1 (leave them out for the defaults)",
            ));
        }
        Ok(self)
    }
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use crate::config::GatewayConfig;

    #[test]
    fn cache_settings_default_and_check_the_table_name() {
        let config = GatewayConfig::parse("").unwrap();
        assert_eq!(config.cache, super::CacheSettings::default());
        let config =
            GatewayConfig::parse("[cache]\ntable = \"prod-cache.v1\"\nmax_entries = 5\n").unwrap();
        assert_eq!(config.cache.table.as_deref(), Some("prod-cache.v1"));
        assert_eq!(config.cache.max_entries, 5);
        for bad in [
            "[cache]\ntable = \"a b\"",
            "[cache]\ntable = \"ab\"",
            "[cache]\nmax_bytes = 0",
            "[cache]\ntabel = \"x\"",
        ] {
            let error = GatewayConfig::parse(bad).unwrap_err().to_string();
            assert!(
                error.contains("cache") || error.contains("tabel"),
                "{bad}: {error}"
            );
        }
    }
}
