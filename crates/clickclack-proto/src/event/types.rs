//! Event type strings (the `type` field).

/// `message.created` (durable)
pub const MESSAGE_CREATED: &str = "message.created";
/// `message.updated` (durable)
pub const MESSAGE_UPDATED: &str = "message.updated";
/// `message.deleted` (durable)
pub const MESSAGE_DELETED: &str = "message.deleted";
/// `thread.reply_created` (durable)
pub const THREAD_REPLY_CREATED: &str = "thread.reply_created";
/// `thread.state_updated` (durable)
pub const THREAD_STATE_UPDATED: &str = "thread.state_updated";
/// `reaction.added` (durable)
pub const REACTION_ADDED: &str = "reaction.added";
/// `reaction.removed` (durable)
pub const REACTION_REMOVED: &str = "reaction.removed";
/// `channel.created` (durable)
pub const CHANNEL_CREATED: &str = "channel.created";
/// `channel.updated` (durable)
pub const CHANNEL_UPDATED: &str = "channel.updated";
/// `channel.deleted` (durable)
pub const CHANNEL_DELETED: &str = "channel.deleted";
/// `channel.read` (durable)
pub const CHANNEL_READ: &str = "channel.read";
/// `dm.read` (durable)
pub const DM_READ: &str = "dm.read";
/// `pin.added` (durable)
pub const PIN_ADDED: &str = "pin.added";
/// `pin.removed` (durable)
pub const PIN_REMOVED: &str = "pin.removed";
/// `member.moderation_updated` (durable)
pub const MEMBER_MODERATION_UPDATED: &str = "member.moderation_updated";
/// `workspace.updated` (durable)
pub const WORKSPACE_UPDATED: &str = "workspace.updated";
/// `workspace.ownership_transferred` (durable)
pub const WORKSPACE_OWNERSHIP_TRANSFERRED: &str = "workspace.ownership_transferred";
/// `typing.started` (cursorless)
pub const TYPING_STARTED: &str = "typing.started";
/// `typing.stopped` (cursorless)
pub const TYPING_STOPPED: &str = "typing.stopped";
/// `presence.changed` (cursorless)
pub const PRESENCE_CHANGED: &str = "presence.changed";
/// `agent.progress` (cursorless)
pub const AGENT_PROGRESS: &str = "agent.progress";
/// `bot_command.updated` (cursorless)
pub const BOT_COMMAND_UPDATED: &str = "bot_command.updated";
/// `bot.deleted` (cursorless)
pub const BOT_DELETED: &str = "bot.deleted";
/// `bot.membership_removed` (cursorless)
pub const BOT_MEMBERSHIP_REMOVED: &str = "bot.membership_removed";

/// The durable types, as `GET /api/event-types` lists them (sorted).
pub const DURABLE: &[&str] = &[
    CHANNEL_CREATED,
    CHANNEL_DELETED,
    CHANNEL_READ,
    CHANNEL_UPDATED,
    DM_READ,
    MEMBER_MODERATION_UPDATED,
    MESSAGE_CREATED,
    MESSAGE_DELETED,
    MESSAGE_UPDATED,
    PIN_ADDED,
    PIN_REMOVED,
    REACTION_ADDED,
    REACTION_REMOVED,
    THREAD_REPLY_CREATED,
    THREAD_STATE_UPDATED,
    WORKSPACE_OWNERSHIP_TRANSFERRED,
    WORKSPACE_UPDATED,
];

/// The types a client may publish through `POST /api/realtime/ephemeral`.
pub const EPHEMERAL_PUBLISHABLE: &[&str] = &[
    TYPING_STARTED,
    TYPING_STOPPED,
    PRESENCE_CHANGED,
    AGENT_PROGRESS,
];
