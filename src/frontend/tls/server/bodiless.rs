//! HTTP/1.1 `GET` requests without a body, served without hyper.
//!
//! Most requests through a gateway are of this kind, and for them hyper's server
//! machinery (its dispatcher, a timer per request head, the conversions around the
//! service call) cost a ninth of a kept-alive request's CPU (2026-12-06, see
//! benches/HISTORY.md). This loop reads a request head (up to 8 KiB, within the header
//! read timeout), and when it is a `GET` of HTTP/1.1 with none of the headers that give
//! a request a body or change the connection (`Content-Length`, `Transfer-Encoding`,
//! `Connection`, `Expect`, `Upgrade`), it serves the request itself and writes the
//! answer as hyper would: the same framing, the head of a streamed body sent before the
//! body, a client that closes cancelling its request, `Connection: close` on the answer
//! in flight at shutdown. The first head that is anything else (another method,
//! HTTP/1.0, a larger head, one httparse or `http` refuses, the HTTP/2 preface) hands
//! the connection, with every byte read and not consumed, to hyper for good. So request
//! framing, bodies, oversized heads and every parse error stay hyper's, and a request
//! reads the same whichever server took it: the same httparse, the same `http` types,
//! the same [`checked_parts`](super::checked_parts).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use hyper::body::Body as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use super::{Activity, Connection, Handler, Limits, Shared, busy, run};
use crate::body::Payload;
use crate::gateway::GatewayResponse;

/// Most header lines of a head, hyper's bound: a head with more goes to hyper, which
/// answers `431`.
const MAX_HEADERS: usize = 100;
/// How much is read at a time.
const READ_BYTES: usize = 8 * 1024;
/// A response body up to this size is copied behind its head into one write.
const COPIED_BODY_BYTES: usize = 16 * 1024;

/// How [`serve`] ended.
pub(super) enum Ended {
    /// The connection is done: closed by the client, by an error, by the listener's
    /// shutdown or its idle timeout.
    Closed,
    /// A request this loop does not serve: hyper takes the connection over, reading
    /// these bytes first; `served` says whether this loop answered requests before
    /// (then the connection is HTTP/1.1 for good, whatever ALPN left open).
    HandOver { read: Bytes, served: bool },
}

/// What the start of the read buffer holds.
#[allow(clippy::large_enum_variant)] // returned once per request and taken apart at once
enum Head {
    /// A whole bodiless `GET` this loop serves, taken off the read buffer.
    Get(http::request::Parts),
    /// Not yet a whole head (or nothing).
    Partial,
    /// Anything else: hyper's.
    Other,
}

