//! The consumer-facing stream and its builder.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::{Cursor, WorkspaceId};
use std::collections::VecDeque;
use tracing::Instrument as _;

use crate::backoff::{Backoff, BackoffPolicy};
use crate::commit::{Committer, Shared};
use crate::connect::DialConfig;
use crate::cursor_store::{CursorStore, MemoryCursorStore};
use crate::driver::{Driver, Outgoing};
use crate::endpoint::realtime_target;
use crate::error::Error;
use crate::handoff;
use crate::handshake::AuthMode;
use crate::heartbeat::HeartbeatPolicy;
use crate::item::{RealtimeItem, ResyncReason};
use crate::options::RealtimeOptions;
use crate::state::{ConnState, Input, step};
use crate::stats::{Counters, Stats};
use crate::task::AbortOnDrop;
use crate::watermark::Watermark;

/// A resumable stream of one workspace's realtime events.
///
/// Built with [`RealtimeStream::builder`]. Read it with
/// [`next_event`](RealtimeStream::next_event) or as a
/// [`futures_core::Stream`]; after handling a durable event, call
/// [`commit`](RealtimeStream::commit) with its cursor.
///
/// # Delivery guarantees
///
/// - **Within a connection, no durable event is yielded twice**, and durable
///   events arrive in cursor order: an event whose cursor is not past the
///   last one yielded is dropped. Ephemeral events (`cursor: ""`) pass
///   through and are never replayed.
/// - **Uncommitted events are redelivered after a reconnect.** A reconnect
///   resumes after the last **committed** cursor; when the consumer takes the
///   [`RealtimeItem::Connected`] notice of the new connection, the
///   deduplication watermark is reset to the committed cursor as it is at
///   that moment. Events you received but did not commit come again;
///   committed ones never do. A consumer that commits each event after
///   handling it therefore sees every event exactly once across reconnects
///   (and restarts, with a persistent [`CursorStore`]).
/// - **A [`RealtimeItem::Resync`] is the only place where events can be
///   missed**: those after its `previous` up to its `anchor`. Fill the gap
///   with [`Backfill`](crate::Backfill) while the server retains it, or
///   re-fetch state over REST. The stream never skips events without one: a
///   damaged cursor file fails [`start`](RealtimeStreamBuilder::start), and
///   a lost one yields a `Resync` with
///   [`ResyncReason::CursorLost`](crate::ResyncReason::CursorLost).
///
/// # Cancel safety
///
/// [`next_event`](RealtimeStream::next_event) and `poll_next` are
/// cancel-safe: dropping the future (for example in a `select!` branch that
/// lost) loses no item, because an item leaves the internal channel only in
/// the same poll that returns it. The socket is read by a separate task, so
/// cancelling never tears a frame.
///
/// # Resources
///
/// One background task drives the connection and one reads the socket while
/// connected; both stop when the stream is dropped. Memory is bounded by
/// [`RealtimeOptions::buffer`] items plus [`RealtimeOptions::reader_buffer`]
/// messages (each at most [`RealtimeOptions::max_frame_bytes`]); a slow
/// consumer stops the socket from being read. Note that the server drops a
/// socket it cannot write to for 10 s; the stream then reconnects and the
/// server replays from the committed cursor.
#[derive(Debug)]
pub struct RealtimeStream {
    rx: handoff::Receiver<Outgoing>,
    /// The batch taken from `rx`, handed out one item per poll.
    batch: VecDeque<Outgoing>,
    watermark: Watermark,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    workspace: WorkspaceId,
    finished: bool,
    started_at_tail: bool,
    _driver: AbortOnDrop<()>,
}

impl RealtimeStream {
    /// Starts configuring a stream of `workspace`'s events through `client`
    /// (its base URL and token are used for the socket too).
    pub fn builder(client: Client, workspace: WorkspaceId) -> RealtimeStreamBuilder {
        RealtimeStreamBuilder {
            client,
            workspace,
            options: RealtimeOptions::default(),
            store: None,
            key: None,
            start_after: None,
        }
    }

    /// The next item, or `None` after a terminal error or once the stream ended.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<Result<RealtimeItem, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Records that every durable event up to and including `cursor` is
    /// handled and persists it in the cursor store. Reconnects resume after
    /// it. Older or empty (ephemeral) cursors are ignored.
    ///
    /// Persisting is coalesced: a commit after a quiet
    /// [flush interval](RealtimeOptions::cursor_flush_interval) is written at
    /// once, later ones within the interval by one flush at its end (the
    /// newest cursor wins). Only committed cursors are ever written, so a
    /// crash redelivers at most the last interval's events and skips none.
    /// Call [`flush`](Self::flush) before a graceful shutdown.
    ///
    /// # Errors
    ///
    /// [`Error::CursorStore`] if persisting failed; the in-memory commit still
    /// applies to reconnects of this stream.
    pub async fn commit(&self, cursor: &Cursor) -> Result<(), Error> {
        self.shared.commit(cursor).await.map(|_| ())
    }

    /// Persists the last committed cursor now if it is not stored yet.
    ///
    /// # Errors
    ///
    /// [`Error::CursorStore`] if persisting failed.
    pub async fn flush(&self) -> Result<(), Error> {
        self.shared.flush().await
    }

