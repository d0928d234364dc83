//! Loading the OpenClaw config file (JSON5) and the ClickClack parts of it.
//!
//! ```
//! use openclaw_clickclack::config::{MapEnv, parse_config_str};
//!
//! let env = MapEnv::new().with("CC_URL", "https://clickclack.example.com");
//! let config = parse_config_str(
//!     r#"{
//!       // JSON5: comments, unquoted keys, trailing commas
//!       channels: {
//!         clickclack: {
//!           baseUrl: "${CC_URL}",
//!           token: { source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" },
//!           workspace: "default",
//!         },
//!       },
//!     }"#,
//!     &env,
//! )?;
//! let clickclack = config.clickclack.as_ref().map(|c| c.root.base_url.as_deref());
//! assert_eq!(clickclack, Some(Some("https://clickclack.example.com")));
//!
//! let err = parse_config_str("{channels: {clickclack: {accounts: {peter: {tokn: 'x'}}}}}", &env)
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "<inline config>: channels.clickclack.accounts.peter.tokn: unknown key",
//! );
//! # Ok::<(), openclaw_clickclack::config::ConfigError>(())
//! ```
//!
//! Which parts are read:
//!
//! * `channels.clickclack` — strictly validated (unknown keys and wrong types
//!   are errors naming the full key path and the file);
//! * `plugins.entries.clickclack` — `llm.allowAgentIdOverride`, `enabled`, and
//!   an empty `config` object;
//! * `secrets` — `providers.<name>.{source, allowlist}` and `defaults`;
//! * `channels.defaults.botLoopProtection`;
//! * `models`, `agents`, `gateway` — leniently (wrong types become
//!   [`OpenClawConfig::warnings`]).
//!
//! Every other top-level section is accepted and ignored. `${VAR}`
//! substitution (see [`substitute_str`]) runs on the sections above only, so
//! an unset variable used by an unrelated OpenClaw feature does not stop this
//! tool.

mod channel;
mod duration;
mod env;
mod error;
mod host;
pub(crate) mod path;
pub(crate) mod reader;
mod session;
mod substitute;

use std::path::Path;

use serde_json::{Map, Value};

pub use channel::{
    ACCOUNT_KEYS, AccountConfig, AllowBots, BotLoopProtection, ClickClackConfig, DiscussionsConfig,
    GroupConfig, MAX_RECONNECT_MS, MIN_RECONNECT_MS, ROOT_ONLY_KEYS, ReplyMode, TlsConfig,
};
pub use duration::{DURATION_HINT, MAX_CONFIG_DURATION, duration_from_secs, parse_duration};
pub use env::{EnvSource, MapEnv, ProcessEnv};
pub use error::{ConfigError, ConfigIssue, ConfigOrigin, IssueKind};
pub use host::{
    AgentDefaults, AgentEntry, AgentModelConfig, AgentsConfig, ClickClackPluginEntry,
    GatewayAuthConfig, GatewayConfig, ModelDefinition, ModelProviderConfig, ModelsConfig,
};
pub use path::{CONFIG_PATH_ENV, DEFAULT_CONFIG_RELATIVE, resolve_config_path};
pub use session::{CommandsConfig, DmScope, SessionConfig};
pub use substitute::{SubstitutionError, substitute_str, substitute_value};

use crate::secrets::SecretsConfig;
use reader::Issues;

/// Deepest `[`/`{` nesting accepted (guards the recursive JSON5 parser).
pub const MAX_NESTING: usize = 128;

/// Largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// The parts of an OpenClaw config this crate uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpenClawConfig {
    /// `channels.clickclack`, when present.
    pub clickclack: Option<ClickClackConfig>,
    /// `channels.defaults.botLoopProtection` (shared loop-guard defaults).
    pub channel_defaults_bot_loop_protection: Option<BotLoopProtection>,
    /// `plugins.entries.clickclack`.
    pub plugin: ClickClackPluginEntry,
    /// `secrets`.
    pub secrets: SecretsConfig,
    /// `models` (lenient).
    pub models: Option<ModelsConfig>,
    /// `agents` (lenient).
    pub agents: Option<AgentsConfig>,
    /// `gateway` (lenient).
    pub gateway: Option<GatewayConfig>,
    /// `session` (lenient; read by the gateway's session keys).
    pub session: SessionConfig,
    /// `commands` (lenient; who may run native commands).
    pub commands: CommandsConfig,
    /// Problems in the lenient sections (skipped values).
    pub warnings: Vec<ConfigIssue>,
}

