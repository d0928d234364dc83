//! The account supervisor: starts, stops and restarts one account runner by
//! id, without touching the others.
//!
//! 1. [`Supervisor::prepare`] turns a resolved account into an
//!    [`AccountSpec`] (usable token, reply engine, inbound policy) — the
//!    checks `Gateway::start` runs, so a reload refuses the same things.
//! 2. [`Supervisor::start`] spawns the runner with its own tokens: `intake`
//!    is a child of the gateway's intake token, `work` a child of its work
//!    token. Cancelling the gateway's tokens reaches every account;
//!    cancelling one account's tokens reaches only that account.
//! 3. [`Supervisor::stop`] stops one account gracefully (intake cut, in-flight
//!    turns get the shutdown grace, then work cut, then abort after one
//!    more second); [`Supervisor::cut`] stops it at once (intake and work
//!    cut together — a lost lease). Either way, unfinished events are
//!    replayed by the next runner under the same nonces.
//! 4. [`Supervisor::restart`] = stop, then start the new spec (config change).
//!
//! With a PostgreSQL state backend the supervisor runs only the accounts
//! whose lease this replica holds: a [`Lease`] arriving starts the account
//! with the lease's fenced cursor store; the lease lost cuts it; a handoff
//! request stops it gracefully; the lease is dropped (released) once the
//! runner has ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_realtime::CursorStore;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::GatewayError;
use super::account::{AccountDeps, AccountSetup, BotIdentities, TurnSettings};
use super::catch_up::Clock;
use super::commands::{MenuCommand, MenuGate};
use super::engine::{EngineOverrides, ReplyEngine, build_engine};
use super::metrics::Metrics;
use super::status::{Lifecycle, StatusBoard};
use crate::accounts::ResolvedAccount;
use crate::config::{EnvSource, OpenClawConfig};
use crate::policy::{BotLoopGuard, InboundPolicy};
use crate::retry::RetryWindow;
use crate::scheduler::SchedulerConfig;
use crate::state::Lease;

/// One account's runner ([`AccountDeps::run`]), boxed.
type AccountRun = std::pin::Pin<Box<dyn Future<Output = Result<(), GatewayError>> + Send>>;

/// How long an account gets after its work token is cut before its task is aborted.
const CUT_WAIT: Duration = Duration::from_secs(2);

/// One account, checked and ready to run: what [`Supervisor::start`] takes.
#[derive(Clone)]
pub struct AccountSpec {
    pub(crate) account: ResolvedAccount,
    pub(crate) engine: ReplyEngine,
    pub(crate) policy: InboundPolicy,
    /// `historyLimit` of the config the spec was prepared from.
    pub(crate) history_limit: Option<u32>,
    /// Session keys, native commands and per-session state (from `session`, `commands`).
    pub(crate) host: Arc<super::host::HostFeatures>,
}

impl std::fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSpec")
            .field("account_id", &self.account.account_id)
            .finish_non_exhaustive()
    }
}

impl AccountSpec {
    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account.account_id
    }

    /// The resolved account.
    pub fn account(&self) -> &ResolvedAccount {
        &self.account
    }
}

/// Checks one account (see [`Supervisor::prepare`]).
pub(crate) fn prepare(
    config: &OpenClawConfig,
    env: &dyn EnvSource,
    account: ResolvedAccount,
    overrides: &EngineOverrides,
) -> Result<AccountSpec, GatewayError> {
    crate::diagnose::require_usable(&account, env)?;
    let engine = build_engine(&account, config, env, overrides)?;
    let policy = InboundPolicy::new(&account)?;
    let history_limit = config
        .clickclack
        .as_ref()
        .and_then(|c| c.history_limit)
        .map(|l| u32::try_from(l).unwrap_or(u32::MAX));
    let agent_id = match &engine {
        ReplyEngine::Agent { agent_id, .. } => agent_id.clone(),
        ReplyEngine::Model { .. } => super::engine::resolve_agent_id(&account, config),
    };
    let host = Arc::new(super::host::HostFeatures::new(&account, config, &agent_id));
    Ok(AccountSpec {
        account,
        engine,
        policy,
        history_limit,
        host,
    })
}

