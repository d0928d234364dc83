//! Dialing one realtime connection: TCP, TLS (for `wss`), the upgrade, the frame cap.

use std::sync::Arc;
use std::time::Duration;

use clickclack_client::ErrorKind;
use fastwebsockets::{Role, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::endpoint::WsTarget;
use crate::error::Error;
use crate::frames::FrameReader;
use crate::handshake::{self, AuthMode, HandshakeFailure, RefusedUpgrade};

/// The I/O under an open socket.
pub(crate) type WsIo = TokioIo<Upgraded>;
/// The read half (owned by the reader task; frames are read by [`FrameReader`]).
pub(crate) type WsRead = FrameReader<ReadHalf<WsIo>>;
/// The write half (pings and close replies).
pub(crate) type WsWrite = WebSocketWrite<WriteHalf<WsIo>>;

/// Everything `dial` needs besides the target.
#[derive(Clone)]
pub(crate) struct DialConfig {
    pub(crate) token: Option<String>,
    pub(crate) auth: AuthMode,
    pub(crate) user_agent: String,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_frame_bytes: usize,
    /// The TLS configuration for `wss` (shared with the REST client's roots).
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    /// The longest `Retry-After` honoured (the client's `max_retry_after`).
    pub(crate) max_retry_after: Duration,
}

impl std::fmt::Debug for DialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_retry_after", &self.max_retry_after)
            .finish_non_exhaustive()
    }
}

/// Why a dial failed, already sorted into "try again" and "stop".
#[derive(Debug)]
pub(crate) enum DialError {
    /// Worth retrying with backoff (network, 5xx, 429, timeout, bad upgrade
    /// answer); a 429 or 503 with `Retry-After` says not before
    /// `retry_after` (already capped).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help (401/403/400/404 on the upgrade, bad configuration).
    Fatal(Error),
}

impl DialError {
    fn retry(reason: String) -> Self {
        DialError::Retry {
            reason,
            retry_after: None,
        }
    }
}

/// Connects and upgrades, all within the handshake timeout.
pub(crate) async fn dial(
    target: &WsTarget,
    config: &DialConfig,
) -> Result<(WsRead, WsWrite), DialError> {
    match tokio::time::timeout(config.handshake_timeout, dial_inner(target, config)).await {
        Ok(result) => result,
        Err(_) => Err(DialError::retry(format!(
            "handshake timed out after {} ms",
            config.handshake_timeout.as_millis()
        ))),
    }
}

async fn dial_inner(
    target: &WsTarget,
    config: &DialConfig,
) -> Result<(WsRead, WsWrite), DialError> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| DialError::retry(format!("connect failed: {e}")))?;
    // Small frames (pings) should not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let key = handshake::generate_key();
    let request = handshake::build_request(
        target,
        &key,
        config.token.as_deref(),
        config.auth,
        &config.user_agent,
    )
    .map_err(|_| {
        DialError::Fatal(Error::Config(
            "the token is not a valid header value".into(),
        ))
    })?;
    let io = if target.secure {
        let Some(tls_config) = &config.tls else {
            return Err(DialError::Fatal(Error::Tls(
                "no TLS configuration for a wss:// URL".into(),
            )));
        };
        let tls = crate::tls::connect(Arc::clone(tls_config), &target.host, tcp)
            .await
            .map_err(|e| DialError::retry(format!("TLS handshake failed: {e}")))?;
        handshake::upgrade(tls, request, &key).await
    } else {
        handshake::upgrade(tcp, request, &key).await
    }
    .map_err(|f| classify(f, target, config.max_retry_after))?;

    let (read, write) = tokio::io::split(io);
    // Only the write half comes from fastwebsockets (it masks, as a client
    // must); its read half is given nothing to read and dropped at once.
    // Frames are read by our own reader: it holds no buffer while the
    // connection is idle and checks close frames itself (`reader`).
    let (_, write) = fastwebsockets::after_handshake_split(tokio::io::empty(), write, Role::Client);
    Ok((FrameReader::new(read, config.max_frame_bytes), write))
}

/// Sorts a failed upgrade: 401/403/400/404 stop the stream, the rest retries
/// (after `Retry-After` for 429 and 503, capped at `max_retry_after`).
fn classify(failure: HandshakeFailure, target: &WsTarget, max_retry_after: Duration) -> DialError {
    match failure {
        HandshakeFailure::Status(refused) => {
            let RefusedUpgrade {
                status,
                headers,
                body,
            } = *refused;
            let path = target
                .path_and_query
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let err = clickclack_client::Error::from_response(
                http::Method::GET,
                path,
                status,
                &headers,
                &body,
            );
            let retry = err.is_retryable()
                || matches!(err.kind(), ErrorKind::Server)
                || status.is_server_error()
                || status == http::StatusCode::REQUEST_TIMEOUT;
            if !retry {
                return DialError::Fatal(Error::Api(err));
            }
            let retry_after = matches!(
                status,
                http::StatusCode::TOO_MANY_REQUESTS | http::StatusCode::SERVICE_UNAVAILABLE
            )
            .then(|| headers.get(http::header::RETRY_AFTER))
            .flatten()
            .and_then(|v| clickclack_client::parse_retry_after(v, std::time::SystemTime::now()))
            .map(|after| after.min(max_retry_after));
            DialError::Retry {
                reason: format!("upgrade refused: {err}"),
                retry_after,
            }
        }
        HandshakeFailure::Rejected(reason) => {
            DialError::retry(format!("bad upgrade answer: {reason}"))
        }
        HandshakeFailure::Transport(reason) => {
            DialError::retry(format!("upgrade failed: {reason}"))
        }
    }
}
