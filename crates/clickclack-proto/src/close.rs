//! Realtime WebSocket close codes and their exact reason strings (protocol.md §7.7).
//!
//! | Code | Meaning | Client action |
//! |---|---|---|
//! | [`RESYNC_REQUIRED`] (4001) | cursor unknown/pruned/ahead of tail, or replay over 5,000 events | drop the cursor, resync over REST, reconnect at a fresh `tail_cursor` |
//! | [`TRY_AGAIN_LATER`] (1013) | buffer overflow, replay interrupted, credential store unavailable | back off and reconnect with the last committed cursor |
//! | [`POLICY_VIOLATION`] (1008) | token/session revoked, workspace access removed, client sent data | stop: terminal, no reconnect loop |

/// 4001: resync required. The cursor is unknown, pruned or ahead of the tail,
/// a replay page came back empty, or the replay exceeded 5,000 events.
/// Drop the cursor, re-fetch state, re-anchor at a fresh `tail_cursor`.
pub const RESYNC_REQUIRED: u16 = 4001;
/// 1013 (Try Again Later): transient server-side trouble; reconnect with backoff
/// using the last committed cursor.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// 1008 (Policy Violation): credentials revoked, workspace access removed, or
/// the client sent a data frame. Terminal: do not reconnect with the same token.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1000: normal closure.
pub const NORMAL: u16 = 1000;

/// 4001 reason (the same for every 4001 case).
pub const REASON_RESYNC_REQUIRED: &str = "realtime replay limit exceeded; resync required";
/// 1013 reason: the ephemeral buffer (32 events) overflowed.
pub const REASON_BUFFER_OVERFLOW: &str =
    "realtime buffer overflow; reconnect with after_cursor to replay";
/// 1013 reason: a store error interrupted the replay.
pub const REASON_REPLAY_INTERRUPTED: &str =
    "realtime replay interrupted; reconnect with after_cursor";
/// 1013 reason: the credential store is unavailable.
pub const REASON_CREDENTIAL_UNAVAILABLE: &str = "credential verification unavailable; retry";
/// 1008 reason: the bot token was revoked or rotated.
pub const REASON_BOT_TOKEN_REVOKED: &str = "bot token revoked; reconnect with a valid token";
/// 1008 reason: the session was revoked.
pub const REASON_SESSION_REVOKED: &str = "session revoked; sign in again";
/// 1008 reason: a `bot.deleted` / `bot.membership_removed` event named this bot.
pub const REASON_WORKSPACE_ACCESS_REVOKED: &str = "workspace access revoked";
/// 1008 reason sent by the server's WebSocket library when a client sends a data frame.
pub const REASON_UNEXPECTED_DATA: &str = "unexpected data message";

/// What a client should do after a close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseAction {
    /// Drop the cursor, resync, reconnect at a fresh tail (4001).
    Resync,
    /// Reconnect with backoff from the last committed cursor (1013, abnormal closes, unknown codes).
    Reconnect,
    /// Stop: credentials or access are gone (1008).
    Stop,
}

/// The action for a close code (unknown codes map to [`CloseAction::Reconnect`]).
pub fn action_for(code: u16) -> CloseAction {
    match code {
        RESYNC_REQUIRED => CloseAction::Resync,
        POLICY_VIOLATION => CloseAction::Stop,
        _ => CloseAction::Reconnect,
    }
}
