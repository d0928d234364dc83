//! Accounts: listing, the implicit `default` account, key normalisation,
//! `defaultAccount`, inheritance and merges, and the fully resolved account
//! (reference §1 rows 3–6).
//!
//! Two config shapes are supported, as in the OpenClaw docs:
//!
//! * **single account** — keys directly under `channels.clickclack`
//!   (`baseUrl`, `token`, `workspace`, …) form the implicit `default` account;
//! * **multiple accounts** — `channels.clickclack.accounts.<id>` entries that
//!   inherit every root key (except `accounts` / `defaultAccount`), with
//!   `defaultAccount` choosing the one used when none is named.
//!
//! ```
//! use openclaw_clickclack::accounts::{default_account_id, list_account_ids, resolve_account};
//! use openclaw_clickclack::config::{MapEnv, parse_config_str};
//!
//! let env = MapEnv::new().with("SERVICE_TOKEN", "ccb_service");
//! let config = parse_config_str(r#"{
//!   channels: { clickclack: {
//!     baseUrl: "https://clickclack.example.com/",
//!     defaultAccount: "service",
//!     accounts: {
//!       service: { token: { source: "env", provider: "default", id: "SERVICE_TOKEN" }, workspace: "default" },
//!       "Work Team": { token: "ccb_work", workspace: "work" },
//!     },
//!   } },
//! }"#, &env)?;
//!
//! assert_eq!(list_account_ids(&config, &env), ["service", "work-team"]);
//! assert_eq!(default_account_id(&config, &env), "service");
//! let service = resolve_account(&config, None, &env)?;
//! assert_eq!(service.base_url, "https://clickclack.example.com");
//! assert_eq!(service.token.expose_secret(), "ccb_service");
//! assert!(service.configured);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use crate::config::{
    AccountConfig, AllowBots, BotLoopProtection, ClickClackConfig, EnvSource, GroupConfig,
    MAX_RECONNECT_MS, MIN_RECONNECT_MS, OpenClawConfig, ReplyMode,
};
use crate::errors::ClickClackError;
use crate::secrets::{
    BOT_TOKEN_ENV, CredentialDiagnostic, CredentialWarning, Secret, SecretError, TokenRequest,
    TokenSource, TokenStatus, resolve_token,
};

/// The implicit account id.
pub const DEFAULT_ACCOUNT_ID: &str = "default";
/// Resolved `defaultTo` when none is configured.
pub const DEFAULT_TARGET: &str = "channel:general";
/// Resolved `reconnectMs` when none is configured.
pub const DEFAULT_RECONNECT_MS: u64 = 1_500;
/// Resolved `catchUpMaxAge` when none is configured: 10 minutes.
pub const DEFAULT_CATCH_UP_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// Resolved `discussions.section` when none is configured.
pub const DEFAULT_DISCUSSIONS_SECTION: &str = "Sessions";
/// Hard cap on outbound media (64 MiB), whatever `mediaMaxMb` says.
pub const MEDIA_HARD_CAP_BYTES: u64 = 64 * 1024 * 1024;

const MAX_ACCOUNT_ID_LEN: usize = 64;
const BLOCKED_KEYS: &[&str] = &["__proto__", "constructor", "prototype"];

