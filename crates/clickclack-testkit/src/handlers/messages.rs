//! Messages: list pages, create with nonces, get/edit/delete, by-nonce,
//! threads, reactions and attachments.

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{auth, nonce_param, workspace_param};
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, created, json_response, ok};
use crate::ids::now_rfc3339;
use crate::server::Shared;
use crate::store::Data;
use crate::store::messages::{Created, NewMessage, Target};

const NONCE_HEADER: &str = "x-clickclack-message-nonce";

/// A parsed page request (protocol.md §5.1, §5.4).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageReq {
    after: Option<i64>,
    before: Option<i64>,
    around: Option<i64>,
    latest: bool,
    limit: usize,
}

fn invalid(msg: &str) -> ApiError {
    ApiError::bad_request(format!("invalid message page request: {msg}"))
}

/// Parses `after_seq`/`before_seq`/`around_seq`/`mode`/`limit` like the
/// server's `parseMessagePageRequest` (threads: `latest`, and `mode` is
/// refused). Without a cursor a message page is the latest window; a
/// missing, unparsable, non-positive or over-200 `limit` means 100.
pub(crate) fn parse_page(ctx: &Ctx, thread: bool) -> ApiResult<PageReq> {
    let mut cursors = 0;
    let mut seq = |name: &str| -> ApiResult<Option<i64>> {
        let Some(raw) = ctx.query.get(name) else {
            return Ok(None);
        };
        cursors += 1;
        if raw.trim().is_empty() {
            return Err(invalid(&format!("{name} is required")));
        }
        match raw.parse::<i64>() {
            Ok(v) if v >= 0 => Ok(Some(v)),
            _ => Err(invalid(&format!("{name} must be a non-negative integer"))),
        }
    };
    let (before, after, around) = (seq("before_seq")?, seq("after_seq")?, seq("around_seq")?);
    if cursors > 1 {
        return Err(invalid(
            "before_seq, after_seq, and around_seq are mutually exclusive",
        ));
    }
    let latest = if thread {
        if ctx.query.contains_key("mode") {
            return Err(ApiError::bad_request(
                "use latest or a thread sequence cursor",
            ));
        }
        ctx.q("latest").map(str::trim) == Some("true")
    } else {
        match ctx.q("mode") {
            None => cursors == 0,
            Some("latest") if cursors > 0 => {
                return Err(invalid("mode and cursor params are mutually exclusive"));
            }
            Some("latest") => true,
            Some(other) => {
                return Err(invalid(&format!(
                    "unsupported message page mode {}",
                    serde_json::to_string(other).unwrap_or_default()
                )));
            }
        }
    };
    let limit = match ctx.q("limit").and_then(|l| l.parse::<i64>().ok()) {
        Some(l) if (1..=200).contains(&l) => l as usize,
        _ => 100,
    };
    Ok(PageReq {
        after,
        before,
        around,
        latest,
        limit,
    })
}

/// The `[start, end)` index window of a page over `n` items (seq = index + 1),
/// chosen like the server's store queries.
pub(crate) fn window(n: usize, req: &PageReq) -> (usize, usize) {
    let limit = req.limit;
    if let Some(a) = req.after {
        // seq > a, ascending.
        let start = (a.max(0) as usize).min(n);
        (start, (start + limit).min(n))
    } else if let Some(b) = req.before {
        // seq < b, the newest `limit` of them.
        let end = ((b - 1).max(0) as usize).min(n);
        (end.saturating_sub(limit), end)
    } else if let Some(c) = req.around {
        // ceil(limit/2) at or before c, the rest after it; a short side
        // lends its share to the other.
        let pivot = (c.max(0) as usize).min(n);
        let left_limit = limit / 2 + limit % 2;
        let right_limit = limit - left_limit;
        let mut take_left = pivot.min(left_limit);
        let right_want = right_limit + (left_limit - take_left);
        let take_right = (n - pivot).min(right_want);
        if take_right < right_want {
            take_left = pivot.min(limit - take_right);
        }
        (pivot - take_left, pivot + take_right)
    } else if req.latest {
        (n.saturating_sub(limit), n)
    } else {
        (0, limit.min(n))
    }
}

fn page_meta(start: usize, end: usize, n: usize) -> (i64, i64, bool, bool) {
    if start >= end {
        // The server leaves every field zero on an empty page.
        (0, 0, false, false)
    } else {
        (start as i64 + 1, end as i64, start > 0, end < n)
    }
}

