//! A response body read from the backend's connection as the caller polls it, on the
//! caller's task; the connection goes back to the pool when the body has ended cleanly.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::uri::Authority;
use hyper::body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;

use super::framing::{Framing, Step};
use super::pool::Pool;
use super::{Error, READ_SIZE};

/// The connection a response arrived on, with what has been read and not yet used.
#[derive(Debug)]
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    pub(super) buf: BytesMut,
    pub(super) origin: Authority,
    pub(super) pool: Arc<Pool>,
}

impl Connection {
    /// Back to the pool if nothing is left unread, else closed: bytes after a response's
    /// end are a backend speaking out of turn.
    pub(super) fn release(self, reusable: bool) {
        if reusable && self.buf.is_empty() {
            self.pool.put(self.origin, self.stream);
        }
    }
}

/// A body still arriving.
#[derive(Debug)]
pub(super) struct ResponseBody {
    /// `None` once the body has ended.
    connection: Option<Connection>,
    framing: Framing,
    reusable: bool,
}

impl ResponseBody {
    pub(super) fn new(connection: Connection, framing: Framing, reusable: bool) -> Self {
        Self {
            connection: Some(connection),
            framing,
            reusable,
        }
    }

    /// The body has ended cleanly: its connection goes back to the pool if it may.
    fn end(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.release(self.reusable);
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        let Some(connection) = this.connection.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            let step = match this.framing.decode(&mut connection.buf) {
                Ok(Step::More) => {
                    connection.buf.reserve(READ_SIZE);
                    let read = ready!(tokio_util::io::poll_read_buf(
                        Pin::new(&mut connection.stream),
                        cx,
                        &mut connection.buf
                    ));
                    match read {
                        Ok(0) => this.framing.at_close(),
                        Ok(_) => continue,
                        Err(e) => Err(Error::Receive(e)),
                    }
                }
                step => step,
            };
            return match step {
                Ok(Step::Data(data)) => {
                    // The last bytes of a known length end the body now: hyper stops
                    // polling a body once it has what `size_hint` promised, and would
                    // never see the end that frees the connection.
                    if this.framing.remaining() == Some(0) {
                        this.end();
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Ok(Step::End | Step::More) => {
                    this.end();
                    Poll::Ready(None)
                }
                Err(e) => {
                    this.connection = None;
                    Poll::Ready(Some(Err(e)))
                }
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.connection.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (self.connection.as_ref(), self.framing.remaining()) {
            (None, _) => SizeHint::with_exact(0),
            (Some(_), Some(left)) => SizeHint::with_exact(left),
            (Some(_), None) => SizeHint::default(),
        }
    }
}
