//! The other top-level OpenClaw sections this crate reads: `plugins`
//! (strict where it concerns ClickClack), `secrets`, and — leniently, for the
//! gateway — `models`, `agents` and `gateway`. Lenient means a value of the
//! wrong type is skipped with a warning instead of failing the load: those
//! sections belong to the OpenClaw host and have many more keys than we model.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::reader::{Issues, Obj};
use super::substitute::child_path;
use crate::secrets::{
    Secret, SecretDefaults, SecretInput, SecretProviderConfig, SecretsConfig, decode_secret_input,
};

/// `plugins.entries.clickclack`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClickClackPluginEntry {
    /// `enabled` (the host's plugin switch).
    pub enabled: Option<bool>,
    /// `llm.allowAgentIdOverride`: the trust bit model mode needs.
    pub allow_agent_id_override: bool,
}

/// `models.providers.<name>.models[]` (the fields the gateway may use).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelDefinition {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: Option<String>,
    /// `api`.
    pub api: Option<String>,
    /// `reasoning`.
    pub reasoning: Option<bool>,
    /// `contextWindow`.
    pub context_window: Option<u64>,
    /// `maxTokens`.
    pub max_tokens: Option<u64>,
    /// `input` (e.g. `["text", "image"]`; empty when unset).
    pub input: Vec<String>,
}

/// `models.providers.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelProviderConfig {
    /// `baseUrl`.
    pub base_url: Option<String>,
    /// `apiKey` (string or secret ref; never printed).
    pub api_key: Option<SecretInput>,
    /// `api` (`openai-completions`, `anthropic-messages`, …).
    pub api: Option<String>,
    /// `auth` mode.
    pub auth: Option<String>,
    /// `headers` (values may be secrets).
    pub headers: BTreeMap<String, SecretInput>,
    /// `models`.
    pub models: Vec<ModelDefinition>,
}

/// `models`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelsConfig {
    /// `mode` (`merge` / `replace`).
    pub mode: Option<String>,
    /// `providers`.
    pub providers: BTreeMap<String, ModelProviderConfig>,
    /// `proxy` (may embed credentials; never printed).
    pub proxy: Option<Secret>,
}

/// An agent model selection: `"provider/model"` or `{primary, fallbacks}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentModelConfig {
    /// `primary` (`provider/model`).
    pub primary: Option<String>,
    /// `fallbacks`.
    pub fallbacks: Vec<String>,
}

/// `agents.defaults`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentDefaults {
    /// `model`.
    pub model: Option<AgentModelConfig>,
}

/// One `agents.list[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentEntry {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: Option<String>,
    /// `default`.
    pub default: bool,
    /// `model`.
    pub model: Option<AgentModelConfig>,
}

/// `agents`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentsConfig {
    /// `defaults`.
    pub defaults: AgentDefaults,
    /// `list`.
    pub list: Vec<AgentEntry>,
}

/// `gateway.auth` (the credential agent mode sends to the OpenClaw Gateway).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayAuthConfig {
    /// `mode` (`token`, `password`, `none`, `trusted-proxy`).
    pub mode: Option<String>,
    /// `token`: a string (`${ENV}` substitution applies) or a secret ref; never printed.
    pub token: Option<SecretInput>,
    /// `password` (used as the bearer when `mode` is `password`); never printed.
    pub password: Option<SecretInput>,
}

/// `gateway` (the OpenClaw Gateway that agent mode talks to).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayConfig {
    /// `port` (the gateway listens on loopback at this port; default 18789).
    pub port: Option<u16>,
    /// `auth`.
    pub auth: GatewayAuthConfig,
    /// `bind`.
    pub bind: Option<String>,
    /// `mode`.
    pub mode: Option<String>,
}

// ---------------------------------------------------------------------------
// plugins (strict for the ClickClack entry)

pub(crate) fn decode_plugin_entry(
    root: &Map<String, Value>,
    issues: &mut Issues,
) -> ClickClackPluginEntry {
    let mut entry = ClickClackPluginEntry::default();
    let Some(plugins) = root.get("plugins") else {
        return entry;
    };
    let Some(plugins) = Obj::new(plugins, "plugins", issues) else {
        return entry;
    };
    let Some(entries) = plugins.get("entries") else {
        return entry;
    };
    let Some(entries) = Obj::new(entries, &plugins.child("entries"), issues) else {
        return entry;
    };
    let Some(value) = entries.get("clickclack") else {
        return entry;
    };
    let Some(obj) = Obj::new(value, &entries.child("clickclack"), issues) else {
        return entry;
    };
    entry.enabled = obj.boolean("enabled", issues);
    if let Some(llm) = obj.get("llm")
        && let Some(llm) = Obj::new(llm, &obj.child("llm"), issues)
    {
        entry.allow_agent_id_override =
            llm.boolean("allowAgentIdOverride", issues).unwrap_or(false);
    }
    if let Some(config) = obj.get("config") {
        // The plugin-level config schema is `{}` with additionalProperties: false.
        if let Some(config) = Obj::new(config, &obj.child("config"), issues) {
            config.deny_unknown(&[], issues);
        }
    }
    entry
}

