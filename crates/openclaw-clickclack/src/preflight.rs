//! The start checks `doctor` and `gateway` share, so that `doctor` passing
//! means the gateway starts, and a gateway that refuses to start says the
//! same thing `doctor` says.
//!
//! 1. the account can authenticate ([`crate::diagnose::require_usable`]);
//! 2. the reply engine builds exactly as the gateway builds it
//!    ([`crate::gateway::engine`]): in model mode the model that applies
//!    (the account's, the agent's, `agents.defaults.model.primary`, else the
//!    host default [`DEFAULT_MODEL`]) resolves to a provider with a key — a
//!    missing key fails here, at start, with the host's wording, the
//!    variable to export, the JSON5 to add, and agent mode as the
//!    alternative; in agent mode the OpenClaw Gateway's address and
//!    credential resolve.
//!
//! No request leaves the process: `doctor` adds the network checks.

use crate::accounts::ResolvedAccount;
use crate::config::{EnvSource, OpenClawConfig, ReplyMode};
use crate::gateway::GatewayError;
use crate::gateway::engine::{
    EngineOverrides, ReplyEngine, build_engine, gateway_host_config, resolve_agent_id,
    resolve_model,
};
use crate::llm::LlmError;
use crate::llm::host_defaults::{DEFAULT_MODEL, missing_key_fix, no_api_key};

/// Why an account will not start: the message and, when there is one, the
/// fix (may span lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartProblem {
    /// One line, the error.
    pub message: String,
    /// What to do about it.
    pub fix: Option<String>,
}

/// Runs both start checks for one account; returns what the account will
/// answer with (see [`engine`]).
///
/// # Errors
/// The first [`StartProblem`].
pub fn check_account(
    account: &ResolvedAccount,
    config: &OpenClawConfig,
    env: &dyn EnvSource,
) -> Result<String, StartProblem> {
    crate::diagnose::require_usable(account, env).map_err(|e| StartProblem {
        message: e.to_string(),
        fix: e.hint(),
    })?;
    engine(account, config, env)
}

/// Builds the account's reply engine like the gateway does and describes
/// it: `model openai/gpt-5 (key from OPENAI_API_KEY)` or `agent main through
/// the OpenClaw Gateway at http://127.0.0.1:18789`.
///
/// # Errors
/// [`StartProblem`] naming the fix.
pub fn engine(
    account: &ResolvedAccount,
    config: &OpenClawConfig,
    env: &dyn EnvSource,
) -> Result<String, StartProblem> {
    let agent_id = resolve_agent_id(account, config);
    let configured_model = resolve_model(account, config, &agent_id);
    let model = configured_model
        .clone()
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let default_note = if configured_model.is_none() {
        " (the host default: no model is configured)"
    } else {
        ""
    };
    match build_engine(account, config, env, &EngineOverrides::default()) {
        Ok(ReplyEngine::Model { model, .. }) => Ok(format!("model {model}{default_note}")),
        Ok(ReplyEngine::Agent { agent_id, .. }) => {
            let url = gateway_host_config(config, env)
                .map(|c| c.base_url)
                .unwrap_or_default();
            Ok(format!(
                "agent {agent_id} through the OpenClaw Gateway at {url}"
            ))
        }
        Err(GatewayError::Llm {
            source: LlmError::MissingApiKey { provider, env: var },
            ..
        }) if account.reply_mode == ReplyMode::Model => Err(StartProblem {
            message: format!(
                "{} (account \"{}\", model {model}{default_note})",
                no_api_key(&provider),
                account.account_id
            ),
            fix: Some(missing_key_fix(&provider, var.as_deref(), &model)),
        }),
        Err(e) => Err(StartProblem {
            message: e.to_string(),
            fix: None,
        }),
    }
}

/// Keys the config accepts (the OpenClaw schema has them) but this daemon
/// does not act on, as `(path, why)`. Shown once at start by `doctor` and
/// `gateway`, so no key is silently ignored.
const UNIMPLEMENTED_ACCOUNT_KEYS: &[(&str, &str)] = &[
    (
        "discussions",
        "session discussion channels need an OpenClaw host's sessions",
    ),
    (
        "toolsAllow",
        "tool policy is the OpenClaw Gateway's: set it on the agent there",
    ),
    (
        "configWrites",
        "this daemon never writes the config while running",
    ),
];

/// Every set key of `raw` (the config document) that is accepted but has no
/// effect here, with the reason: `channels.clickclack[.accounts.<id>].{discussions,
/// toolsAllow, configWrites}`, `models.proxy`, `models.providers.<p>.headers`,
/// and model `fallbacks` under `agents`.
#[must_use]
pub fn unimplemented_keys(raw: &serde_json::Value) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    let section = &raw["channels"]["clickclack"];
    let mut scopes = vec![("channels.clickclack".to_owned(), section)];
    if let Some(accounts) = section["accounts"].as_object() {
        for (id, account) in accounts {
            scopes.push((format!("channels.clickclack.accounts.{id}"), account));
        }
    }
    for (prefix, object) in scopes {
        for (key, why) in UNIMPLEMENTED_ACCOUNT_KEYS {
            if object.get(key).is_some_and(|v| !v.is_null()) {
                found.push((format!("{prefix}.{key}"), *why));
            }
        }
    }
    let models = &raw["models"];
    if models.get("proxy").is_some_and(|v| !v.is_null()) {
        found.push((
            "models.proxy".to_owned(),
            "model calls connect directly; use the platform's network settings",
        ));
    }
    if let Some(providers) = models["providers"].as_object() {
        for (id, provider) in providers {
            if provider.get("headers").is_some_and(|v| !v.is_null()) {
                found.push((
                    format!("models.providers.{id}.headers"),
                    "extra provider headers are not sent",
                ));
            }
        }
    }
    let fallback_why = "only the primary model is used; a failed call is retried, then answered with a visible failure";
    if raw["agents"]["defaults"]["model"]
        .get("fallbacks")
        .is_some()
    {
        found.push(("agents.defaults.model.fallbacks".to_owned(), fallback_why));
    }
    if let Some(list) = raw["agents"]["list"].as_array() {
        for (i, agent) in list.iter().enumerate() {
            if agent["model"].get("fallbacks").is_some() {
                found.push((format!("agents.list[{i}].model.fallbacks"), fallback_why));
            }
        }
    }
    found
}

/// [`unimplemented_keys`] of the config file at `path` (nothing when it
/// cannot be read or parsed: loading reports that).
#[must_use]
pub fn unimplemented_keys_in(path: &std::path::Path) -> Vec<(String, &'static str)> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| json5::from_str::<serde_json::Value>(&text).ok())
        .map(|raw| unimplemented_keys(&raw))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_accepted_but_unimplemented_key() {
        let raw: serde_json::Value = json5::from_str(
            "{channels: {clickclack: {toolsAllow: ['x'], accounts: {work: {discussions: {enabled: true}}}}},
              models: {proxy: 'http://p', providers: {openai: {headers: {a: 'b'}}}},
              agents: {defaults: {model: {primary: 'a/b', fallbacks: ['c/d']}}}}",
        )
        .unwrap();
        let paths: Vec<String> = unimplemented_keys(&raw)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            paths,
            [
                "channels.clickclack.toolsAllow",
                "channels.clickclack.accounts.work.discussions",
                "models.proxy",
                "models.providers.openai.headers",
                "agents.defaults.model.fallbacks",
            ]
        );
        assert!(unimplemented_keys(&serde_json::json!({})).is_empty());
    }
}
