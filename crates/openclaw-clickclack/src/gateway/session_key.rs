//! Session keys exactly as the OpenClaw host derives them for ClickClack.
//!
//! The host routes a ClickClack message with the peer `{kind: "direct", id:
//! "dm:<author_id>"}` or `{kind: "channel", id: "channel:<channel_id>"}`:
//!
//! - channel (and every thread reply in it): `agent:<agent>:clickclack:channel:channel:<chn>`;
//! - direct, by `session.dmScope`: `main` → `agent:<agent>:<mainKey>`;
//!   `per-peer` → `agent:<agent>:direct:dm:<usr>`; `per-channel-peer` →
//!   `agent:<agent>:clickclack:direct:dm:<usr>`; `per-account-channel-peer` →
//!   `agent:<agent>:clickclack:<account>:direct:dm:<usr>`;
//! - `session.identityLinks` replaces the peer by its canonical name (not
//!   under `main`), e.g. `agent:main:clickclack:direct:alice`;
//! - the whole key is lower-cased; the agent id is normalised to
//!   `[a-z0-9][a-z0-9_-]{0,63}` (else `main`).
//!
//! Threads share their channel's session unless `session.threadSessions:
//! true` (our opt-in) appends `:thread:<root message id>`.

use clickclack_proto::objects::Message;

use crate::config::{DmScope, SessionConfig};

/// The channel name in session keys.
const CHANNEL: &str = "clickclack";

/// Normalises an agent id like the host: lower-cased, `[a-z0-9][a-z0-9_-]{0,63}`,
/// anything else becomes `main`.
pub fn normalize_agent_id(raw: &str) -> String {
    let id = raw.trim().to_lowercase();
    let valid = !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid { id } else { "main".to_owned() }
}

/// The peer of a message as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A direct message from this user id.
    Direct(String),
    /// A channel message (top level or thread reply) in this channel id;
    /// `thread` is the root of a thread reply.
    Channel {
        /// Channel id.
        channel: String,
        /// Thread root id of a thread reply.
        thread: Option<String>,
    },
}

impl Peer {
    /// The peer of a fetched message.
    pub fn of(message: &Message) -> Peer {
        let thread = message
            .parent_message_id
            .as_ref()
            .map(|_| message.thread_root_id.as_str().to_owned())
            .filter(|s| !s.is_empty());
        match (&message.direct_conversation_id, &message.channel_id) {
            (None, Some(channel)) => Peer::Channel {
                channel: channel.as_str().to_owned(),
                thread,
            },
            _ => Peer::Direct(message.author_id.as_str().to_owned()),
        }
    }
}

/// Derives session keys for one account.
#[derive(Debug, Clone, Default)]
pub struct SessionKeys {
    config: SessionConfig,
}

impl SessionKeys {
    /// Keys under `session`.
    pub fn new(config: SessionConfig) -> Self {
        SessionKeys { config }
    }

    fn linked(&self, user: &str) -> Option<String> {
        let wanted = [format!("{CHANNEL}:{user}"), format!("{CHANNEL}:dm:{user}")];
        self.config.identity_links.iter().find_map(|(name, ids)| {
            ids.iter()
                .any(|id| wanted.iter().any(|w| id.trim().eq_ignore_ascii_case(w)))
                .then(|| name.trim().to_owned())
                .filter(|n| !n.is_empty())
        })
    }

    /// The session key of `peer` for `agent_id` on `account_id`.
    pub fn key(&self, agent_id: &str, account_id: &str, peer: &Peer) -> String {
        let agent = normalize_agent_id(agent_id);
        let key = match peer {
            Peer::Channel { channel, thread } => {
                let base = format!("agent:{agent}:{CHANNEL}:channel:channel:{channel}");
                match thread {
                    Some(root) if self.config.thread_sessions => format!("{base}:thread:{root}"),
                    _ => base,
                }
            }
            Peer::Direct(user) => {
                let peer_id = self.linked(user).unwrap_or_else(|| format!("dm:{user}"));
                match self.config.dm_scope {
                    DmScope::Main => {
                        let main = self.config.main_key.as_deref().unwrap_or("main");
                        format!("agent:{agent}:{main}")
                    }
                    DmScope::PerPeer => format!("agent:{agent}:direct:{peer_id}"),
                    DmScope::PerChannelPeer => format!("agent:{agent}:{CHANNEL}:direct:{peer_id}"),
                    DmScope::PerAccountChannelPeer => {
                        format!("agent:{agent}:{CHANNEL}:{account_id}:direct:{peer_id}")
                    }
                }
            }
        };
        key.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(scope: DmScope) -> SessionKeys {
        SessionKeys::new(SessionConfig {
            dm_scope: scope,
            ..SessionConfig::default()
        })
    }

    #[test]
    fn host_keys() {
        let dm = Peer::Direct("usr_1".into());
        assert_eq!(
            keys(DmScope::Main).key("main", "default", &dm),
            "agent:main:main"
        );
        assert_eq!(
            keys(DmScope::PerPeer).key("main", "default", &dm),
            "agent:main:direct:dm:usr_1"
        );
        assert_eq!(
            keys(DmScope::PerChannelPeer).key("main", "default", &dm),
            "agent:main:clickclack:direct:dm:usr_1"
        );
        assert_eq!(
            keys(DmScope::PerAccountChannelPeer).key("SERVICE-BOT", "Work", &dm),
            "agent:service-bot:clickclack:work:direct:dm:usr_1"
        );
        let thread = Peer::Channel {
            channel: "chn_A".into(),
            thread: Some("msg_1".into()),
        };
        assert_eq!(
            keys(DmScope::Main).key("main", "default", &thread),
            "agent:main:clickclack:channel:channel:chn_a"
        );
        let opted = SessionKeys::new(SessionConfig {
            thread_sessions: true,
            ..SessionConfig::default()
        });
        assert_eq!(
            opted.key("main", "default", &thread),
            "agent:main:clickclack:channel:channel:chn_a:thread:msg_1"
        );
        let linked = SessionKeys::new(SessionConfig {
            dm_scope: DmScope::PerChannelPeer,
            identity_links: [("alice".to_owned(), vec!["clickclack:usr_1".to_owned()])].into(),
            ..SessionConfig::default()
        });
        assert_eq!(
            linked.key("service-bot", "default", &dm),
            "agent:service-bot:clickclack:direct:alice"
        );
        assert_eq!(normalize_agent_id("bad id!"), "main");
    }
}