/// Normalises an account key into an account id (`"Work Team"` → `"work-team"`),
/// or `None` when nothing usable is left (blank, only symbols, or a
/// prototype-like key such as `__proto__`).
///
/// Rules (OpenClaw's `normalizeAccountId`): trim; a key that is already
/// `[a-z0-9][a-z0-9_-]{0,63}` (any case) is just lower-cased; otherwise it is
/// lower-cased, every run of characters outside `[a-z0-9_-]` becomes `-`,
/// leading and trailing `-` are removed, and the result is cut to 64
/// characters.
///
/// ```
/// use openclaw_clickclack::accounts::normalize_optional_account_id;
/// assert_eq!(normalize_optional_account_id(" Work Team ").as_deref(), Some("work-team"));
/// assert_eq!(normalize_optional_account_id("_prod").as_deref(), Some("_prod"));
/// assert_eq!(normalize_optional_account_id("   "), None);
/// assert_eq!(normalize_optional_account_id("!!!"), None);
/// ```
#[must_use]
pub fn normalize_optional_account_id(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let lower = trimmed.to_lowercase();
    let canonical = if is_valid_id(trimmed) {
        lower.clone()
    } else {
        let mut out = String::with_capacity(lower.len());
        let mut in_run = false;
        for c in lower.chars() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                out.push(c);
                in_run = false;
            } else if !in_run {
                out.push('-');
                in_run = true;
            }
        }
        let stripped = out.trim_start_matches('-').trim_end_matches('-');
        stripped.chars().take(MAX_ACCOUNT_ID_LEN).collect()
    };
    if canonical.is_empty()
        || BLOCKED_KEYS.contains(&lower.as_str())
        || BLOCKED_KEYS.contains(&canonical.as_str())
    {
        return None;
    }
    Some(canonical)
}

/// Like [`normalize_optional_account_id`], but blank or unusable → `"default"`.
#[must_use]
pub fn normalize_account_id(raw: &str) -> String {
    normalize_optional_account_id(raw).unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned())
}

fn is_valid_id(value: &str) -> bool {
    let mut bytes = value.bytes();
    value.len() <= MAX_ACCOUNT_ID_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `true` when the root of `channels.clickclack` forms the implicit `default`
/// account: a non-blank `baseUrl`, a credential (a configured `token`, a
/// non-blank `tokenFile`, or a non-blank `CLICKCLACK_BOT_TOKEN`), and a
/// non-blank `workspace`. A blank `token: "   "` does not count.
#[must_use]
pub fn has_implicit_default_account(config: &OpenClawConfig, env: &dyn EnvSource) -> bool {
    let Some(channel) = &config.clickclack else {
        return false;
    };
    let root = &channel.root;
    let has_credential = root.token.as_ref().is_some_and(|t| t.is_configured())
        || non_blank(root.token_file.as_deref()).is_some()
        || env.var(BOT_TOKEN_ENV).is_some_and(|v| !v.trim().is_empty());
    non_blank(root.base_url.as_deref()).is_some()
        && has_credential
        && non_blank(root.workspace.as_deref()).is_some()
}

/// Account ids: the normalised `accounts` keys plus the implicit `default`
/// (see [`has_implicit_default_account`]), deduplicated and sorted; `["default"]`
/// when there are none.
#[must_use]
pub fn list_account_ids(config: &OpenClawConfig, env: &dyn EnvSource) -> Vec<String> {
    let mut ids: Vec<String> = config
        .clickclack
        .as_ref()
        .and_then(|c| c.accounts.as_ref())
        .map(|accounts| {
            accounts
                .keys()
                .filter_map(|key| normalize_optional_account_id(key))
                .collect()
        })
        .unwrap_or_default();
    if has_implicit_default_account(config, env) {
        ids.push(DEFAULT_ACCOUNT_ID.to_owned());
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        ids.push(DEFAULT_ACCOUNT_ID.to_owned());
    }
    ids
}

/// The account used when none is named: `defaultAccount` (normalised) if it
/// is listed, else `default` if listed, else the first listed id.
#[must_use]
pub fn default_account_id(config: &OpenClawConfig, env: &dyn EnvSource) -> String {
    let ids = list_account_ids(config, env);
    let preferred = config
        .clickclack
        .as_ref()
        .and_then(|c| c.default_account.as_deref())
        .and_then(normalize_optional_account_id);
    if let Some(preferred) = preferred
        && ids.contains(&preferred)
    {
        return preferred;
    }
    if ids.iter().any(|id| id == DEFAULT_ACCOUNT_ID) {
        return DEFAULT_ACCOUNT_ID.to_owned();
    }
    ids.into_iter()
        .next()
        .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned())
}

