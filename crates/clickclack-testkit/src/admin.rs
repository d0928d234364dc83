//! The Rust admin API: create workspaces, users, channels and bots, revoke
//! tokens, remove bot memberships, prune the log, post as a human, and
//! inspect state. No HTTP involved.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use clickclack_proto::{
    BotTokenId, Channel, ChannelId, ConversationId, Cursor, DirectConversation, Event, Message,
    MessageId, User, UserId, Workspace, WorkspaceId,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::{Actor, token_hash};
use crate::error::ApiError;
use crate::hub::{ACCESS_REVOKED_REASON, Kill, SESSION_REVOKED_REASON, TOKEN_REVOKED_REASON};
use crate::ids::{now_rfc3339, random_token, route_id};
use crate::server::TestServer;
use crate::store::Data;
use crate::store::log::Visibility;
use crate::store::messages::{Created, NewMessage, Target};
use crate::store::records::{TokenRec, UserRec, WorkspaceRec};
use clickclack_proto::slugify;

/// An error from the admin API (unknown ids, invalid bot specs, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    message: String,
}

impl AdminError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        Self::new(e.message)
    }
}

/// A human user with a session token (`sst_…`) usable as a Bearer token.
#[derive(Clone)]
pub struct TestUser {
    /// The user.
    pub user: User,
    /// The raw session token.
    pub session_token: String,
}

impl fmt::Debug for TestUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestUser")
            .field("user", &self.user.id)
            .field("session_token", &"<redacted>")
            .finish()
    }
}

/// A bot user with its raw bot token (`ccb_…`).
#[derive(Clone)]
pub struct TestBot {
    /// The bot user (`kind: "bot"`).
    pub user: User,
    /// The raw bot token, shown once like the real server.
    pub token: String,
    /// The token's id (`btok_…`), for [`TestServer::revoke_token`].
    pub token_id: BotTokenId,
    /// The workspace the token is bound to.
    pub workspace: WorkspaceId,
    /// The concrete scopes granted (sorted).
    pub scopes: Vec<String>,
}

impl fmt::Debug for TestBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestBot")
            .field("user", &self.user.id)
            .field("token", &"<redacted>")
            .field("token_id", &self.token_id)
            .field("workspace", &self.workspace)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// What to create with [`TestServer::create_bot`] (like `clickclack admin bot create`).
#[derive(Debug, Clone, Default)]
pub struct BotSpec {
    /// The workspace the bot joins and its token is bound to.
    pub workspace: WorkspaceId,
    /// Display name.
    pub name: String,
    /// Handle; empty means the slugified name.
    pub handle: String,
    /// Scopes or bundles (comma-separated values allowed); empty means `bot:write`.
    pub scopes: Vec<String>,
    /// Human owner for a user-owned bot; `None` makes a service bot.
    pub owner: Option<UserId>,
}

impl BotSpec {
    /// A `bot:write` service bot named `name` in `workspace`.
    pub fn new(workspace: &WorkspaceId, name: &str) -> BotSpec {
        BotSpec {
            workspace: workspace.clone(),
            name: name.to_owned(),
            ..BotSpec::default()
        }
    }

    /// Sets the scopes (bundles or concrete scopes).
    pub fn scopes<I, S>(mut self, scopes: I) -> BotSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the handle.
    pub fn handle(mut self, handle: &str) -> BotSpec {
        self.handle = handle.to_owned();
        self
    }

    /// Makes a user-owned bot.
    pub fn owner(mut self, owner: &UserId) -> BotSpec {
        self.owner = Some(owner.clone());
        self
    }
}

/// What to mint with [`TestServer::create_setup_code`]: a deferred token
/// grant for an existing bot, claimed with `POST /api/bot-setup-codes/claim`.
#[derive(Debug, Clone, Default)]
pub struct SetupCodeSpec {
    /// The workspace the minted token will be bound to.
    pub workspace: WorkspaceId,
    /// The bot (it must be a member of `workspace`).
    pub bot: UserId,
    /// Who mints it: the bot's owner for a user-owned bot, a workspace owner
    /// or moderator for a service bot. `None` picks the bot's owner, or the
    /// workspace owner for a service bot.
    pub created_by: Option<UserId>,
    /// Token name; empty means `default`.
    pub token_name: String,
    /// Scopes or bundles; empty means `bot:write`.
    pub scopes: Vec<String>,
    /// The `defaults` object (`defaultTo`, `allowFrom`, `agentActivity`).
    pub defaults: Value,
}

