//! Which realtime events start a turn (reference rows 24–25).
//!
//! Only `message.created` and `thread.reply_created` do; `message.updated`
//! is handed to the late-link tracker (uploads linked after the create on
//! older servers); every other event is committed without work. The event is a routing hint: the turn
//! re-fetches the message by id. A `message.created` written by the bot
//! itself is dropped before the fetch; the fetched author is checked again.

use clickclack_proto::event::{Event, EventPayload};
use clickclack_proto::{MessageId, Timestamp, UserId};

use crate::scheduler::ConversationKey;

/// Longest accepted correlation id.
pub const MAX_CORRELATION_ID_LEN: usize = clickclack_proto::headers::MAX_CORRELATION_ID_LEN;

/// An event that may start a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    /// `message.created` or `thread.reply_created`.
    pub event_type: &'static str,
    /// The message to fetch.
    pub message_id: MessageId,
    /// The author, when the event names it (`message.created` only).
    pub author_id: Option<UserId>,
    /// The validated correlation id (row 25), if any.
    pub correlation_id: Option<String>,
    /// The event time.
    pub created_at: Timestamp,
    /// The ordered conversation it belongs to.
    pub conversation: ConversationKey,
    /// Backlog replayed after a restart, reconnect or resync (set by the
    /// gateway): only these are subject to `catchUpMaxAge`.
    pub catch_up: bool,
}

/// What to do with a durable event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// Start a turn.
    Turn(InboundEvent),
    /// Written by this bot: nothing to do.
    OwnMessage,
    /// `message.updated`: may be an upload linked after the create (older
    /// servers; see `late_links`).
    Updated(MessageId),
    /// Not a message event: nothing to do.
    Ignore,
}

/// Row 25: a correlation id is used only when, trimmed, it is 1–128 chars of
/// `[A-Za-z0-9._:-]`; otherwise it is silently omitted.
pub fn valid_correlation_id(raw: Option<&str>) -> Option<String> {
    let id = raw?.trim();
    clickclack_proto::headers::is_valid_correlation_id(id).then(|| id.to_owned())
}

/// Classifies a durable event for the account whose bot user is `bot_user_id`.
pub fn classify(event: &Event, bot_user_id: &str) -> EventAction {
    match event.payload() {
        EventPayload::MessageCreated(p) => {
            if p.author_id
                .as_ref()
                .is_some_and(|a| a.as_str() == bot_user_id)
            {
                return EventAction::OwnMessage;
            }
            let conversation = match (&p.direct_conversation_id, event.channel_id()) {
                (Some(dm), _) => ConversationKey::direct(dm.as_str()),
                (None, Some(channel)) => ConversationKey::channel(channel.as_str()),
                (None, None) => ConversationKey::new(format!("message:{}", p.message_id)),
            };
            EventAction::Turn(InboundEvent {
                event_type: "message.created",
                message_id: p.message_id.clone(),
                author_id: p.author_id.clone(),
                correlation_id: valid_correlation_id(p.correlation_id.as_deref()),
                created_at: event.created_at().clone(),
                conversation,
                catch_up: false,
            })
        }
        EventPayload::ThreadReplyCreated(p) => EventAction::Turn(InboundEvent {
            event_type: "thread.reply_created",
            message_id: p.message_id.clone(),
            author_id: None,
            correlation_id: valid_correlation_id(p.correlation_id.as_deref()),
            created_at: event.created_at().clone(),
            conversation: ConversationKey::thread(p.root_message_id.as_str()),
            catch_up: false,
        }),
        EventPayload::MessageUpdated(p) => EventAction::Updated(p.message_id.clone()),
        _ => EventAction::Ignore,
    }
}

/// Row 24's warning for a message that cannot be read (404):
/// `[<acct>] skipped unreadable ClickClack message before agent dispatch: type=<t> messageId=<id|unknown>`.
pub fn unreadable_log_line(account_id: &str, event_type: &str, message_id: &str) -> String {
    let id = if message_id.is_empty() {
        "unknown"
    } else {
        message_id
    };
    format!(
        "[{account_id}] skipped unreadable ClickClack message before agent dispatch: type={event_type} messageId={id}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(json: &str) -> Event {
        Event::from_json_str(json).expect("event")
    }

    #[test]
    fn classifies_message_events() {
        let created = event(
            r#"{"id":"evt_1","cursor":"cur_1","type":"message.created","workspace_id":"wsp_1","channel_id":"chn_1","seq":1,"created_at":"2026-01-01T00:00:00Z","payload":{"message_id":"msg_1","author_id":"usr_1","correlation_id":"req-1"}}"#,
        );
        let EventAction::Turn(turn) = classify(&created, "usr_bot") else {
            panic!("turn")
        };
        assert_eq!(turn.conversation, ConversationKey::channel("chn_1"));
        assert_eq!(turn.correlation_id.as_deref(), Some("req-1"));
        assert_eq!(classify(&created, "usr_1"), EventAction::OwnMessage);

        let reply = event(
            r#"{"id":"evt_2","cursor":"cur_2","type":"thread.reply_created","workspace_id":"wsp_1","created_at":"2026-01-01T00:00:00Z","payload":{"message_id":"msg_2","root_message_id":"msg_1","direct_conversation_id":"dm_1","correlation_id":"bad id!"}}"#,
        );
        let EventAction::Turn(turn) = classify(&reply, "usr_bot") else {
            panic!("turn")
        };
        assert_eq!(turn.conversation, ConversationKey::thread("msg_1"));
        assert_eq!(turn.correlation_id, None);

        let dm = event(
            r#"{"id":"evt_3","cursor":"cur_3","type":"message.created","workspace_id":"wsp_1","created_at":"2026-01-01T00:00:00Z","payload":{"message_id":"msg_3","author_id":"usr_1","direct_conversation_id":"dm_1"}}"#,
        );
        let EventAction::Turn(turn) = classify(&dm, "usr_bot") else {
            panic!("turn")
        };
        assert_eq!(turn.conversation, ConversationKey::direct("dm_1"));

        let reaction = event(
            r#"{"id":"evt_4","cursor":"cur_4","type":"reaction.added","workspace_id":"wsp_1","created_at":"2026-01-01T00:00:00Z","payload":{"message_id":"msg_1","emoji":"x"}}"#,
        );
        assert_eq!(classify(&reaction, "usr_bot"), EventAction::Ignore);
    }

    #[test]
    fn unreadable_line_matches_the_reference() {
        assert_eq!(
            unreadable_log_line("default", "thread.reply_created", "msg_9"),
            "[default] skipped unreadable ClickClack message before agent dispatch: type=thread.reply_created messageId=msg_9"
        );
        assert!(unreadable_log_line("a", "message.created", "").ends_with("messageId=unknown"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn correlation_ids_are_safe(raw in "\\PC{0,200}") {
            if let Some(id) = valid_correlation_id(Some(&raw)) {
                prop_assert!(!id.is_empty() && id.len() <= 128);
                prop_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b)));
            }
        }
    }
}
