//! The lease manager: one per replica, it claims this replica's share of
//! the accounts, keeps the leases alive, and hands accounts over.
//!
//! # One tick (every heartbeat, 1 s by default)
//!
//! 1. **Heartbeat**: record this replica as alive for one ttl; learn the live
//!    replicas.
//! 2. **Renew** every held lease at its epoch in one statement. A lease
//!    missing from the answer was taken (its epoch moved on): cancel the
//!    account at once ([`Lease::lost`]).
//! 3. **Collect** leases whose account stopped ([`Lease`] dropped): one that
//!    was being handed off is released, so its next owner starts at once
//!    instead of waiting for expiry.
//! 4. **Share**: compute this replica's share (see the share rule in
//!    `plan.rs`: the shares add up to the account count and differ by at
//!    most one). Above it, ask the excess accounts to hand off
//!    ([`Lease::handoff_requested`]); below it, acquire claimable accounts
//!    (free, released or expired) in random order until the share is met,
//!    sending each new [`Lease`] to the gateway.
//!
//! Between ticks a watchdog sleeps until the earliest local lease deadline
//! (see [`super::lease`]): if renewals stall — database down, partition,
//! the process was stopped — the account is cancelled before the database
//! can hand it to anyone else. A tick that takes longer than one heartbeat is
//! abandoned.
//!
//! **Account set** ([`AccountSet`], config reload): a new set is taken at
//! the start of a tick. New accounts get a lease row and become claimable;
//! held accounts that left the set — or that must restart with a new config —
//! are handed back like a rebalancing hand-off (the runner stops gracefully,
//! then the lease is released), and an account outside the set is never
//! claimed. Each account stays owned by at most one replica throughout: the
//! lease decides, not the config.
//!
//! A new replica skips step 4 on its first tick (it only announces itself),
//! so replicas that start together see each other before they claim.
//!
//! # Shutdown
//!
//! Every held account is asked to hand off; renewals go on while they
//! finish (bounded by the drain grace); each finished one is released; the
//! replica then leaves the membership. Survivors take the accounts at their
//! next tick.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::lease::{LeaseShared, LocalDeadline};
use super::plan::{plan, target_share};
use super::{BackendKind, Lease, LeaseEpoch, LeaseTimings, ReplicaId, StateBackend, StateError};

/// One held lease, as shown in a [`FleetSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLeaseInfo {
    /// The account.
    pub account: String,
    /// The epoch held.
    pub epoch: LeaseEpoch,
    /// Whether it is being handed back.
    pub handing_off: bool,
}

/// What one replica's lease manager holds and has done (for `/metrics`, logs, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSnapshot {
    /// This replica.
    pub replica: ReplicaId,
    /// The backend kind.
    pub backend: BackendKind,
    /// Live replicas at the last heartbeat.
    pub live_replicas: usize,
    /// This replica's share at the last tick.
    pub target: usize,
    /// Held leases, by account.
    pub held: Vec<HeldLeaseInfo>,
    /// Leases acquired since start.
    pub acquired: u64,
    /// Of those, taken from another replica that had not released them.
    pub takeovers: u64,
    /// Leases lost (fenced or not renewed in time).
    pub lost: u64,
    /// Leases handed back (rebalancing, shutdown).
    pub released: u64,
    /// Heartbeats or renewals that failed (database unreachable, timeout).
    pub backend_errors: u64,
    /// Cursor commits refused: by the database fence (a newer epoch holds
    /// the account) or locally, after the lease was already known lost.
    pub fenced_commits: u64,
    /// When a heartbeat last reached the state database (`None`: never).
    pub last_heartbeat: Option<Instant>,
    /// The lease duration: a replica whose last heartbeat is older than
    /// this cannot take any account over.
    pub lease_ttl: Duration,
}

impl FleetSnapshot {
    /// A replica that has not yet heard from the fleet: holds nothing, counted nothing.
    pub(crate) fn new(replica: ReplicaId, backend: BackendKind, lease_ttl: Duration) -> Self {
        FleetSnapshot {
            replica,
            backend,
            live_replicas: 0,
            target: 0,
            held: Vec::new(),
            acquired: 0,
            takeovers: 0,
            lost: 0,
            released: 0,
            backend_errors: 0,
            fenced_commits: 0,
            last_heartbeat: None,
            lease_ttl,
        }
    }
}

impl FleetSnapshot {
    /// Whether the last heartbeat reached the state database within one
    /// lease ttl (a standby that cannot reach it could not take over).
    pub fn database_reachable(&self) -> bool {
        self.last_heartbeat
            .is_some_and(|at| at.elapsed() <= self.lease_ttl)
    }
}

