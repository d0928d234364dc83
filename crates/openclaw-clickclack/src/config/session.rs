//! The host sections the gateway's host features read, leniently (a value of
//! the wrong type is skipped with a warning, like `models` and `agents`):
//!
//! - `session`: `dmScope` (`main` default, `per-peer`, `per-channel-peer`,
//!   `per-account-channel-peer`), `mainKey` (default `main`), `identityLinks`
//!   (`{ "<canonical>": ["clickclack:usr_…", …] }`) and our extension
//!   `threadSessions` (default `false`: thread replies share their channel's
//!   session, as the host does);
//! - `commands`: `allowFrom` (`{ "clickclack": [...] }`, `{ "*": [...] }` or
//!   a plain list) and `ownerAllowFrom` (a list of `clickclack:<usr_id>`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::reader::Issues;
use super::substitute::child_path;

/// How direct messages map to sessions (`session.dmScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DmScope {
    /// Every DM shares the agent's main session (the host default).
    #[default]
    Main,
    /// One session per peer, across channels.
    PerPeer,
    /// One session per channel and peer.
    PerChannelPeer,
    /// One session per account, channel and peer.
    PerAccountChannelPeer,
}

impl DmScope {
    /// Parses the config spelling.
    pub fn parse(value: &str) -> Option<DmScope> {
        match value.trim() {
            "main" => Some(DmScope::Main),
            "per-peer" => Some(DmScope::PerPeer),
            "per-channel-peer" => Some(DmScope::PerChannelPeer),
            "per-account-channel-peer" => Some(DmScope::PerAccountChannelPeer),
            _ => None,
        }
    }
}

/// `session`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionConfig {
    /// `dmScope`.
    pub dm_scope: DmScope,
    /// `mainKey` (default `main`).
    pub main_key: Option<String>,
    /// `identityLinks`: canonical name → peer ids (`clickclack:usr_1`, …).
    pub identity_links: BTreeMap<String, Vec<String>>,
    /// `threadSessions` (our extension): one session per thread.
    pub thread_sessions: bool,
}

/// `commands`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandsConfig {
    /// `allowFrom` entries that apply to ClickClack (`clickclack` and `*`
    /// keys, or a plain list); `None` when unset.
    pub allow_from: Option<Vec<String>>,
    /// `ownerAllowFrom`.
    pub owner_allow_from: Vec<String>,
}

fn strings(value: &Value, path: &str, warnings: &mut Issues) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                other => {
                    warnings.invalid_type(&format!("{path}[{i}]"), "string", other);
                    None
                }
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => {
            warnings.invalid_type(path, "array of strings", other);
            Vec::new()
        }
    }
}

fn object<'a>(
    value: &'a Value,
    path: &str,
    warnings: &mut Issues,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        other => {
            warnings.invalid_type(path, "object", other);
            None
        }
    }
}

/// Decodes `session`.
pub(crate) fn decode_session(value: &Value, warnings: &mut Issues) -> SessionConfig {
    let path = "session";
    let mut out = SessionConfig::default();
    let Some(map) = object(value, path, warnings) else {
        return out;
    };
    match map.get("dmScope") {
        None => {}
        Some(Value::String(s)) => match DmScope::parse(s) {
            Some(scope) => out.dm_scope = scope,
            None => warnings.invalid_value(
                &child_path(path, "dmScope"),
                format!("unknown dmScope \"{s}\" (expected main, per-peer, per-channel-peer or per-account-channel-peer); using main"),
            ),
        },
        Some(other) => warnings.invalid_type(&child_path(path, "dmScope"), "string", other),
    }
    match map.get("mainKey") {
        None => {}
        Some(Value::String(s)) if !s.trim().is_empty() => out.main_key = Some(s.trim().to_owned()),
        Some(Value::String(_)) => {}
        Some(other) => warnings.invalid_type(&child_path(path, "mainKey"), "string", other),
    }
    if let Some(links) = map.get("identityLinks") {
        let lpath = child_path(path, "identityLinks");
        if let Some(links) = object(links, &lpath, warnings) {
            for (name, ids) in links {
                let ids = strings(ids, &child_path(&lpath, name), warnings);
                out.identity_links.insert(name.clone(), ids);
            }
        }
    }
    match map.get("threadSessions") {
        None => {}
        Some(Value::Bool(b)) => out.thread_sessions = *b,
        Some(other) => warnings.invalid_type(&child_path(path, "threadSessions"), "boolean", other),
    }
    out
}

/// Decodes `commands`.
pub(crate) fn decode_commands(value: &Value, warnings: &mut Issues) -> CommandsConfig {
    let path = "commands";
    let mut out = CommandsConfig::default();
    let Some(map) = object(value, path, warnings) else {
        return out;
    };
    if let Some(allow) = map.get("allowFrom") {
        let apath = child_path(path, "allowFrom");
        out.allow_from = match allow {
            Value::Object(by_channel) => {
                let mut entries = Vec::new();
                let mut any = false;
                for key in ["clickclack", "*"] {
                    if let Some(list) = by_channel.get(key) {
                        any = true;
                        entries.extend(strings(list, &child_path(&apath, key), warnings));
                    }
                }
                any.then_some(entries)
            }
            other => Some(strings(other, &apath, warnings)),
        };
    }
    if let Some(owners) = map.get("ownerAllowFrom") {
        out.owner_allow_from = strings(owners, &child_path(path, "ownerAllowFrom"), warnings);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_session_and_commands() {
        let mut w = Issues::default();
        let s = decode_session(
            &json!({"dmScope": "per-channel-peer", "mainKey": "home", "identityLinks": {"alice": ["clickclack:usr_1"]}, "threadSessions": true}),
            &mut w,
        );
        assert_eq!(s.dm_scope, DmScope::PerChannelPeer);
        assert_eq!(s.main_key.as_deref(), Some("home"));
        assert_eq!(s.identity_links["alice"], ["clickclack:usr_1"]);
        assert!(s.thread_sessions);
        let c = decode_commands(
            &json!({"allowFrom": {"clickclack": ["usr_1"], "telegram": ["x"]}, "ownerAllowFrom": ["clickclack:usr_1"]}),
            &mut w,
        );
        assert_eq!(c.allow_from, Some(vec!["usr_1".to_owned()]));
        assert_eq!(c.owner_allow_from, ["clickclack:usr_1"]);
        assert!(w.is_empty());
        let c = decode_commands(&json!({"allowFrom": {"telegram": ["x"]}}), &mut w);
        assert_eq!(c.allow_from, None);
        let s = decode_session(&json!({"dmScope": "weird"}), &mut w);
        assert_eq!(s.dm_scope, DmScope::Main);
        assert!(!w.is_empty());
    }
}
