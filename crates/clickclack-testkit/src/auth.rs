//! Caller resolution (protocol.md §2) and scope / workspace checks (§3).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult, NO_ROWS};
use crate::store::Data;

/// The bot-token part of an actor.
#[derive(Debug, Clone)]
pub(crate) struct BotAuth {
    pub(crate) workspace_id: String,
    pub(crate) scopes: Vec<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub(crate) user_id: String,
    pub(crate) bot: Option<BotAuth>,
    /// Token id (bots) or session key; used to close sockets on revoke.
    pub(crate) credential_id: String,
    /// Set when the credential is revoked.
    pub(crate) revoked: Arc<AtomicBool>,
}

impl Actor {
    /// True for bot-token callers.
    pub(crate) fn is_bot(&self) -> bool {
        self.bot.is_some()
    }

    /// 403 `bot token is missing scope <scope>` unless granted (humans pass).
    pub(crate) fn require_scope(&self, scope: &str) -> ApiResult<()> {
        match &self.bot {
            Some(bot) if !bot.scopes.iter().any(|s| s == scope) => Err(ApiError::forbidden(
                format!("bot token is missing scope {scope}"),
            )),
            _ => Ok(()),
        }
    }

    /// 403 `bot token cannot access this workspace` for a foreign workspace.
    pub(crate) fn require_workspace(&self, workspace_id: &str) -> ApiResult<()> {
        match &self.bot {
            Some(bot) if bot.workspace_id != workspace_id => Err(ApiError::forbidden(
                "bot token cannot access this workspace",
            )),
            _ => Ok(()),
        }
    }

    /// 403 with `message` for bot callers (bot-forbidden endpoints).
    pub(crate) fn deny_bot(&self, message: &str) -> ApiResult<()> {
        if self.is_bot() {
            Err(ApiError::forbidden(message))
        } else {
            Ok(())
        }
    }

    /// True once the credential was revoked.
    pub(crate) fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }
}

/// SHA-256 hex of a raw token.
pub(crate) fn token_hash(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// The Bearer token in `Authorization`, if any (exact `"Bearer "` prefix).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// Resolves the caller from a raw bearer token (`None` = no credentials).
pub(crate) fn authenticate(data: &Data, token: Option<&str>) -> ApiResult<Actor> {
    let Some(token) = token else {
        return Err(ApiError::unauthorized("authentication required"));
    };
    if token.starts_with("ccb_")
        && let Some(rec) = data.tokens.get(&token_hash(token))
        && !rec.revoked.load(Ordering::Acquire)
    {
        return Ok(Actor {
            user_id: rec.bot_user_id.clone(),
            bot: Some(BotAuth {
                workspace_id: rec.workspace_id.clone(),
                scopes: rec.scopes.clone(),
            }),
            credential_id: rec.id.clone(),
            revoked: rec.revoked.clone(),
        });
    }
    match data.sessions.get(token) {
        Some(s) if !s.revoked.load(Ordering::Acquire) => Ok(Actor {
            user_id: s.user_id.clone(),
            bot: None,
            credential_id: format!("session:{}", token_hash(token)),
            revoked: s.revoked.clone(),
        }),
        _ => Err(ApiError::unauthorized(NO_ROWS)),
    }
}
