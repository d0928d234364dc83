//! Where the gateway keeps what must survive it: cursors, account leases and
//! the lock that stops two processes from sharing one state.
//!
//! Everything goes through one trait, [`StateBackend`], chosen by a
//! [`StateLocation`]:
//!
//! - **files** (the default, embedded): `--state-dir DIR`, one gateway
//!   process. [`FileBackend`] keeps today's `<key>.cursor` files and takes an
//!   exclusive lock on `DIR/gateway.lock`, so a second gateway on the same
//!   directory refuses to start instead of writing the same cursors;
//! - **PostgreSQL** (a fleet): `--state postgres://…` (or
//!   `OPENCLAW_CLICKCLACK_STATE_URL`). [`PostgresBackend`] lets N gateway
//!   replicas share the accounts: every account is leased to one live replica
//!   at a time, each lease carries an epoch, and every write a replica makes
//!   is conditional on still holding that epoch.
//!
//! Both backends pass one conformance suite (`tests/state_conformance.rs`).
//! The lease rules, and why a replica that lost its lease can write nothing,
//! are walked through step by step in [`lease`]; how a replica claims its
//! share and hands accounts over is in [`fleet`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use openclaw_clickclack::state::{LeaseManager, LeaseTimings, ReplicaId, StateLocation};
//!
//! let location: StateLocation = "postgres://gateway@db.internal/clickclack".parse()?;
//! let backend = location.open().await?;
//! let replica = ReplicaId::generate();
//! let (manager, mut leases) = LeaseManager::new(
//!     Arc::clone(&backend),
//!     replica,
//!     vec!["support".to_owned(), "sales".to_owned()],
//!     LeaseTimings::default(),
//! );
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! tokio::spawn(manager.run(shutdown.clone()));
//! while let Some(lease) = leases.recv().await {
//!     println!("now serving {} at epoch {}", lease.account(), lease.epoch());
//!     # drop(lease);
//! }
//! # Ok(()) }
//! ```

mod file;
pub mod fleet;
pub mod lease;
mod location;
mod plan;
mod postgres;
mod schema;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use clickclack_proto::Cursor;

pub use file::{FileBackend, LOCK_FILE_NAME};
pub use fleet::{AccountSet, FleetSnapshot, HeldLeaseInfo, LeaseManager};
pub use lease::{FencedCursorStore, Lease, LeaseEpoch, LeaseTimings, LeaseTimingsError};
pub use location::{STATE_URL_ENV, StateLocation, StateLocationError};
pub use postgres::PostgresBackend;
pub use schema::SCHEMA_VERSION;

/// The boxed future returned by [`StateBackend`] methods.
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'a>>;

/// Which kind of backend holds the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// Files in a state directory (one process).
    Files,
    /// A PostgreSQL database (a fleet of replicas).
    Postgres,
}

impl BackendKind {
    /// `"files"` or `"postgres"` (as printed in metrics and reports).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Files => "files",
            BackendKind::Postgres => "postgres",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name a gateway process goes by in leases, logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaId(String);

impl ReplicaId {
    /// A replica id from a caller-chosen name (e.g. a Kubernetes pod name).
    /// Surrounding whitespace is trimmed; an empty name becomes a generated one.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Self::generate();
        }
        ReplicaId(trimmed.chars().take(200).collect())
    }

    /// `<hostname>-<pid>-<4 random hex digits>`: unique across restarts of
    /// the same pod (a restarted process never inherits a dead one's leases
    /// by name; it waits for them to expire like any other replica).
    pub fn generate() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "gateway".to_owned());
        ReplicaId(format!(
            "{host}-{}-{:04x}",
            std::process::id(),
            fastrand::u16(..)
        ))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What [`StateBackend::acquire`] hands out: a fresh epoch for the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The new epoch, greater than every earlier epoch of this account.
    pub epoch: LeaseEpoch,
    /// The replica that held the account before (`None`: never held or released cleanly).
    pub previous_owner: Option<ReplicaId>,
}

/// One account's lease as the backend sees it (for `fleet status` and metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The account id.
    pub account: String,
    /// The replica holding it, if any (may be expired: see `expires_in_ms`).
    pub owner: Option<ReplicaId>,
    /// The current epoch (0: never acquired).
    pub epoch: LeaseEpoch,
    /// Milliseconds until the lease expires by the backend's clock (negative: expired).
    pub expires_in_ms: Option<i64>,
    /// How many times the account was taken from a replica that did not release it.
    pub takeovers: i64,
    /// The last committed cursor.
    pub cursor: Option<String>,
}

impl LeaseRow {
    /// Whether a live replica holds the lease.
    pub fn is_held(&self) -> bool {
        self.owner.is_some() && self.expires_in_ms.is_some_and(|ms| ms > 0)
    }
}

/// One replica as the backend sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    /// Its id.
    pub replica: ReplicaId,
    /// Milliseconds until its membership expires (negative: gone).
    pub expires_in_ms: i64,
}

