//! Per-account host features: session keys, the envelope clock, native
//! commands (who may run them, what they change) and per-session state
//! (`/model` overrides, `/new` history floors, running turns for `/stop`).
//!
//! Native commands (host conventions §7), recognised when the body (after an
//! optional leading `@handle`) starts with one of:
//!
//! | command | does |
//! |---|---|
//! | `/help` | lists these commands |
//! | `/whoami` | the sender's id as `allowFrom` wants it |
//! | `/status` | account, reply mode, model, session key |
//! | `/model [provider/model]` | shows, or (owner-only) sets the session's model |
//! | `/new [model]`, `/reset` | model mode: a fresh session (earlier history is no longer sent); agent mode: forwarded to the OpenClaw Gateway, which owns the session |
//! | `/stop` | cancels the session's running turn(s) |
//!
//! Authorization follows the host: `commands.allowFrom` (`clickclack` or `*`
//! entries) when set is the only allowlist, else the account's `allowFrom`;
//! owner-only commands need the sender in `commands.ownerAllowFrom`. A
//! command from an unauthorised sender is skipped (logged), as the host does.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::commands::MenuCommand;
use super::envelope::SessionClock;
use super::session_key::{Peer, SessionKeys};
use crate::accounts::ResolvedAccount;
use crate::config::OpenClawConfig;
use crate::llm::ModelRef;
use crate::policy::AllowList;

/// The native commands: `(name, description, args hint)`.
pub const NATIVE_COMMANDS: [(&str, &str, &str); 7] = [
    ("new", "Start a new session", "[model]"),
    ("reset", "Reset the current session", ""),
    ("stop", "Stop the reply in progress", ""),
    ("status", "Show the session status", ""),
    ("model", "Show or set the model", "[provider/model]"),
    ("whoami", "Show your sender id", ""),
    ("help", "List the commands", ""),
];

/// The native commands as menu entries.
pub fn native_menu() -> Vec<MenuCommand> {
    NATIVE_COMMANDS
        .iter()
        .map(|(name, description, args)| MenuCommand {
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            args_hint: (*args).to_owned(),
        })
        .collect()
}

/// A native command found in a message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeCommand {
    /// Lower-case name without `/`.
    pub name: String,
    /// The rest of the line, trimmed.
    pub args: String,
}

impl NativeCommand {
    /// Parses `body`: an optional leading `@handle`, then `/<name>[@bot] [args]`;
    /// only [`NATIVE_COMMANDS`] are recognised.
    pub fn parse(body: &str) -> Option<NativeCommand> {
        let mut text = body.trim();
        if text.starts_with('@') {
            text = text
                .split_once(char::is_whitespace)
                .map_or("", |(_, rest)| rest.trim_start());
        }
        let rest = text.strip_prefix('/')?;
        let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let name = head
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        NATIVE_COMMANDS
            .iter()
            .any(|(n, _, _)| *n == name)
            .then(|| NativeCommand {
                name,
                args: args.trim().to_owned(),
            })
    }

    /// Whether only owners may run it (setting a model changes every
    /// later reply of the session).
    pub fn owner_only(&self) -> bool {
        self.name == "model" && !self.args.is_empty()
    }
}

#[derive(Debug, Default)]
struct SessionState {
    model: Option<String>,
    /// `created_at` of the `/new` that started the session (model mode).
    history_floor: Option<String>,
    running: Vec<(u64, CancellationToken)>,
}

/// Host features of one account.
#[derive(Debug)]
pub(crate) struct HostFeatures {
    pub(crate) sessions: SessionKeys,
    pub(crate) clock: SessionClock,
    command_allow: AllowList,
    owners: AllowList,
    pub(crate) media_max_bytes: u64,
    pub(crate) agent_activity: bool,
    /// `agents.defaults.model.fallbacks` (or the agent's): tried in order
    /// when the primary model fails (model mode).
    pub(crate) fallbacks: Vec<String>,
    state: Mutex<HashMap<String, SessionState>>,
    next_turn: std::sync::atomic::AtomicU64,
}

/// A running turn, registered for `/stop`; unregisters on drop.
pub(crate) struct RunningTurn<'a> {
    host: &'a HostFeatures,
    session: String,
    id: u64,
    pub(crate) token: CancellationToken,
}

impl Drop for RunningTurn<'_> {
    fn drop(&mut self) {
        let mut state = self.host.lock();
        if let Some(s) = state.get_mut(&self.session) {
            s.running.retain(|(id, _)| *id != self.id);
        }
    }
}

