//! `wait`: its children side by side.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use super::{Exchange, Failure, Flow, Forwarder, param, run_node};
use crate::policy::document::Step;
use crate::policy::elements::{Wait, WaitFor};

type Branch<'a> = Pin<Box<dyn Future<Output = Result<Flow, Failure>> + Send + 'a>>;

/// `wait`: each child runs on its own copy of `context`, all at once; with `for="all"`
/// the wait ends when all have, with `any` when the first has (the others are dropped,
/// their requests cancelled). The variables the finished children set come back, in
/// document order; a child that fails fails the wait.
pub(super) async fn wait(
    w: &Wait,
    step: &Step,
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
) -> Result<Flow, Failure> {
    let any = param::eval(&w.for_, &x.ctx, "wait")? == WaitFor::Any;
    let start = x.ctx.steps.spent();
    let mut copies: Vec<Exchange> = w.steps.iter().map(|_| x.branch()).collect();
    let outcome = {
        let branches = copies
            .iter_mut()
            .zip(&w.steps)
            .map(|(copy, node)| {
                let run: Branch<'_> = Box::pin(async move {
                    run_node(step, node, copy, forwarder)
                        .await
                        .map_err(|f| f.located(step, node))
                });
                Some(run)
            })
            .collect();
        join(branches, any).await
    };
    for copy in &copies {
        x.ctx
            .steps
            .add(copy.ctx.steps.spent().saturating_sub(start));
    }
    let done = outcome?;
    for (i, copy) in copies.into_iter().enumerate() {
        if let (Some(trace), Some(theirs)) = (&mut x.trace, copy.trace) {
            trace.extend(theirs);
        }
        if done.contains(&i) {
            for name in copy.branch_writes.unwrap_or_default() {
                if let Some(value) = copy.ctx.variables.get(&name) {
                    x.set_variable(name, value.clone());
                }
            }
        }
    }
    Ok(Flow::Continue)
}

/// Polls `branches` together until all have ended, or the first has with `any`, or one
/// failed; the indexes of those that ended well.
async fn join(mut branches: Vec<Option<Branch<'_>>>, any: bool) -> Result<Vec<usize>, Failure> {
    let mut done = Vec::new();
    std::future::poll_fn(|cx| {
        for (i, slot) in branches.iter_mut().enumerate() {
            let Some(branch) = slot else { continue };
            if let Poll::Ready(result) = branch.as_mut().poll(cx) {
                *slot = None;
                if let Err(failure) = result {
                    return Poll::Ready(Err(failure));
                }
                done.push(i);
                if any {
                    return Poll::Ready(Ok(()));
                }
            }
        }
        if branches.iter().all(Option::is_none) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    Ok(done)
}
