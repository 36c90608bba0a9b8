//! The accept loop, one task per connection, and the request adapter.

mod activity;
mod bodiless;
mod response_body;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::LazyConfigAcceptor;

use self::activity::Activity;
use self::response_body::ResponseBody;
use super::request_body::{BodyBudget, BodyLimit, Breach, Guarded};
use super::{ClientAuth, Handler, Limits, TlsSettings};
use crate::body::Payload;
use crate::cert::{self, CertError, Certificate};
use crate::frontend::forwarded::CertificateHeaders;
use crate::gateway::{ClientCertificate, GatewayRequest, GatewayResponse, request_authority};

/// Serves HTTPS on `listener` until `shutdown` completes, then drains.
///
/// Each accepted connection gets a TLS handshake bounded by
/// [`Limits::handshake_timeout`], with the client-certificate mode of its SNI host
/// name, then HTTP/1.1 or HTTP/2 by ALPN, with keep-alive. Every request becomes a
/// [`GatewayRequest`] for `handler`.
///
/// When `shutdown` completes, the listener is closed, idle connections are closed,
/// in-flight requests finish (HTTP/2 gets GOAWAY), and `serve` returns once all
/// connections are gone, or after [`Limits::shutdown_grace`] by dropping the rest.
///
/// # Errors
///
/// None today: failures to accept (e.g. out of file descriptors) are logged and retried;
/// a failed handshake or connection only ends that connection. The `io::Result` leaves
/// room for listener errors the caller must see.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: TlsSettings,
    handler: H,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let limits = *tls.limits();
    let shared = Arc::new(Shared {
        http: http_builder(&limits),
        tls,
        handler,
        random: ring::rand::SystemRandom::new(),
        in_flight: Arc::new(Semaphore::new(
            limits
                .max_requests_in_flight
                .clamp(1, Semaphore::MAX_PERMITS),
        )),
        bodies: BodyBudget::new(limits.max_buffered_body_bytes),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // At the limit, connections wait in the kernel's backlog rather than in memory.
        let next = async {
            let slot = slots.clone().acquire_owned().await;
            (listener.accept().await, slot)
        };
        tokio::select! {
            () = &mut shutdown => break,
            (accepted, slot) = next => match accepted {
                Ok((tcp, peer)) => {
                    let (shared, stop) = (shared.clone(), stop_rx.clone());
                    connections.spawn(async move {
                        connection(tcp, peer, shared, stop).await;
                        drop(slot);
                    });
                }
                Err(error) if is_per_connection(&error) => {
                    tracing::debug!(%error, "accept failed for one connection");
                }
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::error!(%error, "cannot accept connections; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    tracing::info!(
        connections = connections.len(),
        "shutting down: no new connections; waiting for in-flight requests"
    );
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            grace = ?limits.shutdown_grace,
            "shutdown grace elapsed; dropping the remaining connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

struct Shared<H> {
    tls: TlsSettings,
    handler: H,
    http: HttpBuilders,
    random: ring::rand::SystemRandom,
    /// One permit per request in flight ([`Limits::max_requests_in_flight`]).
    in_flight: Arc<Semaphore>,
    /// [`Limits::max_buffered_body_bytes`].
    bodies: Arc<BodyBudget>,
}

/// One hyper builder per ALPN outcome: speaking the negotiated protocol directly
/// avoids sniffing the preface, which only matters without ALPN.
struct HttpBuilders {
    auto: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

fn http_builder(limits: &Limits) -> HttpBuilders {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout)
        // hyper refuses less than 8 KiB; the read buffer bounds the header block. The
        // write buffer too: how far a response's sending (in pieces, see PIECE_BYTES)
        // runs ahead of its client before the request stops counting as in flight.
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    HttpBuilders {
        http1: builder.clone().http1_only(),
        http2: builder.clone().http2_only(),
        auto: builder,
    }
}

/// What every request of one connection shares.
struct Connection {
    peer: SocketAddr,
    /// The `[[hostnames]]` entry the SNI selected.
    entry: Option<usize>,
    certificate: ClientCertificate,
    activity: Activity,
}

async fn connection<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared<H>>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let limits = *shared.tls.limits();
    // A client that stops reading is let go after `send_timeout` (see Limits). Should a
    // platform refuse the option, connections are served without it, and it says so once.
    #[cfg(target_os = "linux")]
    if let Err(error) = socket2::SockRef::from(&tcp).set_tcp_user_timeout(Some(limits.send_timeout))
    {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(%error, "cannot set the send timeout (TCP_USER_TIMEOUT); connections are served without it");
        });
    }
    let handshake = async {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
        let server_name = start.client_hello().server_name().map(str::to_owned);
        let mode = shared.tls.client_auth(server_name.as_deref());
        let stream = start.into_stream(shared.tls.server_config(mode)).await?;
        io::Result::Ok((stream, server_name, mode))
    };
    let (mut stream, server_name, mode) = tokio::select! {
        result = tokio::time::timeout(limits.handshake_timeout, handshake) => match result {
            Ok(Ok(done)) => done,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = stop.wait_for(|stop| *stop) => return,
    };
    let (_, tls) = stream.get_ref();
    let certificate = match mode {
        ClientAuth::Off => ClientCertificate::Absent,
        ClientAuth::Request | ClientAuth::Require => presented(tls.peer_certificates()),
    };
    let (mut builder, http2) = match tls.alpn_protocol() {
        Some(b"h2") => (&shared.http.http2, true),
        Some(b"http/1.1") => (&shared.http.http1, false),
        _ => (&shared.http.auto, false),
    };
    tracing::debug!(
        %peer,
        server_name = server_name.as_deref().unwrap_or("-"),
        ?mode,
        version = ?tls.protocol_version(),
        certificate = certificate.leaf().map_or("none", Certificate::thumbprint),
        "TLS handshake done"
    );
    let connection = Arc::new(Connection {
        peer,
        entry: shared.tls.entry(server_name.as_deref()),
        certificate,
        activity: Activity::default(),
    });
    let watched = connection.clone();
    let read = if http2 {
        Bytes::new()
    } else {
        match bodiless::serve(&mut stream, &connection, &shared, &mut stop, &limits).await {
            bodiless::Ended::HandOver { read, served } => {
                if served {
                    // Answered over HTTP/1.1 already: no HTTP/2 preface from here on.
                    builder = &shared.http.http1;
                }
                read
            }
            bodiless::Ended::Closed => {
                // close_notify, as hyper ends a connection; a client that stopped
                // reading does not hold the connection's slot for long.
                use tokio::io::AsyncWriteExt as _;
                let _ = tokio::time::timeout(CLOSE_TIME, stream.shutdown()).await;
                return;
            }
        }
    };
    // HTTP/2 by ALPN, or maybe without it: responses may wait for room.
    let watch_room = !std::ptr::eq(builder, &shared.http.http1);
    let io = TokioIo::new(bodiless::Rewound::new(read, stream));
    let respond = {
        let shared = shared.clone();
        move |request| respond(request, connection.clone(), shared.clone())
    };
    if http2 {
        // Each request's future boxed: hyper moves it into the stream's own task, whose
        // stage is rewritten whole as it runs; a box moves as a pointer (4 % fewer
        // instructions per request). Over HTTP/1.1 it stays in place in the
        // connection's task, and the box would cost more than it saves.
        let boxed = move |request| Box::pin(respond(request));
        let serving = builder.serve_connection(io, service_fn(boxed));
        drive(serving, &watched, watch_room, stop, limits).await;
    } else {
        drive(
            builder.serve_connection(io, service_fn(respond)),
            &watched,
            watch_room,
            stop,
            limits,
        )
        .await;
    }
}

/// How long a connection that [`bodiless::serve`] ended may take to send its
/// close_notify.
const CLOSE_TIME: Duration = Duration::from_secs(1);

/// The TLS stream a connection is served on.
type Io = TokioIo<bodiless::Rewound<tokio_rustls::server::TlsStream<TcpStream>>>;

/// Serves `serving` until it ends, the listener stops or the connection has been idle
/// for [`Limits::idle_timeout`]; in the last two cases it is shut down gracefully. A
/// connection with a response that waited [`Limits::send_timeout`] for room is dropped,
/// shutting down or not (a graceful shutdown would wait for that response for ever),
/// and its requests with it; so is one still draining the send timeout after it began
/// shutting down with nothing in flight (what is left is bytes its client does not take:
/// over HTTP/2, the tail of a last frame h2 took beyond the stream's window).
async fn drive<S>(
    serving: auto::Connection<'_, Io, S, TokioExecutor>,
    watched: &Connection,
    watch_room: bool,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
) where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<ResponseBody>,
            Error = Infallible,
        >,
    S::Future: 'static,
    TokioExecutor: auto::HttpServerConnExec<S::Future, ResponseBody>,
{
    let peer = watched.peer;
    let activity = &watched.activity;
    tokio::pin!(serving);
    let mut shutting_down: Option<Instant> = None;
    loop {
        let next_look = activity.next_look(&limits, shutting_down, watch_room);
        let look = async {
            match next_look {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = serving.as_mut() => {
                if let Err(error) = result {
                    let shutting_down = shutting_down.is_some();
                    tracing::debug!(%peer, %error, shutting_down, "connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if shutting_down.is_none() => {
                serving.as_mut().graceful_shutdown();
                shutting_down = Some(Instant::now());
            }
            () = look => {
                if activity.is_stalled(limits.send_timeout) {
                    tracing::debug!(%peer, "closing a connection whose client left a response waiting for room");
                    return;
                }
                if activity.is_drained_too_long(shutting_down, limits.send_timeout) {
                    tracing::debug!(%peer, "closing a connection whose client does not take what is left to send");
                    return;
                }
                if shutting_down.is_none() && activity.is_idle_for(limits.idle_timeout) {
                    tracing::debug!(%peer, "closing an idle connection");
                    serving.as_mut().graceful_shutdown();
                    shutting_down = Some(Instant::now());
                }
            }
        }
    }
}

/// The presented chain, leaf first, decoded once per connection.
fn presented(chain: Option<&[CertificateDer<'_>]>) -> ClientCertificate {
    let Some(chain) = chain.filter(|chain| !chain.is_empty()) else {
        return ClientCertificate::Absent;
    };
    if chain.len() > cert::MAX_CHAIN_LENGTH {
        let error = CertError::ChainTooLong {
            count: chain.len(),
            max: cert::MAX_CHAIN_LENGTH,
        };
        return ClientCertificate::Undecodable(format!("TLS handshake: {error}"));
    }
    match chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(chain) => ClientCertificate::from_chain(chain),
        Err(error) => ClientCertificate::Undecodable(format!("TLS handshake: {error}")),
    }
}

async fn respond<H: Handler>(
    request: Request<Incoming>,
    connection: Arc<Connection>,
    shared: Arc<Shared<H>>,
) -> Result<Response<ResponseBody>, Infallible> {
    let active = Activity::begin(&connection, request.version());
    let head_request = request.method() == http::Method::HEAD;
    let (response, unread, held) = match shared.in_flight.clone().try_acquire_owned() {
        Err(_) => {
            tracing::debug!(peer = %connection.peer, "too many requests in flight");
            let limit = shared.tls.limits().max_requests_in_flight;
            let message =
                format!("too many requests in flight (limit {limit}); try again shortly\n");
            (busy(&message), Some(Box::new(request.into_body())), None)
        }
        Ok(slot) => match gateway_request(request, &connection, &shared) {
            Ok((request, breach)) => {
                let response = run(&shared, request).await;
                let response = breached(response, &breach, connection.peer);
                (response, None, Some((slot, breach)))
            }
            Err(refusal) => (refusal.response, Some(Box::new(refusal.unread)), None),
        },
    };
    let response = to_hyper(response, head_request);
    Ok(response.map(|body| ResponseBody {
        body,
        rest: None,
        unread,
        active,
        _held: held,
    }))
}

/// The handler's answer, or `500` when it panicked.
///
/// Polled in place, inside the connection's (HTTP/1.1) or the stream's (HTTP/2) task:
/// when hyper drops this future (the client disconnected or reset the stream), the
/// request is dropped with it and lets go of its backend connection and body. A panic
/// is caught at the poll that raised it, so it costs its request a `500`, not the
/// connection; a task per request bought the same at the price of a spawn, a move of
/// the whole pipeline's state and a wake-up.
///
/// Not an `async fn`: its future would hold the request beside the handler's future
/// holding it too, and hyper moves the whole.
fn run<H: Handler>(
    shared: &Arc<Shared<H>>,
    request: GatewayRequest,
) -> impl Future<Output = GatewayResponse> {
    let request_id = Arc::clone(&request.request_id);
    // Never polled again after a panic: a future that panicked is finished.
    AssertUnwindSafe(shared.handler.handle(request))
        .catch_unwind()
        .map(move |caught| {
            caught.unwrap_or_else(|_| {
                tracing::error!(%request_id, "the handler panicked");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
            })
        })
}

/// The handler's response, or `413`/`408`/`503` when a listener limit cut the request
/// body off under it (the handler then saw a broken body).
fn breached(response: GatewayResponse, breach: &Breach, peer: SocketAddr) -> GatewayResponse {
    let Some(limit) = breach.get() else {
        return response;
    };
    tracing::debug!(%peer, %limit, "request body cut off");
    let message = format!("{limit}\n");
    match limit {
        BodyLimit::TooLarge(_) => plain(StatusCode::PAYLOAD_TOO_LARGE, &message),
        BodyLimit::Stalled(_) => plain(StatusCode::REQUEST_TIMEOUT, &message),
        BodyLimit::Crowded(_) => busy(&message),
    }
}

/// A request answered by the listener itself, with the body it did not read.
struct Refusal {
    response: GatewayResponse,
    unread: Incoming,
}

impl Refusal {
    fn with_body(response: GatewayResponse, unread: Incoming) -> Box<Self> {
        Box::new(Self { response, unread })
    }
}

/// Turns the request into the core's, its body a guarded stream, or answers it.
fn gateway_request<H>(
    request: Request<Incoming>,
    connection: &Connection,
    shared: &Shared<H>,
) -> Result<(GatewayRequest, Arc<Breach>), Box<Refusal>> {
    let limits = shared.tls.limits();
    let (parts, body) = request.into_parts();
    let parts = match checked_parts(parts, connection, shared) {
        Ok(parts) => parts,
        Err(refusal) => return Err(Refusal::with_body(*refusal, body)),
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the request body is larger than {} bytes\n",
                limits.max_body_bytes
            ),
        )
    };
    if declared.is_some_and(|len| len > limits.max_body_bytes as u64) {
        // Kept until the response is sent: dropping an HTTP/2 request stream earlier
        // resets it (CANCEL) before the client sees the 413.
        return Err(Refusal::with_body(too_large(), body));
    }
    let declared = declared.map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX));
    let Some(held) = shared.bodies.take(declared) else {
        tracing::debug!(peer = %connection.peer, declared, "request bodies at their limit");
        let limit = BodyLimit::Crowded(shared.bodies.max());
        return Err(Refusal::with_body(busy(&format!("{limit}\n")), body));
    };
    let breach = Arc::new(Breach::new(held));
    let body = Payload::streamed(Guarded::new(body, limits, breach.clone()));
    Ok((gateway_request_of(parts, body, connection, shared), breach))
}

/// What every request must pass whichever server read it: its authority parsed once
/// and matching the connection's SNI entry, the URI rebuilt from it with the
/// connection's scheme, and `Host` present. `Err` is the answer.
fn checked_parts<H>(
    mut parts: http::request::Parts,
    connection: &Connection,
    shared: &Shared<H>,
) -> Result<http::request::Parts, Box<GatewayResponse>> {
    // One parsed authority decides the SNI check and, through the URI, everything after.
    let authority = request_authority(&parts)
        .map_err(|error| Box::new(plain(StatusCode::BAD_REQUEST, &format!("{error}\n"))))?;
    if shared.tls.entry(Some(authority.as_str())) != connection.entry {
        return Err(Box::new(plain(
            StatusCode::MISDIRECTED_REQUEST,
            "this connection was negotiated for another host name; open a new \
             connection whose TLS server name (SNI) matches the Host header\n",
        )));
    }
    // The scheme is the connection's (TLS), whatever an absolute-form target said; the
    // parts are reused as parsed, not written out and parsed again.
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    let mut target = http::uri::Parts::default();
    target.scheme = Some(http::uri::Scheme::HTTPS);
    target.authority = Some(authority.clone());
    target.path_and_query = Some(path);
    // From its parts, not through `Uri::builder`, which moves them through a `Result`
    // at each step.
    parts.uri = http::Uri::from_parts(target).map_err(|_| {
        Box::new(plain(
            StatusCode::BAD_REQUEST,
            "the request target is not a URI\n",
        ))
    })?;
    if !parts.headers.contains_key(header::HOST)
        && let Ok(value) = HeaderValue::from_str(authority.as_str())
    {
        // HTTP/2 carries it as :authority; the core reads one place.
        parts.headers.insert(header::HOST, value);
    }
    Ok(parts)
}

/// The core's request of checked `parts` and `body`, the certificate headers taken out
/// of the parts (the handshake is the only source).
fn gateway_request_of<H>(
    mut parts: http::request::Parts,
    body: Payload,
    connection: &Connection,
    shared: &Shared<H>,
) -> GatewayRequest {
    let carried =
        CertificateHeaders::take(&mut parts.headers, shared.tls.renamed_certificate_headers());
    GatewayRequest {
        parts,
        body,
        stream_response: true,
        client_ip: Some(canonical(connection.peer.ip())),
        certificate: connection.certificate.clone(),
        ignored_certificate_sources: carried.names().collect(),
        request_id: request_id(&shared.random),
    }
}

/// IPv4 clients of a dual-stack socket show as `::ffff:a.b.c.d`; the policy expects
/// `a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// 16 random bytes as lower-case hex; a counter-free id that does not leak volume.
///
/// Taken from a per-thread pool of OS randomness refilled every
/// [`IDS_PER_REFILL`] ids: a `getrandom` system call per request cost more than the id.
fn request_id(random: &ring::rand::SystemRandom) -> Arc<str> {
    use ring::rand::SecureRandom as _;
    thread_local! {
        static POOL: std::cell::RefCell<(usize, [u8; ID_POOL_BYTES])> =
            const { std::cell::RefCell::new((ID_POOL_BYTES, [0; ID_POOL_BYTES])) };
    }
    let mut bytes = [0u8; ID_BYTES];
    let drawn = POOL.with_borrow_mut(|(used, pool)| {
        if *used == ID_POOL_BYTES {
            random.fill(pool).ok()?;
            *used = 0;
        }
        bytes.copy_from_slice(&pool[*used..*used + ID_BYTES]);
        *used += ID_BYTES;
        Some(())
    });
    if drawn.is_none() {
        // The OS generator failing is not a reason to refuse service; fall back to time.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    crate::text::hex_lower(&bytes).into()
}

const ID_BYTES: usize = 16;
const IDS_PER_REFILL: usize = 256;
const ID_POOL_BYTES: usize = ID_BYTES * IDS_PER_REFILL;

fn plain(status: StatusCode, message: &str) -> GatewayResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    GatewayResponse {
        status,
        reason: None,
        headers,
        body: Payload::from(message.as_bytes().to_vec()),
    }
}

/// `503` with `Retry-After`: the listener is at one of its bounds on work in flight;
/// the request itself is fine and may be sent again.
fn busy(message: &str) -> GatewayResponse {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn to_hyper(response: GatewayResponse, head_request: bool) -> Response<Payload> {
    let GatewayResponse {
        status,
        reason,
        mut headers,
        mut body,
    } = response;
    // HTTP/2 forbids them and hyper frames the body itself.
    crate::proxy::strip_hop_by_hop(&mut headers);
    if head_request {
        // No body goes to a HEAD; its length says what a GET would get: the one the
        // response declares (a backend's, passed on as nginx does) when it is one
        // number, with the body left out (hyper checks a body against it), else the
        // body's, as hyper counts it.
        match crate::proxy::declared_length(&headers) {
            Some(length) => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                body = Payload::empty();
            }
            None => {
                headers.remove(header::CONTENT_LENGTH);
            }
        }
    } else {
        // hyper sets it from the body; a stale value would corrupt the framing.
        headers.remove(header::CONTENT_LENGTH);
    }
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    if let Some(reason) = reason
        && let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes())
    {
        // HTTP/1.1 only; HTTP/2 has no reason phrase.
        out.extensions_mut().insert(phrase);
    }
    out
}

fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_32_hex_digits_and_differ() {
        let random = ring::rand::SystemRandom::new();
        // Past two refills of the per-thread pool: every id differs.
        let ids: Vec<Arc<str>> = (0..2 * IDS_PER_REFILL + 3)
            .map(|_| request_id(&random))
            .collect();
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        }
        let distinct: std::collections::HashSet<&Arc<str>> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn connection_headers_and_stale_lengths_do_not_reach_the_client() {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        let response = || GatewayResponse {
            status: StatusCode::FORBIDDEN,
            reason: Some("Invalid client certificate".to_owned()),
            headers: headers.clone(),
            body: Payload::from("no"),
        };
        let out = to_hyper(response(), false);
        assert_eq!(out.headers().len(), 1, "{:?}", out.headers());
        assert_eq!(
            out.extensions()
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| r.as_bytes().to_vec()),
            Some(b"Invalid client certificate".to_vec())
        );
        // A HEAD keeps the length a GET would get, one number, and sends no body.
        let head = to_hyper(response(), true);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "99");
        assert!(head.body().is_empty());
        for lengths in [&["99", "98"][..], &["99", "99"], &["x9"], &["+9"], &[""]] {
            let mut declared = response();
            declared.headers.remove(header::CONTENT_LENGTH);
            for length in lengths {
                declared
                    .headers
                    .append(header::CONTENT_LENGTH, HeaderValue::from_static(length));
            }
            let head = to_hyper(declared, true);
            let kept: Vec<_> = head
                .headers()
                .get_all(header::CONTENT_LENGTH)
                .iter()
                .collect();
            let expected: &[&str] = if lengths == ["99", "99"] {
                &["99"]
            } else {
                &[]
            };
            assert_eq!(kept, expected, "{lengths:?}");
        }
    }

    #[test]
    fn a_reason_phrase_with_a_newline_is_dropped_not_sent() {
        let response = GatewayResponse {
            status: StatusCode::OK,
            reason: Some("ok\r\nx-injected: 1".to_owned()),
            headers: http::HeaderMap::new(),
            body: Payload::empty(),
        };
        let out = to_hyper(response, false);
        assert!(out.extensions().get::<hyper::ext::ReasonPhrase>().is_none());
    }

    #[test]
    fn ipv4_mapped_peers_are_plain_ipv4() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(canonical(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_absent_chain_and_garbage_chains() {
        assert!(matches!(presented(None), ClientCertificate::Absent));
        assert!(matches!(presented(Some(&[])), ClientCertificate::Absent));
        let garbage = [CertificateDer::from(vec![1, 2, 3])];
        assert!(matches!(
            presented(Some(&garbage)),
            ClientCertificate::Undecodable(_)
        ));
    }
}
