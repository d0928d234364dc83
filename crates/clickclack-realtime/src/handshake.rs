//! The HTTP/1.1 upgrade: request headers, `Sec-WebSocket-Accept` check, error bodies.
//!
//! fastwebsockets 0.10's `handshake::client` neither checks `Sec-WebSocket-Accept`
//! nor keeps the body of a refused upgrade (which we need to map a 401/403 to
//! the client's error kinds), so the same few steps are done here on hyper's
//! client connection directly, and the upgraded I/O is handed to
//! `fastwebsockets::WebSocket::after_handshake`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONNECTION, HOST, HeaderMap, HeaderValue, SEC_WEBSOCKET_ACCEPT,
    SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE, USER_AGENT,
};
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::endpoint::WsTarget;

/// The GUID RFC 6455 appends to the key before hashing.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// How much of a refused upgrade's body is kept for the error.
const ERROR_BODY_LIMIT: usize = 8 * 1024;
/// The subprotocol prefix the server accepts a bearer token in.
pub(crate) const BEARER_PROTOCOL_PREFIX: &str =
    clickclack_proto::headers::BEARER_SUBPROTOCOL_PREFIX;

/// How the token travels on the upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMode {
    /// `Authorization: Bearer <token>` (the default; it takes precedence on the server).
    #[default]
    Header,
    /// `Sec-WebSocket-Protocol: clickclack.bearer.<token>`, for proxies that strip `Authorization`.
    Subprotocol,
}

/// A fresh random `Sec-WebSocket-Key` (16 random bytes, base64).
pub(crate) fn generate_key() -> String {
    let mut raw = [0u8; 16];
    for b in &mut raw {
        *b = fastrand::u8(..);
    }
    STANDARD.encode(raw)
}

/// The `Sec-WebSocket-Accept` value a server must answer `key` with.
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// Builds the upgrade request. The token header value is marked sensitive.
pub(crate) fn build_request(
    target: &WsTarget,
    key: &str,
    token: Option<&str>,
    auth: AuthMode,
    user_agent: &str,
) -> Result<Request<Empty<Bytes>>, HandshakeFailure> {
    let invalid = |what: &str| HandshakeFailure::Rejected(format!("invalid {what} header value"));
    let mut builder = Request::builder()
        .method(http::Method::GET)
        .uri(target.path_and_query.as_str())
        .header(HOST, target.authority.as_str())
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(SEC_WEBSOCKET_KEY, key)
        .header(SEC_WEBSOCKET_VERSION, "13")
        .header(USER_AGENT, user_agent);
    if let Some(token) = token {
        let value = match auth {
            AuthMode::Header => format!("{}{token}", clickclack_proto::headers::BEARER_PREFIX),
            AuthMode::Subprotocol => format!("{BEARER_PROTOCOL_PREFIX}{token}"),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| invalid("token"))?;
        value.set_sensitive(true);
        let name = match auth {
            AuthMode::Header => AUTHORIZATION,
            AuthMode::Subprotocol => SEC_WEBSOCKET_PROTOCOL,
        };
        builder = builder.header(name, value);
    }
    builder
        .body(Empty::new())
        .map_err(|_| HandshakeFailure::Rejected("could not build the upgrade request".into()))
}

/// A plain HTTP answer to the upgrade request.
#[derive(Debug)]
pub(crate) struct RefusedUpgrade {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// At most the first 8 KiB of the body.
    pub(crate) body: Bytes,
}

/// Why an upgrade did not produce a WebSocket.
#[derive(Debug)]
pub(crate) enum HandshakeFailure {
    /// The server answered with a plain HTTP status (before any upgrade).
    Status(Box<RefusedUpgrade>),
    /// The server said 101 but the answer is not a valid WebSocket upgrade.
    Rejected(String),
    /// I/O or HTTP failure on the way.
    Transport(String),
}

/// Checks a 101 answer: `Upgrade`, `Connection`, `Sec-WebSocket-Accept` and,
/// when a subprotocol was offered, that the server did not pick another one.
pub(crate) fn verify_upgrade(
    headers: &HeaderMap,
    key: &str,
    offered_protocol: Option<&str>,
) -> Result<(), String> {
    let header_is = |name: http::header::HeaderName, want: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(want))
    };
    if !header_is(UPGRADE, "websocket") {
        return Err("missing `Upgrade: websocket`".into());
    }
    if !header_is(CONNECTION, "upgrade") {
        return Err("missing `Connection: Upgrade`".into());
    }
    let expected = accept_key(key);
    match headers.get(SEC_WEBSOCKET_ACCEPT).map(HeaderValue::as_bytes) {
        Some(got) if got == expected.as_bytes() => {}
        Some(_) => return Err("`Sec-WebSocket-Accept` does not match the key".into()),
        None => return Err("missing `Sec-WebSocket-Accept`".into()),
    }
    if let Some(chosen) = headers.get(SEC_WEBSOCKET_PROTOCOL) {
        // Never echo the chosen value: it may carry the token.
        if offered_protocol.is_none_or(|offered| chosen.as_bytes() != offered.as_bytes()) {
            return Err("server selected a subprotocol that was not offered".into());
        }
    }
    Ok(())
}

