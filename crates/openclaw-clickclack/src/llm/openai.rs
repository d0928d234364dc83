//! The `openai-completions` wire protocol (`POST {baseUrl}/chat/completions`).

use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::error::LlmError;
use super::http::{
    HttpTransport, JsonPost, RetryMode, WireMessage, bearer, decode_json, encode_json, join_url,
};
use super::secret::ApiKey;
use super::{ChatMessage, Completion, Role, Usage};

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireChoiceMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireChoiceMessage {
    #[serde(default)]
    content: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// Text of a `content` that is a string or an array of `{type:"text", text}` parts.
fn content_text(content: Option<&serde_json::Value>) -> String {
    match content {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The `content` of one message: a string, or `[{type:"text"}, {type:"image_url",
/// image_url:{url:"data:…"}}…]` when images are attached.
pub(crate) fn wire_content(message: &ChatMessage) -> serde_json::Value {
    if message.images.is_empty() {
        return serde_json::Value::String(message.content.clone());
    }
    let mut parts = vec![serde_json::json!({"type": "text", "text": message.content})];
    parts.extend(message.images.iter().map(
        |image| serde_json::json!({"type": "image_url", "image_url": {"url": image.data_url()}}),
    ));
    serde_json::Value::Array(parts)
}

/// An OpenAI-compatible chat completions client (also used for the
/// OpenClaw Gateway's `/v1/chat/completions`).
#[derive(Debug, Clone)]
pub(crate) struct OpenAiClient {
    pub(crate) provider: String,
    pub(crate) base_url: String,
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) transport: HttpTransport,
}

/// One chat call.
pub(crate) struct ChatCall<'a> {
    pub(crate) model: &'a str,
    pub(crate) system_prompt: Option<&'a str>,
    pub(crate) messages: &'a [ChatMessage],
    pub(crate) max_tokens: Option<u32>,
    pub(crate) extra_headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) mode: RetryMode,
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use crate::llm::ImageInput;

    #[test]
    fn images_become_image_url_parts() {
        let m = ChatMessage::user("look")
            .with_images(vec![ImageInput::from_bytes("image/png", b"abc")]);
        assert_eq!(
            wire_content(&m),
            serde_json::json!([{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,YWJj"}}])
        );
        assert_eq!(
            wire_content(&ChatMessage::user("hi")),
            serde_json::json!("hi")
        );
    }
}

impl OpenAiClient {
    pub(crate) async fn chat(&self, call: ChatCall<'_>) -> Result<Completion, LlmError> {
        self.chat_with_body(call)
            .await
            .map(|(completion, _)| completion)
    }

    /// Like [`Self::chat`], also returning the response JSON (for fields
    /// such as `reasoning_content` and `tool_calls`).
    pub(crate) async fn chat_with_body(
        &self,
        call: ChatCall<'_>,
    ) -> Result<(Completion, serde_json::Value), LlmError> {
        let mut messages = Vec::with_capacity(call.messages.len() + 1);
        if let Some(system) = call.system_prompt.filter(|s| !s.trim().is_empty()) {
            messages.push(WireMessage {
                role: Role::System.as_str(),
                content: serde_json::Value::String(system.to_owned()),
            });
        }
        messages.extend(call.messages.iter().map(|m| WireMessage {
            role: m.role.as_str(),
            content: wire_content(m),
        }));
        let body = encode_json(&WireRequest {
            model: call.model,
            messages,
            max_tokens: call.max_tokens,
        })?;
        let mut headers = call.extra_headers;
        if let Some(key) = &self.api_key {
            headers.push(bearer(key)?);
        }
        let url = join_url(&self.base_url, "/chat/completions");
        let bytes = self
            .transport
            .post_json(&JsonPost {
                provider: &self.provider,
                url: &url,
                headers,
                body,
                secret: self.api_key.as_ref(),
                mode: call.mode,
            })
            .await?;
        let completion = self.decode(&bytes)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((completion, body))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Completion, LlmError> {
        let response: WireResponse = decode_json(&self.provider, "a chat completion", bytes)?;
        let Some(choice) = response.choices.into_iter().next() else {
            return Err(LlmError::Decode {
                provider: self.provider.clone(),
                message: "the completion has no choices".to_owned(),
            });
        };
        Ok(Completion {
            text: content_text(choice.message.as_ref().and_then(|m| m.content.as_ref())),
            model: response.model,
            finish_reason: choice.finish_reason,
            usage: response.usage.map(|u| Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_shapes() {
        assert_eq!(content_text(Some(&serde_json::json!("hi"))), "hi");
        assert_eq!(
            content_text(Some(
                &serde_json::json!([{"type":"text","text":"a"},{"type":"text","text":"b"}])
            )),
            "ab"
        );
        assert_eq!(content_text(Some(&serde_json::Value::Null)), "");
        assert_eq!(content_text(None), "");
    }
}
