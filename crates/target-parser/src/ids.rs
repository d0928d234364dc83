//! Helpers that tell a server-issued id from a name that still needs resolving.

/// Prefix of ClickClack channel ids (`chn_…`).
pub const CHANNEL_ID_PREFIX: &str = "chn_";
/// Prefix of ClickClack user ids (`usr_…`).
pub const USER_ID_PREFIX: &str = "usr_";
/// Prefix of ClickClack message ids (`msg_…`).
pub const MESSAGE_ID_PREFIX: &str = "msg_";

fn has_id_prefix(value: &str, prefix: &str) -> bool {
    value.len() > prefix.len() && value.starts_with(prefix)
}

/// `true` when `value` looks like a channel id (`chn_` followed by at least one
/// character). Such a value is used verbatim; anything else is a channel name
/// to resolve through the workspace's channel list.
///
/// ```
/// assert!(clickclack_target_parser::looks_like_channel_id("chn_01h"));
/// assert!(!clickclack_target_parser::looks_like_channel_id("general"));
/// assert!(!clickclack_target_parser::looks_like_channel_id("chn_"));
/// ```
#[must_use]
pub fn looks_like_channel_id(value: &str) -> bool {
    has_id_prefix(value, CHANNEL_ID_PREFIX)
}

/// `true` when `value` looks like a user id (`usr_` followed by at least one
/// character).
#[must_use]
pub fn looks_like_user_id(value: &str) -> bool {
    has_id_prefix(value, USER_ID_PREFIX)
}

/// `true` when `value` looks like a message id (`msg_` followed by at least one
/// character).
#[must_use]
pub fn looks_like_message_id(value: &str) -> bool {
    has_id_prefix(value, MESSAGE_ID_PREFIX)
}