// ---------------------------------------------------------------------------
// secrets (types checked; unknown provider keys ignored)

pub(crate) fn decode_secrets(root: &Map<String, Value>, issues: &mut Issues) -> SecretsConfig {
    let mut out = SecretsConfig::default();
    let Some(value) = root.get("secrets") else {
        return out;
    };
    let Some(secrets) = Obj::new(value, "secrets", issues) else {
        return out;
    };
    if let Some(providers) = secrets.get("providers")
        && let Some(providers) = Obj::new(providers, &secrets.child("providers"), issues)
    {
        for (name, value) in providers.map {
            let Some(provider) = Obj::new(value, &providers.child(name), issues) else {
                continue;
            };
            let source = provider.string("source", issues).unwrap_or_default();
            out.providers.insert(
                name.clone(),
                SecretProviderConfig {
                    source,
                    allowlist: provider.strings("allowlist", issues),
                },
            );
        }
    }
    if let Some(defaults) = secrets.get("defaults")
        && let Some(defaults) = Obj::new(defaults, &secrets.child("defaults"), issues)
    {
        out.defaults = SecretDefaults {
            env: defaults.string("env", issues),
            file: defaults.string("file", issues),
            exec: defaults.string("exec", issues),
        };
    }
    out
}

// ---------------------------------------------------------------------------
// lenient sections

fn lenient_obj<'a>(
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

fn lenient_str(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Issues,
) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => {
            warnings.invalid_type(&child_path(path, key), "string", other);
            None
        }
    }
}

fn lenient_bool(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Issues,
) -> Option<bool> {
    match map.get(key)? {
        Value::Bool(b) => Some(*b),
        other => {
            warnings.invalid_type(&child_path(path, key), "boolean", other);
            None
        }
    }
}

fn lenient_u64(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Issues,
) -> Option<u64> {
    let value = map.get(key)?;
    match value.as_u64() {
        Some(n) => Some(n),
        None => {
            warnings.invalid_type(&child_path(path, key), "non-negative integer", value);
            None
        }
    }
}

fn lenient_strings(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Issues,
) -> Vec<String> {
    let Some(value) = map.get(key) else {
        return Vec::new();
    };
    let path = child_path(path, key);
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Value::String(s) => Some(s.clone()),
                other => {
                    warnings.invalid_type(&format!("{path}[{i}]"), "string", other);
                    None
                }
            })
            .collect(),
        other => {
            warnings.invalid_type(&path, "array of strings", other);
            Vec::new()
        }
    }
}

fn lenient_secret(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Issues,
) -> Option<SecretInput> {
    let value = map.get(key)?;
    decode_secret_input(value, &child_path(path, key), warnings)
}

