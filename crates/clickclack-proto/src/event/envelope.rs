//! Step one of decoding: the envelope, with the payload typed in the same
//! pass when `type` came before it (Go's field order), else kept raw for
//! step two.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::value::RawValue;

use super::payload::{EventPayload, PayloadSource, decode_by_type};
use crate::ids::{ChannelId, Cursor, EventId, UserId, WorkspaceId};
use crate::timestamp::Timestamp;

/// How the envelope reads its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadMode {
    /// Decode a known type's payload straight from the input when `type`
    /// came first. A payload that does not decode as its type (or is
    /// `null`) fails the whole pass: decode again with [`PayloadMode::Raw`].
    Typed,
    /// Always keep the payload raw (never fails on the payload).
    Raw,
}

/// The payload as the envelope pass left it.
// Lives only during one decode and becomes the event's payload: boxing the
// typed variant would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Payload<P> {
    /// No `payload` key.
    Absent,
    /// Kept as raw JSON for step two.
    Raw(P),
    /// Already decoded as its type.
    Typed(EventPayload),
}

/// The envelope as decoded in step one.
///
/// Only `type` is required; missing or `null` string fields become empty
/// (see [`crate::go`]).
pub(crate) struct Envelope<'a, P> {
    pub(crate) id: EventId,
    pub(crate) cursor: Cursor,
    pub(crate) event_type: Cow<'a, str>,
    pub(crate) workspace_id: WorkspaceId,
    pub(crate) channel_id: Option<ChannelId>,
    pub(crate) seq: Option<i64>,
    pub(crate) created_at: Timestamp,
    pub(crate) mentioned_user_ids: Vec<UserId>,
    pub(crate) payload: Payload<P>,
}

impl<'de, P: Deserialize<'de>> Envelope<'de, P> {
    /// Decodes an envelope (a JSON object) from `d`.
    pub(crate) fn decode<D: Deserializer<'de>>(d: D, mode: PayloadMode) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor {
            mode,
            raw: PhantomData,
        })
    }
}

/// A raw payload, borrowed from the input or owned.
pub(crate) trait RawPayload {
    fn raw(&self) -> &RawValue;
}

impl RawPayload for &RawValue {
    fn raw(&self) -> &RawValue {
        self
    }
}

impl RawPayload for Box<RawValue> {
    fn raw(&self) -> &RawValue {
        self
    }
}

pub(crate) fn null_raw() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// The envelope's keys.
#[derive(Clone, Copy)]
enum Field {
    Id,
    Cursor,
    Type,
    WorkspaceId,
    ChannelId,
    Seq,
    CreatedAt,
    MentionedUserIds,
    Payload,
    Other,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Cursor => "cursor",
            Field::Type => "type",
            Field::WorkspaceId => "workspace_id",
            Field::ChannelId => "channel_id",
            Field::Seq => "seq",
            Field::CreatedAt => "created_at",
            Field::MentionedUserIds => "mentioned_user_ids",
            Field::Payload => "payload",
            Field::Other => "",
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(match key {
                    "id" => Field::Id,
                    "cursor" => Field::Cursor,
                    "type" => Field::Type,
                    "workspace_id" => Field::WorkspaceId,
                    "channel_id" => Field::ChannelId,
                    "seq" => Field::Seq,
                    "created_at" => Field::CreatedAt,
                    "mentioned_user_ids" => Field::MentionedUserIds,
                    "payload" => Field::Payload,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// A string field that must not be `null` in Go, tolerated as empty.
#[derive(Deserialize)]
struct OrDefault<T: Default + DeserializeOwned>(
    #[serde(deserialize_with = "crate::go::or_default")] T,
);

/// The envelope's mention list (Go slice: `null` is empty).
#[derive(Deserialize)]
struct Mentions(#[serde(deserialize_with = "crate::go::list")] Vec<UserId>);

/// The `type` string, borrowed from the input when it has no escapes.
struct TypeName<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for TypeName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TypeVisitor;
        impl<'de> Visitor<'de> for TypeVisitor {
            type Value = TypeName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TypeName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TypeName(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TypeName(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TypeVisitor)
    }
}

/// Reads the payload value of the map being visited as a typed payload.
struct NextValue<'m, 'de, A>(&'m mut A, PhantomData<&'de ()>);

impl<'de, A: MapAccess<'de>> PayloadSource for NextValue<'_, 'de, A> {
    type Error = A::Error;

    /// A `null` payload fails here like any mismatch (the two-step decode
    /// then decides what it becomes).
    fn typed<T: DeserializeOwned>(self) -> Result<T, A::Error> {
        self.0.next_value::<T>()
    }
}

struct EnvelopeVisitor<P> {
    mode: PayloadMode,
    raw: PhantomData<P>,
}

impl<'de, P: Deserialize<'de>> Visitor<'de> for EnvelopeVisitor<P> {
    type Value = Envelope<'de, P>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = 0u16;
        let mut event_type: Option<Cow<'de, str>> = None;
        let mut env = Envelope {
            id: EventId::default(),
            cursor: Cursor::default(),
            event_type: Cow::Borrowed(""),
            workspace_id: WorkspaceId::default(),
            channel_id: None,
            seq: None,
            created_at: Timestamp::default(),
            mentioned_user_ids: Vec::new(),
            payload: Payload::Absent,
        };
        while let Some(field) = map.next_key::<Field>()? {
            if !matches!(field, Field::Other) {
                let bit = 1u16 << field as u16;
                if seen & bit != 0 {
                    return Err(de::Error::duplicate_field(field.name()));
                }
                seen |= bit;
            }
            match field {
                Field::Id => env.id = map.next_value::<OrDefault<_>>()?.0,
                Field::Cursor => env.cursor = map.next_value::<OrDefault<_>>()?.0,
                Field::Type => event_type = Some(map.next_value::<TypeName<'de>>()?.0),
                Field::WorkspaceId => env.workspace_id = map.next_value::<OrDefault<_>>()?.0,
                Field::ChannelId => env.channel_id = map.next_value()?,
                Field::Seq => env.seq = map.next_value()?,
                Field::CreatedAt => env.created_at = map.next_value::<OrDefault<_>>()?.0,
                Field::MentionedUserIds => {
                    env.mentioned_user_ids = map.next_value::<Mentions>()?.0;
                }
                Field::Payload => {
                    let typed = match (&event_type, self.mode) {
                        (Some(ty), PayloadMode::Typed) => {
                            decode_by_type(ty, NextValue(&mut map, PhantomData))
                        }
                        _ => None,
                    };
                    env.payload = match typed {
                        Some(decoded) => Payload::Typed(decoded?),
                        None => Payload::Raw(map.next_value()?),
                    };
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        env.event_type = event_type.ok_or_else(|| de::Error::missing_field("type"))?;
        Ok(env)
    }
}
