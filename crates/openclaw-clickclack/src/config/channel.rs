//! The strict `channels.clickclack` schema (reference §1 rows 1–2).
//!
//! Every object here is strict: an unknown key is an error naming its full
//! path, like the TypeScript plugin's Zod `.strict()` schema.

use std::collections::BTreeMap;

use serde_json::Value;

use super::reader::{Issues, Obj};
use crate::secrets::{SecretInput, decode_secret_input};

/// Keys allowed in one account (the root of `channels.clickclack` allows
/// these plus [`ROOT_ONLY_KEYS`]).
pub const ACCOUNT_KEYS: &[&str] = &[
    "name",
    "enabled",
    "configWrites",
    "mediaMaxMb",
    "responsePrefix",
    "baseUrl",
    "apiBaseUrl",
    "token",
    "tokenFile",
    "workspace",
    "botUserId",
    "agentId",
    "replyMode",
    "model",
    "systemPrompt",
    "toolsAllow",
    "defaultTo",
    "allowFrom",
    "allowBots",
    "botLoopProtection",
    "reconnectMs",
    "agentActivity",
    "nativeProgress",
    "commandMenu",
    "requireMention",
    "mentionPatterns",
    "groups",
    "discussions",
    "catchUpMaxAge",
    "tls",
];

/// Keys allowed only at the root of `channels.clickclack`.
pub const ROOT_ONLY_KEYS: &[&str] = &["accounts", "defaultAccount", "historyLimit"];

/// Lowest accepted `reconnectMs`.
pub const MIN_RECONNECT_MS: i64 = 100;
/// Highest accepted `reconnectMs`.
pub const MAX_RECONNECT_MS: i64 = 60_000;

/// `replyMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    /// `"agent"`: the full agent pipeline (the default).
    #[default]
    Agent,
    /// `"model"`: a direct single-turn model completion.
    Model,
}

impl ReplyMode {
    /// The config spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Model => "model",
        }
    }
}

/// `allowBots`: `false`, `true` or `"mentions"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllowBots {
    /// `false`: bot-authored messages are dropped (the default).
    #[default]
    False,
    /// `true`: allowed bot messages start turns.
    True,
    /// `"mentions"`: in groups only when this bot is mentioned; DMs always.
    Mentions,
}

/// `botLoopProtection` (all fields optional; merged field by field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BotLoopProtection {
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `maxEventsPerWindow` (positive integer).
    pub max_events_per_window: Option<u64>,
    /// `windowSeconds` (positive integer).
    pub window_seconds: Option<u64>,
    /// `cooldownSeconds` (positive integer).
    pub cooldown_seconds: Option<u64>,
}

impl BotLoopProtection {
    /// `self` overlaid with the fields `over` sets.
    #[must_use]
    pub fn merged_with(self, over: Self) -> Self {
        Self {
            enabled: over.enabled.or(self.enabled),
            max_events_per_window: over.max_events_per_window.or(self.max_events_per_window),
            window_seconds: over.window_seconds.or(self.window_seconds),
            cooldown_seconds: over.cooldown_seconds.or(self.cooldown_seconds),
        }
    }
}

/// One entry of `groups` (keyed by channel id or `"*"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupConfig {
    /// `requireMention`.
    pub require_mention: Option<bool>,
    /// `mentionPatterns` (regular expressions).
    pub mention_patterns: Option<Vec<String>>,
    /// `allowBots`.
    pub allow_bots: Option<AllowBots>,
    /// `botLoopProtection`.
    pub bot_loop_protection: Option<BotLoopProtection>,
}

/// `discussions`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiscussionsConfig {
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `workspace` (defaults to the account workspace).
    pub workspace: Option<String>,
    /// `controlUrlBase` (an http(s) URL).
    pub control_url_base: Option<String>,
    /// `section` (defaults to `Sessions`).
    pub section: Option<String>,
}

impl DiscussionsConfig {
    /// `self` overlaid with the fields `over` sets (a shallow object merge).
    #[must_use]
    pub fn merged_with(self, over: Self) -> Self {
        Self {
            enabled: over.enabled.or(self.enabled),
            workspace: over.workspace.or(self.workspace),
            control_url_base: over.control_url_base.or(self.control_url_base),
            section: over.section.or(self.section),
        }
    }
}