/// The `accounts` entry for `account_id`: the exact key first, else the first
/// key that normalises to the same id.
#[must_use]
pub fn account_entry<'a>(
    channel: &'a ClickClackConfig,
    account_id: &str,
) -> Option<(&'a str, &'a AccountConfig)> {
    let accounts = channel.accounts.as_ref()?;
    if let Some((key, entry)) = accounts.get_key_value(account_id) {
        return Some((key.as_str(), entry));
    }
    let wanted = normalize_account_id(account_id);
    accounts
        .iter()
        .find(|(key, _)| normalize_optional_account_id(key).as_deref() == Some(wanted.as_str()))
        .map(|(key, entry)| (key.as_str(), entry))
}

/// The merged (inherited) config of one account, before defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MergedAccountConfig {
    /// Root keys overlaid with the account's keys (row 5 rules applied).
    pub config: AccountConfig,
    /// `true` when the effective `tokenFile` comes from the account entry
    /// (diagnostics then name `channels.clickclack.accounts.<id>.tokenFile`).
    pub token_file_from_account: bool,
}

fn merge_groups<'a>(
    sources: impl IntoIterator<Item = &'a BTreeMap<String, GroupConfig>>,
) -> BTreeMap<String, GroupConfig> {
    let mut merged: BTreeMap<String, GroupConfig> = BTreeMap::new();
    for source in sources {
        for (raw_key, value) in source {
            let key = raw_key.trim();
            if key.is_empty() {
                continue;
            }
            let entry = merged.entry(key.to_owned()).or_default();
            if value.require_mention.is_some() {
                entry.require_mention = value.require_mention;
            }
            if value.mention_patterns.is_some() {
                entry.mention_patterns.clone_from(&value.mention_patterns);
            }
            if value.allow_bots.is_some() {
                entry.allow_bots = value.allow_bots;
            }
            entry.bot_loop_protection = match (entry.bot_loop_protection, value.bot_loop_protection)
            {
                (Some(base), Some(over)) => Some(base.merged_with(over)),
                (base, over) => over.or(base),
            };
        }
    }
    merged
}

fn merge_nested<T: Clone>(
    base: Option<&T>,
    over: Option<&T>,
    merge: impl Fn(T, T) -> T,
) -> Option<T> {
    match (base, over) {
        (Some(b), Some(o)) => Some(merge(b.clone(), o.clone())),
        (b, o) => o.or(b).cloned(),
    }
}

/// Root keys overlaid with the account's keys: scalars and lists are taken
/// from the account when set; `botLoopProtection` and `discussions` are
/// merged field by field; `groups` per trimmed key and per field. Credentials:
/// an account `tokenFile` wins (the root token is ignored); else an account
/// `token` wins and the root `tokenFile` is dropped; else both are inherited.
#[must_use]
pub fn merged_account_config(config: &OpenClawConfig, account_id: &str) -> MergedAccountConfig {
    let Some(channel) = &config.clickclack else {
        return MergedAccountConfig::default();
    };
    let root = &channel.root;
    let empty = AccountConfig::default();
    let account = account_entry(channel, account_id).map_or(&empty, |(_, entry)| entry);

    macro_rules! pick {
        ($field:ident) => {
            account.$field.clone().or_else(|| root.$field.clone())
        };
    }
    let mut merged = AccountConfig {
        name: pick!(name),
        enabled: pick!(enabled),
        config_writes: pick!(config_writes),
        media_max_mb: pick!(media_max_mb),
        response_prefix: pick!(response_prefix),
        base_url: pick!(base_url),
        api_base_url: pick!(api_base_url),
        token: pick!(token),
        token_file: pick!(token_file),
        workspace: pick!(workspace),
        bot_user_id: pick!(bot_user_id),
        agent_id: pick!(agent_id),
        reply_mode: pick!(reply_mode),
        model: pick!(model),
        system_prompt: pick!(system_prompt),
        tools_allow: pick!(tools_allow),
        default_to: pick!(default_to),
        allow_from: pick!(allow_from),
        allow_bots: pick!(allow_bots),
        bot_loop_protection: merge_nested(
            root.bot_loop_protection.as_ref(),
            account.bot_loop_protection.as_ref(),
            BotLoopProtection::merged_with,
        ),
        reconnect_ms: pick!(reconnect_ms),
        agent_activity: pick!(agent_activity),
        native_progress: pick!(native_progress),
        command_menu: pick!(command_menu),
        require_mention: pick!(require_mention),
        mention_patterns: pick!(mention_patterns),
        groups: if root.groups.is_some() || account.groups.is_some() {
            Some(merge_groups(
                root.groups.iter().chain(account.groups.iter()),
            ))
        } else {
            None
        },
        discussions: merge_nested(
            root.discussions.as_ref(),
            account.discussions.as_ref(),
            crate::config::DiscussionsConfig::merged_with,
        ),
        catch_up_max_age: pick!(catch_up_max_age),
        tls: pick!(tls),
    };

    let account_token_file = non_blank(account.token_file.as_deref()).map(str::to_owned);
    let token_file_from_account = account_token_file.is_some();
    if let Some(file) = account_token_file {
        merged.token.clone_from(&account.token);
        merged.token_file = Some(file);
    } else if account.token.as_ref().is_some_and(|t| t.is_configured()) {
        merged.token.clone_from(&account.token);
        merged.token_file = None;
    }
    MergedAccountConfig {
        config: merged,
        token_file_from_account,
    }
}

