//! Dialing one realtime connection: TCP, TLS (for `wss`), the upgrade, the frame cap.

use std::sync::Arc;
use std::time::Duration;

use clickclack_client::ErrorKind;
use fastwebsockets::{Role, WebSocket, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::endpoint::WsTarget;
use crate::error::Error;
use crate::handshake::{self, AuthMode, HandshakeFailure, RefusedUpgrade};

/// The I/O under an open socket.
pub(crate) type WsIo = TokioIo<Upgraded>;
/// The read half (owned by the reader task).
pub(crate) type WsRead = WebSocketRead<ReadHalf<WsIo>>;
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
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for DialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .finish_non_exhaustive()
    }
}

/// Why a dial failed, already sorted into "try again" and "stop".
#[derive(Debug)]
pub(crate) enum DialError {
    /// Worth retrying with backoff (network, 5xx, 429, timeout, bad upgrade answer).
    Retry(String),
    /// A 429 or 503 with `Retry-After`: retry, but not before the given delay.
    RetryAfter(String, Duration),
    /// Retrying will not help (401/403/400/404 on the upgrade, bad configuration).
    Fatal(Error),
}

/// Connects and upgrades, all within the handshake timeout.
pub(crate) async fn dial(
    target: &WsTarget,
    config: &DialConfig,
) -> Result<(WsRead, WsWrite), DialError> {
    match tokio::time::timeout(config.handshake_timeout, dial_inner(target, config)).await {
        Ok(result) => result,
        Err(_) => Err(DialError::Retry(format!(
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
        .map_err(|e| DialError::Retry(format!("connect failed: {e}")))?;
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
        let tls_config = match &config.tls {
            Some(c) => Arc::clone(c),
            None => crate::tls::default_config()
                .map_err(|e| DialError::Fatal(Error::Tls(e.to_string())))?,
        };
        let tls = crate::tls::connect(tls_config, &target.host, tcp)
            .await
            .map_err(|e| DialError::Retry(format!("TLS handshake failed: {e}")))?;
        handshake::upgrade(tls, request, &key).await
    } else {
        handshake::upgrade(tcp, request, &key).await
    }
    .map_err(|f| classify(f, target))?;

    let mut ws = WebSocket::after_handshake(io, Role::Client);
    ws.set_max_message_size(config.max_frame_bytes);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    Ok(ws.split(tokio::io::split))
}

/// Sorts a failed upgrade: 401/403/400/404 stop the stream, the rest retries.
fn classify(failure: HandshakeFailure, target: &WsTarget) -> DialError {
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
            if let Some(after) = err.retry_after() {
                DialError::RetryAfter(format!("upgrade refused: {err}"), after)
            } else if retry {
                DialError::Retry(format!("upgrade refused: {err}"))
            } else {
                DialError::Fatal(Error::Api(err))
            }
        }
        HandshakeFailure::Rejected(reason) => {
            DialError::Retry(format!("bad upgrade answer: {reason}"))
        }
        HandshakeFailure::Transport(reason) => {
            DialError::Retry(format!("upgrade failed: {reason}"))
        }
    }
}
