//! One account, from start to stop, as a state machine.
//!
//! 1. [`AccountState::Starting`]: build the REST client, resolve the
//!    workspace ([`crate::resolve::resolve_workspace`]) while reading the
//!    bot identity (`GET /api/me`), claiming it — a second account on the
//!    same bot stops here — and syncing the command menu. Transient
//!    failures are retried (status `recovering`) until shutdown. Each
//!    request takes a slot of `GatewayOptions::max_startup_requests`, as
//!    does each stream start in step 2. Then wait
//!    until the accounts started with this one have published their menus
//!    too ([`MenuGate`]): each publish reaches every connected socket of
//!    the workspace.
//! 2. [`AccountState::Connecting`]: open the realtime stream after the last
//!    committed cursor (first run: the stored cursor, else the server tail).
//! 3. [`AccountState::Live`]: read events into the per-conversation
//!    [`Scheduler`]; the committed cursor (the contiguous prefix of finished
//!    turns) is saved as it advances. A 4001 resync pages the gap back in
//!    (retried; reported in status and metrics when it cannot be read).
//!    Every wait — the next event, room in the scheduler — is raced with
//!    the intake token, so shutdown is never held up by backpressure.
//! 4. [`AccountState::Backoff`]: after a failed start or a turn that asked
//!    for a replay, wait (jittered, raced with shutdown) and go to 2 from
//!    the committed cursor.
//! 5. [`AccountState::Stopped`]: shutdown, or a fatal error (token rejected,
//!    access revoked, unknown workspace, duplicate bot).
//!
//! At shutdown the session stops taking events, lets running turns finish
//! until the work token is cut (the gateway's grace), commits what finished
//! and returns; unfinished events are replayed on the next start under the
//! same nonces.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_client::{Backoff, Client};
use clickclack_proto::{Cursor, WorkspaceId};
use clickclack_realtime::{
    Backfill, BackoffPolicy, Committer, CursorStore, RealtimeItem, RealtimeStream, ResyncReason,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::GatewayError;
use super::catch_up::Clock;
use super::commands::{MenuCommand, MenuGate, MenuHold, sync_command_menu};
use super::engine::ReplyEngine;
use super::events::{EventAction, classify};
use super::late_links::{LateLinks, UpdateAction};
use super::metrics::AccountMetrics;
use super::pipeline::AccountRuntime;
use super::status::{Lifecycle, StatusBoard};
use crate::accounts::ResolvedAccount;
use crate::outbound::{AccountSender, SendError};
use crate::policy::{BotLoopGuard, InboundPolicy};
use crate::resolve::{ResolveCache, resolve_workspace};
use crate::retry::{Classify, GaveUp, RetryWindow, Transience};
use crate::scheduler::{Scheduler, SchedulerConfig, SubmitError, Submitted};

/// How long running turns get after the work token is cut before they are aborted.
const CUT_GRACE: Duration = Duration::from_secs(1);

/// Which account runs which bot user: the second account to claim a bot
/// user stops, naming both accounts.
#[derive(Debug, Clone, Default)]
pub(crate) struct BotIdentities(Arc<Mutex<HashMap<String, String>>>);

impl BotIdentities {
    /// Claims `bot_user_id` for `account_id`; the account that holds it otherwise.
    fn claim(&self, bot_user_id: &str, account_id: &str) -> Result<(), String> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(bot_user_id) {
            Some(holder) if holder != account_id => Err(holder.clone()),
            _ => {
                map.insert(bot_user_id.to_owned(), account_id.to_owned());
                Ok(())
            }
        }
    }
}

/// The turn settings of one account, fixed before the bot identity is known.
pub(crate) struct TurnSettings {
    pub(crate) policy: InboundPolicy,
    pub(crate) guard: Arc<BotLoopGuard>,
    pub(crate) engine: ReplyEngine,
    pub(crate) history_limit: Option<u32>,
    pub(crate) catch_up_max_age: Duration,
    pub(crate) clock: Clock,
    /// Progress label when the account has no `name` and the bot no handle.
    pub(crate) label_fallback: String,
    pub(crate) turn_slots: Arc<Semaphore>,
    /// Session keys, native commands and per-session state.
    pub(crate) host: Arc<super::host::HostFeatures>,
}