impl SetupCodeSpec {
    /// A `bot:write` code for `bot` in `workspace`, minted by its owner.
    pub fn new(workspace: &WorkspaceId, bot: &UserId) -> SetupCodeSpec {
        SetupCodeSpec {
            workspace: workspace.clone(),
            bot: bot.clone(),
            defaults: Value::Null,
            ..SetupCodeSpec::default()
        }
    }

    /// Sets the scopes (bundles or concrete scopes).
    pub fn scopes<I, S>(mut self, scopes: I) -> SetupCodeSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the `defaults` object captured at mint time.
    pub fn defaults(mut self, defaults: Value) -> SetupCodeSpec {
        self.defaults = defaults;
        self
    }

    /// Sets who mints the code.
    pub fn created_by(mut self, user: &UserId) -> SetupCodeSpec {
        self.created_by = Some(user.clone());
        self
    }
}

/// A minted setup code.
#[derive(Clone)]
pub struct TestSetupCode {
    /// The one-time code, `XXXX-XXXX-XXXX` (a secret until claimed).
    pub code: String,
    /// The code's id (`bsc_…`).
    pub id: String,
    /// The `setup_code` object of the mint response (with `code`).
    pub json: Value,
}

impl fmt::Debug for TestSetupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestSetupCode")
            .field("id", &self.id)
            .field("code", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Data {
    /// Mints a setup code from a spec (admin API and `/admin/setup-codes`).
    pub(crate) fn admin_setup_code(
        &mut self,
        spec: &SetupCodeSpec,
        api_base_url: &str,
    ) -> Result<TestSetupCode, AdminError> {
        let ws = self
            .resolve_workspace(spec.workspace.as_str())
            .ok_or_else(|| AdminError::new(format!("unknown workspace {}", spec.workspace)))?;
        let bot = self
            .users
            .values()
            .find(|u| u.bot && (u.id == spec.bot.as_str() || u.handle == spec.bot.as_str()))
            .cloned()
            .ok_or_else(|| AdminError::new(format!("unknown bot {}", spec.bot)))?;
        let created_by = match (&spec.created_by, &bot.owner_user_id) {
            (Some(u), _) => u.as_str().to_owned(),
            (None, Some(owner)) => owner.clone(),
            (None, None) => self
                .workspaces
                .get(&ws)
                .and_then(|w| w.members.iter().find(|(_, r)| r == "owner"))
                .map(|(u, _)| u.clone())
                .ok_or_else(|| AdminError::new("the workspace has no owner to mint the code"))?,
        };
        let input = crate::handlers::bots::SetupCodeInput {
            name: spec.token_name.clone(),
            scopes: Some(spec.scopes.clone()),
            defaults: Some(spec.defaults.clone()),
        };
        let (idx, code) = self.mint_setup_code(&ws, &bot.id, &created_by, &input)?;
        Ok(TestSetupCode {
            id: self.setup_codes[idx].id.clone(),
            json: self.setup_code_contract(idx, &code, api_base_url),
            code,
        })
    }
}

/// What [`TestServer::seed`] creates.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Workspace `Default` (slug `default`).
    pub workspace: Workspace,
    /// The human owner.
    pub owner: TestUser,
    /// `#general`.
    pub general: Channel,
    /// A `bot:write` service bot (handle `testbot`).
    pub bot: TestBot,
}

fn to_proto<T: DeserializeOwned>(value: Value) -> T {
    match serde_json::from_value(value) {
        Ok(v) => v,
        Err(e) => panic!("clickclack-testkit: proto type rejected server JSON: {e}"),
    }
}

fn or_panic<T>(r: Result<T, AdminError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("clickclack-testkit: {what}: {e}"),
    }
}

fn human_actor(user_id: &str) -> Actor {
    Actor {
        user_id: user_id.to_owned(),
        bot: None,
        credential_id: format!("admin:{user_id}"),
        revoked: Arc::default(),
    }
}

impl Data {
    fn unique_handle(&self, wanted: &str) -> String {
        let base = if wanted.is_empty() {
            "user".to_owned()
        } else {
            wanted.to_owned()
        };
        let mut handle = base.clone();
        let mut n = 2;
        while self.users.values().any(|u| u.handle == handle) {
            handle = format!("{base}{n}");
            n += 1;
        }
        handle
    }

