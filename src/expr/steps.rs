//! A request's step budget, shared by the context that carries it and the evaluator that
//! spends it.

use std::sync::atomic::{AtomicU64, Ordering};

/// The steps all evaluations against one context may take together, and have taken: a
/// request's budget. Each expression is bounded by `Limits::max_steps`, but a policy
/// runs many; the policy executor limits their sum (and yields to other tasks as it
/// grows). `Context::new` leaves it unlimited: the CLI, tests and benches evaluate one
/// context over and over.
#[derive(Debug)]
pub(crate) struct RequestSteps {
    limit: u64,
    /// Atomic because evaluation reads the context shared; one request's evaluations
    /// run one at a time, so relaxed ordering is enough.
    spent: AtomicU64,
}

impl Default for RequestSteps {
    fn default() -> Self {
        Self {
            limit: u64::MAX,
            spent: AtomicU64::new(0),
        }
    }
}

impl Clone for RequestSteps {
    fn clone(&self) -> Self {
        Self {
            limit: self.limit,
            spent: AtomicU64::new(self.spent()),
        }
    }
}

impl RequestSteps {
    /// Lowers the limit to `limit` (a no-op when it is already as low).
    pub(crate) fn limit_to(&mut self, limit: u64) {
        self.limit = self.limit.min(limit);
    }

    /// The limit over all of the request's evaluations.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// The steps taken so far.
    pub(crate) fn spent(&self) -> u64 {
        self.spent.load(Ordering::Relaxed)
    }

    pub(super) fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.spent())
    }

    pub(crate) fn add(&self, steps: u64) {
        let spent = self.spent().saturating_add(steps);
        self.spent.store(spent, Ordering::Relaxed);
    }
}
