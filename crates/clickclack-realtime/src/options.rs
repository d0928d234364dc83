//! Tunables of a [`RealtimeStream`](crate::RealtimeStream).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::BackoffPolicy;
use crate::handshake::AuthMode;
use crate::heartbeat::HeartbeatPolicy;

/// The largest message accepted from the server (16 MiB).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The default [`RealtimeOptions::cursor_flush_interval`] (200 ms).
pub const DEFAULT_CURSOR_FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Options of a realtime stream. Every field has a sensible default.
#[derive(Clone)]
#[non_exhaustive]
pub struct RealtimeOptions {
    /// Reconnect delays (default: 500 ms base, 30 s cap, full jitter, reset after 30 s up).
    pub backoff: BackoffPolicy,
    /// Pings and dead-connection detection (default: ping every 20 s, dead after 3 silent intervals).
    pub heartbeat: HeartbeatPolicy,
    /// Limit for TCP connect + TLS + upgrade (default 30 s).
    pub handshake_timeout: Duration,
    /// Items buffered between the connection and the consumer (default 256).
    /// When full, the stream stops reading the socket. The consumer is woken
    /// at the end of a burst or when half of it is filled, so a larger
    /// buffer means fewer hand-overs between threads during a replay; an
    /// idle stream holds no buffer whatever its size.
    pub buffer: usize,
    /// Unused since events go from the socket reader straight into the
    /// consumer's buffer ([`buffer`](Self::buffer)); kept for compatibility
    /// (must still be at least 1).
    pub reader_buffer: usize,
    /// How often committed cursors are written to the cursor store at most
    /// (default 200 ms). A commit after a quiet interval is written at once;
    /// commits within an interval are coalesced into one write at its end.
    /// A crash redelivers at most the events committed in the last interval,
    /// never skips one. `Duration::ZERO` writes every commit before
    /// `commit` returns.
    pub cursor_flush_interval: Duration,
    /// The largest message accepted (default 16 MiB); larger ones are skipped.
    pub max_frame_bytes: usize,
    /// How the token is sent on the upgrade (default: `Authorization` header).
    pub auth: AuthMode,
    /// `User-Agent` of the upgrade request.
    pub user_agent: String,
    /// A custom rustls configuration for `wss` (default: the client's own,
    /// [`Client::tls_client_config`](clickclack_client::Client::tls_client_config),
    /// with HTTP/1.1 ALPN).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for RealtimeOptions {
    fn default() -> Self {
        Self {
            backoff: BackoffPolicy::default(),
            heartbeat: HeartbeatPolicy::default(),
            handshake_timeout: Duration::from_secs(30),
            buffer: 256,
            reader_buffer: 16,
            cursor_flush_interval: DEFAULT_CURSOR_FLUSH_INTERVAL,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            auth: AuthMode::default(),
            user_agent: concat!("clickclack-realtime/", env!("CARGO_PKG_VERSION")).to_owned(),
            tls: None,
        }
    }
}

impl fmt::Debug for RealtimeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealtimeOptions")
            .field("backoff", &self.backoff)
            .field("heartbeat", &self.heartbeat)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("buffer", &self.buffer)
            .field("reader_buffer", &self.reader_buffer)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("cursor_flush_interval", &self.cursor_flush_interval)
            .field("auth", &self.auth)
            .field("user_agent", &self.user_agent)
            .field("tls", &self.tls.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl RealtimeOptions {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.buffer == 0 || self.reader_buffer == 0 {
            return Err("buffer sizes must be at least 1".into());
        }
        if self.heartbeat.ping_interval.is_zero() {
            return Err("ping interval must be positive".into());
        }
        if self.handshake_timeout.is_zero() {
            return Err("handshake timeout must be positive".into());
        }
        if self.max_frame_bytes == 0 {
            return Err("max frame size must be positive".into());
        }
        Ok(())
    }
}
