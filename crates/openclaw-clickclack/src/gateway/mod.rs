//! The gateway: every enabled account live, every message answered exactly once.
//!
//! [`Gateway::start`] opens one realtime connection per enabled account of a
//! loaded OpenClaw config and answers inbound messages with a model
//! (`replyMode: "model"`) or an agent (`replyMode: "agent"`, the default):
//!
//! - only `message.created` / `thread.reply_created` start a turn; the
//!   message is re-fetched by id, own messages and non-`message` kinds are
//!   dropped, then the inbound policy decides (rows 24–31);
//! - one conversation (a DM, a channel's top level, a thread) is handled in
//!   order, different conversations concurrently (bounded per account);
//! - replies carry a nonce derived from account + source message id + part,
//!   so a replayed event cannot post twice; the cursor is committed only
//!   once every earlier event finished and is persisted per account in the
//!   state directory, so a restart answers what arrived while it was down —
//!   except messages older than `catchUpMaxAge` (default 10 minutes);
//! - status per account: `starting` → `ready` → `recovering` → `stopped`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use openclaw_clickclack::config::{ProcessEnv, load};
//! use openclaw_clickclack::gateway::{Gateway, GatewayOptions};
//!
//! let loaded = load(None, &ProcessEnv)?;
//! let gateway = Gateway::start(&loaded.config, &ProcessEnv, GatewayOptions::default()).await?;
//! for status in gateway.status().all() {
//!     println!("{}", status.line());
//! }
//! gateway.shutdown().await;
//! # Ok(()) }
//! ```

mod account;
mod activity;
pub mod attachments;
pub mod catch_up;
pub mod commands;
pub mod engine;
pub mod envelope;
pub mod events;
mod fleet_metrics;
mod heap;
pub mod host;
mod late_links;
pub mod metrics;
mod pipeline;
pub mod progress;
pub mod session_key;
pub mod status;
pub mod supervisor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clickclack_client::Backoff;
use clickclack_realtime::{CursorStore, FileCursorStore};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use catch_up::{Clock, DEFAULT_CATCH_UP_MAX_AGE};
pub use commands::MenuCommand;
pub use engine::{ReplyEngine, gateway_host_config};
pub use metrics::{AccountMetrics, Metrics};
pub use status::{AccountStatus, Lifecycle, StatusBoard};

use crate::accounts::{ResolvedAccount, list_enabled_accounts, normalize_account_id};
use crate::agent_host::AgentHost;
use crate::config::{EnvSource, OpenClawConfig};
use crate::errors::ClickClackError;
use crate::llm::{LlmError, LlmRuntime};
use crate::policy::{BotLoopGuard, PolicyConfigError};
use crate::retry::{DEFAULT_RETRY_WINDOW, RetryWindow};
use crate::scheduler::SchedulerConfig;
use crate::secrets::SecretError;

use crate::state::{
    FleetSnapshot, LeaseManager, LeaseTimings, ReplicaId, StateBackend, StateError, StateLocation,
};
use account::BotIdentities;
use engine::EngineOverrides;
pub use supervisor::{AccountSpec, SuperviseError, Supervisor};

/// Default number of turns producing a reply at once, across every account.
pub const DEFAULT_MAX_TURNS: usize = 64;

/// Start requests in flight at once by default
/// ([`GatewayOptions::max_startup_requests`]).
///
/// Starting 1,000 accounts without a bound opened over 2,000 connections at
/// once (every request of the burst found the shared pool busy), and their
/// buffers, freed again, left the heap fragmented: 41 KiB per idle account
/// against 36 KiB with 64 requests in flight, in the same start time
/// (`cargo xtask bench --only peer.idle`).
pub const DEFAULT_MAX_STARTUP_REQUESTS: usize = 64;

/// Default bound for finishing in-flight replies at shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The default state directory below the home directory.
pub const DEFAULT_STATE_SUBDIR: &str = ".openclaw/state/clickclack";