/// What every account of one gateway shares (fixed at `Gateway::start`).
pub(crate) struct Shared {
    pub(crate) status: StatusBoard,
    pub(crate) metrics: Metrics,
    pub(crate) guard: Arc<BotLoopGuard>,
    pub(crate) identities: BotIdentities,
    pub(crate) turn_slots: Arc<Semaphore>,
    pub(crate) retry: RetryWindow,
    pub(crate) scheduler: SchedulerConfig,
    pub(crate) commands: Arc<[MenuCommand]>,
    /// Accounts connect after the menus of those starting with them.
    pub(crate) menu_gate: MenuGate,
    /// Start requests in flight at once (`GatewayOptions::max_startup_requests`).
    pub(crate) startup_slots: Arc<Semaphore>,
    pub(crate) catch_up_override: Option<Duration>,
    pub(crate) clock: Clock,
    pub(crate) overrides: EngineOverrides,
    pub(crate) grace: Duration,
    /// The store of accounts started without a lease (file backend, custom store).
    pub(crate) store: Arc<dyn CursorStore>,
}

/// A running account.
struct Running {
    generation: u64,
    intake: CancellationToken,
    work: CancellationToken,
    handle: JoinHandle<()>,
}

/// The accounts of a fleet replica: what the lease dispatcher starts when a
/// lease arrives, and the lease manager's account set. A config reload
/// replaces both ([`FleetAccounts::replace`]).
#[derive(Clone)]
pub(crate) struct FleetAccounts {
    specs: Arc<Mutex<HashMap<String, AccountSpec>>>,
    set: crate::state::AccountSet,
}

impl FleetAccounts {
    /// The accounts `specs` under the lease manager's `set`.
    pub(crate) fn new(specs: Vec<AccountSpec>, set: crate::state::AccountSet) -> FleetAccounts {
        let specs = specs
            .into_iter()
            .map(|s| (s.account_id().to_owned(), s))
            .collect();
        FleetAccounts {
            specs: Arc::new(Mutex::new(specs)),
            set,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccountSpec>> {
        self.specs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What to run when the lease of `account_id` arrives (`None`: not in
    /// this replica's config).
    pub(crate) fn spec(&self, account_id: &str) -> Option<AccountSpec> {
        self.lock().get(account_id).cloned()
    }

    /// A reload: the account set becomes `accounts`; `prepared` (added or
    /// changed accounts) replace their old specs first, so a lease that
    /// arrives from now on runs the new config; held accounts in `restart`
    /// or gone from `accounts` are handed back by the lease manager.
    pub(crate) fn replace(
        &self,
        accounts: Vec<String>,
        prepared: Vec<AccountSpec>,
        restart: Vec<String>,
    ) {
        {
            let mut specs = self.lock();
            specs.retain(|id, _| accounts.contains(id));
            for spec in prepared {
                specs.insert(spec.account_id().to_owned(), spec);
            }
        }
        self.set.replace(accounts, restart);
    }
}

struct Inner {
    /// Set once in fleet mode (`--state postgres://…`).
    fleet: std::sync::OnceLock<FleetAccounts>,
    shared: Shared,
    /// The gateway's roots; every account's tokens are children of these.
    intake: CancellationToken,
    work: CancellationToken,
    running: Mutex<HashMap<String, Running>>,
    /// How many accounts run (for `Gateway::wait`).
    count: watch::Sender<usize>,
    next_generation: std::sync::atomic::AtomicU64,
}

/// Starts, stops and restarts account runners by id. Cheap to clone; every
/// clone drives the same accounts. See the module docs.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("running", &self.running())
            .finish_non_exhaustive()
    }
}

/// Why [`Supervisor::start`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuperviseError {
    /// The account already runs: use [`Supervisor::restart`] to replace it.
    #[error(
        "ClickClack account \"{account_id}\" is already running; restart it to apply a new configuration"
    )]
    AlreadyRunning {
        /// The account.
        account_id: String,
    },
    /// A fleet replica runs an account only under its lease: change the
    /// account set with a config reload instead.
    #[error(
        "ClickClack account \"{account_id}\" was not started: in fleet mode (--state postgres://…) accounts run where their lease is held; reload the config to change the account set"
    )]
    FleetMode {
        /// The account.
        account_id: String,
    },
    /// The gateway is shutting down.
    #[error("the gateway is shutting down; ClickClack account \"{account_id}\" was not started")]
    ShuttingDown {
        /// The account.
        account_id: String,
    },
}

