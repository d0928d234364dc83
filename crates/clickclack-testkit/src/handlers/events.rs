//! Realtime REST: the durable events page, ephemeral publish, bot commands,
//! event types and search.

use bytes::{BufMut, Bytes, BytesMut};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{auth, int_param, workspace_param};
use crate::error::{ApiError, ApiResult, NO_ROWS};
use crate::gojson::GoShape;
use crate::http::{Ctx, Resp, bytes_response, json_response, ok};
use crate::ids::now_rfc3339;
use crate::server::Shared;
use crate::store::log::Visibility;

/// The durable event types (`GET /api/event-types`).
pub(crate) const DURABLE_TYPES: &[&str] = &[
    "channel.created",
    "channel.deleted",
    "channel.read",
    "channel.updated",
    "dm.read",
    "member.moderation_updated",
    "message.created",
    "message.deleted",
    "message.updated",
    "pin.added",
    "pin.removed",
    "reaction.added",
    "reaction.removed",
    "thread.reply_created",
    "thread.state_updated",
    "workspace.ownership_transferred",
    "workspace.updated",
];

/// `GET /api/realtime/events`.
pub(crate) fn list(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("realtime:read")?;
    let ws = workspace_param(ctx, &actor)?;
    // Like the server's queryInt + store clamp: bad, ≤ 0 or > 500 → 200.
    let limit = match ctx.q("limit").and_then(|l| l.parse::<i64>().ok()) {
        Some(l) if (1..=500).contains(&l) => l as usize,
        _ => 200,
    };
    let include_tail = ctx.q("include_tail") == Some("true");
    let after = ctx.q("after_cursor").map(str::to_owned);
    let (events, tail, shape) = shared.store.read(|d| -> ApiResult<_> {
        d.workspace_access(&actor, &ws)?;
        // Like the server: `tail_cursor` is present whenever asked for
        // (`""` when nothing is visible yet), unless acting as an older server.
        let tail = (include_tail && !d.omit_tail_cursor).then(|| {
            d.logs
                .get(&ws)
                .and_then(|log| log.tail_for(&actor.user_id))
                .map(|(_, c)| c)
                .unwrap_or_default()
        });
        let Some(log) = d.logs.get(&ws) else {
            return Ok((Vec::new(), tail, d.shape));
        };
        let from = log.position_after_lenient(after.as_deref());
        let (events, _) = log.page(from, limit, &actor.user_id);
        Ok((events, tail, d.shape))
    })?;
    // Kind mode keeps the older testkit behaviour of omitting an empty tail.
    let tail = tail.filter(|t| shape == GoShape::Go || !t.is_empty());
    let mut buf =
        BytesMut::with_capacity(48 + events.iter().map(|e| e.bytes.len() + 1).sum::<usize>());
    // Keys sorted like Go's map encoding: "events" < "tail_cursor".
    if events.is_empty() && shape == GoShape::Go {
        buf.put_slice(b"{\"events\":null");
    } else {
        buf.put_slice(b"{\"events\":[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                buf.put_u8(b',');
            }
            buf.put_slice(&e.bytes);
        }
        buf.put_u8(b']');
    }
    if let Some(t) = tail {
        buf.put_slice(b",\"tail_cursor\":");
        buf.put_slice(&crate::gojson::to_vec(&t));
    }
    buf.put_slice(b"}\n");
    Ok(bytes_response(StatusCode::OK, Bytes::from(buf)))
}

#[derive(Debug, Deserialize)]
struct EphemeralInput {
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    direct_conversation_id: Option<String>,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Value>,
}

