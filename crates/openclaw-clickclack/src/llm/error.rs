//! Model and agent call errors.

use std::time::Duration;

/// A failed model (or agent) call. Messages never contain API keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// `model` is not `provider/model-id`.
    #[error("invalid model reference \"{model}\": expected \"provider/model-id\"")]
    InvalidModelRef {
        /// The value found.
        model: String,
    },
    /// The provider is neither built in nor configured.
    #[error("unknown model provider \"{provider}\": configure models.providers.{provider}")]
    UnknownProvider {
        /// The provider id.
        provider: String,
    },
    /// A provider configuration value is invalid.
    #[error("invalid model provider configuration at {path}: {message}")]
    InvalidProviderConfig {
        /// Config path, e.g. `models.providers.local.baseUrl`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The provider needs an API key and none is configured.
    #[error("No API key found for provider \"{provider}\": set models.providers.{provider}.apiKey{}", env_hint(.env.as_deref()))]
    MissingApiKey {
        /// The provider id.
        provider: String,
        /// The environment variable that would also supply it.
        env: Option<String>,
    },
    /// The provider answered with a non-success HTTP status.
    #[error("model provider \"{provider}\" returned HTTP {status}: {message}")]
    Status {
        /// The provider id.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// The provider's error message (bounded, keys scrubbed).
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// No complete response within the per-call timeout.
    #[error("model provider \"{provider}\" did not answer within {timeout:?}")]
    Timeout {
        /// The provider id.
        provider: String,
        /// The per-attempt timeout.
        timeout: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The provider could not be reached (connect, TLS, reset).
    #[error("could not reach model provider \"{provider}\": {message}")]
    Transport {
        /// The provider id.
        provider: String,
        /// What failed.
        message: String,
        /// Whether the failure happened before the request was sent.
        connect: bool,
        /// Attempts made.
        attempts: u32,
    },
    /// The response was not the expected JSON shape.
    #[error("unreadable response from model provider \"{provider}\": {message}")]
    Decode {
        /// The provider id.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The HTTP/TLS stack could not be set up.
    #[error("could not set up the model HTTP client: {0}")]
    Setup(String),
}

fn env_hint(env: Option<&str>) -> String {
    env.map(|e| format!(" or the {e} environment variable"))
        .unwrap_or_default()
}

impl LlmError {
    /// Whether retrying later may succeed (rate limits, server errors,
    /// timeouts, transport failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => *status == 429 || *status >= 500,
            LlmError::Timeout { .. } | LlmError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status, for [`LlmError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Attempts made before giving up (1 when not retried, 0 when no request was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            LlmError::Status { attempts, .. }
            | LlmError::Timeout { attempts, .. }
            | LlmError::Transport { attempts, .. } => *attempts,
            _ => 0,
        }
    }
}