/// What only the start (step 1) needs: dropped once it built the
/// [`AccountRuntime`], so an idle account does not keep it.
pub(crate) struct AccountSetup {
    pub(crate) account: ResolvedAccount,
    pub(crate) turn: TurnSettings,
}

/// Everything one account needs to run.
pub(crate) struct AccountDeps {
    pub(crate) account_id: String,
    /// `reconnectMs`: the base of the reconnect backoff.
    pub(crate) reconnect_ms: u64,
    /// `None` once the start used it.
    pub(crate) setup: Option<Box<AccountSetup>>,
    pub(crate) status: StatusBoard,
    pub(crate) metrics: Arc<AccountMetrics>,
    pub(crate) store: Arc<dyn CursorStore>,
    pub(crate) intake: CancellationToken,
    pub(crate) work: CancellationToken,
    pub(crate) commands: Arc<[MenuCommand]>,
    /// Start requests in flight across the gateway (a slot per request,
    /// never held while waiting to retry).
    pub(crate) startup_slots: Arc<Semaphore>,
    /// Held until this account's menu sync ended (see [`MenuGate`]).
    pub(crate) menu_hold: MenuHold,
    pub(crate) scheduler: SchedulerConfig,
    pub(crate) retry: RetryWindow,
    pub(crate) identities: BotIdentities,
}

/// Where one account is (see the module docs for the steps).
enum AccountState {
    /// 1. Resolving workspace and identity.
    Starting,
    /// 2. Opening the realtime stream after `after` (`None`: the stored cursor).
    Connecting {
        runtime: Arc<AccountRuntime>,
        after: Option<Cursor>,
        attempt: u32,
    },
    /// 3. Events flowing.
    Live {
        runtime: Arc<AccountRuntime>,
        stream: Box<RealtimeStream>,
    },
    /// 4. Waiting before connecting again.
    Backoff {
        runtime: Arc<AccountRuntime>,
        after: Option<Cursor>,
        attempt: u32,
    },
    /// 5. Done.
    Stopped(Result<(), GatewayError>),
}

/// How a live session ended.
enum SessionEnd {
    /// Shutdown; everything that finished is committed.
    Shutdown,
    /// A turn asked for a replay: connect again from the committed cursor.
    Replay(Option<Cursor>),
    /// The account cannot go on.
    Fatal(GatewayError),
}

/// How often an account's committed cursor is written to the state backend
/// while events flow, at the least (a quiet account's first commit is
/// written at once, and shutdown writes the last one); each account adds its
/// own share of [`CURSOR_FLUSH_SPREAD`] ([`cursor_flush_interval`]), so at
/// most 3 s. A crash reads at most one interval of the log again; those
/// events are backlog, so their replies are found by nonce before any model
/// call and nothing is answered twice or skipped: the price of a longer
/// interval is one lookup per event re-read after a crash.
///
/// Longer than the stream's 200 ms default because a write (temporary file,
/// `fsync`, rename, directory `fsync`) costs about a millisecond of CPU on
/// this machine, most of it ext4 allocating the new file's inode: with 100
/// busy accounts (`cargo xtask bench --only gateway`), writing every 1–1.5 s
/// cost about 60 µs of CPU per reply (~494 µs per reply against ~431 µs
/// with 5–7.5 s, the minimal client loop ~380 µs); every 2–3 s costs about
/// half of that.
const CURSOR_FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// The most an account's flush interval exceeds [`CURSOR_FLUSH_INTERVAL`].
///
/// A busy account writes its cursor at the end of each interval, timed from
/// its previous write, so accounts that got their first message together
/// (every account of a gateway under a burst, or a bench) would write
/// together forever: with 100 busy accounts, 100 writes and `fsync`s every
/// second within a few milliseconds, on up to 16 blocking threads at once
/// against 2 cores (the profile showed all of the blocking threads' samples
/// in one 100 ms slice of each second), stalled every turn of the gateway
/// for tens of milliseconds: the gateway's paced p99 in
/// `cargo xtask bench --only gateway` was 11.8 ms against the minimal
/// loop's 6.0 ms, and 1.6–2.6 ms (minimal 1.2–5.4 ms) once spread.
/// Different intervals drift apart within a few seconds, so the writes
/// spread over the whole interval.
const CURSOR_FLUSH_SPREAD: Duration = Duration::from_secs(1);

