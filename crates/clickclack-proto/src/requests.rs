//! Request bodies for the bot endpoints of protocol.md §5.1.
//!
//! All are `Serialize + Deserialize` (the testkit decodes them). Optional
//! fields are omitted when `None`.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, ConversationId, MessageId, TopicId, UploadId, UserId, WorkspaceId};
use crate::objects::{ChannelKind, MessageKind};

/// `POST /api/channels/{id}/messages` and `POST /api/dms/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateMessage {
    /// Markdown body (required, non-empty).
    #[serde(default)]
    pub body: String,
    /// Client nonce (≤128 chars after trimming) making the create idempotent per author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// A message to quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<MessageId>,
    /// A topic to post in (channels only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<TopicId>,
    /// An upload to attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<UploadId>,
    /// Kind; agent activity kinds need `agent_activity:write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// Agent turn id (agent activity kinds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// Provenance: the model that wrote the message (`provider/model`).
    /// Servers that do not keep provenance ignore it (unknown field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_model: Option<String>,
    /// Provenance: the model's thinking level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_thinking: Option<String>,
    /// Provenance: the agent runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_runtime: Option<String>,
}

impl CreateMessage {
    /// A message with this body and nothing else set.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// Sets the nonce.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the quoted message.
    pub fn with_quote(mut self, message_id: impl Into<MessageId>) -> Self {
        self.quoted_message_id = Some(message_id.into());
        self
    }

    /// Sets the upload to attach.
    pub fn with_upload(mut self, upload_id: impl Into<UploadId>) -> Self {
        self.upload_id = Some(upload_id.into());
        self
    }

    /// Posts in a topic (channels only).
    pub fn with_topic(mut self, topic_id: impl Into<TopicId>) -> Self {
        self.topic_id = Some(topic_id.into());
        self
    }

    /// Sets the kind (agent activity kinds need `agent_activity:write`).
    pub fn with_kind(mut self, kind: MessageKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Sets the agent turn id (agent activity kinds only).
    pub fn with_turn_id(mut self, turn_id: impl Into<String>) -> Self {
        self.turn_id = Some(turn_id.into());
        self
    }

    /// Sets the provenance fields (`None` leaves a field out).
    pub fn with_provenance(
        mut self,
        model: Option<String>,
        thinking: Option<String>,
        runtime: Option<String>,
    ) -> Self {
        self.author_model = model;
        self.author_thinking = thinking;
        self.author_runtime = runtime;
        self
    }
}

/// `POST /api/messages/{id}/thread/replies`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateThreadReply {
    /// Markdown body (required).
    #[serde(default)]
    pub body: String,
    /// A message to quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<MessageId>,
    /// Client nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Provenance: the model that wrote the reply (`provider/model`).
    /// Servers that do not keep provenance ignore it (unknown field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_model: Option<String>,
    /// Provenance: the model's thinking level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_thinking: Option<String>,
    /// Provenance: the agent runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_runtime: Option<String>,
}

impl CreateThreadReply {
    /// Sets the provenance fields (`None` leaves a field out).
    pub fn with_provenance(
        mut self,
        model: Option<String>,
        thinking: Option<String>,
        runtime: Option<String>,
    ) -> Self {
        self.author_model = model;
        self.author_thinking = thinking;
        self.author_runtime = runtime;
        self
    }

    /// A reply with this body.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// Sets the nonce.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the quoted message.
    pub fn with_quote(mut self, message_id: impl Into<MessageId>) -> Self {
        self.quoted_message_id = Some(message_id.into());
        self
    }
}

/// `POST /api/dms`: create or reuse a DM (the caller is added automatically).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateDirectConversation {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The other members (`usr_…`), max 32.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub member_ids: Vec<UserId>,
}

impl CreateDirectConversation {
    /// A DM request with these other members.
    pub fn new(
        workspace_id: impl Into<WorkspaceId>,
        member_ids: impl IntoIterator<Item = UserId>,
    ) -> Self {
        Self {
            workspace_id: workspace_id.into(),
            member_ids: member_ids.into_iter().collect(),
        }
    }
}

/// `POST /api/messages/{id}/reactions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AddReaction {
    /// The emoji, stored as given.
    pub emoji: String,
}

