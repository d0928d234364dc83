//! The loopback-only HTTP admin API used by `clickclack-dev admin …`
//! (served only by servers started with it enabled).

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::admin::{BotSpec, SetupCodeSpec};
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, json_response, ok};
use crate::hub::{Kill, TOKEN_REVOKED_REASON};
use crate::server::Shared;

#[derive(Debug, Deserialize)]
struct BotInput {
    workspace: String,
    name: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    owner: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SetupCodeHttp {
    workspace: String,
    bot: String,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    defaults: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct UserInput {
    name: String,
    #[serde(default)]
    workspace: Option<String>,
}

/// Routes `/admin/*`.
pub(crate) async fn route(shared: &Shared, ctx: &mut Ctx, rest: &[String]) -> ApiResult<Resp> {
    if !ctx.peer.ip().is_loopback() {
        return Err(ApiError::forbidden("admin API is loopback-only"));
    }
    let post = ctx.method == http::Method::POST;
    let parts: Vec<&str> = rest.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["bots"] if post => {
            let input: BotInput = ctx.json().await?;
            let spec = BotSpec {
                workspace: input.workspace.as_str().into(),
                name: input.name,
                handle: input.handle,
                scopes: input.scopes,
                owner: input.owner.filter(|o| !o.is_empty()).map(Into::into),
            };
            let body = shared.store.write(|d| {
                let (bot, token_id, raw) = d
                    .admin_create_bot(&spec)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Ok::<_, ApiError>(d.bot_create_json(&bot, &token_id, &raw))
            })?;
            Ok(json_response(StatusCode::CREATED, &body))
        }
        ["users"] if post => {
            let input: UserInput = ctx.json().await?;
            let wanted = input.workspace.unwrap_or_else(|| "default".into());
            let body = shared.store.write(|d| {
                let ws = d
                    .resolve_workspace(&wanted)
                    .ok_or_else(|| ApiError::bad_request(format!("unknown workspace {wanted}")))?;
                let (id, token) = d
                    .admin_create_user(&ws, &input.name)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Ok::<_, ApiError>(json!({
                    "user": d.user(&id).map(|u| u.to_json()),
                    "session_token": token,
                }))
            })?;
            Ok(json_response(StatusCode::CREATED, &body))
        }
        ["setup-codes"] if post => {
            let input: SetupCodeHttp = ctx.json().await?;
            let spec = SetupCodeSpec {
                workspace: input.workspace.as_str().into(),
                bot: input.bot.as_str().into(),
                created_by: input.created_by.filter(|c| !c.is_empty()).map(Into::into),
                token_name: input.name,
                scopes: input.scopes,
                defaults: input.defaults,
            };
            let base = format!("http://{}", shared.local_addr);
            let code = shared
                .store
                .write(|d| d.admin_setup_code(&spec, &base))
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({ "setup_code": code.json }),
            ))
        }
        ["tokens", id, "revoke"] if post => {
            let known = shared.store.write(|d| d.admin_revoke_token(id));
            if !known {
                return Err(ApiError::not_found("bot token not found"));
            }
            shared
                .store
                .hub
                .kill_credential(id, Kill::Close(1008, TOKEN_REVOKED_REASON.to_owned()));
            ok(json!({ "ok": true }))
        }
        _ => Err(ApiError::route_not_found()),
    }
}
