//! A spawned task tied to its owner's life.

use tokio::task::JoinHandle;

/// A task aborted when this handle is dropped: background work whose owner is gone (the
/// deployment refresh of a function instance shutting down) stops at its next await
/// instead of running on detached.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
