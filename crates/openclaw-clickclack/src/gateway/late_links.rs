//! Attachments linked after the create (older servers, reference row 26).
//!
//! A current ClickClack server attaches an upload in the create itself
//! (`upload_id` in the body), so `message.created` already names a message
//! that has its attachments. Older servers did not know `upload_id`: their
//! clients create the message first and link each upload afterwards with
//! `POST /api/messages/{id}/attachments`, and the server emits one
//! `message.updated` per link. A turn started on `message.created` then sees
//! the message without (some of) its attachments.
//!
//! # How the gateway knows a server is old
//!
//! Nothing in the protocol says which kind of server is on the other side,
//! and both look the same for a plain-text message. The reference plugin
//! waits on every message; that costs 1.5 s on every reply from a current
//! server, for a behaviour it never shows. We learn it instead, per account
//! run:
//!
//! 1. Every turn is tracked here from the moment its event is read
//!    ([`LateLinks::register`]) until it ends ([`Registration::finish`]),
//!    and the attachment count of its final fetch is kept for the last
//!    [`MAX_COMPLETED`] finished messages.
//! 2. A `message.updated` for a tracked message whose turn already fetched
//!    it becomes a small job in the same conversation (so it runs after the
//!    turn): re-fetch, and when the message now has more attachments than
//!    the turn processed, warn with the reference's line —
//!    `[<acct>] ClickClack attachment linked after the bounded legacy window; messageId=<id> processed=<n> current=<m>`
//!    — and switch the account to **legacy mode**: this server links
//!    uploads after the create.
//! 3. In legacy mode every new create waits, before its final fetch, for a
//!    quiet window of [`QUIET_WINDOW`] after its last `message.updated`,
//!    at most [`HARD_CAP`] after it was read (the reference's timings). The
//!    window opens when the event is read, not when the turn starts, so
//!    messages queued in one conversation wait side by side, not one after
//!    another. Backlog older than the cap does not wait (its links happened
//!    long ago).
//! 4. At most [`MAX_PENDING`] windows are open; a new one releases the
//!    oldest early. A create for a message that is already tracked or among
//!    the finished ones is a duplicate and is skipped.
//! 5. Shutdown during a wait ends the turn as a replay: its event stays
//!    uncommitted, so the cursor never passes a message that was not
//!    dispatched, and the next start handles it.
//!
//! The price of learning: on an old server the first message whose upload
//! is linked after the turn fetched it is answered without that upload (and
//! the warning says so); every later one waits. On a current server no
//! message ever waits.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_proto::MessageId;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::scheduler::ConversationKey;

/// Quiet time after the last `message.updated` before the final fetch.
pub const QUIET_WINDOW: Duration = Duration::from_millis(1_500);
/// Longest wait of one create, from the moment its event was read.
pub const HARD_CAP: Duration = Duration::from_millis(5_000);
/// Most windows open at once; the oldest is released early.
pub const MAX_PENDING: usize = 512;
/// Finished messages remembered (duplicate creates, late links).
pub const MAX_COMPLETED: usize = 1_024;

/// The reference's warning for an upload linked after the turn fetched the message.
pub fn late_link_log_line(
    account_id: &str,
    message_id: &str,
    processed: usize,
    current: usize,
) -> String {
    format!(
        "[{account_id}] ClickClack attachment linked after the bounded legacy window; messageId={message_id} processed={processed} current={current}"
    )
}

/// The wait state of one create in legacy mode.
#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    last_update: Instant,
    released: bool,
}

impl Window {
    fn ends_at(&self) -> Instant {
        (self.last_update + QUIET_WINDOW).min(self.opened + HARD_CAP)
    }
}

#[derive(Debug)]
struct Tracked {
    generation: u64,
    conversation: ConversationKey,
    /// Open while the create waits; `None` once fetched (or never, outside legacy mode).
    window: Option<watch::Sender<Window>>,
    /// Attachments in the final fetch.
    fetched: Option<usize>,
}

#[derive(Debug)]
struct Finished {
    conversation: ConversationKey,
    attachments: usize,
}

