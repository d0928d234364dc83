//! Step one of decoding: the envelope with the payload still raw.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ids::{ChannelId, Cursor, EventId, UserId, WorkspaceId};
use crate::timestamp::Timestamp;

/// The envelope as decoded in step one, with the payload still raw.
///
/// Only `type` is required; missing or `null` string fields become empty
/// (see [`crate::go`]).
#[derive(Deserialize)]
pub(crate) struct Envelope<'a, P> {
    #[serde(default, deserialize_with = "crate::go::or_default")]
    pub(crate) id: EventId,
    #[serde(default, deserialize_with = "crate::go::or_default")]
    pub(crate) cursor: Cursor,
    #[serde(rename = "type", borrow)]
    pub(crate) event_type: Cow<'a, str>,
    #[serde(default, deserialize_with = "crate::go::or_default")]
    pub(crate) workspace_id: WorkspaceId,
    #[serde(default)]
    pub(crate) channel_id: Option<ChannelId>,
    #[serde(default)]
    pub(crate) seq: Option<i64>,
    #[serde(default, deserialize_with = "crate::go::or_default")]
    pub(crate) created_at: Timestamp,
    #[serde(default, deserialize_with = "crate::go::list")]
    pub(crate) mentioned_user_ids: Vec<UserId>,
    #[serde(default = "none")]
    pub(crate) payload: Option<P>,
}

fn none<T>() -> Option<T> {
    None
}

/// A borrowed or owned raw payload.
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