/// `POST /api/realtime/ephemeral`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PublishEphemeral {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Channel target (exclusive with `direct_conversation_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// DM target (exclusive with `channel_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_conversation_id: Option<ConversationId>,
    /// `typing.started`, `typing.stopped`, `presence.changed` or `agent.progress`
    /// (see [`event::types::EPHEMERAL_PUBLISHABLE`](crate::event::types::EPHEMERAL_PUBLISHABLE)).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Caller payload; the server adds `user_id` and the target key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Map<String, serde_json::Value>>,
}

impl AddReaction {
    /// A reaction with this emoji.
    pub fn new(emoji: impl Into<String>) -> Self {
        Self {
            emoji: emoji.into(),
        }
    }
}

impl PublishEphemeral {
    /// An ephemeral event of `event_type` with no target and no payload.
    pub fn new(workspace_id: impl Into<WorkspaceId>, event_type: impl Into<String>) -> Self {
        Self {
            workspace_id: workspace_id.into(),
            event_type: event_type.into(),
            ..Self::default()
        }
    }

    /// Targets a channel (clears a DM target).
    pub fn with_channel(mut self, channel_id: impl Into<ChannelId>) -> Self {
        self.channel_id = Some(channel_id.into());
        self.direct_conversation_id = None;
        self
    }

    /// Targets a DM (clears a channel target).
    pub fn with_direct_conversation(mut self, conversation_id: impl Into<ConversationId>) -> Self {
        self.direct_conversation_id = Some(conversation_id.into());
        self.channel_id = None;
        self
    }

    /// Sets the caller payload.
    pub fn with_payload(mut self, payload: serde_json::Map<String, serde_json::Value>) -> Self {
        self.payload = Some(payload);
        self
    }
}

/// One command of [`SetBotCommands`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotCommandInput {
    /// The command, with or without a leading `/`.
    pub command: String,
    /// Description (1–100 chars).
    #[serde(default)]
    pub description: String,
    /// Argument hint (≤100 chars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_hint: Option<String>,
}

/// `PUT /api/bots/self/commands` (≤100 commands; an empty list clears the menu).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetBotCommands {
    /// The full command menu.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub commands: Vec<BotCommandInput>,
}

/// `POST /api/channels/{id}/read` and `POST /api/dms/{id}/read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MarkRead {
    /// The new read pointer.
    #[serde(default)]
    pub seq: i64,
}

/// `POST /api/workspaces/{id}/channels` (needs `channels:write`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateChannel {
    /// Name (slugified by the server; empty becomes `general`).
    #[serde(default)]
    pub name: String,
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_title: Option<String>,
    /// Kind (default `public`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChannelKind>,
    /// Externally managed flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_managed: Option<bool>,
    /// External reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    /// External URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// Sidebar section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidebar_section: Option<String>,
}

/// `PATCH /api/channels/{id}` (needs `channels:write`); only set fields change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PatchChannel {
    /// New name (slugified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_title: Option<String>,
    /// New kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChannelKind>,
    /// Archive or unarchive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Externally managed flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_managed: Option<bool>,
    /// External reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    /// External URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// Sidebar section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidebar_section: Option<String>,
}

/// `PATCH /api/messages/{id}` (author only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EditMessage {
    /// The new body.
    #[serde(default)]
    pub body: String,
}

/// `POST /api/messages/{id}/attachments` (author only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachUpload {
    /// The upload to attach.
    pub upload_id: UploadId,
}

/// `POST /api/bot-setup-codes/claim` (no authentication). `Debug` redacts the code.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClaimSetupCode {
    /// The setup code (case-insensitive; separators are ignored).
    #[serde(default)]
    pub code: String,
}

impl ClaimSetupCode {
    /// A claim for this code.
    pub fn new(code: impl Into<String>) -> Self {
        Self { code: code.into() }
    }
}

impl core::fmt::Debug for ClaimSetupCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClaimSetupCode")
            .field("code", &"<redacted>")
            .finish()
    }
}

/// `PATCH /api/me` (humans; bot tokens get 403); only set fields change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpdateMe {
    /// New display name (≤80 chars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New handle (an optional leading `@` is dropped by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// New avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Notification settings (`{pushover_enabled, pushover_user_key}`), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_settings: Option<serde_json::Value>,
    /// Partial appearance update (`color_mode`, `board_theme`, …; `""` resets), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance_preferences: Option<serde_json::Value>,
}

/// `POST /api/workspaces` (humans; bot tokens get 403).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateWorkspace {
    /// Name (required).
    #[serde(default)]
    pub name: String,
    /// Slug (derived from the name when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

