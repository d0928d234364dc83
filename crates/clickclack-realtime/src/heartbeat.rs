//! Keepalive pings and liveness.
//!
//! The server never pings but answers pings. The stream pings every
//! `ping_interval`; any frame that arrives (event, pong, close) proves the
//! connection alive. If nothing arrives for `dead_after` intervals the
//! connection is declared dead and replaced. The window restarts whenever the
//! consumer has taken an item, so a slow consumer (the stream stops reading
//! while its buffer is full) is never mistaken for a silent server.

use std::time::Duration;

use tokio::time::Instant;

/// Ping cadence and the silence that counts as a dead connection.
///
/// Non-exhaustive: build one with [`HeartbeatPolicy::new`] or `default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatPolicy {
    /// How often to send a ping (default 20 s).
    pub ping_interval: Duration,
    /// How many intervals without any frame make the connection dead (default 3).
    pub dead_after: u32,
}

impl Default for HeartbeatPolicy {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(20),
            dead_after: 3,
        }
    }
}

impl HeartbeatPolicy {
    /// Pings every `ping_interval`; `dead_after` silent intervals (at least
    /// one) make the connection dead.
    pub fn new(ping_interval: Duration, dead_after: u32) -> Self {
        Self {
            ping_interval,
            dead_after,
        }
    }

    /// The silence after which the connection is dead.
    pub fn silence_limit(&self) -> Duration {
        self.ping_interval.saturating_mul(self.dead_after.max(1))
    }
}

/// Tracks when the connection was last heard from.
#[derive(Debug)]
pub(crate) struct Liveness {
    limit: Duration,
    last_seen: Instant,
}

impl Liveness {
    pub(crate) fn new(policy: &HeartbeatPolicy, now: Instant) -> Self {
        Self {
            limit: policy.silence_limit(),
            last_seen: now,
        }
    }

    /// Something arrived (or the consumer freed room): restart the window.
    pub(crate) fn seen(&mut self, now: Instant) {
        self.last_seen = now;
    }

    /// When the connection will count as dead if nothing else arrives.
    pub(crate) fn deadline(&self) -> Instant {
        self.last_seen + self.limit
    }

    /// How long it has been silent.
    pub(crate) fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadline_moves_with_activity() {
        let policy = HeartbeatPolicy {
            ping_interval: Duration::from_secs(10),
            dead_after: 3,
        };
        let start = Instant::now();
        let mut l = Liveness::new(&policy, start);
        assert_eq!(l.deadline(), start + Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(25)).await;
        l.seen(Instant::now());
        assert_eq!(l.deadline(), start + Duration::from_secs(55));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(l.silent_for(Instant::now()), Duration::from_secs(5));
    }

    #[test]
    fn zero_dead_after_counts_as_one() {
        let p = HeartbeatPolicy {
            ping_interval: Duration::from_secs(2),
            dead_after: 0,
        };
        assert_eq!(p.silence_limit(), Duration::from_secs(2));
    }
}