impl Data {
    /// A message page over `ids` (root messages in seq order).
    pub(crate) fn message_page(&self, ids: &[String], req: &PageReq, viewer: &str) -> Value {
        let (start, end) = window(ids.len(), req);
        let msgs: Vec<Value> = ids[start..end]
            .iter()
            .filter_map(|id| self.messages.get(id))
            .map(|m| self.page_message_json(m, viewer))
            .collect();
        let (oldest, newest, has_older, has_newer) = page_meta(start, end, ids.len());
        json!({
            "messages": self.list(msgs),
            "oldest_seq": oldest,
            "newest_seq": newest,
            "has_older": has_older,
            "has_newer": has_newer,
        })
    }
}

/// `GET /api/channels/{id}/messages` and `GET /api/dms/{id}/messages`.
pub(crate) fn list(shared: &Shared, ctx: &Ctx, target: &Target) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    match target {
        Target::Dm(_) => actor.require_scope("dms:read")?,
        _ => actor.require_scope("messages:read")?,
    }
    let req = parse_page(ctx, false)?;
    let body = shared.store.read(|d| -> ApiResult<Value> {
        let roots = match target {
            Target::Channel(id) => &d.channel_access(&actor, id)?.roots,
            Target::Dm(id) => &d.dm_access(&actor, id)?.roots,
            Target::Thread(_) => return Err(ApiError::route_not_found()),
        };
        Ok(d.message_page(roots, &req, &actor.user_id))
    })?;
    ok(body)
}

/// `POST /api/channels/{id}/messages`, `POST /api/dms/{id}/messages`,
/// `POST /api/messages/{id}/thread/replies`.
pub(crate) async fn create(shared: &Shared, ctx: &mut Ctx, target: &Target) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    match target {
        Target::Channel(_) => actor.require_scope("messages:write")?,
        Target::Dm(_) => actor.require_scope("dms:write")?,
        Target::Thread(_) => actor.require_scope("threads:write")?,
    }
    let input: NewMessage = ctx.json().await?;
    let correlation_id = ctx.correlation_id.clone();
    let (status, body) = shared.store.write(|d| -> ApiResult<(StatusCode, Value)> {
        let outcome = d.create_message(&actor, target, &input, Some(&correlation_id))?;
        Ok(render_created(d, &actor, target, outcome))
    })?;
    Ok(json_response(status, &body))
}

/// The response body of a create (201 with events, 200 on replay).
pub(crate) fn render_created(
    d: &Data,
    actor: &Actor,
    target: &Target,
    outcome: Created,
) -> (StatusCode, Value) {
    let (id, events, status) = match outcome {
        Created::New(id, events) => (id, Some(events), StatusCode::CREATED),
        Created::Replay(id) => (id, None, StatusCode::OK),
    };
    let msg = d
        .messages
        .get(&id)
        .map(|m| d.message_json(m, &actor.user_id))
        .unwrap_or(Value::Null);
    let body = match target {
        Target::Thread(root) => {
            let state = d
                .messages
                .get(root)
                .map(|r| d.thread_state_json(r))
                .unwrap_or(Value::Null);
            let events = events.map(|evs| evs.iter().map(|e| e.to_value()).collect::<Vec<_>>());
            json!({ "message": msg, "thread_state": state, "events": events })
        }
        _ => match events.and_then(|e| e.first().cloned()) {
            Some(ev) => json!({ "message": msg, "event": ev.to_value() }),
            None => json!({ "message": msg }),
        },
    };
    (status, body)
}

/// `GET /api/messages/{id}`.
pub(crate) fn get(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:read")?;
    let msg = shared.store.read(|d| {
        d.message_access(&actor, id, "dms:read")
            .map(|m| d.message_json(m, &actor.user_id))
    })?;
    ok(json!({ "message": msg }))
}

#[derive(Debug, Deserialize)]
struct EditInput {
    #[serde(default)]
    body: String,
}

/// `PATCH /api/messages/{id}`.
pub(crate) async fn patch(shared: &Shared, ctx: &mut Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:write")?;
    let input: EditInput = ctx.json().await?;
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let m = d.message_access(&actor, id, "dms:write")?;
        if m.author_id != actor.user_id || m.deleted_at.is_some() {
            return Err(ApiError::forbidden("message is not writable"));
        }
        if input.body.trim().is_empty() {
            return Err(ApiError::bad_request("message body is required"));
        }
        if let Some(m) = d.messages.get_mut(id) {
            m.body = input.body.clone();
            m.edited_at = Some(now_rfc3339());
        }
        Ok(write_response(d, id, "message.updated", &actor))
    })?;
    ok(body)
}

