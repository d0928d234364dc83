//! [`HttpLlmRuntime`]: the built-in [`LlmRuntime`] over HTTP.

use std::time::Instant;

use super::anthropic::{self, MessagesCall};
use super::error::LlmError;
use super::http::sensitive;
use super::http::{HttpOptions, HttpTransport, RetryMode};
use super::openai::{ChatCall, OpenAiClient};
use super::provider::{ApiKind, ProviderConfig, ProviderRegistry};
use super::{Completion, CompletionRequest, LlmFuture, LlmRuntime};
use http::{HeaderName, HeaderValue};

/// `max_tokens` sent to `anthropic-messages` providers when the request sets none.
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 4096;

/// Completes requests against the configured providers over HTTP.
#[derive(Debug, Clone)]
pub struct HttpLlmRuntime {
    registry: ProviderRegistry,
    transport: HttpTransport,
}

impl HttpLlmRuntime {
    /// A runtime over `registry` with the given HTTP options.
    pub fn new(registry: ProviderRegistry, options: HttpOptions) -> Result<Self, LlmError> {
        Ok(HttpLlmRuntime {
            registry,
            transport: HttpTransport::new(options)?,
        })
    }

    /// The providers.
    pub fn registry(&self) -> &ProviderRegistry {
        &self.registry
    }

    async fn run(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        let (model, provider) = self.registry.resolve(&request.model)?;
        let extra_headers = provider_headers(&model.provider, provider)?;
        let started = Instant::now();
        let result = match provider.api {
            ApiKind::OpenAiCompletions => {
                let client = OpenAiClient {
                    provider: model.provider.clone(),
                    base_url: provider.base_url.clone(),
                    api_key: provider.api_key.clone(),
                    transport: self.transport.clone(),
                };
                client
                    .chat(ChatCall {
                        model: &model.model,
                        system_prompt: request.system_prompt.as_deref(),
                        messages: &request.messages,
                        max_tokens: request.max_tokens,
                        extra_headers,
                        mode: RetryMode::Idempotent,
                    })
                    .await
            }
            ApiKind::AnthropicMessages => {
                anthropic::complete(
                    &self.transport,
                    MessagesCall {
                        provider: &model.provider,
                        base_url: &provider.base_url,
                        api_key: provider.api_key.as_ref(),
                        model: &model.model,
                        system_prompt: request.system_prompt.as_deref(),
                        messages: &request.messages,
                        max_tokens: request.max_tokens.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS),
                        extra_headers,
                    },
                )
                .await
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) => {
                tracing::debug!(model = %model, purpose = %request.purpose, elapsed_ms, "model call finished")
            }
            Err(error) => {
                tracing::warn!(model = %model, purpose = %request.purpose, elapsed_ms, %error, "model call failed")
            }
        }
        result
    }
}

/// `models.providers.<id>.headers` as request headers (values marked sensitive).
fn provider_headers(
    provider_id: &str,
    provider: &ProviderConfig,
) -> Result<Vec<(HeaderName, HeaderValue)>, LlmError> {
    provider
        .headers
        .iter()
        .map(|(name, value)| {
            let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                LlmError::InvalidProviderConfig {
                    path: format!("models.providers.{provider_id}.headers.{name}"),
                    message: "not a valid HTTP header name".to_owned(),
                }
            })?;
            sensitive(header, value.expose_secret())
        })
        .collect()
}

impl LlmRuntime for HttpLlmRuntime {
    fn complete(&self, request: CompletionRequest) -> LlmFuture<'_> {
        Box::pin(self.run(request))
    }

    fn supports_images(&self, model: &str) -> bool {
        self.registry.supports_images(model)
    }
}
