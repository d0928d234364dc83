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
