//! The response body the listener hands hyper: in pieces, watched while it waits for
//! room, holding the request's place and unread body until it is sent.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use super::activity::Active;
use crate::body::{BoxError, Payload};
use crate::frontend::tls::request_body::Breach;

/// The response body, holding on to an unread request body until the response is
/// sent: dropping an HTTP/2 request stream earlier resets it (`CANCEL`) before the
/// client sees the response.
pub(super) struct ResponseBody {
    pub(super) body: Payload,
    /// What is left of a frame of `body` larger than [`PIECE_BYTES`] (boxed, as
    /// `unread`: few responses have one).
    pub(super) rest: Option<Box<Bytes>>,
    /// Not read while the response goes out; then drained (see [`drain`]). Boxed: only
    /// the listener's refusals have one, and every response's body is moved several
    /// times on its way out.
    pub(super) unread: Option<Box<Incoming>>,
    /// Counts the request as in flight until its response is sent, and as waiting while
    /// hyper holds it for room.
    pub(super) active: Active,
    /// The request's place among [`Limits::max_requests_in_flight`](crate::frontend::tls::Limits::max_requests_in_flight) and its bytes of
    /// [`Limits::max_buffered_body_bytes`](crate::frontend::tls::Limits::max_buffered_body_bytes) (a policy may answer with the body it read),
    /// until the response is sent; `None` for the listener's own answers.
    pub(super) _held: Option<(OwnedSemaphorePermit, Arc<Breach>)>,
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let (Some(unread), Ok(runtime)) =
            (self.unread.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(drain(*unread));
        }
    }
}

/// The most of a response body handed to hyper at once. hyper takes a body frame whole
/// (a policy's answer, or a Lambda's, is one frame of up to 16 MiB) and drops the body
/// after its last, so a large frame would end its request (its place in flight, and the
/// idle clock's start) long before its bytes reach a slow client. In pieces of HTTP/2's
/// default frame size a request lasts until hyper takes its last piece, and a piece that
/// waits for room waits for at most this much of the client's reading.
const PIECE_BYTES: usize = 16 * 1024;

/// The most of a refused request's body that is read and dropped after the answer.
const DRAIN_BYTES: usize = 256 * 1024;
/// How long a refused request's body is read after the answer, at most.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads what is left of a refused request's body, within [`DRAIN_BYTES`] and
/// [`DRAIN_TIME`]. The answer's last frame may still be queued when the response body
/// is dropped; a reset of the request stream then could overtake it (curl: "Stream error
/// in the HTTP/2 framing layer" instead of the 413). A small body ends its stream
/// cleanly this way; a large one is still cut off, long after the answer left.
async fn drain(mut body: Incoming) {
    use http_body_util::BodyExt as _;
    let mut read = 0;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, Bytes::len);
            if read > DRAIN_BYTES {
                return;
            }
        }
    })
    .await;
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        let this = &mut *self;
        this.active.got_room();
        let polled = match this.rest.as_deref_mut() {
            Some(rest) => {
                let piece = rest.split_to(rest.len().min(PIECE_BYTES));
                if rest.is_empty() {
                    this.rest = None;
                }
                Poll::Ready(Some(Ok(hyper::body::Frame::data(piece))))
            }
            None => match std::pin::Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(match frame.into_data() {
                    Ok(mut data) => {
                        if data.len() > PIECE_BYTES {
                            this.rest = Some(Box::new(data.split_off(PIECE_BYTES)));
                        }
                        hyper::body::Frame::data(data)
                    }
                    Err(frame) => frame,
                }))),
                other => other,
            },
        };
        // hyper (1.12 on) asks for a frame before it waits for room, so a response waits
        // only with a frame in hand, its last one too: hyper holds that until there is
        // room for it, then drops the body.
        if this.active.http2 && matches!(polled, Poll::Ready(Some(Ok(_)))) {
            this.active.wait_for_room();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        let mut hint = self.body.size_hint();
        let rest = self.rest.as_ref().map_or(0, |rest| rest.len() as u64);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint.set_lower(hint.lower().saturating_add(rest));
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use futures_util::FutureExt as _;
    use http::HeaderValue;

    use super::*;
    use crate::frontend::tls::server::Connection;
    use crate::frontend::tls::server::activity::Activity;
    use crate::gateway::ClientCertificate;

    /// A response body of `payload` for an HTTP/2 request, and its connection.
    fn http2_body(payload: Payload) -> (ResponseBody, Arc<Connection>) {
        let connection = Arc::new(Connection {
            peer: "127.0.0.1:1".parse().unwrap(),
            entry: None,
            certificate: ClientCertificate::Absent,
            activity: Activity::default(),
        });
        let body = ResponseBody {
            body: payload,
            rest: None,
            unread: None,
            active: Activity::begin(&connection, http::Version::HTTP_2),
            _held: None,
        };
        (body, connection)
    }

    /// The next frame of a body whose frames are all at hand.
    fn next(body: &mut ResponseBody) -> Option<hyper::body::Frame<Bytes>> {
        use http_body_util::BodyExt as _;
        body.frame()
            .now_or_never()
            .expect("at hand")
            .map(|frame| frame.unwrap())
    }

    #[test]
    fn a_whole_body_goes_out_in_pieces_each_waiting_for_room_until_asked_for_the_next() {
        use hyper::body::Body as _;
        let (mut body, connection) = http2_body(Payload::from(vec![7; 2 * PIECE_BYTES + 100]));
        let waiting = || connection.activity.oldest_waiting().is_some();
        for (left, piece) in [
            (2 * PIECE_BYTES + 100, PIECE_BYTES),
            (PIECE_BYTES + 100, PIECE_BYTES),
            (100, 100),
        ] {
            assert_eq!(body.size_hint().exact(), Some(left as u64));
            assert!(!body.is_end_stream());
            let data = next(&mut body).unwrap().into_data().unwrap();
            assert_eq!(data.len(), piece);
            assert!(data.iter().all(|&b| b == 7));
            assert!(waiting(), "a piece hyper holds waits for room");
        }
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(next(&mut body).is_none());
        assert!(!waiting(), "asked again: no longer waiting");
        drop(body);
        assert_eq!(connection.activity.in_flight.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_streamed_body_is_cut_only_past_a_piece_and_keeps_its_empty_frames_and_trailers() {
        let (mut tx, stream) = http_body_util::channel::Channel::<Bytes, BoxError>::new(8);
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-done", HeaderValue::from_static("1"));
        for frame in [
            hyper::body::Frame::data(Bytes::from(vec![1; PIECE_BYTES])),
            hyper::body::Frame::data(Bytes::from(vec![2; PIECE_BYTES + 1])),
            hyper::body::Frame::data(Bytes::new()),
            hyper::body::Frame::trailers(trailers.clone()),
        ] {
            assert!(tx.try_send(frame).is_ok());
        }
        drop(tx);
        let (mut body, connection) = http2_body(Payload::streamed(stream));
        let (mut data, mut ended_with) = (Vec::new(), None);
        while let Some(frame) = next(&mut body) {
            assert!(ended_with.is_none(), "a frame after the trailers");
            match frame.into_data() {
                Ok(bytes) => data.push((bytes.len(), bytes.first().copied())),
                Err(frame) => ended_with = frame.into_trailers().ok(),
            }
        }
        assert_eq!(ended_with, Some(trailers));
        assert_eq!(
            data,
            [
                (PIECE_BYTES, Some(1)),
                (PIECE_BYTES, Some(2)),
                (1, Some(2)),
                (0, None)
            ]
        );
        drop(body);
        assert!(connection.activity.oldest_waiting().is_none());
    }
}