/// Resolved `discussions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDiscussions {
    /// `enabled` (only `true` enables).
    pub enabled: bool,
    /// `discussions.workspace`, else the account workspace.
    pub workspace: String,
    /// `controlUrlBase` (trimmed), if set.
    pub control_url_base: Option<String>,
    /// `section`, else `Sessions`.
    pub section: String,
}

/// One account with every default applied (reference row 3). The token is a
/// [`Secret`]: `Debug` output never shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAccount {
    /// Normalised account id.
    pub account_id: String,
    /// `channels.clickclack.enabled != false && account.enabled != false`.
    pub enabled: bool,
    /// `baseUrl && tokenStatus != missing && workspace` (true even when a
    /// configured token file/ref is unavailable; the token is then empty).
    pub configured: bool,
    /// `name` (trimmed).
    pub name: Option<String>,
    /// `baseUrl` trimmed, one trailing `/` removed.
    pub base_url: String,
    /// `apiBaseUrl` (trimmed, one trailing `/` removed) or `base_url`: where
    /// REST and realtime traffic goes.
    pub api_endpoint: String,
    /// The bot token (empty unless `token_status` is available).
    pub token: Secret,
    /// Where the token came from.
    pub token_source: TokenSource,
    /// Whether the token is usable.
    pub token_status: TokenStatus,
    /// Why a configured token file is unusable (config paths only).
    pub credential_diagnostics: Vec<CredentialDiagnostic>,
    /// Non-fatal credential problems (e.g. world-readable token file).
    pub credential_warnings: Vec<CredentialWarning>,
    /// `workspace` (trimmed): id, slug or name.
    pub workspace: String,
    /// `botUserId` (trimmed).
    pub bot_user_id: Option<String>,
    /// `agentId` (trimmed).
    pub agent_id: Option<String>,
    /// `replyMode` (`model` only when set to `"model"`).
    pub reply_mode: ReplyMode,
    /// `model` (trimmed).
    pub model: Option<String>,
    /// `systemPrompt` (trimmed).
    pub system_prompt: Option<String>,
    /// `toolsAllow`.
    pub tools_allow: Option<Vec<String>>,
    /// `defaultTo` trimmed, else `channel:general`.
    pub default_to: String,
    /// `allowFrom`, else `["*"]`.
    pub allow_from: Vec<String>,
    /// `reconnectMs` clamped to 100..=60000, else 1500.
    pub reconnect_ms: u64,
    /// `agentActivity == true`.
    pub agent_activity: bool,
    /// `nativeProgress == true`.
    pub native_progress: bool,
    /// `commandMenu != false`.
    pub command_menu: bool,
    /// Resolved discussions settings.
    pub discussions: ResolvedDiscussions,
    /// `requireMention == true`.
    pub require_mention: bool,
    /// `mentionPatterns`, else empty.
    pub mention_patterns: Vec<String>,
    /// `allowBots`, else `false`.
    pub allow_bots: AllowBots,
    /// Merged `botLoopProtection`.
    pub bot_loop_protection: Option<BotLoopProtection>,
    /// `channels.defaults.botLoopProtection`: shared defaults under the
    /// account's own `botLoopProtection`.
    pub bot_loop_defaults: Option<BotLoopProtection>,
    /// Merged `groups` (trimmed keys).
    pub groups: BTreeMap<String, GroupConfig>,
    /// `responsePrefix`.
    pub response_prefix: Option<String>,
    /// `mediaMaxMb` as written.
    pub media_max_mb: Option<f64>,
    /// Outbound media limit: `min(mediaMaxMb MiB, 64 MiB)`.
    pub media_max_bytes: u64,
    /// `catchUpMaxAge` (inherited from the root like the other keys), else
    /// [`DEFAULT_CATCH_UP_MAX_AGE`]. The gateway's `--catch-up-max-age` flag
    /// ([`crate::gateway::GatewayOptions::catch_up_max_age`]) overrides it.
    pub catch_up_max_age: std::time::Duration,
    /// `tls.caFile` (trimmed): extra CA certificates trusted for this
    /// account's REST and realtime connections (see [`tls_settings`]).
    pub ca_file: Option<std::path::PathBuf>,
    /// The merged config (with `allowFrom` defaulted), as the TS `config` field.
    pub config: AccountConfig,
}

