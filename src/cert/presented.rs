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
/// base64, X.509, names) was most of the Lambda adapter's work per event. A hit compares
/// the whole input, so it is the chain those very bytes decode to: the hash only picks
/// the bucket and is trusted with nothing. Bounded by entries (each input by
/// [`super::MAX_INPUT_BYTES`]); when full, the least recently used entry goes. Inputs
/// that do not decode are not kept: their error is computed again, which costs what it
/// did without the cache.
pub struct PresentedChains {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_input: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
    clock: u64,
}

struct Entry {
    chain: PresentedChain,
    /// [`Entries::clock`] when last used: the smallest goes first.
    used: u64,
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
        let mut entries = self.lock();
        if entries.by_input.len() >= self.capacity {
            // Scans of the stamps: small next to the decoding a miss already did.
            let oldest = entries.by_input.values().map(|entry| entry.used).min();
            entries
                .by_input
                .retain(|_, entry| Some(entry.used) != oldest);
        }
        let used = entries.clock;
        entries.by_input.insert(
            input.into(),
            Entry {
                chain: chain.clone(),
                used,
            },
        );
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
            .finish()
    }
}

fn decoded(input: &[u8]) -> Result<PresentedChain, CertError> {
    PresentedChain::from_certificates(decode_chain(input)?).ok_or(CertError::Empty)
}
