//! Bot token scopes, the three bundles and the server's expansion rules (§3).

use crate::macros::string_enum;

string_enum! {
    /// A concrete bot token scope.
    ///
    /// Unknown strings (for example scopes from a newer server) are kept in
    /// [`Scope::Other`]. Bundle names (`bot:read`, …) are not scopes; see
    /// [`expand_scopes`].
    Scope {
        /// `workspaces:read`
        WorkspacesRead => "workspaces:read",
        /// `workspaces:write` (checked by handlers but never grantable to bots)
        WorkspacesWrite => "workspaces:write",
        /// `channels:read`
        ChannelsRead => "channels:read",
        /// `channels:write` (only in `bot:admin`)
        ChannelsWrite => "channels:write",
        /// `messages:read`
        MessagesRead => "messages:read",
        /// `messages:write`
        MessagesWrite => "messages:write",
        /// `threads:read`
        ThreadsRead => "threads:read",
        /// `threads:write`
        ThreadsWrite => "threads:write",
        /// `dms:read`
        DmsRead => "dms:read",
        /// `dms:write`
        DmsWrite => "dms:write",
        /// `realtime:read`
        RealtimeRead => "realtime:read",
        /// `uploads:write`
        UploadsWrite => "uploads:write",
        /// `profile:read`
        ProfileRead => "profile:read",
        /// `commands:write`
        CommandsWrite => "commands:write",
        /// `agent_activity:write` (grantable, but in no bundle)
        AgentActivityWrite => "agent_activity:write",
    }
}

impl Scope {
    /// Whether the server lets a bot token be granted this scope
    /// (every known scope except `workspaces:write`).
    pub fn is_grantable_to_bots(&self) -> bool {
        self.is_known() && *self != Scope::WorkspacesWrite
    }
}

/// The scopes a bot can be granted, in the server's order (`botAllowedScopes`).
pub const GRANTABLE_SCOPES: &[Scope] = &[
    Scope::WorkspacesRead,
    Scope::ChannelsRead,
    Scope::ChannelsWrite,
    Scope::MessagesRead,
    Scope::MessagesWrite,
    Scope::ThreadsRead,
    Scope::ThreadsWrite,
    Scope::DmsRead,
    Scope::DmsWrite,
    Scope::RealtimeRead,
    Scope::UploadsWrite,
    Scope::ProfileRead,
    Scope::CommandsWrite,
    Scope::AgentActivityWrite,
];

/// Name of the read bundle.
pub const BUNDLE_BOT_READ: &str = "bot:read";
/// Name of the write bundle (the default when no scope is given).
pub const BUNDLE_BOT_WRITE: &str = "bot:write";
/// Name of the admin bundle.
pub const BUNDLE_BOT_ADMIN: &str = "bot:admin";

/// `bot:read`: read access to workspaces, channels, messages, threads, DMs, realtime and profile.
pub const BOT_READ: &[Scope] = &[
    Scope::WorkspacesRead,
    Scope::ChannelsRead,
    Scope::MessagesRead,
    Scope::ThreadsRead,
    Scope::DmsRead,
    Scope::RealtimeRead,
    Scope::ProfileRead,
];

/// `bot:write`: `bot:read` plus messages, threads, DMs, uploads and commands writes.
pub const BOT_WRITE: &[Scope] = &[
    Scope::WorkspacesRead,
    Scope::ChannelsRead,
    Scope::MessagesRead,
    Scope::ThreadsRead,
    Scope::DmsRead,
    Scope::RealtimeRead,
    Scope::ProfileRead,
    Scope::MessagesWrite,
    Scope::ThreadsWrite,
    Scope::DmsWrite,
    Scope::UploadsWrite,
    Scope::CommandsWrite,
];

/// `bot:admin`: `bot:write` plus `channels:write`.
pub const BOT_ADMIN: &[Scope] = &[
    Scope::WorkspacesRead,
    Scope::ChannelsRead,
    Scope::MessagesRead,
    Scope::ThreadsRead,
    Scope::DmsRead,
    Scope::RealtimeRead,
    Scope::ProfileRead,
    Scope::MessagesWrite,
    Scope::ThreadsWrite,
    Scope::DmsWrite,
    Scope::UploadsWrite,
    Scope::CommandsWrite,
    Scope::ChannelsWrite,
];

/// The concrete scopes of a bundle name, or `None` if `name` is not a bundle.
pub fn bundle(name: &str) -> Option<&'static [Scope]> {
    match name {
        BUNDLE_BOT_READ => Some(BOT_READ),
        BUNDLE_BOT_WRITE => Some(BOT_WRITE),
        BUNDLE_BOT_ADMIN => Some(BOT_ADMIN),
        _ => None,
    }
}

/// A scope string the server would reject when issuing a bot token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bot scope: {0}")]
pub struct UnknownScope(pub String);

/// Expands scope inputs exactly as the server does when it issues a bot token
/// (`normalizeBotScopes`, protocol.md §3.2):
///
/// 1. each input is split on `,` and every part is trimmed (empty parts skipped);
/// 2. bundle names expand to their concrete scopes;
/// 3. anything else must be a grantable scope, otherwise the error is
///    `unknown bot scope: <x>`;
/// 4. the result is de-duplicated and sorted by scope string;
/// 5. an empty result defaults to the `bot:write` bundle.
///
/// ```
/// use clickclack_proto::{expand_scopes, Scope};
/// let scopes = expand_scopes(["bot:read, messages:write"]).unwrap();
/// assert!(scopes.contains(&Scope::MessagesWrite));
/// assert_eq!(
///     expand_scopes(["nope"]).unwrap_err().to_string(),
///     "unknown bot scope: nope"
/// );
/// ```
pub fn expand_scopes<I, S>(inputs: I) -> Result<Vec<Scope>, UnknownScope>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<Scope> = Vec::new();
    for input in inputs {
        for part in input.as_ref().split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if let Some(scopes) = bundle(part) {
                out.extend_from_slice(scopes);
                continue;
            }
            let scope = Scope::from_wire(part);
            if !scope.is_grantable_to_bots() {
                return Err(UnknownScope(part.to_owned()));
            }
            out.push(scope);
        }
    }
    if out.is_empty() {
        out.extend_from_slice(BOT_WRITE);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether a (possibly bundle-containing) scope list grants `needed`
/// once expanded; an invalid list grants nothing.
pub fn scopes_grant<I, S>(granted: I, needed: &Scope) -> bool
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    expand_scopes(granted).is_ok_and(|s| s.contains(needed))
}
