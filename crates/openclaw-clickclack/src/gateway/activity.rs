//! Durable activity rows (`agentActivity: true`, reference row 37).
//!
//! Each [`AgentActivity`] item of a turn becomes one message of kind
//! `agent_commentary` (commentary, thinking, reasoning; thinking lanes are
//! prefixed `**Thinking**\n\n`) or `agent_tool` (tool calls) with `turn_id` =
//! the source message id, in the source's channel or DM. The first report of
//! an item POSTs the row under a nonce derived from account, turn and item
//! (a replayed turn reuses it); a later, different report PATCHes its body.
//! Needs the `agent_activity:write` scope; failures are logged
//! (`clickclack activity publish failed: …`) and never fail the turn.

use std::collections::HashMap;

use clickclack_client::Client;
use clickclack_proto::MessageId;
use clickclack_proto::objects::{Message, MessageKind};
use clickclack_proto::requests::CreateMessage;
use sha2::{Digest, Sha256};

use crate::agent_host::AgentActivity;

/// Publishes the activity rows of one turn.
#[derive(Debug)]
pub(crate) struct ActivityRows<'a> {
    client: &'a Client,
    account_id: &'a str,
    source: &'a Message,
    /// item key → (row id, last body).
    rows: HashMap<String, (MessageId, String)>,
}

/// `openclaw-activity:<sha256(account \n turn \n item)>`.
pub fn activity_nonce(account_id: &str, turn_id: &str, item: &str) -> String {
    let digest = Sha256::digest(format!("{account_id}\n{turn_id}\n{item}").as_bytes());
    format!("openclaw-activity:{}", hex::encode(digest))
}

/// The row kind and body of an item.
pub fn row_of(item: &AgentActivity) -> (String, MessageKind, String) {
    match item {
        AgentActivity::Commentary { id, kind, text } => {
            let thinking = matches!(kind.as_str(), "thinking" | "reasoning" | "analysis");
            let body = if thinking {
                format!("**Thinking**\n\n{text}")
            } else {
                text.clone()
            };
            (
                format!("commentary:{id}"),
                MessageKind::AgentCommentary,
                body,
            )
        }
        AgentActivity::Tool { id, text, .. } => {
            let id = id
                .strip_prefix("tool:")
                .or_else(|| id.strip_prefix("command:"))
                .unwrap_or(id);
            (format!("tool:{id}"), MessageKind::AgentTool, text.clone())
        }
    }
}

impl<'a> ActivityRows<'a> {
    pub(crate) fn new(client: &'a Client, account_id: &'a str, source: &'a Message) -> Self {
        ActivityRows {
            client,
            account_id,
            source,
            rows: HashMap::new(),
        }
    }

    /// Posts or updates the row of `item`.
    pub(crate) async fn publish(&mut self, item: &AgentActivity) {
        let (key, kind, body) = row_of(item);
        if body.trim().is_empty() {
            return;
        }
        if let Some((id, last)) = self.rows.get(&key) {
            if *last == body {
                return;
            }
            let id = id.clone();
            match self.client.edit_message(&id, body.clone()).await {
                Ok(_) => {
                    self.rows.insert(key, (id, body));
                }
                Err(e) => {
                    tracing::warn!(account = %self.account_id, "clickclack activity publish failed: {e}")
                }
            }
            return;
        }
        let turn_id = self.source.id.as_str();
        let request = CreateMessage::new(body.clone())
            .with_nonce(activity_nonce(self.account_id, turn_id, &key))
            .with_kind(kind)
            .with_turn_id(turn_id);
        let sent = match (&self.source.direct_conversation_id, &self.source.channel_id) {
            (Some(dm), _) => self.client.send_dm(dm, request).await,
            (None, Some(channel)) => self.client.send_message(channel, request).await,
            (None, None) => {
                tracing::warn!(account = %self.account_id, "clickclack activity publish failed: the message has no channel or conversation");
                return;
            }
        };
        match sent {
            Ok(response) => {
                self.rows.insert(key, (response.message.id, body));
            }
            Err(e) => {
                tracing::warn!(account = %self.account_id, "clickclack activity publish failed: {e}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_nonces() {
        let (key, kind, body) = row_of(&AgentActivity::Commentary {
            id: "r".into(),
            kind: "thinking".into(),
            text: "hmm".into(),
        });
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
        });
        assert_eq!((key.as_str(), kind), ("tool:c1", MessageKind::AgentTool));
        assert_eq!(activity_nonce("a", "m", "k"), activity_nonce("a", "m", "k"));
        assert_ne!(activity_nonce("a", "m", "k"), activity_nonce("a", "m", "j"));
        assert!(activity_nonce("a", "m", "k").len() <= 128);
    }
}