/// Serves `GET` requests on `io` until the connection ends or a request needs hyper.
pub(super) async fn serve<H: Handler>(
    io: &mut TlsStream<TcpStream>,
    connection: &Arc<Connection>,
    shared: &Arc<Shared<H>>,
    stop: &mut watch::Receiver<bool>,
    limits: &Limits,
) -> Ended {
    let mut buf = BytesMut::with_capacity(READ_BYTES);
    let mut out = Vec::with_capacity(READ_BYTES);
    let mut lines = Vec::new();
    // Waiting for a request head is bounded as hyper bounds it: by the header read
    // timeout from the end of the last response (or the handshake) to the end of the
    // head, and by the idle timeout. One timer for the connection, re-armed only when
    // it fires early: a timer per request was part of what this loop saves.
    let wait = limits.idle_timeout.min(limits.header_read_timeout);
    // hyper's bound on a head (its read buffer): a head still not whole at this size is
    // handed over for hyper to refuse, never to wait for.
    let head_limit = limits.max_header_bytes.max(8192);
    let idle = tokio::time::sleep_until(connection.activity.idle_deadline(wait));
    tokio::pin!(idle);
    // Likewise one wait for the listener's shutdown, registered once; between requests
    // a look at the channel's value, where a poll of that wait cost ten times as much.
    let watched = stop.clone();
    let stopped = || *watched.borrow() || watched.has_changed().is_err();
    let stopping = stop.wait_for(|stop| *stop);
    tokio::pin!(stopping);
    let mut served = false;
    loop {
        if stopped() {
            return Ended::Closed; // not another request, as hyper's graceful shutdown
        }
        let parts = match bodiless_get(&mut buf, &mut lines) {
            Head::Get(parts) => parts,
            Head::Partial if buf.len() < head_limit => {
                let room = head_limit - buf.len();
                buf.reserve(room.min(READ_BYTES));
                tokio::select! {
                    biased;
                    read = read_into(io, &mut buf, room) => match read {
                        Ok(0) | Err(_) => return Ended::Closed,
                        Ok(_) => {}
                    },
                    _ = &mut stopping => return Ended::Closed,
                    () = &mut idle => {
                        if connection.activity.is_idle_for(wait) {
                            tracing::debug!(peer = %connection.peer, "closing an idle connection");
                            return Ended::Closed;
                        }
                        idle.as_mut().reset(connection.activity.idle_deadline(wait));
                    }
                }
                continue;
            }
            Head::Partial | Head::Other => {
                let read = buf.freeze();
                return Ended::HandOver { read, served };
            }
        };
        let active = Activity::begin(connection, http::Version::HTTP_11);
        let (response, _slot) = match shared.in_flight.clone().try_acquire_owned() {
            Err(_) => {
                let limit = limits.max_requests_in_flight;
                tracing::debug!(peer = %connection.peer, "too many requests in flight");
                let message =
                    format!("too many requests in flight (limit {limit}); try again shortly\n");
                (busy(&message), None)
            }
            Ok(slot) => match super::checked_parts(parts, connection, shared) {
                Err(refusal) => (*refusal, Some(slot)),
                Ok(parts) => {
                    let request =
                        super::gateway_request_of(parts, Payload::empty(), connection, shared);
                    let handling = run(shared, request);
                    tokio::pin!(handling);
                    let response = loop {
                        // As hyper does: a client that closes its side while waiting
                        // cancels the request (its backend call with it).
                        tokio::select! {
                            biased;
                            response = &mut handling => break response,
                            read = read_into(io, &mut buf, head_limit), if buf.is_empty() => match read {
                                Ok(0) | Err(_) => return Ended::Closed,
                                Ok(_) => {}
                            },
                        }
                    };
                    (response, Some(slot))
                }
            },
        };
        // As hyper does in a graceful shutdown: the last answer says so.
        let last = stopped();
        let keep = write(io, &mut buf, &mut out, response, last).await;
        drop(active);
        if !keep || last {
            return Ended::Closed;
        }
        served = true;
    }
}

/// A header line of a head being read: its name, and where its value lies in the buffer.
type Line = (HeaderName, std::ops::Range<usize>);

/// What the head at the start of `buf` is: a whole, bodiless HTTP/1.1 `GET` that keeps
/// the connection (then taken off `buf`), a head not yet whole, or anything else (`buf`
/// left as it was). `lines` is the connection's scratch space, kept between requests.
///
/// The request's URI and header values are slices of the head's bytes, shared as hyper
/// shares them: copying each value into an allocation of its own, and the backend
/// request's copy of the map sharing each of those, were about 2,000 instructions a
/// request.
fn bodiless_get(buf: &mut BytesMut, lines: &mut Vec<Line>) -> Head {
    if buf.is_empty() {
        return Head::Partial;
    }
    let (path, consumed) = match checked_head(buf, lines) {
        Ok(found) => found,
        Err(NotTaken::Partial) => return Head::Partial,
        Err(NotTaken::Other) => return Head::Other,
    };
    let head = buf.split_to(consumed).freeze();
    let mut headers = HeaderMap::with_capacity(lines.len());
    for (name, value) in lines.drain(..) {
        match part(&head, value).map(HeaderValue::from_maybe_shared) {
            Some(Ok(value)) => {
                headers.append(name, value);
            }
            // httparse and `http` accept the same bytes in a value; were they ever to
            // differ, hyper reads the head as it came.
            _ => return handed_back(buf, &head),
        }
    }
    let Some(Ok(uri)) = part(&head, path).map(http::Uri::from_maybe_shared) else {
        return handed_back(buf, &head);
    };
    let mut request = http::Request::new(());
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    debug_assert_eq!(request.method(), Method::GET);
    Head::Get(request.into_parts().0)
}

