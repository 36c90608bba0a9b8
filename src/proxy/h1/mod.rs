//! HTTP/1.1 to cleartext backends, on the request's own task.
//!
//! The usual deployment proxies to a backend on a private network over plain HTTP/1.1,
//! and there hyper-util's pooled client cost as much as the rest of a request: a
//! connection task per backend connection, a channel and a oneshot to it, and a hashed
//! pool checkout and return. Here the request is written and the response read by the
//! task that handles the request, and idle connections wait in a short list
//! ([`pool`]). HTTPS and HTTP/2 backends, and request bodies larger than [`MAX_BODY`]
//! or still arriving, stay with hyper-util.
//!
//! What it does not take on trust (RFC 9112): a response whose length could be read two
//! ways, a head without bounds, a chunked body with endless lines; what it retries: only
//! a request that can be sent again unchanged, once, when a kept-alive connection turns
//! out closed before a byte of the answer (nginx's rule).

mod body;
mod framing;
mod head;
mod pool;

use std::sync::Arc;

use bytes::{BufMut as _, Bytes, BytesMut};
use http::uri::Authority;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower_service::Service as _;

use crate::body::Payload;
use body::{Connection, ResponseBody};
use framing::Step;
use head::{Parsed, RequestFraming};

/// Bytes read from the backend at a time.
const READ_SIZE: usize = 16 * 1024;

/// The largest request body this client sends: written with its head in one write, it
/// is in the socket's buffer before the response is read, so a backend that answers
/// early (a 401, a 413) and closes is still heard. A larger body goes with hyper, which
/// reads while it writes.
pub(super) const MAX_BODY: usize = 16 * 1024;

/// Why an exchange with the backend failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum Error {
    /// No connection: the innermost cause ("Connection refused", a DNS failure).
    #[error("{0}")]
    Connect(String),
    /// Closed or reset before the first byte of a response: on a kept-alive connection,
    /// most likely the backend closing it as idle just as the request went out.
    #[error("the connection closed before a response arrived{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    NoResponse(Option<std::io::Error>),
    #[error("reading the response failed: {0}")]
    Receive(std::io::Error),
    #[error("the connection closed in the middle of the response head")]
    HeadCutShort,
    #[error("the response head is larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("the response has more than {0} headers")]
    TooManyHeaders(usize),
    #[error("the response head is malformed: {0}")]
    Malformed(String),
    #[error("the backend switched protocols (101), which certgate does not forward")]
    SwitchingProtocols,
    #[error("the response's framing is ambiguous: {0}")]
    Ambiguous(&'static str),
    #[error("the response's Content-Length {0:?} is not one non-negative number")]
    Length(String),
    #[error("the response's Transfer-Encoding {0:?} is not `chunked` alone")]
    Coding(String),
    #[error("the response's chunked body is malformed: {0}")]
    Chunked(&'static str),
    #[error("the response's {what} is longer than {limit} bytes")]
    LineTooLong { what: &'static str, limit: usize },
    #[error("the connection closed mid-body: {0}")]
    CutShort(String),
}

/// Sends HTTP/1.1 requests to `http://` URLs over kept-alive connections.
#[derive(Debug, Clone)]
pub(super) struct Client {
    pool: Arc<pool::Pool>,
    /// New connections: hyper-util's connector, for its DNS, its per-address fallback
    /// after 300 ms (happy eyeballs) and `TCP_NODELAY`, as before this client.
    connector: HttpConnector,
}

impl Default for Client {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        // Requests leave as soon as they are written, as with nginx's `tcp_nodelay on`.
        connector.set_nodelay(true);
        Self {
            pool: Arc::default(),
            connector,
        }
    }
}

impl Client {
    /// Sends a request to `origin` (its URL's authority) with a body in hand of at most
    /// [`MAX_BODY`] bytes, and returns the response once its head has arrived; its body
    /// streams from the connection as the caller reads it.
    pub(super) async fn send(
        &self,
        origin: &Authority,
        request: &http::Request<()>,
        body: &Bytes,
    ) -> Result<http::Response<Payload>, Error> {
        let mut fresh = false;
        loop {
            let pooled = if fresh { None } else { self.pool.take(origin) };
            let reused = pooled.is_some();
            let stream = match pooled {
                Some(stream) => stream,
                None => self.connect(request.uri()).await?,
            };
            let connection = Connection {
                stream,
                buf: BytesMut::new(),
                origin: origin.clone(),
                pool: Arc::clone(&self.pool),
            };
            match exchange(connection, request, body).await {
                Err(Error::NoResponse(_)) if reused && request.method().is_idempotent() => {
                    fresh = true;
                }
                result => return result,
            }
        }
    }

    async fn connect(&self, uri: &http::Uri) -> Result<tokio::net::TcpStream, Error> {
        match self.connector.clone().call(uri.clone()).await {
            Ok(stream) => Ok(stream.into_inner()),
            Err(error) => Err(Error::Connect(super::innermost_cause(&error))),
        }
    }
}

/// One request and the head of its response on `connection`.
async fn exchange(
    mut connection: Connection,
    request: &http::Request<()>,
    body: &Bytes,
) -> Result<http::Response<Payload>, Error> {
    let framing = RequestFraming::of(request.method(), body.len() as u64);
    let mut out = BytesMut::with_capacity(1024 + body.len());
    head::write_request(request, framing, &mut out);
    out.put_slice(body);
    connection
        .stream
        .write_all(&out)
        .await
        .map_err(|e| Error::NoResponse(Some(e)))?;
    let head = read_head(&mut connection, request.method()).await?;
    let mut framing = head.framing;
    // A body already read whole (a small one, mostly) is handed over as it is and the
    // connection freed at once; the rest streams.
    let payload = match framing.remaining() {
        Some(len) if len <= connection.buf.len() as u64 => {
            let body = match framing.decode(&mut connection.buf)? {
                Step::Data(data) => data,
                Step::End | Step::More => Bytes::new(),
            };
            connection.release(head.reusable);
            Payload::Whole(body)
        }
        _ => Payload::streamed(ResponseBody::new(connection, framing, head.reusable)),
    };
    let mut response = http::Response::new(payload);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    Ok(response)
}

/// Reads until a final response's head, skipping interim ones (their number is bounded
/// by the `forward-request` timeout, as a slow backend's bytes are). After the first
/// read, the head is parsed again only once its blank line has arrived: parsing after
/// each read would cost the square of a head trickled in byte by byte.
async fn read_head(
    connection: &mut Connection,
    method: &http::Method,
) -> Result<head::ResponseHead, Error> {
    let mut answered = false;
    let mut searched = 0;
    loop {
        // The first bytes are parsed as they come (most heads arrive in one read).
        let buf = &connection.buf;
        if !buf.is_empty() && (searched == 0 || head::ends_within(buf, searched)) {
            match head::parse_response(&mut connection.buf, method)? {
                Parsed::Final(head) => return Ok(head),
                Parsed::Interim => {
                    searched = 0;
                    continue;
                }
                Parsed::Partial => {}
            }
        }
        searched = connection.buf.len();
        if searched >= head::MAX_HEAD {
            return Err(Error::HeadTooLarge(head::MAX_HEAD));
        }
        connection.buf.reserve(READ_SIZE);
        match connection.stream.read_buf(&mut connection.buf).await {
            Ok(0) if !answered => return Err(Error::NoResponse(None)),
            Ok(0) => return Err(Error::HeadCutShort),
            Ok(_) => answered = true,
            Err(e) if !answered => return Err(Error::NoResponse(Some(e))),
            Err(e) => return Err(Error::Receive(e)),
        }
    }
}
