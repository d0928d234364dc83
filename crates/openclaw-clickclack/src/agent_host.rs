//! Agent mode: hand a turn to an agent runtime.
//!
//! [`AgentHost`] is the seam; [`OpenClawGatewayHost`] is the built-in
//! implementation that calls a running OpenClaw Gateway through its
//! OpenAI-compatible endpoint: `POST <gateway>/v1/chat/completions` with
//! `model: "openclaw:<agentId>"`, a bearer token (`gateway.auth.token` or
//! `OPENCLAW_GATEWAY_TOKEN`) and `x-openclaw-session-key` set to a key that is
//! stable per conversation ([`session_key`]), so the agent keeps one session
//! per DM, channel or thread.
//!
//! Agent runs are not idempotent, so a failed call is retried only when the
//! gateway certainly did not process it (connect errors, 429, 503).

use std::future::Future;
use std::pin::Pin;

use http::HeaderName;

use crate::llm::{
    ApiKey, ChatMessage, HttpOptions, HttpTransport, LlmError, OpenAiClient, RetryMode,
};
use crate::scheduler::ConversationKey;

/// The session-key header of the OpenClaw Gateway.
pub const SESSION_KEY_HEADER: &str = "x-openclaw-session-key";

/// Default OpenClaw Gateway port (`gateway.port`).
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;

/// One agent turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTurn {
    /// Agent id (normalised, e.g. `main`).
    pub agent_id: String,
    /// Stable per conversation ([`session_key`]).
    pub session_key: String,
    /// The new input (usually one `user` message; earlier context lives in the
    /// agent's session).
    pub messages: Vec<ChatMessage>,
}

/// The agent's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentReply {
    /// Reply text (may be blank).
    pub text: String,
}

/// The boxed future returned by [`AgentHost::run_turn`].
pub type AgentFuture<'a> = Pin<Box<dyn Future<Output = Result<AgentReply, LlmError>> + Send + 'a>>;

/// Runs agent turns. Object-safe: implement with `Box::pin(async move { … })`.
pub trait AgentHost: Send + Sync {
    /// Runs one turn and returns the final reply.
    fn run_turn(&self, turn: AgentTurn) -> AgentFuture<'_>;
}

/// The session key of a conversation:
/// `agent:<agentId>:clickclack:<accountId>:<conversation>`, e.g.
/// `agent:main:clickclack:work:thread:msg_1`.
pub fn session_key(agent_id: &str, account_id: &str, conversation: &ConversationKey) -> String {
    format!("agent:{agent_id}:clickclack:{account_id}:{conversation}")
}

/// Where the OpenClaw Gateway is and how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayHostConfig {
    /// Gateway base URL without `/v1`, e.g. `http://127.0.0.1:18789`.
    pub base_url: String,
    /// Bearer token, if the gateway requires one.
    pub token: Option<ApiKey>,
}

impl GatewayHostConfig {
    /// A gateway on loopback at `port` (`gateway.port`).
    pub fn loopback(port: u16, token: Option<ApiKey>) -> Self {
        GatewayHostConfig {
            base_url: format!("http://127.0.0.1:{port}"),
            token,
        }
    }

    /// Resolves the gateway from config values and the environment:
    /// URL = `OPENCLAW_GATEWAY_URL`, else loopback at `port` (default
    /// [`DEFAULT_GATEWAY_PORT`]); token = `config_token`
    /// (`gateway.auth.token`), else `OPENCLAW_GATEWAY_TOKEN`.
    pub fn resolve(
        port: Option<u16>,
        config_token: Option<ApiKey>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let token =
            config_token.or_else(|| env("OPENCLAW_GATEWAY_TOKEN").and_then(ApiKey::non_blank));
        match env("OPENCLAW_GATEWAY_URL")
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
        {
            Some(base_url) => GatewayHostConfig { base_url, token },
            None => Self::loopback(port.unwrap_or(DEFAULT_GATEWAY_PORT), token),
        }
    }
}

/// [`AgentHost`] over a running OpenClaw Gateway.
#[derive(Debug, Clone)]
pub struct OpenClawGatewayHost {
    client: OpenAiClient,
}

impl OpenClawGatewayHost {
    /// A host for `config`; [`HttpOptions::agent_defaults`] is a good start
    /// for `options`.
    pub fn new(config: GatewayHostConfig, options: HttpOptions) -> Result<Self, LlmError> {
        let base = config.base_url.trim().trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        Ok(OpenClawGatewayHost {
            client: OpenAiClient {
                provider: "openclaw-gateway".to_owned(),
                base_url: format!("{base}/v1"),
                api_key: config.token,
                transport: HttpTransport::new(options)?,
            },
        })
    }

