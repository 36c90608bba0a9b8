//! The verification cache: a verdict is computed once per presented chain, store and
//! revocation mode, and served while it provably holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use super::store::TrustStore;
use super::verdict::{Revocation, Verdict};
use super::verify::distinct;
use crate::cert::Certificate;

const SHARDS: usize = 16;

/// A bounded, thread-safe cache of verdicts.
///
/// * **Key**: the presented chain by SHA-256 (`Chain`: the fingerprints of the leaf
///   and of the set of distinct intermediates, sorted), the store's
///   [`TrustStore::generation`] and the [`Revocation`] mode. `Verify()` sees the
///   intermediates as that same sorted set, so reordering or repeating them yields the
///   same verdict and the same entry: a client cannot miss the cache on purpose that
///   way. The hash is cryptographic on purpose: with a weaker one, a client could craft
///   a chain colliding with a valid one and be served its `Valid`.
/// * **Lifetime**: an entry is served only inside the time window over which its verdict
///   is constant: no notBefore, notAfter (of the leaf, a presented intermediate, a store
///   CA) or CRL nextUpdate falls inside it. So a `Valid` is never served after the
///   leaf's notAfter or a CRL's nextUpdate, and a `NotYetValid` is not served once the
///   certificate becomes valid (nor a verdict before the window it was computed in,
///   for a clock that goes back). A new store has a new generation: its lookups miss.
/// * **Bound and eviction**: at most `capacity` entries, in 16 shards (each behind its
///   own mutex). A full shard evicts with CLOCK (second chance): entries hit since
///   the hand last passed survive one round; entries of an older store generation or
///   past their window go first.
pub struct VerifyCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Counters of a [`VerifyCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    chain: Chain,
    generation: u64,
    revocation: Revocation,
}

/// A presented chain by the SHA-256 of its certificates: the leaf's and at most one
/// intermediate's themselves (what clients nearly always present: no hashing per
/// request), or a SHA-256 over the fingerprints of longer chains ([`chain_digest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Chain {
    Short([u8; 32], Option<[u8; 32]>),
    Long([u8; 32]),
}

impl Chain {
    fn of(leaf: &Certificate, presented: &[&Certificate]) -> Self {
        match presented {
            [] => Self::Short(*leaf.sha256(), None),
            [one] => Self::Short(*leaf.sha256(), Some(*one.sha256())),
            _ => Self::Long(chain_digest(leaf, presented)),
        }
    }

    /// A byte of the leaf's (or the chain's) hash, to pick a shard.
    fn spread(&self) -> u8 {
        match self {
            Self::Short(leaf, _) => leaf[0],
            Self::Long(digest) => digest[0],
        }
    }
}

#[derive(Debug)]
struct Slot {
    key: Key,
    verdict: Verdict,
    from: i64,
    until: i64,
    referenced: bool,
}

#[derive(Debug, Default)]
struct Shard {
    /// foldhash rather than SipHash: looked up on every `Verify()`.
    index: HashMap<Key, usize, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    hand: usize,
}

impl Shard {
    fn get(&mut self, key: &Key, t: i64) -> Option<Verdict> {
        let slot = &mut self.slots[*self.index.get(key)?];
        if slot.from <= t && t < slot.until {
            slot.referenced = true;
            Some(slot.verdict)
        } else {
            None
        }
    }

    fn insert(&mut self, slot: Slot, capacity: usize, t: i64) {
        if let Some(&i) = self.index.get(&slot.key) {
            self.slots[i] = slot;
            return;
        }
        if self.slots.len() < capacity {
            self.index.insert(slot.key, self.slots.len());
            self.slots.push(slot);
            return;
        }
        // CLOCK: at most two passes (the first clears every reference bit).
        let generation = slot.key.generation;
        let len = self.slots.len();
        for _ in 0..2 * len {
            let i = self.hand;
            self.hand = (self.hand + 1) % len;
            let old = &mut self.slots[i];
            let dead = old.key.generation != generation || t >= old.until || t < old.from;
            if old.referenced && !dead {
                old.referenced = false;
                continue;
            }
            self.index.remove(&old.key);
            self.index.insert(slot.key, i);
            *old = slot;
            return;
        }
    }
}

impl VerifyCache {
    /// A cache of at most `capacity` verdicts (0: nothing is cached).
    pub fn new(capacity: usize) -> Self {
        let shards = SHARDS.min(capacity.max(1));
        Self {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(shards),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// [`TrustStore::verify`], served from the cache when an entry holds at `now`.
    pub fn verify(
        &self,
        store: &TrustStore,
        leaf: &Certificate,
        presented: &[Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
    ) -> Verdict {
        if self.per_shard == 0 {
            return store.verify(leaf, presented, now, revocation);
        }
        let presented = distinct(presented);
        let key = Key {
            chain: Chain::of(leaf, &presented),
            generation: store.generation(),
            revocation,
        };
        let t = now.unix_timestamp().max(0);
        let shard = &self.shards[usize::from(key.chain.spread()) % self.shards.len()];
        if let Some(verdict) = lock(shard).get(&key, t) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return verdict;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let evaluation = store.evaluate(leaf, &presented, now, revocation);
        let verdict = evaluation.verification.verdict;
        let slot = Slot {
            key,
            verdict,
            from: evaluation.from,
            until: evaluation.until,
            referenced: false,
        };
        lock(shard).insert(slot, self.per_shard, t);
        verdict
    }

    /// Hits, misses and the number of entries.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.shards.iter().map(|s| lock(s).slots.len()).sum(),
        }
    }

    /// Drops every entry (counters are kept).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            *lock(shard) = Shard::default();
        }
    }
}

impl std::fmt::Debug for VerifyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyCache")
            .field("capacity", &(self.per_shard * self.shards.len()))
            .field("stats", &self.stats())
            .finish()
    }
}

/// A poisoned shard only means another thread panicked mid-update of plain data; the
/// data is still consistent enough to use (worst case: a missing entry).
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// SHA-256 over the leaf, then the intermediates as [`distinct`] returns them (sorted).
/// Each certificate contributes its SHA-256 fingerprint, which [`Certificate`] computed
/// over its exact DER when it was decoded, so a hit hashes 32 bytes per certificate
/// instead of the whole DER; a collision would need one in SHA-256 itself.
fn chain_digest(leaf: &Certificate, presented: &[&Certificate]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for cert in std::iter::once(leaf).chain(presented.iter().copied()) {
        ctx.update(cert.sha256());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
