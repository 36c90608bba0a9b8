//! The chain a client presented: the leaf and its untrusted intermediates, as the
//! gateway hands it to `context` and to the backend (`forward-certificate`), and the
//! chains decoded so far, by the bytes they came in.

use std::borrow::{Borrow, Cow};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{CertError, Certificate, chain_blobs};

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

/// Chains decoded from front-end values ([`decode_chain`](super::decode_chain)), kept
/// by the exact bytes they were decoded from, and the issuing certificates in them, kept
/// by their DER.
///
/// A client sends the same chain with every request, and decoding it (URL-encoded PEM,
/// base64, X.509, names) was half of the Lambda adapter's work per REST event and
/// three quarters per ALB event. A hit compares
/// the whole input, so it is the chain those very bytes decode to: the hash only picks
/// the bucket and is trusted with nothing. Bounded by entries and by bytes
/// (32 KiB per entry of the capacity, so large chains fit fewer): when full,
/// the least recently used entries go. Inputs that do not decode are not kept: their
/// error is computed again, which costs what it did without the cache.
///
/// An ALB forwards the client's issuing CA with every chain, so a new client of a known
/// CA decodes only its leaf: the CA's certificate is a copy of the one decoded from the
/// same DER before (8 KiB per issuer of the capacity). A CA certificate the deployment
/// trusts ([`PresentedChains::with_trusted`]) is not decoded even for its first client:
/// the trust store decoded the same DER at load.
pub struct PresentedChains {
    inner: Mutex<Kept>,
    trusted: HashSet<ByDer, foldhash::fast::RandomState>,
}

/// A certificate found by its DER.
struct ByDer(Arc<Certificate>);

impl Borrow<[u8]> for ByDer {
    fn borrow(&self) -> &[u8] {
        self.0.der()
    }
}

impl Hash for ByDer {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.der().hash(state);
    }
}

impl PartialEq for ByDer {
    fn eq(&self, other: &Self) -> bool {
        self.0.der() == other.0.der()
    }
}

impl Eq for ByDer {}

/// The byte bound's share of one chain: a client's URL-encoded PEM chain of two
/// certificates, its DER and its decoded names take about 10 KiB.
const BYTES_PER_CHAIN: usize = 32 * 1024;

/// The byte bound's share of one issuer: a CA certificate is one to two KiB of DER.
const BYTES_PER_ISSUER: usize = 8 * 1024;

/// What a decoded certificate holds besides its DER (names, serial, key, stamps), as
/// counted against the byte bound.
const DECODED_OVERHEAD: usize = 1024;

struct Kept {
    chains: Lru<PresentedChain>,
    issuers: Lru<Certificate>,
}

impl PresentedChains {
    /// At most `chains` chains and `issuers` issuing certificates kept (0 and 0: every
    /// input is decoded in full).
    pub fn new(chains: usize, issuers: usize) -> Self {
        Self {
            inner: Mutex::new(Kept {
                chains: Lru::new(chains, BYTES_PER_CHAIN),
                issuers: Lru::new(issuers, BYTES_PER_ISSUER),
            }),
            trusted: HashSet::default(),
        }
    }

    /// These chains, taking a presented certificate whose DER is one of `certificates`
    /// (the deployment's CAs decoded at load: its roots, and its intermediates when the
    /// store checked them at load) as a copy of it, at no cost to the bounds.
    #[must_use]
    pub fn with_trusted(
        mut self,
        certificates: impl IntoIterator<Item = Arc<Certificate>>,
    ) -> Self {
        self.trusted.extend(certificates.into_iter().map(ByDer));
        self
    }

    /// [`decode_chain`](super::decode_chain) of `input` as a presented chain, from the
    /// cache when these bytes were decoded before.
    ///
    /// # Errors
    /// Those of [`decode_chain`](super::decode_chain).
    pub fn decode(&self, input: &[u8]) -> Result<PresentedChain, CertError> {
        self.decode_by(input, || Cow::Borrowed(input))
    }

