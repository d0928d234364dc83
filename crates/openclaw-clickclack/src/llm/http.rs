//! The HTTP transport shared by the model clients and the agent host:
//! hyper-util's pooled client over rustls (ring, webpki roots), a per-attempt
//! timeout, a response size cap and bounded retries with jittered backoff.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::error::LlmError;
use super::secret::ApiKey;

/// Longest provider error message kept in an [`LlmError`].
const MAX_ERROR_MESSAGE_CHARS: usize = 512;

/// Retry behaviour for model calls.
///
/// Retried: HTTP 429 and 5xx, connect failures, and (when
/// `retry_on_timeout`) timeouts. Other 4xx are permanent and returned at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (default 3, minimum 1).
    pub max_attempts: u32,
    /// Delay before the first retry (default 500 ms); doubles per retry.
    pub initial_backoff: Duration,
    /// Cap on one delay, also on an honoured `Retry-After` (default 8 s).
    pub max_backoff: Duration,
    /// Retry a call that timed out (default `false`: a timed-out model call
    /// already cost a full timeout).
    pub retry_on_timeout: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            retry_on_timeout: false,
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// The delay before retry number `retry` (1-based): the client crate's
    /// [`Backoff`](clickclack_client::Backoff) (exponential from
    /// `initial_backoff`, capped at `max_backoff`, full jitter).
    pub fn backoff(&self, retry: u32) -> Duration {
        clickclack_client::Backoff::new(self.initial_backoff, self.max_backoff)
            .delay(retry.saturating_sub(1))
    }
}

/// HTTP settings for model and agent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// TCP connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Per-attempt timeout covering headers and body (default 120 s).
    pub request_timeout: Duration,
    /// Largest accepted response body (default 8 MiB).
    pub max_response_bytes: usize,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_response_bytes: 8 * 1024 * 1024,
            retry: RetryPolicy::default(),
        }
    }
}

impl HttpOptions {
    /// Defaults for agent turns through an OpenClaw Gateway: a 10 minute
    /// per-attempt timeout (agent runs use tools and take long).
    pub fn agent_defaults() -> Self {
        HttpOptions {
            request_timeout: Duration::from_secs(600),
            ..Default::default()
        }
    }
}

/// Which failures may be retried for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryMode {
    /// A repeated request only costs tokens: retry 429, 5xx, connect errors.
    Idempotent,
    /// A repeated request may run an agent twice: retry only when the
    /// request was certainly not processed (connect errors, 429, 503).
    NotProcessedOnly,
}

