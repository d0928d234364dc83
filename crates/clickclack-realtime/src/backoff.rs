//! Reconnect delays: exponential growth, capped, with full jitter
//! (the arithmetic is `clickclack_client::Backoff`; this adds the attempt
//! counter, the healthy-connection reset and the attempt limit).

use std::time::Duration;

/// How long to wait between reconnect attempts.
///
/// Attempt `n` (starting at 1) waits a uniformly random duration in
/// `[0, min(cap, base * 2^(n-1))]` ("full jitter"), so a fleet of bots that
/// lose the server at the same moment does not reconnect in lock-step.
/// The attempt counter resets once a connection has stayed up for
/// [`BackoffPolicy::healthy_after`].
///
/// Non-exhaustive: start from [`BackoffPolicy::new`] or `default()` and use the
/// `with_*` setters.
///
/// ```
/// use std::time::Duration;
/// use clickclack_realtime::BackoffPolicy;
///
/// let policy = BackoffPolicy::new(Duration::from_millis(200), Duration::from_secs(10))
///     .with_max_attempts(Some(20));
/// assert_eq!(policy.ceiling(1), Duration::from_millis(200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackoffPolicy {
    /// Upper bound of the first delay.
    pub base: Duration,
    /// No delay is ever longer than this (a cap below `base` counts as `base`).
    pub cap: Duration,
    /// A connection that stayed open this long resets the attempt counter.
    pub healthy_after: Duration,
    /// Give up (terminal error) after this many consecutive failed attempts.
    /// `None` (the default) retries forever.
    pub max_attempts: Option<u32>,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            healthy_after: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl BackoffPolicy {
    /// Delays from `base` (upper bound of the first) up to `cap`; the other
    /// settings keep their defaults (reset after 30 s up, retry forever).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            ..Self::default()
        }
    }

    /// Sets the upper bound of the first delay.
    pub fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Sets the longest delay.
    pub fn with_cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Sets how long a connection must stay open to reset the attempt counter.
    pub fn with_healthy_after(mut self, healthy_after: Duration) -> Self {
        self.healthy_after = healthy_after;
        self
    }

    /// Sets the number of consecutive failed attempts after which the stream
    /// gives up (`None`: retry forever).
    pub fn with_max_attempts(mut self, max_attempts: Option<u32>) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The shared jitter arithmetic of the REST client.
    fn curve(&self) -> clickclack_client::Backoff {
        clickclack_client::Backoff::new(self.base, self.cap)
    }

    /// The largest delay attempt `attempt` (1-based) may draw:
    /// `min(cap, base * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.curve().ceiling(attempt.saturating_sub(1))
    }

    /// A full-jitter delay for attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.curve().delay(attempt.saturating_sub(1))
    }
}

/// The mutable attempt counter that goes with a [`BackoffPolicy`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    policy: BackoffPolicy,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(policy: BackoffPolicy) -> Self {
        Self {
            policy,
            attempts: 0,
        }
    }

    /// Counts one more failed attempt and returns `(attempt, delay)`, or `None`
    /// when `max_attempts` is exhausted.
    pub(crate) fn next(&mut self) -> Option<(u32, Duration)> {
        let attempt = self.attempts.saturating_add(1);
        if let Some(max) = self.policy.max_attempts
            && attempt > max
        {
            return None;
        }
        self.attempts = attempt;
        Some((attempt, self.policy.delay(attempt)))
    }

    /// The number of consecutive failed attempts so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Forgets earlier failures (after a healthy connection).
    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }

    pub(crate) fn healthy_after(&self) -> Duration {
        self.policy.healthy_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(base_ms: u64, cap_ms: u64) -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            ..BackoffPolicy::default()
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = policy(100, 1_000);
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(5), Duration::from_millis(1_000));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(1_000));
    }

    #[test]
    fn attempts_count_reset_and_give_up() {
        let mut b = Backoff::new(BackoffPolicy {
            max_attempts: Some(2),
            ..policy(1, 10)
        });
        assert_eq!(b.next().map(|(a, _)| a), Some(1));
        assert_eq!(b.next().map(|(a, _)| a), Some(2));
        assert_eq!(b.next(), None);
        assert_eq!(b.attempts(), 2);
        b.reset();
        assert_eq!(b.next().map(|(a, _)| a), Some(1));
    }

    #[test]
    fn zero_base_never_waits() {
        assert_eq!(policy(0, 0).delay(3), Duration::ZERO);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn delay_within_ceiling(base in 0u64..10_000, cap in 0u64..100_000, attempt in 1u32..100) {
            let p = policy(base, cap);
            let d = p.delay(attempt);
            prop_assert!(d <= p.ceiling(attempt));
            // A cap below the base is raised to the base.
            prop_assert!(d <= Duration::from_millis(cap.max(base)));
        }
    }
}
