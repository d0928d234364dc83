//! Realtime events: the envelope, typed payloads and the decoder (protocol.md §7.3, §8).
//!
//! Decoding never loses the envelope. A frame is decoded in one pass when its
//! `type` comes before its `payload` (the order Go writes) and the payload
//! matches its type; otherwise it is decoded in two steps: the envelope with
//! the payload kept as raw JSON, then the payload by `type`. Both give the
//! same event. An unknown type, a `null` payload for a known type, or a
//! payload that does not match its type becomes [`EventPayload::Unknown`]
//! holding the raw JSON.

mod envelope;
mod payload;
pub mod types;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use self::envelope::{Envelope, Payload, PayloadMode, RawPayload, null_raw};
pub use self::payload::*;
use crate::ids::{ChannelId, ConversationId, Cursor, EventId, MessageId, UserId, WorkspaceId};
use crate::timestamp::Timestamp;

/// Why a frame could not be decoded as an event at all (the envelope itself is bad).
///
/// Payload problems never produce this error; they become [`EventPayload::Unknown`].
#[derive(Debug, thiserror::Error)]
#[error("invalid event envelope: {source}")]
pub struct DecodeError {
    #[from]
    source: serde_json::Error,
}

impl DecodeError {
    /// The underlying JSON error (line/column/category).
    pub fn json_error(&self) -> &serde_json::Error {
        &self.source
    }
}

/// A realtime event: envelope fields plus a typed payload.
///
/// Serializes back to the server's wire shape: `id`, `cursor` (`""` for
/// cursorless events), `type`, `workspace_id`, `channel_id` (omitted when
/// `None`), `seq` (omitted when `None`), `created_at`, `mentioned_user_ids`
/// (omitted when empty) and `payload`. The `type` written is
/// [`Event::event_type`], the `type` field of this struct.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// Event id (`evt_…`; `eph_…` or empty for cursorless events).
    pub id: EventId,
    /// Cursor (`cur_…`); empty for cursorless (ephemeral) events.
    pub cursor: Cursor,
    /// The `type` string as received (e.g. `message.created`).
    pub event_type: String,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The channel, when the event belongs to one (absent for DM and workspace events).
    pub channel_id: Option<ChannelId>,
    /// Sequence (`channel_seq`, DM sequence or read pointer), when present.
    pub seq: Option<i64>,
    /// Creation time as received.
    pub created_at: Timestamp,
    /// Mentioned users (later servers, on `message.created`/`thread.reply_created`).
    // Decoded by the envelope through crate::go::list (null or absent: empty).
    pub mentioned_user_ids: Vec<UserId>,
    /// The typed payload.
    pub payload: EventPayload,
}

/// Decodes one whole JSON document as an envelope (nothing may follow it).
fn whole_envelope<'a, R: serde_json::de::Read<'a>>(
    read: R,
    mode: PayloadMode,
) -> Result<Envelope<'a, &'a RawValue>, serde_json::Error> {
    let mut de = serde_json::Deserializer::new(read);
    let env = Envelope::decode(&mut de, mode)?;
    de.end()?;
    Ok(env)
}

impl Default for Event {
    /// [`Event::zero`]: Go's zero-valued event.
    fn default() -> Self {
        Event::zero()
    }
}

impl Event {
    /// Decodes one realtime frame / JSON event: the envelope, then the payload by `type`.
    ///
    /// Fails only when the bytes are not a JSON object with a string `type`
    /// (or an envelope field has the wrong JSON type); payload problems
    /// become [`EventPayload::Unknown`] and keep the envelope and cursor.
    pub fn from_slice(bytes: &[u8]) -> Result<Event, DecodeError> {
        Event::decode_whole(|mode| whole_envelope(serde_json::de::SliceRead::new(bytes), mode))
    }

    /// Decodes an event from a JSON string; see [`Event::from_slice`].
    /// Faster than `from_slice` when the bytes are already known to be
    /// UTF-8 (strings are not checked again).
    pub fn from_json_str(json: &str) -> Result<Event, DecodeError> {
        Event::decode_whole(|mode| whole_envelope(serde_json::de::StrRead::new(json), mode))
    }