/// The bytes of `head` at `range`, without a panic should it ever lie outside (httparse's
/// slices are of the head, so it does not).
fn part(head: &Bytes, range: std::ops::Range<usize>) -> Option<Bytes> {
    (range.start <= range.end && range.end <= head.len()).then(|| head.slice(range))
}

/// Puts `head` back in front of what `buf` holds, for hyper to read.
fn handed_back(buf: &mut BytesMut, head: &Bytes) -> Head {
    let mut whole = BytesMut::with_capacity(head.len() + buf.len());
    whole.extend_from_slice(head);
    whole.extend_from_slice(buf);
    *buf = whole;
    Head::Other
}

/// Why [`checked_head`] leaves a head in the buffer: [`Head::Partial`] or [`Head::Other`].
enum NotTaken {
    Partial,
    Other,
}

/// Parses the head at the start of `buf` and checks that it is a bodiless HTTP/1.1 `GET`
/// that keeps the connection: where its path lies and how long it is, with its header
/// lines in `lines`.
fn checked_head(
    buf: &[u8],
    lines: &mut Vec<Line>,
) -> Result<(std::ops::Range<usize>, usize), NotTaken> {
    // Uninitialized: httparse writes the lines it finds; zeroing a hundred (3 KiB) for
    // every head would be work for nothing.
    let mut parsed = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut []);
    let consumed = match head.parse_with_uninit_headers(buf, &mut parsed) {
        Ok(httparse::Status::Complete(consumed)) => consumed,
        Ok(httparse::Status::Partial) => return Err(NotTaken::Partial),
        Err(_) => return Err(NotTaken::Other),
    };
    if head.method != Some("GET") || head.version != Some(1) {
        return Err(NotTaken::Other);
    }
    let Some(path) = head.path.filter(|path| path.starts_with('/')) else {
        return Err(NotTaken::Other);
    };
    // httparse's slices are of `buf`: where each lies in it.
    let start = buf.as_ptr() as usize;
    let within = |part: &[u8]| {
        let at = (part.as_ptr() as usize).wrapping_sub(start);
        at..at + part.len()
    };
    lines.clear();
    for line in head.headers.iter() {
        let Ok(name) = crate::proxy::wire_name(line.name.as_bytes()) else {
            return Err(NotTaken::Other);
        };
        if [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONNECTION,
            header::EXPECT,
            header::UPGRADE,
        ]
        .contains(&name)
        {
            return Err(NotTaken::Other);
        }
        lines.push((name, within(line.value)));
    }
    Ok((within(path.as_bytes()), consumed))
}

