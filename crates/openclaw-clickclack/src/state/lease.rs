//! Account leases with fencing epochs, and why a replica that lost its lease
//! can write nothing.
//!
//! # The rules
//!
//! Every account has one lease row: `owner`, `epoch`, `expires_at`, and the
//! last committed `cursor`. Expiry is decided by the **database clock**
//! (`now()` inside each statement), never by a replica's clock.
//!
//! - **Acquire**: `UPDATE … SET owner = me, epoch = epoch + 1, expires_at =
//!   now() + ttl WHERE account = $1 AND (owner IS NULL OR expires_at <= now())`.
//!   Only a free or expired lease can be taken, and every acquisition makes
//!   a new, larger epoch.
//! - **Renew** (every heartbeat): `… SET expires_at = now() + ttl WHERE
//!   account = $1 AND epoch = $2 AND owner = me`.
//! - **Commit a cursor**: `… SET cursor = $3 WHERE account = $1 AND epoch = $2
//!   AND owner = me`. Zero rows is [`StateError::Fenced`]; nothing was written.
//! - **Release** (rebalancing, shutdown): `… SET owner = NULL WHERE account =
//!   $1 AND epoch = $2 AND owner = me`, so the next owner need not wait for expiry.
//!
//! Because the cursor lives in the lease row, the fence is the write's own
//! `WHERE`: PostgreSQL locks the row for an `UPDATE`, and a second `UPDATE`
//! of the same row waits, then re-checks its `WHERE` against the row the
//! first one left. There is no window between "check the epoch" and "write
//! the cursor".
//!
//! # A takeover, step by step
//!
//! Replica A holds account `support` at epoch 7, heartbeat 1 s, ttl 5 s.
//!
//! 1. A renews at 12:00:00.0 (database time): `expires_at = 12:00:05.0`.
//!    Locally, A notes the renewal was *sent* at its monotonic instant `t`
//!    and trusts the lease only until `t + ttl − heartbeat` — one heartbeat
//!    before the database can consider it expired, since the database set
//!    its expiry *after* A sent the request.
//! 2. A is frozen (SIGSTOP, a long GC-like stall, or a network partition to
//!    the database). Its renewals stop.
//! 3. At 12:00:05.0 the row expires by the database clock. Replica B's next
//!    tick sees `support` claimable and acquires it: `epoch = 8`, `owner = B`.
//!    B reads the cursor A last committed — every event up to it was fully
//!    handled — and resumes the realtime stream from there.
//! 4. B replays the events after that cursor. For each it computes the same
//!    deterministic reply nonces A would have used, and asks the server
//!    *by nonce* whether the reply exists before any model call: a reply A
//!    posted after its last commit is found, the event is marked done, and no
//!    second model call or post happens.
//! 5. A wakes. Whatever it does next hits the fence:
//!    - its local deadline (`t + ttl − heartbeat`) has long passed, so its
//!      lease manager cancels the account at once, before the next heartbeat;
//!    - a cursor commit in flight carries epoch 7: `WHERE epoch = 7` matches
//!      nothing (the row says 8) → `Fenced`, the cursor is not moved (not
//!      backwards, not forwards), and the account is cancelled;
//!    - its renewal carries epoch 7 and returns no row → the account is lost.
//!
//!    A cannot get epoch 7 back: epochs only grow.
//! 6. Partition instead of pause: A cannot renew, so at `t + ttl − heartbeat`
//!    by its own monotonic clock it stops the account — before B can acquire.
//!
//! # What the fence does not cover
//!
//! The database fences what the database stores. A post to ClickClack is not
//! a database write: a replica woken from a pause may post a reply for a
//! turn that was already running, in the instant before it notices the lost
//! lease. That reply carries the same deterministic nonce B uses, so the
//! server keeps one message (a replayed nonce returns the existing message)
//! — the reply is not doubled, and B's by-nonce check finds it and skips its
//! own model call. What no lease can prevent is the *model* call A already
//! made before it froze: it may be paid for twice when A wakes inside a turn.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use clickclack_proto::Cursor;
use clickclack_realtime::{CursorStore, CursorStoreError, StoreFuture};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::{ReplicaId, StateBackend, StateError};

/// A lease's generation: larger for every acquisition of the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeaseEpoch(i64);

impl LeaseEpoch {
    /// Wraps a stored epoch.
    pub fn new(value: i64) -> Self {
        LeaseEpoch(value)
    }

    /// The stored value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for LeaseEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How long a lease lasts and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimings {
    /// Lease duration by the database clock (default 5 s).
    pub ttl: Duration,
    /// Renewal and rebalancing interval (default 1 s).
    pub heartbeat: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            ttl: Duration::from_secs(5),
            heartbeat: Duration::from_secs(1),
        }
    }
}

/// Timings that cannot keep a lease alive.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "lease ttl ({ttl:?}) must be at least three heartbeats ({heartbeat:?} each) so one late renewal does not lose the account"
)]
pub struct LeaseTimingsError {
    /// The ttl given.
    pub ttl: Duration,
    /// The heartbeat given.
    pub heartbeat: Duration,
}

