//! Native progress (`nativeProgress: true`, reference row 38): `agent.progress`
//! ephemerals through the turn, with a monotonic `seq`:
//!
//! 1. start: `append` line `turn` "`<label>` is responding" (`running`);
//! 2. a retried model/agent call: `update` of `turn` saying so;
//! 3. each activity item the agent reports: `append` (first) or `update`
//!    of its own line (`kind` `commentary` or `tool`, `tool_name`);
//! 4. the end: `update` of `turn` to `done` / `failed`, then `clear`
//!    (waiting at most [`CLEAR_TIMEOUT`]).
//!
//! Best-effort: failures are logged (`clickclack progress publish failed: …`)
//! and never fail a turn.

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

/// One progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressLine {
    /// Line id (`turn` for the start line).
    pub id: String,
    /// `commentary` or `tool`.
    pub kind: String,
    /// Text.
    pub text: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// Tool name, for tool lines.
    pub tool_name: Option<String>,
}

/// The payload of one line operation.
pub fn line_payload(turn_id: &str, seq: u64, op: &str, line: &ProgressLine) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("turn_id".into(), json!(turn_id));
    map.insert("seq".into(), json!(seq));
    map.insert("op".into(), json!(op));
    let mut l =
        json!({ "id": line.id, "kind": line.kind, "text": line.text, "status": line.status });
    if let Some(name) = &line.tool_name {
        l["tool_name"] = json!(name);
    }
    map.insert("line".into(), l);
    map
}

/// The progress of one turn (see the module docs).
#[derive(Debug)]
pub struct TurnProgress<'a> {
    client: &'a Client,
    target: ProgressTarget,
    label: String,
    seq: std::sync::atomic::AtomicU64,
    lines: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl<'a> TurnProgress<'a> {
    /// Progress for `target`, labelled `label`.
    pub fn new(client: &'a Client, target: ProgressTarget, label: Option<&str>) -> Self {
        TurnProgress {
            client,
            target,
            label: start_text(label),
            seq: std::sync::atomic::AtomicU64::new(0),
            lines: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }

    /// Appends a line the first time its id is seen, updates it afterwards.
    pub async fn line(&self, line: ProgressLine) {
        let first = self
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(line.id.clone());
        let op = if first { "append" } else { "update" };
        let seq = self.next_seq();
        publish(
            self.client,
            &self.target,
            line_payload(&self.target.turn_id, seq, op, &line),
            PUBLISH_TIMEOUT,
        )
        .await;
    }

    fn turn_line(&self, text: String, status: &str) -> ProgressLine {
        ProgressLine {
            id: "turn".to_owned(),
            kind: "commentary".to_owned(),
            text,
            status: status.to_owned(),
            tool_name: None,
        }
    }

    /// 1. The start line.
    pub async fn start(&self) {
        self.line(self.turn_line(self.label.clone(), "running"))
            .await;
    }

    /// 2. A retry of the model or agent call.
    pub async fn retrying(&self, attempt: u32) {
        let text = format!("{} (retrying, attempt {})", self.label, attempt + 1);
        self.line(self.turn_line(text, "running")).await;
    }

    /// 4. The final state of the turn line, then `clear`.
    pub async fn finish(&self, ok: bool) {
        let (text, status) = if ok {
            (self.label.replace(" is responding", " responded"), "done")
        } else {
            (
                self.label.replace(" is responding", " could not respond"),
                "failed",
            )
        };
        let line = self.turn_line(text, status);
        let seq = self.next_seq();
        publish(
            self.client,
            &self.target,
            line_payload(&self.target.turn_id, seq, "update", &line),
            CLEAR_TIMEOUT,
        )
        .await;
        let seq = self.next_seq();
        publish(
            self.client,
            &self.target,
            payload(&self.target.turn_id, seq, "clear", None),
            CLEAR_TIMEOUT,
        )
        .await;
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
