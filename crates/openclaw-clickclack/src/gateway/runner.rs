//! One account, from start to stop.
//!
//! Startup order (reference row 19): resolve the account → REST client on
//! `apiEndpoint` → workspace → `GET /api/me` (bot id and handle) → command
//! menu sync → realtime stream (stored cursor, or the server tail). Then the
//! event loop feeds the per-conversation [`Scheduler`]; the committed cursor
//! (the contiguous prefix of finished events) is persisted as it advances.
//!
//! Transient REST failures (startup, message fetch, sends, resync backfill)
//! are retried with backoff and never stop the account; a rejected token, a
//! 1008 close (access revoked) or an unknown workspace do.

use std::sync::Arc;
use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::{Cursor, WorkspaceId};
use clickclack_realtime::{Backfill, BackoffPolicy, CursorStore, RealtimeItem, RealtimeStream};
use tokio::sync::watch;

use super::GatewayError;
use super::commands::{MenuCommand, sync_command_menu};
use super::events::{EventAction, classify};
use super::metrics::AccountMetrics;
use super::status::{Lifecycle, StatusBoard};
use super::turn::{AccountRuntime, backoff_or_shutdown, is_transient};
use crate::accounts::ResolvedAccount;
use crate::errors::ClickClackError;
use crate::scheduler::{Scheduler, SchedulerConfig, SubmitError};

/// What the account runner needs besides its [`AccountRuntime`] parts.
pub(crate) struct RunnerContext {
    pub(crate) account: ResolvedAccount,
    pub(crate) status: StatusBoard,
    pub(crate) metrics: Arc<AccountMetrics>,
    pub(crate) store: Arc<dyn CursorStore>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) commands: Vec<MenuCommand>,
    pub(crate) scheduler: SchedulerConfig,
    pub(crate) shutdown_grace: Duration,
    pub(crate) retry_base: Duration,
    /// Builds the runtime once the workspace and bot identity are known.
    pub(crate) make_runtime:
        Option<Box<dyn FnOnce(RuntimeIdentity) -> AccountRuntime + Send + Sync>>,
}

/// What startup learned.
pub(crate) struct RuntimeIdentity {
    pub(crate) client: Client,
    pub(crate) workspace_id: String,
    pub(crate) bot_user_id: String,
    pub(crate) bot_handle: Option<String>,
}

/// Where a session is in the event log.
struct Position {
    /// The last cursor handed to the scheduler.
    last_submitted: Option<Cursor>,
    /// Events up to this cursor are backlog (catch-up): `catchUpMaxAge`
    /// applies to them. Later events are live and never skipped by age, so a
    /// server clock that differs from ours cannot silence the bot. `None`
    /// (tail unknown): the limit applies to every event.
    catch_up_until: Option<Cursor>,
}

impl Position {
    fn is_catch_up(&self, cursor: &Cursor) -> bool {
        self.catch_up_until
            .as_ref()
            .is_none_or(|until| cursor <= until)
    }

    fn extend_catch_up(&mut self, until: Option<Cursor>) {
        if let Some(until) = until
            && self.catch_up_until.as_ref().is_none_or(|old| &until > old)
        {
            self.catch_up_until = Some(until);
        }
    }
}

/// The server's current tail (best effort, bounded), marking where the backlog ends.
async fn server_tail(client: &Client, workspace: &str) -> Option<Cursor> {
    let workspace = WorkspaceId::new(workspace);
    let page = tokio::time::timeout(
        Duration::from_secs(10),
        client.events_page(&workspace, None, Some(1), true),
    )
    .await
    .ok()?
    .ok()?;
    page.tail_cursor
        .filter(|c| !c.as_str().is_empty())
        .or_else(|| {
            page.events
                .iter()
                .rev()
                .find(|e| e.is_durable())
                .map(|e| e.cursor().clone())
        })
}

/// How an event session ended.
enum SessionEnd {
    /// Shutdown requested; everything committed that could be.
    Shutdown,
    /// A turn asked for a replay: start a new session from the committed cursor.
    Replay(Option<Cursor>),
}

impl RunnerContext {
    fn id(&self) -> &str {
        &self.account.account_id
    }

    fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Jittered exponential wait; `false` when shutdown began.
    async fn backoff(&self, attempt: u32) -> bool {
        let base = Duration::from_millis(self.account.reconnect_ms).max(self.retry_base);
        backoff_or_shutdown(base, attempt, &self.shutdown).await
    }