/// The flush interval of the account whose cursor key is `key`:
/// [`CURSOR_FLUSH_INTERVAL`] plus a share of [`CURSOR_FLUSH_SPREAD`] taken
/// from a hash of the key (the same key always gets the same interval, so a
/// restart changes nothing about the crash bound).
fn cursor_flush_interval(key: &str) -> Duration {
    use std::hash::{Hash as _, Hasher as _};
    // SipHash with fixed keys: stable across runs of one build.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    let steps = u64::try_from(CURSOR_FLUSH_SPREAD.as_millis()).unwrap_or(u64::MAX);
    CURSOR_FLUSH_INTERVAL + Duration::from_millis(hasher.finish() % steps.max(1))
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

    /// Follows a re-anchored stream: when the anchor sorts before what was
    /// already submitted (a cursor ahead of the server, e.g. after the server
    /// was restored from an older backup), later events must not be dropped
    /// as "already submitted", so the position moves back to the anchor.
    fn follow_anchor(&mut self, anchor: &Cursor) {
        if self
            .last_submitted
            .as_ref()
            .is_some_and(|last| anchor < last)
        {
            self.last_submitted = Some(anchor.clone());
        }
    }

    fn extend_catch_up(&mut self, until: Option<Cursor>) {
        if let Some(until) = until
            && self.catch_up_until.as_ref().is_none_or(|old| &until > old)
        {
            self.catch_up_until = Some(until);
        }
    }
}

/// Records `cursor` as committed on the stream (logged when persisting failed).
async fn commit_logged(account_id: &str, committer: &Committer, cursor: &Cursor) {
    if let Err(e) = committer.commit(cursor).await {
        tracing::warn!(account = %account_id, error = %e, "[{account_id}] ClickClack cursor commit failed");
    }
}

