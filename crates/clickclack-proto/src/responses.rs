//! Response wrappers: every resource comes wrapped under a key (protocol.md §5.1).

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::objects::{
    BotCommand, BotToken, Channel, DirectConversation, Message, OwnedBot, ReactionSummary,
    ReadReceipt, RouteTarget, SetupCodeBot, SetupCodeDefaults, SetupCodeWorkspace, ThreadState,
    Topic, Upload, User, Workspace,
};

/// `GET /api/me` and `PATCH /api/me`: `{"user": User}` (with `password_enrolled` / `appearance_preferences`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MeResponse {
    /// The caller (the bot user for bot tokens).
    pub user: User,
}

/// `GET /api/workspaces`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkspacesResponse {
    /// Visible workspaces (a bot sees only its token's workspace).
    #[serde(default, deserialize_with = "crate::go::list")]
    pub workspaces: Vec<Workspace>,
}

/// `GET /api/workspaces/{id}` and `POST /api/workspaces` (201).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkspaceResponse {
    /// The workspace.
    pub workspace: Workspace,
}

/// `GET /api/workspaces/{id}/channels`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelsResponse {
    /// The channels.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub channels: Vec<Channel>,
}

/// `POST /api/workspaces/{id}/channels` (201) and `PATCH /api/channels/{id}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelWriteResponse {
    /// The channel.
    pub channel: Channel,
    /// The durable event it produced; `None` when the server sent no `event` key or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

/// `GET /api/messages/{id}`, `GET /api/messages/by-nonce` and `POST /api/messages/{id}/route`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MessageResponse {
    /// The message.
    pub message: Message,
}

/// Message create (201 with `event`, 200 without on nonce replay), edit and delete.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MessageWriteResponse {
    /// The message.
    pub message: Message,
    /// The event; absent on a nonce replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

/// `POST /api/messages/{id}/thread/replies`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadReplyResponse {
    /// The reply.
    pub message: Message,
    /// The thread summary after the reply.
    pub thread_state: ThreadState,
    /// The events (`thread.reply_created`, `thread.state_updated`); empty on a
    /// nonce replay (the server sends `null`).
    #[serde(default, deserialize_with = "crate::go::list")]
    pub events: Vec<Event>,
}

/// `POST`/`DELETE` reactions. On a replayed add, `event` is the zero event ([`Event::is_zero`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReactionResponse {
    /// The event: the zero event when the reaction already existed, `None`
    /// when the server sent no `event` key or `null`. See [`ReactionResponse::created_event`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// The message's reactions after the change.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub reactions: Vec<ReactionSummary>,
}

/// `GET /api/dms`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DirectConversationsResponse {
    /// The caller's DMs.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub conversations: Vec<DirectConversation>,
}

/// `POST /api/dms` (201, also on reuse) and `GET /api/dms/{id}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DirectConversationResponse {
    /// The conversation.
    pub conversation: DirectConversation,
}

/// `POST /api/uploads` and `GET /api/uploads/by-nonce`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadResponse {
    /// The upload.
    pub upload: Upload,
}

/// `POST /api/channels/{id}/read` and `POST /api/dms/{id}/read`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReceiptResponse {
    /// The new read receipt.
    pub receipt: ReadReceipt,
}

/// `POST /api/realtime/ephemeral` (202).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventResponse {
    /// The published cursorless event; `None` when the server sent no `event` key or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

impl ReactionResponse {
    /// The event this change produced: `None` when the server sent none or the
    /// zero event (the reaction already existed).
    pub fn created_event(&self) -> Option<&Event> {
        self.event.as_ref().filter(|e| !e.is_zero())
    }
}

impl ThreadReplyResponse {
    /// Whether the server answered a nonce replay (no events were produced).
    pub fn is_replay(&self) -> bool {
        self.events.is_empty()
    }
}

/// `PUT /api/bots/self/commands`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotCommandsResponse {
    /// The stored commands.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub bot_commands: Vec<BotCommand>,
}

/// `POST /api/messages/{id}/attachments`: `{"ok": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OkResponse {
    /// Always `true` on success.
    #[serde(default)]
    pub ok: bool,
}

/// `GET /api/event-types`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventTypesResponse {
    /// The durable event types.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub event_types: Vec<String>,
}

/// The JSON line printed by `clickclack admin bot create` without `--plain`
/// (`{"bot": User, "bot_token": BotToken, "token": "ccb_…"}`).
///
/// `Debug` redacts the raw token.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateBotOutput {
    /// The bot user.
    pub bot: User,
    /// The token row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<BotToken>,
    /// The raw `ccb_…` token (secret).
    #[serde(default)]
    pub token: String,
}

impl core::fmt::Debug for CreateBotOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CreateBotOutput")
            .field("bot", &self.bot)
            .field("bot_token", &self.bot_token)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `GET /api/me/bots` (humans; bot tokens get 403).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OwnedBotsResponse {
    /// The caller's user-owned bots, one entry per workspace.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub bots: Vec<OwnedBot>,
}

/// `GET /api/workspaces/{id}/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicsResponse {
    /// The workspace's topics.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub topics: Vec<Topic>,
}

/// `POST /api/workspaces/{id}/topics` (201).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicResponse {
    /// The created topic.
    pub topic: Topic,
}

/// `GET /api/routes/{workspace_route_id}/{target_route_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RouteResponse {
    /// The resolved route.
    pub route: RouteTarget,
}

/// `POST /api/bot-setup-codes/claim`: the minted token and its installer context.
///
/// `Debug` redacts the raw token.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetupCodeClaimResponse {
    /// The one-time raw `ccb_…` token minted by this claim (secret).
    #[serde(default)]
    pub token: String,
    /// The bot.
    #[serde(default)]
    pub bot: SetupCodeBot,
    /// The workspace the token is bound to.
    #[serde(default)]
    pub workspace: SetupCodeWorkspace,
    /// OpenClaw defaults captured at mint time.
    #[serde(default)]
    pub defaults: SetupCodeDefaults,
    /// Version of the setup-code contract (`1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_version: Option<i64>,
    /// The API base URL the installer should persist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
}

impl core::fmt::Debug for SetupCodeClaimResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SetupCodeClaimResponse")
            .field("token", &"<redacted>")
            .field("bot", &self.bot)
            .field("workspace", &self.workspace)
            .field("defaults", &self.defaults)
            .field("contract_version", &self.contract_version)
            .field("api_base_url", &self.api_base_url)
            .finish()
    }
}

impl MessageWriteResponse {
    /// A write response carrying `message` and no event (what a client
    /// reconstructs after finding a committed message by nonce).
    pub fn new(message: Message) -> Self {
        Self {
            message,
            event: None,
        }
    }
}

impl ThreadReplyResponse {
    /// A reply response carrying `message`, the thread's state and no events.
    pub fn new(message: Message, thread_state: ThreadState) -> Self {
        Self {
            message,
            thread_state,
            events: Vec::new(),
        }
    }
}