    pub(crate) fn admin_create_workspace(&mut self, name: &str) -> String {
        let id = self.ids.next("wsp");
        let mut slug = slugify(name);
        if slug.is_empty() {
            slug = "workspace".into();
        }
        let base = slug.clone();
        let mut n = 2;
        while self.workspaces.values().any(|w| w.slug == slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        self.workspaces.insert(
            id.clone(),
            WorkspaceRec {
                id: id.clone(),
                route_id: route_id('T'),
                name: name.to_owned(),
                slug,
                created_at: now_rfc3339(),
                members: Vec::new(),
                channels: Vec::new(),
            },
        );
        self.workspace_order.push(id.clone());
        id
    }

    /// Resolves a workspace by id or slug.
    pub(crate) fn resolve_workspace(&self, id_or_slug: &str) -> Option<String> {
        if self.workspaces.contains_key(id_or_slug) {
            return Some(id_or_slug.to_owned());
        }
        self.workspaces
            .values()
            .find(|w| w.slug == id_or_slug)
            .map(|w| w.id.clone())
    }

    pub(crate) fn admin_create_user(
        &mut self,
        workspace: &str,
        name: &str,
    ) -> Result<(String, String), AdminError> {
        let ws = self
            .workspaces
            .get(workspace)
            .ok_or_else(|| AdminError::new(format!("unknown workspace {workspace}")))?;
        let role = if ws.members.iter().any(|(_, r)| r == "owner") {
            "member"
        } else {
            "owner"
        };
        let id = self.ids.next("usr");
        let handle = self.unique_handle(&slugify(name).replace('-', "_"));
        self.users.insert(
            id.clone(),
            UserRec {
                id: id.clone(),
                bot: false,
                owner_user_id: None,
                display_name: name.to_owned(),
                handle,
                avatar_url: String::new(),
                created_at: now_rfc3339(),
                appearance: None,
            },
        );
        if let Some(ws) = self.workspaces.get_mut(workspace) {
            ws.members.push((id.clone(), role.to_owned()));
        }
        let token = self.new_session(&id);
        Ok((id, token))
    }

    /// `bot create`: returns (bot user id, token id, raw token).
    pub(crate) fn admin_create_bot(
        &mut self,
        spec: &BotSpec,
    ) -> Result<(String, String, String), AdminError> {
        let ws_id = self
            .resolve_workspace(spec.workspace.as_str())
            .ok_or_else(|| AdminError::new(format!("unknown workspace {}", spec.workspace)))?;
        if spec.name.trim().is_empty() {
            return Err(AdminError::new("bot name is required"));
        }
        let scopes = clickclack_proto::expand_scopes(spec.scopes.iter())
            .map_err(|e| AdminError::new(e.to_string()))?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let ws = self
            .workspaces
            .get(&ws_id)
            .ok_or_else(|| AdminError::new("unknown workspace"))?;
        let created_by = match &spec.owner {
            Some(owner) => {
                let is_human = self.users.get(owner.as_str()).is_some_and(|u| !u.bot);
                if !is_human || ws.role_of(owner.as_str()).is_none() {
                    return Err(AdminError::new(format!(
                        "owner {owner} is not a human member of the workspace"
                    )));
                }
                Some(owner.as_str().to_owned())
            }
            None => ws
                .members
                .iter()
                .find(|(_, r)| r == "owner")
                .map(|(u, _)| u.clone()),
        };
        let wanted = if spec.handle.trim().is_empty() {
            slugify(&spec.name).replace('-', "_")
        } else {
            spec.handle.trim().trim_start_matches('@').to_owned()
        };
        if self.users.values().any(|u| u.handle == wanted) {
            return Err(AdminError::new(format!("handle {wanted} is already taken")));
        }
        let handle = self.unique_handle(&wanted);
        let bot_id = self.ids.next("usr");
        let owner = spec.owner.as_ref().map(|o| o.as_str().to_owned());
        self.users.insert(
            bot_id.clone(),
            UserRec {
                id: bot_id.clone(),
                bot: true,
                owner_user_id: owner.clone(),
                display_name: spec.name.trim().to_owned(),
                handle,
                avatar_url: String::new(),
                created_at: now_rfc3339(),
                appearance: None,
            },
        );
        if let Some(ws) = self.workspaces.get_mut(&ws_id) {
            ws.members.push((bot_id.clone(), "bot".into()));
        }
        let (token_id, raw) =
            self.issue_token(&bot_id, &ws_id, owner, "default", scopes, created_by);
        Ok((bot_id, token_id, raw))
    }

    /// Mints a bot token; returns (token id, raw `ccb_` token).
    pub(crate) fn issue_token(
        &mut self,
        bot_id: &str,
        ws_id: &str,
        owner: Option<String>,
        name: &str,
        scopes: Vec<String>,
        created_by: Option<String>,
    ) -> (String, String) {
        let token_id = self.ids.next("btok");
        let raw = format!("ccb_{}", random_token(26));
        let hash = token_hash(&raw);
        self.tokens.insert(
            hash.clone(),
            TokenRec {
                id: token_id.clone(),
                bot_user_id: bot_id.to_owned(),
                workspace_id: ws_id.to_owned(),
                owner_user_id: owner,
                name: name.to_owned(),
                scopes,
                created_by,
                created_at: now_rfc3339(),
                revoked_at: None,
                revoked: Arc::default(),
            },
        );
        self.token_hash_by_id.insert(token_id.clone(), hash);
        (token_id, raw)
    }

    /// Marks a token revoked; returns false when unknown.
    pub(crate) fn admin_revoke_token(&mut self, token_id: &str) -> bool {
        let Some(hash) = self.token_hash_by_id.get(token_id).cloned() else {
            return false;
        };
        match self.tokens.get_mut(&hash) {
            Some(t) => {
                t.revoked.store(true, Ordering::Release);
                t.revoked_at.get_or_insert_with(now_rfc3339);
                true
            }
            None => false,
        }
    }

    /// The `{"bot","bot_token","token"}` JSON of the CLI.
    pub(crate) fn bot_create_json(&self, bot_id: &str, token_id: &str, raw: &str) -> Value {
        let bot = self.user(bot_id).map(|u| u.to_json());
        let token = self
            .token_hash_by_id
            .get(token_id)
            .and_then(|h| self.tokens.get(h))
            .map(|t| t.to_json(Some(raw)));
        json!({ "bot": bot, "bot_token": token, "token": raw })
    }
}

impl TestServer {
    fn user_json(&self, id: &str) -> Value {
        self.shared
            .store
            .read(|d| d.user(id).map(|u| u.to_json()).unwrap_or(Value::Null))
    }

