//! `<retry>`: attributes and children read and checked at load.

use super::{
    Attrs, Ctx, Node, PolicyError, XmlElement, parse_bool, parse_steps, parse_u32, structure,
};
use crate::policy::value::Param;

/// `<retry>`: runs its children once, then again while `condition` holds, up to `count`
/// more times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub condition: Param<bool>,
    /// Retries after the first try: 1 to [`Retry::MAX_COUNT`].
    pub count: Param<u32>,
    /// Seconds between tries.
    pub interval: Param<u32>,
    /// Seconds: with `delta`, the exponential algorithm's ceiling.
    pub max_interval: Option<Param<u32>>,
    /// Seconds added per retry (linear), or the exponential algorithm's step.
    pub delta: Option<Param<u32>>,
    /// Default false: true makes the first retry immediate.
    pub first_fast_retry: Param<bool>,
    pub steps: Vec<Node>,
}

impl Retry {
    /// APIM's largest `count`.
    pub const MAX_COUNT: u32 = 50;
}

pub(super) const ATTRIBUTES: &[&str] = &[
    "id",
    "condition",
    "count",
    "interval",
    "max-interval",
    "delta",
    "first-fast-retry",
];

fn parse_count(s: &str) -> Result<u32, String> {
    match parse_u32(s)? {
        n @ 1..=Retry::MAX_COUNT => Ok(n),
        n => Err(format!(
            "`{n}` is not a retry count; use 1 to {}",
            Retry::MAX_COUNT
        )),
    }
}

pub(super) fn retry(
    el: &XmlElement,
    a: &Attrs<'_>,
    ctx: Ctx,
    path: &str,
) -> Result<Retry, PolicyError> {
    let max_interval = a.param("max-interval", parse_u32)?;
    let delta = a.param("delta", parse_u32)?;
    if let (Some(max), None) = (&max_interval, &delta) {
        return Err(a.invalid(
            "max-interval",
            max.source(),
            "max-interval is the ceiling of the exponential algorithm, which needs delta too",
        ));
    }
    let steps = parse_steps(el, ctx, path)?;
    if steps.is_empty() {
        return Err(structure(el, "<retry> needs at least one child policy"));
    }
    Ok(Retry {
        condition: a.condition()?,
        count: a.required(a.param("count", parse_count)?, "count")?,
        interval: a.required(a.param("interval", parse_u32)?, "interval")?,
        max_interval,
        delta,
        first_fast_retry: a
            .param("first-fast-retry", parse_bool)?
            .unwrap_or_else(|| Param::Literal(false, a.empty())),
        steps,
    })
}
