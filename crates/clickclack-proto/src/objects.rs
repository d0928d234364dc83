//! Object shapes (protocol.md §9), with JSON field names exactly as serialized.
//!
//! Optional keys are `Option` and omitted when `None`; lists default to empty.
//! Unknown JSON fields are ignored on decode.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{
    BotTokenId, ChannelId, ConversationId, MessageId, RouteId, TopicId, UploadId, UserId,
    WorkspaceId,
};
use crate::macros::string_enum;
use crate::scope::Scope;
use crate::timestamp::Timestamp;

string_enum! {
    /// Whether a user is a human or a bot.
    UserKind default Human {
        /// `human`
        Human => "human",
        /// `bot`
        Bot => "bot",
    }
}

string_enum! {
    /// A member's role in a workspace.
    WorkspaceRole default Member {
        /// `owner`
        Owner => "owner",
        /// `moderator`
        Moderator => "moderator",
        /// `member`
        Member => "member",
        /// `guest`
        Guest => "guest",
        /// `bot`
        Bot => "bot",
    }
}

string_enum! {
    /// A channel's kind.
    ChannelKind default Public {
        /// `public` (the default on create)
        Public => "public",
        /// `private`
        Private => "private",
    }
}

string_enum! {
    /// A message's kind; an absent or empty kind means [`MessageKind::Message`].
    MessageKind default Message {
        /// `message`: an ordinary message.
        Message => "message",
        /// `agent_commentary`: agent activity commentary (bot tokens with `agent_activity:write`).
        AgentCommentary => "agent_commentary",
        /// `agent_tool`: agent tool activity (bot tokens with `agent_activity:write`).
        AgentTool => "agent_tool",
    }
}

string_enum! {
    /// A message body format.
    BodyFormat default Markdown {
        /// `markdown` (the only format today)
        Markdown => "markdown",
    }
}

impl UserKind {
    /// Whether this is a bot user.
    pub fn is_bot(&self) -> bool {
        *self == UserKind::Bot
    }
}

/// A user (human or bot).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The user id (`usr_…`).
    pub id: UserId,
    /// `human` or `bot`.
    #[serde(default)]
    pub kind: UserKind,
    /// The owning human for a user-owned bot; absent for service bots and humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<UserId>,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Handle (used in `@handle` mentions).
    #[serde(default)]
    pub handle: String,
    /// A former handle (for deleted bots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_handle: Option<String>,
    /// Avatar URL (may be empty).
    #[serde(default)]
    pub avatar_url: String,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Deletion time, when deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Notification settings (shape not specified by the protocol; kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_settings: Option<serde_json::Value>,
    /// Appearance preferences; only sent by `GET /api/me`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance_preferences: Option<serde_json::Value>,
    /// Whether the user has a password; only sent by `GET /api/me` (false for bots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_enrolled: Option<bool>,
}

impl User {
    /// Whether this user is a bot (`kind == "bot"`).
    pub fn is_bot(&self) -> bool {
        self.kind.is_bot()
    }
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Workspace {
    /// The workspace id (`wsp_…`).
    pub id: WorkspaceId,
    /// The immutable public route id (`T…`).
    #[serde(default)]
    pub route_id: RouteId,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// URL slug.
    #[serde(default)]
    pub slug: String,
    /// Icon URL (may be empty).
    #[serde(default)]
    pub icon_url: String,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// The caller's role, when the server includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<WorkspaceRole>,
}

/// A workspace member (an entry of [`MembersPage`](crate::pages::MembersPage)).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkspaceMember {
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The member.
    pub user: User,
    /// The member's role.
    pub role: WorkspaceRole,
    /// When the member joined.
    #[serde(default)]
    pub joined_at: Timestamp,
}