    /// Creates a workspace (no members yet; the first human user created in
    /// it becomes its owner). The slug is the slugified name, made unique.
    pub fn create_workspace(&self, name: &str) -> Workspace {
        let json = self.shared.store.write(|d| {
            let id = d.admin_create_workspace(name);
            d.workspaces.get(&id).map(|w| w.to_json(None))
        });
        to_proto(json.unwrap_or(Value::Null))
    }

    /// Creates a human member of `workspace` with a session token. The first
    /// human of a workspace is its `owner`, later ones are `member`s.
    ///
    /// # Panics
    ///
    /// Panics if the workspace does not exist.
    pub fn create_user(&self, workspace: &WorkspaceId, name: &str) -> TestUser {
        let (id, token) = or_panic(
            self.shared
                .store
                .write(|d| d.admin_create_user(workspace.as_str(), name)),
            "create_user",
        );
        TestUser {
            user: to_proto(self.user_json(&id)),
            session_token: token,
        }
    }

    /// Creates a channel as `creator` (name slugified; appends `channel.created`).
    ///
    /// # Panics
    ///
    /// Panics if the workspace or creator is unknown, or the name is taken.
    pub fn create_channel(&self, workspace: &WorkspaceId, creator: &UserId, name: &str) -> Channel {
        let actor = human_actor(creator.as_str());
        let json = or_panic(
            self.shared.store.write(|d| {
                d.create_channel(&actor, workspace.as_str(), name)
                    .map(|(id, _)| d.channel_json(&id, creator.as_str()))
                    .map_err(AdminError::from)
            }),
            "create_channel",
        );
        to_proto(json)
    }

