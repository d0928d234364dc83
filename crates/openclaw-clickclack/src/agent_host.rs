//! Agent mode: hand a turn to an agent runtime.
//!
//! [`AgentHost`] is the seam; [`OpenClawGatewayHost`] is the built-in
//! implementation that calls a running OpenClaw Gateway through its
//! OpenAI-compatible endpoint: `POST <gateway>/v1/chat/completions` with
//! `model: "openclaw/<agentId>"`, a bearer token (`gateway.auth.token` or
//! `OPENCLAW_GATEWAY_TOKEN`), `x-openclaw-session-key` set to the session key
//! the host itself would use ([`crate::gateway::session_key`]),
//! `x-openclaw-message-channel: clickclack`, and `x-openclaw-model` when a
//! `/model` override is set for the session. Images ride as OpenAI
//! `image_url` parts. What the agent reports besides its answer
//! (`reasoning_content`, `tool_calls`) is handed to an [`ActivitySink`].
//!
//! Agent runs are not idempotent, so a failed call is retried only when the
//! gateway certainly did not process it (connect errors, 429, 503).

use std::future::Future;
use std::pin::Pin;

use http::HeaderName;

use crate::llm::{
    ApiKey, ChatMessage, HttpOptions, HttpTransport, LlmError, OpenAiClient, RetryMode,
};

/// The session-key header of the OpenClaw Gateway.
pub const SESSION_KEY_HEADER: &str = "x-openclaw-session-key";

/// The ingress-channel header of the OpenClaw Gateway.
pub const MESSAGE_CHANNEL_HEADER: &str = "x-openclaw-message-channel";

/// The backend model override header of the OpenClaw Gateway.
pub const MODEL_HEADER: &str = "x-openclaw-model";

/// The value of [`MESSAGE_CHANNEL_HEADER`].
pub const MESSAGE_CHANNEL: &str = "clickclack";

/// Default OpenClaw Gateway port (`gateway.port`).
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;

/// One agent turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTurn {
    /// Agent id (normalised, e.g. `main`).
    pub agent_id: String,
    /// The host session key ([`crate::gateway::session_key`]).
    pub session_key: String,
    /// The new input (usually one `user` message; earlier context lives in the
    /// agent's session).
    pub messages: Vec<ChatMessage>,
    /// A backend model for this session (`/model`), sent as `x-openclaw-model`.
    pub model_override: Option<String>,
}

impl AgentTurn {
    /// A turn with no model override.
    pub fn new(
        agent_id: impl Into<String>,
        session_key: impl Into<String>,
        messages: Vec<ChatMessage>,
    ) -> Self {
        AgentTurn {
            agent_id: agent_id.into(),
            session_key: session_key.into(),
            messages,
            model_override: None,
        }
    }
}

/// What an agent reported while working, besides its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentActivity {
    /// Commentary (`commentary`, `thinking`, `reasoning`, …): the whole text
    /// so far of item `id` (a later report of the same id replaces it).
    Commentary {
        /// Item id (stable across updates).
        id: String,
        /// Lane kind, e.g. `thinking`.
        kind: String,
        /// The text so far.
        text: String,
    },
    /// The model answering this turn (sent before the items it wrote).
    Model(Provenance),
    /// A tool call.
    Tool {
        /// Tool call id.
        id: String,
        /// Tool name.
        name: String,
        /// A one-line summary (e.g. `🛠️ search`).
        text: String,
    },
}

/// Which model answers a turn (reference row 14): stamped on agent-mode
/// replies and activity rows as `author_model`, `author_thinking`,
/// `author_runtime`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// `provider/model`.
    pub model: Option<String>,
    /// Thinking level (e.g. `low`, `high`).
    pub thinking: Option<String>,
    /// Agent runtime.
    pub runtime: Option<String>,
}

impl Provenance {
    /// Trimmed values; blank ones dropped.
    #[must_use]
    pub fn normalized(self) -> Self {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Provenance {
            model: clean(self.model),
            thinking: clean(self.thinking),
            runtime: clean(self.runtime),
        }
    }

    /// Whether no value is set.
    pub fn is_empty(&self) -> bool {
        self.model.is_none() && self.thinking.is_none() && self.runtime.is_none()
    }

    /// `request` with these (normalized) values as its provenance fields.
    pub fn stamp(
        &self,
        request: clickclack_proto::requests::CreateMessage,
    ) -> clickclack_proto::requests::CreateMessage {
        let p = self.clone().normalized();
        request.with_provenance(p.model, p.thinking, p.runtime)
    }

    /// What a chat-completions response says about the model that
    /// answered: its `model` (unless it is only the `openclaw/<agent>`
    /// alias we asked for), `thinking` or `reasoning_effort`, and `runtime`.
    pub fn from_response(body: &serde_json::Value) -> Self {
        let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let model = text("model").filter(|m| {
            let m = m.trim().to_ascii_lowercase();
            !(m == "openclaw" || m.starts_with("openclaw/") || m.starts_with("openclaw:"))
        });
        Provenance {
            model,
            thinking: text("thinking").or_else(|| text("reasoning_effort")),
            runtime: text("runtime"),
        }
        .normalized()
    }
}