pub(crate) fn decode_models(value: &Value, warnings: &mut Issues) -> ModelsConfig {
    let mut out = ModelsConfig::default();
    let path = "models";
    let Some(map) = lenient_obj(value, path, warnings) else {
        return out;
    };
    out.mode = lenient_str(map, "mode", path, warnings);
    out.proxy = lenient_str(map, "proxy", path, warnings).map(Secret::new);
    if let Some(providers) = map.get("providers") {
        let ppath = child_path(path, "providers");
        if let Some(providers) = lenient_obj(providers, &ppath, warnings) {
            for (name, value) in providers {
                let ppath = child_path(&ppath, name);
                let Some(provider) = lenient_obj(value, &ppath, warnings) else {
                    continue;
                };
                let mut config = ModelProviderConfig {
                    base_url: lenient_str(provider, "baseUrl", &ppath, warnings),
                    api_key: lenient_secret(provider, "apiKey", &ppath, warnings),
                    api: lenient_str(provider, "api", &ppath, warnings),
                    auth: lenient_str(provider, "auth", &ppath, warnings),
                    ..ModelProviderConfig::default()
                };
                if let Some(headers) = provider.get("headers") {
                    let hpath = child_path(&ppath, "headers");
                    if let Some(headers) = lenient_obj(headers, &hpath, warnings) {
                        for (header, value) in headers {
                            if let Some(secret) =
                                decode_secret_input(value, &child_path(&hpath, header), warnings)
                            {
                                config.headers.insert(header.clone(), secret);
                            }
                        }
                    }
                }
                if let Some(models) = provider.get("models") {
                    let mpath = child_path(&ppath, "models");
                    match models {
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                let ipath = format!("{mpath}[{i}]");
                                let Some(model) = lenient_obj(item, &ipath, warnings) else {
                                    continue;
                                };
                                let Some(id) = lenient_str(model, "id", &ipath, warnings) else {
                                    warnings.invalid_value(
                                        &child_path(&ipath, "id"),
                                        "required; model skipped",
                                    );
                                    continue;
                                };
                                config.models.push(ModelDefinition {
                                    id,
                                    name: lenient_str(model, "name", &ipath, warnings),
                                    api: lenient_str(model, "api", &ipath, warnings),
                                    reasoning: lenient_bool(model, "reasoning", &ipath, warnings),
                                    context_window: lenient_u64(
                                        model,
                                        "contextWindow",
                                        &ipath,
                                        warnings,
                                    ),
                                    max_tokens: lenient_u64(model, "maxTokens", &ipath, warnings),
                                    input: lenient_strings(model, "input", &ipath, warnings),
                                });
                            }
                        }
                        other => warnings.invalid_type(&mpath, "array", other),
                    }
                }
                out.providers.insert(name.clone(), config);
            }
        }
    }
    out
}

fn decode_agent_model(
    value: &Value,
    path: &str,
    warnings: &mut Issues,
) -> Option<AgentModelConfig> {
    match value {
        Value::String(s) => Some(AgentModelConfig {
            primary: Some(s.clone()),
            fallbacks: Vec::new(),
        }),
        Value::Object(map) => Some(AgentModelConfig {
            primary: lenient_str(map, "primary", path, warnings),
            fallbacks: lenient_strings(map, "fallbacks", path, warnings),
        }),
        other => {
            warnings.invalid_type(path, "string or object", other);
            None
        }
    }
}

pub(crate) fn decode_agents(value: &Value, warnings: &mut Issues) -> AgentsConfig {
    let mut out = AgentsConfig::default();
    let path = "agents";
    let Some(map) = lenient_obj(value, path, warnings) else {
        return out;
    };
    if let Some(defaults) = map.get("defaults") {
        let dpath = child_path(path, "defaults");
        if let Some(defaults) = lenient_obj(defaults, &dpath, warnings) {
            out.defaults.model = defaults
                .get("model")
                .and_then(|m| decode_agent_model(m, &child_path(&dpath, "model"), warnings));
        }
    }
    if let Some(list) = map.get("list") {
        let lpath = child_path(path, "list");
        match list {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{lpath}[{i}]");
                    let Some(agent) = lenient_obj(item, &ipath, warnings) else {
                        continue;
                    };
                    let Some(id) = lenient_str(agent, "id", &ipath, warnings) else {
                        warnings
                            .invalid_value(&child_path(&ipath, "id"), "required; agent skipped");
                        continue;
                    };
                    out.list.push(AgentEntry {
                        id,
                        name: lenient_str(agent, "name", &ipath, warnings),
                        default: lenient_bool(agent, "default", &ipath, warnings).unwrap_or(false),
                        model: agent.get("model").and_then(|m| {
                            decode_agent_model(m, &child_path(&ipath, "model"), warnings)
                        }),
                    });
                }
            }
            other => warnings.invalid_type(&lpath, "array", other),
        }
    }
    out
}

pub(crate) fn decode_gateway(value: &Value, warnings: &mut Issues) -> GatewayConfig {
    let mut out = GatewayConfig::default();
    let path = "gateway";
    let Some(map) = lenient_obj(value, path, warnings) else {
        return out;
    };
    out.port = lenient_u64(map, "port", path, warnings).and_then(|p| {
        let port = u16::try_from(p).ok();
        if port.is_none() {
            warnings.invalid_value(&child_path(path, "port"), "must be between 0 and 65535");
        }
        port
    });
    out.bind = lenient_str(map, "bind", path, warnings);
    out.mode = lenient_str(map, "mode", path, warnings);
    if let Some(auth) = map.get("auth") {
        let apath = child_path(path, "auth");
        if let Some(auth) = lenient_obj(auth, &apath, warnings) {
            out.auth = GatewayAuthConfig {
                mode: lenient_str(auth, "mode", &apath, warnings),
                token: lenient_secret(auth, "token", &apath, warnings),
                password: lenient_secret(auth, "password", &apath, warnings),
            };
        }
    }
    out
}
