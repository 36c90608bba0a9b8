//! HTTP/1.1 to cleartext backends, on the request's own task.
//!
//! The usual deployment proxies to a backend on a private network over plain HTTP/1.1,
//! and there hyper-util's pooled client cost as much as the rest of a request: a
//! connection task per backend connection, a channel and a oneshot to it, and a hashed
//! pool checkout and return. Here the request is written and the response read by the
//! task that handles the request, and idle connections wait in a short list
//! ([`pool`]). HTTPS and HTTP/2 backends stay with hyper-util.
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
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::body::Payload;
use body::{Connection, ResponseBody};
use framing::Step;
use head::{Parsed, RequestFraming};

/// Bytes read from the backend at a time.
const READ_SIZE: usize = 16 * 1024;

/// A request body at most this long is written with its head, in one write.
const WRITE_WITH_HEAD: usize = 16 * 1024;

/// Interim (1xx) responses skipped at most before the final one.
const MAX_INTERIM: usize = 16;

/// Why an exchange with the backend failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum Error {
    #[error("{0}")]
    Connect(std::io::Error),
    #[error("the URL has no host")]
    NoHost,
    /// Closed or reset before the first byte of a response: on a kept-alive connection,
    /// most likely the backend closing it as idle just as the request went out.
    #[error("the connection closed before a response arrived{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    NoResponse(Option<std::io::Error>),
    #[error("reading the response failed: {0}")]
    Receive(std::io::Error),
    #[error("the response head is larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("the response has more than {0} headers")]
    TooManyHeaders(usize),
    #[error("the response head is malformed: {0}")]
    Malformed(String),
    #[error("more than {0} interim (1xx) responses")]
    TooManyInterim(usize),
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
#[derive(Debug, Clone, Default)]
pub(super) struct Client {
    pool: Arc<pool::Pool>,
}

impl Client {
    /// Sends a request with a body in hand (a stream still arriving needs a client
    /// that reads the response while it writes: hyper's) and returns the response once
    /// its head has arrived; its body streams from the connection as the caller reads it.
    pub(super) async fn send(
        &self,
        request: &http::Request<()>,
        body: &Bytes,
    ) -> Result<http::Response<Payload>, Error> {
        let origin = origin(request.uri())?;
        let mut fresh = false;
        loop {
            let pooled = if fresh { None } else { self.pool.take(&origin) };
            let reused = pooled.is_some();
            let stream = match pooled {
                Some(stream) => stream,
                None => connect(&origin).await?,
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
}

/// The pool's key for a URL: its authority as written (`backend` and `backend:80` keep
/// connections apart, which costs a connection, never a mix-up); a clone shares its
/// bytes, where normalizing parsed the port on every request.
fn origin(uri: &http::Uri) -> Result<Authority, Error> {
    uri.authority().cloned().ok_or(Error::NoHost)
}

/// A new connection to `origin`, trying each of its addresses in turn.
async fn connect(origin: &Authority) -> Result<TcpStream, Error> {
    let host = origin.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = origin.port_u16().unwrap_or(80);
    let mut last = None;
    for address in tokio::net::lookup_host((host, port))
        .await
        .map_err(Error::Connect)?
    {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Requests leave as soon as they are written, as with nginx's
                // `tcp_nodelay on`.
                stream.set_nodelay(true).map_err(Error::Connect)?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Connect(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} has no address"),
        )
    })))
}

/// One request and the head of its response on `connection`.
async fn exchange(
    mut connection: Connection,
    request: &http::Request<()>,
    body: &Bytes,
) -> Result<http::Response<Payload>, Error> {
    send_request(&mut connection, request, body).await?;
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

/// Writes the head and the body, in one write unless the body is large.
async fn send_request(
    connection: &mut Connection,
    request: &http::Request<()>,
    body: &Bytes,
) -> Result<(), Error> {
    let framing = RequestFraming::of(request.method(), body.len() as u64);
    let mut out = BytesMut::with_capacity(1024);
    head::write_request(request, framing, &mut out);
    let stream = &mut connection.stream;
    if body.len() <= WRITE_WITH_HEAD {
        out.put_slice(body);
        return stream.write_all(&out).await.map_err(sent);
    }
    stream.write_all(&out).await.map_err(sent)?;
    stream.write_all(body).await.map_err(sent)
}

/// A write that failed: the backend is gone before it answered.
fn sent(error: std::io::Error) -> Error {
    Error::NoResponse(Some(error))
}

/// Reads until a final response's head, skipping interim ones.
async fn read_head(
    connection: &mut Connection,
    method: &http::Method,
) -> Result<head::ResponseHead, Error> {
    let mut interim = 0;
    let mut answered = false;
    loop {
        if !connection.buf.is_empty() {
            match head::parse_response(&connection.buf, method)? {
                Parsed::Final(head, len) => {
                    let _ = connection.buf.split_to(len);
                    return Ok(head);
                }
                Parsed::Interim(len) => {
                    interim += 1;
                    if interim > MAX_INTERIM {
                        return Err(Error::TooManyInterim(MAX_INTERIM));
                    }
                    let _ = connection.buf.split_to(len);
                    continue;
                }
                Parsed::Partial => {}
            }
        }
        connection.buf.reserve(READ_SIZE);
        match connection.stream.read_buf(&mut connection.buf).await {
            Ok(0) if !answered => return Err(Error::NoResponse(None)),
            Ok(0) => return Err(Error::CutShort("in the response head".to_owned())),
            Ok(_) => answered = true,
            Err(e) if !answered => return Err(Error::NoResponse(Some(e))),
            Err(e) => return Err(Error::Receive(e)),
        }
    }
}