/// Where an agent reports [`AgentActivity`] during a turn (bounded; a full
/// channel drops reports rather than slowing the agent).
pub type ActivitySink = tokio::sync::mpsc::Sender<AgentActivity>;

/// The agent's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentReply {
    /// Reply text (may be blank).
    pub text: String,
    /// The model that answered, as far as the agent says.
    pub provenance: Provenance,
}

/// The boxed future returned by [`AgentHost::run_turn`].
pub type AgentFuture<'a> = Pin<Box<dyn Future<Output = Result<AgentReply, LlmError>> + Send + 'a>>;

/// Runs agent turns. Object-safe: implement with `Box::pin(async move { … })`.
pub trait AgentHost: Send + Sync {
    /// Runs one turn and returns the final reply.
    fn run_turn(&self, turn: AgentTurn) -> AgentFuture<'_>;

    /// Like [`AgentHost::run_turn`], reporting activity to `sink` as the
    /// agent reports it. Default: no activity.
    fn run_turn_reporting(&self, turn: AgentTurn, sink: ActivitySink) -> AgentFuture<'_> {
        drop(sink);
        self.run_turn(turn)
    }
}

/// The activity in a chat-completions response: `reasoning_content` (or
/// `reasoning`) as one `thinking` commentary item, each `tool_calls[]` entry
/// as a tool item.
pub fn activity_in_response(body: &serde_json::Value) -> Vec<AgentActivity> {
    let Some(message) = body.pointer("/choices/0/message") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let reasoning = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(|v| v.as_str()))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(text) = reasoning {
        out.push(AgentActivity::Commentary {
            id: "reasoning".to_owned(),
            kind: "thinking".to_owned(),
            text: text.to_owned(),
        });
    }
    if let Some(calls) = message.get("tool_calls").and_then(|v| v.as_array()) {
        for (i, call) in calls.iter().enumerate() {
            let id = call
                .get("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("tool-{i}"), str::to_owned);
            let name = call
                .pointer("/function/name")
                .and_then(|v| v.as_str())
                .unwrap_or("tool")
                .to_owned();
            out.push(AgentActivity::Tool {
                id,
                text: format!("🛠️ {name}"),
                name,
            });
        }
    }
    out
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

    async fn run(
        &self,
        turn: AgentTurn,
        sink: Option<ActivitySink>,
    ) -> Result<AgentReply, LlmError> {
        let mut headers = vec![
            crate::llm::http_header(
                HeaderName::from_static(SESSION_KEY_HEADER),
                &turn.session_key,
            )?,
            crate::llm::http_header(
                HeaderName::from_static(MESSAGE_CHANNEL_HEADER),
                MESSAGE_CHANNEL,
            )?,
        ];
        if let Some(model) = turn.model_override.as_deref() {
            headers.push(crate::llm::http_header(
                HeaderName::from_static(MODEL_HEADER),
                model,
            )?);
        }
        let model = format!("openclaw/{}", turn.agent_id);
        let (completion, body) = self
            .client
            .chat_with_body(crate::llm::ChatCallArgs {
                model: &model,
                system_prompt: None,
                messages: &turn.messages,
                max_tokens: None,
                extra_headers: headers,
                mode: RetryMode::NotProcessedOnly,
            })
            .await?;
        let provenance = Provenance::from_response(&body);
        if let Some(sink) = sink {
            let items = activity_in_response(&body);
            if !items.is_empty() && !provenance.is_empty() {
                let _ = sink.try_send(AgentActivity::Model(provenance.clone()));
            }
            for item in items {
                let _ = sink.try_send(item);
            }
        }
        Ok(AgentReply {
            text: completion.text,
            provenance,
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
        Box::pin(self.run(turn, None))
    }

    fn run_turn_reporting(&self, turn: AgentTurn, sink: ActivitySink) -> AgentFuture<'_> {
        Box::pin(self.run(turn, Some(sink)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_from_a_response() {
        let p = Provenance::from_response(&serde_json::json!({
            "model": " anthropic/claude-opus-4-6 ", "reasoning_effort": "high", "runtime": " "
        }));
        assert_eq!(p.model.as_deref(), Some("anthropic/claude-opus-4-6"));
        assert_eq!(p.thinking.as_deref(), Some("high"));
        assert_eq!(p.runtime, None);
        // Our own agent alias echoed back names no model.
        for alias in ["openclaw", "openclaw/main", "OpenClaw:ops"] {
            let p = Provenance::from_response(&serde_json::json!({ "model": alias }));
            assert!(p.is_empty(), "{alias}");
        }
    }

    #[test]
    fn activity_from_a_response() {
        let body = serde_json::json!({"choices":[{"message":{"content":"hi","reasoning_content":"let me think","tool_calls":[{"id":"call_1","type":"function","function":{"name":"search","arguments":"{}"}}]}}]});
        assert_eq!(
            activity_in_response(&body),
            vec![
                AgentActivity::Commentary {
                    id: "reasoning".into(),
                    kind: "thinking".into(),
                    text: "let me think".into()
                },
                AgentActivity::Tool {
                    id: "call_1".into(),
                    name: "search".into(),
                    text: "🛠️ search".into()
                },
            ]
        );
        assert!(activity_in_response(&serde_json::json!({})).is_empty());
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