    /// A cloneable handle to commit from another task.
    pub fn committer(&self) -> Committer {
        Committer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The last committed cursor.
    pub fn committed_cursor(&self) -> Option<Cursor> {
        self.shared.committed()
    }

    /// Whether [`start`](RealtimeStreamBuilder::start) anchored at the
    /// server's tail (no cursor was given or stored): the anchor, the first
    /// [`committed_cursor`](Self::committed_cursor), is then the tail, so
    /// nothing this stream yields is backlog from before it started.
    pub fn started_at_tail(&self) -> bool {
        self.started_at_tail
    }

    /// The workspace this stream follows.
    pub fn workspace(&self) -> &WorkspaceId {
        &self.workspace
    }

    /// The key the cursor is stored under.
    pub fn cursor_key(&self) -> &str {
        self.shared.key()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RealtimeItem, Error>>> {
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            let this = &mut *self;
            // The item is looked at where it lies and leaves the batch
            // straight into the return value (an event is a few hundred
            // bytes; every intermediate move is a copy).
            let Some(msg) = this.batch.front() else {
                if !ready!(this.rx.poll_batch(cx, &mut this.batch)) {
                    self.finished = true;
                    return Poll::Ready(None);
                }
                continue;
            };
            match msg {
                Ok(RealtimeItem::Event(event)) => {
                    if !this.watermark.admit(event) {
                        Counters::bump(&this.counters.duplicates_skipped);
                        tracing::debug!(cursor = %event.cursor(), "realtime duplicate skipped");
                        this.batch.pop_front();
                        continue;
                    }
                    Counters::bump(&this.counters.events);
                    if event.is_durable() {
                        this.shared.yielded(event.cursor());
                    }
                }
                Ok(RealtimeItem::Connected { .. }) => {
                    this.watermark.reset(this.shared.committed());
                }
                Ok(RealtimeItem::Resync { anchor, .. }) => {
                    this.watermark.reset(Some(anchor.clone()));
                    this.shared.forget_yielded_above(anchor);
                }
                Ok(_) => {}
                Err(e) => {
                    if e.is_terminal() {
                        this.finished = true;
                    }
                }
            }
            return Poll::Ready(this.batch.pop_front());
        }
    }
}

impl futures_core::Stream for RealtimeStream {
    type Item = Result<RealtimeItem, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl futures_core::FusedStream for RealtimeStream {
    fn is_terminated(&self) -> bool {
        self.finished
    }
}

/// Configures and starts a [`RealtimeStream`].
#[derive(Debug)]
#[must_use = "call .start().await to open the stream"]
pub struct RealtimeStreamBuilder {
    client: Client,
    workspace: WorkspaceId,
    options: RealtimeOptions,
    store: Option<Arc<dyn CursorStore>>,
    key: Option<String>,
    start_after: Option<Cursor>,
}

impl RealtimeStreamBuilder {
    /// Replaces all options at once.
    pub fn options(mut self, options: RealtimeOptions) -> Self {
        self.options = options;
        self
    }

    /// Where committed cursors are persisted (default: a fresh [`MemoryCursorStore`]).
    pub fn cursor_store(mut self, store: Arc<dyn CursorStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key the cursor is stored under (default: the workspace id). Use one
    /// key per account and workspace, e.g. `"<account>.<workspace>"`.
    pub fn cursor_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Starts after `cursor` instead of the stored one (or the server tail).
    pub fn start_after(mut self, cursor: Cursor) -> Self {
        self.start_after = Some(cursor).filter(|c| !c.as_str().is_empty());
        self
    }

    /// Reconnect backoff.
    pub fn backoff(mut self, backoff: BackoffPolicy) -> Self {
        self.options.backoff = backoff;
        self
    }

    /// Ping cadence and dead-connection detection.
    pub fn heartbeat(mut self, heartbeat: HeartbeatPolicy) -> Self {
        self.options.heartbeat = heartbeat;
        self
    }

    /// Ping every `interval`; the connection is dead after `dead_after` silent intervals.
    pub fn ping_interval(mut self, interval: Duration, dead_after: u32) -> Self {
        self.options.heartbeat = HeartbeatPolicy::new(interval, dead_after);
        self
    }

    /// Limit for TCP connect + TLS + upgrade.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.options.handshake_timeout = timeout;
        self
    }

    /// How often committed cursors are written to the cursor store at most
    /// (see [`RealtimeOptions::cursor_flush_interval`]; zero: every commit).
    pub fn cursor_flush_interval(mut self, interval: Duration) -> Self {
        self.options.cursor_flush_interval = interval;
        self
    }

    /// Items buffered for the consumer.
    pub fn buffer(mut self, items: usize) -> Self {
        self.options.buffer = items;
        self
    }

    /// The largest message accepted.
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.options.max_frame_bytes = bytes;
        self
    }

    /// How the token is sent on the upgrade.
    pub fn auth_mode(mut self, auth: AuthMode) -> Self {
        self.options.auth = auth;
        self
    }

    /// A custom rustls configuration for `wss`.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.options.tls = Some(config);
        self
    }