/// The environment variable naming a PEM file of extra trusted CA
/// certificates (the OpenSSL convention), for every account.
pub const SSL_CERT_FILE_ENV: &str = "SSL_CERT_FILE";

/// What a client trusts: the built-in roots, plus the certificates of
/// `ca_file` (an account's `tls.caFile`) and of `$SSL_CERT_FILE`. Never less:
/// certificate verification cannot be turned off. A leading `~/` in `ca_file`
/// is the home directory; a relative path is read from the working directory
/// (as `tokenFile`).
///
/// # Errors
/// A file that cannot be read or holds no certificate, named with where it
/// was configured and how to fix it.
pub fn tls_settings(
    ca_file: Option<(&std::path::Path, &str)>,
    env: &dyn EnvSource,
) -> Result<clickclack_client::TlsSettings, String> {
    type Key = Vec<(std::path::PathBuf, Option<std::time::SystemTime>, u64)>;
    // Every account of a process usually reads the same CA bundle: parse it
    // once and share the certificates (a system bundle is ~200 KiB parsed),
    // reading it again only when the file changed.
    static LOADED: std::sync::Mutex<Vec<(Key, clickclack_client::TlsSettings)>> =
        std::sync::Mutex::new(Vec::new());
    let ssl_cert_file = env.var(SSL_CERT_FILE_ENV).filter(|v| !v.trim().is_empty());
    // `~/…` is the home directory, as for `tokenFile`.
    let ca_file = ca_file.map(|(path, key)| (crate::config::path::expand_home(path, env), key));
    let ca_file = ca_file.as_ref().map(|(path, key)| (path.as_path(), *key));
    let key: Key = ca_file
        .map(|(path, _)| path.to_path_buf())
        .into_iter()
        .chain(
            ssl_cert_file
                .as_deref()
                .map(|f| std::path::PathBuf::from(f.trim())),
        )
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (path, modified, len)
        })
        .collect();
    let cached = || {
        let loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        loaded
            .iter()
            .find(|(k, _)| k == &key)
            .map(|(_, tls)| tls.clone())
    };
    if let Some(tls) = cached() {
        return Ok(tls);
    }
    let tls = load_tls_settings(ca_file, ssl_cert_file.as_deref())?;
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if loaded.len() >= 16 {
        loaded.remove(0);
    }
    loaded.push((key, tls.clone()));
    Ok(tls)
}