/// `POST /api/realtime/ephemeral` (202), with the server's check order:
/// event type, workspace binding and membership (403), then the target.
pub(crate) async fn ephemeral(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:write")?;
    let input: EphemeralInput = ctx.json().await?;
    let kind = input.kind.as_str();
    if !matches!(
        kind,
        "typing.started" | "typing.stopped" | "presence.changed" | "agent.progress"
    ) {
        return Err(ApiError::bad_request("unsupported ephemeral event type"));
    }
    let ws = input.workspace_id.clone();
    actor.require_workspace(&ws)?;
    shared
        .store
        .read(|d| d.workspace_access(&actor, &ws).map(|_| ()))?;
    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let channel = trimmed(&input.channel_id);
    let dm = trimmed(&input.direct_conversation_id);
    if kind == "agent.progress" {
        if !actor.is_bot() {
            return Err(ApiError::forbidden("bot token required"));
        }
        if channel.is_some() == dm.is_some() {
            return Err(ApiError::bad_request(
                "agent.progress requires exactly one of channel_id or direct_conversation_id",
            ));
        }
    }
    if kind.starts_with("typing.") && channel.is_none() && dm.is_none() {
        return Err(ApiError::bad_request(
            "typing events require channel_id or direct_conversation_id",
        ));
    }
    if channel.is_some() && dm.is_some() {
        return Err(ApiError::bad_request(
            "channel_id and direct_conversation_id are mutually exclusive",
        ));
    }
    let mut payload = match input.payload {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    payload.remove("channel_id");
    payload.remove("direct_conversation_id");
    let event = shared.store.write(|d| -> ApiResult<Value> {
        let vis = if let Some(dm) = &dm {
            let found = d
                .dms
                .get(dm)
                .filter(|x| x.members.contains(&actor.user_id))
                .ok_or_else(|| ApiError::forbidden(NO_ROWS))?;
            if found.workspace_id != ws {
                return Err(ApiError::forbidden(
                    "direct conversation is not in this workspace",
                ));
            }
            actor.require_scope("dms:write")?;
            let members = found.members.clone();
            payload.insert("direct_conversation_id".into(), json!(dm));
            Visibility::Members(members.into())
        } else {
            if let Some(c) = &channel {
                let ch = d
                    .channels
                    .get(c)
                    .filter(|ch| d.workspace_access(&actor, &ch.workspace_id).is_ok())
                    .ok_or_else(|| ApiError::forbidden(NO_ROWS))?;
                if ch.workspace_id != ws {
                    return Err(ApiError::forbidden("channel is not in this workspace"));
                }
                payload.insert("channel_id".into(), json!(c));
            }
            Visibility::All
        };
        payload.insert("user_id".into(), json!(actor.user_id));
        let ev = d.publish_ephemeral(
            &ws,
            kind,
            None,
            channel.as_deref(),
            Value::Object(payload),
            vis,
        );
        Ok(ev.to_value())
    })?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "event": event }),
    ))
}

#[derive(Debug, Deserialize)]
struct CommandInput {
    #[serde(default)]
    command: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    args_hint: String,
}

#[derive(Debug, Deserialize)]
struct CommandsInput {
    /// `None` for a missing key or `null` (the server answers 400).
    #[serde(default)]
    commands: Option<Vec<CommandInput>>,
}