    /// Resolves the start cursor and starts the connection task.
    ///
    /// The start cursor is, in order: [`start_after`](Self::start_after), the
    /// cursor stored under the key, or the server's current tail
    /// (`GET /api/realtime/events?include_tail=true`, falling back to the
    /// last event of that page on servers without `tail_cursor`), which is
    /// then saved as the committed cursor. The socket is never opened
    /// without a cursor (that would replay the whole log); if the workspace
    /// has no events yet, the stream polls for a tail with backoff.
    ///
    /// Must be called within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// Invalid options or base URL, a cursor store failure, or a refused tail
    /// fetch ([`Error::Api`], e.g. 401 or a missing scope). Connection
    /// failures after this point arrive as stream items.
    pub async fn start(self) -> Result<RealtimeStream, Error> {
        self.options.validate().map_err(Error::Config)?;
        let base_url = self.client.base_url();
        let secure = realtime_target(&base_url, &self.workspace, None)?.secure;
        // Built once, shared by every reconnect: the REST client's roots.
        let tls = match &self.options.tls {
            Some(custom) => Some(Arc::clone(custom)),
            None if secure => Some(crate::tls::websocket_config(&self.client)?),
            None => None,
        };
        let store: Arc<dyn CursorStore> = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryCursorStore::new()));
        let key = self
            .key
            .unwrap_or_else(|| self.workspace.as_str().to_owned());
        let stored = match self.start_after {
            Some(c) => Some(c),
            None => store.load(&key).await?,
        };
        let lost = stored.is_none() && store.held_before(&key).await?;
        let location = store.location(&key);
        let shared = Arc::new(Shared::new(
            store,
            key,
            stored,
            self.options.cursor_flush_interval,
        ));
        let counters = Arc::new(Counters::default());
        let (tx, rx) = handoff::channel(self.options.buffer);
        let options = self.options;
        let mut driver = Driver {
            dial: DialConfig {
                token: self.client.token().map(|t| t.expose_secret().to_owned()),
                auth: options.auth,
                user_agent: options.user_agent.clone(),
                handshake_timeout: options.handshake_timeout,
                max_frame_bytes: options.max_frame_bytes,
                tls,
                max_retry_after: self.client.retry_policy().max_retry_after(),
            },
            client: self.client,
            workspace: self.workspace.clone(),
            base_url,
            heartbeat: options.heartbeat,
            backoff: Backoff::new(options.backoff),
            max_frame_bytes: options.max_frame_bytes,
            shared: Arc::clone(&shared),
            counters: Arc::clone(&counters),
            tx,
            socket: std::sync::Mutex::new(None),
        };
        let span = tracing::info_span!("realtime", workspace = %self.workspace);
        let started_at_tail = shared.committed().is_none();
        let first = if !started_at_tail {
            ConnState::Connecting {
                fresh_anchor: false,
            }
        } else {
            // No cursor: anchor at the tail now, so a refused fetch (401, a
            // missing scope) fails `start` itself.
            let (state, resync) = if lost {
                Counters::bump(&counters.cursors_lost);
                tracing::warn!(parent: &span, key = %shared.key(), file = %location,
                    "realtime cursor LOST: the store held a cursor for this stream before and has none now; starting at the server's tail, so events since the last run are skipped");
                let reason = ResyncReason::CursorLost { location };
                (
                    ConnState::Resyncing {
                        previous: None,
                        reason: reason.clone(),
                    },
                    Some((None, reason)),
                )
            } else {
                (ConnState::Anchoring, None)
            };
            match driver.anchor(resync).instrument(span.clone()).await {
                Some(Input::Fatal(e)) => return Err(e),
                Some(input) => step(state, input),
                None => return Err(Error::Internal("the stream's channel closed".into())),
            }
        };
        let handle = tokio::spawn(driver.run(first).instrument(span));
        Ok(RealtimeStream {
            rx,
            batch: VecDeque::new(),
            watermark: Watermark::default(),
            shared,
            counters,
            workspace: self.workspace,
            finished: false,
            started_at_tail,
            _driver: AbortOnDrop::new(handle),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync + Unpin + 'static>() {}
        check::<RealtimeStream>();
        check::<Committer>();
        check::<RealtimeItem>();
        check::<Error>();
        check::<RealtimeStreamBuilder>();
        check::<crate::BackoffPolicy>();
        check::<crate::HeartbeatPolicy>();
        check::<crate::RealtimeOptions>();
        check::<crate::Stats>();
        check::<crate::ConnectionState>();
        check::<crate::ResyncReason>();
        check::<crate::ReconnectCause>();
        check::<crate::AuthMode>();
        check::<crate::Backfill>();
        check::<crate::CursorStoreError>();
        check::<crate::MemoryCursorStore>();
        check::<crate::FileCursorStore>();
        check::<crate::InvalidUrl>();
    }

    #[test]
    fn errors_are_std_errors_with_their_source() {
        let api = clickclack_client::Error::new(clickclack_client::ErrorKind::Unauthorized);
        let err: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Api(api));
        assert!(err.source().is_some(), "the client error is the source");
    }
}
