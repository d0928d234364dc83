//! Bot setup codes (mint and claim) and `GET /api/me/bots`.
//!
//! A setup code is a deferred token grant: an owner mints one for a bot
//! (`POST /api/workspaces/{w}/bots/{b}/setup-codes`, the admin API, or
//! `clickclack-dev admin setup-code create`), and an installer exchanges it,
//! unauthenticated, at `POST /api/bot-setup-codes/claim` for a fresh bot
//! token. Like the server: codes are `XXXX-XXXX-XXXX` in a Crockford-style
//! alphabet, stored only by hash, valid for 10 minutes, single use, and a
//! re-mint for the same bot and token name replaces the pending code; every
//! unusable code (malformed, unknown, expired, claimed, bot gone) answers the
//! same 404; claims are limited to 10 a minute per client address (429).

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::auth;
use crate::error::{ApiError, ApiResult, NO_ROWS};
use crate::http::{Ctx, Resp, created, ok};
use crate::ids::now_rfc3339;
use crate::server::Shared;
use crate::store::Data;
use crate::store::records::SetupCodeRec;

/// How long a pending code can be claimed.
pub(crate) const SETUP_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// The code alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code, without separators.
const CODE_LEN: usize = 12;
/// Claims allowed per client address per minute.
const CLAIMS_PER_MINUTE: usize = 10;
/// The uniform error for every unusable code.
pub(crate) const SETUP_CODE_INVALID: &str = "setup code is invalid or expired";

/// What a setup code grants, as the mint request gives it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SetupCodeInput {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) scopes: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) defaults: Option<Value>,
}

/// A fresh random code, `XXXX-XXXX-XXXX`.
fn new_code() -> String {
    let mut out = String::with_capacity(CODE_LEN + 2);
    for i in 0..CODE_LEN {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[fastrand::usize(..32)] as char);
    }
    out
}

/// Upper-cases, drops `-` and spaces, and checks length and alphabet.
pub(crate) fn normalize_code(code: &str) -> Option<String> {
    let code: String = code
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn hash_code(normalized: &str) -> String {
    hex::encode(Sha256::digest(
        format!("bot-setup-code:{normalized}").as_bytes(),
    ))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

fn check_default(name: &str, value: &str) -> ApiResult<()> {
    if value.contains('\0') {
        return Err(bad(format!("{name} must not contain NUL")));
    }
    if value.chars().count() > 256 {
        return Err(bad(format!("{name} is too long")));
    }
    Ok(())
}

/// Validates and normalizes the `defaults` object (`defaultTo`, `allowFrom`,
/// `agentActivity`; empty ones are omitted like Go's `omitempty`).
fn normalize_defaults(defaults: Option<&Value>, scopes: &[String]) -> ApiResult<Value> {
    let mut out = Map::new();
    let Some(defaults) = defaults.filter(|d| !d.is_null()) else {
        return Ok(Value::Object(out));
    };
    let Some(obj) = defaults.as_object() else {
        return Err(bad(
            "json: cannot unmarshal defaults into Go struct field of type store.BotSetupCodeDefaults",
        ));
    };
    match obj.get("defaultTo") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) => {
            let v = v.trim();
            check_default("defaultTo", v)?;
            if !v.is_empty() {
                out.insert("defaultTo".into(), json!(v));
            }
        }
        Some(_) => return Err(bad("defaults.defaultTo must be a string")),
    }
    match obj.get("allowFrom") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            if list.len() > 500 {
                return Err(bad("defaults.allowFrom has too many entries"));
            }
            let mut seen: Vec<String> = Vec::new();
            for v in list {
                let Some(v) = v.as_str().map(str::trim) else {
                    return Err(bad("defaults.allowFrom entries must be strings"));
                };
                if v.is_empty() {
                    return Err(bad("defaults.allowFrom entries must not be empty"));
                }
                check_default("defaults.allowFrom entry", v)?;
                if !seen.iter().any(|s| s == v) {
                    seen.push(v.to_owned());
                }
            }
            if !seen.is_empty() {
                out.insert("allowFrom".into(), json!(seen));
            }
        }
        Some(_) => return Err(bad("defaults.allowFrom must be a list")),
    }
    match obj.get("agentActivity") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(on)) => {
            if *on && !scopes.iter().any(|s| s == "agent_activity:write") {
                return Err(bad("defaults.agentActivity requires agent_activity:write"));
            }
            out.insert("agentActivity".into(), json!(on));
        }
        Some(_) => return Err(bad("defaults.agentActivity must be a boolean")),
    }
    Ok(Value::Object(out))
}

