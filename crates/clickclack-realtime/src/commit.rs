//! The committed cursor: what the consumer has finished, and where reconnects resume.

use std::sync::{Arc, Mutex, MutexGuard};

use clickclack_proto::Cursor;

use crate::cursor_store::CursorStore;
use crate::error::Error;

#[derive(Debug, Default)]
struct Cursors {
    /// The last cursor the consumer committed (or the initial tail).
    committed: Option<Cursor>,
    /// A re-anchor after a resync; only used while it is ahead of `committed`.
    anchor: Option<Cursor>,
}

/// State shared by the consumer side, the connection driver and [`Committer`]s.
#[derive(Debug)]
pub(crate) struct Shared {
    cursors: Mutex<Cursors>,
    /// Serializes saves so the stored cursor only moves forward.
    save_lock: tokio::sync::Mutex<()>,
    store: Arc<dyn CursorStore>,
    key: String,
}

impl Shared {
    pub(crate) fn new(store: Arc<dyn CursorStore>, key: String, committed: Option<Cursor>) -> Self {
        Self {
            cursors: Mutex::new(Cursors {
                committed,
                anchor: None,
            }),
            save_lock: tokio::sync::Mutex::new(()),
            store,
            key,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cursors> {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where a new connection resumes: the later of the committed cursor and the anchor.
    pub(crate) fn resume_cursor(&self) -> Option<Cursor> {
        let c = self.lock();
        match (&c.committed, &c.anchor) {
            (Some(committed), Some(anchor)) => Some(committed.max(anchor).clone()),
            (committed, anchor) => committed.clone().or_else(|| anchor.clone()),
        }
    }

    /// The last committed cursor.
    pub(crate) fn committed(&self) -> Option<Cursor> {
        self.lock().committed.clone()
    }

    /// Re-anchors after a resync (in memory only; the store keeps the old
    /// cursor until the consumer commits past the anchor).
    pub(crate) fn set_anchor(&self, anchor: Cursor) {
        self.lock().anchor = Some(anchor);
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Commits `cursor` if it moves forward, then persists it.
    /// Returns whether it moved.
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
    /// and persists it in the cursor store. Older or empty cursors are ignored.
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

    #[tokio::test]
    async fn commits_only_move_forward_and_are_saved() {
        let store = MemoryCursorStore::new();
        let shared = Shared::new(
            Arc::new(store.clone()),
            "k".into(),
            Some(Cursor::new("cur_05")),
        );
        assert!(!shared.commit(&Cursor::new("cur_04")).await.expect("commit"));
        assert!(!shared.commit(&Cursor::new("")).await.expect("commit"));
        assert_eq!(store.get("k"), None);
        assert!(shared.commit(&Cursor::new("cur_06")).await.expect("commit"));
        assert_eq!(store.get("k"), Some(Cursor::new("cur_06")));
        assert_eq!(shared.committed(), Some(Cursor::new("cur_06")));
    }

    #[tokio::test]
    async fn resume_prefers_the_later_of_commit_and_anchor() {
        let shared = Shared::new(
            Arc::new(MemoryCursorStore::new()),
            "k".into(),
            Some(Cursor::new("cur_05")),
        );
        assert_eq!(shared.resume_cursor(), Some(Cursor::new("cur_05")));
        shared.set_anchor(Cursor::new("cur_09"));
        assert_eq!(shared.resume_cursor(), Some(Cursor::new("cur_09")));
        shared.commit(&Cursor::new("cur_10")).await.expect("commit");
        assert_eq!(shared.resume_cursor(), Some(Cursor::new("cur_10")));
        let empty = Shared::new(Arc::new(MemoryCursorStore::new()), "k".into(), None);
        assert_eq!(empty.resume_cursor(), None);
    }
}
