//! The deployment's [`Verifier`]: its trust store behind a verification cache. It
//! answers `Verify()` in expressions and the reasoned verdicts of
//! `validate-client-certificate`.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::trust::{self, Revocation, TrustStore, Verdict, Verifier, VerifyCache};

/// Verdicts cached per deployment: a chain is verified once, then answered from the
/// cache until the verdict could change (see [`VerifyCache`]).
const CACHE_CAPACITY: usize = 10_000;

/// `Verify()` by a trust store through a verification cache.
#[derive(Debug, Clone)]
pub struct TrustVerifier {
    pub store: Arc<TrustStore>,
    pub cache: Arc<VerifyCache>,
}

impl TrustVerifier {
    /// The store with a fresh cache of the gateway's size.
    pub fn new(store: Arc<TrustStore>) -> Self {
        Self {
            store,
            cache: Arc::new(VerifyCache::new(CACHE_CAPACITY)),
        }
    }
}

impl Verifier for TrustVerifier {
    fn verdict(
        &self,
        leaf: &Certificate,
        chain: &[Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
    ) -> Verdict {
        self.cache.verify(&self.store, leaf, chain, now, revocation)
    }

    fn issuers(&self, leaf: &Certificate, chain: &[Certificate]) -> Vec<Arc<Certificate>> {
        let presented = chain.iter().map(|c| Arc::new(c.clone()));
        // The intermediates of the leaf's issuer name (as path building finds them):
        // checking all of them would check at once what a cold start leaves to first
        // use. All of them for a leaf whose names webpki cannot read.
        let intermediates = self
            .store
            .intermediates_named_as_issuer_of(leaf)
            .unwrap_or_else(|| self.store.intermediates());
        let known = self.store.roots().iter().cloned().chain(intermediates);
        presented
            .chain(known)
            .filter(|c| trust::issued_by(leaf, c))
            .collect()
    }
}