impl RetryMode {
    fn retries_status(self, status: StatusCode) -> bool {
        match self {
            RetryMode::Idempotent => {
                status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            RetryMode::NotProcessedOnly => {
                status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

/// One JSON POST.
pub(crate) struct JsonPost<'a> {
    /// Provider label for errors and logs.
    pub(crate) provider: &'a str,
    /// Absolute URL.
    pub(crate) url: &'a str,
    /// Extra headers (auth included).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// JSON body.
    pub(crate) body: Bytes,
    /// A secret to scrub from any error text.
    pub(crate) secret: Option<&'a ApiKey>,
    /// Retry classification.
    pub(crate) mode: RetryMode,
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The shared, cloneable HTTP transport (a connection pool).
#[derive(Clone)]
pub(crate) struct HttpTransport {
    client: HttpsClient,
    options: HttpOptions,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// One failed attempt.
enum AttemptError {
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        message: String,
    },
    Timeout,
    Transport {
        message: String,
        connect: bool,
        permanent: bool,
    },
}

/// The TLS configuration of every model and agent client in the process
/// (ring provider, webpki roots). The root store is large, so it is built
/// once and shared (cloning the configuration shares it), instead of once
/// per account.
fn shared_tls_config() -> Result<rustls::ClientConfig, LlmError> {
    use hyper_rustls::ConfigBuilderExt as _;
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| builder.with_webpki_roots().with_no_client_auth())
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(LlmError::Setup)
}

impl HttpTransport {
    /// Builds the client (TLS with the ring provider and webpki roots; plain
    /// HTTP allowed for loopback and local providers such as Ollama).
    pub(crate) fn new(options: HttpOptions) -> Result<Self, LlmError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(options.connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(shared_tls_config()?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Ok(HttpTransport { client, options })
    }

    /// POSTs JSON and returns the 2xx body, retrying per the policy.
    pub(crate) async fn post_json(&self, post: &JsonPost<'_>) -> Result<Bytes, LlmError> {
        let policy = self.options.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(post).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let retryable = match &failure {
                AttemptError::Status { status, .. } => post.mode.retries_status(*status),
                AttemptError::Timeout => {
                    policy.retry_on_timeout && post.mode == RetryMode::Idempotent
                }
                AttemptError::Transport {
                    connect, permanent, ..
                } => *connect || (post.mode == RetryMode::Idempotent && !*permanent),
            };
            if !retryable || attempt >= max_attempts {
                return Err(self.final_error(post, failure, attempt));
            }
            let mut delay = policy.backoff(attempt);
            if let AttemptError::Status {
                retry_after: Some(after),
                ..
            } = &failure
            {
                delay = delay.max(*after).min(policy.max_backoff);
            }
            tracing::warn!(
                provider = post.provider,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %self.final_error(post, failure, attempt),
                "model call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// GETs `url` once (no retries, bounded by the request timeout) and
    /// returns the response status; the body is discarded. Used for
    /// reachability checks. Error texts have `secret` scrubbed.
    pub(crate) async fn get_status(
        &self,
        provider: &str,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        secret: Option<&ApiKey>,
    ) -> Result<StatusCode, LlmError> {
        let scrub = |text: String| match secret {
            Some(secret) => secret.scrub(&text),
            None => text,
        };
        let mut builder = Request::builder().method(Method::GET).uri(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| LlmError::Setup(scrub(format!("invalid request: {e}"))))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Drain a little of the body so the connection can be reused; ignore errors.
            let _ = Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(self.options.request_timeout, exchange).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => Err(LlmError::Transport {
                provider: provider.to_owned(),
                message: scrub(error_chain(&e)),
                connect: e.is_connect(),
                attempts: 1,
            }),
            Err(_) => Err(LlmError::Timeout {
                provider: provider.to_owned(),
                timeout: self.options.request_timeout,
                attempts: 1,
            }),
        }
    }

    fn final_error(&self, post: &JsonPost<'_>, failure: AttemptError, attempts: u32) -> LlmError {
        let scrub = |text: String| match post.secret {
            Some(secret) => secret.scrub(&text),
            None => text,
        };
        let provider = post.provider.to_owned();
        match failure {
            AttemptError::Status {
                status, message, ..
            } => LlmError::Status {
                provider,
                status: status.as_u16(),
                message: scrub(message),
                attempts,
            },
            AttemptError::Timeout => LlmError::Timeout {
                provider,
                timeout: self.options.request_timeout,
                attempts,
            },
            AttemptError::Transport {
                message, connect, ..
            } => LlmError::Transport {
                provider,
                message: scrub(message),
                connect,
                attempts,
            },
        }
    }

    async fn attempt(&self, post: &JsonPost<'_>) -> Result<Bytes, AttemptError> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(post.url)
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &post.headers {
            builder = builder.header(name, value);
        }
        let request =
            builder
                .body(Full::new(post.body.clone()))
                .map_err(|e| AttemptError::Transport {
                    message: format!("invalid request: {e}"),
                    connect: false,
                    permanent: true,
                })?;
        let exchange = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|e| AttemptError::Transport {
                        message: error_chain(&e),
                        connect: e.is_connect(),
                        permanent: false,
                    })?;
            let (parts, body) = response.into_parts();
            let limit = self.options.max_response_bytes;
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    let too_large = e.is::<http_body_util::LengthLimitError>();
                    AttemptError::Transport {
                        message: if too_large {
                            format!("response body exceeds {limit} bytes")
                        } else {
                            format!("reading response body: {}", error_chain(e.as_ref()))
                        },
                        connect: false,
                        permanent: too_large,
                    }
                })?
                .to_bytes();
            if parts.status.is_success() {
                return Ok(body);
            }
            let retry_after = parts
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Err(AttemptError::Status {
                status: parts.status,
                retry_after,
                message: error_message(&body),
            })
        };
        match tokio::time::timeout(self.options.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError::Timeout),
        }
    }
}

/// An error and its sources, joined with `: `.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The provider's error message: `error.message`, `error` (string) or
/// `message` from a JSON body, else the body text; bounded.
pub(crate) fn error_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let error = v.get("error");
            error
                .and_then(|e| e.get("message"))
                .and_then(|m| m.as_str())
                .or_else(|| error.and_then(|e| e.as_str()))
                .or_else(|| v.get("message").and_then(|m| m.as_str()))
                .map(str::to_owned)
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    let text = if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text
    };
    if text.chars().count() > MAX_ERROR_MESSAGE_CHARS {
        let mut cut: String = text.chars().take(MAX_ERROR_MESSAGE_CHARS).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

/// `Authorization: Bearer <key>` (marked sensitive).
pub(crate) fn bearer(key: &ApiKey) -> Result<(HeaderName, HeaderValue), LlmError> {
    sensitive(
        http::header::AUTHORIZATION,
        &format!("Bearer {}", key.expose_secret()),
    )
}

/// A sensitive header value (never printed by `Debug`).
pub(crate) fn sensitive(
    name: HeaderName,
    value: &str,
) -> Result<(HeaderName, HeaderValue), LlmError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        LlmError::Setup(format!(
            "the {name} header value contains characters not allowed in HTTP headers"
        ))
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// One `{role, content}` chat message as both wire protocols send it.
#[derive(serde::Serialize)]
pub(crate) struct WireMessage {
    pub(crate) role: &'static str,
    /// A string, or an array of content parts when images are attached.
    pub(crate) content: serde_json::Value,
}

/// Encodes a request body as JSON.
pub(crate) fn encode_json(body: &impl serde::Serialize) -> Result<Bytes, LlmError> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| LlmError::Setup(format!("encoding request: {e}")))
}

