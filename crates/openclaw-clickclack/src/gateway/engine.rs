//! Reply engines: `replyMode: "model"` (an [`LlmRuntime`] completion,
//! reference row 35) and `replyMode: "agent"` (an [`AgentHost`] turn, by
//! default a running OpenClaw Gateway). Built once per account at startup;
//! configuration problems refuse the account with an error naming the key.

use std::sync::Arc;

use crate::accounts::ResolvedAccount;
use crate::agent_host::{AgentHost, GatewayHostConfig, OpenClawGatewayHost};
use crate::config::{EnvSource, OpenClawConfig, ReplyMode};
use crate::llm::{
    ApiKey, HttpLlmRuntime, HttpOptions, LlmRuntime, ProviderRegistry, ProviderSettings,
    RetryPolicy,
};
use crate::secrets::{SecretInput, resolve_secret_input};

use super::GatewayError;

/// The agent id used when neither the account nor `agents.list` names one.
pub const DEFAULT_AGENT_ID: &str = "main";

/// How an account produces replies.
#[derive(Clone)]
pub enum ReplyEngine {
    /// A single-turn model completion.
    Model {
        /// The runtime.
        runtime: Arc<dyn LlmRuntime>,
        /// `provider/model-id`.
        model: String,
        /// The account's `agentId` (only with the trust bit).
        agent_id: Option<String>,
        /// `systemPrompt`.
        system_prompt: Option<String>,
    },
    /// An agent turn.
    Agent {
        /// The host.
        host: Arc<dyn AgentHost>,
        /// The agent id.
        agent_id: String,
    },
}

impl std::fmt::Debug for ReplyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyEngine::Model {
                model, agent_id, ..
            } => f
                .debug_struct("Model")
                .field("model", model)
                .field("agent_id", agent_id)
                .finish_non_exhaustive(),
            ReplyEngine::Agent { agent_id, .. } => f
                .debug_struct("Agent")
                .field("agent_id", agent_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Normalises an agent id like OpenClaw (`SERVICE-BOT` → `service-bot`).
pub fn normalize_agent_id(raw: &str) -> Option<String> {
    let id = raw.trim().to_lowercase();
    (!id.is_empty()).then_some(id)
}

/// The agent of an account: its `agentId`, else the `agents.list` entry
/// marked default (or the first), else [`DEFAULT_AGENT_ID`].
pub fn resolve_agent_id(account: &ResolvedAccount, config: &OpenClawConfig) -> String {
    if let Some(id) = account.agent_id.as_deref().and_then(normalize_agent_id) {
        return id;
    }
    let list = config
        .agents
        .as_ref()
        .map(|a| a.list.as_slice())
        .unwrap_or_default();
    list.iter()
        .find(|a| a.default)
        .or_else(|| list.first())
        .and_then(|a| normalize_agent_id(&a.id))
        .unwrap_or_else(|| DEFAULT_AGENT_ID.to_owned())
}

/// The model of a model-mode account: `model` on the account, else the
/// agent's `agents.list[].model.primary`, else `agents.defaults.model.primary`.
pub fn resolve_model(
    account: &ResolvedAccount,
    config: &OpenClawConfig,
    agent_id: &str,
) -> Option<String> {
    let non_blank = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    if let Some(model) = account.model.as_deref().and_then(non_blank) {
        return Some(model);
    }
    let agents = config.agents.as_ref()?;
    agents
        .list
        .iter()
        .find(|a| normalize_agent_id(&a.id).as_deref() == Some(agent_id))
        .and_then(|a| a.model.as_ref())
        .and_then(|m| m.primary.as_deref())
        .and_then(non_blank)
        .or_else(|| {
            agents
                .defaults
                .model
                .as_ref()
                .and_then(|m| m.primary.as_deref())
                .and_then(non_blank)
        })
}

fn resolve_secret(input: &SecretInput, env: &dyn EnvSource) -> Option<ApiKey> {
    match input {
        SecretInput::Plain(secret) => ApiKey::non_blank(secret.expose_secret().trim()),
        SecretInput::Ref(r) if r.source == crate::secrets::SecretSource::Env => {
            env.var(&r.id).and_then(|v| ApiKey::non_blank(v.trim()))
        }
        SecretInput::Ref(_) => None,
    }
}

/// The providers: built-ins (keys from `env`) plus `models.providers.<id>`.
///
/// # Errors
/// [`GatewayError::ModelProvider`] for an invalid provider entry.
pub fn provider_registry(
    config: &OpenClawConfig,
    env: &dyn EnvSource,
) -> Result<ProviderRegistry, GatewayError> {
    let mut registry = ProviderRegistry::builtin(|name| env.var(name));
    let Some(models) = &config.models else {
        return Ok(registry);
    };
    for (id, provider) in &models.providers {
        let api = match provider.api.as_deref() {
            Some(api) => {
                Some(
                    api.parse()
                        .map_err(|message: String| GatewayError::ModelProvider {
                            path: format!("models.providers.{id}.api"),
                            message,
                        })?,
                )
            }
            None => None,
        };
        let settings = ProviderSettings {
            base_url: provider.base_url.clone(),
            api_key: provider
                .api_key
                .as_ref()
                .and_then(|k| resolve_secret(k, env)),
            api,
            headers: provider
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    let resolved = resolve_secret(value, env);
                    if resolved.is_none() {
                        tracing::warn!(provider = %id, header = %name,
                            "models.providers.{id}.headers.{name} has no value (unset variable or unsupported secret ref); the header is not sent");
                    }
                    resolved.map(|v| (name.clone(), v))
                })
                .collect(),
            image_models: provider
                .models
                .iter()
                .filter(|m| !m.input.is_empty())
                .map(|m| (m.id.clone(), m.input.iter().any(|i| i.trim() == "image")))
                .collect(),
        };
        registry
            .configure(id, settings)
            .map_err(|e| GatewayError::ModelProvider {
                path: format!("models.providers.{id}"),
                message: e.to_string(),
            })?;
    }
    Ok(registry)
}

