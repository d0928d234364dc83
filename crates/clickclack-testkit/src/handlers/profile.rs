//! `/api/me`, workspaces and members.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{auth, int_param};
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, ok};
use crate::server::Shared;

/// `GET /api/me`.
pub(crate) fn me(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("profile:read")?;
    let user = shared
        .store
        .read(|d| current_user_json(d, &actor.user_id))
        .ok_or_else(|| ApiError::unauthorized(crate::error::NO_ROWS))?;
    ok(json!({ "user": user }))
}

/// `GET /api/workspaces`.
pub(crate) fn list_workspaces(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("workspaces:read")?;
    let list: Value = shared.store.read(|d| {
        d.list(
            d.workspace_order
                .iter()
                .filter_map(|id| d.workspaces.get(id))
                .filter(|w| actor.require_workspace(&w.id).is_ok())
                .filter_map(|w| w.role_of(&actor.user_id).map(|r| w.to_json(Some(r))))
                .collect(),
        )
    });
    ok(json!({ "workspaces": list }))
}

/// `GET /api/workspaces/{id}`.
pub(crate) fn get_workspace(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("workspaces:read")?;
    let ws = shared.store.read(|d| {
        d.workspace_access(&actor, id)
            .map(|w| w.to_json(w.role_of(&actor.user_id)))
    })?;
    ok(json!({ "workspace": ws }))
}

/// `GET /api/workspaces/{id}/members` (offset cursor, `q`, `role`).
pub(crate) fn members(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("workspaces:read")?;
    let limit = int_param(ctx, "limit")?.unwrap_or(100).clamp(1, 200) as usize;
    let offset: usize = match ctx.q("cursor") {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::bad_request("invalid cursor"))?,
    };
    let q = ctx.q("q").map(str::to_lowercase);
    let role = ctx.q("role").map(str::to_owned);
    let body = shared.store.read(|d| -> ApiResult<Value> {
        let ws = d.workspace_access(&actor, id)?;
        let all: Vec<Value> = ws
            .members
            .iter()
            .filter(|(_, r)| role.as_deref().is_none_or(|want| want == r))
            .filter_map(|(u, r)| d.user(u).map(|u| (u, r)))
            .filter(|(u, _)| {
                q.as_deref().is_none_or(|q| {
                    u.handle.to_lowercase().contains(q) || u.display_name.to_lowercase().contains(q)
                })
            })
            .map(|(u, r)| {
                json!({
                    "user": u.to_json(),
                    "workspace_id": ws.id,
                    "role": r,
                    "joined_at": u.created_at,
                })
            })
            .collect();
        let total = all.len();
        let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
        let has_more = offset + page.len() < total;
        let mut out = json!({ "members": d.list(page), "has_more": has_more });
        if offset == 0 {
            out["total_count"] = json!(total);
        }
        if has_more {
            out["next_cursor"] = json!((offset + limit).to_string());
        }
        Ok(out)
    })?;
    ok(body)
}

/// The `/api/me` user payload: the user plus `password_enrolled` and, when
/// set, `appearance_preferences`.
fn current_user_json(d: &crate::store::Data, user_id: &str) -> Option<Value> {
    let u = d.user(user_id)?;
    let mut v = u.to_json();
    if let Value::Object(m) = &mut v {
        m.insert("password_enrolled".into(), json!(false));
        if let Some(a) = &u.appearance {
            m.insert("appearance_preferences".into(), a.clone());
        }
    }
    Some(v)
}

#[derive(Debug, Deserialize)]
struct UpdateMe {
    display_name: Option<String>,
    handle: Option<String>,
    avatar_url: Option<String>,
    appearance_preferences: Option<Map<String, Value>>,
}

/// True for a handle the server accepts: `[a-zA-Z0-9@][a-zA-Z0-9_-]{1,32}`.
fn valid_handle(h: &str) -> bool {
    let mut bytes = h.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || first == b'@')
        && (2..=33).contains(&h.len())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `PATCH /api/me` (humans; bots get 403 `bot tokens cannot update profiles`).
pub(crate) async fn update_me(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.deny_bot("bot tokens cannot update profiles")?;
    let input: UpdateMe = ctx.json().await?;
    let display_name = match &input.display_name {
        Some(n) if n.trim().is_empty() => {
            return Err(ApiError::bad_request("display name is required"));
        }
        Some(n) if n.trim().chars().count() > 80 => {
            return Err(ApiError::bad_request("display name is too long"));
        }
        n => n.as_deref().map(str::trim).map(str::to_owned),
    };
    let handle = match &input.handle {
        Some(h) if !valid_handle(h.trim()) => {
            return Err(ApiError::bad_request("invalid handle"));
        }
        h => h
            .as_deref()
            .map(|h| h.trim().trim_start_matches('@').to_ascii_lowercase()),
    };
    let body = shared.store.write(|d| -> ApiResult<Value> {
        if let Some(h) = &handle
            && d.users
                .values()
                .any(|u| &u.handle == h && u.id != actor.user_id)
        {
            return Err(ApiError::conflict("handle is already taken"));
        }
        let u = d
            .users
            .get_mut(&actor.user_id)
            .ok_or_else(|| ApiError::unauthorized(crate::error::NO_ROWS))?;
        if let Some(n) = display_name {
            u.display_name = n;
        }
        if let Some(h) = handle {
            u.handle = h;
        }
        if let Some(a) = &input.avatar_url {
            u.avatar_url = a.trim().to_owned();
        }
        if let Some(patch) = &input.appearance_preferences {
            let mut current = match u.appearance.take() {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            for (k, v) in patch {
                match v.as_str() {
                    Some("") | None => {
                        current.remove(k);
                    }
                    Some(s) => {
                        current.insert(k.clone(), json!(s));
                    }
                }
            }
            u.appearance = (!current.is_empty()).then_some(Value::Object(current));
        }
        Ok(json!({ "user": current_user_json(d, &actor.user_id) }))
    })?;
    ok(body)
}

#[derive(Debug, Deserialize)]
struct CreateWorkspace {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
}

/// `POST /api/workspaces` (humans; bots get 403): 201 `{"workspace"}` with
/// the caller as `owner` and a `#general` channel.
pub(crate) async fn create_workspace(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.deny_bot("bot tokens cannot create workspaces")?;
    let input: CreateWorkspace = ctx.json().await?;
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::bad_request("workspace name is required"));
    }
    let wanted = clickclack_proto::slugify(if input.slug.trim().is_empty() {
        &name
    } else {
        &input.slug
    });
    let body = shared.store.write(|d| -> ApiResult<Value> {
        if !input.slug.trim().is_empty() && d.workspaces.values().any(|w| w.slug == wanted) {
            return Err(ApiError::bad_request("workspace slug is already taken"));
        }
        let id = d.admin_create_workspace(&name);
        if let Some(w) = d.workspaces.get_mut(&id) {
            if !input.slug.trim().is_empty() {
                w.slug = wanted.clone();
            }
            w.members.push((actor.user_id.clone(), "owner".into()));
        }
        d.create_channel(&actor, &id, "general")?;
        Ok(json!({
            "workspace": d.workspaces.get(&id).map(|w| w.to_json(Some("owner")))
        }))
    })?;
    crate::http::created(body)
}
