//! Anchoring at the server's tail, and paging a gap after a resync.

use clickclack_client::Client;
use clickclack_proto::event::Event;
use clickclack_proto::{Cursor, WorkspaceId};

use crate::error::Error;

/// `GET /api/realtime/events?include_tail=true` → the cursor to start after.
///
/// `tail_cursor` when the server sends it; older servers: the last durable
/// event of the page. `None` when the workspace has no visible events yet.
pub(crate) async fn fetch_tail(
    client: &Client,
    workspace: &WorkspaceId,
) -> Result<Option<Cursor>, clickclack_client::Error> {
    let page = client.events_page(workspace, None, None, true).await?;
    let from_page = || {
        page.events
            .iter()
            .rev()
            .find(|e| e.is_durable())
            .map(|e| e.cursor().clone())
    };
    Ok(page
        .tail_cursor
        .clone()
        .filter(|c| !c.as_str().is_empty())
        .or_else(from_page))
}

/// Whether a failed tail fetch is worth retrying.
pub(crate) fn is_retryable(err: &clickclack_client::Error) -> bool {
    err.is_retryable() || matches!(err.kind(), clickclack_client::ErrorKind::Server)
}

/// Pages the durable events of a gap through `GET /api/realtime/events`.
///
/// After a [`RealtimeItem::Resync`](crate::RealtimeItem::Resync) the live
/// stream continues after `anchor`; the events between `previous` and
/// `anchor` were not delivered. If the server still retains them (a resync
/// because the replay was over 5,000 events, not because they were pruned),
/// this helper returns them in cursor order, stopping at `anchor`:
///
/// ```no_run
/// # async fn demo(client: clickclack_client::Client, ws: clickclack_proto::WorkspaceId,
/// #               previous: clickclack_proto::Cursor, anchor: clickclack_proto::Cursor)
/// # -> Result<(), clickclack_realtime::Error> {
/// use clickclack_realtime::Backfill;
///
/// let mut gap = Backfill::new(client, ws, previous).until(anchor);
/// while let Some(page) = gap.next_page().await? {
///     for event in page {
///         println!("{} {}", event.cursor(), event.event_type());
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The endpoint cannot tell whether events after `previous` were pruned: a
/// pruned cursor still works as a lower bound, and only the retained events
/// come back. When completeness matters, re-fetch state over REST instead
/// (channels, the latest messages of the channels you follow, open threads).
#[derive(Debug, Clone)]
pub struct Backfill {
    client: Client,
    workspace: WorkspaceId,
    after: Cursor,
    until: Option<Cursor>,
    page_size: u32,
    done: bool,
}

impl Backfill {
    /// Pages the events after `after` (exclusive).
    pub fn new(client: Client, workspace: WorkspaceId, after: Cursor) -> Self {
        Self {
            client,
            workspace,
            after,
            until: None,
            page_size: 500,
            done: false,
        }
    }

    /// Stops after `cursor` (inclusive), typically the resync anchor.
    pub fn until(mut self, cursor: Cursor) -> Self {
        self.until = Some(cursor);
        self
    }

    /// Events per request (the server caps it at 500).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, 500);
        self
    }

    /// The cursor the next page starts after.
    pub fn position(&self) -> &Cursor {
        &self.after
    }

    /// The next page of events, or `None` when the gap is exhausted.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the request fails (the position is unchanged, so
    /// calling again retries the same page).
    pub async fn next_page(&mut self) -> Result<Option<Vec<Event>>, Error> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .client
            .events_page(
                &self.workspace,
                Some(&self.after),
                Some(self.page_size),
                false,
            )
            .await
            .map_err(Error::Api)?;
        let mut events: Vec<Event> = page
            .events
            .into_iter()
            .filter(|e| e.is_durable() && e.cursor() > &self.after)
            .collect();
        if let Some(until) = &self.until
            && let Some(cut) = events.iter().position(|e| e.cursor() > until)
        {
            events.truncate(cut);
            self.done = true;
        }
        match events.last() {
            Some(last) => {
                self.after = last.cursor().clone();
                if self.until.as_ref().is_some_and(|u| &self.after >= u) {
                    self.done = true;
                }
                Ok(Some(events))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}
