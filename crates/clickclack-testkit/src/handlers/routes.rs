//! Public route ids: `GET /api/routes/{workspace_route_id}/{target_route_id}`
//! and `POST /api/messages/{id}/route` (protocol.md §1).
//!
//! Workspaces, channels and DMs get a 17-char route id when created; a root
//! message gets one on its first thread reply or when a client asks for it
//! with `POST /api/messages/{id}/route`. Resolution accepts route ids or the
//! legacy `wsp_`/`chn_`/`dm_`/`msg_` ids; every miss or inaccessible target is
//! the same 404 `route not found`, except a bot's missing scope (403) and a
//! target in another workspace than the token's (403).

use serde_json::{Map, Value, json};

use super::auth;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, ok};
use crate::ids::route_id;
use crate::server::Shared;
use crate::store::Data;
use crate::store::records::WorkspaceRec;

fn not_found() -> ApiError {
    ApiError::route_not_found()
}

fn is_legacy(v: &str) -> bool {
    ["wsp_", "chn_", "dm_", "msg_"]
        .iter()
        .any(|p| v.starts_with(p))
}

/// The scope a bot needs for a target, from its prefix.
fn scope_for(target: &str) -> Option<&'static str> {
    if target.starts_with('C') || target.starts_with("chn_") {
        Some("channels:read")
    } else if target.starts_with('D') || target.starts_with("dm_") {
        Some("dms:read")
    } else if target.starts_with('M') || target.starts_with("msg_") {
        Some("threads:read")
    } else {
        None
    }
}

fn canonical_path(ws_route: &str, target_route: &str) -> String {
    let esc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!("/app/{}/{}", esc(ws_route), esc(target_route))
}

impl Data {
    fn route_workspace(&self, actor: &Actor, ws: &str, legacy: bool) -> Option<&WorkspaceRec> {
        let w = if legacy {
            self.workspaces.get(ws)
        } else {
            self.workspaces.values().find(|w| w.route_id == ws)
        }?;
        w.role_of(&actor.user_id).map(|_| w)
    }

    /// Resolves a route for `actor` (`None` = 404).
    fn resolve_route(&mut self, actor: &Actor, ws: &str, target: &str) -> Option<Value> {
        let legacy = is_legacy(ws) || is_legacy(target);
        let w = self.route_workspace(actor, ws.trim(), legacy)?.clone();
        let target = target.trim();
        let mut out = Map::new();
        out.insert("workspace_id".into(), json!(w.id));
        out.insert("workspace_route_id".into(), json!(w.route_id));
        let (kind, id, route) = if (legacy && target.starts_with("chn_"))
            || (!legacy && target.starts_with('C'))
        {
            let ch = self.channels.values().find(|c| {
                c.workspace_id == w.id
                    && if legacy {
                        c.id == target
                    } else {
                        c.route_id == target
                    }
            })?;
            ("channel", ch.id.clone(), ch.route_id.clone())
        } else if (legacy && target.starts_with("dm_")) || (!legacy && target.starts_with('D')) {
            let dm = self.dms.values().find(|d| {
                d.workspace_id == w.id
                    && d.members.contains(&actor.user_id)
                    && if legacy {
                        d.id == target
                    } else {
                        d.route_id == target
                    }
            })?;
            ("direct", dm.id.clone(), dm.route_id.clone())
        } else if (legacy && target.starts_with("msg_")) || (!legacy && target.starts_with('M')) {
            let root_id = self
                .messages
                .values()
                .find(|m| {
                    m.workspace_id == w.id
                        && m.is_root()
                        && if legacy {
                            m.id == target
                        } else {
                            m.route_id.as_deref() == Some(target)
                        }
                })?
                .id
                .clone();
            if self.message_access(actor, &root_id, "dms:read").is_err() {
                return None;
            }
            // A legacy thread lookup gives the root its route id.
            let root = self.messages.get_mut(&root_id)?;
            if legacy {
                root.route_id.get_or_insert_with(|| route_id('M'));
            }
            let root = self.messages.get(&root_id)?;
            let (parent_type, parent_id, parent_route) = match (&root.channel_id, &root.dm_id) {
                (Some(c), _) => ("channel", c.clone(), self.channels.get(c)?.route_id.clone()),
                (None, Some(d)) => ("direct", d.clone(), self.dms.get(d)?.route_id.clone()),
                (None, None) => return None,
            };
            out.insert("parent_type".into(), json!(parent_type));
            out.insert("parent_id".into(), json!(parent_id));
            out.insert("parent_route_id".into(), json!(parent_route));
            ("thread", root.id.clone(), root.route_id.clone()?)
        } else {
            return None;
        };
        out.insert("target_type".into(), json!(kind));
        out.insert("target_id".into(), json!(id));
        out.insert(
            "canonical_path".into(),
            json!(canonical_path(&w.route_id, &route)),
        );
        out.insert("target_route_id".into(), json!(route));
        Some(Value::Object(out))
    }
}

/// `GET /api/routes/{workspace_route_id}/{target_route_id}`.
pub(crate) fn resolve(shared: &Shared, ctx: &Ctx, ws: &str, target: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    let scope = scope_for(target).ok_or_else(not_found)?;
    actor.require_scope(scope)?;
    let route = shared
        .store
        .write(|d| d.resolve_route(&actor, ws, target))
        .ok_or_else(not_found)?;
    actor.require_workspace(route["workspace_id"].as_str().unwrap_or(""))?;
    let kind_scope = match route["target_type"].as_str() {
        Some("channel") => "channels:read",
        Some("direct") => "dms:read",
        _ => "threads:read",
    };
    if kind_scope != scope {
        return Err(not_found());
    }
    ok(json!({ "route": route }))
}

/// `POST /api/messages/{id}/route`: gives a root message its route id (if
/// it has none yet) and answers `{"message": …}`.
pub(crate) fn ensure_message_route(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("threads:read")?;
    let msg = shared.store.write(|d| -> ApiResult<Value> {
        match d.message_access(&actor, id, "dms:read") {
            Ok(_) => {}
            // Humans: every miss is 404 `message not found`; bots keep the
            // resource check's 403.
            Err(e) if actor.is_bot() => return Err(e),
            Err(_) => return Err(ApiError::not_found("message not found")),
        }
        let m = d
            .messages
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("message not found"))?;
        if !m.is_root() {
            return Err(ApiError::bad_request("thread root must be a root message"));
        }
        m.route_id.get_or_insert_with(|| route_id('M'));
        let m = d
            .messages
            .get(id)
            .ok_or_else(|| ApiError::not_found("message not found"))?;
        Ok(d.message_json(m, &actor.user_id))
    })?;
    ok(json!({ "message": msg }))
}
