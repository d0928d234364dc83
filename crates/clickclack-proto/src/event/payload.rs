//! Step two of decoding: typed payloads by event `type`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::envelope::null_raw;
use super::types;
use crate::ids::{ChannelId, ConversationId, MessageId, TopicId, UserId, WorkspaceId};
use crate::objects::{MessageKind, WorkspaceRole};
use crate::timestamp::Timestamp;

/// The typed payload of an [`Event`](super::Event), one variant per known `type`.
///
/// Equality compares `Unknown` payloads as JSON values (whitespace and key
/// order do not matter).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventPayload {
    /// `message.created` (channel and DM forms).
    MessageCreated(MessageCreatedPayload),
    /// `message.updated`.
    MessageUpdated(MessageChangedPayload),
    /// `message.deleted`.
    MessageDeleted(MessageChangedPayload),
    /// `thread.reply_created` (no `author_id`).
    ThreadReplyCreated(ThreadReplyCreatedPayload),
    /// `thread.state_updated`.
    ThreadStateUpdated(ThreadStateUpdatedPayload),
    /// `reaction.added`.
    ReactionAdded(ReactionPayload),
    /// `reaction.removed`.
    ReactionRemoved(ReactionPayload),
    /// `channel.created`.
    ChannelCreated(ChannelPayload),
    /// `channel.updated`.
    ChannelUpdated(ChannelUpdatedPayload),
    /// `channel.deleted`.
    ChannelDeleted(ChannelPayload),
    /// `channel.read` (only delivered to that user).
    ChannelRead(ReadPayload),
    /// `dm.read` (only delivered to that user).
    DmRead(ReadPayload),
    /// `pin.added`.
    PinAdded(PinPayload),
    /// `pin.removed`.
    PinRemoved(PinPayload),
    /// `member.moderation_updated`.
    MemberModerationUpdated(ModerationPayload),
    /// `workspace.updated`.
    WorkspaceUpdated(WorkspacePayload),
    /// `workspace.ownership_transferred`.
    WorkspaceOwnershipTransferred(OwnershipTransferredPayload),
    /// `typing.started` (cursorless).
    TypingStarted(EphemeralPayload),
    /// `typing.stopped` (cursorless).
    TypingStopped(EphemeralPayload),
    /// `presence.changed` (cursorless).
    PresenceChanged(EphemeralPayload),
    /// `agent.progress` (cursorless).
    AgentProgress(EphemeralPayload),
    /// `bot_command.updated` (cursorless).
    BotCommandUpdated(BotCommandUpdatedPayload),
    /// `bot.deleted` (cursorless).
    BotDeleted(BotDeletedPayload),
    /// `bot.membership_removed` (cursorless).
    BotMembershipRemoved(BotMembershipRemovedPayload),
    /// An unknown `type`, a `null` payload, or a payload that did not decode
    /// as its type. `raw` is the payload JSON exactly as received (`null` when absent).
    #[non_exhaustive]
    Unknown {
        /// The raw payload JSON.
        raw: Box<RawValue>,
    },
}

/// Payload of `message.created` (channel form: `channel_id` on the envelope; DM form: `direct_conversation_id` here).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MessageCreatedPayload {
    /// The new message.
    pub message_id: MessageId,
    /// The author (always sent by current servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<UserId>,
    /// The DM, for DM messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
    /// The topic, when posted in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<TopicId>,
    /// The kind, only when not `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// Agent turn id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// The create request's nonce, when it carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The create request's correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Users mentioned in the body (later servers also send this on the envelope).
    #[serde(
        default,
        deserialize_with = "crate::go::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mentioned_user_ids: Vec<UserId>,
}

/// Payload of `thread.reply_created`. Older servers send **no `author_id`**:
/// then fetch the message or match `nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadReplyCreatedPayload {
    /// The new reply.
    pub message_id: MessageId,
    /// The thread root.
    pub root_message_id: MessageId,
    /// The reply's author (later servers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<UserId>,
    /// The DM, for DM threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
    /// The reply request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The reply request's correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Users mentioned in the body (later servers).
    #[serde(
        default,
        deserialize_with = "crate::go::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mentioned_user_ids: Vec<UserId>,
}

/// Payload of `thread.state_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadStateUpdatedPayload {
    /// The thread root.
    pub root_message_id: MessageId,
    /// The DM, for DM threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
}

/// Payload of `message.updated` and `message.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MessageChangedPayload {
    /// The changed message.
    pub message_id: MessageId,
    /// The thread root of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_message_id: Option<MessageId>,
    /// The message's author (later servers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<UserId>,
    /// The DM, for DM messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
}

