//! Idle kept-alive connections, shared by the requests of one `Backend`.
//!
//! A short list searched from its newest end: a backend entity talks to few origins, so
//! comparing authorities costs less than hashing one, and the most recently used
//! connection is the one least likely to have been closed by the backend. While it holds
//! connections a task sweeps it now and then, so that neither an expired connection nor
//! one the backend has closed stays open for want of a next request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::uri::Authority;
use tokio::net::TcpStream;

/// Connections kept idle at most, over all origins of one backend; when full, the one
/// idle longest is closed for the newest.
const MAX_IDLE: usize = 256;

/// How long a connection may stay idle before it is closed instead of reused (hyper's
/// default, which certgate used before).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How often the sweeper looks at the idle connections: a backend that closes its side
/// of an idle connection (Node.js after 5 s, nginx after 75 s) leaves it half-closed
/// here (`CLOSE_WAIT`) until then.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Idle connections to a backend's origins, the longest idle first.
#[derive(Debug)]
pub(super) struct Pool {
    idle: Mutex<Vec<Idle>>,
    /// A sweeper task is running: set by the first `put` into an empty pool, cleared by
    /// the sweeper (under the list's lock) when it leaves the pool empty.
    sweeping: AtomicBool,
    timeout: Duration,
    sweep_every: Duration,
}

impl Default for Pool {
    fn default() -> Self {
        Self::with_timing(IDLE_TIMEOUT, SWEEP_EVERY)
    }
}

#[derive(Debug)]
struct Idle {
    origin: Authority,
    stream: TcpStream,
    since: Instant,
}

impl Pool {
    fn with_timing(timeout: Duration, sweep_every: Duration) -> Self {
        Self {
            idle: Mutex::default(),
            sweeping: AtomicBool::new(false),
            timeout,
            sweep_every,
        }
    }

    /// An idle connection to `origin` that is still open, if there is one.
    pub(super) fn take(&self, origin: &Authority) -> Option<TcpStream> {
        loop {
            let idle = {
                let mut idle = self.idle.lock().ok()?;
                expire(&mut idle, Instant::now(), self.timeout);
                let at = idle.iter().rposition(|c| c.origin == *origin)?;
                idle.remove(at)
            };
            if is_quiet(&idle.stream) {
                return Some(idle.stream);
            }
        }
    }

    /// Keeps `stream` for the next request to `origin`.
    pub(super) fn put(self: &Arc<Self>, origin: Authority, stream: TcpStream) {
        {
            let Ok(mut idle) = self.idle.lock() else {
                return;
            };
            let now = Instant::now();
            expire(&mut idle, now, self.timeout);
            if idle.len() >= MAX_IDLE {
                idle.remove(0);
            }
            idle.push(Idle {
                origin,
                stream,
                since: now,
            });
        }
        // A load first: under load the flag is set and stays so, and a load costs less
        // than a swap.
        if !self.sweeping.load(Ordering::Acquire) && !self.sweeping.swap(true, Ordering::AcqRel) {
            self.start_sweeper();
        }
    }

    /// A task that sweeps the pool every [`SWEEP_EVERY`] until it is empty or dropped.
    /// Outside a tokio runtime (a body dropped after its runtime) there is none, and
    /// connections are expired at the next `take` or `put` alone.
    fn start_sweeper(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.sweeping.store(false, Ordering::Release);
            return;
        };
        let pool = Arc::downgrade(self);
        let every = self.sweep_every;
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match pool.upgrade() {
                    Some(pool) if pool.sweep() => {}
                    _ => return,
                }
            }
        });
    }

    /// Closes the connections that expired and those the backend closed or wrote to;
    /// false, with `sweeping` cleared, when none is left.
    fn sweep(&self) -> bool {
        let Ok(mut idle) = self.idle.lock() else {
            return false;
        };
        expire(&mut idle, Instant::now(), self.timeout);
        idle.retain(|c| is_quiet(&c.stream));
        if idle.is_empty() {
            self.sweeping.store(false, Ordering::Release);
            return false;
        }
        true
    }
}

/// Closes the connections idle for longer than `timeout` (the list's front).
fn expire(idle: &mut Vec<Idle>, now: Instant, timeout: Duration) {
    if let Some(cutoff) = now.checked_sub(timeout) {
        let expired = idle.partition_point(|c| c.since <= cutoff);
        idle.drain(..expired);
    }
}

/// True when an idle connection has neither data nor end-of-stream waiting: anything
/// the backend sent while it was idle (its close, mostly) makes it unusable. Costs a
/// `recv` only when the reactor has seen the socket become readable; bytes that arrive
/// after this check (a backend that sends more than its response said, late) are
/// misread as the next response's, as in any HTTP/1.1 client that keeps connections
/// (hyper and nginx check the same way): a backend must not send them.
fn is_quiet(stream: &TcpStream) -> bool {
    let mut probe = [0; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connection to a loopback listener: the pool's end and the backend's.
    async fn connection() -> (Authority, TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let ours = TcpStream::connect(address).await.unwrap();
        let (theirs, _) = listener.accept().await.unwrap();
        (address.to_string().parse().unwrap(), ours, theirs)
    }

    /// A pool that expires connections after `timeout`, swept every 20 ms.
    fn swept_often(timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool::with_timing(timeout, Duration::from_millis(20)))
    }

    fn idle_count(pool: &Pool) -> usize {
        pool.idle.lock().unwrap().len()
    }

    /// Waits until `done` holds, ten seconds at most; whether it did.
    async fn eventually(done: impl Fn() -> bool) -> bool {
        for _ in 0..1000 {
            if done() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn an_expired_connection_is_closed_without_a_next_request() {
        let pool = swept_often(Duration::from_millis(50));
        let (origin, ours, mut theirs) = connection().await;
        pool.put(origin, ours);
        let mut byte = [0; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), theirs.read(&mut byte)).await;
        assert_eq!(
            read.expect("closed by the sweeper").unwrap(),
            0,
            "end of stream"
        );
        assert_eq!(idle_count(&pool), 0);
        let ended = eventually(|| !pool.sweeping.load(Ordering::Acquire)).await;
        assert!(ended, "the sweeper has ended");
    }

    #[tokio::test]
    async fn a_connection_the_backend_closed_goes_before_it_expires() {
        let pool = swept_often(Duration::from_secs(3600));
        let (origin, ours, theirs) = connection().await;
        pool.put(origin, ours);
        drop(theirs);
        let emptied = eventually(|| idle_count(&pool) == 0).await;
        assert!(emptied, "the half-closed connection is still kept");
    }

    #[tokio::test]
    async fn a_quiet_connection_survives_sweeps_and_a_new_sweeper_follows_an_empty_pool() {
        let pool = swept_often(Duration::from_secs(3600));
        let (origin, ours, theirs) = connection().await;
        pool.put(origin.clone(), ours);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let kept = pool.take(&origin).expect("a quiet connection is kept");
        assert!(pool.sweeping.load(Ordering::Acquire));
        // The pool is empty now: the sweeper ends at its next round.
        let ended = eventually(|| !pool.sweeping.load(Ordering::Acquire)).await;
        assert!(ended, "the sweeper has ended");
        pool.put(origin, kept);
        assert!(
            pool.sweeping.load(Ordering::Acquire),
            "a new sweeper started"
        );
        drop(theirs);
        let emptied = eventually(|| idle_count(&pool) == 0).await;
        assert!(emptied, "the new sweeper closed it");
    }
}