#[derive(Debug, Default)]
struct Inner {
    next_generation: u64,
    tracked: HashMap<MessageId, Tracked>,
    /// Open windows, oldest first (may hold ids whose window already closed).
    waiting: VecDeque<(MessageId, u64)>,
    finished: HashMap<MessageId, Finished>,
    finished_order: VecDeque<MessageId>,
}

impl Inner {
    fn open_windows(&self) -> usize {
        self.tracked.values().filter(|t| t.window.is_some()).count()
    }

    /// Releases the oldest open window.
    fn release_oldest(&mut self) {
        while let Some((id, generation)) = self.waiting.pop_front() {
            if let Some(t) = self.tracked.get_mut(&id)
                && t.generation == generation
                && let Some(window) = t.window.take()
            {
                window.send_modify(|w| w.released = true);
                return;
            }
        }
    }

    fn remember(&mut self, id: MessageId, finished: Finished) {
        if self.finished.insert(id.clone(), finished).is_none() {
            self.finished_order.push_back(id);
        }
        while self.finished.len() > MAX_COMPLETED {
            let Some(oldest) = self.finished_order.pop_front() else {
                break;
            };
            self.finished.remove(&oldest);
        }
    }
}

/// The late-link tracker of one account run (see the module docs).
#[derive(Debug, Default)]
pub struct LateLinks {
    legacy: AtomicBool,
    inner: Mutex<Inner>,
}

/// What a `message.updated` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateAction {
    /// A waiting create's window restarted: nothing else to do.
    Coalesced,
    /// Re-fetch the message in this conversation (after its turn) and
    /// report to [`LateLinks::checked`].
    Check(ConversationKey),
    /// Not a message this account is handling: nothing to do.
    Ignore,
}

/// How a create goes on after [`LateLinks::register`].
#[derive(Debug)]
enum Admission {
    /// Fetch now.
    Now,
    /// Fetch when [`Registration::wait`] returns.
    Wait(watch::Receiver<Window>),
    /// Already tracked or finished: skip.
    Duplicate,
}

/// One create's place in the tracker; dropping it unfinished forgets the
/// message (its turn will be replayed).
#[derive(Debug)]
pub struct Registration {
    links: Arc<LateLinks>,
    message_id: MessageId,
    generation: u64,
    admission: Admission,
    done: bool,
}

impl LateLinks {
    /// A tracker in current-server mode.
    pub fn new() -> Arc<Self> {
        Arc::new(LateLinks::default())
    }

    /// Whether this server was seen linking uploads after the create.
    pub fn is_legacy(&self) -> bool {
        self.legacy.load(Ordering::Relaxed)
    }

