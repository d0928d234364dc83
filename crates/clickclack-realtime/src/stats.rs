//! Counters and the connection state a caller can read at any time.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Where the connection state machine is (see the driver's module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Fetching the server's tail to start after (no cursor yet).
    #[default]
    Anchoring,
    /// The server required a resync (close 4001) or the stored cursor was
    /// lost: fetching a fresh tail to re-anchor at.
    Resyncing,
    /// Opening the socket (TCP, TLS, upgrade).
    Connecting,
    /// Connected: the server replays what followed the cursor, then streams live.
    Live,
    /// Waiting before the next attempt.
    Backoff,
    /// Stopped for good (terminal error, or the stream was dropped).
    Closed,
}

impl ConnectionState {
    /// The state's name in logs and metrics (`anchoring`, `live`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Anchoring => "anchoring",
            ConnectionState::Resyncing => "resyncing",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Live => "live",
            ConnectionState::Backoff => "backoff",
            ConnectionState::Closed => "closed",
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => ConnectionState::Resyncing,
            2 => ConnectionState::Connecting,
            3 => ConnectionState::Live,
            4 => ConnectionState::Backoff,
            5 => ConnectionState::Closed,
            _ => ConnectionState::Anchoring,
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of the stream's counters (all since `start()`) and its state.
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
    /// Resyncs (each `Resync` item, lost cursors included).
    pub resyncs: u64,
    /// Starts where the cursor store had lost a cursor it held before.
    pub cursors_lost: u64,
    /// Malformed frames skipped.
    pub malformed_frames: u64,
    /// The connection state machine's current state.
    pub state: ConnectionState,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) events: AtomicU64,
    pub(crate) duplicates_skipped: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) resyncs: AtomicU64,
    pub(crate) cursors_lost: AtomicU64,
    pub(crate) malformed_frames: AtomicU64,
    state: AtomicU8,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_state(&self, state: ConnectionState) {
        self.state.store(state.to_u8(), Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            events: get(&self.events),
            duplicates_skipped: get(&self.duplicates_skipped),
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            resyncs: get(&self.resyncs),
            cursors_lost: get(&self.cursors_lost),
            malformed_frames: get(&self.malformed_frames),
            state: ConnectionState::from_u8(self.state.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_atomic() {
        let c = Counters::default();
        for s in [
            ConnectionState::Anchoring,
            ConnectionState::Resyncing,
            ConnectionState::Connecting,
            ConnectionState::Live,
            ConnectionState::Backoff,
            ConnectionState::Closed,
        ] {
            c.set_state(s);
            assert_eq!(c.snapshot().state, s);
        }
    }
}
