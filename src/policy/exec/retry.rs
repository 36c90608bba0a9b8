//! `retry`: its children again while a condition holds.

use std::time::Duration;

use super::{Exchange, Failure, Flow, Forwarder, param, run_nodes};
use crate::policy::document::Step;
use crate::policy::elements::{Node, Retry};

/// `retry`: runs the children, then, while `condition` (evaluated after each try, with
/// that try's `context.Response`) holds and retries are left, waits and runs them again.
/// A child that fails ends the retry with its failure (on-error runs).
pub(super) async fn retry(
    r: &Retry,
    step: &Step,
    node: &Node,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
) -> Result<Flow, Failure> {
    const POLICY: &str = "retry";
    let count = param::eval(&r.count, &x.ctx, POLICY)?;
    if !(1..=Retry::MAX_COUNT).contains(&count) {
        return Err(Failure::expression(
            POLICY,
            format!("count is {count}; it must be 1 to {}", Retry::MAX_COUNT),
        ));
    }
    let interval = param::eval(&r.interval, &x.ctx, POLICY)?;
    let delta = r
        .delta
        .as_ref()
        .map(|d| param::eval(d, &x.ctx, POLICY))
        .transpose()?;
    let max_interval = r
        .max_interval
        .as_ref()
        .map(|m| param::eval(m, &x.ctx, POLICY))
        .transpose()?;
    let first_fast = param::eval(&r.first_fast_retry, &x.ctx, POLICY)?;
    let mut retries = 0;
    loop {
        let flow = run_nodes(step, &r.steps, x, forwarder).await?;
        if flow != Flow::Continue {
            return Ok(flow);
        }
        let again = param::eval(&r.condition, &x.ctx, POLICY)?;
        x.note(step.section, &node.meta.path, || {
            format!("try {} done; condition is {again}", retries + 1)
        });
        if !again || retries == count {
            return Ok(Flow::Continue);
        }
        retries += 1;
        if !(first_fast && retries == 1) {
            tokio::time::sleep(delay(interval, delta, max_interval, retries)).await;
        }
    }
}

/// The wait before retry number `retry` (from 1), as APIM documents it: `interval`
/// alone is fixed; with `delta`, linear (`interval + (retry - 1) * delta`); with `delta`
/// and `max-interval`, exponential (`interval + 2^(retry - 1) * random(0.8 * delta,
/// 1.2 * delta)`, at most `max-interval`).
fn delay(interval: u32, delta: Option<u32>, max_interval: Option<u32>, retry: u32) -> Duration {
    let interval = f64::from(interval);
    let seconds = match (delta, max_interval) {
        (None, _) => interval,
        (Some(delta), None) => interval + f64::from(retry - 1) * f64::from(delta),
        (Some(delta), Some(max)) => {
            let spread = 0.8 + 0.4 * unit_random();
            let grown =
                interval + 2f64.powi((retry - 1).min(62) as i32) * f64::from(delta) * spread;
            grown.min(f64::from(max))
        }
    };
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

/// A number in [0, 1) from the system's generator (0 if it fails: no jitter).
fn unit_random() -> f64 {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_documented_algorithms() {
        assert_eq!(delay(2, None, None, 5), Duration::from_secs(2));
        assert_eq!(delay(2, Some(3), None, 1), Duration::from_secs(2));
        assert_eq!(delay(2, Some(3), None, 3), Duration::from_secs(8));
        for retry in 1..=4 {
            let d = delay(1, Some(10), Some(100), retry).as_secs_f64();
            let base = 2f64.powi(retry as i32 - 1) * 10.0;
            assert!(d >= (1.0 + 0.8 * base).min(100.0) && d <= (1.0 + 1.2 * base).min(100.0));
        }
        assert_eq!(delay(1, Some(10), Some(100), 50), Duration::from_secs(100));
    }
}
