//! The realtime REST endpoints: the event page and ephemeral publishing.

use clickclack_proto::requests::PublishEphemeral;
use clickclack_proto::responses::{EventResponse, EventTypesResponse};
use clickclack_proto::{ChannelId, ConversationId, Cursor, Event, EventsPage, WorkspaceId};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::{ApiPath, Query};

/// Where an ephemeral event goes.
///
/// Non-exhaustive: the server may accept more targets later.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EphemeralTarget {
    /// A channel.
    Channel(ChannelId),
    /// A direct conversation.
    Dm(ConversationId),
}

impl EphemeralTarget {
    fn request(
        &self,
        workspace: &WorkspaceId,
        event_type: &str,
        payload: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> PublishEphemeral {
        let request = PublishEphemeral::new(workspace.clone(), event_type);
        let request = match self {
            EphemeralTarget::Channel(c) => request.with_channel(c.clone()),
            EphemeralTarget::Dm(d) => request.with_direct_conversation(d.clone()),
        };
        match payload {
            Some(payload) => request.with_payload(payload),
            None => request,
        }
    }
}

impl Client {
    /// `GET /api/realtime/events?workspace_id=&after_cursor=&limit=&include_tail=true`.
    ///
    /// Events come in ascending cursor order; `after_cursor` is exclusive
    /// (`None`: from the start of the retained log). With `include_tail`, the
    /// page's `tail_cursor` is the newest visible durable cursor, the safe
    /// starting point for a fresh realtime connection. A page may hold fewer
    /// than `limit` events even when more exist: page until a page is empty.
    pub async fn events_page(
        &self,
        workspace: &WorkspaceId,
        after: Option<&Cursor>,
        limit: Option<u32>,
        include_tail: bool,
    ) -> Result<EventsPage, Error> {
        let query = Query::new()
            .push("workspace_id", workspace.as_str())
            .push_opt(
                "after_cursor",
                after.map(|c| c.as_str()).filter(|c| !c.is_empty()),
            )
            .push_opt("limit", limit.map(|l| l.to_string()))
            .push_opt("include_tail", include_tail.then_some("true"));
        self.json(Call::get(ApiPath::new("/api/realtime/events")).query(query))
            .await
    }

    /// `POST /api/realtime/ephemeral`: publishes `typing.started`,
    /// `typing.stopped`, `presence.changed` or `agent.progress` (cursorless,
    /// not replayable). Returns the published event, or `None` when the
    /// server accepted it without echoing an `event`.
    pub async fn publish_ephemeral(
        &self,
        request: &PublishEphemeral,
    ) -> Result<Option<Event>, Error> {
        let call =
            Call::new(Method::POST, ApiPath::new("/api/realtime/ephemeral")).json(request)?;
        let resp: EventResponse = self.json(call).await?;
        Ok(resp.event)
    }

    /// Publishes `typing.started` (or `typing.stopped` when `started` is false).
    pub async fn publish_typing(
        &self,
        workspace: &WorkspaceId,
        target: &EphemeralTarget,
        started: bool,
    ) -> Result<Option<Event>, Error> {
        let kind = if started {
            "typing.started"
        } else {
            "typing.stopped"
        };
        self.publish_ephemeral(&target.request(workspace, kind, None))
            .await
    }

    /// Publishes `agent.progress` with `payload` (bot tokens only; one target).
    pub async fn publish_agent_progress(
        &self,
        workspace: &WorkspaceId,
        target: &EphemeralTarget,
        payload: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<Event>, Error> {
        self.publish_ephemeral(&target.request(workspace, "agent.progress", Some(payload)))
            .await
    }

    /// Publishes `presence.changed` with `payload` to a target.
    pub async fn publish_presence(
        &self,
        workspace: &WorkspaceId,
        target: &EphemeralTarget,
        payload: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<Event>, Error> {
        self.publish_ephemeral(&target.request(workspace, "presence.changed", Some(payload)))
            .await
    }

    /// `GET /api/event-types`: the durable event types the server persists.
    pub async fn event_types(&self) -> Result<Vec<String>, Error> {
        let resp: EventTypesResponse = self
            .json(Call::get(ApiPath::new("/api/event-types")))
            .await?;
        Ok(resp.event_types)
    }
}
