//! Splitting long texts into several messages.
//!
//! ClickClack has no message-length limit of its own, but it rejects any
//! JSON request body over 1 MiB (`maxJSONBodyBytes = 1 << 20`, HTTP 413).
//! The TypeScript plugin sends one message per block and simply fails on a
//! bigger text; we split instead.
//!
//! **The limit.** A part's body, measured *as it is encoded in the JSON
//! request* (quotes, backslashes and control characters escaped the way
//! `serde_json` writes them: `\n` costs 2 bytes, other control characters
//! 6), is at most [`DEFAULT_MAX_BODY_JSON_BYTES`] = 960 KiB (983 040 bytes).
//! Measuring the escaped size (not the raw size) is what makes the limit
//! safe: a text made of newlines or quotes would otherwise double in size on
//! the wire. The remaining 64 KiB of the server's 1 MiB cover the rest of
//! the request (`{"body":…,"nonce":"openclaw-text:<64 hex>",
//! "quoted_message_id":…}` is under 300 bytes) with a wide margin for fields
//! a later version may add; there is no reason to cut closer.
//!
//! **Where it cuts.** Within the largest prefix that fits, the last
//! paragraph break (`\n\n`), else the last line break, else the last
//! whitespace, else the last character boundary. A boundary is only used if
//! it keeps the part at least half the allowed size, so a text is never
//! shredded into tiny pieces. The separator stays at the end of the
//! preceding part, so concatenating the parts gives back the original text
//! exactly.
//!
//! ```
//! use openclaw_clickclack::outbound::split::split_text;
//!
//! let text = "first paragraph\n\nsecond paragraph";
//! assert_eq!(split_text(text, 24), vec!["first paragraph\n\n", "second paragraph"]);
//! assert_eq!(split_text("short", 24), vec!["short"]);
//! ```

/// Default budget of one message body, in JSON-escaped bytes (960 KiB).
pub const DEFAULT_MAX_BODY_JSON_BYTES: usize = 960 * 1024;

/// The smallest budget accepted (smaller values are raised to it): enough
/// for any single character, escaped.
pub const MIN_BODY_JSON_BYTES: usize = 16;

/// Bytes `c` takes inside a JSON string as written by `serde_json`.
#[must_use]
pub fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Bytes `text` takes inside a JSON string (without the quotes).
#[must_use]
pub fn json_len(text: &str) -> usize {
    text.chars().map(json_char_len).sum()
}

/// Splits `text` into parts whose [`json_len`] is at most `max_json_bytes`
/// (raised to [`MIN_BODY_JSON_BYTES`]), preferring paragraph, then line,
/// then whitespace boundaries. The parts concatenate to `text`; an empty
/// text gives one empty part. Never panics.
#[must_use]
pub fn split_text(text: &str, max_json_bytes: usize) -> Vec<&str> {
    let budget = max_json_bytes.max(MIN_BODY_JSON_BYTES);
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let fit = fitting_prefix(rest, budget);
        if fit == rest.len() {
            parts.push(rest);
            return parts;
        }
        let cut = best_cut(&rest[..fit]);
        let (part, tail) = rest.split_at(cut);
        parts.push(part);
        rest = tail;
    }
}

/// Length in bytes of the longest prefix of `text` whose JSON length fits
/// `budget` (always at least one character when `text` is not empty, since
/// `budget` ≥ [`MIN_BODY_JSON_BYTES`]).
fn fitting_prefix(text: &str, budget: usize) -> usize {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += json_char_len(c);
        if used > budget {
            return i;
        }
    }
    text.len()
}

/// Where to cut inside `window` (a prefix that fits): after the last
/// paragraph break, line break or whitespace that keeps at least half of the
/// window, else at the end of the window.
fn best_cut(window: &str) -> usize {
    let half = window.len() / 2;
    let acceptable = |cut: usize| cut > 0 && cut >= half;
    if let Some(p) = window.rfind("\n\n") {
        // Keep the whole run of newlines with the preceding part.
        let cut = p + 2;
        if acceptable(cut) {
            return cut;
        }
    }
    if let Some(p) = window.rfind('\n')
        && acceptable(p + 1)
    {
        return p + 1;
    }
    if let Some((p, c)) = window.char_indices().rev().find(|(_, c)| c.is_whitespace()) {
        let cut = p + c.len_utf8();
        if acceptable(cut) {
            return cut;
        }
    }
    if window.is_empty() {
        // Unreachable with budget ≥ MIN_BODY_JSON_BYTES; keep progress anyway.
        return 0;
    }
    window.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lengths_match_serde_json() {
        for s in [
            "plain",
            "quote\"s",
            "back\\slash",
            "nl\n\r\t",
            "\u{1}\u{1f}",
            "é€😀",
            "\u{7f}/",
        ] {
            let encoded = serde_json::to_string(s).map(|e| e.len() - 2).ok();
            assert_eq!(Some(json_len(s)), encoded, "{s:?}");
        }
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_spaces() {
        let text = "aaaa aaaa\nbbbb bbbb\n\ncccc cccc";
        assert_eq!(
            split_text(text, 24),
            vec!["aaaa aaaa\nbbbb bbbb\n\n", "cccc cccc"]
        );
        let text = "aaaa aaaa\nbbbb bbbb cccc";
        // "\n" costs 2 JSON bytes: the first 20 bytes hold "aaaa aaaa\nbbbb bbb".
        assert_eq!(split_text(text, 20), vec!["aaaa aaaa\n", "bbbb bbbb cccc"]);
        let text = "word word word word word";
        assert_eq!(split_text(text, 16), vec!["word word word ", "word word"]);
        let text = "x".repeat(40);
        assert_eq!(
            split_text(&text, 16),
            vec!["x".repeat(16), "x".repeat(16), "x".repeat(8)]
        );
    }

    #[test]
    fn never_splits_inside_a_character() {
        let text = "😀".repeat(10);
        let parts = split_text(&text, 16);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| json_len(p) <= 16));
    }
}
