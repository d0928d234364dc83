//! In-memory records and their JSON wire shapes (protocol.md §9).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use serde_json::{Map, Value, json};

/// A user (human or bot).
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) id: String,
    pub(crate) bot: bool,
    pub(crate) owner_user_id: Option<String>,
    pub(crate) display_name: String,
    pub(crate) handle: String,
    pub(crate) avatar_url: String,
    pub(crate) created_at: String,
    /// Appearance preferences set with `PATCH /api/me` (shown on `/api/me`).
    pub(crate) appearance: Option<Value>,
}

impl UserRec {
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("kind".into(), json!(if self.bot { "bot" } else { "human" }));
        if let Some(owner) = &self.owner_user_id {
            m.insert("owner_user_id".into(), json!(owner));
        }
        m.insert("display_name".into(), json!(self.display_name));
        m.insert("handle".into(), json!(self.handle));
        m.insert("avatar_url".into(), json!(self.avatar_url));
        m.insert("created_at".into(), json!(self.created_at));
        Value::Object(m)
    }
}

/// A workspace and its members (in join order).
#[derive(Debug, Clone)]
pub(crate) struct WorkspaceRec {
    pub(crate) id: String,
    pub(crate) route_id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
    pub(crate) created_at: String,
    pub(crate) members: Vec<(String, String)>,
    pub(crate) channels: Vec<String>,
}

impl WorkspaceRec {
    pub(crate) fn role_of(&self, user_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(u, _)| u == user_id)
            .map(|(_, r)| r.as_str())
    }

    pub(crate) fn to_json(&self, role: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("route_id".into(), json!(self.route_id));
        m.insert("name".into(), json!(self.name));
        m.insert("slug".into(), json!(self.slug));
        m.insert("icon_url".into(), json!(""));
        m.insert("created_at".into(), json!(self.created_at));
        if let Some(role) = role {
            m.insert("role".into(), json!(role));
        }
        Value::Object(m)
    }
}

/// A channel; `roots` holds root message ids in `channel_seq` order.
#[derive(Debug, Clone)]
pub(crate) struct ChannelRec {
    pub(crate) id: String,
    pub(crate) route_id: String,
    pub(crate) workspace_id: String,
    pub(crate) name: String,
    pub(crate) display_title: Option<String>,
    pub(crate) kind: String,
    pub(crate) created_at: String,
    pub(crate) archived_at: Option<String>,
    pub(crate) external_managed: bool,
    pub(crate) external_ref: Option<String>,
    pub(crate) external_url: Option<String>,
    pub(crate) sidebar_section: Option<String>,
    pub(crate) roots: Vec<String>,
}

impl ChannelRec {
    pub(crate) fn to_json(&self, last_read_seq: i64) -> Value {
        let last_seq = self.roots.len() as i64;
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("route_id".into(), json!(self.route_id));
        m.insert("workspace_id".into(), json!(self.workspace_id));
        m.insert("name".into(), json!(self.name));
        if let Some(t) = &self.display_title {
            m.insert("display_title".into(), json!(t));
        }
        m.insert("kind".into(), json!(self.kind));
        m.insert("created_at".into(), json!(self.created_at));
        if let Some(a) = &self.archived_at {
            m.insert("archived_at".into(), json!(a));
        }
        m.insert("external_managed".into(), json!(self.external_managed));
        if let Some(v) = &self.external_ref {
            m.insert("external_ref".into(), json!(v));
        }
        if let Some(v) = &self.external_url {
            m.insert("external_url".into(), json!(v));
        }
        if let Some(v) = &self.sidebar_section {
            m.insert("sidebar_section".into(), json!(v));
        }
        m.insert("last_seq".into(), json!(last_seq));
        m.insert("last_read_seq".into(), json!(last_read_seq));
        m.insert(
            "unread_count".into(),
            json!((last_seq - last_read_seq).max(0)),
        );
        Value::Object(m)
    }
}

/// A direct conversation.
#[derive(Debug, Clone)]
pub(crate) struct DmRec {
    pub(crate) id: String,
    pub(crate) route_id: String,
    pub(crate) workspace_id: String,
    pub(crate) created_at: String,
    pub(crate) members: Vec<String>,
    pub(crate) roots: Vec<String>,
    /// Members who closed (hid) the conversation; it leaves their list until
    /// reopened or re-created.
    pub(crate) hidden_by: Vec<String>,
}

/// A message (root, reply, channel or DM).
#[derive(Debug, Clone)]
pub(crate) struct MessageRec {
    pub(crate) id: String,
    /// Assigned when the message becomes a thread root (first reply) or on
    /// `POST /api/messages/{id}/route`; omitted from JSON until then.
    pub(crate) route_id: Option<String>,
    pub(crate) workspace_id: String,
    pub(crate) channel_id: Option<String>,
    pub(crate) dm_id: Option<String>,
    pub(crate) author_id: String,
    pub(crate) parent_message_id: Option<String>,
    pub(crate) thread_root_id: String,
    pub(crate) topic_id: Option<String>,
    pub(crate) channel_seq: Option<i64>,
    pub(crate) thread_seq: Option<i64>,
    pub(crate) body: String,
    pub(crate) created_at: String,
    pub(crate) edited_at: Option<String>,
    pub(crate) deleted_at: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) turn_id: Option<String>,
    /// `author_model`, `author_thinking`, `author_runtime` (servers that keep provenance).
    pub(crate) provenance: [Option<String>; 3],
    pub(crate) quoted_message_id: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) attachments: Vec<String>,
    /// `(emoji, user ids)` in first-reaction order.
    pub(crate) reactions: Vec<(String, Vec<String>)>,
    /// Reply ids in `thread_seq` order (roots only).
    pub(crate) replies: Vec<String>,
}

