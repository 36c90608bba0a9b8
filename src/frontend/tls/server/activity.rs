//! What a connection has in flight: its requests, when it last became idle, and which of
//! its HTTP/2 responses wait for the client to make room, and since when.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Connection;
use crate::frontend::tls::Limits;

/// Requests in flight on one connection (until their response body is sent), when
/// the connection last became idle, for [`Limits::idle_timeout`], and since when its
/// HTTP/2 responses have waited for room, for [`Limits::send_timeout`].
#[derive(Debug)]
pub(super) struct Activity {
    pub(super) in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
    waiting: Mutex<Waiting>,
}

/// HTTP/2 responses whose frame waits for the client: hyper takes a frame, then holds it
/// until the stream's flow-control window has room, and a client that reads its
/// connection (and answers pings) but never opens a stream's window is invisible to the
/// kernel's `TCP_USER_TIMEOUT`. Only the waiting ones are listed, by a key of their own.
#[derive(Debug, Default)]
struct Waiting {
    last_key: u64,
    since: Vec<(NonZeroU64, Instant)>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            waiting: Mutex::default(),
        }
    }
}

impl Activity {
    /// A request of `version` begins.
    pub(super) fn begin(connection: &Arc<Connection>, version: http::Version) -> Active {
        connection.activity.in_flight.fetch_add(1, Ordering::SeqCst);
        // By the request, not by ALPN: a client without ALPN may speak HTTP/2 too.
        let http2 = version == http::Version::HTTP_2;
        Active {
            connection: connection.clone(),
            http2,
            waiting: None,
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Since when the longest-waiting response has waited for room.
    pub(super) fn oldest_waiting(&self) -> Option<Instant> {
        self.waiting().since.iter().map(|&(_, since)| since).min()
    }

    /// Whether a response has waited for room `send_timeout` or longer (zero: never).
    pub(super) fn is_stalled(&self, send_timeout: Duration) -> bool {
        !send_timeout.is_zero()
            && self
                .oldest_waiting()
                .is_some_and(|since| since.elapsed() >= send_timeout)
    }

    /// Whether a connection shutting down `since` then has had a send timeout to drain
    /// with nothing in flight (zero: never).
    pub(super) fn is_drained_too_long(
        &self,
        since: Option<Instant>,
        send_timeout: Duration,
    ) -> bool {
        !send_timeout.is_zero()
            && since.is_some_and(|since| since.elapsed() >= send_timeout)
            && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// When to look again: at the idle deadline unless `shutting_down` (since then);
    /// then at the drain's deadline, or a send timeout from now once it passed with
    /// requests still in flight; and when `watch_room` (the connection may speak HTTP/2),
    /// at the longest-waiting response's send deadline, or a send timeout from now (one
    /// that starts waiting after this look is found at the next, before its deadline).
    /// `None`: nothing to look for.
    pub(super) fn next_look(
        &self,
        limits: &Limits,
        shutting_down: Option<Instant>,
        watch_room: bool,
    ) -> Option<tokio::time::Instant> {
        let send_timeout = (!limits.send_timeout.is_zero()).then_some(limits.send_timeout);
        let idle = shutting_down
            .is_none()
            .then(|| self.idle_deadline(limits.idle_timeout));
        let now = Instant::now();
        let drain = send_timeout.zip(shutting_down).map(|(timeout, since)| {
            let deadline = since + timeout;
            if deadline > now {
                deadline
            } else {
                now + timeout
            }
        });
        let room = send_timeout
            .filter(|_| watch_room)
            .map(|timeout| self.oldest_waiting().unwrap_or(now) + timeout);
        let soonest = drain.into_iter().chain(room).min();
        idle.into_iter()
            .chain(soonest.map(tokio::time::Instant::from_std))
            .min()
    }

    fn idle_since(&self) -> Instant {
        *self
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn is_idle_for(&self, timeout: Duration) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.idle_since().elapsed() >= timeout
    }

    /// When to look again: the idle deadline, or a full timeout from now while busy.
    pub(super) fn idle_deadline(&self, timeout: Duration) -> tokio::time::Instant {
        let from = if self.in_flight.load(Ordering::SeqCst) == 0 {
            self.idle_since()
        } else {
            Instant::now()
        };
        tokio::time::Instant::from_std(from + timeout)
    }
}

/// One request in flight; dropped with its response body (or when hyper gives up on it).
pub(super) struct Active {
    connection: Arc<Connection>,
    /// Its response is watched for a client that never makes room for it.
    pub(super) http2: bool,
    /// Its key among the connection's [`Waiting`] responses while it is one.
    waiting: Option<NonZeroU64>,
}

impl Active {
    /// Hyper holds the response until the client makes room for its next frame.
    pub(super) fn wait_for_room(&mut self) {
        if self.waiting.is_none() {
            let mut waiting = self.connection.activity.waiting();
            // A u64 of keys is never used up; wrapping would still only reuse old ones.
            waiting.last_key = waiting.last_key.wrapping_add(1).max(1);
            let key = NonZeroU64::new(waiting.last_key).unwrap_or(NonZeroU64::MIN);
            waiting.since.push((key, Instant::now()));
            self.waiting = Some(key);
        }
    }

    /// Hyper asked for the next frame: the client made room.
    pub(super) fn got_room(&mut self) {
        if let Some(key) = self.waiting.take() {
            let mut waiting = self.connection.activity.waiting();
            if let Some(at) = waiting.since.iter().position(|&(k, _)| k == key) {
                waiting.since.swap_remove(at);
            }
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.got_room();
        let activity = &self.connection.activity;
        *activity
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
