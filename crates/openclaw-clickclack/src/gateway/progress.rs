//! Native progress (`nativeProgress: true`, reference row 38): an
//! `agent.progress` ephemeral with a start line while the reply is produced,
//! then `op: "clear"`. Best-effort: failures are logged
//! (`clickclack progress publish failed: …`) and never fail a turn.

use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::requests::PublishEphemeral;
use clickclack_proto::{ChannelId, ConversationId, WorkspaceId};
use serde_json::{Map, Value, json};

/// Request bound of one progress publish (reference: 15 s).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the final `clear` may take before it is dropped (reference: 1 s).
pub const CLEAR_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Where progress goes.
#[derive(Debug, Clone)]
pub struct ProgressTarget {
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// Channel (for channel and thread messages).
    pub channel_id: Option<ChannelId>,
    /// DM (for direct messages).
    pub direct_conversation_id: Option<ConversationId>,
    /// The turn id (the source message id).
    pub turn_id: String,
}

/// The start line's text: `<label> is responding`, or `Agent is responding`
/// without a label.
pub fn start_text(label: Option<&str>) -> String {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(label) => format!("{label} is responding"),
        None => "Agent is responding".to_owned(),
    }
}

/// The payload of one progress frame.
pub fn payload(turn_id: &str, seq: u64, op: &str, text: Option<&str>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("turn_id".into(), json!(turn_id));
    map.insert("seq".into(), json!(seq));
    map.insert("op".into(), json!(op));
    if let Some(text) = text {
        map.insert(
            "line".into(),
            json!({ "id": "turn", "kind": "commentary", "text": text, "status": "running" }),
        );
    }
    map
}

async fn publish(
    client: &Client,
    target: &ProgressTarget,
    payload: Map<String, Value>,
    limit: Duration,
) {
    let mut request =
        PublishEphemeral::new(target.workspace_id.clone(), "agent.progress").with_payload(payload);
    if let Some(conversation) = &target.direct_conversation_id {
        request = request.with_direct_conversation(conversation.clone());
    } else if let Some(channel) = &target.channel_id {
        request = request.with_channel(channel.clone());
    }
    match tokio::time::timeout(limit, client.publish_ephemeral(&request)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(turn = %target.turn_id, "clickclack progress publish failed: {e}")
        }
        Err(_) => {
            tracing::warn!(turn = %target.turn_id, "clickclack progress publish failed: timed out")
        }
    }
}

/// Publishes the start line (`seq` 1, `op: "append"`).
pub async fn start(client: &Client, target: &ProgressTarget, label: Option<&str>) {
    let text = start_text(label);
    publish(
        client,
        target,
        payload(&target.turn_id, 1, "append", Some(&text)),
        PUBLISH_TIMEOUT,
    )
    .await;
}

/// Clears the progress (`seq` 2, `op: "clear"`), waiting at most [`CLEAR_TIMEOUT`].
pub async fn clear(client: &Client, target: &ProgressTarget) {
    publish(
        client,
        target,
        payload(&target.turn_id, 2, "clear", None),
        CLEAR_TIMEOUT,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_line_and_clear_payloads() {
        assert_eq!(start_text(Some("Helper")), "Helper is responding");
        assert_eq!(start_text(Some("  ")), "Agent is responding");
        let p = Value::Object(payload("msg_1", 1, "append", Some("Helper is responding")));
        assert_eq!(
            p,
            json!({"turn_id":"msg_1","seq":1,"op":"append","line":{"id":"turn","kind":"commentary","text":"Helper is responding","status":"running"}})
        );
        let c = Value::Object(payload("msg_1", 2, "clear", None));
        assert_eq!(c, json!({"turn_id":"msg_1","seq":2,"op":"clear"}));
    }
}
