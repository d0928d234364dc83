//! Paged list responses.

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::ids::Cursor;
use crate::objects::{Message, RoleCounts, SearchResult, ThreadState, WorkspaceMember};

/// `GET /api/channels/{id}/messages` and `GET /api/dms/{id}/messages`:
/// root messages in ascending `channel_seq`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MessagePage {
    /// The messages.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub messages: Vec<Message>,
    /// Lowest `channel_seq` in the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_seq: Option<i64>,
    /// Highest `channel_seq` in the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_seq: Option<i64>,
    /// Whether older messages exist.
    #[serde(default)]
    pub has_older: bool,
    /// Whether newer messages exist.
    #[serde(default)]
    pub has_newer: bool,
}

/// `GET /api/messages/{id}/thread`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadPage {
    /// The root message.
    pub root: Message,
    /// Replies in ascending `thread_seq`.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub replies: Vec<Message>,
    /// The thread summary.
    #[serde(default)]
    pub thread_state: ThreadState,
    /// Lowest `thread_seq` in the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_seq: Option<i64>,
    /// Highest `thread_seq` in the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_seq: Option<i64>,
    /// Whether older replies exist.
    #[serde(default)]
    pub has_older: bool,
    /// Whether newer replies exist.
    #[serde(default)]
    pub has_newer: bool,
}

/// `GET /api/realtime/events`: durable events in ascending cursor order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventsPage {
    /// The events (possibly fewer than `limit` even when more exist).
    #[serde(default, deserialize_with = "crate::go::list")]
    pub events: Vec<Event>,
    /// With `include_tail=true`: the newest visible durable cursor, the safe
    /// `after_cursor` for a fresh start. `""` (no visible event yet) is `None`.
    #[serde(
        default,
        deserialize_with = "crate::go::non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub tail_cursor: Option<Cursor>,
}

/// `GET /api/workspaces/{id}/members`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MembersPage {
    /// The members.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub members: Vec<WorkspaceMember>,
    /// Opaque cursor for the next page (`""` is `None`).
    #[serde(
        default,
        deserialize_with = "crate::go::non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<String>,
    /// Whether more members exist.
    #[serde(default)]
    pub has_more: bool,
    /// Filtered member count (first page only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    /// Unfiltered totals per role (unfiltered first page only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_by_role: Option<RoleCounts>,
}

/// `GET /api/search`. `next_cursor` is serialized as `null` when absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SearchResults {
    /// The hits.
    #[serde(default, deserialize_with = "crate::go::list")]
    pub results: Vec<SearchResult>,
    /// Opaque cursor for the next page (`""` is `None`).
    #[serde(default, deserialize_with = "crate::go::non_empty")]
    pub next_cursor: Option<String>,
}