/// Payload of `reaction.added` and `reaction.removed` (older servers send only `message_id` and `emoji`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReactionPayload {
    /// The message.
    pub message_id: MessageId,
    /// The emoji.
    pub emoji: String,
    /// Who reacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The new count for this emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// The DM, for DM messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
}

/// Payload of `channel.created` and `channel.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelPayload {
    /// The channel.
    pub channel_id: ChannelId,
}

/// Payload of `channel.updated`. Some publishers send `{}` or no payload:
/// then `channel_id` is empty (use the envelope's `channel_id`) and `archived` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelUpdatedPayload {
    /// The channel (empty when the payload did not name it).
    #[serde(default, skip_serializing_if = "ChannelId::is_empty")]
    pub channel_id: ChannelId,
    /// Whether the channel is now archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// Payload of `channel.read` and `dm.read` (the read pointer is the envelope `seq`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadPayload {
    /// The reader.
    pub user_id: UserId,
    /// The channel, for `channel.read`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// The DM, for `dm.read`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
}

/// Payload of `pin.added` and `pin.removed`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PinPayload {
    /// The channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// The pinned message.
    pub message_id: MessageId,
    /// Who pinned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_by: Option<UserId>,
}

/// Payload of `member.moderation_updated` (keys from the docs only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModerationPayload {
    /// The moderated member.
    pub user_id: UserId,
    /// The member's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<WorkspaceRole>,
}

/// Payload of `workspace.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkspacePayload {
    /// The workspace.
    pub workspace_id: WorkspaceId,
}

/// Payload of `workspace.ownership_transferred`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OwnershipTransferredPayload {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The new owner.
    pub new_owner_user_id: UserId,
}

/// Payload of `bot_command.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotCommandUpdatedPayload {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The bot whose commands changed.
    pub bot_user_id: UserId,
}

/// Payload of `bot.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotDeletedPayload {
    /// The deleted bot.
    pub bot_user_id: UserId,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Its former handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_handle: Option<String>,
    /// When it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}

/// Payload of `bot.membership_removed`. If it names the connected bot the server then closes with 1008.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotMembershipRemovedPayload {
    /// The removed bot.
    pub bot_user_id: UserId,
}

/// Payload of the cursorless events published through `POST /api/realtime/ephemeral`
/// (`typing.*`, `presence.changed`, `agent.progress`).
///
/// The server adds `user_id` (the sender) and the target key to the caller's
/// payload; every other key the caller sent is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EphemeralPayload {
    /// The sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The channel target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// The DM target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
    /// The rest of the caller's payload (e.g. `turn_id`, `seq`, `op`, `line` for `agent.progress`).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where a typed payload is decoded from: its raw JSON text, or the
/// envelope's input in the same pass.
pub(crate) trait PayloadSource {
    /// Why the payload did not decode as the type asked for.
    type Error;

    /// Decodes the payload as `T`.
    fn typed<T: serde::de::DeserializeOwned>(self) -> Result<T, Self::Error>;
}

impl PayloadSource for &str {
    type Error = serde_json::Error;

    fn typed<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self)
    }
}

/// Decodes `source` as the payload of `event_type`: `None` for a type this
/// crate does not know.
pub(crate) fn decode_by_type<S: PayloadSource>(
    event_type: &str,
    source: S,
) -> Option<Result<EventPayload, S::Error>> {
    use EventPayload as P;
    use types as t;
    Some(match event_type {
        t::MESSAGE_CREATED => source.typed().map(P::MessageCreated),
        t::MESSAGE_UPDATED => source.typed().map(P::MessageUpdated),
        t::MESSAGE_DELETED => source.typed().map(P::MessageDeleted),
        t::THREAD_REPLY_CREATED => source.typed().map(P::ThreadReplyCreated),
        t::THREAD_STATE_UPDATED => source.typed().map(P::ThreadStateUpdated),
        t::REACTION_ADDED => source.typed().map(P::ReactionAdded),
        t::REACTION_REMOVED => source.typed().map(P::ReactionRemoved),
        t::CHANNEL_CREATED => source.typed().map(P::ChannelCreated),
        t::CHANNEL_UPDATED => source.typed().map(P::ChannelUpdated),
        t::CHANNEL_DELETED => source.typed().map(P::ChannelDeleted),
        t::CHANNEL_READ => source.typed().map(P::ChannelRead),
        t::DM_READ => source.typed().map(P::DmRead),
        t::PIN_ADDED => source.typed().map(P::PinAdded),
        t::PIN_REMOVED => source.typed().map(P::PinRemoved),
        t::MEMBER_MODERATION_UPDATED => source.typed().map(P::MemberModerationUpdated),
        t::WORKSPACE_UPDATED => source.typed().map(P::WorkspaceUpdated),
        t::WORKSPACE_OWNERSHIP_TRANSFERRED => source.typed().map(P::WorkspaceOwnershipTransferred),
        t::TYPING_STARTED => source.typed().map(P::TypingStarted),
        t::TYPING_STOPPED => source.typed().map(P::TypingStopped),
        t::PRESENCE_CHANGED => source.typed().map(P::PresenceChanged),
        t::AGENT_PROGRESS => source.typed().map(P::AgentProgress),
        t::BOT_COMMAND_UPDATED => source.typed().map(P::BotCommandUpdated),
        t::BOT_DELETED => source.typed().map(P::BotDeleted),
        t::BOT_MEMBERSHIP_REMOVED => source.typed().map(P::BotMembershipRemoved),
        _ => return None,
    })
}