/// Decodes a provider response; `expected` says what the body should have
/// been (`a chat completion`), for the error.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    provider: &str,
    expected: &str,
    bytes: &[u8],
) -> Result<T, LlmError> {
    serde_json::from_slice(bytes).map_err(|e| LlmError::Decode {
        provider: provider.to_owned(),
        message: format!("expected {expected}: {e}"),
    })
}

/// Joins a base URL (trailing `/` ignored) and a path starting with `/`.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            retry_on_timeout: false,
        };
        for _ in 0..50 {
            assert!(p.backoff(1) <= Duration::from_millis(100));
            assert!(p.backoff(2) <= Duration::from_millis(200));
            assert!(p.backoff(3) <= Duration::from_millis(300));
            assert!(p.backoff(40) <= Duration::from_millis(300));
        }
    }

    #[test]
    fn error_messages_are_extracted_and_bounded() {
        assert_eq!(
            error_message(br#"{"error":{"message":"bad model"}}"#),
            "bad model"
        );
        assert_eq!(error_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message(br#"{"message":"m"}"#), "m");
        assert_eq!(error_message(b"  plain  "), "plain");
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(
            error_message("x".repeat(2000).as_bytes()).chars().count(),
            513
        );
    }

    #[test]
    fn urls_join() {
        assert_eq!(
            join_url("http://h/v1/", "/messages"),
            "http://h/v1/messages"
        );
        assert_eq!(join_url("http://h/v1", "/messages"), "http://h/v1/messages");
    }
}