impl OpenClawConfig {
    /// `plugins.entries.clickclack.llm.allowAgentIdOverride` (default `false`).
    #[must_use]
    pub fn allow_agent_id_override(&self) -> bool {
        self.plugin.allow_agent_id_override
    }
}

/// A config loaded from a file, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// The file that was read.
    pub path: std::path::PathBuf,
    /// Its contents.
    pub config: OpenClawConfig,
}

/// Resolves the config path ([`resolve_config_path`]) and loads it.
///
/// # Errors
/// See [`ConfigError`].
pub fn load(cli_path: Option<&Path>, env: &dyn EnvSource) -> Result<LoadedConfig, ConfigError> {
    let path = resolve_config_path(cli_path, env)?;
    let config = load_config_file(&path, env)?;
    Ok(LoadedConfig { path, config })
}

/// Reads and parses one config file.
///
/// # Errors
/// [`ConfigError::NotFound`], [`ConfigError::Read`], then the parse errors of
/// [`parse_config_str`] with the file named.
pub fn load_config_file(path: &Path, env: &dyn EnvSource) -> Result<OpenClawConfig, ConfigError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_path_buf(),
        },
        _ => ConfigError::Read {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let too_large = |size: u64| ConfigError::TooLarge {
        path: path.to_path_buf(),
        size,
    };
    if let Ok(meta) = file.metadata()
        && meta.len() > MAX_CONFIG_BYTES
    {
        return Err(too_large(meta.len()));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large(text.len() as u64));
    }
    parse_with_origin(&text, ConfigOrigin::File(path.to_path_buf()), env)
}

/// Parses config text (errors name `<inline config>`).
///
/// # Errors
/// [`ConfigError::Syntax`], [`ConfigError::Substitution`], [`ConfigError::Invalid`].
pub fn parse_config_str(text: &str, env: &dyn EnvSource) -> Result<OpenClawConfig, ConfigError> {
    parse_with_origin(text, ConfigOrigin::Inline, env)
}

/// Parses config text whose errors should name `origin`.
///
/// # Errors
/// [`ConfigError::Syntax`], [`ConfigError::Substitution`], [`ConfigError::Invalid`].
pub fn parse_with_origin(
    text: &str,
    origin: ConfigOrigin,
    env: &dyn EnvSource,
) -> Result<OpenClawConfig, ConfigError> {
    let mut document = parse_json5(text).map_err(|message| ConfigError::Syntax {
        origin: origin.clone(),
        message,
    })?;
    let Value::Object(root) = &mut document else {
        let mut issues = Issues::default();
        issues.invalid_type("(root)", "object", &document);
        return Err(ConfigError::Invalid {
            origin,
            issues: issues.into_vec(),
        });
    };
    substitute_sections(root, env).map_err(|source| ConfigError::Substitution {
        origin: origin.clone(),
        source,
    })?;
    decode(root).map_err(|issues| ConfigError::Invalid { origin, issues })
}

/// The sections `${VAR}` substitution applies to, as `(path, key chain)`.
const SUBSTITUTED: &[&[&str]] = &[
    &["channels", "clickclack"],
    &["channels", "defaults"],
    &["plugins", "entries", "clickclack"],
    &["secrets"],
    &["models"],
    &["agents"],
    &["gateway"],
];

fn substitute_sections(
    root: &mut Map<String, Value>,
    env: &dyn EnvSource,
) -> Result<(), SubstitutionError> {
    for chain in SUBSTITUTED {
        if let Some(value) = value_at_mut(root, chain) {
            substitute_value(value, &chain.join("."), env)?;
        }
    }
    Ok(())
}

fn value_at_mut<'a>(map: &'a mut Map<String, Value>, chain: &[&str]) -> Option<&'a mut Value> {
    let (first, rest) = chain.split_first()?;
    let value = map.get_mut(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Object(inner) => value_at_mut(inner, rest),
        _ => None,
    }
}

