//! Channels: list, create, patch, read pointer.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, created, ok};
use crate::ids::{now_rfc3339, route_id};
use crate::server::Shared;
use crate::store::Data;
use crate::store::log::Visibility;
use crate::store::records::{ChannelRec, ReadRec, TopicRec};
use clickclack_proto::slugify;

/// `GET /api/workspaces/{id}/channels`.
pub(crate) fn list(shared: &Shared, ctx: &Ctx, ws: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("channels:read")?;
    let list = shared.store.read(|d| -> ApiResult<Value> {
        let w = d.workspace_access(&actor, ws)?;
        Ok(d.list(
            w.channels
                .iter()
                .map(|c| d.channel_json(c, &actor.user_id))
                .collect(),
        ))
    })?;
    ok(json!({ "channels": list }))
}

/// Body of channel create / patch.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChannelInput {
    name: Option<String>,
    display_title: Option<String>,
    kind: Option<String>,
    archived: Option<bool>,
    external_managed: Option<bool>,
    external_ref: Option<String>,
    external_url: Option<String>,
    sidebar_section: Option<String>,
}

impl Data {
    /// Creates a channel and appends `channel.created`.
    pub(crate) fn create_channel(
        &mut self,
        actor: &Actor,
        ws: &str,
        name: &str,
    ) -> ApiResult<(String, Value)> {
        self.workspace_access(actor, ws)?;
        let mut slug = slugify(name);
        if slug.is_empty() {
            slug = "general".into();
        }
        if slug == "guest" {
            return Err(ApiError::bad_request("channel name is reserved"));
        }
        let exists = self
            .workspaces
            .get(ws)
            .map(|w| {
                w.channels
                    .iter()
                    .any(|c| self.channels.get(c).is_some_and(|c| c.name == slug))
            })
            .unwrap_or(false);
        if exists {
            return Err(ApiError::conflict("channel name already exists"));
        }
        let id = self.ids.next("chn");
        let rec = ChannelRec {
            id: id.clone(),
            route_id: route_id('C'),
            workspace_id: ws.to_owned(),
            name: slug,
            display_title: None,
            kind: "public".into(),
            created_at: now_rfc3339(),
            archived_at: None,
            external_managed: false,
            external_ref: None,
            external_url: None,
            sidebar_section: None,
            roots: Vec::new(),
        };
        self.channels.insert(id.clone(), rec);
        if let Some(w) = self.workspaces.get_mut(ws) {
            w.channels.push(id.clone());
        }
        let ev = self.append_event(
            ws,
            "channel.created",
            Some(&id),
            None,
            json!({ "channel_id": id }),
            Visibility::All,
        );
        Ok((id, ev.to_value()))
    }
}

/// `POST /api/workspaces/{id}/channels`.
pub(crate) async fn create(shared: &Shared, ctx: &mut Ctx, ws: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("channels:write")?;
    let input: ChannelInput = ctx.json().await?;
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let (id, event) = d.create_channel(&actor, ws, input.name.as_deref().unwrap_or(""))?;
        if let Some(c) = d.channels.get_mut(&id) {
            apply(c, &input);
        }
        Ok(json!({ "channel": d.channel_json(&id, &actor.user_id), "event": event }))
    })?;
    created(body)
}

fn apply(c: &mut ChannelRec, input: &ChannelInput) {
    if let Some(t) = &input.display_title {
        c.display_title = Some(t.clone()).filter(|t| !t.is_empty());
    }
    if let Some(k) = &input.kind {
        c.kind = k.clone();
    }
    if let Some(v) = input.external_managed {
        c.external_managed = v;
    }
    if let Some(v) = &input.external_ref {
        c.external_ref = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = &input.external_url {
        c.external_url = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = &input.sidebar_section {
        c.sidebar_section = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(a) = input.archived {
        c.archived_at = a.then(now_rfc3339);
    }
}

/// `PATCH /api/channels/{id}`.
pub(crate) async fn patch(shared: &Shared, ctx: &mut Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("channels:write")?;
    let input: ChannelInput = ctx.json().await?;
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let ws = d.channel_access(&actor, id)?.workspace_id.clone();
        if let Some(name) = &input.name {
            let slug = slugify(name);
            if slug.is_empty() {
                return Err(ApiError::bad_request("channel name is required"));
            }
            if let Some(c) = d.channels.get_mut(id) {
                c.name = slug;
            }
        }
        let archived = match d.channels.get_mut(id) {
            Some(c) => {
                apply(c, &input);
                c.archived_at.is_some()
            }
            None => false,
        };
        let ev = d.append_event(
            &ws,
            "channel.updated",
            Some(id),
            None,
            json!({ "channel_id": id, "archived": archived }),
            Visibility::All,
        );
        Ok(json!({ "channel": d.channel_json(id, &actor.user_id), "event": ev.to_value() }))
    })?;
    ok(body)
}

/// Body of `POST …/read`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReadInput {
    #[serde(default)]
    seq: i64,
}