    /// [`decode`](Self::decode) of `input()`, kept and found by `key`: for a value that
    /// arrives in an encoding of its own (a JSON string literal with its escapes), so that
    /// a client's next request does not decode that either. `input()` must be a function
    /// of `key` alone, as an unescaped literal is: a key that did not determine its input
    /// would hand one client's chain to another, hence crate-internal.
    ///
    /// # Errors
    /// Those of [`decode_chain`](super::decode_chain) for `input()`.
    pub(crate) fn decode_by<'i>(
        &self,
        key: &[u8],
        input: impl FnOnce() -> Cow<'i, [u8]>,
    ) -> Result<PresentedChain, CertError> {
        if let Some(chain) = self.lock().chains.get(key) {
            return Ok(chain);
        }
        let mut blobs = chain_blobs(&input())?.into_iter();
        let leaf = Arc::new(Certificate::decode(
            blobs.next().ok_or(CertError::Empty)?,
            1,
        )?);
        let intermediates = blobs
            .enumerate()
            .map(|(i, der)| self.issuer(der, i + 2))
            .collect::<Result<_, _>>()?;
        let chain = PresentedChain {
            leaf,
            intermediates,
        };
        let bytes = chain
            .iter()
            .map(|certificate| certificate.der().len() + DECODED_OVERHEAD)
            .sum();
        self.lock().chains.insert(key, chain.clone(), bytes);
        Ok(chain)
    }

    /// The certificate at `index` of a chain: a copy of the trusted or kept certificate
    /// with its DER if there is one.
    fn issuer(&self, der: Vec<u8>, index: usize) -> Result<Certificate, CertError> {
        if let Some(trusted) = self.trusted.get(der.as_slice()) {
            return Ok(Certificate::clone(&trusted.0));
        }
        if let Some(certificate) = self.lock().issuers.get(&der) {
            return Ok(certificate);
        }
        let certificate = Certificate::decode(der, index)?;
        let bytes = certificate.der().len() + DECODED_OVERHEAD;
        self.lock()
            .issuers
            .insert(certificate.der(), certificate.clone(), bytes);
        Ok(certificate)
    }

    /// Chains kept now.
    pub fn len(&self) -> usize {
        self.lock().chains.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Issuing certificates kept now.
    pub fn issuers(&self) -> usize {
        self.lock().issuers.by_key.len()
    }

    /// A poisoned lock only means a panic elsewhere mid-update of plain data.
    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for PresentedChains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.lock();
        f.debug_struct("PresentedChains")
            .field("chains", &kept.chains.by_key.len())
            .field("chain_bytes", &kept.chains.bytes)
            .field("issuers", &kept.issuers.by_key.len())
            .field("issuer_bytes", &kept.issuers.bytes)
            .field("trusted", &self.trusted.len())
            .finish()
    }
}

/// Values by the exact bytes they were made from, at most `capacity` of them and
/// `capacity` times a share of bytes; when full, the least recently used go.
struct Lru<V> {
    capacity: usize,
    max_bytes: usize,
    by_key: HashMap<Box<[u8]>, Slot<V>, foldhash::fast::RandomState>,
    clock: u64,
    bytes: usize,
}

struct Slot<V> {
    value: V,
    /// [`Lru::clock`] when last used: the smallest goes first.
    used: u64,
    /// The key's and the value's.
    bytes: usize,
}

impl<V: Clone> Lru<V> {
    fn new(capacity: usize, bytes_per_entry: usize) -> Self {
        Self {
            capacity,
            max_bytes: capacity.saturating_mul(bytes_per_entry),
            by_key: HashMap::default(),
            clock: 0,
            bytes: 0,
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<V> {
        self.clock += 1;
        let slot = self.by_key.get_mut(key)?;
        slot.used = self.clock;
        Some(slot.value.clone())
    }

    /// Keeps `value` (`value_bytes` large) unless it alone exceeds the byte bound.
    fn insert(&mut self, key: &[u8], value: V, value_bytes: usize) {
        let bytes = key.len() + value_bytes;
        if self.capacity == 0 || bytes > self.max_bytes {
            return;
        }
        while self.by_key.len() >= self.capacity || self.bytes + bytes > self.max_bytes {
            // Scans of the stamps: small next to the decoding a miss already did.
            let Some(oldest) = self.by_key.values().map(|slot| slot.used).min() else {
                break;
            };
            let mut freed = 0;
            self.by_key.retain(|_, slot| {
                let keep = slot.used != oldest;
                if !keep {
                    freed += slot.bytes;
                }
                keep
            });
            self.bytes -= freed;
        }
        let used = self.clock;
        let replaced = self.by_key.insert(key.into(), Slot { value, used, bytes });
        // Another thread decoded the same input meanwhile: its entry is replaced.
        self.bytes = self.bytes + bytes - replaced.map_or(0, |slot| slot.bytes);
    }
}