fn decode(root: &Map<String, Value>) -> Result<OpenClawConfig, Vec<crate::config::ConfigIssue>> {
    let mut issues = Issues::default();
    let mut warnings = Issues::default();
    let mut config = OpenClawConfig::default();

    if let Some(channels) = root.get("channels")
        && let Some(channels) = reader::Obj::new(channels, "channels", &mut issues)
    {
        if let Some(value) = channels.get("clickclack") {
            config.clickclack =
                channel::decode_clickclack(value, &channels.child("clickclack"), &mut issues);
        }
        if let Some(Value::Object(defaults)) = channels.get("defaults")
            && let Some(value) = defaults.get("botLoopProtection")
        {
            config.channel_defaults_bot_loop_protection = channel::decode_bot_loop_at(
                value,
                "channels.defaults.botLoopProtection",
                &mut warnings,
            );
        }
    }
    config.plugin = host::decode_plugin_entry(root, &mut issues);
    config.secrets = host::decode_secrets(root, &mut issues);
    config.models = root
        .get("models")
        .map(|v| host::decode_models(v, &mut warnings));
    config.agents = root
        .get("agents")
        .map(|v| host::decode_agents(v, &mut warnings));
    config.gateway = root
        .get("gateway")
        .map(|v| host::decode_gateway(v, &mut warnings));
    if let Some(v) = root.get("session") {
        config.session = session::decode_session(v, &mut warnings);
    }
    if let Some(v) = root.get("commands") {
        config.commands = session::decode_commands(v, &mut warnings);
    }

    if !issues.is_empty() {
        return Err(issues.into_vec());
    }
    config.warnings = warnings.into_vec();
    for warning in &config.warnings {
        tracing::warn!(issue = %warning, "ignored an OpenClaw config value");
    }
    Ok(config)
}

/// Parses JSON5 into a `serde_json::Value`, refusing absurd nesting first.
fn parse_json5(text: &str) -> Result<Value, String> {
    if let Some(depth) = nesting_exceeds(text, MAX_NESTING) {
        return Err(format!(
            "nesting deeper than {MAX_NESTING} levels (at line {})",
            depth + 1
        ));
    }
    let value = json5::from_str::<Value>(text).map_err(|err| {
        let what = err
            .code()
            .map_or_else(|| err.to_string(), |code| code.to_string());
        match err.position() {
            Some(pos) if err.code().is_some() => {
                format!("{what} at line {}, column {}", pos.line + 1, pos.column + 1)
            }
            _ => what,
        }
    })?;
    // `json5` keeps the last of two equal keys silently: refuse them instead.
    if let Ok(Some(duplicate)) = crate::json5_tree::find_duplicate_key(text) {
        return Err(duplicate.to_string());
    }
    Ok(value)
}

/// Scans JSON5 text (skipping strings and comments) and returns the 0-based
/// line where `[`/`{` nesting first exceeds `max`.
fn nesting_exceeds(text: &str, max: usize) -> Option<usize> {
    #[derive(Clone, Copy)]
    enum State {
        Normal,
        Str(char),
        Line,
        Block,
    }
    let mut state = State::Normal;
    let mut depth = 0usize;
    let mut line = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        state = match state {
            State::Normal => match c {
                '"' | '\'' => State::Str(c),
                '/' if chars.peek() == Some(&'/') => {
                    chars.next();
                    State::Line
                }
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    State::Block
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > max {
                        return Some(line);
                    }
                    State::Normal
                }
                ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    State::Normal
                }
                _ => State::Normal,
            },
            State::Str(quote) => {
                if c == '\\' {
                    if chars.next() == Some('\n') {
                        line += 1;
                    }
                    State::Str(quote)
                } else if c == quote {
                    State::Normal
                } else {
                    State::Str(quote)
                }
            }
            State::Line => match c {
                '\n' | '\r' | '\u{2028}' | '\u{2029}' => State::Normal,
                _ => State::Line,
            },
            State::Block => {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    State::Normal
                } else {
                    State::Block
                }
            }
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_guard_ignores_brackets_in_strings_and_comments() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(nesting_exceeds(&deep, MAX_NESTING).is_some());
        let quoted = format!(
            "{{a: \"{}\"}} // {}\n/* {} */",
            "[".repeat(300),
            "{".repeat(300),
            "[".repeat(300)
        );
        assert_eq!(nesting_exceeds(&quoted, MAX_NESTING), None);
        assert!(parse_json5(&deep).is_err());
        assert!(parse_json5(&quoted).is_ok());
    }
}
