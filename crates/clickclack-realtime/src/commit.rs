//! The committed cursor: what the consumer has finished, and where reconnects resume.
//!
//! # Coalesced persistence
//!
//! [`Shared::commit`] moves the cursor in memory; the cursor store is written
//! at most once per flush interval ([`RealtimeOptions::cursor_flush_interval`](crate::RealtimeOptions::cursor_flush_interval)):
//!
//! 1. A commit after a quiet interval is persisted at once (leading edge).
//! 2. Commits within the interval only mark the cursor dirty; one delayed
//!    flush is scheduled for the end of the interval (trailing edge), and
//!    persists the *latest* committed cursor.
//! 3. [`Shared::flush`] (public as `RealtimeStream::flush` / `Committer::flush`)
//!    persists now; call it before a graceful shutdown.
//!
//! Crash safety: only a cursor the consumer committed (every event up to it
//! is done) is ever persisted, so a crash redelivers at most the commits of
//! the last interval and never skips an event. A re-anchor *ahead* of the
//! last cursor the consumer committed is kept in memory only, however many
//! resyncs repeat it (see [`Shared::reanchor`]); a pending commit below it is
//! flushed before the anchor replaces it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clickclack_proto::Cursor;
use tokio::time::Instant;

use crate::cursor_store::CursorStore;
use crate::error::Error;

#[derive(Debug, Default)]
struct Cursors {
    /// The last cursor the consumer committed, the start cursor, or the
    /// latest re-anchor. Reconnects resume after it.
    committed: Option<Cursor>,
    /// The newest cursor that may be stored: every event up to it is done
    /// (the start cursor, a consumer commit, or an anchor behind them). An
    /// anchor ahead of it lives in `committed` only, however many resyncs
    /// repeat it, until the consumer commits past it.
    done: Option<Cursor>,
    /// The highest durable cursor the stream has handed out since the last
    /// (re-)anchor. A commit above it cannot name a handled event (it would
    /// be a stale cursor from before a re-anchor) and is ignored.
    /// Kept as a reused buffer: it moves on every event.
    yielded: Option<String>,
    /// `committed` is a consumer commit that is not persisted yet.
    dirty: bool,
    /// A trailing flush is scheduled.
    flush_scheduled: bool,
    /// When a commit was last persisted (for the leading edge).
    last_flush: Option<Instant>,
}

/// Sets `slot` to `cursor`, reusing the old cursor's allocation.
fn set_reusing(slot: &mut Option<Cursor>, cursor: &Cursor) {
    let mut buf = slot.take().map(Cursor::into_string).unwrap_or_default();
    buf.clear();
    buf.push_str(cursor.as_str());
    *slot = Some(Cursor::from(buf));
}

/// State shared by the consumer side, the connection driver and [`Committer`]s.
#[derive(Debug)]
pub(crate) struct Shared {
    cursors: Mutex<Cursors>,
    /// Serializes saves so the stored cursor only moves the way the
    /// in-memory one did.
    save_lock: tokio::sync::Mutex<()>,
    store: Arc<dyn CursorStore>,
    key: String,
    /// Zero: every commit is persisted before it returns.
    flush_interval: Duration,
}

