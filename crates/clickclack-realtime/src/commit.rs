//! The committed cursor: what the consumer has finished, and where reconnects resume.

use std::sync::{Arc, Mutex, MutexGuard};

use clickclack_proto::Cursor;

use crate::cursor_store::CursorStore;
use crate::error::Error;

#[derive(Debug, Default)]
struct Cursors {
    /// The last cursor the consumer committed, the start cursor, or the
    /// latest re-anchor. Reconnects resume after it.
    committed: Option<Cursor>,
    /// The highest durable cursor the stream has handed out since the last
    /// (re-)anchor. A commit above it cannot name a handled event (it would
    /// be a stale cursor from before a re-anchor) and is ignored.
    yielded: Option<Cursor>,
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
}

impl Shared {
    pub(crate) fn new(store: Arc<dyn CursorStore>, key: String, committed: Option<Cursor>) -> Self {
        Self {
            cursors: Mutex::new(Cursors {
                yielded: committed.clone(),
                committed,
            }),
            save_lock: tokio::sync::Mutex::new(()),
            store,
            key,
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

    /// Records that the consumer was handed the durable event `cursor`.
    pub(crate) fn yielded(&self, cursor: &Cursor) {
        let mut c = self.lock();
        if c.yielded.as_ref().is_none_or(|y| cursor > y) {
            c.yielded = Some(cursor.clone());
        }
    }

    /// Replaces the cursor with `anchor` — even when that moves it
    /// backwards (a server restored from an older backup) — and persists it.
    /// Commits of cursors above `anchor` that were handed out before are
    /// ignored from now on.
    ///
    /// An anchor *ahead* of the committed cursor is kept in memory only: the
    /// consumer may still be filling the gap between the two, and a restart
    /// before it commits past the anchor must see that gap again (it resumes
    /// from the old cursor, gets a new `Resync` and backfills). The stored
    /// cursor moves once the consumer commits an event after the anchor.
    pub(crate) async fn reanchor(&self, anchor: &Cursor) -> Result<(), Error> {
        let _guard = self.save_lock.lock().await;
        let ahead = {
            let mut c = self.lock();
            let ahead = c.committed.as_ref().is_some_and(|old| anchor > old);
            c.committed = Some(anchor.clone());
            c.yielded = Some(anchor.clone());
            ahead
        };
        if !ahead {
            self.store.save(&self.key, anchor).await?;
        }
        Ok(())
    }

    /// After the consumer took a `Resync` item: nothing handed out before
    /// it may be committed past `anchor`.
    pub(crate) fn forget_yielded_above(&self, anchor: &Cursor) {
        let mut c = self.lock();
        if c.yielded.as_ref().is_some_and(|y| y > anchor) {
            c.yielded = Some(anchor.clone());
        }
    }

    /// Commits `cursor` if it moves forward and the stream handed it out,
    /// then persists it. Returns whether it moved.
    pub(crate) async fn commit(&self, cursor: &Cursor) -> Result<bool, Error> {
        if cursor.as_str().is_empty() {
            return Ok(false);
        }
        let _guard = self.save_lock.lock().await;
        {
            let mut c = self.lock();
            if c.committed.as_ref().is_some_and(|old| cursor <= old) {
                return Ok(false);
            }
            if c.yielded.as_ref().is_some_and(|y| cursor > y) {
                tracing::debug!(cursor = %cursor, "realtime commit ignored: the stream never yielded this cursor (stale after a resync?)");
                return Ok(false);
            }
            c.committed = Some(cursor.clone());
        }
        self.store.save(&self.key, cursor).await?;
        Ok(true)
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
    /// and persists it in the cursor store. Older or empty cursors are
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor_store::MemoryCursorStore;

    fn c(s: &str) -> Cursor {
        Cursor::new(s)
    }

    #[tokio::test]
    async fn commits_only_move_forward_within_what_was_yielded_and_are_saved() {
        let store = MemoryCursorStore::new();
        let shared = Shared::new(Arc::new(store.clone()), "k".into(), Some(c("cur_05")));
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
        let shared = Shared::new(Arc::new(store.clone()), "k".into(), Some(c("cur_90")));
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
    async fn reanchor_ahead_keeps_the_stored_cursor_until_a_commit_passes_it() {
        let store = MemoryCursorStore::new();
        store.save("k", &c("cur_10")).await.expect("save");
        let shared = Shared::new(Arc::new(store.clone()), "k".into(), Some(c("cur_10")));
        shared.reanchor(&c("cur_50")).await.expect("reanchor");
        // Reconnects resume after the anchor ...
        assert_eq!(shared.committed(), Some(c("cur_50")));
        // ... but a restart still sees the gap from the old cursor.
        assert_eq!(store.get("k"), Some(c("cur_10")));
        // Gap events below the anchor do not move anything.
        assert!(!shared.commit(&c("cur_20")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_10")));
        shared.yielded(&c("cur_51"));
        assert!(shared.commit(&c("cur_51")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(c("cur_51")));
    }
}
