//! Typed ids: one newtype per id kind.
//!
//! Every id accepts any string on decode (servers may change formats) and
//! exposes [`as_str`](UserId::as_str). Server ids are `prefix_` + lowercase ULID;
//! `looks_like_server_id()` checks the prefix only.

use crate::macros::string_id;

string_id!(
    /// A user id (`usr_…`); bots are users too.
    UserId, prefix = "usr_"
);
string_id!(
    /// A workspace id (`wsp_…`).
    WorkspaceId, prefix = "wsp_"
);
string_id!(
    /// A channel id (`chn_…`).
    ChannelId, prefix = "chn_"
);
string_id!(
    /// A message id (`msg_…`), for root messages and thread replies alike.
    MessageId, prefix = "msg_"
);
string_id!(
    /// A direct conversation (DM) id (`dm_…`).
    ConversationId, prefix = "dm_"
);
string_id!(
    /// An upload id (`upl_…`).
    UploadId, prefix = "upl_"
);
string_id!(
    /// An event id (`evt_…` for durable events, `eph_…` or empty for cursorless ones).
    EventId, prefix = "evt_"
);
string_id!(
    /// A bot token row id (`btok_…`); not the secret token itself.
    BotTokenId, prefix = "btok_"
);
string_id!(
    /// A topic id, as used by `topic_id` on messages and message pages.
    TopicId, prefix = ""
);
string_id!(
    /// A route id: the immutable 17-char public id (`T`/`C`/`D`/`M` + 16 Crockford chars).
    RouteId, prefix = ""
);
string_id!(
    /// A realtime event cursor (`cur_…`; empty for ephemeral events).
    ///
    /// Cursors are strictly increasing per workspace and compare as strings,
    /// which is exactly how `Ord` compares them here.
    Cursor, prefix = "cur_"
);

impl EventId {
    /// Prefix of ids the server gives ephemeral events published over HTTP.
    pub const EPHEMERAL_PREFIX: &'static str = "eph_";
}