/// The default state directory: `~/.openclaw/state/clickclack/`
/// (`$HOME`, else `%USERPROFILE%`, else the current directory).
pub fn default_state_dir(env: &dyn EnvSource) -> PathBuf {
    let home = env
        .var("HOME")
        .or_else(|| env.var("USERPROFILE"))
        .filter(|h| !h.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(DEFAULT_STATE_SUBDIR)
}

/// Why the gateway or one of its accounts could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A ClickClack configuration error (not configured, unknown account, workspace not found).
    #[error(transparent)]
    Config(#[from] ClickClackError),
    /// A token secret could not be resolved.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// No enabled account to run.
    #[error("no enabled ClickClack account to run (configure channels.clickclack)")]
    NoAccounts,
    /// The trust bit is missing for a model-mode `agentId`.
    #[error(
        "ClickClack account \"{account_id}\" refuses to start: model replies for agentId \"{agent_id}\" require plugins.entries.clickclack.llm.allowAgentIdOverride: true"
    )]
    AgentIdOverrideNotAllowed {
        /// Account id.
        account_id: String,
        /// The account's agent id.
        agent_id: String,
    },
    /// A model-mode account without a model.
    #[error(
        "ClickClack account \"{account_id}\" uses replyMode \"model\" but no model is set (set model on the account, or agents.defaults.model.primary)"
    )]
    NoModel {
        /// Account id.
        account_id: String,
    },
    /// An invalid `models.providers` entry.
    #[error("invalid model provider at {path}: {message}")]
    ModelProvider {
        /// Config path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The model or agent client could not be set up.
    #[error("ClickClack account \"{account_id}\": {source}")]
    Llm {
        /// Account id.
        account_id: String,
        /// The cause.
        #[source]
        source: LlmError,
    },
    /// An invalid inbound policy value (e.g. a bad `mentionPatterns` regex).
    #[error(transparent)]
    Policy(#[from] PolicyConfigError),
    /// A REST call failed for good.
    #[error("ClickClack account \"{account_id}\": {what} failed: {source}")]
    Api {
        /// Account id.
        account_id: String,
        /// What was attempted.
        what: String,
        /// The cause.
        #[source]
        source: clickclack_client::Error,
    },
    /// The server closed the realtime socket with 1008.
    #[error(
        "ClickClack account \"{account_id}\" stopped: access revoked by the server (close {code}: {reason}); issue a new bot token or restore the bot's workspace membership. Other accounts keep running."
    )]
    AccessRevoked {
        /// Account id.
        account_id: String,
        /// Close code (1008).
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The realtime stream failed for good.
    #[error("ClickClack account \"{account_id}\" stopped: {source}")]
    Realtime {
        /// Account id.
        account_id: String,
        /// The cause.
        #[source]
        source: clickclack_realtime::Error,
    },
    /// The realtime stream ended unexpectedly.
    #[error("ClickClack account \"{account_id}\" stopped: the realtime stream ended")]
    StreamEnded {
        /// Account id.
        account_id: String,
    },
    /// Two enabled accounts would run the same bot: every message would be answered twice.
    #[error(
        "ClickClack accounts \"{first}\" and \"{second}\" run the same bot user {bot_user_id}: every message would be answered twice. Give each account its own bot token, or disable one of them (channels.clickclack.accounts.<id>.enabled: false)"
    )]
    DuplicateBot {
        /// The account that runs the bot.
        first: String,
        /// The account refused.
        second: String,
        /// The bot user id, or `(same token)` when found before connecting.
        bot_user_id: String,
    },
    /// Another gateway already runs on this state directory.
    #[error(
        "another ClickClack gateway is already running on the state directory {}: stop it first, or give this one its own --state-dir", path.display()
    )]
    StateDirLocked {
        /// The state directory.
        path: PathBuf,
    },
    /// The state directory cannot be created or locked.
    #[error("cannot use the state directory {}: {source}", path.display())]
    StateDir {
        /// The state directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state backend (files or PostgreSQL) cannot be used.
    #[error(transparent)]
    State(StateError),
    /// Invalid lease timings (`--lease-ttl`, `--lease-heartbeat`).
    #[error(transparent)]
    LeaseTimings(#[from] crate::state::LeaseTimingsError),
    /// An account could not start for another reason.
    #[error("ClickClack account \"{account_id}\": {message}")]
    Startup {
        /// Account id.
        account_id: String,
        /// What failed.
        message: String,
    },
    /// The metrics endpoint could not bind.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How the gateway runs. `Default` is what the CLI uses without flags.
#[derive(Clone)]
pub struct GatewayOptions {
    /// Only these accounts (ids are normalised); empty = every enabled account.
    pub accounts: Vec<String>,
    /// Where cursors are stored (default [`default_state_dir`]).
    pub state_dir: Option<PathBuf>,
    /// Where the state lives when not in `state_dir`: a PostgreSQL URL runs
    /// this gateway as one replica of a fleet (leases, fencing epochs). A
    /// [`StateLocation::Files`] here is the same as `state_dir`.
    pub state: Option<StateLocation>,
    /// Lease ttl and heartbeat of a fleet (PostgreSQL state only).
    pub lease_timings: LeaseTimings,
    /// This replica's name in a fleet (default: host name + pid + random).
    pub replica_id: Option<String>,
    /// A custom cursor store (replaces the file store in `state_dir`).
    pub cursor_store: Option<Arc<dyn CursorStore>>,
    /// Serve `/healthz` and `/metrics` here.
    pub metrics_addr: Option<SocketAddr>,
    /// Use this model runtime for model-mode accounts instead of the configured providers.
    pub llm: Option<Arc<dyn LlmRuntime>>,
    /// Use this agent host for agent-mode accounts instead of the OpenClaw Gateway.
    pub agent_host: Option<Arc<dyn AgentHost>>,
    /// Overrides every account's `catchUpMaxAge` when set (the CLI's
    /// `--catch-up-max-age`). `None`: each account uses its configured
    /// `catchUpMaxAge`, else [`DEFAULT_CATCH_UP_MAX_AGE`].
    pub catch_up_max_age: Option<Duration>,
    /// The wall clock message ages are measured with.
    pub clock: Clock,
    /// Turns running at once per account, across conversations (default 8).
    pub max_concurrency: usize,
    /// Events received but not yet committed per account (default 4096).
    pub max_in_flight: usize,
    /// Turns queued or running in one conversation (default 64). Further
    /// events of that conversation are deferred and read again once it
    /// drains, so one slow or flooding conversation never stalls the others.
    pub max_per_conversation: usize,
    /// Bound for finishing in-flight replies at shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// Commands published in each bot's menu (default none: clears a stale
    /// menu). Accounts with `commandMenu: false` skip the sync entirely.
    pub commands: Vec<MenuCommand>,
    /// First retry delay of REST calls inside turns (default 250 ms).
    pub retry_base: Duration,
    /// How long one turn keeps retrying a failing model, agent or REST call
    /// before it answers with a visible failure (default 3 minutes).
    pub retry_window: Duration,
    /// Turns producing a reply at once across every account (default 64).
    pub max_turns: usize,
    /// Account start requests in flight at once across every account
    /// (default [`DEFAULT_MAX_STARTUP_REQUESTS`]): the workspace lookup,
    /// `GET /api/me` and menu sync of a start, and each stream start (tail
    /// fetch, cursor save), also after a reconnect.
    pub max_startup_requests: usize,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            accounts: Vec::new(),
            state_dir: None,
            state: None,
            lease_timings: LeaseTimings::default(),
            replica_id: None,
            cursor_store: None,
            metrics_addr: None,
            llm: None,
            agent_host: None,
            catch_up_max_age: None,
            clock: Clock::system(),
            max_concurrency: SchedulerConfig::default().max_concurrency,
            max_in_flight: SchedulerConfig::default().max_in_flight,
            max_per_conversation: SchedulerConfig::default().max_per_conversation,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            commands: Vec::new(),
            retry_base: Duration::from_millis(250),
            retry_window: DEFAULT_RETRY_WINDOW,
            max_turns: DEFAULT_MAX_TURNS,
            max_startup_requests: DEFAULT_MAX_STARTUP_REQUESTS,
        }
    }
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions")
            .field("accounts", &self.accounts)
            .field("state_dir", &self.state_dir)
            .field("state", &self.state)
            .field("lease_timings", &self.lease_timings)
            .field("metrics_addr", &self.metrics_addr)
            .field("catch_up_max_age", &self.catch_up_max_age)
            .field("max_concurrency", &self.max_concurrency)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("retry_window", &self.retry_window)
            .field("max_turns", &self.max_turns)
            .field("max_startup_requests", &self.max_startup_requests)
            .finish_non_exhaustive()
    }
}