/// The server's current tail (best effort, bounded), marking where the backlog ends.
async fn server_tail(client: &Client, workspace: &WorkspaceId) -> Option<Cursor> {
    let page = tokio::time::timeout(
        Duration::from_secs(10),
        client.events_page(workspace, None, Some(1), true),
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

impl Classify for clickclack_realtime::Error {
    fn transience(&self) -> Transience {
        match self {
            clickclack_realtime::Error::Api(e) => e.transience(),
            _ => Transience::Permanent,
        }
    }
}

impl AccountDeps {
    fn id(&self) -> &str {
        &self.account_id
    }

    /// Runs one start request (REST call or stream start) in a slot of
    /// `GatewayOptions::max_startup_requests`.
    async fn startup_request<T>(&self, request: impl Future<Output = T>) -> T {
        // The semaphore is never closed.
        let _slot = self.startup_slots.acquire().await.ok();
        request.await
    }

    /// The account's reconnect backoff (`reconnectMs` base, 30 s cap).
    fn backoff(&self) -> Backoff {
        let base = Duration::from_millis(self.reconnect_ms)
            .max(self.retry.backoff().base())
            .max(Duration::from_millis(1));
        Backoff::new(base, Duration::from_secs(30))
    }

    /// Runs the account until shutdown or a fatal error.
    ///
    /// Memory: this future lives as long as the account, so its size is paid
    /// per account even when idle. `self` comes boxed because an `async fn`
    /// keeps its arguments twice in its state (the argument and the body's
    /// binding of it): a box is two pointers, the deps themselves are about
    /// 2 KiB. Each state's future is boxed (the idle account holds only the
    /// session's), and inside the session every step but the wait for the
    /// next event (a turn, a submit, a gap catch-up, the final drain) is
    /// boxed too, so it takes heap only while it runs.
    pub(crate) async fn run(mut self: Box<Self>) -> Result<(), GatewayError> {
        let mut state = AccountState::Starting;
        loop {
            state = match state {
                AccountState::Starting => Box::pin(self.start()).await,
                AccountState::Connecting {
                    runtime,
                    after,
                    attempt,
                } => Box::pin(self.connect(runtime, after, attempt)).await,
                AccountState::Live { runtime, stream } => {
                    match Box::pin(self.session(stream, &runtime)).await {
                        SessionEnd::Shutdown => AccountState::Stopped(Ok(())),
                        SessionEnd::Fatal(e) => AccountState::Stopped(Err(e)),
                        SessionEnd::Replay(after) => {
                            self.status.set(
                                self.id(),
                                Lifecycle::Recovering,
                                Some(
                                    "an event must be replayed; restarting the event stream"
                                        .to_owned(),
                                ),
                            );
                            AccountState::Backoff {
                                runtime,
                                after,
                                attempt: 0,
                            }
                        }
                    }
                }
                AccountState::Backoff {
                    runtime,
                    after,
                    attempt,
                } => {
                    let delay = self.backoff().delay(attempt);
                    match self
                        .intake
                        .run_until_cancelled(tokio::time::sleep(delay))
                        .await
                    {
                        Some(()) => AccountState::Connecting {
                            runtime,
                            after,
                            attempt: attempt.saturating_add(1),
                        },
                        None => AccountState::Stopped(Ok(())),
                    }
                }
                AccountState::Stopped(result) => return result,
            };
        }
    }

    /// Runs a startup request, retrying transient failures until shutdown
    /// (status `recovering`). `Ok(None)` when shutdown began.
    async fn retrying<T, F, Fut>(&self, what: &str, op: F) -> Result<Option<T>, GatewayError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, SendError>>,
    {
        let window = RetryWindow::new(Duration::MAX).with_backoff(self.backoff());
        let (op, this) = (&op, self);
        let result = window
            .run(&self.intake, move |_| {
                let call = op();
                async move {
                    let result = call.await;
                    if let Err(e) = &result
                        && e.transience().is_transient()
                    {
                        let message = format!("{what} failed; retrying: {e}");
                        this.status
                            .set(this.id(), Lifecycle::Recovering, Some(message));
                        // Retrying: the others need not wait for this account.
                        this.menu_hold.release();
                    }
                    result
                }
            })
            .await;
        match result {
            Ok(v) => Ok(Some(v)),
            Err(GaveUp::Cancelled) => Ok(None),
            Err(GaveUp::Permanent(e) | GaveUp::WindowClosed(e)) => Err(match e {
                SendError::ClickClack(c) => GatewayError::Config(c),
                SendError::Api(source) => GatewayError::Api {
                    account_id: self.id().to_owned(),
                    what: what.to_owned(),
                    source,
                },
                other => GatewayError::Startup {
                    account_id: self.id().to_owned(),
                    message: format!("{what} failed: {other}"),
                },
            }),
        }
    }

    /// 1. Workspace, identity, command menu; builds the turn runtime.
    async fn start(&mut self) -> AccountState {
        let started = self.start_inner().await;
        self.menu_hold.release();
        if let Ok(Some(_)) = &started {
            let gate: &MenuGate = self.menu_hold.gate();
            if self
                .intake
                .run_until_cancelled(gate.all_published())
                .await
                .is_none()
            {
                return AccountState::Stopped(Ok(()));
            }
        }
        match started {
            Ok(Some(runtime)) => AccountState::Connecting {
                runtime,
                after: None,
                attempt: 0,
            },
            Ok(None) => AccountState::Stopped(Ok(())),
            Err(e) => AccountState::Stopped(Err(e)),
        }
    }

    async fn start_inner(&mut self) -> Result<Option<Arc<AccountRuntime>>, GatewayError> {
        let account_id = self.id().to_owned();
        // Taken: what the runtime needs moves into it, the rest is dropped.
        let Some(setup) = self.setup.take() else {
            return Err(GatewayError::Startup {
                account_id,
                message: "the account was already started once (internal error)".to_owned(),
            });
        };
        let AccountSetup { account, turn } = *setup;
        account.require_configured()?;
        let tls = account
            .tls_settings(&crate::config::ProcessEnv)
            .map_err(|message| crate::errors::ClickClackError::TlsSetup { message })?;
        let client = Client::builder(account.api_endpoint.clone())
            .token(account.token.expose_secret().to_owned())
            .tls(tls)
            .build()
            .map_err(|source| GatewayError::Api {
                account_id: account_id.clone(),
                what: "client setup".to_owned(),
                source,
            })?;
        // The workspace lookup runs next to the identity read and the menu
        // sync: three independent requests, one round trip of waiting.
        let workspace_value = account.workspace.clone();
        let lookup = self.retrying("workspace lookup", || {
            self.startup_request(resolve_workspace(&client, &workspace_value))
        });
        let identity = async {
            let Some(me) = self
                .retrying("GET /api/me", || {
                    self.startup_request(async {
                        client.me().await.map_err(SendError::from_client)
                    })
                })
                .await?
            else {
                return Ok(None);
            };
            let bot_user_id = account
                .bot_user_id
                .clone()
                .unwrap_or_else(|| me.id.as_str().to_owned());
            if let Err(other) = self.identities.claim(&bot_user_id, &account_id) {
                return Err(GatewayError::DuplicateBot {
                    first: other,
                    second: account_id.clone(),
                    bot_user_id,
                });
            }
            // Once the bot is ours, before anything is published. It is the
            // bot's own menu, so publishing it while the workspace lookup is
            // still running (or about to fail) changes nothing else.
            self.startup_request(sync_command_menu(
                &client,
                &account_id,
                account.command_menu,
                &self.commands,
            ))
            .await;
            Ok(Some((me, bot_user_id)))
        };
        let (workspace, identity) = tokio::join!(lookup, identity);
        let (Some(workspace), Some((me, bot_user_id))) = (workspace?, identity?) else {
            return Ok(None);
        };
        let bot_handle = Some(me.handle.clone()).filter(|h| !h.trim().is_empty());
        self.status.update(&account_id, |s| {
            s.workspace_id = Some(workspace.as_str().to_owned());
            s.bot_user_id = Some(bot_user_id.clone());
        });

        let progress_label = account
            .name
            .clone()
            .or_else(|| bot_handle.clone())
            .unwrap_or(turn.label_fallback);
        let sender = AccountSender::new(client.clone(), &account, Arc::new(ResolveCache::new()))
            .with_workspace_id(&workspace);
        Ok(Some(Arc::new(AccountRuntime {
            account_id,
            client,
            sender,
            workspace_id: workspace,
            bot_user_id,
            bot_handle,
            progress_label: Some(progress_label),
            policy: turn.policy,
            guard: turn.guard,
            engine: turn.engine,
            response_prefix: account.response_prefix.clone(),
            history_limit: turn.history_limit,
            native_progress: account.native_progress,
            catch_up_max_age: turn.catch_up_max_age,
            clock: turn.clock,
            metrics: Arc::clone(&self.metrics),
            intake: self.intake.clone(),
            work: self.work.clone(),
            retry: self.retry,
            turn_slots: turn.turn_slots,
            host: turn.host,
            links: LateLinks::new(),
        })))
    }

    /// 2. Opens the stream; a transient failure goes to [`AccountState::Backoff`].
    async fn connect(
        &self,
        runtime: Arc<AccountRuntime>,
        after: Option<Cursor>,
        attempt: u32,
    ) -> AccountState {
        let account_id = self.id();
        let workspace = runtime.workspace_id.clone();
        let key = format!("{account_id}.{workspace}");
        let flush_interval = cursor_flush_interval(&key);
        let mut builder = RealtimeStream::builder(runtime.client.clone(), workspace.clone())
            .cursor_store(Arc::clone(&self.store))
            .cursor_key(key)
            .backoff(BackoffPolicy::default().with_base(Duration::from_millis(self.reconnect_ms)))
            .cursor_flush_interval(flush_interval);
        if let Some(c) = &after {
            builder = builder.start_after(c.clone());
        }
        let started = match self
            .intake
            .run_until_cancelled(self.startup_request(builder.start()))
            .await
        {
            None => return AccountState::Stopped(Ok(())),
            Some(started) => started,
        };
        match started {
            Ok(stream) => AccountState::Live {
                runtime,
                stream: Box::new(stream),
            },
            Err(e) if e.transience().is_transient() => {
                self.status.set(
                    account_id,
                    Lifecycle::Recovering,
                    Some(format!("realtime start failed; retrying: {e}")),
                );
                AccountState::Backoff {
                    runtime,
                    after,
                    attempt,
                }
            }
            Err(source) => AccountState::Stopped(Err(GatewayError::Realtime {
                account_id: account_id.to_owned(),
                source,
            })),
        }
    }

    /// Step 3: reads the stream into the scheduler until shutdown, a
    /// replay request, or a fatal error; then drains and commits.
    async fn session(
        &self,
        // Boxed: an `async fn` keeps its arguments twice (see `run`).
        mut stream: Box<RealtimeStream>,
        runtime: &Arc<AccountRuntime>,
    ) -> SessionEnd {
        let account_id = self.id().to_owned();
        // Commits go to the stream from the task that finished the event (a
        // turn's worker, or this loop for events without work): the stream
        // records them in memory and flushes coalesced. No task is woken
        // just to pass a cursor on, and a flush that does write (the first
        // commit after a quiet interval) holds up that conversation's next
        // turn, not the reading of every conversation's events.
        let committer = stream.committer();
        let hook_account = account_id.clone();
        let scheduler: Scheduler<Cursor> = Scheduler::with_commit_hook(
            self.scheduler,
            stream.committed_cursor(),
            move |cursor: Cursor| {
                let committer = committer.clone();
                let account_id = hook_account.clone();
                async move { commit_logged(&account_id, &committer, &cursor).await }
            },
        );
        // 3. Events up to the server's tail are backlog. A stream that just
        // anchored at the tail already knows it: no second request.
        let catch_up_until = if stream.started_at_tail() {
            stream.committed_cursor()
        } else {
            Box::pin(server_tail(&runtime.client, &runtime.workspace_id)).await
        };
        let mut pos = Position {
            last_submitted: stream.committed_cursor(),
            catch_up_until,
        };
        let mut connected_once = false;
        let end = loop {
            // Scoped so that only the boxed handler, not the item (about
            // 400 bytes) or the select's futures, is held across its await:
            // the session's future is paid per idle account.
            let handled = {
                // `next_event` is cancel-safe: losing the race to a replay
                // request drops no event.
                let next = tokio::select! {
                    biased;
                    () = scheduler.replay_requested() => None,
                    next = self.intake.run_until_cancelled(stream.next_event()) => Some(next),
                };
                let Some(next) = next else {
                    tracing::info!(account = %account_id, "[{account_id}] a conversation with deferred events drained; reading again from the committed cursor");
                    break SessionEnd::Replay(None);
                };
                let Some(item) = next else {
                    break SessionEnd::Shutdown;
                };
                let Some(item) = item else {
                    break SessionEnd::Fatal(GatewayError::StreamEnded {
                        account_id: account_id.clone(),
                    });
                };
                // Boxed, like every step that is not the idle wait (see `run`).
                Box::pin(self.on_item(item, &scheduler, runtime, &mut pos, &mut connected_once))
            };
            match handled.await {
                Ok(Ok(())) => {}
                Ok(Err(SubmitError::Halted)) => break SessionEnd::Replay(None),
                Ok(Err(_)) => break SessionEnd::Shutdown,
                Err(end) => break end,
            }
        };
        // Boxed: the drain runs once, at the end (see `run`).
        Box::pin(async move {
            // Stop taking events; running turns finish unless the work token is cut.
            scheduler.close();
            tokio::select! {
                () = scheduler.wait_idle() => {}
                () = self.work.cancelled() => {
                    if tokio::time::timeout(CUT_GRACE, scheduler.wait_idle()).await.is_err() {
                        tracing::warn!(account = %account_id, "[{account_id}] in-flight replies did not finish in time; they will be replayed after restart");
                        scheduler.abort();
                    }
                }
            }
            // Every hook has run (`wait_idle` waits for them); after an
            // abort, the cursor of what finished before it.
            let committed = scheduler.committed();
            if let Some(cursor) = &committed {
                commit_logged(&account_id, &stream.committer(), cursor).await;
            }
            // Commits are written coalesced; write the last one before leaving.
            if let Err(e) = stream.flush().await {
                tracing::warn!(account = %account_id, error = %e, "[{account_id}] ClickClack cursor flush failed");
            }
            drop(stream);
            match end {
                SessionEnd::Replay(_) => SessionEnd::Replay(committed),
                other => other,
            }
        })
        .await
    }

    /// Handles one stream item: an event goes to the scheduler, a
    /// (re)connection or resync updates the position and status. `Err`: the
    /// session ends.
    async fn on_item(
        &self,
        item: Result<RealtimeItem, clickclack_realtime::Error>,
        scheduler: &Scheduler<Cursor>,
        runtime: &Arc<AccountRuntime>,
        pos: &mut Position,
        connected_once: &mut bool,
    ) -> Result<Result<(), SubmitError>, SessionEnd> {
        let account_id = self.id();
        Ok(match item {
            Ok(RealtimeItem::Event(event)) => {
                if !event.is_durable() {
                    return Ok(Ok(()));
                }
                AccountMetrics::bump(&self.metrics.events);
                self.submit(scheduler, runtime, pos, event).await
            }
            Ok(RealtimeItem::Connected { .. }) => {
                if *connected_once {
                    // A reconnect replays what arrived meanwhile: that is backlog too.
                    let tail = server_tail(&runtime.client, &runtime.workspace_id).await;
                    pos.extend_catch_up(tail);
                }
                *connected_once = true;
                self.status.set(account_id, Lifecycle::Ready, None);
                Ok(())
            }
            Ok(RealtimeItem::Reconnecting { attempt, cause, .. }) => {
                AccountMetrics::bump(&self.metrics.reconnects);
                let message = format!("ClickClack websocket error; reconnecting: {cause}");
                tracing::warn!(account = %account_id, attempt, "[{account_id}] {message}");
                self.status
                    .set(account_id, Lifecycle::Recovering, Some(message));
                Ok(())
            }
            Ok(RealtimeItem::Resync {
                reason,
                previous,
                anchor,
                ..
            }) => {
                AccountMetrics::bump(&self.metrics.resyncs);
                if let ResyncReason::CursorLost { location, .. } = &reason {
                    AccountMetrics::bump(&self.metrics.gaps_skipped);
                    let message = format!(
                        "cursor {location} was lost; started at the server's tail, so messages that arrived while the gateway was down are not answered"
                    );
                    tracing::error!(account = %account_id, anchor = %anchor, "[{account_id}] ClickClack {message}");
                } else {
                    tracing::warn!(account = %account_id, anchor = %anchor,
                        "[{account_id}] ClickClack realtime resync: {reason}; catching up the gap over HTTP");
                }
                pos.follow_anchor(&anchor);
                self.catch_up_gap(scheduler, runtime, pos, previous, anchor)
                    .await
            }
            Ok(_) => Ok(()),
            Err(clickclack_realtime::Error::MalformedFrame { reason, .. }) => {
                tracing::warn!(account = %account_id, reason = %reason, "[{account_id}] skipped malformed ClickClack websocket event");
                Ok(())
            }
            Err(clickclack_realtime::Error::AccessRevoked { code, reason, .. }) => {
                return Err(SessionEnd::Fatal(GatewayError::AccessRevoked {
                    account_id: account_id.to_owned(),
                    code,
                    reason,
                }));
            }
            Err(source) => {
                return Err(SessionEnd::Fatal(GatewayError::Realtime {
                    account_id: account_id.to_owned(),
                    source,
                }));
            }
        })
    }

    /// Hands one durable event to the scheduler (waiting for room, raced with shutdown).
    async fn submit(
        &self,
        scheduler: &Scheduler<Cursor>,
        runtime: &Arc<AccountRuntime>,
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
        let submitted = match classify(&event, &runtime.bot_user_id) {
            EventAction::Turn(mut inbound) => {
                inbound.catch_up = pos.is_catch_up(&cursor);
                let key = inbound.conversation.clone();
                // Boxed: a turn's future is large and must not be part of
                // the idle account's future (see `run`).
                let job = Box::pin(Arc::clone(runtime).run_turn(inbound));
                let submitted = self
                    .intake
                    .run_until_cancelled(scheduler.submit(cursor.clone(), key.clone(), job))
                    .await;
                if let Some(Ok(Submitted::Deferred(_))) = submitted {
                    AccountMetrics::bump(&self.metrics.deferred);
                    tracing::debug!(account = %self.id(), cursor = %cursor, conversation = %key,
                        "conversation queue full; event deferred until it drains");
                }
                submitted.map(|s| s.map(Submitted::ticket))
            }
            EventAction::Updated(message_id) => match runtime.links.updated(&message_id) {
                UpdateAction::Check(key) => {
                    let job = Arc::clone(runtime).check_late_link(message_id);
                    self.intake
                        .run_until_cancelled(scheduler.submit(cursor.clone(), key, job))
                        .await
                        .map(|s| s.map(Submitted::ticket))
                }
                UpdateAction::Coalesced | UpdateAction::Ignore => {
                    self.intake
                        .run_until_cancelled(scheduler.submit_completed(cursor.clone()))
                        .await
                }
            },
            EventAction::OwnMessage | EventAction::Ignore => {
                self.intake
                    .run_until_cancelled(scheduler.submit_completed(cursor.clone()))
                    .await
            }
        };
        submitted.ok_or(SubmitError::Closed)??;
        pos.last_submitted = Some(cursor);
        Ok(())
    }

    /// After a 4001 resync: pages the gap the server still retains and feeds
    /// it through the scheduler (old messages are skipped by `catchUpMaxAge`).
    /// A page that keeps failing is retried in the window; then the gap is
    /// skipped, logged, counted and shown in the status.
    async fn catch_up_gap(
        &self,
        scheduler: &Scheduler<Cursor>,
        runtime: &Arc<AccountRuntime>,
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
            let gap = tokio::sync::Mutex::new(
                Backfill::new(runtime.client.clone(), runtime.workspace_id.clone(), from)
                    .until(anchor.clone()),
            );
            let gap = &gap;
            loop {
                let page = self
                    .retry
                    .run(&self.intake, move |attempt| {
                        async move {
                            let page = gap.lock().await.next_page().await;
                            if let Err(e) = &page {
                                tracing::warn!(account = %account_id, attempt, error = %e, "[{account_id}] ClickClack resync backfill failed");
                            }
                            page
                        }
                    })
                    .await;
                match page {
                    Ok(Some(page)) => {
                        for event in page {
                            AccountMetrics::bump(&self.metrics.events);
                            self.submit(scheduler, runtime, pos, event).await?;
                        }
                    }
                    Ok(None) => break,
                    Err(GaveUp::Cancelled) => return Err(SubmitError::Closed),
                    Err(GaveUp::Permanent(e) | GaveUp::WindowClosed(e)) => {
                        AccountMetrics::bump(&self.metrics.gaps_skipped);
                        let message = format!(
                            "resync gap after {} could not be read back and was skipped: {e}",
                            gap.lock().await.position()
                        );
                        tracing::error!(account = %account_id, "[{account_id}] ClickClack {message}");
                        self.status
                            .update(account_id, |s| s.last_error = Some(message));
                        break;
                    }
                }
            }
        }
        if pos
            .last_submitted
            .as_ref()
            .is_none_or(|last| &anchor > last)
        {
            self.intake
                .run_until_cancelled(scheduler.submit_completed(anchor.clone()))
                .await
                .ok_or(SubmitError::Closed)??;
            pos.last_submitted = Some(anchor);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_intervals_stay_in_the_bound_and_spread_across_accounts() {
        let bound = CURSOR_FLUSH_INTERVAL + CURSOR_FLUSH_SPREAD;
        // Keys shaped like the gateway's (`<account>.<workspace>`).
        let intervals: Vec<Duration> = (0..100)
            .map(|i| cursor_flush_interval(&format!("a{i}.wsp_{i:04}")))
            .collect();
        for interval in &intervals {
            assert!(*interval >= CURSOR_FLUSH_INTERVAL && *interval < bound);
        }
        // The same key always gets the same interval (a restart keeps it).
        assert_eq!(cursor_flush_interval("a7.wsp_0007"), intervals[7]);
        // Spread over the whole range: no two halves of it are empty, and
        // the accounts do not share a handful of values.
        let (min, max) = (intervals.iter().min(), intervals.iter().max());
        let spread = max
            .zip(min)
            .map(|(max, min)| *max - *min)
            .unwrap_or_default();
        assert!(spread > CURSOR_FLUSH_SPREAD * 3 / 4, "spread {spread:?}");
        let mut distinct = intervals.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 50, "{} distinct intervals", distinct.len());
    }
}