/// Writes `response` as hyper writes one to a `GET` (hop-by-hop headers dropped, the
/// body framed by `Content-Length` when its size is known and chunked otherwise, none
/// for 204 and 304, `Date` added, `Connection: close` when `last`); whether the
/// connection may take another request. A streamed body's bytes go out whenever it has
/// no more at once, the head first; while it waits, a client that closes its side ends
/// the response (and drops the body, which lets go of its backend) as hyper's server does.
async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
    response: GatewayResponse,
    last: bool,
) -> bool {
    let GatewayResponse {
        mut status,
        reason,
        mut headers,
        mut body,
    } = response;
    let informational = status.is_informational();
    if informational {
        // hyper sends none as an answer either (a 1xx is not one; a 101 without an
        // upgrade is none): 500, and the connection closes.
        tracing::warn!(%status, "a response with a 1xx status cannot be sent; answering 500");
        status = StatusCode::INTERNAL_SERVER_ERROR;
        headers.clear();
        body = Payload::empty();
    }
    crate::proxy::strip_hop_by_hop(&mut headers);
    let has_body = !matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    let known = body.size_hint().exact();

    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    let phrase = reason
        .as_deref()
        // As the listener's hyper answers: a phrase hyper refuses (a line break) is dropped.
        .filter(|reason| hyper::ext::ReasonPhrase::try_from(reason.as_bytes()).is_ok())
        .or(status.canonical_reason())
        .unwrap_or("<none>");
    out.extend_from_slice(phrase.as_bytes());
    out.extend_from_slice(b"\r\n");
    // Noted and left out as the head is written: a lookup of each cost more than the
    // comparisons of the names written anyway.
    let mut dated = false;
    for (name, value) in &headers {
        if name == header::CONTENT_LENGTH {
            continue; // framed below, by the body
        }
        dated |= name == header::DATE;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if last {
        out.extend_from_slice(b"connection: close\r\n");
    }
    if has_body {
        match known {
            Some(len) => {
                out.extend_from_slice(b"content-length: ");
                out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
    }
    if !dated {
        out.extend_from_slice(b"date: ");
        http_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !has_body || informational {
        return send(io, out).await && !informational;
    }
    if let Some(whole) = body
        .as_whole()
        .filter(|whole| whole.len() <= COPIED_BODY_BYTES)
    {
        out.extend_from_slice(whole);
        return send(io, out).await;
    }
    let mut sent: u64 = 0;
    let mut body = std::pin::pin!(body);
    loop {
        let next = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx));
        let frame = match futures_util::poll!(next) {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                // Nothing more at once: what is written goes out, the head first, and
                // what the TLS layer still holds of a large frame.
                if !send(io, out).await {
                    return false;
                }
                loop {
                    tokio::select! {
                        biased;
                        frame = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)) => break frame,
                        read = read_into(io, buf, READ_BYTES), if buf.is_empty() => match read {
                            Ok(0) | Err(_) => return false,
                            Ok(_) => {}
                        },
                    }
                }
            }
        };
        let data = match frame {
            None => break,
            Some(Err(error)) => {
                tracing::debug!(%error, "the response body failed; closing the connection");
                return false;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue, // hyper sends none to an HTTP/1.1 client either
            },
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        if known.is_some_and(|len| sent > len) {
            tracing::debug!("the response body is longer than it said; closing the connection");
            return false;
        }
        if known.is_none() {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        }
        if out.len() + data.len() <= COPIED_BODY_BYTES {
            out.extend_from_slice(&data);
        } else if !send(io, out).await || io.write_all(&data).await.is_err() {
            return false;
        }
        if known.is_none() {
            out.extend_from_slice(b"\r\n");
        }
        if out.len() >= COPIED_BODY_BYTES && !send(io, out).await {
            return false;
        }
    }
    match known {
        // Shorter than it said: the client would wait for the rest.
        Some(len) if sent < len => {
            let _ = send(io, out).await;
            false
        }
        Some(_) => send(io, out).await,
        None => {
            out.extend_from_slice(b"0\r\n\r\n");
            send(io, out).await
        }
    }
}

/// Reads into `buf` at most `at_most` bytes.
async fn read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    at_most: usize,
) -> std::io::Result<usize> {
    io.read_buf(&mut buf.limit(at_most)).await
}

/// Writes and flushes `out`, and empties it; whether that worked.
async fn send<S: AsyncWrite + Unpin>(io: &mut S, out: &mut Vec<u8>) -> bool {
    let sent = io.write_all(out).await.is_ok() && io.flush().await.is_ok();
    out.clear();
    sent
}

