//! `limit-concurrency`: at most `max-count` requests of one key run the nested policies
//! at a time; one more fails at once with 429, as APIM. The count is per process (per
//! Lambda execution environment, per `certgate serve`), as APIM's is per gateway
//! instance, and belongs to the deployment: a refresh starts a new count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::StatusCode;

use super::{Exchange, Failure, Flow, Forwarder, param, run_nodes};
use crate::policy::document::Step;
use crate::policy::elements::LimitConcurrency;

const POLICY: &str = "limit-concurrency";

/// Most keys counted at once (keys with no request inside are forgotten): a key per
/// client cannot grow the table without bound.
pub(crate) const MAX_KEYS: usize = 10_000;

/// Longest key, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// The requests inside each key's `limit-concurrency` now, shared by the deployment's
/// requests.
#[derive(Debug, Default)]
pub(crate) struct ConcurrencyLimits {
    inside: Mutex<HashMap<String, u32>>,
}

/// A place inside a key's limit, given back when dropped (also when the request is
/// abandoned half way).
struct Place {
    limits: Arc<ConcurrencyLimits>,
    key: String,
}

impl ConcurrencyLimits {
    /// A place under `key` when fewer than `max` requests hold one.
    fn enter(self: &Arc<Self>, key: &str, max: u32) -> Result<Place, &'static str> {
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        let full = inside.len() >= MAX_KEYS;
        match inside.get_mut(key) {
            Some(count) if *count >= max => return Err("the key's limit is reached"),
            Some(count) => *count += 1,
            None if full => return Err("too many keys are in use"),
            None => {
                inside.insert(key.to_owned(), 1);
            }
        }
        Ok(Place {
            limits: Arc::clone(self),
            key: key.to_owned(),
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut inside = self
            .limits
            .inside
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = inside.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                inside.remove(&self.key);
            }
        }
    }
}

pub(super) async fn limit_concurrency(
    l: &LimitConcurrency,
    step: &Step,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
    path: &str,
) -> Result<Flow, Failure> {
    let section = step.section;
    let key = param::eval(&l.key, &x.ctx, POLICY)?;
    if key.len() > MAX_KEY_BYTES {
        return Err(Failure::expression(
            POLICY,
            format!("the key is over {MAX_KEY_BYTES} bytes"),
        ));
    }
    let place = match x.concurrency.enter(&key, l.max_count) {
        Ok(place) => place,
        Err(why) => {
            x.note(section, path, || format!("refused: {why}"));
            // APIM does not document LastError.Reason for this policy.
            return Err(Failure::new(
                POLICY,
                "ConcurrencyLimitExceeded",
                format!("more than {} requests at once: {why}", l.max_count),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
    };
    x.note(section, path, || "entered".to_owned());
    let flow = run_nodes(step, &l.steps, x, forwarder).await;
    drop(place);
    flow
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_key_and_given_back() {
        let limits = Arc::new(ConcurrencyLimits::default());
        let a1 = limits.enter("a", 2).unwrap();
        let _a2 = limits.enter("a", 2).unwrap();
        assert!(limits.enter("a", 2).is_err());
        let _b = limits.enter("b", 2).unwrap();
        drop(a1);
        let _a3 = limits.enter("a", 2).unwrap();
        drop((_a2, _a3, _b));
        assert!(limits.inside.lock().unwrap().is_empty());
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let limits = Arc::new(ConcurrencyLimits::default());
        let places: Vec<Place> = (0..MAX_KEYS)
            .map(|i| limits.enter(&i.to_string(), 1).unwrap())
            .collect();
        assert!(limits.enter("one more", 1).is_err());
        drop(places);
        assert!(limits.enter("one more", 1).is_ok());
    }
}
