//! JSON rendering of records that need other records (authors, attachments,
//! thread state, DM members, read pointers).

use serde_json::{Map, Value, json};

use super::Data;
use super::records::{DmRec, MessageRec};
use crate::gojson::GoShape;

impl Data {
    /// A message as returned by the API, hydrated for `viewer`.
    pub(crate) fn message_json(&self, m: &MessageRec, viewer: &str) -> Value {
        self.message_json_with(m, viewer, false)
    }

    /// A message as a page lists it: like the server's `hydrateThreadStates`,
    /// every root carries a `thread_state`, a zero one (`reply_count: 0`,
    /// `last_reply_author_ids: null`) when it has no replies.
    pub(crate) fn page_message_json(&self, m: &MessageRec, viewer: &str) -> Value {
        self.message_json_with(m, viewer, self.shape == GoShape::Go)
    }

    fn message_json_with(&self, m: &MessageRec, viewer: &str, zero_state: bool) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(m.id));
        if let Some(r) = &m.route_id {
            o.insert("route_id".into(), json!(r));
        }
        o.insert("workspace_id".into(), json!(m.workspace_id));
        if let Some(c) = &m.channel_id {
            o.insert("channel_id".into(), json!(c));
        }
        if let Some(d) = &m.dm_id {
            o.insert("direct_conversation_id".into(), json!(d));
        }
        o.insert("author_id".into(), json!(m.author_id));
        if let Some(p) = &m.parent_message_id {
            o.insert("parent_message_id".into(), json!(p));
        }
        o.insert("thread_root_id".into(), json!(m.thread_root_id));
        if let Some(t) = &m.topic_id {
            o.insert("topic_id".into(), json!(t));
        }
        if let Some(s) = m.channel_seq {
            o.insert("channel_seq".into(), json!(s));
        }
        if let Some(s) = m.thread_seq {
            o.insert("thread_seq".into(), json!(s));
        }
        o.insert("body".into(), json!(m.body));
        o.insert("body_format".into(), json!("markdown"));
        o.insert("created_at".into(), json!(m.created_at));
        if let Some(e) = &m.edited_at {
            o.insert("edited_at".into(), json!(e));
        }
        if let Some(d) = &m.deleted_at {
            o.insert("deleted_at".into(), json!(d));
        }
        if let Some(k) = &m.kind {
            o.insert("kind".into(), json!(k));
        }
        if let Some(t) = &m.turn_id {
            o.insert("turn_id".into(), json!(t));
        }
        for (key, value) in ["author_model", "author_thinking", "author_runtime"]
            .into_iter()
            .zip(&m.provenance)
        {
            if let Some(v) = value {
                o.insert(key.into(), json!(v));
            }
        }
        if let Some(a) = self.user(&m.author_id) {
            o.insert("author".into(), a.to_json());
        }
        if !m.attachments.is_empty() {
            let list: Vec<Value> = m
                .attachments
                .iter()
                .filter_map(|id| self.uploads.get(id))
                .map(|u| u.to_json())
                .collect();
            o.insert("attachments".into(), Value::Array(list));
        }
        if let Some(q) = &m.quoted_message_id {
            o.insert("quoted_message_id".into(), json!(q));
            if let Some(quoted) = self.messages.get(q) {
                o.insert("quoted_body_snapshot".into(), json!(quoted.body));
                o.insert("quoted_author_id".into(), json!(quoted.author_id));
                if let Some(a) = self.user(&quoted.author_id) {
                    o.insert("quoted_author".into(), a.to_json());
                }
            }
        }
        if m.is_root() && (zero_state || !m.replies.is_empty()) {
            o.insert("thread_state".into(), self.thread_state_json(m));
        }
        if let Some(n) = &m.nonce {
            o.insert("nonce".into(), json!(n));
        }
        if m.reactions.iter().any(|(_, u)| !u.is_empty()) {
            o.insert("reactions".into(), Value::Array(m.reactions_json(viewer)));
        }
        Value::Object(o)
    }

    /// The thread state of a root message.
    pub(crate) fn thread_state_json(&self, root: &MessageRec) -> Value {
        let mut o = Map::new();
        o.insert("root_message_id".into(), json!(root.id));
        o.insert("reply_count".into(), json!(root.replies.len()));
        let mut authors: Vec<&str> = Vec::new();
        let mut last_at = None;
        for id in root.replies.iter().rev() {
            if let Some(r) = self.messages.get(id) {
                if last_at.is_none() {
                    last_at = Some(r.created_at.clone());
                }
                if authors.len() < 3 && !authors.contains(&r.author_id.as_str()) {
                    authors.push(&r.author_id);
                }
                if authors.len() == 3 {
                    break;
                }
            }
        }
        if let Some(at) = last_at {
            o.insert("last_reply_at".into(), json!(at));
        }
        let authors = authors.into_iter().map(|a| json!(a)).collect();
        o.insert("last_reply_author_ids".into(), self.list(authors));
        Value::Object(o)
    }

    /// A direct conversation for `viewer`.
    pub(crate) fn dm_json(&self, dm: &DmRec, viewer: &str) -> Value {
        let members: Vec<Value> = dm
            .members
            .iter()
            .filter_map(|u| self.user(u))
            .map(|u| u.to_json())
            .collect();
        let last_seq = dm.roots.len() as i64;
        let last_read = self.last_read(&dm.id, viewer);
        json!({
            "id": dm.id,
            "route_id": dm.route_id,
            "workspace_id": dm.workspace_id,
            "created_at": dm.created_at,
            "members": self.list(members),
            "last_seq": last_seq,
            "last_read_seq": last_read,
            "unread_count": (last_seq - last_read).max(0),
            "can_send": dm.members.len() > 1,
        })
    }

    /// A channel for `viewer`.
    pub(crate) fn channel_json(&self, channel_id: &str, viewer: &str) -> Value {
        match self.channels.get(channel_id) {
            Some(c) => c.to_json(self.last_read(&c.id, viewer)),
            None => Value::Null,
        }
    }
}