struct Held {
    shared: Arc<LeaseShared>,
    deadline: LocalDeadline,
}

/// A new account set for a running [`LeaseManager`] (config reload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SetUpdate {
    accounts: Vec<String>,
    restart: Vec<String>,
}

/// Changes the account set of a running [`LeaseManager`] (see the module
/// docs); cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountSet(Arc<watch::Sender<Option<SetUpdate>>>);

impl AccountSet {
    /// Replaces the set with `accounts`. Held accounts missing from it are
    /// handed back and never claimed again by this replica; new ones become
    /// claimable; held accounts in `restart` are handed back so that they
    /// start again — here or on another replica — with their new config.
    /// Applied at the manager's next tick.
    pub fn replace(&self, accounts: Vec<String>, restart: Vec<String>) {
        self.0.send_replace(Some(SetUpdate { accounts, restart }));
    }
}

/// Claims, renews and hands over this replica's leases. See the module docs.
pub struct LeaseManager {
    backend: Arc<dyn StateBackend>,
    replica: ReplicaId,
    accounts: Vec<String>,
    timings: LeaseTimings,
    drain_grace: Duration,
    out: mpsc::Sender<Lease>,
    held: BTreeMap<String, Held>,
    snapshot: watch::Sender<FleetSnapshot>,
    ticks: u64,
    draining: bool,
    /// Fenced commits of every lease this manager granted.
    fenced: Arc<std::sync::atomic::AtomicU64>,
    /// Where [`AccountSet::replace`] arrives.
    set_tx: Arc<watch::Sender<Option<SetUpdate>>>,
    set_rx: watch::Receiver<Option<SetUpdate>>,
    /// A set taken from `set_rx` and not applied yet (registration failed).
    pending_set: Option<SetUpdate>,
}