/// A running gateway. Dropping it aborts every account at once (like a
/// crash: nothing more is committed); call [`Gateway::shutdown`] to stop gracefully.
pub struct Gateway {
    status: StatusBoard,
    metrics: Metrics,
    /// Cancelled at shutdown: stop reading events, end retry waits.
    intake: CancellationToken,
    /// Cancelled when the grace is over: cut model calls and sends.
    work: CancellationToken,
    grace: Duration,
    supervisor: Supervisor,
    fleet: Option<Fleet>,
    metrics_server: Option<metrics::MetricsServer>,
    /// The state backend; for files it holds the state-dir lock.
    backend: Option<Arc<dyn StateBackend>>,
}

/// The lease side of a fleet replica.
struct Fleet {
    replica: ReplicaId,
    /// Cancelled at shutdown: the lease manager hands every account back.
    shutdown: CancellationToken,
    manager: JoinHandle<()>,
    dispatcher: JoinHandle<()>,
    snapshot: tokio::sync::watch::Receiver<FleetSnapshot>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("accounts", &self.status.all().len())
            .finish_non_exhaustive()
    }
}

fn state_error(e: StateError) -> GatewayError {
    match e {
        StateError::Locked { dir, .. } => GatewayError::StateDirLocked {
            path: PathBuf::from(dir),
        },
        other => GatewayError::State(other),
    }
}

