//! The `anthropic-messages` wire protocol (`POST {baseUrl}/messages`).

use http::HeaderValue;
use http::header::HeaderName;
use serde::{Deserialize, Serialize};

use super::error::LlmError;
use super::http::{
    HttpTransport, JsonPost, RetryMode, WireMessage, decode_json, encode_json, join_url, sensitive,
};
use super::secret::ApiKey;
use super::{ChatMessage, Completion, Role, Usage};

/// The `anthropic-version` header value sent.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage>,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<WireBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireBlock {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

/// The `content` of one message: a string, or `[{type:"text"}, {type:"image",
/// source:{type:"base64", media_type, data}}…]` when images are attached.
pub(crate) fn wire_content(message: &ChatMessage) -> serde_json::Value {
    if message.images.is_empty() {
        return serde_json::Value::String(message.content.clone());
    }
    let mut parts: Vec<serde_json::Value> = message
        .images
        .iter()
        .map(|image| {
            serde_json::json!({"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data_base64}})
        })
        .collect();
    parts.push(serde_json::json!({"type": "text", "text": message.content}));
    serde_json::Value::Array(parts)
}

/// One Messages API call.
pub(crate) struct MessagesCall<'a> {
    pub(crate) provider: &'a str,
    pub(crate) base_url: &'a str,
    pub(crate) api_key: Option<&'a ApiKey>,
    pub(crate) model: &'a str,
    pub(crate) system_prompt: Option<&'a str>,
    pub(crate) messages: &'a [ChatMessage],
    pub(crate) max_tokens: u32,
    /// Extra headers (`models.providers.<id>.headers`).
    pub(crate) extra_headers: Vec<(HeaderName, HeaderValue)>,
}

/// Runs one Messages API call. `system` messages in the list are folded into
/// the top-level `system` field (the API has no system role).
pub(crate) async fn complete(
    transport: &HttpTransport,
    call: MessagesCall<'_>,
) -> Result<Completion, LlmError> {
    let mut system: Vec<&str> = call
        .system_prompt
        .filter(|s| !s.trim().is_empty())
        .into_iter()
        .collect();
    let mut messages = Vec::with_capacity(call.messages.len());
    for message in call.messages {
        match message.role {
            Role::System => system.push(&message.content),
            role => messages.push(WireMessage {
                role: role.as_str(),
                content: wire_content(message),
            }),
        }
    }
    let body = encode_json(&WireRequest {
        model: call.model,
        max_tokens: call.max_tokens,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
    })?;
    let mut headers = vec![(
        HeaderName::from_static("anthropic-version"),
        HeaderValue::from_static(ANTHROPIC_VERSION),
    )];
    if let Some(key) = call.api_key {
        headers.push(sensitive(
            HeaderName::from_static("x-api-key"),
            key.expose_secret(),
        )?);
    }
    headers.extend(call.extra_headers);
    let url = join_url(call.base_url, "/messages");
    let bytes = transport
        .post_json(&JsonPost {
            provider: call.provider,
            url: &url,
            headers,
            body,
            secret: call.api_key,
            mode: RetryMode::Idempotent,
        })
        .await?;
    let response: WireResponse = decode_json(call.provider, "a Messages API response", &bytes)?;
    let text = response
        .content
        .iter()
        .filter(|block| block.kind == "text")
        .filter_map(|block| block.text.as_deref())
        .collect::<Vec<_>>()
        .join("");
    Ok(Completion {
        text,
        model: response.model,
        finish_reason: response.stop_reason,
        usage: response.usage.map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ImageInput;

    #[test]
    fn images_become_base64_image_blocks() {
        let m = ChatMessage::user("look")
            .with_images(vec![ImageInput::from_bytes("image/jpeg", b"abc")]);
        assert_eq!(
            wire_content(&m),
            serde_json::json!([{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"YWJj"}},{"type":"text","text":"look"}])
        );
    }
}