impl EventPayload {
    /// Decodes a payload by event `type`. Unknown types, `null` and payloads
    /// that do not match their type become [`EventPayload::Unknown`].
    ///
    /// `channel.updated` is the one type whose payload may be `{}`, `null` or
    /// absent and still decode as typed ([`EventPayload::ChannelUpdated`]).
    pub fn decode(event_type: &str, raw: Option<&RawValue>) -> EventPayload {
        let raw = match raw {
            Some(raw) if raw.get() != "null" => raw,
            _ if event_type == types::CHANNEL_UPDATED => {
                return EventPayload::ChannelUpdated(ChannelUpdatedPayload::default());
            }
            Some(raw) => {
                return EventPayload::Unknown {
                    raw: raw.to_owned(),
                };
            }
            None => return EventPayload::Unknown { raw: null_raw() },
        };
        match decode_by_type(event_type, raw.get()) {
            Some(Ok(decoded)) => decoded,
            _ => EventPayload::Unknown {
                raw: raw.to_owned(),
            },
        }
    }

    /// The event type this payload variant stands for (`None` for `Unknown`).
    pub fn event_type(&self) -> Option<&'static str> {
        use types as t;
        Some(match self {
            EventPayload::MessageCreated(_) => t::MESSAGE_CREATED,
            EventPayload::MessageUpdated(_) => t::MESSAGE_UPDATED,
            EventPayload::MessageDeleted(_) => t::MESSAGE_DELETED,
            EventPayload::ThreadReplyCreated(_) => t::THREAD_REPLY_CREATED,
            EventPayload::ThreadStateUpdated(_) => t::THREAD_STATE_UPDATED,
            EventPayload::ReactionAdded(_) => t::REACTION_ADDED,
            EventPayload::ReactionRemoved(_) => t::REACTION_REMOVED,
            EventPayload::ChannelCreated(_) => t::CHANNEL_CREATED,
            EventPayload::ChannelUpdated(_) => t::CHANNEL_UPDATED,
            EventPayload::ChannelDeleted(_) => t::CHANNEL_DELETED,
            EventPayload::ChannelRead(_) => t::CHANNEL_READ,
            EventPayload::DmRead(_) => t::DM_READ,
            EventPayload::PinAdded(_) => t::PIN_ADDED,
            EventPayload::PinRemoved(_) => t::PIN_REMOVED,
            EventPayload::MemberModerationUpdated(_) => t::MEMBER_MODERATION_UPDATED,
            EventPayload::WorkspaceUpdated(_) => t::WORKSPACE_UPDATED,
            EventPayload::WorkspaceOwnershipTransferred(_) => t::WORKSPACE_OWNERSHIP_TRANSFERRED,
            EventPayload::TypingStarted(_) => t::TYPING_STARTED,
            EventPayload::TypingStopped(_) => t::TYPING_STOPPED,
            EventPayload::PresenceChanged(_) => t::PRESENCE_CHANGED,
            EventPayload::AgentProgress(_) => t::AGENT_PROGRESS,
            EventPayload::BotCommandUpdated(_) => t::BOT_COMMAND_UPDATED,
            EventPayload::BotDeleted(_) => t::BOT_DELETED,
            EventPayload::BotMembershipRemoved(_) => t::BOT_MEMBERSHIP_REMOVED,
            EventPayload::Unknown { .. } => return None,
        })
    }

    /// Whether this is [`EventPayload::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, EventPayload::Unknown { .. })
    }

    /// The raw JSON of an `Unknown` payload.
    pub fn raw(&self) -> Option<&RawValue> {
        match self {
            EventPayload::Unknown { raw } => Some(raw),
            _ => None,
        }
    }

    /// An `Unknown` payload from JSON text; invalid JSON becomes `null`.
    pub fn unknown_from_json(json: &str) -> EventPayload {
        EventPayload::Unknown {
            raw: RawValue::from_string(json.to_owned()).unwrap_or_else(|_| null_raw()),
        }
    }
}