/// `tls` (not in the TypeScript plugin): extra trust for a server behind a
/// private CA. Verification is never turned off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// `caFile`: a PEM file of CA certificates trusted in addition to the
    /// built-in roots, for REST and the realtime WebSocket.
    pub ca_file: Option<String>,
}

/// One account's keys as written (every field optional). Used both for the
/// root of `channels.clickclack` and for each `accounts.<id>` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountConfig {
    /// `name`.
    pub name: Option<String>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `configWrites`.
    pub config_writes: Option<bool>,
    /// `mediaMaxMb` (> 0).
    pub media_max_mb: Option<f64>,
    /// `responsePrefix`.
    pub response_prefix: Option<String>,
    /// `baseUrl`.
    pub base_url: Option<String>,
    /// `apiBaseUrl`.
    pub api_base_url: Option<String>,
    /// `token` (a plain string or a secret ref); never printed.
    pub token: Option<SecretInput>,
    /// `tokenFile`.
    pub token_file: Option<String>,
    /// `workspace` (id, slug or name).
    pub workspace: Option<String>,
    /// `botUserId`.
    pub bot_user_id: Option<String>,
    /// `agentId`.
    pub agent_id: Option<String>,
    /// `replyMode`.
    pub reply_mode: Option<ReplyMode>,
    /// `model`.
    pub model: Option<String>,
    /// `systemPrompt`.
    pub system_prompt: Option<String>,
    /// `toolsAllow`.
    pub tools_allow: Option<Vec<String>>,
    /// `defaultTo`.
    pub default_to: Option<String>,
    /// `allowFrom`.
    pub allow_from: Option<Vec<String>>,
    /// `allowBots`.
    pub allow_bots: Option<AllowBots>,
    /// `botLoopProtection`.
    pub bot_loop_protection: Option<BotLoopProtection>,
    /// `reconnectMs` (100..=60000 in files; clamped when resolved).
    pub reconnect_ms: Option<i64>,
    /// `agentActivity`.
    pub agent_activity: Option<bool>,
    /// `nativeProgress`.
    pub native_progress: Option<bool>,
    /// `commandMenu`.
    pub command_menu: Option<bool>,
    /// `requireMention`.
    pub require_mention: Option<bool>,
    /// `mentionPatterns`.
    pub mention_patterns: Option<Vec<String>>,
    /// `groups`, keyed as written.
    pub groups: Option<BTreeMap<String, GroupConfig>>,
    /// `discussions`.
    pub discussions: Option<DiscussionsConfig>,
    /// `catchUpMaxAge` (not in the TypeScript plugin): how old a backlog
    /// message may be and still be answered after a restart or resync. A
    /// number of seconds (`600`) or a duration string (`"10m"`, `"30s"`,
    /// `"1h30m"`); `0` answers no backlog at all.
    pub catch_up_max_age: Option<std::time::Duration>,
    /// `tls`.
    pub tls: Option<TlsConfig>,
}

/// `channels.clickclack`: the root account plus the multi-account keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClickClackConfig {
    /// The keys written directly under `channels.clickclack` (the implicit
    /// `default` account, and what named accounts inherit).
    pub root: AccountConfig,
    /// `accounts`, keyed as written (normalise with
    /// [`crate::accounts::normalize_account_id`]).
    pub accounts: Option<BTreeMap<String, AccountConfig>>,
    /// `defaultAccount`.
    pub default_account: Option<String>,
    /// `historyLimit` (root only): in model mode, how many earlier messages
    /// of the thread or DM are sent to the model as context (the TS plugin
    /// accepts the key but never uses it).
    pub history_limit: Option<u64>,
}