impl LeaseTimings {
    /// Checks that `ttl ≥ 3 × heartbeat` and `heartbeat > 0`.
    ///
    /// # Errors
    /// [`LeaseTimingsError`].
    pub fn validate(self) -> Result<Self, LeaseTimingsError> {
        if self.heartbeat.is_zero() || self.ttl < self.heartbeat.saturating_mul(3) {
            return Err(LeaseTimingsError {
                ttl: self.ttl,
                heartbeat: self.heartbeat,
            });
        }
        Ok(self)
    }

    /// How long after *sending* a successful renewal the replica still
    /// trusts its lease: `ttl − heartbeat` (step 1 of the takeover walk).
    pub fn local_validity(self) -> Duration {
        self.ttl.saturating_sub(self.heartbeat)
    }

    /// The worst case from a replica's death to another replica holding its
    /// accounts: the lease runs out (`ttl`), then a survivor notices at its
    /// next tick (`heartbeat`).
    pub fn takeover_bound(self) -> Duration {
        self.ttl + self.heartbeat
    }
}

/// When a held lease stops being trusted, on the replica's monotonic clock.
///
/// A renewal that succeeded moves the deadline to `sent + ttl − heartbeat`,
/// where `sent` is when the request left (not when the answer came back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalDeadline {
    until: Instant,
}

impl LocalDeadline {
    /// A lease granted by a request sent at `sent`.
    pub(crate) fn granted(sent: Instant, timings: LeaseTimings) -> Self {
        LocalDeadline {
            until: sent + timings.local_validity(),
        }
    }

    /// A renewal sent at `sent` succeeded. Never moves the deadline back.
    pub(crate) fn renewed(&mut self, sent: Instant, timings: LeaseTimings) {
        self.until = self.until.max(sent + timings.local_validity());
    }

    /// The instant the lease stops being trusted.
    pub(crate) fn until(self) -> Instant {
        self.until
    }

    /// Whether the lease must be treated as lost at `now`.
    pub(crate) fn passed(self, now: Instant) -> bool {
        now >= self.until
    }
}

/// What a [`Lease`] shares with its lease manager.
#[derive(Debug)]
pub(crate) struct LeaseShared {
    pub(crate) account: String,
    pub(crate) epoch: LeaseEpoch,
    pub(crate) replica: ReplicaId,
    pub(crate) backend: Arc<dyn StateBackend>,
    /// Cancelled when the lease is gone (fenced, not renewed in time).
    pub(crate) lost: CancellationToken,
    /// Cancelled when the manager wants the account back (rebalance, shutdown).
    pub(crate) handoff: CancellationToken,
    /// Cancelled when the [`Lease`] is dropped (the account stopped).
    pub(crate) returned: CancellationToken,
    /// Counts fenced commits (shared by every lease of one manager).
    pub(crate) fenced: Arc<std::sync::atomic::AtomicU64>,
}

impl LeaseShared {
    async fn commit(&self, key: &str, cursor: &Cursor) -> Result<(), StateError> {
        if self.lost.is_cancelled() {
            self.fenced
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(StateError::Fenced {
                account: self.account.clone(),
                epoch: self.epoch,
            });
        }
        let result = self
            .backend
            .commit_cursor(&self.replica, &self.account, self.epoch, key, cursor)
            .await;
        if let Err(e) = &result
            && e.is_fenced()
        {
            self.fenced
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(replica = %self.replica, account = %self.account, epoch = %self.epoch,
                "[{}] lease lost: a cursor commit was fenced; the account stops here", self.account);
            self.lost.cancel();
        }
        result
    }
}

/// The right to serve one account, at one epoch, until lost or handed back.
///
/// Made only by the lease manager ([`super::LeaseManager`]); not `Clone`.
/// Dropping it tells the manager the account stopped, so it can release the
/// lease (rebalancing, shutdown) — drop it only once the account's work has
/// ended.
#[must_use = "dropping the lease stops serving the account"]
pub struct Lease {
    shared: Arc<LeaseShared>,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("account", &self.shared.account)
            .field("epoch", &self.shared.epoch)
            .field("replica", &self.shared.replica)
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shared.returned.cancel();
    }
}

impl Lease {
    pub(crate) fn new(shared: Arc<LeaseShared>) -> Self {
        Lease { shared }
    }

    /// The account.
    pub fn account(&self) -> &str {
        &self.shared.account
    }

    /// This lease's epoch.
    pub fn epoch(&self) -> LeaseEpoch {
        self.shared.epoch
    }

    /// The replica holding it.
    pub fn replica(&self) -> &ReplicaId {
        &self.shared.replica
    }