fn valid_command(c: &str) -> bool {
    let Some(rest) = c.strip_prefix('/') else {
        return false;
    };
    (1..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `PUT /api/bots/self/commands`.
pub(crate) async fn set_commands(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    let Some(bot) = actor.bot.clone() else {
        return Err(ApiError::forbidden("bot token required"));
    };
    actor.require_scope("commands:write")?;
    let input: CommandsInput = ctx.json().await?;
    let Some(commands) = input.commands else {
        return Err(ApiError::bad_request("commands is required"));
    };
    if commands.len() > 100 {
        return Err(ApiError::bad_request("too many bot commands"));
    }
    let now = now_rfc3339();
    let mut list = Vec::new();
    for c in &commands {
        let command = c.command.trim();
        let command = if command.starts_with('/') {
            command.to_owned()
        } else {
            format!("/{command}")
        };
        if !valid_command(&command) {
            return Err(ApiError::bad_request("invalid bot command"));
        }
        list.push(json!({
            "id": format!("bcmd_{}", crate::ids::random_token(26)),
            "workspace_id": bot.workspace_id,
            "bot_user_id": actor.user_id,
            "command": command,
            "description": c.description,
            "args_hint": c.args_hint,
            "created_at": now,
            "updated_at": now,
        }));
    }
    let value = Value::Array(list);
    let rendered = shared.store.write(|d| -> ApiResult<Value> {
        d.workspace_access(&actor, &bot.workspace_id)?;
        d.bot_commands.insert(actor.user_id.clone(), value.clone());
        d.publish_ephemeral(
            &bot.workspace_id,
            "bot_command.updated",
            Some(String::new()),
            None,
            json!({ "workspace_id": bot.workspace_id, "bot_user_id": actor.user_id }),
            Visibility::All,
        );
        Ok(d.list(value.as_array().cloned().unwrap_or_default()))
    })?;
    ok(json!({ "bot_commands": rendered }))
}

/// `GET /api/workspaces/{id}/bot-commands`.
pub(crate) fn workspace_commands(shared: &Shared, ctx: &Ctx, ws: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("workspaces:read")?;
    let list = shared.store.read(|d| -> ApiResult<Value> {
        let w = d.workspace_access(&actor, ws)?;
        let mut out = Vec::new();
        for (member, _) in &w.members {
            let (Some(bot), Some(Value::Array(cmds))) =
                (d.user(member), d.bot_commands.get(member))
            else {
                continue;
            };
            for c in cmds {
                if c["workspace_id"] != json!(ws) {
                    continue;
                }
                out.push(json!({
                    "id": c["id"],
                    "command": c["command"],
                    "description": c["description"],
                    "args_hint": c["args_hint"],
                    "bot": {
                        "id": bot.id,
                        "handle": bot.handle,
                        "display_name": bot.display_name,
                        "avatar_url": "",
                    },
                    "created_at": c["created_at"],
                    "updated_at": c["updated_at"],
                }));
            }
        }
        Ok(d.list(out))
    })?;
    ok(json!({ "bot_commands": list }))
}

/// `GET /api/event-types`.
pub(crate) fn event_types() -> ApiResult<Resp> {
    ok(json!({ "event_types": DURABLE_TYPES }))
}

/// `GET /api/search` (case-insensitive substring match over bodies).
pub(crate) fn search(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:read")?;
    let ws = workspace_param(ctx, &actor)?;
    let q = ctx.q("q").unwrap_or("").to_lowercase();
    let limit = int_param(ctx, "limit")?.unwrap_or(50).clamp(1, 100) as usize;
    let offset: usize = ctx.q("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let channel = ctx.q("channel_id").map(str::to_owned);
    let dm = ctx.q("direct_conversation_id").map(str::to_owned);
    if dm.is_some() {
        actor.require_scope("dms:read")?;
    }
    let newest = ctx.q("sort") == Some("newest");
    let body = shared.store.read(|d| -> ApiResult<Value> {
        d.workspace_access(&actor, &ws)?;
        let mut hits: Vec<_> = d
            .messages
            .values()
            .filter(|m| m.workspace_id == ws && m.deleted_at.is_none())
            .filter(|m| channel.as_ref().is_none_or(|c| m.channel_id.as_ref() == Some(c)))
            .filter(|m| dm.as_ref().is_none_or(|x| m.dm_id.as_ref() == Some(x)))
            .filter(|m| match &m.dm_id {
                Some(x) => {
                    actor.require_scope("dms:read").is_ok()
                        && d.dms.get(x).is_some_and(|dm| dm.members.contains(&actor.user_id))
                }
                None => true,
            })
            .filter(|m| !q.is_empty() && m.body.to_lowercase().contains(&q))
            .collect();
        hits.sort_by(|a, b| a.id.cmp(&b.id));
        if newest {
            hits.reverse();
        }
        let total = hits.len();
        let results: Vec<Value> = hits
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|m| {
                let mut r = json!({
                    "id": m.id,
                    "workspace_id": m.workspace_id,
                    "author": d.user(&m.author_id).map(|u| u.to_json()),
                    "thread_root_id": m.thread_root_id,
                    "created_at": m.created_at,
                    "reply_count": d.messages.get(&m.thread_root_id).map(|r| r.replies.len()).unwrap_or(0),
                    "snippet": m.body,
                    "highlights": d.list(Vec::new()),
                });
                if let Some(c) = &m.channel_id {
                    r["channel_id"] = json!(c);
                    r["channel_name"] = json!(d.channels.get(c).map(|c| c.name.clone()));
                }
                if let Some(x) = &m.dm_id {
                    r["direct_conversation_id"] = json!(x);
                }
                if let Some(p) = &m.parent_message_id {
                    r["parent_message_id"] = json!(p);
                }
                if let Some(s) = m.channel_seq {
                    r["channel_seq"] = json!(s);
                }
                if let Some(s) = m.thread_seq {
                    r["thread_seq"] = json!(s);
                }
                r
            })
            .collect();
        let next = (offset + limit < total).then(|| (offset + limit).to_string());
        Ok(json!({ "results": d.list(results), "next_cursor": next }))
    })?;
    ok(body)
}