    /// Runs a startup REST step, retrying transient failures (status `recovering`).
    /// `Ok(None)` when shutdown began while retrying.
    async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> Result<Option<T>, GatewayError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, clickclack_client::Error>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(Some(v)),
                Err(e) if is_transient(&e) => {
                    attempt += 1;
                    let message = format!("{what} failed; retrying: {e}");
                    self.status
                        .set(self.id(), Lifecycle::Recovering, Some(message));
                    if !self.backoff(attempt).await {
                        return Ok(None);
                    }
                }
                Err(source) => {
                    return Err(GatewayError::Api {
                        account_id: self.id().to_owned(),
                        what: what.to_owned(),
                        source,
                    });
                }
            }
        }
    }

    async fn resolve_workspace(
        &self,
        client: &Client,
    ) -> Result<Option<WorkspaceId>, GatewayError> {
        let wanted = self.account.workspace.trim().to_owned();
        if wanted.starts_with("wsp_") {
            return Ok(Some(WorkspaceId::new(wanted)));
        }
        let Some(all) = self
            .retrying("workspace lookup", || client.list_workspaces())
            .await?
        else {
            return Ok(None);
        };
        // Row 8: first exact (case-sensitive) match on id, slug or name.
        match all
            .into_iter()
            .find(|w| w.id.as_str() == wanted || w.slug == wanted || w.name == wanted)
        {
            Some(w) => Ok(Some(w.id)),
            None => Err(GatewayError::Config(ClickClackError::WorkspaceNotFound {
                value: wanted,
            })),
        }
    }

    /// Runs the account until shutdown or a fatal error.
    pub(crate) async fn run(mut self) -> Result<(), GatewayError> {
        self.account.require_configured()?;
        let account_id = self.id().to_owned();
        let client = Client::builder(self.account.api_endpoint.clone())
            .token(self.account.token.expose_secret().to_owned())
            .build()
            .map_err(|source| GatewayError::Api {
                account_id: account_id.clone(),
                what: "client setup".to_owned(),
                source,
            })?;
        let Some(workspace) = self.resolve_workspace(&client).await? else {
            return Ok(());
        };
        let client_ws = client.clone();
        let Some(me) = self.retrying("GET /api/me", || client_ws.me()).await? else {
            return Ok(());
        };
        let bot_user_id = self
            .account
            .bot_user_id
            .clone()
            .unwrap_or_else(|| me.id.as_str().to_owned());
        let bot_handle = Some(me.handle.clone()).filter(|h| !h.trim().is_empty());
        self.status.update(&account_id, |s| {
            s.workspace_id = Some(workspace.as_str().to_owned());
            s.bot_user_id = Some(bot_user_id.clone());
        });
        // Row 39: before anything else is published.
        sync_command_menu(
            &client,
            &account_id,
            self.account.command_menu,
            &self.commands,
        )
        .await;

        let Some(make_runtime) = self.make_runtime.take() else {
            return Ok(());
        };
        let runtime = Arc::new(make_runtime(RuntimeIdentity {
            client: client.clone(),
            workspace_id: workspace.as_str().to_owned(),
            bot_user_id: bot_user_id.clone(),
            bot_handle,
        }));

        let mut start_after: Option<Cursor> = None;
        let mut attempt = 0u32;
        loop {
            let stream = match self
                .open_stream(&client, &workspace, start_after.clone())
                .await?
            {
                Some(s) => s,
                None => return Ok(()),
            };
            match self.session(stream, &runtime, &bot_user_id).await? {
                SessionEnd::Shutdown => return Ok(()),
                SessionEnd::Replay(committed) => {
                    attempt += 1;
                    start_after = committed;
                    self.status.set(
                        &account_id,
                        Lifecycle::Recovering,
                        Some("an event must be replayed; restarting the event stream".to_owned()),
                    );
                    if !self.backoff(attempt).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn open_stream(
        &self,
        client: &Client,
        workspace: &WorkspaceId,
        start_after: Option<Cursor>,
    ) -> Result<Option<RealtimeStream>, GatewayError> {
        let account_id = self.id();
        let mut attempt = 0;
        loop {
            let mut builder = RealtimeStream::builder(client.clone(), workspace.clone())
                .cursor_store(Arc::clone(&self.store))
                .cursor_key(format!("{account_id}.{workspace}"))
                .backoff(BackoffPolicy {
                    base: Duration::from_millis(self.account.reconnect_ms),
                    ..BackoffPolicy::default()
                });
            if let Some(c) = &start_after {
                builder = builder.start_after(c.clone());
            }
            match builder.start().await {
                Ok(stream) => return Ok(Some(stream)),
                Err(clickclack_realtime::Error::Api(e)) if is_transient(&e) => {
                    attempt += 1;
                    self.status.set(
                        account_id,
                        Lifecycle::Recovering,
                        Some(format!("realtime start failed; retrying: {e}")),
                    );
                    if !self.backoff(attempt).await {
                        return Ok(None);
                    }
                }
                Err(source) => {
                    return Err(GatewayError::Realtime {
                        account_id: account_id.to_owned(),
                        source,
                    });
                }
            }
        }
    }

    /// Reads the stream into the scheduler until shutdown, a replay request, or a fatal error.
    async fn session(
        &self,
        mut stream: RealtimeStream,
        runtime: &Arc<AccountRuntime>,
        bot_user_id: &str,
    ) -> Result<SessionEnd, GatewayError> {
        let account_id = self.id().to_owned();
        let scheduler: Scheduler<Cursor> =
            Scheduler::new(self.scheduler, stream.committed_cursor());
        let committer = stream.committer();
        let mut committed_rx = scheduler.subscribe_committed();
        let commit_account = account_id.clone();
        let commit_task = tokio::spawn(async move {
            while committed_rx.changed().await.is_ok() {
                let cursor = committed_rx.borrow_and_update().clone();
                if let Some(cursor) = cursor
                    && let Err(e) = committer.commit(&cursor).await
                {
                    tracing::warn!(account = %commit_account, error = %e, "[{commit_account}] ClickClack cursor commit failed");
                }
            }
        });
        let mut pos = Position {
            last_submitted: stream.committed_cursor(),
            catch_up_until: server_tail(&runtime.client, &runtime.workspace_id).await,
        };
        let mut connected_once = false;
        let mut shutdown = self.shutdown.clone();
        let outcome = loop {
            if self.shutting_down() {
                break Ok(SessionEnd::Shutdown);
            }
            let item = tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => break Ok(SessionEnd::Shutdown),
                item = stream.next_event() => item,
            };
            let Some(item) = item else {
                break Err(GatewayError::StreamEnded {
                    account_id: account_id.clone(),
                });
            };
            let submitted = match item {
                Ok(RealtimeItem::Event(event)) => {
                    if !event.is_durable() {
                        continue;
                    }
                    AccountMetrics::bump(&self.metrics.events);
                    self.submit(&scheduler, runtime, bot_user_id, &mut pos, event)
                        .await
                }
                Ok(RealtimeItem::Connected { .. }) => {
                    if connected_once {
                        // A reconnect replays what arrived meanwhile: that is backlog too.
                        let tail = server_tail(&runtime.client, &runtime.workspace_id).await;
                        pos.extend_catch_up(tail);
                    }
                    connected_once = true;
                    self.status.set(&account_id, Lifecycle::Ready, None);
                    Ok(())
                }
                Ok(RealtimeItem::Reconnecting { attempt, cause, .. }) => {
                    AccountMetrics::bump(&self.metrics.reconnects);
                    // Row 22's line; the backoff is the realtime crate's jittered exponential one.
                    let message = format!("ClickClack websocket error; reconnecting: {cause}");
                    tracing::warn!(account = %account_id, attempt, "[{account_id}] {message}");
                    self.status
                        .set(&account_id, Lifecycle::Recovering, Some(message));
                    Ok(())
                }
                Ok(RealtimeItem::Resync {
                    reason,
                    previous,
                    anchor,
                }) => {
                    AccountMetrics::bump(&self.metrics.resyncs);
                    tracing::warn!(account = %account_id, anchor = %anchor,
                        "[{account_id}] ClickClack realtime resync: {reason}; catching up the gap over HTTP");
                    self.catch_up_gap(&scheduler, runtime, bot_user_id, &mut pos, previous, anchor)
                        .await
                }
                Ok(_) => Ok(()),
                Err(clickclack_realtime::Error::MalformedFrame { reason }) => {
                    tracing::warn!(account = %account_id, reason = %reason, "[{account_id}] skipped malformed ClickClack websocket event");
                    Ok(())
                }
                Err(clickclack_realtime::Error::AccessRevoked { code, reason }) => {
                    break Err(GatewayError::AccessRevoked {
                        account_id: account_id.clone(),
                        code,
                        reason,
                    });
                }
                Err(source) => {
                    break Err(GatewayError::Realtime {
                        account_id: account_id.clone(),
                        source,
                    });
                }
            };
            if let Err(SubmitError::Halted) = submitted {
                break Ok(SessionEnd::Replay(None));
            }
            if submitted.is_err() {
                break Ok(SessionEnd::Shutdown);
            }
        };
        // Stop taking events; let running turns finish within the bound.
        scheduler.close();
        if tokio::time::timeout(self.shutdown_grace, scheduler.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(account = %account_id, "[{account_id}] in-flight replies did not finish in time; they will be replayed after restart");
            scheduler.abort();
        }
        let committed = scheduler.committed();
        if let Some(cursor) = &committed
            && let Err(e) = stream.commit(cursor).await
        {
            tracing::warn!(account = %account_id, error = %e, "[{account_id}] ClickClack cursor commit failed");
        }
        commit_task.abort();
        drop(stream);
        match outcome {
            Ok(SessionEnd::Replay(_)) => Ok(SessionEnd::Replay(committed)),
            other => other,
        }
    }

    async fn submit(
        &self,
        scheduler: &Scheduler<Cursor>,
        runtime: &Arc<AccountRuntime>,
        bot_user_id: &str,
        pos: &mut Position,
        event: clickclack_proto::event::Event,
    ) -> Result<(), SubmitError> {
        let cursor = event.cursor().clone();
        if pos
            .last_submitted
            .as_ref()
            .is_some_and(|last| &cursor <= last)
        {
            return Ok(());
        }
        match classify(&event, bot_user_id) {
            EventAction::Turn(mut inbound) => {
                inbound.catch_up = pos.is_catch_up(&cursor);
                let key = inbound.conversation.clone();
                let job = Arc::clone(runtime).run_turn(inbound);
                scheduler.submit(cursor.clone(), key, job).await?;
            }
            EventAction::OwnMessage | EventAction::Ignore => {
                scheduler.submit_completed(cursor.clone()).await?;
            }
        }
        pos.last_submitted = Some(cursor);
        Ok(())
    }

    /// After a 4001 resync: pages the gap the server still retains and feeds
    /// it through the scheduler (old messages are skipped by `catchUpMaxAge`).
    async fn catch_up_gap(
        &self,
        scheduler: &Scheduler<Cursor>,
        runtime: &Arc<AccountRuntime>,
        bot_user_id: &str,
        pos: &mut Position,
        previous: Option<Cursor>,
        anchor: Cursor,
    ) -> Result<(), SubmitError> {
        let account_id = self.id();
        pos.extend_catch_up(Some(anchor.clone()));
        let from = match (previous, pos.last_submitted.clone()) {
            (Some(p), Some(l)) => Some(p.max(l)),
            (p, l) => p.or(l),
        };
        if let Some(from) = from {
            let mut gap = Backfill::new(
                runtime.client.clone(),
                WorkspaceId::new(runtime.workspace_id.clone()),
                from,
            )
            .until(anchor.clone());
            let mut attempt = 0;
            loop {
                match gap.next_page().await {
                    Ok(Some(page)) => {
                        attempt = 0;
                        for event in page {
                            AccountMetrics::bump(&self.metrics.events);
                            self.submit(scheduler, runtime, bot_user_id, pos, event)
                                .await?;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let retry = e.client_error().is_some_and(is_transient);
                        if !retry {
                            tracing::warn!(account = %account_id, error = %e, "[{account_id}] ClickClack resync backfill failed; the gap is skipped");
                            break;
                        }
                        attempt += 1;
                        tracing::warn!(account = %account_id, attempt, error = %e, "[{account_id}] ClickClack resync backfill failed; retrying");
                        if !self.backoff(attempt).await {
                            return Err(SubmitError::Closed);
                        }
                    }
                }
            }
        }
        if pos
            .last_submitted
            .as_ref()
            .is_none_or(|last| &anchor > last)
        {
            scheduler.submit_completed(anchor.clone()).await?;
            pos.last_submitted = Some(anchor);
        }
        Ok(())
    }
}