impl Data {
    /// Mints a setup code for `bot_id` in `ws` on behalf of `created_by`;
    /// returns the record's index and the raw code.
    pub(crate) fn mint_setup_code(
        &mut self,
        ws: &str,
        bot_id: &str,
        created_by: &str,
        input: &SetupCodeInput,
    ) -> ApiResult<(usize, String)> {
        let ws = ws.trim();
        let bot_id = bot_id.trim();
        if bot_id.is_empty() {
            return Err(bad("bot_user_id is required"));
        }
        if ws.is_empty() {
            return Err(bad("workspace_id is required"));
        }
        let token_name = match input.name.trim() {
            "" => "default".to_owned(),
            n => n.to_owned(),
        };
        let scopes = clickclack_proto::expand_scopes(input.scopes.iter().flatten())
            .map_err(|e| bad(e.to_string()))?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let defaults = normalize_defaults(input.defaults.as_ref(), &scopes)?;
        let bot = self
            .users
            .get(bot_id)
            .filter(|u| u.bot)
            .ok_or_else(|| bad(NO_ROWS))?;
        let w = self.workspaces.get(ws).ok_or_else(|| bad(NO_ROWS))?;
        if w.role_of(bot_id).is_none() {
            return Err(bad(NO_ROWS));
        }
        match &bot.owner_user_id {
            Some(owner) => {
                if owner != created_by {
                    return Err(ApiError::forbidden(
                        "only the bot owner can manage this bot",
                    ));
                }
                if w.role_of(owner).is_none() {
                    return Err(ApiError::forbidden("bot owner must be a workspace member"));
                }
            }
            None => {
                if !matches!(w.role_of(created_by), Some("owner" | "moderator")) {
                    return Err(ApiError::forbidden("workspace manager permission required"));
                }
            }
        }
        let now = Instant::now();
        self.setup_codes.retain(|c| {
            c.expires > now
                && !(c.workspace_id == ws
                    && c.bot_user_id == bot_id
                    && c.token_name == token_name
                    && !c.claimed)
        });
        let code = new_code();
        let rec = SetupCodeRec {
            id: self.ids.next("bsc"),
            code_hash: hash_code(&code.replace('-', "")),
            workspace_id: ws.to_owned(),
            bot_user_id: bot_id.to_owned(),
            token_name,
            scopes,
            defaults,
            created_by: created_by.to_owned(),
            created_at: now_rfc3339(),
            expires_at: crate::ids::rfc3339_in(SETUP_CODE_TTL),
            expires: now + SETUP_CODE_TTL,
            claimed: false,
        };
        self.setup_codes.push(rec);
        Ok((self.setup_codes.len() - 1, code))
    }

    /// Claims `code`: mints the bot token and returns the claim body.
    pub(crate) fn claim_setup_code(&mut self, code: &str, api_base_url: &str) -> ApiResult<Value> {
        let invalid = || ApiError::not_found(SETUP_CODE_INVALID);
        let normalized = normalize_code(code).ok_or_else(invalid)?;
        let hash = hash_code(&normalized);
        let now = Instant::now();
        let idx = self
            .setup_codes
            .iter()
            .position(|c| c.code_hash == hash)
            .ok_or_else(invalid)?;
        let rec = self.setup_codes[idx].clone();
        if rec.claimed || rec.expires <= now {
            return Err(invalid());
        }
        let bot = self
            .users
            .get(&rec.bot_user_id)
            .filter(|u| u.bot)
            .cloned()
            .ok_or_else(invalid)?;
        let ws = self
            .workspaces
            .get(&rec.workspace_id)
            .filter(|w| w.role_of(&bot.id).is_some())
            .cloned()
            .ok_or_else(invalid)?;
        let (_, raw) = self.issue_token(
            &bot.id,
            &ws.id,
            bot.owner_user_id.clone(),
            &rec.token_name,
            rec.scopes.clone(),
            Some(rec.created_by.clone()),
        );
        self.setup_codes[idx].claimed = true;
        let mut defaults = rec.defaults.clone();
        if defaults.get("defaultTo").is_none()
            && let Some(name) = self.default_channel_name(&ws.id)
            && let Value::Object(m) = &mut defaults
        {
            m.insert("defaultTo".into(), json!(format!("channel:{name}")));
        }
        Ok(json!({
            "token": raw,
            "bot": { "id": bot.id, "handle": bot.handle, "display_name": bot.display_name },
            "workspace": { "id": ws.id, "route_id": ws.route_id, "slug": ws.slug, "name": ws.name },
            "defaults": defaults,
            "contract_version": 1,
            "api_base_url": api_base_url,
        }))
    }

    /// `#general` if present, else the oldest unarchived channel.
    fn default_channel_name(&self, ws: &str) -> Option<String> {
        let w = self.workspaces.get(ws)?;
        let live: Vec<&crate::store::records::ChannelRec> = w
            .channels
            .iter()
            .filter_map(|c| self.channels.get(c))
            .filter(|c| c.archived_at.is_none())
            .collect();
        live.iter()
            .find(|c| c.name == "general")
            .or_else(|| live.first())
            .map(|c| c.name.clone())
    }

