//! The one error type of the client, classified by [`ErrorKind`].

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use clickclack_proto::ForbiddenReason;
use clickclack_proto::scope::Scope;
use http::{HeaderMap, Method, StatusCode};

use crate::retry::parse_retry_after;

/// A boxed, thread-safe error (the error type of transports and layers).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The maximum number of characters of a non-JSON error body kept in an error.
const MAX_SERVER_MESSAGE_CHARS: usize = 512;

/// What went wrong, for callers to `match` on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// HTTP 401: the token was rejected (bad, expired or revoked). The client
    /// fails fast afterwards until it is rebuilt.
    Unauthorized,
    /// HTTP 403 `bot token is missing scope <scope>`.
    #[non_exhaustive]
    MissingScope {
        /// The scope the server asked for.
        scope: Scope,
    },
    /// HTTP 403 `bot token cannot access this workspace`.
    WrongWorkspace,
    /// Any other HTTP 403.
    Forbidden,
    /// HTTP 404.
    NotFound,
    /// HTTP 409, or a 400 saying a nonce was already used for a different message.
    Conflict,
    /// HTTP 413: the request body was too large for the server.
    PayloadTooLarge,
    /// HTTP 429.
    #[non_exhaustive]
    RateLimited {
        /// The server's (or proxy's) `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// HTTP 502/503/504 (for example `session verification unavailable; retry later`).
    Unavailable,
    /// HTTP 500 or another unexpected status.
    Server,
    /// A per-attempt or total deadline elapsed.
    Timeout,
    /// Connecting, TLS, or the connection failed.
    Transport,
    /// A success body was not the JSON we expected, or exceeded the size cap.
    Decode,
    /// The request was invalid: rejected by the server (HTTP 400 and other 4xx)
    /// or by the client before sending (bad URL, empty id, bad header value).
    InvalidRequest,
    /// The server lacks a feature the client needs (for example a server too old
    /// to answer `GET /api/messages/by-nonce`).
    Unsupported,
}

impl ErrorKind {
    /// A short, lowercase description.
    fn describe(&self) -> String {
        match self {
            ErrorKind::Unauthorized => "the token was rejected (unauthorized)".into(),
            ErrorKind::MissingScope { scope } => format!("the bot token is missing scope {scope}"),
            ErrorKind::WrongWorkspace => "the bot token cannot access this workspace".into(),
            ErrorKind::Forbidden => "forbidden".into(),
            ErrorKind::NotFound => "not found".into(),
            ErrorKind::Conflict => "conflict".into(),
            ErrorKind::PayloadTooLarge => "payload too large".into(),
            ErrorKind::RateLimited { retry_after } => match retry_after {
                Some(d) => format!("rate limited (retry after {} ms)", d.as_millis()),
                None => "rate limited".into(),
            },
            ErrorKind::Unavailable => "service unavailable".into(),
            ErrorKind::Server => "server error".into(),
            ErrorKind::Timeout => "timed out".into(),
            ErrorKind::Transport => "transport error".into(),
            ErrorKind::Decode => "could not decode the response".into(),
            ErrorKind::InvalidRequest => "invalid request".into(),
            ErrorKind::Unsupported => "unsupported by the server".into(),
        }
    }
}

/// An error from the ClickClack client.
///
/// Match on [`Error::kind`]. The `Display` names the method and path (never the
/// token or the query string), the status, and the server's `error` string.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    method: Option<Method>,
    path: Option<String>,
    status: Option<StatusCode>,
    server_message: Option<String>,
    detail: Option<String>,
    source: Option<BoxError>,
    ambiguous: bool,
    headers: Option<HeaderMap>,
}

impl Error {
    /// A new error of `kind` with no context.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                method: None,
                path: None,
                status: None,
                server_message: None,
                detail: None,
                source: None,
                ambiguous: false,
                headers: None,
            }),
        }
    }

    /// Maps an HTTP failure (status, headers and at most the first bytes of the
    /// body) to an error, exactly as the client does for its own requests. The
    /// realtime crate uses this for failed WebSocket upgrades.
    ///
    /// `path` must not contain a query string or secrets.
    pub fn from_response(
        method: Method,
        path: impl Into<String>,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        let server_message = server_message_from_body(body);
        let msg = server_message.as_deref().unwrap_or("");
        let kind = classify(status, headers, msg);
        let mut err = Self::new(kind).with_method(method).with_path(path);
        err.inner.status = Some(status);
        err.inner.server_message = server_message;
        err.inner.headers = Some(headers.clone());
        err
    }

    /// The response headers, when a response was received.
    pub fn response_headers(&self) -> Option<&HeaderMap> {
        self.inner.headers.as_ref()
    }

    /// Whether the response carried header `name` with value `value` (ASCII case-insensitive).
    pub(crate) fn header_is(&self, name: &str, value: &str) -> bool {
        self.inner
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// The server's `error` string (or the start of a non-JSON error body).
    pub fn server_message(&self) -> Option<&str> {
        self.inner.server_message.as_deref()
    }

    /// The HTTP method of the failed request, when known.
    pub fn method(&self) -> Option<&Method> {
        self.inner.method.as_ref()
    }

    /// The request path (escaped, without the query), when known.
    pub fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }

    /// Whether retrying the same request later may succeed (rate limits,
    /// unavailability, timeouts, transport failures).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::RateLimited { .. }
                | ErrorKind::Unavailable
                | ErrorKind::Timeout
                | ErrorKind::Transport
        )
    }

    /// Whether the request may have reached the server although no response
    /// was read (a timeout or a connection lost after sending).
    pub fn is_ambiguous(&self) -> bool {
        self.inner.ambiguous
    }

    /// The `Retry-After` delay for rate-limit errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.inner.kind {
            ErrorKind::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Sets the method (for errors built outside the client, e.g. by the realtime crate).
    pub fn with_method(mut self, method: Method) -> Self {
        self.inner.method = Some(method);
        self
    }

    /// Sets the path; anything from `?` on is dropped so queries never leak.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if let Some(i) = p.find('?') {
            p.truncate(i);
        }
        self.inner.path = Some(p);
        self
    }

    /// Adds a human-readable detail to the message.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.inner.detail = Some(detail.into());
        self
    }

    /// Keeps the underlying error as [`std::error::Error::source`].
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn with_ambiguous(mut self, ambiguous: bool) -> Self {
        self.inner.ambiguous = ambiguous;
        self
    }

    pub(crate) fn with_context_if_missing(mut self, method: &Method, path: &str) -> Self {
        if self.inner.method.is_none() {
            self.inner.method = Some(method.clone());
        }
        if self.inner.path.is_none() {
            self = self.with_path(path);
        }
        self
    }
}

