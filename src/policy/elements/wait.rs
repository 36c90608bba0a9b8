//! `<wait>`: attributes and children read and checked at load.

use super::{Attrs, Ctx, Node, Policy, PolicyError, XmlElement, parse_steps, structure};
use crate::policy::value::Param;

/// `for` of `<wait>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    All,
    Any,
}

impl WaitFor {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" => Ok(Self::All),
            "any" => Ok(Self::Any),
            other => Err(format!("`{other}` is not allowed; use all or any")),
        }
    }
}

/// `<wait>`: its children run side by side; it ends when all (or the first) have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// Default `all` (expr).
    pub for_: Param<WaitFor>,
    /// Only `send-request`, `cache-lookup-value` and `choose`.
    pub steps: Vec<Node>,
}

pub(super) const ATTRIBUTES: &[&str] = &["id", "for"];

/// What a `choose` under `wait` may hold: each child runs on its own copy of `context`,
/// and only the variables it sets come back, so a policy that changes anything else
/// (a header, the response) would be lost and is refused.
const IN_WAIT_BRANCH: &[&str] = &[
    "choose",
    "set-variable",
    "send-request",
    "send-one-way-request",
    "cache-lookup-value",
    "cache-store-value",
    "cache-remove-value",
    "retry",
];

pub(super) fn wait(
    el: &XmlElement,
    a: &Attrs<'_>,
    ctx: Ctx,
    path: &str,
) -> Result<Wait, PolicyError> {
    let for_ = a
        .param("for", WaitFor::parse)?
        .unwrap_or_else(|| Param::Literal(WaitFor::All, a.empty()));
    let steps = parse_steps(el, ctx, path)?;
    for step in &steps {
        if !matches!(
            step.meta.name,
            "send-request" | "cache-lookup-value" | "choose"
        ) {
            return Err(PolicyError::Structure {
                at: step.meta.at.clone(),
                message: format!(
                    "<{}> is not allowed directly inside <wait>: only <send-request>, <cache-lookup-value> and <choose>",
                    step.meta.name
                ),
            });
        }
        only_variables(step)?;
    }
    if steps.is_empty() {
        return Err(structure(el, "<wait> needs at least one child policy"));
    }
    Ok(Wait { for_, steps })
}

fn only_variables(node: &Node) -> Result<(), PolicyError> {
    if !IN_WAIT_BRANCH.contains(&node.meta.name) {
        return Err(PolicyError::Structure {
            at: node.meta.at.clone(),
            message: format!(
                "certgate runs each child of <wait> on its own copy of context and keeps only the variables it sets; <{}> there would change something else, so it is not implemented inside <wait> (move it after the <wait>)",
                node.meta.name
            ),
        });
    }
    match &node.policy {
        Policy::Choose(choose) => {
            for when in &choose.whens {
                when.steps.iter().try_for_each(only_variables)?;
            }
            if let Some(otherwise) = &choose.otherwise {
                otherwise.steps.iter().try_for_each(only_variables)?;
            }
        }
        Policy::Retry(retry) => retry.steps.iter().try_for_each(only_variables)?,
        _ => {}
    }
    Ok(())
}
