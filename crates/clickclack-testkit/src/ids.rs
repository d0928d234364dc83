//! Server-side id generation: `prefix_` + lowercase ULID-like strings that
//! sort in creation order, plus route ids and correlation-id validation.

use std::time::{SystemTime, UNIX_EPOCH};

use clickclack_proto::{Timestamp, UnixTime};

const CROCKFORD_LOWER: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ROUTE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A monotonic ULID-like generator: 48-bit millisecond time + 80-bit
/// counter/random part. Within one millisecond the random part is incremented,
/// so ids from one generator are strictly increasing as strings.
#[derive(Debug, Default)]
pub(crate) struct IdGen {
    last_ms: u64,
    last_rand: u128,
}

impl IdGen {
    /// The next 26-char lowercase ULID string.
    pub(crate) fn next_ulid(&mut self) -> String {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mask80: u128 = (1u128 << 80) - 1;
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            // Leave headroom so increments within a millisecond never overflow.
            self.last_rand = (u128::from(fastrand::u64(..)) << 14) & (mask80 >> 1);
        } else {
            self.last_rand += 1;
            if self.last_rand > mask80 {
                self.last_ms += 1;
                self.last_rand = 0;
            }
        }
        encode_ulid(self.last_ms, self.last_rand)
    }

    /// `prefix` + `_` + next ULID.
    pub(crate) fn next(&mut self, prefix: &str) -> String {
        let mut s = String::with_capacity(prefix.len() + 27);
        s.push_str(prefix);
        s.push('_');
        s.push_str(&self.next_ulid());
        s
    }
}

fn encode_ulid(ms: u64, rand: u128) -> String {
    let value: u128 = (u128::from(ms & ((1 << 48) - 1)) << 80) | rand;
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * i as i32;
        let idx = if shift >= 0 {
            ((value >> shift) & 0x1f) as usize
        } else {
            ((value << (-shift)) & 0x1f) as usize
        };
        *slot = CROCKFORD_LOWER[idx];
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A random id of `len` lowercase Crockford chars (no ordering guarantee).
pub(crate) fn random_token(len: usize) -> String {
    (0..len)
        .map(|_| CROCKFORD_LOWER[fastrand::usize(..32)] as char)
        .collect()
}

/// A 17-char route id: `kind` letter + 16 chars of the route alphabet.
pub(crate) fn route_id(kind: char) -> String {
    let mut s = String::with_capacity(17);
    s.push(kind);
    for _ in 0..16 {
        s.push(ROUTE_ALPHABET[fastrand::usize(..32)] as char);
    }
    s
}

/// True when `value` is an acceptable caller-supplied correlation id:
/// 1–128 chars of `[A-Za-z0-9._:-]`.
pub(crate) fn valid_correlation_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// RFC 3339 UTC timestamp with nanoseconds, like Go's `RFC3339Nano`
/// (trailing zeros of the fraction trimmed).
pub(crate) fn now_rfc3339() -> String {
    Timestamp::from_unix(now_unix()).into_string()
}

/// The RFC 3339 timestamp `after` from now (e.g. a setup code's `expires_at`).
pub(crate) fn rfc3339_in(after: std::time::Duration) -> String {
    let now = now_unix();
    let nanos = u64::from(now.nanos) + u64::from(after.subsec_nanos());
    let seconds = now
        .seconds
        .saturating_add(i64::try_from(after.as_secs()).unwrap_or(i64::MAX))
        .saturating_add((nanos / 1_000_000_000) as i64);
    Timestamp::from_unix(UnixTime {
        seconds,
        nanos: (nanos % 1_000_000_000) as u32,
    })
    .into_string()
}

/// Timestamp for ephemeral event ids: `20060102150405.000000000`.
pub(crate) fn ephemeral_stamp() -> String {
    let now = now_unix();
    let whole = Timestamp::from_unix(UnixTime {
        seconds: now.seconds,
        nanos: 0,
    });
    let digits: String = whole
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{digits}.{:09}", now.nanos)
}

fn now_unix() -> UnixTime {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixTime {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickclack_proto::slugify;
    use proptest::prelude::*;

    fn format_rfc3339(seconds: i64, nanos: u32) -> String {
        Timestamp::from_unix(UnixTime { seconds, nanos }).into_string()
    }

    #[test]
    fn ulids_strictly_increase() {
        let mut g = IdGen::default();
        let mut prev = g.next("cur");
        for _ in 0..10_000 {
            let next = g.next("cur");
            assert!(next > prev, "{next} <= {prev}");
            assert_eq!(next.len(), 30);
            prev = next;
        }
    }

    #[test]
    fn rfc3339_format() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_778_241_600, 123_456_789),
            "2026-05-08T12:00:00.123456789Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400, 500_000_000),
            "2000-02-29T00:00:00.5Z"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("  Hello, World!! "), "hello-world");
        assert_eq!(slugify("General"), "general");
        assert_eq!(slugify("--a__b--"), "a-b");
        assert_eq!(slugify("Ünïcode"), "n-code");
    }

    #[test]
    fn ephemeral_stamp_shape() {
        let stamp = ephemeral_stamp();
        assert_eq!(stamp.len(), 24, "{stamp}");
        assert_eq!(stamp.as_bytes()[14], b'.');
        assert!(
            stamp
                .bytes()
                .filter(|b| *b != b'.')
                .all(|b| b.is_ascii_digit())
        );
    }

    #[test]
    fn correlation_ids() {
        assert!(valid_correlation_id("abc-1.2:3_x"));
        assert!(!valid_correlation_id(""));
        assert!(!valid_correlation_id("a b"));
        assert!(!valid_correlation_id(&"a".repeat(129)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn slug_is_clean(s in ".{0,40}") {
            let slug = slugify(&s);
            prop_assert!(!slug.starts_with('-') && !slug.ends_with('-'));
            prop_assert!(!slug.contains("--"));
            prop_assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(slugify(&slug), slug.clone());
        }
    }
}
