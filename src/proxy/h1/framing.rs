//! Where a backend's response body ends (RFC 9112 §6.3), decoded from the bytes read so
//! far: no I/O here, so every framing case is tested byte by byte.

use bytes::{Buf as _, Bytes, BytesMut};

use super::Error;

/// The longest chunk-size line (size, extensions, CRLF) accepted: a line that never ends
/// must not grow the buffer without bound.
const MAX_SIZE_LINE: usize = 4096;

/// The most trailer bytes read (and dropped) after the last chunk, and the longest line
/// among them: a line is searched again as it grows, so its bound keeps that cheap.
const MAX_TRAILERS: usize = 64 * 1024;
const MAX_TRAILER_LINE: usize = 8 * 1024;

/// How the response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body: a response to HEAD, a 204 or a 304.
    Empty,
    /// `Content-Length`: this many bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunk),
    /// Neither: the body ends when the backend closes the connection.
    UntilClose,
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk, reading trailer lines (this many bytes so far).
    Trailers(usize),
}

/// What the bytes read so far yield.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Body bytes.
    Data(Bytes),
    /// Read more first.
    More,
    /// The body is complete.
    End,
}

impl Framing {
    /// Takes what `buf` holds of the body; bytes after the body's end stay in `buf`.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        match self {
            Self::Empty | Self::Length(0) => Ok(Step::End),
            Self::Length(left) => Ok(take(buf, left)),
            Self::UntilClose if buf.is_empty() => Ok(Step::More),
            Self::UntilClose => Ok(Step::Data(buf.split().freeze())),
            Self::Chunked(chunk) => chunk.decode(buf),
        }
    }

    /// The connection closed: the end of a body delimited by it, else a body cut short.
    pub(super) fn at_close(&self) -> Result<Step, Error> {
        match self {
            Self::Empty | Self::Length(0) | Self::UntilClose => Ok(Step::End),
            Self::Length(left) => Err(Error::CutShort(format!("{left} bytes missing"))),
            Self::Chunked(_) => Err(Error::CutShort("before the last chunk".to_owned())),
        }
    }

    /// Bytes still to come, when known.
    pub(super) fn remaining(&self) -> Option<u64> {
        match self {
            Self::Empty => Some(0),
            Self::Length(left) => Some(*left),
            Self::Chunked(_) | Self::UntilClose => None,
        }
    }
}

/// Up to `left` bytes of `buf`.
fn take(buf: &mut BytesMut, left: &mut u64) -> Step {
    if buf.is_empty() {
        return Step::More;
    }
    let n = usize::try_from(*left).map_or(buf.len(), |left| left.min(buf.len()));
    *left -= n as u64;
    Step::Data(buf.split_to(n).freeze())
}

impl Chunk {
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        loop {
            match self {
                Self::Size => {
                    let Some(line) = line(buf, MAX_SIZE_LINE, "chunk-size line")? else {
                        return Ok(Step::More);
                    };
                    let size = chunk_size(&line)?;
                    *self = if size == 0 {
                        Self::Trailers(0)
                    } else {
                        Self::Data(size)
                    };
                }
                Self::Data(left) => {
                    let step = take(buf, left);
                    if *left == 0 {
                        *self = Self::DataEnd;
                    }
                    return Ok(step);
                }
                Self::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if buf[..2] != *b"\r\n" {
                        return Err(Error::Chunked("no CRLF after a chunk's data"));
                    }
                    buf.advance(2);
                    *self = Self::Size;
                }
                Self::Trailers(seen) => {
                    let left = MAX_TRAILERS - *seen;
                    let (limit, what) = if left < MAX_TRAILER_LINE {
                        (left, "trailer section")
                    } else {
                        (MAX_TRAILER_LINE, "trailer line")
                    };
                    let Some(line) = line(buf, limit, what)? else {
                        return Ok(Step::More);
                    };
                    if line.len() == 2 {
                        return Ok(Step::End);
                    }
                    *seen += line.len();
                }
            }
        }
    }
}

