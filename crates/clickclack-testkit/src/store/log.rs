//! The durable, per-workspace event log. Each event's JSON is serialized once
//! and kept as bytes; replays and live delivery share the same `Arc`.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

/// Who may see an event.
#[derive(Debug, Clone)]
pub(crate) enum Visibility {
    /// Every workspace member.
    All,
    /// Only these users (DM events).
    Members(Arc<[String]>),
    /// Only this user (`channel.read` / `dm.read`).
    User(String),
}

impl Visibility {
    pub(crate) fn allows(&self, user_id: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Members(m) => m.iter().any(|u| u == user_id),
            Visibility::User(u) => u == user_id,
        }
    }
}

/// One event, serialized once.
#[derive(Debug)]
pub(crate) struct LoggedEvent {
    /// `cur_…` (empty for ephemeral events).
    pub(crate) cursor: String,
    /// The event's JSON bytes, exactly as sent on the wire.
    pub(crate) bytes: Bytes,
    /// Recipients.
    pub(crate) visibility: Visibility,
}

impl LoggedEvent {
    /// Parses the cached bytes back into a JSON value (for REST responses).
    pub(crate) fn to_value(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

/// The wire envelope, in the server's field order (protocol.md §7.3).
#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    pub(crate) id: &'a str,
    pub(crate) cursor: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
    pub(crate) workspace_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) channel_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seq: Option<i64>,
    pub(crate) created_at: &'a str,
    pub(crate) payload: &'a Value,
}

impl Envelope<'_> {
    pub(crate) fn to_bytes(&self) -> Bytes {
        Bytes::from(crate::gojson::to_vec(self))
    }
}

/// Why a replay position is unusable (→ close 4001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorError {
    /// Not in the retained log (never issued, or pruned).
    Unknown,
}

/// One workspace's retained events, ascending by cursor.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    events: VecDeque<Arc<LoggedEvent>>,
}

impl EventLog {
    pub(crate) fn push(&mut self, event: Arc<LoggedEvent>) {
        self.events.push_back(event);
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Index of the first event after `after` (exclusive). `None` = start.
    pub(crate) fn position_after(&self, after: Option<&str>) -> Result<usize, CursorError> {
        match after {
            None | Some("") => Ok(0),
            Some(cursor) => {
                let idx = self.events.partition_point(|e| e.cursor.as_str() < cursor);
                match self.events.get(idx) {
                    Some(e) if e.cursor == cursor => Ok(idx + 1),
                    _ => Err(CursorError::Unknown),
                }
            }
        }
    }

    /// Like [`position_after`](Self::position_after) but an unknown cursor
    /// resumes after the greatest retained cursor below it (REST paging).
    pub(crate) fn position_after_lenient(&self, after: Option<&str>) -> usize {
        match after {
            None | Some("") => 0,
            Some(cursor) => self.events.partition_point(|e| e.cursor.as_str() <= cursor),
        }
    }

    /// Events at `[from, ..)`, visible to `viewer`, examining at most
    /// `max_examined` entries. Returns the visible events and the index after
    /// the last examined entry.
    pub(crate) fn page(
        &self,
        from: usize,
        max_examined: usize,
        viewer: &str,
    ) -> (Vec<Arc<LoggedEvent>>, usize) {
        let end = (from + max_examined).min(self.events.len());
        let out = self
            .events
            .range(from.min(end)..end)
            .filter(|e| e.visibility.allows(viewer))
            .cloned()
            .collect();
        (out, end)
    }

    /// Index of the last event visible to `viewer`, plus its cursor.
    pub(crate) fn tail_for(&self, viewer: &str) -> Option<(usize, String)> {
        self.events
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.visibility.allows(viewer))
            .map(|(i, e)| (i, e.cursor.clone()))
    }

    /// Drops every event with a cursor below `cursor` (all of them for `None`).
    pub(crate) fn prune_before(&mut self, cursor: Option<&str>) -> usize {
        let n = match cursor {
            None => self.events.len(),
            Some(c) => self.events.partition_point(|e| e.cursor.as_str() < c),
        };
        self.events.drain(..n);
        n
    }

    /// All retained events (for inspection helpers).
    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<LoggedEvent>> {
        self.events.iter()
    }

    /// The cursor of the event at `idx`.
    pub(crate) fn cursor_at(&self, idx: usize) -> Option<String> {
        self.events.get(idx).map(|e| e.cursor.clone())
    }

    /// The index of the event with exactly `cursor`.
    pub(crate) fn index_of(&self, cursor: &str) -> Option<usize> {
        let idx = self.events.partition_point(|e| e.cursor.as_str() < cursor);
        (self.events.get(idx).map(|e| e.cursor.as_str()) == Some(cursor)).then_some(idx)
    }
}