/// Where agent mode finds the OpenClaw Gateway, from the config and the
/// environment ([`GatewayHostConfig::resolve`] precedence):
///
/// * URL: `OPENCLAW_GATEWAY_URL`, else `http://127.0.0.1:<gateway.port>`
///   (default port [`crate::agent_host::DEFAULT_GATEWAY_PORT`]);
/// * bearer: `gateway.auth.token` (a string, `${VAR}`, or a secret ref),
///   else `OPENCLAW_GATEWAY_TOKEN`. With `gateway.auth.mode: "password"`:
///   `gateway.auth.password`, else `OPENCLAW_GATEWAY_PASSWORD`, else
///   `OPENCLAW_GATEWAY_TOKEN`.
///
/// # Errors
/// [`GatewayError::Secret`] when the secret ref names a provider that is not allowed.
pub fn gateway_host_config(
    config: &OpenClawConfig,
    env: &dyn EnvSource,
) -> Result<GatewayHostConfig, GatewayError> {
    let gateway = config.gateway.clone().unwrap_or_default();
    let resolve = |input: Option<&SecretInput>| -> Result<Option<ApiKey>, GatewayError> {
        Ok(match input {
            Some(input) => resolve_secret_input(input, &config.secrets, env)?
                .and_then(|s| ApiKey::non_blank(s.expose_secret())),
            None => None,
        })
    };
    let password_mode = gateway.auth.mode.as_deref().map(str::trim) == Some("password");
    let config_token = if password_mode {
        resolve(gateway.auth.password.as_ref())?.or_else(|| {
            env.var("OPENCLAW_GATEWAY_PASSWORD")
                .and_then(|v| ApiKey::non_blank(v.trim()))
        })
    } else {
        resolve(gateway.auth.token.as_ref())?
    };
    Ok(GatewayHostConfig::resolve(
        gateway.port,
        config_token,
        |name| env.var(name),
    ))
}

/// What [`build_engine`] may reuse across accounts.
#[derive(Clone, Default)]
pub(crate) struct EngineOverrides {
    pub(crate) llm: Option<Arc<dyn LlmRuntime>>,
    pub(crate) agent_host: Option<Arc<dyn AgentHost>>,
}

/// Builds the engine of one account, refusing it when the config cannot work:
/// a model-mode `agentId` without `plugins.entries.clickclack.llm.allowAgentIdOverride: true`,
/// or a model (configured, else [`crate::llm::host_defaults::DEFAULT_MODEL`])
/// whose provider is unknown or has no key.
pub(crate) fn build_engine(
    account: &ResolvedAccount,
    config: &OpenClawConfig,
    env: &dyn EnvSource,
    overrides: &EngineOverrides,
) -> Result<ReplyEngine, GatewayError> {
    let agent_id = resolve_agent_id(account, config);
    match account.reply_mode {
        ReplyMode::Model => {
            let explicit_agent = account.agent_id.as_deref().and_then(normalize_agent_id);
            if let Some(agent) = &explicit_agent
                && !config.allow_agent_id_override()
            {
                return Err(GatewayError::AgentIdOverrideNotAllowed {
                    account_id: account.account_id.clone(),
                    agent_id: agent.clone(),
                });
            }
            // No model configured: the host's default applies (conventions §4).
            let model = resolve_model(account, config, &agent_id)
                .unwrap_or_else(|| crate::llm::host_defaults::DEFAULT_MODEL.to_owned());
            let runtime = match &overrides.llm {
                Some(runtime) => Arc::clone(runtime),
                None => {
                    let registry = provider_registry(config, env)?;
                    // The gateway's retry window is the only retry loop of a turn.
                    let options = HttpOptions {
                        retry: RetryPolicy::none(),
                        ..HttpOptions::default()
                    };
                    let runtime = HttpLlmRuntime::new(registry, options).map_err(|source| {
                        GatewayError::Llm {
                            account_id: account.account_id.clone(),
                            source,
                        }
                    })?;
                    // Fail at startup, not at the first message, when the model cannot resolve.
                    runtime
                        .registry()
                        .resolve(&model)
                        .map_err(|source| GatewayError::Llm {
                            account_id: account.account_id.clone(),
                            source,
                        })?;
                    Arc::new(runtime)
                }
            };
            Ok(ReplyEngine::Model {
                runtime,
                model,
                agent_id: explicit_agent,
                system_prompt: account.system_prompt.clone(),
            })
        }
        ReplyMode::Agent => {
            let host = match &overrides.agent_host {
                Some(host) => Arc::clone(host),
                None => {
                    let host_config = gateway_host_config(config, env)?;
                    tracing::info!(
                        account = %account.account_id,
                        agent = %agent_id,
                        url = %host_config.base_url,
                        bearer = host_config.token.is_some(),
                        "[{}] ClickClack agent replies come from the OpenClaw Gateway at {} (model openclaw:{agent_id})",
                        account.account_id,
                        host_config.base_url
                    );
                    let options = HttpOptions {
                        retry: RetryPolicy::none(),
                        ..HttpOptions::agent_defaults()
                    };
                    let host =
                        OpenClawGatewayHost::new(host_config, options).map_err(|source| {
                            GatewayError::Llm {
                                account_id: account.account_id.clone(),
                                source,
                            }
                        })?;
                    Arc::new(host)
                }
            };
            Ok(ReplyEngine::Agent { host, agent_id })
        }
    }
}
