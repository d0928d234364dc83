//! Per-account status lifecycle (reference row 23): `starting` → `ready` →
//! `recovering` → `stopped`, logged on every change and queryable.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::watch;

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// Resolving the workspace, the bot identity, the command menu and the start cursor.
    Starting,
    /// The realtime socket is open; events are handled.
    Ready,
    /// The connection was lost; reconnecting with backoff.
    Recovering,
    /// Not running (shut down, or stopped by an error: see [`AccountStatus::last_error`]).
    Stopped,
}

impl Lifecycle {
    /// `starting`, `ready`, `recovering` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Starting => "starting",
            Lifecycle::Ready => "ready",
            Lifecycle::Recovering => "recovering",
            Lifecycle::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of one account's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    /// Account id.
    pub account_id: String,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// Whether the account's task is running.
    pub running: bool,
    /// Whether the realtime socket is open.
    pub connected: bool,
    /// The account's `baseUrl`.
    pub base_url: String,
    /// The resolved workspace id, once known.
    pub workspace_id: Option<String>,
    /// The bot user id, once known.
    pub bot_user_id: Option<String>,
    /// When the socket last opened.
    pub last_connected_at: Option<SystemTime>,
    /// The last error (cleared when the socket opens).
    pub last_error: Option<String>,
}

impl AccountStatus {
    pub(crate) fn new(account_id: &str, base_url: &str) -> Self {
        AccountStatus {
            account_id: account_id.to_owned(),
            lifecycle: Lifecycle::Starting,
            running: true,
            connected: false,
            base_url: base_url.to_owned(),
            workspace_id: None,
            bot_user_id: None,
            last_connected_at: None,
            last_error: None,
        }
    }

    /// One human-readable line, e.g. `[work] ready (workspace wsp_1)`.
    pub fn line(&self) -> String {
        let mut line = format!("[{}] {}", self.account_id, self.lifecycle);
        if let Some(ws) = &self.workspace_id {
            line.push_str(&format!(" workspace={ws}"));
        }
        if let Some(err) = &self.last_error {
            line.push_str(&format!(" error: {err}"));
        }
        line
    }
}

/// The statuses of every account of a gateway, with change notification.
#[derive(Debug, Clone)]
pub struct StatusBoard {
    inner: Arc<Board>,
}

#[derive(Debug)]
struct Board {
    accounts: Mutex<BTreeMap<String, AccountStatus>>,
    changed: watch::Sender<u64>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        let (changed, _) = watch::channel(0);
        StatusBoard {
            inner: Arc::new(Board {
                accounts: Mutex::new(BTreeMap::new()),
                changed,
            }),
        }
    }
}

impl StatusBoard {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, AccountStatus>> {
        self.inner
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an account in `starting`.
    pub(crate) fn register(&self, account_id: &str, base_url: &str) {
        let status = AccountStatus::new(account_id, base_url);
        tracing::info!(account = %account_id, lifecycle = "starting", "[{account_id}] ClickClack account starting");
        self.lock().insert(account_id.to_owned(), status);
        self.inner.changed.send_modify(|n| *n += 1);
    }

    /// Forgets an account (a fleet replica no longer serves it: another
    /// replica holds its lease), so `/healthz` covers only served accounts.
    pub(crate) fn remove(&self, account_id: &str) {
        if self.lock().remove(account_id).is_some() {
            self.inner.changed.send_modify(|n| *n += 1);
        }
    }

    /// Applies `f` to an account's status; logs and notifies when the lifecycle changed.
    pub(crate) fn update(&self, account_id: &str, f: impl FnOnce(&mut AccountStatus)) {
        let changed = {
            let mut accounts = self.lock();
            let Some(status) = accounts.get_mut(account_id) else {
                return;
            };
            let before = status.lifecycle;
            f(status);
            (before != status.lifecycle).then(|| status.clone())
        };
        if let Some(status) = changed {
            match &status.last_error {
                Some(error) if status.lifecycle != Lifecycle::Ready => tracing::warn!(
                    account = %status.account_id,
                    lifecycle = status.lifecycle.as_str(),
                    error = %error,
                    "[{}] ClickClack account {}: {error}",
                    status.account_id,
                    status.lifecycle
                ),
                _ => tracing::info!(
                    account = %status.account_id,
                    lifecycle = status.lifecycle.as_str(),
                    "[{}] ClickClack account {}",
                    status.account_id,
                    status.lifecycle
                ),
            }
        }
        self.inner.changed.send_modify(|n| *n += 1);
    }

    /// Moves an account to `lifecycle`.
    pub(crate) fn set(&self, account_id: &str, lifecycle: Lifecycle, error: Option<String>) {
        self.update(account_id, |s| {
            s.lifecycle = lifecycle;
            match lifecycle {
                Lifecycle::Ready => {
                    s.connected = true;
                    s.running = true;
                    s.last_connected_at = Some(SystemTime::now());
                    s.last_error = None;
                }
                Lifecycle::Recovering => {
                    s.connected = false;
                    if error.is_some() {
                        s.last_error = error;
                    }
                }
                Lifecycle::Starting => {
                    s.running = true;
                    s.connected = false;
                }
                Lifecycle::Stopped => {
                    s.running = false;
                    s.connected = false;
                    if error.is_some() {
                        s.last_error = error;
                    }
                }
            }
        });
    }

    /// One account's status.
    pub fn get(&self, account_id: &str) -> Option<AccountStatus> {
        self.lock().get(account_id).cloned()
    }

    /// Every account's status, by account id.
    pub fn all(&self) -> Vec<AccountStatus> {
        self.lock().values().cloned().collect()
    }

    /// A receiver that changes on every status update.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Waits until there is an account and none is `starting` (checked on
    /// every change, without copying the statuses).
    pub(crate) async fn wait_started(&self) {
        let mut rx = self.subscribe();
        loop {
            {
                let accounts = self.lock();
                if !accounts.is_empty()
                    && accounts
                        .values()
                        .all(|s| s.lifecycle != Lifecycle::Starting)
                {
                    return;
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until `pred` holds for the statuses (checked on every change).
    pub async fn wait_for(&self, mut pred: impl FnMut(&[AccountStatus]) -> bool) {
        let mut rx = self.subscribe();
        loop {
            if pred(&self.all()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}