impl Shared {
    pub(crate) fn new(
        store: Arc<dyn CursorStore>,
        key: String,
        committed: Option<Cursor>,
        flush_interval: Duration,
    ) -> Self {
        Self {
            cursors: Mutex::new(Cursors {
                yielded: committed.as_ref().map(|c| c.as_str().to_owned()),
                done: committed.clone(),
                committed,
                ..Cursors::default()
            }),
            save_lock: tokio::sync::Mutex::new(()),
            store,
            key,
            flush_interval,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cursors> {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last committed cursor: where a new connection resumes.
    pub(crate) fn committed(&self) -> Option<Cursor> {
        self.lock().committed.clone()
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Records that the consumer was handed the durable event `cursor`
    /// (no allocation once the buffer has grown to a cursor's length).
    pub(crate) fn yielded(&self, cursor: &Cursor) {
        let mut c = self.lock();
        match &mut c.yielded {
            Some(y) if cursor.as_str() > y.as_str() => {
                y.clear();
                y.push_str(cursor.as_str());
            }
            Some(_) => {}
            slot @ None => *slot = Some(cursor.as_str().to_owned()),
        }
    }

    /// Replaces the cursor with `anchor` — even when that moves it
    /// backwards (a server restored from an older backup) — and persists it.
    /// Commits of cursors above `anchor` that were handed out before are
    /// ignored from now on.
    ///
    /// An anchor *ahead* of the finished work (the last cursor the consumer
    /// committed, not an earlier anchor) is kept in memory only: the consumer
    /// may still be filling the gap between the two, and a restart before it
    /// commits past the anchor must see that gap again (it resumes from the
    /// old cursor, gets a new `Resync` and backfills). The stored cursor moves
    /// as the consumer commits the gap's events (read over REST) and the
    /// anchor itself, or an event after it. A second resync
    /// that finds the same tail is still ahead of the finished work, so it is
    /// not stored either. A commit not yet persisted is flushed first (it is
    /// done work).
    pub(crate) async fn reanchor(&self, anchor: &Cursor) -> Result<(), Error> {
        let _guard = self.save_lock.lock().await;
        let (ahead, pending) = {
            let mut c = self.lock();
            let ahead = c.done.as_ref().is_some_and(|done| anchor > done);
            let pending = if c.dirty && ahead {
                c.done.clone()
            } else {
                None
            };
            c.dirty = false;
            c.committed = Some(anchor.clone());
            c.yielded = Some(anchor.as_str().to_owned());
            if !ahead {
                c.done = Some(anchor.clone());
            }
            (ahead, pending)
        };
        if let Some(pending) = pending {
            self.store.save(&self.key, &pending).await?;
        }
        if !ahead {
            self.store.save(&self.key, anchor).await?;
        }
        Ok(())
    }

    /// After the consumer took a `Resync` item: nothing handed out before
    /// it may be committed past `anchor`.
    pub(crate) fn forget_yielded_above(&self, anchor: &Cursor) {
        let mut c = self.lock();
        if c.yielded.as_deref().is_some_and(|y| y > anchor.as_str()) {
            c.yielded = Some(anchor.as_str().to_owned());
        }
    }

    /// Commits `cursor` if it moves forward and the stream handed it out,
    /// and persists it now or with the next coalesced flush (module docs).
    /// Returns whether it moved.
    pub(crate) async fn commit(self: &Arc<Self>, cursor: &Cursor) -> Result<bool, Error> {
        if cursor.as_str().is_empty() {
            return Ok(false);
        }
        let flush_now = {
            let mut c = self.lock();
            let past_committed = c.committed.as_ref().is_none_or(|old| cursor > old);
            // Below an anchor that is ahead of the finished work: the
            // consumer finished part of the gap (or all of it, at the anchor).
            let past_done = c.done.as_ref().is_none_or(|done| cursor > done);
            if !past_committed && !past_done {
                return Ok(false);
            }
            if c.yielded.as_deref().is_some_and(|y| cursor.as_str() > y) {
                tracing::debug!(cursor = %cursor, "realtime commit ignored: the stream never yielded this cursor (stale after a resync?)");
                return Ok(false);
            }
            if past_committed {
                set_reusing(&mut c.committed, cursor);
            }
            set_reusing(&mut c.done, cursor);
            c.dirty = true;
            if self.flush_interval.is_zero() {
                true
            } else if c.flush_scheduled {
                false
            } else {
                let now = Instant::now();
                let due = c
                    .last_flush
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.flush_interval);
                if due {
                    true
                } else {
                    let at = c.last_flush.map_or(now, |t| t + self.flush_interval);
                    c.flush_scheduled = self.schedule_flush(at);
                    // Without a runtime to flush later, write now.
                    !c.flush_scheduled
                }
            }
        };
        if flush_now {
            self.flush().await?;
        }
        Ok(true)
    }

    /// 2.: spawns one delayed flush at `at`; `false` outside a runtime.
    fn schedule_flush(self: &Arc<Self>, at: Instant) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            if let Err(e) = shared.flush().await {
                tracing::warn!(key = %shared.key, error = %e, "realtime cursor flush failed; the next commit or flush retries");
            }
        });
        true
    }

    /// Persists the latest committed cursor if it is not yet stored.
    /// Cancel-safe: the cursor counts as stored only once the save returned.
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let _guard = self.save_lock.lock().await;
        let cursor = {
            let mut c = self.lock();
            c.flush_scheduled = false;
            if !c.dirty {
                return Ok(());
            }
            c.last_flush = Some(Instant::now());
            // The finished work, never an anchor ahead of it.
            c.done.clone()
        };
        let Some(cursor) = cursor else { return Ok(()) };
        self.store.save(&self.key, &cursor).await?;
        // A commit that arrived during the save stays dirty (its flush is
        // scheduled: it saw this flush's `last_flush`).
        let mut c = self.lock();
        if c.done.as_ref() == Some(&cursor) {
            c.dirty = false;
        }
        Ok(())
    }
}

/// A cloneable handle to commit cursors of a [`RealtimeStream`](crate::RealtimeStream)
/// from another task (for example the worker that finished handling an event).
#[derive(Debug, Clone)]
pub struct Committer {
    pub(crate) shared: Arc<Shared>,
}

