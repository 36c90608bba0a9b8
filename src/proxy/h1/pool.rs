//! Idle kept-alive connections, shared by the requests of one `Backend`.
//!
//! A short list searched from its newest end: a backend entity talks to few origins, so
//! comparing authorities costs less than hashing one, and the most recently used
//! connection is the one least likely to have been closed by the backend.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::uri::Authority;
use tokio::net::TcpStream;

/// Connections kept idle at most, over all origins of one backend; when full, the one
/// idle longest is closed for the newest.
const MAX_IDLE: usize = 256;

/// How long a connection may stay idle before it is closed instead of reused (hyper's
/// default, which certgate used before). Expired connections are closed at the next
/// request to the backend: there is no task to sweep them.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections to a backend's origins, the longest idle first.
#[derive(Debug, Default)]
pub(super) struct Pool {
    idle: Mutex<Vec<Idle>>,
}

#[derive(Debug)]
struct Idle {
    origin: Authority,
    stream: TcpStream,
    since: Instant,
}

impl Pool {
    /// An idle connection to `origin` that is still open, if there is one.
    pub(super) fn take(&self, origin: &Authority) -> Option<TcpStream> {
        loop {
            let idle = {
                let mut idle = self.idle.lock().ok()?;
                expire(&mut idle, Instant::now());
                let at = idle.iter().rposition(|c| c.origin == *origin)?;
                idle.remove(at)
            };
            if is_quiet(&idle.stream) {
                return Some(idle.stream);
            }
        }
    }

    /// Keeps `stream` for the next request to `origin`.
    pub(super) fn put(&self, origin: Authority, stream: TcpStream) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let now = Instant::now();
        expire(&mut idle, now);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            origin,
            stream,
            since: now,
        });
    }
}

/// Closes the connections idle for longer than [`IDLE_TIMEOUT`] (the list's front).
fn expire(idle: &mut Vec<Idle>, now: Instant) {
    if let Some(cutoff) = now.checked_sub(IDLE_TIMEOUT) {
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