    /// One pass that types the payload as it goes (the common case: Go
    /// writes `type` before `payload`, and the payload matches its type);
    /// when that pass fails, the two-step decode that keeps the payload raw
    /// decides (and reports the envelope's error, if any).
    fn decode_whole<'a>(
        read: impl Fn(PayloadMode) -> Result<Envelope<'a, &'a RawValue>, serde_json::Error>,
    ) -> Result<Event, DecodeError> {
        let env = match read(PayloadMode::Typed) {
            Ok(env) => env,
            Err(_) => read(PayloadMode::Raw)?,
        };
        Ok(Event::from_envelope(env))
    }

    fn from_envelope<P: RawPayload>(env: Envelope<'_, P>) -> Event {
        let payload = match env.payload {
            Payload::Typed(payload) => payload,
            Payload::Raw(raw) => EventPayload::decode(&env.event_type, Some(raw.raw())),
            Payload::Absent => EventPayload::decode(&env.event_type, None),
        };
        Event {
            id: env.id,
            cursor: env.cursor,
            event_type: env.event_type.into_owned(),
            workspace_id: env.workspace_id,
            channel_id: env.channel_id,
            seq: env.seq,
            created_at: env.created_at,
            mentioned_user_ids: env.mentioned_user_ids,
            payload,
        }
    }

    /// Builds an event from a typed payload; `type` is taken from the payload
    /// (empty for `Unknown`: set [`Event::event_type`] yourself). Id and cursor
    /// start empty (an ephemeral event); use [`Event::with_cursor`] etc.
    pub fn new(workspace_id: WorkspaceId, created_at: Timestamp, payload: EventPayload) -> Event {
        Event {
            id: EventId::default(),
            cursor: Cursor::default(),
            event_type: payload.event_type().unwrap_or_default().to_owned(),
            workspace_id,
            channel_id: None,
            seq: None,
            created_at,
            mentioned_user_ids: Vec::new(),
            payload,
        }
    }

    /// Sets the event id.
    pub fn with_id(mut self, id: impl Into<EventId>) -> Event {
        self.id = id.into();
        self
    }

    /// Sets the cursor (making the event durable when non-empty).
    pub fn with_cursor(mut self, cursor: impl Into<Cursor>) -> Event {
        self.cursor = cursor.into();
        self
    }

    /// Sets the envelope `channel_id`.
    pub fn with_channel_id(mut self, channel_id: impl Into<ChannelId>) -> Event {
        self.channel_id = Some(channel_id.into());
        self
    }

    /// Sets the envelope `seq`.
    pub fn with_seq(mut self, seq: i64) -> Event {
        self.seq = Some(seq);
        self
    }

    /// Sets the `type` string (needed for `Unknown` payloads).
    pub fn with_event_type(mut self, event_type: impl Into<String>) -> Event {
        self.event_type = event_type.into();
        self
    }

    /// The zero event the server returns on a reaction replay: Go's zero-valued
    /// `Event`, every string empty (`created_at` too: it is a Go `string`) and
    /// `payload: null`. Encodes exactly as Go sends it.
    pub fn zero() -> Event {
        Event {
            id: EventId::default(),
            cursor: Cursor::default(),
            event_type: String::new(),
            workspace_id: WorkspaceId::default(),
            channel_id: None,
            seq: None,
            created_at: Timestamp::default(),
            mentioned_user_ids: Vec::new(),
            payload: EventPayload::Unknown { raw: null_raw() },
        }
    }

    /// Sets the mentioned users.
    pub fn with_mentioned_user_ids(mut self, ids: impl IntoIterator<Item = UserId>) -> Event {
        self.mentioned_user_ids = ids.into_iter().collect();
        self
    }

    /// Whether this is the zero event (empty id, cursor and type).
    pub fn is_zero(&self) -> bool {
        self.id.is_empty() && self.cursor.is_empty() && self.event_type.is_empty()
    }

    /// The cursor; empty for cursorless events.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// Whether the event is durable (has a non-empty cursor and is replayable).
    pub fn is_durable(&self) -> bool {
        !self.cursor.is_empty()
    }

    /// Whether the event is cursorless (ephemeral / hub-only).
    pub fn is_ephemeral(&self) -> bool {
        self.cursor.is_empty()
    }

    /// The `type` string.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The workspace.
    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.workspace_id
    }

    /// The envelope channel, when present.
    pub fn channel_id(&self) -> Option<&ChannelId> {
        self.channel_id.as_ref()
    }

    /// The envelope sequence, when present.
    pub fn seq(&self) -> Option<i64> {
        self.seq
    }

    /// The event id.
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// The typed payload.
    pub fn payload(&self) -> &EventPayload {
        &self.payload
    }

    /// The creation time as received.
    pub fn created_at(&self) -> &Timestamp {
        &self.created_at
    }

    /// Users mentioned by a `message.created` / `thread.reply_created` (later servers).
    pub fn mentioned_user_ids(&self) -> &[UserId] {
        &self.mentioned_user_ids
    }

    /// The message a message, thread-reply, reaction or pin event is about.
    pub fn message_id(&self) -> Option<&MessageId> {
        match &self.payload {
            EventPayload::MessageCreated(p) => Some(&p.message_id),
            EventPayload::MessageUpdated(p) | EventPayload::MessageDeleted(p) => {
                Some(&p.message_id)
            }
            EventPayload::ThreadReplyCreated(p) => Some(&p.message_id),
            EventPayload::ReactionAdded(p) | EventPayload::ReactionRemoved(p) => {
                Some(&p.message_id)
            }
            EventPayload::PinAdded(p) | EventPayload::PinRemoved(p) => Some(&p.message_id),
            _ => None,
        }
    }

    /// The DM this event belongs to, when its payload names one.
    pub fn direct_conversation_id(&self) -> Option<&ConversationId> {
        match &self.payload {
            EventPayload::MessageCreated(p) => p.direct_conversation_id.as_ref(),
            EventPayload::MessageUpdated(p) | EventPayload::MessageDeleted(p) => {
                p.direct_conversation_id.as_ref()
            }
            EventPayload::ThreadReplyCreated(p) => p.direct_conversation_id.as_ref(),
            EventPayload::ThreadStateUpdated(p) => p.direct_conversation_id.as_ref(),
            EventPayload::ReactionAdded(p) | EventPayload::ReactionRemoved(p) => {
                p.direct_conversation_id.as_ref()
            }
            EventPayload::ChannelRead(p) | EventPayload::DmRead(p) => {
                p.direct_conversation_id.as_ref()
            }
            EventPayload::TypingStarted(p)
            | EventPayload::TypingStopped(p)
            | EventPayload::PresenceChanged(p)
            | EventPayload::AgentProgress(p) => p.direct_conversation_id.as_ref(),
            _ => None,
        }
    }

    /// Encodes the event to its wire JSON.
    pub fn to_json_string(&self) -> String {
        // Serializing this type cannot fail: all keys are strings and raw payloads are valid JSON.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut len = 6;
        len += usize::from(self.channel_id.is_some());
        len += usize::from(self.seq.is_some());
        len += usize::from(!self.mentioned_user_ids.is_empty());
        let mut m = s.serialize_map(Some(len))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("cursor", &self.cursor)?;
        m.serialize_entry("type", &self.event_type)?;
        m.serialize_entry("workspace_id", &self.workspace_id)?;
        if let Some(c) = &self.channel_id {
            m.serialize_entry("channel_id", c)?;
        }
        if let Some(seq) = self.seq {
            m.serialize_entry("seq", &seq)?;
        }
        m.serialize_entry("created_at", &self.created_at)?;
        if !self.mentioned_user_ids.is_empty() {
            m.serialize_entry("mentioned_user_ids", &self.mentioned_user_ids)?;
        }
        m.serialize_entry("payload", &self.payload)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    /// Decodes an event inside a larger JSON document (responses, pages).
    ///
    /// Works with `serde_json` deserializers only (the payload is captured as
    /// a [`RawValue`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let env: Envelope<'_, Box<RawValue>> = Envelope::decode(d, PayloadMode::Raw)?;
        Ok(Event::from_envelope(env))
    }
}