impl Data {
    /// Moves a read pointer and appends `channel.read` / `dm.read`.
    pub(crate) fn mark_read(
        &mut self,
        actor: &Actor,
        ws: &str,
        scope_id: &str,
        is_dm: bool,
        seq: i64,
    ) -> Value {
        let now = now_rfc3339();
        self.reads.insert(
            (scope_id.to_owned(), actor.user_id.clone()),
            ReadRec { last_read_seq: seq },
        );
        let (kind, key, channel) = if is_dm {
            ("dm.read", "direct_conversation_id", None)
        } else {
            ("channel.read", "channel_id", Some(scope_id))
        };
        self.append_event(
            ws,
            kind,
            channel,
            Some(seq),
            json!({ "user_id": actor.user_id, key: scope_id }),
            Visibility::User(actor.user_id.clone()),
        );
        json!({ "receipt": {
            "scope_id": scope_id,
            "user_id": actor.user_id,
            "last_read_seq": seq,
            "last_read_at": now,
        }})
    }
}

/// `POST /api/channels/{id}/read`.
pub(crate) async fn read(shared: &Shared, ctx: &mut Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:read")?;
    let input: ReadInput = ctx.json().await?;
    if input.seq < 0 {
        return Err(ApiError::bad_request("seq must be non-negative"));
    }
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let ws = d.channel_access(&actor, id)?.workspace_id.clone();
        Ok(d.mark_read(&actor, &ws, id, false, input.seq))
    })?;
    ok(body)
}

/// `GET /api/workspaces/{id}/topics` (`channels:read`): `{"topics": [Topic]}`.
pub(crate) fn list_topics(shared: &Shared, ctx: &Ctx, ws: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("channels:read")?;
    actor.require_workspace(ws)?;
    let body = shared.store.read(|d| -> ApiResult<Value> {
        member_of(d, &actor, ws)?;
        let topics = d
            .topics
            .iter()
            .filter(|t| t.workspace_id == ws)
            .map(TopicRec::to_json)
            .collect();
        Ok(json!({ "topics": d.list(topics) }))
    })?;
    ok(body)
}

/// A store-level membership check: not a member → 400 `sql: no rows in result set`.
fn member_of(d: &Data, actor: &Actor, ws: &str) -> ApiResult<()> {
    match d.workspaces.get(ws) {
        Some(w) if w.role_of(&actor.user_id).is_some() => Ok(()),
        _ => Err(ApiError::bad_request(crate::error::NO_ROWS)),
    }
}

#[derive(Debug, Deserialize)]
struct TopicInput {
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    name: String,
}

/// `POST /api/workspaces/{id}/topics` (`channels:write`): 201 `{"topic"}`.
pub(crate) async fn create_topic(shared: &Shared, ctx: &mut Ctx, ws: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("channels:write")?;
    actor.require_workspace(ws)?;
    let input: TopicInput = ctx.json().await?;
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::bad_request("topic name is required"));
    }
    if name.chars().count() > 80 {
        return Err(ApiError::bad_request("topic name is too long"));
    }
    let channel = Some(input.channel_id.trim().to_owned()).filter(|c| !c.is_empty());
    let body = shared.store.write(|d| -> ApiResult<Value> {
        member_of(d, &actor, ws)?;
        if let Some(c) = &channel
            && d.channels.get(c).is_none_or(|ch| ch.workspace_id != ws)
        {
            return Err(ApiError::bad_request(crate::error::NO_ROWS));
        }
        let topic = TopicRec {
            id: d.ids.next("top"),
            workspace_id: ws.to_owned(),
            channel_id: channel.clone(),
            name: name.clone(),
            created_by: actor.user_id.clone(),
            created_at: now_rfc3339(),
        };
        let json = topic.to_json();
        d.topics.push(topic);
        Ok(json!({ "topic": json }))
    })?;
    created(body)
}
