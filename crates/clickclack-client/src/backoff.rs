//! Exponential backoff with full jitter, shared with the realtime crate.

use std::time::Duration;

/// Exponential backoff with "full jitter": the delay before retry `n`
/// (0-based) is uniformly random in `[0, min(cap, base * 2^n)]`.
///
/// ```
/// use std::time::Duration;
/// use clickclack_client::Backoff;
///
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(b.ceiling(0), Duration::from_millis(100));
/// assert_eq!(b.ceiling(3), Duration::from_millis(800));
/// assert_eq!(b.ceiling(30), Duration::from_secs(5));
/// assert!(b.delay(2) <= Duration::from_millis(400));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    /// 100 ms base, 10 s cap.
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

impl Backoff {
    /// A backoff starting at `base` and never exceeding `cap`
    /// (a `cap` below `base` is raised to `base`).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
        }
    }

    /// The base delay.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The cap.
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// The upper bound of the jittered delay before retry `attempt` (0-based):
    /// `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// A random delay in `[0, ceiling(attempt)]` (full jitter).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with_unit(attempt, fastrand::f64())
    }

    /// The delay for a given jitter sample `unit` in `[0, 1]` (values outside
    /// are clamped). Useful for deterministic tests.
    pub fn delay_with_unit(&self, attempt: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        self.ceiling(attempt).mul_f64(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ceiling_grows_then_caps() {
        let b = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
        let c: Vec<u128> = (0..6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(c, vec![10, 20, 40, 80, 100, 100]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(100));
        assert_eq!(b.delay_with_unit(2, 0.5), Duration::from_millis(20));
        assert_eq!(b.delay_with_unit(2, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn cap_below_base_is_raised() {
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(b.cap(), Duration::from_secs(2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn delay_is_within_bounds(base_ms in 0u64..10_000, cap_ms in 0u64..100_000, n in 0u32..100) {
            let b = Backoff::new(Duration::from_millis(base_ms), Duration::from_millis(cap_ms));
            let d = b.delay(n);
            prop_assert!(d <= b.ceiling(n));
            prop_assert!(b.ceiling(n) <= b.cap());
        }
    }
}