/// Logs `kind` for message `id` and builds the `{message, event}` body of an
/// edit or delete.
fn write_response(d: &mut Data, id: &str, kind: &str, actor: &Actor) -> Value {
    let ev = d.message_event(id, kind).map(|e| e.to_value());
    let msg = d
        .messages
        .get(id)
        .map(|m| d.message_json(m, &actor.user_id));
    json!({ "message": msg, "event": ev })
}

/// `DELETE /api/messages/{id}` (soft delete).
pub(crate) fn delete(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:write")?;
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let m = d.message_access(&actor, id, "dms:write")?;
        let is_owner = m.dm_id.is_none()
            && d.workspaces
                .get(&m.workspace_id)
                .and_then(|w| w.role_of(&actor.user_id))
                == Some("owner");
        if (m.author_id != actor.user_id && !is_owner) || m.deleted_at.is_some() {
            return Err(ApiError::forbidden("message is not writable"));
        }
        if let Some(m) = d.messages.get_mut(id) {
            m.body.clear();
            m.deleted_at = Some(now_rfc3339());
        }
        Ok(write_response(d, id, "message.deleted", &actor))
    })?;
    ok(body)
}

/// `GET /api/messages/by-nonce?workspace_id=&nonce=`.
pub(crate) fn by_nonce(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let with_header = |e: ApiError| e.with_header(NONCE_HEADER, "supported");
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:write")?;
    let ws = workspace_param(ctx, &actor)?;
    let nonce = nonce_param(ctx)?;
    let found = shared.store.read(|d| -> ApiResult<Value> {
        d.workspace_access(&actor, &ws)?;
        let msg = d
            .message_nonces
            .get(&(actor.user_id.clone(), nonce.clone()))
            .and_then(|id| d.messages.get(id))
            .ok_or_else(|| with_header(ApiError::not_found("message not found")))?;
        if msg.workspace_id != ws {
            return Err(ApiError::bad_request(
                "client nonce was already used for a different message",
            ));
        }
        if msg.dm_id.is_some() {
            actor.require_scope("dms:write")?;
        }
        Ok(d.message_json(msg, &actor.user_id))
    })?;
    let mut resp = json_response(StatusCode::OK, &json!({ "message": found }));
    resp.headers_mut()
        .insert(NONCE_HEADER, http::HeaderValue::from_static("supported"));
    Ok(resp)
}

/// `GET /api/messages/{id}/thread`.
pub(crate) fn thread(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("threads:read")?;
    let req = parse_page(ctx, true)?;
    let body = shared.store.read(|d| -> ApiResult<Value> {
        let m = d.message_access(&actor, id, "dms:read")?;
        let root = d
            .messages
            .get(&m.thread_root_id)
            .ok_or_else(|| Data::missing(&actor))?;
        let (start, end) = window(root.replies.len(), &req);
        let replies: Vec<Value> = root.replies[start..end]
            .iter()
            .filter_map(|r| d.messages.get(r))
            .map(|r| d.message_json(r, &actor.user_id))
            .collect();
        let (oldest, newest, has_older, has_newer) = page_meta(start, end, root.replies.len());
        Ok(json!({
            "root": d.page_message_json(root, &actor.user_id),
            "replies": d.list(replies),
            "thread_state": d.thread_state_json(root),
            "oldest_seq": oldest,
            "newest_seq": newest,
            "has_older": has_older,
            "has_newer": has_newer,
        }))
    })?;
    ok(body)
}

#[derive(Debug, Deserialize)]
struct ReactionInput {
    #[serde(default)]
    emoji: String,
}