    async fn run(&self, turn: AgentTurn) -> Result<AgentReply, LlmError> {
        let session = crate::llm::http_header(
            HeaderName::from_static(SESSION_KEY_HEADER),
            &turn.session_key,
        )?;
        let model = format!("openclaw:{}", turn.agent_id);
        let completion = self
            .client
            .chat(crate::llm::ChatCallArgs {
                model: &model,
                system_prompt: None,
                messages: &turn.messages,
                max_tokens: None,
                extra_headers: vec![session],
                mode: RetryMode::NotProcessedOnly,
            })
            .await?;
        Ok(AgentReply {
            text: completion.text,
        })
    }
}

/// What [`OpenClawGatewayHost::probe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GatewayProbe {
    /// The OpenAI-compatible surface answered (`GET /v1/models` → 2xx, or
    /// an older gateway whose `/v1/chat/completions` route exists).
    Ready,
    /// The gateway rejected the credential (401/403).
    Unauthorized(u16),
    /// The gateway answered but `/v1/chat/completions` is not served:
    /// `gateway.http.endpoints.chatCompletions.enabled` is off (404).
    EndpointDisabled,
    /// Any other HTTP status (e.g. 5xx).
    Status(u16),
}

impl OpenClawGatewayHost {
    /// Checks, without running an agent turn, that the gateway is reachable
    /// and accepts the credential: `GET /v1/models` (served when the
    /// OpenAI-compatible endpoint is enabled); on 404, `GET
    /// /v1/chat/completions` tells an older gateway (route exists: 405 or
    /// similar) from a disabled endpoint (404). One attempt, no retries.
    ///
    /// # Errors
    /// [`LlmError::Transport`] / [`LlmError::Timeout`] when the gateway
    /// cannot be reached.
    pub async fn probe(&self) -> Result<GatewayProbe, LlmError> {
        let client = &self.client;
        let headers = || -> Result<Vec<_>, LlmError> {
            client
                .api_key
                .as_ref()
                .map(crate::llm::http_bearer)
                .transpose()
                .map(|h| h.into_iter().collect())
        };
        let get = |path: &'static str| {
            let url = crate::llm::http_join_url(&client.base_url, path);
            let headers = headers();
            async move {
                client
                    .transport
                    .get_status(&client.provider, &url, headers?, client.api_key.as_ref())
                    .await
            }
        };
        let classify = |status: http::StatusCode| match status.as_u16() {
            200..=299 => GatewayProbe::Ready,
            code @ (401 | 403) => GatewayProbe::Unauthorized(code),
            404 => GatewayProbe::EndpointDisabled,
            code => GatewayProbe::Status(code),
        };
        match classify(get("/models").await?) {
            GatewayProbe::EndpointDisabled => {}
            other => return Ok(other),
        }
        Ok(match get("/chat/completions").await?.as_u16() {
            404 => GatewayProbe::EndpointDisabled,
            code @ (401 | 403) => GatewayProbe::Unauthorized(code),
            code if code >= 500 => GatewayProbe::Status(code),
            _ => GatewayProbe::Ready,
        })
    }

    /// The gateway's OpenAI-compatible base URL (`…/v1`).
    pub fn endpoint(&self) -> &str {
        &self.client.base_url
    }
}

impl AgentHost for OpenClawGatewayHost {
    fn run_turn(&self, turn: AgentTurn) -> AgentFuture<'_> {
        Box::pin(self.run(turn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_are_stable_per_conversation() {
        let k = session_key("main", "work", &ConversationKey::thread("msg_1"));
        assert_eq!(k, "agent:main:clickclack:work:thread:msg_1");
        assert_eq!(
            k,
            session_key("main", "work", &ConversationKey::thread("msg_1"))
        );
        assert_ne!(
            k,
            session_key("main", "work", &ConversationKey::channel("chn_1"))
        );
    }

    #[test]
    fn gateway_resolution() {
        let env = |name: &str| match name {
            "OPENCLAW_GATEWAY_TOKEN" => Some("tok-env".to_owned()),
            _ => None,
        };
        let c = GatewayHostConfig::resolve(Some(19000), None, env);
        assert_eq!(c.base_url, "http://127.0.0.1:19000");
        assert_eq!(c.token.unwrap().expose_secret(), "tok-env");
        let c = GatewayHostConfig::resolve(None, ApiKey::non_blank("tok-cfg"), |name| {
            (name == "OPENCLAW_GATEWAY_URL").then(|| "http://gw.internal:1234/".to_owned())
        });
        assert_eq!(c.base_url, "http://gw.internal:1234/");
        assert_eq!(c.token.unwrap().expose_secret(), "tok-cfg");
        assert_eq!(
            GatewayHostConfig::resolve(None, None, |_| None).base_url,
            "http://127.0.0.1:18789"
        );
    }
}
