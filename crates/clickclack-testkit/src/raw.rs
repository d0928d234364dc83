//! Hand-made ("hostile") HTTP responses for fault injection: truncated or
//! huge bodies, wrong content types, bodies that trickle in, redirects.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use tokio::time::Sleep;

/// A response the server sends verbatim instead of handling a request, set
/// with [`Faults::respond_next`](crate::Faults::respond_next).
///
/// Bodies can be plain bytes, a huge body produced on the fly (never held in
/// memory), a body that trickles in ("slow loris"), or a body cut short after
/// announcing a longer `Content-Length` (the connection is then dropped).
///
/// ```
/// use std::time::Duration;
/// use clickclack_testkit::RawResponse;
///
/// let truncated = RawResponse::json(200, r#"{"user":{"id":"usr_1","#);
/// let html = RawResponse::new(200).header("content-type", "text/html").body("<html>");
/// let huge = RawResponse::new(200).repeat_body("x", 64 << 20);
/// let slow = RawResponse::json(200, "{}").trickle(1, Duration::from_millis(200));
/// let cut = RawResponse::json(200, r#"{"user":"#).cut_at_length(4096);
/// let moved = RawResponse::redirect(307, "http://127.0.0.1:9/api/me");
/// # let _ = (truncated, html, huge, slow, cut, moved);
/// ```
#[derive(Debug, Clone)]
pub struct RawResponse {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: RawBody,
}

#[derive(Debug, Clone)]
enum RawBody {
    /// Sent at once with an exact `Content-Length`.
    Bytes(Bytes),
    /// `chunk` repeated until `total` bytes; `announce` sets `Content-Length`.
    Repeat {
        chunk: Bytes,
        total: u64,
        announce: bool,
    },
    /// `bytes` in pieces of `piece` bytes, one piece per `every`.
    Trickle {
        bytes: Bytes,
        piece: usize,
        every: Duration,
    },
    /// Announces `declared` bytes, sends `bytes`, then fails the connection.
    Cut { bytes: Bytes, declared: u64 },
}

impl RawResponse {
    /// A response with `status` (invalid codes become 500), no headers and
    /// an empty body.
    pub fn new(status: u16) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: Vec::new(),
            body: RawBody::Bytes(Bytes::new()),
        }
    }

    /// `status` with `Content-Type: application/json` and `body` sent verbatim
    /// (it need not be valid JSON: that is the point).
    pub fn json(status: u16, body: impl Into<Bytes>) -> RawResponse {
        RawResponse::new(status)
            .header("content-type", "application/json")
            .body(body)
    }

    /// A redirect (`status` should be 3xx) to `location`.
    pub fn redirect(status: u16, location: &str) -> RawResponse {
        RawResponse::new(status).header("location", location)
    }

    /// Adds a header (invalid names or values are skipped when sending).
    pub fn header(mut self, name: &str, value: &str) -> RawResponse {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The body, sent at once with its exact `Content-Length`.
    pub fn body(mut self, body: impl Into<Bytes>) -> RawResponse {
        self.body = RawBody::Bytes(body.into());
        self
    }

    /// A body of `total` bytes made of `chunk` repeated, produced while it
    /// is sent (the server never holds it). Sent chunked, without
    /// `Content-Length`, unless [`announce_length`](Self::announce_length).
    pub fn repeat_body(mut self, chunk: impl Into<Bytes>, total: u64) -> RawResponse {
        let mut chunk: Bytes = chunk.into();
        if chunk.is_empty() {
            chunk = Bytes::from_static(b" ");
        }
        // Larger pieces keep a huge body cheap to produce.
        if chunk.len() < 16 * 1024 {
            let reps = (16 * 1024) / chunk.len();
            chunk = Bytes::from(chunk.repeat(reps.max(1)));
        }
        self.body = RawBody::Repeat {
            chunk,
            total,
            announce: false,
        };
        self
    }

    /// Announces the length of a [`repeat_body`](Self::repeat_body) with
    /// `Content-Length` (no effect on other bodies).
    pub fn announce_length(mut self, announce: bool) -> RawResponse {
        if let RawBody::Repeat { announce: a, .. } = &mut self.body {
            *a = announce;
        }
        self
    }

    /// Sends the current (plain) body `piece` bytes at a time, one piece
    /// every `every`: a slow-loris response. The headers go out at once,
    /// without `Content-Length`.
    pub fn trickle(mut self, piece: usize, every: Duration) -> RawResponse {
        let bytes = self.plain_bytes();
        self.body = RawBody::Trickle {
            bytes,
            piece: piece.max(1),
            every,
        };
        self
    }

    /// Announces `Content-Length: declared`, sends the current (plain) body,
    /// then drops the connection: a transfer cut short.
    pub fn cut_at_length(mut self, declared: u64) -> RawResponse {
        let bytes = self.plain_bytes();
        let declared = declared.max(bytes.len() as u64 + 1);
        self.body = RawBody::Cut { bytes, declared };
        self
    }

    fn plain_bytes(&self) -> Bytes {
        match &self.body {
            RawBody::Bytes(b)
            | RawBody::Trickle { bytes: b, .. }
            | RawBody::Cut { bytes: b, .. } => b.clone(),
            RawBody::Repeat { chunk, .. } => chunk.clone(),
        }
    }

    /// The response, with body bytes counted into `sent`.
    pub(crate) fn into_response(self, sent: Arc<AtomicU64>) -> Response<ServerBody> {
        let body = match self.body {
            RawBody::Bytes(b) => {
                sent.fetch_add(b.len() as u64, Ordering::Relaxed);
                ServerBody::Full(Full::new(b))
            }
            other => ServerBody::Raw(RawStream {
                body: other,
                pos: 0,
                sleep: None,
                failed: false,
                sent,
            }),
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = self.status;
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                resp.headers_mut().append(n, v);
            }
        }
        resp
    }
}

