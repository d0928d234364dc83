//! Mention detection (reference row 31).

use std::sync::LazyLock;

use regex::Regex;

/// Longest handle the reference mention regex accepts (1 + 31 characters).
const MAX_HANDLE_CHARS: usize = 32;

/// The `@handle` scanner.
///
/// Reference: `/(?:^|[^a-z0-9_@-])@([a-z0-9][a-z0-9_-]{1,31})(?![a-z0-9_-])/giu`.
/// The `regex` crate has no look-ahead, so the handle is matched greedily and
/// its length (2..=32 characters) checked afterwards; because the handle class
/// and the look-ahead class are the same, this accepts exactly the same
/// handles at exactly the same positions.
static HANDLE_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a constant pattern, covered by tests
    Regex::new(r"(?i)(?:^|[^a-z0-9_@-])@([a-z0-9][a-z0-9_-]*)").expect("static mention regex")
});

/// Returns every `@handle` in `body`, lower-cased, in order of appearance.
///
/// ```
/// use openclaw_clickclack::policy::mention_handles;
/// assert_eq!(mention_handles("hi @Bot and @x, mail a@b.c"), vec!["bot".to_owned()]);
/// ```
pub fn mention_handles(body: &str) -> Vec<String> {
    HANDLE_RE
        .captures_iter(body)
        .filter_map(|caps| caps.get(1))
        .map(|m| m.as_str())
        .filter(|handle| (2..=MAX_HANDLE_CHARS).contains(&handle.chars().count()))
        .map(str::to_lowercase)
        .collect()
}

/// Normalises the bot's own handle for comparison: leading `@` stripped,
/// trimmed, lower-cased. Blank → `None`.
pub fn normalize_handle(handle: &str) -> Option<String> {
    let handle = handle.strip_prefix('@').unwrap_or(handle).trim();
    (!handle.is_empty()).then(|| handle.to_lowercase())
}

/// What the policy knows about mentions in one message (the reference's
/// `mentionFacts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MentionFacts {
    /// `false` for direct messages (they are never gated).
    pub can_detect_mention: bool,
    /// The bot's `@handle` or one of the effective `mentionPatterns` matched.
    pub was_mentioned: bool,
    /// Any `@handle` or pattern matched; `None` for direct messages
    /// (logged as `unknown`, like the reference).
    pub has_any_mention: Option<bool>,
}

impl MentionFacts {
    /// The facts for a direct message.
    pub const DIRECT: MentionFacts = MentionFacts {
        can_detect_mention: false,
        was_mentioned: false,
        has_any_mention: None,
    };

    /// Computes the facts for a group (channel or thread) message.
    pub fn for_group(body: &str, bot_handle: Option<&str>, patterns: &[Regex]) -> MentionFacts {
        if body.is_empty() {
            return MentionFacts {
                can_detect_mention: true,
                was_mentioned: false,
                has_any_mention: Some(false),
            };
        }
        let pattern_hit = patterns.iter().any(|re| re.is_match(body));
        let handles = mention_handles(body);
        let own = bot_handle
            .and_then(normalize_handle)
            .is_some_and(|own| handles.contains(&own));
        MentionFacts {
            can_detect_mention: true,
            was_mentioned: own || pattern_hit,
            has_any_mention: Some(!handles.is_empty() || pattern_hit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_handles_like_the_reference_regex() {
        let cases: &[(&str, &[&str])] = &[
            ("@bot hi", &["bot"]),
            ("hi @Bot", &["bot"]),
            ("(@bot)", &["bot"]),
            ("@bot, @other-bot_2", &["bot", "other-bot_2"]),
            ("mail a@bot.example", &[]),
            ("@@bot", &[]),
            ("-@bot", &[]),
            ("_@bot", &[]),
            ("@b", &[]),
            ("@-bot", &[]),
            ("@ab@cd", &["ab"]),
            ("@bot.", &["bot"]),
            ("é@bot", &["bot"]),
            ("@bötchen", &[]),
        ];
        for (body, want) in cases {
            assert_eq!(mention_handles(body), *want, "{body:?}");
        }
    }

    #[test]
    fn handle_length_bounds() {
        let ok = format!("@{}", "a".repeat(32));
        assert_eq!(mention_handles(&ok).len(), 1);
        let long = format!("@{} @bot", "a".repeat(33));
        assert_eq!(mention_handles(&long), vec!["bot".to_owned()]);
    }

    #[test]
    fn group_facts() {
        let patterns = vec![Regex::new("(?i)hey robot").unwrap()];
        let f = MentionFacts::for_group("hello @Helper", Some("@helper"), &[]);
        assert!(f.was_mentioned && f.has_any_mention == Some(true));
        let f = MentionFacts::for_group("hello @someone", Some("helper"), &[]);
        assert!(!f.was_mentioned && f.has_any_mention == Some(true));
        let f = MentionFacts::for_group("HEY ROBOT", Some("helper"), &patterns);
        assert!(f.was_mentioned);
        let f = MentionFacts::for_group("plain", None, &patterns);
        assert_eq!(f.has_any_mention, Some(false));
        let f = MentionFacts::for_group("", Some("helper"), &patterns);
        assert!(f.can_detect_mention && !f.was_mentioned);
    }

    /// A direct emulation of the reference's JavaScript regex (`giu` flags,
    /// look-ahead with backtracking, `lastIndex` advancing past each match).
    fn js_model(body: &str) -> Vec<String> {
        let is_handle =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\u{212A}' | '\u{17F}');
        let is_first = |c: char| c.is_ascii_alphanumeric() || matches!(c, '\u{212A}' | '\u{17F}');
        let chars: Vec<char> = body.chars().collect();
        let n = chars.len();
        let mut out = Vec::new();
        let mut i = 0;
        'outer: while i <= n {
            let mut at_signs = Vec::new();
            if i == 0 {
                at_signs.push(0);
            }
            if i < n && !(is_handle(chars[i]) || chars[i] == '@') {
                at_signs.push(i + 1);
            }
            for p in at_signs {
                if p + 1 < n && chars[p] == '@' && is_first(chars[p + 1]) {
                    let run = chars[p + 2..]
                        .iter()
                        .take(31)
                        .take_while(|c| is_handle(**c))
                        .count();
                    for len in (1..=run).rev() {
                        let end = p + 2 + len;
                        if end == n || !is_handle(chars[end]) {
                            out.push(chars[p + 1..end].iter().collect::<String>().to_lowercase());
                            i = end;
                            continue 'outer;
                        }
                    }
                }
            }
            i += 1;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_the_javascript_semantics(body in "[a-cA-C0-9_@. \\-\u{212A}\u{17F}é]{0,48}") {
            prop_assert_eq!(mention_handles(&body), js_model(&body));
        }

        #[test]
        fn long_handles_match_the_javascript_semantics(pre in "[ @a]{0,2}", len in 28usize..36, post in "[ .@a-]{0,2}") {
            let body = format!("{pre}@{}{post}", "b".repeat(len));
            prop_assert_eq!(mention_handles(&body), js_model(&body));
        }

        #[test]
        fn never_panics(body in "\\PC{0,64}") {
            for h in mention_handles(&body) {
                let n = h.chars().count();
                prop_assert!((2..=32).contains(&n));
            }
        }

        #[test]
        fn embedded_handle_is_found(pre in "[ .,!?(]{0,3}", handle in "[a-z0-9][a-z0-9_-]{1,31}", post in "[ .,!?)]{0,3}") {
            let body = format!("{pre}@{handle}{post}");
            prop_assert_eq!(mention_handles(&body), vec![handle]);
        }
    }
}
