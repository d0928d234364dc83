//! What the stream yields.

use std::fmt;
use std::time::Duration;

use clickclack_proto::Cursor;
use clickclack_proto::event::Event;

/// One item of a [`RealtimeStream`](crate::RealtimeStream).
///
/// Only [`RealtimeItem::Event`] and [`RealtimeItem::Resync`] need handling;
/// the connection notices are informational.
#[derive(Debug, Clone)]
#[non_exhaustive]
// Events are the common item; boxing them would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum RealtimeItem {
    /// A durable event (non-empty cursor; commit it once handled) or an
    /// ephemeral one (`cursor: ""`: typing, presence, progress, bot notices;
    /// nothing to commit, never replayed).
    Event(Event),
    /// Continuity was lost: the only place where the stream skips events.
    /// Events after `previous` up to and including `anchor` are not
    /// delivered. The stream has already re-anchored at `anchor` (a fresh
    /// server tail): the cursor store holds `anchor` now, even when that is
    /// *before* `previous` (a server restored from an older backup), and the
    /// stream continues with the events after it.
    ///
    /// What to do: re-fetch over REST whatever state you derive from events
    /// (channels, recent messages, threads you follow), or page the gap with
    /// [`Backfill`](crate::Backfill) from `previous` to `anchor` if the
    /// server still retains it. Forget cursors you were handed before this
    /// item: committing them is ignored.
    #[non_exhaustive]
    Resync {
        /// Why the resync happened.
        reason: ResyncReason,
        /// The cursor the stream was resuming from (the last committed one),
        /// or `None` when it is unknown (a lost cursor file).
        previous: Option<Cursor>,
        /// The fresh tail the stream continues after.
        anchor: Cursor,
    },
    /// A connection is open and resumes after `after_cursor`. Durable events
    /// after it that you received but did not commit are delivered again.
    #[non_exhaustive]
    Connected {
        /// The cursor the server replays after.
        after_cursor: Cursor,
    },
    /// The connection was lost; the stream waits `delay` and reconnects.
    #[non_exhaustive]
    Reconnecting {
        /// Consecutive failed attempts, starting at 1.
        attempt: u32,
        /// The jittered wait before the next attempt.
        delay: Duration,
        /// Why the previous connection or attempt ended.
        cause: ReconnectCause,
    },
}

impl RealtimeItem {
    /// The event, for [`RealtimeItem::Event`].
    pub fn as_event(&self) -> Option<&Event> {
        match self {
            RealtimeItem::Event(e) => Some(e),
            _ => None,
        }
    }

    /// The event, for [`RealtimeItem::Event`].
    pub fn into_event(self) -> Option<Event> {
        match self {
            RealtimeItem::Event(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a [`RealtimeItem::Resync`] happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResyncReason {
    /// The server closed with 4001: the cursor is unknown or pruned, ahead of
    /// the tail, or more than 5,000 events behind.
    #[non_exhaustive]
    ResyncRequired {
        /// The close code (4001).
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The cursor store held a cursor for this stream before and has none
    /// now (for example a deleted cursor file): the stream started at the
    /// server's tail, so everything that happened while it was down is
    /// skipped.
    #[non_exhaustive]
    CursorLost {
        /// Where the cursor was kept (a file path, or the store key).
        location: String,
    },
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResyncReason::ResyncRequired { code, reason } => {
                write!(f, "server required a resync (close {code}: {reason})")
            }
            ResyncReason::CursorLost { location } => write!(
                f,
                "the stored cursor ({location}) is gone although one was committed before; started at the server's tail"
            ),
        }
    }
}

/// Why the stream is reconnecting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconnectCause {
    /// The server closed the socket with a code that asks for a reconnect (1013, 1001, …).
    #[non_exhaustive]
    Closed {
        /// The close code (absent if the close frame had none).
        code: Option<u16>,
        /// The server's reason.
        reason: String,
    },
    /// The connection ended without a close frame (network failure, server
    /// write timeout, protocol error).
    ConnectionLost(String),
    /// Nothing (not even a pong) arrived for `silent_for`.
    #[non_exhaustive]
    Unresponsive {
        /// How long the connection was silent.
        silent_for: Duration,
    },
    /// Connecting or the upgrade failed in a way worth retrying (refused,
    /// timed out, 5xx, 429).
    ConnectFailed(String),
    /// A REST call needed to (re-)anchor the stream failed in a retryable way.
    TailFetchFailed(String),
    /// The server has no events yet, so there is no cursor to start after.
    NoTailYet,
}

impl fmt::Display for ReconnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconnectCause::Closed {
                code: Some(code),
                reason,
            } => write!(f, "closed by the server ({code}: {reason})"),
            ReconnectCause::Closed { code: None, .. } => f.write_str("closed by the server"),
            ReconnectCause::ConnectionLost(r) => write!(f, "connection lost: {r}"),
            ReconnectCause::Unresponsive { silent_for } => {
                write!(f, "no frame for {} ms", silent_for.as_millis())
            }
            ReconnectCause::ConnectFailed(r) => write!(f, "connect failed: {r}"),
            ReconnectCause::TailFetchFailed(r) => write!(f, "tail fetch failed: {r}"),
            ReconnectCause::NoTailYet => f.write_str("the workspace has no events yet"),
        }
    }
}