/// The body type of every response the server sends.
pub(crate) enum ServerBody {
    /// A normal, fully buffered response.
    Full(Full<Bytes>),
    /// A hostile streamed body.
    Raw(RawStream),
}

impl From<Full<Bytes>> for ServerBody {
    fn from(full: Full<Bytes>) -> ServerBody {
        ServerBody::Full(full)
    }
}

/// The state of a streamed [`RawResponse`] body.
pub(crate) struct RawStream {
    body: RawBody,
    pos: u64,
    sleep: Option<Pin<Box<Sleep>>>,
    failed: bool,
    sent: Arc<AtomicU64>,
}

impl RawStream {
    fn emit(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.pos += data.len() as u64;
        self.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let s = match self.get_mut() {
            ServerBody::Full(f) => {
                return Pin::new(f).poll_frame(cx).map_err(|never| match never {});
            }
            ServerBody::Raw(s) => s,
        };
        match &s.body {
            RawBody::Bytes(_) => Poll::Ready(None),
            RawBody::Repeat { chunk, total, .. } => {
                let left = total.saturating_sub(s.pos);
                if left == 0 {
                    return Poll::Ready(None);
                }
                let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let data = chunk.slice(..n);
                s.emit(data)
            }
            RawBody::Trickle {
                bytes,
                piece,
                every,
            } => {
                let len = bytes.len() as u64;
                if s.pos >= len {
                    return Poll::Ready(None);
                }
                let every = *every;
                let sleep = s
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
                ready!(sleep.as_mut().poll(cx));
                s.sleep = None;
                let start = s.pos as usize;
                let end = (start + piece).min(bytes.len());
                let data = bytes.slice(start..end);
                s.emit(data)
            }
            RawBody::Cut { bytes, .. } => {
                if s.failed {
                    return Poll::Ready(None);
                }
                if s.pos == 0 && !bytes.is_empty() {
                    let data = bytes.clone();
                    return s.emit(data);
                }
                s.failed = true;
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "clickclack-testkit: body cut short (injected)",
                ))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ServerBody::Full(f) => f.is_end_stream(),
            ServerBody::Raw(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ServerBody::Full(f) => f.size_hint(),
            ServerBody::Raw(s) => match &s.body {
                RawBody::Repeat {
                    total,
                    announce: true,
                    ..
                } => SizeHint::with_exact(*total),
                RawBody::Cut { declared, .. } => SizeHint::with_exact(*declared),
                _ => SizeHint::default(),
            },
        }
    }
}