/// Refuses two enabled accounts with the same token on the same server
/// (for example a root `token` inherited by `accounts: { work: {} }`): the
/// config layer's check ([`crate::accounts::refuse_shared_tokens`]), as a
/// [`GatewayError::DuplicateBot`].
fn refuse_shared_tokens(
    config: &OpenClawConfig,
    accounts: &[ResolvedAccount],
) -> Result<(), GatewayError> {
    crate::accounts::refuse_shared_tokens(config, accounts).map_err(|e| match e {
        ClickClackError::SharedToken { first, second, .. } => GatewayError::DuplicateBot {
            first,
            second,
            bot_user_id: "(same token)".to_owned(),
        },
        other => other.into(),
    })
}

impl Gateway {
    /// Starts every enabled account of `config` (or those in
    /// [`GatewayOptions::accounts`]) and returns at once; accounts connect in
    /// the background (watch [`Gateway::status`]).
    ///
    /// An account whose configuration cannot work (not configured, missing
    /// trust bit, no model, bad regex) is reported `stopped` with its error
    /// while the others run. Two accounts with the same bot token, or a
    /// state directory another gateway holds, refuse the whole start.
    ///
    /// # Errors
    /// [`GatewayError::NoAccounts`]; an unknown `--account`; a token secret
    /// error; [`GatewayError::DuplicateBot`]; [`GatewayError::StateDirLocked`];
    /// the metrics address not binding; or, when **every** account is
    /// refused, the first account's error.
    pub async fn start(
        config: &OpenClawConfig,
        env: &dyn EnvSource,
        options: GatewayOptions,
    ) -> Result<Gateway, GatewayError> {
        let mut accounts = list_enabled_accounts(config, env)?;
        if !options.accounts.is_empty() {
            let wanted: Vec<String> = options
                .accounts
                .iter()
                .map(|a| normalize_account_id(a))
                .collect();
            for id in &wanted {
                if !accounts.iter().any(|a| &a.account_id == id) {
                    return Err(ClickClackError::UnknownAccount {
                        account_id: id.clone(),
                        known: accounts.iter().map(|a| a.account_id.clone()).collect(),
                    }
                    .into());
                }
            }
            accounts.retain(|a| wanted.contains(&a.account_id));
        }
        if accounts.is_empty() {
            return Err(GatewayError::NoAccounts);
        }
        refuse_shared_tokens(config, &accounts)?;
        let status = StatusBoard::default();
        let metrics = Metrics::default();
        let overrides = EngineOverrides {
            llm: options.llm.clone(),
            agent_host: options.agent_host.clone(),
        };
        let mut prepared = Vec::new();
        let mut refused = Vec::new();
        for account in accounts {
            status.register(&account.account_id, &account.base_url);
            metrics.account(&account.account_id);
            let id = account.account_id.clone();
            match supervisor::prepare(config, env, account, &overrides) {
                Ok(spec) => prepared.push(spec),
                Err(e) => {
                    tracing::error!(account = %id, "{e}");
                    status.set(&id, Lifecycle::Stopped, Some(e.to_string()));
                    refused.push(e);
                }
            }
        }
        if prepared.is_empty()
            && let Some(first) = refused.into_iter().next()
        {
            return Err(first);
        }
        let location = match (&options.state, &options.state_dir) {
            (Some(location), _) => location.clone(),
            (None, Some(dir)) => StateLocation::Files(dir.clone()),
            (None, None) => StateLocation::Files(default_state_dir(env)),
        };
        let lease_timings = options.lease_timings.validate()?;
        let (store, backend): (Arc<dyn CursorStore>, Option<Arc<dyn StateBackend>>) =
            match (&options.cursor_store, &location) {
                (Some(store), StateLocation::Files(_)) => (Arc::clone(store), None),
                (_, StateLocation::Files(dir)) => {
                    // One lock: the file backend's flock on `<dir>/gateway.lock`.
                    let backend = location.open().await.map_err(state_error)?;
                    (Arc::new(FileCursorStore::new(dir.clone())), Some(backend))
                }
                (_, StateLocation::Postgres(_)) => {
                    let backend = location.open().await.map_err(state_error)?;
                    // Never used: fleet accounts run only under a lease's fenced store.
                    (
                        Arc::new(clickclack_realtime::MemoryCursorStore::default()),
                        Some(backend),
                    )
                }
            };
        let metrics_server = match options.metrics_addr {
            Some(addr) => Some(
                metrics::MetricsServer::start(addr, metrics.clone(), status.clone())
                    .await
                    .map_err(|source| GatewayError::Metrics { addr, source })?,
            ),
            None => None,
        };
        let intake = CancellationToken::new();
        let work = CancellationToken::new();
        let shared = supervisor::Shared {
            status: status.clone(),
            metrics: metrics.clone(),
            guard: Arc::new(BotLoopGuard::new()),
            identities: BotIdentities::default(),
            turn_slots: Arc::new(Semaphore::new(options.max_turns.max(1))),
            retry: RetryWindow::new(options.retry_window)
                .with_backoff(Backoff::new(options.retry_base, Duration::from_secs(30))),
            scheduler: SchedulerConfig {
                max_concurrency: options.max_concurrency.max(1),
                max_in_flight: options.max_in_flight.max(1),
                max_per_conversation: options.max_per_conversation.max(1),
                ..SchedulerConfig::default()
            },
            // The native commands unless the caller publishes its own.
            commands: if options.commands.is_empty() {
                host::native_menu().into()
            } else {
                options.commands.as_slice().into()
            },
            menu_gate: commands::MenuGate::default(),
            startup_slots: Arc::new(Semaphore::new(options.max_startup_requests.max(1))),
            catch_up_override: options.catch_up_max_age,
            clock: options.clock.clone(),
            overrides,
            grace: options.shutdown_grace,
            store,
        };
        let supervisor = Supervisor::new(shared, intake.clone(), work.clone());
        let fleet = match (&location, &backend) {
            (StateLocation::Postgres(_), Some(backend)) => Some(start_fleet(
                &supervisor,
                Arc::clone(backend),
                prepared,
                &options,
                lease_timings,
            )),
            _ => {
                for spec in prepared {
                    // Every id is distinct and nothing is shutting down yet.
                    if let Err(e) = supervisor.start(spec) {
                        tracing::error!("{e}");
                    }
                }
                tokio::spawn(heap::trim_after_startup(status.clone(), intake.clone()));
                None
            }
        };
        Ok(Gateway {
            status,
            metrics,
            intake,
            work,
            grace: options.shutdown_grace,
            supervisor,
            fleet,
            metrics_server,
            backend,
        })
    }