    /// Resolves when the lease is gone: stop at once, commit nothing more
    /// (commits would be fenced anyway).
    pub fn lost(&self) -> WaitForCancellationFuture<'_> {
        self.shared.lost.cancelled()
    }

    /// Whether the lease is gone.
    pub fn is_lost(&self) -> bool {
        self.shared.lost.is_cancelled()
    }

    /// Resolves when the manager wants the account back: stop taking events,
    /// finish or abandon in-flight turns, commit, then drop the lease.
    pub fn handoff_requested(&self) -> WaitForCancellationFuture<'_> {
        self.shared.handoff.cancelled()
    }

    /// A token cancelled when the lease is lost (abort now).
    pub fn lost_token(&self) -> CancellationToken {
        self.shared.lost.clone()
    }

    /// A token cancelled when a handoff is requested (stop gracefully).
    pub fn handoff_token(&self) -> CancellationToken {
        self.shared.handoff.clone()
    }

    /// The last committed cursor under `key`.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn load_cursor(&self, key: &str) -> Result<Option<Cursor>, StateError> {
        self.shared
            .backend
            .load_cursor(&self.shared.account, key)
            .await
    }

    /// Commits `cursor` under `key`, fenced by this lease's epoch. A
    /// [`StateError::Fenced`] also marks the lease lost.
    ///
    /// # Errors
    /// [`StateError::Fenced`] (nothing written) or the backend's error.
    pub async fn commit_cursor(&self, key: &str, cursor: &Cursor) -> Result<(), StateError> {
        self.shared.commit(key, cursor).await
    }

    /// A [`CursorStore`] for the realtime stream whose saves are fenced by
    /// this lease. It keeps working only while the lease is held.
    pub fn cursor_store(&self) -> Arc<dyn CursorStore> {
        Arc::new(FencedCursorStore {
            shared: Arc::clone(&self.shared),
        })
    }
}

/// A [`CursorStore`] whose every save is a fenced commit of one lease.
///
/// Loads read the last committed cursor; a save after the lease was lost
/// fails with an I/O error of kind `PermissionDenied` saying so, and writes
/// nothing.
pub struct FencedCursorStore {
    shared: Arc<LeaseShared>,
}

impl fmt::Debug for FencedCursorStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FencedCursorStore")
            .field("account", &self.shared.account)
            .field("epoch", &self.shared.epoch)
            .finish()
    }
}

fn to_store_error(op: &'static str, key: &str, e: StateError) -> CursorStoreError {
    let kind = if e.is_fenced() {
        std::io::ErrorKind::PermissionDenied
    } else {
        std::io::ErrorKind::Other
    };
    CursorStoreError::Io {
        op,
        key: key.to_owned(),
        source: std::io::Error::new(kind, e),
    }
}

impl CursorStore for FencedCursorStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>> {
        Box::pin(async move {
            self.shared
                .backend
                .load_cursor(&self.shared.account, key)
                .await
                .map_err(|e| to_store_error("load", key, e))
        })
    }

    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.shared
                .commit(key, cursor)
                .await
                .map_err(|e| to_store_error("save", key, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> LeaseTimings {
        LeaseTimings {
            ttl: Duration::from_secs(5),
            heartbeat: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_is_trusted_one_heartbeat_less_than_the_database_grants() {
        let sent = Instant::now();
        let deadline = LocalDeadline::granted(sent, timings());
        tokio::time::advance(Duration::from_millis(3_999)).await;
        assert!(!deadline.passed(Instant::now()));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(deadline.passed(Instant::now()), "ttl 5 s − heartbeat 1 s");
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_count_from_when_they_were_sent_and_never_shorten() {
        let mut deadline = LocalDeadline::granted(Instant::now(), timings());
        tokio::time::advance(Duration::from_secs(2)).await;
        let sent = Instant::now();
        // The answer comes back 1.5 s later; validity still counts from `sent`.
        tokio::time::advance(Duration::from_millis(1_500)).await;
        deadline.renewed(sent, timings());
        tokio::time::advance(Duration::from_millis(2_499)).await;
        assert!(!deadline.passed(Instant::now()));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(deadline.passed(Instant::now()));
        // A stale renewal (sent before the grant) cannot move it back.
        let mut fresh = LocalDeadline::granted(Instant::now(), timings());
        fresh.renewed(sent, timings());
        tokio::time::advance(Duration::from_millis(3_999)).await;
        assert!(!fresh.passed(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_longer_than_the_lease_is_noticed_on_waking() {
        // SIGSTOP: the monotonic clock keeps running while the process is stopped.
        let deadline = LocalDeadline::granted(Instant::now(), timings());
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(deadline.passed(Instant::now()));
    }

    #[test]
    fn timings_must_leave_room_for_a_late_renewal() {
        assert!(LeaseTimings::default().validate().is_ok());
        let err = LeaseTimings {
            ttl: Duration::from_secs(2),
            heartbeat: Duration::from_secs(1),
        }
        .validate()
        .expect_err("too short");
        assert!(err.to_string().contains("at least three heartbeats"));
        assert!(
            LeaseTimings {
                ttl: Duration::from_secs(2),
                heartbeat: Duration::ZERO
            }
            .validate()
            .is_err()
        );
        assert_eq!(
            LeaseTimings::default().takeover_bound(),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn epochs_order_and_print_as_numbers() {
        assert!(LeaseEpoch::new(8) > LeaseEpoch::new(7));
        assert_eq!(LeaseEpoch::new(8).to_string(), "8");
    }
}
