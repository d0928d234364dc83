//! [`SentMessage`]: the answer to a message create, decoded lazily.

use std::fmt;

use bytes::Bytes;
use clickclack_proto::responses::MessageWriteResponse;
use clickclack_proto::{Message, MessageId};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::body::decode_json;
use crate::error::Error;
use crate::head_scan::scan_write_head;

/// The server's answer to [`Client::send_message`](crate::Client::send_message)
/// and [`Client::send_dm`](crate::Client::send_dm).
///
/// Sending decodes only what every caller needs — the new message's id and
/// whether the server sent an event — and keeps the response body. The full
/// [`MessageWriteResponse`] (message with its hydrated author, and the
/// `message.created` event) is decoded from the kept body when asked for,
/// with [`SentMessage::response`] or [`SentMessage::message`].
///
/// A body that is not JSON, or has no `message.id`, fails the send itself
/// with [`ErrorKind::Decode`](crate::ErrorKind::Decode), as before; a body
/// whose other fields do not decode fails only the full decode.
#[derive(Clone)]
pub struct SentMessage {
    id: MessageId,
    has_event: bool,
    body: Kept,
}

/// What a [`SentMessage`] keeps for the full decode.
#[derive(Clone)]
enum Kept {
    /// The response body as received.
    Json(Bytes),
    /// A message found by nonce after an ambiguous failure (no event).
    Found(Box<Message>),
}

/// The part of a write response decoded when sending.
/// Every other key is skipped without being decoded.
#[derive(Deserialize)]
struct Head {
    message: MessageHead,
    #[serde(default)]
    event: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct MessageHead {
    id: MessageId,
}

/// `message.id`, and whether `event` is present and not `null`, decoded by
/// serde: the reference for the one-pass scan, and what explains a failure.
pub(crate) fn decode_head(body: &[u8]) -> Result<(MessageId, bool), Error> {
    let head: Head = decode_json(body)?;
    Ok((head.message.id, head.event.is_some()))
}

impl SentMessage {
    /// Decodes the head of a write response body (`message.id`, and whether
    /// `event` is present and not `null`) and keeps the body for
    /// [`SentMessage::response`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the body is not
    /// a JSON object with a `message` object that has a string `id`.
    pub fn from_json(body: impl Into<Bytes>) -> Result<SentMessage, Error> {
        let body = body.into();
        // The one-pass scan answers for every plain response; anything
        // unusual (or broken) goes through serde, which explains failures.
        let (id, has_event) = match scan_write_head(&body) {
            Some(head) => (MessageId::from(head.id), head.has_event),
            None => decode_head(&body)?,
        };
        Ok(SentMessage {
            id,
            has_event,
            body: Kept::Json(body),
        })
    }

    /// A sent message known from its committed [`Message`] (what the client
    /// finds by nonce after an ambiguous failure): no event, no body.
    pub fn from_message(message: Message) -> SentMessage {
        SentMessage {
            id: message.id.clone(),
            has_event: false,
            body: Kept::Found(Box::new(message)),
        }
    }

    /// The new message's id.
    pub fn id(&self) -> &MessageId {
        &self.id
    }

    /// The new message's id, consuming `self`.
    pub fn into_id(self) -> MessageId {
        self.id
    }

    /// Whether the server sent the `message.created` event: `false` on a
    /// nonce replay (the message existed already) and after reconciliation
    /// by nonce.
    pub fn has_event(&self) -> bool {
        self.has_event
    }

    /// The response body as received (`None` after reconciliation by nonce,
    /// where there was none).
    pub fn json(&self) -> Option<&[u8]> {
        match &self.body {
            Kept::Json(b) => Some(b),
            Kept::Found(_) => None,
        }
    }

    /// Decodes the full response: the message (with its hydrated author)
    /// and the event (`None` on a nonce replay or after reconciliation).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode), naming the JSON path,
    /// when a field does not have the expected shape.
    pub fn response(&self) -> Result<MessageWriteResponse, Error> {
        match &self.body {
            Kept::Json(b) => decode_json(b).map_err(|e| e.with_ambiguous(false)),
            Kept::Found(m) => Ok(MessageWriteResponse::new((**m).clone())),
        }
    }