    /// Every account's status.
    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Where `/metrics` and `/healthz` are served, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|m| m.addr)
    }

    /// The account supervisor: start, stop or restart one account by id
    /// (config reload). See [`supervisor`].
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// This replica's id and lease state, when the state is in PostgreSQL.
    pub fn fleet(&self) -> Option<FleetSnapshot> {
        self.fleet.as_ref().map(|f| f.snapshot.borrow().clone())
    }

    /// The state backend's location, without credentials.
    pub fn state_location(&self) -> Option<String> {
        self.backend.as_ref().map(|b| b.location())
    }

    /// Whether every account has stopped (never, for a fleet replica: it
    /// waits for leases until shut down).
    pub fn is_finished(&self) -> bool {
        self.fleet.is_none() && self.supervisor.running().is_empty()
    }

    /// Waits until every account has stopped on its own (fatal errors).
    pub async fn wait(&mut self) {
        if self.fleet.is_some() {
            std::future::pending::<()>().await;
        }
        self.supervisor.idle().await;
    }

    /// Graceful shutdown: stop taking events at once, let in-flight replies
    /// finish within [`GatewayOptions::shutdown_grace`], then cut model calls
    /// and sends (those events are replayed on the next start), commit
    /// cursors, close sockets. Returns within the grace plus about two
    /// seconds (a fleet replica: plus one heartbeat to release its leases).
    pub async fn shutdown(mut self) {
        if let Some(fleet) = &self.fleet {
            // Hand every account back: each stops gracefully, then its lease is released.
            fleet.shutdown.cancel();
        } else {
            self.intake.cancel();
        }
        if tokio::time::timeout(self.grace, self.supervisor.idle())
            .await
            .is_err()
        {
            tracing::warn!(
                "in-flight replies did not finish within the shutdown grace; cutting them (they are replayed on the next start)"
            );
        }
        self.intake.cancel();
        self.work.cancel();
        self.supervisor.join_all(Duration::from_secs(2)).await;
        if let Some(fleet) = self.fleet.take() {
            let bound = self.grace + Duration::from_secs(5);
            let mut manager = fleet.manager;
            if tokio::time::timeout(bound, &mut manager).await.is_err() {
                manager.abort();
            }
            fleet.dispatcher.abort();
            tracing::info!(replica = %fleet.replica, "replica stopped");
        }
        if let Some(server) = self.metrics_server.take() {
            server.stop();
        }
    }
}

