//! Property tests: round trip, never panics, normalisation.

use clickclack_target_parser::{ParseTargetError, Target, TargetKind, parse};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = TargetKind> {
    prop_oneof![
        Just(TargetKind::Channel),
        Just(TargetKind::Dm),
        Just(TargetKind::Thread)
    ]
}

/// Ids as `parse` produces them: non-empty, no surrounding whitespace, any
/// characters (including `:`) inside.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,24}",
        "(chn|usr|msg)_[0-9a-z]{1,26}",
        "\\PC{1,20}",
        "[a-z]{1,5}(:[a-z ]{0,5}){1,3}[a-z]",
    ]
    .prop_map(|s| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .to_owned()
    })
    .prop_filter("non-empty id", |s| !s.is_empty())
}

fn target() -> impl Strategy<Value = Target> {
    (kind(), id()).prop_map(|(k, i)| Target::new(k, i))
}

fn whitespace() -> impl Strategy<Value = String> {
    "[ \t\n\r\u{a0}\u{feff}\u{2003}]{0,3}"
}

fn random_case(word: &str, mask: u64) -> String {
    word.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn display_round_trips(t in target()) {
        prop_assert_eq!(parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn arbitrary_strings_never_panic(raw in "\\PC{0,40}") {
        let _ = parse(&raw);
    }

    #[test]
    fn arbitrary_unicode_never_panics(raw in any::<String>()) {
        if let Ok(t) = parse(&raw) {
            // Whatever parses is canonical after one more round.
            prop_assert_eq!(parse(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn prefixes_with_colons_never_panic(
        a in "[A-Za-z:]{0,12}",
        b in "[A-Za-z :]{0,12}",
    ) {
        let _ = parse(&format!("{a}:{b}"));
    }

    #[test]
    fn whitespace_and_case_variants_normalise(
        t in target(),
        lead in whitespace(),
        mid1 in whitespace(),
        mid2 in whitespace(),
        trail in whitespace(),
        provider in prop_oneof![Just(""), Just("clickclack:"), Just("cc:")],
        mask in any::<u64>(),
    ) {
        let provider = random_case(provider, mask.rotate_left(7));
        let kind = random_case(t.kind().as_str(), mask);
        let raw = format!("{lead}{provider}{mid1}{kind}{mid2}:{mid1}{}{trail}", t.id());
        prop_assert_eq!(parse(&raw), Ok(t));
    }

    #[test]
    fn bare_values_are_channels(name in "[A-Za-z0-9_ -]{0,20}") {
        let trimmed = name.trim();
        match parse(&name) {
            Ok(t) => prop_assert_eq!(t, Target::Channel(trimmed.to_owned())),
            Err(e) => {
                prop_assert!(trimmed.is_empty());
                prop_assert_eq!(e, ParseTargetError::Empty);
            }
        }
    }
}