fn decode_reply_mode(obj: &Obj<'_>, issues: &mut Issues) -> Option<ReplyMode> {
    let value = obj.get("replyMode")?;
    match value.as_str() {
        Some("agent") => Some(ReplyMode::Agent),
        Some("model") => Some(ReplyMode::Model),
        Some(_) => {
            issues.invalid_value(&obj.child("replyMode"), "expected \"agent\" or \"model\"");
            None
        }
        None => {
            issues.invalid_type(&obj.child("replyMode"), "string", value);
            None
        }
    }
}

fn decode_allow_bots(obj: &Obj<'_>, issues: &mut Issues) -> Option<AllowBots> {
    let value = obj.get("allowBots")?;
    match value {
        Value::Bool(true) => Some(AllowBots::True),
        Value::Bool(false) => Some(AllowBots::False),
        Value::String(s) if s == "mentions" => Some(AllowBots::Mentions),
        Value::String(_) => {
            issues.invalid_value(
                &obj.child("allowBots"),
                "expected true, false or \"mentions\"",
            );
            None
        }
        other => {
            issues.invalid_type(&obj.child("allowBots"), "boolean or \"mentions\"", other);
            None
        }
    }
}

fn decode_bot_loop(obj: &Obj<'_>, issues: &mut Issues) -> Option<BotLoopProtection> {
    let value = obj.get("botLoopProtection")?;
    decode_bot_loop_at(value, &obj.child("botLoopProtection"), issues)
}

/// Decodes a strict `botLoopProtection` object found at `path`.
pub(crate) fn decode_bot_loop_at(
    value: &Value,
    path: &str,
    issues: &mut Issues,
) -> Option<BotLoopProtection> {
    let inner = Obj::new(value, path, issues)?;
    inner.deny_unknown(
        &[
            "enabled",
            "maxEventsPerWindow",
            "windowSeconds",
            "cooldownSeconds",
        ],
        issues,
    );
    let positive = |key: &str, issues: &mut Issues| {
        inner
            .integer(key, 1, i64::MAX, issues)
            .and_then(|v| u64::try_from(v).ok())
    };
    Some(BotLoopProtection {
        enabled: inner.boolean("enabled", issues),
        max_events_per_window: positive("maxEventsPerWindow", issues),
        window_seconds: positive("windowSeconds", issues),
        cooldown_seconds: positive("cooldownSeconds", issues),
    })
}

fn decode_groups(obj: &Obj<'_>, issues: &mut Issues) -> Option<BTreeMap<String, GroupConfig>> {
    let value = obj.get("groups")?;
    let groups = Obj::new(value, &obj.child("groups"), issues)?;
    let mut out = BTreeMap::new();
    for (key, entry) in groups.map {
        let Some(group) = Obj::new(entry, &groups.child(key), issues) else {
            continue;
        };
        group.deny_unknown(
            &[
                "requireMention",
                "mentionPatterns",
                "allowBots",
                "botLoopProtection",
            ],
            issues,
        );
        out.insert(
            key.clone(),
            GroupConfig {
                require_mention: group.boolean("requireMention", issues),
                mention_patterns: group.strings("mentionPatterns", issues),
                allow_bots: decode_allow_bots(&group, issues),
                bot_loop_protection: decode_bot_loop(&group, issues),
            },
        );
    }
    Some(out)
}

fn decode_discussions(obj: &Obj<'_>, issues: &mut Issues) -> Option<DiscussionsConfig> {
    let value = obj.get("discussions")?;
    let inner = Obj::new(value, &obj.child("discussions"), issues)?;
    inner.deny_unknown(
        &["enabled", "workspace", "controlUrlBase", "section"],
        issues,
    );
    Some(DiscussionsConfig {
        enabled: inner.boolean("enabled", issues),
        workspace: inner.string("workspace", issues),
        control_url_base: inner.url("controlUrlBase", issues),
        section: inner.string("section", issues),
    })
}

fn decode_tls(obj: &Obj<'_>, issues: &mut Issues) -> Option<TlsConfig> {
    let value = obj.get("tls")?;
    let inner = Obj::new(value, &obj.child("tls"), issues)?;
    inner.deny_unknown(&["caFile"], issues);
    Some(TlsConfig {
        ca_file: inner.string("caFile", issues),
    })
}