/// Starts the lease manager of a fleet replica and the dispatcher that runs
/// each account whose lease arrives.
fn start_fleet(
    supervisor: &Supervisor,
    backend: Arc<dyn StateBackend>,
    prepared: Vec<AccountSpec>,
    options: &GatewayOptions,
    timings: LeaseTimings,
) -> Fleet {
    let replica = options
        .replica_id
        .clone()
        .map(ReplicaId::new)
        .unwrap_or_else(ReplicaId::generate);
    let ids: Vec<String> = prepared.iter().map(|s| s.account_id().to_owned()).collect();
    // Only the accounts this replica holds a lease for appear in the status
    // (and `/healthz`); the others are served by another replica.
    for id in &ids {
        supervisor.status().remove(id);
    }
    let (manager, mut leases) = LeaseManager::new(backend, replica.clone(), ids, timings);
    let manager = manager.drain_grace(options.shutdown_grace + Duration::from_secs(3));
    let specs = supervisor::FleetAccounts::new(prepared, manager.account_set());
    supervisor.set_fleet(specs.clone());
    let snapshot = manager.snapshot();
    supervisor.metrics().fleet.set(manager.snapshot());
    let shutdown = CancellationToken::new();
    tracing::info!(replica = %replica, "fleet replica starting");
    let manager = tokio::spawn(manager.run(shutdown.clone()));
    let sup = supervisor.clone();
    let dispatcher = tokio::spawn(async move {
        while let Some(lease) = leases.recv().await {
            let id = lease.account().to_owned();
            let Some(spec) = specs.spec(&id) else {
                continue;
            };
            // The previous runner of this account may still be ending (lost lease).
            sup.cut(&id).await;
            if let Err(e) = sup.start_leased(spec, lease) {
                tracing::warn!(account = %id, "[{id}] {e}");
            }
        }
    });
    Fleet {
        replica,
        shutdown,
        manager,
        dispatcher,
        snapshot,
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.supervisor.abort_all();
        if let Some(fleet) = &self.fleet {
            fleet.manager.abort();
            fleet.dispatcher.abort();
        }
    }
}
