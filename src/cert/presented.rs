//! The chain a client presented: the leaf and its untrusted intermediates, as the
//! gateway hands it to `context` and to the backend (`forward-certificate`), and the
//! chains decoded so far, by the bytes they came in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{CertError, Certificate, decode_chain};

/// A presented chain, shared (not copied) with each request's `context`.
#[derive(Debug, Clone)]
pub struct PresentedChain {
    pub leaf: Arc<Certificate>,
    pub intermediates: Arc<[Certificate]>,
}

impl PresentedChain {
    /// Leaf first, then the intermediates; `None` for no certificate at all.
    pub fn from_certificates(chain: Vec<Certificate>) -> Option<Self> {
        let mut chain = chain.into_iter();
        let leaf = Arc::new(chain.next()?);
        Some(Self {
            leaf,
            intermediates: chain.collect(),
        })
    }

    /// Leaf first, then the intermediates.
    pub fn iter(&self) -> impl Iterator<Item = &Certificate> {
        std::iter::once(self.leaf.as_ref()).chain(self.intermediates.iter())
    }

    pub fn len(&self) -> usize {
        1 + self.intermediates.len()
    }

    /// Never: a presented chain has a leaf.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Chains decoded from front-end values ([`decode_chain`]), kept by the exact bytes
/// they were decoded from.
///
/// A client sends the same chain with every request, and decoding it (URL-encoded PEM,
/// base64, X.509, names) was half of the Lambda adapter's work per REST event and
/// three quarters per ALB event. A hit compares
/// the whole input, so it is the chain those very bytes decode to: the hash only picks
/// the bucket and is trusted with nothing. Bounded by entries and by bytes
/// (32 KiB per entry of the capacity, so large chains fit fewer): when full,
/// the least recently used entries go. Inputs that do not decode are not kept: their
/// error is computed again, which costs what it did without the cache.
pub struct PresentedChains {
    capacity: usize,
    inner: Mutex<Entries>,
}

/// The byte bound's share of one entry: a client's URL-encoded PEM chain of two
/// certificates, its DER and its decoded names take about 10 KiB.
const BYTES_PER_ENTRY: usize = 32 * 1024;

/// What a decoded certificate holds besides its DER (names, serial, key, stamps), as
/// counted against the byte bound.
const DECODED_OVERHEAD: usize = 1024;

#[derive(Default)]
struct Entries {
    by_input: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
    clock: u64,
    bytes: usize,
}

struct Entry {
    chain: PresentedChain,
    /// [`Entries::clock`] when last used: the smallest goes first.
    used: u64,
    /// The input, the DER and [`DECODED_OVERHEAD`] per certificate.
    bytes: usize,
}

impl PresentedChains {
    /// A cache of at most `capacity` chains (0: every input is decoded).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// [`decode_chain`] of `input` as a presented chain, from the cache when these bytes
    /// were decoded before.
    ///
    /// # Errors
    /// Those of [`decode_chain`].
    pub fn decode(&self, input: &[u8]) -> Result<PresentedChain, CertError> {
        if self.capacity == 0 {
            return decoded(input);
        }
        {
            let mut entries = self.lock();
            entries.clock += 1;
            let clock = entries.clock;
            if let Some(entry) = entries.by_input.get_mut(input) {
                entry.used = clock;
                return Ok(entry.chain.clone());
            }
        }
        let chain = decoded(input)?;
        let bytes = input.len()
            + chain
                .iter()
                .map(|certificate| certificate.der().len() + DECODED_OVERHEAD)
                .sum::<usize>();
        let max_bytes = self.capacity.saturating_mul(BYTES_PER_ENTRY);
        if bytes > max_bytes {
            return Ok(chain);
        }
        let mut entries = self.lock();
        while entries.by_input.len() >= self.capacity || entries.bytes + bytes > max_bytes {
            // Scans of the stamps: small next to the decoding a miss already did.
            let Some(oldest) = entries.by_input.values().map(|entry| entry.used).min() else {
                break;
            };
            let mut freed = 0;
            entries.by_input.retain(|_, entry| {
                let keep = entry.used != oldest;
                if !keep {
                    freed += entry.bytes;
                }
                keep
            });
            entries.bytes -= freed;
        }
        let used = entries.clock;
        let replaced = entries.by_input.insert(
            input.into(),
            Entry {
                chain: chain.clone(),
                used,
                bytes,
            },
        );
        // Another thread decoded the same input meanwhile: its entry is replaced.
        entries.bytes = entries.bytes + bytes - replaced.map_or(0, |entry| entry.bytes);
        Ok(chain)
    }

    /// Chains kept now.
    pub fn len(&self) -> usize {
        self.lock().by_input.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A poisoned lock only means a panic elsewhere mid-update of plain data.
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for PresentedChains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedChains")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("bytes", &self.lock().bytes)
            .finish()
    }
}

fn decoded(input: &[u8]) -> Result<PresentedChain, CertError> {
    PresentedChain::from_certificates(decode_chain(input)?).ok_or(CertError::Empty)
}
