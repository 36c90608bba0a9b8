//! The request head certgate writes and the response head it reads, with the framing
//! rules that decide where each body ends.

use bytes::{Buf as _, BufMut as _, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::Error;
use super::framing::{Chunk, Framing};

/// The largest response head read (status line and headers), as nginx's 64 KiB
/// `large_client_header_buffers` bound theirs.
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// The most headers a response may have (hyper's default).
const MAX_HEADERS: usize = 100;

/// How the request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RequestFraming {
    /// No body, and no header saying so.
    None,
    /// `Content-Length`.
    Length(u64),
}

impl RequestFraming {
    /// A body of `len` bytes: an empty one is declared only where a body is expected
    /// (RFC 9110 §8.6: a POST with no body says `Content-Length: 0`).
    pub(super) fn of(method: &Method, len: u64) -> Self {
        match len {
            0 if matches!(
                *method,
                Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::DELETE
            ) =>
            {
                Self::None
            }
            len => Self::Length(len),
        }
    }
}

/// Writes the request head: the request's own headers, except those that frame the
/// message or the connection, which certgate writes from the body it actually sends.
pub(super) fn write_request<B>(
    request: &http::Request<B>,
    framing: RequestFraming,
    out: &mut BytesMut,
) {
    out.put_slice(request.method().as_str().as_bytes());
    out.put_u8(b' ');
    // `path()` is "/" for an empty path (`http://host?x=1` asks for `/?x=1`).
    out.put_slice(request.uri().path().as_bytes());
    if let Some(query) = request.uri().query() {
        out.put_u8(b'?');
        out.put_slice(query.as_bytes());
    }
    out.put_slice(b" HTTP/1.1\r\n");
    if !request.headers().contains_key(header::HOST)
        && let Some(host) = request.uri().host()
    {
        out.put_slice(b"host: ");
        out.put_slice(host.as_bytes());
        if let Some(port) = request.uri().port()
            && port.as_u16() != 80
        {
            out.put_u8(b':');
            out.put_slice(port.as_str().as_bytes());
        }
        out.put_slice(b"\r\n");
    }
    for (name, value) in request.headers() {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    match framing {
        RequestFraming::None => {}
        RequestFraming::Length(len) => {
            out.put_slice(b"content-length: ");
            out.put_slice(itoa::Buffer::new().format(len).as_bytes());
            out.put_slice(b"\r\n");
        }
    }
    out.put_slice(b"\r\n");
}

/// A final response's head.
#[derive(Debug)]
pub(super) struct ResponseHead {
    pub(super) status: StatusCode,
    /// Without `Keep-Alive`, and without `Connection` when it names only `keep-alive` or
    /// `close`: hop-by-hop, read into [`Self::reusable`].
    pub(super) headers: HeaderMap,
    pub(super) framing: Framing,
    /// The connection may carry another request after this response.
    pub(super) reusable: bool,
}

/// True when `buf` holds a head's end (a blank line) that begins at or after `from`
/// less the three bytes a terminator read in two pieces may start with.
pub(super) fn ends_within(buf: &[u8], from: usize) -> bool {
    let tail = &buf[from.saturating_sub(3).min(buf.len())..];
    memchr::memchr_iter(b'\n', tail)
        .any(|at| matches!(tail[at + 1..], [b'\n', ..] | [b'\r', b'\n', ..]))
}

/// What the bytes read so far hold.
#[derive(Debug)]
pub(super) enum Parsed {
    /// A final response, its head taken off the buffer.
    Final(ResponseHead),
    /// An interim (1xx) response, taken off the buffer and dropped.
    Interim,
    /// Read more first.
    Partial,
}

/// Parses a response head to a request with `method` from the start of `buf`, and takes
/// it off `buf` when it is complete.
pub(super) fn parse_response(buf: &mut BytesMut, method: &Method) -> Result<Parsed, Error> {
    // Uninitialized: httparse writes the lines it finds; zeroing a hundred (3 KiB) for
    // every response would be work for nothing.
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(Error::HeadTooLarge(MAX_HEAD));
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::TooManyHeaders(MAX_HEADERS)),
        Err(e) => return Err(Error::Malformed(e.to_string())),
    };
    if len > MAX_HEAD {
        return Err(Error::HeadTooLarge(MAX_HEAD));
    }
    let code = parsed.code.unwrap_or_default();
    let status =
        StatusCode::from_u16(code).map_err(|_| Error::Malformed(format!("status {code}")))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(Error::SwitchingProtocols);
    }
    if status.is_informational() {
        buf.advance(len);
        return Ok(Parsed::Interim);
    }
    // Where each name and value lie in the head: the values become slices of it once it
    // is split off the buffer, where copies cost an allocation each.
    let start = buf.as_ptr() as usize;
    let offset = |s: &[u8]| (s.as_ptr() as usize).wrapping_sub(start);
    // A vector sized to the headers: an array for the most a head may have was zeroed
    // at each response, which cost more than the copies it saves.
    let spans: Vec<(usize, usize, usize, usize)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                offset(h.name.as_bytes()),
                h.name.len(),
                offset(h.value),
                h.value.len(),
            )
        })
        .collect();
    let version = parsed.version;
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    let mut close = false;
    // Noted here, so that `framing` looks up only the framing headers there are.
    let (mut length, mut coding) = (false, false);
    // httparse's slices lie in the head; checked all the same, never indexed blindly.
    let within = |at: usize, len: usize| at.checked_add(len).filter(|&end| end <= head.len());
    for &(name_at, name_len, value_at, value_len) in &spans {
        let name = within(name_at, name_len).map_or(&[][..], |end| &head[name_at..end]);
        let name = crate::proxy::wire_name(name).map_err(|_| {
            Error::Malformed(format!("header name {:?}", String::from_utf8_lossy(name)))
        })?;
        let value = match within(value_at, value_len) {
            _ if value_len == 0 => HeaderValue::from_static(""),
            Some(end) => HeaderValue::from_maybe_shared(head.slice(value_at..end))
                .map_err(|_| Error::Malformed(format!("the value of {name}")))?,
            None => return Err(Error::Malformed(format!("the value of {name}"))),
        };
        if name == header::CONNECTION {
            // Read here and left out when it names only what this connection does
            // (`keep-alive`, `close`), the usual backend answer: hop-by-hop, it would be
            // stripped before anyone else sees it. One naming other headers is kept for
            // the strip to remove them with it.
            let mut only_persistence = true;
            for token in elements(&value) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if !token.is_empty() && !token.eq_ignore_ascii_case(b"keep-alive") {
                    // An empty element counts for nothing (RFC 9110 §5.6.1).
                    only_persistence = false;
                }
            }
            if only_persistence {
                continue;
            }
        } else if name.as_str() == "keep-alive" {
            continue; // hop-by-hop, and certgate keeps its own idle limit
        }
        length |= name == header::CONTENT_LENGTH;
        coding |= name == header::TRANSFER_ENCODING;
        headers.append(name, value);
    }
    let framing = framing(method, status, &headers, length, coding)?;
    let reusable = version == Some(1) && framing != Framing::UntilClose && !close;
    Ok(Parsed::Final(ResponseHead {
        status,
        headers,
        framing,
        reusable,
    }))
}

