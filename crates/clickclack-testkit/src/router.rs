//! Path routing: method + path segments → handler.

use http::Method;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::handlers::{bots, channels, dms, events, messages, profile, routes, uploads};
use crate::http::{Ctx, Resp, decode_segment, ok};
use crate::server::Shared;
use crate::store::messages::Target;

/// True for the realtime WebSocket route (handled before body routing).
pub(crate) fn is_realtime_ws(method: &Method, path: &str) -> bool {
    method == Method::GET && path == "/api/realtime/ws"
}

/// Routes one non-WebSocket request.
pub(crate) async fn route(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let segs: Vec<String> = ctx
        .path
        .trim_start_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = ctx.method.clone();
    let get = m == Method::GET;
    match s.as_slice() {
        ["healthz"] if get || m == Method::HEAD => ok(json!({ "status": "ok" })),
        ["readyz"] if get || m == Method::HEAD => ok(json!({ "status": "ready" })),
        ["admin", rest @ ..] if shared.admin_http => {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            crate::admin_http::route(shared, ctx, &rest).await
        }
        ["api", rest @ ..] => api(shared, ctx, &m, rest).await,
        _ => Err(ApiError::route_not_found()),
    }
}

async fn api(shared: &Shared, ctx: &mut Ctx, m: &Method, rest: &[&str]) -> ApiResult<Resp> {
    let (get, post, patch, delete, put) = (
        m == Method::GET,
        m == Method::POST,
        m == Method::PATCH,
        m == Method::DELETE,
        m == Method::PUT,
    );
    match rest {
        ["me"] if get => profile::me(shared, ctx),
        ["me"] if patch => profile::update_me(shared, ctx).await,
        ["me", "bots"] if get => bots::my_bots(shared, ctx),
        ["workspaces"] if get => profile::list_workspaces(shared, ctx),
        ["workspaces"] if post => profile::create_workspace(shared, ctx).await,
        ["workspaces", id] if get => profile::get_workspace(shared, ctx, id),
        ["workspaces", id, "members"] if get => profile::members(shared, ctx, id),
        ["workspaces", id, "channels"] if get => channels::list(shared, ctx, id),
        ["workspaces", id, "channels"] if post => channels::create(shared, ctx, id).await,
        ["workspaces", id, "bot-commands"] if get => events::workspace_commands(shared, ctx, id),
        ["workspaces", id, "topics"] if get => channels::list_topics(shared, ctx, id),
        ["workspaces", id, "topics"] if post => channels::create_topic(shared, ctx, id).await,
        ["workspaces", ws, "bots", bot, "setup-codes"] if post => {
            bots::create_setup_code(shared, ctx, ws, bot).await
        }
        ["bot-setup-codes", "claim"] if post => bots::claim_setup_code(shared, ctx).await,
        ["routes", ws, target] if get => routes::resolve(shared, ctx, ws, target),
        ["workspaces", _, "bots", ..] | ["bots", "setup-codes", ..] => {
            bot_forbidden(shared, ctx, "bot tokens cannot manage bots")
        }
        ["bot-tokens", _, "revoke"] if post => {
            bot_forbidden(shared, ctx, "bot tokens cannot revoke bot tokens")
        }
        ["channels", id] if patch => channels::patch(shared, ctx, id).await,
        ["channels", id, "messages"] if get => {
            messages::list(shared, ctx, &Target::Channel((*id).to_owned()))
        }
        ["channels", id, "messages"] if post => {
            messages::create(shared, ctx, &Target::Channel((*id).to_owned())).await
        }
        ["channels", id, "read"] if post => channels::read(shared, ctx, id).await,
        ["messages", "by-nonce"] if get => messages::by_nonce(shared, ctx),
        ["messages", id] if get => messages::get(shared, ctx, id),
        ["messages", id] if patch => messages::patch(shared, ctx, id).await,
        ["messages", id] if delete => messages::delete(shared, ctx, id),
        ["messages", id, "thread"] if get => messages::thread(shared, ctx, id),
        ["messages", id, "thread", "replies"] if post => {
            messages::create(shared, ctx, &Target::Thread((*id).to_owned())).await
        }
        ["messages", id, "reactions"] if post => messages::add_reaction(shared, ctx, id).await,
        ["messages", id, "reactions", emoji] if delete => {
            messages::remove_reaction(shared, ctx, id, emoji)
        }
        ["messages", id, "attachments"] if post => messages::attach(shared, ctx, id).await,
        ["messages", id, "route"] if post => routes::ensure_message_route(shared, ctx, id),
        ["dms"] if get => dms::list(shared, ctx),
        ["dms"] if post => dms::create(shared, ctx).await,
        ["dms", id] if get => dms::get(shared, ctx, id),
        ["dms", id] if delete => dms::hide(shared, ctx, id),
        ["dms", id, "open"] if post => dms::reopen(shared, ctx, id),
        ["dms", id, "messages"] if get => {
            messages::list(shared, ctx, &Target::Dm((*id).to_owned()))
        }
        ["dms", id, "messages"] if post => {
            messages::create(shared, ctx, &Target::Dm((*id).to_owned())).await
        }
        ["dms", id, "read"] if post => dms::read(shared, ctx, id).await,
        ["uploads"] if post => uploads::create(shared, ctx).await,
        ["uploads", "by-nonce"] if get => uploads::by_nonce(shared, ctx),
        ["uploads", id] if get => uploads::download(shared, ctx, id),
        ["realtime", "events"] if get => events::list(shared, ctx),
        ["realtime", "ephemeral"] if post => events::ephemeral(shared, ctx).await,
        ["bots", "self", "commands"] if put => events::set_commands(shared, ctx).await,
        ["event-types"] if get => events::event_types(),
        ["search"] if get => events::search(shared, ctx),
        _ => Err(ApiError::route_not_found()),
    }
}

fn bot_forbidden(shared: &Shared, ctx: &Ctx, message: &str) -> ApiResult<Resp> {
    let actor = crate::handlers::auth(shared, ctx)?;
    actor.deny_bot(message)?;
    Err(ApiError::forbidden(
        "this endpoint is not implemented by clickclack-testkit for humans",
    ))
}
