//! The realtime REST endpoints: the event page and ephemeral publishing.

use clickclack_proto::requests::PublishEphemeral;
use clickclack_proto::responses::EventResponse;
use clickclack_proto::{Cursor, Event, EventsPage, WorkspaceId};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::{ApiPath, Query};

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
    /// not replayable). Returns the published event.
    pub async fn publish_ephemeral(&self, request: &PublishEphemeral) -> Result<Event, Error> {
        let call =
            Call::new(Method::POST, ApiPath::new("/api/realtime/ephemeral")).json(request)?;
        let resp: EventResponse = self.json(call).await?;
        Ok(resp.event)
    }
}
