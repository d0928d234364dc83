//! HTTP header names and WebSocket subprotocol constants.

/// Correlation id header, echoed on every response and adopted from requests
/// when it is 1–128 chars of `[A-Za-z0-9._:-]`.
pub const CORRELATION_ID: &str = "X-Correlation-ID";
/// Sent (value [`SUPPORTED`]) on `GET /api/messages/by-nonce` responses by servers that support message nonces.
pub const MESSAGE_NONCE: &str = "X-ClickClack-Message-Nonce";
/// Sent (value [`SUPPORTED`]) on `GET /api/uploads/by-nonce` responses by servers that support upload nonces.
pub const UPLOAD_NONCE: &str = "X-ClickClack-Upload-Nonce";
/// The value of the nonce-support headers.
pub const SUPPORTED: &str = "supported";
/// Cookie-session CSRF header (value `1`); not needed with Bearer auth.
pub const CSRF: &str = "X-ClickClack-CSRF";
/// Dev-only header naming the acting user on loopback dev servers.
pub const DEV_USER: &str = "X-ClickClack-User";
/// WebSocket subprotocol prefix carrying the raw bearer token: `clickclack.bearer.<token>`.
pub const BEARER_SUBPROTOCOL_PREFIX: &str = "clickclack.bearer.";
/// The `Authorization` scheme prefix (exactly this, with the space).
pub const BEARER_PREFIX: &str = "Bearer ";

/// Maximum correlation id length the server adopts.
pub const MAX_CORRELATION_ID_LEN: usize = 128;
/// Maximum nonce length (after trimming) for message and upload nonces.
pub const MAX_NONCE_LEN: usize = 128;
/// Maximum JSON request body size the server reads (1 MiB).
pub const MAX_JSON_BODY_BYTES: usize = 1 << 20;
/// Maximum upload request size (64 MiB).
pub const MAX_UPLOAD_BYTES: usize = 64 << 20;
/// Maximum events examined in one realtime replay before the server closes with 4001.
pub const REALTIME_REPLAY_MAX_EVENTS: usize = 5000;

/// Why a nonce cannot be sent: longer than [`MAX_NONCE_LEN`] characters after trimming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a nonce may be at most {MAX_NONCE_LEN} characters (this one has {chars})")]
#[non_exhaustive]
pub struct NonceTooLong {
    /// The trimmed nonce's length in characters.
    pub chars: usize,
}

/// Normalizes a message or upload nonce the way the server does: trims it;
/// an empty nonce is `None` (no nonce); more than [`MAX_NONCE_LEN`]
/// characters is an error (the server answers 400 `nonce is too long`).
pub fn normalize_nonce(raw: &str) -> Result<Option<&str>, NonceTooLong> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars > MAX_NONCE_LEN {
        return Err(NonceTooLong { chars });
    }
    Ok(Some(trimmed).filter(|n| !n.is_empty()))
}

/// Whether the server would adopt `value` as a correlation id
/// (1–128 chars of `[A-Za-z0-9._:-]`).
pub fn is_valid_correlation_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_CORRELATION_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}