impl std::fmt::Debug for LeaseManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseManager")
            .field("replica", &self.replica)
            .field("accounts", &self.accounts.len())
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl LeaseManager {
    /// A manager for `replica` over `accounts` (duplicates are ignored). New
    /// leases arrive on the returned receiver; run the manager with
    /// [`LeaseManager::run`].
    pub fn new(
        backend: Arc<dyn StateBackend>,
        replica: ReplicaId,
        accounts: Vec<String>,
        timings: LeaseTimings,
    ) -> (LeaseManager, mpsc::Receiver<Lease>) {
        let mut accounts = accounts;
        accounts.sort();
        accounts.dedup();
        let (out, rx) = mpsc::channel(accounts.len().max(1));
        let (snapshot, _) = watch::channel(FleetSnapshot::new(
            replica.clone(),
            backend.kind(),
            timings.ttl,
        ));
        let (set_tx, set_rx) = watch::channel(None);
        let manager = LeaseManager {
            set_tx: Arc::new(set_tx),
            set_rx,
            pending_set: None,
            backend,
            replica,
            accounts,
            timings,
            drain_grace: Duration::from_secs(15),
            out,
            held: BTreeMap::new(),
            snapshot,
            ticks: 0,
            draining: false,
            fenced: Arc::default(),
        };
        (manager, rx)
    }

    /// How long shutdown waits for accounts to hand back (default 15 s).
    #[must_use]
    pub fn drain_grace(mut self, grace: Duration) -> Self {
        self.drain_grace = grace;
        self
    }

    /// A handle to change the account set while the manager runs.
    pub fn account_set(&self) -> AccountSet {
        AccountSet(Arc::clone(&self.set_tx))
    }

    /// Takes a new account set (see the module docs); `Err` when the new
    /// accounts could not be registered (retried at the next tick).
    async fn take_account_set(&mut self) -> Result<(), StateError> {
        if self.set_rx.has_changed().unwrap_or(false) {
            self.pending_set = self.set_rx.borrow_and_update().clone();
        }
        let Some(update) = self.pending_set.clone() else {
            return Ok(());
        };
        let mut accounts = update.accounts;
        accounts.sort();
        accounts.dedup();
        self.bounded(self.backend.register_accounts(&accounts))
            .await?;
        self.pending_set = None;
        for (account, held) in &self.held {
            let removed = !accounts.contains(account);
            if (removed || update.restart.contains(account)) && !held.shared.handoff.is_cancelled()
            {
                tracing::info!(replica = %self.replica, account = %account,
                    "[{account}] handing the account back ({})",
                    if removed { "removed from the config" } else { "its config changed" });
                held.shared.handoff.cancel();
            }
        }
        tracing::info!(replica = %self.replica, accounts = accounts.len(), "account set updated");
        self.accounts = accounts;
        Ok(())
    }

    /// Follows what the manager holds.
    pub fn snapshot(&self) -> watch::Receiver<FleetSnapshot> {
        self.snapshot.subscribe()
    }

    /// The replica this manager runs for.
    pub fn replica(&self) -> &ReplicaId {
        &self.replica
    }

    /// Runs until `shutdown` is cancelled, then hands every account back
    /// and leaves the membership.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let hb = self.timings.heartbeat;
        // Register the accounts (retrying: the database may still be starting).
        loop {
            match self
                .bounded(self.backend.register_accounts(&self.accounts))
                .await
            {
                Ok(()) => break,
                Err(e) => {
                    self.count_error(&e, "account registration");
                    if shutdown
                        .run_until_cancelled(tokio::time::sleep(hb))
                        .await
                        .is_none()
                    {
                        return;
                    }
                }
            }
        }
        let mut interval = tokio::time::interval(hb);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drain_until: Option<Instant> = None;
        loop {
            if drain_until.is_none() && shutdown.is_cancelled() {
                self.draining = true;
                drain_until = Some(Instant::now() + self.drain_grace);
                for held in self.held.values() {
                    held.shared.handoff.cancel();
                }
            }
            if let Some(until) = drain_until
                && (self.held.is_empty() || Instant::now() >= until)
            {
                break;
            }
            let watchdog = self.earliest_deadline();
            tokio::select! {
                biased;
                _ = sleep_until_opt(watchdog) => { self.expire_local(); continue; }
                _ = shutdown.cancelled(), if drain_until.is_none() => continue,
                _ = interval.tick() => {}
            }
            tokio::select! {
                biased;
                _ = sleep_until_opt(watchdog) => {}
                _ = tokio::time::timeout(hb, self.tick()) => {}
            }
            self.expire_local();
            self.publish();
        }
        // Whatever did not hand back in time is abandoned: cancel it, and let
        // its lease expire (it is not released: its runner may still write).
        for (account, held) in std::mem::take(&mut self.held) {
            tracing::warn!(replica = %self.replica, account = %account,
                "[{account}] did not hand back within the drain grace; its lease will expire");
            held.shared.lost.cancel();
        }
        let _ = self.bounded(self.backend.leave(&self.replica)).await;
        self.publish();
        tracing::info!(replica = %self.replica, "left the fleet");
    }

    async fn bounded<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, StateError>>,
    ) -> Result<T, StateError> {
        let after = self.timings.heartbeat;
        tokio::time::timeout(after, op)
            .await
            .unwrap_or(Err(StateError::Timeout {
                what: "lease operation",
                after,
            }))
    }

    fn count_error(&self, e: &StateError, what: &str) {
        tracing::warn!(replica = %self.replica, error = %e, "{what} failed; retrying at the next heartbeat");
        self.snapshot.send_modify(|s| s.backend_errors += 1);
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.held.values().map(|h| h.deadline.until()).min()
    }

    /// Cancels every lease whose local deadline passed or that was fenced.
    fn expire_local(&mut self) {
        let now = Instant::now();
        let gone: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.deadline.passed(now) || h.shared.lost.is_cancelled())
            .map(|(a, _)| a.clone())
            .collect();
        for account in gone {
            let why = if self
                .held
                .get(&account)
                .is_some_and(|h| h.shared.lost.is_cancelled())
            {
                "a write was fenced"
            } else {
                "it could not be renewed in time"
            };
            self.lose(&account, why);
        }
    }

    fn lose(&mut self, account: &str, why: &str) {
        if let Some(held) = self.held.remove(account) {
            tracing::warn!(replica = %self.replica, account = %account, epoch = %held.shared.epoch,
                "[{account}] lease lost ({why}); the account stops on this replica");
            held.shared.lost.cancel();
            self.snapshot.send_modify(|s| s.lost += 1);
        }
    }

    async fn tick(&mut self) {
        self.ticks += 1;
        if let Err(e) = self.take_account_set().await {
            return self.count_error(&e, "account registration");
        }
        // 1. Heartbeat.
        let live = match self
            .backend
            .heartbeat(&self.replica, self.timings.ttl)
            .await
        {
            Ok(live) => live,
            Err(e) => return self.count_error(&e, "heartbeat"),
        };
        let beat = Instant::now();
        self.snapshot.send_modify(|s| s.last_heartbeat = Some(beat));
        // 2. Renew.
        if !self.held.is_empty() {
            let sent = Instant::now();
            let held: Vec<(String, LeaseEpoch)> = self
                .held
                .iter()
                .map(|(a, h)| (a.clone(), h.shared.epoch))
                .collect();
            match self
                .backend
                .renew(&self.replica, &held, self.timings.ttl)
                .await
            {
                Ok(renewed) => {
                    for (account, _) in &held {
                        if renewed.contains(account) {
                            if let Some(h) = self.held.get_mut(account) {
                                h.deadline.renewed(sent, self.timings);
                            }
                        } else {
                            self.lose(account, "another replica holds a newer epoch");
                        }
                    }
                }
                Err(e) => return self.count_error(&e, "lease renewal"),
            }
        }
        // 3. Collect stopped accounts.
        let stopped: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.shared.returned.is_cancelled() && h.shared.handoff.is_cancelled())
            .map(|(a, _)| a.clone())
            .collect();
        for account in stopped {
            let Some(held) = self.held.get(&account) else {
                continue;
            };
            let epoch = held.shared.epoch;
            match self.backend.release(&self.replica, &account, epoch).await {
                Ok(()) => {
                    self.held.remove(&account);
                    tracing::info!(replica = %self.replica, account = %account, epoch = %epoch,
                        "[{account}] lease released");
                    self.snapshot.send_modify(|s| s.released += 1);
                }
                Err(e) => return self.count_error(&e, "lease release"),
            }
        }
        // 4. Share.
        let target = if self.draining {
            0
        } else {
            target_share(&self.replica, &live, self.accounts.len())
        };
        self.snapshot.send_modify(|s| {
            s.live_replicas = live.len();
            s.target = target;
        });
        let steady: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| !h.shared.handoff.is_cancelled())
            .map(|(a, _)| a.clone())
            .collect();
        let handing_off = self.held.len() - steady.len();
        let todo = plan(target, &steady, handing_off);
        for account in &todo.hand_off {
            if let Some(h) = self.held.get(account) {
                tracing::info!(replica = %self.replica, account = %account, target,
                    "[{account}] handing the account to another replica (rebalancing)");
                h.shared.handoff.cancel();
            }
        }
        let settling = self.ticks == 1 && self.backend.kind() != BackendKind::Files;
        if todo.acquire == 0 || settling || self.draining {
            return;
        }
        let mut claimable = match self.backend.claimable(&self.accounts).await {
            Ok(c) => c,
            Err(e) => return self.count_error(&e, "claimable lookup"),
        };
        claimable.retain(|a| !self.held.contains_key(a));
        fastrand::shuffle(&mut claimable);
        let mut wanted = todo.acquire;
        for account in claimable {
            if wanted == 0 {
                break;
            }
            let sent = Instant::now();
            match self
                .backend
                .acquire(&self.replica, &account, self.timings.ttl)
                .await
            {
                Ok(Some(grant)) => {
                    wanted -= 1;
                    self.granted(account, grant, sent).await;
                }
                Ok(None) => {}
                Err(e) => return self.count_error(&e, "lease acquire"),
            }
        }
    }

    async fn granted(&mut self, account: String, grant: super::Grant, sent: Instant) {
        let takeover = grant
            .previous_owner
            .as_ref()
            .is_some_and(|p| p != &self.replica);
        match &grant.previous_owner {
            Some(prev) if takeover => tracing::warn!(replica = %self.replica, account = %account,
                epoch = %grant.epoch, previous = %prev,
                "[{account}] took the account over from replica {prev} (its lease expired)"),
            _ => tracing::info!(replica = %self.replica, account = %account, epoch = %grant.epoch,
                "[{account}] lease acquired"),
        }
        let shared = Arc::new(LeaseShared {
            account: account.clone(),
            epoch: grant.epoch,
            replica: self.replica.clone(),
            backend: Arc::clone(&self.backend),
            lost: CancellationToken::new(),
            handoff: CancellationToken::new(),
            returned: CancellationToken::new(),
            fenced: Arc::clone(&self.fenced),
        });
        self.held.insert(
            account,
            Held {
                shared: Arc::clone(&shared),
                deadline: LocalDeadline::granted(sent, self.timings),
            },
        );
        self.snapshot.send_modify(|s| {
            s.acquired += 1;
            s.takeovers += u64::from(takeover);
        });
        // Capacity is the account count, so this never waits on a live
        // receiver; a dropped receiver drops the lease (= returned).
        let _ = self.out.send(Lease::new(shared)).await;
    }

    fn publish(&self) {
        let held = self
            .held
            .iter()
            .map(|(a, h)| HeldLeaseInfo {
                account: a.clone(),
                epoch: h.shared.epoch,
                handing_off: h.shared.handoff.is_cancelled(),
            })
            .collect();
        let fenced = self.fenced.load(std::sync::atomic::Ordering::Relaxed);
        self.snapshot.send_modify(|s| {
            s.held = held;
            s.fenced_commits = fenced;
        });
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
