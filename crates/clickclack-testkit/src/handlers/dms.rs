//! Direct conversations: list, create-or-reuse, get, read pointer.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{auth, workspace_param};
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, created, ok};
use crate::ids::{now_rfc3339, route_id};
use crate::server::Shared;
use crate::store::Data;
use crate::store::records::DmRec;

/// `GET /api/dms?workspace_id=`.
pub(crate) fn list(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("dms:read")?;
    let ws = workspace_param(ctx, &actor)?;
    let list = shared.store.read(|d| -> ApiResult<Value> {
        d.workspace_access(&actor, &ws)?;
        let mut dms: Vec<&DmRec> = d
            .dms
            .values()
            .filter(|dm| dm.workspace_id == ws && dm.members.contains(&actor.user_id))
            .filter(|dm| !dm.hidden_by.contains(&actor.user_id))
            .collect();
        dms.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(d.list(
            dms.into_iter()
                .map(|dm| d.dm_json(dm, &actor.user_id))
                .collect(),
        ))
    })?;
    ok(json!({ "conversations": list }))
}

#[derive(Debug, Deserialize)]
struct CreateInput {
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    member_ids: Vec<String>,
}

impl Data {
    /// Finds or creates the DM of `actor` with `member_ids`.
    pub(crate) fn open_dm(
        &mut self,
        actor: &Actor,
        ws: &str,
        member_ids: &[String],
    ) -> ApiResult<String> {
        if ws.is_empty() {
            actor.require_workspace("")?;
            return Err(ApiError::bad_request("workspace_id is required"));
        }
        let w = self.workspace_access(actor, ws)?;
        let mut members = vec![actor.user_id.clone()];
        for m in member_ids {
            let m = m.trim();
            if m.is_empty() || members.iter().any(|x| x == m) {
                continue;
            }
            if w.role_of(m).is_none() {
                // A store miss through writeStoreError: 400 for everyone.
                return Err(ApiError::bad_request(crate::error::NO_ROWS));
            }
            members.push(m.to_owned());
        }
        if members.len() < 2 {
            return Err(ApiError::bad_request("member_ids must name another member"));
        }
        if members.len() > 32 {
            return Err(ApiError::bad_request(
                "too many direct conversation members",
            ));
        }
        let mut key = members.clone();
        key.sort();
        if let Some(existing) = self.dms.values().find(|dm| {
            dm.workspace_id == ws && {
                let mut k = dm.members.clone();
                k.sort();
                k == key
            }
        }) {
            let id = existing.id.clone();
            if let Some(dm) = self.dms.get_mut(&id) {
                dm.hidden_by.retain(|u| u != &actor.user_id);
            }
            return Ok(id);
        }
        let id = self.ids.next("dm");
        self.dms.insert(
            id.clone(),
            DmRec {
                id: id.clone(),
                route_id: route_id('D'),
                workspace_id: ws.to_owned(),
                created_at: now_rfc3339(),
                members,
                roots: Vec::new(),
                hidden_by: Vec::new(),
            },
        );
        Ok(id)
    }
}

/// `POST /api/dms` (create-or-reuse; always 201).
pub(crate) async fn create(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    // The server decodes the body before checking the scope.
    let input: CreateInput = ctx.json().await?;
    actor.require_scope("dms:write")?;
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let id = d.open_dm(&actor, &input.workspace_id, &input.member_ids)?;
        let dm = d.dms.get(&id).map(|dm| d.dm_json(dm, &actor.user_id));
        Ok(json!({ "conversation": dm }))
    })?;
    created(body)
}

/// `GET /api/dms/{id}`.
pub(crate) fn get(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("dms:read")?;
    let dm = shared.store.read(|d| {
        d.dm_access(&actor, id)
            .map(|dm| d.dm_json(dm, &actor.user_id))
    })?;
    ok(json!({ "conversation": dm }))
}

#[derive(Debug, Deserialize)]
struct ReadInput {
    #[serde(default)]
    seq: i64,
}

/// `POST /api/dms/{id}/read`.
pub(crate) async fn read(shared: &Shared, ctx: &mut Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("dms:read")?;
    let input: ReadInput = ctx.json().await?;
    if input.seq < 0 {
        return Err(ApiError::bad_request("seq must be non-negative"));
    }
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let ws = d.dm_access(&actor, id)?.workspace_id.clone();
        Ok(d.mark_read(&actor, &ws, id, true, input.seq))
    })?;
    ok(body)
}

/// `DELETE /api/dms/{id}`: hides the conversation for a human caller
/// (`{"ok": true}`); bots get 403.
pub(crate) fn hide(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.deny_bot("bot tokens cannot close direct conversations")?;
    shared.store.write(|d| -> ApiResult<()> {
        d.dm_access(&actor, id)?;
        if let Some(dm) = d.dms.get_mut(id)
            && !dm.hidden_by.contains(&actor.user_id)
        {
            dm.hidden_by.push(actor.user_id.clone());
        }
        Ok(())
    })?;
    ok(json!({ "ok": true }))
}

/// `POST /api/dms/{id}/open`: un-hides the conversation for a human caller
/// and answers `{"conversation": …}`; bots get 403.
pub(crate) fn reopen(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.deny_bot("bot tokens cannot reopen direct conversations")?;
    let dm = shared.store.write(|d| -> ApiResult<Value> {
        d.dm_access(&actor, id)?;
        if let Some(dm) = d.dms.get_mut(id) {
            dm.hidden_by.retain(|u| u != &actor.user_id);
        }
        Ok(d.dms
            .get(id)
            .map(|dm| d.dm_json(dm, &actor.user_id))
            .unwrap_or(Value::Null))
    })?;
    ok(json!({ "conversation": dm }))
}
