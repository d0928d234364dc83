//! Model-mode reply text shaping (reference row 35).

/// The warning logged when a model reply has nothing to send:
/// `[<acct>] ClickClack model reply produced no sendable text`.
pub fn no_sendable_text_log_line(account_id: &str) -> String {
    format!("[{account_id}] ClickClack model reply produced no sendable text")
}

/// Shapes a model completion into the text to send.
///
/// - A blank completion (empty or whitespace only) → `None`: send nothing
///   and log [`no_sendable_text_log_line`].
/// - Otherwise the completion, trimmed, with `response_prefix` (when set and
///   not blank) prepended as `<prefix> <text>` unless the text already starts
///   with the prefix.
///
/// ```
/// use openclaw_clickclack::reply::shape_model_reply;
/// assert_eq!(shape_model_reply("  \n", Some("[bot]")), None);
/// assert_eq!(shape_model_reply("hi", Some("[bot]")).as_deref(), Some("[bot] hi"));
/// assert_eq!(shape_model_reply("[bot] hi", Some("[bot]")).as_deref(), Some("[bot] hi"));
/// assert_eq!(shape_model_reply(" hi ", None).as_deref(), Some("hi"));
/// ```
pub fn shape_model_reply(completion: &str, response_prefix: Option<&str>) -> Option<String> {
    let text = completion.trim();
    if text.is_empty() {
        return None;
    }
    let prefix = response_prefix.map(str::trim).filter(|p| !p.is_empty());
    Some(match prefix {
        Some(prefix) if !text.starts_with(prefix) => format!("{prefix} {text}"),
        _ => text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn log_line_matches_the_reference() {
        assert_eq!(
            no_sendable_text_log_line("service-bot"),
            "[service-bot] ClickClack model reply produced no sendable text"
        );
    }

    #[test]
    fn blank_and_prefix_cases() {
        assert_eq!(shape_model_reply("", None), None);
        assert_eq!(shape_model_reply("\t \r\n", Some("🤖")), None);
        assert_eq!(
            shape_model_reply("hello", Some("  ")).as_deref(),
            Some("hello")
        );
        assert_eq!(
            shape_model_reply("hello", Some("🤖")).as_deref(),
            Some("🤖 hello")
        );
        assert_eq!(
            shape_model_reply("🤖hello", Some("🤖")).as_deref(),
            Some("🤖hello")
        );
        assert_eq!(
            shape_model_reply("  🤖 hello", Some("🤖")).as_deref(),
            Some("🤖 hello")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn shaped_text_is_never_blank_and_keeps_the_prefix(text in "\\PC{0,40}", prefix in proptest::option::of("\\PC{0,8}")) {
            if let Some(out) = shape_model_reply(&text, prefix.as_deref()) {
                prop_assert!(!out.trim().is_empty());
                if let Some(p) = prefix.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                    prop_assert!(out.starts_with(p));
                }
                // Idempotent: shaping twice adds nothing.
                prop_assert_eq!(shape_model_reply(&out, prefix.as_deref()), Some(out.clone()));
            } else {
                prop_assert!(text.trim().is_empty());
            }
        }
    }
}