impl Supervisor {
    pub(crate) fn new(
        shared: Shared,
        intake: CancellationToken,
        work: CancellationToken,
    ) -> Supervisor {
        let (count, _) = watch::channel(0);
        Supervisor {
            inner: Arc::new(Inner {
                fleet: std::sync::OnceLock::new(),
                shared,
                intake,
                work,
                running: Mutex::new(HashMap::new()),
                count,
                next_generation: std::sync::atomic::AtomicU64::new(1),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks `account` against `config` (usable token, model or agent,
    /// inbound policy) and returns it ready to start.
    ///
    /// # Errors
    /// The same errors `Gateway::start` reports per account (not configured,
    /// missing trust bit, no model, bad `mentionPatterns`).
    pub fn prepare(
        &self,
        config: &OpenClawConfig,
        env: &dyn EnvSource,
        account: ResolvedAccount,
    ) -> Result<AccountSpec, GatewayError> {
        prepare(config, env, account, &self.inner.shared.overrides)
    }

    /// Fleet mode: accounts start when their lease arrives (see
    /// [`FleetAccounts`]); set once by the gateway.
    pub(crate) fn set_fleet(&self, fleet: FleetAccounts) {
        let _ = self.inner.fleet.set(fleet);
    }

    /// The fleet's accounts, in fleet mode.
    pub(crate) fn fleet(&self) -> Option<&FleetAccounts> {
        self.inner.fleet.get()
    }

    /// Whether accounts run under leases (`--state postgres://…`): start
    /// and restart do not apply there; a reload changes the account set.
    pub fn is_fleet(&self) -> bool {
        self.inner.fleet.get().is_some()
    }

    /// The gateway's counters.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.shared.metrics
    }

    /// The status board the accounts report to.
    pub(crate) fn status(&self) -> &StatusBoard {
        &self.inner.shared.status
    }

    /// Ids of the accounts running now, sorted.
    pub fn running(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Whether `account_id` runs now.
    pub fn is_running(&self, account_id: &str) -> bool {
        self.lock().contains_key(account_id)
    }

    /// Starts one account with the gateway's cursor store (status
    /// `starting`; it connects in the background).
    ///
    /// # Errors
    /// [`SuperviseError::AlreadyRunning`]; [`SuperviseError::ShuttingDown`];
    /// [`SuperviseError::FleetMode`] on a fleet replica.
    pub fn start(&self, spec: AccountSpec) -> Result<(), SuperviseError> {
        if self.is_fleet() {
            return Err(SuperviseError::FleetMode {
                account_id: spec.account_id().to_owned(),
            });
        }
        let store = Arc::clone(&self.inner.shared.store);
        self.spawn(spec, store, None)
    }

    /// Starts one account under a lease: its cursor commits are fenced by
    /// the lease epoch; losing the lease cuts the account, a handoff request
    /// stops it gracefully; the lease is dropped once the runner ended.
    pub(crate) fn start_leased(
        &self,
        spec: AccountSpec,
        lease: Lease,
    ) -> Result<(), SuperviseError> {
        let store = lease.cursor_store();
        self.spawn(spec, store, Some(lease))
    }

    fn spawn(
        &self,
        spec: AccountSpec,
        store: Arc<dyn CursorStore>,
        lease: Option<Lease>,
    ) -> Result<(), SuperviseError> {
        let account_id = spec.account.account_id.clone();
        if self.inner.intake.is_cancelled() {
            return Err(SuperviseError::ShuttingDown { account_id });
        }
        let mut running = self.lock();
        if running.contains_key(&account_id) {
            return Err(SuperviseError::AlreadyRunning { account_id });
        }
        let shared = &self.inner.shared;
        let intake = self.inner.intake.child_token();
        let work = self.inner.work.child_token();
        let generation = self
            .inner
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        shared.status.register(&account_id, &spec.account.base_url);
        // Progress label: account name → bot handle → agentId → accountId.
        let label_fallback = match &spec.engine {
            ReplyEngine::Agent { agent_id, .. } => Some(agent_id.clone()),
            ReplyEngine::Model { agent_id, .. } => agent_id.clone(),
        }
        .unwrap_or_else(|| account_id.clone());
        let catch_up_max_age = shared
            .catch_up_override
            .unwrap_or(spec.account.catch_up_max_age);
        let deps = AccountDeps {
            account_id: account_id.clone(),
            reconnect_ms: spec.account.reconnect_ms,
            setup: Some(Box::new(AccountSetup {
                turn: TurnSettings {
                    policy: spec.policy,
                    guard: Arc::clone(&shared.guard),
                    engine: spec.engine,
                    history_limit: spec.history_limit,
                    catch_up_max_age,
                    clock: shared.clock.clone(),
                    label_fallback,
                    turn_slots: Arc::clone(&shared.turn_slots),
                    host: spec.host,
                },
                account: spec.account,
            })),
            metrics: shared.metrics.account(&account_id),
            status: shared.status.clone(),
            store,
            intake: intake.clone(),
            work: work.clone(),
            commands: Arc::clone(&shared.commands),
            menu_hold: shared.menu_gate.hold(),
            startup_slots: Arc::clone(&shared.startup_slots),
            scheduler: shared.scheduler,
            retry: shared.retry,
            identities: shared.identities.clone(),
        };
        let this = self.clone();
        let id = account_id.clone();
        let (a_intake, a_work) = (intake.clone(), work.clone());
        let span = tracing::info_span!("account", account = %account_id);
        // Boxed outside the task's future: the runner (which owns `deps`) is
        // held once, not once as the task's capture and again as the future
        // it awaits. This is most of an idle account's task.
        let run: AccountRun = Box::pin(Box::new(deps).run());
        let handle = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let result = match lease {
                    None => Some(run.await),
                    Some(lease) => {
                        // Boxed: accounts without a lease do not pay for its future.
                        let result =
                            Box::pin(this.run_leased(run, &id, &lease, &a_intake, &a_work)).await;
                        drop(lease);
                        result
                    }
                };
                let board = &this.inner.shared.status;
                match result {
                    Some(Ok(())) => board.set(&id, Lifecycle::Stopped, None),
                    Some(Err(e)) => {
                        tracing::error!(account = %id, "{e}");
                        board.set(&id, Lifecycle::Stopped, Some(e.to_string()));
                    }
                    None => {}
                }
                this.forget(&id, generation);
            },
            span,
        ));
        running.insert(
            account_id,
            Running {
                generation,
                intake,
                work,
                handle,
            },
        );
        self.inner.count.send_replace(running.len());
        Ok(())
    }

    /// Runs one leased account until it ends, its lease is lost (cut) or a
    /// handoff is requested (graceful stop). `None`: the lease is gone or
    /// handed over; the account leaves this replica's status board.
    async fn run_leased(
        &self,
        mut run: AccountRun,
        id: &str,
        lease: &Lease,
        intake: &CancellationToken,
        work: &CancellationToken,
    ) -> Option<Result<(), GatewayError>> {
        let board = self.inner.shared.status.clone();
        tokio::select! {
            result = &mut run => return Some(result),
            () = lease.lost() => {
                tracing::warn!(account = %id, epoch = %lease.epoch(), replica = %lease.replica(),
                    "[{id}] lease lost: stopping the account at once (its new owner replays what was not committed)");
                intake.cancel();
                work.cancel();
                let _ = tokio::time::timeout(CUT_WAIT, &mut run).await;
                board.remove(id);
                return None;
            }
            () = lease.handoff_requested() => {
                tracing::info!(account = %id, epoch = %lease.epoch(), "[{id}] handing the account over");
                intake.cancel();
            }
        }
        let grace = self.inner.shared.grace;
        if tokio::time::timeout(grace, &mut run).await.is_err() {
            work.cancel();
            let _ = tokio::time::timeout(CUT_WAIT, &mut run).await;
        }
        tracing::info!(account = %id, epoch = %lease.epoch(), "[{id}] handed over");
        board.remove(id);
        None
    }

    fn forget(&self, account_id: &str, generation: u64) {
        let mut running = self.lock();
        if running
            .get(account_id)
            .is_some_and(|r| r.generation == generation)
        {
            running.remove(account_id);
        }
        self.inner.count.send_replace(running.len());
    }

    fn take(&self, account_id: &str) -> Option<Running> {
        let mut running = self.lock();
        let taken = running.remove(account_id);
        self.inner.count.send_replace(running.len());
        taken
    }

    /// Stops one account gracefully: it stops taking events at once,
    /// in-flight turns get the shutdown grace, then model calls and sends are
    /// cut, and after one more second the task is aborted. Returns whether
    /// the account was running. Other accounts are not touched.
    pub async fn stop(&self, account_id: &str) -> bool {
        let Some(running) = self.take(account_id) else {
            return false;
        };
        running.intake.cancel();
        let mut handle = running.handle;
        if tokio::time::timeout(self.inner.shared.grace, &mut handle)
            .await
            .is_err()
        {
            running.work.cancel();
            if tokio::time::timeout(CUT_WAIT, &mut handle).await.is_err() {
                handle.abort();
                let _ = handle.await;
            }
        }
        self.inner
            .shared
            .status
            .set(account_id, Lifecycle::Stopped, None);
        true
    }

    /// Stops one account at once: intake and work are cut together (turns
    /// in flight end as replays), then the task is aborted after a short
    /// wait. Returns whether the account was running.
    pub async fn cut(&self, account_id: &str) -> bool {
        let Some(running) = self.take(account_id) else {
            return false;
        };
        running.intake.cancel();
        running.work.cancel();
        let mut handle = running.handle;
        if tokio::time::timeout(CUT_WAIT, &mut handle).await.is_err() {
            handle.abort();
            let _ = handle.await;
        }
        true
    }

    /// Stops the account gracefully (if it runs) and starts `spec` in its place.
    ///
    /// # Errors
    /// [`SuperviseError::ShuttingDown`]; [`SuperviseError::AlreadyRunning`]
    /// when another caller started it meanwhile.
    pub async fn restart(&self, spec: AccountSpec) -> Result<(), SuperviseError> {
        if self.is_fleet() {
            return Err(SuperviseError::FleetMode {
                account_id: spec.account_id().to_owned(),
            });
        }
        self.stop(spec.account_id()).await;
        self.start(spec)
    }

    /// Resolves once no account runs.
    pub async fn idle(&self) {
        let mut count = self.inner.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Waits for every running task to end (after the gateway's tokens were
    /// cancelled), aborting them all if `bound` passes. Returns whether all ended in time.
    pub(crate) async fn join_all(&self, bound: Duration) -> bool {
        let in_time = tokio::time::timeout(bound, self.idle()).await.is_ok();
        if !in_time {
            let all: Vec<Running> = self.lock().drain().map(|(_, r)| r).collect();
            self.inner.count.send_replace(0);
            for r in &all {
                r.handle.abort();
            }
        }
        in_time
    }

    /// Aborts every task (the gateway was dropped without a shutdown).
    pub(crate) fn abort_all(&self) {
        for r in self.lock().values() {
            r.handle.abort();
        }
    }
}
