//! The file backend: today's `<key>.cursor` files in `--state-dir`, owned
//! by one process at a time.
//!
//! 1. [`FileBackend::open`] creates the directory and takes an exclusive,
//!    non-blocking `flock` on `DIR/gateway.lock` (the kernel drops it when the
//!    process dies, even by SIGKILL — no stale lock to clean up). A second
//!    gateway on the same directory fails with [`StateError::Locked`] naming
//!    the holder's pid, instead of writing the same cursors.
//! 2. It bumps a generation counter in `DIR/gateway.generation`; epochs are
//!    `generation << 32 | n`, so every acquisition of any process that ever
//!    used the directory gets a larger epoch than all before it.
//! 3. Leases live in memory (one process owns all of them): acquire, renew,
//!    release and the fence on commits behave exactly as in PostgreSQL, with
//!    the process's monotonic clock as the lease clock — the conformance
//!    suite checks both backends the same way.
//! 4. Cursors are written through [`FileCursorStore`] (the same
//!    `<key>.cursor` files: two checksummed copies overwritten in turn, a
//!    one-line file of the earlier layout still read).

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clickclack_proto::Cursor;
use clickclack_realtime::{CursorStore as _, CursorStoreError, FileCursorStore};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{
    Assignment, BackendKind, Grant, LeaseEpoch, LeaseRow, ReplicaId, ReplicaRow, StateBackend,
    StateError, StateFuture,
};

/// The lock file inside the state directory.
pub const LOCK_FILE_NAME: &str = "gateway.lock";

const GENERATION_FILE_NAME: &str = "gateway.generation";

