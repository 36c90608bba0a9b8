//! `<limit-concurrency key="..." max-count="...">` around nested policies.

use super::{Attrs, Ctx, Node, PolicyError, XmlElement, non_empty, parse_steps};
use crate::policy::value::Param;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConcurrency {
    /// The scope: policies with the same key share one count.
    pub key: Param<String>,
    /// At least 1; no expressions.
    pub max_count: u32,
    /// Run while the request holds one of the `max_count` places.
    pub steps: Vec<Node>,
}

pub(super) fn limit_concurrency(
    el: &XmlElement,
    a: &Attrs<'_>,
    ctx: Ctx,
    path: &str,
) -> Result<LimitConcurrency, PolicyError> {
    Ok(LimitConcurrency {
        key: a.required(a.param("key", non_empty)?, "key")?,
        max_count: a.required(
            a.literal("max-count", |s| match s.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "`{}` is not a whole number from 1 to {}",
                    s.trim(),
                    u32::MAX
                )),
            })?,
            "max-count",
        )?,
        steps: parse_steps(el, ctx, path)?,
    })
}