    /// Creates a bot like `clickclack admin bot create`, returning its raw token.
    ///
    /// # Panics
    ///
    /// Panics on an invalid spec (see [`try_create_bot`](Self::try_create_bot)).
    pub fn create_bot(&self, spec: BotSpec) -> TestBot {
        or_panic(self.try_create_bot(spec), "create_bot")
    }

    /// Creates a bot; errors on an unknown workspace/owner, an unknown scope
    /// (`unknown bot scope: <x>`) or a taken handle.
    pub fn try_create_bot(&self, spec: BotSpec) -> Result<TestBot, AdminError> {
        let (bot_id, token_id, raw, ws, scopes) = self.shared.store.write(|d| {
            let (bot_id, token_id, raw) = d.admin_create_bot(&spec)?;
            let hash = d
                .token_hash_by_id
                .get(&token_id)
                .cloned()
                .unwrap_or_default();
            let (ws, scopes) = d
                .tokens
                .get(&hash)
                .map(|t| (t.workspace_id.clone(), t.scopes.clone()))
                .unwrap_or_default();
            Ok::<_, AdminError>((bot_id, token_id, raw, ws, scopes))
        })?;
        Ok(TestBot {
            user: to_proto(self.user_json(&bot_id)),
            token: raw,
            token_id: BotTokenId::new(token_id),
            workspace: WorkspaceId::new(ws),
            scopes,
        })
    }

    /// Issues an additional token for an existing bot (bundles expanded).
    pub fn create_bot_token(
        &self,
        bot: &UserId,
        workspace: &WorkspaceId,
        scopes: &[&str],
    ) -> Result<(BotTokenId, String), AdminError> {
        let scopes = clickclack_proto::expand_scopes(scopes.iter())
            .map_err(|e| AdminError::new(e.to_string()))?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        self.shared.store.write(|d| {
            let owner = d
                .user(bot.as_str())
                .filter(|u| u.bot)
                .ok_or_else(|| AdminError::new("unknown bot"))?
                .owner_user_id
                .clone();
            if !d.workspaces.contains_key(workspace.as_str()) {
                return Err(AdminError::new("unknown workspace"));
            }
            let (id, raw) = d.issue_token(
                bot.as_str(),
                workspace.as_str(),
                owner,
                "default",
                scopes,
                None,
            );
            Ok((BotTokenId::new(id), raw))
        })
    }

    /// Revokes a bot token: later requests get 401, and open sockets using it
    /// close with 1008 `bot token revoked; reconnect with a valid token`.
    pub fn revoke_token(&self, token_id: &BotTokenId) {
        let known = self
            .shared
            .store
            .write(|d| d.admin_revoke_token(token_id.as_str()));
        if known {
            self.shared.store.hub.kill_credential(
                token_id.as_str(),
                Kill::Close(1008, TOKEN_REVOKED_REASON.to_owned()),
            );
        }
    }

    /// Revokes a session token (1008 `session revoked; sign in again` on sockets).
    pub fn revoke_session(&self, session_token: &str) {
        let revoked = self
            .shared
            .store
            .write(|d| match d.sessions.get(session_token) {
                Some(s) => {
                    s.revoked.store(true, Ordering::Release);
                    true
                }
                None => false,
            });
        if revoked {
            self.shared.store.hub.kill_credential(
                &format!("session:{}", token_hash(session_token)),
                Kill::Close(1008, SESSION_REVOKED_REASON.to_owned()),
            );
        }
    }

    /// Removes a bot from a workspace: its sockets close with 1008
    /// `workspace access revoked`, other sockets get a cursorless
    /// `bot.membership_removed` event, and its REST calls get 403.
    pub fn remove_bot_membership(&self, workspace: &WorkspaceId, bot_user: &UserId) {
        self.shared.store.hub.kill_user(
            workspace.as_str(),
            bot_user.as_str(),
            Kill::Close(1008, ACCESS_REVOKED_REASON.to_owned()),
        );
        self.shared.store.write(|d| {
            let removed = match d.workspaces.get_mut(workspace.as_str()) {
                Some(w) => {
                    let before = w.members.len();
                    w.members.retain(|(u, _)| u != bot_user.as_str());
                    before != w.members.len()
                }
                None => false,
            };
            if removed {
                d.publish_ephemeral(
                    workspace.as_str(),
                    "bot.membership_removed",
                    Some(String::new()),
                    None,
                    json!({ "bot_user_id": bot_user }),
                    Visibility::All,
                );
            }
        });
    }