impl MessageRec {
    pub(crate) fn is_root(&self) -> bool {
        self.parent_message_id.is_none()
    }

    /// The `[ReactionSummary]` of the message for `viewer` (empty reactions
    /// are dropped).
    pub(crate) fn reactions_json(&self, viewer: &str) -> Vec<Value> {
        self.reactions
            .iter()
            .filter(|(_, users)| !users.is_empty())
            .map(|(emoji, users)| {
                json!({
                    "emoji": emoji,
                    "count": users.len(),
                    "reacted_by_me": users.iter().any(|u| u == viewer),
                })
            })
            .collect()
    }
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub(crate) struct UploadRec {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) owner_id: String,
    pub(crate) nonce: Option<String>,
    pub(crate) filename: String,
    pub(crate) content_type: String,
    pub(crate) data: Bytes,
    pub(crate) width: i64,
    pub(crate) height: i64,
    pub(crate) duration_ms: i64,
    pub(crate) created_at: String,
    /// The DM the upload was attached in, if any.
    pub(crate) dm_id: Option<String>,
}

impl UploadRec {
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("workspace_id".into(), json!(self.workspace_id));
        m.insert("owner_id".into(), json!(self.owner_id));
        if let Some(n) = &self.nonce {
            m.insert("nonce".into(), json!(n));
        }
        m.insert("filename".into(), json!(self.filename));
        m.insert("content_type".into(), json!(self.content_type));
        m.insert("byte_size".into(), json!(self.data.len()));
        m.insert("width".into(), json!(self.width));
        m.insert("height".into(), json!(self.height));
        m.insert("duration_ms".into(), json!(self.duration_ms));
        m.insert("created_at".into(), json!(self.created_at));
        Value::Object(m)
    }
}

/// A bot token (stored by SHA-256 of the raw value).
#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub(crate) id: String,
    pub(crate) bot_user_id: String,
    pub(crate) workspace_id: String,
    pub(crate) owner_user_id: Option<String>,
    pub(crate) name: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) created_by: Option<String>,
    pub(crate) created_at: String,
    pub(crate) revoked_at: Option<String>,
    pub(crate) revoked: Arc<AtomicBool>,
}

impl TokenRec {
    pub(crate) fn to_json(&self, raw: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("bot_user_id".into(), json!(self.bot_user_id));
        m.insert("workspace_id".into(), json!(self.workspace_id));
        if let Some(o) = &self.owner_user_id {
            m.insert("owner_user_id".into(), json!(o));
        }
        m.insert("name".into(), json!(self.name));
        m.insert("scopes".into(), json!(self.scopes)); // never empty
        if let Some(c) = &self.created_by {
            m.insert("created_by".into(), json!(c));
        }
        m.insert("created_at".into(), json!(self.created_at));
        if let Some(r) = &self.revoked_at {
            m.insert("revoked_at".into(), json!(r));
        }
        if let Some(raw) = raw {
            m.insert("token".into(), json!(raw));
        }
        Value::Object(m)
    }
}

/// A topic (workspace-wide, or scoped to one channel).
#[derive(Debug, Clone)]
pub(crate) struct TopicRec {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) channel_id: Option<String>,
    pub(crate) name: String,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
}

impl TopicRec {
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("workspace_id".into(), json!(self.workspace_id));
        if let Some(c) = &self.channel_id {
            m.insert("channel_id".into(), json!(c));
        }
        m.insert("name".into(), json!(self.name));
        m.insert("created_by".into(), json!(self.created_by));
        m.insert("created_at".into(), json!(self.created_at));
        Value::Object(m)
    }
}

/// A pending bot setup code: a deferred token grant, stored by hash.
#[derive(Debug, Clone)]
pub(crate) struct SetupCodeRec {
    pub(crate) id: String,
    /// SHA-256 hex of `bot-setup-code:` + the normalized code.
    pub(crate) code_hash: String,
    pub(crate) workspace_id: String,
    pub(crate) bot_user_id: String,
    pub(crate) token_name: String,
    pub(crate) scopes: Vec<String>,
    /// The normalized `defaults` object.
    pub(crate) defaults: Value,
    pub(crate) created_by: String,
    pub(crate) created_at: String,
    pub(crate) expires_at: String,
    /// When the code stops being claimable (Tokio clock, so paused-time
    /// tests can expire it).
    pub(crate) expires: tokio::time::Instant,
    pub(crate) claimed: bool,
}

impl SetupCodeRec {
    /// The `BotSetupCode` JSON; `code` only in the mint response.
    pub(crate) fn to_json(&self, code: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("bot_user_id".into(), json!(self.bot_user_id));
        m.insert("workspace_id".into(), json!(self.workspace_id));
        m.insert("token_name".into(), json!(self.token_name));
        m.insert("scopes".into(), json!(self.scopes));
        m.insert("defaults".into(), self.defaults.clone());
        m.insert("created_by".into(), json!(self.created_by));
        m.insert("created_at".into(), json!(self.created_at));
        m.insert("expires_at".into(), json!(self.expires_at));
        if let Some(code) = code {
            m.insert("code".into(), json!(code));
        }
        Value::Object(m)
    }
}

/// A human session token.
#[derive(Debug, Clone)]
pub(crate) struct SessionRec {
    pub(crate) user_id: String,
    pub(crate) revoked: Arc<AtomicBool>,
}

/// A read pointer of one user in one channel/DM.
#[derive(Debug, Clone)]
pub(crate) struct ReadRec {
    pub(crate) last_read_seq: i64,
}