/// `POST /api/workspaces/{id}/topics` (needs `channels:write`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateTopic {
    /// Name (required, ≤80 chars).
    #[serde(default)]
    pub name: String,
    /// A channel to scope the topic to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
}

impl BotCommandInput {
    /// A command (with or without a leading `/`) and its description.
    pub fn new(command: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            description: description.into(),
            args_hint: None,
        }
    }

    /// Sets the argument hint.
    pub fn with_args_hint(mut self, args_hint: impl Into<String>) -> Self {
        self.args_hint = Some(args_hint.into());
        self
    }
}

impl SetBotCommands {
    /// The full menu (an empty list clears it).
    pub fn new(commands: impl IntoIterator<Item = BotCommandInput>) -> Self {
        Self {
            commands: commands.into_iter().collect(),
        }
    }
}

impl MarkRead {
    /// Moves the read pointer to `seq`.
    pub fn new(seq: i64) -> Self {
        Self { seq }
    }
}

impl CreateChannel {
    /// A channel with this name (slugified by the server) and defaults otherwise.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the display title.
    pub fn with_display_title(mut self, title: impl Into<String>) -> Self {
        self.display_title = Some(title.into());
        self
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: ChannelKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Marks the channel as managed by an external system.
    pub fn with_external(
        mut self,
        external_ref: impl Into<String>,
        external_url: impl Into<String>,
    ) -> Self {
        self.external_managed = Some(true);
        self.external_ref = Some(external_ref.into());
        self.external_url = Some(external_url.into());
        self
    }

    /// Sets the sidebar section.
    pub fn with_sidebar_section(mut self, section: impl Into<String>) -> Self {
        self.sidebar_section = Some(section.into());
        self
    }
}

impl PatchChannel {
    /// A patch that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Renames the channel (slugified).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the display title.
    pub fn with_display_title(mut self, title: impl Into<String>) -> Self {
        self.display_title = Some(title.into());
        self
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: ChannelKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Archives (`true`) or unarchives (`false`) the channel.
    pub fn with_archived(mut self, archived: bool) -> Self {
        self.archived = Some(archived);
        self
    }

    /// Sets the externally managed flag.
    pub fn with_external_managed(mut self, managed: bool) -> Self {
        self.external_managed = Some(managed);
        self
    }

    /// Sets the external reference.
    pub fn with_external_ref(mut self, external_ref: impl Into<String>) -> Self {
        self.external_ref = Some(external_ref.into());
        self
    }

    /// Sets the external URL.
    pub fn with_external_url(mut self, external_url: impl Into<String>) -> Self {
        self.external_url = Some(external_url.into());
        self
    }

    /// Sets the sidebar section.
    pub fn with_sidebar_section(mut self, section: impl Into<String>) -> Self {
        self.sidebar_section = Some(section.into());
        self
    }
}

impl EditMessage {
    /// Replaces the body.
    pub fn new(body: impl Into<String>) -> Self {
        Self { body: body.into() }
    }
}

impl AttachUpload {
    /// Attaches this upload.
    pub fn new(upload_id: impl Into<UploadId>) -> Self {
        Self {
            upload_id: upload_id.into(),
        }
    }
}

impl UpdateMe {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// Sets the handle.
    pub fn with_handle(mut self, handle: impl Into<String>) -> Self {
        self.handle = Some(handle.into());
        self
    }

    /// Sets the avatar URL.
    pub fn with_avatar_url(mut self, avatar_url: impl Into<String>) -> Self {
        self.avatar_url = Some(avatar_url.into());
        self
    }

    /// Sets the notification settings.
    pub fn with_notification_settings(mut self, settings: serde_json::Value) -> Self {
        self.notification_settings = Some(settings);
        self
    }

    /// Sets a partial appearance update.
    pub fn with_appearance_preferences(mut self, preferences: serde_json::Value) -> Self {
        self.appearance_preferences = Some(preferences);
        self
    }
}

impl CreateWorkspace {
    /// A workspace with this name (slug derived by the server).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            slug: None,
        }
    }

    /// Sets the slug.
    pub fn with_slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }
}

impl CreateTopic {
    /// A workspace-wide topic with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            channel_id: None,
        }
    }

    /// Scopes the topic to a channel.
    pub fn with_channel(mut self, channel_id: impl Into<ChannelId>) -> Self {
        self.channel_id = Some(channel_id.into());
        self
    }
}