/// A channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Channel {
    /// The channel id (`chn_…`).
    pub id: ChannelId,
    /// The immutable public route id (`C…`).
    #[serde(default)]
    pub route_id: RouteId,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The slugified name (see [`slugify`](crate::slugify)).
    #[serde(default)]
    pub name: String,
    /// An optional display title (later servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_title: Option<String>,
    /// The kind (`public`, …).
    #[serde(default)]
    pub kind: ChannelKind,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Archive time, when archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<Timestamp>,
    /// The archived flag later servers send beside `archived_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Whether an external system manages the channel.
    #[serde(default)]
    pub external_managed: bool,
    /// External reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    /// External URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// Sidebar section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidebar_section: Option<String>,
    /// The newest root message `channel_seq`.
    #[serde(default)]
    pub last_seq: i64,
    /// The caller's read pointer.
    #[serde(default)]
    pub last_read_seq: i64,
    /// Unread root messages for the caller.
    #[serde(default)]
    pub unread_count: i64,
}

impl Channel {
    /// Whether the channel is archived (`archived_at` set or `archived: true`).
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some() || self.archived == Some(true)
    }
}

/// Thread summary of a root message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadState {
    /// The thread's root message.
    pub root_message_id: MessageId,
    /// Number of replies.
    #[serde(default)]
    pub reply_count: i64,
    /// Time of the latest reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<Timestamp>,
    /// Up to three most recent reply authors.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub last_reply_author_ids: Vec<UserId>,
}

impl ThreadState {
    /// The state of a thread without replies yet.
    pub fn new(root_message_id: impl Into<MessageId>) -> Self {
        Self {
            root_message_id: root_message_id.into(),
            ..Self::default()
        }
    }
}

/// Per-emoji reaction summary on a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReactionSummary {
    /// The emoji, stored as given.
    pub emoji: String,
    /// How many users reacted.
    #[serde(default)]
    pub count: i64,
    /// Whether the caller reacted.
    #[serde(default)]
    pub reacted_by_me: bool,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Upload {
    /// The upload id (`upl_…`).
    pub id: UploadId,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The uploader.
    #[serde(default)]
    pub owner_id: UserId,
    /// The upload nonce, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// File name from the multipart part.
    #[serde(default)]
    pub filename: String,
    /// Content type (default `application/octet-stream`).
    #[serde(default)]
    pub content_type: String,
    /// Size in bytes.
    #[serde(default)]
    pub byte_size: i64,
    /// Width in pixels (0 when unknown).
    #[serde(default)]
    pub width: i64,
    /// Height in pixels (0 when unknown).
    #[serde(default)]
    pub height: i64,
    /// Duration in milliseconds (0 when unknown).
    #[serde(default)]
    pub duration_ms: i64,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
}

/// A message: a channel or DM root message, or a thread reply.
///
/// Roots have `thread_root_id == id` and no `parent_message_id`; replies have
/// `parent_message_id == thread_root_id`, a `thread_seq` and no `channel_seq`.
/// Deleted messages keep their row with `body: ""` and `deleted_at` set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// The message id (`msg_…`).
    pub id: MessageId,
    /// The public route id (`M…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_id: Option<RouteId>,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The channel, for channel messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// The DM, for DM messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
    /// The author.
    #[serde(default)]
    pub author_id: UserId,
    /// The parent (= thread root) for replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_message_id: Option<MessageId>,
    /// The thread root (the message itself for roots).
    #[serde(default)]
    pub thread_root_id: MessageId,
    /// The topic, when posted in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<TopicId>,
    /// Root-message sequence in the channel or DM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_seq: Option<i64>,
    /// Reply sequence within the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_seq: Option<i64>,
    /// Markdown body (empty for deleted messages).
    #[serde(default)]
    pub body: String,
    /// Body format (`markdown`).
    #[serde(default)]
    pub body_format: BodyFormat,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Last edit time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// Deletion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Kind; absent means `message` (see [`Message::effective_kind`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// Agent turn id (agent activity kinds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// Which model wrote it (`provider/model`), on servers that keep
    /// provenance (newer than protocol.md's; older ones drop the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_model: Option<String>,
    /// The thinking level the model used (servers that keep provenance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_thinking: Option<String>,
    /// The agent runtime that wrote it (servers that keep provenance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_runtime: Option<String>,
    /// The hydrated author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<User>,
    /// Attached uploads.
    #[serde(
        default,
        deserialize_with = "crate::go::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attachments: Vec<Upload>,
    /// The quoted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<MessageId>,
    /// Snapshot of the quoted body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_body_snapshot: Option<String>,
    /// Author of the quoted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_author_id: Option<UserId>,
    /// The hydrated quoted author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_author: Option<User>,
    /// Thread summary (roots with replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_state: Option<ThreadState>,
    /// The client nonce the message was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Reaction summaries.
    #[serde(
        default,
        deserialize_with = "crate::go::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reactions: Vec<ReactionSummary>,
}

