//! Idle kept-alive connections, shared by the requests of one `Backend`.
//!
//! A short list searched from its newest end: a backend entity talks to few origins, so
//! comparing authorities costs less than hashing one, and the most recently used
//! connection is the one least likely to have been closed by the backend.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::uri::Authority;
use tokio::net::TcpStream;

/// Connections kept idle at most, over all origins of one backend.
const MAX_IDLE: usize = 256;

/// How long a connection may stay idle before it is closed instead of reused (hyper's
/// default, which certgate used before).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections to a backend's origins.
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
                let at = idle.iter().rposition(|c| c.origin == *origin)?;
                idle.remove(at)
            };
            if idle.since.elapsed() < IDLE_TIMEOUT && is_quiet(&idle.stream) {
                return Some(idle.stream);
            }
        }
    }

    /// Keeps `stream` for the next request to `origin`, unless the pool is full.
    pub(super) fn put(&self, origin: Authority, stream: TcpStream) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let now = Instant::now();
        idle.retain(|c| now.duration_since(c.since) < IDLE_TIMEOUT);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                origin,
                stream,
                since: now,
            });
        }
    }
}

/// True when an idle connection has neither data nor end-of-stream waiting: anything
/// the backend sent while it was idle (its close, mostly) makes it unusable. Costs a
/// `recv` only when the reactor saw the socket become readable.
fn is_quiet(stream: &TcpStream) -> bool {
    let mut probe = [0; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
