//! Kept-alive HTTP/1.1 connections to backends, idle ones listed per origin.
//!
//! hyper-util's pooled client spent about a third of a proxied request's instructions
//! (its pool, a dispatch channel per checkout and its connection bookkeeping: 29k of
//! 85k, callgrind, issue 18). This pool keeps hyper's own `SendRequest` per connection:
//! a request takes an idle one (or connects), and its response body gives it back when
//! it ends. A connection the backend closed while idle is dropped at checkout; a request
//! it refused unsent is sent again on another connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use super::ProxyError;
use crate::body::Payload;

/// How long a connection may sit idle before it is closed instead of reused (hyper-util's
/// default, and below the 120 s most servers and load balancers keep idle connections).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections kept per origin; more are closed as they come back.
const MAX_IDLE_PER_ORIGIN: usize = 256;

/// HTTP/1.1 connections to any number of origins.
#[derive(Clone)]
pub(super) struct Http1Pool {
    shared: Arc<Shared>,
}

struct Shared {
    connector: HttpsConnector<HttpConnector>,
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    by_origin: HashMap<Origin, Vec<IdleSender>>,
    /// When expired connections of every origin were last dropped.
    swept: Option<Instant>,
}

struct IdleSender {
    sender: SendRequest<Payload>,
    since: Instant,
}

/// Where a connection goes: scheme and authority (compared without regard to case).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    authority: Authority,
}

impl Http1Pool {
    pub(super) fn new(connector: HttpsConnector<HttpConnector>) -> Self {
        Self {
            shared: Arc::new(Shared {
                connector,
                idle: Mutex::new(Idle::default()),
            }),
        }
    }

    /// Sends `request` (absolute URL) on an idle connection to its origin or a new one,
    /// and returns the response with a body that hands the connection back at its end.
    pub(super) async fn send(
        &self,
        mut request: http::Request<Payload>,
    ) -> Result<http::Response<Payload>, ProxyError> {
        let uri = request.uri().clone();
        let connect_error = |cause: String| ProxyError::Connect {
            url: uri.to_string(),
            cause,
        };
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(connect_error("the URL names no scheme and host".into()));
        };
        let origin = Origin {
            https: *scheme == Scheme::HTTPS,
            authority: authority.clone(),
        };
        set_host(&mut request, &uri);
        *request.uri_mut() = origin_form(&uri);
        loop {
            let (mut sender, reused) = match self.checkout(&origin).await {
                Some(sender) => (sender, true),
                None => (self.connect(&uri).await.map_err(connect_error)?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let slot = Slot::Waiting(self.clone(), origin, sender);
                    let body = Payload::streamed(Returning { body, slot });
                    return Ok(http::Response::from_parts(parts, body));
                }
                Err(mut error) => match error.take_message() {
                    // Refused before a byte was written, on a connection that had served
                    // before: the backend closed it meanwhile. Try another one.
                    Some(unsent) if reused => request = unsent,
                    _ => {
                        return Err(ProxyError::Protocol {
                            url: uri.to_string(),
                            cause: super::innermost_cause(&error.into_error()),
                        });
                    }
                },
            }
        }
    }

    /// The most recently used idle connection to `origin` that is still open and ready.
    async fn checkout(&self, origin: &Origin) -> Option<SendRequest<Payload>> {
        loop {
            let idle = {
                let mut idle = self.shared.idle.lock().unwrap_or_else(|p| p.into_inner());
                let list = idle.by_origin.get_mut(origin)?;
                let idle_sender = list.pop();
                if list.is_empty() {
                    idle.by_origin.remove(origin);
                }
                idle_sender?
            };
            if idle.since.elapsed() > IDLE_TIMEOUT || idle.sender.is_closed() {
                continue;
            }
            let mut sender = idle.sender;
            // Given back when its last response's body ended; the connection's task may
            // not have seen that end yet.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn checkin(&self, origin: Origin, sender: SendRequest<Payload>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.shared.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.swept.is_none_or(|at| now - at > IDLE_TIMEOUT) {
            idle.swept = Some(now);
            idle.by_origin.retain(|_, list| {
                list.retain(|i| now - i.since <= IDLE_TIMEOUT && !i.sender.is_closed());
                !list.is_empty()
            });
        }
        let list = idle.by_origin.entry(origin).or_default();
        if list.len() >= MAX_IDLE_PER_ORIGIN {
            list.remove(0);
        }
        list.push(IdleSender { sender, since: now });
    }

    /// A new connection (TCP, then TLS for https) whose task runs until it closes.
    async fn connect(&self, uri: &http::Uri) -> Result<SendRequest<Payload>, String> {
        let mut connector = self.shared.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| super::innermost_cause(&*e))?;
        let io = connector
            .call(uri.clone())
            .await
            .map_err(|e| super::innermost_cause(&*e))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| super::innermost_cause(&e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "backend connection ended");
            }
        });
        Ok(sender)
    }
}

/// The Host header a client sends when none was set: the URL's host, with its port
/// unless it is the scheme's default.
fn set_host(request: &mut http::Request<Payload>, uri: &http::Uri) {
    let Some(host) = uri.host() else { return };
    if request.headers().contains_key(http::header::HOST) {
        return;
    }
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let value = match uri.port_u16() {
        Some(port) if port != default_port => http::HeaderValue::try_from(format!("{host}:{port}")),
        _ => http::HeaderValue::from_str(host),
    };
    if let Ok(value) = value {
        request.headers_mut().insert(http::header::HOST, value);
    }
}

/// `/path?query` of an absolute URL, as HTTP/1.1 sends it to an origin server.
fn origin_form(uri: &http::Uri) -> http::Uri {
    match uri.path_and_query() {
        Some(path) if path.as_str() != "/" => http::Uri::from(path.clone()),
        _ => http::Uri::from_static("/"),
    }
}

/// A response body that gives its connection back to the pool when it has been read to
/// the end. Dropped earlier, the connection goes with it (hyper closes a connection
/// whose response was not read).
struct Returning {
    body: Incoming,
    slot: Slot,
}

enum Slot {
    Waiting(Http1Pool, Origin, SendRequest<Payload>),
    Done,
}

impl Returning {
    fn give_back(&mut self) {
        if let Slot::Waiting(pool, origin, sender) = std::mem::replace(&mut self.slot, Slot::Done) {
            pool.checkin(origin, sender);
        }
    }
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.give_back();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}
