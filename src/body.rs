//! Message bodies as they cross certgate: whole, or streamed as they arrive.
//!
//! The TLS listener hands the core the client's body as a stream, and the proxy hands
//! it the backend's; they flow through untouched, so memory stays flat whatever their
//! size. Only when a policy of the route reads a body (`context.Request.Body`,
//! `context.Response.Body`) does the core collect it, bounded. Lambda delivers and
//! returns whole bodies.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body, Frame, SizeHint};

/// The most certgate reads of a body a policy uses, or of a response Lambda returns, and
/// the most a policy may make one (`find-and-replace`); bodies no policy reads stream
/// through without limit.
pub const MAX_BUFFERED_BODY: usize = 16 * 1024 * 1024;

/// Any error a streamed body can end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body.
pub enum Payload {
    /// All of it, in memory.
    Whole(Bytes),
    /// Still arriving from the client or the backend.
    Streamed(UnsyncBoxBody<Bytes, BoxError>),
}

/// Why a body could not be collected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// Longer than the caller buffers.
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The peer broke off, or a limit of the front end cut the body off.
    #[error("the body broke off: {0}")]
    Broken(String),
}

impl Payload {
    pub fn empty() -> Self {
        Self::Whole(Bytes::new())
    }

    /// A body that arrives as `body` yields it.
    pub fn streamed<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self::Streamed(body.map_err(Into::into).boxed_unsync())
    }

    /// The bytes, when the body is whole.
    pub fn as_whole(&self) -> Option<&Bytes> {
        match self {
            Self::Whole(bytes) => Some(bytes),
            Self::Streamed(_) => None,
        }
    }

    /// True when the body is known to be empty (whole and empty, or a stream that has
    /// already ended, such as a GET's).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Whole(bytes) => bytes.is_empty(),
            Self::Streamed(body) => body.is_end_stream(),
        }
    }

    /// The whole body, reading the rest of a stream; at most `limit` bytes.
    ///
    /// # Errors
    ///
    /// [`CollectError::TooLarge`] past `limit`, [`CollectError::Broken`] when the stream
    /// ends with an error.
    pub async fn collect(self, limit: usize) -> Result<Bytes, CollectError> {
        let mut body = match self {
            Self::Whole(bytes) if bytes.len() > limit => {
                return Err(CollectError::TooLarge { limit });
            }
            Self::Whole(bytes) => return Ok(bytes),
            Self::Streamed(body) => body,
        };
        let declared = body.size_hint().exact().unwrap_or(0);
        if declared > limit as u64 {
            return Err(CollectError::TooLarge { limit });
        }
        let mut out = BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| CollectError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(CollectError::TooLarge { limit });
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out.freeze())
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Self::Whole(bytes)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Whole(bytes.into())
    }
}

impl From<&'static str> for Payload {
    fn from(text: &'static str) -> Self {
        Self::Whole(Bytes::from_static(text.as_bytes()))
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Whole(bytes) => write!(f, "Payload::Whole({} bytes)", bytes.len()),
            Self::Streamed(body) => write!(f, "Payload::Streamed({:?})", body.size_hint()),
        }
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Whole(bytes) if bytes.is_empty() => Poll::Ready(None),
            Self::Whole(bytes) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(bytes))))),
            Self::Streamed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Whole(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Self::Streamed(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::channel::Channel;

    /// A stream of `chunks`, ending with `error` if one is given.
    fn stream(chunks: &[&'static [u8]], error: Option<&'static str>) -> Payload {
        let (mut tx, body) = Channel::<Bytes, BoxError>::new(chunks.len() + 1);
        for chunk in chunks {
            assert!(tx.try_send(Frame::data(Bytes::from_static(chunk))).is_ok());
        }
        if let Some(error) = error {
            tx.abort(error.into());
        }
        Payload::streamed(body)
    }

    #[tokio::test]
    async fn a_stream_collects_to_its_bytes_within_the_limit() {
        let body = stream(&[b"ab", b"cd"], None);
        assert_eq!(body.collect(4).await.unwrap(), "abcd");
    }

    #[tokio::test]
    async fn one_byte_over_the_limit_is_too_large() {
        let body = stream(&[b"ab", b"cde"], None);
        assert_eq!(
            body.collect(4).await,
            Err(CollectError::TooLarge { limit: 4 })
        );
        assert_eq!(
            Payload::from("abcde").collect(4).await,
            Err(CollectError::TooLarge { limit: 4 })
        );
    }

    #[tokio::test]
    async fn a_stream_that_breaks_off_says_why() {
        let body = stream(&[b"ab"], Some("reset by peer"));
        assert_eq!(
            body.collect(100).await,
            Err(CollectError::Broken("reset by peer".to_owned()))
        );
    }

    #[tokio::test]
    async fn a_whole_body_streams_as_one_frame_then_ends() {
        let mut body = Payload::from("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "hello");
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }
}
