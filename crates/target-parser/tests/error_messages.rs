//! Arbitrary strings into the target parser: every error names what was
//! wrong (the kind without an id, or the input exactly as given), and what it
//! names is taken from the input. Case count: `PROPTEST_CASES` (default 256).

use clickclack_target_parser::{ParseTargetError, parse};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn check(raw: &str) -> Result<(), TestCaseError> {
    let Err(e) = parse(raw) else { return Ok(()) };
    let text = e.to_string();
    prop_assert!(text.contains("ClickClack target"), "{}", text);
    match &e {
        ParseTargetError::Empty => {
            // Only blank input or a bare provider prefix is "required".
            let rest = raw.trim().to_ascii_lowercase();
            let rest = rest
                .strip_prefix("clickclack:")
                .or_else(|| rest.strip_prefix("cc:"))
                .unwrap_or(&rest)
                .trim()
                .to_owned();
            prop_assert!(rest.is_empty(), "{:?} -> {}", raw, text);
        }
        ParseTargetError::Unsupported { raw: named, .. } => {
            prop_assert_eq!(named.as_str(), raw);
            prop_assert!(text.ends_with(raw), "{}", text);
        }
        ParseTargetError::MissingId { found, .. } => {
            prop_assert!(text.contains(found.as_str()), "{}", text);
            prop_assert!(
                raw.to_lowercase().contains(&found.to_lowercase()),
                "{:?} names {:?}",
                raw,
                found
            );
        }
        other => prop_assert!(!other.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn errors_name_what_was_wrong(raw in "\\PC{0,40}") {
        check(&raw)?;
    }

    #[test]
    fn errors_name_what_was_wrong_near_the_grammar(
        provider in prop_oneof![Just(""), Just("clickclack:"), Just("CC:"), Just("slack:")],
        kind in prop_oneof![Just("channel"), Just("DM"), Just("thread"), Just("chan"), Just(""), Just("user")],
        sep in prop_oneof![Just(":"), Just(": "), Just("::"), Just("")],
        id in "[ a-z0-9_#@:-]{0,12}",
    ) {
        check(&format!("{provider}{kind}{sep}{id}"))?;
    }
}
