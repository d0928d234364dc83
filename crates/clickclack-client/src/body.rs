//! Request and response bodies, and size-capped body reading.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};

use crate::error::{BoxError, Error, ErrorKind};

/// The largest JSON success body the client reads (16 MiB).
pub const MAX_JSON_BODY_BYTES: usize = 16 << 20;
/// The largest part of an error body the client reads (8 KiB).
pub const MAX_ERROR_BODY_BYTES: usize = 8 << 10;
/// The default cap for downloads (64 MiB, the server's upload limit).
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 64 << 20;

/// The response body type every transport returns.
pub type ResponseBody = BoxBody<Bytes, BoxError>;

/// A request body: either fully buffered (cloneable, so retryable) or streaming
/// (sent once, never retried).
pub struct RequestBody {
    inner: Inner,
}

enum Inner {
    Full(Option<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl RequestBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self {
            inner: Inner::Full(None),
        }
    }

    /// A buffered body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            inner: Inner::Full(if bytes.is_empty() { None } else { Some(bytes) }),
        }
    }

    /// A streaming body (never retried).
    pub fn streaming<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            inner: Inner::Stream(body.map_err(Into::into).boxed_unsync()),
        }
    }

    /// A copy of a buffered body; `None` for a streaming one.
    pub fn try_clone(&self) -> Option<Self> {
        match &self.inner {
            Inner::Full(b) => Some(Self {
                inner: Inner::Full(b.clone()),
            }),
            Inner::Stream(_) => None,
        }
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Full(b) => write!(
                f,
                "RequestBody::Full({} bytes)",
                b.as_ref().map_or(0, Bytes::len)
            ),
            Inner::Stream(_) => f.write_str("RequestBody::Stream"),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().inner {
            Inner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Inner::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(b) => b.is_none(),
            Inner::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::Stream(s) => s.size_hint(),
        }
    }
}

/// The body of a response as the client receives it: hyper's own body on
/// the default transport (no boxing per request), or a boxed body from a
/// custom transport or user layers.
pub(crate) enum WireBody {
    /// Straight from hyper.
    Incoming(hyper::body::Incoming),
    /// From a custom transport or through user layers.
    Boxed(ResponseBody),
}

impl Body for WireBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            WireBody::Incoming(b) => Pin::new(b)
                .poll_frame(cx)
                .map_err(|e| Box::new(e) as BoxError),
            WireBody::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            WireBody::Incoming(b) => b.is_end_stream(),
            WireBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            WireBody::Incoming(b) => b.size_hint(),
            WireBody::Boxed(b) => b.size_hint(),
        }
    }
}

/// Outcome of a capped read.
pub(crate) enum Capped {
    /// The whole body, within the cap.
    Complete(Bytes),
    /// The first `cap` bytes; the rest was not read.
    Truncated(Bytes),
}

/// Whether the body announces (via `Content-Length`) more than `cap` bytes.
pub(crate) fn announces_more_than(body: &impl Body, cap: usize) -> bool {
    body.size_hint().lower() > cap as u64
}

/// Reads at most `cap` bytes of `body`, then stops reading and drops the rest.
///
/// A body that arrives in one frame (the usual JSON response on a
/// keep-alive connection) is returned as that frame, without a copy.
pub(crate) async fn read_capped<B>(mut body: B, cap: usize) -> Result<Capped, BoxError>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    if body.size_hint().upper() == Some(0) {
        return Ok(Capped::Complete(Bytes::new()));
    }
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let held = first.as_ref().map_or(buf.len(), Bytes::len);
        let room = cap - held;
        if data.len() > room {
            if let Some(first) = first.take() {
                buf.extend_from_slice(&first);
            }
            buf.extend_from_slice(&data[..room]);
            return Ok(Capped::Truncated(buf.freeze()));
        }
        if buf.is_empty() && first.is_none() {
            first = Some(data);
            continue;
        }
        if let Some(first) = first.take() {
            buf.reserve(first.len() + data.len());
            buf.extend_from_slice(&first);
        }
        buf.extend_from_slice(&data);
    }
    Ok(Capped::Complete(first.unwrap_or_else(|| buf.freeze())))
}

/// Decodes JSON, naming the JSON path of the first mismatch.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Fast path; the path-tracking decoder runs only to explain a failure.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Error::new(ErrorKind::Decode)
            .with_detail(format!("at JSON path `{path}`: {inner}"))
            .with_source(inner)
    })?;
    de.end().map_err(|e| {
        Error::new(ErrorKind::Decode)
            .with_detail(format!("trailing data after the JSON value: {e}"))
            .with_source(e)
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn boxed(b: Bytes) -> ResponseBody {
        Full::new(b).map_err(|never| match never {}).boxed()
    }

    #[tokio::test]
    async fn caps_and_truncates() {
        let b = read_capped(boxed(Bytes::from_static(b"hello")), 10)
            .await
            .unwrap();
        assert!(matches!(b, Capped::Complete(ref x) if &x[..] == b"hello"));
        let big = boxed(Bytes::from(vec![b'x'; 100]));
        assert!(announces_more_than(&big, 10));
        let b = read_capped(big, 10).await.unwrap();
        assert!(matches!(b, Capped::Truncated(ref x) if x.len() == 10));
        // A stream without a length hint is cut at the cap.
        let chunks = futures_util::stream::iter(
            (0..10).map(|_| Ok::<_, BoxError>(Frame::data(Bytes::from(vec![b'y'; 7])))),
        );
        let b = read_capped(StreamBody::new(chunks).boxed(), 20)
            .await
            .unwrap();
        assert!(matches!(b, Capped::Truncated(ref x) if x.len() == 20));
    }

    #[test]
    fn decode_names_the_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            id: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<Inner>,
        }
        let e = decode_json::<Outer>(br#"{"items":[{"id":"a"},{"id":5}]}"#).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Decode);
        assert!(e.to_string().contains("items[1].id"), "{e}");
        assert!(decode_json::<Outer>(br#"{"items":[]} x"#).is_err());
    }

    #[test]
    fn request_body_clone_rules() {
        let b = RequestBody::full(Bytes::from_static(b"{}"));
        assert!(b.try_clone().is_some());
        assert_eq!(b.size_hint().exact(), Some(2));
        let s = RequestBody::streaming(Full::new(Bytes::from_static(b"x")));
        assert!(s.try_clone().is_none());
    }
}
