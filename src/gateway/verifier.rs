//! Trust decisions for policies: the deployment's trust store behind a verification
//! cache ([`TrustVerifier`]) answers `Verify()` in expressions and the reasoned verdicts
//! of `validate-client-certificate`.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::expr::TrustVerifier;
use crate::policy::exec::TrustCheck;
use crate::trust::{self, Revocation, TrustStore, Verdict, VerifyCache};

/// Verdicts cached per deployment: a chain is verified once, then answered from the
/// cache until the verdict could change (see [`VerifyCache`]).
const CACHE_CAPACITY: usize = 10_000;

pub(crate) fn verifier(trust: Arc<TrustStore>) -> TrustVerifier {
    TrustVerifier {
        store: trust,
        cache: Arc::new(VerifyCache::new(CACHE_CAPACITY)),
    }
}

impl TrustCheck for TrustVerifier {
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
        let known = self
            .store
            .roots()
            .iter()
            .chain(self.store.intermediates())
            .cloned();
        presented
            .chain(known)
            .filter(|c| trust::issued_by(leaf, c))
            .collect()
    }
}