    /// Deletes a bot like `DELETE /api/bots/{id}`: revokes its tokens,
    /// removes it from every workspace, closes its sockets with 1008
    /// `workspace access revoked`, and publishes a cursorless `bot.deleted`
    /// event to the other sockets of each workspace it was in.
    pub fn delete_bot(&self, bot_user: &UserId) {
        let token_ids: Vec<String> = self.shared.store.read(|d| {
            d.tokens
                .values()
                .filter(|t| t.bot_user_id == bot_user.as_str())
                .map(|t| t.id.clone())
                .collect()
        });
        let workspaces: Vec<String> = self.shared.store.read(|d| {
            d.workspaces
                .values()
                .filter(|w| w.role_of(bot_user.as_str()).is_some())
                .map(|w| w.id.clone())
                .collect()
        });
        for ws in &workspaces {
            self.shared.store.hub.kill_user(
                ws,
                bot_user.as_str(),
                Kill::Close(1008, ACCESS_REVOKED_REASON.to_owned()),
            );
        }
        self.shared.store.write(|d| {
            for id in &token_ids {
                d.admin_revoke_token(id);
            }
            let now = now_rfc3339();
            let (name, handle) = d
                .user(bot_user.as_str())
                .map(|u| (u.display_name.clone(), u.handle.clone()))
                .unwrap_or_default();
            for ws in &workspaces {
                if let Some(w) = d.workspaces.get_mut(ws) {
                    w.members.retain(|(u, _)| u != bot_user.as_str());
                }
                d.publish_ephemeral(
                    ws,
                    "bot.deleted",
                    Some(String::new()),
                    None,
                    json!({
                        "bot_user_id": bot_user,
                        "display_name": name,
                        "former_handle": handle,
                        "deleted_at": now,
                    }),
                    Visibility::All,
                );
            }
        });
    }

    /// Drops events with a cursor below `cursor` from the workspace's log
    /// (`cursor` itself stays). Older cursors become unknown (4001 on resume).
    pub fn prune_events_before(&self, workspace: &WorkspaceId, cursor: &Cursor) {
        self.shared.store.write(|d| {
            if let Some(log) = d.logs.get_mut(workspace.as_str()) {
                log.prune_before(Some(cursor.as_str()));
            }
        });
    }

    /// Drops every retained event of the workspace.
    pub fn prune_all_events(&self, workspace: &WorkspaceId) {
        self.shared.store.write(|d| {
            if let Some(log) = d.logs.get_mut(workspace.as_str()) {
                log.prune_before(None);
            }
        });
    }

