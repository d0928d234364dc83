//! The in-memory store: all server state behind one short-lived mutex
//! (never held across I/O), the event log, and access checks.

pub(crate) mod log;
pub(crate) mod messages;
pub(crate) mod records;
mod render;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, NO_ROWS};
use crate::gojson::GoShape;
use crate::hub::Hub;
use crate::ids::{IdGen, ephemeral_stamp, now_rfc3339};
use log::{Envelope, EventLog, LoggedEvent, Visibility};
use records::{
    ChannelRec, DmRec, MessageRec, ReadRec, SessionRec, SetupCodeRec, TokenRec, TopicRec,
    UploadRec, UserRec, WorkspaceRec,
};

/// All server state.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub(crate) ids: IdGen,
    pub(crate) users: HashMap<String, UserRec>,
    pub(crate) workspaces: HashMap<String, WorkspaceRec>,
    pub(crate) workspace_order: Vec<String>,
    pub(crate) channels: HashMap<String, ChannelRec>,
    pub(crate) messages: HashMap<String, MessageRec>,
    pub(crate) dms: HashMap<String, DmRec>,
    pub(crate) uploads: HashMap<String, UploadRec>,
    /// Bot tokens by SHA-256 hex of the raw token.
    pub(crate) tokens: HashMap<String, TokenRec>,
    /// Token id → SHA-256 hex.
    pub(crate) token_hash_by_id: HashMap<String, String>,
    /// Sessions by raw `sst_` token.
    pub(crate) sessions: HashMap<String, SessionRec>,
    /// `(author_id, nonce)` → message id.
    pub(crate) message_nonces: HashMap<(String, String), String>,
    /// `(owner_id, nonce)` → upload id.
    pub(crate) upload_nonces: HashMap<(String, String), String>,
    /// `(scope_id, user_id)` → read pointer.
    pub(crate) reads: HashMap<(String, String), ReadRec>,
    /// Bot user id → command list (JSON array).
    pub(crate) bot_commands: HashMap<String, Value>,
    /// Workspace id → durable log.
    pub(crate) logs: HashMap<String, EventLog>,
    /// Topics, in creation order.
    pub(crate) topics: Vec<TopicRec>,
    /// Bot setup codes (pending and claimed).
    pub(crate) setup_codes: Vec<SetupCodeRec>,
    /// Recent setup-code claim attempts per client IP (rate limit).
    pub(crate) claim_attempts: HashMap<std::net::IpAddr, Vec<tokio::time::Instant>>,
    /// How empty lists (and other Go-isms) are rendered.
    pub(crate) shape: GoShape,
    /// True to act like an older server whose `GET /api/realtime/events`
    /// never sends `tail_cursor`.
    pub(crate) omit_tail_cursor: bool,
    /// True to act like an older server that links uploads only after the
    /// create: `upload_id` in a create body is an unknown field (ignored),
    /// and every `POST /api/messages/{id}/attachments` emits `message.updated`.
    pub(crate) legacy_attachment_links: bool,
    /// True to act like a newer server that keeps message provenance
    /// (`author_model`, `author_thinking`, `author_runtime` on creates and
    /// messages); the default server ignores those fields.
    pub(crate) message_provenance: bool,
    /// Workspaces with new durable events since the last unlock.
    pending_wakes: Vec<String>,
    /// Ephemeral events to publish after unlock.
    pending_ephemeral: Vec<(String, Arc<LoggedEvent>)>,
}

/// The store handle shared by all connections.
#[derive(Debug, Default)]
pub(crate) struct Store {
    data: Mutex<Data>,
    pub(crate) hub: Hub,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with shared access.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&self.lock())
    }

    /// Runs `f` with exclusive access, then wakes sockets for new events
    /// (after the lock is released).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        let (out, wakes, ephemeral) = {
            let mut data = self.lock();
            let out = f(&mut data);
            (
                out,
                std::mem::take(&mut data.pending_wakes),
                std::mem::take(&mut data.pending_ephemeral),
            )
        };
        for ws in wakes {
            self.hub.wake(&ws);
        }
        for (ws, ev) in ephemeral {
            self.hub.publish_ephemeral(&ws, ev);
        }
        out
    }
}

impl Data {
    /// A list field without `omitempty`, rendered like the Go server
    /// (`null` when empty; see [`GoShape`]).
    pub(crate) fn list(&self, items: Vec<Value>) -> Value {
        self.shape.list(items)
    }

