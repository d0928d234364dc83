//! Properties of the splitter and the sanitiser.

use openclaw_clickclack::outbound::sanitize::sanitize_assistant_text;
use openclaw_clickclack::outbound::split::{MIN_BODY_JSON_BYTES, json_len, split_text};
use proptest::prelude::*;

/// A lowercase word of 1..max letters (cheaper than a regex strategy).
fn word(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(b'a'..=b'z', 1..max).prop_map(|b| b.into_iter().map(char::from).collect())
}

/// Text with many separators, escapes and multi-byte characters.
fn texty() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just(" ".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("\u{1}".to_owned()),
            Just("😀".to_owned()),
            Just("é".to_owned()),
            word(12),
            any::<char>().prop_map(String::from),
        ],
        0..200,
    )
    .prop_map(|parts| parts.concat())
}

/// Text that looks like leaked scaffolding mixed with prose and code.
fn scaffoldy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("<tool_call>".to_owned()),
            Just("</tool_call>".to_owned()),
            Just("<function_calls>".to_owned()),
            Just("<think>".to_owned()),
            Just("</think>".to_owned()),
            Just("{\"name\":\"exec\"}".to_owned()),
            Just("```".to_owned()),
            Just("`".to_owned()),
            Just("\n".to_owned()),
            Just("⚠️ 🛠️ `x (agent)` failed".to_owned()),
            Just("🛠️ Exec: ls".to_owned()),
            Just("<|im_end|>".to_owned()),
            Just("[TOOL_CALL]".to_owned()),
            Just("<".to_owned()),
            Just(">".to_owned()),
            word(10),
            any::<char>().prop_map(String::from),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn split_parts_rejoin_and_fit(text in texty(), budget in 0_usize..200) {
        let parts = split_text(&text, budget);
        prop_assert_eq!(parts.concat(), text.clone());
        let limit = budget.max(MIN_BODY_JSON_BYTES);
        for part in &parts {
            prop_assert!(json_len(part) <= limit, "{part:?} over {limit}");
        }
        if !text.is_empty() {
            prop_assert!(parts.iter().all(|p| !p.is_empty()));
        }
    }

    #[test]
    fn split_never_panics_on_any_string(text in any::<String>(), budget in any::<usize>()) {
        let parts = split_text(&text, budget);
        prop_assert_eq!(parts.concat(), text);
    }

    #[test]
    fn sanitiser_never_panics_and_is_trimmed(text in scaffoldy()) {
        let clean = sanitize_assistant_text(&text);
        prop_assert_eq!(clean.trim(), clean.as_str());
    }

    #[test]
    fn sanitiser_never_panics_on_any_string(text in any::<String>()) {
        let _ = sanitize_assistant_text(&text);
    }

    #[test]
    fn sanitiser_keeps_plain_prose(words in prop::collection::vec(word(8), 1..20)) {
        let text = words.join(" ");
        prop_assert_eq!(sanitize_assistant_text(&text), text);
    }
}