/// Reads `ca_file` and `SSL_CERT_FILE` into TLS settings (see [`tls_settings`]).
fn load_tls_settings(
    ca_file: Option<(&std::path::Path, &str)>,
    ssl_cert_file: Option<&str>,
) -> Result<clickclack_client::TlsSettings, String> {
    let mut tls = clickclack_client::TlsSettings::default();
    if let Some((path, config_path)) = ca_file {
        tls = tls.add_pem_file(path).map_err(|e| {
            format!(
                "{config_path}: {}; point it at a PEM file of your CA certificate(s)",
                transport_detail(&e)
            )
        })?;
    }
    if let Some(file) = ssl_cert_file {
        tls = tls.add_pem_file(file.trim()).map_err(|e| {
            format!(
                "{SSL_CERT_FILE_ENV}: {}; point it at a PEM file of CA certificates, or unset it",
                transport_detail(&e)
            )
        })?;
    }
    Ok(tls)
}

/// The text of a client error.
fn transport_detail(e: &clickclack_client::Error) -> String {
    e.to_string()
}

impl ResolvedAccount {
    /// The TLS trust for this account's client: `tls.caFile` and
    /// `$SSL_CERT_FILE` on top of the built-in roots ([`tls_settings`]).
    ///
    /// # Errors
    /// See [`tls_settings`].
    pub fn tls_settings(
        &self,
        env: &dyn EnvSource,
    ) -> Result<clickclack_client::TlsSettings, String> {
        let config_path = format!("{}.tls.caFile", self.config_path());
        tls_settings(
            self.ca_file.as_deref().map(|p| (p, config_path.as_str())),
            env,
        )
    }

    /// Where this account's keys live in the config file:
    /// `channels.clickclack` for `default`, else
    /// `channels.clickclack.accounts.<id>` (used to name invalid values).
    #[must_use]
    pub fn config_path(&self) -> String {
        if self.account_id == DEFAULT_ACCOUNT_ID {
            "channels.clickclack".to_owned()
        } else {
            format!("channels.clickclack.accounts.{}", self.account_id)
        }
    }

    /// Fails with `ClickClack is not configured for account "<id>"` (and a
    /// hint naming what is missing) unless the account is configured.
    ///
    /// # Errors
    /// [`ClickClackError::NotConfigured`].
    pub fn require_configured(&self) -> Result<(), ClickClackError> {
        if self.configured {
            return Ok(());
        }
        let mut missing = Vec::new();
        if self.base_url.is_empty() {
            missing.push("baseUrl");
        }
        if self.token_status == TokenStatus::Missing {
            missing.push("token");
        }
        if self.workspace.is_empty() {
            missing.push("workspace");
        }
        Err(ClickClackError::NotConfigured {
            account_id: self.account_id.clone(),
            missing,
        })
    }
}

fn trim_one_slash(value: &str) -> String {
    let trimmed = value.trim();
    trimmed.strip_suffix('/').unwrap_or(trimmed).to_owned()
}

fn optional_trimmed(value: Option<&str>) -> Option<String> {
    non_blank(value).map(str::to_owned)
}

/// Media limit in bytes for a `mediaMaxMb` value (capped at 64 MiB).
#[must_use]
pub fn media_max_bytes(media_max_mb: Option<f64>) -> u64 {
    match media_max_mb {
        Some(mb) if mb.is_finite() && mb > 0.0 => {
            let bytes = (mb * 1024.0 * 1024.0).floor();
            if bytes >= MEDIA_HARD_CAP_BYTES as f64 {
                MEDIA_HARD_CAP_BYTES
            } else {
                // In range 0..64 MiB, so the cast is exact.
                bytes as u64
            }
        }
        _ => MEDIA_HARD_CAP_BYTES,
    }
}

/// Clamps `reconnectMs` to 100..=60000 (1500 when unset).
#[must_use]
pub fn resolve_reconnect_ms(value: Option<i64>) -> u64 {
    value.map_or(DEFAULT_RECONNECT_MS, |v| {
        v.clamp(MIN_RECONNECT_MS, MAX_RECONNECT_MS).unsigned_abs()
    })
}