impl Committer {
    /// Records that every durable event up to and including `cursor` is handled,
    /// and persists it in the cursor store — at once after a quiet
    /// [flush interval](crate::RealtimeOptions::cursor_flush_interval), else
    /// with the flush at the end of the interval. Older or empty cursors are
    /// ignored, and so is a cursor the stream has not yielded since its last
    /// [`Resync`](crate::RealtimeItem::Resync) (it cannot name a handled
    /// event; committing it could move the cursor past the server's tail).
    ///
    /// # Errors
    ///
    /// [`Error::CursorStore`] if persisting failed (the in-memory commit still
    /// applies to reconnects of this stream).
    pub async fn commit(&self, cursor: &Cursor) -> Result<(), Error> {
        self.shared.commit(cursor).await.map(|_| ())
    }

    /// The last committed cursor.
    pub fn committed(&self) -> Option<Cursor> {
        self.shared.committed()
    }

    /// Persists the last committed cursor now if it is not stored yet (call
    /// it before a graceful shutdown; a crash without it redelivers at most
    /// the commits of the last flush interval).
    ///
    /// # Errors
    ///
    /// [`Error::CursorStore`] if persisting failed.
    pub async fn flush(&self) -> Result<(), Error> {
        self.shared.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor_store::MemoryCursorStore;

    fn c(s: &str) -> Cursor {
        Cursor::new(s)
    }

    /// The commit state of key `k` in `store`, resuming after `resume`.
    fn shared_over(store: &MemoryCursorStore, resume: &str, flush: Duration) -> Arc<Shared> {
        Arc::new(Shared::new(
            Arc::new(store.clone()),
            "k".into(),
            Some(c(resume)),
            flush,
        ))
    }

    #[tokio::test]
    async fn commits_only_move_forward_within_what_was_yielded_and_are_saved() {
        let store = MemoryCursorStore::new();
        let shared = shared_over(&store, "cur_05", Duration::ZERO);
        assert!(!shared.commit(&c("cur_04")).await.expect("commit"));
        assert!(!shared.commit(&c("")).await.expect("commit"));
        // Never yielded: ignored.
        assert!(!shared.commit(&c("cur_06")).await.expect("commit"));
        assert_eq!(store.get("k"), None);
        shared.yielded(&c("cur_07"));
        assert!(shared.commit(&c("cur_06")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_06")));
        assert_eq!(shared.committed(), Some(c("cur_06")));
    }

    #[tokio::test]
    async fn reanchor_moves_backwards_persists_and_fences_stale_commits() {
        let store = MemoryCursorStore::new();
        let shared = shared_over(&store, "cur_90", Duration::ZERO);
        shared.yielded(&c("cur_95"));
        shared.reanchor(&c("cur_10")).await.expect("reanchor");
        assert_eq!(shared.committed(), Some(c("cur_10")));
        assert_eq!(store.get("k"), Some(c("cur_10")));
        // A stale cursor from before the re-anchor cannot move it ahead again.
        assert!(!shared.commit(&c("cur_95")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_10")));
        shared.yielded(&c("cur_11"));
        assert!(shared.commit(&c("cur_11")).await.expect("commit"));
        shared.forget_yielded_above(&c("cur_11"));
        assert!(!shared.commit(&c("cur_12")).await.expect("commit"));
    }

    #[tokio::test]
    async fn reanchor_ahead_keeps_the_stored_cursor_until_the_consumer_finishes_work() {
        let store = MemoryCursorStore::new();
        store.save("k", &c("cur_10")).await.expect("save");
        let shared = shared_over(&store, "cur_10", Duration::ZERO);
        shared.reanchor(&c("cur_50")).await.expect("reanchor");
        // Reconnects resume after the anchor ...
        assert_eq!(shared.committed(), Some(c("cur_50")));
        // ... but a restart still sees the gap from the old cursor.
        assert_eq!(store.get("k"), Some(c("cur_10")));
        // A finished gap event below the anchor is stored (everything up to
        // it is done); reconnects still resume after the anchor.
        assert!(shared.commit(&c("cur_20")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_20")));
        assert_eq!(shared.committed(), Some(c("cur_50")));
        shared.yielded(&c("cur_51"));
        assert!(shared.commit(&c("cur_51")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_51")));
    }

    /// Two resyncs in a row with no event in between (the tail did not move):
    /// the second anchor equals the first, which was never committed by the
    /// consumer. The store must keep the old cursor until the gap is done.
    #[tokio::test]
    async fn a_repeated_anchor_ahead_of_finished_work_is_not_persisted() {
        let store = MemoryCursorStore::new();
        store.save("k", &c("cur_10")).await.expect("save");
        let shared = shared_over(&store, "cur_10", Duration::ZERO);
        shared.yielded(&c("cur_20"));
        shared.reanchor(&c("cur_50")).await.expect("first resync");
        shared.reanchor(&c("cur_50")).await.expect("second resync");
        assert_eq!(shared.committed(), Some(c("cur_50")));
        assert_eq!(store.get("k"), Some(c("cur_10")), "the gap is not done");
        // An older anchor that is still ahead of the finished work: memory only.
        shared.reanchor(&c("cur_40")).await.expect("third resync");
        assert_eq!(shared.committed(), Some(c("cur_40")));
        assert_eq!(store.get("k"), Some(c("cur_10")));
        // A commit past the anchor is finished work: stored.
        shared.yielded(&c("cur_41"));
        assert!(shared.commit(&c("cur_41")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_41")));
        // Behind the finished work (a server restored from a backup): stored.
        shared.reanchor(&c("cur_05")).await.expect("backwards");
        assert_eq!(store.get("k"), Some(c("cur_05")));
    }

    #[tokio::test(start_paused = true)]
    async fn commits_within_an_interval_are_coalesced_and_never_pass_a_commit() {
        let store = MemoryCursorStore::new();
        let interval = Duration::from_millis(200);
        let shared = shared_over(&store, "cur_00", interval);
        shared.yielded(&c("cur_09"));
        // 1. Leading edge: the first commit is written at once.
        assert!(shared.commit(&c("cur_01")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_01")));
        // 2. Within the interval: memory moves, the store waits.
        assert!(shared.commit(&c("cur_02")).await.expect("commit"));
        assert!(shared.commit(&c("cur_03")).await.expect("commit"));
        assert_eq!(shared.committed(), Some(c("cur_03")));
        assert_eq!(store.get("k"), Some(c("cur_01")));
        // The trailing flush writes the newest commit, and only that.
        tokio::time::sleep(interval).await;
        tokio::task::yield_now().await;
        assert_eq!(store.get("k"), Some(c("cur_03")));
        // 3. An explicit flush persists what is pending now.
        assert!(shared.commit(&c("cur_04")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_03")));
        shared.flush().await.expect("flush");
        assert_eq!(store.get("k"), Some(c("cur_04")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_commit_is_persisted_before_an_anchor_ahead_replaces_it_in_memory() {
        let store = MemoryCursorStore::new();
        let shared = shared_over(&store, "cur_10", Duration::from_secs(60));
        shared.yielded(&c("cur_15"));
        assert!(shared.commit(&c("cur_11")).await.expect("commit"));
        assert!(shared.commit(&c("cur_12")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_11")));
        shared.reanchor(&c("cur_50")).await.expect("reanchor");
        // The done work is stored; the anchor is not (the gap is not done).
        assert_eq!(store.get("k"), Some(c("cur_12")));
        assert_eq!(shared.committed(), Some(c("cur_50")));
        shared.flush().await.expect("flush");
        assert_eq!(store.get("k"), Some(c("cur_12")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_gap_below_an_anchor_ahead_is_stored_as_it_is_finished() {
        let store = MemoryCursorStore::new();
        let shared = shared_over(&store, "cur_10", Duration::ZERO);
        shared.yielded(&c("cur_12"));
        assert!(shared.commit(&c("cur_12")).await.expect("commit"));
        shared.reanchor(&c("cur_50")).await.expect("reanchor");
        shared.forget_yielded_above(&c("cur_50"));
        assert_eq!(store.get("k"), Some(c("cur_12")));
        // The consumer reads the gap over REST and commits it in order: the
        // finished part is stored, reconnects still resume at the anchor.
        assert!(shared.commit(&c("cur_30")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_30")));
        assert_eq!(shared.committed(), Some(c("cur_50")));
        // A second resync to the same tail stores nothing ahead of the work.
        shared.reanchor(&c("cur_50")).await.expect("reanchor");
        assert_eq!(store.get("k"), Some(c("cur_30")));
        // Committing the anchor itself finishes the gap.
        assert!(shared.commit(&c("cur_50")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_50")));
        assert!(!shared.commit(&c("cur_40")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_50")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_commit_ahead_of_a_backwards_anchor_is_dropped() {
        let store = MemoryCursorStore::new();
        let shared = shared_over(&store, "cur_10", Duration::from_secs(60));
        shared.yielded(&c("cur_15"));
        assert!(shared.commit(&c("cur_11")).await.expect("commit"));
        assert!(shared.commit(&c("cur_12")).await.expect("commit"));
        shared.reanchor(&c("cur_05")).await.expect("reanchor");
        assert_eq!(store.get("k"), Some(c("cur_05")));
        shared.flush().await.expect("flush");
        assert_eq!(store.get("k"), Some(c("cur_05")));
    }
}
