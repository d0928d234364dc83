//! Durable activity rows (`agentActivity: true`, reference row 37).
//!
//! Each [`AgentActivity`] item of a turn becomes one message of kind
//! `agent_commentary` (commentary, thinking, reasoning; thinking lanes are
//! prefixed `**Thinking**\n\n`) or `agent_tool` (tool calls; `tool:` /
//! `command:` id prefixes collapse) with `turn_id` = the source message id,
//! in the source's channel or DM, stamped with the model that answers
//! (`author_model`, `author_thinking`, `author_runtime`; row 14).
//!
//! 1. A commentary item's snapshots are cumulative: they are coalesced for
//!    [`COMMENTARY_FLUSH`] after the first unwritten one, then written —
//!    the first write POSTs the row (under a nonce derived from account,
//!    turn and item, so a replayed turn reuses it), later ones PATCH it.
//!    A snapshot equal to what the row shows is skipped.
//! 2. A tool item is written at once; a later report PATCHes the row only
//!    with a longer body (`🛠️ Exec` → `🛠️ ls -la`, never back).
//! 3. An empty snapshot retracts the row: PATCH with body `""`. A server
//!    that refuses an empty body (`message body is required`) gets a
//!    DELETE instead, which leaves the row with an empty body too.
//! 4. When the turn's reply is ready, everything still waiting is written
//!    ([`ActivityRows::flush_all`]) before the reply is posted.
//!
//! Needs the `agent_activity:write` scope. Failures are logged
//! (`clickclack activity publish failed: …`) and never fail the turn.

use clickclack_client::{Client, ErrorKind};
use clickclack_proto::MessageId;
use clickclack_proto::objects::{Message, MessageKind};
use clickclack_proto::requests::CreateMessage;
use sha2::{Digest, Sha256};
use tokio::time::{Duration, Instant};

use crate::agent_host::{AgentActivity, Provenance};

/// How long commentary snapshots are coalesced before a write (reference: 700 ms).
pub const COMMENTARY_FLUSH: Duration = Duration::from_millis(700);

/// One activity row of the turn.
#[derive(Debug)]
struct Row {
    key: String,
    kind: MessageKind,
    /// The posted row, once the POST succeeded.
    id: Option<MessageId>,
    /// What the row shows.
    shown: String,
    /// The snapshot to write next, and when.
    pending: Option<(String, Instant)>,
}

/// Publishes the activity rows of one turn.
#[derive(Debug)]
pub(crate) struct ActivityRows<'a> {
    client: &'a Client,
    account_id: &'a str,
    source: &'a Message,
    provenance: Provenance,
    /// In the order the items first appeared.
    rows: Vec<Row>,
}

/// `openclaw-activity:<sha256(account \n turn \n item)>`.
pub fn activity_nonce(account_id: &str, turn_id: &str, item: &str) -> String {
    let digest = Sha256::digest(format!("{account_id}\n{turn_id}\n{item}").as_bytes());
    format!("openclaw-activity:{}", hex::encode(digest))
}

/// The row key, kind and body of an item (`None` for items that are not rows).
pub fn row_of(item: &AgentActivity) -> Option<(String, MessageKind, String)> {
    match item {
        AgentActivity::Commentary { id, kind, text } => {
            let thinking = matches!(kind.as_str(), "thinking" | "reasoning" | "analysis");
            let body = if thinking && !text.trim().is_empty() {
                format!("**Thinking**\n\n{text}")
            } else {
                text.clone()
            };
            Some((
                format!("commentary:{id}"),
                MessageKind::AgentCommentary,
                body,
            ))
        }
        AgentActivity::Tool { id, text, .. } => {
            let id = id
                .strip_prefix("tool:")
                .or_else(|| id.strip_prefix("command:"))
                .unwrap_or(id);
            Some((format!("tool:{id}"), MessageKind::AgentTool, text.clone()))
        }
        AgentActivity::Model(_) => None,
    }
}

impl<'a> ActivityRows<'a> {
    pub(crate) fn new(client: &'a Client, account_id: &'a str, source: &'a Message) -> Self {
        ActivityRows {
            client,
            account_id,
            source,
            provenance: Provenance::default(),
            rows: Vec::new(),
        }
    }

