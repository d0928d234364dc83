//! Duration values in the config (`catchUpMaxAge`): a number of seconds
//! (`600`, `0.5`) or a duration string (`"10m"`, `"30s"`, `"1h30m"`).
//!
//! ```
//! use std::time::Duration;
//! use openclaw_clickclack::config::parse_duration;
//!
//! assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
//! assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
//! assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
//! assert_eq!(parse_duration(" 45 "), Some(Duration::from_secs(45)));
//! assert_eq!(parse_duration("10 minutes"), None);
//! ```

use std::time::Duration;

/// The longest accepted duration (about 100 years), so arithmetic on it never overflows.
pub const MAX_CONFIG_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What a duration value must look like (used in config errors).
pub const DURATION_HINT: &str = "expected a number of seconds (e.g. 600) or a duration string like \"10m\", \"30s\", \"1h30m\" (units: ms, s, m, h, d)";

/// Seconds as a [`Duration`], when finite, non-negative and at most
/// [`MAX_CONFIG_DURATION`].
#[must_use]
pub fn duration_from_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0 && secs <= MAX_CONFIG_DURATION.as_secs_f64())
        .then(|| Duration::from_secs_f64(secs))
}

/// Parses a duration string: surrounding whitespace is ignored; either a
/// plain non-negative number of seconds (`"90"`, `"1.5"`) or one or more
/// `<number><unit>` parts without spaces (`"1h30m"`), units `ms`, `s`, `m`,
/// `h`, `d`. `None` for anything else, or above [`MAX_CONFIG_DURATION`].
#[must_use]
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(secs) = parse_number(text) {
        return duration_from_secs(secs);
    }
    let mut total = 0.0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value = parse_number(&rest[..digits])?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * factor;
    }
    duration_from_secs(total)
}

/// A plain decimal number (`12`, `1.5`, `.5`); no signs, exponents or spaces.
fn parse_number(text: &str) -> Option<f64> {
    let valid = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|c| *c == '.').count() <= 1
        && text != ".";
    if valid { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepted_and_rejected_forms() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        for bad in [
            "",
            " ",
            "m",
            "10x",
            "-5",
            "-5s",
            "1e3",
            "10 m",
            "1..5s",
            ".",
            "10mm",
            "s10",
            "99999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(duration_from_secs(f64::NAN), None);
        assert_eq!(duration_from_secs(-1.0), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(raw in "\\PC{0,24}") {
            let _ = parse_duration(&raw);
        }

        #[test]
        fn whole_units_round_trip(n in 0u64..30_000, unit in 0usize..4) {
            let (suffix, secs) = [("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400)][unit];
            prop_assert_eq!(
                parse_duration(&format!("{n}{suffix}")),
                Some(Duration::from_secs(n * secs))
            );
        }
    }
}