impl HostFeatures {
    /// Features of `account` under `config` (`session`, `commands`, model fallbacks).
    pub(crate) fn new(account: &ResolvedAccount, config: &OpenClawConfig, agent_id: &str) -> Self {
        let command_allow = match &config.commands.allow_from {
            Some(list) => AllowList::new(list),
            None => AllowList::new(&account.allow_from),
        };
        let agents = config.agents.as_ref();
        let fallbacks = agents
            .and_then(|a| {
                a.list
                    .iter()
                    .find(|e| e.id.trim().eq_ignore_ascii_case(agent_id))
                    .and_then(|e| e.model.as_ref())
                    .filter(|m| !m.fallbacks.is_empty())
                    .or(a.defaults.model.as_ref())
            })
            .map(|m| {
                m.fallbacks
                    .iter()
                    .map(|f| f.trim().to_owned())
                    .filter(|f| !f.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        HostFeatures {
            sessions: SessionKeys::new(config.session.clone()),
            clock: SessionClock::default(),
            command_allow,
            owners: AllowList::new(&config.commands.owner_allow_from),
            media_max_bytes: account.media_max_bytes,
            agent_activity: account.agent_activity,
            fallbacks,
            state: Mutex::new(HashMap::new()),
            next_turn: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionState>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session key of `peer`.
    pub(crate) fn session_key(&self, agent_id: &str, account_id: &str, peer: &Peer) -> String {
        self.sessions.key(agent_id, account_id, peer)
    }

    /// Whether `sender` may run commands (`sender_is_bot` disables wildcards).
    pub(crate) fn command_authorized(&self, sender: &str, sender_is_bot: bool) -> bool {
        self.command_allow.allows(sender, sender_is_bot)
    }

    /// Whether `sender` is an owner (`commands.ownerAllowFrom`).
    pub(crate) fn is_owner(&self, sender: &str) -> bool {
        self.owners.allows(sender, false)
    }

    /// The `/model` override of `session`.
    pub(crate) fn model_override(&self, session: &str) -> Option<String> {
        self.lock().get(session).and_then(|s| s.model.clone())
    }

    /// Sets the `/model` override of `session`.
    pub(crate) fn set_model(&self, session: &str, model: &str) -> Result<(), String> {
        ModelRef::parse(model).map_err(|e| e.to_string())?;
        self.lock().entry(session.to_owned()).or_default().model = Some(model.trim().to_owned());
        Ok(())
    }

    /// `/new` in model mode: history before `created_at` is no longer sent.
    pub(crate) fn reset_session(&self, session: &str, created_at: &str) {
        self.lock()
            .entry(session.to_owned())
            .or_default()
            .history_floor = Some(created_at.to_owned());
    }

    /// The `/new` floor of `session`, if any.
    pub(crate) fn history_floor(&self, session: &str) -> Option<String> {
        self.lock()
            .get(session)
            .and_then(|s| s.history_floor.clone())
    }

    /// Registers a running turn of `session` (cancelled by `/stop`).
    pub(crate) fn start_turn(&self, session: &str) -> RunningTurn<'_> {
        let id = self
            .next_turn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = CancellationToken::new();
        self.lock()
            .entry(session.to_owned())
            .or_default()
            .running
            .push((id, token.clone()));
        RunningTurn {
            host: self,
            session: session.to_owned(),
            id,
            token,
        }
    }

    /// `/stop`: cancels every running turn of `session`; how many there were.
    pub(crate) fn stop(&self, session: &str) -> usize {
        let state = self.lock();
        let running = state
            .get(session)
            .map(|s| s.running.as_slice())
            .unwrap_or_default();
        for (_, token) in running {
            token.cancel();
        }
        running.len()
    }
}

/// The `/help` text.
pub fn help_text() -> String {
    let mut text = String::from("OpenClaw commands on ClickClack:");
    for (name, description, args) in NATIVE_COMMANDS {
        text.push_str(&format!(
            "\n/{name}{}{args} — {description}",
            if args.is_empty() { "" } else { " " }
        ));
    }
    text
}

/// The `/whoami` text.
pub fn whoami_text(sender_id: &str, handle: Option<&str>) -> String {
    let mut text = format!("🧭 Identity\nChannel: clickclack\nUser id: {sender_id}");
    if let Some(handle) = handle.filter(|h| !h.trim().is_empty()) {
        text.push_str(&format!("\nHandle: @{handle}"));
    }
    text.push_str(&format!("\nAllowFrom: clickclack:{sender_id}"));
    text
}

/// `/new` and `/reset` in model mode.
pub fn new_session_text(model: &str) -> String {
    format!("✅ New session started · model: {model}")
}

/// Reply to an owner-only command from a non-owner.
pub fn owner_only_text(command: &str, sender_id: &str) -> String {
    format!(
        "⚠️ /{command} with arguments is owner-only: add \"clickclack:{sender_id}\" to commands.ownerAllowFrom to allow it."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_native_commands() {
        assert_eq!(
            NativeCommand::parse(" /Model openai/gpt-4o "),
            Some(NativeCommand {
                name: "model".into(),
                args: "openai/gpt-4o".into()
            })
        );
        assert_eq!(
            NativeCommand::parse("@bot /status").map(|c| c.name),
            Some("status".into())
        );
        assert_eq!(
            NativeCommand::parse("/help@bot").map(|c| c.name),
            Some("help".into())
        );
        assert_eq!(NativeCommand::parse("/unknown"), None);
        assert_eq!(NativeCommand::parse("hello /status"), None);
        assert!(NativeCommand::parse("/model x/y").unwrap().owner_only());
        assert!(!NativeCommand::parse("/model").unwrap().owner_only());
        assert_eq!(native_menu().len(), 7);
        assert!(help_text().contains("/model [provider/model] — Show or set the model"));
    }
}