    /// Takes in one report at `now` (steps 1–3); writes happen in
    /// [`Self::flush_due`].
    pub(crate) fn report(&mut self, item: &AgentActivity, now: Instant) {
        if let AgentActivity::Model(provenance) = item {
            self.provenance = provenance.clone().normalized();
            return;
        }
        let Some((key, kind, body)) = row_of(item) else {
            return;
        };
        let index = match self.rows.iter().position(|r| r.key == key) {
            Some(index) => index,
            None => {
                self.rows.push(Row {
                    key,
                    kind,
                    id: None,
                    shown: String::new(),
                    pending: None,
                });
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[index];
        let empty = body.trim().is_empty();
        if empty && row.id.is_none() {
            // Nothing posted, nothing to retract.
            row.pending = None;
            return;
        }
        if row.id.is_some() && body == row.shown {
            row.pending = None;
            return;
        }
        match row.kind {
            MessageKind::AgentTool => {
                if !empty && row.id.is_some() && body.chars().count() <= row.shown.chars().count() {
                    return;
                }
                row.pending = Some((body, now));
            }
            _ => {
                let due = row
                    .pending
                    .as_ref()
                    .map_or(now + COMMENTARY_FLUSH, |(_, due)| *due);
                row.pending = Some((body, due));
            }
        }
    }

    /// When the next write is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.rows
            .iter()
            .filter_map(|r| r.pending.as_ref().map(|(_, due)| *due))
            .min()
    }

    /// Writes every row whose snapshot is due at `now`.
    pub(crate) async fn flush_due(&mut self, now: Instant) {
        for index in 0..self.rows.len() {
            if self.rows[index]
                .pending
                .as_ref()
                .is_some_and(|(_, due)| *due <= now)
            {
                self.write(index).await;
            }
        }
    }

    /// Writes everything still waiting (the reply is ready: step 4).
    pub(crate) async fn flush_all(&mut self) {
        for index in 0..self.rows.len() {
            if self.rows[index].pending.is_some() {
                self.write(index).await;
            }
        }
    }

    fn warn(&self, what: &dyn std::fmt::Display) {
        tracing::warn!(account = %self.account_id, "clickclack activity publish failed: {what}");
    }

    async fn write(&mut self, index: usize) {
        let Some((body, _)) = self.rows[index].pending.take() else {
            return;
        };
        let row = &self.rows[index];
        if let Some(id) = row.id.clone() {
            if body == row.shown {
                return;
            }
            let result = match self.client.edit_message(&id, body.clone()).await {
                Err(e)
                    if body.trim().is_empty()
                        && e.kind() == &ErrorKind::InvalidRequest
                        && e.server_message() == Some("message body is required") =>
                {
                    self.client.delete_message(&id).await.map(|_| ())
                }
                other => other.map(|_| ()),
            };
            match result {
                Ok(()) => self.rows[index].shown = body,
                Err(e) => self.warn(&e),
            }
            return;
        }
        let turn_id = self.source.id.as_str();
        let mut request = CreateMessage::new(body.clone())
            .with_nonce(activity_nonce(self.account_id, turn_id, &row.key))
            .with_kind(row.kind.clone())
            .with_turn_id(turn_id);
        request = self.provenance.stamp(request);
        let sent = match (&self.source.direct_conversation_id, &self.source.channel_id) {
            (Some(dm), _) => self.client.send_dm(dm, request).await,
            (None, Some(channel)) => self.client.send_message(channel, request).await,
            (None, None) => {
                self.warn(&"the message has no channel or conversation");
                return;
            }
        };
        match sent {
            Ok(response) => {
                let row = &mut self.rows[index];
                row.id = Some(response.into_id());
                row.shown = body;
            }
            Err(e) => self.warn(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickclack_testkit::{BotSpec, TestServer};

    #[test]
    fn rows_and_nonces() {
        let (key, kind, body) = row_of(&AgentActivity::Commentary {
            id: "r".into(),
            kind: "thinking".into(),
            text: "hmm".into(),
        })
        .expect("row");
        assert_eq!(
            (key.as_str(), kind, body.as_str()),
            (
                "commentary:r",
                MessageKind::AgentCommentary,
                "**Thinking**\n\nhmm"
            )
        );
        let (key, kind, _) = row_of(&AgentActivity::Tool {
            id: "tool:c1".into(),
            name: "x".into(),
            text: "🛠️ x".into(),
        })
        .expect("row");
        assert_eq!((key.as_str(), kind), ("tool:c1", MessageKind::AgentTool));
        assert_eq!(activity_nonce("a", "m", "k"), activity_nonce("a", "m", "k"));
        assert_ne!(activity_nonce("a", "m", "k"), activity_nonce("a", "m", "j"));
        assert!(activity_nonce("a", "m", "k").len() <= 128);
    }

    fn commentary(text: &str) -> AgentActivity {
        AgentActivity::Commentary {
            id: "c1".into(),
            kind: "commentary".into(),
            text: text.into(),
        }
    }

    fn tool(text: &str) -> AgentActivity {
        AgentActivity::Tool {
            id: "tool:call_1".into(),
            name: "exec".into(),
            text: text.into(),
        }
    }

    /// Against the testkit: coalescing, PATCH on growth, unchanged skipped,
    /// tool upgrades only, provenance stamped, retraction.
    #[tokio::test(start_paused = true)]
    async fn snapshots_are_coalesced_patched_and_retracted() {
        let server = TestServer::builder()
            .message_provenance()
            .start()
            .await
            .expect("testkit");
        let seed = server.seed();
        let bot = server.create_bot(
            BotSpec::new(&seed.workspace.id, "Rows").scopes(["bot:write", "agent_activity:write"]),
        );
        let client = Client::builder(server.base_url())
            .token(bot.token.clone())
            .build()
            .expect("client");
        let source = server.post_message(&seed.owner.user.id, &seed.general.id, "go");
        let mut rows = ActivityRows::new(&client, "default", &source);
        let rows_now = || {
            server
                .channel_messages(&seed.general.id)
                .into_iter()
                .filter(|m| m.turn_id.as_deref() == Some(source.id.as_str()))
                .collect::<Vec<_>>()
        };
        let creates = || server.request_count("POST", "/api/channels/");
        let patches = || server.request_count("PATCH", "/api/messages/");
        let start = Instant::now();
        rows.report(
            &AgentActivity::Model(Provenance {
                model: Some(" anthropic/claude-opus-4-6 ".into()),
                thinking: Some("  ".into()),
                runtime: None,
            }),
            start,
        );
        // Three snapshots within the window: one POST with the last.
        rows.report(&commentary("I"), start);
        rows.report(&commentary("I will"), start + Duration::from_millis(300));
        rows.report(
            &commentary("I will look"),
            start + Duration::from_millis(600),
        );
        assert_eq!(rows.next_due(), Some(start + COMMENTARY_FLUSH));
        rows.flush_due(start + Duration::from_millis(699)).await;
        assert_eq!(creates(), 0);
        rows.flush_due(start + COMMENTARY_FLUSH).await;
        assert_eq!(creates(), 1);
        let row = rows_now().pop().expect("row");
        assert_eq!(row.body, "I will look");
        assert_eq!(
            row.author_model.as_deref(),
            Some("anthropic/claude-opus-4-6")
        );
        assert_eq!(row.author_thinking, None, "blank values are not sent");

        // Unchanged: skipped. Grown: one PATCH after the window.
        let t = start + Duration::from_secs(1);
        rows.report(&commentary("I will look"), t);
        assert_eq!(rows.next_due(), None);
        rows.report(&commentary("I will look it up"), t);
        rows.flush_due(t + COMMENTARY_FLUSH).await;
        assert_eq!(patches(), 1);
        assert_eq!(rows_now().pop().expect("row").body, "I will look it up");

        // Tools: at once; a shorter body never replaces a longer one.
        rows.report(&tool("🛠️ ls -la"), t);
        rows.flush_due(t).await;
        rows.report(&tool("🛠️ Exec"), t);
        assert_eq!(rows.next_due(), None);
        assert_eq!(creates(), 2);

        // An empty snapshot retracts the commentary row (the testkit, like
        // the server, refuses an empty PATCH: the row is deleted instead).
        rows.report(&commentary(""), t);
        rows.flush_all().await;
        let retracted = rows_now()
            .into_iter()
            .find(|m| m.kind == Some(MessageKind::AgentCommentary));
        assert!(retracted.is_none_or(|m| m.body.is_empty()));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_logged_and_never_fail_the_turn() {
        let server = TestServer::start().await;
        let seed = server.seed();
        // A token without agent_activity:write: the POST is refused.
        let client = Client::builder(server.base_url())
            .token(seed.bot.token.clone())
            .build()
            .expect("client");
        let source = server.post_message(&seed.owner.user.id, &seed.general.id, "go");
        let mut rows = ActivityRows::new(&client, "default", &source);
        rows.report(&tool("🛠️ search"), Instant::now());
        rows.flush_all().await;
        assert_eq!(rows.next_due(), None);
        assert!(
            server
                .channel_messages(&seed.general.id)
                .iter()
                .all(|m| m.turn_id.is_none())
        );
    }
}