/// Runs the HTTP/1.1 upgrade on an already connected (and, for `wss`, TLS) stream.
pub(crate) async fn upgrade<S>(
    io: S,
    request: Request<Empty<Bytes>>,
    key: &str,
) -> Result<TokioIo<Upgraded>, HandshakeFailure>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let offered = request
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| HandshakeFailure::Transport(e.to_string()))?;
    // The connection future finishes once the upgrade is handed over; if the
    // handshake is abandoned (timeout, error), dropping the guard stops it.
    let _conn = crate::task::AbortOnDrop::new(tokio::spawn(async move {
        // Errors here surface through `send_request`/`upgrade::on` below.
        let _ = conn.with_upgrades().await;
    }));
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| HandshakeFailure::Transport(e.to_string()))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response.into_body(), ERROR_BODY_LIMIT).await;
        return Err(HandshakeFailure::Status(Box::new(RefusedUpgrade {
            status,
            headers,
            body,
        })));
    }
    verify_upgrade(response.headers(), key, offered.as_deref())
        .map_err(HandshakeFailure::Rejected)?;
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(|e| HandshakeFailure::Transport(e.to_string()))?;
    Ok(TokioIo::new(upgraded))
}

/// Reads at most `limit` bytes of a body; a failing or longer body is cut short.
async fn read_capped(mut body: hyper::body::Incoming, limit: usize) -> Bytes {
    let mut out = Vec::new();
    while out.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - out.len();
                    out.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> WsTarget {
        WsTarget {
            secure: false,
            host: "127.0.0.1".into(),
            port: 80,
            authority: "127.0.0.1".into(),
            path_and_query: "/api/realtime/ws?workspace_id=w".into(),
        }
    }

    #[test]
    fn rfc6455_example_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys_are_16_random_bytes() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(&a).map(|v| v.len()).ok(), Some(16));
    }

    fn good_headers(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(
            SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&accept_key(key)).expect("header"),
        );
        h
    }

    #[test]
    fn verify_accepts_a_correct_answer() {
        let key = generate_key();
        assert_eq!(verify_upgrade(&good_headers(&key), &key, None), Ok(()));
    }

    #[test]
    fn verify_rejects_a_wrong_accept_key() {
        let key = generate_key();
        let other = generate_key();
        assert!(verify_upgrade(&good_headers(&other), &key, None).is_err());
        let mut h = good_headers(&key);
        h.remove(SEC_WEBSOCKET_ACCEPT);
        assert!(verify_upgrade(&h, &key, None).is_err());
    }

    #[test]
    fn verify_checks_the_echoed_subprotocol() {
        let key = generate_key();
        let mut h = good_headers(&key);
        h.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("clickclack.bearer.ccb_x"),
        );
        assert!(verify_upgrade(&h, &key, Some("clickclack.bearer.ccb_x")).is_ok());
        assert!(verify_upgrade(&h, &key, Some("clickclack.bearer.ccb_y")).is_err());
        assert!(verify_upgrade(&h, &key, None).is_err());
        // A server that picks no protocol is fine.
        assert!(verify_upgrade(&good_headers(&key), &key, Some("clickclack.bearer.x")).is_ok());
    }

    #[test]
    fn request_carries_a_sensitive_bearer_header() {
        let req = build_request(&target(), "k", Some("ccb_secret"), AuthMode::Header, "ua")
            .expect("request");
        let auth = req.headers().get(AUTHORIZATION).expect("authorization");
        assert!(auth.is_sensitive());
        assert_eq!(auth.as_bytes(), b"Bearer ccb_secret");
        assert!(req.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none());
        assert_eq!(req.uri(), "/api/realtime/ws?workspace_id=w");
        assert!(!format!("{req:?}").contains("ccb_secret"));
    }

    #[test]
    fn request_can_use_the_bearer_subprotocol() {
        let req = build_request(&target(), "k", Some("ccb_s"), AuthMode::Subprotocol, "ua")
            .expect("request");
        assert!(req.headers().get(AUTHORIZATION).is_none());
        let proto = req.headers().get(SEC_WEBSOCKET_PROTOCOL).expect("protocol");
        assert_eq!(proto.as_bytes(), b"clickclack.bearer.ccb_s");
        assert!(proto.is_sensitive());
    }

    #[test]
    fn bad_token_bytes_do_not_leak_into_the_error() {
        let err = build_request(&target(), "k", Some("ccb\nsecret"), AuthMode::Header, "ua")
            .expect_err("newline is not a header value");
        assert!(!format!("{err:?}").contains("secret"));
    }
}
