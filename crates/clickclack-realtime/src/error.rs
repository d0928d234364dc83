//! The stream's error type.

use crate::cursor_store::CursorStoreError;
use crate::endpoint::InvalidUrl;
use crate::item::ReconnectCause;

/// An error from the realtime stream.
///
/// Only [`Error::MalformedFrame`] is recoverable: the stream reports it and
/// keeps going. Every other error is terminal: it is the last item, the
/// stream ends after it and makes no further connection attempts
/// ([`Error::is_terminal`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A REST call (the tail fetch) or the WebSocket upgrade was refused for
    /// good: 401 (token rejected), 403 (missing `realtime:read`, wrong
    /// workspace, not a member), 400, 404. Match on the client error's kind.
    #[error("realtime request failed: {0}")]
    Api(#[source] clickclack_client::Error),
    /// The server closed the socket with 1008: the token was revoked or the
    /// bot lost access to the workspace. A new token or membership is needed.
    #[error("realtime access revoked (close {code}): {reason}")]
    #[non_exhaustive]
    AccessRevoked {
        /// The close code (1008).
        code: u16,
        /// The server's reason, e.g. `bot token revoked; reconnect with a valid token`
        /// or `workspace access revoked`.
        reason: String,
    },
    /// A frame that is not a valid event was skipped (recoverable: the
    /// stream continues, the cursor does not move).
    #[error("malformed realtime frame skipped: {reason}")]
    #[non_exhaustive]
    MalformedFrame {
        /// What was wrong with it.
        reason: String,
    },
    /// The client's base URL cannot be turned into a WebSocket URL.
    #[error(transparent)]
    InvalidUrl(#[from] InvalidUrl),
    /// Loading or saving a cursor failed.
    #[error(transparent)]
    CursorStore(#[from] CursorStoreError),
    /// The TLS configuration could not be built.
    #[error("TLS configuration failed: {0}")]
    Tls(String),
    /// An option or the token cannot be used.
    #[error("invalid realtime configuration: {0}")]
    Config(String),
    /// The connection state machine met an input it has no transition for
    /// (a bug: please report it). The stream ends instead of looping.
    #[error("internal error: {0}")]
    Internal(String),
    /// `BackoffPolicy::max_attempts` consecutive attempts failed.
    #[error("gave up after {attempts} reconnect attempts; last failure: {last_cause}")]
    #[non_exhaustive]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        last_cause: ReconnectCause,
    },
}

impl Error {
    /// `false` only for errors the stream continues after (malformed frames).
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Error::MalformedFrame { .. })
    }

    /// The client error behind [`Error::Api`].
    pub fn client_error(&self) -> Option<&clickclack_client::Error> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }
}