/// The next CRLF-terminated line of `buf` (CRLF included), if it is complete; longer than
/// `limit` is an error.
fn line(buf: &mut BytesMut, limit: usize, what: &'static str) -> Result<Option<BytesMut>, Error> {
    let searched = &buf[..buf.len().min(limit)];
    match memchr::memchr(b'\n', searched) {
        Some(end) if end > 0 && buf[end - 1] == b'\r' => Ok(Some(buf.split_to(end + 1))),
        Some(_) => Err(Error::Chunked("a line ends without CR")),
        None if buf.len() >= limit => Err(Error::LineTooLong { what, limit }),
        None => Ok(None),
    }
}

/// The size a chunk-size line declares (hex digits, then extensions, ignored).
fn chunk_size(line: &[u8]) -> Result<u64, Error> {
    let line = &line[..line.len() - 2];
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let blank = line[digits..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let rest = &line[digits + blank..];
    if digits == 0 || !(rest.is_empty() || rest[0] == b';') {
        return Err(Error::Chunked("a chunk size that is not hexadecimal"));
    }
    if digits > 15 {
        return Err(Error::Chunked("a chunk size of more than 15 hex digits"));
    }
    Ok(line[..digits].iter().fold(0, |size, &b| {
        let digit = (b as char).to_digit(16).unwrap_or(0);
        size * 16 + u64::from(digit)
    }))
}

#[cfg(test)]
mod tests {
    use super::super::head::{Parsed, parse_response};
    use super::*;

    /// Decodes `input` fed in pieces of `piece` bytes; the body and the bytes left over.
    fn decode_in_pieces(
        mut framing: Framing,
        input: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut pieces = input.chunks(piece);
        loop {
            match framing.decode(&mut buf)? {
                Step::Data(data) => body.extend_from_slice(&data),
                Step::End => return Ok((body, buf.to_vec())),
                Step::More => match pieces.next() {
                    Some(piece) => buf.extend_from_slice(piece),
                    None => {
                        assert_eq!(framing.at_close()?, Step::End);
                        return Ok((body, buf.to_vec()));
                    }
                },
            }
        }
    }

    fn chunked() -> Framing {
        Framing::Chunked(Chunk::Size)
    }

    const CHUNKED: &[u8] =
        b"5;name=value\r\nhello\r\n7 ; x\r\n, world\r\n0\r\nexpires: never\r\nx: y\r\n\r\nNEXT";

    #[test]
    fn a_chunked_body_decodes_the_same_whatever_pieces_it_arrives_in() {
        for piece in [1, 2, 3, 7, CHUNKED.len()] {
            let (body, rest) = decode_in_pieces(chunked(), CHUNKED, piece).unwrap();
            assert_eq!(body, b"hello, world", "in pieces of {piece}");
            assert_eq!(rest, b"NEXT"[..rest.len()], "in pieces of {piece}");
        }
    }

    #[test]
    fn a_content_length_body_stops_at_its_length() {
        let (body, rest) = decode_in_pieces(Framing::Length(5), b"hellogarbage", 3).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(rest, b"g", "what follows the body stays unread");
        let (body, rest) = decode_in_pieces(Framing::Length(5), b"hellogarbage", 100).unwrap();
        assert_eq!(
            (body.as_slice(), rest.as_slice()),
            (&b"hello"[..], &b"garbage"[..])
        );
    }

    #[test]
    fn a_body_cut_short_is_an_error_and_one_delimited_by_close_is_not() {
        assert!(matches!(
            decode_in_pieces(Framing::Length(10), b"hell", 2),
            Err(Error::CutShort(_))
        ));
        assert!(matches!(
            decode_in_pieces(chunked(), b"5\r\nhello\r\n", 4),
            Err(Error::CutShort(_))
        ));
        let (body, _) = decode_in_pieces(Framing::UntilClose, b"all of it", 4).unwrap();
        assert_eq!(body, b"all of it");
    }

    #[test]
    fn an_empty_body_reads_nothing() {
        let (body, rest) = decode_in_pieces(Framing::Empty, b"HTTP/1.1 200", 5).unwrap();
        assert!(body.is_empty());
        assert!(rest.is_empty(), "nothing was even read");
    }

    #[test]
    fn bad_chunk_framing_is_refused() {
        for (input, why) in [
            (&b"zz\r\nhello\r\n0\r\n\r\n"[..], "not hexadecimal"),
            (b"\r\n", "not hexadecimal"),
            (b"5 x\r\nhello\r\n0\r\n\r\n", "not hexadecimal"),
            (b"5\x0c\r\nhello\r\n0\r\n\r\n", "not hexadecimal"),
            (b"5\r\r\nhello\r\n0\r\n\r\n", "not hexadecimal"),
            (b"5\nhello\r\n0\r\n\r\n", "without CR"),
            (b"5\r\nhelloXY0\r\n\r\n", "no CRLF"),
            (b"10000000000000000\r\n", "15 hex digits"),
        ] {
            let error = decode_in_pieces(chunked(), input, 3).unwrap_err();
            assert!(error.to_string().contains(why), "{error} for {input:?}");
        }
    }

    #[test]
    fn an_endless_size_line_or_trailer_section_stops_at_its_limit() {
        let endless = vec![b'f'; MAX_SIZE_LINE * 2];
        let error = decode_in_pieces(chunked(), &endless, 1000).unwrap_err();
        assert!(
            matches!(
                error,
                Error::LineTooLong {
                    limit: MAX_SIZE_LINE,
                    ..
                }
            ),
            "{error}"
        );
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < MAX_TRAILERS + 100 {
            trailers.extend_from_slice(b"x-trailer: padding padding padding\r\n");
        }
        let error = decode_in_pieces(chunked(), &trailers, 4096).unwrap_err();
        assert!(matches!(error, Error::LineTooLong { .. }), "{error}");
        let mut endless = b"0\r\nx-trailer: ".to_vec();
        endless.resize(MAX_TRAILER_LINE * 2, b'a');
        let error = decode_in_pieces(chunked(), &endless, 1000).unwrap_err();
        assert!(
            matches!(
                error,
                Error::LineTooLong {
                    limit: MAX_TRAILER_LINE,
                    ..
                }
            ),
            "{error}"
        );
    }

    /// Bytes assembled from pieces of HTTP, so that most inputs get past the first
    /// check: head and body, parsed and decoded, are refused or read, never a panic.
    #[test]
    fn arbitrary_responses_are_read_or_refused_without_a_panic() {
        const PIECES: &[&[u8]] = &[
            b"HTTP/1.1 ",
            b"HTTP/1.0 ",
            b"200 OK",
            b"101 ",
            b"204 ",
            b"304 ",
            b"100 ",
            b"\r\n",
            b"\n",
            b"\r",
            b"content-length: ",
            b"transfer-encoding: ",
            b"chunked",
            b"connection: close",
            b"0",
            b"5",
            b"ff",
            b"fffffffffffffff",
            b"18446744073709551616",
            b";x=y",
            b",",
            b":",
            b" ",
            b"hello",
            b"\xff\x00",
            b"-1",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let input: Vec<u8> = (0..next() % 40)
                .flat_map(|_| {
                    PIECES[(next() % PIECES.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            let method = if next() % 4 == 0 {
                http::Method::HEAD
            } else {
                http::Method::GET
            };
            let mut rest = BytesMut::from(&input[..]);
            let framing = match parse_response(&mut rest, &method) {
                Ok(Parsed::Final(head)) => head.framing,
                _ => {
                    rest = BytesMut::from(&input[..]);
                    chunked()
                }
            };
            for piece in [1, 5, 64] {
                let _ = decode_in_pieces(framing, &rest, piece);
            }
        }
    }

    #[test]
    fn the_largest_chunk_size_accepted_does_not_overflow() {
        let mut chunk = Chunk::Size;
        let mut buf = BytesMut::from(&b"fffffffffffffff\r\nab"[..]);
        assert_eq!(
            chunk.decode(&mut buf).unwrap(),
            Step::Data(Bytes::from_static(b"ab"))
        );
        assert_eq!(chunk, Chunk::Data(0x0fff_ffff_ffff_fffd));
    }
}
