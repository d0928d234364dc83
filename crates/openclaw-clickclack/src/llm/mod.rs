//! Model completions: the [`LlmRuntime`] trait and its HTTP implementation.
//!
//! Models are named `provider/model-id` (OpenClaw convention). Providers come
//! from `models.providers.<id>` (`baseUrl`, `apiKey`, `api`) over three
//! built-ins ([`ProviderRegistry::builtin`]):
//!
//! | id | base URL | key | API |
//! |---|---|---|---|
//! | `openai` | `https://api.openai.com/v1` | `OPENAI_API_KEY` | `openai-completions` |
//! | `anthropic` | `https://api.anthropic.com/v1` | `ANTHROPIC_API_KEY` | `anthropic-messages` |
//! | `ollama` | `http://127.0.0.1:11434/v1` | none | `openai-completions` |
//!
//! `openai-completions` is `POST {baseUrl}/chat/completions` with a bearer key;
//! `anthropic-messages` is `POST {baseUrl}/messages` with `x-api-key`,
//! `anthropic-version: 2023-06-01` and `max_tokens`. Every call has a
//! per-attempt timeout and bounded retries with jittered exponential backoff
//! on 429 / 5xx / connect errors ([`RetryPolicy`]); other 4xx fail at once.
//! Keys are [`ApiKey`]s and never appear in `Debug`, `Display` or errors.
//!
//! Library users can plug their own model stack by implementing
//! [`LlmRuntime`]:
//!
//! ```
//! use openclaw_clickclack::llm::{Completion, CompletionRequest, LlmFuture, LlmRuntime};
//!
//! struct Echo;
//! impl LlmRuntime for Echo {
//!     fn complete(&self, request: CompletionRequest) -> LlmFuture<'_> {
//!         Box::pin(async move {
//!             let last = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
//!             Ok(Completion::text(format!("echo: {last}")))
//!         })
//!     }
//! }
//! ```

mod anthropic;
mod error;
pub mod host_defaults;
mod http;
mod openai;
mod provider;
mod runtime;
mod secret;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use error::LlmError;
pub use http::{HttpOptions, RetryPolicy};
pub use provider::{ApiKind, ModelRef, ProviderConfig, ProviderRegistry, ProviderSettings};
pub use runtime::{DEFAULT_ANTHROPIC_MAX_TOKENS, HttpLlmRuntime};
pub use secret::ApiKey;

pub(crate) use http::{
    HttpTransport, RetryMode, bearer as http_bearer, join_url as http_join_url,
    sensitive as http_header,
};
pub(crate) use openai::{ChatCall as ChatCallArgs, OpenAiClient};

/// The `purpose` of model-mode bot replies (reference row 35).
pub const BOT_REPLY_PURPOSE: &str = "clickclack bot reply";

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The human (or other bot) side.
    User,
    /// The model's side.
    Assistant,
}

impl Role {
    /// `system`, `user` or `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// An image attached to a chat message (sent in the provider's image format:
/// OpenAI `image_url` data URLs, Anthropic base64 `image` blocks).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInput {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: String,
    /// The image bytes, base64 (standard alphabet, padded).
    pub data_base64: String,
}

impl std::fmt::Debug for ImageInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageInput")
            .field("media_type", &self.media_type)
            .field("base64_len", &self.data_base64.len())
            .finish()
    }
}

impl ImageInput {
    /// An image from raw bytes.
    pub fn from_bytes(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        use base64::Engine as _;
        ImageInput {
            media_type: media_type.into(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// `data:<media type>;base64,<data>`.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.media_type, self.data_base64)
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author role.
    pub role: Role,
    /// Text content.
    pub content: String,
    /// Images shown with the text (user messages only; empty for most).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageInput>,
}

impl ChatMessage {
    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::User,
            content: content.into(),
            images: Vec::new(),
        }
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
            images: Vec::new(),
        }
    }

    /// This message with `images` attached.
    #[must_use]
    pub fn with_images(mut self, images: Vec<ImageInput>) -> Self {
        self.images = images;
        self
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::System,
            content: content.into(),
            images: Vec::new(),
        }
    }
}

/// A single-turn completion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionRequest {
    /// The agent the call is made for (informational for HTTP providers).
    pub agent_id: Option<String>,
    /// `provider/model-id`.
    pub model: String,
    /// Why the call is made, e.g. [`BOT_REPLY_PURPOSE`] (used in logs).
    pub purpose: String,
    /// System prompt, sent before the messages.
    pub system_prompt: Option<String>,
    /// Conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Output budget; `None` sends none (Anthropic gets
    /// [`DEFAULT_ANTHROPIC_MAX_TOKENS`], which it requires).
    pub max_tokens: Option<u32>,
}

/// Token counts, when the provider reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// A completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The generated text (may be blank: see [`crate::reply`]).
    pub text: String,
    /// The model that answered, as reported.
    pub model: Option<String>,
    /// Why generation stopped, as reported.
    pub finish_reason: Option<String>,
    /// Token usage, as reported.
    pub usage: Option<Usage>,
}

impl Completion {
    /// A completion with only text.
    pub fn text(text: impl Into<String>) -> Self {
        Completion {
            text: text.into(),
            ..Default::default()
        }
    }
}

/// The boxed future returned by [`LlmRuntime::complete`].
pub type LlmFuture<'a> = Pin<Box<dyn Future<Output = Result<Completion, LlmError>> + Send + 'a>>;

/// Produces completions. Object-safe (`Arc<dyn LlmRuntime>`): implement it
/// with `Box::pin(async move { … })`.
pub trait LlmRuntime: Send + Sync {
    /// Runs one completion.
    fn complete(&self, request: CompletionRequest) -> LlmFuture<'_>;

    /// Whether `model` (`provider/model-id`) accepts images; images for a
    /// model that does not are replaced by a text notice. Default: `false`.
    fn supports_images(&self, model: &str) -> bool {
        let _ = model;
        false
    }
}

impl<T: LlmRuntime + ?Sized> LlmRuntime for Arc<T> {
    fn complete(&self, request: CompletionRequest) -> LlmFuture<'_> {
        (**self).complete(request)
    }
    fn supports_images(&self, model: &str) -> bool {
        (**self).supports_images(model)
    }
}

impl<T: LlmRuntime + ?Sized> LlmRuntime for Box<T> {
    fn complete(&self, request: CompletionRequest) -> LlmFuture<'_> {
        (**self).complete(request)
    }
    fn supports_images(&self, model: &str) -> bool {
        (**self).supports_images(model)
    }
}

#[cfg(test)]
mod tests;