/// Resolves one account (`None` → [`default_account_id`]). Any id is
/// accepted, as in the TS plugin (an unknown id inherits the root keys); use
/// [`resolve_listed_account`] to reject ids that are not listed.
///
/// # Errors
/// [`SecretError`] when an env secret ref names a provider that is not allowed.
pub fn resolve_account(
    config: &OpenClawConfig,
    account_id: Option<&str>,
    env: &dyn EnvSource,
) -> Result<ResolvedAccount, SecretError> {
    let account_id = match account_id {
        Some(id) => normalize_account_id(id),
        None => default_account_id(config, env),
    };
    let MergedAccountConfig {
        config: mut merged,
        token_file_from_account,
    } = merged_account_config(config, &account_id);

    let token_file_config_path = if token_file_from_account {
        format!("channels.clickclack.accounts.{account_id}.tokenFile")
    } else {
        "channels.clickclack.tokenFile".to_owned()
    };
    let token = resolve_token(&TokenRequest {
        account_id: &account_id,
        token: merged.token.as_ref(),
        token_file: merged.token_file.as_deref(),
        token_file_config_path: &token_file_config_path,
        secrets: &config.secrets,
        env,
    })?;

    let root_enabled = config.clickclack.as_ref().and_then(|c| c.root.enabled) != Some(false);
    let base_url = merged
        .base_url
        .as_deref()
        .map(trim_one_slash)
        .unwrap_or_default();
    let api_endpoint = merged
        .api_base_url
        .as_deref()
        .map(trim_one_slash)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| base_url.clone());
    let workspace = merged
        .workspace
        .as_deref()
        .map(|w| w.trim().to_owned())
        .unwrap_or_default();
    let discussions = merged.discussions.clone().unwrap_or_default();
    let discussions = ResolvedDiscussions {
        enabled: discussions.enabled == Some(true),
        workspace: optional_trimmed(discussions.workspace.as_deref())
            .unwrap_or_else(|| workspace.clone()),
        control_url_base: optional_trimmed(discussions.control_url_base.as_deref()),
        section: optional_trimmed(discussions.section.as_deref())
            .unwrap_or_else(|| DEFAULT_DISCUSSIONS_SECTION.to_owned()),
    };
    let allow_from = merged
        .allow_from
        .clone()
        .unwrap_or_else(|| vec!["*".to_owned()]);
    merged.allow_from = Some(allow_from.clone());
    let groups = merged
        .groups
        .as_ref()
        .map(|g| merge_groups([g]))
        .unwrap_or_default();

    Ok(ResolvedAccount {
        enabled: root_enabled && merged.enabled != Some(false),
        configured: !base_url.is_empty()
            && token.status != TokenStatus::Missing
            && !workspace.is_empty(),
        name: optional_trimmed(merged.name.as_deref()),
        api_endpoint,
        token: token.token,
        token_source: token.source,
        token_status: token.status,
        credential_diagnostics: token.diagnostics,
        credential_warnings: token.warnings,
        bot_user_id: optional_trimmed(merged.bot_user_id.as_deref()),
        agent_id: optional_trimmed(merged.agent_id.as_deref()),
        reply_mode: if merged.reply_mode == Some(ReplyMode::Model) {
            ReplyMode::Model
        } else {
            ReplyMode::Agent
        },
        model: optional_trimmed(merged.model.as_deref()),
        system_prompt: optional_trimmed(merged.system_prompt.as_deref()),
        tools_allow: merged.tools_allow.clone(),
        default_to: optional_trimmed(merged.default_to.as_deref())
            .unwrap_or_else(|| DEFAULT_TARGET.to_owned()),
        allow_from,
        reconnect_ms: resolve_reconnect_ms(merged.reconnect_ms),
        agent_activity: merged.agent_activity == Some(true),
        native_progress: merged.native_progress == Some(true),
        command_menu: merged.command_menu != Some(false),
        discussions,
        require_mention: merged.require_mention == Some(true),
        mention_patterns: merged.mention_patterns.clone().unwrap_or_default(),
        allow_bots: merged.allow_bots.unwrap_or_default(),
        bot_loop_protection: merged.bot_loop_protection,
        bot_loop_defaults: config.channel_defaults_bot_loop_protection,
        groups,
        response_prefix: merged.response_prefix.clone(),
        media_max_mb: merged.media_max_mb,
        media_max_bytes: media_max_bytes(merged.media_max_mb),
        catch_up_max_age: merged.catch_up_max_age.unwrap_or(DEFAULT_CATCH_UP_MAX_AGE),
        ca_file: merged
            .tls
            .as_ref()
            .and_then(|t| optional_trimmed(t.ca_file.as_deref()))
            .map(std::path::PathBuf::from),
        base_url,
        workspace,
        account_id,
        config: merged,
    })
}

