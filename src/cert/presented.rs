//! The chain a client presented: the leaf and its untrusted intermediates, as the
//! gateway hands it to `context` and to the backend (`forward-certificate`).

use std::sync::Arc;

use super::Certificate;

/// A presented chain, shared (not copied) with each request's `context`.
#[derive(Debug, Clone)]
pub struct PresentedChain {
    pub leaf: Arc<Certificate>,
    pub intermediates: Arc<[Certificate]>,
}

impl PresentedChain {
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