impl Message {
    /// The kind, treating absent/empty as [`MessageKind::Message`].
    pub fn effective_kind(&self) -> MessageKind {
        match &self.kind {
            None => MessageKind::Message,
            Some(MessageKind::Other(s)) if s.is_empty() => MessageKind::Message,
            Some(k) => k.clone(),
        }
    }

    /// Whether this is a thread reply (has a parent).
    pub fn is_thread_reply(&self) -> bool {
        self.parent_message_id.is_some()
    }

    /// Whether this message is in a DM.
    pub fn is_direct(&self) -> bool {
        self.direct_conversation_id.is_some()
    }

    /// Whether this message was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A direct conversation (DM).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DirectConversation {
    /// The conversation id (`dm_…`).
    pub id: ConversationId,
    /// The public route id (`D…`).
    #[serde(default)]
    pub route_id: RouteId,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Members (hydrated users).
    #[serde(default, deserialize_with = "crate::go::list")]
    pub members: Vec<User>,
    /// Newest DM message sequence.
    #[serde(default)]
    pub last_seq: i64,
    /// The caller's read pointer.
    #[serde(default)]
    pub last_read_seq: i64,
    /// Unread messages for the caller.
    #[serde(default)]
    pub unread_count: i64,
    /// Whether the caller can send (an active recipient exists).
    #[serde(default)]
    pub can_send: bool,
}

/// A read receipt (channel or DM read pointer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadReceipt {
    /// The channel or DM id the pointer belongs to.
    pub scope_id: String,
    /// The reader.
    pub user_id: UserId,
    /// The read pointer.
    #[serde(default)]
    pub last_read_seq: i64,
    /// When it was set.
    #[serde(default)]
    pub last_read_at: Timestamp,
}

/// A bot's slash command as stored by the server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotCommand {
    /// The command row id.
    #[serde(default)]
    pub id: String,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The bot.
    #[serde(default)]
    pub bot_user_id: UserId,
    /// The canonical command (`/name`, lowercase).
    pub command: String,
    /// Description (1–100 chars).
    #[serde(default)]
    pub description: String,
    /// Argument hint (may be empty).
    #[serde(default)]
    pub args_hint: String,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Last update time.
    #[serde(default)]
    pub updated_at: Timestamp,
}

/// A bot token row (never the secret except `token` in create responses).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotToken {
    /// The token row id (`btok_…`).
    pub id: BotTokenId,
    /// The bot user.
    #[serde(default)]
    pub bot_user_id: UserId,
    /// The workspace the token is bound to.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The owning human for user-owned bots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<UserId>,
    /// Token name.
    #[serde(default)]
    pub name: String,
    /// Concrete scopes, sorted.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub scopes: Vec<Scope>,
    /// Creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserId>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Last use time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// Revocation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// The raw `ccb_…` secret, only in create responses. Redacted in `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl core::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BotToken")
            .field("id", &self.id)
            .field("bot_user_id", &self.bot_user_id)
            .field("workspace_id", &self.workspace_id)
            .field("owner_user_id", &self.owner_user_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("revoked_at", &self.revoked_at)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A highlighted range in a search snippet (shape not pinned by protocol.md; kept as JSON).
pub type SearchHighlight = serde_json::Value;

/// One search hit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SearchResult {
    /// The message id.
    pub id: MessageId,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The channel, for channel hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// The channel name, for channel hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// The DM, for DM hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
    /// The author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<User>,
    /// The parent, for replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_message_id: Option<MessageId>,
    /// The thread root.
    #[serde(default)]
    pub thread_root_id: MessageId,
    /// Root sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_seq: Option<i64>,
    /// Reply sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_seq: Option<i64>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Edit time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// Reply count.
    #[serde(default)]
    pub reply_count: i64,
    /// Latest reply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<Timestamp>,
    /// Plain-text excerpt with the matched terms.
    #[serde(default)]
    pub snippet: String,
    /// Highlight ranges.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub highlights: Vec<SearchHighlight>,
}

