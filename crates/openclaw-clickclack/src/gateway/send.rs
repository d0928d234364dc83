//! Sending one reply part with a deterministic nonce, placed like the
//! reference (row 13): inside the thread for thread replies, otherwise an
//! in-channel (or in-DM) quote-reply to the source message.

use clickclack_client::{Client, Error, ErrorKind};
use clickclack_proto::MessageId;
use clickclack_proto::objects::Message;
use clickclack_proto::requests::{CreateMessage, CreateThreadReply};

use crate::nonce::{DurablePart, text_nonce};

/// The queue id of a gateway reply: `clickclack-reply:<account>:<source message id>`.
pub fn reply_queue_id(account_id: &str, source_message_id: &str) -> String {
    format!("clickclack-reply:{account_id}:{source_message_id}")
}

/// The nonce of reply part `part` to `source_message_id` from `account_id`:
/// `openclaw-text:<sha256(queue id + "\n" + part)>`. The same inputs always
/// give the same nonce, so a replayed event cannot post a second reply.
pub fn reply_nonce(account_id: &str, source_message_id: &str, part: u32) -> String {
    match DurablePart::new(
        reply_queue_id(account_id, source_message_id),
        i64::from(part),
    ) {
        Ok(part) => text_nonce(&part),
        // Unreachable: the queue id is never empty and the index is small.
        Err(_) => format!("openclaw-text:{account_id}:{source_message_id}:{part}"),
    }
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The server created the message (or replayed it: same nonce, same body).
    Sent(MessageId),
    /// The nonce was already used for a different body (a replayed turn whose
    /// model answered differently): the first reply stands.
    AlreadyDelivered,
}

/// Sends `body` as the reply to `source` with `nonce`.
///
/// # Errors
/// The client error, except a nonce conflict, which is [`Delivered::AlreadyDelivered`].
pub async fn send_reply(
    client: &Client,
    source: &Message,
    body: &str,
    nonce: &str,
) -> Result<Delivered, Error> {
    let result = if source.parent_message_id.is_some() {
        let root = if source.thread_root_id.as_str().is_empty() {
            source.parent_message_id.clone().unwrap_or_default()
        } else {
            source.thread_root_id.clone()
        };
        client
            .reply_in_thread(&root, CreateThreadReply::new(body).nonce(nonce))
            .await
            .map(|r| r.message.id)
    } else {
        let request = CreateMessage {
            body: body.to_owned(),
            nonce: Some(nonce.to_owned()),
            quoted_message_id: Some(source.id.clone()),
            ..CreateMessage::default()
        };
        if let Some(conversation) = &source.direct_conversation_id {
            client
                .send_dm(conversation, request)
                .await
                .map(|r| r.message.id)
        } else if let Some(channel) = &source.channel_id {
            client
                .send_message(channel, request)
                .await
                .map(|r| r.message.id)
        } else {
            // A root message with neither channel nor DM: answer in its thread.
            client
                .reply_in_thread(&source.id, CreateThreadReply::new(body).nonce(nonce))
                .await
                .map(|r| r.message.id)
        }
    };
    match result {
        Ok(id) => Ok(Delivered::Sent(id)),
        Err(e) if e.kind() == &ErrorKind::Conflict => Ok(Delivered::AlreadyDelivered),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nonces_are_deterministic_and_distinct() {
        let a = reply_nonce("work", "msg_1", 0);
        assert_eq!(a, reply_nonce("work", "msg_1", 0));
        assert!(a.starts_with("openclaw-text:"));
        assert_eq!(a.len(), "openclaw-text:".len() + 64);
        assert_ne!(a, reply_nonce("work", "msg_1", 1));
        assert_ne!(a, reply_nonce("home", "msg_1", 0));
        assert_ne!(a, reply_nonce("work", "msg_2", 0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn nonce_fits_the_server_limit(account in "\\PC{0,64}", msg in "\\PC{0,64}", part in any::<u32>()) {
            prop_assert!(reply_nonce(&account, &msg, part).len() <= 128);
        }
    }
}
