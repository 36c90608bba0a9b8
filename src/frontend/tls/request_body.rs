//! The client's request body as the core gets it: a stream, within the listener's
//! limits. Nothing is read ahead; the core pulls the body as the backend takes it.
//!
//! A body that crosses [`Limits::max_body_bytes`] or stops arriving for
//! [`Limits::body_read_timeout`] ends with an error, and the [`Breach`] it shares
//! with the request's responder says which limit cut it off, so the client gets `413`
//! or `408` rather than whatever the handler made of a broken body (unless the
//! response had already started).
//!
//! Every body byte read counts against one budget shared by all connections
//! ([`Limits::max_buffered_body_bytes`]) until its request ends: a policy may hold the
//! body whole, and the listener cannot tell which bodies it does. A body that does not
//! fit is cut off too, and the client gets `503` with `Retry-After`.
//!
//! A body the handler drops unread (a policy answered without the backend) is read and
//! discarded in the background, within the same limits: closing a connection with
//! unread data resets it, and the client, still uploading, would never see the answer.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::Limits;
use crate::body::BoxError;

/// The limit that cut a request body off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum BodyLimit {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body stopped arriving for {0:?}")]
    Stalled(Duration),
    /// The bodies of all requests in flight together reached [`Limits::max_buffered_body_bytes`].
    #[error("the gateway holds its limit of {0} bytes of request bodies; try again shortly")]
    Crowded(usize),
}

/// Shared by a request's body and its responder: the limit that cut the body off (set
/// once), and the bytes of the body budget the request holds. Those are given back
/// when both have let go, once the response is sent or abandoned: a policy may keep the
/// body whole until then.
#[derive(Debug)]
pub(super) struct Breach {
    limit: OnceLock<BodyLimit>,
    held: BodyShare,
}

impl Breach {
    pub(super) fn new(held: BodyShare) -> Self {
        Self {
            limit: OnceLock::new(),
            held,
        }
    }

    pub(super) fn get(&self) -> Option<BodyLimit> {
        self.limit.get().copied()
    }
}

/// Bytes of request body held across all requests, at most `max`.
#[derive(Debug)]
pub(super) struct BodyBudget {
    used: AtomicUsize,
    max: usize,
}

impl BodyBudget {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max,
        })
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// A share of `bytes` (a declared length, or 0), or `None` when they do not fit.
    pub(super) fn take(self: &Arc<Self>, bytes: usize) -> Option<BodyShare> {
        self.add(bytes).then(|| BodyShare {
            budget: self.clone(),
            held: AtomicUsize::new(bytes),
        })
    }

    fn add(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.max)
            })
            .is_ok()
    }
}

/// One request's part of the [`BodyBudget`], given back when dropped.
#[derive(Debug)]
pub(super) struct BodyShare {
    budget: Arc<BodyBudget>,
    held: AtomicUsize,
}

impl BodyShare {
    /// Grows the share to `total` bytes (a body's bytes read so far); false when the
    /// budget cannot take them. Called by the body alone, so never concurrently.
    fn cover(&self, total: usize) -> bool {
        let held = self.held.load(Ordering::SeqCst);
        if total <= held {
            return true;
        }
        let fits = self.budget.add(total - held);
        if fits {
            self.held.store(total, Ordering::SeqCst);
        }
        fits
    }
}

impl Drop for BodyShare {
    fn drop(&mut self) {
        self.budget
            .used
            .fetch_sub(*self.held.get_mut(), Ordering::SeqCst);
    }
}

/// `Incoming`, counted and timed.
pub(super) struct Guarded {
    /// `None` only once dropped.
    inner: Option<Incoming>,
    read: usize,
    max: usize,
    stall: Duration,
    /// Armed while the consumer waits on the client: time the backend spends not
    /// reading is not the client's stall.
    timer: Pin<Box<Sleep>>,
    waiting: bool,
    breach: Arc<Breach>,
}

impl Guarded {
    pub(super) fn new(inner: Incoming, limits: &Limits, breach: Arc<Breach>) -> Self {
        Self {
            inner: Some(inner),
            read: 0,
            max: limits.max_body_bytes,
            stall: limits.body_read_timeout,
            timer: Box::pin(tokio::time::sleep(limits.body_read_timeout)),
            waiting: false,
            breach,
        }
    }

    fn cut(&self, limit: BodyLimit) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let _ = self.breach.limit.set(limit);
        Poll::Ready(Some(Err(Box::new(limit))))
    }
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(limit) = this.breach.get() {
            return Poll::Ready(Some(Err(Box::new(limit))));
        }
        if !this.waiting {
            this.timer.as_mut().reset(Instant::now() + this.stall);
            this.waiting = true;
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.waiting = false;
                this.read = this
                    .read
                    .saturating_add(frame.data_ref().map_or(0, Bytes::len));
                if this.read > this.max {
                    return this.cut(BodyLimit::TooLarge(this.max));
                }
                if !this.breach.held.cover(this.read) {
                    return this.cut(BodyLimit::Crowded(this.breach.held.budget.max));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => {
                this.waiting = false;
                Poll::Ready(other.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending if this.timer.as_mut().poll(cx).is_ready() => {
                this.cut(BodyLimit::Stalled(this.stall))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if inner.is_end_stream() || self.breach.get().is_some() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(discard(
                inner,
                self.max.saturating_sub(self.read),
                self.stall,
            ));
        }
    }
}

/// Reads the rest of a body nobody wants, up to `left` bytes and while it keeps coming.
async fn discard(mut body: Incoming, mut left: usize, stall: Duration) {
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(stall, body.frame()).await {
        let len = frame.data_ref().map_or(0, Bytes::len);
        if len > left {
            return;
        }
        left -= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_fit_the_budget_grow_within_it_and_give_back_when_dropped() {
        let budget = BodyBudget::new(100);
        let first = budget.take(60).unwrap();
        assert!(budget.take(41).is_none());
        let second = budget.take(0).unwrap();
        assert!(second.cover(40));
        assert!(!second.cover(41), "the budget is full");
        assert!(first.cover(60), "within what it holds already");
        drop(first);
        assert!(second.cover(100));
        drop(second);
        assert!(budget.take(100).is_some());
        assert!(budget.take(usize::MAX).is_none());
    }
}