    /// Stores an upload owned by `as_user` in `workspace`, as
    /// `POST /api/uploads` would (`width`/`height`/`duration_ms` 0).
    pub fn upload(
        &self,
        as_user: &UserId,
        workspace: &WorkspaceId,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> clickclack_proto::objects::Upload {
        let json = self.shared.store.write(|d| {
            let id = d.ids.next("upl");
            let rec = crate::store::records::UploadRec {
                id: id.clone(),
                workspace_id: workspace.as_str().to_owned(),
                owner_id: as_user.as_str().to_owned(),
                nonce: None,
                filename: filename.to_owned(),
                content_type: content_type.to_owned(),
                data: bytes::Bytes::copy_from_slice(bytes),
                width: 0,
                height: 0,
                duration_ms: 0,
                created_at: now_rfc3339(),
                dm_id: None,
            };
            let json = rec.to_json();
            d.uploads.insert(id, rec);
            json
        });
        to_proto(json)
    }

    /// Posts a root message in a channel with `upload` attached in the same
    /// create (`upload_id` in the body, as the web client does); `body` may
    /// be empty (an attachment-only message).
    ///
    /// # Panics
    ///
    /// Panics if the user cannot post there.
    pub fn post_message_with_upload(
        &self,
        as_user: &UserId,
        channel: &ChannelId,
        body: &str,
        upload: &clickclack_proto::UploadId,
    ) -> Message {
        self.post_input(
            as_user,
            Target::Channel(channel.as_str().to_owned()),
            NewMessage {
                body: body.to_owned(),
                upload_id: Some(upload.as_str().to_owned()),
                ..NewMessage::default()
            },
        )
    }

    /// Links `upload` to `message` as its author would with
    /// `POST /api/messages/{id}/attachments`; an older server
    /// ([`TestServerBuilder::legacy_attachment_links`](crate::TestServerBuilder::legacy_attachment_links))
    /// appends one `message.updated`.
    ///
    /// # Panics
    ///
    /// Panics if `as_user` is not the author or the upload is not theirs.
    pub fn link_upload(
        &self,
        as_user: &UserId,
        message: &MessageId,
        upload: &clickclack_proto::UploadId,
    ) {
        let actor = human_actor(as_user.as_str());
        or_panic(
            self.shared
                .store
                .write(|d| d.link_upload(&actor, message.as_str(), upload.as_str()))
                .map_err(AdminError::from),
            "link_upload",
        );
    }

    fn post(&self, as_user: &UserId, target: Target, body: &str, nonce: Option<&str>) -> Message {
        let input = NewMessage {
            body: body.to_owned(),
            nonce: nonce.map(str::to_owned),
            ..NewMessage::default()
        };
        self.post_input(as_user, target, input)
    }

    fn post_input(&self, as_user: &UserId, target: Target, input: NewMessage) -> Message {
        let actor = human_actor(as_user.as_str());
        let json = or_panic(
            self.shared
                .store
                .write(|d| {
                    let id = match d.create_message(&actor, &target, &input, None)? {
                        Created::New(id, _) | Created::Replay(id) => id,
                    };
                    Ok::<_, ApiError>(
                        d.messages
                            .get(&id)
                            .map(|m| d.message_json(m, as_user.as_str()))
                            .unwrap_or(Value::Null),
                    )
                })
                .map_err(AdminError::from),
            "post",
        );
        to_proto(json)
    }

    /// Posts a root message in a channel as `as_user` (appends `message.created`).
    ///
    /// # Panics
    ///
    /// Panics if the user cannot post there.
    pub fn post_message(&self, as_user: &UserId, channel: &ChannelId, body: &str) -> Message {
        self.post(
            as_user,
            Target::Channel(channel.as_str().to_owned()),
            body,
            None,
        )
    }

    /// Like [`post_message`](Self::post_message) with a client nonce.
    pub fn post_message_with_nonce(
        &self,
        as_user: &UserId,
        channel: &ChannelId,
        body: &str,
        nonce: &str,
    ) -> Message {
        self.post(
            as_user,
            Target::Channel(channel.as_str().to_owned()),
            body,
            Some(nonce),
        )
    }

    /// Posts a thread reply to `root` as `as_user`.
    pub fn post_thread_reply(&self, as_user: &UserId, root: &MessageId, body: &str) -> Message {
        self.post(
            as_user,
            Target::Thread(root.as_str().to_owned()),
            body,
            None,
        )
    }

    /// Opens (or reuses) the 1:1 DM between `user` and `other`.
    ///
    /// # Panics
    ///
    /// Panics if either is not a member of `workspace`.
    pub fn open_dm(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
        other: &UserId,
    ) -> DirectConversation {
        let actor = human_actor(user.as_str());
        let json = or_panic(
            self.shared
                .store
                .write(|d| {
                    let id = d.open_dm(&actor, workspace.as_str(), &[other.as_str().to_owned()])?;
                    Ok::<_, ApiError>(
                        d.dms
                            .get(&id)
                            .map(|dm| d.dm_json(dm, user.as_str()))
                            .unwrap_or(Value::Null),
                    )
                })
                .map_err(AdminError::from),
            "open_dm",
        );
        to_proto(json)
    }

    /// Posts a DM message as `as_user` in `conversation`.
    pub fn post_dm(&self, as_user: &UserId, conversation: &ConversationId, body: &str) -> Message {
        self.post(
            as_user,
            Target::Dm(conversation.as_str().to_owned()),
            body,
            None,
        )
    }

    /// A message by id, as its author sees it.
    pub fn message(&self, id: &MessageId) -> Option<Message> {
        self.shared
            .store
            .read(|d| {
                d.messages
                    .get(id.as_str())
                    .map(|m| d.message_json(m, &m.author_id))
            })
            .map(to_proto)
    }

    fn list_messages(&self, ids: impl FnOnce(&Data) -> Vec<String>) -> Vec<Message> {
        let values: Vec<Value> = self.shared.store.read(|d| {
            ids(d)
                .iter()
                .filter_map(|id| d.messages.get(id))
                .map(|m| d.message_json(m, &m.author_id))
                .collect()
        });
        values.into_iter().map(to_proto).collect()
    }

    /// Root messages of a channel, in `channel_seq` order.
    pub fn channel_messages(&self, channel: &ChannelId) -> Vec<Message> {
        self.list_messages(|d| {
            d.channels
                .get(channel.as_str())
                .map(|c| c.roots.clone())
                .unwrap_or_default()
        })
    }

    /// Replies of a thread root, in `thread_seq` order.
    pub fn thread_replies(&self, root: &MessageId) -> Vec<Message> {
        self.list_messages(|d| {
            d.messages
                .get(root.as_str())
                .map(|m| m.replies.clone())
                .unwrap_or_default()
        })
    }

    /// Root messages of a DM, in order.
    pub fn dm_messages(&self, conversation: &ConversationId) -> Vec<Message> {
        self.list_messages(|d| {
            d.dms
                .get(conversation.as_str())
                .map(|c| c.roots.clone())
                .unwrap_or_default()
        })
    }

    /// Every retained durable event of a workspace (all recipients), in cursor order.
    pub fn events(&self, workspace: &WorkspaceId) -> Vec<Event> {
        let bytes: Vec<bytes::Bytes> = self.shared.store.read(|d| {
            d.logs
                .get(workspace.as_str())
                .map(|l| l.all().map(|e| e.bytes.clone()).collect())
                .unwrap_or_default()
        });
        bytes
            .iter()
            .filter_map(|b| Event::from_slice(b).ok())
            .collect()
    }

    /// Number of retained durable events of a workspace.
    pub fn event_count(&self, workspace: &WorkspaceId) -> usize {
        self.shared
            .store
            .read(|d| d.logs.get(workspace.as_str()).map(|l| l.len()).unwrap_or(0))
    }

    /// The newest retained cursor of a workspace (any recipient).
    pub fn latest_cursor(&self, workspace: &WorkspaceId) -> Option<Cursor> {
        self.shared.store.read(|d| {
            d.logs
                .get(workspace.as_str())
                .and_then(|l| l.all().last().map(|e| Cursor::new(e.cursor.clone())))
        })
    }

    /// Publishes a cursorless event (e.g. `typing.started`) to a workspace's sockets.
    pub fn publish_ephemeral(&self, workspace: &WorkspaceId, event_type: &str, payload: Value) {
        self.shared.store.write(|d| {
            d.publish_ephemeral(
                workspace.as_str(),
                event_type,
                None,
                None,
                payload,
                Visibility::All,
            );
        });
    }

    /// The commands a bot registered with `PUT /api/bots/self/commands` (JSON).
    pub fn bot_commands(&self, bot: &UserId) -> Value {
        self.shared.store.read(|d| {
            d.bot_commands
                .get(bot.as_str())
                .cloned()
                .unwrap_or_else(|| json!([]))
        })
    }

    /// Mints a bot setup code like an owner would with
    /// `POST /api/workspaces/{w}/bots/{b}/setup-codes` (10-minute expiry,
    /// single use; re-minting for the same bot and token name replaces the
    /// pending code). `spec.bot` may be a bot id or handle.
    pub fn create_setup_code(&self, spec: &SetupCodeSpec) -> Result<TestSetupCode, AdminError> {
        let base = self.base_url();
        self.shared.store.write(|d| d.admin_setup_code(spec, &base))
    }

    /// Makes every pending setup code expired (claims answer 404), without
    /// waiting 10 minutes.
    pub fn expire_setup_codes(&self) {
        self.shared.store.write(|d| {
            let now = tokio::time::Instant::now();
            for c in &mut d.setup_codes {
                c.expires = now;
            }
        });
    }

    /// Seeds workspace `Default` (slug `default`) with a human owner
    /// (`Owner`), `#general`, and a `bot:write` service bot (`testbot`).
    pub fn seed(&self) -> Seed {
        let workspace = self.create_workspace("Default");
        let owner = self.create_user(&workspace.id, "Owner");
        let general = self.create_channel(&workspace.id, &owner.user.id, "general");
        let bot = self.create_bot(
            BotSpec::new(&workspace.id, "Test Bot")
                .handle("testbot")
                .scopes(["bot:write"]),
        );
        Seed {
            workspace,
            owner,
            general,
            bot,
        }
    }
}
