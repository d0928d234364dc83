//! Native progress (`nativeProgress: true`, reference row 38): `agent.progress`
//! ephemerals through the turn, with a monotonic `seq`:
//!
//! 1. start: `append` line `turn` "`<label>` is responding" (`running`);
//! 2. a retried model/agent call: `update` of `turn` saying so;
//! 3. each activity item the agent reports: `append` (first) or `update`
//!    of its own line (`kind` `commentary` or `tool`, `tool_name`);
//! 4. the end: the lines still queued are written at once (within
//!    [`CLEAR_TIMEOUT`]; what is left then is dropped), then `clear`,
//!    waiting at most [`CLEAR_TIMEOUT`].
//!
//! Lines are queued ([`TurnProgress::line`]) and written by the turn's
//! driver ([`TurnProgress::flush`]) at most every [`LINE_COALESCE`]: the
//! updates of one line in between collapse into the last one. Each request
//! is bounded by [`PUBLISH_TIMEOUT`]. Best-effort: failures are logged
//! (`clickclack progress publish failed: …`) and never fail a turn.

use std::sync::Mutex;
use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::requests::PublishEphemeral;
use clickclack_proto::{ChannelId, ConversationId, WorkspaceId};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// Request bound of one progress publish (reference: 15 s).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the final `clear` may take before it is dropped (reference: 1 s).
pub const CLEAR_TIMEOUT: Duration = Duration::from_millis(1_000);
/// Line updates are written at most this often (reference: 100 ms).
pub const LINE_COALESCE: Duration = Duration::from_millis(100);

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

/// The payload of one progress frame without a line (`clear`), or with the
/// `turn` line carrying `text`.
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
            tracing::warn!(turn = %target.turn_id, "clickclack progress publish failed: timed out after {} ms", limit.as_millis())
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

#[derive(Debug, Default)]
struct Queue {
    seq: u64,
    /// Lines already appended.
    known: std::collections::HashSet<String>,
    /// Lines waiting to be written, in first-queued order; a newer state of
    /// a queued line replaces it in place.
    queued: Vec<ProgressLine>,
    last_flush: Option<Instant>,
}

/// The progress of one turn (see the module docs).
#[derive(Debug)]
pub struct TurnProgress<'a> {
    client: &'a Client,
    target: ProgressTarget,
    label: String,
    queue: Mutex<Queue>,
}