    /// Records one claim attempt from `ip`; false when over the limit.
    fn allow_claim(&mut self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let window = Duration::from_secs(60);
        let attempts = self.claim_attempts.entry(ip).or_default();
        attempts.retain(|t| now.duration_since(*t) < window);
        if attempts.len() >= CLAIMS_PER_MINUTE {
            return false;
        }
        attempts.push(now);
        true
    }

    /// The mint response's `setup_code` object (with the contract fields a
    /// server with a known API base adds).
    pub(crate) fn setup_code_contract(&self, idx: usize, code: &str, api_base_url: &str) -> Value {
        let mut v = self.setup_codes[idx].to_json(Some(code));
        if let Value::Object(m) = &mut v {
            m.insert("contract_version".into(), json!(1));
            m.insert("api_base_url".into(), json!(api_base_url));
            m.insert(
                "claim_url".into(),
                json!(format!("{api_base_url}/api/bot-setup-codes/claim")),
            );
        }
        v
    }
}

/// The server's own base URL as the client reached it (`http://<Host>`).
fn api_base_url(ctx: &Ctx, shared: &Shared) -> String {
    let host = ctx
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| shared.local_addr.to_string());
    format!("http://{host}")
}

/// `POST /api/workspaces/{w}/bots/{b}/setup-codes` (humans; bots get 403).
pub(crate) async fn create_setup_code(
    shared: &Shared,
    ctx: &mut Ctx,
    ws: &str,
    bot: &str,
) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.deny_bot("bot tokens cannot create bot setup codes")?;
    let input: SetupCodeInput = ctx.json().await?;
    let base = api_base_url(ctx, shared);
    let body = shared.store.write(|d| -> ApiResult<Value> {
        let (idx, code) = d.mint_setup_code(ws, bot, &actor.user_id, &input)?;
        Ok(json!({ "setup_code": d.setup_code_contract(idx, &code, &base) }))
    })?;
    created(body)
}

#[derive(Debug, Deserialize)]
struct ClaimInput {
    #[serde(default)]
    code: String,
}

/// `POST /api/bot-setup-codes/claim` (no authentication).
pub(crate) async fn claim_setup_code(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let ip = ctx.peer.ip();
    if !shared.store.write(|d| d.allow_claim(ip)) {
        return Err(ApiError::new(
            http::StatusCode::TOO_MANY_REQUESTS,
            "too many setup code attempts, retry later",
        ));
    }
    let input: ClaimInput = ctx.json().await?;
    let base = api_base_url(ctx, shared);
    let body = shared
        .store
        .write(|d| d.claim_setup_code(&input.code, &base))?;
    ok(body)
}

/// `GET /api/me/bots`: the caller's user-owned bots, one entry per workspace.
pub(crate) fn my_bots(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.deny_bot("bot tokens cannot list owned bots")?;
    let body = shared.store.read(|d| {
        let mut bots: Vec<&crate::store::records::UserRec> = d
            .users
            .values()
            .filter(|u| u.bot && u.owner_user_id.as_deref() == Some(actor.user_id.as_str()))
            .collect();
        bots.sort_by(|a, b| a.id.cmp(&b.id));
        let mut out = Vec::new();
        for bot in bots {
            for ws_id in &d.workspace_order {
                let Some(w) = d.workspaces.get(ws_id) else {
                    continue;
                };
                if w.role_of(&bot.id).is_none() {
                    continue;
                }
                let active = d
                    .tokens
                    .values()
                    .filter(|t| t.bot_user_id == bot.id && t.workspace_id == w.id)
                    .filter(|t| !t.revoked.load(std::sync::atomic::Ordering::Acquire))
                    .count();
                out.push(json!({
                    "bot": bot.to_json(),
                    "workspace": { "id": w.id, "route_id": w.route_id, "name": w.name },
                    "active_token_count": active,
                }));
            }
        }
        json!({ "bots": d.list(out) })
    });
    ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_normalize() {
        let code = new_code();
        assert_eq!(code.len(), 14);
        assert_eq!(
            normalize_code(&code.to_lowercase()),
            Some(code.replace('-', ""))
        );
        assert_eq!(
            normalize_code(" abcd efgh-jkmn "),
            Some("ABCDEFGHJKMN".into())
        );
        assert_eq!(
            normalize_code("ABCD-EFGH-IJKL"),
            None,
            "I and L are not in the alphabet"
        );
        assert_eq!(normalize_code("ABCD-EFGH"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn normalize_never_panics(s in "\\PC{0,40}") {
            if let Some(n) = normalize_code(&s) {
                prop_assert_eq!(n.len(), CODE_LEN);
            }
        }
    }
}