impl Data {
    /// Adds (`add`) or removes a reaction; `None` event when nothing changed.
    pub(crate) fn react(
        &mut self,
        actor: &Actor,
        id: &str,
        emoji: &str,
        add: bool,
    ) -> ApiResult<(Option<Value>, Value)> {
        let m = self.message_access(actor, id, "dms:write")?;
        let (ws, channel, seq, dm) = (
            m.workspace_id.clone(),
            m.channel_id.clone(),
            m.channel_seq,
            m.dm_id.clone(),
        );
        let vis = self.visibility_for(dm.as_deref());
        let Some(m) = self.messages.get_mut(id) else {
            return Err(Data::missing(actor));
        };
        let changed = if add {
            match m.reactions.iter_mut().find(|(e, _)| e == emoji) {
                Some((_, users)) if users.contains(&actor.user_id) => false,
                Some((_, users)) => {
                    users.push(actor.user_id.clone());
                    true
                }
                None => {
                    m.reactions
                        .push((emoji.to_owned(), vec![actor.user_id.clone()]));
                    true
                }
            }
        } else {
            match m.reactions.iter_mut().find(|(e, _)| e == emoji) {
                Some((_, users)) if users.contains(&actor.user_id) => {
                    users.retain(|u| u != &actor.user_id);
                    true
                }
                _ => false,
            }
        };
        let count = m
            .reactions
            .iter()
            .find(|(e, _)| e == emoji)
            .map(|(_, u)| u.len())
            .unwrap_or(0);
        m.reactions.retain(|(_, u)| !u.is_empty());
        let summary = m.reactions_json(&actor.user_id);
        let summary = self.list(summary);
        if !changed {
            return Ok((None, summary));
        }
        let mut payload = json!({
            "message_id": id,
            "emoji": emoji,
            "user_id": actor.user_id,
            "count": count,
        });
        if let Some(dm) = &dm {
            payload["direct_conversation_id"] = json!(dm);
        }
        let kind = if add {
            "reaction.added"
        } else {
            "reaction.removed"
        };
        let ev = self.append_event(&ws, kind, channel.as_deref(), seq, payload, vis);
        Ok((Some(ev.to_value()), summary))
    }
}

/// The zero-valued Event the server returns when a reaction already existed.
fn zero_event() -> Value {
    json!({
        "id": "",
        "cursor": "",
        "type": "",
        "workspace_id": "",
        "created_at": "",
        "payload": null,
    })
}

/// `POST /api/messages/{id}/reactions`.
pub(crate) async fn add_reaction(shared: &Shared, ctx: &mut Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:write")?;
    let input: ReactionInput = ctx.json().await?;
    let emoji = input.emoji.trim().to_owned();
    if emoji.is_empty() {
        return Err(ApiError::bad_request("emoji is required"));
    }
    let (ev, reactions) = shared.store.write(|d| d.react(&actor, id, &emoji, true))?;
    match ev {
        Some(ev) => created(json!({ "event": ev, "reactions": reactions })),
        None => ok(json!({ "event": zero_event(), "reactions": reactions })),
    }
}

/// `DELETE /api/messages/{id}/reactions/{emoji}`.
pub(crate) fn remove_reaction(
    shared: &Shared,
    ctx: &Ctx,
    id: &str,
    emoji: &str,
) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:write")?;
    let (ev, reactions) = shared.store.write(|d| d.react(&actor, id, emoji, false))?;
    ok(json!({ "event": ev.unwrap_or_else(zero_event), "reactions": reactions }))
}

#[derive(Debug, Deserialize)]
struct AttachInput {
    #[serde(default)]
    upload_id: String,
}

/// `POST /api/messages/{id}/attachments`.
pub(crate) async fn attach(shared: &Shared, ctx: &mut Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("uploads:write")?;
    actor.require_scope("messages:write")?;
    let input: AttachInput = ctx.json().await?;
    shared
        .store
        .write(|d| d.link_upload(&actor, id, &input.upload_id))?;
    ok(json!({ "ok": true }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(
        after: Option<i64>,
        before: Option<i64>,
        around: Option<i64>,
        latest: bool,
        limit: usize,
    ) -> PageReq {
        PageReq {
            after,
            before,
            around,
            latest,
            limit,
        }
    }

    #[test]
    fn windows() {
        assert_eq!(window(10, &req(Some(3), None, None, false, 3)), (3, 6));
        assert_eq!(window(10, &req(None, Some(3), None, false, 5)), (0, 2));
        assert_eq!(window(10, &req(None, None, Some(5), false, 3)), (3, 6));
        assert_eq!(window(10, &req(None, None, None, true, 2)), (8, 10));
        assert_eq!(window(10, &req(None, None, None, false, 4)), (0, 4));
        assert_eq!(window(0, &req(None, None, None, true, 4)), (0, 0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn window_is_in_bounds(
            n in 0usize..300,
            seq in 0i64..400,
            which in 0u8..5,
            limit in 1usize..201,
        ) {
            let r = match which {
                0 => req(Some(seq), None, None, false, limit),
                1 => req(None, Some(seq), None, false, limit),
                2 => req(None, None, Some(seq), false, limit),
                3 => req(None, None, None, true, limit),
                _ => req(None, None, None, false, limit),
            };
            let (start, end) = window(n, &r);
            prop_assert!(start <= end && end <= n);
            prop_assert!(end - start <= limit);
            if let Some(a) = r.after {
                prop_assert!(start as i64 >= a.min(n as i64));
            }
            if let Some(b) = r.before {
                prop_assert!((end as i64) < b.max(1));
            }
        }
    }
}