    /// [`SentMessage::response`], consuming `self` (no copy of a message
    /// found by nonce).
    ///
    /// # Errors
    ///
    /// As [`SentMessage::response`].
    pub fn into_response(self) -> Result<MessageWriteResponse, Error> {
        match self.body {
            Kept::Json(b) => decode_json(&b).map_err(|e| e.with_ambiguous(false)),
            Kept::Found(m) => Ok(MessageWriteResponse::new(*m)),
        }
    }

    /// The full message (see [`SentMessage::response`]).
    ///
    /// # Errors
    ///
    /// As [`SentMessage::response`].
    pub fn message(&self) -> Result<Message, Error> {
        #[derive(Deserialize)]
        struct OnlyMessage {
            message: Message,
        }
        match &self.body {
            Kept::Json(b) => decode_json::<OnlyMessage>(b)
                .map(|r| r.message)
                .map_err(|e| e.with_ambiguous(false)),
            Kept::Found(m) => Ok((**m).clone()),
        }
    }
}

impl fmt::Debug for SentMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentMessage")
            .field("id", &self.id)
            .field("has_event", &self.has_event)
            .field(
                "body",
                &match &self.body {
                    Kept::Json(b) => format!("{} bytes of JSON", b.len()),
                    Kept::Found(_) => "found by nonce".to_owned(),
                },
            )
            .finish()
    }
}

impl TryFrom<SentMessage> for MessageWriteResponse {
    type Error = Error;