/// Per-role member totals of a [`MembersPage`](crate::pages::MembersPage).
pub type RoleCounts = BTreeMap<String, i64>;

/// A workspace topic (`GET`/`POST /api/workspaces/{id}/topics`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Topic {
    /// The topic id (as used by `topic_id` on messages).
    pub id: TopicId,
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The channel the topic belongs to, when it is channel-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// Name (≤80 chars).
    #[serde(default)]
    pub name: String,
    /// Creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserId>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Timestamp,
    /// Archive time, when archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<Timestamp>,
}

string_enum! {
    /// What a public route id points at ([`RouteTarget::target_type`], [`RouteTarget::parent_type`]).
    RouteTargetType default Channel {
        /// `channel`
        Channel => "channel",
        /// `direct` (a DM)
        Direct => "direct",
        /// `thread` (a root message)
        Thread => "thread",
    }
}

/// A resolved public route (`GET /api/routes/{workspace_route_id}/{target_route_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RouteTarget {
    /// The workspace.
    #[serde(default)]
    pub workspace_id: WorkspaceId,
    /// The workspace's route id (`T…`).
    #[serde(default)]
    pub workspace_route_id: RouteId,
    /// What the route points at.
    pub target_type: RouteTargetType,
    /// The target's id (`chn_…`, `dm_…` or the root `msg_…`).
    #[serde(default)]
    pub target_id: String,
    /// The target's route id (`C…`, `D…`, `M…`).
    #[serde(default)]
    pub target_route_id: RouteId,
    /// For a thread: the kind of conversation it lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_type: Option<RouteTargetType>,
    /// For a thread: the channel or DM id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// For a thread: the channel or DM route id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_route_id: Option<RouteId>,
    /// The canonical public URL path (e.g. `/app/T…/C…`).
    #[serde(default)]
    pub canonical_path: String,
}

/// The workspace of an [`OwnedBot`] entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OwnedBotWorkspace {
    /// The workspace id.
    pub id: WorkspaceId,
    /// Its route id.
    #[serde(default)]
    pub route_id: RouteId,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// One entry of `GET /api/me/bots`: a user-owned bot in one workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OwnedBot {
    /// The bot user.
    pub bot: User,
    /// The workspace it is installed in.
    pub workspace: OwnedBotWorkspace,
    /// Unrevoked tokens of the bot in that workspace.
    #[serde(default)]
    pub active_token_count: i64,
}

/// The bot named by a claimed setup code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetupCodeBot {
    /// The bot user id.
    pub id: UserId,
    /// Its handle.
    #[serde(default)]
    pub handle: String,
    /// Its display name.
    #[serde(default)]
    pub display_name: String,
}

/// The workspace named by a claimed setup code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetupCodeWorkspace {
    /// The workspace id.
    pub id: WorkspaceId,
    /// Its route id.
    #[serde(default)]
    pub route_id: RouteId,
    /// Its slug.
    #[serde(default)]
    pub slug: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// OpenClaw defaults captured when the setup code was minted (keys are camelCase on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetupCodeDefaults {
    /// Outbound target such as `channel:general`.
    #[serde(rename = "defaultTo", default, skip_serializing_if = "Option::is_none")]
    pub default_to: Option<String>,
    /// Inbound sender allowlist.
    #[serde(
        rename = "allowFrom",
        default,
        deserialize_with = "crate::go::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow_from: Vec<String>,
    /// Whether agent activity streaming should be enabled.
    #[serde(
        rename = "agentActivity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_activity: Option<bool>,
}