fn classify(status: StatusCode, headers: &HeaderMap, msg: &str) -> ErrorKind {
    match status.as_u16() {
        401 => ErrorKind::Unauthorized,
        403 => match ForbiddenReason::classify(msg) {
            ForbiddenReason::MissingScope(scope) => ErrorKind::MissingScope { scope },
            ForbiddenReason::WrongWorkspace => ErrorKind::WrongWorkspace,
            _ => ErrorKind::Forbidden,
        },
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        400 if msg.contains("nonce was already used") => ErrorKind::Conflict,
        413 => ErrorKind::PayloadTooLarge,
        429 => ErrorKind::RateLimited {
            retry_after: headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
        },
        502..=504 => ErrorKind::Unavailable,
        400..=499 => ErrorKind::InvalidRequest,
        _ => ErrorKind::Server,
    }
}

/// Extracts `{"error": "..."}` or, failing that, the start of the body as text.
fn server_message_from_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
    }
    if body.is_empty() {
        return None;
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body) {
        return Some(b.error);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(MAX_SERVER_MESSAGE_CHARS).collect())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if let (Some(m), Some(p)) = (&i.method, &i.path) {
            write!(f, "{m} {p}: ")?;
        } else if let Some(p) = &i.path {
            write!(f, "{p}: ")?;
        }
        f.write_str(&i.kind.describe())?;
        if let Some(d) = &i.detail {
            write!(f, ": {d}")?;
        }
        if let Some(s) = i.status {
            write!(f, " (HTTP {}", s.as_u16())?;
            if let Some(m) = &i.server_message {
                write!(f, ": {m:?}")?;
            }
            f.write_str(")")?;
        }
        if i.status.is_none()
            && let Some(src) = &i.source
        {
            write!(f, ": {src}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Error")
            .field("kind", &i.kind)
            .field("method", &i.method)
            .field("path", &i.path)
            .field("status", &i.status)
            .field("server_message", &i.server_message)
            .field("detail", &i.detail)
            .field("source", &i.source)
            .field("ambiguous", &i.ambiguous)
            .finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| &**e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Error {
        Error::from_response(
            Method::POST,
            "/api/channels/chn_1/messages",
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(
            err(401, r#"{"error":"sql: no rows in result set"}"#).kind(),
            &ErrorKind::Unauthorized
        );
        assert_eq!(
            err(
                403,
                r#"{"error":"bot token is missing scope messages:write"}"#
            )
            .kind(),
            &ErrorKind::MissingScope {
                scope: Scope::MessagesWrite
            }
        );
        assert_eq!(
            err(403, r#"{"error":"bot token cannot access this workspace"}"#).kind(),
            &ErrorKind::WrongWorkspace
        );
        assert_eq!(
            err(403, r#"{"error":"nope"}"#).kind(),
            &ErrorKind::Forbidden
        );
        assert_eq!(err(404, "").kind(), &ErrorKind::NotFound);
        assert_eq!(err(409, "").kind(), &ErrorKind::Conflict);
        assert_eq!(
            err(
                400,
                r#"{"error":"client nonce was already used for a different message"}"#
            )
            .kind(),
            &ErrorKind::Conflict
        );
        assert_eq!(
            err(400, r#"{"error":"message body is required"}"#).kind(),
            &ErrorKind::InvalidRequest
        );
        assert_eq!(err(413, "").kind(), &ErrorKind::PayloadTooLarge);
        assert_eq!(err(503, "").kind(), &ErrorKind::Unavailable);
        assert_eq!(err(500, "").kind(), &ErrorKind::Server);
        assert!(err(503, "").is_retryable());
        assert!(!err(400, "").is_retryable());
    }

    #[test]
    fn rate_limit_reads_retry_after() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        let e = Error::from_response(
            Method::GET,
            "/api/me",
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            b"",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn display_names_method_path_and_server_message_without_query() {
        let e = Error::from_response(
            Method::GET,
            "/api/messages/by-nonce?workspace_id=w&nonce=secret",
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            br#"{"error":"bot token is missing scope messages:write"}"#,
        );
        let s = e.to_string();
        assert!(s.starts_with("GET /api/messages/by-nonce: "), "{s}");
        assert!(s.contains("messages:write"), "{s}");
        assert!(!s.contains("secret"), "{s}");
        assert_eq!(
            e.server_message(),
            Some("bot token is missing scope messages:write")
        );
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
    }

    #[test]
    fn non_json_body_is_kept_short() {
        let body = "x".repeat(8192);
        let e = err(502, &body);
        assert_eq!(
            e.server_message().map(str::len),
            Some(MAX_SERVER_MESSAGE_CHARS)
        );
    }
}