    fn try_from(sent: SentMessage) -> Result<Self, Error> {
        sent.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// A write response as the server sends it (message with a hydrated
    /// author, and the `message.created` event).
    fn full(id: &str) -> Value {
        json!({
            "event": {
                "channel_id": "chn_1", "created_at": "2026-11-29T18:49:36.846872376Z",
                "cursor": "cur_2", "id": "evt_1", "seq": 1, "type": "message.created",
                "workspace_id": "wsp_1",
                "payload": {"author_id": "usr_1", "message_id": id, "nonce": "n-1"}
            },
            "message": {
                "author": {"avatar_url": "", "created_at": "2026-11-29T18:49:36Z",
                           "display_name": "b", "handle": "b", "id": "usr_1", "kind": "bot"},
                "author_id": "usr_1", "body": "hello \u{1F980} \"quoted\"", "body_format": "markdown",
                "channel_id": "chn_1", "channel_seq": 1, "created_at": "2026-11-29T18:49:36Z",
                "id": id, "nonce": "n-1", "thread_root_id": id, "workspace_id": "wsp_1",
                "attachments": [], "reactions": []
            }
        })
    }

    #[test]
    fn decodes_the_head_and_keeps_the_body() {
        let body = serde_json::to_vec(&full("msg_1")).unwrap();
        let sent = SentMessage::from_json(body.clone()).unwrap();
        assert_eq!(sent.id().as_str(), "msg_1");
        assert!(sent.has_event());
        assert_eq!(sent.json(), Some(&body[..]));
        let response = sent.response().unwrap();
        assert_eq!(response.message.body, "hello \u{1F980} \"quoted\"");
        assert_eq!(response.event.unwrap().cursor.as_str(), "cur_2");
        assert_eq!(
            sent.message().unwrap(),
            sent.into_response().unwrap().message
        );
    }

    #[test]
    fn a_replay_has_no_event() {
        for event in [json!(null), json!("absent")] {
            let mut v = full("msg_1");
            if event.is_null() {
                v["event"] = Value::Null;
            } else {
                v.as_object_mut().unwrap().remove("event");
            }
            let sent = SentMessage::from_json(serde_json::to_vec(&v).unwrap()).unwrap();
            assert!(!sent.has_event());
            assert!(sent.response().unwrap().event.is_none());
        }
    }

    #[test]
    fn a_found_message_needs_no_body() {
        let message: Message = serde_json::from_value(full("msg_9")["message"].clone()).unwrap();
        let sent = SentMessage::from_message(message.clone());
        assert_eq!(sent.id(), &message.id);
        assert!(!sent.has_event() && sent.json().is_none());
        assert_eq!(sent.message().unwrap(), message);
        let response: MessageWriteResponse = sent.try_into().unwrap();
        assert_eq!(response, MessageWriteResponse::new(message));
    }

    #[test]
    fn a_body_without_a_message_id_fails_the_send() {
        for body in [
            &b"not json"[..],
            br#"{"event": null}"#,
            br#"{"message": null}"#,
            br#"{"message": {"body": "x"}}"#,
            br#"{"message": {"id": 5}}"#,
            br#"{"message": {"id": "msg_1"}} trailing"#,
        ] {
            let e = SentMessage::from_json(body.to_vec()).unwrap_err();
            assert_eq!(
                e.kind(),
                &crate::ErrorKind::Decode,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_bad_deep_field_fails_only_the_full_decode() {
        let mut v = full("msg_1");
        v["message"]["channel_seq"] = json!("one");
        let sent = SentMessage::from_json(serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(sent.id().as_str(), "msg_1");
        let e = sent.response().unwrap_err();
        assert_eq!(e.kind(), &crate::ErrorKind::Decode);
        assert!(e.to_string().contains("message.channel_seq"), "{e}");
        assert!(!e.is_ambiguous());
    }

    /// Go-shaped changes to a write response: a list sent as `null`, an
    /// `omitempty` key left out, a key of a later server added.
    #[derive(Debug, Clone)]
    enum Mutation {
        NullList(&'static str),
        Missing(&'static str, &'static str),
        Unknown(&'static str, String, i64),
        EventNull,
        EventMissing,
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let lists = prop::sample::select(vec!["attachments", "reactions"]);
        let keys = prop::sample::select(vec![
            ("message", "author"),
            ("message", "nonce"),
            ("message", "channel_seq"),
            ("message", "channel_id"),
            ("message", "body_format"),
            ("message", "created_at"),
            ("message", "attachments"),
            ("message", "id"),
            ("event", "payload"),
            ("event", "cursor"),
            ("event", "seq"),
        ]);
        let places = prop::sample::select(vec!["", "message", "event"]);
        prop_oneof![
            lists.prop_map(Mutation::NullList),
            keys.prop_map(|(o, k)| Mutation::Missing(o, k)),
            (places, "[a-z_]{1,12}", any::<i64>()).prop_map(|(p, k, v)| Mutation::Unknown(p, k, v)),
            Just(Mutation::EventNull),
            Just(Mutation::EventMissing),
        ]
    }

    fn apply(v: &mut Value, m: &Mutation) {
        match m {
            Mutation::NullList(k) => v["message"][*k] = Value::Null,
            Mutation::Missing(o, k) => {
                if let Some(obj) = v.get_mut(*o).and_then(Value::as_object_mut) {
                    obj.remove(*k);
                }
            }
            Mutation::Unknown(place, k, n) => {
                let target = if place.is_empty() {
                    Some(&mut *v)
                } else {
                    v.get_mut(*place)
                };
                if let Some(obj) = target.and_then(Value::as_object_mut) {
                    obj.entry(k.clone())
                        .or_insert_with(|| json!({"later": [n, null, {"x": "y"}]}));
                }
            }
            Mutation::EventNull => v["event"] = Value::Null,
            Mutation::EventMissing => {
                v.as_object_mut().unwrap().remove("event");
            }
        }
    }

    proptest! {
        /// Whatever the full decode accepts, the head agrees with it: the
        /// same id, an event exactly when the full response has one, and the
        /// full response decoded later is the same.
        #[test]
        fn the_head_agrees_with_the_full_decode(
            id in "[a-zA-Z0-9_\\-\u{e9}\u{1F980}\"\\\\]{0,24}",
            mutations in prop::collection::vec(mutation(), 0..6),
        ) {
            let mut v = full(&id);
            for m in &mutations {
                apply(&mut v, m);
            }
            let body = serde_json::to_vec(&v).unwrap();
            let whole = serde_json::from_slice::<MessageWriteResponse>(&body);
            let head = SentMessage::from_json(body.clone());
            if head.is_ok() && !id.contains(['"', '\\']) {
                // A plain response takes the one-pass scan, not serde.
                prop_assert!(scan_write_head(&body).is_some());
            }
            if let Ok(whole) = whole {
                let head = head.expect("the head decodes whenever the whole does");
                prop_assert_eq!(head.id(), &whole.message.id);
                prop_assert_eq!(head.has_event(), whole.event.is_some());
                prop_assert_eq!(head.response().unwrap(), whole);
            }
        }

        /// Arbitrary bytes never panic the head decode.
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = SentMessage::from_json(body);
        }
    }
}
