//! HTTP handlers, one module per API area.

pub(crate) mod bots;
pub(crate) mod channels;
pub(crate) mod dms;
pub(crate) mod events;
pub(crate) mod messages;
pub(crate) mod profile;
pub(crate) mod routes;
pub(crate) mod uploads;

use crate::auth::{Actor, authenticate, bearer};
use crate::error::{ApiError, ApiResult};
use crate::http::Ctx;
use crate::server::Shared;

/// Resolves the caller of `ctx`.
pub(crate) fn auth(shared: &Shared, ctx: &Ctx) -> ApiResult<Actor> {
    let token = bearer(&ctx.headers);
    shared.store.read(|d| authenticate(d, token.as_deref()))
}

/// The `workspace_id` query parameter, with the server's errors when absent
/// (bots: 403 wrong workspace; humans: 400 `workspace_id is required`).
pub(crate) fn workspace_param(ctx: &Ctx, actor: &Actor) -> ApiResult<String> {
    match ctx.q("workspace_id") {
        Some(ws) => Ok(ws.to_owned()),
        None => {
            actor.require_workspace("")?;
            Err(ApiError::bad_request("workspace_id is required"))
        }
    }
}

/// The trimmed, non-empty `nonce` query parameter of the by-nonce lookups
/// (400 `nonce is required` otherwise).
pub(crate) fn nonce_param(ctx: &Ctx) -> ApiResult<String> {
    ctx.q("nonce")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("nonce is required"))
}

/// Parses an integer query parameter (`None` when absent).
pub(crate) fn int_param(ctx: &Ctx, name: &str) -> ApiResult<Option<i64>> {
    match ctx.q(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid {name}"))),
    }
}