/// Whether `s` looks like a cursor we would have written.
pub(crate) fn valid_cursor(s: &str) -> bool {
    !s.is_empty() && s.len() <= 1024 && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[derive(Debug, Default)]
struct LeaseState {
    owner: Option<ReplicaId>,
    epoch: i64,
    expires_at: Option<Instant>,
    takeovers: i64,
    last_cursor: Option<String>,
}

#[derive(Debug, Default)]
struct Table {
    leases: HashMap<String, LeaseState>,
    replicas: HashMap<ReplicaId, Instant>,
    next: i64,
}

/// A [`StateBackend`] over files in a state directory, for one process.
#[derive(Debug)]
pub struct FileBackend {
    dir: PathBuf,
    cursors: FileCursorStore,
    generation: i64,
    table: Mutex<Table>,
    // Held for the backend's lifetime: closing it releases the flock.
    _lock: std::fs::File,
}

fn io_err<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> StateError + 'p {
    move |source| StateError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

impl FileBackend {
    /// Creates `dir` if needed and takes its lock.
    ///
    /// # Errors
    /// [`StateError::Locked`] when another process (or another open
    /// `FileBackend`) holds the directory; [`StateError::Io`].
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, StateError> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(dir))
            .await
            .unwrap_or_else(|e| {
                Err(StateError::Io {
                    op: "open",
                    path: String::new(),
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    fn open_blocking(dir: PathBuf) -> Result<Self, StateError> {
        std::fs::create_dir_all(&dir).map_err(io_err("create the directory", &dir))?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let mut lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err("open the lock file", &lock_path))?;
        if !try_lock(&lock).map_err(io_err("lock", &lock_path))? {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(StateError::Locked {
                dir: dir.display().to_string(),
                holder: if holder.is_empty() {
                    "pid unknown".to_owned()
                } else {
                    holder.chars().take(100).collect()
                },
            });
        }
        lock.set_len(0)
            .and_then(|()| lock.rewind())
            .and_then(|()| writeln!(lock, "pid {}", std::process::id()))
            .map_err(io_err("write the lock file", &lock_path))?;
        let generation = bump_generation(&dir)?;
        Ok(FileBackend {
            cursors: FileCursorStore::new(dir.clone()),
            dir,
            generation,
            table: Mutex::new(Table::default()),
            _lock: lock,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cursor store over the same files (for code that predates leases).
    pub fn cursor_store(&self) -> &FileCursorStore {
        &self.cursors
    }
}

#[cfg(unix)]
fn try_lock(file: &std::fs::File) -> std::io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &std::fs::File) -> std::io::Result<bool> {
    Ok(true)
}

/// Reads, increments and atomically rewrites the generation counter.
fn bump_generation(dir: &Path) -> Result<i64, StateError> {
    let path = dir.join(GENERATION_FILE_NAME);
    let previous = match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| StateError::Corrupt {
                what: path.display().to_string(),
            })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    let next = previous.saturating_add(1).min(i64::from(i32::MAX));
    let tmp = dir.join(format!(
        ".{GENERATION_FILE_NAME}.{}.tmp",
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        writeln!(file, "{next}")?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(io_err("write", &path))?;
    Ok(next)
}

fn store_err(e: CursorStoreError) -> StateError {
    match e {
        CursorStoreError::Corrupt { key } => StateError::Corrupt {
            what: format!("the cursor file for {key:?}"),
        },
        CursorStoreError::Io { op, key, source } => StateError::Io {
            op: if op == "load" {
                "load a cursor"
            } else {
                "save a cursor"
            },
            path: key,
            source,
        },
        other => StateError::Corrupt {
            what: other.to_string(),
        },
    }
}

fn ms_until(deadline: Option<Instant>, now: Instant) -> Option<i64> {
    deadline.map(|d| {
        if d >= now {
            i64::try_from((d - now).as_millis()).unwrap_or(i64::MAX)
        } else {
            -i64::try_from((now - d).as_millis()).unwrap_or(i64::MAX)
        }
    })
}

impl LeaseState {
    fn free(&self, now: Instant) -> bool {
        self.owner.is_none() || self.expires_at.is_none_or(|e| e <= now)
    }
}

impl StateBackend for FileBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Files
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn register_accounts<'a>(&'a self, accounts: &'a [String]) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let mut table = self.table.lock().await;
            for account in accounts {
                table.leases.entry(account.clone()).or_default();
            }
            Ok(())
        })
    }

    fn heartbeat<'a>(
        &'a self,
        replica: &'a ReplicaId,
        ttl: Duration,
    ) -> StateFuture<'a, Vec<ReplicaId>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.table.lock().await;
            table.replicas.insert(replica.clone(), now + ttl);
            let mut live: Vec<ReplicaId> = table
                .replicas
                .iter()
                .filter(|(_, e)| **e > now)
                .map(|(r, _)| r.clone())
                .collect();
            live.sort();
            Ok(live)
        })
    }

    fn leave<'a>(&'a self, replica: &'a ReplicaId) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.table.lock().await.replicas.remove(replica);
            Ok(())
        })
    }

    fn claimable<'a>(&'a self, accounts: &'a [String]) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            let now = Instant::now();
            let table = self.table.lock().await;
            let mut free: Vec<String> = accounts
                .iter()
                .filter(|a| table.leases.get(*a).is_some_and(|l| l.free(now)))
                .cloned()
                .collect();
            free.sort();
            free.dedup();
            Ok(free)
        })
    }

    fn acquire<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        ttl: Duration,
    ) -> StateFuture<'a, Option<Grant>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.table.lock().await;
            table.next += 1;
            let n = table.next;
            let Some(lease) = table.leases.get_mut(account) else {
                return Ok(None);
            };
            if !lease.free(now) {
                return Ok(None);
            }
            let previous_owner = lease.owner.take();
            if previous_owner.as_ref().is_some_and(|p| p != replica) {
                lease.takeovers += 1;
            }
            lease.owner = Some(replica.clone());
            lease.epoch = (self.generation << 32) | n;
            lease.expires_at = Some(now + ttl);
            Ok(Some(Grant {
                epoch: LeaseEpoch::new(lease.epoch),
                previous_owner,
            }))
        })
    }

    fn renew<'a>(
        &'a self,
        replica: &'a ReplicaId,
        held: &'a [(String, LeaseEpoch)],
        ttl: Duration,
    ) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.table.lock().await;
            let mut renewed = Vec::new();
            for (account, epoch) in held {
                if let Some(lease) = table.leases.get_mut(account)
                    && lease.epoch == epoch.get()
                    && lease.owner.as_ref() == Some(replica)
                {
                    lease.expires_at = Some(now + ttl);
                    renewed.push(account.clone());
                }
            }
            Ok(renewed)
        })
    }

    fn release<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        epoch: LeaseEpoch,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let mut table = self.table.lock().await;
            if let Some(lease) = table.leases.get_mut(account)
                && lease.epoch == epoch.get()
                && lease.owner.as_ref() == Some(replica)
            {
                lease.owner = None;
                lease.expires_at = Some(Instant::now());
            }
            Ok(())
        })
    }

    fn load_cursor<'a>(
        &'a self,
        _account: &'a str,
        key: &'a str,
    ) -> StateFuture<'a, Option<Cursor>> {
        Box::pin(async move { self.cursors.load(key).await.map_err(store_err) })
    }

    fn commit_cursor<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        epoch: LeaseEpoch,
        key: &'a str,
        cursor: &'a Cursor,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            if !valid_cursor(cursor.as_str()) {
                return Err(StateError::Corrupt {
                    what: format!("a cursor to commit for account \"{account}\""),
                });
            }
            // The table stays locked across the write: an acquisition cannot
            // slip between the fence check and the file rename.
            let mut table = self.table.lock().await;
            let held = table
                .leases
                .get(account)
                .is_some_and(|l| l.epoch == epoch.get() && l.owner.as_ref() == Some(replica));
            if !held {
                return Err(StateError::Fenced {
                    account: account.to_owned(),
                    epoch,
                });
            }
            self.cursors.save(key, cursor).await.map_err(store_err)?;
            if let Some(lease) = table.leases.get_mut(account) {
                lease.last_cursor = Some(cursor.as_str().to_owned());
            }
            Ok(())
        })
    }

    fn assignment(&self) -> StateFuture<'_, Assignment> {
        Box::pin(async move {
            let now = Instant::now();
            let table = self.table.lock().await;
            let mut replicas: Vec<ReplicaRow> = table
                .replicas
                .iter()
                .map(|(r, e)| ReplicaRow {
                    replica: r.clone(),
                    expires_in_ms: ms_until(Some(*e), now).unwrap_or(0),
                })
                .collect();
            replicas.sort_by(|a, b| {
                (b.expires_in_ms > 0)
                    .cmp(&(a.expires_in_ms > 0))
                    .then(a.replica.cmp(&b.replica))
            });
            let mut leases: Vec<LeaseRow> = table
                .leases
                .iter()
                .map(|(account, l)| LeaseRow {
                    account: account.clone(),
                    owner: l.owner.clone(),
                    epoch: LeaseEpoch::new(l.epoch),
                    expires_in_ms: ms_until(l.expires_at, now),
                    takeovers: l.takeovers,
                    cursor: l.last_cursor.clone(),
                })
                .collect();
            leases.sort_by(|a, b| a.account.cmp(&b.account));
            Ok(Assignment { replicas, leases })
        })
    }
}