/// Refuses two **enabled** accounts that would run as the same bot: the same
/// non-empty token against the same API endpoint. The reference lists the
/// implicit `default` account next to named accounts, and named accounts
/// inherit the root `token`; so a root token plus `accounts: { work: {} }`
/// would start the same bot twice and answer every message twice. This is
/// the config-level check (no request leaves the process); the gateway also
/// refuses two accounts whose `/api/me` is the same bot user.
///
/// # Errors
/// [`ClickClackError::SharedToken`] naming both accounts; `inherited` is set
/// when the second account's token comes from the root keys.
pub fn refuse_shared_tokens(
    config: &OpenClawConfig,
    accounts: &[ResolvedAccount],
) -> Result<(), ClickClackError> {
    let enabled: Vec<&ResolvedAccount> = accounts.iter().filter(|a| a.enabled).collect();
    for (i, a) in enabled.iter().enumerate() {
        let token = a.token.expose_secret();
        if token.trim().is_empty() {
            continue;
        }
        if let Some(b) = enabled[i + 1..]
            .iter()
            .find(|b| b.token.expose_secret() == token && b.api_endpoint == a.api_endpoint)
        {
            return Err(ClickClackError::SharedToken {
                first: a.account_id.clone(),
                second: b.account_id.clone(),
                inherited: inherits_root_credential(config, &b.account_id),
            });
        }
    }
    Ok(())
}

/// `true` when `account_id` is a named account that sets neither `token` nor
/// `tokenFile` while the root does (so it inherits the root credential).
fn inherits_root_credential(config: &OpenClawConfig, account_id: &str) -> bool {
    let Some(channel) = &config.clickclack else {
        return false;
    };
    let root_has = channel
        .root
        .token
        .as_ref()
        .is_some_and(|t| t.is_configured())
        || non_blank(channel.root.token_file.as_deref()).is_some();
    let own = account_entry(channel, account_id).is_some_and(|(_, entry)| {
        entry.token.as_ref().is_some_and(|t| t.is_configured())
            || non_blank(entry.token_file.as_deref()).is_some()
    });
    account_id != DEFAULT_ACCOUNT_ID && root_has && !own
}

/// Resolves an account that must be listed ([`list_account_ids`]); `None`
/// picks [`default_account_id`].
///
/// # Errors
/// [`ClickClackError::UnknownAccount`] for an id that is not listed;
/// [`ClickClackError::Secret`] from token resolution.
pub fn resolve_listed_account(
    config: &OpenClawConfig,
    account_id: Option<&str>,
    env: &dyn EnvSource,
) -> Result<ResolvedAccount, ClickClackError> {
    let ids = list_account_ids(config, env);
    if let Some(raw) = account_id {
        let id = normalize_account_id(raw);
        if !ids.contains(&id) {
            return Err(ClickClackError::UnknownAccount {
                account_id: id,
                known: ids,
            });
        }
    }
    Ok(resolve_account(config, account_id, env)?)
}

/// Every listed account, resolved (including disabled ones).
///
/// # Errors
/// The first [`SecretError`] met.
pub fn resolve_all_accounts(
    config: &OpenClawConfig,
    env: &dyn EnvSource,
) -> Result<Vec<ResolvedAccount>, SecretError> {
    list_account_ids(config, env)
        .iter()
        .map(|id| resolve_account(config, Some(id), env))
        .collect()
}

/// The enabled accounts (`listEnabledClickClackAccounts`).
///
/// # Errors
/// The first [`SecretError`] met.
pub fn list_enabled_accounts(
    config: &OpenClawConfig,
    env: &dyn EnvSource,
) -> Result<Vec<ResolvedAccount>, SecretError> {
    Ok(resolve_all_accounts(config, env)?
        .into_iter()
        .filter(|account| account.enabled)
        .collect())
}
