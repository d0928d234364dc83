//! Search.

use clickclack_proto::{ChannelId, ConversationId, SearchResults, WorkspaceId};

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::{ApiPath, Query};

/// Query of `GET /api/search`.
///
/// Non-exhaustive: start from [`SearchQuery::new`] and use the `with_*` setters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchQuery {
    /// The workspace to search.
    pub workspace_id: WorkspaceId,
    /// The search text.
    pub q: String,
    /// Only this channel.
    pub channel_id: Option<ChannelId>,
    /// Only this DM.
    pub direct_conversation_id: Option<ConversationId>,
    /// `relevance` or `newest`.
    pub sort: Option<String>,
    /// Page size (server: 1–100, default 50).
    pub limit: Option<u32>,
    /// The cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl SearchQuery {
    /// Searches `workspace` for `q`.
    pub fn new(workspace: impl Into<WorkspaceId>, q: impl Into<String>) -> Self {
        Self {
            workspace_id: workspace.into(),
            q: q.into(),
            ..Self::default()
        }
    }

    /// Only this channel.
    pub fn with_channel(mut self, channel_id: impl Into<ChannelId>) -> Self {
        self.channel_id = Some(channel_id.into());
        self
    }

    /// Only this DM.
    pub fn with_direct_conversation(mut self, conversation_id: impl Into<ConversationId>) -> Self {
        self.direct_conversation_id = Some(conversation_id.into());
        self
    }

    /// Sort order: `relevance` or `newest`.
    pub fn with_sort(mut self, sort: impl Into<String>) -> Self {
        self.sort = Some(sort.into());
        self
    }

    /// Sets the page size.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after a previous page's `next_cursor`.
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    pub(crate) fn to_query(&self) -> Query {
        Query::new()
            .push("workspace_id", self.workspace_id.as_str())
            .push("q", &self.q)
            .push_opt("channel_id", self.channel_id.as_ref().map(|c| c.as_str()))
            .push_opt(
                "direct_conversation_id",
                self.direct_conversation_id.as_ref().map(|c| c.as_str()),
            )
            .push_opt("sort", self.sort.as_deref())
            .push_opt("limit", self.limit.map(|l| l.to_string()))
            .push_opt("cursor", self.cursor.as_deref())
    }
}

impl Client {
    /// `GET /api/search`: one page of hits.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchResults, Error> {
        self.json(Call::get(ApiPath::new("/api/search")).query(query.to_query()))
            .await
    }
}
