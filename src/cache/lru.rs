//! The internal cache: least recently used entries go first once the entry or byte bound
//! is reached, and an entry past its expiry is a miss (and removed) when it is read.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

/// Bytes an entry costs besides its key and value (the map and order slots), so a flood
/// of empty values is bounded by bytes too.
const ENTRY_OVERHEAD: usize = 64;

struct Entry {
    value: Vec<u8>,
    expires_at: OffsetDateTime,
    /// Position in `Lru::order`: larger is more recent.
    used: u64,
}

/// A bounded map from keys to values with a time to live.
pub(super) struct Lru {
    entries: HashMap<String, Entry>,
    /// `used` → key, oldest first.
    order: BTreeMap<u64, String>,
    clock: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Lru {
    pub(super) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    pub(super) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    fn cost(key: &str, value: &[u8]) -> usize {
        key.len() + value.len() + ENTRY_OVERHEAD
    }

    /// The value of `key` unless it expired at `now`; a hit becomes the most recent.
    pub(super) fn get(&mut self, key: &str, now: OffsetDateTime) -> Option<Vec<u8>> {
        let entry = self.entries.get(key)?;
        if entry.expires_at <= now {
            self.remove(key);
            return None;
        }
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.get_mut(key)?;
        self.order.remove(&entry.used);
        entry.used = clock;
        self.order.insert(clock, key.to_owned());
        Some(entry.value.clone())
    }

    /// Stores `value` until `expires_at`, evicting the least recently used entries to
    /// make room. `false` when the value alone is larger than the byte bound.
    pub(super) fn put(&mut self, key: &str, value: Vec<u8>, expires_at: OffsetDateTime) -> bool {
        let cost = Self::cost(key, &value);
        if cost > self.max_bytes {
            return false;
        }
        self.remove(key);
        while self.entries.len() >= self.max_entries || self.bytes + cost > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.bytes -= Self::cost(&oldest, &entry.value);
            }
        }
        self.clock += 1;
        self.order.insert(self.clock, key.to_owned());
        self.bytes += cost;
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires_at,
                used: self.clock,
            },
        );
        true
    }

    pub(super) fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.order.remove(&entry.used);
            self.bytes -= Self::cost(key, &entry.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(seconds)
    }

    #[test]
    fn least_recently_used_goes_first_when_full() {
        let mut lru = Lru::new(2, 1 << 20);
        assert!(lru.put("a", b"1".to_vec(), at(100)));
        assert!(lru.put("b", b"2".to_vec(), at(100)));
        assert_eq!(lru.get("a", at(0)), Some(b"1".to_vec()));
        assert!(lru.put("c", b"3".to_vec(), at(100)));
        assert_eq!(lru.get("b", at(0)), None);
        assert_eq!(lru.get("a", at(0)), Some(b"1".to_vec()));
        assert_eq!(lru.get("c", at(0)), Some(b"3".to_vec()));
    }

    #[test]
    fn bytes_are_bounded_and_an_oversized_value_is_not_kept() {
        let mut lru = Lru::new(100, 3 * (ENTRY_OVERHEAD + 11));
        for key in ["k1", "k2", "k3", "k4"] {
            assert!(lru.put(key, vec![0; 9], at(100)));
        }
        assert_eq!(lru.entries.len(), 3);
        assert!(lru.bytes <= lru.max_bytes);
        assert_eq!(lru.get("k1", at(0)), None);
        assert!(!lru.put("big", vec![0; 1000], at(100)));
        assert_eq!(lru.entries.len(), 3);
    }

    #[test]
    fn an_expired_entry_is_a_miss_and_is_dropped() {
        let mut lru = Lru::new(10, 1 << 20);
        lru.put("a", b"1".to_vec(), at(10));
        assert_eq!(lru.get("a", at(9)), Some(b"1".to_vec()));
        assert_eq!(lru.get("a", at(10)), None);
        assert!(lru.entries.is_empty() && lru.order.is_empty() && lru.bytes == 0);
    }
}