impl<'a> TurnProgress<'a> {
    /// Progress for `target`, labelled `label`.
    pub fn new(client: &'a Client, target: ProgressTarget, label: Option<&str>) -> Self {
        TurnProgress {
            client,
            target,
            label: start_text(label),
            queue: Mutex::new(Queue::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `line`: appended the first time its id is written, updated afterwards.
    pub fn line(&self, line: ProgressLine) {
        let mut queue = self.lock();
        match queue.queued.iter_mut().find(|l| l.id == line.id) {
            Some(queued) => *queued = line,
            None => queue.queued.push(line),
        }
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
    pub fn start(&self) {
        self.line(self.turn_line(self.label.clone(), "running"));
    }

    /// 2. A retry of the model or agent call.
    pub fn retrying(&self, attempt: u32) {
        let text = format!("{} (retrying, attempt {})", self.label, attempt + 1);
        self.line(self.turn_line(text, "running"));
    }

    /// When queued lines should be written: at once after a quiet
    /// [`LINE_COALESCE`], else that long after the last write; `None` when
    /// nothing is queued.
    pub fn next_due(&self) -> Option<Instant> {
        let queue = self.lock();
        if queue.queued.is_empty() {
            return None;
        }
        Some(
            queue
                .last_flush
                .map_or_else(Instant::now, |at| at + LINE_COALESCE),
        )
    }

    /// Writes the queued lines, in order.
    pub async fn flush(&self) {
        let batch = {
            let mut queue = self.lock();
            queue.last_flush = Some(Instant::now());
            Self::number(&mut queue)
        };
        for (seq, op, line) in batch {
            publish(
                self.client,
                &self.target,
                line_payload(&self.target.turn_id, seq, op, &line),
                PUBLISH_TIMEOUT,
            )
            .await;
        }
    }

    /// Step 4, the end: the lines still queued are written at once,
    /// within [`CLEAR_TIMEOUT`] (the rest is dropped), then `clear`,
    /// waiting at most [`CLEAR_TIMEOUT`] for it.
    pub async fn finish(&self) {
        let deadline = Instant::now() + CLEAR_TIMEOUT;
        let (batch, clear_seq) = {
            let mut queue = self.lock();
            let batch = Self::number(&mut queue);
            queue.seq += 1;
            (batch, queue.seq)
        };
        let total = batch.len();
        for (sent, (seq, op, line)) in batch.into_iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::debug!(turn = %self.target.turn_id, dropped = total - sent,
                    "progress lines dropped at the end of the turn");
                break;
            }
            publish(
                self.client,
                &self.target,
                line_payload(&self.target.turn_id, seq, op, &line),
                left,
            )
            .await;
        }
        publish(
            self.client,
            &self.target,
            payload(&self.target.turn_id, clear_seq, "clear", None),
            CLEAR_TIMEOUT,
        )
        .await;
    }

    /// Takes the queued lines with their `seq` and op.
    fn number(queue: &mut Queue) -> Vec<(u64, &'static str, ProgressLine)> {
        let lines = std::mem::take(&mut queue.queued);
        lines
            .into_iter()
            .map(|line| {
                queue.seq += 1;
                let op = if queue.known.insert(line.id.clone()) {
                    "append"
                } else {
                    "update"
                };
                (queue.seq, op, line)
            })
            .collect()
    }
}

/// Publishes a lone start line (`seq` 1, `op: "append"`).
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

/// Clears a lone start line (`seq` 2, `op: "clear"`), waiting at most [`CLEAR_TIMEOUT`].
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
    use clickclack_testkit::TestServer;

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

    fn line(id: &str, text: &str) -> ProgressLine {
        ProgressLine {
            id: id.to_owned(),
            kind: "tool".to_owned(),
            text: text.to_owned(),
            status: "running".to_owned(),
            tool_name: Some("exec".to_owned()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn updates_are_coalesced_and_the_clear_is_bounded() {
        let server = TestServer::start().await;
        let seed = server.seed();
        let client = Client::builder(server.base_url())
            .token(seed.bot.token.clone())
            .build()
            .expect("client");
        let target = ProgressTarget {
            workspace_id: seed.workspace.id.clone(),
            channel_id: Some(seed.general.id.clone()),
            direct_conversation_id: None,
            turn_id: "msg_1".to_owned(),
        };
        let progress = TurnProgress::new(&client, target, Some("Helper"));
        let posts = || server.request_count("POST", "/api/realtime/ephemeral");
        progress.start();
        let first = progress.next_due().expect("due");
        assert!(first <= Instant::now(), "the first write is not delayed");
        progress.flush().await;
        assert_eq!(posts(), 1);
        // Ten updates of one line and one of another before the next write:
        // two requests, the next one LINE_COALESCE after the last write.
        for n in 0..10 {
            progress.line(line("tool:a", &format!("step {n}")));
        }
        progress.line(line("tool:b", "other"));
        let due = progress.next_due().expect("due");
        assert!(due > Instant::now());
        tokio::time::sleep_until(due).await;
        progress.flush().await;
        assert_eq!(posts(), 3);
        assert_eq!(progress.next_due(), None);

        // The end: a queued line goes out at once, then the clear.
        progress.line(line("tool:a", "last"));
        progress.finish().await;
        assert_eq!(posts(), 5);

        // A server that does not answer: the lines get CLEAR_TIMEOUT between
        // them (the rest is dropped), the clear CLEAR_TIMEOUT of its own.
        let stuck = TurnProgress::new(&client, progress.target.clone(), None);
        stuck.line(line("tool:a", "one"));
        stuck.line(line("tool:b", "two"));
        server.faults().delay(
            "POST",
            "/api/realtime/ephemeral",
            Duration::from_secs(60),
            2,
        );
        let started = Instant::now();
        stuck.finish().await;
        assert_eq!(started.elapsed(), CLEAR_TIMEOUT * 2);
        assert_eq!(posts(), 7, "one line dropped, the clear sent");
    }
}