/// RFC 9112 §6.3, refusing what could be read two ways (request smuggling's raw
/// material) rather than choosing one. `length` and `coding`: whether `headers` has a
/// `Content-Length`, a `Transfer-Encoding`.
fn framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
    length: bool,
    coding: bool,
) -> Result<Framing, Error> {
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if coding && length {
        return Err(Error::Ambiguous(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if coding {
        let mut codings = tokens(headers.get_all(header::TRANSFER_ENCODING));
        return match (codings.next(), codings.next()) {
            (Some(coding), None) if coding.eq_ignore_ascii_case(b"chunked") => {
                Ok(Framing::Chunked(Chunk::Size))
            }
            _ => Err(Error::Coding(joined(headers, &header::TRANSFER_ENCODING))),
        };
    }
    if length {
        return match crate::proxy::declared_length(headers) {
            Some(len) => Ok(Framing::Length(len)),
            None => Err(Error::Length(joined(headers, &header::CONTENT_LENGTH))),
        };
    }
    Ok(Framing::UntilClose)
}

/// The comma-separated elements of every value of one header, trimmed.
fn tokens(values: header::GetAll<'_, HeaderValue>) -> impl Iterator<Item = &[u8]> {
    values.into_iter().flat_map(elements)
}

/// The comma-separated elements of one header value, trimmed.
fn elements(value: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
}

/// Every `name` header's value, for an error message.
fn joined(headers: &HeaderMap, name: &header::HeaderName) -> String {
    let values: Vec<_> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .collect();
    values.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str, method: Method) -> Result<Parsed, Error> {
        parse_response(&mut BytesMut::from(head), &method)
    }

    fn final_head(head: &str, method: Method) -> ResponseHead {
        match parse(head, method) {
            Ok(Parsed::Final(head)) => head,
            other => panic!("not a final response: {other:?}"),
        }
    }

    #[test]
    fn the_framing_follows_rfc_9112() {
        for (head, method, framing, reusable) in [
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
                Method::GET,
                Framing::Length(5),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n",
                Method::GET,
                Framing::Length(5),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n",
                Method::GET,
                Framing::Chunked(Chunk::Size),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\n\r\n",
                Method::GET,
                Framing::UntilClose,
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
                Method::HEAD,
                Framing::Empty,
                true,
            ),
            (
                "HTTP/1.1 204 No Content\r\n\r\n",
                Method::GET,
                Framing::Empty,
                true,
            ),
            (
                "HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n",
                Method::GET,
                Framing::Empty,
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: Keep-Alive, close\r\n\r\n",
                Method::GET,
                Framing::Length(5),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\n",
                Method::GET,
                Framing::Length(5),
                false,
            ),
        ] {
            let parsed = final_head(head, method);
            assert_eq!(
                (parsed.framing, parsed.reusable),
                (framing, reusable),
                "{head:?}"
            );
        }
    }

    #[test]
    fn framing_that_could_be_read_two_ways_is_refused() {
        for (head, why) in [
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
                "both Content-Length and Transfer-Encoding",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                "\"5, 6\"",
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n", "\"+5\""),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
                "99999999999999999999",
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
                "\"gzip\"",
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
                "\"gzip, chunked\"",
            ),
            (
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
                "101",
            ),
            ("HTTP/1.1 2000 Huh\r\n\r\n", "malformed"),
            ("HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "malformed"),
        ] {
            let error = parse(head, Method::GET).unwrap_err();
            assert!(error.to_string().contains(why), "{error} for {head:?}");
        }
    }

    #[test]
    fn interim_responses_are_skipped_by_their_length() {
        let mut buf =
            BytesMut::from("HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n");
        let Ok(Parsed::Interim) = parse_response(&mut buf, &Method::GET) else {
            panic!()
        };
        assert_eq!(&buf[..], b"HTTP/1.1 200 OK\r\n");
        assert!(matches!(
            parse_response(&mut buf, &Method::GET),
            Ok(Parsed::Partial)
        ));
    }

    /// The head is taken off the buffer, what follows stays, and the header values are
    /// those of the head, byte for byte (slices of it, not copies).
    #[test]
    fn a_final_head_is_taken_off_the_buffer_with_its_values() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Empty:\r\nX-Tag: a \"b\"\r\n\r\nok",
        );
        let Ok(Parsed::Final(head)) = parse_response(&mut buf, &Method::GET) else {
            panic!()
        };
        assert_eq!(&buf[..], b"ok");
        assert_eq!(head.headers["content-length"], "2");
        assert_eq!(head.headers["x-empty"], "");
        assert_eq!(head.headers["x-tag"], "a \"b\"");
        assert_eq!(head.framing, Framing::Length(2));
    }

    /// `Connection` naming only the connection's persistence, and `Keep-Alive`, are read
    /// and left out; one naming another header stays, for the hop-by-hop strip.
    #[test]
    fn persistence_headers_are_read_and_left_out() {
        let head = final_head(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive,\r\n\
             Keep-Alive: timeout=5\r\nX-Kept: 1\r\n\r\n",
            Method::GET,
        );
        assert!(head.reusable);
        let names: Vec<&str> = head.headers.keys().map(http::HeaderName::as_str).collect();
        assert_eq!(names, ["content-length", "x-kept"]);

        let head = final_head(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\
             connection: x-trace, CLOSE\r\nX-Trace: 1\r\n\r\n",
            Method::GET,
        );
        assert!(!head.reusable);
        assert_eq!(head.headers["connection"], "x-trace, CLOSE");
        assert_eq!(head.headers.get_all("connection").iter().count(), 1);
    }

    #[test]
    fn a_head_is_bounded_in_size_and_headers() {
        let endless = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD));
        assert!(matches!(
            parse(&endless, Method::GET),
            Err(Error::HeadTooLarge(MAX_HEAD))
        ));
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "x: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(
            parse(&many, Method::GET),
            Err(Error::TooManyHeaders(MAX_HEADERS))
        ));
    }

    fn written(request: http::Request<()>, framing: RequestFraming) -> String {
        let mut out = BytesMut::new();
        write_request(&request, framing, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn the_request_head_frames_the_body_certgate_sends_not_the_one_a_header_claims() {
        let request = http::Request::post("http://[::1]:8080/a/b?q=1")
            .header("x-one", "1")
            .header("content-length", "999")
            .header("transfer-encoding", "chunked")
            .header("connection", "close")
            .body(())
            .unwrap();
        assert_eq!(
            written(request, RequestFraming::Length(3)),
            "POST /a/b?q=1 HTTP/1.1\r\nhost: [::1]:8080\r\nx-one: 1\r\ncontent-length: 3\r\n\r\n"
        );
        let request = http::Request::get("http://backend")
            .header("host", "front.example")
            .body(())
            .unwrap();
        assert_eq!(
            written(request, RequestFraming::None),
            "GET / HTTP/1.1\r\nhost: front.example\r\n\r\n"
        );
    }

    #[test]
    fn a_url_without_a_path_asks_for_the_root_and_the_default_port_is_not_written() {
        let request = http::Request::get("http://backend:80?x=1")
            .body(())
            .unwrap();
        assert_eq!(
            written(request, RequestFraming::None),
            "GET /?x=1 HTTP/1.1\r\nhost: backend\r\n\r\n"
        );
    }

    #[test]
    fn a_head_ends_at_its_blank_line_even_one_read_in_two_pieces() {
        let head = b"HTTP/1.1 200 OK\r\nx: y\r\n\r\n";
        for split in 0..head.len() {
            assert!(ends_within(head, split), "searched from {split}");
        }
        assert!(ends_within(b"HTTP/1.1 200 OK\n\n", 15));
        assert!(!ends_within(b"HTTP/1.1 200 OK\r\nx: y\r\n", 0));
        assert!(!ends_within(b"", 10));
    }

    #[test]
    fn an_empty_body_is_declared_only_where_a_body_is_expected() {
        assert_eq!(RequestFraming::of(&Method::GET, 0), RequestFraming::None);
        assert_eq!(
            RequestFraming::of(&Method::POST, 0),
            RequestFraming::Length(0)
        );
        assert_eq!(
            RequestFraming::of(&Method::GET, 4),
            RequestFraming::Length(4)
        );
    }
}