    /// Appends a durable event and returns it.
    pub(crate) fn append_event(
        &mut self,
        workspace_id: &str,
        kind: &str,
        channel_id: Option<&str>,
        seq: Option<i64>,
        payload: Value,
        visibility: Visibility,
    ) -> Arc<LoggedEvent> {
        let id = self.ids.next("evt");
        let cursor = self.ids.next("cur");
        let created_at = now_rfc3339();
        let bytes = Envelope {
            id: &id,
            cursor: &cursor,
            kind,
            workspace_id,
            channel_id,
            seq,
            created_at: &created_at,
            payload: &payload,
        }
        .to_bytes();
        let ev = Arc::new(LoggedEvent {
            cursor,
            bytes,
            visibility,
        });
        self.logs
            .entry(workspace_id.to_owned())
            .or_default()
            .push(ev.clone());
        if !self.pending_wakes.iter().any(|w| w == workspace_id) {
            self.pending_wakes.push(workspace_id.to_owned());
        }
        ev
    }

    /// Builds a cursorless event and queues it for the hub.
    pub(crate) fn publish_ephemeral(
        &mut self,
        workspace_id: &str,
        kind: &str,
        id: Option<String>,
        channel_id: Option<&str>,
        payload: Value,
        visibility: Visibility,
    ) -> Arc<LoggedEvent> {
        let id = id.unwrap_or_else(|| format!("eph_{}", ephemeral_stamp()));
        let created_at = now_rfc3339();
        let bytes = Envelope {
            id: &id,
            cursor: "",
            kind,
            workspace_id,
            channel_id,
            seq: None,
            created_at: &created_at,
            payload: &payload,
        }
        .to_bytes();
        let ev = Arc::new(LoggedEvent {
            cursor: String::new(),
            bytes,
            visibility,
        });
        self.pending_ephemeral
            .push((workspace_id.to_owned(), ev.clone()));
        ev
    }

    /// Checks workspace binding and membership.
    pub(crate) fn workspace_access(
        &self,
        actor: &Actor,
        workspace_id: &str,
    ) -> ApiResult<&WorkspaceRec> {
        actor.require_workspace(workspace_id)?;
        match self.workspaces.get(workspace_id) {
            Some(ws) if ws.role_of(&actor.user_id).is_some() => Ok(ws),
            _ => Err(ApiError::forbidden(NO_ROWS)),
        }
    }

    /// The error for an id that does not resolve: 403 for bots, 400 for humans.
    pub(crate) fn missing(actor: &Actor) -> ApiError {
        if actor.is_bot() {
            ApiError::forbidden(NO_ROWS)
        } else {
            ApiError::bad_request(NO_ROWS)
        }
    }

    /// Loads a channel the actor may access.
    pub(crate) fn channel_access(&self, actor: &Actor, channel_id: &str) -> ApiResult<&ChannelRec> {
        let ch = self
            .channels
            .get(channel_id)
            .ok_or_else(|| Self::missing(actor))?;
        self.workspace_access(actor, &ch.workspace_id)?;
        Ok(ch)
    }

    /// Loads a DM the actor belongs to.
    pub(crate) fn dm_access(&self, actor: &Actor, dm_id: &str) -> ApiResult<&DmRec> {
        let dm = self.dms.get(dm_id).ok_or_else(|| Self::missing(actor))?;
        self.workspace_access(actor, &dm.workspace_id)?;
        if !dm.members.iter().any(|m| m == &actor.user_id) {
            return Err(Self::missing(actor));
        }
        Ok(dm)
    }

    /// Loads a message the actor may access; DM messages also need `dm_scope`.
    pub(crate) fn message_access(
        &self,
        actor: &Actor,
        message_id: &str,
        dm_scope: &str,
    ) -> ApiResult<&MessageRec> {
        let msg = self
            .messages
            .get(message_id)
            .ok_or_else(|| Self::missing(actor))?;
        match &msg.dm_id {
            Some(dm) => {
                actor.require_scope(dm_scope)?;
                self.dm_access(actor, dm)?;
            }
            None => {
                self.workspace_access(actor, &msg.workspace_id)?;
            }
        }
        Ok(msg)
    }

    /// A user by id.
    pub(crate) fn user(&self, id: &str) -> Option<&UserRec> {
        self.users.get(id)
    }

    /// The read pointer of `user` in `scope_id` (0 when unread).
    pub(crate) fn last_read(&self, scope_id: &str, user: &str) -> i64 {
        self.reads
            .get(&(scope_id.to_owned(), user.to_owned()))
            .map(|r| r.last_read_seq)
            .unwrap_or(0)
    }

    /// Makes a new session token for `user_id`.
    pub(crate) fn new_session(&mut self, user_id: &str) -> String {
        let token = format!("sst_{}", crate::ids::random_token(26));
        self.sessions.insert(
            token.clone(),
            SessionRec {
                user_id: user_id.to_owned(),
                revoked: Arc::default(),
            },
        );
        token
    }
}