/// Appends the `Date` value of this second: formatted once a second per thread, as
/// hyper caches it.
fn http_date(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != second || text.is_empty() {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

/// A stream that first yields bytes already read from it: how hyper gets a connection
/// that [`serve`] handed over.
pub(super) struct Rewound<S> {
    read: Bytes,
    inner: S,
}

impl<S> Rewound<S> {
    pub(super) fn new(read: Bytes, inner: S) -> Self {
        Self { read, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewound<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.read.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.read.len().min(buf.remaining());
        buf.put_slice(&self.read.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewound<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head's parts and what stays in the buffer after it.
    fn taken(head: &str) -> (Head, String) {
        let mut buf = BytesMut::from(head);
        let found = bodiless_get(&mut buf, &mut Vec::new());
        (found, String::from_utf8(buf.to_vec()).unwrap())
    }

    /// The URI of an accepted head and what stays in the buffer after it; for any other,
    /// checks that the buffer is left whole.
    fn accepted(head: &str) -> Option<(String, String)> {
        match taken(head) {
            (Head::Get(parts), rest) => Some((parts.uri.to_string(), rest)),
            (Head::Partial | Head::Other, rest) => {
                assert_eq!(rest, head, "a head not taken stays in the buffer");
                None
            }
        }
    }

    #[test]
    fn a_head_not_yet_whole_is_read_on_and_any_other_is_hyper_s() {
        for partial in ["", "GET /a HTTP/1.1\r\nHost: x.te", "POST /a HTTP/1.1\r\n"] {
            let (found, rest) = taken(partial);
            assert!(matches!(found, Head::Partial), "{partial:?}");
            assert_eq!(rest, partial);
        }
        for other in [
            "POST /a HTTP/1.1\r\nHost: x.test\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost x.test\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            let (found, rest) = taken(other);
            assert!(matches!(found, Head::Other), "{other:?}");
            assert_eq!(rest, other);
        }
    }

    #[test]
    fn a_part_outside_the_head_is_none_not_a_panic() {
        let head = Bytes::from_static(b"abc");
        assert_eq!(part(&head, 1..3).as_deref(), Some(&b"bc"[..]));
        assert_eq!(part(&head, 3..3).as_deref(), Some(&b""[..]));
        assert_eq!(part(&head, 2..4), None);
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 2..1;
        assert_eq!(part(&head, reversed), None);
    }

    #[test]
    fn a_head_s_values_are_its_bytes_in_order() {
        let get = "GET /a HTTP/1.1\r\nHost: x.test\r\nX-Tag: one\r\nAccept: */*\r\n\
                   x-tag: two \t three\r\nX-Empty:\r\nX-Obs: café\r\n\r\n";
        let (Head::Get(parts), rest) = taken(get) else {
            panic!("not taken");
        };
        assert_eq!(rest, "");
        let values = |name: &str| -> Vec<&[u8]> {
            parts
                .headers
                .get_all(name)
                .iter()
                .map(HeaderValue::as_bytes)
                .collect()
        };
        assert_eq!(values("host"), [b"x.test".as_slice()]);
        assert_eq!(values("x-tag"), [b"one".as_slice(), b"two \t three"]);
        assert_eq!(values("accept"), [b"*/*".as_slice()]);
        assert_eq!(values("x-empty"), [b"".as_slice()]);
        assert_eq!(values("x-obs"), ["café".as_bytes()]);
        assert_eq!(parts.headers.len(), 6);
        assert_eq!(parts.uri, "/a");
    }

    #[test]
    fn only_whole_bodiless_http1_1_gets_are_taken() {
        let get = "GET /a?b=c HTTP/1.1\r\nHost: x.test\r\nAccept: */*\r\n\r\n";
        assert_eq!(accepted(get), Some(("/a?b=c".to_owned(), String::new())));
        // The next request's bytes stay unread.
        let next = "GET /next HTTP/1.1\r\n";
        let two = format!("{get}{next}");
        assert_eq!(accepted(&two), Some(("/a?b=c".to_owned(), next.to_owned())));
        for refused in [
            "GET /a HTTP/1.1\r\nHost: x.test\r\n",
            "GET /a HTTP/1.0\r\nHost: x.test\r\n\r\n",
            "HEAD /a HTTP/1.1\r\nHost: x.test\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: x.test\r\nContent-Length: 0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x.test\r\ncontent-length: 3\r\n\r\nabc",
            "GET /a HTTP/1.1\r\nHost: x.test\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x.test\r\nExpect: 100-continue\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x.test\r\nUpgrade: websocket\r\n\r\n",
            "GET http://x.test/a HTTP/1.1\r\nHost: x.test\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: x.test\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost x.test\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "",
        ] {
            assert_eq!(accepted(refused), None, "{refused:?}");
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(accepted(&many), None);
    }

    /// A connection whose client sends nothing and takes everything at once.
    #[derive(Default)]
    struct Memory(Vec<u8>);

    impl AsyncRead for Memory {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Memory {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.0.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn written(response: GatewayResponse) -> (String, bool) {
        written_as(response, false)
    }

    fn written_as(response: GatewayResponse, last: bool) -> (String, bool) {
        let mut io = Memory::default();
        let (mut buf, mut out) = (BytesMut::new(), Vec::new());
        let writing = write(&mut io, &mut buf, &mut out, response, last);
        let keep = futures_util::FutureExt::now_or_never(writing)
            .expect("writing to memory does not wait");
        let text = String::from_utf8(io.0).unwrap();
        let Some((head, date_and_rest)) = text.split_once("date: ") else {
            return (text, keep);
        };
        let rest = date_and_rest.split_once("\r\n").unwrap().1;
        (format!("{head}{rest}"), keep)
    }

    fn response(status: u16, body: Payload) -> GatewayResponse {
        GatewayResponse {
            status: StatusCode::from_u16(status).unwrap(),
            reason: None,
            headers: HeaderMap::new(),
            body,
        }
    }

    #[test]
    fn bodies_are_framed_by_their_known_length_or_chunked() {
        assert_eq!(
            written(response(200, Payload::from("abc"))),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc".to_owned(),
                true
            )
        );
        let large = vec![b'x'; COPIED_BODY_BYTES + 1];
        let (text, keep) = written(response(200, Payload::from(large.clone())));
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", large.len());
        assert!(keep);
        assert_eq!(text.as_bytes(), [head.as_bytes(), &large].concat());
        let chunks =
            futures_util::stream::iter(["ab", "", "cde"].map(|chunk| {
                Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from(chunk)))
            }));
        assert_eq!(
            written(response(200, Payload::streamed(http_body_util::StreamBody::new(chunks)))),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
                    .to_owned(),
                true
            )
        );
        assert_eq!(
            written(response(204, Payload::from("dropped"))),
            ("HTTP/1.1 204 No Content\r\n\r\n".to_owned(), true)
        );
        assert_eq!(
            written_as(response(200, Payload::from("bye")), true),
            (
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye".to_owned(),
                true
            )
        );
        assert_eq!(
            written(response(103, Payload::from("hints"))),
            (
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".to_owned(),
                false
            )
        );
    }

    #[test]
    fn a_body_shorter_or_longer_than_it_said_closes_the_connection() {
        struct Lying(u64, Option<Bytes>);
        impl hyper::body::Body for Lying {
            type Data = Bytes;
            type Error = std::io::Error;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
                Poll::Ready(self.1.take().map(|data| Ok(hyper::body::Frame::data(data))))
            }
            fn size_hint(&self) -> hyper::body::SizeHint {
                hyper::body::SizeHint::with_exact(self.0)
            }
        }
        // Longer: nothing of the frame that overruns is sent.
        let body = Payload::streamed(Lying(2, Some(Bytes::from_static(b"abc"))));
        let (text, keep) = written(response(200, body));
        assert!(!keep && !text.contains("abc"), "{text}");
        // Shorter: what came is sent, and then the client would wait for more.
        let body = Payload::streamed(Lying(4, Some(Bytes::from_static(b"abc"))));
        let (text, keep) = written(response(200, body));
        assert!(
            !keep && text.ends_with("content-length: 4\r\n\r\nabc"),
            "{text}"
        );
        let body = Payload::streamed(Lying(3, Some(Bytes::from_static(b"abc"))));
        assert_eq!(
            written(response(200, body)),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc".to_owned(),
                true
            )
        );
    }
}
