//! `/api/me`, workspaces and members.

use serde_json::{Value, json};

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
        .read(|d| d.user(&actor.user_id).map(|u| u.to_json()));
    let mut user = user.ok_or_else(|| ApiError::unauthorized(crate::error::NO_ROWS))?;
    if let Value::Object(m) = &mut user {
        m.insert("password_enrolled".into(), json!(false));
    }
    ok(json!({ "user": user }))
}

/// `GET /api/workspaces`.
pub(crate) fn list_workspaces(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("workspaces:read")?;
    let list: Vec<Value> = shared.store.read(|d| {
        d.workspace_order
            .iter()
            .filter_map(|id| d.workspaces.get(id))
            .filter(|w| actor.require_workspace(&w.id).is_ok())
            .filter_map(|w| w.role_of(&actor.user_id).map(|r| w.to_json(Some(r))))
            .collect()
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
        let mut out = json!({ "members": page, "has_more": has_more });
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
