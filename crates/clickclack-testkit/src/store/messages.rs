//! Message writes shared by the HTTP handlers and the Rust admin API:
//! create (channel, DM, thread reply) with nonce semantics, edit, delete.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Data;
use super::log::{LoggedEvent, Visibility};
use super::records::MessageRec;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::ids::{now_rfc3339, route_id};

/// Where a new message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Channel(String),
    Dm(String),
    Thread(String),
}

/// A create request after decoding.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct NewMessage {
    #[serde(default)]
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    #[serde(default)]
    pub(crate) quoted_message_id: Option<String>,
    #[serde(default)]
    pub(crate) topic_id: Option<String>,
    #[serde(default)]
    pub(crate) upload_id: Option<String>,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) turn_id: Option<String>,
    #[serde(default)]
    pub(crate) author_model: Option<String>,
    #[serde(default)]
    pub(crate) author_thinking: Option<String>,
    #[serde(default)]
    pub(crate) author_runtime: Option<String>,
}

/// The result of a create.
#[derive(Debug)]
pub(crate) enum Created {
    /// A new message and the events it appended.
    New(String, Vec<Arc<LoggedEvent>>),
    /// A nonce replay of an existing message.
    Replay(String),
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Validates `kind` / `turn_id` (protocol.md §3.5).
fn resolve_kind(actor: &Actor, input: &NewMessage) -> ApiResult<Option<String>> {
    let kind = non_empty(&input.kind);
    match kind.as_deref() {
        None | Some("message") => {
            if non_empty(&input.turn_id).is_some() {
                return Err(ApiError::bad_request(
                    "turn_id is only valid for agent activity messages",
                ));
            }
            Ok(None)
        }
        Some("agent_commentary" | "agent_tool") => {
            if !actor.is_bot() {
                return Err(ApiError::forbidden(
                    "agent activity messages require a bot token",
                ));
            }
            actor.require_scope("agent_activity:write")?;
            Ok(kind)
        }
        Some(_) => Err(ApiError::bad_request("invalid message kind")),
    }
}

impl Data {
    /// Creates a message (or replays a nonce). Access and scope checks for
    /// the target are done here; the endpoint scope is checked by the caller.
    pub(crate) fn create_message(
        &mut self,
        actor: &Actor,
        target: &Target,
        input: &NewMessage,
        correlation_id: Option<&str>,
    ) -> ApiResult<Created> {
        let kind = resolve_kind(actor, input)?;
        let nonce = non_empty(&input.nonce);
        if nonce.as_ref().is_some_and(|n| n.chars().count() > 128) {
            return Err(ApiError::bad_request("nonce is too long"));
        }
        // An older server does not know `upload_id` (Go ignores unknown fields).
        let upload_id = non_empty(&input.upload_id).filter(|_| !self.legacy_attachment_links);
        if input.body.trim().is_empty() && upload_id.is_none() {
            return Err(ApiError::bad_request(match target {
                Target::Thread(_) => "reply body is required",
                _ => "message body is required",
            }));
        }
        // Resolve the target and its access.
        let (workspace_id, channel_id, dm_id, root_id) = match target {
            Target::Channel(id) => {
                let ch = self.channel_access(actor, id)?;
                if ch.archived_at.is_some() {
                    return Err(ApiError::forbidden("message is not writable"));
                }
                (ch.workspace_id.clone(), Some(ch.id.clone()), None, None)
            }
            Target::Dm(id) => {
                let dm = self.dm_access(actor, id)?;
                if dm.members.len() < 2 {
                    return Err(ApiError::conflict(
                        "direct conversation has no active recipient",
                    ));
                }
                (dm.workspace_id.clone(), None, Some(dm.id.clone()), None)
            }
            Target::Thread(id) => {
                let root = self.message_access(actor, id, "dms:write")?;
                if !root.is_root() {
                    return Err(ApiError::bad_request(
                        "nested thread replies are not supported",
                    ));
                }
                (
                    root.workspace_id.clone(),
                    root.channel_id.clone(),
                    root.dm_id.clone(),
                    Some(root.id.clone()),
                )
            }
        };
        let topic_id = non_empty(&input.topic_id);
        let quoted = non_empty(&input.quoted_message_id);
        let turn_id = non_empty(&input.turn_id);
        if let Some(nonce) = &nonce
            && let Some(existing) = self
                .message_nonces
                .get(&(actor.user_id.clone(), nonce.clone()))
                .and_then(|id| self.messages.get(id))
        {
            let same_target = match target {
                Target::Thread(r) => existing.parent_message_id.as_deref() == Some(r.as_str()),
                Target::Channel(c) => {
                    existing.is_root() && existing.channel_id.as_deref() == Some(c.as_str())
                }
                Target::Dm(d) => {
                    existing.is_root() && existing.dm_id.as_deref() == Some(d.as_str())
                }
            };
            let same = same_target
                && existing.body == input.body
                && existing.quoted_message_id == quoted
                && existing.topic_id == topic_id
                && existing.kind == kind
                && existing.turn_id == turn_id;
            return if same {
                Ok(Created::Replay(existing.id.clone()))
            } else {
                Err(ApiError::bad_request(
                    "client nonce was already used for a different message",
                ))
            };
        }
        if let Some(q) = &quoted
            && !self.messages.contains_key(q)
        {
            return Err(Self::missing(actor));
        }
        if let Some(u) = &upload_id {
            match self.uploads.get(u) {
                Some(up) if up.workspace_id == workspace_id && up.owner_id == actor.user_id => {}
                _ => return Err(Self::missing(actor)),
            }
        }

        let id = self.ids.next("msg");
        let now = now_rfc3339();
        let (channel_seq, thread_seq) = match target {
            Target::Channel(c) => (
                self.channels.get(c).map(|ch| ch.roots.len() as i64 + 1),
                None,
            ),
            Target::Dm(d) => (self.dms.get(d).map(|dm| dm.roots.len() as i64 + 1), None),
            Target::Thread(r) => (
                None,
                self.messages.get(r).map(|m| m.replies.len() as i64 + 1),
            ),
        };
        let msg = MessageRec {
            id: id.clone(),
            route_id: None,
            workspace_id: workspace_id.clone(),
            channel_id: channel_id.clone(),
            dm_id: dm_id.clone(),
            author_id: actor.user_id.clone(),
            parent_message_id: root_id.clone(),
            thread_root_id: root_id.clone().unwrap_or_else(|| id.clone()),
            topic_id: topic_id.clone(),
            channel_seq,
            thread_seq,
            body: input.body.clone(),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            kind: kind.clone(),
            turn_id: turn_id.clone(),
            // A server that keeps provenance stores it; others ignore the
            // unknown fields.
            provenance: if self.message_provenance {
                [
                    non_empty(&input.author_model),
                    non_empty(&input.author_thinking),
                    non_empty(&input.author_runtime),
                ]
            } else {
                Default::default()
            },
            quoted_message_id: quoted,
            nonce: nonce.clone(),
            attachments: upload_id.iter().cloned().collect(),
            reactions: Vec::new(),
            replies: Vec::new(),
        };
        self.messages.insert(id.clone(), msg);
        if let Some(n) = &nonce {
            self.message_nonces
                .insert((actor.user_id.clone(), n.clone()), id.clone());
        }
        if let (Some(u), Some(dm)) = (&upload_id, &dm_id)
            && let Some(up) = self.uploads.get_mut(u)
        {
            up.dm_id = Some(dm.clone());
        }
        let visibility = self.visibility_for(dm_id.as_deref());
        let mut events = Vec::new();
        match target {
            Target::Channel(c) => {
                if let Some(ch) = self.channels.get_mut(c) {
                    ch.roots.push(id.clone());
                }
            }
            Target::Dm(d) => {
                if let Some(dm) = self.dms.get_mut(d) {
                    dm.roots.push(id.clone());
                }
            }
            Target::Thread(r) => {
                if let Some(root) = self.messages.get_mut(r) {
                    root.replies.push(id.clone());
                    // The server assigns a thread root its route id on the first reply.
                    root.route_id.get_or_insert_with(|| route_id('M'));
                }
            }
        }
        match root_id {
            None => {
                let mut p = Map::new();
                p.insert("message_id".into(), json!(id));
                if let Some(d) = &dm_id {
                    p.insert("direct_conversation_id".into(), json!(d));
                }
                p.insert("author_id".into(), json!(actor.user_id));
                if let Some(t) = &topic_id {
                    p.insert("topic_id".into(), json!(t));
                }
                if let Some(k) = &kind {
                    p.insert("kind".into(), json!(k));
                }
                if let Some(t) = &turn_id {
                    p.insert("turn_id".into(), json!(t));
                }
                insert_echo(&mut p, nonce.as_deref(), correlation_id);
                events.push(self.append_event(
                    &workspace_id,
                    "message.created",
                    channel_id.as_deref(),
                    channel_seq,
                    Value::Object(p),
                    visibility,
                ));
            }
            Some(root) => {
                let mut p = Map::new();
                p.insert("message_id".into(), json!(id));
                p.insert("root_message_id".into(), json!(root));
                if let Some(d) = &dm_id {
                    p.insert("direct_conversation_id".into(), json!(d));
                }
                insert_echo(&mut p, nonce.as_deref(), correlation_id);
                events.push(self.append_event(
                    &workspace_id,
                    "thread.reply_created",
                    channel_id.as_deref(),
                    None,
                    Value::Object(p),
                    visibility.clone(),
                ));
                let mut s = Map::new();
                s.insert("root_message_id".into(), json!(root));
                if let Some(d) = &dm_id {
                    s.insert("direct_conversation_id".into(), json!(d));
                }
                events.push(self.append_event(
                    &workspace_id,
                    "thread.state_updated",
                    channel_id.as_deref(),
                    None,
                    Value::Object(s),
                    visibility,
                ));
            }
        }
        Ok(Created::New(id, events))
    }