/// Everything `fleet status` prints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Known replicas, live first.
    pub replicas: Vec<ReplicaRow>,
    /// Every registered account's lease, by account id.
    pub leases: Vec<LeaseRow>,
}

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The write was refused because the lease moved on: another replica (or a
    /// later acquisition) holds a newer epoch. The caller must stop working on
    /// the account.
    #[error(
        "lease on account \"{account}\" at epoch {epoch} is no longer held by this replica; it stops serving the account"
    )]
    Fenced {
        /// The account.
        account: String,
        /// The epoch the refused write carried.
        epoch: LeaseEpoch,
    },
    /// Another process holds the state directory.
    #[error(
        "state directory {dir} is in use by another gateway ({holder}); stop it, or give this gateway its own --state-dir, or run both as a fleet with --state postgres://…"
    )]
    Locked {
        /// The directory.
        dir: String,
        /// What the lock file says about the holder.
        holder: String,
    },
    /// Reading or writing the state directory failed.
    #[error("state directory {path}: could not {op}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored value is not what this gateway wrote.
    #[error(
        "state store holds an invalid value in {what}; remove it (the account restarts from the server's tail)"
    )]
    Corrupt {
        /// Where.
        what: String,
    },
    /// The database could not be reached or refused the operation.
    #[error("state database ({location}): {what} failed: {reason}")]
    Database {
        /// The database, without credentials.
        location: String,
        /// What was attempted.
        what: &'static str,
        /// The cause (no credentials, no query text).
        reason: String,
    },
    /// The database schema is newer than this gateway understands.
    #[error(
        "state database ({location}) has schema version {found}, newer than this gateway's {supported}; upgrade the gateway binary (never run an older gateway against a newer schema)"
    )]
    SchemaTooNew {
        /// The database, without credentials.
        location: String,
        /// The version found.
        found: i32,
        /// The newest version this build knows.
        supported: i32,
    },
    /// The operation did not finish in time.
    #[error("state backend: {what} did not finish within {after:?}")]
    Timeout {
        /// What was attempted.
        what: &'static str,
        /// The bound.
        after: Duration,
    },
}

impl StateError {
    /// Whether this is a fencing refusal (the lease is gone for good).
    pub fn is_fenced(&self) -> bool {
        matches!(self, StateError::Fenced { .. })
    }
}

/// Cursors, leases and membership behind one interface.
///
/// Every method is one short, atomic step; the lease rules built on top of
/// them are in [`lease`] and [`fleet`]. Implementations must make every
/// completed write durable, and must refuse ([`StateError::Fenced`]) a
/// [`StateBackend::commit_cursor`] or [`StateBackend::renew`] whose epoch is
/// not the account's current one or whose replica is not the owner.
pub trait StateBackend: Send + Sync + fmt::Debug {
    /// Which kind this is.
    fn kind(&self) -> BackendKind;

    /// Where the state lives, without credentials (for logs and errors).
    fn location(&self) -> String;

    /// Makes sure every account in `accounts` has a lease row (never
    /// removes rows: another replica may be configured with more accounts).
    fn register_accounts<'a>(&'a self, accounts: &'a [String]) -> StateFuture<'a, ()>;

    /// Records that `replica` is alive for `ttl` more and returns every live
    /// replica (including this one), sorted.
    fn heartbeat<'a>(
        &'a self,
        replica: &'a ReplicaId,
        ttl: Duration,
    ) -> StateFuture<'a, Vec<ReplicaId>>;

    /// Removes `replica` from the membership (clean shutdown).
    fn leave<'a>(&'a self, replica: &'a ReplicaId) -> StateFuture<'a, ()>;

    /// Which of `accounts` nobody holds right now (never held, released, or expired).
    fn claimable<'a>(&'a self, accounts: &'a [String]) -> StateFuture<'a, Vec<String>>;

    /// Takes `account` for `replica` for `ttl` if nobody else holds it,
    /// bumping its epoch. `None`: another replica holds an unexpired lease.
    fn acquire<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        ttl: Duration,
    ) -> StateFuture<'a, Option<Grant>>;

    /// Extends every lease in `held` (account, epoch) that `replica` still
    /// holds at that epoch by `ttl`; returns the accounts renewed. An account
    /// missing from the answer is lost.
    fn renew<'a>(
        &'a self,
        replica: &'a ReplicaId,
        held: &'a [(String, LeaseEpoch)],
        ttl: Duration,
    ) -> StateFuture<'a, Vec<String>>;

    /// Gives `account` up (if `replica` still holds it at `epoch`), so
    /// another replica can take it at once instead of waiting for expiry.
    fn release<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        epoch: LeaseEpoch,
    ) -> StateFuture<'a, ()>;

    /// The last committed cursor of `account` under `key`.
    fn load_cursor<'a>(&'a self, account: &'a str, key: &'a str)
    -> StateFuture<'a, Option<Cursor>>;

    /// Stores `cursor` under `key` for `account` — only if `replica` holds
    /// the account at `epoch` ([`StateError::Fenced`] otherwise, and nothing
    /// is written).
    fn commit_cursor<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        epoch: LeaseEpoch,
        key: &'a str,
        cursor: &'a Cursor,
    ) -> StateFuture<'a, ()>;

    /// Every replica and lease, for `fleet status` and metrics.
    fn assignment(&self) -> StateFuture<'_, Assignment>;
}
