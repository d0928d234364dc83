//! Counters a caller can read at any time.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the stream's counters (all since `start()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events yielded to the consumer (durable and ephemeral).
    pub events: u64,
    /// Durable events dropped because their cursor was not past the last one yielded.
    pub duplicates_skipped: u64,
    /// Successful connections (the first one included).
    pub connections: u64,
    /// Reconnect attempts scheduled (each `Reconnecting` notice).
    pub reconnects: u64,
    /// Resyncs (each `Resync` item).
    pub resyncs: u64,
    /// Malformed frames skipped.
    pub malformed_frames: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) events: AtomicU64,
    pub(crate) duplicates_skipped: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) resyncs: AtomicU64,
    pub(crate) malformed_frames: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            events: get(&self.events),
            duplicates_skipped: get(&self.duplicates_skipped),
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            resyncs: get(&self.resyncs),
            malformed_frames: get(&self.malformed_frames),
        }
    }
}