    /// Who sees events about a message in `dm_id` (members) or a channel (all).
    pub(crate) fn visibility_for(&self, dm_id: Option<&str>) -> Visibility {
        match dm_id.and_then(|d| self.dms.get(d)) {
            Some(dm) => Visibility::Members(dm.members.clone().into()),
            None => Visibility::All,
        }
    }

    /// `POST /api/messages/{id}/attachments`: links `upload_id` to message
    /// `id` (author only, an upload of the author in the message's
    /// workspace). An older server ([`Data::legacy_attachment_links`])
    /// appends `message.updated` for every link.
    pub(crate) fn link_upload(
        &mut self,
        actor: &Actor,
        id: &str,
        upload_id: &str,
    ) -> ApiResult<()> {
        let m = self.message_access(actor, id, "dms:write")?;
        if m.author_id != actor.user_id {
            return Err(ApiError::forbidden(
                "message attachments can only be changed by the message author",
            ));
        }
        let (ws, dm) = (m.workspace_id.clone(), m.dm_id.clone());
        match self.uploads.get_mut(upload_id) {
            Some(u) if u.workspace_id == ws && u.owner_id == actor.user_id => {
                if dm.is_some() {
                    u.dm_id = dm;
                }
            }
            _ => return Err(ApiError::not_found("upload not found")),
        }
        let mut linked = false;
        if let Some(m) = self.messages.get_mut(id)
            && !m.attachments.iter().any(|a| a == upload_id)
        {
            m.attachments.push(upload_id.to_owned());
            linked = true;
        }
        if linked && self.legacy_attachment_links {
            self.message_event(id, "message.updated");
        }
        Ok(())
    }

    /// Appends `message.updated` / `message.deleted` for `id`.
    pub(crate) fn message_event(&mut self, id: &str, kind: &str) -> Option<Arc<LoggedEvent>> {
        let m = self.messages.get(id)?.clone();
        let mut p = Map::new();
        p.insert("message_id".into(), json!(m.id));
        p.insert("root_message_id".into(), json!(m.thread_root_id));
        if let Some(d) = &m.dm_id {
            p.insert("direct_conversation_id".into(), json!(d));
        }
        let vis = self.visibility_for(m.dm_id.as_deref());
        Some(self.append_event(
            &m.workspace_id,
            kind,
            m.channel_id.as_deref(),
            m.channel_seq,
            Value::Object(p),
            vis,
        ))
    }
}

fn insert_echo(p: &mut Map<String, Value>, nonce: Option<&str>, correlation_id: Option<&str>) {
    if let Some(n) = nonce {
        p.insert("nonce".into(), json!(n));
    }
    if let Some(c) = correlation_id {
        p.insert("correlation_id".into(), json!(c));
    }
}