/// Decodes the account keys of `obj` (unknown-key checking is the caller's job).
fn decode_account_fields(obj: &Obj<'_>, issues: &mut Issues) -> AccountConfig {
    AccountConfig {
        name: obj.string("name", issues),
        enabled: obj.boolean("enabled", issues),
        config_writes: obj.boolean("configWrites", issues),
        media_max_mb: obj.positive_number("mediaMaxMb", issues),
        response_prefix: obj.string("responsePrefix", issues),
        base_url: obj.url("baseUrl", issues),
        api_base_url: obj.url("apiBaseUrl", issues),
        token: obj
            .get("token")
            .and_then(|v| decode_secret_input(v, &obj.child("token"), issues)),
        token_file: obj.string("tokenFile", issues),
        workspace: obj.string("workspace", issues),
        bot_user_id: obj.string("botUserId", issues),
        agent_id: obj.string("agentId", issues),
        reply_mode: decode_reply_mode(obj, issues),
        model: obj.string("model", issues),
        system_prompt: obj.string("systemPrompt", issues),
        tools_allow: obj.strings("toolsAllow", issues),
        default_to: obj.string("defaultTo", issues),
        allow_from: obj.strings("allowFrom", issues),
        allow_bots: decode_allow_bots(obj, issues),
        bot_loop_protection: decode_bot_loop(obj, issues),
        reconnect_ms: obj.integer("reconnectMs", MIN_RECONNECT_MS, MAX_RECONNECT_MS, issues),
        agent_activity: obj.boolean("agentActivity", issues),
        native_progress: obj.boolean("nativeProgress", issues),
        command_menu: obj.boolean("commandMenu", issues),
        require_mention: obj.boolean("requireMention", issues),
        mention_patterns: obj.strings("mentionPatterns", issues),
        groups: decode_groups(obj, issues),
        discussions: decode_discussions(obj, issues),
        catch_up_max_age: obj.duration("catchUpMaxAge", issues),
        tls: decode_tls(obj, issues),
    }
}

/// Decodes `channels.clickclack` found at `path`.
pub(crate) fn decode_clickclack(
    value: &Value,
    path: &str,
    issues: &mut Issues,
) -> Option<ClickClackConfig> {
    let obj = Obj::new(value, path, issues)?;
    let allowed: Vec<&str> = ACCOUNT_KEYS.iter().chain(ROOT_ONLY_KEYS).copied().collect();
    obj.deny_unknown(&allowed, issues);
    let root = decode_account_fields(&obj, issues);

    let accounts = obj.get("accounts").and_then(|value| {
        let accounts = Obj::new(value, &obj.child("accounts"), issues)?;
        let mut out = BTreeMap::new();
        for (key, entry) in accounts.map {
            let Some(account) = Obj::new(entry, &accounts.child(key), issues) else {
                continue;
            };
            account.deny_unknown(ACCOUNT_KEYS, issues);
            out.insert(key.clone(), decode_account_fields(&account, issues));
        }
        check_account_keys(&accounts, issues);
        Some(out)
    });

    Some(ClickClackConfig {
        root,
        accounts,
        default_account: obj.string("defaultAccount", issues),
        history_limit: obj
            .integer("historyLimit", 0, i64::MAX, issues)
            .and_then(|v| u64::try_from(v).ok()),
    })
}

/// Account keys must normalise to a usable, unique account id.
fn check_account_keys(accounts: &Obj<'_>, issues: &mut Issues) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for key in accounts.map.keys() {
        match crate::accounts::normalize_optional_account_id(key) {
            None => issues.invalid_value(
                &accounts.child(key),
                "this key cannot be used as an account id (use letters, digits, '-' or '_')",
            ),
            Some(id) => {
                if let Some(previous) = seen.get(&id) {
                    issues.invalid_value(
                        &accounts.child(key),
                        format!(
                            "account id \"{id}\" is also used by the key \"{previous}\" (keys are normalised: \"Work Team\" and \"work-team\" are the same account)"
                        ),
                    );
                } else {
                    seen.insert(id, key);
                }
            }
        }
    }
}
