//! The realtime hub: durable wake-ups per workspace (coalescing `watch`),
//! the registry of open sockets, ephemeral fan-out and forced closes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};

use crate::store::log::LoggedEvent;

/// Capacity of each socket's ephemeral queue (protocol.md §7.6).
pub(crate) const EPHEMERAL_BUFFER: usize = 32;

/// Reason used when the ephemeral queue overflows.
pub(crate) const OVERFLOW_REASON: &str =
    "realtime buffer overflow; reconnect with after_cursor to replay";
/// Reason used when a bot token is revoked.
pub(crate) const TOKEN_REVOKED_REASON: &str = "bot token revoked; reconnect with a valid token";
/// Reason used when a session is revoked.
pub(crate) const SESSION_REVOKED_REASON: &str = "session revoked; sign in again";
/// Reason used when a bot loses workspace access.
pub(crate) const ACCESS_REVOKED_REASON: &str = "workspace access revoked";
/// Reason for every 4001 close.
pub(crate) const RESYNC_REASON: &str = "realtime replay limit exceeded; resync required";
/// Reason when the client sends a data frame.
pub(crate) const DATA_FRAME_REASON: &str = "unexpected data message";

/// How a socket is told to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kill {
    /// Send a close frame with this code and reason, then end.
    Close(u16, String),
    /// End abruptly, without a close frame.
    Drop,
}

/// What the hub keeps per open socket.
#[derive(Debug)]
struct ConnHandle {
    workspace_id: String,
    user_id: String,
    credential_id: String,
    ephemeral: mpsc::Sender<Arc<LoggedEvent>>,
    kill: watch::Sender<Option<Kill>>,
}

/// The receiving side a socket task holds.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) id: u64,
    pub(crate) wake: watch::Receiver<u64>,
    pub(crate) ephemeral: mpsc::Receiver<Arc<LoggedEvent>>,
    pub(crate) kill: watch::Receiver<Option<Kill>>,
    pub(crate) paused: watch::Receiver<bool>,
}

/// The realtime hub.
#[derive(Debug)]
pub(crate) struct Hub {
    wakers: Mutex<HashMap<String, watch::Sender<u64>>>,
    conns: Mutex<HashMap<u64, ConnHandle>>,
    next_id: AtomicU64,
    paused: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            wakers: Mutex::default(),
            conns: Mutex::default(),
            next_id: AtomicU64::new(1),
            paused: watch::channel(false).0,
        }
    }
}

impl Hub {
    /// Wakes every socket of `workspace_id` to drain new durable events.
    pub(crate) fn wake(&self, workspace_id: &str) {
        if let Some(tx) = lock(&self.wakers).get(workspace_id) {
            tx.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// Registers a socket.
    pub(crate) fn subscribe(
        &self,
        workspace_id: &str,
        user_id: &str,
        credential_id: &str,
    ) -> Subscription {
        let wake = lock(&self.wakers)
            .entry(workspace_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        let (etx, erx) = mpsc::channel(EPHEMERAL_BUFFER);
        let (ktx, krx) = watch::channel(None);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(
            id,
            ConnHandle {
                workspace_id: workspace_id.to_owned(),
                user_id: user_id.to_owned(),
                credential_id: credential_id.to_owned(),
                ephemeral: etx,
                kill: ktx,
            },
        );
        Subscription {
            id,
            wake,
            ephemeral: erx,
            kill: krx,
            paused: self.paused.subscribe(),
        }
    }

    /// Removes a socket from the registry.
    pub(crate) fn unsubscribe(&self, id: u64) {
        lock(&self.conns).remove(&id);
    }

    /// Number of open sockets.
    pub(crate) fn open_count(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Pushes a cursorless event to every socket of the workspace that may
    /// see it; a full queue ends that socket with 1013.
    pub(crate) fn publish_ephemeral(&self, workspace_id: &str, event: Arc<LoggedEvent>) {
        let conns = lock(&self.conns);
        for conn in conns.values() {
            if conn.workspace_id != workspace_id || !event.visibility.allows(&conn.user_id) {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = conn.ephemeral.try_send(event.clone())
            {
                kill_once(&conn.kill, Kill::Close(1013, OVERFLOW_REASON.to_owned()));
            }
        }
    }

    /// Ends every socket opened with `credential_id`.
    pub(crate) fn kill_credential(&self, credential_id: &str, kill: Kill) {
        for conn in lock(&self.conns).values() {
            if conn.credential_id == credential_id {
                kill_once(&conn.kill, kill.clone());
            }
        }
    }

    /// Ends every socket of `user_id` in `workspace_id`.
    pub(crate) fn kill_user(&self, workspace_id: &str, user_id: &str, kill: Kill) {
        for conn in lock(&self.conns).values() {
            if conn.workspace_id == workspace_id && conn.user_id == user_id {
                kill_once(&conn.kill, kill.clone());
            }
        }
    }

    /// Ends every socket.
    pub(crate) fn kill_all(&self, kill: Kill) {
        for conn in lock(&self.conns).values() {
            kill_once(&conn.kill, kill.clone());
        }
    }

    /// Pauses or resumes delivery on every socket (used to force overflow).
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }
}

fn kill_once(tx: &watch::Sender<Option<Kill>>, kill: Kill) {
    tx.send_if_modified(|slot| {
        if slot.is_none() {
            *slot = Some(kill);
            true
        } else {
            false
        }
    });
}
