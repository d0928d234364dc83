//! Catch-up limits: after a restart or a resync the gateway answers what
//! arrived while it was away, but never messages older than `catchUpMaxAge`
//! (default 10 minutes), so a long outage does not flood a channel.
//!
//! The limit of an account, highest precedence first: the gateway's
//! `--catch-up-max-age SECS` flag ([`super::GatewayOptions::catch_up_max_age`],
//! applied to every account), then the account's `catchUpMaxAge` config key
//! (inherited from `channels.clickclack` like other root keys; seconds or a
//! duration string such as `"10m"`), then [`DEFAULT_CATCH_UP_MAX_AGE`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clickclack_proto::Timestamp;

/// Default `catchUpMaxAge`: 10 minutes (the value of
/// [`crate::accounts::DEFAULT_CATCH_UP_MAX_AGE`]).
pub const DEFAULT_CATCH_UP_MAX_AGE: Duration = crate::accounts::DEFAULT_CATCH_UP_MAX_AGE;

/// The wall clock the gateway compares message times with (replaceable in tests).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(SystemTime::now))
    }

    /// A clock from any function.
    pub fn from_fn(f: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The system clock shifted by `offset` into the future.
    pub fn offset(offset: Duration) -> Self {
        Clock(Arc::new(move || SystemTime::now() + offset))
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match (self.0)().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Milliseconds since the Unix epoch of a server timestamp, when it parses.
pub fn timestamp_ms(ts: &Timestamp) -> Option<i64> {
    if ts.is_empty() {
        return None;
    }
    ts.parse().ok().map(|t| t.as_millis())
}

/// How old a message is, when it is older than `max_age` (else `None`).
pub fn too_old(created_ms: i64, now_ms: i64, max_age: Duration) -> Option<Duration> {
    let age_ms = now_ms.saturating_sub(created_ms);
    let max_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    (age_ms > max_ms).then(|| Duration::from_millis(u64::try_from(age_ms).unwrap_or(0)))
}

/// The log line for a message skipped by the catch-up limit.
pub fn skipped_old_log_line(
    account_id: &str,
    message_id: &str,
    age: Duration,
    max_age: Duration,
) -> String {
    format!(
        "[{account_id}] skipped ClickClack message older than catchUpMaxAge: messageId={message_id} ageSeconds={} catchUpMaxAgeSeconds={}",
        age.as_secs(),
        max_age.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn age_limit() {
        let max = Duration::from_secs(600);
        assert_eq!(too_old(0, 600_000, max), None);
        assert_eq!(
            too_old(0, 600_001, max),
            Some(Duration::from_millis(600_001))
        );
        assert_eq!(too_old(1_000, 0, max), None);
        assert_eq!(
            skipped_old_log_line("work", "msg_1", Duration::from_secs(700), max),
            "[work] skipped ClickClack message older than catchUpMaxAge: messageId=msg_1 ageSeconds=700 catchUpMaxAgeSeconds=600"
        );
    }

    #[test]
    fn parses_server_timestamps() {
        let ts = Timestamp::new("1970-01-01T00:00:01.5Z");
        assert_eq!(timestamp_ms(&ts), Some(1_500));
        assert_eq!(timestamp_ms(&Timestamp::new("")), None);
        assert_eq!(timestamp_ms(&Timestamp::new("nope")), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(created in any::<i64>(), now in any::<i64>(), max in any::<u32>()) {
            let _ = too_old(created, now, Duration::from_millis(u64::from(max)));
        }
    }
}