/// Raw JSON equality: identical text, or equal once parsed.
fn raw_json_eq(a: &RawValue, b: &RawValue) -> bool {
    a.get() == b.get()
        || matches!(
            (
                serde_json::from_str::<serde_json::Value>(a.get()),
                serde_json::from_str::<serde_json::Value>(b.get()),
            ),
            (Ok(x), Ok(y)) if x == y
        )
}

impl PartialEq for EventPayload {
    fn eq(&self, other: &Self) -> bool {
        use EventPayload as P;
        match (self, other) {
            (P::MessageCreated(a), P::MessageCreated(b)) => a == b,
            (P::MessageUpdated(a), P::MessageUpdated(b)) => a == b,
            (P::MessageDeleted(a), P::MessageDeleted(b)) => a == b,
            (P::ThreadReplyCreated(a), P::ThreadReplyCreated(b)) => a == b,
            (P::ThreadStateUpdated(a), P::ThreadStateUpdated(b)) => a == b,
            (P::ReactionAdded(a), P::ReactionAdded(b)) => a == b,
            (P::ReactionRemoved(a), P::ReactionRemoved(b)) => a == b,
            (P::ChannelCreated(a), P::ChannelCreated(b)) => a == b,
            (P::ChannelUpdated(a), P::ChannelUpdated(b)) => a == b,
            (P::ChannelDeleted(a), P::ChannelDeleted(b)) => a == b,
            (P::ChannelRead(a), P::ChannelRead(b)) => a == b,
            (P::DmRead(a), P::DmRead(b)) => a == b,
            (P::PinAdded(a), P::PinAdded(b)) => a == b,
            (P::PinRemoved(a), P::PinRemoved(b)) => a == b,
            (P::MemberModerationUpdated(a), P::MemberModerationUpdated(b)) => a == b,
            (P::WorkspaceUpdated(a), P::WorkspaceUpdated(b)) => a == b,
            (P::WorkspaceOwnershipTransferred(a), P::WorkspaceOwnershipTransferred(b)) => a == b,
            (P::TypingStarted(a), P::TypingStarted(b)) => a == b,
            (P::TypingStopped(a), P::TypingStopped(b)) => a == b,
            (P::PresenceChanged(a), P::PresenceChanged(b)) => a == b,
            (P::AgentProgress(a), P::AgentProgress(b)) => a == b,
            (P::BotCommandUpdated(a), P::BotCommandUpdated(b)) => a == b,
            (P::BotDeleted(a), P::BotDeleted(b)) => a == b,
            (P::BotMembershipRemoved(a), P::BotMembershipRemoved(b)) => a == b,
            (P::Unknown { raw: a }, P::Unknown { raw: b }) => raw_json_eq(a, b),
            _ => false,
        }
    }
}

impl Serialize for EventPayload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventPayload::MessageCreated(p) => p.serialize(s),
            EventPayload::MessageUpdated(p) | EventPayload::MessageDeleted(p) => p.serialize(s),
            EventPayload::ThreadReplyCreated(p) => p.serialize(s),
            EventPayload::ThreadStateUpdated(p) => p.serialize(s),
            EventPayload::ReactionAdded(p) | EventPayload::ReactionRemoved(p) => p.serialize(s),
            EventPayload::ChannelCreated(p) | EventPayload::ChannelDeleted(p) => p.serialize(s),
            EventPayload::ChannelUpdated(p) => p.serialize(s),
            EventPayload::ChannelRead(p) | EventPayload::DmRead(p) => p.serialize(s),
            EventPayload::PinAdded(p) | EventPayload::PinRemoved(p) => p.serialize(s),
            EventPayload::MemberModerationUpdated(p) => p.serialize(s),
            EventPayload::WorkspaceUpdated(p) => p.serialize(s),
            EventPayload::WorkspaceOwnershipTransferred(p) => p.serialize(s),
            EventPayload::TypingStarted(p)
            | EventPayload::TypingStopped(p)
            | EventPayload::PresenceChanged(p)
            | EventPayload::AgentProgress(p) => p.serialize(s),
            EventPayload::BotCommandUpdated(p) => p.serialize(s),
            EventPayload::BotDeleted(p) => p.serialize(s),
            EventPayload::BotMembershipRemoved(p) => p.serialize(s),
            EventPayload::Unknown { raw } => raw.serialize(s),
        }
    }
}