    /// Switches to legacy mode; `true` the first time.
    pub fn learn_legacy(&self) -> bool {
        !self.legacy.swap(true, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tracks a create read now. `age` is how old the message already is
    /// (backlog older than [`HARD_CAP`] never waits).
    pub fn register(
        self: &Arc<Self>,
        message_id: &MessageId,
        conversation: ConversationKey,
        age: Duration,
    ) -> Registration {
        let mut inner = self.lock();
        inner.next_generation += 1;
        let generation = inner.next_generation;
        let duplicate =
            inner.tracked.contains_key(message_id) || inner.finished.contains_key(message_id);
        let admission = if duplicate {
            Admission::Duplicate
        } else {
            let window = (self.is_legacy() && age < HARD_CAP).then(|| {
                let now = Instant::now();
                watch::channel(Window {
                    opened: now,
                    last_update: now,
                    released: false,
                })
            });
            if window.is_some() && inner.open_windows() >= MAX_PENDING {
                inner.release_oldest();
            }
            let (sender, admission) = match window {
                Some((tx, rx)) => {
                    inner.waiting.push_back((message_id.clone(), generation));
                    (Some(tx), Admission::Wait(rx))
                }
                None => (None, Admission::Now),
            };
            inner.tracked.insert(
                message_id.clone(),
                Tracked {
                    generation,
                    conversation,
                    window: sender,
                    fetched: None,
                },
            );
            admission
        };
        drop(inner);
        Registration {
            links: Arc::clone(self),
            message_id: message_id.clone(),
            generation,
            done: matches!(admission, Admission::Duplicate),
            admission,
        }
    }

    /// A `message.updated` for `message_id` was read.
    pub fn updated(&self, message_id: &MessageId) -> UpdateAction {
        let inner = self.lock();
        if let Some(tracked) = inner.tracked.get(message_id) {
            if let Some(window) = &tracked.window {
                window.send_modify(|w| w.last_update = Instant::now());
                return UpdateAction::Coalesced;
            }
            return UpdateAction::Check(tracked.conversation.clone());
        }
        match inner.finished.get(message_id) {
            Some(finished) => UpdateAction::Check(finished.conversation.clone()),
            None => UpdateAction::Ignore,
        }
    }

    /// The check of [`UpdateAction::Check`]: the message now has `current`
    /// attachments. `Some(processed)` when that is more than its turn
    /// processed (the count is then raised, so one link warns once).
    pub fn checked(&self, message_id: &MessageId, current: usize) -> Option<usize> {
        let mut inner = self.lock();
        let processed = if let Some(finished) = inner.finished.get_mut(message_id) {
            &mut finished.attachments
        } else {
            inner.tracked.get_mut(message_id)?.fetched.as_mut()?
        };
        if current > *processed {
            let before = *processed;
            *processed = current;
            Some(before)
        } else {
            None
        }
    }

    #[cfg(test)]
    fn tracked_len(&self) -> usize {
        self.lock().tracked.len()
    }
}

impl Registration {
    /// Whether this create is a duplicate to skip.
    pub fn is_duplicate(&self) -> bool {
        matches!(self.admission, Admission::Duplicate)
    }

    /// Whether [`Registration::wait`] waits (legacy mode).
    pub fn waits(&self) -> bool {
        matches!(self.admission, Admission::Wait(_))
    }

    /// Waits for the quiet window (legacy mode only). Cancel-safe: dropping
    /// the future leaves the registration as it was.
    pub async fn wait(&self) {
        let Admission::Wait(rx) = &self.admission else {
            return;
        };
        let mut rx = rx.clone();
        loop {
            let window = *rx.borrow_and_update();
            if window.released || Instant::now() >= window.ends_at() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(window.ends_at()) => {}
                changed = rx.changed() => {
                    if changed.is_err() {
                        // The window was closed (released): fetch now.
                        return;
                    }
                }
            }
        }
    }

    /// The final fetch saw `attachments`: the window closes, and later
    /// updates are checked against this count.
    pub fn fetched(&self, attachments: usize) {
        let mut inner = self.links.lock();
        if let Some(t) = inner.tracked.get_mut(&self.message_id)
            && t.generation == self.generation
        {
            t.window = None;
            t.fetched = Some(attachments);
        }
    }

    /// The turn ended: `handled` (answered, failed visibly or skipped)
    /// remembers the message as finished; otherwise (a replay) it is forgotten.
    pub fn finish(mut self, handled: bool) {
        self.done = true;
        self.release(handled);
    }

    fn release(&self, handled: bool) {
        let mut inner = self.links.lock();
        let ours = inner
            .tracked
            .get(&self.message_id)
            .is_some_and(|t| t.generation == self.generation);
        if !ours {
            return;
        }
        let Some(tracked) = inner.tracked.remove(&self.message_id) else {
            return;
        };
        if handled {
            let finished = Finished {
                conversation: tracked.conversation,
                attachments: tracked.fetched.unwrap_or(0),
            };
            inner.remember(self.message_id.clone(), finished);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.done {
            self.release(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> MessageId {
        MessageId::from(format!("msg_{n}"))
    }

    fn key() -> ConversationKey {
        ConversationKey::channel("chn_1")
    }

    /// Runs `wait` and returns how long it took (paused time: exact).
    async fn waited(reg: &Registration) -> Duration {
        let start = Instant::now();
        reg.wait().await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn current_servers_never_wait_and_late_links_switch_to_legacy() {
        let links = LateLinks::new();
        let reg = links.register(&id(1), key(), Duration::ZERO);
        assert_eq!(waited(&reg).await, Duration::ZERO);
        reg.fetched(0);
        reg.finish(true);
        // An update after the turn: checked; a higher count warns once.
        assert_eq!(links.updated(&id(1)), UpdateAction::Check(key()));
        assert_eq!(links.checked(&id(1), 1), Some(0));
        assert_eq!(links.checked(&id(1), 1), None);
        assert!(links.learn_legacy());
        assert!(!links.learn_legacy());
        assert_eq!(
            late_link_log_line("default", "msg_1", 0, 1),
            "[default] ClickClack attachment linked after the bounded legacy window; messageId=msg_1 processed=0 current=1"
        );
        // Updates of unknown messages (edits, the bot's own rows) do nothing.
        assert_eq!(links.updated(&id(9)), UpdateAction::Ignore);
    }

    #[tokio::test(start_paused = true)]
    async fn legacy_creates_wait_for_quiet_after_the_last_update_up_to_the_cap() {
        let links = LateLinks::new();
        links.learn_legacy();
        // No update: the quiet window after the create.
        let plain = links.register(&id(1), key(), Duration::ZERO);
        assert_eq!(waited(&plain).await, QUIET_WINDOW);

        // An update 1 s in restarts the window.
        let reg = links.register(&id(2), key(), Duration::ZERO);
        let updater = {
            let links = Arc::clone(&links);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                assert_eq!(links.updated(&id(2)), UpdateAction::Coalesced);
            })
        };
        assert_eq!(waited(&reg).await, Duration::from_millis(2_500));
        updater.await.expect("updater");

        // Updates every second never go quiet: the cap ends the wait.
        let capped = links.register(&id(3), key(), Duration::ZERO);
        let updater = {
            let links = Arc::clone(&links);
            tokio::spawn(async move {
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    links.updated(&id(3));
                }
            })
        };
        assert_eq!(waited(&capped).await, HARD_CAP);
        updater.abort();

        // Backlog older than the cap does not wait.
        let old = links.register(&id(4), key(), HARD_CAP);
        assert_eq!(waited(&old).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_window_is_released_when_too_many_are_open() {
        let links = LateLinks::new();
        links.learn_legacy();
        let regs: Vec<_> = (0..MAX_PENDING)
            .map(|n| links.register(&id(n), key(), Duration::ZERO))
            .collect();
        let newest = links.register(&id(MAX_PENDING), key(), Duration::ZERO);
        assert_eq!(waited(&regs[0]).await, Duration::ZERO, "oldest released");
        assert_eq!(waited(&newest).await, QUIET_WINDOW);
        assert_eq!(
            waited(&regs[1]).await,
            Duration::ZERO,
            "the window is over by now"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn duplicates_are_skipped_and_replays_forgotten() {
        let links = LateLinks::new();
        let reg = links.register(&id(1), key(), Duration::ZERO);
        assert!(links.register(&id(1), key(), Duration::ZERO).is_duplicate());
        // Dropped unfinished (deferred job, replay): forgotten, not finished.
        drop(reg);
        assert_eq!(links.tracked_len(), 0);
        let reg = links.register(&id(1), key(), Duration::ZERO);
        assert!(!reg.is_duplicate());
        reg.finish(false);
        let reg = links.register(&id(1), key(), Duration::ZERO);
        reg.fetched(2);
        reg.finish(true);
        assert!(links.register(&id(1), key(), Duration::ZERO).is_duplicate());
        // The finished set is bounded.
        for n in 2..MAX_COMPLETED + 2 {
            links.register(&id(n), key(), Duration::ZERO).finish(true);
        }
        assert!(!links.register(&id(1), key(), Duration::ZERO).is_duplicate());
        assert_eq!(
            links.updated(&id(MAX_COMPLETED)),
            UpdateAction::Check(key())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_keeps_the_message_tracked_until_the_turn_ends() {
        let links = LateLinks::new();
        links.learn_legacy();
        let reg = links.register(&id(1), key(), Duration::ZERO);
        let cut = tokio::time::timeout(Duration::from_millis(100), reg.wait()).await;
        assert!(cut.is_err());
        assert_eq!(links.updated(&id(1)), UpdateAction::Coalesced);
        reg.finish(false);
        assert_eq!(links.updated(&id(1)), UpdateAction::Ignore);
    }
}
